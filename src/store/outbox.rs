//! The outbox: notifications queued in the run's transaction (by
//! [`super::incidents::enqueue`]), sent after it commits, retried with
//! backoff, given up after `give_up_after`; what an incident page lists
//! of them.

use crate::config::notify::ReceiverKind;
use crate::config::Job;
use crate::error::{Error, Result};
use crate::notify::{self, Notification};
use postgres::GenericClient;

/// Outbox rows the job's receivers no longer deliver: those made longer
/// than their receiver's `give_up_after` ago (tried or not), and those of
/// receivers no longer in the job. They are marked given up; each is
/// returned as a problem.
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
        // give_up_after counts from when the notification was made: every
        // overdue row is given up, whether it was tried or still waited
        // behind another.
        let why = match job.notify.iter().find(|x| x.name == name) {
            None => "its receiver is no longer in the job".to_string(),
            Some(x) if age >= x.give_up_after && attempts > 0 => format!(
                "not delivered after {attempts} attempt(s) in {}: {}",
                crate::config::HumanDuration(age),
                error.as_deref().unwrap_or("?")
            ),
            Some(x) if age >= x.give_up_after => format!(
                "not sent within give_up_after ({}): it waited behind one its receiver refused",
                crate::config::HumanDuration(x.give_up_after)
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
    /// One line per failed send that will be tried again (receiver and
    /// why; no secret).
    pub failed: Vec<String>,
    /// One line per send the receiver refused for good: those rows are
    /// parked (given up at once; `logtrack notify --requeue ID`).
    pub parked: Vec<String>,
}

/// Seconds before the next attempt after `failed` failed ones: the next
/// run retries at once after the first three (a blip costs nothing), then
/// the wait doubles from a minute to half an hour (a receiver that is down
/// for hours is not asked at every run).
fn backoff(failed: i32) -> i64 {
    match failed {
        ..=3 => 0,
        n => (60i64 << (n - 4).min(5)).min(1800),
    }
}

/// Delivers the job's outbox rows whose backoff is over (all of them with
/// `all`), in the order they were made. Each row is tried on its own: one
/// still waiting out its backoff holds back only the later rows of its own
/// incident (so an incident's events keep their order), and one the
/// receiver refuses for good (HTTP 4xx) is parked at once and holds back
/// nothing. A failure that may pass (the receiver down or busy) ends the
/// receiver's turn in this run, so a receiver that is down costs one
/// timeout per run, not one per notification; the row waits its backoff,
/// or longer when the receiver asked (`Retry-After`). Each row, or each
/// run's e-mail to one receiver, is sent in a transaction that locks it:
/// concurrent runs skip what another is sending.
pub fn send_pending(client: &mut postgres::Client, job: &Job, all: bool) -> Result<Sent> {
    let mut done = Sent::default();
    let mut after = 0i64;
    let mut blocked: Vec<String> = Vec::new();
    // (receiver, incident) of rows waiting out their backoff.
    let mut waiting: Vec<(String, Option<i64>)> = Vec::new();
    loop {
        let mut tx = client.transaction().map_err(Error::db("starting a send"))?;
        let Some(first) = tx
            .query_opt(
                "SELECT id, receiver, run_id, next_attempt <= now(), incident_id FROM outbox
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
        let incident: Option<i64> = first.get(4);
        let ready = all || first.get::<_, bool>(3);
        if !ready || waiting.iter().any(|(r, i)| *r == name && i.is_some() && *i == incident) {
            waiting.push((name, incident));
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
            Err(notify::SendError(
                "a stored notification is unreadable".into(),
                notify::Failure::Permanent,
            ))
        };
        crate::store::test_kill_point("after-send");
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
            Err(notify::SendError(e, notify::Failure::Permanent)) => {
                tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2, gave_up_at = now()
                     WHERE id = ANY($1)",
                    &[&ids, &e],
                )
                .map_err(Error::db("parking a refused notification"))?;
                done.parked.push(format!(
                    "{name}: {} notification(s) refused, parked (#{}; logtrack notify --requeue ID once fixed): {e}",
                    ids.len(),
                    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", #")
                ));
            }
            Err(notify::SendError(e, notify::Failure::Transient { retry_after })) => {
                let attempts: i32 = tx
                    .query_one("SELECT attempts FROM outbox WHERE id = $1", &[&id])
                    .map_err(Error::db("reading the outbox"))?
                    .get(0);
                let wait = backoff(attempts + 1).max(retry_after.unwrap_or(0));
                tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                        next_attempt = now() + $3 * interval '1 second'
                     WHERE id = ANY($1)",
                    &[&ids, &e, &(wait as f64)],
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

pub(super) fn outbox_rows(
    client: &mut impl GenericClient,
    filter: &str,
    param: &(dyn postgres::types::ToSql + Sync),
) -> Result<Vec<OutboxRow>> {
    Ok(client
        .query(
            &format!(
                "SELECT receiver, event, {}, attempts, last_error, sent_at IS NOT NULL,
                        gave_up_at IS NOT NULL, incident_id, id
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
            id: r.get(8),
        })
        .collect())
}

/// A notification as the dashboard and `logtrack notify` show it.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    /// The row's number (`logtrack notify --requeue ID`).
    pub id: i64,
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

/// Sends given-up (or parked) notification `id` of `job` again: it is
/// pending once more, as if made now. Whether there was such a row.
pub fn requeue(client: &mut impl GenericClient, job: &str, id: i64) -> Result<bool> {
    Ok(client
        .execute(
            "UPDATE outbox SET gave_up_at = NULL, attempts = 0, last_error = NULL,
                    next_attempt = now(), created_at = now()
             WHERE job = $1 AND id = $2 AND sent_at IS NULL AND gave_up_at IS NOT NULL",
            &[&job, &id],
        )
        .map_err(Error::db("requeueing a notification"))?
        == 1)
}

/// The job's notifications not delivered: those still waiting, and those
/// given up (their `state` says which), in the order they were made.
pub fn undelivered(client: &mut impl GenericClient, job: &str) -> Result<Vec<OutboxRow>> {
    outbox_rows(client, "job = $1 AND sent_at IS NULL", &job)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_waits_only_after_three_failures() {
        let waits: Vec<i64> = (1..=10).map(backoff).collect();
        assert_eq!(waits, [0, 0, 0, 60, 120, 240, 480, 960, 1800, 1800]);
    }
}
