//! The dashboard's pages. Each handler reads what it shows in one pooled
//! database call and writes the page with `maud` (values escaped).

use super::auth::{FormToken, Session};
use super::{App, Fail};
use crate::config::AlertSeverity;
use crate::report::html::STYLE;
use crate::store::browse::Cursor;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};
use std::sync::Arc;

mod alerts;
mod incidents;
mod logs;
mod overview;
mod runs;
mod silences;
mod templates;

pub use alerts::{acknowledge, alert, alerts};
pub use incidents::{acknowledge_incident, incident};
pub use logs::logs;
pub use overview::overview;
pub use runs::{rules, runs};
pub use silences::{add_silence, expire_silence, silences_page};
pub use templates::templates;

/// Records per page of the logs page.
pub const LOG_PAGE: usize = 100;

/// Alerts per page of the alerts page.
pub const ALERT_PAGE: usize = 100;

/// Incidents on the alerts page.
pub const INCIDENT_PAGE: usize = 50;

const EXTRA_STYLE: &str = "
nav{display:flex;gap:4px;align-items:center;border-bottom:1px solid #dde2ea;padding:0 0 10px;margin-bottom:16px;flex-wrap:wrap}
nav a{padding:4px 10px;border-radius:4px;color:#1d2430;text-decoration:none}nav a.on{background:#1c7ed6;color:#fff}
nav .brand{font-weight:700;margin-right:12px}nav .who{margin-left:auto;color:#68707d}
nav form{display:inline;margin-left:8px}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:8px 0 12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#68707d}
input,select,button{font:inherit;padding:3px 6px}button{cursor:pointer}
td.msg{max-width:520px;word-break:break-word}tr.hit{background:#fff3bf}
.pager{display:flex;gap:16px;margin:10px 0}.problem{color:#c92a2a;font-weight:600}
.signin{max-width:340px;margin:80px auto}.signin label{display:block;margin:10px 0}.signin input{width:100%;box-sizing:border-box}
pre{background:#f5f7fa;padding:8px;overflow:auto;font-size:12px}
a.on{font-weight:700;text-decoration:none;color:#1d2430}
";

pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        format!("{STYLE}{EXTRA_STYLE}"),
    )
        .into_response()
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · LogTrack" }
            link rel="stylesheet" href="/assets/logtrack.css";
        }
    }
}

const NAV: [(&str, &str); 7] = [
    ("/", "Overview"),
    ("/logs", "Logs"),
    ("/alerts", "Alerts"),
    ("/templates", "Templates"),
    ("/runs", "Runs"),
    ("/rules", "Rules"),
    ("/silences", "Silences"),
];

fn layout(title: &str, s: &Session, active: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(title))
                body {
                    nav {
                        a.brand href="/" { "LogTrack" }
                        @for (href, label) in NAV {
                            a href=(href) class=[(label == active).then_some("on")] { (label) }
                        }
                        span.who {
                            (s.user) " (" (s.role) ")"
                            form method="post" action="/signout" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                    main { h1 { (title) } (body) }
                }
            }
        }
        .into_string(),
    )
}

/// A page that only says something (errors).
pub fn message_page(status: StatusCode, text: &str) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(status.canonical_reason().unwrap_or("Error")))
                body { main {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                    p { (text) }
                    p { a href="/" { "Back to the overview" } }
                } }
            }
        }
        .into_string(),
    )
}

pub fn signin_page(token: &str, next: &str, problem: Option<&str>) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (head("Sign in"))
                body { main.signin {
                    h1 { "LogTrack" }
                    @if let Some(p) = problem { p.problem role="alert" { (p) } }
                    form method="post" action="/signin" {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="next" value=(next);
                        label { "User name" input name="username" autocomplete="username" required autofocus; }
                        label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                        button type="submit" { "Sign in" }
                    }
                } }
            }
        }
        .into_string(),
    )
}

/// An empty form field is no filter.
fn given(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The longest value of a text filter, in characters.
pub const MAX_FILTER: usize = 200;

/// A text filter's value: refused (400, naming the field) when longer than
/// [`MAX_FILTER`] or holding control characters (a NUL cannot even be
/// sent to PostgreSQL).
fn text_filter(name: &str, v: &Option<String>) -> Result<Option<String>, Fail> {
    let Some(s) = given(v) else { return Ok(None) };
    if s.chars().count() > MAX_FILTER {
        return Err(Fail::BadRequest(format!("{name}: at most {MAX_FILTER} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(Fail::BadRequest(format!("{name}: control characters cannot be searched for")));
    }
    Ok(Some(s))
}

/// `?k=v&...` of the non-empty pairs, encoded.
fn query(pairs: &[(&str, Option<String>)]) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let parts: Vec<String> =
        pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v)))).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn sev_badge(s: AlertSeverity) -> Markup {
    html! { span class=(format!("sev {}", s.as_str())) { (s.as_str()) } }
}

/// A time field: RFC 3339, or a duration back from now such as `2h`.
fn time_field(name: &str, v: &Option<String>) -> Result<Option<i64>, Fail> {
    let now = chrono::Utc::now().timestamp();
    text_filter(name, v)?
        .map(|s| {
            crate::config::time_arg(name, &s, now).map_err(|e| Fail::BadRequest(e.to_string()))
        })
        .transpose()
}

fn cursor(v: &Option<String>) -> Result<Option<Cursor>, Fail> {
    given(v).map(|c| c.parse::<Cursor>().map_err(Fail::BadRequest)).transpose()
}

/// A time in seconds that PostgreSQL can hold, else the page position is bad.
fn in_range(secs: i64, what: &str) -> Result<i64, Fail> {
    if (crate::config::MIN_SECS..=crate::config::MAX_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(Fail::BadRequest(format!("{what:?} is not a page position")))
    }
}

/// A page position: `<microseconds>.<id>`.
fn page_position(b: &str) -> Result<(i64, i64), Fail> {
    let (t, id) = b
        .split_once('.')
        .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
        .ok_or_else(|| Fail::BadRequest(format!("{b:?} is not a page position")))?;
    in_range(t.div_euclid(1_000_000), b)?;
    Ok((t, id))
}

/// The acknowledge button for an admin; a note for a viewer.
fn ack_form(s: &Session, action: &str) -> Markup {
    html! {
        @if s.is_admin() {
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(s.csrf);
                button.ack type="submit" { "Acknowledge" }
            }
        } @else {
            " " span.muted { "(an admin can acknowledge it)" }
        }
    }
}

/// An admin's acknowledgement (form token checked): `ack` with the user
/// name, then back to `to`; 404 when `ack` finds nothing.
async fn acknowledge_as_admin(
    app: &Arc<App>,
    s: &Session,
    f: &FormToken,
    to: &str,
    ack: impl FnOnce(&mut postgres::Client, &str) -> crate::error::Result<crate::store::incidents::Ack>
        + Send
        + 'static,
) -> Result<Response, Fail> {
    s.check_form(&f.csrf)?;
    if !s.is_admin() {
        return Err(Fail::Forbidden("Only an admin can acknowledge alerts and incidents.".into()));
    }
    let user = s.user.clone();
    use crate::store::incidents::Ack;
    match app.db(move |c| ack(c, &user)).await? {
        Ack::Done => Ok(Redirect::to(to).into_response()),
        Ack::Resolved => Err(Fail::Conflict(
            "This incident was resolved already: there is nothing to acknowledge.".into(),
        )),
        Ack::Missing => Err(Fail::NotFound),
    }
}

/// For load balancers and monitors: 200 `ok` when the database answers.
/// It has a connection of its own, so it answers while every pooled one
/// is busy with a slow page.
pub async fn health(State(app): State<Arc<App>>) -> Result<&'static str, Fail> {
    app.healthy().await?;
    Ok("ok\n")
}
