//! Logs go to a file, never to the terminal the console draws on.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

pub const LOG_ENV: &str = "MODCON_LOG";

/// Starts logging to `file` (or the data directory's `modcon.log`); returns the path.
pub fn init(file: Option<&Path>, level: &str) -> std::io::Result<PathBuf> {
    let path = match file {
        Some(path) => path.to_path_buf(),
        None => crate::paths::data_dir()?.join("modcon.log"),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let writer = OpenOptions::new().create(true).append(true).open(&path)?;
    // sqlx logs every statement, and slow ones in full (a bulk insert is megabytes):
    // only its errors are worth a line here.
    let filter = EnvFilter::try_from_env(LOG_ENV)
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=error")));
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(writer))
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(path)
}
