//! `[[notify]]`: where alerts are delivered (webhooks, e-mail, a program),
//! which of them, and how often.

use super::AlertSeverity;
use std::path::PathBuf;

/// One receiver of notifications.
#[derive(Clone, Debug, PartialEq)]
pub struct Receiver {
    /// Unique within the job: outbox rows are kept per receiver name.
    pub name: String,
    pub kind: ReceiverKind,
    /// Incidents below this severity are not sent.
    pub min_severity: AlertSeverity,
    /// Only these rules' incidents (all when `None`).
    pub rules: Option<Vec<String>>,
    pub on: Events,
    /// An open incident that keeps firing is sent again at most this often
    /// (seconds of the data's time).
    pub repeat_interval: i64,
    /// A notification not delivered this long after it was made is given
    /// up (seconds).
    pub give_up_after: i64,
    /// Seconds a send may take (connect, answer, or a program's run).
    pub timeout: i64,
    /// The dashboard's address, for links to the incident.
    pub dashboard_url: Option<String>,
    /// One message per run, or one per notification.
    pub group: Grouping,
    /// Templates of a notification's title and text (see
    /// [`crate::notify::render`]); the built-in text when `None`.
    pub title: Option<String>,
    pub text: Option<String>,
    /// `match`: only alerts whose labels match (with `min_severity` and
    /// `rules`).
    pub matcher: Option<crate::expr::Expr>,
    /// `default = true`: only what no other receiver is sent.
    pub default: bool,
}

/// How a receiver's notifications are put into messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// One message per receiver per run, listing every notification of the
    /// run (the default for chat and e-mail).
    Run,
    /// One message per notification (the default for machines: JSON
    /// webhooks, programs, paging services).
    Incident,
}

/// The events a receiver is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Events {
    pub open: bool,
    pub repeat: bool,
    pub resolved: bool,
}

impl Events {
    pub fn wants(&self, event: &str) -> bool {
        match event {
            "open" => self.open,
            "repeat" => self.repeat,
            "resolved" => self.resolved,
            _ => true,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ReceiverKind {
    Webhook {
        url: String,
        headers: Vec<(String, String)>,
        format: WebhookFormat,
        ca_file: Option<PathBuf>,
    },
    Email {
        /// `host:port`.
        smtp: String,
        tls: SmtpTls,
        from: String,
        to: Vec<String>,
        username: Option<String>,
        /// The environment variable that holds the password.
        password_env: Option<String>,
        ca_file: Option<PathBuf>,
    },
    Exec {
        command: Vec<String>,
        /// Variables passed on from LogTrack's environment besides `PATH`,
        /// `HOME`, `LANG` and `TZ` (the program sees no other).
        env: Vec<String>,
    },
    /// PagerDuty's Events API v2: one alert per incident, triggered and
    /// resolved by the incident's key.
    PagerDuty {
        /// The events endpoint (PagerDuty's own unless overridden).
        url: String,
        /// The environment variable that holds the integration's routing key.
        routing_key_env: String,
        ca_file: Option<PathBuf>,
    },
    /// Opsgenie's Alert API: one alert per incident (its alias), closed when
    /// the incident is resolved.
    Opsgenie {
        /// The API's base address (`https://api.opsgenie.com`, or the EU's).
        url: String,
        /// The environment variable that holds the API integration's key.
        api_key_env: String,
        ca_file: Option<PathBuf>,
    },
}

/// What a receiver's `title` and `text` templates may name: the fields of
/// a notification (see `docs/notifications.md`).
pub const TEMPLATE_VARIABLES: &[&str] = &[
    "schema_version",
    "event",
    "id",
    "incident",
    "incident_key",
    "job",
    "rule_id",
    "rule_type",
    "severity",
    "group",
    "window_start",
    "window_end",
    "count",
    "message",
    "first_seen",
    "last_seen",
    "occurrences",
    "runs",
    "state",
    "evidence",
    "report",
    "dashboard",
    "created",
    "description",
    "runbook",
    "headline",
];

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Opsgenie's API (US; the EU's is `https://api.eu.opsgenie.com`).
pub const OPSGENIE_URL: &str = "https://api.opsgenie.com";

impl ReceiverKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            ReceiverKind::Webhook { .. } => "webhook",
            ReceiverKind::Email { .. } => "email",
            ReceiverKind::Exec { .. } => "exec",
            ReceiverKind::PagerDuty { .. } => "pagerduty",
            ReceiverKind::Opsgenie { .. } => "opsgenie",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFormat {
    /// LogTrack's own JSON (documented in the README).
    Json,
    Slack,
    Teams,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (refused if not offered).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only to a relay on the same host.
    None,
}

/// `host:port` (IPv6 hosts in brackets).
pub fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let port = port.parse().ok()?;
    (!host.is_empty()).then_some((host, port))
}
