//! Which LogTrack sources a Sigma `logsource` names, and where each Sigma
//! field name is found in their records (docs/sigma.md has the table).

use super::LogSource;

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
    pub fn field(&self, name: &str) -> Result<&'static str, String> {
        let found = match self {
            Kind::CloudTrail => match name {
                "eventName" => Some("message"),
                "eventSource" => Some("service"),
                "sourceIPAddress" => Some("fields.source_ip"),
                "userAgent" => Some("fields.user_agent"),
                "errorCode" => Some("fields.error_code"),
                "errorMessage" => Some("fields.error_message"),
                "awsRegion" => Some("fields.region"),
                "eventID" => Some("fields.event_id"),
                "requestID" => Some("fields.request_id"),
                "eventType" => Some("fields.event_type"),
                "eventCategory" => Some("fields.event_category"),
                "recipientAccountId" => Some("fields.account_id"),
                "userIdentity.type" => Some("fields.identity_type"),
                "userIdentity.arn" => Some("fields.arn"),
                _ => None,
            },
            Kind::Web => match name {
                "cs-method" => Some("fields.method"),
                "cs-uri-stem" => Some("fields.path (before ?)"),
                "cs-uri-query" | "cs-uri" => Some("fields.path (the request target as logged)"),
                "c-ip" => Some("fields.client_ip"),
                "cs-username" => Some("user"),
                "sc-status" => Some("fields.status"),
                "cs-user-agent" => Some("fields.user_agent"),
                "cs-referer" => Some("fields.referer"),
                "sc-bytes" => Some("fields.bytes"),
                "cs-version" => Some("fields.protocol"),
                _ => None,
            },
            Kind::ErrorLog(_) | Kind::Linux(_) => None,
        };
        found.ok_or_else(|| format!("{} records have no field {name:?}", self.describe()))
    }
}
