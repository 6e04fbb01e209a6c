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
    #[error("database unreachable: {0}")]
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
}

impl DataError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        DataError::Invalid(message.into())
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
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                DataError::Unavailable(error.to_string())
            }
            E::Database(db) => {
                let message = db.message().to_string();
                if message.contains("append-only") {
                    return DataError::Forbidden(message);
                }
                if message.contains("read-only")
                    || message.contains("readonly")
                    || message.contains("query_only")
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

impl From<sqlx::migrate::MigrateError> for DataError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        match error {
            sqlx::migrate::MigrateError::Execute(inner) => DataError::from(inner),
            other => DataError::Migrate(other.to_string()),
        }
    }
}
