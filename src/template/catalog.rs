//! Templates of a whole run, independent of the order records were read
//! in: parsing threads count each distinct masked message ([`SigStats`],
//! commutative), and [`Catalog::build`] runs the tree over the distinct
//! messages sorted by their first sighting, after the templates already
//! known (stored by earlier runs). The same data gives the same templates
//! in memory and in PostgreSQL, whatever the threads did.

use super::{Drain, KEY_SEP};
use crate::source::LineRef;
use rustc_hash::FxHashMap;

/// Distinct masked messages counted per run and per thread; past this,
/// records of further ones are counted as dropped (they get no template).
pub const MAX_SIGNATURES: usize = 200_000;

/// What is known of a masked message, or of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub count: u64,
    /// Seconds.
    pub first: i64,
    pub last: i64,
    /// The first line, by time then position.
    pub example: (i64, LineRef),
}

impl Stat {
    pub fn new(sec: i64, at: LineRef) -> Stat {
        Stat { count: 1, first: sec, last: sec, example: (sec, at) }
    }

    pub fn merge(&mut self, o: &Stat) {
        self.count += o.count;
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.example = self.example.min(o.example);
    }
}

/// Counts per distinct masked message (its key: see [`super::key_into`]).
#[derive(Default)]
pub struct SigStats {
    map: FxHashMap<Box<str>, Stat>,
    key: String,
    /// Records whose masked message was past [`MAX_SIGNATURES`].
    pub dropped: u64,
}

impl SigStats {
    pub fn add(&mut self, service: &str, message: &str, sec: i64, at: LineRef) {
        self.key.clear();
        super::key_into(service, message, &mut self.key);
        if let Some(s) = self.map.get_mut(self.key.as_str()) {
            s.merge(&Stat::new(sec, at));
        } else if self.map.len() < MAX_SIGNATURES {
            self.map.insert(self.key.as_str().into(), Stat::new(sec, at));
        } else {
            self.dropped += 1;
        }
    }

    pub fn merge(&mut self, other: SigStats) {
        if self.map.is_empty() {
            let dropped = self.dropped;
            *self = other;
            self.dropped += dropped;
            return;
        }
        self.dropped += other.dropped;
        for (k, s) in other.map {
            if let Some(mine) = self.map.get_mut(&k) {
                mine.merge(&s);
            } else if self.map.len() < MAX_SIGNATURES {
                self.map.insert(k, s);
            } else {
                self.dropped += s.count;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The services of the counted messages, sorted.
    pub fn services(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .map
            .keys()
            .map(|k| k.split_once(KEY_SEP).map_or("", |p| p.0).to_string())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// A template known before: stored by an earlier run.
#[derive(Clone, Debug)]
pub struct Seed {
    pub service: String,
    pub text: String,
    pub stat: Stat,
    /// Stored by an earlier version of the miner: its text is mined again
    /// (as a message) by this one, keeping what was counted.
    pub remine: bool,
}

/// One template of a catalog.
#[derive(Clone, Debug, Default)]
pub struct Info {
    /// What the data counted (zero count for a seed not seen again).
    pub stat: Option<Stat>,
    /// From the store: the first sighting before this run's data.
    pub stored: Option<Stat>,
    /// The template's text when it was stored (it may have grown more
    /// general since).
    pub stored_text: Option<String>,
    /// Stored templates that became part of this one (their rows go; what
    /// they counted is in `stored`).
    pub merged_texts: Vec<String>,
    /// A stored template of an earlier miner, mined again: its row is
    /// written back.
    pub remined: bool,
}

impl Info {
    /// Everything known: stored and counted.
    pub fn total(&self) -> Option<Stat> {
        match (self.stat, self.stored) {
            (Some(mut a), Some(b)) => {
                a.merge(&b);
                Some(a)
            }
            (a, b) => a.or(b),
        }
    }

    /// The first sighting ever (seconds).
    pub fn first(&self) -> Option<i64> {
        self.total().map(|s| s.first)
    }
}

/// The templates of a run, and which template each masked message has.
pub struct Catalog {
    pub drain: Drain,
    pub info: Vec<Info>,
    index: FxHashMap<Box<str>, u32>,
    /// Records that got no template (past [`MAX_SIGNATURES`]).
    pub dropped: u64,
}

impl Catalog {
    /// Seeds first (their text becomes a template of its own), then the
    /// counted messages by first sighting, then by key.
    pub fn build(seeds: Vec<Seed>, stats: SigStats, cap: usize) -> Catalog {
        let mut drain = Drain::new(cap);
        let mut info: Vec<Info> = Vec::new();
        let slot = |info: &mut Vec<Info>, c: u32| {
            if info.len() <= c as usize {
                info.resize(c as usize + 1, Info::default());
            }
        };
        let mut masked = String::new();
        for s in seeds {
            let c = if s.remine {
                masked.clear();
                super::mask::mask_into(&s.text, &mut masked);
                drain.add(&s.service, &masked)
            } else {
                drain.seed(&s.service, &s.text)
            };
            slot(&mut info, c);
            let i = &mut info[c as usize];
            match &mut i.stored {
                Some(st) => st.merge(&s.stat),
                None => i.stored = Some(s.stat),
            }
            i.remined |= s.remine;
            if i.stored_text.is_none() {
                i.stored_text = Some(s.text);
            } else if i.stored_text.as_ref() != Some(&s.text) {
                i.merged_texts.push(s.text);
            }
        }
        let mut sigs: Vec<(Box<str>, Stat)> = stats.map.into_iter().collect();
        sigs.sort_unstable_by(|a, b| (a.1.first, &a.0).cmp(&(b.1.first, &b.0)));
        let mut index = FxHashMap::default();
        for (key, stat) in sigs {
            let (service, masked) = key.split_once(KEY_SEP).unwrap_or(("", &key));
            let c = drain.add(service, masked);
            slot(&mut info, c);
            let i = &mut info[c as usize];
            match &mut i.stat {
                Some(s) => s.merge(&stat),
                None => i.stat = Some(stat),
            }
            index.insert(key, c);
        }
        // Templates that became part of another: what they hold moves there.
        for c in 0..info.len() as u32 {
            let root = drain.resolve(c);
            if root == c {
                continue;
            }
            let moved = std::mem::take(&mut info[c as usize]);
            slot(&mut info, root);
            let r = &mut info[root as usize];
            for (mine, theirs) in [(&mut r.stat, moved.stat), (&mut r.stored, moved.stored)] {
                match (mine.as_mut(), theirs) {
                    (Some(m), Some(t)) => m.merge(&t),
                    (None, t) => *mine = t,
                    _ => {}
                }
            }
            match (&r.stored_text, moved.stored_text) {
                (None, t) => r.stored_text = t,
                (Some(_), Some(t)) => r.merged_texts.push(t),
                _ => {}
            }
            r.merged_texts.extend(moved.merged_texts);
            r.remined |= moved.remined;
        }
        for c in index.values_mut() {
            *c = drain.resolve(*c);
        }
        Catalog { drain, info, index, dropped: stats.dropped }
    }

    /// The template of a masked message (its key): the one it was counted
    /// in, else the stored one it fits (without changing it).
    pub fn lookup(&self, key: &str) -> Option<u32> {
        if let Some(&c) = self.index.get(key) {
            return Some(c);
        }
        let (service, masked) = key.split_once(KEY_SEP).unwrap_or(("", key));
        self.drain.find(service, masked).map(|c| self.drain.resolve(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (service, message, second, line) of a small vocabulary, so that
    /// messages share words and templates merge.
    fn records() -> impl Strategy<Value = Vec<(u8, Vec<u8>, i64, u32)>> {
        proptest::collection::vec(
            (0u8..2, proptest::collection::vec(0u8..12, 1..6), 0i64..50, 1u32..1000),
            1..80,
        )
    }

    const WORDS: [&str; 12] = [
        "user",
        "alice",
        "bob",
        "from",
        "10.0.0.1",
        "port",
        "4242",
        "failed",
        "ok",
        "blk_123456",
        "closed",
        "[preauth]",
    ];

    fn stats_of(recs: &[(u8, Vec<u8>, i64, u32)]) -> SigStats {
        let mut s = SigStats::default();
        for (svc, words, sec, line) in recs {
            let msg: Vec<&str> = words.iter().map(|w| WORDS[*w as usize]).collect();
            let at = LineRef { source: 0, line: *line, index: 0 };
            s.add(["a", "b"][*svc as usize], &msg.join(" "), *sec, at);
        }
        s
    }

    fn listing(c: &Catalog) -> Vec<(String, String, Option<Stat>)> {
        let mut v: Vec<_> = c
            .info
            .iter()
            .enumerate()
            .map(|(i, info)| {
                let cl = c.drain.cluster(i as u32);
                (cl.service.to_string(), cl.text().to_string(), info.stat)
            })
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }

    proptest! {
        /// Counted by any number of threads, in any order, the same
        /// records give the same templates, counts and first lines.
        #[test]
        fn templates_do_not_depend_on_how_records_were_counted(
            recs in records(),
            cut in 0usize..80,
            reverse in any::<bool>(),
        ) {
            let whole = Catalog::build(Vec::new(), stats_of(&recs), crate::template::DEFAULT_CAP);
            let cut = cut.min(recs.len());
            let (a, b) = recs.split_at(cut);
            let (mut first, second) = (stats_of(a), stats_of(b));
            let merged = if reverse {
                let mut s = second;
                s.merge(first);
                s
            } else {
                first.merge(second);
                first
            };
            let parts = Catalog::build(Vec::new(), merged, crate::template::DEFAULT_CAP);
            prop_assert_eq!(listing(&whole), listing(&parts));
            // Every message has the template it was counted in.
            for (key, c) in &whole.index {
                prop_assert_eq!(whole.lookup(key), Some(*c));
            }
        }
    }

    #[test]
    fn seeds_are_known_and_grow_more_general() {
        let seed = |text: &str, first: i64| Seed {
            service: "sshd".into(),
            text: text.into(),
            stat: Stat { count: 3, first, last: 20, example: (first, LineRef::default()) },
            remine: false,
        };
        let seeds = vec![seed("Invalid user alice from <*>", 10)];
        let mut stats = SigStats::default();
        stats.add("sshd", "Invalid user bob from 10.0.0.9", 100, LineRef::default());
        stats.add("sshd", "Connection closed by 10.0.0.9", 101, LineRef::default());
        let c = Catalog::build(seeds, stats, 10);
        let known = c.lookup("sshd\u{1f}Invalid user bob from <*>").unwrap();
        assert_eq!(c.drain.cluster(known).text(), "Invalid user <*> from <*>");
        assert_eq!(c.info[known as usize].first(), Some(10));
        assert_eq!(
            c.info[known as usize].stored_text.as_deref(),
            Some("Invalid user alice from <*>")
        );
        let new = c.lookup("sshd\u{1f}Connection closed by <*>").unwrap();
        assert_eq!(c.info[new as usize].first(), Some(101));
        // A message never counted is found in the stored templates.
        assert_eq!(c.lookup("sshd\u{1f}Invalid user carol from <*>"), Some(known));
        assert_eq!(c.lookup("other\u{1f}Invalid user carol from <*>"), None);
    }

    /// Stored templates of a word that takes a few values stay apart until
    /// a fifth value makes them one: its row takes what they counted, and
    /// the others' rows are to go.
    #[test]
    fn stored_kinds_become_one_template_at_the_fifth_value() {
        let seed = |state: &str, first: i64| Seed {
            service: "nova".into(),
            text: format!("instance <*> VM {state} (Lifecycle Event)"),
            stat: Stat { count: 3, first, last: 20, example: (first, LineRef::default()) },
            remine: false,
        };
        let seeds = vec![seed("Paused", 10), seed("Resumed", 12)];
        let mut stats = SigStats::default();
        for (i, state) in ["Started", "Stopped"].iter().enumerate() {
            stats.add(
                "nova",
                &format!("instance 7 VM {state} (Lifecycle Event)"),
                100 + i as i64,
                LineRef::default(),
            );
        }
        let c = Catalog::build(seeds.clone(), stats, 10);
        let paused = c.lookup("nova\u{1f}instance <*> VM Paused (Lifecycle Event)").unwrap();
        let started = c.lookup("nova\u{1f}instance <*> VM Started (Lifecycle Event)").unwrap();
        assert_ne!(paused, started, "four values: four kinds");
        assert_eq!(c.info[started as usize].first(), Some(100));
        let mut stats = SigStats::default();
        for (i, state) in ["Started", "Stopped", "Crashed"].iter().enumerate() {
            stats.add(
                "nova",
                &format!("instance 7 VM {state} (Lifecycle Event)"),
                100 + i as i64,
                LineRef::default(),
            );
        }
        let c = Catalog::build(seeds, stats, 10);
        let one = c.lookup("nova\u{1f}instance <*> VM Crashed (Lifecycle Event)").unwrap();
        assert_eq!(c.lookup("nova\u{1f}instance <*> VM Paused (Lifecycle Event)"), Some(one));
        assert_eq!(c.drain.cluster(one).text(), "instance <*> VM <*> (Lifecycle Event)");
        let info = &c.info[one as usize];
        assert_eq!(info.first(), Some(10));
        assert_eq!(info.total().unwrap().count, 3 + 3 + 3);
        assert_eq!(info.stored_text.as_deref(), Some("instance <*> VM Paused (Lifecycle Event)"));
        assert_eq!(info.merged_texts, ["instance <*> VM Resumed (Lifecycle Event)"]);
    }
}
