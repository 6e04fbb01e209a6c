//! The application edge: resolve the database, then run the console or a command.

use std::io::{IsTerminal, Read};

use color_eyre::eyre::{WrapErr, eyre};

use crate::cli::{Cli, Command, PasswdArgs, SeedArgs};
use crate::config::Config;
pub use crate::connect::{
    Failure, Source, connect_options, database_url, open, os_user, schema_map,
};
use crate::db::{Access, DataError, Db};
use crate::exit::Exit;

pub async fn run(cli: Cli, config: Config) -> Result<Exit, Failure> {
    if let Some(command) = &cli.command
        && let Some(result) = crate::commands::run(&cli, &config, command).await
    {
        return result;
    }
    match &cli.command {
        None => console(&cli, &config).await,
        Some(Command::Migrate) => migrate(&cli, &config).await,
        Some(Command::Seed(args)) => seed(&cli, &config, args).await,
        Some(Command::Passwd(args)) => passwd(&cli, &config, args).await,
        Some(Command::Schema(command)) => schema(&cli, &config, command).await,
        Some(_) => Err(Failure::new(Exit::Failed, "unhandled command")),
    }
}

async fn console(cli: &Cli, config: &Config) -> Result<Exit, Failure> {
    use crate::tui::{self, app::Options, keymap::Keymap, theme::Theme};
    let map = schema_map(config)?;
    let (url, source) = database_url(cli, config)?;
    let demo = matches!(source, Source::Demo(_));
    let (keymap, keymap_problems) = Keymap::with_overrides(&config.keys);
    for problem in &keymap_problems {
        tracing::warn!("{problem}");
    }
    let demo_operators = if demo {
        crate::seed::DEMO_OPERATORS
            .iter()
            .map(|(name, password, role)| {
                (name.to_string(), password.to_string(), role.to_string())
            })
            .collect()
    } else {
        Vec::new()
    };
    let launch = tui::Launch {
        url,
        map,
        demo,
        cache: config.cache.clone(),
        limits: config.limits,
        require_mfa: config.security.require_mfa.clone(),
        connect: connect_options(config)?,
        options: Options {
            read_only: cli.read_only,
            demo_operators,
            confirm: config.confirm.clone(),
            keymap,
            keymap_problems,
            theme: Theme::from_env(),
        },
    };
    tui::run(launch)
        .await
        .map_err(|e| Failure::new(Exit::Failed, format!("the terminal failed: {e}")))?;
    Ok(Exit::Done)
}

/// `modcon schema check | show | init`: read-only, no sign-in (the catalog is no
/// moderation data); what is printed from the database is sanitised.
async fn schema(
    cli: &Cli,
    config: &Config,
    command: &crate::cli::SchemaCommand,
) -> Result<Exit, Failure> {
    use crate::cli::SchemaCommand;
    let clean = |text: &str| {
        crate::sanitize::clean_lines(text)
            .join("\n")
            .trim_end()
            .to_string()
            + "\n"
    };
    let map = schema_map(config)?;
    let (url, _) = database_url(cli, config)?;
    let db = Db::connect_using(&url, Access::ReadOnly, &connect_options(config)?).await?;
    let result = match command {
        SchemaCommand::Init { namespace } => {
            let catalog = db
                .bounded(db.catalog(namespace.as_deref().or(map.namespace.as_deref())))
                .await;
            catalog.map(|catalog| {
                print!("{}", clean(&crate::db::schema::draft_map(&catalog)));
                Exit::Done
            })
        }
        SchemaCommand::Check | SchemaCommand::Show => match db.bounded(db.check_map(&map)).await {
            Ok(schema) => {
                if matches!(command, SchemaCommand::Show) {
                    print!("{}", clean(&crate::db::schema::render_graph(&schema)));
                } else {
                    println!(
                        "the schema map fits {} ({} entities enabled)",
                        db.display_url(),
                        schema.enabled_entities().count()
                    );
                }
                Ok(Exit::Done)
            }
            Err(DataError::Schema(problems)) => {
                for problem in &problems {
                    eprintln!("{}", crate::sanitize::clean_line(problem));
                }
                Ok(Exit::Usage)
            }
            Err(other) => Err(other),
        },
    };
    db.close().await;
    Ok(result?)
}

async fn migrate(cli: &Cli, config: &Config) -> Result<Exit, Failure> {
    if cli.read_only {
        return Err(Failure::new(
            Exit::NotAllowed,
            "migrate changes the schema; drop --read-only",
        ));
    }
    let map = schema_map(config)?;
    let (url, source) = database_url(cli, config)?;
    // `migrate` is the one command that may create a new SQLite file.
    let _ = source;
    let db = Db::create_using(&url, &connect_options(config)?).await?;
    let report = db.bounded(db.migrate(&map)).await;
    let where_ = db.display_url();
    // modcon's tables are there now; the map must also fit the platform's tables.
    let checked = match &report {
        Ok(_) => db.bounded(db.check_map(&map)).await.map(|_| ()),
        Err(_) => Ok(()),
    };
    db.close().await;
    let report = report?;
    let scope = if report.reference {
        "modcon's tables and the reference schema"
    } else {
        "modcon's own tables (the platform's tables are left as they are)"
    };
    if report.applied.is_empty() {
        eprintln!("{scope}: already up to date on {where_}");
    } else {
        eprintln!("{scope} on {where_}: applied");
        for migration in &report.applied {
            eprintln!("  {migration}");
        }
    }
    if let Err(DataError::Schema(problems)) = checked {
        eprintln!("but the [schema] map does not fit the database:");
        for problem in &problems {
            eprintln!("{}", crate::sanitize::clean_line(problem));
        }
        return Ok(Exit::Usage);
    }
    checked?;
    Ok(Exit::Done)
}

async fn seed(cli: &Cli, config: &Config, args: &SeedArgs) -> Result<Exit, Failure> {
    if cli.read_only {
        return Err(Failure::new(
            Exit::NotAllowed,
            "seed writes data; drop --read-only",
        ));
    }
    let (db, _) = open(cli, config).await?;
    if args.demo_data {
        let seeded = crate::seed::seed_demo_if_empty(&db).await?;
        db.close().await;
        if !seeded {
            return Err(Failure::new(
                Exit::Usage,
                "the database already has users: the demo data goes only into an empty one \
                 (nothing was added)",
            ));
        }
        let operators: Vec<String> = crate::seed::DEMO_OPERATORS
            .iter()
            .map(|(name, password, _)| format!("{name} / {password}"))
            .collect();
        println!("added the demo data; operators: {}", operators.join(", "));
        return Ok(Exit::Done);
    }
    let spec = crate::seed::ScaleSpec {
        users: args.users,
        guilds: args.guilds,
        sessions: args.sessions,
        messages_per_session: args.messages_per_session,
        orphan_percent: args.orphan_percent,
    };
    let started = std::time::Instant::now();
    let done = crate::seed::seed_scale(&db, spec, |s| {
        eprint!(
            "\rseeding: {} users, {} guilds, {} sessions, {} messages",
            s.users, s.guilds, s.sessions, s.messages
        );
    })
    .await?;
    eprintln!();
    println!(
        "added {} users, {} guilds, {} chat sessions, {} chat messages in {:.1} s",
        done.users,
        done.guilds,
        done.sessions,
        done.messages,
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(Exit::Done)
}

async fn passwd(cli: &Cli, config: &Config, args: &PasswdArgs) -> Result<Exit, Failure> {
    if cli.read_only {
        return Err(Failure::new(
            Exit::NotAllowed,
            "passwd writes; drop --read-only",
        ));
    }
    let password =
        read_new_password(&args.username).map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
    let (db, _) = open(cli, config).await?;
    let by = format!("passwd:{}", os_user());
    db.bounded(crate::db::auth::set_password(
        &db,
        &args.username,
        &password,
        &by,
    ))
    .await?;
    eprintln!(
        "password set for {}",
        crate::sanitize::clean_line(&args.username)
    );
    db.close().await;
    Ok(Exit::Done)
}

/// From the terminal without echo (asked twice), or the first line of piped stdin.
fn read_new_password(username: &str) -> color_eyre::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {username}: "))
            .wrap_err("cannot read the password from the terminal")?;
        let second = rpassword::prompt_password("Again: ")
            .wrap_err("cannot read the password from the terminal")?;
        if first != second {
            return Err(eyre!("the two passwords differ; nothing was changed"));
        }
        Ok(first)
    } else {
        let mut text = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .wrap_err("cannot read the password from stdin")?;
        let line = text.lines().next().unwrap_or("").to_string();
        if line.is_empty() {
            return Err(eyre!("no password on stdin; nothing was changed"));
        }
        Ok(line)
    }
}
