//! The line framer at every small chunk size, in line and in CSV-record
//! mode: the units it yields are the input's bytes at their offsets;
//! positions never pass the input's length; holding back a partial line
//! never loses a complete one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrack::source::{lines::LineFramer, Framer, Start};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else { return };
    let chunk = 1 + pick as usize % 17;
    let hold = pick & 0x80 != 0;
    let csv = pick & 0x40 != 0;
    let start = Start { hold_partial: hold, ..Default::default() };
    let mut f = LineFramer::new(input, chunk);
    if csv {
        f = f.csv_records();
    }
    let mut f = f.resume(start);
    let mut seen = 0u64;
    let mut last_line = 0;
    while let Some(c) = f.next_chunk().unwrap() {
        c.for_each_unit(|line, prov| {
            assert!(prov.line > last_line, "line numbers go up");
            last_line = prov.line;
            let at = prov.byte_offset as usize;
            assert_eq!(&input[at..at + line.len()], line, "a line is the input's bytes");
            seen += 1;
        });
    }
    let (offset, lines) = f.position();
    assert!(offset as usize <= input.len());
    // A CSV record may span lines.
    if csv {
        assert!(lines >= seen);
    } else {
        assert_eq!(lines, seen);
    }
    if !hold {
        assert_eq!(offset as usize, input.len(), "everything is read");
    }
    let tail = f.tail();
    assert_eq!(&input[offset as usize - tail.len()..offset as usize], &tail[..]);
});
