//! Authentication events out of arbitrary syslog messages: the first byte
//! picks the program that logged it. Extraction must never panic, and what
//! it finds must be text of the message (it borrows), or one of the names
//! it supplies itself (`root` for ROOT LOGIN REFUSED, `pam` and `password`
//! as methods).
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrack::parse::auth;

const SERVICES: &[&str] = &["sshd", "sshd-session", "sudo", "su", "login", "dovecot"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else { return };
    let service = SERVICES[pick as usize % SERVICES.len()];
    let message = String::from_utf8_lossy(input);
    if let Some(a) = auth::extract(service, &message) {
        let range = message.as_ptr() as usize..message.as_ptr() as usize + message.len() + 1;
        for part in [a.user, a.client_ip, a.method, a.target_user, a.command].into_iter().flatten()
        {
            let supplied = ["root", "pam", "password"].contains(&part);
            assert!(
                supplied || range.contains(&(part.as_ptr() as usize)),
                "{part:?} is not of the message"
            );
        }
    }
});
