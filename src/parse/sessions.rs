//! sshd sessions: the lines one sshd process (host and pid) writes about
//! one connection, joined as fail2ban's normal mode joins them, so that a
//! failure and the address it came from are counted together although
//! sshd logged them on different lines.
//!
//! - A failure that names no address (`Disconnecting: Too many
//!   authentication failures for root`, `input_userauth_request: invalid
//!   user root`, `User root not allowed because account is locked`, or one
//!   whose address is ambiguous) takes the address the process logged
//!   before (`Connection from …`, an earlier failure). Without one it is
//!   held: the process's next line that names an address (`Connection
//!   closed by …`, `Received disconnect from …`) is the failure, with that
//!   address and the held user. The record that carries a failure is always
//!   one line of the file: the later of the two.
//! - `pam_unix(sshd:auth): authentication failure` is the same attempt as
//!   sshd's own `Failed password …` line: it counts only when another user
//!   is tried in the same process (a PAM stack that fails one module and
//!   passes the next logs it before a success).
//! - `Failed publickey` for an existing user is a client offering its
//!   keys one by one: not a failure (the process's `Too many
//!   authentication failures` is).
//! - An `Accepted …` line forgets what was held; a close or disconnect ends
//!   the session.
//!
//! A line is joined only with the lines of its process that start within
//! [`crate::source::behind::WINDOW`] bytes before it and ten minutes of log
//! time around it: what a line becomes depends on those lines alone, so
//! memory stays bounded and the result is the same however the input is
//! cut into chunks or parts (each reads the lines before it first).

use super::auth::{self, AuthOutcome, Role};
use super::{Record, Severity, Value};
use crate::source::behind::Behind;
use crate::source::behind::WINDOW;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

/// Log time over which a session's lines are joined.
pub const WINDOW_SECS: i64 = 600;

/// The lines of one process a session is joined over, at most.
const MAX_EVENTS: usize = 256;

/// The pid after each `needle…[` of `data`, with where its line starts
/// and ends (found without parsing the lines: a needle in a message may
/// count too, which only costs a parse).
fn pids<'a>(data: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = (u64, usize, usize)> + 'a {
    memchr::memmem::find_iter(data, needle).filter_map(move |at| {
        let end = memchr::memchr2(b'\n', b'\r', &data[at..]).map_or(data.len(), |i| at + i);
        let rest = &data[at + needle.len()..end];
        let open = rest.iter().take(16).position(|c| *c == b'[')?;
        let digits = &rest[open + 1..];
        let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 18 || digits.get(n) != Some(&b']') {
            return None;
        }
        let pid = std::str::from_utf8(&digits[..n]).ok()?.parse().ok()?;
        let start = memchr::memrchr2(b'\n', b'\r', &data[..at]).map_or(0, |i| i + 1);
        Some((pid, start, end))
    })
}

/// Where a text of a line is kept in [`Sessions::texts`].
type Text = (u32, u32);

/// What a line says for its session (its texts kept in the chunk's
/// [`Sessions::texts`]: nothing to allocate or free per line).
#[derive(Clone, Copy, Debug)]
struct Event {
    offset: u64,
    ts: i64,
    role: Role,
    outcome: Option<AuthOutcome>,
    user: Option<Text>,
    addr: Option<(Text, Option<i64>)>,
    /// The process's line before it (an index into the events), or none.
    prev: Option<u32>,
}

/// An event with its texts.
struct Line<'e> {
    ev: &'e Event,
    user: Option<&'e str>,
    addr: Option<(&'e str, Option<i64>)>,
}

impl Event {
    fn with_texts<'e>(&'e self, texts: &'e str) -> Line<'e> {
        let t = |(a, b): Text| &texts[a as usize..b as usize];
        Line { ev: self, user: self.user.map(t), addr: self.addr.map(|(h, p)| (t(h), p)) }
    }
}

/// A session as its earlier lines leave it (borrowing their texts).
#[derive(Clone, Copy, Debug, Default)]
struct State<'e> {
    /// The remote address the process logged, and its port.
    addr: Option<(&'e str, Option<i64>)>,
    /// A failure without an address, held (and its user).
    pending: Option<Option<&'e str>>,
    /// A PAM failure not yet counted (its user).
    pam: Option<Option<&'e str>>,
    /// The user of the last failure counted with an address.
    counted: Option<Option<&'e str>>,
}

/// What a line becomes in its session.
#[derive(Debug, PartialEq)]
enum Verdict<'e> {
    Keep,
    /// No failure after all (counted elsewhere, or not yet).
    NoFailure,
    /// A failure, with the session's address.
    FailureAt(&'e str, Option<i64>),
    /// A failure of the held user (the line names the address).
    Completes(Option<&'e str>),
}

/// Moves `st` past line `ev`, and says what the line becomes.
fn step<'e>(st: &mut State<'e>, line: Line<'e>) -> Verdict<'e> {
    let ev = line.ev;
    let failure = ev.outcome == Some(AuthOutcome::Failure);
    let user = line.user;
    let verdict = match (line.addr, ev.role) {
        (Some(_), Role::KeyOffered) => Verdict::NoFailure,
        (Some(_), Role::Pam) => {
            if st.pam.is_some_and(|u| u != user) {
                st.pam = None;
                st.counted = Some(user);
                Verdict::Keep
            } else {
                st.pam = Some(user);
                Verdict::NoFailure
            }
        }
        (Some(_), _) if failure => {
            st.pending = None;
            st.pam = None;
            st.counted = Some(user);
            Verdict::Keep
        }
        (Some(_), _) if ev.outcome.is_some() => {
            *st = State { addr: st.addr, ..State::default() };
            Verdict::Keep
        }
        (Some(_), _) => match st.pending.take() {
            Some(held) => {
                st.counted = Some(held);
                Verdict::Completes(held)
            }
            None => Verdict::Keep,
        },
        // A line that names a user already counted adds nothing.
        (None, Role::Helper) if failure && st.counted == Some(user) => Verdict::NoFailure,
        (None, Role::Pending | Role::Helper) if failure => match st.addr {
            Some((h, port)) => {
                st.counted = Some(user);
                Verdict::FailureAt(h, port)
            }
            None => {
                st.pending = Some(user);
                Verdict::NoFailure
            }
        },
        (None, _) => Verdict::Keep,
    };
    if let Some(addr) = line.addr {
        st.addr = Some(addr);
    }
    if ev.role == Role::End {
        *st = State::default();
    }
    verdict
}

/// The sessions of one chunk, as its lines are read in order.
#[derive(Default)]
pub struct Sessions {
    /// The lines before the chunk that may be sessions': (pid, where they
    /// start in the input, where in `behind`), sorted; read when a chunk's
    /// line of that pid needs them.
    before: Vec<(u64, u64, std::ops::Range<usize>)>,
    behind: Option<std::sync::Arc<crate::source::behind::Behind>>,
    /// Pids whose lines before the chunk were read.
    read: HashSet<u64, BuildHasherDefault<Mix>>,
    /// Every line kept, each pointing at its process's line before it.
    events: Vec<Event>,
    /// The users and addresses of the events, one after another.
    texts: String,
    /// Each process's last line, by host (hashed) and pid.
    last: HashMap<(u64, u64), u32, BuildHasherDefault<Mix>>,
    /// Scratch: a process's lines of the window, newest first.
    chain: Vec<u32>,
}

/// Keeps `s` in `texts`.
fn keep(texts: &mut String, s: &str) -> Text {
    let from = texts.len() as u32;
    texts.push_str(s);
    (from, texts.len() as u32)
}

/// A field's text (a string, or a number written out).
fn keep_value(texts: &mut String, v: Option<&Value<'_>>) -> Option<Text> {
    match v {
        Some(Value::Str(s)) => Some(keep(texts, s)),
        Some(Value::Int(n)) => {
            use std::fmt::Write;
            let from = texts.len() as u32;
            write!(texts, "{n}").expect("writing to a string");
            Some((from, texts.len() as u32))
        }
        _ => None,
    }
}

fn set(r: &mut Record<'_>, key: &'static str, v: Value<'static>) {
    match r.fields.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = v,
        None => r.fields.push((Cow::Borrowed(key), v)),
    }
}

/// The record's severity without its failure: its syslog severity.
fn base_severity(r: &Record<'_>) -> Option<Severity> {
    let Some(Value::Str(name)) = r.field("syslog_severity") else { return None };
    let i = super::syslog::SEVERITIES.iter().position(|s| *s == name)?;
    Severity::from_syslog(i as u8)
}

/// FNV-1a of `s`: the same on every run and thread.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// A process's key: its host, hashed, and its pid (a number, or its text
/// hashed).
fn process_key(host: Option<&str>, pid: &Value<'_>) -> Option<(u64, u64)> {
    let pid = match pid {
        Value::Int(n) => *n as u64,
        Value::Str(s) => fnv(s),
        _ => return None,
    };
    Some((fnv(host.unwrap_or("")), pid))
}

/// A hasher for keys that are numbers already: mixes them, no more.
#[derive(Default)]
struct Mix(u64);

impl std::hash::Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Whether `r` is an authentication event of sshd (which sessions join).
fn joins(r: &Record<'_>) -> bool {
    r.auth_role.is_some() && {
        let svc = r.service.as_bytes();
        let svc = memchr::memrchr(b'/', svc).map_or(svc, |i| &svc[i + 1..]);
        matches!(svc, b"sshd" | b"sshd-session" | b"sshd-auth")
    }
}

/// Reads a line before the chunk, and hands its record on.
pub type ParsePrior<'p> = &'p dyn Fn(&[u8], &mut dyn FnMut(&mut Record<'_>));

impl Sessions {
    /// The sessions of a chunk that `behind` (the bytes before it) precede.
    pub fn new(behind: Option<std::sync::Arc<Behind>>, needle: &[u8]) -> Sessions {
        let mut s = Sessions::default();
        if let Some(b) = &behind {
            let (offset, bytes) = &**b;
            for (pid, start, end) in pids(bytes, needle) {
                s.before.push((pid, offset + start as u64, start..end));
            }
            // A line once per pid.
            s.before.sort_by_key(|(pid, at, _)| (*pid, *at));
            s.before.dedup_by_key(|(pid, at, _)| (*pid, *at));
        }
        s.behind = behind;
        s
    }

    /// Joins `r` (a line starting at `offset`) with the earlier lines of its
    /// process, changing its outcome, address and user as the session says;
    /// `parse` reads a line before the chunk.
    pub fn apply(&mut self, r: &mut Record<'_>, offset: u64, parse: ParsePrior<'_>) {
        if !joins(r) {
            return;
        }
        // The lines before the chunk of this pid, first.
        if let (false, Some(Value::Int(pid))) = (self.before.is_empty(), r.field("pid")) {
            let pid = *pid as u64;
            let from = self.before.partition_point(|(p, _, _)| *p < pid);
            let has = self.before.get(from).is_some_and(|(p, _, _)| *p == pid);
            if has && self.read.insert(pid) {
                let behind = self.behind.clone().expect("lines before come with their bytes");
                let to = self.before.partition_point(|(p, _, _)| *p <= pid);
                for i in from..to {
                    let (_, at, range) = self.before[i].clone();
                    parse(&behind.1[range], &mut |prior| self.join(prior, at));
                }
            }
        }
        self.join(r, offset)
    }

    fn join(&mut self, r: &mut Record<'_>, offset: u64) {
        let Some(role) = r.auth_role.filter(|_| joins(r)) else { return };
        let Some(key) = r.field("pid").and_then(|p| process_key(r.host.as_deref(), p)) else {
            return;
        };
        let outcome = match r.field("outcome") {
            Some(Value::Str(o)) if o == "failure" => Some(AuthOutcome::Failure),
            Some(Value::Str(o)) if o == "success" => Some(AuthOutcome::Success),
            _ => None,
        };
        let host = match r.field("client_ip") {
            Some(Value::Null) | None => r.field("client_host"),
            ip => ip,
        }
        .filter(|v| matches!(v, Value::Str(_) | Value::Int(_)));
        // A line that changes nothing in its session is not kept.
        if role == Role::Plain && host.is_none() && outcome.is_none() {
            return;
        }
        let host = keep_value(&mut self.texts, host);
        let user = r.user.as_deref().map(|u| keep(&mut self.texts, u));
        let port = match r.field("port") {
            Some(Value::Int(p)) => Some(*p),
            _ => None,
        };
        let ts = r.ts.map_or(0, |t| t.secs);
        let idx = self.events.len() as u32;
        let prev = self.last.insert(key, idx);
        self.events.push(Event {
            offset,
            ts,
            role,
            outcome,
            user,
            addr: host.map(|h| (h, port)),
            prev,
        });
        // The process's lines of the window, newest first.
        self.chain.clear();
        let mut at = prev;
        while let Some(i) = at {
            let e = &self.events[i as usize];
            if e.offset + WINDOW < offset || self.chain.len() == MAX_EVENTS {
                break;
            }
            self.chain.push(i);
            at = e.prev;
        }
        let mut st = State::default();
        for &i in self.chain.iter().rev() {
            let e = &self.events[i as usize];
            if (e.ts - ts).abs() <= WINDOW_SECS {
                step(&mut st, e.with_texts(&self.texts));
            }
        }
        match step(&mut st, self.events[idx as usize].with_texts(&self.texts)) {
            Verdict::Keep => {}
            Verdict::NoFailure => {
                set(r, "outcome", Value::Null);
                r.severity = base_severity(r);
            }
            Verdict::FailureAt(h, port) => set_address(r, h, port),
            Verdict::Completes(held) => {
                set(r, "outcome", Value::str(AuthOutcome::Failure.as_str()));
                r.severity = Some(Severity::Warn);
                if r.user.is_none() {
                    r.user = held.map(|u| Cow::Owned(u.to_string()));
                }
            }
        }
    }
}

/// The address (an IP address, or a host name) a session gives a record.
fn set_address(r: &mut Record<'_>, h: &str, port: Option<i64>) {
    if auth::is_ip(h) {
        set(r, "client_ip", Value::Str(Cow::Owned(h.to_string())));
    } else {
        set(r, "client_host", Value::Str(Cow::Owned(h.to_string())));
    }
    set(r, "port", port.map_or(Value::Null, Value::Int));
}
