//! `config.toml`: found via `--config`, `$MODCON_CONFIG`, or the user config directory.
//! The repository's copy documents every key. Unknown keys are errors, not surprises.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const CONFIG_ENV: &str = "MODCON_CONFIG";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub confirm: ConfirmConfig,
    pub cache: crate::cache::CacheConfig,
    /// Per operator and rolling hour (SPEC §11); enforced by the data layer.
    pub limits: crate::db::Limits,
    pub security: SecurityConfig,
    /// Deleted rows kept restorable (SPEC §10).
    pub trash: crate::db::trash::TrashConfig,
    /// Key overrides: action name → key or list of keys. Checked by the keymap, so a
    /// bad entry is reported and its default kept instead of failing the whole file.
    pub keys: std::collections::BTreeMap<String, toml::Value>,
    /// The schema map (SPEC §8), read by [`Config::schema_map`] so that every mistake
    /// in it is reported with its key.
    pub schema: toml::Table,
}

impl Config {
    /// The `[schema]` map; without one, the reference schema.
    pub fn schema_map(&self) -> Result<crate::db::SchemaMap, Vec<String>> {
        crate::db::SchemaMap::from_toml(&self.schema)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Operator roles that cannot sign in without MFA (SPEC §11).
    pub require_mfa: Vec<crate::db::Role>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite:…`; `DATABASE_URL` and `--database-url` override it.
    pub url: Option<String>,
    /// Opening a connection (or getting one from the pool) gives up after this long.
    pub connect_timeout_secs: u64,
    /// One statement gives up after this long; 0 waits as long as it runs.
    pub statement_timeout_secs: u64,
    /// The database password on the first line of this file, for URLs without one.
    pub password_file: Option<PathBuf>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        let timeouts = crate::db::Timeouts::default();
        DatabaseConfig {
            url: None,
            connect_timeout_secs: timeouts.connect.as_secs(),
            statement_timeout_secs: timeouts.statement.map_or(0, |s| s.as_secs()),
            password_file: None,
        }
    }
}

/// The URL's secrets stay hidden in debug output too.
impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_deref().map(crate::db::redact_url))
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("statement_timeout_secs", &self.statement_timeout_secs)
            .field("password_file", &self.password_file)
            .finish()
    }
}

impl DatabaseConfig {
    pub fn timeouts(&self) -> crate::db::Timeouts {
        use std::time::Duration;
        crate::db::Timeouts {
            // A connection cannot be opened in no time at all.
            connect: Duration::from_secs(self.connect_timeout_secs.max(1)),
            statement: (self.statement_timeout_secs > 0)
                .then(|| Duration::from_secs(self.statement_timeout_secs)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub file: Option<PathBuf>,
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            file: None,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfirmConfig {
    /// Plans with more targets than this need the number typed to confirm.
    pub typed_above: usize,
    /// Every destructive action needs a reason.
    pub require_reason: bool,
}

impl Default for ConfirmConfig {
    fn default() -> Self {
        ConfirmConfig {
            typed_above: 20,
            require_reason: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
}

/// Where the config comes from, if anywhere: an explicit path must exist; the user
/// config directory's file is optional.
pub fn locate(explicit: Option<&Path>) -> Option<(PathBuf, bool)> {
    if let Some(path) = explicit {
        return Some((path.to_path_buf(), true));
    }
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(path), true));
    }
    let dirs = crate::paths::project_dirs()?;
    Some((dirs.config_dir().join("config.toml"), false))
}

pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
    let Some((path, required)) = locate(explicit) else {
        return Ok((Config::default(), None));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Config::default(), None));
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let config = parse(&text).map_err(|message| ConfigError::Parse {
        path: path.clone(),
        message,
    })?;
    Ok((config, Some(path)))
}

pub fn parse(text: &str) -> Result<Config, String> {
    let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
    // A map with mistakes is refused when the file is read, every mistake named.
    config
        .schema_map()
        .map_err(|problems| problems.join("\n"))?;
    Ok(config)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_config_documents_keys_that_parse() {
        let text = include_str!("../config.toml");
        let config = parse(text).unwrap();
        assert_eq!(config.confirm.typed_above, 20);
        assert_eq!(config.log.level, "info");
        assert!(config.security.require_mfa.is_empty());
        let config = parse("[security]\nrequire_mfa = [\"admin\"]\n").unwrap();
        assert_eq!(config.security.require_mfa, [crate::db::Role::Admin]);
        assert!(parse("[security]\nrequire_mfa = [\"root\"]\n").is_err());
        assert!(config.limits.is_empty(), "no rate limit unless configured");
        assert_eq!(config.trash.keep_days, 30);
        assert_eq!(parse("").unwrap().trash.keep_days, 30);
        assert!(!parse("[trash]\nkeep_days = 0\n").unwrap().trash.is_on());
        assert_eq!(config.database.timeouts(), crate::db::Timeouts::default());
        assert_eq!(
            parse("").unwrap().database.timeouts(),
            crate::db::Timeouts::default()
        );
    }

    #[test]
    fn debug_output_of_the_config_hides_the_database_password() {
        let config =
            parse("[database]\nurl = \"postgres://u:hunter22@h/db?sslpassword=keypass9\"\n")
                .unwrap();
        let shown = format!("{config:?}");
        assert!(
            shown.contains("postgres://u:***@h/db?sslpassword=***"),
            "{shown}"
        );
        assert!(
            !shown.contains("hunter22") && !shown.contains("keypass9"),
            "{shown}"
        );
    }

    #[test]
    fn timeouts_are_read_from_the_database_section_and_zero_means_no_statement_bound() {
        let config =
            parse("[database]\nconnect_timeout_secs = 3\nstatement_timeout_secs = 0\n").unwrap();
        let timeouts = config.database.timeouts();
        assert_eq!(timeouts.connect, std::time::Duration::from_secs(3));
        assert_eq!(timeouts.statement, None);
        assert_eq!(timeouts.request(), None);
    }

    #[test]
    fn limits_are_read_per_key_and_absent_keys_mean_no_limit() {
        let config = parse("[limits]\nusers_per_hour = 5\n").unwrap();
        assert_eq!(config.limits.users_per_hour, 5);
        assert_eq!(config.limits.guilds_per_hour, 0);
        let err = parse("[limits]\nuser_per_hour = 5\n").unwrap_err();
        assert!(err.contains("user_per_hour"), "{err}");
    }

    #[test]
    fn a_schema_map_with_mistakes_is_refused_with_each_key_named() {
        let err = parse("[schema.users]\nusrname = \"name\"\n[schema.gilds]\n").unwrap_err();
        assert!(err.contains("schema.users.usrname"), "{err}");
        assert!(err.contains("schema.gilds"), "{err}");
        let config = parse("[schema.users]\ntable = \"accounts\"\n").unwrap();
        assert_eq!(
            config.schema_map().unwrap().table(crate::db::Entity::Users),
            "accounts"
        );
    }

    #[test]
    fn unknown_keys_are_reported_not_ignored() {
        let err = parse("[confirm]\ntyped_abuv = 3\n").unwrap_err();
        assert!(err.contains("typed_abuv"), "{err}");
    }
}
