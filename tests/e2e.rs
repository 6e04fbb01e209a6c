//! The real binary in a real terminal (tmux), against a real database on both backends,
//! driven as an operator would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{count, operator, session};
use modcon::db::{Arg, Db, Id, Role, auth};
use uuid::Uuid;

/// A tmux server of its own, with one window running modcon.
struct Tmux {
    socket: String,
    data: std::path::PathBuf,
}

impl Tmux {
    fn start(url: &str, extra: &[&str], width: u16, height: u16) -> Tmux {
        let mut args = vec!["--database-url", url];
        args.extend(extra);
        Tmux::launch(&args, width, height)
    }

    /// modcon with exactly these arguments, in a data directory of its own.
    fn launch(args: &[&str], width: u16, height: u16) -> Tmux {
        Tmux::run(&[args], width, height)
    }

    /// modcon runs one after the other in one window, as typed in a shell: each with
    /// exactly its arguments; the last one's exit status is shown.
    fn run(runs: &[&[&str]], width: u16, height: u16) -> Tmux {
        let socket = format!("modcon-e2e-{}", Uuid::new_v4().simple());
        let data =
            std::env::temp_dir().join(format!("modcon-e2e-data-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data).unwrap();
        let binary = env!("CARGO_BIN_EXE_modcon");
        let lines: Vec<String> = runs
            .iter()
            .map(|args| {
                let args: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
                format!("'{binary}' {}", args.join(" "))
            })
            .collect();
        let script = format!(
            "unset DATABASE_URL MODCON_CONFIG MODCON_USER\n\
             export TERM=xterm-256color MODCON_DATA_DIR='{}'\n\
             {}\n\
             echo MODCON-EXIT=$?\n\
             sleep 600\n",
            data.display(),
            lines.join("\necho STEP-EXIT=$?\n")
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

/// A reference-schema id (uuid) bound as its column's type.
fn uid(id: &Id) -> Arg {
    Arg::Id(modcon::db::IdKind::Uuid, Some(id.clone()))
}

async fn scene(db: &Db) -> Vec<Id> {
    operator(db, "root", Role::Admin).await;
    auth::set_password(db, "root", "root-password", "test")
        .await
        .unwrap();
    let owner = common::user(db, "alice").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(session(db, Some(owner.clone()), None, 4 + i, None).await);
    }
    ids
}

async fn comment_on_a_book(db: &Db) -> Id {
    let book = Id::from(Uuid::new_v4());
    let comment = Id::from(Uuid::new_v4());
    modcon::db::insert::Batch {
        books: vec![modcon::db::insert::NewBook {
            id: book.clone(),
            title: "The Book".into(),
            author: "A".into(),
        }],
        comments: vec![modcon::db::insert::NewContent {
            id: comment.clone(),
            book_id: book.clone(),
            user_id: None,
            rating: None,
            content: "the original text".into(),
            created_at: chrono::Utc::now(),
        }],
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    comment
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

// The lists as a daily tool, at 80×24 and at 200×60: G and End reach the oldest of a
// list longer than a page, k pages upwards from there, g comes back; s sorts by title
// and G then reaches the last title; Enter on a user shows their sessions and Ctrl-o
// comes back to the user list as it was; a click selects a row.
async fn g_sort_ctrl_o_and_a_click_on_a_list_longer_than_a_page(db, url) {
    operator(&db, "root", Role::Admin).await;
    auth::set_password(&db, "root", "root-password", "test").await.unwrap();
    let alice = common::user(&db, "alice").await;
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    let mut batch = modcon::db::insert::Batch::default();
    for i in 0..250 {
        batch.sessions.push(modcon::db::insert::NewSession {
            id: Id::from(Uuid::new_v4()),
            user_id: Some(alice.clone()),
            guild_id: None,
            model: "m".into(),
            title: format!("session-{i:03}"),
            created_at: start + chrono::Duration::minutes(i),
        });
    }
    batch.insert(&db).await.unwrap();
    for (width, height, end, home) in [(80, 24, "G", "g"), (200, 60, "End", "Home")] {
        let tmux = Tmux::start(&url, &[], width, height);
        sign_in(&tmux);
        tmux.wait_for("1 of 250");
        tmux.wait_for("session-249");
        tmux.keys(&[end]);
        let screen = tmux.wait_for("250 of 250");
        assert!(screen.contains("session-000"), "the oldest row: {screen}");
        tmux.keys(&["k", "k", "k"]);
        tmux.wait_for("247 of 250");
        // Up past what the last page loaded: the pages before come in above, and the
        // position still counts from the top of the whole list.
        let page = usize::from(height) - 5;
        for _ in 0..(200 / page) {
            tmux.keys(&["PageUp"]);
        }
        let row = 247 - (200 / page) * page;
        tmux.wait_for(&format!("› session-{:03}", 250 - row));
        tmux.wait_for(&format!(" {row} of 250"));
        tmux.keys(&[home]);
        tmux.wait_for("1 of 250");
        tmux.wait_for("session-249");
        // Sorted by title (s: updated, messages, title), A to Z, then its real end.
        tmux.keys(&["s", "s", "s"]);
        let screen = tmux.wait_for("by Title ▲");
        assert!(screen.contains("Title ▲"), "the header marks the column: {screen}");
        tmux.wait_for("› session-000");
        tmux.keys(&[end]);
        tmux.wait_for("› session-249");
        tmux.wait_for("250 of 250");
        tmux.keys(&["S"]);
        tmux.wait_for("by Title ▼");
        // The list reloaded from its head in the new order.
        tmux.wait_for(" 1 of 250");
        tmux.wait_for("› session-249");
        // A click on the fifth row on screen (rows start on the fourth line).
        tmux.text("\x1b[<0;10;8M\x1b[<0;10;8m");
        tmux.wait_for("› session-245");
        tmux.wait_for("5 of 250");
        // Drill-down from a user and back.
        tmux.keys(&["5"]);
        tmux.wait_for("Users");
        tmux.text("/");
        tmux.text("alice");
        tmux.keys(&["Enter"]);
        tmux.wait_for("Users · /alice");
        tmux.wait_for(" 1 of 1");
        tmux.keys(&["Enter"]);
        tmux.wait_for("Enter their chat sessions");
        tmux.keys(&["Enter"]);
        tmux.wait_for("owner alice");
        tmux.keys(&["C-o"]);
        let screen = tmux.wait_for("/alice");
        assert!(screen.contains("› alice") && screen.contains("Username"), "{screen}");
        tmux.keys(&["q"]);
        tmux.assert_restored("0");
    }
}

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
    let deleted_audit = count(&db, "select count(*) from {#modcon_audit_log} where action = 'chat_session.delete' and actor_name = 'root'", &[]).await;
    assert_eq!(deleted_audit, 3);
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'chat_session.delete.bulk'", &[]).await, 1);
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

// MFA as an operator meets it: enrolled from the shell (the secret read off the screen
// as a phone would scan it), then the console asks for the code after the password; a
// wrong code reads "wrong username or password", the current one signs in.
async fn an_operator_enrolled_from_the_shell_signs_in_to_the_console_with_a_code(db, url) {
    scene(&db).await;
    common::fresh_totp_window();
    let tmux = Tmux::run(
        &[&["--database-url", &url, "mfa", "enroll", "root"], &["--database-url", &url]],
        100,
        50,
    );
    let screen = tmux.wait_for("to confirm:");
    let secret = screen
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret: "))
        .unwrap_or_else(|| panic!("no secret on screen:\n{screen}"))
        .trim()
        .to_string();
    assert!(screen.contains('▀') || screen.contains('▄'), "a QR code:\n{screen}");
    tmux.text(&common::totp_code(&secret, 0));
    tmux.keys(&["Enter"]);
    // The console takes the screen once the enrolment has ended.
    tmux.wait_for("Sign in");
    assert!(modcon::db::mfa::is_enrolled(&db, "root").await.unwrap());
    tmux.wait_for("·");
    tmux.text("root");
    tmux.keys(&["Enter"]);
    tmux.text("root-password");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Code from your authenticator app");
    tmux.text(&common::wrong_totp_code(&secret));
    tmux.keys(&["Enter"]);
    tmux.wait_for("wrong username or password");

    tmux.text("root-password");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Code from your authenticator app");
    tmux.text(&common::totp_code(&secret, 1));
    tmux.keys(&["Enter"]);
    tmux.wait_for("Chat sessions");
    tmux.wait_for("alice");
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'auth.sign_in_failed' and cast(details as {text}) like '%wrong code%'", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'auth.sign_in' and cast(details as {text}) like '%totp%'", &[]).await, 1);
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
        &[Arg::Text("\u{1b}]0;PWNED-TITLE\u{7}\u{1b}[2J\u{1b}[10;10Hmoved".into()), uid(&ids[4])],
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


async fn an_inline_edit_keeps_line_breaks_and_is_audited_with_both_texts(db, url) {
    scene(&db).await;
    let comment = comment_on_a_book(&db).await;
    let tmux = Tmux::start(&url, &[], 120, 40);
    sign_in(&tmux);
    tmux.keys(&["3"]);
    tmux.wait_for("the original text");
    tmux.keys(&["e"]);
    tmux.wait_for("Edit comment");
    tmux.keys(&["C-j"]);
    tmux.text("an added line");
    tmux.keys(&["Enter"]);
    tmux.wait_for("saved the comment (now version 2)");
    assert_eq!(
        count(&db, "select count(*) from comments where id = $1 and version = 2 and content = $2",
            &[uid(&comment), Arg::Text("the original text\nan added line".into())]).await,
        1
    );
    let audit = modcon::db::audit::list_audit(&db, &modcon::db::audit::AuditFilter { action: Some("comment.edit".into()), ..Default::default() }, None, 5).await.unwrap();
    assert_eq!(audit.rows[0].details["old_text"], "the original text");
    assert_eq!(audit.rows[0].details["new_text"], "the original text\nan added line");
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
}

async fn the_editor_moves_by_line_and_asks_before_discarding_an_edit(db, url) {
    scene(&db).await;
    let comment = comment_on_a_book(&db).await;
    db.execute_statement(
        "update comments set content = $1 where id = $2",
        &[Arg::Text("first line\nsecond line".into()), uid(&comment)],
    ).await.unwrap();
    let tmux = Tmux::start(&url, &[], 120, 40);
    sign_in(&tmux);
    tmux.keys(&["3"]);
    tmux.wait_for("first line");
    tmux.keys(&["e"]);
    tmux.wait_for("Edit comment");
    // The cursor starts at the end; Up goes to the line above.
    tmux.keys(&["Up"]);
    tmux.text("X");
    tmux.keys(&["Escape"]);
    tmux.wait_for("Discard your changes?");
    // Esc again keeps editing; nothing is lost.
    tmux.keys(&["Escape"]);
    tmux.wait_for("Esc leaves");
    tmux.keys(&["Enter"]);
    tmux.wait_for("saved the comment (now version 2)");
    assert_eq!(
        count(&db, "select count(*) from comments where id = $1 and content = $2",
            &[uid(&comment), Arg::Text("first lineX\nsecond line".into())]).await,
        1
    );
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
}

async fn two_consoles_editing_one_comment_never_lose_an_edit(db, url) {
    scene(&db).await;
    operator(&db, "second", Role::Moderator).await;
    auth::set_password(&db, "second", "second-password", "test").await.unwrap();
    let comment = comment_on_a_book(&db).await;
    let first = Tmux::start(&url, &[], 120, 40);
    let second = Tmux::start(&url, &[], 120, 40);
    sign_in(&first);
    second.wait_for("Sign in");
    second.wait_for("·");
    second.text("second");
    second.keys(&["Enter"]);
    second.text("second-password");
    second.keys(&["Enter"]);
    second.wait_for("Chat sessions");
    for console in [&first, &second] {
        console.keys(&["3"]);
        console.wait_for("the original text");
        console.keys(&["e"]);
        console.wait_for("Edit comment");
        console.keys(&["C-e"]);
    }
    first.text(" (first)");
    first.keys(&["Enter"]);
    first.wait_for("saved the comment");
    second.text(" (second)");
    second.keys(&["Enter"]);
    let screen = second.wait_for("Not saved: someone else changed it first");
    assert!(screen.contains("the original text (first)") && screen.contains("the original text (second)"), "both texts:\n{screen}");
    assert_eq!(count(&db, "select count(*) from comments where content = 'the original text (first)'", &[]).await, 1);
    // The second moderator overwrites knowingly.
    second.keys(&["Tab", "Enter"]);
    second.wait_for("saved the comment (now version 3)");
    assert_eq!(
        count(&db, "select count(*) from comments where id = $1 and version = 3 and content = 'the original text (second)'", &[uid(&comment)]).await,
        1
    );
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'comment.edit'", &[]).await, 2);
    for console in [&first, &second] {
        console.keys(&["q"]);
        console.assert_restored("0");
    }
}

async fn a_guild_delete_needs_its_name_and_clears_its_cache_keys(db, url) {
    scene(&db).await;
    let doomed = Id::from(Uuid::new_v4());
    let kept = Id::from(Uuid::new_v4());
    modcon::db::insert::Batch {
        guilds: vec![
            modcon::db::insert::NewGuild { id: doomed.clone(), name: "Spam Ring".into(), owner_id: None, created_at: chrono::Utc::now() },
            modcon::db::insert::NewGuild { id: kept.clone(), name: "Readers".into(), owner_id: None, created_at: chrono::Utc::now() - chrono::Duration::days(1) },
        ],
        ..Default::default()
    }.insert(&db).await.unwrap();
    session(&db, None, Some(doomed.clone()), 6, None).await;
    let redis = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut con = redis.get_multiplexed_async_connection().await.expect("Redis at 127.0.0.1:6379");
    for key in [format!("guild:{doomed}:a"), format!("guild:{doomed}:b"), format!("guild:{kept}:a")] {
        let _: () = redis::cmd("SET").arg(&key).arg("1").query_async(&mut con).await.unwrap();
    }
    let config = std::env::temp_dir().join(format!("modcon-e2e-{}.toml", Uuid::new_v4().simple()));
    std::fs::write(&config, "[cache]\nredis_url = \"redis://127.0.0.1:6379/0\"\n").unwrap();
    let config_arg = config.display().to_string();
    let tmux = Tmux::start(&url, &["--config", &config_arg], 120, 40);
    sign_in(&tmux);
    tmux.keys(&["4"]);
    tmux.wait_for("Spam Ring");
    tmux.keys(&["d"]);
    let screen = tmux.wait_for("Type Spam Ring to confirm");
    assert!(screen.contains("6  chat messages"), "{screen}");
    // Focus starts on the name; Enter without it says what is expected.
    tmux.keys(&["Enter"]);
    tmux.wait_for("type Spam Ring to confirm");
    tmux.text("Spam Ring");
    tmux.keys(&["Tab", "Tab", "Tab", "y"]);
    let screen = tmux.wait_for("deleted 1 guild");
    assert!(screen.contains("cache: removed 2 keys"), "{screen}");
    assert_eq!(count(&db, "select count(*) from guilds", &[]).await, 1);
    let left: i64 = redis::cmd("EXISTS").arg(format!("guild:{doomed}:a")).arg(format!("guild:{kept}:a")).query_async(&mut con).await.unwrap();
    assert_eq!(left, 1, "only the other guild's key remains");
    let _: () = redis::cmd("DEL").arg(format!("guild:{kept}:a")).query_async(&mut con).await.unwrap();
    tmux.keys(&["Enter", "q"]);
    tmux.assert_restored("0");
    let _ = std::fs::remove_file(config);
}

async fn a_bulk_user_delete_reports_yourself_and_protected_and_deletes_the_rest(db, url) {
    scene(&db).await;
    let keeper = common::user_with(&db, "keeper", |u| u.is_protected = true).await;
    let zed = common::user(&db, "zed").await;
    let tmux = Tmux::start(&url, &[], 120, 40);
    sign_in(&tmux);
    tmux.keys(&["5"]);
    tmux.wait_for("zed");
    // Rows by name: alice, keeper, root, zed. Mark the last three.
    tmux.keys(&["j", "Space", "Space", "Space"]);
    tmux.wait_for("3 selected");
    tmux.keys(&["d"]);
    tmux.wait_for("Delete 1 user");
    // The whole popup, down to the content policy, before reading it.
    let screen = tmux.wait_for("(•) keep");
    assert!(screen.contains("cannot delete your own account") && screen.contains("protected account"), "{screen}");
    tmux.text("1");
    tmux.keys(&["Tab", "Tab", "Tab", "Tab", "y"]);
    let screen = tmux.wait_for("Outcome");
    assert!(screen.contains("deleted 1 user") && screen.contains("Refused (2)"), "{screen}");
    assert_eq!(count(&db, "select count(*) from users where id = $1", &[uid(&zed)]).await, 0);
    assert_eq!(count(&db, "select count(*) from users where id = $1", &[uid(&keeper)]).await, 1);
    assert_eq!(count(&db, "select count(*) from users where username = 'root'", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'user.delete.bulk'", &[]).await, 1);
    tmux.keys(&["Enter", "q"]);
    tmux.assert_restored("0");
}

}

#[test]
fn signing_in_the_moment_a_fresh_demo_shows_its_sign_in_screen_waits_for_the_database() {
    // A fresh data directory: the demo is created and seeded while the operator types.
    let tmux = Tmux::launch(&["--demo"], 100, 30);
    tmux.wait_for("connecting to the database");
    // Typed in one go, before the demo is ready.
    tmux.tmux(&[
        "send-keys",
        "-t",
        "e2e",
        "admin",
        "Enter",
        "admin-demo",
        "Enter",
    ]);
    let screen = tmux.wait_for("Chat sessions");
    assert!(!screen.contains("not connected"), "{screen}");
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
}

#[test]
fn filtering_the_demo_users_by_min_marks_every_admin_lookalike_and_none_reads_admin() {
    let tmux = Tmux::launch(&["--demo"], 120, 40);
    tmux.wait_for("Sign in");
    tmux.wait_for("·");
    tmux.text("admin");
    tmux.keys(&["Enter"]);
    tmux.text("admin-demo");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Chat sessions");
    tmux.keys(&["5"]);
    tmux.wait_for("Username");
    tmux.keys(&["/"]);
    tmux.text("min");
    tmux.keys(&["Enter"]);
    tmux.wait_for("/min");
    let screen = tmux.wait_for("look-alike");
    let rows: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.contains("Username"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let flagged = rows
        .iter()
        .filter(|r| r.contains("⚠ look-alike of admin"))
        .count();
    assert!(flagged >= 8, "all eight look-alikes marked:\n{screen}");
    let reading_admin: Vec<&&str> = rows
        .iter()
        .filter(|r| r.trim_start_matches([' ', '›', '●']).split("  ").next() == Some("admin"))
        .collect();
    assert_eq!(
        reading_admin.len(),
        1,
        "only the real admin reads exactly admin:\n{screen}"
    );
    assert!(!reading_admin[0].contains('⚠'), "{screen}");
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
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
    let map = modcon::db::SchemaMap::reference();
    db.migrate(&map).await.unwrap();
    let db = db.load_schema(&map).await.unwrap();
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

/// The console on a platform's own schema (the admin-API fixture: text ids, its own
/// table and column names, a `corrections` table modcon does not know), driven in a
/// real terminal: the plan counts the cascaded corrections, the delete removes exactly
/// that, and the audit record has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_deletes_a_guild_on_a_mapped_platform_schema_with_what_its_foreign_keys_take() {
    for backend in [
        modcon::db::Backend::Sqlite,
        modcon::db::Backend::Postgres,
        modcon::db::Backend::Mysql,
    ] {
        let test = common::TestDb::on(backend, common::Platform::AdminApi).await;
        let db = &test.db;
        scene(db).await;
        let guild = Id::from("g-spam");
        modcon::db::insert::Batch {
            guilds: vec![modcon::db::insert::NewGuild {
                id: guild.clone(),
                name: "Spam Ring".into(),
                owner_id: None,
                created_at: chrono::Utc::now(),
            }],
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        session(db, None, Some(guild.clone()), 3, None).await;
        for n in 1..=2 {
            let sql: &'static str = Box::leak(
                format!("insert into corrections (correction_id, guild_id) values ({n}, 'g-spam')")
                    .into_boxed_str(),
            );
            db.execute_statement(sql, &[]).await.unwrap();
        }
        let tmux = Tmux::start(
            &test.url,
            &["--config", "tests/fixtures/adminapi/map.toml"],
            120,
            40,
        );
        sign_in(&tmux);
        tmux.keys(&["4"]);
        tmux.wait_for("Spam Ring");
        tmux.keys(&["d"]);
        let screen = tmux.wait_for("Type Spam Ring to confirm");
        assert!(screen.contains("2  corrections rows"), "{screen}");
        assert!(screen.contains("3  chat messages"), "{screen}");
        tmux.text("Spam Ring");
        tmux.keys(&["Tab", "Tab", "Tab", "y"]);
        tmux.wait_for("deleted 1 guild");
        assert_eq!(count(db, "select count(*) from corrections", &[]).await, 0);
        assert_eq!(count(db, "select count(*) from {@guilds}", &[]).await, 0);
        assert_eq!(
            count(
                db,
                "select count(*) from {#modcon_audit_log} where action = 'guild.delete' and target_id = 'g-spam'",
                &[]
            )
            .await,
            1
        );
        tmux.keys(&["Enter", "q"]);
        tmux.assert_restored("0");
        drop(tmux);
        test.finish().await;
    }
}

/// `sqlite3` on the demo database the console uses, as an operator would check it.
fn demo_count(tmux: &Tmux, sql: &str) -> i64 {
    let out = Command::new("sqlite3")
        .arg(tmux.data.join("demo.db"))
        .arg(sql)
        .output()
        .expect("the sqlite3 tool is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Undo in the console: a session with its messages deleted on the demo, then `u` on its
/// row in the Audit pane shows what comes back, and confirming puts the session and
/// every message back.
#[test]
fn a_deleted_session_comes_back_with_its_messages_by_u_in_the_audit_pane() {
    let tmux = Tmux::launch(&["--demo"], 120, 40);
    tmux.wait_for("Sign in");
    tmux.wait_for("·");
    tmux.text("admin");
    tmux.keys(&["Enter"]);
    tmux.text("admin-demo");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Chat sessions");
    tmux.wait_for(" of ");
    // The session under the cursor, by its full id.
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("copied id ");
    let id: String = screen
        .split("copied id ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    assert_eq!(id.len(), 36, "{screen}");
    let messages = format!("select count(*) from chat_messages where session_id = '{id}'");
    let sessions = format!("select count(*) from chat_sessions where id = '{id}'");
    let before = demo_count(&tmux, &messages);
    assert!(before > 0, "the demo's first session has messages");

    tmux.keys(&["d"]);
    tmux.wait_for("Delete 1 chat session");
    tmux.keys(&["y"]);
    tmux.wait_for("deleted 1 chat session");
    assert_eq!(demo_count(&tmux, &sessions), 0);
    assert_eq!(demo_count(&tmux, &messages), 0);
    tmux.keys(&["Enter", "6"]);
    tmux.wait_for("Audit record");
    tmux.wait_for("chat_session.delete");
    tmux.keys(&["u"]);
    let screen = tmux.wait_for("Restore from the trash");
    let plan = tmux.wait_for("would come back");
    assert!(
        plan.contains(&format!("{} rows would come back, 0 cannot", before + 1)),
        "{screen}\n{plan}"
    );
    assert_eq!(demo_count(&tmux, &sessions), 0, "a plan changes nothing");
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("Restored");
    assert!(screen.contains("came back, 0 cannot"), "{screen}");
    assert_eq!(demo_count(&tmux, &sessions), 1);
    assert_eq!(demo_count(&tmux, &messages), before);
    assert_eq!(
        demo_count(
            &tmux,
            &format!(
                "select count(*) from modcon_audit_log where action = 'trash.restore' \
                 and target_id = '{id}'"
            )
        ),
        1
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for("last: restored");
    // The record now holds the restore above the delete; that batch cannot come back twice.
    // The restore's two rows are one folded batch at the top; the delete is next.
    tmux.wait_for("rows restored, 0 refused");
    tmux.keys(&["j"]);
    tmux.keys(&["u"]);
    tmux.wait_for("already restored");
    tmux.keys(&["Enter"]);
    tmux.wait_for("u restore");
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
}

/// Sessions holding a spam URL in one of their messages, and one without.
async fn spam_wave(db: &Db) -> (Vec<Id>, Id) {
    use modcon::db::insert::{Batch, NewChatMessage, NewSession};
    let spammer = common::user(db, "spammer").await;
    let mut batch = Batch::default();
    let mut spam = Vec::new();
    for (i, content) in [
        "hi there",
        "cheap pills at https://spam.example/win now",
        "visit HTTPS://SPAM.EXAMPLE/WIN",
        "https://spam.example/win?ref=3",
    ]
    .iter()
    .enumerate()
    {
        let id = Id::from(Uuid::new_v4());
        let at = chrono::Utc::now() - chrono::Duration::minutes(i as i64);
        batch.sessions.push(NewSession {
            id: id.clone(),
            user_id: Some(spammer.clone()),
            guild_id: None,
            model: "m".into(),
            title: format!("spam wave {i}"),
            created_at: at,
        });
        batch.chat_messages.push(NewChatMessage {
            id: Id::from(Uuid::new_v4()),
            session_id: id.clone(),
            author_id: Some(spammer.clone()),
            role: "user",
            content: content.to_string(),
            created_at: at,
        });
        spam.push(id);
    }
    batch.insert(db).await.unwrap();
    let clean = spam.remove(0);
    (spam, clean)
}

both_backends_with_url! {

// The spam-wave workflow at 80×24: search every message for a URL, mark all, delete.
async fn an_admin_searches_a_url_marks_every_session_holding_it_and_deletes_them(db, url) {
    scene(&db).await;
    let (spam, clean) = spam_wave(&db).await;
    let tmux = Tmux::start(&url, &[], 80, 24);
    sign_in(&tmux);
    tmux.keys(&[":"]);
    tmux.text("search spam.example/win");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("1 of 3");
    assert!(screen.contains("spam wave 1") && !screen.contains("spam wave 0"), "{screen}");
    tmux.keys(&["C-a"]);
    tmux.wait_for("marked 3 matching sessions");
    tmux.keys(&["d"]);
    tmux.wait_for("Delete 3 chat sessions");
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("Outcome");
    assert!(screen.contains("deleted 3 chat sessions"), "{screen}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    for id in &spam {
        assert_eq!(count(&db, "select count(*) from chat_sessions where id = $1", &[uid(id)]).await, 0);
    }
    assert_eq!(count(&db, "select count(*) from chat_sessions where id = $1", &[uid(&clean)]).await, 1);
    assert_eq!(
        count(&db, "select count(*) from {#modcon_audit_log} where action = 'chat_session.delete' and actor_name = 'root'", &[]).await,
        3
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for("no chat message contains this text");
    tmux.keys(&["q"]);
    tmux.assert_restored("0");
}

}
