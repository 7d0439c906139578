//! `[[sources]]`: each source's path, format, service, time zone, reject
//! ratio, key mapping and time format.

use super::{describe, join, tables, Checker, SOURCE_KEYS};
use crate::config::SourceSpec;
use crate::parse::{Format, Tz};
use figment::value::{Dict, Value};

/// Every `[[sources]]` entry that checks out (the others leave problems).
pub(super) fn sources(c: &mut Checker, dict: &Dict) -> Vec<SourceSpec> {
    let mut sources = Vec::new();
    for (path, d) in tables(c, dict, "sources") {
        sources.extend(source(c, &d, &path));
    }
    sources
}

/// One `[[sources]]` entry, at key path `path`.
fn source(c: &mut Checker, d: &Dict, path: &str) -> Option<SourceSpec> {
    c.unknown_keys(d, path, SOURCE_KEYS);
    let file = c.string(d, "path", path);
    if file.is_none() && !d.contains_key("path") {
        c.err(path, "missing key \"path\"");
    }
    let format = if d.contains_key("format") {
        c.parsed::<Format>(d, "format", path)
    } else {
        Some(Format::Auto)
    };
    let timezone = if d.contains_key("timezone") {
        c.parsed::<Tz>(d, "timezone", path)
    } else {
        Some(Tz::default())
    };
    let ratio = match c.number(d, "max_reject_ratio", path) {
        Some(r) if (0.0..=1.0).contains(&r) => Some(r),
        Some(r) => {
            c.err(
                &join(path, "max_reject_ratio"),
                format!("expected a ratio between 0 and 1, found {r}"),
            );
            None
        }
        None => Some(0.5),
    };
    let service = c.string(d, "service", path);
    let mut mapping = crate::parse::mapped::Mapping::default();
    match d.get("mapping") {
        None => {}
        Some(Value::Dict(_, m)) => {
            let at = join(path, "mapping");
            c.unknown_keys(m, &at, &crate::parse::mapped::Mapping::KEYS);
            for key in crate::parse::mapped::Mapping::KEYS {
                if let Some(v) = c.string(m, key, &at) {
                    if v.is_empty() {
                        c.err(&join(&at, key), "expected a key name, found an empty string");
                    } else {
                        mapping.set(key, v);
                    }
                }
            }
            if let Some(f) = format.as_ref().filter(|f| !f.takes_mapping()) {
                c.err(&at, format!("format \"{f}\" takes no mapping (json and logfmt do)"));
            }
        }
        Some(other) => {
            c.err(&join(path, "mapping"), format!("expected a table, found {}", describe(other)))
        }
    }
    let ts_format = c.string(d, "ts_format", path);
    if let Some(f) = &ts_format {
        let at = join(path, "ts_format");
        if let Err(e) = crate::parse::mapped::check_strftime(f) {
            c.err(&at, e);
        } else if let Some(fm) = format.as_ref().filter(|fm| !fm.takes_ts_format()) {
            c.err(&at, format!("format \"{fm}\" reads its own times (ts_format is for json, logfmt and regex:)"));
        }
    }
    let multiline = multiline(c, d, path, format.as_ref());
    match (file, format, timezone, ratio) {
        (Some(path), Some(format), Some(timezone), Some(max_reject_ratio)) => Some(SourceSpec {
            path,
            format,
            service,
            timezone,
            max_reject_ratio,
            mapping,
            ts_format,
            multiline,
        }),
        _ => None,
    }
}

/// `multiline`: a preset (`indented`, `java`, `python`, `go`) or a table
/// with `start` or `continuation` (a regex), and `max_lines`, `max_bytes`
/// (in the table or beside it).
fn multiline(
    c: &mut Checker,
    d: &Dict,
    path: &str,
    format: Option<&Format>,
) -> Option<crate::source::multiline::Multiline> {
    use crate::source::multiline::Multiline;
    let at = join(path, "multiline");
    let (mut rule, table) = match d.get("multiline")? {
        Value::String(_, s) => match Multiline::preset(s) {
            Some(m) => (m, None),
            None => {
                c.err(&at, format!("unknown rule {s:?} (expected indented, java, python or go, or a table with start or continuation)"));
                return None;
            }
        },
        Value::Dict(_, t) => {
            c.unknown_keys(t, &at, &["start", "continuation", "max_lines", "max_bytes"]);
            let start = c.string(t, "start", &at);
            let cont = c.string(t, "continuation", &at);
            let (is_start, pattern) = match (start, cont) {
                (Some(p), None) => (true, p),
                (None, Some(p)) => (false, p),
                _ => {
                    c.err(&at, "give one of start, continuation");
                    return None;
                }
            };
            match Multiline::pattern(is_start, &pattern) {
                Ok(m) => (m, Some(t.clone())),
                Err(e) => {
                    let key = if is_start { "start" } else { "continuation" };
                    c.err(&join(&at, key), format!("not a valid regex: {e}"));
                    return None;
                }
            }
        }
        other => {
            c.err(&at, format!("expected a rule name or a table, found {}", describe(other)));
            return None;
        }
    };
    for (key, slot) in [("max_lines", &mut rule.max_lines), ("max_bytes", &mut rule.max_bytes)] {
        let from_table = table.as_ref().filter(|t| t.contains_key(key));
        let value = match from_table {
            Some(t) => c.positive_int(t, key, &at),
            None if d.contains_key(key) => c.positive_int(d, key, path),
            None => None,
        };
        if let Some(v) = value {
            *slot = v as usize;
        }
    }
    if let Some(f) = format.filter(|f| f.framing() != crate::source::Framing::Lines) {
        c.err(
            &at,
            format!("format \"{f}\" is not read line by line: its records are whole already"),
        );
    }
    Some(rule)
}
