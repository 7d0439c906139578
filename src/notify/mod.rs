//! Notifications: what is sent when an incident opens, keeps firing or is
//! resolved, and the three ways of sending it (a webhook, e-mail, a
//! program). Which notifications a run makes, and the outbox that keeps
//! them until delivered, are in [`crate::store::incidents`]; without a
//! database, [`crate::run`] sends them at once.

pub mod body;
pub mod http;
pub mod mail;
pub mod quiet;
pub mod render;
pub mod smtp;
pub mod text;
pub mod tls;

pub use body::webhook_body;
pub use mail::{mail_bodies, subject};

use crate::config::notify::{Receiver, ReceiverKind};
use crate::config::AlertSeverity;
use crate::config::Job;
use crate::detect::{Alert, Evidence};
use crate::parse::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Evidence lines a notification carries.
pub const EVIDENCE_SENT: usize = 5;

/// The version of the notification's JSON (`schema_version`): raised when a
/// field changes meaning or goes away, not when one is added.
pub const SCHEMA_VERSION: u32 = 1;

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// One notification: the JSON a webhook receives and a program reads on
/// stdin (the README documents it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The version of this JSON's shape.
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// `open`, `repeat`, `resolved`, or `test`.
    pub event: String,
    /// The idempotency key: the same notification always has the same
    /// key (`X-LogTrack-Id`, e-mail `Message-ID`).
    pub id: String,
    /// The incident's number (with a database; in memory, the alert's
    /// place in the run).
    pub incident: i64,
    /// The incident's own key: the same for all its notifications, to every
    /// receiver (PagerDuty's `dedup_key`, Opsgenie's `alias`).
    #[serde(default)]
    pub incident_key: String,
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
    /// The rule's `description` and `runbook` (a web address).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub runbook: Option<String>,
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
            schema_version: SCHEMA_VERSION,
            event: event.to_string(),
            id: String::new(),
            incident: incident.id,
            incident_key: String::new(),
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
            description: None,
            runbook: None,
        }
    }

    /// The rule's `description` and `runbook`, from `job`.
    pub fn describe(&mut self, job: &Job) {
        if let Some(rule) = job.rules.iter().find(|r| r.id == self.rule_id) {
            self.description.clone_from(&rule.description);
            self.runbook.clone_from(&rule.runbook);
            // A Sigma rule's own words, with its author (as its licence asks).
            if let Some(about) = crate::report::SigmaAbout::find(job, &rule.id, &self.group) {
                let text = about.text();
                self.description = Some(match self.description.take() {
                    Some(d) => format!("{d}\n{text}"),
                    None => text,
                });
            }
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
        n.incident_key = n.id.clone();
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

/// An alert's labels, as matchers read them: its rule, its job, its
/// severity, its group, and its service (the rule's `service`, else the
/// group's).
pub fn labels<'a>(job: &'a crate::config::Job, a: &'a Alert) -> crate::expr::Labels<'a> {
    labels_of(job, &a.rule_id, &a.group, a.severity.as_str())
}

/// The labels of an incident of `rule` with `group` at `severity` (an
/// alert's, or a stored incident's).
pub fn labels_of<'a>(
    job: &'a crate::config::Job,
    rule: &'a str,
    group: &'a BTreeMap<String, String>,
    severity: &'a str,
) -> crate::expr::Labels<'a> {
    let rule_service = job.rules.iter().find(|r| r.id == rule).and_then(|r| r.service.as_deref());
    crate::expr::Labels {
        rule,
        job: &job.name,
        service: rule_service.or_else(|| group.get("service").map(String::as_str)),
        severity,
        group,
    }
}

/// Whether `r` itself takes an alert: its severity, rule and `match`.
fn takes(r: &Receiver, a: &Alert, labels: &crate::expr::Labels<'_>) -> bool {
    a.severity >= r.min_severity
        && r.rules.as_ref().is_none_or(|rs| rs.contains(&a.rule_id))
        && r.matcher.as_ref().is_none_or(|m| m.matches(labels))
}

/// The value of the label `name` (`service`, `group.<key>`, …) in `l`.
fn label_value<'a>(l: &crate::expr::Labels<'a>, name: &str) -> Option<&'a str> {
    match name {
        "rule" => Some(l.rule),
        "job" => Some(l.job),
        "service" => l.service,
        "severity" => Some(l.severity),
        _ => name.strip_prefix("group.").and_then(|k| l.group.get(k)).map(String::as_str),
    }
}

/// Whether an open incident with labels `source` keeps one with labels
/// `target` from being told, by one of the job's `[[inhibit]]` rules. An
/// incident never inhibits itself.
pub fn inhibits(
    job: &crate::config::Job,
    source: &crate::expr::Labels<'_>,
    target: &crate::expr::Labels<'_>,
) -> bool {
    if source.rule == target.rule && source.group == target.group {
        return false;
    }
    job.inhibit.iter().any(|i| {
        i.source.matches(source)
            && i.target.matches(target)
            && i.equal.iter().all(|n| label_value(source, n) == label_value(target, n))
    })
}

/// Whether a rule's alerts reach a receiver, as far as the job file tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Always,
    /// Depending on an alert's group (the receiver's `match` reads it).
    Maybe,
    Never,
}

/// Which receivers `rule`'s alerts can reach (see [`route`]), each with how
/// surely; receivers it never reaches are left out.
pub fn reach<'j>(
    job: &'j crate::config::Job,
    rule: &crate::config::Rule,
) -> Vec<(&'j Receiver, Reach)> {
    let empty = BTreeMap::new();
    let labels = crate::expr::Labels {
        rule: &rule.id,
        job: &job.name,
        service: rule.service.as_deref(),
        severity: rule.severity.as_str(),
        group: &empty,
    };
    let own = |r: &Receiver| {
        if rule.severity < r.min_severity
            || r.rules.as_ref().is_some_and(|rs| !rs.contains(&rule.id))
        {
            return Reach::Never;
        }
        let Some(m) = &r.matcher else { return Reach::Always };
        // What the group decides is unknown until an alert has one.
        match m.matches_before_group(&labels, rule.service.is_some()) {
            None => Reach::Maybe,
            Some(true) => Reach::Always,
            Some(false) => Reach::Never,
        }
    };
    let others: Vec<Reach> = job.notify.iter().filter(|r| !r.default).map(own).collect();
    let mut out: Vec<(&Receiver, Reach)> = job
        .notify
        .iter()
        .filter(|r| !r.default)
        .zip(&others)
        .map(|(r, reach)| (r, *reach))
        .collect();
    let defaults = if others.contains(&Reach::Always) {
        Reach::Never
    } else if others.contains(&Reach::Maybe) {
        Reach::Maybe
    } else {
        Reach::Always
    };
    for r in job.notify.iter().filter(|r| r.default) {
        let reach = match (defaults, own(r)) {
            (Reach::Never, _) | (_, Reach::Never) => Reach::Never,
            (Reach::Always, Reach::Always) => Reach::Always,
            _ => Reach::Maybe,
        };
        out.push((r, reach));
    }
    out.retain(|(_, reach)| *reach != Reach::Never);
    out
}

/// The receivers `job` sends an alert's incident to: each receiver that
/// takes it, other than the `default` ones; when there is none, the
/// default ones that take it.
pub fn route<'j>(job: &'j crate::config::Job, a: &Alert) -> Vec<&'j Receiver> {
    let labels = labels(job, a);
    let chosen: Vec<&Receiver> =
        job.notify.iter().filter(|r| !r.default && takes(r, a, &labels)).collect();
    if !chosen.is_empty() {
        return chosen;
    }
    job.notify.iter().filter(|r| r.default && takes(r, a, &labels)).collect()
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

/// An e-mail recipient the server refused while it took the message for
/// the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub to: String,
    /// The server's answer (no secret).
    pub error: String,
    pub failure: Failure,
}

/// The id a message is sent under (`X-LogTrack-Id`, `Message-ID`): a lone
/// notification's own, or the grouped message's.
fn message_id<'a>(batch: &'a [Notification], batch_id: &'a str) -> &'a str {
    match batch {
        [n] => &n.id,
        _ => batch_id,
    }
}

/// A secret from the environment variable `var` (named by `key`).
fn secret(var: &str, key: &str) -> Result<String, SendError> {
    std::env::var(var).map_err(|_| {
        SendError::transient(format!("the environment variable {var} ({key}) is not set"))
    })
}

/// Sends `batch` to `r` as one message: a lone notification as itself, a
/// run's notifications grouped (`group = "run"`). `batch_id` is the grouped
/// message's idempotency key. E-mail goes to `to` when given (the
/// recipients still owed a message), else to the receiver's; the
/// recipients the server refused while it took the message are returned.
pub fn deliver(
    r: &Receiver,
    batch: &[Notification],
    batch_id: &str,
    to: Option<&[String]>,
) -> Result<Vec<Refusal>, SendError> {
    let timeout = Duration::from_secs(r.timeout.max(1) as u64);
    let fail = |e: String| SendError::transient(crate::error::redact_text(&e));
    let id = message_id(batch, batch_id);
    let post = |url: &str, headers: &[(String, String)], body: &serde_json::Value, ca_file| {
        let url = http::Url::parse(url).map_err(fail)?;
        let body = serde_json::to_vec(body).expect("JSON serializes");
        let answer = http::post(&url, headers, &body, timeout, ca_file).map_err(fail)?;
        if (200..300).contains(&answer.code) {
            return Ok(Vec::new());
        }
        let (code, reason) = (answer.code, &answer.reason);
        let said =
            if answer.said.is_empty() { String::new() } else { format!(": {}", answer.said) };
        let SendError(text, _) = fail(format!("{}: answered {code} {reason}{said}", url.origin()));
        Err(SendError(text, http_failure(code, answer.retry_after)))
    };
    match &r.kind {
        ReceiverKind::Webhook { url, headers, format, ca_file } => {
            let mut all = vec![("X-LogTrack-Id".to_string(), id.to_string())];
            all.extend(headers.iter().cloned());
            post(url, &all, &webhook_body(r, *format, batch, batch_id), ca_file.as_deref())
        }
        ReceiverKind::PagerDuty { url, routing_key_env, ca_file } => {
            let key = secret(routing_key_env, "routing_key_env")?;
            for n in batch {
                let all = [("X-LogTrack-Id".to_string(), n.id.clone())];
                post(url, &all, &body::pagerduty(r, n, &key), ca_file.as_deref())
                    .map_err(|SendError(e, f)| SendError(e.replace(key.as_str(), "***"), f))?;
            }
            Ok(Vec::new())
        }
        ReceiverKind::Opsgenie { url, api_key_env, ca_file } => {
            let key = secret(api_key_env, "api_key_env")?;
            for n in batch {
                let (path, body) = body::opsgenie(r, n);
                let all = [
                    ("Authorization".to_string(), format!("GenieKey {key}")),
                    ("X-LogTrack-Id".to_string(), n.id.clone()),
                ];
                let url = format!("{}{path}", url.trim_end_matches('/'));
                post(&url, &all, &body, ca_file.as_deref())
                    .map_err(|SendError(e, f)| SendError(e.replace(key.as_str(), "***"), f))?;
            }
            Ok(Vec::new())
        }
        ReceiverKind::Exec { command, env } => {
            let body =
                serde_json::to_vec(&body::json_body(r, batch, batch_id)).expect("JSON serializes");
            exec(command, env, &body, id, timeout).map_err(fail)?;
            Ok(Vec::new())
        }
        ReceiverKind::Email { smtp, tls, from, to: all_to, username, password_env, ca_file } => {
            let password = match password_env {
                Some(var) => Some(secret(var, "password_env")?),
                None => None,
            };
            let (text, html) = mail_bodies(r, batch);
            let message_id = format!("{id}@logtrack");
            let mail = smtp::Mail {
                from,
                to: to.unwrap_or(all_to),
                subject: &subject(r, batch),
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
            // An error never repeats the password, whatever a server echoes.
            let hide = |e: String| {
                let e = match &password {
                    Some(p) if p.len() >= 3 => e.replace(p.as_str(), "***"),
                    _ => e,
                };
                crate::error::redact_text(&e)
            };
            match smtp::send(&server, &mail) {
                Ok(refused) => Ok(refused
                    .into_iter()
                    .map(|(to, e)| Refusal { failure: e.failure(), error: hide(e.text), to })
                    .collect()),
                Err(e) => Err(SendError(hide(e.text.clone()), e.failure())),
            }
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
    // A site's own settings for its programs, by their prefix.
    for (name, v) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("LOGTRACK_NOTIFICATION_")) {
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
/// the receiver's own `env` list, the variables named `LOGTRACK_NOTIFICATION_*`
/// and `LOGTRACK_NOTIFICATION_ID` (the notification's key).
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
pub(crate) mod tests {
    use super::body::{cut, slack_text};
    use super::*;
    use crate::config::notify::{Events, Grouping, WebhookFormat};

    /// A receiver with the given templates.
    pub(super) fn receiver(title: Option<&str>, text: Option<&str>) -> Receiver {
        Receiver {
            name: "r".into(),
            kind: ReceiverKind::Exec { command: vec!["true".into()], env: Vec::new() },
            min_severity: AlertSeverity::Low,
            rules: None,
            on: Events { open: true, repeat: true, resolved: true },
            repeat_interval: 3600,
            give_up_after: 86_400,
            timeout: 10,
            dashboard_url: Some("https://lt.example.com".into()),
            group: Grouping::Run,
            title: title.map(str::to_string),
            text: text.map(str::to_string),
            matcher: None,
            default: false,
            schedule: Default::default(),
        }
    }

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
        let json =
            webhook_body(&receiver(None, None), WebhookFormat::Json, std::slice::from_ref(&n), "b");
        assert_eq!(json["event"], "open");
        assert_eq!(json["incident"], 42);
        assert_eq!(json["dashboard"], "https://lt.example.com/incidents/42");
        let back: Notification = serde_json::from_value(json).unwrap();
        assert_eq!(back, n);
        let slack = webhook_body(
            &receiver(None, None),
            WebhookFormat::Slack,
            std::slice::from_ref(&n),
            "b",
        );
        assert!(slack["text"].as_str().unwrap().starts_with("NEW [critical] web_5xx service=web"));
        let block = slack["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(block.contains("&lt;b&gt;") && !block.contains("<b>"), "{block}");
        let blocks = slack["blocks"].as_array().unwrap();
        let link = blocks.last().unwrap()["text"]["text"].as_str().unwrap();
        assert_eq!(link, "<https://lt.example.com/incidents/42|Open in the dashboard>");
        let teams = webhook_body(
            &receiver(None, None),
            WebhookFormat::Teams,
            std::slice::from_ref(&n),
            "b",
        );
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
        let slack = webhook_body(
            &receiver(None, None),
            WebhookFormat::Slack,
            std::slice::from_ref(&n),
            "b",
        );
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

        let teams = webhook_body(
            &receiver(None, None),
            WebhookFormat::Teams,
            std::slice::from_ref(&n),
            "b",
        );
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
        let (text, html) = mail_bodies(&receiver(None, None), &batch);
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
        let to = ["oncall@example.com".to_string()];
        let mail = smtp::Mail {
            from: "lt@example.com",
            to: &to,
            subject: &subject(&receiver(None, None), &batch),
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
            subject(&receiver(None, None), &batch),
            "[LogTrack] web-audit: 2 new, 1 resolved (critical)"
        );
        let (text, html) = mail_bodies(&receiver(None, None), &batch);
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
