//! Signing in and out, sessions, form tokens and sign-in limits.
//!
//! - Sign-in answers an unknown user exactly as a wrong password, after
//!   the same work: the stored hash is looked up (absent for an unknown
//!   user) and a hash is verified either way (a dummy one made at start
//!   with the same parameters).
//! - Failed sign-ins are limited per user name ([`PER_USER`]) and per
//!   client address ([`PER_CLIENT`]; an IPv6 client by its /64) within
//!   [`WINDOW`]; past a limit the answer is 429 before any hash is checked,
//!   whether or not the user exists. A success clears its user's count.
//!   Addresses are the TCP peer's: behind a proxy every client shares the
//!   proxy's count, so limits are per user name there.
//! - The session cookie (`logtrack_session`) holds 32 random bytes; it is
//!   `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` over HTTPS
//!   (`--secure-cookies`, or a proxy's `X-Forwarded-Proto: https`). The
//!   session itself is a row of `sessions` ([`crate::store::sessions`]).
//! - Forms carry a token: the session's for signed-in forms; for the
//!   sign-in form one that must equal a short-lived `logtrack_signin`
//!   cookie (so another site cannot sign a browser in to its account).

use super::{pages, App, Fail};
use crate::store::{sessions, users};
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use blake2::{Blake2b, Digest};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "logtrack_session";
pub const SIGNIN_COOKIE: &str = "logtrack_signin";

/// Failed sign-ins allowed per user name within [`WINDOW`].
pub const PER_USER: usize = 5;
/// Failed sign-ins allowed per client address within [`WINDOW`].
pub const PER_CLIENT: usize = 20;
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
fn token_hash(token: &str) -> Vec<u8> {
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
    /// A `Set-Cookie` value.
    fn set_cookie(
        &self,
        headers: &HeaderMap,
        name: &str,
        value: &str,
        path: &str,
        max_age: Option<i64>,
    ) -> HeaderValue {
        let https = self.secure_cookies
            || headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"));
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
    token_hash: Vec<u8>,
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
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| t.len() == 64) else {
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

/// Failed sign-ins per key within [`WINDOW`].
#[derive(Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

/// The key of a user name (a name is as long as a client makes it: only
/// its start is kept).
fn user_key(user: &str) -> String {
    format!("u:{}", user.chars().take(128).collect::<String>())
}

/// The client key of an address: IPv4 as is, IPv6 by its /64.
fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("c:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("c:{v4}"),
            None => {
                let s = v6.segments();
                format!("c:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl Limiter {
    /// How long until `ip` and `user` may try again, if either is over its limit.
    pub fn wait(&self, ip: IpAddr, user: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("limiter lock");
        let mut wait = None;
        for (key, limit) in [(client_key(ip), PER_CLIENT), (user_key(user), PER_USER)] {
            if let Some(times) = map.get_mut(&key) {
                times.retain(|t| now.duration_since(*t) < WINDOW);
                if times.len() >= limit {
                    let until = times[times.len() - limit] + WINDOW;
                    let w = until.saturating_duration_since(now).max(Duration::from_secs(1));
                    wait = Some(wait.map_or(w, |x: Duration| x.max(w)));
                }
            }
        }
        wait
    }

    /// Counts a failure of `ip` and `user`.
    pub fn fail(&self, ip: IpAddr, user: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() > 100_000 {
            map.retain(|_, times| times.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        for key in [client_key(ip), user_key(user)] {
            map.entry(key).or_default().push(now);
        }
    }

    /// Forgets `user`'s failures (it signed in).
    pub fn clear(&self, user: &str) {
        self.failures.lock().expect("limiter lock").remove(&user_key(user));
    }
}

#[derive(serde::Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Where to go after signing in: a path of this site (printable ASCII,
/// as the sign-in redirect encodes it), else the overview.
fn local(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The sign-in form, with a fresh form token in its cookie.
fn signin_form(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    problem: Option<&str>,
) -> Response {
    let token = random_hex(32);
    let cookie = app.set_cookie(headers, SIGNIN_COOKIE, &token, "/signin", Some(3600));
    let mut res = (status, pages::signin_page(&token, next, problem)).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

pub async fn signin_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    signin_form(&app, &headers, StatusCode::OK, &local(q.next.as_deref()), None)
}

#[derive(serde::Deserialize)]
pub struct SignIn {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

pub async fn signin(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Response {
    let next = local(f.next.as_deref());
    let token_ok = cookie(&headers, SIGNIN_COOKIE).is_some_and(|c| same(&c, &f.csrf));
    if !token_ok {
        return signin_form(
            &app,
            &headers,
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form had expired. Please sign in again."),
        );
    }
    let ip = peer.ip();
    if let Some(wait) = app.limiter.wait(ip, &f.username) {
        let minutes = wait.as_secs().div_ceil(60);
        let mut res = signin_form(
            &app,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            Some(&format!("Too many failed sign-ins. Try again in {minutes} minute(s).")),
        );
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        return res;
    }
    let user = f.username.clone();
    let stored = match app.db(move |c| users::password_hash(c, &user)).await {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    let dummy = app.dummy_hash.clone();
    let password = f.password;
    let ok = App::cpu(move || {
        let verified = users::verify_password(&password, stored.as_deref().unwrap_or(&dummy));
        verified && stored.is_some()
    })
    .await;
    if !ok {
        app.limiter.fail(ip, &f.username);
        app.msgs.warn_with(
            "dashboard: a sign-in failed",
            serde_json::json!({ "client": ip.to_string() }),
        );
        return signin_form(
            &app,
            &headers,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("Wrong user name or password."),
        );
    }
    app.limiter.clear(&f.username);
    let token = random_hex(32);
    let (hash, csrf, life, user) =
        (token_hash(&token), random_hex(32), app.life, f.username.clone());
    if let Err(e) = app.db(move |c| sessions::create(c, &hash, &user, &csrf, life)).await {
        return e.into_response();
    }
    let mut res = Redirect::to(&next).into_response();
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, app.set_cookie(&headers, SESSION_COOKIE, &token, "/", None));
    h.append(header::SET_COOKIE, app.set_cookie(&headers, SIGNIN_COOKIE, "", "/signin", Some(0)));
    res
}

#[derive(serde::Deserialize)]
pub struct FormToken {
    pub csrf: String,
}

pub async fn signout(
    State(app): State<Arc<App>>,
    session: Session,
    headers: HeaderMap,
    Form(f): Form<FormToken>,
) -> Result<Response, Fail> {
    session.check_form(&f.csrf)?;
    let hash = session.token_hash.clone();
    app.db(move |c| sessions::delete(c, &hash)).await?;
    let mut res = Redirect::to("/signin").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, app.set_cookie(&headers, SESSION_COOKIE, "", "/", Some(0)));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_failures_per_user_and_per_client() {
        let l = Limiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..PER_USER {
            assert_eq!(l.wait(a, "alice"), None);
            l.fail(a, "alice");
        }
        assert!(l.wait(a, "alice").is_some(), "alice is over her limit from any client");
        assert!(l.wait(b, "alice").is_some());
        assert_eq!(l.wait(b, "bob"), None, "another user from another client is not");
        l.clear("alice");
        assert_eq!(l.wait(b, "alice"), None);
        for i in 0..PER_CLIENT {
            l.fail(b, &format!("user{i}"));
        }
        assert!(l.wait(b, "carol").is_some(), "the client is over its limit");
        // One /64 is one client.
        let c: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let d: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        for i in 0..PER_CLIENT {
            l.fail(c, &format!("v6user{i}"));
        }
        assert!(l.wait(d, "dave").is_some());
    }

    #[test]
    fn next_is_a_local_path_only() {
        assert_eq!(local(Some("/alerts/3")), "/alerts/3");
        assert_eq!(local(Some("//evil.example/")), "/");
        assert_eq!(local(Some("https://evil.example/")), "/");
        assert_eq!(local(Some("/\\evil.example")), "/");
        assert_eq!(local(Some("/a\r\nSet-Cookie: x=1")), "/", "no header injection");
        assert_eq!(local(Some("/é")), "/");
        assert_eq!(local(None), "/");
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
