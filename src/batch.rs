//! The one batch service behind the console and the commands (SPEC §4.3): a selection
//! of any size is planned in batches of at most 100 targets, each executed in its own
//! transaction; a stop request is honoured between batches; cache keys are invalidated
//! after each committed batch; the report says exactly which ids were done, which were
//! refused, and which never ran.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::cache::{CacheConfig, CacheOutcome, Owner};
use crate::db::ids::{MAX_TARGETS, Reason, TargetIds};
use crate::db::ops::{CacheOwner, ContentPolicy, OpKind, Operation, Request};
use crate::db::plan::{self, Outcome, Plan};
use crate::db::{Actor, DataError, Db, Id};

/// One operation over ids of one kind, before it is cut into batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub kind: OpKind,
    pub ids: Vec<Id>,
    /// User deletes only.
    pub content: ContentPolicy,
}

impl Group {
    pub fn new(kind: OpKind, ids: Vec<Id>) -> Self {
        Group {
            kind,
            ids,
            content: ContentPolicy::Keep,
        }
    }
}

/// Plans every group in batches of at most [`MAX_TARGETS`]; the first error stops.
pub async fn plan_batches(
    db: &Db,
    actor: &Actor,
    groups: &[Group],
    reason: Option<Reason>,
) -> Result<Vec<Plan>, DataError> {
    let mut plans = Vec::new();
    for group in groups {
        for chunk in group.ids.chunks(MAX_TARGETS) {
            let ids = TargetIds::new(chunk.to_vec())?;
            let operation = match group.kind {
                OpKind::DeleteUsers => Operation::delete_users(ids, group.content),
                kind => Operation::new(kind, ids),
            };
            let request = Request::new(operation, reason.clone());
            plans.push(db.bounded(plan::plan(db, actor, request)).await?);
        }
    }
    Ok(plans)
}

/// What a run did, batch by batch.
#[derive(Debug, Default)]
pub struct Run {
    /// The committed batches, in order.
    pub outcomes: Vec<Outcome>,
    /// Plans of the batches that never ran (after a stop or an error); a batch whose
    /// plan changed is here with its fresh plan.
    pub not_run: Vec<Plan>,
    /// Why the run ended early: a changed plan, a database error.
    pub error: Option<DataError>,
    /// Stopped on request between batches.
    pub stopped: bool,
    /// Ids of batches that were never even planned.
    pub never_planned: Vec<Id>,
    pub cache: Option<CacheOutcome>,
}

impl Run {
    /// Ids acted on in committed batches.
    pub fn done_ids(&self) -> Vec<Id> {
        self.outcomes
            .iter()
            .flat_map(|o| o.done.iter().map(|d| d.id.clone()))
            .collect()
    }

    /// Ids refused or not found in committed batches.
    pub fn failed_ids(&self) -> Vec<Id> {
        self.outcomes.iter().flat_map(Outcome::failed_ids).collect()
    }

    /// Ids of batches that were never committed.
    pub fn never_ran_ids(&self) -> Vec<Id> {
        self.not_run
            .iter()
            .flat_map(|p| p.request.operation.ids.as_slice().iter().cloned())
            .chain(self.never_planned.iter().cloned())
            .collect()
    }

    /// Some batches committed and some did not.
    pub fn is_partial(&self) -> bool {
        !self.never_ran_ids().is_empty() && !self.outcomes.is_empty()
    }

    /// Everything asked was done.
    pub fn is_complete(&self) -> bool {
        self.not_run.is_empty()
            && self.never_planned.is_empty()
            && self.error.is_none()
            && self.outcomes.iter().all(Outcome::is_complete)
    }
}

/// Executes confirmed plans one batch (one transaction) at a time, calling `progress`
/// after each; stops between batches when `stop` is set, and at the first batch whose
/// plan changed or that failed.
pub async fn execute_batches(
    db: &Db,
    actor: &Actor,
    cache_config: &CacheConfig,
    plans: Vec<Plan>,
    stop: &AtomicBool,
    mut progress: impl FnMut(&Outcome, usize, usize),
) -> Run {
    let total = plans.len();
    let mut run = Run::default();
    let mut remaining = plans.into_iter();
    for confirmed in remaining.by_ref() {
        if stop.load(Ordering::SeqCst) {
            run.stopped = true;
            run.not_run.push(confirmed);
            break;
        }
        match db.bounded(plan::execute(db, actor, &confirmed)).await {
            Ok(outcome) => {
                if let Some(owner) = outcome.request.operation.spec().cache {
                    let owner = match owner {
                        CacheOwner::Guild => Owner::Guild,
                        CacheOwner::User => Owner::User,
                    };
                    let done: Vec<Id> = outcome.done.iter().map(|d| d.id.clone()).collect();
                    let this = crate::cache::invalidate(cache_config, owner, &done).await;
                    run.cache = merge_cache(run.cache.take(), Some(this));
                }
                run.outcomes.push(outcome);
                if let Some(last) = run.outcomes.last() {
                    progress(last, run.outcomes.len(), total);
                }
            }
            Err(DataError::PlanChanged(fresh)) => {
                // The fresh plan replaces this batch; the operator confirms it anew.
                run.not_run.push(*fresh);
                run.error = Some(DataError::PlanChanged(Box::new(confirmed)));
                break;
            }
            Err(e) => {
                run.not_run.push(confirmed);
                run.error = Some(e);
                break;
            }
        }
    }
    run.not_run.extend(remaining);
    run
}

/// Plans and executes every group batch by batch, for callers that confirmed the whole
/// run up front (a command line): each batch is planned, then executed in its own
/// transaction that checks the plan again. `stop` is honoured between batches; what
/// never ran is in [`Run::not_run`] with the plan it would have had (the ids only,
/// where it was never planned).
pub async fn run_batches(
    db: &Db,
    actor: &Actor,
    cache_config: &CacheConfig,
    groups: &[Group],
    reason: Option<Reason>,
    stop: &AtomicBool,
    mut progress: impl FnMut(usize, usize),
) -> Run {
    let chunks: Vec<(OpKind, ContentPolicy, Vec<Id>)> = groups
        .iter()
        .flat_map(|g| {
            g.ids
                .chunks(MAX_TARGETS)
                .map(move |chunk| (g.kind, g.content, chunk.to_vec()))
        })
        .collect();
    let total = chunks.len();
    let mut run = Run::default();
    let mut rest = chunks.into_iter();
    for (kind, content, ids) in rest.by_ref() {
        if stop.load(Ordering::SeqCst) {
            run.stopped = true;
            run.never_planned.extend(ids);
            break;
        }
        let group = Group { kind, ids, content };
        let planned =
            match plan_batches(db, actor, std::slice::from_ref(&group), reason.clone()).await {
                Ok(plans) => plans,
                Err(error) => {
                    run.never_planned.extend(group.ids);
                    run.error = Some(error);
                    break;
                }
            };
        let never_stop = AtomicBool::new(false);
        let batch =
            execute_batches(db, actor, cache_config, planned, &never_stop, |_, _, _| {}).await;
        run.outcomes.extend(batch.outcomes);
        run.not_run.extend(batch.not_run);
        run.cache = merge_cache(run.cache.take(), batch.cache);
        if batch.error.is_some() {
            run.error = batch.error;
            break;
        }
        progress(run.outcomes.len(), total);
    }
    for (_, _, ids) in rest {
        run.never_planned.extend(ids);
    }
    run
}

fn merge_cache(a: Option<CacheOutcome>, b: Option<CacheOutcome>) -> Option<CacheOutcome> {
    match (a, b) {
        (Some(CacheOutcome::Cleared { keys: a }), Some(CacheOutcome::Cleared { keys: b })) => {
            Some(CacheOutcome::Cleared { keys: a + b })
        }
        (Some(failed @ CacheOutcome::NotCleared { .. }), _) => Some(failed),
        (a, None) => a,
        (_, b) => b,
    }
}

/// A trash restore and the cache invalidation after it, for the console and
/// `modcon trash restore` alike.
#[derive(Debug, Clone)]
pub struct Restored {
    pub report: crate::db::trash::RestoreReport,
    /// Guilds and users that came back: their cache keys are cleared, as stale entries may
    /// say they are gone.
    pub cache: Option<CacheOutcome>,
}

/// Restores one trash batch (or, `plan_only`, says what would come back).
pub async fn restore_batch(
    db: &Db,
    actor: &Actor,
    cache_config: &CacheConfig,
    batch_id: uuid::Uuid,
    plan_only: bool,
) -> Result<Restored, DataError> {
    let report = crate::db::trash::restore(db, actor, batch_id, plan_only).await?;
    let owner = match report.target_type.as_str() {
        "guild" => Some(Owner::Guild),
        "user" => Some(Owner::User),
        _ => None,
    };
    let cache = match owner {
        Some(owner) if !plan_only && !report.restored_targets.is_empty() => {
            let ids: Vec<Id> = report
                .restored_targets
                .iter()
                .map(|t| Id::Text(t.clone()))
                .collect();
            Some(crate::cache::invalidate(cache_config, owner, &ids).await)
        }
        _ => None,
    };
    Ok(Restored { report, cache })
}
