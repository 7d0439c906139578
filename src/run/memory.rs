//! A run without a database: parsing threads count every record for every
//! rule as they parse it, and nothing is kept but the counts.

use super::inputs::{inputs, sorted_paths, SourceLog};
use super::{assemble, output, sort_alerts, Messages, Settings};
use crate::config::Job;
use crate::config::RuleKind;
use crate::detect::{self, Detector, FinishContext, RuleMatch, Tally};
use crate::error::Exit;
use crate::parse::{Detail, Format, Provenance, Record};
use crate::read::{self, ChunkResult, ChunkSink};
use crate::summary::overview::{OverviewAcc, SourceKind};
use crate::summary::TemplateRow;
use crate::template::catalog::Catalog;
use std::sync::{Arc, Mutex};

/// The detect sink. Parsing threads count into a few shared [`Tally`]s,
/// one per thread at a time, taken from and returned to a pool around each
/// chunk. Counting is commutative, so nothing has to be merged per chunk in
/// input order; the pool is merged once, at the end.
/// The report's overview is counted alongside, in the same accumulators.
struct TallySink {
    matches: Arc<Vec<RuleMatch>>,
    source: u32,
    kind: SourceKind,
    pool: Arc<Mutex<Vec<Acc>>>,
}

type Acc = (Tally, OverviewAcc);

impl ChunkSink for TallySink {
    type Acc = Acc;
    type Out = ();

    fn begin(&self) -> Acc {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default()
    }

    fn record(&self, acc: &mut Acc, r: &Record<'_>, prov: Provenance) {
        acc.0.observe(&self.matches, self.source, r, prov);
        acc.1.observe(self.kind, r);
    }

    fn end(&self, acc: Acc) {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(acc);
    }
}

fn source_kind(format: &Format) -> SourceKind {
    match format {
        Format::Cloudtrail => SourceKind::Cloudtrail,
        Format::Hdfs | Format::HdfsCsv => SourceKind::Hdfs,
        _ => SourceKind::Access,
    }
}

pub(super) fn run(job: &Job, s: &Settings, msgs: &Messages, started: i64) -> anyhow::Result<Exit> {
    let mut log = SourceLog::new(s.strict());
    let matches: Arc<Vec<RuleMatch>> = Arc::new(job.rules.iter().map(RuleMatch::new).collect());
    // Access-log detail fields are only parsed when a rule reads one (groups
    // by it, selects with it in `where` or a numerator, or takes a
    // percentile of it): lean records keep `client_ip` and `status` only,
    // and the long referer and user agent are kept only for a rule that
    // reads them.
    let mut reads = crate::detect::Reads::default();
    for m in matches.iter() {
        reads.union(&m.reads());
    }
    let reads_any = |keys: &[&str]| reads.fields.iter().any(|k| keys.contains(&k.as_str()));
    let detail = if reads_any(&["referer", "user_agent"]) {
        Detail::Full
    } else if reads
        .fields
        .iter()
        .all(|k| ["client_ip", "source_ip", "status"].contains(&k.as_str()))
    {
        Detail::Lean
    } else {
        Detail::NoAgents
    };
    let templates = job.rules.iter().any(|r| matches!(r.kind, RuleKind::NewTemplate { .. }));
    let inputs = inputs(job, detail, s.now, &mut log, msgs);
    let paths = sorted_paths(&inputs);
    let pool: Arc<Mutex<Vec<Acc>>> = Arc::default();
    for input in &inputs {
        let mut opened = match read::open(&input.path, &input.spec.format, &input.opts) {
            Ok(o) => o,
            Err(e) => {
                log.fail(msgs, format!("{e:#}"));
                continue;
            }
        };
        opened.range = s.range();
        let source = paths.binary_search_by(|p| (**p).cmp(input.path.as_str())).unwrap_or(0);
        let sink = Arc::new(TallySink {
            matches: Arc::clone(&matches),
            source: source as u32,
            kind: source_kind(&opened.format),
            pool: Arc::clone(&pool),
        });
        let result = read::process_with(opened, sink, |res: ChunkResult<()>| {
            for r in &res.rejects {
                log.reject(r, msgs, s.verbose);
            }
            Ok(true)
        });
        match result {
            Ok(stats) => log.finish_source(msgs, input.spec, stats),
            Err(e) => log.fail(msgs, format!("{e:#}")),
        }
    }
    let (tallies, overviews): (Vec<Tally>, Vec<OverviewAcc>) =
        std::mem::take(&mut *pool.lock().unwrap_or_else(|e| e.into_inner())).into_iter().unzip();
    let mut tally = Tally::merge(tallies);
    let mut overview = OverviewAcc::default();
    for o in overviews {
        overview.merge(o);
    }
    let catalog = templates.then(|| {
        let sigs = std::mem::take(&mut tally.templates);
        let c = Catalog::build(Vec::new(), sigs, crate::template::DEFAULT_CAP);
        super::messages::warn_templates_capped(&c, msgs);
        Arc::new(c)
    });
    log.parts.overview = overview.finish();
    if let Some(c) = &catalog {
        log.parts.templates = report_templates(c, job, tally.span.min());
    }
    (log.parts.since, log.parts.until) = (s.since, s.until);

    let reference = s.now.resolve(tally.span.max());
    let ctx = FinishContext {
        reference_time: reference,
        data_start: tally.span.min(),
        sources: paths,
        range_start: None,
        templates: catalog,
        keep_sightings: false,
    };
    let detectors: Vec<Box<dyn Detector>> = job.rules.iter().map(detect::detector).collect();
    let mut alerts = tally.alerts(&detectors, &ctx);
    sort_alerts(&mut alerts);
    super::evidence::fill_text(&mut alerts);
    let paths = output::report_paths(job, s);
    let holds = crate::notify::quiet::in_memory(job, &alerts, crate::clock::wall_clock());
    for p in super::notifications::send_in_memory(job, (&alerts, &holds), &paths, s, msgs) {
        msgs.warn(&p);
        log.parts.problems.push(p);
    }
    log.parts.held =
        alerts.iter().zip(&holds).filter_map(|(a, h)| h.as_ref().map(|h| h.held(a))).collect();
    let report = assemble(job, s, (started, reference), log.parts, alerts, log.failed);
    let written = output::write_or_print(job, s, &report, msgs)?;
    output::summarize(&report, s, &written, msgs);
    Ok(report.exit())
}

/// The report's templates of a run: new when first seen after the largest
/// `learn` of the job's `new_template` rules.
fn report_templates(c: &Catalog, job: &Job, data_start: Option<i64>) -> Vec<TemplateRow> {
    let learn = job
        .rules
        .iter()
        .filter_map(|r| match r.kind {
            RuleKind::NewTemplate { learn, .. } => Some(learn),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let boundary = data_start.map_or(i64::MIN, |s| s.saturating_add(learn));
    let at = |t: i64| crate::parse::Timestamp::from_secs(t).to_rfc3339();
    let rows = c
        .info
        .iter()
        .enumerate()
        .filter_map(|(i, info)| {
            let stat = info.stat?;
            let cluster = c.drain.cluster(i as u32);
            Some(TemplateRow {
                service: cluster.service.to_string(),
                template_id: cluster.id().to_string(),
                template: cluster.text().to_string(),
                count: stat.count,
                first_seen: at(stat.first),
                last_seen: at(stat.last),
                new: stat.first >= boundary && cluster.text() != crate::template::mask::WILD,
            })
        })
        .collect();
    crate::summary::pick_templates(rows)
}
