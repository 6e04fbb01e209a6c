//! One way to run a statement on either backend. Values are always bound, never
//! formatted into SQL; identifiers come only from a checked schema map, quoted here.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::mysql::{MySqlArguments, MySqlRow};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{AssertSqlSafe, MySql, Postgres, Row as _, SqlSafeStr, SqlStr, Sqlite};
use uuid::Uuid;

use super::schema::{Entity, Schema};
use super::{Backend, DataError, Id, IdKind};

/// A value to bind. Uuids are native on PostgreSQL and lowercase text elsewhere; times
/// are `timestamptz` on PostgreSQL, fixed-width UTC text on SQLite and UTC `datetime`
/// on MySQL.
#[derive(Debug, Clone)]
pub enum Arg {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    Json(serde_json::Value),
    /// An id (or no id) for a column of the given type: bound as that type.
    Id(IdKind, Option<Id>),
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
impl From<Id> for Arg {
    fn from(v: Id) -> Self {
        match v {
            Id::Int(n) => Arg::Int(n),
            Id::Text(text) => Arg::Text(text),
        }
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
impl From<serde_json::Value> for Arg {
    fn from(v: serde_json::Value) -> Self {
        Arg::Json(v)
    }
}

/// Quotes an identifier for the backend; the only way a table or column name reaches SQL.
pub(crate) fn quote(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Postgres | Backend::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
        Backend::Mysql => format!("`{}`", name.replace('`', "``")),
    }
}

/// One of modcon's own tables (SPEC §2): in schema `modcon` on PostgreSQL, prefixed
/// `modcon_` beside the platform's tables elsewhere.
pub(crate) fn own_table(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Postgres => format!("{}.{}", quote(backend, "modcon"), quote(backend, name)),
        Backend::Sqlite | Backend::Mysql => quote(backend, name),
    }
}

/// The SQLite text form of a time: fixed width, so text order is time order, and the
/// same form the schema's `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')` defaults write.
pub(crate) fn sqlite_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Builds one statement from fixed SQL, identifiers from a checked [`Schema`] and bound
/// values, with the backend's placeholders (`$n` on PostgreSQL, `?` on SQLite).
///
/// Templates name the map, never raw identifiers: `{@chat_sessions}` is the mapped
/// table, `{s.title}` the column mapped for `title` on the entity aliased `s`, and
/// `{s.title|''}` the same or the SQL after `|` where the platform has no such column;
/// `{#modcon_audit_log}` is one of modcon's own tables.
pub(crate) struct Sql<'s> {
    backend: Backend,
    schema: Option<&'s Schema>,
    aliases: Vec<(&'static str, Entity)>,
    text: String,
    args: Vec<Arg>,
    error: Option<String>,
}

impl<'s> Sql<'s> {
    /// A statement over the map's tables.
    pub(crate) fn new(schema: &'s Schema) -> Sql<'s> {
        Sql {
            backend: schema.backend,
            schema: Some(schema),
            aliases: Vec::new(),
            text: String::new(),
            args: Vec::new(),
            error: None,
        }
    }

    /// A statement that names no platform table (catalogs, modcon's own tables).
    pub(crate) fn raw(backend: Backend) -> Sql<'static> {
        Sql {
            backend,
            schema: None,
            aliases: Vec::new(),
            text: String::new(),
            args: Vec::new(),
            error: None,
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Declares `alias` as standing for `entity` in the templates that follow.
    pub(crate) fn alias(&mut self, alias: &'static str, entity: Entity) -> &mut Self {
        self.aliases.push((alias, entity));
        self
    }

    /// Appends a template (see the type's documentation).
    pub(crate) fn push(&mut self, template: &str) -> &mut Self {
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            self.text.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                self.fail(format!("unclosed {{ in a statement template: {template}"));
                return self;
            };
            let token = &rest[open + 1..open + close];
            self.expand(token);
            rest = &rest[open + close + 1..];
        }
        self.text.push_str(rest);
        self
    }

    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    fn expand(&mut self, token: &str) {
        match token {
            // `cast(x as {text})`, `cast(x as {int})`: the backend's names in a cast.
            "text" => {
                self.text.push_str(text_type(self.backend));
                return;
            }
            "int" => {
                self.text.push_str(int_type(self.backend));
                return;
            }
            "bigint" => {
                self.text.push_str(match self.backend {
                    Backend::Postgres | Backend::Sqlite => "bigint",
                    Backend::Mysql => "signed",
                });
                return;
            }
            // `{len}(x)`: the length of text in characters (MySQL's `length` counts bytes).
            "len" => {
                self.text.push_str(match self.backend {
                    Backend::Postgres | Backend::Sqlite => "length",
                    Backend::Mysql => "char_length",
                });
                return;
            }
            _ => {}
        }
        if let Some(own) = token.strip_prefix('#') {
            let name = own_table(self.backend, own);
            self.text.push_str(&name);
            return;
        }
        let Some(schema) = self.schema else {
            self.fail(format!("{{{token}}} in a statement without a schema map"));
            return;
        };
        if let Some(entity_name) = token.strip_prefix('@') {
            match Entity::from_name(entity_name) {
                Some(entity) if schema.is_enabled(entity) => {
                    let table = qualified(schema, schema.table_name(entity));
                    self.text.push_str(&table);
                }
                _ => self.fail(format!("{{{token}}}: entity not mapped")),
            }
            return;
        }
        let (column, fallback) = match token.split_once('|') {
            Some((column, fallback)) => (column, Some(fallback)),
            None => (token, None),
        };
        let Some((alias, key)) = column.split_once('.') else {
            self.fail(format!("{{{token}}}: expected alias.key"));
            return;
        };
        let Some(entity) = self
            .aliases
            .iter()
            .rev()
            .find(|(a, _)| *a == alias)
            .map(|(_, e)| *e)
        else {
            self.fail(format!("{{{token}}}: alias {alias} not declared"));
            return;
        };
        match (schema.column(entity, key), fallback) {
            (Some(mapped), _) => {
                let quoted = quote(self.backend, &mapped.name);
                let enum_label = mapped.class == super::schema::TypeClass::Enum;
                if enum_label {
                    self.text.push_str("cast(");
                }
                self.text.push_str(alias);
                self.text.push('.');
                self.text.push_str(&quoted);
                if enum_label {
                    self.text.push_str(" as ");
                    self.text.push_str(text_type(self.backend));
                    self.text.push(')');
                }
            }
            // A fallback is plain SQL; its one typed null is spelled per backend.
            (None, Some(fallback)) => {
                let fallback =
                    fallback.replace("as integer)", &format!("as {})", int_type(self.backend)));
                self.text.push_str(&fallback);
            }
            (None, None) => self.fail(format!(
                "{{{token}}}: {}.{key} is not mapped",
                entity.name()
            )),
        }
    }

    /// Appends a quoted identifier read from the catalog.
    pub(crate) fn ident(&mut self, name: &str) -> &mut Self {
        let quoted = quote(self.backend, name);
        self.text.push_str(&quoted);
        self
    }

    /// Appends a platform table by its catalog name, qualified by the map's namespace.
    pub(crate) fn table(&mut self, name: &str) -> &mut Self {
        let table = match self.schema {
            Some(schema) => qualified(schema, name),
            None => quote(self.backend, name),
        };
        self.text.push_str(&table);
        self
    }

    /// `lower(<template>)` as a key that compares and sorts exactly: on MySQL as bytes,
    /// since its collations call `admin` and `admin ` (or names differing only by
    /// characters they ignore) equal.
    pub(crate) fn lower(&mut self, template: &str) -> &mut Self {
        match self.backend {
            Backend::Postgres | Backend::Sqlite => self.push("lower(").push(template).push(")"),
            Backend::Mysql => self.push("cast(lower(").push(template).push(") as binary)"),
        }
    }

    /// A bound value in the form [`Sql::lower`] compares with.
    pub(crate) fn bind_lower(&mut self, value: impl Into<Arg>) -> &mut Self {
        match self.backend {
            Backend::Postgres | Backend::Sqlite => self.push("lower(").bind(value).push(")"),
            Backend::Mysql => self.push("cast(lower(").bind(value).push(") as binary)"),
        }
    }

    /// Ends an insert so that a row already there with the same `key` stays as it is.
    pub(crate) fn keep_existing(&mut self, key: &str) -> &mut Self {
        match self.backend {
            Backend::Postgres | Backend::Sqlite => {
                self.push(" on conflict (").ident(key).push(") do nothing")
            }
            Backend::Mysql => self
                .push(" on duplicate key update ")
                .ident(key)
                .push(" = ")
                .ident(key),
        }
    }

    /// Ends an insert so that a row already there with the same `key` takes the inserted
    /// values of `columns`, and the assignments in `also` (plain SQL, may be empty).
    pub(crate) fn upsert(&mut self, key: &str, columns: &[&str], also: &str) -> &mut Self {
        match self.backend {
            Backend::Postgres | Backend::Sqlite => {
                self.push(" on conflict (")
                    .ident(key)
                    .push(") do update set ");
            }
            Backend::Mysql => {
                self.push(" on duplicate key update ");
            }
        }
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.ident(column).push(" = ");
            match self.backend {
                Backend::Postgres | Backend::Sqlite => self.push("excluded.").ident(column),
                Backend::Mysql => self.push("values(").ident(column).push(")"),
            };
        }
        if !also.is_empty() {
            self.push(", ").push(also);
        }
        self
    }

    /// Appends one placeholder and its value.
    pub(crate) fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        let value = match value.into() {
            Arg::Id(kind, Some(id)) => match id_arg(self.backend, kind, &id) {
                Ok(arg) => arg,
                Err(message) => {
                    self.fail(message);
                    return self;
                }
            },
            Arg::Id(kind, None) => null_of(self.backend, kind),
            other => other,
        };
        self.args.push(value);
        match self.backend {
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.args.len().to_string());
            }
            Backend::Sqlite | Backend::Mysql => self.text.push('?'),
        }
        self
    }

    /// Appends an id of a column of type `kind`, bound as that type.
    pub(crate) fn bind_id(&mut self, kind: IdKind, id: &Id) -> &mut Self {
        match id_arg(self.backend, kind, id) {
            Ok(arg) => self.bind(arg),
            Err(message) => {
                self.fail(message);
                self
            }
        }
    }

    /// Appends `p1, p2, …` for a list of ids.
    pub(crate) fn bind_ids(&mut self, kind: IdKind, ids: &[Id]) -> &mut Self {
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind_id(kind, id);
        }
        self
    }

    /// The statement text (values are never in it).
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    fn parts(&self) -> Result<(SqlStr, &[Arg]), DataError> {
        if let Some(error) = &self.error {
            tracing::error!(error = %error, "a statement could not be built");
            return Err(DataError::Internal(
                "a statement could not be built from the schema map",
            ));
        }
        Ok((AssertSqlSafe(self.text.clone()).into_sql_str(), &self.args))
    }
}

/// The type a `cast` to text names (MySQL casts to `char`).
pub(crate) fn text_type(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres | Backend::Sqlite => "text",
        Backend::Mysql => "char",
    }
}

/// The integer type a `cast` names.
pub(crate) fn int_type(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres | Backend::Sqlite => "integer",
        Backend::Mysql => "signed",
    }
}

/// A platform table's name, quoted and, where the map names a namespace, qualified.
fn qualified(schema: &Schema, table: &str) -> String {
    match (&schema.namespace, schema.backend) {
        (Some(ns), Backend::Postgres) => {
            format!(
                "{}.{}",
                quote(schema.backend, ns),
                quote(schema.backend, table)
            )
        }
        _ => quote(schema.backend, table),
    }
}

/// A NULL of the column's type (PostgreSQL types its parameters).
fn null_of(backend: Backend, kind: IdKind) -> Arg {
    match (backend, kind) {
        (Backend::Postgres, IdKind::Uuid) => Arg::OptUuid(None),
        (_, IdKind::Integer | IdKind::BigInt) => Arg::OptInt(None),
        _ => Arg::OptText(None),
    }
}

/// How an id is bound for a column of type `kind`.
fn id_arg(backend: Backend, kind: IdKind, id: &Id) -> Result<Arg, String> {
    match (kind, id) {
        (IdKind::Integer | IdKind::BigInt, Id::Int(n)) => Ok(Arg::Int(*n)),
        (IdKind::Integer | IdKind::BigInt, Id::Text(text)) => text
            .parse::<i64>()
            .map(Arg::Int)
            .map_err(|_| "a text id bound to an integer column".to_string()),
        (IdKind::Uuid, _) if backend == Backend::Postgres => id
            .as_uuid()
            .map(Arg::Uuid)
            .ok_or_else(|| "a non-uuid id bound to a uuid column".to_string()),
        (_, id) => Ok(Arg::Text(id.to_string())),
    }
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
            Arg::OptInt(v) => q.bind(*v),
            Arg::Bool(v) => q.bind(*v),
            Arg::Time(v) => q.bind(*v),
            Arg::OptTime(v) => q.bind(*v),
            Arg::Json(v) => q.bind(sqlx::types::Json(v.clone())),
            Arg::Id(_, v) => q.bind(v.as_ref().map(Id::to_string)),
        };
    }
    q
}

fn bind_mysql<'q>(
    mut q: Query<'q, MySql, MySqlArguments>,
    args: &[Arg],
) -> Query<'q, MySql, MySqlArguments> {
    for arg in args {
        q = match arg {
            Arg::Uuid(v) => q.bind(v.to_string()),
            Arg::OptUuid(v) => q.bind(v.map(|v| v.to_string())),
            Arg::Text(v) => q.bind(v.clone()),
            Arg::OptText(v) => q.bind(v.clone()),
            Arg::Int(v) => q.bind(*v),
            Arg::OptInt(v) => q.bind(*v),
            Arg::Bool(v) => q.bind(*v),
            Arg::Time(v) => q.bind(v.naive_utc()),
            Arg::OptTime(v) => q.bind(v.map(|v| v.naive_utc())),
            Arg::Json(v) => q.bind(v.to_string()),
            Arg::Id(_, v) => q.bind(v.as_ref().map(Id::to_string)),
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
            Arg::OptInt(v) => q.bind(*v),
            Arg::Bool(v) => q.bind(*v),
            Arg::Time(v) => q.bind(sqlite_time(v)),
            Arg::OptTime(v) => q.bind(v.as_ref().map(sqlite_time)),
            Arg::Json(v) => q.bind(v.to_string()),
            Arg::Id(_, v) => q.bind(v.as_ref().map(Id::to_string)),
        };
    }
    q
}

/// A transaction on either backend.
pub(crate) enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Mysql(sqlx::Transaction<'static, MySql>),
}

impl Tx {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Tx::Postgres(_) => Backend::Postgres,
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Mysql(_) => Backend::Mysql,
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
            Tx::Mysql(tx) => bind_mysql(sqlx::query(sql), args)
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
            Tx::Mysql(tx) => bind_mysql(sqlx::query(sql), args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Mysql)
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
            Tx::Mysql(tx) => bind_mysql(sqlx::query(sql), args)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Mysql),
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

    pub(crate) async fn fetch_all_sql(&mut self, q: &Sql<'_>) -> Result<Vec<Row>, DataError> {
        let (sql, args) = q.parts()?;
        self.fetch_all(sql, args).await
    }

    pub(crate) async fn execute_sql(&mut self, q: &Sql<'_>) -> Result<u64, DataError> {
        let (sql, args) = q.parts()?;
        self.execute(sql, args).await
    }

    pub(crate) async fn fetch_optional_sql(
        &mut self,
        q: &Sql<'_>,
    ) -> Result<Option<Row>, DataError> {
        let (sql, args) = q.parts()?;
        self.fetch_optional(sql, args).await
    }

    pub(crate) async fn fetch_one_sql(&mut self, q: &Sql<'_>) -> Result<Row, DataError> {
        let (sql, args) = q.parts()?;
        self.fetch_one(sql, args).await
    }

    pub(crate) async fn commit(self) -> Result<(), DataError> {
        match self {
            Tx::Postgres(tx) => tx.commit().await?,
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Mysql(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<(), DataError> {
        match self {
            Tx::Postgres(tx) => tx.rollback().await?,
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Mysql(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// A result row from either backend, read by column name.
pub(crate) enum Row {
    Postgres(PgRow),
    Sqlite(SqliteRow),
    Mysql(MySqlRow),
}

impl Row {
    /// The first column as an integer (NULL as `None`).
    pub(crate) fn first_int(&self) -> Result<Option<i64>, DataError> {
        Ok(match self {
            Row::Postgres(r) => match r.try_get::<Option<i64>, _>(0) {
                Ok(v) => v,
                Err(_) => match r.try_get::<Option<i32>, _>(0) {
                    Ok(v) => v.map(i64::from),
                    Err(_) => r.try_get::<Option<i16>, _>(0)?.map(i64::from),
                },
            },
            Row::Sqlite(r) => r.try_get::<Option<i64>, _>(0)?,
            Row::Mysql(r) => mysql_int(r, 0)?,
        })
    }

    /// An id column of any type, or an id computed by a query (`coalesce`, a join).
    pub(crate) fn id(&self, col: &str) -> Result<Id, DataError> {
        self.opt_id(col)?
            .ok_or(DataError::Internal("a non-null id column was null"))
    }

    pub(crate) fn opt_id(&self, col: &str) -> Result<Option<Id>, DataError> {
        match self {
            Row::Postgres(r) => {
                if let Ok(v) = r.try_get::<Option<i64>, _>(col) {
                    return Ok(v.map(Id::Int));
                }
                if let Ok(v) = r.try_get::<Option<i32>, _>(col) {
                    return Ok(v.map(|n| Id::Int(i64::from(n))));
                }
                if let Ok(v) = r.try_get::<Option<i16>, _>(col) {
                    return Ok(v.map(|n| Id::Int(i64::from(n))));
                }
                if let Ok(v) = r.try_get::<Option<Uuid>, _>(col) {
                    return Ok(v.map(Id::from));
                }
                Ok(r.try_get::<Option<String>, _>(col)?.map(Id::Text))
            }
            Row::Sqlite(r) => {
                if let Ok(v) = r.try_get::<Option<i64>, _>(col) {
                    return Ok(v.map(Id::Int));
                }
                Ok(self.opt_text(col)?.map(Id::Text))
            }
            Row::Mysql(r) => {
                if let Ok(v) = mysql_int(r, col) {
                    return Ok(v.map(Id::Int));
                }
                Ok(self.opt_text(col)?.map(Id::Text))
            }
        }
    }

    pub(crate) fn uuid(&self, col: &str) -> Result<Uuid, DataError> {
        self.opt_uuid(col)?
            .ok_or(DataError::Internal("a non-null uuid column was null"))
    }

    pub(crate) fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, DataError> {
        match self {
            Row::Postgres(r) => Ok(r.try_get::<Option<Uuid>, _>(col)?),
            Row::Sqlite(_) | Row::Mysql(_) => match self.opt_text(col)? {
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

    /// Text, decoded lossily on SQLite: one row holding invalid UTF-8 (written by some
    /// other program) shows `�` for its bad bytes instead of failing the whole list.
    pub(crate) fn opt_text(&self, col: &str) -> Result<Option<String>, DataError> {
        Ok(match self {
            Row::Postgres(r) => r.try_get::<Option<String>, _>(col)?,
            Row::Sqlite(r) => match r.try_get::<Option<String>, _>(col) {
                Ok(v) => v,
                Err(_) => r
                    .try_get_unchecked::<Option<Vec<u8>>, _>(col)?
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
            },
            // Binary-collated and native uuid columns, and bytes another writer left.
            Row::Mysql(r) => match r.try_get::<Option<String>, _>(col) {
                Ok(v) => v,
                Err(_) => r
                    .try_get_unchecked::<Option<Vec<u8>>, _>(col)?
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
            },
        })
    }

    /// Any integer column (PostgreSQL `count(*)` is int8, columns are int4).
    pub(crate) fn int(&self, col: &str) -> Result<i64, DataError> {
        Ok(self.opt_int(col)?.unwrap_or(0))
    }

    pub(crate) fn opt_int(&self, col: &str) -> Result<Option<i64>, DataError> {
        Ok(match self {
            // bigint, integer or smallint: whichever the platform chose.
            Row::Postgres(r) => match r.try_get::<Option<i64>, _>(col) {
                Ok(v) => v,
                Err(_) => match r.try_get::<Option<i32>, _>(col) {
                    Ok(v) => v.map(i64::from),
                    Err(_) => r.try_get::<Option<i16>, _>(col)?.map(i64::from),
                },
            },
            Row::Sqlite(r) => r.try_get::<Option<i64>, _>(col)?,
            Row::Mysql(r) => mysql_int(r, col)?,
        })
    }

    pub(crate) fn bool(&self, col: &str) -> Result<bool, DataError> {
        Ok(match self {
            Row::Postgres(r) => r.try_get::<bool, _>(col)?,
            Row::Sqlite(r) => r.try_get::<i64, _>(col)? != 0,
            // `tinyint(1)` columns, and `exists (…)` or comparisons, which are integers.
            Row::Mysql(r) => match r.try_get::<bool, _>(col) {
                Ok(v) => v,
                Err(_) => mysql_int(r, col)?.unwrap_or(0) != 0,
            },
        })
    }

    pub(crate) fn time(&self, col: &str) -> Result<DateTime<Utc>, DataError> {
        self.opt_time(col)?
            .ok_or(DataError::Internal("a non-null time column was null"))
    }

    pub(crate) fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, DataError> {
        match self {
            Row::Postgres(r) => {
                if let Ok(v) = r.try_get::<Option<DateTime<Utc>>, _>(col) {
                    return Ok(v);
                }
                // `timestamp without time zone` (read as UTC: connections use UTC) and `date`.
                if let Ok(v) = r.try_get::<Option<chrono::NaiveDateTime>, _>(col) {
                    return Ok(v.map(|t| t.and_utc()));
                }
                Ok(r.try_get::<Option<chrono::NaiveDate>, _>(col)?
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc()))
            }
            Row::Sqlite(_) => match self.opt_text(col)? {
                None => Ok(None),
                Some(text) => parse_sqlite_time(&text)
                    .map(Some)
                    .ok_or_else(|| DataError::Corrupt(format!("{col} holds a malformed time"))),
            },
            // `datetime` (UTC: connections set `time_zone`), `timestamp` and `date`.
            Row::Mysql(r) => {
                if let Ok(v) = r.try_get::<Option<chrono::NaiveDateTime>, _>(col) {
                    return Ok(v.map(|t| t.and_utc()));
                }
                if let Ok(v) = r.try_get::<Option<DateTime<Utc>>, _>(col) {
                    return Ok(v);
                }
                if let Ok(v) = r.try_get::<Option<chrono::NaiveDate>, _>(col) {
                    return Ok(v.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc()));
                }
                match self.opt_text(col)? {
                    None => Ok(None),
                    Some(text) => parse_sqlite_time(&text)
                        .map(Some)
                        .ok_or_else(|| DataError::Corrupt(format!("{col} holds a malformed time"))),
                }
            }
        }
    }

    pub(crate) fn json(&self, col: &str) -> Result<serde_json::Value, DataError> {
        match self {
            Row::Postgres(r) => Ok(r
                .try_get::<Option<sqlx::types::Json<serde_json::Value>>, _>(col)?
                .map(|j| j.0)
                .unwrap_or(serde_json::Value::Null)),
            Row::Sqlite(_) | Row::Mysql(_) => match self.opt_text(col)? {
                None => Ok(serde_json::Value::Null),
                Some(text) => serde_json::from_str(&text)
                    .map_err(|_| DataError::Corrupt(format!("{col} holds malformed json"))),
            },
        }
    }
}

/// Any MySQL integer column or expression: signed of any width, unsigned, or the
/// `decimal` that `sum()` returns.
fn mysql_int<I: sqlx::ColumnIndex<MySqlRow> + Copy>(
    r: &MySqlRow,
    col: I,
) -> Result<Option<i64>, DataError> {
    if let Ok(v) = r.try_get::<Option<i64>, _>(col) {
        return Ok(v);
    }
    if let Ok(v) = r.try_get::<Option<u64>, _>(col) {
        return Ok(v.map(|n| i64::try_from(n).unwrap_or(i64::MAX)));
    }
    if let Ok(v) = r.try_get::<Option<bool>, _>(col) {
        return Ok(v.map(i64::from));
    }
    match r.try_get_unchecked::<Option<String>, _>(col)? {
        None => Ok(None),
        Some(text) => text
            .split('.')
            .next()
            .and_then(|whole| whole.parse::<i64>().ok())
            .map(Some)
            .ok_or_else(|| DataError::Corrupt("an integer column holds something else".into())),
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
    fn raw_statements_number_placeholders_per_backend() {
        let mut pg = Sql::raw(Backend::Postgres);
        pg.push("select 1 where a = ")
            .bind(1i64)
            .push(" and b in (");
        pg.bind_ids(IdKind::BigInt, &[Id::Int(2), Id::Int(3)])
            .push(")");
        assert_eq!(pg.text(), "select 1 where a = $1 and b in ($2, $3)");
        let mut lite = Sql::raw(Backend::Sqlite);
        lite.push("select 1 where a = ")
            .bind(1i64)
            .push(" and b = ")
            .bind("x");
        assert_eq!(lite.text(), "select 1 where a = ? and b = ?");
    }

    #[test]
    fn identifiers_are_quoted_with_their_quotes_doubled() {
        assert_eq!(quote(Backend::Postgres, "we\"ird"), "\"we\"\"ird\"");
        assert_eq!(
            own_table(Backend::Postgres, "modcon_operators"),
            "\"modcon\".\"modcon_operators\""
        );
        assert_eq!(
            own_table(Backend::Sqlite, "modcon_operators"),
            "\"modcon_operators\""
        );
    }

    #[test]
    fn a_non_uuid_bound_to_a_uuid_column_is_refused_before_it_reaches_the_database() {
        let mut pg = Sql::raw(Backend::Postgres);
        pg.push("select 1 where id = ")
            .bind_id(IdKind::Uuid, &Id::from("nope"));
        assert!(matches!(pg.parts(), Err(DataError::Internal(_))));
    }
}
