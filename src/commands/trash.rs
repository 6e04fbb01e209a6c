//! `modcon trash list | show | restore | purge` (SPEC §10), admin only, on the data
//! layer's trash: the same permission, transaction and audit as everywhere else.

use uuid::Uuid;

use super::{safe_json, sign_in, usage};
use crate::cli::{Cli, TrashCommand};
use crate::config::Config;
use crate::connect::Failure;
use crate::db::trash::{self, RestoreReport, TrashBatch, TrashItem};
use crate::exit::Exit;
use crate::sanitize::clean_line;

pub(super) async fn run(
    cli: &Cli,
    config: &Config,
    command: &TrashCommand,
) -> Result<Exit, Failure> {
    match command {
        TrashCommand::List(args) => {
            let (db, actor) = sign_in(cli, config, &args.operator, false).await?;
            let batches = db.bounded(trash::list(&db, &actor)).await;
            db.close().await;
            print_batches(&batches?, args.output.json);
            Ok(Exit::Done)
        }
        TrashCommand::Show(args) => {
            let batch = batch_id(&args.batch)?;
            let (db, actor) = sign_in(cli, config, &args.operator, false).await?;
            let shown = db.bounded(trash::show(&db, &actor, batch)).await;
            db.close().await;
            let (batch, items) = shown?;
            print_batch(&batch, &items, args.output.json);
            Ok(Exit::Done)
        }
        TrashCommand::Restore(args) => {
            let batch = batch_id(&args.batch)?;
            let (db, actor) = sign_in(cli, config, &args.operator, false).await?;
            let restored = db
                .bounded(crate::batch::restore_batch(
                    &db,
                    &actor,
                    &config.cache,
                    batch,
                    args.plan,
                ))
                .await;
            db.close().await;
            let crate::batch::Restored { report, cache } = restored?;
            print_report(&report, args.output.json);
            if let Some(cache @ crate::cache::CacheOutcome::NotCleared { .. }) = &cache {
                eprintln!(
                    "the restore is committed, but the {}",
                    clean_line(&cache.to_string())
                );
            }
            Ok(if report.is_complete() {
                Exit::Done
            } else {
                Exit::Partial
            })
        }
        TrashCommand::Purge(args) => {
            let days = args.older_than.unwrap_or(config.trash.keep_days);
            let (db, actor) = sign_in(cli, config, &args.operator, false).await?;
            let purged = db.bounded(trash::purge(&db, &actor, days)).await;
            db.close().await;
            let purged = purged?;
            if args.output.json {
                println!("{}", safe_json(&purged));
            } else {
                println!(
                    "purged {} batches ({} rows) deleted more than {days} days ago",
                    purged.batches, purged.rows
                );
            }
            Ok(Exit::Done)
        }
    }
}

fn batch_id(text: &str) -> Result<Uuid, Failure> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        usage(format!(
            "{} is not a batch id (a uuid, as `modcon trash list` shows)",
            clean_line(text)
        ))
    })
}

fn counts_line(batch: &TrashBatch) -> String {
    let mut parts: Vec<String> = batch
        .rows
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    if !batch.unlinked.is_empty() {
        parts.push(format!("unlinked {}", batch.unlinked.total()));
    }
    if batch.soft_deleted > 0 {
        parts.push(format!("marked deleted {}", batch.soft_deleted));
    }
    clean_line(&parts.join(", "))
}

fn print_batches(batches: &[TrashBatch], json: bool) {
    if json {
        println!("{}", safe_json(&batches));
        return;
    }
    if batches.is_empty() {
        eprintln!("the trash is empty");
        return;
    }
    println!(
        "{:<36}  {:<19}  {:<16}  {:<20}  ROWS",
        "BATCH", "DELETED AT (UTC)", "OPERATOR", "OPERATION"
    );
    for batch in batches {
        let restored = match (&batch.restored_at, &batch.restored_by) {
            (Some(at), by) => format!(
                "  [restored {} by {}]",
                at.format("%Y-%m-%d %H:%M"),
                clean_line(by.as_deref().unwrap_or(""))
            ),
            _ => String::new(),
        };
        println!(
            "{:<36}  {:<19}  {:<16}  {:<20}  {}{restored}",
            batch.batch_id,
            batch.at.format("%Y-%m-%d %H:%M:%S"),
            clean_line(&batch.actor),
            clean_line(&batch.action),
            counts_line(batch),
        );
    }
}

fn print_batch(batch: &TrashBatch, items: &[TrashItem], json: bool) {
    if json {
        println!(
            "{}",
            safe_json(&serde_json::json!({ "batch": batch, "items": items }))
        );
        return;
    }
    println!(
        "batch {} — {} by {} at {} UTC: {}",
        batch.batch_id,
        clean_line(&batch.action),
        clean_line(&batch.actor),
        batch.at.format("%Y-%m-%d %H:%M:%S"),
        counts_line(batch)
    );
    for item in items {
        let what = match item.kind.as_str() {
            "row" => String::new(),
            other => format!(" ({other})"),
        };
        println!(
            "  {}{what}: {}",
            clean_line(&item.table),
            clean_line(&item.row.to_string())
        );
    }
}

fn print_report(report: &RestoreReport, json: bool) {
    if json {
        println!("{}", safe_json(report));
        return;
    }
    let verb = if report.planned {
        "would come back"
    } else {
        "came back"
    };
    println!(
        "{} {}: {} rows {verb}, {} cannot",
        if report.planned {
            "plan for"
        } else {
            "restored"
        },
        report.batch_id,
        report.restored(),
        report.refused.len()
    );
    for table in &report.tables {
        let mut line = format!(
            "  {}: {} back",
            clean_line(&table.table),
            table.restored + table.relinked
        );
        if table.relinked > 0 {
            line.push_str(&format!(" ({} linked back)", table.relinked));
        }
        if table.refused + table.relink_refused > 0 {
            line.push_str(&format!(
                ", {} refused",
                table.refused + table.relink_refused
            ));
        }
        println!("{line}");
    }
    for refusal in &report.refused {
        println!(
            "  refused {} ({}): {}",
            clean_line(&refusal.table),
            clean_line(&refusal.key),
            clean_line(&refusal.reason)
        );
    }
    if report.planned {
        eprintln!("nothing was changed (--plan)");
    }
}
