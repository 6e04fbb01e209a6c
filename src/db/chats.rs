//! Chat sessions and their messages: delete (admin), orphan repair (admin, SPEC §4.9),
//! delete single chat messages (admin and moderator).

use chrono::Utc;
use uuid::Uuid;

use super::ids::TargetIds;
use super::plan::{
    FailReason, Plan, PlannedTarget, Refusal, RowCounts, Table, excerpt, fetch_targets,
};
use super::sql::args;
use super::{DataError, Db, Tx};

type Planned = (Vec<PlannedTarget>, Vec<Refusal>);

fn session_label(title: &str, owner: Option<&str>) -> String {
    let title = if title.is_empty() {
        "(untitled)"
    } else {
        title
    };
    match owner {
        Some(owner) => format!("{} — {owner}", excerpt(title, 80)),
        None => format!("{} — orphaned", excerpt(title, 80)),
    }
}

pub(crate) async fn plan_session_delete(
    tx: &mut Tx,
    ids: &TargetIds,
) -> Result<Planned, DataError> {
    let (rows, refused) = fetch_targets(
        tx,
        "select s.id, s.title, s.model, s.user_id, s.guild_id, u.username as owner, \
         (select count(*) from chat_messages m where m.session_id = s.id) as messages \
         from chat_sessions s left join users u on u.id = s.user_id where s.id in ({ids})",
        ids,
    )
    .await?;
    let targets = rows
        .iter()
        .map(|r| {
            let title = r.text("title")?;
            let owner = r.opt_text("owner")?;
            Ok(PlannedTarget {
                id: r.uuid("id")?,
                label: session_label(&title, owner.as_deref()),
                counts: RowCounts::new()
                    .with(Table::ChatSessions, 1)
                    .with(Table::ChatMessages, r.int("messages")?),
                kept: RowCounts::new(),
                new_owner: None,
                snapshot: serde_json::json!({
                    "title": title,
                    "model": r.text("model")?,
                    "owner_id": r.opt_uuid("user_id")?,
                    "owner": owner,
                    "guild_id": r.opt_uuid("guild_id")?,
                }),
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}

/// A session is repaired from the author of its first user message whose account still
/// exists; the plan says which sessions can and cannot be repaired.
pub(crate) async fn plan_orphan_repair(tx: &mut Tx, ids: &TargetIds) -> Result<Planned, DataError> {
    let (rows, mut refused) = fetch_targets(
        tx,
        "select s.id, s.title, s.user_id, \
         (select m.author_id from chat_messages m join users a on a.id = m.author_id \
           where m.session_id = s.id and m.role = 'user' \
           order by m.created_at, m.id limit 1) as first_author_id, \
         (select a.username from chat_messages m join users a on a.id = m.author_id \
           where m.session_id = s.id and m.role = 'user' \
           order by m.created_at, m.id limit 1) as first_author \
         from chat_sessions s where s.id in ({ids})",
        ids,
    )
    .await?;
    let mut targets = Vec::new();
    for r in &rows {
        let id = r.uuid("id")?;
        let title = r.text("title")?;
        if r.opt_uuid("user_id")?.is_some() {
            refused.push(Refusal {
                id,
                label: Some(session_label(&title, Some("owned"))),
                reason: FailReason::NotOrphaned,
            });
            continue;
        }
        match (r.opt_uuid("first_author_id")?, r.opt_text("first_author")?) {
            (Some(owner_id), Some(owner)) => targets.push(PlannedTarget {
                id,
                label: session_label(&title, None),
                counts: RowCounts::new().with(Table::ChatSessions, 1),
                kept: RowCounts::new(),
                new_owner: Some((owner_id, owner)),
                snapshot: serde_json::json!({ "title": title, "old_owner_id": null }),
            }),
            _ => refused.push(Refusal {
                id,
                label: Some(session_label(&title, None)),
                reason: FailReason::NoKnownAuthor,
            }),
        }
    }
    Ok((targets, refused))
}

pub(crate) async fn apply_orphan_repair(tx: &mut Tx, plan: &Plan) -> Result<(), DataError> {
    let now = Utc::now();
    for target in &plan.targets {
        let Some((owner_id, _)) = &target.new_owner else {
            return Err(DataError::Internal("a repair target without a new owner"));
        };
        let changed = tx
            .execute(
                "update chat_sessions set user_id = $1, updated_at = $2 \
                 where id = $3 and user_id is null",
                &args![*owner_id, now, target.id],
            )
            .await?;
        if changed != 1 {
            return Err(DataError::Internal(
                "an orphaned session changed under its lock",
            ));
        }
    }
    Ok(())
}

pub(crate) async fn plan_chat_message_delete(
    tx: &mut Tx,
    ids: &TargetIds,
) -> Result<Planned, DataError> {
    let (rows, refused) = fetch_targets(
        tx,
        "select m.id, m.session_id, m.author_id, m.role, m.content, m.created_at, \
         u.username as author, s.title from chat_messages m \
         join chat_sessions s on s.id = m.session_id \
         left join users u on u.id = m.author_id where m.id in ({ids})",
        ids,
    )
    .await?;
    let targets = rows
        .iter()
        .map(|r| {
            let content = r.text("content")?;
            let author = r.opt_text("author")?;
            Ok(PlannedTarget {
                id: r.uuid("id")?,
                label: format!(
                    "{}: {}",
                    author.as_deref().unwrap_or("deleted user"),
                    excerpt(&content, 80)
                ),
                counts: RowCounts::new().with(Table::ChatMessages, 1),
                kept: RowCounts::new(),
                new_owner: None,
                snapshot: serde_json::json!({
                    "session_id": r.uuid("session_id")?,
                    "session_title": r.text("title")?,
                    "author_id": r.opt_uuid("author_id")?,
                    "author": author,
                    "role": r.text("role")?,
                    "created_at": r.time("created_at")?,
                    "content": content,
                }),
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}

/// A chat message in full, for its detail view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChatMessageDetail {
    pub id: Uuid,
    pub session_id: Uuid,
    pub author_name: Option<String>,
    pub role: String,
    pub content: String,
    pub created_at: chrono::DateTime<Utc>,
}

pub async fn chat_message(db: &Db, id: Uuid) -> Result<Option<ChatMessageDetail>, DataError> {
    let mut tx = db.read().await?;
    let row = tx
        .fetch_optional(
            "select m.id, m.session_id, u.username, m.role, m.content, m.created_at \
             from chat_messages m left join users u on u.id = m.author_id where m.id = $1",
            &args![id],
        )
        .await?;
    tx.rollback().await?;
    row.map(|r| {
        Ok(ChatMessageDetail {
            id: r.uuid("id")?,
            session_id: r.uuid("session_id")?,
            author_name: r.opt_text("username")?,
            role: r.text("role")?,
            content: r.text("content")?,
            created_at: r.time("created_at")?,
        })
    })
    .transpose()
}
