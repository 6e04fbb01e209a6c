//! Console benchmarks: frame render time for a full page of rows at 200×60, and the
//! real binary's resident memory on a database of 1,000,000 chat messages.
//!
//! `cargo bench --bench console` (add `-- --quick` for a short run: fewer frames,
//! 100,000 messages; `render` or `memory` runs that part only). Memory needs PostgreSQL
//! (`MODCON_BENCH_PG_URL`, default the local server) and tmux. Render times are CPU
//! time on one core: the load average is printed, as other work on the machine shows in
//! the p99.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use modcon::config::ConfirmConfig;
use modcon::db::lists::{ChatSessionRow, Page};
use modcon::db::{Access, Actor, Backend, Db, Id, Role, SchemaMap};
use modcon::tui::app::{App, Options};
use modcon::tui::event::Event;
use modcon::tui::keymap::Keymap;
use modcon::tui::theme::Theme;
use modcon::tui::ui;
use modcon::tui::worker::{PageData, Request, Response, Slot};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use uuid::Uuid;

const HOSTILE: [&str; 6] = [
    "\x1b]0;pwned\x07retitle",
    "invoice_\u{202e}fdp.exe",
    "日本語のタイトル 🦀🔥 with emoji",
    "Z̷̢̛a̸͇͝l̵̰̾g̶̣̈́o̷̡͠ text",
    "zero\u{200b}width\u{feff}joiner",
    "a long line that goes on and on well past any column width you could give it",
];

fn rows(n: usize) -> Vec<ChatSessionRow> {
    (0..n)
        .map(|i| ChatSessionRow {
            id: Id::from(Uuid::from_u128(i as u128 + 1)),
            title: format!("{} #{i}", HOSTILE[i % HOSTILE.len()]),
            owner_id: (i % 7 != 0).then(|| Id::from(Uuid::from_u128(10_000 + i as u128))),
            owner_name: (i % 7 != 0).then(|| format!("user{i}")),
            guild_id: None,
            guild_name: (i % 3 == 0).then(|| "Book Lovers".to_string()),
            model: "gpt-small".into(),
            messages: (i * 37 % 500) as i64,
            created_at: Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
            updated_at: Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
        })
        .collect()
}

fn app(width: u16, height: u16) -> App {
    let options = Options {
        read_only: false,
        demo_operators: Vec::new(),
        confirm: ConfirmConfig::default(),
        keymap: Keymap::default(),
        keymap_problems: Vec::new(),
        theme: Theme { color: true },
    };
    let mut app = App::new(options, (width, height));
    app.update(Event::Data(Box::new(Response::Connected {
        backend: Backend::Postgres,
        url: "x".into(),
        ids: Default::default(),
    })));
    let requests = app.update(Event::Data(Box::new(Response::SignedIn(Actor {
        id: Id::from(Uuid::nil()),
        username: "admin".into(),
        role: Role::Admin,
    }))));
    let seq = requests
        .iter()
        .find_map(|r| match r {
            Request::Load { seq, .. } => Some(*seq),
            _ => None,
        })
        .unwrap();
    app.update(Event::Data(Box::new(Response::Page {
        slot: Slot::Chats,
        seq,
        result: Ok(PageData::ChatSessions(Page {
            rows: rows(100),
            next: None,
        })),
    })));
    app
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn render_bench(frames: usize) -> (Duration, Duration, Duration) {
    let (w, h) = (200u16, 60u16);
    let mut app = app(w, h);
    let area = Rect::new(0, 0, w, h);
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames + 50 {
        // Move the cursor so every frame differs, as when scrolling.
        let key = if (i / 40) % 2 == 0 { 'j' } else { 'k' };
        app.update(Event::Key(ratatui::crossterm::event::KeyEvent::new(
            ratatui::crossterm::event::KeyCode::Char(key),
            ratatui::crossterm::event::KeyModifiers::NONE,
        )));
        let mut buf = Buffer::empty(area);
        let start = Instant::now();
        ui::render(&app, area, &mut buf);
        let elapsed = start.elapsed();
        std::hint::black_box(&buf);
        if i >= 50 {
            times.push(elapsed);
        }
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    (mean, percentile(&times, 0.5), percentile(&times, 0.99))
}

/// Peak and current resident memory of a process, in kB.
fn memory_kb(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

async fn memory_bench(messages_per_session: usize, sessions: usize) -> Option<(u64, u64, usize)> {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("memory: tmux not found, skipped");
        return None;
    }
    let admin = std::env::var("MODCON_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("modcon_bench_console_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL for the memory benchmark");
    conn.execute(AssertSqlSafe(format!("create database {name}")))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let map = SchemaMap::reference();
    let db = Db::connect(&url, Access::ReadWrite).await.unwrap();
    db.migrate(&map).await.unwrap();
    let db = db.load_schema(&map).await.unwrap();
    let started = Instant::now();
    modcon::seed::seed_scale(
        &db,
        modcon::seed::ScaleSpec {
            users: 10_000,
            guilds: 50,
            sessions,
            messages_per_session,
            orphan_percent: 3,
        },
        |_| {},
    )
    .await
    .unwrap();
    let messages = sessions * messages_per_session;
    eprintln!(
        "memory: seeded {messages} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    db.execute_statement("analyze", &[]).await.unwrap();
    let mut admin_user = modcon::db::insert::NewUser::new("bench-admin", Role::Admin);
    admin_user.password_hash = Some(
        modcon::db::auth::hash_password("bench-password")
            .await
            .unwrap(),
    );
    modcon::db::insert::Batch {
        users: vec![admin_user],
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();

    let socket = format!("modcon-bench-{}", Uuid::new_v4().simple());
    let data = std::env::temp_dir().join(&socket);
    std::fs::create_dir_all(&data).unwrap();
    let script = data.join("run.sh");
    std::fs::write(
        &script,
        format!(
            "unset DATABASE_URL MODCON_CONFIG\nexport MODCON_DATA_DIR='{}'\n'{}' --database-url '{url}'\nsleep 600\n",
            data.display(),
            env!("CARGO_BIN_EXE_modcon")
        ),
    )
    .unwrap();
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "b",
        "-x",
        "200",
        "-y",
        "60",
        &format!("sh '{}'", script.display()),
    ]);
    let wait = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !tmux(&["capture-pane", "-p", "-t", "b"]).contains(needle) {
            assert!(Instant::now() < deadline, "timed out waiting for {needle}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait("Sign in");
    std::thread::sleep(Duration::from_millis(500));
    tmux(&["send-keys", "-t", "b", "-l", "bench-admin"]);
    tmux(&["send-keys", "-t", "b", "Enter"]);
    tmux(&["send-keys", "-t", "b", "-l", "bench-password"]);
    tmux(&["send-keys", "-t", "b", "Enter"]);
    wait("Chat sessions");
    wait("Msgs");
    let shell = tmux(&["display-message", "-p", "-t", "b", "#{pane_pid}"])
        .trim()
        .to_string();
    let pid = String::from_utf8_lossy(
        &Command::new("pgrep")
            .args(["-P", &shell, "-f", "modcon"])
            .output()
            .unwrap()
            .stdout,
    )
    .lines()
    .next()
    .unwrap_or("")
    .to_string();
    // Work through the data as an operator would: page far down (every page loads),
    // open sessions, filter, visit every pane, mark everything matching a filter.
    for _ in 0..60 {
        tmux(&["send-keys", "-t", "b", "PageDown"]);
        std::thread::sleep(Duration::from_millis(60));
    }
    for key in [
        "Enter", "G", "Escape", "j", "Enter", "Escape", "2", "G", "6", "G", "1",
    ] {
        tmux(&["send-keys", "-t", "b", key]);
        std::thread::sleep(Duration::from_millis(400));
    }
    tmux(&["send-keys", "-t", "b", "/"]);
    tmux(&["send-keys", "-t", "b", "-l", "travel"]);
    tmux(&["send-keys", "-t", "b", "Enter"]);
    std::thread::sleep(Duration::from_millis(1500));
    tmux(&["send-keys", "-t", "b", "C-a"]);
    std::thread::sleep(Duration::from_secs(4));
    let (peak, now) = memory_kb(&pid);
    let screen = tmux(&["capture-pane", "-p", "-t", "b"]);
    assert!(screen.contains("selected"), "marking worked:\n{screen}");
    tmux(&["send-keys", "-t", "b", "q"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux(&["kill-server"]);
    let _ = std::fs::remove_dir_all(&data);
    db.close().await;
    conn.execute(AssertSqlSafe(format!("drop database {name} with (force)")))
        .await
        .unwrap();
    Some((peak, now, messages))
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only_render = args.iter().any(|a| a == "render");
    let only_memory = args.iter().any(|a| a == "memory");
    if !only_memory || only_render {
        let frames = if quick { 300 } else { 3_000 };
        println!("render: load average before {}", load_average());
        let (mean, p50, p99) = render_bench(frames);
        println!("render: {frames} frames of a full page (58 rows, hostile text) at 200x60");
        println!(
            "render: mean {:.3} ms, median {:.3} ms, p99 {:.3} ms (target < 2 ms: {})",
            mean.as_secs_f64() * 1e3,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            if p99 < Duration::from_millis(2) {
                "met"
            } else {
                "MISSED"
            }
        );
        println!("render: load average after {}", load_average());
    }
    if only_render && !only_memory {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (sessions, per) = if quick { (10_000, 10) } else { (100_000, 10) };
    if let Some((peak, now, messages)) = runtime.block_on(memory_bench(per, sessions)) {
        println!(
            "memory: {messages} messages; peak resident {:.1} MB, at the end {:.1} MB (target < 50 MB: {})",
            peak as f64 / 1024.0,
            now as f64 / 1024.0,
            if peak < 50 * 1024 { "met" } else { "MISSED" }
        );
    }
}
