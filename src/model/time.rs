//! The time zone of the wall.

/// UTC+08:00 (China Standard Time), the zone of every time the wall shows, the simulator
/// writes and the gateway hands back, whatever the machine's own zone; checked at compile time.
pub const BEIJING: chrono::FixedOffset = match chrono::FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"),
};

/// [`BEIJING`], as a function for `with_timezone(&beijing())`.
pub fn beijing() -> chrono::FixedOffset {
    BEIJING
}
