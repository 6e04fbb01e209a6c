//! Trash and restore (SPEC §10). A delete copies every row it removes — the targets and
//! everything the cascade takes, on the live foreign keys — into modcon's trash in its
//! own transaction, server-side, before its delete statements run; also the rows a
//! `SET NULL` reference unlinks and a soft-deleted user's marking columns. A restore
//! puts them back parents first in one transaction, refusing per row what can no longer
//! go back (the id is taken again, a parent is gone) with the reason and its children
//! with it, and is audited.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::audit::{self, AuditRow};
use super::impact::{self, Root};
use super::model::RowCounts;
use super::plan::Plan;
use super::schema::{Entity, FkAction, ForeignKey};
use super::{Actor, Backend, DataError, Db, Id, Permission, Row, Schema, Sql, Tx};

/// `[trash]` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrashConfig {
    /// Days a deleted row stays restorable; 0 turns the trash off (nothing is copied).
    pub keep_days: u32,
}

impl Default for TrashConfig {
    fn default() -> Self {
        TrashConfig { keep_days: 30 }
    }
}

impl TrashConfig {
    pub fn is_on(&self) -> bool {
        self.keep_days > 0
    }
}

const ROW: &str = "row";
const UNLINK: &str = "unlink";
const SOFT_DELETE: &str = "soft_delete";

/// Copies what `plan` is about to delete into the trash under `batch_id`. Runs inside
/// the delete's transaction, before its delete statements.
pub(crate) async fn capture(
    tx: &mut Tx,
    schema: &Schema,
    actor: &Actor,
    plan: &Plan,
    roots: &[Root],
    batch_id: Uuid,
) -> Result<(), DataError> {
    let ids: Vec<Id> = plan.targets.iter().map(|t| t.id.clone()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let spec = plan.request.operation.spec();
    let kind = schema.id_kind(plan.request.operation.kind.entity());
    let mut q = Sql::raw(schema.backend);
    q.push(
        "insert into {#modcon_trash_batches} (batch_id, at, actor_id, actor_name, action, \
         target_type) values (",
    )
    .bind(batch_id)
    .push(", ")
    .bind(Utc::now())
    .push(", ")
    .bind(actor.id.to_string())
    .push(", ")
    .bind(actor.username.clone())
    .push(", ")
    .bind(spec.action)
    .push(", ")
    .bind(spec.target_type)
    .push(")");
    tx.execute_sql(&q).await?;

    let tables = impact::doomed_tables(schema, roots);
    let depths = depths(schema, &tables);
    for table in &tables {
        let Some(info) = schema.catalog.table(table) else {
            continue;
        };
        let columns: Vec<String> = info.columns.iter().map(|c| c.name.clone()).collect();
        let mut q = Sql::new(schema);
        q.push("insert into {#modcon_trash} (batch_id, kind, table_name, depth, target_id, row_data) select ")
            .bind(batch_id)
            .push(", ")
            .bind(ROW)
            .push(", ")
            .bind(table.clone())
            .push(", ")
            .bind(i64::from(depths.get(table).copied().unwrap_or(0)))
            .push(", ");
        match roots.iter().find(|r| &r.table == table) {
            Some(root) => {
                q.push("case when x.")
                    .ident(&root.column)
                    .push(" in (")
                    .bind_ids(kind, &ids)
                    .push(") then ");
                as_text(&mut q, "x", &root.column);
                q.push(" end");
            }
            None => {
                q.push("null");
            }
        }
        q.push(", ");
        row_json(&mut q, "x", &columns, true);
        q.push(" from ").table(table).push(" x where ");
        impact::push_doomed(&mut q, schema, roots, kind, &ids, table, "x");
        tx.execute_sql(&q).await?;
    }

    // Kept rows a SET NULL / SET DEFAULT reference is about to unlink: their key and
    // the referencing columns' old values.
    for table in &tables {
        for fk in schema.catalog.referencing(table) {
            if !matches!(fk.on_delete, FkAction::SetNull | FkAction::SetDefault) {
                continue;
            }
            let Some(child) = schema.catalog.table(&fk.child) else {
                continue;
            };
            if child.primary_key.is_empty() {
                continue;
            }
            let mut columns = child.primary_key.clone();
            for column in &fk.columns {
                if !columns.contains(column) {
                    columns.push(column.clone());
                }
            }
            let details = serde_json::json!({
                "parent": fk.parent,
                "columns": fk.columns,
                "parent_columns": fk.parent_columns,
                "on_delete": fk.on_delete,
            });
            let mut q = Sql::new(schema);
            q.push("insert into {#modcon_trash} (batch_id, kind, table_name, depth, target_id, row_data, details) select ")
                .bind(batch_id)
                .push(", ")
                .bind(UNLINK)
                .push(", ")
                .bind(fk.child.clone())
                .push(", 0, null, ");
            row_json(&mut q, "x", &columns, false);
            q.push(", ").bind(details).push(" from ").table(&fk.child);
            q.push(" x where ");
            tuple(&mut q, "x", &fk.columns);
            q.push(" in (select ");
            aliased(&mut q, "p", &fk.parent_columns);
            q.push(" from ").table(table).push(" p where ");
            impact::push_doomed(&mut q, schema, roots, kind, &ids, table, "p");
            q.push(") and not ");
            impact::push_doomed(&mut q, schema, roots, kind, &ids, &fk.child, "x");
            tx.execute_sql(&q).await?;
        }
    }

    if plan.soft_delete
        && let (Some(users), Some(soft)) = (schema.entity(Entity::Users), &schema.soft_delete)
        && let Some(id) = schema.column(Entity::Users, "id")
    {
        let mut columns = vec![id.name.clone(), soft.at.name.clone()];
        if let Some(by) = &soft.by {
            columns.push(by.name.clone());
        }
        if let Some(active) = schema.column(Entity::Users, "active") {
            columns.push(active.name.clone());
        }
        let mut q = Sql::new(schema);
        q.push("insert into {#modcon_trash} (batch_id, kind, table_name, depth, target_id, row_data) select ")
            .bind(batch_id)
            .push(", ")
            .bind(SOFT_DELETE)
            .push(", ")
            .bind(users.table.clone())
            .push(", 0, ");
        as_text(&mut q, "x", &id.name);
        q.push(", ");
        row_json(&mut q, "x", &columns, false);
        q.push(" from ")
            .table(&users.table)
            .push(" x where x.")
            .ident(&id.name)
            .push(" in (")
            .bind_ids(kind, &ids)
            .push(")");
        tx.execute_sql(&q).await?;
    }
    Ok(())
}

/// How far below the batch's other tables each table lies: one more than its deepest
/// parent among them (a table's reference to itself aside).
fn depths(schema: &Schema, tables: &[String]) -> BTreeMap<String, i32> {
    fn depth_of(schema: &Schema, tables: &[String], table: &str, seen: &mut Vec<String>) -> i32 {
        if seen.iter().any(|t| t == table) {
            return 0;
        }
        seen.push(table.to_string());
        let depth = schema
            .catalog
            .foreign_keys
            .iter()
            .filter(|fk| fk.child == table && fk.parent != table)
            .filter(|fk| tables.contains(&fk.parent))
            .map(|fk| 1 + depth_of(schema, tables, &fk.parent, seen))
            .max()
            .unwrap_or(0);
        seen.pop();
        depth
    }
    tables
        .iter()
        .map(|t| (t.clone(), depth_of(schema, tables, t, &mut Vec::new())))
        .collect()
}

/// `x.col` as text, the form ids are kept in.
fn as_text(q: &mut Sql<'_>, alias: &str, column: &str) {
    q.push("cast(")
        .push(alias)
        .push(".")
        .ident(column)
        .push(" as {text})");
}

/// The row (or the listed columns of it) as one JSON object, built by the database.
fn row_json(q: &mut Sql<'_>, alias: &str, columns: &[String], whole: bool) {
    match q.backend() {
        Backend::Postgres if whole => {
            q.push("to_jsonb(").push(alias).push(")");
        }
        Backend::Postgres => {
            q.push("jsonb_build_object(");
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(column.clone())
                    .push("::text, ")
                    .push(alias)
                    .push(".")
                    .ident(column);
            }
            q.push(")");
        }
        Backend::Sqlite | Backend::Mysql => {
            q.push("json_object(");
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(column.clone())
                    .push(", ")
                    .push(alias)
                    .push(".")
                    .ident(column);
            }
            q.push(")");
        }
    }
}

fn aliased(q: &mut Sql<'_>, alias: &str, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push(alias).push(".").ident(name);
    }
}

/// `a.x` or `(a.x, a.y)`.
fn tuple(q: &mut Sql<'_>, alias: &str, names: &[String]) {
    if names.len() == 1 {
        q.push(alias).push(".").ident(&names[0]);
    } else {
        q.push("(");
        aliased(q, alias, names);
        q.push(")");
    }
}

/// A batch in the trash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrashBatch {
    pub batch_id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The audit action of the delete (`guild.delete`).
    pub action: String,
    pub target_type: String,
    /// Rows kept per table, the targets' and the cascade's.
    pub rows: RowCounts,
    /// Rows a SET NULL reference unlinked, per table.
    pub unlinked: RowCounts,
    /// Users marked deleted (soft delete).
    pub soft_deleted: i64,
    pub restored_at: Option<DateTime<Utc>>,
    pub restored_by: Option<String>,
}

/// One row kept in the trash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrashItem {
    pub id: i64,
    pub kind: String,
    pub table: String,
    pub depth: i64,
    pub target_id: Option<String>,
    pub row: serde_json::Value,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

/// A restore or purge asked for by a role that may not: refused, and the refusal is on
/// the audit record like every other operation refused for permission.
async fn refused_is_audited(
    db: &Db,
    actor: &Actor,
    action: &str,
    ids: &[Id],
) -> Result<(), DataError> {
    match actor.require(Permission::RestoreTrash) {
        Ok(()) => Ok(()),
        Err(refusal) => {
            if !db.is_read_only() {
                let why = refusal.to_string();
                super::audit::record_refusal(db, actor, action, "trash_batch", ids, &why).await;
            }
            Err(refusal)
        }
    }
}

async fn require(db: &Db, actor: &Actor, tx: &mut Tx) -> Result<(), DataError> {
    actor.require(Permission::RestoreTrash)?;
    actor
        .verify(tx, db.schema()?, Permission::RestoreTrash)
        .await
}

async fn read_batches(tx: &mut Tx, only: Option<Uuid>) -> Result<Vec<TrashBatch>, DataError> {
    let backend = tx.backend();
    let mut q = Sql::raw(backend);
    q.push(
        "select batch_id, at, actor_name, action, target_type, restored_at, restored_by \
         from {#modcon_trash_batches}",
    );
    if let Some(batch) = only {
        q.push(" where batch_id = ").bind(batch);
    }
    q.push(" order by at desc, batch_id");
    let mut batches = Vec::new();
    for row in tx.fetch_all_sql(&q).await? {
        batches.push(TrashBatch {
            batch_id: row.uuid("batch_id")?,
            at: row.time("at")?,
            actor: row.text("actor_name")?,
            action: row.text("action")?,
            target_type: row.text("target_type")?,
            rows: RowCounts::new(),
            unlinked: RowCounts::new(),
            soft_deleted: 0,
            restored_at: row.opt_time("restored_at")?,
            restored_by: row.opt_text("restored_by")?,
        });
    }
    let mut q = Sql::raw(backend);
    q.push(
        "select i.batch_id, i.kind, i.table_name, count(*) as n from {#modcon_trash} i \
         join {#modcon_trash_batches} b on b.batch_id = i.batch_id",
    );
    if let Some(batch) = only {
        q.push(" where i.batch_id = ").bind(batch);
    }
    q.push(" group by i.batch_id, i.kind, i.table_name");
    for row in tx.fetch_all_sql(&q).await? {
        let batch_id = row.uuid("batch_id")?;
        let Some(batch) = batches.iter_mut().find(|b| b.batch_id == batch_id) else {
            continue;
        };
        let table = row.text("table_name")?;
        let n = row.int("n")?;
        match row.text("kind")?.as_str() {
            ROW => batch.rows.add(&table, n),
            UNLINK => batch.unlinked.add(&table, n),
            _ => batch.soft_deleted += n,
        }
    }
    Ok(batches)
}

/// Every batch in the trash, newest first (admin).
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<TrashBatch>, DataError> {
    let mut tx = db.read().await?;
    require(db, actor, &mut tx).await?;
    let batches = read_batches(&mut tx, None).await;
    tx.rollback().await?;
    batches
}

/// One batch and every row it keeps, parents first (admin).
pub async fn show(
    db: &Db,
    actor: &Actor,
    batch_id: Uuid,
) -> Result<(TrashBatch, Vec<TrashItem>), DataError> {
    let mut tx = db.read().await?;
    require(db, actor, &mut tx).await?;
    let batch = read_batches(&mut tx, Some(batch_id))
        .await?
        .into_iter()
        .next();
    let Some(batch) = batch else {
        tx.rollback().await?;
        return Err(not_in_trash(batch_id));
    };
    let items = read_items(&mut tx, batch_id).await;
    tx.rollback().await?;
    Ok((batch, items?))
}

fn not_in_trash(batch_id: Uuid) -> DataError {
    DataError::NotFound(format!(
        "batch {batch_id} is not in the trash (purged, kept nothing, or never existed)"
    ))
}

async fn read_items(tx: &mut Tx, batch_id: Uuid) -> Result<Vec<TrashItem>, DataError> {
    let mut q = Sql::raw(tx.backend());
    q.push(
        "select id, kind, table_name, depth, target_id, row_data, details from {#modcon_trash} \
         where batch_id = ",
    )
    .bind(batch_id)
    .push(" order by depth, id");
    let rows = tx.fetch_all_sql(&q).await?;
    rows.iter().map(item_of).collect()
}

fn item_of(row: &Row) -> Result<TrashItem, DataError> {
    let details = row.json("details")?;
    Ok(TrashItem {
        id: row.int("id")?,
        kind: row.text("kind")?,
        table: row.text("table_name")?,
        depth: row.int("depth")?,
        target_id: row.opt_text("target_id")?,
        row: row.json("row_data")?,
        details: match &details {
            serde_json::Value::Object(map) if map.is_empty() => serde_json::Value::Null,
            _ => details,
        },
    })
}

/// What can and cannot come back of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableRestore {
    pub table: String,
    pub restored: i64,
    pub refused: i64,
    pub relinked: i64,
    pub relink_refused: i64,
}

/// One row that cannot come back, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreRefusal {
    pub table: String,
    /// The row's primary key, `column = value` pairs.
    pub key: String,
    pub reason: String,
}

/// What a restore did (or, planned, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    pub batch_id: Uuid,
    /// What the delete took: its audit target type (`guild`, `chat_session`…).
    pub target_type: String,
    /// Nothing was changed: a plan.
    pub planned: bool,
    /// The restore's own audit batch (when carried out).
    pub restore_batch_id: Option<Uuid>,
    pub tables: Vec<TableRestore>,
    pub refused: Vec<RestoreRefusal>,
    /// Targets of the delete that came back whole, and those that did not.
    pub restored_targets: Vec<String>,
    pub refused_targets: Vec<String>,
}

impl RestoreReport {
    pub fn restored(&self) -> i64 {
        self.tables.iter().map(|t| t.restored + t.relinked).sum()
    }

    pub fn is_complete(&self) -> bool {
        self.refused.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Pending,
    Restored,
    Refused,
}

/// Puts a batch back in one transaction, audited; `plan_only` does the same and rolls
/// it back, so the plan says exactly what would come back (admin).
pub async fn restore(
    db: &Db,
    actor: &Actor,
    batch_id: Uuid,
    plan_only: bool,
) -> Result<RestoreReport, DataError> {
    let schema = db.schema()?;
    refused_is_audited(db, actor, "trash.restore", &[Id::from(batch_id)]).await?;
    let mut tx = db.write().await?;
    require(db, actor, &mut tx).await?;
    let mut q = Sql::raw(schema.backend);
    q.push(
        "select target_type, restored_at, restored_by from {#modcon_trash_batches} \
         where batch_id = ",
    )
    .bind(batch_id);
    if schema.backend != Backend::Sqlite {
        q.push(" for update");
    }
    let Some(batch) = tx.fetch_optional_sql(&q).await? else {
        tx.rollback().await?;
        return Err(not_in_trash(batch_id));
    };
    if let Some(at) = batch.opt_time("restored_at")? {
        let by = batch.opt_text("restored_by")?.unwrap_or_default();
        tx.rollback().await?;
        return Err(DataError::invalid(format!(
            "batch {batch_id} was already restored at {} by {by}",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        )));
    }
    let target_type = batch.text("target_type")?;
    let items = read_items(&mut tx, batch_id).await?;
    let mut restorer = Restorer {
        schema,
        batch_id,
        items: &items,
        state: vec![State::Pending; items.len()],
        reasons: HashMap::new(),
        parents_found: HashMap::new(),
        index: HashMap::new(),
    };
    restorer.rows(&mut tx).await?;
    restorer.markings(&mut tx).await?;
    let mut report = restorer.report(batch_id, target_type, plan_only);
    if plan_only {
        tx.rollback().await?;
        return Ok(report);
    }
    let restore_batch_id = Uuid::new_v4();
    audit_restore(&mut tx, actor, batch_id, restore_batch_id, &report).await?;
    let mut q = Sql::raw(schema.backend);
    q.push("update {#modcon_trash_batches} set restored_at = ")
        .bind(Utc::now())
        .push(", restored_by = ")
        .bind(actor.username.clone())
        .push(", restore_batch_id = ")
        .bind(restore_batch_id)
        .push(" where batch_id = ")
        .bind(batch_id);
    tx.execute_sql(&q).await?;
    tx.commit().await?;
    report.restore_batch_id = Some(restore_batch_id);
    Ok(report)
}

struct Restorer<'a> {
    schema: &'a Schema,
    batch_id: Uuid,
    items: &'a [TrashItem],
    state: Vec<State>,
    reasons: HashMap<usize, String>,
    /// Parents looked up in the database: (table, key) → found.
    parents_found: HashMap<(String, String), bool>,
    /// Rows of the batch by (table, columns) and those columns' values.
    index: HashMap<(String, Vec<String>), HashMap<String, Vec<usize>>>,
}

/// What to do with one row now.
enum Check {
    Insert,
    /// A parent in the batch has not been put back yet.
    Wait,
    Refuse(String),
}

fn values_of(row: &serde_json::Value, columns: &[String]) -> Option<String> {
    let values: Vec<&serde_json::Value> = columns
        .iter()
        .map(|c| row.get(c).unwrap_or(&serde_json::Value::Null))
        .collect();
    if values.iter().any(|v| v.is_null()) {
        return None;
    }
    Some(serde_json::Value::from(values.into_iter().cloned().collect::<Vec<_>>()).to_string())
}

/// `col = value, …` for messages.
fn describe_key(row: &serde_json::Value, columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| {
            let value = match row.get(c) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "null".into(),
            };
            format!("{c} = {value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Restorer<'_> {
    fn key_columns(&self, table: &str) -> Vec<String> {
        self.schema
            .catalog
            .table(table)
            .map(|t| t.primary_key.clone())
            .unwrap_or_default()
    }

    /// Rows of the batch in `table` whose `columns` hold `values`.
    fn in_batch(&mut self, table: &str, columns: &[String], values: &str) -> Vec<usize> {
        let key = (table.to_string(), columns.to_vec());
        if !self.index.contains_key(&key) {
            let mut map: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, item) in self.items.iter().enumerate() {
                if item.kind == ROW
                    && item.table == table
                    && let Some(v) = values_of(&item.row, columns)
                {
                    map.entry(v).or_default().push(i);
                }
            }
            self.index.insert(key.clone(), map);
        }
        self.index
            .get(&key)
            .and_then(|m| m.get(values))
            .cloned()
            .unwrap_or_default()
    }

    async fn rows(&mut self, tx: &mut Tx) -> Result<(), DataError> {
        self.whole_tables(tx).await?;
        loop {
            let mut progress = false;
            for i in 0..self.items.len() {
                if self.items[i].kind != ROW || self.state[i] != State::Pending {
                    continue;
                }
                match self.check(tx, i).await? {
                    Check::Wait => {}
                    Check::Refuse(reason) => {
                        self.refuse(i, reason);
                        progress = true;
                    }
                    Check::Insert => {
                        match self.insert(tx, i).await? {
                            Ok(()) => self.state[i] = State::Restored,
                            Err(reason) => self.refuse(i, reason),
                        }
                        progress = true;
                    }
                }
            }
            if !progress {
                break;
            }
        }
        // Left waiting: parents that wait on each other.
        for i in 0..self.items.len() {
            if self.items[i].kind == ROW && self.state[i] == State::Pending {
                self.refuse(i, "its parent row could not be put back first".into());
            }
        }
        Ok(())
    }

    /// Puts back, table by table (parents first), every table whose rows can all go back
    /// with one statement: no id taken again, every parent there, no reference to itself.
    /// Anything else is left to the row-by-row pass, which gives each refusal its reason.
    async fn whole_tables(&mut self, tx: &mut Tx) -> Result<(), DataError> {
        let mut tables: Vec<(i64, String)> = Vec::new();
        for item in self.items.iter().filter(|item| item.kind == ROW) {
            if !tables.iter().any(|(_, t)| *t == item.table) {
                tables.push((item.depth, item.table.clone()));
            }
        }
        tables.sort();
        for (_, table) in tables {
            let members: Vec<usize> = (0..self.items.len())
                .filter(|i| self.items[*i].kind == ROW && self.items[*i].table == table)
                .collect();
            if let Some(columns) = self.bulk_columns(&table, &members)
                && self.bulk_insert(tx, &table, &columns).await?
            {
                for i in members {
                    self.state[i] = State::Restored;
                }
            }
        }
        Ok(())
    }

    /// The columns to put back for a table that can go back whole: every kept row has the
    /// same columns, the table still has them and a primary key, and no foreign key of
    /// its own points at itself.
    fn bulk_columns(&self, table: &str, members: &[usize]) -> Option<Vec<String>> {
        let info = self.schema.catalog.table(table)?;
        if info.primary_key.is_empty()
            || self
                .schema
                .catalog
                .foreign_keys
                .iter()
                .any(|fk| fk.child == table && fk.parent == table)
        {
            return None;
        }
        let first = self.items[*members.first()?].row.as_object()?;
        let same = members.iter().all(|i| {
            self.items[*i]
                .row
                .as_object()
                .is_some_and(|o| o.len() == first.len() && o.keys().all(|k| first.contains_key(k)))
        });
        let columns: Vec<String> = info
            .columns
            .iter()
            .map(|c| c.name.clone())
            .filter(|c| first.contains_key(c))
            .collect();
        (same && info.primary_key.iter().all(|k| columns.contains(k))).then_some(columns)
    }

    /// Checks, then inserts every kept row of `table` at once; false (nothing changed) if
    /// any row would be refused or the database refuses the statement.
    async fn bulk_insert(
        &self,
        tx: &mut Tx,
        table: &str,
        columns: &[String],
    ) -> Result<bool, DataError> {
        let Some(info) = self.schema.catalog.table(table) else {
            return Ok(false);
        };
        // An id taken again.
        let mut q = Sql::new(self.schema);
        q.push("select 1 as hit from ");
        self.source_all(&mut q, table, columns);
        q.push(" where exists (select 1 from ")
            .table(table)
            .push(" y where ");
        matching(&mut q, &info.primary_key, &info.primary_key);
        q.push(") limit 1");
        if tx.fetch_optional_sql(&q).await?.is_some() {
            return Ok(false);
        }
        // A parent that is not there (gone, or refused in this batch).
        for fk in self
            .schema
            .catalog
            .foreign_keys
            .iter()
            .filter(|fk| fk.child == table)
        {
            if !fk.columns.iter().all(|c| columns.contains(c)) {
                return Ok(false);
            }
            let mut q = Sql::new(self.schema);
            q.push("select 1 as hit from ");
            self.source_all(&mut q, table, columns);
            q.push(" where ");
            for column in &fk.columns {
                q.push("r.").ident(column).push(" is not null and ");
            }
            q.push("not exists (select 1 from ")
                .table(&fk.parent)
                .push(" y where ");
            matching(&mut q, &fk.parent_columns, &fk.columns);
            q.push(") limit 1");
            if tx.fetch_optional_sql(&q).await?.is_some() {
                return Ok(false);
            }
        }
        let mut q = Sql::new(self.schema);
        q.push("insert into ").table(table).push(" (");
        list_plain(&mut q, columns);
        q.push(") ");
        match self.schema.backend {
            Backend::Postgres => {
                q.push("overriding system value ");
            }
            Backend::Sqlite | Backend::Mysql => {}
        }
        q.push("select ");
        aliased(&mut q, "r", columns);
        q.push(" from ");
        self.source_all(&mut q, table, columns);
        savepoint(tx, "savepoint modcon_restore_table").await?;
        match tx.execute_sql(&q).await {
            Ok(_) => {
                savepoint(tx, "release savepoint modcon_restore_table").await?;
                Ok(true)
            }
            Err(e @ (DataError::Unavailable(_) | DataError::Internal(_))) => Err(e),
            Err(_) => {
                savepoint(tx, "rollback to savepoint modcon_restore_table").await?;
                savepoint(tx, "release savepoint modcon_restore_table").await?;
                Ok(false)
            }
        }
    }

    /// Every kept row of `table` in this batch as a table `r` with the table's types.
    fn source_all(&self, q: &mut Sql<'_>, table: &str, columns: &[String]) {
        let batch_id = self.batch_id;
        match self.schema.backend {
            Backend::Postgres => {
                q.push("(select p.* from {#modcon_trash} t cross join lateral jsonb_populate_record(null::")
                    .table(table)
                    .push(", t.row_data) p where t.batch_id = ")
                    .bind(batch_id)
                    .push(" and t.kind = ")
                    .bind(ROW)
                    .push(" and t.table_name = ")
                    .bind(table.to_string())
                    .push(") r");
            }
            Backend::Sqlite | Backend::Mysql => {
                q.push("(select ");
                json_columns(q, columns);
                q.push(" from {#modcon_trash} t where t.batch_id = ")
                    .bind(batch_id)
                    .push(" and t.kind = ")
                    .bind(ROW)
                    .push(" and t.table_name = ")
                    .bind(table.to_string())
                    .push(") r");
            }
        }
    }

    fn refuse(&mut self, i: usize, reason: String) {
        self.state[i] = State::Refused;
        self.reasons.insert(i, reason);
    }

    async fn check(&mut self, tx: &mut Tx, i: usize) -> Result<Check, DataError> {
        let item = &self.items[i];
        let Some(info) = self.schema.catalog.table(&item.table) else {
            return Ok(Check::Refuse(format!(
                "the table {} no longer exists",
                item.table
            )));
        };
        let fks: Vec<&ForeignKey> = self
            .schema
            .catalog
            .foreign_keys
            .iter()
            .filter(|fk| fk.child == item.table)
            .collect();
        for fk in fks {
            let Some(values) = values_of(&item.row, &fk.columns) else {
                continue;
            };
            let in_batch: Vec<usize> = self
                .in_batch(&fk.parent, &fk.parent_columns, &values)
                .into_iter()
                .filter(|j| *j != i)
                .collect();
            if !in_batch.is_empty() {
                if in_batch.iter().any(|j| self.state[*j] == State::Restored) {
                    continue;
                }
                if in_batch.iter().any(|j| self.state[*j] == State::Pending) {
                    return Ok(Check::Wait);
                }
                return Ok(Check::Refuse(format!(
                    "its parent in {} ({}) was not restored",
                    fk.parent,
                    describe_key(&item.row, &fk.columns)
                )));
            }
            let cache_key = (
                fk.parent.clone(),
                format!("{:?}{values}", fk.parent_columns),
            );
            let found = match self.parents_found.get(&cache_key) {
                Some(found) => *found,
                None => {
                    let found = self
                        .exists(tx, i, &fk.parent, &fk.parent_columns, &fk.columns)
                        .await?;
                    self.parents_found.insert(cache_key, found);
                    found
                }
            };
            if !found {
                return Ok(Check::Refuse(format!(
                    "its parent in {} ({}) is gone",
                    fk.parent,
                    describe_key(&item.row, &fk.columns)
                )));
            }
        }
        let key = info.primary_key.clone();
        if !key.is_empty() && self.exists(tx, i, &item.table, &key, &key).await? {
            return Ok(Check::Refuse(format!(
                "the id is taken again ({})",
                describe_key(&item.row, &key)
            )));
        }
        Ok(Check::Insert)
    }

    /// True if `table` has a row whose `columns` equal the trash row's `from` columns.
    async fn exists(
        &self,
        tx: &mut Tx,
        i: usize,
        table: &str,
        columns: &[String],
        from: &[String],
    ) -> Result<bool, DataError> {
        let mut q = Sql::new(self.schema);
        q.push("select 1 as hit from ").table(table).push(" y, ");
        self.source(&mut q, i, from);
        q.push(" where ");
        for (k, (column, source)) in columns.iter().zip(from).enumerate() {
            if k > 0 {
                q.push(" and ");
            }
            q.push("y.").ident(column).push(" = r.").ident(source);
        }
        q.push(" limit 1");
        Ok(tx.fetch_optional_sql(&q).await?.is_some())
    }

    /// The trash row `i` as a one-row table `r` with its table's column types.
    fn source(&self, q: &mut Sql<'_>, i: usize, columns: &[String]) {
        let item = &self.items[i];
        match self.schema.backend {
            Backend::Postgres => {
                q.push("(select p.* from {#modcon_trash} t cross join lateral jsonb_populate_record(null::")
                    .table(&item.table)
                    .push(", t.row_data) p where t.id = ")
                    .bind(item.id)
                    .push(") r");
            }
            Backend::Sqlite | Backend::Mysql => {
                q.push("(select ");
                json_columns(q, columns);
                q.push(" from {#modcon_trash} t where t.id = ")
                    .bind(item.id)
                    .push(") r");
            }
        }
    }

    /// `update <table> set c = r.c, …` from trash row `i` as `r` (holding `source`
    /// columns), up to the `where` the caller adds: `update … from` on PostgreSQL and
    /// SQLite, `update … join` on MySQL.
    fn update_from(&self, q: &mut Sql<'_>, i: usize, set: &[String], source: &[String]) {
        let table = &self.items[i].table;
        q.push("update ").table(table);
        if self.schema.backend == Backend::Mysql {
            q.push(" join ");
            self.source(q, i, source);
            q.push(" on 1 = 1");
        }
        q.push(" set ");
        for (k, column) in set.iter().enumerate() {
            if k > 0 {
                q.push(", ");
            }
            if self.schema.backend == Backend::Mysql {
                q.table(table).push(".");
            }
            q.ident(column).push(" = r.").ident(column);
        }
        if self.schema.backend != Backend::Mysql {
            q.push(" from ");
            self.source(q, i, source);
        }
    }

    /// Inserts trash row `i`; a refusal by the database is this row's reason, not the
    /// end of the restore.
    async fn insert(&self, tx: &mut Tx, i: usize) -> Result<Result<(), String>, DataError> {
        let item = &self.items[i];
        let Some(info) = self.schema.catalog.table(&item.table) else {
            return Ok(Err("the table no longer exists".into()));
        };
        // Columns the table has now and the kept row has.
        let columns: Vec<String> = info
            .columns
            .iter()
            .filter(|c| !c.generated)
            .map(|c| c.name.clone())
            .filter(|c| item.row.get(c).is_some())
            .collect();
        let mut q = Sql::new(self.schema);
        q.push("insert into ").table(&item.table).push(" (");
        list_plain(&mut q, &columns);
        q.push(") ");
        if self.schema.backend == Backend::Postgres {
            q.push("overriding system value ");
        }
        q.push("select ");
        aliased(&mut q, "r", &columns);
        q.push(" from ");
        self.source(&mut q, i, &columns);
        savepoint(tx, "savepoint modcon_restore_row").await?;
        match tx.execute_sql(&q).await {
            Ok(_) => {
                savepoint(tx, "release savepoint modcon_restore_row").await?;
                Ok(Ok(()))
            }
            Err(e @ (DataError::Unavailable(_) | DataError::Internal(_))) => Err(e),
            Err(e) => {
                savepoint(tx, "rollback to savepoint modcon_restore_row").await?;
                savepoint(tx, "release savepoint modcon_restore_row").await?;
                Ok(Err(format!("the database refused it: {e}")))
            }
        }
    }

    /// Links unlinked rows back and clears soft-delete markings, after the rows.
    async fn markings(&mut self, tx: &mut Tx) -> Result<(), DataError> {
        for i in 0..self.items.len() {
            let item = &self.items[i];
            let outcome = match item.kind.as_str() {
                UNLINK => self.relink(tx, i).await?,
                SOFT_DELETE => self.unmark(tx, i).await?,
                _ => continue,
            };
            match outcome {
                Ok(()) => self.state[i] = State::Restored,
                Err(reason) => self.refuse(i, reason),
            }
        }
        Ok(())
    }

    async fn relink(&mut self, tx: &mut Tx, i: usize) -> Result<Result<(), String>, DataError> {
        let item = &self.items[i];
        let strings = |key: &str| -> Vec<String> {
            item.details
                .get(key)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let columns = strings("columns");
        let parent_columns = strings("parent_columns");
        let parent = item
            .details
            .get("parent")
            .and_then(|p| p.as_str())
            .unwrap_or_default()
            .to_string();
        let set_null = item.details.get("on_delete").and_then(|a| a.as_str()) == Some("set_null");
        if self.schema.catalog.table(&item.table).is_none() {
            return Ok(Err(format!("the table {} no longer exists", item.table)));
        }
        if let Some(values) = values_of(&item.row, &columns) {
            let in_batch = self.in_batch(&parent, &parent_columns, &values);
            if !in_batch.is_empty() && !in_batch.iter().any(|j| self.state[*j] == State::Restored) {
                return Ok(Err(format!(
                    "its parent in {parent} ({}) was not restored",
                    describe_key(&item.row, &columns)
                )));
            }
            if in_batch.is_empty()
                && !self
                    .exists(tx, i, &parent, &parent_columns, &columns)
                    .await?
            {
                return Ok(Err(format!(
                    "its parent in {parent} ({}) is gone",
                    describe_key(&item.row, &columns)
                )));
            }
        }
        let key = self.key_columns(&item.table);
        let mut all = key.clone();
        all.extend(columns.iter().filter(|c| !key.contains(c)).cloned());
        let mut q = Sql::new(self.schema);
        self.update_from(&mut q, i, &columns, &all);
        q.push(" where ");
        for (k, column) in key.iter().enumerate() {
            if k > 0 {
                q.push(" and ");
            }
            q.table(&item.table)
                .push(".")
                .ident(column)
                .push(" = r.")
                .ident(column);
        }
        if set_null {
            for column in &columns {
                q.push(" and ")
                    .table(&item.table)
                    .push(".")
                    .ident(column)
                    .push(" is null");
            }
        }
        Ok(if tx.execute_sql(&q).await? == 1 {
            Ok(())
        } else {
            Err(format!(
                "the row ({}) is gone or was linked elsewhere since",
                describe_key(&item.row, &key)
            ))
        })
    }

    async fn unmark(&self, tx: &mut Tx, i: usize) -> Result<Result<(), String>, DataError> {
        let item = &self.items[i];
        let (Some(soft), Some(id)) = (
            &self.schema.soft_delete,
            self.schema.column(Entity::Users, "id"),
        ) else {
            return Ok(Err(
                "the users map no longer names soft-delete columns".into()
            ));
        };
        let columns: Vec<String> = item
            .row
            .as_object()
            .map(|o| o.keys().filter(|k| **k != id.name).cloned().collect())
            .unwrap_or_default();
        let mut all = vec![id.name.clone()];
        all.extend(columns.iter().cloned());
        let mut q = Sql::new(self.schema);
        self.update_from(&mut q, i, &columns, &all);
        q.push(" where ")
            .table(&item.table)
            .push(".")
            .ident(&id.name)
            .push(" = r.")
            .ident(&id.name)
            .push(" and ")
            .table(&item.table)
            .push(".")
            .ident(&soft.at.name)
            .push(" is not null");
        Ok(if tx.execute_sql(&q).await? == 1 {
            Ok(())
        } else {
            Err("the user is gone or no longer marked deleted".into())
        })
    }

    fn report(&self, batch_id: Uuid, target_type: String, planned: bool) -> RestoreReport {
        let mut tables: BTreeMap<String, TableRestore> = BTreeMap::new();
        let mut refused = Vec::new();
        let mut targets: BTreeMap<String, bool> = BTreeMap::new();
        for (i, item) in self.items.iter().enumerate() {
            let entry = tables
                .entry(item.table.clone())
                .or_insert_with(|| TableRestore {
                    table: item.table.clone(),
                    ..TableRestore::default()
                });
            let back = self.state[i] == State::Restored;
            match (item.kind.as_str(), back) {
                (ROW, true) => entry.restored += 1,
                (ROW, false) => entry.refused += 1,
                (_, true) => entry.relinked += 1,
                (_, false) => entry.relink_refused += 1,
            }
            if let Some(target) = &item.target_id {
                let whole = targets.entry(target.clone()).or_insert(true);
                *whole &= back;
            }
            if !back {
                let key = match item.kind.as_str() {
                    SOFT_DELETE => describe_key(&item.row, &[self.user_id_column()]),
                    _ => describe_key(&item.row, &self.key_columns(&item.table)),
                };
                refused.push(RestoreRefusal {
                    table: item.table.clone(),
                    key,
                    reason: self
                        .reasons
                        .get(&i)
                        .cloned()
                        .unwrap_or_else(|| "not restored".into()),
                });
            }
        }
        let (restored_targets, refused_targets): (Vec<_>, Vec<_>) =
            targets.into_iter().partition(|(_, whole)| *whole);
        RestoreReport {
            batch_id,
            target_type,
            planned,
            restore_batch_id: None,
            tables: tables.into_values().collect(),
            refused,
            restored_targets: restored_targets.into_iter().map(|(t, _)| t).collect(),
            refused_targets: refused_targets.into_iter().map(|(t, _)| t).collect(),
        }
    }

    fn user_id_column(&self) -> String {
        self.schema
            .column(Entity::Users, "id")
            .map(|c| c.name.clone())
            .unwrap_or_default()
    }
}

/// `y.a = r.x and y.b = r.z` for columns `[a, b]` of `y` and `[x, z]` of `r`.
fn matching(q: &mut Sql<'_>, columns: &[String], from: &[String]) {
    for (k, (column, source)) in columns.iter().zip(from).enumerate() {
        if k > 0 {
            q.push(" and ");
        }
        q.push("y.").ident(column).push(" = r.").ident(source);
    }
}

fn list_plain(q: &mut Sql<'_>, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.ident(name);
    }
}

/// `value as column, …` read from a trash row `t` (SQLite and MySQL; PostgreSQL types
/// the whole row back with `jsonb_populate_record`). On MySQL `json_value` reads a JSON
/// null as NULL and a scalar unquoted, `json_query` an object or array (a JSON column);
/// the column's type converts the text (numbers, `datetime` text) on insert.
fn json_columns(q: &mut Sql<'_>, columns: &[String]) {
    for (k, column) in columns.iter().enumerate() {
        if k > 0 {
            q.push(", ");
        }
        match q.backend() {
            Backend::Mysql => {
                q.push("coalesce(json_value(t.row_data, ")
                    .bind(json_path(column))
                    .push("), json_query(t.row_data, ")
                    .bind(json_path(column))
                    .push("))");
            }
            Backend::Sqlite | Backend::Postgres => {
                q.push("json_extract(t.row_data, ")
                    .bind(json_path(column))
                    .push(")");
            }
        }
        q.push(" as ").ident(column);
    }
}

/// A JSON path naming one key of an object.
fn json_path(key: &str) -> String {
    format!("$.\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn savepoint(tx: &mut Tx, statement: &'static str) -> Result<(), DataError> {
    let mut q = Sql::raw(tx.backend());
    q.push(statement);
    tx.execute_sql(&q).await?;
    Ok(())
}

/// One audit row per target that came back whole, and a summary of the restore.
async fn audit_restore(
    tx: &mut Tx,
    actor: &Actor,
    batch_id: Uuid,
    restore_batch_id: Uuid,
    report: &RestoreReport,
) -> Result<(), DataError> {
    let mut q = Sql::raw(tx.backend());
    q.push(
        "select target_type, target_id, target_label from {#modcon_audit_log} \
         where batch_id = ",
    )
    .bind(batch_id)
    .push(" and target_id is not null order by id");
    let originals = tx.fetch_all_sql(&q).await?;
    let mut rows = Vec::new();
    for original in &originals {
        let target = original.text("target_id")?;
        if !report.restored_targets.contains(&target) {
            continue;
        }
        rows.push(AuditRow {
            action: "trash.restore".into(),
            target_type: static_target_type(&original.text("target_type")?),
            target_id: Some(Id::Text(target)),
            target_label: original.text("target_label")?,
            counts: serde_json::json!({}),
            details: serde_json::json!({ "trash_batch_id": batch_id }),
        });
    }
    let mut counts = RowCounts::new();
    for table in &report.tables {
        counts.add(&table.table, table.restored);
    }
    rows.push(AuditRow {
        action: "trash.restore.batch".into(),
        target_type: "trash_batch",
        target_id: Some(Id::Text(batch_id.to_string())),
        target_label: format!(
            "{} rows restored, {} refused",
            report.restored(),
            report.refused.len()
        ),
        counts: counts.to_json(),
        details: serde_json::json!({
            "trash_batch_id": batch_id,
            "tables": report.tables,
            "refused": report.refused.iter().take(100).collect::<Vec<_>>(),
            "refused_count": report.refused.len(),
            "restored_targets": report.restored_targets,
            "refused_targets": report.refused_targets,
        }),
    });
    audit::write(tx, restore_batch_id, actor, None, &rows).await
}

/// Audit target types are a closed set; an unknown one is kept as "row".
fn static_target_type(text: &str) -> &'static str {
    const KNOWN: [&str; 7] = [
        "chat_session",
        "chat_message",
        "message",
        "comment",
        "review",
        "guild",
        "user",
    ];
    KNOWN.iter().find(|k| **k == text).copied().unwrap_or("row")
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub batches: i64,
    pub rows: i64,
}

/// Removes the batches deleted more than `older_than_days` days ago, audited (admin).
pub async fn purge(db: &Db, actor: &Actor, older_than_days: u32) -> Result<Purged, DataError> {
    refused_is_audited(db, actor, "trash.purge", &[]).await?;
    let mut tx = db.write().await?;
    require(db, actor, &mut tx).await?;
    let purged = purge_in(&mut tx, actor, older_than_days, false).await?;
    tx.commit().await?;
    Ok(purged)
}

/// The retention window, kept by every delete: batches older than `[trash] keep_days`
/// go in the delete's own transaction, audited as an automatic purge. Nothing expired,
/// one indexed look-up.
pub(crate) async fn purge_expired(
    tx: &mut Tx,
    config: &TrashConfig,
    actor: &Actor,
) -> Result<Purged, DataError> {
    let mut q = Sql::raw(tx.backend());
    q.push("select batch_id from {#modcon_trash_batches} where at < ")
        .bind(cutoff(config.keep_days))
        .push(" limit 1");
    if tx.fetch_optional_sql(&q).await?.is_none() {
        return Ok(Purged {
            batches: 0,
            rows: 0,
        });
    }
    purge_in(tx, actor, config.keep_days, true).await
}

fn cutoff(older_than_days: u32) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(i64::from(older_than_days))
}

async fn purge_in(
    tx: &mut Tx,
    actor: &Actor,
    older_than_days: u32,
    automatic: bool,
) -> Result<Purged, DataError> {
    let backend = tx.backend();
    let cutoff = cutoff(older_than_days);
    let mut q = Sql::raw(backend);
    q.push(
        "select count(distinct b.batch_id) as batches, count(i.id) as n \
         from {#modcon_trash_batches} b left join {#modcon_trash} i on i.batch_id = b.batch_id \
         where b.at < ",
    )
    .bind(cutoff);
    let row = tx.fetch_one_sql(&q).await?;
    let purged = Purged {
        batches: row.int("batches")?,
        rows: row.int("n")?,
    };
    let mut q = Sql::raw(backend);
    q.push("delete from {#modcon_trash} where batch_id in (select batch_id from {#modcon_trash_batches} where at < ")
        .bind(cutoff)
        .push(")");
    tx.execute_sql(&q).await?;
    let mut q = Sql::raw(backend);
    q.push("delete from {#modcon_trash_batches} where at < ")
        .bind(cutoff);
    tx.execute_sql(&q).await?;
    if purged.batches > 0 {
        let how = if automatic {
            ", purged automatically"
        } else {
            ""
        };
        let row = AuditRow {
            action: "trash.purge".into(),
            target_type: "trash",
            target_id: None,
            target_label: format!(
                "{} batches ({} rows) older than {older_than_days} days{how}",
                purged.batches, purged.rows
            ),
            counts: serde_json::json!({}),
            details: serde_json::json!({
                "older_than_days": older_than_days,
                "automatic": automatic,
            }),
        };
        audit::write(tx, Uuid::new_v4(), actor, None, &[row]).await?;
    }
    Ok(purged)
}

impl Db {
    /// Every row of a platform table as JSON, in primary-key order (all columns where it
    /// has none): for tools and tests that compare a table before and after.
    pub async fn table_rows(&self, table: &str) -> Result<Vec<serde_json::Value>, DataError> {
        let schema = self.schema()?;
        let Some(info) = schema.catalog.table(table) else {
            return Err(DataError::NotFound(format!("table {table}")));
        };
        let columns: Vec<String> = info.columns.iter().map(|c| c.name.clone()).collect();
        let order = if info.primary_key.is_empty() {
            &columns
        } else {
            &info.primary_key
        };
        let mut q = Sql::new(schema);
        q.push("select ");
        row_json(&mut q, "x", &columns, true);
        q.push(" as row_data from ")
            .table(table)
            .push(" x order by ");
        aliased(&mut q, "x", order);
        let mut tx = self.read().await?;
        let rows = tx.fetch_all_sql(&q).await;
        tx.rollback().await?;
        rows?.iter().map(|r| r.json("row_data")).collect()
    }
}
