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
    for line in text.split('\n') {
        masked.clear();
        mask::mask_into(line, &mut masked);
        assert!(masked.len() <= (mask::MAX_TOKENS + 1) * (mask::MAX_TOKEN + 1), "{masked:?}");
        let c = drain.add("svc", &masked);
        let t = drain.cluster(c).text();
        // The message's words where the template is constant.
        if t != WILD {
            let (tw, mw): (Vec<&str>, Vec<&str>) = (t.split(' ').collect(), masked.split(' ').collect());
            assert_eq!(tw.len(), mw.len(), "{t:?} for {masked:?}");
            for (a, b) in tw.iter().zip(&mw) {
                assert!(a.contains(WILD) || a == b, "{t:?} for {masked:?}");
            }
        }
        assert!(drain.find("svc", &masked).is_some() || t == WILD, "{masked:?} is not found again");
    }
    assert!(drain.clusters().len() <= drain.cap() + 1);
});
