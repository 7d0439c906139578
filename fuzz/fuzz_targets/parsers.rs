//! Every format's parser over arbitrary input, framed as `logtrack` frames
//! it: the first byte picks the format. Parsers must never panic; whatever
//! they cannot read is a reject. Records that parse must also survive JSON
//! output and the time-range check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrack::parse::{auto, Detail, Format, Outcome, ParserOptions};
use logtrack::{output, read, source};

const FORMATS: &[&str] = &[
    "common",
    "combined",
    "clf",
    "hdfs",
    "hdfs-csv",
    "cloudtrail",
    "auto",
    "apache:%h %l %u %t \"%r\" %>s %b %D \"%{Referer}i\"",
    "nginx:$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent $request_time",
    "syslog",
    "journald",
    "json",
    "logfmt",
    "apache-error",
    "nginx-error",
    r"regex:^(?P<ts>\S+ \S+) (?P<severity>\w+) +\[(?P<thread>[^\]]*)\] (?P<user>\S+)@(?P<client_ip>\S+) (?P<message>.*)$",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else { return };
    let mut format: Format = FORMATS[pick as usize % FORMATS.len()].parse().unwrap();
    if format == Format::Auto {
        match auto::sniff(input) {
            Some(f) => format = f,
            None => return,
        }
    }
    let tz = if pick & 0x80 != 0 { "Europe/Berlin" } else { "UTC" };
    let opts = ParserOptions {
        timezone: tz.parse().unwrap(),
        // Access logs: every detail, none of the agents, or the lean record.
        detail: match (pick & 0x40 != 0, pick & 0x10 != 0) {
            (true, _) => Detail::Lean,
            (false, true) => Detail::NoAgents,
            (false, false) => Detail::Full,
        },
        // Text times in a strftime format, for half the inputs.
        ts_format: (pick & 0x20 != 0).then(|| "%Y-%m-%d %H:%M:%S,%3f".to_string()),
        year_ref: Some(1_735_689_600),
        ..Default::default()
    };
    let parser = format.parser(&opts).unwrap();
    let chunk = 1 + (pick as usize % 7) * 13;
    let mut framer =
        source::framer(format.framing(), Box::new(std::io::Cursor::new(input.to_vec())), chunk);
    let mut out = Vec::new();
    while let Ok(Some(c)) = framer.next_chunk() {
        c.for_each_unit(|unit, prov| {
            if let Outcome::Record(r) = parser.parse(unit) {
                let _ = read::ts_out_of_range(&r);
                out.clear();
                output::write_record_json(&mut out, &r, "\"fuzz\"", prov);
                assert!(std::str::from_utf8(&out).is_ok());
            }
        });
    }
});
