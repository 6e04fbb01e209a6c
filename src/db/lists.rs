//! What every pane lists: keyset-paged (never OFFSET), filtered by literal text, with the
//! per-row counts computed for the page only. Text fields are raw: sanitise to show.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::comments::ContentKind;
use super::schema::Entity;
use super::search::{Interrupt, read_interruptible};
use super::{Backend, DataError, Db, Id, IdKind, Row, Schema, Sql};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeCursor {
    pub at: DateTime<Utc>,
    pub id: Id,
}

impl From<TimeCursor> for SortCursor {
    fn from(c: TimeCursor) -> Self {
        SortCursor {
            value: SortValue::Time(c.at),
            id: c.id,
        }
    }
}

impl SortCursor {
    /// The time-ordered form of a cursor taken on a time column.
    fn into_time(self) -> Option<TimeCursor> {
        match self.value {
            SortValue::Time(at) => Some(TimeCursor { at, id: self.id }),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------- sorting and seeking

/// Where a page starts: at the head or the tail of the list, or beside a row already
/// shown. Pages read from the tail run the query in the opposite order, so the last
/// rows of a long list are one index walk away, not a scan through every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Seek<C> {
    First,
    After(C),
    Last,
    Before(C),
}

impl<C> Seek<C> {
    pub fn backwards(&self) -> bool {
        matches!(self, Seek::Last | Seek::Before(_))
    }

    pub(crate) fn cursor(&self) -> Option<&C> {
        match self {
            Seek::After(c) | Seek::Before(c) => Some(c),
            Seek::First | Seek::Last => None,
        }
    }
}

impl<C> From<Option<C>> for Seek<C> {
    fn from(after: Option<C>) -> Self {
        after.map_or(Seek::First, Seek::After)
    }
}

/// The value a row has in the column a list is sorted by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SortValue {
    Time(DateTime<Utc>),
    Int(i64),
    Text(String),
    /// The row's id itself (lists of a platform that keeps no better order).
    Id(Id),
}

/// A position in a list sorted by any column: that column's value, then the id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SortCursor {
    pub value: SortValue,
    pub id: Id,
}

/// A list's sort: the column and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Order<K> {
    pub key: K,
    pub descending: bool,
}

/// The sortable columns of a listing.
pub trait SortKey: Copy + Eq + Sized + 'static {
    /// Every column, the default first.
    const ALL: &'static [Self];
    /// The default's direction (newest first, names A to Z).
    fn default_descending(self) -> bool;
    /// What the list's header calls it.
    fn label(self) -> &'static str;
}

impl<K: SortKey> Default for Order<K> {
    fn default() -> Self {
        let key = K::ALL[0];
        Order {
            key,
            descending: key.default_descending(),
        }
    }
}

impl<K: SortKey> Order<K> {
    /// The next column, in its natural direction (`s`).
    pub fn cycled(self) -> Self {
        let at = K::ALL.iter().position(|k| *k == self.key).unwrap_or(0);
        let key = K::ALL[(at + 1) % K::ALL.len()];
        Order {
            key,
            descending: key.default_descending(),
        }
    }

    /// The same column the other way (`S`).
    pub fn reversed(self) -> Self {
        Order {
            key: self.key,
            descending: !self.descending,
        }
    }
}

/// How a sort column's value is read back for the next page's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    Time,
    Int,
    Text,
    Id,
}

impl ValueKind {
    pub(crate) fn read(self, row: &Row, column: &str) -> Result<SortValue, DataError> {
        Ok(match self {
            ValueKind::Time => SortValue::Time(row.time(column)?),
            ValueKind::Int => SortValue::Int(row.int(column)?),
            ValueKind::Text => SortValue::Text(row.text(column)?),
            ValueKind::Id => SortValue::Id(row.id(column)?),
        })
    }
}

/// The column a query sorts by: a non-null expression, and how its value reads.
struct SortColumn {
    expr: String,
    kind: ValueKind,
}

impl SortColumn {
    fn new(expr: &str, kind: ValueKind) -> SortColumn {
        SortColumn {
            expr: expr.to_string(),
            kind,
        }
    }
}

/// How the tie-breaking id of a keyset is bound: as its column's type, or as text
/// (lists that merge tables whose ids differ in type).
#[derive(Debug, Clone, Copy)]
pub(crate) enum TieId {
    Kind(IdKind),
    Text,
}

fn bind_value(q: &mut Sql<'_>, value: &SortValue, tie: TieId) {
    match value {
        SortValue::Time(at) => q.bind(*at),
        SortValue::Int(n) => q.bind(*n),
        SortValue::Text(text) => q.bind(text.clone()),
        SortValue::Id(id) => bind_tie(q, id, tie),
    };
}

fn bind_tie<'q, 's>(q: &'q mut Sql<'s>, id: &Id, tie: TieId) -> &'q mut Sql<'s> {
    match tie {
        TieId::Kind(kind) => q.bind_id(kind, id),
        TieId::Text => q.bind(id.to_string()),
    }
}

/// `and (key, id) < (cursor)` (`>` when reading upwards) for the seek's cursor.
pub(crate) fn seek_condition(
    q: &mut Sql<'_>,
    key: &str,
    id: &str,
    tie: TieId,
    descending: bool,
    seek: &Seek<SortCursor>,
) {
    let Some(c) = seek.cursor() else {
        return;
    };
    let descending = descending != seek.backwards();
    q.push(" and (")
        .push(key)
        .push(", ")
        .push(id)
        .push(if descending { ") < (" } else { ") > (" });
    bind_value(q, &c.value, tie);
    q.push(", ");
    bind_tie(q, &c.id, tie).push(")");
}

/// `order by key, id` in the list's direction, reversed when reading from the tail,
/// with room for the one extra row that says there is more.
pub(crate) fn seek_order(
    q: &mut Sql<'_>,
    key: &str,
    id: &str,
    descending: bool,
    backwards: bool,
    limit: usize,
) {
    let direction = if descending != backwards { " desc" } else { "" };
    q.push(" order by ")
        .push(key)
        .push(direction)
        .push(", ")
        .push(id)
        .push(direction)
        .push(" limit ")
        .bind(limit as i64 + 1);
}

/// A page from rows in query order: rows read from the tail are turned back into the
/// list's order, and their cursor is the first row's (the page before continues it).
pub(crate) fn seek_page<T>(
    rows: Vec<(T, SortCursor)>,
    limit: usize,
    backwards: bool,
) -> Page<T, SortCursor> {
    let more = rows.len() > limit;
    let mut rows = rows;
    rows.truncate(limit);
    if backwards {
        rows.reverse();
    }
    let next = if !more {
        None
    } else if backwards {
        rows.first().map(|(_, c)| c.clone())
    } else {
        rows.last().map(|(_, c)| c.clone())
    };
    Page {
        rows: rows.into_iter().map(|(row, _)| row).collect(),
        next,
    }
}

/// How much of a long text a listing fetches; details fetch the whole.
pub const EXCERPT_CHARS: i64 = 400;

// ---------------------------------------------------------------- chat sessions

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatSessionFilter {
    /// Only this session (`:goto`).
    pub id: Option<Id>,
    pub text: Option<String>,
    pub orphans_only: bool,
    pub owner_id: Option<Id>,
    pub guild_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatSessionRow {
    pub id: Id,
    pub title: String,
    pub owner_id: Option<Id>,
    pub owner_name: Option<String>,
    pub guild_id: Option<Id>,
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

/// Every list of a disabled entity says so instead of failing on a missing table.
fn require(schema: &Schema, entity: Entity) -> Result<(), DataError> {
    if schema.is_enabled(entity) {
        Ok(())
    } else {
        Err(DataError::invalid(format!(
            "this platform has no {} (disabled in the schema map)",
            entity.nouns().1
        )))
    }
}

/// A text column on the row a listed row refers to, searched by a filter: `fk` is the
/// listed row's reference (a template such as `{s.owner}`), `entity.key` the text.
struct Linked<'a> {
    fk: &'a str,
    entity: Entity,
    key: &'static str,
}

/// How many linked rows a filter's text may match for the listing to name them by id.
const LINKED_IDS: usize = 1_000;

/// The linked rows (owners, guilds, books) whose text a filter matches, looked up
/// before the listing: named by id, the listing's condition is estimated and served by
/// the reference's index (with a subquery PostgreSQL cannot estimate it and walks the
/// whole listing). More than [`LINKED_IDS`] are left to a subquery.
#[derive(Debug, Default)]
struct LinkMatches(Vec<(Entity, &'static str, IdKind, Option<Vec<Id>>)>);

impl LinkMatches {
    fn of(&self, entity: Entity, key: &str) -> Option<(IdKind, &Vec<Id>)> {
        self.0
            .iter()
            .find(|(e, k, _, _)| *e == entity && *k == key)
            .and_then(|(_, _, kind, ids)| ids.as_ref().map(|ids| (*kind, ids)))
    }
}

async fn link_matches(
    db: &Db,
    text: Option<&str>,
    wanted: &[(Entity, &'static str)],
) -> Result<LinkMatches, DataError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(LinkMatches::default());
    };
    let schema = db.schema()?;
    let pattern = like_pattern(text);
    let mut found = Vec::new();
    for (entity, key) in wanted {
        if !schema.is_enabled(*entity) || !schema.has(*entity, key) {
            continue;
        }
        let mut q = Sql::new(schema);
        q.alias("tf", *entity);
        q.push(&format!(
            "select {{tf.id}} as id from {{@{}}} tf where ",
            entity.name()
        ));
        contains(&mut q, &format!("{{tf.{key}}}"), &pattern);
        q.push(" limit ").bind(LINKED_IDS as i64 + 1);
        let ids = read_filtered(db, &q, Some(text))
            .await?
            .iter()
            .map(|r| r.id("id"))
            .collect::<Result<Vec<_>, DataError>>()?;
        let kind = schema.id_kind(*entity);
        found.push((
            *entity,
            *key,
            kind,
            (ids.len() <= LINKED_IDS).then_some(ids),
        ));
    }
    Ok(LinkMatches(found))
}

/// `column contains the pattern`, literal and case-insensitive.
fn contains(q: &mut Sql<'_>, column: &str, pattern: &str) {
    match q.backend() {
        // An `ilike` a trigram index serves; `\` is PostgreSQL's default escape.
        Backend::Postgres => {
            q.push(column).push(" ilike ").bind(pattern.to_string());
        }
        Backend::Sqlite | Backend::Mysql => {
            q.push("lower(coalesce(")
                .push(column)
                .push(", '')) like ")
                .bind(pattern.to_string())
                .push(" escape '\\'");
        }
    }
}

/// `and (a contains p or b contains p …)` for a literal, case-insensitive filter over the
/// listed row's own columns (`own`) and over rows it refers to (`linked`, looked up
/// first by [`link_matches`]), so that on PostgreSQL each condition is an index scan (a
/// trigram index on the text, the reference's index) and their union a bitmap OR.
fn text_filter(
    q: &mut Sql<'_>,
    text: Option<&str>,
    own: &[&str],
    linked: &[Linked<'_>],
    matches: &LinkMatches,
) {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return;
    };
    let pattern = like_pattern(text);
    let mut terms = 0;
    q.push(" and (");
    for column in own {
        if terms > 0 {
            q.push(" or ");
        }
        terms += 1;
        contains(q, column, &pattern);
    }
    for link in linked {
        let ids = matches.of(link.entity, link.key);
        if ids.is_some_and(|(_, ids)| ids.is_empty()) {
            continue;
        }
        if terms > 0 {
            q.push(" or ");
        }
        terms += 1;
        match ids {
            Some((kind, ids)) => {
                q.push(link.fk).push(" in (").bind_ids(kind, ids).push(")");
            }
            None => {
                q.alias("tf", link.entity);
                q.push(link.fk).push(" in (select {tf.id} from ");
                q.push(&format!("{{@{}}} tf where ", link.entity.name()));
                contains(q, &format!("{{tf.{}}}", link.key), &pattern);
                q.push(")");
            }
        }
    }
    if terms == 0 {
        q.push("1 = 0");
    }
    q.push(")");
}

/// `and ((time, id) < (cursor))` (`>` with `ascending`).
fn after_cursor(
    q: &mut Sql<'_>,
    time: &str,
    id: &str,
    kind: IdKind,
    c: &TimeCursor,
    ascending: bool,
) {
    q.push(" and (")
        .push(time)
        .push(", ")
        .push(id)
        .push(if ascending { ") > (" } else { ") < (" })
        .bind(c.at)
        .push(", ")
        .bind_id(kind, &c.id)
        .push(")");
}

/// The sessions matching `filter`; `with_names` joins the owner and guild for their
/// names (the listing), without it the statement reads `chat_sessions` alone (counts, ids).
fn chat_session_query<'s>(
    schema: &'s Schema,
    filter: &ChatSessionFilter,
    columns: &str,
    with_names: bool,
    matches: &LinkMatches,
) -> Sql<'s> {
    let mut q = Sql::new(schema);
    let guilds = schema.has(Entity::ChatSessions, "guild") && schema.is_enabled(Entity::Guilds);
    q.alias("s", Entity::ChatSessions)
        .alias("u", Entity::Users)
        .alias("m", Entity::ChatMessages);
    if guilds {
        q.alias("g", Entity::Guilds);
    }
    q.push("select ")
        .push(columns)
        .push(" from {@chat_sessions} s");
    if with_names {
        q.push(" left join {@users} u on {u.id} = {s.owner}");
        if guilds {
            q.push(" left join {@guilds} g on {g.id} = {s.guild}");
        }
    }
    q.push(" where 1 = 1");
    let sessions = schema.id_kind(Entity::ChatSessions);
    if let Some(id) = &filter.id {
        q.push(" and {s.id} = ").bind_id(sessions, id);
    }
    if filter.orphans_only {
        q.push(" and {s.owner} is null");
    }
    if let Some(owner) = &filter.owner_id {
        q.push(" and {s.owner} = ")
            .bind_id(schema.id_kind(Entity::Users), owner);
    }
    if let Some(guild) = &filter.guild_id {
        if schema.has(Entity::ChatSessions, "guild") {
            q.push(" and {s.guild} = ")
                .bind_id(schema.id_kind(Entity::Guilds), guild);
        } else {
            q.push(" and 1 = 0");
        }
    }
    let mut linked = vec![Linked {
        fk: "{s.owner}",
        entity: Entity::Users,
        key: "username",
    }];
    if guilds {
        linked.push(Linked {
            fk: "{s.guild}",
            entity: Entity::Guilds,
            key: "name",
        });
    }
    let own: &[&str] = if schema.has(Entity::ChatSessions, "model") {
        &["{s.title|''}", "{s.model}"]
    } else {
        &["{s.title|''}"]
    };
    text_filter(&mut q, filter.text.as_deref(), own, &linked, matches);
    q
}

/// The columns the session list sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SessionSort {
    Created,
    Updated,
    Messages,
    Title,
}

impl SortKey for SessionSort {
    const ALL: &'static [Self] = &[
        SessionSort::Created,
        SessionSort::Updated,
        SessionSort::Messages,
        SessionSort::Title,
    ];

    fn default_descending(self) -> bool {
        !matches!(self, SessionSort::Title)
    }

    fn label(self) -> &'static str {
        match self {
            SessionSort::Created => "Created",
            SessionSort::Updated => "Updated",
            SessionSort::Messages => "Msgs",
            SessionSort::Title => "Title",
        }
    }
}

/// The owners and guilds a session filter's text matches.
async fn chat_session_links(db: &Db, filter: &ChatSessionFilter) -> Result<LinkMatches, DataError> {
    link_matches(
        db,
        filter.text.as_deref(),
        &[(Entity::Users, "username"), (Entity::Guilds, "name")],
    )
    .await
}

/// Newest first.
pub async fn chat_sessions(
    db: &Db,
    filter: &ChatSessionFilter,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<ChatSessionRow, TimeCursor>, DataError> {
    let seek = Seek::from(after.map(SortCursor::from));
    let page = chat_sessions_sorted(db, filter, Order::default(), &seek, limit).await?;
    Ok(Page {
        rows: page.rows,
        next: page.next.and_then(SortCursor::into_time),
    })
}

/// A page of sessions in any order, from either end (see [`Seek`]). Creation time
/// pages on its index; the other columns are sorted by the database without one.
pub async fn chat_sessions_sorted(
    db: &Db,
    filter: &ChatSessionFilter,
    order: Order<SessionSort>,
    seek: &Seek<SortCursor>,
    limit: usize,
) -> Result<Page<ChatSessionRow, SortCursor>, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::ChatSessions)?;
    let guilds = schema.has(Entity::ChatSessions, "guild") && schema.is_enabled(Entity::Guilds);
    let messages = if schema.is_enabled(Entity::ChatMessages) {
        "(select count(*) from {@chat_messages} m where {m.session} = {s.id})"
    } else {
        "0"
    };
    let guild_name = if guilds { "{g.name}" } else { "null" };
    let updated = if schema.has(Entity::ChatSessions, "updated_at") {
        // A nullable column on some platforms: never-updated rows read as created.
        "coalesce({s.updated_at}, {s.created_at})"
    } else {
        "{s.created_at}"
    };
    let key = match order.key {
        SessionSort::Created => SortColumn::new("{s.created_at}", ValueKind::Time),
        SessionSort::Updated => SortColumn::new(updated, ValueKind::Time),
        SessionSort::Messages => SortColumn::new(messages, ValueKind::Int),
        SessionSort::Title => SortColumn::new("lower(coalesce({s.title|''}, ''))", ValueKind::Text),
    };
    let columns = format!(
        "{{s.id}} as id, {{s.title|''}} as title, {{s.owner}} as user_id, \
         {{u.username}} as owner_name, {{s.guild|null}} as guild_id, {guild_name} as guild_name, \
         {{s.model|''}} as model, {{s.created_at}} as created_at, {updated} as updated_at, \
         {messages} as messages, {} as sort_key",
        key.expr
    );
    let matches = chat_session_links(db, filter).await?;
    let mut q = chat_session_query(schema, filter, &columns, true, &matches);
    let tie = TieId::Kind(schema.id_kind(Entity::ChatSessions));
    seek_condition(&mut q, &key.expr, "{s.id}", tie, order.descending, seek);
    seek_order(
        &mut q,
        &key.expr,
        "{s.id}",
        order.descending,
        seek.backwards(),
        limit,
    );
    let rows = read_filtered(db, &q, filter.text.as_deref()).await?;
    let rows = rows
        .iter()
        .map(|r| {
            let row = ChatSessionRow {
                id: r.id("id")?,
                title: r.opt_text("title")?.unwrap_or_default(),
                owner_id: r.opt_id("user_id")?,
                owner_name: r.opt_text("owner_name")?,
                guild_id: r.opt_id("guild_id")?,
                guild_name: r.opt_text("guild_name")?,
                model: r.opt_text("model")?.unwrap_or_default(),
                messages: r.int("messages")?,
                created_at: r.time("created_at")?,
                updated_at: r.time("updated_at")?,
            };
            let cursor = SortCursor {
                value: key.kind.read(r, "sort_key")?,
                id: row.id.clone(),
            };
            Ok((row, cursor))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(seek_page(rows, limit, seek.backwards()))
}

/// How many sessions match the filter: the total beside a listing's first page.
pub async fn count_chat_sessions(db: &Db, filter: &ChatSessionFilter) -> Result<i64, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::ChatSessions)?;
    let matches = chat_session_links(db, filter).await?;
    let q = chat_session_query(schema, filter, "count(*) as n", false, &matches);
    read_count(db, &q, filter.text.as_deref()).await
}

/// Every id matching the filter, newest first, up to `cap` (for "mark all").
pub async fn chat_session_ids(
    db: &Db,
    filter: &ChatSessionFilter,
    cap: usize,
) -> Result<Vec<Id>, DataError> {
    chat_session_ids_until(db, filter, cap, &Interrupt::new()).await
}

/// [`chat_session_ids`] that `interrupt` stops on the server: ids only, one statement.
pub async fn chat_session_ids_until(
    db: &Db,
    filter: &ChatSessionFilter,
    cap: usize,
    interrupt: &Interrupt,
) -> Result<Vec<Id>, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::ChatSessions)?;
    let matches = chat_session_links(db, filter).await?;
    let mut q = chat_session_query(schema, filter, "{s.id} as id", false, &matches);
    q.push(" order by {s.created_at} desc, {s.id} desc limit ")
        .bind(cap as i64);
    read_interruptible(db, &q, interrupt)
        .await?
        .iter()
        .map(|r| r.id("id"))
        .collect()
}

// ---------------------------------------------------------------- chat messages

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatMessageRow {
    pub id: Id,
    pub session_id: Id,
    pub author_id: Option<Id>,
    pub author_name: Option<String>,
    pub role: String,
    pub excerpt: String,
    pub length: i64,
    pub created_at: DateTime<Utc>,
}

/// A session's messages, oldest first.
pub async fn chat_messages(
    db: &Db,
    session_id: &Id,
    text: Option<&str>,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<ChatMessageRow, TimeCursor>, DataError> {
    let seek = Seek::from(after.map(SortCursor::from));
    let page = chat_messages_seek(db, session_id, text, &seek, limit).await?;
    Ok(Page {
        rows: page.rows,
        next: page.next.and_then(SortCursor::into_time),
    })
}

/// A session's messages, oldest first, from either end.
pub async fn chat_messages_seek(
    db: &Db,
    session_id: &Id,
    text: Option<&str>,
    seek: &Seek<SortCursor>,
    limit: usize,
) -> Result<Page<ChatMessageRow, SortCursor>, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::ChatMessages)?;
    let mut q = chat_message_query(
        schema,
        session_id,
        text,
        "{m.id} as id, {m.session} as session_id, {m.author|null} as author_id, \
         {u.username} as author_name, {m.role|''} as role, \
         substr({m.content}, 1, 400) as excerpt, {len}({m.content}) as length, \
         {m.created_at} as created_at",
    );
    let tie = TieId::Kind(schema.id_kind(Entity::ChatMessages));
    seek_condition(&mut q, "{m.created_at}", "{m.id}", tie, false, seek);
    seek_order(
        &mut q,
        "{m.created_at}",
        "{m.id}",
        false,
        seek.backwards(),
        limit,
    );
    let rows = read_all(db, &q).await?;
    let rows = rows
        .iter()
        .map(|r| {
            let row = ChatMessageRow {
                id: r.id("id")?,
                session_id: r.id("session_id")?,
                author_id: r.opt_id("author_id")?,
                author_name: r.opt_text("author_name")?,
                role: r.opt_text("role")?.unwrap_or_default(),
                excerpt: r.text("excerpt")?,
                length: r.int("length")?,
                created_at: r.time("created_at")?,
            };
            let cursor = SortCursor {
                value: SortValue::Time(row.created_at),
                id: row.id.clone(),
            };
            Ok((row, cursor))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(seek_page(rows, limit, seek.backwards()))
}

fn chat_message_query<'s>(
    schema: &'s Schema,
    session_id: &Id,
    text: Option<&str>,
    columns: &str,
) -> Sql<'s> {
    let mut q = Sql::new(schema);
    q.alias("m", Entity::ChatMessages).alias("u", Entity::Users);
    q.push("select ")
        .push(columns)
        .push(
            " from {@chat_messages} m left join {@users} u on {u.id} = {m.author|null} \
             where {m.session} = ",
        )
        .bind_id(schema.id_kind(Entity::ChatSessions), session_id);
    text_filter(&mut q, text, &["{m.content}"], &[], &LinkMatches::default());
    q
}

/// How many of a session's messages match the text filter.
pub async fn count_chat_messages(
    db: &Db,
    session_id: &Id,
    text: Option<&str>,
) -> Result<i64, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::ChatMessages)?;
    let q = chat_message_query(schema, session_id, text, "count(*) as n");
    read_count(db, &q, text).await
}

// ---------------------------------------------------------------- private messages

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivateMessageRow {
    pub id: Id,
    pub sender_id: Option<Id>,
    pub sender_name: Option<String>,
    pub recipient_id: Option<Id>,
    pub recipient_name: Option<String>,
    pub excerpt: String,
    pub length: i64,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateMessageFilter {
    /// Only this message (`:goto`).
    pub id: Option<Id>,
    pub text: Option<String>,
    /// Sent or received by this user.
    pub user_id: Option<Id>,
}

/// The conditions of a private-message filter, over `p` joined to `su` and `ru`.
fn private_message_filter(
    q: &mut Sql<'_>,
    schema: &Schema,
    filter: &PrivateMessageFilter,
    matches: &LinkMatches,
) {
    if let Some(id) = &filter.id {
        q.push(" and {p.id} = ")
            .bind_id(schema.id_kind(Entity::Messages), id);
    }
    if let Some(user) = &filter.user_id {
        let users = schema.id_kind(Entity::Users);
        q.push(" and ({p.sender} = ")
            .bind_id(users, user)
            .push(" or {p.recipient} = ")
            .bind_id(users, user)
            .push(")");
    }
    text_filter(
        q,
        filter.text.as_deref(),
        &["{p.content}"],
        &[
            Linked {
                fk: "{p.sender}",
                entity: Entity::Users,
                key: "username",
            },
            Linked {
                fk: "{p.recipient}",
                entity: Entity::Users,
                key: "username",
            },
        ],
        matches,
    );
}

/// How many private messages match the filter.
pub async fn count_private_messages(
    db: &Db,
    filter: &PrivateMessageFilter,
) -> Result<i64, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::Messages)?;
    let mut q = Sql::new(schema);
    q.alias("p", Entity::Messages)
        .alias("su", Entity::Users)
        .alias("ru", Entity::Users);
    q.push(
        "select count(*) as n from {@messages} p \
         left join {@users} su on {su.id} = {p.sender} \
         left join {@users} ru on {ru.id} = {p.recipient} where 1 = 1",
    );
    let matches = link_matches(db, filter.text.as_deref(), &[(Entity::Users, "username")]).await?;
    private_message_filter(&mut q, schema, filter, &matches);
    read_count(db, &q, filter.text.as_deref()).await
}

/// Newest first.
pub async fn private_messages(
    db: &Db,
    filter: &PrivateMessageFilter,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<PrivateMessageRow, TimeCursor>, DataError> {
    let seek = Seek::from(after.map(SortCursor::from));
    let page = private_messages_seek(db, filter, &seek, limit).await?;
    Ok(Page {
        rows: page.rows,
        next: page.next.and_then(SortCursor::into_time),
    })
}

/// Newest first, from either end.
pub async fn private_messages_seek(
    db: &Db,
    filter: &PrivateMessageFilter,
    seek: &Seek<SortCursor>,
    limit: usize,
) -> Result<Page<PrivateMessageRow, SortCursor>, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::Messages)?;
    let mut q = Sql::new(schema);
    q.alias("p", Entity::Messages)
        .alias("su", Entity::Users)
        .alias("ru", Entity::Users);
    q.push(
        "select {p.id} as id, {p.sender} as sender_id, {su.username} as sender_name, \
         {p.recipient} as recipient_id, {ru.username} as recipient_name, \
         substr({p.content}, 1, 400) as excerpt, {len}({p.content}) as length, \
         {p.created_at} as created_at, {p.read_at|null} as read_at from {@messages} p \
         left join {@users} su on {su.id} = {p.sender} \
         left join {@users} ru on {ru.id} = {p.recipient} where 1 = 1",
    );
    let matches = link_matches(db, filter.text.as_deref(), &[(Entity::Users, "username")]).await?;
    private_message_filter(&mut q, schema, filter, &matches);
    let tie = TieId::Kind(schema.id_kind(Entity::Messages));
    seek_condition(&mut q, "{p.created_at}", "{p.id}", tie, true, seek);
    seek_order(
        &mut q,
        "{p.created_at}",
        "{p.id}",
        true,
        seek.backwards(),
        limit,
    );
    let rows = read_filtered(db, &q, filter.text.as_deref()).await?;
    let rows = rows
        .iter()
        .map(|r| {
            let row = PrivateMessageRow {
                id: r.id("id")?,
                sender_id: r.opt_id("sender_id")?,
                sender_name: r.opt_text("sender_name")?,
                recipient_id: r.opt_id("recipient_id")?,
                recipient_name: r.opt_text("recipient_name")?,
                excerpt: r.text("excerpt")?,
                length: r.int("length")?,
                created_at: r.time("created_at")?,
                read_at: r.opt_time("read_at")?,
            };
            let cursor = SortCursor {
                value: SortValue::Time(row.created_at),
                id: row.id.clone(),
            };
            Ok((row, cursor))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(seek_page(rows, limit, seek.backwards()))
}

// ---------------------------------------------------------------- comments and reviews

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentRow {
    pub kind: ContentKind,
    pub id: Id,
    pub book_id: Option<Id>,
    pub book_title: String,
    pub author_id: Option<Id>,
    pub author_name: Option<String>,
    pub rating: Option<i64>,
    pub excerpt: String,
    pub length: i64,
    /// `None` where the platform has no version column.
    pub version: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentFilter {
    pub text: Option<String>,
    /// Only comments or only reviews; both when `None`.
    pub kind: Option<ContentKind>,
    pub user_id: Option<Id>,
}

/// The columns the comments-and-reviews list sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ContentSort {
    Updated,
    Created,
    Author,
}

impl SortKey for ContentSort {
    const ALL: &'static [Self] = &[
        ContentSort::Updated,
        ContentSort::Created,
        ContentSort::Author,
    ];

    fn default_descending(self) -> bool {
        !matches!(self, ContentSort::Author)
    }

    fn label(self) -> &'static str {
        match self {
            ContentSort::Updated => "Updated",
            ContentSort::Created => "Created",
            ContentSort::Author => "Author",
        }
    }
}

/// One kind's rows of the merged list; `page` is the order and seek of a listing, or
/// `None` for a count.
fn content_branch(
    q: &mut Sql<'_>,
    schema: &Schema,
    kind: ContentKind,
    filter: &ContentFilter,
    page: Option<(Order<ContentSort>, &Seek<SortCursor>, usize)>,
    matches: &LinkMatches,
) {
    let entity = kind.entity();
    let with_book = schema.has(entity, "book") && schema.is_enabled(Entity::Books);
    let (c, b, u) = match kind {
        ContentKind::Comment => ("c", "b", "u"),
        ContentKind::Review => ("r", "rb", "ru"),
    };
    q.alias(c, entity).alias(u, Entity::Users);
    if with_book {
        q.alias(b, Entity::Books);
    }
    let t = |template: &str| {
        template
            .replace("{c.", &format!("{{{c}."))
            .replace("{b.", &format!("{{{b}."))
            .replace("{u.", &format!("{{{u}."))
    };
    let updated = match schema.column(entity, "updated_at") {
        // A nullable column on some platforms: never-updated rows sort as created.
        Some(column) if column.nullable => "coalesce({c.updated_at}, {c.created_at})",
        // The plain column, so its index serves the order.
        Some(_) => "{c.updated_at}",
        None => "{c.created_at}",
    };
    let key = match page.map(|(order, _, _)| order.key) {
        Some(ContentSort::Created) => "{c.created_at}",
        Some(ContentSort::Author) => "lower(coalesce({u.username}, ''))",
        Some(ContentSort::Updated) | None => updated,
    };
    if page.is_none() {
        q.push(&t(&format!(
            "select count(*) as n from {{@{}}} {c}",
            entity.name()
        )));
    } else {
        q.push(&t(&format!(
            "select '{}' as kind, cast({{c.id}} as {{text}}) as id, {{c.book|null}} as book_id, \
             {} as book_title, {{c.author}} as user_id, {{u.username}} as author_name, \
             {} as rating, substr({{c.content}}, 1, 400) as excerpt, \
             {{len}}({{c.content}}) as length, {{c.version|cast(null as integer)}} as version, \
             {{c.created_at}} as created_at, {updated} as updated_at, {key} as sort_key \
             from {{@{}}} {c}",
            kind.as_str(),
            if with_book { "{b.title}" } else { "''" },
            if kind == ContentKind::Review {
                "{c.rating}"
            } else {
                "cast(null as {int})"
            },
            entity.name()
        )));
    }
    if with_book {
        q.push(&t(&format!(
            " left join {{@books}} {b} on {{b.id}} = {{c.book}}"
        )));
    }
    q.push(&t(&format!(
        " left join {{@users}} {u} on {{u.id}} = {{c.author}} where 1 = 1"
    )));
    if let Some(user) = &filter.user_id {
        q.push(&t(" and {c.author} = "))
            .bind_id(schema.id_kind(Entity::Users), user);
    }
    let (content, author, book) = (t("{c.content}"), t("{c.author}"), t("{c.book}"));
    let mut linked = vec![Linked {
        fk: &author,
        entity: Entity::Users,
        key: "username",
    }];
    if with_book {
        linked.push(Linked {
            fk: &book,
            entity: Entity::Books,
            key: "title",
        });
    }
    text_filter(q, filter.text.as_deref(), &[&content], &linked, matches);
    if let Some((order, seek, limit)) = page {
        let id = t("cast({c.id} as {text})");
        seek_condition(q, &t(key), &id, TieId::Text, order.descending, seek);
        seek_order(q, &t(key), &id, order.descending, seek.backwards(), limit);
    }
}

/// The kinds a content filter lists, of those the platform has.
fn content_kinds(schema: &Schema, filter: &ContentFilter) -> Result<Vec<ContentKind>, DataError> {
    let kinds: Vec<ContentKind> = match filter.kind {
        Some(kind) => vec![kind],
        None => vec![ContentKind::Comment, ContentKind::Review],
    };
    let kinds: Vec<ContentKind> = kinds
        .into_iter()
        .filter(|k| schema.is_enabled(k.entity()))
        .collect();
    if kinds.is_empty() {
        require(schema, ContentKind::Comment.entity())?;
        require(schema, ContentKind::Review.entity())?;
    }
    Ok(kinds)
}

/// Comments and reviews together, most recently changed first. Ids of the two kinds
/// may be of different types, so the merged list orders and pages by their text form.
pub async fn content(
    db: &Db,
    filter: &ContentFilter,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<ContentRow, TimeCursor>, DataError> {
    let seek = Seek::from(after.map(|c| SortCursor {
        value: SortValue::Time(c.at),
        id: Id::Text(c.id.to_string()),
    }));
    let page = content_sorted(db, filter, Order::default(), &seek, limit).await?;
    Ok(Page {
        rows: page.rows,
        next: page.next.and_then(SortCursor::into_time),
    })
}

/// Comments and reviews in any order, from either end.
pub async fn content_sorted(
    db: &Db,
    filter: &ContentFilter,
    order: Order<ContentSort>,
    seek: &Seek<SortCursor>,
    limit: usize,
) -> Result<Page<ContentRow, SortCursor>, DataError> {
    let schema = db.schema()?;
    let kinds = content_kinds(schema, filter)?;
    let matches = link_matches(
        db,
        filter.text.as_deref(),
        &[(Entity::Users, "username"), (Entity::Books, "title")],
    )
    .await?;
    let mut q = Sql::new(schema);
    q.push("select * from (");
    for (i, kind) in kinds.iter().enumerate() {
        if i > 0 {
            q.push(" union all ");
        }
        q.push("select * from (");
        content_branch(
            &mut q,
            schema,
            *kind,
            filter,
            Some((order, seek, limit)),
            &matches,
        );
        q.push(if i == 0 { ") as part_a" } else { ") as part_b" });
    }
    q.push(") as content");
    seek_order(
        &mut q,
        "sort_key",
        "id",
        order.descending,
        seek.backwards(),
        limit,
    );
    let value_kind = match order.key {
        ContentSort::Author => ValueKind::Text,
        ContentSort::Updated | ContentSort::Created => ValueKind::Time,
    };
    let rows = read_filtered(db, &q, filter.text.as_deref()).await?;
    let rows = rows
        .iter()
        .map(|r| {
            let kind = if r.text("kind")? == "review" {
                ContentKind::Review
            } else {
                ContentKind::Comment
            };
            let id_text = r.text("id")?;
            let id = schema
                .id_kind(kind.entity())
                .parse(&id_text)
                .unwrap_or(Id::Text(id_text.clone()));
            let content = r.text("excerpt")?;
            let rating = r.opt_int("rating")?;
            let row = ContentRow {
                kind,
                id,
                book_id: r.opt_id("book_id")?,
                book_title: r.opt_text("book_title")?.unwrap_or_default(),
                author_id: r.opt_id("user_id")?,
                author_name: r.opt_text("author_name")?,
                rating,
                length: r.int("length")?,
                version: r.opt_int("version")?,
                excerpt: content,
                created_at: r.time("created_at")?,
                updated_at: r.time("updated_at")?,
            };
            let cursor = SortCursor {
                value: value_kind.read(r, "sort_key")?,
                id: Id::Text(id_text),
            };
            Ok((row, cursor))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(seek_page(rows, limit, seek.backwards()))
}

/// How many comments and reviews match the filter.
pub async fn count_content(db: &Db, filter: &ContentFilter) -> Result<i64, DataError> {
    let schema = db.schema()?;
    let kinds = content_kinds(schema, filter)?;
    let mut q = Sql::new(schema);
    q.push("select cast(coalesce(sum(n), 0) as {bigint}) as n from (");
    for (i, kind) in kinds.iter().enumerate() {
        if i > 0 {
            q.push(" union all ");
        }
        q.push("select * from (");
        content_branch(&mut q, schema, *kind, filter, None, &LinkMatches::default());
        q.push(if i == 0 { ") as part_a" } else { ") as part_b" });
    }
    q.push(") as counts");
    read_count(db, &q, filter.text.as_deref()).await
}

// ---------------------------------------------------------------- guilds

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuildRow {
    pub id: Id,
    pub name: String,
    pub owner_id: Option<Id>,
    pub owner_name: Option<String>,
    pub members: i64,
    pub chat_sessions: i64,
    pub messages: i64,
    pub settings: i64,
    pub created_at: DateTime<Utc>,
}

/// Newest first (by id where the platform keeps no creation time).
pub async fn guilds(
    db: &Db,
    text: Option<&str>,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<GuildRow, TimeCursor>, DataError> {
    let timed = db.schema()?.has(Entity::Guilds, "created_at");
    let seek = Seek::from(after.map(|c| match timed {
        true => SortCursor::from(c),
        false => SortCursor {
            value: SortValue::Id(c.id.clone()),
            id: c.id,
        },
    }));
    let page = guilds_seek(db, text, &seek, limit).await?;
    Ok(Page {
        rows: page.rows,
        next: page.next.map(|c| TimeCursor {
            at: match c.value {
                SortValue::Time(at) => at,
                _ => DateTime::<Utc>::default(),
            },
            id: c.id,
        }),
    })
}

/// Newest first, from either end.
pub async fn guilds_seek(
    db: &Db,
    text: Option<&str>,
    seek: &Seek<SortCursor>,
    limit: usize,
) -> Result<Page<GuildRow, SortCursor>, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::Guilds)?;
    let mut q = Sql::new(schema);
    q.alias("g", Entity::Guilds)
        .alias("u", Entity::Users)
        .alias("gm", Entity::GuildMembers)
        .alias("s", Entity::ChatSessions)
        .alias("m", Entity::ChatMessages)
        .alias("gs", Entity::GuildSettings);
    let owner = schema.has(Entity::Guilds, "owner");
    let sessions =
        schema.is_enabled(Entity::ChatSessions) && schema.has(Entity::ChatSessions, "guild");
    q.push("select {g.id} as id, {g.name} as name, {g.owner|null} as owner_id, ");
    q.push(if owner { "{u.username}" } else { "null" })
        .push(" as owner_name, {g.created_at|null} as created_at, ");
    q.push(if schema.is_enabled(Entity::GuildMembers) {
        "(select count(*) from {@guild_members} gm where {gm.guild} = {g.id})"
    } else {
        "0"
    })
    .push(" as members, ");
    q.push(if sessions {
        "(select count(*) from {@chat_sessions} s where {s.guild} = {g.id})"
    } else {
        "0"
    })
    .push(" as chat_sessions, ");
    q.push(if sessions && schema.is_enabled(Entity::ChatMessages) {
        "(select count(*) from {@chat_messages} m join {@chat_sessions} s \
         on {s.id} = {m.session} where {s.guild} = {g.id})"
    } else {
        "0"
    })
    .push(" as messages, ");
    q.push(if schema.is_enabled(Entity::GuildSettings) {
        "(select count(*) from {@guild_settings} gs where {gs.guild} = {g.id})"
    } else {
        "0"
    })
    .push(" as settings from {@guilds} g");
    if owner {
        q.push(" left join {@users} u on {u.id} = {g.owner}");
    }
    q.push(" where 1 = 1");
    let matches = link_matches(db, text, &[(Entity::Users, "username")]).await?;
    guild_filter(&mut q, text, owner, &matches);
    let key = if schema.has(Entity::Guilds, "created_at") {
        SortColumn::new("{g.created_at}", ValueKind::Time)
    } else {
        SortColumn::new("{g.id}", ValueKind::Id)
    };
    let tie = TieId::Kind(schema.id_kind(Entity::Guilds));
    seek_condition(&mut q, &key.expr, "{g.id}", tie, true, seek);
    seek_order(&mut q, &key.expr, "{g.id}", true, seek.backwards(), limit);
    let rows = read_filtered(db, &q, text).await?;
    let rows = rows
        .iter()
        .map(|r| {
            let row = GuildRow {
                id: r.id("id")?,
                name: r.text("name")?,
                owner_id: r.opt_id("owner_id")?,
                owner_name: r.opt_text("owner_name")?,
                members: r.int("members")?,
                chat_sessions: r.int("chat_sessions")?,
                messages: r.int("messages")?,
                settings: r.int("settings")?,
                created_at: r.opt_time("created_at")?.unwrap_or_default(),
            };
            let value = match key.kind {
                ValueKind::Time => SortValue::Time(row.created_at),
                _ => SortValue::Id(row.id.clone()),
            };
            let cursor = SortCursor {
                value,
                id: row.id.clone(),
            };
            Ok((row, cursor))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(seek_page(rows, limit, seek.backwards()))
}

/// How many guilds match the text filter.
pub async fn count_guilds(db: &Db, text: Option<&str>) -> Result<i64, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::Guilds)?;
    let mut q = Sql::new(schema);
    q.alias("g", Entity::Guilds).alias("u", Entity::Users);
    let owner = schema.has(Entity::Guilds, "owner");
    q.push("select count(*) as n from {@guilds} g where 1 = 1");
    let matches = link_matches(db, text, &[(Entity::Users, "username")]).await?;
    guild_filter(&mut q, text, owner, &matches);
    read_count(db, &q, text).await
}

/// A guild filter: its name, or its owner's.
fn guild_filter(q: &mut Sql<'_>, text: Option<&str>, owner: bool, matches: &LinkMatches) {
    let linked: &[Linked<'_>] = if owner {
        &[Linked {
            fk: "{g.owner}",
            entity: Entity::Users,
            key: "username",
        }]
    } else {
        &[]
    };
    text_filter(q, text, &["{g.name}"], linked, matches);
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuildMemberRow {
    pub user_id: Id,
    pub username: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

/// A guild's members, earliest first.
pub async fn guild_members(
    db: &Db,
    guild_id: &Id,
    after: Option<TimeCursor>,
    limit: usize,
) -> Result<Page<GuildMemberRow, TimeCursor>, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::GuildMembers)?;
    let mut q = Sql::new(schema);
    q.alias("gm", Entity::GuildMembers)
        .alias("u", Entity::Users);
    let joined = if schema.has(Entity::GuildMembers, "joined_at") {
        "{gm.joined_at}"
    } else {
        "{u.created_at|null}"
    };
    q.push(&format!(
        "select {{gm.user}} as user_id, {{u.username}} as username, {{gm.role|''}} as role, \
         {joined} as joined_at from {{@guild_members}} gm \
         join {{@users}} u on {{u.id}} = {{gm.user}} where {{gm.guild}} = "
    ))
    .bind_id(schema.id_kind(Entity::Guilds), guild_id);
    if let Some(c) = &after {
        after_cursor(
            &mut q,
            joined,
            "{gm.user}",
            schema.id_kind(Entity::Users),
            c,
            true,
        );
    }
    q.push(&format!(" order by {joined}, {{gm.user}} limit "))
        .bind(limit as i64 + 1);
    let rows = read_all(db, &q).await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(GuildMemberRow {
                user_id: r.id("user_id")?,
                username: r.text("username")?,
                role: r.opt_text("role")?.unwrap_or_default(),
                joined_at: r.opt_time("joined_at")?.unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(Page::from_rows(rows, limit, |r| TimeCursor {
        at: r.joined_at,
        id: r.user_id.clone(),
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
    guild_id: &Id,
    limit: usize,
) -> Result<Vec<GuildSettingRow>, DataError> {
    let schema = db.schema()?;
    require(schema, Entity::GuildSettings)?;
    let mut q = Sql::new(schema);
    q.alias("gs", Entity::GuildSettings).push(
        "select {gs.key} as \"key\", substr({gs.value}, 1, 400) as \"value\" \
         from {@guild_settings} gs where {gs.guild} = ",
    );
    q.bind_id(schema.id_kind(Entity::Guilds), guild_id)
        .push(" order by {gs.key} limit ")
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
    pub id: Id,
    pub username: String,
    pub email: String,
    pub role: String,
    pub is_protected: bool,
    pub is_service: bool,
    pub is_active: bool,
    /// Soft-deleted (SPEC §8).
    pub is_deleted: bool,
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
    /// Show soft-deleted users too.
    pub include_deleted: bool,
}

fn user_query<'s>(schema: &'s Schema, sort_key: &str) -> Sql<'s> {
    let mut q = Sql::new(schema);
    q.alias("u", Entity::Users)
        .alias("g", Entity::Guilds)
        .alias("c", Entity::Comments)
        .alias("r", Entity::Reviews)
        .alias("p", Entity::Messages)
        .alias("s", Entity::ChatSessions);
    q.push(
        "select {u.id} as id, {u.username} as username, {u.email|''} as email, \
         {u.role} as role, ({u.protected|1 = 0}) as is_protected, \
         ({u.service|1 = 0}) as is_service, ({u.active|1 = 1}) as is_active, \
         o.locked_until as locked_until, {u.created_at|null} as created_at, \
         ",
    );
    q.push(sort_key).push(" as sort_key, ");
    super::actor::deleted_flag(&mut q, schema, "u");
    let count = |q: &mut Sql<'_>, entity: Entity, sql: &str, name: &str| {
        if schema.is_enabled(entity) {
            q.push(", ").push(sql);
        } else {
            q.push(", 0");
        }
        q.push(" as ").push(name);
    };
    if schema.has(Entity::Guilds, "owner") {
        count(
            &mut q,
            Entity::Guilds,
            "(select count(*) from {@guilds} g where {g.owner} = {u.id})",
            "owned_guilds",
        );
    } else {
        q.push(", 0 as owned_guilds");
    }
    count(
        &mut q,
        Entity::Comments,
        "(select count(*) from {@comments} c where {c.author} = {u.id})",
        "comments",
    );
    count(
        &mut q,
        Entity::Reviews,
        "(select count(*) from {@reviews} r where {r.author} = {u.id})",
        "reviews",
    );
    count(
        &mut q,
        Entity::Messages,
        "(select count(*) from {@messages} p where {p.sender} = {u.id})",
        "messages",
    );
    count(
        &mut q,
        Entity::ChatSessions,
        "(select count(*) from {@chat_sessions} s where {s.owner} = {u.id})",
        "chat_sessions",
    );
    q.push(
        " from {@users} u left join {#modcon_operators} o \
         on o.user_id = cast({u.id} as {text}) where 1 = 1",
    );
    q
}

fn user_row(r: &Row) -> Result<UserRow, DataError> {
    Ok(UserRow {
        id: r.id("id")?,
        username: r.text("username")?,
        email: r.opt_text("email")?.unwrap_or_default(),
        role: r.text("role")?,
        is_protected: r.bool("is_protected")?,
        is_service: r.bool("is_service")?,
        is_active: r.bool("is_active")?,
        is_deleted: r.bool("is_deleted")?,
        locked_until: r.opt_time("locked_until")?,
        owned_guilds: r.int("owned_guilds")?,
        comments: r.int("comments")?,
        reviews: r.int("reviews")?,
        messages: r.int("messages")?,
        chat_sessions: r.int("chat_sessions")?,
        created_at: r.opt_time("created_at")?.unwrap_or_default(),
    })
}

/// The conditions of a user filter, over `u`.
fn user_filter(q: &mut Sql<'_>, schema: &Schema, filter: &UserFilter) {
    if let Some(role) = filter.role {
        let values = schema.role_values(role);
        if values.is_empty() {
            q.push(" and 1 = 0");
        } else {
            q.push(" and {u.role} in (");
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(value.clone());
            }
            q.push(")");
        }
    }
    if !filter.include_deleted
        && let Some(soft) = &schema.soft_delete
    {
        q.push(" and u.").ident(&soft.at.name).push(" is null");
    }
    text_filter(
        q,
        filter.text.as_deref(),
        &["{u.username}", "{u.email|''}"],
        &[],
        &LinkMatches::default(),
    );
}

/// How many users match the filter.
pub async fn count_users(db: &Db, filter: &UserFilter) -> Result<i64, DataError> {
    let schema = db.schema()?;
    let mut q = Sql::new(schema);
    q.alias("u", Entity::Users);
    q.push("select count(*) as n from {@users} u where 1 = 1");
    user_filter(&mut q, schema, filter);
    read_count(db, &q, filter.text.as_deref()).await
}

/// The columns the user list sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum UserSort {
    Name,
    Created,
    Role,
}

impl SortKey for UserSort {
    const ALL: &'static [Self] = &[UserSort::Name, UserSort::Created, UserSort::Role];

    fn default_descending(self) -> bool {
        matches!(self, UserSort::Created)
    }

    fn label(self) -> &'static str {
        match self {
            UserSort::Name => "Username",
            UserSort::Created => "Created",
            UserSort::Role => "Role",
        }
    }
}

/// By name. Never reads password hashes. Soft-deleted users only when asked.
pub async fn users(
    db: &Db,
    filter: &UserFilter,
    after: Option<NameCursor>,
    limit: usize,
) -> Result<Page<UserRow, NameCursor>, DataError> {
    // Names are unique case-insensitively: the name alone places a row.
    let seek = Seek::from(after.map(|NameCursor(name)| SortCursor {
        value: SortValue::Text(name),
        id: Id::Text(String::new()),
    }));
    let page = users_sorted(db, filter, Order::default(), &seek, limit).await?;
    Ok(Page {
        rows: page.rows,
        next: page.next.map(|c| match c.value {
            SortValue::Text(name) => NameCursor(name),
            _ => NameCursor(String::new()),
        }),
    })
}

/// Users in any order, from either end. Names are unique, so sorting by name pages on
/// the name alone (and its index); the other columns break ties by id.
pub async fn users_sorted(
    db: &Db,
    filter: &UserFilter,
    order: Order<UserSort>,
    seek: &Seek<SortCursor>,
    limit: usize,
) -> Result<Page<UserRow, SortCursor>, DataError> {
    let schema = db.schema()?;
    let key = match order.key {
        UserSort::Name => SortColumn::new(name_key(schema), ValueKind::Text),
        UserSort::Created if schema.has(Entity::Users, "created_at") => {
            SortColumn::new("{u.created_at}", ValueKind::Time)
        }
        UserSort::Created => {
            return Err(DataError::invalid(
                "this platform keeps no creation time for users",
            ));
        }
        UserSort::Role => SortColumn::new("{u.role}", ValueKind::Text),
    };
    let mut q = user_query(schema, &key.expr);
    user_filter(&mut q, schema, filter);
    let tie = TieId::Kind(schema.id_kind(Entity::Users));
    if order.key == UserSort::Name {
        if let Some(c) = seek.cursor() {
            let descending = order.descending != seek.backwards();
            q.push(" and ")
                .push(name_key(schema))
                .push(if descending { " < " } else { " > " });
            bind_value(&mut q, &c.value, tie);
        }
        q.push(" order by ").push(name_key(schema));
        if order.descending != seek.backwards() {
            q.push(" desc");
        }
        q.push(" limit ").bind(limit as i64 + 1);
    } else {
        seek_condition(&mut q, &key.expr, "{u.id}", tie, order.descending, seek);
        seek_order(
            &mut q,
            &key.expr,
            "{u.id}",
            order.descending,
            seek.backwards(),
            limit,
        );
    }
    let rows = read_filtered(db, &q, filter.text.as_deref()).await?;
    let rows = rows
        .iter()
        .map(|r| {
            let row = user_row(r)?;
            let cursor = SortCursor {
                value: key.kind.read(r, "sort_key")?,
                id: row.id.clone(),
            };
            Ok((row, cursor))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok(seek_page(rows, limit, seek.backwards()))
}

/// A user's name as the key it sorts and compares by: lower-cased, and on MySQL as
/// bytes (its collations call `admin` and `admin ` the same; see [`Sql::lower`]).
fn name_key(schema: &Schema) -> &'static str {
    match schema.backend {
        super::Backend::Mysql => "cast(lower({u.username}) as binary)",
        super::Backend::Postgres | super::Backend::Sqlite => "lower({u.username})",
    }
}

/// Finds a user by name, case-insensitively.
pub async fn user_by_name(db: &Db, username: &str) -> Result<Option<UserRow>, DataError> {
    let schema = db.schema()?;
    let mut q = user_query(schema, name_key(schema));
    q.push(" and ")
        .lower("{u.username}")
        .push(" = ")
        .bind_lower(username.to_string());
    let rows = read_all(db, &q).await?;
    rows.first().map(user_row).transpose()
}

async fn read_count(db: &Db, q: &Sql<'_>, text: Option<&str>) -> Result<i64, DataError> {
    let rows = read_filtered(db, q, text).await?;
    rows.first().map(|r| r.int("n")).unwrap_or(Ok(0))
}

/// A read filtered by `text`, planned for that text each time it runs. PostgreSQL
/// otherwise switches a prepared statement to a generic plan after five runs; a generic
/// plan cannot know that a pattern matches nothing and walks the whole listing.
async fn read_filtered(db: &Db, q: &Sql<'_>, text: Option<&str>) -> Result<Vec<Row>, DataError> {
    if text.is_none_or(str::is_empty) {
        return read_all(db, q).await;
    }
    let mut tx = db.read().await?;
    plan_for_each_run(&mut tx).await?;
    let rows = tx.fetch_all_sql(q).await?;
    tx.rollback().await?;
    Ok(rows)
}

/// For the rest of this read transaction, every statement is planned for its values.
async fn plan_for_each_run(tx: &mut super::Tx) -> Result<(), DataError> {
    match tx.backend() {
        Backend::Postgres => {
            tx.fetch_all(
                "select set_config('plan_cache_mode', 'force_custom_plan', true) as mode",
                &[],
            )
            .await?;
        }
        Backend::Sqlite | Backend::Mysql => {}
    }
    Ok(())
}

async fn read_all(db: &Db, q: &Sql<'_>) -> Result<Vec<Row>, DataError> {
    let mut tx = db.read().await?;
    let rows = tx.fetch_all_sql(q).await?;
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
