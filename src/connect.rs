//! How the program reaches the platform's database: which database (the demo, a URL,
//! the config), opened with the schema map checked; and the one error type of the
//! application edge, which knows its exit code.

use crate::cli::Cli;
use crate::config::Config;
use crate::db::{Access, ConnectOptions, DataError, Db};
use crate::exit::Exit;

/// An error that already knows its exit code and message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
        }
    }
}

impl From<DataError> for Failure {
    fn from(error: DataError) -> Self {
        Failure::new(Exit::for_data_error(&error), error.to_string())
    }
}

/// Where the database came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Demo(std::path::PathBuf),
    Url,
}

pub fn database_url(cli: &Cli, config: &Config) -> Result<(String, Source), Failure> {
    if cli.demo {
        let path = crate::paths::demo_database().map_err(|e| {
            Failure::new(
                Exit::Failed,
                format!("cannot create the data directory: {e}"),
            )
        })?;
        return Ok((format!("sqlite:{}", path.display()), Source::Demo(path)));
    }
    match cli
        .database_url
        .clone()
        .or_else(|| config.database.url.clone())
    {
        Some(url) if !url.trim().is_empty() => Ok((url, Source::Url)),
        _ => Err(Failure::new(
            Exit::Usage,
            "no database: pass --database-url, set DATABASE_URL or [database] url in \
             config.toml, or try the demo with --demo",
        )),
    }
}

/// Opens the database read-write. The demo is created, migrated and seeded on first use;
/// other databases must already have the schema (`modcon migrate`).
pub async fn open(cli: &Cli, config: &Config) -> Result<(Db, Source), Failure> {
    let map = schema_map(config)?;
    let (url, source) = database_url(cli, config)?;
    let options = connect_options(config)?;
    let db = match source {
        Source::Demo(_) => {
            let db = Db::create_using(&url, &options).await?;
            db.migrate(&map).await?;
            let db = db.load_schema(&map).await?;
            crate::seed::seed_demo_if_empty(&db).await?;
            db
        }
        _ => Db::open_using(&url, Access::ReadWrite, &map, &options).await?,
    };
    let db = db.with_limits(config.limits).with_trash(config.trash);
    tracing::info!(database = %db.display_url(), backend = %db.backend(), "connected");
    Ok((db, source))
}

/// The `[database]` timeouts, and the password from `password_file` if one is named.
pub fn connect_options(config: &Config) -> Result<ConnectOptions, Failure> {
    let password = match &config.database.password_file {
        Some(path) => {
            crate::files::check_password_file(path);
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::new(
                    Exit::Usage,
                    format!(
                        "cannot read [database] password_file {}: {e}",
                        crate::sanitize::clean_line(&path.display().to_string())
                    ),
                )
            })?;
            Some(text.lines().next().unwrap_or("").to_string()).filter(|p| !p.is_empty())
        }
        None => None,
    };
    Ok(ConnectOptions {
        timeouts: config.database.timeouts(),
        password,
    })
}

/// The `[schema]` map of the configuration; its mistakes are a usage error.
pub fn schema_map(config: &Config) -> Result<crate::db::SchemaMap, Failure> {
    config
        .schema_map()
        .map_err(|problems| Failure::new(Exit::Usage, problems.join("\n")))
}

/// Who ran a command on this machine, for the audit record.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}
