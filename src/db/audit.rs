//! The append-only audit record (SPEC §2, §4.4), in modcon's own table
//! `modcon_audit_log`. Rows are written in the transaction of the change they describe;
//! the table's triggers refuse UPDATE and DELETE. Ids of every kind are kept as text.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::ids::Reason;
use super::lists::{Page, like_pattern};
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
    let actor_id = actor.id.as_ref().map(Id::to_string);
    let mut q = Sql::raw(tx.backend());
    q.push(
        "insert into {#modcon_audit_log} (batch_id, actor_id, actor_name, action, target_type, \
         target_id, target_label, counts, reason, details) values ",
    );
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(")
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
            .bind(row.target_id.as_ref().map(Id::to_string))
            .push(", ")
            .bind(truncate_label(&row.target_label))
            .push(", ")
            .bind(row.counts.clone())
            .push(", ")
            .bind(reason.map(|r| r.as_str().to_string()))
            .push(", ")
            .bind(row.details.clone())
            .push(")");
    }
    tx.execute_sql(&q).await?;
    Ok(())
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

/// Newest first, keyset-paged by id.
pub async fn list_audit(
    db: &Db,
    filter: &AuditFilter,
    before_id: Option<i64>,
    limit: usize,
) -> Result<Page<AuditEntry, i64>, DataError> {
    let mut q = Sql::raw(db.backend());
    q.push(
        "select id, at, batch_id, actor_id, actor_name, action, target_type, target_id, \
         target_label, counts, reason, details from {#modcon_audit_log} where 1 = 1",
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
    q.push(" order by id desc limit ").bind(limit as i64 + 1);
    let mut tx = db.read().await?;
    let rows = tx.fetch_all_sql(&q).await?;
    tx.rollback().await?;
    let entries = rows
        .iter()
        .map(AuditEntry::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(entries, limit, |e| e.id))
}
