//! Hostile text against the real terminal: what the console measures must be what a terminal
//! draws, and nothing invisible may reach it unmarked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use modcon::sanitize::{clean_line, fit, name};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// Cells as ratatui counts them: where it ends after drawing the text into a buffer.
fn ratatui_width(text: &str) -> usize {
    let mut buffer = Buffer::empty(Rect::new(0, 0, 1000, 1));
    let (end, _) = buffer.set_stringn(0, 0, text, 1000, Style::default());
    usize::from(end)
}

/// The C library's character widths: what tmux uses to place every character it is sent.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod c_library {
    use std::ffi::{c_char, c_int, c_void};

    unsafe extern "C" {
        fn newlocale(mask: c_int, locale: *const c_char, base: *mut c_void) -> *mut c_void;
        fn uselocale(locale: *mut c_void) -> *mut c_void;
        fn wcwidth(c: i32) -> c_int;
    }

    const LC_CTYPE_MASK: c_int = 1;

    /// Switches this thread (only) to a UTF-8 locale, as a terminal runs in.
    pub fn use_utf8() {
        // SAFETY: the name is a valid C string; the locale object lives for the process.
        let locale = unsafe { newlocale(LC_CTYPE_MASK, c"C.UTF-8".as_ptr(), std::ptr::null_mut()) };
        assert!(!locale.is_null(), "the C.UTF-8 locale is installed");
        // SAFETY: `locale` is a valid locale object from newlocale.
        unsafe { uselocale(locale) };
    }

    /// tmux's rule: an unknown character (-1) takes one cell, a zero-width one joins the cell
    /// before it.
    pub fn terminal_width(text: &str) -> usize {
        text.chars()
            .map(|c| {
                // SAFETY: wcwidth reads only its argument and the thread's locale.
                let w = unsafe { wcwidth(c as i32) };
                if w < 0 { 1 } else { w as usize }
            })
            .sum()
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn every_character_that_survives_is_as_wide_as_the_terminal_draws_it() {
    use c_library::{terminal_width, use_utf8};
    use_utf8();
    assert_eq!(
        terminal_width("中e\u{301}"),
        3,
        "the C library knows Unicode widths"
    );
    let mut disagreements = Vec::new();
    for c in (0..=0x10ffff).filter_map(char::from_u32) {
        let shown = clean_line(&format!("a{c}b"));
        let (counted, drawn) = (ratatui_width(&shown), terminal_width(&shown));
        if counted != drawn {
            disagreements.push(format!(
                "U+{:04X} counted {counted} drawn {drawn}",
                u32::from(c)
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} characters disagree, e.g. {:?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(30)]
    );
}

/// The corpus kept with the project: one hostile string a line, `\u{...}` escapes decoded.
fn corpus() -> Vec<String> {
    include_str!("fixtures/hostile.txt")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(unescape)
        .collect()
}

fn unescape(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("\\u{") {
        out.push_str(&rest[..at]);
        let end = at + rest[at..].find('}').expect("a closing brace");
        let code = u32::from_str_radix(&rest[at + 3..end], 16).expect("hex digits");
        out.push(char::from_u32(code).expect("a character"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_corpus_decodes_to_the_hostile_characters_it_names() {
    let corpus = corpus();
    assert!(corpus.len() >= 20);
    assert!(corpus[0].contains('\u{34f}'));
    assert!(corpus.iter().any(|t| t.contains('\u{1b}')));
    assert!(corpus.iter().all(|t| !t.contains("\\u{")));
}

#[test]
fn the_corpus_is_shown_with_every_hazard_marked_and_within_its_cells() {
    for text in corpus() {
        let line = clean_line(&text);
        assert!(
            !line.chars().any(is_corpus_hazard),
            "{text:?} shown as {line:?}"
        );
        for max in 0..50 {
            assert!(ratatui_width(&fit(&text, max)) <= max);
        }
        assert_eq!(name(&format!(" {text} ")).chars().next(), Some('␣'));
    }
}

/// The demo database in a data directory of its own, with the corpus added by the sqlite3
/// command-line tool, as an operator's platform would have written it.
struct Demo {
    dir: std::path::PathBuf,
    /// The chat sessions titled with the corpus, in its order.
    sessions: Vec<String>,
}

impl Demo {
    fn with_corpus(corpus: &[String]) -> Demo {
        let dir = std::env::temp_dir().join(format!("modcon-hostile-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut demo = Demo {
            dir,
            sessions: Vec::new(),
        };
        let seeded = std::process::Command::new(env!("CARGO_BIN_EXE_modcon"))
            .args([
                "--demo",
                "seed",
                "--users",
                "0",
                "--guilds",
                "0",
                "--sessions",
                "0",
            ])
            .env("MODCON_DATA_DIR", &demo.dir)
            .env_remove("DATABASE_URL")
            .env_remove("MODCON_CONFIG")
            .output()
            .unwrap();
        assert!(
            seeded.status.success(),
            "{}",
            String::from_utf8_lossy(&seeded.stderr)
        );
        let mut sql = String::from("begin;\n");
        for (i, text) in corpus.iter().enumerate() {
            let (user, guild, session) = (uuid(), uuid(), uuid());
            demo.sessions.push(session.clone());
            // Newest first in the lists, all in the same minute.
            let at = format!("2029-12-31T23:59:{:02}.000Z", 59 - i);
            sql.push_str(&format!(
                "insert into users (id, username, role, created_at, updated_at) \
                 values ('{user}', {}, 'user', '{at}', '{at}');\n\
                 insert into guilds (id, name, owner_id, created_at, updated_at) \
                 values ('{guild}', {}, '{user}', '{at}', '{at}');\n\
                 insert into guild_members (guild_id, user_id, role) values ('{guild}', '{user}', 'owner');\n\
                 insert into chat_sessions (id, user_id, guild_id, model, title, created_at, updated_at) \
                 values ('{session}', '{user}', '{guild}', 'gpt-small', {}, '{at}', '{at}');\n\
                 insert into chat_messages (id, session_id, author_id, role, content, created_at) \
                 values ('{}', '{session}', '{user}', 'user', {}, '{at}');\n",
                sql_text(&format!("!{i:02} {text}")),
                sql_text(&format!("g{i:02} {text}")),
                sql_text(&format!("t{i:02} {text}")),
                uuid(),
                sql_text(text),
            ));
        }
        sql.push_str("commit;\n");
        let mut sqlite = std::process::Command::new("sqlite3")
            .arg(demo.dir.join("demo.db"))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("the sqlite3 command-line tool is installed");
        use std::io::Write;
        sqlite
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        assert!(sqlite.wait().unwrap().success(), "sqlite3 took the corpus");
        demo
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// SQLite builds the text from code points, so no quoting or encoding can go wrong.
fn sql_text(text: &str) -> String {
    let points: Vec<String> = text.chars().map(|c| u32::from(c).to_string()).collect();
    format!("char({})", points.join(", "))
}

#[test]
fn a_command_prints_hostile_titles_through_the_sanitiser() {
    let corpus = corpus();
    let demo = Demo::with_corpus(&corpus);
    let password = demo.dir.join("password");
    std::fs::write(&password, "admin-demo\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modcon"))
        .args([
            "--demo",
            "chats",
            "delete",
            "--plan",
            "--user",
            "admin",
            "--password-file",
        ])
        .arg(&password)
        .args(&demo.sessions)
        .env("MODCON_DATA_DIR", &demo.dir)
        .env_remove("DATABASE_URL")
        .env_remove("MODCON_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..corpus.len() {
        assert!(
            stdout.contains(&format!("t{i:02} ")),
            "title {i} listed:\n{stdout}"
        );
    }
    let leaked: Vec<char> = stdout.chars().filter(|&c| is_corpus_hazard(c)).collect();
    assert!(leaked.is_empty(), "{leaked:?} reached stdout:\n{stdout}");
    assert!(stdout.contains("t16 ␛]0;title␇␛[2J escapes"), "{stdout}");
}

/// What the corpus hides text or breaks widths with: none of it may reach a terminal as
/// itself.
fn is_corpus_hazard(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{9}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{ad}' | '\u{34f}'
            | '\u{600}' | '\u{601}' | '\u{890}' | '\u{9be}' | '\u{bbe}' | '\u{115f}' | '\u{1160}'
            | '\u{17b4}' | '\u{17b5}' | '\u{17d8}' | '\u{180b}'..='\u{180f}' | '\u{200b}'
            | '\u{200d}' | '\u{202a}'..='\u{202e}' | '\u{2065}' | '\u{206a}'..='\u{206f}'
            | '\u{2630}' | '\u{2800}' | '\u{3164}' | '\u{e000}'..='\u{f8ff}' | '\u{fe0f}'
            | '\u{feff}' | '\u{ff9f}' | '\u{ffa0}' | '\u{fff0}'..='\u{fffb}' | '\u{fffe}' | '\u{ffff}'
            | '\u{1d173}'..='\u{1d17a}' | '\u{1d360}' | '\u{1f1e6}'..='\u{1f1ff}'
            | '\u{1f3fb}'..='\u{1f3ff}' | '\u{1f6dc}' | '\u{1fabf}' | '\u{1face}' | '\u{1fae8}'
            | '\u{e0000}'..='\u{e0fff}' | '\u{f0000}'..
    )
}

/// A tmux server of its own, with one window running the console on the demo database.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(demo: &Demo, width: u16, height: u16) -> Tmux {
        let socket = format!("modcon-hostile-{}", uuid::Uuid::new_v4().simple());
        let script = demo.dir.join("run.sh");
        std::fs::write(
            &script,
            format!(
                "unset DATABASE_URL MODCON_CONFIG MODCON_USER\n\
                 export TERM=xterm-256color MODCON_DATA_DIR='{}'\n\
                 '{}' --demo\n\
                 echo MODCON-EXIT=$?\n\
                 sleep 600\n",
                demo.dir.display(),
                env!("CARGO_BIN_EXE_modcon"),
            ),
        )
        .unwrap();
        let tmux = Tmux { socket };
        let (w, h) = (width.to_string(), height.to_string());
        let script = format!("sh '{}'", script.display());
        let started = std::process::Command::new("tmux")
            .args([
                "-L",
                &tmux.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "hostile",
            ])
            .args(["-x", &w, "-y", &h, &script])
            .status()
            .expect("tmux is installed");
        assert!(started.success());
        tmux
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "hostile"])
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", "-t", "hostile", key]);
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    fn text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "hostile", "-l", text]);
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
                "no {needle:?} on screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The screen once it has stopped changing.
    fn settled(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = self.screen();
        loop {
            std::thread::sleep(Duration::from_millis(400));
            let now = self.screen();
            assert!(
                Instant::now() < deadline,
                "the screen never settled:\n{now}"
            );
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// Resizes away and back: the console then draws every cell afresh.
    fn redraw_all(&self, width: u16, height: u16) -> String {
        for (w, h) in [(width - 17, height - 9), (width, height)] {
            self.tmux(&[
                "resize-window",
                "-t",
                "hostile",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ]);
            self.settled();
        }
        self.settled()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

use std::time::{Duration, Instant};

/// Every corpus row has its timestamp whole, in the column the header puts it in.
fn assert_rows_keep_their_columns(screen: &str, header: &str, marker: char, rows: usize) {
    let header_line = screen
        .lines()
        .find(|line| line.contains(header) && line.contains("Created"))
        .unwrap_or_else(|| panic!("no header {header:?}:\n{screen}"));
    let created = header_line.find("Created").unwrap();
    let column = ratatui_width(&header_line[..created]);
    for i in 0..rows {
        let label = format!("{marker}{i:02} ");
        let found: Vec<&str> = screen
            .lines()
            .filter(|line| line.contains(&label))
            .collect();
        assert_eq!(found.len(), 1, "row {label:?} once:\n{screen}");
        let row = found[0];
        let at = row
            .find("2029-12-31 23:59")
            .unwrap_or_else(|| panic!("row {label:?} lost its timestamp: {row:?}\n{screen}"));
        assert_eq!(
            ratatui_width(&row[..at]),
            column,
            "row {label:?} shifted: {row:?}\n{screen}"
        );
    }
}

#[test]
fn hostile_text_in_the_data_is_drawn_exactly_where_the_console_measures_it() {
    let corpus = corpus();
    let demo = Demo::with_corpus(&corpus);
    let (width, height) = (120, 40);
    let tmux = Tmux::start(&demo, width, height);
    tmux.wait_for("Demo operators");
    tmux.text("admin");
    tmux.keys(&["Enter"]);
    tmux.text("admin-demo");
    tmux.keys(&["Enter"]);
    tmux.wait_for("t00 ");
    // Moving the cursor redraws rows cell by cell, where stale cells would stay behind.
    for _ in 0..corpus.len() {
        tmux.keys(&["j"]);
    }
    for _ in 0..corpus.len() {
        tmux.keys(&["k"]);
    }
    let drawn = tmux.settled();
    let redrawn = tmux.redraw_all(width, height);
    assert_eq!(
        drawn, redrawn,
        "what was drawn row by row is what a full redraw draws"
    );
    assert_rows_keep_their_columns(&redrawn, "Title", 't', corpus.len());

    // A message that starts with a wide character, at the left edge of its popup.
    let wide = corpus.iter().position(|t| t.starts_with('中')).unwrap();
    for _ in 0..wide {
        tmux.keys(&["j"]);
    }
    tmux.keys(&["Enter"]);
    tmux.wait_for("(1 message)");
    tmux.keys(&["Enter"]);
    tmux.wait_for("│中文字 wide first");
    let drawn = tmux.settled();
    let redrawn = tmux.redraw_all(width, height);
    assert_eq!(drawn, redrawn, "the popup draws the same either way");
    let row = redrawn.lines().find(|l| l.contains("│中文字 wide first"));
    assert!(
        row.is_some_and(|row| row.trim_end().ends_with('│')),
        "the popup keeps both borders:\n{redrawn}"
    );
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys(&["Escape"]);

    tmux.keys(&["5"]);
    tmux.wait_for("!00 ");
    for _ in 0..corpus.len() {
        tmux.keys(&["j"]);
    }
    for _ in 0..corpus.len() {
        tmux.keys(&["k"]);
    }
    let drawn = tmux.settled();
    let redrawn = tmux.redraw_all(width, height);
    assert_eq!(drawn, redrawn, "the users pane draws the same either way");
    assert_rows_keep_their_columns(&redrawn, "Username", '!', corpus.len());

    tmux.keys(&["q"]);
    tmux.wait_for("MODCON-EXIT=0");
}

#[cfg(unix)]
#[test]
fn hostile_text_is_logged_clean_and_exposed_secrets_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Demo {
        dir: std::env::temp_dir().join(format!("modcon-files-{}", uuid::Uuid::new_v4())),
        sessions: Vec::new(),
    };
    // The data directory's name reaches the log in the database URL.
    let data = scratch.dir.join("\u{202e}data\u{1b}[2J");
    std::fs::create_dir_all(&data).unwrap();
    let readable = |path: &std::path::Path, text: &str| {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    let config = scratch.dir.join("config.toml");
    readable(
        &config,
        "[database]\nurl = \"postgres://mod:s3cret@127.0.0.1:1/x\"\n",
    );
    let password = scratch.dir.join("password");
    readable(&password, "admin-demo\n");
    let log = data.join("modcon.log");
    readable(&log, "");
    let run = |id: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_modcon"))
            .arg("--config")
            .arg(&config)
            .args(["--demo", "chats", "delete", "--plan", id, "--user", "admin"])
            .arg("--password-file")
            .arg(&password)
            .env("MODCON_DATA_DIR", &data)
            .env_remove("DATABASE_URL")
            .env_remove("MODCON_CONFIG")
            .output()
            .unwrap();
        String::from_utf8(out.stderr).unwrap()
    };

    let stderr = run(&uuid());
    assert!(
        stderr.contains("config file") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    assert!(
        stderr.contains("log file") && stderr.contains("now 0600"),
        "{stderr}"
    );
    assert!(
        stderr.contains("password file") && stderr.contains("0644"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{202e}') && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the log was tightened");

    run("\u{202e}x\u{1b}[2J");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("\u{fffd}data␛[2J/demo.db"),
        "shown, not run: {logged}"
    );
    assert!(
        !logged.contains('\u{202e}') && !logged.contains('\u{1b}'),
        "{logged:?}"
    );
    assert!(
        logged.contains("config file") && logged.contains("password file"),
        "{logged}"
    );
    assert!(
        !logged.contains("s3cret") && !logged.contains("admin-demo"),
        "{logged}"
    );
}
