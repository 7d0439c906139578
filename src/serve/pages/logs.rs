//! The logs page: stored records by filter and text search, a page at a
//! time (keyset pagination by time, host and position).

use super::{cursor, given, in_range, layout, query, text_filter, time_field, LOG_PAGE};
use crate::parse::Severity;
use crate::serve::auth::Session;
use crate::serve::{App, Fail};
use crate::store::browse::{self, Cursor, LogFilter, LogRow, Page};
use axum::extract::{Query, State};
use axum::response::Html;
use maud::{html, Markup};
use std::sync::Arc;

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

pub(super) fn log_table(rows: &[LogRow], hit: Option<&Cursor>) -> Markup {
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
