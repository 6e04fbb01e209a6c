//! One way to run a statement on either backend. Values are always bound, never
//! formatted into SQL; the only SQL built at run time is a list of placeholders.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{AssertSqlSafe, Postgres, Row as _, SqlSafeStr, SqlStr, Sqlite};
use uuid::Uuid;

use super::{Backend, DataError};

/// A value to bind. Uuids are native on PostgreSQL and lowercase text on SQLite; times
/// are `timestamptz` on PostgreSQL and fixed-width UTC text on SQLite.
#[derive(Debug, Clone)]
pub enum Arg {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    Json(serde_json::Value),
}

impl From<Uuid> for Arg {
    fn from(v: Uuid) -> Self {
        Arg::Uuid(v)
    }
}
impl From<Option<Uuid>> for Arg {
    fn from(v: Option<Uuid>) -> Self {
        Arg::OptUuid(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl From<DateTime<Utc>> for Arg {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(v)
    }
}
impl From<Option<DateTime<Utc>>> for Arg {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::OptTime(v)
    }
}
impl From<serde_json::Value> for Arg {
    fn from(v: serde_json::Value) -> Self {
        Arg::Json(v)
    }
}

/// The values to bind, in placeholder order: `&args![a, b, c]`.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        [$($crate::db::Arg::from($value)),*]
    };
}
pub(crate) use args;

/// The same, as a `Vec` (for rows collected into multi-row statements).
macro_rules! arg_vec {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::db::Arg::from($value)),*]
    };
}
pub(crate) use arg_vec;

/// The SQLite text form of a time: fixed width, so text order is time order, and the
/// same form the schema's `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')` defaults write.
pub(crate) fn sqlite_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `$start, $start+1, …` for `n` values: the only SQL text made at run time.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A statement whose text contains only fixed SQL and placeholders.
pub(crate) fn built(sql: String) -> SqlStr {
    AssertSqlSafe(sql).into_sql_str()
}

fn bind_pg<'q>(
    mut q: Query<'q, Postgres, PgArguments>,
    args: &[Arg],
) -> Query<'q, Postgres, PgArguments> {
    for arg in args {
        q = match arg {
            Arg::Uuid(v) => q.bind(*v),
            Arg::OptUuid(v) => q.bind(*v),
            Arg::Text(v) => q.bind(v.clone()),
            Arg::OptText(v) => q.bind(v.clone()),
            Arg::Int(v) => q.bind(*v),
            Arg::Bool(v) => q.bind(*v),
            Arg::Time(v) => q.bind(*v),
            Arg::OptTime(v) => q.bind(*v),
            Arg::Json(v) => q.bind(sqlx::types::Json(v.clone())),
        };
    }
    q
}

fn bind_sqlite<'q>(
    mut q: Query<'q, Sqlite, SqliteArguments>,
    args: &[Arg],
) -> Query<'q, Sqlite, SqliteArguments> {
    for arg in args {
        q = match arg {
            Arg::Uuid(v) => q.bind(v.to_string()),
            Arg::OptUuid(v) => q.bind(v.map(|v| v.to_string())),
            Arg::Text(v) => q.bind(v.clone()),
            Arg::OptText(v) => q.bind(v.clone()),
            Arg::Int(v) => q.bind(*v),
            Arg::Bool(v) => q.bind(*v),
            Arg::Time(v) => q.bind(sqlite_time(v)),
            Arg::OptTime(v) => q.bind(v.as_ref().map(sqlite_time)),
            Arg::Json(v) => q.bind(v.to_string()),
        };
    }
    q
}

/// A transaction on either backend.
pub(crate) enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl Tx {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Tx::Postgres(_) => Backend::Postgres,
            Tx::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn execute(
        &mut self,
        sql: impl SqlSafeStr,
        args: &[Arg],
    ) -> Result<u64, DataError> {
        let sql = sql.into_sql_str();
        Ok(match self {
            Tx::Postgres(tx) => bind_pg(sqlx::query(sql), args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Tx::Sqlite(tx) => bind_sqlite(sqlx::query(sql), args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    pub(crate) async fn fetch_all(
        &mut self,
        sql: impl SqlSafeStr,
        args: &[Arg],
    ) -> Result<Vec<Row>, DataError> {
        let sql = sql.into_sql_str();
        Ok(match self {
            Tx::Postgres(tx) => bind_pg(sqlx::query(sql), args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
            Tx::Sqlite(tx) => bind_sqlite(sqlx::query(sql), args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
        })
    }

    pub(crate) async fn fetch_optional(
        &mut self,
        sql: impl SqlSafeStr,
        args: &[Arg],
    ) -> Result<Option<Row>, DataError> {
        let sql = sql.into_sql_str();
        Ok(match self {
            Tx::Postgres(tx) => bind_pg(sqlx::query(sql), args)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Postgres),
            Tx::Sqlite(tx) => bind_sqlite(sqlx::query(sql), args)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Sqlite),
        })
    }

    pub(crate) async fn fetch_one(
        &mut self,
        sql: impl SqlSafeStr,
        args: &[Arg],
    ) -> Result<Row, DataError> {
        self.fetch_optional(sql, args)
            .await?
            .ok_or(DataError::Internal(
                "a query that always returns a row returned none",
            ))
    }

    pub(crate) async fn commit(self) -> Result<(), DataError> {
        match self {
            Tx::Postgres(tx) => tx.commit().await?,
            Tx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<(), DataError> {
        match self {
            Tx::Postgres(tx) => tx.rollback().await?,
            Tx::Sqlite(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// A result row from either backend, read by column name.
pub(crate) enum Row {
    Postgres(PgRow),
    Sqlite(SqliteRow),
}

impl Row {
    /// The first column as an integer (NULL as `None`).
    pub(crate) fn first_int(&self) -> Result<Option<i64>, DataError> {
        Ok(match self {
            Row::Postgres(r) => match r.try_get::<Option<i64>, _>(0) {
                Ok(v) => v,
                Err(_) => r.try_get::<Option<i32>, _>(0)?.map(i64::from),
            },
            Row::Sqlite(r) => r.try_get::<Option<i64>, _>(0)?,
        })
    }

    pub(crate) fn uuid(&self, col: &str) -> Result<Uuid, DataError> {
        self.opt_uuid(col)?
            .ok_or(DataError::Internal("a non-null uuid column was null"))
    }

    pub(crate) fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, DataError> {
        match self {
            Row::Postgres(r) => Ok(r.try_get::<Option<Uuid>, _>(col)?),
            Row::Sqlite(r) => match r.try_get::<Option<String>, _>(col)? {
                None => Ok(None),
                Some(text) => Uuid::parse_str(&text)
                    .map(Some)
                    .map_err(|_| DataError::Corrupt(format!("{col} holds a malformed uuid"))),
            },
        }
    }

    pub(crate) fn text(&self, col: &str) -> Result<String, DataError> {
        Ok(self.opt_text(col)?.unwrap_or_default())
    }

    pub(crate) fn opt_text(&self, col: &str) -> Result<Option<String>, DataError> {
        Ok(match self {
            Row::Postgres(r) => r.try_get::<Option<String>, _>(col)?,
            Row::Sqlite(r) => r.try_get::<Option<String>, _>(col)?,
        })
    }

    /// Any integer column (PostgreSQL `count(*)` is int8, columns are int4).
    pub(crate) fn int(&self, col: &str) -> Result<i64, DataError> {
        Ok(self.opt_int(col)?.unwrap_or(0))
    }

    pub(crate) fn opt_int(&self, col: &str) -> Result<Option<i64>, DataError> {
        Ok(match self {
            Row::Postgres(r) => match r.try_get::<Option<i64>, _>(col) {
                Ok(v) => v,
                Err(_) => r.try_get::<Option<i32>, _>(col)?.map(i64::from),
            },
            Row::Sqlite(r) => r.try_get::<Option<i64>, _>(col)?,
        })
    }

    pub(crate) fn bool(&self, col: &str) -> Result<bool, DataError> {
        Ok(match self {
            Row::Postgres(r) => r.try_get::<bool, _>(col)?,
            Row::Sqlite(r) => r.try_get::<i64, _>(col)? != 0,
        })
    }

    pub(crate) fn time(&self, col: &str) -> Result<DateTime<Utc>, DataError> {
        self.opt_time(col)?
            .ok_or(DataError::Internal("a non-null time column was null"))
    }

    pub(crate) fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, DataError> {
        match self {
            Row::Postgres(r) => Ok(r.try_get::<Option<DateTime<Utc>>, _>(col)?),
            Row::Sqlite(r) => match r.try_get::<Option<String>, _>(col)? {
                None => Ok(None),
                Some(text) => parse_sqlite_time(&text)
                    .map(Some)
                    .ok_or_else(|| DataError::Corrupt(format!("{col} holds a malformed time"))),
            },
        }
    }

    pub(crate) fn json(&self, col: &str) -> Result<serde_json::Value, DataError> {
        match self {
            Row::Postgres(r) => Ok(r
                .try_get::<Option<sqlx::types::Json<serde_json::Value>>, _>(col)?
                .map(|j| j.0)
                .unwrap_or(serde_json::Value::Null)),
            Row::Sqlite(r) => match r.try_get::<Option<String>, _>(col)? {
                None => Ok(serde_json::Value::Null),
                Some(text) => serde_json::from_str(&text)
                    .map_err(|_| DataError::Corrupt(format!("{col} holds malformed json"))),
            },
        }
    }
}

/// Reads the schema's own format and the looser forms other writers of the platform
/// may have used (`2026-01-02 03:04:05`, with or without fractions or offset).
fn parse_sqlite_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let normalised = text.replace(' ', "T");
    if let Ok(t) = DateTime::parse_from_rfc3339(&normalised) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(
                text.trim_end_matches('Z'),
                "%Y-%m-%dT%H:%M:%S%.f",
            )
        })
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_times_have_fixed_width_so_text_order_is_time_order() {
        let a = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = a + chrono::Duration::milliseconds(7);
        assert_eq!(sqlite_time(&a), "2026-01-02T03:04:05.000Z");
        assert_eq!(sqlite_time(&b), "2026-01-02T03:04:05.007Z");
        assert!(sqlite_time(&a) < sqlite_time(&b));
    }

    #[test]
    fn sqlite_time_parsing_accepts_other_writers_forms() {
        for text in [
            "2026-01-02T03:04:05.000Z",
            "2026-01-02 03:04:05",
            "2026-01-02 03:04:05.123",
            "2026-01-02T03:04:05+00:00",
        ] {
            let t = parse_sqlite_time(text).unwrap();
            assert_eq!(
                t.format("%Y-%m-%d %H:%M:%S").to_string(),
                "2026-01-02 03:04:05"
            );
        }
        assert!(parse_sqlite_time("yesterday").is_none());
    }

    #[test]
    fn placeholders_number_from_the_given_start() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 1), "$1");
    }
}
