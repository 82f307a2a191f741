//! Quitting, and the kiosk lock: unlocked, `Ctrl+Q` quits; a locked kiosk (`[kiosk] locked`)
//! ignores window close requests (set where the window is made) and quits only on its admin
//! chord.

use bevy::prelude::*;

use super::picture::Settings;
use super::schedule::AppSystems;
use crate::config::KioskConfig;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, (quit_unlocked.run_if(not(locked)), quit_on_chord.run_if(locked)).in_set(AppSystems::Input));
}

fn locked(settings: Res<Settings>) -> bool {
    settings.config.kiosk.locked
}

/// The key chord that quits a locked kiosk, parsed from `"ctrl+alt+shift+q"`: the modifier
/// pairs (left, right) that must be held, and the letter key.
pub fn parse_chord(chord: &str) -> Option<(Vec<[KeyCode; 2]>, KeyCode)> {
    let mut mods = Vec::new();
    let mut key = None;
    for part in chord.split('+').map(|p| p.trim().to_ascii_lowercase()) {
        match part.as_str() {
            "ctrl" | "control" => mods.push([KeyCode::ControlLeft, KeyCode::ControlRight]),
            "alt" => mods.push([KeyCode::AltLeft, KeyCode::AltRight]),
            "shift" => mods.push([KeyCode::ShiftLeft, KeyCode::ShiftRight]),
            "super" | "meta" => mods.push([KeyCode::SuperLeft, KeyCode::SuperRight]),
            p if p.len() == 1 && p.as_bytes()[0].is_ascii_lowercase() => key = Some(letter_key(p.as_bytes()[0])?),
            _ => return None,
        }
    }
    Some((mods, key?))
}

/// Refuses a locked kiosk whose admin chord cannot be recognised: it could never quit.
///
/// # Errors
/// Naming the chord and what a chord looks like.
pub fn check(cfg: &KioskConfig) -> anyhow::Result<()> {
    anyhow::ensure!(
        !cfg.locked || parse_chord(&cfg.admin_chord).is_some_and(|(mods, _)| !mods.is_empty()),
        "config [kiosk] admin_chord = {:?}: a locked kiosk needs a chord it can recognise, at least one modifier (ctrl, alt, shift, super) and one letter, e.g. \"ctrl+alt+shift+q\"",
        cfg.admin_chord
    );
    Ok(())
}

fn letter_key(c: u8) -> Option<KeyCode> {
    use KeyCode::*;
    const KEYS: [KeyCode; 26] = [
        KeyA, KeyB, KeyC, KeyD, KeyE, KeyF, KeyG, KeyH, KeyI, KeyJ, KeyK, KeyL, KeyM, KeyN, KeyO, KeyP, KeyQ, KeyR, KeyS, KeyT, KeyU, KeyV, KeyW, KeyX, KeyY,
        KeyZ,
    ];
    KEYS.get(usize::from(c.checked_sub(b'a')?)).copied()
}

fn quit_unlocked(input: Res<ButtonInput<KeyCode>>, mut exit: MessageWriter<AppExit>) {
    if input.just_pressed(KeyCode::KeyQ) && input.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]) {
        exit.write(AppExit::Success);
    }
}

fn quit_on_chord(input: Res<ButtonInput<KeyCode>>, settings: Res<Settings>, mut exit: MessageWriter<AppExit>) {
    if parse_chord(&settings.config.kiosk.admin_chord).is_some_and(|(mods, key)| input.just_pressed(key) && mods.iter().all(|pair| input.any_pressed(*pair))) {
        exit.write(AppExit::Success);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_chords_parse() {
        let (mods, key) = parse_chord("Ctrl+Alt+Shift+Q").unwrap();
        assert_eq!(mods.len(), 3);
        assert_eq!(key, KeyCode::KeyQ);
        assert!(parse_chord("ctrl+alt").is_none(), "no key");
        assert!(parse_chord("ctrl+f13").is_none(), "unknown key");
        let locked = |chord: &str| KioskConfig { locked: true, admin_chord: chord.into() };
        assert!(check(&locked("ctrl+alt+shift+q")).is_ok());
        assert!(check(&locked("ctrl+f13")).unwrap_err().to_string().contains("ctrl+f13"));
        assert!(check(&locked("q")).is_err(), "a bare letter would quit a locked kiosk on one key");
        assert!(check(&KioskConfig { locked: false, admin_chord: "nonsense".into() }).is_ok(), "unlocked: no chord needed");
    }
}
