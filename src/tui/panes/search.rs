//! Search: every chat session holding a message that contains a text (`:search TEXT`),
//! newest first, with how many of its messages match and an excerpt around the first
//! match. Rows mark like any list; `d` deletes the marked sessions through the usual
//! plan and confirmation. A slow search shows how long it has run, and Esc stops it on
//! the server.

use std::time::Instant;

use crate::db::Id;
use crate::db::lists::TimeCursor;
use crate::db::ops::OpKind;
use crate::db::search::{Interrupt, SessionHit};
use crate::db::{DataError, Permission};
use crate::sanitize::fit;
use crate::tui::keymap::Action;
use crate::tui::list::{ListView, Marks};
use crate::tui::popup::Subject;
use crate::tui::strings;
use crate::tui::table::{Column, TableRow};
use crate::tui::theme::Theme;
use crate::tui::worker::{PageData, Query, RowKey, Slot};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::chats::{allowed, refuse};
use super::{
    Cx, DeleteIntent, Effect, KeysRequest, Pane, Scope, Typed, answer_keys, cancel_keys, draw_list,
    find_or_say, mark, navigate, page_if_needed, reload, request_keys, short_id, targets, when,
};

const COLUMNS: [Column; 6] = [
    Column::fixed("Session", 24),
    Column::fixed("Owner", 14).from(70),
    Column::number("Hits", 5),
    Column::flex("First match"),
    Column::time("Created", 16).from(100),
    Column::fixed("Id", 8).from(130),
];

#[derive(Default)]
pub struct SearchPane {
    pub list: ListView<SessionHit, TimeCursor>,
    pub marks: Marks,
    /// The text searched for; empty before the first search.
    pub text: String,
    /// Stops the statements of the search on screen (page, count, mark all).
    interrupt: Interrupt,
    /// When the page on its way was asked for: the progress line counts from it.
    since: Option<Instant>,
    /// The search was stopped before it answered.
    stopped: bool,
    keys_request: Option<KeysRequest>,
}

fn cells(r: &SessionHit) -> Vec<String> {
    let excerpt = if r.excerpt_cut {
        format!("…{}", r.excerpt)
    } else {
        r.excerpt.clone()
    };
    vec![
        if r.title.is_empty() {
            "(untitled)".into()
        } else {
            r.title.clone()
        },
        match &r.owner_name {
            Some(name) => name.clone(),
            None => "⚠ orphaned".into(),
        },
        r.matches.to_string(),
        excerpt,
        when(&r.created_at),
        short_id(&r.id),
    ]
}

impl SearchPane {
    /// Searches for `text` from the start, stopping whatever search was running.
    pub fn start(&mut self, text: &str, cx: &mut Cx) -> Effect {
        let text = text.trim();
        if text.is_empty() {
            return Effect::Error(strings::SEARCH_USAGE.into());
        }
        self.text = text.to_string();
        self.run(cx);
        Effect::None
    }

    fn query(&self, after: Option<TimeCursor>) -> Query {
        Query::ContentSearch {
            text: self.text.clone(),
            after,
            interrupt: self.interrupt.clone(),
        }
    }

    fn run(&mut self, cx: &mut Cx) {
        self.interrupt.stop();
        self.interrupt = Interrupt::new();
        self.stopped = false;
        self.since = Some(Instant::now());
        let query = self.query(None);
        reload(&mut self.list, Slot::Search, cx, query);
    }

    fn page(&mut self, cx: &mut Cx) {
        if self.text.is_empty() || self.stopped {
            return;
        }
        let (text, interrupt) = (self.text.clone(), self.interrupt.clone());
        let before = self.list.pending;
        page_if_needed(&mut self.list, Slot::Search, cx, |seek| {
            // Newest first from the head only: the search has no end to read from.
            Query::ContentSearch {
                text,
                after: seek.cursor().cloned(),
                interrupt,
            }
        });
        if self.list.pending != before {
            self.since = Some(Instant::now());
        }
    }

    /// Esc while the database works: the page, the count and a mark-all all stop there.
    fn stop(&mut self) -> Option<Effect> {
        let running = self.list.pending.is_some() || self.list.count_pending.is_some();
        if let Some(stopped) = cancel_keys(&mut self.keys_request) {
            return Some(stopped);
        }
        if !running {
            return None;
        }
        self.interrupt.stop();
        self.stopped = true;
        self.list.pending = None;
        self.list.count_pending = None;
        self.since = None;
        Some(Effect::Status(strings::SEARCH_STOPPED.into()))
    }

    fn scope(&self) -> Scope {
        Scope::of(&self.text)
    }

    fn status(&self) -> Option<String> {
        if let Some(e) = &self.list.error {
            return Some(format!("error: {e}"));
        }
        if self.text.is_empty() {
            return Some(strings::SEARCH_USAGE.into());
        }
        if self.list.pending.is_some() {
            let seconds = self.since.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
            return Some(strings::searching(seconds));
        }
        if self.stopped {
            return Some(strings::SEARCH_STOPPED.into());
        }
        if self.list.rows.is_empty() {
            return Some(strings::SEARCH_NO_MATCH.into());
        }
        None
    }
}

impl Pane for SearchPane {
    fn on_action(&mut self, action: Action, cx: &mut Cx) -> Effect {
        let scope = self.scope();
        if navigate(&mut self.list, action)
            || mark(
                &mut self.list,
                &mut self.marks,
                action,
                |r| r.id.clone(),
                scope,
            )
        {
            self.page(cx);
            return Effect::None;
        }
        match action {
            Action::Back => {
                if let Some(stopped) = self.stop() {
                    return stopped;
                }
                if !self.marks.is_empty() {
                    self.marks.clear();
                    return Effect::None;
                }
                Effect::Status(strings::SEARCH_LEAVE.into())
            }
            Action::Open => match self.list.selected_row() {
                // The session in Chats, where Enter opens its messages.
                Some(row) => Effect::GotoSession(row.id.clone()),
                None => Effect::None,
            },
            Action::Delete => {
                if let Some(refusal) = refuse(cx, Permission::DeleteChatSessions) {
                    return refusal;
                }
                let (ids, hidden) = targets(&self.list, &self.marks, |r| r.id.clone(), scope);
                if ids.is_empty() {
                    return Effect::Status(strings::NOTHING_SELECTED.into());
                }
                Effect::Intent(DeleteIntent::new(
                    Subject::of(OpKind::DeleteChatSessions),
                    ids,
                    hidden,
                    Typed::IfLarge,
                ))
            }
            Action::MarkAll | Action::InvertMarks => {
                if self.text.is_empty() {
                    return Effect::Error(strings::SEARCH_USAGE.into());
                }
                let invert = action == Action::InvertMarks;
                let query = self.query(None);
                let (effect, waiting) = request_keys(cx, query, invert, scope);
                self.keys_request = waiting;
                effect
            }
            Action::NextMatch | Action::PrevMatch => {
                let needle = self.text.clone();
                find_or_say(&mut self.list, &needle, action, |r| r.excerpt.clone())
            }
            Action::Refresh => {
                self.refresh(cx);
                Effect::None
            }
            _ => Effect::None,
        }
    }

    fn on_page(&mut self, slot: Slot, seq: u64, result: Result<PageData, DataError>, cx: &mut Cx) {
        match (slot, result) {
            (Slot::Search, Ok(PageData::ContentSearch(page))) => {
                let answered = self.list.accept(seq, page.rows, page.next);
                if answered {
                    self.since = None;
                }
            }
            (Slot::Search, Err(DataError::Cancelled)) => {}
            (Slot::Search, Err(e)) => {
                self.list.fail(seq, e.to_string());
            }
            _ => {}
        }
        self.page(cx);
    }

    fn on_keys(&mut self, seq: u64, keys: Vec<RowKey>) -> Effect {
        answer_keys(
            &mut self.keys_request,
            &mut self.marks,
            seq,
            &keys,
            ("session", "sessions"),
        )
    }

    fn on_count(&mut self, slot: Slot, seq: u64, total: Option<u64>) {
        if slot == Slot::Search {
            self.list.accept_count(seq, total);
        }
    }

    fn set_filter(&mut self, text: &str, cx: &mut Cx) {
        if !text.trim().is_empty() {
            self.text = text.trim().to_string();
            self.run(cx);
        }
    }

    fn filter_text(&self) -> String {
        self.text.clone()
    }

    fn command(&mut self, name: &str, arg: &str, cx: &mut Cx) -> Effect {
        match name {
            "search" => self.start(arg, cx),
            "goto" => super::goto_loaded(&mut self.list, arg, |r| r.id.to_string()),
            _ => Effect::Error(format!(":{} does nothing here", fit(name, 20))),
        }
    }

    fn refresh(&mut self, cx: &mut Cx) {
        if !self.text.is_empty() {
            self.run(cx);
        }
    }

    fn after_operation(&mut self, done: &[Id], cx: &mut Cx) {
        for id in done {
            self.marks.ids.remove(id);
        }
        self.refresh(cx);
    }

    fn marked(&self) -> usize {
        self.marks.len()
    }

    fn hints(&self, cx: &Cx) -> Vec<Action> {
        let mut hints = vec![Action::Filter, Action::Mark, Action::MarkAll];
        if allowed(cx, Permission::DeleteChatSessions) {
            hints.push(Action::Delete);
        }
        hints.extend([Action::Open, Action::Back, Action::Help]);
        hints
    }

    fn title(&self) -> String {
        if self.text.is_empty() {
            return strings::SEARCH_TITLE.into();
        }
        format!(
            "{} · “{}” · sessions with a matching message",
            strings::SEARCH_TITLE,
            fit(&self.text, 30)
        )
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let rows: Vec<TableRow> = self
            .list
            .visible()
            .map(|(i, r)| TableRow {
                cells: cells(r),
                cursor: i == self.list.selected,
                marked: self.marks.contains(&r.id),
                flag: None,
                style: r.owner_id.is_none().then(|| theme.warning()),
            })
            .collect();
        draw_list(buf, area, &COLUMNS, &rows, self.status(), theme);
    }

    fn set_height(&mut self, height: usize, cx: &mut Cx) {
        self.list.set_height(height);
        self.page(cx);
    }

    fn ensure_loaded(&mut self, _cx: &mut Cx) {}

    fn position(&self) -> Option<String> {
        self.list.position()
    }

    fn selected_id(&self) -> Option<String> {
        self.list.selected_row().map(|r| r.id.to_string())
    }

    fn busy(&self) -> bool {
        self.list.pending.is_some() || self.keys_request.is_some()
    }
}
