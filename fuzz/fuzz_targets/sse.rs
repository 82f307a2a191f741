//! The event stream parser: any bytes, split at any point, give the same items (or the same
//! error) as fed whole, and never a panic.
#![no_main]
use situation_wall::feed::sse::SseParser;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&at, stream)) = data.split_first() else { return };
    let at = usize::from(at) % (stream.len() + 1);
    let max = 1 << 12;
    let whole = SseParser::new(max).feed(stream);
    let mut p = SseParser::new(max);
    let split = p.feed(&stream[..at]).and_then(|mut items| {
        items.extend(p.feed(&stream[at..])?);
        Ok(items)
    });
    match (whole, split) {
        (Ok(w), Ok(s)) => assert_eq!(w, s),
        (Err(a), Err(b)) => assert_eq!(a, b),
        (w, s) => panic!("whole {w:?}, split {s:?}"),
    }
});
