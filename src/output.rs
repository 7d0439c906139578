//! Writing normalized records: JSON lines (DESIGN.md's shape, keys always
//! present) and CSV. Hand-rolled JSON so a chunk's records go straight into
//! one reusable byte buffer with no intermediate values.

use crate::parse::{Provenance, Record, Value};
use std::io::Write;

/// True for bytes that JSON strings must escape (and DEL, escaped for safety).
#[inline]
fn needs_escape(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\' || c == 0x7f
}

/// Whether any of 8 bytes needs escaping (SWAR: a word at a time).
#[inline]
fn word_needs_escape(x: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let below_space = x.wrapping_sub(LO * 0x20) & !x & HI;
    (below_space
        | has_zero(x ^ (LO * 0x22))
        | has_zero(x ^ (LO * 0x5c))
        | has_zero(x ^ (LO * 0x7f)))
        != 0
}

/// Appends `s` as a JSON string literal. Runs without special bytes are
/// found eight bytes at a time and copied whole.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let n = (b.len() - i).min(8);
        let clean = n == 8
            && !word_needs_escape(u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes")));
        if !clean {
            for k in i..i + n {
                let c = b[k];
                if needs_escape(c) {
                    out.extend_from_slice(&b[start..k]);
                    write_escape(out, c);
                    start = k + 1;
                }
            }
        }
        i += n;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

#[cold]
fn write_escape(out: &mut Vec<u8>, c: u8) {
    match c {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(c >> 4) as usize]);
            out.push(HEX[(c & 15) as usize]);
        }
    }
}

/// Appends a decimal integer without going through `fmt`.
#[inline]
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

pub fn write_value(out: &mut Vec<u8>, v: &Value<'_>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Str(s) => write_json_str(out, s),
        Value::Int(i) => write_int(out, *i),
        Value::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f}");
        }
        Value::Float(_) => out.extend_from_slice(b"null"),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
    }
}

pub fn write_fields(out: &mut Vec<u8>, r: &Record<'_>) {
    out.push(b'{');
    for (i, (k, v)) in r.fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Field names are identifiers by construction (parsers make them
        // from fixed names or sanitized directive names), so they are
        // written without escaping.
        debug_assert!(k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'), "{k}");
        out.push(b'"');
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"\":");
        write_value(out, v);
    }
    out.push(b'}');
}

/// One record as a JSON line. `path_json` is the source path already
/// encoded as a JSON string (it is the same for every record of a file).
pub fn write_record_json(out: &mut Vec<u8>, r: &Record<'_>, path_json: &str, prov: Provenance) {
    out.extend_from_slice(b"{\"ts\":");
    match r.ts {
        Some(ts) => {
            out.push(b'"');
            ts.write_rfc3339(out);
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

/// Appends one CSV cell, quoted when it holds a comma, quote or line end.
fn write_csv_cell(out: &mut Vec<u8>, s: &[u8]) {
    if s.iter().any(|c| matches!(c, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for &c in s {
            if c == b'"' {
                out.push(b'"');
            }
            out.push(c);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s);
    }
}

/// One record as a CSV row (RFC 4180); `fields` is a JSON object in one cell.
pub fn write_record_csv(out: &mut Vec<u8>, r: &Record<'_>, path: &str, prov: Provenance) {
    let mut ts = Vec::with_capacity(32);
    if let Some(t) = r.ts {
        t.write_rfc3339(&mut ts);
    }
    let mut fields = Vec::with_capacity(256);
    write_fields(&mut fields, r);
    let cells: [&[u8]; 7] = [
        &ts,
        r.service.as_bytes(),
        r.host.as_deref().unwrap_or("").as_bytes(),
        r.severity.map_or("", |s| s.as_str()).as_bytes(),
        r.message.as_bytes(),
        r.user.as_deref().unwrap_or("").as_bytes(),
        &fields,
    ];
    for cell in cells {
        write_csv_cell(out, cell);
        out.push(b',');
    }
    write_csv_cell(out, path.as_bytes());
    let _ = write!(out, ",{},", prov.line);
    if let Some(i) = prov.index {
        let _ = write!(out, "{i}");
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping_agrees_with_serde_on_every_byte() {
        for c in 0u8..=0x7f {
            for pad in 0..10 {
                let s = format!("{}{}{}", "a".repeat(pad), c as char, "é".repeat(pad % 3));
                let mut out = Vec::new();
                write_json_str(&mut out, &s);
                let back: String = serde_json::from_slice(&out).unwrap();
                assert_eq!(back, s, "byte {c:#x} at {pad}");
            }
        }
        let mut out = Vec::new();
        write_int(&mut out, i64::MIN);
        write_int(&mut out, 0);
        write_int(&mut out, 1234567);
        assert_eq!(String::from_utf8(out).unwrap(), "-922337203685477580801234567");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        write_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
        let v: String = serde_json::from_str(r#""a\"b\\c\nd\u0001é""#).unwrap();
        assert_eq!(v, "a\"b\\c\nd\u{1}é");
    }
}
