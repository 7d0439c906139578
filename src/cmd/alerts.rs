//! `logtrack alerts`: stored alerts as a table in the terminal (the
//! dashboard's alert listing, newest last).

use crate::cli::{AlertsArgs, Global};
use crate::config;
use crate::error::Exit;
use crate::store::{self, alerts::AlertFilter};
use std::io::Write;

pub fn run(a: &AlertsArgs, g: &Global) -> anyhow::Result<Exit> {
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let mut client = store::open(&url)?;
    let now = crate::run::Now::parse(g.now.as_deref())?.at_or_wall_clock();
    let since = a.since.as_deref().map(|s| super::time_arg("--since", s, now)).transpose()?;
    let filter = AlertFilter { rule: a.rule.clone(), since, ..AlertFilter::default() };
    let (mut rows, _) = store::alerts::list(&mut client, &filter, None, a.limit.max(0) as usize)?;
    rows.reverse();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<20}  {:<8}  {:<22}  {:<30}  {:>6}  message",
        "window start (UTC)", "severity", "rule", "group", "count"
    )?;
    for r in &rows {
        let a = &r.alert;
        writeln!(
            out,
            "{:<20}  {:<8}  {:<22}  {:<30}  {:>6}  {}",
            a.window_start.to_rfc3339(),
            a.severity.as_str(),
            a.rule_id,
            serde_json::to_string(&a.group).expect("a map of strings serializes"),
            a.count,
            crate::output::terminal(&a.message)
        )?;
    }
    if rows.is_empty() {
        crate::error::say("no alerts match");
    }
    Ok(Exit::Ok)
}
