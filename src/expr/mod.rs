//! `where` expressions: a small filter language over the normalized record,
//! parsed once when a job loads and evaluated by the same code over parsed
//! records and over rows read back from the database.
//!
//! ```text
//! expr      := or
//! or        := and ("or" and)*
//! and       := not ("and" not)*
//! not       := "not" not | "(" expr ")" | test
//! test      := name "exists"
//!            | name ("=" | "!=" | "<" | "<=" | ">" | ">=") value
//!            | name ("^=" | "$=" | "contains") value
//!            | name ("~" | "!~") string            (regex, linear time)
//!            | name ["not"] "in" (list | cidr)
//! list      := "[" value ("," value)* [","] "]"   (values and CIDRs)
//! name      := ts | service | host | severity | message | user
//!            | client_ip | fields.<key> | fields."<key>"
//! value     := "text" | 'text' | number | bare-word
//! ```
//!
//! Matchers of alerts (silences, inhibition, a receiver's `match`) use the
//! same grammar over an alert's labels instead (`Expr::parse_labels`):
//! `rule`, `job`, `service`, `severity` (by order: `low < medium < high <
//! critical`) and `group.<key>` / `group."<key>"`.
//!
//! A number literal compares numerically with values that are numbers (or
//! text that reads as one); a text literal compares the value's text, byte
//! by byte. `severity` compares by order (`trace < debug < info < warn <
//! error < fatal`), `ts` by instant (an RFC 3339 literal or epoch seconds).
//! A test on a missing (or null) value is false; `!=`, `!~` and `not in`
//! are the negations of `=`, `~` and `in`, so they hold for it. A test on a
//! list holds when it holds for one of its items.

use crate::net::Cidr;
use crate::parse::{Record, Severity, Timestamp, Value};
use memchr::memmem;
use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;
use winnow::ascii::multispace0;
use winnow::combinator::{alt, cut_err, delimited, eof, opt, preceded, separated, terminated};
use winnow::error::{ContextError, ErrMode, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::token::{one_of, take_till, take_while};

/// A parsed `where` expression, shown as written.
#[derive(Clone)]
pub struct Expr {
    source: String,
    root: Node,
    /// Over an alert's labels rather than a record.
    labels: bool,
}

/// An alert's labels, as matchers read them.
#[derive(Clone, Copy, Debug)]
pub struct Labels<'a> {
    pub rule: &'a str,
    pub job: &'a str,
    /// The rule's service, or the group's `service`.
    pub service: Option<&'a str>,
    /// One of [`ALERT_SEVERITIES`].
    pub severity: &'a str,
    pub group: &'a std::collections::BTreeMap<String, String>,
}

/// Alert severities, in order (as `config::AlertSeverity` has them).
pub const ALERT_SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// What a test of a matcher reads of an alert's labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Label {
    Rule,
    Job,
    Service,
    Severity,
    Group(String),
}

thread_local! {
    /// Parsing a matcher of labels (see [`Expr::parse_labels`]).
    static LABELS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

#[derive(Clone, Debug)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Test(Name, Test),
}

/// What a test reads of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Name {
    Ts,
    Service,
    Host,
    Severity,
    Message,
    User,
    /// `fields.client_ip`, else `fields.source_ip` (as in `group_by`).
    ClientIp,
    Field(String),
    /// An alert's label, in a matcher.
    Label(Label),
}

/// The names that are not `fields.<key>`.
pub const NAMES: [&str; 7] = ["ts", "service", "host", "severity", "message", "user", "client_ip"];

#[derive(Clone, Debug)]
enum Test {
    Exists,
    Cmp(Ordering, bool, Lit),
    StartsWith(String),
    EndsWith(String),
    Contains(Box<memmem::Finder<'static>>),
    Regex(Box<regex::Regex>),
    In(Vec<Member>),
}

/// A literal, typed for the name it is compared with.
#[derive(Clone, Debug)]
enum Lit {
    Num(f64),
    Text(String),
    Severity(Severity),
    Time(i64, u32),
}

#[derive(Clone, Debug)]
enum Member {
    Lit(Lit),
    Cidr(Cidr),
}

/// A problem in an expression: what, where (column, from 1, in
/// characters), and a likely fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub message: String,
    pub column: usize,
    pub hint: Option<String>,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.message, self.column)?;
        if let Some(h) = &self.hint {
            write!(f, ", did you mean {h}?")?;
        }
        Ok(())
    }
}

/// A problem found while parsing, carried by winnow as the cause of its
/// error (the column is where the parser stood).
#[derive(Debug)]
struct Why(String, Option<String>);

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Why {}

fn why(msg: impl Into<String>) -> Why {
    Why(msg.into(), None)
}

impl Expr {
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        let root = terminated(expr, (multispace0, end)).parse(source).map_err(|e| {
            let offset = e.offset();
            let column = source[..offset].chars().count() + 1;
            let inner = e.inner();
            if let Some(w) = inner.cause().and_then(|c| c.downcast_ref::<Why>()) {
                return ExprError { message: w.0.clone(), column, hint: w.1.clone() };
            }
            let expected: Vec<String> = inner
                .context()
                .filter_map(|c| match c {
                    StrContext::Expected(v) => Some(v.to_string()),
                    _ => None,
                })
                .collect();
            let rest = &source[offset..];
            let found = match token(rest) {
                "" => "the end".to_string(),
                t => format!("'{t}'"),
            };
            let message = if expected.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", expected.join(" or "))
            };
            ExprError { message, column, hint: None }
        })?;
        Ok(Expr { source: source.to_string(), root, labels: false })
    }

    /// A matcher of alerts: the same grammar over an alert's labels.
    pub fn parse_labels(source: &str) -> Result<Expr, ExprError> {
        LABELS.set(true);
        let parsed = Expr::parse(source);
        LABELS.set(false);
        parsed.map(|e| Expr { labels: true, ..e })
    }

    /// Whether `r` passes the filter (a matcher of labels passes no record).
    pub fn eval(&self, r: &Record<'_>) -> bool {
        !self.labels && eval(&self.root, r)
    }

    /// Whether an alert with `labels` matches (a filter of records matches
    /// no alert).
    pub fn matches(&self, labels: &Labels<'_>) -> bool {
        self.labels && eval_labels(&self.root, labels)
    }

    /// Whether an alert with `labels` matches when its group is not known
    /// yet (nor its service, unless `service_known`): `None` when that
    /// depends on them.
    pub fn matches_before_group(&self, labels: &Labels<'_>, service_known: bool) -> Option<bool> {
        if !self.labels {
            return Some(false);
        }
        fn walk(n: &Node, l: &Labels<'_>, service_known: bool) -> Option<bool> {
            match n {
                // Kleene's logic: a known false decides an and, a known true an or.
                Node::And(v) => v
                    .iter()
                    .try_fold(Some(true), |acc, n| match walk(n, l, service_known) {
                        Some(false) => Err(()),
                        x => Ok(if acc == Some(true) { x } else { None }),
                    })
                    .unwrap_or(Some(false)),
                Node::Or(v) => v
                    .iter()
                    .try_fold(Some(false), |acc, n| match walk(n, l, service_known) {
                        Some(true) => Err(()),
                        x => Ok(if acc == Some(false) { x } else { None }),
                    })
                    .unwrap_or(Some(true)),
                Node::Not(n) => walk(n, l, service_known).map(|b| !b),
                Node::Test(Name::Label(Label::Group(_)), _) => None,
                Node::Test(Name::Label(Label::Service), _) if !service_known => None,
                n => Some(eval_labels(n, l)),
            }
        }
        walk(&self.root, labels, service_known)
    }

    /// Every name the expression reads.
    pub fn names(&self) -> Vec<&Name> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a Name>) {
            match n {
                Node::And(v) | Node::Or(v) => v.iter().for_each(|n| walk(n, out)),
                Node::Not(n) => walk(n, out),
                Node::Test(name, _) => {
                    if !out.contains(&name) {
                        out.push(name)
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}

/// The token at the start of `s`, for error messages.
fn token(s: &str) -> &str {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .find(|&(i, c)| c.is_whitespace() || (i > 0 && "()[],".contains(c)))
        .map_or(s.len(), |(i, _)| i);
    &s[..end.max(s.chars().next().map_or(0, char::len_utf8))]
}

type PResult<T> = ModalResult<T, ContextError>;

fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

fn end(i: &mut &str) -> PResult<()> {
    eof.void().context(expected("'and', 'or' or the end of the expression")).parse_next(i)
}

fn ws(i: &mut &str) -> PResult<()> {
    multispace0.void().parse_next(i)
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The keyword `k` as a whole word, after blanks.
fn keyword<'a>(k: &'static str) -> impl Parser<&'a str, (), ErrMode<ContextError>> {
    move |i: &mut &'a str| {
        let start = *i;
        ws(i)?;
        let w: &str = take_while(0.., word_char).parse_next(i)?;
        if w.eq_ignore_ascii_case(k) {
            Ok(())
        } else {
            *i = start;
            Err(ErrMode::Backtrack(ContextError::new()))
        }
    }
}

fn expr(i: &mut &str) -> PResult<Node> {
    let mut v: Vec<Node> = separated(1.., and_expr, keyword("or")).parse_next(i)?;
    Ok(if v.len() == 1 { v.pop().expect("one") } else { Node::Or(v) })
}

fn and_expr(i: &mut &str) -> PResult<Node> {
    let mut v: Vec<Node> = separated(1.., not_expr, keyword("and")).parse_next(i)?;
    Ok(if v.len() == 1 { v.pop().expect("one") } else { Node::And(v) })
}

fn not_expr(i: &mut &str) -> PResult<Node> {
    ws(i)?;
    alt((
        preceded(keyword("not"), cut_err(not_expr)).map(|n| Node::Not(Box::new(n))),
        delimited('(', cut_err(expr), cut_err((ws, ')')).context(expected("')'"))),
        test,
    ))
    .parse_next(i)
}

/// A label's name, in a matcher.
fn label(i: &mut &str) -> PResult<Name> {
    ws(i)?;
    let start = *i;
    let w: &str = take_while(1.., |c: char| word_char(c) || c == '.' || c == '-')
        .context(expected("a label (rule, job, service, severity or group.<key>)"))
        .parse_next(i)?;
    if w == "group." && i.starts_with('"') {
        let key = cut_err(quoted).parse_next(i)?;
        return Ok(Name::Label(Label::Group(key)));
    }
    if let Some(key) = w.strip_prefix("group.").filter(|k| !k.is_empty()) {
        return Ok(Name::Label(Label::Group(key.to_string())));
    }
    Ok(Name::Label(match w {
        "rule" => Label::Rule,
        "job" => Label::Job,
        "service" => Label::Service,
        "severity" => Label::Severity,
        _ => {
            *i = start;
            let hint = ["rule", "job", "service", "severity"]
                .into_iter()
                .find(|n| crate::error::edit_distance(n, w) <= 2)
                .map(|n| format!("'{n}'"))
                .or_else(|| (!w.contains('.')).then(|| format!("'group.{w}'")));
            let e = Why(
                format!(
                    "unknown label '{w}' (expected rule, job, service, severity or group.<key>)"
                ),
                hint,
            );
            return Err(ErrMode::Cut(ContextError::new().add_cause(e)));
        }
    }))
}

fn name(i: &mut &str) -> PResult<Name> {
    if LABELS.get() {
        return label(i);
    }
    ws(i)?;
    let start = *i;
    let w: &str = take_while(1.., |c: char| word_char(c) || c == '.' || c == '-')
        .context(expected(
            "a name (ts, service, host, severity, message, user, client_ip or fields.<key>)",
        ))
        .parse_next(i)?;
    if w == "fields." && i.starts_with('"') {
        let key = cut_err(quoted).parse_next(i)?;
        return Ok(Name::Field(key));
    }
    if let Some(key) = w.strip_prefix("fields.") {
        if !key.is_empty() {
            return Ok(Name::Field(key.to_string()));
        }
    }
    Ok(match w {
        "ts" => Name::Ts,
        "service" => Name::Service,
        "host" => Name::Host,
        "severity" => Name::Severity,
        "message" => Name::Message,
        "user" => Name::User,
        "client_ip" => Name::ClientIp,
        _ => {
            *i = start;
            let hint = match NAMES.iter().find(|n| crate::error::edit_distance(n, w) <= 2) {
                Some(n) => Some(n.to_string()),
                None if !w.contains('.') => Some(format!("fields.{w}")),
                None => None,
            };
            let e = Why(
                format!(
                    "unknown name '{w}' (expected ts, service, host, severity, message, user, client_ip or fields.<key>)"
                ),
                hint.map(|h| format!("'{h}'")),
            );
            return Err(ErrMode::Cut(ContextError::new().add_cause(e)));
        }
    })
}

/// Operators, and the fix for a few likely slips.
const OPERATORS: [&str; 11] = ["=", "==", "!=", "<", "<=", ">", ">=", "^=", "$=", "~", "!~"];
const SLIPS: [(&str, &str); 8] = [
    ("=>", ">="),
    ("=<", "<="),
    ("<>", "!="),
    ("=~", "~"),
    ("!", "!="),
    ("=^", "^="),
    ("=$", "$="),
    ("~=", "~"),
];

fn test<'a>(i: &mut &'a str) -> PResult<Node> {
    let n = name.parse_next(i)?;
    ws(i)?;
    let start = *i;
    let op: &str = take_while(0.., |c: char| "=!<>^$~".contains(c)).parse_next(i)?;
    if op.is_empty() {
        let w: &str = take_while(0.., word_char).parse_next(i)?;
        let negated = w.eq_ignore_ascii_case("not");
        let w = if negated {
            ws(i)?;
            take_while(0.., word_char).parse_next(i)?
        } else {
            w
        };
        let t = match w.to_ascii_lowercase().as_str() {
            "exists" => Test::Exists,
            "contains" => {
                let v = cut_err(value).parse_next(i)?;
                Test::Contains(Box::new(memmem::Finder::new(v.text().as_bytes()).into_owned()))
            }
            "in" => cut_err(|i: &mut &str| members(i, &n)).parse_next(i)?,
            _ => {
                *i = start;
                let e = why(format!(
                    "expected an operator after '{}' (= != < <= > >= ^= $= ~ !~ contains in exists), found {}",
                    n,
                    match token(start) {
                        "" => "the end".to_string(),
                        t => format!("'{t}'"),
                    }
                ));
                return Err(ErrMode::Cut(ContextError::new().add_cause(e)));
            }
        };
        let node = Node::Test(n, t);
        return Ok(if negated { Node::Not(Box::new(node)) } else { node });
    }
    if !OPERATORS.contains(&op) {
        *i = start;
        let hint = SLIPS.iter().find(|s| s.0 == op).map(|s| format!("'{}'", s.1));
        let e = Why(format!("unknown operator '{op}'"), hint);
        return Err(ErrMode::Cut(ContextError::new().add_cause(e)));
    }
    ws(i)?;
    let at = *i;
    let v = cut_err(value).parse_next(i)?;
    let fail = |i: &mut &'a str, msg: String| -> PResult<Node> {
        *i = at;
        Err(ErrMode::Cut(ContextError::new().add_cause(why(msg))))
    };
    let t = match op {
        "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" => {
            let lit = match typed(&n, v) {
                Ok(l) => l,
                Err(msg) => return fail(i, msg),
            };
            let (ord, eq) = match op {
                "=" | "==" | "!=" => (Ordering::Equal, true),
                "<" => (Ordering::Less, false),
                "<=" => (Ordering::Less, true),
                ">" => (Ordering::Greater, false),
                _ => (Ordering::Greater, true),
            };
            let t = Node::Test(n, Test::Cmp(ord, eq, lit));
            return Ok(if op == "!=" { Node::Not(Box::new(t)) } else { t });
        }
        _ if n == Name::Ts => {
            return fail(i, format!("'ts' takes = != < <= > >=, not '{op}'"));
        }
        "^=" => Test::StartsWith(v.text().to_string()),
        "$=" => Test::EndsWith(v.text().to_string()),
        _ => {
            let re = regex::RegexBuilder::new(v.text()).size_limit(1 << 20).build();
            match re {
                Ok(re) => {
                    let t = Node::Test(n, Test::Regex(Box::new(re)));
                    return Ok(if op == "!~" { Node::Not(Box::new(t)) } else { t });
                }
                Err(e) => {
                    let e = e.to_string();
                    let first = e.lines().last().unwrap_or("invalid").trim();
                    let first = first.trim_start_matches("error: ").to_string();
                    return fail(i, format!("invalid regex: {first}"));
                }
            }
        }
    };
    Ok(Node::Test(n, t))
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Name::Ts => "ts",
            Name::Service => "service",
            Name::Host => "host",
            Name::Severity => "severity",
            Name::Message => "message",
            Name::User => "user",
            Name::ClientIp => "client_ip",
            Name::Field(k) => return write!(f, "fields.{k}"),
            Name::Label(l) => match l {
                Label::Rule => "rule",
                Label::Job => "job",
                Label::Service => "service",
                Label::Severity => "severity",
                Label::Group(k) => return write!(f, "group.{k}"),
            },
        })
    }
}

/// A literal as written.
#[derive(Clone, Debug)]
enum Raw {
    Quoted(String),
    Bare(String),
}

impl Raw {
    fn text(&self) -> &str {
        match self {
            Raw::Quoted(s) | Raw::Bare(s) => s,
        }
    }
}

fn value(i: &mut &str) -> PResult<Raw> {
    ws(i)?;
    alt((
        quoted.map(Raw::Quoted),
        take_while(1.., |c: char| word_char(c) || ".:/-+@*".contains(c))
            .map(|s: &str| Raw::Bare(s.to_string())),
    ))
    .context(expected("a value (\"text\", a number or a word)"))
    .parse_next(i)
}

/// "text" or 'text', with \\, \", \', \n and \t.
fn quoted(i: &mut &str) -> PResult<String> {
    let start = *i;
    let q = one_of(['"', '\'']).parse_next(i)?;
    let mut out = String::new();
    loop {
        let part: &str = take_till(0.., |c: char| c == q || c == '\\').parse_next(i)?;
        out.push_str(part);
        let mut chars = i.chars();
        match chars.next() {
            Some(c) if c == q => {
                *i = &i[1..];
                return Ok(out);
            }
            Some('\\') => {
                let Some(e) = chars.next() else { break };
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                *i = &i[1 + e.len_utf8()..];
            }
            _ => break,
        }
    }
    *i = start;
    Err(ErrMode::Cut(ContextError::new().add_cause(why("unclosed quote"))))
}

/// The literal of a comparison with `n`.
fn typed(n: &Name, v: Raw) -> Result<Lit, String> {
    match n {
        // By order: its rank.
        Name::Label(Label::Severity) => {
            let s = v.text();
            ALERT_SEVERITIES.iter().position(|x| x.eq_ignore_ascii_case(s)).map_or_else(
                || Err(format!("unknown severity '{s}' (expected low, medium, high or critical)")),
                |rank| Ok(Lit::Num(rank as f64)),
            )
        }
        Name::Severity => {
            let s = v.text();
            Severity::ALL.iter().find(|x| x.as_str().eq_ignore_ascii_case(s)).map_or_else(
                || Err(format!("unknown severity '{s}' (expected trace, debug, info, warn, error or fatal)")),
                |s| Ok(Lit::Severity(*s)),
            )
        }
        Name::Ts => {
            let s = v.text();
            if let Ok(n) = s.parse::<i64>() {
                return Ok(Lit::Time(n, 0));
            }
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| Lit::Time(t.timestamp(), t.timestamp_subsec_nanos()))
                .map_err(|_| {
                    format!("'ts' compares with an RFC 3339 time (\"2024-05-01T07:00:00Z\") or epoch seconds, not '{s}'")
                })
        }
        _ => Ok(match v {
            Raw::Bare(s) => match s.parse::<f64>() {
                Ok(f) if f.is_finite() => Lit::Num(f),
                _ => Lit::Text(s),
            },
            Raw::Quoted(s) => Lit::Text(s),
        }),
    }
}

fn members(i: &mut &str, n: &Name) -> PResult<Test> {
    ws(i)?;
    let one = |i: &mut &str| -> PResult<Member> {
        ws(i)?;
        let at = *i;
        let raw = value.parse_next(i)?;
        if let Raw::Bare(s) = &raw {
            if s.contains('/') {
                return match s.parse::<Cidr>() {
                    Ok(net) => Ok(Member::Cidr(net)),
                    Err(_) => {
                        *i = at;
                        let e = why(format!("invalid CIDR '{s}' (expected such as 10.0.0.0/8)"));
                        Err(ErrMode::Cut(ContextError::new().add_cause(e)))
                    }
                };
            }
        }
        match typed(n, raw) {
            Ok(l) => Ok(Member::Lit(l)),
            Err(m) => {
                *i = at;
                Err(ErrMode::Cut(ContextError::new().add_cause(why(m))))
            }
        }
    };
    if i.starts_with('[') {
        *i = &i[1..];
        let v: Vec<Member> = separated(1.., one, (ws, ',')).parse_next(i)?;
        let _ = opt((ws, ',')).parse_next(i)?;
        cut_err((ws, ']')).context(expected("',' or ']'")).parse_next(i)?;
        Ok(Test::In(v))
    } else {
        Ok(Test::In(vec![one(i)?]))
    }
}

trait AddCause {
    fn add_cause(self, w: Why) -> Self;
}

impl AddCause for ContextError {
    fn add_cause(self, w: Why) -> Self {
        use winnow::error::FromExternalError;
        ContextError::from_external_error(&"", w)
    }
}

/// What a name holds in a record.
enum Got<'r> {
    Text(&'r str),
    Value(&'r Value<'r>),
    Severity(Severity),
    Time(Timestamp),
}

fn get<'r>(n: &Name, r: &'r Record<'r>) -> Option<Got<'r>> {
    match n {
        Name::Ts => r.ts.map(Got::Time),
        Name::Service => Some(Got::Text(&r.service)),
        Name::Host => r.host.as_deref().map(Got::Text),
        Name::Severity => r.severity.map(Got::Severity),
        Name::Message => Some(Got::Text(&r.message)),
        Name::User => r.user.as_deref().map(Got::Text),
        Name::ClientIp => present(r.field("client_ip")).or_else(|| present(r.field("source_ip"))),
        Name::Field(k) => present(r.field(k)),
        Name::Label(_) => None,
    }
}

fn present<'r>(v: Option<&'r Value<'r>>) -> Option<Got<'r>> {
    match v {
        None | Some(Value::Null) => None,
        Some(v) => Some(Got::Value(v)),
    }
}

fn eval_labels(node: &Node, l: &Labels<'_>) -> bool {
    match node {
        Node::And(v) => v.iter().all(|n| eval_labels(n, l)),
        Node::Or(v) => v.iter().any(|n| eval_labels(n, l)),
        Node::Not(n) => !eval_labels(n, l),
        Node::Test(Name::Label(label), t) => {
            let text = match label {
                Label::Rule => Some(l.rule),
                Label::Job => Some(l.job),
                Label::Service => l.service,
                Label::Group(k) => l.group.get(k).map(String::as_str),
                Label::Severity => {
                    let rank = ALERT_SEVERITIES.iter().position(|x| *x == l.severity);
                    let Some(rank) = rank else { return false };
                    return test_got(t, &Got::Value(&Value::Int(rank as i64)));
                }
            };
            text.is_some_and(|s| test_got(t, &Got::Text(s)))
        }
        Node::Test(..) => false,
    }
}

fn eval(node: &Node, r: &Record<'_>) -> bool {
    match node {
        Node::And(v) => v.iter().all(|n| eval(n, r)),
        Node::Or(v) => v.iter().any(|n| eval(n, r)),
        Node::Not(n) => !eval(n, r),
        Node::Test(name, t) => match get(name, r) {
            None => false,
            Some(Got::Value(v)) => value_test(t, v),
            Some(g) => test_got(t, &g),
        },
    }
}

/// A test of a field's value: of each item of a list.
fn value_test(t: &Test, v: &Value<'_>) -> bool {
    match v {
        Value::Null => false,
        Value::List(items) => items.iter().any(|v| value_test(t, v)),
        Value::Str(s) => test_got(t, &Got::Text(s)),
        other => test_got(t, &Got::Value(other)),
    }
}

fn test_got(t: &Test, g: &Got<'_>) -> bool {
    match t {
        Test::Exists => true,
        Test::Cmp(ord, eq, lit) => compare(g, lit).is_some_and(|o| o == *ord || (*eq && o.is_eq())),
        Test::In(members) => members.iter().any(|m| match m {
            Member::Lit(l) => compare(g, l) == Some(Ordering::Equal),
            Member::Cidr(net) => {
                with_text(g, |s| s.trim().parse::<IpAddr>().is_ok_and(|ip| net.contains(ip)))
            }
        }),
        Test::StartsWith(p) => with_text(g, |s| s.starts_with(p.as_str())),
        Test::EndsWith(p) => with_text(g, |s| s.ends_with(p.as_str())),
        Test::Contains(f) => with_text(g, |s| f.find(s.as_bytes()).is_some()),
        Test::Regex(re) => with_text(g, |s| re.is_match(s)),
    }
}

/// `f` of the value's text.
fn with_text(g: &Got<'_>, f: impl FnOnce(&str) -> bool) -> bool {
    match g {
        Got::Text(s) => f(s),
        Got::Severity(s) => f(s.as_str()),
        Got::Time(t) => f(&t.to_rfc3339()),
        Got::Value(v) => v.to_text().is_some_and(|s| f(&s)),
    }
}

/// The value against the literal, when they compare.
fn compare(g: &Got<'_>, lit: &Lit) -> Option<Ordering> {
    match (g, lit) {
        (Got::Severity(s), Lit::Severity(l)) => Some(s.cmp(l)),
        (Got::Time(t), Lit::Time(s, n)) => Some((t.secs, t.nanos).cmp(&(*s, *n))),
        (_, Lit::Num(n)) => number(g)?.partial_cmp(n),
        (_, Lit::Text(s)) => {
            let mut out = None;
            with_text(g, |v| {
                out = Some(v.cmp(s.as_str()));
                true
            });
            out
        }
        _ => None,
    }
}

/// The value as a number: numbers, and text that reads as one.
fn number(g: &Got<'_>) -> Option<f64> {
    match g {
        Got::Value(Value::Int(i)) => Some(*i as f64),
        Got::Value(Value::Float(f)) => Some(*f),
        Got::Value(Value::Str(s)) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        Got::Text(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A field's value as a number (see [`number`]).
pub fn field_number(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Str(s) => number(&Got::Text(s)),
        other => number(&Got::Value(other)),
    }
}

#[cfg(test)]
mod tests;
