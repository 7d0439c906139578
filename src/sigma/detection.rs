//! A Sigma rule's `detection`: its named search identifiers (selections of
//! fields, or keyword lists), compiled once into matchers, and tried on an
//! [`Event`].
//!
//! Per the Sigma specification: strings match case-insensitively (unless
//! `cased`) and whole (unless `contains`, `startswith`, `endswith`); `*`
//! and `?` are wildcards, `\` escapes only `*`, `?` and `\` (any other
//! backslash is itself); a list of values is any of them (all of them with
//! `all`); a list of maps is any of them; a map is all of its fields. A
//! field that is absent matches nothing but `null` and `exists: false`; an
//! empty string is a value, not null.

use super::{Event, FieldValue};
use std::borrow::Cow;

/// One search identifier: its name in the condition, and what it tests.
#[derive(Debug)]
pub struct Search {
    pub name: String,
    pub test: SearchTest,
}

#[derive(Debug)]
pub enum SearchTest {
    /// Any of these maps holds (each map: all of its field tests).
    Maps(Vec<Vec<FieldTest>>),
    /// Keywords over the whole line as logged: any of them (all, with
    /// `|all`).
    Keywords { values: Vec<Value>, all: bool },
}

/// A field and what its value must be.
#[derive(Debug)]
pub struct FieldTest {
    pub field: String,
    pub kind: TestKind,
}

#[derive(Debug)]
pub enum TestKind {
    /// Any (or, with `all`, every) value matches.
    Values { values: Vec<Value>, all: bool },
    /// `exists: true|false`.
    Exists(bool),
    /// `fieldref`: the same as another field's value (with `startswith`,
    /// `endswith`, `contains`: placed so within it).
    FieldRef { other: String, placement: Placement, cased: bool },
}

/// How a string is placed in the value it must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Whole,
    Start,
    End,
    Inside,
}

/// A value a field is compared with.
#[derive(Debug)]
pub enum Value {
    /// A string pattern (wildcards compiled).
    Str(Pattern),
    /// `null` (or `~`): the field is absent or null.
    Null,
    Re(regex::Regex),
    Cidr(crate::net::Cidr),
    /// `gt`, `gte`, `lt`, `lte`.
    Num(Cmp, f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A string with wildcards, compiled: literal parts (lower case unless
/// `cased`) between `*` and `?`.
#[derive(Debug, Clone)]
pub struct Pattern {
    cased: bool,
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    /// Anything else: a sequence of pieces.
    Glob(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Lit(String),
    /// `*`: any text.
    Any,
    /// `?`: one character.
    One,
}

/// The pieces of a Sigma string: `*` and `?` are wildcards, `\*`, `\?`
/// and `\\` their literal selves, any other `\` a backslash.
pub fn pieces(s: &str) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                let p = if c == '*' { Piece::Any } else { Piece::One };
                // `**` is `*`.
                if !(p == Piece::Any && out.last() == Some(&Piece::Any)) {
                    out.push(p);
                }
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

/// Lower case as the match compares (Unicode's simple lower case).
fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

impl Pattern {
    /// A pattern of `pieces` (see [`pieces`]) placed as `placement` says.
    pub fn new(mut p: Vec<Piece>, placement: Placement, cased: bool) -> Pattern {
        if matches!(placement, Placement::End | Placement::Inside) && p.first() != Some(&Piece::Any)
        {
            p.insert(0, Piece::Any);
        }
        if matches!(placement, Placement::Start | Placement::Inside)
            && p.last() != Some(&Piece::Any)
        {
            p.push(Piece::Any);
        }
        if !cased {
            for piece in &mut p {
                if let Piece::Lit(l) = piece {
                    *l = fold(l).into_owned();
                }
            }
        }
        let shape = match p.as_slice() {
            [] => Shape::Exact(String::new()),
            [Piece::Any] => Shape::Prefix(String::new()),
            [Piece::Lit(l)] => Shape::Exact(l.clone()),
            [Piece::Lit(l), Piece::Any] => Shape::Prefix(l.clone()),
            [Piece::Any, Piece::Lit(l)] => Shape::Suffix(l.clone()),
            [Piece::Any, Piece::Lit(l), Piece::Any] => Shape::Contains(l.clone()),
            _ => Shape::Glob(p),
        };
        Pattern { cased, shape }
    }

    /// A plain string placed so, with no wildcards (keywords' numbers,
    /// encoded values).
    pub fn literal(s: &str, placement: Placement, cased: bool) -> Pattern {
        let p = if s.is_empty() { Vec::new() } else { vec![Piece::Lit(s.to_string())] };
        Pattern::new(p, placement, cased)
    }

    /// The longest run of literal text the pattern holds (lower case
    /// unless `cased`): any value it matches contains it, in some case.
    pub fn longest_literal(&self) -> Option<String> {
        match &self.shape {
            Shape::Exact(l) | Shape::Prefix(l) | Shape::Suffix(l) | Shape::Contains(l) => {
                Some(l.clone())
            }
            Shape::Glob(p) => p
                .iter()
                .filter_map(|x| match x {
                    Piece::Lit(l) => Some(l),
                    _ => None,
                })
                .max_by_key(|l| l.len())
                .cloned(),
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        if !self.cased && value.is_ascii() {
            // No allocation for the usual text: ASCII compares fold case in
            // place (the pattern's literals are lower case already).
            return match &self.shape {
                Shape::Exact(l) => value.eq_ignore_ascii_case(l),
                Shape::Prefix(l) => {
                    value.len() >= l.len()
                        && value.as_bytes()[..l.len()].eq_ignore_ascii_case(l.as_bytes())
                }
                Shape::Suffix(l) => {
                    value.len() >= l.len()
                        && value.as_bytes()[value.len() - l.len()..]
                            .eq_ignore_ascii_case(l.as_bytes())
                }
                Shape::Contains(l) => contains_folded(value.as_bytes(), l.as_bytes()),
                Shape::Glob(p) => glob(p, &value.to_ascii_lowercase()),
            };
        }
        let v = if self.cased { Cow::Borrowed(value) } else { fold(value) };
        match &self.shape {
            Shape::Exact(l) => *v == **l,
            Shape::Prefix(l) => v.starts_with(l.as_str()),
            Shape::Suffix(l) => v.ends_with(l.as_str()),
            Shape::Contains(l) => memchr::memmem::find(v.as_bytes(), l.as_bytes()).is_some(),
            Shape::Glob(p) => glob(p, &v),
        }
    }
}

/// Whether ASCII `hay` holds `needle` (lower case) in any case: the
/// candidates are where the needle's first byte is, in either case.
fn contains_folded(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return true };
    if hay.len() < needle.len() {
        return false;
    }
    let last = hay.len() - needle.len();
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), &hay[..=last])
        .any(|i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

/// Whether `s` matches the pieces (`*` backtracks to the last star only:
/// linear for patterns of literal runs).
fn glob(p: &[Piece], s: &str) -> bool {
    // (piece index, text byte offset) to resume at after the last `*`.
    let mut star: Option<(usize, usize)> = None;
    let (mut i, mut at) = (0usize, 0usize);
    loop {
        if i == p.len() {
            if at == s.len() {
                return true;
            }
        } else {
            match &p[i] {
                Piece::Any => {
                    star = Some((i + 1, at));
                    i += 1;
                    continue;
                }
                Piece::One => {
                    if let Some(c) = s[at..].chars().next() {
                        at += c.len_utf8();
                        i += 1;
                        continue;
                    }
                }
                Piece::Lit(l) => {
                    if s[at..].starts_with(l.as_str()) {
                        at += l.len();
                        i += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: the last `*` takes one more character.
        match star {
            Some((si, sat)) if sat < s.len() => {
                let c = s[sat..].chars().next().expect("not at the end");
                star = Some((si, sat + c.len_utf8()));
                (i, at) = (si, sat + c.len_utf8());
            }
            _ => return false,
        }
    }
}

impl Value {
    fn matches(&self, v: &FieldValue<'_>) -> bool {
        match (self, v) {
            (Value::Null, FieldValue::Null) => true,
            (Value::Null, _) | (_, FieldValue::Null) => false,
            (Value::Str(p), v) => p.matches(&v.text()),
            (Value::Re(r), v) => r.is_match(&v.text()),
            (Value::Cidr(c), v) => v.text().trim().parse().is_ok_and(|ip| c.contains(ip)),
            (Value::Num(cmp, n), v) => v.text().trim().parse::<f64>().is_ok_and(|x| match cmp {
                Cmp::Gt => x > *n,
                Cmp::Gte => x >= *n,
                Cmp::Lt => x < *n,
                Cmp::Lte => x <= *n,
            }),
        }
    }
}

impl FieldTest {
    pub fn matches(&self, e: &dyn Event) -> bool {
        let got = e.field(&self.field);
        match &self.kind {
            TestKind::Exists(want) => {
                got.as_ref().is_some_and(|v| !matches!(v, FieldValue::Null)) == *want
            }
            TestKind::Values { values, all } => {
                let v = got.unwrap_or(FieldValue::Null);
                if *all {
                    values.iter().all(|x| x.matches(&v))
                } else {
                    values.iter().any(|x| x.matches(&v))
                }
            }
            TestKind::FieldRef { other, placement, cased } => {
                let (Some(a), Some(b)) = (got, e.field(other)) else { return false };
                if matches!(a, FieldValue::Null) || matches!(b, FieldValue::Null) {
                    return false;
                }
                Pattern::literal(&b.text(), *placement, *cased).matches(&a.text())
            }
        }
    }
}

impl Search {
    pub fn matches(&self, e: &dyn Event) -> bool {
        match &self.test {
            SearchTest::Maps(maps) => maps.iter().any(|m| m.iter().all(|t| t.matches(e))),
            SearchTest::Keywords { values, all } => {
                let line = FieldValue::Str(Cow::Borrowed(e.line()));
                if *all {
                    values.iter().all(|v| v.matches(&line))
                } else {
                    values.iter().any(|v| v.matches(&line))
                }
            }
        }
    }
}

/// Base64 of `b` (standard alphabet, padded).
pub fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `base64offset`: the three encodings of `s` at each offset within a
/// base64 stream, cut to the characters that do not depend on what is
/// around it (as the specification's reference does).
pub fn base64_offsets(s: &str) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut b = vec![b' '; i];
            b.extend_from_slice(s.as_bytes());
            let enc = base64(&b);
            let end = enc.len() - END[(s.len() + i) % 3];
            enc.get(START[i]..end).unwrap_or("").to_string()
        })
        .collect()
}

/// `windash`: every way of writing a command-line switch's dash (`-`, `/`,
/// en dash, em dash, horizontal bar) where `s` writes `-` or `/` before a
/// word (at most 4 places; more are refused by the caller).
pub fn windash(s: &str) -> Vec<String> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let chars: Vec<char> = s.chars().collect();
    let places: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            matches!(chars[i], '-' | '/')
                && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
                && chars.get(i + 1).is_some_and(|c| c.is_alphanumeric() || *c == '_')
        })
        .collect();
    let mut out = vec![chars.clone()];
    for &p in places.iter().take(4) {
        out = out
            .into_iter()
            .flat_map(|v| {
                DASHES.iter().map(move |d| {
                    let mut w = v.clone();
                    w[p] = *d;
                    w
                })
            })
            .collect();
    }
    out.into_iter().map(|v| v.into_iter().collect()).collect()
}
