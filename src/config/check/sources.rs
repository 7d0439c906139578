//! `[[sources]]`: each source's path, format, service, time zone, reject
//! ratio, key mapping and time format.

use super::{describe, join, list, Checker, SOURCE_KEYS};
use crate::config::SourceSpec;
use crate::parse::{Format, Tz};
use figment::value::{Dict, Value};

/// Every `[[sources]]` entry that checks out (the others leave problems).
pub(super) fn sources(c: &mut Checker, dict: &Dict) -> Vec<SourceSpec> {
    let mut sources = Vec::new();
    for (i, s) in list(c, dict, "sources").iter().enumerate() {
        let path = format!("sources[{i}]");
        let Value::Dict(_, d) = s else {
            c.err(&path, format!("expected a table, found {}", describe(s)));
            continue;
        };
        sources.extend(source(c, d, &path));
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
    match (file, format, timezone, ratio) {
        (Some(path), Some(format), Some(timezone), Some(max_reject_ratio)) => Some(SourceSpec {
            path,
            format,
            service,
            timezone,
            max_reject_ratio,
            mapping,
            ts_format,
        }),
        _ => None,
    }
}
