//! The moderation data layer. Knows nothing of the terminal: plain async functions that
//! take the [`Db`] handle and an [`Actor`], check permissions themselves, and do one
//! moderation step each inside one transaction, audit rows included.
//!
//! The platform's tables are named by a schema map checked against the live catalog
//! ([`schema`]); every statement is built by one builder ([`sql::Sql`]) that quotes those
//! names and writes each backend's placeholders, and runs through [`Tx`], which binds
//! [`Arg`]s and reads [`Row`]s per backend. SQL that genuinely differs lives in
//! `match backend` arms.

pub mod actor;
pub mod audit;
pub mod auth;
pub mod chats;
pub mod comments;
pub mod connection;
pub mod error;
pub mod guilds;
pub mod id;
pub mod ids;
pub mod impact;
pub mod insert;
pub mod limits;
pub mod lists;
pub mod messages;
pub mod mfa;
pub mod model;
pub mod ops;
pub mod plan;
pub mod schema;
pub mod search;
pub mod trash;
pub mod users;

mod sql;

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{MySqlPool, PgPool, SqlitePool};

pub use actor::{Actor, Permission, Role};
pub use connection::{ConnectOptions, Timeouts, redact_url};
pub use error::DataError;
pub use id::{Id, IdKind};
pub use limits::{Allowance, Limits};
pub use schema::{Entity, Schema, SchemaMap};
pub use sql::Arg;
pub(crate) use sql::{Row, Sql, Tx};

// The reference platform schema (the demo, the tests, platforms that adopt it).
static PG_REFERENCE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE_REFERENCE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
// modcon's own tables, on every database it runs on; tracked apart from the platform's.
static PG_OWN: sqlx::migrate::Migrator = sqlx::migrate!("migrations/modcon/postgres");
static SQLITE_OWN: sqlx::migrate::Migrator = sqlx::migrate!("migrations/modcon/sqlite");
static MYSQL_REFERENCE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/mysql");
static MYSQL_OWN: sqlx::migrate::Migrator = sqlx::migrate!("migrations/modcon/mysql");

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgres,
    Sqlite,
    /// MySQL or MariaDB.
    Mysql,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
            Backend::Mysql => "MySQL",
        })
    }
}

#[derive(Debug, Clone)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
    Mysql(MySqlPool),
}

/// A handle on the platform's database. Cheap to clone: the pools are shared.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    read_only: bool,
    url: std::sync::Arc<str>,
    /// The checked map; `None` until [`Db::load_schema`] (only `migrate` and the
    /// `schema` commands run without one).
    schema: Option<std::sync::Arc<Schema>>,
    /// `[limits]`, enforced by every execute on this handle.
    limits: Limits,
    /// `[trash]`: whether deletes keep what they remove, and for how long.
    trash: trash::TrashConfig,
    /// Timeouts and the password file, kept to reopen the same way.
    options: ConnectOptions,
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Descriptions of the migrations applied now, in order.
    pub applied: Vec<String>,
    /// The reference platform schema was created or upgraded too (no map written).
    pub reference: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend())
            .field("url", &redact_url(&self.url))
            .field("read_only", &self.read_only)
            .field("limits", &self.limits)
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

impl Db {
    /// Connects by URL scheme: `postgres://` / `postgresql://`, `mysql://` / `mariadb://`
    /// or `sqlite:`. A SQLite
    /// file must exist: a mistyped path is an error, not a new empty database.
    pub async fn connect(url: &str, access: Access) -> Result<Db, DataError> {
        Db::connect_using(url, access, &ConnectOptions::default()).await
    }

    /// Connects read-write, creating a SQLite file that does not exist yet (the demo, a
    /// new database for `migrate`, tests).
    pub async fn create(url: &str) -> Result<Db, DataError> {
        Db::create_using(url, &ConnectOptions::default()).await
    }

    /// [`Db::connect`] with the configuration's timeouts and password file.
    pub async fn connect_using(
        url: &str,
        access: Access,
        options: &ConnectOptions,
    ) -> Result<Db, DataError> {
        Db::connect_with(url, access, IfMissing::Refuse, options).await
    }

    /// [`Db::create`] with the configuration's timeouts and password file.
    pub async fn create_using(url: &str, options: &ConnectOptions) -> Result<Db, DataError> {
        Db::connect_with(url, Access::ReadWrite, IfMissing::Create, options).await
    }

    async fn connect_with(
        url: &str,
        access: Access,
        if_missing: IfMissing,
        options: &ConnectOptions,
    ) -> Result<Db, DataError> {
        let read_only = access == Access::ReadOnly;
        let driver = connection::DriverUrl::parse(url, options)?;
        let timeouts = Timeouts {
            connect: driver.connect_timeout.unwrap_or(options.timeouts.connect),
            ..options.timeouts
        };
        let bad_url =
            |e: sqlx::Error| DataError::BadDatabaseUrl(driver.secrets.scrub(&e.to_string()));
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut pg = PgConnectOptions::from_str(&driver.url)
                .map_err(bad_url)?
                // Times without a zone on the platform's side are read and written as UTC.
                .options([("timezone", "UTC")]);
            if let Some(statement) = timeouts.statement {
                pg = pg.options([("statement_timeout", statement.as_millis().to_string())]);
            }
            if read_only {
                pg = pg.options([("default_transaction_read_only", "on")]);
            }
            if !driver.has_password
                && let Some(password) = &options.password
            {
                pg = pg.password(password);
            }
            try_one_connection(&pg, url, &driver, &timeouts, Backend::Postgres).await?;
            let pool = PgPoolOptions::new()
                .max_connections(5)
                .acquire_timeout(timeouts.connect)
                .connect_with(pg)
                .await?;
            Pool::Postgres(pool)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Pool::Mysql(connect_mysql(url, &driver, &timeouts, options, read_only).await?)
        } else if url.starts_with("sqlite:") {
            let parsed = SqliteConnectOptions::from_str(&driver.url).map_err(bad_url)?;
            let path = parsed.get_filename();
            let in_memory = path.as_os_str().is_empty() || url.contains(":memory:");
            let create = if_missing == IfMissing::Create;
            if !create && !in_memory && !path.exists() {
                return Err(DataError::Unavailable(format!(
                    "no SQLite database at {} (nothing was created; `modcon migrate` creates one)",
                    path.display()
                )));
            }
            let mut sqlite = parsed
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .create_if_missing(create && !read_only);
            if read_only {
                sqlite = sqlite.pragma("query_only", "ON");
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(timeouts.connect)
                .connect_with(sqlite)
                .await?;
            Pool::Sqlite(pool)
        } else {
            return Err(DataError::BadDatabaseUrl(format!(
                "{}: expected postgres://…, mysql://… or sqlite:…",
                redact_url(url)
            )));
        };
        Ok(Db {
            pool,
            read_only,
            url: url.into(),
            schema: None,
            limits: Limits::default(),
            trash: trash::TrashConfig::default(),
            options: ConnectOptions {
                timeouts,
                ..options.clone()
            },
        })
    }

    /// Connects and checks `map` against the live catalog: the handle every
    /// moderation step runs on.
    pub async fn open(url: &str, access: Access, map: &SchemaMap) -> Result<Db, DataError> {
        Db::open_using(url, access, map, &ConnectOptions::default()).await
    }

    /// [`Db::open`] with the configuration's timeouts and password file.
    pub async fn open_using(
        url: &str,
        access: Access,
        map: &SchemaMap,
        options: &ConnectOptions,
    ) -> Result<Db, DataError> {
        let db = Db::connect_using(url, access, options).await?;
        db.bounded(db.clone().load_schema(map)).await
    }

    /// The same database through a new pool with other access, with the same map; this
    /// handle stays open. A console signs in read-write (sign-ins are recorded), then
    /// reopens read-only.
    pub async fn reopen(&self, access: Access) -> Result<Db, DataError> {
        let mut db = Db::connect_using(&self.url, access, &self.options).await?;
        db.schema = self.schema.clone();
        db.limits = self.limits;
        db.trash = self.trash;
        Ok(db)
    }

    /// Reads the catalog and checks `map` against it; every problem is in the error.
    pub async fn load_schema(mut self, map: &SchemaMap) -> Result<Db, DataError> {
        let catalog = self.catalog(map.namespace.as_deref()).await?;
        if map.is_reference() && catalog.table("users").is_none() {
            return Err(DataError::Migrate(format!(
                "{} has no modcon schema (no users table): run `modcon migrate` first, or \
                 write a [schema] map for your platform's tables",
                self.display_url()
            )));
        }
        drop(catalog);
        let schema = self.check_map(map).await?;
        self.schema = Some(std::sync::Arc::new(schema));
        self.check_own_tables().await?;
        Ok(self)
    }

    /// The same handle enforcing `limits` (the configuration's `[limits]`) on every
    /// execute, so callers never pass them per request.
    pub fn with_limits(mut self, limits: Limits) -> Db {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The same handle keeping (or, with `keep_days = 0`, not keeping) what deletes
    /// remove, per the configuration's `[trash]`.
    pub fn with_trash(mut self, trash: trash::TrashConfig) -> Db {
        self.trash = trash;
        self
    }

    pub fn trash(&self) -> &trash::TrashConfig {
        &self.trash
    }

    /// Where the database is, with any password hidden.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Creates or updates modcon's own tables; with the reference map (no `[schema]`
    /// sections), also the reference platform schema, moving what earlier versions kept
    /// in it (password hashes, the audit record) into modcon's tables. A mapped
    /// platform's tables are never altered.
    pub async fn migrate(&self, map: &SchemaMap) -> Result<MigrationReport, DataError> {
        if self.read_only {
            return Err(DataError::ReadOnly);
        }
        let reference = map.is_reference();
        if reference {
            self.refuse_foreign_tables().await?;
        }
        let (own, platform) = match self.backend() {
            Backend::Postgres => (&PG_OWN, &PG_REFERENCE),
            Backend::Sqlite => (&SQLITE_OWN, &SQLITE_REFERENCE),
            Backend::Mysql => (&MYSQL_OWN, &MYSQL_REFERENCE),
        };
        let mut own = sqlx::migrate::Migrator::with_migrations(own.migrations.to_vec());
        match self.backend() {
            Backend::Postgres => {
                own.dangerous_set_table_name("modcon._modcon_migrations");
                own.create_schema("modcon");
            }
            Backend::Sqlite | Backend::Mysql => {
                own.dangerous_set_table_name("_modcon_migrations");
            }
        }
        own.set_ignore_missing(true);
        let mut platform = sqlx::migrate::Migrator::with_migrations(platform.migrations.to_vec());
        platform.set_ignore_missing(true);
        let mut applied = Vec::new();
        applied.extend(self.run_migrator(&own, "_modcon_migrations").await?);
        if reference {
            applied.extend(self.run_migrator(&platform, "_sqlx_migrations").await?);
        }
        let chained = audit::chain_existing(self).await?;
        if chained > 0 {
            applied.push(format!("chained {chained} earlier audit rows"));
        }
        if reference {
            // The reference schema is modcon's: its text filters get their indexes here.
            let schema = self.check_map(map).await?;
            applied.extend(search::reference_text_indexes(self, &schema).await?);
        }
        Ok(MigrationReport { applied, reference })
    }

    async fn run_migrator(
        &self,
        migrator: &sqlx::migrate::Migrator,
        table: &'static str,
    ) -> Result<Vec<String>, DataError> {
        let before = self.applied_versions(table).await;
        match &self.pool {
            Pool::Postgres(pool) => migrator.run(pool).await?,
            Pool::Sqlite(pool) => migrator.run(pool).await?,
            Pool::Mysql(pool) => migrator.run(pool).await?,
        }
        Ok(migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .filter(|m| !before.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect())
    }

    /// Versions already applied from a migrations table (none if it does not exist yet).
    async fn applied_versions(&self, table: &'static str) -> Vec<i64> {
        let name = match (self.backend(), table) {
            (Backend::Postgres, "_modcon_migrations") => "modcon._modcon_migrations",
            _ => table,
        };
        let Ok(mut tx) = self.read().await else {
            return Vec::new();
        };
        let mut q = Sql::raw(self.backend());
        q.push("select version from ").push(name);
        let rows = tx.fetch_all_sql(&q).await.unwrap_or_default();
        let _ = tx.rollback().await;
        rows.iter().filter_map(|r| r.int("version").ok()).collect()
    }

    /// The reference schema is created only where modcon created it before or where
    /// the platform's tables are absent: never over someone else's `users` table.
    async fn refuse_foreign_tables(&self) -> Result<(), DataError> {
        let catalog = self.catalog(None).await?;
        let ours = !self.applied_versions("_sqlx_migrations").await.is_empty();
        if !ours && catalog.table("users").is_some() {
            return Err(DataError::Migrate(
                "this database already has a users table that modcon did not create: write \
                 a [schema] map for it (see `modcon schema init`), then `modcon migrate` \
                 creates only modcon's own tables"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Fails with a hint if modcon's own tables are missing (the console does not
    /// migrate a platform's database on its own; `modcon migrate` does).
    async fn check_own_tables(&self) -> Result<(), DataError> {
        let mut tx = self.read().await?;
        let mut q = Sql::raw(self.backend());
        q.push("select count(*) from {#modcon_audit_log} where 1 = 0");
        let found = tx.fetch_optional_sql(&q).await;
        tx.rollback().await?;
        match found {
            Ok(_) => Ok(()),
            Err(DataError::Unavailable(e)) => Err(DataError::Unavailable(e)),
            Err(_) => Err(DataError::Migrate(format!(
                "{} has no modcon tables yet: run `modcon migrate` first",
                self.display_url()
            ))),
        }
    }

    /// The checked schema map.
    pub fn schema(&self) -> Result<&Schema, DataError> {
        self.schema
            .as_deref()
            .ok_or(DataError::Internal("the schema map was not checked"))
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
            Pool::Mysql(_) => Backend::Mysql,
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub async fn close(&self) {
        let closing = async {
            match &self.pool {
                Pool::Postgres(pool) => pool.close().await,
                Pool::Sqlite(pool) => pool.close().await,
                Pool::Mysql(pool) => pool.close().await,
            }
        };
        // Closing waits for every connection to come back and say goodbye; one left
        // mid-transaction by a request that timed out never does while the server is
        // stopped. The process's exit closes what is left.
        if tokio::time::timeout(self.options.timeouts.connect, closing)
            .await
            .is_err()
        {
            tracing::debug!(database = %self.display_url(), "gave up closing the connections");
        }
    }

    /// Runs one statement written for this backend and returns the first column of its
    /// first row as an integer: for tools and tests that check the database directly.
    /// `?` stands for the next value, `$n` for the n-th; `{@entity}` and `{#own_table}`
    /// name tables as in the data layer's templates.
    pub async fn query_i64(&self, sql: &str, args: &[Arg]) -> Result<Option<i64>, DataError> {
        let q = self.statement(sql, args)?;
        let mut tx = self.read().await?;
        let row = tx.fetch_optional_sql(&q).await?;
        tx.rollback().await?;
        match row {
            None => Ok(None),
            Some(row) => row.first_int(),
        }
    }

    /// Runs one such statement in its own transaction; returns the rows it changed.
    pub async fn execute_statement(&self, sql: &str, args: &[Arg]) -> Result<u64, DataError> {
        let q = self.statement(sql, args)?;
        let mut tx = self.write().await?;
        let n = tx.execute_sql(&q).await?;
        tx.commit().await?;
        Ok(n)
    }

    fn statement<'a>(&'a self, sql: &str, args: &[Arg]) -> Result<Sql<'a>, DataError> {
        let mut q = match &self.schema {
            Some(schema) => {
                let mut q = Sql::new(schema);
                // Short aliases a statement may use for every entity it names.
                for (alias, entity) in [
                    ("u", Entity::Users),
                    ("g", Entity::Guilds),
                    ("gm", Entity::GuildMembers),
                    ("gs", Entity::GuildSettings),
                    ("s", Entity::ChatSessions),
                    ("m", Entity::ChatMessages),
                    ("p", Entity::Messages),
                    ("b", Entity::Books),
                    ("c", Entity::Comments),
                    ("r", Entity::Reviews),
                    ("a", Entity::AppSessions),
                ] {
                    q.alias(alias, entity);
                }
                q
            }
            None => Sql::raw(self.backend()),
        };
        let mut next = 0;
        let mut rest = sql;
        while let Some(at) = rest.find(['?', '$']) {
            q.push(&rest[..at]);
            let after = &rest[at + 1..];
            let (index, consumed) = if rest[at..].starts_with('?') {
                next += 1;
                (next, 0)
            } else {
                let digits = after.chars().take_while(char::is_ascii_digit).count();
                match after[..digits].parse::<usize>() {
                    Ok(n) => (n, digits),
                    Err(_) => return Err(DataError::invalid("a lone $ in a statement")),
                }
            };
            let Some(arg) = index.checked_sub(1).and_then(|i| args.get(i)) else {
                return Err(DataError::invalid("fewer values than placeholders"));
            };
            q.bind(arg.clone());
            rest = &after[consumed..];
        }
        q.push(rest);
        Ok(q)
    }

    /// A transaction for reading: several statements see one consistent state.
    pub(crate) async fn read(&self) -> Result<Tx, DataError> {
        Ok(match &self.pool {
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Pool::Mysql(pool) => Tx::Mysql(pool.begin().await?),
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
            Pool::Mysql(pool) => Tx::Mysql(pool.begin().await?),
        })
    }
}

/// Opens and closes one connection before the pool, so that a refused connection, a
/// wrong password or an unknown database is reported as such (with the driver's reason,
/// secrets cut out), not as a pool that timed out.
async fn try_one_connection<O>(
    options: &O,
    url: &str,
    driver: &connection::DriverUrl,
    timeouts: &Timeouts,
    backend: Backend,
) -> Result<(), DataError>
where
    O: sqlx::ConnectOptions,
    O::Connection: Sized,
{
    let first = tokio::time::timeout(timeouts.connect, options.connect())
        .await
        .map_err(|_| {
            DataError::Unavailable(format!(
                "no answer from {} within {} s",
                redact_url(url),
                timeouts.connect.as_secs()
            ))
        })?
        .map_err(|e: sqlx::Error| {
            DataError::Unavailable(format!(
                "{}: {}",
                redact_url(url),
                connection::connect_failure(&e, &driver.secrets, backend)
            ))
        })?;
    let _ = sqlx::Connection::close(first).await;
    Ok(())
}

/// Session settings every MySQL/MariaDB connection runs with, so that the statements
/// the builder writes mean the same as on the other backends: `"` quotes identifiers,
/// `\` is an ordinary character in string literals (the `like … escape '\'` of every
/// filter), `||` concatenates; times are UTC (sqlx sets `time_zone`).
const MYSQL_SESSION: &str = "set session sql_mode = concat(@@sql_mode, \
     ',ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,STRICT_TRANS_TABLES')";

async fn connect_mysql(
    url: &str,
    driver: &connection::DriverUrl,
    timeouts: &Timeouts,
    options: &ConnectOptions,
    read_only: bool,
) -> Result<MySqlPool, DataError> {
    let mut my = MySqlConnectOptions::from_str(&driver.url)
        .map_err(|e| DataError::BadDatabaseUrl(driver.secrets.scrub(&e.to_string())))?
        .charset("utf8mb4");
    // sqlx reads the password from the user part only; `?password=` and the password
    // file are given to it here.
    if let Some(password) = connection::query_param(&driver.url, "password") {
        my = my.password(&password);
    } else if !driver.has_password
        && let Some(password) = &options.password
    {
        my = my.password(password);
    }
    try_one_connection(&my, url, driver, timeouts, Backend::Mysql).await?;
    let statement = timeouts.statement;
    let pool = MySqlPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(timeouts.connect)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                use sqlx::{AssertSqlSafe, Executor as _};
                conn.execute(MYSQL_SESSION).await?;
                // PostgreSQL's default: each statement sees what was committed before it,
                // so a read after taking a lock sees the lock holder's writes.
                conn.execute("set session transaction isolation level read committed")
                    .await?;
                if read_only {
                    conn.execute("set session transaction read only").await?;
                }
                if let Some(limit) = statement {
                    // MariaDB cancels any statement after `max_statement_time` seconds;
                    // MySQL has `max_execution_time` (milliseconds, reads only).
                    let mariadb =
                        format!("set session max_statement_time = {}", limit.as_secs_f64());
                    if conn.execute(AssertSqlSafe(mariadb)).await.is_err() {
                        let mysql =
                            format!("set session max_execution_time = {}", limit.as_millis());
                        conn.execute(AssertSqlSafe(mysql)).await?;
                    }
                }
                Ok(())
            })
        })
        .connect_with(my)
        .await?;
    Ok(pool)
}

/// What to do when a SQLite file is not there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfMissing {
    Create,
    Refuse,
}
