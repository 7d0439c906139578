//! Authentication events inside syslog and journald messages: who tried to
//! sign in, from where, how, and whether it worked, taken out of the text
//! so that the ordinary rules can group and count them.
//!
//! What counts as a failure follows what fail2ban's `sshd` filter counts in
//! its normal mode: failed passwords, keys and keyboard-interactive, invalid
//! or illegal users, users refused by AllowUsers/DenyUsers/groups, locked
//! accounts, PAM authentication failures, "maximum authentication attempts
//! exceeded", too many authentication failures, refused connects, "Auth
//! fail" disconnects and root logins refused. Lines that only name the
//! remote side (a connection closed before authentication, a disconnect)
//! carry the address and the user but no outcome. Every line is judged on
//! its own: no state is kept between lines.
//!
//! Besides sshd (and the `sshd-session` process of OpenSSH 9.8 on): sudo
//! (incorrect passwords, users not in sudoers, commands run), su, login, and
//! any `pam_*(service:auth): authentication failure; ...` line.

/// The outcome of an authentication attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    Failure,
    Success,
}

impl AuthOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthOutcome::Failure => "failure",
            AuthOutcome::Success => "success",
        }
    }
}

/// What an authentication line says. Every text borrows from the message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth<'a> {
    /// The account tried.
    pub user: Option<&'a str>,
    /// The remote address (or host name) as logged, `::ffff:` mapping removed.
    pub client_ip: Option<&'a str>,
    pub port: Option<i64>,
    pub outcome: Option<AuthOutcome>,
    /// `password`, `publickey`, `keyboard-interactive/pam`, `pam`, ...
    pub method: Option<&'a str>,
    /// sudo: the account the command runs as.
    pub target_user: Option<&'a str>,
    /// sudo: the command.
    pub command: Option<&'a str>,
}

impl<'a> Auth<'a> {
    fn failure() -> Self {
        Auth { outcome: Some(AuthOutcome::Failure), ..Auth::default() }
    }
    fn success() -> Self {
        Auth { outcome: Some(AuthOutcome::Success), ..Auth::default() }
    }
    fn none() -> Self {
        Auth::default()
    }
    fn with_user(mut self, u: &'a str) -> Self {
        let u = u.trim();
        self.user = (!u.is_empty()).then_some(u);
        self
    }
    fn with_method(mut self, m: &'a str) -> Self {
        self.method = (!m.is_empty()).then_some(m);
        self
    }
    /// `HOST[ port N][ on ADDR port N][ ssh2][...]`: the host, then an optional port.
    fn with_remote(mut self, rest: &'a str) -> Self {
        let rest = rest.trim_start();
        let b = rest.as_bytes();
        // The token up to a space; an IPv6 address (two colons or more)
        // is all of it, else it ends at a colon or comma too.
        let space = memchr::memchr(b' ', b).unwrap_or(b.len());
        let colons = b[..space].iter().filter(|c| **c == b':').count();
        let token = if colons >= 2 {
            rest[..space].trim_end_matches([':', ','])
        } else {
            let end = b[..space].iter().position(|c| matches!(c, b':' | b',')).unwrap_or(space);
            &rest[..end]
        };
        let token = token.trim_start_matches('[').trim_end_matches(']');
        self.client_ip = host(token);
        // The host holds no space: the first " port " follows it.
        if let Some(p) = find(rest, " port ") {
            let after = &rest[p + 6..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            self.port = after[..digits].parse().ok();
        }
        self
    }
}

/// A remote host as logged: `::ffff:1.2.3.4` becomes `1.2.3.4` (fail2ban
/// does the same, so one attacker is one group); empty is `None`.
fn host(s: &str) -> Option<&str> {
    let s = s.trim();
    let s = match s.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("::ffff:") && s[7..].contains('.') => &s[7..],
        _ => s,
    };
    (!s.is_empty()).then_some(s)
}

/// Substring search without building a searcher per call (the messages
/// are short; std's two-way searcher costs more to set up than to run).
fn find(h: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(h.as_bytes(), needle.as_bytes())
}

/// The last occurrence of a needle that starts with a space (" from "):
/// the spaces are few, so look at each from the end.
fn rfind(h: &str, needle: &str) -> Option<usize> {
    debug_assert!(needle.starts_with(' '));
    let (hb, nb) = (h.as_bytes(), needle.as_bytes());
    memchr::memrchr_iter(b' ', hb).find(|&i| hb[i..].starts_with(nb))
}

/// The part of `s` after `prefix`, if `s` starts with it.
fn after<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.strip_prefix(prefix)
}

/// Splits `s` at the last ` from ` (user names may hold spaces; the
/// address part never holds " from ").
fn user_from(s: &str) -> Option<(&str, &str)> {
    let i = rfind(s, " from ")?;
    Some((&s[..i], &s[i + 6..]))
}

/// The message without the prefixes sshd and Solaris add: `[ID 800047
/// auth.info] `, `error: `, `fatal: `, `PAM: `, and without a trailing
/// ` [preauth]`.
fn core(msg: &str) -> &str {
    let mut m = msg.trim();
    if let Some(rest) = m.strip_prefix("[ID ") {
        if let Some(i) = rest.find("] ") {
            m = rest[i + 2..].trim_start();
        }
    }
    for p in ["error: ", "fatal: "] {
        if let Some(rest) = m.strip_prefix(p) {
            m = rest;
            break;
        }
    }
    m = m.strip_prefix("PAM: ").unwrap_or(m);
    m = m.strip_suffix("[preauth]").map_or(m, str::trim_end);
    m
}

/// The authentication event of a message logged by `service`, if it is one.
pub fn extract<'a>(service: &str, msg: &'a str) -> Option<Auth<'a>> {
    let m = core(msg);
    // rsyslog's "message repeated 5 times: [ Failed password for ...]".
    let m = match m.strip_prefix("message repeated ") {
        Some(rest) => match (rest.find("times: ["), rest.rfind(']')) {
            (Some(i), Some(j)) if i + 8 <= j => core(&rest[i + 8..j]),
            _ => m,
        },
        None => m,
    };
    if let Some(a) = pam(m) {
        return Some(a);
    }
    let svc = service.rsplit('/').next().unwrap_or(service);
    match svc {
        "sshd" | "sshd-session" | "sshd-auth" | "ssh" => sshd(m),
        "sudo" => sudo(m),
        "su" => su(m),
        "login" => login(m),
        _ => None,
    }
}

/// `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0
/// tty=ssh ruser= rhost=1.2.3.4  user=root`, from any PAM module and service.
fn pam(m: &str) -> Option<Auth<'_>> {
    let rest = m.strip_prefix("pam_")?;
    let i = find(rest, ":auth): ")?;
    let tail = rest[i + 8..].strip_prefix("authentication failure;")?;
    Some(Auth { outcome: Some(AuthOutcome::Failure), method: Some("pam"), ..pam_keys(tail) })
}

fn sshd(m: &str) -> Option<Auth<'_>> {
    // Accepted password for alice from 10.0.0.1 port 50022 ssh2
    if let Some(rest) = after(m, "Accepted ") {
        let (method, rest) = rest.split_once(" for ")?;
        let (user, remote) = user_from(rest)?;
        return Some(Auth::success().with_method(method).with_user(user).with_remote(remote));
    }
    // Failed password for [invalid user ]bob from 10.0.0.1 port 50022 ssh2
    if let Some(rest) = after(m, "Failed ") {
        let (method, rest) = rest.split_once(" for ")?;
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        let (user, remote) = user_from(rest)?;
        return Some(Auth::failure().with_method(method).with_user(user).with_remote(remote));
    }
    // Invalid user bob from 10.0.0.1 port 50022 / Illegal user ...
    for p in ["Invalid user ", "invalid user ", "Illegal user ", "illegal user "] {
        if let Some(rest) = after(m, p) {
            let (user, remote) = user_from(rest)?;
            return Some(Auth::failure().with_user(user).with_remote(remote));
        }
    }
    if let Some(rest) = after(m, "User not known to the underlying authentication module for ") {
        let (user, remote) = user_from(rest)?;
        return Some(Auth::failure().with_user(user).with_remote(remote));
    }
    // User bob from 10.0.0.1 not allowed because ... / User bob not allowed because account is locked
    if let Some(rest) = after(m, "User ") {
        if let Some(i) = find(rest, " not allowed because ") {
            let who = &rest[..i];
            return Some(match rfind(who, " from ") {
                Some(j) => Auth::failure().with_user(&who[..j]).with_remote(&who[j + 6..]),
                None => Auth::failure().with_user(who),
            });
        }
        return None;
    }
    // Authentication failure / error / failed for bob from 10.0.0.1
    for p in ["Authentication ", "authentication "] {
        if let Some(rest) = after(m, p) {
            for kind in ["failure for ", "error for ", "failed for "] {
                if let Some(rest) = rest.strip_prefix(kind) {
                    let rest = rest.strip_prefix("illegal user ").unwrap_or(rest);
                    let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
                    let (user, remote) = user_from(rest)?;
                    return Some(Auth::failure().with_user(user).with_remote(remote));
                }
            }
        }
    }
    // ROOT LOGIN REFUSED [on tty ]FROM 10.0.0.1
    if m.starts_with("ROOT LOGIN REFUSED") {
        let i = rfind(m, " FROM ")?;
        return Some(Auth::failure().with_user("root").with_remote(&m[i + 6..]));
    }
    // refused connect from name (10.0.0.1)
    if let Some(rest) = after(m, "refused connect from ") {
        let open = rest.rfind('(')?;
        let close = rest[open..].find(')')? + open;
        let mut a = Auth::failure();
        a.client_ip = host(&rest[open + 1..close]);
        return Some(a);
    }
    // maximum authentication attempts exceeded for [invalid user ]bob from 10.0.0.1 port 22 ssh2
    if let Some(rest) = after(m, "maximum authentication attempts exceeded for ") {
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        let (user, remote) = user_from(rest)?;
        return Some(Auth::failure().with_user(user).with_remote(remote));
    }
    // Disconnecting: Too many authentication failures[ for bob]
    if let Some(rest) = after(m, "Disconnecting: Too many authentication failures") {
        let a = Auth::failure();
        return Some(match rest.strip_prefix(" for ") {
            Some(u) => a.with_user(u.strip_prefix("invalid user ").unwrap_or(u)),
            None => a,
        });
    }
    // Disconnecting {invalid|authenticating} user bob 10.0.0.1 port 22: Too many
    // authentication failures / Change of username or service not allowed
    if let Some(rest) = after(m, "Disconnecting ") {
        let (who, why) = rest.split_once(": ")?;
        let a = user_and_remote(who)?;
        let failed = why.starts_with("Too many authentication failures")
            || why.starts_with("Change of username or service not allowed");
        return Some(if failed { Auth { outcome: Some(AuthOutcome::Failure), ..a } } else { a });
    }
    // Received disconnect from 10.0.0.1 port 22:3: ...: Auth fail / :11: Bye Bye
    if let Some(rest) = after(m, "Received disconnect from ") {
        let mut a = Auth::none().with_remote(rest);
        if find(rest, ": Auth fail").is_some()
            && (find(rest, ":3: ").is_some() || find(rest, ": 3: ").is_some())
        {
            a.outcome = Some(AuthOutcome::Failure);
        }
        return Some(a);
    }
    // Connection closed by [authenticating|invalid] user bob 10.0.0.1 port 22,
    // Disconnected from [invalid|authenticating] user bob 10.0.0.1 port 22,
    // Connection closed by 10.0.0.1 port 22, Connection reset by ...
    for p in ["Connection closed by ", "Connection reset by ", "Disconnected from "] {
        if let Some(rest) = after(m, p) {
            return user_and_remote(rest);
        }
    }
    // Connection from 10.0.0.1 port 50022 on 10.0.0.2 port 22
    if let Some(rest) = after(m, "Connection from ") {
        return Some(Auth::none().with_remote(rest));
    }
    if let Some(rest) = after(m, "Did not receive identification string from ") {
        return Some(Auth::none().with_remote(rest));
    }
    // reverse mapping checking getaddrinfo for name [10.0.0.1] failed - POSSIBLE BREAK-IN ATTEMPT!
    if m.starts_with("reverse mapping checking getaddrinfo for ") {
        let open = m.find(" [")?;
        let close = m[open..].find(']')? + open;
        let mut a = Auth::none();
        a.client_ip = host(&m[open + 2..close]);
        return Some(a);
    }
    // Address 10.0.0.1 maps to name, but this does not map back to the address - ...
    if let Some(rest) = after(m, "Address ") {
        if find(rest, " maps to ").is_some() {
            return Some(Auth::none().with_remote(rest));
        }
    }
    // PAM 2 more authentication failures; logname= ... rhost=10.0.0.1  user=root
    // (a summary of failures already logged one by one: no outcome).
    if let Some(rest) = after(m, "PAM ") {
        if find(rest, "more authentication failure").is_some() {
            let mut a = pam_keys(rest);
            a.outcome = None;
            return Some(a);
        }
    }
    None
}

/// `key=value` pairs of a PAM summary line: `rhost`, `user`, `ruser`.
fn pam_keys(s: &str) -> Auth<'_> {
    let (mut user, mut ruser, mut rhost) = ("", "", "");
    for kv in s.split_ascii_whitespace() {
        if let Some((k, v)) = kv.split_once('=') {
            match k {
                "user" => user = v,
                "ruser" => ruser = v,
                "rhost" => rhost = v,
                _ => {}
            }
        }
    }
    let mut a = Auth::none().with_user(if user.is_empty() { ruser } else { user });
    a.client_ip = host(rhost);
    a
}

/// `[{invalid|authenticating} user NAME ]HOST[ port N]`.
fn user_and_remote(s: &str) -> Option<Auth<'_>> {
    for p in ["invalid user ", "authenticating user ", "user "] {
        if let Some(rest) = s.strip_prefix(p) {
            // The user is the text before the last space-separated address
            // that is followed by " port" or the end.
            let cut = match find(rest, " port ") {
                Some(i) => rest[..i].rfind(' ')?,
                None => rest.trim_end().rfind(' ')?,
            };
            return Some(Auth::none().with_user(&rest[..cut]).with_remote(&rest[cut + 1..]));
        }
    }
    Some(Auth::none().with_remote(s))
}

/// `alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ;
/// USER=root ; COMMAND=/bin/ls`, `alice : TTY=... ; COMMAND=...` (a command
/// run), `alice : user NOT in sudoers ; ...`.
fn sudo(m: &str) -> Option<Auth<'_>> {
    let (user, rest) = m.split_once(" : ")?;
    let user = user.trim();
    if user.is_empty() || user.contains(' ') {
        return None;
    }
    let mut parts = rest.split(" ; ");
    let first = parts.next()?.trim();
    let mut a = if first.starts_with("TTY=") || first.starts_with("PWD=") {
        Auth::success()
    } else if first.contains("incorrect password attempt")
        || first.contains("NOT in sudoers")
        || first.contains("command not allowed")
        || first.contains("a password is required")
        || first.contains("not allowed to execute")
    {
        Auth::failure().with_method("password")
    } else {
        return None;
    };
    a.user = Some(user);
    for p in std::iter::once(first).chain(parts) {
        if let Some(v) = p.trim().strip_prefix("USER=") {
            a.target_user = Some(v);
        } else if let Some(v) = p.trim().strip_prefix("COMMAND=") {
            a.command = Some(v);
        }
    }
    Some(a)
}

/// `FAILED SU (to root) alice on pts/0`, `FAILED su for root by alice`,
/// `(to root) alice on pts/0`, `Successful su for root by alice`.
fn su(m: &str) -> Option<Auth<'_>> {
    let (fail, rest) = match m.strip_prefix("FAILED ") {
        Some(r) => (true, r),
        None => (false, m.strip_prefix("Successful ").unwrap_or(m)),
    };
    let a = if fail { Auth::failure() } else { Auth::success() };
    if let Some(r) = rest.strip_prefix("SU (to ").or_else(|| rest.strip_prefix("(to ")) {
        let (target, _) = r.split_once(')')?;
        return Some(a.with_user(target));
    }
    if let Some(r) = rest.strip_prefix("su for ") {
        let (target, _) = r.split_once(" by ")?;
        return Some(a.with_user(target));
    }
    None
}

/// `FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure`.
fn login(m: &str) -> Option<Auth<'_>> {
    let rest = m.strip_prefix("FAILED LOGIN")?;
    let i = rest.find(" FOR '")?;
    let user = rest[i + 6..].split('\'').next()?;
    let mut a = Auth::failure().with_user(user);
    if let Some(j) = rest.find(" FROM '") {
        a.client_ip = rest[j + 7..].split('\'').next().and_then(host);
    }
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(
        user: Option<&str>,
        ip: Option<&str>,
        port: Option<i64>,
    ) -> (Option<&'static str>, Option<String>, Option<String>, Option<i64>) {
        (Some("failure"), user.map(str::to_string), ip.map(str::to_string), port)
    }

    fn got(
        service: &str,
        m: &str,
    ) -> (Option<&'static str>, Option<String>, Option<String>, Option<i64>) {
        let a = extract(service, m).unwrap_or_else(|| panic!("no event in {m:?}"));
        (
            a.outcome.map(AuthOutcome::as_str),
            a.user.map(str::to_string),
            a.client_ip.map(str::to_string),
            a.port,
        )
    }

    /// The failures fail2ban's sshd filter counts in normal mode.
    #[test]
    fn sshd_failures() {
        let ip = Some("192.0.2.7");
        for (m, user, port) in [
            ("Failed password for root from 192.0.2.7 port 2222 ssh2", Some("root"), Some(2222)),
            ("Failed password for invalid user admin from 192.0.2.7 port 41 ssh2", Some("admin"), Some(41)),
            ("Failed password for invalid user a b from 192.0.2.7 port 41 ssh2", Some("a b"), Some(41)),
            ("Failed publickey for bob from 192.0.2.7 port 5 ssh2: RSA SHA256:abc", Some("bob"), Some(5)),
            ("Failed keyboard-interactive/pam for invalid user x from 192.0.2.7 port 9 ssh2", Some("x"), Some(9)),
            ("Failed none for invalid user x from 192.0.2.7 port 9 ssh2 [preauth]", Some("x"), Some(9)),
            ("Invalid user oracle from 192.0.2.7 port 4242", Some("oracle"), Some(4242)),
            ("Invalid user  from 192.0.2.7 port 4242", None, Some(4242)),
            ("Illegal user test from 192.0.2.7", Some("test"), None),
            ("User root from 192.0.2.7 not allowed because not listed in AllowUsers", Some("root"), None),
            ("User root from 192.0.2.7 not allowed because listed in DenyUsers", Some("root"), None),
            ("User git from 192.0.2.7 not allowed because not in any group", Some("git"), None),
            ("User git from 192.0.2.7 not allowed because a group is listed in DenyGroups", Some("git"), None),
            ("User git from 192.0.2.7 not allowed because none of user's groups are listed in AllowGroups", Some("git"), None),
            ("error: PAM: Authentication failure for root from 192.0.2.7", Some("root"), None),
            ("error: PAM: Authentication failure for illegal user x from 192.0.2.7", Some("x"), None),
            ("Authentication failed for root from 192.0.2.7 via 10.0.0.1", Some("root"), None),
            ("User not known to the underlying authentication module for z from 192.0.2.7", Some("z"), None),
            ("ROOT LOGIN REFUSED FROM 192.0.2.7", Some("root"), None),
            ("error: maximum authentication attempts exceeded for root from 192.0.2.7 port 22 ssh2 [preauth]", Some("root"), Some(22)),
            ("error: maximum authentication attempts exceeded for invalid user u from 192.0.2.7 port 22 ssh2 [preauth]", Some("u"), Some(22)),
            ("Disconnecting authenticating user root 192.0.2.7 port 22: Too many authentication failures [preauth]", Some("root"), Some(22)),
            ("Disconnecting invalid user u 192.0.2.7 port 22: Change of username or service not allowed: (u,ssh-connection) -> (v,ssh-connection) [preauth]", Some("u"), Some(22)),
            ("Received disconnect from 192.0.2.7 port 22:3: com.jcraft.jsch.JSchException: Auth fail [preauth]", None, Some(22)),
            ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.7  user=root", Some("root"), None),
            ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.7 ", None, None),
            ("[ID 800047 auth.info] Failed password for root from 192.0.2.7 port 22 ssh2", Some("root"), Some(22)),
            ("message repeated 5 times: [ Failed password for root from 192.0.2.7 port 42393 ssh2]", Some("root"), Some(42393)),
            ("Failed password for root from ::ffff:192.0.2.7 port 22 ssh2", Some("root"), Some(22)),
            ("refused connect from host.example (192.0.2.7)", None, None),
        ] {
            assert_eq!(got("sshd", m), fail(user, ip, port), "{m}");
        }
        assert_eq!(
            got("sshd", "User bob not allowed because account is locked"),
            fail(Some("bob"), None, None)
        );
        assert_eq!(
            got("sshd", "Disconnecting: Too many authentication failures for root [preauth]"),
            fail(Some("root"), None, None)
        );
        let v6 = got("sshd-session", "Failed password for root from 2001:db8::1 port 22 ssh2");
        assert_eq!(v6, fail(Some("root"), Some("2001:db8::1"), Some(22)));
        let name = got("sshd", "Failed password for root from host.example.org port 22 ssh2");
        assert_eq!(name, fail(Some("root"), Some("host.example.org"), Some(22)));
    }

    #[test]
    fn sshd_success_and_neutral() {
        let a = extract(
            "sshd",
            "Accepted publickey for alice from 10.0.0.1 port 50022 ssh2: ED25519 SHA256:x",
        )
        .unwrap();
        assert_eq!(a.outcome, Some(AuthOutcome::Success));
        assert_eq!(
            (a.user, a.client_ip, a.port, a.method),
            (Some("alice"), Some("10.0.0.1"), Some(50022), Some("publickey"))
        );
        for m in [
            "Connection closed by authenticating user root 192.0.2.7 port 22 [preauth]",
            "Connection closed by invalid user admin 192.0.2.7 port 22 [preauth]",
            "Disconnected from authenticating user root 192.0.2.7 port 22 [preauth]",
            "Received disconnect from 192.0.2.7 port 22:11: Bye Bye [preauth]",
        ] {
            let a = extract("sshd", m).unwrap();
            assert_eq!(
                (a.outcome, a.client_ip, a.port),
                (None, Some("192.0.2.7"), Some(22)),
                "{m}"
            );
        }
        let a =
            extract("sshd", "Connection closed by invalid user admin 192.0.2.7 port 22 [preauth]")
                .unwrap();
        assert_eq!(a.user, Some("admin"));
        let a = extract("sshd", "Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]")
            .unwrap();
        assert_eq!((a.client_ip, a.port), (Some("52.80.34.196"), None));
        assert!(extract("sshd", "Server listening on 0.0.0.0 port 22.").is_none());
        assert!(extract("cron", "Failed password for root from 192.0.2.7 port 22 ssh2").is_none());
    }

    #[test]
    fn sudo_su_login_and_generic_pam() {
        let a = extract("sudo", "   alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls").unwrap();
        assert_eq!(
            (a.outcome, a.user, a.target_user, a.command),
            (Some(AuthOutcome::Failure), Some("alice"), Some("root"), Some("/bin/ls"))
        );
        let a = extract(
            "sudo",
            "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update",
        )
        .unwrap();
        assert_eq!(
            (a.outcome, a.command),
            (Some(AuthOutcome::Success), Some("/usr/bin/apt update"))
        );
        let a = extract(
            "sudo",
            "mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
        )
        .unwrap();
        assert_eq!((a.outcome, a.user), (Some(AuthOutcome::Failure), Some("mallory")));
        let a = extract("su", "FAILED SU (to root) alice on pts/0").unwrap();
        assert_eq!((a.outcome, a.user), (Some(AuthOutcome::Failure), Some("root")));
        let a = extract("su", "(to root) alice on pts/0").unwrap();
        assert_eq!((a.outcome, a.user), (Some(AuthOutcome::Success), Some("root")));
        let a =
            extract("login", "FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure")
                .unwrap();
        assert_eq!((a.outcome, a.user), (Some(AuthOutcome::Failure), Some("root")));
        let a = extract("sudo", "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice").unwrap();
        assert_eq!(
            (a.outcome, a.user, a.client_ip),
            (Some(AuthOutcome::Failure), Some("alice"), None)
        );
        let a = extract("dovecot", "pam_sss(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=bob rhost=198.51.100.2").unwrap();
        assert_eq!((a.user, a.client_ip), (Some("bob"), Some("198.51.100.2")));
    }
}
