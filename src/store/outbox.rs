//! The outbox: notifications queued in the run's transaction (by
//! [`super::incidents::enqueue`]), sent after it commits, retried with
//! backoff, given up after `give_up_after`; what an incident page lists
//! of them.

use crate::config::notify::{Grouping, Receiver};
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
/// receiver refuses for good (HTTP 4xx, SMTP 5xx) is parked at once and
/// holds back nothing. A receiver with `group = "run"` gets one message
/// per run holding the run's rows that are ready; when it refuses that
/// message for good, each row is sent on its own, so only the one it
/// refuses is parked. A failure that may pass (the receiver down or busy)
/// ends the receiver's turn in this run, so a receiver that is down costs
/// one timeout per run, not one per notification; the rows wait their
/// backoff, or longer when the receiver asked (`Retry-After`). An e-mail
/// some of whose recipients the server refused is sent to the others; a
/// copy of its rows for the refused recipients is parked (or, when the
/// refusal may pass, waits). Each message is sent in a transaction that
/// locks its rows: concurrent runs skip what another is sending.
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
                "SELECT id, receiver, run_id, next_attempt <= now(), incident_id, recipients
                 FROM outbox
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
        let recipients: Option<Vec<String>> = first.get(5);
        let held = |waiting: &[(String, Option<i64>)], i: Option<i64>| {
            waiting.iter().any(|(r, w)| *r == name && w.is_some() && *w == i)
        };
        let ready = all || first.get::<_, bool>(3);
        if !ready || held(&waiting, incident) {
            waiting.push((name, incident));
            continue;
        }
        // A run's rows to a receiver that groups them: one message (a copy
        // for some recipients only goes on its own).
        let rows = if receiver.group == Grouping::Run && recipients.is_none() {
            tx.query(
                "SELECT id, payload, incident_id FROM outbox
                 WHERE job = $1 AND receiver = $2 AND run_id IS NOT DISTINCT FROM $3
                   AND id >= $4 AND sent_at IS NULL AND gave_up_at IS NULL AND recipients IS NULL
                   AND (next_attempt <= now() OR $5)
                 ORDER BY id FOR UPDATE SKIP LOCKED",
                &[&job.name, &name, &run, &id, &all],
            )
        } else {
            tx.query("SELECT id, payload, incident_id FROM outbox WHERE id = $1", &[&id])
        }
        .map_err(Error::db("reading the outbox"))?;
        let mut batch: Vec<(i64, Notification)> = Vec::new();
        for r in &rows {
            let (row_id, row_incident): (i64, Option<i64>) = (r.get(0), r.get(2));
            if row_id != id && held(&waiting, row_incident) {
                continue;
            }
            match serde_json::from_value(r.get(1)) {
                Ok(n) => batch.push((row_id, n)),
                Err(_) => {
                    let e = "a stored notification is unreadable".to_string();
                    park(&mut tx, &[row_id], &e)?;
                    done.parked.push(format!("{name}: #{row_id} parked: {e}"));
                }
            }
        }
        if batch.is_empty() {
            tx.commit().map_err(Error::db("recording a send"))?;
            continue;
        }
        let outcome = send(&mut tx, receiver, &batch, recipients.as_deref(), &mut done)?;
        if outcome == Outcome::Transient {
            blocked.push(name);
        }
        tx.commit().map_err(Error::db("recording a send"))?;
    }
}

/// How a message's send ended, for the receiver's turn.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    /// It may pass: the receiver's turn in this run is over.
    Transient,
}

/// Sends `batch` (outbox ids and their notifications) to `receiver` as one
/// message, and records what happened to each row.
fn send(
    tx: &mut postgres::Transaction<'_>,
    receiver: &Receiver,
    batch: &[(i64, Notification)],
    recipients: Option<&[String]>,
    done: &mut Sent,
) -> Result<Outcome> {
    let name = &receiver.name;
    let ids: Vec<i64> = batch.iter().map(|(i, _)| *i).collect();
    let notes: Vec<Notification> = batch.iter().map(|(_, n)| n.clone()).collect();
    // The same rows, the same key: a retried message keeps its id.
    let keys: Vec<&str> = notes.iter().map(|n| n.id.as_str()).collect();
    let batch_id = notify::key(&keys);
    let result = notify::deliver(receiver, &notes, &batch_id, recipients);
    crate::store::test_kill_point("after-send");
    let list = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", #");
    match result {
        Ok(refusals) => {
            tx.execute(
                "UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL
                 WHERE id = ANY($1)",
                &[&ids],
            )
            .map_err(Error::db("recording a sent notification"))?;
            done.sent += ids.len();
            for permanent in [true, false] {
                let (to, errors): (Vec<String>, Vec<String>) = refusals
                    .iter()
                    .filter(|x| (x.failure == notify::Failure::Permanent) == permanent)
                    .map(|x| (x.to.clone(), x.error.clone()))
                    .unzip();
                if to.is_empty() {
                    continue;
                }
                let error = errors.join("; ");
                let copies = copy_for(tx, &ids, &to, &error, permanent)?;
                let what = if permanent {
                    "refused, parked (logtrack notify --requeue ID once fixed)"
                } else {
                    "refused for now, to be retried"
                };
                let line = format!(
                    "{name}: recipient(s) {} {what} (#{}): {error}",
                    to.join(", "),
                    list(&copies)
                );
                if permanent {
                    done.parked.push(line);
                } else {
                    done.failed.push(line);
                }
            }
            Ok(Outcome::Done)
        }
        Err(notify::SendError(_, notify::Failure::Permanent)) if batch.len() > 1 => {
            // One of them may be what the receiver refuses: each on its own.
            for one in batch {
                if send(tx, receiver, std::slice::from_ref(one), recipients, done)?
                    == Outcome::Transient
                {
                    return Ok(Outcome::Transient);
                }
            }
            Ok(Outcome::Done)
        }
        Err(notify::SendError(e, notify::Failure::Permanent)) => {
            park(tx, &ids, &e)?;
            done.parked.push(format!(
                "{name}: {} notification(s) refused, parked (#{}; logtrack notify --requeue ID once fixed): {e}",
                ids.len(),
                list(&ids)
            ));
            Ok(Outcome::Done)
        }
        Err(notify::SendError(e, notify::Failure::Transient { retry_after })) => {
            let attempts: i32 = tx
                .query_one("SELECT max(attempts) FROM outbox WHERE id = ANY($1)", &[&ids])
                .map_err(Error::db("reading the outbox"))?
                .get::<_, Option<i32>>(0)
                .unwrap_or(0);
            let wait = backoff(attempts + 1).max(retry_after.unwrap_or(0));
            tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                    next_attempt = now() + $3 * interval '1 second'
                 WHERE id = ANY($1)",
                &[&ids, &e, &(wait as f64)],
            )
            .map_err(Error::db("recording a failed send"))?;
            done.failed.push(format!("{name}: {} notification(s) not delivered: {e}", ids.len()));
            Ok(Outcome::Transient)
        }
    }
}

/// Parks rows `ids`: refused for good, given up at once.
fn park(tx: &mut postgres::Transaction<'_>, ids: &[i64], error: &str) -> Result<()> {
    tx.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2, gave_up_at = now(),
                refused = true
         WHERE id = ANY($1)",
        &[&ids, &error],
    )
    .map_err(Error::db("parking a refused notification"))?;
    Ok(())
}

/// Copies of rows `ids` for the recipients `to` only: parked (`permanent`)
/// or waiting a minute. Returns the copies' ids.
fn copy_for(
    tx: &mut postgres::Transaction<'_>,
    ids: &[i64],
    to: &[String],
    error: &str,
    permanent: bool,
) -> Result<Vec<i64>> {
    let suffix = format!("/to/{}", notify::key(&to.iter().map(String::as_str).collect::<Vec<_>>()));
    let rows = tx
        .query(
            "INSERT INTO outbox (id_key, job, receiver, run_id, event, incident_id, payload, at,
                                 created_at, attempts, last_error, next_attempt, gave_up_at,
                                 refused, recipients)
             SELECT id_key || $2, job, receiver, run_id, event, incident_id, payload, at,
                    created_at, 1, $3, now() + interval '1 minute',
                    CASE WHEN $4 THEN now() END, $4, $5
             FROM outbox WHERE id = ANY($1)
             ON CONFLICT (job, id_key) DO NOTHING RETURNING id",
            &[&ids, &suffix, &error, &permanent, &to],
        )
        .map_err(Error::db("keeping a notification for refused recipients"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
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
                        gave_up_at IS NOT NULL, incident_id, id, refused, recipients,
                        CASE WHEN sent_at IS NULL AND gave_up_at IS NULL
                             AND next_attempt > now() THEN {} END
                 FROM outbox WHERE {filter} ORDER BY id",
                utc_text!("created_at"),
                utc_text!("next_attempt")
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
            state: match (r.get::<_, bool>(5), r.get::<_, bool>(6), r.get::<_, bool>(9)) {
                (true, _, _) => "sent",
                (_, true, true) => "refused",
                (_, true, _) => "given up",
                _ => "pending",
            },
            incident: r.get(7),
            id: r.get(8),
            recipients: r.get(10),
            next_attempt: r.get(11),
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
    /// `sent`, `pending`, `refused` (parked: the receiver refused it for
    /// good) or `given up` (not delivered within `give_up_after`).
    pub state: &'static str,
    pub incident: Option<i64>,
    /// The e-mail recipients it is for, when not all of the receiver's.
    pub recipients: Option<Vec<String>>,
    /// A pending row waiting out its backoff: when it is tried next.
    pub next_attempt: Option<String>,
}

/// Sends given-up (or parked) notification `id` of `job` again: it is
/// pending once more, as if made now. Whether there was such a row.
pub fn requeue(client: &mut impl GenericClient, job: &str, id: i64) -> Result<bool> {
    Ok(client
        .execute(
            "UPDATE outbox SET gave_up_at = NULL, attempts = 0, last_error = NULL, refused = false,
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
