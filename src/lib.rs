//! Situation Wall: a native 3D situational-awareness display of Chaoyang District's
//! township-level units, extruded and coloured by live cyber-security risk.
//!
//! Layers, lowest first (a lower one never imports a higher one):
//! * [`geo`]: GeoJSON loading, datum conversion, projection, triangulation, extrusion;
//! * [`model`]: scores, levels, alerts, the colour ramp and the risk state;
//! * [`api`]: the backend contract's JSON shapes;
//! * [`feed`]: recordings, replay, the demo simulator and the live HTTP + SSE client;
//! * [`gateway`]: the gateway's durable store (SQLite);
//! * [`server`]: the gateway and reference backend (`serve`), over [`gateway`]'s store;
//! * [`config`]: the configuration file;
//! * [`cli`]: the command-line commands that need no window (`check-map`, `simulate`);
//! * [`app`]: the Bevy scene and egui overlay.

pub mod api;
pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod feed;
pub mod gateway;
pub mod geo;
pub mod model;
pub mod server;
