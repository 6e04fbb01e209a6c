//! Checks a [`SchemaMap`] against the live [`Catalog`]: every table and column named
//! must exist and hold what its part needs. Every problem is reported, one line each.

use std::collections::BTreeMap;

use super::catalog::{Catalog, TableInfo, TypeClass};
use super::map::{Entity, Expect, KeySpec, SchemaMap};
use super::{MappedColumn, MappedEntity, Problems, Schema, SoftDelete};
use crate::db::IdKind;

/// The map as the database can serve it, or every problem found.
pub fn check(map: &SchemaMap, catalog: Catalog) -> Result<Schema, Problems> {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut entities: BTreeMap<Entity, MappedEntity> = BTreeMap::new();
    // Ids first, so references can be compared with the type they point at.
    let mut order: Vec<Entity> = Entity::ALL.to_vec();
    order.sort_by_key(|e| !e.keys().iter().any(|k| k.expect == Expect::Id));
    for entity in order {
        let section = map.entity(entity);
        if !section.enabled {
            if entity.is_required() {
                problems.push(format!(
                    "schema.{}: modcon needs the users table; it cannot be disabled",
                    entity.name()
                ));
            }
            continue;
        }
        let table_name = map.table(entity);
        let Some(table) = catalog.table(table_name) else {
            let hint = suggest(table_name, catalog.tables.keys().map(String::as_str));
            let what = if section.table.is_some() {
                format!("schema.{}.table = \"{table_name}\"", entity.name())
            } else {
                format!("schema.{} (table {table_name})", entity.name())
            };
            problems.push(format!(
                "{what}: no such table{}{hint}",
                catalog
                    .namespace
                    .as_deref()
                    .map(|ns| format!(" in schema {ns}"))
                    .unwrap_or_default()
            ));
            continue;
        };
        let mut columns = BTreeMap::new();
        let mut id_kind = None;
        for spec in entity.keys() {
            let Some(column) = map.column(entity, spec) else {
                continue;
            };
            let Some(info) = table.column(column) else {
                if spec.required || map.is_written(entity, spec.key) {
                    problems.push(missing_column(entity, spec, column, table));
                } else {
                    notes.push(format!(
                        "{}.{}: the table has no column {column}; treated as absent",
                        entity.name(),
                        spec.key
                    ));
                }
                continue;
            };
            match usable(spec.expect, info.class, map, &entities, catalog.backend) {
                Ok(kind) => {
                    if spec.expect == Expect::Id {
                        // modcon's own reference schema keeps uuids as text on SQLite:
                        // they are read and checked as uuids all the same.
                        id_kind = match kind {
                            Some(IdKind::Text) if map.is_reference() => Some(IdKind::Uuid),
                            other => other,
                        };
                    }
                    columns.insert(
                        spec.key,
                        MappedColumn {
                            name: info.name.clone(),
                            class: info.class,
                            nullable: info.nullable,
                        },
                    );
                }
                Err(expected) => problems.push(format!(
                    "schema.{}.{} = \"{column}\": column {}.{column} is {}, expected {expected}",
                    entity.name(),
                    spec.key,
                    table.name,
                    info.declared.to_lowercase()
                )),
            }
        }
        entities.insert(
            entity,
            MappedEntity {
                table: table.name.clone(),
                columns,
                id_kind,
            },
        );
    }
    for entity in Entity::ALL {
        if let Some(needed) = entity.needs()
            && map.entity(entity).enabled
            && !map.entity(needed).enabled
        {
            problems.push(format!(
                "schema.{}: needs schema.{} enabled (or set enabled = false here too)",
                entity.name(),
                needed.name()
            ));
        }
    }
    if map.admin_roles.is_empty() {
        problems.push("schema.users.admin_roles: at least one role value is needed".into());
    }
    let soft_delete = map.soft_delete.as_ref().and_then(|soft| {
        let users = catalog.table(map.table(Entity::Users))?;
        let mut column = |key: &str, name: &str, expect: Expect| -> Option<MappedColumn> {
            match users.column(name) {
                None => {
                    problems.push(format!(
                        "schema.users.soft_delete.{key} = \"{name}\": no column {name} in \
                         table {}{}",
                        users.name,
                        suggest(name, users.columns.iter().map(|c| c.name.as_str()))
                    ));
                    None
                }
                Some(info) => match usable(expect, info.class, map, &entities, catalog.backend) {
                    Ok(_) => Some(MappedColumn {
                        name: info.name.clone(),
                        class: info.class,
                        nullable: info.nullable,
                    }),
                    Err(expected) => {
                        problems.push(format!(
                            "schema.users.soft_delete.{key} = \"{name}\": column {}.{name} is \
                             {}, expected {expected}",
                            users.name,
                            info.declared.to_lowercase()
                        ));
                        None
                    }
                },
            }
        };
        let at = column("at", &soft.at, Expect::Time)?;
        let by = match &soft.by {
            Some(by) => Some(column("by", by, Expect::Ref(Entity::Users))?),
            None => None,
        };
        Some(SoftDelete { at, by })
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Schema {
        backend: catalog.backend,
        namespace: map.namespace.clone(),
        entities,
        admin_roles: map.admin_roles.clone(),
        moderator_roles: map.moderator_roles.clone(),
        soft_delete,
        catalog,
        reference: map.is_reference(),
        notes,
    })
}

fn missing_column(entity: Entity, spec: &KeySpec, column: &str, table: &TableInfo) -> String {
    format!(
        "schema.{}.{} = \"{column}\": no column {column} in table {}{}",
        entity.name(),
        spec.key,
        table.name,
        suggest(column, table.columns.iter().map(|c| c.name.as_str()))
    )
}

/// Ok with the id kind for id columns; Err with what was expected.
fn usable(
    expect: Expect,
    class: TypeClass,
    map: &SchemaMap,
    mapped: &BTreeMap<Entity, MappedEntity>,
    backend: crate::db::Backend,
) -> Result<Option<IdKind>, String> {
    let sqlite = backend == crate::db::Backend::Sqlite;
    // Where uuids are text and booleans are integers (SQLite, MySQL).
    let loose = backend != crate::db::Backend::Postgres;
    let ok = match expect {
        Expect::Id => return id_kind(class).map(Some).ok_or_else(|| expect.describe()),
        Expect::Ref(target) => {
            let Some(kind) = id_kind(class) else {
                return Err(expect.describe());
            };
            match mapped.get(&target).and_then(|e| e.id_kind) {
                // The target is disabled or was not usable: nothing to compare with.
                None => true,
                Some(target_kind) => {
                    same_family(kind, target_kind, loose) || !map.entity(target).enabled
                }
            }
        }
        // An enum's labels are text: statements read and compare it cast to text.
        Expect::Text => matches!(class, TypeClass::Text | TypeClass::Enum),
        Expect::Time => class == TypeClass::Time || (sqlite && class == TypeClass::Text),
        Expect::Bool => class == TypeClass::Bool || (loose && class == TypeClass::Integer),
        Expect::Int => matches!(class, TypeClass::Integer | TypeClass::BigInt),
    };
    if ok { Ok(None) } else { Err(expect.describe()) }
}

fn id_kind(class: TypeClass) -> Option<IdKind> {
    match class {
        TypeClass::Integer => Some(IdKind::Integer),
        TypeClass::BigInt => Some(IdKind::BigInt),
        TypeClass::Uuid => Some(IdKind::Uuid),
        TypeClass::Text => Some(IdKind::Text),
        _ => None,
    }
}

/// Columns that can be compared: integers with integers, and where uuids are text
/// (SQLite, MySQL), uuids with text.
fn same_family(a: IdKind, b: IdKind, loose: bool) -> bool {
    match (a, b) {
        (a, b) if a.is_integer() && b.is_integer() => true,
        (IdKind::Uuid, IdKind::Uuid) | (IdKind::Text, IdKind::Text) => true,
        (IdKind::Uuid, IdKind::Text) | (IdKind::Text, IdKind::Uuid) => loose,
        _ => false,
    }
}

/// " (did you mean X?)" for the closest name within a small edit distance.
fn suggest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> String {
    let wanted_lower = wanted.to_lowercase();
    names
        .map(|name| (edit_distance(&wanted_lower, &name.to_lowercase()), name))
        .filter(|(d, name)| *d <= 2.max(wanted.len() / 3) && *d < name.len())
        .min()
        .map(|(_, name)| format!(" (did you mean {name}?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_name_the_closest_name_only_when_it_is_close() {
        assert_eq!(
            suggest("usres", ["users", "guilds"].into_iter()),
            " (did you mean users?)"
        );
        assert_eq!(suggest("zzz", ["users"].into_iter()), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
