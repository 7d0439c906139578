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
//! A line is joined only with lines of its process that start within
//! [`crate::source::behind::WINDOW`] bytes before it and ten minutes of log
//! time, so memory stays bounded and the result is the same however the
//! input is cut into chunks (each chunk first reads the lines before it).
//! A session is not joined across two loads of a growing file.

use super::auth::{self, AuthOutcome, Role};
use super::{Record, Severity, Value};
use std::borrow::Cow;
use std::collections::HashMap;

/// Log time over which a session's lines are joined.
pub const WINDOW_SECS: i64 = 600;

#[derive(Clone, Debug, Default)]
struct State {
    /// Where the process's last line started, and its time.
    offset: u64,
    ts: i64,
    /// The remote address the process logged, and its port.
    addr: Option<(String, Option<i64>)>,
    /// A failure without an address, held (and its user).
    pending: Option<Option<String>>,
    /// A PAM failure not yet counted (its user).
    pam: Option<Option<String>>,
    /// The user of the last failure counted with an address.
    counted: Option<Option<String>>,
}

/// The sessions of one input, as its lines are read in order.
#[derive(Default)]
pub struct Sessions {
    map: HashMap<(String, String), State>,
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
        let (role, outcome) = (a.role, a.outcome);
        let user = a.user.map(str::to_string);
        let addr = a.client_ip.map(|h| (h.to_string(), a.port));
        let ts = r.ts.map_or(0, |t| t.secs);
        let fresh = |s: &State| {
            offset.saturating_sub(s.offset) <= crate::source::behind::WINDOW
                && (ts - s.ts).abs() <= WINDOW_SECS
        };
        let mut st = self.map.remove(&key).filter(fresh).unwrap_or_default();
        let failure = outcome == Some(AuthOutcome::Failure);
        match (&addr, role) {
            (Some(_), Role::KeyOffered) => self.clear_outcome(r),
            (Some(_), Role::Pam) => {
                let other = st.pam.as_ref().is_some_and(|u| *u != user);
                if other {
                    st.pam = None;
                    st.counted = Some(user.clone());
                } else {
                    self.clear_outcome(r);
                    st.pam = Some(user.clone());
                }
            }
            (Some(_), _) if failure => {
                st.pending = None;
                st.pam = None;
                st.counted = Some(user.clone());
            }
            (Some(_), _) if outcome.is_some() => {
                st = State { addr: st.addr, ..State::default() };
            }
            (Some(_), _) => {
                if let Some(held) = st.pending.take() {
                    set(r, "outcome", Value::str(AuthOutcome::Failure.as_str()));
                    r.severity = Some(Severity::Warn);
                    if r.user.is_none() {
                        r.user = held.clone().map(Cow::Owned);
                    }
                    st.counted = Some(held);
                }
            }
            // A line that names a user already counted adds nothing.
            (None, Role::Helper) if failure && st.counted.as_ref() == Some(&user) => {
                self.clear_outcome(r)
            }
            (None, Role::Pending | Role::Helper) if failure => match &st.addr {
                Some((h, port)) => {
                    set_address(r, h, *port);
                    st.counted = Some(user.clone());
                }
                None => {
                    self.clear_outcome(r);
                    st.pending = Some(user.clone());
                }
            },
            (None, _) => {}
        }
        if let Some(a) = addr {
            st.addr = Some(a);
        }
        if role == Role::End {
            return;
        }
        st.offset = offset;
        st.ts = ts;
        // Bounded: sessions older than the window go when the map grows.
        if self.map.len() >= 4096 {
            self.map.retain(|_, s| fresh(s));
        }
        self.map.insert(key, st);
    }

    fn clear_outcome(&self, r: &mut Record<'_>) {
        set(r, "outcome", Value::Null);
        r.severity = base_severity(r);
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
