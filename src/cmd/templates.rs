//! `logtrack templates`: the message templates of files, one line each,
//! most frequent first: count, id, first and last time seen, the
//! template, and an example line (file:line).

use crate::cli::{Global, ListOutput, TemplatesArgs};
use crate::error::Exit;
use crate::output::write_json_str;
use crate::parse::{Provenance, Record, Timestamp};
use crate::read::{self, ChunkResult, ChunkSink};
use crate::template::{self, Templater};
use std::io::Write;
use std::sync::Arc;

/// A chunk's template keys, with each record's time and line.
#[derive(Default)]
struct Keys {
    keys: String,
    records: Vec<(usize, Option<Timestamp>, u64)>,
}

struct KeySink;

impl ChunkSink for KeySink {
    type Acc = Keys;
    type Out = Keys;

    fn begin(&self) -> Keys {
        Keys::default()
    }

    fn record(&self, k: &mut Keys, r: &Record<'_>, prov: Provenance) {
        template::key_into(&r.service, &r.message, &mut k.keys);
        k.records.push((k.keys.len(), r.ts, prov.line));
    }

    fn end(&self, k: Keys) -> Keys {
        k
    }
}

/// What is known of one template.
#[derive(Clone, Default)]
pub struct Seen {
    pub count: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// The first record's file (an index into the paths) and line.
    pub example: (usize, u64),
}

impl Seen {
    fn absorb(&mut self, o: &Seen) {
        if self.count == 0 || o.example < self.example {
            self.example = o.example;
        }
        self.count += o.count;
        for t in [o.first, o.last].into_iter().flatten() {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }

    fn add(&mut self, ts: Option<Timestamp>, example: (usize, u64)) {
        if self.count == 0 {
            self.example = example;
        }
        self.count += 1;
        if let Some(t) = ts {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
}

pub fn run(args: &TemplatesArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    let (format, opts) = super::input_options(&args.input)?;
    let mut exit = Exit::Ok;
    let mut t = Templater::new(args.cap.max_templates);
    let mut seen: Vec<Seen> = Vec::new();
    let mut paths = Vec::new();
    for path in super::expand(&args.files, &msgs, &mut exit) {
        let opened = match read::open(&path, &format, &opts) {
            Ok(o) => o,
            Err(e) => {
                msgs.error(&format!("{e:#}"));
                exit = Exit::Failed;
                continue;
            }
        };
        let file = paths.len();
        paths.push(path.clone());
        let result = read::process_with(opened, Arc::new(KeySink), |res: ChunkResult<Keys>| {
            let mut at = 0;
            for &(end, ts, line) in &res.value.records {
                let c = t.assign(&res.value.keys[at..end]) as usize;
                if seen.len() <= c {
                    seen.resize(c + 1, Seen::default());
                }
                seen[c].add(ts, (file, line));
                at = end;
            }
            Ok(true)
        });
        match result {
            Ok(stats) => msgs.info(&format!(
                "{path}: {} records, {} rejected, {} lines ({})",
                stats.records, stats.rejected, stats.lines, stats.format
            )),
            Err(e) => {
                msgs.error(&format!("{e:#}"));
                exit = Exit::Failed;
            }
        }
    }
    // Templates that became part of another count there (the first
    // example, by when it was read, stays).
    for c in 0..seen.len() {
        let root = t.drain.resolve(c as u32) as usize;
        if root != c && seen[c].count > 0 {
            let s = std::mem::take(&mut seen[c]);
            if seen.len() <= root {
                seen.resize(root + 1, Seen::default());
            }
            seen[root].absorb(&s);
        }
    }
    let mut order: Vec<usize> = (0..seen.len()).filter(|&c| seen[c].count > 0).collect();
    order.sort_by(|&a, &b| {
        (seen[b].count, seen[a].first, t.drain.cluster(a as u32).id()).cmp(&(
            seen[a].count,
            seen[b].first,
            t.drain.cluster(b as u32).id(),
        ))
    });
    let ts = |t: Option<Timestamp>| t.map_or_else(|| "-".to_string(), |t| t.to_rfc3339());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.output {
        ListOutput::Text => {
            let width = |f: &dyn Fn(usize) -> usize| order.iter().map(|&c| f(c)).max().unwrap_or(0);
            let svc_w = width(&|c| t.drain.cluster(c as u32).service.chars().count()).max(7);
            let tpl_w = width(&|c| t.drain.cluster(c as u32).text().chars().count()).clamp(8, 80);
            let time_w = width(&|c| ts(seen[c].first).len()).max(10);
            writeln!(
                out,
                "{:>8}  {:<16}  {:<time_w$}  {:<time_w$}  {:<svc_w$}  {:<tpl_w$}  example",
                "count", "id", "first seen", "last seen", "service", "template"
            )?;
            for &c in &order {
                let (s, cl) = (&seen[c], t.drain.cluster(c as u32));
                writeln!(
                    out,
                    "{:>8}  {:<16}  {:<time_w$}  {:<time_w$}  {:<svc_w$}  {:<tpl_w$}  {}:{}",
                    s.count,
                    cl.id(),
                    ts(s.first),
                    ts(s.last),
                    cl.service,
                    cl.text(),
                    paths[s.example.0],
                    s.example.1
                )?;
            }
        }
        ListOutput::Json => {
            let mut line = Vec::new();
            for &c in &order {
                let (s, cl) = (&seen[c], t.drain.cluster(c as u32));
                line.clear();
                line.extend_from_slice(b"{\"count\":");
                crate::output::write_int(&mut line, s.count as i64);
                line.extend_from_slice(b",\"template_id\":");
                write_json_str(&mut line, cl.id());
                line.extend_from_slice(b",\"service\":");
                write_json_str(&mut line, &cl.service);
                line.extend_from_slice(b",\"template\":");
                write_json_str(&mut line, cl.text());
                for (key, t) in [("first_seen", s.first), ("last_seen", s.last)] {
                    line.extend_from_slice(format!(",\"{key}\":").as_bytes());
                    match t {
                        Some(t) => write_json_str(&mut line, &t.to_rfc3339()),
                        None => line.extend_from_slice(b"null"),
                    }
                }
                line.extend_from_slice(b",\"example\":{\"path\":");
                write_json_str(&mut line, &paths[s.example.0]);
                line.extend_from_slice(b",\"line\":");
                crate::output::write_int(&mut line, s.example.1 as i64);
                line.extend_from_slice(b"}}\n");
                out.write_all(&line)?;
            }
        }
    }
    out.flush()?;
    crate::run::messages::templates_capped(&t.drain, 0, &msgs);
    Ok(exit)
}
