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
//! carry the address and the user but no outcome. Each line is judged on
//! its own here; [`Role`] says how a line takes part in its sshd process's
//! session (see [`super::sessions`]), which joins a failure to an address
//! logged on another line of the same process.
//!
//! **Where the address is taken from.** The user name, and for some methods
//! the text after the address, are chosen by the client: `Failed password
//! for invalid user x from 1.2.3.4 port 1 ssh2 from 10.0.0.9 port 22 ssh2`
//! is what sshd writes for the user `x from 1.2.3.4 port 1 ssh2`. The
//! address is taken only where sshd writes it: ` from HOST[ port N][ sshV]`
//! (or `HOST port N` after `user NAME`) that ends the line or is followed
//! by sshd's own `: …` or ` not allowed because …`. A line where more than
//! one place could be sshd's is ambiguous and gets no address, never a
//! guessed one.
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
    /// How the line takes part in its sshd process's session.
    pub role: Role,
}

/// How an sshd line takes part in its process's session (see
/// [`super::sessions`]). On its own (journald, or no session), a line is
/// what its `outcome` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    Plain,
    /// An attempt that names no address (`Disconnecting: Too many
    /// authentication failures`, a `Failed …` line whose address is
    /// ambiguous): counted with the address the process logged before, or
    /// on its next line that names one.
    Pending,
    /// A line that names the user of an attempt but no address
    /// (`input_userauth_request: invalid user x`, `Invalid user x`, `User x
    /// not allowed because account is locked`): the attempt, unless the
    /// process counted one for that user already.
    Helper,
    /// `pam_unix(sshd:auth): authentication failure`: the same attempt as
    /// sshd's own `Failed …` line, so counted only when another user is
    /// tried in the process (PAM stacks that fail one module and pass the
    /// next log it before a success).
    Pam,
    /// `Failed publickey` for an existing user: a client offering its keys
    /// one by one; counted only by `Too many authentication failures`.
    KeyOffered,
    /// The process's connection ends: closed, reset, disconnected.
    End,
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
    /// `HOST[ port N]...`: the host (the first token), and the port only
    /// when it follows the host directly.
    fn with_remote(mut self, rest: &'a str) -> Self {
        if let Some(r) = remote(rest.trim_start()) {
            self.client_ip = host(r.host);
            self.port = r.port;
        }
        self
    }

    fn with(mut self, r: &Remote<'a>) -> Self {
        self.client_ip = host(r.host);
        self.port = r.port;
        self
    }
}

/// A remote side as sshd writes it: `HOST[ port N][ on ADDR port N][ sshV]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remote<'a> {
    pub host: &'a str,
    pub port: Option<i64>,
    /// `ssh1`, `ssh2`: the protocol sshd wrote after the port.
    pub proto: Option<&'a str>,
    /// Bytes of the text this remote part took.
    pub len: usize,
}

/// Whether `c` may be part of a host as sshd logs it (an IPv4 or IPv6
/// address, with a zone, or a host name).
fn host_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b':' | b'-' | b'_' | b'%')
}

/// The remote side at the start of `s`: a host token, then ` port N`, ` on
/// ADDR port N` and ` sshV` when they follow it.
fn remote(s: &str) -> Option<Remote<'_>> {
    let b = s.as_bytes();
    let (mut end, mut colons) = (b.len(), 0);
    for (i, &c) in b.iter().enumerate() {
        if !host_char(c) {
            end = i;
            break;
        }
        colons += usize::from(c == b':');
    }
    // "1.2.3.4:" (a disconnect's reason follows) and "host," end there; an
    // IPv6 address keeps its colons.
    if colons < 2 {
        end = b[..end].iter().position(|c| *c == b':').unwrap_or(end);
    } else {
        while end > 0 && b[end - 1] == b':' {
            end -= 1;
        }
    }
    let host = &s[..end];
    if host.is_empty() || host.bytes().all(|c| c == b'.' || c == b':') {
        return None;
    }
    let mut i = end;
    let number = |at: usize| {
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        (digits > 0 && digits <= 5).then(|| {
            let n = b[at..at + digits].iter().fold(0, |n, c| n * 10 + i64::from(c - b'0'));
            (Some(n), at + digits)
        })
    };
    let mut port = None;
    if s[i..].starts_with(" port ") {
        if let Some((p, j)) = number(i + 6) {
            port = p;
            i = j;
        }
    }
    // "on 10.0.0.2 port 22" (the local side, in "Connection from").
    if let Some(on) = s[i..].strip_prefix(" on ") {
        let local = on.bytes().take_while(|c| host_char(*c)).count();
        let after = i + 4 + local;
        if local > 0 && s[after..].starts_with(" port ") {
            if let Some((_, j)) = number(after + 6) {
                i = j;
            }
        }
    }
    let mut proto = None;
    for p in [" ssh2", " ssh1", " ssh"] {
        if s[i..].starts_with(p) && !s[i + p.len()..].starts_with(|c: char| c.is_alphanumeric()) {
            proto = Some(&s[i + 1..i + p.len()]);
            i += p.len();
            break;
        }
    }
    Some(Remote { host, port, proto, len: i })
}

/// What an anchored search found.
#[derive(Debug, PartialEq, Eq)]
enum Anchor<'a> {
    /// The text before sshd's ` from ` (the user part), and the remote side.
    Found(&'a str, Remote<'a>),
    /// More than one place could be sshd's: no address.
    Ambiguous,
    NotFound,
}

/// The remote side sshd wrote after `marker` (` from `) in `s`: of every
/// `marker HOST...` in `s`, the one whose following text `tail_ok` takes
/// (sshd's own end of the line). Exactly one may qualify. In an
/// `Accepted`/`Failed` line (`ruser`), SSH-1's `: ruser …` (client text
/// after the address) settles a tie when it is the only candidate that
/// names a protocol: sshd ends those lines with one, so a candidate without
/// one is the client's text; two that name one are ambiguous. Other lines
/// have no `ruser`, and there it settles nothing.
fn anchored<'a>(
    s: &'a str,
    marker: &str,
    ruser: bool,
    tail_ok: impl Fn(&str) -> bool,
) -> Anchor<'a> {
    // At most a few places qualify; more are as ambiguous as two.
    let mut found: [Option<(usize, Remote<'a>)>; 4] = [None; 4];
    let mut n = 0;
    for at in find_all(s, marker) {
        let start = at + marker.len();
        if let Some(r) = remote(&s[start..]) {
            if tail_ok(&s[start + r.len..]) {
                if n == found.len() {
                    return Anchor::Ambiguous;
                }
                found[n] = Some((at, r));
                n += 1;
            }
        }
    }
    let found: Vec<(usize, Remote<'a>)> = match n {
        0 => return Anchor::NotFound,
        1 => {
            let (at, r) = found[0].expect("one found");
            return Anchor::Found(&s[..at], r);
        }
        _ => found.iter().flatten().copied().collect(),
    };
    if !ruser {
        return Anchor::Ambiguous;
    }
    let mut named = found.iter().filter(|(_, r)| r.proto.is_some());
    match (named.next(), named.next()) {
        (Some((at, r)), None)
            if r.proto == Some("ssh1")
                && s[at + marker.len() + r.len..].starts_with(": ruser ") =>
        {
            Anchor::Found(&s[..*at], *r)
        }
        _ => Anchor::Ambiguous,
    }
}

/// sshd's own end of a line after the address: nothing, or `: ` and what
/// it adds (a key, a reason).
fn end_or_colon(tail: &str) -> bool {
    // (A line's trailing space is trimmed: ":" may end it.)
    tail.is_empty() || tail.starts_with(": ") || tail == ":"
}

/// Nothing after the address, or PAM's ` via HOST`.
fn end_or_via(tail: &str) -> bool {
    tail.is_empty()
        || tail.strip_prefix(" via ").is_some_and(|v| remote(v).is_some_and(|r| r.len == v.len()))
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

/// Whether `h` is an IP address (v4 or v6, a zone allowed) rather than a
/// host name.
pub fn is_ip(h: &str) -> bool {
    let h = memchr::memchr(b'%', h.as_bytes()).map_or(h, |i| &h[..i]);
    h.parse::<std::net::IpAddr>().is_ok()
}

/// Substring search without building a searcher per call (the messages
/// are short; std's two-way searcher costs more to set up than to run).
fn find(h: &str, needle: &str) -> Option<usize> {
    find_all(h, needle).next()
}

/// Every occurrence of `needle` in `h`, by its first byte other than a
/// leading space (spaces are many; no searcher to set up: these messages
/// are short).
fn find_all<'a>(h: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    let (hb, nb) = (h.as_bytes(), needle.as_bytes());
    let k = usize::from(nb.len() > 1 && nb[0] == b' ');
    memchr::memchr_iter(nb[k], &hb[k.min(hb.len())..]).filter(move |&i| hb[i..].starts_with(nb))
}

/// The last occurrence of a needle that starts with a space (" from "):
/// the spaces are few, so look at each from the end.
fn rfind(h: &str, needle: &str) -> Option<usize> {
    debug_assert!(needle.starts_with(' '));
    let (hb, nb) = (h.as_bytes(), needle.as_bytes());
    memchr::memrchr_iter(b' ', hb).find(|&i| hb[i..].starts_with(nb))
}

/// `s` split around the first `sep` (as `split_once`, without setting up
/// std's searcher).
fn split_at<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let i = find(s, sep)?;
    Some((&s[..i], &s[i + sep.len()..]))
}

/// The part of `s` after `prefix`, if `s` starts with it.
fn after<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.strip_prefix(prefix)
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
    let svc = memchr::memrchr(b'/', service.as_bytes()).map_or(service, |i| &service[i + 1..]);
    // "sshd(pam_unix)", "login(pam_unix)": PAM's module in the tag.
    if svc.ends_with("(pam_unix)") || svc.ends_with("(pam_sss)") || svc.ends_with("(pam_ldap)") {
        return pam_tagged(m);
    }
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
    let role = if rest[..i].ends_with("(sshd") { Role::Pam } else { Role::Plain };
    Some(Auth { outcome: Some(AuthOutcome::Failure), method: Some("pam"), role, ..pam_keys(tail) })
}

/// The PAM lines of older systems, tagged by the module
/// (`sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0
/// tty=NODEVssh ruser= rhost=218.188.2.4`): each one failure.
fn pam_tagged(m: &str) -> Option<Auth<'_>> {
    let tail = m.strip_prefix("authentication failure;")?;
    Some(Auth { outcome: Some(AuthOutcome::Failure), method: Some("pam"), ..pam_keys(tail) })
}

fn sshd(m: &str) -> Option<Auth<'_>> {
    // Accepted password for alice from 10.0.0.1 port 50022 ssh2[: KEY]
    if let Some(rest) = after(m, "Accepted ") {
        let (method, rest) = split_at(rest, " for ")?;
        return Some(match anchored(rest, " from ", true, end_or_colon) {
            Anchor::Found(user, r) => Auth::success().with_method(method).with_user(user).with(&r),
            _ => Auth::success().with_method(method),
        });
    }
    // Failed password for [invalid user ]bob from 10.0.0.1 port 50022 ssh2[: KEY]
    if let Some(rest) = after(m, "Failed ") {
        let (method, rest) = split_at(rest, " for ")?;
        let (invalid, rest) = match rest.strip_prefix("invalid user ") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let mut a = match anchored(rest, " from ", true, end_or_colon) {
            Anchor::Found(user, r) => Auth::failure().with_method(method).with_user(user).with(&r),
            // The session may know the address from another line.
            Anchor::Ambiguous => {
                Auth { role: Role::Pending, ..Auth::failure().with_method(method) }
            }
            Anchor::NotFound => return None,
        };
        if method == "publickey" && !invalid {
            a.role = Role::KeyOffered;
        }
        return Some(a);
    }
    // Invalid user bob from 10.0.0.1 port 50022 / Illegal user ...; without
    // an address ("Invalid user root [preauth]"), one the session completes.
    for p in ["Invalid user ", "invalid user ", "Illegal user ", "illegal user "] {
        if let Some(rest) = after(m, p) {
            return Some(failure_from(rest, end_or_colon));
        }
    }
    // input_userauth_request: invalid user root [preauth]
    if let Some(rest) = after(m, "input_userauth_request: invalid user ") {
        return Some(Auth { role: Role::Helper, ..Auth::failure().with_user(rest) });
    }
    if let Some(rest) = after(m, "User not known to the underlying authentication module for ") {
        let rest = rest.strip_prefix("illegal user ").unwrap_or(rest);
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        return Some(failure_from(rest, end_or_via));
    }
    // User bob from 10.0.0.1 not allowed because ... / User bob not allowed
    // because account is locked. The reason is sshd's and ends the line: the
    // last " not allowed because " is its own.
    if let Some(rest) = after(m, "User ") {
        let i = rfind(rest, " not allowed because ")?;
        let who = &rest[..i];
        return Some(match anchored(who, " from ", false, str::is_empty) {
            Anchor::Found(user, r) => Auth::failure().with_user(user).with(&r),
            Anchor::Ambiguous => Auth { role: Role::Pending, ..Auth::failure() },
            Anchor::NotFound => Auth { role: Role::Helper, ..Auth::failure().with_user(who) },
        });
    }
    // Authentication failure / error / failed for bob from 10.0.0.1[ via HOST]
    for p in ["Authentication ", "authentication "] {
        if let Some(rest) = after(m, p) {
            for kind in ["failure for ", "error for ", "failed for "] {
                if let Some(rest) = rest.strip_prefix(kind) {
                    let rest = rest.strip_prefix("illegal user ").unwrap_or(rest);
                    let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
                    return Some(failure_from(rest, end_or_via));
                }
            }
        }
    }
    // ROOT LOGIN REFUSED [on tty ]FROM 10.0.0.1[ port N]
    if m.starts_with("ROOT LOGIN REFUSED") {
        let mut a = Auth::failure().with_user("root");
        if let Anchor::Found(_, r) = anchored(m, " FROM ", false, str::is_empty) {
            a = a.with(&r);
        }
        return Some(a);
    }
    // refused connect from name (10.0.0.1): the address in the last
    // parentheses, which end the line.
    if let Some(rest) = after(m, "refused connect from ") {
        let inner = rest.strip_suffix(')')?;
        let open = inner.rfind('(')?;
        let mut a = Auth::failure();
        a.client_ip = host(&inner[open + 1..]).filter(|h| h.bytes().all(host_char));
        return Some(a);
    }
    // maximum authentication attempts exceeded for [invalid user ]bob from 10.0.0.1 port 22 ssh2
    if let Some(rest) = after(m, "maximum authentication attempts exceeded for ") {
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        return Some(failure_from(rest, str::is_empty));
    }
    // Disconnecting: Too many authentication failures[ for bob]
    if let Some(rest) = after(m, "Disconnecting: Too many authentication failures") {
        let a = Auth { role: Role::Pending, ..Auth::failure() };
        return Some(match rest.strip_prefix(" for ") {
            Some(u) => a.with_user(u.strip_prefix("invalid user ").unwrap_or(u)),
            None => a,
        });
    }
    // Disconnecting {invalid|authenticating} user bob 10.0.0.1 port 22: Too many
    // authentication failures / Change of username or service not allowed
    if let Some(rest) = after(m, "Disconnecting ") {
        return disconnecting(rest);
    }
    // Received disconnect from 10.0.0.1 port 22:3: ...: Auth fail / :11: Bye
    // Bye: the address comes first, the client's reason after it.
    if let Some(rest) = after(m, "Received disconnect from ") {
        let mut a = Auth { role: Role::End, ..Auth::none().with_remote(rest) };
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
            return Some(Auth { role: Role::End, ..user_and_remote(rest)? });
        }
    }
    // Connection from 10.0.0.1 port 50022 on 10.0.0.2 port 22
    if let Some(rest) = after(m, "Connection from ") {
        return Some(Auth::none().with_remote(rest));
    }
    if let Some(rest) = after(m, "Did not receive identification string from ") {
        return Some(Auth::none().with_remote(rest));
    }
    // Bad protocol version identification 'CLIENT TEXT' from 10.0.0.1 port 22
    if let Some(rest) = after(m, "Bad protocol version identification ") {
        return Some(match anchored(rest, " from ", false, str::is_empty) {
            Anchor::Found(_, r) => Auth::none().with(&r),
            _ => Auth::none(),
        });
    }
    // Unable to negotiate with 10.0.0.1 port 22: no matching ...
    if let Some(rest) = after(m, "Unable to negotiate with ") {
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

/// A failure whose text is `USER from HOST…` (the user chosen by the
/// client): with the address where sshd wrote it, or none when that is
/// ambiguous; without ` from ` at all, a failure the session completes.
fn failure_from(rest: &str, tail_ok: impl Fn(&str) -> bool) -> Auth<'_> {
    match anchored(rest, " from ", false, tail_ok) {
        Anchor::Found(user, r) => Auth::failure().with_user(user).with(&r),
        Anchor::Ambiguous => Auth { role: Role::Pending, ..Auth::failure() },
        Anchor::NotFound => Auth { role: Role::Helper, ..Auth::failure().with_user(rest) },
    }
}

/// `{invalid|authenticating} user NAME HOST port N: REASON` after
/// "Disconnecting ": the reason is sshd's. A changed user name is a
/// failure; "Too many authentication failures" is not (sshd logged the
/// failure just before, as "maximum authentication attempts exceeded").
fn disconnecting(rest: &str) -> Option<Auth<'_>> {
    const TOO_MANY: &str = ": Too many authentication failures";
    const CHANGED: &str = ": Change of username or service not allowed";
    // sshd's "HOST port N: REASON": the first " port N" followed by a reason
    // sshd writes (a changed user name's reason quotes the client's names
    // after it, so a later one may be the client's).
    for i in find_all(rest, " port ") {
        let digits = rest[i + 6..].bytes().take_while(u8::is_ascii_digit).count();
        let end = i + 6 + digits;
        let reason = &rest[end..];
        if digits == 0 || !(reason.starts_with(TOO_MANY) || reason.starts_with(CHANGED)) {
            continue;
        }
        let a = user_and_remote(&rest[..end])?;
        let outcome = reason.starts_with(CHANGED).then_some(AuthOutcome::Failure);
        return Some(Auth { outcome, role: Role::End, ..a });
    }
    None
}

/// `key=value` pairs of a PAM line: `logname= uid= euid= tty= ruser=
/// rhost=[  user=]` in that order. `ruser` and `user` may hold the client's
/// text, so `rhost` is taken only where PAM writes it: a ` rhost=` whose
/// value (one token) ends the line or is followed by `  user=`; two such
/// places, and there is no address.
fn pam_keys(s: &str) -> Auth<'_> {
    let s = s.trim_end();
    // The places where PAM's rhost= could be (two are as ambiguous as more).
    let mut places: [Option<(usize, &str, &str)>; 2] = [None; 2];
    let mut n = 0;
    for i in find_all(s, "rhost=") {
        if i > 0 && s.as_bytes()[i - 1] != b' ' {
            continue;
        }
        let v = &s[i + 6..];
        let len = memchr::memchr(b' ', v.as_bytes()).unwrap_or(v.len());
        let tail = &v[len..];
        if tail.is_empty() || tail.starts_with("  user=") || tail.starts_with(" user=") {
            places[n] = Some((i, &v[..len], tail));
            n += 1;
            if n == places.len() {
                break;
            }
        }
    }
    let (rhost, user) = match places {
        [Some((_, rhost, tail)), None] => {
            let user = tail.trim_start().strip_prefix("user=").unwrap_or("");
            (Some(rhost), user)
        }
        _ => (None, ""),
    };
    // ruser= (before rhost=) names the account when user= is absent.
    let ruser = places[0]
        .and_then(|(i, _, _)| rfind(&s[..i], " ruser=").map(|j| s[j + 7..i].trim()))
        .unwrap_or("");
    let mut a = Auth::none().with_user(if user.is_empty() { ruser } else { user });
    a.client_ip = rhost.and_then(host);
    a
}

/// `[{invalid|authenticating} user NAME ]HOST[ port N]`: the user (the
/// client's text, which may hold spaces and addresses) is everything
/// before the host that ends the text.
fn user_and_remote(s: &str) -> Option<Auth<'_>> {
    let s = s.trim_end();
    for p in ["invalid user ", "authenticating user ", "user "] {
        if let Some(rest) = s.strip_prefix(p) {
            // The last "HOST port N" (or the last token) that ends the text.
            let host_end = match rfind(rest, " port ") {
                Some(i) if rest[i + 6..].bytes().all(|c| c.is_ascii_digit()) => i,
                _ => rest.len(),
            };
            let cut = rest[..host_end].rfind(' ');
            let (user, remote_text) = match cut {
                Some(c) => (&rest[..c], &rest[c + 1..]),
                // "invalid user  10.0.0.1 port 22": an empty user name.
                None => ("", rest),
            };
            return Some(Auth::none().with_user(user).with_remote(remote_text));
        }
    }
    let r = remote(s)?;
    Some(Auth::none().with(&r))
}

/// `alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ;
/// USER=root ; COMMAND=/bin/ls`, `alice : TTY=... ; COMMAND=...` (a command
/// run), `alice : user NOT in sudoers ; ...`.
fn sudo(m: &str) -> Option<Auth<'_>> {
    let (user, mut rest) = split_at(m, " : ")?;
    let user = user.trim();
    if user.is_empty() || user.contains(' ') {
        return None;
    }
    let first = split_at(rest, " ; ").map_or(rest, |(p, _)| p).trim();
    let mut a = if first.starts_with("TTY=") || first.starts_with("PWD=") {
        Auth::success()
    } else if [
        "incorrect password attempt",
        "NOT in sudoers",
        "command not allowed",
        "a password is required",
        "not allowed to execute",
    ]
    .iter()
    .any(|r| find(first, r).is_some())
    {
        Auth::failure().with_method("password")
    } else {
        return None;
    };
    a.user = Some(user);
    // The parts between " ; ".
    loop {
        let (p, next) = split_at(rest, " ; ").map_or((rest, None), |(p, n)| (p, Some(n)));
        if let Some(v) = p.trim().strip_prefix("USER=") {
            a.target_user = Some(v);
        } else if let Some(v) = p.trim().strip_prefix("COMMAND=") {
            a.command = Some(v);
        }
        match next {
            Some(n) => rest = n,
            None => break,
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
        // Logged after "maximum authentication attempts exceeded": not
        // another failure (fail2ban counts it no more).
        let a = extract("sshd", "Disconnecting authenticating user root 192.0.2.7 port 22: Too many authentication failures [preauth]").unwrap();
        assert_eq!(
            (a.outcome, a.user, a.client_ip, a.port),
            (None, Some("root"), Some("192.0.2.7"), Some(22))
        );
        assert!(extract("sshd", "Server listening on 0.0.0.0 port 22.").is_none());
        assert!(extract("cron", "Failed password for root from 192.0.2.7 port 22 ssh2").is_none());
    }

    /// Text the client chose (the user name, what follows the address)
    /// never chooses the address: each line names the real one, or none.
    #[test]
    fn the_client_cannot_choose_the_address() {
        for (m, want) in [
            // fail2ban's own injection cases.
            ("Failed password for user from 127.0.0.1 port 20000 ssh1: ruser from 1.2.3.4", Some("127.0.0.1")),
            ("Failed password for user from 127.0.0.1 port 20000 ssh1: ruser XXXX from 1.2.3.4", Some("127.0.0.1")),
            ("Failed password for user from aaaa:bbbb:cccc:1234::1:1 port 20000 ssh1: ruser X from 1.2.3.4", Some("aaaa:bbbb:cccc:1234::1:1")),
            ("Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2", Some("127.0.0.1")),
            ("Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2", Some("127.0.0.1")),
            // Two places either of which could be sshd's: no address.
            ("Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2", None),
            ("Failed password for invalid user x from 6.6.6.6 port 1 ssh2: y from 127.0.0.1 port 5 ssh2", None),
            // An SSH-1 "ruser" in the user name of an SSH-2 line.
            ("Failed password for invalid user x from 6.6.6.6 port 1 ssh1: ruser y from 127.0.0.1 port 5 ssh2", None),
            // SSH-1's "ruser" settles nothing outside Accepted/Failed lines,
            // nor against another candidate that names a protocol.
            ("Invalid user a from 6.6.6.6 port 1 ssh1: ruser b from 192.0.2.9 port 22", None),
            ("User a from 6.6.6.6 port 1 ssh1: ruser b from 192.0.2.9 not allowed because listed in DenyUsers", Some("192.0.2.9")),
            ("Failed password for a from 6.6.6.6 port 1 ssh1: ruser b from 192.0.2.9 port 22 ssh1", None),
            ("Failed rhosts-rsa for a from 192.0.2.9 port 22 ssh1: ruser b from 6.6.6.6", Some("192.0.2.9")),
            ("Invalid user a from 6.6.6.6 from 192.0.2.9 port 4242", Some("192.0.2.9")),
            ("Invalid user a from 6.6.6.6 port 1 from 192.0.2.9 port 4242", Some("192.0.2.9")),
            ("User x from 6.6.6.6 not allowed because y from 192.0.2.9 not allowed because listed in DenyUsers", Some("192.0.2.9")),
            ("error: maximum authentication attempts exceeded for invalid user x from 6.6.6.6 port 1 ssh2 from 192.0.2.9 port 22 ssh2 [preauth]", Some("192.0.2.9")),
            ("error: PAM: Authentication failure for x from 6.6.6.6 via 1.1.1.1 from 192.0.2.9", Some("192.0.2.9")),
        ] {
            let a = extract("sshd", m).unwrap_or_else(|| panic!("no event in {m}"));
            assert_eq!(a.outcome, Some(AuthOutcome::Failure), "{m}");
            assert_eq!(a.client_ip, want, "{m}");
        }
        // The user name before the address, whatever it holds.
        for (m, user, ip) in [
            ("Connection closed by authenticating user test 127.0.0.1 192.0.2.11 port 46039 [preauth]", "test 127.0.0.1", "192.0.2.11"),
            ("Connection closed by authenticating user test 127.0.0.1 port 12345 192.0.2.11 port 46039 [preauth]", "test 127.0.0.1 port 12345", "192.0.2.11"),
            ("Disconnecting invalid user a 6.6.6.6 port 1: Too many authentication failures 192.0.2.9 port 22: Change of username or service not allowed: (a,b) -> (c,d) [preauth]", "a", "6.6.6.6"),
        ] {
            let a = extract("sshd", m).unwrap();
            assert_eq!((a.user, a.client_ip), (Some(user), Some(ip)), "{m}");
        }
        // After the address, only the client's text: the address stays.
        let a = extract(
            "sshd",
            "Received disconnect from 192.0.2.9 port 22:11: from 6.6.6.6 port 1 [preauth]",
        )
        .unwrap();
        assert_eq!((a.client_ip, a.port), (Some("192.0.2.9"), Some(22)));
        let a = extract("sshd", "Received disconnect from 192.0.2.9: 11: x port 99").unwrap();
        assert_eq!((a.client_ip, a.port), (Some("192.0.2.9"), None));
        let a = extract("sshd", "Bad protocol version identification 'dummy string' from 192.0.2.1' from 69.61.56.115 port 31778").unwrap();
        assert_eq!(a.client_ip, Some("69.61.56.115"));
        // PAM: rhost only where PAM writes it (ruser and user are the client's).
        let a = extract("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.9  user=x").unwrap();
        assert_eq!((a.client_ip, a.user), (Some("192.0.2.9"), Some("x")));
        // Either rhost= could be PAM's (ruser " rhost=192.0.2.9  user=x"): none.
        let a = extract("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.9  user=x rhost=6.6.6.6").unwrap();
        assert_eq!(a.client_ip, None);
        let a = extract("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=x rhost=6.6.6.6 rhost=192.0.2.9").unwrap();
        assert_eq!(a.client_ip, Some("192.0.2.9"), "the ruser holds the first");
    }

    /// The older PAM lines tagged with the module carry the outcome and the
    /// remote host; a host name is no IP address.
    #[test]
    fn module_tagged_pam_lines() {
        let a = extract(
            "sshd(pam_unix)",
            "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ",
        )
        .unwrap();
        assert_eq!((a.outcome, a.client_ip), (Some(AuthOutcome::Failure), Some("218.188.2.4")));
        let a = extract("sshd(pam_unix)", "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root").unwrap();
        assert_eq!((a.client_ip, a.user), (Some("220-135-151-1.hinet-ip.hinet.net"), Some("root")));
        assert!(
            !is_ip("220-135-151-1.hinet-ip.hinet.net")
                && is_ip("218.188.2.4")
                && is_ip("fe80::1%eth0")
        );
        assert!(extract("sshd(pam_unix)", "check pass; user unknown").is_none());
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

    proptest::proptest! {
        /// Whatever the client puts in the user name (and after the
        /// address, where it can), the address found is the real one or
        /// none: it appears in the line before the first text the client
        /// chose.
        #[test]
        fn the_address_comes_before_client_text(
            user in "[a-z0-9 .:]{0,12}( from [0-9.]{1,15}( port [0-9]{1,5})?( ssh[12])?(: (ruser )?)?)?[a-z ]{0,6}",
            tail in proptest::option::of(": [a-z0-9 .]{0,10}( from 6.6.6.6( port 1)?( ssh2)?)?"),
            shape in 0usize..8,
        ) {
            let real = "192.0.2.77";
            let tail = tail.unwrap_or_default();
            let m = match shape {
                0 => format!("Failed password for invalid user {user} from {real} port 22 ssh2{tail}"),
                1 => format!("Failed password for {user} from {real} port 22 ssh2"),
                2 => format!("Invalid user {user} from {real} port 22"),
                3 => format!("User {user} from {real} not allowed because not listed in AllowUsers"),
                4 => format!("Connection closed by authenticating user {user} {real} port 22 [preauth]"),
                5 => format!("Failed password for {user} from {real} port 22 ssh1"),
                6 => format!("Failed rhosts-rsa for {user} from {real} port 22 ssh1: ruser {user}"),
                _ => format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser={user} rhost={real}  user={user}"),
            };
            if let Some(a) = extract("sshd", &m) {
                if let Some(ip) = a.client_ip {
                    proptest::prop_assert_eq!(ip, real, "{}", m);
                }
            }
        }
    }
}
