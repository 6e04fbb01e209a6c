//! The platform's schema as modcon uses it (SPEC §8): the map from `config.toml`,
//! checked against the live catalog into a [`Schema`]. Identifiers reach SQL only from a
//! checked `Schema`, quoted by the statement builder.

pub mod catalog;
mod check;
pub mod map;
mod show;

use std::collections::BTreeMap;

use serde::Serialize;

pub use catalog::{Catalog, FkAction, ForeignKey, TypeClass};
pub use check::check;
pub use map::{Entity, SchemaMap};
pub use show::{draft_map, render_graph};

use super::{Backend, IdKind};

/// A mapped column that exists, with its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedColumn {
    pub name: String,
    pub class: TypeClass,
    pub nullable: bool,
}

/// An enabled entity whose table exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedEntity {
    pub table: String,
    pub columns: BTreeMap<&'static str, MappedColumn>,
    /// The type of the entity's `id` (entities without one, like memberships: `None`).
    pub id_kind: Option<IdKind>,
}

/// Soft-delete columns of the users table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SoftDelete {
    pub at: MappedColumn,
    pub by: Option<MappedColumn>,
}

/// The checked map: what modcon may name in SQL.
#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    pub backend: Backend,
    pub namespace: Option<String>,
    entities: BTreeMap<Entity, MappedEntity>,
    pub admin_roles: Vec<String>,
    pub moderator_roles: Vec<String>,
    pub soft_delete: Option<SoftDelete>,
    pub catalog: Catalog,
    /// modcon owns the reference schema (no map written).
    pub reference: bool,
    /// Notes for `schema show`: optional columns the platform does not have.
    pub notes: Vec<String>,
}

impl Schema {
    pub fn entity(&self, entity: Entity) -> Option<&MappedEntity> {
        self.entities.get(&entity)
    }

    pub fn is_enabled(&self, entity: Entity) -> bool {
        self.entities.contains_key(&entity)
    }

    pub fn column(&self, entity: Entity, key: &str) -> Option<&MappedColumn> {
        self.entity(entity)?.columns.get(key)
    }

    pub fn has(&self, entity: Entity, key: &str) -> bool {
        self.column(entity, key).is_some()
    }

    /// The id type of an entity; users always have one.
    pub fn id_kind(&self, entity: Entity) -> IdKind {
        self.entity(entity)
            .and_then(|e| e.id_kind)
            .unwrap_or(IdKind::Text)
    }

    /// The table's own name (raw: quote before use, show through the sanitiser).
    pub fn table_name(&self, entity: Entity) -> &str {
        self.entity(entity)
            .map(|e| e.table.as_str())
            .unwrap_or(entity.name())
    }

    /// The entity a platform table is mapped as, if any.
    pub fn entity_of_table(&self, table: &str) -> Option<Entity> {
        self.entities
            .iter()
            .find(|(_, e)| e.table == table)
            .map(|(entity, _)| *entity)
    }

    /// How to read a number of a table's rows: "3 chat messages", "1 corrections row".
    pub fn count_noun(&self, table: &str, n: i64) -> String {
        match self.entity_of_table(table) {
            Some(entity) => {
                let (one, many) = entity.nouns();
                if n == 1 {
                    one.to_string()
                } else {
                    many.to_string()
                }
            }
            None => format!("{table} row{}", if n == 1 { "" } else { "s" }),
        }
    }

    /// Where a table comes in a plan: messages first (SPEC §1), then the mapped
    /// entities in their order, then tables modcon does not otherwise know.
    pub fn display_rank(&self, table: &str) -> (usize, String) {
        let rank = match self.entity_of_table(table) {
            Some(Entity::ChatMessages) => 0,
            Some(entity) => 1 + Entity::ALL.iter().position(|e| *e == entity).unwrap_or(0),
            None => 100,
        };
        (rank, table.to_string())
    }

    /// What a platform role value makes an operator (SPEC §3, §8).
    pub fn role_of(&self, value: &str) -> super::Role {
        if self.admin_roles.iter().any(|r| r == value) {
            super::Role::Admin
        } else if self.moderator_roles.iter().any(|r| r == value) {
            super::Role::Moderator
        } else {
            super::Role::User
        }
    }

    /// The role values that make an operator an admin / a moderator.
    pub fn role_values(&self, role: super::Role) -> &[String] {
        match role {
            super::Role::Admin => &self.admin_roles,
            super::Role::Moderator => &self.moderator_roles,
            super::Role::User => &[],
        }
    }

    pub fn enabled_entities(&self) -> impl Iterator<Item = Entity> + '_ {
        self.entities.keys().copied()
    }
}

/// The id type of every enabled entity: what the console needs to read an id typed by
/// the operator (`:goto`), without the whole schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdKinds {
    kinds: BTreeMap<Entity, IdKind>,
    /// Each enabled entity's table.
    pub tables: Vec<(String, Entity)>,
}

impl IdKinds {
    pub fn of(schema: &Schema) -> IdKinds {
        IdKinds {
            kinds: schema
                .entities
                .iter()
                .filter_map(|(e, m)| m.id_kind.map(|k| (*e, k)))
                .collect(),
            tables: schema
                .entities
                .iter()
                .map(|(e, m)| (m.table.clone(), *e))
                .collect(),
        }
    }

    pub fn kind(&self, entity: Entity) -> IdKind {
        self.kinds.get(&entity).copied().unwrap_or(IdKind::Text)
    }

    /// Reads an id typed for `entity`; `Err` says what was expected.
    pub fn parse(&self, entity: Entity, text: &str) -> Result<super::Id, String> {
        self.kind(entity).parse(text)
    }
}

/// One problem with a map, on one line, naming the table or column.
pub type Problems = Vec<String>;

/// Reads every mapped column of every enabled entity through the statement builder
/// (no rows: `where 1 = 0`), so a table the database user may not read, or a name the
/// builder cannot quote, is found at start and not in the middle of a delete.
pub(crate) async fn probe(db: &super::Db, schema: &Schema) -> Result<(), super::DataError> {
    let mut problems = Vec::new();
    for entity in schema.enabled_entities().collect::<Vec<_>>() {
        let Some(mapped) = schema.entity(entity) else {
            continue;
        };
        let mut q = super::Sql::new(schema);
        q.alias("e", entity).push("select ");
        for (i, key) in mapped.columns.keys().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push(&format!("{{e.{key}}}"));
        }
        if mapped.columns.is_empty() {
            q.push("1");
        }
        q.push(&format!(" from {{@{}}} e where 1 = 0", entity.name()));
        // One transaction each: on PostgreSQL a failed statement ends its transaction.
        let mut tx = db.read().await?;
        let result = tx.fetch_all_sql(&q).await;
        tx.rollback().await?;
        match result {
            Ok(_) => {}
            Err(error @ super::DataError::Unavailable(_)) => return Err(error),
            Err(error) => problems.push(format!(
                "schema.{}: table {} cannot be read: {error}",
                entity.name(),
                mapped.table
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(super::DataError::Schema(problems))
    }
}
