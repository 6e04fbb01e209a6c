//! Data-layer benchmark: modcon against hand-written sqlx doing the same work, in the
//! same run, on PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! (a) Bulk delete of 100 chat sessions × 1,000 messages with the audit rows: modcon's
//!     `execute` of a confirmed plan against one hand-written transaction.
//! (b) The first page of 50 chat sessions with per-row message counts on a database of
//!     1,000,000 messages: `lists::chat_sessions` against the obvious hand-written query.
//! (c) `G` on that list: the last page (the 50 oldest sessions, with their counts),
//!     `lists::chat_sessions_sorted` from `Seek::Last` against the hand-written query in
//!     ascending order. `MODCON_BENCH_LIST_SESSIONS=1000000` seeds that many sessions
//!     for (b) and (c) instead of 100,000 (`MODCON_BENCH_MESSAGES_PER_SESSION`, default
//!     10, their messages); `lists` as an argument runs (b) and (c) only.
//!
//! Run: `cargo bench --bench data_layer` (full), `cargo bench --bench data_layer -- --quick`
//! (2 rounds, 100,000 messages for (b): to check that it works). `postgres`, `mysql` or
//! `sqlite` as arguments run those backends only. PostgreSQL admin URL:
//! `MODCON_BENCH_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`), MySQL:
//! `MODCON_BENCH_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/mysql`); a fresh
//! database is created and dropped. SQLite uses a temporary file, removed at the end. With
//! `MODCON_BENCH_PG_LOG_STATEMENTS=1` the PostgreSQL database logs every statement's
//! duration to the server log, and `MODCON_BENCH_SQLX_LOG=1` prints sqlx's per-statement
//! timings on stderr (both for finding where the time goes; they slow the run).
//!
//! A benchmark that measures nothing is worse than none: every timed operation is
//! checked afterwards (rows really gone, the same audit rows written by both sides, row
//! for row, in `modcon_audit_log`) and panics otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use modcon::db::ids::TargetIds;
use modcon::db::insert::{Batch, NewChatMessage, NewSession, NewUser};
use modcon::db::lists::{ChatSessionFilter, Order, Seek, chat_sessions, chat_sessions_sorted};
use modcon::db::ops::{OpKind, Operation, Request};
use modcon::db::plan::{execute, plan};
use modcon::db::{Access, Actor, Db, Id, Role, SchemaMap};
use modcon::seed::{ScaleSpec, seed_scale};
use serde_json::{Value, json};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, PgConnection, Row};
use uuid::Uuid;

const PG_URL_ENV: &str = "MODCON_BENCH_PG_URL";
const PG_DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MYSQL_URL_ENV: &str = "MODCON_BENCH_MYSQL_URL";
const MYSQL_DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

const SESSIONS_PER_ROUND: usize = 100;
const MESSAGES_PER_SESSION: usize = 1_000;
const PAGE: usize = 50;
const RATIO_TARGET: f64 = 1.25;
const PAGE_TARGET: Duration = Duration::from_millis(20);
const LAST_PAGE_TARGET: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------- configuration

#[derive(Debug, Clone, Copy)]
struct Config {
    quick: bool,
    /// `trash`: only (a) with and without the trash, and the restore.
    trash_only: bool,
    /// `lists` on the command line: (b) and (c) only.
    lists_only: bool,
    rounds: usize,
    list_sessions: usize,
    list_messages_per_session: usize,
    calls: usize,
    warmup: usize,
}

impl Config {
    fn from_args(args: &[String]) -> Config {
        let quick = args.iter().any(|a| a == "--quick");
        let mut cfg = Config::sized(quick);
        cfg.trash_only = args.iter().any(|a| a == "trash");
        cfg.lists_only = args.iter().any(|a| a == "lists");
        if let Some(n) = std::env::var("MODCON_BENCH_MESSAGES_PER_SESSION")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            cfg.list_messages_per_session = n;
        }
        if let Some(n) = std::env::var("MODCON_BENCH_LIST_SESSIONS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            cfg.list_sessions = n;
        }
        cfg
    }

    fn sized(quick: bool) -> Config {
        if quick {
            Config {
                quick,
                trash_only: false,
                lists_only: false,
                rounds: 2,
                list_sessions: 10_000,
                list_messages_per_session: 10,
                calls: 50,
                warmup: 5,
            }
        } else {
            Config {
                quick,
                trash_only: false,
                lists_only: false,
                rounds: 5,
                list_sessions: 100_000,
                list_messages_per_session: 10,
                calls: 200,
                warmup: 20,
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Postgres,
    Mysql,
    Sqlite,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Postgres => "PostgreSQL",
            Kind::Mysql => "MySQL",
            Kind::Sqlite => "SQLite",
        }
    }
}

// ---------------------------------------------------------------- statistics

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    n: usize,
    min: Duration,
    median: Duration,
    p95: Duration,
    max: Duration,
}

impl Stats {
    fn of(samples: &[Duration]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut s = samples.to_vec();
        s.sort();
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2
        };
        let p95 = s[(n * 95).div_ceil(100).max(1) - 1];
        Stats {
            n,
            min: s[0],
            median,
            p95,
            max: s[n - 1],
        }
    }

    fn line(&self) -> String {
        format!(
            "n={:<3} median {:>10}  min {:>10}  p95 {:>10}  max {:>10}",
            self.n,
            ms(self.median),
            ms(self.min),
            ms(self.p95),
            ms(self.max)
        )
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

#[derive(Debug, Clone)]
struct Outcome {
    backend: &'static str,
    case: &'static str,
    modcon: Duration,
    baseline: Duration,
    target: &'static str,
    met: Option<bool>,
}

// ---------------------------------------------------------------- databases

fn pg_admin_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| PG_DEFAULT_URL.to_string())
}

fn mysql_admin_url() -> String {
    std::env::var(MYSQL_URL_ENV).unwrap_or_else(|_| MYSQL_DEFAULT_URL.to_string())
}

/// The admin URL with another database name.
fn pg_url_for(name: &str) -> String {
    url_for(&pg_admin_url(), name)
}

fn mysql_url_for(name: &str) -> String {
    url_for(&mysql_admin_url(), name)
}

fn url_for(admin: &str, name: &str) -> String {
    let admin = admin.to_string();
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin.clone(), String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let cut = match base[scheme_end..].find('/') {
        Some(i) => scheme_end + i,
        None => base.len(),
    };
    format!("{}/{name}{query}", &base[..cut])
}

/// The hand-written side's own pool, opened from the same URL with the same settings as
/// modcon's `Db::connect`.
#[derive(Clone)]
enum Raw {
    Pg(PgPool),
    My(MySqlPool),
    Lite(SqlitePool),
}

impl Raw {
    async fn open(kind: Kind, url: &str) -> Raw {
        match kind {
            Kind::Postgres => Raw::Pg(
                PgPoolOptions::new()
                    .max_connections(5)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
                    .expect("open the baseline PostgreSQL pool"),
            ),
            // The session settings modcon's own MySQL connections run with.
            Kind::Mysql => Raw::My(
                MySqlPoolOptions::new()
                    .max_connections(5)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "set session sql_mode = concat(@@sql_mode, \
                                 ',ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,STRICT_TRANS_TABLES')",
                            )
                            .await?;
                            conn.execute("set session transaction isolation level read committed")
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await
                    .expect("open the baseline MySQL pool"),
            ),
            Kind::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .expect("sqlite url")
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10));
                Raw::Lite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(Duration::from_secs(10))
                        .connect_with(options)
                        .await
                        .expect("open the baseline SQLite pool"),
                )
            }
        }
    }

    async fn close(&self) {
        match self {
            Raw::Pg(p) => p.close().await,
            Raw::My(p) => p.close().await,
            Raw::Lite(p) => p.close().await,
        }
    }

    /// modcon's audit table: in schema `modcon` on PostgreSQL, beside the platform's
    /// tables on SQLite.
    fn audit_table(&self) -> &'static str {
        match self {
            Raw::Pg(_) => "modcon.modcon_audit_log",
            Raw::My(_) | Raw::Lite(_) => "modcon_audit_log",
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        let sql_text = || AssertSqlSafe(sql.to_string());
        match self {
            Raw::Pg(p) => sqlx::query_scalar::<_, i64>(sql_text()).fetch_one(p).await,
            Raw::My(p) => sqlx::query_scalar::<_, i64>(sql_text()).fetch_one(p).await,
            Raw::Lite(p) => sqlx::query_scalar::<_, i64>(sql_text()).fetch_one(p).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn exec(&self, sql: &str) {
        match self {
            Raw::Pg(p) => p.execute(AssertSqlSafe(sql.to_string())).await.map(|_| ()),
            Raw::My(p) => p.execute(AssertSqlSafe(sql.to_string())).await.map(|_| ()),
            Raw::Lite(p) => p.execute(AssertSqlSafe(sql.to_string())).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Rows of `table` whose `column` is one of `ids` (verification only, not timed).
    async fn count_in(&self, table: &str, column: &str, ids: &[Id]) -> i64 {
        match self {
            Raw::Pg(p) => sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
                "select count(*) from {table} where {column} = any($1)"
            )))
            .bind(pg_uuids(ids))
            .fetch_one(p)
            .await
            .unwrap(),
            Raw::Lite(p) => {
                let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
                    "select count(*) from {table} where {column} in ({})",
                    question_marks(ids.len())
                )));
                for id in ids {
                    q = q.bind(id.to_string());
                }
                q.fetch_one(p).await.unwrap()
            }
            Raw::My(p) => {
                let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
                    "select count(*) from {table} where {column} in ({})",
                    question_marks(ids.len())
                )));
                for id in ids {
                    q = q.bind(id.to_string());
                }
                q.fetch_one(p).await.unwrap()
            }
        }
    }

    /// Every audit row written under `batch_id`, as read back (verification only).
    async fn audit_batch(&self, batch_id: Uuid) -> Vec<AuditRecord> {
        let sql = format!(
            "select actor_id, actor_name, action, target_type, target_id, target_label, \
             counts, reason, details from {} where batch_id = {} order by id",
            self.audit_table(),
            match self {
                Raw::Pg(_) => "$1",
                Raw::My(_) | Raw::Lite(_) => "?",
            }
        );
        match self {
            Raw::Pg(p) => sqlx::query(AssertSqlSafe(sql))
                .bind(batch_id)
                .fetch_all(p)
                .await
                .unwrap()
                .iter()
                .map(|r| AuditRecord {
                    actor_id: r.get("actor_id"),
                    actor_name: r.get("actor_name"),
                    action: r.get("action"),
                    target_type: r.get("target_type"),
                    target_id: r.get("target_id"),
                    target_label: r.get("target_label"),
                    counts: r.get::<sqlx::types::Json<Value>, _>("counts").0,
                    reason: r.get("reason"),
                    details: r.get::<sqlx::types::Json<Value>, _>("details").0,
                })
                .collect(),
            Raw::Lite(p) => sqlx::query(AssertSqlSafe(sql))
                .bind(batch_id.to_string())
                .fetch_all(p)
                .await
                .unwrap()
                .iter()
                .map(|r| AuditRecord {
                    actor_id: r.get("actor_id"),
                    actor_name: r.get("actor_name"),
                    action: r.get("action"),
                    target_type: r.get("target_type"),
                    target_id: r.get("target_id"),
                    target_label: r.get("target_label"),
                    counts: serde_json::from_str(&r.get::<String, _>("counts")).unwrap(),
                    reason: r.get("reason"),
                    details: serde_json::from_str(&r.get::<String, _>("details")).unwrap(),
                })
                .collect(),
            Raw::My(p) => sqlx::query(AssertSqlSafe(sql))
                .bind(batch_id.to_string())
                .fetch_all(p)
                .await
                .unwrap()
                .iter()
                .map(|r| AuditRecord {
                    actor_id: my_opt_text(r, "actor_id"),
                    actor_name: my_text(r, "actor_name"),
                    action: my_text(r, "action"),
                    target_type: my_text(r, "target_type"),
                    target_id: my_opt_text(r, "target_id"),
                    target_label: my_text(r, "target_label"),
                    counts: serde_json::from_str(&my_text(r, "counts")).unwrap(),
                    reason: my_opt_text(r, "reason"),
                    details: serde_json::from_str(&my_text(r, "details")).unwrap(),
                })
                .collect(),
        }
    }

    /// Puts both sides on the same footing before a timed delete: on PostgreSQL the
    /// dead rows of the previous round are vacuumed, the fresh rows analysed and a
    /// checkpoint taken (`checkpoint` needs a superuser or `pg_checkpoint`); on
    /// SQLite the write-ahead log is emptied.
    async fn settle(&self) {
        match self {
            Raw::Pg(_) => {
                self.exec(&format!(
                    "vacuum analyze chat_sessions, chat_messages, {}, \
                     modcon.modcon_trash_batches, modcon.modcon_trash",
                    self.audit_table()
                ))
                .await;
                // Written out now rather than by a checkpoint inside a timed delete.
                self.exec("checkpoint").await;
            }
            Raw::My(_) => self.analyze().await,
            Raw::Lite(_) => self.exec("pragma wal_checkpoint(truncate)").await,
        }
    }

    /// Fresh statistics for the planner.
    async fn analyze(&self) {
        match self {
            Raw::My(_) => {
                self.exec(
                    "analyze table users, guilds, chat_sessions, chat_messages, modcon_audit_log",
                )
                .await
            }
            Raw::Pg(_) | Raw::Lite(_) => self.exec("analyze").await,
        }
    }
}

/// Text from a MySQL row: `utf8mb4_bin` columns are flagged binary, so read unchecked.
fn my_opt_text(r: &sqlx::mysql::MySqlRow, col: &str) -> Option<String> {
    r.try_get_unchecked::<Option<String>, _>(col).unwrap()
}

fn my_text(r: &sqlx::mysql::MySqlRow, col: &str) -> String {
    my_opt_text(r, col).unwrap_or_default()
}

/// The reference schema's uuid ids as PostgreSQL binds them.
fn pg_uuids(ids: &[Id]) -> Vec<Uuid> {
    ids.iter()
        .map(|id| id.as_uuid().expect("a uuid id"))
        .collect()
}

/// One audit row as read back from `modcon_audit_log`.
#[derive(Debug, Clone, PartialEq)]
struct AuditRecord {
    actor_id: Option<String>,
    actor_name: String,
    action: String,
    target_type: String,
    target_id: Option<String>,
    target_label: String,
    counts: Value,
    reason: Option<String>,
    details: Value,
}

fn question_marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

struct Bench {
    kind: Kind,
    db: Db,
    /// The same database with the trash on (`keep_days = 30`), for the trash's cases.
    trash_db: Db,
    raw: Raw,
    actor: Actor,
    owner: Id,
}

enum Cleanup {
    Pg(String),
    My(String),
    Lite(std::path::PathBuf),
}

async fn open(kind: Kind) -> (Bench, Cleanup) {
    let (url, cleanup) = match kind {
        Kind::Postgres => {
            let admin = pg_admin_url();
            let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                panic!("PostgreSQL is not reachable at {admin}: {e}. Set {PG_URL_ENV}.")
            });
            let name = format!("modcon_bench_{}", Uuid::new_v4().simple());
            conn.execute(AssertSqlSafe(format!("create database {name}")))
                .await
                .expect("create the benchmark database");
            // Diagnostics only: every statement's server time goes to the server log.
            if std::env::var_os("MODCON_BENCH_PG_LOG_STATEMENTS").is_some() {
                conn.execute(AssertSqlSafe(format!(
                    "alter database {name} set log_min_duration_statement = 0"
                )))
                .await
                .expect("enable statement logging");
                println!("statement durations of {name} go to the PostgreSQL server log");
            }
            conn.close().await.ok();
            (pg_url_for(&name), Cleanup::Pg(name))
        }
        Kind::Mysql => {
            let admin = mysql_admin_url();
            let mut conn = MySqlConnection::connect(&admin).await.unwrap_or_else(|e| {
                panic!("MySQL is not reachable at {admin}: {e}. Set {MYSQL_URL_ENV}.")
            });
            let name = format!("modcon_bench_{}", Uuid::new_v4().simple());
            conn.execute(AssertSqlSafe(format!("create database {name}")))
                .await
                .expect("create the benchmark database");
            conn.close().await.ok();
            (mysql_url_for(&name), Cleanup::My(name))
        }
        Kind::Sqlite => {
            let path =
                std::env::temp_dir().join(format!("modcon-bench-{}.db", Uuid::new_v4().simple()));
            (format!("sqlite:{}", path.display()), Cleanup::Lite(path))
        }
    };
    // `Db::connect` never creates a SQLite file; `Db::create` does (and on PostgreSQL
    // is the same as a read-write `connect`).
    let db = match kind {
        Kind::Postgres | Kind::Mysql => Db::connect(&url, Access::ReadWrite).await,
        Kind::Sqlite => Db::create(&url).await,
    }
    .expect("connect modcon");
    let map = SchemaMap::reference();
    db.migrate(&map).await.expect("migrate");
    // (a) measures the delete itself against the same work by hand; keeping what it
    // removes (the trash) is a cost of its own, measured apart.
    let db = db
        .load_schema(&map)
        .await
        .expect("load the schema map")
        .with_trash(modcon::db::trash::TrashConfig { keep_days: 0 });
    let raw = Raw::open(kind, &url).await;

    let admin = NewUser::new("bench-admin", Role::Admin);
    let owner = NewUser::new("bench-owner", Role::User);
    let actor = Actor {
        id: admin.id.clone(),
        username: admin.username.clone(),
        role: Role::Admin,
    };
    let owner_id = owner.id.clone();
    Batch {
        users: vec![admin, owner],
        ..Batch::default()
    }
    .insert(&db)
    .await
    .expect("insert the operator");
    let trash_db = db
        .clone()
        .with_trash(modcon::db::trash::TrashConfig { keep_days: 30 });
    (
        Bench {
            kind,
            db,
            trash_db,
            raw,
            actor,
            owner: owner_id,
        },
        cleanup,
    )
}

async fn clean_up(cleanup: Cleanup) {
    match cleanup {
        Cleanup::Pg(name) => match PgConnection::connect(&pg_admin_url()).await {
            Ok(mut conn) => {
                if let Err(e) = conn
                    .execute(AssertSqlSafe(format!(
                        "drop database if exists {name} with (force)"
                    )))
                    .await
                {
                    eprintln!("could not drop database {name}: {e}");
                }
            }
            Err(e) => eprintln!("could not drop database {name}: {e}"),
        },
        Cleanup::My(name) => match MySqlConnection::connect(&mysql_admin_url()).await {
            Ok(mut conn) => {
                if let Err(e) = conn
                    .execute(AssertSqlSafe(format!("drop database if exists {name}")))
                    .await
                {
                    eprintln!("could not drop database {name}: {e}");
                }
            }
            Err(e) => eprintln!("could not drop database {name}: {e}"),
        },
        Cleanup::Lite(path) => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

// ---------------------------------------------------------------- (a) bulk delete

/// What one round deletes: 100 session ids (in the order the request names them) and
/// their titles.
struct Fixture {
    ids: Vec<Id>,
    titles: Vec<String>,
}

/// 100 fresh sessions × 1,000 messages, all newer than anything else.
fn fixture(owner: &Id, tag: &str) -> (Batch, Fixture) {
    let now = Utc::now();
    let mut batch = Batch::default();
    let mut ids = Vec::with_capacity(SESSIONS_PER_ROUND);
    let mut titles = Vec::with_capacity(SESSIONS_PER_ROUND);
    for s in 0..SESSIONS_PER_ROUND {
        let id = Id::from(Uuid::new_v4());
        let title = format!("bench {tag} session {s}");
        ids.push(id.clone());
        titles.push(title.clone());
        batch.sessions.push(NewSession {
            id: id.clone(),
            user_id: Some(owner.clone()),
            guild_id: None,
            model: "gpt-bench".into(),
            title,
            created_at: now,
        });
        for m in 0..MESSAGES_PER_SESSION {
            let from_user = m % 2 == 0;
            batch.chat_messages.push(NewChatMessage {
                id: Id::from(Uuid::new_v4()),
                session_id: id.clone(),
                author_id: if from_user { Some(owner.clone()) } else { None },
                role: if from_user { "user" } else { "assistant" },
                content: format!(
                    "message {m} of session {s}: an ordinary sentence of about the usual length"
                ),
                created_at: now + chrono::Duration::milliseconds(m as i64),
            });
        }
    }
    (batch, Fixture { ids, titles })
}

#[derive(Debug, Clone, Copy)]
struct Totals {
    sessions: i64,
    messages: i64,
    audit: i64,
}

async fn totals(raw: &Raw) -> Totals {
    Totals {
        sessions: raw.count("select count(*) from chat_sessions").await,
        messages: raw.count("select count(*) from chat_messages").await,
        audit: raw
            .count(&format!("select count(*) from {}", raw.audit_table()))
            .await,
    }
}

/// A fixture inserted and settled, with the totals before its delete.
struct Round {
    fixture: Fixture,
    before: Totals,
}

/// The audit rows that deleting `fixture` must leave, whoever deletes it: one per
/// session and the summary row, as modcon writes them (`record` and `summary_row` in
/// `src/db/plan.rs`, the snapshot and label of `describe_sessions` in
/// `src/db/chats.rs`). Written out independently of both sides.
fn expected_audit(b: &Bench, fixture: &Fixture) -> Vec<AuditRecord> {
    let owner_id = b.owner.to_string();
    let record = |action: &str, target_type: &str, target_id, label, counts, details| AuditRecord {
        actor_id: Some(b.actor.id.to_string()),
        actor_name: b.actor.username.clone(),
        action: action.into(),
        target_type: target_type.into(),
        target_id,
        target_label: label,
        counts,
        reason: None,
        details,
    };
    let mut rows: Vec<AuditRecord> = fixture
        .ids
        .iter()
        .zip(&fixture.titles)
        .map(|(id, title)| {
            record(
                "chat_session.delete",
                "chat_session",
                Some(id.to_string()),
                format!("{title} — bench-owner"),
                json!({ "chat_sessions": 1, "chat_messages": MESSAGES_PER_SESSION }),
                json!({
                    "title": title,
                    "model": "gpt-bench",
                    "owner_id": owner_id,
                    "owner": "bench-owner",
                    "guild_id": null,
                }),
            )
        })
        .collect();
    rows.push(record(
        "chat_session.delete.bulk",
        "batch",
        None,
        format!("{n} of {n} chat sessions deleted", n = SESSIONS_PER_ROUND),
        json!({
            "chat_sessions": SESSIONS_PER_ROUND,
            "chat_messages": SESSIONS_PER_ROUND * MESSAGES_PER_SESSION,
        }),
        json!({
            "requested_ids": fixture.ids,
            "done_ids": fixture.ids,
            "failed": [],
            "kept": {},
            "content_policy": null,
            "soft_delete": false,
        }),
    ));
    rows
}

fn audit_order(rows: &mut [AuditRecord]) {
    rows.sort_by(|a, b| (&a.target_type, &a.target_id).cmp(&(&b.target_type, &b.target_id)));
}

/// Panics unless the 100 sessions and their 100,000 messages are gone, nothing else
/// was removed, and exactly the expected 101 audit rows were added under `batch_id`,
/// field for field (so modcon and the baseline wrote the same rows).
async fn verify_delete(b: &Bench, who: &str, round: &Round, batch_id: Uuid) {
    let raw = &b.raw;
    let ids = &round.fixture.ids;
    let before = round.before;
    let after = totals(raw).await;
    let want_messages = (SESSIONS_PER_ROUND * MESSAGES_PER_SESSION) as i64;
    assert_eq!(
        raw.count_in("chat_sessions", "id", ids).await,
        0,
        "{who}: sessions survived"
    );
    assert_eq!(
        raw.count_in("chat_messages", "session_id", ids).await,
        0,
        "{who}: messages survived"
    );
    assert_eq!(
        before.sessions - after.sessions,
        SESSIONS_PER_ROUND as i64,
        "{who}: session count"
    );
    assert_eq!(
        before.messages - after.messages,
        want_messages,
        "{who}: message count"
    );
    assert_eq!(
        after.audit - before.audit,
        SESSIONS_PER_ROUND as i64 + 1,
        "{who}: audit rows added"
    );
    let mut got = raw.audit_batch(batch_id).await;
    let mut want = expected_audit(b, &round.fixture);
    assert_eq!(
        got.len(),
        SESSIONS_PER_ROUND + 1,
        "{who}: audit rows in the batch"
    );
    audit_order(&mut got);
    audit_order(&mut want);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "{who}: an audit row differs from what modcon writes");
    }
}

/// Inserts a fresh fixture (not timed as part of the case, but reported) and returns it
/// with the totals before its delete.
async fn prepare(b: &Bench, tag: &str, inserts: &mut Vec<Duration>) -> Round {
    let (batch, fixture) = fixture(&b.owner, tag);
    let t = Instant::now();
    batch.insert(&b.db).await.expect("insert the fixture");
    inserts.push(t.elapsed());
    b.raw.settle().await;
    let before = totals(&b.raw).await;
    assert_eq!(
        b.raw
            .count_in("chat_messages", "session_id", &fixture.ids)
            .await,
        (SESSIONS_PER_ROUND * MESSAGES_PER_SESSION) as i64,
        "fixture not inserted"
    );
    Round { fixture, before }
}

/// modcon: plan (timed apart, as the console shows it before confirmation), then the
/// timed `execute` of the confirmed plan. Returns (plan time, execute time).
async fn modcon_delete_round(
    b: &Bench,
    db: &Db,
    tag: &str,
    inserts: &mut Vec<Duration>,
) -> (Duration, Duration, Round, Uuid) {
    let round = prepare(b, tag, inserts).await;
    let request = Request::new(
        Operation::new(
            OpKind::DeleteChatSessions,
            TargetIds::new(round.fixture.ids.clone()).unwrap(),
        ),
        None,
    );
    let t = Instant::now();
    let confirmed = plan(db, &b.actor, request).await.expect("plan");
    let plan_time = t.elapsed();
    assert_eq!(confirmed.targets.len(), SESSIONS_PER_ROUND, "plan targets");
    assert!(confirmed.refused.is_empty(), "plan refusals");
    assert_eq!(
        confirmed.counts.get("chat_messages"),
        (SESSIONS_PER_ROUND * MESSAGES_PER_SESSION) as i64,
        "plan message count"
    );

    let t = Instant::now();
    let outcome = execute(db, &b.actor, &confirmed).await.expect("execute");
    let execute_time = t.elapsed();

    assert_eq!(outcome.deleted_count(), SESSIONS_PER_ROUND);
    assert!(outcome.failed_ids().is_empty());
    assert_eq!(
        outcome.counts.get("chat_sessions"),
        SESSIONS_PER_ROUND as i64
    );
    assert_eq!(
        outcome.counts.get("chat_messages"),
        (SESSIONS_PER_ROUND * MESSAGES_PER_SESSION) as i64
    );
    verify_delete(b, "modcon", &round, outcome.batch_id).await;
    if db.trash().is_on() {
        verify_trash(b, "modcon", &round, outcome.batch_id).await;
    } else {
        assert_eq!(
            trash_rows(b, outcome.batch_id).await,
            0,
            "trash off keeps nothing"
        );
    }
    (plan_time, execute_time, round, outcome.batch_id)
}

/// How the hand-written side counts each session's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CountStyle {
    /// `left join chat_messages … count(m.id) … group by`: the first thing one writes.
    GroupBy,
    /// A correlated `(select count(*) …)` per session, in the label select: how modcon
    /// counted before the data layer was rewritten (the earlier fair baseline).
    Subquery,
    /// The labels, then one `select session_id, count(*) … group by session_id` over
    /// the messages alone: the statements modcon now sends (`describe_sessions`, then
    /// `impact::measure` over the foreign-key graph). The fair baseline.
    Grouped,
}

impl CountStyle {
    fn name(self) -> &'static str {
        match self {
            CountStyle::GroupBy => "baseline (join + group by)",
            CountStyle::Subquery => "baseline (count subquery)",
            CountStyle::Grouped => "baseline (grouped count)",
        }
    }

    /// The select that collects labels (and, but for `Grouped`, counts); `{ids}` is the
    /// id condition.
    fn select(self) -> &'static str {
        match self {
            CountStyle::GroupBy => {
                "select s.id, s.title, s.model, s.user_id, s.guild_id, u.username, \
                 count(m.id) as messages \
                 from chat_sessions s left join users u on u.id = s.user_id \
                 left join chat_messages m on m.session_id = s.id \
                 where s.id {ids} group by s.id, u.username"
            }
            CountStyle::Subquery => {
                "select s.id, s.title, s.model, s.user_id, s.guild_id, u.username, \
                 (select count(*) from chat_messages m where m.session_id = s.id) as messages \
                 from chat_sessions s left join users u on u.id = s.user_id \
                 where s.id {ids}"
            }
            CountStyle::Grouped => {
                "select s.id, s.title, s.model, s.user_id, s.guild_id, u.username \
                 from chat_sessions s left join users u on u.id = s.user_id \
                 where s.id {ids}"
            }
        }
    }

    /// The separate count statement, for `Grouped`.
    fn counts(self) -> Option<&'static str> {
        match self {
            CountStyle::Grouped => Some(
                "select session_id, count(*) as messages from chat_messages \
                 where session_id {ids} group by session_id",
            ),
            CountStyle::GroupBy | CountStyle::Subquery => None,
        }
    }
}

/// The hand-written side: the timed transaction, then the same checks.
async fn baseline_delete_round(
    b: &Bench,
    style: CountStyle,
    archive: bool,
    tag: &str,
    inserts: &mut Vec<Duration>,
) -> Duration {
    let round = prepare(b, tag, inserts).await;
    let ids = &round.fixture.ids;
    let t = Instant::now();
    let batch_id = match &b.raw {
        Raw::Pg(pool) => baseline_delete_pg(pool, style, archive, &b.actor, ids).await,
        Raw::My(pool) => baseline_delete_mysql(pool, style, archive, &b.actor, ids).await,
        Raw::Lite(pool) => baseline_delete_sqlite(pool, style, archive, &b.actor, ids).await,
    };
    let elapsed = t.elapsed();
    verify_delete(b, style.name(), &round, batch_id).await;
    if archive {
        verify_trash(b, "baseline (archive)", &round, batch_id).await;
    }
    elapsed
}

/// One session as the hand-written side read it, ids in text form.
struct Target {
    id: String,
    title: String,
    model: String,
    owner_id: Option<String>,
    owner: Option<String>,
    guild_id: Option<String>,
    messages: i64,
}

/// What the hand-written side writes for one deleted session: label, counts, details.
fn audit_parts(t: &Target) -> (String, Value, Value) {
    let label = format!("{} — {}", t.title, t.owner.as_deref().unwrap_or("orphaned"));
    let mut counts = serde_json::Map::new();
    counts.insert("chat_sessions".into(), 1.into());
    if t.messages != 0 {
        counts.insert("chat_messages".into(), t.messages.into());
    }
    let details = json!({
        "title": t.title,
        "model": t.model,
        "owner_id": t.owner_id,
        "owner": t.owner,
        "guild_id": t.guild_id,
    });
    (label, Value::Object(counts), details)
}

fn summary_parts(ids: &[Id], total: i64) -> (String, Value, Value) {
    let n = ids.len();
    (
        format!(
            "{n} of {n} chat {}",
            if n == 1 {
                "session deleted"
            } else {
                "sessions deleted"
            }
        ),
        json!({ "chat_sessions": n, "chat_messages": total }),
        json!({
            "requested_ids": ids,
            "done_ids": ids,
            "failed": [],
            "kept": {},
            "content_policy": null,
            "soft_delete": false,
        }),
    )
}

/// `insert into <audit table> … values ($1, $2, $3, 'action', 'type', $k, $k+1, $k+2,
/// $k+3), …`: batch id, actor id and actor name are shared binds.
fn audit_insert_sql(
    table: &str,
    per_session: usize,
    postgres: bool,
    placeholder: impl Fn(usize) -> String,
) -> String {
    // The same chained append as modcon's: ids given under the append lock, each row
    // with the previous row's hash and its own.
    let mut sql = format!(
        "insert into {table} (batch_id, actor_id, actor_name, action, target_type, \
         target_id, target_label, counts, details, id, at, prev_hash, hash) {}values ",
        if postgres {
            "overriding system value "
        } else {
            ""
        }
    );
    let shared = format!("{}, {}, {}", placeholder(1), placeholder(2), placeholder(3));
    let mut next = 4;
    let mut row = |sql: &mut String, action: &str, target_type: &str, with_target: bool| {
        let target = if with_target {
            let p = placeholder(next);
            next += 1;
            p
        } else {
            "null".to_string()
        };
        let rest: Vec<String> = (0..7).map(|k| placeholder(next + k)).collect();
        next += 7;
        sql.push_str(&format!(
            "({shared}, '{action}', '{target_type}', {target}, {})",
            rest.join(", ")
        ));
    };
    for i in 0..per_session {
        if i > 0 {
            sql.push_str(", ");
        }
        row(&mut sql, "chat_session.delete", "chat_session", true);
    }
    sql.push_str(", ");
    row(&mut sql, "chat_session.delete.bulk", "batch", false);
    sql
}

/// One audit row's chain values, computed by hand as modcon does: SHA-256 over the
/// previous hash and the row's fields as a JSON array.
#[allow(clippy::too_many_arguments)]
fn chain_link(
    prev_hash: &str,
    id: i64,
    at: &chrono::DateTime<chrono::Utc>,
    batch_id: Uuid,
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: Option<&str>,
    label: &str,
    counts: &Value,
    details: &Value,
) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!([
        id,
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        batch_id,
        actor.id.to_string(),
        actor.username,
        action,
        target_type,
        target_id,
        label,
        counts,
        Value::Null,
        details,
    ])
    .to_string();
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn baseline_delete_pg(
    pool: &PgPool,
    style: CountStyle,
    archive: bool,
    actor: &Actor,
    ids: &[Id],
) -> Uuid {
    let uuids = pg_uuids(ids);
    let batch_id = Uuid::new_v4();
    let mut tx = pool.begin().await.unwrap();
    let locked =
        sqlx::query("select id from chat_sessions where id = any($1) order by id for update")
            .bind(&uuids)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(locked.len(), ids.len(), "baseline: lock");
    let rows = sqlx::query(AssertSqlSafe(style.select().replace("{ids}", "= any($1)")))
        .bind(&uuids)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(rows.len(), ids.len(), "baseline: plan rows");
    let mut counted: HashMap<Uuid, i64> = HashMap::new();
    if let Some(sql) = style.counts() {
        for r in sqlx::query(AssertSqlSafe(sql.replace("{ids}", "= any($1)")))
            .bind(&uuids)
            .fetch_all(&mut *tx)
            .await
            .unwrap()
        {
            counted.insert(r.get("session_id"), r.get("messages"));
        }
    }
    let text = |u: Option<Uuid>| u.map(|u| u.to_string());
    let targets: Vec<Target> = rows
        .iter()
        .map(|r| {
            let id: Uuid = r.get("id");
            Target {
                id: id.to_string(),
                title: r.get("title"),
                model: r.get("model"),
                owner_id: text(r.get("user_id")),
                owner: r.get("username"),
                guild_id: text(r.get("guild_id")),
                messages: match style.counts() {
                    Some(_) => counted.get(&id).copied().unwrap_or(0),
                    None => r.get("messages"),
                },
            }
        })
        .collect();
    if archive {
        // Every row the delete removes, as JSON, server-side, before it goes.
        sqlx::query(
            "insert into modcon.modcon_trash_batches (batch_id, at, actor_id, actor_name, \
             action, target_type) values ($1, $2, $3, $4, 'chat_session.delete', 'chat_session')",
        )
        .bind(batch_id)
        .bind(chrono::Utc::now())
        .bind(actor.id.to_string())
        .bind(actor.username.clone())
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "insert into modcon.modcon_trash (batch_id, kind, table_name, depth, target_id, \
             row_data) select $1, 'row', 'chat_sessions', 0, s.id::text, to_jsonb(s) \
             from chat_sessions s where s.id = any($2)",
        )
        .bind(batch_id)
        .bind(&uuids)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "insert into modcon.modcon_trash (batch_id, kind, table_name, depth, target_id, \
             row_data) select $1, 'row', 'chat_messages', 1, null, to_jsonb(m) \
             from chat_messages m where m.session_id = any($2)",
        )
        .bind(batch_id)
        .bind(&uuids)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let deleted = sqlx::query("delete from chat_sessions where id = any($1)")
        .bind(&uuids)
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(deleted, ids.len() as u64, "baseline: deleted");

    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(0x6d6f_6463_6f6e_i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    let head = sqlx::query("select id, hash from modcon.modcon_audit_log order by id desc limit 1")
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
    let (mut id, mut prev): (i64, String) = head
        .map(|r| {
            (
                r.get("id"),
                r.get::<Option<String>, _>("hash").unwrap_or_default(),
            )
        })
        .unwrap_or((0, String::new()));
    let now = chrono::Utc::now();
    let at = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap();
    let sql = audit_insert_sql("modcon.modcon_audit_log", targets.len(), true, |i| {
        format!("${i}")
    });
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(batch_id)
        .bind(actor.id.to_string())
        .bind(actor.username.clone());
    let mut total = 0;
    for t in &targets {
        total += t.messages;
        let (label, counts, details) = audit_parts(t);
        id += 1;
        let hash = chain_link(
            &prev,
            id,
            &at,
            batch_id,
            actor,
            "chat_session.delete",
            "chat_session",
            Some(&t.id),
            &label,
            &counts,
            &details,
        );
        q = q
            .bind(t.id.clone())
            .bind(label)
            .bind(sqlx::types::Json(counts))
            .bind(sqlx::types::Json(details))
            .bind(id)
            .bind(at)
            .bind(prev.clone())
            .bind(hash.clone());
        prev = hash;
    }
    let (label, counts, details) = summary_parts(ids, total);
    id += 1;
    let hash = chain_link(
        &prev,
        id,
        &at,
        batch_id,
        actor,
        "chat_session.delete.bulk",
        "batch",
        None,
        &label,
        &counts,
        &details,
    );
    q = q
        .bind(label)
        .bind(sqlx::types::Json(counts))
        .bind(sqlx::types::Json(details))
        .bind(id)
        .bind(at)
        .bind(prev)
        .bind(hash);
    q.execute(&mut *tx).await.unwrap();
    if archive {
        // The retention window, as modcon keeps it at each delete.
        sqlx::query("select batch_id from modcon.modcon_trash_batches where at < $1 limit 1")
            .bind(chrono::Utc::now() - chrono::Duration::days(30))
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    batch_id
}

/// The reference schema's columns, for SQLite's `json_object` (it has no row-to-JSON).
const SESSION_COLUMNS: [&str; 7] = [
    "id",
    "user_id",
    "guild_id",
    "model",
    "title",
    "created_at",
    "updated_at",
];
const MESSAGE_COLUMNS: [&str; 6] = [
    "id",
    "session_id",
    "author_id",
    "role",
    "content",
    "created_at",
];

/// The hand-written archive for SQLite and MySQL (both build the JSON with
/// `json_object`): the sessions named by `list` (`in (?, …)`), then their messages, each
/// `insert … select` binding the batch id, then the session ids.
fn json_archive_statements(list: &str) -> Vec<String> {
    [
        ("chat_sessions", 0, "s.id", "s.id", &SESSION_COLUMNS[..]),
        (
            "chat_messages",
            1,
            "null",
            "s.session_id",
            &MESSAGE_COLUMNS[..],
        ),
    ]
    .into_iter()
    .map(|(table, depth, target, column, columns)| {
        format!(
            "insert into modcon_trash (batch_id, kind, table_name, depth, target_id, \
             row_data) select ?, 'row', '{table}', {depth}, {target}, {} \
             from {table} s where {column} {list}",
            sqlite_json("s", columns)
        )
    })
    .collect()
}

fn sqlite_json(alias: &str, columns: &[&str]) -> String {
    let pairs: Vec<String> = columns
        .iter()
        .map(|c| format!("'{c}', {alias}.{c}"))
        .collect();
    format!("json_object({})", pairs.join(", "))
}

async fn baseline_delete_sqlite(
    pool: &SqlitePool,
    style: CountStyle,
    archive: bool,
    actor: &Actor,
    ids: &[Id],
) -> Uuid {
    let batch_id = Uuid::new_v4();
    let id_texts: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let list = format!("in ({})", question_marks(ids.len()));
    let mut tx = pool.begin_with("begin immediate").await.unwrap();
    let mut q = sqlx::query(AssertSqlSafe(style.select().replace("{ids}", &list)));
    for id in &id_texts {
        q = q.bind(id.clone());
    }
    let rows = q.fetch_all(&mut *tx).await.unwrap();
    assert_eq!(rows.len(), ids.len(), "baseline: plan rows");
    let mut counted: HashMap<String, i64> = HashMap::new();
    if let Some(sql) = style.counts() {
        let mut q = sqlx::query(AssertSqlSafe(sql.replace("{ids}", &list)));
        for id in &id_texts {
            q = q.bind(id.clone());
        }
        for r in q.fetch_all(&mut *tx).await.unwrap() {
            counted.insert(r.get("session_id"), r.get("messages"));
        }
    }
    let targets: Vec<Target> = rows
        .iter()
        .map(|r| {
            let id: String = r.get("id");
            let messages = match style.counts() {
                Some(_) => counted.get(&id).copied().unwrap_or(0),
                None => r.get("messages"),
            };
            Target {
                id,
                title: r.get("title"),
                model: r.get("model"),
                owner_id: r.get("user_id"),
                owner: r.get("username"),
                guild_id: r.get("guild_id"),
                messages,
            }
        })
        .collect();
    if archive {
        sqlx::query(
            "insert into modcon_trash_batches (batch_id, at, actor_id, actor_name, action, \
             target_type) values (?, ?, ?, ?, 'chat_session.delete', 'chat_session')",
        )
        .bind(batch_id.to_string())
        .bind(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .bind(actor.id.to_string())
        .bind(actor.username.clone())
        .execute(&mut *tx)
        .await
        .unwrap();
        for sql in json_archive_statements(&list) {
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(batch_id.to_string());
            for id in &id_texts {
                q = q.bind(id.clone());
            }
            q.execute(&mut *tx).await.unwrap();
        }
    }
    let mut q = sqlx::query(AssertSqlSafe(format!(
        "delete from chat_sessions where id {list}"
    )));
    for id in &id_texts {
        q = q.bind(id.clone());
    }
    let deleted = q.execute(&mut *tx).await.unwrap().rows_affected();
    assert_eq!(deleted, ids.len() as u64, "baseline: deleted");

    let head = sqlx::query("select id, hash from modcon_audit_log order by id desc limit 1")
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
    let (mut id, mut prev): (i64, String) = head
        .map(|r| {
            (
                r.get("id"),
                r.get::<Option<String>, _>("hash").unwrap_or_default(),
            )
        })
        .unwrap_or((0, String::new()));
    let now = chrono::Utc::now();
    let at = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap();
    let at_text = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let sql = audit_insert_sql("modcon_audit_log", targets.len(), false, |i| {
        format!("?{i}")
    });
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(batch_id.to_string())
        .bind(actor.id.to_string())
        .bind(actor.username.clone());
    let mut total = 0;
    for t in &targets {
        total += t.messages;
        let (label, counts, details) = audit_parts(t);
        id += 1;
        let hash = chain_link(
            &prev,
            id,
            &at,
            batch_id,
            actor,
            "chat_session.delete",
            "chat_session",
            Some(&t.id),
            &label,
            &counts,
            &details,
        );
        q = q
            .bind(t.id.clone())
            .bind(label)
            .bind(counts.to_string())
            .bind(details.to_string())
            .bind(id)
            .bind(at_text.clone())
            .bind(prev.clone())
            .bind(hash.clone());
        prev = hash;
    }
    let (label, counts, details) = summary_parts(ids, total);
    id += 1;
    let hash = chain_link(
        &prev,
        id,
        &at,
        batch_id,
        actor,
        "chat_session.delete.bulk",
        "batch",
        None,
        &label,
        &counts,
        &details,
    );
    q = q
        .bind(label)
        .bind(counts.to_string())
        .bind(details.to_string())
        .bind(id)
        .bind(at_text)
        .bind(prev)
        .bind(hash);
    q.execute(&mut *tx).await.unwrap();
    if archive {
        sqlx::query("select batch_id from modcon_trash_batches where at < ? limit 1")
            .bind(
                (chrono::Utc::now() - chrono::Duration::days(30))
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    batch_id
}

async fn baseline_delete_mysql(
    pool: &MySqlPool,
    style: CountStyle,
    archive: bool,
    actor: &Actor,
    ids: &[Id],
) -> Uuid {
    let batch_id = Uuid::new_v4();
    let id_texts: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let list = format!("in ({})", question_marks(ids.len()));
    let mut tx = pool.begin().await.unwrap();
    let mut q = sqlx::query(AssertSqlSafe(format!(
        "select id from chat_sessions where id {list} order by id for update"
    )));
    for id in &id_texts {
        q = q.bind(id.clone());
    }
    let locked = q.fetch_all(&mut *tx).await.unwrap();
    assert_eq!(locked.len(), ids.len(), "baseline: lock");
    let mut q = sqlx::query(AssertSqlSafe(style.select().replace("{ids}", &list)));
    for id in &id_texts {
        q = q.bind(id.clone());
    }
    let rows = q.fetch_all(&mut *tx).await.unwrap();
    assert_eq!(rows.len(), ids.len(), "baseline: plan rows");
    let mut counted: HashMap<String, i64> = HashMap::new();
    if let Some(sql) = style.counts() {
        let mut q = sqlx::query(AssertSqlSafe(sql.replace("{ids}", &list)));
        for id in &id_texts {
            q = q.bind(id.clone());
        }
        for r in q.fetch_all(&mut *tx).await.unwrap() {
            counted.insert(my_text(&r, "session_id"), r.get("messages"));
        }
    }
    let targets: Vec<Target> = rows
        .iter()
        .map(|r| {
            let id = my_text(r, "id");
            let messages = match style.counts() {
                Some(_) => counted.get(&id).copied().unwrap_or(0),
                None => r.get("messages"),
            };
            Target {
                id,
                title: my_text(r, "title"),
                model: my_text(r, "model"),
                owner_id: my_opt_text(r, "user_id"),
                owner: my_opt_text(r, "username"),
                guild_id: my_opt_text(r, "guild_id"),
                messages,
            }
        })
        .collect();
    if archive {
        sqlx::query(
            "insert into modcon_trash_batches (batch_id, at, actor_id, actor_name, action, \
             target_type) values (?, ?, ?, ?, 'chat_session.delete', 'chat_session')",
        )
        .bind(batch_id.to_string())
        .bind(chrono::Utc::now().naive_utc())
        .bind(actor.id.to_string())
        .bind(actor.username.clone())
        .execute(&mut *tx)
        .await
        .unwrap();
        // MySQL's json_object is SQLite's: the same archive statements.
        for sql in json_archive_statements(&list) {
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(batch_id.to_string());
            for id in &id_texts {
                q = q.bind(id.clone());
            }
            q.execute(&mut *tx).await.unwrap();
        }
    }
    let mut q = sqlx::query(AssertSqlSafe(format!(
        "delete from chat_sessions where id {list}"
    )));
    for id in &id_texts {
        q = q.bind(id.clone());
    }
    let deleted = q.execute(&mut *tx).await.unwrap().rows_affected();
    assert_eq!(deleted, ids.len() as u64, "baseline: deleted");

    // The chain's append lock, as modcon takes it on MySQL.
    sqlx::query("select name from modcon_locks where name = 'audit_chain' for update")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    let head = sqlx::query("select id, hash from modcon_audit_log order by id desc limit 1")
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
    let (mut id, mut prev): (i64, String) = head
        .map(|r| (r.get("id"), my_opt_text(&r, "hash").unwrap_or_default()))
        .unwrap_or((0, String::new()));
    let now = chrono::Utc::now();
    let at = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap();
    // Plain `?` placeholders: the shared values are bound again for every row.
    let sql = audit_insert_sql("modcon_audit_log", targets.len(), false, |_| "?".into());
    let mut q = sqlx::query(AssertSqlSafe(sql));
    let mut total = 0;
    for t in &targets {
        total += t.messages;
        let (label, counts, details) = audit_parts(t);
        id += 1;
        let hash = chain_link(
            &prev,
            id,
            &at,
            batch_id,
            actor,
            "chat_session.delete",
            "chat_session",
            Some(&t.id),
            &label,
            &counts,
            &details,
        );
        q = q
            .bind(batch_id.to_string())
            .bind(actor.id.to_string())
            .bind(actor.username.clone())
            .bind(t.id.clone())
            .bind(label)
            .bind(counts.to_string())
            .bind(details.to_string())
            .bind(id)
            .bind(at.naive_utc())
            .bind(prev.clone())
            .bind(hash.clone());
        prev = hash;
    }
    let (label, counts, details) = summary_parts(ids, total);
    id += 1;
    let hash = chain_link(
        &prev,
        id,
        &at,
        batch_id,
        actor,
        "chat_session.delete.bulk",
        "batch",
        None,
        &label,
        &counts,
        &details,
    );
    q = q
        .bind(batch_id.to_string())
        .bind(actor.id.to_string())
        .bind(actor.username.clone())
        .bind(label)
        .bind(counts.to_string())
        .bind(details.to_string())
        .bind(id)
        .bind(at.naive_utc())
        .bind(prev)
        .bind(hash);
    q.execute(&mut *tx).await.unwrap();
    if archive {
        sqlx::query("select batch_id from modcon_trash_batches where at < ? limit 1")
            .bind((chrono::Utc::now() - chrono::Duration::days(30)).naive_utc())
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    batch_id
}

async fn bench_delete(b: &Bench, cfg: &Config, out: &mut Vec<Outcome>) {
    let name = b.kind.name();
    println!(
        "\n[{name}] (a) bulk delete: {SESSIONS_PER_ROUND} sessions × {MESSAGES_PER_SESSION} \
         messages + {} audit rows, {} rounds per side, interleaved",
        SESSIONS_PER_ROUND + 1,
        cfg.rounds
    );
    let styles = [
        CountStyle::GroupBy,
        CountStyle::Subquery,
        CountStyle::Grouped,
    ];
    let mut plans = Vec::new();
    let mut modcon = Vec::new();
    let mut baselines: Vec<Vec<Duration>> = vec![Vec::new(); styles.len()];
    let mut inserts = Vec::new();
    for round in 0..cfg.rounds {
        // Rotate which side goes first so none always follows another.
        for slot in 0..=styles.len() {
            match (round + slot) % (styles.len() + 1) {
                0 => {
                    let (p, e, _, _) =
                        modcon_delete_round(b, &b.db, &format!("m{round}"), &mut inserts).await;
                    plans.push(p);
                    modcon.push(e);
                }
                k => {
                    let style = styles[k - 1];
                    let tag = format!("b{k}-{round}");
                    baselines[k - 1]
                        .push(baseline_delete_round(b, style, false, &tag, &mut inserts).await);
                }
            }
        }
        let others: Vec<String> = styles
            .iter()
            .zip(&baselines)
            .map(|(style, samples)| format!("{} {}", style.name(), ms(samples[round])))
            .collect();
        println!(
            "  round {}: modcon plan {} execute {} | {} (all verified)",
            round + 1,
            ms(plans[round]),
            ms(modcon[round]),
            others.join(" | "),
        );
    }
    let (p, m) = (Stats::of(&plans), Stats::of(&modcon));
    let ins = Stats::of(&inserts);
    println!(
        "  fixture insert (Batch::insert, 100 sessions + 100,000 messages, not part of the case): \
         median {} ({:.0} messages/s)",
        ms(ins.median),
        (SESSIONS_PER_ROUND * MESSAGES_PER_SESSION) as f64 / ins.median.as_secs_f64()
    );
    println!("  modcon plan                 {}", p.line());
    println!("  modcon execute              {}", m.line());
    for (style, samples) in styles.iter().zip(&baselines) {
        let st = Stats::of(samples);
        let r = ratio(m.median, st.median);
        println!("  {:<27} {}", style.name(), st.line());
        println!(
            "    ratio of medians, modcon execute / this: {r:.2}×  (plan + execute / this: {:.2}×)",
            ratio(m.median + p.median, st.median)
        );
        out.push(Outcome {
            backend: name,
            case: match style {
                CountStyle::GroupBy => "(a) delete 100×1,000 + audit vs join + group by",
                CountStyle::Subquery => "(a) delete 100×1,000 + audit vs count subquery",
                CountStyle::Grouped => "(a) delete 100×1,000 + audit vs grouped count",
            },
            modcon: m.median,
            baseline: st.median,
            target: "≤ 1.25×",
            met: Some(r <= RATIO_TARGET),
        });
    }
}

// ---------------------------------------------------------------- (a) with the trash

fn trash_table(raw: &Raw) -> &'static str {
    match raw {
        Raw::Pg(_) => "modcon.modcon_trash",
        Raw::My(_) | Raw::Lite(_) => "modcon_trash",
    }
}

fn bind_mark(raw: &Raw) -> &'static str {
    match raw {
        Raw::Pg(_) => "$1::uuid",
        Raw::My(_) | Raw::Lite(_) => "?",
    }
}

/// Rows kept in the trash under `batch_id` (verification only).
async fn trash_rows(b: &Bench, batch_id: Uuid) -> i64 {
    let sql = format!(
        "select count(*) from {} where batch_id = {}",
        trash_table(&b.raw),
        bind_mark(&b.raw)
    );
    match &b.raw {
        Raw::Pg(p) => sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .bind(batch_id)
            .fetch_one(p)
            .await
            .unwrap(),
        Raw::Lite(p) => sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .bind(batch_id.to_string())
            .fetch_one(p)
            .await
            .unwrap(),
        Raw::My(p) => sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .bind(batch_id.to_string())
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

/// Panics unless the trash keeps exactly what the delete removed under `batch_id`: the
/// 100 sessions (depth 0, their ids as targets) and their 100,000 messages (depth 1),
/// each whole, every column, as JSON; and one batch row naming the delete.
async fn verify_trash(b: &Bench, who: &str, round: &Round, batch_id: Uuid) {
    let table = trash_table(&b.raw);
    let mark = bind_mark(&b.raw);
    let grouped = format!(
        "select table_name, kind, depth, count(*) as n, count(target_id) as targeted \
         from {table} where batch_id = {mark} group by table_name, kind, depth \
         order by table_name"
    );
    let one_session = match &b.raw {
        Raw::Pg(_) => format!(
            "select row_data::text as row_data, target_id from {table} \
             where batch_id = $1::uuid and table_name = 'chat_sessions'"
        ),
        Raw::My(_) | Raw::Lite(_) => format!(
            "select row_data, target_id from {table} \
             where batch_id = ? and table_name = 'chat_sessions'"
        ),
    };
    let batch_row = format!(
        "select action, target_type, actor_name from {} where batch_id = {mark}",
        match &b.raw {
            Raw::Pg(_) => "modcon.modcon_trash_batches",
            Raw::My(_) | Raw::Lite(_) => "modcon_trash_batches",
        }
    );
    type Group = (String, String, i32, i64, i64);
    type Kept = (Vec<Group>, Vec<(String, String)>, (String, String, String));
    let (groups, sessions, batch): Kept = match &b.raw {
        Raw::Pg(p) => (
            sqlx::query_as(AssertSqlSafe(grouped))
                .bind(batch_id)
                .fetch_all(p)
                .await
                .unwrap(),
            sqlx::query_as(AssertSqlSafe(one_session))
                .bind(batch_id)
                .fetch_all(p)
                .await
                .unwrap(),
            sqlx::query_as(AssertSqlSafe(batch_row))
                .bind(batch_id)
                .fetch_one(p)
                .await
                .unwrap(),
        ),
        Raw::Lite(p) => {
            let id = batch_id.to_string();
            let groups: Vec<(String, String, i64, i64, i64)> =
                sqlx::query_as(AssertSqlSafe(grouped))
                    .bind(&id)
                    .fetch_all(p)
                    .await
                    .unwrap();
            (
                groups
                    .into_iter()
                    .map(|(t, k, d, n, x)| (t, k, d as i32, n, x))
                    .collect(),
                sqlx::query_as(AssertSqlSafe(one_session))
                    .bind(&id)
                    .fetch_all(p)
                    .await
                    .unwrap(),
                sqlx::query_as(AssertSqlSafe(batch_row))
                    .bind(&id)
                    .fetch_one(p)
                    .await
                    .unwrap(),
            )
        }
        // Binary-collated text is read unchecked on MySQL.
        Raw::My(p) => {
            let id = batch_id.to_string();
            let fetch = |sql: String| {
                let id = id.clone();
                async move {
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(id)
                        .fetch_all(p)
                        .await
                        .unwrap()
                }
            };
            let groups = fetch(grouped)
                .await
                .iter()
                .map(|r| {
                    (
                        my_text(r, "table_name"),
                        my_text(r, "kind"),
                        r.get::<i32, _>("depth"),
                        r.get::<i64, _>("n"),
                        r.get::<i64, _>("targeted"),
                    )
                })
                .collect();
            let sessions = fetch(one_session)
                .await
                .iter()
                .map(|r| (my_text(r, "row_data"), my_text(r, "target_id")))
                .collect();
            let batch = fetch(batch_row)
                .await
                .first()
                .map(|r| {
                    (
                        my_text(r, "action"),
                        my_text(r, "target_type"),
                        my_text(r, "actor_name"),
                    )
                })
                .unwrap();
            (groups, sessions, batch)
        }
    };
    let messages = (SESSIONS_PER_ROUND * MESSAGES_PER_SESSION) as i64;
    assert_eq!(
        groups,
        vec![
            (
                "chat_messages".to_string(),
                "row".to_string(),
                1,
                messages,
                0
            ),
            (
                "chat_sessions".to_string(),
                "row".to_string(),
                0,
                SESSIONS_PER_ROUND as i64,
                SESSIONS_PER_ROUND as i64
            ),
        ],
        "{who}: what the trash keeps"
    );
    assert_eq!(
        batch,
        (
            "chat_session.delete".to_string(),
            "chat_session".to_string(),
            b.actor.username.clone()
        ),
        "{who}: the trash batch"
    );
    let titles: HashMap<String, &String> = round
        .fixture
        .ids
        .iter()
        .map(|id| id.to_string())
        .zip(&round.fixture.titles)
        .collect();
    for (row, target) in &sessions {
        let row: Value = serde_json::from_str(row).unwrap();
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = SESSION_COLUMNS.to_vec();
        want.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, want, "{who}: a kept session has every column");
        assert_eq!(row["id"].as_str(), Some(target.as_str()), "{who}: target");
        assert_eq!(
            row["title"].as_str(),
            titles.get(target).map(|t| t.as_str()),
            "{who}: the kept session is the one deleted"
        );
    }
}

/// (a) with the trash on against hand-written SQL doing the same archive, and the
/// trash's cost against (a) with it off, in one interleaved run; then a restore of the
/// whole 100 × 1,000 batch, timed.
async fn bench_trash(b: &Bench, cfg: &Config, out: &mut Vec<Outcome>) {
    let name = b.kind.name();
    println!(
        "\n[{name}] (a) with the trash: {SESSIONS_PER_ROUND} sessions × {MESSAGES_PER_SESSION} \
         messages, {} rounds per side, interleaved; a restore after each trash-on delete",
        cfg.rounds
    );
    let sides = [
        "modcon, trash off",
        "modcon, trash on",
        "baseline (grouped count)",
        "baseline (grouped count) + archive",
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); sides.len()];
    let mut restores = Vec::new();
    let mut inserts = Vec::new();
    for round in 0..cfg.rounds {
        for slot in 0..sides.len() {
            let side = (round + slot) % sides.len();
            let tag = format!("t{side}-{round}");
            let elapsed = match side {
                0 | 1 => {
                    let db = if side == 0 { &b.db } else { &b.trash_db };
                    let (_, e, round_data, batch_id) =
                        modcon_delete_round(b, db, &tag, &mut inserts).await;
                    if side == 1 {
                        restores.push(time_restore(b, &round_data, batch_id).await);
                    }
                    e
                }
                k => {
                    baseline_delete_round(b, CountStyle::Grouped, k == 3, &tag, &mut inserts).await
                }
            };
            samples[side].push(elapsed);
        }
        println!(
            "  round {}: {} | restore {} (all verified)",
            round + 1,
            sides
                .iter()
                .zip(&samples)
                .map(|(side, s)| format!("{side} {}", ms(s[round])))
                .collect::<Vec<_>>()
                .join(" | "),
            ms(restores[round]),
        );
    }
    let stats: Vec<Stats> = samples.iter().map(|s| Stats::of(s)).collect();
    for (side, st) in sides.iter().zip(&stats) {
        println!("  {side:<36} {}", st.line());
    }
    let restore = Stats::of(&restores);
    println!("  {:<36} {}", "modcon restore of the batch", restore.line());
    let on_vs_hand = ratio(stats[1].median, stats[3].median);
    println!(
        "    trash on vs the same archive by hand: {on_vs_hand:.2}×; the trash's cost: \
         {} on top of {} ({:.2}×); by hand the archive costs {:.2}×",
        ms(stats[1].median.saturating_sub(stats[0].median)),
        ms(stats[0].median),
        ratio(stats[1].median, stats[0].median),
        ratio(stats[3].median, stats[2].median),
    );
    out.push(Outcome {
        backend: name,
        case: "(a) with the trash vs the same archive by hand",
        modcon: stats[1].median,
        baseline: stats[3].median,
        target: "≤ 1.25×",
        met: Some(on_vs_hand <= RATIO_TARGET),
    });
    out.push(Outcome {
        backend: name,
        case: "(a) trash on vs trash off (the trash's cost)",
        modcon: stats[1].median,
        baseline: stats[0].median,
        target: "stated",
        met: None,
    });
    out.push(Outcome {
        backend: name,
        case: "restore of the 100×1,000 batch vs its fixture insert",
        modcon: restore.median,
        baseline: Stats::of(&inserts).median,
        target: "timed",
        met: None,
    });
}

/// One `trash restore` of the batch just deleted, timed; then checked (every session
/// and message back) and deleted again by hand, so that the database keeps its size.
async fn time_restore(b: &Bench, round: &Round, batch_id: Uuid) -> Duration {
    let t = Instant::now();
    let report = modcon::db::trash::restore(&b.trash_db, &b.actor, batch_id, false)
        .await
        .expect("restore");
    let elapsed = t.elapsed();
    assert!(
        report.is_complete(),
        "restore refused rows: {:?}",
        report.refused.first()
    );
    assert_eq!(
        report.restored(),
        (SESSIONS_PER_ROUND * (MESSAGES_PER_SESSION + 1)) as i64
    );
    let ids = &round.fixture.ids;
    assert_eq!(
        b.raw.count_in("chat_sessions", "id", ids).await,
        SESSIONS_PER_ROUND as i64
    );
    assert_eq!(
        b.raw.count_in("chat_messages", "session_id", ids).await,
        (SESSIONS_PER_ROUND * MESSAGES_PER_SESSION) as i64
    );
    match &b.raw {
        Raw::Pg(p) => {
            sqlx::query("delete from chat_sessions where id = any($1)")
                .bind(pg_uuids(ids))
                .execute(p)
                .await
                .unwrap();
        }
        Raw::Lite(p) => {
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "delete from chat_sessions where id in ({})",
                question_marks(ids.len())
            )));
            for id in ids {
                q = q.bind(id.to_string());
            }
            q.execute(p).await.unwrap();
        }
        Raw::My(p) => {
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "delete from chat_sessions where id in ({})",
                question_marks(ids.len())
            )));
            for id in ids {
                q = q.bind(id.to_string());
            }
            q.execute(p).await.unwrap();
        }
    }
    elapsed
}

// ---------------------------------------------------------------- (b) first page

#[derive(Debug, Clone, PartialEq)]
struct ListRow {
    id: Id,
    title: String,
    owner_id: Option<Id>,
    owner_name: Option<String>,
    guild_id: Option<Id>,
    guild_name: Option<String>,
    model: String,
    messages: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const LIST_PG: &str = "select s.id, s.title, s.user_id, u.username as owner_name, s.guild_id, \
     g.name as guild_name, s.model, s.created_at, s.updated_at, \
     (select count(*) from chat_messages m where m.session_id = s.id) as messages \
     from chat_sessions s left join users u on u.id = s.user_id \
     left join guilds g on g.id = s.guild_id \
     order by s.created_at desc, s.id desc limit 50";
// Same text: SQLite and MySQL have no other syntax for this.
const LIST_SQLITE: &str = LIST_PG;
const LIST_MYSQL: &str = LIST_PG;

/// `G` by hand: the oldest 50 in ascending order on the same index, turned around.
const LAST_PG: &str = "select s.id, s.title, s.user_id, u.username as owner_name, s.guild_id, \
     g.name as guild_name, s.model, s.created_at, s.updated_at, \
     (select count(*) from chat_messages m where m.session_id = s.id) as messages \
     from chat_sessions s left join users u on u.id = s.user_id \
     left join guilds g on g.id = s.guild_id \
     order by s.created_at, s.id limit 50";

async fn baseline_page(raw: &Raw) -> Vec<ListRow> {
    baseline_rows(raw, LIST_PG).await
}

async fn baseline_last_page(raw: &Raw) -> Vec<ListRow> {
    let mut rows = baseline_rows(raw, LAST_PG).await;
    rows.reverse();
    rows
}

async fn baseline_rows(raw: &Raw, sql: &'static str) -> Vec<ListRow> {
    match raw {
        Raw::Pg(pool) => sqlx::query(sql)
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| ListRow {
                id: Id::from(r.get::<Uuid, _>("id")),
                title: r.get("title"),
                owner_id: r.get::<Option<Uuid>, _>("user_id").map(Id::from),
                owner_name: r.get("owner_name"),
                guild_id: r.get::<Option<Uuid>, _>("guild_id").map(Id::from),
                guild_name: r.get("guild_name"),
                model: r.get("model"),
                messages: r.get("messages"),
                created_at: r.get("created_at"),
                updated_at: r.get("updated_at"),
            })
            .collect(),
        Raw::Lite(pool) => {
            // Uuids are lowercase text in SQLite, as `Id` keeps them.
            let id = Id::Text;
            let time = |t: String| {
                DateTime::parse_from_rfc3339(&t)
                    .unwrap()
                    .with_timezone(&Utc)
            };
            sqlx::query(sql)
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| ListRow {
                    id: id(r.get("id")),
                    title: r.get("title"),
                    owner_id: r.get::<Option<String>, _>("user_id").map(id),
                    owner_name: r.get("owner_name"),
                    guild_id: r.get::<Option<String>, _>("guild_id").map(id),
                    guild_name: r.get("guild_name"),
                    model: r.get("model"),
                    messages: r.get("messages"),
                    created_at: time(r.get("created_at")),
                    updated_at: time(r.get("updated_at")),
                })
                .collect()
        }
        Raw::My(pool) => {
            let id = Id::Text;
            let time = |r: &sqlx::mysql::MySqlRow, col: &str| {
                r.get::<chrono::NaiveDateTime, _>(col).and_utc()
            };
            sqlx::query(sql)
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| ListRow {
                    id: id(my_text(r, "id")),
                    title: my_text(r, "title"),
                    owner_id: my_opt_text(r, "user_id").map(id),
                    owner_name: my_opt_text(r, "owner_name"),
                    guild_id: my_opt_text(r, "guild_id").map(id),
                    guild_name: my_opt_text(r, "guild_name"),
                    model: my_text(r, "model"),
                    messages: r.get("messages"),
                    created_at: time(r, "created_at"),
                    updated_at: time(r, "updated_at"),
                })
                .collect()
        }
    }
}

async fn modcon_page(db: &Db) -> Vec<ListRow> {
    let page = chat_sessions(db, &ChatSessionFilter::default(), None, PAGE)
        .await
        .expect("chat_sessions");
    assert!(
        page.next.is_some(),
        "modcon: a first page of a big table has a next"
    );
    page.rows
        .into_iter()
        .map(|r| ListRow {
            id: r.id,
            title: r.title,
            owner_id: r.owner_id,
            owner_name: r.owner_name,
            guild_id: r.guild_id,
            guild_name: r.guild_name,
            model: r.model,
            messages: r.messages,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect()
}

async fn modcon_last_page(db: &Db) -> Vec<ListRow> {
    let page = chat_sessions_sorted(
        db,
        &ChatSessionFilter::default(),
        Order::default(),
        &Seek::Last,
        PAGE,
    )
    .await
    .expect("chat_sessions_sorted");
    assert!(
        page.next.is_some(),
        "modcon: the last page of a big table has rows before it"
    );
    page.rows
        .into_iter()
        .map(|r| ListRow {
            id: r.id,
            title: r.title,
            owner_id: r.owner_id,
            owner_name: r.owner_name,
            guild_id: r.guild_id,
            guild_name: r.guild_name,
            model: r.model,
            messages: r.messages,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect()
}

async fn bench_last_page(b: &Bench, cfg: &Config, out: &mut Vec<Outcome>) {
    let name = b.kind.name();
    println!(
        "\n[{name}] (c) G: the last page of {PAGE} sessions (the oldest) with message counts, \
         {} sessions",
        cfg.list_sessions
    );
    // Both must return the same page, the oldest session last.
    let m = modcon_last_page(&b.db).await;
    let base = baseline_last_page(&b.raw).await;
    assert_eq!(m.len(), PAGE, "modcon: page size");
    assert_eq!(
        m, base,
        "modcon and the baseline return different last pages"
    );
    assert!(
        m.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "the last page is in the list's order, newest first"
    );
    for _ in 0..cfg.warmup {
        assert_eq!(modcon_last_page(&b.db).await.len(), PAGE);
        assert_eq!(baseline_last_page(&b.raw).await.len(), PAGE);
    }
    let mut modcon = Vec::with_capacity(cfg.calls);
    let mut baseline = Vec::with_capacity(cfg.calls);
    for i in 0..cfg.calls {
        let time_m = || async {
            let t = Instant::now();
            let rows = modcon_last_page(&b.db).await;
            let e = t.elapsed();
            assert_eq!(rows.len(), PAGE);
            e
        };
        let time_b = || async {
            let t = Instant::now();
            let rows = baseline_last_page(&b.raw).await;
            let e = t.elapsed();
            assert_eq!(rows.len(), PAGE);
            e
        };
        if i % 2 == 0 {
            modcon.push(time_m().await);
            baseline.push(time_b().await);
        } else {
            baseline.push(time_b().await);
            modcon.push(time_m().await);
        }
    }
    let (ms_, bs) = (Stats::of(&modcon), Stats::of(&baseline));
    println!("  modcon    {}", ms_.line());
    println!("  baseline  {}", bs.line());
    println!("  ratio of medians: {:.2}×", ratio(ms_.median, bs.median));
    let (target, met) = match b.kind {
        Kind::Postgres | Kind::Mysql => ("median < 100 ms", Some(ms_.median < LAST_PAGE_TARGET)),
        Kind::Sqlite => ("(none set)", None),
    };
    out.push(Outcome {
        backend: name,
        case: if cfg.list_sessions >= 1_000_000 {
            "(c) G: last page of 50, 1M sessions"
        } else if cfg.quick {
            "(c) G: last page of 50, 10k sessions"
        } else {
            "(c) G: last page of 50, 100k sessions"
        },
        modcon: ms_.median,
        baseline: bs.median,
        target,
        met,
    });
}

async fn time_modcon_page(db: &Db) -> Duration {
    let t = Instant::now();
    let rows = modcon_page(db).await;
    let elapsed = t.elapsed();
    assert_eq!(rows.len(), PAGE, "modcon: page size");
    elapsed
}

async fn time_baseline_page(raw: &Raw) -> Duration {
    let t = Instant::now();
    let rows = baseline_page(raw).await;
    let elapsed = t.elapsed();
    assert_eq!(rows.len(), PAGE, "baseline: page size");
    elapsed
}

async fn explain_page(raw: &Raw) {
    println!(
        "  plan of the page query (the baseline's text; modcon's differs only in quoted \
         identifiers, `where 1 = 1` and `limit $1` = 51):"
    );
    match raw {
        Raw::Pg(pool) => {
            let lines: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "explain (analyze, buffers) {LIST_PG}"
            )))
            .fetch_all(pool)
            .await
            .unwrap();
            for line in lines {
                println!("    {line}");
            }
        }
        Raw::Lite(pool) => {
            let rows = sqlx::query(AssertSqlSafe(format!("explain query plan {LIST_SQLITE}")))
                .fetch_all(pool)
                .await
                .unwrap();
            for r in rows {
                println!("    {}", r.get::<String, _>("detail"));
            }
        }
        Raw::My(pool) => {
            let rows = sqlx::query(AssertSqlSafe(format!("explain {LIST_MYSQL}")))
                .fetch_all(pool)
                .await
                .unwrap();
            for r in rows {
                println!(
                    "    {} {} key={} rows={} {}",
                    my_text(&r, "table"),
                    my_text(&r, "type"),
                    my_text(&r, "key"),
                    r.try_get_unchecked::<Option<u64>, _>("rows")
                        .ok()
                        .flatten()
                        .unwrap_or(0),
                    my_text(&r, "Extra")
                );
            }
        }
    }
}

async fn bench_page(b: &Bench, cfg: &Config, out: &mut Vec<Outcome>) {
    let name = b.kind.name();
    let messages = cfg.list_sessions * cfg.list_messages_per_session;
    println!(
        "\n[{name}] (b) first page of {PAGE} sessions with message counts, {messages} messages \
         in {} sessions",
        cfg.list_sessions
    );
    let t = Instant::now();
    let seeded = seed_scale(
        &b.db,
        ScaleSpec {
            users: 1_000,
            guilds: 100,
            sessions: cfg.list_sessions,
            messages_per_session: cfg.list_messages_per_session,
            orphan_percent: 5,
        },
        |_| {},
    )
    .await
    .expect("seed_scale");
    let seed_time = t.elapsed();
    assert_eq!(seeded.messages, messages);
    let t = Instant::now();
    b.raw.analyze().await;
    let analyze_time = t.elapsed();
    let total_messages = b.raw.count("select count(*) from chat_messages").await;
    assert_eq!(total_messages, messages as i64, "seeded messages");
    println!(
        "  seeded {} sessions / {} messages with seed_scale in {:.1} s ({:.0} messages/s); \
         analyze {:.1} s",
        seeded.sessions,
        seeded.messages,
        seed_time.as_secs_f64(),
        seeded.messages as f64 / seed_time.as_secs_f64(),
        analyze_time.as_secs_f64()
    );

    // Both must return the same page.
    let m = modcon_page(&b.db).await;
    let base = baseline_page(&b.raw).await;
    assert_eq!(m.len(), PAGE, "modcon: page size");
    assert_eq!(base.len(), PAGE, "baseline: page size");
    assert_eq!(m, base, "modcon and the baseline return different pages");
    assert!(
        m.iter()
            .all(|r| r.messages == cfg.list_messages_per_session as i64)
    );

    for _ in 0..cfg.warmup {
        assert_eq!(modcon_page(&b.db).await.len(), PAGE);
        assert_eq!(baseline_page(&b.raw).await.len(), PAGE);
    }
    let mut modcon = Vec::with_capacity(cfg.calls);
    let mut baseline = Vec::with_capacity(cfg.calls);
    for i in 0..cfg.calls {
        // Interleaved call by call, alternating which goes first.
        if i % 2 == 0 {
            modcon.push(time_modcon_page(&b.db).await);
            baseline.push(time_baseline_page(&b.raw).await);
        } else {
            baseline.push(time_baseline_page(&b.raw).await);
            modcon.push(time_modcon_page(&b.db).await);
        }
    }
    let (ms_, bs) = (Stats::of(&modcon), Stats::of(&baseline));
    let r = ratio(ms_.median, bs.median);
    println!("  modcon    {}", ms_.line());
    println!("  baseline  {}", bs.line());
    println!("  ratio of medians: {r:.2}×");
    explain_page(&b.raw).await;
    let (target, met) = match b.kind {
        Kind::Postgres | Kind::Mysql => ("median < 20 ms", Some(ms_.median < PAGE_TARGET)),
        Kind::Sqlite => ("(none set)", None),
    };
    out.push(Outcome {
        backend: name,
        case: if cfg.quick {
            "(b) first page of 50, 100k msgs"
        } else {
            "(b) first page of 50, 1M msgs"
        },
        modcon: ms_.median,
        baseline: bs.median,
        target,
        met,
    });
    if b.kind != Kind::Sqlite {
        println!("  p95: modcon {} / baseline {}", ms(ms_.p95), ms(bs.p95));
    }
}

// ---------------------------------------------------------------- main

async fn run_backend(kind: Kind, cfg: Config) -> Vec<Outcome> {
    let (bench, cleanup) = open(kind).await;
    let task = tokio::spawn(async move {
        let mut out = Vec::new();
        let everything = !cfg.trash_only && !cfg.lists_only;
        if everything {
            bench_delete(&bench, &cfg, &mut out).await;
        }
        if !cfg.lists_only {
            bench_trash(&bench, &cfg, &mut out).await;
        }
        if !cfg.trash_only {
            bench_page(&bench, &cfg, &mut out).await;
            bench_last_page(&bench, &cfg, &mut out).await;
        }
        bench.db.close().await;
        bench.raw.close().await;
        out
    });
    let result = task.await;
    clean_up(cleanup).await;
    match result {
        Ok(out) => out,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("{} benchmark task failed: {e}", kind.name()),
    }
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn print_table(rows: &[Outcome]) {
    println!("\n| backend | case | modcon median | baseline median | ratio | target | met |");
    println!("|---|---|---:|---:|---:|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {:.2}× | {} | {} |",
            r.backend,
            r.case,
            ms(r.modcon),
            ms(r.baseline),
            ratio(r.modcon, r.baseline),
            r.target,
            match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "n/a",
            }
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = Config::from_args(&args);
    let named: Vec<Kind> = [
        ("postgres", Kind::Postgres),
        ("mysql", Kind::Mysql),
        ("sqlite", Kind::Sqlite),
    ]
    .into_iter()
    .filter(|(name, _)| args.iter().any(|a| a == name))
    .map(|(_, kind)| kind)
    .collect();
    let kinds = if named.is_empty() {
        vec![Kind::Postgres, Kind::Mysql, Kind::Sqlite]
    } else {
        named
    };
    println!(
        "modcon data-layer benchmark ({} run: {} delete rounds per side, {} messages for the page, \
         {} page calls per side after {} warm-up)",
        if cfg.quick { "quick" } else { "full" },
        cfg.rounds,
        cfg.list_sessions * cfg.list_messages_per_session,
        cfg.calls,
        cfg.warmup
    );
    if std::env::var_os("MODCON_BENCH_SQLX_LOG").is_some() {
        // Diagnostics only: sqlx's per-statement summary with its elapsed time, on stderr.
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("sqlx::query=debug"))
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The machine may be shared: say how busy it was.
    println!("load average at the start: {}", load_average());
    let mut rows = Vec::new();
    for kind in kinds {
        rows.extend(runtime.block_on(run_backend(kind, cfg)));
    }
    println!("\nload average at the end: {}", load_average());
    print_table(&rows);
}
