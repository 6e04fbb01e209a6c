//! The operators' second factor (SPEC §11): TOTP (RFC 6238: SHA-1, six digits, thirty
//! seconds, one step either side) and one-time recovery codes kept as argon2 hashes.
//! Enrolment stores nothing until a current code shows the authenticator was set up
//! right, so a wrong setup cannot lock anyone out. The secret is shown once, at
//! enrolment, and never logged.

use chrono::Utc;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;

use super::audit::{self, ActorSnapshot, AuditRow};
use super::auth::{self, Account};
use super::model::excerpt;
use super::{Actor, Backend, DataError, Db, Id, Permission, Role, Sql, Tx};

pub const RECOVERY_CODES: usize = 8;
const ISSUER: &str = "modcon";

/// A second factor generated for an operator, not stored until confirmed.
pub struct Enrolment {
    pub user_id: Id,
    pub username: String,
    totp: Totp,
    /// As shown to the operator (`abcde-fghij`); only their hashes are stored.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Enrolment {
    /// The secret in base32, for typing into an authenticator by hand.
    pub fn secret_base32(&self) -> String {
        self.totp.secret().to_base32()
    }

    /// The `otpauth://totp/…` URI authenticators read from the QR code.
    pub fn uri(&self) -> Result<String, DataError> {
        self.totp
            .to_url()
            .map_err(|_| DataError::Internal("the otpauth URI could not be made"))
    }

    /// The URI as a QR code of Unicode half blocks, dark on light, quiet zone included.
    pub fn qr_code(&self) -> Result<String, DataError> {
        let code = QrCode::new(self.uri()?.as_bytes())
            .map_err(|_| DataError::Internal("the QR code could not be made"))?;
        Ok(code
            .render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .build())
    }

    /// The time step a code is valid for now, if it is.
    fn step_of(&self, code: &str) -> Option<i64> {
        self.totp
            .check_current(&compact(code))
            .and_then(|step| i64::try_from(step).ok())
    }
}

fn compact(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase()
}

fn totp_of(secret_base32: &str) -> Result<Totp, DataError> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|_| DataError::Corrupt("an operator's TOTP secret is not base32".into()))?;
    Builder::new()
        .with_secret(secret)
        .build()
        .map_err(|_| DataError::Corrupt("an operator's TOTP secret is unusable".into()))
}

fn new_recovery_code() -> String {
    // 50 random bits: enough behind argon2 and the lockout, short enough to type.
    let text = Secret::generate().to_base32().to_ascii_lowercase();
    format!("{}-{}", &text[..5], &text[5..10])
}

/// What a code typed at sign-in turned out to be.
pub(crate) enum CodeCheck {
    Totp { step: i64 },
    Recovery { hash: String },
    Wrong { reason: &'static str },
}

/// Six digits are a TOTP code; anything else is tried as a recovery code.
pub(crate) async fn check_code(
    secret_base32: &str,
    recovery_hashes: &[String],
    code: &str,
) -> Result<CodeCheck, DataError> {
    let code = compact(code);
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        let totp = totp_of(secret_base32)?;
        return Ok(match totp.check_current(&code) {
            Some(step) => CodeCheck::Totp {
                step: i64::try_from(step).unwrap_or(i64::MAX),
            },
            None => CodeCheck::Wrong {
                reason: "wrong code",
            },
        });
    }
    for hash in recovery_hashes {
        if auth::verify_password(&code, Some(hash.clone())).await {
            return Ok(CodeCheck::Recovery { hash: hash.clone() });
        }
    }
    Ok(CodeCheck::Wrong {
        reason: "wrong recovery code",
    })
}

/// Records that a code was used, refusing a replay: a TOTP step at or before the last
/// one accepted, or a recovery code no longer in the list. Inside the sign-in's write
/// transaction, so two sign-ins with one code cannot both pass.
pub(crate) async fn consume(
    tx: &mut Tx,
    user_id: &Id,
    check: &CodeCheck,
) -> Result<Result<&'static str, &'static str>, DataError> {
    match check {
        CodeCheck::Totp { step } => {
            let mut q = Sql::raw(tx.backend());
            q.push("update {#modcon_operators} set totp_last_step = ")
                .bind(*step)
                .push(" where user_id = ")
                .bind(user_id.to_string())
                .push(
                    " and totp_secret is not null and (totp_last_step is null or totp_last_step < ",
                )
                .bind(*step)
                .push(")");
            Ok(if tx.execute_sql(&q).await? == 1 {
                Ok("totp")
            } else {
                Err("code already used")
            })
        }
        CodeCheck::Recovery { hash } => {
            let mut hashes = recovery_hashes(tx, user_id).await?;
            let before = hashes.len();
            hashes.retain(|h| h != hash);
            if hashes.len() == before {
                return Ok(Err("recovery code already used"));
            }
            let mut q = Sql::raw(tx.backend());
            q.push("update {#modcon_operators} set recovery_codes = ")
                .bind(serde_json::to_string(&hashes).unwrap_or_else(|_| "[]".into()))
                .push(" where user_id = ")
                .bind(user_id.to_string());
            tx.execute_sql(&q).await?;
            Ok(Ok("recovery code"))
        }
        CodeCheck::Wrong { reason } => Ok(Err(reason)),
    }
}

async fn recovery_hashes(tx: &mut Tx, user_id: &Id) -> Result<Vec<String>, DataError> {
    let mut q = Sql::raw(tx.backend());
    q.push("select recovery_codes from {#modcon_operators} where user_id = ")
        .bind(user_id.to_string());
    if tx.backend() != Backend::Sqlite {
        q.push(" for update");
    }
    let text = match tx.fetch_optional_sql(&q).await? {
        Some(row) => row.opt_text("recovery_codes")?.unwrap_or_default(),
        None => String::new(),
    };
    Ok(parse_hashes(&text))
}

pub(crate) fn parse_hashes(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The operator's TOTP secret, locked for this transaction on PostgreSQL.
async fn secret_of(tx: &mut Tx, user_id: &Id) -> Result<Option<String>, DataError> {
    let mut q = Sql::raw(tx.backend());
    q.push("select totp_secret from {#modcon_operators} where user_id = ")
        .bind(user_id.to_string());
    if tx.backend() != Backend::Sqlite {
        q.push(" for update");
    }
    match tx.fetch_optional_sql(&q).await? {
        Some(row) => row.opt_text("totp_secret"),
        None => Ok(None),
    }
}

async fn operator_account(tx: &mut Tx, db: &Db, username: &str) -> Result<Account, DataError> {
    let schema = db.schema()?;
    let Some(account) = auth::find_account(tx, schema, username).await? else {
        return Err(DataError::NotFound(format!(
            "no user named {}",
            excerpt(username, 64)
        )));
    };
    if account.role == Role::User {
        return Err(DataError::invalid(format!(
            "{}'s platform role cannot sign in to modcon; nothing was changed",
            excerpt(&account.username, 64)
        )));
    }
    Ok(account)
}

/// Generates a secret and recovery codes for `username`; writes nothing. An operator
/// who already has MFA keeps it until an admin resets it.
pub async fn begin_enrolment(db: &Db, username: &str) -> Result<Enrolment, DataError> {
    let mut tx = db.read().await?;
    let account = operator_account(&mut tx, db, username).await;
    let account = match account {
        Ok(account) => account,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    let enrolled = secret_of(&mut tx, &account.id).await;
    tx.rollback().await?;
    if enrolled?.is_some() {
        return Err(already_enrolled(&account.username));
    }
    let totp = Builder::new()
        .with_secret(Secret::generate())
        .with_issuer(Some(ISSUER))
        .with_account_name(account.username.replace(':', "_"))
        .build()
        .map_err(|_| DataError::Internal("a TOTP secret could not be made"))?;
    Ok(Enrolment {
        user_id: account.id,
        username: account.username,
        totp,
        recovery_codes: (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect(),
    })
}

fn already_enrolled(username: &str) -> DataError {
    let name = excerpt(username, 64);
    DataError::invalid(format!(
        "{name} already has MFA: another admin resets it first (modcon mfa reset {name}); \
         nothing was changed"
    ))
}

/// Stores the enrolment if `code` is a current code of its secret; audited either way
/// with `by` as the actor. The confirming code cannot be used again to sign in.
pub async fn confirm_enrolment(
    db: &Db,
    enrolment: &Enrolment,
    code: &str,
    by: &str,
) -> Result<(), DataError> {
    let actor = ActorSnapshot {
        id: None,
        name: by.to_string(),
    };
    let row = |action: &str, details: serde_json::Value| AuditRow {
        action: action.into(),
        target_type: "user",
        target_id: Some(enrolment.user_id.clone()),
        target_label: enrolment.username.clone(),
        counts: serde_json::json!({}),
        details,
    };
    let Some(step) = enrolment.step_of(code) else {
        let mut tx = db.write().await?;
        let failed = row(
            "auth.mfa_enroll_failed",
            serde_json::json!({ "reason": "wrong confirmation code" }),
        );
        audit::write(&mut tx, Uuid::new_v4(), actor, None, &[failed]).await?;
        tx.commit().await?;
        return Err(DataError::invalid(
            "that code does not match the new secret: MFA was not enrolled (check the \
             authenticator's clock and the secret, then run the enrolment again)",
        ));
    };
    let mut hashes = Vec::with_capacity(enrolment.recovery_codes.len());
    for code in &enrolment.recovery_codes {
        hashes.push(auth::hash_password(&compact(code)).await?);
    }
    let hashes = serde_json::to_string(&hashes)
        .map_err(|_| DataError::Internal("recovery codes could not be stored"))?;
    let mut tx = db.write().await?;
    let mut q = Sql::raw(tx.backend());
    q.push("insert into {#modcon_operators} (user_id) values (")
        .bind(enrolment.user_id.to_string())
        .push(")")
        .keep_existing("user_id");
    tx.execute_sql(&q).await?;
    if secret_of(&mut tx, &enrolment.user_id).await?.is_some() {
        tx.rollback().await?;
        return Err(already_enrolled(&enrolment.username));
    }
    let now = Utc::now();
    let mut q = Sql::raw(tx.backend());
    q.push("update {#modcon_operators} set totp_secret = ")
        .bind(enrolment.secret_base32())
        .push(", totp_last_step = ")
        .bind(step)
        .push(", mfa_enrolled_at = ")
        .bind(now)
        .push(", recovery_codes = ")
        .bind(hashes)
        .push(", updated_at = ")
        .bind(now)
        .push(" where user_id = ")
        .bind(enrolment.user_id.to_string());
    tx.execute_sql(&q).await?;
    let enrolled = row(
        "auth.mfa_enrolled",
        serde_json::json!({ "recovery_codes": enrolment.recovery_codes.len() }),
    );
    audit::write(&mut tx, Uuid::new_v4(), actor, None, &[enrolled]).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `username` has MFA (for messages; sign-in reads it under its own lock).
pub async fn is_enrolled(db: &Db, username: &str) -> Result<bool, DataError> {
    let mut tx = db.read().await?;
    let result = match operator_account(&mut tx, db, username).await {
        Ok(account) => secret_of(&mut tx, &account.id).await.map(|s| s.is_some()),
        Err(e) => Err(e),
    };
    tx.rollback().await?;
    result
}

/// Clears another operator's secret and recovery codes (`modcon mfa reset`): an admin
/// only, never their own. Refusals are audited too.
pub async fn reset(db: &Db, by: &Actor, username: &str) -> Result<Id, DataError> {
    let schema = db.schema()?;
    let mut tx = db.write().await?;
    let checked = async {
        by.verify(&mut tx, schema, Permission::ResetMfa).await?;
        let account = operator_account(&mut tx, db, username).await?;
        if account.id == by.id {
            return Err(DataError::Forbidden(
                "nobody resets their own MFA: another admin does it".into(),
            ));
        }
        if secret_of(&mut tx, &account.id).await?.is_none() {
            return Err(DataError::invalid(format!(
                "{} has no MFA to reset",
                excerpt(&account.username, 64)
            )));
        }
        Ok(account)
    }
    .await;
    let account = match checked {
        Ok(account) => account,
        Err(e) => {
            tx.rollback().await?;
            if matches!(e, DataError::Forbidden(_)) {
                let target = auth_target(db, username).await;
                audit::record_refusal(
                    db,
                    by,
                    "auth.mfa_reset",
                    "user",
                    target.as_slice(),
                    &e.to_string(),
                )
                .await;
            }
            return Err(e);
        }
    };
    let mut q = Sql::raw(tx.backend());
    q.push(
        "update {#modcon_operators} set totp_secret = null, totp_last_step = null, \
         mfa_enrolled_at = null, recovery_codes = '[]', updated_at = ",
    )
    .bind(Utc::now())
    .push(" where user_id = ")
    .bind(account.id.to_string());
    tx.execute_sql(&q).await?;
    let row = AuditRow {
        action: "auth.mfa_reset".into(),
        target_type: "user",
        target_id: Some(account.id.clone()),
        target_label: account.username.clone(),
        counts: serde_json::json!({}),
        details: serde_json::json!({ "role": account.role }),
    };
    audit::write(&mut tx, Uuid::new_v4(), by, None, &[row]).await?;
    tx.commit().await?;
    Ok(account.id)
}

/// The id a refused reset was aimed at, if the name is a user's.
async fn auth_target(db: &Db, username: &str) -> Option<Id> {
    let schema = db.schema().ok()?;
    let mut tx = db.read().await.ok()?;
    let account = auth::find_account(&mut tx, schema, username).await.ok()?;
    let _ = tx.rollback().await;
    account.map(|a| a.id)
}
