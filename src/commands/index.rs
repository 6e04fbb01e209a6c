//! `modcon index plan | create`: the trigram indexes the text filters and the content
//! search need. On a mapped platform modcon never changes its tables unasked; this is
//! the asking.

use super::{safe_json, sign_in};
use crate::cli::{Cli, IndexCommand};
use crate::config::Config;
use crate::connect::{self, Failure};
use crate::db::search::{self, IndexPlan};
use crate::exit::Exit;
use crate::sanitize::clean_line;

pub(super) async fn run(
    cli: &Cli,
    config: &Config,
    command: &IndexCommand,
) -> Result<Exit, Failure> {
    match command {
        IndexCommand::Plan(output) => {
            let (db, _) = connect::open(cli, config).await?;
            let plan = search::plan_text_indexes(&db).await;
            let namespace = db.schema().ok().and_then(|s| s.namespace.clone());
            let backend = db.backend();
            db.close().await;
            let plan = plan?;
            if output.json {
                println!("{}", safe_json(&plan));
            } else {
                print_plan(&plan, backend, namespace.as_deref());
            }
            Ok(Exit::Done)
        }
        IndexCommand::Create(args) => {
            let (db, actor) = sign_in(cli, config, &args.operator, false).await?;
            let created = search::create_text_indexes(&db, &actor).await;
            db.close().await;
            let created = created?;
            if args.output.json {
                println!("{}", safe_json(&created));
            } else if created.is_empty() {
                eprintln!("every trigram index is already there: nothing was created");
            } else {
                for statement in &created {
                    println!("{}", clean_line(statement));
                }
                eprintln!("created (and recorded on the audit log)");
            }
            Ok(Exit::Done)
        }
    }
}

fn print_plan(plan: &IndexPlan, backend: crate::db::Backend, namespace: Option<&str>) {
    if let Some(why) = &plan.unavailable {
        eprintln!("{}", clean_line(why));
    }
    for index in &plan.indexes {
        let state = if index.exists { "exists " } else { "missing" };
        let what = format!("{}.{}", index.table, index.column);
        if index.exists || plan.unavailable.is_some() {
            println!("{state}  {}", clean_line(&what));
        } else {
            println!(
                "{state}  {:<28}  {}",
                clean_line(&what),
                clean_line(&index.create_sql(backend, namespace, true))
            );
        }
    }
    let missing = plan.missing().count();
    if plan.unavailable.is_none() {
        if missing == 0 {
            eprintln!("every searched column has its trigram index");
        } else {
            if plan.needs_extension {
                eprintln!(
                    "pg_trgm is not installed in this database: create would install it first"
                );
            }
            eprintln!("{missing} missing: `modcon index create --user ADMIN` creates them");
        }
    }
}
