//! The moderation data layer. Knows nothing of the terminal: plain async functions that
//! take the [`Db`] handle and an [`Actor`], check permissions themselves, and do one
//! moderation step each inside one transaction, audit rows included.
//!
//! Shared SQL is written once with `$n` placeholders (SQLite accepts them too) and run
//! through [`Tx`], which binds [`Arg`]s and reads [`Row`]s per backend; SQL that genuinely
//! differs lives in `match tx.backend()` arms.

pub mod actor;
pub mod audit;
pub mod auth;
pub mod chats;
pub mod comments;
pub mod error;
pub mod guilds;
pub mod id;
pub mod ids;
pub mod impact;
pub mod insert;
pub mod lists;
pub mod messages;
pub mod plan;
pub mod schema;
pub mod users;

mod sql;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

pub use actor::{Actor, Permission, Role};
pub use error::DataError;
pub use id::{Id, IdKind};
pub use schema::{Entity, Schema, SchemaMap};
pub use sql::Arg;
pub(crate) use sql::{Row, Sql, Tx};

static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        })
    }
}

#[derive(Debug, Clone)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A handle on the platform's database. Cheap to clone: the pools are shared.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    read_only: bool,
    url: std::sync::Arc<str>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend())
            .field("url", &redact_url(&self.url))
            .field("read_only", &self.read_only)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// The database itself refuses writes (read-only transactions on PostgreSQL,
    /// `query_only` on SQLite), and the data layer refuses them before trying.
    ReadOnly,
}

const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
// How long a request waits for a connection before saying the database is unreachable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

impl Db {
    /// Connects by URL scheme: `postgres://` / `postgresql://` or `sqlite:`.
    pub async fn connect(url: &str, access: Access) -> Result<Db, DataError> {
        let read_only = access == Access::ReadOnly;
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut options = PgConnectOptions::from_str(url)
                .map_err(|e| DataError::BadDatabaseUrl(redact_url(&e.to_string())))?
                // Times without a zone on the platform's side are read and written as UTC.
                .options([("timezone", "UTC")]);
            if read_only {
                options = options.options([("default_transaction_read_only", "on")]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(5)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?;
            Pool::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let mut options = SqliteConnectOptions::from_str(url)
                .map_err(|e| DataError::BadDatabaseUrl(redact_url(&e.to_string())))?
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .create_if_missing(!read_only);
            if read_only {
                options = options.pragma("query_only", "ON");
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?;
            Pool::Sqlite(pool)
        } else {
            return Err(DataError::BadDatabaseUrl(format!(
                "{}: expected postgres://… or sqlite:…",
                redact_url(url)
            )));
        };
        Ok(Db {
            pool,
            read_only,
            url: url.into(),
        })
    }

    /// The same database through a new pool with other access; this handle stays open.
    /// A console signs in read-write (sign-ins are recorded), then reopens read-only.
    pub async fn reopen(&self, access: Access) -> Result<Db, DataError> {
        Db::connect(&self.url, access).await
    }

    /// Where the database is, with any password hidden.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Applies the embedded migrations for this backend.
    pub async fn migrate(&self) -> Result<(), DataError> {
        if self.read_only {
            return Err(DataError::ReadOnly);
        }
        match &self.pool {
            Pool::Postgres(pool) => PG_MIGRATIONS.run(pool).await?,
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Fails with a hint if the schema is missing (the console does not migrate a
    /// platform's database on its own; `modcon migrate` does).
    pub async fn check_schema(&self) -> Result<(), DataError> {
        let mut tx = self.read().await?;
        let found = tx
            .fetch_optional("select count(*) from audit_log where 1 = 0", &[])
            .await;
        tx.rollback().await?;
        match found {
            Ok(_) => Ok(()),
            Err(DataError::Unavailable(e)) => Err(DataError::Unavailable(e)),
            Err(_) => Err(DataError::Migrate(format!(
                "{} has no modcon schema (no audit_log table): run `modcon migrate` first",
                self.display_url()
            ))),
        }
    }

    /// The live catalog of the platform's tables (on PostgreSQL, in `namespace` or the
    /// connection's current schema).
    pub async fn catalog(&self, namespace: Option<&str>) -> Result<schema::Catalog, DataError> {
        let mut tx = self.read().await?;
        let catalog = schema::Catalog::read(&mut tx, namespace).await;
        tx.rollback().await?;
        catalog
    }

    /// Checks `map` against the live catalog: the schema modcon can run on, or every
    /// problem, one line each.
    pub async fn check_map(&self, map: &SchemaMap) -> Result<Schema, DataError> {
        let catalog = self.catalog(map.namespace.as_deref()).await?;
        let schema = schema::check(map, catalog).map_err(DataError::Schema)?;
        schema::probe(self, &schema).await?;
        Ok(schema)
    }

    /// What deleting `ids` of `entity` would take with it, from the live foreign keys:
    /// rows per table that cascade, rows kept but unlinked, and the first restricting
    /// reference per target. Changes nothing.
    pub async fn delete_impact(
        &self,
        schema: &Schema,
        entity: Entity,
        ids: &[Id],
    ) -> Result<impact::Impact, DataError> {
        let Some(mapped) = schema.entity(entity) else {
            return Err(DataError::invalid(format!(
                "{} are not enabled in the schema map",
                entity.nouns().1
            )));
        };
        let Some(id_column) = mapped.columns.get("id") else {
            return Err(DataError::invalid(format!(
                "{} have no id column in the schema map",
                entity.nouns().1
            )));
        };
        let roots = [impact::Root {
            table: mapped.table.clone(),
            column: id_column.name.clone(),
            is_id: true,
        }];
        let kind = schema.id_kind(entity);
        let mut tx = self.read().await?;
        let result = impact::measure(&mut tx, schema, &roots, kind, ids).await;
        tx.rollback().await?;
        result
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }

    /// Runs one fixed statement and returns the first column of its first row as an
    /// integer: for tools and tests that check the database directly.
    pub async fn query_i64(
        &self,
        sql: &'static str,
        args: &[Arg],
    ) -> Result<Option<i64>, DataError> {
        let mut tx = self.read().await?;
        let row = tx.fetch_optional(sql, args).await?;
        tx.rollback().await?;
        match row {
            None => Ok(None),
            Some(row) => row.first_int(),
        }
    }

    /// Runs one fixed statement in its own transaction; returns the rows it changed.
    pub async fn execute_statement(
        &self,
        sql: &'static str,
        args: &[Arg],
    ) -> Result<u64, DataError> {
        let mut tx = self.write().await?;
        let n = tx.execute(sql, args).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// A transaction for reading: several statements see one consistent state.
    pub(crate) async fn read(&self) -> Result<Tx, DataError> {
        Ok(match &self.pool {
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        })
    }

    /// A transaction for writing. On SQLite it takes the write lock up front
    /// (`begin immediate`), so two writers queue instead of failing on upgrade, and
    /// checks made inside it (the last admin) cannot be raced.
    pub(crate) async fn write(&self) -> Result<Tx, DataError> {
        if self.read_only {
            return Err(DataError::ReadOnly);
        }
        Ok(match &self.pool {
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin_with("begin immediate").await?),
        })
    }
}

/// Hides the password in a database URL so it can be shown or logged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_string();
    };
    format!(
        "{}://{}:***{}",
        &url[..scheme_end],
        &userinfo[..colon],
        &rest[at..]
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::redact_url;

    #[test]
    fn redact_url_hides_the_password_and_keeps_the_rest() {
        assert_eq!(
            redact_url("postgres://mod:s3cr@t@db.example:5432/platform?sslmode=require"),
            "postgres://mod:***@db.example:5432/platform?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(redact_url("sqlite:demo.db"), "sqlite:demo.db");
    }
}
