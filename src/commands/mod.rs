//! Scriptable commands: every moderation operation without the console, on the same
//! data layer, permissions and audit record. Data goes to stdout (a table, or JSON with
//! `--json`), messages to stderr; the exit code says how it went (see [`Exit`]).

mod output;

use std::io::{BufRead, IsTerminal, Read};
use std::path::Path;

use uuid::Uuid;

use crate::app::{self, Failure};
use crate::cache::{CacheOutcome, Owner};
use crate::cli::{
    AuditListArgs, ChatsCommand, Cli, Command, ContentChoice, ContentCommand, DeleteArgs, EditArgs,
    GuildsCommand, MessagesCommand, OperatorArgs, OrphansArgs, UsersCommand,
};
use crate::config::Config;
use crate::db::audit::{AuditFilter, list_audit};
use crate::db::auth::{self, SignInError};
use crate::db::comments::{self, ContentEdit, ContentKind, EditOutcome};
use crate::db::ids::{MAX_TARGETS, Reason, TargetIds, parse_ids};
use crate::db::lists::{self, ChatSessionFilter};
use crate::db::plan::{self, ContentPolicy, Operation, Outcome, Plan, Request};
use crate::db::{Access, Actor, DataError, Db};
use crate::exit::Exit;

pub use output::safe_json;

/// Runs a moderation command; `None` if `command` is not one of them.
pub async fn run(cli: &Cli, config: &Config, command: &Command) -> Option<Result<Exit, Failure>> {
    let result = match command {
        Command::Chats(ChatsCommand::Delete(args)) => {
            delete(cli, config, args, Kind::ChatSessions, ContentPolicy::Keep).await
        }
        Command::Chats(ChatsCommand::Orphans(args)) => orphans(cli, config, args).await,
        Command::Chats(ChatsCommand::Messages(MessagesCommand::Delete(args))) => {
            delete(cli, config, args, Kind::ChatMessages, ContentPolicy::Keep).await
        }
        Command::Messages(MessagesCommand::Delete(args)) => {
            delete(
                cli,
                config,
                args,
                Kind::PrivateMessages,
                ContentPolicy::Keep,
            )
            .await
        }
        Command::Comments(ContentCommand::Delete(args)) => {
            delete(cli, config, args, Kind::Comments, ContentPolicy::Keep).await
        }
        Command::Reviews(ContentCommand::Delete(args)) => {
            delete(cli, config, args, Kind::Reviews, ContentPolicy::Keep).await
        }
        Command::Comments(ContentCommand::Edit(args)) => {
            edit(cli, config, args, ContentKind::Comment).await
        }
        Command::Reviews(ContentCommand::Edit(args)) => {
            edit(cli, config, args, ContentKind::Review).await
        }
        Command::Guilds(GuildsCommand::Delete(args)) => {
            delete(cli, config, args, Kind::Guilds, ContentPolicy::Keep).await
        }
        Command::Users(UsersCommand::Delete(args)) => {
            let policy = match args.content {
                ContentChoice::Keep => ContentPolicy::Keep,
                ContentChoice::Delete => ContentPolicy::Delete,
            };
            delete(cli, config, &args.delete, Kind::Users, policy).await
        }
        Command::Audit(crate::cli::AuditCommand::List(args)) => audit(cli, config, args).await,
        Command::Migrate | Command::Seed(_) | Command::Passwd(_) | Command::Schema(_) => {
            return None;
        }
    };
    Some(result)
}

/// What a delete command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ChatSessions,
    ChatMessages,
    PrivateMessages,
    Comments,
    Reviews,
    Guilds,
    Users,
    OrphanRepair,
}

impl Kind {
    fn operation(self, ids: TargetIds, policy: ContentPolicy) -> Operation {
        match self {
            Kind::ChatSessions => Operation::DeleteChatSessions { ids },
            Kind::ChatMessages => Operation::DeleteChatMessages { ids },
            Kind::PrivateMessages => Operation::DeletePrivateMessages { ids },
            Kind::Comments => Operation::DeleteComments { ids },
            Kind::Reviews => Operation::DeleteReviews { ids },
            Kind::Guilds => Operation::DeleteGuilds { ids },
            Kind::Users => Operation::DeleteUsers {
                ids,
                content: policy,
            },
            Kind::OrphanRepair => Operation::RepairOrphanSessions { ids },
        }
    }

    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::ChatSessions | Kind::OrphanRepair => "chat session",
            Kind::ChatMessages => "chat message",
            Kind::PrivateMessages => "message",
            Kind::Comments => "comment",
            Kind::Reviews => "review",
            Kind::Guilds => "guild",
            Kind::Users => "user",
        }
    }
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
async fn sign_in(
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
    let (db, _) = app::open(cli, config).await?;
    let actor = auth::sign_in(&db, &username, &password)
        .await
        .map_err(sign_in_failure)?;
    tracing::info!(operator = %actor.username, role = %actor.role, "signed in for a command");
    if cli.read_only {
        let read_only = db.reopen(Access::ReadOnly).await?;
        db.close().await;
        return Ok((read_only, actor));
    }
    Ok((db, actor))
}

/// The ids to act on, all validated before anything happens; and whether they came
/// from stdin.
fn gather_ids(args: &DeleteArgs) -> Result<(Vec<Uuid>, bool), Failure> {
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
    let ids = parse_ids(&texts)?;
    if ids.is_empty() {
        return Err(usage("no ids given (as arguments or on stdin)"));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    if let Some(dup) = ids.iter().find(|id| !seen.insert(**id)) {
        return Err(usage(format!("id {dup} is given twice")));
    }
    if !from_stdin && ids.len() > MAX_TARGETS && !args.batches {
        return Err(usage(format!(
            "{} ids given; one request takes at most {MAX_TARGETS} — pass --batches to run \
             them in batches of {MAX_TARGETS}, or pipe them on stdin",
            ids.len()
        )));
    }
    Ok((ids, from_stdin))
}

async fn delete(
    cli: &Cli,
    config: &Config,
    args: &DeleteArgs,
    kind: Kind,
    policy: ContentPolicy,
) -> Result<Exit, Failure> {
    let (ids, from_stdin) = gather_ids(args)?;
    let reason = Reason::new(args.reason.as_deref())?;
    let (db, actor) = sign_in(cli, config, &args.operator, from_stdin).await?;
    let single = ids.len() == 1 && !from_stdin;
    let result = act_in_batches(&db, &actor, kind, policy, &ids, reason, args.plan).await;
    db.close().await;
    let cache = match kind {
        Kind::Guilds | Kind::Users if !args.plan => {
            let owner = if kind == Kind::Guilds {
                Owner::Guild
            } else {
                Owner::User
            };
            let done: Vec<Uuid> = result
                .outcomes
                .iter()
                .flat_map(|o| o.done.iter().map(|d| d.id))
                .collect();
            let outcome = crate::cache::invalidate(&config.cache, owner, &done).await;
            if let CacheOutcome::NotCleared { .. } = &outcome {
                eprintln!(
                    "modcon: the delete is committed, but the {}",
                    crate::sanitize::clean_line(&outcome.to_string())
                );
            }
            Some(outcome)
        }
        _ => None,
    };
    report(kind, single, args.output.json, result, cache)
}

/// The plans or outcomes of the batches done, and the error that stopped the rest.
pub(crate) struct BatchResults {
    pub plans: Vec<Plan>,
    pub outcomes: Vec<Outcome>,
    pub error: Option<DataError>,
}

async fn act_in_batches(
    db: &Db,
    actor: &Actor,
    kind: Kind,
    policy: ContentPolicy,
    ids: &[Uuid],
    reason: Option<Reason>,
    plan_only: bool,
) -> BatchResults {
    let mut results = BatchResults {
        plans: Vec::new(),
        outcomes: Vec::new(),
        error: None,
    };
    let batches = ids.len().div_ceil(MAX_TARGETS);
    for (i, chunk) in ids.chunks(MAX_TARGETS).enumerate() {
        let request = match TargetIds::new(chunk.to_vec()) {
            Ok(targets) => Request::new(kind.operation(targets, policy), reason.clone()),
            Err(e) => {
                results.error = Some(e);
                break;
            }
        };
        let step = if plan_only {
            plan::plan(db, actor, request)
                .await
                .map(|p| results.plans.push(p))
        } else {
            plan::run(db, actor, request)
                .await
                .map(|o| results.outcomes.push(o))
        };
        if let Err(e) = step {
            results.error = Some(e);
            break;
        }
        if batches > 1 {
            eprintln!("batch {} of {batches} done", i + 1);
        }
    }
    results
}

fn report(
    kind: Kind,
    single: bool,
    json: bool,
    results: BatchResults,
    cache: Option<CacheOutcome>,
) -> Result<Exit, Failure> {
    let done_something = !results.plans.is_empty() || !results.outcomes.is_empty();
    if let Some(error) = &results.error {
        if let DataError::PlanChanged(fresh) = error {
            output::print_plans(kind, json, std::slice::from_ref(fresh.as_ref()));
        } else if done_something {
            eprintln!(
                "modcon: stopped after the batches below: {}",
                crate::sanitize::clean_line(&error.to_string())
            );
        }
    }
    if !results.plans.is_empty() {
        output::print_plans(kind, json, &results.plans);
    }
    if !results.outcomes.is_empty() {
        output::print_outcomes(kind, single, json, &results.outcomes, cache.as_ref());
    }
    if let Some(error) = results.error {
        return Err(error.into());
    }
    let complete = results.outcomes.iter().all(Outcome::is_complete);
    Ok(if complete { Exit::Done } else { Exit::Partial })
}

async fn orphans(cli: &Cli, config: &Config, args: &OrphansArgs) -> Result<Exit, Failure> {
    let reason = Reason::new(args.reason.as_deref())?;
    let (db, actor) = sign_in(cli, config, &args.operator, false).await?;
    let filter = ChatSessionFilter {
        orphans_only: true,
        ..ChatSessionFilter::default()
    };
    let mut rows = Vec::new();
    let mut cursor = None;
    while rows.len() < args.limit {
        let page =
            lists::chat_sessions(&db, &filter, cursor, (args.limit - rows.len()).min(500)).await?;
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
    if rows.is_empty() {
        db.close().await;
        eprintln!("no orphaned chat sessions");
        output::print_outcomes(Kind::OrphanRepair, false, args.json, &[], None);
        return Ok(Exit::Done);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let results = act_in_batches(
        &db,
        &actor,
        Kind::OrphanRepair,
        ContentPolicy::Keep,
        &ids,
        reason,
        args.plan,
    )
    .await;
    db.close().await;
    report(Kind::OrphanRepair, false, args.json, results, None)
}

async fn edit(
    cli: &Cli,
    config: &Config,
    args: &EditArgs,
    kind: ContentKind,
) -> Result<Exit, Failure> {
    let id = parse_ids(std::slice::from_ref(&args.id))?
        .into_iter()
        .next()
        .ok_or_else(|| usage("no id given"))?;
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
    let reason = Reason::new(args.reason.as_deref())?;
    let (db, actor) = sign_in(cli, config, &args.operator, text_from_stdin).await?;
    let expected_version = match args.if_version {
        Some(v) => v,
        None => match comments::content_item(&db, kind, id).await? {
            Some(item) => item.version,
            None => {
                db.close().await;
                return Err(DataError::NotFound(format!("{} {id}", kind.as_str())).into());
            }
        },
    };
    let edit = ContentEdit {
        kind,
        id,
        expected_version,
        text,
        rating: args.rating,
        reason,
    };
    let outcome = comments::edit(&db, &actor, &edit).await;
    db.close().await;
    let outcome = outcome?;
    output::print_edit(kind, id, args.output.json, &outcome);
    Ok(match outcome {
        EditOutcome::Saved { .. } | EditOutcome::Unchanged { .. } => Exit::Done,
        EditOutcome::Conflict { .. } | EditOutcome::Gone { .. } => Exit::PlanChanged,
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
    let page = list_audit(&db, &filter, args.before, args.limit.clamp(1, 10_000)).await;
    db.close().await;
    output::print_audit(&page?, args.output.json);
    Ok(Exit::Done)
}
