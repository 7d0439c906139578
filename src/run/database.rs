//! A run with a database: new lines are loaded first (as `ingest` does),
//! then every rule runs over the stored rows of the new data plus the
//! history it needs ([`super::stored`]), and alerts are stored once per
//! identity (rule id, group, window start) in the transaction that commits
//! after the report is written.

use super::inputs::{inputs, SourceLog};
use super::{assemble, notifications, output, stored, Messages, Settings};
use crate::clock::wall_clock;
use crate::config::Job;
use crate::error::{Error, Exit};
use crate::parse::time::TimeSpan;
use crate::store::{self, alerts, incidents, load::Loader, runs};

pub(super) fn run(
    job: &Job,
    url: &str,
    s: &Settings,
    msgs: &Messages,
    started: i64,
) -> anyhow::Result<Exit> {
    let mut loader = Loader::new(url)?;
    let run_id = runs::begin(loader.client(), &job.name, &store::ingest_host(), started)?;
    loader.run_id = Some(run_id);
    let result = load_detect_report(job, &mut loader, s, msgs, started, run_id);
    if result.is_err() {
        if let Err(e) = runs::mark_failed(url, run_id) {
            msgs.warn(&format!("run {run_id} could not be marked failed: {e:#}"));
        }
    }
    result
}

/// The body of a run with a database, after its `runs` row is written.
fn load_detect_report(
    job: &Job,
    loader: &mut Loader,
    s: &Settings,
    msgs: &Messages,
    started: i64,
    run_id: i64,
) -> anyhow::Result<Exit> {
    // 1. Load what is new.
    let mut log = SourceLog::new(s.strict());
    let mut new = TimeSpan::default();
    for input in inputs(job, crate::parse::Detail::Full, s.now, &mut log, msgs) {
        let loaded = loader
            .load(&input.path, &input.spec.format, &input.opts, |r| log.reject(r, msgs, s.verbose));
        match loaded {
            Ok(loaded) => {
                new.merge(loaded.span);
                log.finish_source(msgs, input.spec, loaded.stats);
            }
            Err(e) => log.fail(msgs, format!("{e:#}")),
        }
    }

    // 2. Detect over the new data, and over what earlier runs loaded but
    // never reported (they failed), with the history each rule needs.
    let client = loader.client();
    let mut range = new;
    if let Some((from, to)) = runs::pending(client, &job.name)? {
        range.add(from);
        range.add(to);
    }
    // A time range limits detection and the report (every new line is
    // still loaded: a checkpoint never skips lines).
    let bounds = range.bounds().and_then(|(lo, hi)| match s.range() {
        None => Some((lo, hi)),
        Some((from, to)) => {
            let (lo, hi) = (lo.max(from), hi.min(to - 1));
            (lo <= hi).then_some((lo, hi))
        }
    });
    // The report's overview: the new records (in the time range given),
    // counted while the stored rows are read for detection.
    let shown = new.bounds().and_then(|(from, to)| {
        let (from, to) = match s.range() {
            Some((a, b)) => (from.max(a), to.min(b - 1)),
            None => (from, to),
        };
        (from <= to).then_some((from, to))
    });
    let (alerts, reference, overview, known) = stored::detect(client, job, bounds, s.now, shown)?;

    // 3. Store the alerts, write the report, and only then commit: an
    // alert is known (not new next run) only once a report has shown it.
    let mut tx = client.transaction().map_err(Error::db("starting the alerts transaction"))?;
    stored::remember(&mut tx, &known)?;
    let stored_alerts = alerts::store(&mut tx, job, alerts)?;
    let covered = bounds.map(|b| b.1);
    let events = incidents::track(&mut tx, job, &stored_alerts, Some(run_id), covered, reference)?;
    let holds = incidents::hold(&mut tx, job, &events, (!s.dry_run, wall_clock()))?;
    super::notifications::say_held(&events, &holds, job, msgs);
    let new_alerts: Vec<_> = stored_alerts.into_iter().filter(|a| a.new).map(|a| a.alert).collect();
    let finished = wall_clock();
    let mut parts = log.parts;
    let gave_up = crate::store::outbox::give_up_overdue(&mut tx, job)?;
    for p in &gave_up {
        // A lost notification is said even under -q.
        msgs.error(p);
        parts.problems.push(p.clone());
    }
    if let Some(o) = overview {
        parts.overview = o;
    }
    if let Some((from, to)) = shown {
        parts.templates = store::templates::report_rows(&mut tx, from, to)?;
    }
    (parts.since, parts.until) = (s.since, s.until);
    parts.held = notifications::held_lines(&events, &holds);
    runs::finish(
        &mut tx,
        &job.name,
        &runs::Finished {
            id: run_id,
            finished,
            duration_ms: (finished - started) * 1000,
            failed: log.failed,
            records: parts.sources.iter().map(|s| s.records).sum(),
            rejected: parts.sources.iter().map(|s| s.rejected).sum(),
            alerts: new_alerts.len() as u64,
            notifications_failed: gave_up.len() as u64,
        },
    )?;
    let report = assemble(job, s, (started, reference), parts, new_alerts, log.failed);
    let written = output::write_or_print(job, s, &report, msgs)?;
    let anonymizer = super::anonymizer(job, s);
    let notes = incidents::enqueue(
        &mut tx,
        job,
        (&events, &holds),
        (Some(run_id), &written),
        anonymizer.as_ref(),
        (!s.dry_run, s.told_at()),
    )?;
    if s.dry_run {
        // Nothing of the detection is kept: the next run detects it again.
        drop(tx);
        runs::mark_dry_run(client, run_id)?;
        notifications::print_dry_run(&notes, msgs);
        output::summarize(&report, s, &written, msgs);
        return Ok(report.exit());
    }
    crate::store::test_kill_point("before-commit");
    tx.commit().map_err(Error::db("storing the run's alerts"))?;
    crate::store::test_kill_point("after-commit");
    output::summarize(&report, s, &written, msgs);
    let refused = notifications::send_after_commit(client, job, msgs);
    if refused.is_empty() {
        return Ok(report.exit());
    }
    // Sent after the report was written (it links to it): the refusals
    // join its problems, the run's status and its exit code afterwards.
    runs::add_failed_notifications(client, run_id, refused.len() as u64)?;
    let mut report = report;
    report.problems.extend(refused);
    report.exit_code =
        super::exit_code(s, log.failed, true, &report.alerts).code().max(report.exit_code);
    output::write_or_print(job, s, &report, msgs)?;
    Ok(report.exit())
}
