//! Whoever connects chooses the user name (and, for some methods, text
//! after the address), never the address blamed: for any client text in
//! any of sshd's shapes, the address found is the one sshd wrote, or none.
//! The client's address always comes before the first text the client
//! chose that follows it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrack::parse::auth;

const REAL: &str = "192.0.2.77";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(input);
    // The client's text: a user name, then (for shapes that have one) what
    // follows the address, split at the first NUL.
    let (user, tail) = text.split_once('\0').unwrap_or((&text, ""));
    let user = user.replace(['\n', '\r'], " ");
    let tail = tail.replace(['\n', '\r'], " ");
    let m = match pick % 9 {
        0 => format!("Failed password for invalid user {user} from {REAL} port 22 ssh2: {tail}"),
        1 => format!("Failed password for {user} from {REAL} port 22 ssh2"),
        2 => format!("Invalid user {user} from {REAL} port 22"),
        3 => format!("User {user} from {REAL} not allowed because not listed in AllowUsers"),
        4 => format!("Connection closed by authenticating user {user} {REAL} port 22 [preauth]"),
        5 => format!("error: maximum authentication attempts exceeded for invalid user {user} from {REAL} port 22 ssh2 [preauth]"),
        6 => format!("Failed password for {user} from {REAL} port 22 ssh1"),
        7 => format!("Failed rhosts-rsa for {user} from {REAL} port 22 ssh1: ruser {tail}"),
        _ => format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser={user} rhost={REAL}  user={user}"),
    };
    if let Some(a) = auth::extract("sshd", &m) {
        if let Some(ip) = a.client_ip {
            assert_eq!(ip, REAL, "{m}");
        }
    }
});
