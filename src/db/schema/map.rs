//! The schema map (SPEC §8): which of the platform's tables and columns play which part.
//! Every entity and key is described once, in [`Entity::keys`]; parsing, checking,
//! `schema show` and `schema init` all read that description.

use std::collections::BTreeMap;

use serde::Serialize;

/// What a platform table is to modcon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Users,
    Guilds,
    GuildMembers,
    GuildSettings,
    ChatSessions,
    ChatMessages,
    Messages,
    Books,
    Comments,
    Reviews,
    AppSessions,
}

/// What a mapped column must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The entity's own id: integer, bigint, uuid or text.
    Id,
    /// An id of another entity: the same type as that entity's id.
    Ref(Entity),
    Text,
    Time,
    Bool,
    Int,
}

impl Expect {
    pub fn describe(self) -> String {
        match self {
            Expect::Id => "an id (integer, bigint, uuid or text)".into(),
            Expect::Ref(entity) => format!("an id of the same type as {}.id", entity.name()),
            Expect::Text => "text".into(),
            Expect::Time => "a timestamp".into(),
            Expect::Bool => "a boolean".into(),
            Expect::Int => "an integer".into(),
        }
    }
}

/// One key of an entity's map section.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub key: &'static str,
    /// The reference schema's column.
    pub default: &'static str,
    pub required: bool,
    pub expect: Expect,
}

const fn req(key: &'static str, default: &'static str, expect: Expect) -> KeySpec {
    KeySpec {
        key,
        default,
        required: true,
        expect,
    }
}

const fn opt(key: &'static str, default: &'static str, expect: Expect) -> KeySpec {
    KeySpec {
        key,
        default,
        required: false,
        expect,
    }
}

use Expect::{Bool, Id, Int, Ref, Text, Time};

const USERS: &[KeySpec] = &[
    req("id", "id", Id),
    req("username", "username", Text),
    req("role", "role", Text),
    opt("email", "email", Text),
    opt("protected", "is_protected", Bool),
    opt("service", "is_service", Bool),
    opt("active", "is_active", Bool),
    opt("created_at", "created_at", Time),
];
const GUILDS: &[KeySpec] = &[
    req("id", "id", Id),
    req("name", "name", Text),
    opt("owner", "owner_id", Ref(Entity::Users)),
    opt("created_at", "created_at", Time),
];
const GUILD_MEMBERS: &[KeySpec] = &[
    req("guild", "guild_id", Ref(Entity::Guilds)),
    req("user", "user_id", Ref(Entity::Users)),
    opt("role", "role", Text),
    opt("joined_at", "joined_at", Time),
];
const GUILD_SETTINGS: &[KeySpec] = &[
    req("guild", "guild_id", Ref(Entity::Guilds)),
    req("key", "key", Text),
    req("value", "value", Text),
];
const CHAT_SESSIONS: &[KeySpec] = &[
    req("id", "id", Id),
    req("owner", "user_id", Ref(Entity::Users)),
    opt("guild", "guild_id", Ref(Entity::Guilds)),
    opt("title", "title", Text),
    opt("model", "model", Text),
    req("created_at", "created_at", Time),
    opt("updated_at", "updated_at", Time),
];
const CHAT_MESSAGES: &[KeySpec] = &[
    req("id", "id", Id),
    req("session", "session_id", Ref(Entity::ChatSessions)),
    opt("author", "author_id", Ref(Entity::Users)),
    opt("role", "role", Text),
    req("content", "content", Text),
    req("created_at", "created_at", Time),
];
const MESSAGES: &[KeySpec] = &[
    req("id", "id", Id),
    req("sender", "sender_id", Ref(Entity::Users)),
    req("recipient", "recipient_id", Ref(Entity::Users)),
    req("content", "content", Text),
    req("created_at", "created_at", Time),
    opt("read_at", "read_at", Time),
];
const BOOKS: &[KeySpec] = &[req("id", "id", Id), req("title", "title", Text)];
const COMMENTS: &[KeySpec] = &[
    req("id", "id", Id),
    opt("book", "book_id", Ref(Entity::Books)),
    req("author", "user_id", Ref(Entity::Users)),
    req("content", "content", Text),
    opt("version", "version", Int),
    req("created_at", "created_at", Time),
    opt("updated_at", "updated_at", Time),
];
const REVIEWS: &[KeySpec] = &[
    req("id", "id", Id),
    opt("book", "book_id", Ref(Entity::Books)),
    req("author", "user_id", Ref(Entity::Users)),
    req("content", "content", Text),
    req("rating", "rating", Int),
    opt("version", "version", Int),
    req("created_at", "created_at", Time),
    opt("updated_at", "updated_at", Time),
];
const APP_SESSIONS: &[KeySpec] = &[
    req("user", "user_id", Ref(Entity::Users)),
    opt("guild", "guild_id", Ref(Entity::Guilds)),
];

impl Entity {
    pub const ALL: [Entity; 11] = [
        Entity::Users,
        Entity::Guilds,
        Entity::GuildMembers,
        Entity::GuildSettings,
        Entity::ChatSessions,
        Entity::ChatMessages,
        Entity::Messages,
        Entity::Books,
        Entity::Comments,
        Entity::Reviews,
        Entity::AppSessions,
    ];

    /// The section name: `[schema.<name>]`, and the reference table's name.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Users => "users",
            Entity::Guilds => "guilds",
            Entity::GuildMembers => "guild_members",
            Entity::GuildSettings => "guild_settings",
            Entity::ChatSessions => "chat_sessions",
            Entity::ChatMessages => "chat_messages",
            Entity::Messages => "messages",
            Entity::Books => "books",
            Entity::Comments => "comments",
            Entity::Reviews => "reviews",
            Entity::AppSessions => "app_sessions",
        }
    }

    pub fn from_name(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.name() == name)
    }

    pub fn keys(self) -> &'static [KeySpec] {
        match self {
            Entity::Users => USERS,
            Entity::Guilds => GUILDS,
            Entity::GuildMembers => GUILD_MEMBERS,
            Entity::GuildSettings => GUILD_SETTINGS,
            Entity::ChatSessions => CHAT_SESSIONS,
            Entity::ChatMessages => CHAT_MESSAGES,
            Entity::Messages => MESSAGES,
            Entity::Books => BOOKS,
            Entity::Comments => COMMENTS,
            Entity::Reviews => REVIEWS,
            Entity::AppSessions => APP_SESSIONS,
        }
    }

    pub fn key(self, key: &str) -> Option<&'static KeySpec> {
        self.keys().iter().find(|k| k.key == key)
    }

    /// How a person reads the entity's rows: one, many.
    pub fn nouns(self) -> (&'static str, &'static str) {
        match self {
            Entity::Users => ("user", "users"),
            Entity::Guilds => ("guild", "guilds"),
            Entity::GuildMembers => ("guild membership", "guild memberships"),
            Entity::GuildSettings => ("guild setting", "guild settings"),
            Entity::ChatSessions => ("chat session", "chat sessions"),
            Entity::ChatMessages => ("chat message", "chat messages"),
            Entity::Messages => ("private message", "private messages"),
            Entity::Books => ("book", "books"),
            Entity::Comments => ("comment", "comments"),
            Entity::Reviews => ("review", "reviews"),
            Entity::AppSessions => ("login session", "login sessions"),
        }
    }

    /// Entities without which modcon cannot run.
    pub fn is_required(self) -> bool {
        self == Entity::Users
    }

    /// Entities that depend on this one being enabled.
    pub fn needs(self) -> Option<Entity> {
        match self {
            Entity::GuildMembers | Entity::GuildSettings => Some(Entity::Guilds),
            Entity::ChatMessages => Some(Entity::ChatSessions),
            _ => None,
        }
    }
}

/// A mapped column: a name, or explicitly none (`key = ""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Named(String),
    Absent,
}

/// One `[schema.<entity>]` section as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntityMap {
    pub enabled: bool,
    /// `None`: the reference table name.
    pub table: Option<String>,
    /// Only the keys the operator wrote.
    pub columns: BTreeMap<&'static str, Column>,
    /// The section was written at all.
    pub written: bool,
}

/// Where soft-deleted users are marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftDeleteMap {
    pub at: String,
    pub by: Option<String>,
}

/// The whole `[schema]` table of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaMap {
    /// PostgreSQL: the schema holding the platform's tables (default: the current one).
    pub namespace: Option<String>,
    pub entities: BTreeMap<Entity, EntityMap>,
    pub admin_roles: Vec<String>,
    pub moderator_roles: Vec<String>,
    pub soft_delete: Option<SoftDeleteMap>,
}

impl Default for SchemaMap {
    fn default() -> Self {
        SchemaMap::reference()
    }
}

impl SchemaMap {
    /// The reference schema: every name its default.
    pub fn reference() -> SchemaMap {
        SchemaMap {
            namespace: None,
            entities: Entity::ALL
                .into_iter()
                .map(|e| {
                    (
                        e,
                        EntityMap {
                            enabled: true,
                            ..EntityMap::default()
                        },
                    )
                })
                .collect(),
            admin_roles: vec!["admin".into()],
            moderator_roles: vec!["moderator".into()],
            soft_delete: None,
        }
    }

    /// True when no entity section was written: modcon owns the reference schema and
    /// `migrate` may create it.
    pub fn is_reference(&self) -> bool {
        self.entities.values().all(|e| !e.written)
    }

    pub fn entity(&self, entity: Entity) -> &EntityMap {
        static DISABLED: EntityMap = EntityMap {
            enabled: false,
            table: None,
            columns: BTreeMap::new(),
            written: false,
        };
        self.entities.get(&entity).unwrap_or(&DISABLED)
    }

    /// The table an entity is mapped to.
    pub fn table(&self, entity: Entity) -> &str {
        self.entity(entity)
            .table
            .as_deref()
            .unwrap_or(entity.name())
    }

    /// The column a key is mapped to: written, else the reference name; `None` for an
    /// explicit `key = ""`.
    pub fn column(&self, entity: Entity, key: &KeySpec) -> Option<&str> {
        match self.entity(entity).columns.get(key.key) {
            Some(Column::Named(name)) => Some(name),
            Some(Column::Absent) => None,
            None => Some(key.default),
        }
    }

    /// True if the operator named this key (a missing column is then an error even for
    /// an optional key).
    pub fn is_written(&self, entity: Entity, key: &str) -> bool {
        matches!(self.entity(entity).columns.get(key), Some(Column::Named(_)))
    }

    /// Reads the `[schema]` table of `config.toml`; every mistake is reported, one line
    /// each, with the key named.
    pub fn from_toml(table: &toml::Table) -> Result<SchemaMap, Vec<String>> {
        let mut map = SchemaMap::reference();
        let mut problems = Vec::new();
        for (name, value) in table {
            if name == "namespace" {
                match value.as_str() {
                    Some(ns) if !ns.is_empty() => map.namespace = Some(ns.to_string()),
                    _ => problems.push("schema.namespace: expected a schema name".into()),
                }
                continue;
            }
            let Some(entity) = Entity::from_name(name) else {
                problems.push(format!(
                    "schema.{name}: unknown entity (expected one of: namespace, {})",
                    Entity::ALL.map(Entity::name).join(", ")
                ));
                continue;
            };
            let Some(section) = value.as_table() else {
                problems.push(format!("schema.{name}: expected a table of keys"));
                continue;
            };
            let parsed = parse_section(entity, section, &mut map, &mut problems);
            map.entities.insert(entity, parsed);
        }
        if problems.is_empty() {
            Ok(map)
        } else {
            Err(problems)
        }
    }
}

fn parse_section(
    entity: Entity,
    section: &toml::Table,
    map: &mut SchemaMap,
    problems: &mut Vec<String>,
) -> EntityMap {
    let name = entity.name();
    let mut parsed = EntityMap {
        enabled: true,
        written: true,
        ..EntityMap::default()
    };
    for (key, value) in section {
        let at = format!("schema.{name}.{key}");
        match key.as_str() {
            "enabled" => match value.as_bool() {
                Some(b) => parsed.enabled = b,
                None => problems.push(format!("{at}: expected true or false")),
            },
            "table" => match value.as_str() {
                Some(t) if !t.is_empty() => parsed.table = Some(t.to_string()),
                _ => problems.push(format!("{at}: expected a table name")),
            },
            "admin_roles" | "moderator_roles" if entity == Entity::Users => {
                match string_list(value) {
                    Some(list) if !list.is_empty() || key == "moderator_roles" => {
                        if key == "admin_roles" {
                            map.admin_roles = list;
                        } else {
                            map.moderator_roles = list;
                        }
                    }
                    _ => problems.push(format!(
                        "{at}: expected a list of role values, e.g. [\"system_admin\"]"
                    )),
                }
            }
            "soft_delete" if entity == Entity::Users => match value.as_table() {
                Some(t) => {
                    let at_col = t.get("at").and_then(toml::Value::as_str);
                    let by_col = t.get("by").and_then(toml::Value::as_str);
                    let unknown: Vec<&String> =
                        t.keys().filter(|k| *k != "at" && *k != "by").collect();
                    match at_col {
                        Some(at_name) if !at_name.is_empty() && unknown.is_empty() => {
                            map.soft_delete = Some(SoftDeleteMap {
                                at: at_name.to_string(),
                                by: by_col.filter(|b| !b.is_empty()).map(str::to_string),
                            });
                        }
                        _ => problems.push(format!(
                            "{at}: expected {{ at = \"deleted_at\", by = \"deleted_by\" }} \
                             (by is optional)"
                        )),
                    }
                }
                None => problems.push(format!(
                    "{at}: expected {{ at = \"deleted_at\", by = \"deleted_by\" }}"
                )),
            },
            other => match entity.key(other) {
                Some(spec) => match value.as_str() {
                    Some("") if spec.required => {
                        problems.push(format!("{at}: required; it cannot be empty"))
                    }
                    Some("") => {
                        parsed.columns.insert(spec.key, Column::Absent);
                    }
                    Some(col) => {
                        parsed
                            .columns
                            .insert(spec.key, Column::Named(col.to_string()));
                    }
                    None => problems.push(format!("{at}: expected a column name")),
                },
                None => problems.push(format!(
                    "{at}: unknown key (expected one of: enabled, table, {}{})",
                    entity
                        .keys()
                        .iter()
                        .map(|k| k.key)
                        .collect::<Vec<_>>()
                        .join(", "),
                    if entity == Entity::Users {
                        ", admin_roles, moderator_roles, soft_delete"
                    } else {
                        ""
                    }
                )),
            },
        }
    }
    parsed
}

fn string_list(value: &toml::Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SchemaMap, Vec<String>> {
        let table: toml::Table = toml::from_str(text).unwrap();
        SchemaMap::from_toml(&table)
    }

    #[test]
    fn an_empty_map_is_the_reference_schema() {
        let map = parse("").unwrap();
        assert!(map.is_reference());
        assert_eq!(map.table(Entity::ChatSessions), "chat_sessions");
        let owner = Entity::ChatSessions.key("owner").unwrap();
        assert_eq!(map.column(Entity::ChatSessions, owner), Some("user_id"));
    }

    #[test]
    fn written_keys_override_and_empty_ones_mean_no_such_column() {
        let map = parse(
            "[users]\ntable = \"accounts\"\nrole = \"role_name\"\n\
             admin_roles = [\"system_admin\"]\nsoft_delete = { at = \"deleted_at\" }\n\
             [comments]\nversion = \"\"\n[guilds]\nenabled = false\n",
        )
        .unwrap();
        assert!(!map.is_reference());
        assert_eq!(map.table(Entity::Users), "accounts");
        let role = Entity::Users.key("role").unwrap();
        assert_eq!(map.column(Entity::Users, role), Some("role_name"));
        let version = Entity::Comments.key("version").unwrap();
        assert_eq!(map.column(Entity::Comments, version), None);
        assert!(!map.entity(Entity::Guilds).enabled);
        assert_eq!(map.admin_roles, vec!["system_admin".to_string()]);
        assert_eq!(map.soft_delete.unwrap().by, None);
    }

    #[test]
    fn every_mistake_in_the_map_is_one_line_naming_the_key() {
        let problems = parse(
            "[usres]\ntable = \"u\"\n[users]\nusrname = \"x\"\nid = \"\"\nadmin_roles = \"a\"\n",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems.iter().any(|p| p.starts_with("schema.usres:")));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("schema.users.usrname:"))
        );
        assert!(problems.iter().any(|p| p.starts_with("schema.users.id:")));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("schema.users.admin_roles:"))
        );
    }
}
