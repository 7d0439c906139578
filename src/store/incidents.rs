//! Incidents and the notification outbox.
//!
//! An incident is one rule and one group of a job while it keeps firing.
//! In the transaction that stores a run's alerts, [`track`] joins each new
//! or grown alert to its incident (or opens one), resolves the incidents
//! the run has covered `resolve_after` past without them firing, and
//! returns what happened; [`enqueue`] writes the notifications of that to
//! the outbox in the same transaction. After the commit, [`send_pending`]
//! delivers what the outbox holds, one row (or one e-mail) per
//! transaction that keeps it locked while sending: a run killed after a
//! send and before its bookkeeping sends that one again (with the same
//! idempotency key), never more, and a receiver that is down keeps its
//! notifications for the next run.

use super::alerts::Stored;
use crate::config::notify::ReceiverKind;
use crate::config::{AlertSeverity, Job, RuleKind};
use crate::detect::{Alert, Evidence};
use crate::error::{Error, Result};
use crate::notify::{self, IncidentState, Notification};
use crate::parse::Timestamp;
use postgres::GenericClient;
use std::sync::Arc;

/// What happened to an incident in a run.
pub struct Event {
    /// `open`, `repeat` or `resolved`.
    pub event: &'static str,
    pub incident: IncidentState,
    /// The incident's latest alert.
    pub alert: Alert,
    /// The data time of the run (seconds): `repeat_interval` counts from it.
    pub at: i64,
}

/// A live incident as [`track`] reads it.
struct Live {
    id: i64,
    first: i64,
    last_end: i64,
    occurrences: i64,
    runs: i64,
    acknowledged: Option<(String, std::time::SystemTime)>,
}

const LIVE_COLUMNS: &str = "id, floor(extract(epoch from first_window))::bigint,
    floor(extract(epoch from last_window_end))::bigint, occurrences, runs::bigint,
    acknowledged_by, acknowledged_at";

fn live(r: &postgres::Row) -> Live {
    let by: Option<String> = r.get(5);
    let at: Option<std::time::SystemTime> = r.get(6);
    Live {
        id: r.get(0),
        first: r.get(1),
        last_end: r.get(2),
        occurrences: r.get(3),
        runs: r.get(4),
        acknowledged: by.zip(at),
    }
}

/// Joins `stored` (a run's new and grown alerts, in report order) to
/// their incidents and resolves the incidents the run covered. `covered`
/// is the end of the data the run detected over (seconds), `reference`
/// its reference time (inactivity rules are covered up to it).
pub fn track(
    tx: &mut postgres::Transaction<'_>,
    job: &Job,
    stored: &[Stored],
    run_id: Option<i64>,
    covered: Option<i64>,
    reference: i64,
) -> Result<Vec<Event>> {
    let db = |what: &'static str| Error::db(what);
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&super::lock_key("incidents", &job.name)])
        .map_err(db("locking the job's incidents"))?;
    // How far the run covered a rule's time: an inactivity rule up to the
    // reference time (a silence runs up to it), the others to the data's end.
    let upto = |rule: &crate::config::Rule| match rule.kind {
        RuleKind::Inactivity { .. } => Some(covered.map_or(reference, |c| c.max(reference))),
        _ => covered,
    };
    let mut events = Vec::new();
    // Incidents opened, and those that fired further, in this run.
    let mut opened: Vec<i64> = Vec::new();
    let mut grew: Vec<(i64, Alert, i64)> = Vec::new();
    for s in stored {
        let a = &s.alert;
        let Some(rule) = job.rules.iter().find(|r| r.id == a.rule_id) else { continue };
        let at = upto(rule).unwrap_or(reference);
        let group = serde_json::to_value(&a.group).expect("a map of strings serializes");
        let found = match s.incident {
            Some(id) => tx
                .query_opt(
                    &format!("SELECT {LIVE_COLUMNS} FROM incidents WHERE id = $1 AND state <> 'resolved' FOR UPDATE"),
                    &[&id],
                )
                .map_err(db("reading an incident"))?
                .map(|r| live(&r)),
            None => tx
                .query_opt(
                    &format!(
                        "SELECT {LIVE_COLUMNS} FROM incidents
                         WHERE job = $1 AND rule_id = $2 AND group_key = $3 AND state <> 'resolved' FOR UPDATE"
                    ),
                    &[&job.name, &a.rule_id, &group],
                )
                .map_err(db("reading an incident"))?
                .map(|r| live(&r)),
        };
        if s.incident.is_some() && found.is_none() {
            // It grew after its incident was resolved: history only.
            continue;
        }
        let joins = found.as_ref().filter(|l| {
            s.incident.is_some() || a.window_start.secs <= l.last_end + rule.resolve_after()
        });
        let evidence = serde_json::to_value(&a.evidence).expect("evidence serializes");
        let window = (super::at_timestamp(a.window_start), super::at_timestamp(a.window_end));
        let id = match joins {
            Some(l) => {
                tx.execute(
                    "UPDATE incidents SET
                       last_window_start = greatest(last_window_start, $2),
                       last_window_end = greatest(last_window_end, $3),
                       occurrences = occurrences + $4,
                       runs = runs + CASE WHEN last_run IS DISTINCT FROM $5 THEN 1 ELSE 0 END,
                       last_run = $5, severity = $6, count = $7, message = $8, evidence = $9
                     WHERE id = $1",
                    &[
                        &l.id,
                        &window.0,
                        &window.1,
                        &i64::from(s.new),
                        &run_id,
                        &a.severity.as_str(),
                        &(a.count as i64),
                        &a.message,
                        &evidence,
                    ],
                )
                .map_err(db("extending an incident"))?;
                if a.window_end.secs > l.last_end && !opened.contains(&l.id) {
                    grew.retain(|(g, ..)| *g != l.id);
                    grew.push((l.id, a.clone(), at));
                }
                l.id
            }
            None => {
                if let Some(old) = &found {
                    // The same rule and group again after a quiet gap:
                    // the old incident ended.
                    events.push(resolve(tx, old.id, at)?);
                    grew.retain(|(g, ..)| *g != old.id);
                }
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO incidents (job, rule_id, group_key, rule_type, severity,
                            first_window, last_window_start, last_window_end, last_run, count,
                            message, evidence)
                         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11) RETURNING id",
                        &[
                            &job.name,
                            &a.rule_id,
                            &group,
                            &a.rule_type,
                            &a.severity.as_str(),
                            &window.0,
                            &window.1,
                            &run_id,
                            &(a.count as i64),
                            &a.message,
                            &evidence,
                        ],
                    )
                    .map_err(db("opening an incident"))?
                    .get(0);
                opened.push(id);
                events.push(Event {
                    event: "open",
                    incident: IncidentState {
                        id,
                        first: a.window_start.secs,
                        last: a.window_end.secs,
                        occurrences: 1,
                        runs: 1,
                        state: "open",
                    },
                    alert: a.clone(),
                    at,
                });
                id
            }
        };
        tx.execute(
            "UPDATE alerts SET incident_id = i.id,
                acknowledged_by = coalesce(alerts.acknowledged_by, i.acknowledged_by),
                acknowledged_at = coalesce(alerts.acknowledged_at, i.acknowledged_at)
             FROM incidents i WHERE alerts.id = $1 AND i.id = $2",
            &[&s.id, &id],
        )
        .map_err(db("joining an alert to its incident"))?;
    }
    // Resolved: the run covered `resolve_after` past the last window.
    let rows = tx
        .query(
            &format!("SELECT {LIVE_COLUMNS}, rule_id FROM incidents WHERE job = $1 AND state <> 'resolved' ORDER BY id"),
            &[&job.name],
        )
        .map_err(db("reading the live incidents"))?;
    let mut resolved = Vec::new();
    for r in &rows {
        let l = live(r);
        let rule_id: String = r.get(7);
        // A rule taken out of the job fires no more: its incidents end
        // once a run covers anything past them.
        let (until, after) = match job.rules.iter().find(|x| x.id == rule_id) {
            Some(rule) => (upto(rule), rule.resolve_after()),
            None => (covered, 0),
        };
        if let Some(u) = until.filter(|u| *u >= l.last_end + after) {
            events.push(resolve(tx, l.id, u)?);
            resolved.push(l.id);
        }
    }
    // An incident opened and extended in the same run: its open
    // notification tells what it is at the run's end.
    for e in events.iter_mut().filter(|e| e.event == "open") {
        let row = tx
            .query_one(
                &format!("SELECT {LIVE_COLUMNS} FROM incidents WHERE id = $1"),
                &[&e.incident.id],
            )
            .map_err(db("reading an incident"))?;
        let l = live(&row);
        (e.incident.last, e.incident.occurrences, e.incident.runs) =
            (l.last_end, l.occurrences, l.runs);
    }
    // Still firing: grew in this run, still open (an acknowledged
    // incident is not repeated).
    for (id, alert, at) in grew {
        if resolved.contains(&id) {
            continue;
        }
        let row = tx
            .query_one(&format!("SELECT {LIVE_COLUMNS} FROM incidents WHERE id = $1"), &[&id])
            .map_err(db("reading an incident"))?;
        let l = live(&row);
        if l.acknowledged.is_none() {
            events.push(Event {
                event: "repeat",
                incident: IncidentState {
                    id,
                    first: l.first,
                    last: l.last_end,
                    occurrences: l.occurrences,
                    runs: l.runs,
                    state: "open",
                },
                alert,
                at,
            });
        }
    }
    Ok(events)
}

/// Marks incident `id` resolved (the data covered up to `upto`).
fn resolve(tx: &mut postgres::Transaction<'_>, id: i64, upto: i64) -> Result<Event> {
    let r = tx
        .query_one(
            &format!(
                "UPDATE incidents SET state = 'resolved', resolved_at = now(), resolved_window = $2
                 WHERE id = $1
                 RETURNING {LIVE_COLUMNS}, rule_id, rule_type, severity, group_key,
                   last_window_start, last_window_end, count, message, evidence"
            ),
            &[&id, &super::at(upto)],
        )
        .map_err(Error::db("resolving an incident"))?;
    let l = live(&r);
    let bad = |what: &str| Error::Protocol(format!("incident {id} has an unreadable {what}"));
    let evidence: Vec<EvidenceRow> =
        serde_json::from_value(r.get(15)).map_err(|_| bad("evidence"))?;
    let alert = Alert {
        rule_id: r.get(7),
        rule_type: RuleKind::type_name_of(&r.get::<_, String>(8)),
        severity: r.get::<_, String>(9).parse().map_err(|_| bad("severity"))?,
        group: serde_json::from_value(r.get(10)).map_err(|_| bad("group"))?,
        window_start: Timestamp::from_secs(super::secs(r.get(11))),
        window_end: Timestamp::from_secs(super::secs(r.get(12))),
        count: r.get::<_, i64>(13) as u64,
        message: r.get(14),
        evidence: evidence
            .into_iter()
            .map(|e| Evidence {
                path: Arc::from(e.path),
                line: e.line,
                index: e.index,
                text: e.text,
            })
            .collect(),
    };
    Ok(Event {
        event: "resolved",
        incident: IncidentState {
            id,
            first: l.first,
            last: l.last_end,
            occurrences: l.occurrences,
            runs: l.runs,
            state: "resolved",
        },
        alert,
        at: upto,
    })
}

#[derive(serde::Deserialize)]
struct EvidenceRow {
    path: String,
    line: u64,
    index: Option<u64>,
    text: Option<String>,
}

/// The notifications of `events` for each receiver of `job` that wants
/// them (anonymized as the reports are, when they are), written to the
/// outbox (unless `write` is false: a dry run).
/// Returns them with their receiver's name.
pub fn enqueue(
    tx: &mut postgres::Transaction<'_>,
    job: &Job,
    events: &[Event],
    (run_id, report): (Option<i64>, &[String]),
    anonymizer: Option<&crate::report::anonymize::Anonymizer>,
    write: bool,
) -> Result<Vec<(String, Notification)>> {
    let mut out = Vec::new();
    for r in &job.notify {
        for e in events {
            if !r.on.wants(e.event) || !notify::wants(r, &e.alert.rule_id, e.alert.severity) {
                continue;
            }
            if e.event == "repeat" {
                let last: Option<std::time::SystemTime> = tx
                    .query_one(
                        "SELECT max(at) FROM outbox WHERE incident_id = $1 AND receiver = $2
                           AND event IN ('open', 'repeat')",
                        &[&e.incident.id, &r.name],
                    )
                    .map_err(Error::db("reading when an incident was last sent"))?
                    .get(0);
                let last = last.map_or(e.incident.first, super::secs);
                if e.at - last < r.repeat_interval {
                    continue;
                }
            }
            let mut alert = e.alert.clone();
            if let Some(a) = anonymizer {
                a.alert(&mut alert);
            }
            let mut n = Notification::new(e.event, &job.name, &alert, &e.incident, report);
            let at = e.at.to_string();
            let nth = if e.event == "repeat" { at.as_str() } else { "" };
            n.id = notify::key(&[&job.name, &r.name, &e.incident.id.to_string(), e.event, nth]);
            n.dashboard =
                r.dashboard_url.as_deref().map(|d| notify::dashboard_link(d, e.incident.id));
            if write {
                let payload = serde_json::to_value(&n).expect("a notification serializes");
                tx.execute(
                    "INSERT INTO outbox (id_key, job, receiver, run_id, event, incident_id, payload, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id_key) DO NOTHING",
                    &[&n.id, &job.name, &r.name, &run_id, &n.event, &e.incident.id, &payload, &super::at(e.at)],
                )
                .map_err(Error::db("writing a notification to the outbox"))?;
            }
            out.push((r.name.clone(), n));
        }
    }
    Ok(out)
}

/// Outbox rows the job's receivers no longer deliver: those past their
/// receiver's `give_up_after`, and those of receivers no longer in the
/// job. They are marked given up; each is returned as a problem.
pub fn give_up_overdue(client: &mut impl GenericClient, job: &Job) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT id, receiver, event, incident_id, attempts, last_error,
                    floor(extract(epoch from now() - created_at))::bigint
             FROM outbox WHERE job = $1 AND sent_at IS NULL AND gave_up_at IS NULL ORDER BY id",
            &[&job.name],
        )
        .map_err(Error::db("reading the outbox"))?;
    let mut problems = Vec::new();
    for r in rows {
        let (id, name, event): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
        let incident: Option<i64> = r.get(3);
        let (attempts, error, age): (i32, Option<String>, i64) = (r.get(4), r.get(5), r.get(6));
        let why = match job.notify.iter().find(|x| x.name == name) {
            None => "its receiver is no longer in the job".to_string(),
            Some(x) if age >= x.give_up_after && attempts > 0 => format!(
                "not delivered after {attempts} attempt(s) in {}: {}",
                crate::config::HumanDuration(age),
                error.as_deref().unwrap_or("?")
            ),
            Some(_) => continue,
        };
        client
            .execute("UPDATE outbox SET gave_up_at = now() WHERE id = $1", &[&id])
            .map_err(Error::db("giving up a notification"))?;
        problems.push(format!(
            "notification gave up: {event} of incident {} to {name}: {why}",
            incident.map_or("-".into(), |i| i.to_string())
        ));
    }
    Ok(problems)
}

/// What [`send_pending`] did.
#[derive(Default, Debug)]
pub struct Sent {
    pub sent: usize,
    /// One line per failed send (receiver and why; no secret).
    pub failed: Vec<String>,
}

/// Seconds before the next attempt after `attempts` failed ones.
fn backoff(attempts: i32) -> i64 {
    (30i64 << attempts.clamp(0, 5)).min(600)
}

/// Delivers the job's outbox rows whose backoff is over (all of them with
/// `all`), in the order they were made. Each receiver gets its
/// notifications in order: after a failure, or behind one still waiting
/// out its backoff, the receiver's later ones wait too (and a receiver
/// that is down costs one timeout per run, not one per notification).
/// Each row, or each run's e-mail to one receiver, is sent in a
/// transaction that locks it: concurrent runs skip what another is sending.
pub fn send_pending(client: &mut postgres::Client, job: &Job, all: bool) -> Result<Sent> {
    let mut done = Sent::default();
    let mut after = 0i64;
    let mut blocked: Vec<String> = Vec::new();
    loop {
        let mut tx = client.transaction().map_err(Error::db("starting a send"))?;
        let Some(first) = tx
            .query_opt(
                "SELECT id, receiver, run_id, next_attempt <= now() FROM outbox
                 WHERE job = $1 AND id > $2 AND sent_at IS NULL AND gave_up_at IS NULL
                   AND NOT (receiver = ANY($3))
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[&job.name, &after, &blocked],
            )
            .map_err(Error::db("reading the outbox"))?
        else {
            return Ok(done);
        };
        let (id, name, run): (i64, String, Option<i64>) =
            (first.get(0), first.get(1), first.get(2));
        after = id;
        let Some(receiver) = job.notify.iter().find(|r| r.name == name) else {
            // Given up by give_up_overdue at the next run's report.
            continue;
        };
        if !all && !first.get::<_, bool>(3) {
            blocked.push(name);
            continue;
        }
        // One e-mail holds a run's notifications to its receiver.
        let rows = if matches!(receiver.kind, ReceiverKind::Email { .. }) {
            tx.query(
                "SELECT id, payload FROM outbox
                 WHERE job = $1 AND receiver = $2 AND run_id IS NOT DISTINCT FROM $3
                   AND sent_at IS NULL AND gave_up_at IS NULL
                 ORDER BY id FOR UPDATE SKIP LOCKED",
                &[&job.name, &name, &run],
            )
        } else {
            tx.query("SELECT id, payload FROM outbox WHERE id = $1", &[&id])
        }
        .map_err(Error::db("reading the outbox"))?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let batch: Vec<Notification> =
            rows.iter().filter_map(|r| serde_json::from_value(r.get(1)).ok()).collect();
        // The same rows, the same key: a retried e-mail keeps its Message-ID.
        let keys: Vec<&str> = batch.iter().map(|n| n.id.as_str()).collect();
        let mail_id = notify::key(&keys);
        let result = if batch.len() == ids.len() {
            notify::deliver(receiver, &batch, &mail_id)
        } else {
            Err(notify::SendError("a stored notification is unreadable".into()))
        };
        crate::run::test_kill_point("after-send");
        match result {
            Ok(()) => {
                tx.execute(
                    "UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL
                     WHERE id = ANY($1)",
                    &[&ids],
                )
                .map_err(Error::db("recording a sent notification"))?;
                done.sent += ids.len();
            }
            Err(e) => {
                let attempts: i32 = tx
                    .query_one("SELECT attempts FROM outbox WHERE id = $1", &[&id])
                    .map_err(Error::db("reading the outbox"))?
                    .get(0);
                tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                        next_attempt = now() + $3 * interval '1 second'
                     WHERE id = ANY($1)",
                    &[&ids, &e.0, &(backoff(attempts) as f64)],
                )
                .map_err(Error::db("recording a failed send"))?;
                done.failed
                    .push(format!("{name}: {} notification(s) not delivered: {e}", ids.len()));
                blocked.push(name);
            }
        }
        tx.commit().map_err(Error::db("recording a send"))?;
    }
}

/// An incident as the dashboard lists it.
#[derive(Clone, Debug)]
pub struct IncidentRow {
    pub id: i64,
    pub job: String,
    pub rule_id: String,
    pub rule_type: String,
    pub severity: AlertSeverity,
    pub group: std::collections::BTreeMap<String, String>,
    pub state: String,
    /// RFC 3339, UTC: first window start, last window end.
    pub first: String,
    pub last: String,
    pub occurrences: i64,
    pub runs: i64,
    pub message: String,
    /// Who acknowledged it and when.
    pub acknowledged: Option<(String, String)>,
    /// Its place in the listing: last window end (microseconds), id.
    pub cursor: (i64, i64),
}

const ROW_COLUMNS: &str = concat!(
    "id, job, rule_id, rule_type, severity, group_key, state, ",
    utc_text!("first_window"),
    ", ",
    utc_text!("last_window_end"),
    ", occurrences, runs::bigint, message, acknowledged_by, ",
    utc_text!("acknowledged_at"),
    ", (extract(epoch from last_window_end) * 1000000)::bigint"
);

fn incident_row(r: &postgres::Row) -> Result<IncidentRow> {
    let bad = |what: &str| Error::Protocol(format!("a stored incident has an unreadable {what}"));
    let by: Option<String> = r.get(12);
    let at: Option<String> = r.get(13);
    Ok(IncidentRow {
        id: r.get(0),
        job: r.get(1),
        rule_id: r.get(2),
        rule_type: r.get(3),
        severity: r.get::<_, String>(4).parse().map_err(|_| bad("severity"))?,
        group: serde_json::from_value(r.get(5)).map_err(|_| bad("group"))?,
        state: r.get(6),
        first: r.get(7),
        last: r.get(8),
        occurrences: r.get(9),
        runs: r.get(10),
        message: r.get(11),
        acknowledged: by.zip(at),
        cursor: (r.get(14), r.get(0)),
    })
}

/// Which incidents a listing shows.
#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    pub job: Option<String>,
    pub rule: Option<String>,
    pub severity: Option<AlertSeverity>,
    /// `open`, `acknowledged` or `resolved`.
    pub state: Option<String>,
}

/// A page of at most `limit` incidents, the latest last window first,
/// from just before `before` when given; and whether there are more.
pub fn list(
    client: &mut impl GenericClient,
    f: &IncidentFilter,
    before: Option<(i64, i64)>,
    limit: usize,
) -> Result<(Vec<IncidentRow>, bool)> {
    let severities: Option<Vec<&str>> = f
        .severity
        .map(|min| AlertSeverity::ALL.iter().filter(|s| **s >= min).map(|s| s.as_str()).collect());
    let rows = client
        .query(
            &format!(
                "SELECT {ROW_COLUMNS} FROM incidents
                 WHERE ($1::text IS NULL OR job = $1) AND ($2::text IS NULL OR rule_id = $2)
                   AND ($3::text[] IS NULL OR severity = ANY($3))
                   AND ($4::text IS NULL OR state = $4)
                   AND ($5::bigint IS NULL OR (last_window_end, id) < ('epoch'::timestamptz + $5 * interval '1 microsecond', $6))
                 ORDER BY last_window_end DESC, id DESC LIMIT $7"
            ),
            &[
                &f.job,
                &f.rule,
                &severities,
                &f.state,
                &before.map(|b| b.0),
                &before.map_or(0, |b| b.1),
                &(limit as i64 + 1),
            ],
        )
        .map_err(Error::db("listing incidents"))?;
    let more = rows.len() > limit;
    Ok((rows.iter().take(limit).map(incident_row).collect::<Result<_>>()?, more))
}

/// An incident with its alerts and its notifications.
pub struct IncidentPage {
    pub incident: IncidentRow,
    /// Newest window first.
    pub alerts: Vec<super::alerts::AlertRow>,
    pub sent: Vec<OutboxRow>,
}

/// One incident, its alerts (at most `limit`) and its notifications.
pub fn get(client: &mut impl GenericClient, id: i64, limit: usize) -> Result<Option<IncidentPage>> {
    let Some(row) = client
        .query_opt(&format!("SELECT {ROW_COLUMNS} FROM incidents WHERE id = $1"), &[&id])
        .map_err(Error::db("reading an incident"))?
    else {
        return Ok(None);
    };
    let incident = incident_row(&row)?;
    let alerts = super::alerts::of_incident(client, id, limit)?;
    let sent = outbox_rows(client, "incident_id = $1", &id)?;
    Ok(Some(IncidentPage { incident, alerts, sent }))
}

fn outbox_rows(
    client: &mut impl GenericClient,
    filter: &str,
    param: &(dyn postgres::types::ToSql + Sync),
) -> Result<Vec<OutboxRow>> {
    Ok(client
        .query(
            &format!(
                "SELECT receiver, event, {}, attempts, last_error, sent_at IS NOT NULL,
                        gave_up_at IS NOT NULL, incident_id
                 FROM outbox WHERE {filter} ORDER BY id",
                utc_text!("created_at")
            ),
            &[param],
        )
        .map_err(Error::db("reading the outbox"))?
        .iter()
        .map(|r| OutboxRow {
            receiver: r.get(0),
            event: r.get(1),
            created: r.get(2),
            attempts: r.get(3),
            last_error: r.get(4),
            state: match (r.get::<_, bool>(5), r.get::<_, bool>(6)) {
                (true, _) => "sent",
                (_, true) => "given up",
                _ => "pending",
            },
            incident: r.get(7),
        })
        .collect())
}

/// A notification as the dashboard and `logtrack notify` show it.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub receiver: String,
    pub event: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// `sent`, `given up` or `pending`.
    pub state: &'static str,
    pub incident: Option<i64>,
}

/// Marks incident `id` acknowledged by `user` (and its alerts), unless it
/// is already or is resolved; returns whether the incident exists.
pub fn acknowledge(client: &mut impl GenericClient, id: i64, user: &str) -> Result<bool> {
    let found = client
        .query_opt(
            "UPDATE incidents SET
               state = CASE WHEN state = 'open' THEN 'acknowledged' ELSE state END,
               acknowledged_by = coalesce(acknowledged_by, $2),
               acknowledged_at = coalesce(acknowledged_at, now())
             WHERE id = $1 RETURNING id",
            &[&id, &user],
        )
        .map_err(Error::db("acknowledging an incident"))?;
    if found.is_none() {
        return Ok(false);
    }
    client
        .execute(
            "UPDATE alerts SET acknowledged_by = coalesce(acknowledged_by, $2),
                               acknowledged_at = coalesce(acknowledged_at, now())
             WHERE incident_id = $1",
            &[&id, &user],
        )
        .map_err(Error::db("acknowledging an incident's alerts"))?;
    Ok(true)
}

/// The job's notifications not delivered yet (nor given up).
pub fn pending(client: &mut impl GenericClient, job: &str) -> Result<Vec<OutboxRow>> {
    outbox_rows(client, "job = $1 AND sent_at IS NULL AND gave_up_at IS NULL", &job)
}
