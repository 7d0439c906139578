//! Writing normalized records: JSON lines (DESIGN.md's shape, keys always
//! present) and CSV. Hand-rolled JSON so a chunk's records go straight into
//! one reusable byte buffer with no intermediate values.

use crate::parse::{Provenance, Record};
use std::io::Write;

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
        // Field names are identifiers by construction (parsers make them
        // from fixed names or sanitized directive names), so they are
        // written without escaping.
        debug_assert!(k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'), "{k}");
        out.push(b'"');
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"\":");
        v.write_json(out);
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
