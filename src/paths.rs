//! Where modcon keeps its files when not told: the user's config and data directories.

use std::path::PathBuf;

use directories::ProjectDirs;

pub fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "modcon")
}

/// The data directory (demo database, log), created if missing.
pub fn data_dir() -> std::io::Result<PathBuf> {
    let dir = match std::env::var_os("MODCON_DATA_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => project_dirs()
            .map(|d| d.data_dir().to_path_buf())
            .ok_or_else(|| std::io::Error::other("no home directory to keep data in"))?,
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub fn demo_database() -> std::io::Result<PathBuf> {
    Ok(data_dir()?.join("demo.db"))
}
