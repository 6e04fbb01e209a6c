//! The live catalog: the platform's tables, their columns and types, and every foreign
//! key with its `ON DELETE` action, read from the database itself.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::sql::{Arg, Sql};
use super::super::{Backend, DataError, Tx};

/// What a column's type is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeClass {
    Integer,
    BigInt,
    Uuid,
    Text,
    Time,
    Bool,
    Json,
    Float,
    Binary,
    /// A PostgreSQL enum type: read as its text label.
    Enum,
    Other,
}

impl TypeClass {
    /// From a PostgreSQL type as `format_type` prints it; `is_enum` for `create type … as enum`.
    pub fn from_postgres(data_type: &str, is_enum: bool) -> TypeClass {
        let t = data_type.to_ascii_lowercase();
        if is_enum {
            return TypeClass::Enum;
        }
        match t.as_str() {
            "smallint" | "integer" => TypeClass::Integer,
            "bigint" => TypeClass::BigInt,
            "uuid" => TypeClass::Uuid,
            "text" | "citext" | "name" => TypeClass::Text,
            "boolean" => TypeClass::Bool,
            "json" | "jsonb" => TypeClass::Json,
            "real" | "double precision" => TypeClass::Float,
            "bytea" => TypeClass::Binary,
            "date" => TypeClass::Time,
            _ if t.starts_with("character") => TypeClass::Text,
            _ if t.starts_with("timestamp") => TypeClass::Time,
            _ if t.starts_with("numeric") => TypeClass::Float,
            _ => TypeClass::Other,
        }
    }

    /// From a MySQL/MariaDB column as `information_schema.columns` gives it: the bare
    /// `data_type` and the full `column_type` (`tinyint(1)` is a boolean, `char(36)` and
    /// `binary(16)` are how uuids are usually kept).
    pub fn from_mysql(data_type: &str, column_type: &str) -> TypeClass {
        let t = data_type.to_ascii_lowercase();
        let full = column_type.to_ascii_lowercase();
        match t.as_str() {
            "tinyint" if full.starts_with("tinyint(1)") => TypeClass::Bool,
            "bool" | "boolean" => TypeClass::Bool,
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" => TypeClass::Integer,
            "bigint" => TypeClass::BigInt,
            "uuid" => TypeClass::Uuid,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => TypeClass::Text,
            "enum" | "set" => TypeClass::Text,
            "json" => TypeClass::Json,
            "float" | "double" | "decimal" | "real" => TypeClass::Float,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                TypeClass::Binary
            }
            "date" | "datetime" | "timestamp" => TypeClass::Time,
            _ => TypeClass::Other,
        }
    }

    /// From a SQLite declared type, after SQLite's own affinity rules, with the names
    /// people give dates, booleans and uuids recognised first.
    pub fn from_sqlite(declared: &str) -> TypeClass {
        let t = declared.to_ascii_uppercase();
        if t.contains("UUID") {
            TypeClass::Uuid
        } else if t.contains("BOOL") {
            TypeClass::Bool
        } else if t.contains("DATE") || t.contains("TIME") {
            TypeClass::Time
        } else if t.contains("JSON") {
            TypeClass::Json
        } else if t.contains("BIGINT") || t.contains("INT8") {
            TypeClass::BigInt
        } else if t.contains("INT") {
            TypeClass::Integer
        } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
            TypeClass::Text
        } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
            TypeClass::Float
        } else if t.contains("BLOB") || t.is_empty() {
            TypeClass::Binary
        } else {
            TypeClass::Other
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    /// The type as the database declares it.
    pub declared: String,
    pub class: TypeClass,
    pub nullable: bool,
    /// Computed by the database (`generated always as …`): never written, and left out
    /// when a row is put back.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub generated: bool,
}

/// What the database does to referencing rows when a referenced row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    Cascade,
    SetNull,
    SetDefault,
    Restrict,
    NoAction,
}

impl FkAction {
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
            FkAction::Restrict => "RESTRICT",
            FkAction::NoAction => "NO ACTION",
        }
    }

    fn from_postgres(code: &str) -> FkAction {
        match code {
            "c" => FkAction::Cascade,
            "n" => FkAction::SetNull,
            "d" => FkAction::SetDefault,
            "r" => FkAction::Restrict,
            _ => FkAction::NoAction,
        }
    }

    fn from_words(text: &str) -> FkAction {
        match text.to_ascii_uppercase().as_str() {
            "CASCADE" => FkAction::Cascade,
            "SET NULL" => FkAction::SetNull,
            "SET DEFAULT" => FkAction::SetDefault,
            "RESTRICT" => FkAction::Restrict,
            _ => FkAction::NoAction,
        }
    }

    /// True if a referencing row stops a delete of the row it references.
    pub fn restricts(self) -> bool {
        matches!(self, FkAction::Restrict | FkAction::NoAction)
    }
}

/// A foreign key: `child(columns)` references `parent(parent_columns)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    pub child: String,
    pub columns: Vec<String>,
    pub parent: String,
    pub parent_columns: Vec<String>,
    pub on_delete: FkAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableInfo {
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    pub primary_key: Vec<String>,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The platform's tables as the database describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    pub backend: Backend,
    /// PostgreSQL: the schema the tables were read from.
    pub namespace: Option<String>,
    pub tables: BTreeMap<String, TableInfo>,
    pub foreign_keys: Vec<ForeignKey>,
}

/// modcon's own tables are not the platform's and never appear in a plan.
pub fn is_modcon_table(name: &str) -> bool {
    name.starts_with("modcon_") || name.starts_with("_modcon") || name == "_sqlx_migrations"
}

/// Joins column lists into one text column; the separator cannot occur in a name
/// that anyone types.
const LIST_SEPARATOR: char = '\u{1f}';

impl Catalog {
    pub fn table(&self, name: &str) -> Option<&TableInfo> {
        self.tables.get(name)
    }

    /// Foreign keys that reference `table`.
    pub fn referencing(&self, table: &str) -> Vec<&ForeignKey> {
        self.foreign_keys
            .iter()
            .filter(|fk| fk.parent == table)
            .collect()
    }

    /// Reads the catalog inside `tx`. On PostgreSQL, `namespace` (default: the
    /// connection's current schema) holds the platform's tables.
    pub(crate) async fn read(tx: &mut Tx, namespace: Option<&str>) -> Result<Catalog, DataError> {
        match tx.backend() {
            Backend::Postgres => read_postgres(tx, namespace).await,
            Backend::Sqlite => read_sqlite(tx).await,
            Backend::Mysql => read_mysql(tx).await,
        }
    }
}

async fn read_postgres(tx: &mut Tx, namespace: Option<&str>) -> Result<Catalog, DataError> {
    let namespace = match namespace {
        Some(ns) => ns.to_string(),
        None => tx
            .fetch_one_sql(Sql::raw(Backend::Postgres).push("select current_schema() as ns"))
            .await?
            .text("ns")?,
    };
    let ns = || Arg::Text(namespace.clone());
    let mut tables: BTreeMap<String, TableInfo> = BTreeMap::new();
    let mut q = Sql::raw(Backend::Postgres);
    q.push(
        "select c.relname::text as table_name, a.attname::text as column_name, \
         format_type(a.atttypid, a.atttypmod) as data_type, (t.typtype = 'e') as is_enum, \
         a.attnotnull as not_null, (a.attgenerated <> '') as is_generated \
         from pg_class c join pg_namespace n on n.oid = c.relnamespace \
         join pg_attribute a on a.attrelid = c.oid join pg_type t on t.oid = a.atttypid \
         where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped and n.nspname = ",
    )
    .bind(ns())
    .push(" order by c.relname, a.attnum");
    for row in tx.fetch_all_sql(&q).await? {
        let table = row.text("table_name")?;
        let declared = row.text("data_type")?;
        let class = TypeClass::from_postgres(&declared, row.bool("is_enum")?);
        tables
            .entry(table.clone())
            .or_insert_with(|| TableInfo {
                name: table,
                columns: Vec::new(),
                primary_key: Vec::new(),
            })
            .columns
            .push(ColumnInfo {
                name: row.text("column_name")?,
                declared,
                class,
                nullable: !row.bool("not_null")?,
                generated: row.bool("is_generated")?,
            });
    }
    let mut q = Sql::raw(Backend::Postgres);
    q.push(
        "select c.relname::text as table_name, a.attname::text as column_name \
         from pg_index i join pg_class c on c.oid = i.indrelid \
         join pg_namespace n on n.oid = c.relnamespace \
         join pg_attribute a on a.attrelid = c.oid and a.attnum = any(i.indkey) \
         where i.indisprimary and n.nspname = ",
    )
    .bind(ns())
    .push(" order by c.relname, array_position(i.indkey::int2[], a.attnum)");
    for row in tx.fetch_all_sql(&q).await? {
        if let Some(table) = tables.get_mut(&row.text("table_name")?) {
            table.primary_key.push(row.text("column_name")?);
        }
    }
    let mut q = Sql::raw(Backend::Postgres);
    q.push(
        "select cl.relname::text as child, fcl.relname::text as parent, \
         con.confdeltype::text as on_delete, \
         (select string_agg(a.attname::text, chr(31) order by k.ord) \
            from unnest(con.conkey) with ordinality as k(attnum, ord) \
            join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum) as columns, \
         (select string_agg(a.attname::text, chr(31) order by k.ord) \
            from unnest(con.confkey) with ordinality as k(attnum, ord) \
            join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum) \
            as parent_columns \
         from pg_constraint con join pg_class cl on cl.oid = con.conrelid \
         join pg_namespace n on n.oid = cl.relnamespace \
         join pg_class fcl on fcl.oid = con.confrelid \
         join pg_namespace fn on fn.oid = fcl.relnamespace \
         where con.contype = 'f' and n.nspname = ",
    )
    .bind(ns())
    .push(" and fn.nspname = ")
    .bind(ns())
    .push(" order by cl.relname, con.conname");
    let mut foreign_keys = Vec::new();
    for row in tx.fetch_all_sql(&q).await? {
        foreign_keys.push(ForeignKey {
            child: row.text("child")?,
            columns: split_list(&row.text("columns")?),
            parent: row.text("parent")?,
            parent_columns: split_list(&row.text("parent_columns")?),
            on_delete: FkAction::from_postgres(&row.text("on_delete")?),
        });
    }
    Ok(finish(
        Backend::Postgres,
        Some(namespace),
        tables,
        foreign_keys,
    ))
}

/// MySQL/MariaDB: `information_schema` for the connection's database.
async fn read_mysql(tx: &mut Tx) -> Result<Catalog, DataError> {
    let mut tables: BTreeMap<String, TableInfo> = BTreeMap::new();
    let mut q = Sql::raw(Backend::Mysql);
    q.push(
        "select c.table_name as table_name, c.column_name as column_name, \
         c.data_type as data_type, c.column_type as column_type, \
         c.is_nullable as is_nullable, c.extra as extra \
         from information_schema.columns c join information_schema.tables t \
         on t.table_schema = c.table_schema and t.table_name = c.table_name \
         where c.table_schema = database() and t.table_type = 'BASE TABLE' \
         order by c.table_name, c.ordinal_position",
    );
    for row in tx.fetch_all_sql(&q).await? {
        let table = row.text("table_name")?;
        let declared = row.text("column_type")?;
        let class = TypeClass::from_mysql(&row.text("data_type")?, &declared);
        tables
            .entry(table.clone())
            .or_insert_with(|| TableInfo {
                name: table,
                columns: Vec::new(),
                primary_key: Vec::new(),
            })
            .columns
            .push(ColumnInfo {
                name: row.text("column_name")?,
                declared,
                class,
                nullable: row.text("is_nullable")? == "YES",
                generated: row
                    .text("extra")?
                    .to_ascii_uppercase()
                    .contains("GENERATED"),
            });
    }
    let mut q = Sql::raw(Backend::Mysql);
    q.push(
        "select table_name as table_name, column_name as column_name \
         from information_schema.key_column_usage \
         where table_schema = database() and constraint_name = 'PRIMARY' \
         order by table_name, ordinal_position",
    );
    for row in tx.fetch_all_sql(&q).await? {
        if let Some(table) = tables.get_mut(&row.text("table_name")?) {
            table.primary_key.push(row.text("column_name")?);
        }
    }
    let mut q = Sql::raw(Backend::Mysql);
    q.push(
        "select k.table_name as child, k.constraint_name as name, \
         k.column_name as child_column, k.referenced_table_name as parent, \
         k.referenced_column_name as parent_column, r.delete_rule as on_delete \
         from information_schema.key_column_usage k \
         join information_schema.referential_constraints r \
         on r.constraint_schema = k.constraint_schema \
         and r.constraint_name = k.constraint_name and r.table_name = k.table_name \
         where k.table_schema = database() and k.referenced_table_name is not null \
         and k.referenced_table_schema = database() \
         order by k.table_name, k.constraint_name, k.ordinal_position",
    );
    let mut by_name: BTreeMap<(String, String), ForeignKey> = BTreeMap::new();
    for row in tx.fetch_all_sql(&q).await? {
        let child = row.text("child")?;
        let fk = by_name
            .entry((child.clone(), row.text("name")?))
            .or_insert_with(|| ForeignKey {
                child,
                columns: Vec::new(),
                parent: String::new(),
                parent_columns: Vec::new(),
                on_delete: FkAction::NoAction,
            });
        fk.parent = row.text("parent")?;
        fk.on_delete = FkAction::from_words(&row.text("on_delete")?);
        fk.columns.push(row.text("child_column")?);
        fk.parent_columns.push(row.text("parent_column")?);
    }
    Ok(finish(
        Backend::Mysql,
        None,
        tables,
        by_name.into_values().collect(),
    ))
}

async fn read_sqlite(tx: &mut Tx) -> Result<Catalog, DataError> {
    let names: Vec<String> = tx
        .fetch_all_sql(Sql::raw(Backend::Sqlite).push(
            "select name from sqlite_master where type = 'table' \
             and name not like 'sqlite\\_%' escape '\\' order by name",
        ))
        .await?
        .iter()
        .map(|r| r.text("name"))
        .collect::<Result<_, _>>()?;
    let mut tables = BTreeMap::new();
    let mut foreign_keys = Vec::new();
    for name in names {
        let mut q = Sql::raw(Backend::Sqlite);
        q.push("select name, type, \"notnull\" as not_null, pk from pragma_table_info(")
            .bind(name.clone())
            .push(") order by cid");
        let mut columns = Vec::new();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for row in tx.fetch_all_sql(&q).await? {
            let column = row.text("name")?;
            let declared = row.text("type")?;
            let order = row.int("pk")?;
            if order > 0 {
                pk.push((order, column.clone()));
            }
            columns.push(ColumnInfo {
                class: TypeClass::from_sqlite(&declared),
                name: column,
                declared,
                // A primary key column is never NULL in practice, whatever SQLite allows.
                nullable: row.int("not_null")? == 0 && order == 0,
                // `pragma_table_info` lists no generated columns.
                generated: false,
            });
        }
        pk.sort();
        let primary_key: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
        let mut q = Sql::raw(Backend::Sqlite);
        q.push(
            "select id, seq, \"table\" as parent, \"from\" as child_column, \
             \"to\" as parent_column, on_delete from pragma_foreign_key_list(",
        )
        .bind(name.clone())
        .push(") order by id, seq");
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for row in tx.fetch_all_sql(&q).await? {
            let fk = by_id.entry(row.int("id")?).or_insert_with(|| ForeignKey {
                child: name.clone(),
                columns: Vec::new(),
                parent: String::new(),
                parent_columns: Vec::new(),
                on_delete: FkAction::NoAction,
            });
            fk.parent = row.text("parent")?;
            fk.on_delete = FkAction::from_words(&row.text("on_delete")?);
            fk.columns.push(row.text("child_column")?);
            if let Some(parent_column) = row.opt_text("parent_column")? {
                fk.parent_columns.push(parent_column);
            }
        }
        foreign_keys.extend(by_id.into_values());
        tables.insert(
            name.clone(),
            TableInfo {
                name,
                columns,
                primary_key,
            },
        );
    }
    // `references parent` without columns means the parent's primary key.
    for fk in &mut foreign_keys {
        if fk.parent_columns.is_empty()
            && let Some(parent) = tables.get(&fk.parent)
        {
            fk.parent_columns = parent.primary_key.clone();
        }
    }
    Ok(finish(Backend::Sqlite, None, tables, foreign_keys))
}

fn finish(
    backend: Backend,
    namespace: Option<String>,
    mut tables: BTreeMap<String, TableInfo>,
    mut foreign_keys: Vec<ForeignKey>,
) -> Catalog {
    tables.retain(|name, _| !is_modcon_table(name));
    foreign_keys.retain(|fk| !is_modcon_table(&fk.child) && !is_modcon_table(&fk.parent));
    Catalog {
        backend,
        namespace,
        tables,
        foreign_keys,
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(LIST_SEPARATOR).map(str::to_string).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn postgres_types_are_classed_by_what_they_hold() {
        assert_eq!(
            TypeClass::from_postgres("integer", false),
            TypeClass::Integer
        );
        assert_eq!(TypeClass::from_postgres("bigint", false), TypeClass::BigInt);
        assert_eq!(
            TypeClass::from_postgres("character varying(255)", false),
            TypeClass::Text
        );
        assert_eq!(
            TypeClass::from_postgres("timestamp without time zone", false),
            TypeClass::Time
        );
        assert_eq!(TypeClass::from_postgres("user_role", true), TypeClass::Enum);
    }

    #[test]
    fn sqlite_declared_types_follow_affinity_with_dates_and_booleans_first() {
        assert_eq!(TypeClass::from_sqlite("INTEGER"), TypeClass::Integer);
        assert_eq!(TypeClass::from_sqlite("varchar(20)"), TypeClass::Text);
        assert_eq!(TypeClass::from_sqlite("DATETIME"), TypeClass::Time);
        assert_eq!(TypeClass::from_sqlite("boolean"), TypeClass::Bool);
        assert_eq!(TypeClass::from_sqlite(""), TypeClass::Binary);
    }
}
