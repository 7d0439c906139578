//! `auto`: the format of a file, sniffed from its first (decompressed) bytes.

use super::clf::{ClfParser, Mode};
use super::{mapped, Format, Outcome, Parser, Tz};

/// Looks at up to the first 20 non-blank lines and picks the format that
/// reads most of them. `None` when nothing fits.
pub fn sniff(head: &[u8]) -> Option<Format> {
    let start = head.iter().position(|c| !c.is_ascii_whitespace())?;
    let array = head[start] == b'['
        // A JSON array, not an Apache error log's "[Sun Dec 04 ...".
        && head[start + 1..].iter().find(|c| !c.is_ascii_whitespace()).is_none_or(|c| matches!(c, b'{' | b']'));
    if array {
        // Only CloudTrail is read from JSON arrays (`json` is JSON lines).
        return Some(Format::Cloudtrail);
    }
    if head[start] == b'{' {
        return Some(json_kind(&head[start..]));
    }
    let lines: Vec<&[u8]> = head
        .split(|c| *c == b'\n' || *c == b'\r')
        .filter(|l| !l.trim_ascii().is_empty())
        .take(20)
        .collect();
    if lines.first().is_some_and(|l| l.starts_with(b"LineId,Date,Time,")) {
        return Some(Format::HdfsCsv);
    }
    // In order of preference when two read as many lines.
    let candidates = [
        Format::Clf,
        Format::Hdfs,
        Format::HdfsCsv,
        Format::ApacheError,
        Format::NginxError,
        Format::Syslog,
        Format::Logfmt,
    ];
    let mut best = None;
    let mut best_ok = 0;
    for f in candidates {
        let ok = match &f {
            // Almost any line has a word=word in it: logfmt must look like it.
            // A line that starts with a syslog time is no logfmt, whatever
            // key=value pairs its message holds.
            Format::Logfmt => lines
                .iter()
                .filter(|l| {
                    super::time::parse_bsd_time(l).is_none() && mapped::looks_like_logfmt(l)
                })
                .count(),
            Format::Clf => {
                let parser = ClfParser::new(Mode::Either, String::new(), Tz::default());
                count(&parser, &lines)
            }
            other => count(other.parser(&Default::default()).ok()?.as_ref(), &lines),
        };
        if ok > best_ok {
            best_ok = ok;
            best = Some(f);
        }
    }
    best
}

fn count(parser: &dyn Parser, lines: &[&[u8]]) -> usize {
    lines.iter().filter(|l| matches!(parser.parse(l), Outcome::Record(_))).count()
}

/// JSON that starts with an object: CloudTrail (a `{"Records":[...]}`
/// document, events, digests), the journal's export, or application JSON lines.
fn json_kind(head: &[u8]) -> Format {
    // The first object's keys: its line, or (pretty-printed) its first 8 KiB.
    let first = match memchr::memchr(b'\n', head) {
        Some(i) if head[..i].trim_ascii().len() > 1 => &head[..i],
        _ => &head[..head.len().min(8 << 10)],
    };
    let has = |key: &[u8]| memchr::memmem::find(first, key).is_some();
    let after_brace = head[1..]
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .map_or(&b""[..], |i| &head[1 + i..]);
    if after_brace.starts_with(b"\"Records\"")
        || (has(b"\"eventVersion\"") && has(b"\"eventSource\""))
        || has(b"\"digestStartTime\"")
    {
        Format::Cloudtrail
    } else if has(b"\"__REALTIME_TIMESTAMP\"") || has(b"\"__CURSOR\"") {
        Format::Journald
    } else {
        Format::Json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_family() {
        assert_eq!(sniff(br#"{"Records":[]}"#), Some(Format::Cloudtrail));
        assert_eq!(
            sniff(b"081109 203518 143 INFO dfs.DataNode$DataXceiver: Receiving block blk_1\n"),
            Some(Format::Hdfs)
        );
        assert_eq!(
            sniff(b"1.2.3.4 - - [20/Jan/2020:21:32:14 -0700] \"GET / HTTP/1.1\" 200 1\n"),
            Some(Format::Clf)
        );
        assert_eq!(sniff(b"LineId,Date,Time,Pid,Level\n"), Some(Format::HdfsCsv));
        assert_eq!(
            sniff(b"[Sun Dec 04 04:47:44 2005] [notice] hello\n"),
            Some(Format::ApacheError)
        );
        assert_eq!(sniff(b"plain words\nmore words\n"), None);
    }

    #[test]
    fn sniffs_the_new_formats() {
        for (head, want) in [
            (
                &b"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user x from 1.2.3.4\n"[..],
                Format::Syslog,
            ),
            (b"<13>1 2024-05-01T12:00:00Z h app - - - hi\n", Format::Syslog),
            (b"2024-05-01T12:00:00.123456+02:00 h cron[1]: x\n", Format::Syslog),
            (
                b"{\"__CURSOR\":\"s\",\"__REALTIME_TIMESTAMP\":\"1\",\"MESSAGE\":\"x\"}\n",
                Format::Journald,
            ),
            (b"{\"level\":30,\"time\":1,\"msg\":\"x\"}\n", Format::Json),
            (b"{\n  \"Records\": []}", Format::Cloudtrail),
            (b"[\n  {\n    \"eventVersion\": \"1.08\",\n    \"eventSource\": \"iam.amazonaws.com\"", Format::Cloudtrail),

            (
                b"{\"eventVersion\":\"1.08\",\"eventSource\":\"s3.amazonaws.com\"}\n",
                Format::Cloudtrail,
            ),
            (b"ts=2024-05-01T12:00:00Z level=info msg=hi\n", Format::Logfmt),
            (b"2024/05/01 12:00:00 [error] 1#0: *1 x, client: 1.2.3.4\n", Format::NginxError),
        ] {
            assert_eq!(sniff(head), Some(want.clone()), "{}", String::from_utf8_lossy(head));
        }
    }
}
