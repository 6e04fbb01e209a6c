//! Scriptable commands: every moderation operation without the console, on the same
//! data layer, permissions and audit record. Data goes to stdout (a table, or JSON with
//! `--json`), messages to stderr; the exit code says how it went (see [`Exit`]).

mod index;
mod mfa;
mod output;
mod trash;

use std::io::{BufRead, IsTerminal, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::batch::{self, Group, Run};
use crate::cli::{
    AuditListArgs, ChatsCommand, Cli, Command, ContentChoice, ContentCommand, DeleteArgs, EditArgs,
    GuildsCommand, MessagesCommand, OperatorArgs, OrphansArgs, UsersCommand,
};
use crate::config::Config;
use crate::connect::{self, Failure};
use crate::db::audit::{AuditFilter, list_audit};
use crate::db::auth::{self, SignInError};
use crate::db::comments::{self, ContentEdit, ContentKind, EditOutcome};
use crate::db::ids::{MAX_TARGETS, Reason, parse_ids};
use crate::db::lists::{self, ChatSessionFilter};
use crate::db::plan::{ContentPolicy, OpKind, Plan};
use crate::db::{Access, Actor, DataError, Db, Id};
use crate::exit::Exit;

pub use output::safe_json;

/// Runs a moderation command; `None` if `command` is not one of them.
pub async fn run(cli: &Cli, config: &Config, command: &Command) -> Option<Result<Exit, Failure>> {
    let result = match command {
        Command::Chats(ChatsCommand::Delete(args)) => {
            delete(
                cli,
                config,
                args,
                OpKind::DeleteChatSessions,
                ContentPolicy::Keep,
            )
            .await
        }
        Command::Chats(ChatsCommand::Orphans(args)) => orphans(cli, config, args).await,
        Command::Chats(ChatsCommand::Messages(MessagesCommand::Delete(args))) => {
            delete(
                cli,
                config,
                args,
                OpKind::DeleteChatMessages,
                ContentPolicy::Keep,
            )
            .await
        }
        Command::Messages(MessagesCommand::Delete(args)) => {
            delete(
                cli,
                config,
                args,
                OpKind::DeletePrivateMessages,
                ContentPolicy::Keep,
            )
            .await
        }
        Command::Comments(ContentCommand::Delete(args)) => {
            delete(
                cli,
                config,
                args,
                OpKind::DeleteComments,
                ContentPolicy::Keep,
            )
            .await
        }
        Command::Reviews(ContentCommand::Delete(args)) => {
            delete(
                cli,
                config,
                args,
                OpKind::DeleteReviews,
                ContentPolicy::Keep,
            )
            .await
        }
        Command::Comments(ContentCommand::Edit(args)) => {
            edit(cli, config, args, ContentKind::Comment).await
        }
        Command::Reviews(ContentCommand::Edit(args)) => {
            edit(cli, config, args, ContentKind::Review).await
        }
        Command::Guilds(GuildsCommand::Delete(args)) => {
            delete(cli, config, args, OpKind::DeleteGuilds, ContentPolicy::Keep).await
        }
        Command::Users(UsersCommand::Delete(args)) => {
            let policy = match args.content {
                ContentChoice::Keep => ContentPolicy::Keep,
                ContentChoice::Delete => ContentPolicy::Delete,
            };
            delete(cli, config, &args.delete, OpKind::DeleteUsers, policy).await
        }
        Command::Audit(crate::cli::AuditCommand::List(args)) => audit(cli, config, args).await,
        Command::Audit(crate::cli::AuditCommand::Verify { json }) => {
            verify_audit(cli, config, *json).await
        }
        Command::Mfa(crate::cli::MfaCommand::Enroll { username }) => {
            mfa::enroll(cli, config, username).await
        }
        Command::Mfa(crate::cli::MfaCommand::Reset { username, operator }) => {
            mfa::reset(cli, config, username, operator).await
        }
        Command::Trash(command) => trash::run(cli, config, command).await,
        Command::Index(command) => index::run(cli, config, command).await,
        Command::Migrate | Command::Seed(_) | Command::Passwd(_) | Command::Schema(_) => {
            return None;
        }
    };
    Some(result)
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(Exit::Usage, message)
}

fn sign_in_failure(error: SignInError) -> Failure {
    match error {
        SignInError::Data(e) => e.into(),
        other => Failure::new(Exit::NotAllowed, format!("sign-in refused: {other}")),
    }
}

/// Reads the first line of a file, or of stdin for `-`.
fn first_line_of(path: &Path, stdin_busy: bool) -> Result<String, Failure> {
    let text = if path == Path::new("-") {
        if stdin_busy {
            return Err(usage(
                "stdin carries the ids, so the password cannot come from it too: \
                 use --password-file FILE",
            ));
        }
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut text)
            .map_err(|e| usage(format!("cannot read the password from stdin: {e}")))?;
        text
    } else {
        crate::files::check_password_file(path);
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(64 * 1024).read_to_string(&mut text))
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
        text
    };
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// Signs the operator in: the same rules and audit as the console. With
/// `--read-only`, the session then continues on a read-only connection.
pub(crate) async fn sign_in(
    cli: &Cli,
    config: &Config,
    operator: &OperatorArgs,
    stdin_busy: bool,
) -> Result<(Db, Actor), Failure> {
    let Some(username) = operator.user.clone().filter(|u| !u.is_empty()) else {
        return Err(usage(
            "who is acting? pass --user NAME (or set MODCON_USER)",
        ));
    };
    let password = match &operator.password_file {
        Some(path) => first_line_of(path, stdin_busy)?,
        None => rpassword::prompt_password(format!("Password for {username}: ")).map_err(|_| {
            usage("no terminal to ask for the password: use --password-file FILE (or - for stdin)")
        })?,
    };
    if password.is_empty() {
        return Err(usage("empty password"));
    }
    let code = match &operator.otp_file {
        Some(path) => Some(first_line_of(path, stdin_busy)?),
        None => None,
    };
    if code.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err(usage("empty code in the --otp-file"));
    }
    let (db, _) = connect::open(cli, config).await?;
    let attempt = |code| auth::Attempt {
        username: &username,
        password: &password,
        code,
        require_mfa: &config.security.require_mfa,
    };
    let signed_in = match db
        .bounded(auth::sign_in(&db, attempt(code.as_deref())))
        .await
    {
        // Asked only once the password is known to be right and MFA is on.
        Err(SignInError::CodeRequired) => {
            let code = rpassword::prompt_password(format!(
                "Code for {} (authenticator or recovery code): ",
                crate::sanitize::clean_line(&username)
            ))
            .map_err(|_| {
                usage(
                    "this operator has MFA and there is no terminal to ask for the code: \
                     use --otp-file FILE",
                )
            })?;
            db.bounded(auth::sign_in(&db, attempt(Some(&code)))).await
        }
        other => other,
    };
    let actor = match signed_in {
        Ok(actor) => actor,
        Err(e) => {
            db.close().await;
            return Err(sign_in_failure(e));
        }
    };
    tracing::info!(operator = %actor.username, role = %actor.role, "signed in for a command");
    if cli.read_only {
        let read_only = db.reopen(Access::ReadOnly).await?;
        db.close().await;
        return Ok((read_only, actor));
    }
    Ok((db, actor))
}

/// The ids to act on as typed, checked for count before anything happens; and whether
/// they came from stdin.
fn gather_id_texts(args: &DeleteArgs) -> Result<(Vec<String>, bool), Failure> {
    let from_stdin = args.ids.is_empty() || args.ids == ["-"];
    let texts: Vec<String> = if from_stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("reading ids from stdin, one per line; end with Ctrl-D");
        }
        let mut lines = Vec::new();
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| usage(format!("cannot read ids from stdin: {e}")))?;
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                lines.push(line.to_string());
            }
        }
        lines
    } else {
        args.ids.clone()
    };
    if texts.is_empty() {
        return Err(usage("no ids given (as arguments or on stdin)"));
    }
    if !from_stdin && texts.len() > MAX_TARGETS && !args.batches {
        return Err(usage(format!(
            "{} ids given; one request takes at most {MAX_TARGETS} — pass --batches to run \
             them in batches of {MAX_TARGETS}, or pipe them on stdin",
            texts.len()
        )));
    }
    Ok((texts, from_stdin))
}

/// Parses ids as the platform's column type for `kind` (read from the live catalog),
/// every malformed one named, duplicates refused.
fn parse_targets(db: &Db, kind: OpKind, texts: &[String]) -> Result<Vec<Id>, Failure> {
    let schema = db.schema()?;
    if !schema.is_enabled(kind.entity()) {
        return Err(usage(format!(
            "this platform has no {} (disabled in the schema map)",
            kind.nouns().1
        )));
    }
    let ids = parse_ids(texts, schema.id_kind(kind.entity()))?;
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    if let Some(dup) = ids.iter().find(|id| !seen.insert((*id).clone())) {
        return Err(usage(format!(
            "id {} is given twice",
            crate::sanitize::clean_line(&dup.to_string())
        )));
    }
    Ok(ids)
}

/// The reason given, which `[confirm] require_reason` makes mandatory.
fn reason_of(config: &Config, text: Option<&str>) -> Result<Option<Reason>, Failure> {
    let reason = Reason::new(text)?;
    if reason.is_none() && config.confirm.require_reason {
        return Err(usage(
            "a reason is required for every change here ([confirm] require_reason): pass \
             --reason TEXT",
        ));
    }
    Ok(reason)
}

/// Set on Ctrl-C: the run stops after the batch in flight.
fn stop_on_interrupt() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("modcon: stopping after the batch in flight (Ctrl-C)");
            flag.store(true, Ordering::SeqCst);
        }
    });
    stop
}

async fn delete(
    cli: &Cli,
    config: &Config,
    args: &DeleteArgs,
    kind: OpKind,
    policy: ContentPolicy,
) -> Result<Exit, Failure> {
    let (texts, from_stdin) = gather_id_texts(args)?;
    let reason = reason_of(config, args.reason.as_deref())?;
    let (db, actor) = sign_in(cli, config, &args.operator, from_stdin).await?;
    let ids = match parse_targets(&db, kind, &texts) {
        Ok(ids) => ids,
        Err(failure) => {
            db.close().await;
            return Err(failure);
        }
    };
    let single = ids.len() == 1 && !from_stdin;
    let group = Group {
        kind,
        ids,
        content: policy,
    };
    let result = act_in_batches(cli, config, &db, &actor, group, reason, args.plan).await;
    let schema = db.schema().cloned();
    db.close().await;
    report(&schema?, kind, single, args.output.json, result)
}

/// Plans only (`--plan`), or plans and executes batch by batch through the batch
/// service; Ctrl-C stops between batches.
async fn act_in_batches(
    cli: &Cli,
    config: &Config,
    db: &Db,
    actor: &Actor,
    group: Group,
    reason: Option<Reason>,
    plan_only: bool,
) -> Acted {
    let _ = cli;
    if plan_only {
        return Acted::Planned(batch::plan_batches(db, actor, &[group], reason).await);
    }
    let stop = stop_on_interrupt();
    let run = batch::run_batches(
        db,
        actor,
        &config.cache,
        &[group],
        reason,
        &stop,
        |done, total| {
            if total > 1 {
                eprintln!("batch {done} of {total} done");
            }
        },
    )
    .await;
    if let Some(cache @ crate::cache::CacheOutcome::NotCleared { .. }) = &run.cache {
        eprintln!(
            "modcon: the delete is committed, but the {}",
            crate::sanitize::clean_line(&cache.to_string())
        );
    }
    Acted::Ran(run)
}

/// What a delete command did.
enum Acted {
    Planned(Result<Vec<Plan>, DataError>),
    Ran(Run),
}

fn report(
    schema: &crate::db::Schema,
    kind: OpKind,
    single: bool,
    json: bool,
    acted: Acted,
) -> Result<Exit, Failure> {
    match acted {
        Acted::Planned(plans) => {
            let plans = plans?;
            output::print_plans(schema, kind, json, &plans);
            // As for a run: some of what was asked would be refused.
            Ok(if plans.iter().all(|p| p.refused.is_empty()) {
                Exit::Done
            } else {
                Exit::Partial
            })
        }
        Acted::Ran(run) => {
            if let Some(DataError::PlanChanged(_)) = &run.error
                && run.outcomes.is_empty()
            {
                // Nothing ran: the fresh plan is what the operator needs to see.
                output::print_plans(schema, kind, json, &run.not_run[..1.min(run.not_run.len())]);
                return Err(Failure::from(DataError::PlanChanged(Box::new(
                    run.not_run
                        .first()
                        .cloned()
                        .ok_or(DataError::Internal("no plan"))?,
                ))));
            }
            if run.outcomes.is_empty()
                && let Some(error) = run.error
            {
                if json && matches!(error, DataError::RateLimited { .. }) {
                    output::print_rate_limited(&error);
                }
                return Err(error.into());
            }
            output::print_outcomes(schema, kind, single, json, &run);
            if let Some(error) = &run.error {
                eprintln!(
                    "modcon: partly done — stopped after the batches above: {}",
                    crate::sanitize::clean_line(&error.to_string())
                );
            } else if run.stopped {
                eprintln!("modcon: partly done — stopped on request after the batches above");
            }
            Ok(if run.is_complete() {
                Exit::Done
            } else {
                Exit::Partial
            })
        }
    }
}

async fn orphans(cli: &Cli, config: &Config, args: &OrphansArgs) -> Result<Exit, Failure> {
    let reason = if args.repair {
        reason_of(config, args.reason.as_deref())?
    } else {
        Reason::new(args.reason.as_deref())?
    };
    let (db, actor) = sign_in(cli, config, &args.operator, false).await?;
    let filter = ChatSessionFilter {
        orphans_only: true,
        ..ChatSessionFilter::default()
    };
    let mut rows = Vec::new();
    let mut cursor = None;
    while rows.len() < args.limit {
        let page = db
            .bounded(lists::chat_sessions(
                &db,
                &filter,
                cursor,
                (args.limit - rows.len()).min(500),
            ))
            .await?;
        rows.extend(page.rows);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if !args.repair {
        db.close().await;
        output::print_orphans(&rows, args.json, args.ids_only);
        return Ok(Exit::Done);
    }
    let kind = OpKind::RepairOrphanSessions;
    let schema = db.schema().cloned();
    if rows.is_empty() {
        db.close().await;
        eprintln!("no orphaned chat sessions");
        output::print_outcomes(&schema?, kind, false, args.json, &Run::default());
        return Ok(Exit::Done);
    }
    let group = Group::new(kind, rows.iter().map(|r| r.id.clone()).collect());
    let acted = act_in_batches(cli, config, &db, &actor, group, reason, args.plan).await;
    db.close().await;
    report(&schema?, kind, false, args.json, acted)
}

async fn edit(
    cli: &Cli,
    config: &Config,
    args: &EditArgs,
    kind: ContentKind,
) -> Result<Exit, Failure> {
    let text_from_stdin = args.text_file.as_deref() == Some(Path::new("-"));
    let text = match (&args.text, &args.text_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| usage(format!("cannot read the text from stdin: {e}")))?;
            text
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?,
        (None, None) => return Err(usage("give the new text with --text or --text-file")),
    };
    if text.contains('\0') {
        return Err(usage(
            "the text holds a NUL character, which a comment cannot store",
        ));
    }
    let reason = reason_of(config, args.reason.as_deref())?;
    let (db, actor) = sign_in(cli, config, &args.operator, text_from_stdin).await?;
    let id = {
        let schema = db.schema()?;
        let kind_of_id = schema.id_kind(kind.entity());
        match parse_ids(std::slice::from_ref(&args.id), kind_of_id) {
            Ok(ids) => ids.into_iter().next().ok_or_else(|| usage("no id given"))?,
            Err(e) => {
                db.close().await;
                return Err(e.into());
            }
        }
    };
    let expected_version = match args.if_version {
        Some(v) => v,
        None => match db.bounded(comments::content_item(&db, kind, &id)).await? {
            Some(item) => item.version,
            None => {
                db.close().await;
                return Err(DataError::NotFound(format!(
                    "{} {}",
                    kind.as_str(),
                    crate::sanitize::clean_line(&id.to_string())
                ))
                .into());
            }
        },
    };
    let edit = ContentEdit {
        kind,
        id: id.clone(),
        expected_version,
        text,
        rating: args.rating,
        reason,
    };
    let outcome = db.bounded(comments::edit(&db, &actor, &edit)).await;
    db.close().await;
    let outcome = outcome?;
    output::print_edit(kind, &id, args.output.json, &outcome);
    Ok(match outcome {
        EditOutcome::Saved { .. } | EditOutcome::Unchanged { .. } => Exit::Done,
        EditOutcome::Conflict { .. } | EditOutcome::Gone { .. } => Exit::PlanChanged,
    })
}

/// Walks the audit record's hash chain; needs no sign-in (it reads, and says only where
/// the chain breaks).
async fn verify_audit(cli: &Cli, config: &Config, json: bool) -> Result<Exit, Failure> {
    let map = connect::schema_map(config)?;
    let (url, _) = connect::database_url(cli, config)?;
    let options = connect::connect_options(config)?;
    let db = Db::open_using(&url, Access::ReadOnly, &map, &options).await?;
    let report = db.bounded(crate::db::audit::verify(&db)).await;
    db.close().await;
    let report = report?;
    if json {
        println!("{}", safe_json(&report));
    } else {
        match &report.broken {
            None => println!("the audit record is intact: {} rows chained", report.rows),
            Some(broken) => println!(
                "the audit record was altered outside modcon: {broken} ({} rows before it are intact)",
                report.rows
            ),
        }
    }
    Ok(if report.is_intact() {
        Exit::Done
    } else {
        Exit::Tampered
    })
}

async fn audit(cli: &Cli, config: &Config, args: &AuditListArgs) -> Result<Exit, Failure> {
    let (db, _actor) = sign_in(cli, config, &args.operator, false).await?;
    let filter = AuditFilter {
        text: None,
        actor: args.actor.clone(),
        action: args.action.clone(),
        target: args.target.clone(),
        batch_id: None,
    };
    let page = if args.limit == 0 {
        Ok(crate::db::lists::Page {
            rows: Vec::new(),
            next: None,
        })
    } else {
        db.bounded(list_audit(
            &db,
            &filter,
            args.before,
            args.limit.min(10_000),
        ))
        .await
    };
    db.close().await;
    output::print_audit(&page?, args.output.json);
    Ok(Exit::Done)
}
