//! `logtrack detect JOB` and `logtrack report JOB`: the job's rules, or its
//! report, over a time range of what the database holds.
//!
//! `detect` runs every rule over the range (plus the history each rule
//! needs before it), stores the alerts once per identity and prints them;
//! `report` writes `report.json`/`report.md` for the range from what is
//! stored: the alerts whose window starts in it, records per source, and
//! the rejects loaded during it.

use super::run::{detect_in_db, store_alerts, Now};
use super::Messages;
use crate::cli::{Global, RangeArgs};

use crate::detect::{Alert, Evidence};
use crate::error::Exit;
use crate::parse::Timestamp;
use crate::read::{Reject, SourceStats};
use crate::report::{self, Report, Totals};
use crate::store;
use anyhow::Context;
use std::sync::Arc;

fn rule_type(s: &str) -> &'static str {
    [
        "keyword_threshold",
        "repeated_message",
        "user_threshold",
        "rate_spike",
        "inactivity",
        "zscore_anomaly",
    ]
    .into_iter()
    .find(|t| *t == s)
    .unwrap_or("unknown")
}

pub fn run(a: &RangeArgs, g: &Global, report_only: bool) -> anyhow::Result<Exit> {
    let msgs = Messages::new(g);
    let started = chrono::Utc::now().timestamp();
    let Some(job) = super::load_job(&a.job, g, &msgs) else { return Ok(Exit::Failed) };
    let url = job.database_url.clone().context(
        "this command reads the database: set [database] url in the job, LOGTRACK_DATABASE_URL, or --database-url",
    )?;
    let fail_on = super::fail_on(g)?;
    let mut client = store::open(&url)?;
    let now = Now::parse(g.now.as_deref().or(job.now.as_deref()))?;
    let wall = now.at_or_wall_clock();
    let row = client.query_one(
        "SELECT floor(extract(epoch from min(ts)))::bigint, floor(extract(epoch from max(ts)))::bigint FROM logs",
        &[],
    )?;
    let (Some(oldest), Some(newest)) = (row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1))
    else {
        msgs.info("the database holds no records yet");
        return Ok(Exit::Ok);
    };
    let since = a
        .since
        .as_deref()
        .map(|s| super::time_arg("--since", s, wall))
        .transpose()?
        .unwrap_or(oldest);
    let until = a
        .until
        .as_deref()
        .map(|s| super::time_arg("--until", s, wall))
        .transpose()?
        .unwrap_or(newest);

    let (alerts, reference) = if report_only {
        (stored_alerts(&mut client, &job.name, since, until)?, wall)
    } else {
        detect_in_db(&mut client, &job.rules, Some((since, until)), now)?
    };
    // New alerts become known only once the report that shows them is written.
    let mut tx = client.transaction()?;
    let new_count =
        if report_only { 0 } else { store_alerts(&mut tx, &job, alerts.clone())?.len() };

    let mut sources = Vec::new();
    for r in tx.query(
        "SELECT source_path, count(*) FROM logs WHERE ts >= to_timestamp($1) AND ts < to_timestamp($2)
         GROUP BY source_path ORDER BY source_path",
        &[&(since as f64), &((until + 1) as f64)],
    )? {
        let records = r.get::<_, i64>(1) as u64;
        sources.push(SourceStats {
            path: r.get(0),
            format: "stored".into(),
            lines: records,
            records,
            ..Default::default()
        });
    }
    let mut rejects = Vec::new();
    for r in tx.query(
        "SELECT source_path, source_line, source_index, byte_offset, reason FROM rejects
         WHERE created_at >= to_timestamp($1) AND created_at < to_timestamp($2)
         ORDER BY created_at, source_path, source_line LIMIT $3",
        &[&(since as f64), &((until + 1) as f64), &(report::REPORT_REJECTS as i64)],
    )? {
        rejects.push(Reject {
            path: Arc::from(r.get::<_, String>(0)),
            line: r.get::<_, i64>(1) as u64,
            index: r.get::<_, Option<i64>>(2).map(|i| i as u64),
            byte_offset: r.get::<_, i64>(3) as u64,
            reason: r.get(4),
        });
    }
    let records = sources.iter().map(|s| s.records).sum();
    let report = Report {
        job: job.name.clone(),
        started_at: Timestamp::from_secs(started).to_rfc3339(),
        finished_at: Timestamp::from_secs(chrono::Utc::now().timestamp()).to_rfc3339(),
        reference_time: Timestamp::from_secs(reference).to_rfc3339(),
        totals: Totals { records, rejected: rejects.len() as u64, alerts: alerts.len() as u64 },
        sources,
        alerts,
        rejects,
        problems: Vec::new(),
    };
    let written = super::run::write_reports_or_print(&job, &report, &msgs)?;
    tx.commit()?;
    for path in written {
        msgs.info(&format!("report: {path}"));
    }
    msgs.info(&format!(
        "{}: {} .. {}: {} records, {} alert(s){}",
        job.name,
        Timestamp::from_secs(since),
        Timestamp::from_secs(until),
        report.totals.records,
        report.alerts.len(),
        if report_only { String::new() } else { format!(" ({new_count} new)") }
    ));
    super::run::print_alerts(&report.alerts, &msgs);
    Ok(super::run::exit_code(false, fail_on, &report.alerts))
}

/// Alerts of a job whose window starts in [since, until].
fn stored_alerts(
    client: &mut postgres::Client,
    job: &str,
    since: i64,
    until: i64,
) -> anyhow::Result<Vec<Alert>> {
    let rows = client.query(
        "SELECT rule_id, rule_type, severity, group_key::text,
                floor(extract(epoch from window_start))::bigint, floor(extract(epoch from window_end))::bigint,
                count, message, evidence::text
         FROM alerts WHERE job = $1 AND window_start >= to_timestamp($2) AND window_start < to_timestamp($3)
         ORDER BY window_start, rule_id",
        &[&job, &(since as f64), &((until + 1) as f64)],
    )?;
    let mut out = Vec::new();
    for r in rows {
        #[derive(serde::Deserialize)]
        struct Ev {
            path: String,
            line: u64,
            index: Option<u64>,
        }
        let evidence: Vec<Ev> = serde_json::from_str(&r.get::<_, String>(8))?;
        out.push(Alert {
            rule_id: r.get(0),
            rule_type: rule_type(&r.get::<_, String>(1)),
            severity: r.get::<_, String>(2).parse().map_err(anyhow::Error::msg)?,
            group: serde_json::from_str(&r.get::<_, String>(3))?,
            window_start: Timestamp::from_secs(r.get(4)),
            window_end: Timestamp::from_secs(r.get(5)),
            count: r.get::<_, i64>(6) as u64,
            message: r.get(7),
            evidence: evidence
                .into_iter()
                .map(|e| Evidence { path: Arc::from(e.path), line: e.line, index: e.index })
                .collect(),
        });
    }
    Ok(out)
}
