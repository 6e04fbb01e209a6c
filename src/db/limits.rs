//! Rate limits (SPEC §11): per operator and rolling hour, how many users, guilds and
//! chat sessions they may delete. Counted from the audit record inside the execute
//! transaction, after a lock that serialises one operator's deletes, so two consoles of
//! the same operator cannot both spend the last of the allowance.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ops::OpKind;
use super::{Actor, Backend, DataError, Id, Sql, Tx};

/// `[limits]` of the configuration. 0 (or absent) means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub users_per_hour: u32,
    pub guilds_per_hour: u32,
    pub chat_sessions_per_hour: u32,
}

impl Limits {
    /// The cap on `kind` per operator and hour, if it has one.
    pub fn cap(&self, kind: OpKind) -> Option<u32> {
        let cap = match kind {
            OpKind::DeleteUsers => self.users_per_hour,
            OpKind::DeleteGuilds => self.guilds_per_hour,
            OpKind::DeleteChatSessions => self.chat_sessions_per_hour,
            _ => 0,
        };
        (cap > 0).then_some(cap)
    }

    pub fn is_empty(&self) -> bool {
        OpKind::ALL.iter().all(|kind| self.cap(*kind).is_none())
    }
}

/// What is left of an operator's hourly allowance for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Allowance {
    /// The cap per hour.
    pub limit: u32,
    /// Deleted by this operator in the last hour.
    pub used: u32,
    pub remaining: u32,
    /// When enough of the hour's deletions leave the window for the request at hand
    /// (or, if it fits, when the oldest one leaves); `None` when nothing is counted or
    /// the request is larger than the whole cap.
    pub frees_at: Option<DateTime<Utc>>,
}

impl Allowance {
    pub fn fits(&self, wanted: usize) -> bool {
        wanted <= self.remaining as usize
    }
}

/// The window of a rate limit.
pub const WINDOW: Duration = Duration::hours(1);

/// A key for `pg_advisory_xact_lock` that is the same for one operator in every modcon
/// process (FNV-1a of the id, so it does not depend on Rust's hasher seed).
pub fn operator_lock_key(operator: &Id) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"modcon.rate_limit:"
        .iter()
        .chain(operator.to_string().as_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Serialises `actor`'s limited deletes until the transaction ends (PostgreSQL; SQLite's
/// `begin immediate` already holds the database; MySQL, which has no transaction-scoped
/// advisory lock, takes the audit chain's append lock, which every delete takes anyway).
pub(crate) async fn lock_operator(tx: &mut Tx, actor: &Actor) -> Result<(), DataError> {
    match tx.backend() {
        Backend::Postgres => {}
        Backend::Sqlite => return Ok(()),
        Backend::Mysql => return super::audit::lock_chain(tx).await,
    }
    let mut q = Sql::raw(Backend::Postgres);
    q.push("select pg_advisory_xact_lock(")
        .bind(operator_lock_key(&actor.id))
        .push(")");
    tx.fetch_optional_sql(&q).await?;
    Ok(())
}

/// The start of the window on the database's clock (the clock that wrote `at`).
fn push_window_start(q: &mut Sql<'_>, backend: Backend) {
    match backend {
        Backend::Postgres => q.push("now() - interval '1 hour'"),
        Backend::Sqlite => q.push("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour')"),
        Backend::Mysql => q.push("utc_timestamp(6) - interval 1 hour"),
    };
}

fn push_counted(q: &mut Sql<'_>, backend: Backend, actor: &Actor, action: &str) {
    q.push(" from {#modcon_audit_log} where actor_id = ")
        .bind(actor.id.to_string())
        .push(" and action = ")
        .bind(action.to_string())
        .push(" and at > ");
    push_window_start(q, backend);
}

/// `actor`'s allowance for `kind` as the audit record has it now, for a request that
/// would delete `wanted` more; `None` if `kind` is not limited.
pub(crate) async fn allowance(
    tx: &mut Tx,
    limits: &Limits,
    actor: &Actor,
    kind: OpKind,
    wanted: usize,
) -> Result<Option<Allowance>, DataError> {
    let Some(limit) = limits.cap(kind) else {
        return Ok(None);
    };
    let backend = tx.backend();
    let action = kind.spec().action;
    let mut q = Sql::raw(backend);
    q.push("select count(*)");
    push_counted(&mut q, backend, actor, action);
    let used = tx
        .fetch_optional_sql(&q)
        .await?
        .map(|row| row.first_int())
        .transpose()?
        .flatten()
        .unwrap_or(0);
    let used = u32::try_from(used).unwrap_or(u32::MAX);
    let remaining = limit.saturating_sub(used);
    // The k-th oldest deletion counted must leave the window before `wanted` fits.
    let must_leave = (used as usize + wanted)
        .saturating_sub(limit as usize)
        .max(1);
    let frees_at = if used == 0 || wanted > limit as usize {
        None
    } else {
        let mut q = Sql::raw(backend);
        q.push("select at");
        push_counted(&mut q, backend, actor, action);
        q.push(" order by at limit 1 offset ")
            .bind(must_leave as i64 - 1);
        match tx.fetch_optional_sql(&q).await? {
            Some(row) => Some(row.time("at")? + WINDOW),
            None => None,
        }
    };
    Ok(Some(Allowance {
        limit,
        used,
        remaining,
        frees_at,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_users_guilds_and_chat_sessions_are_limited_and_zero_means_no_limit() {
        let limits = Limits {
            users_per_hour: 5,
            guilds_per_hour: 0,
            chat_sessions_per_hour: 100,
        };
        assert_eq!(limits.cap(OpKind::DeleteUsers), Some(5));
        assert_eq!(limits.cap(OpKind::DeleteGuilds), None);
        assert_eq!(limits.cap(OpKind::DeleteChatSessions), Some(100));
        assert_eq!(limits.cap(OpKind::DeleteComments), None);
        assert!(Limits::default().is_empty());
        assert!(!limits.is_empty());
    }

    #[test]
    fn the_lock_key_is_stable_and_differs_between_operators() {
        let a = operator_lock_key(&Id::Int(7));
        assert_eq!(a, operator_lock_key(&Id::Int(7)));
        assert_ne!(a, operator_lock_key(&Id::Int(8)));
    }
}
