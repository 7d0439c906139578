//! `logtrack alerts`: stored alerts as a table in the terminal.

use crate::cli::{AlertsArgs, Global};
use crate::config;
use crate::error::Exit;
use crate::store;
use std::io::Write;

pub fn run(a: &AlertsArgs, g: &Global) -> anyhow::Result<Exit> {
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let mut client = store::open(&url)?;
    let now = crate::run::Now::parse(g.now.as_deref())?.at_or_wall_clock();
    let since = a.since.as_deref().map(|s| super::time_arg("--since", s, now)).transpose()?;
    let rows = client.query(
        "SELECT * FROM (
           SELECT to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                  severity, rule_id, group_key::text, count, message, window_start
           FROM alerts
           WHERE ($1::text IS NULL OR rule_id = $1)
             AND ($2::float8 IS NULL OR window_start >= to_timestamp($2))
           ORDER BY window_start DESC, rule_id LIMIT $3
         ) newest ORDER BY 7, 3",
        &[&a.rule, &since.map(|s| s as f64), &a.limit.max(0)],
    )?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<20}  {:<8}  {:<22}  {:<30}  {:>6}  message",
        "window start (UTC)", "severity", "rule", "group", "count"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<20}  {:<8}  {:<22}  {:<30}  {:>6}  {}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            r.get::<_, String>(3),
            r.get::<_, i64>(4),
            r.get::<_, String>(5)
        )?;
    }
    if rows.is_empty() {
        crate::error::say("no alerts match");
    }
    Ok(Exit::Ok)
}
