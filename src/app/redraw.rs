//! Why the wall stops redrawing, and when it starts again: the reactive redraw.
//!
//! An idle wall draws nothing: Bevy's event loop sleeps until input, a [`Waker`] call (the live
//! feed's data), or the next time something on screen changes by itself. Features say what they
//! need through the [`Redraw`] resource during `Update` — [`Redraw::animate`] while something
//! moves (an easing prism, a ripple, the camera), [`Redraw::wake_within`] for their next change
//! (the demo clock's tick, the tour's next stop, a freshness threshold) — and
//! [`AppSystems::Redraw`] turns that into the event loop's next wait. With `[render] reactive`
//! off, or while measuring, every frame is drawn and the asks are ignored.

use std::time::Duration;

use bevy::prelude::*;
use bevy::window::RequestRedraw;
use bevy::winit::{UpdateMode, WinitSettings};

use super::schedule::AppSystems;

/// Longest wait of a paused demo or a quiet live feed, seconds: nothing on screen changes
/// until input or data wakes the app.
pub const QUIET_WAIT_S: f64 = 60.0;

/// Shortest wait between idle frames, seconds.
const SHORTEST_WAIT_S: f64 = 0.02;

/// What this frame's features need of the next one; reset after every frame.
#[derive(Resource, Debug, PartialEq)]
pub struct Redraw {
    animating: bool,
    wake_in_s: f64,
}

impl Default for Redraw {
    fn default() -> Self {
        Self { animating: false, wake_in_s: QUIET_WAIT_S }
    }
}

impl Redraw {
    /// Something moves: draw the next frame at once.
    pub fn animate(&mut self) {
        self.animating = true;
    }

    /// Something changes by itself in `seconds` (≥ 0): wake by then at the latest.
    pub fn wake_within(&mut self, seconds: f64) {
        if seconds.is_finite() {
            self.wake_in_s = self.wake_in_s.min(seconds.max(0.0));
        }
    }

    /// Whether a feature asked for the next frame at once.
    pub fn animating(&self) -> bool {
        self.animating
    }

    /// The longest the loop may sleep now, seconds: [`SHORTEST_WAIT_S`] to [`QUIET_WAIT_S`].
    pub fn wait_s(&self) -> f64 {
        self.wake_in_s.clamp(SHORTEST_WAIT_S, QUIET_WAIT_S)
    }
}

/// Redraw on change only when `reactive` (idle frames at least every `[render]
/// idle_redraw_s`, which features ask for themselves), else every frame.
pub(super) fn plugin(reactive: bool) -> impl Fn(&mut App) {
    move |app: &mut App| {
        app.init_resource::<Redraw>();
        if reactive {
            let mode = UpdateMode::reactive_low_power(Duration::from_secs_f64(QUIET_WAIT_S));
            app.insert_resource(WinitSettings { focused_mode: mode, unfocused_mode: mode })
                .add_systems(Startup, install_waker)
                .add_systems(Update, mute_egui_wake_ups.in_set(AppSystems::Input))
                .add_systems(Last, (drop_ui_redraw_requests, schedule_next_frame).chain().in_set(AppSystems::Redraw));
        } else {
            app.insert_resource(WinitSettings { focused_mode: UpdateMode::Continuous, unfocused_mode: UpdateMode::Continuous })
                .add_systems(Last, forget_asks.in_set(AppSystems::Redraw));
        }
    }
}

/// egui wakes the event loop whenever it asks for a repaint, and on this UI it asks every
/// frame: an idle wall would never sleep. Its requests are muted once its context exists;
/// input still wakes the loop, and the scene asks for frames while it animates.
fn mute_egui_wake_ups(mut contexts: bevy_egui::EguiContexts, mut done: Local<bool>) {
    if *done {
        return;
    }
    if let Ok(ctx) = contexts.ctx_mut() {
        ctx.set_request_repaint_callback(|_| {});
        *done = true;
    }
}

/// Drops the redraw requests egui makes after every frame it draws (it asks for a repaint
/// whenever its output is not empty), which would keep an idle wall drawing at full rate.
fn drop_ui_redraw_requests(mut requests: ResMut<Messages<RequestRedraw>>) {
    requests.clear();
}

/// Draws the next frame at once when something moves, else sleeps until the soonest change
/// a feature asked for; then forgets this frame's asks.
fn schedule_next_frame(mut redraw: ResMut<Redraw>, mut winit: ResMut<WinitSettings>, mut request: MessageWriter<RequestRedraw>) {
    if redraw.animating {
        request.write(RequestRedraw);
    }
    let mode = UpdateMode::reactive_low_power(Duration::from_secs_f64(redraw.wait_s()));
    if winit.focused_mode != mode {
        winit.focused_mode = mode;
        winit.unfocused_mode = mode;
    }
    *redraw = Redraw::default();
}

fn forget_asks(mut redraw: ResMut<Redraw>) {
    *redraw = Redraw::default();
}

/// Wakes the reactive event loop from another thread (the live feed's), once the event loop
/// exists; a no-op before that and in tests.
#[derive(Resource, Clone, Default)]
pub struct Waker(std::sync::Arc<std::sync::Mutex<Option<WakeFn>>>);

/// What [`Waker::wake`] calls: a send on the event loop's proxy.
type WakeFn = Box<dyn Fn() + Send>;

impl Waker {
    /// Wakes the app for one update.
    pub fn wake(&self) {
        if let Ok(slot) = self.0.lock()
            && let Some(wake) = slot.as_ref()
        {
            wake();
        }
    }
}

fn install_waker(waker: Option<Res<Waker>>, proxy: Option<Res<bevy::winit::EventLoopProxyWrapper>>) {
    if let (Some(waker), Some(proxy)) = (waker, proxy)
        && let Ok(mut slot) = waker.0.lock()
    {
        let proxy = (**proxy).clone();
        *slot = Some(Box::new(move || {
            let _ = proxy.send_event(bevy::winit::WinitUserEvent::WakeUp);
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soonest_ask_wins_within_the_limits() {
        let mut r = Redraw::default();
        assert_eq!(r.wait_s(), QUIET_WAIT_S, "nothing asked: the quiet wait");
        r.wake_within(5.0);
        r.wake_within(12.0);
        assert_eq!(r.wait_s(), 5.0);
        r.wake_within(f64::NAN);
        r.wake_within(-3.0);
        assert_eq!(r.wait_s(), SHORTEST_WAIT_S, "overdue: as soon as allowed; NaN ignored");
        assert!(!r.animating());
        r.animate();
        assert!(r.animating());
    }
}
