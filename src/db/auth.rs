//! Operator sign-in (SPEC §3): argon2 passwords, role `user` refused, five failures lock
//! the account for fifteen minutes, every attempt audited.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::audit::{self, ActorSnapshot, AuditRow};
use super::plan::excerpt;
use super::sql::args;
use super::{Actor, DataError, Db, Role};

pub const MAX_FAILED_SIGN_INS: i64 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("wrong username or password")]
    WrongCredentials,
    #[error("account locked until {} UTC after {MAX_FAILED_SIGN_INS} failed sign-ins", until.format("%H:%M"))]
    Locked { until: DateTime<Utc> },
    #[error("accounts with the role 'user' cannot sign in to modcon")]
    RoleNotAllowed,
    #[error("this account is inactive")]
    Inactive,
    #[error(transparent)]
    Data(#[from] DataError),
}

/// Hashes a password into a PHC string with a fresh salt.
pub async fn hash_password(password: &str) -> Result<String, DataError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|_| DataError::Internal("password hashing failed"))
    })
    .await
    .map_err(|_| DataError::Internal("password hashing task failed"))?
}

async fn verify_password(password: &str, phc: Option<String>) -> bool {
    // An account with no hash, or no account, still costs one verification, so the
    // time taken does not tell which usernames exist.
    let phc = phc.unwrap_or_else(|| dummy_hash().to_string());
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        PasswordVerifier::<str>::verify_password(&Argon2::default(), password.as_bytes(), &phc)
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(Uuid::new_v4().as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

struct Account {
    id: Uuid,
    username: String,
    role: String,
    is_active: bool,
    password_hash: Option<String>,
    locked_until: Option<DateTime<Utc>>,
}

/// Signs an operator in. Needs a writable handle: the attempt is recorded.
pub async fn sign_in(db: &Db, username: &str, password: &str) -> Result<Actor, SignInError> {
    let account = {
        let mut tx = db.read().await?;
        let row = tx
            .fetch_optional(
                "select id, username, role, is_active, password_hash, locked_until \
                 from users where lower(username) = lower($1)",
                &args![username],
            )
            .await?;
        tx.rollback().await?;
        row.map(|r| -> Result<Account, DataError> {
            Ok(Account {
                id: r.uuid("id")?,
                username: r.text("username")?,
                role: r.text("role")?,
                is_active: r.bool("is_active")?,
                password_hash: r.opt_text("password_hash")?,
                locked_until: r.opt_time("locked_until")?,
            })
        })
        .transpose()?
    };
    let now = Utc::now();
    let Some(account) = account else {
        verify_password(password, None).await;
        record_failure(db, None, username, "unknown username", None).await?;
        return Err(SignInError::WrongCredentials);
    };
    if let Some(until) = account.locked_until.filter(|until| *until > now) {
        record_failure(db, Some(&account), username, "account locked", None).await?;
        return Err(SignInError::Locked { until });
    }
    if !verify_password(password, account.password_hash.clone()).await {
        let mut tx = db.write().await?;
        let failures = tx
            .fetch_one(
                "update users set failed_logins = failed_logins + 1 where id = $1 \
                 returning failed_logins",
                &args![account.id],
            )
            .await?
            .int("failed_logins")?;
        let locked_until = if failures >= MAX_FAILED_SIGN_INS {
            let until = now + Duration::minutes(LOCKOUT_MINUTES);
            tx.execute(
                "update users set failed_logins = 0, locked_until = $1 where id = $2",
                &args![until, account.id],
            )
            .await?;
            Some(until)
        } else {
            None
        };
        let reason = if account.password_hash.is_none() {
            "no password set"
        } else {
            "wrong password"
        };
        write_failure(
            &mut tx,
            Some(&account),
            username,
            reason,
            Some((failures, locked_until)),
        )
        .await?;
        tx.commit().await?;
        return Err(match locked_until {
            Some(until) => SignInError::Locked { until },
            None => SignInError::WrongCredentials,
        });
    }
    let role = Role::parse(&account.role).unwrap_or(Role::User);
    if role == Role::User {
        record_failure(
            db,
            Some(&account),
            username,
            "role user may not sign in",
            None,
        )
        .await?;
        return Err(SignInError::RoleNotAllowed);
    }
    if !account.is_active {
        record_failure(db, Some(&account), username, "account inactive", None).await?;
        return Err(SignInError::Inactive);
    }
    let actor = Actor {
        id: account.id,
        username: account.username.clone(),
        role,
    };
    let mut tx = db.write().await?;
    tx.execute(
        "update users set failed_logins = 0, locked_until = null where id = $1",
        &args![account.id],
    )
    .await?;
    let row = AuditRow {
        action: "auth.sign_in".into(),
        target_type: "user",
        target_id: Some(account.id),
        target_label: account.username.clone(),
        counts: serde_json::json!({}),
        details: serde_json::json!({ "role": role }),
    };
    audit::write(&mut tx, Uuid::new_v4(), &actor, None, &[row]).await?;
    tx.commit().await?;
    Ok(actor)
}

async fn record_failure(
    db: &Db,
    account: Option<&Account>,
    typed_name: &str,
    reason: &str,
    failures: Option<(i64, Option<DateTime<Utc>>)>,
) -> Result<(), DataError> {
    let mut tx = db.write().await?;
    write_failure(&mut tx, account, typed_name, reason, failures).await?;
    tx.commit().await
}

async fn write_failure(
    tx: &mut super::Tx,
    account: Option<&Account>,
    typed_name: &str,
    reason: &str,
    failures: Option<(i64, Option<DateTime<Utc>>)>,
) -> Result<(), DataError> {
    // The name as typed is a stranger's input: keep it short.
    let name = account
        .map(|a| a.username.clone())
        .unwrap_or_else(|| excerpt(typed_name, 64));
    let (failed, locked_until) = failures.unwrap_or((0, None));
    let row = AuditRow {
        action: "auth.sign_in_failed".into(),
        target_type: "user",
        target_id: account.map(|a| a.id),
        target_label: name.clone(),
        counts: serde_json::json!({}),
        details: serde_json::json!({
            "reason": reason,
            "failed_sign_ins": failed,
            "locked_until": locked_until,
        }),
    };
    let actor = ActorSnapshot {
        id: account.map(|a| a.id),
        name,
    };
    audit::write(tx, Uuid::new_v4(), actor, None, &[row]).await
}

/// Sets an operator's password (the `passwd` command) and clears any lock; audited
/// with `by` as the actor.
pub async fn set_password(
    db: &Db,
    username: &str,
    password: &str,
    by: &str,
) -> Result<Uuid, DataError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(DataError::invalid(format!(
            "the password is too short: at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(DataError::invalid(format!(
            "the password is too long: at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let hash = hash_password(password).await?;
    let mut tx = db.write().await?;
    let row = tx
        .fetch_optional(
            "update users set password_hash = $1, failed_logins = 0, locked_until = null, \
             updated_at = $2 where lower(username) = lower($3) returning id, username, role",
            &args![hash, Utc::now(), username],
        )
        .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(DataError::NotFound(format!(
            "no user named {}",
            excerpt(username, 64)
        )));
    };
    let id = row.uuid("id")?;
    let audit_row = AuditRow {
        action: "auth.password_set".into(),
        target_type: "user",
        target_id: Some(id),
        target_label: row.text("username")?,
        counts: serde_json::json!({}),
        details: serde_json::json!({ "role": row.text("role")? }),
    };
    let actor = ActorSnapshot {
        id: None,
        name: by.to_string(),
    };
    audit::write(&mut tx, Uuid::new_v4(), actor, None, &[audit_row]).await?;
    tx.commit().await?;
    Ok(id)
}
