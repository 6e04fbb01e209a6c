//! Operator security against a real database, on both backends: the lockout holds
//! when sign-in attempts arrive in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, attempt, count, operator};
use modcon::db::auth::{self, SignInError};
use modcon::db::{Backend, Role};

/// 100 wrong passwords at once, then the right one: at most five passwords are ever
/// checked in the window, every refusal reads only "wrong username or password" or
/// "locked until", and the right password afterwards is refused as locked.
async fn parallel_wrong_passwords_never_get_more_than_five_checks(backend: Backend) {
    let test = TestDb::on(backend, common::Platform::Reference).await;
    let db = test.db.clone();
    operator(&db, "root", Role::Admin).await;
    auth::set_password(&db, "root", "the-right-password", "test")
        .await
        .unwrap();
    let mut attempts = Vec::new();
    for i in 0..100 {
        let db = db.clone();
        attempts.push(tokio::spawn(async move {
            auth::sign_in(&db, attempt("root", &format!("wrong-{i}"))).await
        }));
    }
    for attempt in attempts {
        match attempt.await.unwrap() {
            Err(SignInError::WrongCredentials | SignInError::Locked { .. }) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
    let checked = count(
        &db,
        "select count(*) from {#modcon_audit_log} where action = 'auth.sign_in_failed' \
         and cast(details as {text}) like '%wrong password%'",
        &[],
    )
    .await;
    assert!(checked <= 5, "{checked} passwords were checked");
    assert_eq!(checked, 5, "the first five attempts are checked");
    let refused_locked = count(
        &db,
        "select count(*) from {#modcon_audit_log} where action = 'auth.sign_in_failed' \
         and cast(details as {text}) like '%account locked%'",
        &[],
    )
    .await;
    assert_eq!(refused_locked, 95);
    let err = auth::sign_in(&db, attempt("root", "the-right-password"))
        .await
        .unwrap_err();
    assert!(matches!(err, SignInError::Locked { .. }), "{err:?}");
    assert!(err.to_string().starts_with("account locked until"), "{err}");
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_never_get_more_than_five_checks_on_sqlite() {
    parallel_wrong_passwords_never_get_more_than_five_checks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_never_get_more_than_five_checks_on_postgres() {
    parallel_wrong_passwords_never_get_more_than_five_checks(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_never_get_more_than_five_checks_on_mysql() {
    parallel_wrong_passwords_never_get_more_than_five_checks(Backend::Mysql).await;
}
