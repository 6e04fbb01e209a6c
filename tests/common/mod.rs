//! Shared by the integration tests: a fresh database per test on each backend, and
//! small scene builders. PostgreSQL is required: a test that cannot reach it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::PathBuf;

use chrono::{Duration, Utc};
use modcon::db::insert::{Batch, NewChatMessage, NewSession, NewUser};
use modcon::db::{Access, Actor, Backend, Db, Role};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use uuid::Uuid;

pub const PG_URL_ENV: &str = "MODCON_TEST_PG_URL";
const PG_DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn pg_admin_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| PG_DEFAULT_URL.to_string())
}

/// The admin URL with another database name.
pub fn pg_url_for(name: &str) -> String {
    let admin = pg_admin_url();
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin.clone(), String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let cut = match base[scheme_end..].find('/') {
        Some(i) => scheme_end + i,
        None => base.len(),
    };
    format!("{}/{name}{query}", &base[..cut])
}

pub struct TestDb {
    pub db: Db,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres(String),
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!("modcon-test-{}.db", Uuid::new_v4().simple()));
        let url = format!("sqlite:{}", path.display());
        let db = Db::connect(&url, Access::ReadWrite)
            .await
            .expect("open sqlite");
        db.migrate().await.expect("migrate sqlite");
        TestDb {
            db,
            url,
            cleanup: Cleanup::Sqlite(path),
        }
    }

    /// An empty database on `backend` (no schema at all): for platform fixtures.
    pub async fn blank(backend: Backend) -> TestDb {
        let (url, cleanup) = match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir()
                    .join(format!("modcon-test-{}.db", Uuid::new_v4().simple()));
                (format!("sqlite:{}", path.display()), Cleanup::Sqlite(path))
            }
            Backend::Postgres => {
                let name = create_pg_database().await;
                (pg_url_for(&name), Cleanup::Postgres(name))
            }
        };
        let db = Db::connect(&url, Access::ReadWrite)
            .await
            .expect("open a blank database");
        TestDb { db, url, cleanup }
    }

    /// Runs a script of statements separated by `;` at line ends (fixture DDL).
    pub async fn run_script(&self, script: &str) {
        use sqlx::Connection as _;
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("open sqlite");
            sqlx::raw_sql(AssertSqlSafe(script.to_string()))
                .execute(&mut conn)
                .await
                .expect("run script on sqlite");
        } else {
            let mut conn = PgConnection::connect(&self.url).await.expect("connect");
            sqlx::raw_sql(AssertSqlSafe(script.to_string()))
                .execute(&mut conn)
                .await
                .expect("run script on postgres");
        }
    }

    pub async fn postgres() -> TestDb {
        let name = create_pg_database().await;
        let url = pg_url_for(&name);
        let db = Db::connect(&url, Access::ReadWrite)
            .await
            .expect("connect to the test database");
        db.migrate().await.expect("migrate postgres");
        TestDb {
            db,
            url,
            cleanup: Cleanup::Postgres(name),
        }
    }

    pub async fn finish(self) {
        self.db.close().await;
        match self.cleanup {
            Cleanup::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres(name) => {
                if let Ok(mut conn) = PgConnection::connect(&pg_admin_url()).await {
                    let _ = conn
                        .execute(AssertSqlSafe(format!(
                            "drop database if exists {name} with (force)"
                        )))
                        .await;
                }
            }
        }
    }
}

/// Creates an empty database; panics loudly if PostgreSQL cannot be reached.
pub async fn create_pg_database() -> String {
    let admin = pg_admin_url();
    let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required by the test suite and is not reachable at {admin}: {e}. \
             Start it, or point {PG_URL_ENV} at one."
        )
    });
    let name = format!("modcon_test_{}", Uuid::new_v4().simple());
    conn.execute(AssertSqlSafe(format!("create database {name}")))
        .await
        .expect("create test database");
    name
}

/// Runs the same async test body on SQLite and on PostgreSQL:
/// `both_backends! { async fn name(db) { … } }` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($db:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let test = $crate::common::TestDb::sqlite().await;
                let $db = test.db.clone();
                $body
                test.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let test = $crate::common::TestDb::postgres().await;
                let $db = test.db.clone();
                $body
                test.finish().await;
            }
        }
    )*};
}

/// Like `both_backends!`, with the database URL too (for tests that run the binary):
/// `both_backends_with_url! { async fn name(db, url) { … } }`.
#[macro_export]
macro_rules! both_backends_with_url {
    ($(async fn $name:ident($db:ident, $url:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let test = $crate::common::TestDb::sqlite().await;
                let $db = test.db.clone();
                let $url = test.url.clone();
                $body
                test.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let test = $crate::common::TestDb::postgres().await;
                let $db = test.db.clone();
                let $url = test.url.clone();
                $body
                test.finish().await;
            }
        }
    )*};
}

/// Inserts a user with the given role and returns it as an operator.
pub async fn operator(db: &Db, name: &str, role: Role) -> Actor {
    let user = NewUser::new(name, role);
    let actor = Actor {
        id: user.id,
        username: user.username.clone(),
        role,
    };
    Batch {
        users: vec![user],
        ..Batch::default()
    }
    .insert(db)
    .await
    .expect("insert operator");
    actor
}

pub async fn user(db: &Db, name: &str) -> Uuid {
    operator(db, name, Role::User).await.id
}

pub async fn user_with(db: &Db, name: &str, edit: impl FnOnce(&mut NewUser)) -> Uuid {
    let mut user = NewUser::new(name, Role::User);
    edit(&mut user);
    let id = user.id;
    Batch {
        users: vec![user],
        ..Batch::default()
    }
    .insert(db)
    .await
    .expect("insert user");
    id
}

/// A chat session with `messages` messages alternating user/assistant, the first by
/// `author` (or by the owner).
pub async fn session(
    db: &Db,
    owner: Option<Uuid>,
    guild: Option<Uuid>,
    messages: usize,
    author: Option<Uuid>,
) -> Uuid {
    let id = Uuid::new_v4();
    let start = Utc::now() - Duration::hours(1);
    let mut batch = Batch {
        sessions: vec![NewSession {
            id,
            user_id: owner,
            guild_id: guild,
            model: "model-a".into(),
            title: format!("session {}", &id.simple().to_string()[..6]),
            created_at: start,
        }],
        ..Batch::default()
    };
    for i in 0..messages {
        let is_user = i % 2 == 0;
        batch.chat_messages.push(NewChatMessage {
            id: Uuid::new_v4(),
            session_id: id,
            author_id: if is_user { author.or(owner) } else { None },
            role: if is_user { "user" } else { "assistant" },
            content: format!("message {i}"),
            created_at: start + Duration::milliseconds(i as i64 * 10),
        });
    }
    batch.insert(db).await.expect("insert session");
    id
}

pub async fn count(db: &Db, sql: &'static str, args: &[modcon::db::Arg]) -> i64 {
    db.query_i64(sql, args)
        .await
        .expect("count query")
        .unwrap_or(0)
}
