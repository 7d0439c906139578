//! Detectors: the eight rule types over event time.
//!
//! Each record is matched against each rule ([`RuleMatch`], the one
//! definition of what a rule matches, used for parsed records and for rows
//! read back from the database alike): is it counted (service filter,
//! `where`, keyword), and in which group. Matches are tallied per group and
//! per second ([`Tally`] of [`Counts`]: a count and the first few evidence
//! lines of that second), so a detector's memory grows with the time span
//! and the number of groups, not with the number of records, and input
//! order does not matter (out-of-order lines, parallel chunks, several
//! files give the same alerts). `ratio` and `percentile` rules count a
//! little more than the second: whether the numerator holds, or the sketch
//! bucket of the value ([`RuleMatch::slot`]), in the same counts.
//!
//! A [`Detector`] turns a rule's counts into alerts with the reference
//! time passed in: no I/O, no clock, so its output is deterministic and can
//! be snapshotted.

mod inactivity;
mod novelty;
mod percentile;
mod ratio;
pub mod sketch;
pub mod spill;
mod window;
mod zscore;

use crate::config::{AlertSeverity, GroupKey, Rule, RuleKind};
use crate::expr::{Expr, Name};
use crate::parse::time::TimeSpan;
use crate::parse::{Record, Timestamp, Value};
pub use crate::source::LineRef;
use memchr::memmem;
pub use novelty::Sighting;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Evidence lines kept per group and second; an alert gathers up to
/// [`MAX_EVIDENCE`] of them from the seconds of its window, in time order.
/// Two per second keeps a high-cardinality rule (say, per client IP over a
/// gigabyte of logs, where almost every record is its own group-second) at
/// 40 bytes a group-second.
pub const EVIDENCE_PER_SECOND: usize = 2;
pub const MAX_EVIDENCE: usize = 20;

/// Separates the values of a multi-key group in its encoded form.
const GROUP_SEP: char = '\u{1f}';

/// The records of one group in one second: how many, and the first few
/// (by position in the input). Adding and merging are commutative, so
/// counts can be gathered in any order and by any number of threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    pub count: u32,
    ev: [LineRef; EVIDENCE_PER_SECOND],
}

impl Bucket {
    pub fn add(&mut self, ev: LineRef) {
        self.keep(ev, (self.count as usize).min(EVIDENCE_PER_SECOND));
        self.count = self.count.saturating_add(1);
    }

    pub fn merge(&mut self, other: &Bucket) {
        let mut kept = (self.count as usize).min(EVIDENCE_PER_SECOND);
        for ev in other.evidence() {
            self.keep(*ev, kept);
            kept = (kept + 1).min(EVIDENCE_PER_SECOND);
        }
        self.count = self.count.saturating_add(other.count);
    }

    /// Inserts `ev` among the `kept` smallest, keeping them sorted.
    fn keep(&mut self, ev: LineRef, kept: usize) {
        let mut i = if kept < EVIDENCE_PER_SECOND {
            kept
        } else if ev < self.ev[kept - 1] {
            kept - 1
        } else {
            return;
        };
        self.ev[i] = ev;
        while i > 0 && self.ev[i] < self.ev[i - 1] {
            self.ev.swap(i, i - 1);
            i -= 1;
        }
    }

    pub fn evidence(&self) -> &[LineRef] {
        &self.ev[..(self.count as usize).min(EVIDENCE_PER_SECOND)]
    }
}

/// One group-second.
#[derive(Clone, Copy, Debug)]
struct Entry {
    sec: i64,
    gid: u32,
    bucket: Bucket,
}

/// Counts per group and second, in one flat list.
///
/// Groups are interned (a name is hashed once per chunk, not per record),
/// and entries are appended as they arrive: input is mostly in time order,
/// so a record usually lands in its group's newest entry. Out-of-order and
/// cross-chunk duplicates are merged when the list is compacted (a stable
/// sort by group and second, so evidence stays in input order), which keeps
/// memory near the number of distinct group-seconds.
///
/// Past a budget of memory ([`spill::budget`]) the group-seconds go to
/// disk as a sorted run and counting starts again empty: see [`spill`].
#[derive(Debug, Default)]
pub struct Counts {
    names: Names,
    /// Per group id: index of its newest entry.
    last: Vec<u32>,
    entries: Vec<Entry>,
    /// Length of `entries` after the last compaction.
    compacted: usize,
    /// Bytes held, roughly (names and entries).
    held: usize,
    /// Counts spilled to disk, and the file this count spills to.
    runs: Vec<spill::Run>,
    file: spill::SpillFile,
    /// Bounds of the groups' totals, kept from the first spill on: they
    /// cover every group in `runs`.
    totals: Option<spill::Totals>,
    /// Spilling failed (no temporary directory): everything stays in memory.
    no_spill: bool,
    /// Room a spill puts the names and entries in, in run order, kept
    /// for the next.
    spare: (Vec<u8>, Vec<Entry>),
    /// The budget, when not [`spill::budget`] (tests).
    budget: Option<usize>,
}

/// Memory a group's name costs besides its bytes (hash, end, table
/// slot, `last`).
const NAME_OVERHEAD: usize = 32;

/// Interned group names: all in one buffer, by group id, each with its
/// [`spill::order`] hash, found through a table of ids by that hash. No
/// allocation per group, and emptied at a spill without freeing anything.
#[derive(Debug, Default)]
struct Names {
    bytes: String,
    /// Per group id: where its name ends in `bytes` (it starts where the
    /// previous one ends).
    ends: Vec<usize>,
    hashes: Vec<u64>,
    table: hashbrown::HashTable<u32>,
}

impl Names {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn name(&self, gid: u32) -> &str {
        name_in(&self.bytes, &self.ends, gid)
    }

    fn hash(&self, gid: u32) -> u64 {
        self.hashes[gid as usize]
    }

    /// The id of `name` (whose hash is `hash`), and whether it is new.
    fn intern(&mut self, name: &str, hash: u64) -> (u32, bool) {
        let Names { bytes, ends, hashes, table } = self;
        if let Some(&gid) = table.find(hash, |&g| name_in(bytes, ends, g) == name) {
            return (gid, false);
        }
        let gid = ends.len() as u32;
        bytes.push_str(name);
        ends.push(bytes.len());
        hashes.push(hash);
        table.insert_unique(hash, gid, |&g| hashes[g as usize]);
        (gid, true)
    }

    /// Group ids with their hashes in run order ([`spill::order`]): by
    /// hash, then (for the rare equal hashes) by name.
    fn order(&self) -> Vec<(u64, u32)> {
        let mut order: Vec<(u64, u32)> = self.hashes.iter().copied().zip(0..).collect();
        order.sort_unstable();
        for same in order.chunk_by_mut(|a, b| a.0 == b.0).filter(|s| s.len() > 1) {
            same.sort_unstable_by(|a, b| self.name(a.1).cmp(self.name(b.1)));
        }
        order
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.hashes.clear();
        self.table.clear();
    }
}

/// The name of group `gid` in a [`Names`] buffer (it starts where the
/// previous one ends).
fn name_in<'a>(bytes: &'a str, ends: &[usize], gid: u32) -> &'a str {
    let g = gid as usize;
    &bytes[if g == 0 { 0 } else { ends[g - 1] }..ends[g]]
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        self.last.is_empty() && self.runs.is_empty()
    }

    fn intern(&mut self, group: &str) -> u32 {
        self.intern_hashed(group, spill::order(group))
    }

    fn intern_hashed(&mut self, group: &str, hash: u64) -> u32 {
        let (gid, new) = self.names.intern(group, hash);
        if new {
            self.last.push(u32::MAX);
            self.held += group.len() + NAME_OVERHEAD;
        }
        gid
    }

    /// Counts `bucket` for group `gid` in second `sec`; returns false when
    /// the counts were spilled (group ids are then void).
    fn push(&mut self, gid: u32, sec: i64, bucket: &Bucket) -> bool {
        let last = self.last[gid as usize];
        if let Some(e) = self.entries.get_mut(last as usize) {
            if e.gid == gid && e.sec == sec {
                e.bucket.merge(bucket);
                return true;
            }
        }
        self.last[gid as usize] = self.entries.len() as u32;
        self.entries.push(Entry { sec, gid, bucket: *bucket });
        self.held += std::mem::size_of::<Entry>();
        if self.held > self.budget.unwrap_or_else(spill::budget) && !self.no_spill {
            self.spill();
            return false;
        }
        if self.entries.len() > 2 * self.compacted + (1 << 20) {
            self.compact();
        }
        true
    }

    pub fn add(&mut self, group: &str, sec: i64, ev: LineRef) {
        let gid = self.intern(group);
        let mut b = Bucket::default();
        b.add(ev);
        self.push(gid, sec, &b);
    }

    /// Adds everything in `other` (a later chunk, or stored history).
    pub fn absorb(&mut self, mut other: Counts) {
        if self.is_empty() {
            *self = other;
            return;
        }
        // Already spilling: the other's groups go to disk as they are (a
        // sort) rather than into this map one by one (a hash each).
        let spilling = !self.runs.is_empty() || !other.runs.is_empty();
        if spilling && !other.last.is_empty() {
            other.spill();
        }
        self.runs.append(&mut other.runs);
        if let Some(t) = other.totals.take() {
            match &mut self.totals {
                Some(mine) => mine.absorb(&t),
                None => self.totals = Some(t),
            }
        }
        // Group ids of `self` for `other`'s, made again after a spill.
        let mut map = vec![u32::MAX; other.last.len()];
        for e in &other.entries {
            let g = e.gid as usize;
            if map[g] == u32::MAX {
                map[g] = self.intern_hashed(other.names.name(e.gid), other.names.hash(e.gid));
            }
            if !self.push(map[g], e.sec, &e.bucket) {
                map.iter_mut().for_each(|m| *m = u32::MAX);
            }
        }
        self.merge_runs_if_many();
    }

    /// Writes what is in memory as a sorted run and empties it; on an
    /// I/O error keeps it in memory from now on.
    fn spill(&mut self) {
        let names = &self.names;
        let n = names.len();
        let order = names.order();
        // Names and entries are copied into run order (counting sorts by
        // rank: reads in order, writes scattered), so that writing the run
        // reads everything in order rather than at random.
        let mut rank = vec![0u32; n];
        for (r, &(_, g)) in order.iter().enumerate() {
            rank[g as usize] = r as u32;
        }
        let mut name_at = vec![0usize; n + 1];
        let mut at = vec![0usize; n + 1];
        for g in 0..n as u32 {
            name_at[rank[g as usize] as usize + 1] = names.name(g).len();
        }
        for e in &self.entries {
            at[rank[e.gid as usize] as usize + 1] += 1;
        }
        for r in 0..n {
            name_at[r + 1] += name_at[r];
            at[r + 1] += at[r];
        }
        let (mut sorted_names, mut by_rank) = std::mem::take(&mut self.spare);
        sorted_names.clear();
        sorted_names.resize(names.bytes.len(), 0);
        for g in 0..n as u32 {
            let r = rank[g as usize] as usize;
            sorted_names[name_at[r]..name_at[r + 1]].copy_from_slice(names.name(g).as_bytes());
        }
        by_rank.clear();
        by_rank.resize(self.entries.len(), Entry { sec: 0, gid: 0, bucket: Bucket::default() });
        let mut next = at.clone();
        for e in &self.entries {
            let slot = &mut next[rank[e.gid as usize] as usize];
            by_rank[*slot] = *e;
            *slot += 1;
        }
        // A failed spill may leave some of its groups counted in the
        // totals: a bound too high only reads a group for nothing.
        let totals = self.totals.get_or_insert_with(Default::default);
        let run = self.file.append(|w| {
            let mut secs: Vec<(i64, Bucket)> = Vec::new();
            for (r, &(hash, gid)) in order.iter().enumerate() {
                let mine = &mut by_rank[at[r]..at[r + 1]];
                // Input is mostly in time order: usually sorted already.
                if !mine.is_sorted_by_key(|e| e.sec) {
                    mine.sort_by_key(|e| e.sec);
                }
                secs.clear();
                for e in mine.iter() {
                    match secs.last_mut() {
                        Some((sec, b)) if *sec == e.sec => b.merge(&e.bucket),
                        _ => secs.push((e.sec, e.bucket)),
                    }
                }
                totals.add(hash, secs.iter().map(|(_, b)| u64::from(b.count)).sum());
                let name = &sorted_names[name_at[r]..name_at[r + 1]];
                debug_assert_eq!(name, names.name(gid).as_bytes());
                w.group(hash, name, &secs)?;
            }
            Ok(())
        });
        self.spare = (sorted_names, by_rank);
        match run {
            Ok(run) => {
                self.runs.push(run);
                // Emptied, keeping their room for what comes next.
                self.names.clear();
                self.last.clear();
                self.entries.clear();
                self.compacted = 0;
                self.held = 0;
                self.merge_runs_if_many();
            }
            Err(_) => {
                // Kept in memory from now on (the entries were copied,
                // not moved, so each group's newest one is where it was).
                self.no_spill = true;
                self.spare = Default::default();
            }
        }
    }

    fn merge_runs_if_many(&mut self) {
        if self.runs.len() > spill::MAX_RUNS {
            let runs = std::mem::take(&mut self.runs);
            match spill::Run::merge(&mut self.file, runs.clone()) {
                Ok(one) => self.runs.push(one),
                Err(_) => self.runs = runs,
            }
        }
    }

    fn compact(&mut self) {
        self.entries.sort_by_key(|e| (e.gid, e.sec));
        let mut out: Vec<Entry> = Vec::with_capacity(self.entries.len());
        for e in self.entries.drain(..) {
            match out.last_mut() {
                Some(l) if l.gid == e.gid && l.sec == e.sec => l.bucket.merge(&e.bucket),
                _ => out.push(e),
            }
        }
        for (i, e) in out.iter().enumerate() {
            self.last[e.gid as usize] = i as u32;
        }
        self.entries = out;
        self.compacted = self.entries.len();
    }

    /// What is in memory as groups in [`spill::order`], with their hashes,
    /// each with its seconds sorted and distinct; the runs on disk; and the
    /// bounds of the totals of them all, when there are runs.
    fn drain(mut self) -> (Vec<spill::Run>, Vec<(u64, spill::Group)>, Option<spill::Totals>) {
        self.compact();
        let mut secs: Vec<Vec<(i64, Bucket)>> = vec![Vec::new(); self.names.len()];
        for e in self.entries {
            secs[e.gid as usize].push((e.sec, e.bucket));
        }
        let out: Vec<(u64, spill::Group)> = (self.names.order().into_iter())
            .map(|(h, g)| {
                (h, (self.names.name(g).to_string(), std::mem::take(&mut secs[g as usize])))
            })
            .collect();
        let mut totals = if self.runs.is_empty() { None } else { self.totals };
        if let Some(t) = &mut totals {
            for (h, (_, secs)) in &out {
                t.add(*h, secs.iter().map(|(_, b)| u64::from(b.count)).sum());
            }
        }
        (self.runs, out, totals)
    }

    /// Groups in [`spill::order`], each with its seconds sorted and
    /// distinct: from memory and from every spilled run, one group at a time.
    pub fn into_groups(self) -> spill::Groups {
        let (runs, memory, _) = self.drain();
        spill::Groups::new(runs, memory)
    }

    #[cfg(test)]
    fn sorted(self) -> spill::Groups {
        self.into_groups()
    }

    /// Marks `group` as seen in second `sec` with no record of its own
    /// (history from the store).
    pub fn add_seen(&mut self, group: &str, sec: i64) {
        let gid = self.intern(group);
        self.push(gid, sec, &Bucket::default());
    }

    /// The alerts `each` makes of every group (its encoded name and its
    /// seconds), over the [`spill::PARTS`] parts of the groups in parallel.
    /// Groups with fewer than `min_records` records are passed over (0:
    /// none): those whose bound says so without being read at all.
    fn alerts_per_group<F>(self, min_records: u64, each: F) -> Vec<Alert>
    where
        F: Fn(&str, &[(i64, Bucket)], &mut Vec<Alert>) + Sync,
    {
        use rayon::prelude::*;
        let (runs, memory, totals) = self.drain();
        let filter = totals
            .filter(|_| min_records > 1)
            .map(|t| spill::Filter { totals: Arc::new(t), min: min_records });
        spill::parts(runs, memory, filter)
            .into_par_iter()
            .flat_map_iter(|part| {
                let mut alerts = Vec::new();
                for (name, secs) in part.groups() {
                    // The bound lets some through (groups sharing its cell).
                    if secs.iter().map(|(_, b)| u64::from(b.count)).sum::<u64>() >= min_records {
                        each(&name, &secs, &mut alerts);
                    }
                }
                alerts
            })
            .collect()
    }
}

/// A line an alert points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub path: Arc<str>,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The line's text (at most [`EVIDENCE_TEXT`] bytes), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Bytes of an evidence line's text kept in reports (a longer line is cut,
/// with `…`).
pub const EVIDENCE_TEXT: usize = 1024;

/// One alert: an episode of a rule in one group. Its identity is
/// (rule id, group, window start).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub rule_id: String,
    #[serde(rename = "type")]
    pub rule_type: &'static str,
    #[serde(serialize_with = "ser_display")]
    pub severity: AlertSeverity,
    pub group: BTreeMap<String, String>,
    #[serde(serialize_with = "ser_ts")]
    pub window_start: Timestamp,
    #[serde(serialize_with = "ser_ts")]
    pub window_end: Timestamp,
    pub count: u64,
    pub message: String,
    pub evidence: Vec<Evidence>,
}

fn ser_ts<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

fn ser_display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// What every detector needs at the end of a run.
pub struct FinishContext {
    /// `--now`: the reference time for trailing silences (seconds).
    pub reference_time: i64,
    /// The earliest record time of the whole run, if any.
    pub data_start: Option<i64>,
    /// Source paths by [`LineRef::source`].
    pub sources: Vec<Arc<str>>,
    /// The start of the range detected over (seconds), when it is not the
    /// start of the data: what came before is history.
    pub range_start: Option<i64>,
    /// The run's message templates, for `new_template` rules.
    pub templates: Option<Arc<crate::template::catalog::Catalog>>,
    /// `new_value` rules keep what they saw (for the store).
    pub keep_sightings: bool,
}

impl FinishContext {
    fn evidence(&self, evs: impl IntoIterator<Item = LineRef>) -> Vec<Evidence> {
        evs.into_iter()
            .take(MAX_EVIDENCE)
            .map(|e| Evidence {
                path: self
                    .sources
                    .get(e.source as usize)
                    .cloned()
                    .unwrap_or_else(|| Arc::from("?")),
                line: e.line as u64,
                index: (e.index > 0).then_some(e.index as u64),
                text: None,
            })
            .collect()
    }
}

/// A rule's detector: a pure function from the rule's counts (gathered in
/// any order, by any number of threads, from files or from the database)
/// and the end-of-run context to its alerts.
pub trait Detector: Send + Sync {
    /// Every alert of `counts`. `ctx.reference_time` is the only notion of
    /// "now" a detector has.
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert>;

    /// `new_value`: the combinations its last `alerts` saw, when
    /// `keep_sightings` was set.
    fn sightings(&self) -> Vec<Sighting> {
        Vec::new()
    }
}

/// Builds the detector of a rule.
pub fn detector(rule: &Rule) -> Box<dyn Detector> {
    match &rule.kind {
        RuleKind::KeywordThreshold { threshold, window, .. }
        | RuleKind::RepeatedMessage { threshold, window, .. }
        | RuleKind::UserThreshold { threshold, window, .. }
        | RuleKind::RateSpike { threshold, window } => {
            Box::new(window::WindowDetector::new(rule.clone(), *threshold, window.secs()))
        }
        RuleKind::Inactivity { max_idle } => {
            Box::new(inactivity::InactivityDetector::new(rule.clone(), max_idle.secs()))
        }
        RuleKind::ZscoreAnomaly { .. } => Box::new(zscore::ZscoreDetector::new(rule.clone())),
        RuleKind::Ratio { .. } => Box::new(ratio::RatioDetector::new(rule.clone())),
        RuleKind::Percentile { .. } => Box::new(percentile::PercentileDetector::new(rule.clone())),
        RuleKind::NewTemplate { .. } => Box::new(novelty::NewTemplateDetector::new(rule.clone())),
        RuleKind::NewValue { .. } => Box::new(novelty::NewValueDetector::new(rule.clone())),
    }
}

/// The names of a rule's group keys, as they appear in an alert's `group`.
pub fn group_names(rule: &Rule) -> Vec<String> {
    let mut names: Vec<String> = rule.group_by.iter().map(GroupKey::name).collect();
    if matches!(rule.kind, RuleKind::RepeatedMessage { message: None, .. }) {
        names.push("message".into());
    }
    names
}

/// Decodes an encoded group into the alert's `group` object.
fn decode_group(names: &[String], encoded: &str) -> BTreeMap<String, String> {
    names.iter().cloned().zip(encoded.split(GROUP_SEP).map(str::to_string)).collect()
}

#[derive(Clone)]
enum Matcher {
    All,
    /// Substring of the message (and, with `with_severity`, of the severity
    /// name too), case-insensitive unless `case_sensitive`.
    Contains {
        needle: Box<memmem::Finder<'static>>,
        case_sensitive: bool,
        with_severity: bool,
    },
    /// The message equals this text.
    Equals(String),
}

/// What a rule counts besides the second of a record (see [`RuleMatch::slot`]).
#[derive(Clone)]
enum Sub {
    None,
    /// `ratio`: whether the numerator holds (one bit).
    Ratio(Arc<Expr>),
    /// `percentile`: the [`sketch`] bucket of the field's value.
    Percentile(Arc<str>),
}

/// What a `new_template` rule passes over.
struct TemplateFilter {
    min_severity: Option<crate::parse::Severity>,
    ignore: Option<regex::RegexSet>,
}

/// What a rule matches: whether a record counts for it and in which group.
///
/// This is the one definition of a rule's matching. In memory the parsing
/// threads apply it to each parsed record; with a database the stored rows
/// of the range are read back and it is applied to them in the same way
/// (see `store::scan`), so both paths count the same records in the same
/// groups.
#[derive(Clone)]
pub struct RuleMatch {
    service: Option<String>,
    group_by: Vec<GroupKey>,
    matcher: Matcher,
    message_in_group: bool,
    /// `where`.
    filter: Option<Arc<Expr>>,
    sub: Sub,
    /// `new_template`: the key ends with the service and masked message.
    template: Option<Arc<TemplateFilter>>,
    /// Seconds `[from, to)` this rule counts (all when `None`).
    range: Option<(i64, i64)>,
}

/// The parts of a record a rule reads: what a reader of stored rows must
/// fetch for it. `service` and the time are always read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// The group or a `where` reads the service (the rule's own `service`
    /// filter is not counted here).
    pub service: bool,
    /// A `where` reads the time (which every reader fetches anyway).
    pub ts: bool,
    pub host: bool,
    pub user: bool,
    pub severity: bool,
    pub message: bool,
    /// Keys of `fields`, sorted, without duplicates.
    pub fields: Vec<String>,
}

impl Reads {
    fn field(&mut self, k: &str) {
        if let Err(i) = self.fields.binary_search_by(|f| f.as_str().cmp(k)) {
            self.fields.insert(i, k.to_string());
        }
    }

    /// Everything `self` or `other` reads.
    pub fn union(&mut self, other: &Reads) {
        self.service |= other.service;
        self.ts |= other.ts;
        self.host |= other.host;
        self.user |= other.user;
        self.severity |= other.severity;
        self.message |= other.message;
        for k in &other.fields {
            self.field(k);
        }
    }

    /// Everything `e` reads.
    fn expr(&mut self, e: &Expr) {
        for n in e.names() {
            match n {
                Name::Ts => self.ts = true,
                Name::Service => self.service = true,
                Name::Host => self.host = true,
                Name::Severity => self.severity = true,
                Name::Message => self.message = true,
                Name::User => self.user = true,
                Name::ClientIp => {
                    self.field("client_ip");
                    self.field("source_ip");
                }
                Name::Field(k) => self.field(k),
            }
        }
    }
}

impl RuleMatch {
    pub fn new(rule: &Rule) -> RuleMatch {
        let contains = |text: &str, case_sensitive: bool, with_severity: bool| Matcher::Contains {
            needle: Box::new(memmem::Finder::new(text.as_bytes()).into_owned()),
            case_sensitive,
            with_severity,
        };
        let (matcher, message_in_group) = match &rule.kind {
            RuleKind::KeywordThreshold { keyword, case_sensitive, .. } => {
                (contains(keyword, *case_sensitive, true), false)
            }
            RuleKind::UserThreshold { message, case_sensitive, .. } => {
                (contains(message, *case_sensitive, false), false)
            }
            RuleKind::RepeatedMessage { message: Some(m), .. } => {
                (Matcher::Equals(m.trim().to_string()), false)
            }
            RuleKind::RepeatedMessage { message: None, .. } => (Matcher::All, true),
            _ => (Matcher::All, false),
        };
        let sub = match &rule.kind {
            RuleKind::Ratio { numerator, .. } => Sub::Ratio(Arc::new(numerator.clone())),
            RuleKind::Percentile { field, .. } => Sub::Percentile(Arc::from(field.as_str())),
            _ => Sub::None,
        };
        RuleMatch {
            service: rule.service.clone(),
            group_by: rule.group_by.clone(),
            matcher,
            message_in_group,
            filter: rule.filter.clone().map(Arc::new),
            sub,
            template: match &rule.kind {
                RuleKind::NewTemplate { severity_at_least, ignore, .. } => {
                    let patterns: Vec<String> = ignore
                        .iter()
                        .filter_map(|e| crate::config::ignore_pattern(e).ok())
                        .collect();
                    Some(Arc::new(TemplateFilter {
                        min_severity: *severity_at_least,
                        ignore: (!patterns.is_empty())
                            .then(|| {
                                regex::RegexSetBuilder::new(&patterns)
                                    .size_limit(1 << 22)
                                    .build()
                                    .ok()
                            })
                            .flatten(),
                    }))
                }
                _ => None,
            },
            range: None,
        }
    }

    /// Where a counted record of second `sec` is counted: the second, or
    /// for `ratio` `2 · sec + 1` when the numerator holds (else `2 · sec`),
    /// or for `percentile` `sec · 2^BITS +` the bucket of its value (see
    /// [`sketch`]), which must be a number: a record without one is not
    /// counted (`None`).
    pub fn slot(&self, r: &Record<'_>, sec: i64) -> Option<i64> {
        match &self.sub {
            Sub::None => Some(sec),
            Sub::Ratio(e) => Some(2 * sec + i64::from(e.eval(r))),
            Sub::Percentile(k) => {
                let v = r.field(k).and_then(crate::expr::field_number)?;
                Some((sec << sketch::BITS) | sketch::bucket(v))
            }
        }
    }

    /// The same match, counting only records with `from <= ts < to` (seconds).
    pub fn within(mut self, from: i64, to: i64) -> RuleMatch {
        self.range = Some((from, to));
        self
    }

    /// The same match over all time.
    pub fn unbounded(&self) -> RuleMatch {
        RuleMatch { range: None, ..self.clone() }
    }

    pub fn in_range(&self, sec: i64) -> bool {
        self.range.is_none_or(|(from, to)| from <= sec && sec < to)
    }

    /// The service a record must have, if the rule names one.
    pub fn service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// What the group of a record is made of.
    pub fn group_reads(&self) -> Reads {
        let mut r = Reads::default();
        for g in &self.group_by {
            match g {
                GroupKey::Service => r.service = true,
                GroupKey::User => r.user = true,
                GroupKey::Host => r.host = true,
                GroupKey::ClientIp => {
                    r.field("client_ip");
                    r.field("source_ip");
                }
                GroupKey::Message => r.message = true,
                GroupKey::Field(k) => r.field(k),
            }
        }
        r.message |= self.message_in_group || self.template.is_some();
        if self.template.as_ref().is_some_and(|t| t.min_severity.is_some()) {
            r.severity = true;
        }
        if self.template.is_some() {
            r.service = true;
        }
        r
    }

    /// Whether the match has a `where` that reads the time.
    pub fn filters_on_time(&self) -> bool {
        self.filter.as_ref().is_some_and(|f| f.names().contains(&&Name::Ts))
    }

    /// Everything the match reads of a record.
    pub fn reads(&self) -> Reads {
        let mut r = self.group_reads();
        if let Some(f) = &self.filter {
            r.expr(f);
        }
        match &self.sub {
            Sub::None => {}
            Sub::Ratio(e) => r.expr(e),
            Sub::Percentile(k) => r.field(k),
        }
        match &self.matcher {
            Matcher::All => {}
            Matcher::Equals(_) => r.message = true,
            Matcher::Contains { with_severity, .. } => {
                r.message = true;
                r.severity |= *with_severity;
            }
        }
        r
    }

    /// Writes the record's encoded group into `key` and returns true when the
    /// record counts for the rule. The group is built first: it is cheaper
    /// than the text match and often rules a record out (no user).
    pub fn project(&self, r: &Record<'_>, key: &mut String) -> bool {
        if let Some(s) = &self.service {
            if r.service != *s {
                return false;
            }
        }
        key.clear();
        for (i, g) in self.group_by.iter().enumerate() {
            if i > 0 {
                key.push(GROUP_SEP);
            }
            let ok = match g {
                GroupKey::Service => push_value(key, Some(&r.service)),
                GroupKey::User => push_value(key, r.user.as_deref()),
                GroupKey::Host => push_value(key, r.host.as_deref()),
                GroupKey::ClientIp => {
                    let v = r.field("client_ip").or_else(|| r.field("source_ip"));
                    push_field(key, v)
                }
                GroupKey::Message => push_value(key, Some(&r.message)),
                GroupKey::Field(k) => push_field(key, r.field(k)),
            };
            if !ok {
                return false;
            }
        }
        match &self.matcher {
            Matcher::All => {}
            Matcher::Equals(m) => {
                if r.message.trim() != m {
                    return false;
                }
            }
            Matcher::Contains { needle, case_sensitive, with_severity } => {
                let find = |hay: &[u8]| {
                    if *case_sensitive {
                        needle.find(hay).is_some()
                    } else {
                        contains_ignore_ascii_case(hay, needle.needle())
                    }
                };
                let in_severity =
                    *with_severity && r.severity.is_some_and(|s| find(s.as_str().as_bytes()));
                if !in_severity && !find(r.message.as_bytes()) {
                    return false;
                }
            }
        }
        if let Some(f) = &self.filter {
            if !f.eval(r) {
                return false;
            }
        }
        if self.message_in_group {
            if !self.group_by.is_empty() {
                key.push(GROUP_SEP);
            }
            push_value(key, Some(&r.message));
        }
        if let Some(t) = &self.template {
            if t.min_severity.is_some_and(|min| r.severity.is_none_or(|s| s < min)) {
                return false;
            }
            if t.ignore.as_ref().is_some_and(|set| set.is_match(&r.message)) {
                return false;
            }
            if !self.group_by.is_empty() {
                key.push(GROUP_SEP);
            }
            crate::template::key_into(&r.service, &r.message, key);
        }
        true
    }
}

/// ASCII case-insensitive substring search without copying the haystack:
/// candidates are the positions of the needle's first byte in either case.
pub fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return true };
    if hay.len() < needle.len() {
        return false;
    }
    let last_start = hay.len() - needle.len();
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lo, up, &hay[..=last_start])
        .any(|i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

fn push_value(key: &mut String, v: Option<&str>) -> bool {
    match v {
        // The separator is one byte in UTF-8 (U+001F), found by memchr.
        Some(s) if memchr::memchr(GROUP_SEP as u8, s.as_bytes()).is_some() => {
            key.push_str(&s.replace(GROUP_SEP, " "));
            true
        }
        Some(s) => {
            key.push_str(s);
            true
        }
        None => false,
    }
}

fn push_field(key: &mut String, v: Option<&Value<'_>>) -> bool {
    match v.and_then(Value::to_text) {
        Some(t) => push_value(key, Some(&t)),
        None => false,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Building detector inputs by hand for tests.
    use super::*;

    /// Feeds `(group, second)` events (line = position + 1) to the rule's
    /// detector and returns its alerts.
    pub fn run(rule: &Rule, events: &[(&str, i64)], now: i64) -> Vec<Alert> {
        let mut counts = Counts::default();
        for (i, (g, s)) in events.iter().enumerate() {
            let mut c = Counts::default();
            c.add(g, *s, LineRef { source: 0, line: i as u32 + 1, index: 0 });
            counts.absorb(c);
        }
        let ctx = FinishContext {
            reference_time: now,
            data_start: events.iter().map(|e| e.1).min(),
            sources: vec![Arc::from("test.log")],
            range_start: None,
            templates: None,
            keep_sightings: false,
        };
        detector(rule).alerts(counts, &ctx)
    }
}

/// What parsing threads (or the readers of stored rows) count for the
/// detectors: per rule, counts per group and second, plus the time span
/// seen. One accumulates any number of chunks, in any order; tallies of
/// several threads are merged with [`Tally::merge`].
#[derive(Default)]
pub struct Tally {
    per_rule: Vec<Counts>,
    pub span: TimeSpan,
    key: String,
    /// Every record's masked message, when a `new_template` rule is
    /// among the matches (the run's templates are built from them).
    pub templates: crate::template::catalog::SigStats,
    templated: Option<bool>,
}

impl Tally {
    /// Counts one record for every rule that matches it. Records without a
    /// time stamp are not counted (no rule runs without event time).
    pub fn observe(
        &mut self,
        matches: &[RuleMatch],
        source: u32,
        r: &Record<'_>,
        prov: crate::parse::Provenance,
    ) {
        let Some(ts) = r.ts else { return };
        let sec = ts.secs;
        self.span.add(sec);
        if self.per_rule.len() < matches.len() {
            self.per_rule.resize_with(matches.len(), Counts::default);
        }
        let at = LineRef::at(source, prov);
        let templated =
            *self.templated.get_or_insert_with(|| matches.iter().any(|m| m.template.is_some()));
        if templated {
            self.templates.add(&r.service, &r.message, sec, at);
        }
        for (i, m) in matches.iter().enumerate() {
            if m.in_range(sec) && m.project(r, &mut self.key) {
                if let Some(slot) = m.slot(r, sec) {
                    self.per_rule[i].add(&self.key, slot, at);
                }
            }
        }
    }

    /// Adds counts of rule `i` gathered elsewhere.
    pub fn absorb(&mut self, i: usize, counts: Counts) {
        if self.per_rule.len() <= i {
            self.per_rule.resize_with(i + 1, Counts::default);
        }
        self.per_rule[i].absorb(counts);
    }

    /// The counts of rule `i`, leaving none.
    pub fn take(&mut self, i: usize) -> Counts {
        self.per_rule.get_mut(i).map(std::mem::take).unwrap_or_default()
    }

    /// One tally of several.
    pub fn merge(tallies: Vec<Tally>) -> Tally {
        let mut out = Tally::default();
        for t in tallies {
            out.span.merge(t.span);
            out.templates.merge(t.templates);
            for (i, c) in t.per_rule.into_iter().enumerate() {
                out.absorb(i, c);
            }
        }
        out
    }

    /// The alerts of every rule (detectors in the order of the matches the
    /// tally counted with), one detector per thread.
    pub fn alerts(self, detectors: &[Box<dyn Detector>], ctx: &FinishContext) -> Vec<Alert> {
        use rayon::prelude::*;
        let mut per_rule = self.per_rule;
        per_rule.resize_with(detectors.len(), Counts::default);
        detectors
            .par_iter()
            .zip(per_rule)
            .flat_map_iter(|(d, counts)| d.alerts(counts, ctx))
            .collect()
    }
}

#[cfg(test)]
mod tests;
