//! Message templates of arbitrary lines: masking and the tree must never
//! panic, a template is bounded whatever the message, every message fits
//! the template it was given (its words where the template has no `<*>`),
//! and the cap holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrack::template::mask::{self, WILD};
use logtrack::template::Drain;

fuzz_target!(|data: &[u8]| {
    let Some((&cap, input)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(input);
    let mut drain = Drain::new(usize::from(cap % 8) + 1);
    let mut masked = String::new();
    let mut earlier: Vec<(String, u32)> = Vec::new();
    for line in text.split('\n') {
        masked.clear();
        mask::mask_into(line, &mut masked);
        assert!(masked.len() <= (mask::MAX_TOKENS + 1) * (mask::MAX_TOKEN + 1), "{masked:?}");
        let added = drain.add("svc", &masked);
        let c = drain.resolve(added);
        let t = drain.cluster(c).text();
        // The message's words where the template is constant.
        if t != WILD {
            let (tw, mw): (Vec<&str>, Vec<&str>) =
                (t.split(' ').collect(), masked.split(' ').collect());
            assert_eq!(tw.len(), mw.len(), "{t:?} for {masked:?}");
            for (a, b) in tw.iter().zip(&mw) {
                assert!(a.contains(WILD) || a == b, "{t:?} for {masked:?}");
            }
        }
        assert!(drain.find("svc", &masked).is_some() || t == WILD, "{masked:?} is not found again");
        // What it got earlier in the run is the same template, or one it
        // became part of.
        for (m, was) in &earlier {
            let now = drain.resolve(*was);
            let (tw, mw): (Vec<&str>, Vec<&str>) =
                (drain.cluster(now).text().split(' ').collect(), m.split(' ').collect());
            if drain.cluster(now).text() != WILD {
                assert_eq!(tw.len(), mw.len());
                assert!(
                    tw.iter().zip(&mw).all(|(a, b)| a.contains(WILD) || a == b),
                    "{m:?} no longer fits"
                );
            }
        }
        if earlier.len() < 64 {
            earlier.push((masked.clone(), c));
        }
    }
    // Templates that became part of another stay, resolved; the cap holds
    // for the others.
    let live = (0..drain.clusters().len() as u32).filter(|&c| drain.resolve(c) == c).count();
    assert!(live <= drain.cap() + 1);
});
