//! Comments and reviews on books: edited in place with an optimistic version check
//! (SPEC §4.8), deleted one or many; the audit keeps the old text. Where the platform
//! has no version column, the version is a fingerprint of the stored text, so a
//! concurrent edit is still caught.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::audit::{self, AuditRow};
use super::ids::{Reason, TargetIds};
use super::model::{Described, Refusal, RowCounts, excerpt, fetch_targets};
use super::schema::Entity;
use super::{Actor, Backend, DataError, Db, Id, Permission, Row, Schema, Sql, Tx};

/// The longest comment or review text an edit may save, in characters.
pub const MAX_CONTENT_CHARS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    Comment,
    Review,
}

impl ContentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Comment => "comment",
            ContentKind::Review => "review",
        }
    }

    pub fn entity(self) -> Entity {
        match self {
            ContentKind::Comment => Entity::Comments,
            ContentKind::Review => Entity::Reviews,
        }
    }
}

/// `select` of one kind's rows with book and author, aliased c, b and u; the caller adds
/// the `where`.
fn select_items(q: &mut Sql<'_>, schema: &Schema, kind: ContentKind) {
    let entity = kind.entity();
    let with_book = schema.has(entity, "book") && schema.is_enabled(Entity::Books);
    q.alias("c", entity).alias("u", Entity::Users);
    if with_book {
        q.alias("b", Entity::Books);
    }
    q.push(
        "select {c.id} as id, {c.book|null} as book_id, {c.author} as user_id, \
         {u.username} as username, {c.content} as content, ",
    );
    if kind == ContentKind::Review {
        q.push("{c.rating} as rating, ");
    } else {
        q.push("cast(null as {int}) as rating, ");
    }
    q.push("{c.version|null} as version, ");
    if schema.has(entity, "updated_at") {
        q.push("coalesce({c.updated_at}, {c.created_at}) as updated_at, ");
    } else {
        q.push("{c.created_at} as updated_at, ");
    }
    if with_book {
        q.push("{b.title} as title");
    } else {
        q.push("'' as title");
    }
    q.push(&format!(" from {{@{}}} c", entity.name()));
    if with_book {
        q.push(" left join {@books} b on {b.id} = {c.book}");
    }
    q.push(" left join {@users} u on {u.id} = {c.author} where ");
}

pub(crate) async fn describe(
    tx: &mut Tx,
    schema: &Schema,
    kind: ContentKind,
    ids: &TargetIds,
) -> Result<(Vec<Described>, Vec<Refusal>), DataError> {
    let mut q = Sql::new(schema);
    select_items(&mut q, schema, kind);
    q.push("{c.id} in (")
        .bind_ids(schema.id_kind(kind.entity()), ids.as_slice())
        .push(")");
    let (rows, refused) = fetch_targets(tx, &q, ids).await?;
    let targets = rows
        .iter()
        .map(|r| {
            let item = item_from_row(kind, r)?;
            Ok(Described::new(
                item.id.clone(),
                format!(
                    "{} on «{}»: {}",
                    item.author_name.as_deref().unwrap_or("deleted user"),
                    excerpt(&item.book_title, 40),
                    excerpt(&item.content, 60)
                ),
                serde_json::json!({
                    "book_id": item.book_id,
                    "book": item.book_title,
                    "author_id": item.author_id,
                    "author": item.author_name,
                    "rating": item.rating,
                    "version": item.version,
                    "content": item.content,
                }),
            ))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}

/// A comment or review in full, as loaded for editing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentItem {
    pub kind: ContentKind,
    pub id: Id,
    pub book_id: Option<Id>,
    pub book_title: String,
    pub author_id: Option<Id>,
    pub author_name: Option<String>,
    pub rating: Option<i64>,
    pub content: String,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// The version an edit is checked against: the version column, or where the platform
/// has none, a fingerprint of the stored text and rating.
fn fingerprint(content: &str, rating: Option<i64>) -> i64 {
    // FNV-1a: stable across runs and builds, unlike the standard hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in content.bytes().chain(rating.unwrap_or(0).to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash >> 1) as i64
}

fn item_from_row(kind: ContentKind, r: &Row) -> Result<ContentItem, DataError> {
    let content = r.text("content")?;
    let rating = r.opt_int("rating")?;
    Ok(ContentItem {
        kind,
        id: r.id("id")?,
        book_id: r.opt_id("book_id")?,
        book_title: r.text("title")?,
        author_id: r.opt_id("user_id")?,
        author_name: r.opt_text("username")?,
        rating,
        version: match r.opt_int("version")? {
            Some(version) => version,
            None => fingerprint(&content, rating),
        },
        content,
        updated_at: r.time("updated_at")?,
    })
}

fn item_query<'s>(schema: &'s Schema, kind: ContentKind, id: &Id, lock: bool) -> Sql<'s> {
    let mut q = Sql::new(schema);
    select_items(&mut q, schema, kind);
    q.push("{c.id} = ")
        .bind_id(schema.id_kind(kind.entity()), id);
    if lock {
        match schema.backend {
            Backend::Postgres => {
                q.push(" for update of c");
            }
            Backend::Mysql => {
                q.push(" for update");
            }
            Backend::Sqlite => {}
        }
    }
    q
}

/// Loads a comment or review in full (for the editor).
pub async fn content_item(
    db: &Db,
    kind: ContentKind,
    id: &Id,
) -> Result<Option<ContentItem>, DataError> {
    let schema = db.schema()?;
    let mut tx = db.read().await?;
    // A read-only session cannot take a row lock: read without `for update`.
    let row = tx
        .fetch_optional_sql(&item_query(schema, kind, id, false))
        .await?;
    tx.rollback().await?;
    row.map(|r| item_from_row(kind, &r)).transpose()
}

/// An operator's edit of a comment or review, made against the version they loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentEdit {
    pub kind: ContentKind,
    pub id: Id,
    pub expected_version: i64,
    pub text: String,
    /// A review's new rating (1–5); `None` keeps it.
    pub rating: Option<i64>,
    pub reason: Option<Reason>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EditOutcome {
    Saved {
        version: i64,
        batch_id: Uuid,
    },
    /// Text and rating are what is stored already; nothing was written.
    Unchanged {
        version: i64,
    },
    /// Someone else saved first: nothing was overwritten. Both texts are here.
    Conflict {
        current: ContentItem,
        yours: String,
    },
    /// The item was deleted meanwhile; the operator's text is handed back.
    Gone {
        yours: String,
    },
}

fn validate(edit: &ContentEdit) -> Result<(), DataError> {
    let chars = edit.text.chars().count();
    if edit.text.trim().is_empty() {
        return Err(DataError::invalid(format!(
            "the new {} text is empty; delete it instead",
            edit.kind.as_str()
        )));
    }
    if chars > MAX_CONTENT_CHARS {
        return Err(DataError::invalid(format!(
            "the new {} text is {chars} characters; at most {MAX_CONTENT_CHARS} are allowed",
            edit.kind.as_str()
        )));
    }
    match (edit.kind, edit.rating) {
        (ContentKind::Comment, Some(_)) => Err(DataError::invalid(
            "comments have no rating; only reviews do",
        )),
        (ContentKind::Review, Some(r)) if !(1..=5).contains(&r) => {
            Err(DataError::invalid(format!("a rating is 1 to 5, not {r}")))
        }
        _ => Ok(()),
    }
}

/// Saves an edit if nobody changed the item since `expected_version`; otherwise changes
/// nothing and returns both texts.
pub async fn edit(db: &Db, actor: &Actor, edit: &ContentEdit) -> Result<EditOutcome, DataError> {
    let result = edit_checked(db, actor, edit).await;
    if let Err(DataError::Forbidden(why)) = &result {
        let action = format!("{}.edit", edit.kind.as_str());
        let ids = std::slice::from_ref(&edit.id);
        audit::record_refusal(db, actor, &action, edit.kind.as_str(), ids, why).await;
    }
    result
}

async fn edit_checked(
    db: &Db,
    actor: &Actor,
    edit: &ContentEdit,
) -> Result<EditOutcome, DataError> {
    validate(edit)?;
    actor.require(Permission::EditContent)?;
    let schema = db.schema()?;
    let entity = edit.kind.entity();
    if !schema.is_enabled(entity) {
        return Err(DataError::invalid(format!(
            "this platform has no {}s (disabled in the schema map)",
            edit.kind.as_str()
        )));
    }
    let mut tx = db.write().await?;
    actor
        .verify(&mut tx, schema, Permission::EditContent)
        .await?;
    let Some(row) = tx
        .fetch_optional_sql(&item_query(schema, edit.kind, &edit.id, true))
        .await?
    else {
        tx.rollback().await?;
        return Ok(EditOutcome::Gone {
            yours: edit.text.clone(),
        });
    };
    let current = item_from_row(edit.kind, &row)?;
    if current.version != edit.expected_version {
        tx.rollback().await?;
        return Ok(EditOutcome::Conflict {
            current,
            yours: edit.text.clone(),
        });
    }
    let new_rating = edit.rating.or(current.rating);
    if current.content == edit.text && new_rating == current.rating {
        tx.rollback().await?;
        return Ok(EditOutcome::Unchanged {
            version: current.version,
        });
    }
    let versioned = schema.has(entity, "version");
    let mut q = Sql::new(schema);
    q.alias("c", entity)
        .push(&format!("update {{@{}}} set ", entity.name()));
    // Columns unqualified in `set`: the alias is only a name for the templates here.
    set_column(&mut q, schema, entity, "content");
    q.bind(edit.text.clone());
    if edit.kind == ContentKind::Review {
        q.push(", ");
        set_column(&mut q, schema, entity, "rating");
        q.bind(new_rating.unwrap_or(1));
    }
    if versioned {
        q.push(", ");
        set_column(&mut q, schema, entity, "version");
        column(&mut q, schema, entity, "version");
        q.push(" + 1");
    }
    if schema.has(entity, "updated_at") {
        q.push(", ");
        set_column(&mut q, schema, entity, "updated_at");
        q.bind(Utc::now());
    }
    q.push(" where ");
    column(&mut q, schema, entity, "id");
    q.push(" = ").bind_id(schema.id_kind(entity), &edit.id);
    if versioned {
        q.push(" and ");
        column(&mut q, schema, entity, "version");
        q.push(" = ").bind(edit.expected_version);
    }
    let changed = tx.execute_sql(&q).await?;
    if changed != 1 {
        return Err(DataError::Internal(
            "a locked comment changed during its edit",
        ));
    }
    let batch_id = Uuid::new_v4();
    let new_version = if versioned {
        current.version + 1
    } else {
        fingerprint(&edit.text, new_rating)
    };
    let row = AuditRow {
        action: format!("{}.edit", edit.kind.as_str()),
        target_type: edit.kind.as_str(),
        target_id: Some(edit.id.clone()),
        target_label: format!(
            "{} on «{}»",
            current.author_name.as_deref().unwrap_or("deleted user"),
            excerpt(&current.book_title, 40)
        ),
        counts: RowCounts::new()
            .with(schema.table_name(entity), 1)
            .to_json(),
        details: serde_json::json!({
            "old_text": current.content,
            "new_text": edit.text,
            "old_rating": current.rating,
            "new_rating": new_rating,
            "old_version": current.version,
            "new_version": new_version,
        }),
    };
    audit::write(&mut tx, batch_id, actor, edit.reason.as_ref(), &[row]).await?;
    tx.commit().await?;
    Ok(EditOutcome::Saved {
        version: new_version,
        batch_id,
    })
}

/// `"column" = ` for a mapped key, unqualified (as `update … set` wants it).
fn set_column(q: &mut Sql<'_>, schema: &Schema, entity: Entity, key: &str) {
    column(q, schema, entity, key);
    q.push(" = ");
}

fn column(q: &mut Sql<'_>, schema: &Schema, entity: Entity, key: &str) {
    match schema.column(entity, key) {
        Some(c) => q.ident(&c.name),
        None => q.push(&format!("{{missing.{key}}}")),
    };
}
