//! `serve`: the reference backend, playing a recording through the `/api/v1` contract.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::config;
use crate::feed::Recording;
use crate::server::{self, ServeOptions};

/// What `serve` was asked to do.
#[derive(Clone, Debug)]
pub struct ServeArgs {
    /// Recording to play; `None` for the built-in demo.
    pub recording: Option<PathBuf>,
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Recording seconds per second (> 0).
    pub speed: f64,
    /// Map whose units `/units` lists; `None` for the built-in schematic.
    pub map: Option<PathBuf>,
    /// Environment variable holding the bearer token to require.
    pub token_env: Option<String>,
    /// Events kept for Last-Event-ID resumption.
    pub retain_events: usize,
}

/// Serves until the process is stopped.
///
/// # Errors
/// A bad speed, an unreadable recording or map, an unset or empty token variable, or an
/// address that cannot be bound.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ServeArgs { recording, addr, speed, map, token_env, retain_events } = args;
    anyhow::ensure!(speed.is_finite() && speed > 0.0, "--speed must be a positive number");
    let recording = recording.unwrap_or_else(|| config::resolve(config::DEFAULT_RECORDING.as_ref()));
    let map = map.unwrap_or_else(|| config::resolve(config::DEFAULT_MAP.as_ref()));
    let rec = Recording::read(&recording).with_context(|| format!("reading {}", recording.display()))?;
    for e in rec.errors.iter().take(20) {
        eprintln!("recording {}: {e}", recording.display());
    }
    let bureaus = config::resolve(config::DEFAULT_BUREAUS.as_ref());
    let units = super::unit_infos(&map, bureaus.exists().then_some(bureaus.as_path()))?;
    let token = match token_env {
        Some(var) => {
            let t = std::env::var(&var).map_err(|_| anyhow::anyhow!("--token-env {var}: variable not set"))?;
            anyhow::ensure!(!t.trim().is_empty(), "--token-env {var}: the token is empty");
            Some(t.trim().to_owned())
        }
        None => None,
    };
    let options =
        ServeOptions { recording: Arc::new(rec), units, speed, looping: true, token, retain_events, keep_alive: Duration::from_secs(15), anchor: None };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let handle = server::start(options, addr).await?;
        println!("serving {} at http://{}/api/v1 (×{speed})", recording.display(), handle.addr);
        handle.wait().await;
        anyhow::Ok(())
    })
}
