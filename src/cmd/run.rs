//! `logtrack run JOB`: read every source, run every rule, write the
//! reports. Without a database everything happens in memory. With one, new
//! lines are loaded first (as `ingest` does), then every rule runs in the
//! database over the new data plus the history it needs, and alerts are
//! stored once per identity (rule id, group, window start).

use super::Messages;
use crate::cli::{Global, RunArgs};
use crate::config::{self, AlertSeverity, GroupKey, Job, ReportFormat, RuleKind};
use crate::detect::{self, Alert, Detector, FinishContext, RuleMatch, Tally};
use crate::error::Exit;
use crate::parse::{ParserOptions, Timestamp, Tz};
use crate::parse::{Provenance, Record};
use crate::read::{self, ChunkResult, ChunkSink, Reject, SourceStats};
use crate::report::{self, Report, ReportWriter, Totals};
use crate::source;
use crate::store::{self, history, load::Loader};
use anyhow::Context;
use rayon::prelude::*;
use std::sync::Arc;
use std::sync::Mutex;

/// The reference time for inactivity rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Now {
    WallClock,
    EndOfData,
    At(i64),
}

impl Now {
    pub fn parse(s: Option<&str>) -> anyhow::Result<Now> {
        match s {
            None | Some("wall-clock") => Ok(Now::WallClock),
            Some("end-of-data") => Ok(Now::EndOfData),
            Some(t) => Timestamp::parse_rfc3339(t, &Tz::default())
                .map(|ts| Now::At(ts.secs))
                .with_context(|| {
                    format!("--now {t:?}: expected an RFC 3339 time (2024-05-01T12:00:00Z) or end-of-data")
                }),
        }
    }
}

impl Now {
    /// The instant, with `end-of-data` read as the wall clock (for commands
    /// that have no data of their own).
    pub fn at_or_wall_clock(self) -> i64 {
        match self {
            Now::At(t) => t,
            _ => wall_clock(),
        }
    }
}

fn wall_clock() -> i64 {
    chrono::Utc::now().timestamp()
}

fn rfc3339(secs: i64) -> String {
    Timestamp::from_secs(secs).to_rfc3339()
}

/// Parsing threads count into a few shared [`Tally`]s, one per thread
/// at a time, taken from and returned to a pool around each chunk. Counting
/// is commutative, so nothing has to be merged per chunk in input order;
/// the pool is handed to the detectors once, at the end.
struct DetectSink {
    matches: Arc<Vec<RuleMatch>>,
    source: u32,
    pool: Arc<Mutex<Vec<Tally>>>,
}

impl ChunkSink for DetectSink {
    type Acc = Tally;
    type Out = ();

    fn begin(&self) -> Tally {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default()
    }

    fn record(&self, acc: &mut Tally, r: &Record<'_>, prov: Provenance) {
        acc.observe(&self.matches, self.source, r, prov);
    }

    fn end(&self, acc: Tally) {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(acc);
    }
}

/// Everything a run gathers while it reads its sources.
#[derive(Default)]
struct Gathered {
    sources: Vec<SourceStats>,
    paths: Vec<Arc<str>>,
    rejects: Vec<Reject>,
    problems: Vec<String>,
    failed: bool,
    data_start: Option<i64>,
    data_end: Option<i64>,
}

impl Gathered {
    /// A source that could not be read: reported, listed in the report, and
    /// the run's exit code becomes 2. The other sources still run.
    fn fail(&mut self, msgs: &Messages, problem: String) {
        msgs.error(&problem);
        self.problems.push(problem);
        self.failed = true;
    }

    /// Keeps the first rejects for the report.
    fn reject(&mut self, r: &Reject, msgs: &Messages, verbose: bool) {
        if verbose {
            msgs.warn(&format!("reject: {r}"));
        }
        if self.rejects.len() < report::REPORT_REJECTS {
            self.rejects.push(r.clone());
        }
    }

    /// A finished source: its notes, a reject-ratio problem, its counts.
    fn finish_source(&mut self, msgs: &Messages, spec: &config::SourceSpec, stats: SourceStats) {
        for note in &stats.notes {
            msgs.warn(&format!("{}: {note}", stats.path));
        }
        let read = stats.records + stats.rejected;
        if read > 0 && stats.rejected as f64 / read as f64 > spec.max_reject_ratio {
            let p = format!(
                "{}: {} of {} lines rejected (more than max_reject_ratio {}): is format \"{}\" right for this file?",
                stats.path, stats.rejected, read, spec.max_reject_ratio, stats.format
            );
            msgs.warn(&p);
            self.problems.push(p);
        }
        self.sources.push(stats);
    }
}

/// Every input of a job, in order, with its source and parser options. A
/// source path that matches nothing is recorded as a failure; a directory
/// that cannot be read is a problem (its readable neighbours still run). A
/// file named twice (two sources, overlapping globs, a link) is read once,
/// for the first source that names it.
fn inputs<'j>(
    job: &'j Job,
    lean: bool,
    g: &mut Gathered,
    msgs: &Messages,
) -> Vec<(&'j config::SourceSpec, ParserOptions, String)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, spec) in job.sources.iter().enumerate() {
        match source::discover(&spec.path) {
            Ok(found) => {
                for w in found.warnings {
                    let p = format!("sources[{i}]: {w}");
                    msgs.warn(&p);
                    g.problems.push(p);
                }
                let opts = ParserOptions {
                    service: spec.service.clone(),
                    timezone: spec.timezone.clone(),
                    lean,
                };
                for p in found.paths {
                    let id = std::fs::metadata(&p).ok().map(|m| (m.dev(), m.ino()));
                    if let Some(first) = id.and_then(|id| seen.get(&id)) {
                        msgs.warn(&format!(
                            "{p}: named again by sources[{i}]; read once, as {first}"
                        ));
                        continue;
                    }
                    if let Some(id) = id {
                        seen.insert(id, p.clone());
                    }
                    out.push((spec, opts.clone(), p));
                }
            }
            Err(e) => g.fail(msgs, format!("sources[{i}]: {e}")),
        }
    }
    out
}

pub fn run(args: &RunArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = Messages::new(g);
    let started = wall_clock();
    let Some(job) = super::load_job(&args.job, g, &msgs) else { return Ok(Exit::Failed) };
    let fail_on = super::fail_on(g)?;
    let now = Now::parse(g.now.as_deref().or(job.now.as_deref()))?;
    if let (Some(url), false) = (job.database_url.clone(), g.no_db) {
        return run_with_db(&job, &url, g, &msgs, fail_on, now, started);
    }

    let matches: Arc<Vec<RuleMatch>> = Arc::new(job.rules.iter().map(RuleMatch::new).collect());
    let mut detectors: Vec<Box<dyn Detector>> = job.rules.iter().map(detect::detector).collect();
    let gathered = read_sources(&job, &matches, &mut detectors, &msgs, g.verbose);

    let reference = match now {
        Now::WallClock => wall_clock(),
        Now::At(t) => t,
        Now::EndOfData => gathered.data_end.unwrap_or_else(wall_clock),
    };
    let ctx = FinishContext {
        reference_time: reference,
        data_start: gathered.data_start,
        sources: gathered.paths.clone(),
    };
    let mut alerts: Vec<Alert> =
        detectors.into_par_iter().flat_map_iter(|d| d.finish(&ctx)).collect();
    alerts.sort_by(|a, b| {
        (a.window_start, &a.rule_id, &a.group).cmp(&(b.window_start, &b.rule_id, &b.group))
    });

    let records = gathered.sources.iter().map(|s| s.records).sum();
    let rejected = gathered.sources.iter().map(|s| s.rejected).sum();
    let report = Report {
        job: job.name.clone(),
        started_at: rfc3339(started),
        finished_at: rfc3339(wall_clock()),
        reference_time: rfc3339(reference),
        totals: Totals { records, rejected, alerts: alerts.len() as u64 },
        sources: gathered.sources,
        alerts,
        rejects: gathered.rejects,
        problems: gathered.problems,
    };
    let written = write_reports_or_print(&job, &report, &msgs)?;
    summarize(&report, &written, &msgs);

    Ok(exit_code(gathered.failed, fail_on, &report.alerts))
}

fn read_sources(
    job: &Job,
    matches: &Arc<Vec<RuleMatch>>,
    detectors: &mut [Box<dyn Detector>],
    msgs: &Messages,
    verbose: bool,
) -> Gathered {
    let pool: Arc<Mutex<Vec<Tally>>> = Arc::default();
    let mut g = Gathered::default();
    // Access-log detail fields are only parsed when a rule groups by one.
    let lean =
        !job.rules.iter().any(|r| r.group_by.iter().any(|k| matches!(k, GroupKey::Field(_))));
    for (spec, opts, path) in inputs(job, lean, &mut g, msgs) {
        let opened = match read::open(&path, &spec.format, &opts) {
            Ok(o) => o,
            Err(e) => {
                g.fail(msgs, format!("{e:#}"));
                continue;
            }
        };
        let sink = Arc::new(DetectSink {
            matches: Arc::clone(matches),
            source: g.paths.len() as u32,
            pool: Arc::clone(&pool),
        });
        g.paths.push(Arc::clone(&opened.path));
        let result = read::process_with(opened, sink, |res: ChunkResult<()>| {
            for r in &res.rejects {
                g.reject(r, msgs, verbose);
            }
            Ok(true)
        });
        match result {
            Ok(stats) => g.finish_source(msgs, spec, stats),
            Err(e) => g.fail(msgs, format!("{e:#}")),
        }
    }
    let pool = std::mem::take(&mut *pool.lock().unwrap_or_else(|e| e.into_inner()));
    for p in &pool {
        if let Some(t) = p.min_ts {
            g.data_start = Some(g.data_start.map_or(t, |s| s.min(t)));
        }
        if let Some(t) = p.max_ts {
            g.data_end = Some(g.data_end.map_or(t, |e| e.max(t)));
        }
    }
    Tally::feed_all(pool, detectors);
    g
}

/// grep's exit codes: 2 when a source failed, 1 when an alert at or above
/// `--fail-on` fired, else 0.
pub(crate) fn exit_code(failed: bool, fail_on: Option<AlertSeverity>, alerts: &[Alert]) -> Exit {
    if failed {
        Exit::Failed
    } else if fail_on.is_some_and(|min| alerts.iter().any(|a| a.severity >= min)) {
        Exit::AlertFired
    } else {
        Exit::Ok
    }
}

/// One line per alert on stderr.
pub(crate) fn print_alerts(alerts: &[Alert], msgs: &Messages) {
    for a in alerts {
        msgs.info(&format!("  {}", alert_line(a)));
    }
}

fn alert_line(a: &Alert) -> String {
    let group: Vec<String> = a.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{:<8} {} [{}] {} .. {}: {}",
        a.severity.as_str().to_uppercase(),
        a.rule_id,
        group.join(" "),
        a.window_start,
        a.window_end,
        a.message
    )
}

/// Writes the reports; when that fails, the run's alerts go to stdout (so
/// that they are seen) and the error is returned (exit 2).
pub(crate) fn write_reports_or_print(
    job: &Job,
    report: &Report,
    msgs: &Messages,
) -> anyhow::Result<Vec<String>> {
    write_reports(job, report).inspect_err(|_| {
        use std::io::Write;
        msgs.error(&format!(
            "the report could not be written; the {} alert(s) of this run follow on stdout",
            report.alerts.len()
        ));
        let mut out = std::io::stdout().lock();
        for a in &report.alerts {
            let _ = writeln!(out, "{}", alert_line(a));
        }
    })
}

pub(crate) fn write_reports(job: &Job, report: &Report) -> anyhow::Result<Vec<String>> {
    let dir = &job.report.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("report dir {}", dir.display()))?;
    let mut written = Vec::new();
    for f in &job.report.formats {
        let writer: Box<dyn ReportWriter> = match f {
            ReportFormat::Json => Box::new(report::Json),
            ReportFormat::Md => Box::new(report::Markdown),
        };
        let path = dir.join(writer.file_name());
        let bytes = writer.serialize(report)?;
        write_atomically(dir, &path, &bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path.display().to_string());
    }
    // The renames are durable once the directory is.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing report dir {}", dir.display()))?;
    Ok(written)
}

/// Writes beside, syncs, then renames: a reader never sees half a report,
/// and a crash leaves the old one or the new one. The temporary name is
/// unique to this process, so jobs sharing a report directory do not
/// overwrite each other's temporary files.
fn write_atomically(
    dir: &std::path::Path,
    path: &std::path::Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn summarize(r: &Report, written: &[String], msgs: &Messages) {
    msgs.info(&format!(
        "{}: {} file(s), {} records, {} rejected, {} alert(s) (reference time {})",
        r.job,
        r.sources.len(),
        r.totals.records,
        r.totals.rejected,
        r.totals.alerts,
        r.reference_time
    ));
    print_alerts(&r.alerts, msgs);
    for w in written {
        msgs.info(&format!("report: {w}"));
    }
}

/// How far before the new data a rule must look to see whole episodes,
/// baselines and the silences that end in it.
fn lookback(rule: &config::Rule) -> i64 {
    match &rule.kind {
        RuleKind::KeywordThreshold { window, .. }
        | RuleKind::RepeatedMessage { window, .. }
        | RuleKind::UserThreshold { window, .. }
        | RuleKind::RateSpike { window, .. } => window.secs(),
        RuleKind::ZscoreAnomaly { window, baseline_windows, .. } => {
            window.secs() * (i64::from(*baseline_windows) + 1)
        }
        RuleKind::Inactivity { max_idle } => max_idle.secs(),
    }
}

fn run_with_db(
    job: &Job,
    url: &str,
    g: &Global,
    msgs: &Messages,
    fail_on: Option<AlertSeverity>,
    now: Now,
    started: i64,
) -> anyhow::Result<Exit> {
    let mut loader = Loader::new(url)?;
    let host = store::ingest_host();
    // One run of a job at a time (on any host): a session-level lock.
    let locked: bool = loader
        .client()
        .query_one("SELECT pg_try_advisory_lock($1)", &[&store::lock_key("job", &job.name)])?
        .get(0);
    if !locked {
        anyhow::bail!(
            "job {:?} is already running (another logtrack run holds its lock)",
            job.name
        );
    }
    // Holding the lock, no other run of this job is alive: a row still
    // `running` belongs to a run that was killed.
    loader.client().execute(
        "UPDATE runs SET status = 'failed', finished_at = now() WHERE job = $1 AND status = 'running'",
        &[&job.name],
    )?;
    let run_id: i64 = loader
        .client()
        .query_one(
            "INSERT INTO runs (job, ingest_host, started_at, status, detected)
             VALUES ($1, $2, to_timestamp($3), 'running', false) RETURNING id",
            &[&job.name, &host, &(started as f64)],
        )?
        .get(0);
    loader.run_id = Some(run_id);
    let result = load_detect_report(job, &mut loader, g, msgs, fail_on, now, started, run_id);
    if result.is_err() {
        // The run's connection may be what failed: mark it on a new one.
        let marked = store::connect(url).and_then(|mut c| {
            c.execute(
                "UPDATE runs SET status = 'failed', finished_at = now(),
                        duration_ms = (extract(epoch from now() - started_at) * 1000)::bigint
                 WHERE id = $1",
                &[&run_id],
            )?;
            Ok(())
        });
        if let Err(e) = marked {
            msgs.warn(&format!("run {run_id} could not be marked failed: {e:#}"));
        }
    }
    result
}

/// The body of a run with a database, after its `runs` row is written.
#[allow(clippy::too_many_arguments)]
fn load_detect_report(
    job: &Job,
    loader: &mut Loader,
    g: &Global,
    msgs: &Messages,
    fail_on: Option<AlertSeverity>,
    now: Now,
    started: i64,
    run_id: i64,
) -> anyhow::Result<Exit> {
    // 1. Load what is new.
    let verbose = g.verbose;
    let mut got = Gathered::default();
    let (mut new_min, mut new_max): (Option<i64>, Option<i64>) = (None, None);
    for (spec, opts, path) in inputs(job, false, &mut got, msgs) {
        let result = loader.load(&path, &spec.format, &opts, |r| got.reject(r, msgs, verbose));
        match result {
            Ok(loaded) => {
                if let Some(t) = loaded.min_ts {
                    new_min = Some(new_min.map_or(t, |m| m.min(t)));
                }
                if let Some(t) = loaded.max_ts {
                    new_max = Some(new_max.map_or(t, |m| m.max(t)));
                }
                got.finish_source(msgs, spec, loaded.stats);
            }
            Err(e) => got.fail(msgs, format!("{e:#}")),
        }
    }

    // 2. Detect over the new data, and over what earlier runs loaded but
    // never reported (they failed), with the history each rule needs.
    let client = loader.client();
    let pending = client.query_one(
        "SELECT floor(extract(epoch from min(data_from)))::bigint, floor(extract(epoch from max(data_to)))::bigint
         FROM runs WHERE job = $1 AND NOT detected",
        &[&job.name],
    )?;
    let (pending_min, pending_max): (Option<i64>, Option<i64>) = (pending.get(0), pending.get(1));
    let lo = [new_min, pending_min].into_iter().flatten().min();
    let hi = [new_max, pending_max].into_iter().flatten().max();
    let (alerts, reference) = detect_in_db(client, &job.rules, lo.zip(hi), now)?;

    // 3. Store the alerts, write the report, and only then commit: an
    // alert is known (not new next run) only once a report has shown it.
    let mut tx = client.transaction()?;
    let new_alerts = store_alerts(&mut tx, job, alerts)?;
    tx.execute("UPDATE runs SET detected = true WHERE job = $1 AND NOT detected", &[&job.name])?;
    let records: u64 = got.sources.iter().map(|s| s.records).sum();
    let rejected: u64 = got.sources.iter().map(|s| s.rejected).sum();
    let finished = wall_clock();
    let status = if got.failed { "failed" } else { "ok" };
    tx.execute(
        "UPDATE runs SET finished_at = to_timestamp($2), status = $3, records = $4, rejected = $5, alerts = $6,
                         duration_ms = $7 WHERE id = $1",
        &[
            &run_id,
            &(finished as f64),
            &status,
            &(records as i64),
            &(rejected as i64),
            &(new_alerts.len() as i64),
            &((finished - started) * 1000),
        ],
    )?;
    let report = Report {
        job: job.name.clone(),
        started_at: rfc3339(started),
        finished_at: rfc3339(finished),
        reference_time: rfc3339(reference),
        totals: Totals { records, rejected, alerts: new_alerts.len() as u64 },
        sources: got.sources,
        alerts: new_alerts,
        rejects: got.rejects,
        problems: got.problems,
    };
    let written = write_reports_or_print(job, &report, msgs)?;
    tx.commit().context("storing the run's alerts")?;
    summarize(&report, &written, msgs);
    Ok(exit_code(got.failed, fail_on, &report.alerts))
}

/// Runs rules in the database over `range` (seconds, inclusive) plus the
/// history each rule needs before it; with no range only inactivity rules
/// have anything to say (silences up to the reference time).
pub(crate) fn detect_in_db(
    client: &mut postgres::Client,
    rules: &[config::Rule],
    range: Option<(i64, i64)>,
    now: Now,
) -> anyhow::Result<(Vec<Alert>, i64)> {
    let data_end: Option<i64> = match range {
        Some((_, max)) => Some(max),
        None => client
            .query_one("SELECT floor(extract(epoch from max(ts)))::bigint FROM logs", &[])?
            .get(0),
    };
    let data_start: Option<i64> = client
        .query_one("SELECT floor(extract(epoch from min(ts)))::bigint FROM logs", &[])?
        .get(0);
    let reference = match now {
        Now::WallClock => wall_clock(),
        Now::At(t) => t,
        Now::EndOfData => data_end.unwrap_or_else(wall_clock),
    };
    let mut paths = history::Paths::default();
    let mut detectors = Vec::new();
    for rule in rules {
        let mut d = detect::detector(rule);
        let back = lookback(rule);
        if let RuleKind::Inactivity { .. } = rule.kind {
            // Each group's last record before the range, then the range.
            let from = range.map_or(reference + 1, |(min, _)| min - back - 1);
            d.observe(history::last_before(client, rule, from, &mut paths)?);
            if let Some((_, max)) = range {
                d.observe(history::counts(client, rule, from, max + 1, &mut paths)?);
            }
        } else if let Some((min, max)) = range {
            d.observe(history::counts(client, rule, min - back, max + back + 1, &mut paths)?);
        }
        detectors.push(d);
    }
    let ctx = FinishContext { reference_time: reference, data_start, sources: paths.list.clone() };
    let mut alerts: Vec<Alert> = detectors.into_iter().flat_map(|d| d.finish(&ctx)).collect();
    alerts.sort_by(|a, b| {
        (a.window_start, &a.rule_id, &a.group).cmp(&(b.window_start, &b.rule_id, &b.group))
    });
    Ok((alerts, reference))
}

/// Stores alerts once per identity (job, rule id, group, window start) in
/// `tx`: a known one is updated (its window may have grown), a new one
/// inserted. Also records the job's rules. Returns the new alerts; the
/// caller commits once they are reported.
pub(crate) fn store_alerts(
    tx: &mut postgres::Transaction<'_>,
    job: &Job,
    alerts: Vec<Alert>,
) -> anyhow::Result<Vec<Alert>> {
    let mut new_alerts = Vec::new();
    for a in alerts {
        let group = serde_json::to_string(&a.group)?;
        let evidence = serde_json::to_string(&a.evidence)?;
        let inserted: bool = tx
            .query_one(
                "INSERT INTO alerts (rule_id, rule_type, severity, group_key, window_start, window_end,
                                     count, message, evidence, job)
                 VALUES ($1, $2, $3, $4::text::jsonb, $5::text::timestamptz, $6::text::timestamptz,
                         $7, $8, $9::text::jsonb, $10)
                 ON CONFLICT (job, rule_id, group_key, window_start) DO UPDATE SET
                   window_end = EXCLUDED.window_end, count = EXCLUDED.count,
                   message = EXCLUDED.message, evidence = EXCLUDED.evidence, last_seen = now()
                 RETURNING (xmax = 0)",
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
            )?
            .get(0);
        if inserted {
            new_alerts.push(a);
        }
    }
    for rule in &job.rules {
        let def = serde_json::json!({
            "type": rule.kind.type_name(), "service": rule.service, "severity": rule.severity.as_str(),
            "group_by": rule.group_by.iter().map(|k| k.name()).collect::<Vec<_>>(),
            "definition": format!("{:?}", rule.kind),
        })
        .to_string();
        tx.execute(
            "INSERT INTO rules (job, rule_id, rule_type, definition) VALUES ($1, $2, $3, $4::text::jsonb)
             ON CONFLICT (job, rule_id) DO UPDATE SET rule_type = EXCLUDED.rule_type, definition = EXCLUDED.definition",
            &[&job.name, &rule.id, &rule.kind.type_name(), &def],
        )?;
    }
    Ok(new_alerts)
}
