//! Content search across every chat message, the text filters' trigram indexes, and
//! stopping a running search: on SQLite and PostgreSQL, on the reference schema and the
//! platform fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, Utc};
use common::{TestDb, count, fresh_id, operator, user};
use modcon::db::insert::{Batch, NewChatMessage, NewSession};
use modcon::db::lists::{self, ChatSessionFilter, TimeCursor};
use modcon::db::search::{self, Interrupt};
use modcon::db::{Arg, Backend, DataError, Db, Entity, Id, Role};

/// A session owned by `owner`, created `minutes_ago`, with these messages in order.
async fn session_with(
    db: &Db,
    owner: Option<Id>,
    title: &str,
    minutes_ago: i64,
    contents: &[&str],
) -> Id {
    let id = fresh_id(db, Entity::ChatSessions);
    let start = Utc::now() - Duration::minutes(minutes_ago);
    let mut batch = Batch {
        sessions: vec![NewSession {
            id: id.clone(),
            user_id: owner.clone(),
            guild_id: None,
            model: "model-a".into(),
            title: title.into(),
            created_at: start,
        }],
        ..Batch::default()
    };
    for (i, content) in contents.iter().enumerate() {
        batch.chat_messages.push(NewChatMessage {
            id: fresh_id(db, Entity::ChatMessages),
            session_id: id.clone(),
            author_id: owner.clone(),
            role: "user",
            content: content.to_string(),
            created_at: start + Duration::seconds(i as i64),
        });
    }
    batch.insert(db).await.expect("insert session");
    id
}

async fn all_hits(db: &Db, text: &str, page: usize) -> Vec<search::SessionHit> {
    let mut hits = Vec::new();
    let mut after: Option<TimeCursor> = None;
    loop {
        let p = search::search_chat_messages(db, text, after, page, &Interrupt::new())
            .await
            .unwrap();
        hits.extend(p.rows);
        match p.next {
            Some(next) => after = Some(next),
            None => return hits,
        }
    }
}

on_schemas! {
    [reference, fastapi, adminapi]
    async fn content_search_groups_matches_by_session_newest_first(db) {
        let owner = user(&db, "spammer").await;
        let url = "https://spam.example/win";
        let older = session_with(&db, Some(owner.clone()), "older", 30, &[
            "hello", &format!("go to {url} now"), "bye", &format!("again {url}"),
        ]).await;
        let newer = session_with(&db, Some(owner.clone()), "newer", 10, &[
            &format!("{url}?ref=1"),
        ]).await;
        let _clean = session_with(&db, Some(owner.clone()), "clean", 5, &["nothing here"]).await;
        let orphan = session_with(&db, None, "orphan", 20, &[
            &url.to_uppercase(),
        ]).await;

        let hits = all_hits(&db, url, 50).await;
        let ids: Vec<Id> = hits.iter().map(|h| h.id.clone()).collect();
        assert_eq!(ids, vec![newer.clone(), orphan.clone(), older.clone()]);
        let by_id = |id: &Id| hits.iter().find(|h| &h.id == id).unwrap();
        assert_eq!(by_id(&older).matches, 2);
        assert_eq!(by_id(&newer).matches, 1);
        // Case does not matter.
        assert_eq!(by_id(&orphan).matches, 1);
        assert_eq!(by_id(&older).title, "older");
        assert_eq!(by_id(&older).owner_name.as_deref(), Some("spammer"));
        assert_eq!(by_id(&orphan).owner_name, None);
        // The excerpt is the first matching message, around the match.
        assert_eq!(by_id(&older).excerpt, format!("go to {url} now"));
        assert!(!by_id(&older).excerpt_cut);

        let totals = search::count_search(&db, url, &Interrupt::new()).await.unwrap();
        assert_eq!(totals, search::SearchTotals { sessions: 3, messages: 4 });

        let marked = search::search_session_ids(&db, url, 1000, &Interrupt::new()).await.unwrap();
        assert_eq!(marked, vec![newer, orphan, older]);
        let capped = search::search_session_ids(&db, url, 2, &Interrupt::new()).await.unwrap();
        assert_eq!(capped.len(), 2);
    }
}

both_backends! {
    async fn content_search_pages_by_keyset_without_gaps_or_repeats(db) {
        let owner = user(&db, "pager").await;
        let mut made = Vec::new();
        for i in 0..7 {
            made.push(session_with(&db, Some(owner.clone()), &format!("s{i}"), 100 - i, &[
                "needle in here", "and the needle again",
            ]).await);
        }
        made.reverse();
        let first = search::search_chat_messages(&db, "needle", None, 3, &Interrupt::new())
            .await
            .unwrap();
        assert_eq!(first.rows.len(), 3);
        assert!(first.next.is_some());
        let hits = all_hits(&db, "needle", 3).await;
        let ids: Vec<Id> = hits.iter().map(|h| h.id.clone()).collect();
        assert_eq!(ids, made);
        assert!(hits.iter().all(|h| h.matches == 2));
    }

    async fn content_search_takes_percent_underscore_and_backslash_literally(db) {
        let owner = user(&db, "literal").await;
        let percent = session_with(&db, Some(owner.clone()), "p", 10, &["now 50% off"]).await;
        let _fifty = session_with(&db, Some(owner.clone()), "f", 11, &["now 5000 off"]).await;
        let underscore = session_with(&db, Some(owner.clone()), "u", 12, &["a_b"]).await;
        let _axb = session_with(&db, Some(owner.clone()), "x", 13, &["axb"]).await;
        let backslash = session_with(&db, Some(owner.clone()), "b", 14, &["c:\\temp"]).await;
        let _plain = session_with(&db, Some(owner.clone()), "c", 15, &["c:temp", "c:\\\\temp"]).await;

        let found = |text: &'static str| {
            let db = db.clone();
            async move {
                search::search_session_ids(&db, text, 100, &Interrupt::new()).await.unwrap()
            }
        };
        assert_eq!(found("50%").await, vec![percent]);
        assert_eq!(found("a_b").await, vec![underscore]);
        // A backslash is a character like any other: not an escape, not dropped.
        assert_eq!(found("c:\\t").await, vec![backslash]);
        assert_eq!(found("c:\\\\t").await.len(), 1);
        assert_eq!(found("%").await.len(), 1);
        assert_eq!(found("_").await.len(), 1);
    }

    async fn content_search_returns_hostile_text_raw_for_the_console_to_sanitise(db) {
        let owner = user(&db, "hostile").await;
        let hostile = "\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{202e}evil.example/gpj.exe";
        let id = session_with(&db, Some(owner), "\u{1b}[31mred title", 5, &[hostile]).await;
        let hits = all_hits(&db, "evil.example", 10).await;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].id, id);
        assert!(hits[0].excerpt.contains('\u{1b}'));
        let shown = modcon::sanitize::clean_line(&hits[0].excerpt);
        assert!(!shown.contains('\u{1b}') && !shown.contains('\u{7}') && !shown.contains('\u{202e}'));
        assert!(shown.contains("evil.example"));
    }

    async fn content_search_excerpt_starts_near_a_late_match(db) {
        let owner = user(&db, "long").await;
        let text = format!("{}FINDME{}", "a".repeat(5_000), "b".repeat(5_000));
        session_with(&db, Some(owner), "long", 5, &[&text]).await;
        let hits = all_hits(&db, "findme", 10).await;
        assert_eq!(hits.len(), 1);
        assert!(hits[0].excerpt_cut);
        assert!(hits[0].excerpt.contains("FINDME"));
        assert!(hits[0].excerpt.chars().count() <= 200);
    }

    async fn an_empty_search_is_refused(db) {
        let result = search::search_chat_messages(&db, "  ", None, 10, &Interrupt::new()).await;
        assert!(matches!(result, Err(DataError::Invalid(_))));
    }

    async fn the_session_filter_still_matches_title_owner_model_and_takes_wildcards_literally(db) {
        let owner = user(&db, "Filter_Owner").await;
        let a = session_with(&db, Some(owner.clone()), "Refund 100% guaranteed", 5, &["x"]).await;
        let b = session_with(&db, Some(owner.clone()), "other", 6, &["x"]).await;
        let _c = session_with(&db, None, "Refund 1000 guaranteed", 7, &["x"]).await;
        let ids = |text: &str| {
            let db = db.clone();
            let filter = ChatSessionFilter { text: Some(text.into()), ..ChatSessionFilter::default() };
            async move { lists::chat_session_ids(&db, &filter, 100).await.unwrap() }
        };
        assert_eq!(ids("100%").await, vec![a.clone()]);
        // By the owner's name, any case; `_` literal.
        assert_eq!(ids("filter_owner").await, vec![a.clone(), b.clone()]);
        assert_eq!(ids("filterxowner").await, Vec::<Id>::new());
        let filter = ChatSessionFilter { text: Some("REFUND".into()), ..ChatSessionFilter::default() };
        assert_eq!(lists::count_chat_sessions(&db, &filter).await.unwrap(), 2);
        let page = lists::chat_sessions(&db, &filter, None, 10).await.unwrap();
        assert_eq!(page.rows.len(), 2);
        assert_eq!(page.rows[0].owner_name.as_deref(), Some("Filter_Owner"));
    }
}

// ---------------------------------------------------------------- indexes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_creates_the_trigram_indexes_on_the_reference_schema() {
    let test = TestDb::postgres().await;
    let plan = search::plan_text_indexes(&test.db).await.unwrap();
    assert_eq!(plan.unavailable, None);
    assert!(!plan.needs_extension);
    let columns: Vec<String> = plan
        .indexes
        .iter()
        .map(|i| format!("{}.{}", i.table, i.column))
        .collect();
    for wanted in [
        "chat_messages.content",
        "chat_sessions.title",
        "messages.content",
        "comments.content",
        "reviews.content",
        "users.username",
        "guilds.name",
    ] {
        assert!(
            columns.contains(&wanted.to_string()),
            "{wanted} in {columns:?}"
        );
    }
    assert!(plan.indexes.iter().all(|i| i.exists), "{plan:?}");
    let gin = count(
        &test.db,
        "select count(*) from pg_indexes where indexdef like '%gin_trgm_ops%'",
        &[],
    )
    .await;
    assert_eq!(gin as usize, plan.indexes.len());
    // A second migrate finds them there and creates nothing.
    let again = test
        .db
        .migrate(&modcon::db::SchemaMap::reference())
        .await
        .unwrap();
    assert!(again.applied.is_empty(), "{:?}", again.applied);
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_mapped_schema_index_plan_lists_what_create_makes_and_nothing_changes_before() {
    let test = TestDb::on(Backend::Postgres, common::Platform::FastApi).await;
    let db = &test.db;
    let trigram = "select count(*) from pg_indexes where indexdef like '%gin_trgm_ops%'";
    let plan = search::plan_text_indexes(db).await.unwrap();
    assert_eq!(plan.unavailable, None);
    let missing: Vec<String> = plan
        .missing()
        .map(|i| format!("{}.{}", i.table, i.column))
        .collect();
    assert!(
        missing.contains(&"chat_messages.content".to_string()),
        "{missing:?}"
    );
    assert!(
        missing.contains(&"chat_sessions.session_title".to_string()),
        "{missing:?}"
    );
    // Guilds are disabled on this platform: nothing planned for them.
    assert!(!missing.iter().any(|m| m.starts_with("guilds.")));
    assert_eq!(
        count(db, trigram, &[]).await,
        0,
        "migrate left the platform's tables alone"
    );
    // Planning again changes nothing either.
    search::plan_text_indexes(db).await.unwrap();
    assert_eq!(count(db, trigram, &[]).await, 0);

    let moderator = operator(db, "moddy", Role::Moderator).await;
    let refused = search::create_text_indexes(db, &moderator).await;
    assert!(
        matches!(refused, Err(DataError::Forbidden(_))),
        "{refused:?}"
    );
    assert_eq!(count(db, trigram, &[]).await, 0);

    let admin = operator(db, "indexer", Role::Admin).await;
    let created = search::create_text_indexes(db, &admin).await.unwrap();
    assert!(
        created.iter().all(
            |s| s.starts_with("create index concurrently") || s.starts_with("create extension")
        ),
        "{created:?}"
    );
    assert_eq!(count(db, trigram, &[]).await as usize, plan.indexes.len());
    let after = search::plan_text_indexes(db).await.unwrap();
    assert_eq!(after.missing().count(), 0);
    let audited = count(
        db,
        "select count(*) from {#modcon_audit_log} where action = 'index.create' and actor_name = ?",
        &[Arg::Text("indexer".into())],
    )
    .await;
    assert_eq!(audited as usize, created.len());
    // Nothing left to do: nothing created, nothing audited.
    assert!(
        search::create_text_indexes(db, &admin)
            .await
            .unwrap()
            .is_empty()
    );
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_says_it_has_no_trigram_indexes_and_creates_nothing() {
    let test = TestDb::sqlite().await;
    let plan = search::plan_text_indexes(&test.db).await.unwrap();
    assert!(plan.unavailable.as_deref().unwrap().contains("SQLite"));
    let admin = operator(&test.db, "indexer", Role::Admin).await;
    let created = search::create_text_indexes(&test.db, &admin).await;
    assert!(matches!(created, Err(DataError::Invalid(_))), "{created:?}");
    test.finish().await;
}

// ---------------------------------------------------------------- stopping a search

/// PostgreSQL: a search blocked behind another transaction's lock runs on the server
/// until stopped; stopping cancels it there (gone from `pg_stat_activity`), not just here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_search_cancels_its_statement_on_postgres() {
    use sqlx::{Connection, Executor, PgConnection};
    let test = TestDb::postgres().await;
    let owner = user(&test.db, "slow").await;
    session_with(&test.db, Some(owner), "s", 5, &["a rare phrase"]).await;

    let mut blocker = PgConnection::connect(&test.url).await.unwrap();
    blocker.execute("begin").await.unwrap();
    blocker
        .execute("lock table chat_messages in access exclusive mode")
        .await
        .unwrap();

    let interrupt = Interrupt::new();
    let search = {
        let (db, interrupt) = (test.db.clone(), interrupt.clone());
        tokio::spawn(async move {
            search::search_chat_messages(&db, "rare phrase", None, 50, &interrupt).await
        })
    };
    let running = "select count(*) from pg_stat_activity where state = 'active' \
                   and datname = current_database() and query like '%ilike%' \
                   and query not like '%pg_stat_activity%'";
    let mut seen = 0;
    for _ in 0..200 {
        seen = count(&test.db, running, &[]).await;
        if seen > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(seen, 1, "the search is running on the server");
    interrupt.stop();
    let result = search.await.unwrap();
    assert!(matches!(result, Err(DataError::Cancelled)), "{result:?}");
    assert_eq!(
        count(&test.db, running, &[]).await,
        0,
        "the server stopped it"
    );

    blocker.execute("rollback").await.unwrap();
    // The console goes on: the next search answers.
    let hits = all_hits(&test.db, "rare phrase", 10).await;
    assert_eq!(hits.len(), 1);
    blocker.close().await.unwrap();
    test.finish().await;
}

/// MySQL: a search waiting behind another connection's table lock is stopped with
/// `kill query` (gone from the process list), and the next search answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_search_kills_its_query_on_mysql() {
    use sqlx::{Connection, Executor, MySqlConnection};
    let test = TestDb::mysql().await;
    let owner = user(&test.db, "slow").await;
    session_with(&test.db, Some(owner), "s", 5, &["a rare phrase"]).await;

    let mut blocker = MySqlConnection::connect(&test.url).await.unwrap();
    blocker
        .execute("lock tables chat_messages write")
        .await
        .unwrap();

    let interrupt = Interrupt::new();
    let search = {
        let (db, interrupt) = (test.db.clone(), interrupt.clone());
        tokio::spawn(async move {
            search::search_chat_messages(&db, "rare phrase", None, 50, &interrupt).await
        })
    };
    let running = "select count(*) from information_schema.processlist \
                   where db = database() and command in ('Query', 'Execute') and info like '%escape%' \
                   and info not like '%processlist%'";
    let mut seen = 0;
    for _ in 0..200 {
        seen = count(&test.db, running, &[]).await;
        if seen > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(seen, 1, "the search is waiting on the server");
    interrupt.stop();
    let result = search.await.unwrap();
    assert!(matches!(result, Err(DataError::Cancelled)), "{result:?}");
    assert_eq!(
        count(&test.db, running, &[]).await,
        0,
        "the server stopped it"
    );

    blocker.execute("unlock tables").await.unwrap();
    let hits = all_hits(&test.db, "rare phrase", 10).await;
    assert_eq!(hits.len(), 1);
    blocker.close().await.unwrap();
    test.finish().await;
}

/// SQLite: the progress handler interrupts the statement; the connection it ran on is
/// back in the pool without the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_search_interrupts_it_on_sqlite_and_the_connections_stay_usable() {
    let test = TestDb::sqlite().await;
    let owner = user(&test.db, "slow").await;
    session_with(&test.db, Some(owner), "s", 5, &["a rare phrase"]).await;
    let interrupt = Interrupt::new();
    interrupt.stop();
    let result = search::count_search(&test.db, "rare", &interrupt).await;
    assert!(matches!(result, Err(DataError::Cancelled)), "{result:?}");
    for _ in 0..8 {
        let totals = search::count_search(&test.db, "rare", &Interrupt::new())
            .await
            .unwrap();
        assert_eq!(totals.messages, 1);
        assert_eq!(
            lists::count_chat_sessions(&test.db, &ChatSessionFilter::default())
                .await
                .unwrap(),
            1
        );
    }
    test.finish().await;
}

both_backends! {
    async fn a_filter_matching_more_owners_than_can_be_listed_still_finds_their_sessions(db) {
        let mut users = Vec::new();
        for i in 0..1_005 {
            let mut u = common::new_user(&db, &format!("crowd-member-{i:04}"), Role::User);
            u.email = format!("crowd{i}@example.test");
            users.push(u);
        }
        let (first, last) = (users[0].id.clone(), users[1_004].id.clone());
        Batch { users, ..Batch::default() }.insert(&db).await.unwrap();
        let other = user(&db, "loner").await;
        let a = session_with(&db, Some(first), "t1", 5, &["x"]).await;
        let b = session_with(&db, Some(last), "t2", 6, &["x"]).await;
        let _c = session_with(&db, Some(other), "t3", 7, &["x"]).await;
        let filter = ChatSessionFilter { text: Some("CROWD-member".into()), ..ChatSessionFilter::default() };
        assert_eq!(lists::chat_session_ids(&db, &filter, 100).await.unwrap(), vec![a, b]);
        assert_eq!(lists::count_chat_sessions(&db, &filter).await.unwrap(), 2);
    }
}
