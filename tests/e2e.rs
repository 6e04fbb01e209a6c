//! The real binary in a real terminal (tmux), against a real database on both backends,
//! driven as an operator would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{count, operator, session};
use modcon::db::{Arg, Db, Role, auth};
use uuid::Uuid;

/// A tmux server of its own, with one window running modcon.
struct Tmux {
    socket: String,
    data: std::path::PathBuf,
}

impl Tmux {
    fn start(url: &str, extra: &[&str], width: u16, height: u16) -> Tmux {
        let socket = format!("modcon-e2e-{}", Uuid::new_v4().simple());
        let data =
            std::env::temp_dir().join(format!("modcon-e2e-data-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data).unwrap();
        let binary = env!("CARGO_BIN_EXE_modcon");
        let args: Vec<String> = extra.iter().map(|a| format!("'{a}'")).collect();
        let script = format!(
            "unset DATABASE_URL MODCON_CONFIG MODCON_USER\n\
             export TERM=xterm-256color MODCON_DATA_DIR='{}'\n\
             '{binary}' --database-url '{url}' {}\n\
             echo MODCON-EXIT=$?\n\
             sleep 600\n",
            data.display(),
            args.join(" ")
        );
        let script_path = data.join("run.sh");
        std::fs::write(&script_path, script).unwrap();
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "e2e",
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(format!("sh '{}'", script_path.display()))
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(status.success(), "tmux did not start");
        Tmux { socket, data }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "e2e"])
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", "-t", "e2e", key]);
            // A person types; the console must take keys one by one.
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    fn text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "e2e", "-l", text]);
    }

    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn format(&self, what: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "e2e", what])
            .trim()
            .to_string()
    }

    fn modcon_pid(&self) -> String {
        let shell = self.format("#{pane_pid}");
        let out = Command::new("pgrep")
            .args(["-P", &shell, "-f", "modcon"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// After modcon exits the terminal must be itself again: main screen, cursor shown.
    fn assert_restored(&self, exit: &str) {
        self.wait_for(&format!("MODCON-EXIT={exit}"));
        assert_eq!(
            self.format("#{alternate_on}"),
            "0",
            "left the alternate screen"
        );
        assert_eq!(
            self.format("#{cursor_flag}"),
            "1",
            "the cursor is visible again"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

async fn scene(db: &Db) -> Vec<Uuid> {
    operator(db, "root", Role::Admin).await;
    auth::set_password(db, "root", "root-password", "test")
        .await
        .unwrap();
    let owner = common::user(db, "alice").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(session(db, Some(owner), None, 4 + i, None).await);
    }
    ids
}

fn sign_in(tmux: &Tmux) {
    tmux.wait_for("Sign in");
    tmux.wait_for("·");
    tmux.text("root");
    tmux.keys(&["Enter"]);
    tmux.text("root-password");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Chat sessions");
    tmux.wait_for("alice");
}

both_backends_with_url! {

async fn an_admin_marks_three_sessions_deletes_them_and_quits_cleanly(db, url) {
    scene(&db).await;
    let before = count(&db, "select count(*) from chat_messages", &[]).await;
    let tmux = Tmux::start(&url, &[], 120, 40);
    sign_in(&tmux);
    tmux.keys(&["Space", "Space", "Space"]);
    tmux.wait_for("3 selected");
    tmux.keys(&["d"]);
    let screen = tmux.wait_for("Delete 3 chat sessions");
    assert!(screen.contains("chat messages"), "{screen}");
    // Focus starts on Cancel: Enter would cancel. y confirms.
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("Outcome");
    assert!(screen.contains("deleted 3 chat sessions"), "{screen}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 2);
    let after = count(&db, "select count(*) from chat_messages", &[]).await;
    let deleted_audit = count(&db, "select count(*) from audit_log where action = 'chat_session.delete' and actor_name = 'root'", &[]).await;
    assert_eq!(deleted_audit, 3);
    assert_eq!(count(&db, "select count(*) from audit_log where action = 'chat_session.delete.bulk'", &[]).await, 1);
    let summary = modcon::db::audit::list_audit(
        &db,
        &modcon::db::audit::AuditFilter { action: Some("chat_session.delete.bulk".into()), ..Default::default() },
        None,
        5,
    )
    .await
    .unwrap();
    assert_eq!(summary.rows[0].counts["chat_messages"].as_i64(), Some(before - after), "the audit counts what went");
    tmux.keys(&["Enter"]);
    tmux.wait_for("last: deleted 3 chat sessions");
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
}

async fn sigterm_and_sighup_restore_the_terminal(db, url) {
    scene(&db).await;
    for signal in ["TERM", "HUP"] {
        let tmux = Tmux::start(&url, &[], 100, 30);
        sign_in(&tmux);
        let pid = tmux.modcon_pid();
        assert!(!pid.is_empty(), "modcon is running");
        let status = Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap();
        assert!(status.success());
        tmux.assert_restored("0");
    }
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 5);
}

async fn hostile_titles_neither_retitle_the_terminal_nor_move_the_cursor(db, url) {
    let ids = scene(&db).await;
    db.execute_statement(
        "update chat_sessions set title = $1 where id = $2",
        &[Arg::Text("\u{1b}]0;PWNED-TITLE\u{7}\u{1b}[2J\u{1b}[10;10Hmoved".into()), Arg::Uuid(ids[4])],
    ).await.unwrap();
    let tmux = Tmux::start(&url, &[], 120, 40);
    let title_before = tmux.format("#{pane_title}");
    sign_in(&tmux);
    let screen = tmux.wait_for("PWNED-TITLE");
    assert!(screen.contains("␛]0;PWNED-TITLE␇"), "shown, not run:\n{screen}");
    assert_ne!(tmux.format("#{pane_title}"), "PWNED-TITLE");
    assert_eq!(tmux.format("#{pane_title}"), title_before);
    // The list is intact: the tabs line is still on the first row.
    assert!(screen.lines().next().unwrap().contains("1 Chats"), "{screen}");
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
}

async fn resizing_down_to_a_few_cells_and_back_never_crashes(db, url) {
    scene(&db).await;
    let tmux = Tmux::start(&url, &[], 80, 24);
    sign_in(&tmux);
    for (w, h) in [(40, 12), (20, 5), (3, 2), (1, 1), (200, 60), (80, 24)] {
        tmux.tmux(&["resize-window", "-t", "e2e", "-x", &w.to_string(), "-y", &h.to_string()]);
        std::thread::sleep(Duration::from_millis(250));
        assert!(!tmux.modcon_pid().is_empty(), "modcon survived {w}x{h}");
    }
    tmux.wait_for("Chat sessions");
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
}

async fn a_read_only_console_offers_no_delete_and_changes_nothing(db, url) {
    scene(&db).await;
    let tmux = Tmux::start(&url, &["--read-only"], 120, 40);
    sign_in(&tmux);
    let screen = tmux.wait_for("READ-ONLY");
    assert!(!screen.contains("d delete"), "{screen}");
    tmux.keys(&["Space", "d"]);
    tmux.wait_for("read-only session");
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 5);
}

}

/// A PostgreSQL server of this test's own, so it can be stopped and started without
/// disturbing anything else.
struct OwnPostgres {
    dir: std::path::PathBuf,
    bin: std::path::PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn create() -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("initdb");
        let dir = std::env::temp_dir().join(format!("modcon-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = OwnPostgres { dir, bin, port };
        assert!(
            Command::new("chown")
                .args(["postgres:postgres", &pg.dir.display().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let data = pg.dir.display().to_string();
        let initdb = pg.bin.join("initdb").display().to_string();
        let ok = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &initdb,
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ])
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        pg.start();
        pg
    }

    fn ctl(&self, args: &[&str]) {
        let data = self.dir.display().to_string();
        let pg_ctl = self.bin.join("pg_ctl").display().to_string();
        let options = format!(
            "-p {} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        let mut command = vec![
            "-u",
            "postgres",
            "--",
            pg_ctl.as_str(),
            "-D",
            data.as_str(),
            "-o",
            options.as_str(),
            "-l",
        ];
        let log = format!("{data}/log");
        command.push(&log);
        command.extend(args);
        let out = Command::new("runuser").args(&command).output().unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        self.ctl(&["-w", "start"]);
    }

    fn stop(&self) {
        self.ctl(&["-w", "-m", "fast", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.display().to_string();
        let pg_ctl = self.bin.join("pg_ctl").display().to_string();
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &pg_ctl,
                "-D",
                &data,
                "-m",
                "immediate",
                "stop",
            ])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_survives_postgresql_going_away_and_works_again_when_it_returns() {
    let pg = OwnPostgres::create();
    let db = Db::connect(&pg.url(), modcon::db::Access::ReadWrite)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    scene(&db).await;
    let tmux = Tmux::start(&pg.url(), &[], 120, 40);
    sign_in(&tmux);
    pg.stop();
    tmux.keys(&["R"]);
    let screen = tmux.wait_for("error");
    assert!(
        screen.contains("Chat sessions"),
        "still the console:\n{screen}"
    );
    assert!(!tmux.modcon_pid().is_empty(), "still running");
    pg.start();
    tmux.keys(&["R"]);
    tmux.wait_for("alice");
    // And it writes again: delete one session.
    tmux.keys(&["d"]);
    tmux.wait_for("Delete 1 chat session");
    tmux.keys(&["y"]);
    tmux.wait_for("deleted 1 chat session");
    tmux.keys(&["Enter", "q"]);
    tmux.assert_restored("0");
    assert_eq!(
        count(&db, "select count(*) from chat_sessions", &[]).await,
        4
    );
    db.close().await;
}
