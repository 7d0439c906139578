//! The JSON framer (CloudTrail documents, arrays, JSON lines, garbage) at
//! small chunk sizes: units are input bytes at their offsets, positions
//! stay inside the input, the tail is the bytes before the position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrack::source::{json::JsonFramer, Framer, Start};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else { return };
    let chunk = 1 + pick as usize % 23;
    let start = Start { hold_partial: pick & 0x80 != 0, ..Default::default() };
    let mut f = JsonFramer::new(input, chunk).resume(start);
    while let Some(c) = f.next_chunk().unwrap() {
        c.for_each_unit(|unit, prov| {
            let at = prov.byte_offset as usize;
            assert_eq!(&input[at..at + unit.len()], unit, "a unit is the input's bytes");
        });
    }
    let (offset, _) = f.position();
    assert!(offset as usize <= input.len());
    let tail = f.tail();
    assert_eq!(&input[offset as usize - tail.len()..offset as usize], &tail[..]);
    let _ = f.notes();
});
