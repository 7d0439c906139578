//! The counting machinery every detector shares: per group and second, a
//! count and the first few evidence lines ([`Bucket`]), kept in
//! [`Counts`] with the group names interned. Adding and merging are
//! commutative, so counts can be gathered in any order and by any number
//! of threads.

use super::bucket::Bucket;
use super::{Alert, LineRef};
use std::sync::Arc;

/// One group-second.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
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
/// Past a budget of memory ([`super::spill::budget`]) the group-seconds go to
/// disk as a sorted run and counting starts again empty: see [`spill`].
#[derive(Debug, Default)]
pub struct Counts {
    pub(super) names: Names,
    /// Per group id: index of its newest entry.
    pub(super) last: Vec<u32>,
    pub(super) entries: Vec<Entry>,
    /// Length of `entries` after the last compaction.
    pub(super) compacted: usize,
    /// Bytes held, roughly (names and entries).
    pub(super) held: usize,
    /// Counts spilled to disk, and the file this count spills to.
    pub(super) runs: Vec<super::spill::Run>,
    pub(super) file: super::spill::SpillFile,
    /// Bounds of the groups' totals, kept from the first spill on: they
    /// cover every group in `runs`.
    pub(super) totals: Option<super::spill::Totals>,
    /// Spilling failed (no temporary directory): everything stays in memory.
    pub(super) no_spill: bool,
    /// Room a spill puts the names and entries in, in run order, kept
    /// for the next.
    pub(super) spare: (Vec<u8>, Vec<Entry>),
    /// The budget, when not [`super::spill::budget`] (tests).
    pub(super) budget: Option<usize>,
}

/// Memory a group's name costs besides its bytes (hash, end, table
/// slot, `last`).
const NAME_OVERHEAD: usize = 32;

/// Interned group names: all in one buffer, by group id, each with its
/// [`super::spill::order`] hash, found through a table of ids by that hash. No
/// allocation per group, and emptied at a spill without freeing anything.
#[derive(Debug, Default)]
pub(super) struct Names {
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

    /// Group ids with their hashes in run order ([`super::spill::order`]): by
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
        self.intern_hashed(group, super::spill::order(group))
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
        if self.held > self.budget.unwrap_or_else(super::spill::budget) && !self.no_spill {
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
        if self.runs.len() > super::spill::MAX_RUNS {
            let runs = std::mem::take(&mut self.runs);
            match super::spill::Run::merge(&mut self.file, runs.clone()) {
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

    /// What is in memory as groups in [`super::spill::order`], with their hashes,
    /// each with its seconds sorted and distinct; the runs on disk; and the
    /// bounds of the totals of them all, when there are runs.
    pub(super) fn drain(
        mut self,
    ) -> (Vec<super::spill::Run>, Vec<(u64, super::spill::Group)>, Option<super::spill::Totals>)
    {
        self.compact();
        let mut secs: Vec<Vec<(i64, Bucket)>> = vec![Vec::new(); self.names.len()];
        for e in self.entries {
            secs[e.gid as usize].push((e.sec, e.bucket));
        }
        let out: Vec<(u64, super::spill::Group)> = (self.names.order().into_iter())
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

    /// Groups in [`super::spill::order`], each with its seconds sorted and
    /// distinct: from memory and from every spilled run, one group at a time.
    pub fn into_groups(self) -> super::spill::Groups {
        let (runs, memory, _) = self.drain();
        super::spill::Groups::new(runs, memory)
    }

    #[cfg(test)]
    pub(super) fn sorted(self) -> super::spill::Groups {
        self.into_groups()
    }

    /// Marks `group` as seen in second `sec` with no record of its own
    /// (history from the store).
    pub fn add_seen(&mut self, group: &str, sec: i64) {
        let gid = self.intern(group);
        self.push(gid, sec, &Bucket::default());
    }

    /// The alerts `each` makes of every group (its encoded name and its
    /// seconds), over the [`super::spill::PARTS`] parts of the groups in parallel.
    /// Groups with fewer than `min_records` records are passed over (0:
    /// none): those whose bound says so without being read at all.
    pub(super) fn alerts_per_group<F>(self, min_records: u64, each: F) -> Vec<Alert>
    where
        F: Fn(&str, &[(i64, Bucket)], &mut Vec<Alert>) + Sync,
    {
        use rayon::prelude::*;
        let (runs, memory, totals) = self.drain();
        let filter = totals
            .filter(|_| min_records > 1)
            .map(|t| super::spill::Filter { totals: Arc::new(t), min: min_records });
        super::spill::parts(runs, memory, filter)
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
