//! The records of one group in one second: how many, and the first few
//! evidence lines (by position in the input). What counts are made of, in
//! memory ([`super::counts`]) and on disk ([`super::spill`]).

use super::LineRef;

/// Evidence lines kept per group and second; an alert gathers up to
/// [`MAX_EVIDENCE`] of them from the seconds of its window, in time order.
/// Two per second keeps a high-cardinality rule (say, per client IP over a
/// gigabyte of logs, where almost every record is its own group-second) at
/// 40 bytes a group-second.
pub const EVIDENCE_PER_SECOND: usize = 2;

pub const MAX_EVIDENCE: usize = 20;

/// The records of one group in one second: how many, and the first few
/// (by position in the input). Adding and merging are commutative, so
/// counts can be gathered in any order and by any number of threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    pub count: u32,
    pub(super) ev: [LineRef; EVIDENCE_PER_SECOND],
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
