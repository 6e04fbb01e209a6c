//! Guild deletion (admin, SPEC §4.7): the guild with its memberships, settings, chat
//! sessions and their messages, and the platform login sessions opened in it.

use super::ids::TargetIds;
use super::plan::{PlannedTarget, Refusal, RowCounts, Table, excerpt, fetch_targets};
use super::{DataError, Tx};

pub(crate) async fn plan_delete(
    tx: &mut Tx,
    ids: &TargetIds,
) -> Result<(Vec<PlannedTarget>, Vec<Refusal>), DataError> {
    let (rows, refused) = fetch_targets(
        tx,
        "select g.id, g.name, g.owner_id, u.username as owner, \
         (select count(*) from guild_members gm where gm.guild_id = g.id) as members, \
         (select count(*) from guild_settings gs where gs.guild_id = g.id) as settings, \
         (select count(*) from chat_sessions s where s.guild_id = g.id) as sessions, \
         (select count(*) from chat_messages m join chat_sessions s on s.id = m.session_id \
           where s.guild_id = g.id) as messages, \
         (select count(*) from app_sessions a where a.guild_id = g.id) as logins \
         from guilds g left join users u on u.id = g.owner_id where g.id in ({ids})",
        ids,
    )
    .await?;
    let targets = rows
        .iter()
        .map(|r| {
            let name = r.text("name")?;
            Ok(PlannedTarget {
                id: r.uuid("id")?,
                label: excerpt(&name, 120),
                counts: RowCounts::new()
                    .with(Table::Guilds, 1)
                    .with(Table::GuildMembers, r.int("members")?)
                    .with(Table::GuildSettings, r.int("settings")?)
                    .with(Table::ChatSessions, r.int("sessions")?)
                    .with(Table::ChatMessages, r.int("messages")?)
                    .with(Table::AppSessions, r.int("logins")?),
                kept: RowCounts::new(),
                new_owner: None,
                snapshot: serde_json::json!({
                    "name": name,
                    "owner_id": r.opt_uuid("owner_id")?,
                    "owner": r.opt_text("owner")?,
                }),
            })
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    Ok((targets, refused))
}
