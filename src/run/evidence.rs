//! The text of evidence lines, for reports: read back from the source
//! files once detection is done (only the lines alerts point at are kept,
//! each cut to [`EVIDENCE_TEXT`] bytes). An event inside a JSON document
//! (CloudTrail's `{"Records":[...]}`) has no line of its own: its text is
//! a one-line JSON of its key fields (see [`event_text`]). A line whose
//! file cannot be read any more (a report from the database on another
//! host) gets no text. The same lines get the same text in memory and with
//! a database, since both read the files.

use crate::detect::{Alert, EVIDENCE_TEXT};
use crate::source::json::JsonFramer;
use crate::source::Framer;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

/// Fills `text` of every evidence line of `alerts` that can be read.
pub fn fill_text(alerts: &mut [Alert]) {
    let mut wanted: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut events: BTreeMap<String, BTreeSet<(u64, u64)>> = BTreeMap::new();
    for e in alerts.iter().flat_map(|a| &a.evidence) {
        if e.path.as_ref() == "-" {
            continue;
        }
        match e.index {
            None => wanted.entry(e.path.to_string()).or_default().insert(e.line),
            Some(i) => events.entry(e.path.to_string()).or_default().insert((e.line, i)),
        };
    }
    let mut event_texts: BTreeMap<(String, u64, u64), String> = BTreeMap::new();
    for (path, at) in events {
        if let Ok(found) = read_events(&path, &at) {
            for ((line, index), text) in found {
                event_texts.insert((path.clone(), line, index), text);
            }
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
        e.text = match e.index {
            None => texts.get(&(e.path.to_string(), e.line)).cloned(),
            Some(i) => event_texts.get(&(e.path.to_string(), e.line, i)).cloned(),
        };
    }
}

/// The texts of the events of a JSON input at the given (line, index)
/// positions, as [`event_text`] gives them, stopping after the last one.
fn read_events(
    path: &str,
    at: &BTreeSet<(u64, u64)>,
) -> std::io::Result<BTreeMap<(u64, u64), String>> {
    let mut framer = JsonFramer::new(crate::source::open(path)?, crate::source::CHUNK_SIZE);
    let mut out = BTreeMap::new();
    while out.len() < at.len() {
        let Some(chunk) = framer.next_chunk()? else { break };
        chunk.for_each_unit(|unit, p| {
            let key = (p.line, p.index.unwrap_or(0));
            if at.contains(&key) {
                out.insert(key, event_text(unit));
            }
        });
    }
    Ok(out)
}

/// The fields of a CloudTrail event that say what happened, in this order
/// (a nested name is a path).
const EVENT_FIELDS: [&str; 11] = [
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userIdentity.type",
    "userIdentity.userName",
    "userIdentity.arn",
    "errorCode",
    "errorMessage",
    "insightDetails.eventName",
];

/// One event as one line: a compact JSON object of its [`EVENT_FIELDS`]
/// (`userIdentity.type` as `user.type`…), or, for an event that has none
/// of them, the whole event compacted; cut to [`EVIDENCE_TEXT`].
fn event_text(unit: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(unit) else {
        return text(unit);
    };
    let parts: Vec<String> = EVENT_FIELDS
        .iter()
        .filter_map(|name| {
            let found = name.split('.').try_fold(&v, |v, k| v.get(k))?;
            let named = || v.pointer("/userIdentity/userName").is_some_and(|u| !u.is_null());
            if found.is_null() || found.is_object() || found.is_array() {
                return None;
            }
            // The ARN only when there is no user name (a role's session).
            if *name == "userIdentity.arn" && named() {
                return None;
            }
            let key = name.replace("userIdentity.", "user.").replace("insightDetails.", "insight.");
            Some(format!("{}:{found}", serde_json::Value::String(key)))
        })
        .collect();
    let compact = if parts.is_empty() { v.to_string() } else { format!("{{{}}}", parts.join(",")) };
    text(compact.as_bytes())
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
    fn json_events_are_their_key_fields_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ct.json");
        let event = |name: &str, user: &str| {
            format!(
                r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","userName":"{user}","arn":"arn:aws:iam::1:user/{user}"}},"eventTime":"2026-03-14T10:50:00Z","eventSource":"iam.amazonaws.com","eventName":"{name}","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.24","requestParameters":{{"big":[1,2,3]}},"errorCode":"AccessDenied"}}"#
            )
        };
        let doc = format!(
            "{{\"Records\":[{},\n{},{{\"other\":[1, 2]}}]}}",
            event("ListUsers", "a"),
            event("CreateAccessKey", "deploy-bot")
        );
        std::fs::write(&p, doc).unwrap();
        let want: BTreeSet<(u64, u64)> = [(2, 2), (2, 3)].into_iter().collect();
        let got = read_events(p.to_str().unwrap(), &want).unwrap();
        assert_eq!(
            got[&(2, 2)],
            r#"{"eventTime":"2026-03-14T10:50:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.24","user.type":"IAMUser","user.userName":"deploy-bot","errorCode":"AccessDenied"}"#
        );
        // Not CloudTrail: the whole event, compacted.
        assert_eq!(got[&(2, 3)], r#"{"other":[1,2]}"#);
        assert_eq!(got.len(), 2, "{got:?}");
        // A role's session has no user name: its ARN says who.
        let role = br#"{"eventName":"ListRoles","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/ci/i-1"}}"#;
        assert_eq!(
            event_text(role),
            r#"{"eventName":"ListRoles","user.type":"AssumedRole","user.arn":"arn:aws:sts::1:assumed-role/ci/i-1"}"#
        );
        assert_eq!(event_text(b"{not json"), "{not json");
    }

    #[test]
    fn long_lines_are_cut_at_a_character() {
        let t = text("é".repeat(EVIDENCE_TEXT).as_bytes());
        assert!(t.len() <= EVIDENCE_TEXT + '…'.len_utf8());
        assert!(t.ends_with('…'));
        assert_eq!(text(b"plain\r"), "plain");
    }
}
