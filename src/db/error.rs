use chrono::{DateTime, Utc};

use super::plan::Plan;

/// Everything the data layer can refuse or fail with. Each variant is something an
/// operator (or a script, through its exit code) can act on.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("read-only session: nothing can be changed")]
    ReadOnly,
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("the plan changed since it was confirmed; nothing was changed — review the new plan")]
    PlanChanged(Box<Plan>),
    /// The operator's hourly cap (`[limits]`) would be exceeded: the whole batch is
    /// refused.
    #[error("{}", rate_limited_text(what, *limit, *used, *wanted, frees_at.as_ref()))]
    RateLimited {
        /// "users", "guilds", "chat sessions".
        what: &'static str,
        limit: u32,
        used: u32,
        wanted: usize,
        frees_at: Option<DateTime<Utc>>,
    },
    /// The database broke a deadlock (or a serialization conflict, or SQLite stayed
    /// busy past its timeout) by failing this transaction; after one retry.
    #[error(
        "the database detected a deadlock with another operation; nothing was changed — try again"
    )]
    Deadlock(String),
    #[error("cannot reach or open the database: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Constraint(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("bad database URL: {0}")]
    BadDatabaseUrl(String),
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error("the schema map does not fit the database:\n{}", .0.join("\n"))]
    Schema(Vec<String>),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// The operator stopped a running statement; the database cancelled it.
    #[error("stopped: the database cancelled the statement")]
    Cancelled,
}

impl DataError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        DataError::Invalid(message.into())
    }

    /// The allowance a refusal left, as a plan carries it.
    pub fn rate_limit(&self) -> Option<super::limits::Allowance> {
        match self {
            DataError::RateLimited {
                limit,
                used,
                frees_at,
                ..
            } => Some(super::limits::Allowance {
                limit: *limit,
                used: *used,
                remaining: limit.saturating_sub(*used),
                frees_at: *frees_at,
            }),
            _ => None,
        }
    }

    /// True when retrying later may succeed: the database went away.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DataError::Unavailable(_))
    }
}

impl From<sqlx::Error> for DataError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &error {
            E::PoolTimedOut => DataError::Unavailable(
                "no connection answered within [database] connect_timeout_secs".into(),
            ),
            E::Io(_) | E::Tls(_) | E::PoolClosed | E::WorkerCrashed => {
                DataError::Unavailable(error.to_string())
            }
            E::Database(db) if is_cancelled(db.as_ref()) => DataError::Cancelled,
            E::Database(db) if is_deadlock(db.as_ref()) => {
                DataError::Deadlock(db.message().to_string())
            }
            E::Database(db) if is_statement_timeout(db.as_ref()) => {
                DataError::Unavailable(format!(
                    "{} ([database] statement_timeout_secs bounds one statement)",
                    db.message()
                ))
            }
            E::Database(db) => {
                let message = db.message().to_string();
                if message.contains("append-only") {
                    return DataError::Forbidden(message);
                }
                let lower = message.to_lowercase();
                if lower.contains("read-only")
                    || lower.contains("readonly")
                    || lower.contains("read only transaction")
                    || lower.contains("query_only")
                {
                    return DataError::ReadOnly;
                }
                match db.kind() {
                    sqlx::error::ErrorKind::UniqueViolation => {
                        DataError::Constraint(format!("already exists: {message}"))
                    }
                    sqlx::error::ErrorKind::ForeignKeyViolation => {
                        DataError::Constraint(format!("still referenced: {message}"))
                    }
                    sqlx::error::ErrorKind::CheckViolation => {
                        DataError::Constraint(format!("value not allowed: {message}"))
                    }
                    _ => DataError::Database(message),
                }
            }
            _ => DataError::Database(error.to_string()),
        }
    }
}

/// PostgreSQL's deadlock and serialization failures (SQLSTATE 40P01, 40001); SQLite's
/// busy and locked (primary codes 5 and 6), which reach us only after the busy timeout;
/// MySQL's deadlock (1213) and lock wait timeout (1205).
fn is_deadlock(error: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(mysql) = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(mysql.number(), 1213 | 1205);
    }
    let Some(code) = error.code() else {
        return false;
    };
    if error
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        return code
            .parse::<i32>()
            .is_ok_and(|code| matches!(code & 0xff, 5 | 6));
    }
    matches!(code.as_ref(), "40P01" | "40001")
}

/// PostgreSQL's "canceling statement due to user request" (57014, which a statement
/// timeout also raises, in other words); SQLite's interrupt (9); MySQL's `kill query`
/// (1317).
fn is_cancelled(error: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(mysql) = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return mysql.number() == 1317;
    }
    let Some(code) = error.code() else {
        return false;
    };
    if error
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        return code.parse::<i32>().is_ok_and(|code| code & 0xff == 9);
    }
    code.as_ref() == "57014" && error.message().contains("user request")
}

/// A statement the server stopped for running past `[database] statement_timeout_secs`:
/// PostgreSQL's 57014 for `statement_timeout`, MariaDB's `max_statement_time` (1969),
/// MySQL's `max_execution_time` (3024).
fn is_statement_timeout(error: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(mysql) = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(mysql.number(), 1969 | 3024);
    }
    error.code().as_deref() == Some("57014")
}

fn rate_limited_text(
    what: &str,
    limit: u32,
    used: u32,
    wanted: usize,
    frees_at: Option<&DateTime<Utc>>,
) -> String {
    let left = limit.saturating_sub(used);
    let head = format!(
        "rate limit: deleting {wanted} more would go over your limit of {limit} {what} per \
         hour ({used} deleted in the last hour, {left} left); nothing was changed"
    );
    match frees_at {
        _ if wanted > limit as usize => {
            format!("{head} — ask for at most {limit} at a time")
        }
        Some(at) => format!(
            "{head} — the window frees up at {} UTC",
            at.format("%Y-%m-%d %H:%M:%S")
        ),
        None => head,
    }
}

impl From<sqlx::migrate::MigrateError> for DataError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        match error {
            sqlx::migrate::MigrateError::Execute(inner) => DataError::from(inner),
            other => DataError::Migrate(other.to_string()),
        }
    }
}
