//! Chat sessions and their messages: delete (admin), orphan repair (admin, SPEC §4.9),
//! delete single chat messages (admin and moderator).

use chrono::Utc;

use super::ids::TargetIds;
use super::model::{Described, FailReason, Plan, Refusal, excerpt, fetch_targets};
use super::schema::Entity;
use super::{DataError, Db, Id, Schema, Sql, Tx};

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

/// Who wrote a chat message, for a label: the author, or for a message with none, its
/// role (an assistant's reply has no author); only a user's message whose author is
/// gone is by "deleted user".
pub fn author_label(author: Option<&str>, role: &str) -> String {
    match author {
        Some(author) => author.to_string(),
        None if matches!(role, "assistant" | "system" | "tool") => role.to_string(),
        None => "deleted user".to_string(),
    }
}

pub(crate) async fn describe_sessions(
    tx: &mut Tx,
    schema: &Schema,
    ids: &TargetIds,
) -> Result<(Vec<Described>, Vec<Refusal>), DataError> {
    let mut q = Sql::new(schema);
    q.alias("s", Entity::ChatSessions).alias("u", Entity::Users);
    q.push(
        "select {s.id} as id, {s.title|''} as title, {s.model|''} as model, \
         {s.owner} as user_id, {s.guild|null} as guild_id, {u.username} as owner \
         from {@chat_sessions} s left join {@users} u on {u.id} = {s.owner} where {s.id} in (",
    )
    .bind_ids(schema.id_kind(Entity::ChatSessions), ids.as_slice())
    .push(")");
    let (rows, refused) = fetch_targets(tx, &q, ids).await?;
    let targets = rows
        .iter()
        .map(|r| {
            let title = r.opt_text("title")?.unwrap_or_default();
            let owner = r.opt_text("owner")?;
            Ok(Described::new(
                r.id("id")?,
                session_label(&title, owner.as_deref()),
                serde_json::json!({
                    "title": title,
                    "model": r.opt_text("model")?.unwrap_or_default(),
                    "owner_id": r.opt_id("user_id")?,
                    "owner": owner,
                    "guild_id": r.opt_id("guild_id")?,
                }),
            ))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}

/// `(select <what> from the first message of s with a known author …)`.
fn first_author(q: &mut Sql<'_>, schema: &Schema, what: &str) {
    q.push("(select ").push(what).push(
        " from {@chat_messages} m join {@users} a on {a.id} = {m.author} \
             where {m.session} = {s.id}",
    );
    if schema.has(Entity::ChatMessages, "role") {
        q.push(" and {m.role} = 'user'");
    }
    q.push(" order by {m.created_at}, {m.id} limit 1)");
}

/// A session is repaired from the author of its first user message whose account still
/// exists; the plan says which sessions can and cannot be repaired.
pub(crate) async fn describe_orphan_repair(
    tx: &mut Tx,
    schema: &Schema,
    ids: &TargetIds,
) -> Result<(Vec<Described>, Vec<Refusal>), DataError> {
    if !schema.has(Entity::ChatMessages, "author") {
        return Err(DataError::invalid(
            "orphaned sessions cannot be repaired: the schema map names no author column \
             for chat messages",
        ));
    }
    let mut q = Sql::new(schema);
    q.alias("s", Entity::ChatSessions)
        .alias("m", Entity::ChatMessages)
        .alias("a", Entity::Users);
    q.push("select {s.id} as id, {s.title|''} as title, {s.owner} as user_id, ");
    first_author(&mut q, schema, "{m.author}");
    q.push(" as first_author_id, ");
    first_author(&mut q, schema, "{a.username}");
    q.push(" as first_author from {@chat_sessions} s where {s.id} in (")
        .bind_ids(schema.id_kind(Entity::ChatSessions), ids.as_slice())
        .push(")");
    let (rows, mut refused) = fetch_targets(tx, &q, ids).await?;
    let mut targets = Vec::new();
    for r in &rows {
        let id = r.id("id")?;
        let title = r.opt_text("title")?.unwrap_or_default();
        if r.opt_id("user_id")?.is_some() {
            refused.push(Refusal {
                id,
                label: Some(session_label(&title, Some("owned"))),
                reason: FailReason::NotOrphaned,
            });
            continue;
        }
        match (r.opt_id("first_author_id")?, r.opt_text("first_author")?) {
            (Some(owner_id), Some(owner)) => {
                let mut target = Described::new(
                    id,
                    session_label(&title, None),
                    serde_json::json!({ "title": title, "old_owner_id": null }),
                );
                target.new_owner = Some((owner_id, owner));
                targets.push(target);
            }
            _ => refused.push(Refusal {
                id,
                label: Some(session_label(&title, None)),
                reason: FailReason::NoKnownAuthor,
            }),
        }
    }
    Ok((targets, refused))
}

pub(crate) async fn apply_orphan_repair(
    tx: &mut Tx,
    schema: &Schema,
    plan: &Plan,
) -> Result<(), DataError> {
    let now = Utc::now();
    let users = schema.id_kind(Entity::Users);
    let sessions = schema.id_kind(Entity::ChatSessions);
    for target in &plan.targets {
        let Some((owner_id, _)) = &target.new_owner else {
            return Err(DataError::Internal("a repair target without a new owner"));
        };
        let mut q = Sql::new(schema);
        q.alias("s", Entity::ChatSessions)
            .push("update {@chat_sessions} set ");
        column(&mut q, schema, "owner");
        q.push(" = ").bind_id(users, owner_id);
        if let Some(updated) = schema.column(Entity::ChatSessions, "updated_at") {
            q.push(", ").ident(&updated.name).push(" = ").bind(now);
        }
        q.push(" where ");
        column(&mut q, schema, "id");
        q.push(" = ").bind_id(sessions, &target.id).push(" and ");
        column(&mut q, schema, "owner");
        q.push(" is null");
        if tx.execute_sql(&q).await? != 1 {
            return Err(DataError::Internal(
                "an orphaned session changed under its lock",
            ));
        }
    }
    Ok(())
}

fn column(q: &mut Sql<'_>, schema: &Schema, key: &str) {
    match schema.column(Entity::ChatSessions, key) {
        Some(c) => q.ident(&c.name),
        None => q.push(&format!("{{missing.{key}}}")),
    };
}

/// `select` of chat messages with their author and session title, aliased m, u, s.
fn select_chat_messages(q: &mut Sql<'_>) {
    q.alias("m", Entity::ChatMessages)
        .alias("u", Entity::Users)
        .alias("s", Entity::ChatSessions)
        .push(
            "select {m.id} as id, {m.session} as session_id, {m.author|null} as author_id, \
             {m.role|''} as role, {m.content} as content, {m.created_at} as created_at, \
             {u.username} as author, {s.title|''} as title from {@chat_messages} m \
             join {@chat_sessions} s on {s.id} = {m.session} \
             left join {@users} u on {u.id} = {m.author|null} where ",
        );
}

pub(crate) async fn describe_chat_messages(
    tx: &mut Tx,
    schema: &Schema,
    ids: &TargetIds,
) -> Result<(Vec<Described>, Vec<Refusal>), DataError> {
    let mut q = Sql::new(schema);
    select_chat_messages(&mut q);
    q.push("{m.id} in (")
        .bind_ids(schema.id_kind(Entity::ChatMessages), ids.as_slice())
        .push(")");
    let (rows, refused) = fetch_targets(tx, &q, ids).await?;
    let targets = rows
        .iter()
        .map(|r| {
            let content = r.text("content")?;
            let author = r.opt_text("author")?;
            let role = r.opt_text("role")?.unwrap_or_default();
            Ok(Described::new(
                r.id("id")?,
                format!(
                    "{}: {}",
                    author_label(author.as_deref(), &role),
                    excerpt(&content, 80)
                ),
                serde_json::json!({
                    "session_id": r.id("session_id")?,
                    "session_title": r.opt_text("title")?.unwrap_or_default(),
                    "author_id": r.opt_id("author_id")?,
                    "author": author,
                    "role": role,
                    "created_at": r.time("created_at")?,
                    "content": content,
                }),
            ))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}

/// A chat message in full, for its detail view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChatMessageDetail {
    pub id: Id,
    pub session_id: Id,
    pub author_name: Option<String>,
    pub role: String,
    pub content: String,
    pub created_at: chrono::DateTime<Utc>,
}

pub async fn chat_message(db: &Db, id: &Id) -> Result<Option<ChatMessageDetail>, DataError> {
    let schema = db.schema()?;
    let mut q = Sql::new(schema);
    select_chat_messages(&mut q);
    q.push("{m.id} = ")
        .bind_id(schema.id_kind(Entity::ChatMessages), id);
    let mut tx = db.read().await?;
    let row = tx.fetch_optional_sql(&q).await?;
    tx.rollback().await?;
    row.map(|r| {
        Ok(ChatMessageDetail {
            id: r.id("id")?,
            session_id: r.id("session_id")?,
            author_name: r.opt_text("author")?,
            role: r.opt_text("role")?.unwrap_or_default(),
            content: r.text("content")?,
            created_at: r.time("created_at")?,
        })
    })
    .transpose()
}
