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
    /// `active_hours`, `mute_hours` and their `timezone`.
    pub schedule: Schedule,
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

/// `[[inhibit]]`: while an incident matching `source` is open, incidents
/// matching `target` whose `equal` labels are the same are not told (they
/// are stored and shown as inhibited).
#[derive(Clone, Debug, PartialEq)]
pub struct Inhibit {
    pub source: crate::expr::Expr,
    pub target: crate::expr::Expr,
    /// Labels (`service`, `rule`, `severity`, `job`, `group.<key>`) that
    /// must be the same in both; a label both lack is the same.
    pub equal: Vec<String>,
}

/// A span of the week a receiver's hours name: `"mon-fri 09:00-18:00"`,
/// `"sat,sun"`, `"22:00-07:00"` (every day; past midnight it goes on into
/// the next day).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hours {
    /// Monday first.
    pub days: [bool; 7],
    /// Minutes of the day: from, and to (not included); `to <= from` goes
    /// on past midnight.
    pub from: u32,
    pub to: u32,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl std::str::FromStr for Hours {
    type Err = String;

    fn from_str(s: &str) -> Result<Hours, String> {
        let expected = || {
            format!("{s:?}: expected days and/or a time span, such as \"mon-fri 09:00-18:00\", \"sat,sun\" or \"22:00-07:00\"")
        };
        let (mut days, mut span) = ([true; 7], (0, 24 * 60));
        let mut parts = s.split_whitespace();
        let (first, second) = (parts.next(), parts.next());
        if parts.next().is_some() || first.is_none() {
            return Err(expected());
        }
        let time = |t: &str| -> Option<u32> {
            let (h, m) = t.split_once(':')?;
            let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0)) && t.len() <= 5).then_some(h * 60 + m)
        };
        for part in [first, second].into_iter().flatten() {
            if part.contains(':') {
                let (a, b) = part.split_once('-').ok_or_else(expected)?;
                span = (time(a).ok_or_else(expected)?, time(b).ok_or_else(expected)?);
                continue;
            }
            let day = |d: &str| DAY_NAMES.iter().position(|n| n.eq_ignore_ascii_case(d));
            days = [false; 7];
            for item in part.split(',') {
                match item.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (day(a).ok_or_else(expected)?, day(b).ok_or_else(expected)?);
                        // "fri-mon" wraps over the weekend.
                        let mut d = a;
                        loop {
                            days[d] = true;
                            if d == b {
                                break;
                            }
                            d = (d + 1) % 7;
                        }
                    }
                    None => days[day(item).ok_or_else(expected)?] = true,
                }
            }
        }
        Ok(Hours { days, from: span.0, to: span.1 })
    }
}

impl Hours {
    /// Whether the local time of `weekday` (Monday 0) and `minute` of the
    /// day is in the span.
    pub fn holds(&self, weekday: usize, minute: u32) -> bool {
        if self.from < self.to {
            return self.days[weekday] && (self.from..self.to).contains(&minute);
        }
        // Past midnight: the evening of a listed day, and the morning after.
        (self.days[weekday] && minute >= self.from)
            || (self.days[(weekday + 6) % 7] && minute < self.to)
    }
}

/// When a receiver is told: its active hours (always, when none) less its
/// mute hours, in its time zone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    pub active: Vec<Hours>,
    pub mute: Vec<Hours>,
    pub tz: crate::parse::Tz,
}

impl Schedule {
    /// Whether the receiver is told at `utc` (seconds).
    pub fn open_at(&self, utc: i64) -> bool {
        if self.active.is_empty() && self.mute.is_empty() {
            return true;
        }
        let local = self.tz.utc_to_local(utc);
        let days = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday (3, Monday first).
        let weekday = (days + 3).rem_euclid(7) as usize;
        let minute = (local.rem_euclid(86_400) / 60) as u32;
        (self.active.is_empty() || self.active.iter().any(|h| h.holds(weekday, minute)))
            && !self.mute.iter().any(|h| h.holds(weekday, minute))
    }
}

/// A silence: from `starts` to `ends` (wall-clock seconds, `ends` not
/// included), incidents whose labels `matcher` matches are not told (they
/// are stored and shown as silenced). Written in a job file
/// (`[[silence]]`), or stored by `logtrack silence add` and the dashboard.
#[derive(Clone, Debug, PartialEq)]
pub struct Silence {
    /// The stored silence's number (`None`: a job file's, not stored).
    pub id: Option<i64>,
    /// A job file's: its place among the file's `[[silence]]` blocks (from 1).
    pub ordinal: Option<i32>,
    pub matcher: crate::expr::Expr,
    pub starts: i64,
    pub ends: i64,
    pub comment: String,
    /// Who made it (`job file` for a job file's).
    pub created_by: String,
}

impl Silence {
    /// Whether it holds at `t` (wall-clock seconds).
    pub fn active_at(&self, t: i64) -> bool {
        self.starts <= t && t < self.ends
    }

    /// How people see which silence it is: `silence 12`, or `[[silence]] 2`
    /// of the job file (the same with a database or without).
    pub fn name(&self) -> String {
        match (self.ordinal, self.id) {
            (Some(n), _) => format!("[[silence]] {n}"),
            (None, Some(id)) => format!("silence {id}"),
            (None, None) => "a silence".to_string(),
        }
    }
}
