//! What a plan and its outcome are made of (SPEC §4): targets, refusals with reasons,
//! rows per table. Shared by the planner, the per-entity describers and the batch
//! service; it depends on none of them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ids::TargetIds;
use super::ops::Request;
use super::{DataError, Id, Row, Sql, Tx};

/// Rows per table, keyed by the platform's table name. Zero counts are not stored, so
/// two equal plans compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RowCounts(BTreeMap<String, i64>);

impl RowCounts {
    pub fn new() -> Self {
        RowCounts::default()
    }

    pub fn with(mut self, table: &str, n: i64) -> Self {
        self.add(table, n);
        self
    }

    pub fn add(&mut self, table: &str, n: i64) {
        if n != 0 {
            *self.0.entry(table.to_string()).or_insert(0) += n;
        }
    }

    pub fn add_all(&mut self, other: &RowCounts) {
        for (table, n) in &other.0 {
            self.add(table, *n);
        }
    }

    pub fn get(&self, table: &str) -> i64 {
        self.0.get(table).copied().unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, i64)> + '_ {
        self.0.iter().map(|(t, n)| (t.as_str(), *n))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn total(&self) -> i64 {
        self.0.values().sum()
    }

    /// True if any table has more rows here than in `confirmed`.
    pub fn exceeds(&self, confirmed: &RowCounts) -> bool {
        self.iter().any(|(table, n)| n > confirmed.get(table))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Reads counts back from an audit row; anything that is not a table → number map
    /// reads as empty.
    pub fn from_json(value: &serde_json::Value) -> RowCounts {
        let mut counts = RowCounts::new();
        if let Some(map) = value.as_object() {
            for (table, n) in map {
                if let Some(n) = n.as_i64() {
                    counts.add(table, n);
                }
            }
        }
        counts
    }
}

/// Why a target is refused or was not acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FailReason {
    NotFound,
    Yourself,
    Protected,
    ServiceAccount,
    LastActiveAdmin,
    OwnsGuilds {
        count: i64,
    },
    NotOrphaned,
    NoKnownAuthor,
    /// Rows of another table reference the target and the database would refuse the
    /// delete (`ON DELETE RESTRICT` / `NO ACTION`).
    Referenced {
        table: String,
        count: i64,
    },
    AlreadyDeleted,
}

impl std::fmt::Display for FailReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailReason::NotFound => f.write_str("not found"),
            FailReason::Yourself => f.write_str("cannot delete your own account"),
            FailReason::Protected => f.write_str("protected account"),
            FailReason::ServiceAccount => f.write_str("service account"),
            FailReason::LastActiveAdmin => f.write_str("last active admin"),
            FailReason::OwnsGuilds { count } => write!(
                f,
                "owns {count} guild{} (transfer or delete them first)",
                if *count == 1 { "" } else { "s" }
            ),
            FailReason::NotOrphaned => f.write_str("already has an owner"),
            FailReason::NoKnownAuthor => f.write_str("no user message with a known author"),
            FailReason::Referenced { table, count } => write!(
                f,
                "still referenced by {count} row{} of {table}, which the database \
                 would refuse to delete through",
                if *count == 1 { "" } else { "s" }
            ),
            FailReason::AlreadyDeleted => f.write_str("already deleted"),
        }
    }
}

/// A target the operation will act on, with what goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTarget {
    pub id: Id,
    /// A snapshot of what the target is called (raw database text: sanitise to show).
    pub label: String,
    /// Rows removed (or, for a repair, changed), this target's own row included.
    pub counts: RowCounts,
    /// Rows that stay but lose their link to the target (`ON DELETE SET NULL`).
    pub kept: RowCounts,
    /// A repair's new owner.
    pub new_owner: Option<(Id, String)>,
    /// What the audit row keeps of the target.
    #[serde(skip)]
    pub snapshot: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub id: Id,
    pub label: Option<String>,
    pub reason: FailReason,
}

/// What an operation would do, computed from the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub request: Request,
    pub targets: Vec<PlannedTarget>,
    pub refused: Vec<Refusal>,
    pub counts: RowCounts,
    pub kept: RowCounts,
    /// The users are marked deleted, not removed (a soft-delete map).
    pub soft_delete: bool,
    /// What is left of the operator's hourly cap on this operation, when it has one
    /// (read when planned: execute counts again).
    pub allowance: Option<super::limits::Allowance>,
}

impl Plan {
    /// A plan whose totals are the sums of its targets' counts.
    pub(crate) fn new(
        request: Request,
        targets: Vec<PlannedTarget>,
        refused: Vec<Refusal>,
    ) -> Self {
        let mut counts = RowCounts::new();
        let mut kept = RowCounts::new();
        for target in &targets {
            counts.add_all(&target.counts);
            kept.add_all(&target.kept);
        }
        Plan {
            request,
            targets,
            refused,
            counts,
            kept,
            soft_delete: false,
            allowance: None,
        }
    }

    /// True if this (fresh) plan would do more than the `confirmed` one: a new target,
    /// more rows for a target, or a different new owner.
    pub fn goes_beyond(&self, confirmed: &Plan) -> bool {
        self.request != confirmed.request
            || self.counts.exceeds(&confirmed.counts)
            || self.kept.exceeds(&confirmed.kept)
            || self.targets.iter().any(|fresh| {
                match confirmed.targets.iter().find(|c| c.id == fresh.id) {
                    None => true,
                    Some(c) => {
                        fresh.counts.exceeds(&c.counts)
                            || fresh.kept.exceeds(&c.kept)
                            || fresh.new_owner != c.new_owner
                    }
                }
            })
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// One target acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Done {
    pub id: Id,
    pub label: String,
    pub counts: RowCounts,
    pub new_owner: Option<(Id, String)>,
}

/// The report after one batch (SPEC §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub batch_id: uuid::Uuid,
    pub request: Request,
    pub done: Vec<Done>,
    pub failed: Vec<Refusal>,
    /// Rows removed (or changed) per table, summed over the targets.
    pub counts: RowCounts,
    /// Rows kept but unlinked.
    pub kept: RowCounts,
    pub soft_delete: bool,
}

impl Outcome {
    pub fn deleted_count(&self) -> usize {
        self.done.len()
    }

    pub fn failed_ids(&self) -> Vec<Id> {
        self.failed.iter().map(|f| f.id.clone()).collect()
    }

    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// A target as the database has it, before what goes with it is measured.
#[derive(Debug, Clone)]
pub(crate) struct Described {
    pub id: Id,
    pub label: String,
    /// What the audit row keeps of the target.
    pub snapshot: serde_json::Value,
    /// A rule refuses it (yourself, protected…).
    pub refusal: Option<FailReason>,
    /// A repair's new owner.
    pub new_owner: Option<(Id, String)>,
}

impl Described {
    pub(crate) fn new(id: Id, label: String, snapshot: serde_json::Value) -> Self {
        Described {
            id,
            label,
            snapshot,
            refusal: None,
            new_owner: None,
        }
    }
}

/// Runs `q` (which selects the targets, with their id as `id`) and pairs the rows with
/// the ids in the order given; ids with no row are refused as not found.
pub(crate) async fn fetch_targets(
    tx: &mut Tx,
    q: &Sql<'_>,
    ids: &TargetIds,
) -> Result<(Vec<Row>, Vec<Refusal>), DataError> {
    let rows = tx.fetch_all_sql(q).await?;
    let mut by_id = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        by_id.insert(row.id("id")?, row);
    }
    let mut found = Vec::with_capacity(by_id.len());
    let mut missing = Vec::new();
    for id in ids.as_slice() {
        match by_id.remove(id) {
            Some(row) => found.push(row),
            None => missing.push(Refusal {
                id: id.clone(),
                label: None,
                reason: FailReason::NotFound,
            }),
        }
    }
    Ok((found, missing))
}

/// Cuts a long text for a label, on a character boundary.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let cut: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::db::ops::{OpKind, Operation};

    fn target(id: i64, messages: i64) -> PlannedTarget {
        PlannedTarget {
            id: Id::Int(id),
            label: "t".into(),
            counts: RowCounts::new()
                .with("chat_sessions", 1)
                .with("chat_messages", messages),
            kept: RowCounts::new(),
            new_owner: None,
            snapshot: serde_json::Value::Null,
        }
    }

    fn plan_of(ids: &[i64], targets: Vec<PlannedTarget>) -> Plan {
        let ids = TargetIds::new(ids.iter().map(|n| Id::Int(*n)).collect()).unwrap();
        let request = Request::new(Operation::new(OpKind::DeleteChatSessions, ids), None);
        Plan::new(request, targets, vec![])
    }

    #[test]
    fn a_plan_that_grew_goes_beyond_the_confirmed_one_and_a_smaller_one_does_not() {
        let confirmed = plan_of(&[1, 2], vec![target(1, 10), target(2, 5)]);
        assert!(!plan_of(&[1, 2], vec![target(1, 10), target(2, 5)]).goes_beyond(&confirmed));
        assert!(!plan_of(&[1, 2], vec![target(1, 9)]).goes_beyond(&confirmed));
        assert!(plan_of(&[1, 2], vec![target(1, 11), target(2, 5)]).goes_beyond(&confirmed));
        let only_1 = plan_of(&[1, 2], vec![target(1, 10)]);
        assert!(plan_of(&[1, 2], vec![target(1, 10), target(2, 0)]).goes_beyond(&only_1));
    }

    #[test]
    fn row_counts_drop_zeroes_sum_and_read_back_from_json() {
        let mut c = RowCounts::new().with("chat_messages", 0);
        assert!(c.is_empty());
        c.add("chat_messages", 3);
        c.add_all(&RowCounts::new().with("chat_messages", 2));
        assert_eq!(c.get("chat_messages"), 5);
        assert_eq!(c.to_json(), serde_json::json!({"chat_messages": 5}));
        assert_eq!(RowCounts::from_json(&c.to_json()), c);
        assert!(RowCounts::from_json(&serde_json::json!("junk")).is_empty());
    }
}
