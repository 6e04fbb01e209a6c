//! The command line (clap). Passwords are never taken as arguments: other users can
//! read a process's arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "modcon",
    version,
    about = "Terminal moderation console for a community platform's database"
)]
pub struct Cli {
    /// Open (or create) the seeded SQLite demo database in the user data directory.
    #[arg(long, global = true, conflicts_with = "database_url")]
    pub demo: bool,

    /// postgres://…, mysql://… or sqlite:… (overrides DATABASE_URL and the config file).
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Config file (default: $MODCON_CONFIG, then the user config directory).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,

    /// No change is possible in this session.
    #[arg(long, global = true)]
    pub read_only: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the schema (the platform's reference tables and the audit log).
    Migrate,
    /// Fill the database with generated data at scale (for benchmarks and trials).
    Seed(SeedArgs),
    /// Set an operator's password (prompted without echo, or read from piped stdin).
    Passwd(PasswdArgs),
    /// Operators' second factor (TOTP): enrol, or reset another operator's.
    #[command(subcommand)]
    Mfa(MfaCommand),
    /// Chat sessions: delete, list and repair orphans, delete single chat messages.
    #[command(subcommand)]
    Chats(ChatsCommand),
    /// Private messages between users.
    #[command(subcommand)]
    Messages(MessagesCommand),
    /// Comments on books.
    #[command(subcommand)]
    Comments(ContentCommand),
    /// Reviews of books.
    #[command(subcommand)]
    Reviews(ContentCommand),
    /// Guilds (communities).
    #[command(subcommand)]
    Guilds(GuildsCommand),
    /// Platform users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// The audit record.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The schema map: check it against the live database, show it, or draft one.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// What deletes removed, kept for `[trash] keep_days`: list, show, restore, purge (admin).
    #[command(subcommand)]
    Trash(TrashCommand),
    /// Trigram indexes for the text filters and the content search (PostgreSQL): show
    /// which the platform's tables lack, or create them (admin, audited).
    #[command(subcommand)]
    Index(IndexCommand),
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Each searched text column, whether its trigram index exists, and the statement
    /// that would create it. Changes nothing.
    Plan(OutputArgs),
    /// Create the missing indexes (`create index concurrently`: writes go on), and
    /// `pg_trgm` if needed. Admin only; each index is on the audit record.
    Create(IndexCreateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct IndexCreateArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Debug, Subcommand)]
pub enum TrashCommand {
    /// Batches in the trash, newest first: when, who, what, rows kept per table.
    List(TrashArgs),
    /// One batch and every row it keeps, parents first.
    Show(TrashBatchArgs),
    /// Put a batch back (parents first, in one transaction); what can no longer go back
    /// is refused with the reason while the rest comes back.
    Restore(TrashRestoreArgs),
    /// Remove batches older than the retention window (or --older-than DAYS).
    Purge(TrashPurgeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TrashArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TrashBatchArgs {
    /// The batch id (the delete's audit batch id).
    pub batch: String,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TrashRestoreArgs {
    /// The batch id (the delete's audit batch id).
    pub batch: String,
    /// Show per table what would come back and what cannot and why; change nothing.
    #[arg(long)]
    pub plan: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TrashPurgeArgs {
    /// Remove batches deleted more than this many days ago (default: [trash] keep_days).
    #[arg(long)]
    pub older_than: Option<u32>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SchemaCommand {
    /// Check the [schema] map against the live catalog: one line per problem, exit 2.
    Check,
    /// Print the map in force and the foreign-key graph with each ON DELETE action.
    Show,
    /// Draft a [schema] map from the catalog, to edit and paste into config.toml.
    Init {
        /// PostgreSQL: the schema holding the platform's tables (default: the current one).
        #[arg(long)]
        namespace: Option<String>,
    },
}

/// Who runs a command: the same sign-in as the console. The password comes from the
/// terminal (no echo) or a file; never from an argument.
#[derive(Debug, Clone, Args)]
pub struct OperatorArgs {
    /// Operator username.
    #[arg(long = "user", env = "MODCON_USER")]
    pub user: Option<String>,
    /// Read the password from the first line of this file (`-` for stdin).
    #[arg(long, env = "MODCON_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// For an operator with MFA: read the code (authenticator or recovery code) from
    /// the first line of this file; without it the code is asked on the terminal.
    #[arg(long, env = "MODCON_OTP_FILE")]
    pub otp_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Machine-readable output on stdout (messages stay on stderr).
    #[arg(long)]
    pub json: bool,
}

/// Targets and how to act on them.
#[derive(Debug, Clone, Args)]
pub struct DeleteArgs {
    /// Ids to act on; none (or `-`) reads them from stdin, one per line.
    pub ids: Vec<String>,
    /// Show what would happen and change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Why (at most 512 characters); kept in the audit record.
    #[arg(long)]
    pub reason: Option<String>,
    /// Allow more than 100 ids on the command line, run in batches of 100 (ids from
    /// stdin always run in batches).
    #[arg(long)]
    pub batches: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Debug, Subcommand)]
pub enum ChatsCommand {
    /// Delete chat sessions with their messages (admin).
    Delete(DeleteArgs),
    /// List orphaned sessions (no owner); `--repair` gives each the author of its first
    /// user message as owner (admin).
    Orphans(OrphansArgs),
    /// Single chat messages inside sessions.
    #[command(subcommand)]
    Messages(MessagesCommand),
}

#[derive(Debug, Clone, Args)]
pub struct OrphansArgs {
    /// Repair every listed orphan that can be repaired.
    #[arg(long)]
    pub repair: bool,
    /// With --repair: show the repair plan and change nothing.
    #[arg(long, requires = "repair")]
    pub plan: bool,
    /// Print only ids, one per line (for piping into `chats delete`).
    #[arg(long, conflicts_with = "json")]
    pub ids_only: bool,
    /// At most this many orphans.
    #[arg(long, default_value_t = 10_000)]
    pub limit: usize,
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// Delete messages (admin or moderator); the text is kept in the audit record.
    Delete(DeleteArgs),
}

#[derive(Debug, Subcommand)]
pub enum ContentCommand {
    /// Replace the text (and a review's rating), checked against the version.
    Edit(EditArgs),
    /// Delete them (admin or moderator); the text is kept in the audit record.
    Delete(DeleteArgs),
}

#[derive(Debug, Clone, Args)]
pub struct EditArgs {
    pub id: String,
    /// The new text.
    #[arg(
        long,
        conflicts_with = "text_file",
        required_unless_present = "text_file"
    )]
    pub text: Option<String>,
    /// Read the new text from this file (`-` for stdin).
    #[arg(long)]
    pub text_file: Option<PathBuf>,
    /// A review's new rating, 1 to 5.
    #[arg(long)]
    pub rating: Option<i64>,
    /// Save only if the item is still at this version (exit 5 otherwise).
    #[arg(long = "if-version")]
    pub if_version: Option<i64>,
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Debug, Subcommand)]
pub enum GuildsCommand {
    /// Delete guilds with memberships, settings, chat sessions, messages and the
    /// login sessions opened in them (admin).
    Delete(DeleteArgs),
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Delete users (admin); refused one by one with the reason while the others go.
    Delete(UserDeleteArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ContentChoice {
    /// Comments, reviews and sent messages stay, shown as by "deleted user".
    Keep,
    /// They are deleted with the user.
    Delete,
}

#[derive(Debug, Clone, Args)]
pub struct UserDeleteArgs {
    #[command(flatten)]
    pub delete: DeleteArgs,
    /// What happens to the users' comments, reviews and sent messages.
    #[arg(long, value_enum, default_value_t = ContentChoice::Keep)]
    pub content: ContentChoice,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Newest first.
    List(AuditListArgs),
    /// Walk the hash chain: exit 0 only when no row was changed, removed or reordered.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct AuditListArgs {
    /// Only rows whose actor contains this text.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only rows whose action contains this text (e.g. `user.delete`).
    #[arg(long)]
    pub action: Option<String>,
    /// Only rows whose target label, type or id contains this text.
    #[arg(long)]
    pub target: Option<String>,
    /// Only rows older than this row id (paging).
    #[arg(long)]
    pub before: Option<i64>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The demo's hand-made data instead (operators admin/admin-demo and mod/mod-demo,
    /// look-alike names, hostile text), on any backend; only into a database with no users.
    #[arg(long, conflicts_with_all = ["users", "guilds", "sessions", "messages_per_session", "orphan_percent"])]
    pub demo_data: bool,
    #[arg(long, default_value_t = 1_000)]
    pub users: usize,
    #[arg(long, default_value_t = 20)]
    pub guilds: usize,
    #[arg(long, default_value_t = 10_000)]
    pub sessions: usize,
    #[arg(long, default_value_t = 10)]
    pub messages_per_session: usize,
    /// Percentage of sessions created with no owner (the legacy bug).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub orphan_percent: u64,
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Generate a TOTP secret for an operator: shows it and a QR code, asks for a current
    /// code to confirm (the first line of piped stdin without a terminal), then prints
    /// one-time recovery codes. Nothing is stored unless the code matches.
    Enroll {
        /// The operator's username (case-insensitive).
        username: String,
    },
    /// Clear another operator's secret and recovery codes (an admin signs in).
    Reset {
        /// The operator whose MFA is cleared.
        username: String,
        #[command(flatten)]
        operator: OperatorArgs,
    },
}

#[derive(Debug, Args)]
pub struct PasswdArgs {
    /// The operator's username (case-insensitive).
    pub username: String,
}
