//! What a delete takes with it, from the live foreign-key graph (SPEC §8): every table
//! reached through `ON DELETE CASCADE` is counted, also tables modcon does not otherwise
//! know; rows that a `SET NULL` / `SET DEFAULT` reference keeps are counted as kept and
//! unlinked; rows whose `RESTRICT` / `NO ACTION` reference would make the database refuse
//! the delete refuse their target instead, naming the table.

use std::collections::{BTreeMap, HashMap};

use super::model::RowCounts;
use super::schema::{FkAction, ForeignKey, Schema};
use super::{DataError, Id, IdKind, Sql, Tx};

/// Rows deleted first, selected as `table.column in (the target ids)`; the target is the
/// id in `column`. A user delete with the delete-content policy has several roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub table: String,
    pub column: String,
    /// The column is the table's own id: each target is exactly one row.
    pub is_id: bool,
}

/// What the targets take with them.
#[derive(Debug, Default)]
pub struct Impact {
    pub counts: HashMap<Id, RowCounts>,
    pub kept: HashMap<Id, RowCounts>,
    /// The first restricting reference found per target.
    pub blockers: HashMap<Id, (String, i64)>,
    /// Exact totals per table (a row reached by two paths is counted once).
    pub total: RowCounts,
    pub total_kept: RowCounts,
}

/// A chain of cascading foreign keys from a root outwards.
#[derive(Debug, Clone)]
struct Path<'a> {
    root: usize,
    hops: Vec<&'a ForeignKey>,
}

impl Path<'_> {
    fn table<'t>(&'t self, roots: &'t [Root]) -> &'t str {
        match self.hops.last() {
            Some(fk) => &fk.child,
            None => &roots[self.root].table,
        }
    }
}

// A path never enters a table twice, so a cascading key from a table to itself (replies
// to comments) is followed one level only: deeper rows need a recursive query.
const MAX_DEPTH: usize = 8;
const MAX_PATHS: usize = 256;

/// Every cascade path from the roots, shortest first.
fn cascade_paths<'a>(schema: &'a Schema, roots: &[Root]) -> Vec<Path<'a>> {
    let mut paths: Vec<Path<'a>> = (0..roots.len())
        .map(|root| Path {
            root,
            hops: Vec::new(),
        })
        .collect();
    let mut next = 0;
    while next < paths.len() && paths.len() < MAX_PATHS {
        let path = paths[next].clone();
        next += 1;
        if path.hops.len() >= MAX_DEPTH {
            continue;
        }
        let table = path.table(roots).to_string();
        for fk in schema.catalog.referencing(&table) {
            if fk.on_delete != FkAction::Cascade {
                continue;
            }
            let seen =
                fk.child == roots[path.root].table || path.hops.iter().any(|h| h.child == fk.child);
            if seen {
                continue;
            }
            let mut hops = path.hops.clone();
            hops.push(fk);
            paths.push(Path {
                root: path.root,
                hops,
            });
        }
    }
    paths
}

/// The targets and where their rows start.
#[derive(Clone, Copy)]
struct Scope<'a> {
    schema: &'a Schema,
    roots: &'a [Root],
    kind: IdKind,
    ids: &'a [Id],
}

/// The SQL condition that a row of `table` (aliased `alias`) goes with the targets:
/// it is a root row, or it references such a row through a cascade.
fn doomed(
    q: &mut Sql<'_>,
    scope: &Scope<'_>,
    table: &str,
    alias: &str,
    stack: &mut Vec<String>,
    counter: &mut usize,
) {
    let Scope {
        schema,
        roots,
        kind,
        ids,
    } = *scope;
    stack.push(table.to_string());
    let mut first = true;
    q.push("(");
    for root in roots.iter().filter(|r| r.table == table) {
        if !first {
            q.push(" or ");
        }
        first = false;
        q.push(alias).push(".").ident(&root.column).push(" in (");
        q.bind_ids(kind, ids).push(")");
    }
    let parents: Vec<&ForeignKey> = schema
        .catalog
        .foreign_keys
        .iter()
        .filter(|fk| fk.child == table && fk.on_delete == FkAction::Cascade)
        .filter(|fk| !stack.contains(&fk.parent))
        .filter(|fk| reaches(schema, roots, &fk.parent, stack))
        .collect();
    for fk in parents {
        if !first {
            q.push(" or ");
        }
        first = false;
        *counter += 1;
        let parent_alias = format!("d{counter}");
        columns(q, alias, &fk.columns);
        q.push(" in (select ");
        let parent_columns: Vec<String> = fk.parent_columns.clone();
        list(q, &parent_alias, &parent_columns);
        q.push(" from ")
            .table(&fk.parent)
            .push(" ")
            .push(&parent_alias);
        q.push(" where ");
        doomed(q, scope, &fk.parent, &parent_alias, stack, counter);
        q.push(")");
    }
    if first {
        q.push("1 = 0");
    }
    q.push(")");
    stack.pop();
}

/// True if rows of `table` can go with the targets (a root, or below one by cascade),
/// not passing through tables on `stack`.
fn reaches(schema: &Schema, roots: &[Root], table: &str, stack: &[String]) -> bool {
    if roots.iter().any(|r| r.table == table) {
        return true;
    }
    let mut stack = stack.to_vec();
    stack.push(table.to_string());
    schema
        .catalog
        .foreign_keys
        .iter()
        .filter(|fk| fk.child == table && fk.on_delete == FkAction::Cascade)
        .filter(|fk| !stack.contains(&fk.parent))
        .any(|fk| reaches(schema, roots, &fk.parent, &stack))
}

/// `a.x` or `(a.x, a.y)`.
fn columns(q: &mut Sql<'_>, alias: &str, names: &[String]) {
    if names.len() == 1 {
        q.push(alias).push(".").ident(&names[0]);
    } else {
        q.push("(");
        list(q, alias, names);
        q.push(")");
    }
}

fn list(q: &mut Sql<'_>, alias: &str, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push(alias).push(".").ident(name);
    }
}

/// One way to a counted table: a cascade path from a root, and optionally one more
/// foreign key that does not cascade (kept or restricting rows).
#[derive(Clone, Copy)]
struct Route<'p, 'a> {
    path: &'p Path<'a>,
    extra: Option<&'a ForeignKey>,
}

impl Route<'_, '_> {
    fn counted<'r>(&'r self, roots: &'r [Root]) -> &'r str {
        match self.extra {
            Some(fk) => &fk.child,
            None => self.path.table(roots),
        }
    }
}

/// Appends `select <target> as target<projection> from <the route's table, joined back
/// to its root> where <target> in (ids)`, leaving out, for a non-cascading last hop,
/// rows that go with the targets themselves. The counted table is aliased `tN`.
fn route_select(q: &mut Sql<'_>, scope: &Scope<'_>, route: Route<'_, '_>, projection: &[String]) {
    let Scope {
        schema,
        roots,
        kind,
        ids,
    } = *scope;
    let mut hops: Vec<&ForeignKey> = route.path.hops.clone();
    if let Some(fk) = route.extra {
        hops.push(fk);
    }
    let root = &roots[route.path.root];
    // Aliases t0 (the root) … tN (the counted table).
    let n = hops.len();
    let counted = route.counted(roots);
    // When the first hop references the target column itself, the root need not be
    // joined: the target id is in the first child's column.
    let skip_root = hops
        .first()
        .is_some_and(|fk| fk.parent_columns.len() == 1 && fk.parent_columns[0] == root.column);
    let (target_alias, target_column) = if skip_root {
        ("t1".to_string(), hops[0].columns[0].clone())
    } else {
        ("t0".to_string(), root.column.clone())
    };
    q.push("select ")
        .push(&target_alias)
        .push(".")
        .ident(&target_column)
        .push(" as target");
    for (i, column) in projection.iter().enumerate() {
        q.push(&format!(", t{n}."))
            .ident(column)
            .push(&format!(" as k{i}"));
    }
    q.push(" from ").table(counted).push(&format!(" t{n}"));
    let lowest = if skip_root { 1 } else { 0 };
    for i in (lowest..n).rev() {
        let fk = hops[i];
        let parent = if i == 0 {
            &root.table
        } else {
            &hops[i - 1].child
        };
        q.push(" join ").table(parent).push(&format!(" t{i} on "));
        for (j, (child_col, parent_col)) in fk.columns.iter().zip(&fk.parent_columns).enumerate() {
            if j > 0 {
                q.push(" and ");
            }
            q.push(&format!("t{}.", i + 1))
                .ident(child_col)
                .push(&format!(" = t{i}."))
                .ident(parent_col);
        }
    }
    q.push(" where ")
        .push(&target_alias)
        .push(".")
        .ident(&target_column)
        .push(" in (");
    q.bind_ids(kind, ids).push(")");
    if route.extra.is_some() && reaches(schema, roots, counted, &[]) {
        q.push(" and not ");
        let mut counter = 0;
        doomed(
            q,
            scope,
            counted,
            &format!("t{n}"),
            &mut Vec::new(),
            &mut counter,
        );
    }
}

/// Rows per target of the table the routes lead to. One route: a grouped count. More
/// than one (a row reachable twice): the rows are told apart by the table's primary
/// key, so each counts once per target; a table without one is counted per route.
fn per_target_count<'s>(scope: &Scope<'s>, routes: &[Route<'_, '_>]) -> Sql<'s> {
    let mut q = Sql::new(scope.schema);
    // One cascading hop straight from the targets' own rows (a session's messages): a
    // correlated count per target walks the child's index, where a grouped count over
    // the same rows lets PostgreSQL scan the whole table when the targets hold most of it.
    if let [route] = routes
        && route.extra.is_none()
        && let [fk] = route.path.hops.as_slice()
        && fk.columns.len() == 1
        && scope.roots[route.path.root].is_id
        && fk.parent_columns.len() == 1
        && fk.parent_columns[0] == scope.roots[route.path.root].column
    {
        let root = &scope.roots[route.path.root];
        q.push("select t0.")
            .ident(&root.column)
            .push(" as target, (select count(*) from ")
            .table(&fk.child)
            .push(" t1 where t1.")
            .ident(&fk.columns[0])
            .push(" = t0.")
            .ident(&root.column)
            .push(") as n from ")
            .table(&root.table)
            .push(" t0 where t0.")
            .ident(&root.column)
            .push(" in (");
        q.bind_ids(scope.kind, scope.ids).push(")");
        return q;
    }
    let table = routes[0].counted(scope.roots);
    let key: Vec<String> = scope
        .schema
        .catalog
        .table(table)
        .map(|t| t.primary_key.clone())
        .unwrap_or_default();
    if routes.len() == 1 || key.is_empty() {
        q.push("select target, count(*) as n from (");
        for (i, route) in routes.iter().enumerate() {
            if i > 0 {
                q.push(" union all ");
            }
            route_select(&mut q, scope, *route, &[]);
        }
    } else {
        q.push("select target, count(*) as n from (");
        for (i, route) in routes.iter().enumerate() {
            if i > 0 {
                // `union`, not `union all`: the same row through two routes is one row.
                q.push(" union ");
            }
            route_select(&mut q, scope, *route, &key);
        }
    }
    q.push(") as routes group by target");
    q
}

/// Counts, per target and in total, what deleting the roots' rows takes with it.
pub(crate) async fn measure(
    tx: &mut Tx,
    schema: &Schema,
    roots: &[Root],
    kind: IdKind,
    ids: &[Id],
) -> Result<Impact, DataError> {
    let mut impact = Impact::default();
    if ids.is_empty() {
        return Ok(impact);
    }
    let paths = cascade_paths(schema, roots);
    let scope = Scope {
        schema,
        roots,
        kind,
        ids,
    };
    let mut paths_per_table: BTreeMap<String, usize> = BTreeMap::new();
    // Routes to each counted table: cascaded rows, and rows kept (SET NULL / DEFAULT).
    let mut deleted: BTreeMap<String, Vec<Route<'_, '_>>> = BTreeMap::new();
    let mut kept: BTreeMap<String, Vec<Route<'_, '_>>> = BTreeMap::new();
    let mut restricting: Vec<Route<'_, '_>> = Vec::new();
    for path in &paths {
        let table = path.table(roots).to_string();
        *paths_per_table.entry(table.clone()).or_insert(0) += 1;
        let root = &roots[path.root];
        if path.hops.is_empty() && root.is_id {
            for id in ids {
                impact.counts.entry(id.clone()).or_default().add(&table, 1);
            }
        } else {
            deleted
                .entry(table.clone())
                .or_default()
                .push(Route { path, extra: None });
        }
        for fk in schema.catalog.referencing(&table) {
            match fk.on_delete {
                FkAction::Cascade => {}
                action if action.restricts() => restricting.push(Route {
                    path,
                    extra: Some(fk),
                }),
                _ => kept.entry(fk.child.clone()).or_default().push(Route {
                    path,
                    extra: Some(fk),
                }),
            }
        }
    }
    for (table, routes) in &deleted {
        for row in tx.fetch_all_sql(&per_target_count(&scope, routes)).await? {
            let target = row.id("target")?;
            impact
                .counts
                .entry(target)
                .or_default()
                .add(table, row.int("n")?);
        }
    }
    for (table, routes) in &kept {
        for row in tx.fetch_all_sql(&per_target_count(&scope, routes)).await? {
            let target = row.id("target")?;
            impact
                .kept
                .entry(target)
                .or_default()
                .add(table, row.int("n")?);
        }
    }
    for route in &restricting {
        let table = route.counted(roots).to_string();
        let q = per_target_count(&scope, std::slice::from_ref(route));
        for row in tx.fetch_all_sql(&q).await? {
            let target = row.id("target")?;
            impact
                .blockers
                .entry(target)
                .or_insert_with(|| (table.clone(), 0))
                .1 += row.int("n")?;
        }
    }
    for counts in impact.counts.values() {
        impact.total.add_all(counts);
    }
    for kept in impact.kept.values() {
        impact.total_kept.add_all(kept);
    }
    // A row kept through two routes (two SET NULL columns, or for two targets) is
    // one row in the total.
    for (table, routes) in &kept {
        let key: Vec<String> = schema
            .catalog
            .table(table)
            .map(|t| t.primary_key.clone())
            .unwrap_or_default();
        if key.is_empty() || (routes.len() < 2 && ids.len() < 2) {
            continue;
        }
        let mut q = Sql::new(schema);
        q.push("select count(*) as n from (");
        for (i, route) in routes.iter().enumerate() {
            if i > 0 {
                q.push(" union ");
            }
            // The key only, not the target: one row however many targets keep it.
            q.push("select ");
            for j in 0..key.len() {
                if j > 0 {
                    q.push(", ");
                }
                q.push(&format!("r{i}.k{j}"));
            }
            q.push(" from (");
            route_select(&mut q, &scope, *route, &key);
            q.push(&format!(") as r{i}"));
        }
        q.push(") as kept_rows");
        let exact = tx.fetch_one_sql(&q).await?.int("n")?;
        let summed = impact.total_kept.get(table);
        impact.total_kept.add(table, exact - summed);
    }
    // A table reached by more than one path may hold rows reached twice: count it
    // exactly, once.
    for (table, n) in &paths_per_table {
        if *n < 2 {
            continue;
        }
        let mut q = Sql::new(schema);
        q.push("select count(*) as n from ")
            .table(table)
            .push(" x where ");
        let mut counter = 0;
        doomed(&mut q, &scope, table, "x", &mut Vec::new(), &mut counter);
        let exact = tx.fetch_one_sql(&q).await?.int("n")?;
        let summed = impact.total.get(table);
        impact.total.add(table, exact - summed);
    }
    Ok(impact)
}

/// On PostgreSQL, locks the rows the delete goes through (the roots, in id order, and
/// every table with cascading children), so nothing can be added under them until
/// commit: a child row's foreign key check needs a lock that `for update` holds off.
pub(crate) async fn lock(
    tx: &mut Tx,
    schema: &Schema,
    roots: &[Root],
    kind: IdKind,
    ids: &[Id],
) -> Result<(), DataError> {
    if schema.backend == super::Backend::Sqlite || ids.is_empty() {
        return Ok(());
    }
    let scope = Scope {
        schema,
        roots,
        kind,
        ids,
    };
    let paths = cascade_paths(schema, roots);
    let mut locked: Vec<String> = Vec::new();
    for path in &paths {
        let table = path.table(roots).to_string();
        let is_root = path.hops.is_empty();
        let has_children = schema
            .catalog
            .referencing(&table)
            .iter()
            .any(|fk| fk.on_delete == FkAction::Cascade);
        if locked.contains(&table) || !(is_root || has_children) {
            continue;
        }
        locked.push(table.clone());
        let mut q = Sql::new(schema);
        q.push("select 1 from ").table(&table).push(" x where ");
        doomed(&mut q, &scope, &table, "x", &mut Vec::new(), &mut 0);
        if is_root {
            q.push(" order by x.").ident(&roots[path.root].column);
        }
        match schema.backend {
            super::Backend::Postgres => q.push(" for update of x"),
            _ => q.push(" for update"),
        };
        tx.fetch_all_sql(&q).await?;
    }
    Ok(())
}

/// Every table whose rows go with the roots' (the roots' own tables and each table a
/// cascade reaches), in the order the paths first reach them.
pub(crate) fn doomed_tables(schema: &Schema, roots: &[Root]) -> Vec<String> {
    let mut tables: Vec<String> = Vec::new();
    for path in cascade_paths(schema, roots) {
        let table = path.table(roots);
        if !tables.iter().any(|t| t == table) {
            tables.push(table.to_string());
        }
    }
    tables
}

/// Appends the condition that row `alias` of `table` goes when the targets `ids` are
/// deleted from the roots: the same condition the plan counts with.
pub(crate) fn push_doomed(
    q: &mut Sql<'_>,
    schema: &Schema,
    roots: &[Root],
    kind: IdKind,
    ids: &[Id],
    table: &str,
    alias: &str,
) {
    let scope = Scope {
        schema,
        roots,
        kind,
        ids,
    };
    let mut counter = 0;
    doomed(q, &scope, table, alias, &mut Vec::new(), &mut counter);
}
