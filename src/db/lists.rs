//! What every pane lists: keyset-paged (never OFFSET), filtered by literal text, with the
//! per-row counts computed for the page only. Text fields are raw: sanitise to show.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::comments::ContentKind;
use super::sql::{Arg, built};
use super::{DataError, Db, Row, Tx};

/// Builds a statement from fixed SQL fragments and bound values, numbering the
/// placeholders; the same text serves both backends.
pub(crate) struct SqlBuilder {
    sql: String,
    args: Vec<Arg>,
}

impl SqlBuilder {
    pub(crate) fn new(sql: &'static str) -> Self {
        SqlBuilder {
            sql: sql.to_string(),
            args: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, sql: &'static str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub(crate) fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }

    pub(crate) async fn fetch_all(&self, tx: &mut Tx) -> Result<Vec<Row>, DataError> {
        tx.fetch_all(built(self.sql.clone()), &self.args).await
    }
}

/// `%text%` for LIKE with the wildcards in `text` taken literally, lowercased.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// One page of a listing and the cursor for the next, if there is more.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T, C> {
    pub rows: Vec<T>,
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// From up to `limit + 1` rows: the extra row only says there is more.
    pub(crate) fn from_rows(mut rows: Vec<T>, limit: usize, cursor: impl Fn(&T) -> C) -> Self {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(cursor) } else { None };
        Page { rows, next }
    }
}

/// A position in a listing ordered by time, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeCursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// How much of a long text a listing fetches; details fetch the whole.
pub const EXCERPT_CHARS: i64 = 400;

// ---------------------------------------------------------------- chat sessions

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatSessionFilter {
    /// Only this session (`:goto`).
    pub id: Option<Uuid>,
    pub text: Option<String>,
    pub orphans_only: bool,
    pub owner_id: Option<Uuid>,
    pub guild_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatSessionRow {
    pub id: Uuid,
    pub title: String,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub guild_id: Option<Uuid>,
    pub guild_name: Option<String>,
    pub model: String,
    pub messages: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ChatSessionRow {
    pub fn is_orphaned(&self) -> bool {
        self.owner_id.is_none()
    }
}

fn chat_session_query(filter: &ChatSessionFilter, columns: &'static str) -> SqlBuilder {
    let mut q = SqlBuilder::new("select ");
    q.push(columns).push(
        " from chat_sessions s left join users u on u.id = s.user_id \
         left join guilds g on g.id = s.guild_id where 1 = 1",
    );
    if let Some(id) = filter.id {
        q.push(" and s.id = ").bind(id);
    }
    if filter.orphans_only {
        q.push(" and s.user_id is null");
    }
    if let Some(owner) = filter.owner_id {
        q.push(" and s.user_id = ").bind(owner);
    }
    if let Some(guild) = filter.guild_id {
        q.push(" and s.guild_id = ").bind(guild);
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = like_pattern(text);
        q.push(" and (lower(s.title) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(coalesce(u.username, '')) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(s.model) like ")
            .bind(pattern)
            .push(" escape '\\')");
    }
    q
}

/// Newest first.
pub async fn chat_sessions(
    db: &Db,
    filter: &ChatSessionFilter,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<ChatSessionRow, TimeCursor>, DataError> {
    let mut q = chat_session_query(
        filter,
        "s.id, s.title, s.user_id, u.username as owner_name, s.guild_id, \
         g.name as guild_name, s.model, s.created_at, s.updated_at, \
         (select count(*) from chat_messages m where m.session_id = s.id) as messages",
    );
    if let Some(c) = after {
        q.push(" and (s.created_at, s.id) < (")
            .bind(c.at)
            .push(", ")
            .bind(c.id)
            .push(")");
    }
    q.push(" order by s.created_at desc, s.id desc limit ")
        .bind(limit as i64 + 1);
    let rows = read_all(db, &q).await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(ChatSessionRow {
                id: r.uuid("id")?,
                title: r.text("title")?,
                owner_id: r.opt_uuid("user_id")?,
                owner_name: r.opt_text("owner_name")?,
                guild_id: r.opt_uuid("guild_id")?,
                guild_name: r.opt_text("guild_name")?,
                model: r.text("model")?,
                messages: r.int("messages")?,
                created_at: r.time("created_at")?,
                updated_at: r.time("updated_at")?,
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(Page::from_rows(rows, limit, |r| TimeCursor {
        at: r.created_at,
        id: r.id,
    }))
}

/// Every id matching the filter, newest first, up to `cap` (for "mark all").
pub async fn chat_session_ids(
    db: &Db,
    filter: &ChatSessionFilter,
    cap: usize,
) -> Result<Vec<Uuid>, DataError> {
    let mut q = chat_session_query(filter, "s.id");
    q.push(" order by s.created_at desc, s.id desc limit ")
        .bind(cap as i64);
    read_all(db, &q)
        .await?
        .iter()
        .map(|r| r.uuid("id"))
        .collect()
}

// ---------------------------------------------------------------- chat messages

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatMessageRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub role: String,
    pub excerpt: String,
    pub length: i64,
    pub created_at: DateTime<Utc>,
}

/// A session's messages, oldest first.
pub async fn chat_messages(
    db: &Db,
    session_id: Uuid,
    text: Option<&str>,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<ChatMessageRow, TimeCursor>, DataError> {
    let mut q = SqlBuilder::new(
        "select m.id, m.session_id, m.author_id, u.username as author_name, m.role, \
         substr(m.content, 1, 400) as excerpt, length(m.content) as length, m.created_at \
         from chat_messages m left join users u on u.id = m.author_id where m.session_id = ",
    );
    q.bind(session_id);
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        q.push(" and lower(m.content) like ")
            .bind(like_pattern(text))
            .push(" escape '\\'");
    }
    if let Some(c) = after {
        q.push(" and (m.created_at, m.id) > (")
            .bind(c.at)
            .push(", ")
            .bind(c.id)
            .push(")");
    }
    q.push(" order by m.created_at, m.id limit ")
        .bind(limit as i64 + 1);
    let rows = read_all(db, &q).await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(ChatMessageRow {
                id: r.uuid("id")?,
                session_id: r.uuid("session_id")?,
                author_id: r.opt_uuid("author_id")?,
                author_name: r.opt_text("author_name")?,
                role: r.text("role")?,
                excerpt: r.text("excerpt")?,
                length: r.int("length")?,
                created_at: r.time("created_at")?,
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(Page::from_rows(rows, limit, |r| TimeCursor {
        at: r.created_at,
        id: r.id,
    }))
}

// ---------------------------------------------------------------- private messages

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivateMessageRow {
    pub id: Uuid,
    pub sender_id: Option<Uuid>,
    pub sender_name: Option<String>,
    pub recipient_id: Option<Uuid>,
    pub recipient_name: Option<String>,
    pub excerpt: String,
    pub length: i64,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateMessageFilter {
    /// Only this message (`:goto`).
    pub id: Option<Uuid>,
    pub text: Option<String>,
    /// Sent or received by this user.
    pub user_id: Option<Uuid>,
}

/// Newest first.
pub async fn private_messages(
    db: &Db,
    filter: &PrivateMessageFilter,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<PrivateMessageRow, TimeCursor>, DataError> {
    let mut q = SqlBuilder::new(
        "select p.id, p.sender_id, su.username as sender_name, p.recipient_id, \
         ru.username as recipient_name, substr(p.content, 1, 400) as excerpt, \
         length(p.content) as length, p.created_at, p.read_at \
         from messages p left join users su on su.id = p.sender_id \
         left join users ru on ru.id = p.recipient_id where 1 = 1",
    );
    if let Some(id) = filter.id {
        q.push(" and p.id = ").bind(id);
    }
    if let Some(user) = filter.user_id {
        q.push(" and (p.sender_id = ")
            .bind(user)
            .push(" or p.recipient_id = ")
            .bind(user)
            .push(")");
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = like_pattern(text);
        q.push(" and (lower(p.content) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(coalesce(su.username, '')) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(coalesce(ru.username, '')) like ")
            .bind(pattern)
            .push(" escape '\\')");
    }
    if let Some(c) = after {
        q.push(" and (p.created_at, p.id) < (")
            .bind(c.at)
            .push(", ")
            .bind(c.id)
            .push(")");
    }
    q.push(" order by p.created_at desc, p.id desc limit ")
        .bind(limit as i64 + 1);
    let rows = read_all(db, &q).await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(PrivateMessageRow {
                id: r.uuid("id")?,
                sender_id: r.opt_uuid("sender_id")?,
                sender_name: r.opt_text("sender_name")?,
                recipient_id: r.opt_uuid("recipient_id")?,
                recipient_name: r.opt_text("recipient_name")?,
                excerpt: r.text("excerpt")?,
                length: r.int("length")?,
                created_at: r.time("created_at")?,
                read_at: r.opt_time("read_at")?,
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(Page::from_rows(rows, limit, |r| TimeCursor {
        at: r.created_at,
        id: r.id,
    }))
}

// ---------------------------------------------------------------- comments and reviews

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentRow {
    pub kind: ContentKind,
    pub id: Uuid,
    pub book_id: Uuid,
    pub book_title: String,
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub rating: Option<i64>,
    pub excerpt: String,
    pub length: i64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentFilter {
    pub text: Option<String>,
    /// Only comments or only reviews; both when `None`.
    pub kind: Option<ContentKind>,
    pub user_id: Option<Uuid>,
}

fn content_branch(
    q: &mut SqlBuilder,
    kind: ContentKind,
    filter: &ContentFilter,
    after: Option<TimeCursor>,
    limit: usize,
) {
    match kind {
        ContentKind::Comment => q.push(
            "select 'comment' as kind, c.id, c.book_id, b.title as book_title, c.user_id, \
             u.username as author_name, cast(null as integer) as rating, substr(c.content, 1, 400) as excerpt, \
             length(c.content) as length, c.version, c.created_at, c.updated_at \
             from comments c join books b on b.id = c.book_id \
             left join users u on u.id = c.user_id where 1 = 1",
        ),
        ContentKind::Review => q.push(
            "select 'review' as kind, c.id, c.book_id, b.title as book_title, c.user_id, \
             u.username as author_name, c.rating, substr(c.content, 1, 400) as excerpt, \
             length(c.content) as length, c.version, c.created_at, c.updated_at \
             from reviews c join books b on b.id = c.book_id \
             left join users u on u.id = c.user_id where 1 = 1",
        ),
    };
    if let Some(user) = filter.user_id {
        q.push(" and c.user_id = ").bind(user);
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = like_pattern(text);
        q.push(" and (lower(c.content) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(b.title) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(coalesce(u.username, '')) like ")
            .bind(pattern)
            .push(" escape '\\')");
    }
    if let Some(c) = after {
        q.push(" and (c.updated_at, c.id) < (")
            .bind(c.at)
            .push(", ")
            .bind(c.id)
            .push(")");
    }
    q.push(" order by c.updated_at desc, c.id desc limit ")
        .bind(limit as i64 + 1);
}

/// Comments and reviews together, most recently changed first.
pub async fn content(
    db: &Db,
    filter: &ContentFilter,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<ContentRow, TimeCursor>, DataError> {
    let kinds: &[ContentKind] = match filter.kind {
        Some(ContentKind::Comment) => &[ContentKind::Comment],
        Some(ContentKind::Review) => &[ContentKind::Review],
        None => &[ContentKind::Comment, ContentKind::Review],
    };
    let mut q = SqlBuilder::new("select * from (");
    for (i, kind) in kinds.iter().enumerate() {
        if i > 0 {
            q.push(" union all ");
        }
        q.push("select * from (");
        content_branch(&mut q, *kind, filter, after, limit);
        q.push(") as part");
        if i == 0 {
            q.push("_a");
        } else {
            q.push("_b");
        }
    }
    q.push(") as content order by updated_at desc, id desc limit ")
        .bind(limit as i64 + 1);
    let rows = read_all(db, &q).await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(ContentRow {
                kind: if r.text("kind")? == "review" {
                    ContentKind::Review
                } else {
                    ContentKind::Comment
                },
                id: r.uuid("id")?,
                book_id: r.uuid("book_id")?,
                book_title: r.text("book_title")?,
                author_id: r.opt_uuid("user_id")?,
                author_name: r.opt_text("author_name")?,
                rating: r.opt_int("rating")?,
                excerpt: r.text("excerpt")?,
                length: r.int("length")?,
                version: r.int("version")?,
                created_at: r.time("created_at")?,
                updated_at: r.time("updated_at")?,
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(Page::from_rows(rows, limit, |r| TimeCursor {
        at: r.updated_at,
        id: r.id,
    }))
}

// ---------------------------------------------------------------- guilds

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuildRow {
    pub id: Uuid,
    pub name: String,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub members: i64,
    pub chat_sessions: i64,
    pub messages: i64,
    pub settings: i64,
    pub created_at: DateTime<Utc>,
}

/// Newest first.
pub async fn guilds(
    db: &Db,
    text: Option<&str>,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<GuildRow, TimeCursor>, DataError> {
    let mut q = SqlBuilder::new(
        "select g.id, g.name, g.owner_id, u.username as owner_name, g.created_at, \
         (select count(*) from guild_members gm where gm.guild_id = g.id) as members, \
         (select count(*) from chat_sessions s where s.guild_id = g.id) as chat_sessions, \
         (select count(*) from chat_messages m join chat_sessions s on s.id = m.session_id \
           where s.guild_id = g.id) as messages, \
         (select count(*) from guild_settings gs where gs.guild_id = g.id) as settings \
         from guilds g left join users u on u.id = g.owner_id where 1 = 1",
    );
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        let pattern = like_pattern(text);
        q.push(" and (lower(g.name) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(coalesce(u.username, '')) like ")
            .bind(pattern)
            .push(" escape '\\')");
    }
    if let Some(c) = after {
        q.push(" and (g.created_at, g.id) < (")
            .bind(c.at)
            .push(", ")
            .bind(c.id)
            .push(")");
    }
    q.push(" order by g.created_at desc, g.id desc limit ")
        .bind(limit as i64 + 1);
    let rows = read_all(db, &q).await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(GuildRow {
                id: r.uuid("id")?,
                name: r.text("name")?,
                owner_id: r.opt_uuid("owner_id")?,
                owner_name: r.opt_text("owner_name")?,
                members: r.int("members")?,
                chat_sessions: r.int("chat_sessions")?,
                messages: r.int("messages")?,
                settings: r.int("settings")?,
                created_at: r.time("created_at")?,
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(Page::from_rows(rows, limit, |r| TimeCursor {
        at: r.created_at,
        id: r.id,
    }))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuildMemberRow {
    pub user_id: Uuid,
    pub username: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

/// A guild's members, earliest first.
pub async fn guild_members(
    db: &Db,
    guild_id: Uuid,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<GuildMemberRow, TimeCursor>, DataError> {
    let mut q = SqlBuilder::new(
        "select gm.user_id, u.username, gm.role, gm.joined_at from guild_members gm \
         join users u on u.id = gm.user_id where gm.guild_id = ",
    );
    q.bind(guild_id);
    if let Some(c) = after {
        q.push(" and (gm.joined_at, gm.user_id) > (")
            .bind(c.at)
            .push(", ")
            .bind(c.id)
            .push(")");
    }
    q.push(" order by gm.joined_at, gm.user_id limit ")
        .bind(limit as i64 + 1);
    let rows = read_all(db, &q).await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(GuildMemberRow {
                user_id: r.uuid("user_id")?,
                username: r.text("username")?,
                role: r.text("role")?,
                joined_at: r.time("joined_at")?,
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(Page::from_rows(rows, limit, |r| TimeCursor {
        at: r.joined_at,
        id: r.user_id,
    }))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuildSettingRow {
    pub key: String,
    pub value: String,
}

/// A guild's settings by key, at most `limit`.
pub async fn guild_settings(
    db: &Db,
    guild_id: Uuid,
    limit: usize,
) -> Result<Vec<GuildSettingRow>, DataError> {
    let mut q = SqlBuilder::new(
        "select key, substr(value, 1, 400) as value from guild_settings where guild_id = ",
    );
    q.bind(guild_id)
        .push(" order by key limit ")
        .bind(limit as i64);
    read_all(db, &q)
        .await?
        .iter()
        .map(|r| {
            Ok(GuildSettingRow {
                key: r.text("key")?,
                value: r.text("value")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- users

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub role: String,
    pub is_protected: bool,
    pub is_service: bool,
    pub is_active: bool,
    pub locked_until: Option<DateTime<Utc>>,
    pub owned_guilds: i64,
    pub comments: i64,
    pub reviews: i64,
    pub messages: i64,
    pub chat_sessions: i64,
    pub created_at: DateTime<Utc>,
}

/// A position in the user listing, ordered by lowercase name (unique).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameCursor(pub String);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub text: Option<String>,
    pub role: Option<super::Role>,
}

const USER_COLUMNS: &str = "select u.id, u.username, u.email, u.role, u.is_protected, \
     u.is_service, u.is_active, u.locked_until, u.created_at, lower(u.username) as sort_name, \
     (select count(*) from guilds g where g.owner_id = u.id) as owned_guilds, \
     (select count(*) from comments c where c.user_id = u.id) as comments, \
     (select count(*) from reviews r where r.user_id = u.id) as reviews, \
     (select count(*) from messages p where p.sender_id = u.id) as messages, \
     (select count(*) from chat_sessions s where s.user_id = u.id) as chat_sessions \
     from users u where 1 = 1";

fn user_row(r: &Row) -> Result<UserRow, DataError> {
    Ok(UserRow {
        id: r.uuid("id")?,
        username: r.text("username")?,
        email: r.text("email")?,
        role: r.text("role")?,
        is_protected: r.bool("is_protected")?,
        is_service: r.bool("is_service")?,
        is_active: r.bool("is_active")?,
        locked_until: r.opt_time("locked_until")?,
        owned_guilds: r.int("owned_guilds")?,
        comments: r.int("comments")?,
        reviews: r.int("reviews")?,
        messages: r.int("messages")?,
        chat_sessions: r.int("chat_sessions")?,
        created_at: r.time("created_at")?,
    })
}

/// By name. Never reads password hashes.
pub async fn users(
    db: &Db,
    filter: &UserFilter,
    after: Option<NameCursor>,
    limit: usize,
) -> Result<Page<UserRow, NameCursor>, DataError> {
    let mut q = SqlBuilder::new(USER_COLUMNS);
    if let Some(role) = filter.role {
        q.push(" and u.role = ").bind(role.as_str());
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = like_pattern(text);
        q.push(" and (lower(u.username) like ")
            .bind(pattern.clone())
            .push(" escape '\\' or lower(u.email) like ")
            .bind(pattern)
            .push(" escape '\\')");
    }
    if let Some(NameCursor(name)) = after {
        q.push(" and lower(u.username) > ").bind(name);
    }
    q.push(" order by lower(u.username) limit ")
        .bind(limit as i64 + 1);
    let rows = read_all(db, &q).await?;
    let mut sort_names = Vec::with_capacity(rows.len());
    let rows = rows
        .iter()
        .map(|r| {
            sort_names.push(r.text("sort_name")?);
            user_row(r)
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    let more = rows.len() > limit;
    let mut rows = rows;
    rows.truncate(limit);
    let next = if more {
        sort_names.get(limit - 1).cloned().map(NameCursor)
    } else {
        None
    };
    Ok(Page { rows, next })
}

/// Finds a user by name, case-insensitively.
pub async fn user_by_name(db: &Db, username: &str) -> Result<Option<UserRow>, DataError> {
    let mut q = SqlBuilder::new(USER_COLUMNS);
    q.push(" and lower(u.username) = lower(")
        .bind(username)
        .push(")");
    let rows = read_all(db, &q).await?;
    rows.first().map(user_row).transpose()
}

async fn read_all(db: &Db, q: &SqlBuilder) -> Result<Vec<Row>, DataError> {
    let mut tx = db.read().await?;
    let rows = q.fetch_all(&mut tx).await?;
    tx.rollback().await?;
    Ok(rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("ABC"), "%abc%");
    }

    #[test]
    fn a_page_knows_there_is_more_only_from_the_extra_row() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.rows, vec![1, 2]);
        assert_eq!(page.next, Some(2));
        let page = Page::from_rows(vec![1, 2], 2, |n| *n);
        assert_eq!(page.next, None);
    }
}
