//! Shared by the integration tests: a fresh database per test on each backend, and
//! small scene builders. PostgreSQL and MySQL/MariaDB are required: a test that cannot
//! reach them fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::PathBuf;

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{Duration, Utc};
use modcon::db::insert::{Batch, NewChatMessage, NewSession, NewUser};
use modcon::db::{Actor, Backend, Db, Entity, Id, IdKind, Role, SchemaMap};
use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, PgConnection};
use uuid::Uuid;

/// The schemas every data-layer body can run on: modcon's reference schema and the two
/// platform fixtures written from the design notes (`tests/fixtures/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Reference,
    FastApi,
    AdminApi,
}

impl Platform {
    pub fn from_name(name: &str) -> Platform {
        match name {
            "fastapi" => Platform::FastApi,
            "adminapi" => Platform::AdminApi,
            _ => Platform::Reference,
        }
    }

    pub fn fixture(self) -> Option<&'static str> {
        match self {
            Platform::Reference => None,
            Platform::FastApi => Some("fastapi"),
            Platform::AdminApi => Some("adminapi"),
        }
    }

    /// The map in force for this platform.
    pub fn map(self) -> SchemaMap {
        match self.fixture() {
            None => SchemaMap::reference(),
            Some(name) => {
                let text = std::fs::read_to_string(format!("tests/fixtures/{name}/map.toml"))
                    .expect("fixture map");
                modcon::config::parse(&text)
                    .expect("fixture map parses")
                    .schema_map()
                    .expect("fixture map is well formed")
            }
        }
    }

    /// A role value of the platform for plain users (who cannot sign in).
    pub fn user_role(self) -> &'static str {
        match self {
            Platform::AdminApi => "member",
            _ => "user",
        }
    }
}

/// Unique integer ids for rows the tests create, clear of small literal ids.
static NEXT_INT_ID: AtomicI64 = AtomicI64::new(100_000);

/// A new id for a row of `entity`, of the type its table uses.
pub fn fresh_id(db: &Db, entity: Entity) -> Id {
    let kind = db
        .schema()
        .map(|s| s.id_kind(entity))
        .unwrap_or(IdKind::Uuid);
    match kind {
        IdKind::Integer | IdKind::BigInt => Id::Int(NEXT_INT_ID.fetch_add(1, Ordering::SeqCst)),
        IdKind::Uuid => Id::from(Uuid::new_v4()),
        IdKind::Text => {
            let uuid = Uuid::new_v4();
            // uuids on the reference schema (text on SQLite), short prefixed text elsewhere.
            if db.schema().map(|s| s.reference).unwrap_or(true) {
                Id::from(uuid)
            } else {
                Id::Text(format!(
                    "{}-{}",
                    &entity.name()[..1],
                    &uuid.simple().to_string()[..12]
                ))
            }
        }
    }
}

pub const PG_URL_ENV: &str = "MODCON_TEST_PG_URL";
const PG_DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn pg_admin_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| PG_DEFAULT_URL.to_string())
}

/// The admin URL with another database name.
pub fn pg_url_for(name: &str) -> String {
    url_for(&pg_admin_url(), name)
}

/// `admin` (a server URL) naming database `name` instead, its parameters kept.
fn url_for(admin: &str, name: &str) -> String {
    let admin = admin.to_string();
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

pub const MYSQL_URL_ENV: &str = "MODCON_TEST_MYSQL_URL";
const MYSQL_DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

pub fn mysql_admin_url() -> String {
    std::env::var(MYSQL_URL_ENV).unwrap_or_else(|_| MYSQL_DEFAULT_URL.to_string())
}

/// The MySQL admin URL with another database name.
pub fn mysql_url_for(name: &str) -> String {
    url_for(&mysql_admin_url(), name)
}

/// Creates an empty MySQL database; panics loudly if MySQL/MariaDB cannot be reached.
pub async fn create_mysql_database() -> String {
    let admin = mysql_admin_url();
    let mut conn = MySqlConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!(
            "MySQL/MariaDB is required by the test suite and is not reachable at {admin}: {e}. \
             Start it, or point {MYSQL_URL_ENV} at one."
        )
    });
    let name = format!("modcon_test_{}", Uuid::new_v4().simple());
    conn.execute(AssertSqlSafe(format!("create database {name}")))
        .await
        .expect("create test database");
    name
}

/// The fixture script of `platform` for `backend`.
pub fn fixture_file(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres.sql",
        Backend::Sqlite => "sqlite.sql",
        Backend::Mysql => "mysql.sql",
    }
}

pub struct TestDb {
    pub db: Db,
    pub url: String,
    pub platform: Platform,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres(String),
    Mysql(String),
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        TestDb::on(Backend::Sqlite, Platform::Reference).await
    }

    /// A fresh database on `backend` with `platform`'s schema, migrated (modcon's own
    /// tables; the reference schema too for `Reference`) and its map checked.
    pub async fn on(backend: Backend, platform: Platform) -> TestDb {
        let mut test = TestDb::blank(backend).await;
        if let Some(name) = platform.fixture() {
            let file = fixture_file(backend);
            let script = std::fs::read_to_string(format!("tests/fixtures/{name}/{file}"))
                .expect("fixture sql");
            test.run_script(&script).await;
        }
        let map = platform.map();
        test.db.migrate(&map).await.expect("migrate");
        test.db = test
            .db
            .clone()
            .load_schema(&map)
            .await
            .expect("load schema");
        test.platform = platform;
        test
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
            Backend::Mysql => {
                let name = create_mysql_database().await;
                (mysql_url_for(&name), Cleanup::Mysql(name))
            }
        };
        let db = Db::create(&url).await.expect("open a blank database");
        TestDb {
            db,
            url,
            platform: Platform::Reference,
            cleanup,
        }
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
        } else if self.url.starts_with("mysql:") {
            let mut conn = MySqlConnection::connect(&self.url).await.expect("connect");
            sqlx::raw_sql(AssertSqlSafe(script.to_string()))
                .execute(&mut conn)
                .await
                .expect("run script on mysql");
        } else {
            let mut conn = PgConnection::connect(&self.url).await.expect("connect");
            sqlx::raw_sql(AssertSqlSafe(script.to_string()))
                .execute(&mut conn)
                .await
                .expect("run script on postgres");
        }
    }

    pub async fn postgres() -> TestDb {
        TestDb::on(Backend::Postgres, Platform::Reference).await
    }

    pub async fn mysql() -> TestDb {
        TestDb::on(Backend::Mysql, Platform::Reference).await
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
            Cleanup::Mysql(name) => {
                if let Ok(mut conn) = MySqlConnection::connect(&mysql_admin_url()).await {
                    let _ = conn
                        .execute(AssertSqlSafe(format!("drop database if exists {name}")))
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

/// Runs the same async test body on SQLite, PostgreSQL and MySQL:
/// `both_backends! { async fn name(db) { … } }` makes `name::sqlite`, `name::postgres`
/// and `name::mysql`.
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

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                let test = $crate::common::TestDb::mysql().await;
                let $db = test.db.clone();
                $body
                test.finish().await;
            }
        }
    )*};
}

/// Runs one async test body on each listed schema, on SQLite and on PostgreSQL:
/// `on_schemas! { [reference, fastapi, adminapi] async fn name(db) { … } }` makes
/// `name::fastapi::sqlite` and so on.
#[macro_export]
macro_rules! on_schemas {
    ([$($platform:ident),+] async fn $name:ident($db:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: modcon::db::Db) $body

            $(
                mod $platform {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn sqlite() {
                        let platform = $crate::common::Platform::from_name(stringify!($platform));
                        let test =
                            $crate::common::TestDb::on(modcon::db::Backend::Sqlite, platform).await;
                        super::body(test.db.clone()).await;
                        test.finish().await;
                    }

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn postgres() {
                        let platform = $crate::common::Platform::from_name(stringify!($platform));
                        let test =
                            $crate::common::TestDb::on(modcon::db::Backend::Postgres, platform).await;
                        super::body(test.db.clone()).await;
                        test.finish().await;
                    }

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn mysql() {
                        let platform = $crate::common::Platform::from_name(stringify!($platform));
                        let test =
                            $crate::common::TestDb::on(modcon::db::Backend::Mysql, platform).await;
                        super::body(test.db.clone()).await;
                        test.finish().await;
                    }
                }
            )+
        }
    };
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

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                let test = $crate::common::TestDb::mysql().await;
                let $db = test.db.clone();
                let $url = test.url.clone();
                $body
                test.finish().await;
            }
        }
    )*};
}

/// The platform this database has (by its map).
pub fn platform_of(db: &Db) -> Platform {
    let schema = db.schema().expect("schema");
    if schema.reference {
        Platform::Reference
    } else if schema.is_enabled(Entity::Guilds) {
        Platform::AdminApi
    } else {
        Platform::FastApi
    }
}

/// A new user row as the platform writes it, with a fresh id of the right type.
pub fn new_user(db: &Db, name: &str, role: Role) -> NewUser {
    let mut user = NewUser::new(name, role);
    user.id = fresh_id(db, Entity::Users);
    if role == Role::User {
        user.role_value = Some(platform_of(db).user_role().to_string());
    }
    user
}

/// Inserts a user with the given role and returns it as an operator.
pub async fn operator(db: &Db, name: &str, role: Role) -> Actor {
    let user = new_user(db, name, role);
    let actor = Actor {
        id: user.id.clone(),
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

pub async fn user(db: &Db, name: &str) -> Id {
    operator(db, name, Role::User).await.id
}

pub async fn user_with(db: &Db, name: &str, edit: impl FnOnce(&mut NewUser)) -> Id {
    let mut user = new_user(db, name, Role::User);
    edit(&mut user);
    let id = user.id.clone();
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
    owner: Option<Id>,
    guild: Option<Id>,
    messages: usize,
    author: Option<Id>,
) -> Id {
    let id = fresh_id(db, Entity::ChatSessions);
    let start = Utc::now() - Duration::hours(1);
    let mut batch = Batch {
        sessions: vec![NewSession {
            id: id.clone(),
            user_id: owner.clone(),
            guild_id: guild,
            model: "model-a".into(),
            title: format!("session {}", &Uuid::new_v4().simple().to_string()[..6]),
            created_at: start,
        }],
        ..Batch::default()
    };
    for i in 0..messages {
        let is_user = i % 2 == 0;
        batch.chat_messages.push(NewChatMessage {
            id: fresh_id(db, Entity::ChatMessages),
            session_id: id.clone(),
            author_id: if is_user {
                author.clone().or(owner.clone())
            } else {
                None
            },
            role: if is_user { "user" } else { "assistant" },
            content: format!("message {i}"),
            created_at: start + Duration::milliseconds(i as i64 * 10),
        });
    }
    batch.insert(db).await.expect("insert session");
    id
}

/// Counts with a statement written over the map: `{@chat_messages}` for a table and
/// `{m.session}` for a column (aliases u, g, gm, gs, s, m, p, b, c, r, a).
pub async fn count(db: &Db, sql: &str, args: &[modcon::db::Arg]) -> i64 {
    db.query_i64(sql, args)
        .await
        .unwrap_or_else(|e| panic!("count query {sql}: {e}"))
        .unwrap_or(0)
}

/// A password-only sign-in attempt with no MFA policy.
pub fn attempt<'a>(username: &'a str, password: &'a str) -> modcon::db::auth::Attempt<'a> {
    modcon::db::auth::Attempt {
        username,
        password,
        code: None,
        require_mfa: &[],
    }
}

/// The TOTP code an authenticator shows for `secret` (base32) `steps` time steps from
/// now, computed with the TOTP crate.
pub fn totp_code(secret: &str, steps: i64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let at = Utc::now().timestamp() + steps * 30;
    totp.generate(at as u64).to_string()
}

/// A six-digit code that matches none of the steps accepted now.
pub fn wrong_totp_code(secret: &str) -> String {
    let taken = [
        totp_code(secret, -1),
        totp_code(secret, 0),
        totp_code(secret, 1),
    ];
    (0..)
        .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
        .find(|c| !taken.contains(c))
        .unwrap()
}

/// Waits, if needed, until at least ten seconds are left in the current time step, so
/// the codes a test computes stay in the window while it runs.
pub fn fresh_totp_window() {
    let into_step = Utc::now().timestamp() % 30;
    if into_step > 20 {
        std::thread::sleep(std::time::Duration::from_secs((31 - into_step) as u64));
    }
}
