//! Operators' TOTP second factor (SPEC §11) against a real database, on both backends:
//! enrolment, codes at sign-in under the lockout, replay, recovery codes, the
//! `require_mfa` policy and resets, each with its audit rows. Codes are computed from
//! the secret with the TOTP crate, as an authenticator app would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{count, operator};
use modcon::db::auth::{self, Attempt, SignInError};
use modcon::db::{Arg, DataError, Db, Id, Role, mfa};

const PASSWORD: &str = "the-right-password";

fn code(secret: &str, steps: i64) -> String {
    common::totp_code(secret, steps)
}

fn wrong_code(secret: &str) -> String {
    common::wrong_totp_code(secret)
}

async fn fresh_window() {
    tokio::task::spawn_blocking(common::fresh_totp_window)
        .await
        .unwrap();
}

fn with<'a>(username: &'a str, password: &'a str, code: Option<&'a str>) -> Attempt<'a> {
    Attempt {
        username,
        password,
        code,
        require_mfa: &[],
    }
}

/// An operator with a password and confirmed MFA (with the previous step's code, so the
/// current one is still unused); returns the id, the secret and the recovery codes.
async fn enrolled(db: &Db, name: &str, role: Role) -> (Id, String, Vec<String>) {
    let actor = operator(db, name, role).await;
    auth::set_password(db, name, PASSWORD, "test")
        .await
        .unwrap();
    let enrolment = mfa::begin_enrolment(db, name).await.unwrap();
    let secret = enrolment.secret_base32();
    mfa::confirm_enrolment(db, &enrolment, &code(&secret, -1), "test")
        .await
        .unwrap();
    (actor.id, secret, enrolment.recovery_codes.clone())
}

async fn failed_logins(db: &Db, id: &Id) -> i64 {
    count(
        db,
        "select failed_logins from {#modcon_operators} where user_id = $1",
        &[Arg::from(id.to_string())],
    )
    .await
}

async fn audited(db: &Db, action: &str, detail: &str) -> i64 {
    count(
        db,
        "select count(*) from {#modcon_audit_log} where action = $1 \
         and cast(details as {text}) like $2",
        &[Arg::from(action), Arg::from(format!("%{detail}%"))],
    )
    .await
}

both_backends! {

async fn enrolment_is_stored_only_after_a_current_code_and_never_shows_the_secret_in_the_audit(db) {
    fresh_window().await;
    operator(&db, "root", Role::Admin).await;
    auth::set_password(&db, "root", PASSWORD, "test").await.unwrap();
    let first = mfa::begin_enrolment(&db, "root").await.unwrap();
    let secret = first.secret_base32();
    assert!(first.uri().unwrap().starts_with("otpauth://totp/modcon:root?secret="));
    assert!(first.qr_code().unwrap().lines().count() > 10, "a QR code of half blocks");
    assert_eq!(first.recovery_codes.len(), mfa::RECOVERY_CODES);
    let err = mfa::confirm_enrolment(&db, &first, &wrong_code(&secret), "mfa:test").await.unwrap_err();
    assert!(matches!(err, DataError::Invalid(_)), "{err:?}");
    assert!(!mfa::is_enrolled(&db, "root").await.unwrap(), "a wrong setup stores nothing");
    auth::sign_in(&db, with("root", PASSWORD, None)).await.unwrap();
    assert_eq!(audited(&db, "auth.mfa_enroll_failed", "wrong confirmation code").await, 1);

    mfa::confirm_enrolment(&db, &first, &code(&secret, 0), "mfa:test").await.unwrap();
    assert!(mfa::is_enrolled(&db, "root").await.unwrap());
    assert_eq!(audited(&db, "auth.mfa_enrolled", "recovery_codes").await, 1);
    let err = mfa::begin_enrolment(&db, "root").await.unwrap_err();
    assert!(err.to_string().contains("already has MFA"), "{err}");
    let leaked = audited(&db, "auth.mfa_enrolled", &secret).await
        + audited(&db, "auth.mfa_enroll_failed", &secret).await;
    assert_eq!(leaked, 0, "the secret never reaches the audit record");
}

async fn a_right_password_asks_for_the_code_and_a_current_code_signs_in_once(db) {
    fresh_window().await;
    let (id, secret, _) = enrolled(&db, "root", Role::Admin).await;
    let err = auth::sign_in(&db, with("root", PASSWORD, None)).await.unwrap_err();
    assert!(matches!(err, SignInError::CodeRequired), "{err:?}");
    assert_eq!(failed_logins(&db, &id).await, 0, "a right password alone is not a failure");
    assert_eq!(audited(&db, "auth.sign_in_code_asked", "second factor").await, 1);

    let now = code(&secret, 0);
    let actor = auth::sign_in(&db, with("root", PASSWORD, Some(&now))).await.unwrap();
    assert_eq!(actor.username, "root");
    assert_eq!(audited(&db, "auth.sign_in", "totp").await, 1);

    let err = auth::sign_in(&db, with("root", PASSWORD, Some(&now))).await.unwrap_err();
    assert!(matches!(err, SignInError::WrongCredentials), "{err:?}");
    assert_eq!(err.to_string(), "wrong username or password");
    assert_eq!(audited(&db, "auth.sign_in_failed", "code already used").await, 1);
    assert_eq!(failed_logins(&db, &id).await, 1, "a replayed code is counted");

    // A wrong password with a right code is still a wrong password.
    let next = code(&secret, 1);
    let err = auth::sign_in(&db, with("root", "not-it", Some(&next))).await.unwrap_err();
    assert!(matches!(err, SignInError::WrongCredentials), "{err:?}");
    assert_eq!(audited(&db, "auth.sign_in_failed", "wrong password").await, 1);
    auth::sign_in(&db, with("root", PASSWORD, Some(&next))).await.unwrap();
    assert_eq!(failed_logins(&db, &id).await, 0, "a sign-in clears the count");
}

async fn wrong_codes_are_counted_like_wrong_passwords_and_five_lock(db) {
    fresh_window().await;
    let (id, secret, _) = enrolled(&db, "root", Role::Admin).await;
    let wrong = wrong_code(&secret);
    for n in 1..=4 {
        let err = auth::sign_in(&db, with("root", PASSWORD, Some(&wrong))).await.unwrap_err();
        assert!(matches!(err, SignInError::WrongCredentials), "{err:?}");
        assert_eq!(err.to_string(), "wrong username or password");
        assert_eq!(failed_logins(&db, &id).await, n);
    }
    // Asking again whether a code is needed neither counts nor forgives.
    let err = auth::sign_in(&db, with("root", PASSWORD, None)).await.unwrap_err();
    assert!(matches!(err, SignInError::CodeRequired), "{err:?}");
    assert_eq!(failed_logins(&db, &id).await, 4);

    let err = auth::sign_in(&db, with("root", PASSWORD, Some(&wrong))).await.unwrap_err();
    assert!(matches!(err, SignInError::Locked { .. }), "{err:?}");
    assert!(err.to_string().starts_with("account locked until"), "{err}");
    let right = code(&secret, 0);
    let err = auth::sign_in(&db, with("root", PASSWORD, Some(&right))).await.unwrap_err();
    assert!(matches!(err, SignInError::Locked { .. }), "the right code is refused while locked");
    assert_eq!(audited(&db, "auth.sign_in_failed", "wrong code").await, 5);
    assert_eq!(audited(&db, "auth.sign_in_failed", "account locked").await, 1);
}

async fn a_recovery_code_signs_in_once_and_not_twice(db) {
    fresh_window().await;
    let (id, _, recovery) = enrolled(&db, "root", Role::Admin).await;
    let actor = auth::sign_in(&db, with("root", PASSWORD, Some(&recovery[3]))).await.unwrap();
    assert_eq!(actor.username, "root");
    assert_eq!(audited(&db, "auth.sign_in", "recovery code").await, 1);
    let err = auth::sign_in(&db, with("root", PASSWORD, Some(&recovery[3]))).await.unwrap_err();
    assert!(matches!(err, SignInError::WrongCredentials), "{err:?}");
    assert_eq!(audited(&db, "auth.sign_in_failed", "wrong recovery code").await, 1);
    assert_eq!(failed_logins(&db, &id).await, 1);
    // Typed in capitals and without the dash, another one still works.
    let typed = recovery[0].replace('-', "").to_uppercase();
    auth::sign_in(&db, with("root", PASSWORD, Some(&typed))).await.unwrap();
}

async fn require_mfa_refuses_an_operator_of_that_role_without_mfa_and_tells_them_to_enrol(db) {
    let root = operator(&db, "root", Role::Admin).await;
    auth::set_password(&db, "root", PASSWORD, "test").await.unwrap();
    operator(&db, "mod", Role::Moderator).await;
    auth::set_password(&db, "mod", PASSWORD, "test").await.unwrap();
    let policy = [Role::Admin];
    let attempt = |name| Attempt { username: name, password: PASSWORD, code: None, require_mfa: &policy };
    let err = auth::sign_in(&db, attempt("root")).await.unwrap_err();
    assert!(matches!(err, SignInError::MfaRequired { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "MFA is required for your role: ask an admin to run modcon mfa enroll root"
    );
    assert_eq!(audited(&db, "auth.sign_in_failed", "MFA required").await, 1);
    let err = auth::sign_in(&db, Attempt { password: "wrong", ..attempt("root") }).await.unwrap_err();
    assert_eq!(err.to_string(), "wrong username or password", "only a right password learns it");
    auth::sign_in(&db, attempt("mod")).await.unwrap();

    fresh_window().await;
    let enrolment = mfa::begin_enrolment(&db, "root").await.unwrap();
    let secret = enrolment.secret_base32();
    mfa::confirm_enrolment(&db, &enrolment, &code(&secret, -1), "test").await.unwrap();
    let now = code(&secret, 0);
    let actor = auth::sign_in(&db, Attempt { code: Some(&now), ..attempt("root") }).await.unwrap();
    assert_eq!(actor.id, root.id);
}

async fn a_reset_by_another_admin_clears_mfa_and_by_oneself_or_a_moderator_is_refused(db) {
    fresh_window().await;
    let (root, _, _) = enrolled(&db, "root", Role::Admin).await;
    let other = operator(&db, "other", Role::Admin).await;
    let moderator = operator(&db, "mod", Role::Moderator).await;

    let err = mfa::reset(&db, &moderator, "root").await.unwrap_err();
    assert!(matches!(err, DataError::Forbidden(_)), "{err:?}");
    let me = modcon::db::Actor { id: root.clone(), username: "root".into(), role: Role::Admin };
    let err = mfa::reset(&db, &me, "root").await.unwrap_err();
    assert!(err.to_string().contains("another admin"), "{err}");
    assert!(mfa::is_enrolled(&db, "root").await.unwrap());
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'auth.mfa_reset.refused'", &[]).await, 2);

    mfa::reset(&db, &other, "root").await.unwrap();
    assert!(!mfa::is_enrolled(&db, "root").await.unwrap());
    assert_eq!(audited(&db, "auth.mfa_reset", "admin").await, 1);
    let actor = auth::sign_in(&db, with("root", PASSWORD, None)).await.unwrap();
    assert_eq!(actor.id, root, "after a reset the password alone signs in again");
    let err = mfa::reset(&db, &other, "root").await.unwrap_err();
    assert!(err.to_string().contains("no MFA to reset"), "{err}");
}

}
