//! The text of evidence lines, for reports: read back from the source
//! files once detection is done (only the lines alerts point at are kept,
//! each cut to [`EVIDENCE_TEXT`] bytes). An event inside a JSON document
//! (CloudTrail) has no line of its own and gets no text; nor does a line
//! whose file cannot be read any more (a report from the database on
//! another host). The same lines get the same text in memory and with a
//! database, since both read the files.

use crate::detect::{Alert, EVIDENCE_TEXT};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

/// Fills `text` of every evidence line of `alerts` that can be read.
pub fn fill_text(alerts: &mut [Alert]) {
    let mut wanted: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for e in alerts.iter().flat_map(|a| &a.evidence) {
        if e.index.is_none() && e.path.as_ref() != "-" {
            wanted.entry(e.path.to_string()).or_default().insert(e.line);
        }
    }
    let mut texts: BTreeMap<(String, u64), String> = BTreeMap::new();
    for (path, lines) in wanted {
        if let Ok(found) = read_lines(&path, &lines) {
            for (line, text) in found {
                texts.insert((path.clone(), line), text);
            }
        }
    }
    for e in alerts.iter_mut().flat_map(|a| &mut a.evidence) {
        if e.index.is_none() {
            e.text = texts.get(&(e.path.to_string(), e.line)).cloned();
        }
    }
}

/// The text of the given 1-based lines of `path` (decompressed), stopping
/// after the last one. Only wanted lines are copied.
fn read_lines(path: &str, lines: &BTreeSet<u64>) -> std::io::Result<Vec<(u64, String)>> {
    let mut r = crate::source::open(path)?;
    let mut out = Vec::new();
    let mut want = lines.iter().copied().peekable();
    let mut line = 1u64;
    // The part of a wanted line read so far (it may span buffers).
    let mut current = Vec::new();
    while let Some(&next) = want.peek() {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            // A last line without a line end.
            if line == next && !current.is_empty() {
                out.push((line, text(&current)));
            }
            break;
        }
        // No wanted line ends or starts here: count the line ends and go on
        // (memchr counts many bytes at a time, much faster than stopping
        // at each line end).
        let ends = memchr::memchr_iter(b'\n', buf).count() as u64;
        if next > line + ends {
            line += ends;
            let n = buf.len();
            r.consume(n);
            continue;
        }
        let (mut start, mut done) = (0, None);
        for nl in memchr::memchr_iter(b'\n', buf) {
            if want.peek() == Some(&line) {
                keep(&mut current, &buf[start..nl]);
                out.push((line, text(&current)));
                current.clear();
                want.next();
                if want.peek().is_none() {
                    done = Some(nl + 1);
                    break;
                }
            }
            line += 1;
            start = nl + 1;
        }
        if let Some(n) = done {
            r.consume(n);
            break;
        }
        if want.peek() == Some(&line) {
            keep(&mut current, &buf[start..]);
        }
        let n = buf.len();
        r.consume(n);
    }
    Ok(out)
}

/// Appends to `t` up to the text limit (plus a byte, to know it was cut).
fn keep(t: &mut Vec<u8>, bytes: &[u8]) {
    let room = (EVIDENCE_TEXT + 4).saturating_sub(t.len());
    t.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// A line's text: without its `\r`, valid UTF-8, at most [`EVIDENCE_TEXT`]
/// bytes (cut at a character boundary, with `…` when cut).
fn text(b: &[u8]) -> String {
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    let s = String::from_utf8_lossy(b);
    if s.len() <= EVIDENCE_TEXT {
        return s.into_owned();
    }
    let mut end = EVIDENCE_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_lines_are_found_across_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut text_in = String::new();
        for i in 1..=200_000 {
            text_in.push_str(&format!("line {i} {}\r\n", "x".repeat(i % 50)));
        }
        text_in.push_str("last line without end");
        std::fs::write(&p, &text_in).unwrap();
        let want: BTreeSet<u64> = [1, 2, 77_777, 199_999, 200_001].into_iter().collect();
        let got = read_lines(p.to_str().unwrap(), &want).unwrap();
        let lines: Vec<&str> = text_in.split("\r\n").collect();
        assert_eq!(got.len(), 5, "{got:?}");
        for (n, t) in got {
            assert_eq!(t, lines[n as usize - 1], "line {n}");
        }
    }

    #[test]
    fn a_wanted_line_longer_than_buffers_and_the_line_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let long = "y".repeat(300_000);
        let text_in = format!("{}{long}\nafter\n", "short\n".repeat(50_000));
        std::fs::write(&p, &text_in).unwrap();
        let want: BTreeSet<u64> = [50_001, 50_002].into_iter().collect();
        let got = read_lines(p.to_str().unwrap(), &want).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, 50_001);
        assert!(got[0].1.starts_with(&long[..EVIDENCE_TEXT]), "{}", got[0].1);
        assert_eq!(got[1], (50_002, "after".to_string()));
    }

    #[test]
    fn long_lines_are_cut_at_a_character() {
        let t = text("é".repeat(500).as_bytes());
        assert!(t.len() <= EVIDENCE_TEXT + '…'.len_utf8());
        assert!(t.ends_with('…'));
        assert_eq!(text(b"plain\r"), "plain");
    }
}
