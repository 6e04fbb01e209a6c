//! Cache invalidation after guild and user deletes (SPEC §4.7). Once the transaction has
//! committed, the keys named by the configured patterns are removed, found with `SCAN`
//! (never `KEYS`, which blocks the server). A cache that cannot be reached never undoes
//! or blocks a delete: the outcome and the log say the cache was not cleared.

use std::time::Duration;

use crate::db::Id;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `redis://[:password@]host[:port][/db]`; no URL, no invalidation.
    pub redis_url: Option<String>,
    /// Key patterns of a guild; `{id}` is replaced by the guild's id.
    pub guild_patterns: Vec<String>,
    /// Key patterns of a user; `{id}` is replaced by the user's id.
    pub user_patterns: Vec<String>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            redis_url: None,
            guild_patterns: vec!["guild:{id}:*".into()],
            user_patterns: vec!["user:{id}:*".into()],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Guild,
    User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CacheOutcome {
    NotConfigured,
    Cleared { keys: u64 },
    NotCleared { error: String },
}

impl std::fmt::Display for CacheOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheOutcome::NotConfigured => f.write_str("no cache configured"),
            CacheOutcome::Cleared { keys } => write!(f, "cache: removed {keys} keys"),
            CacheOutcome::NotCleared { error } => write!(f, "cache NOT cleared: {error}"),
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(2);
/// However many keys match, invalidation gives up after this long.
const DEADLINE: Duration = Duration::from_secs(20);
const SCAN_COUNT: u64 = 500;

/// Removes the keys of the deleted guilds or users.
pub async fn invalidate(config: &CacheConfig, owner: Owner, ids: &[Id]) -> CacheOutcome {
    let Some(url) = config.redis_url.as_deref().filter(|u| !u.is_empty()) else {
        return CacheOutcome::NotConfigured;
    };
    if ids.is_empty() {
        return CacheOutcome::Cleared { keys: 0 };
    }
    let patterns = match owner {
        Owner::Guild => &config.guild_patterns,
        Owner::User => &config.user_patterns,
    };
    let outcome = match tokio::time::timeout(DEADLINE, remove(url, patterns, ids)).await {
        Ok(Ok(keys)) => CacheOutcome::Cleared { keys },
        Ok(Err(e)) => CacheOutcome::NotCleared {
            error: e.to_string(),
        },
        Err(_) => CacheOutcome::NotCleared {
            error: format!("gave up after {} s", DEADLINE.as_secs()),
        },
    };
    match &outcome {
        CacheOutcome::NotCleared { error } => {
            tracing::warn!(
                ?owner,
                count = ids.len(),
                "cache not cleared after delete: {error}"
            );
        }
        CacheOutcome::Cleared { keys } => {
            tracing::info!(
                ?owner,
                count = ids.len(),
                keys,
                "cache cleared after delete"
            );
        }
        CacheOutcome::NotConfigured => {}
    }
    outcome
}

/// Escapes Redis `MATCH` glob characters.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn remove(url: &str, patterns: &[String], ids: &[Id]) -> redis::RedisResult<u64> {
    let client = redis::Client::open(url)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    let mut con = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let mut removed = 0;
    for id in ids {
        for pattern in patterns {
            // A text id may hold glob characters: escaped, it matches only itself.
            let pattern = pattern.replace("{id}", &glob_escape(&id.to_string()));
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .cursor_arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async(&mut con)
                    .await?;
                if !keys.is_empty() {
                    let n: u64 = redis::cmd("UNLINK")
                        .arg(&keys)
                        .query_async(&mut con)
                        .await?;
                    removed += n;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
    }
    Ok(removed)
}
