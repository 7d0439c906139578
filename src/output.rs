//! Writing normalized records: JSON lines (DESIGN.md's shape, keys always
//! present) and CSV. Hand-rolled JSON so a chunk's records go straight into
//! one reusable byte buffer with no intermediate values.

use crate::parse::{Provenance, Record, Timestamp};

pub use crate::json::{write_int, write_json_str};

fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

pub fn write_fields(out: &mut Vec<u8>, r: &Record<'_>) {
    out.push(b'{');
    for (i, (k, v)) in r.fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Keys come from the input too (JSON lines, logfmt, RFC 5424).
        write_json_str(out, k);
        out.push(b':');
        v.write_json(out);
    }
    out.push(b'}');
}

/// The seconds of the last two time stamps a thread wrote, and their
/// texts, the older first.
type LastSeconds = [(Option<i64>, Vec<u8>); 2];

thread_local! {
    /// Consecutive records mostly share their second (only a fraction
    /// differs), or alternate between two (hosts whose clocks differ).
    static LAST_TS: std::cell::RefCell<LastSeconds> =
        const { std::cell::RefCell::new([(None, Vec::new()), (None, Vec::new())]) };
}

/// [`Timestamp::write_rfc3339`], reusing the text of a recent call's second
/// when it is the same.
fn write_ts_cached(out: &mut Vec<u8>, ts: Timestamp) {
    LAST_TS.with_borrow_mut(|last| {
        if last[1].0 != Some(ts.secs) {
            last.swap(0, 1);
            if last[1].0 != Some(ts.secs) {
                let text = &mut last[1].1;
                text.clear();
                ts.write_rfc3339_second(text);
                last[1].0 = Some(ts.secs);
            }
        }
        out.extend_from_slice(&last[1].1);
    });
    ts.write_rfc3339_rest(out);
}

/// One record as a JSON line. `path_json` is the source path already
/// encoded as a JSON string (it is the same for every record of a file).
pub fn write_record_json(out: &mut Vec<u8>, r: &Record<'_>, path_json: &str, prov: Provenance) {
    out.extend_from_slice(b"{\"ts\":");
    match r.ts {
        Some(ts) => {
            out.push(b'"');
            write_ts_cached(out, ts);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"service\":");
    write_json_str(out, &r.service);
    out.extend_from_slice(b",\"host\":");
    write_opt_str(out, r.host.as_deref());
    out.extend_from_slice(b",\"severity\":");
    write_opt_str(out, r.severity.map(|s| s.as_str()));
    out.extend_from_slice(b",\"message\":");
    write_json_str(out, &r.message);
    out.extend_from_slice(b",\"user\":");
    write_opt_str(out, r.user.as_deref());
    out.extend_from_slice(b",\"fields\":");
    write_fields(out, r);
    out.extend_from_slice(b",\"source\":{\"path\":");
    out.extend_from_slice(path_json.as_bytes());
    out.extend_from_slice(b",\"line\":");
    write_int(out, prov.line as i64);
    if let Some(index) = prov.index {
        out.extend_from_slice(b",\"index\":");
        write_int(out, index as i64);
    }
    out.extend_from_slice(b"}}\n");
}

/// The CSV header matching [`write_record_csv`].
pub const CSV_HEADER: &str = "ts,service,host,severity,message,user,fields,path,line,index\n";

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or
/// carriage return first) gets a leading `'`, so that opening the CSV shows
/// the text instead (OWASP's CSV injection advice). A number (`-5`) and a
/// lone `-` are left as they are.
fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = matches!(cell.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'));
    if risky && cell != "-" && cell.parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The bytes a thread's CSV writer has flushed, taken after each row.
#[derive(Clone, Default)]
struct Flushed(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Flushed {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    /// One CSV writer per thread (no allocation per row).
    static CSV: (std::cell::RefCell<csv::Writer<Flushed>>, Flushed) = {
        let out = Flushed::default();
        let w = csv::WriterBuilder::new().has_headers(false).from_writer(out.clone());
        (std::cell::RefCell::new(w), out)
    };
}

/// One record as a CSV row (RFC 4180, written by the `csv` crate); `fields`
/// is a JSON object in one cell; text cells are neutralised against
/// spreadsheet formulas.
pub fn write_record_csv(out: &mut Vec<u8>, r: &Record<'_>, path: &str, prov: Provenance) {
    let mut ts = Vec::with_capacity(32);
    if let Some(t) = r.ts {
        t.write_rfc3339(&mut ts);
    }
    let mut fields = Vec::with_capacity(256);
    write_fields(&mut fields, r);
    let (line, index) = (prov.line.to_string(), prov.index.map(|i| i.to_string()));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let cells: [std::borrow::Cow<'_, str>; 10] = [
        std::borrow::Cow::Owned(text(&ts)),
        neutralise(&r.service),
        neutralise(r.host.as_deref().unwrap_or("")),
        std::borrow::Cow::Borrowed(r.severity.map_or("", |s| s.as_str())),
        neutralise(&r.message),
        neutralise(r.user.as_deref().unwrap_or("")),
        std::borrow::Cow::Owned(text(&fields)),
        neutralise(path),
        std::borrow::Cow::Owned(line),
        std::borrow::Cow::Owned(index.unwrap_or_default()),
    ];
    CSV.with(|(w, flushed)| {
        let mut w = w.borrow_mut();
        // Writing to memory cannot fail.
        let _ = w.write_record(cells.iter().map(|c| c.as_bytes()));
        let _ = w.flush();
        out.append(&mut flushed.0.borrow_mut());
    });
}

/// Ends a CSV row written by [`write_record_csv`] (without its line end)
/// with a template's id and text.
pub fn write_template_csv(out: &mut Vec<u8>, id: &str, text: &str) {
    out.push(b',');
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b",\"");
    for part in neutralise(text).split('"').enumerate() {
        if part.0 > 0 {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(part.1.as_bytes());
    }
    out.extend_from_slice(b"\"\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached seconds give the same text as writing each time, however
    /// the times alternate and whatever fraction they carry.
    #[test]
    fn cached_time_stamps_are_written_as_they_are() {
        let t = |secs, nanos, frac_digits| Timestamp { secs, nanos, frac_digits };
        let times = [
            t(1_700_000_000, 0, 0),
            t(1_700_000_000, 390_979_000, 6),
            t(1_600_000_000, 5, 9),
            t(1_700_000_000, 0, 0),
            t(1_600_000_000, 120_000_000, 3),
            t(1_700_000_001, 100_000_000, 1),
            t(1_600_000_000, 0, 0),
            t(-62_135_596_800, 0, 0),
            t(1_700_000_000, 999_999_999, 9),
        ];
        for ts in times.iter().chain(times.iter().rev()) {
            let (mut cached, mut plain) = (Vec::new(), Vec::new());
            write_ts_cached(&mut cached, *ts);
            ts.write_rfc3339(&mut plain);
            assert_eq!(String::from_utf8(cached).unwrap(), String::from_utf8(plain).unwrap());
        }
    }

    #[test]
    fn csv_rows_read_back_and_formulas_are_neutralised() {
        use crate::parse::{Record, Value};
        use std::borrow::Cow;
        let r = Record {
            auth_role: None,
            ts: None,
            service: Cow::Borrowed("=cmd|' /C calc'!A0"),
            host: Some(Cow::Borrowed("-5")),
            severity: None,
            message: Cow::Borrowed("say \"hi\",\nthen go"),
            user: Some(Cow::Borrowed("@admin")),
            fields: vec![(Cow::Borrowed("status"), Value::Int(200))],
        };
        let mut out = Vec::new();
        let prov = Provenance { line: 7, index: None, byte_offset: 0 };
        write_record_csv(&mut out, &r, "-", prov);
        write_record_csv(&mut out, &r, "+x.log", prov);
        let mut rows = csv::ReaderBuilder::new().has_headers(false).from_reader(&out[..]);
        let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][1], "'=cmd|' /C calc'!A0");
        assert_eq!(&rows[0][2], "-5");
        assert_eq!(&rows[0][4], "say \"hi\",\nthen go");
        assert_eq!(&rows[0][5], "'@admin");
        assert_eq!(&rows[0][6], r#"{"status":200}"#);
        assert_eq!((&rows[0][7], &rows[0][8], &rows[0][9]), ("-", "7", ""));
        assert_eq!(&rows[1][7], "'+x.log");
    }
}

/// Text for a terminal table: control characters (an escape sequence a
/// log line carries, a line break) are shown escaped (`\u{1b}`), never
/// sent to the terminal.
pub fn terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod terminal_tests {
    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(super::terminal("plain text é"), "plain text é");
        assert_eq!(super::terminal("a\u{1b}[2Jb\r\nc\u{9b}"), "a\\u{1b}[2Jb\\u{d}\\u{a}c\\u{9b}");
    }
}
