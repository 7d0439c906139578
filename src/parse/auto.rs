//! `auto`: the format of a file, sniffed from its first (decompressed) bytes.

use super::clf::{ClfParser, Mode};
use super::{Format, Outcome, Parser, Tz};

/// Looks at up to the first 20 non-blank lines and picks the format that
/// reads most of them. `None` when nothing fits.
pub fn sniff(head: &[u8]) -> Option<Format> {
    let start = head.iter().position(|c| !c.is_ascii_whitespace())?;
    let json = match head[start] {
        b'{' => true,
        // A JSON array, not an Apache error log's "[Sun Dec 04 ...".
        b'[' => head[start + 1..]
            .iter()
            .find(|c| !c.is_ascii_whitespace())
            .is_none_or(|c| matches!(c, b'{' | b']')),
        _ => false,
    };
    if json {
        return Some(Format::Cloudtrail);
    }
    let lines: Vec<&[u8]> = head
        .split(|c| *c == b'\n' || *c == b'\r')
        .filter(|l| !l.trim_ascii().is_empty())
        .take(20)
        .collect();
    if lines.first().is_some_and(|l| l.starts_with(b"LineId,Date,Time,")) {
        return Some(Format::HdfsCsv);
    }
    let candidates = [Format::Clf, Format::Hdfs, Format::HdfsCsv];
    let mut best = None;
    let mut best_ok = 0;
    for f in candidates {
        let parser: Box<dyn Parser> = match &f {
            Format::Clf => Box::new(ClfParser::new(Mode::Either, String::new(), Tz::default())),
            other => other.parser(&Default::default()).ok()?,
        };
        let ok = lines.iter().filter(|l| matches!(parser.parse(l), Outcome::Record(_))).count();
        if ok > best_ok {
            best_ok = ok;
            best = Some(f);
        }
    }
    best
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
        assert_eq!(sniff(b"[Sun Dec 04 04:47:44 2005] [notice] hello\n"), None);
    }
}
