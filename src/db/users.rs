//! User deletion (admin, SPEC §4.6): per-user refusals while the others proceed, the
//! last active admin kept even against two operators at once, a content policy, and
//! soft delete where the map names its columns (SPEC §8).

use super::actor::deleted_flag;
use super::ids::TargetIds;
use super::impact::Root;
use super::model::{Described, FailReason, Refusal, fetch_targets};
use super::ops::ContentPolicy;
use super::schema::Entity;
use super::{Actor, Backend, DataError, Id, Role, Schema, Sql, Tx};

/// `u` is an active admin: an admin role value, active, not soft-deleted.
fn active_admin(q: &mut Sql<'_>, schema: &Schema) {
    q.push("({u.role} in (");
    for (i, role) in schema.role_values(Role::Admin).iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(role.clone());
    }
    q.push(") and ({u.active|1 = 1})");
    if let Some(soft) = &schema.soft_delete {
        q.push(" and u.").ident(&soft.at.name).push(" is null");
    }
    q.push(")");
}

/// On PostgreSQL: locks every active admin and every target, in id order (so two
/// operators queue instead of deadlocking). The second of two racing deletes then
/// counts admins only after the first has committed.
pub(crate) async fn lock_for_delete(
    tx: &mut Tx,
    schema: &Schema,
    ids: &[Id],
) -> Result<(), DataError> {
    if schema.backend == Backend::Sqlite {
        return Ok(());
    }
    let mut q = Sql::new(schema);
    q.alias("u", Entity::Users)
        .push("select {u.id} from {@users} u where {u.id} in (")
        .bind_ids(schema.id_kind(Entity::Users), ids)
        .push(") or ");
    active_admin(&mut q, schema);
    q.push(" order by {u.id} for update");
    tx.fetch_all_sql(&q).await?;
    Ok(())
}

pub(crate) async fn describe(
    tx: &mut Tx,
    schema: &Schema,
    actor: &Actor,
    ids: &TargetIds,
    policy: ContentPolicy,
) -> Result<(Vec<Described>, Vec<Refusal>), DataError> {
    let mut q = Sql::new(schema);
    q.alias("u", Entity::Users).alias("g", Entity::Guilds);
    q.push(
        "select {u.id} as id, {u.username} as username, {u.email|''} as email, \
         {u.role} as role, ({u.protected|1 = 0}) as is_protected, \
         ({u.service|1 = 0}) as is_service, ({u.active|1 = 1}) as is_active, ",
    );
    deleted_flag(&mut q, schema, "u");
    if schema.has(Entity::Guilds, "owner") {
        q.push(", (select count(*) from {@guilds} g where {g.owner} = {u.id}) as owned_guilds");
    } else {
        q.push(", 0 as owned_guilds");
    }
    q.push(" from {@users} u where {u.id} in (")
        .bind_ids(schema.id_kind(Entity::Users), ids.as_slice())
        .push(")");
    let (rows, mut refused) = fetch_targets(tx, &q, ids).await?;
    let mut admins = Sql::new(schema);
    admins
        .alias("u", Entity::Users)
        .push("select count(*) as n from {@users} u where ");
    active_admin(&mut admins, schema);
    let mut admins_left = tx.fetch_one_sql(&admins).await?.int("n")?;
    let mut targets = Vec::new();
    for r in &rows {
        let id = r.id("id")?;
        let username = r.text("username")?;
        let role_value = r.text("role")?;
        let role = schema.role_of(&role_value);
        let is_deleted = r.bool("is_deleted")?;
        let is_active_admin = role == Role::Admin && r.bool("is_active")? && !is_deleted;
        let owned = r.int("owned_guilds")?;
        let refusal = if id == actor.id {
            Some(FailReason::Yourself)
        } else if is_deleted {
            Some(FailReason::AlreadyDeleted)
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
        targets.push(Described::new(
            id,
            username.clone(),
            serde_json::json!({
                "username": username,
                "email": r.opt_text("email")?.unwrap_or_default(),
                "role": role_value,
                "content_policy": policy,
            }),
        ));
    }
    // Refusals read best in the order the ids were given.
    let order: Vec<Id> = ids.as_slice().to_vec();
    refused.sort_by_key(|f| order.iter().position(|id| *id == f.id));
    Ok((targets, refused))
}

/// Where a user delete starts: their content first (with the delete policy), then the
/// users themselves unless they are soft-deleted.
pub(crate) fn roots(schema: &Schema, policy: ContentPolicy) -> Vec<Root> {
    let mut roots = Vec::new();
    if policy == ContentPolicy::Delete {
        for (entity, key) in [
            (Entity::Comments, "author"),
            (Entity::Reviews, "author"),
            (Entity::Messages, "sender"),
        ] {
            if let (Some(mapped), Some(column)) =
                (schema.entity(entity), schema.column(entity, key))
            {
                roots.push(Root {
                    table: mapped.table.clone(),
                    column: column.name.clone(),
                    is_id: false,
                });
            }
        }
    }
    if schema.soft_delete.is_none()
        && let (Some(users), Some(id)) = (
            schema.entity(Entity::Users),
            schema.column(Entity::Users, "id"),
        )
    {
        roots.push(Root {
            table: users.table.clone(),
            column: id.name.clone(),
            is_id: true,
        });
    }
    roots
}

/// Marks soft-deleted users (SPEC §8): the delete columns set, `active` cleared.
pub(crate) async fn soft_delete(
    tx: &mut Tx,
    schema: &Schema,
    actor: &Actor,
    ids: &[Id],
) -> Result<u64, DataError> {
    let Some(soft) = &schema.soft_delete else {
        return Err(DataError::Internal("soft delete without its columns"));
    };
    let users = schema.id_kind(Entity::Users);
    let mut q = Sql::new(schema);
    q.push("update {@users} set ")
        .ident(&soft.at.name)
        .push(" = ")
        .bind(chrono::Utc::now());
    if let Some(by) = &soft.by {
        q.push(", ")
            .ident(&by.name)
            .push(" = ")
            .bind_id(users, &actor.id);
    }
    if let Some(active) = schema.column(Entity::Users, "active") {
        q.push(", ").ident(&active.name).push(" = ").bind(false);
    }
    let id = schema
        .column(Entity::Users, "id")
        .map(|c| c.name.clone())
        .unwrap_or_default();
    q.push(" where ")
        .ident(&id)
        .push(" in (")
        .bind_ids(users, ids);
    q.push(") and ").ident(&soft.at.name).push(" is null");
    tx.execute_sql(&q).await
}
