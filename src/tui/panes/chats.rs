//! Chats: chat sessions (newest first) with their message counts; Enter opens a
//! session's messages, which can be deleted one by one or marked.

use crate::db::Id;
use crate::db::ops::OpKind;
use crate::tui::popup::Subject;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{
    Cx, DeleteIntent, Effect, Goto, KeysRequest, MARK_ALL_CAP, Pane, Scope, Typed, apply_keys,
    cancel_keys, draw_sorted_list, find, goto_prefix, list_status, mark, navigate, page_if_needed,
    reload, request_keys, resort, short_id, sort_mark, sort_title, targets, when,
};
use crate::db::lists::{
    ChatMessageRow, ChatSessionFilter, ChatSessionRow, Order, Seek, SessionSort, SortCursor,
};
use crate::db::{DataError, Permission};
use crate::sanitize::fit;
use crate::tui::keymap::Action;
use crate::tui::list::{ListView, Marks};
use crate::tui::strings::plural;
use crate::tui::table::{Column, TableRow};
use crate::tui::theme::Theme;
use crate::tui::worker::{Detail, PageData, Query, RowKey, Slot};

const SESSION_COLUMNS: [Column; 7] = [
    Column::flex("Title"),
    Column::fixed("Owner", 16),
    Column::fixed("Guild", 14).from(110),
    Column::fixed("Model", 11).from(96),
    Column::number("Msgs", 6),
    Column::time("Created", 16).from(70),
    Column::fixed("Id", 8).from(130),
];

const MESSAGE_COLUMNS: [Column; 5] = [
    Column::time("When", 16).from(70),
    Column::fixed("Author", 14),
    Column::fixed("Role", 9),
    Column::flex("Message"),
    Column::number("Chars", 7).from(100),
];

/// A session opened with Enter.
#[derive(Clone)]
pub struct SessionView {
    pub session: ChatSessionRow,
    pub list: ListView<ChatMessageRow, SortCursor>,
    pub marks: Marks,
    pub text: String,
    /// The session's row asked for again (its header counts its messages).
    session_seq: Option<u64>,
}

#[derive(Default, Clone)]
pub struct ChatsPane {
    pub list: ListView<ChatSessionRow, SortCursor>,
    pub marks: Marks,
    pub filter: ChatSessionFilter,
    pub order: Order<SessionSort>,
    /// The owner named by `:user`, for the title.
    pub owner_name: Option<String>,
    pub open: Option<SessionView>,
    /// An outstanding "mark all" (false) or "invert" (true).
    keys_request: Option<KeysRequest>,
    started: bool,
}

fn session_cells(r: &ChatSessionRow) -> Vec<String> {
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
        r.guild_name.clone().unwrap_or_default(),
        r.model.clone(),
        r.messages.to_string(),
        when(&r.created_at),
        short_id(&r.id),
    ]
}

fn message_cells(r: &ChatMessageRow) -> Vec<String> {
    vec![
        when(&r.created_at),
        r.author_name
            .clone()
            .unwrap_or_else(|| match r.role.as_str() {
                "user" => "deleted user".into(),
                _ => "—".into(),
            }),
        r.role.clone(),
        r.excerpt.clone(),
        r.length.to_string(),
    ]
}

impl ChatsPane {
    /// `:goto` with a whole session id: that session alone, loaded from the database.
    fn goto_session(&mut self, arg: &str, cx: &mut Cx) -> Effect {
        match crate::tui::strings::parse_id(crate::db::Entity::ChatSessions, arg) {
            Ok(id) => {
                self.open = None;
                self.filter = ChatSessionFilter {
                    id: Some(id),
                    ..ChatSessionFilter::default()
                };
                self.owner_name = None;
                self.reload_sessions(cx);
                Effect::Status("Esc shows every session again".into())
            }
            Err(_) => Effect::Error(crate::tui::strings::goto_not_loaded(arg)),
        }
    }

    fn session_query(&self, seek: Seek<SortCursor>) -> Query {
        Query::ChatSessions {
            filter: self.filter.clone(),
            order: self.order,
            seek,
        }
    }

    fn message_query(view: &SessionView, seek: Seek<SortCursor>) -> Query {
        Query::SessionMessages {
            session: view.session.id.clone(),
            text: (!view.text.is_empty()).then(|| view.text.clone()),
            seek,
        }
    }

    fn reload_sessions(&mut self, cx: &mut Cx) {
        self.started = true;
        let query = self.session_query(Seek::First);
        reload(&mut self.list, Slot::Chats, cx, query);
    }

    fn reload_messages(&mut self, cx: &mut Cx) {
        if let Some(view) = &mut self.open {
            let query = Self::message_query(view, Seek::First);
            reload(&mut view.list, Slot::SessionMessages, cx, query);
        }
    }

    /// Asks for the open session's row again, so its header counts what is there now.
    fn reload_open_session(&mut self, cx: &mut Cx) {
        if let Some(view) = &mut self.open {
            let filter = ChatSessionFilter {
                id: Some(view.session.id.clone()),
                ..ChatSessionFilter::default()
            };
            let query = Query::ChatSessions {
                filter,
                order: Order::default(),
                seek: Seek::First,
            };
            view.session_seq = Some(cx.load(Slot::OpenSession, query));
        }
    }

    fn page(&mut self, cx: &mut Cx) {
        match &mut self.open {
            Some(view) => {
                let session = view.session.id.clone();
                let text = (!view.text.is_empty()).then(|| view.text.clone());
                page_if_needed(&mut view.list, Slot::SessionMessages, cx, |seek| {
                    Query::SessionMessages {
                        session,
                        text,
                        seek,
                    }
                });
            }
            None => {
                let (filter, order) = (self.filter.clone(), self.order);
                page_if_needed(&mut self.list, Slot::Chats, cx, |seek| {
                    Query::ChatSessions {
                        filter,
                        order,
                        seek,
                    }
                });
            }
        }
    }

    fn is_filtered(&self) -> bool {
        self.filter != ChatSessionFilter::default()
    }

    /// The filter of the list on screen: the sessions, or an open session's messages.
    fn scope(&self) -> Scope {
        match &self.open {
            Some(view) => Scope::of(&view.text),
            None => Scope::of(&self.filter),
        }
    }

    fn clear_filter(&mut self, cx: &mut Cx) {
        self.filter = ChatSessionFilter::default();
        self.owner_name = None;
        self.reload_sessions(cx);
    }

    fn delete_intent(&self, cx: &Cx) -> Effect {
        let (kind, permission) = match &self.open {
            Some(_) => (OpKind::DeleteChatMessages, Permission::DeleteMessages),
            None => (OpKind::DeleteChatSessions, Permission::DeleteChatSessions),
        };
        if let Some(refusal) = refuse(cx, permission) {
            return refusal;
        }
        let (ids, hidden) = match &self.open {
            Some(view) => targets(&view.list, &view.marks, |r| r.id.clone(), self.scope()),
            None => targets(&self.list, &self.marks, |r| r.id.clone(), self.scope()),
        };
        if ids.is_empty() {
            return Effect::Status(crate::tui::strings::NOTHING_SELECTED.into());
        }
        Effect::Intent(DeleteIntent::new(
            Subject::of(kind),
            ids,
            hidden,
            Typed::IfLarge,
        ))
    }
}

/// The UI hides what the operator may not do; this says so if they try anyway.
pub fn refuse(cx: &Cx, permission: Permission) -> Option<Effect> {
    if cx.read_only {
        return Some(Effect::Error(crate::tui::strings::READ_ONLY_REFUSAL.into()));
    }
    match cx.actor {
        Some(actor) if actor.may(permission) => None,
        Some(actor) => Some(Effect::Error(crate::tui::strings::not_allowed(
            permission.describe(),
            actor.role,
        ))),
        None => Some(Effect::Error("not signed in".into())),
    }
}

/// May the operator do this here? (For hints.)
pub fn allowed(cx: &Cx, permission: Permission) -> bool {
    !cx.read_only && cx.actor.is_some_and(|a| a.may(permission))
}

impl Pane for ChatsPane {
    fn on_action(&mut self, action: Action, cx: &mut Cx) -> Effect {
        if !self.started {
            self.started = true;
            self.reload_sessions(cx);
        }
        let scope = self.scope();
        if let Some(view) = &mut self.open {
            if navigate(&mut view.list, action)
                || mark(
                    &mut view.list,
                    &mut view.marks,
                    action,
                    |r| r.id.clone(),
                    scope,
                )
            {
                self.page(cx);
                return Effect::None;
            }
        } else if navigate(&mut self.list, action)
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
        if self.open.is_none() && resort(&mut self.order, action) {
            self.reload_sessions(cx);
            return Effect::None;
        }
        match action {
            Action::Open => {
                if let Some(view) = &self.open {
                    return match view.list.selected_row() {
                        Some(row) => Effect::Detail(Detail::ChatMessage(row.id.clone())),
                        None => Effect::None,
                    };
                }
                if let Some(row) = self.list.selected_row().cloned() {
                    let mut view = SessionView {
                        session: row,
                        list: ListView::default(),
                        marks: Marks::default(),
                        text: String::new(),
                        session_seq: None,
                    };
                    view.list.height = self.list.height;
                    self.open = Some(view);
                    self.reload_messages(cx);
                }
                Effect::None
            }
            Action::Back => {
                if let Some(stopped) = cancel_keys(&mut self.keys_request) {
                    return stopped;
                }
                if let Some(view) = &mut self.open {
                    if !view.marks.is_empty() {
                        view.marks.clear();
                    } else if !view.text.is_empty() {
                        view.text.clear();
                        self.reload_messages(cx);
                    } else {
                        self.open = None;
                        // Counts may have changed while the session was open.
                        self.reload_sessions(cx);
                    }
                } else if !self.marks.is_empty() {
                    self.marks.clear();
                } else if self.is_filtered() {
                    self.clear_filter(cx);
                }
                Effect::None
            }
            Action::Delete => self.delete_intent(cx),
            Action::Repair => {
                if self.open.is_some() {
                    return Effect::Status("repair works on the session list".into());
                }
                if let Some(refusal) = refuse(cx, Permission::RepairOrphanSessions) {
                    return refusal;
                }
                let (ids, hidden) =
                    targets(&self.list, &self.marks, |r| r.id.clone(), self.scope());
                if ids.is_empty() {
                    return Effect::Status(crate::tui::strings::NOTHING_SELECTED.into());
                }
                Effect::Intent(DeleteIntent::new(
                    Subject::of(OpKind::RepairOrphanSessions),
                    ids,
                    hidden,
                    Typed::IfLarge,
                ))
            }
            Action::MarkAll | Action::InvertMarks => {
                let invert = action == Action::InvertMarks;
                let query = match &self.open {
                    Some(view) => Self::message_query(view, Seek::First),
                    None => self.session_query(Seek::First),
                };
                let (effect, waiting) = request_keys(cx, query, invert, self.scope());
                self.keys_request = waiting;
                effect
            }
            Action::NextMatch | Action::PrevMatch => {
                let forward = action == Action::NextMatch;
                let found = match &mut self.open {
                    Some(view) => {
                        let needle = view.text.clone();
                        find(&mut view.list, &needle, forward, |r| r.excerpt.clone())
                    }
                    None => {
                        let needle = self.filter.text.clone().unwrap_or_default();
                        find(&mut self.list, &needle, forward, |r| {
                            session_cells(r).join(" ")
                        })
                    }
                };
                if found {
                    Effect::None
                } else {
                    Effect::Status("no match".into())
                }
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
            (Slot::Chats, Ok(PageData::ChatSessions(page))) => {
                self.list.accept(seq, page.rows, page.next);
            }
            (Slot::OpenSession, Ok(PageData::ChatSessions(page))) => {
                if let Some(view) = &mut self.open
                    && view.session_seq == Some(seq)
                {
                    view.session_seq = None;
                    if let Some(row) = page.rows.into_iter().find(|r| r.id == view.session.id) {
                        view.session = row;
                    }
                }
            }
            (Slot::OpenSession, Err(_)) => {
                // The header keeps its last count; the message list shows the error.
                if let Some(view) = &mut self.open
                    && view.session_seq == Some(seq)
                {
                    view.session_seq = None;
                }
            }
            (Slot::SessionMessages, Ok(PageData::SessionMessages(page))) => {
                if let Some(view) = &mut self.open {
                    view.list.accept(seq, page.rows, page.next);
                }
            }
            (Slot::Chats, Err(e)) => {
                self.list.fail(seq, e.to_string());
            }
            (Slot::SessionMessages, Err(e)) => {
                if let Some(view) = &mut self.open {
                    view.list.fail(seq, e.to_string());
                }
            }
            _ => {}
        }
        self.page(cx);
    }

    fn on_keys(&mut self, seq: u64, keys: Vec<RowKey>) -> Effect {
        let Some(KeysRequest { invert, under, .. }) =
            KeysRequest::answered_by(&mut self.keys_request, seq)
        else {
            return Effect::None;
        };
        let marks = match &mut self.open {
            Some(view) => &mut view.marks,
            None => &mut self.marks,
        };
        let n = apply_keys(marks, &keys, invert, under);
        let capped = if n >= MARK_ALL_CAP {
            " (the most one action takes)"
        } else {
            ""
        };
        let matching = plural(n as i64, "matching row", "matching rows");
        Effect::Status(if invert {
            format!("inverted the marks of {matching}{capped}")
        } else {
            format!("marked {matching}{capped}")
        })
    }

    fn for_user(&mut self, id: Id, username: String, cx: &mut Cx) -> Effect {
        self.open = None;
        // One scope at a time: this user's sessions replace orphans or one session.
        self.filter.orphans_only = false;
        self.filter.id = None;
        self.filter.owner_id = Some(id);
        self.owner_name = Some(username);
        self.reload_sessions(cx);
        Effect::None
    }

    fn depth(&self) -> usize {
        usize::from(self.open.is_some())
    }

    fn set_filter(&mut self, text: &str, cx: &mut Cx) {
        match &mut self.open {
            Some(view) => {
                view.text = text.to_string();
                self.reload_messages(cx);
            }
            None => {
                self.filter.text = (!text.is_empty()).then(|| text.to_string());
                self.reload_sessions(cx);
            }
        }
    }

    fn filter_text(&self) -> String {
        match &self.open {
            Some(view) => view.text.clone(),
            None => self.filter.text.clone().unwrap_or_default(),
        }
    }

    fn command(&mut self, name: &str, arg: &str, cx: &mut Cx) -> Effect {
        match name {
            "orphans" => {
                self.open = None;
                self.filter.orphans_only = !self.filter.orphans_only;
                if self.filter.orphans_only {
                    // Orphans have no owner: they replace a user's sessions or one session.
                    self.filter.owner_id = None;
                    self.owner_name = None;
                    self.filter.id = None;
                }
                self.reload_sessions(cx);
                Effect::Status(if self.filter.orphans_only {
                    "showing orphaned sessions only (no owner); r repairs, d deletes".into()
                } else {
                    "showing all sessions".into()
                })
            }
            "goto" => {
                let found = match &mut self.open {
                    Some(view) => goto_prefix(&mut view.list, arg, |r| r.id.to_string()),
                    None => goto_prefix(&mut self.list, arg, |r| r.id.to_string()),
                };
                match found {
                    Goto::Jumped => {
                        self.page(cx);
                        Effect::None
                    }
                    Goto::Exact if self.open.is_some() => Effect::None,
                    Goto::Ambiguous(n) => {
                        Effect::Error(crate::tui::strings::goto_ambiguous(arg, n))
                    }
                    Goto::Exact | Goto::NotLoaded => self.goto_session(arg, cx),
                }
            }
            _ => Effect::Error(format!(":{} does nothing here", fit(name, 20))),
        }
    }

    fn refresh(&mut self, cx: &mut Cx) {
        self.started = true;
        if self.open.is_some() {
            self.reload_open_session(cx);
            self.reload_messages(cx);
        } else {
            self.reload_sessions(cx);
        }
    }

    fn after_operation(&mut self, done: &[Id], cx: &mut Cx) {
        for id in done {
            self.marks.ids.remove(id);
            if let Some(view) = &mut self.open {
                view.marks.ids.remove(id);
            }
        }
        if let Some(view) = &self.open
            && done.contains(&view.session.id)
        {
            self.open = None;
        }
        self.refresh(cx);
    }

    fn marked(&self) -> usize {
        match &self.open {
            Some(view) => view.marks.len(),
            None => self.marks.len(),
        }
    }

    fn hints(&self, cx: &Cx) -> Vec<Action> {
        let mut hints = vec![Action::Open, Action::Mark, Action::Filter];
        if self.open.is_some() {
            if allowed(cx, Permission::DeleteMessages) {
                hints.push(Action::Delete);
            }
            hints.push(Action::Back);
        } else {
            if allowed(cx, Permission::DeleteChatSessions) {
                hints.push(Action::Delete);
            }
            if allowed(cx, Permission::RepairOrphanSessions) && self.filter.orphans_only {
                hints.push(Action::Repair);
            }
            hints.push(Action::CommandLine);
        }
        hints.extend([Action::MarkAll, Action::Help, Action::Quit]);
        hints
    }

    fn title(&self) -> String {
        let mut title = String::from("Chat sessions");
        if self.filter.orphans_only {
            title.push_str(" · orphaned only");
        }
        if let Some(owner) = &self.owner_name {
            title.push_str(&format!(" · owner {}", fit(owner, 24)));
        }
        if self.filter.id.is_some() {
            title.push_str(" · one session");
        }
        if let Some(text) = &self.filter.text {
            title.push_str(&format!(" · /{}", fit(text, 24)));
        }
        if self.open.is_none() {
            title.push_str(&sort_title(&self.order));
        }
        if let Some(view) = &self.open {
            title = format!(
                "{} › {} ({})",
                title,
                fit(
                    if view.session.title.is_empty() {
                        "(untitled)"
                    } else {
                        &view.session.title
                    },
                    40
                ),
                plural(view.session.messages, "message", "messages")
            );
            if !view.text.is_empty() {
                title.push_str(&format!(" · /{}", fit(&view.text, 24)));
            }
        }
        title
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let sort = match &self.open {
            Some(_) => None,
            None => sort_mark(&self.order),
        };
        let (rows, columns, status): (Vec<TableRow>, &[Column], Option<String>) = match &self.open {
            Some(view) => (
                view.list
                    .visible()
                    .map(|(i, r)| TableRow {
                        cells: message_cells(r),
                        cursor: i == view.list.selected,
                        marked: view.marks.contains(&r.id),
                        flag: None,
                        style: None,
                    })
                    .collect(),
                &MESSAGE_COLUMNS,
                list_status(&view.list, !view.text.is_empty()),
            ),
            None => (
                self.list
                    .visible()
                    .map(|(i, r)| TableRow {
                        cells: session_cells(r),
                        cursor: i == self.list.selected,
                        marked: self.marks.contains(&r.id),
                        flag: None,
                        style: r.is_orphaned().then(|| theme.warning()),
                    })
                    .collect(),
                &SESSION_COLUMNS,
                list_status(&self.list, self.is_filtered()),
            ),
        };
        draw_sorted_list(buf, area, columns, &rows, status, sort, theme);
    }

    fn select_visible(&mut self, row: usize, cx: &mut Cx) -> bool {
        let selected = match &mut self.open {
            Some(view) => view.list.select_visible(row),
            None => self.list.select_visible(row),
        };
        self.page(cx);
        selected
    }

    fn set_height(&mut self, height: usize, cx: &mut Cx) {
        self.list.set_height(height);
        if let Some(view) = &mut self.open {
            view.list.set_height(height);
        }
        if self.started {
            self.page(cx);
        }
    }

    fn ensure_loaded(&mut self, cx: &mut Cx) {
        if !self.started {
            self.started = true;
            self.reload_sessions(cx);
        }
    }

    fn on_count(&mut self, slot: Slot, seq: u64, total: Option<u64>) {
        match slot {
            Slot::Chats => self.list.accept_count(seq, total),
            Slot::SessionMessages => {
                if let Some(view) = &mut self.open {
                    view.list.accept_count(seq, total);
                }
            }
            _ => {}
        }
    }

    fn position(&self) -> Option<String> {
        match &self.open {
            Some(view) => view.list.position(),
            None => self.list.position(),
        }
    }

    fn selected_id(&self) -> Option<String> {
        match &self.open {
            Some(view) => view.list.selected_row().map(|r| r.id.to_string()),
            None => self.list.selected_row().map(|r| r.id.to_string()),
        }
    }

    fn busy(&self) -> bool {
        self.list.pending.is_some()
            || self.keys_request.is_some()
            || self
                .open
                .as_ref()
                .is_some_and(|v| v.list.pending.is_some() || v.session_seq.is_some())
    }
}
