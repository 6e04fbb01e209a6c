//! Comments and reviews on books: edited in place with an optimistic `version` check
//! (SPEC §4.8), deleted one or many; the audit keeps the old text.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::audit::{self, AuditRow};
use super::ids::{Reason, TargetIds};
use super::plan::{PlannedTarget, Refusal, RowCounts, Table, excerpt, fetch_targets};
use super::sql::args;
use super::{Actor, Backend, DataError, Db, Permission, Row, Tx};

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

    fn table(self) -> Table {
        match self {
            ContentKind::Comment => Table::Comments,
            ContentKind::Review => Table::Reviews,
        }
    }
}

pub(crate) async fn plan_delete(
    tx: &mut Tx,
    kind: ContentKind,
    ids: &TargetIds,
) -> Result<(Vec<PlannedTarget>, Vec<Refusal>), DataError> {
    let template = match kind {
        ContentKind::Comment => {
            "select c.id, c.book_id, c.user_id, c.content, cast(null as integer) as rating, \
             c.version, b.title as book, u.username as author from comments c \
             join books b on b.id = c.book_id left join users u on u.id = c.user_id \
             where c.id in ({ids})"
        }
        ContentKind::Review => {
            "select c.id, c.book_id, c.user_id, c.content, c.rating, c.version, \
             b.title as book, u.username as author from reviews c \
             join books b on b.id = c.book_id left join users u on u.id = c.user_id \
             where c.id in ({ids})"
        }
    };
    let (rows, refused) = fetch_targets(tx, template, ids).await?;
    let targets = rows
        .iter()
        .map(|r| {
            let content = r.text("content")?;
            let author = r.opt_text("author")?;
            let book = r.text("book")?;
            Ok(PlannedTarget {
                id: r.uuid("id")?,
                label: format!(
                    "{} on «{}»: {}",
                    author.as_deref().unwrap_or("deleted user"),
                    excerpt(&book, 40),
                    excerpt(&content, 60)
                ),
                counts: RowCounts::new().with(kind.table(), 1),
                kept: RowCounts::new(),
                new_owner: None,
                snapshot: serde_json::json!({
                    "book_id": r.uuid("book_id")?,
                    "book": book,
                    "author_id": r.opt_uuid("user_id")?,
                    "author": author,
                    "rating": r.opt_int("rating")?,
                    "version": r.int("version")?,
                    "content": content,
                }),
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}

/// A comment or review in full, as loaded for editing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentItem {
    pub kind: ContentKind,
    pub id: Uuid,
    pub book_id: Uuid,
    pub book_title: String,
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub rating: Option<i64>,
    pub content: String,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

fn item_sql(kind: ContentKind, backend: Backend) -> &'static str {
    match (kind, backend) {
        (ContentKind::Comment, Backend::Postgres) => {
            "select c.id, c.book_id, b.title, c.user_id, u.username, cast(null as integer) as rating, \
             c.content, c.version, c.updated_at from comments c join books b on b.id = c.book_id \
             left join users u on u.id = c.user_id where c.id = $1 for update of c"
        }
        (ContentKind::Comment, Backend::Sqlite) => {
            "select c.id, c.book_id, b.title, c.user_id, u.username, cast(null as integer) as rating, \
             c.content, c.version, c.updated_at from comments c join books b on b.id = c.book_id \
             left join users u on u.id = c.user_id where c.id = $1"
        }
        (ContentKind::Review, Backend::Postgres) => {
            "select c.id, c.book_id, b.title, c.user_id, u.username, c.rating, \
             c.content, c.version, c.updated_at from reviews c join books b on b.id = c.book_id \
             left join users u on u.id = c.user_id where c.id = $1 for update of c"
        }
        (ContentKind::Review, Backend::Sqlite) => {
            "select c.id, c.book_id, b.title, c.user_id, u.username, c.rating, \
             c.content, c.version, c.updated_at from reviews c join books b on b.id = c.book_id \
             left join users u on u.id = c.user_id where c.id = $1"
        }
    }
}

fn item_from_row(kind: ContentKind, r: &Row) -> Result<ContentItem, DataError> {
    Ok(ContentItem {
        kind,
        id: r.uuid("id")?,
        book_id: r.uuid("book_id")?,
        book_title: r.text("title")?,
        author_id: r.opt_uuid("user_id")?,
        author_name: r.opt_text("username")?,
        rating: r.opt_int("rating")?,
        content: r.text("content")?,
        version: r.int("version")?,
        updated_at: r.time("updated_at")?,
    })
}

/// Loads a comment or review in full (for the editor).
pub async fn content_item(
    db: &Db,
    kind: ContentKind,
    id: Uuid,
) -> Result<Option<ContentItem>, DataError> {
    let mut tx = db.read().await?;
    // A read transaction takes no row lock on SQLite; on PostgreSQL a read-only session
    // cannot take one either, so read without `for update` there.
    let sql = item_sql(kind, Backend::Sqlite);
    let row = tx.fetch_optional(sql, &args![id]).await?;
    tx.rollback().await?;
    row.map(|r| item_from_row(kind, &r)).transpose()
}

/// An operator's edit of a comment or review, made against the version they loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentEdit {
    pub kind: ContentKind,
    pub id: Uuid,
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
    validate(edit)?;
    actor.require(Permission::EditContent)?;
    let mut tx = db.write().await?;
    actor.verify(&mut tx, Permission::EditContent).await?;
    let sql = item_sql(edit.kind, tx.backend());
    let Some(row) = tx.fetch_optional(sql, &args![edit.id]).await? else {
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
    let now = Utc::now();
    let changed = match edit.kind {
        ContentKind::Comment => {
            tx.execute(
                "update comments set content = $1, version = version + 1, updated_at = $2 \
                 where id = $3 and version = $4",
                &args![edit.text.clone(), now, edit.id, edit.expected_version],
            )
            .await?
        }
        ContentKind::Review => {
            tx.execute(
                "update reviews set content = $1, rating = $2, version = version + 1, \
                 updated_at = $3 where id = $4 and version = $5",
                &args![
                    edit.text.clone(),
                    new_rating.unwrap_or(1),
                    now,
                    edit.id,
                    edit.expected_version
                ],
            )
            .await?
        }
    };
    if changed != 1 {
        return Err(DataError::Internal(
            "a locked comment changed during its edit",
        ));
    }
    let batch_id = Uuid::new_v4();
    let new_version = current.version + 1;
    let row = AuditRow {
        action: format!("{}.edit", edit.kind.as_str()),
        target_type: edit.kind.as_str(),
        target_id: Some(edit.id),
        target_label: format!(
            "{} on «{}»",
            current.author_name.as_deref().unwrap_or("deleted user"),
            excerpt(&current.book_title, 40)
        ),
        counts: RowCounts::new().with(edit.kind.table(), 1).to_json(),
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
