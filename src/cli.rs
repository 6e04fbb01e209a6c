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

    /// postgres://… or sqlite:… (overrides DATABASE_URL and the config file).
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
}

#[derive(Debug, Args)]
pub struct SeedArgs {
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

#[derive(Debug, Args)]
pub struct PasswdArgs {
    /// The operator's username (case-insensitive).
    pub username: String,
}
