//! The append-only audit record (SPEC §2, §4.4), in modcon's own table
//! `modcon_audit_log`. Rows are written in the transaction of the change they describe;
//! the table's triggers refuse UPDATE and DELETE. Ids of every kind are kept as text.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::ids::Reason;
use super::lists::{
    Order, Page, Seek, SortCursor, SortKey, SortValue, TieId, ValueKind, like_pattern,
    seek_condition, seek_order, seek_page,
};
use super::{Actor, DataError, Db, Id, Row, Sql, Tx};

/// One row to append. Labels are snapshots: they outlive the target.
#[derive(Debug, Clone)]
pub(crate) struct AuditRow {
    pub action: String,
    pub target_type: &'static str,
    pub target_id: Option<Id>,
    pub target_label: String,
    pub counts: serde_json::Value,
    pub details: serde_json::Value,
}

/// Who an audit row names as the actor.
#[derive(Debug, Clone)]
pub(crate) struct ActorSnapshot {
    pub id: Option<Id>,
    pub name: String,
}

impl From<&Actor> for ActorSnapshot {
    fn from(actor: &Actor) -> Self {
        ActorSnapshot {
            id: Some(actor.id.clone()),
            name: actor.username.clone(),
        }
    }
}

/// The `prev_hash` of the first row of the chain.
const GENESIS: &str = "";

/// Serialises audit appends on PostgreSQL (SQLite's write transactions already queue),
/// so that two operators never chain two rows to the same predecessor.
const CHAIN_LOCK: i64 = 0x6d6f_6463_6f6e;

/// The canonical encoding a row's hash covers: every field, in a fixed order, as JSON
/// (object keys sorted, times to the millisecond).
#[allow(clippy::too_many_arguments)]
fn canonical(
    id: i64,
    at: &DateTime<Utc>,
    batch_id: Uuid,
    actor_id: Option<&str>,
    actor_name: &str,
    action: &str,
    target_type: &str,
    target_id: Option<&str>,
    target_label: &str,
    counts: &serde_json::Value,
    reason: Option<&str>,
    details: &serde_json::Value,
) -> String {
    serde_json::json!([
        id,
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        batch_id,
        actor_id,
        actor_name,
        action,
        target_type,
        target_id,
        target_label,
        counts,
        reason,
        details,
    ])
    .to_string()
}

/// SHA-256 over the previous row's hash and this row's canonical encoding, in hex.
fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Takes the chain's append lock until the transaction ends: an advisory lock on
/// PostgreSQL, the row of `modcon_locks` on MySQL; SQLite's `begin immediate` already
/// holds the whole database.
pub(crate) async fn lock_chain(tx: &mut Tx) -> Result<(), DataError> {
    let mut lock = Sql::raw(tx.backend());
    match tx.backend() {
        super::Backend::Postgres => {
            lock.push("select pg_advisory_xact_lock(")
                .bind(CHAIN_LOCK)
                .push(")");
        }
        super::Backend::Mysql => {
            lock.push("select name from {#modcon_locks} where name = 'audit_chain' for update");
        }
        super::Backend::Sqlite => return Ok(()),
    }
    tx.fetch_all_sql(&lock).await?;
    Ok(())
}

/// The last row of the chain (id and hash), read after taking the append lock.
async fn chain_head(tx: &mut Tx) -> Result<(i64, String), DataError> {
    lock_chain(tx).await?;
    let mut q = Sql::raw(tx.backend());
    q.push("select id, hash from {#modcon_audit_log} order by id desc limit 1");
    Ok(match tx.fetch_optional_sql(&q).await? {
        Some(row) => (row.int("id")?, row.opt_text("hash")?.unwrap_or_default()),
        None => (0, GENESIS.to_string()),
    })
}

/// Appends `rows` under one batch id, in one statement, each chained to the row before.
pub(crate) async fn write(
    tx: &mut Tx,
    batch_id: Uuid,
    actor: impl Into<ActorSnapshot>,
    reason: Option<&Reason>,
    rows: &[AuditRow],
) -> Result<(), DataError> {
    if rows.is_empty() {
        return Ok(());
    }
    let actor = actor.into();
    let actor_id = actor.id.as_ref().map(Id::to_string);
    let reason = reason.map(|r| r.as_str().to_string());
    // Milliseconds: what both backends store exactly, so the hash can be checked later.
    let now = Utc::now();
    let at = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let (mut id, mut prev_hash) = chain_head(tx).await?;
    let mut q = Sql::raw(tx.backend());
    q.push(
        "insert into {#modcon_audit_log} (id, at, batch_id, actor_id, actor_name, action, \
         target_type, target_id, target_label, counts, reason, details, prev_hash, hash) ",
    );
    if tx.backend() == super::Backend::Postgres {
        // Ids are the chain's order: modcon gives them, under the append lock.
        q.push("overriding system value ");
    }
    q.push("values ");
    for (i, row) in rows.iter().enumerate() {
        id += 1;
        let target_id = row.target_id.as_ref().map(Id::to_string);
        let label = truncate_label(&row.target_label);
        let hash = chain_hash(
            &prev_hash,
            &canonical(
                id,
                &at,
                batch_id,
                actor_id.as_deref(),
                &actor.name,
                &row.action,
                row.target_type,
                target_id.as_deref(),
                &label,
                &row.counts,
                reason.as_deref(),
                &row.details,
            ),
        );
        if i > 0 {
            q.push(", ");
        }
        q.push("(")
            .bind(id)
            .push(", ")
            .bind(at)
            .push(", ")
            .bind(batch_id)
            .push(", ")
            .bind(actor_id.clone())
            .push(", ")
            .bind(actor.name.clone())
            .push(", ")
            .bind(row.action.clone())
            .push(", ")
            .bind(row.target_type)
            .push(", ")
            .bind(target_id)
            .push(", ")
            .bind(label)
            .push(", ")
            .bind(row.counts.clone())
            .push(", ")
            .bind(reason.clone())
            .push(", ")
            .bind(row.details.clone())
            .push(", ")
            .bind(prev_hash.clone())
            .push(", ")
            .bind(hash.clone())
            .push(")");
        prev_hash = hash;
    }
    tx.execute_sql(&q).await?;
    Ok(())
}

/// What is wrong with the chain, at the first row where it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ChainBreak {
    /// The row's content no longer matches its hash.
    Changed { id: i64 },
    /// Rows before this one are gone (its predecessor's hash is not the one it kept).
    Removed { id: i64, after: i64 },
    /// The row does not follow the row before it: rows were moved.
    Reordered { id: i64 },
    /// A row without a hash: written outside modcon.
    Unchained { id: i64 },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Changed { id } => {
                write!(
                    f,
                    "row {id} was changed: its content no longer matches its hash"
                )
            }
            ChainBreak::Removed { id, after } => write!(
                f,
                "rows were removed before row {id}: it does not follow row {after}, the row \
                 before it now"
            ),
            ChainBreak::Reordered { id } => write!(
                f,
                "row {id} does not follow the row before it: rows were reordered or replaced"
            ),
            ChainBreak::Unchained { id } => {
                write!(f, "row {id} has no hash: it was written outside modcon")
            }
        }
    }
}

/// The state of the audit record's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Rows checked (up to the first break).
    pub rows: u64,
    pub broken: Option<ChainBreak>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// The chained content of a stored row, as `write` hashed it.
fn canonical_of(entry: &AuditEntry) -> String {
    canonical(
        entry.id,
        &entry.at,
        entry.batch_id,
        entry.actor_id.as_deref(),
        &entry.actor_name,
        &entry.action,
        &entry.target_type,
        entry.target_id.as_deref(),
        &entry.target_label,
        &entry.counts,
        entry.reason.as_deref(),
        &entry.details,
    )
}

const VERIFY_PAGE: i64 = 1_000;

/// Walks the chain from the first row and names the first row changed, removed or
/// reordered outside modcon. (Rows cut from the very end leave no trace in a chain;
/// the row count in the report is what to compare with an earlier one.)
pub async fn verify(db: &Db) -> Result<ChainReport, DataError> {
    let mut rows = 0u64;
    let mut previous: Option<(i64, String)> = None;
    loop {
        let mut q = Sql::raw(db.backend());
        q.push(
            "select id, at, batch_id, actor_id, actor_name, action, target_type, target_id, \
             target_label, counts, reason, details, prev_hash, hash \
             from {#modcon_audit_log} where id > ",
        )
        .bind(previous.as_ref().map(|(id, _)| *id).unwrap_or(i64::MIN))
        .push(" order by id limit ")
        .bind(VERIFY_PAGE);
        let mut tx = db.read().await?;
        let page = tx.fetch_all_sql(&q).await?;
        tx.rollback().await?;
        if page.is_empty() {
            return Ok(ChainReport { rows, broken: None });
        }
        for row in &page {
            let entry = AuditEntry::from_row(row)?;
            let (Some(prev_hash), Some(hash)) = (row.opt_text("prev_hash")?, row.opt_text("hash")?)
            else {
                return Ok(ChainReport {
                    rows,
                    broken: Some(ChainBreak::Unchained { id: entry.id }),
                });
            };
            if chain_hash(&prev_hash, &canonical_of(&entry)) != hash {
                return Ok(ChainReport {
                    rows,
                    broken: Some(ChainBreak::Changed { id: entry.id }),
                });
            }
            let expected = previous
                .as_ref()
                .map(|(_, h)| h.as_str())
                .unwrap_or(GENESIS);
            if prev_hash != expected {
                let broken = match &previous {
                    Some((before, _)) if *before != entry.id - 1 => ChainBreak::Removed {
                        id: entry.id,
                        after: *before,
                    },
                    None if entry.id != 1 => ChainBreak::Removed {
                        id: entry.id,
                        after: 0,
                    },
                    _ => ChainBreak::Reordered { id: entry.id },
                };
                return Ok(ChainReport {
                    rows,
                    broken: Some(broken),
                });
            }
            rows += 1;
            previous = Some((entry.id, hash));
        }
    }
}

/// Chains rows written before the chain existed (an upgrade), in id order after the
/// last chained row: the one update the append-only triggers let through.
pub(crate) async fn chain_existing(db: &Db) -> Result<u64, DataError> {
    let mut tx = db.write().await?;
    let mut q = Sql::raw(tx.backend());
    q.push(
        "select id, at, batch_id, actor_id, actor_name, action, target_type, target_id, \
         target_label, counts, reason, details from {#modcon_audit_log} \
         where hash is null order by id",
    );
    let rows = tx.fetch_all_sql(&q).await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let first = rows[0].int("id")?;
    let mut q = Sql::raw(tx.backend());
    q.push("select hash from {#modcon_audit_log} where id < ")
        .bind(first)
        .push(" order by id desc limit 1");
    let mut prev_hash = match tx.fetch_optional_sql(&q).await? {
        Some(row) => row.opt_text("hash")?.unwrap_or_default(),
        None => GENESIS.to_string(),
    };
    for row in &rows {
        let entry = AuditEntry::from_row(row)?;
        let hash = chain_hash(&prev_hash, &canonical_of(&entry));
        let mut q = Sql::raw(tx.backend());
        q.push("update {#modcon_audit_log} set prev_hash = ")
            .bind(prev_hash.clone())
            .push(", hash = ")
            .bind(hash.clone())
            .push(" where id = ")
            .bind(entry.id);
        tx.execute_sql(&q).await?;
        prev_hash = hash;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// Records an operation refused for permission (SPEC §3), in its own transaction: the
/// refused change itself wrote nothing. A read-only session cannot write it; the log
/// has it then.
pub(crate) async fn record_refusal(
    db: &Db,
    actor: &Actor,
    action: &str,
    target_type: &'static str,
    ids: &[Id],
    why: &str,
) {
    let row = AuditRow {
        action: format!("{action}.refused"),
        target_type,
        target_id: (ids.len() == 1).then(|| ids[0].clone()),
        target_label: format!("{} refused", ids.len()),
        counts: serde_json::json!({}),
        details: serde_json::json!({ "requested_ids": ids, "reason": why }),
    };
    let written = async {
        let mut tx = db.write().await?;
        write(&mut tx, Uuid::new_v4(), actor, None, &[row]).await?;
        tx.commit().await
    }
    .await;
    if let Err(error) = written {
        tracing::warn!(operator = %actor.username, action, error = %error, "a refused operation could not be audited");
    }
}

/// Labels are for recognising a target in a list, not for keeping its content.
const MAX_LABEL_CHARS: usize = 200;

fn truncate_label(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_string()
    } else {
        let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// A row of the audit log as read back. Text fields are raw: sanitise to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub batch_id: Uuid,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub target_label: String,
    pub counts: serde_json::Value,
    pub reason: Option<String>,
    pub details: serde_json::Value,
}

impl AuditEntry {
    fn from_row(row: &Row) -> Result<Self, DataError> {
        Ok(AuditEntry {
            id: row.int("id")?,
            at: row.time("at")?,
            batch_id: row.uuid("batch_id")?,
            actor_id: row.opt_text("actor_id")?,
            actor_name: row.text("actor_name")?,
            action: row.text("action")?,
            target_type: row.text("target_type")?,
            target_id: row.opt_text("target_id")?,
            target_label: row.text("target_label")?,
            // A row whose JSON was damaged outside modcon still lists: shown as it is.
            counts: row
                .json("counts")
                .unwrap_or_else(|_| lossy_json(row, "counts")),
            reason: row.opt_text("reason")?,
            details: row
                .json("details")
                .unwrap_or_else(|_| lossy_json(row, "details")),
        })
    }
}

fn lossy_json(row: &Row, column: &str) -> serde_json::Value {
    row.opt_text(column)
        .ok()
        .flatten()
        .map(serde_json::Value::String)
        .unwrap_or(serde_json::Value::Null)
}

/// Filters for the audit listing; each is a literal, case-insensitive substring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Matches the actor, the action or the target.
    pub text: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Matches the target's label, type or id.
    pub target: Option<String>,
    pub batch_id: Option<Uuid>,
}

/// The columns the audit list sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AuditSort {
    At,
    Actor,
    Action,
}

impl SortKey for AuditSort {
    const ALL: &'static [Self] = &[AuditSort::At, AuditSort::Actor, AuditSort::Action];

    fn default_descending(self) -> bool {
        matches!(self, AuditSort::At)
    }

    fn label(self) -> &'static str {
        match self {
            AuditSort::At => "At",
            AuditSort::Actor => "Actor",
            AuditSort::Action => "Action",
        }
    }
}

/// The conditions of an audit filter.
fn audit_filter(q: &mut Sql<'_>, filter: &AuditFilter) {
    if let Some(text) = filter.text.as_deref().filter(|s| !s.is_empty()) {
        let pattern = like_pattern(text);
        q.push(" and (lower(actor_name) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(action) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(target_label) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(coalesce(reason, '')) like ")
            .bind(pattern)
            .push(" escape '\\')");
    }
    if let Some(actor) = filter.actor.as_deref().filter(|s| !s.is_empty()) {
        q.push(" and lower(actor_name) like ")
            .bind(like_pattern(actor))
            .push(" escape '\\'");
    }
    if let Some(action) = filter.action.as_deref().filter(|s| !s.is_empty()) {
        q.push(" and lower(action) like ")
            .bind(like_pattern(action))
            .push(" escape '\\'");
    }
    if let Some(target) = filter.target.as_deref().filter(|s| !s.is_empty()) {
        let pattern = like_pattern(target);
        q.push(" and (lower(target_label) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(target_type) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(coalesce(target_id, '')) like ")
            .bind(pattern)
            .push(" escape '\\')");
    }
    if let Some(batch) = filter.batch_id {
        q.push(" and batch_id = ").bind(batch);
    }
}

/// Newest first, keyset-paged by id.
pub async fn list_audit(
    db: &Db,
    filter: &AuditFilter,
    before_id: Option<i64>,
    limit: usize,
) -> Result<Page<AuditEntry, i64>, DataError> {
    let seek = Seek::from(before_id.map(|id| SortCursor {
        value: SortValue::Int(id),
        id: Id::Int(id),
    }));
    let page = list_audit_sorted(db, filter, Order::default(), &seek, limit).await?;
    Ok(Page {
        rows: page.rows,
        next: page.next.map(|c| match c.id {
            Id::Int(id) => id,
            _ => 0,
        }),
    })
}

/// The audit record in any order, from either end; ties break by id.
pub async fn list_audit_sorted(
    db: &Db,
    filter: &AuditFilter,
    order: Order<AuditSort>,
    seek: &Seek<SortCursor>,
    limit: usize,
) -> Result<Page<AuditEntry, SortCursor>, DataError> {
    let (key, kind) = match order.key {
        AuditSort::At => ("id", ValueKind::Int),
        AuditSort::Actor => ("lower(actor_name)", ValueKind::Text),
        AuditSort::Action => ("action", ValueKind::Text),
    };
    let mut q = Sql::raw(db.backend());
    q.push(
        "select id, at, batch_id, actor_id, actor_name, action, target_type, target_id, \
         target_label, counts, reason, details, ",
    )
    .push(key)
    .push(" as sort_key from {#modcon_audit_log} where 1 = 1");
    audit_filter(&mut q, filter);
    let tie = TieId::Kind(super::IdKind::BigInt);
    seek_condition(&mut q, key, "id", tie, order.descending, seek);
    seek_order(&mut q, key, "id", order.descending, seek.backwards(), limit);
    let mut tx = db.read().await?;
    let rows = tx.fetch_all_sql(&q).await?;
    tx.rollback().await?;
    let entries = rows
        .iter()
        .map(|r| {
            let entry = AuditEntry::from_row(r)?;
            let cursor = SortCursor {
                value: kind.read(r, "sort_key")?,
                id: Id::Int(entry.id),
            };
            Ok((entry, cursor))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(seek_page(entries, limit, seek.backwards()))
}

/// How many audit rows match the filter.
pub async fn count_audit(db: &Db, filter: &AuditFilter) -> Result<i64, DataError> {
    let mut q = Sql::raw(db.backend());
    q.push("select count(*) as n from {#modcon_audit_log} where 1 = 1");
    audit_filter(&mut q, filter);
    let mut tx = db.read().await?;
    let rows = tx.fetch_all_sql(&q).await?;
    tx.rollback().await?;
    rows.first().map(|r| r.int("n")).unwrap_or(Ok(0))
}

/// Audit rows newer than `after_id`, oldest first, at most `limit`: what a pane that
/// is already showing the record lacks.
pub async fn audit_since(
    db: &Db,
    filter: &AuditFilter,
    after_id: i64,
    limit: usize,
) -> Result<Vec<AuditEntry>, DataError> {
    let mut q = Sql::raw(db.backend());
    q.push(
        "select id, at, batch_id, actor_id, actor_name, action, target_type, target_id, \
         target_label, counts, reason, details from {#modcon_audit_log} where id > ",
    )
    .bind(after_id);
    audit_filter(&mut q, filter);
    q.push(" order by id limit ").bind(limit as i64);
    let mut tx = db.read().await?;
    let rows = tx.fetch_all_sql(&q).await?;
    tx.rollback().await?;
    rows.iter().map(AuditEntry::from_row).collect()
}
