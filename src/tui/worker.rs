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
use crate::db::audit::{AuditEntry, AuditFilter, AuditSort, ChainReport};
use crate::db::auth::{self, SignInError};
use crate::db::chats::{self, ChatMessageDetail};
use crate::db::comments::{self, ContentEdit, ContentItem, ContentKind, EditOutcome};
use crate::db::ids::Reason;
use crate::db::lists::{
    self, ChatMessageRow, ChatSessionFilter, ChatSessionRow, ContentFilter, ContentRow,
    ContentSort, GuildMemberRow, GuildRow, GuildSettingRow, Order, Page, PrivateMessageFilter,
    PrivateMessageRow, Seek, SessionSort, SortCursor, TimeCursor, UserFilter, UserRow, UserSort,
};
use crate::db::messages::{self, PrivateMessageDetail};
use crate::db::plan::{Outcome, Plan};
use crate::db::schema::IdKinds;
use crate::db::search::{self, Interrupt, SessionHit};
use crate::db::{Access, Actor, Backend, ConnectOptions, DataError, Db, Role, SchemaMap};

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

/// One page of a listing: what it shows, in which order, from where.
#[derive(Debug, Clone)]
pub enum Query {
    ChatSessions {
        filter: ChatSessionFilter,
        order: Order<SessionSort>,
        seek: Seek<SortCursor>,
    },
    SessionMessages {
        session: Id,
        text: Option<String>,
        seek: Seek<SortCursor>,
    },
    PrivateMessages {
        filter: PrivateMessageFilter,
        seek: Seek<SortCursor>,
    },
    Content {
        filter: ContentFilter,
        order: Order<ContentSort>,
        seek: Seek<SortCursor>,
    },
    Guilds {
        text: Option<String>,
        seek: Seek<SortCursor>,
    },
    GuildMembers {
        guild: Id,
        after: Option<TimeCursor>,
    },
    Users {
        filter: UserFilter,
        order: Order<UserSort>,
        seek: Seek<SortCursor>,
    },
    Audit {
        filter: AuditFilter,
        order: Order<AuditSort>,
        seek: Seek<SortCursor>,
    },
    /// Audit rows newer than the newest shown (the pane refreshing itself).
    AuditSince { filter: AuditFilter, after_id: i64 },
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
    ChatSessions(Page<ChatSessionRow, SortCursor>),
    SessionMessages(Page<ChatMessageRow, SortCursor>),
    PrivateMessages(Page<PrivateMessageRow, SortCursor>),
    Content(Page<ContentRow, SortCursor>),
    Guilds(Page<GuildRow, SortCursor>),
    GuildMembers(Page<GuildMemberRow, TimeCursor>, Vec<GuildSettingRow>),
    Users(Page<UserRow, SortCursor>),
    Audit(Page<AuditEntry, SortCursor>),
    /// Oldest first.
    AuditSince(Vec<AuditEntry>),
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
    /// Restores a delete's batch from the trash; `plan_only` says what would come back.
    Restore {
        seq: u64,
        batch_id: uuid::Uuid,
        plan_only: bool,
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
    Restore {
        seq: u64,
        plan_only: bool,
        result: Result<batch::Restored, DataError>,
    },
}

impl Response {
    /// The database error an answer carries when it is that the database could not be
    /// reached (or stopped answering).
    pub fn unreachable(&self) -> Option<&DataError> {
        let error = match self {
            Response::Page { result, .. } => result.as_ref().err(),
            Response::Count { result, .. } => result.as_ref().err(),
            Response::Ids { result, .. } => result.as_ref().err(),
            Response::User { result, .. } => result.as_ref().err(),
            Response::Planned { result, .. } => result.as_ref().err(),
            Response::Executed { error, .. } => error.as_ref(),
            Response::Detail { result, .. } => result.as_ref().err(),
            Response::Edited { result, .. } => result.as_ref().err(),
            Response::Restore { result, .. } => result.as_ref().err(),
            Response::Connected { .. }
            | Response::ConnectFailed(_)
            | Response::SignedIn(_)
            | Response::CodeRequired
            | Response::SignInFailed(_)
            | Response::BatchDone { .. } => None,
        };
        error.filter(|e| e.is_unavailable())
    }
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
    connect: ConnectOptions,
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
            connect: ConnectOptions::default(),
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

    /// `[database]` timeouts and password file.
    pub fn connecting_with(mut self, options: ConnectOptions) -> Worker {
        self.connect = options;
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
            let db = Db::create_using(&self.url, &self.connect).await?;
            db.migrate(&self.map).await?;
            let db = db.load_schema(&self.map).await?;
            crate::seed::seed_demo_if_empty(&db).await?;
            db
        } else {
            Db::open_using(&self.url, Access::ReadWrite, &self.map, &self.connect).await?
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
        match db.bounded(auth::sign_in(&db, attempt)).await {
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
            Request::Restore { seq, plan_only, .. } => Response::Restore {
                seq,
                plan_only,
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
            result: db.bounded(load(&db, query)).await,
        },
        Request::Count { slot, seq, query } => Response::Count {
            slot,
            seq,
            result: db.bounded(count(&db, &query)).await,
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
            let result = db.bounded(lists::user_by_name(&db, &name)).await;
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
            result: db.bounded(detail_of(&db, detail)).await,
        },
        Request::Edit { seq, edit } => {
            let result = db.bounded(comments::edit(&db, &actor, &edit)).await;
            Response::Edited { seq, edit, result }
        }
        Request::Restore {
            seq,
            batch_id,
            plan_only,
        } => Response::Restore {
            seq,
            plan_only,
            result: batch::restore_batch(&db, &actor, cache, batch_id, plan_only).await,
        },
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
        let page = db
            .bounded(load_sized(db, query.clone().read_from_head(), KEY_PAGE))
            .await?;
        let key = |id| RowKey { id, kind: None };
        let next = match page {
            PageData::ChatSessions(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.continued(after))
            }
            PageData::SessionMessages(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.continued(after))
            }
            PageData::PrivateMessages(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.continued(after))
            }
            PageData::Content(p) => {
                keys.extend(p.rows.iter().map(|r| RowKey {
                    id: r.id.clone(),
                    kind: Some(r.kind),
                }));
                p.next.map(|after| query.continued(after))
            }
            PageData::Guilds(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.continued(after))
            }
            PageData::GuildMembers(p, _) => {
                keys.extend(p.rows.iter().map(|r| key(r.user_id.clone())));
                p.next.map(|after| {
                    if let Query::GuildMembers { after: a, .. } = &mut query {
                        *a = Some(after);
                    }
                    query.clone()
                })
            }
            PageData::Users(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| query.continued(after))
            }
            PageData::ContentSearch(p) => {
                keys.extend(p.rows.iter().map(|r| key(r.id.clone())));
                p.next.map(|after| {
                    if let Query::ContentSearch { after: a, .. } = &mut query {
                        *a = Some(after);
                    }
                    query.clone()
                })
            }
            PageData::Audit(_) | PageData::AuditSince(_) | PageData::AuditChain(_) => None,
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
        Query::SessionMessages { session, text, .. } => {
            lists::count_chat_messages(db, session, text.as_deref()).await
        }
        Query::PrivateMessages { filter, .. } => lists::count_private_messages(db, filter).await,
        Query::Content { filter, .. } => lists::count_content(db, filter).await,
        Query::Guilds { text, .. } => lists::count_guilds(db, text.as_deref()).await,
        Query::Users { filter, .. } => lists::count_users(db, filter).await,
        Query::Audit { filter, .. } => crate::db::audit::count_audit(db, filter).await,
        Query::ContentSearch {
            text, interrupt, ..
        } => Ok(search::count_search(db, text, interrupt).await?.sessions),
        Query::GuildMembers { .. } | Query::AuditSince { .. } | Query::AuditChain => {
            Err(DataError::invalid("this list is not counted"))
        }
    }
}

impl Query {
    /// Lists whose total is worth a count query of its own; the others show how many
    /// rows are loaded, with "+" while there are more.
    pub fn countable(&self) -> bool {
        !matches!(
            self,
            Query::GuildMembers { .. } | Query::AuditSince { .. } | Query::AuditChain
        )
    }

    fn seek_mut(&mut self) -> Option<&mut Seek<SortCursor>> {
        match self {
            Query::ChatSessions { seek, .. }
            | Query::SessionMessages { seek, .. }
            | Query::PrivateMessages { seek, .. }
            | Query::Content { seek, .. }
            | Query::Guilds { seek, .. }
            | Query::Users { seek, .. }
            | Query::Audit { seek, .. } => Some(seek),
            Query::GuildMembers { .. }
            | Query::AuditSince { .. }
            | Query::AuditChain
            | Query::ContentSearch { .. } => None,
        }
    }

    /// The same listing from its first row ("mark all" reads it all).
    fn read_from_head(mut self) -> Query {
        if let Some(seek) = self.seek_mut()
            && matches!(seek, Seek::Last | Seek::Before(_))
        {
            *seek = Seek::First;
        }
        self
    }

    /// The same listing, continued after `cursor`.
    fn continued(&self, cursor: SortCursor) -> Query {
        let mut next = self.clone();
        if let Some(seek) = next.seek_mut() {
            *seek = Seek::After(cursor);
        }
        next
    }
}

async fn load_sized(db: &Db, query: Query, page: usize) -> Result<PageData, DataError> {
    Ok(match query {
        Query::ChatSessions {
            filter,
            order,
            seek,
        } => PageData::ChatSessions(
            lists::chat_sessions_sorted(db, &filter, order, &seek, page).await?,
        ),
        Query::SessionMessages {
            session,
            text,
            seek,
        } => PageData::SessionMessages(
            lists::chat_messages_seek(db, &session, text.as_deref(), &seek, page).await?,
        ),
        Query::PrivateMessages { filter, seek } => {
            PageData::PrivateMessages(lists::private_messages_seek(db, &filter, &seek, page).await?)
        }
        Query::Content {
            filter,
            order,
            seek,
        } => PageData::Content(lists::content_sorted(db, &filter, order, &seek, page).await?),
        Query::Guilds { text, seek } => {
            PageData::Guilds(lists::guilds_seek(db, text.as_deref(), &seek, page).await?)
        }
        Query::GuildMembers { guild, after } => {
            let members = lists::guild_members(db, &guild, after, page).await?;
            let settings = lists::guild_settings(db, &guild, 200).await?;
            PageData::GuildMembers(members, settings)
        }
        Query::Users {
            filter,
            order,
            seek,
        } => PageData::Users(lists::users_sorted(db, &filter, order, &seek, page).await?),
        Query::AuditChain => PageData::AuditChain(crate::db::audit::verify(db).await?),
        Query::Audit {
            filter,
            order,
            seek,
        } => PageData::Audit(
            crate::db::audit::list_audit_sorted(db, &filter, order, &seek, page).await?,
        ),
        Query::AuditSince { filter, after_id } => {
            PageData::AuditSince(crate::db::audit::audit_since(db, &filter, after_id, page).await?)
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
