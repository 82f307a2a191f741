//! Live payloads: a score event's items decode one by one; none out of range gets through.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(e) = serde_json::from_slice::<situation_wall::api::ScoreEvent>(data) {
        let decoded = situation_wall::api::decode_scores(&e.scores, None);
        assert!(decoded.scores.iter().all(|s| s.score().validate().is_ok()));
    }
});
