//! What a report draws besides its alerts: record volume per service and
//! severities over time, and the most frequent client IPs, users, paths,
//! statuses, CloudTrail event names and HDFS components.
//!
//! Gathered by the parsing threads (one [`OverviewAcc`] per thread, merged
//! at the end) in bounded memory: volume is kept per minute, and each "top"
//! list is a Misra–Gries summary of [`TOP_CAPACITY`] values, so a
//! gigabyte of logs with a million distinct paths costs a few hundred KiB.
//! A value that makes up more than 1/[`TOP_CAPACITY`] × 2 of the records is
//! always listed; its count may be low by at most that share of the records
//! (the report says when counts are estimates).

use crate::parse::{Record, Value};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::collections::BTreeMap;

/// Values kept per "top" list while counting.
pub const TOP_CAPACITY: usize = 2048;
/// Values shown per "top" list.
pub const TOP_SHOWN: usize = 10;
/// Time bins of the charts, at most.
pub const MAX_BINS: i64 = 120;

/// The kinds of "top" lists, in display order.
pub const TOP_KINDS: [&str; 6] =
    ["client_ip", "user", "path", "status", "cloudtrail_event", "hdfs_component"];

/// Counts of the most frequent values of one kind (Misra–Gries, halving).
#[derive(Clone, Debug, Default)]
pub struct TopK {
    counts: HashMap<String, u64>,
    /// Subtracted from every count by the clean-ups so far (an upper bound
    /// on how low a count may be).
    error: u64,
    total: u64,
}

impl TopK {
    pub fn add(&mut self, v: &str, n: u64) {
        self.total += n;
        if let Some(c) = self.counts.get_mut(v) {
            *c += n;
            return;
        }
        if self.counts.len() >= TOP_CAPACITY {
            self.shrink();
        }
        self.counts.insert(v.to_string(), n);
    }

    /// Subtracts the median count from all and drops those at or below it,
    /// which frees at least half the slots.
    fn shrink(&mut self) {
        let mut all: Vec<u64> = self.counts.values().copied().collect();
        let mid = all.len() / 2;
        let (_, &mut median, _) = all.select_nth_unstable(mid);
        self.counts.retain(|_, c| {
            if *c > median {
                *c -= median;
                true
            } else {
                false
            }
        });
        self.error += median;
    }

    pub fn merge(&mut self, other: TopK) {
        self.error += other.error;
        let total = self.total + other.total;
        for (v, n) in other.counts {
            self.add(&v, n);
        }
        self.total = total;
    }

    /// The most frequent values, highest first (ties by value).
    pub fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self.counts.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// What kind of records a source holds, for the lists that only some have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Access,
    Cloudtrail,
    Hdfs,
}

/// One thread's counts.
#[derive(Clone, Debug, Default)]
pub struct OverviewAcc {
    /// service → minute → records.
    volume: HashMap<String, HashMap<i64, u64>>,
    /// Records of the same service and minute as the last one, not yet
    /// added to `volume` (most records follow one of the same minute).
    run: Option<(String, i64, u64)>,
    /// (severity, minute) → records.
    severities: HashMap<(&'static str, i64), u64>,
    top: [TopK; 6],
    statuses: Vec<u64>,
}

impl OverviewAcc {
    pub fn observe(&mut self, kind: SourceKind, r: &Record<'_>) {
        if let Some(ts) = r.ts {
            let minute = ts.secs.div_euclid(60) * 60;
            match &mut self.run {
                Some((s, m, n)) if *m == minute && s.as_str() == r.service.as_ref() => *n += 1,
                _ => {
                    self.flush();
                    self.run = Some((r.service.to_string(), minute, 1));
                }
            }
            let sev = r.severity.map_or("none", |s| s.as_str());
            *self.severities.entry((sev, minute)).or_default() += 1;
        }
        if let Some(u) = r.user.as_deref() {
            self.top[1].add(u, 1);
        }
        match kind {
            SourceKind::Access => {
                if let Some(ip) = r.field("client_ip").and_then(Value::as_str) {
                    self.top[0].add(ip, 1);
                }
                let path = match r.field("path") {
                    Some(Value::Str(p)) => Some(p.as_ref()),
                    // Lean parsing keeps no path: it is the request's second word.
                    _ => request_path(&r.message),
                };
                if let Some(p) = path {
                    self.top[2].add(p, 1);
                }
                if let Some(Value::Int(s)) = r.field("status") {
                    let s = (*s).clamp(0, 999) as usize;
                    if self.statuses.len() <= s {
                        self.statuses.resize(s + 1, 0);
                    }
                    self.statuses[s] += 1;
                }
            }
            SourceKind::Cloudtrail => {
                if let Some(ip) = r.field("source_ip").and_then(Value::as_str) {
                    self.top[0].add(ip, 1);
                }
                if !r.message.is_empty() {
                    self.top[4].add(&r.message, 1);
                }
            }
            SourceKind::Hdfs => {
                if let Some(c) = r.field("component").and_then(Value::as_str) {
                    self.top[5].add(c, 1);
                }
            }
        }
    }

    fn flush(&mut self) {
        if let Some((service, minute, n)) = self.run.take() {
            *self.volume.entry(service).or_default().entry(minute).or_default() += n;
        }
    }

    pub fn merge(&mut self, mut other: OverviewAcc) {
        self.flush();
        other.flush();
        for (service, minutes) in other.volume {
            let mine = self.volume.entry(service).or_default();
            for (m, n) in minutes {
                *mine.entry(m).or_default() += n;
            }
        }
        for (k, n) in other.severities {
            *self.severities.entry(k).or_default() += n;
        }
        for (mine, theirs) in self.top.iter_mut().zip(other.top) {
            mine.merge(theirs);
        }
        if self.statuses.len() < other.statuses.len() {
            self.statuses.resize(other.statuses.len(), 0);
        }
        for (i, n) in other.statuses.into_iter().enumerate() {
            self.statuses[i] += n;
        }
    }

    /// The overview, binned to at most [`MAX_BINS`] bins.
    pub fn finish(mut self) -> Overview {
        self.flush();
        for (s, &n) in self.statuses.iter().enumerate() {
            if n > 0 {
                self.top[3].add(&s.to_string(), n);
            }
        }
        let mut o = Overview::from_minutes(
            self.volume
                .into_iter()
                .flat_map(|(s, minutes)| minutes.into_iter().map(move |(m, n)| (s.clone(), m, n))),
            self.severities.into_iter().map(|((s, m), n)| (s.to_string(), m, n)),
        );
        for (kind, top) in TOP_KINDS.iter().zip(self.top) {
            let values = top.top(TOP_SHOWN);
            if !values.is_empty() {
                o.top.insert(
                    kind.to_string(),
                    TopList { values, estimated: top.error > 0, total: top.total },
                );
            }
        }
        o
    }
}

/// The path of a request line `GET /x?y HTTP/1.1`.
fn request_path(request: &str) -> Option<&str> {
    // Split by bytes with memchr (ASCII separators, so the cuts fall
    // between characters): this runs for every access-log record.
    let b = request.as_bytes();
    let target_start = memchr::memchr(b' ', b)? + 1;
    let rest = &request[target_start..];
    let target = &rest[..memchr::memchr(b' ', rest.as_bytes()).unwrap_or(rest.len())];
    if !target.starts_with('/') {
        return None;
    }
    Some(&target[..memchr::memchr(b'?', target.as_bytes()).unwrap_or(target.len())])
}

/// One "top" list.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TopList {
    /// (value, records), most frequent first.
    pub values: Vec<(String, u64)>,
    /// True when there were too many distinct values to count each exactly:
    /// counts may then be low (never by more than total / 1024).
    pub estimated: bool,
    /// Records that had a value of this kind.
    pub total: u64,
}

/// A report's charts and lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Overview {
    /// Seconds per bin (a whole number of minutes).
    pub bin_secs: i64,
    /// Start of the first bin (seconds), if there is data.
    pub start: Option<i64>,
    /// Bins.
    pub bins: usize,
    /// Records per bin, per service.
    pub volume: BTreeMap<String, Vec<u64>>,
    /// Records per bin, per severity (`none` for records without one).
    pub severities: BTreeMap<String, Vec<u64>>,
    pub top: BTreeMap<String, TopList>,
}

impl Overview {
    /// From per-minute counts `(name, minute start, records)`.
    pub fn from_minutes(
        volume: impl Iterator<Item = (String, i64, u64)>,
        severities: impl Iterator<Item = (String, i64, u64)>,
    ) -> Overview {
        Overview::from_buckets(60, volume, severities)
    }

    /// From counts per bucket of `bucket` seconds `(name, bucket start,
    /// records)`: a bin is a whole number of buckets.
    pub fn from_buckets(
        bucket: i64,
        volume: impl Iterator<Item = (String, i64, u64)>,
        severities: impl Iterator<Item = (String, i64, u64)>,
    ) -> Overview {
        let volume: Vec<(String, i64, u64)> = volume.collect();
        let severities: Vec<(String, i64, u64)> = severities.collect();
        let (Some(lo), Some(hi)) =
            (volume.iter().map(|v| v.1).min(), volume.iter().map(|v| v.1).max())
        else {
            return Overview { bin_secs: bucket, ..Default::default() };
        };
        let buckets = (hi - lo) / bucket + 1;
        let per_bin = (buckets + MAX_BINS - 1) / MAX_BINS;
        let bin_secs = per_bin.max(1) * bucket;
        let start = lo.div_euclid(bin_secs) * bin_secs;
        let bins = ((hi - start) / bin_secs + 1) as usize;
        let series = |rows: Vec<(String, i64, u64)>| {
            let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
            for (name, at, n) in rows {
                let i = ((at - start) / bin_secs).clamp(0, bins as i64 - 1) as usize;
                out.entry(name).or_insert_with(|| vec![0; bins])[i] += n;
            }
            out
        };
        Overview {
            bin_secs,
            start: Some(start),
            bins,
            volume: series(volume),
            severities: series(severities),
            top: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths() {
        let cases = [
            ("GET /a/b?x=1 HTTP/1.1", Some("/a/b")),
            ("GET /é?q HTTP/2.0", Some("/é")),
            ("POST /login", Some("/login")),
            ("GET  /double-space HTTP/1.1", None),
            ("GET http://host/x HTTP/1.1", None),
            ("-", None),
            ("", None),
            ("GET /?only HTTP/1.1", Some("/")),
        ];
        for (request, path) in cases {
            assert_eq!(request_path(request), path, "{request:?}");
        }
    }

    #[test]
    fn heavy_hitters_survive_a_million_distinct_values() {
        let mut t = TopK::default();
        for i in 0..1_000_000u64 {
            t.add(&format!("/p/{i}"), 1);
            if i % 10 == 0 {
                t.add("/hot", 1);
            }
            if i % 50 == 0 {
                t.add("/warm", 1);
            }
        }
        let top = t.top(2);
        assert_eq!(top[0].0, "/hot");
        assert_eq!(top[1].0, "/warm");
        // Low by at most total / (capacity / 2).
        let bound = t.total / (TOP_CAPACITY as u64 / 2);
        assert!(100_000 - top[0].1 <= bound, "{top:?} bound {bound}");
        assert!(t.counts.len() <= TOP_CAPACITY);
    }

    #[test]
    fn exact_when_few_values() {
        let mut a = TopK::default();
        let mut b = TopK::default();
        for _ in 0..3 {
            a.add("x", 1);
        }
        b.add("x", 2);
        b.add("y", 1);
        a.merge(b);
        assert_eq!(a.top(5), vec![("x".to_string(), 5), ("y".to_string(), 1)]);
        assert_eq!(a.error, 0);
    }

    #[test]
    fn bins_cover_the_span_in_at_most_max_bins() {
        let o = Overview::from_minutes(
            vec![("web".to_string(), 0, 1), ("web".to_string(), 60 * 1000, 2)].into_iter(),
            std::iter::empty(),
        );
        assert!(o.bins as i64 <= MAX_BINS);
        assert_eq!(o.volume["web"].iter().sum::<u64>(), 3);
        assert_eq!(o.volume["web"][o.bins - 1], 2);
    }
}
