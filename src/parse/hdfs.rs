//! HDFS logs: raw lines (`081109 203518 143 INFO dfs.DataNode$DataXceiver: ...`)
//! and loghub's structured CSV
//! (`LineId,Date,Time,Pid,Level,Component,Content,EventId,EventTemplate[,ParameterList]`).
//!
//! Dates are `yyMMdd` (two-digit years: 69–99 → 19xx, else 20xx, as POSIX
//! `%y`) in the source's time zone. Block ids (`blk_-123`, possibly several
//! per line) are collected into `fields.block_ids`, each once, in order.

use super::time::{civil_to_secs, num, Timestamp, Tz};
use super::{excerpt, find2, line_outcome, text, Outcome, Parser, Record, Severity, Value};
use memchr::memmem;
use std::borrow::Cow;

pub struct HdfsParser {
    service: String,
    tz: Tz,
}

impl HdfsParser {
    pub fn new(service: String, tz: Tz) -> Self {
        HdfsParser { service, tz }
    }
}

/// `yyMMdd` + `HHmmss` (each left-padded with zeros when shorter: loghub's
/// corrected CSV lost them) to a UTC instant.
fn hdfs_time(date: &[u8], time: &[u8], tz: &Tz) -> Result<Timestamp, String> {
    let bad = || format!("date/time {} {} is not yyMMdd HHmmss", excerpt(date), excerpt(time));
    if date.is_empty() || date.len() > 6 || time.is_empty() || time.len() > 6 {
        return Err(bad());
    }
    let d = num(date).ok_or_else(bad)?;
    let t = num(time).ok_or_else(bad)?;
    let yy = (d / 10_000) as i64;
    let year = if yy >= 69 { 1900 + yy } else { 2000 + yy };
    let local = civil_to_secs(year, d / 100 % 100, d % 100, t / 10_000, t / 100 % 100, t % 100)
        .ok_or_else(bad)?;
    Ok(Timestamp::from_secs(tz.local_to_utc(local)))
}

/// Every distinct `blk_<id>` in the content, in order of appearance.
pub fn block_ids(content: &[u8]) -> Vec<Value<'_>> {
    // Built once: a searcher costs more to make than most lines take.
    static BLK: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"blk_"));
    let mut out: Vec<&[u8]> = Vec::new();
    for i in BLK.find_iter(content) {
        let start = i + 4;
        let mut end = start;
        if content.get(end) == Some(&b'-') {
            end += 1;
        }
        let digits = content[end..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            continue;
        }
        let id = &content[i..end + digits];
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out.into_iter().map(|b| Value::str(text(b))).collect()
}

fn level(b: &[u8]) -> Result<Severity, String> {
    Severity::from_level(b).ok_or_else(|| format!("level {} is not a log level", excerpt(b)))
}

impl Parser for HdfsParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        line_outcome(line, || self.parse_line(line))
    }
}

impl HdfsParser {
    fn parse_line<'a>(&'a self, line: &'a [u8]) -> Result<Record<'a>, String> {
        let mut it = line.splitn(5, |c| *c == b' ');
        let (Some(date), Some(time), Some(pid), Some(lvl), Some(rest)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return Err(format!(
                "expected \"yyMMdd HHmmss pid LEVEL component: content\", found {}",
                excerpt(line)
            ));
        };
        if date.len() != 6 || time.len() != 6 {
            return Err(format!(
                "date/time {} {} is not yyMMdd HHmmss",
                excerpt(date),
                excerpt(time)
            ));
        }
        let ts = hdfs_time(date, time, &self.tz)?;
        if pid.is_empty() || !pid.iter().all(u8::is_ascii_digit) {
            return Err(format!("pid {} is not a number", excerpt(pid)));
        }
        let severity = level(lvl)?;
        let (component, content) = match find2(rest, b':', b' ') {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => match rest.strip_suffix(b":") {
                Some(c) => (c, &b""[..]),
                None => return Err(format!("no \"component: \" in {}", excerpt(rest))),
            },
        };
        Ok(Record {
            auth_role: None,
            ts: Some(ts),
            service: Cow::Borrowed(&self.service),
            host: None,
            severity: Some(severity),
            message: text(content),
            user: None,
            fields: vec![
                (Cow::Borrowed("pid"), Value::Int(num(pid).map_or(-1, i64::from))),
                (Cow::Borrowed("component"), Value::str(text(component))),
                (Cow::Borrowed("block_ids"), Value::List(block_ids(content))),
            ],
        })
    }
}

/// loghub's structured CSV. The header line is skipped; columns are taken by
/// position (the loghub layout), with the optional tenth `ParameterList`.
pub struct HdfsCsvParser {
    service: String,
    tz: Tz,
}

impl HdfsCsvParser {
    pub fn new(service: String, tz: Tz) -> Self {
        HdfsCsvParser { service, tz }
    }
}

thread_local! {
    /// A CSV reader per thread (the `csv` crate's core), reset for each
    /// record: building one per record costs more than reading it.
    static CSV: std::cell::RefCell<csv_core::Reader> = std::cell::RefCell::new(csv_core::Reader::new());
}

/// Splits one CSV record (RFC 4180 quoting; a quoted cell may hold line
/// ends, which the framing keeps inside the record) with the `csv` crate's
/// reader. Cells without quotes are borrowed.
fn csv_cells(record: &[u8]) -> Result<Vec<Cow<'_, str>>, String> {
    use csv_core::ReadFieldResult;
    CSV.with(|r| {
        let mut r = r.borrow_mut();
        r.reset();
        let mut cells = Vec::with_capacity(10);
        let mut out = vec![0u8; record.len() + 1];
        let mut input = record;
        let mut at = 0; // offset of `input` in `record`
        loop {
            let (res, nin, nout) = r.read_field(input, &mut out);
            let raw = &record[at..at + nin];
            // A cell read as it stands is borrowed; one with quotes is unescaped.
            let cell = if raw.first() == Some(&b'"') || memchr::memchr(b'"', raw).is_some() {
                Cow::Owned(String::from_utf8_lossy(&out[..nout]).into_owned())
            } else {
                text(&record[at..at + nout])
            };
            input = &input[nin..];
            at += nin;
            match res {
                ReadFieldResult::Field { record_end } => {
                    cells.push(cell);
                    if record_end {
                        break;
                    }
                }
                ReadFieldResult::InputEmpty => {
                    // The end of the record: one more call finishes it.
                    let (res, _, nout2) = r.read_field(&[], &mut out[nout..]);
                    let cell = match cell {
                        Cow::Owned(_) => {
                            Cow::Owned(String::from_utf8_lossy(&out[..nout + nout2]).into_owned())
                        }
                        borrowed => borrowed,
                    };
                    if matches!(res, ReadFieldResult::Field { .. }) {
                        cells.push(cell);
                    }
                    break;
                }
                ReadFieldResult::OutputFull => return Err("CSV record too long".to_string()),
                ReadFieldResult::End => break,
            }
        }
        if !input.is_empty() {
            return Err("more than one CSV record on one line".into());
        }
        Ok(cells)
    })
}

impl Parser for HdfsCsvParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        if line.starts_with(b"LineId,") {
            return Outcome::Skip; // the header
        }
        line_outcome(line, || self.parse_line(line))
    }
}

impl HdfsCsvParser {
    fn parse_line<'a>(&'a self, line: &'a [u8]) -> Result<Record<'a>, String> {
        let cells = csv_cells(line)?;
        if cells.len() != 9 && cells.len() != 10 {
            return Err(format!(
                "expected 9 or 10 CSV columns (LineId,Date,Time,Pid,Level,Component,Content,EventId,EventTemplate), found {}",
                cells.len()
            ));
        }
        let mut cells = cells.into_iter();
        let mut next = || cells.next().expect("column count checked");
        let (line_id, date, time, pid, lvl) = (next(), next(), next(), next(), next());
        let (component, content, event_id, template) = (next(), next(), next(), next());
        let params = cells.next();
        let ts = hdfs_time(date.as_bytes(), time.as_bytes(), &self.tz)?;
        let severity = level(lvl.as_bytes())?;
        let int = |s: &str, what: &str| {
            s.parse::<i64>()
                .map_err(|_| format!("{what} {} is not a number", excerpt(s.as_bytes())))
        };
        let mut fields = vec![
            (Cow::Borrowed("pid"), Value::Int(int(&pid, "Pid")?)),
            (Cow::Borrowed("component"), Value::Str(component)),
            (Cow::Borrowed("block_ids"), Value::Null),
            (Cow::Borrowed("line_id"), Value::Int(int(&line_id, "LineId")?)),
            (Cow::Borrowed("event_id"), Value::Str(event_id)),
            (Cow::Borrowed("event_template"), Value::Str(template)),
        ];
        let ids: Vec<Value<'a>> = block_ids(content.as_bytes())
            .into_iter()
            .map(|v| match v {
                Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
                _ => Value::Null,
            })
            .collect();
        fields[2].1 = Value::List(ids);
        if let Some(p) = params {
            fields.push((Cow::Borrowed("parameters"), Value::Str(p)));
        }
        Ok(Record {
            auth_role: None,
            ts: Some(ts),
            service: Cow::Borrowed(&self.service),
            host: None,
            severity: Some(severity),
            message: content,
            user: None,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_line_with_negative_and_repeated_blocks() {
        let p = HdfsParser::new("hdfs".into(), Tz::default());
        let line = b"081109 214043 2561 INFO dfs.DataNode: Deleting block blk_-6952295868487656571 file /mnt/hadoop/dfs/data/current/subdir10/blk_-6952295868487656571";
        let Outcome::Record(r) = p.parse(line) else { panic!() };
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2008-11-09T21:40:43Z");
        assert_eq!(
            r.field("block_ids"),
            Some(&Value::List(vec![Value::str("blk_-6952295868487656571")]))
        );
        assert_eq!(r.severity, Some(Severity::Info));
    }

    #[test]
    fn csv_dates_without_leading_zeros_are_padded() {
        let p = HdfsCsvParser::new("hdfs".into(), Tz::default());
        let line = b"7,81110,117,13,INFO,dfs.DataNode$PacketResponder,Received block blk_1 of size 91178 from /10.250.10.6,E11,Received block <*> of size <*> from /<*>";
        let Outcome::Record(r) = p.parse(line) else { panic!() };
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2008-11-10T00:01:17Z");
    }

    #[test]
    fn csv_quoted_parameter_list() {
        let cells = csv_cells(br#"1,"a,b","say ""hi""",x"#).unwrap();
        assert_eq!(cells, vec!["1", "a,b", r#"say "hi""#, "x"]);
    }

    #[test]
    fn csv_quoted_cell_with_a_line_end() {
        let p = HdfsCsvParser::new("hdfs".into(), Tz::default());
        let record = b"7,081110,117,13,INFO,dfs.DataNode,\"Exception in receiveBlock\njava.io.IOException: reset\",E11,\"x\"";
        let Outcome::Record(r) = p.parse(record) else { panic!() };
        assert_eq!(r.message, "Exception in receiveBlock\njava.io.IOException: reset");
    }

    #[test]
    fn bad_level_is_named() {
        let p = HdfsParser::new("hdfs".into(), Tz::default());
        let Outcome::Reject(e) = p.parse(b"081109 214043 2561 LOUD dfs.DataNode: x") else {
            panic!()
        };
        assert_eq!(e, r#"level "LOUD" is not a log level"#);
    }
}
