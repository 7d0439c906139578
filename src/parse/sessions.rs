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
use crate::source::behind::WINDOW;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

/// Log time over which a session's lines are joined.
pub const WINDOW_SECS: i64 = 600;

/// The lines of one process a session is joined over, at most.
const MAX_EVENTS: usize = 256;

/// What a line says for its session.
#[derive(Clone, Debug)]
struct Event {
    offset: u64,
    ts: i64,
    role: Role,
    outcome: Option<AuthOutcome>,
    user: Option<String>,
    addr: Option<(String, Option<i64>)>,
}

/// A session as its earlier lines leave it.
#[derive(Clone, Debug, Default)]
struct State {
    /// The remote address the process logged, and its port.
    addr: Option<(String, Option<i64>)>,
    /// A failure without an address, held (and its user).
    pending: Option<Option<String>>,
    /// A PAM failure not yet counted (its user).
    pam: Option<Option<String>>,
    /// The user of the last failure counted with an address.
    counted: Option<Option<String>>,
}

/// What a line becomes in its session.
#[derive(Debug, PartialEq)]
enum Verdict {
    Keep,
    /// No failure after all (counted elsewhere, or not yet).
    NoFailure,
    /// A failure, with the session's address.
    FailureAt(String, Option<i64>),
    /// A failure of the held user (the line names the address).
    Completes(Option<String>),
}

/// Moves `st` past line `ev`, and says what the line becomes.
fn step(st: &mut State, ev: &Event) -> Verdict {
    let failure = ev.outcome == Some(AuthOutcome::Failure);
    let user = &ev.user;
    let verdict = match (&ev.addr, ev.role) {
        (Some(_), Role::KeyOffered) => Verdict::NoFailure,
        (Some(_), Role::Pam) => {
            if st.pam.as_ref().is_some_and(|u| u != user) {
                st.pam = None;
                st.counted = Some(user.clone());
                Verdict::Keep
            } else {
                st.pam = Some(user.clone());
                Verdict::NoFailure
            }
        }
        (Some(_), _) if failure => {
            st.pending = None;
            st.pam = None;
            st.counted = Some(user.clone());
            Verdict::Keep
        }
        (Some(_), _) if ev.outcome.is_some() => {
            *st = State { addr: st.addr.take(), ..State::default() };
            Verdict::Keep
        }
        (Some(_), _) => match st.pending.take() {
            Some(held) => {
                st.counted = Some(held.clone());
                Verdict::Completes(held)
            }
            None => Verdict::Keep,
        },
        // A line that names a user already counted adds nothing.
        (None, Role::Helper) if failure && st.counted.as_ref() == Some(user) => Verdict::NoFailure,
        (None, Role::Pending | Role::Helper) if failure => match &st.addr {
            Some((h, port)) => {
                st.counted = Some(user.clone());
                Verdict::FailureAt(h.clone(), *port)
            }
            None => {
                st.pending = Some(user.clone());
                Verdict::NoFailure
            }
        },
        (None, _) => Verdict::Keep,
    };
    if let Some(a) = &ev.addr {
        st.addr = Some(a.clone());
    }
    if ev.role == Role::End {
        *st = State::default();
    }
    verdict
}

/// The sessions of one input, as its lines are read in order: each
/// process's recent lines.
#[derive(Default)]
pub struct Sessions {
    map: HashMap<(String, String), VecDeque<Event>>,
}

fn text(v: Option<&Value<'_>>) -> Option<String> {
    match v {
        Some(Value::Str(s)) => Some(s.to_string()),
        Some(Value::Int(n)) => Some(n.to_string()),
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
    let name = text(r.field("syslog_severity"))?;
    let i = super::syslog::SEVERITIES.iter().position(|s| *s == name)?;
    Severity::from_syslog(i as u8)
}

impl Sessions {
    /// Joins `r` (a line starting at `offset`) with the earlier lines of its
    /// process, changing its outcome, address and user as the session says.
    pub fn apply(&mut self, r: &mut Record<'_>, offset: u64) {
        let svc = r.service.rsplit('/').next().unwrap_or(&r.service);
        if !matches!(svc, "sshd" | "sshd-session" | "sshd-auth") {
            return;
        }
        let Some(pid) = text(r.field("pid")) else { return };
        let key = (r.host.as_deref().unwrap_or("").to_string(), pid);
        let Some(a) = auth::extract(&r.service, &r.message) else { return };
        let ts = r.ts.map_or(0, |t| t.secs);
        let ev = Event {
            offset,
            ts,
            role: a.role,
            outcome: a.outcome,
            user: a.user.map(str::to_string),
            addr: a.client_ip.map(|h| (h.to_string(), a.port)),
        };
        let events = self.map.entry(key).or_default();
        while events.front().is_some_and(|e| e.offset + WINDOW < offset) {
            events.pop_front();
        }
        // The session as the process's lines of the window leave it.
        let mut st = State::default();
        for e in events.iter().filter(|e| (e.ts - ts).abs() <= WINDOW_SECS) {
            step(&mut st, e);
        }
        match step(&mut st, &ev) {
            Verdict::Keep => {}
            Verdict::NoFailure => {
                set(r, "outcome", Value::Null);
                r.severity = base_severity(r);
            }
            Verdict::FailureAt(h, port) => set_address(r, &h, port),
            Verdict::Completes(held) => {
                set(r, "outcome", Value::str(AuthOutcome::Failure.as_str()));
                r.severity = Some(Severity::Warn);
                if r.user.is_none() {
                    r.user = held.map(Cow::Owned);
                }
            }
        }
        events.push_back(ev);
        // A process that logs without end (a listener): its last lines only.
        if events.len() > MAX_EVENTS {
            events.pop_front();
        }
        // Bounded: processes whose lines are all out of the window go.
        if self.map.len() >= 4096 {
            self.map.retain(|_, v| v.back().is_some_and(|e| e.offset + WINDOW >= offset));
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
