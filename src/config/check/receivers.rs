//! `[[notify]]`: each receiver's keys, by type (webhook, e-mail, exec), and
//! the job's receivers together (unique names, known rules).

use super::{describe, join, tables, Checker};
use crate::config::notify::*;
use crate::config::{AlertSeverity, HumanDuration};
use figment::value::{Dict, Value};
use std::path::PathBuf;

const COMMON_KEYS: &[&str] = &[
    "name",
    "type",
    "min_severity",
    "rules",
    "on",
    "repeat_interval",
    "give_up_after",
    "timeout",
    "dashboard_url",
    "group",
    "title",
    "text",
    "match",
    "default",
    "active_hours",
    "mute_hours",
    "timezone",
];

const WEBHOOK_KEYS: &[&str] = &["url", "url_env", "headers", "format", "ca_file"];

const EMAIL_KEYS: &[&str] =
    &["smtp", "tls", "from", "to", "username", "password_env", "password", "ca_file"];
const EXEC_KEYS: &[&str] = &["command", "env"];
const PAGERDUTY_KEYS: &[&str] = &["url", "routing_key_env", "routing_key", "ca_file"];
const OPSGENIE_KEYS: &[&str] = &["url", "api_key_env", "api_key", "ca_file"];
const TYPES: &str = "webhook, email, exec, pagerduty or opsgenie";

/// The `notify` list of a job (`rule_ids`: the job's rules, which `rules`
/// must name) and the job's `dashboard_url`.
pub(super) fn receivers(
    c: &mut Checker,
    dict: &Dict,
    rule_ids: &[&str],
    dashboard_url: Option<&str>,
) -> Vec<Receiver> {
    let mut out: Vec<Receiver> = Vec::new();
    for (path, d) in tables(c, dict, "notify") {
        if let Some(mut r) = receiver(c, &d, &path, rule_ids) {
            r.dashboard_url = r.dashboard_url.or(dashboard_url.map(str::to_string));
            if d.contains_key("name") && out.iter().any(|o| o.name == r.name) {
                c.err(&join(&path, "name"), format!("another receiver is named {:?}", r.name));
                continue;
            }
            // Unnamed receivers of one kind and address: numbered.
            let base = r.name.clone();
            let mut n = 1;
            while out.iter().any(|o| o.name == r.name) {
                n += 1;
                r.name = format!("{base} #{n}");
            }
            out.push(r);
        }
    }
    out
}

fn receiver(c: &mut Checker, d: &Dict, path: &str, rule_ids: &[&str]) -> Option<Receiver> {
    let before = c.problems.len();
    let kind_name = c.string(d, "type", path);
    let own: &[&str] = match kind_name.as_deref() {
        Some("webhook") => WEBHOOK_KEYS,
        Some("email") => EMAIL_KEYS,
        Some("exec") => EXEC_KEYS,
        Some("pagerduty") => PAGERDUTY_KEYS,
        Some("opsgenie") => OPSGENIE_KEYS,
        Some(other) => {
            c.err(
                &join(path, "type"),
                format!("unknown receiver type {other:?} (expected {TYPES})"),
            );
            return None;
        }
        None => {
            if !d.contains_key("type") {
                c.err(path, format!("missing key \"type\" ({TYPES})"));
            }
            return None;
        }
    };
    let known: Vec<&str> = COMMON_KEYS.iter().chain(own).copied().collect();
    c.unknown_keys(d, path, &known);
    let min_severity =
        if d.contains_key("min_severity") { c.parsed(d, "min_severity", path) } else { None }
            .unwrap_or(AlertSeverity::Low);
    let rules = d.get("rules").map(|_| strings(c, d, "rules", path));
    for (i, r) in rules.iter().flatten().enumerate() {
        if !rule_ids.contains(&r.as_str()) {
            c.err(&format!("{path}.rules[{i}]"), format!("no rule has the id {r:?}"));
        }
    }
    let on = match d.get("on") {
        None => Events { open: true, repeat: false, resolved: true },
        Some(_) => {
            let mut e = Events { open: false, repeat: false, resolved: false };
            for (i, s) in strings(c, d, "on", path).iter().enumerate() {
                match s.as_str() {
                    "open" => e.open = true,
                    "repeat" => e.repeat = true,
                    "resolved" => e.resolved = true,
                    other => c.err(
                        &format!("{path}.on[{i}]"),
                        format!("unknown event {other:?} (expected open, repeat or resolved)"),
                    ),
                }
            }
            e
        }
    };
    let mut secs = |key: &str, default: i64| {
        if d.contains_key(key) {
            c.duration(d, key, &[], path).map_or(default, HumanDuration::secs)
        } else {
            default
        }
    };
    let repeat_interval = secs("repeat_interval", 4 * 3600);
    let give_up_after = secs("give_up_after", 24 * 3600);
    let timeout = secs("timeout", 10);
    let dashboard_url = c.string(d, "dashboard_url", path);
    let ca_file = c.string(d, "ca_file", path).map(PathBuf::from);
    let (kind, name) = match kind_name.as_deref() {
        Some("webhook") => webhook(c, d, path, ca_file)?,
        Some("email") => email(c, d, path, ca_file)?,
        Some("pagerduty" | "opsgenie") => pager(c, d, path, ca_file)?,
        _ => exec(c, d, path)?,
    };
    let machine = match &kind {
        ReceiverKind::Webhook { format, .. } => *format == WebhookFormat::Json,
        ReceiverKind::Email { .. } => false,
        _ => true,
    };
    let paging = matches!(kind, ReceiverKind::PagerDuty { .. } | ReceiverKind::Opsgenie { .. });
    let group = match c.string(d, "group", path).as_deref() {
        None if machine => Grouping::Incident,
        None => Grouping::Run,
        Some("incident") => Grouping::Incident,
        Some("run") if paging => {
            c.err(
                &join(path, "group"),
                "a paging service is sent one alert per incident: only \"incident\" is possible",
            );
            Grouping::Incident
        }
        Some("run") => Grouping::Run,
        Some(other) => {
            c.err(
                &join(path, "group"),
                format!("unknown value {other:?} (expected run or incident)"),
            );
            Grouping::Run
        }
    };
    let title = template(c, d, "title", path);
    let text = template(c, d, "text", path);
    let matcher = c.matcher(d, "match", path);
    let default = c.boolean(d, "default", path).unwrap_or(false);
    let mut hours = |key: &str| -> Vec<Hours> {
        if !d.contains_key(key) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, s) in strings(c, d, key, path).iter().enumerate() {
            match s.parse::<Hours>() {
                Ok(h) => out.push(h),
                Err(e) => c.err(&format!("{path}.{key}[{i}]"), e),
            }
        }
        out
    };
    let (active, mute) = (hours("active_hours"), hours("mute_hours"));
    let tz = if d.contains_key("timezone") { c.parsed(d, "timezone", path) } else { None };
    let schedule = Schedule { active, mute, tz: tz.unwrap_or_default() };
    if c.problems.len() > before {
        return None;
    }
    Some(Receiver {
        name: c.string(d, "name", path).unwrap_or(name),
        kind,
        min_severity,
        rules,
        on,
        repeat_interval,
        give_up_after,
        timeout,
        dashboard_url,
        group,
        title,
        text,
        matcher,
        default,
        schedule,
    })
}

/// A `title` or `text` template: it compiles, and names only the
/// variables a notification has.
fn template(c: &mut Checker, d: &Dict, key: &str, path: &str) -> Option<String> {
    let src = c.string(d, key, path)?;
    let env = minijinja::Environment::new();
    let names = match env.template_from_str(&src) {
        Ok(t) => t.undeclared_variables(false),
        Err(e) => {
            c.err(&join(path, key), format!("not a valid template: {e}"));
            return None;
        }
    };
    let mut unknown: Vec<&String> = names
        .iter()
        .filter(|n| {
            !TEMPLATE_VARIABLES.contains(&n.as_str()) && !TEMPLATE_GLOBALS.contains(&n.as_str())
        })
        .collect();
    unknown.sort();
    if let Some(n) = unknown.first() {
        c.err(
            &join(path, key),
            format!(
                "unknown variable {n:?} (a notification has {})",
                TEMPLATE_VARIABLES.join(", ")
            ),
        );
        return None;
    }
    Some(src)
}

/// The template engine's own functions.
const TEMPLATE_GLOBALS: &[&str] = &["range", "dict", "namespace", "loop", "debug"];

/// A paging service: PagerDuty (`routing_key_env`) or Opsgenie
/// (`api_key_env`), at their own addresses unless `url` says otherwise.
fn pager(
    c: &mut Checker,
    d: &Dict,
    path: &str,
    ca_file: Option<PathBuf>,
) -> Option<(ReceiverKind, String)> {
    let pagerduty = c.string(d, "type", path).as_deref() == Some("pagerduty");
    let (secret, env_key) =
        if pagerduty { ("routing_key", "routing_key_env") } else { ("api_key", "api_key_env") };
    if d.contains_key(secret) {
        c.err(
            &join(path, secret),
            format!("keys are not read from job files: put it in an environment variable and name it with {env_key}"),
        );
    }
    let var = required(c, d, path, env_key);
    let url = c
        .string(d, "url", path)
        .unwrap_or_else(|| if pagerduty { PAGERDUTY_URL } else { OPSGENIE_URL }.to_string());
    let host = match crate::net::Url::parse(&url) {
        Ok(u) => u.host,
        Err(e) => {
            c.err(&join(path, "url"), e);
            String::new()
        }
    };
    let var = var.unwrap_or_default();
    Some(if pagerduty {
        (
            ReceiverKind::PagerDuty { url, routing_key_env: var, ca_file },
            format!("pagerduty {host}"),
        )
    } else {
        (ReceiverKind::Opsgenie { url, api_key_env: var, ca_file }, format!("opsgenie {host}"))
    })
}

/// A list of text values (one string is a list of one).
fn strings(c: &mut Checker, d: &Dict, key: &str, path: &str) -> Vec<String> {
    match d.get(key) {
        Some(Value::Array(_, items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v.as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    c.err(
                        &format!("{path}.{key}[{i}]"),
                        format!("expected text, found {}", describe(v)),
                    );
                    None
                }
            })
            .collect(),
        Some(Value::String(_, s)) => vec![s.clone()],
        Some(other) => {
            c.err(&join(path, key), format!("expected a list, found {}", describe(other)));
            Vec::new()
        }
        None => Vec::new(),
    }
}

fn is_local(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A text that must be given (an empty one is only taken as missing).
fn required(c: &mut Checker, d: &Dict, path: &str, key: &str) -> Option<String> {
    let v = c.string(d, key, path).filter(|s| !s.is_empty());
    if v.is_none() && !d.contains_key(key) {
        c.err(path, format!("missing key {key:?}"));
    }
    v
}

/// A webhook: `url` or `url_env`, `headers`, `format` (json, slack, teams).
fn webhook(
    c: &mut Checker,
    d: &Dict,
    path: &str,
    ca_file: Option<PathBuf>,
) -> Option<(ReceiverKind, String)> {
    let url = match (d.contains_key("url"), d.contains_key("url_env")) {
        (true, true) => {
            c.err(path, "give only one of url, url_env");
            None
        }
        (false, true) => {
            let var = c.string(d, "url_env", path)?;
            match std::env::var(&var) {
                Ok(u) if !u.is_empty() => Some(u),
                _ => {
                    c.err(
                        &join(path, "url_env"),
                        format!("the environment variable {var} is not set"),
                    );
                    None
                }
            }
        }
        _ => required(c, d, path, "url"),
    };
    let host = match url.as_deref().map(crate::net::Url::parse) {
        Some(Ok(u)) => Some(u.host),
        Some(Err(e)) => {
            let key = if d.contains_key("url") { "url" } else { "url_env" };
            c.err(&join(path, key), e);
            None
        }
        None => None,
    };
    let mut headers = Vec::new();
    match d.get("headers") {
        None => {}
        Some(Value::Dict(_, h)) => {
            for k in h.keys() {
                let at = join(&join(path, "headers"), k);
                let valid = !k.is_empty()
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                match c.string(h, k, &join(path, "headers")) {
                    Some(v) if valid && !v.contains(['\r', '\n']) => headers.push((k.clone(), v)),
                    Some(_) => c.err(&at, "not a valid header name and value"),
                    None => {}
                }
            }
        }
        Some(other) => c.err(
            &join(path, "headers"),
            format!("expected a table of header names and values, found {}", describe(other)),
        ),
    }
    let format = match c.string(d, "format", path).as_deref() {
        None | Some("json") => WebhookFormat::Json,
        Some("slack") => WebhookFormat::Slack,
        Some("teams") => WebhookFormat::Teams,
        Some(other) => {
            c.err(
                &join(path, "format"),
                format!("unknown format {other:?} (expected json, slack or teams)"),
            );
            WebhookFormat::Json
        }
    };
    let name = format!("webhook {}", host.unwrap_or_default());
    Some((ReceiverKind::Webhook { url: url.unwrap_or_default(), headers, format, ca_file }, name))
}

/// E-mail: `smtp`, `tls`, `from`, `to`, `username` and `password_env`.
fn email(
    c: &mut Checker,
    d: &Dict,
    path: &str,
    ca_file: Option<PathBuf>,
) -> Option<(ReceiverKind, String)> {
    if d.contains_key("password") {
        c.err(
            &join(path, "password"),
            "passwords are not read from job files: put it in an environment variable and name it with password_env",
        );
    }
    let smtp = required(c, d, path, "smtp");
    let host = smtp.as_deref().and_then(|s| match split_host_port(s) {
        Some((h, _)) => Some(h.to_string()),
        None => {
            c.err(&join(path, "smtp"), format!("expected host:port, found {s:?}"));
            None
        }
    });
    let tls = match c.string(d, "tls", path).as_deref() {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(other) => {
            c.err(
                &join(path, "tls"),
                format!("unknown value {other:?} (expected starttls, tls or none)"),
            );
            SmtpTls::StartTls
        }
    };
    if tls == SmtpTls::None {
        if let Some(h) = host.as_deref().filter(|h| !is_local(h)) {
            c.err(
                &join(path, "tls"),
                format!("\"none\" sends mail and passwords in clear: only for a relay on this host (localhost), not {h:?}"),
            );
        }
    }
    let from = required(c, d, path, "from");
    let to = if d.contains_key("to") {
        match d.get("to") {
            Some(Value::String(_, s)) => vec![s.clone()],
            _ => strings(c, d, "to", path),
        }
    } else {
        c.err(path, "missing key \"to\"");
        Vec::new()
    };
    for a in from.iter().chain(&to) {
        if !a.contains('@') || a.contains(['\r', '\n', '<', '>']) {
            c.err(path, format!("{a:?} is not an e-mail address"));
        }
    }
    if d.contains_key("to") && to.is_empty() {
        c.err(&join(path, "to"), "must name at least one address");
    }
    let name = format!("email {}", to.first().map(String::as_str).unwrap_or(""));
    let kind = ReceiverKind::Email {
        smtp: smtp.unwrap_or_default(),
        tls,
        from: from.unwrap_or_default(),
        to,
        username: c.string(d, "username", path),
        password_env: c.string(d, "password_env", path),
        ca_file,
    };
    Some((kind, name))
}

/// A program (the type `exec`, and the default): `command`, run without a
/// shell, and `env`, the variables it may see.
fn exec(c: &mut Checker, d: &Dict, path: &str) -> Option<(ReceiverKind, String)> {
    let command = if d.contains_key("command") {
        strings(c, d, "command", path)
    } else {
        c.err(path, "missing key \"command\" (the program and its arguments, as a list)");
        Vec::new()
    };
    if d.contains_key("command") && command.is_empty() {
        c.err(&join(path, "command"), "must name a program");
    }
    let program = command.first().map(|p| {
        std::path::Path::new(p).file_name().map_or(p.clone(), |f| f.to_string_lossy().into())
    });
    let env = if d.contains_key("env") { strings(c, d, "env", path) } else { Vec::new() };
    for (i, name) in env.iter().enumerate() {
        if name.is_empty() || name.contains(['=', '\0']) {
            c.err(
                &format!("{path}.env[{i}]"),
                format!("{name:?} is not an environment variable's name"),
            );
        }
    }
    let name = format!("exec {}", program.unwrap_or_default());
    Some((ReceiverKind::Exec { command, env }, name))
}
