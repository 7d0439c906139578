//! The Sigma rules a job runs: read from its `path`s, chosen by status,
//! level and tags, each compiled once with the kind of source it applies
//! to. A file that is no rule, or a rule LogTrack cannot run as written,
//! is a problem of its own (one per file, naming it); the other rules run.

use super::record::RecordEvent;
use super::source::{self, Family, Kind, Slot};
use super::{load, rule_files, Rule};
use crate::parse::Record;

/// Sigma's levels, lowest first.
pub const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// Where `level` is in [`LEVELS`].
pub fn level_rank(level: &str) -> Option<usize> {
    LEVELS.iter().position(|l| l.eq_ignore_ascii_case(level))
}

/// Which of the loaded rules run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Statuses run (a rule without one counts as `experimental`).
    pub status: Vec<String>,
    /// The lowest level run (a rule without one counts as `medium`).
    pub level_at_least: Option<usize>,
    /// When not empty, a rule runs if it has one of these tags (or one
    /// below it: `attack.t1078` takes `attack.t1078.004`).
    pub tags: Vec<String>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter { status: vec!["stable".into(), "test".into()], level_at_least: None, tags: vec![] }
    }
}

impl Filter {
    fn takes(&self, r: &Rule) -> bool {
        let status = r.status.as_deref().unwrap_or("experimental");
        let level = r.level.as_deref().and_then(level_rank).unwrap_or(2);
        self.status.iter().any(|s| s.eq_ignore_ascii_case(status))
            && self.level_at_least.is_none_or(|min| level >= min)
            && (self.tags.is_empty()
                || r.tags.iter().any(|t| {
                    self.tags.iter().any(|w| {
                        let (t, w) = (t.to_ascii_lowercase(), w.to_ascii_lowercase());
                        t == w || t.starts_with(&format!("{w}."))
                    })
                }))
    }
}

/// A rule that runs, and the kind of source it reads.
#[derive(Debug)]
pub struct Runnable {
    pub rule: Rule,
    pub kind: Kind,
}

/// Why LogTrack cannot run `r` as written, if it cannot: its detection
/// uses what is not supported, no LogTrack source has its `logsource`, or
/// it reads a field its sources do not have.
pub fn unsupported(r: &Rule) -> Option<String> {
    let ls = &r.logsource;
    match (&r.detection, source::kind(ls)) {
        (Err(why), _) => Some(why.clone()),
        (Ok(_), None) => Some(format!(
            "no LogTrack source has its logsource (product {:?}, service {:?}, category {:?})",
            ls.product, ls.service, ls.category
        )),
        (Ok(d), Some(k)) => d.fields().into_iter().flatten().find_map(|f| k.field(f).err()),
    }
}

/// The rules of a job's `type = "sigma"` rule.
#[derive(Debug, Default)]
pub struct Set {
    pub rules: Vec<Runnable>,
    /// Rule files read.
    pub files: usize,
    /// Rules left out by the filter.
    pub filtered: usize,
    /// One line per file that is no rule or a rule that cannot run,
    /// naming the file.
    pub problems: Vec<String>,
    /// Which rules may match a record, found in one pass per field.
    prefilter: super::prefilter::Prefilter,
}

impl Set {
    /// Reads the rules under `paths` (files, folders, globs). `Err`: a path
    /// names nothing.
    pub fn load(paths: &[String], filter: &Filter) -> Result<Set, String> {
        let files = rule_files(paths)?;
        let (rules, errors) = load(&files);
        let mut set = Set { files: files.len(), problems: errors, ..Set::default() };
        for rule in rules {
            if !filter.takes(&rule) {
                set.filtered += 1;
                continue;
            }
            if let Some(why) = unsupported(&rule) {
                set.problems.push(format!(
                    "{}: {} is not run: {why}",
                    rule.path.display(),
                    rule.id
                ));
                continue;
            }
            if set.rules.iter().any(|r| r.rule.id == rule.id) {
                set.problems.push(format!(
                    "{}: {} is not run: another file has the same id",
                    rule.path.display(),
                    rule.id
                ));
                continue;
            }
            let kind = source::kind(&rule.logsource).expect("checked by unsupported()");
            set.rules.push(Runnable { rule, kind });
        }
        let mut kinds: Vec<&Kind> = Vec::new();
        let groups: Vec<usize> = set
            .rules
            .iter()
            .map(|r| match kinds.iter().position(|k| **k == r.kind) {
                Some(g) => g,
                None => {
                    kinds.push(&r.kind);
                    kinds.len() - 1
                }
            })
            .collect();
        set.prefilter =
            super::prefilter::Prefilter::new(set.rules.iter().zip(groups).map(|(r, g)| {
                let d = r.rule.detection.as_ref().expect("runnable rules compiled");
                (g, d.searches.as_slice(), &d.condition)
            }));
        Ok(set)
    }

    /// The record fields the rules read (besides message, service and user),
    /// and those that tell sources apart.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = source::FAMILY_FIELDS.to_vec();
        // Keywords read the rendered line: every field of the record.
        out.extend(["client_ip", "bytes", "referer", "user_agent", "path"]);
        for r in &self.rules {
            let Ok(d) = &r.rule.detection else { continue };
            for f in d.fields().into_iter().flatten() {
                match r.kind.slot(f) {
                    Some(Slot::Field(k) | Slot::Json(k)) => out.push(k),
                    Some(Slot::PathStem) => out.push("path"),
                    _ => {}
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The rule with this id.
    pub fn find(&self, id: &str) -> Option<&Runnable> {
        self.rules.iter().find(|r| r.rule.id == id)
    }

    /// Calls `hit` with the index of each rule that matches `r`.
    pub fn matches(&self, r: &Record<'_>, mut hit: impl FnMut(usize)) {
        let family = source::family(r);
        if family == Family::Other {
            return;
        }
        let line = std::cell::OnceCell::new();
        let mut found = self.prefilter.found();
        for (i, run) in self.rules.iter().enumerate() {
            if run.kind.applies(family, &r.service) {
                let e = RecordEvent::new(&run.kind, r, &line);
                if self.prefilter.may_match(i, &e, &mut found) && run.rule.matches(&e) {
                    hit(i);
                }
            }
        }
    }
}
