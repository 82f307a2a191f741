//! `serve`: the wall gateway, and the reference backend playing a recording through it (see
//! [`crate::server`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::config;
use crate::feed::Recording;
use crate::gateway::store::Store;
use crate::server::{self, GatewayOptions, Player, Scope, Tokens};

/// The store's file name inside `--data`.
pub const STORE_FILE: &str = "gateway.sqlite3";

/// What `serve` was asked to do.
#[derive(Clone, Debug)]
pub struct ServeArgs {
    /// Recording to play through the ingest path; `None`: the built-in demo when `data` is
    /// `None`, nothing (a pure gateway) when it is set.
    pub recording: Option<PathBuf>,
    /// Directory of the durable store (`DIR/gateway.sqlite3`, created when missing); `None`:
    /// an in-memory store, lost at exit.
    pub data: Option<PathBuf>,
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Recording seconds per second (> 0).
    pub speed: f64,
    /// Map whose units `/units` lists; `None` for the built-in schematic.
    pub map: Option<PathBuf>,
    /// Environment variable holding a read token.
    pub token_env: Option<String>,
    /// Environment variable holding an ingest token.
    pub ingest_token_env: Option<String>,
    /// Environment variable holding an operator token (acknowledges alerts).
    pub operator_token_env: Option<String>,
    /// File of `name scope token` lines.
    pub tokens_file: Option<PathBuf>,
    /// Most events kept for Last-Event-ID resumption (≥ 1).
    pub retain_events: u64,
    /// Events older than this many days are purged and raw scores rolled up (≥ 1); not applied
    /// while a recording plays (its times are the recording's, not now).
    pub retention_days: u32,
    /// Largest ingest body, MiB (1–4096).
    pub max_body_mib: usize,
    /// Most records per ingested batch (≥ 1).
    pub max_batch: usize,
    /// Serve HTTPS: a PEM certificate chain and its PEM private key (both or neither).
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// The value of a token variable, trimmed.
///
/// # Errors
/// When the variable is unset, not Unicode, or blank. The message names the variable and
/// `flag`, never the value.
pub fn token_from_env(var: &str, flag: &str) -> anyhow::Result<String> {
    let t = std::env::var(var).map_err(|_| anyhow::anyhow!("{flag} {var}: variable not set"))?;
    anyhow::ensure!(!t.trim().is_empty(), "{flag} {var}: the token is empty");
    Ok(t.trim().to_owned())
}

/// The tokens the arguments configure: `--token-env` as a read token and
/// `--ingest-token-env` as an ingest token (each named after its variable), then the lines of
/// `--tokens`.
///
/// # Errors
/// An unset or empty variable, an unreadable or malformed tokens file, a name or token used
/// twice. No message quotes a token.
pub fn tokens(args: &ServeArgs) -> anyhow::Result<Tokens> {
    let mut tokens = Tokens::new();
    if let Some(var) = &args.token_env {
        tokens.add(var, Scope::Read, &token_from_env(var, "--token-env")?).map_err(|e| anyhow::anyhow!("--token-env {var}: {e}"))?;
    }
    if let Some(var) = &args.ingest_token_env {
        tokens.add(var, Scope::Ingest, &token_from_env(var, "--ingest-token-env")?).map_err(|e| anyhow::anyhow!("--ingest-token-env {var}: {e}"))?;
    }
    if let Some(var) = &args.operator_token_env {
        tokens.add(var, Scope::Operate, &token_from_env(var, "--operator-token-env")?).map_err(|e| anyhow::anyhow!("--operator-token-env {var}: {e}"))?;
    }
    if let Some(path) = &args.tokens_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("--tokens {}", path.display()))?;
        warn_if_readable_by_others(path);
        tokens.add_file_text(&text, &path.display().to_string()).map_err(anyhow::Error::msg)?;
    }
    Ok(tokens)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!("serve: warning: {} is readable by other users (chmod 600 it)", path.display());
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Opens the store of `--data DIR` (creating the directory), or an in-memory one.
///
/// # Errors
/// When the directory cannot be created, or the store refuses the file (not a database,
/// corrupt, another application's, a newer schema, …): the message names the file.
pub fn open_store(data: Option<&Path>) -> anyhow::Result<Store> {
    let Some(dir) = data else { return Ok(Store::open(None)?) };
    std::fs::create_dir_all(dir).with_context(|| format!("--data: creating {}", dir.display()))?;
    Ok(Store::open(Some(&dir.join(STORE_FILE)))?)
}

/// Serves until the process is stopped.
///
/// # Errors
/// A bad argument, an unusable store, an unreadable recording or map, a bad token setting, or
/// an address that cannot be bound.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.speed.is_finite() && args.speed > 0.0, "--speed must be a positive number");
    anyhow::ensure!(args.retain_events >= 1, "--retain-events must be at least 1");
    anyhow::ensure!(args.retention_days >= 1, "--retention-days must be at least 1");
    anyhow::ensure!((1..=4096).contains(&args.max_body_mib), "--max-body-mib must be 1 to 4096");
    anyhow::ensure!(args.max_batch >= 1, "--max-batch must be at least 1");
    let tokens = tokens(&args)?;
    let store = open_store(args.data.as_deref())?;
    let map = args.map.clone().unwrap_or_else(|| config::resolve(config::DEFAULT_MAP.as_ref()));
    let bureaus = config::resolve(config::DEFAULT_BUREAUS.as_ref());
    let units = super::unit_infos(&map, bureaus.exists().then_some(bureaus.as_path()))?;
    let demo = args.recording.is_none() && args.data.is_none();
    let recording = match (&args.recording, demo) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => Some(config::resolve(config::DEFAULT_RECORDING.as_ref())),
        (None, false) => None,
    };
    let mut options = GatewayOptions::new(units);
    options.tokens = tokens;
    options.retain_events = Some(args.retain_events);
    options.max_body_bytes = args.max_body_mib << 20;
    options.max_batch = args.max_batch;
    options.retention_days = Some(args.retention_days);
    if let Some((cert, key)) = &args.tls {
        options.tls = Some(server::tls_config(cert, key)?);
    }
    let scheme = if options.tls.is_some() { "https" } else { "http" };
    if let Some(path) = &recording {
        let rec = Recording::read(path).with_context(|| format!("reading {}", path.display()))?;
        for e in rec.errors.iter().take(20) {
            eprintln!("recording {}: {e}", path.display());
        }
        options.simulated = demo || rec.header.is_simulated();
        options.player = Some(Player { recording: Arc::new(rec), speed: args.speed, looping: true, anchor: None });
        // A recording's times are its own, not now: retention by age would refuse them.
        options.retention_days = None;
    }
    if !args.addr.ip().is_loopback() && options.tokens.is_empty() {
        eprintln!("serve: warning: listening on {} with no token: anyone who can reach it may read and ingest", args.addr);
    }
    let store_text = match &args.data {
        Some(dir) => format!("store {} ({} events so far)", dir.join(STORE_FILE).display(), store.last_event_id()?),
        None => "in-memory store".to_owned(),
    };
    let playing = match &recording {
        Some(path) => format!("playing {} (×{})", path.display(), args.speed),
        None => "waiting for POST /api/v1/ingest".to_owned(),
    };
    let auth = if options.tokens.is_empty() { "no tokens".to_owned() } else { format!("{} token(s)", options.tokens.len()) };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let handle = server::start_gateway(store, options, args.addr).await.with_context(|| format!("listening on {}", args.addr))?;
        println!("serving {scheme}://{}/api/v1: {store_text}, {playing}, {auth}", handle.addr);
        handle.wait().await;
        anyhow::Ok(())
    })
}
