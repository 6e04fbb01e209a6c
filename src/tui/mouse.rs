//! The mouse as an extra: a click selects a row or a tab, the wheel scrolls. It never
//! marks or deletes. Reporting is turned off again on every way out, a panic included,
//! so the shell is not left receiving mouse codes.

use std::io::Write;

use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;

/// Asks the terminal for clicks and the wheel, and makes a panic turn that off first.
pub fn capture() {
    if execute!(std::io::stdout(), EnableMouseCapture).is_err() {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        release();
        previous(info);
    }));
}

pub fn release() {
    let mut out = std::io::stdout();
    let _ = execute!(out, DisableMouseCapture);
    let _ = out.flush();
}
