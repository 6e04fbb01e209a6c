//! The data layer on both backends: every test body runs on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, Utc};
use common::{count, operator, session, user, user_with};
use modcon::db::audit::{AuditFilter, list_audit};
use modcon::db::comments::{self, ContentEdit, ContentKind, EditOutcome};
use modcon::db::ids::{Reason, TargetIds};
use modcon::db::insert::{
    Batch, NewAppSession, NewBook, NewContent, NewGuild, NewMember, NewPrivateMessage, NewSetting,
};
use modcon::db::lists::{self, ChatSessionFilter};
use modcon::db::plan::{ContentPolicy, FailReason, Operation, Request, Table, execute, plan, run};
use modcon::db::{Access, Arg, DataError, Db, Role, auth};
use uuid::Uuid;

fn ids(list: &[Uuid]) -> TargetIds {
    TargetIds::new(list.to_vec()).unwrap()
}

fn delete_sessions(list: &[Uuid]) -> Request {
    Request::new(Operation::DeleteChatSessions { ids: ids(list) }, None)
}

async fn audit_rows(db: &Db, action: &str) -> Vec<modcon::db::audit::AuditEntry> {
    list_audit(
        db,
        &AuditFilter {
            action: Some(action.to_string()),
            ..AuditFilter::default()
        },
        None,
        1000,
    )
    .await
    .unwrap()
    .rows
    .into_iter()
    .filter(|e| e.action == action)
    .collect()
}

async fn guild(db: &Db, name: &str, owner: Option<Uuid>) -> Uuid {
    let id = Uuid::new_v4();
    Batch {
        guilds: vec![NewGuild {
            id,
            name: name.into(),
            owner_id: owner,
            created_at: Utc::now(),
        }],
        ..Batch::default()
    }
    .insert(db)
    .await
    .unwrap();
    id
}

async fn book_with_content(db: &Db, author: Option<Uuid>) -> (Uuid, Uuid) {
    let book = Uuid::new_v4();
    let comment = Uuid::new_v4();
    let review = Uuid::new_v4();
    Batch {
        books: vec![NewBook {
            id: book,
            title: "The Book".into(),
            author: "Someone".into(),
        }],
        comments: vec![NewContent {
            id: comment,
            book_id: book,
            user_id: author,
            rating: None,
            content: "first line\nsecond line".into(),
            created_at: Utc::now(),
        }],
        reviews: vec![NewContent {
            id: review,
            book_id: book,
            user_id: author,
            rating: Some(2),
            content: "meh".into(),
            created_at: Utc::now(),
        }],
        ..Batch::default()
    }
    .insert(db)
    .await
    .unwrap();
    (comment, review)
}

both_backends! {

async fn migrations_create_every_reference_table_empty(db) {
    for table in [
        Table::Users, Table::Guilds, Table::ChatSessions, Table::ChatMessages, Table::Messages,
        Table::Comments, Table::Reviews, Table::GuildMembers, Table::GuildSettings,
        Table::AppSessions,
    ] {
        assert_eq!(modcon::db::insert::count_rows(&db, table).await.unwrap(), 0, "{table:?}");
    }
    // Migrating again is a no-op.
    db.migrate().await.unwrap();
}

async fn audit_log_refuses_update_and_delete(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id), None, 1, None).await;
    run(&db, &admin, delete_sessions(&[s])).await.unwrap();
    assert_eq!(count(&db, "select count(*) from audit_log", &[]).await, 1);
    let update = db
        .execute_statement("update audit_log set actor_name = 'someone else'", &[])
        .await;
    assert!(update.is_err(), "update of audit_log must fail: {update:?}");
    let delete = db.execute_statement("delete from audit_log", &[]).await;
    assert!(delete.is_err(), "delete from audit_log must fail: {delete:?}");
    assert_eq!(
        count(&db, "select count(*) from audit_log where actor_name = 'root'", &[]).await,
        1
    );
}

async fn bulk_chat_session_delete_cascades_counts_and_audits_each_session(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let owner = user(&db, "alice").await;
    let a = session(&db, Some(owner), None, 15, None).await;
    let b = session(&db, Some(owner), None, 20, None).await;
    let c = session(&db, None, None, 10, Some(owner)).await;
    let keep = session(&db, Some(owner), None, 4, None).await;
    let missing = Uuid::new_v4();
    let request = Request::new(
        Operation::DeleteChatSessions { ids: ids(&[a, b, c, missing]) },
        Reason::new(Some("spam wave")).unwrap(),
    );
    let confirmed = plan(&db, &admin, request).await.unwrap();
    assert_eq!(confirmed.counts.get(Table::ChatSessions), 3);
    assert_eq!(confirmed.counts.get(Table::ChatMessages), 45);
    assert_eq!(confirmed.refused.len(), 1);
    assert_eq!(confirmed.refused[0].reason, FailReason::NotFound);
    // Planning changed nothing.
    assert_eq!(count(&db, "select count(*) from chat_messages", &[]).await, 49);

    let outcome = execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(outcome.deleted_count(), 3);
    assert_eq!(outcome.failed_ids(), vec![missing]);
    assert_eq!(outcome.total_messages_deleted(), 45);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from chat_messages", &[]).await, 4);
    assert_eq!(
        count(&db, "select count(*) from chat_sessions where id = $1", &[Arg::Uuid(keep)]).await,
        1
    );

    let per_session = audit_rows(&db, "chat_session.delete").await;
    assert_eq!(per_session.len(), 3);
    let summary = audit_rows(&db, "chat_session.delete.bulk").await;
    assert_eq!(summary.len(), 1);
    let summary = &summary[0];
    assert!(per_session.iter().all(|e| e.batch_id == summary.batch_id));
    assert!(per_session.iter().all(|e| e.actor_name == "root" && e.actor_id == Some(admin.id)));
    assert!(per_session.iter().all(|e| e.reason.as_deref() == Some("spam wave")));
    let b_row = per_session.iter().find(|e| e.target_id == Some(b)).unwrap();
    assert_eq!(b_row.counts["chat_messages"], 20);
    assert_eq!(summary.counts["chat_messages"], 45);
    assert_eq!(summary.details["requested_ids"].as_array().unwrap().len(), 4);
    assert_eq!(summary.details["failed"][0]["reason"], "not found");
    assert_eq!(summary.batch_id, outcome.batch_id);
}

async fn deleting_a_session_already_gone_is_reported_as_not_found(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id), None, 2, None).await;
    run(&db, &admin, delete_sessions(&[s])).await.unwrap();
    let again = run(&db, &admin, delete_sessions(&[s])).await.unwrap();
    assert_eq!(again.deleted_count(), 0);
    assert_eq!(again.failed[0].reason, FailReason::NotFound);
}

async fn a_plan_that_grew_before_execution_deletes_nothing_and_returns_the_new_plan(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id), None, 3, None).await;
    let confirmed = plan(&db, &admin, delete_sessions(&[s])).await.unwrap();
    assert_eq!(confirmed.counts.get(Table::ChatMessages), 3);
    Batch {
        chat_messages: vec![modcon::db::insert::NewChatMessage {
            id: Uuid::new_v4(),
            session_id: s,
            author_id: None,
            role: "assistant",
            content: "arrived after the plan".into(),
            created_at: Utc::now(),
        }],
        ..Batch::default()
    }
    .insert(&db)
    .await
    .unwrap();
    let err = execute(&db, &admin, &confirmed).await.unwrap_err();
    let DataError::PlanChanged(fresh) = err else { panic!("expected PlanChanged, got {err:?}") };
    assert_eq!(fresh.counts.get(Table::ChatMessages), 4);
    assert_eq!(count(&db, "select count(*) from chat_messages", &[]).await, 4);
    assert_eq!(count(&db, "select count(*) from audit_log", &[]).await, 0);
    // Confirming the new plan goes through.
    let outcome = execute(&db, &admin, &fresh).await.unwrap();
    assert_eq!(outcome.total_messages_deleted(), 4);
}

async fn a_plan_that_shrank_still_executes_and_reports_what_went(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let a = session(&db, Some(admin.id), None, 3, None).await;
    let b = session(&db, Some(admin.id), None, 3, None).await;
    let confirmed = plan(&db, &admin, delete_sessions(&[a, b])).await.unwrap();
    run(&db, &admin, delete_sessions(&[b])).await.unwrap();
    let outcome = execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(outcome.failed_ids(), vec![b]);
}

async fn bad_requests_are_refused_with_clear_errors_and_change_nothing(db) {
    let too_many: Vec<Uuid> = (0..101).map(|_| Uuid::new_v4()).collect();
    let err = TargetIds::new(too_many).unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)) && err.to_string().contains("at most 100"));
    assert!(matches!(TargetIds::new(vec![]), Err(DataError::Invalid(_))));
    let id = Uuid::new_v4();
    assert!(matches!(TargetIds::new(vec![id, id]), Err(DataError::Invalid(_))));
    assert!(matches!(TargetIds::parse(&["not-a-uuid"]), Err(DataError::Invalid(_))));
    assert!(matches!(Reason::new(Some(&"x".repeat(513))), Err(DataError::Invalid(_))));

    let admin = operator(&db, "root", Role::Admin).await;
    let (comment, _) = book_with_content(&db, None).await;
    let err = comments::edit(&db, &admin, &ContentEdit {
        kind: ContentKind::Comment,
        id: comment,
        expected_version: 1,
        text: "y".repeat(comments::MAX_CONTENT_CHARS + 1),
        rating: None,
        reason: None,
    })
    .await
    .unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)), "{err:?}");
    let err = comments::edit(&db, &admin, &ContentEdit {
        kind: ContentKind::Comment,
        id: comment,
        expected_version: 1,
        text: "fine".into(),
        rating: Some(4),
        reason: None,
    })
    .await
    .unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)), "{err:?}");
    assert_eq!(count(&db, "select count(*) from audit_log", &[]).await, 0);
    assert_eq!(count(&db, "select count(*) from comments where version = 1", &[]).await, 1);
}

async fn a_moderator_is_forbidden_every_admin_only_operation_and_nothing_changes(db) {
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let owner = user(&db, "alice").await;
    let s = session(&db, Some(owner), None, 2, None).await;
    let orphan = session(&db, None, None, 2, Some(owner)).await;
    let g = guild(&db, "guild", None).await;
    let victim = user(&db, "bob").await;
    for operation in [
        Operation::DeleteChatSessions { ids: ids(&[s]) },
        Operation::RepairOrphanSessions { ids: ids(&[orphan]) },
        Operation::DeleteGuilds { ids: ids(&[g]) },
        Operation::DeleteUsers { ids: ids(&[victim]), content: ContentPolicy::Keep },
    ] {
        let request = Request::new(operation.clone(), None);
        let err = plan(&db, &moderator, request.clone()).await.unwrap_err();
        assert!(matches!(err, DataError::Forbidden(_)), "{operation:?}: {err:?}");
        let err = run(&db, &moderator, request).await.unwrap_err();
        assert!(matches!(err, DataError::Forbidden(_)), "{operation:?}: {err:?}");
    }
    assert_eq!(count(&db, "select count(*) from chat_sessions where user_id is not null", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 2);
    assert_eq!(count(&db, "select count(*) from guilds", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from users", &[]).await, 3);
    assert_eq!(count(&db, "select count(*) from audit_log", &[]).await, 0);
}

async fn an_operator_demoted_after_sign_in_is_refused(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id), None, 1, None).await;
    db.execute_statement("update users set role = 'moderator' where id = $1", &[Arg::Uuid(admin.id)])
        .await
        .unwrap();
    let err = run(&db, &admin, delete_sessions(&[s])).await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 1);
}

async fn orphaned_sessions_are_listed_planned_and_repaired_from_the_first_user_message(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let alice = user(&db, "alice").await;
    let owned = session(&db, Some(alice), None, 2, None).await;
    let repairable = session(&db, None, None, 4, Some(alice)).await;
    let hopeless = session(&db, None, None, 0, None).await;
    let page = lists::chat_sessions(
        &db,
        &ChatSessionFilter { orphans_only: true, ..ChatSessionFilter::default() },
        None,
        50,
    )
    .await
    .unwrap();
    let mut orphan_ids: Vec<Uuid> = page.rows.iter().map(|r| r.id).collect();
    orphan_ids.sort();
    let mut expected = vec![repairable, hopeless];
    expected.sort();
    assert_eq!(orphan_ids, expected);
    assert!(page.rows.iter().all(|r| r.is_orphaned()));

    let request = Request::new(
        Operation::RepairOrphanSessions { ids: ids(&[repairable, hopeless, owned]) },
        None,
    );
    let confirmed = plan(&db, &admin, request).await.unwrap();
    assert_eq!(confirmed.targets.len(), 1);
    assert_eq!(confirmed.targets[0].new_owner, Some((alice, "alice".to_string())));
    let reasons: Vec<_> = confirmed.refused.iter().map(|r| (r.id, r.reason.clone())).collect();
    assert!(reasons.contains(&(hopeless, FailReason::NoKnownAuthor)));
    assert!(reasons.contains(&(owned, FailReason::NotOrphaned)));
    let outcome = execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(
        count(&db, "select count(*) from chat_sessions where id = $1 and user_id = $2",
            &[Arg::Uuid(repairable), Arg::Uuid(alice)]).await,
        1
    );
    assert_eq!(count(&db, "select count(*) from chat_messages where session_id = $1", &[Arg::Uuid(repairable)]).await, 4);
    let audit = audit_rows(&db, "chat_session.repair").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].details["new_owner"], "alice");
    // Orphans can be deleted like any session.
    let outcome = run(&db, &admin, delete_sessions(&[hopeless])).await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
}

async fn moderators_delete_private_and_chat_messages_with_the_text_kept_in_audit(db) {
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let pm = Uuid::new_v4();
    let other = Uuid::new_v4();
    Batch {
        private_messages: vec![
            NewPrivateMessage { id: pm, sender_id: Some(alice), recipient_id: Some(bob),
                content: "buy cheap pills".into(), created_at: Utc::now() },
            NewPrivateMessage { id: other, sender_id: Some(bob), recipient_id: Some(alice),
                content: "hello".into(), created_at: Utc::now() },
        ],
        ..Batch::default()
    }
    .insert(&db)
    .await
    .unwrap();
    let outcome = run(&db, &moderator, Request::new(
        Operation::DeletePrivateMessages { ids: ids(&[pm]) }, None)).await.unwrap();
    assert_eq!(outcome.counts.get(Table::Messages), 1);
    assert_eq!(count(&db, "select count(*) from messages", &[]).await, 1);
    let audit = audit_rows(&db, "message.delete").await;
    assert_eq!(audit[0].details["content"], "buy cheap pills");
    assert_eq!(audit[0].actor_name, "mod");

    let s = session(&db, Some(alice), None, 3, None).await;
    let page = lists::chat_messages(&db, s, None, None, 50).await.unwrap();
    let first = page.rows[0].id;
    let outcome = run(&db, &moderator, Request::new(
        Operation::DeleteChatMessages { ids: ids(&[first]) }, None)).await.unwrap();
    assert_eq!(outcome.counts.get(Table::ChatMessages), 1);
    assert_eq!(count(&db, "select count(*) from chat_messages", &[]).await, 2);
    assert_eq!(audit_rows(&db, "chat_message.delete").await[0].details["content"], "message 0");
}

async fn comment_edits_check_the_version_and_keep_old_and_new_text(db) {
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let other = operator(&db, "other", Role::Moderator).await;
    let alice = user(&db, "alice").await;
    let (comment, review) = book_with_content(&db, Some(alice)).await;
    let loaded = comments::content_item(&db, ContentKind::Comment, comment).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.content, "first line\nsecond line");

    // Someone else saves first.
    let theirs = comments::edit(&db, &other, &ContentEdit {
        kind: ContentKind::Comment, id: comment, expected_version: 1,
        text: "their\ntext".into(), rating: None, reason: None,
    }).await.unwrap();
    assert!(matches!(theirs, EditOutcome::Saved { version: 2, .. }), "{theirs:?}");

    let mine = comments::edit(&db, &moderator, &ContentEdit {
        kind: ContentKind::Comment, id: comment, expected_version: 1,
        text: "my\ntext".into(), rating: None, reason: None,
    }).await.unwrap();
    let EditOutcome::Conflict { current, yours } = mine else { panic!("expected a conflict: {mine:?}") };
    assert_eq!(current.content, "their\ntext");
    assert_eq!(current.version, 2);
    assert_eq!(yours, "my\ntext");
    let stored = comments::content_item(&db, ContentKind::Comment, comment).await.unwrap().unwrap();
    assert_eq!(stored.content, "their\ntext");

    // Overwriting knowingly: save against the version now seen.
    let saved = comments::edit(&db, &moderator, &ContentEdit {
        kind: ContentKind::Comment, id: comment, expected_version: current.version,
        text: "my\ntext".into(), rating: None, reason: Reason::new(Some("cleanup")).unwrap(),
    }).await.unwrap();
    assert!(matches!(saved, EditOutcome::Saved { version: 3, .. }), "{saved:?}");
    let audit = audit_rows(&db, "comment.edit").await;
    assert_eq!(audit.len(), 2);
    let last = audit.iter().find(|e| e.actor_name == "mod").unwrap();
    assert_eq!(last.details["old_text"], "their\ntext");
    assert_eq!(last.details["new_text"], "my\ntext");
    assert_eq!(last.reason.as_deref(), Some("cleanup"));

    let review_edit = comments::edit(&db, &moderator, &ContentEdit {
        kind: ContentKind::Review, id: review, expected_version: 1,
        text: "better".into(), rating: Some(5), reason: None,
    }).await.unwrap();
    assert!(matches!(review_edit, EditOutcome::Saved { version: 2, .. }));
    let stored = comments::content_item(&db, ContentKind::Review, review).await.unwrap().unwrap();
    assert_eq!(stored.rating, Some(5));
    let err = comments::edit(&db, &moderator, &ContentEdit {
        kind: ContentKind::Review, id: review, expected_version: 2,
        text: "x".into(), rating: Some(6), reason: None,
    }).await.unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)));

    run(&db, &moderator, Request::new(Operation::DeleteComments { ids: ids(&[comment]) }, None))
        .await.unwrap();
    let gone = comments::edit(&db, &moderator, &ContentEdit {
        kind: ContentKind::Comment, id: comment, expected_version: 3,
        text: "too late".into(), rating: None, reason: None,
    }).await.unwrap();
    assert_eq!(gone, EditOutcome::Gone { yours: "too late".into() });
    assert_eq!(audit_rows(&db, "comment.delete").await[0].details["content"], "my\ntext");
    let outcome = run(&db, &moderator, Request::new(Operation::DeleteReviews { ids: ids(&[review]) }, None))
        .await.unwrap();
    assert_eq!(outcome.counts.get(Table::Reviews), 1);
    assert_eq!(count(&db, "select count(*) from reviews", &[]).await, 0);
}

async fn guild_delete_removes_members_settings_sessions_messages_and_logins_only_of_that_guild(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let doomed = guild(&db, "Doomed", Some(alice)).await;
    let kept = guild(&db, "Kept", Some(alice)).await;
    let now = Utc::now();
    Batch {
        members: vec![
            NewMember { guild_id: doomed, user_id: alice, role: "owner" },
            NewMember { guild_id: doomed, user_id: bob, role: "member" },
            NewMember { guild_id: kept, user_id: bob, role: "member" },
        ],
        settings: vec![
            NewSetting { guild_id: doomed, key: "prefix".into(), value: "!".into() },
            NewSetting { guild_id: kept, key: "prefix".into(), value: "?".into() },
        ],
        app_sessions: vec![
            NewAppSession { id: Uuid::new_v4(), user_id: bob, guild_id: Some(doomed),
                created_at: now, expires_at: now + Duration::hours(1) },
            NewAppSession { id: Uuid::new_v4(), user_id: bob, guild_id: Some(kept),
                created_at: now, expires_at: now + Duration::hours(1) },
            NewAppSession { id: Uuid::new_v4(), user_id: bob, guild_id: None,
                created_at: now, expires_at: now + Duration::hours(1) },
        ],
        ..Batch::default()
    }
    .insert(&db)
    .await
    .unwrap();
    session(&db, Some(bob), Some(doomed), 5, None).await;
    session(&db, Some(bob), Some(kept), 3, None).await;

    let confirmed = plan(&db, &admin, Request::new(Operation::DeleteGuilds { ids: ids(&[doomed]) }, None))
        .await.unwrap();
    let c = &confirmed.counts;
    assert_eq!((c.get(Table::Guilds), c.get(Table::GuildMembers), c.get(Table::GuildSettings),
        c.get(Table::ChatSessions), c.get(Table::ChatMessages), c.get(Table::AppSessions)),
        (1, 2, 1, 1, 5, 1));
    let outcome = execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(count(&db, "select count(*) from guilds", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from guild_members", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from guild_settings", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from chat_messages", &[]).await, 3);
    assert_eq!(count(&db, "select count(*) from app_sessions", &[]).await, 2);
    assert_eq!(count(&db, "select count(*) from users", &[]).await, 3);
    let audit = audit_rows(&db, "guild.delete").await;
    assert_eq!(audit[0].target_label, "Doomed");
    assert_eq!(audit[0].counts["guild_members"], 2);
}

// The six cases of the bulk-user-delete document, in order.
async fn bulk_user_delete_replays_the_six_documented_cases(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let u10 = user(&db, "u10").await;
    let u11 = user(&db, "u11").await;
    let u12 = user(&db, "u12").await;
    // 1. Successful bulk delete.
    let outcome = run(&db, &admin, Request::new(
        Operation::DeleteUsers { ids: ids(&[u10, u11, u12]), content: ContentPolicy::Keep }, None))
        .await.unwrap();
    assert_eq!(outcome.deleted_count(), 3);
    assert!(outcome.failed.is_empty());
    // 2. Self-deletion prevented, the others proceed.
    let u20 = user(&db, "u20").await;
    let u21 = user(&db, "u21").await;
    let outcome = run(&db, &admin, Request::new(
        Operation::DeleteUsers { ids: ids(&[admin.id, u20, u21]), content: ContentPolicy::Keep }, None))
        .await.unwrap();
    assert_eq!(outcome.deleted_count(), 2);
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].id, admin.id);
    assert_eq!(outcome.failed[0].reason, FailReason::Yourself);
    // 3. Authorization.
    let u30 = user(&db, "u30").await;
    let err = run(&db, &moderator, Request::new(
        Operation::DeleteUsers { ids: ids(&[u30]), content: ContentPolicy::Keep }, None))
        .await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)));
    // 4. Empty list.
    assert!(matches!(TargetIds::new(vec![]), Err(DataError::Invalid(_))));
    // 5. Unknown ids.
    let (x, y) = (Uuid::new_v4(), Uuid::new_v4());
    let outcome = run(&db, &admin, Request::new(
        Operation::DeleteUsers { ids: ids(&[x, y]), content: ContentPolicy::Keep }, None))
        .await.unwrap();
    assert_eq!(outcome.deleted_count(), 0);
    assert!(outcome.failed.iter().all(|f| f.reason == FailReason::NotFound));
    // 6. Mixed.
    let outcome = run(&db, &admin, Request::new(
        Operation::DeleteUsers { ids: ids(&[admin.id, u30, x]), content: ContentPolicy::Keep }, None))
        .await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(outcome.done[0].id, u30);
    let reasons: Vec<_> = outcome.failed.iter().map(|f| f.reason.clone()).collect();
    assert_eq!(reasons, vec![FailReason::Yourself, FailReason::NotFound]);
    assert_eq!(count(&db, "select count(*) from users", &[]).await, 2);
    assert_eq!(audit_rows(&db, "user.delete").await.len(), 6);
    assert_eq!(audit_rows(&db, "user.delete.bulk").await.len(), 4);
}

async fn user_delete_refuses_protected_service_guild_owners_and_the_last_admin_per_user(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let protected = user_with(&db, "owner-account", |u| u.is_protected = true).await;
    let service = user_with(&db, "sync-bot", |u| u.is_service = true).await;
    let guild_owner = user(&db, "gowner").await;
    guild(&db, "Owned", Some(guild_owner)).await;
    let plain = user(&db, "plain").await;
    let request = Request::new(Operation::DeleteUsers {
        ids: ids(&[protected, service, guild_owner, plain, admin.id]),
        content: ContentPolicy::Keep,
    }, None);
    let outcome = run(&db, &admin, request).await.unwrap();
    assert_eq!(outcome.done.iter().map(|d| d.id).collect::<Vec<_>>(), vec![plain]);
    let reasons: Vec<_> = outcome.failed.iter().map(|f| (f.id, f.reason.clone())).collect();
    assert_eq!(reasons, vec![
        (protected, FailReason::Protected),
        (service, FailReason::ServiceAccount),
        (guild_owner, FailReason::OwnsGuilds { count: 1 }),
        (admin.id, FailReason::Yourself),
    ]);

    // Another admin may delete this one, but never the last active one.
    let second = operator(&db, "second", Role::Admin).await;
    db.execute_statement("update users set is_active = false where id = $1", &[Arg::Uuid(admin.id)])
        .await.unwrap();
    let confirmed = plan(&db, &second, Request::new(
        Operation::DeleteUsers { ids: ids(&[admin.id]), content: ContentPolicy::Keep }, None))
        .await.unwrap();
    // An inactive admin is not the last active admin.
    assert_eq!(confirmed.targets.len(), 1);
    db.execute_statement("update users set is_active = true where id = $1", &[Arg::Uuid(admin.id)])
        .await.unwrap();
    let third = operator(&db, "third", Role::Admin).await;
    db.execute_statement("update users set is_active = false where id = $1", &[Arg::Uuid(second.id)])
        .await.unwrap();
    // Only root and third are active: third may delete root... and root then nobody.
    let outcome = run(&db, &third, Request::new(
        Operation::DeleteUsers { ids: ids(&[admin.id]), content: ContentPolicy::Keep }, None))
        .await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(count(&db, "select count(*) from users where role = 'admin' and is_active = $1", &[Arg::Bool(true)]).await, 1);
}

async fn an_operator_deactivated_between_plan_and_execute_is_refused(db) {
    let target = operator(&db, "target", Role::Admin).await;
    let actor = operator(&db, "actor", Role::Admin).await;
    let confirmed = plan(&db, &actor, Request::new(
        Operation::DeleteUsers { ids: ids(&[target.id]), content: ContentPolicy::Keep }, None))
        .await.unwrap();
    assert_eq!(confirmed.targets.len(), 1, "two active admins: one may go");
    // Another console deactivates the actor meanwhile: it is refused entirely.
    db.execute_statement("update users set is_active = false where id = $1", &[Arg::Uuid(actor.id)])
        .await.unwrap();
    let err = execute(&db, &actor, &confirmed).await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    assert_eq!(count(&db, "select count(*) from users where id = $1", &[Arg::Uuid(target.id)]).await, 1);
}

// Two (then three) admins delete each other at the same moment, many times: at least one
// active admin always remains, and exactly the expected number of deletions happen.
async fn racing_operators_can_never_delete_the_last_active_admins(db) {
    const ROUNDS: usize = 25;
    for round in 0..ROUNDS {
        let a = operator(&db, &format!("a{round}"), Role::Admin).await;
        let b = operator(&db, &format!("b{round}"), Role::Admin).await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let race = |actor: modcon::db::Actor, victim: Uuid| {
            let db = db.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                run(&db, &actor, Request::new(
                    Operation::DeleteUsers { ids: TargetIds::one(victim), content: ContentPolicy::Keep },
                    None,
                )).await
            })
        };
        let first = race(a.clone(), b.id);
        let second = race(b.clone(), a.id);
        let results = [first.await.unwrap(), second.await.unwrap()];
        let deleted: usize = results.iter().map(|r| r.as_ref().map(|o| o.deleted_count()).unwrap_or(0)).sum();
        for r in &results {
            if let Err(e) = r {
                assert!(matches!(e, DataError::Forbidden(_)), "round {round}: {e:?}");
            }
        }
        let left = count(&db, "select count(*) from users where id in ($1, $2) and role = 'admin' and is_active = $3",
            &[Arg::Uuid(a.id), Arg::Uuid(b.id), Arg::Bool(true)]).await;
        assert_eq!(left, 1, "round {round}: exactly one of the two admins must remain");
        assert_eq!(deleted, 1, "round {round}");
        // Clean the survivor away so the next round starts with two fresh admins only.
        db.execute_statement("update users set is_active = false where role = 'admin'", &[]).await.unwrap();
    }
    for round in 0..10 {
        let admins = [
            operator(&db, &format!("x{round}"), Role::Admin).await,
            operator(&db, &format!("y{round}"), Role::Admin).await,
            operator(&db, &format!("z{round}"), Role::Admin).await,
        ];
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(3));
        let mut tasks = Vec::new();
        for actor in admins.iter().cloned() {
            let others: Vec<Uuid> = admins.iter().filter(|o| o.id != actor.id).map(|o| o.id).collect();
            let db = db.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                run(&db, &actor, Request::new(
                    Operation::DeleteUsers { ids: TargetIds::new(others).unwrap(), content: ContentPolicy::Keep },
                    None,
                )).await
            }));
        }
        for t in tasks {
            let _ = t.await.unwrap();
        }
        let left = count(&db, "select count(*) from users where role = 'admin' and is_active = $1", &[Arg::Bool(true)]).await;
        assert!(left >= 1, "round {round}: no active admin left");
        db.execute_statement("update users set is_active = false where role = 'admin'", &[]).await.unwrap();
    }
}

async fn user_delete_content_policy_keeps_or_deletes_authored_content(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let keeper = user(&db, "keeper").await;
    let purged = user(&db, "purged").await;
    let friend = user(&db, "friend").await;
    let (kept_comment, _) = book_with_content(&db, Some(keeper)).await;
    book_with_content(&db, Some(purged)).await;
    Batch {
        private_messages: vec![
            NewPrivateMessage { id: Uuid::new_v4(), sender_id: Some(keeper), recipient_id: Some(friend),
                content: "kept".into(), created_at: Utc::now() },
            NewPrivateMessage { id: Uuid::new_v4(), sender_id: Some(purged), recipient_id: Some(friend),
                content: "purged".into(), created_at: Utc::now() },
            NewPrivateMessage { id: Uuid::new_v4(), sender_id: Some(friend), recipient_id: Some(purged),
                content: "to purged".into(), created_at: Utc::now() },
        ],
        app_sessions: vec![NewAppSession { id: Uuid::new_v4(), user_id: keeper, guild_id: None,
            created_at: Utc::now(), expires_at: Utc::now() + Duration::hours(1) }],
        ..Batch::default()
    }.insert(&db).await.unwrap();
    session(&db, Some(keeper), None, 6, None).await;

    let confirmed = plan(&db, &admin, Request::new(
        Operation::DeleteUsers { ids: ids(&[keeper]), content: ContentPolicy::Keep }, None)).await.unwrap();
    assert_eq!(confirmed.counts.get(Table::ChatSessions), 1);
    assert_eq!(confirmed.counts.get(Table::ChatMessages), 6);
    assert_eq!(confirmed.counts.get(Table::AppSessions), 1);
    assert_eq!(confirmed.kept.get(Table::Comments), 1);
    assert_eq!(confirmed.kept.get(Table::Messages), 1);
    execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(count(&db, "select count(*) from comments where id = $1 and user_id is null", &[Arg::Uuid(kept_comment)]).await, 1);
    assert_eq!(count(&db, "select count(*) from messages where content = 'kept' and sender_id is null", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 0);
    assert_eq!(count(&db, "select count(*) from app_sessions", &[]).await, 0);

    let outcome = run(&db, &admin, Request::new(
        Operation::DeleteUsers { ids: ids(&[purged]), content: ContentPolicy::Delete }, None)).await.unwrap();
    assert_eq!(outcome.counts.get(Table::Comments), 1);
    assert_eq!(outcome.counts.get(Table::Reviews), 1);
    assert_eq!(outcome.counts.get(Table::Messages), 1);
    assert_eq!(count(&db, "select count(*) from comments", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from reviews", &[]).await, 1);
    // Messages the purged user received stay, their recipient now unknown.
    assert_eq!(count(&db, "select count(*) from messages where content = 'to purged' and recipient_id is null", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from messages where content = 'purged'", &[]).await, 0);
}

async fn audit_snapshots_survive_the_deletion_of_actor_and_target(db) {
    let first = operator(&db, "first-admin", Role::Admin).await;
    let second = operator(&db, "second-admin", Role::Admin).await;
    let victim = user(&db, "victim").await;
    run(&db, &first, Request::new(
        Operation::DeleteUsers { ids: ids(&[victim]), content: ContentPolicy::Keep }, None)).await.unwrap();
    run(&db, &second, Request::new(
        Operation::DeleteUsers { ids: ids(&[first.id]), content: ContentPolicy::Keep }, None)).await.unwrap();
    let rows = audit_rows(&db, "user.delete").await;
    let victim_row = rows.iter().find(|e| e.target_id == Some(victim)).unwrap();
    assert_eq!(victim_row.actor_name, "first-admin");
    assert_eq!(victim_row.actor_id, Some(first.id));
    assert_eq!(victim_row.target_label, "victim");
    let page = list_audit(&db, &AuditFilter { actor: Some("FIRST".into()), ..AuditFilter::default() }, None, 10)
        .await.unwrap();
    assert_eq!(page.rows.len(), 1);
    let page = list_audit(&db, &AuditFilter { target: Some("victim".into()), ..AuditFilter::default() }, None, 10)
        .await.unwrap();
    assert_eq!(page.rows.len(), 1);
}

async fn sign_in_audits_success_and_failure_and_locks_after_five_failures(db) {
    let admin = operator(&db, "Root", Role::Admin).await;
    auth::set_password(&db, "root", "correct horse", "cli:test").await.unwrap();
    let actor = auth::sign_in(&db, "ROOT", "correct horse").await.unwrap();
    assert_eq!(actor.id, admin.id);
    assert_eq!(actor.role, Role::Admin);
    for _ in 0..4 {
        let err = auth::sign_in(&db, "root", "wrong").await.unwrap_err();
        assert!(matches!(err, auth::SignInError::WrongCredentials), "{err:?}");
    }
    let err = auth::sign_in(&db, "root", "wrong").await.unwrap_err();
    assert!(matches!(err, auth::SignInError::Locked { .. }), "{err:?}");
    // Locked: even the right password is refused.
    let err = auth::sign_in(&db, "root", "correct horse").await.unwrap_err();
    assert!(matches!(err, auth::SignInError::Locked { .. }), "{err:?}");
    assert_eq!(audit_rows(&db, "auth.sign_in").await.len(), 1);
    assert_eq!(audit_rows(&db, "auth.sign_in_failed").await.len(), 6);
    // The lock expires.
    db.execute_statement("update users set locked_until = $1 where id = $2",
        &[Arg::Time(Utc::now() - Duration::minutes(1)), Arg::Uuid(admin.id)]).await.unwrap();
    auth::sign_in(&db, "root", "correct horse").await.unwrap();
    let err = auth::sign_in(&db, "nobody", "whatever").await.unwrap_err();
    assert!(matches!(err, auth::SignInError::WrongCredentials));
    let set = audit_rows(&db, "auth.password_set").await;
    assert_eq!(set[0].actor_name, "cli:test");
    let stored = count(&db, "select count(*) from users where password_hash like '$argon2id$%'", &[]).await;
    assert_eq!(stored, 1);
}

async fn role_user_and_inactive_accounts_cannot_sign_in(db) {
    user(&db, "plain").await;
    auth::set_password(&db, "plain", "password1", "cli:test").await.unwrap();
    let err = auth::sign_in(&db, "plain", "password1").await.unwrap_err();
    assert!(matches!(err, auth::SignInError::RoleNotAllowed), "{err:?}");
    let m = operator(&db, "gone", Role::Moderator).await;
    auth::set_password(&db, "gone", "password1", "cli:test").await.unwrap();
    db.execute_statement("update users set is_active = false where id = $1", &[Arg::Uuid(m.id)]).await.unwrap();
    let err = auth::sign_in(&db, "gone", "password1").await.unwrap_err();
    assert!(matches!(err, auth::SignInError::Inactive), "{err:?}");
    let err = auth::set_password(&db, "plain", "short", "cli:test").await.unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)));
    let err = auth::set_password(&db, "nobody", "long enough", "cli:test").await.unwrap_err();
    assert!(matches!(err, DataError::NotFound(_)));
}

async fn listings_page_by_keyset_without_gaps_or_repeats_and_count_per_row(db) {
    let alice = user(&db, "alice").await;
    let mut made = Vec::new();
    for i in 0..23 {
        made.push(session(&db, Some(alice), None, i % 4, None).await);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = lists::chat_sessions(&db, &ChatSessionFilter::default(), cursor, 5).await.unwrap();
        assert!(page.rows.len() <= 5);
        for row in &page.rows {
            let expected = count(&db, "select count(*) from chat_messages where session_id = $1", &[Arg::Uuid(row.id)]).await;
            assert_eq!(row.messages, expected);
            assert_eq!(row.owner_name.as_deref(), Some("alice"));
        }
        seen.extend(page.rows.iter().map(|r| (r.created_at, r.id)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    sorted.dedup();
    assert_eq!(sorted.len(), 23);
    let all = lists::chat_session_ids(&db, &ChatSessionFilter::default(), 10_000).await.unwrap();
    assert_eq!(all.len(), 23);
}

async fn filters_are_literal_text_never_sql_or_wildcards(db) {
    let alice = user(&db, "alice").await;
    let plain = session(&db, Some(alice), None, 0, None).await;
    let percent = session(&db, Some(alice), None, 0, None).await;
    db.execute_statement("update chat_sessions set title = '100% off' where id = $1", &[Arg::Uuid(percent)]).await.unwrap();
    db.execute_statement("update chat_sessions set title = '100 off' where id = $1", &[Arg::Uuid(plain)]).await.unwrap();
    let find = |text: &str| ChatSessionFilter { text: Some(text.to_string()), ..ChatSessionFilter::default() };
    let page = lists::chat_sessions(&db, &find("100%"), None, 50).await.unwrap();
    assert_eq!(page.rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![percent]);
    let page = lists::chat_sessions(&db, &find("'; drop table users; --"), None, 50).await.unwrap();
    assert!(page.rows.is_empty());
    assert_eq!(count(&db, "select count(*) from users", &[]).await, 1);
    let page = lists::chat_sessions(&db, &find("ALICE"), None, 50).await.unwrap();
    assert_eq!(page.rows.len(), 2);
}

async fn pane_listings_return_rows_with_their_counts(db) {
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let g = guild(&db, "Readers", Some(alice)).await;
    Batch {
        members: vec![NewMember { guild_id: g, user_id: bob, role: "member" }],
        settings: vec![NewSetting { guild_id: g, key: "k".into(), value: "v".into() }],
        private_messages: vec![NewPrivateMessage { id: Uuid::new_v4(), sender_id: Some(alice),
            recipient_id: Some(bob), content: "hi bob".into(), created_at: Utc::now() }],
        ..Batch::default()
    }.insert(&db).await.unwrap();
    session(&db, Some(bob), Some(g), 7, None).await;
    book_with_content(&db, Some(alice)).await;

    let guilds = lists::guilds(&db, None, None, 10).await.unwrap();
    let row = &guilds.rows[0];
    assert_eq!((row.members, row.chat_sessions, row.messages, row.settings), (1, 1, 7, 1));
    assert_eq!(row.owner_name.as_deref(), Some("alice"));
    let members = lists::guild_members(&db, g, None, 10).await.unwrap();
    assert_eq!(members.rows[0].username, "bob");
    assert_eq!(lists::guild_settings(&db, g, 10).await.unwrap()[0].key, "k");

    let users = lists::users(&db, &lists::UserFilter::default(), None, 10).await.unwrap();
    let a = users.rows.iter().find(|u| u.username == "alice").unwrap();
    assert_eq!((a.owned_guilds, a.comments, a.reviews, a.messages, a.chat_sessions), (1, 1, 1, 1, 0));
    let page1 = lists::users(&db, &lists::UserFilter::default(), None, 1).await.unwrap();
    assert_eq!(page1.rows[0].username, "alice");
    let page2 = lists::users(&db, &lists::UserFilter::default(), page1.next, 1).await.unwrap();
    assert_eq!(page2.rows[0].username, "bob");
    assert_eq!(lists::user_by_name(&db, "BOB").await.unwrap().unwrap().id, bob);

    let pms = lists::private_messages(&db, &lists::PrivateMessageFilter::default(), None, 10).await.unwrap();
    assert_eq!(pms.rows[0].sender_name.as_deref(), Some("alice"));
    assert_eq!(pms.rows[0].excerpt, "hi bob");

    let content = lists::content(&db, &lists::ContentFilter::default(), None, 10).await.unwrap();
    assert_eq!(content.rows.len(), 2);
    let review = content.rows.iter().find(|r| r.kind == ContentKind::Review).unwrap();
    assert_eq!(review.rating, Some(2));
    let only_comments = lists::content(&db, &lists::ContentFilter { kind: Some(ContentKind::Comment),
        ..lists::ContentFilter::default() }, None, 10).await.unwrap();
    assert_eq!(only_comments.rows.len(), 1);
    assert_eq!(only_comments.rows[0].rating, None);
}

async fn a_read_only_handle_refuses_every_write(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id), None, 1, None).await;
    let read_only = db.reopen(Access::ReadOnly).await.unwrap();
    let confirmed = plan(&read_only, &admin, delete_sessions(&[s])).await.unwrap();
    let err = execute(&read_only, &admin, &confirmed).await.unwrap_err();
    assert!(matches!(err, DataError::ReadOnly), "{err:?}");
    assert!(matches!(read_only.execute_statement("delete from chat_sessions", &[]).await, Err(DataError::ReadOnly)));
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 1);
}

}
