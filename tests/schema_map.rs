//! The schema map against real databases (SPEC §8): the two platform fixtures written
//! from the design notes, maps with one mistake each, `schema init`'s draft, and plans
//! computed from the live foreign keys compared with what a real delete removes. Every
//! test body runs on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::TestDb;
use modcon::db::model::RowCounts;
use modcon::db::{Backend, DataError, Db, Entity, Id, SchemaMap};

fn fixture_sql(name: &str, backend: Backend) -> String {
    let file = common::fixture_file(backend);
    std::fs::read_to_string(format!("tests/fixtures/{name}/{file}")).expect("fixture sql")
}

fn map_of(path: &str) -> SchemaMap {
    let text = std::fs::read_to_string(path).expect("map file");
    modcon::config::parse(&text)
        .expect("the map parses")
        .schema_map()
        .expect("the map is well formed")
}

async fn fixture(name: &str, backend: Backend) -> TestDb {
    let test = TestDb::blank(backend).await;
    test.run_script(&fixture_sql(name, backend)).await;
    test
}

/// Runs the same body on both backends.
macro_rules! on_both {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            use super::*;

            async fn body($backend: Backend) $body

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
    )*};
}

async fn problems(db: &Db, map: &SchemaMap) -> Vec<String> {
    match db.check_map(map).await {
        Err(DataError::Schema(problems)) => problems,
        Ok(_) => panic!("the map was accepted"),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Rows per table of the whole database (the platform's tables).
async fn table_sizes(db: &Db) -> BTreeMap<String, i64> {
    let catalog = db.catalog(None).await.unwrap();
    let mut sizes = BTreeMap::new();
    for table in catalog.tables.keys() {
        let sql: &'static str =
            Box::leak(format!("select count(*) from \"{table}\"").into_boxed_str());
        sizes.insert(
            table.clone(),
            db.query_i64(sql, &[]).await.unwrap().unwrap_or(0),
        );
    }
    sizes
}

/// What disappeared between two snapshots, per table.
fn removed(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> RowCounts {
    let mut gone = RowCounts::new();
    for (table, n) in before {
        gone.add(table, n - after.get(table).copied().unwrap_or(0));
    }
    gone
}

async fn exec(db: &Db, sql: &'static str) {
    db.execute_statement(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

on_both! {
    async fn both_fixture_maps_fit_their_schemas_with_ids_typed_from_the_catalog(backend) {
        let fast = fixture("fastapi", backend).await;
        let schema = fast
            .db
            .check_map(&map_of("tests/fixtures/fastapi/map.toml"))
            .await
            .unwrap();
        assert_eq!(schema.id_kind(Entity::Users), modcon::db::IdKind::Integer);
        assert!(!schema.is_enabled(Entity::Guilds));
        assert!(schema.soft_delete.is_some());
        assert!(!schema.has(Entity::Comments, "version"));
        let expected_session_ids = match backend {
            Backend::Postgres => modcon::db::IdKind::Uuid,
            Backend::Sqlite | Backend::Mysql => modcon::db::IdKind::Text,
        };
        assert_eq!(schema.id_kind(Entity::ChatSessions), expected_session_ids);
        fast.finish().await;

        let admin = fixture("adminapi", backend).await;
        let schema = admin
            .db
            .check_map(&map_of("tests/fixtures/adminapi/map.toml"))
            .await
            .unwrap();
        assert_eq!(schema.id_kind(Entity::Guilds), modcon::db::IdKind::Text);
        assert_eq!(schema.table_name(Entity::GuildMembers), "user_guilds");
        assert_eq!(schema.admin_roles, vec!["SOFTWARE_ADMIN", "platform_admin"]);
        admin.finish().await;
    }

    async fn a_map_with_a_typo_a_missing_column_or_a_wrong_type_gets_one_clear_line(backend) {
        let test = fixture("fastapi", backend).await;
        let typo = problems(&test.db, &map_of("tests/fixtures/broken/typo.toml")).await;
        assert_eq!(typo.len(), 1, "{typo:#?}");
        assert!(typo[0].starts_with("schema.users.table = \"usres\": no such table"), "{}", typo[0]);
        assert!(typo[0].contains("did you mean users?"), "{}", typo[0]);

        let missing = problems(&test.db, &map_of("tests/fixtures/broken/missing_column.toml")).await;
        assert_eq!(
            missing,
            vec!["schema.users.username = \"user_name\": no column user_name in table users \
                  (did you mean username?)"
                .to_string()]
        );

        let wrong = problems(&test.db, &map_of("tests/fixtures/broken/wrong_type.toml")).await;
        assert_eq!(wrong.len(), 1, "{wrong:#?}");
        // The type as the database declares it.
        let declared = match backend {
            Backend::Mysql => "tinyint(1)",
            Backend::Postgres | Backend::Sqlite => "boolean",
        };
        assert!(
            wrong[0].starts_with(&format!(
                "schema.chat_sessions.created_at = \"is_active\": column chat_sessions.is_active is {declared}"
            )) && wrong[0].ends_with("expected a timestamp"),
            "{}",
            wrong[0]
        );
        test.finish().await;
    }

    async fn the_reference_map_fails_on_a_platform_schema_naming_every_missing_table(backend) {
        let test = fixture("adminapi", backend).await;
        let lines = problems(&test.db, &SchemaMap::reference()).await;
        // adminapi names its tables its own way: each missing one is its own line.
        for table in ["guild_members", "chat_sessions", "messages", "comments", "reviews", "app_sessions"] {
            assert!(
                lines.iter().any(|l| l.contains(&format!("(table {table}): no such table"))),
                "{table} not named in {lines:#?}"
            );
        }
        test.finish().await;
    }

    async fn schema_init_drafts_a_map_that_the_checker_accepts(backend) {
        let test = fixture("fastapi", backend).await;
        let catalog = test.db.catalog(None).await.unwrap();
        let draft = modcon::db::schema::draft_map(&catalog);
        assert!(draft.contains("role = \"role_name\""), "{draft}");
        assert!(draft.contains("soft_delete = { at = \"deleted_at\", by = \"deleted_by\" }"), "{draft}");
        let map = modcon::config::parse(&draft).unwrap().schema_map().unwrap();
        test.db.check_map(&map).await.unwrap();
        test.finish().await;
    }

    async fn schema_show_prints_every_foreign_key_with_its_action(backend) {
        let test = fixture("adminapi", backend).await;
        let schema = test
            .db
            .check_map(&map_of("tests/fixtures/adminapi/map.toml"))
            .await
            .unwrap();
        let shown = modcon::db::schema::render_graph(&schema);
        assert!(shown.contains("← corrections(guild_id) on delete cascade   (not in the map)"), "{shown}");
        assert!(shown.contains("← chat_messages(author_user_id) on delete set null"), "{shown}");
        assert!(shown.contains("guild_members   user_guilds"), "{shown}");
        test.finish().await;
    }

    async fn a_guild_plan_counts_every_cascaded_table_and_matches_what_a_real_delete_removes(backend) {
        let test = fixture("adminapi", backend).await;
        let db = &test.db;
        for sql in [
            "insert into users (user_id, handle) values ('u-1', 'ann'), ('u-2', 'bob')",
            "insert into guilds (guild_id, guild_name, created_by) values ('g-1', 'one', 'u-1'), ('g-2', 'two', 'u-2')",
            "insert into user_guilds (user_id, guild_id) values ('u-1', 'g-1'), ('u-2', 'g-1'), ('u-2', 'g-2')",
            "insert into guild_settings (guild_id, setting_key) values ('g-1', 'a'), ('g-1', 'b'), ('g-2', 'a')",
            "insert into corrections (correction_id, guild_id, created_by) values (1, 'g-1', 'u-1'), (2, 'g-1', 'u-2'), (3, 'g-2', 'u-1')",
            "insert into chat_threads (thread_id, guild_id, owner_user_id) values (10, 'g-1', 'u-1'), (11, 'g-1', null), (12, 'g-2', 'u-2'), (13, null, 'u-1')",
            // Messages reach the guild twice: through their thread and directly.
            "insert into chat_messages (message_id, thread_id, guild_id, body) values \
             (100, 10, 'g-1', 'x'), (101, 10, 'g-1', 'x'), (102, 11, null, 'x'), (103, 12, 'g-2', 'x'), (104, 13, 'g-1', 'x')",
            "insert into user_sessions (user_id, guild_id) values ('u-1', 'g-1'), ('u-2', null)",
            "insert into admin_audit_log (id, admin_id, action, guild_id) values (1, 'u-1', 'x', 'g-1')",
        ] {
            exec(db, sql).await;
        }
        let schema = db.check_map(&map_of("tests/fixtures/adminapi/map.toml")).await.unwrap();
        let impact = db
            .delete_impact(&schema, Entity::Guilds, &[Id::from("g-1")])
            .await
            .unwrap();
        let expected: RowCounts = [
            ("guilds", 1),
            ("user_guilds", 2),
            ("guild_settings", 2),
            ("corrections", 2),
            ("chat_threads", 2),
            // 100, 101 and 102 through threads 10 and 11; 104 directly (its thread stays).
            ("chat_messages", 4),
            ("user_sessions", 1),
        ]
        .into_iter()
        .fold(RowCounts::new(), |c, (t, n)| c.with(t, n));
        assert_eq!(impact.total, expected);
        assert_eq!(impact.total_kept, RowCounts::new().with("admin_audit_log", 1));
        assert!(impact.blockers.is_empty());

        let before = table_sizes(db).await;
        exec(db, "delete from guilds where guild_id = 'g-1'").await;
        let after = table_sizes(db).await;
        assert_eq!(removed(&before, &after), impact.total);
        test.finish().await;
    }

    async fn a_restricting_reference_refuses_its_target_and_names_the_table(backend) {
        let test = fixture("fastapi", backend).await;
        let db = &test.db;
        for sql in [
            "insert into users (id, username, email) values (10, 'u10', 'u10@x'), (11, 'u11', 'u11@x'), (12, 'u12', 'u12@x')",
            "insert into invoices (id, user_id, amount_cents) values (1, 11, 500)",
        ] {
            exec(db, sql).await;
        }
        let mut map = map_of("tests/fixtures/fastapi/map.toml");
        map.soft_delete = None;
        let schema = db.check_map(&map).await.unwrap();
        let impact = db
            .delete_impact(&schema, Entity::Users, &[Id::Int(10), Id::Int(11), Id::Int(12)])
            .await
            .unwrap();
        assert_eq!(impact.blockers.len(), 1, "{:?}", impact.blockers);
        assert_eq!(impact.blockers.get(&Id::Int(11)), Some(&("invoices".to_string(), 1)));
        // And the database agrees: deleting that user is refused.
        assert!(db.execute_statement("delete from users where id = 11", &[]).await.is_err());
        test.finish().await;
    }

    async fn a_user_plan_counts_tables_reached_twice_once_and_keeps_what_set_null_unlinks(backend) {
        let test = fixture("fastapi", backend).await;
        let db = &test.db;
        let session = "5b0d3a4e-0000-4000-8000-000000000001";
        let other = "5b0d3a4e-0000-4000-8000-000000000002";
        for sql in [
            "insert into users (id, username, email) values (10, 'u10', 'u10@x'), (11, 'u11', 'u11@x')",
            "insert into users (id, username, email, deleted_by) values (12, 'u12', 'u12@x', 10)",
        ] {
            exec(db, sql).await;
        }
        let sessions: &'static str = Box::leak(
            format!(
                "insert into chat_sessions (id, user_id) values ('{session}', 10), ('{other}', 11)"
            )
            .into_boxed_str(),
        );
        exec(db, sessions).await;
        let messages: &'static str = Box::leak(
            format!(
                "insert into chat_messages (id, session_id, user_id, role, content) values \
                 (1, '{session}', 10, 'user', 'a'), (2, '{session}', null, 'assistant', 'b'), \
                 (3, '{other}', 10, 'user', 'c'), (4, '{other}', 11, 'user', 'd')"
            )
            .into_boxed_str(),
        );
        exec(db, messages).await;
        // Feedback reaches user 10 directly and through session → message.
        exec(db, "insert into chat_feedback (id, message_id, user_id, score) values (1, 1, 10, 1), (2, 4, 10, 1), (3, 4, 11, 1)").await;
        let mut map = map_of("tests/fixtures/fastapi/map.toml");
        map.soft_delete = None;
        let schema = db.check_map(&map).await.unwrap();
        let impact = db
            .delete_impact(&schema, Entity::Users, &[Id::Int(10)])
            .await
            .unwrap();
        // Per target too: one target, so its counts are the totals, each row once.
        assert_eq!(impact.counts.get(&Id::Int(10)), Some(&impact.total));
        assert_eq!(impact.kept.get(&Id::Int(10)), Some(&impact.total_kept));
        assert_eq!(impact.total.get("chat_feedback"), 2);
        assert_eq!(impact.total.get("chat_messages"), 2);
        // Message 3 (user 10's, in someone else's session) stays without its author; so
        // does user 12's deleted_by.
        assert_eq!(impact.total_kept.get("chat_messages"), 1);
        assert_eq!(impact.total_kept.get("users"), 1);

        let before = table_sizes(db).await;
        exec(db, "delete from users where id = 10").await;
        let after = table_sizes(db).await;
        assert_eq!(removed(&before, &after), impact.total);
        test.finish().await;
    }
}

mod reference {
    use super::*;

    async fn body(test: TestDb, expected_users: modcon::db::IdKind) {
        let db = &test.db;
        let schema = db.check_map(&SchemaMap::reference()).await.unwrap();
        assert!(schema.reference);
        assert_eq!(schema.id_kind(Entity::Users), expected_users);
        let owner = common::user(db, "owner").await;
        let other = common::user(db, "other").await;
        common::session(db, Some(owner.clone()), None, 7, None).await;
        common::session(db, Some(other), None, 3, Some(owner.clone())).await;
        let impact = db
            .delete_impact(&schema, Entity::Users, std::slice::from_ref(&owner))
            .await
            .unwrap();
        assert_eq!(impact.total.get("chat_messages"), 7);
        // The owner's two messages in the other session stay, without their author.
        assert_eq!(impact.total_kept.get("chat_messages"), 2);
        let before = table_sizes(db).await;
        db.execute_statement(
            "delete from {@users} as u where {u.id} = ?",
            &[modcon::db::Arg::Id(modcon::db::IdKind::Uuid, Some(owner))],
        )
        .await
        .unwrap();
        assert_eq!(removed(&before, &table_sizes(db).await), impact.total);
        test.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_reference_schema_needs_no_map_and_its_plans_match_real_deletes_on_sqlite() {
        body(TestDb::sqlite().await, modcon::db::IdKind::Uuid).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_reference_schema_needs_no_map_and_its_plans_match_real_deletes_on_postgres() {
        body(TestDb::postgres().await, modcon::db::IdKind::Uuid).await;
    }
}

/// The real binary: `schema check` prints one line per problem on stderr and exits 2;
/// `schema show` and `init` print to stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_commands_run_from_the_shell_with_their_exit_codes() {
    let test = fixture("fastapi", Backend::Sqlite).await;
    let data_dir =
        std::env::temp_dir().join(format!("modcon-schema-{}", uuid::Uuid::new_v4().simple()));
    let run = |config: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_modcon"))
            .env("MODCON_DATA_DIR", &data_dir)
            .env_remove("DATABASE_URL")
            .args(["--config", config, "--database-url", &test.url])
            .args(args)
            .output()
            .expect("run modcon")
    };
    let ok = run("tests/fixtures/fastapi/map.toml", &["schema", "check"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = run(
        "tests/fixtures/broken/missing_column.toml",
        &["schema", "check"],
    );
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("schema.users.username = \"user_name\""),
        "{stderr}"
    );
    let show = run("tests/fixtures/fastapi/map.toml", &["schema", "show"]);
    let stdout = String::from_utf8_lossy(&show.stdout);
    assert!(
        stdout.contains("← invoices(user_id) on delete restrict   (not in the map)"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
    test.finish().await;
}

/// The moderation commands on a mapped platform schema, from the shell: ids are the
/// platform's integers (a malformed one is named, nothing happens), and the JSON of the
/// bulk-user-delete design note carries them as numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_delete_from_the_shell_takes_the_platforms_integer_ids() {
    use modcon::db::insert::Batch;
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let test = common::TestDb::on(backend, common::Platform::FastApi).await;
        let db = &test.db;
        let mut admin = common::new_user(db, "root", modcon::db::Role::Admin);
        admin.id = Id::Int(5);
        let mut users = vec![admin];
        for n in [10, 11, 12] {
            let mut user = common::new_user(db, &format!("user{n}"), modcon::db::Role::User);
            user.id = Id::Int(n);
            users.push(user);
        }
        Batch {
            users,
            ..Batch::default()
        }
        .insert(db)
        .await
        .unwrap();
        modcon::db::auth::set_password(db, "root", "s3cret-pass", "test")
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!("modcon-fx-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let pw = dir.join("pw");
        std::fs::write(&pw, "s3cret-pass\n").unwrap();
        let run = |args: &[&str]| {
            std::process::Command::new(env!("CARGO_BIN_EXE_modcon"))
                .env("MODCON_DATA_DIR", &dir)
                .env_remove("DATABASE_URL")
                .args([
                    "--config",
                    "tests/fixtures/fastapi/map.toml",
                    "--database-url",
                    &test.url,
                ])
                .args(args)
                .args(["--user", "root", "--password-file", pw.to_str().unwrap()])
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run modcon")
        };
        let bad = run(&["users", "delete", "10", "ten"]);
        assert_eq!(bad.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(
            stderr.contains("'ten'") && stderr.contains("an integer"),
            "{stderr}"
        );
        let done = run(&["users", "delete", "5", "10", "11", "--json"]);
        assert_eq!(
            done.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
        assert_eq!(json["deleted_count"], 2);
        assert_eq!(json["deleted_users"][0]["user_id"], 10);
        assert_eq!(json["deleted_users"][1]["user_id"], 11);
        assert_eq!(json["failed_users"][0]["user_id"], 5);
        assert_eq!(
            json["failed_users"][0]["reason"],
            "Cannot delete currently logged in user"
        );
        assert_eq!(json["soft_delete"], true);
        // Soft-deleted: the rows stay, marked, by the operator.
        let marked = common::count(
            db,
            "select count(*) from {@users} u where u.deleted_at is not null and u.deleted_by = 5",
            &[],
        )
        .await;
        assert_eq!(marked, 2);
        let _ = std::fs::remove_dir_all(&dir);
        test.finish().await;
    }
}

on_both! {
    async fn a_row_unlinked_through_two_set_null_columns_is_one_row_kept(backend) {
        let test = fixture("fastapi", backend).await;
        let db = &test.db;
        exec(db, "insert into users (id, username, email) values (10, 'u10', 'u10@x'), (11, 'u11', 'u11@x')").await;
        // A message user 10 sent to themself: both columns point at the deleted user.
        exec(db, "insert into messages (id, sender_id, recipient_id, content) values \
                  ('5b0d3a4e-0000-4000-8000-0000000000a1', 10, 10, 'note to self'), \
                  ('5b0d3a4e-0000-4000-8000-0000000000a2', 10, 11, 'hi')").await;
        let mut map = map_of("tests/fixtures/fastapi/map.toml");
        map.soft_delete = None;
        let schema = db.check_map(&map).await.unwrap();
        let impact = db
            .delete_impact(&schema, Entity::Users, &[Id::Int(10), Id::Int(11)])
            .await
            .unwrap();
        // Two rows change, whatever the number of columns or users that point at them.
        assert_eq!(impact.total_kept.get("messages"), 2);
        assert_eq!(impact.kept[&Id::Int(10)].get("messages"), 2);
        assert_eq!(impact.kept[&Id::Int(11)].get("messages"), 1);
        test.finish().await;
    }
}

/// PostgreSQL types the fixtures do not use: a smallint rating, a nullable updated_at
/// and an enum role column, as platforms have them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smallint_nullable_times_and_enum_roles_work_on_postgresql() {
    let test = TestDb::blank(Backend::Postgres).await;
    test.run_script(
        "create type account_kind as enum ('staff', 'mod', 'member'); \
         create table accounts (id bigint generated by default as identity primary key, \
           login text not null, kind account_kind not null default 'member'); \
         create table threads (id bigint generated by default as identity primary key, \
           owner_id bigint references accounts (id) on delete cascade, title text, \
           created_at timestamp not null default now(), updated_at timestamp); \
         create table posts (id bigint generated by default as identity primary key, \
           thread_id bigint not null references threads (id) on delete cascade, \
           body text not null, created_at timestamp not null default now()); \
         create table articles (id bigint primary key, title text not null); \
         create table ratings (id bigint primary key, article_id bigint references articles (id), \
           author_id bigint references accounts (id) on delete set null, score smallint not null, \
           body text not null, created_at timestamp not null default now()); \
         insert into accounts (id, login, kind) values (1, 'hannah', 'staff'), (2, 'max', 'member'); \
         insert into threads (id, owner_id, title) values (7, 2, 'never updated'); \
         insert into posts (thread_id, body) values (7, 'a'), (7, 'b'); \
         insert into articles values (1, 'A'); \
         insert into ratings values (3, 1, 2, 4, 'good', now());",
    )
    .await;
    let text = "[schema.users]\ntable = \"accounts\"\nusername = \"login\"\nrole = \"kind\"\n\
        admin_roles = [\"staff\"]\nmoderator_roles = [\"mod\"]\nemail = \"\"\nprotected = \"\"\n\
        service = \"\"\nactive = \"\"\ncreated_at = \"\"\n\
        [schema.chat_sessions]\ntable = \"threads\"\nowner = \"owner_id\"\nguild = \"\"\nmodel = \"\"\n\
        [schema.chat_messages]\ntable = \"posts\"\nsession = \"thread_id\"\nauthor = \"\"\nrole = \"\"\n\
        content = \"body\"\n\
        [schema.reviews]\ntable = \"ratings\"\nbook = \"article_id\"\nauthor = \"author_id\"\n\
        content = \"body\"\nrating = \"score\"\nversion = \"\"\nupdated_at = \"\"\n\
        [schema.books]\ntable = \"articles\"\n\
        [schema.guilds]\nenabled = false\n[schema.guild_members]\nenabled = false\n\
        [schema.guild_settings]\nenabled = false\n[schema.app_sessions]\nenabled = false\n\
        [schema.messages]\nenabled = false\n[schema.comments]\nenabled = false\n";
    let map = modcon::config::parse(text).unwrap().schema_map().unwrap();
    test.db.migrate(&map).await.unwrap();
    let db = test.db.clone().load_schema(&map).await.unwrap();
    // The enum role signs in as admin.
    modcon::db::auth::set_password(&db, "hannah", "long-enough-pw", "test")
        .await
        .unwrap();
    let actor = modcon::db::auth::sign_in(&db, common::attempt("hannah", "long-enough-pw"))
        .await
        .unwrap();
    assert_eq!(actor.role, modcon::db::Role::Admin);
    // A thread never updated lists; its time is the creation time.
    let page = modcon::db::lists::chat_sessions(&db, &Default::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].updated_at, page.rows[0].created_at);
    assert_eq!(page.rows[0].messages, 2);
    // A smallint rating reads and plans.
    let content = modcon::db::lists::content(&db, &Default::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(content.rows[0].rating, Some(4));
    let request = modcon::db::plan::Request::new(
        modcon::db::plan::Operation::new(
            modcon::db::plan::OpKind::DeleteReviews,
            modcon::db::ids::TargetIds::new(vec![Id::Int(3)]).unwrap(),
        ),
        None,
    );
    let plan = modcon::db::plan::plan(&db, &actor, request).await.unwrap();
    assert_eq!(plan.targets.len(), 1);
    test.finish().await;
}
