//! The terminal console: one event stream (keys, ticks, resizes, data answers,
//! signals), a worker that owns the database, a synchronous `update`, and a draw only
//! when something changed (a slow SSH link gets no needless redraws).

pub mod app;
pub mod clipboard;
pub mod clock;
pub mod event;
pub mod history;
pub mod keymap;
pub mod list;
pub mod mouse;
pub mod panes;
pub mod popup;
pub mod strings;
pub mod table;
pub mod theme;
pub mod ui;
pub mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::unbounded_channel;

use self::app::{App, Options};
use self::event::Event;
use self::worker::{Request, Worker};

/// How the console was started.
pub struct Launch {
    pub url: String,
    /// The `[schema]` map, checked against the database when the worker connects.
    pub map: crate::db::SchemaMap,
    pub demo: bool,
    pub cache: crate::cache::CacheConfig,
    pub limits: crate::db::Limits,
    /// Roles that cannot sign in without MFA.
    pub require_mfa: Vec<crate::db::Role>,
    /// `[database]` timeouts and password file.
    pub connect: crate::db::ConnectOptions,
    pub options: Options,
}

/// Runs the console until the operator quits or a signal ends it. The terminal is
/// restored on every way out (ratatui's hook covers panics).
pub async fn run(launch: Launch) -> std::io::Result<()> {
    let (events, mut inbox) = unbounded_channel::<Event>();
    let (requests, worker_inbox) = unbounded_channel::<Request>();
    let worker = Worker::new(
        launch.url,
        launch.map,
        launch.options.read_only,
        launch.demo,
        launch.cache,
        {
            let events = events.clone();
            Arc::new(move |response| {
                // The UI has gone: nothing left to tell.
                let _ = events.send(Event::Data(Box::new(response)));
            })
        },
    )
    .with_limits(launch.limits)
    .requiring_mfa(launch.require_mfa)
    .connecting_with(launch.connect);
    let worker = tokio::spawn(worker.run(worker_inbox));
    let stop_input = Arc::new(AtomicBool::new(false));

    clock::use_local();
    let mut terminal = ratatui::init();
    mouse::capture();
    event::spawn_input(events.clone(), stop_input.clone());
    event::spawn_ticks(events.clone());
    event::spawn_signals(events.clone());

    let size = terminal
        .size()
        .map(|s| (s.width, s.height))
        .unwrap_or((80, 24));
    let mut app = App::new(launch.options, size);
    // Filter and command history of earlier sessions, where there is a data directory.
    if let Ok(dir) = crate::paths::data_dir() {
        app.history = history::History::load(dir.join("prompt-history"));
    }
    let _ = requests.send(Request::Connect);
    let mut result = Ok(());
    loop {
        if app.dirty {
            if let Err(e) = terminal.draw(|frame| ui::draw(frame, &app)) {
                // The terminal went away (the SSH link dropped): nothing left to draw on.
                result = Err(e);
                break;
            }
            app.dirty = false;
        }
        let Some(event) = inbox.recv().await else {
            break;
        };
        if let Event::Terminate(why) = &event {
            tracing::info!("leaving on {why}");
        }
        for request in app.update(event) {
            if requests.send(request).is_err() {
                break;
            }
        }
        if let Some(text) = app.take_clipboard() {
            // Straight to the terminal, so it reaches the operator's clipboard over SSH.
            if let Err(e) = clipboard::copy(&mut std::io::stdout(), &text) {
                tracing::warn!("could not write to the clipboard: {e}");
            }
        }
        if app.quit {
            break;
        }
    }
    stop_input.store(true, Ordering::SeqCst);
    mouse::release();
    ratatui::restore();
    drop(requests);
    // In-flight work ends with the process; an open transaction rolls back.
    worker.abort();
    result
}
