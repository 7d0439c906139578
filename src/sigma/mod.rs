//! Sigma rules (the SigmaHQ format): read from YAML files, their
//! `detection` compiled once ([`detection`], [`condition`]), tried on an
//! [`Event`]; which LogTrack sources a rule's `logsource` names, and which
//! of its fields a source can supply ([`source`]).
//!
//! A file that cannot be read as a rule gives one error naming the file
//! and the key; a rule that LogTrack cannot run as written (an unknown or
//! unsupported modifier, an aggregation) is loaded as
//! unsupported, with the reason, so that nothing silently never matches.

pub mod condition;
pub mod correlation;
pub mod detection;
pub mod prefilter;
pub mod record;
pub mod set;
pub mod source;

use condition::Cond;
use detection::{FieldTest, Pattern, Placement, Search, SearchTest, TestKind, Value};
use serde_norway::Value as Yaml;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// A rule file larger than this is refused (SigmaHQ's largest are a few
/// kilobytes).
pub const MAX_RULE_BYTES: u64 = 1 << 20;

/// The values of placeholders (`%name%`) that the `expand` modifier
/// replaces: from the job's `placeholders`.
pub type Placeholders = std::collections::BTreeMap<String, Vec<String>>;

/// A field's value as an event gives it.
#[derive(Debug, Clone)]
pub enum FieldValue<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl FieldValue<'_> {
    /// The value as text (numbers in their usual decimal form).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            FieldValue::Str(s) => Cow::Borrowed(s),
            FieldValue::Int(n) => Cow::Owned(n.to_string()),
            FieldValue::Float(f) => Cow::Owned(f.to_string()),
            FieldValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            FieldValue::Null => Cow::Borrowed(""),
        }
    }
}

/// What a rule reads of a log event.
pub trait Event {
    /// A field by its Sigma name (`None`: the event has no such field).
    fn field(&self, name: &str) -> Option<FieldValue<'_>>;
    /// The line as logged, for keywords.
    fn line(&self) -> &str;
    /// Whether the value of every field the event has is in its line as
    /// it is (then what is in a field is in the line).
    fn fields_in_line(&self) -> bool {
        false
    }
}

/// A JSON object as an event: Sigma field names are dotted paths into it
/// (`userIdentity.type`); the line is its JSON text.
pub struct JsonEvent {
    pub value: serde_json::Value,
    pub text: String,
}

impl JsonEvent {
    pub fn new(value: serde_json::Value) -> JsonEvent {
        let text = value.to_string();
        JsonEvent { value, text }
    }
}

impl Event for JsonEvent {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        json_field(&self.value, name)
    }

    fn line(&self) -> &str {
        &self.text
    }
}

/// The Sigma field `name` of a JSON object: a key that holds dots itself
/// is tried whole first, then the dotted path; a path through a list reads
/// each of its items (the values found, as a JSON list's text).
pub fn json_field<'v>(value: &'v serde_json::Value, name: &str) -> Option<FieldValue<'v>> {
    let found = match value.get(name) {
        Some(x) => Cow::Borrowed(x),
        None => path(value, name)?,
    };
    Some(match found {
        Cow::Borrowed(v) => json_value(v),
        Cow::Owned(v) => json_value(&v).into_owned(),
    })
}

fn path<'v>(value: &'v serde_json::Value, name: &str) -> Option<Cow<'v, serde_json::Value>> {
    let (head, rest) = match name.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (name, None),
    };
    if let serde_json::Value::Array(items) = value {
        let found: Vec<serde_json::Value> =
            items.iter().filter_map(|i| path(i, name)).map(Cow::into_owned).collect();
        return (!found.is_empty()).then_some(Cow::Owned(serde_json::Value::Array(found)));
    }
    let v = value.get(head)?;
    match rest {
        None => Some(Cow::Borrowed(v)),
        Some(r) => path(v, r),
    }
}

fn json_value(v: &serde_json::Value) -> FieldValue<'_> {
    match v {
        serde_json::Value::Null => FieldValue::Null,
        serde_json::Value::Bool(b) => FieldValue::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => FieldValue::Int(i),
            None => FieldValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => FieldValue::Str(Cow::Borrowed(s)),
        // An object or a list compares as its JSON text.
        other => FieldValue::Str(Cow::Owned(other.to_string())),
    }
}

impl FieldValue<'_> {
    /// The same value, owning its text.
    pub fn into_owned(self) -> FieldValue<'static> {
        match self {
            FieldValue::Str(s) => FieldValue::Str(Cow::Owned(s.into_owned())),
            FieldValue::Int(n) => FieldValue::Int(n),
            FieldValue::Float(f) => FieldValue::Float(f),
            FieldValue::Bool(b) => FieldValue::Bool(b),
            FieldValue::Null => FieldValue::Null,
        }
    }
}

/// A rule's `logsource`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

/// A Sigma rule as read.
#[derive(Debug)]
pub struct Rule {
    pub path: PathBuf,
    pub id: String,
    pub title: String,
    pub status: Option<String>,
    pub level: Option<String>,
    pub author: Option<String>,
    pub description: Option<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub tags: Vec<String>,
    pub logsource: LogSource,
    /// The `name` other rules (correlations) may refer to it by.
    pub name: Option<String>,
    /// Compiled, or why LogTrack cannot run it (a correlation rule has
    /// none: it runs over the rules it names).
    pub detection: Result<Detection, String>,
    /// A correlation rule's `correlation`, or why LogTrack cannot run it.
    pub correlation: Option<Result<correlation::Correlation, String>>,
}

/// A compiled `detection`.
#[derive(Debug)]
pub struct Detection {
    pub searches: Vec<Search>,
    pub condition: Cond,
}

impl Detection {
    pub fn matches(&self, e: &dyn Event) -> bool {
        // Each search at most once per event (on the stack for most rules).
        let n = self.searches.len();
        let (mut small, mut large) = ([None; 16], Vec::new());
        let memo: &mut [Option<bool>] = if n <= small.len() {
            &mut small[..n]
        } else {
            large.resize(n, None);
            &mut large
        };
        self.condition.eval(&mut |i| *memo[i].get_or_insert_with(|| self.searches[i].matches(e)))
    }

    /// The fields its searches read (keywords read the line: `None`).
    pub fn fields(&self) -> Vec<Option<&str>> {
        let mut out: Vec<Option<&str>> = Vec::new();
        for s in &self.searches {
            match &s.test {
                SearchTest::Keywords { .. } => out.push(None),
                SearchTest::Maps(maps) => {
                    for t in maps.iter().flatten() {
                        out.push(Some(&t.field));
                        if let TestKind::FieldRef { other, .. } = &t.kind {
                            out.push(Some(other));
                        }
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

impl Rule {
    /// Whether it matches `e` (an unsupported rule matches nothing).
    pub fn matches(&self, e: &dyn Event) -> bool {
        self.detection.as_ref().is_ok_and(|d| d.matches(e))
    }
}

fn text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn texts(v: Option<&Yaml>) -> Vec<String> {
    match v {
        Some(Yaml::Sequence(items)) => items.iter().filter_map(text).collect(),
        Some(v) => text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Reads the one rule of `source` (the contents of `path`). `Err`: the
/// file is no Sigma rule (the message names the key).
pub fn parse_rule(path: &Path, source: &str) -> Result<Rule, String> {
    let mut rules = parse_rules(path, source)?;
    if rules.len() > 1 {
        return Err(format!("{} rules in one file, where one was expected", rules.len()));
    }
    Ok(rules.remove(0))
}

/// Reads the rules of `source` (the contents of `path`): one per YAML
/// document, as a correlation and the rules it names are written
/// together. `Err`: the file is no Sigma rule (the message names the
/// document, when there are several, and the key).
pub fn parse_rules(path: &Path, source: &str) -> Result<Vec<Rule>, String> {
    parse_rules_with(path, source, &Placeholders::new())
}

/// [`parse_rules`], with the values of the placeholders `expand` reads.
pub fn parse_rules_with(path: &Path, source: &str, ph: &Placeholders) -> Result<Vec<Rule>, String> {
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(source) {
        let v = <Yaml as serde::Deserialize>::deserialize(doc)
            .map_err(|e| format!("invalid YAML: {e}"))?;
        docs.push(v);
    }
    if docs.is_empty() {
        return Err("the file is empty".into());
    }
    let several = docs.len() > 1;
    docs.iter()
        .enumerate()
        .map(|(i, doc)| {
            parse_doc(path, doc, ph).map_err(|e| {
                if several {
                    format!("document {}: {e}", i + 1)
                } else {
                    e
                }
            })
        })
        .collect()
}

fn parse_doc(path: &Path, doc: &Yaml, ph: &Placeholders) -> Result<Rule, String> {
    let Yaml::Mapping(m) = doc else {
        return Err("expected a mapping (title, logsource, detection …)".into());
    };
    let get = |k: &str| m.get(Yaml::String(k.into()));
    if let Some(action) = get("action").and_then(text) {
        return Err(format!(
            "action: {action:?}: Sigma 1 rule collections are not supported (write each rule whole)"
        ));
    }
    let title = get("title").and_then(text).ok_or("missing key \"title\"")?;
    let id = get("id").and_then(text).unwrap_or_else(|| title.clone());
    let mut logsource = LogSource::default();
    let correlation = match get("correlation") {
        Some(c) => Some(correlation::parse(c)?),
        None => None,
    };
    match get("logsource") {
        Some(Yaml::Mapping(ls)) => {
            let f = |k: &str| {
                ls.get(Yaml::String(k.into())).and_then(text).map(|s| s.to_ascii_lowercase())
            };
            logsource =
                LogSource { product: f("product"), service: f("service"), category: f("category") };
        }
        Some(_) => return Err("logsource: expected a mapping".into()),
        None if correlation.is_some() => {}
        None => return Err("missing key \"logsource\"".into()),
    }
    let detection = if correlation.is_some() {
        Err("a correlation rule: it runs over the rules it names".into())
    } else {
        match get("detection") {
            Some(Yaml::Mapping(d)) => compile(d, ph)?,
            Some(_) => return Err("detection: expected a mapping".into()),
            None => return Err("missing key \"detection\"".into()),
        }
    };
    Ok(Rule {
        path: path.to_path_buf(),
        id,
        title,
        status: get("status").and_then(text),
        level: get("level").and_then(text),
        author: get("author").and_then(text),
        description: get("description").and_then(text),
        references: texts(get("references")),
        falsepositives: texts(get("falsepositives")),
        tags: texts(get("tags")),
        logsource,
        name: get("name").and_then(text),
        detection,
        correlation,
    })
}

/// Compiles a `detection`. The outer `Err` is a broken rule (a missing
/// condition, a regex that does not compile, a condition naming a missing
/// identifier); the inner one a rule LogTrack does not run as written.
fn compile(
    d: &serde_norway::Mapping,
    ph: &Placeholders,
) -> Result<Result<Detection, String>, String> {
    let mut searches = Vec::new();
    let mut unsupported: Option<String> = None;
    let mut condition = None;
    for (k, v) in d {
        let Some(name) = text(k) else { return Err("detection: a key that is no name".into()) };
        if name == "condition" {
            condition = Some(v);
            continue;
        }
        if name == "timeframe" {
            continue;
        }
        match search(v, ph) {
            Ok(test) => searches.push(Search { name, test }),
            Err(Why::Broken(e)) => return Err(format!("detection.{name}: {e}")),
            Err(Why::Unsupported(e)) => {
                unsupported.get_or_insert(format!("detection.{name}: {e}"));
                searches.push(Search { name, test: SearchTest::Maps(Vec::new()) });
            }
        }
    }
    let names: Vec<String> = searches.iter().map(|s| s.name.clone()).collect();
    let condition = match condition {
        None => return Err("detection: missing key \"condition\"".into()),
        Some(Yaml::String(c)) => condition::parse(c, &names),
        Some(Yaml::Sequence(cs)) => cs
            .iter()
            .map(|c| {
                text(c)
                    .ok_or("expected a string".to_string())
                    .and_then(|c| condition::parse(&c, &names))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Cond::Or),
        Some(_) => return Err("detection.condition: expected a string or a list of them".into()),
    };
    let condition = match condition {
        Ok(c) => c,
        Err(e) if e.contains("aggregations") => {
            return Ok(Err(format!("detection.condition: {e}")))
        }
        Err(e) => return Err(format!("detection.condition: {e}")),
    };
    Ok(match unsupported {
        Some(why) => Err(why),
        None => Ok(Detection { searches, condition }),
    })
}

enum Why {
    Broken(String),
    Unsupported(String),
}

fn search(v: &Yaml, ph: &Placeholders) -> Result<SearchTest, Why> {
    match v {
        // `'|all': [...]`: keywords with modifiers.
        Yaml::Mapping(m)
            if m.len() == 1
                && m.keys().next().and_then(text).is_some_and(|k| k.starts_with('|')) =>
        {
            let (k, v) = m.iter().next().expect("one key");
            let mods = text(k).unwrap_or_default();
            let mut all = false;
            for m in mods.split('|').skip(1) {
                match m {
                    "all" => all = true,
                    "contains" => {}
                    other => {
                        return Err(Why::Unsupported(format!(
                            "keywords with the modifier {other:?} are not supported"
                        )))
                    }
                }
            }
            match search(v, ph)? {
                SearchTest::Keywords { values, .. } => Ok(SearchTest::Keywords { values, all }),
                SearchTest::Maps(_) => {
                    Err(Why::Broken(format!("{mods}: expected a list of keywords")))
                }
            }
        }
        Yaml::Mapping(m) => Ok(SearchTest::Maps(vec![map(m, ph)?])),
        Yaml::Sequence(items) if items.iter().all(|i| matches!(i, Yaml::Mapping(_))) => {
            let maps = items
                .iter()
                .map(|i| match i {
                    Yaml::Mapping(m) => map(m, ph),
                    _ => unreachable!("all are mappings"),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SearchTest::Maps(maps))
        }
        Yaml::Sequence(items) => {
            let mut values = Vec::new();
            for i in items {
                let Some(t) = text(i) else {
                    return Err(Why::Broken(
                        "a keyword list holds something that is no string".into(),
                    ));
                };
                let p = if matches!(i, Yaml::String(_)) {
                    Pattern::new(detection::pieces(&t), Placement::Inside, false)
                } else {
                    Pattern::literal(&t, Placement::Inside, false)
                };
                values.push(Value::Str(p));
            }
            Ok(SearchTest::Keywords { values, all: false })
        }
        Yaml::String(_) | Yaml::Number(_) => search(&Yaml::Sequence(vec![v.clone()]), ph),
        _ => Err(Why::Broken("expected a mapping of fields, a list of them, or keywords".into())),
    }
}

/// One map of field tests (all must hold).
fn map(m: &serde_norway::Mapping, ph: &Placeholders) -> Result<Vec<FieldTest>, Why> {
    let mut out = Vec::new();
    for (k, v) in m {
        let key = text(k).ok_or_else(|| Why::Broken("a key that is no field name".into()))?;
        out.push(field_test(&key, v, ph).map_err(|w| match w {
            Why::Broken(e) => Why::Broken(format!("{key}: {e}")),
            Why::Unsupported(e) => Why::Unsupported(format!("{key}: {e}")),
        })?);
    }
    Ok(out)
}

fn field_test(key: &str, v: &Yaml, ph: &Placeholders) -> Result<FieldTest, Why> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("").to_string();
    let mods: Vec<&str> = parts.collect();
    let (mut placement, mut all, mut cased) = (Placement::Whole, false, false);
    let (mut re, mut re_flags, mut cidr, mut exists, mut fieldref) =
        (false, String::new(), false, false, false);
    let mut cmp = None;
    let mut transforms: Vec<&str> = Vec::new();
    let mut expand = false;
    for m in &mods {
        match *m {
            "contains" => placement = Placement::Inside,
            "startswith" => placement = Placement::Start,
            "endswith" => placement = Placement::End,
            "all" => all = true,
            "cased" => cased = true,
            "re" => re = true,
            "i" | "m" | "s" if re => re_flags.push_str(m),
            "cidr" => cidr = true,
            "exists" => exists = true,
            "fieldref" => fieldref = true,
            "gt" => cmp = Some(detection::Cmp::Gt),
            "gte" => cmp = Some(detection::Cmp::Gte),
            "lt" => cmp = Some(detection::Cmp::Lt),
            "lte" => cmp = Some(detection::Cmp::Lte),
            "base64" | "base64offset" | "windash" => transforms.push(m),
            "expand" => expand = true,
            "utf16le" | "utf16be" | "utf16" | "wide" => {
                return Err(Why::Unsupported(format!("the modifier {m:?} is not supported")))
            }
            other => return Err(Why::Broken(format!("unknown modifier {other:?}"))),
        }
    }
    if field.is_empty() {
        // `'|all':` keywords.
        return Err(Why::Unsupported("keywords with modifiers are not supported".into()));
    }
    let items: Vec<&Yaml> = match v {
        Yaml::Sequence(items) => items.iter().collect(),
        v => vec![v],
    };
    if exists {
        return match items.as_slice() {
            [Yaml::Bool(b)] => Ok(FieldTest { field, kind: TestKind::Exists(*b) }),
            _ => Err(Why::Broken("exists takes true or false".into())),
        };
    }
    if fieldref {
        let others: Vec<String> = items.iter().filter_map(|i| text(i)).collect();
        let [other] = others.as_slice() else {
            return Err(Why::Unsupported("fieldref with several fields is not supported".into()));
        };
        return Ok(FieldTest {
            field,
            kind: TestKind::FieldRef { other: other.clone(), placement, cased },
        });
    }
    // `expand`: each `%name%` is each of the job's values for it.
    let expanded: Vec<Yaml>;
    let items: Vec<&Yaml> = if expand {
        let mut out = Vec::new();
        for item in items {
            match item {
                Yaml::String(s) => {
                    out.extend(expand_placeholders(s, ph)?.into_iter().map(Yaml::String))
                }
                other => out.push(other.clone()),
            }
        }
        expanded = out;
        expanded.iter().collect()
    } else {
        items
    };
    let mut values = Vec::new();
    for item in items {
        if matches!(item, Yaml::Null) {
            values.push(Value::Null);
            continue;
        }
        let Some(s) = text(item) else {
            return Err(Why::Broken("a value that is no string, number or null".into()));
        };
        if re {
            let flags = if re_flags.is_empty() { String::new() } else { format!("(?{re_flags})") };
            let r = regex::RegexBuilder::new(&format!("{flags}{s}"))
                .size_limit(1 << 20)
                .build()
                .map_err(|e| Why::Broken(format!("the regex does not compile: {e}")))?;
            values.push(Value::Re(r));
        } else if cidr {
            let c =
                s.parse().map_err(|e| Why::Broken(format!("{s:?} is no address block: {e}")))?;
            values.push(Value::Cidr(c));
        } else if let Some(cmp) = cmp {
            let n = s.parse::<f64>().map_err(|_| Why::Broken(format!("{s:?} is no number")))?;
            values.push(Value::Num(cmp, n));
        } else {
            // Transforms make plain strings (no wildcards) of the value.
            let mut forms: Vec<(String, bool)> =
                vec![(s.clone(), !matches!(item, Yaml::String(_)))];
            for t in &transforms {
                forms = match *t {
                    "base64" => forms
                        .into_iter()
                        .map(|(f, _)| (detection::base64(f.as_bytes()), true))
                        .collect(),
                    "base64offset" => forms
                        .into_iter()
                        .flat_map(|(f, _)| detection::base64_offsets(&f))
                        .map(|f| (f, true))
                        .collect(),
                    _ => forms
                        .into_iter()
                        .flat_map(|(f, lit)| {
                            detection::windash(&f).into_iter().map(move |w| (w, lit))
                        })
                        .collect(),
                };
            }
            for (f, literal) in forms {
                let p = if literal {
                    Pattern::literal(&f, placement, cased)
                } else {
                    Pattern::new(detection::pieces(&f), placement, cased)
                };
                values.push(Value::Str(p));
            }
        }
    }
    Ok(FieldTest { field, kind: TestKind::Values { values, all } })
}

/// `s` with each `%name%` (letters, digits, `_`) replaced by each of its
/// values (every combination). A placeholder without values makes the rule
/// unsupported, naming it.
fn expand_placeholders(s: &str, ph: &Placeholders) -> Result<Vec<String>, Why> {
    let mut out = vec![String::new()];
    let (mut rest, mut from) = (s, 0);
    while let Some(start) = rest[from..].find('%').map(|i| i + from) {
        let Some(len) = rest[start + 1..].find('%') else { break };
        let name = &rest[start + 1..start + 1 + len];
        // A name is letters, digits and `_` (`100% %x%`: the first % is text).
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            from = start + 1;
            continue;
        }
        let values = ph.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            Why::Unsupported(format!(
                "the placeholder %{name}% has no values (give them in the job rule's `placeholders`)"
            ))
        })?;
        let before = &rest[..start];
        out = out
            .iter()
            .flat_map(|o| values.iter().map(move |v| format!("{o}{before}{v}")))
            .collect();
        if out.len() > 10_000 {
            return Err(Why::Broken("expand makes more than 10000 values".into()));
        }
        rest = &rest[start + len + 2..];
        from = 0;
    }
    for o in &mut out {
        o.push_str(rest);
    }
    Ok(out)
}

/// The rule files under `paths` (files, folders searched recursively, or
/// globs), `.yml` and `.yaml`, in a stable order; other files are ignored.
pub fn rule_files(paths: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            walk(path, &mut out).map_err(|e| format!("{p}: {e}"))?;
        } else if path.is_file() {
            out.push(path.to_path_buf());
        } else {
            let found: Vec<PathBuf> =
                glob::glob(p).map_err(|e| format!("{p}: {e}"))?.filter_map(Result::ok).collect();
            if found.is_empty() {
                return Err(format!("{p}: no such file, folder or match"));
            }
            for f in found {
                if f.is_dir() {
                    walk(&f, &mut out).map_err(|e| format!("{}: {e}", f.display()))?;
                } else if is_yaml(&f) {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "yml" || e == "yaml")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_yaml(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads every rule of `files`: the rules, and one error per file that is
/// no rule (naming the file).
pub fn load(files: &[PathBuf], ph: &Placeholders) -> (Vec<Rule>, Vec<String>) {
    let (mut rules, mut errors) = (Vec::new(), Vec::new());
    for f in files {
        let read = std::fs::metadata(f).and_then(|m| {
            if m.len() > MAX_RULE_BYTES {
                Err(std::io::Error::other(format!(
                    "{} bytes: larger than a rule can be ({MAX_RULE_BYTES})",
                    m.len()
                )))
            } else {
                std::fs::read_to_string(f)
            }
        });
        match read.map_err(|e| e.to_string()).and_then(|t| parse_rules_with(f, &t, ph)) {
            Ok(rs) => rules.extend(rs),
            Err(e) => errors.push(format!("{}: {e}", f.display())),
        }
    }
    (rules, errors)
}

#[cfg(test)]
mod tests;
