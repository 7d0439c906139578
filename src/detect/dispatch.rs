//! From rules to counts and back: [`RuleMatch`] (what a rule matches, the
//! one definition, for parsed records and stored rows alike: service
//! filter, `where`, keyword, and the group), [`Tally`] (counts per rule
//! over a run's records), and [`detector`] (a rule's detector by type).

use super::{Alert, Counts, Detector, FinishContext, LineRef, GROUP_SEP};
use crate::config::{GroupKey, Rule, RuleKind};
use crate::expr::{Expr, Name};
use crate::parse::time::TimeSpan;
use crate::parse::{Record, Value};
use memchr::memmem;
use std::sync::Arc;

/// Builds the detector of a rule.
pub fn detector(rule: &Rule) -> Box<dyn Detector> {
    match &rule.kind {
        RuleKind::KeywordThreshold { threshold, window, .. }
        | RuleKind::RepeatedMessage { threshold, window, .. }
        | RuleKind::UserThreshold { threshold, window, .. }
        | RuleKind::RateSpike { threshold, window } => {
            Box::new(super::window::WindowDetector::new(rule.clone(), *threshold, window.secs()))
        }
        RuleKind::Inactivity { max_idle } => {
            Box::new(super::inactivity::InactivityDetector::new(rule.clone(), max_idle.secs()))
        }
        RuleKind::ZscoreAnomaly { .. } => {
            Box::new(super::zscore::ZscoreDetector::new(rule.clone()))
        }
        RuleKind::Ratio { .. } => Box::new(super::ratio::RatioDetector::new(rule.clone())),
        RuleKind::Percentile { .. } => {
            Box::new(super::percentile::PercentileDetector::new(rule.clone()))
        }
        RuleKind::NewTemplate { .. } => {
            Box::new(super::novelty::NewTemplateDetector::new(rule.clone()))
        }
        RuleKind::NewValue { .. } => Box::new(super::novelty::NewValueDetector::new(rule.clone())),
        RuleKind::Sigma { min_count, window, .. } => {
            Box::new(super::window::WindowDetector::new(rule.clone(), *min_count, window.secs()))
        }
    }
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
    /// `sigma`: a record counts once in the group of each Sigma rule it
    /// matches (see [`Tally::observe`]).
    sigma: Option<Arc<crate::sigma::set::Set>>,
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
                // (A matcher of alerts reads no record.)
                Name::Label(_) => {}
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
            sigma: match &rule.kind {
                RuleKind::Sigma { rules, .. } => Some(Arc::clone(&rules.set)),
                _ => None,
            },
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
                Some((sec << super::sketch::BITS) | super::sketch::bucket(v))
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
        if let Some(set) = &self.sigma {
            (r.message, r.user, r.host) = (true, true, true);
            for k in set.fields() {
                r.field(k);
            }
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

/// The groups a match of the set's rule `j` on `e` counts in: the rule's
/// own (its id, then the job rule's group `key`), when it alerts alone,
/// and for each correlation over it: the correlation's id, `key`, the
/// values of its `group-by` and, for `value_count`, the value counted or,
/// for `temporal`, the rule's position. A record without a value the
/// correlation groups or counts by does not count for it.
fn sigma_groups(
    set: &crate::sigma::set::Set,
    j: usize,
    e: &dyn crate::sigma::Event,
    key: &str,
    mut count: impl FnMut(&str),
) {
    use crate::sigma::correlation::Kind;
    use crate::sigma::FieldValue;
    let run = &set.rules[j];
    let mut group = String::with_capacity(run.rule.id.len() + 1 + key.len());
    let start = |group: &mut String, id: &str| {
        group.clear();
        push_value(group, Some(id));
        if !key.is_empty() {
            group.push(GROUP_SEP);
            group.push_str(key);
        }
    };
    if run.alone {
        start(&mut group, &run.rule.id);
        count(&group);
    }
    let value = |group: &mut String, f: &str| match e.field(f) {
        None | Some(FieldValue::Null) => false,
        Some(v) => {
            group.push(GROUP_SEP);
            push_value(group, Some(&v.text()))
        }
    };
    'corr: for &(c, pos) in &run.member_of {
        let c = &set.correlations[c];
        let m = &c.members[pos];
        start(&mut group, &c.rule.id);
        for f in &m.group_fields {
            if !value(&mut group, f) {
                continue 'corr;
            }
        }
        match &c.corr.kind {
            Kind::EventCount => {}
            Kind::ValueCount(_) => {
                if !m.value_field.as_deref().is_some_and(|f| value(&mut group, f)) {
                    continue;
                }
            }
            Kind::Temporal | Kind::TemporalOrdered => {
                group.push(GROUP_SEP);
                group.push_str(&pos.to_string());
            }
        }
        count(&group);
    }
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
            if !m.in_range(sec) || !m.project(r, &mut self.key) {
                continue;
            }
            if let Some(set) = &m.sigma {
                let (key, counts) = (self.key.as_str(), &mut self.per_rule[i]);
                set.matches(r, |j, e| sigma_groups(set, j, e, key, |g| counts.add(g, sec, at)));
            } else if let Some(slot) = m.slot(r, sec) {
                self.per_rule[i].add(&self.key, slot, at);
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
