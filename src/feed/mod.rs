//! Where data comes from: recordings (the JSON Lines format), their replay, and the simulator
//! that makes the built-in demo. No rendering here.

pub mod live;
pub mod record;
pub mod recording;
pub mod replay;
pub mod simulate;

pub use recording::{LineError, Record, RecordBody, Recording, RecordingHeader, ScoreEntry, FORMAT_NAME, FORMAT_VERSION};
pub use replay::{Replay, ReplayStep};
