//! What the console says, in one place so the wording stays consistent.

use crate::db::Entity;

pub const APP: &str = "modcon";
pub const SIGN_IN_TITLE: &str = "Sign in";
pub const USERNAME: &str = "Username";
pub const PASSWORD: &str = "Password";
pub const SIGNING_IN: &str = "signing in…";
pub const CODE: &str = "Code";
pub const CODE_HINT: &str = "Code from your authenticator app, or a recovery code";
pub const CODE_KEYS: &str = "Enter signs in · Esc goes back";
pub const CODE_MISSING: &str = "enter the code from your authenticator app";
pub const CONNECTING: &str = "connecting to the database…";

/// The status line while the database does not answer.
pub fn unreachable(error: &crate::db::DataError) -> String {
    match error {
        crate::db::DataError::Unavailable(reason) => {
            format!("cannot reach or open the database (R tries again): {reason}")
        }
        other => other.to_string(),
    }
}
pub const SIGN_IN_QUEUED: &str = "signing in as soon as the database answers… (Esc: not now)";
pub const SIGN_IN_CANCELLED: &str = "not signed in: Enter signs in";
pub const DEMO_HINT: &str = "Demo operators:";
pub const READ_ONLY_BADGE: &str = " READ-ONLY ";
pub const NO_ROWS: &str = "nothing here";
pub const NO_MATCH: &str = "no row matches the filter";
pub const LOADING: &str = "loading…";
pub const CAPPED: &str = "list stops here: narrow it with / or :user";
pub const TOO_SMALL: &str = "terminal too small";
pub const CONFIRM_TITLE: &str = "Confirm";
pub const CANCEL: &str = "Cancel";
pub const PLAN_CHANGED: &str =
    "The plan changed since you confirmed it: nothing in this batch was changed. Review it again.";
pub const READ_ONLY_REFUSAL: &str = "read-only session: nothing can be changed";
pub const NOTHING_SELECTED: &str = "nothing to act on: the list is empty";
pub const STOPPING: &str = "stopping after the current batch…";
pub const HELP_TITLE: &str = "Keys";
pub const EDITOR_HINT: &str = "Enter saves · Alt-Enter or Ctrl-j new line · Esc leaves";
pub const DISCARD_QUESTION: &str = "Discard your changes?";
pub const KEEP_EDITING: &str = " Keep editing ";
pub const DISCARD: &str = " Discard ";
pub const RESTORE_TITLE: &str = " Restore from the trash ";
pub const RESTORING: &str = "restoring: putting the rows back…";
pub const NOTHING_COMES_BACK: &str = "nothing in this batch can come back";
pub const NOTHING_TO_RESTORE: &str = "nothing to restore: the list is empty";
pub const RESTORE_PLANNING: &str = "planning the restore: checking what can come back…";
pub const TEXT_FOOTER: &str = "Esc closes · ↑↓ PgUp PgDn scroll";
pub const USER_DETAIL_FOOTER: &str =
    "Enter their chat sessions · 2 messages · 3 comments · Esc closes";
pub const NO_EARLIER_VIEW: &str = "no earlier view to go back to";
pub const TABS: [&str; 6] = [
    "1 Chats",
    "2 Messages",
    "3 Comments",
    "4 Guilds",
    "5 Users",
    "6 Audit",
];

/// The `:` commands, as help lists them.
pub const COMMANDS_TITLE: &str = "Commands (:):";
pub const COMMANDS: [&str; 5] = [
    ":orphans   orphaned chat sessions only     :goto ID   one row, or a loaded one by id prefix     :user NAME  one user's rows",
    ":search TEXT  every chat session with a message containing TEXT (F); mark, Ctrl-a, d",
    ":help      this list                       :q, :quit  quit",
    "Comments:  :comments  :reviews  :all (both)",
    "Users:     :admins  :moderators  :users  :all",
];

pub const SEARCH_TITLE: &str = "Search";
pub const SEARCH_USAGE: &str = "usage: :search TEXT (every chat message, any session)";
pub const SEARCH_STOPPED: &str = "search stopped: the database cancelled it (R runs it again)";
pub const SEARCH_NO_MATCH: &str = "no chat message contains this text";
pub const SEARCH_LEAVE: &str = "1 goes back to Chats; / searches for other text";

/// The progress line of a search the database is still working on.
pub fn searching(seconds: f64) -> String {
    format!("searching… {seconds:.1} s · Esc stops it")
}

/// `:goto` with a prefix several loaded rows share.
pub fn goto_ambiguous(prefix: &str, n: usize) -> String {
    format!(
        "{n} loaded rows have an id starting with {}: type more of it",
        crate::sanitize::fit(prefix.trim(), 40)
    )
}

pub fn goto_not_loaded(prefix: &str) -> String {
    format!(
        "no loaded row has an id starting with {}",
        crate::sanitize::fit(prefix.trim(), 40)
    )
}

pub const NOTHING_TO_COPY: &str = "nothing to copy: the list is empty";

/// After `y`: the id as copied, made safe to show.
pub fn copied_id(id: &str) -> String {
    format!("copied id {}", crate::sanitize::fit(id, 60))
}

/// Esc while marking all (or inverting): nothing was changed.
pub fn stopped_marking(invert: bool) -> String {
    let what = if invert { "inverting" } else { "marking" };
    format!("stopped {what}: no mark changed")
}

pub fn unknown_command(name: &str) -> String {
    format!(
        "unknown command :{} — :help lists the commands",
        crate::sanitize::fit(name, 20)
    )
}

/// Who wrote a chat message. Only a user's message whose author is gone is by a
/// "deleted user"; assistant, system and tool messages have no author and go by their role.
pub fn chat_author(author: Option<&str>, role: &str) -> String {
    match (author, role) {
        (Some(name), _) => name.to_string(),
        (None, "user") => "deleted user".into(),
        (None, role) => crate::sanitize::clean_line(role),
    }
}

pub fn not_allowed(what: &str, role: crate::db::Role) -> String {
    format!("{what} is not allowed for the {role} role")
}

/// What is left of the operator's hourly cap: "2 of 3 chat sessions left this hour".
pub fn left_this_hour(allowance: &crate::db::Allowance, nouns: &str) -> String {
    format!(
        "{} of {} {nouns} left this hour",
        allowance.remaining, allowance.limit
    )
}

/// Why a plan over the hourly cap cannot be confirmed.
pub fn over_hourly_limit(allowance: &crate::db::Allowance, nouns: &str) -> String {
    let when = allowance
        .frees_at
        .map(|at| {
            format!(
                ": frees up at {} {}",
                super::clock::format(&at, "%H:%M"),
                super::clock::label()
            )
        })
        .unwrap_or_default();
    format!(
        "over your hourly limit ({}){when}",
        left_this_hour(allowance, nouns)
    )
}

/// Targets a rule refused, in the plan and in the outcome alike.
pub const REFUSED: &str = "Refused";

/// "1 message", "2 messages".
pub fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Which platform table is which entity, set when the console connects (one database
/// per console); before that, and in tests, tables go by their reference names.
static TABLES: std::sync::RwLock<Vec<(String, Entity)>> = std::sync::RwLock::new(Vec::new());
static IDS: std::sync::RwLock<Option<crate::db::schema::IdKinds>> = std::sync::RwLock::new(None);

/// What the console learns of the platform's schema when it connects.
pub fn set_platform(ids: crate::db::schema::IdKinds) {
    if let Ok(mut guard) = TABLES.write() {
        *guard = ids.tables.clone();
    }
    if let Ok(mut guard) = IDS.write() {
        *guard = Some(ids);
    }
}

/// Reads an id the operator typed for `entity`, as the platform's column type.
pub fn parse_id(entity: Entity, text: &str) -> Result<crate::db::Id, String> {
    match IDS.read().ok().as_deref().and_then(Option::as_ref) {
        Some(ids) => ids.parse(entity, text),
        None => crate::db::IdKind::Text.parse(text),
    }
}

/// The entity a platform table is mapped as.
pub fn entity_of(table: &str) -> Option<Entity> {
    let mapped = TABLES
        .read()
        .ok()
        .and_then(|t| t.iter().find(|(name, _)| name == table).map(|(_, e)| *e));
    mapped.or_else(|| Entity::from_name(table))
}

/// The platform's table for an entity.
pub fn table_of(entity: Entity) -> String {
    TABLES
        .read()
        .ok()
        .and_then(|t| t.iter().find(|(_, e)| *e == entity).map(|(n, _)| n.clone()))
        .unwrap_or_else(|| entity.name().to_string())
}

/// Where a table comes in a plan: messages first, then what goes with them, the
/// targets last, then tables the map does not name.
pub fn table_rank(table: &str) -> (usize, String) {
    const ORDER: [Entity; 10] = [
        Entity::ChatMessages,
        Entity::Messages,
        Entity::Comments,
        Entity::Reviews,
        Entity::GuildMembers,
        Entity::GuildSettings,
        Entity::AppSessions,
        Entity::ChatSessions,
        Entity::Guilds,
        Entity::Users,
    ];
    let rank = entity_of(table)
        .and_then(|e| ORDER.iter().position(|o| *o == e))
        .unwrap_or(ORDER.len());
    (rank, table.to_string())
}

/// How a table's rows read next to a count: "1 chat message", "3 chat messages"; a
/// table the map does not name keeps its own name: "2 corrections rows".
pub fn table_noun(table: &str, n: i64) -> String {
    match entity_of(table) {
        Some(entity) => {
            let (one, many) = entity.nouns();
            if n == 1 { one } else { many }.to_string()
        }
        None => format!(
            "{} row{}",
            crate::sanitize::clean_line(table),
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// A table named in an audit row's counts, readable when it is one of ours.
pub fn table_name(name: &str, n: i64) -> String {
    table_noun(name, n)
}

/// A short, stable id for tables: a uuid's first 8 hex digits; other ids whole (cut to
/// 8 cells with `…` if longer), through the sanitiser (text ids are written by
/// strangers too).
pub fn short_id(id: &crate::db::Id) -> String {
    match id.as_uuid() {
        Some(uuid) => uuid.simple().to_string()[..8].to_string(),
        None => crate::sanitize::fit(&id.to_string(), 8),
    }
}

/// Above a confirmation whose targets include names that pass for others.
pub fn lookalikes_in_plan(n: usize) -> String {
    let which = if n == 1 {
        "1 name here passes".to_string()
    } else {
        format!("{n} names here pass")
    };
    format!("⚠ {which} for another (marked look-alike): check before you confirm")
}

/// Typed text that reads like the name asked for but is not the same text.
pub fn typed_lookalike(expected: &str) -> String {
    format!("that only looks like {expected}: type the name exactly as shown")
}

/// `u` on an audit row that is not a delete's.
pub fn not_a_delete(row: i64, action: &str) -> String {
    format!(
        "Row {row} records {}, not a delete: only what a delete removed is kept in the trash, \
         so there is nothing to restore.",
        crate::sanitize::clean_line(action)
    )
}

/// Why a batch cannot be restored at all (purged, already restored…), from the data layer.
pub fn cannot_restore(batch: &uuid::Uuid) -> String {
    format!("Cannot restore batch {}", &batch.simple().to_string()[..8])
}

/// The status line after a restore.
pub fn restored_summary(report: &crate::db::trash::RestoreReport) -> String {
    let mut text = format!(
        "restored {} of batch {}",
        plural(report.restored(), "row", "rows"),
        &report.batch_id.simple().to_string()[..8]
    );
    if !report.refused.is_empty() {
        text.push_str(&format!(", {} could not come back", report.refused.len()));
    }
    text
}
