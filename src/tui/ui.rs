//! Drawing, from an immutable view of the app. Everything from the database passes the
//! sanitiser on the way (the panes and popups do it cell by cell).

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget};

use super::app::{App, Connection, Level, PromptKind};
use super::keymap::Action;
use super::strings;
use crate::sanitize::{clean_line, fit};

const SPINNER: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];
const MIN_WIDTH: u16 = 24;
const MIN_HEIGHT: u16 = 7;

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    render(app, area, frame.buffer_mut());
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = fit(strings::TOO_SMALL, area.width as usize);
        buf.set_stringn(area.x, area.y, &text, area.width as usize, Style::default());
        return;
    }
    if app.signed_in() {
        render_console(app, area, buf);
    } else {
        render_sign_in(app, area, buf);
    }
}

fn spinner(app: &App) -> &'static str {
    if app.busy() {
        SPINNER[app.spinner % SPINNER.len()]
    } else {
        " "
    }
}

/// The tab whose label is drawn at column `x` of the tab bar.
pub fn tab_at(x: u16) -> Option<super::app::Tab> {
    let mut start = 0u16;
    for (i, name) in strings::TABS.iter().enumerate() {
        // " name " then one space, as drawn below.
        let end = start + crate::sanitize::width(name) as u16 + 2;
        if (start..end).contains(&x) {
            return super::app::Tab::ALL.get(i).copied();
        }
        start = end + 1;
    }
    None
}

/// The first screen row of a list's rows (under the tabs, the title and the header).
pub const FIRST_ROW_Y: u16 = 3;

fn render_console(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = app.theme();
    // Tabs.
    let mut spans = Vec::new();
    for (i, name) in strings::TABS.iter().enumerate() {
        let tab = super::app::Tab::ALL[i];
        let style = if tab == app.tab {
            theme.tab_active()
        } else if app.is_tab_available(tab) {
            theme.base()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(format!(" {name} "), style));
        spans.push(Span::raw(" "));
    }
    Paragraph::new(Line::from(spans)).render(Rect::new(area.x, area.y, area.width, 1), buf);
    // Title.
    // Title, with the cursor's position and the total at the right.
    let title = format!("{} {}", spinner(app), app.pane().title());
    let position = app
        .pane()
        .position()
        .map(|p| format!(" {p} "))
        .filter(|p| p.len() + MIN_WIDTH as usize / 2 <= area.width as usize)
        .unwrap_or_default();
    let room = (area.width as usize).saturating_sub(position.len());
    buf.set_stringn(area.x, area.y + 1, fit(&title, room), room, theme.header());
    buf.set_stringn(
        area.x + room as u16,
        area.y + 1,
        &position,
        position.len(),
        theme.dim(),
    );
    // The pane.
    let list = Rect::new(
        area.x,
        area.y + 2,
        area.width,
        area.height.saturating_sub(4),
    );
    app.pane().render(list, buf, &theme);
    // Status bar.
    let status_y = area.y + area.height - 2;
    render_status(app, Rect::new(area.x, status_y, area.width, 1), buf);
    // Hint line or prompt.
    let hint_area = Rect::new(area.x, status_y + 1, area.width, 1);
    match &app.prompt {
        Some(prompt) => {
            let label = match prompt.kind {
                PromptKind::Filter => "/",
                PromptKind::Command => ":",
            };
            let width = area.width.saturating_sub(2) as usize;
            let value = clean_line(prompt.input.value());
            let scroll = prompt.input.visual_scroll(width);
            let shown: String = value.chars().skip(scroll).collect();
            let line = Line::from(vec![
                Span::styled(label, theme.header()),
                Span::raw(fit(&shown, width)),
                Span::styled("▏", theme.cursor()),
            ]);
            Paragraph::new(line).render(hint_area, buf);
        }
        None => {
            let keymap = &app.options.keymap;
            let hints: Vec<String> = app
                .hints()
                .into_iter()
                .map(|a| format!("{} {}", keymap.label(a), short_help(a)))
                .collect();
            let text = hints.join(" · ");
            buf.set_stringn(
                hint_area.x,
                hint_area.y,
                fit(&text, area.width as usize),
                area.width as usize,
                theme.dim(),
            );
        }
    }
    if let Some(popup) = &app.popup {
        popup.render(popup_screen(area), buf, &theme);
    }
}

/// Where popups go on a console drawn in `area`: between the tabs and the hint line.
pub fn popup_screen(area: Rect) -> Rect {
    Rect::new(
        area.x,
        area.y + 1,
        area.width,
        area.height.saturating_sub(2),
    )
}

fn short_help(action: Action) -> &'static str {
    match action {
        Action::Open => "open",
        Action::Back => "back",
        Action::Mark => "mark",
        Action::MarkAll => "mark all",
        Action::Filter => "filter",
        Action::Delete => "delete",
        Action::Repair => "repair",
        Action::Restore => "restore",
        Action::Edit => "edit",
        Action::CommandLine => "command",
        Action::Refresh => "refresh",
        Action::Help => "help",
        Action::Quit => "quit",
        other => other.help(),
    }
}

fn render_status(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = app.theme();
    let mut spans = Vec::new();
    if let Some(actor) = &app.actor {
        spans.push(Span::styled(
            format!(" {} ({}) ", fit(&actor.username, 24), actor.role),
            theme.header(),
        ));
    }
    if let Connection::Connected { backend, .. } = &app.connection {
        spans.push(Span::raw(format!("· {backend} ")));
    }
    if app.options.read_only {
        spans.push(Span::styled(strings::READ_ONLY_BADGE, theme.badge()));
        spans.push(Span::raw(" "));
    }
    let marked = app.pane().marked();
    if marked > 0 {
        spans.push(Span::styled(
            format!("· {marked} selected "),
            theme.marked(),
        ));
    }
    // The message takes what is left of the line, cut with "…" if it is longer.
    let used: usize = spans
        .iter()
        .map(|s| crate::sanitize::width(&s.content))
        .sum();
    let room = (area.width as usize).saturating_sub(used);
    match (&app.status, &app.last_outcome) {
        (Some((text, level)), _) => {
            let style = if *level == Level::Error {
                theme.error()
            } else {
                theme.base()
            };
            spans.push(Span::styled(fit(&format!("· {text}"), room), style));
        }
        (None, Some(outcome)) => spans.push(Span::styled(
            fit(&format!("· last: {outcome}"), room),
            theme.ok(),
        )),
        (None, None) => {}
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn render_sign_in(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = app.theme();
    let width = area.width.min(64);
    let height = area.height.min(16);
    let rect = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .title(Span::styled(
            format!(" {} — {} ", strings::APP, strings::SIGN_IN_TITLE),
            theme.header(),
        ));
    let inner = block.inner(rect);
    block.render(rect, buf);
    let form = &app.sign_in;
    let field = |label: &str, value: String, focused: bool| {
        Line::from(vec![
            Span::raw(format!("{label:<10}")),
            Span::styled(
                format!(
                    "[{}{}]",
                    fit(&value, inner.width.saturating_sub(14) as usize),
                    if focused { "▏" } else { "" }
                ),
                theme.button(focused, true),
            ),
        ])
    };
    let mut lines = Vec::new();
    match &app.connection {
        Connection::Connecting => lines.push(Line::styled(
            format!("{} {}", spinner(app), strings::CONNECTING),
            theme.dim(),
        )),
        Connection::Connected { backend, url } => lines.push(Line::styled(
            fit(
                &format!("{backend} · {}", clean_line(url)),
                inner.width as usize,
            ),
            theme.dim(),
        )),
        Connection::Failed(e) => {
            // The reason is what the operator acts on (a password, a certificate): it
            // gets four lines, not one cut short.
            let text = format!("{} — retrying", clean_line(e));
            for line in word_wrap(&text, inner.width as usize, 4) {
                lines.push(Line::styled(line, theme.error()));
            }
        }
    }
    if app.options.read_only {
        lines.push(Line::styled(strings::READ_ONLY_BADGE, theme.badge()));
    }
    lines.push(Line::raw(""));
    lines.push(field(
        strings::USERNAME,
        clean_line(form.username.value()),
        form.focus == 0,
    ));
    lines.push(field(
        strings::PASSWORD,
        "•".repeat(form.password.value().chars().count()),
        form.focus == 1,
    ));
    if form.needs_code {
        lines.push(field(
            strings::CODE,
            clean_line(form.code.value()),
            form.focus == 2,
        ));
    }
    lines.push(Line::raw(""));
    if form.busy {
        lines.push(Line::styled(
            format!("{} {}", spinner(app), strings::SIGNING_IN),
            theme.dim(),
        ));
    } else if form.queued {
        lines.push(Line::styled(
            fit(
                &format!("{} {}", spinner(app), strings::SIGN_IN_QUEUED),
                inner.width as usize,
            ),
            theme.dim(),
        ));
    } else if let Some(message) = &form.message {
        lines.push(Line::styled(
            fit(&clean_line(message), inner.width as usize),
            theme.error(),
        ));
    } else if form.needs_code {
        lines.push(Line::styled(
            fit(strings::CODE_HINT, inner.width as usize),
            theme.dim(),
        ));
        lines.push(Line::styled(strings::CODE_KEYS, theme.dim()));
    } else {
        lines.push(Line::styled(
            "Enter signs in · Tab switches field · Esc quits",
            theme.dim(),
        ));
    }
    if let Some((text, Level::Error)) = &app.status {
        lines.push(Line::styled(
            fit(&clean_line(text), inner.width as usize),
            theme.warning(),
        ));
    }
    if !app.options.demo_operators.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled(strings::DEMO_HINT, theme.header()));
        for (name, password, role) in &app.options.demo_operators {
            lines.push(Line::raw(format!("  {name} / {password}  ({role})")));
        }
    }
    Paragraph::new(lines).render(inner, buf);
}

/// `text` (already clean) in lines of at most `width` cells, broken between words (a
/// word wider than a line is broken too), at most `max_lines` of them, the last cut
/// with `…` if text is left over.
fn word_wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let width = width.max(1);
    let mut pieces = Vec::new();
    for word in text.split(' ') {
        let mut piece = String::new();
        for c in word.chars() {
            let mut next = piece.clone();
            next.push(c);
            if crate::sanitize::width(&next) > width && !piece.is_empty() {
                pieces.push(std::mem::take(&mut piece));
                piece.push(c);
            } else {
                piece = next;
            }
        }
        pieces.push(piece);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in pieces {
        let candidate = if current.is_empty() {
            piece.clone()
        } else {
            format!("{current} {piece}")
        };
        if crate::sanitize::width(&candidate) <= width || current.is_empty() {
            current = candidate;
        } else {
            lines.push(std::mem::replace(&mut current, piece));
        }
    }
    lines.push(current);
    if lines.len() > max_lines {
        let rest = lines.split_off(max_lines.max(1) - 1).join(" ");
        lines.push(rest);
    }
    lines.iter().map(|line| fit(line, width)).collect()
}
