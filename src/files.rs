//! Files that hold a secret or the record of what operators did: kept to their owner, and
//! a warning when other users could read one.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::config::Config;

/// What `open_private` found: an existing file that others could read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposed {
    /// Its permission bits when found.
    pub mode: u32,
    /// Whether it is now readable by its owner only.
    pub tightened: bool,
}

/// Opens `path` for appending, created readable and writable by its owner only (0600); an
/// existing file that group or others could read is tightened to 0600.
pub fn open_private(path: &Path) -> std::io::Result<(File, Option<Exposed>)> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    let exposed = mode_if_readable_by_others(&file.metadata()?).map(|mode| Exposed {
        mode,
        tightened: tighten(&file).is_ok(),
    });
    Ok((file, exposed))
}

#[cfg(unix)]
fn tighten(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn tighten(_: &File) -> std::io::Result<()> {
    Ok(())
}

/// The permission bits, when group or others may read the file.
#[cfg(unix)]
fn mode_if_readable_by_others(metadata: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn mode_if_readable_by_others(_: &std::fs::Metadata) -> Option<u32> {
    None
}

/// The warning for a file holding a password that group or others can read, if it is so.
pub fn readable_secret_warning(path: &Path, what: &str) -> Option<String> {
    let metadata = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    let mode = mode_if_readable_by_others(&metadata)?;
    let path = crate::sanitize::clean_line(&path.display().to_string());
    Some(format!(
        "{what} {path} holds a password and other users can read it (mode {mode:04o}); \
         run: chmod 600 {path}"
    ))
}

/// Whether the configuration holds a password: in the database URL, or the cache's.
pub fn config_holds_password(config: &Config) -> bool {
    [&config.database.url, &config.cache.redis_url]
        .into_iter()
        .flatten()
        .any(|url| url_holds_password(url))
}

/// `scheme://user:password@host…`, `redis://:password@host`, or a `password=` parameter.
fn url_holds_password(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if lower.contains("password=") {
        return true;
    }
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.split_once(':').is_some_and(|(_, p)| !p.is_empty()))
}

/// The warning for a config file that holds a password and others can read, if it is so.
pub fn config_warning(path: &Path, config: &Config) -> Option<String> {
    if !config_holds_password(config) {
        return None;
    }
    readable_secret_warning(path, "config file")
}

/// Tells the operator on stderr (before the console takes the screen) and in the log.
pub fn warn(warning: &str) {
    eprintln!("modcon: warning: {warning}");
    tracing::warn!("{warning}");
}

/// Warns when the config file in use holds a password that others can read.
pub fn check_config(path: Option<&Path>, config: &Config) {
    if let Some(warning) = path.and_then(|path| config_warning(path, config)) {
        warn(&warning);
    }
}

/// Warns when a password file can be read by others.
pub fn check_password_file(path: &Path) {
    if let Some(warning) = readable_secret_warning(path, "password file") {
        warn(&warning);
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let dir = std::env::temp_dir().join(format!("modcon-files-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn write_with_mode(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_new_log_file_is_readable_by_its_owner_only() {
        let dir = TempDir::new();
        let path = dir.0.join("modcon.log");
        let (_, exposed) = open_private(&path).unwrap();
        assert_eq!(exposed, None);
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn an_existing_log_file_others_could_read_is_tightened() {
        let dir = TempDir::new();
        let path = dir.0.join("modcon.log");
        write_with_mode(&path, "old line\n", 0o644);
        let (_, exposed) = open_private(&path).unwrap();
        assert_eq!(
            exposed,
            Some(Exposed {
                mode: 0o644,
                tightened: true
            })
        );
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old line\n");
    }

    #[test]
    fn a_config_with_a_database_password_readable_by_others_is_warned_about() {
        let dir = TempDir::new();
        let path = dir.0.join("config.toml");
        let text = "[database]\nurl = \"postgres://mod:s3cret@db.example/platform\"\n";
        write_with_mode(&path, text, 0o644);
        let config = crate::config::parse(text).unwrap();
        let warning = config_warning(&path, &config).expect("a warning");
        assert!(
            warning.contains("0644") && warning.contains("chmod 600"),
            "{warning}"
        );
        assert!(!warning.contains("s3cret"), "{warning}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(
            config_warning(&path, &config).is_some(),
            "group can read it"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(config_warning(&path, &config), None);
    }

    #[test]
    fn a_config_without_a_password_is_not_warned_about_whatever_its_mode() {
        let dir = TempDir::new();
        let path = dir.0.join("config.toml");
        let text = "[database]\nurl = \"postgres://mod@db.example/platform?sslmode=require\"\n";
        write_with_mode(&path, text, 0o644);
        let config = crate::config::parse(text).unwrap();
        assert_eq!(config_warning(&path, &config), None);
    }

    #[test]
    fn passwords_are_found_in_userinfo_parameters_and_the_cache_url() {
        assert!(url_holds_password("postgres://mod:pw@host/db"));
        assert!(url_holds_password("redis://:pw@127.0.0.1:6379/0"));
        assert!(url_holds_password(
            "postgres://host/db?user=mod&password=pw"
        ));
        assert!(url_holds_password("postgres://host/db?sslpassword=pw"));
        assert!(!url_holds_password("postgres://mod@host/db"));
        assert!(!url_holds_password("postgres://host/db?x=a:b@c"));
        assert!(!url_holds_password("sqlite:demo.db"));
        let config = crate::config::parse("[cache]\nredis_url = \"redis://:pw@h/0\"\n").unwrap();
        assert!(config_holds_password(&config));
    }

    #[test]
    fn a_password_file_readable_by_others_is_warned_about() {
        let dir = TempDir::new();
        let path = dir.0.join("password");
        write_with_mode(&path, "hunter2\n", 0o604);
        let warning = readable_secret_warning(&path, "password file").expect("a warning");
        assert!(
            warning.starts_with("password file ") && warning.contains("0604"),
            "{warning}"
        );
        assert!(!warning.contains("hunter2"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(readable_secret_warning(&path, "password file"), None);
    }
}
