//! What the commands print. JSON keeps the seed documents' response fields; tables are
//! for people. Database text is hostile: tables pass it through the sanitiser, JSON
//! escapes everything outside printable ASCII.

use serde::Serialize;
use serde_json::{Value, json};

use crate::batch::Run;
use crate::cache::CacheOutcome;
use crate::db::audit::AuditEntry;
use crate::db::comments::{ContentKind, EditOutcome};
use crate::db::lists::{ChatSessionRow, Page};
use crate::db::plan::{FailReason, OpKind, Outcome, Plan, RowCounts};
use crate::db::{Allowance, DataError, Entity, Id, Schema};
use crate::sanitize::{clean_line, clean_lines, fit};

/// An id from the database, safe to print (a text id is written by strangers too).
fn show_id(id: &Id) -> String {
    clean_line(&id.to_string())
}

/// JSON with every character outside printable ASCII escaped (`\u001b`, `\u202e`…), so
/// printing it on a terminal can neither run an escape sequence nor reorder text.
pub fn safe_json(value: &impl Serialize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (' '..='~').contains(&c) || c == '\n' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

fn print_json(value: &impl Serialize) {
    println!("{}", safe_json(value));
}

/// "chat messages 12, chat sessions 1", messages first, in the platform's own words
/// for tables modcon does not know.
fn counts_text(schema: &Schema, counts: &RowCounts) -> String {
    if counts.is_empty() {
        return "nothing".into();
    }
    let mut items: Vec<(&str, i64)> = counts.iter().collect();
    items.sort_by_key(|(table, _)| schema.display_rank(table));
    items
        .iter()
        .map(|(table, n)| format!("{} {n}", clean_line(&schema.count_noun(table, 2))))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sum<'a>(items: impl Iterator<Item = &'a RowCounts>) -> RowCounts {
    let mut total = RowCounts::new();
    for c in items {
        total.add_all(c);
    }
    total
}

/// The reasons of the bulk-user-delete document, for its JSON.
fn user_reason(reason: &FailReason) -> String {
    match reason {
        FailReason::NotFound => "User not found".into(),
        FailReason::Yourself => "Cannot delete currently logged in user".into(),
        FailReason::Protected => "This user is protected and cannot be deleted".into(),
        FailReason::ServiceAccount => "This is a service account and cannot be deleted".into(),
        FailReason::LastActiveAdmin => "Cannot delete the last active admin".into(),
        other => other.to_string(),
    }
}

/// `limit`, `used`, `remaining`, `frees_at` of a rate limit, for a JSON document.
fn add_allowance(value: &mut Value, allowance: Option<&Allowance>) {
    if let (Some(map), Some(a)) = (value.as_object_mut(), allowance) {
        map.insert("limit".into(), a.limit.into());
        map.insert("used".into(), a.used.into());
        map.insert("remaining".into(), a.remaining.into());
        map.insert(
            "frees_at".into(),
            serde_json::to_value(a.frees_at).unwrap_or(Value::Null),
        );
    }
}

/// A batch refused for the operator's rate limit, as one JSON document.
pub(crate) fn print_rate_limited(error: &DataError) {
    let mut value = json!({
        "success": false,
        "status": "rate_limited",
        "changed_nothing": true,
        "message": error.to_string(),
    });
    add_allowance(&mut value, error.rate_limit().as_ref());
    print_json(&value);
}

pub(crate) fn print_plans(schema: &Schema, kind: OpKind, json: bool, plans: &[Plan]) {
    // Every batch was planned against the same hour: the first one's allowance holds.
    let allowance = plans.iter().find_map(|p| p.allowance);
    let counts = sum(plans.iter().map(|p| &p.counts));
    let kept = sum(plans.iter().map(|p| &p.kept));
    let targets: Vec<_> = plans.iter().flat_map(|p| &p.targets).collect();
    let refused: Vec<_> = plans.iter().flat_map(|p| &p.refused).collect();
    if json {
        let mut value = json!({
            "plan": true,
            "changed_nothing": true,
            "target_count": targets.len(),
            "refused_count": refused.len(),
            "counts": counts,
            "kept": kept,
            "soft_delete": plans.iter().any(|p| p.soft_delete),
            "targets": targets,
            "refused": refused.iter().map(|r| json!({
                "id": r.id,
                "label": r.label,
                "reason": r.reason.to_string(),
            })).collect::<Vec<_>>(),
        });
        add_allowance(&mut value, allowance.as_ref());
        print_json(&value);
        return;
    }
    let verb = kind.spec().verb;
    println!(
        "plan (nothing changed): {verb} {} of {}",
        targets.len(),
        kind.count(targets.len() + refused.len()),
    );
    for t in &targets {
        let owner = t
            .new_owner
            .as_ref()
            .map(|(_, name)| format!("  → owner {}", fit(name, 30)))
            .unwrap_or_default();
        println!(
            "  {verb:<8} {}  {}  {}{owner}",
            show_id(&t.id),
            fit(&t.label, 50),
            counts_text(schema, &t.counts)
        );
    }
    for r in &refused {
        println!(
            "  refused  {}  {}  {}",
            show_id(&r.id),
            fit(r.label.as_deref().unwrap_or(""), 30),
            clean_line(&r.reason.to_string())
        );
    }
    let what = if kind.is_repair() {
        "rows that would change"
    } else if plans.iter().any(|p| p.soft_delete) {
        "rows that would go (users are marked deleted, not removed)"
    } else {
        "rows that would go"
    };
    println!("{what}: {}", counts_text(schema, &counts));
    if !kept.is_empty() {
        println!(
            "kept, unlinked from what goes: {}",
            counts_text(schema, &kept)
        );
    }
    if let Some(a) = allowance {
        println!("rate limit: {}", allowance_text(kind, &a));
        if !a.fits(targets.len()) {
            println!(
                "this would go over the limit: it would be refused{}",
                a.frees_at
                    .map(|at| format!(" until {} UTC", at.format("%Y-%m-%d %H:%M:%S")))
                    .unwrap_or_default()
            );
        }
    }
}

/// "7 of 10 chat sessions left this hour".
fn allowance_text(kind: OpKind, a: &Allowance) -> String {
    format!(
        "{} of {} {} left this hour",
        a.remaining,
        a.limit,
        kind.nouns().1
    )
}

/// The outcome of a run: its committed batches and, where it stopped early, the ids
/// that never ran and why — one JSON document with `--json`.
pub(crate) fn print_outcomes(schema: &Schema, kind: OpKind, single: bool, json: bool, run: &Run) {
    let outcomes: &[Outcome] = &run.outcomes;
    let cache = run.cache.as_ref();
    let messages_table = schema.table_name(Entity::ChatMessages).to_string();
    let never_ran = run.never_ran_ids();
    let stopped = match (&run.error, run.stopped) {
        (Some(error), _) => Some(error.to_string()),
        (None, true) => Some("stopped on request".to_string()),
        (None, false) => None,
    };
    let done: Vec<_> = outcomes.iter().flat_map(|o| &o.done).collect();
    let failed: Vec<_> = outcomes.iter().flat_map(|o| &o.failed).collect();
    let counts = sum(outcomes.iter().map(|o| &o.counts));
    let kept = sum(outcomes.iter().map(|o| &o.kept));
    let batch_ids: Vec<_> = outcomes.iter().map(|o| o.batch_id).collect();
    let success = failed.is_empty() && never_ran.is_empty() && stopped.is_none();
    if json {
        let value = match kind {
            OpKind::DeleteChatSessions if single && never_ran.is_empty() => match done.first() {
                Some(d) => json!({
                    "success": true,
                    "deleted_session_id": d.id,
                    "deleted_messages_count": d.counts.get(&messages_table),
                    "counts": d.counts,
                    "kept": kept,
                }),
                None => match failed.first() {
                    Some(f) if f.reason != FailReason::NotFound => json!({
                        "success": false,
                        "detail": f.reason.to_string(),
                        "reason": f.reason,
                    }),
                    _ => json!({ "success": false, "detail": "Session not found" }),
                },
            },
            OpKind::DeleteChatSessions => json!({
                "success": success,
                "deleted_count": done.len(),
                "failed_ids": failed.iter().map(|f| f.id.clone()).collect::<Vec<_>>(),
                "total_messages_deleted": counts.get(&messages_table),
                "counts": counts,
                "kept": kept,
                "failures": failed.iter().map(|f| json!({
                    "id": f.id, "reason": f.reason.to_string(),
                })).collect::<Vec<_>>(),
                "batch_ids": batch_ids,
            }),
            OpKind::DeleteUsers => {
                let total = done.len() + failed.len();
                let message = if done.is_empty() {
                    "No users were deleted".to_string()
                } else if failed.is_empty() {
                    format!("Successfully deleted {} user(s)", done.len())
                } else {
                    format!(
                        "Deleted {} out of {total} user(s). {} failed.",
                        done.len(),
                        failed.len()
                    )
                };
                json!({
                    "success": success,
                    "deleted_count": done.len(),
                    "failed_count": failed.len(),
                    "deleted_users": done.iter().map(|d| json!({
                        "user_id": d.id,
                        "username": d.label,
                        "status": "deleted",
                    })).collect::<Vec<_>>(),
                    "failed_users": failed.iter().map(|f| json!({
                        "user_id": f.id,
                        "username": f.label.clone().unwrap_or_else(|| "unknown".into()),
                        "status": "failed",
                        "reason": user_reason(&f.reason),
                    })).collect::<Vec<_>>(),
                    "message": message,
                    "counts": counts,
                    "kept": kept,
                    "batch_ids": batch_ids,
                })
            }
            OpKind::RepairOrphanSessions => json!({
                "success": success,
                "repaired_count": done.len(),
                "failed_count": failed.len(),
                "repaired": done.iter().map(|d| json!({
                    "id": d.id,
                    "new_owner_id": d.new_owner.as_ref().map(|(id, _)| id.clone()),
                    "new_owner": d.new_owner.as_ref().map(|(_, name)| name.clone()),
                })).collect::<Vec<_>>(),
                "failed": failed.iter().map(|f| json!({
                    "id": f.id, "reason": f.reason.to_string(),
                })).collect::<Vec<_>>(),
                "batch_ids": batch_ids,
            }),
            _ => json!({
                "success": success,
                "deleted_count": done.len(),
                "failed_count": failed.len(),
                "deleted": done.iter().map(|d| json!({
                    "id": d.id, "label": d.label, "counts": d.counts,
                })).collect::<Vec<_>>(),
                "failed": failed.iter().map(|f| json!({
                    "id": f.id, "label": f.label, "reason": f.reason.to_string(),
                })).collect::<Vec<_>>(),
                "counts": counts,
                "batch_ids": batch_ids,
            }),
        };
        let mut value = value;
        if let Some(map) = value.as_object_mut() {
            if let Some(cache) = cache {
                map.insert(
                    "cache".into(),
                    serde_json::to_value(cache).unwrap_or(Value::Null),
                );
            }
            if let Some(why) = &stopped {
                map.insert("partly_done".into(), Value::Bool(!outcomes.is_empty()));
                map.insert("stopped_because".into(), Value::String(why.clone()));
                map.insert(
                    "done_ids".into(),
                    serde_json::to_value(run.done_ids()).unwrap_or(Value::Null),
                );
                map.insert(
                    "never_ran_ids".into(),
                    serde_json::to_value(&never_ran).unwrap_or(Value::Null),
                );
            }
            if outcomes.iter().any(|o| o.soft_delete) {
                map.insert("soft_delete".into(), Value::Bool(true));
            }
        }
        if let Some(error) = &run.error {
            add_allowance(&mut value, error.rate_limit().as_ref());
        }
        print_json(&value);
        return;
    }
    let verb = kind.spec().past;
    println!(
        "{verb} {} of {}; {}: {}",
        done.len(),
        kind.count(done.len() + failed.len()),
        if kind.is_repair() {
            "rows changed"
        } else {
            "rows removed"
        },
        counts_text(schema, &counts)
    );
    for d in &done {
        let owner = d
            .new_owner
            .as_ref()
            .map(|(_, name)| format!("  → owner {}", fit(name, 30)))
            .unwrap_or_default();
        println!(
            "  {verb:<8} {}  {}  {}{owner}",
            show_id(&d.id),
            fit(&d.label, 50),
            counts_text(schema, &d.counts)
        );
    }
    for f in &failed {
        let reason = if kind == OpKind::DeleteUsers {
            user_reason(&f.reason)
        } else {
            f.reason.to_string()
        };
        println!(
            "  refused  {}  {}  {}",
            show_id(&f.id),
            fit(f.label.as_deref().unwrap_or(""), 30),
            clean_line(&reason)
        );
    }
    if !kept.is_empty() {
        println!(
            "kept, unlinked from what went: {}",
            counts_text(schema, &kept)
        );
    }
    if let Some(why) = &stopped {
        println!(
            "stopped before the rest ({}): {} never ran: {}",
            clean_line(why),
            kind.count(never_ran.len()),
            never_ran.iter().map(show_id).collect::<Vec<_>>().join(" ")
        );
    }
    if let Some(cache) = cache.filter(|c| **c != CacheOutcome::NotConfigured) {
        println!("{}", clean_line(&cache.to_string()));
    }
}

pub(crate) fn print_orphans(rows: &[ChatSessionRow], json: bool, ids_only: bool) {
    if ids_only {
        for r in rows {
            println!("{}", show_id(&r.id));
        }
        return;
    }
    if json {
        print_json(&json!({
            "count": rows.len(),
            "orphans": rows.iter().map(|r| json!({
                "id": r.id,
                "title": r.title,
                "model": r.model,
                "guild": r.guild_name,
                "messages": r.messages,
                "created_at": r.created_at,
            })).collect::<Vec<_>>(),
        }));
        return;
    }
    eprintln!("{} orphaned chat session(s)", rows.len());
    for r in rows {
        println!(
            "{}  {}  {:>5} msgs  {}",
            show_id(&r.id),
            r.created_at.format("%Y-%m-%d %H:%M"),
            r.messages,
            fit(&r.title, 50)
        );
    }
}

pub(crate) fn print_edit(kind: ContentKind, id: &Id, json: bool, outcome: &EditOutcome) {
    let shown = show_id(id);
    if json {
        let value = match outcome {
            EditOutcome::Saved { version, batch_id } => json!({
                "success": true, "id": id, "version": version, "batch_id": batch_id,
            }),
            EditOutcome::Unchanged { version } => json!({
                "success": true, "id": id, "version": version, "unchanged": true,
            }),
            EditOutcome::Conflict { current, yours } => json!({
                "success": false,
                "status": "conflict",
                "id": id,
                "current_version": current.version,
                "current_text": current.content,
                "current_rating": current.rating,
                "your_text": yours,
            }),
            EditOutcome::Gone { yours } => json!({
                "success": false, "status": "gone", "id": id, "your_text": yours,
            }),
        };
        print_json(&value);
        return;
    }
    let noun = kind.as_str();
    match outcome {
        EditOutcome::Saved { version, .. } => {
            println!("saved {noun} {shown}: now version {version}")
        }
        EditOutcome::Unchanged { version } => {
            println!("{noun} {shown} already says that (version {version}); nothing written")
        }
        EditOutcome::Conflict { current, yours } => {
            eprintln!(
                "not saved: someone changed {noun} {shown} since version you edited; it is now \
                 version {} — nothing was overwritten",
                current.version
            );
            println!("--- current text (version {}) ---", current.version);
            for line in clean_lines(&current.content) {
                println!("{line}");
            }
            println!("--- your text ---");
            for line in clean_lines(yours) {
                println!("{line}");
            }
        }
        EditOutcome::Gone { yours } => {
            eprintln!("not saved: {noun} {shown} was deleted meanwhile; your text:");
            for line in clean_lines(yours) {
                println!("{line}");
            }
        }
    }
}

pub(crate) fn print_audit(page: &Page<AuditEntry, i64>, json: bool) {
    if json {
        let entries: Vec<Value> = page
            .rows
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
            .collect();
        print_json(&json!({ "entries": entries, "next_before": page.next }));
        return;
    }
    for e in &page.rows {
        println!(
            "{:>7}  {}  {}  {}  {}  {}",
            e.id,
            e.at.format("%Y-%m-%d %H:%M:%S"),
            crate::sanitize::pad(&fit(&e.actor_name, 16), 16),
            crate::sanitize::pad(&fit(&e.action, 26), 26),
            fit(&e.target_label, 40),
            e.reason
                .as_deref()
                .map(|r| format!("— {}", clean_line(r)))
                .unwrap_or_default()
        );
    }
    if let Some(next) = page.next {
        eprintln!("more: --before {next}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn safe_json_escapes_escape_sequences_and_bidi_and_stays_valid_json() {
        let value = json!({ "t": "\u{1b}]0;x\u{7}\u{202e}é\u{9b}😀" });
        let text = safe_json(&value);
        assert!(text.is_ascii(), "{text}");
        assert!(!text.contains('\u{1b}'));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
