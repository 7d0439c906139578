//! The sign-in and sign-out handlers: the sign-in form (with its token
//! cookie), the limited and constant-work check of a password
//! ([`super::auth`]), and the session cookie set or cleared.

use super::auth::{
    random_hex, same, token_hash, FormToken, Session, SESSION_COOKIE, SIGNIN_COOKIE,
};
use super::proxy::Peer;
use super::{pages, App, Fail};
use crate::store::{sessions, users};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use std::sync::Arc;

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
    peer: &Peer,
    status: StatusCode,
    next: &str,
    problem: Option<&str>,
) -> Response {
    let token = random_hex(32);
    let cookie = app.set_cookie(peer, SIGNIN_COOKIE, &token, "/signin", Some(3600));
    let mut res = (status, pages::signin_page(&token, next, problem)).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

pub async fn signin_page(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    Query(q): Query<Next>,
) -> Response {
    signin_form(&app, &peer, StatusCode::OK, &local(q.next.as_deref()), None)
}

#[derive(serde::Deserialize)]
pub struct SignIn {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// The longest password verified: longer ones are refused unhashed.
pub const MAX_PASSWORD: usize = 1024;

pub async fn signin(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Response {
    let next = local(f.next.as_deref());
    // The pair must be a token this server made: 64 hex digits each.
    let token_ok = app
        .cookie(&headers, &peer, SIGNIN_COOKIE)
        .filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .is_some_and(|c| same(&c, &f.csrf));
    if !token_ok {
        return signin_form(
            &app,
            &peer,
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form had expired. Please sign in again."),
        );
    }
    let name = match users::normalize_name(&f.username) {
        Ok(n) if f.password.len() <= MAX_PASSWORD => n,
        Ok(_) => {
            let why = format!("The password is longer than {MAX_PASSWORD} bytes.");
            return signin_form(&app, &peer, StatusCode::BAD_REQUEST, &next, Some(&why));
        }
        Err(why) => {
            let why = format!("The user name {why}.");
            return signin_form(&app, &peer, StatusCode::BAD_REQUEST, &next, Some(&why));
        }
    };
    let ip = peer.client;
    let lookup = name.clone();
    let stored = match app.db(move |c| users::password_hash(c, &lookup)).await {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    // The limit counts per stored user when there is one: a name that
    // PostgreSQL's lower() takes for it (`alİce` for `alice`) is the same
    // user, whatever Rust's lower-casing makes of it.
    let key = stored.as_ref().map_or(name.as_str(), |(user, _)| user.as_str());
    let attempt = match app.limiter.reserve(ip, key) {
        Ok(a) => a,
        Err(wait) => {
            let minutes = wait.as_secs().div_ceil(60);
            let mut res = signin_form(
                &app,
                &peer,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                Some(&format!("Too many failed sign-ins. Try again in {minutes} minute(s).")),
            );
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
            return res;
        }
    };
    let dummy = app.dummy_hash.clone();
    let password = f.password;
    let (user, hash) = match stored {
        Some((user, hash)) => (Some(user), hash),
        None => (None, dummy),
    };
    let verified = App::cpu(move || users::verify_password(&password, &hash)).await;
    let Some(user) = user.filter(|_| verified) else {
        // The reserved attempt stays counted: it is a failure.
        app.msgs.warn_with(
            "dashboard: a sign-in failed",
            serde_json::json!({ "client": ip.to_string() }),
        );
        return signin_form(
            &app,
            &peer,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("Wrong user name or password."),
        );
    };
    app.limiter.succeeded(attempt);
    let token = random_hex(32);
    let (hash, csrf, life) = (token_hash(&token), random_hex(32), app.life);
    // A session this browser had before ends: signing in again (as anyone)
    // never leaves an older session cookie valid.
    let previous = app.cookie(&headers, &peer, SESSION_COOKIE).map(|t| token_hash(&t));
    let signed_in = app.db(move |c| {
        if let Some(old) = &previous {
            sessions::delete(c, old)?;
        }
        sessions::create(c, &hash, &user, &csrf, life)
    });
    if let Err(e) = signed_in.await {
        return e.into_response();
    }
    let mut res = Redirect::to(&next).into_response();
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, app.set_cookie(&peer, SESSION_COOKIE, &token, "/", None));
    h.append(header::SET_COOKIE, app.set_cookie(&peer, SIGNIN_COOKIE, "", "/signin", Some(0)));
    res
}

pub async fn signout(
    State(app): State<Arc<App>>,
    session: Session,
    Extension(peer): Extension<Peer>,
    Form(f): Form<FormToken>,
) -> Result<Response, Fail> {
    session.check_form(&f.csrf)?;
    let hash = session.token_hash.clone();
    app.db(move |c| sessions::delete(c, &hash)).await?;
    let mut res = Redirect::to("/signin").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, app.set_cookie(&peer, SESSION_COOKIE, "", "/", Some(0)));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
