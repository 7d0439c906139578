//! Incidents: the table the alerts page shows, one incident with its
//! alerts and notifications, and acknowledging it.

use super::{ack_form, acknowledge_as_admin, layout, sev_badge, ALERT_PAGE};
use crate::serve::auth::{FormToken, Session};
use crate::serve::{App, Fail};
use crate::store::incidents::{self, IncidentRow};
use crate::store::outbox::OutboxRow;
use axum::extract::{Path, State};
use axum::response::{Html, Response};
use axum::Form;
use maud::{html, Markup};
use std::sync::Arc;

pub(super) fn incidents_table(rows: &[IncidentRow]) -> Markup {
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
        @if let Some(by) = r.silenced_by {
            br; span.muted { "silenced by " a href=(format!("/silences?all=1#silence-{by}")) { "silence " (by) } }
        }
        @if let Some(by) = r.inhibited_by {
            br; span.muted { "inhibited by " a href=(format!("/incidents/{by}")) { "incident " (by) } }
        }
        @if r.held && r.state != "resolved" {
            br; span.muted { "not notified yet" }
        }
    }
}

pub async fn incident(
    State(app): State<Arc<App>>,
    s: Session,
    Path(id): Path<i64>,
) -> Result<Html<String>, Fail> {
    let found = app.db(move |c| incidents::get(c, id, ALERT_PAGE)).await?;
    let Some(incidents::IncidentPage { incident: r, alerts: history, sent, description, runbook }) =
        found
    else {
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
            @if let Some(d) = &description { tr { th { "About" } td { (d) } } }
            @if let Some(rb) = runbook.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                tr { th { "Runbook" } td { a href=(rb) rel="noopener noreferrer" { (rb) } } }
            }
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
            h3 { "Delivery by receiver" }
            table.delivery {
                tr { th { "Receiver" } th { "Latest" } th { "State" } }
                @for (receiver, n) in latest_by_receiver(&sent) {
                    tr {
                        td { (receiver) } td { (n.event) " #" (n.id) }
                        td class=(state_class(n.state)) { (delivery_state(n)) }
                    }
                }
            }
            table {
                tr { th { "#" } th { "Receiver" } th { "Event" } th { "Made (UTC)" } th { "State" } th.n { "Attempts" } th { "Last error" } }
                @for n in &sent {
                    tr {
                        td { (n.id) } td { (n.receiver) } td { (n.event) } td { (n.created) }
                        td class=(state_class(n.state)) { (delivery_state(n)) }
                        td.n { (n.attempts) } td { (n.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    Ok(layout(&format!("Incident {}", r.id), &s, "Alerts", body))
}

/// Each receiver's latest notification of the incident.
fn latest_by_receiver(rows: &[OutboxRow]) -> Vec<(&str, &OutboxRow)> {
    let mut out: Vec<(&str, &OutboxRow)> = Vec::new();
    for n in rows {
        match out.iter_mut().find(|(r, _)| *r == n.receiver) {
            Some(slot) => slot.1 = n,
            None => out.push((&n.receiver, n)),
        }
    }
    out
}

fn state_class(state: &str) -> &'static str {
    match state {
        "sent" => "ok",
        "pending" => "muted",
        _ => "bad",
    }
}

/// A notification's state in words: "pending, next try 2026-…", "refused
/// (parked: logtrack notify --requeue 12)", "sent to a@x only".
fn delivery_state(n: &OutboxRow) -> String {
    let mut s = match (n.state, &n.next_attempt) {
        ("pending", Some(t)) => format!("pending, next try {t}"),
        ("refused", _) => format!("refused (parked: logtrack notify --requeue {})", n.id),
        (st, _) => st.to_string(),
    };
    if let Some(to) = &n.recipients {
        s.push_str(&format!(" (to {})", to.join(", ")));
    }
    s
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
