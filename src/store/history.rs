//! Detector input from the database: the same per-group, per-second counts
//! (with the first lines of each second as evidence) that parsing threads
//! produce in memory, computed by PostgreSQL over a time range. This is how
//! a run with a database sees history: windows that span runs, z-score
//! baselines, and silences that started before this run's data.

use crate::config::{GroupKey, Rule, RuleKind};
use crate::detect::{Counts, LineRef};
use postgres::types::ToSql;
use postgres::Client;
use std::collections::HashMap;
use std::sync::Arc;

/// Source paths seen in evidence, numbered for [`LineRef::source`].
#[derive(Default)]
pub struct Paths {
    pub list: Vec<Arc<str>>,
    index: HashMap<String, u32>,
}

impl Paths {
    pub fn id(&mut self, path: &str) -> u32 {
        if let Some(&i) = self.index.get(path) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(Arc::from(path));
        self.index.insert(path.to_string(), i);
        i
    }
}

/// The filter and group expressions of a rule, as SQL over `logs`.
struct RuleSql {
    conds: Vec<String>,
    groups: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync>>,
}

impl RuleSql {
    fn new(rule: &Rule) -> RuleSql {
        let mut q = RuleSql { conds: Vec::new(), groups: Vec::new(), params: Vec::new() };
        if let Some(s) = &rule.service {
            let p = q.param(Box::new(s.clone()));
            q.conds.push(format!("service = {p}"));
        }
        let contains = |q: &mut RuleSql, text: &str, case_sensitive: bool, with_severity: bool| {
            let p = q.param(Box::new(text.to_string()));
            let f = |col: &str| {
                if case_sensitive {
                    format!("position({p} in {col}) > 0")
                } else {
                    format!("position(lower({p}) in lower({col})) > 0")
                }
            };
            let mut c = f("message");
            if with_severity {
                c = format!("({c} OR {})", f("coalesce(severity, '')"));
            }
            q.conds.push(c);
        };
        match &rule.kind {
            RuleKind::KeywordThreshold { keyword, case_sensitive, .. } => {
                contains(&mut q, keyword, *case_sensitive, true)
            }
            RuleKind::UserThreshold { message, case_sensitive, .. } => {
                contains(&mut q, message, *case_sensitive, false)
            }
            RuleKind::RepeatedMessage { message: Some(m), .. } => {
                let p = q.param(Box::new(m.trim().to_string()));
                q.conds.push(format!("btrim(message, E' \\t\\r\\n') = {p}"));
            }
            _ => {}
        }
        for g in &rule.group_by {
            let expr = match g {
                GroupKey::Service => "service".to_string(),
                GroupKey::User => "user_name".to_string(),
                GroupKey::Host => "host".to_string(),
                GroupKey::ClientIp => {
                    "coalesce(fields->>'client_ip', fields->>'source_ip')".to_string()
                }
                GroupKey::Field(k) => {
                    let p = q.param(Box::new(k.clone()));
                    format!("(fields->>{p})")
                }
            };
            q.conds.push(format!("{expr} IS NOT NULL"));
            q.groups.push(expr);
        }
        if matches!(rule.kind, RuleKind::RepeatedMessage { message: None, .. }) {
            q.groups.push("message".into());
        }
        q
    }

    fn param(&mut self, v: Box<dyn ToSql + Sync>) -> String {
        self.params.push(v);
        format!("${}", self.params.len())
    }
}

const EVIDENCE_ORDER: &str = "source_path, source_line, source_index";

/// Counts of a rule's records with `from <= ts < to` (seconds), per group and second.
pub fn counts(
    client: &mut Client,
    rule: &Rule,
    from: i64,
    to: i64,
    paths: &mut Paths,
) -> anyhow::Result<Counts> {
    let mut q = RuleSql::new(rule);
    let pf = q.param(Box::new(from as f64));
    let pt = q.param(Box::new(to as f64));
    q.conds.push(format!("ts >= to_timestamp({pf}) AND ts < to_timestamp({pt})"));
    let n = q.groups.len();
    let group_cols: Vec<String> = q.groups.iter().map(|g| format!("{g}::text")).collect();
    let sql = format!(
        "SELECT {groups}{comma} floor(extract(epoch from ts))::bigint AS sec, count(*)::bigint,
                (array_agg(source_path ORDER BY {o}))[1:2],
                (array_agg(source_line ORDER BY {o}))[1:2],
                (array_agg(coalesce(source_index, 0) ORDER BY {o}))[1:2]
         FROM logs WHERE {conds} GROUP BY {groups}{comma} sec",
        groups = group_cols.join(", "),
        comma = if n > 0 { "," } else { "" },
        o = EVIDENCE_ORDER,
        conds = q.conds.join(" AND "),
    );
    let refs: Vec<&(dyn ToSql + Sync)> = q.params.iter().map(|p| p.as_ref()).collect();
    let mut out = Counts::default();
    for row in client.query(sql.as_str(), &refs)? {
        let values: Vec<String> = (0..n).map(|i| row.get::<_, String>(i)).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let sec: i64 = row.get(n);
        let count: i64 = row.get(n + 1);
        let ps: Vec<String> = row.get(n + 2);
        let ls: Vec<i64> = row.get(n + 3);
        let is: Vec<i64> = row.get(n + 4);
        let ev: Vec<LineRef> = ps
            .iter()
            .zip(&ls)
            .zip(&is)
            .map(|((p, l), i)| LineRef { source: paths.id(p), line: *l as u32, index: *i as u32 })
            .collect();
        out.add_counted(&refs, sec, count.min(u32::MAX as i64) as u32, &ev);
    }
    Ok(out)
}

/// Each group's last record before `before` (seconds), as a one-record count:
/// where a silence that crosses runs started.
pub fn last_before(
    client: &mut Client,
    rule: &Rule,
    before: i64,
    paths: &mut Paths,
) -> anyhow::Result<Counts> {
    let mut q = RuleSql::new(rule);
    let pb = q.param(Box::new(before as f64));
    q.conds.push(format!("ts < to_timestamp({pb})"));
    let n = q.groups.len();
    let group_cols: Vec<String> = q.groups.iter().map(|g| format!("{g}::text")).collect();
    let conds = q.conds.join(" AND ");
    let rest = "floor(extract(epoch from ts))::bigint, source_path, source_line, coalesce(source_index, 0)";
    // One group only (no split, or split by the one service the rule
    // filters on): the newest row, which the (service, ts) index finds at once.
    let single =
        n == 0 || (rule.service.is_some() && rule.group_by == [GroupKey::Service] && n == 1);
    let sql = if single {
        let groups = if n == 0 { String::new() } else { format!("{}, ", group_cols.join(", ")) };
        format!(
            "SELECT {groups}{rest} FROM logs WHERE {conds} ORDER BY ts DESC, source_path, source_line LIMIT 1"
        )
    } else {
        let groups = group_cols.join(", ");
        format!(
            "SELECT DISTINCT ON ({groups}) {groups}, {rest} FROM logs WHERE {conds}
             ORDER BY {groups}, ts DESC, source_path, source_line"
        )
    };
    let refs: Vec<&(dyn ToSql + Sync)> = q.params.iter().map(|p| p.as_ref()).collect();
    let mut out = Counts::default();
    for row in client.query(sql.as_str(), &refs)? {
        let values: Vec<String> = (0..n).map(|i| row.get::<_, String>(i)).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let ev = LineRef {
            source: paths.id(&row.get::<_, String>(n + 1)),
            line: row.get::<_, i64>(n + 2) as u32,
            index: row.get::<_, i64>(n + 3) as u32,
        };
        out.add_counted(&refs, row.get(n), 1, &[ev]);
    }
    Ok(out)
}
