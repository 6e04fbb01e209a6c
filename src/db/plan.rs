//! Plan, confirm, execute (SPEC §4.1). A destructive operation is data: an
//! [`Operation`] names it with its targets; [`plan`] asks the database what it would
//! remove; [`execute`] takes the confirmed plan, plans again inside its own transaction
//! with the rows locked, and refuses with [`DataError::PlanChanged`] if anything grew.

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use super::audit::{self, AuditRow};
use super::ids::{Reason, TargetIds};
use super::{Actor, DataError, Db, Permission, Tx, chats, comments, guilds, messages, users};

/// The tables an operation touches, in the order a plan lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Users,
    Guilds,
    ChatSessions,
    ChatMessages,
    Messages,
    Comments,
    Reviews,
    GuildMembers,
    GuildSettings,
    AppSessions,
}

impl Table {
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Guilds => "guilds",
            Table::ChatSessions => "chat_sessions",
            Table::ChatMessages => "chat_messages",
            Table::Messages => "messages",
            Table::Comments => "comments",
            Table::Reviews => "reviews",
            Table::GuildMembers => "guild_members",
            Table::GuildSettings => "guild_settings",
            Table::AppSessions => "app_sessions",
        }
    }

    /// How a person reads the table's rows in a plan or a report.
    pub fn noun(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Guilds => "guilds",
            Table::ChatSessions => "chat sessions",
            Table::ChatMessages => "chat messages",
            Table::Messages => "private messages",
            Table::Comments => "comments",
            Table::Reviews => "reviews",
            Table::GuildMembers => "guild memberships",
            Table::GuildSettings => "guild settings",
            Table::AppSessions => "login sessions",
        }
    }
}

/// Rows per table. Zero counts are not stored, so two equal plans compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RowCounts(BTreeMap<Table, i64>);

impl RowCounts {
    pub fn new() -> Self {
        RowCounts::default()
    }

    pub fn with(mut self, table: Table, n: i64) -> Self {
        self.add(table, n);
        self
    }

    pub fn add(&mut self, table: Table, n: i64) {
        if n != 0 {
            *self.0.entry(table).or_insert(0) += n;
        }
    }

    pub fn add_all(&mut self, other: &RowCounts) {
        for (table, n) in &other.0 {
            self.add(*table, *n);
        }
    }

    pub fn get(&self, table: Table) -> i64 {
        self.0.get(&table).copied().unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Table, i64)> + '_ {
        self.0.iter().map(|(t, n)| (*t, *n))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True if any table has more rows here than in `confirmed`.
    pub fn exceeds(&self, confirmed: &RowCounts) -> bool {
        self.iter().any(|(table, n)| n > confirmed.get(table))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// What happens to a deleted user's comments, reviews and sent messages (SPEC §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentPolicy {
    /// They stay, shown as by "deleted user".
    #[default]
    Keep,
    /// They are deleted with the user.
    Delete,
}

/// Every destructive operation, with its targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum Operation {
    DeleteChatSessions {
        ids: TargetIds,
    },
    RepairOrphanSessions {
        ids: TargetIds,
    },
    DeleteChatMessages {
        ids: TargetIds,
    },
    DeletePrivateMessages {
        ids: TargetIds,
    },
    DeleteComments {
        ids: TargetIds,
    },
    DeleteReviews {
        ids: TargetIds,
    },
    DeleteGuilds {
        ids: TargetIds,
    },
    DeleteUsers {
        ids: TargetIds,
        content: ContentPolicy,
    },
}

impl Operation {
    pub fn ids(&self) -> &TargetIds {
        match self {
            Operation::DeleteChatSessions { ids }
            | Operation::RepairOrphanSessions { ids }
            | Operation::DeleteChatMessages { ids }
            | Operation::DeletePrivateMessages { ids }
            | Operation::DeleteComments { ids }
            | Operation::DeleteReviews { ids }
            | Operation::DeleteGuilds { ids }
            | Operation::DeleteUsers { ids, .. } => ids,
        }
    }

    pub fn permission(&self) -> Permission {
        match self {
            Operation::DeleteChatSessions { .. } => Permission::DeleteChatSessions,
            Operation::RepairOrphanSessions { .. } => Permission::RepairOrphanSessions,
            Operation::DeleteChatMessages { .. } | Operation::DeletePrivateMessages { .. } => {
                Permission::DeleteMessages
            }
            Operation::DeleteComments { .. } | Operation::DeleteReviews { .. } => {
                Permission::DeleteContent
            }
            Operation::DeleteGuilds { .. } => Permission::DeleteGuilds,
            Operation::DeleteUsers { .. } => Permission::DeleteUsers,
        }
    }

    /// The noun for one target: "chat session", "user"…
    pub fn target_type(&self) -> &'static str {
        match self {
            Operation::DeleteChatSessions { .. } | Operation::RepairOrphanSessions { .. } => {
                "chat_session"
            }
            Operation::DeleteChatMessages { .. } => "chat_message",
            Operation::DeletePrivateMessages { .. } => "message",
            Operation::DeleteComments { .. } => "comment",
            Operation::DeleteReviews { .. } => "review",
            Operation::DeleteGuilds { .. } => "guild",
            Operation::DeleteUsers { .. } => "user",
        }
    }

    /// The audit action for each target.
    pub fn action(&self) -> &'static str {
        match self {
            Operation::DeleteChatSessions { .. } => "chat_session.delete",
            Operation::RepairOrphanSessions { .. } => "chat_session.repair",
            Operation::DeleteChatMessages { .. } => "chat_message.delete",
            Operation::DeletePrivateMessages { .. } => "message.delete",
            Operation::DeleteComments { .. } => "comment.delete",
            Operation::DeleteReviews { .. } => "review.delete",
            Operation::DeleteGuilds { .. } => "guild.delete",
            Operation::DeleteUsers { .. } => "user.delete",
        }
    }

    pub fn is_repair(&self) -> bool {
        matches!(self, Operation::RepairOrphanSessions { .. })
    }
}

/// An operation as the operator asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    #[serde(flatten)]
    pub operation: Operation,
    pub reason: Option<Reason>,
}

impl Request {
    pub fn new(operation: Operation, reason: Option<Reason>) -> Self {
        Request { operation, reason }
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
    OwnsGuilds { count: i64 },
    NotOrphaned,
    NoKnownAuthor,
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
        }
    }
}

/// A target the operation will act on, with what goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTarget {
    pub id: Uuid,
    /// A snapshot of what the target is called (raw database text: sanitise to show).
    pub label: String,
    /// Rows removed (or, for a repair, changed), this target's own row included.
    pub counts: RowCounts,
    /// Rows that stay but lose their author (a deleted user's content kept).
    pub kept: RowCounts,
    /// A repair's new owner.
    pub new_owner: Option<(Uuid, String)>,
    /// What the audit row keeps of the target.
    #[serde(skip)]
    pub snapshot: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub id: Uuid,
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
}

impl Plan {
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
        }
    }

    /// True if this (fresh) plan would do more than the `confirmed` one: a new target,
    /// more rows for a target, or a different new owner.
    pub fn goes_beyond(&self, confirmed: &Plan) -> bool {
        self.request != confirmed.request
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
    pub id: Uuid,
    pub label: String,
    pub counts: RowCounts,
    pub new_owner: Option<(Uuid, String)>,
}

/// The report after an operation (SPEC §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub batch_id: Uuid,
    pub request: Request,
    pub done: Vec<Done>,
    pub failed: Vec<Refusal>,
    /// Rows removed (or changed) per table, summed over the targets.
    pub counts: RowCounts,
    /// Rows kept but anonymised.
    pub kept: RowCounts,
}

impl Outcome {
    pub fn deleted_count(&self) -> usize {
        self.done.len()
    }

    pub fn failed_ids(&self) -> Vec<Uuid> {
        self.failed.iter().map(|f| f.id).collect()
    }

    pub fn total_messages_deleted(&self) -> i64 {
        self.counts.get(super::plan::Table::ChatMessages)
    }

    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Computes what `request` would do, changing nothing.
pub async fn plan(db: &Db, actor: &Actor, request: Request) -> Result<Plan, DataError> {
    let permission = request.operation.permission();
    actor.require(permission)?;
    let mut tx = db.read().await?;
    actor.verify(&mut tx, permission).await?;
    let plan = plan_in(&mut tx, actor, request).await?;
    tx.rollback().await?;
    Ok(plan)
}

/// Carries out a confirmed plan in one transaction with its audit rows.
pub async fn execute(db: &Db, actor: &Actor, confirmed: &Plan) -> Result<Outcome, DataError> {
    let operation = &confirmed.request.operation;
    let permission = operation.permission();
    actor.require(permission)?;
    let mut tx = db.write().await?;
    lock_targets(&mut tx, operation).await?;
    actor.verify(&mut tx, permission).await?;
    let fresh = plan_in(&mut tx, actor, confirmed.request.clone()).await?;
    if fresh.goes_beyond(confirmed) {
        tx.rollback().await?;
        return Err(DataError::PlanChanged(Box::new(fresh)));
    }
    apply(&mut tx, &fresh).await?;
    let outcome = record(&mut tx, actor, fresh).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Plans and executes at once, for callers that confirmed by other means (a script's
/// explicit command line).
pub async fn run(db: &Db, actor: &Actor, request: Request) -> Result<Outcome, DataError> {
    let confirmed = plan(db, actor, request).await?;
    execute(db, actor, &confirmed).await
}

async fn plan_in(tx: &mut Tx, actor: &Actor, request: Request) -> Result<Plan, DataError> {
    let (targets, refused) = match &request.operation {
        Operation::DeleteChatSessions { ids } => chats::plan_session_delete(tx, ids).await?,
        Operation::RepairOrphanSessions { ids } => chats::plan_orphan_repair(tx, ids).await?,
        Operation::DeleteChatMessages { ids } => chats::plan_chat_message_delete(tx, ids).await?,
        Operation::DeletePrivateMessages { ids } => messages::plan_delete(tx, ids).await?,
        Operation::DeleteComments { ids } => {
            comments::plan_delete(tx, comments::ContentKind::Comment, ids).await?
        }
        Operation::DeleteReviews { ids } => {
            comments::plan_delete(tx, comments::ContentKind::Review, ids).await?
        }
        Operation::DeleteGuilds { ids } => guilds::plan_delete(tx, ids).await?,
        Operation::DeleteUsers { ids, content } => {
            users::plan_delete(tx, actor, ids, *content).await?
        }
    };
    Ok(Plan::new(request, targets, refused))
}

/// On PostgreSQL, locks the rows the plan counts so that nothing can be added under them
/// until commit (a child row's foreign key check needs a lock that `for update` holds
/// off). SQLite's `begin immediate` already holds the whole database.
async fn lock_targets(tx: &mut Tx, operation: &Operation) -> Result<(), DataError> {
    if tx.backend() == super::Backend::Sqlite {
        return Ok(());
    }
    let ids = operation.ids().as_slice();
    match operation {
        Operation::DeleteChatSessions { .. } | Operation::RepairOrphanSessions { .. } => {
            lock(
                tx,
                "select id from chat_sessions where id in ({ids}) order by id for update",
                ids,
            )
            .await
        }
        Operation::DeleteChatMessages { .. } => {
            lock(
                tx,
                "select id from chat_messages where id in ({ids}) order by id for update",
                ids,
            )
            .await
        }
        Operation::DeletePrivateMessages { .. } => {
            lock(
                tx,
                "select id from messages where id in ({ids}) order by id for update",
                ids,
            )
            .await
        }
        Operation::DeleteComments { .. } => {
            lock(
                tx,
                "select id from comments where id in ({ids}) order by id for update",
                ids,
            )
            .await
        }
        Operation::DeleteReviews { .. } => {
            lock(
                tx,
                "select id from reviews where id in ({ids}) order by id for update",
                ids,
            )
            .await
        }
        Operation::DeleteGuilds { .. } => {
            lock(
                tx,
                "select id from guilds where id in ({ids}) order by id for update",
                ids,
            )
            .await?;
            lock(
                tx,
                "select id from chat_sessions where guild_id in ({ids}) order by id for update",
                ids,
            )
            .await
        }
        Operation::DeleteUsers { .. } => users::lock_for_delete(tx, ids).await,
    }
}

/// Runs a locking statement whose `{ids}` stands for the target list.
pub(crate) async fn lock(
    tx: &mut Tx,
    template: &'static str,
    ids: &[Uuid],
) -> Result<(), DataError> {
    let (sql, args) = with_ids(template, 1, ids);
    tx.fetch_all(sql, &args).await?;
    Ok(())
}

/// Expands `{ids}` in a fixed statement into placeholders `$start…`, with their binds.
pub(crate) fn with_ids(
    template: &'static str,
    start: usize,
    ids: &[Uuid],
) -> (sqlx::SqlStr, Vec<super::Arg>) {
    let sql = template.replace("{ids}", &super::sql::placeholders(start, ids.len()));
    let args = ids.iter().map(|id| super::Arg::Uuid(*id)).collect();
    (super::sql::built(sql), args)
}

async fn apply(tx: &mut Tx, plan: &Plan) -> Result<(), DataError> {
    let ids: Vec<Uuid> = plan.targets.iter().map(|t| t.id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    match &plan.request.operation {
        Operation::DeleteChatSessions { .. } => {
            delete_where_id(tx, "delete from chat_sessions where id in ({ids})", &ids).await
        }
        Operation::RepairOrphanSessions { .. } => chats::apply_orphan_repair(tx, plan).await,
        Operation::DeleteChatMessages { .. } => {
            delete_where_id(tx, "delete from chat_messages where id in ({ids})", &ids).await
        }
        Operation::DeletePrivateMessages { .. } => {
            delete_where_id(tx, "delete from messages where id in ({ids})", &ids).await
        }
        Operation::DeleteComments { .. } => {
            delete_where_id(tx, "delete from comments where id in ({ids})", &ids).await
        }
        Operation::DeleteReviews { .. } => {
            delete_where_id(tx, "delete from reviews where id in ({ids})", &ids).await
        }
        Operation::DeleteGuilds { .. } => {
            delete_where_id(tx, "delete from guilds where id in ({ids})", &ids).await
        }
        Operation::DeleteUsers { content, .. } => users::apply_delete(tx, &ids, *content).await,
    }
}

pub(crate) async fn delete_where_id(
    tx: &mut Tx,
    template: &'static str,
    ids: &[Uuid],
) -> Result<(), DataError> {
    let (sql, args) = with_ids(template, 1, ids);
    let deleted = tx.execute(sql, &args).await?;
    if deleted != ids.len() as u64 {
        // Rows are locked (or the database is), so this means a bug, not a race.
        return Err(DataError::Internal(
            "deleted a different number of rows than planned",
        ));
    }
    Ok(())
}

/// Writes the audit rows (one per target, and a summary for a bulk or partly refused
/// request) and builds the report.
async fn record(tx: &mut Tx, actor: &Actor, plan: Plan) -> Result<Outcome, DataError> {
    let batch_id = Uuid::new_v4();
    let operation = &plan.request.operation;
    let mut rows: Vec<AuditRow> = plan
        .targets
        .iter()
        .map(|t| AuditRow {
            action: operation.action().to_string(),
            target_type: operation.target_type(),
            target_id: Some(t.id),
            target_label: t.label.clone(),
            counts: t.counts.to_json(),
            details: target_details(t),
        })
        .collect();
    if operation.ids().len() > 1 || !plan.refused.is_empty() {
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
        request: plan.request,
    })
}

fn target_details(target: &PlannedTarget) -> serde_json::Value {
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
    serde_json::Value::Object(details)
}

fn summary_row(plan: &Plan) -> AuditRow {
    let operation = &plan.request.operation;
    let requested = operation.ids().len();
    let done = plan.targets.len();
    let verb = if operation.is_repair() {
        "repaired"
    } else {
        "deleted"
    };
    AuditRow {
        action: format!("{}.bulk", operation.action()),
        target_type: "batch",
        target_id: None,
        target_label: format!(
            "{done} of {requested} {}s {verb}",
            operation.target_type().replace('_', " ")
        ),
        counts: plan.counts.to_json(),
        details: serde_json::json!({
            "requested_ids": operation.ids(),
            "done_ids": plan.targets.iter().map(|t| t.id).collect::<Vec<_>>(),
            "failed": plan.refused.iter().map(|r| serde_json::json!({
                "id": r.id,
                "label": r.label,
                "reason": r.reason.to_string(),
            })).collect::<Vec<_>>(),
            "kept": plan.kept,
            "content_policy": match operation {
                Operation::DeleteUsers { content, .. } => Some(*content),
                _ => None,
            },
        }),
    }
}

/// Fetches the targets' rows (`{ids}` in `template` stands for the id list) and pairs
/// them with the request's ids in the order given; ids with no row are refused as not
/// found.
pub(crate) async fn fetch_targets(
    tx: &mut Tx,
    template: &'static str,
    ids: &TargetIds,
) -> Result<(Vec<super::Row>, Vec<Refusal>), DataError> {
    let (sql, args) = with_ids(template, 1, ids.as_slice());
    let rows = tx.fetch_all(sql, &args).await?;
    let mut by_id = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        by_id.insert(row.uuid("id")?, row);
    }
    let mut found = Vec::with_capacity(by_id.len());
    let mut missing = Vec::new();
    for id in ids.as_slice() {
        match by_id.remove(id) {
            Some(row) => found.push(row),
            None => missing.push(Refusal {
                id: *id,
                label: None,
                reason: FailReason::NotFound,
            }),
        }
    }
    Ok((found, missing))
}

/// Cuts a long text for a label, on a character boundary.
pub(crate) fn excerpt(text: &str, max_chars: usize) -> String {
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

    fn target(id: Uuid, messages: i64) -> PlannedTarget {
        PlannedTarget {
            id,
            label: "t".into(),
            counts: RowCounts::new()
                .with(Table::ChatSessions, 1)
                .with(Table::ChatMessages, messages),
            kept: RowCounts::new(),
            new_owner: None,
            snapshot: serde_json::Value::Null,
        }
    }

    fn plan_of(ids: &[Uuid], targets: Vec<PlannedTarget>) -> Plan {
        let request = Request::new(
            Operation::DeleteChatSessions {
                ids: TargetIds::new(ids.to_vec()).unwrap(),
            },
            None,
        );
        Plan::new(request, targets, vec![])
    }

    #[test]
    fn a_plan_that_grew_goes_beyond_the_confirmed_one_and_a_smaller_one_does_not() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let confirmed = plan_of(&[a, b], vec![target(a, 10), target(b, 5)]);
        assert!(!plan_of(&[a, b], vec![target(a, 10), target(b, 5)]).goes_beyond(&confirmed));
        assert!(!plan_of(&[a, b], vec![target(a, 9)]).goes_beyond(&confirmed));
        assert!(plan_of(&[a, b], vec![target(a, 11), target(b, 5)]).goes_beyond(&confirmed));
        let only_a = plan_of(&[a, b], vec![target(a, 10)]);
        assert!(plan_of(&[a, b], vec![target(a, 10), target(b, 0)]).goes_beyond(&only_a));
    }

    #[test]
    fn row_counts_drop_zeroes_and_sum() {
        let mut c = RowCounts::new().with(Table::ChatMessages, 0);
        assert!(c.is_empty());
        c.add(Table::ChatMessages, 3);
        c.add_all(&RowCounts::new().with(Table::ChatMessages, 2));
        assert_eq!(c.get(Table::ChatMessages), 5);
        assert_eq!(c.to_json(), serde_json::json!({"chat_messages": 5}));
    }
}
