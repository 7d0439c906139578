//! `[[rules]]`: the keys every rule has, then the keys of its type.

use super::{describe, join, list, Checker, RULE_KEYS};
use crate::config::job::*;
use crate::config::load::{load_rules_file, rebase};
use crate::config::HumanDuration;
use figment::value::{Dict, Value};
use std::path::Path;

/// Every rule of `rules` and of `rules_file` that checks out and is
/// enabled, in order; duplicate ids are problems.
pub(super) fn rules(c: &mut Checker, dict: &Dict, base: &Path) -> Vec<Rule> {
    let mut raw_rules: Vec<(String, Value)> = list(c, dict, "rules")
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("rules[{i}]"), v))
        .collect();
    if let Some(file) = c.string(dict, "rules_file", "") {
        match load_rules_file(&rebase(base, &file)) {
            Ok(values) => raw_rules.extend(
                values.into_iter().enumerate().map(|(i, v)| (format!("rules_file[{i}]"), v)),
            ),
            Err(e) => c.err("rules_file", e),
        }
    }
    let mut rules: Vec<Rule> = Vec::new();
    for (path, v) in raw_rules {
        let Value::Dict(_, d) = &v else {
            c.err(&path, format!("expected a table, found {}", describe(&v)));
            continue;
        };
        if let Some(rule) = rule(c, d, &path, base) {
            if rules.iter().any(|r| r.id == rule.id) {
                c.err(&path, format!("duplicate rule id {:?}", rule.id));
            } else if d.get("enabled").and_then(|e| e.to_bool()) != Some(false) {
                rules.push(rule);
            }
        }
    }
    rules
}

pub(super) fn rule(c: &mut Checker, d: &Dict, path: &str, base: &Path) -> Option<Rule> {
    c.unknown_keys(d, path, RULE_KEYS);
    let before = c.problems.len();
    let id = ["id", "rule_id", "name"].iter().find_map(|k| c.string(d, k, path));
    if id.is_none() {
        c.err(path, "missing key \"id\"");
    }
    let type_key = if d.contains_key("type") { "type" } else { "rule_type" };
    let kind_name = c.string(d, type_key, path);
    if kind_name.is_none() && !d.contains_key(type_key) {
        c.err(path, "missing key \"type\"");
    }
    let service = c.string(d, "service", path);
    let severity = if d.contains_key("severity") {
        c.parsed(d, "severity", path)
    } else {
        Some(AlertSeverity::Medium)
    };
    let description = c.string(d, "description", path);
    // A link people follow from a message: only a web address.
    let runbook = c.string(d, "runbook", path);
    if let Some(Err(e)) = runbook.as_deref().map(crate::net::Url::parse) {
        c.err(&join(path, "runbook"), e);
    }
    let filter = c.expr(d, "where", path);
    let group_by = group_by(c, d, path);
    let case_sensitive = c.boolean(d, "case_sensitive", path).unwrap_or(false);
    let mut value_fields: Option<Vec<GroupKey>> = None;
    let kind = if kind_name.as_deref() == Some("sigma") {
        sigma(c, d, path, base)
    } else {
        kind(c, d, path, (type_key, kind_name.as_deref()), case_sensitive, &mut value_fields)
    };
    if c.problems.len() > before {
        return None;
    }
    let kind = kind?;
    let group_by = match kind {
        RuleKind::NewValue { .. } => value_fields?,
        _ => group_by.unwrap_or_else(|| match kind {
            RuleKind::UserThreshold { .. } => vec![GroupKey::User],
            // Each Sigma rule is a group of its own (`sigma.id`).
            RuleKind::Sigma { .. } => vec![],
            _ => vec![GroupKey::Service],
        }),
    };
    let filter = if d.contains_key("where") { Some(filter?) } else { None };
    let resolve_after = if d.contains_key("resolve_after") {
        Some(c.duration(d, "resolve_after", &[], path)?)
    } else {
        None
    };
    Some(Rule {
        id: id?,
        kind,
        service,
        group_by,
        severity: severity?,
        description,
        runbook,
        filter,
        resolve_after,
    })
}

/// `window` (or the old tool's `window_minutes`/`window_seconds`): required.
fn window(c: &mut Checker, d: &Dict, path: &str) -> Option<HumanDuration> {
    let w = c.duration(d, "window", &[("window_minutes", 60), ("window_seconds", 1)], path);
    if w.is_none()
        && !["window", "window_minutes", "window_seconds"].iter().any(|k| d.contains_key(*k))
    {
        c.err(path, "missing key \"window\"");
    }
    w
}

/// A count `threshold`: required.
fn threshold(c: &mut Checker, d: &Dict, path: &str) -> Option<u64> {
    let t = c.positive_int(d, "threshold", path);
    if t.is_none() && !d.contains_key("threshold") {
        c.err(path, "missing key \"threshold\"");
    }
    t
}

/// A text that must be there and not empty.
fn required(c: &mut Checker, d: &Dict, path: &str, key: &str) -> Option<String> {
    let v = c.string(d, key, path).filter(|s| !s.is_empty());
    if v.is_none() {
        c.err(path, format!("missing key {key:?}"));
    }
    v
}

/// `min_count`, 1 by default.
fn min_count(c: &mut Checker, d: &Dict, path: &str) -> Option<u64> {
    if d.contains_key("min_count") {
        c.positive_int(d, "min_count", path)
    } else {
        Some(1)
    }
}

/// `learn`, in seconds (none by default).
fn learn(c: &mut Checker, d: &Dict, path: &str) -> Option<i64> {
    if d.contains_key("learn") {
        c.duration(d, "learn", &[], path).map(|h| h.0)
    } else {
        Some(0)
    }
}

/// `inactivity`: `max_idle` (or `max_idle_minutes`/`max_idle_seconds`).
fn inactivity(c: &mut Checker, d: &Dict, path: &str) -> Option<RuleKind> {
    let idle =
        c.duration(d, "max_idle", &[("max_idle_minutes", 60), ("max_idle_seconds", 1)], path);
    if idle.is_none()
        && !["max_idle", "max_idle_minutes", "max_idle_seconds"].iter().any(|k| d.contains_key(*k))
    {
        c.err(path, "missing key \"max_idle\"");
    }
    Some(RuleKind::Inactivity { max_idle: idle? })
}

/// `zscore_anomaly`: `threshold` (3 by default), `window`, a baseline of
/// `baseline_windows` or by `seasonality`, `robust`.
fn zscore_anomaly(c: &mut Checker, d: &Dict, path: &str) -> Option<RuleKind> {
    let t = match c.number(d, "threshold", path) {
        Some(t) if t > 0.0 && t.is_finite() => Some(t),
        Some(t) => {
            c.err(&join(path, "threshold"), format!("expected a positive number, found {t}"));
            None
        }
        None if d.contains_key("threshold") => None,
        None => Some(3.0),
    };
    let w = window(c, d, path);
    let seasonal = c.seasonal(d, path, w);
    if d.contains_key("baseline_windows") && d.contains_key("seasonality") {
        c.err(
                &join(path, "baseline_windows"),
                "does not apply with seasonality (the baseline is the same bin of the previous seasons)",
            );
    }
    let robust = c.boolean(d, "robust", path).unwrap_or(false);
    let b = if d.contains_key("baseline_windows") {
        c.positive_int(d, "baseline_windows", path)
    } else {
        Some(12)
    };
    let b = match b {
        Some(b) if !(2..=10_000).contains(&b) => {
            c.err(&join(path, "baseline_windows"), format!("expected 2 to 10000, found {b}"));
            None
        }
        other => other,
    };
    Some(RuleKind::ZscoreAnomaly {
        threshold: t?,
        window: w?,
        baseline_windows: b? as u32,
        seasonal: seasonal?,
        robust,
    })
}

/// `ratio`: a `numerator` expression, a share `threshold` (0.05 or "5%"),
/// `min_total`, `window`.
fn ratio_rule(c: &mut Checker, d: &Dict, path: &str) -> Option<RuleKind> {
    let numerator = c.expr(d, "numerator", path);
    if !d.contains_key("numerator") {
        c.err(path, "missing key \"numerator\" (an expression, such as 'fields.status >= 500')");
    }
    // "5%" is 0.05.
    let pct = match d.get("threshold") {
        Some(Value::String(_, s)) => s.trim().strip_suffix('%').map(str::trim),
        _ => None,
    };
    let t = match pct.map(str::parse::<f64>) {
        Some(Ok(p)) if p > 0.0 && p <= 100.0 => Some(p / 100.0),
        _ => c.bounded(
            d,
            "threshold",
            path,
            false,
            (0.0, 1.0),
            "a share above 0 and at most 1 (0.05 or \"5%\" for 5%)",
        ),
    };
    let min_total =
        if d.contains_key("min_total") { c.positive_int(d, "min_total", path) } else { Some(1) };
    let w = window(c, d, path);
    Some(RuleKind::Ratio {
        numerator: numerator?,
        threshold: t?,
        min_total: min_total?,
        window: w?,
    })
}

/// `percentile`: a numeric `field`, the `percentile`, its `threshold`,
/// `min_count`, `window`.
fn percentile(c: &mut Checker, d: &Dict, path: &str) -> Option<RuleKind> {
    let field = match required(c, d, path, "field") {
        Some(f) => {
            let key = f.strip_prefix("fields.").unwrap_or(&f).to_string();
            if key.is_empty() || crate::expr::NAMES.contains(&f.as_str()) {
                c.err(
                    &join(path, "field"),
                    format!(
                        "expected a numeric field such as \"fields.request_time\", found {f:?}"
                    ),
                );
                None
            } else {
                Some(key)
            }
        }
        None => None,
    };
    let p = c.bounded(
        d,
        "percentile",
        path,
        true,
        (1.0, 100.0),
        "a percentile from 1 to 100 (95 for p95)",
    );
    let t = c.bounded(d, "threshold", path, true, (f64::MIN, f64::MAX), "a number");
    let min_count =
        if d.contains_key("min_count") { c.positive_int(d, "min_count", path) } else { Some(1) };
    let w = window(c, d, path);
    Some(RuleKind::Percentile {
        field: field?,
        percentile: p?,
        threshold: t?,
        min_count: min_count?,
        window: w?,
    })
}

/// `new_template`: `min_count`, `learn`, `severity_at_least`, `ignore`.
fn new_template(c: &mut Checker, d: &Dict, path: &str) -> Option<RuleKind> {
    let (min_count, learn) = (min_count(c, d, path), learn(c, d, path));
    let severity_at_least = if d.contains_key("severity_at_least") {
        c.parsed::<crate::parse::Severity>(d, "severity_at_least", path).map(Some)
    } else {
        Some(None)
    };
    let ignore = c.ignore_list(d, path);
    Some(RuleKind::NewTemplate {
        min_count: min_count?,
        learn: learn?,
        severity_at_least: severity_at_least?,
        ignore: ignore?,
    })
}

/// `group_by`: one key or a list of them (`None`: the type's default).
fn group_by(c: &mut Checker, d: &Dict, path: &str) -> Option<Vec<GroupKey>> {
    match d.get("group_by") {
        None => None,
        Some(Value::String(_, s)) => {
            s.parse().map(|g| vec![g]).map_err(|e| c.err(&join(path, "group_by"), e)).ok()
        }
        Some(Value::Array(_, items)) => Some(c.key_list(items, path, "group_by")),
        Some(other) => {
            c.err(
                &join(path, "group_by"),
                format!("expected a list of keys, found {}", describe(other)),
            );
            None
        }
    }
}

/// The keys of the rule's type `name` (written under `type_key`).
fn kind(
    c: &mut Checker,
    d: &Dict,
    path: &str,
    (type_key, name): (&str, Option<&str>),
    case_sensitive: bool,
    value_fields: &mut Option<Vec<GroupKey>>,
) -> Option<RuleKind> {
    match name {
        None => None,
        Some("keyword_threshold") => {
            let keyword = required(c, d, path, "keyword");
            let (t, w) = (threshold(c, d, path), window(c, d, path));
            Some(RuleKind::KeywordThreshold {
                keyword: keyword?,
                case_sensitive,
                threshold: t?,
                window: w?,
            })
        }
        Some("repeated_message") => {
            let message = c.string(d, "message", path);
            let (t, w) = (threshold(c, d, path), window(c, d, path));
            Some(RuleKind::RepeatedMessage { message, threshold: t?, window: w? })
        }
        Some("user_threshold") => {
            let message = required(c, d, path, "message");
            let (t, w) = (threshold(c, d, path), window(c, d, path));
            Some(RuleKind::UserThreshold {
                message: message?,
                case_sensitive,
                threshold: t?,
                window: w?,
            })
        }
        Some("rate_spike") => {
            let (t, w) = (threshold(c, d, path), window(c, d, path));
            Some(RuleKind::RateSpike { threshold: t?, window: w? })
        }
        Some("inactivity") => inactivity(c, d, path),
        Some("zscore_anomaly") => zscore_anomaly(c, d, path),
        Some("ratio") => ratio_rule(c, d, path),
        Some("percentile") => percentile(c, d, path),
        Some("new_template") => new_template(c, d, path),
        Some("new_value") => new_value(c, d, path, value_fields),
        Some(other) => {
            c.err(
                &join(path, type_key),
                format!("unknown rule type {other:?} (expected one of: {RULE_TYPES})"),
            );
            None
        }
    }
}

/// `new_value`: the `fields` whose combination is watched (its group),
/// `min_count`, `learn`, `remember`.
fn new_value(
    c: &mut Checker,
    d: &Dict,
    path: &str,
    value_fields: &mut Option<Vec<GroupKey>>,
) -> Option<RuleKind> {
    let (min_count, learn) = (min_count(c, d, path), learn(c, d, path));
    let remember = if d.contains_key("remember") {
        c.duration(d, "remember", &[], path).map(|h| h.0)
    } else {
        Some(30 * DAY)
    };
    if d.contains_key("fields") {
        *value_fields = c.group_keys(d, "fields", path);
    } else {
        c.err(path, "missing key \"fields\" (the values whose combination is watched, such as [\"user\", \"fields.client_ip\"])");
    }
    if d.contains_key("group_by") {
        c.err(&join(path, "group_by"), "does not apply to new_value (its fields are its group)");
    }
    Some(RuleKind::NewValue { min_count: min_count?, learn: learn?, remember: remember? })
}

/// `sigma`: the rules under `path` (a file, folder or glob, or a list of
/// them, relative to the job file), chosen by `status`, `level_at_least`
/// and `tags`; `window` (5m) and `min_count` (1).
fn sigma(c: &mut Checker, d: &Dict, path: &str, base: &Path) -> Option<RuleKind> {
    use crate::sigma::set::{level_rank, Filter, Set, LEVELS};
    let paths = c.strings(d, "path", path);
    if !d.contains_key("path") {
        c.err(path, "missing key \"path\" (a Sigma rule file, a folder of them or a glob)");
    }
    let mut filter = Filter::default();
    if d.contains_key("status") {
        let status = c.strings(d, "status", path)?;
        for s in &status {
            if !["stable", "test", "experimental", "deprecated", "unsupported"]
                .contains(&s.as_str())
            {
                c.err(&join(path, "status"), format!("unknown status {s:?} (expected stable, test, experimental, deprecated or unsupported)"));
            }
        }
        filter.status = status;
    }
    if let Some(l) = c.string(d, "level_at_least", path) {
        match level_rank(&l) {
            Some(r) => filter.level_at_least = Some(r),
            None => c.err(
                &join(path, "level_at_least"),
                format!("unknown level {l:?} (expected one of {})", LEVELS.join(", ")),
            ),
        }
    }
    if d.contains_key("tags") {
        filter.tags = c.strings(d, "tags", path)?;
    }
    let mut placeholders = crate::sigma::Placeholders::new();
    match d.get("placeholders") {
        None => {}
        Some(Value::Dict(_, p)) => {
            let at = join(path, "placeholders");
            for k in p.keys() {
                if let Some(values) = c.strings(p, k, &at) {
                    placeholders.insert(k.clone(), values);
                }
            }
        }
        Some(other) => c.err(
            &join(path, "placeholders"),
            format!("expected a table of names and their values, found {}", describe(other)),
        ),
    }
    let min_count = min_count(c, d, path);
    let window =
        if ["window", "window_minutes", "window_seconds"].iter().any(|k| d.contains_key(*k)) {
            window(c, d, path)
        } else {
            Some(HumanDuration(300))
        };
    let paths: Vec<String> = paths?.iter().map(|p| rebase(base, p)).collect();
    let set = match Set::load(&paths, &filter, &placeholders) {
        Ok(set) => set,
        Err(e) => {
            c.err(&join(path, "path"), e);
            return None;
        }
    };
    Some(RuleKind::Sigma {
        rules: SigmaRules { paths, filter, placeholders, set: std::sync::Arc::new(set) },
        min_count: min_count?,
        window: window?,
        severity_given: d.contains_key("severity"),
    })
}
