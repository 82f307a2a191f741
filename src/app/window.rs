//! The window: its size, and the fullscreen placement on a monitor, from `[window]`.
//!
//! The window always opens windowed; once the display has reported its monitors, the wall
//! places itself on the monitor the config asks for, else the primary, else the first, else it
//! stays windowed — and logs what was asked and what exists. A monitor that disappears while the
//! wall runs (an unplugged cable, a renumbered output) moves the window to one that remains.
//! Exclusive fullscreen uses one of the monitor's own video modes, or falls back to borderless.
//! Nothing here can panic on a display's answer. A screenshot run stays a window of exactly
//! the configured size; a locked kiosk's window ignores close requests.

use bevy::prelude::*;
use bevy::window::{Monitor, MonitorSelection, PrimaryMonitor, PrimaryWindow, VideoModeSelection, WindowMode as BevyMode, WindowResolution};

use super::schedule::AppSystems;
use crate::config::{KioskConfig, WindowConfig, WindowMode};

/// Bevy's window plugin for `cfg`: always a window first (placement follows once monitors are
/// known, see [`placement_plugin`]).
pub fn plugin(cfg: &WindowConfig, kiosk: &KioskConfig, capture: bool) -> WindowPlugin {
    let mode = if capture { WindowMode::Windowed } else { cfg.mode };
    WindowPlugin {
        primary_window: Some(Window {
            title: "朝阳区网络安全态势 · Situation Wall".into(),
            resolution: WindowResolution::new(cfg.width, cfg.height),
            mode: BevyMode::Windowed,
            // A fullscreen wall has no title bar, and a capture must be exactly the size.
            decorations: mode == WindowMode::Windowed && !capture,
            ..default()
        }),
        primary_cursor_options: Some(bevy::window::CursorOptions { visible: cfg.cursor, ..default() }),
        // A locked kiosk ignores close requests (Alt+F4, the window manager).
        close_when_requested: !kiosk.locked,
        ..default()
    }
}

/// Places the window as `mode` asks on monitor `monitor` (ignored when windowed).
pub(super) fn placement_plugin(mode: WindowMode, monitor: usize) -> impl Fn(&mut App) {
    move |app: &mut App| {
        if mode != WindowMode::Windowed {
            app.insert_resource(Placement { mode, requested: monitor, on: None, waited: 0, windowed: false })
                .add_systems(Update, place_window.in_set(AppSystems::Direct));
        }
    }
}

/// Where the window is wanted and where it went.
#[derive(Resource, Debug)]
pub struct Placement {
    /// Borderless or exclusive fullscreen.
    pub mode: WindowMode,
    /// The monitor index asked for (`[window] monitor`).
    pub requested: usize,
    /// The monitor entity the window was put on.
    pub on: Option<Entity>,
    /// Frames waited for the display to report monitors.
    waited: u32,
    /// Whether the window stays windowed for want of a monitor (logged once).
    windowed: bool,
}

/// A monitor as the placement sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorInfo {
    /// Its name, if the display gives one.
    pub name: Option<String>,
    /// Whether the display calls it primary.
    pub primary: bool,
    /// Size, physical pixels.
    pub size: UVec2,
}

/// Which monitor to use and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorChoice {
    /// The one asked for, at this index.
    Requested(usize),
    /// The asked-for index does not exist: the primary, at this index.
    Primary(usize),
    /// Neither exists: the first.
    First,
    /// No monitor at all: stay windowed.
    Windowed,
}

impl MonitorChoice {
    /// The index chosen, if any.
    pub fn index(self) -> Option<usize> {
        match self {
            Self::Requested(i) | Self::Primary(i) => Some(i),
            Self::First => Some(0),
            Self::Windowed => None,
        }
    }
}

/// The requested monitor → the primary → the first → windowed.
pub fn choose_monitor(requested: usize, monitors: &[MonitorInfo]) -> MonitorChoice {
    if requested < monitors.len() {
        MonitorChoice::Requested(requested)
    } else if let Some(i) = monitors.iter().position(|m| m.primary) {
        MonitorChoice::Primary(i)
    } else if monitors.is_empty() {
        MonitorChoice::Windowed
    } else {
        MonitorChoice::First
    }
}

/// One line listing the monitors, for the log: `0: "HDMI-1" 3840×2160 (primary), 1: …`.
pub fn describe_monitors(monitors: &[MonitorInfo]) -> String {
    if monitors.is_empty() {
        return "none".into();
    }
    let one = |(i, m): (usize, &MonitorInfo)| {
        format!("{i}: {:?} {}×{}{}", m.name.as_deref().unwrap_or("unnamed"), m.size.x, m.size.y, if m.primary { " (primary)" } else { "" })
    };
    monitors.iter().enumerate().map(one).collect::<Vec<_>>().join(", ")
}

/// Frames to wait for the display to report monitors before staying windowed.
const MONITOR_WAIT_FRAMES: u32 = 30;

fn place_window(
    mut placement: ResMut<Placement>,
    monitors: Query<(Entity, &Monitor, Has<PrimaryMonitor>)>,
    mut window: Single<&mut Window, With<PrimaryWindow>>,
) {
    let mut found: Vec<(Entity, &Monitor, bool)> = monitors.iter().collect();
    // The display's own order (the monitors are spawned as it lists them).
    found.sort_by_key(|(e, _, _)| *e);
    if placement.on.is_some_and(|e| found.iter().any(|(f, _, _)| *f == e)) {
        return;
    }
    if found.is_empty() && placement.waited < MONITOR_WAIT_FRAMES {
        placement.waited += 1;
        return;
    }
    let infos: Vec<MonitorInfo> =
        found.iter().map(|(_, m, p)| MonitorInfo { name: m.name.clone(), primary: *p, size: UVec2::new(m.physical_width, m.physical_height) }).collect();
    let choice = choose_monitor(placement.requested, &infos);
    let lost = placement.on.is_some();
    let asked = format!("{:?} on monitor {}", placement.mode, placement.requested);
    let Some(i) = choice.index() else {
        // Logged once; looked at again every frame until a monitor appears.
        if placement.on.is_some() || !placement.windowed {
            warn!("window: {asked} asked, but the display reports no monitor; staying windowed");
        }
        window.mode = BevyMode::Windowed;
        placement.on = None;
        placement.windowed = true;
        return;
    };
    let (entity, monitor, _) = found[i];
    let why = match choice {
        MonitorChoice::Requested(_) => "as asked".to_owned(),
        MonitorChoice::Primary(_) => format!("monitor {} does not exist; using the primary", placement.requested),
        _ => format!("monitor {} does not exist and none is primary; using the first", placement.requested),
    };
    let context = if lost { "the window's monitor went away; " } else { "" };
    let monitors_line = describe_monitors(&infos);
    window.mode = match placement.mode {
        WindowMode::Fullscreen => {
            // The monitor's own mode at its current size, if the display lists one: asking for
            // a mode it does not have is what fails on some X servers.
            let size = UVec2::new(monitor.physical_width, monitor.physical_height);
            match monitor.video_modes.iter().filter(|m| m.physical_size == size).max_by_key(|m| (m.refresh_rate_millihertz, m.bit_depth)) {
                Some(mode) => BevyMode::Fullscreen(MonitorSelection::Entity(entity), VideoModeSelection::Specific(*mode)),
                None => {
                    warn!("window: monitor {i} lists no video mode of its size {}×{}; borderless fullscreen instead of exclusive", size.x, size.y);
                    BevyMode::BorderlessFullscreen(MonitorSelection::Entity(entity))
                }
            }
        }
        _ => BevyMode::BorderlessFullscreen(MonitorSelection::Entity(entity)),
    };
    if matches!(choice, MonitorChoice::Requested(_)) && !lost {
        info!("window: {asked}: {why}; monitors: {monitors_line}");
    } else {
        warn!("window: {context}{asked}: {why} (monitor {i}); monitors: {monitors_line}");
    }
    placement.on = Some(entity);
    placement.windowed = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(name: &str, primary: bool) -> MonitorInfo {
        MonitorInfo { name: Some(name.into()), primary, size: UVec2::new(3840, 2160) }
    }

    #[test]
    fn the_requested_monitor_then_the_primary_then_the_first_then_windowed() {
        let two = [monitor("DP-1", false), monitor("DP-2", true)];
        assert_eq!(choose_monitor(0, &two), MonitorChoice::Requested(0));
        assert_eq!(choose_monitor(1, &two), MonitorChoice::Requested(1));
        assert_eq!(choose_monitor(5, &two), MonitorChoice::Primary(1));
        let none_primary = [monitor("DP-1", false), monitor("DP-2", false)];
        assert_eq!(choose_monitor(5, &none_primary), MonitorChoice::First);
        assert_eq!(choose_monitor(0, &[]), MonitorChoice::Windowed);
        assert_eq!(MonitorChoice::Windowed.index(), None);
        assert_eq!(describe_monitors(&two), "0: \"DP-1\" 3840×2160, 1: \"DP-2\" 3840×2160 (primary)");
        assert_eq!(describe_monitors(&[]), "none");
    }
}
