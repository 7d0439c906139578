//! What a set of Sigma rules must see before any of them is tried: for
//! each rule, clauses of texts, each clause a set of texts of which at
//! least one must occur (in any case) in a given field, or in the line,
//! whenever the rule matches (`a and b`: a clause for each). All such
//! texts of one field are found in one pass over its value
//! (Aho-Corasick), and only the rules all of whose clauses were found are
//! tried in full; a rule with no such texts (a regex, a number, `not`
//! alone) is always tried. The result is exactly that of trying every
//! rule: the filter only skips rules that cannot match.
//!
//! Where a field's value is always in the line its rules' keywords read
//! (an access log's fields are in its rendered line), its texts are looked
//! for in the line, so that a record is scanned once; a record whose value
//! may not be in its line (see [`Event::fields_in_line`]) has those
//! fields scanned too.

use super::condition::Cond;
use super::detection::{FieldTest, Search, SearchTest, TestKind, Value};
use super::Event;
use aho_corasick::AhoCorasick;

/// Where a text must be: a field (its Sigma name) or the line (`None`).
type Place = Option<String>;

/// Texts any one of which must be found (lower case, ASCII), with where.
type Clause = Vec<(Place, String)>;

/// Clauses that must all be found (none: the rule is always tried).
type Needs = Vec<Clause>;

/// The longest literal text a value must contain, if it is a text
/// pattern of ASCII (a value that is not, or holds none, gives `None`).
fn literal(v: &Value) -> Option<String> {
    match v {
        Value::Str(p) => p.longest_literal().filter(|l| !l.is_empty() && l.is_ascii()),
        _ => None,
    }
}

/// Any of `values` (`all`: every one) must match at `place`.
fn values_need(place: &Place, values: &[Value], all: bool) -> Needs {
    if all {
        // Each value is needed: a clause of its literal each.
        return values.iter().filter_map(literal).map(|l| vec![(place.clone(), l)]).collect();
    }
    match values.iter().map(|v| literal(v).map(|l| (place.clone(), l))).collect() {
        Some(clause) => vec![clause],
        None => Vec::new(),
    }
}

fn test_need(t: &FieldTest) -> Needs {
    match &t.kind {
        TestKind::Values { values, all } => values_need(&Some(t.field.clone()), values, *all),
        TestKind::Exists(_) | TestKind::FieldRef { .. } => Vec::new(),
    }
}

/// The clause of `needs` most likely to rule a record out: the one whose
/// shortest text is longest (rarer), then the one with fewer texts.
fn best(needs: Needs) -> Option<Clause> {
    let key =
        |c: &Clause| (c.iter().map(|(_, l)| l.len()).min().unwrap_or(0), usize::MAX - c.len());
    needs.into_iter().max_by_key(key)
}

/// All of `parts` hold: every part's clauses.
fn all_of(parts: impl Iterator<Item = Needs>) -> Needs {
    parts.flatten().collect()
}

/// Any of `parts` holds: one clause of the texts of the best clause of
/// each, if each has one.
fn any_of(parts: impl Iterator<Item = Needs>) -> Needs {
    let mut out = Vec::new();
    for p in parts {
        match best(p) {
            Some(c) => out.extend(c),
            None => return Vec::new(),
        }
    }
    if out.is_empty() {
        Vec::new()
    } else {
        vec![out]
    }
}

fn search_need(s: &Search) -> Needs {
    match &s.test {
        SearchTest::Maps(maps) => any_of(maps.iter().map(|m| all_of(m.iter().map(test_need)))),
        SearchTest::Keywords { values, all } => values_need(&None, values, *all),
    }
}

fn cond_need(c: &Cond, searches: &[Search]) -> Needs {
    match c {
        Cond::Search(i) => search_need(&searches[*i]),
        Cond::Not(_) => Vec::new(),
        Cond::And(cs) => all_of(cs.iter().map(|c| cond_need(c, searches))),
        Cond::Or(cs) => any_of(cs.iter().map(|c| cond_need(c, searches))),
    }
}

/// One pass over one place's value, for rules of one kind (`group`).
struct Scan {
    place: Place,
    /// Fields whose texts are looked for in the line (this scan's place
    /// is the line): scanned themselves when a record's value is not in
    /// its line.
    merged: Vec<String>,
    ac: AhoCorasick,
    /// Per pattern of `ac`: the text's number.
    texts: Vec<usize>,
}

/// The filter of a set of rules.
#[derive(Default)]
pub struct Prefilter {
    scans: Vec<Scan>,
    /// Per text: the clauses it is in.
    clauses_of: Vec<Vec<usize>>,
    /// Per clause: its rule.
    rule_of: Vec<usize>,
    /// Per rule: its clauses.
    clauses: Vec<Vec<usize>>,
    /// Per group of rules: its scans.
    scans_of_group: Vec<Vec<usize>>,
    /// Per scan: its clauses (all found when a value is not ASCII).
    scan_clauses: Vec<Vec<usize>>,
    /// A bit per rule that has no texts: always tried.
    always: Vec<u64>,
}

impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Prefilter({} scans, {} texts, {} clauses)",
            self.scans.len(),
            self.clauses_of.len(),
            self.rule_of.len()
        )
    }
}

/// A bit set on the stack when small.
struct Bits {
    small: [u64; 16],
    large: Vec<u64>,
    words: usize,
}

impl Bits {
    fn new(n: usize) -> Bits {
        let words = n.div_ceil(64);
        let large = if words > 16 { vec![0; words] } else { Vec::new() };
        Bits { small: [0; 16], large, words }
    }

    fn words(&mut self) -> &mut [u64] {
        if self.words > 16 {
            &mut self.large
        } else {
            &mut self.small[..self.words]
        }
    }

    fn set(&mut self, i: usize) {
        self.words()[i / 64] |= 1 << (i % 64);
    }

    fn get(&mut self, i: usize) -> bool {
        self.words()[i / 64] & (1 << (i % 64)) != 0
    }
}

impl Prefilter {
    /// The filter of `rules`, each given with its detection's searches and
    /// condition and the group of rules that read fields alike (a kind of
    /// source). `in_line(group, field)`: whether the field's value is
    /// looked for in the line for that group.
    pub fn new<'a>(
        rules: impl Iterator<Item = (usize, &'a [Search], &'a Cond)>,
        in_line: impl Fn(usize, &str) -> bool,
    ) -> Prefilter {
        // (group, place, texts, fields merged into it)
        let mut places: Vec<(usize, Place, Vec<String>, Vec<String>)> = Vec::new();
        let mut text_ids: Vec<(usize, usize)> = Vec::new(); // (place, pattern)
        let mut clauses_of: Vec<Vec<usize>> = Vec::new();
        let (mut rule_of, mut clauses) = (Vec::new(), Vec::new());
        let mut always_rules = Vec::new();
        let mut groups = 0;
        for (rule, (group, searches, cond)) in rules.enumerate() {
            groups = groups.max(group + 1);
            let mut need = cond_need(cond, searches);
            // A clause with a text of a few letters (`cs-method: GET`) is
            // in most records: it costs more to find than it rules out,
            // when the rule has other clauses.
            if need.len() > 1 {
                let short = |c: &Clause| c.iter().any(|(_, t)| t.len() <= 3);
                if need.iter().any(|c| !short(c)) {
                    need.retain(|c| !short(c));
                }
            }
            clauses.push(Vec::new());
            if need.is_empty() {
                always_rules.push(rule);
                continue;
            }
            for clause in need {
                let c = rule_of.len();
                rule_of.push(rule);
                clauses[rule].push(c);
                for (place, text) in clause {
                    let merged = place.as_ref().filter(|f| in_line(group, f)).cloned();
                    let place = if merged.is_some() { None } else { place };
                    let p = match places.iter().position(|(g, pl, ..)| *g == group && *pl == place)
                    {
                        Some(p) => p,
                        None => {
                            places.push((group, place, Vec::new(), Vec::new()));
                            places.len() - 1
                        }
                    };
                    if let Some(f) = merged {
                        if !places[p].3.contains(&f) {
                            places[p].3.push(f);
                        }
                    }
                    let pattern = match places[p].2.iter().position(|t| *t == text) {
                        Some(i) => i,
                        None => {
                            places[p].2.push(text);
                            places[p].2.len() - 1
                        }
                    };
                    let id = match text_ids.iter().position(|&x| x == (p, pattern)) {
                        Some(id) => id,
                        None => {
                            text_ids.push((p, pattern));
                            clauses_of.push(Vec::new());
                            text_ids.len() - 1
                        }
                    };
                    if !clauses_of[id].contains(&c) {
                        clauses_of[id].push(c);
                    }
                }
            }
        }
        let mut scans_of_group = vec![Vec::new(); groups];
        let mut scan_clauses = Vec::new();
        for (p, (group, ..)) in places.iter().enumerate() {
            scans_of_group[*group].push(p);
            let mut cs: Vec<usize> = (0..text_ids.len())
                .filter(|&id| text_ids[id].0 == p)
                .flat_map(|id| clauses_of[id].iter().copied())
                .collect();
            cs.sort_unstable();
            cs.dedup();
            scan_clauses.push(cs);
        }
        let scans = places
            .into_iter()
            .enumerate()
            .map(|(p, (_, place, texts, merged))| Scan {
                place,
                merged,
                // A DFA: one step per byte of the value, however many texts.
                ac: AhoCorasick::builder()
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .ascii_case_insensitive(true)
                    .build(&texts)
                    .expect("a few thousand short texts build"),
                texts: (0..texts.len())
                    .map(|i| text_ids.iter().position(|&x| x == (p, i)).expect("numbered"))
                    .collect(),
            })
            .collect();
        let mut always = vec![0u64; clauses.len().div_ceil(64)];
        for r in always_rules {
            always[r / 64] |= 1 << (r % 64);
        }
        Prefilter { scans, clauses_of, rule_of, clauses, scans_of_group, scan_clauses, always }
    }

    /// Words of a bit set of the rules.
    pub fn words(&self) -> usize {
        self.always.len()
    }

    /// Sets in `bits` the rules of group `group` that may match `e`: each
    /// of their clauses has a text in it, or they have none (`bits` also
    /// holds rules of other groups that have none: mask them out).
    pub fn candidates(&self, group: usize, e: &dyn Event, bits: &mut [u64]) {
        bits.copy_from_slice(&self.always);
        let mut found = Bits::new(self.rule_of.len());
        let mut touched = Bits::new(self.clauses.len());
        for &s in self.scans_of_group.get(group).map_or(&[][..], Vec::as_slice) {
            let scan = &self.scans[s];
            let mut mark = |c: usize, found: &mut Bits| {
                found.set(c);
                touched.set(self.rule_of[c]);
            };
            let field = scan.place.as_ref().and_then(|f| e.field(f));
            let text = field.as_ref().map(|v| v.text());
            let value = match &scan.place {
                None => Some(e.line()),
                Some(_) => text.as_deref(),
            };
            let mut look = |value: &str, found: &mut Bits| {
                if !value.is_ascii() {
                    for &c in &self.scan_clauses[s] {
                        mark(c, found);
                    }
                    return;
                }
                for m in scan.ac.find_overlapping_iter(value.as_bytes()) {
                    for &c in &self.clauses_of[scan.texts[m.pattern().as_usize()]] {
                        mark(c, found);
                    }
                }
            };
            if let Some(v) = value {
                look(v, &mut found);
            }
            // Merged fields, when a value may not be in this record's line.
            if !scan.merged.is_empty() && !e.fields_in_line() {
                for f in &scan.merged {
                    if let Some(v) = e.field(f) {
                        look(&v.text(), &mut found);
                    }
                }
            }
        }
        each_bit(touched.words(), |r| {
            if self.clauses[r].iter().all(|&c| found.get(c)) {
                bits[r / 64] |= 1 << (r % 64);
            }
        });
    }
}

/// Calls `each` with every set bit's index.
pub fn each_bit(bits: &[u64], mut each: impl FnMut(usize)) {
    for (w, &word) in bits.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            each(w * 64 + word.trailing_zeros() as usize);
            word &= word - 1;
        }
    }
}
