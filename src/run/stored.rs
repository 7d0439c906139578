//! Detection and reports over what the database holds: the stored rows of
//! a range are counted by the rules' own matches ([`crate::store::scan`]),
//! with the history each rule needs before the range.

use super::{assemble, output, sort_alerts, Messages, Now, Parts, Settings};
use crate::clock::wall_clock;
use crate::config::{Job, Rule, RuleKind};
use crate::detect::{self, Alert, Detector, FinishContext, RuleMatch, Tally};
use crate::error::{Error, Exit, Result};
use crate::parse::Timestamp;
use crate::store::{self, alerts, incidents, runs, scan};
use crate::summary::overview::{Overview, OverviewAcc};
use crate::template::catalog::Catalog;
use std::sync::Arc;

/// How far before the new data a rule must look to see whole episodes,
/// baselines and the silences that end in it.
fn lookback(rule: &Rule) -> i64 {
    match &rule.kind {
        RuleKind::KeywordThreshold { window, .. }
        | RuleKind::RepeatedMessage { window, .. }
        | RuleKind::UserThreshold { window, .. }
        | RuleKind::RateSpike { window, .. }
        | RuleKind::Ratio { window, .. }
        | RuleKind::Percentile { window, .. }
        | RuleKind::Sigma { window, .. } => window.secs(),
        RuleKind::ZscoreAnomaly { window, seasonal: Some(s), .. } => {
            window.secs() + s.period * i64::from(s.seasons)
        }
        RuleKind::ZscoreAnomaly { window, baseline_windows, .. } => {
            window.secs() * (i64::from(*baseline_windows) + 1)
        }
        RuleKind::Inactivity { max_idle } => max_idle.secs(),
        // What came before the range is in the store's tables.
        RuleKind::NewTemplate { .. } | RuleKind::NewValue { .. } => 0,
    }
}

/// Runs `rules` over the stored rows of `range` (seconds, inclusive) plus
/// the history each rule needs around it; with no range only inactivity
/// rules have anything to say (silences up to the reference time).
/// Returns the alerts in report order, the reference time and, when asked
/// for, the overview of the records in `overview` (seconds, inclusive),
/// counted while the rows are read.
/// What `new_value` rules saw, to be stored with the alerts
/// ([`remember`]).
pub(super) struct Known {
    job: String,
    /// (rule key, `remember`, what it saw).
    rules: Vec<(String, i64, Vec<detect::Sighting>)>,
    /// The newest stored record (seconds): what is forgotten is counted from it.
    newest: i64,
}

/// The key of a `new_value` rule in `known_values`: its id and fields (a
/// rule watching other fields starts afresh).
fn value_rule_key(rule: &Rule) -> String {
    format!("{}:{}", rule.id, detect::group_names(rule).join(","))
}

/// Stores what `new_value` rules saw, in the transaction of the alerts.
pub(super) fn remember(tx: &mut postgres::Transaction<'_>, known: &Known) -> Result<()> {
    for (rule, remember, seen) in &known.rules {
        store::templates::remember(tx, &known.job, rule, seen, *remember, known.newest)?;
    }
    Ok(())
}

pub(super) fn detect(
    client: &mut postgres::Client,
    job: &Job,
    range: Option<(i64, i64)>,
    now: Now,
    overview: Option<(i64, i64)>,
) -> Result<(Vec<Alert>, i64, Option<Overview>, Known)> {
    let rules = &job.rules;
    let stored = runs::data_range(client)?;
    let data_end = range.map(|r| r.1).or(stored.map(|r| r.1));
    let reference = now.resolve(data_end);
    // Each rule counts its own range; the rows of all of them are read once.
    let mut union: Option<(i64, i64)> = None;
    let mut matches = Vec::new();
    for rule in rules {
        let back = lookback(rule);
        let (from, to) = match (&rule.kind, range) {
            (RuleKind::Inactivity { .. }, Some((min, max))) => (min - back - 1, max + 1),
            (_, Some((min, max))) => (min - back, max + back + 1),
            (_, None) => (0, 0),
        };
        if from < to {
            union = Some(union.map_or((from, to), |(a, b)| (a.min(from), b.max(to))));
        }
        matches.push(RuleMatch::new(rule).within(from, to));
    }
    let matches = Arc::new(matches);
    // The overview's rows are read with the rules' when they are among them.
    let (from, to) = match (union, overview) {
        (Some((a, b)), Some((c, d))) => (a.min(c), b.max(d + 1)),
        (Some(u), None) => u,
        (None, Some((c, d))) => (c, d + 1),
        (None, None) => (0, 0),
    };
    let (mut tally, mut paths, acc) = if from < to {
        let mut paths = scan::paths(client, from, to)?;
        let (tally, acc) = scan::tally(client, &matches, from, to, &mut paths, overview)?;
        (tally, paths, acc)
    } else {
        (Tally::default(), scan::Paths::default(), None)
    };
    // What new_value rules saw before the range.
    for (i, rule) in rules.iter().enumerate() {
        if let (RuleKind::NewValue { remember, .. }, Some((min, _))) = (&rule.kind, range) {
            let key = value_rule_key(rule);
            let mut counts = detect::Counts::default();
            for (value, last) in
                store::templates::known_before(client, &job.name, &key, min, *remember)?
            {
                counts.add_seen(&value, last);
            }
            tally.absorb(i, counts);
        }
    }
    // new_template rules: the templates known before the range, and the
    // range's messages added to them by first sighting, as in memory.
    let templates = if rules.iter().any(|r| matches!(r.kind, RuleKind::NewTemplate { .. })) {
        let seeds = match range {
            Some((min, _)) => store::templates::seeds(client, None, Some(min))?,
            None => Vec::new(),
        };
        let stats = std::mem::take(&mut tally.templates);
        Some(Arc::new(Catalog::build(seeds, stats, crate::template::DEFAULT_CAP)))
    } else {
        None
    };
    // Silences that started before the range: each group's last record.
    for (i, rule) in rules.iter().enumerate() {
        if let RuleKind::Inactivity { .. } = rule.kind {
            let before = range.map_or(reference + 1, |(min, _)| min - lookback(rule) - 1);
            let last = scan::last_before(client, &matches[i], before, &mut paths)
                .map_err(|e| e.in_rule(&rule.id))?;
            tally.absorb(i, last);
        }
    }
    let ctx = FinishContext {
        reference_time: reference,
        data_start: stored.map(|r| r.0),
        sources: paths.list,
        range_start: range.map(|r| r.0),
        templates,
        keep_sightings: true,
    };
    let detectors: Vec<Box<dyn Detector>> = rules.iter().map(detect::detector).collect();
    let mut alerts = tally.alerts(&detectors, &ctx);
    sort_alerts(&mut alerts);
    super::evidence::fill_text(&mut alerts);
    let mut known =
        Known { job: job.name.clone(), rules: Vec::new(), newest: data_end.unwrap_or(reference) };
    for (rule, d) in rules.iter().zip(&detectors) {
        if let RuleKind::NewValue { remember, .. } = rule.kind {
            known.rules.push((value_rule_key(rule), remember, d.sightings()));
        }
    }
    Ok((alerts, reference, acc.map(OverviewAcc::finish), known))
}

/// What a command does over a stored time range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeWork {
    /// `logtrack detect`: every rule over the range (plus the history each
    /// needs), alerts stored once per identity, the range's report.
    Detect,
    /// `logtrack report`: the range's report from what is stored: the
    /// alerts whose window starts in it, records and rejects per source.
    Report,
}

/// `work` over `[since, until]` (seconds; default: all that is stored).
pub fn over_range(
    job: &Job,
    url: &str,
    (since, until): (Option<i64>, Option<i64>),
    work: RangeWork,
    s: &Settings,
    msgs: &Messages,
) -> anyhow::Result<Exit> {
    let detecting = work == RangeWork::Detect;
    let started = wall_clock();
    let mut client = store::open(url)?;
    let Some((oldest, newest)) = runs::data_range(&mut client)? else {
        msgs.info("the database holds no records yet");
        return Ok(Exit::Ok);
    };
    // Rejects have no event time: those loaded in the range given.
    let loaded = runs::Loaded { since, until };
    let (since, until) = (since.unwrap_or(oldest), until.unwrap_or(newest));
    let (alerts, reference, overview, known) = if detecting {
        let range = Some((since, until));
        let (a, r, o, k) = detect(&mut client, job, range, s.now, range)?;
        (a, r, o, Some(k))
    } else {
        let alerts = alerts::stored(&mut client, Some(&job.name), since, until)?;
        (alerts, s.now.at_or_wall_clock(), None, None)
    };
    // New alerts become known only once the report that shows them is written.
    let mut tx = client.transaction().map_err(Error::db("starting the alerts transaction"))?;
    if let Some(k) = &known {
        remember(&mut tx, k)?;
    }
    let (new, events) = if detecting {
        let stored = alerts::store(&mut tx, job, alerts.clone())?;
        let events = incidents::track(&mut tx, job, &stored, None, Some(until), reference)?;
        (Some(stored.iter().filter(|a| a.new).count()), events)
    } else {
        (None, Vec::new())
    };
    let holds = incidents::hold(&mut tx, job, &events, (true, crate::clock::wall_clock()))?;
    super::notifications::say_held(&events, &holds, job, msgs);
    let problems =
        if detecting { crate::store::outbox::give_up_overdue(&mut tx, job)? } else { Vec::new() };
    for p in &problems {
        // A lost notification is said even under -q.
        msgs.error(p);
    }
    let parts = Parts {
        sources: runs::sources(&mut tx, since, until, loaded)?,
        rejects: runs::rejects(&mut tx, loaded)?,
        // Counted while detecting; for a report, by PostgreSQL (exact).
        overview: match overview {
            Some(o) => o,
            None => store::overview::overview(&mut tx, since, until)?,
        },
        templates: store::templates::report_rows(&mut tx, since, until)?,
        since: Some(since),
        until: Some(until),
        problems,
        held: super::notifications::held_lines(&events, &holds),
    };
    let report = assemble(job, s, (started, reference), parts, alerts, false);
    let written = output::write_or_print(job, s, &report, msgs)?;
    let anonymizer = super::anonymizer(job, s);
    let told = (true, s.told_at());
    let notes = (&events[..], &holds[..]);
    incidents::enqueue(&mut tx, job, notes, (None, &written), anonymizer.as_ref(), told)?;
    tx.commit().map_err(Error::db("storing the alerts"))?;
    if detecting {
        super::notifications::send_after_commit(&mut client, job, msgs);
    }
    for path in written {
        msgs.info(&format!("report: {path}"));
    }
    msgs.info(&format!(
        "{}: {} .. {}: {} records, {} rejected, {} alert(s){}",
        job.name,
        Timestamp::from_secs(since),
        Timestamp::from_secs(until),
        report.totals.records,
        report.totals.rejected,
        report.alerts.len(),
        new.map(|n| format!(" ({n} new)")).unwrap_or_default()
    ));
    output::print_alerts(&report.alerts, msgs);
    output::say_fail_on(&report, s, msgs);
    Ok(report.exit())
}
