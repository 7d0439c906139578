//! One JSON object (a line of JSON lines) flattened into `(key, value)`
//! pairs in one pass, borrowing every string that holds no escape: nested
//! objects become dotted keys (`{"log":{"level":"warn"}}` is `log.level`),
//! arrays of scalars become lists.
//!
//! Bounds: objects nested deeper than [`MAX_DEPTH`] are kept as their JSON
//! text under the key reached; at most [`MAX_FIELDS`] pairs are kept (the
//! number dropped is in `_dropped_fields`), and at most [`MAX_ITEMS`]
//! elements of an array (`_dropped_items`); serde_json refuses nesting
//! deeper than 128 (a reject). A key given twice keeps its last value, in
//! the place of the first.

use super::Value;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Levels of objects flattened into dotted keys.
pub const MAX_DEPTH: usize = 8;
/// Pairs kept from one object.
pub const MAX_FIELDS: usize = 256;
/// Elements kept from one array.
pub const MAX_ITEMS: usize = 256;

pub type Fields<'a> = Vec<(Cow<'a, str>, Value<'a>)>;

/// Flattens the JSON object `line` into `out`.
pub fn object<'a>(line: &'a [u8], out: &mut Fields<'a>) -> Result<(), String> {
    let start = line.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(line.len());
    if line.get(start) != Some(&b'{') {
        return Err(format!("expected a JSON object, found {}", super::excerpt(&line[start..])));
    }
    let before = out.len();
    match parse_object(line, out) {
        Ok(()) => Ok(()),
        // Text that is not UTF-8 is repaired (U+FFFD), as in every format,
        // not rejected: the repaired pairs are owned.
        Err(e) if std::str::from_utf8(line).is_err() => {
            out.truncate(before);
            let fixed = String::from_utf8_lossy(line).into_owned();
            let mut pairs: Fields<'_> = Vec::new();
            parse_object(fixed.as_bytes(), &mut pairs).map_err(|_| e)?;
            out.extend(
                pairs.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned())),
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn parse_object<'a>(line: &'a [u8], out: &mut Fields<'a>) -> Result<(), String> {
    let mut st = Collector::new(out);
    let mut de = serde_json::Deserializer::from_slice(line);
    de.deserialize_map(ObjVisitor { st: &mut st, prefix: None, depth: 1 })
        .and_then(|()| de.end())
        .map_err(|e| format!("not valid JSON: {e}"))?;
    st.finish();
    Ok(())
}

/// Pairs gathered into a list: a key given twice keeps its last value, at
/// most [`MAX_FIELDS`] are kept.
pub struct Collector<'o, 'a> {
    out: &'o mut Fields<'a>,
    /// One bit per key hash: a set bit means the key may be there already.
    seen: u64,
    dropped: usize,
    dropped_items: usize,
}

impl<'o, 'a> Collector<'o, 'a> {
    pub fn new(out: &'o mut Fields<'a>) -> Self {
        Collector { out, seen: 0, dropped: 0, dropped_items: 0 }
    }

    /// Notes how many pairs (`_dropped_fields`) and array elements
    /// (`_dropped_items`) were dropped, if any.
    pub fn finish(self) {
        if self.dropped > 0 {
            self.out.push((Cow::Borrowed("_dropped_fields"), Value::Int(self.dropped as i64)));
        }
        if self.dropped_items > 0 {
            let n = self.dropped_items as i64;
            self.out.push((Cow::Borrowed("_dropped_items"), Value::Int(n)));
        }
    }

    pub fn push(&mut self, key: Cow<'a, str>, value: Value<'a>) {
        let bit = 1u64 << (key_hash(key.as_bytes()) & 63);
        if self.seen & bit != 0 {
            if let Some(slot) = self.out.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
                return;
            }
        }
        if self.out.len() >= MAX_FIELDS {
            self.dropped += 1;
            return;
        }
        self.seen |= bit;
        self.out.push((key, value));
    }
}

/// A cheap hash of a key (its length and three of its bytes): enough to
/// tell most keys of one object apart, so that a key is compared with the
/// others only when it may be a duplicate.
fn key_hash(b: &[u8]) -> u64 {
    let at = |i: usize| b.get(i).copied().unwrap_or(0) as u64;
    let h = (b.len() as u64).wrapping_mul(0x9E37_79B9)
        ^ at(0).wrapping_mul(0x85EB_CA6B)
        ^ at(b.len().wrapping_sub(1)).wrapping_mul(0xC2B2_AE35)
        ^ at(b.len() / 2).wrapping_mul(0x27D4_EB2F);
    h ^ (h >> 29)
}

/// A key, borrowed when it holds no escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

struct ObjVisitor<'s, 'o, 'a> {
    st: &'s mut Collector<'o, 'a>,
    prefix: Option<Cow<'a, str>>,
    depth: usize,
}

impl<'a> Visitor<'a> for ObjVisitor<'_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'a>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
            let key = match &self.prefix {
                None => k,
                Some(p) => {
                    let mut s = String::with_capacity(p.len() + 1 + k.len());
                    s.push_str(p);
                    s.push('.');
                    s.push_str(&k);
                    Cow::Owned(s)
                }
            };
            map.next_value_seed(ValSeed { st: &mut *self.st, key, depth: self.depth })?;
        }
        Ok(())
    }
}

struct ValSeed<'s, 'o, 'a> {
    st: &'s mut Collector<'o, 'a>,
    key: Cow<'a, str>,
    depth: usize,
}

impl<'a> DeserializeSeed<'a> for ValSeed<'_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for ValSeed<'_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.st.push(self.key, Value::Bool(v));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.st.push(self.key, Value::Int(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        let v = i64::try_from(v).map_or(Value::Float(v as f64), Value::Int);
        self.st.push(self.key, v);
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.st.push(self.key, Value::Float(v));
        Ok(())
    }
    fn visit_borrowed_str<E>(self, v: &'a str) -> Result<(), E> {
        self.st.push(self.key, Value::Str(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.st.push(self.key, Value::Str(Cow::Owned(v.to_string())));
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.st.push(self.key, Value::Str(Cow::Owned(v)));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.st.push(self.key, Value::Null);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_map<M: MapAccess<'a>>(self, map: M) -> Result<(), M::Error> {
        if self.depth >= MAX_DEPTH {
            let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
            self.st.push(self.key, Value::Str(Cow::Owned(v.to_string())));
            return Ok(());
        }
        ObjVisitor { st: self.st, prefix: Some(self.key), depth: self.depth + 1 }.visit_map(map)
    }
    fn visit_seq<S: SeqAccess<'a>>(self, mut seq: S) -> Result<(), S::Error> {
        // The first MAX_ITEMS elements are kept; the rest are skipped
        // without being built.
        let mut items = Vec::new();
        while items.len() < MAX_ITEMS {
            match seq.next_element::<serde_json::Value>()? {
                Some(v) => items.push(v),
                None => break,
            }
        }
        while seq.next_element::<de::IgnoredAny>()?.is_some() {
            self.st.dropped_items += 1;
        }
        let value = if items.iter().all(|i| !i.is_object() && !i.is_array()) {
            Value::List(items.iter().map(scalar).collect())
        } else {
            Value::Str(Cow::Owned(serde_json::Value::Array(items).to_string()))
        };
        self.st.push(self.key, value);
        Ok(())
    }
}

use serde::Deserialize;

fn scalar(v: &serde_json::Value) -> Value<'static> {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int)
        }
        J::String(s) => Value::Str(Cow::Owned(s.clone())),
        J::Array(_) | J::Object(_) => Value::Str(Cow::Owned(v.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(s: &str) -> Result<Vec<(String, Value<'_>)>, String> {
        let mut out = Vec::new();
        object(s.as_bytes(), &mut out)?;
        Ok(out.into_iter().map(|(k, v)| (k.into_owned(), v)).collect())
    }

    #[test]
    fn flattens_and_borrows() {
        let f =
            flat(r#"{"a":1,"b":{"c":"x","d":[1,"y",true]},"e":null,"f":1.5,"g":false}"#).unwrap();
        assert_eq!(
            f,
            vec![
                ("a".into(), Value::Int(1)),
                ("b.c".into(), Value::str("x")),
                (
                    "b.d".into(),
                    Value::List(vec![Value::Int(1), Value::str("y"), Value::Bool(true)])
                ),
                ("e".into(), Value::Null),
                ("f".into(), Value::Float(1.5)),
                ("g".into(), Value::Bool(false)),
            ]
        );
        let line = br#"{"msg":"plain"}"#;
        let mut out = Vec::new();
        object(line, &mut out).unwrap();
        assert!(matches!(out[0].1, Value::Str(Cow::Borrowed(_))));
    }

    #[test]
    fn duplicates_depth_and_size_are_bounded() {
        let f = flat(r#"{"k":1,"j":2,"k":3}"#).unwrap();
        assert_eq!(f, vec![("k".into(), Value::Int(3)), ("j".into(), Value::Int(2))]);
        let deep = format!("{}1{}", r#"{"a":"#.repeat(12), "}".repeat(12));
        let f = flat(&deep).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, "a.a.a.a.a.a.a.a");
        assert_eq!(f[0].1, Value::str(r#"{"a":{"a":{"a":{"a":1}}}}"#));
        let hostile = format!("{}{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
        assert!(flat(&hostile).unwrap_err().contains("recursion limit"));
        let many: String = (0..1000).map(|i| format!("\"k{i}\":{i},")).collect();
        let wide = format!("{{{}\"z\":0}}", many);
        let f = flat(&wide).unwrap();
        assert_eq!(f.len(), MAX_FIELDS + 1);
        let long: String = (0..1000).map(|i| format!("{i},")).collect();
        let line = format!(r#"{{"a":[{long}0],"b":[[1],{long}0]}}"#);
        let g = flat(&line).unwrap();
        assert_eq!(g[0].1, Value::List((0..MAX_ITEMS as i64).map(Value::Int).collect()));
        assert!(
            matches!(&g[1].1, Value::Str(s) if s.starts_with("[[1],0,1,") && s.ends_with(",254]"))
        );
        assert_eq!(
            g[2],
            ("_dropped_items".to_string(), Value::Int(1001 + 1002 - 2 * MAX_ITEMS as i64))
        );
        assert_eq!(
            f.last().unwrap(),
            &("_dropped_fields".to_string(), Value::Int(1001 - MAX_FIELDS as i64))
        );
    }

    #[test]
    fn refuses_what_is_not_one_object() {
        assert!(flat("[1,2]").unwrap_err().contains("expected a JSON object"));
        assert!(flat(r#"{"a":1} x"#).unwrap_err().contains("not valid JSON"));
        assert!(flat(r#"{"a":"#).unwrap_err().contains("not valid JSON"));
        assert!(flat("").unwrap_err().contains("expected a JSON object"));
    }
}
