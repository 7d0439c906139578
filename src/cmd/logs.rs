//! `logtrack logs`: stored records as a table in the terminal.

use crate::cli::{Global, LogsArgs};
use crate::config;
use crate::error::Exit;
use crate::parse::Severity;
use crate::store::{self, browse, browse::LogFilter, browse::Page};
use anyhow::Context;
use std::io::Write;

pub fn run(a: &LogsArgs, g: &Global) -> anyhow::Result<Exit> {
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let mut client = store::open(&url)?;
    let now = crate::run::Now::parse(g.now.as_deref())?.at_or_wall_clock();
    let severity = a
        .severity
        .as_deref()
        .map(|l| l.parse::<Severity>().map_err(anyhow::Error::msg).context("--severity"))
        .transpose()?;
    let since = a.since.as_deref().map(|s| super::time_arg("--since", s, now)).transpose()?;
    let filter = LogFilter {
        service: a.service.clone(),
        severity,
        since,
        text: a.grep.clone(),
        ..Default::default()
    };
    let mut rows = browse::logs(&mut client, &filter, Page::First, a.limit.max(0) as usize)?.rows;
    rows.reverse();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<20}  {:<16}  {:<5}  {:<28}  message",
        "time (UTC)", "service", "level", "source"
    )?;
    for r in &rows {
        let msg: String = r.message.chars().take(120).collect();
        let source = format!("{}:{}", r.path, r.line);
        writeln!(
            out,
            "{:<20}  {:<16}  {:<5}  {:<28}  {}",
            format!("{}Z", r.ts.get(..19).unwrap_or(&r.ts)),
            crate::output::terminal(&r.service),
            crate::output::terminal(r.severity.as_deref().unwrap_or("-")),
            crate::output::terminal(&source),
            crate::output::terminal(&msg)
        )?;
    }
    if rows.is_empty() {
        crate::error::say("no records match");
    }
    Ok(Exit::Ok)
}
