//! Plan, confirm, execute (SPEC §4.1). [`plan`] asks the database what an operation
//! from the catalogue ([`super::ops`]) would do: its targets described by their entity,
//! and what goes with them measured on the live foreign keys ([`super::impact`]).
//! [`execute`] takes the confirmed plan, locks the rows, plans again inside its own
//! transaction and refuses with [`DataError::PlanChanged`] if anything grew.

use uuid::Uuid;

use super::audit::{self, AuditRow};
use super::comments::ContentKind;
use super::impact::{self, Root};
use super::model::Described;
use super::{
    Actor, DataError, Db, Schema, Sql, Tx, chats, comments, guilds, limits, messages, trash, users,
};

pub use super::model::{
    Done, FailReason, Outcome, Plan, PlannedTarget, Refusal, RowCounts, excerpt,
};
pub use super::ops::{ContentPolicy, OpKind, Operation, Request};

/// Computes what `request` would do, changing nothing. A request refused for
/// permission is audited.
pub async fn plan(db: &Db, actor: &Actor, request: Request) -> Result<Plan, DataError> {
    let spec = request.operation.spec();
    let ids = request.operation.ids.as_slice().to_vec();
    let result = plan_checked(db, actor, request).await;
    if let Err(DataError::Forbidden(why)) = &result {
        audit::record_refusal(db, actor, spec.action, spec.target_type, &ids, why).await;
    }
    result
}

async fn plan_checked(db: &Db, actor: &Actor, request: Request) -> Result<Plan, DataError> {
    let schema = db.schema()?;
    let permission = request.operation.permission();
    actor.require(permission)?;
    let mut tx = db.read().await?;
    actor.verify(&mut tx, schema, permission).await?;
    let mut plan = plan_in(&mut tx, schema, actor, request).await?;
    let kind = plan.request.operation.kind;
    plan.allowance =
        limits::allowance(&mut tx, db.limits(), actor, kind, plan.targets.len()).await?;
    tx.rollback().await?;
    Ok(plan)
}

/// Carries out a confirmed plan in one transaction with its audit rows. A request
/// refused for permission is audited. A transaction the database chose to break a
/// deadlock is run once more, planned again from the start.
pub async fn execute(db: &Db, actor: &Actor, confirmed: &Plan) -> Result<Outcome, DataError> {
    let result = match execute_checked(db, actor, confirmed).await {
        Err(DataError::Deadlock(first)) => {
            tracing::info!(operator = %actor.username, error = %first, "deadlock: running the transaction once more");
            execute_checked(db, actor, confirmed).await
        }
        other => other,
    };
    if let Err(DataError::Forbidden(why)) = &result {
        let spec = confirmed.request.operation.spec();
        let ids = confirmed.request.operation.ids.as_slice();
        audit::record_refusal(db, actor, spec.action, spec.target_type, ids, why).await;
    }
    result
}

async fn execute_checked(db: &Db, actor: &Actor, confirmed: &Plan) -> Result<Outcome, DataError> {
    let schema = db.schema()?;
    let operation = &confirmed.request.operation;
    let permission = operation.permission();
    actor.require(permission)?;
    let mut tx = db.write().await?;
    let limited = db.limits().cap(operation.kind).is_some();
    if limited {
        // First, before any row lock: one operator's limited deletes queue here.
        limits::lock_operator(&mut tx, actor).await?;
    }
    lock_targets(&mut tx, schema, confirmed).await?;
    actor.verify(&mut tx, schema, permission).await?;
    let mut fresh = plan_in(&mut tx, schema, actor, confirmed.request.clone()).await?;
    let wanted = fresh.targets.len();
    fresh.allowance =
        limits::allowance(&mut tx, db.limits(), actor, operation.kind, wanted).await?;
    if fresh.goes_beyond(confirmed) {
        tx.rollback().await?;
        return Err(DataError::PlanChanged(Box::new(fresh)));
    }
    if let Some(allowance) = fresh.allowance.filter(|a| !a.fits(wanted)) {
        tx.rollback().await?;
        return Err(DataError::RateLimited {
            what: operation.kind.nouns().1,
            limit: allowance.limit,
            used: allowance.used,
            wanted,
            frees_at: allowance.frees_at,
        });
    }
    let batch_id = Uuid::new_v4();
    if db.trash().is_on() && !operation.kind.is_repair() {
        // Before the deletes: what they remove is copied while it is still there.
        let roots = roots_of(schema, &fresh.request);
        trash::capture(&mut tx, schema, actor, &fresh, &roots, batch_id).await?;
    }
    apply(&mut tx, schema, actor, &fresh).await?;
    let outcome = record(&mut tx, actor, batch_id, fresh).await?;
    if db.trash().is_on() && !operation.kind.is_repair() {
        trash::purge_expired(&mut tx, db.trash(), actor).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// Plans and executes at once, for callers that confirmed by other means (a script's
/// explicit command line).
pub async fn run(db: &Db, actor: &Actor, request: Request) -> Result<Outcome, DataError> {
    let confirmed = plan(db, actor, request).await?;
    execute(db, actor, &confirmed).await
}

fn require_enabled(schema: &Schema, kind: OpKind) -> Result<(), DataError> {
    let entity = kind.entity();
    if schema.is_enabled(entity) {
        Ok(())
    } else {
        Err(DataError::invalid(format!(
            "this platform has no {} (disabled in the schema map)",
            entity.nouns().1
        )))
    }
}

/// The rows a delete starts from: the targets' own rows, or for users, their content
/// (delete policy) and their rows (unless soft-deleted).
fn roots_of(schema: &Schema, request: &Request) -> Vec<Root> {
    let kind = request.operation.kind;
    if kind == OpKind::DeleteUsers {
        return users::roots(schema, request.operation.content_policy());
    }
    let entity = kind.entity();
    match (schema.entity(entity), schema.column(entity, "id")) {
        (Some(mapped), Some(id)) => vec![Root {
            table: mapped.table.clone(),
            column: id.name.clone(),
            is_id: true,
        }],
        _ => Vec::new(),
    }
}

async fn describe(
    tx: &mut Tx,
    schema: &Schema,
    actor: &Actor,
    request: &Request,
) -> Result<(Vec<Described>, Vec<Refusal>), DataError> {
    let ids = &request.operation.ids;
    match request.operation.kind {
        OpKind::DeleteChatSessions => chats::describe_sessions(tx, schema, ids).await,
        OpKind::RepairOrphanSessions => chats::describe_orphan_repair(tx, schema, ids).await,
        OpKind::DeleteChatMessages => chats::describe_chat_messages(tx, schema, ids).await,
        OpKind::DeletePrivateMessages => messages::describe(tx, schema, ids).await,
        OpKind::DeleteComments => comments::describe(tx, schema, ContentKind::Comment, ids).await,
        OpKind::DeleteReviews => comments::describe(tx, schema, ContentKind::Review, ids).await,
        OpKind::DeleteGuilds => guilds::describe(tx, schema, ids).await,
        OpKind::DeleteUsers => {
            let policy = request.operation.content_policy();
            users::describe(tx, schema, actor, ids, policy).await
        }
    }
}

async fn plan_in(
    tx: &mut Tx,
    schema: &Schema,
    actor: &Actor,
    request: Request,
) -> Result<Plan, DataError> {
    let kind = request.operation.kind;
    require_enabled(schema, kind)?;
    let (described, mut refused) = describe(tx, schema, actor, &request).await?;
    let (mut candidates, rule_refused): (Vec<Described>, Vec<Described>) =
        described.into_iter().partition(|d| d.refusal.is_none());
    refused.extend(rule_refused.into_iter().map(|d| Refusal {
        id: d.id,
        label: Some(d.label),
        reason: d.refusal.unwrap_or(FailReason::NotFound),
    }));
    let entity_table = schema.table_name(kind.entity()).to_string();
    if kind.is_repair() {
        let targets = candidates
            .into_iter()
            .map(|d| planned(d, RowCounts::new().with(&entity_table, 1), RowCounts::new()))
            .collect();
        return Ok(order_refusals(Plan::new(request, targets, refused)));
    }
    let roots = roots_of(schema, &request);
    let id_kind = schema.id_kind(kind.entity());
    // Measure; refuse what a restricting reference would make the database refuse;
    // measure again without those (their rows no longer go), until nothing changes.
    let soft = kind == OpKind::DeleteUsers && schema.soft_delete.is_some();
    let impact = loop {
        let ids: Vec<_> = candidates.iter().map(|d| d.id.clone()).collect();
        let impact = impact::measure(tx, schema, &roots, id_kind, &ids).await?;
        let (blocked, free): (Vec<Described>, Vec<Described>) = candidates
            .into_iter()
            .partition(|d| impact.blockers.contains_key(&d.id));
        candidates = free;
        if blocked.is_empty() {
            break impact;
        }
        for d in blocked {
            let (table, count) = impact
                .blockers
                .get(&d.id)
                .cloned()
                .unwrap_or_else(|| (String::new(), 0));
            refused.push(Refusal {
                id: d.id,
                label: Some(d.label),
                reason: FailReason::Referenced { table, count },
            });
        }
    };
    let targets: Vec<PlannedTarget> = candidates
        .into_iter()
        .map(|d| {
            let mut counts = impact.counts.get(&d.id).cloned().unwrap_or_default();
            if soft {
                // The row stays, marked deleted: it counts as the one row changed.
                counts.add(&entity_table, 1);
            }
            let kept = impact.kept.get(&d.id).cloned().unwrap_or_default();
            planned(d, counts, kept)
        })
        .collect();
    let mut plan = Plan::new(request, targets, refused);
    // Exact totals: a row reached through two targets or two paths counts once.
    let mut total = impact.total;
    if soft {
        total.add(&entity_table, plan.targets.len() as i64);
    }
    plan.counts = total;
    plan.kept = impact.total_kept;
    plan.soft_delete = soft;
    Ok(order_refusals(plan))
}

fn planned(d: Described, counts: RowCounts, kept: RowCounts) -> PlannedTarget {
    PlannedTarget {
        id: d.id,
        label: d.label,
        counts,
        kept,
        new_owner: d.new_owner,
        snapshot: d.snapshot,
    }
}

/// Refusals in the order the ids were given.
fn order_refusals(mut plan: Plan) -> Plan {
    let order = plan.request.operation.ids.as_slice().to_vec();
    plan.refused
        .sort_by_key(|f| order.iter().position(|id| *id == f.id));
    plan
}

/// Locks what the delete goes through (PostgreSQL; SQLite's `begin immediate` already
/// holds the whole database) and, for users, every active admin.
async fn lock_targets(tx: &mut Tx, schema: &Schema, confirmed: &Plan) -> Result<(), DataError> {
    let request = &confirmed.request;
    let kind = request.operation.kind;
    require_enabled(schema, kind)?;
    let ids = request.operation.ids.as_slice();
    if kind == OpKind::DeleteUsers {
        users::lock_for_delete(tx, schema, ids).await?;
    }
    let roots = match kind {
        OpKind::RepairOrphanSessions => roots_of(
            schema,
            &Request::new(
                Operation::new(OpKind::DeleteChatSessions, request.operation.ids.clone()),
                None,
            ),
        )
        .into_iter()
        .take(1)
        .collect(),
        _ => roots_of(schema, request),
    };
    impact::lock(tx, schema, &roots, schema.id_kind(kind.entity()), ids).await
}

async fn apply(tx: &mut Tx, schema: &Schema, actor: &Actor, plan: &Plan) -> Result<(), DataError> {
    let ids: Vec<_> = plan.targets.iter().map(|t| t.id.clone()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let kind = plan.request.operation.kind;
    if kind.is_repair() {
        return chats::apply_orphan_repair(tx, schema, plan).await;
    }
    let id_kind = schema.id_kind(kind.entity());
    for root in roots_of(schema, &plan.request) {
        let mut q = Sql::new(schema);
        q.push("delete from ")
            .table(&root.table)
            .push(" where ")
            .ident(&root.column)
            .push(" in (")
            .bind_ids(id_kind, &ids)
            .push(")");
        let deleted = tx.execute_sql(&q).await?;
        if root.is_id && deleted != ids.len() as u64 {
            // Rows are locked (or the database is), so this means a bug, not a race.
            return Err(DataError::Internal(
                "deleted a different number of rows than planned",
            ));
        }
    }
    if kind == OpKind::DeleteUsers && !plan.soft_delete {
        // A deleted user's modcon credential goes with them.
        let mut q = Sql::raw(schema.backend);
        q.push("delete from {#modcon_operators} where user_id in (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(id.to_string());
        }
        q.push(")");
        tx.execute_sql(&q).await?;
    }
    if plan.soft_delete {
        let marked = users::soft_delete(tx, schema, actor, &ids).await?;
        if marked != ids.len() as u64 {
            return Err(DataError::Internal(
                "marked a different number of users than planned",
            ));
        }
    }
    Ok(())
}

/// Writes the audit rows (one per target, and a summary for a bulk or partly refused
/// request) and builds the report.
async fn record(
    tx: &mut Tx,
    actor: &Actor,
    batch_id: Uuid,
    plan: Plan,
) -> Result<Outcome, DataError> {
    let spec = plan.request.operation.spec();
    let mut rows: Vec<AuditRow> = plan
        .targets
        .iter()
        .map(|t| AuditRow {
            action: spec.action.to_string(),
            target_type: spec.target_type,
            target_id: Some(t.id.clone()),
            target_label: t.label.clone(),
            counts: t.counts.to_json(),
            details: target_details(t, plan.soft_delete),
        })
        .collect();
    if plan.request.operation.ids.len() > 1 || !plan.refused.is_empty() {
        rows.push(summary_row(&plan));
    }
    audit::write(tx, batch_id, actor, plan.request.reason.as_ref(), &rows).await?;
    Ok(Outcome {
        batch_id,
        done: plan
            .targets
            .into_iter()
            .map(|t| Done {
                id: t.id,
                label: t.label,
                counts: t.counts,
                new_owner: t.new_owner,
            })
            .collect(),
        failed: plan.refused,
        counts: plan.counts,
        kept: plan.kept,
        soft_delete: plan.soft_delete,
        request: plan.request,
    })
}

fn target_details(target: &PlannedTarget, soft_delete: bool) -> serde_json::Value {
    let mut details = match &target.snapshot {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    if !target.kept.is_empty() {
        details.insert("kept".into(), target.kept.to_json());
    }
    if let Some((id, name)) = &target.new_owner {
        details.insert("new_owner_id".into(), id.to_string().into());
        details.insert("new_owner".into(), name.clone().into());
    }
    if soft_delete {
        details.insert("soft_delete".into(), true.into());
    }
    serde_json::Value::Object(details)
}

fn summary_row(plan: &Plan) -> AuditRow {
    let operation = &plan.request.operation;
    let spec = operation.spec();
    let requested = operation.ids.len();
    let done = plan.targets.len();
    AuditRow {
        action: format!("{}.bulk", spec.action),
        target_type: "batch",
        target_id: None,
        target_label: format!(
            "{done} of {} {}",
            operation.kind.count(requested),
            spec.past
        ),
        counts: plan.counts.to_json(),
        details: serde_json::json!({
            "requested_ids": operation.ids,
            "done_ids": plan.targets.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
            "failed": plan.refused.iter().map(|r| serde_json::json!({
                "id": r.id,
                "label": r.label,
                "reason": r.reason.to_string(),
            })).collect::<Vec<_>>(),
            "kept": plan.kept,
            "content_policy": match operation.kind {
                OpKind::DeleteUsers => Some(operation.content_policy()),
                _ => None::<ContentPolicy>,
            },
            "soft_delete": plan.soft_delete,
        }),
    }
}
