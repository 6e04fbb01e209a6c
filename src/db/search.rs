//! Content search across every chat message (SPEC §12, the spam-wave workflow): the
//! sessions holding a message that contains a text, newest first and keyset-paged, each
//! with how many of its messages match and an excerpt around the first match. Every
//! statement here can be stopped while it runs: the database cancels it (PostgreSQL
//! `pg_cancel_backend`, SQLite's progress handler), it is not merely ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::audit::AuditRow;
use super::lists::{Page, TimeCursor, like_pattern};
use super::schema::Entity;
use super::{Actor, Backend, DataError, Db, Id, Permission, Row, Sql, Tx};

/// Characters of context kept before the first match in an excerpt.
const EXCERPT_BEFORE: i64 = 40;
/// Characters an excerpt holds in all.
const EXCERPT_CHARS: i64 = 200;
/// How often a running statement looks whether it was stopped.
const POLL: Duration = Duration::from_millis(25);

/// Stops a running search from another task. Cheap to clone; once stopped, stays so.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Shares a flag the caller already stops other work with.
    pub fn from_flag(flag: Arc<AtomicBool>) -> Interrupt {
        Interrupt(flag)
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One session with messages containing the searched text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionHit {
    pub id: Id,
    pub title: String,
    pub owner_id: Option<Id>,
    pub owner_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// How many of the session's messages contain the text.
    pub matches: i64,
    /// Raw text around the first match (oldest matching message): sanitise to show.
    pub excerpt: String,
    /// The excerpt starts inside the message, not at its beginning.
    pub excerpt_cut: bool,
}

/// How much a search found in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SearchTotals {
    pub sessions: i64,
    pub messages: i64,
}

fn checked(text: &str) -> Result<&str, DataError> {
    if text.trim().is_empty() {
        return Err(DataError::invalid("type the text to search for"));
    }
    Ok(text)
}

/// `and <message m contains the text>`, literal and case-insensitive; on PostgreSQL an
/// `ilike` a trigram index on the column serves.
fn message_matches(q: &mut Sql<'_>, alias: &str, text: &str) {
    let column = format!("{{{alias}.content}}");
    match q.backend() {
        // `\` is PostgreSQL's default LIKE escape.
        Backend::Postgres => q.push(" and ").push(&column).push(" ilike "),
        Backend::Sqlite | Backend::Mysql => q.push(" and lower(").push(&column).push(") like "),
    };
    q.bind(like_pattern(text));
    if q.backend() != Backend::Postgres {
        q.push(" escape '\\'");
    }
}

/// The position of the first match in `{fm.content}` (1-based; 0 if lower-casing
/// differs between the database and Rust).
fn match_position(q: &mut Sql<'_>, text: &str) {
    let needle = text.to_lowercase();
    match q.backend() {
        Backend::Postgres => q
            .push("strpos(lower({fm.content}), ")
            .bind(needle)
            .push(")"),
        Backend::Sqlite | Backend::Mysql => {
            q.push("instr(lower({fm.content}), ").bind(needle).push(")")
        }
    };
}

fn greatest(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres | Backend::Mysql => "greatest",
        Backend::Sqlite => "max",
    }
}

/// Sessions holding a message that contains `text`, newest first.
pub async fn search_chat_messages(
    db: &Db,
    text: &str,
    after: Option<TimeCursor>,
    limit: usize,
    interrupt: &Interrupt,
) -> Result<Page<SessionHit, TimeCursor>, DataError> {
    let text = checked(text)?;
    let schema = db.schema()?;
    require_chats(schema)?;
    let mut q = Sql::new(schema);
    q.alias("s", Entity::ChatSessions)
        .alias("u", Entity::Users)
        .alias("m", Entity::ChatMessages)
        .alias("fm", Entity::ChatMessages);
    // The excerpt starts a little before the first match, in the first matching
    // message (`fm`, joined on the id the inner query found).
    let excerpt_from = |q: &mut Sql<'_>| {
        q.push(greatest(schema.backend)).push("(1, coalesce(");
        match_position(q, text);
        q.push(", 0) - ")
            .push(&EXCERPT_BEFORE.to_string())
            .push(")");
    };
    q.push(
        "select x.id, x.title, x.user_id, x.owner_name, x.created_at, x.matches, \
         substr({fm.content}, ",
    );
    excerpt_from(&mut q);
    q.push(", ")
        .push(&EXCERPT_CHARS.to_string())
        .push(") as excerpt, ");
    excerpt_from(&mut q);
    q.push(
        " as excerpt_from from (select {s.id} as id, {s.title|''} as title, \
         {s.owner} as user_id, {u.username} as owner_name, {s.created_at} as created_at, \
         (select count(*) from {@chat_messages} m where {m.session} = {s.id}",
    );
    message_matches(&mut q, "m", text);
    q.push(") as matches, (select {m.id} from {@chat_messages} m where {m.session} = {s.id}");
    message_matches(&mut q, "m", text);
    q.push(
        " order by {m.created_at}, {m.id} limit 1) as first_id \
         from {@chat_sessions} s left join {@users} u on {u.id} = {s.owner} where ",
    );
    session_has_match(&mut q, text);
    if let Some(c) = &after {
        q.push(" and ({s.created_at}, {s.id}) < (")
            .bind(c.at)
            .push(", ")
            .bind_id(schema.id_kind(Entity::ChatSessions), &c.id)
            .push(")");
    }
    q.push(" order by {s.created_at} desc, {s.id} desc limit ")
        .bind(limit as i64 + 1)
        .push(") x left join {@chat_messages} fm on {fm.id} = x.first_id")
        .push(" order by x.created_at desc, x.id desc");
    let rows = read_interruptible(db, &q, interrupt).await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(SessionHit {
                id: r.id("id")?,
                title: r.opt_text("title")?.unwrap_or_default(),
                owner_id: r.opt_id("user_id")?,
                owner_name: r.opt_text("owner_name")?,
                created_at: r.time("created_at")?,
                matches: r.int("matches")?,
                excerpt: r.opt_text("excerpt")?.unwrap_or_default(),
                excerpt_cut: r.int("excerpt_from")? > 1,
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(Page::from_rows(rows, limit, |r| TimeCursor {
        at: r.created_at,
        id: r.id.clone(),
    }))
}

/// `s` has a message containing the text.
fn session_has_match(q: &mut Sql<'_>, text: &str) {
    q.push("{s.id} in (select {m.session} from {@chat_messages} m where 1 = 1");
    message_matches(q, "m", text);
    q.push(")");
}

/// How many sessions and messages contain `text`: the total beside the first page.
pub async fn count_search(
    db: &Db,
    text: &str,
    interrupt: &Interrupt,
) -> Result<SearchTotals, DataError> {
    let text = checked(text)?;
    let schema = db.schema()?;
    require_chats(schema)?;
    let mut q = Sql::new(schema);
    q.alias("m", Entity::ChatMessages);
    q.push(
        "select count(distinct {m.session}) as sessions, count(*) as messages \
         from {@chat_messages} m where 1 = 1",
    );
    message_matches(&mut q, "m", text);
    let rows = read_interruptible(db, &q, interrupt).await?;
    let row = rows
        .first()
        .ok_or(DataError::Internal("a count returned no row"))?;
    Ok(SearchTotals {
        sessions: row.int("sessions")?,
        messages: row.int("messages")?,
    })
}

/// The ids of every session holding a match, newest first, up to `cap` ("mark all"):
/// ids only, nothing per row.
pub async fn search_session_ids(
    db: &Db,
    text: &str,
    cap: usize,
    interrupt: &Interrupt,
) -> Result<Vec<Id>, DataError> {
    let text = checked(text)?;
    let schema = db.schema()?;
    require_chats(schema)?;
    let mut q = Sql::new(schema);
    q.alias("s", Entity::ChatSessions)
        .alias("m", Entity::ChatMessages);
    q.push("select {s.id} as id from {@chat_sessions} s where ");
    session_has_match(&mut q, text);
    q.push(" order by {s.created_at} desc, {s.id} desc limit ")
        .bind(cap as i64);
    read_interruptible(db, &q, interrupt)
        .await?
        .iter()
        .map(|r| r.id("id"))
        .collect()
}

fn require_chats(schema: &super::Schema) -> Result<(), DataError> {
    if schema.is_enabled(Entity::ChatSessions) && schema.is_enabled(Entity::ChatMessages) {
        Ok(())
    } else {
        Err(DataError::invalid(
            "this platform has no chat sessions or chat messages (disabled in the schema map)",
        ))
    }
}

/// Runs a read that `interrupt` can stop while the database works on it: PostgreSQL
/// cancels the backend's statement, SQLite's progress handler interrupts the step.
pub(crate) async fn read_interruptible(
    db: &Db,
    q: &Sql<'_>,
    interrupt: &Interrupt,
) -> Result<Vec<Row>, DataError> {
    let mut tx = db.read().await?;
    let result = match &mut tx {
        Tx::Postgres(_) => read_pg(db, &mut tx, q, interrupt).await,
        Tx::Mysql(_) => read_mysql(db, &mut tx, q, interrupt).await,
        Tx::Sqlite(_) => read_sqlite(&mut tx, q, interrupt).await,
    };
    // A cancelled statement leaves the transaction aborted: end it either way.
    let _ = tx.rollback().await;
    match result {
        Err(_) | Ok(_) if interrupt.is_stopped() => Err(DataError::Cancelled),
        other => other,
    }
}

async fn read_pg(
    db: &Db,
    tx: &mut Tx,
    q: &Sql<'_>,
    interrupt: &Interrupt,
) -> Result<Vec<Row>, DataError> {
    // Planned for its pattern each run: a generic plan cannot tell rare from common.
    let pid = tx
        .fetch_one(
            "select pg_backend_pid() as pid, \
             set_config('plan_cache_mode', 'force_custom_plan', true) as mode",
            &[],
        )
        .await?
        .int("pid")?;
    // The statement then ends with "canceling statement due to user request".
    let mut stop = Sql::raw(Backend::Postgres);
    stop.push("select pg_cancel_backend(cast(")
        .bind(pid)
        .push(" as integer)) as cancelled");
    fetch_stoppable(db, tx, q, interrupt, &stop).await
}

/// The MySQL read: on Esc, `kill query` from another connection stops the statement
/// (the connection stays open and goes back to the pool).
async fn read_mysql(
    db: &Db,
    tx: &mut Tx,
    q: &Sql<'_>,
    interrupt: &Interrupt,
) -> Result<Vec<Row>, DataError> {
    let id = tx
        .fetch_one("select connection_id() as id", &[])
        .await?
        .int("id")?;
    let mut stop = Sql::raw(Backend::Mysql);
    stop.push("kill query ").bind(id);
    fetch_stoppable(db, tx, q, interrupt, &stop).await
}

/// Runs `q` on `tx`, watching `interrupt`; once it is stopped, `stop` (naming this
/// transaction's session) runs on another connection to end the statement on the
/// server, and the read ends as cancelled.
async fn fetch_stoppable(
    db: &Db,
    tx: &mut Tx,
    q: &Sql<'_>,
    interrupt: &Interrupt,
    stop: &Sql<'_>,
) -> Result<Vec<Row>, DataError> {
    let fetch = tx.fetch_all_sql(q);
    tokio::pin!(fetch);
    loop {
        tokio::select! {
            result = &mut fetch => return result,
            _ = tokio::time::sleep(POLL) => {
                if interrupt.is_stopped() {
                    let mut other = db.read().await?;
                    other.fetch_all_sql(stop).await?;
                    other.rollback().await?;
                    return match fetch.await {
                        Ok(_) | Err(DataError::Cancelled) => Err(DataError::Cancelled),
                        Err(e) => Err(e),
                    };
                }
            }
        }
    }
}

async fn read_sqlite(
    tx: &mut Tx,
    q: &Sql<'_>,
    interrupt: &Interrupt,
) -> Result<Vec<Row>, DataError> {
    let Tx::Sqlite(inner) = tx else {
        return Err(DataError::Internal("a SQLite read on another backend"));
    };
    let flag = interrupt.0.clone();
    // SQLite calls this every thousand steps; `false` interrupts the statement.
    inner
        .lock_handle()
        .await?
        .set_progress_handler(1_000, move || !flag.load(Ordering::SeqCst));
    let result = tx.fetch_all_sql(q).await;
    if let Tx::Sqlite(inner) = tx {
        // The connection goes back to the pool: it must not keep this handler.
        inner.lock_handle().await?.remove_progress_handler();
    }
    result
}

// ---------------------------------------------------------------- trigram indexes

/// A trigram index that serves a text filter or the content search (PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextIndex {
    pub table: String,
    pub column: String,
    pub name: String,
    /// It exists already (by any name: a `gin_trgm_ops` index on the column).
    pub exists: bool,
}

impl TextIndex {
    /// The statement that creates it; `concurrently` on a platform's live tables.
    pub fn create_sql(
        &self,
        backend: Backend,
        namespace: Option<&str>,
        concurrently: bool,
    ) -> String {
        let table = match namespace {
            Some(ns) => format!(
                "{}.{}",
                super::sql::quote(backend, ns),
                super::sql::quote(backend, &self.table)
            ),
            None => super::sql::quote(backend, &self.table),
        };
        format!(
            "create index {}if not exists {} on {} using gin ({} gin_trgm_ops)",
            if concurrently { "concurrently " } else { "" },
            super::sql::quote(backend, &self.name),
            table,
            super::sql::quote(backend, &self.column)
        )
    }
}

/// The text columns the lists filter on and the search reads, as the map names them.
const SEARCHED: [(Entity, &str); 10] = [
    (Entity::ChatMessages, "content"),
    (Entity::ChatSessions, "title"),
    (Entity::ChatSessions, "model"),
    (Entity::Messages, "content"),
    (Entity::Comments, "content"),
    (Entity::Reviews, "content"),
    (Entity::Users, "username"),
    (Entity::Users, "email"),
    (Entity::Guilds, "name"),
    (Entity::Books, "title"),
];

/// Each searched column's trigram index, and whether any can be created here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexPlan {
    pub indexes: Vec<TextIndex>,
    /// `None` on PostgreSQL with `pg_trgm` available; else why nothing can be created.
    pub unavailable: Option<String>,
    /// `pg_trgm` must be created first (`create extension`).
    pub needs_extension: bool,
}

impl IndexPlan {
    pub fn missing(&self) -> impl Iterator<Item = &TextIndex> {
        self.indexes.iter().filter(|i| !i.exists)
    }
}

/// What `modcon index plan` shows: each searched column and whether its trigram index
/// is there. Changes nothing.
pub async fn plan_text_indexes(db: &Db) -> Result<IndexPlan, DataError> {
    plan_for(db, db.schema()?).await
}

async fn plan_for(db: &Db, schema: &super::Schema) -> Result<IndexPlan, DataError> {
    let mut indexes = Vec::new();
    for (entity, key) in SEARCHED {
        if !schema.is_enabled(entity) {
            continue;
        }
        let Some(column) = schema.column(entity, key) else {
            continue;
        };
        let table = schema.table_name(entity).to_string();
        let mut name = format!("{table}_{}_trgm", column.name);
        // PostgreSQL cuts identifiers at 63 bytes.
        while name.len() > 63 {
            name.remove(0);
        }
        indexes.push(TextIndex {
            table,
            column: column.name.clone(),
            name,
            exists: false,
        });
    }
    match db.backend() {
        Backend::Sqlite => {
            return Ok(IndexPlan {
                indexes,
                unavailable: Some(
                    "SQLite has no trigram indexes: searches scan the table, with progress, \
                     and Esc stops them"
                        .into(),
                ),
                needs_extension: false,
            });
        }
        Backend::Mysql => {
            return Ok(IndexPlan {
                indexes,
                unavailable: Some(
                    "MySQL has no trigram indexes (a FULLTEXT index matches words, not the \
                     literal text a filter means): searches scan the table, with progress, \
                     and Esc stops them"
                        .into(),
                ),
                needs_extension: false,
            });
        }
        Backend::Postgres => {}
    }
    let mut tx = db.read().await?;
    let mut q = Sql::raw(Backend::Postgres);
    q.push(
        "select (select count(*) from pg_available_extensions where name = 'pg_trgm') as available, \
         (select count(*) from pg_extension where extname = 'pg_trgm') as installed",
    );
    let row = tx.fetch_one_sql(&q).await?;
    let (available, installed) = (row.int("available")? > 0, row.int("installed")? > 0);
    for index in &mut indexes {
        let mut q = Sql::raw(Backend::Postgres);
        q.push(
            "select count(*) as n from pg_index i \
             join pg_class t on t.oid = i.indrelid \
             join pg_namespace n on n.oid = t.relnamespace \
             join pg_attribute a on a.attrelid = t.oid and a.attnum = i.indkey[0] \
             join pg_opclass o on o.oid = i.indclass[0] \
             where o.opcname = 'gin_trgm_ops' and i.indisvalid and t.relname = ",
        )
        .bind(index.table.clone())
        .push(" and a.attname = ")
        .bind(index.column.clone())
        .push(" and n.nspname = ");
        match &schema.namespace {
            Some(ns) => q.bind(ns.clone()),
            None => q.push("current_schema()"),
        };
        index.exists = tx.fetch_one_sql(&q).await?.int("n")? > 0;
    }
    tx.rollback().await?;
    Ok(IndexPlan {
        indexes,
        unavailable: (!available && !installed).then(|| {
            "PostgreSQL's pg_trgm extension is not available on this server (it ships with \
             postgresql-contrib): text filters and the content search scan the tables"
                .to_string()
        }),
        needs_extension: !installed,
    })
}

/// Creates what the plan lacks (admin): `pg_trgm` if needed, then each missing index,
/// `concurrently` so the platform's writes go on. Each statement that ran is on the
/// audit record. Returns the statements run, in order; on SQLite, or without
/// `pg_trgm`, an error saying why.
pub async fn create_text_indexes(db: &Db, actor: &Actor) -> Result<Vec<String>, DataError> {
    if db.is_read_only() {
        return Err(DataError::ReadOnly);
    }
    if !actor.may(Permission::CreateIndexes) {
        let refusal = DataError::Forbidden(format!(
            "{} is not allowed for role {}",
            Permission::CreateIndexes.describe(),
            actor.role
        ));
        // Refused for permission: on the audit record like every other refusal.
        super::audit::record_refusal(
            db,
            actor,
            "index.create",
            "index",
            &[],
            &refusal.to_string(),
        )
        .await;
        return Err(refusal);
    }
    let schema = db.schema()?;
    let mut done = Vec::new();
    let result = create_for(db, schema, true, &mut done).await;
    if !done.is_empty() {
        let batch = uuid::Uuid::new_v4();
        let rows: Vec<AuditRow> = done
            .iter()
            .map(|statement| AuditRow {
                action: "index.create".into(),
                target_type: "index",
                target_id: None,
                target_label: statement.clone(),
                counts: serde_json::json!({}),
                details: serde_json::json!({ "statement": statement }),
            })
            .collect();
        let mut tx = db.write().await?;
        super::audit::write(&mut tx, batch, actor, None, &rows).await?;
        tx.commit().await?;
    }
    result.map(|()| done)
}

/// `migrate` on the reference schema: creates the missing trigram indexes, or says in
/// one line why it cannot (no `pg_trgm` on the server, no right to create it) and goes
/// on: the console works without them, slower.
pub(crate) async fn reference_text_indexes(
    db: &Db,
    schema: &super::Schema,
) -> Result<Vec<String>, DataError> {
    if db.backend() != Backend::Postgres {
        return Ok(Vec::new());
    }
    let mut run = Vec::new();
    match create_for(db, schema, false, &mut run).await {
        Ok(()) => Ok(run
            .iter()
            .map(|statement| format!("text search: {statement}"))
            .collect()),
        Err(DataError::Invalid(why) | DataError::Database(why)) => Ok(vec![format!(
            "text search: no trigram indexes were created — {why}"
        )]),
        Err(e) => Err(e),
    }
}

/// Runs what the plan lacks, pushing each statement to `done` once it has run.
async fn create_for(
    db: &Db,
    schema: &super::Schema,
    concurrently: bool,
    done: &mut Vec<String>,
) -> Result<(), DataError> {
    if db.is_read_only() {
        return Err(DataError::ReadOnly);
    }
    let plan = plan_for(db, schema).await?;
    if let Some(why) = plan.unavailable {
        return Err(DataError::invalid(why));
    }
    let mut run = Vec::new();
    if plan.needs_extension {
        run.push("create extension if not exists pg_trgm".to_string());
    }
    for index in plan.missing() {
        run.push(index.create_sql(Backend::Postgres, schema.namespace.as_deref(), concurrently));
    }
    for statement in &run {
        // Outside a transaction: `create index concurrently` cannot run in one.
        execute_outside_transaction(db, statement)
            .await
            .map_err(|e| match e {
                DataError::Database(message) if statement.starts_with("create extension") => {
                    DataError::Database(format!(
                        "cannot create the pg_trgm extension ({message}): ask a database owner \
                     to run `create extension pg_trgm`, then run this again"
                    ))
                }
                other => other,
            })?;
        done.push(statement.clone());
    }
    Ok(())
}

async fn execute_outside_transaction(db: &Db, statement: &str) -> Result<(), DataError> {
    let statement = sqlx::AssertSqlSafe(statement.to_string());
    match &db.pool {
        super::Pool::Postgres(pool) => {
            sqlx::raw_sql(statement).execute(pool).await?;
        }
        super::Pool::Sqlite(pool) => {
            sqlx::raw_sql(statement).execute(pool).await?;
        }
        super::Pool::Mysql(pool) => {
            sqlx::raw_sql(statement).execute(pool).await?;
        }
    }
    Ok(())
}
