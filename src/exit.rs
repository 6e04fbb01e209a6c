//! Exit codes are an interface for scripts (documented in the README).

use std::process::ExitCode;

use crate::db::DataError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything asked was done.
    Done = 0,
    /// Some items were done, others failed or were refused.
    Partial = 1,
    /// Bad usage or input; nothing was changed.
    Usage = 2,
    /// Not allowed: role, read-only session, locked or wrong credentials.
    NotAllowed = 3,
    /// The database could not be reached.
    Unavailable = 4,
    /// The plan changed between plan and execute; nothing was changed.
    PlanChanged = 5,
    /// Anything else (a database error, a bug); nothing was changed.
    Failed = 6,
    /// The operator's hourly rate limit would be exceeded; nothing was changed.
    RateLimited = 7,
    /// The database broke a deadlock with another operation twice; nothing was changed.
    Deadlock = 8,
    /// `audit verify`: the audit record's hash chain is broken.
    Tampered = 9,
}

impl Exit {
    pub fn for_data_error(error: &DataError) -> Exit {
        match error {
            DataError::Forbidden(_) | DataError::ReadOnly => Exit::NotAllowed,
            DataError::Invalid(_)
            | DataError::NotFound(_)
            | DataError::BadDatabaseUrl(_)
            | DataError::Schema(_) => Exit::Usage,
            DataError::PlanChanged(_) => Exit::PlanChanged,
            DataError::Unavailable(_) => Exit::Unavailable,
            DataError::RateLimited { .. } => Exit::RateLimited,
            DataError::Deadlock(_) => Exit::Deadlock,
            DataError::Constraint(_)
            | DataError::Database(_)
            | DataError::Migrate(_)
            | DataError::Corrupt(_)
            | DataError::Internal(_)
            | DataError::Cancelled => Exit::Failed,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}
