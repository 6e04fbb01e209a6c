//! Scale benchmark on PostgreSQL: 1,000,000 chat sessions and 10,000,000 chat messages
//! (`benches/scale_dataset.sql`, generated server-side), modcon against hand-written SQL
//! doing the same work in the same run, first without the trigram indexes, then with
//! them as `modcon migrate` creates them on the reference schema:
//!
//! - a session filter that matches nothing, and one that matches 125,000 sessions
//!   (first page of 100, with per-row message counts);
//! - content search for a rare string (12 sessions) and a common one (100,000 sessions):
//!   first page of 100 grouped by session, and the total;
//! - "mark all" (Ctrl-a) over 100,000 matching sessions, from the search and from the
//!   Chats filter: ids only, against the hand-written id query and against the paging
//!   of full rows the console did before;
//! - stopping a search that runs without its index: how long from Esc until the server
//!   statement is gone.
//!
//! Run: `cargo bench --bench scale` (drops its database at the end) or
//! `cargo bench --bench scale -- --keep` (keeps `modcon_bench_scale`, so the next run
//! skips the five-minute load). Admin URL: `MODCON_BENCH_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). `--calls N` timed calls per case
//! (default 5, after one warm-up).
//!
//! Every timed call's answer is compared with the baseline's (the same ids in the same
//! order), and the run panics if they differ.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use modcon::db::lists::{self, ChatSessionFilter, TimeCursor};
use modcon::db::search::{self, Interrupt};
use modcon::db::{Access, Db, Id, SchemaMap};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};
use uuid::Uuid;

const PG_URL_ENV: &str = "MODCON_BENCH_PG_URL";
const PG_DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DATABASE: &str = "modcon_bench_scale";
const DATASET: &str = include_str!("scale_dataset.sql");
const SESSIONS: i64 = 1_000_000;
const MESSAGES: i64 = 10_000_000;
/// What the console asks for: a page of 100 (and one more to know there is more).
const PAGE: usize = 100;
const MARK_ALL: usize = 100_000;

const NOTHING: &str = "zzqxj";
const TITLE_COMMON: &str = "lisbon";
const RARE: &str = "zebra-quokka-7781";
const COMMON: &str = "spam.example/win";

fn admin_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| PG_DEFAULT_URL.to_string())
}

fn url_for(name: &str) -> String {
    let admin = admin_url();
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

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let n = samples.len();
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    }
}

struct Row3 {
    case: String,
    index: &'static str,
    modcon: Duration,
    baseline: Duration,
    target: &'static str,
    met: Option<bool>,
}

/// Times `calls` runs of each side after one warm-up each, alternating, and checks
/// that both sides answer the same.
async fn measure<A, B, FA, FB>(
    calls: usize,
    mut modcon: FA,
    mut baseline: FB,
) -> (Duration, Duration)
where
    FA: FnMut() -> A,
    FB: FnMut() -> B,
    A: std::future::Future<Output = Vec<String>>,
    B: std::future::Future<Output = Vec<String>>,
{
    let expected = baseline().await;
    let got = modcon().await;
    assert_eq!(got, expected, "modcon and the baseline answer differently");
    let (mut m, mut b) = (Vec::new(), Vec::new());
    for _ in 0..calls {
        let t = Instant::now();
        let got = modcon().await;
        m.push(t.elapsed());
        assert_eq!(got.len(), expected.len());
        let t = Instant::now();
        let base = baseline().await;
        b.push(t.elapsed());
        assert_eq!(base.len(), expected.len());
    }
    (median(m), median(b))
}

fn ids(ids: impl IntoIterator<Item = Id>) -> Vec<String> {
    ids.into_iter().map(|id| id.to_string()).collect()
}

async fn uuids(pool: &PgPool, sql: &'static str, text: &str) -> Vec<String> {
    sqlx::query(sql)
        .bind(format!("%{text}%"))
        .fetch_all(pool)
        .await
        .expect("baseline query")
        .iter()
        .map(|r| r.get::<Uuid, _>(0).to_string())
        .collect()
}

/// The session listing's first page as one would write it by hand: the same columns
/// and per-row counts, the filter over title, model, owner and guild names.
const BASE_SESSIONS: &str = "select s.id, s.title, u.username, g.name, s.model, s.created_at, \
     (select count(*) from chat_messages m where m.session_id = s.id) as messages \
     from chat_sessions s left join users u on u.id = s.user_id \
     left join guilds g on g.id = s.guild_id \
     where s.title ilike $1 or s.model ilike $1 or u.username ilike $1 or g.name ilike $1 \
     order by s.created_at desc, s.id desc limit 101";

/// Content search by hand: matching messages grouped by session, newest session first.
const BASE_SEARCH: &str = "select s.id, s.title, u.username, count(*) as matches, \
     min(m.content) as excerpt from chat_messages m \
     join chat_sessions s on s.id = m.session_id left join users u on u.id = s.user_id \
     where m.content ilike $1 group by s.id, s.title, u.username, s.created_at \
     order by s.created_at desc, s.id desc limit 101";

const BASE_COUNT: &str = "select count(distinct session_id), count(*) from chat_messages \
     where content ilike $1";

const BASE_SEARCH_IDS: &str = "select s.id from chat_sessions s where s.id in \
     (select session_id from chat_messages where content ilike $1) \
     order by s.created_at desc, s.id desc limit 100000";

const BASE_FILTER_IDS: &str = "select s.id from chat_sessions s \
     left join users u on u.id = s.user_id left join guilds g on g.id = s.guild_id \
     where s.title ilike $1 or s.model ilike $1 or u.username ilike $1 or g.name ilike $1 \
     order by s.created_at desc, s.id desc limit 100000";

async fn prepare(keep: bool) -> (Db, PgPool) {
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("PostgreSQL is required for this benchmark");
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    let url = url_for(DATABASE);
    let mut loaded = false;
    if exists && keep {
        let pool = PgPoolOptions::new().connect(&url).await.unwrap();
        let n: Option<i64> = sqlx::query_scalar("select count(*) from chat_messages")
            .fetch_one(&pool)
            .await
            .ok();
        loaded = n == Some(MESSAGES);
        pool.close().await;
    }
    if !loaded {
        admin
            .execute(AssertSqlSafe(format!(
                "drop database if exists {DATABASE} with (force)"
            )))
            .await
            .unwrap();
        admin
            .execute(AssertSqlSafe(format!("create database {DATABASE}")))
            .await
            .unwrap();
        let db = Db::create(&url).await.unwrap();
        db.migrate(&SchemaMap::reference()).await.unwrap();
        db.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .unwrap();
        // Loading is faster without the trigram indexes; they are built later, timed.
        drop_trigram_indexes(&pool).await;
        let t = Instant::now();
        sqlx::raw_sql(DATASET)
            .execute(&pool)
            .await
            .expect("load the dataset");
        println!(
            "generated {SESSIONS} sessions and {MESSAGES} messages server-side in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        pool.close().await;
    } else {
        println!("reusing {DATABASE} (kept by an earlier run with --keep)");
    }
    let db = Db::open(&url, Access::ReadWrite, &SchemaMap::reference())
        .await
        .unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from chat_sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, SESSIONS);
    (db, pool)
}

async fn drop_trigram_indexes(pool: &PgPool) {
    let names: Vec<String> = sqlx::query_scalar(
        "select indexname from pg_indexes where schemaname = 'public' \
         and indexdef like '%gin_trgm_ops%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for name in names {
        pool.execute(AssertSqlSafe(format!("drop index \"{name}\"")))
            .await
            .unwrap();
    }
}

async fn cases(db: &Db, pool: &PgPool, calls: usize, index: &'static str, out: &mut Vec<Row3>) {
    let indexed = index == "with";
    let title = |text: &'static str| ChatSessionFilter {
        text: Some(text.into()),
        ..ChatSessionFilter::default()
    };
    for (text, case, target) in [
        (
            NOTHING,
            "session filter matching nothing, first page",
            "< 300 ms",
        ),
        (
            TITLE_COMMON,
            "session filter matching 125,000, first page",
            "",
        ),
    ] {
        let filter = title(text);
        let (m, b) = measure(
            calls,
            || async {
                ids(lists::chat_sessions(db, &filter, None, PAGE)
                    .await
                    .unwrap()
                    .rows
                    .into_iter()
                    .map(|r| r.id))
            },
            || async {
                uuids(pool, BASE_SESSIONS, text)
                    .await
                    .into_iter()
                    .take(PAGE)
                    .collect()
            },
        )
        .await;
        push(out, case, index, m, b, target, 300);
    }
    for (text, case) in [
        (
            RARE,
            "content search, rare string (12 sessions), first page",
        ),
        (
            COMMON,
            "content search, common string (100,000 sessions), first page",
        ),
    ] {
        let (m, b) = measure(
            calls,
            || async {
                let page = search::search_chat_messages(db, text, None, PAGE, &Interrupt::new())
                    .await
                    .unwrap();
                ids(page.rows.into_iter().map(|r| r.id))
            },
            || async {
                uuids(pool, BASE_SEARCH, text)
                    .await
                    .into_iter()
                    .take(PAGE)
                    .collect()
            },
        )
        .await;
        push(
            out,
            case,
            index,
            m,
            b,
            if indexed { "< 500 ms" } else { "" },
            500,
        );
    }
    for (text, case) in [
        (RARE, "content search total, rare string"),
        (COMMON, "content search total, common string"),
    ] {
        let (m, b) = measure(
            calls,
            || async {
                let t = search::count_search(db, text, &Interrupt::new())
                    .await
                    .unwrap();
                vec![t.sessions.to_string(), t.messages.to_string()]
            },
            || async {
                let r = sqlx::query(BASE_COUNT)
                    .bind(format!("%{text}%"))
                    .fetch_one(pool)
                    .await
                    .unwrap();
                vec![
                    r.get::<i64, _>(0).to_string(),
                    r.get::<i64, _>(1).to_string(),
                ]
            },
        )
        .await;
        push(out, case, index, m, b, "", 0);
    }
    let (m, b) = measure(
        calls,
        || async {
            ids(
                search::search_session_ids(db, COMMON, MARK_ALL, &Interrupt::new())
                    .await
                    .unwrap(),
            )
        },
        || async { uuids(pool, BASE_SEARCH_IDS, COMMON).await },
    )
    .await;
    push(
        out,
        "Ctrl-a on the search: 100,000 session ids",
        index,
        m,
        b,
        "< 2 s",
        2000,
    );
    let filter = title("guitar");
    let (m, b) = measure(
        calls,
        || async {
            ids(lists::chat_session_ids(db, &filter, MARK_ALL)
                .await
                .unwrap())
        },
        || async { uuids(pool, BASE_FILTER_IDS, "guitar").await },
    )
    .await;
    push(
        out,
        "Ctrl-a on a Chats filter: 100,000 of 125,000 session ids",
        index,
        m,
        b,
        "< 2 s",
        2000,
    );
}

fn push(
    out: &mut Vec<Row3>,
    case: &str,
    index: &'static str,
    modcon: Duration,
    baseline: Duration,
    target: &'static str,
    target_ms: u64,
) {
    let met = (!target.is_empty()).then(|| modcon <= Duration::from_millis(target_ms));
    println!(
        "  [{index} index] {case}: modcon {} · hand-written {}",
        ms(modcon),
        ms(baseline)
    );
    out.push(Row3 {
        case: case.to_string(),
        index,
        modcon,
        baseline,
        target,
        met,
    });
}

/// "Mark all" as the console did it before: pages of 1,000 full rows (with their
/// message counts) until 100,000 ids.
async fn mark_all_by_pages(db: &Db, filter: &ChatSessionFilter) -> (Duration, usize) {
    let t = Instant::now();
    let mut n = 0;
    let mut after: Option<TimeCursor> = None;
    while n < MARK_ALL {
        let page = lists::chat_sessions(db, filter, after, 1_000)
            .await
            .unwrap();
        n += page.rows.len();
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    (t.elapsed(), n.min(MARK_ALL))
}

/// Stops a search that runs without its index after `after`; returns how long the
/// server took to let go, and checks that the statement is gone.
async fn stop_latency(db: &Db, pool: &PgPool, after: Duration) -> Duration {
    let interrupt = Interrupt::new();
    let task = {
        let (db, interrupt) = (db.clone(), interrupt.clone());
        tokio::spawn(async move { search::count_search(&db, RARE, &interrupt).await })
    };
    tokio::time::sleep(after).await;
    let t = Instant::now();
    interrupt.stop();
    let result = task.await.unwrap();
    let latency = t.elapsed();
    assert!(
        matches!(result, Err(modcon::db::DataError::Cancelled)),
        "{result:?}"
    );
    let running: i64 = sqlx::query_scalar(
        "select count(*) from pg_stat_activity where state = 'active' \
         and datname = current_database() and query like '%count(distinct%' \
         and query not like '%pg_stat_activity%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(running, 0, "the stopped statement still runs on the server");
    latency
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let keep = args.iter().any(|a| a == "--keep");
    let calls = args
        .iter()
        .position(|a| a == "--calls")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        println!(
            "modcon scale benchmark: {SESSIONS} sessions, {MESSAGES} messages; {calls} timed calls per side after a warm-up; load average {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
        );
        let (db, pool) = prepare(keep).await;
        let mut out = Vec::new();

        drop_trigram_indexes(&pool).await;
        pool.execute("analyze").await.unwrap();
        println!("without trigram indexes:");
        // Slow without the index: fewer calls.
        cases(&db, &pool, calls.min(2), "without", &mut out).await;
        let stop = stop_latency(&db, &pool, Duration::from_millis(500)).await;
        println!("  [without index] Esc on a running search: the server statement ended {} after the stop", ms(stop));

        let t = Instant::now();
        let report = db.migrate(&SchemaMap::reference()).await.unwrap();
        let built = t.elapsed();
        println!(
            "modcon migrate built {} trigram indexes in {:.0} s",
            report.applied.len(),
            built.as_secs_f64()
        );
        pool.execute("analyze").await.unwrap();
        println!("with trigram indexes:");
        cases(&db, &pool, calls, "with", &mut out).await;
        let filter = ChatSessionFilter {
            text: Some("guitar".into()),
            ..ChatSessionFilter::default()
        };
        let (paged, n) = mark_all_by_pages(&db, &filter).await;
        println!(
            "  Ctrl-a on a Chats filter as the console did before (pages of 1,000 full rows): {} for {n} ids",
            ms(paged)
        );

        println!("\n| case | trigram index | modcon median | hand-written median | ratio | target | met |");
        println!("|---|---|---:|---:|---:|---|---|");
        for r in &out {
            println!(
                "| {} | {} | {} | {} | {:.2}× | {} | {} |",
                r.case,
                r.index,
                ms(r.modcon),
                ms(r.baseline),
                r.modcon.as_secs_f64() / r.baseline.as_secs_f64(),
                r.target,
                match r.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                }
            );
        }
        println!("| Ctrl-a on a Chats filter, before: pages of 1,000 full rows | with | {} | | | | |", ms(paged));
        println!("| Esc on a running search without index: statement gone after | without | {} | | | | |", ms(stop));
        db.close().await;
        pool.close().await;
        if !keep {
            let mut admin = PgConnection::connect(&admin_url()).await.unwrap();
            admin
                .execute(AssertSqlSafe(format!("drop database if exists {DATABASE} with (force)")))
                .await
                .unwrap();
        }
    });
}
