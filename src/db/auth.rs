//! Operator sign-in (SPEC §3): operators are platform users with a credential in
//! modcon's own `modcon_operators`; argon2 passwords; a platform role that maps to no
//! operator role is refused; five attempts lock the account for fifteen minutes, counted
//! before the password is checked so that parallel attempts cannot get more; every
//! attempt audited with its precise reason, while the operator is told only "wrong
//! username or password" or "locked until". An operator with MFA also gives a code
//! (TOTP or recovery code, [`super::mfa`]); a wrong code is counted like a wrong
//! password.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::audit::{self, ActorSnapshot, AuditRow};
use super::mfa::{self, CodeCheck};
use super::model::excerpt;
use super::schema::Entity;
use super::{Actor, Backend, DataError, Db, Id, Role, Schema, Sql, Tx};

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
    /// Told to the operator as a wrong password; the audit keeps the reason.
    #[error("wrong username or password")]
    RoleNotAllowed,
    /// Likewise.
    #[error("wrong username or password")]
    Inactive,
    /// The password was right and the operator has MFA: ask for a code and try again
    /// with it. Not counted as a failure.
    #[error("enter the code from your authenticator app, or a recovery code")]
    CodeRequired,
    #[error("MFA is required for your role: ask an admin to run modcon mfa enroll {username}")]
    MfaRequired { username: String },
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

pub(crate) async fn verify_password(password: &str, phc: Option<String>) -> bool {
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

pub(crate) struct Account {
    pub id: Id,
    pub username: String,
    pub role: Role,
    /// The platform's own role value.
    pub role_value: String,
    pub is_active: bool,
}

/// The platform user a name signs in as (case-insensitive), if any.
pub(crate) async fn find_account(
    tx: &mut Tx,
    schema: &Schema,
    username: &str,
) -> Result<Option<Account>, DataError> {
    let mut q = Sql::new(schema);
    q.alias("u", Entity::Users).push(
        "select {u.id} as id, {u.username} as username, {u.role} as role, \
         ({u.active|1 = 1}) as is_active, ",
    );
    super::actor::deleted_flag(&mut q, schema, "u");
    q.push(" from {@users} u where ")
        .lower("{u.username}")
        .push(" = ")
        .bind_lower(username.to_string());
    let Some(r) = tx.fetch_optional_sql(&q).await? else {
        return Ok(None);
    };
    let role_value = r.text("role")?;
    Ok(Some(Account {
        id: r.id("id")?,
        username: r.text("username")?,
        role: schema.role_of(&role_value),
        role_value,
        is_active: r.bool("is_active")? && !r.bool("is_deleted")?,
    }))
}

/// The operator's credential row, locked for this transaction on PostgreSQL (SQLite's
/// write transaction already holds the database); created empty on first use.
async fn credential(tx: &mut Tx, user_id: &Id) -> Result<Credential, DataError> {
    let backend = tx.backend();
    let mut q = Sql::raw(backend);
    q.push("insert into {#modcon_operators} (user_id) values (")
        .bind(user_id.to_string())
        .push(")")
        .keep_existing("user_id");
    tx.execute_sql(&q).await?;
    let mut q = Sql::raw(backend);
    q.push(
        "select password_hash, failed_logins, locked_until, totp_secret, recovery_codes \
         from {#modcon_operators} where user_id = ",
    )
    .bind(user_id.to_string());
    if backend != Backend::Sqlite {
        q.push(" for update");
    }
    let r = tx.fetch_one_sql(&q).await?;
    Ok(Credential {
        password_hash: r.opt_text("password_hash")?,
        failed_logins: r.int("failed_logins")?,
        locked_until: r.opt_time("locked_until")?,
        totp_secret: r.opt_text("totp_secret")?,
        recovery_hashes: mfa::parse_hashes(&r.opt_text("recovery_codes")?.unwrap_or_default()),
    })
}

struct Credential {
    password_hash: Option<String>,
    failed_logins: i64,
    locked_until: Option<DateTime<Utc>>,
    totp_secret: Option<String>,
    recovery_hashes: Vec<String>,
}

/// What one sign-in attempt brings: a name, a password and, for an operator with MFA,
/// a code (None asks whether one is needed: [`SignInError::CodeRequired`]).
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub code: Option<&'a str>,
    /// Roles that may not sign in without MFA (`[security] require_mfa`).
    pub require_mfa: &'a [Role],
}

/// Signs an operator in. The attempt is counted and recorded; on a database that
/// refuses every write (a read-only SQLite file opened with `--read-only`) it cannot be,
/// and the password and code are checked without a record (the log says so).
pub async fn sign_in(db: &Db, attempt: Attempt<'_>) -> Result<Actor, SignInError> {
    match sign_in_recorded(db, attempt).await {
        Err(SignInError::Data(DataError::ReadOnly)) => {
            tracing::warn!("the database refuses writes: this sign-in is checked but not recorded");
            sign_in_unrecorded(db, attempt).await
        }
        other => other,
    }
}

async fn sign_in_unrecorded(db: &Db, attempt: Attempt<'_>) -> Result<Actor, SignInError> {
    let schema = db.schema()?;
    let mut tx = db.read().await?;
    let account = find_account(&mut tx, schema, attempt.username).await?;
    let credential = match &account {
        Some(account) => {
            let mut q = Sql::raw(tx.backend());
            q.push(
                "select password_hash, locked_until, totp_secret, recovery_codes \
                 from {#modcon_operators} where user_id = ",
            )
            .bind(account.id.to_string());
            tx.fetch_optional_sql(&q).await?
        }
        None => None,
    };
    tx.rollback().await?;
    let (hash, locked_until, secret, recovery) = match &credential {
        Some(row) => (
            row.opt_text("password_hash")?,
            row.opt_time("locked_until")?,
            row.opt_text("totp_secret")?,
            mfa::parse_hashes(&row.opt_text("recovery_codes")?.unwrap_or_default()),
        ),
        None => (None, None, None, Vec::new()),
    };
    if let Some(until) = locked_until.filter(|until| *until > Utc::now()) {
        return Err(SignInError::Locked { until });
    }
    let verified = verify_password(attempt.password, hash).await;
    let account = match account {
        Some(account) if verified && account.role != Role::User && account.is_active => account,
        _ => return Err(SignInError::WrongCredentials),
    };
    match (&secret, attempt.code) {
        (None, _) if attempt.require_mfa.contains(&account.role) => {
            return Err(SignInError::MfaRequired {
                username: account.username,
            });
        }
        (None, _) => {}
        (Some(_), None) => return Err(SignInError::CodeRequired),
        (Some(secret), Some(code)) => {
            // Nothing can be written, so a replay cannot be refused here; the session
            // that follows cannot write either.
            if let CodeCheck::Wrong { .. } = mfa::check_code(secret, &recovery, code).await? {
                return Err(SignInError::WrongCredentials);
            }
        }
    }
    Ok(Actor {
        id: account.id,
        username: account.username,
        role: account.role,
    })
}

async fn sign_in_recorded(db: &Db, attempt: Attempt<'_>) -> Result<Actor, SignInError> {
    let username = attempt.username;
    let schema = db.schema()?;
    let now = Utc::now();
    // One write transaction decides whether this attempt may check a password (and a
    // code) at all, and counts it before it does.
    let mut tx = db.write().await?;
    let Some(account) = find_account(&mut tx, schema, username).await? else {
        write_failure(&mut tx, None, username, "unknown username", None).await?;
        tx.commit().await?;
        verify_password(attempt.password, None).await;
        return Err(SignInError::WrongCredentials);
    };
    let credential = credential(&mut tx, &account.id).await?;
    if let Some(until) = credential.locked_until.filter(|until| *until > now) {
        write_failure(&mut tx, Some(&account), username, "account locked", None).await?;
        tx.commit().await?;
        return Err(SignInError::Locked { until });
    }
    let attempts = credential.failed_logins + 1;
    let lock = (attempts >= MAX_FAILED_SIGN_INS).then(|| now + Duration::minutes(LOCKOUT_MINUTES));
    let mut q = Sql::raw(tx.backend());
    q.push("update {#modcon_operators} set failed_logins = ")
        .bind(if lock.is_some() { 0 } else { attempts })
        .push(", locked_until = ")
        .bind(lock)
        .push(" where user_id = ")
        .bind(account.id.to_string());
    tx.execute_sql(&q).await?;
    tx.commit().await?;

    let verified = verify_password(attempt.password, credential.password_hash.clone()).await;
    let counted_refusal = match lock {
        Some(until) => SignInError::Locked { until },
        None => SignInError::WrongCredentials,
    };
    let mut refusal = if !verified {
        Some((
            if credential.password_hash.is_none() {
                "no password set"
            } else {
                "wrong password"
            },
            counted_refusal,
        ))
    } else if account.role == Role::User {
        Some(("platform role cannot sign in", SignInError::RoleNotAllowed))
    } else if !account.is_active {
        Some(("account inactive", SignInError::Inactive))
    } else if credential.totp_secret.is_none() && attempt.require_mfa.contains(&account.role) {
        Some((
            "MFA required for the role, none enrolled",
            SignInError::MfaRequired {
                username: account.username.clone(),
            },
        ))
    } else {
        None
    };
    let check = match (&refusal, &credential.totp_secret, attempt.code) {
        (None, Some(secret), Some(code)) => {
            Some(mfa::check_code(secret, &credential.recovery_hashes, code).await?)
        }
        _ => None,
    };
    let mut tx = db.write().await?;
    if refusal.is_none() && credential.totp_secret.is_some() && attempt.code.is_none() {
        // A right password alone neither counts as a failure nor clears earlier ones:
        // undo this attempt's own count, so only codes are counted from here.
        undo_count(&mut tx, &account.id, lock).await?;
        let row = AuditRow {
            action: "auth.sign_in_code_asked".into(),
            target_type: "user",
            target_id: Some(account.id.clone()),
            target_label: account.username.clone(),
            counts: serde_json::json!({}),
            details: serde_json::json!({ "reason": "password right, second factor required" }),
        };
        let actor = ActorSnapshot {
            id: Some(account.id.clone()),
            name: account.username.clone(),
        };
        audit::write(&mut tx, Uuid::new_v4(), actor, None, &[row]).await?;
        tx.commit().await?;
        return Err(SignInError::CodeRequired);
    }
    let mut second_factor = None;
    if let Some(check) = &check {
        match mfa::consume(&mut tx, &account.id, check).await? {
            Ok(kind) => second_factor = Some(kind),
            Err(reason) => {
                let error = match lock {
                    Some(until) => SignInError::Locked { until },
                    None => SignInError::WrongCredentials,
                };
                refusal = Some((reason, error));
            }
        }
    }
    if let Some((reason, error)) = refusal {
        let counted = if verified && second_factor.is_none() && check.is_none() {
            0
        } else {
            attempts
        };
        write_failure(
            &mut tx,
            Some(&account),
            username,
            reason,
            Some((counted, lock)),
        )
        .await?;
        tx.commit().await?;
        return Err(error);
    }
    let actor = Actor {
        id: account.id.clone(),
        username: account.username.clone(),
        role: account.role,
    };
    let mut q = Sql::raw(tx.backend());
    q.push(
        "update {#modcon_operators} set failed_logins = 0, locked_until = null where user_id = ",
    )
    .bind(account.id.to_string());
    tx.execute_sql(&q).await?;
    let row = AuditRow {
        action: "auth.sign_in".into(),
        target_type: "user",
        target_id: Some(account.id.clone()),
        target_label: account.username.clone(),
        counts: serde_json::json!({}),
        details: match second_factor {
            Some(kind) => serde_json::json!({ "role": account.role, "second_factor": kind }),
            None => serde_json::json!({ "role": account.role }),
        },
    };
    audit::write(&mut tx, Uuid::new_v4(), &actor, None, &[row]).await?;
    tx.commit().await?;
    Ok(actor)
}

/// Takes back one counted attempt: a decrement (other attempts may have counted since),
/// or, if this attempt set the lock, that lock with the count just below it.
async fn undo_count(
    tx: &mut Tx,
    user_id: &Id,
    lock: Option<DateTime<Utc>>,
) -> Result<(), DataError> {
    let mut q = Sql::raw(tx.backend());
    match lock {
        Some(until) => {
            q.push("update {#modcon_operators} set failed_logins = ")
                .bind(MAX_FAILED_SIGN_INS - 1)
                .push(", locked_until = null where user_id = ")
                .bind(user_id.to_string())
                .push(" and locked_until = ")
                .bind(until);
        }
        None => {
            q.push(
                "update {#modcon_operators} set failed_logins = failed_logins - 1 \
                 where failed_logins > 0 and user_id = ",
            )
            .bind(user_id.to_string());
        }
    }
    tx.execute_sql(&q).await?;
    Ok(())
}

async fn write_failure(
    tx: &mut Tx,
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
        target_id: account.map(|a| a.id.clone()),
        target_label: name.clone(),
        counts: serde_json::json!({}),
        details: serde_json::json!({
            "reason": reason,
            "failed_sign_ins": failed,
            "locked_until": locked_until,
        }),
    };
    let actor = ActorSnapshot {
        id: account.map(|a| a.id.clone()),
        name,
    };
    audit::write(tx, Uuid::new_v4(), actor, None, &[row]).await
}

/// Sets an operator's password (the `passwd` command) and clears any lock; audited
/// with `by` as the actor. A platform user whose role cannot sign in gets none.
pub async fn set_password(
    db: &Db,
    username: &str,
    password: &str,
    by: &str,
) -> Result<Id, DataError> {
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
    let schema = db.schema()?;
    let hash = hash_password(password).await?;
    let mut tx = db.write().await?;
    let Some(account) = find_account(&mut tx, schema, username).await? else {
        tx.rollback().await?;
        return Err(DataError::NotFound(format!(
            "no user named {}",
            excerpt(username, 64)
        )));
    };
    if account.role == Role::User {
        tx.rollback().await?;
        return Err(DataError::invalid(format!(
            "{}'s platform role \"{}\" cannot sign in to modcon (operators need one of the \
             roles in admin_roles or moderator_roles); nothing was changed",
            excerpt(&account.username, 64),
            excerpt(&account.role_value, 40)
        )));
    }
    let now = Utc::now();
    let mut q = Sql::raw(tx.backend());
    q.push(
        "insert into {#modcon_operators} (user_id, password_hash, failed_logins, \
         locked_until, updated_at) values (",
    )
    .bind(account.id.to_string())
    .push(", ")
    .bind(hash.clone())
    .push(", 0, null, ")
    .bind(now)
    .push(")")
    .upsert(
        "user_id",
        &["password_hash", "updated_at"],
        "failed_logins = 0, locked_until = null",
    );
    tx.execute_sql(&q).await?;
    let audit_row = AuditRow {
        action: "auth.password_set".into(),
        target_type: "user",
        target_id: Some(account.id.clone()),
        target_label: account.username.clone(),
        counts: serde_json::json!({}),
        details: serde_json::json!({ "role": account.role }),
    };
    let actor = ActorSnapshot {
        id: None,
        name: by.to_string(),
    };
    audit::write(&mut tx, Uuid::new_v4(), actor, None, &[audit_row]).await?;
    tx.commit().await?;
    Ok(account.id)
}
