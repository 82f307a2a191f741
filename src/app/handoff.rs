//! Handing a value to a plugin once: Bevy builds plugins from `&self`, so a plugin that owns
//! something it cannot clone (an open file, a channel) takes it out of a [`Handoff`].

use std::sync::Mutex;

/// A value a plugin takes once when it is built.
pub(crate) struct Handoff<T>(Mutex<Option<T>>);

impl<T> Handoff<T> {
    /// Holds `value` for the plugin.
    pub(crate) fn new(value: T) -> Self {
        Self(Mutex::new(Some(value)))
    }

    /// The value, the first time; `None` after.
    pub(crate) fn take(&self) -> Option<T> {
        self.0.lock().ok()?.take()
    }
}
