//! One ordered stream of everything the console reacts to: keys, resizes, ticks, data
//! answers and signals.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEvent, KeyEventKind, MouseEvent};
use tokio::sync::mpsc::UnboundedSender;

use super::worker::Response;

#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    /// A click or the wheel (an extra: everything works without).
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// Animates the spinner while work is pending.
    Tick,
    Data(Box<Response>),
    /// SIGTERM or SIGHUP (the SSH link dropped): leave, restoring the terminal.
    Terminate(&'static str),
}

/// Reads the terminal on its own thread (crossterm's read blocks) until `stop` is set.
pub fn spawn_input(events: UnboundedSender<Event>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match event::poll(Duration::from_millis(100)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => break,
            }
            let forwarded = match event::read() {
                Ok(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => {
                    events.send(Event::Key(key))
                }
                Ok(TermEvent::Resize(w, h)) => events.send(Event::Resize(w, h)),
                Ok(TermEvent::Mouse(mouse)) => events.send(Event::Mouse(mouse)),
                Ok(_) => Ok(()),
                Err(_) => {
                    let _ = events.send(Event::Terminate("terminal input closed"));
                    break;
                }
            };
            if forwarded.is_err() {
                break;
            }
        }
    });
}

pub fn spawn_ticks(events: UnboundedSender<Event>) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(120));
        loop {
            interval.tick().await;
            if events.send(Event::Tick).is_err() {
                break;
            }
        }
    });
}

pub fn spawn_signals(events: UnboundedSender<Event>) {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
    ] {
        let events = events.clone();
        tokio::spawn(async move {
            let Ok(mut stream) = signal(kind) else {
                return;
            };
            if stream.recv().await.is_some() {
                let _ = events.send(Event::Terminate(name));
            }
        });
    }
}
