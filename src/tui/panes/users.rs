//! Users: every account with its role, flags and what it owns and wrote. Admins delete
//! in bulk (content policy chosen in the popup, the number typed to confirm, a per-user
//! report); moderators see the pane read-only.

use std::collections::HashMap;

use crate::db::Id;
use crate::db::ops::OpKind;
use crate::lookalike::{self, Lookalike};
use crate::tui::popup::Subject;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::chats::{allowed, refuse};
use super::{
    Cx, DeleteIntent, Effect, KeysRequest, Pane, Scope, Typed, answer_keys, cancel_keys,
    draw_sorted_list, find_or_say, list_status, mark, navigate, page_if_needed, reload,
    request_keys, resort, sort_mark, sort_title, targets, when,
};
use crate::db::lists::{Order, Seek, SortCursor, UserFilter, UserRow, UserSort};
use crate::db::{DataError, Permission, Role};
use crate::sanitize::{clean_line, fit, name};
use crate::tui::keymap::Action;
use crate::tui::list::{ListView, Marks};
use crate::tui::popup::{Popup, TextView};
use crate::tui::table::{Column, TableRow};
use crate::tui::theme::Theme;
use crate::tui::worker::{PageData, Query, RowKey, Slot};

const COLUMNS: [Column; 9] = [
    Column::flex("Username"),
    Column::fixed("Role", 9),
    Column::fixed("Flags", 17),
    Column::number("Guilds", 6).from(96),
    Column::number("Cmts", 5),
    Column::number("Revs", 5).from(90),
    Column::number("Msgs", 5),
    Column::number("Chats", 5).from(100),
    Column::time("Created", 16).from(110),
];

#[derive(Default, Clone)]
pub struct UsersPane {
    pub list: ListView<UserRow, SortCursor>,
    pub marks: Marks,
    pub filter: UserFilter,
    pub order: Order<UserSort>,
    keys_request: Option<KeysRequest>,
    started: bool,
    /// Look-alikes among the users loaded, by id.
    lookalikes: HashMap<Id, Lookalike>,
}

pub fn flags(u: &UserRow) -> String {
    let mut flags = Vec::new();
    if u.is_protected {
        flags.push("protected");
    }
    if u.is_service {
        flags.push("service");
    }
    if !u.is_active {
        flags.push("inactive");
    }
    if u.locked_until.is_some_and(|t| t > chrono::Utc::now()) {
        flags.push("locked");
    }
    flags.join(",")
}

fn cells(u: &UserRow) -> Vec<String> {
    vec![
        name(&u.username),
        u.role.clone(),
        flags(u),
        u.owned_guilds.to_string(),
        u.comments.to_string(),
        u.reviews.to_string(),
        u.messages.to_string(),
        u.chat_sessions.to_string(),
        when(&u.created_at),
    ]
}

fn detail(u: &UserRow, flag: Option<&Lookalike>) -> Popup {
    let line = |k: &str, v: String| (format!("{k:<14} {}", clean_line(&v)), Style::default());
    let mut lines = vec![line("username", name(&u.username))];
    if let Some(flag) = flag {
        lines.push((
            format!("{:<14} {}", "", flag.marker()),
            Theme { color: false }.lookalike(),
        ));
    }
    Popup::Text(
        TextView::new(
            format!("User {}", fit(&name(&u.username), 40)),
            lines
                .into_iter()
                .chain([
                    line("id", u.id.to_string()),
                    line("email", u.email.clone()),
                    line("role", u.role.clone()),
                    line(
                        "flags",
                        if flags(u).is_empty() {
                            "—".into()
                        } else {
                            flags(u)
                        },
                    ),
                    line("owns guilds", u.owned_guilds.to_string()),
                    line("comments", u.comments.to_string()),
                    line("reviews", u.reviews.to_string()),
                    line("messages sent", u.messages.to_string()),
                    line("chat sessions", u.chat_sessions.to_string()),
                    line("created", crate::tui::clock::full(&u.created_at)),
                ])
                .collect(),
        )
        .drillable(u.id.clone(), u.username.clone()),
    )
}

impl UsersPane {
    fn reload(&mut self, cx: &mut Cx) {
        self.started = true;
        let query = Query::Users {
            filter: self.filter.clone(),
            order: self.order,
            seek: Seek::First,
        };
        reload(&mut self.list, Slot::Users, cx, query);
    }

    fn page(&mut self, cx: &mut Cx) {
        let (filter, order) = (self.filter.clone(), self.order);
        page_if_needed(&mut self.list, Slot::Users, cx, |seek| Query::Users {
            filter,
            order,
            seek,
        });
    }
}

impl Pane for UsersPane {
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
        if resort(&mut self.order, action) {
            self.reload(cx);
            return Effect::None;
        }
        match action {
            Action::Open => match self.list.selected_row() {
                Some(u) => Effect::Popup(Box::new(detail(u, self.lookalikes.get(&u.id)))),
                None => Effect::None,
            },
            Action::Back => {
                if let Some(stopped) = cancel_keys(&mut self.keys_request) {
                    return stopped;
                }
                if !self.marks.is_empty() {
                    self.marks.clear();
                } else if self.filter != UserFilter::default() {
                    self.filter = UserFilter::default();
                    self.reload(cx);
                }
                Effect::None
            }
            Action::Delete => {
                if let Some(refusal) = refuse(cx, Permission::DeleteUsers) {
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
                Effect::Intent(
                    DeleteIntent::new(Subject::of(OpKind::DeleteUsers), ids, hidden, Typed::Count)
                        .with_lookalikes(&self.lookalikes),
                )
            }
            Action::MarkAll | Action::InvertMarks => {
                let query = Query::Users {
                    filter: self.filter.clone(),
                    order: self.order,
                    seek: Seek::First,
                };
                let (effect, waiting) = request_keys(
                    cx,
                    query,
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
            (Slot::Users, Ok(PageData::Users(page))) => {
                let accepted = self.list.accept(seq, page.rows, page.next);
                if accepted {
                    self.lookalikes = lookalike::among(
                        self.list
                            .rows
                            .iter()
                            .map(|r| (r.id.clone(), r.username.as_str())),
                    );
                }
            }
            (Slot::Users, Err(e)) => {
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
            ("user", "users"),
        )
    }

    fn set_filter(&mut self, text: &str, cx: &mut Cx) {
        self.filter.text = (!text.is_empty()).then(|| text.to_string());
        self.reload(cx);
    }

    fn filter_text(&self) -> String {
        self.filter.text.clone().unwrap_or_default()
    }

    fn command(&mut self, name: &str, arg: &str, cx: &mut Cx) -> Effect {
        if name == "goto" {
            let effect = super::goto_loaded(&mut self.list, arg, |r| r.id.to_string());
            self.page(cx);
            return effect;
        }
        let role = match name {
            "admins" => Some(Role::Admin),
            "moderators" => Some(Role::Moderator),
            "users" => Some(Role::User),
            "all" => None,
            _ => {
                return Effect::Error(format!(
                    ":{} does nothing here (try :admins, :moderators, :users, :all)",
                    fit(name, 20)
                ));
            }
        };
        self.filter.role = role;
        self.reload(cx);
        Effect::None
    }

    fn refresh(&mut self, cx: &mut Cx) {
        self.reload(cx);
    }

    fn after_operation(&mut self, done: &[Id], cx: &mut Cx) {
        for id in done {
            self.marks.ids.remove(id);
        }
        if self.started {
            self.reload(cx);
        }
    }

    fn marked(&self) -> usize {
        self.marks.len()
    }

    fn hints(&self, cx: &Cx) -> Vec<Action> {
        let mut hints = vec![Action::Open, Action::Mark, Action::Filter];
        if allowed(cx, Permission::DeleteUsers) {
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
        let mut title = String::from("Users");
        if let Some(role) = self.filter.role {
            title.push_str(&format!(" · {role}s only"));
        }
        if let Some(text) = &self.filter.text {
            title.push_str(&format!(" · /{}", fit(text, 24)));
        }
        title.push_str(&sort_title(&self.order));
        title
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let rows: Vec<TableRow> = self
            .list
            .visible()
            .map(|(i, u)| TableRow {
                cells: cells(u),
                cursor: i == self.list.selected,
                marked: self.marks.contains(&u.id),
                flag: self.lookalikes.get(&u.id).cloned(),
                style: (u.role == "admin")
                    .then(|| theme.header())
                    .or_else(|| (!u.is_active).then(|| theme.dim())),
            })
            .collect();
        draw_sorted_list(
            buf,
            area,
            &COLUMNS,
            &rows,
            list_status(&self.list, self.filter != UserFilter::default()),
            sort_mark(&self.order),
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
        if slot == Slot::Users {
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
