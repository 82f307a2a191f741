//! Recording lines: parse never panics and never lets a bad score through.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let rec = situation_wall::feed::Recording::parse_bytes(data);
    for (_, r) in &rec.records {
        if let situation_wall::feed::RecordBody::Scores { scores, .. } = &r.body {
            assert!(scores.iter().all(|s| s.score().validate().is_ok()));
        }
    }
});
