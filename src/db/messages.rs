//! Private messages: delete any (admin and moderator), keeping the text in the audit row.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ids::TargetIds;
use super::plan::{PlannedTarget, Refusal, RowCounts, Table, excerpt, fetch_targets};
use super::sql::args;
use super::{DataError, Db, Tx};

pub(crate) async fn plan_delete(
    tx: &mut Tx,
    ids: &TargetIds,
) -> Result<(Vec<PlannedTarget>, Vec<Refusal>), DataError> {
    let (rows, refused) = fetch_targets(
        tx,
        "select p.id, p.sender_id, p.recipient_id, p.content, p.created_at, \
         su.username as sender, ru.username as recipient from messages p \
         left join users su on su.id = p.sender_id \
         left join users ru on ru.id = p.recipient_id where p.id in ({ids})",
        ids,
    )
    .await?;
    let targets = rows
        .iter()
        .map(|r| {
            let content = r.text("content")?;
            let sender = r.opt_text("sender")?;
            let recipient = r.opt_text("recipient")?;
            Ok(PlannedTarget {
                id: r.uuid("id")?,
                label: format!(
                    "{} → {}: {}",
                    sender.as_deref().unwrap_or("deleted user"),
                    recipient.as_deref().unwrap_or("deleted user"),
                    excerpt(&content, 80)
                ),
                counts: RowCounts::new().with(Table::Messages, 1),
                kept: RowCounts::new(),
                new_owner: None,
                snapshot: serde_json::json!({
                    "sender_id": r.opt_uuid("sender_id")?,
                    "sender": sender,
                    "recipient_id": r.opt_uuid("recipient_id")?,
                    "recipient": recipient,
                    "created_at": r.time("created_at")?,
                    "content": content,
                }),
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}

/// A private message in full, for its detail view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrivateMessageDetail {
    pub id: Uuid,
    pub sender_name: Option<String>,
    pub recipient_name: Option<String>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

pub async fn private_message(db: &Db, id: Uuid) -> Result<Option<PrivateMessageDetail>, DataError> {
    let mut tx = db.read().await?;
    let row = tx
        .fetch_optional(
            "select p.id, su.username as sender, ru.username as recipient, p.content, \
             p.created_at, p.read_at from messages p \
             left join users su on su.id = p.sender_id \
             left join users ru on ru.id = p.recipient_id where p.id = $1",
            &args![id],
        )
        .await?;
    tx.rollback().await?;
    row.map(|r| {
        Ok(PrivateMessageDetail {
            id: r.uuid("id")?,
            sender_name: r.opt_text("sender")?,
            recipient_name: r.opt_text("recipient")?,
            content: r.text("content")?,
            created_at: r.time("created_at")?,
            read_at: r.opt_time("read_at")?,
        })
    })
    .transpose()
}
