//! Alerts and rules as stored: one alert per identity (job, rule id, group,
//! window start), and each job's rules as last run.

use crate::config::{AlertSeverity, Job};
use crate::detect::{Alert, Evidence};
use crate::error::{Error, Result};
use crate::parse::Timestamp;
use std::sync::Arc;

/// An alert that a run stored for the first time, or whose window or
/// count changed.
pub struct Stored {
    pub id: i64,
    /// Inserted (else updated).
    pub new: bool,
    /// The incident it already belongs to (an updated alert).
    pub incident: Option<i64>,
    pub alert: Alert,
}

/// Stores alerts once per identity in `tx`: a known one is updated (its
/// window may have grown), a new one inserted. Also records the job's
/// rules. Returns the new and changed alerts (an alert seen again as it
/// was is not returned); the caller commits once they are reported.
pub fn store(
    tx: &mut postgres::Transaction<'_>,
    job: &Job,
    alerts: Vec<Alert>,
) -> Result<Vec<Stored>> {
    let mut stored = Vec::new();
    let insert = tx
        .prepare(
            "INSERT INTO alerts (rule_id, rule_type, severity, group_key, window_start, window_end,
                                 count, message, evidence, job)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (job, rule_id, group_key, window_start) DO UPDATE SET
               window_end = EXCLUDED.window_end, count = EXCLUDED.count,
               message = EXCLUDED.message, evidence = EXCLUDED.evidence,
               last_seen = EXCLUDED.last_seen
             WHERE alerts.window_end <> EXCLUDED.window_end OR alerts.count <> EXCLUDED.count
             RETURNING id, (xmax = 0), incident_id",
        )
        .map_err(Error::db("preparing the alert upsert"))?;
    for a in alerts {
        let group = serde_json::to_value(&a.group).expect("a map of strings serializes");
        let evidence = serde_json::to_value(&a.evidence).expect("evidence serializes");
        let row = tx
            .query_opt(
                &insert,
                &[
                    &a.rule_id,
                    &a.rule_type,
                    &a.severity.as_str(),
                    &group,
                    &super::at_timestamp(a.window_start),
                    &super::at_timestamp(a.window_end),
                    &(a.count as i64),
                    &a.message,
                    &evidence,
                    &job.name,
                ],
            )
            .map_err(|e| Error::db("storing an alert")(e).in_rule(&a.rule_id))?;
        if let Some(row) = row {
            stored.push(Stored { id: row.get(0), new: row.get(1), incident: row.get(2), alert: a });
        }
    }
    for rule in &job.rules {
        tx.execute(
            "INSERT INTO rules (job, rule_id, rule_type, definition) VALUES ($1, $2, $3, $4)
             ON CONFLICT (job, rule_id) DO UPDATE SET rule_type = EXCLUDED.rule_type, definition = EXCLUDED.definition",
            &[&job.name, &rule.id, &rule.kind.type_name(), &rule.to_json()],
        )
        .map_err(|e| Error::db("recording the job's rules")(e).in_rule(&rule.id))?;
    }
    Ok(stored)
}

/// The columns [`from_row`] reads, from `alerts`.
const ALERT_COLUMNS: &str =
    "rule_id, rule_type, severity, group_key, window_start, window_end, count, message, evidence";

/// The alerts (of `job`, or of every job) whose window starts in
/// `[since, until]` (seconds).
pub fn stored(
    client: &mut impl postgres::GenericClient,
    job: Option<&str>,
    since: i64,
    until: i64,
) -> Result<Vec<Alert>> {
    let rows = client
        .query(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM alerts
                 WHERE ($1::text IS NULL OR job = $1) AND window_start >= $2 AND window_start < $3
                 ORDER BY window_start, rule_id"
            ),
            &[&job, &super::at(since), &super::at(until + 1)],
        )
        .map_err(Error::db("reading stored alerts"))?;
    rows.iter().map(|r| from_row(r, 0)).collect()
}

/// An alert from the [`ALERT_COLUMNS`] of `r`, starting at column `at`.
pub fn from_row(r: &postgres::Row, at: usize) -> Result<Alert> {
    let bad = |what: &str| Error::Protocol(format!("a stored alert has an unreadable {what}"));
    #[derive(serde::Deserialize)]
    struct Stored {
        path: String,
        line: u64,
        index: Option<u64>,
        text: Option<String>,
    }
    let evidence: Vec<Stored> =
        serde_json::from_value(r.get(at + 8)).map_err(|_| bad("evidence"))?;
    Ok(Alert {
        rule_id: r.get(at),
        rule_type: crate::config::RuleKind::type_name_of(&r.get::<_, String>(at + 1)),
        severity: r.get::<_, String>(at + 2).parse().map_err(|_| bad("severity"))?,
        group: serde_json::from_value(r.get(at + 3)).map_err(|_| bad("group"))?,
        window_start: Timestamp::from_secs(super::secs(r.get(at + 4))),
        window_end: Timestamp::from_secs(super::secs(r.get(at + 5))),
        count: r.get::<_, i64>(at + 6) as u64,
        message: r.get(at + 7),
        evidence: evidence
            .into_iter()
            .map(|e| Evidence {
                path: Arc::from(e.path),
                line: e.line,
                index: e.index,
                text: e.text,
            })
            .collect(),
    })
}

/// A stored alert with what the dashboard shows of it.
#[derive(Clone, Debug)]
pub struct AlertRow {
    pub id: i64,
    pub job: String,
    pub alert: Alert,
    /// Who acknowledged it and when (RFC 3339, UTC).
    pub acknowledged: Option<(String, String)>,
    /// Its place in the listing's order: window start (microseconds), id.
    pub cursor: (i64, i64),
    /// The incident it belongs to (alerts stored before incidents existed
    /// have none).
    pub incident: Option<i64>,
}

/// Which alerts a listing shows.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub job: Option<String>,
    pub rule: Option<String>,
    /// This severity or a higher one.
    pub severity: Option<AlertSeverity>,
    /// `Some(false)`: not acknowledged; `Some(true)`: acknowledged.
    pub acknowledged: Option<bool>,
    /// Only windows starting at or after this time (seconds).
    pub since: Option<i64>,
}

const ROW_COLUMNS: &str = concat!(
    "id, job, acknowledged_by, ",
    utc_text!("acknowledged_at"),
    ", (extract(epoch from window_start) * 1000000)::bigint, incident_id"
);

fn alert_row(r: &postgres::Row) -> Result<AlertRow> {
    let by: Option<String> = r.get(2);
    let at: Option<String> = r.get(3);
    Ok(AlertRow {
        id: r.get(0),
        job: r.get(1),
        acknowledged: by.zip(at),
        cursor: (r.get(4), r.get(0)),
        incident: r.get(5),
        alert: from_row(r, 6)?,
    })
}

/// The severities at or above `min` (as stored), for `severity = ANY($n)`.
pub fn at_least(min: Option<AlertSeverity>) -> Option<Vec<&'static str>> {
    min.map(|min| AlertSeverity::ALL.iter().filter(|s| **s >= min).map(|s| s.as_str()).collect())
}

/// A page of at most `limit` alerts, newest window first, from just
/// before a row's `cursor` when given; and whether there are more.
pub fn list(
    client: &mut impl postgres::GenericClient,
    f: &AlertFilter,
    before: Option<(i64, i64)>,
    limit: usize,
) -> Result<(Vec<AlertRow>, bool)> {
    let severities = at_least(f.severity);
    let rows = client
        .query(
            &format!(
                "SELECT {ROW_COLUMNS}, {ALERT_COLUMNS} FROM alerts
                 WHERE ($1::text IS NULL OR job = $1) AND ($2::text IS NULL OR rule_id = $2)
                   AND ($3::text[] IS NULL OR severity = ANY($3))
                   AND ($4::bool IS NULL OR (acknowledged_at IS NOT NULL) = $4)
                   AND ($5::bigint IS NULL OR (window_start, id) < ('epoch'::timestamptz + $5 * interval '1 microsecond', $6))
                   AND ($8::timestamptz IS NULL OR window_start >= $8)
                 ORDER BY window_start DESC, id DESC LIMIT $7"
            ),
            &[
                &f.job,
                &f.rule,
                &severities,
                &f.acknowledged,
                &before.map(|b| b.0),
                &before.map_or(0, |b| b.1),
                &(limit as i64 + 1),
                &f.since.map(super::at),
            ],
        )
        .map_err(Error::db("listing alerts"))?;
    let more = rows.len() > limit;
    Ok((rows.iter().take(limit).map(alert_row).collect::<Result<_>>()?, more))
}

/// One alert by its number.
pub fn get(client: &mut impl postgres::GenericClient, id: i64) -> Result<Option<AlertRow>> {
    client
        .query_opt(
            &format!("SELECT {ROW_COLUMNS}, {ALERT_COLUMNS} FROM alerts WHERE id = $1"),
            &[&id],
        )
        .map_err(Error::db("reading an alert"))?
        .as_ref()
        .map(alert_row)
        .transpose()
}

/// The alerts of incident `id`, newest window first (at most `limit`).
pub fn of_incident(
    client: &mut impl postgres::GenericClient,
    id: i64,
    limit: usize,
) -> Result<Vec<AlertRow>> {
    client
        .query(
            &format!(
                "SELECT {ROW_COLUMNS}, {ALERT_COLUMNS} FROM alerts WHERE incident_id = $1
                 ORDER BY window_start DESC, id DESC LIMIT $2"
            ),
            &[&id, &(limit as i64)],
        )
        .map_err(Error::db("reading an incident's alerts"))?
        .iter()
        .map(alert_row)
        .collect()
}

/// Per job and rule: alerts whose window starts in `[since, until]`,
/// those not acknowledged, and the newest window start (RFC 3339).
pub struct RuleAlerts {
    pub job: String,
    pub rule_id: String,
    pub alerts: i64,
    pub open: i64,
    pub newest: String,
}

pub fn per_rule(
    client: &mut impl postgres::GenericClient,
    since: i64,
    until: i64,
) -> Result<Vec<RuleAlerts>> {
    let rows = client
        .query(
            concat!(
                "SELECT job, rule_id, count(*), count(*) FILTER (WHERE acknowledged_at IS NULL), ",
                utc_text!("max(window_start)"),
                " FROM alerts WHERE window_start >= $1 AND window_start < $2
                  GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
            ),
            &[&super::at(since), &super::at(until + 1)],
        )
        .map_err(Error::db("counting alerts per rule"))?;
    Ok(rows
        .iter()
        .map(|r| RuleAlerts {
            job: r.get(0),
            rule_id: r.get(1),
            alerts: r.get(2),
            open: r.get(3),
            newest: r.get(4),
        })
        .collect())
}

/// A rule as stored: its job, id, type and definition (the job file's keys, as JSON).
pub struct StoredRule {
    pub job: String,
    pub rule_id: String,
    pub rule_type: String,
    pub definition: String,
}

/// Every job's rules as last run.
pub fn rules(client: &mut impl postgres::GenericClient) -> Result<Vec<StoredRule>> {
    let rows = client
        .query("SELECT job, rule_id, rule_type, jsonb_pretty(definition) FROM rules ORDER BY job, rule_id", &[])
        .map_err(Error::db("listing the rules"))?;
    Ok(rows
        .iter()
        .map(|r| StoredRule {
            job: r.get(0),
            rule_id: r.get(1),
            rule_type: r.get(2),
            definition: r.get(3),
        })
        .collect())
}
