//! The new formats under hostile input, end to end through framing and
//! parallel parsing: a 100 MB JSON line, deep nesting, every kind of line
//! end, bytes that are not UTF-8. Each bad line is one reject with its
//! reason; the lines around it are read; nothing panics.

mod common;

use logtrack::parse::ParserOptions;
use std::io::Write;

fn rendered(path: &std::path::Path, format: &str) -> String {
    common::render(path.to_str().unwrap(), format, &ParserOptions::default(), Some(4096))
}

#[test]
fn a_100_mb_json_line_is_one_reject_and_the_next_line_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(br#"{"time":"2025-01-01T00:00:00Z","msg":"before"}"#).unwrap();
    f.write_all(b"\n{\"time\":\"2025-01-01T00:00:01Z\",\"msg\":\"").unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\"}\n").unwrap();
    f.write_all(br#"{"time":"2025-01-01T00:00:02Z","msg":"after"}"#).unwrap();
    f.write_all(b"\n").unwrap();
    drop(f);
    let text = rendered(&path, "json");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text:.600}");
    assert!(lines[0].contains("\"message\":\"before\""));
    assert!(
        lines[1].starts_with("REJECT") && lines[1].contains("longer than the 8 MiB limit"),
        "{:.300}",
        lines[1]
    );
    assert!(lines[2].contains("\"message\":\"after\""));
    assert_eq!(lines[3], "# 2 records, 1 rejected, 3 lines");
}

#[test]
fn line_ends_and_broken_bytes_in_every_line_format() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &[u8]); 6] = [
        ("syslog", b"Jan  1 00:00:00 h a[1]: one", b"<13>1 2025-01-01T00:00:02Z h a - - - three \xff"),
        ("json", br#"{"time":"2025-01-01T00:00:00Z","msg":"one"}"#, b"{\"time\":\"2025-01-01T00:00:02Z\",\"msg\":\"three \xff\"}"),
        ("logfmt", b"time=2025-01-01T00:00:00Z msg=one", b"time=2025-01-01T00:00:02Z msg=\"three \xff\""),
        ("journald", br#"{"__REALTIME_TIMESTAMP":"1735689600000000","MESSAGE":"one"}"#, br#"{"__REALTIME_TIMESTAMP":"1735689602000000","MESSAGE":[116,104,114,101,101,32,255]}"#),
        ("apache-error", b"[Wed Jan 01 00:00:00 2025] [error] one", b"[Wed Jan 01 00:00:02 2025] [error] three \xff"),
        ("nginx-error", b"2025/01/01 00:00:00 [error] 1#1: one", b"2025/01/01 00:00:02 [error] 1#1: three \xff"),
    ];
    for (format, first, third) in cases {
        let path = dir.path().join(format!("{format}.log"));
        // CRLF, a lone CR, a blank CRLF line, a broken line, no final line end.
        let mut data = Vec::new();
        data.extend_from_slice(first);
        data.extend_from_slice(b"\r\n");
        data.extend_from_slice(b"\x00\x01 not a line of this format\r");
        data.extend_from_slice(third);
        data.extend_from_slice(b"\r\n\r\n");
        data.extend_from_slice(first);
        std::fs::write(&path, &data).unwrap();
        let text = rendered(&path, format);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{format}: {text}");
        assert!(lines[0].contains("one"), "{format}: {text}");
        assert!(lines[1].starts_with("REJECT") && lines[1].contains(":2 "), "{format}: {text}");
        assert!(lines[2].contains("three \u{fffd}"), "{format}: {text}");
        assert!(lines[3].contains("\"line\":5"), "{format}: {text}");
        assert_eq!(lines[4], "# 3 records, 1 rejected, 5 lines", "{format}");
    }
}

/// Times from year 1 or far ahead, as text and as epoch numbers, are
/// rejects naming the file and line, in every format that reads a year.
#[test]
fn records_dated_year_1_are_rejects_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    for (format, line) in [
        ("json", r#"{"time":"0001-01-01T00:00:00Z","msg":"x"}"#),
        ("json", r#"{"ts":99999999999,"msg":"year 5138"}"#),
        ("logfmt", "time=0001-01-01T00:00:00Z msg=x"),
        ("syslog", "0001-01-01T00:00:00Z h app: x"),
        ("journald", r#"{"__REALTIME_TIMESTAMP":"99999999999999999","MESSAGE":"x"}"#),
        ("apache-error", "[Mon Jan 01 00:00:00 0001] [error] x"),
        ("nginx-error", "0001/01/01 00:00:00 [error] 1#1: x"),
    ] {
        let path = dir.path().join(format!("{format}.log"));
        std::fs::write(&path, format!("{line}\n")).unwrap();
        let text = rendered(&path, format);
        let want = format!("REJECT {}:1 (", path.display());
        assert!(text.starts_with(&want), "{format}: {text}");
        assert!(
            text.contains("outside the supported range") || text.contains("out of range"),
            "{format}: {text}"
        );
        assert!(text.ends_with("# 0 records, 1 rejected, 1 lines\n"), "{format}: {text}");
    }
}
