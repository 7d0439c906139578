//! Sigma correlation rules (`correlation:` documents): read from YAML, and
//! the windows they hold over a group's matches.
//!
//! A correlation runs over the Sigma rules it names as one of LogTrack's
//! window rules: the records each named rule matches count in the
//! correlation's group (its `group-by` fields, read from each record), and
//! a window of `timespan` holds when
//! - `event_count`: it has at least the condition's count of records;
//! - `value_count`: the records in it have at least that many distinct
//!   values of the condition's `field`;
//! - `temporal`: at least that many of the named rules (all of them
//!   unless the condition says) matched in it;
//! - `temporal_ordered`: the named rules matched in it in their order.
//!
//! Holding windows that overlap form one alert, as for every window rule.
//! A condition with an upper bound (`lt`, `lte`, `eq`) asks about absence,
//! which a batch over the records present cannot answer as the author
//! meant: such a rule is unsupported, and says so.

use super::text;
use serde_norway::Value as Yaml;
use std::collections::BTreeMap;

/// What a correlation counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    EventCount,
    /// Distinct values of this field.
    ValueCount(String),
    Temporal,
    TemporalOrdered,
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::EventCount => "event_count",
            Kind::ValueCount(_) => "value_count",
            Kind::Temporal => "temporal",
            Kind::TemporalOrdered => "temporal_ordered",
        }
    }
}

/// A correlation as written.
#[derive(Debug, Clone)]
pub struct Correlation {
    pub kind: Kind,
    /// The rules it runs over, by `name` or `id`, in their order.
    pub rules: Vec<String>,
    /// Field (or alias) names of its group.
    pub group_by: Vec<String>,
    /// Alias → rule name → the field that rule's records hold it in.
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// Seconds.
    pub timespan: i64,
    /// The least count that holds (`gte n`: n, `gt n`: n + 1); for
    /// `temporal` without a condition, the number of rules.
    pub min: u64,
    /// Whether the named rules alert on their own too.
    pub generate: bool,
}

impl Correlation {
    /// The field a record of the rule named `name` (and `id`) holds the
    /// group key `key` in.
    pub fn field_of<'a>(&'a self, key: &'a str, name: Option<&str>, id: &str) -> &'a str {
        match self.aliases.get(key) {
            Some(per_rule) => name
                .and_then(|n| per_rule.get(n))
                .or_else(|| per_rule.get(id))
                .map_or(key, String::as_str),
            None => key,
        }
    }
}

/// Reads a `correlation` mapping. The outer `Err` is a broken rule (names
/// the key); the inner one a correlation LogTrack does not run as written.
pub fn parse(v: &Yaml) -> Result<Result<Correlation, String>, String> {
    let Yaml::Mapping(m) = v else { return Err("correlation: expected a mapping".into()) };
    let get = |k: &str| m.get(Yaml::String(k.into()));
    let kind = get("type").and_then(text).ok_or("correlation: missing key \"type\"")?;
    let rules = match get("rules") {
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| text(i).ok_or("correlation.rules: expected rule names or ids"))
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => vec![text(v).ok_or("correlation.rules: expected rule names or ids")?],
        None => return Err("correlation: missing key \"rules\"".into()),
    };
    if rules.is_empty() {
        return Err("correlation.rules: names no rule".into());
    }
    let group_by = match get("group-by") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| text(i).ok_or("correlation.group-by: expected field names"))
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => vec![text(v).ok_or("correlation.group-by: expected field names")?],
    };
    let mut aliases = BTreeMap::new();
    match get("aliases") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(a)) => {
            for (alias, per_rule) in a {
                let alias = text(alias).ok_or("correlation.aliases: a key that is no name")?;
                let Yaml::Mapping(per_rule) = per_rule else {
                    return Err(format!("correlation.aliases.{alias}: expected rule: field"));
                };
                let mut fields = BTreeMap::new();
                for (rule, field) in per_rule {
                    match (text(rule), text(field)) {
                        (Some(r), Some(f)) => fields.insert(r, f),
                        _ => {
                            return Err(format!(
                                "correlation.aliases.{alias}: expected rule: field"
                            ))
                        }
                    };
                }
                aliases.insert(alias, fields);
            }
        }
        Some(_) => return Err("correlation.aliases: expected a mapping".into()),
    }
    let timespan = get("timespan").and_then(text).ok_or("correlation: missing key \"timespan\"")?;
    let timespan = seconds(&timespan).ok_or_else(|| {
        format!(
            "correlation.timespan: {timespan:?} is no time span (a number and s, m, h or d: 90m)"
        )
    })?;
    let generate = match get("generate") {
        None => false,
        Some(Yaml::Bool(b)) => *b,
        Some(_) => return Err("correlation.generate: expected true or false".into()),
    };
    let mut field = None;
    let (mut lower, mut upper) = (None::<u64>, Vec::new());
    match get("condition") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(c)) => {
            for (k, v) in c {
                let k = text(k).unwrap_or_default();
                if k == "field" {
                    field = Some(text(v).ok_or("correlation.condition.field: expected a name")?);
                    continue;
                }
                let n = match v {
                    Yaml::Number(n) => n.as_u64(),
                    _ => None,
                };
                let Some(n) = n else {
                    return Err(format!("correlation.condition.{k}: expected a whole number"));
                };
                match k.as_str() {
                    "gte" => lower = Some(lower.map_or(n, |l| l.max(n))),
                    "gt" => lower = Some(lower.map_or(n + 1, |l| l.max(n + 1))),
                    "lt" | "lte" | "eq" => upper.push(k),
                    other => {
                        return Err(format!(
                            "correlation.condition: unknown key {other:?} (gt, gte, lt, lte, eq, field)"
                        ))
                    }
                }
            }
        }
        Some(_) => return Err("correlation.condition: expected a mapping".into()),
    }
    let kind = match kind.as_str() {
        "event_count" => Kind::EventCount,
        "value_count" => match field {
            Some(f) => Kind::ValueCount(f),
            None => return Err("correlation.condition: value_count needs \"field\"".into()),
        },
        "temporal" => Kind::Temporal,
        "temporal_ordered" => Kind::TemporalOrdered,
        other => {
            return Ok(Err(format!("correlation.type: {other:?} is not run (event_count, value_count, temporal and temporal_ordered are)")))
        }
    };
    if !upper.is_empty() {
        return Ok(Err(format!(
            "correlation.condition: {} (an upper bound asks about records that are absent, which a batch cannot tell from records not yet read)",
            upper.join(", ")
        )));
    }
    let min = match (&kind, lower) {
        (Kind::Temporal | Kind::TemporalOrdered, None) => rules.len() as u64,
        (_, Some(n)) => n.max(1),
        (_, None) => return Err("correlation.condition: expected gte or gt".into()),
    };
    if kind == Kind::TemporalOrdered && min != rules.len() as u64 {
        return Ok(Err(
            "correlation.condition: temporal_ordered over some of its rules is not run".into(),
        ));
    }
    Ok(Ok(Correlation { kind, rules, group_by, aliases, timespan, min, generate }))
}

/// A Sigma time span (`30s`, `90m`, `1h`, `7d`) in seconds.
fn seconds(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = match s.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let n: i64 = s[..s.len() - 1].parse().ok().filter(|n| *n > 0)?;
    n.checked_mul(unit)
}
