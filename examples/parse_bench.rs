//! Library-level parse throughput: the file is read into memory first, then
//! parsed (records built and serialized to JSON into a reused buffer) on one
//! thread and on all threads. Prints one tab-separated row per run:
//! `name  seconds  MB/s  records/s  records`.
//!
//! Usage: parse_bench FILE [FORMAT]

use logtrack::output;
use logtrack::parse::{Format, Outcome, ParserOptions, Provenance};
use logtrack::source::lines::for_each_line;
use rayon::prelude::*;
use std::time::Instant;

fn parse_span(parser: &dyn logtrack::parse::Parser, data: &[u8], buf: &mut Vec<u8>) -> u64 {
    let mut n = 0;
    for_each_line(data, 1, |line, no, off| {
        if let Outcome::Record(r) = parser.parse(line) {
            n += 1;
            let prov = Provenance { line: no, index: None, byte_offset: off as u64 };
            output::write_record_json(buf, &r, "\"f\"", prov);
            if buf.len() > 1 << 20 {
                buf.clear();
            }
        }
    });
    n
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: parse_bench FILE [FORMAT]");
    let format: Format = args.next().unwrap_or_else(|| "combined".into()).parse().unwrap();
    let data = std::fs::read(&path).unwrap();
    let parser = format.parser(&ParserOptions::default()).unwrap();
    let mb = data.len() as f64 / 1e6;

    let t = Instant::now();
    let mut buf = Vec::with_capacity(2 << 20);
    let n = parse_span(parser.as_ref(), &data, &mut buf);
    let s = t.elapsed().as_secs_f64();
    println!("library, 1 thread\t{s:.2}\t{:.0}\t{:.0}\t{n}", mb / s, n as f64 / s);

    // Chunks cut at line ends, parsed by every thread.
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let end = (start + (1 << 20)).min(data.len());
        let end = memchr::memrchr(b'\n', &data[start..end]).map_or(end, |i| start + i + 1);
        chunks.push(&data[start..end]);
        start = end;
    }
    let t = Instant::now();
    let n: u64 = chunks
        .par_iter()
        .map_init(|| Vec::with_capacity(2 << 20), |buf, c| parse_span(parser.as_ref(), c, buf))
        .sum();
    let s = t.elapsed().as_secs_f64();
    let threads = rayon::current_num_threads();
    println!("library, {threads} threads\t{s:.2}\t{:.0}\t{:.0}\t{n}", mb / s, n as f64 / s);
}
