//! The first picture, shown whole: the wall presents nothing until the picture is complete,
//! then all of it at once.
//!
//! A renderer compiles each pipeline the first time something needs it (on a CPU rasteriser,
//! LLVM takes a few hundred milliseconds a pipeline), and meshes, materials and egui's font
//! atlas each arrive in a frame of their own. Shown as they come, the first frames are the
//! panels and labels over an empty district, or the map without its panels. Until
//! [`FirstPicture::complete`], the 3D camera renders every frame as usual, so every pipeline
//! is queued and compiled, but writes nothing to the window (`CameraOutputMode::Skip`: no
//! swapchain image is taken or presented). It is complete when
//! * every map unit is spawned (its `UnitView` exists),
//! * no render pipeline has waited to be compiled for [`PIPELINES_QUIET_FRAMES`] frames in a
//!   row (a pipeline is queued the frame after its mesh is prepared, so one quiet frame is not
//!   proof),
//! * and egui's font atlas has not changed for [`FONTS_QUIET_FRAMES`] frames in a row (every
//!   glyph on screen is rasterised).
//!
//! Pipelines are compiled synchronously (`RenderPlugin::synchronous_pipeline_compilation`, set
//! in [`super::run`]), so the pipelines that only a presented frame needs (Bevy's blit to the
//! window, egui's pass) are made inside the revealing frame instead of leaving it black.
//! A picture that is still not complete [`REVEAL_TIMEOUT_S`] after the start is shown as it is,
//! with a warning: a wall showing part of its picture beats a black one. `--screenshot` waits
//! for [`FirstPicture::complete`] itself (see `capture`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bevy::camera::CameraOutputMode;
use bevy::prelude::*;

use super::map::MapResource;
use super::redraw::Redraw;
use super::scene::UnitView;
use super::schedule::AppSystems;

/// Frames in a row with no render pipeline waiting to compile before the picture counts as
/// drawn.
const PIPELINES_QUIET_FRAMES: u32 = 3;

/// Frames in a row with no change to egui's font atlas before every string on screen counts
/// as rasterised.
const FONTS_QUIET_FRAMES: u32 = 2;

/// Seconds after the start at which an incomplete first picture is shown anyway.
pub const REVEAL_TIMEOUT_S: f64 = 30.0;

/// Where the first picture stands (main world).
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct FirstPicture {
    /// Frames run so far (counted in `Last`, one a frame), until the picture is complete.
    pub frames: u32,
    /// The frame on which the picture was complete and the seconds from the process's start
    /// then; `None` while it is not.
    pub complete: Option<(u32, f64)>,
    /// Whether the camera writes to the window: from the complete frame on, or after
    /// [`REVEAL_TIMEOUT_S`].
    pub shown: bool,
}

/// Frames in a row, counted in the render world, in which no render pipeline was waiting to
/// be compiled and at least one existed.
#[derive(Resource, Clone, Default)]
struct PipelinesQuiet(Arc<AtomicU32>);

/// Frames in a row in which egui's font atlas did not change.
#[derive(Resource, Default)]
struct FontsQuiet(u32);

pub(super) fn plugin(app: &mut App) {
    let quiet = PipelinesQuiet::default();
    if let Some(render) = app.get_sub_app_mut(bevy::render::RenderApp) {
        render.insert_resource(quiet.clone()).add_systems(bevy::render::Render, count_quiet_pipelines.in_set(bevy::render::RenderSystems::Cleanup));
    }
    app.insert_resource(quiet)
        .init_resource::<FirstPicture>()
        .init_resource::<FontsQuiet>()
        .add_systems(PostUpdate, count_quiet_fonts.after(bevy_egui::EguiPostUpdateSet::ProcessOutput).before(bevy_egui::EguiPostUpdateSet::PostProcessOutput))
        .add_systems(Last, decide.in_set(AppSystems::Reveal));
}

/// Render world: counts frames in a row with pipelines and none waiting (queued or compiling).
fn count_quiet_pipelines(cache: Res<bevy::render::render_resource::PipelineCache>, quiet: Res<PipelinesQuiet>) {
    let settled = cache.waiting_pipelines().next().is_none() && cache.pipelines().next().is_some();
    if settled {
        quiet.0.fetch_add(1, Ordering::Relaxed);
    } else {
        quiet.0.store(0, Ordering::Relaxed);
    }
}

/// Counts frames in a row in which egui added or freed no texture (its font atlas grows when a
/// string shows a glyph for the first time). Runs before bevy_egui drains the delta.
fn count_quiet_fonts(outputs: Query<&bevy_egui::EguiRenderOutput>, mut quiet: ResMut<FontsQuiet>) {
    if outputs.iter().all(|o| o.textures_delta.is_empty()) {
        quiet.0 += 1;
    } else {
        quiet.0 = 0;
    }
}

/// Whether the picture is complete, from what the frame counted.
fn is_complete(units_spawned: usize, map_units: usize, pipelines_quiet: u32, fonts_quiet: u32) -> bool {
    units_spawned >= map_units && pipelines_quiet >= PIPELINES_QUIET_FRAMES && fonts_quiet >= FONTS_QUIET_FRAMES
}

/// Decides, once a frame until the picture is shown, whether it is complete; holds the camera's
/// output back until then and asks for the next frame meanwhile (a reactive wall would
/// otherwise sleep on a black window).
#[allow(clippy::too_many_arguments)]
fn decide(
    mut first: ResMut<FirstPicture>,
    pipelines: Res<PipelinesQuiet>,
    fonts: Res<FontsQuiet>,
    units: Query<&UnitView>,
    map: Res<MapResource>,
    mut cameras: Query<&mut Camera, With<Camera3d>>,
    mut redraw: ResMut<Redraw>,
) {
    // After a forced reveal the check goes on, so a capture still learns when it completes.
    if first.complete.is_some() {
        return;
    }
    first.frames += 1;
    let since_start = super::picture::START.get().map_or(0.0, |t| t.elapsed().as_secs_f64());
    let spawned = units.iter().filter(|u| !u.point).count();
    let quiet = pipelines.0.load(Ordering::Relaxed);
    if is_complete(spawned, map.data.units.len(), quiet, fonts.0) {
        first.complete = Some((first.frames, since_start));
        first.shown = true;
        info!("picture: complete and shown after {} frames ({since_start:.2} s from start)", first.frames);
    } else if first.shown {
        return;
    } else if since_start > REVEAL_TIMEOUT_S {
        first.shown = true;
        warn!(
            "picture: shown before it was complete, {REVEAL_TIMEOUT_S} s after start (units spawned: {spawned} of {}, frames without a pipeline compiling: {quiet}, frames without a font atlas change: {})",
            map.data.units.len(),
            fonts.0
        );
    } else {
        redraw.animate();
    }
    let skip = !first.shown;
    for mut camera in &mut cameras {
        if matches!(camera.output_mode, CameraOutputMode::Skip) != skip {
            camera.output_mode = if skip { CameraOutputMode::Skip } else { CameraOutputMode::default() };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn skipping(app: &mut App) -> bool {
        let mut q = app.world_mut().query_filtered::<&Camera, With<Camera3d>>();
        matches!(q.single(app.world()).unwrap().output_mode, CameraOutputMode::Skip)
    }

    /// The camera writes nothing to the window until the picture is complete, then writes
    /// from that frame on, also when a pipeline is compiled later.
    #[test]
    fn the_camera_is_held_back_until_the_picture_is_complete() {
        let map = super::super::testing::test_map();
        let units: Vec<UnitView> = map.data.units.iter().enumerate().map(|(i, u)| UnitView::area(i as u32, u)).collect();
        let mut app =
            super::super::testing::test_app(Config::default(), map, super::super::picture::Picture::new(super::super::picture::Source::Demo { speed: 1.0 }));
        app.add_plugins(plugin);
        app.world_mut().spawn(Camera3d::default());
        app.update();
        assert!(skipping(&mut app), "nothing compiled yet: held back");
        // Pipelines settle, but the map's units are not spawned yet.
        app.world().resource::<PipelinesQuiet>().0.store(5, Ordering::Relaxed);
        app.update();
        assert!(skipping(&mut app), "no unit spawned: held back");
        assert_eq!(app.world().resource::<FirstPicture>().complete, None);
        let n = units.len();
        for u in units {
            app.world_mut().spawn(u);
        }
        app.update();
        let first = app.world().resource::<FirstPicture>().clone();
        assert!(!skipping(&mut app), "complete: shown");
        assert!(first.shown);
        assert_eq!(first.complete.map(|(frame, _)| frame), Some(3), "complete on the third frame ({n} units)");
        // A pipeline queued later does not hide the picture again.
        app.world().resource::<PipelinesQuiet>().0.store(0, Ordering::Relaxed);
        app.update();
        assert!(!skipping(&mut app));
        assert_eq!(app.world().resource::<FirstPicture>().frames, 3, "no counting once complete");
    }

    #[test]
    fn complete_needs_every_unit_and_quiet_pipelines_and_fonts() {
        assert!(is_complete(43, 43, 3, 2));
        assert!(is_complete(0, 0, 3, 2), "an empty scene is complete once its pipelines and fonts are");
        assert!(!is_complete(42, 43, 9, 9), "a unit not spawned");
        assert!(!is_complete(43, 43, 2, 9), "a pipeline compiled two frames ago may have a successor queued");
        assert!(!is_complete(43, 43, 9, 1), "a glyph rasterised last frame");
    }
}
