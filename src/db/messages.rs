//! Private messages: delete any (admin and moderator), keeping the text in the audit row.

use chrono::{DateTime, Utc};

use super::ids::TargetIds;
use super::model::{Described, Refusal, excerpt, fetch_targets};
use super::schema::Entity;
use super::{DataError, Db, Id, Schema, Sql, Tx};

/// `select` of private messages with sender and recipient names, aliased p, su, ru.
fn select_messages(q: &mut Sql<'_>) {
    q.alias("p", Entity::Messages)
        .alias("su", Entity::Users)
        .alias("ru", Entity::Users)
        .push(
            "select {p.id} as id, {p.sender} as sender_id, {p.recipient} as recipient_id, \
             {p.content} as content, {p.created_at} as created_at, {p.read_at|null} as read_at, \
             {su.username} as sender, {ru.username} as recipient from {@messages} p \
             left join {@users} su on {su.id} = {p.sender} \
             left join {@users} ru on {ru.id} = {p.recipient} where ",
        );
}

pub(crate) async fn describe(
    tx: &mut Tx,
    schema: &Schema,
    ids: &TargetIds,
) -> Result<(Vec<Described>, Vec<Refusal>), DataError> {
    let mut q = Sql::new(schema);
    select_messages(&mut q);
    q.push("{p.id} in (")
        .bind_ids(schema.id_kind(Entity::Messages), ids.as_slice())
        .push(")");
    let (rows, refused) = fetch_targets(tx, &q, ids).await?;
    let targets = rows
        .iter()
        .map(|r| {
            let content = r.text("content")?;
            let sender = r.opt_text("sender")?;
            let recipient = r.opt_text("recipient")?;
            Ok(Described::new(
                r.id("id")?,
                format!(
                    "{} → {}: {}",
                    sender.as_deref().unwrap_or("deleted user"),
                    recipient.as_deref().unwrap_or("deleted user"),
                    excerpt(&content, 80)
                ),
                serde_json::json!({
                    "sender_id": r.opt_id("sender_id")?,
                    "sender": sender,
                    "recipient_id": r.opt_id("recipient_id")?,
                    "recipient": recipient,
                    "created_at": r.time("created_at")?,
                    "content": content,
                }),
            ))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}

/// A private message in full, for its detail view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrivateMessageDetail {
    pub id: Id,
    pub sender_name: Option<String>,
    pub recipient_name: Option<String>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

pub async fn private_message(db: &Db, id: &Id) -> Result<Option<PrivateMessageDetail>, DataError> {
    let schema = db.schema()?;
    let mut q = Sql::new(schema);
    select_messages(&mut q);
    q.push("{p.id} = ")
        .bind_id(schema.id_kind(Entity::Messages), id);
    let mut tx = db.read().await?;
    let row = tx.fetch_optional_sql(&q).await?;
    tx.rollback().await?;
    row.map(|r| {
        Ok(PrivateMessageDetail {
            id: r.id("id")?,
            sender_name: r.opt_text("sender")?,
            recipient_name: r.opt_text("recipient")?,
            content: r.text("content")?,
            created_at: r.time("created_at")?,
            read_at: r.opt_time("read_at")?,
        })
    })
    .transpose()
}
