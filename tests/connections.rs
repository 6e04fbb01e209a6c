//! How modcon reaches PostgreSQL, against servers of the tests' own (never the shared
//! one): TLS with a certificate authority the test makes, Unix sockets, password
//! authentication, a server that stops answering (SIGSTOP), and passwords given in every
//! form never shown anywhere.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/certs.rs"]
mod certs;
mod common;
#[path = "common/run_binary.rs"]
mod run_binary;
#[path = "common/throwaway_pg.rs"]
mod throwaway_pg;

use std::time::{Duration, Instant};

use common::{operator, session};
use modcon::db::{Access, DataError, Db, Role, SchemaMap, auth};
use run_binary::{Home, Tmux, wait_or_fail};
use throwaway_pg::ThrowawayPg;
use tokio::sync::OnceCell;

/// The platform's database role and its password: an `@` and a `/`, which a URL must
/// percent-encode, so both spellings are looked for where it must not appear.
const APP_PASSWORD: &str = "Zq9@pw/Secret-7731";
const APP_PASSWORD_IN_URL: &str = "Zq9%40pw%2FSecret-7731";
const SSL_PASSWORD: &str = "KeyPass-5526-never-shown";
const OPERATOR_PASSWORD: &str = "operator-pass-1";

/// One server for every test here that does not stop it: TLS, sockets, passwords.
static SHARED: OnceCell<ThrowawayPg> = OnceCell::const_new();

async fn shared() -> &'static ThrowawayPg {
    SHARED
        .get_or_init(|| async { platform_server().await })
        .await
}

/// A new server with role `app` (password [`APP_PASSWORD`]) owning database
/// `platform`, migrated, with an admin operator `root` and one chat session.
async fn platform_server() -> ThrowawayPg {
    let pg = tokio::task::spawn_blocking(ThrowawayPg::start)
        .await
        .unwrap();
    pg.create_role_and_database("app", APP_PASSWORD, "platform");
    let db = Db::create(&pg_url(&pg, "localhost", "platform", "sslmode=require"))
        .await
        .unwrap();
    db.migrate(&SchemaMap::reference()).await.unwrap();
    let db = db.load_schema(&SchemaMap::reference()).await.unwrap();
    let root = operator(&db, "root", Role::Admin).await;
    auth::set_password(&db, "root", OPERATOR_PASSWORD, "test")
        .await
        .unwrap();
    session(&db, Some(root.id.clone()), None, 2, None).await;
    db.close().await;
    pg
}

/// `app`'s URL over TCP with its password in the user part.
fn pg_url(pg: &ThrowawayPg, host: &str, database: &str, params: &str) -> String {
    format!(
        "postgres://app:{APP_PASSWORD_IN_URL}@{host}:{}/{database}?{params}",
        pg.port
    )
}

/// `app`'s URL without a password.
fn bare_url(pg: &ThrowawayPg, database: &str, params: &str) -> String {
    format!(
        "postgres://app@localhost:{}/{database}?sslmode=require{params}",
        pg.port
    )
}

fn ca(pg: &ThrowawayPg, right: bool) -> String {
    let file = if right { &pg.ca } else { &pg.wrong_ca };
    file.display().to_string()
}

async fn uses_tls(db: &Db) -> bool {
    db.query_i64(
        "select count(*) from pg_stat_ssl where pid = pg_backend_pid() and ssl",
        &[],
    )
    .await
    .unwrap()
        == Some(1)
}

fn unavailable(result: Result<Db, DataError>) -> String {
    match result {
        Err(DataError::Unavailable(reason)) => reason,
        Err(other) => panic!("expected the database to be unreachable, got {other:?}"),
        Ok(db) => panic!("expected a refusal, connected to {}", db.display_url()),
    }
}

// ---------------------------------------------------------------------------- TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_right_authority_connects_over_tls() {
    let pg = shared().await;
    let url = pg_url(
        pg,
        "localhost",
        "platform",
        &format!("sslmode=verify-full&sslrootcert={}", ca(pg, true)),
    );
    let db = Db::connect(&url, Access::ReadOnly).await.unwrap();
    assert!(uses_tls(&db).await);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_host_name_the_certificate_does_not_name() {
    let pg = shared().await;
    // The certificate names localhost only; 127.0.0.1 is the same server.
    let url = pg_url(
        pg,
        "127.0.0.1",
        "platform",
        &format!("sslmode=verify-full&sslrootcert={}", ca(pg, true)),
    );
    let reason = unavailable(Db::connect(&url, Access::ReadOnly).await);
    assert!(reason.contains("does not name the host"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_ca_checks_the_authority_but_not_the_host_name() {
    let pg = shared().await;
    let right = pg_url(
        pg,
        "127.0.0.1",
        "platform",
        &format!("sslmode=verify-ca&sslrootcert={}", ca(pg, true)),
    );
    let db = Db::connect(&right, Access::ReadOnly).await.unwrap();
    assert!(uses_tls(&db).await);
    db.close().await;
    let wrong = pg_url(
        pg,
        "127.0.0.1",
        "platform",
        &format!("sslmode=verify-ca&sslrootcert={}", ca(pg, false)),
    );
    let reason = unavailable(Db::connect(&wrong, Access::ReadOnly).await);
    assert!(
        reason.contains("not signed by a certificate authority"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_without_checking_the_certificate_and_disable_does_not_encrypt() {
    let pg = shared().await;
    let db = Db::connect(
        &pg_url(pg, "127.0.0.1", "platform", "sslmode=require"),
        Access::ReadOnly,
    )
    .await
    .unwrap();
    assert!(uses_tls(&db).await);
    db.close().await;
    let db = Db::connect(
        &pg_url(pg, "127.0.0.1", "platform", "sslmode=disable"),
        Access::ReadOnly,
    )
    .await
    .unwrap();
    assert!(!uses_tls(&db).await);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_authority_is_refused_with_exit_4_and_the_reason() {
    let pg = shared().await;
    let home = Home::new();
    let url = pg_url(
        pg,
        "localhost",
        "platform",
        &format!("sslmode=verify-full&sslrootcert={}", ca(pg, false)),
    );
    let config = home.config("");
    let run = home.run(&config, &["--database-url", &url, "audit", "verify"], &[]);
    assert_eq!(run.code, 4, "{}", run.everything());
    assert!(
        run.stderr.contains("cannot reach or open the database")
            && run.stderr.contains("not signed by a certificate authority"),
        "{}",
        run.everything()
    );
    // The same with the right authority works: the refusal was the certificate's.
    let url = url.replace(&ca(pg, false), &ca(pg, true));
    let run = home.run(&config, &["--database-url", &url, "audit", "verify"], &[]);
    assert_eq!(run.code, 0, "{}", run.everything());
}

// ---------------------------------------------------------------- sockets, passwords

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_is_reached_by_host_parameter_and_by_encoded_host() {
    let pg = shared().await;
    let db = Db::connect(&pg.socket_url("platform"), Access::ReadOnly)
        .await
        .unwrap();
    // Over the socket: no client address, no TLS.
    assert_eq!(
        db.query_i64(
            "select count(*) from pg_stat_activity where pid = pg_backend_pid() and client_addr is null",
            &[]
        )
        .await
        .unwrap(),
        Some(1)
    );
    db.close().await;
    let encoded = format!(
        "postgres://postgres@{}:{}/platform",
        pg.socket_dir.display().to_string().replace('/', "%2F"),
        pg.port
    );
    let home = Home::new();
    let config = home.config("");
    let run = home.run(
        &config,
        &["--database-url", &encoded, "schema", "check"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.everything());
    assert!(
        run.stdout.contains("the schema map fits"),
        "{}",
        run.everything()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_an_unknown_database_exit_4_with_the_reason() {
    let pg = shared().await;
    let home = Home::new();
    let config = home.config("");
    let wrong = format!(
        "postgres://app:not-it@localhost:{}/platform?sslmode=require",
        pg.port
    );
    let run = home.run(&config, &["--database-url", &wrong, "audit", "verify"], &[]);
    assert_eq!(run.code, 4, "{}", run.everything());
    assert!(
        run.stderr.contains("cannot reach or open the database")
            && run
                .stderr
                .contains("password authentication failed for user \"app\""),
        "{}",
        run.everything()
    );
    let unknown = pg_url(pg, "localhost", "nosuchdb", "sslmode=require");
    let run = home.run(
        &config,
        &["--database-url", &unknown, "schema", "check"],
        &[],
    );
    assert_eq!(run.code, 4, "{}", run.everything());
    assert!(
        run.stderr.contains("database \"nosuchdb\" does not exist"),
        "{}",
        run.everything()
    );
}

// ------------------------------------------------------------------------- secrets

/// One way of giving the password: the URL, what the environment adds, and the
/// `[database]` lines of the config.
struct Form {
    name: &'static str,
    url: String,
    env: Vec<(&'static str, String)>,
    database: String,
    /// The password is in `~/.pgpass` (there only for this form).
    home_pgpass: bool,
}

impl Form {
    /// Puts `~/.pgpass` in place for this form, or takes it away.
    fn prepare(&self, pg: &ThrowawayPg, home: &Home) {
        let file = home.dir.join(".pgpass");
        if self.home_pgpass {
            home.secret_file(
                ".pgpass",
                &format!("localhost:{}:*:app:{APP_PASSWORD}\n", pg.port),
            );
        } else {
            let _ = std::fs::remove_file(file);
        }
    }
}

fn forms(pg: &ThrowawayPg, home: &Home) -> Vec<Form> {
    let port = pg.port;
    let pgpass = home.secret_file(
        "pgpass",
        &format!("localhost:{port}:*:app:{}\n", APP_PASSWORD),
    );
    let password_file = home.secret_file("db-password", &format!("{APP_PASSWORD}\n"));
    vec![
        Form {
            name: "user:password@ in the URL",
            url: pg_url(pg, "localhost", "platform", "sslmode=require"),
            env: vec![],
            database: String::new(),
            home_pgpass: false,
        },
        Form {
            name: "?password=",
            url: format!(
                "{}&password={APP_PASSWORD_IN_URL}",
                bare_url(pg, "platform", "")
            ),
            env: vec![],
            database: String::new(),
            home_pgpass: false,
        },
        Form {
            name: "?sslpassword= beside the password",
            url: format!(
                "{}&sslpassword={SSL_PASSWORD}",
                pg_url(pg, "localhost", "platform", "sslmode=require")
            ),
            env: vec![],
            database: String::new(),
            home_pgpass: false,
        },
        Form {
            name: "PGPASSWORD",
            url: bare_url(pg, "platform", ""),
            env: vec![("PGPASSWORD", APP_PASSWORD.to_string())],
            database: String::new(),
            home_pgpass: false,
        },
        Form {
            name: "PGPASSFILE",
            url: bare_url(pg, "platform", ""),
            env: vec![("PGPASSFILE", pgpass)],
            database: String::new(),
            home_pgpass: false,
        },
        Form {
            name: "~/.pgpass",
            url: bare_url(pg, "platform", ""),
            env: vec![],
            database: String::new(),
            home_pgpass: true,
        },
        Form {
            name: "[database] password_file",
            url: bare_url(pg, "platform", ""),
            env: vec![],
            database: format!("password_file = \"{password_file}\""),
            home_pgpass: false,
        },
        Form {
            name: "[database] url with the password",
            url: String::new(),
            env: vec![],
            database: format!(
                "url = \"{}\"",
                pg_url(pg, "localhost", "platform", "sslmode=require")
            ),
            home_pgpass: false,
        },
    ]
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        APP_PASSWORD,
        APP_PASSWORD_IN_URL,
        SSL_PASSWORD,
        "Secret-7731",
    ] {
        assert!(
            !text.contains(secret),
            "{what}: the password ({secret}) is shown:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_form_shows_the_password_in_output_errors_log_or_help() {
    let pg = shared().await;
    let home = Home::new();
    for form in forms(pg, &home) {
        let config = home.config(&form.database);
        form.prepare(pg, &home);
        let _ = std::fs::remove_file(home.dir.join("modcon.log"));
        let env: Vec<(&str, &str)> = form.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let with_url = |rest: &[&'static str]| -> Vec<String> {
            let mut args = Vec::new();
            if !form.url.is_empty() {
                args.extend(["--database-url".to_string(), form.url.clone()]);
            }
            args.extend(rest.iter().map(|a| a.to_string()));
            args
        };
        let mut seen = String::new();
        for (rest, expected) in [
            (&["migrate"][..], 0),
            (&["schema", "check"][..], 0),
            (&["audit", "verify"][..], 0),
        ] {
            let args = with_url(rest);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = home.run(&config, &args, &env);
            assert_eq!(
                run.code,
                expected,
                "{} {rest:?}:\n{}",
                form.name,
                run.everything()
            );
            seen.push_str(&run.everything());
        }
        // Shown on success: where it is connected, with the password hidden.
        let shown = format!("@localhost:{}/platform", pg.port);
        assert!(seen.contains(&shown), "{}:\n{seen}", form.name);
        // An error that names the database: unknown database, same password.
        if !form.url.is_empty() {
            let unknown = form.url.replace("/platform?", "/nosuchdb?");
            let run = home.run(
                &config,
                &["--database-url", &unknown, "schema", "show"],
                &env,
            );
            assert_eq!(run.code, 4, "{}:\n{}", form.name, run.everything());
            assert!(run.stderr.contains("nosuchdb"), "{}", run.everything());
            seen.push_str(&run.everything());
            // The URL in the environment and --help.
            let mut help = home.command(&config, &["--help"], &env);
            help.env("DATABASE_URL", &form.url);
            let out = help.output().unwrap();
            assert!(out.status.success());
            seen.push_str(&String::from_utf8_lossy(&out.stdout));
            seen.push_str(&String::from_utf8_lossy(&out.stderr));
        }
        seen.push_str(&std::fs::read_to_string(home.dir.join("modcon.log")).unwrap_or_default());
        assert!(
            seen.contains("TRACE") || seen.contains("DEBUG"),
            "the log was written"
        );
        assert_no_secret(form.name, &seen);
    }
}

#[test]
fn the_sign_in_screen_names_the_database_without_its_password_in_every_form() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pg = runtime.block_on(shared());
    let home = Home::new();
    for form in forms(pg, &home) {
        let config = home.config(&form.database);
        form.prepare(pg, &home);
        let _ = std::fs::remove_file(home.dir.join("modcon.log"));
        let mut env: Vec<(String, String)> = form
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if !form.url.is_empty() {
            env.push(("DATABASE_URL".into(), form.url.clone()));
        }
        let tmux = Tmux::start(&home, &config, &env, &[]);
        let screen = tmux.wait_for("PostgreSQL ·");
        tmux.wait_for("Username");
        assert!(screen.contains("@localhost:"), "{}:\n{screen}", form.name);
        assert_no_secret(form.name, &screen);
        tmux.keys(&["Escape"]);
        tmux.wait_for("MODCON-EXIT=0");
        let log = std::fs::read_to_string(home.dir.join("modcon.log")).unwrap_or_default();
        assert_no_secret(form.name, &log);
    }
}

// ------------------------------------------------------------------- bounded waits

/// A config with short bounds: 2 s to connect, 3 s per statement (5 s per request).
fn short_bounds(home: &Home) -> String {
    home.config("connect_timeout_secs = 2\nstatement_timeout_secs = 3")
}

/// Holds an exclusive lock on `chat_sessions` from a connection of the test's own,
/// so a command that reads the sessions waits on the server.
async fn lock_sessions(pg: &ThrowawayPg) -> sqlx::PgConnection {
    lock_with(pg, "lock table chat_sessions in access exclusive mode").await
}

/// Locks every session row for update: reads go on, and a delete waits once it is
/// signed in and has planned.
async fn lock_session_rows(pg: &ThrowawayPg) -> sqlx::PgConnection {
    lock_with(
        pg,
        "select count(*) from (select id from chat_sessions for update) locked",
    )
    .await
}

async fn lock_with(pg: &ThrowawayPg, sql: &'static str) -> sqlx::PgConnection {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(&pg.socket_url("platform"))
        .await
        .unwrap();
    conn.execute("begin").await.unwrap();
    conn.execute(sql).await.unwrap();
    conn
}

/// Waits until a backend other than the test's waits on a lock.
fn wait_until_blocked(pg: &ThrowawayPg) {
    let guard = Instant::now() + Duration::from_secs(60);
    while pg.psql(
        "platform",
        "select count(*) from pg_stat_activity where wait_event_type = 'Lock'",
    ) == "0"
    {
        assert!(Instant::now() < guard, "the command never reached the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_is_reported_with_exit_4_by_every_command() {
    let pg = platform_server().await;
    let home = Home::new();
    // The lock wait must outlast the moment the test sees it and stops the server, on
    // a busy machine too: 10 s per statement, 5 s to connect (15 s per request).
    let config = home.config("connect_timeout_secs = 5\nstatement_timeout_secs = 10");
    let url = pg_url(&pg, "localhost", "platform", "sslmode=require");
    let pw = home.secret_file("operator-pw", OPERATOR_PASSWORD);
    let op = ["--user", "root", "--password-file", &pw];
    let session_id = pg.psql("platform", "select id from chat_sessions limit 1");

    // Mid-run: the command is signed in and waiting on the server when it stops.
    let lock = lock_session_rows(&pg).await;
    let mut args = vec!["--database-url", &url, "chats", "delete", &session_id];
    args.extend(op);
    let child = home.command(&config, &args, &[]).spawn().unwrap();
    tokio::task::block_in_place(|| wait_until_blocked(&pg));
    pg.freeze();
    let run = tokio::task::block_in_place(|| wait_or_fail(child, &home, "chats delete"));
    assert_eq!(run.code, 4, "{}", run.everything());
    assert!(
        run.stderr.contains("cannot reach or open the database")
            && run
                .stderr
                .contains("no answer from postgres://app:***@localhost")
            && run.stderr.contains("within 15 s"),
        "{}",
        run.everything()
    );

    // Stopped from the start: every command says so and exits 4.
    for rest in [
        &["migrate"][..],
        &["schema", "check"][..],
        &["audit", "verify"][..],
        &["audit", "list", "--user", "root", "--password-file", &pw][..],
        &["trash", "list", "--user", "root", "--password-file", &pw][..],
        &["chats", "orphans", "--user", "root", "--password-file", &pw][..],
    ] {
        let mut args = vec!["--database-url", url.as_str()];
        args.extend(rest);
        let child = home.command(&config, &args, &[]).spawn().unwrap();
        let run = tokio::task::block_in_place(|| wait_or_fail(child, &home, &rest.join(" ")));
        assert_eq!(run.code, 4, "{rest:?}: {}", run.everything());
        assert!(
            run.stderr.contains("cannot reach or open the database")
                && run.stderr.contains("no answer from"),
            "{rest:?}: {}",
            run.everything()
        );
    }

    // Back again: the same delete goes through once the lock is released.
    pg.thaw();
    drop(lock);
    let run = home.run(&config, &args, &[]);
    assert_eq!(run.code, 0, "{}", run.everything());
    assert_eq!(
        pg.psql(
            "platform",
            &format!("select count(*) from chat_sessions where id = '{session_id}'")
        ),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_the_statement_timeout_is_cancelled_by_the_server_and_exits_4() {
    let pg = shared().await;
    let home = Home::new();
    let config = short_bounds(&home);
    let url = pg_url(pg, "localhost", "platform", "sslmode=require");
    let pw = home.secret_file("operator-pw", OPERATOR_PASSWORD);
    let lock = lock_sessions(pg).await;
    let run = tokio::task::block_in_place(|| {
        home.run(
            &config,
            &[
                "--database-url",
                &url,
                "chats",
                "orphans",
                "--user",
                "root",
                "--password-file",
                &pw,
            ],
            &[],
        )
    });
    drop(lock);
    assert_eq!(run.code, 4, "{}", run.everything());
    assert!(
        run.stderr
            .contains("canceling statement due to statement timeout")
            && run.stderr.contains("statement_timeout_secs"),
        "{}",
        run.everything()
    );
}

#[test]
fn the_console_says_the_database_stopped_answering_stays_usable_and_recovers() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pg = runtime.block_on(platform_server());
    let home = Home::new();
    let config = short_bounds(&home);
    let url = pg_url(&pg, "localhost", "platform", "sslmode=require");
    let tmux = Tmux::start(&home, &config, &[("DATABASE_URL".into(), url)], &[]);
    tmux.wait_for("PostgreSQL ·");
    tmux.text("root");
    tmux.keys(&["Enter"]);
    tmux.text(OPERATOR_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Chat sessions");
    tmux.wait_for("1 of 1");

    pg.freeze();
    tmux.keys(&["R"]);
    let screen = tmux.wait_for("cannot reach or open the database (R tries again)");
    assert!(screen.contains("no connection answered"), "{screen}");
    // Still a console: help opens and closes while the database is away.
    tmux.keys(&["?"]);
    tmux.wait_for(" Keys ");
    tmux.keys(&["Escape"]);
    tmux.wait_until_gone(" Keys ");

    pg.thaw();
    tmux.keys(&["R"]);
    tmux.wait_until_gone("cannot reach or open the database");
    tmux.wait_for("1 of 1");
    tmux.keys(&["q"]);
    tmux.wait_for("MODCON-EXIT=0");
}
