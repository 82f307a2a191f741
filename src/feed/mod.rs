//! Where data comes from: recordings (the JSON Lines format), their replay, the simulator
//! that makes the built-in demo, and the live client with its Server-Sent Events parser. No
//! rendering here.

pub mod detail;
pub mod live;
pub mod record;
pub mod recording;
pub mod replay;
pub mod simulate;
pub mod sse;

pub use recording::{FORMAT_NAME, FORMAT_VERSION, LineError, Record, RecordBody, Recording, RecordingHeader, ScoreEntry};
pub use replay::{Replay, ReplayStep};
