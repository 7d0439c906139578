//! What each kind of receiver is sent: LogTrack's JSON, a Slack message, a
//! Teams card, a PagerDuty or Opsgenie event; for one notification, or for
//! a run's notifications grouped into one message.
//!
//! Text from logs is data: in Slack it goes into `plain_text` objects (or,
//! in a receiver's own template, is escaped for mrkdwn), in Teams into
//! TextRuns, which are never read as Markdown; the services' size limits
//! are kept by cutting with "… N more characters".

use super::render::{render, Escape};
pub use super::text::{cut, escape_markdown, slack_text};
use super::{Notification, SCHEMA_VERSION};
use crate::config::notify::{Receiver, WebhookFormat};
use crate::config::AlertSeverity;
use serde_json::{json, Value};

use super::text::SLACK_SECTION;

/// Slack's limit of the top-level `text` (what push notifications show).
const SLACK_TEXT: usize = 4_000;
/// Teams: the headline's and an evidence line's characters (a card must
/// stay under about 28 KB).
const TEAMS_TEXT: usize = 2_000;
const TEAMS_EVIDENCE: usize = 1_000;
const TEAMS_ITEM: usize = 800;
/// The notifications a grouped chat message lists; the rest are counted
/// ("and N more").
pub const GROUP_LISTED: usize = 20;

/// A receiver's title and text for `n`: its templates rendered (values
/// escaped by `escape`), or `None` where it has none. A template that fails
/// falls back to the built-in text.
pub fn texts(r: &Receiver, n: &Notification, escape: Escape) -> (Option<String>, Option<String>) {
    let one = |t: &Option<String>| t.as_deref().and_then(|t| render(t, n, escape).ok());
    (one(&r.title), one(&r.text))
}

/// The JSON a webhook or a program is sent: one notification (with the
/// receiver's `title` and `text` when it has templates), or a run's
/// notifications together.
pub fn json_body(r: &Receiver, batch: &[Notification], batch_id: &str) -> Value {
    let one = |n: &Notification| {
        let mut v = serde_json::to_value(n).expect("a notification serializes");
        let (title, text) = texts(r, n, Escape::Plain);
        if let Some(o) = v.as_object_mut() {
            for (k, t) in [("title", title), ("text", text)] {
                if let Some(t) = t {
                    o.insert(k.into(), t.into());
                }
            }
        }
        v
    };
    match batch {
        [n] => one(n),
        _ => json!({
            "schema_version": SCHEMA_VERSION,
            "id": batch_id,
            "job": batch.first().map_or("", |n| n.job.as_str()),
            "summary": summary(batch),
            "notifications": batch.iter().map(one).collect::<Vec<_>>(),
        }),
    }
}

/// The body a chat webhook (Slack, Teams) or a JSON webhook is sent.
pub fn webhook_body(
    r: &Receiver,
    format: WebhookFormat,
    batch: &[Notification],
    batch_id: &str,
) -> Value {
    match (format, batch) {
        (WebhookFormat::Json, _) => json_body(r, batch, batch_id),
        (WebhookFormat::Slack, [n]) => slack_one(r, n),
        (WebhookFormat::Slack, _) => slack_many(r, batch),
        (WebhookFormat::Teams, [n]) => teams_one(r, n),
        (WebhookFormat::Teams, _) => teams_many(r, batch),
    }
}

/// "web-audit: 3 new, 1 resolved (critical)".
pub fn summary(batch: &[Notification]) -> String {
    let count = |e: &str| batch.iter().filter(|n| n.event == e).count();
    let mut parts = Vec::new();
    for (event, word) in [("open", "new"), ("repeat", "still firing"), ("resolved", "resolved")] {
        let n = count(event);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    if count("test") > 0 {
        parts.push("TEST notification".into());
    }
    let worst = batch
        .iter()
        .filter(|n| n.event != "test")
        .filter_map(|n| n.severity.parse::<AlertSeverity>().ok())
        .max();
    let worst = worst.map(|w| format!(" ({w})")).unwrap_or_default();
    let job = batch.first().map_or("", |n| n.job.as_str());
    format!("{job}: {}{worst}", parts.join(", "))
}

/// A run's notifications, worst first: by severity, then new before still
/// firing before resolved, then by incident.
pub fn worst_first(batch: &[Notification]) -> Vec<&Notification> {
    let rank = |e: &str| match e {
        "open" => 0,
        "repeat" => 1,
        "resolved" => 2,
        _ => 3,
    };
    let mut v: Vec<&Notification> = batch.iter().collect();
    v.sort_by_key(|n| {
        let sev = n.severity.parse::<AlertSeverity>().ok();
        (std::cmp::Reverse(sev), rank(&n.event), n.incident)
    });
    v
}

fn slack_plain(t: &str) -> Value {
    json!({ "type": "section", "text": { "type": "plain_text", "emoji": false, "text": slack_text(t, SLACK_SECTION, false) } })
}

/// A section of mrkdwn the receiver's template made (values escaped).
fn slack_mrkdwn_section(t: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(t, SLACK_SECTION) } })
}

/// A Slack link to `url` (an address from the job file or LogTrack's own).
fn slack_link(url: &str, label: &str) -> String {
    let url = slack_text(url, SLACK_SECTION / 4, false).replace('|', "%7C");
    format!("<{url}|{label}>")
}

fn slack_one(r: &Receiver, n: &Notification) -> Value {
    let (title, text) = texts(r, n, Escape::Slack);
    let mut blocks = vec![match &title {
        Some(t) => slack_mrkdwn_section(t),
        None => slack_plain(&n.headline()),
    }];
    blocks.push(match &text {
        Some(t) => slack_mrkdwn_section(t),
        None => slack_plain(&format!(
            "incident {} of job {}: {}, {} alert(s) over {} run(s)",
            n.incident, n.job, n.state, n.occurrences, n.runs
        )),
    });
    if let Some(d) = &n.description {
        blocks.push(slack_plain(d));
    }
    if let Some(e) = n.evidence.first() {
        let line = format!("{}:{} {}", e.path, e.line, e.text.as_deref().unwrap_or(""));
        let code = slack_text(&line, SLACK_SECTION - 6, true);
        blocks.push(
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("```{code}```") } }),
        );
    }
    let mut links = Vec::new();
    if let Some(d) = &n.dashboard {
        links.push(slack_link(d, "Open in the dashboard"));
    }
    if let Some(rb) = &n.runbook {
        links.push(slack_link(rb, "Runbook"));
    }
    if !links.is_empty() {
        blocks.push(
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": links.join("  ·  ") } }),
        );
    }
    let top = match &title {
        Some(t) => cut(t, SLACK_TEXT),
        None => slack_text(&n.headline(), SLACK_TEXT, false),
    };
    json!({ "text": top, "blocks": blocks })
}

/// One line of a grouped message per notification: its title, or headline.
fn item_lines<'a>(
    r: &Receiver,
    batch: &'a [Notification],
    escape: Escape,
) -> Vec<(&'a Notification, Option<String>)> {
    worst_first(batch).into_iter().map(|n| (n, texts(r, n, escape).0)).collect()
}

fn slack_many(r: &Receiver, batch: &[Notification]) -> Value {
    let head = summary(batch);
    let mut blocks = vec![slack_plain(&head)];
    let items = item_lines(r, batch, Escape::Slack);
    let mut links = Vec::new();
    for (n, title) in items.iter().take(GROUP_LISTED) {
        blocks.push(match title {
            Some(t) => slack_mrkdwn_section(t),
            None => slack_plain(&n.headline()),
        });
        if let Some(d) = &n.dashboard {
            links.push(slack_link(d, &format!("#{}", n.incident)));
        }
        if let Some(rb) = &n.runbook {
            links.push(slack_link(rb, &format!("runbook {}", slack_text(&n.rule_id, 100, false))));
        }
    }
    if items.len() > GROUP_LISTED {
        blocks.push(slack_plain(&format!("and {} more", items.len() - GROUP_LISTED)));
    }
    links.dedup();
    if !links.is_empty() {
        let text = fit_list(&links, SLACK_SECTION);
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } }));
    }
    json!({ "text": slack_text(&head, SLACK_TEXT, false), "blocks": blocks })
}

/// Links joined while they fit in `max` characters (whole links only).
fn fit_list(links: &[String], max: usize) -> String {
    let mut out = String::new();
    for l in links {
        if out.chars().count() + l.chars().count() + 3 > max {
            break;
        }
        if !out.is_empty() {
            out.push_str("  ·  ");
        }
        out.push_str(l);
    }
    out
}

/// A Teams block of text shown as it is (a TextRun is never Markdown).
fn teams_run(t: &str, max: usize, mono: bool) -> Value {
    let mut r = json!({ "type": "TextRun", "text": cut(t, max) });
    if mono {
        r["fontType"] = json!("Monospace");
    } else {
        r["weight"] = json!("Bolder");
    }
    json!({ "type": "RichTextBlock", "inlines": [r] })
}

/// A Teams block of Markdown the receiver's template made (values escaped).
fn teams_markdown(t: &str, max: usize) -> Value {
    json!({ "type": "TextBlock", "wrap": true, "text": cut(t, max) })
}

fn teams_card(body: Vec<Value>, actions: Vec<Value>) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            }
        }]
    })
}

fn open_url(title: &str, url: &str) -> Value {
    json!({ "type": "Action.OpenUrl", "title": title, "url": url })
}

fn teams_one(r: &Receiver, n: &Notification) -> Value {
    let (title, text) = texts(r, n, Escape::Markdown);
    let mut body = vec![match &title {
        Some(t) => teams_markdown(t, TEAMS_TEXT),
        None => teams_run(&n.headline(), TEAMS_TEXT, false),
    }];
    if let Some(t) = &text {
        body.push(teams_markdown(t, TEAMS_TEXT));
    }
    if let Some(d) = &n.description {
        body.push(teams_run(d, TEAMS_EVIDENCE, false));
    }
    body.push(json!({ "type": "FactSet", "facts": [
        { "title": "Job", "value": escape_markdown(&cut(&n.job, 200)) },
        { "title": "Incident", "value": format!("{} ({})", n.incident, n.state) },
        { "title": "Window", "value": format!("{} .. {}", n.window_start, n.window_end) },
        { "title": "Count", "value": n.count.to_string() },
    ] }));
    for e in n.evidence.iter().take(3) {
        let line = format!("{}:{} {}", e.path, e.line, e.text.as_deref().unwrap_or(""));
        body.push(teams_run(&line, TEAMS_EVIDENCE, true));
    }
    let mut actions: Vec<Value> =
        n.dashboard.iter().map(|d| open_url("Open in the dashboard", d)).collect();
    actions.extend(n.runbook.iter().map(|rb| open_url("Runbook", rb)));
    teams_card(body, actions)
}

fn teams_many(r: &Receiver, batch: &[Notification]) -> Value {
    let mut body = vec![teams_run(&summary(batch), TEAMS_TEXT, false)];
    let items = item_lines(r, batch, Escape::Markdown);
    for (n, title) in items.iter().take(GROUP_LISTED) {
        body.push(match title {
            Some(t) => teams_markdown(t, TEAMS_ITEM),
            None => teams_run(&n.headline(), TEAMS_ITEM, true),
        });
    }
    if items.len() > GROUP_LISTED {
        body.push(teams_run(&format!("and {} more", items.len() - GROUP_LISTED), 100, false));
    }
    let actions: Vec<Value> = r
        .dashboard_url
        .iter()
        .map(|d| {
            open_url("Open in the dashboard", &format!("{}/incidents", d.trim_end_matches('/')))
        })
        .collect();
    teams_card(body, actions)
}

/// PagerDuty's severities.
fn pagerduty_severity(s: &str) -> &'static str {
    match s.parse::<AlertSeverity>() {
        Ok(AlertSeverity::Critical) => "critical",
        Ok(AlertSeverity::High) => "error",
        Ok(AlertSeverity::Medium) => "warning",
        _ => "info",
    }
}

/// What is affected, as a paging service's `source`/`entity`: the group's
/// host, else its service, else the job.
fn affected(n: &Notification) -> &str {
    ["host", "service"].iter().find_map(|k| n.group.get(*k)).map_or(n.job.as_str(), |s| s)
}

/// A PagerDuty Events API v2 event: `trigger` (open, still firing, test)
/// or `resolve`, deduplicated by the incident's key.
pub fn pagerduty(r: &Receiver, n: &Notification, routing_key: &str) -> Value {
    if n.event == "resolved" {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": n.incident_key,
        });
    }
    let (title, text) = texts(r, n, Escape::Plain);
    let mut details = json!({
        "job": n.job, "rule_id": n.rule_id, "rule_type": n.rule_type, "event": n.event,
        "incident": n.incident, "state": n.state, "group": n.group, "count": n.count,
        "message": cut(&n.message, 2_000),
        "window_start": n.window_start, "window_end": n.window_end,
        "first_seen": n.first_seen, "last_seen": n.last_seen,
        "occurrences": n.occurrences, "runs": n.runs,
        "evidence": n.evidence.iter().take(3).map(|e| json!({
            "path": e.path, "line": e.line, "text": e.text.as_deref().map(|t| cut(t, 1_000)),
        })).collect::<Vec<_>>(),
    });
    for (k, v) in [("description", &n.description), ("text", &text)] {
        if let Some(v) = v {
            details[k] = json!(cut(v, 4_000));
        }
    }
    let mut links = Vec::new();
    if let Some(d) = &n.dashboard {
        links.push(json!({ "href": d, "text": "LogTrack incident" }));
    }
    if let Some(rb) = &n.runbook {
        links.push(json!({ "href": rb, "text": "Runbook" }));
    }
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": n.incident_key,
        "payload": {
            "summary": cut(&title.unwrap_or_else(|| n.headline()), 1_024),
            "source": cut(affected(n), 255),
            "severity": pagerduty_severity(&n.severity),
            "timestamp": n.window_end,
            "component": cut(n.group.get("service").map_or(n.job.as_str(), |s| s), 255),
            "group": n.job,
            "class": n.rule_id,
            "custom_details": details,
        },
        "client": "LogTrack",
        "links": links,
    });
    if let Some(d) = &n.dashboard {
        event["client_url"] = json!(d);
    }
    event
}

/// Opsgenie's priorities.
fn opsgenie_priority(s: &str) -> &'static str {
    match s.parse::<AlertSeverity>() {
        Ok(AlertSeverity::Critical) => "P1",
        Ok(AlertSeverity::High) => "P2",
        Ok(AlertSeverity::Medium) => "P3",
        _ => "P4",
    }
}

/// An Opsgenie request: the path under the API's base and the body. An
/// alert is created with the incident's key as its alias (Opsgenie counts
/// a repeat of an open alias), and closed by it when the incident resolves.
pub fn opsgenie(r: &Receiver, n: &Notification) -> (String, Value) {
    if n.event == "resolved" {
        let path = format!("/v2/alerts/{}/close?identifierType=alias", n.incident_key);
        let note = format!("Resolved: incident {} of job {}", n.incident, n.job);
        return (path, json!({ "source": "LogTrack", "note": cut(&note, 25_000) }));
    }
    let (title, text) = texts(r, n, Escape::Plain);
    let mut details = serde_json::Map::new();
    for (k, v) in [
        ("job", n.job.as_str()),
        ("rule_id", &n.rule_id),
        ("rule_type", &n.rule_type),
        ("event", &n.event),
        ("window_start", &n.window_start),
        ("window_end", &n.window_end),
    ] {
        details.insert(k.into(), json!(cut(v, 500)));
    }
    for (k, v) in n.group.iter().take(20) {
        details.insert(format!("group.{}", cut(k, 100)), json!(cut(v, 500)));
    }
    for (k, v) in [("dashboard", &n.dashboard), ("runbook", &n.runbook)] {
        if let Some(v) = v {
            details.insert(k.into(), json!(v));
        }
    }
    let mut description = text.unwrap_or_else(|| n.text());
    if let Some(d) = &n.description {
        description = format!("{d}\n\n{description}");
    }
    let body = json!({
        "message": cut(&title.unwrap_or_else(|| n.headline()), 130),
        "alias": n.incident_key,
        "description": cut(&description, 15_000),
        "tags": ["logtrack", cut(&n.rule_id, 40), n.severity],
        "details": details,
        "entity": cut(affected(n), 512),
        "source": "LogTrack",
        "priority": opsgenie_priority(&n.severity),
    });
    ("/v2/alerts".to_string(), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::receiver;

    fn note(event: &str, severity: &str, incident: i64) -> Notification {
        let mut n = Notification::test("web-audit");
        n.event = event.into();
        n.severity = severity.into();
        n.incident = incident;
        n.rule_id = format!("rule_{incident}");
        n.incident_key = format!("key{incident}");
        n.id = format!("id{incident}");
        n.dashboard = Some(format!("https://lt.example.com/incidents/{incident}"));
        n
    }

    /// A run's notifications in one Slack message: counted, worst first,
    /// the rest counted ("and N more"), within Slack's limits.
    #[test]
    fn a_runs_notifications_make_one_slack_message() {
        let mut batch: Vec<Notification> =
            (1..=30).map(|i| note("open", if i == 17 { "critical" } else { "low" }, i)).collect();
        batch.push(note("resolved", "high", 31));
        batch[3].message = "<!channel> *x* ```".into();
        let r = receiver(None, None);
        let v = webhook_body(&r, WebhookFormat::Slack, &batch, "batch");
        assert_eq!(v["text"], "web-audit: 30 new, 1 resolved (critical)");
        let blocks = v["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        let texts: Vec<&str> = blocks.iter().map(|b| b["text"]["text"].as_str().unwrap()).collect();
        assert!(texts[1].starts_with("NEW [critical] rule_17"), "{}", texts[1]);
        assert!(texts[2].starts_with("RESOLVED [high] rule_31"), "{}", texts[2]);
        assert!(texts.contains(&"and 11 more"), "{texts:?}");
        let links = texts.last().unwrap();
        assert!(links.starts_with("<https://lt.example.com/incidents/17|#17>"), "{links}");
        for t in &texts {
            assert!(!t.contains("<!"), "{t}");
        }
        // Each listed item is plain text (no mrkdwn from a log).
        for b in &blocks[..blocks.len() - 1] {
            assert_eq!(b["text"]["type"], "plain_text");
        }
        let teams = webhook_body(&r, WebhookFormat::Teams, &batch, "batch");
        assert!(teams.to_string().len() < 28_000);
        let json = webhook_body(&r, WebhookFormat::Json, &batch, "batch");
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["id"], "batch");
        assert_eq!(json["notifications"].as_array().unwrap().len(), 31);
    }

    /// A receiver's templates: the operator's mrkdwn is kept, the values
    /// are escaped; Teams gets Markdown with the values escaped.
    #[test]
    fn templates_shape_the_message_and_escape_the_values() {
        let mut n = note("open", "high", 7);
        n.message = "<http://evil.example|click> [x](http://evil.example)".into();
        n.runbook = Some("https://wiki.example.com/rb".into());
        let r = receiver(
            Some("*{{ severity|upper }}* {{ rule_id }}: {{ message }}"),
            Some("See <{{ runbook }}|the runbook>"),
        );
        let v = webhook_body(&r, WebhookFormat::Slack, std::slice::from_ref(&n), "b");
        let top = v["text"].as_str().unwrap();
        assert!(
            top.starts_with("*HIGH* rule_\u{200b}7: &lt;http://evil.example|click&gt;"),
            "{top}"
        );
        assert_eq!(v["blocks"][0]["text"]["type"], "mrkdwn");
        assert_eq!(v["blocks"][1]["text"]["text"], "See <https://wiki.example.com/rb|the runbook>");
        let teams = webhook_body(&r, WebhookFormat::Teams, std::slice::from_ref(&n), "b");
        let first = teams["attachments"][0]["content"]["body"][0]["text"].as_str().unwrap();
        assert!(first.contains("\\[x\\]\\(http://evil\\.example\\)"), "{first}");
        let json = webhook_body(&r, WebhookFormat::Json, std::slice::from_ref(&n), "b");
        assert!(json["title"].as_str().unwrap().starts_with("*HIGH* rule_7: <http://evil"));
    }

    /// PagerDuty's Events API v2, field by field.
    #[test]
    fn pagerduty_events_follow_the_events_api() {
        let mut n = note("open", "high", 9);
        n.group.insert("host".into(), "web-1".into());
        n.runbook = Some("https://wiki.example.com/rb".into());
        n.description = Some("Too many 5xx".into());
        let r = receiver(None, None);
        let v = pagerduty(&r, &n, "R0UTING");
        assert_eq!(v["routing_key"], "R0UTING");
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["dedup_key"], "key9");
        let p = &v["payload"];
        assert!(p["summary"].as_str().unwrap().starts_with("NEW [high] rule_9"));
        assert_eq!(p["source"], "web-1");
        assert_eq!(p["severity"], "error");
        assert_eq!(p["timestamp"], n.window_end);
        assert_eq!(p["class"], "rule_9");
        assert_eq!(p["custom_details"]["description"], "Too many 5xx");
        assert_eq!(v["links"][0]["href"], "https://lt.example.com/incidents/9");
        assert_eq!(v["links"][1]["href"], "https://wiki.example.com/rb");
        assert_eq!(v["client"], "LogTrack");
        n.message = "x".repeat(5_000);
        let long = pagerduty(&r, &n, "k");
        assert!(long["payload"]["summary"].as_str().unwrap().chars().count() <= 1_024);
        n.event = "resolved".into();
        let v = pagerduty(&r, &n, "R0UTING");
        assert_eq!(
            v,
            json!({ "routing_key": "R0UTING", "event_action": "resolve", "dedup_key": "key9" })
        );
        for (sev, pd) in [("critical", "critical"), ("medium", "warning"), ("low", "info")] {
            assert_eq!(pagerduty_severity(sev), pd);
        }
    }

    /// Opsgenie's Alert API: create with the incident's key as alias,
    /// close by alias.
    #[test]
    fn opsgenie_alerts_follow_the_alert_api() {
        let mut n = note("open", "critical", 4);
        n.message = "m".repeat(500);
        let r = receiver(None, None);
        let (path, v) = opsgenie(&r, &n);
        assert_eq!(path, "/v2/alerts");
        assert_eq!(v["alias"], "key4");
        assert!(v["message"].as_str().unwrap().chars().count() <= 130);
        assert_eq!(v["priority"], "P1");
        assert_eq!(v["source"], "LogTrack");
        assert_eq!(v["details"]["rule_id"], "rule_4");
        assert_eq!(v["details"]["group.test"], "true");
        assert!(v["description"].as_str().unwrap().contains("incident 4 of job web-audit"));
        n.event = "resolved".into();
        let (path, v) = opsgenie(&r, &n);
        assert_eq!(path, "/v2/alerts/key4/close?identifierType=alias");
        assert_eq!(v["source"], "LogTrack");
    }
}
