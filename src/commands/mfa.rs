//! `modcon mfa enroll | reset` (SPEC §11). Enrolment shows the secret once, here and
//! nowhere else; it is stored only after a current code confirms it.

use std::io::{BufRead, IsTerminal, Read};

use super::{sign_in, usage};
use crate::cli::{Cli, OperatorArgs};
use crate::config::Config;
use crate::connect::{self, Failure};
use crate::db::mfa;
use crate::exit::Exit;
use crate::sanitize::clean_line;

/// Tries a person gets at the confirming code on a terminal.
const CONFIRM_TRIES: usize = 3;

pub(super) async fn enroll(cli: &Cli, config: &Config, username: &str) -> Result<Exit, Failure> {
    if cli.read_only {
        return Err(Failure::new(
            Exit::NotAllowed,
            "mfa enroll writes; drop --read-only",
        ));
    }
    let (db, _) = connect::open(cli, config).await?;
    let result = enroll_on(&db, username).await;
    db.close().await;
    result
}

async fn enroll_on(db: &crate::db::Db, username: &str) -> Result<Exit, Failure> {
    let enrolment = db.bounded(mfa::begin_enrolment(db, username)).await?;
    let name = clean_line(&enrolment.username);
    println!("MFA for {name}: add it to an authenticator app by scanning this QR code,");
    println!("or by typing the secret below.");
    println!();
    println!("{}", enrolment.qr_code()?);
    println!("secret: {}", enrolment.secret_base32());
    println!("uri:    {}", enrolment.uri()?);
    println!();
    let by = format!("mfa:{}", connect::os_user());
    let terminal = std::io::stdin().is_terminal();
    let tries = if terminal { CONFIRM_TRIES } else { 1 };
    for left in (0..tries).rev() {
        let code = read_code(terminal)?;
        match db
            .bounded(mfa::confirm_enrolment(db, &enrolment, &code, &by))
            .await
        {
            Ok(()) => {
                println!(
                    "MFA is on for {name}. Recovery codes, each usable once instead of a code"
                );
                println!("(keep them offline; they are not shown again):");
                for code in &enrolment.recovery_codes {
                    println!("  {code}");
                }
                return Ok(Exit::Done);
            }
            Err(crate::db::DataError::Invalid(message)) if left > 0 => {
                eprintln!("{message}; {left} more tries");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(usage("MFA was not enrolled"))
}

/// From the terminal (the code is typed, not secret once used), or the first line of
/// piped stdin.
fn read_code(terminal: bool) -> Result<String, Failure> {
    let mut text = String::new();
    if terminal {
        eprint!("Current code from the authenticator, to confirm: ");
        std::io::stdin()
            .lock()
            .read_line(&mut text)
            .map_err(|e| usage(format!("cannot read the code: {e}")))?;
    } else {
        std::io::stdin()
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("cannot read the code from stdin: {e}")))?;
    }
    let code = text.lines().next().unwrap_or("").trim().to_string();
    if code.is_empty() {
        return Err(usage(
            "no code to confirm the enrolment: nothing was stored (pipe the current code on \
             stdin, or run it on a terminal)",
        ));
    }
    Ok(code)
}

pub(super) async fn reset(
    cli: &Cli,
    config: &Config,
    username: &str,
    operator: &OperatorArgs,
) -> Result<Exit, Failure> {
    if cli.read_only {
        return Err(Failure::new(
            Exit::NotAllowed,
            "mfa reset writes; drop --read-only",
        ));
    }
    let (db, actor) = sign_in(cli, config, operator, false).await?;
    let result = db.bounded(mfa::reset(&db, &actor, username)).await;
    db.close().await;
    result?;
    eprintln!(
        "MFA cleared for {}: they sign in with their password until `modcon mfa enroll` runs again",
        clean_line(username)
    );
    Ok(Exit::Done)
}
