//! The append-only audit record (SPEC §2, §4.4). Rows are written in the transaction of
//! the change they describe; the schema's triggers refuse UPDATE and DELETE.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::ids::Reason;
use super::lists::{Page, like_pattern};
use super::sql::{Arg, args, built, placeholders};
use super::{Actor, DataError, Db, Row, Tx};

/// One row to append. Labels are snapshots: they outlive the target.
#[derive(Debug, Clone)]
pub(crate) struct AuditRow {
    pub action: String,
    pub target_type: &'static str,
    pub target_id: Option<Uuid>,
    pub target_label: String,
    pub counts: serde_json::Value,
    pub details: serde_json::Value,
}

/// Who an audit row names as the actor.
#[derive(Debug, Clone)]
pub(crate) struct ActorSnapshot {
    pub id: Option<Uuid>,
    pub name: String,
}

impl From<&Actor> for ActorSnapshot {
    fn from(actor: &Actor) -> Self {
        ActorSnapshot {
            id: Some(actor.id),
            name: actor.username.clone(),
        }
    }
}

const COLUMNS_PER_ROW: usize = 9;

/// Appends `rows` under one batch id, in one statement.
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
    let mut sql = String::from(
        "insert into audit_log (batch_id, actor_id, actor_name, action, target_type, \
         target_id, target_label, counts, reason, details) values ",
    );
    let mut binds: Vec<Arg> = Vec::with_capacity(rows.len() * COLUMNS_PER_ROW + 1);
    binds.push(Arg::Uuid(batch_id));
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let first = binds.len() + 1;
        sql.push_str("($1, ");
        sql.push_str(&placeholders(first, COLUMNS_PER_ROW));
        sql.push(')');
        binds.extend(args![
            actor.id,
            actor.name.clone(),
            row.action.clone(),
            row.target_type,
            row.target_id,
            truncate_label(&row.target_label),
            row.counts.clone(),
            reason.map(|r| r.as_str().to_string()),
            row.details.clone(),
        ]);
    }
    tx.execute(built(sql), &binds).await?;
    Ok(())
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
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
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
            actor_id: row.opt_uuid("actor_id")?,
            actor_name: row.text("actor_name")?,
            action: row.text("action")?,
            target_type: row.text("target_type")?,
            target_id: row.opt_uuid("target_id")?,
            target_label: row.text("target_label")?,
            counts: row.json("counts")?,
            reason: row.opt_text("reason")?,
            details: row.json("details")?,
        })
    }
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

/// Newest first, keyset-paged by id.
pub async fn list_audit(
    db: &Db,
    filter: &AuditFilter,
    before_id: Option<i64>,
    limit: usize,
) -> Result<Page<AuditEntry, i64>, DataError> {
    let mut q = super::lists::SqlBuilder::new(
        "select id, at, batch_id, actor_id, actor_name, action, target_type, target_id, \
         target_label, counts, reason, details from audit_log where 1 = 1",
    );
    if let Some(before) = before_id {
        q.push(" and id < ").bind(before);
    }
    if let Some(text) = filter.text.as_deref().filter(|s| !s.is_empty()) {
        let pattern = like_pattern(text);
        q.push(" and (lower(actor_name) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(action) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(target_label) like ")
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
            .push(" escape '\\' or lower(cast(target_id as text)) like ")
            .bind(pattern)
            .push(" escape '\\')");
    }
    if let Some(batch) = filter.batch_id {
        q.push(" and batch_id = ").bind(batch);
    }
    q.push(" order by id desc limit ").bind(limit as i64 + 1);
    let mut tx = db.read().await?;
    let rows = q.fetch_all(&mut tx).await?;
    tx.rollback().await?;
    let entries = rows
        .iter()
        .map(AuditEntry::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(entries, limit, |e| e.id))
}
