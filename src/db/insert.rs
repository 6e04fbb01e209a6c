//! Rows written as the platform itself writes them: no operator, no audit. Used by the
//! demo and scale seeders and by tests to set the scene. Inserts are batched into
//! multi-row statements within the backends' parameter limits.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::sql::{Arg, arg_vec, built, placeholders};
use super::{DataError, Db, Role, Tx};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub role: Role,
    pub is_protected: bool,
    pub is_service: bool,
    pub is_active: bool,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl NewUser {
    pub fn new(username: &str, role: Role) -> Self {
        NewUser {
            id: Uuid::new_v4(),
            username: username.to_string(),
            email: format!("{}@example.invalid", username.to_lowercase()),
            role,
            is_protected: false,
            is_service: false,
            is_active: true,
            password_hash: None,
            created_at: Utc::now(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewGuild {
    pub id: Uuid,
    pub name: String,
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewMember {
    pub guild_id: Uuid,
    pub user_id: Uuid,
    pub role: &'static str,
}

#[derive(Debug, Clone)]
pub struct NewSetting {
    pub guild_id: Uuid,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub guild_id: Option<Uuid>,
    pub model: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewChatMessage {
    pub id: Uuid,
    pub session_id: Uuid,
    pub author_id: Option<Uuid>,
    pub role: &'static str,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewPrivateMessage {
    pub id: Uuid,
    pub sender_id: Option<Uuid>,
    pub recipient_id: Option<Uuid>,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewBook {
    pub id: Uuid,
    pub title: String,
    pub author: String,
}

/// A comment (`rating: None`) or a review.
#[derive(Debug, Clone)]
pub struct NewContent {
    pub id: Uuid,
    pub book_id: Uuid,
    pub user_id: Option<Uuid>,
    pub rating: Option<i64>,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAppSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub guild_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Bound values per statement. PostgreSQL takes 65,535 and gains from big statements.
/// SQLite takes 32,766, but looks each `$n` up by name in a list, so a statement's cost
/// grows with the square of its placeholders: small statements are far faster there.
const MAX_BINDS_POSTGRES: usize = 30_000;
const MAX_BINDS_SQLITE: usize = 600;

async fn insert_rows(
    tx: &mut Tx,
    head: &'static str,
    columns: usize,
    rows: Vec<Vec<Arg>>,
) -> Result<(), DataError> {
    let max_binds = match tx.backend() {
        super::Backend::Postgres => MAX_BINDS_POSTGRES,
        super::Backend::Sqlite => MAX_BINDS_SQLITE,
    };
    let per_statement = (max_binds / columns).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per_statement).collect();
        let mut sql = String::from(head);
        sql.push_str(" values ");
        let mut binds = Vec::with_capacity(chunk.len() * columns);
        for (i, row) in chunk.into_iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&placeholders(binds.len() + 1, columns));
            sql.push(')');
            binds.extend(row);
        }
        tx.execute(built(sql), &binds).await?;
    }
    Ok(())
}

/// Inserts everything in one transaction.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub users: Vec<NewUser>,
    pub guilds: Vec<NewGuild>,
    pub members: Vec<NewMember>,
    pub settings: Vec<NewSetting>,
    pub sessions: Vec<NewSession>,
    pub chat_messages: Vec<NewChatMessage>,
    pub private_messages: Vec<NewPrivateMessage>,
    pub books: Vec<NewBook>,
    pub comments: Vec<NewContent>,
    pub reviews: Vec<NewContent>,
    pub app_sessions: Vec<NewAppSession>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.guilds.is_empty()
            && self.members.is_empty()
            && self.settings.is_empty()
            && self.sessions.is_empty()
            && self.chat_messages.is_empty()
            && self.private_messages.is_empty()
            && self.books.is_empty()
            && self.comments.is_empty()
            && self.reviews.is_empty()
            && self.app_sessions.is_empty()
    }

    pub async fn insert(self, db: &Db) -> Result<(), DataError> {
        let mut tx = db.write().await?;
        self.insert_in(&mut tx).await?;
        tx.commit().await
    }

    async fn insert_in(self, tx: &mut Tx) -> Result<(), DataError> {
        let users = self.users.into_iter().map(|u| {
            arg_vec![
                u.id,
                u.username,
                u.email,
                u.role.as_str(),
                u.is_protected,
                u.is_service,
                u.is_active,
                u.password_hash,
                u.created_at,
                u.created_at
            ]
        });
        insert_rows(
            tx,
            "insert into users (id, username, email, role, is_protected, is_service, \
             is_active, password_hash, created_at, updated_at)",
            10,
            users.collect(),
        )
        .await?;
        let guilds = self
            .guilds
            .into_iter()
            .map(|g| arg_vec![g.id, g.name, g.owner_id, g.created_at, g.created_at]);
        insert_rows(
            tx,
            "insert into guilds (id, name, owner_id, created_at, updated_at)",
            5,
            guilds.collect(),
        )
        .await?;
        let members = self
            .members
            .into_iter()
            .map(|m| arg_vec![m.guild_id, m.user_id, m.role]);
        insert_rows(
            tx,
            "insert into guild_members (guild_id, user_id, role)",
            3,
            members.collect(),
        )
        .await?;
        let settings = self
            .settings
            .into_iter()
            .map(|s| arg_vec![s.guild_id, s.key, s.value]);
        insert_rows(
            tx,
            "insert into guild_settings (guild_id, key, value)",
            3,
            settings.collect(),
        )
        .await?;
        let sessions = self.sessions.into_iter().map(|s| {
            arg_vec![
                s.id,
                s.user_id,
                s.guild_id,
                s.model,
                s.title,
                s.created_at,
                s.created_at
            ]
        });
        insert_rows(
            tx,
            "insert into chat_sessions (id, user_id, guild_id, model, title, created_at, \
             updated_at)",
            7,
            sessions.collect(),
        )
        .await?;
        let chat_messages = self.chat_messages.into_iter().map(|m| {
            arg_vec![
                m.id,
                m.session_id,
                m.author_id,
                m.role,
                m.content,
                m.created_at
            ]
        });
        insert_rows(
            tx,
            "insert into chat_messages (id, session_id, author_id, role, content, created_at)",
            6,
            chat_messages.collect(),
        )
        .await?;
        let private = self
            .private_messages
            .into_iter()
            .map(|m| arg_vec![m.id, m.sender_id, m.recipient_id, m.content, m.created_at]);
        insert_rows(
            tx,
            "insert into messages (id, sender_id, recipient_id, content, created_at)",
            5,
            private.collect(),
        )
        .await?;
        let books = self
            .books
            .into_iter()
            .map(|b| arg_vec![b.id, b.title, b.author]);
        insert_rows(
            tx,
            "insert into books (id, title, author)",
            3,
            books.collect(),
        )
        .await?;
        let comments = self.comments.into_iter().map(|c| {
            arg_vec![
                c.id,
                c.book_id,
                c.user_id,
                c.content,
                c.created_at,
                c.created_at
            ]
        });
        insert_rows(
            tx,
            "insert into comments (id, book_id, user_id, content, created_at, updated_at)",
            6,
            comments.collect(),
        )
        .await?;
        let reviews = self.reviews.into_iter().map(|c| {
            arg_vec![
                c.id,
                c.book_id,
                c.user_id,
                c.rating.unwrap_or(3),
                c.content,
                c.created_at,
                c.created_at
            ]
        });
        insert_rows(
            tx,
            "insert into reviews (id, book_id, user_id, rating, content, created_at, \
             updated_at)",
            7,
            reviews.collect(),
        )
        .await?;
        let logins = self
            .app_sessions
            .into_iter()
            .map(|a| arg_vec![a.id, a.user_id, a.guild_id, a.created_at, a.expires_at]);
        insert_rows(
            tx,
            "insert into app_sessions (id, user_id, guild_id, created_at, expires_at)",
            5,
            logins.collect(),
        )
        .await?;
        Ok(())
    }
}

/// Counts the rows of a reference table (for reports and tests).
pub async fn count_rows(db: &Db, table: super::plan::Table) -> Result<i64, DataError> {
    use super::plan::Table;
    let sql = match table {
        Table::Users => "select count(*) as n from users",
        Table::Guilds => "select count(*) as n from guilds",
        Table::ChatSessions => "select count(*) as n from chat_sessions",
        Table::ChatMessages => "select count(*) as n from chat_messages",
        Table::Messages => "select count(*) as n from messages",
        Table::Comments => "select count(*) as n from comments",
        Table::Reviews => "select count(*) as n from reviews",
        Table::GuildMembers => "select count(*) as n from guild_members",
        Table::GuildSettings => "select count(*) as n from guild_settings",
        Table::AppSessions => "select count(*) as n from app_sessions",
    };
    let mut tx = db.read().await?;
    let n = tx.fetch_one(sql, &[]).await?.int("n")?;
    tx.rollback().await?;
    Ok(n)
}
