//! What the console says, in one place so the wording stays consistent.

pub const APP: &str = "modcon";
pub const SIGN_IN_TITLE: &str = "Sign in";
pub const USERNAME: &str = "Username";
pub const PASSWORD: &str = "Password";
pub const SIGNING_IN: &str = "signing in…";
pub const CONNECTING: &str = "connecting to the database…";
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
pub const TABS: [&str; 6] = [
    "1 Chats",
    "2 Messages",
    "3 Comments",
    "4 Guilds",
    "5 Users",
    "6 Audit",
];

pub fn not_allowed(what: &str, role: crate::db::Role) -> String {
    format!("{what} is not allowed for the {role} role")
}
