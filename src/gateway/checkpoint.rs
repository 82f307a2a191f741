//! Copying the store's write-ahead log into the database file on a thread of its own, so that
//! no commit waits for a checkpoint.
//!
//! In WAL mode a commit appends the pages it changed to `gateway.sqlite3-wal` and fsyncs them;
//! a checkpoint later copies the newest version of each page into the database file, fsyncs
//! that, and lets a later commit restart the log from its beginning. SQLite's automatic
//! checkpoint runs inside the commit that takes the log past its threshold (16,384 pages,
//! 64 MiB, see [`super::store::Store::open`]): that commit, every batch queued behind it and
//! their delivery to the walls waited for up to 64 MiB to be copied and synced.
//!
//! A [`Checkpointer`] holds a second connection to the same file on its own thread. The writer
//! wakes it after each commit ([`Checkpointer::wake`]); it then runs a `PASSIVE` checkpoint,
//! which never takes the write lock and never waits for the writer (at most, reading a log
//! header the writer is changing, it holds a lock for a moment that a `BEGIN IMMEDIATE` then
//! waits out in its busy handler), and copies what the commits since the last one wrote (a
//! few dozen pages a batch). A commit that begins when every frame has been copied restarts
//! the log (and fsyncs its new header), so while commits leave it time to catch up the log
//! stays about one commit long. Under commits back to back it may not catch up before the
//! next begins: the log then grows until the thread catches up or the writer's own automatic
//! checkpoint, kept as the bound, copies the little that is left, and a log grown past
//! [`super::store::WAL_KEEP_BYTES`] is cut back when it restarts. Wake-ups that come while a
//! checkpoint runs are folded into one.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use rusqlite::{Connection, OpenFlags};

/// The thread that checkpoints a file store's log (see the module documentation). Dropping it
/// lets a running checkpoint finish and joins the thread.
pub(crate) struct Checkpointer {
    wake: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Checkpoints that copied every frame of the log as it was when they began (read by
    /// tests).
    #[cfg_attr(not(test), allow(dead_code))]
    caught_up: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Opens a second connection to the WAL-mode database at `path`, starts the thread and
    /// has it copy what is in the log already (the last run's tail, a migration).
    ///
    /// # Errors
    /// A message naming the file when the connection cannot be opened or configured, or the
    /// thread cannot be started.
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, String> {
        let location = path.display().to_string();
        let fail = |what: &str, e: &dyn std::fmt::Display| format!("{location}: {what} for the checkpoint thread: {e}");
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| fail("opening a second connection", &e))?;
        // The checkpoint fsyncs the database file before the log may be restarted. (Setting
        // it also reads the schema, which opens the log.)
        conn.pragma_update(None, "synchronous", "FULL").map_err(|e| fail("setting synchronous=FULL", &e))?;
        let (wake, woken) = crossbeam_channel::bounded(1);
        let caught_up = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&caught_up);
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || run(&conn, &woken, &location, &counter))
            .map_err(|e| format!("{}: starting the checkpoint thread: {e}", path.display()))?;
        let checkpointer = Checkpointer { wake: Some(wake), thread: Some(thread), caught_up };
        checkpointer.wake();
        Ok(checkpointer)
    }

    /// Asks for a checkpoint after a commit. Never blocks: while one is pending, another
    /// wake-up adds nothing.
    pub(crate) fn wake(&self) {
        // Full: a wake-up is pending already. Disconnected: the thread has ended (it only does
        // when this is dropped, or after a panic, which `drop` reports), and the commits' own
        // checkpoint still bounds the log.
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }

    /// How many checkpoints have copied every frame of the log as it was when they began.
    #[cfg(test)]
    pub(crate) fn caught_up(&self) -> u64 {
        self.caught_up.load(Ordering::Acquire)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            let _ = writeln!(std::io::stderr(), "store: the checkpoint thread had panicked; the commits checkpointed the log themselves");
        }
    }
}

/// The thread: one `PASSIVE` checkpoint per wake-up until the writer's side is dropped. A
/// failure is said once on stderr (and its end once), never fatal: the writer's automatic
/// checkpoint still bounds the log.
fn run(conn: &Connection, woken: &Receiver<()>, location: &str, caught_up: &AtomicU64) {
    let mut failing = false;
    while woken.recv().is_ok() {
        // (busy, frames in the log, frames copied). Busy: another checkpoint (the writer's
        // own) held the checkpoint lock and nothing was copied; the next wake-up tries again.
        // Fewer copied than logged: a commit came meanwhile; the next wake-up goes on.
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
        if let Ok((0, logged, copied)) = result
            && copied >= logged
        {
            caught_up.fetch_add(1, Ordering::Release);
        }
        // stderr, written without `eprintln!`, which panics when stderr is gone.
        let mut err = std::io::stderr();
        match result {
            Ok(_) if failing => {
                let _ = writeln!(err, "store: checkpoints of {location} work again");
                failing = false;
            }
            Ok(_) => {}
            Err(e) if !failing => {
                let _ = writeln!(err, "store: a checkpoint of {location} failed ({e}); the commits' own checkpoint bounds the log meanwhile");
                failing = true;
            }
            Err(_) => {}
        }
    }
}
