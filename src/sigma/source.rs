//! Which LogTrack sources a Sigma `logsource` names, where each Sigma
//! field name is found in their records (docs/sigma.md has the table), and
//! which kind of source a record comes from (by its shape, so that a
//! record parsed now and the same record read back from the database are
//! the same kind).

use super::LogSource;
use crate::parse::Record;

/// A kind of LogTrack source a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `product: aws`, `service: cloudtrail`.
    CloudTrail,
    /// `category: webserver`: access logs.
    Web,
    /// `product: apache` / `nginx` without a category: their error logs.
    ErrorLog(&'static str),
    /// `product: linux`: syslog and journald, narrowed to these programs
    /// when the rule names a service.
    Linux(Option<Vec<&'static str>>),
}

/// The access-log formats (`category: webserver`).
pub const WEB_FORMATS: [&str; 6] = ["combined", "common", "clf", "nginx", "apache:", "nginx:"];

/// The programs a Linux `service` stands for.
fn programs(service: &str) -> Option<Vec<&'static str>> {
    Some(match service {
        "sshd" => vec!["sshd"],
        "auth" => vec![
            "sshd",
            "sudo",
            "su",
            "login",
            "passwd",
            "useradd",
            "usermod",
            "groupadd",
            "systemd-logind",
            "polkitd",
            "pam",
        ],
        "sudo" => vec!["sudo"],
        "cron" => vec!["cron", "crond", "CRON", "anacron"],
        "vsftpd" => vec!["vsftpd"],
        "clamav" => vec!["clamd", "freshclam", "clamav", "clamscan"],
        "guacamole" => vec!["guacd", "guacamole"],
        "syslog" => return None,
        _ => return None,
    })
}

/// The kind of source `ls` names (`None`: no LogTrack source).
pub fn kind(ls: &LogSource) -> Option<Kind> {
    let (p, s, c) = (ls.product.as_deref(), ls.service.as_deref(), ls.category.as_deref());
    match (p, s, c) {
        (Some("aws"), Some("cloudtrail"), None) => Some(Kind::CloudTrail),
        (_, _, Some("webserver")) => Some(Kind::Web),
        (Some("apache"), _, None) | (None, Some("apache"), None) => {
            Some(Kind::ErrorLog("apache-error"))
        }
        (Some("nginx"), _, None) | (None, Some("nginx"), None) => {
            Some(Kind::ErrorLog("nginx-error"))
        }
        (Some("linux"), service, None) => Some(Kind::Linux(service.and_then(programs))),
        _ => None,
    }
}

impl Kind {
    /// In words, for `sigma check`.
    pub fn describe(&self) -> String {
        match self {
            Kind::CloudTrail => "cloudtrail".into(),
            Kind::Web => "access logs (combined, common, nginx, apache:…)".into(),
            Kind::ErrorLog(f) => (*f).into(),
            Kind::Linux(None) => "syslog, journald".into(),
            Kind::Linux(Some(p)) => format!("syslog, journald (programs {})", p.join(", ")),
        }
    }

    /// Whether a source of `format` is of this kind.
    pub fn takes_format(&self, format: &str) -> bool {
        match self {
            Kind::CloudTrail => format == "cloudtrail",
            Kind::Web => WEB_FORMATS.iter().any(|f| {
                if f.ends_with(':') {
                    format.starts_with(f)
                } else {
                    format == *f
                }
            }),
            Kind::ErrorLog(f) => format == *f,
            Kind::Linux(_) => format == "syslog" || format == "journald",
        }
    }

    /// Where the Sigma field `name` is in a record of this kind, or why it
    /// cannot be read.
    pub fn field(&self, name: &str) -> Result<String, String> {
        self.slot(name)
            .map(Slot::describe)
            .ok_or_else(|| format!("{} records have no field {name:?}", self.describe()))
    }

    /// Where the Sigma field `name` is in a record of this kind.
    pub fn slot(&self, name: &str) -> Option<Slot> {
        let f = Slot::Field;
        match self {
            Kind::CloudTrail => match name {
                "eventName" => Some(Slot::Message),
                "eventSource" => Some(Slot::Service),
                "sourceIPAddress" => Some(f("source_ip")),
                "userAgent" => Some(f("user_agent")),
                "errorCode" => Some(f("error_code")),
                "errorMessage" => Some(f("error_message")),
                "awsRegion" => Some(f("region")),
                "eventID" => Some(f("event_id")),
                "requestID" => Some(f("request_id")),
                "eventType" => Some(f("event_type")),
                "eventCategory" => Some(f("event_category")),
                "recipientAccountId" => Some(f("account_id")),
                "userIdentity.type" => Some(f("identity_type")),
                "userIdentity.arn" => Some(f("arn")),
                "userIdentity.sessionContext.sessionIssuer.type" => Some(f("session_issuer_type")),
                _ => {
                    let (top, _) = name.split_once('.').unwrap_or((name, ""));
                    match top {
                        "requestParameters" => Some(Slot::Json("request_parameters")),
                        "responseElements" => Some(Slot::Json("response_elements")),
                        "additionalEventData" => Some(Slot::Json("additional_event_data")),
                        _ => None,
                    }
                }
            },
            Kind::Web => match name {
                "cs-method" => Some(f("method")),
                "cs-uri-stem" => Some(Slot::PathStem),
                // SigmaHQ's web rules put paths in `cs-uri-query`: the
                // request target as logged.
                "cs-uri-query" | "cs-uri" => Some(f("path")),
                "c-ip" => Some(f("client_ip")),
                "cs-username" => Some(Slot::User),
                "sc-status" => Some(f("status")),
                "cs-user-agent" => Some(f("user_agent")),
                "cs-referer" => Some(f("referer")),
                "sc-bytes" => Some(f("bytes")),
                "cs-version" => Some(f("protocol")),
                _ => None,
            },
            Kind::ErrorLog(_) | Kind::Linux(_) => None,
        }
    }
}

/// The kind of source a record comes from, by the fields its parser
/// always writes (null when the line has no value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `event_type` and `identity_type`.
    CloudTrail,
    /// `method`, `protocol` and `status`: an access log.
    Web,
    /// `client_port` and `tid` (with `connection`: nginx's).
    ApacheError,
    NginxError,
    /// Anything else with a host and a program: syslog, journald.
    Linux,
    Other,
}

/// The record fields that tell the families apart: a reader of stored
/// rows fetches them for Sigma rules.
pub const FAMILY_FIELDS: [&str; 8] = [
    "event_type",
    "identity_type",
    "method",
    "protocol",
    "status",
    "client_port",
    "tid",
    "connection",
];

pub fn family(r: &Record<'_>) -> Family {
    // One pass over the fields: a bit per name of FAMILY_FIELDS.
    let mut seen = 0u8;
    for (n, _) in &r.fields {
        seen |= match &**n {
            "event_type" => 1,
            "identity_type" => 2,
            "method" => 4,
            "protocol" => 8,
            "status" => 16,
            "client_port" => 32,
            "tid" => 64,
            "connection" => 128,
            _ => 0,
        };
    }
    let has = |bits: u8| seen & bits == bits;
    if has(1 | 2) {
        Family::CloudTrail
    } else if has(4 | 8 | 16) {
        Family::Web
    } else if has(32 | 64) {
        if has(128) {
            Family::NginxError
        } else {
            Family::ApacheError
        }
    } else if r.host.is_some() {
        Family::Linux
    } else {
        Family::Other
    }
}

impl Kind {
    /// Whether the value of the Sigma field `name` is to be looked for in
    /// the rendered line of records of this kind (an access log's fields
    /// are in it; see `RecordEvent::in_line` for each record).
    pub fn in_line(&self, name: &str) -> bool {
        *self == Kind::Web && self.slot(name).is_some()
    }

    /// Whether the rules of this kind apply to a record of `family` whose
    /// service (a syslog record's program) is `service`.
    pub fn applies(&self, family: Family, service: &str) -> bool {
        match (self, family) {
            (Kind::CloudTrail, Family::CloudTrail) | (Kind::Web, Family::Web) => true,
            (Kind::ErrorLog(f), Family::ApacheError) => *f == "apache-error",
            (Kind::ErrorLog(f), Family::NginxError) => *f == "nginx-error",
            (Kind::Linux(None), Family::Linux) => true,
            (Kind::Linux(Some(programs)), Family::Linux) => programs.contains(&service),
            _ => false,
        }
    }
}

/// Where a Sigma field is in a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Message,
    Service,
    User,
    Field(&'static str),
    /// `fields.path` before its `?`.
    PathStem,
    /// A field that holds a JSON object as written; a dotted name reads
    /// into it (`requestParameters.userName`), the name alone is its text.
    Json(&'static str),
}

impl Slot {
    /// In words (`docs/sigma.md`, `sigma check`).
    pub fn describe(self) -> String {
        match self {
            Slot::Message => "message".into(),
            Slot::Service => "service".into(),
            Slot::User => "user".into(),
            Slot::Field(k) => format!("fields.{k}"),
            Slot::PathStem => "fields.path (before ?)".into(),
            Slot::Json(k) => format!("fields.{k} (JSON)"),
        }
    }
}
