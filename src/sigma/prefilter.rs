//! What a set of Sigma rules must see before any of them is tried: for
//! each rule, texts of which at least one must occur (in any case) in a
//! given field, or in the line, whenever the rule matches. All such texts
//! of one field are found in one pass over its value (Aho-Corasick), and
//! only the rules whose texts were found are tried in full; a rule with no
//! such texts (a regex, a number, `not` alone) is always tried. The result
//! is exactly that of trying every rule: the filter only skips rules that
//! cannot match.

use super::condition::Cond;
use super::detection::{FieldTest, Search, SearchTest, TestKind, Value};
use super::Event;
use aho_corasick::AhoCorasick;

/// Where a text must be: a field (its Sigma name) or the line (`None`).
type Place = Option<String>;

/// Texts any one of which must be found (lower case, ASCII), with where.
type Needs = Vec<(Place, String)>;

/// The longest literal text a value must contain, if it is a text
/// pattern of ASCII (a value that is not, or holds none, gives `None`).
fn literal(v: &Value) -> Option<String> {
    match v {
        Value::Str(p) => p.longest_literal().filter(|l| !l.is_empty() && l.is_ascii()),
        _ => None,
    }
}

/// Any of `values` (`all`: every one) must match at `place`.
fn values_need(place: &Place, values: &[Value], all: bool) -> Option<Needs> {
    if all {
        // Each value is needed: the longest literal of any one will do.
        let best = values.iter().filter_map(literal).max_by_key(String::len)?;
        return Some(vec![(place.clone(), best)]);
    }
    values.iter().map(|v| literal(v).map(|l| (place.clone(), l))).collect()
}

fn test_need(t: &FieldTest) -> Option<Needs> {
    match &t.kind {
        TestKind::Values { values, all } => values_need(&Some(t.field.clone()), values, *all),
        TestKind::Exists(_) | TestKind::FieldRef { .. } => None,
    }
}

/// The better of two alternatives: the one whose shortest text is longest
/// (rarer), then the one with fewer texts.
fn better(a: Needs, b: Needs) -> Needs {
    let key = |n: &Needs| (n.iter().map(|(_, l)| l.len()).min().unwrap_or(0), usize::MAX - n.len());
    if key(&b) > key(&a) {
        b
    } else {
        a
    }
}

/// All of `parts` hold: any one's needs are the whole's.
fn all_of(parts: impl Iterator<Item = Option<Needs>>) -> Option<Needs> {
    parts.flatten().reduce(better)
}

/// Any of `parts` holds: the needs of all of them, if each has some.
fn any_of(parts: impl Iterator<Item = Option<Needs>>) -> Option<Needs> {
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
    }
    (!out.is_empty()).then_some(out)
}

fn search_need(s: &Search) -> Option<Needs> {
    match &s.test {
        SearchTest::Maps(maps) => any_of(maps.iter().map(|m| all_of(m.iter().map(test_need)))),
        SearchTest::Keywords { values, all } => values_need(&None, values, *all),
    }
}

fn cond_need(c: &Cond, searches: &[Search]) -> Option<Needs> {
    match c {
        Cond::Search(i) => search_need(&searches[*i]),
        Cond::Not(_) => None,
        Cond::And(cs) => all_of(cs.iter().map(|c| cond_need(c, searches))),
        Cond::Or(cs) => any_of(cs.iter().map(|c| cond_need(c, searches))),
    }
}

/// One pass over one place's value, for rules of one kind (`group`).
struct Scan {
    place: Place,
    ac: AhoCorasick,
    /// Per pattern of `ac`: the text's number.
    texts: Vec<usize>,
}

/// The filter of a set of rules.
#[derive(Default)]
pub struct Prefilter {
    scans: Vec<Scan>,
    /// Per text: its scan.
    scan_of: Vec<usize>,
    /// Per text: the rules that need it.
    rules_of: Vec<Vec<usize>>,
    /// Per rule: the scans that look for its texts (`None`: the rule is
    /// always tried).
    needs: Vec<Option<Vec<usize>>>,
}

/// What one event holds of the filter's texts, found as they are asked
/// for.
impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prefilter({} scans, {} texts)", self.scans.len(), self.scan_of.len())
    }
}

pub struct Found {
    /// Per scan: not done yet, done, or its value was not ASCII (then any
    /// text may be there: its rules are tried).
    state: Vec<u8>,
    /// A bit per rule: one of its texts was found.
    rules: Vec<u64>,
}

const NOT_SCANNED: u8 = 0;
const SCANNED: u8 = 1;
const ANY: u8 = 2;

impl Prefilter {
    /// The filter of `rules`, each given with its detection's searches and
    /// condition and the group of rules that read fields alike (a kind of
    /// source).
    pub fn new<'a>(rules: impl Iterator<Item = (usize, &'a [Search], &'a Cond)>) -> Prefilter {
        let mut places: Vec<(usize, Place, Vec<String>)> = Vec::new();
        let mut text_ids: Vec<(usize, usize)> = Vec::new(); // (place, pattern)
        let mut needs = Vec::new();
        let mut rules_of: Vec<Vec<usize>> = Vec::new();
        for (group, searches, cond) in rules {
            let Some(need) = cond_need(cond, searches) else {
                needs.push(None);
                continue;
            };
            let mut ids = Vec::new();
            for (place, text) in need {
                let p = match places.iter().position(|(g, pl, _)| *g == group && *pl == place) {
                    Some(p) => p,
                    None => {
                        places.push((group, place, Vec::new()));
                        places.len() - 1
                    }
                };
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
                        text_ids.len() - 1
                    }
                };
                ids.push(id);
            }
            ids.sort_unstable();
            ids.dedup();
            let rule = needs.len();
            for &id in &ids {
                if rules_of.len() <= id {
                    rules_of.resize_with(id + 1, Vec::new);
                }
                rules_of[id].push(rule);
            }
            let mut scans: Vec<usize> = ids.iter().map(|&id| text_ids[id].0).collect();
            scans.sort_unstable();
            scans.dedup();
            needs.push(Some(scans));
        }
        let scans = places
            .into_iter()
            .enumerate()
            .map(|(p, (_, place, texts))| Scan {
                place,
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
        let scan_of = text_ids.iter().map(|&(p, _)| p).collect();
        Prefilter { scans, scan_of, rules_of, needs }
    }

    pub fn found(&self) -> Found {
        Found {
            state: vec![NOT_SCANNED; self.scans.len()],
            rules: vec![0; self.needs.len().div_ceil(64)],
        }
    }

    /// Whether rule `rule` (of group `group`) may match `e`: one of its
    /// texts is in `e` (scanning what it has not scanned yet into `found`).
    pub fn may_match(&self, rule: usize, e: &dyn Event, found: &mut Found) -> bool {
        let Some(scans) = &self.needs[rule] else { return true };
        for &s in scans {
            if found.state[s] == NOT_SCANNED {
                found.state[s] = self.scan(s, e, &mut found.rules);
            }
            if found.state[s] == ANY {
                return true;
            }
        }
        found.rules[rule / 64] & (1 << (rule % 64)) != 0
    }

    /// Looks for scan `s`'s texts in `e`, marking the rules that need
    /// those found.
    fn scan(&self, s: usize, e: &dyn Event, rules: &mut [u64]) -> u8 {
        let scan = &self.scans[s];
        let value = match &scan.place {
            None => std::borrow::Cow::Borrowed(e.line()),
            Some(f) => match e.field(f) {
                Some(v) => std::borrow::Cow::Owned(v.text().into_owned()),
                None => return SCANNED,
            },
        };
        if !value.is_ascii() {
            return ANY;
        }
        for m in scan.ac.find_overlapping_iter(value.as_bytes()) {
            for &r in &self.rules_of[scan.texts[m.pattern().as_usize()]] {
                rules[r / 64] |= 1 << (r % 64);
            }
        }
        SCANNED
    }
}
