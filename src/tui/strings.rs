//! What the console says, in one place so the wording stays consistent.

pub const APP: &str = "modcon";
pub const SIGN_IN_TITLE: &str = "Sign in";
pub const USERNAME: &str = "Username";
pub const PASSWORD: &str = "Password";
pub const SIGNING_IN: &str = "signing in…";
pub const CONNECTING: &str = "connecting to the database…";
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
pub const TEXT_FOOTER: &str = "Esc closes · ↑↓ PgUp PgDn scroll";
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
pub const COMMANDS: [&str; 4] = [
    ":orphans   orphaned chat sessions only     :goto ID   one row     :user NAME  one user's rows",
    ":help      this list                       :q, :quit  quit",
    "Comments:  :comments  :reviews  :all (both)",
    "Users:     :admins  :moderators  :users  :all",
];

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

/// How a table's rows read next to a count: "1 chat message", "3 chat messages".
pub fn table_noun(table: crate::db::plan::Table, n: i64) -> &'static str {
    let many = table.noun();
    // Every noun is a regular plural.
    if n == 1 {
        many.strip_suffix('s').unwrap_or(many)
    } else {
        many
    }
}

/// A table named in an audit row's counts, readable when it is one of ours; other
/// tables (reached by cascade on a platform's own schema) keep their own name.
pub fn table_name(name: &str, n: i64) -> String {
    match super::popup::PLAN_ORDER.iter().find(|t| t.as_str() == name) {
        Some(table) => table_noun(*table, n).to_string(),
        None => crate::sanitize::clean_line(name),
    }
}
