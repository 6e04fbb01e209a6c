//! Guild deletion (admin, SPEC §4.7): the guild with whatever its foreign keys take
//! with it — memberships, settings, chat sessions and their messages, login sessions
//! opened in it, and tables modcon does not otherwise know.

use super::ids::TargetIds;
use super::model::{Described, Refusal, excerpt, fetch_targets};
use super::schema::Entity;
use super::{DataError, Schema, Sql, Tx};

pub(crate) async fn describe(
    tx: &mut Tx,
    schema: &Schema,
    ids: &TargetIds,
) -> Result<(Vec<Described>, Vec<Refusal>), DataError> {
    let mut q = Sql::new(schema);
    q.alias("g", Entity::Guilds).alias("u", Entity::Users);
    q.push("select {g.id} as id, {g.name} as name, {g.owner|null} as owner_id, ");
    if schema.has(Entity::Guilds, "owner") {
        q.push(
            "(select {u.username} from {@users} u where {u.id} = {g.owner}) as owner \
             from {@guilds} g where {g.id} in (",
        );
    } else {
        q.push("null as owner from {@guilds} g where {g.id} in (");
    }
    q.bind_ids(schema.id_kind(Entity::Guilds), ids.as_slice())
        .push(")");
    let (rows, refused) = fetch_targets(tx, &q, ids).await?;
    let targets = rows
        .iter()
        .map(|r| {
            let name = r.text("name")?;
            Ok(Described::new(
                r.id("id")?,
                excerpt(&name, 120),
                serde_json::json!({
                    "name": name,
                    "owner_id": r.opt_id("owner_id")?,
                    "owner": r.opt_text("owner")?,
                }),
            ))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}
