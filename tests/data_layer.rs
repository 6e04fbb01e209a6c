//! The data layer on both backends and on every schema it runs on: modcon's reference
//! schema and the two platform fixtures (`tests/fixtures/`). Statements written here name
//! tables and columns through the map (`{@chat_messages}`, `{m.session}`), and ids are
//! made with `fresh_id`, so one body runs on every schema listed for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{Duration, Utc};
use common::{
    Platform, TestDb, attempt, count, fresh_id, new_user, operator, platform_of, session, user,
    user_with,
};
use modcon::db::audit::{AuditEntry, AuditFilter, list_audit};
use modcon::db::comments::{self, ContentEdit, ContentKind, EditOutcome};
use modcon::db::ids::{Reason, TargetIds};
use modcon::db::insert::{
    Batch, NewAppSession, NewBook, NewChatMessage, NewContent, NewGuild, NewMember,
    NewPrivateMessage, NewSetting,
};
use modcon::db::lists::{self, ChatSessionFilter, UserFilter};
use modcon::db::plan::{
    ContentPolicy, FailReason, OpKind, Operation, Outcome, Request, RowCounts, execute, plan, run,
};
use modcon::db::{
    Access, Actor, Arg, Backend, DataError, Db, Entity, Id, IdKind, Limits, Role, SchemaMap, auth,
};
use serde_json::json;
use uuid::Uuid;

// ---------------------------------------------------------------- shared helpers

fn ids(list: &[Id]) -> TargetIds {
    TargetIds::new(list.to_vec()).unwrap()
}

fn delete_sessions(list: &[Id]) -> Request {
    Request::new(Operation::new(OpKind::DeleteChatSessions, ids(list)), None)
}

fn delete_users(list: &[Id], content: ContentPolicy) -> Request {
    Request::new(Operation::delete_users(ids(list), content), None)
}

/// The platform's name for an entity's table (what plans and audit counts are keyed by).
fn table(db: &Db, entity: Entity) -> String {
    db.schema().unwrap().table_name(entity).to_string()
}

/// An id bound as the type of its entity's id column.
fn id_arg(db: &Db, entity: Entity, id: &Id) -> Arg {
    Arg::Id(db.schema().unwrap().id_kind(entity), Some(id.clone()))
}

fn user_arg(db: &Db, id: &Id) -> Arg {
    id_arg(db, Entity::Users, id)
}

/// A mapped column's own name, quoted: for `update … set`, which takes no alias.
fn column(db: &Db, entity: Entity, key: &str) -> String {
    let mapped = db
        .schema()
        .unwrap()
        .column(entity, key)
        .unwrap_or_else(|| panic!("{}.{key} is not mapped", entity.name()));
    format!("\"{}\"", mapped.name)
}

/// Sets a mapped column of one row, found by its id.
async fn set_column(db: &Db, entity: Entity, key: &str, value: Arg, id: &Id) {
    let sql = format!(
        "update {{@{}}} set {} = ? where {} = ?",
        entity.name(),
        column(db, entity, key),
        column(db, entity, "id")
    );
    let changed = db
        .execute_statement(&sql, &[value, id_arg(db, entity, id)])
        .await
        .unwrap();
    assert_eq!(changed, 1, "{sql}");
}

/// The platform's value for a role (for plain users, the platform's user role).
fn role_value(db: &Db, role: Role) -> String {
    match role {
        Role::User => platform_of(db).user_role().to_string(),
        _ => db.schema().unwrap().role_values(role)[0].clone(),
    }
}

async fn set_role(db: &Db, user: &Id, role: Role) {
    let value = Arg::Text(role_value(db, role));
    set_column(db, Entity::Users, "role", value, user).await;
}

async fn set_active(db: &Db, user: &Id, active: bool) {
    set_column(db, Entity::Users, "active", Arg::Bool(active), user).await;
}

/// `and u."deleted_at" is null` on a soft-delete map, nothing otherwise.
fn not_soft_deleted(db: &Db) -> String {
    match &db.schema().unwrap().soft_delete {
        Some(soft) => format!(" and u.\"{}\" is null", soft.at.name),
        None => String::new(),
    }
}

/// Users not deleted (soft-deleted rows stay in the table but do not count).
async fn live_users(db: &Db) -> i64 {
    let sql = format!(
        "select count(*) from {{@users}} u where 1 = 1{}",
        not_soft_deleted(db)
    );
    count(db, &sql, &[]).await
}

/// Active admins (an admin role value, active, not soft-deleted), among `among` if any.
async fn active_admins(db: &Db, among: &[Id]) -> i64 {
    let roles = db.schema().unwrap().role_values(Role::Admin).to_vec();
    let mut args: Vec<Arg> = roles.iter().map(|r| Arg::Text(r.clone())).collect();
    let mut sql = format!(
        "select count(*) from {{@users}} u where {{u.role}} in ({}) and ({{u.active|1 = 1}}){}",
        vec!["?"; roles.len()].join(", "),
        not_soft_deleted(db)
    );
    if !among.is_empty() {
        sql.push_str(&format!(
            " and {{u.id}} in ({})",
            vec!["?"; among.len()].join(", ")
        ));
        args.extend(among.iter().map(|id| user_arg(db, id)));
    }
    count(db, &sql, &args).await
}

/// Every admin becomes a plain user: the next round starts with fresh admins only.
async fn retire_admins(db: &Db) {
    let roles = db.schema().unwrap().role_values(Role::Admin).to_vec();
    let role = column(db, Entity::Users, "role");
    let sql = format!(
        "update {{@users}} set {role} = ? where {role} in ({})",
        vec!["?"; roles.len()].join(", ")
    );
    let mut args = vec![Arg::Text(role_value(db, Role::User))];
    args.extend(roles.into_iter().map(Arg::Text));
    db.execute_statement(&sql, &args).await.unwrap();
}

async fn audit_count(db: &Db) -> i64 {
    count(db, "select count(*) from {#modcon_audit_log}", &[]).await
}

/// Audit rows of changes: every row but the `<action>.refused` ones that a request
/// refused for permission writes (and that a refused request is the only one to add).
async fn audit_of_changes(db: &Db) -> i64 {
    count(
        db,
        "select count(*) from {#modcon_audit_log} where action not like '%.refused'",
        &[],
    )
    .await
}

/// The audit rows of requests refused for permission, oldest first, as
/// `(action, actor, target id)`.
async fn refusals(db: &Db) -> Vec<(String, String, Option<String>)> {
    let page = list_audit(db, &AuditFilter::default(), None, 1000)
        .await
        .unwrap();
    let mut rows: Vec<_> = page
        .rows
        .into_iter()
        .filter(|e| e.action.ends_with(".refused"))
        .map(|e| (e.action, e.actor_name, e.target_id))
        .collect();
    rows.reverse();
    rows
}

async fn audit_rows(db: &Db, action: &str) -> Vec<AuditEntry> {
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

async fn guild(db: &Db, name: &str, owner: Option<Id>) -> Id {
    let id = fresh_id(db, Entity::Guilds);
    Batch {
        guilds: vec![NewGuild {
            id: id.clone(),
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

/// A book with one comment and one review (rating 2) by `author`.
async fn book_with_content(db: &Db, author: Option<Id>) -> (Id, Id) {
    let book = fresh_id(db, Entity::Books);
    let comment = fresh_id(db, Entity::Comments);
    let review = fresh_id(db, Entity::Reviews);
    Batch {
        books: vec![NewBook {
            id: book.clone(),
            title: "The Book".into(),
            author: "Someone".into(),
        }],
        comments: vec![NewContent {
            id: comment.clone(),
            book_id: book.clone(),
            user_id: author.clone(),
            rating: None,
            content: "first line\nsecond line".into(),
            created_at: Utc::now(),
        }],
        reviews: vec![NewContent {
            id: review.clone(),
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

fn private_message(db: &Db, from: &Id, to: &Id, text: &str) -> NewPrivateMessage {
    NewPrivateMessage {
        id: fresh_id(db, Entity::Messages),
        sender_id: Some(from.clone()),
        recipient_id: Some(to.clone()),
        content: text.into(),
        created_at: Utc::now(),
    }
}

/// A login session (the id is a reference-schema column; platforms default theirs).
fn app_session(user: &Id, guild: Option<Id>) -> NewAppSession {
    let now = Utc::now();
    NewAppSession {
        id: Id::from(Uuid::new_v4()),
        user_id: user.clone(),
        guild_id: guild,
        created_at: now,
        expires_at: now + Duration::hours(1),
    }
}

async fn chat_message_ids(db: &Db, session: &Id) -> Vec<Id> {
    lists::chat_messages(db, session, None, None, 500)
        .await
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// An id text that an id column of type `kind` does not accept.
fn malformed(kind: IdKind) -> &'static str {
    match kind {
        IdKind::Integer | IdKind::BigInt => "12x",
        IdKind::Uuid => "not-a-uuid",
        IdKind::Text => "bad\u{7}id",
    }
}

/// Rows per table of the platform (modcon's own tables are not in the catalog).
async fn table_sizes(db: &Db) -> BTreeMap<String, i64> {
    let catalog = db.catalog(None).await.unwrap();
    let mut sizes = BTreeMap::new();
    for name in catalog.tables.keys() {
        let n = count(db, &format!("select count(*) from \"{name}\""), &[]).await;
        sizes.insert(name.clone(), n);
    }
    sizes
}

/// The same database under its platform's map without soft delete: users are removed,
/// with whatever their foreign keys take along. (`TestDb::on` built it with this
/// platform's fixture and modcon's own tables, which do not depend on soft delete.)
async fn with_hard_delete(db: Db) -> Db {
    let mut map = platform_of(&db).map();
    map.soft_delete = None;
    let db = db.load_schema(&map).await.unwrap();
    assert!(db.schema().unwrap().soft_delete.is_none());
    db
}

/// Plans `request`, executes it and checks that the plan's count for every platform
/// table is exactly how many rows that table lost.
async fn execute_and_compare(db: &Db, admin: &Actor, request: Request) -> Outcome {
    let before = table_sizes(db).await;
    let confirmed = plan(db, admin, request).await.unwrap();
    let outcome = execute(db, admin, &confirmed).await.unwrap();
    assert_eq!(
        outcome.counts, confirmed.counts,
        "executed what was planned"
    );
    let after = table_sizes(db).await;
    for (name, n) in &before {
        let gone = n - after[name];
        assert_eq!(
            outcome.counts.get(name),
            gone,
            "{name}: the plan said {}, the table lost {gone}",
            outcome.counts.get(name)
        );
    }
    for (name, _) in outcome.counts.iter() {
        assert!(
            before.contains_key(name),
            "the plan names {name}, no table of the platform"
        );
    }
    outcome
}

/// fastapi's `chat_feedback` (unknown to modcon): a score on a chat message by a user.
async fn feedback(db: &Db, message: &Id, by: &Id) {
    db.execute_statement(
        "insert into chat_feedback (message_id, user_id, score) values (?, ?, 1)",
        &[id_arg(db, Entity::ChatMessages, message), user_arg(db, by)],
    )
    .await
    .unwrap();
}

// ---------------------------------------------------------------- migrations and the audit table

on_schemas! { [reference, fastapi, adminapi]
async fn migrations_leave_every_mapped_table_and_modcons_own_tables_empty_and_rerun_as_a_no_op(db) {
    let map = platform_of(&db).map();
    let schema = db.schema().unwrap();
    let expected: BTreeSet<Entity> =
        Entity::ALL.into_iter().filter(|e| map.entity(*e).enabled).collect();
    assert_eq!(schema.enabled_entities().collect::<BTreeSet<_>>(), expected);
    if schema.reference {
        assert_eq!(expected.len(), Entity::ALL.len(), "the reference schema has every entity");
    }
    for entity in expected {
        assert_eq!(modcon::db::insert::count_rows(&db, entity).await.unwrap(), 0, "{entity:?}");
    }
    assert_eq!(audit_count(&db).await, 0);
    assert_eq!(count(&db, "select count(*) from {#modcon_operators}", &[]).await, 0);
    // Migrating again is a no-op.
    let report = db.migrate(&map).await.unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn the_audit_log_refuses_update_and_delete(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id.clone()), None, 1, None).await;
    run(&db, &admin, delete_sessions(&[s])).await.unwrap();
    assert_eq!(audit_count(&db).await, 1);
    let update = db
        .execute_statement("update {#modcon_audit_log} set actor_name = 'someone else'", &[])
        .await;
    assert!(update.is_err(), "update of modcon_audit_log must fail: {update:?}");
    let delete = db.execute_statement("delete from {#modcon_audit_log}", &[]).await;
    assert!(delete.is_err(), "delete from modcon_audit_log must fail: {delete:?}");
    assert_eq!(
        count(&db, "select count(*) from {#modcon_audit_log} where actor_name = 'root'", &[]).await,
        1
    );
}
}

// ---------------------------------------------------------------- chat sessions

on_schemas! { [reference, fastapi, adminapi]
async fn bulk_chat_session_delete_cascades_counts_and_audits_each_session(db) {
    let sessions = table(&db, Entity::ChatSessions);
    let messages = table(&db, Entity::ChatMessages);
    let admin = operator(&db, "root", Role::Admin).await;
    let owner = user(&db, "alice").await;
    let a = session(&db, Some(owner.clone()), None, 15, None).await;
    let b = session(&db, Some(owner.clone()), None, 20, None).await;
    let c = session(&db, None, None, 10, Some(owner.clone())).await;
    let keep = session(&db, Some(owner.clone()), None, 4, None).await;
    let missing = fresh_id(&db, Entity::ChatSessions);
    let request = Request::new(
        Operation::new(OpKind::DeleteChatSessions, ids(&[a, b.clone(), c, missing.clone()])),
        Reason::new(Some("spam wave")).unwrap(),
    );
    let confirmed = plan(&db, &admin, request).await.unwrap();
    assert_eq!(confirmed.counts.get(&sessions), 3);
    assert_eq!(confirmed.counts.get(&messages), 45);
    assert_eq!(confirmed.refused.len(), 1);
    assert_eq!(confirmed.refused[0].reason, FailReason::NotFound);
    // Planning changed nothing.
    assert_eq!(count(&db, "select count(*) from {@chat_messages}", &[]).await, 49);

    let outcome = execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(outcome.deleted_count(), 3);
    assert_eq!(outcome.failed_ids(), vec![missing]);
    assert_eq!(outcome.counts.get(&messages), 45);
    assert_eq!(count(&db, "select count(*) from {@chat_sessions}", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@chat_messages}", &[]).await, 4);
    assert_eq!(
        count(&db, "select count(*) from {@chat_sessions} s where {s.id} = ?",
            &[id_arg(&db, Entity::ChatSessions, &keep)]).await,
        1
    );

    let per_session = audit_rows(&db, "chat_session.delete").await;
    assert_eq!(per_session.len(), 3);
    let summary = audit_rows(&db, "chat_session.delete.bulk").await;
    assert_eq!(summary.len(), 1);
    let summary = &summary[0];
    assert!(per_session.iter().all(|e| e.batch_id == summary.batch_id));
    let admin_id = admin.id.to_string();
    assert!(per_session.iter().all(|e| e.actor_name == "root" && e.actor_id.as_deref() == Some(admin_id.as_str())));
    assert!(per_session.iter().all(|e| e.reason.as_deref() == Some("spam wave")));
    let b_row = per_session.iter().find(|e| e.target_id == Some(b.to_string())).unwrap();
    assert_eq!(b_row.counts[messages.as_str()], 20);
    assert_eq!(summary.counts[messages.as_str()], 45);
    assert_eq!(summary.details["requested_ids"].as_array().unwrap().len(), 4);
    assert_eq!(summary.details["failed"][0]["reason"], "not found");
    assert_eq!(summary.batch_id, outcome.batch_id);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn deleting_a_session_already_gone_is_reported_as_not_found(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id.clone()), None, 2, None).await;
    run(&db, &admin, delete_sessions(std::slice::from_ref(&s))).await.unwrap();
    let again = run(&db, &admin, delete_sessions(&[s])).await.unwrap();
    assert_eq!(again.deleted_count(), 0);
    assert_eq!(again.failed[0].reason, FailReason::NotFound);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn a_plan_that_grew_before_execution_deletes_nothing_and_returns_the_new_plan(db) {
    let messages = table(&db, Entity::ChatMessages);
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id.clone()), None, 3, None).await;
    let confirmed = plan(&db, &admin, delete_sessions(std::slice::from_ref(&s))).await.unwrap();
    assert_eq!(confirmed.counts.get(&messages), 3);
    Batch {
        chat_messages: vec![NewChatMessage {
            id: fresh_id(&db, Entity::ChatMessages),
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
    assert_eq!(fresh.counts.get(&messages), 4);
    assert_eq!(count(&db, "select count(*) from {@chat_messages}", &[]).await, 4);
    assert_eq!(audit_count(&db).await, 0);
    // Confirming the new plan goes through.
    let outcome = execute(&db, &admin, &fresh).await.unwrap();
    assert_eq!(outcome.counts.get(&messages), 4);
    assert_eq!(count(&db, "select count(*) from {@chat_messages}", &[]).await, 0);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn a_plan_that_shrank_still_executes_and_reports_what_went(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let a = session(&db, Some(admin.id.clone()), None, 3, None).await;
    let b = session(&db, Some(admin.id.clone()), None, 3, None).await;
    let confirmed = plan(&db, &admin, delete_sessions(&[a, b.clone()])).await.unwrap();
    run(&db, &admin, delete_sessions(std::slice::from_ref(&b))).await.unwrap();
    let outcome = execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(outcome.failed_ids(), vec![b]);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn bad_requests_are_refused_with_clear_errors_and_change_nothing(db) {
    let too_many: Vec<Id> = (0..101).map(|_| fresh_id(&db, Entity::ChatSessions)).collect();
    let err = TargetIds::new(too_many).unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)) && err.to_string().contains("at most 100"), "{err}");
    assert!(matches!(TargetIds::new(vec![]), Err(DataError::Invalid(_))));
    let id = fresh_id(&db, Entity::Users);
    assert!(matches!(TargetIds::new(vec![id.clone(), id]), Err(DataError::Invalid(_))));
    assert!(matches!(TargetIds::parse(&["not-a-uuid"], IdKind::Uuid), Err(DataError::Invalid(_))));
    for entity in [Entity::Users, Entity::ChatSessions, Entity::ChatMessages, Entity::Comments] {
        let kind = db.schema().unwrap().id_kind(entity);
        let parsed = TargetIds::parse(&[malformed(kind)], kind);
        assert!(matches!(parsed, Err(DataError::Invalid(_))), "{entity:?} ({kind}): {parsed:?}");
    }
    assert!(matches!(Reason::new(Some(&"x".repeat(513))), Err(DataError::Invalid(_))));

    let admin = operator(&db, "root", Role::Admin).await;
    let (comment, _) = book_with_content(&db, None).await;
    let loaded = comments::content_item(&db, ContentKind::Comment, &comment).await.unwrap().unwrap();
    let err = comments::edit(&db, &admin, &ContentEdit {
        kind: ContentKind::Comment,
        id: comment.clone(),
        expected_version: loaded.version,
        text: "y".repeat(comments::MAX_CONTENT_CHARS + 1),
        rating: None,
        reason: None,
    })
    .await
    .unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)), "{err:?}");
    let err = comments::edit(&db, &admin, &ContentEdit {
        kind: ContentKind::Comment,
        id: comment.clone(),
        expected_version: loaded.version,
        text: "fine".into(),
        rating: Some(4),
        reason: None,
    })
    .await
    .unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)), "{err:?}");
    assert_eq!(audit_count(&db).await, 0);
    let stored = comments::content_item(&db, ContentKind::Comment, &comment).await.unwrap().unwrap();
    assert_eq!(stored, loaded, "the comment is as it was");
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn a_moderator_is_forbidden_every_admin_only_operation_and_nothing_changes(db) {
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let owner = user(&db, "alice").await;
    let s = session(&db, Some(owner.clone()), None, 2, None).await;
    let orphan = session(&db, None, None, 2, Some(owner)).await;
    let victim = user(&db, "bob").await;
    let targets = [s.to_string(), orphan.to_string(), victim.to_string(), moderator.id.to_string()];
    for operation in [
        Operation::new(OpKind::DeleteChatSessions, ids(&[s])),
        Operation::new(OpKind::RepairOrphanSessions, ids(&[orphan])),
        Operation::delete_users(ids(&[victim]), ContentPolicy::Keep),
        Operation::delete_users(ids(std::slice::from_ref(&moderator.id)), ContentPolicy::Delete),
    ] {
        let request = Request::new(operation.clone(), None);
        let err = plan(&db, &moderator, request.clone()).await.unwrap_err();
        assert!(matches!(err, DataError::Forbidden(_)), "{operation:?}: {err:?}");
        let err = run(&db, &moderator, request).await.unwrap_err();
        assert!(matches!(err, DataError::Forbidden(_)), "{operation:?}: {err:?}");
    }
    assert_eq!(count(&db, "select count(*) from {@chat_sessions} s where {s.owner} is not null", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@chat_sessions}", &[]).await, 2);
    assert_eq!(count(&db, "select count(*) from {@chat_messages}", &[]).await, 4);
    assert_eq!(live_users(&db).await, 3);
    // Only the refusals are on record: each attempt (plan, run), by whom, on what.
    assert_eq!(audit_of_changes(&db).await, 0);
    let refused = |action: &str, target: &str| {
        (format!("{action}.refused"), "mod".to_string(), Some(target.to_string()))
    };
    assert_eq!(refusals(&db).await, vec![
        refused("chat_session.delete", &targets[0]), refused("chat_session.delete", &targets[0]),
        refused("chat_session.repair", &targets[1]), refused("chat_session.repair", &targets[1]),
        refused("user.delete", &targets[2]), refused("user.delete", &targets[2]),
        refused("user.delete", &targets[3]), refused("user.delete", &targets[3]),
    ]);
}
}

on_schemas! { [reference, adminapi]
async fn a_moderator_is_forbidden_to_delete_guilds_and_nothing_changes(db) {
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let g = guild(&db, "guild", None).await;
    session(&db, None, Some(g.clone()), 2, None).await;
    let request = Request::new(Operation::new(OpKind::DeleteGuilds, ids(std::slice::from_ref(&g))), None);
    let err = plan(&db, &moderator, request.clone()).await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    let err = run(&db, &moderator, request).await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    assert_eq!(count(&db, "select count(*) from {@guilds}", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@chat_sessions}", &[]).await, 1);
    assert_eq!(audit_of_changes(&db).await, 0);
    let refused = ("guild.delete.refused".to_string(), "mod".to_string(), Some(g.to_string()));
    assert_eq!(refusals(&db).await, vec![refused.clone(), refused]);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn an_operator_demoted_after_sign_in_is_refused(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id.clone()), None, 1, None).await;
    set_role(&db, &admin.id, Role::Moderator).await;
    let err = run(&db, &admin, delete_sessions(std::slice::from_ref(&s))).await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    assert!(err.to_string().contains("role changed"), "{err}");
    assert_eq!(count(&db, "select count(*) from {@chat_sessions}", &[]).await, 1);
    assert_eq!(audit_of_changes(&db).await, 0);
    assert_eq!(refusals(&db).await,
        vec![("chat_session.delete.refused".to_string(), "root".to_string(), Some(s.to_string()))]);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn orphaned_sessions_are_listed_planned_and_repaired_from_the_first_user_message(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let alice = user(&db, "alice").await;
    let owned = session(&db, Some(alice.clone()), None, 2, None).await;
    let repairable = session(&db, None, None, 4, Some(alice.clone())).await;
    let hopeless = session(&db, None, None, 0, None).await;
    let page = lists::chat_sessions(
        &db,
        &ChatSessionFilter { orphans_only: true, ..ChatSessionFilter::default() },
        None,
        50,
    )
    .await
    .unwrap();
    let mut orphan_ids: Vec<Id> = page.rows.iter().map(|r| r.id.clone()).collect();
    orphan_ids.sort();
    let mut expected = vec![repairable.clone(), hopeless.clone()];
    expected.sort();
    assert_eq!(orphan_ids, expected);
    assert!(page.rows.iter().all(|r| r.is_orphaned()));

    let request = Request::new(
        Operation::new(
            OpKind::RepairOrphanSessions,
            ids(&[repairable.clone(), hopeless.clone(), owned.clone()]),
        ),
        None,
    );
    let confirmed = plan(&db, &admin, request).await.unwrap();
    assert_eq!(confirmed.targets.len(), 1);
    assert_eq!(confirmed.targets[0].new_owner, Some((alice.clone(), "alice".to_string())));
    let reasons: Vec<_> = confirmed.refused.iter().map(|r| (r.id.clone(), r.reason.clone())).collect();
    assert!(reasons.contains(&(hopeless.clone(), FailReason::NoKnownAuthor)), "{reasons:?}");
    assert!(reasons.contains(&(owned, FailReason::NotOrphaned)), "{reasons:?}");
    let outcome = execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(
        count(&db, "select count(*) from {@chat_sessions} s where {s.id} = ? and {s.owner} = ?",
            &[id_arg(&db, Entity::ChatSessions, &repairable), user_arg(&db, &alice)]).await,
        1
    );
    assert_eq!(
        count(&db, "select count(*) from {@chat_messages} m where {m.session} = ?",
            &[id_arg(&db, Entity::ChatSessions, &repairable)]).await,
        4
    );
    let audit = audit_rows(&db, "chat_session.repair").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].details["new_owner"], "alice");
    // Orphans can be deleted like any session.
    let outcome = run(&db, &admin, delete_sessions(&[hopeless])).await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
}
}

// ---------------------------------------------------------------- messages and content

on_schemas! { [reference, fastapi, adminapi]
async fn moderators_delete_private_and_chat_messages_with_the_text_kept_in_audit(db) {
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let pm = private_message(&db, &alice, &bob, "buy cheap pills");
    let pm_id = pm.id.clone();
    Batch {
        private_messages: vec![pm, private_message(&db, &bob, &alice, "hello")],
        ..Batch::default()
    }
    .insert(&db)
    .await
    .unwrap();
    let outcome = run(&db, &moderator, Request::new(
        Operation::new(OpKind::DeletePrivateMessages, ids(&[pm_id])), None)).await.unwrap();
    assert_eq!(outcome.counts.get(&table(&db, Entity::Messages)), 1);
    assert_eq!(count(&db, "select count(*) from {@messages}", &[]).await, 1);
    let audit = audit_rows(&db, "message.delete").await;
    assert_eq!(audit[0].details["content"], "buy cheap pills");
    assert_eq!(audit[0].actor_name, "mod");

    let s = session(&db, Some(alice), None, 3, None).await;
    let first = chat_message_ids(&db, &s).await[0].clone();
    let outcome = run(&db, &moderator, Request::new(
        Operation::new(OpKind::DeleteChatMessages, ids(&[first])), None)).await.unwrap();
    assert_eq!(outcome.counts.get(&table(&db, Entity::ChatMessages)), 1);
    assert_eq!(count(&db, "select count(*) from {@chat_messages}", &[]).await, 2);
    assert_eq!(audit_rows(&db, "chat_message.delete").await[0].details["content"], "message 0");
}
}

// The numbers are the reference schema's version column (comments and reviews both
// start at 1); the platforms without one are in the next test.
on_schemas! { [reference]
async fn comment_edits_check_the_version_and_keep_old_and_new_text(db) {
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let other = operator(&db, "other", Role::Moderator).await;
    let alice = user(&db, "alice").await;
    let (comment, review) = book_with_content(&db, Some(alice)).await;
    let loaded = comments::content_item(&db, ContentKind::Comment, &comment).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.content, "first line\nsecond line");

    // Someone else saves first.
    let theirs = comments::edit(&db, &other, &ContentEdit {
        kind: ContentKind::Comment, id: comment.clone(), expected_version: 1,
        text: "their\ntext".into(), rating: None, reason: None,
    }).await.unwrap();
    assert!(matches!(theirs, EditOutcome::Saved { version: 2, .. }), "{theirs:?}");

    let mine = comments::edit(&db, &moderator, &ContentEdit {
        kind: ContentKind::Comment, id: comment.clone(), expected_version: 1,
        text: "my\ntext".into(), rating: None, reason: None,
    }).await.unwrap();
    let EditOutcome::Conflict { current, yours } = mine else { panic!("expected a conflict: {mine:?}") };
    assert_eq!(current.content, "their\ntext");
    assert_eq!(current.version, 2);
    assert_eq!(yours, "my\ntext");
    let stored = comments::content_item(&db, ContentKind::Comment, &comment).await.unwrap().unwrap();
    assert_eq!(stored.content, "their\ntext");

    // Overwriting knowingly: save against the version now seen.
    let saved = comments::edit(&db, &moderator, &ContentEdit {
        kind: ContentKind::Comment, id: comment.clone(), expected_version: current.version,
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
        kind: ContentKind::Review, id: review.clone(), expected_version: 1,
        text: "better".into(), rating: Some(5), reason: None,
    }).await.unwrap();
    assert!(matches!(review_edit, EditOutcome::Saved { version: 2, .. }), "{review_edit:?}");
    let stored = comments::content_item(&db, ContentKind::Review, &review).await.unwrap().unwrap();
    assert_eq!(stored.rating, Some(5));
    let err = comments::edit(&db, &moderator, &ContentEdit {
        kind: ContentKind::Review, id: review.clone(), expected_version: 2,
        text: "x".into(), rating: Some(6), reason: None,
    }).await.unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)));

    run(&db, &moderator, Request::new(Operation::new(OpKind::DeleteComments, ids(std::slice::from_ref(&comment))), None))
        .await.unwrap();
    let gone = comments::edit(&db, &moderator, &ContentEdit {
        kind: ContentKind::Comment, id: comment, expected_version: 3,
        text: "too late".into(), rating: None, reason: None,
    }).await.unwrap();
    assert_eq!(gone, EditOutcome::Gone { yours: "too late".into() });
    assert_eq!(audit_rows(&db, "comment.delete").await[0].details["content"], "my\ntext");
    let outcome = run(&db, &moderator, Request::new(Operation::new(OpKind::DeleteReviews, ids(&[review])), None))
        .await.unwrap();
    assert_eq!(outcome.counts.get("reviews"), 1);
    assert_eq!(count(&db, "select count(*) from {@reviews}", &[]).await, 0);
}
}

// Versions as loaded, whatever they are: a version column (the reference's, adminapi's
// review `revision` starting at 0) or, without one, a fingerprint of the stored text.
on_schemas! { [reference, fastapi, adminapi]
async fn comment_and_review_edits_catch_a_concurrent_save_with_or_without_a_version_column(db) {
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let other = operator(&db, "other", Role::Moderator).await;
    let alice = user(&db, "alice").await;
    let (comment, review) = book_with_content(&db, Some(alice)).await;
    for (kind, id) in [(ContentKind::Comment, comment), (ContentKind::Review, review)] {
        let versioned = db.schema().unwrap().has(kind.entity(), "version");
        let edit = |text: &str, expected_version: i64, rating: Option<i64>| ContentEdit {
            kind, id: id.clone(), expected_version, text: text.into(), rating, reason: None,
        };
        let loaded = comments::content_item(&db, kind, &id).await.unwrap().unwrap();
        let rating = (kind == ContentKind::Review).then_some(4);

        // Someone else saves first.
        let theirs = comments::edit(&db, &other, &edit("their\ntext", loaded.version, rating)).await.unwrap();
        let EditOutcome::Saved { version: theirs, .. } = theirs else { panic!("{kind:?}: {theirs:?}") };
        assert_ne!(theirs, loaded.version, "{kind:?}");
        if versioned {
            assert_eq!(theirs, loaded.version + 1, "{kind:?}: the version column counts edits");
        }
        let stored = comments::content_item(&db, kind, &id).await.unwrap().unwrap();
        assert_eq!((stored.content.as_str(), stored.version, stored.rating), ("their\ntext", theirs, rating.or(loaded.rating)));

        // Saving against the version loaded before is a conflict that overwrites nothing.
        let mine = comments::edit(&db, &moderator, &edit("my\ntext", loaded.version, None)).await.unwrap();
        let EditOutcome::Conflict { current, yours } = mine else { panic!("{kind:?}: expected a conflict: {mine:?}") };
        assert_eq!((current.content.as_str(), current.version), ("their\ntext", theirs), "{kind:?}");
        assert_eq!(yours, "my\ntext");
        let stored = comments::content_item(&db, kind, &id).await.unwrap().unwrap();
        assert_eq!(stored.content, "their\ntext", "{kind:?}");

        // Against the version now seen it saves.
        let saved = comments::edit(&db, &moderator, &edit("my\ntext", current.version, None)).await.unwrap();
        let EditOutcome::Saved { version: mine, .. } = saved else { panic!("{kind:?}: {saved:?}") };
        assert_ne!(mine, theirs, "{kind:?}");
        let stored = comments::content_item(&db, kind, &id).await.unwrap().unwrap();
        assert_eq!((stored.content.as_str(), stored.version), ("my\ntext", mine), "{kind:?}");
        let again = comments::edit(&db, &moderator, &edit("my\ntext", mine, None)).await.unwrap();
        assert_eq!(again, EditOutcome::Unchanged { version: mine }, "{kind:?}");

        let audit = audit_rows(&db, &format!("{}.edit", kind.as_str())).await;
        assert_eq!(audit.len(), 2, "{kind:?}");
        let last = audit.iter().find(|e| e.actor_name == "mod").unwrap();
        assert_eq!(last.details["old_text"], "their\ntext");
        assert_eq!(last.details["new_text"], "my\ntext");
        assert_eq!(last.details["old_version"], theirs);
        assert_eq!(last.details["new_version"], mine);
    }
    // Listings show a version only where the platform keeps one.
    let content = lists::content(&db, &lists::ContentFilter::default(), None, 10).await.unwrap();
    assert_eq!(content.rows.len(), 2);
    for row in &content.rows {
        let versioned = db.schema().unwrap().has(row.kind.entity(), "version");
        assert_eq!(row.version.is_some(), versioned, "{row:?}");
    }
}
}

// ---------------------------------------------------------------- guilds

on_schemas! { [reference, adminapi]
async fn guild_delete_removes_members_settings_sessions_messages_and_logins_only_of_that_guild(db) {
    let t = |entity| table(&db, entity);
    let admin = operator(&db, "root", Role::Admin).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let doomed = guild(&db, "Doomed", Some(alice.clone())).await;
    let kept = guild(&db, "Kept", Some(alice.clone())).await;
    Batch {
        members: vec![
            NewMember { guild_id: doomed.clone(), user_id: alice.clone(), role: "owner" },
            NewMember { guild_id: doomed.clone(), user_id: bob.clone(), role: "member" },
            NewMember { guild_id: kept.clone(), user_id: bob.clone(), role: "member" },
        ],
        settings: vec![
            NewSetting { guild_id: doomed.clone(), key: "prefix".into(), value: "!".into() },
            NewSetting { guild_id: kept.clone(), key: "prefix".into(), value: "?".into() },
        ],
        app_sessions: vec![
            app_session(&bob, Some(doomed.clone())),
            app_session(&bob, Some(kept.clone())),
            app_session(&bob, None),
        ],
        ..Batch::default()
    }
    .insert(&db)
    .await
    .unwrap();
    session(&db, Some(bob.clone()), Some(doomed.clone()), 5, None).await;
    session(&db, Some(bob), Some(kept), 3, None).await;

    let confirmed = plan(&db, &admin, Request::new(Operation::new(OpKind::DeleteGuilds, ids(&[doomed])), None))
        .await.unwrap();
    let c = &confirmed.counts;
    assert_eq!((c.get(&t(Entity::Guilds)), c.get(&t(Entity::GuildMembers)), c.get(&t(Entity::GuildSettings)),
        c.get(&t(Entity::ChatSessions)), c.get(&t(Entity::ChatMessages)), c.get(&t(Entity::AppSessions))),
        (1, 2, 1, 1, 5, 1), "{c:?}");
    let outcome = execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(count(&db, "select count(*) from {@guilds}", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@guild_members}", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@guild_settings}", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@chat_sessions}", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@chat_messages}", &[]).await, 3);
    assert_eq!(count(&db, "select count(*) from {@app_sessions}", &[]).await, 2);
    assert_eq!(count(&db, "select count(*) from {@users}", &[]).await, 3);
    let audit = audit_rows(&db, "guild.delete").await;
    assert_eq!(audit[0].target_label, "Doomed");
    assert_eq!(audit[0].counts[t(Entity::GuildMembers).as_str()], 2);
}
}

// ---------------------------------------------------------------- users

// The six cases of the bulk-user-delete document, in order, with ids made here.
on_schemas! { [reference, fastapi, adminapi]
async fn bulk_user_delete_replays_the_six_documented_cases(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let moderator = operator(&db, "mod", Role::Moderator).await;
    let u10 = user(&db, "u10").await;
    let u11 = user(&db, "u11").await;
    let u12 = user(&db, "u12").await;
    // 1. Successful bulk delete.
    let outcome = run(&db, &admin, delete_users(&[u10, u11, u12], ContentPolicy::Keep)).await.unwrap();
    assert_eq!(outcome.deleted_count(), 3);
    assert!(outcome.failed.is_empty());
    // 2. Self-deletion prevented, the others proceed.
    let u20 = user(&db, "u20").await;
    let u21 = user(&db, "u21").await;
    let outcome = run(&db, &admin, delete_users(&[admin.id.clone(), u20, u21], ContentPolicy::Keep))
        .await.unwrap();
    assert_eq!(outcome.deleted_count(), 2);
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].id, admin.id);
    assert_eq!(outcome.failed[0].reason, FailReason::Yourself);
    // 3. Authorization.
    let u30 = user(&db, "u30").await;
    let err = run(&db, &moderator, delete_users(std::slice::from_ref(&u30), ContentPolicy::Keep)).await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    // 4. Empty list.
    assert!(matches!(TargetIds::new(vec![]), Err(DataError::Invalid(_))));
    // 5. Unknown ids.
    let (x, y) = (fresh_id(&db, Entity::Users), fresh_id(&db, Entity::Users));
    let outcome = run(&db, &admin, delete_users(&[x.clone(), y], ContentPolicy::Keep)).await.unwrap();
    assert_eq!(outcome.deleted_count(), 0);
    assert_eq!(outcome.failed.len(), 2);
    assert!(outcome.failed.iter().all(|f| f.reason == FailReason::NotFound));
    // 6. Mixed.
    let outcome = run(&db, &admin, delete_users(&[admin.id.clone(), u30.clone(), x], ContentPolicy::Keep))
        .await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(outcome.done[0].id, u30);
    let reasons: Vec<_> = outcome.failed.iter().map(|f| f.reason.clone()).collect();
    assert_eq!(reasons, vec![FailReason::Yourself, FailReason::NotFound]);
    assert_eq!(live_users(&db).await, 2);
    assert_eq!(audit_rows(&db, "user.delete").await.len(), 6);
    assert_eq!(audit_rows(&db, "user.delete.bulk").await.len(), 4);
}
}

/// The seed's cases (`004`, "Testing Requirements") on the platform it was written for,
/// with its literal integer ids, each on a fresh fixture database: what a caller of the
/// seed's endpoint would see is the JSON of the outcome.
mod bulk_user_delete_replays_the_seed_cases_with_their_literal_integer_ids {
    use super::*;

    struct Scene {
        test: TestDb,
        /// User 5, `system_admin`: the operator signed in.
        admin: Actor,
        /// A `customer_admin`: a moderator.
        moderator: Actor,
    }

    /// Operator 5, a moderator (7) and users 10, 11 and 12, under those ids.
    async fn scene(backend: Backend) -> Scene {
        let test = TestDb::on(backend, Platform::FastApi).await;
        let mut rows = Vec::new();
        let mut literal = |id: i64, name: &str, role: Role| {
            let mut row = new_user(&test.db, name, role);
            row.id = Id::Int(id);
            rows.push(row);
            Actor {
                id: Id::Int(id),
                username: name.to_string(),
                role,
            }
        };
        let admin = literal(5, "admin", Role::Admin);
        let moderator = literal(7, "support", Role::Moderator);
        literal(10, "testuser1", Role::User);
        literal(11, "testuser2", Role::User);
        literal(12, "olduser1", Role::User);
        Batch {
            users: rows,
            ..Batch::default()
        }
        .insert(&test.db)
        .await
        .unwrap();
        assert_eq!(role_value(&test.db, Role::Admin), "system_admin");
        assert_eq!(role_value(&test.db, Role::Moderator), "customer_admin");
        Scene {
            test,
            admin,
            moderator,
        }
    }

    /// The request body's `user_ids` as the seed writes them.
    fn user_ids(body: serde_json::Value) -> Result<TargetIds, DataError> {
        let ids: Vec<Id> = serde_json::from_value(body["user_ids"].clone()).unwrap();
        TargetIds::new(ids)
    }

    async fn bulk_delete(
        db: &Db,
        actor: &Actor,
        body: serde_json::Value,
    ) -> Result<Outcome, DataError> {
        let ids = user_ids(body)?;
        run(
            db,
            actor,
            Request::new(Operation::delete_users(ids, ContentPolicy::Keep), None),
        )
        .await
    }

    /// `(id, label)` of the users done, as JSON.
    fn done(outcome: &serde_json::Value) -> Vec<(serde_json::Value, serde_json::Value)> {
        outcome["done"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["id"].clone(), d["label"].clone()))
            .collect()
    }

    /// Users 10, 11 and 12 not (soft-)deleted.
    async fn left_of_10_11_12(db: &Db) -> i64 {
        let sql = format!(
            "select count(*) from {{@users}} u where {{u.id}} in (10, 11, 12){}",
            not_soft_deleted(db)
        );
        count(db, &sql, &[]).await
    }

    async fn body(backend: Backend) {
        // Test 1: successful bulk delete.
        let Scene { test, admin, .. } = scene(backend).await;
        let db = &test.db;
        let outcome = bulk_delete(db, &admin, json!({"user_ids": [10, 11, 12]}))
            .await
            .unwrap();
        assert_eq!(outcome.deleted_count(), 3);
        assert!(outcome.is_complete());
        assert!(outcome.soft_delete, "fastapi soft-deletes its users");
        assert_eq!(
            serde_json::to_value(&outcome.done[0].id).unwrap(),
            json!(10)
        );
        let j = serde_json::to_value(&outcome).unwrap();
        assert_eq!(
            done(&j),
            vec![
                (json!(10), json!("testuser1")),
                (json!(11), json!("testuser2")),
                (json!(12), json!("olduser1")),
            ]
        );
        assert_eq!(j["failed"], json!([]));
        assert_eq!(j["request"]["ids"], json!([10, 11, 12]));
        assert_eq!(j["counts"], json!({"users": 3}));
        assert_eq!(left_of_10_11_12(db).await, 0);
        let per_user = audit_rows(db, "user.delete").await;
        let mut targets: Vec<_> = per_user
            .iter()
            .map(|e| e.target_id.clone().unwrap())
            .collect();
        targets.sort();
        assert_eq!(targets, vec!["10", "11", "12"]);
        assert!(per_user.iter().all(|e| e.actor_id.as_deref() == Some("5")));
        let summary = audit_rows(db, "user.delete.bulk").await;
        assert_eq!(summary[0].details["requested_ids"], json!([10, 11, 12]));
        assert_eq!(summary[0].details["done_ids"], json!([10, 11, 12]));
        test.finish().await;

        // Test 2: the signed-in user 5 is not deleted; 10 and 11 are.
        let Scene { test, admin, .. } = scene(backend).await;
        let db = &test.db;
        let outcome = bulk_delete(db, &admin, json!({"user_ids": [5, 10, 11]}))
            .await
            .unwrap();
        let j = serde_json::to_value(&outcome).unwrap();
        assert_eq!(
            done(&j),
            vec![
                (json!(10), json!("testuser1")),
                (json!(11), json!("testuser2"))
            ]
        );
        assert_eq!(
            j["failed"],
            json!([{"id": 5, "label": "admin", "reason": {"code": "yourself"}}])
        );
        assert_eq!(
            outcome.failed[0].reason.to_string(),
            "cannot delete your own account"
        );
        assert_eq!(left_of_10_11_12(db).await, 1);
        assert_eq!(active_admins(db, &[Id::Int(5)]).await, 1);
        test.finish().await;

        // Test 3: a moderator (customer_admin) is forbidden; nothing changes.
        let Scene {
            test, moderator, ..
        } = scene(backend).await;
        let db = &test.db;
        let request = Request::new(
            Operation::delete_users(
                user_ids(json!({"user_ids": [10]})).unwrap(),
                ContentPolicy::Keep,
            ),
            None,
        );
        let err = plan(db, &moderator, request.clone()).await.unwrap_err();
        assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
        let err = bulk_delete(db, &moderator, json!({"user_ids": [10]}))
            .await
            .unwrap_err();
        assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
        assert_eq!(left_of_10_11_12(db).await, 3);
        assert_eq!(audit_of_changes(db).await, 0);
        let refused = (
            "user.delete.refused".to_string(),
            "support".to_string(),
            Some("10".to_string()),
        );
        assert_eq!(refusals(db).await, vec![refused.clone(), refused]);
        let on_record = audit_rows(db, "user.delete.refused").await;
        assert_eq!(on_record[0].details["requested_ids"], json!([10]));
        test.finish().await;

        // Test 4: an empty list is invalid; nothing changes.
        let Scene { test, admin, .. } = scene(backend).await;
        let db = &test.db;
        let err = bulk_delete(db, &admin, json!({"user_ids": []}))
            .await
            .unwrap_err();
        assert!(matches!(err, DataError::Invalid(_)), "{err:?}");
        assert!(err.to_string().contains("no ids given"), "{err}");
        let none: [&str; 0] = [];
        assert!(matches!(
            TargetIds::parse(&none, IdKind::Integer),
            Err(DataError::Invalid(_))
        ));
        assert_eq!(left_of_10_11_12(db).await, 3);
        assert_eq!(audit_count(db).await, 0);
        test.finish().await;

        // Test 5: unknown ids are both not found.
        let Scene { test, admin, .. } = scene(backend).await;
        let db = &test.db;
        let outcome = bulk_delete(db, &admin, json!({"user_ids": [99999, 88888]}))
            .await
            .unwrap();
        assert_eq!(outcome.deleted_count(), 0);
        let j = serde_json::to_value(&outcome).unwrap();
        assert_eq!(j["done"], json!([]));
        assert_eq!(
            j["failed"],
            json!([
                {"id": 99999, "label": null, "reason": {"code": "not_found"}},
                {"id": 88888, "label": null, "reason": {"code": "not_found"}},
            ])
        );
        assert_eq!(outcome.failed[1].reason.to_string(), "not found");
        assert_eq!(left_of_10_11_12(db).await, 3);
        assert_eq!(count(db, "select count(*) from {@users}", &[]).await, 5);
        test.finish().await;

        // Test 6: mixed: 10 deleted, 5 (yourself) and 99999 (not found) failed.
        let Scene { test, admin, .. } = scene(backend).await;
        let db = &test.db;
        let outcome = bulk_delete(db, &admin, json!({"user_ids": [5, 10, 99999]}))
            .await
            .unwrap();
        assert!(!outcome.is_complete(), "a partial success");
        assert_eq!(outcome.deleted_count(), 1);
        assert_eq!(
            serde_json::to_value(&outcome.done[0].id).unwrap(),
            json!(10)
        );
        let j = serde_json::to_value(&outcome).unwrap();
        assert_eq!(done(&j), vec![(json!(10), json!("testuser1"))]);
        assert_eq!(
            j["failed"],
            json!([
                {"id": 5, "label": "admin", "reason": {"code": "yourself"}},
                {"id": 99999, "label": null, "reason": {"code": "not_found"}},
            ])
        );
        assert_eq!(left_of_10_11_12(db).await, 2);
        let summary = audit_rows(db, "user.delete.bulk").await;
        assert_eq!(summary[0].details["requested_ids"], json!([5, 10, 99999]));
        assert_eq!(summary[0].details["failed"][0]["id"], json!(5));
        assert_eq!(summary[0].details["failed"][1]["reason"], "not found");
        test.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        body(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        body(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        body(Backend::Mysql).await;
    }
}

on_schemas! { [reference, fastapi, adminapi]
async fn user_delete_refuses_service_accounts_and_yourself_per_user_while_the_others_go(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let service = user_with(&db, "sync-bot", |u| u.is_service = true).await;
    let plain = user(&db, "plain").await;
    let outcome = run(&db, &admin, delete_users(&[service.clone(), admin.id.clone(), plain.clone()], ContentPolicy::Keep))
        .await.unwrap();
    assert_eq!(outcome.done.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), vec![plain]);
    let reasons: Vec<_> = outcome.failed.iter().map(|f| (f.id.clone(), f.reason.clone())).collect();
    assert_eq!(reasons, vec![(service, FailReason::ServiceAccount), (admin.id, FailReason::Yourself)]);
    assert_eq!(live_users(&db).await, 2);
}
}

on_schemas! { [reference, fastapi]
async fn user_delete_refuses_protected_and_service_accounts_and_counts_only_active_admins_as_the_last(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let protected = user_with(&db, "owner-account", |u| u.is_protected = true).await;
    let service = user_with(&db, "sync-bot", |u| u.is_service = true).await;
    let plain = user(&db, "plain").await;
    let outcome = run(&db, &admin, delete_users(
        &[protected.clone(), service.clone(), plain.clone(), admin.id.clone()], ContentPolicy::Keep))
        .await.unwrap();
    assert_eq!(outcome.done.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), vec![plain]);
    let reasons: Vec<_> = outcome.failed.iter().map(|f| (f.id.clone(), f.reason.clone())).collect();
    assert_eq!(reasons, vec![
        (protected, FailReason::Protected),
        (service, FailReason::ServiceAccount),
        (admin.id.clone(), FailReason::Yourself),
    ]);

    // Another admin may delete this one, but never the last active one.
    let second = operator(&db, "second", Role::Admin).await;
    set_active(&db, &admin.id, false).await;
    let confirmed = plan(&db, &second, delete_users(std::slice::from_ref(&admin.id), ContentPolicy::Keep))
        .await.unwrap();
    // An inactive admin is not the last active admin.
    assert_eq!(confirmed.targets.len(), 1);
    set_active(&db, &admin.id, true).await;
    let third = operator(&db, "third", Role::Admin).await;
    set_active(&db, &second.id, false).await;
    // Only root and third are active: third may delete root... and root then nobody.
    let outcome = run(&db, &third, delete_users(std::slice::from_ref(&admin.id), ContentPolicy::Keep)).await.unwrap();
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(active_admins(&db, &[]).await, 1);
}
}

// Only the reference schema maps who owns a guild (fastapi has no guilds; adminapi's
// `created_by` is not ownership).
on_schemas! { [reference]
async fn user_delete_refuses_guild_owners_while_the_others_go(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let guild_owner = user(&db, "gowner").await;
    guild(&db, "Owned", Some(guild_owner.clone())).await;
    let plain = user(&db, "plain").await;
    let outcome = run(&db, &admin, delete_users(&[guild_owner.clone(), plain.clone()], ContentPolicy::Keep))
        .await.unwrap();
    assert_eq!(outcome.done.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), vec![plain]);
    let reasons: Vec<_> = outcome.failed.iter().map(|f| (f.id.clone(), f.reason.clone())).collect();
    assert_eq!(reasons, vec![(guild_owner, FailReason::OwnsGuilds { count: 1 })]);
    assert_eq!(count(&db, "select count(*) from {@guilds}", &[]).await, 1);
}
}

on_schemas! { [reference, fastapi]
async fn an_operator_deactivated_between_plan_and_execute_is_refused(db) {
    let target = operator(&db, "target", Role::Admin).await;
    let actor = operator(&db, "actor", Role::Admin).await;
    let confirmed = plan(&db, &actor, delete_users(std::slice::from_ref(&target.id), ContentPolicy::Keep))
        .await.unwrap();
    assert_eq!(confirmed.targets.len(), 1, "two active admins: one may go");
    // Another console deactivates the actor meanwhile: it is refused entirely.
    set_active(&db, &actor.id, false).await;
    let err = execute(&db, &actor, &confirmed).await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    assert_eq!(live_users(&db).await, 2);
    assert_eq!(active_admins(&db, std::slice::from_ref(&target.id)).await, 1);
    assert_eq!(audit_of_changes(&db).await, 0);
    assert_eq!(refusals(&db).await,
        vec![("user.delete.refused".to_string(), "actor".to_string(), Some(target.id.to_string()))]);
}
}

// Two (then three) admins delete each other at the same moment, many times: at least one
// active admin always remains, and exactly the expected number of deletions happen.
on_schemas! { [reference, fastapi, adminapi]
async fn racing_operators_can_never_delete_the_last_active_admins(db) {
    const ROUNDS: usize = 25;
    for round in 0..ROUNDS {
        let a = operator(&db, &format!("a{round}"), Role::Admin).await;
        let b = operator(&db, &format!("b{round}"), Role::Admin).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let race = |actor: Actor, victim: Id| {
            let db = db.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                run(&db, &actor, Request::new(
                    Operation::delete_users(TargetIds::one(victim), ContentPolicy::Keep),
                    None,
                )).await
            })
        };
        let first = race(a.clone(), b.id.clone());
        let second = race(b.clone(), a.id.clone());
        let results = [first.await.unwrap(), second.await.unwrap()];
        let deleted: usize = results.iter().map(|r| r.as_ref().map(|o| o.deleted_count()).unwrap_or(0)).sum();
        for r in &results {
            if let Err(e) = r {
                assert!(matches!(e, DataError::Forbidden(_)), "round {round}: {e:?}");
            }
        }
        let left = active_admins(&db, &[a.id.clone(), b.id.clone()]).await;
        assert_eq!(left, 1, "round {round}: exactly one of the two admins must remain");
        assert_eq!(deleted, 1, "round {round}");
        // The survivor steps down so the next round starts with two fresh admins only.
        retire_admins(&db).await;
    }
    for round in 0..10 {
        let admins = [
            operator(&db, &format!("x{round}"), Role::Admin).await,
            operator(&db, &format!("y{round}"), Role::Admin).await,
            operator(&db, &format!("z{round}"), Role::Admin).await,
        ];
        let barrier = Arc::new(tokio::sync::Barrier::new(3));
        let mut tasks = Vec::new();
        for actor in admins.iter().cloned() {
            let others: Vec<Id> = admins.iter().filter(|o| o.id != actor.id).map(|o| o.id.clone()).collect();
            let db = db.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                run(&db, &actor, Request::new(
                    Operation::delete_users(TargetIds::new(others).unwrap(), ContentPolicy::Keep),
                    None,
                )).await
            }));
        }
        for t in tasks {
            let _ = t.await.unwrap();
        }
        let left = active_admins(&db, &[]).await;
        assert!(left >= 1, "round {round}: no active admin left");
        retire_admins(&db).await;
    }
}
}

// What goes with a deleted user's rows needs a hard delete (fastapi soft-deletes: see the
// soft-delete test) and login sessions (fastapi has none).
on_schemas! { [reference, adminapi]
async fn user_delete_content_policy_keeps_or_deletes_authored_content(db) {
    let t = |entity| table(&db, entity);
    let admin = operator(&db, "root", Role::Admin).await;
    let keeper = user(&db, "keeper").await;
    let purged = user(&db, "purged").await;
    let friend = user(&db, "friend").await;
    let (kept_comment, _) = book_with_content(&db, Some(keeper.clone())).await;
    book_with_content(&db, Some(purged.clone())).await;
    Batch {
        private_messages: vec![
            private_message(&db, &keeper, &friend, "kept"),
            private_message(&db, &purged, &friend, "purged"),
            private_message(&db, &friend, &purged, "to purged"),
        ],
        app_sessions: vec![app_session(&keeper, None)],
        ..Batch::default()
    }.insert(&db).await.unwrap();
    session(&db, Some(keeper.clone()), None, 6, None).await;

    let confirmed = plan(&db, &admin, delete_users(&[keeper], ContentPolicy::Keep)).await.unwrap();
    assert_eq!(confirmed.counts.get(&t(Entity::ChatSessions)), 1);
    assert_eq!(confirmed.counts.get(&t(Entity::ChatMessages)), 6);
    assert_eq!(confirmed.counts.get(&t(Entity::AppSessions)), 1);
    assert_eq!(confirmed.kept.get(&t(Entity::Comments)), 1);
    assert_eq!(confirmed.kept.get(&t(Entity::Messages)), 1);
    execute(&db, &admin, &confirmed).await.unwrap();
    assert_eq!(count(&db, "select count(*) from {@comments} c where {c.id} = ? and {c.author} is null",
        &[id_arg(&db, Entity::Comments, &kept_comment)]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@messages} p where {p.content} = 'kept' and {p.sender} is null", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@chat_sessions}", &[]).await, 0);
    assert_eq!(count(&db, "select count(*) from {@app_sessions}", &[]).await, 0);

    let outcome = run(&db, &admin, delete_users(&[purged], ContentPolicy::Delete)).await.unwrap();
    assert_eq!(outcome.counts.get(&t(Entity::Comments)), 1);
    assert_eq!(outcome.counts.get(&t(Entity::Reviews)), 1);
    assert_eq!(outcome.counts.get(&t(Entity::Messages)), 1);
    assert_eq!(count(&db, "select count(*) from {@comments}", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@reviews}", &[]).await, 1);
    // Messages the purged user received stay, their recipient now unknown.
    assert_eq!(count(&db, "select count(*) from {@messages} p where {p.content} = 'to purged' and {p.recipient} is null", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@messages} p where {p.content} = 'purged'", &[]).await, 0);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn audit_snapshots_survive_the_deletion_of_actor_and_target(db) {
    let first = operator(&db, "first-admin", Role::Admin).await;
    let second = operator(&db, "second-admin", Role::Admin).await;
    let victim = user(&db, "victim").await;
    run(&db, &first, delete_users(std::slice::from_ref(&victim), ContentPolicy::Keep)).await.unwrap();
    run(&db, &second, delete_users(std::slice::from_ref(&first.id), ContentPolicy::Keep)).await.unwrap();
    let rows = audit_rows(&db, "user.delete").await;
    let victim_row = rows.iter().find(|e| e.target_id == Some(victim.to_string())).unwrap();
    assert_eq!(victim_row.actor_name, "first-admin");
    assert_eq!(victim_row.actor_id, Some(first.id.to_string()));
    assert_eq!(victim_row.target_label, "victim");
    let page = list_audit(&db, &AuditFilter { actor: Some("FIRST".into()), ..AuditFilter::default() }, None, 10)
        .await.unwrap();
    assert_eq!(page.rows.len(), 1);
    let page = list_audit(&db, &AuditFilter { target: Some("victim".into()), ..AuditFilter::default() }, None, 10)
        .await.unwrap();
    assert_eq!(page.rows.len(), 1);
}
}

// ---------------------------------------------------------------- soft and hard delete on the platforms

on_schemas! { [reference, fastapi, adminapi]
async fn a_plans_counts_are_exactly_the_rows_that_disappear_when_sessions_and_users_go(db) {
    let db = with_hard_delete(db).await;
    let platform = platform_of(&db);
    let t = |entity| table(&db, entity);
    let admin = operator(&db, "root", Role::Admin).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;

    // Sessions, one of them orphaned.
    let a = session(&db, Some(alice.clone()), None, 4, None).await;
    let b = session(&db, None, None, 3, Some(alice.clone())).await;
    let kept = session(&db, Some(bob.clone()), None, 2, None).await;
    if platform == Platform::FastApi {
        // chat_feedback, unknown to modcon, two cascades below a session.
        let mut messages = chat_message_ids(&db, &a).await;
        messages.extend(chat_message_ids(&db, &kept).await);
        for message in &messages {
            feedback(&db, message, &bob).await;
        }
    }
    let outcome = execute_and_compare(&db, &admin, delete_sessions(&[a, b])).await;
    assert_eq!(outcome.counts.get(&t(Entity::ChatSessions)), 2);
    assert_eq!(outcome.counts.get(&t(Entity::ChatMessages)), 7);
    if platform == Platform::FastApi {
        assert_eq!(outcome.counts.get("chat_feedback"), 4);
    }

    // Users with everything the platform lets them have, under each content policy.
    for policy in [ContentPolicy::Keep, ContentPolicy::Delete] {
        let author = user(&db, &format!("author-{policy:?}")).await;
        let own = session(&db, Some(author.clone()), None, 5, None).await;
        let elsewhere = session(&db, Some(bob.clone()), None, 2, Some(author.clone())).await;
        book_with_content(&db, Some(author.clone())).await;
        book_with_content(&db, Some(bob.clone())).await;
        let mut batch = Batch {
            private_messages: vec![
                private_message(&db, &author, &bob, "sent"),
                private_message(&db, &bob, &author, "received"),
            ],
            ..Batch::default()
        };
        let schema = db.schema().unwrap();
        if schema.is_enabled(Entity::AppSessions) {
            batch.app_sessions = vec![app_session(&author, None), app_session(&bob, None)];
        }
        if schema.is_enabled(Entity::Guilds) {
            let g = guild(&db, &format!("g-{policy:?}"), None).await;
            batch.members = vec![
                NewMember { guild_id: g.clone(), user_id: author.clone(), role: "member" },
                NewMember { guild_id: g, user_id: bob.clone(), role: "member" },
            ];
        }
        batch.insert(&db).await.unwrap();
        if platform == Platform::FastApi {
            // Feedback by the author on their own session (reached through the user and
            // through the session), on bob's session (through the user only), and bob's
            // on the author's session (through the session only).
            let own_messages = chat_message_ids(&db, &own).await;
            let bobs_messages = chat_message_ids(&db, &elsewhere).await;
            for (message, by) in [(&own_messages[0], &author), (&own_messages[1], &author),
                (&bobs_messages[0], &author), (&own_messages[2], &bob)] {
                feedback(&db, message, by).await;
            }
        }
        let outcome = execute_and_compare(&db, &admin, delete_users(&[author], policy)).await;
        assert!(!outcome.soft_delete);
        assert_eq!(outcome.counts.get(&t(Entity::Users)), 1, "{policy:?}");
        assert_eq!(outcome.counts.get(&t(Entity::ChatSessions)), 1, "{policy:?}");
        assert_eq!(outcome.counts.get(&t(Entity::ChatMessages)), 5, "{policy:?}");
        let content = if policy == ContentPolicy::Delete { 1 } else { 0 };
        assert_eq!(outcome.counts.get(&t(Entity::Comments)), content, "{policy:?}");
        assert_eq!(outcome.counts.get(&t(Entity::Reviews)), content, "{policy:?}");
        assert_eq!(outcome.counts.get(&t(Entity::Messages)), content, "{policy:?}");
        if platform == Platform::FastApi {
            assert_eq!(outcome.counts.get("chat_feedback"), 4, "{policy:?}");
        }
    }
    assert_eq!(live_users(&db).await, 3);
}
}

on_schemas! { [reference, adminapi]
async fn a_plans_counts_are_exactly_the_rows_that_disappear_when_a_guild_goes(db) {
    let platform = platform_of(&db);
    let t = |entity| table(&db, entity);
    let admin = operator(&db, "root", Role::Admin).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let doomed = guild(&db, "Doomed", Some(alice.clone())).await;
    let kept = guild(&db, "Kept", Some(alice.clone())).await;
    Batch {
        members: vec![
            NewMember { guild_id: doomed.clone(), user_id: alice.clone(), role: "owner" },
            NewMember { guild_id: doomed.clone(), user_id: bob.clone(), role: "member" },
            NewMember { guild_id: kept.clone(), user_id: bob.clone(), role: "member" },
        ],
        settings: vec![
            NewSetting { guild_id: doomed.clone(), key: "a".into(), value: "1".into() },
            NewSetting { guild_id: doomed.clone(), key: "b".into(), value: "2".into() },
            NewSetting { guild_id: kept.clone(), key: "a".into(), value: "1".into() },
        ],
        app_sessions: vec![app_session(&bob, Some(doomed.clone())), app_session(&bob, Some(kept.clone()))],
        ..Batch::default()
    }.insert(&db).await.unwrap();
    let in_doomed = session(&db, Some(bob.clone()), Some(doomed.clone()), 5, None).await;
    session(&db, Some(alice.clone()), Some(doomed.clone()), 2, None).await;
    session(&db, Some(bob.clone()), Some(kept.clone()), 3, None).await;
    let outside = session(&db, Some(bob.clone()), None, 4, None).await;
    if platform == Platform::AdminApi {
        let g = |id: &Id| id_arg(&db, Entity::Guilds, id);
        // Messages point at their guild too: those of the doomed guild's thread are reached
        // by two paths, one in a thread outside any guild only through its guild_id.
        let threads = |id: &Id| id_arg(&db, Entity::ChatSessions, id);
        db.execute_statement("update chat_messages set guild_id = ? where thread_id = ?",
            &[g(&doomed), threads(&in_doomed)]).await.unwrap();
        let first_outside = chat_message_ids(&db, &outside).await[0].clone();
        db.execute_statement("update chat_messages set guild_id = ? where message_id = ?",
            &[g(&doomed), id_arg(&db, Entity::ChatMessages, &first_outside)]).await.unwrap();
        // corrections cascade from the guild; the platform's own audit rows stay unlinked.
        for guild in [&doomed, &doomed, &kept] {
            db.execute_statement("insert into corrections (guild_id, created_by) values (?, ?)",
                &[g(guild), user_arg(&db, &alice)]).await.unwrap();
        }
        db.execute_statement("insert into admin_audit_log (admin_id, action, guild_id) values ('x', 'guild.update', ?)",
            &[g(&doomed)]).await.unwrap();
    }
    let outcome = execute_and_compare(&db, &admin,
        Request::new(Operation::new(OpKind::DeleteGuilds, ids(&[doomed])), None)).await;
    let c = &outcome.counts;
    let extra = if platform == Platform::AdminApi { 1 } else { 0 };
    assert_eq!((c.get(&t(Entity::Guilds)), c.get(&t(Entity::GuildMembers)), c.get(&t(Entity::GuildSettings)),
        c.get(&t(Entity::ChatSessions)), c.get(&t(Entity::ChatMessages)), c.get(&t(Entity::AppSessions))),
        (1, 2, 2, 2, 7 + extra, 1), "{c:?}");
    if platform == Platform::AdminApi {
        assert_eq!(c.get("corrections"), 2);
        assert_eq!(outcome.kept.get("admin_audit_log"), 1);
        assert_eq!(count(&db, "select count(*) from admin_audit_log where guild_id is null", &[]).await, 1);
    }
    assert_eq!(live_users(&db).await, 3);
}
}

on_schemas! { [fastapi]
async fn soft_delete_marks_and_hides_the_user_keeps_the_row_and_a_deleted_operator_can_no_longer_act(db) {
    let soft = db.schema().unwrap().soft_delete.clone().expect("fastapi soft-deletes its users");
    let by = soft.by.clone().expect("fastapi records who deleted").name;
    let users = table(&db, Entity::Users);
    let admin = operator(&db, "root", Role::Admin).await;
    let victim = user(&db, "victim").await;
    session(&db, Some(victim.clone()), None, 3, None).await;
    let (comment, _) = book_with_content(&db, Some(victim.clone())).await;

    let outcome = run(&db, &admin, delete_users(std::slice::from_ref(&victim), ContentPolicy::Keep)).await.unwrap();
    assert!(outcome.soft_delete);
    assert_eq!(outcome.deleted_count(), 1);
    assert_eq!(outcome.counts, RowCounts::new().with(&users, 1), "only the user's row changes");
    // The row stays, marked: when, by whom, inactive.
    let marked = format!(
        "select count(*) from {{@users}} u where {{u.id}} = ? and u.\"{}\" is not null \
         and u.\"{by}\" = ? and {{u.active}} = ?",
        soft.at.name
    );
    assert_eq!(count(&db, &marked, &[user_arg(&db, &victim), user_arg(&db, &admin.id), Arg::Bool(false)]).await, 1);
    // What was theirs stays theirs.
    assert_eq!(count(&db, "select count(*) from {@chat_sessions} s where {s.owner} = ?", &[user_arg(&db, &victim)]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@chat_messages}", &[]).await, 3);
    assert_eq!(count(&db, "select count(*) from {@comments} c where {c.id} = ? and {c.author} = ?",
        &[id_arg(&db, Entity::Comments, &comment), user_arg(&db, &victim)]).await, 1);
    let audit = audit_rows(&db, "user.delete").await;
    assert_eq!(audit[0].details["soft_delete"], true);

    // Hidden from the user listing unless asked for.
    let names = |rows: &[lists::UserRow]| rows.iter().map(|r| r.username.clone()).collect::<Vec<_>>();
    let listed = lists::users(&db, &UserFilter::default(), None, 50).await.unwrap();
    assert_eq!(names(&listed.rows), vec!["root"]);
    let all = lists::users(&db, &UserFilter { include_deleted: true, ..UserFilter::default() }, None, 50)
        .await.unwrap();
    assert_eq!(names(&all.rows), vec!["root", "victim"]);
    let row = all.rows.iter().find(|r| r.username == "victim").unwrap();
    assert!(row.is_deleted && !row.is_active, "{row:?}");
    assert!(!all.rows[0].is_deleted);

    // A second delete is refused: already deleted.
    let again = plan(&db, &admin, delete_users(std::slice::from_ref(&victim), ContentPolicy::Keep)).await.unwrap();
    assert!(again.targets.is_empty());
    assert_eq!(again.refused[0].reason, FailReason::AlreadyDeleted);
    let again = run(&db, &admin, delete_users(&[victim], ContentPolicy::Keep)).await.unwrap();
    assert_eq!(again.deleted_count(), 0);
    assert_eq!(again.failed[0].reason, FailReason::AlreadyDeleted);
    assert_eq!(audit_rows(&db, "user.delete").await.len(), 1);

    // The delete policy removes what they wrote; their row still only changes.
    let purged = user(&db, "purged").await;
    book_with_content(&db, Some(purged.clone())).await;
    Batch { private_messages: vec![private_message(&db, &purged, &admin.id, "spam")], ..Batch::default() }
        .insert(&db).await.unwrap();
    let outcome = run(&db, &admin, delete_users(std::slice::from_ref(&purged), ContentPolicy::Delete)).await.unwrap();
    assert!(outcome.soft_delete);
    assert_eq!(outcome.counts, RowCounts::new().with(&users, 1)
        .with(&table(&db, Entity::Comments), 1).with(&table(&db, Entity::Reviews), 1)
        .with(&table(&db, Entity::Messages), 1));
    assert_eq!(count(&db, "select count(*) from {@users} u where {u.id} = ?", &[user_arg(&db, &purged)]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@comments} c where {c.author} = ?", &[user_arg(&db, &purged)]).await, 0);
    assert_eq!(count(&db, "select count(*) from {@reviews} r where {r.author} = ?", &[user_arg(&db, &purged)]).await, 0);
    assert_eq!(count(&db, "select count(*) from {@messages} p where {p.sender} = ?", &[user_arg(&db, &purged)]).await, 0);

    // A soft-deleted operator can no longer sign in or act.
    let gone = operator(&db, "gone", Role::Admin).await;
    auth::set_password(&db, "gone", "password1", "cli:test").await.unwrap();
    let signed_in = auth::sign_in(&db, attempt("gone", "password1")).await.unwrap();
    assert_eq!(signed_in.id, gone.id);
    run(&db, &admin, delete_users(std::slice::from_ref(&gone.id), ContentPolicy::Keep)).await.unwrap();
    let err = auth::sign_in(&db, attempt("gone", "password1")).await.unwrap_err();
    assert!(matches!(err, auth::SignInError::Inactive), "{err:?}");
    assert_eq!(err.to_string(), "wrong username or password");
    let s = session(&db, Some(admin.id.clone()), None, 1, None).await;
    let err = run(&db, &signed_in, delete_sessions(&[s])).await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    let err = run(&db, &signed_in, delete_users(std::slice::from_ref(&admin.id), ContentPolicy::Keep)).await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    assert_eq!(count(&db, "select count(*) from {@chat_sessions} s where {s.owner} = ?", &[user_arg(&db, &admin.id)]).await, 1);
    assert_eq!(active_admins(&db, &[]).await, 1);
}
}

on_schemas! { [fastapi]
async fn a_user_with_invoices_is_refused_as_referenced_while_the_others_in_the_request_go(db) {
    let db = with_hard_delete(db).await;
    let admin = operator(&db, "root", Role::Admin).await;
    let payer = user(&db, "payer").await;
    let free = user(&db, "free").await;
    db.execute_statement("insert into invoices (id, user_id, amount_cents) values (?, ?, 100)",
        &[Arg::Int(1), user_arg(&db, &payer)]).await.unwrap();
    let confirmed = plan(&db, &admin, delete_users(&[payer.clone(), free.clone()], ContentPolicy::Keep))
        .await.unwrap();
    assert_eq!(confirmed.targets.iter().map(|t| t.id.clone()).collect::<Vec<_>>(), vec![free.clone()]);
    let outcome = execute(&db, &admin, &confirmed).await.unwrap();
    assert!(!outcome.soft_delete);
    assert_eq!(outcome.done.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), vec![free.clone()]);
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].id, payer);
    match &outcome.failed[0].reason {
        FailReason::Referenced { table, count } => assert_eq!((table.as_str(), *count), ("invoices", 1)),
        other => panic!("expected Referenced by invoices, got {other:?}"),
    }
    assert!(outcome.failed[0].reason.to_string().contains("invoices"));
    assert_eq!(count(&db, "select count(*) from {@users} u where {u.id} = ?", &[user_arg(&db, &payer)]).await, 1);
    assert_eq!(count(&db, "select count(*) from {@users} u where {u.id} = ?", &[user_arg(&db, &free)]).await, 0);
    assert_eq!(count(&db, "select count(*) from invoices", &[]).await, 1);
}
}

// ---------------------------------------------------------------- sign-in

on_schemas! { [reference, fastapi, adminapi]
async fn sign_in_audits_success_and_failure_and_locks_after_five_failures(db) {
    let admin = operator(&db, "Root", Role::Admin).await;
    auth::set_password(&db, "root", "correct horse", "cli:test").await.unwrap();
    let actor = auth::sign_in(&db, attempt("ROOT", "correct horse")).await.unwrap();
    assert_eq!(actor.id, admin.id);
    assert_eq!(actor.role, Role::Admin);
    for _ in 0..4 {
        let err = auth::sign_in(&db, attempt("root", "wrong")).await.unwrap_err();
        assert!(matches!(err, auth::SignInError::WrongCredentials), "{err:?}");
        assert_eq!(err.to_string(), "wrong username or password");
    }
    let err = auth::sign_in(&db, attempt("root", "wrong")).await.unwrap_err();
    assert!(matches!(err, auth::SignInError::Locked { .. }), "{err:?}");
    // Locked: even the right password is refused.
    let err = auth::sign_in(&db, attempt("root", "correct horse")).await.unwrap_err();
    assert!(matches!(err, auth::SignInError::Locked { .. }), "{err:?}");
    assert_eq!(audit_rows(&db, "auth.sign_in").await.len(), 1);
    assert_eq!(audit_rows(&db, "auth.sign_in_failed").await.len(), 6);
    // The lock expires.
    db.execute_statement("update {#modcon_operators} set locked_until = ? where user_id = ?",
        &[Arg::Time(Utc::now() - Duration::minutes(1)), Arg::Text(admin.id.to_string())]).await.unwrap();
    auth::sign_in(&db, attempt("root", "correct horse")).await.unwrap();
    let err = auth::sign_in(&db, attempt("nobody", "whatever")).await.unwrap_err();
    assert!(matches!(err, auth::SignInError::WrongCredentials));
    let set = audit_rows(&db, "auth.password_set").await;
    assert_eq!(set[0].actor_name, "cli:test");
    let stored = count(&db, "select count(*) from {#modcon_operators} where password_hash like ?",
        &[Arg::Text("$argon2id$%".into())]).await;
    assert_eq!(stored, 1);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn a_platform_role_that_is_no_operator_role_cannot_get_a_password_or_sign_in(db) {
    user(&db, "plain").await;
    let err = auth::set_password(&db, "plain", "password1", "cli:test").await.unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)), "{err:?}");
    assert_eq!(count(&db, "select count(*) from {#modcon_operators}", &[]).await, 0);
    // A moderator with a password, later made a plain user by the platform.
    let m = operator(&db, "demoted", Role::Moderator).await;
    auth::set_password(&db, "demoted", "password1", "cli:test").await.unwrap();
    set_role(&db, &m.id, Role::User).await;
    let err = auth::sign_in(&db, attempt("demoted", "password1")).await.unwrap_err();
    assert!(matches!(err, auth::SignInError::RoleNotAllowed), "{err:?}");
    assert_eq!(err.to_string(), "wrong username or password");
    let failed = audit_rows(&db, "auth.sign_in_failed").await;
    assert_eq!(failed[0].details["reason"], "platform role cannot sign in");
    let err = auth::set_password(&db, "demoted", "short", "cli:test").await.unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)));
    let err = auth::set_password(&db, "nobody", "long enough", "cli:test").await.unwrap_err();
    assert!(matches!(err, DataError::NotFound(_)));
}
}

on_schemas! { [reference, fastapi]
async fn inactive_accounts_cannot_sign_in(db) {
    let m = operator(&db, "gone", Role::Moderator).await;
    auth::set_password(&db, "gone", "password1", "cli:test").await.unwrap();
    set_active(&db, &m.id, false).await;
    let err = auth::sign_in(&db, attempt("gone", "password1")).await.unwrap_err();
    assert!(matches!(err, auth::SignInError::Inactive), "{err:?}");
    assert_eq!(err.to_string(), "wrong username or password");
    let failed = audit_rows(&db, "auth.sign_in_failed").await;
    assert_eq!(failed[0].details["reason"], "account inactive");
    assert!(audit_rows(&db, "auth.sign_in").await.is_empty());
}
}

// ---------------------------------------------------------------- listings

on_schemas! { [reference, fastapi, adminapi]
async fn listings_page_by_keyset_without_gaps_or_repeats_and_count_per_row(db) {
    let alice = user(&db, "alice").await;
    for i in 0..23 {
        session(&db, Some(alice.clone()), None, i % 4, None).await;
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = lists::chat_sessions(&db, &ChatSessionFilter::default(), cursor, 5).await.unwrap();
        assert!(page.rows.len() <= 5);
        for row in &page.rows {
            let expected = count(&db, "select count(*) from {@chat_messages} m where {m.session} = ?",
                &[id_arg(&db, Entity::ChatSessions, &row.id)]).await;
            assert_eq!(row.messages, expected);
            assert_eq!(row.owner_name.as_deref(), Some("alice"));
        }
        seen.extend(page.rows.iter().map(|r| (r.created_at, r.id.clone())));
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
}

on_schemas! { [reference, fastapi, adminapi]
async fn filters_are_literal_text_never_sql_or_wildcards(db) {
    let alice = user(&db, "alice").await;
    let plain = session(&db, Some(alice.clone()), None, 0, None).await;
    let percent = session(&db, Some(alice), None, 0, None).await;
    set_column(&db, Entity::ChatSessions, "title", Arg::Text("100% off".into()), &percent).await;
    set_column(&db, Entity::ChatSessions, "title", Arg::Text("100 off".into()), &plain).await;
    let find = |text: &str| ChatSessionFilter { text: Some(text.to_string()), ..ChatSessionFilter::default() };
    let page = lists::chat_sessions(&db, &find("100%"), None, 50).await.unwrap();
    assert_eq!(page.rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), vec![percent]);
    let page = lists::chat_sessions(&db, &find("'; drop table users; --"), None, 50).await.unwrap();
    assert!(page.rows.is_empty());
    assert_eq!(count(&db, "select count(*) from {@users}", &[]).await, 1);
    let page = lists::chat_sessions(&db, &find("ALICE"), None, 50).await.unwrap();
    assert_eq!(page.rows.len(), 2);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn pane_listings_return_rows_with_their_counts(db) {
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    Batch {
        private_messages: vec![private_message(&db, &alice, &bob, "hi bob")],
        ..Batch::default()
    }.insert(&db).await.unwrap();
    session(&db, Some(bob.clone()), None, 7, None).await;
    book_with_content(&db, Some(alice)).await;

    let users = lists::users(&db, &UserFilter::default(), None, 10).await.unwrap();
    let a = users.rows.iter().find(|u| u.username == "alice").unwrap();
    assert_eq!((a.owned_guilds, a.comments, a.reviews, a.messages, a.chat_sessions), (0, 1, 1, 1, 0));
    let b = users.rows.iter().find(|u| u.username == "bob").unwrap();
    assert_eq!((b.comments, b.reviews, b.messages, b.chat_sessions), (0, 0, 0, 1));
    assert!(!a.is_deleted && a.is_active && !a.is_protected && !a.is_service);
    let page1 = lists::users(&db, &UserFilter::default(), None, 1).await.unwrap();
    assert_eq!(page1.rows[0].username, "alice");
    let page2 = lists::users(&db, &UserFilter::default(), page1.next, 1).await.unwrap();
    assert_eq!(page2.rows[0].username, "bob");
    assert!(page2.next.is_none());
    assert_eq!(lists::user_by_name(&db, "BOB").await.unwrap().unwrap().id, bob);

    let pms = lists::private_messages(&db, &lists::PrivateMessageFilter::default(), None, 10).await.unwrap();
    assert_eq!(pms.rows[0].sender_name.as_deref(), Some("alice"));
    assert_eq!(pms.rows[0].recipient_name.as_deref(), Some("bob"));
    assert_eq!(pms.rows[0].excerpt, "hi bob");

    let content = lists::content(&db, &lists::ContentFilter::default(), None, 10).await.unwrap();
    assert_eq!(content.rows.len(), 2);
    let review = content.rows.iter().find(|r| r.kind == ContentKind::Review).unwrap();
    assert_eq!(review.rating, Some(2));
    assert_eq!(review.author_name.as_deref(), Some("alice"));
    assert_eq!(review.book_title, "The Book");
    let only_comments = lists::content(&db, &lists::ContentFilter { kind: Some(ContentKind::Comment),
        ..lists::ContentFilter::default() }, None, 10).await.unwrap();
    assert_eq!(only_comments.rows.len(), 1);
    assert_eq!(only_comments.rows[0].rating, None);
}
}

// The owner's name and their count of owned guilds exist where the map names an owner
// column (the reference schema; not adminapi).
on_schemas! { [reference, adminapi]
async fn guild_listings_return_rows_with_their_counts(db) {
    let has_owner = db.schema().unwrap().has(Entity::Guilds, "owner");
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let g = guild(&db, "Readers", Some(alice)).await;
    Batch {
        members: vec![NewMember { guild_id: g.clone(), user_id: bob.clone(), role: "member" }],
        settings: vec![NewSetting { guild_id: g.clone(), key: "k".into(), value: "v".into() }],
        ..Batch::default()
    }.insert(&db).await.unwrap();
    session(&db, Some(bob), Some(g.clone()), 7, None).await;

    let guilds = lists::guilds(&db, None, None, 10).await.unwrap();
    let row = &guilds.rows[0];
    assert_eq!(row.id, g);
    assert_eq!(row.name, "Readers");
    assert_eq!((row.members, row.chat_sessions, row.messages, row.settings), (1, 1, 7, 1));
    assert_eq!(row.owner_name.as_deref(), has_owner.then_some("alice"));
    let members = lists::guild_members(&db, &g, None, 10).await.unwrap();
    assert_eq!(members.rows[0].username, "bob");
    assert_eq!(lists::guild_settings(&db, &g, 10).await.unwrap()[0].key, "k");
    let users = lists::users(&db, &UserFilter::default(), None, 10).await.unwrap();
    let a = users.rows.iter().find(|u| u.username == "alice").unwrap();
    assert_eq!(a.owned_guilds, i64::from(has_owner));
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn a_read_only_handle_refuses_every_write(db) {
    let admin = operator(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin.id.clone()), None, 1, None).await;
    let read_only = db.reopen(Access::ReadOnly).await.unwrap();
    let confirmed = plan(&read_only, &admin, delete_sessions(&[s])).await.unwrap();
    let err = execute(&read_only, &admin, &confirmed).await.unwrap_err();
    assert!(matches!(err, DataError::ReadOnly), "{err:?}");
    assert!(matches!(read_only.execute_statement("delete from {@chat_sessions}", &[]).await, Err(DataError::ReadOnly)));
    assert_eq!(count(&db, "select count(*) from {@chat_sessions}", &[]).await, 1);
    assert_eq!(audit_count(&db).await, 0);
    read_only.close().await;
}
}

// ---------------------------------------------------------------- the upgrade from the previous release

/// A database made by the previous release (the reference schema's first migration, run
/// by sqlx's own migrator, which also records it) with an operator, their password and
/// failed sign-ins, chat data and audit rows: `migrate` moves credentials and the audit
/// record into modcon's own tables and loses nothing.
mod an_upgraded_reference_database_keeps_its_data_credentials_and_audit_record {
    use super::*;

    struct OldAudit {
        id: i64,
        action: &'static str,
        label: &'static str,
    }

    const OLD_AUDIT: [OldAudit; 3] = [
        OldAudit {
            id: 1,
            action: "chat_session.delete",
            label: "spam — bob",
        },
        OldAudit {
            id: 2,
            action: "auth.sign_in",
            label: "root",
        },
        OldAudit {
            id: 3,
            action: "comment.edit",
            label: "alice on «The Book»",
        },
    ];

    const PASSWORD: &str = "the old password";

    /// Runs the previous release's only migration through sqlx's migrator and writes its
    /// data with its own columns.
    async fn previous_release(test: &TestDb, root: Uuid, plain: Uuid, session: Uuid) {
        let dir =
            std::env::temp_dir().join(format!("modcon-release-1-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let folder = match test.db.backend() {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
            Backend::Mysql => unreachable!("MySQL had no earlier release to upgrade from"),
        };
        std::fs::copy(
            format!("migrations/{folder}/0001_reference_schema.sql"),
            dir.join("0001_reference_schema.sql"),
        )
        .unwrap();
        let migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
        assert_eq!(migrator.iter().count(), 1);
        let hash = auth::hash_password(PASSWORD).await.unwrap();
        let batch = Uuid::new_v4();
        match test.db.backend() {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&test.url).await.unwrap();
                migrator.run(&pool).await.unwrap();
                sqlx::query(
                    "insert into users (id, username, email, role, password_hash, failed_logins) \
                             values (?, 'root', 'root@example.invalid', 'admin', ?, 2)",
                )
                .bind(root.to_string())
                .bind(hash)
                .execute(&pool)
                .await
                .unwrap();
                sqlx::query("insert into users (id, username, role) values (?, 'plain', 'user')")
                    .bind(plain.to_string())
                    .execute(&pool)
                    .await
                    .unwrap();
                sqlx::query("insert into chat_sessions (id, user_id, title) values (?, ?, 'kept')")
                    .bind(session.to_string())
                    .bind(plain.to_string())
                    .execute(&pool)
                    .await
                    .unwrap();
                for n in 0..2 {
                    sqlx::query("insert into chat_messages (id, session_id, role, content) values (?, ?, 'user', ?)")
                        .bind(Uuid::new_v4().to_string()).bind(session.to_string()).bind(format!("message {n}"))
                        .execute(&pool).await.unwrap();
                }
                for row in &OLD_AUDIT {
                    sqlx::query("insert into audit_log (batch_id, actor_id, actor_name, action, target_type, \
                                 target_id, target_label, counts, details) \
                                 values (?, ?, 'root', ?, 'x', ?, ?, '{\"chat_messages\": 3}', '{}')")
                        .bind(batch.to_string()).bind(root.to_string()).bind(row.action)
                        .bind(Uuid::new_v4().to_string()).bind(row.label)
                        .execute(&pool).await.unwrap();
                }
                pool.close().await;
            }
            Backend::Mysql => unreachable!("MySQL had no earlier release"),
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&test.url).await.unwrap();
                migrator.run(&pool).await.unwrap();
                sqlx::query(
                    "insert into users (id, username, email, role, password_hash, failed_logins) \
                             values ($1, 'root', 'root@example.invalid', 'admin', $2, 2)",
                )
                .bind(root)
                .bind(hash)
                .execute(&pool)
                .await
                .unwrap();
                sqlx::query("insert into users (id, username, role) values ($1, 'plain', 'user')")
                    .bind(plain)
                    .execute(&pool)
                    .await
                    .unwrap();
                sqlx::query(
                    "insert into chat_sessions (id, user_id, title) values ($1, $2, 'kept')",
                )
                .bind(session)
                .bind(plain)
                .execute(&pool)
                .await
                .unwrap();
                for n in 0..2 {
                    sqlx::query("insert into chat_messages (id, session_id, role, content) values ($1, $2, 'user', $3)")
                        .bind(Uuid::new_v4()).bind(session).bind(format!("message {n}"))
                        .execute(&pool).await.unwrap();
                }
                for row in &OLD_AUDIT {
                    sqlx::query("insert into audit_log (batch_id, actor_id, actor_name, action, target_type, \
                                 target_id, target_label, counts, details) \
                                 values ($1, $2, 'root', $3, 'x', $4, $5, '{\"chat_messages\": 3}', '{}')")
                        .bind(batch).bind(root).bind(row.action).bind(Uuid::new_v4()).bind(row.label)
                        .execute(&pool).await.unwrap();
                }
                pool.close().await;
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    async fn body(backend: Backend) {
        let test = TestDb::blank(backend).await;
        let (root, plain, chat) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        previous_release(&test, root, plain, chat).await;

        let map = SchemaMap::reference();
        let report = test.db.migrate(&map).await.unwrap();
        assert!(report.reference);
        assert!(
            report.applied.iter().any(|m| m.starts_with("2 ")),
            "{report:?}"
        );
        assert!(
            !report
                .applied
                .iter()
                .any(|m| m.contains("reference schema")),
            "0001 ran again: {report:?}"
        );
        let db = test.db.clone().load_schema(&map).await.unwrap();

        // The platform's data is all there; the old places are gone.
        assert_eq!(count(&db, "select count(*) from {@users}", &[]).await, 2);
        assert_eq!(
            count(
                &db,
                "select count(*) from {@chat_sessions} s where {s.id} = ? and {s.title} = 'kept'",
                &[id_arg(&db, Entity::ChatSessions, &Id::from(chat))]
            )
            .await,
            1
        );
        assert_eq!(
            count(&db, "select count(*) from {@chat_messages}", &[]).await,
            2
        );
        let catalog = db.catalog(None).await.unwrap();
        let users = catalog.table("users").unwrap();
        for gone in ["password_hash", "failed_logins", "locked_until"] {
            assert!(users.column(gone).is_none(), "users.{gone} is still there");
        }
        assert!(
            catalog.table("audit_log").is_none(),
            "audit_log is still there"
        );

        // Credentials moved, failure count included, for the operator only.
        let root_id = Arg::Text(Id::from(root).to_string());
        assert_eq!(
            count(&db, "select count(*) from {#modcon_operators}", &[]).await,
            1
        );
        assert_eq!(
            count(
                &db,
                "select failed_logins from {#modcon_operators} where user_id = ?",
                std::slice::from_ref(&root_id)
            )
            .await,
            2
        );

        // The moved rows are chained by the migration: the chain is intact.
        let chain = modcon::db::audit::verify(&db).await.unwrap();
        assert!(chain.is_intact(), "{chain:?}");
        assert!(chain.rows >= 3, "{chain:?}");
        assert!(
            report.applied.iter().any(|m| m.starts_with("chained ")),
            "{report:?}"
        );

        // Every audit row, under its id, with its action and label.
        let moved = list_audit(&db, &AuditFilter::default(), None, 100)
            .await
            .unwrap()
            .rows;
        let mut moved: Vec<_> = moved
            .iter()
            .map(|e| {
                (
                    e.id,
                    e.action.clone(),
                    e.target_label.clone(),
                    e.actor_id.clone(),
                    e.counts.clone(),
                )
            })
            .collect();
        moved.sort_by_key(|row| row.0);
        let expected: Vec<_> = OLD_AUDIT
            .iter()
            .map(|r| {
                (
                    r.id,
                    r.action.to_string(),
                    r.label.to_string(),
                    Some(Id::from(root).to_string()),
                    json!({"chat_messages": 3}),
                )
            })
            .collect();
        assert_eq!(moved, expected);

        // The old password signs in; the record goes on after the moved rows, append-only.
        let actor = auth::sign_in(&db, attempt("root", PASSWORD)).await.unwrap();
        assert_eq!(actor.id, Id::from(root));
        assert_eq!(actor.role, Role::Admin);
        let newest = list_audit(&db, &AuditFilter::default(), None, 1)
            .await
            .unwrap()
            .rows;
        assert_eq!(newest[0].action, "auth.sign_in");
        assert!(newest[0].id > 3, "{:?}", newest[0]);
        assert_eq!(
            count(
                &db,
                "select failed_logins from {#modcon_operators} where user_id = ?",
                &[root_id]
            )
            .await,
            0
        );
        let update = db
            .execute_statement(
                "update {#modcon_audit_log} set target_label = 'x' where id = 1",
                &[],
            )
            .await;
        assert!(update.is_err(), "{update:?}");
        // Migrating again changes nothing.
        assert!(db.migrate(&map).await.unwrap().applied.is_empty());
        test.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        body(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        body(Backend::Postgres).await;
    }
}

// ---------------------------------------------------------------- rate limits and deadlocks

fn limits(users: u32, guilds: u32, chat_sessions: u32) -> Limits {
    Limits {
        users_per_hour: users,
        guilds_per_hour: guilds,
        chat_sessions_per_hour: chat_sessions,
    }
}

/// An audit row of `action` by `actor` written `ago` before now, as an earlier delete
/// would have left it.
async fn past_delete(db: &Db, actor: &Actor, action: &str, ago: Duration) -> chrono::DateTime<Utc> {
    let at = Utc::now() - ago;
    // modcon gives audit ids itself (the hash chain's order): take the next one.
    let sql = match db.backend() {
        Backend::Postgres => {
            "insert into {#modcon_audit_log} (id, at, batch_id, actor_id, actor_name, action, \
             target_type, target_label) overriding system value values \
             ((select coalesce(max(id), 0) + 1 from {#modcon_audit_log}), ?, ?, ?, ?, ?, \
             'chat_session', 'earlier')"
        }
        Backend::Sqlite => {
            "insert into {#modcon_audit_log} (at, batch_id, actor_id, actor_name, action, \
             target_type, target_label) values (?, ?, ?, ?, ?, 'chat_session', 'earlier')"
        }
        Backend::Mysql => {
            "insert into {#modcon_audit_log} (id, at, batch_id, actor_id, actor_name, action, \
             target_type, target_label) \
             select coalesce(max(id), 0) + 1, ?, ?, ?, ?, ?, 'chat_session', 'earlier' \
             from {#modcon_audit_log}"
        }
    };
    db.execute_statement(
        sql,
        &[
            Arg::Time(at),
            Arg::Uuid(Uuid::new_v4()),
            Arg::Text(actor.id.to_string()),
            Arg::Text(actor.username.clone()),
            Arg::Text(action.to_string()),
        ],
    )
    .await
    .unwrap();
    at
}

async fn sessions_left(db: &Db, list: &[Id]) -> i64 {
    let mut n = 0;
    for id in list {
        n += count(
            db,
            "select count(*) from {@chat_sessions} s where {s.id} = ?",
            &[id_arg(db, Entity::ChatSessions, id)],
        )
        .await;
    }
    n
}

fn near(actual: chrono::DateTime<Utc>, expected: chrono::DateTime<Utc>) -> bool {
    (actual - expected).num_seconds().abs() <= 2
}

on_schemas! { [reference, fastapi, adminapi]
async fn a_batch_over_the_hourly_chat_session_limit_is_refused_whole_and_says_when_the_window_frees_up(db) {
    let db = db.with_limits(limits(0, 0, 3));
    let admin = operator(&db, "root", Role::Admin).await;
    let owner = user(&db, "owner").await;
    let mut s = Vec::new();
    for _ in 0..5 {
        s.push(session(&db, Some(owner.clone()), None, 2, None).await);
    }

    let first = plan(&db, &admin, delete_sessions(&s[..2])).await.unwrap();
    let allowance = first.allowance.expect("a limited operation carries its allowance");
    assert_eq!((allowance.limit, allowance.used, allowance.remaining), (3, 0, 3));
    assert_eq!(allowance.frees_at, None, "nothing counted yet");
    execute(&db, &admin, &first).await.unwrap();

    let second = plan(&db, &admin, delete_sessions(&s[2..4])).await.unwrap();
    let allowance = second.allowance.unwrap();
    assert_eq!((allowance.used, allowance.remaining), (2, 1));
    let audit_before = audit_count(&db).await;
    let err = execute(&db, &admin, &second).await.unwrap_err();
    let DataError::RateLimited { what, limit, used, wanted, frees_at } = &err else {
        panic!("expected a rate-limit refusal, got {err:?}");
    };
    assert_eq!((*what, *limit, *used, *wanted), ("chat sessions", 3, 2, 2));
    // The second of the two counted deletes must leave the hour for two more to fit.
    let frees_at = frees_at.expect("the refusal says when the window frees up");
    assert!(near(frees_at, Utc::now() + Duration::hours(1)), "{frees_at}");
    let text = err.to_string();
    assert!(text.contains("limit of 3 chat sessions per hour") && text.contains("frees up at"), "{text}");
    assert_eq!(sessions_left(&db, &s[2..4]).await, 2, "nothing of the batch was deleted");
    assert_eq!(audit_count(&db).await, audit_before, "and nothing audited");

    // What is left still goes; then nothing is left.
    execute(&db, &admin, &plan(&db, &admin, delete_sessions(&s[2..3])).await.unwrap()).await.unwrap();
    let last = plan(&db, &admin, delete_sessions(&s[3..4])).await.unwrap();
    assert_eq!(last.allowance.unwrap().remaining, 0);
    assert!(matches!(execute(&db, &admin, &last).await, Err(DataError::RateLimited { .. })));

    // The limit is per operator.
    let other = operator(&db, "other", Role::Admin).await;
    let theirs = plan(&db, &other, delete_sessions(&s[3..5])).await.unwrap();
    assert_eq!(theirs.allowance.unwrap().remaining, 3);
    assert_eq!(execute(&db, &other, &theirs).await.unwrap().deleted_count(), 2);

    // Only the last hour counts; a batch larger than the whole cap never fits.
    let third = operator(&db, "third", Role::Admin).await;
    for _ in 0..3 {
        past_delete(&db, &third, "chat_session.delete", Duration::minutes(61)).await;
    }
    let inside = past_delete(&db, &third, "chat_session.delete", Duration::minutes(50)).await;
    past_delete(&db, &third, "user.delete", Duration::minutes(5)).await;
    let more: Vec<Id> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(session(&db, Some(owner.clone()), None, 0, None).await);
        }
        v
    };
    let one = plan(&db, &third, delete_sessions(&more[..1])).await.unwrap();
    let allowance = one.allowance.unwrap();
    assert_eq!((allowance.used, allowance.remaining), (1, 2), "older rows and other actions do not count");
    assert!(near(allowance.frees_at.unwrap(), inside + Duration::hours(1)));
    let too_many = plan(&db, &third, delete_sessions(&more)).await.unwrap();
    let err = execute(&db, &third, &too_many).await.unwrap_err();
    assert!(matches!(err, DataError::RateLimited { wanted: 4, frees_at: None, .. }), "{err:?}");
    assert!(err.to_string().contains("at most 3 at a time"), "{err}");
    assert_eq!(sessions_left(&db, &more).await, 4);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn user_and_guild_deletes_count_against_their_own_hourly_limits(db) {
    let db = db.with_limits(limits(1, 1, 0));
    let admin = operator(&db, "root", Role::Admin).await;
    let a = user(&db, "a").await;
    let b = user(&db, "b").await;
    let s = session(&db, Some(a.clone()), None, 1, None).await;

    let unlimited = plan(&db, &admin, delete_sessions(&[s])).await.unwrap();
    assert_eq!(unlimited.allowance, None, "chat sessions have no limit here");

    let first = plan(&db, &admin, delete_users(&[a], ContentPolicy::Keep)).await.unwrap();
    assert_eq!(first.allowance.unwrap().remaining, 1);
    assert_eq!(execute(&db, &admin, &first).await.unwrap().deleted_count(), 1);
    let err = run(&db, &admin, delete_users(std::slice::from_ref(&b), ContentPolicy::Keep)).await.unwrap_err();
    assert!(matches!(err, DataError::RateLimited { what: "users", limit: 1, used: 1, .. }), "{err:?}");
    assert_eq!(live_users(&db).await, 2, "root and b are left");

    if db.schema().unwrap().is_enabled(Entity::Guilds) {
        let g1 = guild(&db, "one", None).await;
        let g2 = guild(&db, "two", None).await;
        let guilds = |id: &Id| Request::new(Operation::new(OpKind::DeleteGuilds, ids(std::slice::from_ref(id))), None);
        run(&db, &admin, guilds(&g1)).await.unwrap();
        let err = run(&db, &admin, guilds(&g2)).await.unwrap_err();
        assert!(matches!(err, DataError::RateLimited { what: "guilds", .. }), "{err:?}");
        assert_eq!(count(&db, "select count(*) from {@guilds}", &[]).await, 1);
    }
}
}

// Two consoles of one operator execute at the same moment, round after round: the count
// and the delete are serialised per operator, so together they never go over the cap.
both_backends! {
async fn two_consoles_of_one_operator_racing_never_delete_more_than_the_hourly_cap(db) {
    const ROUNDS: usize = 25;
    let db = db.with_limits(limits(0, 0, 3));
    let owner = user(&db, "owner").await;
    for round in 0..ROUNDS {
        // A fresh operator each round starts with a fresh hour.
        let admin = operator(&db, &format!("racer{round}"), Role::Admin).await;
        let mut s = Vec::new();
        for _ in 0..4 {
            s.push(session(&db, Some(owner.clone()), None, 1, None).await);
        }
        let plans = [
            plan(&db, &admin, delete_sessions(&s[..2])).await.unwrap(),
            plan(&db, &admin, delete_sessions(&s[2..])).await.unwrap(),
        ];
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = plans
            .into_iter()
            .map(|confirmed| {
                let (db, admin, barrier) = (db.clone(), admin.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    execute(&db, &admin, &confirmed).await
                })
            })
            .collect();
        let mut deleted = 0;
        let mut refused = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(outcome) => deleted += outcome.deleted_count(),
                Err(DataError::RateLimited { used: 2, wanted: 2, .. }) => refused += 1,
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        assert_eq!((deleted, refused), (2, 1), "round {round}");
        assert_eq!(sessions_left(&db, &s).await, 2, "round {round}");
        let audited = count(
            &db,
            "select count(*) from {#modcon_audit_log} where actor_id = ? and action = 'chat_session.delete'",
            &[Arg::Text(admin.id.to_string())],
        )
        .await;
        assert_eq!(audited, 2, "round {round}: the audit record has what went, within the cap");
    }
}
}

// The errors a database raises when it breaks a deadlock (PostgreSQL: two transactions
// locking two rows in opposite order) or stays busy past its timeout (SQLite: a second
// writer) are a deadlock to the data layer, not "other failure".
both_backends! {
async fn a_real_deadlock_or_busy_error_from_the_database_reads_as_a_deadlock(db) {
    let error: sqlx::Error = match db.backend() {
        Backend::Postgres => postgres_deadlock(&db).await,
        Backend::Sqlite => sqlite_busy(&db).await,
        Backend::Mysql => mysql_deadlock(&db).await,
    };
    let mapped = DataError::from(error);
    assert!(matches!(mapped, DataError::Deadlock(_)), "{mapped:?}");
    assert_eq!(
        mapped.to_string(),
        "the database detected a deadlock with another operation; nothing was changed — try again"
    );
}
}

fn url_of(db: &Db) -> String {
    // The tests' URLs hold no password, so the shown URL is the URL.
    db.display_url()
}

/// Two raw connections update two rows in opposite order; PostgreSQL aborts one.
async fn postgres_deadlock(db: &Db) -> sqlx::Error {
    use sqlx::{Connection, Executor};
    let url = url_of(db);
    let mut a = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut b = sqlx::PgConnection::connect(&url).await.unwrap();
    a.execute("create table deadlock_probe (id int primary key, n int); insert into deadlock_probe values (1, 0), (2, 0)")
        .await
        .unwrap();
    a.execute("begin; update deadlock_probe set n = 1 where id = 1")
        .await
        .unwrap();
    b.execute("begin; update deadlock_probe set n = 1 where id = 2")
        .await
        .unwrap();
    let first = tokio::spawn(async move {
        let r = a
            .execute("update deadlock_probe set n = 2 where id = 2")
            .await;
        (a, r.err())
    });
    // Let the first wait before the second closes the circle.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let second = b
        .execute("update deadlock_probe set n = 2 where id = 1")
        .await
        .err();
    let _ = b.execute("rollback").await;
    let (mut a, first) = first.await.unwrap();
    let _ = a.execute("rollback").await;
    first
        .or(second)
        .expect("PostgreSQL broke the deadlock by failing one of them")
}

/// Two raw connections update two rows in opposite order; InnoDB aborts one.
async fn mysql_deadlock(db: &Db) -> sqlx::Error {
    use sqlx::{Connection, Executor};
    let url = url_of(db);
    let mut a = sqlx::MySqlConnection::connect(&url).await.unwrap();
    let mut b = sqlx::MySqlConnection::connect(&url).await.unwrap();
    a.execute("create table deadlock_probe (id int primary key, n int) engine = InnoDB")
        .await
        .unwrap();
    a.execute("insert into deadlock_probe values (1, 0), (2, 0)")
        .await
        .unwrap();
    a.execute("begin").await.unwrap();
    a.execute("update deadlock_probe set n = 1 where id = 1")
        .await
        .unwrap();
    b.execute("begin").await.unwrap();
    b.execute("update deadlock_probe set n = 1 where id = 2")
        .await
        .unwrap();
    let first = tokio::spawn(async move {
        let r = a
            .execute("update deadlock_probe set n = 2 where id = 2")
            .await;
        (a, r.err())
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let second = b
        .execute("update deadlock_probe set n = 2 where id = 1")
        .await
        .err();
    let _ = b.execute("rollback").await;
    let (mut a, first) = first.await.unwrap();
    let _ = a.execute("rollback").await;
    first
        .or(second)
        .expect("InnoDB broke the deadlock by failing one of them")
}

/// A writer holds SQLite's write lock; a second one with a short busy timeout gives up.
async fn sqlite_busy(db: &Db) -> sqlx::Error {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Executor};
    use std::str::FromStr;
    let url = url_of(db);
    let mut holder = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    holder.execute("begin immediate").await.unwrap();
    let mut waiter = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .busy_timeout(std::time::Duration::from_millis(50))
        .connect()
        .await
        .unwrap();
    let error = waiter.execute("begin immediate").await.unwrap_err();
    holder.execute("rollback").await.unwrap();
    error
}

// PostgreSQL picks the transaction that waited longest as the deadlock's victim: here the
// execute, which holds its operator's lock and waits for a session row that another
// transaction holds while that one asks for the operator's lock. The execute is run once
// more and succeeds; without the retry it would fail.
mod a_transaction_broken_by_a_deadlock_is_run_once_more_and_succeeds {
    use super::*;
    use sqlx::{Connection, Executor, Row as _};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let test = TestDb::postgres().await;
        let db = test.db.clone().with_limits(limits(0, 0, 100));
        let admin = operator(&db, "root", Role::Admin).await;
        let s = session(&db, Some(admin.id.clone()), None, 2, None).await;
        let confirmed = plan(&db, &admin, delete_sessions(std::slice::from_ref(&s)))
            .await
            .unwrap();

        let mut other = sqlx::PgConnection::connect(&test.url).await.unwrap();
        other.execute("begin").await.unwrap();
        // This side never detects the deadlock first: PostgreSQL fails the execute.
        other
            .execute("set local deadlock_timeout = '30s'")
            .await
            .unwrap();
        sqlx::query("select 1 from chat_sessions where id::text = $1 for update")
            .bind(s.to_string())
            .fetch_one(&mut other)
            .await
            .unwrap();

        let task = {
            let (db, admin) = (db.clone(), admin.clone());
            tokio::spawn(async move { execute(&db, &admin, &confirmed).await })
        };
        // Wait until the execute holds its operator lock and waits for the row.
        let mut waited = 0;
        loop {
            let waiting: i64 = sqlx::query(
                "select count(*) from pg_stat_activity where datname = current_database() \
                 and wait_event_type = 'Lock'",
            )
            .fetch_one(&mut other)
            .await
            .unwrap()
            .get(0);
            if waiting > 0 {
                break;
            }
            waited += 1;
            assert!(waited < 200, "the execute never waited for the locked row");
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let held: i64 = sqlx::query(
            "select count(*) from pg_locks l join pg_database d on d.oid = l.database \
             where d.datname = current_database() and l.locktype = 'advisory' and l.granted \
             and l.pid <> pg_backend_pid()",
        )
        .fetch_one(&mut other)
        .await
        .unwrap()
        .get(0);
        assert_eq!(
            held, 1,
            "the execute holds its operator lock while it waits"
        );
        // Close the circle: this returns only once PostgreSQL has failed the execute's
        // transaction, which held the operator lock.
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(modcon::db::limits::operator_lock_key(&admin.id))
            .execute(&mut other)
            .await
            .unwrap();
        other.execute("rollback").await.unwrap();

        let outcome = task.await.unwrap().expect("the second run succeeds");
        assert_eq!(outcome.deleted_count(), 1);
        assert_eq!(sessions_left(&db, &[s]).await, 0);
        assert_eq!(
            audit_rows(&db, "chat_session.delete").await.len(),
            1,
            "audited once"
        );
        test.finish().await;
    }
}

// ---------------------------------------------------------------- bytes that are not UTF-8 (SQLite)

// SQLite stores whatever bytes another program wrote into a text column; PostgreSQL
// refuses invalid UTF-8 on the way in, so these run on SQLite only. One bad row shows `�`
// for its bad bytes and never ends a list, a pane or the audit record at that row.
mod text_that_is_not_utf8_on_sqlite_shows_replacement_characters_and_ends_no_list {
    use super::*;

    const RAW_CSI: &str = "cast(x'7261779b324a' as text)"; // "raw\x9b2J"
    const SURROGATE: &str = "cast(x'eda080' as text)"; // a lone surrogate, UTF-8 encoded

    async fn set_raw(db: &Db, sql: &str, id: &Id) {
        let changed = db
            .execute_statement(sql, &[Arg::Text(id.to_string())])
            .await
            .unwrap();
        assert_eq!(changed, 1, "{sql}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let test = TestDb::sqlite().await;
        let db = test.db.clone();
        let owner = user(&db, "owner").await;
        let mut all = Vec::new();
        for _ in 0..150 {
            all.push(session(&db, Some(owner.clone()), None, 2, None).await);
        }
        let (bad, lone) = (all[75].clone(), all[76].clone());
        set_raw(
            &db,
            &format!("update chat_sessions set title = {RAW_CSI} where id = ?"),
            &bad,
        )
        .await;
        set_raw(
            &db,
            &format!("update chat_sessions set title = {SURROGATE} where id = ?"),
            &lone,
        )
        .await;

        // Chats: all 150 come back, page after page.
        let mut rows = Vec::new();
        let mut cursor = None;
        loop {
            let page = lists::chat_sessions(&db, &ChatSessionFilter::default(), cursor, 40)
                .await
                .unwrap();
            rows.extend(page.rows);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(rows.len(), 150, "every session is listed");
        let title = |id: &Id| rows.iter().find(|r| r.id == *id).unwrap().title.clone();
        assert_eq!(title(&bad), "raw\u{fffd}2J");
        assert!(title(&lone).contains('\u{fffd}'), "{:?}", title(&lone));

        // The session's messages, one of them bad.
        let message = chat_message_ids(&db, &bad).await[0].clone();
        set_raw(
            &db,
            &format!("update chat_messages set content = {RAW_CSI} where id = ?"),
            &message,
        )
        .await;
        let messages = lists::chat_messages(&db, &bad, None, None, 50)
            .await
            .unwrap()
            .rows;
        assert_eq!(messages.len(), 2);
        assert!(
            messages.iter().any(|m| m.excerpt.contains('\u{fffd}')),
            "{messages:?}"
        );

        // The Messages pane: private messages, one bad.
        let other = user(&db, "other").await;
        let good = private_message(&db, &owner, &other, "hello");
        let broken = private_message(&db, &other, &owner, "to be broken");
        let broken_id = broken.id.clone();
        Batch {
            private_messages: vec![good, broken],
            ..Batch::default()
        }
        .insert(&db)
        .await
        .unwrap();
        set_raw(
            &db,
            &format!("update messages set content = {SURROGATE} where id = ?"),
            &broken_id,
        )
        .await;
        let pms = lists::private_messages(&db, &lists::PrivateMessageFilter::default(), None, 50)
            .await
            .unwrap()
            .rows;
        assert_eq!(pms.len(), 2, "both private messages are listed");
        assert!(
            pms.iter().any(|m| m.excerpt.contains('\u{fffd}')),
            "{pms:?}"
        );

        // Deleting the bad session plans, executes and audits with its lossy title.
        let admin = operator(&db, "root", Role::Admin).await;
        let outcome = run(&db, &admin, delete_sessions(std::slice::from_ref(&bad)))
            .await
            .unwrap();
        assert_eq!(outcome.deleted_count(), 1);

        // The audit record: a row with a bad label, one whose counts and details are not
        // JSON (written by hand; the triggers refuse UPDATE, not INSERT).
        db.execute_statement(
            &format!(
                "insert into modcon_audit_log (batch_id, actor_name, action, target_type, \
                 target_label, counts, details) values (?, 'ghost', 'chat_session.delete', \
                 'chat_session', {RAW_CSI}, 'not json', {SURROGATE})"
            ),
            &[Arg::Text(Uuid::new_v4().to_string())],
        )
        .await
        .unwrap();
        let entries = list_audit(&db, &AuditFilter::default(), None, 100)
            .await
            .unwrap()
            .rows;
        assert!(entries.len() >= 2, "{entries:?}");
        let forged = &entries[0];
        assert_eq!(forged.target_label, "raw\u{fffd}2J");
        assert_eq!(forged.counts, json!("not json"), "shown as it is");
        assert!(
            forged
                .details
                .as_str()
                .is_some_and(|d| d.contains('\u{fffd}')),
            "{:?}",
            forged.details
        );
        let ours = entries.iter().find(|e| e.actor_name == "root").unwrap();
        assert!(
            ours.target_label.contains('\u{fffd}'),
            "{}",
            ours.target_label
        );
        test.finish().await;
    }
}

// ---------------------------------------------------------------- sorted lists, read from either end

/// Every row of a listing read forwards from the head, page by page, and backwards from
/// the tail with the page before each time; both must give the same rows in the same
/// order, each once.
macro_rules! both_ways {
    ($fetch:expr) => {{
        let fetch = $fetch;
        let mut forward = Vec::new();
        let mut seek = lists::Seek::First;
        loop {
            let page = fetch(seek.clone()).await.unwrap();
            assert!(page.rows.len() <= 5);
            forward.extend(page.rows);
            match page.next {
                Some(c) => seek = lists::Seek::After(c),
                None => break,
            }
        }
        let mut backward = Vec::new();
        let mut seek = lists::Seek::Last;
        loop {
            let page = fetch(seek.clone()).await.unwrap();
            assert!(page.rows.len() <= 5);
            let mut rows = page.rows;
            rows.extend(backward);
            backward = rows;
            match page.next {
                Some(c) => seek = lists::Seek::Before(c),
                None => break,
            }
        }
        (forward, backward)
    }};
}

/// `keys` in list order are sorted in `descending` order (ties allowed).
fn assert_sorted<K: PartialOrd + std::fmt::Debug>(keys: &[K], descending: bool, what: &str) {
    for pair in keys.windows(2) {
        let in_order = if descending {
            pair[0] >= pair[1]
        } else {
            pair[0] <= pair[1]
        };
        assert!(in_order, "{what}: {:?} then {:?}", pair[0], pair[1]);
    }
}

fn no_repeats<T: Ord + Clone>(ids: &[T]) -> bool {
    let set: BTreeSet<T> = ids.iter().cloned().collect();
    set.len() == ids.len()
}

on_schemas! { [reference, fastapi, adminapi]
async fn sessions_sort_by_each_column_and_read_the_same_from_the_tail_with_a_filter_set(db) {
    use lists::{Order, SessionSort, SortKey};
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    for i in 0..23 {
        let owner = if i % 3 == 0 { bob.clone() } else { alice.clone() };
        let s = session(&db, Some(owner), None, i % 4, None).await;
        // Titles that tie, so the id has to break them.
        set_column(&db, Entity::ChatSessions, "title", Arg::Text(format!("T{}", i % 5)), &s).await;
    }
    for filter in [ChatSessionFilter::default(), ChatSessionFilter { text: Some("ALICE".into()), ..ChatSessionFilter::default() }] {
        let total = lists::count_chat_sessions(&db, &filter).await.unwrap() as usize;
        assert_eq!(total, if filter.text.is_some() { 15 } else { 23 });
        for key in SessionSort::ALL {
            for descending in [true, false] {
                let order = Order { key: *key, descending };
                let (forward, backward) = both_ways!(|seek: lists::Seek<lists::SortCursor>| {
                    let (db, filter) = (db.clone(), filter.clone());
                    async move { lists::chat_sessions_sorted(&db, &filter, order, &seek, 5).await }
                });
                let ids: Vec<Id> = forward.iter().map(|r| r.id.clone()).collect();
                assert_eq!(ids.len(), total, "{order:?}");
                assert!(no_repeats(&ids), "{order:?}");
                assert_eq!(ids, backward.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), "{order:?}");
                let what = format!("{order:?}");
                match key {
                    SessionSort::Created => assert_sorted(&forward.iter().map(|r| r.created_at).collect::<Vec<_>>(), descending, &what),
                    SessionSort::Updated => assert_sorted(&forward.iter().map(|r| r.updated_at).collect::<Vec<_>>(), descending, &what),
                    SessionSort::Messages => assert_sorted(&forward.iter().map(|r| r.messages).collect::<Vec<_>>(), descending, &what),
                    SessionSort::Title => assert_sorted(&forward.iter().map(|r| r.title.to_lowercase()).collect::<Vec<_>>(), descending, &what),
                }
            }
        }
    }
    // The old entry point still pages newest first.
    let newest = lists::chat_sessions(&db, &ChatSessionFilter::default(), None, 3).await.unwrap();
    let sorted = lists::chat_sessions_sorted(&db, &ChatSessionFilter::default(), Order::default(), &lists::Seek::First, 3).await.unwrap();
    assert_eq!(newest.rows, sorted.rows);
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn the_last_page_is_the_oldest_rows_in_list_order(db) {
    let alice = user(&db, "alice").await;
    let mut made = Vec::new();
    for _ in 0..12 {
        made.push(session(&db, Some(alice.clone()), None, 0, None).await);
    }
    let all = lists::chat_sessions(&db, &ChatSessionFilter::default(), None, 50).await.unwrap().rows;
    let last = lists::chat_sessions_sorted(&db, &ChatSessionFilter::default(), lists::Order::default(), &lists::Seek::Last, 5).await.unwrap();
    assert_eq!(last.rows, all[7..].to_vec(), "the five oldest, newest of them first");
    assert!(last.next.is_some(), "there are rows before them");
    let before = lists::chat_sessions_sorted(&db, &ChatSessionFilter::default(), lists::Order::default(), &lists::Seek::Before(last.next.unwrap()), 5).await.unwrap();
    assert_eq!(before.rows, all[2..7].to_vec());
}
}

on_schemas! { [reference, fastapi, adminapi]
async fn users_content_messages_guilds_and_audit_sort_and_read_from_the_tail(db) {
    use lists::{ContentSort, Order, SortKey, UserSort};
    let admin = operator(&db, "zed-admin", Role::Admin).await;
    let mut people = Vec::new();
    for name in ["carol", "Bob", "alice", "dave", "Eve", "frank", "gina"] {
        people.push(user(&db, name).await);
    }
    for (i, p) in people.iter().enumerate() {
        book_with_content(&db, Some(p.clone())).await;
        Batch {
            private_messages: vec![private_message(&db, p, &admin.id, &format!("pm {i}"))],
            ..Batch::default()
        }.insert(&db).await.unwrap();
        if db.schema().unwrap().is_enabled(Entity::Guilds) {
            guild(&db, &format!("guild {i}"), None).await;
        }
    }
    let users_total = lists::count_users(&db, &UserFilter::default()).await.unwrap() as usize;
    let user_times = db.schema().unwrap().has(Entity::Users, "created_at");
    for key in UserSort::ALL.iter().filter(|k| user_times || **k != UserSort::Created) {
        for descending in [true, false] {
            let order = Order { key: *key, descending };
            let (forward, backward) = both_ways!(|seek: lists::Seek<lists::SortCursor>| {
                let db = db.clone();
                async move { lists::users_sorted(&db, &UserFilter::default(), order, &seek, 5).await }
            });
            let ids: Vec<Id> = forward.iter().map(|r| r.id.clone()).collect();
            assert_eq!(ids.len(), users_total, "{order:?}");
            assert!(no_repeats(&ids));
            assert_eq!(ids, backward.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), "{order:?}");
            if *key == UserSort::Name {
                assert_sorted(&forward.iter().map(|r| r.username.to_lowercase()).collect::<Vec<_>>(), descending, "names");
            }
            if *key == UserSort::Created {
                assert_sorted(&forward.iter().map(|r| r.created_at).collect::<Vec<_>>(), descending, "created");
            }
        }
    }
    let content_total = lists::count_content(&db, &lists::ContentFilter::default()).await.unwrap() as usize;
    assert_eq!(content_total, 14);
    let only_reviews = lists::ContentFilter { kind: Some(ContentKind::Review), ..lists::ContentFilter::default() };
    assert_eq!(lists::count_content(&db, &only_reviews).await.unwrap(), 7);
    for key in ContentSort::ALL {
        for descending in [true, false] {
            let order = Order { key: *key, descending };
            let (forward, backward) = both_ways!(|seek: lists::Seek<lists::SortCursor>| {
                let db = db.clone();
                async move { lists::content_sorted(&db, &lists::ContentFilter::default(), order, &seek, 5).await }
            });
            let keys: Vec<(String, String)> = forward.iter().map(|r| (r.kind.as_str().to_string(), r.id.to_string())).collect();
            assert_eq!(keys.len(), content_total, "{order:?}");
            assert!(no_repeats(&keys));
            assert_eq!(keys, backward.iter().map(|r| (r.kind.as_str().to_string(), r.id.to_string())).collect::<Vec<_>>(), "{order:?}");
            if *key == ContentSort::Author {
                assert_sorted(&forward.iter().map(|r| r.author_name.clone().unwrap_or_default().to_lowercase()).collect::<Vec<_>>(), descending, "authors");
            }
        }
    }
    let pm_total = lists::count_private_messages(&db, &lists::PrivateMessageFilter::default()).await.unwrap() as usize;
    let (forward, backward) = both_ways!(|seek: lists::Seek<lists::SortCursor>| {
        let db = db.clone();
        async move { lists::private_messages_seek(&db, &lists::PrivateMessageFilter::default(), &seek, 5).await }
    });
    assert_eq!(forward.len(), pm_total);
    assert_eq!(forward, backward);
    if db.schema().unwrap().is_enabled(Entity::Guilds) {
        let (forward, backward) = both_ways!(|seek: lists::Seek<lists::SortCursor>| {
            let db = db.clone();
            async move { lists::guilds_seek(&db, None, &seek, 5).await }
        });
        assert_eq!(forward.len() as i64, lists::count_guilds(&db, None).await.unwrap());
        assert_eq!(forward.len(), 7);
        assert_eq!(forward, backward);
    }

    // Each user delete leaves audit rows; the record sorts and pages like the rest.
    for p in &people[..4] {
        run(&db, &admin, delete_users(std::slice::from_ref(p), ContentPolicy::Keep)).await.unwrap();
    }
    let audit_total = modcon::db::audit::count_audit(&db, &AuditFilter::default()).await.unwrap() as usize;
    assert!(audit_total >= 4);
    for key in modcon::db::audit::AuditSort::ALL {
        for descending in [true, false] {
            let order = Order { key: *key, descending };
            let (forward, backward) = both_ways!(|seek: lists::Seek<lists::SortCursor>| {
                let db = db.clone();
                async move { modcon::db::audit::list_audit_sorted(&db, &AuditFilter::default(), order, &seek, 5).await }
            });
            let ids: Vec<i64> = forward.iter().map(|e| e.id).collect();
            assert_eq!(ids.len(), audit_total, "{order:?}");
            assert!(no_repeats(&ids));
            assert_eq!(ids, backward.iter().map(|e| e.id).collect::<Vec<_>>());
            if *key == modcon::db::audit::AuditSort::Action {
                assert_sorted(&forward.iter().map(|e| e.action.clone()).collect::<Vec<_>>(), descending, "actions");
            }
        }
    }
    let newest = list_audit(&db, &AuditFilter::default(), None, 100).await.unwrap();
    let newest_id = newest.rows[0].id;
    let since = modcon::db::audit::audit_since(&db, &AuditFilter::default(), newest.rows[2].id, 10).await.unwrap();
    assert_eq!(since.iter().map(|e| e.id).collect::<Vec<_>>(), vec![newest.rows[1].id, newest_id], "only the newer rows, oldest first");
}
}
