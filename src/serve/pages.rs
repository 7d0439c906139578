//! The dashboard's pages. Each handler reads what it shows in one pooled
//! database call and writes the page with `maud` (values escaped).

use super::auth::{FormToken, Session};
use super::{App, Fail};
use crate::config::AlertSeverity;
use crate::parse::Severity;
use crate::report::html::{severity_chart, volume_chart, STYLE};
use crate::store::alerts::{self, AlertFilter, AlertRow};
use crate::store::browse::{self, Cursor, LogFilter, LogRow, Page};
use crate::store::incidents::{self, IncidentFilter, IncidentRow};
use crate::store::{overview, runs, templates};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, DOCTYPE};
use std::sync::Arc;

/// Records per page of the logs page.
pub const LOG_PAGE: usize = 100;
/// Alerts per page of the alerts page.
pub const ALERT_PAGE: usize = 100;
/// Incidents on the alerts page.
pub const INCIDENT_PAGE: usize = 50;
/// Evidence lines of an alert shown with the records around them.
const EVIDENCE_SHOWN: usize = 10;

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

const NAV: [(&str, &str); 6] = [
    ("/", "Overview"),
    ("/logs", "Logs"),
    ("/alerts", "Alerts"),
    ("/templates", "Templates"),
    ("/runs", "Runs"),
    ("/rules", "Rules"),
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

#[derive(serde::Deserialize)]
pub struct Span {
    hours: Option<i64>,
}

pub async fn overview(
    State(app): State<Arc<App>>,
    s: Session,
    Query(q): Query<Span>,
) -> Result<Html<String>, Fail> {
    let hours = q.hours.unwrap_or(24).clamp(1, 24 * 93);
    let data = app
        .db(move |c| {
            let recent = runs::history(c, None, 5)?;
            let Some((_, last)) = runs::data_range(c)? else { return Ok((None, recent)) };
            let since = last - hours * 3600 + 1;
            let o = overview::volume_counted(c, since, last)?;
            let shown = alerts::stored(c, None, since, last)?;
            let per_rule = alerts::per_rule(c, since, last)?;
            Ok((Some((since, last, o, shown, per_rule)), recent))
        })
        .await?;
    let (range, recent) = data;
    let body = html! {
        p {
            "Show the last "
            @for h in [1, 6, 24, 168, 720] {
                a href=(format!("/?hours={h}")) class=[(h == hours).then_some("on")] {
                    @if h < 24 { (h) " h" } @else { (h / 24) " d" }
                }
                " "
            }
            "of stored records."
        }
        @match &range {
            None => p.muted { "No records are stored yet: run a job with a database." },
            Some((since, last, o, shown, per_rule)) => {
                p.muted {
                    (crate::parse::Timestamp::from_secs(*since).to_rfc3339()) " .. "
                    (crate::parse::Timestamp::from_secs(*last).to_rfc3339()) " (the newest stored record)"
                }
                h2 { "Record volume per service" }
                (volume_chart(o, shown, false))
                h2 { "Severities over time" }
                (severity_chart(o))
                h2 { "Alerts per rule" }
                @if per_rule.is_empty() { p.muted { "No alerts in this span." } } @else {
                    table {
                        tr { th { "Job" } th { "Rule" } th.n { "Alerts" } th.n { "Not acknowledged" } th { "Newest window" } }
                        @for r in per_rule {
                            tr {
                                td { (r.job) }
                                td { a href=(format!("/alerts{}", query(&[("job", Some(r.job.clone())), ("rule", Some(r.rule_id.clone()))]))) { code { (r.rule_id) } } }
                                td.n { (r.alerts) } td.n { (r.open) } td { (r.newest) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Latest runs" }
        (runs_table(&recent.into_iter().rev().collect::<Vec<_>>()))
    };
    Ok(layout("Overview", &s, "Overview", body))
}

#[derive(serde::Deserialize, Default)]
pub struct LogQuery {
    service: Option<String>,
    severity: Option<String>,
    user: Option<String>,
    client_ip: Option<String>,
    since: Option<String>,
    until: Option<String>,
    q: Option<String>,
    before: Option<String>,
    after: Option<String>,
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

pub async fn logs(
    State(app): State<Arc<App>>,
    s: Session,
    Query(q): Query<LogQuery>,
) -> Result<Html<String>, Fail> {
    let severity = given(&q.severity)
        .map(|l| l.parse::<Severity>().map_err(|e| Fail::BadRequest(format!("severity: {e}"))))
        .transpose()?;
    let filter = LogFilter {
        service: text_filter("service", &q.service)?,
        severity,
        user: text_filter("user", &q.user)?,
        client_ip: text_filter("client_ip", &q.client_ip)?,
        since: time_field("since", &q.since)?,
        until: time_field("until", &q.until)?,
        text: text_filter("q", &q.q)?,
    };
    for c in [cursor(&q.before)?, cursor(&q.after)?].into_iter().flatten() {
        in_range(c.micros.div_euclid(1_000_000), &c.to_string())?;
    }
    let page = match (cursor(&q.before)?, cursor(&q.after)?) {
        (Some(c), _) => Page::Before(c),
        (None, Some(c)) => Page::After(c),
        (None, None) => Page::First,
    };
    let f = filter.clone();
    let (services, found) =
        app.db(move |c| Ok((browse::services(c)?, browse::logs(c, &f, page, LOG_PAGE)?))).await?;
    let keep = |extra: (&str, Option<String>)| {
        query(&[
            ("service", given(&q.service)),
            ("severity", given(&q.severity)),
            ("user", given(&q.user)),
            ("client_ip", given(&q.client_ip)),
            ("since", given(&q.since)),
            ("until", given(&q.until)),
            ("q", given(&q.q)),
            extra,
        ])
    };
    let body = html! {
        form.filters method="get" action="/logs" {
            label { "Service" select name="service" {
                option value="" { "any" }
                @for sv in &services { option value=(sv) selected[filter.service.as_deref() == Some(sv.as_str())] { (sv) } }
            } }
            label { "Severity at least" select name="severity" {
                option value="" { "any" }
                @for l in Severity::ALL { option value=(l.as_str()) selected[filter.severity == Some(l)] { (l.as_str()) } }
            } }
            label { "User" input name="user" value=[given(&q.user)] size="12"; }
            label { "Client IP" input name="client_ip" value=[given(&q.client_ip)] size="15"; }
            label { "Since" input name="since" value=[given(&q.since)] placeholder="2h or RFC 3339" size="20"; }
            label { "Until" input name="until" value=[given(&q.until)] placeholder="RFC 3339" size="20"; }
            label { "Message contains" input name="q" value=[given(&q.q)] size="18"; }
            button type="submit" { "Filter" }
            a href="/logs" { "Clear" }
        }
        (pager(&found, &keep))
        @if found.rows.is_empty() { p.muted { "No records match." } } @else {
            (log_table(&found.rows, None))
        }
        (pager(&found, &keep))
    };
    Ok(layout("Logs", &s, "Logs", body))
}

/// The address of this page's filters plus one more parameter.
type WithFilters<'a> = dyn Fn((&str, Option<String>)) -> String + 'a;

fn pager(p: &browse::LogPage, keep: &WithFilters<'_>) -> Markup {
    html! {
        div.pager {
            @if p.newer {
                a href=(format!("/logs{}", keep(("", None)))) { "Newest" }
                @if let Some(first) = p.rows.first() {
                    a.newer href=(format!("/logs{}", keep(("after", Some(first.cursor.to_string()))))) { "← Newer" }
                }
            }
            @if p.older { @if let Some(last) = p.rows.last() {
                a.older href=(format!("/logs{}", keep(("before", Some(last.cursor.to_string()))))) { "Older →" }
            } }
        }
    }
}

fn log_table(rows: &[LogRow], hit: Option<&Cursor>) -> Markup {
    html! {
        table.logs {
            tr { th { "Time (UTC)" } th { "Service" } th { "Severity" } th { "Host" } th { "User" } th { "Client" } th { "Message" } th { "Source" } }
            @for r in rows {
                tr class=[(Some(&r.cursor) == hit).then_some("hit")] {
                    td { code { (r.ts) } }
                    td { (r.service) }
                    td { (r.severity.as_deref().unwrap_or("")) }
                    td { (r.host.as_deref().unwrap_or("")) }
                    td { (r.user.as_deref().unwrap_or("")) }
                    td { (r.client_ip.as_deref().unwrap_or("")) }
                    td.msg { (r.message) }
                    td.src { code { (r.path) ":" (r.line) @if let Some(i) = r.index { " #" (i) } } }
                }
            }
        }
    }
}

#[derive(serde::Deserialize, Default)]
pub struct AlertQuery {
    job: Option<String>,
    rule: Option<String>,
    severity: Option<String>,
    /// `open`, `acknowledged`, or anything else for all.
    state: Option<String>,
    before: Option<String>,
    /// The incidents' page position (their own pages).
    ibefore: Option<String>,
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

pub async fn alerts(
    State(app): State<Arc<App>>,
    s: Session,
    Query(q): Query<AlertQuery>,
) -> Result<Html<String>, Fail> {
    let severity = given(&q.severity)
        .map(|l| l.parse::<AlertSeverity>().map_err(|e| Fail::BadRequest(format!("severity: {e}"))))
        .transpose()?;
    let state = given(&q.state);
    let filter = AlertFilter {
        job: text_filter("job", &q.job)?,
        rule: text_filter("rule", &q.rule)?,
        severity,
        acknowledged: match state.as_deref() {
            Some("open") => Some(false),
            Some("acknowledged") => Some(true),
            _ => None,
        },
        since: None,
    };
    let before = given(&q.before).map(|b| page_position(&b)).transpose()?;
    let ibefore = given(&q.ibefore).map(|b| page_position(&b)).transpose()?;
    let f = filter.clone();
    let inc_filter = IncidentFilter {
        job: filter.job.clone(),
        rule: filter.rule.clone(),
        severity,
        state: state.clone().filter(|s| ["open", "acknowledged", "resolved"].contains(&s.as_str())),
    };
    // The first page shows both; an older page of one shows only it.
    let (show_incidents, show_history) = (before.is_none(), ibefore.is_none());
    let ((rows, more), (incident_rows, more_incidents)) = app
        .db(move |c| {
            let listed = if show_history {
                alerts::list(c, &f, before, ALERT_PAGE)?
            } else {
                (Vec::new(), false)
            };
            let inc = if show_incidents {
                incidents::list(c, &inc_filter, ibefore, INCIDENT_PAGE)?
            } else {
                (Vec::new(), false)
            };
            Ok((listed, inc))
        })
        .await?;
    let keep = |extra: (&str, Option<String>)| {
        query(&[
            ("job", given(&q.job)),
            ("rule", given(&q.rule)),
            ("severity", given(&q.severity)),
            ("state", state.clone()),
            extra,
        ])
    };
    let body = html! {
        form.filters method="get" action="/alerts" {
            label { "Job" input name="job" value=[given(&q.job)] size="14"; }
            label { "Rule" input name="rule" value=[given(&q.rule)] size="16"; }
            label { "Severity at least" select name="severity" {
                option value="" { "any" }
                @for l in AlertSeverity::ALL { option value=(l.as_str()) selected[severity == Some(l)] { (l.as_str()) } }
            } }
            label { "State" select name="state" {
                option value="" { "all" }
                option value="open" selected[state.as_deref() == Some("open")] { "not acknowledged" }
                option value="acknowledged" selected[state.as_deref() == Some("acknowledged")] { "acknowledged" }
                option value="resolved" selected[state.as_deref() == Some("resolved")] { "resolved (incidents)" }
            } }
            button type="submit" { "Filter" }
            a href="/alerts" { "Clear" }
        }
        @if show_incidents {
            h2 { "Incidents" }
            (incidents_table(&incident_rows))
            @if more_incidents { @if let Some(last) = incident_rows.last() {
                div.pager { a.older-incidents href=(format!("/alerts{}", keep(("ibefore", Some(format!("{}.{}", last.cursor.0, last.cursor.1)))))) { "Older incidents →" } }
            } }
        }
        @if show_history { h2 { "History: every alert" } }
        @if !show_history {} @else if rows.is_empty() { p.muted { "No alerts match." } } @else {
            table.alerts {
                tr { th { "#" } th { "Window (UTC)" } th { "Job" } th { "Rule" } th { "Severity" } th { "Group" } th.n { "Count" } th { "Message" } th { "State" } }
                @for r in &rows {
                    tr {
                        td { a.alert href=(format!("/alerts/{}", r.id)) { (r.id) } }
                        td { (r.alert.window_start.to_rfc3339()) br; (r.alert.window_end.to_rfc3339()) }
                        td { (r.job) }
                        td { code { (r.alert.rule_id) } }
                        td { (sev_badge(r.alert.severity)) }
                        td { @for (k, v) in &r.alert.group { div { span.muted { (k) "=" } (v) } } }
                        td.n { (r.alert.count) }
                        td.msg { a href=(format!("/alerts/{}", r.id)) { (r.alert.message) } }
                        td { (ack_state(r)) }
                    }
                }
            }
        }
        @if more { @if let Some(last) = rows.last() {
            div.pager { a.older href=(format!("/alerts{}", keep(("before", Some(format!("{}.{}", last.cursor.0, last.cursor.1)))))) { "Older →" } }
        } }
    };
    Ok(layout("Alerts", &s, "Alerts", body))
}

fn incidents_table(rows: &[IncidentRow]) -> Markup {
    if rows.is_empty() {
        return html! { p.muted { "No incidents match (runs with a database make them)." } };
    }
    html! {
        table.incidents {
            tr { th { "#" } th { "State" } th { "Job" } th { "Rule" } th { "Severity" } th { "Group" } th { "First .. last (UTC)" } th.n { "Alerts" } th.n { "Runs" } th { "Message" } }
            @for r in rows {
                tr {
                    td { a.incident href=(format!("/incidents/{}", r.id)) { (r.id) } }
                    td { (incident_state(r)) }
                    td { (r.job) }
                    td { code { (r.rule_id) } }
                    td { (sev_badge(r.severity)) }
                    td { @for (k, v) in &r.group { div { span.muted { (k) "=" } (v) } } }
                    td { (r.first) br; (r.last) }
                    td.n { (r.occurrences) }
                    td.n { (r.runs) }
                    td.msg { a href=(format!("/incidents/{}", r.id)) { (r.message) } }
                }
            }
        }
    }
}

fn incident_state(r: &IncidentRow) -> Markup {
    html! {
        @match (r.state.as_str(), &r.acknowledged) {
            ("resolved", _) => span.ok { "resolved" },
            (_, Some((by, at))) => span.muted { "acknowledged by " (by) br; (at) },
            _ => span.bad { "open" },
        }
    }
}

pub async fn incident(
    State(app): State<Arc<App>>,
    s: Session,
    Path(id): Path<i64>,
) -> Result<Html<String>, Fail> {
    let found = app.db(move |c| incidents::get(c, id, ALERT_PAGE)).await?;
    let Some(incidents::IncidentPage { incident: r, alerts: history, sent }) = found else {
        return Err(Fail::NotFound);
    };
    let body = html! {
        table {
            tr { th { "Job" } td { (r.job) } }
            tr { th { "Rule" } td { code { (r.rule_id) } " " span.muted { (r.rule_type) } } }
            tr { th { "Severity" } td { (sev_badge(r.severity)) } }
            tr { th { "Group" } td { @for (k, v) in &r.group { div { span.muted { (k) "=" } (v) } } } }
            tr { th { "First .. last (UTC)" } td { (r.first) " .. " (r.last) } }
            tr { th { "Alerts, runs" } td { (r.occurrences) ", " (r.runs) } }
            tr { th { "Message" } td.message { (r.message) } }
            tr { th { "State" } td {
                (incident_state(&r))
                @if r.state == "open" { (ack_form(&s, &format!("/incidents/{}/ack", r.id))) }
            } }
        }
        h2 { "Alerts (" (history.len()) ")" }
        table.alerts {
            tr { th { "#" } th { "Window (UTC)" } th.n { "Count" } th { "Message" } }
            @for a in &history {
                tr {
                    td { a.alert href=(format!("/alerts/{}", a.id)) { (a.id) } }
                    td { (a.alert.window_start.to_rfc3339()) br; (a.alert.window_end.to_rfc3339()) }
                    td.n { (a.alert.count) }
                    td.msg { (a.alert.message) }
                }
            }
        }
        h2 { "Notifications (" (sent.len()) ")" }
        @if sent.is_empty() { p.muted { "None: no receiver wanted it, or the job has no [[notify]]." } } @else {
            table {
                tr { th { "Receiver" } th { "Event" } th { "Made (UTC)" } th { "State" } th.n { "Attempts" } th { "Last error" } }
                @for n in &sent {
                    tr {
                        td { (n.receiver) } td { (n.event) } td { (n.created) }
                        td class=(if n.state == "sent" { "ok" } else { "bad" }) { (n.state) }
                        td.n { (n.attempts) } td { (n.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    Ok(layout(&format!("Incident {}", r.id), &s, "Alerts", body))
}

pub async fn acknowledge_incident(
    State(app): State<Arc<App>>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<FormToken>,
) -> Result<Response, Fail> {
    let to = format!("/incidents/{id}");
    acknowledge_as_admin(&app, &s, &f, &to, move |c, user| incidents::acknowledge(c, id, user))
        .await
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
    ack: impl FnOnce(&mut postgres::Client, &str) -> crate::error::Result<bool> + Send + 'static,
) -> Result<Response, Fail> {
    s.check_form(&f.csrf)?;
    if !s.is_admin() {
        return Err(Fail::Forbidden("Only an admin can acknowledge alerts and incidents.".into()));
    }
    let user = s.user.clone();
    if !app.db(move |c| ack(c, &user)).await? {
        return Err(Fail::NotFound);
    }
    Ok(Redirect::to(to).into_response())
}

fn ack_state(r: &AlertRow) -> Markup {
    html! {
        @match &r.acknowledged {
            Some((by, at)) => span.ok { "acknowledged by " (by) br; span.muted { (at) } },
            None => span.bad { "open" },
        }
    }
}

/// An evidence line and the stored records around it.
struct Around {
    path: String,
    line: u64,
    index: Option<u64>,
    text: Option<String>,
    before: Vec<LogRow>,
    row: Option<LogRow>,
    after: Vec<LogRow>,
}

pub async fn alert(
    State(app): State<Arc<App>>,
    s: Session,
    Path(id): Path<i64>,
) -> Result<Html<String>, Fail> {
    let found = app
        .db(move |c| {
            let Some(a) = alerts::get(c, id)? else { return Ok(None) };
            let near = (a.alert.window_start.secs, a.alert.window_end.secs);
            let mut shown = Vec::new();
            for e in a.alert.evidence.iter().take(EVIDENCE_SHOWN) {
                let (before, row, after) =
                    browse::around(c, &e.path, e.line as i64, e.index.map(|i| i as i64), near, 3)?;
                shown.push(Around {
                    path: e.path.to_string(),
                    line: e.line,
                    index: e.index,
                    text: e.text.clone(),
                    before,
                    row,
                    after,
                });
            }
            Ok(Some((a, shown)))
        })
        .await?;
    let Some((r, shown)) = found else { return Err(Fail::NotFound) };
    let a = &r.alert;
    let body = html! {
        table {
            tr { th { "Job" } td { (r.job) } }
            tr { th { "Rule" } td { code { (a.rule_id) } " " span.muted { (a.rule_type) } } }
            tr { th { "Severity" } td { (sev_badge(a.severity)) } }
            tr { th { "Window (UTC)" } td { (a.window_start.to_rfc3339()) " .. " (a.window_end.to_rfc3339()) } }
            tr { th { "Group" } td { @for (k, v) in &a.group { div { span.muted { (k) "=" } (v) } } } }
            tr { th { "Count" } td { (a.count) } }
            tr { th { "Message" } td.message { (a.message) } }
            @if let Some(i) = r.incident {
                tr { th { "Incident" } td { a href=(format!("/incidents/{i}")) { "incident " (i) } } }
            }
            tr { th { "State" } td {
                (ack_state(&r))
                @if r.acknowledged.is_none() { (ack_form(&s, &format!("/alerts/{}/ack", r.id))) }
            } }
        }
        h2 { "Evidence (" (a.evidence.len()) " line(s))" }
        @if a.evidence.len() > EVIDENCE_SHOWN {
            p.muted { "The first " (EVIDENCE_SHOWN) " with the records around them; the others:" }
            ul { @for e in a.evidence.iter().skip(EVIDENCE_SHOWN) {
                li { code { (e.path) ":" (e.line) } @if let Some(t) = &e.text { " " code.muted { (t) } } }
            } }
        }
        @for e in &shown {
            div.evidence {
                h3 { code { (e.path) ":" (e.line) @if let Some(i) = e.index { " #" (i) } } }
                @if let Some(t) = &e.text { p { "As read: " code.line { (t) } } }
                @match &e.row {
                    None => p.muted { "This record is no longer stored (pruned, or loaded into another database)." },
                    Some(row) => {
                        @let rows: Vec<LogRow> = e.before.iter().chain(std::iter::once(row)).chain(e.after.iter()).cloned().collect();
                        (log_table(&rows, Some(&row.cursor)))
                    }
                }
            }
        }
    };
    Ok(layout(&format!("Alert {}", r.id), &s, "Alerts", body))
}

pub async fn acknowledge(
    State(app): State<Arc<App>>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<FormToken>,
) -> Result<Response, Fail> {
    let to = format!("/alerts/{id}");
    acknowledge_as_admin(&app, &s, &f, &to, move |c, user| alerts::acknowledge(c, id, user)).await
}

fn runs_table(rows: &[runs::RunRow]) -> Markup {
    if rows.is_empty() {
        return html! { p.muted { "No runs recorded." } };
    }
    html! {
        table.runs {
            tr { th.n { "Run" } th { "Job" } th { "Started (UTC)" } th { "Finished (UTC)" } th { "Status" } th.n { "Records" } th.n { "Rejected" } th.n { "Alerts" } th.n { "Seconds" } th { "Host" } }
            @for r in rows {
                tr {
                    td.n { (r.id) } td { (r.job) } td { (r.started) } td { (r.finished) }
                    td class=(if r.status == "ok" { "ok" } else if r.status == "failed" { "bad" } else { "muted" }) { (r.status) }
                    td.n { (r.records) } td.n { (r.rejected) } td.n { (r.alerts) }
                    td.n { @match r.duration_ms { Some(ms) => (format!("{:.1}", ms as f64 / 1000.0)), None => "-" } }
                    td { (r.host) }
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct RunQuery {
    job: Option<String>,
}

pub async fn runs(
    State(app): State<Arc<App>>,
    s: Session,
    Query(q): Query<RunQuery>,
) -> Result<Html<String>, Fail> {
    let job = text_filter("job", &q.job)?;
    let j = job.clone();
    let rows = app.db(move |c| runs::history(c, j.as_deref(), 200)).await?;
    let body = html! {
        form.filters method="get" action="/runs" {
            label { "Job" input name="job" value=[job] size="16"; }
            button type="submit" { "Filter" }
        }
        p.muted { "The newest 200, newest first." }
        (runs_table(&rows.into_iter().rev().collect::<Vec<_>>()))
    };
    Ok(layout("Runs", &s, "Runs", body))
}

pub async fn rules(State(app): State<Arc<App>>, s: Session) -> Result<Html<String>, Fail> {
    let rows = app.db(alerts::rules).await?;
    let body = html! {
        @if rows.is_empty() { p.muted { "No rules recorded: a job's rules are stored when it runs with a database." } } @else {
            p.muted { "Each job's rules as it last ran." }
            table {
                tr { th { "Job" } th { "Rule" } th { "Type" } th { "Definition" } }
                @for r in &rows {
                    tr {
                        td { (r.job) }
                        td { a href=(format!("/alerts{}", query(&[("job", Some(r.job.clone())), ("rule", Some(r.rule_id.clone()))]))) { code { (r.rule_id) } } }
                        td { (r.rule_type) }
                        td { pre { (r.definition) } }
                    }
                }
            }
        }
    };
    Ok(layout("Rules", &s, "Rules", body))
}

#[derive(serde::Deserialize)]
pub struct TemplateQuery {
    service: Option<String>,
    sort: Option<String>,
}

/// Templates listed per page.
const TEMPLATE_PAGE: i64 = 500;

/// The longest constant part of a template: what its lines contain.
fn constant_part(template: &str) -> Option<String> {
    template
        .split(crate::template::mask::WILD)
        .map(str::trim)
        .max_by_key(|p| p.len())
        .filter(|p| !p.is_empty())
        .map(|p| p.chars().take(MAX_FILTER).collect())
}

pub async fn templates(
    State(app): State<Arc<App>>,
    s: Session,
    Query(q): Query<TemplateQuery>,
) -> Result<Html<String>, Fail> {
    let service = text_filter("service", &q.service)?;
    let newest = match given(&q.sort).as_deref() {
        None | Some("count") => false,
        Some("first_seen") => true,
        Some(other) => {
            return Err(Fail::BadRequest(format!("sort: {other:?} (expected count or first_seen)")))
        }
    };
    let svc = service.clone();
    let (services, rows) = app
        .db(move |c| {
            Ok((
                templates::services(c)?,
                templates::list(c, svc.as_deref(), newest, TEMPLATE_PAGE)?,
            ))
        })
        .await?;
    let body = html! {
        form.filters method="get" action="/templates" {
            label { "Service" select name="service" {
                option value="" { "any" }
                @for sv in &services { option value=(sv) selected[service.as_deref() == Some(sv.as_str())] { (sv) } }
            } }
            label { "Sort by" select name="sort" {
                option value="count" selected[!newest] { "count" }
                option value="first_seen" selected[newest] { "first seen (newest first)" }
            } }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() { p.muted { "No templates: they are stored as logs are loaded." } } @else {
            p.muted { "At most " (TEMPLATE_PAGE) ". A template's lines: the logs of its service since it was first seen that contain its longest constant part." }
            table.templates {
                tr { th { "Service" } th { "Template" } th.n { "Records" } th { "First seen (UTC)" } th { "Last seen (UTC)" } th { "Example" } }
                @for t in &rows {
                    tr {
                        td { (t.service) }
                        td {
                            a href=(format!("/logs{}", query(&[("service", Some(t.service.clone())), ("since", Some(t.first_seen.clone())), ("q", constant_part(&t.template))]))) { code { (t.template) } }
                            br; span.muted { (t.template_id) }
                        }
                        td.n { (t.count) }
                        td { (t.first_seen) }
                        td { (t.last_seen) }
                        td { @if let Some((path, line)) = &t.example { code { (path) ":" (line) } } }
                    }
                }
            }
        }
    };
    Ok(layout("Templates", &s, "Templates", body))
}

/// For load balancers and monitors: 200 `ok` when the database answers.
/// It has a connection of its own, so it answers while every pooled one
/// is busy with a slow page.
pub async fn health(State(app): State<Arc<App>>) -> Result<&'static str, Fail> {
    app.healthy().await?;
    Ok("ok\n")
}
