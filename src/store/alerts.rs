//! Alerts and rules as stored: one alert per identity (job, rule id, group,
//! window start), and each job's rules as last run.

use crate::config::Job;
use crate::detect::{Alert, Evidence};
use crate::error::{Error, Result};
use crate::parse::Timestamp;
use std::sync::Arc;

/// Stores alerts once per identity in `tx`: a known one is updated (its
/// window may have grown), a new one inserted. Also records the job's
/// rules. Returns the new alerts; the caller commits once they are reported.
pub fn store(
    tx: &mut postgres::Transaction<'_>,
    job: &Job,
    alerts: Vec<Alert>,
) -> Result<Vec<Alert>> {
    let mut new_alerts = Vec::new();
    let insert = tx
        .prepare(
            "INSERT INTO alerts (rule_id, rule_type, severity, group_key, window_start, window_end,
                                 count, message, evidence, job)
             VALUES ($1, $2, $3, $4::text::jsonb, $5::text::timestamptz, $6::text::timestamptz,
                     $7, $8, $9::text::jsonb, $10)
             ON CONFLICT (job, rule_id, group_key, window_start) DO UPDATE SET
               window_end = EXCLUDED.window_end, count = EXCLUDED.count,
               message = EXCLUDED.message, evidence = EXCLUDED.evidence, last_seen = now()
             RETURNING (xmax = 0)",
        )
        .map_err(Error::db("preparing the alert upsert"))?;
    for a in alerts {
        let group = serde_json::to_string(&a.group).expect("a map of strings serializes");
        let evidence = serde_json::to_string(&a.evidence).expect("evidence serializes");
        let inserted: bool = tx
            .query_one(
                &insert,
                &[
                    &a.rule_id,
                    &a.rule_type,
                    &a.severity.as_str(),
                    &group,
                    &a.window_start.to_rfc3339(),
                    &a.window_end.to_rfc3339(),
                    &(a.count as i64),
                    &a.message,
                    &evidence,
                    &job.name,
                ],
            )
            .map_err(|e| Error::db("storing an alert")(e).in_rule(&a.rule_id))?
            .get(0);
        if inserted {
            new_alerts.push(a);
        }
    }
    for rule in &job.rules {
        tx.execute(
            "INSERT INTO rules (job, rule_id, rule_type, definition) VALUES ($1, $2, $3, $4::text::jsonb)
             ON CONFLICT (job, rule_id) DO UPDATE SET rule_type = EXCLUDED.rule_type, definition = EXCLUDED.definition",
            &[&job.name, &rule.id, &rule.kind.type_name(), &rule.to_json().to_string()],
        )
        .map_err(|e| Error::db("recording the job's rules")(e).in_rule(&rule.id))?;
    }
    Ok(new_alerts)
}

/// The alerts of `job` whose window starts in `[since, until]` (seconds).
pub fn stored(
    client: &mut postgres::Client,
    job: &str,
    since: i64,
    until: i64,
) -> Result<Vec<Alert>> {
    let rows = client
        .query(
            "SELECT rule_id, rule_type, severity, group_key::text,
                    floor(extract(epoch from window_start))::bigint, floor(extract(epoch from window_end))::bigint,
                    count, message, evidence::text
             FROM alerts WHERE job = $1 AND window_start >= to_timestamp($2) AND window_start < to_timestamp($3)
             ORDER BY window_start, rule_id",
            &[&job, &(since as f64), &((until + 1) as f64)],
        )
        .map_err(Error::db("reading stored alerts"))?;
    let bad = |what: &str| Error::Protocol(format!("a stored alert has an unreadable {what}"));
    let mut out = Vec::new();
    for r in rows {
        #[derive(serde::Deserialize)]
        struct Stored {
            path: String,
            line: u64,
            index: Option<u64>,
            text: Option<String>,
        }
        let evidence: Vec<Stored> =
            serde_json::from_str(&r.get::<_, String>(8)).map_err(|_| bad("evidence"))?;
        out.push(Alert {
            rule_id: r.get(0),
            rule_type: crate::config::RuleKind::type_name_of(&r.get::<_, String>(1)),
            severity: r.get::<_, String>(2).parse().map_err(|_| bad("severity"))?,
            group: serde_json::from_str(&r.get::<_, String>(3)).map_err(|_| bad("group"))?,
            window_start: Timestamp::from_secs(r.get(4)),
            window_end: Timestamp::from_secs(r.get(5)),
            count: r.get::<_, i64>(6) as u64,
            message: r.get(7),
            evidence: evidence
                .into_iter()
                .map(|e| Evidence {
                    path: Arc::from(e.path),
                    line: e.line,
                    index: e.index,
                    text: e.text,
                })
                .collect(),
        });
    }
    Ok(out)
}
