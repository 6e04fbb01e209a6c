//! `modcon schema show` and `schema init`: the map in force with the foreign-key graph,
//! and a first draft of a map written from the catalog.

use std::fmt::Write as _;

use super::Schema;
use super::catalog::{Catalog, TableInfo};
use super::map::{Entity, Expect};

/// The map in force and every foreign key between the platform's tables, grouped by the
/// table referenced, with its `ON DELETE` action.
pub fn render_graph(schema: &Schema) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "map in force ({}; {}{}):",
        if schema.reference {
            "the reference schema"
        } else {
            "from the configuration"
        },
        schema.backend,
        schema
            .catalog
            .namespace
            .as_deref()
            .map(|ns| format!(", schema {ns}"))
            .unwrap_or_default()
    );
    for entity in Entity::ALL {
        let Some(mapped) = schema.entity(entity) else {
            let _ = writeln!(out, "  {:<15} disabled", entity.name());
            continue;
        };
        let columns: Vec<String> = entity
            .keys()
            .iter()
            .filter_map(|spec| {
                mapped.columns.get(spec.key).map(|c| {
                    if c.name == spec.key {
                        c.name.clone()
                    } else {
                        format!("{}={}", spec.key, c.name)
                    }
                })
            })
            .collect();
        let _ = writeln!(
            out,
            "  {:<15} {}{} ({})",
            entity.name(),
            mapped.table,
            mapped
                .id_kind
                .map(|k| format!(", {k} ids"))
                .unwrap_or_default(),
            columns.join(", ")
        );
    }
    if !schema.admin_roles.is_empty() {
        let _ = writeln!(
            out,
            "  roles: admin = {}; moderator = {}",
            schema.admin_roles.join(", "),
            if schema.moderator_roles.is_empty() {
                "(none)".to_string()
            } else {
                schema.moderator_roles.join(", ")
            }
        );
    }
    if let Some(soft) = &schema.soft_delete {
        let _ = writeln!(
            out,
            "  users are soft-deleted: {} set{}",
            soft.at.name,
            soft.by
                .as_ref()
                .map(|b| format!(", {} = the operator", b.name))
                .unwrap_or_default()
        );
    }
    for note in &schema.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    let _ = writeln!(
        out,
        "\nforeign keys (deleting a row of the table on the left):"
    );
    let mut parents: Vec<&str> = schema
        .catalog
        .foreign_keys
        .iter()
        .map(|fk| fk.parent.as_str())
        .collect();
    parents.sort_unstable();
    parents.dedup();
    for parent in parents {
        let _ = writeln!(out, "  {parent}");
        for fk in schema.catalog.referencing(parent) {
            let _ = writeln!(
                out,
                "    ← {}({}) on delete {}{}",
                fk.child,
                fk.columns.join(", "),
                fk.on_delete.sql().to_lowercase(),
                match schema.entity_of_table(&fk.child) {
                    Some(_) => "",
                    None => "   (not in the map)",
                }
            );
        }
    }
    out
}

fn candidates(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Users => &["users", "user", "accounts", "account", "app_users"],
        Entity::Guilds => &[
            "guilds",
            "guild",
            "communities",
            "servers",
            "organizations",
            "teams",
        ],
        Entity::GuildMembers => &[
            "guild_members",
            "user_guilds",
            "guild_users",
            "memberships",
            "members",
        ],
        Entity::GuildSettings => &["guild_settings", "guild_config", "guild_configs"],
        Entity::ChatSessions => &[
            "chat_sessions",
            "chat_threads",
            "chats",
            "conversations",
            "chat_conversations",
            "ai_sessions",
        ],
        Entity::ChatMessages => &[
            "chat_messages",
            "conversation_messages",
            "chat_message",
            "ai_messages",
        ],
        Entity::Messages => &[
            "messages",
            "private_messages",
            "direct_messages",
            "user_messages",
        ],
        Entity::Books => &["books", "book"],
        Entity::Comments => &["comments", "book_comments", "comment"],
        Entity::Reviews => &["reviews", "book_reviews", "review"],
        Entity::AppSessions => &[
            "app_sessions",
            "user_sessions",
            "login_sessions",
            "refresh_tokens",
            "auth_sessions",
        ],
    }
}

fn column_candidates(key: &str) -> &'static [&'static str] {
    match key {
        "username" => &["username", "user_name", "login", "handle", "name"],
        "role" => &["role", "role_name", "user_role", "kind", "type"],
        "email" => &["email", "email_address", "mail"],
        "protected" => &["is_protected", "protected"],
        "service" => &[
            "is_service",
            "is_service_account",
            "service_account",
            "is_bot",
        ],
        "active" => &["is_active", "active", "enabled"],
        "name" => &["name", "guild_name", "title", "display_name"],
        "title" => &["title", "session_title", "topic", "name", "subject"],
        "model" => &["model", "model_name", "llm_model"],
        "content" => &["content", "body", "text", "message"],
        "created_at" => &["created_at", "created", "inserted_at", "timestamp"],
        "updated_at" => &["updated_at", "modified_at", "updated"],
        "joined_at" => &["joined_at", "created_at"],
        "read_at" => &["read_at", "seen_at"],
        "version" => &["version", "lock_version", "revision"],
        "rating" => &["rating", "stars", "score"],
        "key" => &["key", "name", "setting_key"],
        "value" => &["value", "setting_value"],
        _ => &[],
    }
}

/// A first map written from the catalog, for the operator to read and correct; what it
/// could not place is marked with `TODO`.
pub fn draft_map(catalog: &Catalog) -> String {
    let mut out = String::from(
        "# A draft schema map written by `modcon schema init` from the live catalog.\n\
         # Read every line: check the role values, then run `modcon schema check`.\n",
    );
    let mut placed: Vec<(Entity, &TableInfo)> = Vec::new();
    for entity in Entity::ALL {
        let table = candidates(entity)
            .iter()
            .find_map(|name| catalog.table(name))
            .filter(|t| !placed.iter().any(|(_, p)| p.name == t.name));
        let _ = writeln!(out, "\n[schema.{}]", entity.name());
        if let Some(needed) = entity.needs()
            && !placed.iter().any(|(e, _)| *e == needed)
        {
            let _ = writeln!(
                out,
                "enabled = false   # needs [schema.{}], which has no table here",
                needed.name()
            );
            continue;
        }
        let Some(table) = table else {
            let _ = writeln!(
                out,
                "enabled = false   # no table found; name it with table = \"…\" if it exists"
            );
            continue;
        };
        placed.push((entity, table));
        let _ = writeln!(out, "table = \"{}\"", table.name);
        for spec in entity.keys() {
            let found = match spec.expect {
                Expect::Id => table
                    .primary_key
                    .first()
                    .filter(|_| table.primary_key.len() == 1)
                    .cloned()
                    .or_else(|| table.column("id").map(|c| c.name.clone())),
                Expect::Ref(target) => {
                    let target_table = placed
                        .iter()
                        .find(|(e, _)| *e == target)
                        .map(|(_, t)| t.name.as_str());
                    let by_fk: Vec<&str> = catalog
                        .foreign_keys
                        .iter()
                        .filter(|fk| {
                            fk.child == table.name
                                && Some(fk.parent.as_str()) == target_table
                                && fk.columns.len() == 1
                        })
                        .map(|fk| fk.columns[0].as_str())
                        .collect();
                    let preferred = by_fk.iter().find(|c| **c == spec.default).copied();
                    preferred
                        .or(if by_fk.len() == 1 {
                            Some(by_fk[0])
                        } else {
                            None
                        })
                        .or_else(|| table.column(spec.default).map(|c| c.name.as_str()))
                        .map(str::to_string)
                }
                _ => std::iter::once(spec.default)
                    .chain(column_candidates(spec.key).iter().copied())
                    .find_map(|c| table.column(c))
                    .map(|c| c.name.clone()),
            };
            match found {
                Some(column) => {
                    let _ = writeln!(out, "{} = \"{column}\"", spec.key);
                }
                None if spec.required => {
                    let _ = writeln!(
                        out,
                        "{} = \"TODO\"   # required: the column that holds {}",
                        spec.key,
                        spec.expect.describe()
                    );
                }
                None => {
                    let _ = writeln!(out, "{} = \"\"   # optional; none found", spec.key);
                }
            }
        }
        if entity == Entity::Users {
            let _ = writeln!(
                out,
                "admin_roles = [\"admin\"]          # TODO: the role values of admins\n\
                 moderator_roles = [\"moderator\"]  # TODO: the role values of moderators"
            );
            if let Some(at) = ["deleted_at", "removed_at"]
                .iter()
                .find_map(|c| table.column(c))
            {
                let by = ["deleted_by", "removed_by"]
                    .iter()
                    .find_map(|c| table.column(c))
                    .map(|c| format!(", by = \"{}\"", c.name))
                    .unwrap_or_default();
                let _ = writeln!(out, "soft_delete = {{ at = \"{}\"{by} }}", at.name);
            }
        }
    }
    out
}
