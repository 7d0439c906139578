//! Notifications: what is sent when an incident opens, keeps firing or is
//! resolved, and the three ways of sending it (a webhook, e-mail, a
//! program). Which notifications a run makes, and the outbox that keeps
//! them until delivered, are in [`crate::store::incidents`]; without a
//! database, [`crate::run`] sends them at once.

pub mod http;
pub mod smtp;
pub mod tls;

use crate::config::notify::{Receiver, ReceiverKind, WebhookFormat};
use crate::config::AlertSeverity;
use crate::detect::{Alert, Evidence};
use crate::parse::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Evidence lines a notification carries.
pub const EVIDENCE_SENT: usize = 5;

/// One notification: the JSON a webhook receives and a program reads on
/// stdin (the README documents it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `open`, `repeat`, `resolved`, or `test`.
    pub event: String,
    /// The idempotency key: the same notification always has the same
    /// key (`X-LogTrack-Id`, e-mail `Message-ID`).
    pub id: String,
    /// The incident's number (with a database; in memory, the alert's
    /// place in the run).
    pub incident: i64,
    pub job: String,
    pub rule_id: String,
    pub rule_type: String,
    pub severity: String,
    pub group: BTreeMap<String, String>,
    /// The latest alert's window (RFC 3339, UTC).
    pub window_start: String,
    pub window_end: String,
    /// Records the latest alert counted.
    pub count: u64,
    pub message: String,
    /// The incident: from its first window's start to its last window's end.
    pub first_seen: String,
    pub last_seen: String,
    /// Alerts and runs the incident spans.
    pub occurrences: i64,
    pub runs: i64,
    /// `open`, `acknowledged` or `resolved`.
    pub state: String,
    /// The first evidence lines.
    pub evidence: Vec<EvidenceLine>,
    /// The run's report files.
    pub report: Vec<String>,
    /// The incident on the dashboard, when `dashboard_url` is set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dashboard: Option<String>,
    /// When the notification was made (RFC 3339, UTC).
    pub created: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceLine {
    pub path: String,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
}

/// What an incident is when a notification is made of it.
pub struct IncidentState {
    pub id: i64,
    pub first: i64,
    pub last: i64,
    pub occurrences: i64,
    pub runs: i64,
    pub state: &'static str,
}

impl Notification {
    /// A notification of `event` for `alert` (the incident's latest).
    pub fn new(
        event: &str,
        job: &str,
        alert: &Alert,
        incident: &IncidentState,
        report: &[String],
    ) -> Notification {
        let ts = |t: i64| Timestamp::from_secs(t).to_rfc3339();
        Notification {
            event: event.to_string(),
            id: String::new(),
            incident: incident.id,
            job: job.to_string(),
            rule_id: alert.rule_id.clone(),
            rule_type: alert.rule_type.to_string(),
            severity: alert.severity.as_str().to_string(),
            group: alert.group.clone(),
            window_start: alert.window_start.to_rfc3339(),
            window_end: alert.window_end.to_rfc3339(),
            count: alert.count,
            message: alert.message.clone(),
            first_seen: ts(incident.first),
            last_seen: ts(incident.last),
            occurrences: incident.occurrences,
            runs: incident.runs,
            state: incident.state.to_string(),
            evidence: alert
                .evidence
                .iter()
                .take(EVIDENCE_SENT)
                .map(|e| EvidenceLine {
                    path: e.path.to_string(),
                    line: e.line,
                    text: e.text.clone(),
                })
                .collect(),
            report: report.to_vec(),
            dashboard: None,
            created: ts(crate::clock::wall_clock()),
        }
    }

    /// The notification `logtrack notify --test` sends.
    pub fn test(job: &str) -> Notification {
        let now = crate::clock::wall_clock();
        let alert = Alert {
            rule_id: "logtrack_test".into(),
            rule_type: "test",
            severity: AlertSeverity::Low,
            group: BTreeMap::from([("test".to_string(), "true".to_string())]),
            window_start: Timestamp::from_secs(now),
            window_end: Timestamp::from_secs(now),
            count: 0,
            message: "TEST: LogTrack test notification (logtrack notify --test); no incident"
                .into(),
            evidence: Vec::new(),
        };
        let state =
            IncidentState { id: 0, first: now, last: now, occurrences: 0, runs: 0, state: "open" };
        let mut n = Notification::new("test", job, &alert, &state, &[]);
        n.id = key(&["test", job, &now.to_string()]);
        n
    }

    /// The alert again, for tables.
    pub fn alert(&self) -> Alert {
        let at = |s: &str| {
            Timestamp::parse_rfc3339(s, &crate::parse::Tz::default())
                .unwrap_or_else(|| Timestamp::from_secs(0))
        };
        Alert {
            rule_id: self.rule_id.clone(),
            rule_type: crate::config::RuleKind::type_name_of(&self.rule_type),
            severity: self.severity.parse().unwrap_or(AlertSeverity::Low),
            group: self.group.clone(),
            window_start: at(&self.window_start),
            window_end: at(&self.window_end),
            count: self.count,
            message: self.message.clone(),
            evidence: self
                .evidence
                .iter()
                .map(|e| Evidence {
                    path: Arc::from(e.path.as_str()),
                    line: e.line,
                    index: None,
                    text: e.text.clone(),
                })
                .collect(),
        }
    }

    fn group_text(&self) -> String {
        let parts: Vec<String> = self.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.join(" ")
    }

    /// One line: what happened, to what, how bad.
    pub fn headline(&self) -> String {
        let what = match self.event.as_str() {
            "open" => "NEW",
            "repeat" => "STILL FIRING",
            "resolved" => "RESOLVED",
            _ => "TEST",
        };
        format!(
            "{what} [{}] {} {}: {} ({} .. {}, count {})",
            self.severity,
            self.rule_id,
            self.group_text(),
            self.message,
            self.window_start,
            self.window_end,
            self.count
        )
    }

    /// The headline, the incident, the evidence and the links, as text.
    pub fn text(&self) -> String {
        let mut t = format!("{}\n", self.headline());
        t.push_str(&format!(
            "  incident {} of job {}: {}, first {} last {}, {} alert(s) over {} run(s)\n",
            self.incident,
            self.job,
            self.state,
            self.first_seen,
            self.last_seen,
            self.occurrences,
            self.runs
        ));
        for e in &self.evidence {
            t.push_str(&format!(
                "  {}:{}{}\n",
                e.path,
                e.line,
                e.text.as_deref().map(|x| format!("  {x}")).unwrap_or_default()
            ));
        }
        if let Some(d) = &self.dashboard {
            t.push_str(&format!("  dashboard: {d}\n"));
        }
        for r in &self.report {
            t.push_str(&format!("  report: {r}\n"));
        }
        t
    }
}

/// A stable idempotency key from its parts: 32 hex digits.
pub fn key(parts: &[&str]) -> String {
    use blake2::{Blake2s256, Digest};
    let mut h = Blake2s256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The dashboard's page of an incident.
pub fn dashboard_link(base: &str, incident: i64) -> String {
    format!("{}/incidents/{incident}", base.trim_end_matches('/'))
}

/// Whether `r` is sent incidents of `rule` at `severity`.
pub fn wants(r: &Receiver, rule: &str, severity: AlertSeverity) -> bool {
    severity >= r.min_severity && r.rules.as_ref().is_none_or(|rs| rs.iter().any(|x| x == rule))
}

/// The body a webhook is sent.
pub fn webhook_body(format: WebhookFormat, n: &Notification) -> serde_json::Value {
    use serde_json::json;
    match format {
        WebhookFormat::Json => serde_json::to_value(n).expect("a notification serializes"),
        WebhookFormat::Slack => {
            // Text from logs goes into plain_text objects (no mrkdwn, no
            // mentions), escaped all the same; the one code block cannot be
            // closed from inside; every limit of Slack's is kept.
            let plain = |t: &str| json!({ "type": "section", "text": { "type": "plain_text", "emoji": false, "text": slack_text(t, SLACK_SECTION, false) } });
            let mut blocks = vec![
                plain(&n.headline()),
                plain(&format!(
                    "incident {} of job {}: {}, {} alert(s) over {} run(s)",
                    n.incident, n.job, n.state, n.occurrences, n.runs
                )),
            ];
            if let Some(e) = n.evidence.first() {
                let line = format!("{}:{} {}", e.path, e.line, e.text.as_deref().unwrap_or(""));
                let code = slack_text(&line, SLACK_SECTION - 6, true);
                blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("```{code}```") } }));
            }
            if let Some(d) = &n.dashboard {
                let link =
                    format!("<{}|Open in the dashboard>", slack_text(d, SLACK_SECTION, false));
                blocks
                    .push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": link } }));
            }
            json!({ "text": slack_text(&n.headline(), SLACK_TEXT, false), "blocks": blocks })
        }
        WebhookFormat::Teams => {
            // Text from logs goes into TextRuns, which Teams shows as they
            // are (no Markdown, so no links); the card stays far below
            // Teams' size limit.
            let run = |t: &str, max: usize, mono: bool| {
                let mut r = json!({ "type": "TextRun", "text": cut(t, max) });
                if mono {
                    r["fontType"] = json!("Monospace");
                } else {
                    r["weight"] = json!("Bolder");
                }
                json!({ "type": "RichTextBlock", "inlines": [r] })
            };
            let mut body = vec![
                run(&n.headline(), TEAMS_TEXT, false),
                json!({ "type": "FactSet", "facts": [
                    { "title": "Job", "value": escape_markdown(&n.job) },
                    { "title": "Incident", "value": format!("{} ({})", n.incident, n.state) },
                    { "title": "Window", "value": format!("{} .. {}", n.window_start, n.window_end) },
                    { "title": "Count", "value": n.count.to_string() },
                ] }),
            ];
            for e in n.evidence.iter().take(3) {
                let line = format!("{}:{} {}", e.path, e.line, e.text.as_deref().unwrap_or(""));
                body.push(run(&line, TEAMS_EVIDENCE, true));
            }
            let actions: Vec<serde_json::Value> = n
                .dashboard
                .iter()
                .map(|d| json!({ "type": "Action.OpenUrl", "title": "Open in the dashboard", "url": d }))
                .collect();
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
    }
}

/// Slack's limits: a section's text, and the top-level `text` (what
/// push notifications show).
const SLACK_SECTION: usize = 3_000;
const SLACK_TEXT: usize = 4_000;
/// Teams: the headline's and an evidence line's characters (a card must
/// stay under about 28 KB).
const TEAMS_TEXT: usize = 2_000;
const TEAMS_EVIDENCE: usize = 1_000;

/// `s` for Slack: `&`, `<` and `>` escaped (so no `<!channel>`, `<@U…>`
/// or `<url|label>` can come from it), inside a code block (`code`) every
/// backtick followed by a zero-width space (so "```" cannot close it), and
/// at most `max` characters (see [`fit`]).
fn slack_text(s: &str, max: usize, code: bool) -> String {
    fit(s, max, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '`' if code => Some("`\u{200b}"),
        _ => None,
    })
}

/// At most `max` characters of `s` (see [`fit`]).
fn cut(s: &str, max: usize) -> String {
    fit(s, max, |_| None)
}

/// `s` with each character written as `escape` says (`None`: as it is),
/// in at most `max` characters: when it does not fit, the characters that
/// do, then "… N more characters" (N of `s`).
fn fit(s: &str, max: usize, escape: impl Fn(char) -> Option<&'static str>) -> String {
    let width = |c: char| escape(c).map_or(1, |e| e.chars().count());
    let fits = s.chars().map(width).sum::<usize>() <= max;
    let budget = if fits { max } else { max.saturating_sub(40) };
    let (mut out, mut used, mut taken) = (String::with_capacity(s.len().min(budget * 4)), 0, 0);
    for c in s.chars() {
        if used + width(c) > budget {
            break;
        }
        match escape(c) {
            Some(e) => out.push_str(e),
            None => out.push(c),
        }
        used += width(c);
        taken += 1;
    }
    if !fits {
        out.push_str(&format!("… {} more characters", s.chars().count() - taken));
    }
    out
}

/// Markdown's punctuation backslash-escaped (Teams renders Markdown in
/// fact values).
fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\`*_{}[]()#+-.!<>|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The subject of a run's e-mail: `[LogTrack] web-audit: 2 new, 1 resolved (critical)`.
pub fn subject(job: &str, batch: &[Notification]) -> String {
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
    format!("[LogTrack] {job}: {}{worst}", parts.join(", "))
}

/// The e-mail of a batch: plain text, and HTML with the report's alert table.
pub fn mail_bodies(job: &str, batch: &[Notification]) -> (String, String) {
    use maud::{html, PreEscaped, DOCTYPE};
    let mut text = format!("{}\n\n", subject(job, batch));
    for n in batch {
        text.push_str(&n.text());
        text.push('\n');
    }
    let alerts: Vec<Alert> = batch.iter().map(Notification::alert).collect();
    let html = html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; style { (PreEscaped(crate::report::html::STYLE)) } }
            body {
                h1 { (subject(job, batch)) }
                table {
                    tr { th { "Event" } th { "Incident" } th { "State" } th { "First .. last" } th.n { "Alerts" } th { "Links" } }
                    @for n in batch {
                        tr {
                            td { (n.event) }
                            td { (n.incident) }
                            td { (n.state) }
                            td { (n.first_seen) " .. " (n.last_seen) }
                            td.n { (n.occurrences) }
                            td {
                                @if let Some(d) = &n.dashboard { a href=(d) { "dashboard" } " " }
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

/// Why a send failed (the message never holds a secret), and whether
/// trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError(pub String, pub Failure);

/// What a failed send means for the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The receiver is down or busy (refused or timed-out connections, HTTP
    /// 5xx, 408, 425, 429, a program that failed): try again later, not
    /// before `retry_after` seconds when the receiver said so.
    Transient { retry_after: Option<i64> },
    /// The receiver refused this message (HTTP 4xx but 408, 425, 429; a
    /// redirect): the same message will be refused again. Parked at once.
    Permanent,
}

impl SendError {
    /// A failure that may pass.
    pub fn transient(text: String) -> SendError {
        SendError(text, Failure::Transient { retry_after: None })
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an HTTP status means for a webhook's send.
pub fn http_failure(code: u16, retry_after: Option<i64>) -> Failure {
    match code {
        408 | 425 | 429 | 500..=599 => Failure::Transient { retry_after },
        _ => Failure::Permanent,
    }
}

/// Sends `batch` to `r`: one request or program run per notification for
/// webhooks and programs (the caller gives them one at a time), one
/// message for e-mail. `mail_id` is the e-mail's idempotency key.
pub fn deliver(r: &Receiver, batch: &[Notification], mail_id: &str) -> Result<(), SendError> {
    let timeout = Duration::from_secs(r.timeout.max(1) as u64);
    let fail = |e: String| SendError::transient(crate::error::redact_text(&e));
    match &r.kind {
        ReceiverKind::Webhook { url, headers, format, ca_file } => {
            let url = http::Url::parse(url).map_err(fail)?;
            for n in batch {
                let body = serde_json::to_vec(&webhook_body(*format, n)).expect("JSON serializes");
                let mut all = vec![("X-LogTrack-Id".to_string(), n.id.clone())];
                all.extend(headers.iter().cloned());
                let answer =
                    http::post(&url, &all, &body, timeout, ca_file.as_deref()).map_err(fail)?;
                if !(200..300).contains(&answer.code) {
                    let (code, reason) = (answer.code, &answer.reason);
                    let said = if answer.said.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", answer.said)
                    };
                    let text = format!("{}: answered {code} {reason}{said}", url.origin());
                    let SendError(text, _) = fail(text);
                    return Err(SendError(text, http_failure(code, answer.retry_after)));
                }
            }
            Ok(())
        }
        ReceiverKind::Exec { command, env } => {
            for n in batch {
                let body = serde_json::to_vec(n).expect("JSON serializes");
                exec(command, env, &body, &n.id, timeout).map_err(fail)?;
            }
            Ok(())
        }
        ReceiverKind::Email { smtp, tls, from, to, username, password_env, ca_file } => {
            let password = match password_env {
                Some(var) => Some(std::env::var(var).map_err(|_| {
                    SendError::transient(format!(
                        "the environment variable {var} (password_env) is not set"
                    ))
                })?),
                None => None,
            };
            let job = batch.first().map_or("", |n| n.job.as_str());
            let (text, html) = mail_bodies(job, batch);
            let message_id = format!("{mail_id}@logtrack");
            let mail = smtp::Mail {
                from,
                to,
                subject: &subject(job, batch),
                text: &text,
                html: &html,
                message_id: &message_id,
            };
            let server = smtp::Server {
                smtp,
                tls: *tls,
                ca_file: ca_file.as_deref(),
                username: username.as_deref(),
                password: password.as_deref(),
                timeout,
            };
            smtp::send(&server, &mail).map_err(|e| {
                // An error never repeats the password, whatever a server echoes.
                let e = match &password {
                    Some(p) if p.len() >= 3 => e.replace(p.as_str(), "***"),
                    _ => e,
                };
                fail(e)
            })
        }
    }
}

/// Runs `command` (no shell) with `stdin` on its standard input; its exit
/// status must be 0 within `timeout`.
fn exec(
    command: &[String],
    env: &[String],
    stdin: &[u8],
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let (program, args) = command.split_first().ok_or("exec: no command")?;
    let mut cmd = Command::new(program);
    // Only what a program needs of LogTrack's environment (not its
    // database URL, not a mail password), and the variables named in `env`.
    cmd.args(args).env_clear();
    for name in EXEC_ENV.iter().copied().chain(env.iter().map(String::as_str)) {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    // Its own process group, so that a timeout stops its children too.
    let mut child = cmd
        .env("LOGTRACK_NOTIFICATION_ID", id)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("exec {program}: {e}"))?;
    let mut input = child.stdin.take().expect("stdin is piped");
    let body = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        // A program that does not read its input is its own business.
        let _ = input.write_all(&body);
    });
    let mut err = child.stderr.take().expect("stderr is piped");
    let (said_tx, said_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = Vec::new();
        let _ = err.by_ref().take(4096).read_to_end(&mut buf);
        let _ = said_tx
            .send(String::from_utf8_lossy(&buf).trim().lines().last().unwrap_or("").to_string());
    });
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(|e| format!("exec {program}: {e}"))? {
            Some(s) => break s,
            None if std::time::Instant::now() >= deadline => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "exec {program}: still running after {}s: stopped",
                    timeout.as_secs()
                ));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let _ = writer.join();
    // A child left behind may hold stderr open: wait for it no longer than
    // the timeout allows.
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    let said = said_rx.recv_timeout(left.max(Duration::from_millis(100))).unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        let said = if said.is_empty() { String::new() } else { format!(": {said}") };
        Err(format!("exec {program}: {status}{said}"))
    }
}

/// What an `exec` receiver's program sees of LogTrack's environment, besides
/// the receiver's own `env` list and `LOGTRACK_NOTIFICATION_ID`.
const EXEC_ENV: [&str; 4] = ["PATH", "HOME", "LANG", "TZ"];

/// Kills process group `pgid` (a program and every process it started).
fn kill_group(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(event: &str) -> Notification {
        let alert = Alert {
            rule_id: "web_5xx".into(),
            rule_type: "keyword_threshold",
            severity: AlertSeverity::Critical,
            group: BTreeMap::from([("service".to_string(), "web".to_string())]),
            window_start: Timestamp::from_secs(1_773_482_400),
            window_end: Timestamp::from_secs(1_773_483_180),
            count: 78,
            message: "78 records matching 'error' in 5m (>= 10) <b>".into(),
            evidence: vec![Evidence {
                path: Arc::from("/var/log/a.log"),
                line: 7,
                index: None,
                text: Some("GET /x 503".into()),
            }],
        };
        let state = IncidentState {
            id: 42,
            first: 1_773_482_400,
            last: 1_773_483_180,
            occurrences: 3,
            runs: 3,
            state: "open",
        };
        let mut n =
            Notification::new(event, "web-audit", &alert, &state, &["r/report.json".into()]);
        n.id = key(&["x", event]);
        n.dashboard = Some(dashboard_link("https://lt.example.com/", 42));
        n
    }

    #[test]
    fn presets_make_each_services_body() {
        let n = sample("open");
        let json = webhook_body(WebhookFormat::Json, &n);
        assert_eq!(json["event"], "open");
        assert_eq!(json["incident"], 42);
        assert_eq!(json["dashboard"], "https://lt.example.com/incidents/42");
        let back: Notification = serde_json::from_value(json).unwrap();
        assert_eq!(back, n);
        let slack = webhook_body(WebhookFormat::Slack, &n);
        assert!(slack["text"].as_str().unwrap().starts_with("NEW [critical] web_5xx service=web"));
        let block = slack["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(block.contains("&lt;b&gt;") && !block.contains("<b>"), "{block}");
        let blocks = slack["blocks"].as_array().unwrap();
        let link = blocks.last().unwrap()["text"]["text"].as_str().unwrap();
        assert_eq!(link, "<https://lt.example.com/incidents/42|Open in the dashboard>");
        let teams = webhook_body(WebhookFormat::Teams, &n);
        let card = &teams["attachments"][0];
        assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["actions"][0]["url"], "https://lt.example.com/incidents/42");
    }

    /// Every string of a JSON body.
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }

    /// Text from a log line cannot mention, link or break out of the
    /// message's own formatting in Slack or Teams, and a huge line keeps
    /// their limits.
    #[test]
    fn text_from_logs_stays_text_in_slack_and_teams() {
        let mut n = sample("open");
        n.dashboard = None;
        let hostile = "<!channel> <!here> <@U123> <#C9> <http://evil.example|click here> \
                       [reset your password](http://evil.example/login) ``` *x* _y_ ~z~ &amp; \
                       </td><script>alert(1)</script>\r\nX-Injected: 1";
        n.group.insert("user".into(), hostile.into());
        n.message = format!("{hostile} {}", "A".repeat(50_000));
        n.evidence[0].text = Some(format!("{hostile} {}", "B".repeat(50_000)));
        let slack = webhook_body(WebhookFormat::Slack, &n);
        let mut all = Vec::new();
        strings(&slack, &mut all);
        for s in &all {
            for bad in ["<!", "<@", "<#", "<http"] {
                assert!(!s.contains(bad), "{bad} in {s:.200}");
            }
        }
        assert!(slack["text"].as_str().unwrap().chars().count() <= 4_000);
        let blocks = slack["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        for b in blocks {
            let t = b["text"]["text"].as_str().unwrap();
            assert!(t.chars().count() <= 3_000, "a section of {} characters", t.chars().count());
            if b["text"]["type"] == "mrkdwn" {
                // The code block opens and closes once: nothing inside closes it.
                let inner = t.strip_prefix("```").and_then(|t| t.strip_suffix("```")).unwrap();
                assert!(!inner.contains("```"), "{inner:.200}");
            } else {
                assert_eq!(b["text"]["type"], "plain_text");
            }
        }
        assert!(blocks[0]["text"]["text"].as_str().unwrap().contains("more characters"));

        let teams = webhook_body(WebhookFormat::Teams, &n);
        let size = teams.to_string().len();
        assert!(size < 28_000, "a card of {size} bytes");
        let body = teams["attachments"][0]["content"]["body"].as_array().unwrap();
        for block in body {
            let mut texts = Vec::new();
            strings(block, &mut texts);
            if texts.iter().any(|t| t.contains("evil.example")) {
                // Only in TextRuns, which Teams never reads as Markdown.
                assert_eq!(block["type"], "RichTextBlock", "{block}");
                assert!(block["inlines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["type"] == "TextRun"));
            }
        }
        assert!(teams["attachments"][0]["content"]["actions"].as_array().unwrap().is_empty());

        // E-mail: the HTML escapes it, and no line of the message is a header
        // the log wrote (the bodies are base64).
        let batch = [n];
        let (text, html) = mail_bodies("web-audit", &batch);
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
        let to = ["oncall@example.com".to_string()];
        let mail = smtp::Mail {
            from: "lt@example.com",
            to: &to,
            subject: &subject("web-audit", &batch),
            text: &text,
            html: &html,
            message_id: "k@logtrack",
        };
        let m = smtp::message(&mail);
        assert!(m.split("\r\n").all(|l| !l.starts_with("X-Injected") && l.len() <= 998));
    }

    #[test]
    fn fit_keeps_short_text_and_cuts_long_text_whole_characters_only() {
        assert_eq!(cut("héllo", 10), "héllo");
        assert_eq!(slack_text("a<b", 10, false), "a&lt;b");
        let long = "é".repeat(100);
        let c = cut(&long, 50);
        assert_eq!(c, format!("{}… 90 more characters", "é".repeat(10)));
        assert!(c.chars().count() <= 50);
        // An escape is never cut in half.
        let s = slack_text(&"<".repeat(100), 60, false);
        assert!(
            s.starts_with("&lt;&lt;&lt;&lt;&lt;") && s.ends_with("… 95 more characters"),
            "{s}"
        );
        assert!(s.chars().count() <= 60);
    }

    #[test]
    fn a_runs_mail_counts_its_events() {
        let batch = [sample("open"), sample("open"), sample("resolved")];
        assert_eq!(
            subject("web-audit", &batch),
            "[LogTrack] web-audit: 2 new, 1 resolved (critical)"
        );
        let (text, html) = mail_bodies("web-audit", &batch);
        assert!(text.contains("RESOLVED [critical] web_5xx"));
        assert!(text.contains("/var/log/a.log:7  GET /x 503"));
        assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"));
    }

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(key(&["a", "b"]), key(&["a", "b"]));
        assert_ne!(key(&["ab", ""]), key(&["a", "b"]));
        assert_eq!(key(&["a"]).len(), 32);
    }
}
