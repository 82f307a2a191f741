//! An incremental Server-Sent Events parser: bytes in, events out. Std only, no async.
//!
//! It follows the WHATWG HTML Living Standard, section 9.2.6 "Interpreting an event stream"
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>):
//!
//! * one UTF-8 byte order mark is stripped at the very start of the stream (only there, and
//!   only all three bytes `EF BB BF`, even when they arrive in separate chunks);
//! * a line ends in CRLF, LF or CR; a CR that ends one chunk and an LF that starts the next
//!   are one line end;
//! * each line is decoded as UTF-8 once it is complete, so characters split across chunks
//!   decode correctly, and invalid bytes become U+FFFD as the spec's "UTF-8 decode" does;
//! * a blank line dispatches the event, a line starting with `:` is a comment, `field:value`
//!   loses one leading space from its value, and a line without a colon is a field with an
//!   empty value;
//! * `data` lines are joined with LF, `event` sets the type (`message` when empty), `id` sets
//!   the last event ID (ignored when it contains U+0000; it persists across events until
//!   changed), `retry` with ASCII digits only sets the reconnection time, and other fields
//!   are ignored;
//! * at the end of the stream an unfinished event (one without its blank line) is discarded.
//!
//! Unlike a browser, the parser also reports comments and `retry` fields as they come
//! ([`SseItem::Comment`], [`SseItem::Retry`]), so a client can treat keep-alives as proof of
//! life and honour `retry:` sent in a block without data. It never panics, whatever the bytes,
//! and memory is bounded by the cap given to [`SseParser::new`].

use std::fmt;

/// The UTF-8 byte order mark.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event (WHATWG HTML 9.2.6, "dispatch the event").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The last event ID buffer as of the dispatch: the value of the newest `id` field in the
    /// stream so far, in this block or an earlier one (it persists until changed), or empty
    /// when none came or the newest was `id` with an empty value.
    pub id: String,
    /// The event type: the `event` field's value, or `message` when it was empty or absent.
    pub event: String,
    /// The `data` field values joined with `\n`, without a trailing `\n`. May be empty (a
    /// block with a `data` line whose value is empty).
    pub data: String,
}

/// What the parser found in the stream, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseItem {
    /// A complete event, dispatched by a blank line.
    Event(SseEvent),
    /// A comment line (one starting with `:`): the text after the colon, verbatim (a leading
    /// space is kept). Servers send these as keep-alives; browsers ignore them.
    Comment(String),
    /// A `retry` field whose value is ASCII digits only: the reconnection time the server
    /// asks for, in milliseconds. Reported when the line is read, whether or not its block
    /// is ever dispatched. Values with any other character, empty ones and ones too large for
    /// a `u64` are ignored, per the spec.
    Retry(u64),
}

/// Why the parser gave up on a stream. Both are caps the spec leaves to the implementation
/// ("appropriate buffering"); after either, the parser stays failed and returns the same
/// error until [`SseParser::finish`] resets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SseError {
    /// A line (finished or not, without its line end) grew past `limit` bytes.
    LineTooLong {
        /// The cap, bytes.
        limit: usize,
    },
    /// The data buffer of one event (its `data` values and the LFs between them) grew past
    /// `limit` bytes before a blank line dispatched it.
    EventTooLarge {
        /// The cap, bytes.
        limit: usize,
    },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong { limit } => write!(f, "event stream line longer than {limit} bytes"),
            Self::EventTooLarge { limit } => write!(f, "event stream event data larger than {limit} bytes"),
        }
    }
}

impl std::error::Error for SseError {}

/// An incremental event stream parser for one stream (one HTTP response): feed it the body's
/// chunks as they come, split anywhere, and it returns what each completes. Splitting a
/// stream differently never changes the items (WHATWG HTML 9.2.6 "Interpreting an event
/// stream").
#[derive(Clone, Debug)]
pub struct SseParser {
    /// Cap on one line and on one event's data buffer, bytes.
    max_bytes: usize,
    /// While still at the start of the stream: how many bytes of a BOM have been seen.
    bom_matched: Option<usize>,
    /// The unfinished line's bytes, undecoded.
    line: Vec<u8>,
    /// The last byte fed was a CR that ended a line: an LF right after it is part of that line
    /// end.
    after_cr: bool,
    /// The spec's data buffer.
    data: String,
    /// The spec's event type buffer.
    event_type: String,
    /// The spec's last event ID buffer.
    last_event_id: String,
    /// Set once a cap was exceeded.
    failed: Option<SseError>,
}

impl SseParser {
    /// A parser at the start of a stream. `max_bytes` caps both the longest line and the
    /// largest data of one event, in bytes (the stream itself may be endless); going past it
    /// is an [`SseError`].
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            bom_matched: Some(0),
            line: Vec::new(),
            after_cr: false,
            data: String::new(),
            event_type: String::new(),
            last_event_id: String::new(),
            failed: None,
        }
    }

    /// The last event ID buffer now: the newest valid `id` field's value, or empty.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Parses the next `chunk` of the stream (any length, split anywhere, even inside a UTF-8
    /// character, a BOM or a CRLF) and returns the items that the lines it completes make, in
    /// stream order. An unfinished line waits for the next chunk; a line ending in CR is
    /// handled at once, without waiting to see whether an LF follows.
    ///
    /// # Errors
    /// [`SseError::LineTooLong`] when a line, finished or not, exceeds the cap, and
    /// [`SseError::EventTooLarge`] when one event's data does. The items of the chunk that
    /// fails are lost, and the parser stays failed: later calls return the same error. Drop
    /// the stream then.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseItem>, SseError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut out = Vec::new();
        match self.feed_into(chunk, &mut out) {
            Ok(()) => Ok(out),
            Err(e) => {
                self.failed = Some(e);
                Err(e)
            }
        }
    }

    /// Ends the stream. Per the spec, pending data is discarded: an unfinished last line and
    /// an event without its final blank line are never dispatched, so this returns no items;
    /// it returns true when something was discarded that way (the stream ended inside a
    /// block). The parser is then as [`SseParser::new`] made it, ready for a new stream (with
    /// an empty last event ID buffer: a client resuming with `Last-Event-ID` keeps its own).
    pub fn finish(&mut self) -> bool {
        let discarded = !self.line.is_empty() || !self.data.is_empty() || !self.event_type.is_empty() || self.bom_matched.is_some_and(|m| m > 0);
        *self = Self::new(self.max_bytes);
        discarded
    }

    fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        let mut rest = chunk;
        if let Some(mut matched) = self.bom_matched {
            while matched < BOM.len() {
                match rest.split_first() {
                    None => {
                        self.bom_matched = Some(matched);
                        return Ok(());
                    }
                    Some((&b, tail)) if b == BOM[matched] => {
                        matched += 1;
                        rest = tail;
                    }
                    Some(_) => break,
                }
            }
            self.bom_matched = None;
            if matched < BOM.len() {
                // Not a BOM after all: the bytes that looked like its start are stream bytes.
                self.scan(&BOM[..matched], out)?;
            }
        }
        self.scan(rest, out)
    }

    /// Splits bytes into lines, handling each complete one.
    fn scan(&mut self, mut bytes: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if self.after_cr
            && let Some((&first, tail)) = bytes.split_first()
        {
            self.after_cr = false;
            if first == b'\n' {
                bytes = tail;
            }
        }
        // memchr2 scans a word at a time; a score event's data line is tens of kilobytes.
        while let Some(end) = memchr::memchr2(b'\r', b'\n', bytes) {
            if self.line.is_empty() {
                // The whole line is in this chunk: handled where it lies, not copied first.
                if end > self.max_bytes {
                    return Err(SseError::LineTooLong { limit: self.max_bytes });
                }
                self.line_done(&bytes[..end], out)?;
            } else {
                self.push(&bytes[..end])?;
                let line = std::mem::take(&mut self.line);
                let handled = self.line_done(&line, out);
                self.line = line;
                self.line.clear();
                handled?;
            }
            let after = &bytes[end + 1..];
            bytes = if bytes[end] == b'\r' {
                match after.split_first() {
                    Some((b'\n', tail)) => tail,
                    Some(_) => after,
                    None => {
                        self.after_cr = true;
                        after
                    }
                }
            } else {
                after
            };
        }
        self.push(bytes)
    }

    /// Appends to the unfinished line, within the cap.
    fn push(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len().saturating_add(bytes.len()) > self.max_bytes {
            return Err(SseError::LineTooLong { limit: self.max_bytes });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// Handles one complete line (without its line end).
    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        // CR, LF and ':' are ASCII, and no UTF-8 sequence, valid or not, spans them, so
        // decoding whole lines is the same as decoding the stream, then splitting it.
        // Valid UTF-8 (nearly always) is checked by the standard library's fast path; only a
        // line with invalid bytes pays for the replacement.
        let text = match std::str::from_utf8(line) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(line),
        };
        if let Some(comment) = text.strip_prefix(':') {
            out.push(SseItem::Comment(comment.to_owned()));
            return Ok(());
        }
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*text, ""),
        };
        match field {
            "event" => {
                self.event_type.clear();
                self.event_type.push_str(value);
            }
            "data" => {
                if self.data.len().saturating_add(value.len()).saturating_add(1) > self.max_bytes {
                    return Err(SseError::EventTooLarge { limit: self.max_bytes });
                }
                if self.data.is_empty() {
                    // Most events have one data line: one allocation of its size, not a
                    // doubling series (the buffer is handed on with the event).
                    self.data.reserve(value.len() + 1);
                }
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => {
                self.last_event_id.clear();
                self.last_event_id.push_str(value);
            }
            // Digits only, so no sign, space or point; too large for a u64 fails the parse.
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    out.push(SseItem::Retry(ms));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The spec's "dispatch the event", on a blank line.
    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event = if self.event_type.is_empty() { "message".to_owned() } else { std::mem::take(&mut self.event_type) };
        out.push(SseItem::Event(SseEvent { id: self.last_event_id.clone(), event, data }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: usize = 1 << 20;

    fn ev(id: &str, event: &str, data: &str) -> SseItem {
        SseItem::Event(SseEvent { id: id.into(), event: event.into(), data: data.into() })
    }

    /// Feeds the chunks in turn, collecting items; stops at the first error.
    fn run(max: usize, chunks: &[&[u8]]) -> (Vec<SseItem>, Option<SseError>) {
        let mut p = SseParser::new(max);
        let mut items = Vec::new();
        for c in chunks {
            match p.feed(c) {
                Ok(v) => items.extend(v),
                Err(e) => return (items, Some(e)),
            }
        }
        (items, None)
    }

    fn whole(bytes: &[u8]) -> Vec<SseItem> {
        let (items, err) = run(BIG, &[bytes]);
        assert_eq!(err, None);
        items
    }

    fn bytewise(bytes: &[u8]) -> Vec<SseItem> {
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        let (items, err) = run(BIG, &chunks);
        assert_eq!(err, None);
        items
    }

    #[test]
    fn a_leading_bom_is_stripped() {
        assert_eq!(whole(b"\xEF\xBB\xBFdata: x\n\n"), [ev("", "message", "x")]);
    }

    #[test]
    fn a_leading_bom_split_across_chunks_is_stripped() {
        let want = [ev("", "message", "x")];
        assert_eq!(run(BIG, &[b"\xEF", b"\xBB\xBFdata: x\n\n"]).0, want);
        assert_eq!(run(BIG, &[b"\xEF\xBB", b"\xBF", b"data: x\n\n"]).0, want);
        assert_eq!(run(BIG, &[b"", b"\xEF", b"", b"\xBB", b"\xBF", b"data: x\n", b"\n"]).0, want);
        assert_eq!(bytewise(b"\xEF\xBB\xBFdata: x\n\n"), want);
    }

    #[test]
    fn only_one_bom_and_only_at_the_start_is_stripped() {
        // A second BOM is part of the first field's name ("\u{FEFF}data"), which is unknown.
        assert_eq!(whole(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n"), [ev("", "message", "y")]);
        // After the start a BOM is an ordinary character.
        assert_eq!(whole(b"data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: \xEF\xBB\xBFc\n\n"), [ev("", "message", "a"), ev("", "message", "\u{FEFF}c")]);
    }

    #[test]
    fn bytes_that_only_start_like_a_bom_are_stream_bytes() {
        // EF BB then "d": not a BOM; the truncated sequence decodes to one U+FFFD in the field
        // name, so no data field and no event.
        assert_eq!(run(BIG, &[b"\xEF\xBB", b"data: x\n\n"]).0, []);
        // The two bytes count towards the line cap: 2 > 1.
        assert_eq!(run(1, &[b"\xEF", b"\xBB\n"]).1, Some(SseError::LineTooLong { limit: 1 }));
        // A stripped BOM does not.
        assert_eq!(run(0, &[b"\xEF", b"\xBB\xBF\n"]), (vec![], None));
        // A lone EF before a blank line: a one-character line (U+FFFD), not a blank one.
        assert_eq!(run(BIG, &[b"\xEFdata: x\n\n"]).0, []);
        assert_eq!(whole(b"\xEF\ndata: x\n\n"), [ev("", "message", "x")]);
    }

    #[test]
    fn crlf_lf_and_cr_all_end_lines() {
        let want = vec![ev("", "message", "a\nb\nc"), ev("", "message", "d")];
        assert_eq!(whole(b"data: a\r\ndata: b\ndata: c\r\rdata: d\n\r\n"), want);
        assert_eq!(bytewise(b"data: a\r\ndata: b\ndata: c\r\rdata: d\n\r\n"), want);
        // LF CR is two line ends, so it dispatches.
        assert_eq!(whole(b"data: a\n\rdata: b\r\r"), [ev("", "message", "a"), ev("", "message", "b")]);
    }

    #[test]
    fn a_cr_ending_a_chunk_and_an_lf_starting_the_next_are_one_line_end() {
        // Were CR | LF two line ends, the blank line between would dispatch "a" alone.
        assert_eq!(run(BIG, &[b"data: a\r", b"\ndata: b\r\n\r\n"]).0, [ev("", "message", "a\nb")]);
        // Also with empty chunks between them.
        assert_eq!(run(BIG, &[b"data: a\r", b"", b"", b"\ndata: b\r", b"\n\r", b"\n"]).0, [ev("", "message", "a\nb")]);
    }

    #[test]
    fn a_cr_line_end_is_handled_without_waiting_for_the_next_chunk() {
        let mut p = SseParser::new(BIG);
        assert_eq!(p.feed(b"data: a\r").unwrap(), []);
        assert_eq!(p.feed(b"\r").unwrap(), [ev("", "message", "a")], "CR then CR: a blank line, dispatched at once");
        assert_eq!(p.feed(b"\n").unwrap(), [], "the LF belongs to the CR before it");
        assert_eq!(p.feed(b": ping\r").unwrap(), [SseItem::Comment(" ping".into())]);
    }

    #[test]
    fn utf8_characters_split_across_chunks_decode() {
        let text = "data: 朝阳区 🛰 数据\n\n";
        let want = [ev("", "message", "朝阳区 🛰 数据")];
        assert_eq!(bytewise(text.as_bytes()), want);
        for at in 0..=text.len() {
            let (a, b) = text.as_bytes().split_at(at);
            assert_eq!(run(BIG, &[a, b]).0, want, "split at byte {at}");
        }
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        // FF: invalid; E6 95 then LF: a truncated sequence, one U+FFFD; C0 80: two (C0 is
        // never a lead byte); ED A0 80 (a surrogate): three, as the Encoding Standard says.
        assert_eq!(
            whole(b"data: a\xFFb\ndata: \xE6\x95\ndata: \xC0\x80\ndata: \xED\xA0\x80\n\n"),
            [ev("", "message", "a\u{FFFD}b\n\u{FFFD}\n\u{FFFD}\u{FFFD}\n\u{FFFD}\u{FFFD}\u{FFFD}")]
        );
        // A truncated sequence before a CR line end is replaced, and the CR still ends the line.
        assert_eq!(bytewise(b"data: \xF0\x9F\rdata: x\r\r"), [ev("", "message", "\u{FFFD}\nx")]);
    }

    #[test]
    fn a_line_starting_with_a_colon_is_a_comment() {
        assert_eq!(
            whole(b": keep-alive\n:\n:x: y\ndata: 1\n:between\n\n"),
            [
                SseItem::Comment(" keep-alive".into()),
                SseItem::Comment(String::new()),
                SseItem::Comment("x: y".into()),
                SseItem::Comment("between".into()),
                ev("", "message", "1"),
            ]
        );
    }

    #[test]
    fn a_field_without_a_colon_has_an_empty_value() {
        // The spec's example: the first block dispatches empty data, the second one LF.
        assert_eq!(whole(b"data\n\ndata\ndata\n\ndata:\n"), [ev("", "message", ""), ev("", "message", "\n")]);
        // "event" alone: an empty type, so "message".
        assert_eq!(whole(b"event: a\nevent\ndata: x\n\n"), [ev("", "message", "x")]);
        // "id" alone resets the last event id.
        assert_eq!(whole(b"id: 5\ndata: x\n\nid\ndata: y\n\n"), [ev("5", "message", "x"), ev("", "message", "y")]);
    }

    #[test]
    fn only_one_leading_space_is_stripped_from_a_value() {
        assert_eq!(
            whole(b"data:x\n\ndata: x\n\ndata:  x\n\ndata: x \n\ndata:\tx\n\nevent:  spaced\ndata: y\n\n"),
            [
                ev("", "message", "x"),
                ev("", "message", "x"),
                ev("", "message", " x"),
                ev("", "message", "x "),
                ev("", "message", "\tx"),
                ev("", " spaced", "y"),
            ]
        );
        // Only the first colon separates: the rest is value.
        assert_eq!(whole(b"data: a: b\n\n"), [ev("", "message", "a: b")]);
        // No space before the colon is stripped: "data " is another field.
        assert_eq!(whole(b"data : x\n\n"), []);
    }

    #[test]
    fn data_lines_join_with_lf_and_the_last_lf_is_removed() {
        assert_eq!(whole(b"data: YHOO\ndata: +2\ndata: 10\n\n"), [ev("", "message", "YHOO\n+2\n10")]);
        // A trailing empty data line leaves one LF at the end (only the last is removed).
        assert_eq!(whole(b"data: a\ndata:\n\n"), [ev("", "message", "a\n")]);
        assert_eq!(whole(b"data:\ndata:\ndata:\n\n"), [ev("", "message", "\n\n")]);
    }

    #[test]
    fn an_empty_data_buffer_dispatches_nothing_but_resets_the_event_type() {
        assert_eq!(whole(b"event: score\n\ndata: x\n\n"), [ev("", "message", "x")]);
        assert_eq!(whole(b"event: score\nid: 3\nretry: 10\n\n"), [SseItem::Retry(10)]);
        assert_eq!(whole(b"\n\n\n\n"), []);
    }

    #[test]
    fn the_event_field_sets_the_type_and_resets_after_dispatch() {
        assert_eq!(
            whole(b"event: score\ndata: 1\n\ndata: 2\n\nevent: a\nevent: b\ndata: 3\n\n"),
            [ev("", "score", "1"), ev("", "message", "2"), ev("", "b", "3")]
        );
    }

    #[test]
    fn an_id_containing_nul_is_ignored() {
        assert_eq!(whole(b"id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"), [ev("1", "message", "a"), ev("1", "message", "b")]);
        assert_eq!(whole(b"id: \0\ndata: a\n\n"), [ev("", "message", "a")]);
    }

    #[test]
    fn the_last_event_id_persists_until_changed_and_an_empty_id_resets_it() {
        let mut p = SseParser::new(BIG);
        let items = p.feed(b"id: 7\ndata: a\n\ndata: b\n\nid: 8\n\ndata: c\n\nid:\ndata: d\n\ndata: e\n\nid: 9\ndata: f\n\n").unwrap();
        assert_eq!(
            items,
            [
                ev("7", "message", "a"),
                ev("7", "message", "b"),
                ev("8", "message", "c"),
                ev("", "message", "d"),
                ev("", "message", "e"),
                ev("9", "message", "f")
            ]
        );
        assert_eq!(p.last_event_id(), "9");
        // An id in a block that never dispatches still sets the buffer.
        assert_eq!(p.feed(b"id: 10\ndata").unwrap(), []);
        assert_eq!(p.last_event_id(), "10");
        // The value is kept verbatim (bar the one space), not trimmed or parsed.
        assert_eq!(whole(b"id:  01 \ndata: x\n\n"), [ev(" 01 ", "message", "x")]);
    }

    #[test]
    fn retry_with_ascii_digits_is_reported_even_in_a_block_without_data() {
        assert_eq!(whole(b"retry: 1500\n\n"), [SseItem::Retry(1500)]);
        assert_eq!(whole(b"retry:0\n\nretry: 007\n\n"), [SseItem::Retry(0), SseItem::Retry(7)]);
        // Before the event it belongs to, and across chunks.
        assert_eq!(run(BIG, &[b"retry: 15", b"00\r\ndata: x\r\n\r\n"]).0, [SseItem::Retry(1500), ev("", "message", "x")]);
        assert_eq!(whole(&format!("retry: {}\n", u64::MAX).into_bytes()), [SseItem::Retry(u64::MAX)]);
    }

    #[test]
    fn retry_with_anything_but_ascii_digits_is_ignored() {
        let ignored = b"retry:\nretry\nretry: \nretry:  10\nretry: 10 \nretry: +10\nretry: -1\nretry: 1.5\nretry: 1e3\nretry: \xEF\xBC\x91\nretry: 18446744073709551616\nRetry: 10\n\n";
        assert_eq!(whole(ignored), []);
    }

    #[test]
    fn unknown_fields_are_ignored_and_field_names_are_case_sensitive() {
        assert_eq!(whole(b"foo: bar\nData: no\nDATA: no\nid : 1\nevents: x\n\xFF: y\ndata: yes\n\n"), [ev("", "message", "yes")]);
    }

    #[test]
    fn a_blank_line_dispatches_each_event() {
        let mut p = SseParser::new(BIG);
        assert_eq!(p.feed(b"id: 1\nevent: score\ndata: {}\n").unwrap(), []);
        assert_eq!(p.feed(b"\n").unwrap(), [ev("1", "score", "{}")]);
        assert_eq!(p.feed(b"data: 2\n\ndata: 3\n\n").unwrap(), [ev("1", "message", "2"), ev("1", "message", "3")]);
    }

    #[test]
    fn an_event_without_its_final_blank_line_is_not_dispatched_at_the_end_of_the_stream() {
        let mut p = SseParser::new(BIG);
        assert_eq!(p.feed(b"id: 5\nevent: score\ndata: 50\n\nid: 6\nevent: score\ndata: 99\n").unwrap(), [ev("5", "score", "50")]);
        assert!(p.finish(), "event 6 was pending and is discarded");
        // The parser is fresh again: nothing of event 6 survives into a new stream.
        assert_eq!(p.feed(b"\n").unwrap(), []);
        assert_eq!(p.feed(b"data: x\n\n").unwrap(), [ev("", "message", "x")]);
        assert!(!p.finish(), "nothing pending after a blank line");
        // An unfinished last line is discarded too, even one that would be a whole field.
        let mut p = SseParser::new(BIG);
        assert_eq!(p.feed(b"data: 1\n\nretry: 20").unwrap(), [ev("", "message", "1")]);
        assert!(p.finish());
        // A stream ending on CR has no unfinished line.
        assert_eq!(p.feed(b"data: x\r\r").unwrap(), [ev("", "message", "x")]);
        assert!(!p.finish());
        // A fresh parser strips a BOM again.
        assert_eq!(p.feed(b"\xEF\xBB\xBFdata: y\n\n").unwrap(), [ev("", "message", "y")]);
    }

    #[test]
    fn the_spec_examples_parse_as_the_spec_says() {
        // 9.2.6's examples.
        assert_eq!(
            whole(b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"),
            [SseItem::Comment(" test stream".into()), ev("1", "message", "first event"), ev("", "message", "second event"), ev("", "message", " third event"),]
        );
        assert_eq!(whole(b"data:test\n\ndata: test\n\n"), [ev("", "message", "test"), ev("", "message", "test")]);
        assert_eq!(
            whole(b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"),
            [ev("", "add", "73857293"), ev("", "remove", "2153"), ev("", "add", "113411")]
        );
    }

    #[test]
    fn a_line_over_the_cap_fails_finished_or_not() {
        let err = Some(SseError::LineTooLong { limit: 25 });
        // "data: " and 20 more bytes: 26, unfinished, over two chunks.
        assert_eq!(run(25, &[b"data: aaaaaaaaaa", b"aaaaaaaaaa"]).1, err);
        assert_eq!(run(26, &[b"data: aaaaaaaaaa", b"aaaaaaaaaa"]).1, None);
        // A finished line over the cap in one chunk fails as well.
        assert_eq!(run(25, &[b"data: aaaaaaaaaaaaaaaaaaaa\n\n"]).1, err);
        // The line end does not count; many short lines are fine.
        assert_eq!(run(7, &[b"data: a\r\n".repeat(3).as_slice(), b"\r\n"]), (vec![ev("", "message", "a\na\na")], None));
    }

    #[test]
    fn event_data_over_the_cap_fails() {
        // Each line is within 8 bytes; the data buffer "aa\naa\naa\n" (9) is not.
        assert_eq!(run(8, &[b"data:aa\ndata:aa\n", b"data:aa\n\n"]).1, Some(SseError::EventTooLarge { limit: 8 }));
        // Dispatching empties it: the same lines with blank lines between are fine.
        assert_eq!(run(8, &[b"data:aa\n\ndata:aa\n\ndata:aa\n\n"]).0.len(), 3);
    }

    #[test]
    fn after_an_error_the_parser_stays_failed_until_finish() {
        let mut p = SseParser::new(4);
        assert_eq!(p.feed(b"data: 1\n"), Err(SseError::LineTooLong { limit: 4 }));
        assert_eq!(p.feed(b"\n"), Err(SseError::LineTooLong { limit: 4 }));
        assert_eq!(p.feed(b"id:1\n"), Err(SseError::LineTooLong { limit: 4 }));
        p.finish();
        assert_eq!(p.feed(b":x\n"), Ok(vec![SseItem::Comment("x".into())]));
        assert_eq!(SseError::LineTooLong { limit: 4 }.to_string(), "event stream line longer than 4 bytes");
    }

    /// A deterministic pseudo-random source (Knuth's MMIX LCG).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) as u32
        }
        fn below(&mut self, n: usize) -> usize {
            self.next() as usize % n
        }
    }

    /// Streams built from pieces that matter to the parser, and raw random bytes.
    fn streams(count: usize, seed: u64) -> Vec<Vec<u8>> {
        const PIECES: &[&[u8]] = &[
            b"data",
            b"data:",
            b"data: ",
            b"data: x",
            b"event:",
            b"event: score",
            b"id:",
            b"id: 7",
            b"id: 1\0",
            b"retry:",
            b"retry: 1500",
            b"retry: 1x",
            b":",
            b": keep",
            b" ",
            b"\r",
            b"\n",
            b"\r\n",
            b"\n\n",
            b"\xEF\xBB\xBF",
            b"\xEF",
            b"\xBB",
            b"\xBF",
            b"\xFF",
            b"\xE6\x95\xB0",
            b"\xE6\x95",
            b"\xF0\x9F",
            b"\0",
            b"x",
            b"12",
            b"foo",
        ];
        let mut rng = Lcg(seed);
        (0..count)
            .map(|i| {
                let mut s = Vec::new();
                let len = rng.below(40);
                for _ in 0..len {
                    if i % 3 == 0 {
                        s.push(rng.next() as u8);
                    } else {
                        s.extend_from_slice(PIECES[rng.below(PIECES.len())]);
                    }
                }
                s
            })
            .collect()
    }

    /// Items, error and end-of-stream verdict of feeding `chunks`.
    fn outcome(max: usize, chunks: &[&[u8]]) -> (Vec<SseItem>, Option<SseError>, bool) {
        let mut p = SseParser::new(max);
        let mut items = Vec::new();
        for c in chunks {
            match p.feed(c) {
                Ok(v) => items.extend(v),
                Err(e) => return (items, Some(e), false),
            }
        }
        let discarded = p.finish();
        (items, None, discarded)
    }

    /// Splitting must not matter: the same items and end-of-stream verdict, or the same error
    /// (the items before an error depend on where the chunk that failed began).
    fn assert_same(max: usize, stream: &[u8], chunks: &[&[u8]]) {
        let want = outcome(max, &[stream]);
        let got = outcome(max, chunks);
        if want.1.is_some() {
            assert_eq!(got.1, want.1, "cap {max}, stream {stream:?}, chunks {chunks:?}");
        } else {
            assert_eq!(got, want, "cap {max}, stream {stream:?}, chunks {chunks:?}");
        }
    }

    #[test]
    fn splitting_a_stream_anywhere_gives_the_same_items_and_never_panics() {
        let mut rng = Lcg(0x5eed);
        for (n, stream) in streams(600, 42).iter().enumerate() {
            for max in [BIG, 12, 5, 0] {
                // Every two-way split.
                for at in 0..=stream.len() {
                    let (a, b) = stream.split_at(at);
                    assert_same(max, stream, &[a, b]);
                }
                // Byte by byte, with empty chunks between.
                let mut chunks: Vec<&[u8]> = Vec::new();
                for b in stream.chunks(1) {
                    chunks.push(b);
                    chunks.push(b"");
                }
                assert_same(max, stream, &chunks);
                // A few random many-way splits.
                for _ in 0..4 {
                    let mut chunks: Vec<&[u8]> = Vec::new();
                    let mut rest = stream.as_slice();
                    while !rest.is_empty() {
                        let (a, b) = rest.split_at(rng.below(rest.len() + 1).min(1 + n % 7));
                        chunks.push(a);
                        rest = b;
                    }
                    assert_same(max, stream, &chunks);
                }
            }
        }
    }

    #[test]
    fn every_one_and_two_byte_stream_parses_the_same_whole_and_split() {
        for a in 0..=255u8 {
            assert_same(BIG, &[a], &[&[a]]);
            for b in 0..=255u8 {
                let s = [a, b, b'\n', b'\n'];
                assert_same(BIG, &s, &[&s[..1], &s[1..]]);
                assert_same(BIG, &s, &[&s[..2], &s[2..]]);
                assert_same(1, &s, &[&s[..1], &s[1..2], &s[2..]]);
            }
        }
    }

    #[test]
    fn split_and_whole_agree_with_a_line_by_line_reference_on_generated_streams() {
        // An independent, obviously-correct reference: decode the whole stream (BOM stripped),
        // split into lines, then apply the field rules.
        fn reference(bytes: &[u8]) -> Vec<SseItem> {
            let bytes = bytes.strip_prefix(&BOM[..]).unwrap_or(bytes);
            let text = String::from_utf8_lossy(bytes).into_owned();
            let mut lines = Vec::new();
            let mut cur = String::new();
            let mut chars = text.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\r' => {
                        if chars.peek() == Some(&'\n') {
                            chars.next();
                        }
                        lines.push(std::mem::take(&mut cur));
                    }
                    '\n' => lines.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            let (mut data, mut kind, mut id, mut out) = (String::new(), String::new(), String::new(), Vec::new());
            for line in lines {
                if line.is_empty() {
                    if !data.is_empty() {
                        data.pop();
                        let event = if kind.is_empty() { "message".to_owned() } else { kind.clone() };
                        out.push(ev(&id, &event, &data));
                    }
                    data.clear();
                    kind.clear();
                } else if let Some(c) = line.strip_prefix(':') {
                    out.push(SseItem::Comment(c.to_owned()));
                } else {
                    let (f, v) = line.split_once(':').map_or((line.as_str(), ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
                    match f {
                        "data" => {
                            data.push_str(v);
                            data.push('\n');
                        }
                        "event" => kind = v.to_owned(),
                        "id" if !v.contains('\0') => id = v.to_owned(),
                        "retry" if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                            if let Ok(ms) = v.parse() {
                                out.push(SseItem::Retry(ms));
                            }
                        }
                        _ => {}
                    }
                }
            }
            out
        }
        for stream in streams(2000, 7) {
            let want = reference(&stream);
            assert_eq!(whole(&stream), want, "{stream:?}");
            assert_eq!(bytewise(&stream), want, "{stream:?}");
        }
    }
}
