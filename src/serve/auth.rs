//! Sessions, form tokens and sign-in limits (the sign-in handlers are in
//! `signin`).
//!
//! - Sign-in answers an unknown user exactly as a wrong password, after
//!   the same work: the stored hash is looked up (absent for an unknown
//!   user) and a hash is verified either way (a dummy one made at start
//!   with the same parameters).
//! - Sign-in attempts are limited within [`WINDOW`]: per user name and
//!   client address ([`PER_PAIR`]), per client address ([`PER_CLIENT`];
//!   an IPv6 client by its /64) and per user name from every address
//!   ([`PER_USER`]). An attempt is counted (reserved) under the limiter's
//!   lock *before* its hash is verified, so a burst of parallel attempts
//!   gets no more verifications than the limit; past a limit the answer is
//!   429 before any hash is checked, whether or not the user exists. A
//!   success takes back its own reservation and clears the failures of
//!   that name from that address only: a victim signing in does not clear
//!   an attacker's count. The trade-off: guesses from one address lock
//!   that address out of that name after 5, not the name for everyone;
//!   the name is locked for everyone only after [`PER_USER`] failures
//!   from all addresses (a guessing botnet), which the right password
//!   from another address then waits out too.
//! - The client address is the TCP peer's, or behind a trusted proxy
//!   (`--trusted-proxy`) the forwarded one ([`super::proxy`]).
//! - The session cookie (`logtrack_session`) holds 32 random bytes; it is
//!   `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` over HTTPS
//!   (`--secure-cookies`, or a trusted proxy saying HTTPS). The
//!   session itself is a row of `sessions` ([`crate::store::sessions`]).
//! - Forms carry a token: the session's for signed-in forms; for the
//!   sign-in form one that must equal a short-lived `logtrack_signin`
//!   cookie (so another site cannot sign a browser in to its account).

use super::proxy::Peer;
use super::{App, Fail};
use crate::store::{sessions, users};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use blake2::{Blake2b, Digest};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "logtrack_session";

pub const SIGNIN_COOKIE: &str = "logtrack_signin";

/// Failed sign-ins allowed per user name and client address within [`WINDOW`].
pub const PER_PAIR: usize = 5;

/// Failed sign-ins allowed per client address within [`WINDOW`].
pub const PER_CLIENT: usize = 20;

/// Failed sign-ins allowed per user name, from all addresses, within [`WINDOW`].
pub const PER_USER: usize = 50;

pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the system's random source");
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the sessions table keeps of a token.
pub(super) fn token_hash(token: &str) -> Vec<u8> {
    let mut h = Blake2b::<blake2::digest::consts::U32>::new();
    h.update(b"logtrack-session:");
    h.update(token.as_bytes());
    h.finalize().to_vec()
}

/// Equal, in a time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A hash of a random password, made like the users' hashes.
pub fn dummy_hash() -> anyhow::Result<String> {
    Ok(users::hash_password(&random_hex(16))?)
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl App {
    /// Whether this request's cookies are Secure.
    fn secure(&self, peer: &Peer) -> bool {
        self.secure_cookies || peer.https
    }

    /// The name cookie `name` has for this request. Secure cookies carry a
    /// prefix browsers enforce, so that neither plain HTTP nor a sibling
    /// subdomain can set them: `__Host-` (Secure, `Path=/`, no `Domain`)
    /// for the session, `__Secure-` for the sign-in form's (whose path is
    /// `/signin`).
    pub(super) fn cookie_name(&self, peer: &Peer, name: &str) -> String {
        match (self.secure(peer), name == SESSION_COOKIE) {
            (false, _) => name.to_string(),
            (true, true) => format!("__Host-{name}"),
            (true, false) => format!("__Secure-{name}"),
        }
    }

    /// The value of cookie `name` (as named for this request).
    pub(super) fn cookie(&self, headers: &HeaderMap, peer: &Peer, name: &str) -> Option<String> {
        cookie(headers, &self.cookie_name(peer, name))
    }

    /// A `Set-Cookie` value.
    pub(super) fn set_cookie(
        &self,
        peer: &Peer,
        name: &str,
        value: &str,
        path: &str,
        max_age: Option<i64>,
    ) -> HeaderValue {
        let https = self.secure(peer);
        let name = self.cookie_name(peer, name);
        let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if https {
            c.push_str("; Secure");
        }
        HeaderValue::from_str(&c).expect("cookie values are hex")
    }
}

/// A signed-in user, from the session cookie. Pages that take one
/// redirect to the sign-in page without a live session.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: String,
    pub role: String,
    pub csrf: String,
    pub(super) token_hash: Vec<u8>,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }

    /// Refuses a form whose token is not this session's.
    pub fn check_form(&self, token: &str) -> Result<(), Fail> {
        if same(token, &self.csrf) {
            Ok(())
        } else {
            Err(Fail::Forbidden(
                "The form's token does not match your session: reload the page and try again."
                    .into(),
            ))
        }
    }
}

impl FromRequestParts<Arc<App>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let to_signin = || {
            let next =
                percent_encoding::utf8_percent_encode(here, percent_encoding::NON_ALPHANUMERIC);
            Redirect::to(&format!("/signin?next={next}")).into_response()
        };
        // (The guard works out the peer for every request.)
        let peer = parts.extensions.get::<Peer>().cloned();
        let token = peer.and_then(|p| app.cookie(&parts.headers, &p, SESSION_COOKIE));
        let Some(token) = token.filter(|t| t.len() == 64) else {
            return Err(to_signin());
        };
        let hash = token_hash(&token);
        let life = app.life;
        let found = {
            let hash = hash.clone();
            app.db(move |c| sessions::touch(c, &hash, life))
                .await
                .map_err(IntoResponse::into_response)?
        };
        match found {
            Some(s) => Ok(Session { user: s.user, role: s.role, csrf: s.csrf, token_hash: hash }),
            None => Err(to_signin()),
        }
    }
}

/// Sign-in attempts per key within [`WINDOW`]: failures, and attempts
/// whose hash is being verified (reserved).
#[derive(Default)]
pub struct Limiter {
    attempts: Mutex<HashMap<String, Vec<Instant>>>,
}

/// An attempt counted by [`Limiter::reserve`]: a failure unless
/// [`Limiter::succeeded`] takes it back.
#[must_use]
pub struct Attempt {
    pair: String,
    others: [String; 2],
    at: Instant,
}

/// The key of a user name, as it is stored (trimmed, lower case; a name
/// is as long as a client makes it: only its start is kept).
fn user_key(user: &str) -> String {
    let name = users::fold(user);
    format!("u:{}", name.chars().take(128).collect::<String>())
}

/// The client key of an address: IPv4 as is, IPv6 by its /64.
fn client_key(ip: IpAddr) -> String {
    match crate::net::unmap(ip) {
        IpAddr::V4(v4) => format!("c:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("c:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

impl Limiter {
    /// Counts an attempt of `user` from `ip` before its hash is checked,
    /// or says how long until it may be made when a limit is reached.
    pub fn reserve(&self, ip: IpAddr, user: &str) -> Result<Attempt, Duration> {
        let now = Instant::now();
        let (client, name) = (client_key(ip), user_key(user));
        let pair = format!("{client} {name}");
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, times| times.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let mut wait: Option<Duration> = None;
        for (key, limit) in [(&pair, PER_PAIR), (&client, PER_CLIENT), (&name, PER_USER)] {
            if let Some(times) = map.get_mut(key) {
                times.retain(|t| now.duration_since(*t) < WINDOW);
                if times.len() >= limit {
                    let until = times[times.len() - limit] + WINDOW;
                    let w = until.saturating_duration_since(now).max(Duration::from_secs(1));
                    wait = Some(wait.map_or(w, |x| x.max(w)));
                }
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        for key in [&pair, &client, &name] {
            map.entry(key.clone()).or_default().push(now);
        }
        Ok(Attempt { pair, others: [client, name], at: now })
    }

    /// The attempt signed in: it is no failure, and the earlier failures
    /// of its name from its address are forgotten (not those from others).
    pub fn succeeded(&self, attempt: Attempt) {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&attempt.pair);
        for key in &attempt.others {
            if let Some(times) = map.get_mut(key) {
                if let Some(i) = times.iter().rposition(|t| *t == attempt.at) {
                    times.remove(i);
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct FormToken {
    pub csrf: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_attempts_per_pair_per_client_and_per_user() {
        let l = Limiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..PER_PAIR {
            let _failed = l.reserve(a, "alice").unwrap();
        }
        assert!(l.reserve(a, "alice").is_err(), "alice from a is over the limit");
        assert!(l.reserve(a, " Alice ").is_err(), "the same name, as stored");
        // From another address alice may still try, and signing in there
        // does not clear a's failures.
        let ok = l.reserve(b, "alice").unwrap();
        l.succeeded(ok);
        assert!(l.reserve(a, "alice").is_err());
        for i in 0..PER_CLIENT - PER_PAIR {
            let _failed = l.reserve(a, &format!("user{i}")).unwrap();
        }
        assert!(l.reserve(a, "carol").is_err(), "the client is over its limit");
        // One /64 is one client.
        let c: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let d: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        for i in 0..PER_CLIENT {
            let _failed = l.reserve(c, &format!("v6user{i}")).unwrap();
        }
        assert!(l.reserve(d, "dave").is_err());
        // Many addresses guessing one name stop at PER_USER for everyone.
        for i in 0..PER_USER {
            let ip: IpAddr = format!("198.51.{}.{}", i / 200, i % 200).parse().unwrap();
            let _failed = l.reserve(ip, "erin").unwrap();
        }
        assert!(l.reserve("203.0.113.1".parse().unwrap(), "erin").is_err());
    }

    #[test]
    fn a_burst_is_limited_before_any_hash_is_checked() {
        // Reservations are made under the lock: however many threads ask
        // at once, at most PER_PAIR get through.
        let l = std::sync::Arc::new(Limiter::default());
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let through = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..32 {
                s.spawn(|| {
                    if l.reserve(ip, "alice").is_ok() {
                        through.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(through.into_inner(), PER_PAIR);
    }

    #[test]
    fn cookies_and_tokens() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; logtrack_session=abc; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
        assert_eq!(random_hex(32).len(), 64);
        assert_ne!(random_hex(32), random_hex(32));
    }
}
