//! User deletion (admin, SPEC §4.6): per-user refusals while the others proceed, the
//! last active admin kept even against two operators at once, and a content policy.

use uuid::Uuid;

use super::ids::TargetIds;
use super::plan::{
    ContentPolicy, FailReason, PlannedTarget, Refusal, RowCounts, Table, fetch_targets, with_ids,
};
use super::{Actor, DataError, Tx};

/// On PostgreSQL: locks every active admin and every target, in id order (so two
/// operators queue instead of deadlocking). The second of two racing deletes then
/// counts admins only after the first has committed.
pub(crate) async fn lock_for_delete(tx: &mut Tx, ids: &[Uuid]) -> Result<(), DataError> {
    let (sql, args) = with_ids(
        "select id from users where id in ({ids}) or (role = 'admin' and is_active) \
         order by id for update",
        1,
        ids,
    );
    tx.fetch_all(sql, &args).await?;
    // Their chat sessions too: a new message in one needs a lock this holds off.
    let (sql, args) = with_ids(
        "select id from chat_sessions where user_id in ({ids}) order by id for update",
        1,
        ids,
    );
    tx.fetch_all(sql, &args).await?;
    Ok(())
}

pub(crate) async fn plan_delete(
    tx: &mut Tx,
    actor: &Actor,
    ids: &TargetIds,
    policy: ContentPolicy,
) -> Result<(Vec<PlannedTarget>, Vec<Refusal>), DataError> {
    let (rows, mut refused) = fetch_targets(
        tx,
        "select u.id, u.username, u.email, u.role, u.is_protected, u.is_service, u.is_active, \
         (select count(*) from guilds g where g.owner_id = u.id) as owned_guilds, \
         (select count(*) from chat_sessions s where s.user_id = u.id) as sessions, \
         (select count(*) from chat_messages m join chat_sessions s on s.id = m.session_id \
           where s.user_id = u.id) as session_messages, \
         (select count(*) from app_sessions a where a.user_id = u.id) as logins, \
         (select count(*) from guild_members gm where gm.user_id = u.id) as memberships, \
         (select count(*) from comments c where c.user_id = u.id) as comments, \
         (select count(*) from reviews r where r.user_id = u.id) as reviews, \
         (select count(*) from messages p where p.sender_id = u.id) as sent \
         from users u where u.id in ({ids})",
        ids,
    )
    .await?;
    let active_admins = tx
        .fetch_one(
            "select count(*) as n from users where role = 'admin' and is_active",
            &[],
        )
        .await?
        .int("n")?;
    let mut admins_left = active_admins;
    let mut targets = Vec::new();
    for r in &rows {
        let id = r.uuid("id")?;
        let username = r.text("username")?;
        let role = r.text("role")?;
        let is_active_admin = role == "admin" && r.bool("is_active")?;
        let owned = r.int("owned_guilds")?;
        let refusal = if id == actor.id {
            Some(FailReason::Yourself)
        } else if r.bool("is_protected")? {
            Some(FailReason::Protected)
        } else if r.bool("is_service")? {
            Some(FailReason::ServiceAccount)
        } else if owned > 0 {
            Some(FailReason::OwnsGuilds { count: owned })
        } else if is_active_admin && admins_left <= 1 {
            Some(FailReason::LastActiveAdmin)
        } else {
            None
        };
        if let Some(reason) = refusal {
            refused.push(Refusal {
                id,
                label: Some(username),
                reason,
            });
            continue;
        }
        if is_active_admin {
            admins_left -= 1;
        }
        let authored = RowCounts::new()
            .with(Table::Comments, r.int("comments")?)
            .with(Table::Reviews, r.int("reviews")?)
            .with(Table::Messages, r.int("sent")?);
        let mut counts = RowCounts::new()
            .with(Table::Users, 1)
            .with(Table::ChatSessions, r.int("sessions")?)
            .with(Table::ChatMessages, r.int("session_messages")?)
            .with(Table::AppSessions, r.int("logins")?)
            .with(Table::GuildMembers, r.int("memberships")?);
        let kept = match policy {
            ContentPolicy::Keep => authored,
            ContentPolicy::Delete => {
                counts.add_all(&authored);
                RowCounts::new()
            }
        };
        targets.push(PlannedTarget {
            id,
            label: username.clone(),
            counts,
            kept,
            new_owner: None,
            snapshot: serde_json::json!({
                "username": username,
                "email": r.text("email")?,
                "role": role,
                "content_policy": policy,
            }),
        });
    }
    // Refusals read best in the order the ids were given.
    let order: Vec<Uuid> = ids.as_slice().to_vec();
    refused.sort_by_key(|f| order.iter().position(|id| *id == f.id));
    Ok((targets, refused))
}

/// Deletes the users; cascades take their chat sessions (with messages), login sessions
/// and memberships; with the keep policy, their content stays with a NULL author.
pub(crate) async fn apply_delete(
    tx: &mut Tx,
    ids: &[Uuid],
    policy: ContentPolicy,
) -> Result<(), DataError> {
    if policy == ContentPolicy::Delete {
        for template in [
            "delete from comments where user_id in ({ids})",
            "delete from reviews where user_id in ({ids})",
            "delete from messages where sender_id in ({ids})",
        ] {
            let (sql, args) = with_ids(template, 1, ids);
            tx.execute(sql, &args).await?;
        }
    }
    super::plan::delete_where_id(tx, "delete from users where id in ({ids})", ids).await
}
