//! `journalctl -o json`: one journal entry per line.
//!
//! `ts` from `__REALTIME_TIMESTAMP` (microseconds), `message` from `MESSAGE`
//! (a string, or an array of bytes when the journal holds text that is not
//! UTF-8: repaired with U+FFFD), severity from `PRIORITY` (syslog levels),
//! `service` from `SYSLOG_IDENTIFIER`, else `_SYSTEMD_UNIT`, else `_COMM`,
//! `host` from `_HOSTNAME`. `fields` keep `pid`, `unit`, `facility`,
//! `syslog_severity`, `comm` and `transport`; the journal's other trusted
//! fields (cursors, boot and machine ids...) are left out. Authentication
//! events are extracted as in syslog.

use super::flat::{self, Fields};
use super::syslog::{with_auth, FACILITIES, SEVERITIES};
use super::Timestamp;
use super::{line_outcome, Outcome, Parser, Record, Severity, Value};
use std::borrow::Cow;

pub struct JournaldParser {
    service: String,
}

impl JournaldParser {
    pub fn new(service: String) -> Self {
        JournaldParser { service }
    }
}

impl Parser for JournaldParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        line_outcome(line, || self.parse_line(line))
    }
}

fn take<'a>(fields: &mut Fields<'a>, key: &str) -> Option<Value<'a>> {
    let i = fields.iter().position(|(k, _)| k == key)?;
    Some(fields.swap_remove(i).1)
}

fn small_number(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `MESSAGE` as text: a string, or bytes repaired into UTF-8.
fn message<'a>(v: Value<'a>) -> Result<Cow<'a, str>, String> {
    match v {
        Value::Str(s) => Ok(s),
        Value::Null => Ok(Cow::Borrowed("")),
        Value::List(items) => {
            let mut bytes = Vec::with_capacity(items.len());
            for item in &items {
                match item {
                    Value::Int(n) if (0..=255).contains(n) => bytes.push(*n as u8),
                    other => {
                        return Err(format!(
                            "MESSAGE byte array holds {}, not a byte",
                            other.to_text().unwrap_or_default()
                        ))
                    }
                }
            }
            Ok(Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()))
        }
        other => Ok(Cow::Owned(other.to_text().map(Cow::into_owned).unwrap_or_default())),
    }
}

impl JournaldParser {
    fn parse_line<'a>(&'a self, line: &'a [u8]) -> Result<Record<'a>, String> {
        let mut all: Fields<'a> = Vec::with_capacity(32);
        flat::object(line, &mut all)?;
        let ts = match take(&mut all, "__REALTIME_TIMESTAMP") {
            Some(v) => {
                let us = small_number(&v).ok_or_else(|| {
                    "__REALTIME_TIMESTAMP is not a number of microseconds".to_string()
                })?;
                if us < 0 {
                    return Err(format!("__REALTIME_TIMESTAMP {us} is negative"));
                }
                // Always microseconds, whatever its size.
                Timestamp {
                    secs: us / 1_000_000,
                    nanos: (us % 1_000_000) as u32 * 1000,
                    frac_digits: 6,
                }
            }
            None => return Err("no __REALTIME_TIMESTAMP: is this journalctl -o json?".into()),
        };
        let message = message(take(&mut all, "MESSAGE").unwrap_or(Value::Null))?;
        let priority = take(&mut all, "PRIORITY")
            .as_ref()
            .and_then(small_number)
            .filter(|p| (0..=7).contains(p));
        let facility = take(&mut all, "SYSLOG_FACILITY")
            .as_ref()
            .and_then(small_number)
            .filter(|f| (0..24).contains(f));
        let text_of = |v: Option<Value<'a>>| match v {
            Some(Value::Str(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let ident = text_of(take(&mut all, "SYSLOG_IDENTIFIER"));
        let unit = text_of(take(&mut all, "_SYSTEMD_UNIT"));
        let comm = text_of(take(&mut all, "_COMM"));
        let host = text_of(take(&mut all, "_HOSTNAME"));
        let pid = take(&mut all, "_PID").or_else(|| take(&mut all, "SYSLOG_PID"));
        let transport = text_of(take(&mut all, "_TRANSPORT"));
        let service = ident
            .clone()
            .or_else(|| {
                unit.as_ref().map(|u| Cow::Owned(u.trim_end_matches(".service").to_string()))
            })
            .or_else(|| comm.clone())
            .unwrap_or(Cow::Borrowed(self.service.as_str()));
        let opt = |v: Option<Cow<'a, str>>| v.map_or(Value::Null, Value::Str);
        let fields = vec![
            (
                Cow::Borrowed("pid"),
                pid.as_ref().and_then(small_number).map_or(Value::Null, Value::Int),
            ),
            (Cow::Borrowed("unit"), opt(unit)),
            (
                Cow::Borrowed("facility"),
                facility.map_or(Value::Null, |f| Value::str(FACILITIES[f as usize])),
            ),
            (
                Cow::Borrowed("syslog_severity"),
                priority.map_or(Value::Null, |p| Value::str(SEVERITIES[p as usize])),
            ),
            (Cow::Borrowed("comm"), opt(comm)),
            (Cow::Borrowed("transport"), opt(transport)),
        ];
        let mut r = Record {
            auth_role: None,
            ts: Some(ts),
            service,
            host,
            severity: priority.and_then(|p| Severity::from_syslog(p as u8)),
            message,
            user: None,
            fields,
        };
        with_auth(&mut r);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Outcome<'_> {
        // Leaked: the parser outlives the test's borrow of it.
        let p: &'static JournaldParser =
            Box::leak(Box::new(JournaldParser::new("journald".into())));
        p.parse(line.as_bytes())
    }

    #[test]
    fn entry_with_auth_event() {
        let line = r#"{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1714564800123456","_BOOT_ID":"b","PRIORITY":"6","SYSLOG_FACILITY":"10","SYSLOG_IDENTIFIER":"sshd","_PID":"811","_COMM":"sshd","_SYSTEMD_UNIT":"ssh.service","_HOSTNAME":"web1","MESSAGE":"Failed password for invalid user admin from 198.51.100.4 port 50000 ssh2","_TRANSPORT":"syslog"}"#;
        let Outcome::Record(r) = parse(line) else { panic!() };
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2024-05-01T12:00:00.123456Z");
        assert_eq!(
            (&*r.service, r.host.as_deref(), r.user.as_deref()),
            ("sshd", Some("web1"), Some("admin"))
        );
        assert_eq!(r.severity, Some(Severity::Warn));
        assert_eq!(r.field("client_ip"), Some(&Value::str("198.51.100.4")));
        assert_eq!(r.field("facility"), Some(&Value::str("authpriv")));
        assert_eq!(r.field("pid"), Some(&Value::Int(811)));
    }

    #[test]
    fn byte_array_messages_and_hostile_entries() {
        let line = r#"{"__REALTIME_TIMESTAMP":"1714564800000000","MESSAGE":[104,105,255,10],"_SYSTEMD_UNIT":"app.service"}"#;
        let Outcome::Record(r) = parse(line) else { panic!() };
        assert_eq!((&*r.message, &*r.service), ("hi\u{fffd}\n", "app"));
        for (line, why) in [
            (r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":[104,300]}"#, "not a byte"),
            (r#"{"MESSAGE":"x"}"#, "no __REALTIME_TIMESTAMP"),
            (r#"{"__REALTIME_TIMESTAMP":"-1","MESSAGE":"x"}"#, "negative"),
            (r#"{"__REALTIME_TIMESTAMP":"soon","MESSAGE":"x"}"#, "not a number"),
            (r#"{"__REALTIME_TIMESTAMP":"1""#, "not valid JSON"),
        ] {
            match parse(line) {
                Outcome::Reject(r) => assert!(r.contains(why), "{line}: {r}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }
}
