//! The Sigma rules a job runs: read from its `path`s, chosen by status,
//! level and tags, each compiled once with the kind of source it applies
//! to. A file that is no rule, or a rule LogTrack cannot run as written,
//! is a problem of its own (one per file, naming it); the other rules run.

use super::correlation::{Correlation, Kind as Counted};
use super::record::RecordEvent;
use super::source::{self, Family, Kind, Slot};
use super::{load, rule_files, Event, Placeholders, Rule};
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
    /// Whether its matches alert on their own (not when only correlations
    /// run it, unless one says `generate: true`).
    pub alone: bool,
    /// The correlations it counts for: (index in [`Set::correlations`],
    /// its position in that correlation's `rules`).
    pub member_of: Vec<(usize, usize)>,
}

/// A correlation that runs over rules of the set.
#[derive(Debug)]
pub struct Correlated {
    pub rule: Rule,
    pub corr: Correlation,
    /// Per position in `corr.rules`: the index of the rule in
    /// [`Set::rules`], the fields its records hold the group in (one per
    /// `group-by`), and for `value_count` the field counted.
    pub members: Vec<Member>,
}

#[derive(Debug)]
pub struct Member {
    pub rule: usize,
    pub group_fields: Vec<String>,
    pub value_field: Option<String>,
}

/// Why LogTrack cannot run `r` as written, if it cannot: its detection
/// uses what is not supported, no LogTrack source has its `logsource`, or
/// it reads a field its sources do not have. (Whether a correlation's
/// rules can run is found when the set is loaded.)
pub fn unsupported(r: &Rule) -> Option<String> {
    if let Some(c) = &r.correlation {
        return c.as_ref().err().cloned();
    }
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
    pub correlations: Vec<Correlated>,
    /// Rule files read.
    pub files: usize,
    /// Rules left out by the filter.
    pub filtered: usize,
    /// One line per file that is no rule or a rule that cannot run,
    /// naming the file.
    pub problems: Vec<String>,
    /// Which rules may match a record, found in one pass per field.
    prefilter: super::prefilter::Prefilter,
    /// The kinds of source of the rules, each with a bit per rule of it.
    groups: Vec<(Kind, Vec<u64>)>,
}

/// A correlation as loaded: its members as indexes into the loaded rules.
struct Resolved {
    rule: Rule,
    corr: Correlation,
    members: Vec<(usize, Vec<String>, Option<String>)>,
}

impl Set {
    /// Reads the rules under `paths` (files, folders, globs). `Err`: a path
    /// names nothing.
    pub fn load(paths: &[String], filter: &Filter, ph: &Placeholders) -> Result<Set, String> {
        let files = rule_files(paths)?;
        let (rules, errors) = load(&files, ph);
        let mut set = Set { files: files.len(), problems: errors, ..Set::default() };
        let (corrs, base): (Vec<Rule>, Vec<Rule>) =
            rules.into_iter().partition(|r| r.correlation.is_some());
        // The correlations that run, with the rules they run over.
        let mut resolved: Vec<Resolved> = Vec::new();
        for rule in corrs {
            if !filter.takes(&rule) {
                set.filtered += 1;
                continue;
            }
            match resolve(&rule, &base) {
                Ok(members) => {
                    let Some(Ok(corr)) = rule.correlation.clone() else { unreachable!() };
                    resolved.push(Resolved { rule, corr, members });
                }
                Err(why) => set.problems.push(format!(
                    "{}: {} is not run: {why}",
                    rule.path.display(),
                    rule.id
                )),
            }
        }
        let mut at: Vec<Option<usize>> = vec![None; base.len()];
        for (b, rule) in base.into_iter().enumerate() {
            let refs: Vec<&Resolved> =
                resolved.iter().filter(|c| c.members.iter().any(|m| m.0 == b)).collect();
            let takes = filter.takes(&rule);
            if !takes && refs.is_empty() {
                set.filtered += 1;
                continue;
            }
            if let Some(why) = unsupported(&rule) {
                // (A correlation over it was refused when resolved.)
                if takes {
                    set.problems.push(format!(
                        "{}: {} is not run: {why}",
                        rule.path.display(),
                        rule.id
                    ));
                }
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
            // A correlation's rules alert alone where it says `generate`
            // (whatever their own status: the correlation's is what counts).
            let alone = (takes && refs.is_empty()) || refs.iter().any(|c| c.corr.generate);
            let kind = source::kind(&rule.logsource).expect("checked by unsupported()");
            at[b] = Some(set.rules.len());
            set.rules.push(Runnable { rule, kind, alone, member_of: Vec::new() });
        }
        for c in resolved {
            let clash = set.rules.iter().any(|r| r.rule.id == c.rule.id)
                || set.correlations.iter().any(|o| o.rule.id == c.rule.id);
            let members: Option<Vec<Member>> = c
                .members
                .into_iter()
                .map(|(b, group_fields, value_field)| {
                    Some(Member { rule: at[b]?, group_fields, value_field })
                })
                .collect();
            let why = match (&members, clash) {
                (_, true) => "another rule has the same id",
                (None, _) => "a rule it names is not run (another has the same id)",
                (Some(_), false) => "",
            };
            let Some(members) = members.filter(|_| why.is_empty()) else {
                set.problems.push(format!(
                    "{}: {} is not run: {why}",
                    c.rule.path.display(),
                    c.rule.id
                ));
                continue;
            };
            let ci = set.correlations.len();
            for (pos, m) in members.iter().enumerate() {
                set.rules[m.rule].member_of.push((ci, pos));
            }
            set.correlations.push(Correlated { rule: c.rule, corr: c.corr, members });
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
        let words = set.rules.len().div_ceil(64);
        let mut masks = vec![vec![0u64; words]; kinds.len()];
        for (r, &g) in groups.iter().enumerate() {
            masks[g][r / 64] |= 1 << (r % 64);
        }
        let kinds: Vec<Kind> = kinds.into_iter().cloned().collect();
        set.prefilter = super::prefilter::Prefilter::new(
            set.rules.iter().zip(groups).map(|(r, g)| {
                let d = r.rule.detection.as_ref().expect("runnable rules compiled");
                (g, d.searches.as_slice(), &d.condition)
            }),
            |g, field| kinds[g].in_line(field),
        );
        set.groups = kinds.into_iter().zip(masks).collect();
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
        for c in &self.correlations {
            for m in &c.members {
                let kind = &self.rules[m.rule].kind;
                for f in m.group_fields.iter().chain(&m.value_field) {
                    match kind.slot(f) {
                        Some(Slot::Field(k) | Slot::Json(k)) => out.push(k),
                        Some(Slot::PathStem) => out.push("path"),
                        _ => {}
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The rule or correlation with this id.
    pub fn find(&self, id: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .map(|r| &r.rule)
            .chain(self.correlations.iter().map(|c| &c.rule))
            .find(|r| r.id == id)
    }

    /// The correlation with this id.
    pub fn correlation(&self, id: &str) -> Option<&Correlated> {
        self.correlations.iter().find(|c| c.rule.id == id)
    }

    /// Calls `hit` with the index of each rule that matches `r`, and the
    /// record as that rule reads it. Only the rules whose texts are in the
    /// record are tried (see [`super::prefilter`]).
    pub fn matches(&self, r: &Record<'_>, mut hit: impl FnMut(usize, &dyn Event)) {
        let family = source::family(r);
        if family == Family::Other {
            return;
        }
        let line = std::cell::OnceCell::new();
        let words = self.prefilter.words();
        let (mut small, mut large) = ([0u64; 8], Vec::new());
        let bits: &mut [u64] = if words <= small.len() {
            &mut small[..words]
        } else {
            large.resize(words, 0);
            &mut large
        };
        for (g, (kind, mask)) in self.groups.iter().enumerate() {
            if !kind.applies(family, &r.service) {
                continue;
            }
            let e = RecordEvent::new(kind, r, &line);
            self.prefilter.candidates(g, &e, bits);
            for (b, m) in bits.iter_mut().zip(mask) {
                *b &= m;
            }
            super::prefilter::each_bit(bits, |i| {
                if self.rules[i].rule.matches(&e) {
                    hit(i, &e);
                }
            });
        }
    }
}

/// The rules (indexes into `base`) a correlation runs over, each with the
/// fields its records hold the group in and the counted value, or why it
/// cannot run.
#[allow(clippy::type_complexity)]
pub fn resolve<R: std::borrow::Borrow<Rule>>(
    rule: &Rule,
    base: &[R],
) -> Result<Vec<(usize, Vec<String>, Option<String>)>, String> {
    let corr = match &rule.correlation {
        Some(Ok(c)) => c,
        Some(Err(why)) => return Err(why.clone()),
        None => return Err("no correlation".into()),
    };
    let mut out = Vec::new();
    for name in &corr.rules {
        let found: Vec<usize> = (0..base.len())
            .filter(|&i| {
                let b = base[i].borrow();
                b.name.as_deref() == Some(name.as_str()) || b.id == *name
            })
            .collect();
        let b = match found.as_slice() {
            [b] => *b,
            [] => {
                return Err(format!(
                    "correlation.rules: {name:?} names no rule loaded (a correlation over another correlation is not run)"
                ))
            }
            _ => return Err(format!("correlation.rules: {name:?} names several rules")),
        };
        let r = base[b].borrow();
        if let Some(why) = unsupported(r) {
            return Err(format!("correlation.rules: {name:?} is not run: {why}"));
        }
        let kind = source::kind(&r.logsource).expect("checked by unsupported()");
        let group_fields: Vec<String> = corr
            .group_by
            .iter()
            .map(|k| corr.field_of(k, r.name.as_deref(), &r.id).to_string())
            .collect();
        let value_field = match &corr.kind {
            Counted::ValueCount(f) => Some(f.clone()),
            _ => None,
        };
        for f in group_fields.iter().chain(&value_field) {
            if let Err(why) = kind.field(f) {
                return Err(format!("correlation: rule {name:?}: {why}"));
            }
        }
        out.push((b, group_fields, value_field));
    }
    Ok(out)
}
