//! Messages: private messages between users, newest first; Enter shows one in full.

use crate::db::Id;
use crate::db::ops::OpKind;
use crate::tui::popup::Subject;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::chats::{allowed, refuse};
use super::{
    Cx, DeleteIntent, Effect, KeysRequest, Pane, Scope, Typed, answer_keys, cancel_keys, draw_list,
    find_or_say, list_status, mark, navigate, page_if_needed, reload, request_keys, targets, when,
};
use crate::db::lists::{PrivateMessageFilter, PrivateMessageRow, Seek, SortCursor};
use crate::db::{DataError, Permission};
use crate::sanitize::fit;
use crate::tui::keymap::Action;
use crate::tui::list::{ListView, Marks};
use crate::tui::table::{Column, TableRow};
use crate::tui::theme::Theme;
use crate::tui::worker::{Detail, PageData, Query, RowKey, Slot};

const COLUMNS: [Column; 5] = [
    Column::fixed("From", 14),
    Column::fixed("To", 14),
    Column::flex("Message"),
    Column::time("Sent", 16).from(70),
    Column::fixed("Read", 5).from(100),
];

#[derive(Default, Clone)]
pub struct MessagesPane {
    pub list: ListView<PrivateMessageRow, SortCursor>,
    pub marks: Marks,
    pub filter: PrivateMessageFilter,
    pub user_name: Option<String>,
    keys_request: Option<KeysRequest>,
    started: bool,
}

fn cells(r: &PrivateMessageRow) -> Vec<String> {
    vec![
        r.sender_name
            .clone()
            .unwrap_or_else(|| "deleted user".into()),
        r.recipient_name
            .clone()
            .unwrap_or_else(|| "deleted user".into()),
        r.excerpt.clone(),
        when(&r.created_at),
        if r.read_at.is_some() {
            "read".into()
        } else {
            "—".into()
        },
    ]
}

impl MessagesPane {
    /// `:goto` with a whole message id: that message alone, loaded from the database.
    fn goto_message(&mut self, arg: &str, cx: &mut Cx) -> Effect {
        match crate::tui::strings::parse_id(crate::db::Entity::Messages, arg) {
            Ok(id) => {
                self.filter = PrivateMessageFilter {
                    id: Some(id),
                    ..PrivateMessageFilter::default()
                };
                self.user_name = None;
                self.reload(cx);
                Effect::Status("Esc shows every message again".into())
            }
            Err(_) => Effect::Error(crate::tui::strings::goto_not_loaded(arg)),
        }
    }

    fn reload(&mut self, cx: &mut Cx) {
        self.started = true;
        let query = Query::PrivateMessages {
            filter: self.filter.clone(),
            seek: Seek::First,
        };
        reload(&mut self.list, Slot::Messages, cx, query);
    }

    fn page(&mut self, cx: &mut Cx) {
        let filter = self.filter.clone();
        page_if_needed(&mut self.list, Slot::Messages, cx, |seek| {
            Query::PrivateMessages { filter, seek }
        });
    }

    fn is_filtered(&self) -> bool {
        self.filter != PrivateMessageFilter::default()
    }
}

impl Pane for MessagesPane {
    fn on_action(&mut self, action: Action, cx: &mut Cx) -> Effect {
        if !self.started {
            self.reload(cx);
        }
        if navigate(&mut self.list, action)
            || mark(
                &mut self.list,
                &mut self.marks,
                action,
                |r| r.id.clone(),
                Scope::of(&self.filter),
            )
        {
            self.page(cx);
            return Effect::None;
        }
        match action {
            Action::Open => match self.list.selected_row() {
                Some(row) => Effect::Detail(Detail::PrivateMessage(row.id.clone())),
                None => Effect::None,
            },
            Action::Back => {
                if let Some(stopped) = cancel_keys(&mut self.keys_request) {
                    return stopped;
                }
                if !self.marks.is_empty() {
                    self.marks.clear();
                } else if self.is_filtered() {
                    self.filter = PrivateMessageFilter::default();
                    self.user_name = None;
                    self.reload(cx);
                }
                Effect::None
            }
            Action::Delete => {
                if let Some(refusal) = refuse(cx, Permission::DeleteMessages) {
                    return refusal;
                }
                let (ids, hidden) = targets(
                    &self.list,
                    &self.marks,
                    |r| r.id.clone(),
                    Scope::of(&self.filter),
                );
                if ids.is_empty() {
                    return Effect::Status(crate::tui::strings::NOTHING_SELECTED.into());
                }
                Effect::Intent(DeleteIntent::new(
                    Subject::of(OpKind::DeletePrivateMessages),
                    ids,
                    hidden,
                    Typed::IfLarge,
                ))
            }
            Action::MarkAll | Action::InvertMarks => {
                let (effect, waiting) = request_keys(
                    cx,
                    Query::PrivateMessages {
                        filter: self.filter.clone(),
                        seek: Seek::First,
                    },
                    action == Action::InvertMarks,
                    Scope::of(&self.filter),
                );
                self.keys_request = waiting;
                effect
            }
            Action::NextMatch | Action::PrevMatch => {
                let needle = self.filter.text.clone().unwrap_or_default();
                find_or_say(&mut self.list, &needle, action, |r| cells(r).join(" "))
            }
            Action::Refresh => {
                self.reload(cx);
                Effect::None
            }
            _ => Effect::None,
        }
    }

    fn on_page(&mut self, slot: Slot, seq: u64, result: Result<PageData, DataError>, cx: &mut Cx) {
        match (slot, result) {
            (Slot::Messages, Ok(PageData::PrivateMessages(page))) => {
                self.list.accept(seq, page.rows, page.next);
            }
            (Slot::Messages, Err(e)) => {
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
            ("message", "messages"),
        )
    }

    fn for_user(&mut self, id: Id, username: String, cx: &mut Cx) -> Effect {
        self.filter.user_id = Some(id);
        self.user_name = Some(username);
        self.reload(cx);
        Effect::None
    }

    fn set_filter(&mut self, text: &str, cx: &mut Cx) {
        self.filter.text = (!text.is_empty()).then(|| text.to_string());
        self.reload(cx);
    }

    fn filter_text(&self) -> String {
        self.filter.text.clone().unwrap_or_default()
    }

    fn command(&mut self, name: &str, arg: &str, cx: &mut Cx) -> Effect {
        match name {
            "goto" => match super::goto_prefix(&mut self.list, arg, |r| r.id.to_string()) {
                super::Goto::Jumped => {
                    self.page(cx);
                    Effect::None
                }
                super::Goto::Ambiguous(n) => {
                    Effect::Error(crate::tui::strings::goto_ambiguous(arg, n))
                }
                super::Goto::Exact | super::Goto::NotLoaded => self.goto_message(arg, cx),
            },
            _ => Effect::Error(format!(":{} does nothing here", fit(name, 20))),
        }
    }

    fn refresh(&mut self, cx: &mut Cx) {
        self.reload(cx);
    }

    fn after_operation(&mut self, done: &[Id], cx: &mut Cx) {
        for id in done {
            self.marks.ids.remove(id);
        }
        self.reload(cx);
    }

    fn marked(&self) -> usize {
        self.marks.len()
    }

    fn hints(&self, cx: &Cx) -> Vec<Action> {
        let mut hints = vec![Action::Open, Action::Mark, Action::Filter];
        if allowed(cx, Permission::DeleteMessages) {
            hints.push(Action::Delete);
        }
        hints.extend([
            Action::CommandLine,
            Action::MarkAll,
            Action::Help,
            Action::Quit,
        ]);
        hints
    }

    fn title(&self) -> String {
        let mut title = String::from("Private messages");
        if let Some(user) = &self.user_name {
            title.push_str(&format!(" · of {}", fit(user, 24)));
        }
        if let Some(text) = &self.filter.text {
            title.push_str(&format!(" · /{}", fit(text, 24)));
        }
        title
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
                style: None,
            })
            .collect();
        draw_list(
            buf,
            area,
            &COLUMNS,
            &rows,
            list_status(&self.list, self.is_filtered()),
            theme,
        );
    }

    fn select_visible(&mut self, row: usize, cx: &mut Cx) -> bool {
        let selected = self.list.select_visible(row);
        self.page(cx);
        selected
    }

    fn set_height(&mut self, height: usize, cx: &mut Cx) {
        self.list.set_height(height);
        if self.started {
            self.page(cx);
        }
    }

    fn ensure_loaded(&mut self, cx: &mut Cx) {
        if !self.started {
            self.reload(cx);
        }
    }

    fn on_count(&mut self, slot: Slot, seq: u64, total: Option<u64>) {
        if slot == Slot::Messages {
            self.list.accept_count(seq, total);
        }
    }

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
