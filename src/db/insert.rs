//! Rows written as the platform itself writes them: no operator, no audit. Used by the
//! demo and scale seeders and by tests to set the scene, on the reference schema or a
//! mapped one: only mapped columns are written (the platform's other columns must have
//! defaults). Inserts are batched into multi-row statements within the backends'
//! parameter limits.

use chrono::{DateTime, Utc};

use super::schema::Entity;
use super::sql::Arg;
use super::{DataError, Db, Id, IdKind, Role, Schema, Sql, Tx};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Id,
    pub username: String,
    pub email: String,
    pub role: Role,
    /// The platform's role value; `None`: the map's first value for `role` (for
    /// `Role::User`, "user").
    pub role_value: Option<String>,
    pub is_protected: bool,
    pub is_service: bool,
    pub is_active: bool,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl NewUser {
    pub fn new(username: &str, role: Role) -> Self {
        NewUser {
            id: Id::random_text(),
            username: username.to_string(),
            email: format!("{}@example.invalid", username.to_lowercase()),
            role,
            role_value: None,
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
    pub id: Id,
    pub name: String,
    pub owner_id: Option<Id>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewMember {
    pub guild_id: Id,
    pub user_id: Id,
    pub role: &'static str,
}

#[derive(Debug, Clone)]
pub struct NewSetting {
    pub guild_id: Id,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Id,
    pub user_id: Option<Id>,
    pub guild_id: Option<Id>,
    pub model: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewChatMessage {
    pub id: Id,
    pub session_id: Id,
    pub author_id: Option<Id>,
    pub role: &'static str,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewPrivateMessage {
    pub id: Id,
    pub sender_id: Option<Id>,
    pub recipient_id: Option<Id>,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewBook {
    pub id: Id,
    pub title: String,
    pub author: String,
}

/// A comment (`rating: None`) or a review.
#[derive(Debug, Clone)]
pub struct NewContent {
    pub id: Id,
    pub book_id: Id,
    pub user_id: Option<Id>,
    pub rating: Option<i64>,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAppSession {
    pub id: Id,
    pub user_id: Id,
    pub guild_id: Option<Id>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Bound values per statement. PostgreSQL takes 65,535 and gains from big statements;
/// SQLite takes 32,766 and is fastest with small ones.
const MAX_BINDS_POSTGRES: usize = 30_000;
const MAX_BINDS_SQLITE: usize = 600;
// MySQL allows 65,535 placeholders per prepared statement.
const MAX_BINDS_MYSQL: usize = 30_000;

/// A column to write: a key of the map (skipped where the platform has no such column),
/// or a column of the reference schema that the map does not describe (written only
/// on the reference schema).
#[derive(Clone, Copy)]
enum Col {
    Key(&'static str),
    Reference(&'static str),
}

async fn insert_rows(
    tx: &mut Tx,
    schema: &Schema,
    entity: Entity,
    columns: &[Col],
    rows: Vec<Vec<Arg>>,
) -> Result<(), DataError> {
    if rows.is_empty() {
        return Ok(());
    }
    let Some(mapped) = schema.entity(entity) else {
        return Err(DataError::invalid(format!(
            "this platform has no {} (disabled in the schema map)",
            entity.nouns().1
        )));
    };
    // Which of the given columns this schema has, by position.
    let mut names = Vec::new();
    let mut keep = Vec::new();
    for (i, col) in columns.iter().enumerate() {
        let name = match col {
            Col::Key(key) => mapped.columns.get(key).map(|c| c.name.clone()),
            Col::Reference(name) if schema.reference => Some((*name).to_string()),
            Col::Reference(_) => None,
        };
        if let Some(name) = name {
            names.push(name);
            keep.push(i);
        }
    }
    let max_binds = match tx.backend() {
        super::Backend::Postgres => MAX_BINDS_POSTGRES,
        super::Backend::Sqlite => MAX_BINDS_SQLITE,
        super::Backend::Mysql => MAX_BINDS_MYSQL,
    };
    let per_statement = (max_binds / names.len().max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per_statement).collect();
        let mut q = Sql::new(schema);
        q.push("insert into ").table(&mapped.table).push(" (");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.ident(name);
        }
        q.push(") values ");
        for (r, row) in chunk.into_iter().enumerate() {
            if r > 0 {
                q.push(", ");
            }
            q.push("(");
            for (i, index) in keep.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                match row.get(*index) {
                    Some(value) => q.bind(value.clone()),
                    None => q.push("null"),
                };
            }
            q.push(")");
        }
        tx.execute_sql(&q).await?;
    }
    Ok(())
}

/// An id bound as its column's type.
fn id_arg(schema: &Schema, entity: Entity, id: &Id) -> Arg {
    Arg::Id(schema.id_kind(entity), Some(id.clone()))
}

fn opt_id_arg(schema: &Schema, entity: Entity, id: &Option<Id>) -> Arg {
    Arg::Id(schema.id_kind(entity), id.clone())
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
        let schema = db.schema()?;
        let mut tx = db.write().await?;
        self.insert_in(&mut tx, schema).await?;
        tx.commit().await
    }

    async fn insert_in(self, tx: &mut Tx, s: &Schema) -> Result<(), DataError> {
        use Col::{Key, Reference};
        let role_value = |u: &NewUser| -> String {
            u.role_value.clone().unwrap_or_else(|| {
                s.role_values(u.role)
                    .first()
                    .cloned()
                    .unwrap_or_else(|| Role::User.as_str().to_string())
            })
        };
        let credentials: Vec<(Id, String)> = self
            .users
            .iter()
            .filter_map(|u| u.password_hash.clone().map(|h| (u.id.clone(), h)))
            .collect();
        let users = self
            .users
            .iter()
            .map(|u| {
                vec![
                    id_arg(s, Entity::Users, &u.id),
                    u.username.clone().into(),
                    u.email.clone().into(),
                    role_value(u).into(),
                    u.is_protected.into(),
                    u.is_service.into(),
                    u.is_active.into(),
                    u.created_at.into(),
                    u.created_at.into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            s,
            Entity::Users,
            &[
                Key("id"),
                Key("username"),
                Key("email"),
                Key("role"),
                Key("protected"),
                Key("service"),
                Key("active"),
                Key("created_at"),
                Reference("updated_at"),
            ],
            users,
        )
        .await?;
        for (id, hash) in credentials {
            let mut q = Sql::raw(tx.backend());
            q.push("insert into {#modcon_operators} (user_id, password_hash) values (")
                .bind(id.to_string())
                .push(", ")
                .bind(hash)
                .push(")");
            tx.execute_sql(&q).await?;
        }
        let guilds = self
            .guilds
            .iter()
            .map(|g| {
                vec![
                    id_arg(s, Entity::Guilds, &g.id),
                    g.name.clone().into(),
                    opt_id_arg(s, Entity::Users, &g.owner_id),
                    g.created_at.into(),
                    g.created_at.into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            s,
            Entity::Guilds,
            &[
                Key("id"),
                Key("name"),
                Key("owner"),
                Key("created_at"),
                Reference("updated_at"),
            ],
            guilds,
        )
        .await?;
        let members = self
            .members
            .iter()
            .map(|m| {
                vec![
                    id_arg(s, Entity::Guilds, &m.guild_id),
                    id_arg(s, Entity::Users, &m.user_id),
                    m.role.into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            s,
            Entity::GuildMembers,
            &[Key("guild"), Key("user"), Key("role")],
            members,
        )
        .await?;
        let settings = self
            .settings
            .iter()
            .map(|g| {
                vec![
                    id_arg(s, Entity::Guilds, &g.guild_id),
                    g.key.clone().into(),
                    g.value.clone().into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            s,
            Entity::GuildSettings,
            &[Key("guild"), Key("key"), Key("value")],
            settings,
        )
        .await?;
        let sessions = self
            .sessions
            .iter()
            .map(|c| {
                vec![
                    id_arg(s, Entity::ChatSessions, &c.id),
                    opt_id_arg(s, Entity::Users, &c.user_id),
                    opt_id_arg(s, Entity::Guilds, &c.guild_id),
                    c.model.clone().into(),
                    c.title.clone().into(),
                    c.created_at.into(),
                    c.created_at.into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            s,
            Entity::ChatSessions,
            &[
                Key("id"),
                Key("owner"),
                Key("guild"),
                Key("model"),
                Key("title"),
                Key("created_at"),
                Key("updated_at"),
            ],
            sessions,
        )
        .await?;
        let messages = self
            .chat_messages
            .iter()
            .map(|m| {
                vec![
                    id_arg(s, Entity::ChatMessages, &m.id),
                    id_arg(s, Entity::ChatSessions, &m.session_id),
                    opt_id_arg(s, Entity::Users, &m.author_id),
                    m.role.into(),
                    m.content.clone().into(),
                    m.created_at.into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            s,
            Entity::ChatMessages,
            &[
                Key("id"),
                Key("session"),
                Key("author"),
                Key("role"),
                Key("content"),
                Key("created_at"),
            ],
            messages,
        )
        .await?;
        let private = self
            .private_messages
            .iter()
            .map(|m| {
                vec![
                    id_arg(s, Entity::Messages, &m.id),
                    opt_id_arg(s, Entity::Users, &m.sender_id),
                    opt_id_arg(s, Entity::Users, &m.recipient_id),
                    m.content.clone().into(),
                    m.created_at.into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            s,
            Entity::Messages,
            &[
                Key("id"),
                Key("sender"),
                Key("recipient"),
                Key("content"),
                Key("created_at"),
            ],
            private,
        )
        .await?;
        let books = self
            .books
            .iter()
            .map(|b| {
                vec![
                    id_arg(s, Entity::Books, &b.id),
                    b.title.clone().into(),
                    b.author.clone().into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            s,
            Entity::Books,
            &[Key("id"), Key("title"), Reference("author")],
            books,
        )
        .await?;
        for (entity, items) in [
            (Entity::Comments, &self.comments),
            (Entity::Reviews, &self.reviews),
        ] {
            let rows = items
                .iter()
                .map(|c| {
                    vec![
                        id_arg(s, entity, &c.id),
                        id_arg(s, Entity::Books, &c.book_id),
                        opt_id_arg(s, Entity::Users, &c.user_id),
                        c.rating.unwrap_or(3).into(),
                        c.content.clone().into(),
                        c.created_at.into(),
                        c.created_at.into(),
                    ]
                })
                .collect();
            let rating = if entity == Entity::Reviews {
                Key("rating")
            } else {
                Key("-")
            };
            insert_rows(
                tx,
                s,
                entity,
                &[
                    Key("id"),
                    Key("book"),
                    Key("author"),
                    rating,
                    Key("content"),
                    Key("created_at"),
                    Key("updated_at"),
                ],
                rows,
            )
            .await?;
        }
        let logins = self
            .app_sessions
            .iter()
            .map(|a| {
                vec![
                    // A reference-schema column (uuid there), not in the map.
                    Arg::Id(IdKind::Uuid, Some(a.id.clone())),
                    id_arg(s, Entity::Users, &a.user_id),
                    opt_id_arg(s, Entity::Guilds, &a.guild_id),
                    a.created_at.into(),
                    a.expires_at.into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            s,
            Entity::AppSessions,
            &[
                Reference("id"),
                Key("user"),
                Key("guild"),
                Reference("created_at"),
                Reference("expires_at"),
            ],
            logins,
        )
        .await?;
        Ok(())
    }
}

/// Counts the rows of an entity's table (for reports and tests).
pub async fn count_rows(db: &Db, entity: Entity) -> Result<i64, DataError> {
    let schema = db.schema()?;
    let mut q = Sql::new(schema);
    q.push(&format!("select count(*) as n from {{@{}}}", entity.name()));
    let mut tx = db.read().await?;
    let n = tx.fetch_one_sql(&q).await?.int("n")?;
    tx.rollback().await?;
    Ok(n)
}
