//! Fuzzes the volume/snapshot ID decoder with arbitrary bytes: it must never panic, and any
//! string it accepts must encode back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = journal::CompositeId::decode(text) {
        assert_eq!(id.encode(), text, "accepted IDs must round-trip");
    }
});
