//! The one task that owns the database. The UI sends [`Request`]s; answers come back as
//! [`Response`]s on the same channel as keys and ticks, so `update` stays synchronous
//! and the UI never waits on a query. Each request carries a sequence number; the app
//! keeps only the answer to its newest request per slot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::db::{Id, Limits};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::batch::{self, Group};
use crate::cache::{CacheConfig, CacheOutcome};
use crate::db::audit::{AuditEntry, AuditFilter, ChainReport, list_audit};
use crate::db::auth::{self, SignInError};
use crate::db::chats::{self, ChatMessageDetail};
use crate::db::comments::{self, ContentEdit, ContentItem, ContentKind, EditOutcome};
use crate::db::ids::Reason;
use crate::db::lists::{
    self, ChatMessageRow, ChatSessionFilter, ChatSessionRow, ContentFilter, ContentRow,
    GuildMemberRow, GuildRow, GuildSettingRow, NameCursor, Page, PrivateMessageFilter,
    PrivateMessageRow, TimeCursor, UserFilter, UserRow,
};
use crate::db::messages::{self, PrivateMessageDetail};
use crate::db::plan::{Outcome, Plan};
use crate::db::schema::IdKinds;
use crate::db::search::{self, Interrupt, SessionHit};
use crate::db::{Access, Actor, Backend, DataError, Db, Role, SchemaMap};

/// Which list an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Chats,
    /// The open session's own row, for its header.
    OpenSession,
    SessionMessages,
    Messages,
    Content,
    Guilds,
    GuildMembers,
    Users,
    Audit,
    /// The audit record's hash chain, checked beside its first page.
    AuditChain,
    /// Content search across every chat message.
    Search,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub enum Query {
    ChatSessions {
        filter: ChatSessionFilter,
        after: Option<TimeCursor>,
    },
    SessionMessages {
        session: Id,
        text: Option<String>,
        after: Option<TimeCursor>,
    },
    PrivateMessages {
        filter: PrivateMessageFilter,
        after: Option<TimeCursor>,
    },
    Content {
        filter: ContentFilter,
        after: Option<TimeCursor>,
    },
    Guilds {
        text: Option<String>,
        after: Option<TimeCursor>,
    },
    GuildMembers {
        guild: Id,
        after: Option<TimeCursor>,
    },
    Users {
        filter: UserFilter,
        after: Option<NameCursor>,
    },
    Audit {
        filter: AuditFilter,
        before: Option<i64>,
    },
    /// Walk the audit record's hash chain.
    AuditChain,
    /// Sessions holding a chat message that contains `text`; `interrupt` stops the
    /// statement on the server.
    ContentSearch {
        text: String,
        after: Option<TimeCursor>,
        interrupt: Interrupt,
    },
}

#[derive(Debug, Clone)]
pub enum PageData {
    ChatSessions(Page<ChatSessionRow, TimeCursor>),
    SessionMessages(Page<ChatMessageRow, TimeCursor>),
    PrivateMessages(Page<PrivateMessageRow, TimeCursor>),
    Content(Page<ContentRow, TimeCursor>),
    Guilds(Page<GuildRow, TimeCursor>),
    GuildMembers(Page<GuildMemberRow, TimeCursor>, Vec<GuildSettingRow>),
    Users(Page<UserRow, NameCursor>),
    Audit(Page<AuditEntry, i64>),
    AuditChain(ChainReport),
    ContentSearch(Page<SessionHit, TimeCursor>),
}

#[derive(Debug, Clone)]
pub enum Detail {
    ChatMessage(Id),
    PrivateMessage(Id),
    Content(ContentKind, Id),
}

#[derive(Debug, Clone)]
pub enum DetailData {
    ChatMessage(ChatMessageDetail),
    PrivateMessage(PrivateMessageDetail),
    Content(ContentItem),
}

/// A row's identity for marks: comments and reviews also need their kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowKey {
    pub id: Id,
    pub kind: Option<ContentKind>,
}

#[derive(Debug)]
pub enum Request {
    Connect,
    SignIn {
        username: String,
        password: String,
        /// For an operator with MFA, after [`Response::CodeRequired`].
        code: Option<String>,
    },
    Load {
        slot: Slot,
        seq: u64,
        query: Query,
    },
    /// How many rows a listing has in all, asked beside its first page.
    Count {
        slot: Slot,
        seq: u64,
        query: Query,
    },
    /// Every row of a listing matching its filter, up to `cap` (for "mark all"); `stop`
    /// is checked between pages.
    Ids {
        seq: u64,
        query: Query,
        cap: usize,
        stop: Arc<AtomicBool>,
    },
    FindUser {
        seq: u64,
        name: String,
    },
    /// Plans each group (an operation and its ids) in batches of at most 100.
    Plan {
        seq: u64,
        groups: Vec<Group>,
        reason: Option<Reason>,
    },
    /// Executes confirmed plans one batch at a time; `stop` is checked between batches.
    Execute {
        seq: u64,
        plans: Vec<Plan>,
        stop: Arc<AtomicBool>,
    },
    Detail {
        seq: u64,
        detail: Detail,
    },
    Edit {
        seq: u64,
        edit: ContentEdit,
    },
}

#[derive(Debug)]
pub enum Response {
    Connected {
        backend: Backend,
        url: String,
        ids: IdKinds,
    },
    ConnectFailed(String),
    SignedIn(Actor),
    /// The password is right; the operator has MFA: ask for a code.
    CodeRequired,
    SignInFailed(String),
    Page {
        slot: Slot,
        seq: u64,
        result: Result<PageData, DataError>,
    },
    Count {
        slot: Slot,
        seq: u64,
        result: Result<i64, DataError>,
    },
    Ids {
        seq: u64,
        result: Result<Vec<RowKey>, DataError>,
    },
    User {
        seq: u64,
        name: String,
        result: Result<Option<UserRow>, DataError>,
    },
    Planned {
        seq: u64,
        result: Result<Vec<Plan>, DataError>,
    },
    BatchDone {
        seq: u64,
        done: usize,
        total: usize,
        outcome: Outcome,
    },
    Executed {
        seq: u64,
        outcomes: Vec<Outcome>,
        /// Cache invalidation after guild and user deletes.
        cache: Option<CacheOutcome>,
        /// Plans not run: stopped by the operator, or the rest after a failure.
        not_run: Vec<Plan>,
        error: Option<DataError>,
    },
    Detail {
        seq: u64,
        result: Result<DetailData, DataError>,
    },
    Edited {
        seq: u64,
        edit: ContentEdit,
        result: Result<EditOutcome, DataError>,
    },
}

/// Where the worker's answers go (the console's event stream); the worker knows
/// nothing of it beyond this.
pub type Replies = Arc<dyn Fn(Response) + Send + Sync>;

pub struct Worker {
    url: String,
    map: SchemaMap,
    cache: CacheConfig,
    limits: Limits,
    read_only: bool,
    demo: bool,
    db: Option<Db>,
    actor: Option<Actor>,
    require_mfa: Vec<Role>,
    events: Replies,
}

impl Worker {
    /// `demo`: the database is the demo, created and seeded if new.
    pub fn new(
        url: String,
        map: SchemaMap,
        read_only: bool,
        demo: bool,
        cache: CacheConfig,
        events: Replies,
    ) -> Worker {
        Worker {
            url,
            map,
            cache,
            limits: Limits::default(),
            read_only,
            demo,
            db: None,
            actor: None,
            require_mfa: Vec::new(),
            events,
        }
    }

    /// `[limits]` for every execute of this console.
    pub fn with_limits(mut self, limits: Limits) -> Worker {
        self.limits = limits;
        self
    }

    /// Roles that cannot sign in without MFA (`[security] require_mfa`).
    pub fn requiring_mfa(mut self, roles: Vec<Role>) -> Worker {
        self.require_mfa = roles;
        self
    }

    fn send(&self, response: Response) {
        // The UI has gone: nothing left to tell.
        (self.events)(response);
    }

    pub async fn run(mut self, mut requests: UnboundedReceiver<Request>) {
        while let Some(request) = requests.recv().await {
            self.handle(request).await;
        }
        if let Some(db) = &self.db {
            db.close().await;
        }
    }

    async fn handle(&mut self, request: Request) {
        match request {
            Request::Connect => return self.connect().await,
            Request::SignIn {
                username,
                password,
                code,
            } => {
                return self.sign_in(username, password, code).await;
            }
            _ => {}
        }
        let (db, actor) = (self.db.clone(), self.actor.clone());
        let events = self.events.clone();
        let cache = self.cache.clone();
        // Everything else runs beside the rest (a list loads while a long delete runs);
        // the app keeps only the newest answer per slot.
        tokio::spawn(async move {
            let response = answer(db, actor, request, &events, &cache).await;
            events(response);
        });
    }

    async fn connect(&mut self) {
        // Retry quietly: the console shows the error and keeps asking until it answers.
        loop {
            let error = match self.open().await {
                Ok(db) => {
                    let ready: Result<(), DataError> = Ok(());
                    match ready {
                        Ok(()) => {
                            self.send(Response::Connected {
                                backend: db.backend(),
                                url: db.display_url(),
                                ids: db.schema().map(IdKinds::of).unwrap_or_default(),
                            });
                            self.db = Some(db);
                            return;
                        }
                        Err(e) => e,
                    }
                }
                Err(e) => e,
            };
            self.send(Response::ConnectFailed(error.to_string()));
            if !error.is_unavailable() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Opens the database with the schema map checked; the demo is created, migrated
    /// and seeded on first use.
    async fn open(&self) -> Result<Db, DataError> {
        let db = if self.demo {
            let db = Db::create(&self.url).await?;
            db.migrate(&self.map).await?;
            let db = db.load_schema(&self.map).await?;
            crate::seed::seed_demo_if_empty(&db).await?;
            db
        } else {
            Db::open(&self.url, Access::ReadWrite, &self.map).await?
        };
        Ok(db.with_limits(self.limits))
    }

    async fn sign_in(&mut self, username: String, password: String, code: Option<String>) {
        let Some(db) = self.db.clone() else {
            return self.send(Response::SignInFailed(not_connected().to_string()));
        };
        let attempt = auth::Attempt {
            username: &username,
            password: &password,
            code: code.as_deref(),
            require_mfa: &self.require_mfa,
        };
        match auth::sign_in(&db, attempt).await {
            Ok(actor) => {
                tracing::info!(operator = %actor.username, role = %actor.role, "signed in");
                if self.read_only {
                    // Signing in is recorded; after that this session writes nothing.
                    match db.reopen(Access::ReadOnly).await {
                        Ok(read_only) => {
                            db.close().await;
                            self.db = Some(read_only);
                        }
                        Err(e) => return self.send(Response::SignInFailed(e.to_string())),
                    }
                }
                self.actor = Some(actor.clone());
                self.send(Response::SignedIn(actor));
            }
            Err(SignInError::CodeRequired) => self.send(Response::CodeRequired),
            Err(SignInError::Data(e)) => self.send(Response::SignInFailed(e.to_string())),
            Err(e) => self.send(Response::SignInFailed(e.to_string())),
        }
    }
}

async fn answer(
    db: Option<Db>,
    actor: Option<Actor>,
    request: Request,
    events: &Replies,
    cache: &CacheConfig,
) -> Response {
    let (Some(db), Some(actor)) = (db, actor) else {
        return match request {
            Request::Load { slot, seq, .. } => Response::Page {
                slot,
                seq,
                result: Err(not_connected()),
            },
            Request::Count { slot, seq, .. } => Response::Count {
                slot,
                seq,
                result: Err(not_connected()),
            },
            Request::Ids { seq, .. } => Response::Ids {
                seq,
                result: Err(not_connected()),
            },
            Request::FindUser { seq, name } => Response::User {
                seq,
                name,
                result: Err(not_connected()),
            },
            Request::Plan { seq, .. } => Response::Planned {
                seq,
                result: Err(not_connected()),
            },
            Request::Execute { seq, plans, .. } => Response::Executed {
                seq,
                outcomes: Vec::new(),
                cache: None,
                not_run: plans,
                error: Some(not_connected()),
            },
            Request::Detail { seq, .. } => Response::Detail {
                seq,
                result: Err(not_connected()),
            },
            Request::Edit { seq, edit } => Response::Edited {
                seq,
                edit,
                result: Err(not_connected()),
            },
            Request::Connect | Request::SignIn { .. } => {
                Response::ConnectFailed(not_connected().to_string())
            }
        };
    };
    match request {
        Request::Load { slot, seq, query } => Response::Page {
            slot,
            seq,
            result: load(&db, query).await,
        },
        Request::Count { slot, seq, query } => Response::Count {
            slot,
            seq,
            result: count(&db, &query).await,
        },
        Request::Ids {
            seq,
            query,
            cap,
            stop,
        } => Response::Ids {
            seq,
            result: match ids_only(&db, &query, cap, &stop).await {
                Some(result) => result,
                None => collect_keys(&db, query, cap, &stop).await,
            },
        },
        Request::FindUser { seq, name } => {
            let result = lists::user_by_name(&db, &name).await;
            Response::User { seq, name, result }
        }
        Request::Plan {
            seq,
            groups,
            reason,
        } => Response::Planned {
            seq,
            result: batch::plan_batches(&db, &actor, &groups, reason).await,
        },
        Request::Execute { seq, plans, stop } => {
            // Progress goes out batch by batch, before the final answer.
            let run =
                batch::execute_batches(&db, &actor, cache, plans, &stop, |outcome, done, total| {
                    events(Response::BatchDone {
                        seq,
                        done,
                        total,
                        outcome: outcome.clone(),
                    });
                })
                .await;
            Response::Executed {
                seq,
                outcomes: run.outcomes,
                cache: run.cache,
                not_run: run.not_run,
                error: run.error,
            }
        }
        Request::Detail { seq, detail } => Response::Detail {
            seq,
            result: detail_of(&db, detail).await,
        },
        Request::Edit { seq, edit } => {
            let result = comments::edit(&db, &actor, &edit).await;
            Response::Edited { seq, edit, result }
        }
        Request::Connect | Request::SignIn { .. } => {
            Response::ConnectFailed("unexpected request".into())
        }
    }
}

fn not_connected() -> DataError {
    DataError::Unavailable("not connected to the database yet".into())
}

/// One screenful and a half, and then some: the list asks again as the cursor nears
/// the end.
const PAGE: usize = 100;

async fn load(db: &Db, query: Query) -> Result<PageData, DataError> {
    load_sized(db, query, PAGE).await
}

/// "Mark all" on a listing with an id-only query: one statement, nothing per row, and
/// stopping it cancels it on the server. `None` for the listings that page for keys.
async fn ids_only(
    db: &Db,
    query: &Query,
    cap: usize,
    stop: &Arc<AtomicBool>,
) -> Option<Result<Vec<RowKey>, DataError>> {
    let interrupt = Interrupt::from_flag(stop.clone());
    let ids = match query {
        Query::ChatSessions { filter, .. } => {
            lists::chat_session_ids_until(db, filter, cap, &interrupt).await
        }
        Query::ContentSearch { text, .. } => {
            search::search_session_ids(db, text, cap, &interrupt).await
        }
        _ => return None,
    };
    Some(match ids {
        Ok(ids) => Ok(ids
            .into_iter()
            .map(|id| RowKey { id, kind: None })
            .collect()),
        // Stopped by the operator: nothing is wanted any more.
        Err(DataError::Cancelled) => Ok(Vec::new()),
        Err(e) => Err(e),
    })
}

/// Pages through a listing for the keys of every row, up to `cap`, or until stopped
/// (the operator gave up: what was found is not wanted any more).
async fn collect_keys(
    db: &Db,
    mut query: Query,
    cap: usize,
    stop: &AtomicBool,
) -> Result<Vec<RowKey>, DataError> {
    const KEY_PAGE: usize = 1_000;
    let mut keys = Vec::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(keys);
        }
        let page = load_sized(db, query.clone(), KEY_PAGE).await?;
        let key = |id| RowKey { id, kind: None };
        let next = match page {
            PageData::ChatSessions(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.with_time_cursor(after))
            }
            PageData::SessionMessages(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.with_time_cursor(after))
            }
            PageData::PrivateMessages(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.with_time_cursor(after))
            }
            PageData::Content(p) => {
                keys.extend(p.rows.iter().map(|r| RowKey {
                    id: r.id.clone(),
                    kind: Some(r.kind),
                }));
                p.next.map(|after| query.with_time_cursor(after))
            }
            PageData::Guilds(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.with_time_cursor(after))
            }
            PageData::GuildMembers(p, _) => {
                keys.extend(p.rows.iter().map(|r| key(r.user_id.clone())));
                p.next.map(|after| query.with_time_cursor(after))
            }
            PageData::Users(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| {
                    if let Query::Users { after: a, .. } = &mut query {
                        *a = Some(after);
                    }
                    query.clone()
                })
            }
            PageData::ContentSearch(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.with_time_cursor(after))
            }
            PageData::Audit(_) | PageData::AuditChain(_) => None,
        };
        if keys.len() >= cap {
            keys.truncate(cap);
            return Ok(keys);
        }
        match next {
            Some(q) => query = q,
            None => return Ok(keys),
        }
    }
}

/// The total of a countable listing (see [`Query::countable`]).
async fn count(db: &Db, query: &Query) -> Result<i64, DataError> {
    match query {
        Query::ChatSessions { filter, .. } => lists::count_chat_sessions(db, filter).await,
        Query::PrivateMessages { filter, .. } => lists::count_private_messages(db, filter).await,
        Query::Guilds { text, .. } => lists::count_guilds(db, text.as_deref()).await,
        Query::Users { filter, .. } => lists::count_users(db, filter).await,
        Query::ContentSearch {
            text, interrupt, ..
        } => Ok(search::count_search(db, text, interrupt).await?.sessions),
        _ => Err(DataError::invalid("this list is not counted")),
    }
}

impl Query {
    /// Lists whose total is worth a count query of its own; the others show how many
    /// rows are loaded, with "+" while there are more.
    pub fn countable(&self) -> bool {
        matches!(
            self,
            Query::ChatSessions { .. }
                | Query::PrivateMessages { .. }
                | Query::Guilds { .. }
                | Query::Users { .. }
                | Query::ContentSearch { .. }
        )
    }

    /// The same listing, continued after `cursor`.
    fn with_time_cursor(&self, cursor: TimeCursor) -> Query {
        let mut next = self.clone();
        match &mut next {
            Query::ChatSessions { after, .. }
            | Query::SessionMessages { after, .. }
            | Query::PrivateMessages { after, .. }
            | Query::Content { after, .. }
            | Query::Guilds { after, .. }
            | Query::GuildMembers { after, .. }
            | Query::ContentSearch { after, .. } => *after = Some(cursor),
            Query::Users { .. } | Query::Audit { .. } | Query::AuditChain => {}
        }
        next
    }
}

async fn load_sized(db: &Db, query: Query, page: usize) -> Result<PageData, DataError> {
    Ok(match query {
        Query::ChatSessions { filter, after } => {
            PageData::ChatSessions(lists::chat_sessions(db, &filter, after, page).await?)
        }
        Query::SessionMessages {
            session,
            text,
            after,
        } => PageData::SessionMessages(
            lists::chat_messages(db, &session, text.as_deref(), after, page).await?,
        ),
        Query::PrivateMessages { filter, after } => {
            PageData::PrivateMessages(lists::private_messages(db, &filter, after, page).await?)
        }
        Query::Content { filter, after } => {
            PageData::Content(lists::content(db, &filter, after, page).await?)
        }
        Query::Guilds { text, after } => {
            PageData::Guilds(lists::guilds(db, text.as_deref(), after, page).await?)
        }
        Query::GuildMembers { guild, after } => {
            let members = lists::guild_members(db, &guild, after, page).await?;
            let settings = lists::guild_settings(db, &guild, 200).await?;
            PageData::GuildMembers(members, settings)
        }
        Query::Users { filter, after } => {
            PageData::Users(lists::users(db, &filter, after, page).await?)
        }
        Query::AuditChain => PageData::AuditChain(crate::db::audit::verify(db).await?),
        Query::Audit { filter, before } => {
            PageData::Audit(list_audit(db, &filter, before, page).await?)
        }
        Query::ContentSearch {
            text,
            after,
            interrupt,
        } => PageData::ContentSearch(
            search::search_chat_messages(db, &text, after, page, &interrupt).await?,
        ),
    })
}

async fn detail_of(db: &Db, detail: Detail) -> Result<DetailData, DataError> {
    let gone = || DataError::NotFound("it was deleted meanwhile".into());
    Ok(match detail {
        Detail::ChatMessage(id) => {
            DetailData::ChatMessage(chats::chat_message(db, &id).await?.ok_or_else(gone)?)
        }
        Detail::PrivateMessage(id) => {
            DetailData::PrivateMessage(messages::private_message(db, &id).await?.ok_or_else(gone)?)
        }
        Detail::Content(kind, id) => DetailData::Content(
            comments::content_item(db, kind, &id)
                .await?
                .ok_or_else(gone)?,
        ),
    })
}
