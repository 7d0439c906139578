//! A run's notifications: with a database, incidents are tracked and the
//! notifications go through the outbox (written with the alerts, sent
//! after the commit); in memory, each alert is an incident of its own and
//! its notifications are sent at once.

use super::{Messages, Settings};
use crate::config::notify::Grouping;
use crate::config::Job;
use crate::detect::Alert;
use crate::notify::quiet::Hold;
use crate::notify::{self, Failure, IncidentState, Notification, SendError};

/// Prints what a dry run would send, one line per notification.
pub(super) fn print_dry_run(notes: &[(String, Notification)], msgs: &Messages) {
    if notes.is_empty() {
        msgs.info("dry run: no notification would be sent");
    }
    for (receiver, n) in notes {
        msgs.info(&format!("dry run: would send to {receiver}: {}", n.headline()));
    }
}

/// Delivers what the outbox holds for the job, after the run's commit;
/// failures are said on stderr (they stay in the outbox for the next run).
/// Returns the notifications refused for good (parked), as problems of
/// the run.
pub(super) fn send_after_commit(
    client: &mut postgres::Client,
    job: &Job,
    msgs: &Messages,
) -> Vec<String> {
    let mut problems = Vec::new();
    if job.notify.is_empty() {
        return problems;
    }
    match crate::store::outbox::send_pending(client, job, false) {
        Ok(sent) => {
            if sent.sent > 0 {
                msgs.info(&format!("notifications: {} sent", sent.sent));
            }
            for f in &sent.failed {
                msgs.warn(&format!("notification not delivered (kept for the next run): {f}"));
            }
            // Refused for good: lost unless someone requeues it, so said
            // even under -q.
            for p in sent.parked {
                let p = format!("notification refused: {p}");
                msgs.error(&p);
                problems.push(p);
            }
        }
        Err(e) => msgs.warn(&format!("notifications not sent (kept for the next run): {e}")),
    }
    problems
}

/// Says how many of a run's incidents were held back, and by what.
pub(super) fn say_held(
    events: &[crate::store::incidents::Event],
    holds: &[Option<Hold>],
    job: &Job,
    msgs: &Messages,
) {
    if !job.notify.is_empty() {
        let told = events.iter().zip(holds).filter(|(e, _)| e.event != "resolved");
        say_counts(told.map(|(_, h)| h), msgs);
    }
}

fn say_counts<'h>(holds: impl Iterator<Item = &'h Option<Hold>> + Clone, msgs: &Messages) {
    let silenced = holds.clone().filter(|h| matches!(h, Some(Hold::Silenced { .. }))).count();
    let inhibited = holds.filter(|h| matches!(h, Some(Hold::Inhibited { .. }))).count();
    if silenced > 0 {
        msgs.info(&format!("{silenced} alert(s) silenced: not told"));
    }
    if inhibited > 0 {
        msgs.info(&format!(
            "{inhibited} alert(s) inhibited by another open at the same time: not told"
        ));
    }
}

/// In memory: each alert is its own incident, sent at once ("open")
/// unless something holds it (`holds`, one per alert: see
/// [`crate::notify::quiet::in_memory`]). Returns the failures, as problems
/// of the run.
pub(super) fn send_in_memory(
    job: &Job,
    (alerts, holds): (&[Alert], &[Option<Hold>]),
    report: &[String],
    s: &Settings,
    msgs: &Messages,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let anonymizer = super::anonymizer(job, s);
    let at = s.told_at();
    if !job.notify.is_empty() {
        say_counts(holds.iter(), msgs);
    }
    // Each alert's receivers, routed once.
    let routes: Vec<Vec<&str>> = alerts
        .iter()
        .map(|a| notify::route(job, a).iter().map(|r| r.name.as_str()).collect())
        .collect();
    for r in job.notify.iter().filter(|r| r.on.open && r.schedule.open_at(at)) {
        for (i, raw) in alerts.iter().enumerate() {
            if holds[i].is_some() || !routes[i].contains(&r.name.as_str()) {
                continue;
            }
            let mut anonymized = raw.clone();
            if let Some(an) = &anonymizer {
                an.alert(&mut anonymized);
            }
            let a = &anonymized;
            let state = IncidentState {
                id: i as i64 + 1,
                first: a.window_start.secs,
                last: a.window_end.secs,
                occurrences: 1,
                runs: 1,
                state: "open",
            };
            let mut n = Notification::new("open", &job.name, a, &state, report);
            n.describe(job);
            // The alert's identity: a re-run over the same data repeats
            // the key, so a receiver can tell.
            let group = serde_json::to_string(&a.group).expect("a map of strings serializes");
            let start = a.window_start.to_rfc3339();
            n.incident_key = notify::key(&[&job.name, &a.rule_id, &group, &start]);
            n.id = notify::key(&[&job.name, &r.name, &a.rule_id, &group, &start, "open"]);
            notes.push((r, n));
        }
    }
    if s.dry_run {
        let shown: Vec<(String, Notification)> =
            notes.into_iter().map(|(r, n)| (r.name.clone(), n)).collect();
        print_dry_run(&shown, msgs);
        return problems;
    }
    let mut sent = 0;
    for r in &job.notify {
        let batch: Vec<Notification> =
            notes.iter().filter(|(x, _)| x.name == r.name).map(|(_, n)| n.clone()).collect();
        if batch.is_empty() {
            continue;
        }
        let mut groups: std::collections::VecDeque<Vec<Notification>> = match r.group {
            Grouping::Run => vec![batch].into(),
            Grouping::Incident => batch.into_iter().map(|n| vec![n]).collect(),
        };
        let total: usize = groups.iter().map(Vec::len).sum();
        let (mut delivered, mut refused) = (0, 0);
        while let Some(g) = groups.pop_front() {
            let ids: Vec<&str> = g.iter().map(|n| n.id.as_str()).collect();
            let batch_id = notify::key(&ids);
            match notify::deliver(r, &g, &batch_id, None) {
                Ok(recipients) => {
                    delivered += g.len();
                    for x in recipients {
                        problems.push(format!(
                            "notification not delivered to {} (recipient {} refused; no database to retry from): {}",
                            r.name, x.to, x.error
                        ));
                    }
                }
                // A grouped message refused for good: each notification
                // on its own, so that only the one refused is lost.
                Err(SendError(_, Failure::Permanent)) if g.len() > 1 => {
                    for n in g.into_iter().rev() {
                        groups.push_front(vec![n]);
                    }
                }
                Err(SendError(e, Failure::Permanent)) => {
                    refused += 1;
                    problems.push(format!(
                        "notification refused by {} ({} of incident {}; no database to retry from): {e}",
                        r.name, g[0].event, g[0].incident
                    ));
                }
                Err(e) => {
                    // A receiver that is down costs one timeout, not one per alert.
                    problems.push(format!(
                        "notification not delivered to {} ({} of {total} notification(s) not sent; no database to retry from): {e}",
                        r.name,
                        total - delivered - refused
                    ));
                    break;
                }
            }
        }
        sent += delivered;
    }
    if sent > 0 {
        msgs.info(&format!("notifications: {sent} sent"));
    }
    problems
}

/// The report's lines of the incidents a run held back (their ends are
/// not listed).
pub(super) fn held_lines(
    events: &[crate::store::incidents::Event],
    holds: &[Option<Hold>],
) -> Vec<crate::report::Held> {
    events
        .iter()
        .zip(holds)
        .filter(|(e, _)| e.event != "resolved")
        .filter_map(|(e, h)| h.as_ref().map(|h| h.held(&e.alert)))
        .collect()
}
