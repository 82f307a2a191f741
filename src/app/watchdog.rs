//! The service manager's watchdog: under systemd (`Type=notify`, `WatchdogSec=`), the wall
//! says `READY=1` once its first frame is done and `WATCHDOG=1` from its frame loop at half
//! the watchdog interval, waking an idle loop to do so. A frame loop that freezes stops the
//! pings and systemd restarts the wall (see `docs/deploy/situation-wall.service`).
//!
//! The protocol is sd_notify(3): datagrams of `KEY=VALUE` lines to the Unix socket named by
//! `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace); the interval comes from
//! `$WATCHDOG_USEC` (microseconds), for this process when `$WATCHDOG_PID` is unset or ours.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::redraw::Redraw;
use super::schedule::AppSystems;

/// Notifies the service manager, when there is one.
pub(super) fn plugin(app: &mut App) {
    if let Some(notifier) = Notifier::from_env() {
        app.insert_resource(notifier).add_systems(Update, wake_for_ping.in_set(AppSystems::Animate)).add_systems(Last, ping.in_set(AppSystems::Diagnostics));
    }
}

/// A connection to the service manager's notification socket.
#[derive(Resource, Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    target: std::os::unix::net::SocketAddr,
    /// Ping interval: half the watchdog's, or `None` without a watchdog.
    every: Option<Duration>,
    last: Option<Instant>,
    ready: bool,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`; `None` when not run by a
    /// service manager (or its socket cannot be used, which is logged).
    pub fn from_env() -> Option<Self> {
        let socket = std::env::var("NOTIFY_SOCKET").ok().filter(|s| !s.is_empty())?;
        let ours = std::env::var("WATCHDOG_PID").ok().is_none_or(|p| p.trim() == std::process::id().to_string());
        let usec = std::env::var("WATCHDOG_USEC").ok().filter(|_| ours);
        match Self::new(&socket, usec.as_deref()) {
            Ok(n) => Some(n),
            Err(e) => {
                warn!("service manager: cannot use NOTIFY_SOCKET={socket}: {e}; no watchdog pings");
                None
            }
        }
    }

    /// A notifier for the socket `socket` (a path or `@abstract`) and the watchdog interval
    /// `watchdog_usec` (microseconds, as `$WATCHDOG_USEC` gives it).
    ///
    /// # Errors
    /// When the socket address is unusable or a datagram socket cannot be made.
    pub fn new(socket: &str, watchdog_usec: Option<&str>) -> std::io::Result<Self> {
        let target = match socket.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt as _;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?
            }
            None => std::os::unix::net::SocketAddr::from_pathname(socket)?,
        };
        let every = watchdog_usec.and_then(|u| u.trim().parse::<u64>().ok()).filter(|&u| u > 0).map(|u| Duration::from_micros(u) / 2);
        Ok(Self { socket: UnixDatagram::unbound()?, target, every, last: None, ready: false })
    }

    /// Sends one notification, e.g. `"WATCHDOG=1"`.
    ///
    /// # Errors
    /// When the datagram cannot be sent.
    pub fn notify(&self, state: &str) -> std::io::Result<()> {
        self.socket.send_to_addr(state.as_bytes(), &self.target).map(|_| ())
    }

    /// The ping interval (half the watchdog's), if there is a watchdog.
    pub fn interval(&self) -> Option<Duration> {
        self.every
    }
}

/// `READY=1` after the first frame, then `WATCHDOG=1` at the interval.
fn ping(mut notifier: ResMut<Notifier>, mut failed: Local<bool>) {
    let now = Instant::now();
    let mut state = String::new();
    if !notifier.ready {
        state.push_str("READY=1\n");
    }
    if let Some(every) = notifier.every
        && notifier.last.is_none_or(|l| now.duration_since(l) >= every)
    {
        state.push_str("WATCHDOG=1\n");
    }
    if state.is_empty() {
        return;
    }
    match notifier.notify(&state) {
        Ok(()) => {
            notifier.ready = true;
            notifier.last = Some(now);
            *failed = false;
        }
        Err(e) if !*failed => {
            warn!("service manager: cannot notify: {e}");
            *failed = true;
        }
        Err(_) => {}
    }
}

/// An idle wall still wakes in time for its next ping.
fn wake_for_ping(notifier: Res<Notifier>, mut redraw: ResMut<Redraw>) {
    if let (Some(every), Some(last)) = (notifier.every, notifier.last) {
        redraw.wake_within(every.saturating_sub(last.elapsed()).as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket_and_the_interval_is_half_the_watchdog() {
        let dir = std::env::temp_dir().join(format!("sw-notify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let manager = UnixDatagram::bind(&path).unwrap();
        manager.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let n = Notifier::new(path.to_str().unwrap(), Some("30000000")).unwrap();
        assert_eq!(n.interval(), Some(Duration::from_secs(15)));
        n.notify("READY=1\nWATCHDOG=1\n").unwrap();
        let mut buf = [0u8; 64];
        let len = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nWATCHDOG=1\n");
        // No watchdog, or a nonsense interval: no pings.
        assert_eq!(Notifier::new(path.to_str().unwrap(), None).unwrap().interval(), None);
        assert_eq!(Notifier::new(path.to_str().unwrap(), Some("soon")).unwrap().interval(), None);
        // The frame loop's system: READY then WATCHDOG, once per interval.
        let mut app = App::new();
        app.add_plugins(MinimalPlugins).init_resource::<Redraw>().insert_resource(n).add_systems(Update, (ping, wake_for_ping).chain());
        app.update();
        let len = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nWATCHDOG=1\n");
        app.update();
        manager.set_nonblocking(true).unwrap();
        assert!(manager.recv(&mut buf).is_err(), "no second ping within the interval");
        assert!(app.world().resource::<Redraw>().wait_s() <= 15.0, "an idle loop wakes for the next ping");
        let _ = std::fs::remove_file(&path);
    }
}
