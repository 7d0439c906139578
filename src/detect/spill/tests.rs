//! Spilling: the same counts whatever the budget, the runs and parts
//! read back whole, filtered and in order.

use super::super::{Counts, LineRef};
use proptest::prelude::*;
use std::sync::Arc;

#[test]
fn spill_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let f = super::temp_file().unwrap();
    let mode = f.metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a spill file is readable by its owner only: {mode:o}");
}

fn total(g: &Flat) -> u64 {
    g.1.iter().map(|(_, n, _)| u64::from(*n)).sum()
}

fn counts(events: &[(u8, i64, u32)], budget: Option<usize>, parts: usize) -> Counts {
    // Counted in `parts` pieces, absorbed in order, as threads do.
    let mut out = Counts { budget, ..Counts::default() };
    for piece in events.chunks(events.len().div_ceil(parts).max(1)) {
        let mut c = Counts { budget, ..Counts::default() };
        for (g, s, line) in piece {
            c.add(&format!("group-{g}"), *s, LineRef { source: 0, line: *line, index: 0 });
        }
        out.absorb(c);
    }
    out
}

/// A group's seconds as (second, count, evidence).
type Flat = (String, Vec<(i64, u32, Vec<LineRef>)>);

fn flat(c: Counts) -> Vec<Flat> {
    c.sorted()
        .map(|(n, secs)| {
            (n, secs.iter().map(|(s, b)| (*s, b.count, b.evidence().to_vec())).collect())
        })
        .collect()
}

/// The groups of every part in turn, as detection reads them (each
/// part from every run's slice of it and from memory).
fn flat_parts(c: Counts) -> Vec<Flat> {
    flat_parts_of(c, 0)
}

/// The same, reading of the runs only groups whose totals may reach
/// `min` records.
fn flat_parts_of(c: Counts, min: u64) -> Vec<Flat> {
    let (runs, memory, totals) = c.drain();
    let filter = totals.filter(|_| min > 0).map(|t| super::Filter { totals: Arc::new(t), min });
    super::parts(runs, memory, filter)
        .into_iter()
        .flat_map(|p| p.groups())
        .map(|(n, secs)| {
            (n, secs.iter().map(|(s, b)| (*s, b.count, b.evidence().to_vec())).collect())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn spilled_counts_read_in_parts_equal_counts_in_memory(
        events in proptest::collection::vec((0u8..200, 0i64..300, 1u32..10_000), 0..3000),
        budget in 1usize..4000,
        parts in 1usize..5,
    ) {
        let memory = flat(counts(&events, Some(usize::MAX), 1));
        let spilled = counts(&events, Some(budget), parts);
        // Every group lands in one part, and the parts in turn are the order.
        prop_assert_eq!(&flat_parts(spilled), &memory);
        let mut names: Vec<&String> = memory.iter().map(|g| &g.0).collect();
        names.dedup();
        prop_assert_eq!(names.len(), memory.len());
    }

    #[test]
    fn groups_passed_over_by_their_totals_could_not_reach_the_minimum(
        events in proptest::collection::vec((0u8..200, 0i64..300, 1u32..10_000), 0..3000),
        budget in 1usize..4000,
        parts in 1usize..5,
        min in 1u64..40,
    ) {
        let memory = flat(counts(&events, Some(usize::MAX), 1));
        let read = flat_parts_of(counts(&events, Some(budget), parts), min);
        // Every group read is read whole, and every group that has
        // `min` records is read.
        let mut expected = memory.iter();
        for g in &read {
            prop_assert_eq!(Some(g), expected.by_ref().find(|m| m.0 == g.0));
        }
        for m in memory.iter().filter(|m| total(m) >= min) {
            prop_assert!(read.contains(m), "{} with {} records was passed over", m.0, total(m));
        }
    }

    #[test]
    fn spilled_counts_equal_counts_in_memory(
        events in proptest::collection::vec((0u8..40, 0i64..300, 1u32..10_000), 0..3000),
        budget in 1usize..4000,
        parts in 1usize..5,
    ) {
        let memory = counts(&events, Some(usize::MAX), 1);
        let spilled = counts(&events, Some(budget), parts);
        prop_assert_eq!(memory.is_empty(), spilled.is_empty());
        prop_assert_eq!(flat(memory), flat(spilled));
    }
}

#[test]
fn counting_goes_on_in_memory_when_a_spill_fails() {
    // A spill file that cannot be written (opened read-only).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("read-only");
    std::fs::write(&path, b"").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut c = Counts {
        budget: Some(600),
        file: super::SpillFile { file: Some((std::sync::Arc::new(file), 0)) },
        ..Counts::default()
    };
    let mut all = Counts { budget: Some(usize::MAX), ..Counts::default() };
    // Groups interleaved within each second, so that after the failed
    // spill's sort a group's newest entry holds another group.
    for s in 0..60i64 {
        for (k, g) in ["a", "b", "c", "d"].iter().enumerate() {
            let line = (s * 4 + k as i64) as u32 + 1;
            for _ in 0..2 {
                c.add(g, s / 2, LineRef { source: 0, line, index: 0 });
                all.add(g, s / 2, LineRef { source: 0, line, index: 0 });
            }
        }
    }
    assert!(c.no_spill && c.runs.is_empty());
    assert_eq!(flat(c), flat(all));
}

#[test]
fn small_groups_are_passed_over_and_large_ones_read_whole() {
    // 5,000 groups of one record and 3 of 300 (one record a second,
    // spread over every run), spilled many times by two threads.
    let mut events: Vec<(String, i64, u32)> =
        (0..5_000).map(|i| (format!("once-{i}"), i64::from(i % 600), i as u32)).collect();
    for k in 0..3 {
        events.extend((0..300).map(|i| (format!("busy-{k}"), i64::from(i * 2), 10_000 + i as u32)));
    }
    events.sort_by_key(|e| e.1);
    let count = |budget: usize| {
        let mut out = Counts { budget: Some(budget), ..Counts::default() };
        for piece in events.chunks(1_000) {
            let mut c = Counts { budget: Some(budget), ..Counts::default() };
            for (g, s, line) in piece {
                c.add(g, *s, LineRef { source: 0, line: *line, index: 0 });
            }
            out.absorb(c);
        }
        out
    };
    let spilled = count(20_000);
    assert!(spilled.runs.len() > 10, "{} runs", spilled.runs.len());
    let read = flat_parts_of(spilled, 300);
    let mut names: Vec<&str> = read.iter().map(|g| g.0.as_str()).collect();
    names.sort();
    assert_eq!(names, ["busy-0", "busy-1", "busy-2"]);
    let all = flat(count(usize::MAX));
    for g in &read {
        assert_eq!(Some(g), all.iter().find(|m| m.0 == g.0));
        assert_eq!(total(g), 300);
    }
}

#[test]
fn a_run_gives_back_what_was_written_at_the_limits_of_every_number() {
    use super::super::Bucket;
    let bucket = |count: u32, lines: &[u32]| {
        let mut b = Bucket::default();
        for &l in lines {
            b.add(LineRef { source: u32::MAX, line: l, index: l / 2 });
        }
        b.count = count;
        b
    };
    let secs = vec![
        (i64::MIN, bucket(1, &[u32::MAX])),
        (-1, bucket(u32::MAX, &[0, 1])),
        (0, bucket(2, &[7, 300])),
        (i64::MAX, bucket(3, &[1 << 31, u32::MAX])),
    ];
    let groups = [(3u64, "é\u{1f}x".to_string()), (u64::MAX, String::new())];
    let mut file = super::SpillFile::default();
    let run = file
        .append(|w| {
            for (h, name) in &groups {
                w.group(*h, name.as_bytes(), &secs)?;
            }
            Ok(())
        })
        .unwrap();
    let back: Vec<super::Group> = super::Groups::new(vec![run], Vec::new()).collect();
    let expected: Vec<super::Group> =
        groups.iter().map(|(_, n)| (n.clone(), secs.clone())).collect();
    assert_eq!(back, expected);
}

#[test]
fn a_run_of_many_blocks_is_read_whole_and_filtered() {
    use super::super::Bucket;
    // 60,000 groups: many blocks in every part.
    let mut groups: Vec<(u64, super::Group)> = (0..60_000u32)
        .map(|i| {
            let name = format!("client-{i}");
            let mut b = Bucket::default();
            for k in 0..(i % 7 + 1) {
                b.add(LineRef { source: 0, line: i * 10 + k, index: 0 });
            }
            (super::order(&name), (name, vec![(i64::from(i), b)]))
        })
        .collect();
    groups.sort_by(|a, b| (a.0, &a.1 .0).cmp(&(b.0, &b.1 .0)));
    let mut file = super::SpillFile::default();
    let mut totals = super::Totals::default();
    let run = file
        .append(|w| {
            for (h, (name, secs)) in &groups {
                totals.add(*h, u64::from(secs[0].1.count));
                w.group(*h, name.as_bytes(), secs)?;
            }
            Ok(())
        })
        .unwrap();
    let all: Vec<super::Group> = super::Groups::new(vec![run.clone()], Vec::new()).collect();
    let expected: Vec<super::Group> = groups.iter().map(|(_, g)| g.clone()).collect();
    assert_eq!(all, expected);

    // Most of the bodies wanted (read in order) and few (one by one).
    let totals = Arc::new(totals);
    for min in [3, 8] {
        let filter = super::Filter { totals: totals.clone(), min };
        let read: Vec<super::Group> = super::parts(vec![run.clone()], Vec::new(), Some(filter))
            .into_iter()
            .flat_map(|p| p.groups())
            .collect();
        let wanted: Vec<&super::Group> =
            expected.iter().filter(|g| u64::from(g.1[0].1.count) >= min).collect();
        assert!(read.len() >= wanted.len() && read.len() < expected.len(), "{}", read.len());
        let mut rest = expected.iter();
        for g in &read {
            assert_eq!(Some(g), rest.by_ref().find(|e| e.0 == g.0));
        }
        for w in wanted {
            assert!(read.contains(w), "{} was passed over", w.0);
        }
    }
}

#[test]
fn totals_bound_every_group_and_saturate() {
    let mut t = super::Totals::default();
    t.add(7, 5);
    t.add(7, 6);
    assert!(t.may_reach(7, 11) && !t.may_reach(7, 12));
    // Another hash in the same cell only raises the bound.
    let same_cell = 7 ^ 1;
    assert_eq!(super::Totals::cell(7), super::Totals::cell(same_cell));
    t.add(same_cell, 1);
    assert!(t.may_reach(7, 12) && t.may_reach(same_cell, 12));
    // A cell whose sum no longer fits bounds nothing.
    t.add(7, u64::MAX);
    assert!(t.may_reach(7, u64::MAX));
    let mut u = super::Totals::default();
    u.add(7, 1);
    u.absorb(&t);
    assert!(u.may_reach(7, u64::MAX));
    assert!(!u.may_reach(u64::MAX, 1));
}

#[test]
fn many_spills_are_merged_into_few_runs() {
    let events: Vec<(u8, i64, u32)> =
        (0..40_000).map(|i| ((i % 97) as u8, (i / 7) as i64, i as u32)).collect();
    let c = counts(&events, Some(200), 1);
    assert!(!c.runs.is_empty() && c.runs.len() <= super::MAX_RUNS + 1, "{} runs", c.runs.len());

    assert_eq!(flat(c), flat(counts(&events, Some(usize::MAX), 1)));
}
