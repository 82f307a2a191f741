//! How the 3D picture reaches the window. Bevy draws a camera into an intermediate "main"
//! texture (egui's panels included) and then copies it to the window with a full-screen blit
//! pass, its "upscaling": every pixel of the window shaded once more. On lavapipe that pass
//! cost 13.5 ms of a 78 ms frame at 1920×1080 and 52 ms of 207 ms at 3840×2160 (README,
//! Performance), more than the map itself at 4K.
//!
//! Where the two textures are the same size and format, the wall copies the main texture into
//! the window's texture instead (`copy_texture_to_texture`, a plain memory copy, no shader).
//! Bevy 0.19 allows neither, so `vendor/` holds Bevy's `bevy_render` and `bevy_egui` 0.42 with
//! three small changes (`vendor/README.md`): the window's surface also allows copies into it
//! (`COPY_DST`, where the surface offers it), a window's main texture keeps the swapchain's
//! `Bgra8UnormSrgb` (Bevy made it `Rgba8UnormSrgb`, the blit reading one order and writing the
//! other), and
//! egui's pipeline is made for the main texture's format. Wherever the copy does not apply —
//! a surface without `COPY_DST`, a screenshot's capture texture, a viewport, a second camera
//! blended over the first, a size or format that differs — Bevy's own blit runs as before,
//! frame by frame, and the log says once why.

use bevy::camera::{CameraOutputMode, CompositingSpace, NormalizedRenderTarget};
use bevy::core_pipeline::Core3d;
use bevy::core_pipeline::Core3dSystems;
use bevy::core_pipeline::upscaling::upscaling;
use bevy::ecs::entity::EntityHashMap;
use bevy::ecs::schedule::ScheduleCleanupPolicy;
use bevy::prelude::*;
use bevy::render::RenderApp;
use bevy::render::camera::ExtractedCamera;
use bevy::render::diagnostic::RecordDiagnostics;
use bevy::render::render_resource::TextureUsages;
use bevy::render::renderer::{CurrentView, RenderContext, ViewQuery};
use bevy::render::view::ViewTarget;

pub(super) fn plugin(app: &mut App) {
    let Some(render) = app.get_sub_app_mut(RenderApp) else {
        return;
    };
    // Bevy's blit stays in its set (egui's pass is ordered before that set), but runs only
    // for views the copy does not serve. Removing a system initialises the render world's
    // Core3d schedule here, while plugins are still being built; Bevy 0.19's Core3d systems
    // allow that (checked by every render check), a later Bevy may not.
    match render.remove_systems_in_set(Core3d, upscaling, ScheduleCleanupPolicy::RemoveSystemsOnly) {
        Ok(_) => {
            render.add_systems(
                Core3d,
                (
                    upscaling.run_if(blits_to_window).after(Core3dSystems::PostProcess),
                    copy_to_window.run_if(copies_to_window).after(Core3dSystems::PostProcess).after(bevy_egui::render::egui_pass),
                ),
            );
        }
        Err(e) => warn!("present: Bevy's blit to the window could not be replaced ({e}); it stays"),
    }
}

/// Whether the current view's picture can be copied into its output as it is: it writes to
/// the output (not held back), replaces it (the first camera on its target, no blend), covers
/// it whole (no viewport), needs no colour conversion, and the output texture takes copies and
/// has the main texture's size and format (ignoring sRGB-ness, which a copy keeps byte for
/// byte). Says in the log which path each view takes, once and again when it changes (a view's
/// entry stays while the wall runs: one per camera).
fn copies_to_window(current: Option<Res<CurrentView>>, views: Query<(&ViewTarget, &ExtractedCamera)>, mut said: Local<EntityHashMap<&'static str>>) -> bool {
    let Some(view) = current.map(|c| c.0) else {
        return false;
    };
    let Ok((target, camera)) = views.get(view) else {
        return false;
    };
    if let CameraOutputMode::Skip = camera.output_mode {
        return false;
    }
    let why_not = blit_needed(target, camera);
    let now = why_not.unwrap_or("the picture is copied to the window, no blit");
    if said.get(&view) != Some(&now) {
        info!("present: {now}");
        said.insert(view, now);
    }
    why_not.is_none()
}

/// The opposite of [`copies_to_window`], without its log line: Bevy's blit runs for this view.
fn blits_to_window(current: Option<Res<CurrentView>>, views: Query<(&ViewTarget, &ExtractedCamera)>) -> bool {
    current.and_then(|c| views.get(c.0).ok()).is_none_or(|(target, camera)| blit_needed(target, camera).is_some())
}

/// Why the view's picture needs Bevy's blit rather than a copy, or `None` when a copy serves.
fn blit_needed(target: &ViewTarget, camera: &ExtractedCamera) -> Option<&'static str> {
    let CameraOutputMode::Write { blend_state, .. } = camera.output_mode else {
        return Some("Bevy's blit: the camera is held back");
    };
    let Some(out) = target.out_texture() else {
        return Some("Bevy's blit: the view has no output");
    };
    let (src, dst) = (target.main_texture(), out.texture());
    if blend_state.is_some() || camera.sorted_camera_index_for_target != 0 {
        Some("Bevy's blit: the camera blends over another")
    } else if camera.viewport.is_some() {
        Some("Bevy's blit: the camera has a viewport")
    } else if !matches!(camera.compositing_space, None | Some(CompositingSpace::Linear)) {
        Some("Bevy's blit: the picture needs a colour conversion")
    } else if !matches!(camera.target, Some(NormalizedRenderTarget::Window(_))) {
        Some("Bevy's blit: the camera draws to an image")
    } else if !dst.usage().contains(TextureUsages::COPY_DST) {
        Some("Bevy's blit: the output takes no copies (the surface offers no COPY_DST, or a screenshot is being taken)")
    } else if !src.usage().contains(TextureUsages::COPY_SRC) {
        Some("Bevy's blit: the main texture cannot be copied from")
    } else if src.size() != dst.size() {
        Some("Bevy's blit: the main texture and the output differ in size")
    } else if src.format().remove_srgb_suffix() != dst.format().remove_srgb_suffix() {
        Some("Bevy's blit: the main texture and the output differ in format")
    } else {
        None
    }
}

/// Copies the view's main texture into its output texture (the window's swapchain image), in
/// place of Bevy's blit; timed as `present_copy` under `--pass-timings`.
fn copy_to_window(view: ViewQuery<&ViewTarget>, mut ctx: RenderContext) {
    let target = view.into_inner();
    let Some(out) = target.out_texture() else {
        return;
    };
    let (src, dst) = (target.main_texture().clone(), out.texture().clone());
    // Bevy presents a window only when a pass took its output as an attachment; taking it
    // (and not using it) marks the output as written, so the copied image is presented.
    let _written = target.out_texture_color_attachment(None);
    let diagnostics = ctx.diagnostic_recorder();
    let diagnostics = diagnostics.as_deref();
    let span = diagnostics.time_span(ctx.command_encoder(), "present_copy");
    ctx.command_encoder().copy_texture_to_texture(src.as_image_copy(), dst.as_image_copy(), src.size());
    span.end(ctx.command_encoder());
}
