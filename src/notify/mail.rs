//! The e-mail of a run's notifications to one receiver (or of one
//! notification): its subject and its text and HTML bodies.

use super::body::{summary, texts, worst_first};
use super::render::Escape;
use super::Notification;
use crate::config::notify::Receiver;
use crate::detect::Alert;

/// The subject: `[LogTrack] web-audit: 2 new, 1 resolved (critical)`, or a
/// lone notification's title when the receiver has a `title` template.
/// One line (the SMTP writer folds it into encoded words).
pub fn subject(r: &Receiver, batch: &[Notification]) -> String {
    let own = match batch {
        [n] => texts(r, n, Escape::Plain).0,
        _ => None,
    };
    let s = own.unwrap_or_else(|| format!("[LogTrack] {}", summary(batch)));
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The e-mail of a batch: plain text, and HTML with the report's alert
/// table. Each notification's text is the receiver's `text` template when
/// it has one.
pub fn mail_bodies(r: &Receiver, batch: &[Notification]) -> (String, String) {
    use maud::{html, PreEscaped, DOCTYPE};
    let subject = subject(r, batch);
    let ordered = worst_first(batch);
    let own: Vec<Option<String>> = ordered.iter().map(|n| texts(r, n, Escape::Plain).1).collect();
    let mut text = format!("{subject}\n\n");
    for (n, own) in ordered.iter().zip(&own) {
        text.push_str(own.as_deref().unwrap_or(&n.text()));
        text.push('\n');
        if let Some(d) = &n.description {
            text.push_str(&format!("  {d}\n"));
        }
        if let Some(rb) = &n.runbook {
            text.push_str(&format!("  runbook: {rb}\n"));
        }
        text.push('\n');
    }
    let alerts: Vec<Alert> = ordered.iter().map(|n| n.alert()).collect();
    let html = html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; style { (PreEscaped(crate::report::html::STYLE)) } }
            body {
                h1 { (subject) }
                @if own.iter().any(Option::is_some) {
                    @for t in own.iter().flatten() { pre { (t) } }
                }
                table {
                    tr { th { "Event" } th { "Incident" } th { "State" } th { "First .. last" } th.n { "Alerts" } th { "About" } th { "Links" } }
                    @for n in &ordered {
                        tr {
                            td { (n.event) }
                            td { (n.incident) }
                            td { (n.state) }
                            td { (n.first_seen) " .. " (n.last_seen) }
                            td.n { (n.occurrences) }
                            td { (n.description.as_deref().unwrap_or("")) }
                            td {
                                @if let Some(d) = &n.dashboard { a href=(d) { "dashboard" } " " }
                                @if let Some(rb) = &n.runbook { a href=(rb) { "runbook" } " " }
                                @for r in &n.report { code { (r) } " " }
                            }
                        }
                    }
                }
                h2 { "Alerts" }
                (crate::report::html::alerts_table(&alerts))
            }
        }
    };
    (text, html.into_string())
}
