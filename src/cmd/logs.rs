//! `logtrack logs`: stored records as a table in the terminal.

use crate::cli::{Global, LogsArgs};
use crate::config;
use crate::error::Exit;
use crate::parse::{Severity, Timestamp};
use crate::store;
use anyhow::Context;
use postgres::types::ToSql;
use std::io::Write;

/// Escapes LIKE wildcards.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub fn run(a: &LogsArgs, g: &Global) -> anyhow::Result<Exit> {
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let mut client = store::open(&url)?;
    let now = crate::run::Now::parse(g.now.as_deref())?.at_or_wall_clock();
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let mut bind = |cond: &str, v: Box<dyn ToSql + Sync>, conds: &mut Vec<String>| {
        params.push(v);
        conds.push(cond.replace('?', &format!("${}", params.len())));
    };
    if let Some(s) = &a.service {
        bind("service = ?", Box::new(s.clone()), &mut conds);
    }
    if let Some(l) = &a.severity {
        let min: Severity = l.parse().map_err(anyhow::Error::msg).context("--severity")?;
        let levels: Vec<String> =
            Severity::ALL.iter().filter(|s| **s >= min).map(|s| s.as_str().to_string()).collect();
        bind("severity = ANY(?)", Box::new(levels), &mut conds);
    }
    if let Some(s) = &a.since {
        let t = Timestamp::from_secs(super::time_arg("--since", s, now)?).to_rfc3339();
        bind("ts >= ?::text::timestamptz", Box::new(t), &mut conds);
    }
    if let Some(w) = &a.grep {
        bind("message ILIKE ?", Box::new(format!("%{}%", like_escape(w))), &mut conds);
    }
    let filter =
        if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
    let sql = format!(
        "SELECT * FROM (
           SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), service,
                  coalesce(severity, '-'), source_path || ':' || source_line, message, ts
           FROM logs {filter} ORDER BY ts DESC, source_path, source_line LIMIT {}
         ) newest ORDER BY 6, 4",
        a.limit.max(0)
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    let rows = client.query(sql.as_str(), &refs)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<20}  {:<16}  {:<5}  {:<28}  message",
        "time (UTC)", "service", "level", "source"
    )?;
    for r in &rows {
        let msg: String = r.get(4);
        let msg: String = msg.chars().take(120).collect();
        writeln!(
            out,
            "{:<20}  {:<16}  {:<5}  {:<28}  {}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            r.get::<_, String>(3),
            msg
        )?;
    }
    if rows.is_empty() {
        crate::error::say("no records match");
    }
    Ok(Exit::Ok)
}
