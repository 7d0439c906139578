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
use super::outbox::{outbox_rows, OutboxRow};
use crate::config::{AlertSeverity, Job, RuleKind};
use crate::detect::Alert;
use crate::error::{Error, Result};
use crate::notify::quiet::{self, Hold};
use crate::notify::{self, IncidentState, Notification};
use postgres::GenericClient;
use std::collections::HashMap;
use std::time::SystemTime;

/// What happened to an incident in a run.
pub struct Event {
    /// `open`, `repeat` or `resolved`.
    pub event: &'static str,
    pub incident: IncidentState,
    /// The incident's latest alert.
    pub alert: Alert,
    /// The data time of the run (seconds): `repeat_interval` counts from it.
    pub at: i64,
    /// Its first notification was held back (silenced or inhibited) and
    /// not made yet: it is made ("open") once nothing holds it, and never
    /// if it resolves first.
    pub held: bool,
}

/// An incident as a run plans it: read live from the table, or opened by
/// the run. Planned in memory, written back in three statements.
struct Plan {
    /// Given once the run's new incidents are numbered.
    id: i64,
    /// Opened by this run.
    new: bool,
    /// Its latest alert.
    alert: Alert,
    first: SystemTime,
    last_start: SystemTime,
    last_end: SystemTime,
    occurrences: i64,
    runs: i64,
    last_run: Option<i64>,
    acknowledged: bool,
    /// Resolved: the data time the run covered.
    resolved: Option<i64>,
    /// To be written back.
    changed: bool,
    /// It fired further in this run, at this data time.
    grew: Option<i64>,
    /// The data time of the run that opened it.
    opened_at: i64,
    /// Its first notification is held back (see [`Event::held`]).
    held: bool,
}

impl Plan {
    fn state(&self) -> &'static str {
        match (self.resolved, self.acknowledged) {
            (Some(_), _) => "resolved",
            (None, true) => "acknowledged",
            (None, false) => "open",
        }
    }

    fn incident(&self) -> IncidentState {
        IncidentState {
            id: self.id,
            first: super::secs(self.first),
            last: super::secs(self.last_end),
            occurrences: self.occurrences,
            runs: self.runs,
            state: self.state(),
        }
    }
}

/// The key of a rule and group: the group as canonical JSON.
fn fingerprint(rule_id: &str, group: &std::collections::BTreeMap<String, String>) -> String {
    let group = serde_json::to_string(group).expect("a map of strings serializes");
    format!("{rule_id}\u{1f}{group}")
}

/// The job's live incidents, locked, with their latest alert.
fn load_live(tx: &mut postgres::Transaction<'_>, job: &str) -> Result<Vec<Plan>> {
    // The latest alert from the columns alerts::from_row reads, at 8.
    let rows = tx
        .query(
            "SELECT id, first_window, last_window_start, last_window_end, occurrences,
                    runs::bigint, last_run, acknowledged_by IS NOT NULL,
                    rule_id, rule_type, severity, group_key, last_window_start, last_window_end,
                    count, message, evidence, held
             FROM incidents WHERE job = $1 AND state <> 'resolved' ORDER BY id FOR UPDATE",
            &[&job],
        )
        .map_err(Error::db("reading the live incidents"))?;
    rows.iter()
        .map(|r| {
            Ok(Plan {
                id: r.get(0),
                new: false,
                alert: super::alerts::from_row(r, 8)?,
                first: r.get(1),
                last_start: r.get(2),
                last_end: r.get(3),
                occurrences: r.get(4),
                runs: r.get(5),
                last_run: r.get(6),
                acknowledged: r.get(7),
                resolved: None,
                changed: false,
                grew: None,
                opened_at: 0,
                held: r.get(17),
            })
        })
        .collect()
}

/// Joins `stored` (a run's new and grown alerts, in report order) to
/// their incidents and resolves the incidents the run covered. `covered`
/// is the end of the data the run detected over (seconds), `reference`
/// its reference time (inactivity rules are covered up to it). Returns
/// what happened: the incidents opened, then those resolved, then those
/// still firing.
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
    let mut plans = load_live(tx, &job.name)?;
    let mut live: HashMap<String, usize> = HashMap::new();
    let mut by_id: HashMap<i64, usize> = HashMap::new();
    for (i, p) in plans.iter().enumerate() {
        live.insert(fingerprint(&p.alert.rule_id, &p.alert.group), i);
        by_id.insert(p.id, i);
    }
    // (alert id, plan): which incident each alert joins.
    let mut links: Vec<(i64, usize)> = Vec::new();
    for s in stored {
        let a = &s.alert;
        let Some(rule) = job.rules.iter().find(|r| r.id == a.rule_id) else { continue };
        let at = upto(rule).unwrap_or(reference);
        let key = fingerprint(&a.rule_id, &a.group);
        let found = match s.incident {
            // It grew after its incident was resolved: history only.
            Some(id) => match by_id.get(&id) {
                Some(&i) if plans[i].resolved.is_none() => Some(i),
                _ => continue,
            },
            None => live.get(&key).copied(),
        };
        let (start, end) = (super::at_timestamp(a.window_start), super::at_timestamp(a.window_end));
        let joins = found.filter(|&i| {
            s.incident.is_some()
                || a.window_start.secs <= super::secs(plans[i].last_end) + rule.resolve_after()
        });
        let i = match joins {
            Some(i) => {
                let p = &mut plans[i];
                if end > p.last_end && !p.new {
                    p.grew = Some(at);
                }
                p.last_start = p.last_start.max(start);
                p.last_end = p.last_end.max(end);
                p.occurrences += i64::from(s.new);
                if p.last_run != run_id {
                    p.runs += 1;
                }
                p.last_run = run_id;
                p.alert = a.clone();
                p.changed = true;
                i
            }
            None => {
                if let Some(old) = found {
                    // The same rule and group again after a quiet gap:
                    // the old incident ended.
                    plans[old].resolved = Some(at);
                    plans[old].changed = true;
                }
                plans.push(Plan {
                    id: 0,
                    new: true,
                    alert: a.clone(),
                    first: start,
                    last_start: start,
                    last_end: end,
                    occurrences: 1,
                    runs: 1,
                    last_run: run_id,
                    acknowledged: false,
                    resolved: None,
                    changed: true,
                    grew: None,
                    opened_at: at,
                    held: false,
                });
                live.insert(key, plans.len() - 1);
                plans.len() - 1
            }
        };
        links.push((s.id, i));
    }
    // Resolved: the run covered `resolve_after` past the last window. A
    // rule taken out of the job fires no more: its incidents end once a
    // run covers anything past them.
    for p in plans.iter_mut().filter(|p| p.resolved.is_none()) {
        let (until, after) = match job.rules.iter().find(|x| x.id == p.alert.rule_id) {
            Some(rule) => (upto(rule), rule.resolve_after()),
            None => (covered, 0),
        };
        if let Some(u) = until.filter(|u| *u >= super::secs(p.last_end) + after) {
            p.resolved = Some(u);
            p.changed = true;
        }
    }
    write_plans(tx, job, &mut plans, &links)?;
    // What happened, in the order receivers get it. An incident whose
    // first notification was held back is offered as opened again, each
    // run while it is open and nobody acknowledged it.
    let event = |event, p: &Plan, at| Event {
        event,
        incident: p.incident(),
        alert: p.alert.clone(),
        at,
        held: p.held,
    };
    let mut events = Vec::new();
    for p in plans.iter().filter(|p| p.new) {
        let mut e = event("open", p, p.opened_at);
        e.incident.state = "open";
        events.push(e);
    }
    for p in &plans {
        if let Some(at) = p.resolved {
            events.push(event("resolved", p, at));
        }
    }
    for p in plans.iter().filter(|p| !p.new && p.resolved.is_none() && !p.acknowledged) {
        match (p.grew, p.held) {
            (Some(at), false) => events.push(event("repeat", p, at)),
            (at, true) => events.push(event("open", p, at.unwrap_or(reference))),
            (None, false) => {}
        }
    }
    Ok(events)
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("groups and evidence serialize")
}

/// Writes a run's plans: the changed incidents (resolved ones first, so
/// that a new live incident of the same rule and group never meets the
/// old one), the new ones (numbered from the table's sequence), and which
/// incident each alert joined (an acknowledged incident's new alerts are
/// acknowledged with it).
fn write_plans(
    tx: &mut postgres::Transaction<'_>,
    job_spec: &Job,
    plans: &mut [Plan],
    links: &[(i64, usize)],
) -> Result<()> {
    let job = job_spec.name.as_str();
    let db = |what: &'static str| Error::db(what);
    let now = super::db_now(tx)?;
    let changed: Vec<&Plan> = plans.iter().filter(|p| p.changed && !p.new).collect();
    if !changed.is_empty() {
        let col =
            |f: &dyn Fn(&Plan) -> SystemTime| changed.iter().map(|p| f(p)).collect::<Vec<_>>();
        tx.execute(
            "UPDATE incidents i SET
               last_window_start = u.last_start, last_window_end = u.last_end,
               occurrences = u.occurrences, runs = u.runs, last_run = u.last_run,
               severity = u.severity, count = u.count, message = u.message, evidence = u.evidence,
               state = CASE WHEN u.resolved IS NULL THEN i.state ELSE 'resolved' END,
               resolved_window = u.resolved,
               resolved_at = CASE WHEN u.resolved IS NULL THEN NULL ELSE $12::timestamptz END
             FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::bigint[],
                         $5::int[], $6::bigint[], $7::text[], $8::bigint[], $9::text[],
                         $10::jsonb[], $11::timestamptz[])
               AS u(id, last_start, last_end, occurrences, runs, last_run, severity, count,
                    message, evidence, resolved)
             WHERE i.job = $13 AND i.id = u.id",
            &[
                &changed.iter().map(|p| p.id).collect::<Vec<_>>(),
                &col(&|p| p.last_start),
                &col(&|p| p.last_end),
                &changed.iter().map(|p| p.occurrences).collect::<Vec<_>>(),
                &changed.iter().map(|p| p.runs as i32).collect::<Vec<_>>(),
                &changed.iter().map(|p| p.last_run).collect::<Vec<_>>(),
                &changed.iter().map(|p| p.alert.severity.as_str()).collect::<Vec<_>>(),
                &changed.iter().map(|p| p.alert.count as i64).collect::<Vec<_>>(),
                &changed.iter().map(|p| p.alert.message.as_str()).collect::<Vec<_>>(),
                &changed.iter().map(|p| to_json(&p.alert.evidence)).collect::<Vec<_>>(),
                &changed.iter().map(|p| p.resolved.map(super::at)).collect::<Vec<_>>(),
                &now,
                &job,
            ],
        )
        .map_err(db("updating incidents"))?;
    }
    let fresh: Vec<usize> = (0..plans.len()).filter(|&i| plans[i].new).collect();
    if !fresh.is_empty() {
        let ids = tx
            .query(
                "SELECT nextval(pg_get_serial_sequence('incidents', 'id')) FROM generate_series(1, $1)",
                &[&(fresh.len() as i32)],
            )
            .map_err(db("numbering new incidents"))?;
        for (&i, row) in fresh.iter().zip(&ids) {
            plans[i].id = row.get(0);
        }
        let new: Vec<&Plan> = fresh.iter().map(|&i| &plans[i]).collect();
        tx.execute(
            "INSERT INTO incidents (id, job, rule_id, group_key, rule_type, severity, state,
                 first_window, last_window_start, last_window_end, occurrences, runs, last_run,
                 count, message, evidence, resolved_window, resolved_at, service)
             SELECT u.id, $1, u.rule_id, u.group_key, u.rule_type, u.severity,
                 CASE WHEN u.resolved IS NULL THEN 'open' ELSE 'resolved' END,
                 u.first, u.last_start, u.last_end, u.occurrences, u.runs, u.last_run, u.count,
                 u.message, u.evidence, u.resolved,
                 CASE WHEN u.resolved IS NULL THEN NULL ELSE $17::timestamptz END, u.service
             FROM unnest($2::bigint[], $3::text[], $4::jsonb[], $5::text[], $6::text[],
                         $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::bigint[],
                         $11::int[], $12::bigint[], $13::bigint[], $14::text[], $15::jsonb[],
                         $16::timestamptz[], $18::text[])
               AS u(id, rule_id, group_key, rule_type, severity, first, last_start, last_end,
                    occurrences, runs, last_run, count, message, evidence, resolved, service)",
            &[
                &job,
                &new.iter().map(|p| p.id).collect::<Vec<_>>(),
                &new.iter().map(|p| p.alert.rule_id.as_str()).collect::<Vec<_>>(),
                &new.iter().map(|p| to_json(&p.alert.group)).collect::<Vec<_>>(),
                &new.iter().map(|p| p.alert.rule_type).collect::<Vec<_>>(),
                &new.iter().map(|p| p.alert.severity.as_str()).collect::<Vec<_>>(),
                &new.iter().map(|p| p.first).collect::<Vec<_>>(),
                &new.iter().map(|p| p.last_start).collect::<Vec<_>>(),
                &new.iter().map(|p| p.last_end).collect::<Vec<_>>(),
                &new.iter().map(|p| p.occurrences).collect::<Vec<_>>(),
                &new.iter().map(|p| p.runs as i32).collect::<Vec<_>>(),
                &new.iter().map(|p| p.last_run).collect::<Vec<_>>(),
                &new.iter().map(|p| p.alert.count as i64).collect::<Vec<_>>(),
                &new.iter().map(|p| p.alert.message.as_str()).collect::<Vec<_>>(),
                &new.iter().map(|p| to_json(&p.alert.evidence)).collect::<Vec<_>>(),
                &new.iter().map(|p| p.resolved.map(super::at)).collect::<Vec<_>>(),
                &now,
                &new.iter().map(|p| notify::labels(job_spec, &p.alert).service).collect::<Vec<_>>(),
            ],
        )
        .map_err(db("opening incidents"))?;
    }
    if !links.is_empty() {
        tx.execute(
            "UPDATE alerts a SET incident_id = u.incident,
                acknowledged_by = coalesce(a.acknowledged_by, i.acknowledged_by),
                acknowledged_at = coalesce(a.acknowledged_at, i.acknowledged_at)
             FROM unnest($1::bigint[], $2::bigint[]) AS u(alert, incident)
             JOIN incidents i ON i.job = $3 AND i.id = u.incident
             WHERE a.job = $3 AND a.id = u.alert",
            &[
                &links.iter().map(|l| l.0).collect::<Vec<_>>(),
                &links.iter().map(|l| plans[l.1].id).collect::<Vec<_>>(),
                &job,
            ],
        )
        .map_err(db("joining alerts to their incidents"))?;
    }
    Ok(())
}

/// What holds each of `events` back, if anything: a silence active at
/// `now` (the wall clock; the job file's `[[silence]]` blocks are stored
/// first), or an incident its `[[inhibit]]` rules name that was open at
/// some time of its window. Unless `write` is false (a dry run), each
/// incident records it: `held` (its first notification held back),
/// `silenced_by`, `inhibited_by`.
pub fn hold(
    tx: &mut postgres::Transaction<'_>,
    job: &Job,
    events: &[Event],
    (write, now): (bool, i64),
) -> Result<Vec<Option<Hold>>> {
    let silences = super::silences::sync_and_read(tx, job, now)?;
    // The job's incidents open at some time of this run's events, for its
    // [[inhibit]] rules: (id, rule, group, severity, open from, to).
    type Span = (i64, String, std::collections::BTreeMap<String, String>, String, i64, i64);
    let mut spans: Vec<Span> = Vec::new();
    let from = events.iter().map(|e| e.alert.window_start.secs).min();
    // A resolved incident was open until `resolve_after` past its end.
    let reach = job.rules.iter().map(|r| r.resolve_after()).max().unwrap_or(0);
    if let (false, Some(from)) = (job.inhibit.is_empty(), from) {
        let rows = tx
            .query(
                "SELECT id, rule_id, group_key::text, severity,
                        extract(epoch FROM first_window)::int8,
                        CASE WHEN state = 'resolved'
                             THEN extract(epoch FROM last_window_end)::int8 END
                 FROM incidents
                 WHERE job = $1 AND (state <> 'resolved' OR last_window_end >= $2)",
                &[&job.name, &super::at(from.saturating_sub(reach))],
            )
            .map_err(Error::db("reading the incidents open during the run"))?;
        for row in rows {
            let group: String = row.get(2);
            let group = serde_json::from_str(&group).unwrap_or_default();
            let (rule, to): (String, Option<i64>) = (row.get(1), row.get(5));
            let to = to.map_or(i64::MAX, |end| quiet::open_until(job, &rule, end));
            spans.push((row.get(0), rule, group, row.get(3), row.get(4), to));
        }
    }
    let hold_of = |e: &Event| {
        let target = notify::labels(job, &e.alert);
        if let Some(s) = quiet::silencing(&silences, &target, now) {
            return Some(quiet::silenced(s));
        }
        let (a, b) = (e.alert.window_start.secs, e.alert.window_end.secs);
        spans
            .iter()
            .find(|(id, rule, group, severity, open, to)| {
                let source = notify::labels_of(job, rule, group, severity);
                *id != e.incident.id
                    && *open <= b
                    && a <= *to
                    && notify::inhibits(job, &source, &target)
            })
            .map(|(id, rule, group, ..)| Hold::Inhibited {
                incident: Some(*id),
                rule_id: rule.clone(),
                group: group.clone(),
            })
    };
    let holds: Vec<Option<Hold>> = events.iter().map(hold_of).collect();
    // Each incident of the run shows whether it was kept quiet, and by what.
    let marked: Vec<(&Event, &Option<Hold>)> = events
        .iter()
        .zip(&holds)
        .filter(|(e, h)| {
            e.event != "resolved"
                && (h.is_some() || e.held || !silences.is_empty() || !job.inhibit.is_empty())
        })
        .collect();
    if write && !marked.is_empty() {
        tx.execute(
            "UPDATE incidents i SET held = u.held, silenced_by = u.silence, inhibited_by = u.incident
             FROM unnest($2::bigint[], $3::bool[], $4::bigint[], $5::bigint[])
               AS u(id, held, silence, incident)
             WHERE i.job = $1 AND i.id = u.id",
            &[
                &job.name,
                &marked.iter().map(|(e, _)| e.incident.id).collect::<Vec<_>>(),
                &marked
                    .iter()
                    .map(|(e, h)| if e.event == "open" { h.is_some() } else { e.held })
                    .collect::<Vec<_>>(),
                &marked.iter().map(|(_, h)| h.as_ref().and_then(Hold::silence_id)).collect::<Vec<_>>(),
                &marked.iter().map(|(_, h)| h.as_ref().and_then(Hold::incident)).collect::<Vec<_>>(),
            ],
        )
        .map_err(Error::db("marking the incidents held back"))?;
    }
    Ok(holds)
}

/// The notifications of `events` for each receiver of `job` that wants
/// them, but those `holds` (one per event: see [`hold`]) keep back and
/// those of incidents never told (anonymized as the reports are, when they
/// are; none for a receiver outside its hours at `at`), written to the
/// outbox (unless `write` is false: a dry run).
/// Returns them with their receiver's name.
pub fn enqueue(
    tx: &mut postgres::Transaction<'_>,
    job: &Job,
    (events, holds): (&[Event], &[Option<Hold>]),
    (run_id, report): (Option<i64>, &[String]),
    anonymizer: Option<&crate::summary::anonymize::Anonymizer>,
    (write, at): (bool, i64),
) -> Result<Vec<(String, Notification)>> {
    let mut out = Vec::new();
    // Not told: held back now, or the end of an incident nobody was told
    // of. The end of one that was told is told all the same, silenced or
    // not, so that a paging service closes what it opened.
    let quiet: Vec<bool> = events
        .iter()
        .zip(holds)
        .map(|(e, h)| match e.event {
            "resolved" => e.held,
            _ => h.is_some(),
        })
        .collect();
    // Each event's receivers, routed once.
    let routes: Vec<Vec<&str>> = events
        .iter()
        .map(|e| notify::route(job, &e.alert).iter().map(|r| r.name.as_str()).collect())
        .collect();
    for r in &job.notify {
        for ((e, quiet), to) in events.iter().zip(&quiet).zip(&routes) {
            if *quiet
                || !r.on.wants(e.event)
                || !r.schedule.open_at(at)
                || !to.contains(&r.name.as_str())
            {
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
            n.describe(job);
            let incident = e.incident.id.to_string();
            n.incident_key = notify::key(&[&job.name, "incident", &incident]);
            let at = e.at.to_string();
            let nth = if e.event == "repeat" { at.as_str() } else { "" };
            n.id = notify::key(&[&job.name, &r.name, &incident, e.event, nth]);
            n.dashboard =
                r.dashboard_url.as_deref().map(|d| notify::dashboard_link(d, e.incident.id));
            if write {
                let payload = serde_json::to_value(&n).expect("a notification serializes");
                tx.execute(
                    "INSERT INTO outbox (id_key, job, receiver, run_id, event, incident_id, payload, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job, id_key) DO NOTHING",
                    &[&n.id, &job.name, &r.name, &run_id, &n.event, &e.incident.id, &payload, &super::at(e.at)],
                )
                .map_err(Error::db("writing a notification to the outbox"))?;
            }
            out.push((r.name.clone(), n));
        }
    }
    Ok(out)
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
    /// The incident that kept it quiet (`[[inhibit]]`), if one did.
    pub inhibited_by: Option<i64>,
    /// The stored silence that kept it quiet, if one did.
    pub silenced_by: Option<i64>,
    /// Nobody was told of it yet: its first notification is held back.
    pub held: bool,
    /// Its `service` label (the rule's service, or the group's).
    pub service: Option<String>,
}

impl IncidentRow {
    /// Its labels, for matchers (as its alerts had them).
    pub fn labels(&self) -> crate::expr::Labels<'_> {
        crate::expr::Labels {
            rule: &self.rule_id,
            job: &self.job,
            service: self
                .service
                .as_deref()
                .or_else(|| self.group.get("service").map(String::as_str)),
            severity: self.severity.as_str(),
            group: &self.group,
        }
    }
}

const ROW_COLUMNS: &str = concat!(
    "id, job, rule_id, rule_type, severity, group_key, state, ",
    utc_text!("first_window"),
    ", ",
    utc_text!("last_window_end"),
    ", occurrences, runs::bigint, message, acknowledged_by, ",
    utc_text!("acknowledged_at"),
    ", (extract(epoch from last_window_end) * 1000000)::bigint, inhibited_by, silenced_by, held, \
     service"
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
        inhibited_by: r.get(15),
        silenced_by: r.get(16),
        held: r.get(17),
        service: r.get(18),
    })
}

/// The open (or acknowledged) incidents each of `silences` takes, by the
/// silence's number: what it covers while active.
pub fn covered(
    client: &mut impl GenericClient,
    silences: &[super::silences::SilenceRow],
) -> Result<HashMap<i64, Vec<IncidentRow>>> {
    let mut out: HashMap<i64, Vec<IncidentRow>> = HashMap::new();
    if silences.is_empty() {
        return Ok(out);
    }
    let rows = client
        .query(
            &format!(
                "SELECT {ROW_COLUMNS} FROM incidents WHERE state <> 'resolved'
                 ORDER BY last_window_end DESC, id DESC LIMIT 10000"
            ),
            &[],
        )
        .map_err(Error::db("reading the open incidents"))?;
    let open: Vec<IncidentRow> = rows.iter().map(incident_row).collect::<Result<_>>()?;
    for s in silences {
        let Some(silence) = s.silence() else { continue };
        let takes = open.iter().filter(|i| {
            s.job.as_ref().is_none_or(|j| *j == i.job) && silence.matcher.matches(&i.labels())
        });
        out.insert(s.id, takes.cloned().collect());
    }
    Ok(out)
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
    let severities = super::alerts::at_least(f.severity);
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
    /// The rule's `description` and `runbook`, as its job last stored it.
    pub description: Option<String>,
    pub runbook: Option<String>,
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
    let about = client
        .query_opt(
            "SELECT definition->>'description', definition->>'runbook' FROM rules
             WHERE job = $1 AND rule_id = $2",
            &[&incident.job, &incident.rule_id],
        )
        .map_err(Error::db("reading the incident's rule"))?;
    let (description, runbook) = about.map_or((None, None), |r| (r.get(0), r.get(1)));
    Ok(Some(IncidentPage { incident, alerts, sent, description, runbook }))
}

/// Marks alert `id` acknowledged by `user`, unless it is already, and its
/// incident with it (acknowledging is per incident); returns whether the
/// alert exists.
/// What acknowledging found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ack {
    /// Acknowledged (now, or already before).
    Done,
    /// The incident was resolved: nothing to acknowledge.
    Resolved,
    Missing,
}

/// Marks alert `id` acknowledged by `user` (someone has seen it), and its
/// incident unless that was resolved.
pub fn acknowledge_alert(
    client: &mut impl postgres::GenericClient,
    id: i64,
    user: &str,
) -> Result<Ack> {
    let now = super::db_now(client)?;
    let exists = client
        .query_opt(
            "UPDATE alerts SET acknowledged_by = coalesce(acknowledged_by, $2),
                               acknowledged_at = coalesce(acknowledged_at, $3)
             WHERE id = $1 RETURNING incident_id",
            &[&id, &user, &now],
        )
        .map_err(Error::db("acknowledging an alert"))?;
    if let Some(incident) = exists.as_ref().and_then(|r| r.get::<_, Option<i64>>(0)) {
        acknowledge(client, incident, user)?;
    }
    Ok(if exists.is_some() { Ack::Done } else { Ack::Missing })
}

/// Marks incident `id` acknowledged by `user` (and its alerts), unless it
/// is already; a resolved incident is left as it is.
pub fn acknowledge(client: &mut impl GenericClient, id: i64, user: &str) -> Result<Ack> {
    let now = super::db_now(client)?;
    let found = client
        .query_opt(
            "UPDATE incidents SET
               state = CASE WHEN state = 'open' THEN 'acknowledged' ELSE state END,
               acknowledged_by = coalesce(acknowledged_by, $2),
               acknowledged_at = coalesce(acknowledged_at, $3)
             WHERE id = $1 AND state <> 'resolved' RETURNING job",
            &[&id, &user, &now],
        )
        .map_err(Error::db("acknowledging an incident"))?;
    let Some(found) = found else {
        let exists = client
            .query_opt("SELECT 1 FROM incidents WHERE id = $1", &[&id])
            .map_err(Error::db("acknowledging an incident"))?;
        return Ok(if exists.is_some() { Ack::Resolved } else { Ack::Missing });
    };
    let job: String = found.get(0);
    client
        .execute(
            "UPDATE alerts SET acknowledged_by = coalesce(acknowledged_by, $2),
                               acknowledged_at = coalesce(acknowledged_at, $3)
             WHERE job = $4 AND incident_id = $1",
            &[&id, &user, &now, &job],
        )
        .map_err(Error::db("acknowledging an incident's alerts"))?;
    Ok(Ack::Done)
}
