//! A LogTrack record as a Sigma [`Event`]: where each Sigma field name is
//! in it, and the line its keywords are read over.

use super::source::{family, Family, Kind, Slot};
use super::{Event, FieldValue};
use crate::parse::{Record, Value};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt::Write;

/// A record as rules of `kind` read it.
pub struct RecordEvent<'r, 'a> {
    kind: &'r Kind,
    r: &'r Record<'a>,
    /// Rendered once per record, for all of its rules.
    line: &'r OnceCell<String>,
}

impl<'r, 'a> RecordEvent<'r, 'a> {
    pub fn new(kind: &'r Kind, r: &'r Record<'a>, line: &'r OnceCell<String>) -> Self {
        RecordEvent { kind, r, line }
    }
}

fn value<'v>(v: &'v Value<'_>) -> Option<FieldValue<'v>> {
    Some(match v {
        Value::Null => FieldValue::Null,
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Int(n) => FieldValue::Int(*n),
        Value::Float(f) => FieldValue::Float(*f),
        Value::Str(s) => FieldValue::Str(Cow::Borrowed(s)),
        Value::List(_) => FieldValue::Str(Cow::Owned(v.to_text()?.into_owned())),
    })
}

impl Event for RecordEvent<'_, '_> {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        let r = self.r;
        let got = match self.kind.slot(name)? {
            Slot::Message => FieldValue::Str(Cow::Borrowed(&r.message)),
            Slot::Service => FieldValue::Str(Cow::Borrowed(&r.service)),
            Slot::User => FieldValue::Str(Cow::Borrowed(r.user.as_deref()?)),
            Slot::Field(k) => value(r.field(k)?)?,
            Slot::Json(k) => {
                let Value::Str(text) = r.field(k)? else { return None };
                match name.split_once('.') {
                    // The object as written.
                    None => FieldValue::Str(Cow::Borrowed(text)),
                    Some((_, path)) => {
                        let v: serde_json::Value = serde_json::from_str(text).ok()?;
                        super::json_field(&v, path)?.into_owned()
                    }
                }
            }
            Slot::PathStem => match r.field("path")? {
                Value::Str(p) => {
                    FieldValue::Str(Cow::Borrowed(p.split_once('?').map_or(&**p, |(s, _)| s)))
                }
                other => value(other)?,
            },
        };
        // An access log writes `-` for a value it does not have.
        if *self.kind == Kind::Web && matches!(&got, FieldValue::Str(s) if s == "-") {
            return None;
        }
        Some(got)
    }

    fn line(&self) -> &str {
        // (Rules of a kind read only records of their family.)
        self.line.get_or_init(|| render_as(self.r, *self.kind == Kind::Web))
    }

    /// For access logs: [`render`] writes the fields as they are (text
    /// and whole numbers), and the request's parts are in the message.
    fn fields_in_line(&self) -> bool {
        let r = self.r;
        if *self.kind != Kind::Web {
            return false;
        }
        let m = r.message.as_bytes().as_ptr_range();
        r.fields.iter().all(|(k, v)| match (&**k, v) {
            ("method" | "path" | "protocol", Value::Str(s)) => {
                let p = s.as_bytes().as_ptr_range();
                (m.start <= p.start && p.end <= m.end) || r.message.contains(&**s)
            }
            ("method" | "path" | "protocol", v) => matches!(v, Value::Null),
            ("client_ip" | "status" | "bytes" | "referer" | "user_agent", v) => {
                matches!(v, Value::Str(_) | Value::Int(_) | Value::Null)
            }
            // Not read by web rules.
            _ => true,
        })
    }
}

/// The line keywords are read over, rendered from the record (the same in
/// memory and from the database): an access log's combined line, or the
/// program and message, then the other fields as `key=value`.
pub fn render(r: &Record<'_>) -> String {
    render_as(r, family(r) == Family::Web)
}

/// [`render`], knowing whether `r` is an access log's record.
fn render_as(r: &Record<'_>, web: bool) -> String {
    let mut s = String::with_capacity(r.message.len() + 256);
    if web {
        // `client_ip - user "request" status bytes "referer" "user agent"`.
        let put = |s: &mut String, k: &str| match r.field(k) {
            Some(Value::Str(v)) => s.push_str(v),
            Some(Value::Int(n)) => {
                let _ = write!(s, "{n}");
            }
            Some(v) => s.push_str(v.to_text().as_deref().unwrap_or("-")),
            None => s.push('-'),
        };
        put(&mut s, "client_ip");
        s.push_str(" - ");
        s.push_str(r.user.as_deref().unwrap_or("-"));
        s.push_str(" \"");
        s.push_str(&r.message);
        s.push_str("\" ");
        put(&mut s, "status");
        s.push(' ');
        put(&mut s, "bytes");
        s.push_str(" \"");
        put(&mut s, "referer");
        s.push_str("\" \"");
        put(&mut s, "user_agent");
        s.push('"');
        return s;
    }
    if let Some(h) = &r.host {
        s.push_str(h);
        s.push(' ');
    }
    s.push_str(&r.service);
    s.push_str(": ");
    s.push_str(&r.message);
    for (k, v) in &r.fields {
        if let Some(t) = v.to_text() {
            let _ = write!(s, " {k}={t}");
        }
    }
    s
}
