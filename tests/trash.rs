//! Trash and restore (SPEC §10) on both backends and on the reference schema and the
//! two platform fixtures: a delete keeps every row it removes, a restore puts the
//! platform back row for row, and what can no longer go back is refused with the
//! reason while the rest comes back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use common::{count, fresh_id, operator, session, user};
use modcon::db::ids::TargetIds;
use modcon::db::insert::{
    Batch, NewAppSession, NewBook, NewContent, NewGuild, NewMember, NewPrivateMessage, NewSetting,
};
use modcon::db::plan::{ContentPolicy, OpKind, Operation, Outcome, Request, run};
use modcon::db::trash::{self, TrashConfig};
use modcon::db::{Actor, Arg, DataError, Db, Entity, Id, Role};

type Dump = BTreeMap<String, Vec<serde_json::Value>>;

/// Every row of every platform table, in primary-key order.
async fn dump(db: &Db) -> Dump {
    let tables: Vec<String> = db
        .schema()
        .unwrap()
        .catalog
        .tables
        .keys()
        .cloned()
        .collect();
    let mut all = BTreeMap::new();
    for table in tables {
        all.insert(table.clone(), db.table_rows(&table).await.unwrap());
    }
    all
}

fn assert_same(before: &Dump, after: &Dump) {
    for (table, rows) in before {
        assert_eq!(
            rows, &after[table],
            "table {table} differs after the restore"
        );
    }
}

fn request(kind: OpKind, ids: &[Id]) -> Request {
    Request::new(
        Operation::new(kind, TargetIds::new(ids.to_vec()).unwrap()),
        None,
    )
}

fn id_arg(db: &Db, entity: Entity, id: &Id) -> Arg {
    Arg::Id(db.schema().unwrap().id_kind(entity), Some(id.clone()))
}

async fn guild(db: &Db, name: &str) -> Id {
    let id = fresh_id(db, Entity::Guilds);
    Batch {
        guilds: vec![NewGuild {
            id: id.clone(),
            name: name.into(),
            owner_id: None,
            created_at: Utc::now(),
        }],
        ..Batch::default()
    }
    .insert(db)
    .await
    .unwrap();
    id
}

/// A book with a comment and a review by `author`.
async fn book_with_content(db: &Db, author: Option<Id>) -> (Id, Id, Id) {
    let book = fresh_id(db, Entity::Books);
    let comment = fresh_id(db, Entity::Comments);
    let review = fresh_id(db, Entity::Reviews);
    let content = |id: &Id, rating| NewContent {
        id: id.clone(),
        book_id: book.clone(),
        user_id: author.clone(),
        rating,
        content: "kept words".into(),
        created_at: Utc::now(),
    };
    Batch {
        books: vec![NewBook {
            id: book.clone(),
            title: "The Book".into(),
            author: "Someone".into(),
        }],
        comments: vec![content(&comment, None)],
        reviews: vec![content(&review, Some(4))],
        ..Batch::default()
    }
    .insert(db)
    .await
    .unwrap();
    (book, comment, review)
}

async fn admin(db: &Db) -> Actor {
    operator(db, "root", Role::Admin).await
}

async fn restore_all(db: &Db, admin: &Actor, outcome: &Outcome) {
    let report = trash::restore(db, admin, outcome.batch_id, false)
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.refused);
}

on_schemas! {
    [reference, adminapi]
    async fn a_deleted_guild_comes_back_row_for_row(db) {
        let admin = admin(&db).await;
        let alice = user(&db, "alice").await;
        let g = guild(&db, "readers").await;
        let other = guild(&db, "writers").await;
        Batch {
            members: vec![NewMember { guild_id: g.clone(), user_id: alice.clone(), role: "member" }],
            settings: vec![NewSetting { guild_id: g.clone(), key: "theme".into(), value: "dark".into() }],
            app_sessions: vec![NewAppSession {
                id: fresh_id(&db, Entity::AppSessions),
                user_id: alice.clone(),
                guild_id: Some(g.clone()),
                created_at: Utc::now(),
                expires_at: Utc::now() + Duration::hours(1),
            }],
            ..Batch::default()
        }
        .insert(&db)
        .await
        .unwrap();
        session(&db, Some(alice.clone()), Some(g.clone()), 4, None).await;
        session(&db, Some(alice.clone()), Some(other.clone()), 2, None).await;
        if db.schema().unwrap().catalog.table("corrections").is_some() {
            // Tables modcon does not know: one cascades, one is only unlinked.
            db.execute_statement(
                "insert into corrections (guild_id, original_text) values (?, 'x')",
                &[id_arg(&db, Entity::Guilds, &g)],
            ).await.unwrap();
            db.execute_statement(
                "insert into admin_audit_log (admin_id, action, guild_id) values ('a', 'b', ?)",
                &[id_arg(&db, Entity::Guilds, &g)],
            ).await.unwrap();
        }
        let before = dump(&db).await;
        let outcome = run(&db, &admin, request(OpKind::DeleteGuilds, std::slice::from_ref(&g)))
            .await
            .unwrap();
        assert_eq!(count(&db, "select count(*) from {@guilds}", &[]).await, 1);
        let batches = trash::list(&db, &admin).await.unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].batch_id, outcome.batch_id);
        assert_eq!(batches[0].action, "guild.delete");
        // Everything the plan said would go is in the trash, table by table.
        for (table, n) in outcome.counts.iter() {
            assert_eq!(batches[0].rows.get(table), n, "{table}");
        }
        let planned = trash::restore(&db, &admin, outcome.batch_id, true).await.unwrap();
        assert!(planned.planned && planned.is_complete(), "{:#?}", planned.refused);
        assert_eq!(count(&db, "select count(*) from {@guilds}", &[]).await, 1, "a plan changes nothing");
        restore_all(&db, &admin, &outcome).await;
        assert_same(&before, &dump(&db).await);
        let again = trash::restore(&db, &admin, outcome.batch_id, false).await.unwrap_err();
        assert!(matches!(&again, DataError::Invalid(m) if m.contains("already restored")), "{again}");
        let audited = count(
            &db,
            "select count(*) from {#modcon_audit_log} where action = 'trash.restore' and target_id = ?",
            &[Arg::Text(g.to_string())],
        ).await;
        assert_eq!(audited, 1);
        assert_eq!(
            count(&db, "select count(*) from {#modcon_audit_log} where action = 'trash.restore.batch'", &[]).await,
            1
        );
    }
}

on_schemas! {
    [reference, fastapi, adminapi]
    async fn a_user_deleted_with_their_content_comes_back_row_for_row(db) {
        let admin = admin(&db).await;
        let alice = user(&db, "alice").await;
        let bob = user(&db, "bob").await;
        book_with_content(&db, Some(alice.clone())).await;
        book_with_content(&db, Some(bob.clone())).await;
        session(&db, Some(alice.clone()), None, 3, None).await;
        // Bob's session holds a message by Alice: unlinked (kept) when she goes.
        session(&db, Some(bob.clone()), None, 2, Some(alice.clone())).await;
        Batch {
            private_messages: vec![
                NewPrivateMessage {
                    id: fresh_id(&db, Entity::Messages),
                    sender_id: Some(alice.clone()),
                    recipient_id: Some(bob.clone()),
                    content: "hi".into(),
                    created_at: Utc::now(),
                },
                NewPrivateMessage {
                    id: fresh_id(&db, Entity::Messages),
                    sender_id: Some(bob.clone()),
                    recipient_id: Some(alice.clone()),
                    content: "hello".into(),
                    created_at: Utc::now(),
                },
            ],
            ..Batch::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let before = dump(&db).await;
        let delete = Request::new(
            Operation::delete_users(TargetIds::new(vec![alice.clone()]).unwrap(), ContentPolicy::Delete),
            None,
        );
        let outcome = run(&db, &admin, delete).await.unwrap();
        assert_eq!(outcome.deleted_count(), 1);
        assert_ne!(before, dump(&db).await);
        restore_all(&db, &admin, &outcome).await;
        assert_same(&before, &dump(&db).await);
    }
}

on_schemas! {
    [reference, fastapi, adminapi]
    async fn a_hundred_and_fifty_sessions_deleted_in_two_batches_come_back_batch_by_batch(db) {
        let admin = admin(&db).await;
        let alice = user(&db, "alice").await;
        let mut sessions = Vec::new();
        for _ in 0..150 {
            sessions.push(session(&db, Some(alice.clone()), None, 2, None).await);
        }
        let before = dump(&db).await;
        let first = run(&db, &admin, request(OpKind::DeleteChatSessions, &sessions[..100])).await.unwrap();
        let after_first = dump(&db).await;
        let second = run(&db, &admin, request(OpKind::DeleteChatSessions, &sessions[100..])).await.unwrap();
        assert_eq!(count(&db, "select count(*) from {@chat_sessions}", &[]).await, 0);
        let batches = trash::list(&db, &admin).await.unwrap();
        assert_eq!(batches.len(), 2);
        let table = db.schema().unwrap().table_name(Entity::ChatSessions).to_string();
        let kept: i64 = batches.iter().map(|b| b.rows.get(&table)).sum();
        assert_eq!(kept, 150);
        restore_all(&db, &admin, &second).await;
        assert_same(&after_first, &dump(&db).await);
        restore_all(&db, &admin, &first).await;
        assert_same(&before, &dump(&db).await);
    }
}

on_schemas! {
    [reference, fastapi]
    async fn a_restore_refuses_a_taken_id_and_a_gone_parent_with_the_reason_and_restores_the_rest(db) {
        let admin = admin(&db).await;
        let alice = user(&db, "alice").await;
        let (book, comment, _) = book_with_content(&db, Some(alice.clone())).await;
        let (_, other_comment, _) = book_with_content(&db, Some(alice.clone())).await;
        let taken = session(&db, Some(alice.clone()), None, 2, None).await;
        let free = session(&db, Some(alice.clone()), None, 2, None).await;
        let sessions = run(&db, &admin, request(OpKind::DeleteChatSessions, &[taken.clone(), free.clone()]))
            .await
            .unwrap();
        // The id is taken again in between.
        Batch {
            sessions: vec![modcon::db::insert::NewSession {
                id: taken.clone(),
                user_id: Some(alice.clone()),
                guild_id: None,
                model: "m".into(),
                title: "squatter".into(),
                created_at: Utc::now(),
            }],
            ..Batch::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let report = trash::restore(&db, &admin, sessions.batch_id, false).await.unwrap();
        let table = db.schema().unwrap().table_name(Entity::ChatSessions).to_string();
        let refused: Vec<_> = report.refused.iter().filter(|r| r.table == table).collect();
        assert_eq!(refused.len(), 1, "{:?}", report.refused);
        assert!(refused[0].reason.contains("taken again"), "{}", refused[0].reason);
        // Its messages go down with it; the other session comes back whole.
        assert!(report.refused.iter().any(|r| r.reason.contains("was not restored")));
        assert_eq!(report.restored_targets, vec![free.to_string()]);
        assert_eq!(count(&db, "select count(*) from {@chat_sessions}", &[]).await, 2);
        assert_eq!(
            count(&db, "select count(*) from {@chat_messages} m where {m.session} = ?", &[id_arg(&db, Entity::ChatSessions, &free)]).await,
            2
        );

        // A comment whose book is gone cannot come back; the other one does.
        let comments = run(&db, &admin, request(OpKind::DeleteComments, &[comment.clone(), other_comment.clone()]))
            .await
            .unwrap();
        // MySQL names an alias in a delete only in its multi-table form.
        let delete_book = match db.backend() {
            modcon::db::Backend::Mysql => "delete b from {@books} b where {b.id} = ?",
            _ => "delete from {@books} as b where {b.id} = ?",
        };
        db.execute_statement(delete_book, &[id_arg(&db, Entity::Books, &book)])
            .await
            .unwrap();
        let plan = trash::restore(&db, &admin, comments.batch_id, true).await.unwrap();
        assert_eq!(plan.refused.len(), 1);
        assert!(plan.refused[0].reason.contains("is gone"), "{}", plan.refused[0].reason);
        let report = trash::restore(&db, &admin, comments.batch_id, false).await.unwrap();
        assert_eq!(report.refused, plan.refused);
        assert_eq!(report.restored_targets, vec![other_comment.to_string()]);
        assert_eq!(count(&db, "select count(*) from {@comments}", &[]).await, 1);
    }
}

on_schemas! {
    [reference]
    async fn purge_removes_only_batches_older_than_the_window(db) {
        let admin = admin(&db).await;
        let alice = user(&db, "alice").await;
        let old = session(&db, Some(alice.clone()), None, 1, None).await;
        let new = session(&db, Some(alice.clone()), None, 1, None).await;
        let old = run(&db, &admin, request(OpKind::DeleteChatSessions, &[old])).await.unwrap();
        let new = run(&db, &admin, request(OpKind::DeleteChatSessions, &[new])).await.unwrap();
        let long_ago = Utc::now() - Duration::days(40);
        db.execute_statement(
            "update {#modcon_trash_batches} set at = ? where batch_id = ?",
            &[Arg::Time(long_ago), Arg::Uuid(old.batch_id)],
        )
        .await
        .unwrap();
        let purged = trash::purge(&db, &admin, 30).await.unwrap();
        assert_eq!(purged.batches, 1);
        assert_eq!(purged.rows, 2);
        let left = trash::list(&db, &admin).await.unwrap();
        assert_eq!(left.iter().map(|b| b.batch_id).collect::<Vec<_>>(), vec![new.batch_id]);
        assert!(matches!(
            trash::restore(&db, &admin, old.batch_id, false).await,
            Err(DataError::NotFound(_))
        ));
    }
}

on_schemas! {
    [reference]
    async fn with_the_trash_off_a_delete_keeps_nothing_and_a_moderator_cannot_restore(db) {
        let admin = admin(&db).await;
        let moderator = operator(&db, "mod", Role::Moderator).await;
        let alice = user(&db, "alice").await;
        let s = session(&db, Some(alice), None, 1, None).await;
        let off = db.clone().with_trash(TrashConfig { keep_days: 0 });
        run(&off, &admin, request(OpKind::DeleteChatSessions, &[s])).await.unwrap();
        assert!(trash::list(&db, &admin).await.unwrap().is_empty());
        assert_eq!(count(&db, "select count(*) from {#modcon_trash}", &[]).await, 0);
        assert!(matches!(trash::list(&db, &moderator).await, Err(DataError::Forbidden(_))));
        // Restoring and purging are refused to a moderator in the data layer, and each
        // refusal is on the audit record.
        let batch = uuid::Uuid::new_v4();
        assert!(matches!(
            trash::restore(&db, &moderator, batch, false).await,
            Err(DataError::Forbidden(_))
        ));
        assert!(matches!(trash::purge(&db, &moderator, 0).await, Err(DataError::Forbidden(_))));
        for action in ["trash.restore.refused", "trash.purge.refused"] {
            assert_eq!(
                count(
                    &db,
                    "select count(*) from {#modcon_audit_log} where action = ? and actor_name = 'mod'",
                    &[Arg::Text(action.into())],
                )
                .await,
                1,
                "{action}"
            );
        }
    }
}

on_schemas! {
    [reference, adminapi]
    async fn a_guild_a_user_with_content_and_a_thousand_sessions_deleted_come_back_row_for_row(db) {
        let admin = admin(&db).await;
        let alice = user(&db, "alice").await;
        let bob = user(&db, "bob").await;
        let g = guild(&db, "readers").await;
        Batch {
            members: vec![
                NewMember { guild_id: g.clone(), user_id: alice.clone(), role: "member" },
                NewMember { guild_id: g.clone(), user_id: bob.clone(), role: "member" },
            ],
            settings: vec![NewSetting { guild_id: g.clone(), key: "theme".into(), value: "dark".into() }],
            app_sessions: vec![NewAppSession {
                id: fresh_id(&db, Entity::AppSessions),
                user_id: alice.clone(),
                guild_id: Some(g.clone()),
                created_at: Utc::now(),
                expires_at: Utc::now() + Duration::hours(1),
            }],
            ..Batch::default()
        }
        .insert(&db)
        .await
        .unwrap();
        session(&db, Some(bob.clone()), Some(g.clone()), 3, Some(alice.clone())).await;
        session(&db, Some(alice.clone()), None, 2, None).await;
        book_with_content(&db, Some(alice.clone())).await;
        book_with_content(&db, Some(bob.clone())).await;
        Batch {
            private_messages: vec![NewPrivateMessage {
                id: fresh_id(&db, Entity::Messages),
                sender_id: Some(alice.clone()),
                recipient_id: Some(bob.clone()),
                content: "hi".into(),
                created_at: Utc::now(),
            }],
            ..Batch::default()
        }
        .insert(&db)
        .await
        .unwrap();
        // A thousand of Bob's sessions, three messages each, written in one go.
        let mut many = Batch::default();
        let mut sessions = Vec::new();
        let start = Utc::now() - Duration::days(1);
        for i in 0..1000 {
            let id = fresh_id(&db, Entity::ChatSessions);
            many.sessions.push(modcon::db::insert::NewSession {
                id: id.clone(),
                user_id: Some(bob.clone()),
                guild_id: None,
                model: "m".into(),
                title: format!("bulk {i}"),
                created_at: start + Duration::seconds(i),
            });
            for k in 0..3 {
                many.chat_messages.push(modcon::db::insert::NewChatMessage {
                    id: fresh_id(&db, Entity::ChatMessages),
                    session_id: id.clone(),
                    author_id: (k == 0).then(|| bob.clone()),
                    role: if k == 0 { "user" } else { "assistant" },
                    content: format!("message {k} of {i}"),
                    created_at: start + Duration::seconds(i) + Duration::milliseconds(k),
                });
            }
            sessions.push(id);
        }
        many.insert(&db).await.unwrap();
        let before = dump(&db).await;

        let mut outcomes = vec![run(&db, &admin, request(OpKind::DeleteGuilds, std::slice::from_ref(&g))).await.unwrap()];
        let delete_alice = Request::new(
            Operation::delete_users(TargetIds::new(vec![alice.clone()]).unwrap(), ContentPolicy::Delete),
            None,
        );
        outcomes.push(run(&db, &admin, delete_alice).await.unwrap());
        for chunk in sessions.chunks(100) {
            outcomes.push(run(&db, &admin, request(OpKind::DeleteChatSessions, chunk)).await.unwrap());
        }
        assert_eq!(outcomes.len(), 12);
        let table = db.schema().unwrap().table_name(Entity::ChatSessions).to_string();
        let bobs = count(&db, "select count(*) from {@chat_sessions} s where {s.owner} = ?", &[id_arg(&db, Entity::Users, &bob)]).await;
        assert_eq!(bobs, 0, "every session of Bob's went");
        assert_eq!(trash::list(&db, &admin).await.unwrap().len(), 12);
        let kept: i64 = trash::list(&db, &admin).await.unwrap().iter().map(|b| b.rows.get(&table)).sum();
        assert_eq!(kept, 1002);

        // Undone the way it was done, last delete first.
        for outcome in outcomes.iter().rev() {
            restore_all(&db, &admin, outcome).await;
        }
        assert_same(&before, &dump(&db).await);
        let verified = modcon::db::audit::verify(&db).await.unwrap();
        assert!(verified.is_intact(), "{verified:?}");
    }
}

on_schemas! {
    [reference]
    async fn expired_batches_are_purged_by_the_next_delete_and_audited(db) {
        let admin = admin(&db).await;
        let alice = user(&db, "alice").await;
        let mut ids = Vec::new();
        for _ in 0..4 {
            ids.push(session(&db, Some(alice.clone()), None, 2, None).await);
        }
        let expired = run(&db, &admin, request(OpKind::DeleteChatSessions, &ids[..1])).await.unwrap();
        let within = run(&db, &admin, request(OpKind::DeleteChatSessions, &ids[1..2])).await.unwrap();
        for (batch, days) in [(expired.batch_id, 31), (within.batch_id, 29)] {
            db.execute_statement(
                "update {#modcon_trash_batches} set at = ? where batch_id = ?",
                &[Arg::Time(Utc::now() - Duration::days(days)), Arg::Uuid(batch)],
            )
            .await
            .unwrap();
        }
        let purges = "select count(*) from {#modcon_audit_log} where action = 'trash.purge'";
        assert_eq!(trash::list(&db, &admin).await.unwrap().len(), 2, "nothing goes by itself");

        // A moderator's delete keeps the window too.
        let moderator = operator(&db, "mod", Role::Moderator).await;
        let message: Id = {
            let table = db.schema().unwrap().table_name(Entity::ChatMessages).to_string();
            let rows = db.table_rows(&table).await.unwrap();
            let id_column = db.schema().unwrap().column(Entity::ChatMessages, "id").unwrap().name.clone();
            match &rows[0][&id_column] {
                serde_json::Value::Number(n) => Id::Int(n.as_i64().unwrap()),
                v => Id::Text(v.as_str().unwrap().to_string()),
            }
        };
        let third = run(&db, &moderator, request(OpKind::DeleteChatMessages, &[message])).await.unwrap();
        let left: Vec<_> = trash::list(&db, &admin).await.unwrap().iter().map(|b| b.batch_id).collect();
        assert_eq!(left, vec![third.batch_id, within.batch_id]);
        assert_eq!(count(&db, "select count(*) from {#modcon_trash} where batch_id = ?", &[Arg::Uuid(expired.batch_id)]).await, 0);
        assert_eq!(count(&db, purges, &[]).await, 1);
        let purge = modcon::db::audit::list_audit(
            &db,
            &modcon::db::audit::AuditFilter { action: Some("trash.purge".into()), ..Default::default() },
            None,
            5,
        )
        .await
        .unwrap();
        assert_eq!(purge.rows[0].actor_name, "mod");
        assert!(purge.rows[0].target_label.contains("1 batches (3 rows) older than 30 days, purged automatically"), "{}", purge.rows[0].target_label);

        // Nothing expired: the next delete purges nothing and records no purge.
        run(&db, &admin, request(OpKind::DeleteChatSessions, &ids[2..3])).await.unwrap();
        assert_eq!(count(&db, purges, &[]).await, 1);
        assert_eq!(trash::list(&db, &admin).await.unwrap().len(), 3);
        assert!(modcon::db::audit::verify(&db).await.unwrap().is_intact());
    }
}

on_schemas! {
    [reference]
    async fn restoring_a_guild_clears_its_cache_keys(db) {
        let admin = admin(&db).await;
        let g = guild(&db, "readers").await;
        let other = guild(&db, "writers").await;
        let outcome = run(&db, &admin, request(OpKind::DeleteGuilds, std::slice::from_ref(&g))).await.unwrap();
        let redis = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
        let mut con = redis.get_multiplexed_async_connection().await.expect("Redis at 127.0.0.1:6379");
        // Written while the guild was gone, e.g. a cached "not found".
        for key in [format!("guild:{g}:a"), format!("guild:{other}:a")] {
            let _: () = redis::cmd("SET").arg(&key).arg("gone").query_async(&mut con).await.unwrap();
        }
        let config = modcon::cache::CacheConfig {
            redis_url: Some("redis://127.0.0.1:6379/0".into()),
            ..Default::default()
        };
        let planned = modcon::batch::restore_batch(&db, &admin, &config, outcome.batch_id, true).await.unwrap();
        assert_eq!(planned.cache, None, "a plan clears nothing");
        let restored = modcon::batch::restore_batch(&db, &admin, &config, outcome.batch_id, false).await.unwrap();
        assert_eq!(restored.report.target_type, "guild");
        assert_eq!(restored.cache, Some(modcon::cache::CacheOutcome::Cleared { keys: 1 }));
        let left: i64 = redis::cmd("EXISTS").arg(format!("guild:{g}:a")).arg(format!("guild:{other}:a")).query_async(&mut con).await.unwrap();
        assert_eq!(left, 1, "only the other guild's key remains");
        let _: () = redis::cmd("DEL").arg(format!("guild:{other}:a")).query_async(&mut con).await.unwrap();
    }
}
