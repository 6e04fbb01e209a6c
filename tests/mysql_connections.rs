//! How modcon reaches MySQL/MariaDB, against a MariaDB server of this file's own (never
//! the shared one on 3306), through the real binary: TLS with a certificate authority
//! the test makes in every `ssl-mode`, a Unix socket, wrong passwords and databases, a
//! server that stops answering (SIGSTOP) or dies and comes back, a statement past the
//! statement timeout, and passwords given in every form never shown anywhere.
//!
//! One server serves every test; the tests that stop it, kill it or hold a lock take
//! their turn alone, each on a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/certs.rs"]
mod certs;
mod common;
#[path = "common/run_binary.rs"]
mod run_binary;
#[path = "common/throwaway_mariadb.rs"]
mod throwaway_mariadb;

use std::time::{Duration, Instant};

use common::{operator, session};
use modcon::db::{Access, Db, Role, SchemaMap, auth};
use run_binary::{Home, Run, Tmux, wait_or_fail};
use throwaway_mariadb::ThrowawayMariaDb;
use tokio::sync::{OnceCell, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The platform's database user and its password: an `@` and a `/`, which a URL must
/// percent-encode, so both spellings are looked for where it must not appear. `app`
/// is refused without TLS (`require ssl`); `plain` is not.
const APP_PASSWORD: &str = "Zq9@pw/Secret-7731";
const APP_PASSWORD_IN_URL: &str = "Zq9%40pw%2FSecret-7731";
const PLAIN_PASSWORD: &str = "plain-Secret-4410";
const OPERATOR_PASSWORD: &str = "operator-pass-1";

static SERVER: OnceCell<ThrowawayMariaDb> = OnceCell::const_new();

/// Tests that leave the server running take turns with those that stop it.
static TURN: RwLock<()> = RwLock::const_new(());

async fn together() -> RwLockReadGuard<'static, ()> {
    TURN.read().await
}

async fn alone() -> RwLockWriteGuard<'static, ()> {
    TURN.write().await
}

/// The server, with users `app` and `plain` and database `platform` (migrated, an
/// admin operator `root`, one chat session).
async fn server() -> &'static ThrowawayMariaDb {
    SERVER
        .get_or_init(|| async {
            let my = tokio::task::spawn_blocking(ThrowawayMariaDb::start)
                .await
                .unwrap();
            my.create_user_and_database("app", APP_PASSWORD, "platform");
            my.sql(
                "mysql",
                "alter user 'app'@'%' require ssl; alter user 'app'@'localhost' require ssl",
            );
            my.create_user_and_database("plain", PLAIN_PASSWORD, "plain_unused");
            platform(&my, "platform").await;
            my
        })
        .await
}

/// Migrates `database` (created if needed) with an admin operator `root` and one chat
/// session.
async fn platform(my: &ThrowawayMariaDb, database: &str) {
    my.sql(
        "mysql",
        &format!("create database if not exists `{database}`"),
    );
    let db = Db::create(&my.socket_url(database)).await.unwrap();
    db.migrate(&SchemaMap::reference()).await.unwrap();
    let db = db.load_schema(&SchemaMap::reference()).await.unwrap();
    let root = operator(&db, "root", Role::Admin).await;
    auth::set_password(&db, "root", OPERATOR_PASSWORD, "test")
        .await
        .unwrap();
    session(&db, Some(root.id.clone()), None, 2, None).await;
    db.close().await;
}

/// `app`'s URL over TCP with its password in the user part.
fn app_url(my: &ThrowawayMariaDb, host: &str, database: &str, params: &str) -> String {
    format!(
        "mysql://app:{APP_PASSWORD_IN_URL}@{host}:{}/{database}?{params}",
        my.port
    )
}

fn ca(my: &ThrowawayMariaDb, right: bool) -> String {
    let file = if right { &my.ca } else { &my.wrong_ca };
    file.display().to_string()
}

/// The session's TLS cipher, empty without TLS.
async fn cipher(url: &str) -> String {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
    let row = sqlx::query("show session status like 'Ssl_cipher'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let cipher: String = row.try_get(1).unwrap();
    conn.close().await.unwrap();
    cipher
}

/// Over TLS by modcon's own connection: `app` is refused without it.
async fn uses_tls(url: &str) -> bool {
    let db = Db::connect(url, Access::ReadOnly).await.unwrap();
    let n = db
        .query_i64(
            "select count(*) from information_schema.session_status \
             where variable_name = 'SSL_CIPHER' and variable_value <> ''",
            &[],
        )
        .await
        .unwrap();
    db.close().await;
    n == Some(1)
}

/// `modcon schema check` on `url`.
fn schema_check(home: &Home, url: &str) -> Run {
    let config = home.config("");
    home.run(&config, &["--database-url", url, "schema", "check"], &[])
}

fn assert_connected(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what}: {}", run.everything());
    assert!(
        run.stdout.contains("the schema map fits"),
        "{what}: {}",
        run.everything()
    );
}

fn assert_refused(run: &Run, reason: &str, what: &str) {
    assert_eq!(run.code, 4, "{what}: {}", run.everything());
    assert!(
        run.stderr.contains("cannot reach or open the database") && run.stderr.contains(reason),
        "{what}: expected {reason:?}:\n{}",
        run.everything()
    );
}

// ---------------------------------------------------------------------------- TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_identity_and_verify_ca_with_the_right_authority_connect_over_tls() {
    let my = server().await;
    let _turn = together().await;
    let home = Home::new();
    for mode in [
        "ssl-mode=VERIFY_IDENTITY",
        "ssl-mode=verify_identity",
        "sslmode=VERIFY_IDENTITY",
        "ssl-mode=VERIFY_CA",
        "ssl-mode=verify_ca",
    ] {
        let url = app_url(
            my,
            "localhost",
            "platform",
            &format!("{mode}&ssl-ca={}", ca(my, true)),
        );
        // `app` requires TLS: the binary's connection was encrypted.
        let run = tokio::task::block_in_place(|| schema_check(&home, &url));
        assert_connected(&run, mode);
        assert!(uses_tls(&url).await, "{mode}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_authority_is_refused_with_exit_4_naming_the_certificate() {
    let my = server().await;
    let _turn = together().await;
    let home = Home::new();
    for mode in ["VERIFY_IDENTITY", "VERIFY_CA"] {
        let url = app_url(
            my,
            "localhost",
            "platform",
            &format!("ssl-mode={mode}&ssl-ca={}", ca(my, false)),
        );
        let run = tokio::task::block_in_place(|| schema_check(&home, &url));
        assert_refused(
            &run,
            "the server's certificate is not signed by a certificate authority in ssl-ca",
            mode,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_identity_refuses_a_host_the_certificate_does_not_name_and_verify_ca_accepts_it() {
    let my = server().await;
    let _turn = together().await;
    let home = Home::new();
    // The certificate names localhost only; 127.0.0.1 is the same server.
    let identity = app_url(
        my,
        "127.0.0.1",
        "platform",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", ca(my, true)),
    );
    let run = tokio::task::block_in_place(|| schema_check(&home, &identity));
    assert_refused(
        &run,
        "the server's certificate does not name the host in the URL (ssl-mode=VERIFY_IDENTITY)",
        "VERIFY_IDENTITY on 127.0.0.1",
    );
    let ca_only = identity.replace("VERIFY_IDENTITY", "VERIFY_CA");
    let run = tokio::task::block_in_place(|| schema_check(&home, &ca_only));
    assert_connected(&run, "VERIFY_CA on 127.0.0.1");
    assert!(uses_tls(&ca_only).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_encrypts_without_checking_and_disabled_does_not_encrypt() {
    let my = server().await;
    let _turn = together().await;
    let home = Home::new();
    // A certificate from an authority it does not know, for a host it does not name.
    let required = app_url(
        my,
        "127.0.0.1",
        "platform",
        &format!("ssl-mode=REQUIRED&ssl-ca={}", ca(my, false)),
    );
    let run = tokio::task::block_in_place(|| schema_check(&home, &required));
    assert_connected(&run, "REQUIRED");
    assert!(uses_tls(&required).await);

    // `app` needs TLS, so without it the server refuses it…
    let disabled = app_url(my, "localhost", "platform", "ssl-mode=DISABLED");
    let run = tokio::task::block_in_place(|| schema_check(&home, &disabled));
    assert_refused(&run, "Access denied for user 'app'", "DISABLED as app");
    // …and lets `plain` in, unencrypted.
    let plain = format!(
        "mysql://plain:{PLAIN_PASSWORD}@localhost:{}/platform?ssl-mode=DISABLED",
        my.port
    );
    let run = tokio::task::block_in_place(|| schema_check(&home, &plain));
    assert_connected(&run, "DISABLED as plain");
    assert_eq!(cipher(&plain).await, "");
    assert!(!uses_tls(&plain).await);
    assert_ne!(cipher(&plain.replace("DISABLED", "REQUIRED")).await, "");
}

// ---------------------------------------------------------------- sockets, passwords

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_is_reached_by_the_socket_parameter() {
    let my = server().await;
    let _turn = together().await;
    let url = my.socket_url("platform");
    let home = Home::new();
    let run = tokio::task::block_in_place(|| schema_check(&home, &url));
    assert_connected(&run, "socket");
    // Over the socket the server sees no client address, only localhost.
    let db = Db::connect(&url, Access::ReadOnly).await.unwrap();
    assert_eq!(
        db.query_i64(
            "select count(*) from information_schema.processlist \
             where id = connection_id() and host = 'localhost'",
            &[]
        )
        .await
        .unwrap(),
        Some(1)
    );
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_an_unknown_database_exit_4_with_the_reason() {
    let my = server().await;
    let _turn = together().await;
    let home = Home::new();
    let wrong = format!(
        "mysql://app:not-it@localhost:{}/platform?ssl-mode=REQUIRED",
        my.port
    );
    let run = tokio::task::block_in_place(|| schema_check(&home, &wrong));
    assert_refused(
        &run,
        "Access denied for user 'app'@'127.0.0.1' (using password: YES)",
        "wrong password",
    );
    let unknown = app_url(my, "localhost", "nosuchdb", "ssl-mode=REQUIRED");
    let run = tokio::task::block_in_place(|| schema_check(&home, &unknown));
    assert_refused(&run, "Unknown database 'nosuchdb'", "unknown database");
}

// ------------------------------------------------------------------------- secrets

/// One way of giving the password: the URL, and the `[database]` lines of the config.
struct Form {
    name: &'static str,
    url: String,
    database: String,
}

fn forms(my: &ThrowawayMariaDb, home: &Home) -> Vec<Form> {
    let password_file = home.secret_file("db-password", &format!("{APP_PASSWORD}\n"));
    let bare = format!(
        "mysql://app@localhost:{}/platform?ssl-mode=REQUIRED",
        my.port
    );
    vec![
        Form {
            name: "user:password@ in the URL",
            url: app_url(my, "localhost", "platform", "ssl-mode=REQUIRED"),
            database: String::new(),
        },
        Form {
            name: "?password=",
            url: format!("{bare}&password={APP_PASSWORD_IN_URL}"),
            database: String::new(),
        },
        Form {
            name: "?password= first",
            url: format!(
                "mysql://app@localhost:{}/platform?password={APP_PASSWORD_IN_URL}&ssl-mode=REQUIRED",
                my.port
            ),
            database: String::new(),
        },
        Form {
            name: "[database] password_file",
            url: bare.clone(),
            database: format!("password_file = \"{password_file}\""),
        },
        Form {
            name: "[database] url with the password",
            url: String::new(),
            database: format!(
                "url = \"{}\"",
                app_url(my, "localhost", "platform", "ssl-mode=REQUIRED")
            ),
        },
    ]
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [APP_PASSWORD, APP_PASSWORD_IN_URL, "Secret-7731"] {
        assert!(
            !text.contains(secret),
            "{what}: the password ({secret}) is shown:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_form_shows_the_password_in_output_errors_log_or_help() {
    let my = server().await;
    let _turn = together().await;
    let home = Home::new();
    for form in forms(my, &home) {
        let config = home.config(&form.database);
        let _ = std::fs::remove_file(home.dir.join("modcon.log"));
        let with_url = |rest: &[&'static str]| -> Vec<String> {
            let mut args = Vec::new();
            if !form.url.is_empty() {
                args.extend(["--database-url".to_string(), form.url.clone()]);
            }
            args.extend(rest.iter().map(|a| a.to_string()));
            args
        };
        let mut seen = String::new();
        for rest in [
            &["migrate"][..],
            &["schema", "check"][..],
            &["audit", "verify"][..],
        ] {
            let args = with_url(rest);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = tokio::task::block_in_place(|| home.run(&config, &args, &[]));
            assert_eq!(run.code, 0, "{} {rest:?}:\n{}", form.name, run.everything());
            seen.push_str(&run.everything());
        }
        // Shown on success: where it is connected, with the password hidden.
        let shown = format!("@localhost:{}/platform", my.port);
        assert!(seen.contains(&shown), "{}:\n{seen}", form.name);
        // An error that names the database: unknown database, same password.
        if !form.url.is_empty() {
            let unknown = form.url.replace("/platform?", "/nosuchdb?");
            let run = tokio::task::block_in_place(|| {
                home.run(
                    &config,
                    &["--database-url", &unknown, "schema", "show"],
                    &[],
                )
            });
            assert_eq!(run.code, 4, "{}:\n{}", form.name, run.everything());
            assert!(run.stderr.contains("nosuchdb"), "{}", run.everything());
            seen.push_str(&run.everything());
            // The URL in the environment and --help.
            let mut help = home.command(&config, &["--help"], &[]);
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
    let my = runtime.block_on(server());
    let _turn = runtime.block_on(together());
    let home = Home::new();
    for form in forms(my, &home) {
        let config = home.config(&form.database);
        let _ = std::fs::remove_file(home.dir.join("modcon.log"));
        let mut env = Vec::new();
        if !form.url.is_empty() {
            env.push(("DATABASE_URL".to_string(), form.url.clone()));
        }
        let tmux = Tmux::start(&home, &config, &env, &[]);
        let screen = tmux.wait_for("MySQL ·");
        tmux.wait_for("Username");
        assert!(screen.contains("@localhost:"), "{}:\n{screen}", form.name);
        assert_no_secret(form.name, &screen);
        tmux.keys(&["Escape"]);
        tmux.wait_for("MODCON-EXIT=0");
        let log = std::fs::read_to_string(home.dir.join("modcon.log")).unwrap_or_default();
        assert!(
            log.contains("TRACE") || log.contains("DEBUG"),
            "{}: the log was written",
            form.name
        );
        assert_no_secret(form.name, &log);
    }
}

// ------------------------------------------------------------------- bounded waits

/// A config with short bounds: 2 s to connect, 3 s per statement (5 s per request).
fn short_bounds(home: &Home) -> String {
    home.config("connect_timeout_secs = 2\nstatement_timeout_secs = 3")
}

/// Lets the server run again when a test ends, also when it fails.
struct Frozen<'a>(&'a ThrowawayMariaDb);

impl<'a> Frozen<'a> {
    fn freeze(my: &'a ThrowawayMariaDb) -> Frozen<'a> {
        my.freeze();
        Frozen(my)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.thaw();
    }
}

/// A lock on `chat_sessions` held by a client of the test's own (the `mariadb` tool,
/// kept open), so a command waits on the server; it goes when the client ends.
struct SessionsLock(std::process::Child);

impl SessionsLock {
    /// The table, write-locked: every statement that touches it waits, the first
    /// read of the schema check included.
    fn table(my: &ThrowawayMariaDb, database: &str) -> SessionsLock {
        SessionsLock::take(my, database, "lock tables chat_sessions write")
    }

    /// Every row, locked for update in an open transaction: reads go on, and a delete
    /// waits once it is signed in and has planned.
    fn rows(my: &ThrowawayMariaDb, database: &str) -> SessionsLock {
        SessionsLock::take(
            my,
            database,
            "begin; select count(*) from chat_sessions for update",
        )
    }

    fn take(my: &ThrowawayMariaDb, database: &str, sql: &str) -> SessionsLock {
        use std::io::{BufRead, Write};
        let mut child = std::process::Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", my.socket.display()))
            .args(["-u", "root", "-N", "-B", "--unbuffered", database])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("mariadb runs");
        let stdin = child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{sql}; select 'locked';\n").as_bytes())
            .unwrap();
        stdin.flush().unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while line.trim() != "locked" {
            line.clear();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "{sql} failed");
        }
        SessionsLock(child)
    }
}

impl Drop for SessionsLock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// Waits until a connection other than the test's waits on a lock: a row lock, or the
/// table lock in `database`.
fn wait_until_blocked(my: &ThrowawayMariaDb, database: &str, command: &mut std::process::Child) {
    let guard = Instant::now() + Duration::from_secs(60);
    // A row lock wait, a metadata lock wait, or any statement of the command's
    // database that has been running on the server for a second: it is waiting there.
    let sql = format!(
        "select (select count(*) from information_schema.innodb_trx \
                 where trx_state = 'LOCK WAIT') \
              + (select count(*) from information_schema.processlist \
                 where db = '{database}' and (state like '%metadata lock%' \
                   or (command in ('Query', 'Execute') and time_ms >= 1000 \
                       and info not like '%processlist%')))"
    );
    while my.sql("mysql", &sql) == "0" {
        assert!(Instant::now() < guard, "the command never reached the lock");
        if let Some(status) = command.try_wait().unwrap() {
            let mut said = String::new();
            if let Some(err) = command.stderr.as_mut() {
                let _ = std::io::Read::read_to_string(err, &mut said);
            }
            panic!("the command ended ({status}) before it was seen waiting on the lock: {said}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_is_reported_with_exit_4_by_every_command() {
    let my = server().await;
    let _turn = alone().await;
    platform(my, "frozen_commands").await;
    let home = Home::new();
    // The lock wait must outlast the moment the test sees it and stops the server, on
    // a busy machine too: 10 s per statement, 2 s to connect (12 s per request).
    let config = home.config("connect_timeout_secs = 2\nstatement_timeout_secs = 10");
    let url = app_url(my, "localhost", "frozen_commands", "ssl-mode=REQUIRED");
    let pw = home.secret_file("operator-pw", OPERATOR_PASSWORD);
    let op = ["--user", "root", "--password-file", &pw];
    let session_id = my.sql("frozen_commands", "select id from chat_sessions limit 1");

    // Mid-run: the command is signed in and waiting on the server when it stops.
    let lock = SessionsLock::rows(my, "frozen_commands");
    let mut args = vec!["--database-url", &url, "chats", "delete", &session_id];
    args.extend(op);
    let mut child = home.command(&config, &args, &[]).spawn().unwrap();
    tokio::task::block_in_place(|| wait_until_blocked(my, "frozen_commands", &mut child));
    let frozen = Frozen::freeze(my);
    let run = tokio::task::block_in_place(|| wait_or_fail(child, &home, "chats delete"));
    assert_eq!(run.code, 4, "{}", run.everything());
    assert!(
        run.stderr.contains("cannot reach or open the database")
            && run
                .stderr
                .contains("no answer from mysql://app:***@localhost")
            && run.stderr.contains("within 12 s"),
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
    drop(frozen);
    drop(lock);
    let run = tokio::task::block_in_place(|| home.run(&config, &args, &[]));
    assert_eq!(run.code, 0, "{}", run.everything());
    assert_eq!(
        my.sql(
            "frozen_commands",
            &format!("select count(*) from chat_sessions where id = '{session_id}'")
        ),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_the_statement_timeout_is_cancelled_by_the_server_and_exits_4() {
    let my = server().await;
    let _turn = alone().await;
    platform(my, "slow_statement").await;
    let home = Home::new();
    let config = short_bounds(&home);
    let url = app_url(my, "localhost", "slow_statement", "ssl-mode=REQUIRED");
    let pw = home.secret_file("operator-pw", OPERATOR_PASSWORD);
    let session_id = my.sql("slow_statement", "select id from chat_sessions limit 1");
    let op = ["--user", "root", "--password-file", pw.as_str()];
    let cancelled = |run: &Run| {
        assert_eq!(run.code, 4, "{}", run.everything());
        assert!(
            run.stderr.contains("max_statement_time exceeded")
                && run.stderr.contains("statement_timeout_secs"),
            "{}",
            run.everything()
        );
    };

    // Waiting for the table: the first statement that reads it is cancelled.
    let lock = SessionsLock::table(my, "slow_statement");
    let mut args = vec!["--database-url", url.as_str(), "chats", "orphans"];
    args.extend(op);
    let run = tokio::task::block_in_place(|| home.run(&config, &args, &[]));
    drop(lock);
    cancelled(&run);

    // Waiting for a row in the middle of a delete: cancelled, and nothing deleted.
    let lock = SessionsLock::rows(my, "slow_statement");
    let mut args = vec![
        "--database-url",
        url.as_str(),
        "chats",
        "delete",
        &session_id,
    ];
    args.extend(op);
    let run = tokio::task::block_in_place(|| home.run(&config, &args, &[]));
    drop(lock);
    cancelled(&run);
    assert_eq!(
        my.sql(
            "slow_statement",
            &format!("select count(*) from chat_sessions where id = '{session_id}'")
        ),
        "1"
    );
}

/// The console on `database`, signed in as `root`, showing its one session.
fn signed_in_console(my: &ThrowawayMariaDb, home: &Home, database: &str) -> Tmux {
    let config = short_bounds(home);
    let url = app_url(my, "localhost", database, "ssl-mode=REQUIRED");
    let tmux = Tmux::start(home, &config, &[("DATABASE_URL".into(), url)], &[]);
    tmux.wait_for("MySQL ·");
    tmux.text("root");
    tmux.keys(&["Enter"]);
    tmux.text(OPERATOR_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Chat sessions");
    tmux.wait_for("1 of 1");
    tmux
}

#[test]
fn the_console_says_the_database_stopped_answering_stays_usable_and_recovers() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let my = runtime.block_on(server());
    let _turn = runtime.block_on(alone());
    runtime.block_on(platform(my, "frozen_console"));
    let home = Home::new();
    let tmux = signed_in_console(my, &home, "frozen_console");

    let frozen = Frozen::freeze(my);
    tmux.keys(&["R"]);
    let screen = tmux.wait_for("cannot reach or open the database (R tries again)");
    assert!(screen.contains("no connection answered"), "{screen}");
    // Still a console: help opens and closes (q and Esc) while the database is away.
    tmux.keys(&["?"]);
    tmux.wait_for(" Keys ");
    tmux.keys(&["q"]);
    tmux.wait_until_gone(" Keys ");
    tmux.keys(&["?"]);
    tmux.wait_for(" Keys ");
    tmux.keys(&["Escape"]);
    tmux.wait_until_gone(" Keys ");

    drop(frozen);
    tmux.keys(&["R"]);
    tmux.wait_until_gone("cannot reach or open the database");
    tmux.wait_for("1 of 1");
    tmux.keys(&["q"]);
    tmux.wait_for("MODCON-EXIT=0");
}

#[test]
fn the_console_survives_the_server_dying_and_works_again_when_it_is_back() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let my = runtime.block_on(server());
    let _turn = runtime.block_on(alone());
    runtime.block_on(platform(my, "killed_console"));
    let home = Home::new();
    let tmux = signed_in_console(my, &home, "killed_console");

    my.kill();
    tmux.keys(&["R"]);
    let screen = tmux.wait_for("cannot reach or open the database (R tries again)");
    assert!(
        screen.contains("Chat sessions"),
        "still the console:\n{screen}"
    );
    my.run();
    tmux.keys(&["R"]);
    tmux.wait_until_gone("cannot reach or open the database");
    tmux.wait_for("1 of 1");
    // And it writes again: delete the session.
    tmux.keys(&["d"]);
    tmux.wait_for("Delete 1 chat session");
    tmux.keys(&["y"]);
    tmux.wait_for("deleted 1 chat session");
    tmux.keys(&["Enter", "q"]);
    tmux.wait_for("MODCON-EXIT=0");
    assert_eq!(
        my.sql("killed_console", "select count(*) from chat_sessions"),
        "0"
    );
}
