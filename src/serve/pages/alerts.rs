//! The alerts page (incidents first, then alerts by filter), one alert
//! with the records around its evidence, and acknowledging it.

use super::incidents::incidents_table;
use super::logs::log_table;
use super::{
    ack_form, acknowledge_as_admin, given, layout, page_position, query, sev_badge, text_filter,
    ALERT_PAGE, INCIDENT_PAGE,
};
use crate::config::AlertSeverity;
use crate::serve::auth::{FormToken, Session};
use crate::serve::{App, Fail};
use crate::store::alerts::{self, AlertFilter, AlertRow};
use crate::store::browse::{self, LogRow};
use crate::store::incidents::{self, IncidentFilter};
use axum::extract::{Path, Query, State};
use axum::response::{Html, Response};
use axum::Form;
use maud::{html, Markup};
use std::sync::Arc;

/// Evidence lines of an alert shown with the records around them.
const EVIDENCE_SHOWN: usize = 10;

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
    acknowledge_as_admin(&app, &s, &f, &to, move |c, user| {
        incidents::acknowledge_alert(c, id, user)
    })
    .await
}
