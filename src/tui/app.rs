//! The console's state and its one `update`: an event in, requests for the worker out.
//! Nothing here waits on the database.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::db::Id;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;
use ratatui::style::Style;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::event::Event;
use super::keymap::{Action, Context, Keymap};
use super::panes::audit::AuditPane;
use super::panes::chats::ChatsPane;
use super::panes::content::ContentPane;
use super::panes::guilds::GuildsPane;
use super::panes::messages::MessagesPane;
use super::panes::search::SearchPane;
use super::panes::users::UsersPane;
use super::panes::{Cx, DeleteIntent, Drill, Effect, Pane};
use super::popup::{
    Confirm, Conflict, Editor, Popup, PopupEffect, Progress, Report, RestoreConfirm, TextView,
    error_popup,
};
use super::theme::Theme;
use super::worker::{DetailData, Request, Response, Slot};
use crate::config::ConfirmConfig;
use crate::db::{Actor, Backend, DataError, Permission};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Chats,
    Messages,
    Comments,
    Guilds,
    Users,
    Audit,
    /// Content search (`:search TEXT`): reached by command, not numbered in the tab bar.
    Search,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Chats,
        Tab::Messages,
        Tab::Comments,
        Tab::Guilds,
        Tab::Users,
        Tab::Audit,
    ];

    /// Every pane, the search included.
    pub const PANES: [Tab; 7] = [
        Tab::Chats,
        Tab::Messages,
        Tab::Comments,
        Tab::Guilds,
        Tab::Users,
        Tab::Audit,
        Tab::Search,
    ];

    /// The tab whose pane shows a slot's answers.
    pub fn of(slot: Slot) -> Tab {
        match slot {
            Slot::Chats | Slot::OpenSession | Slot::SessionMessages => Tab::Chats,
            Slot::Messages => Tab::Messages,
            Slot::Content => Tab::Comments,
            Slot::Guilds | Slot::GuildMembers => Tab::Guilds,
            Slot::Users => Tab::Users,
            Slot::Audit | Slot::AuditChain => Tab::Audit,
            Slot::Search => Tab::Search,
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

pub struct Options {
    pub read_only: bool,
    /// Demo operators to show on the sign-in screen.
    pub demo_operators: Vec<(String, String, String)>,
    pub confirm: ConfirmConfig,
    pub keymap: Keymap,
    pub keymap_problems: Vec<String>,
    pub theme: Theme,
}

pub enum Connection {
    Connecting,
    Connected { backend: Backend, url: String },
    Failed(String),
}

#[derive(Default)]
pub struct SignIn {
    pub username: Input,
    pub password: Input,
    /// The operator has MFA and the password was right: the form asks for a code.
    pub needs_code: bool,
    pub code: Input,
    /// 0: username, 1: password (2: the code, its own step).
    pub focus: usize,
    pub message: Option<String>,
    pub busy: bool,
    /// Enter came before the database answered: sign in as soon as it does.
    pub queued: bool,
}

impl SignIn {
    fn request(&self) -> Request {
        Request::SignIn {
            username: self.username.value().trim().to_string(),
            password: self.password.value().to_string(),
            code: self
                .needs_code
                .then(|| self.code.value().trim().to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Filter,
    Command,
}

pub struct Prompt {
    pub kind: PromptKind,
    pub input: Input,
    /// Where ↑/↓ are in the history.
    recall: super::history::Recall,
    /// The filter when the prompt opened (Esc puts it back).
    original: String,
    /// The filter the list shows now (applied as it was typed).
    applied: String,
    /// Ticks since the last keystroke, while a typed filter waits to be applied.
    quiet: Option<u8>,
}

impl Prompt {
    fn new(kind: PromptKind, text: String) -> Prompt {
        Prompt {
            kind,
            input: Input::new(text.clone()),
            recall: Default::default(),
            original: text.clone(),
            applied: text,
            quiet: None,
        }
    }

    fn history_kind(&self) -> super::history::Kind {
        match self.kind {
            PromptKind::Filter => super::history::Kind::Filter,
            PromptKind::Command => super::history::Kind::Command,
        }
    }
}

/// Ticks (120 ms each) of quiet after a keystroke before the filter applies: the list
/// follows the typing without a query per key.
const FILTER_DEBOUNCE_TICKS: u8 = 2;

/// A destructive request in flight: planning, confirming or executing.
struct Operation {
    seq: u64,
    intent: DeleteIntent,
    tab: Tab,
    stop: Option<Arc<AtomicBool>>,
    /// Waiting on the worker (planning or executing), not on the operator.
    waiting: bool,
    /// What the confirmation called targets where that differs from the data layer's
    /// label, for the outcome to call them the same.
    labels: HashMap<Id, String>,
}

/// A trash restore in flight: its plan asked for, on screen, or the restore running.
struct RestoreOp {
    seq: u64,
    batch_id: uuid::Uuid,
    /// The delete it undoes, for the confirmation.
    about: String,
    /// Waiting on the worker, not on the operator.
    waiting: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

pub struct App {
    pub options: Options,
    pub connection: Connection,
    pub actor: Option<Actor>,
    pub sign_in: SignIn,
    pub tab: Tab,
    pub chats: ChatsPane,
    pub messages: MessagesPane,
    pub content: ContentPane,
    pub guilds: GuildsPane,
    pub users: UsersPane,
    pub audit: AuditPane,
    pub search: SearchPane,
    pub popup: Option<Popup>,
    pub prompt: Option<Prompt>,
    pub status: Option<(String, Level)>,
    pub last_outcome: Option<String>,
    pub spinner: usize,
    pub size: (u16, u16),
    pub quit: bool,
    pub dirty: bool,
    /// Text for the operator's clipboard, written to the terminal after this update.
    clipboard: Option<String>,
    seq: u64,
    operation: Option<Operation>,
    restore: Option<RestoreOp>,
    /// A `:user` lookup, and the tab it was asked from.
    user_seq: Option<(u64, Tab)>,
    /// The load of an item to edit, and the save of an edit.
    edit_seq: Option<u64>,
    /// The row asked for in full; an answer to anything else is not shown.
    detail_seq: Option<u64>,
    /// Views left by a drill-down or a command, newest last (`Ctrl-o` goes back).
    jumps: Vec<Jump>,
    /// What was typed at `/` and `:` before.
    pub history: super::history::History,
}

/// A view to come back to: the tab, and the panes a jump changed, as they were.
struct Jump {
    tab: Tab,
    panes: Vec<SavedPane>,
}

/// A pane's whole state: its filter, sort, rows, cursor and marks.
enum SavedPane {
    Chats(Box<ChatsPane>),
    Messages(Box<MessagesPane>),
    Content(Box<ContentPane>),
    Guilds(Box<GuildsPane>),
    Users(Box<UsersPane>),
    Audit(Box<AuditPane>),
}

/// Rows one notch of the wheel moves.
const WHEEL_ROWS: usize = 3;

/// How many views `Ctrl-o` can go back through.
const MAX_JUMPS: usize = 50;

/// Rows above and below the list: tabs, title, table header, status bar, hint line.
pub const CHROME_ROWS: u16 = 5;

impl App {
    pub fn new(options: Options, size: (u16, u16)) -> App {
        let status = if options.keymap_problems.is_empty() {
            None
        } else {
            Some((options.keymap_problems.join("; "), Level::Error))
        };
        App {
            options,
            connection: Connection::Connecting,
            actor: None,
            sign_in: SignIn::default(),
            tab: Tab::Chats,
            chats: ChatsPane::default(),
            messages: MessagesPane::default(),
            content: ContentPane::default(),
            guilds: GuildsPane::default(),
            users: UsersPane::default(),
            audit: AuditPane::default(),
            search: SearchPane::default(),
            popup: None,
            prompt: None,
            status,
            last_outcome: None,
            spinner: 0,
            size,
            quit: false,
            dirty: true,
            clipboard: None,
            seq: 0,
            operation: None,
            restore: None,
            user_seq: None,
            edit_seq: None,
            detail_seq: None,
            jumps: Vec::new(),
            history: Default::default(),
        }
    }

    /// A copy of `tab`'s pane to come back to. The search view is not copied: it keeps
    /// its own results until the next search, and `Ctrl-o` returns to it as it is.
    fn save(&self, tab: Tab) -> Option<SavedPane> {
        Some(match tab {
            Tab::Chats => SavedPane::Chats(Box::new(self.chats.clone())),
            Tab::Messages => SavedPane::Messages(Box::new(self.messages.clone())),
            Tab::Comments => SavedPane::Content(Box::new(self.content.clone())),
            Tab::Guilds => SavedPane::Guilds(Box::new(self.guilds.clone())),
            Tab::Users => SavedPane::Users(Box::new(self.users.clone())),
            Tab::Audit => SavedPane::Audit(Box::new(self.audit.clone())),
            Tab::Search => return None,
        })
    }

    /// Remembers the view on screen (and the pane of `also`, which is about to change)
    /// for `Ctrl-o`.
    fn remember(&mut self, also: Option<Tab>) {
        let mut panes: Vec<SavedPane> = self.save(self.tab).into_iter().collect();
        if let Some(other) = also.filter(|t| *t != self.tab) {
            panes.extend(self.save(other));
        }
        self.jumps.push(Jump {
            tab: self.tab,
            panes,
        });
        if self.jumps.len() > MAX_JUMPS {
            self.jumps.remove(0);
        }
    }

    /// `Ctrl-o`: the view before the last drill-down or command, as it was left.
    fn jump_back(&mut self) -> Vec<Request> {
        self.forget_details();
        let Some(jump) = self.jumps.pop() else {
            self.status = Some((super::strings::NO_EARLIER_VIEW.into(), Level::Info));
            return Vec::new();
        };
        for pane in jump.panes {
            match pane {
                SavedPane::Chats(p) => self.chats = *p,
                SavedPane::Messages(p) => self.messages = *p,
                SavedPane::Content(p) => self.content = *p,
                SavedPane::Guilds(p) => self.guilds = *p,
                SavedPane::Users(p) => self.users = *p,
                SavedPane::Audit(p) => self.audit = *p,
            }
        }
        self.switch(jump.tab)
    }

    /// One user's rows on a tab, remembering the view it was asked from.
    fn drill(&mut self, drill: Drill) -> Vec<Request> {
        self.remember(Some(drill.tab));
        let mut requests = self.switch(drill.tab);
        let (effect, mut out) = self.with_pane(drill.tab, |pane, cx| {
            pane.for_user(drill.user_id, drill.username, cx)
        });
        requests.append(&mut out);
        requests.append(&mut self.apply(effect));
        requests
    }

    pub fn theme(&self) -> Theme {
        self.options.theme
    }

    pub fn signed_in(&self) -> bool {
        self.actor.is_some()
    }

    /// What `y` asked to copy, once.
    pub fn take_clipboard(&mut self) -> Option<String> {
        self.clipboard.take()
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Is anything out at the worker (for the spinner)?
    pub fn busy(&self) -> bool {
        matches!(self.connection, Connection::Connecting)
            || self.sign_in.busy
            || self.operation.as_ref().is_some_and(|op| op.waiting)
            || self.restore.as_ref().is_some_and(|op| op.waiting)
            || self.edit_seq.is_some()
            || self.detail_seq.is_some()
            || self.chats.busy()
            || self.messages.busy()
            || self.content.busy()
            || self.guilds.busy()
            || self.users.busy()
            || self.audit.busy()
            || self.search.busy()
    }

    fn list_height(&self) -> usize {
        self.size.1.saturating_sub(CHROME_ROWS).max(1) as usize
    }

    /// Runs `f` on the pane of `tab` with a context; returns its result and requests.
    fn with_pane<T>(
        &mut self,
        tab: Tab,
        f: impl FnOnce(&mut dyn Pane, &mut Cx) -> T,
    ) -> (T, Vec<Request>) {
        let mut out = Vec::new();
        let mut seq = self.seq;
        let result = {
            let mut cx = Cx::new(
                &mut seq,
                &mut out,
                self.actor.as_ref(),
                self.options.read_only,
            );
            let pane: &mut dyn Pane = match tab {
                Tab::Chats => &mut self.chats,
                Tab::Messages => &mut self.messages,
                Tab::Comments => &mut self.content,
                Tab::Guilds => &mut self.guilds,
                Tab::Users => &mut self.users,
                Tab::Audit => &mut self.audit,
                Tab::Search => &mut self.search,
            };
            f(pane, &mut cx)
        };
        self.seq = seq;
        (result, out)
    }

    pub fn pane(&self) -> &dyn Pane {
        match self.tab {
            Tab::Chats => &self.chats,
            Tab::Messages => &self.messages,
            Tab::Comments => &self.content,
            Tab::Guilds => &self.guilds,
            Tab::Users => &self.users,
            Tab::Audit => &self.audit,
            Tab::Search => &self.search,
        }
    }

    /// Hints for the current pane, in a context the pane can read.
    pub fn hints(&self) -> Vec<Action> {
        let mut seq = self.seq;
        let mut out = Vec::new();
        let cx = Cx::new(
            &mut seq,
            &mut out,
            self.actor.as_ref(),
            self.options.read_only,
        );
        self.pane().hints(&cx)
    }

    /// May the operator do this in this session? (The data layer checks again.)
    fn may(&self, permission: Permission) -> bool {
        !self.options.read_only && self.actor.as_ref().is_some_and(|a| a.may(permission))
    }

    pub fn is_tab_available(&self, _tab: Tab) -> bool {
        true
    }

    /// Handles one event; returns what to ask of the worker.
    pub fn update(&mut self, event: Event) -> Vec<Request> {
        match event {
            Event::Tick => {
                if self.busy() {
                    self.spinner = self.spinner.wrapping_add(1);
                    self.dirty = true;
                }
                self.on_tick()
            }
            Event::Resize(w, h) => {
                self.size = (w, h);
                self.dirty = true;
                self.resize_panes()
            }
            Event::Terminate(_) => {
                self.quit = true;
                Vec::new()
            }
            Event::Key(key) => {
                self.dirty = true;
                self.on_key(key)
            }
            Event::Mouse(mouse) => self.on_mouse(mouse),
            Event::Data(response) => {
                self.dirty = true;
                self.on_response(*response)
            }
        }
    }

    /// A click selects a row or a tab; the wheel moves the cursor (or scrolls a popup).
    /// Nothing else: no mark, no delete, no confirmation is ever made by the mouse.
    fn on_mouse(&mut self, mouse: MouseEvent) -> Vec<Request> {
        if !self.signed_in() || self.prompt.is_some() {
            return Vec::new();
        }
        let wheel = match mouse.kind {
            MouseEventKind::ScrollUp => Some(KeyCode::Up),
            MouseEventKind::ScrollDown => Some(KeyCode::Down),
            _ => None,
        };
        if let Some(code) = wheel {
            self.dirty = true;
            if self.popup.is_some() {
                return self.on_popup_key(KeyEvent::new(code, KeyModifiers::NONE));
            }
            let action = if code == KeyCode::Up {
                Action::Up
            } else {
                Action::Down
            };
            let tab = self.tab;
            let mut requests = Vec::new();
            for _ in 0..WHEEL_ROWS {
                let (_, mut out) = self.with_pane(tab, |pane, cx| pane.on_action(action, cx));
                requests.append(&mut out);
            }
            return requests;
        }
        if mouse.kind != MouseEventKind::Down(MouseButton::Left) || self.popup.is_some() {
            return Vec::new();
        }
        self.dirty = true;
        if mouse.row == 0 {
            return match super::ui::tab_at(mouse.column) {
                Some(tab) => self.switch(tab),
                None => Vec::new(),
            };
        }
        let Some(row) = mouse.row.checked_sub(super::ui::FIRST_ROW_Y) else {
            return Vec::new();
        };
        let tab = self.tab;
        let (_, requests) = self.with_pane(tab, |pane, cx| pane.select_visible(row as usize, cx));
        requests
    }

    fn resize_panes(&mut self) -> Vec<Request> {
        if !self.signed_in() {
            return Vec::new();
        }
        let height = self.list_height();
        let mut requests = Vec::new();
        for tab in Tab::PANES {
            let (_, mut out) = self.with_pane(tab, |pane, cx| pane.set_height(height, cx));
            requests.append(&mut out);
        }
        requests
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Request> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return Vec::new();
        }
        if !self.signed_in() {
            return self.on_sign_in_key(key);
        }
        if self.popup.is_some() {
            return self.on_popup_key(key);
        }
        if self.prompt.is_some() {
            return self.on_prompt_key(key);
        }
        self.status = None;
        let Some(action) = self.options.keymap.action(Context::List, &key) else {
            return Vec::new();
        };
        match action {
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            Action::Help => {
                self.popup = Some(self.help());
                Vec::new()
            }
            Action::Filter => {
                let current = self.pane().filter_text();
                self.prompt = Some(Prompt::new(PromptKind::Filter, current));
                Vec::new()
            }
            Action::CommandLine => {
                self.prompt = Some(Prompt::new(PromptKind::Command, String::new()));
                Vec::new()
            }
            Action::Search => {
                // The command line, ready for the text: `:search TEXT`.
                self.prompt = Some(Prompt::new(PromptKind::Command, "search ".into()));
                Vec::new()
            }
            Action::CopyId => {
                match self.pane().selected_id() {
                    Some(id) => {
                        self.status = Some((super::strings::copied_id(&id), Level::Info));
                        self.clipboard = Some(id);
                    }
                    None => {
                        self.status = Some((super::strings::NOTHING_TO_COPY.into(), Level::Info))
                    }
                }
                Vec::new()
            }
            Action::JumpBack => self.jump_back(),
            Action::TabChats => self.switch(Tab::Chats),
            Action::TabMessages => self.switch(Tab::Messages),
            Action::TabComments => self.switch(Tab::Comments),
            Action::TabGuilds => self.switch(Tab::Guilds),
            Action::TabUsers => self.switch(Tab::Users),
            Action::TabAudit => self.switch(Tab::Audit),
            Action::NextTab | Action::PrevTab => {
                let available: Vec<Tab> = Tab::ALL
                    .into_iter()
                    .filter(|t| self.is_tab_available(*t))
                    .collect();
                let at = available.iter().position(|t| *t == self.tab).unwrap_or(0);
                let n = available.len();
                let next = if action == Action::NextTab {
                    (at + 1) % n
                } else {
                    (at + n - 1) % n
                };
                self.switch(available[next])
            }
            other => {
                if other == Action::Back {
                    self.forget_details();
                }
                let tab = self.tab;
                let before = (other == Action::Open).then(|| (self.pane().depth(), self.save(tab)));
                let (effect, mut requests) =
                    self.with_pane(tab, |pane, cx| pane.on_action(other, cx));
                if let Some((depth, saved)) = before
                    && self.pane().depth() > depth
                {
                    self.jumps.push(Jump {
                        tab,
                        panes: saved.into_iter().collect(),
                    });
                }
                requests.append(&mut self.apply(effect));
                requests
            }
        }
    }

    fn switch(&mut self, tab: Tab) -> Vec<Request> {
        self.forget_details();
        if !self.is_tab_available(tab) {
            self.status = Some((
                "this pane is not available yet in this version".into(),
                Level::Info,
            ));
            return Vec::new();
        }
        self.tab = tab;
        let height = self.list_height();
        let (_, requests) = self.with_pane(tab, |pane, cx| {
            pane.set_height(height, cx);
            pane.ensure_loaded(cx);
        });
        requests
    }

    fn apply(&mut self, effect: Effect) -> Vec<Request> {
        match effect {
            Effect::None => Vec::new(),
            Effect::Status(text) => {
                self.status = Some((text, Level::Info));
                Vec::new()
            }
            Effect::Error(text) => {
                self.status = Some((text, Level::Error));
                Vec::new()
            }
            Effect::Popup(popup) => {
                self.popup = Some(*popup);
                Vec::new()
            }
            Effect::GotoSession(id) => self.tab_command(Tab::Chats, "goto", &id.to_string()),
            Effect::Quit => {
                self.quit = true;
                Vec::new()
            }
            Effect::Drill(drill) => self.drill(drill),
            Effect::Intent(intent) => self.plan(intent),
            Effect::Restore { batch_id, about } => self.plan_restore(batch_id, about),
            Effect::Detail(detail) => {
                let seq = self.next_seq();
                self.detail_seq = Some(seq);
                vec![Request::Detail { seq, detail }]
            }
            Effect::Edit(kind, id) => {
                let seq = self.next_seq();
                self.edit_seq = Some(seq);
                self.status = Some(("loading it for editing…".into(), Level::Info));
                vec![Request::Detail {
                    seq,
                    detail: super::worker::Detail::Content(kind, id),
                }]
            }
        }
    }

    /// A row asked for in full or for editing is not wanted any more: its answer, when it
    /// comes, must not take the popup slot from what the operator is doing now.
    fn forget_details(&mut self) {
        self.detail_seq = None;
        if self.edit_seq.is_some() && !matches!(self.popup, Some(Popup::Editor(_))) {
            self.edit_seq = None;
        }
    }

    /// Is the operation still going: out at the worker, or its popup open? One whose popup
    /// was replaced (it should not be) would otherwise block every later delete.
    fn operation_alive(&self) -> bool {
        self.operation.as_ref().is_some_and(|op| {
            op.waiting || matches!(self.popup, Some(Popup::Confirm(_) | Popup::Progress(_)))
        })
    }

    fn plan(&mut self, intent: DeleteIntent) -> Vec<Request> {
        self.forget_details();
        if self.operation.is_some() && !self.operation_alive() {
            self.operation = None;
        }
        if self.operation.is_some() || self.restore_alive() {
            self.status = Some(("another operation is still running".into(), Level::Error));
            return Vec::new();
        }
        let seq = self.next_seq();
        let request = Request::Plan {
            seq,
            groups: intent.groups.clone(),
            reason: None,
        };
        self.status = Some(("planning: counting what would go…".into(), Level::Info));
        self.operation = Some(Operation {
            seq,
            intent,
            tab: self.tab,
            stop: None,
            waiting: true,
            labels: HashMap::new(),
        });
        vec![request]
    }

    /// Is a restore still going: out at the worker, or its popup open?
    fn restore_alive(&self) -> bool {
        self.restore
            .as_ref()
            .is_some_and(|op| op.waiting || matches!(self.popup, Some(Popup::Restore(_))))
    }

    /// `u` in the Audit pane: ask what of the batch would come back.
    fn plan_restore(&mut self, batch_id: uuid::Uuid, about: String) -> Vec<Request> {
        self.forget_details();
        if self.operation_alive() || self.restore_alive() {
            self.status = Some(("another operation is still running".into(), Level::Error));
            return Vec::new();
        }
        let seq = self.next_seq();
        self.status = Some((super::strings::RESTORE_PLANNING.into(), Level::Info));
        self.restore = Some(RestoreOp {
            seq,
            batch_id,
            about,
            waiting: true,
        });
        vec![Request::Restore {
            seq,
            batch_id,
            plan_only: true,
        }]
    }

    fn on_restore(
        &mut self,
        seq: u64,
        plan_only: bool,
        result: Result<crate::batch::Restored, DataError>,
    ) -> Vec<Request> {
        let Some(op) = self.restore.as_mut().filter(|op| op.seq == seq) else {
            return Vec::new();
        };
        op.waiting = false;
        let (batch_id, about) = (op.batch_id, op.about.clone());
        let theme = self.theme();
        self.status = None;
        if plan_only {
            if self.popup.is_some() {
                // Something else holds the popup slot now; the plan was not asked for there.
                self.restore = None;
                return Vec::new();
            }
            match result {
                Ok(restored) => {
                    self.popup = Some(Popup::Restore(RestoreConfirm::new(restored.report, about)));
                }
                Err(e) => {
                    self.restore = None;
                    self.popup = Some(error_popup(
                        &super::strings::cannot_restore(&batch_id),
                        &e,
                        &theme,
                    ));
                }
            }
            return Vec::new();
        }
        self.restore = None;
        let restored = match result {
            Ok(restored) => restored,
            Err(e) => {
                self.popup = Some(error_popup("Not restored", &e, &theme));
                return Vec::new();
            }
        };
        let summary = super::strings::restored_summary(&restored.report);
        let width =
            usize::from(super::ui::popup_screen(Rect::new(0, 0, self.size.0, self.size.1)).width);
        let mut lines = vec![(summary.clone(), theme.header())];
        match &restored.cache {
            Some(c @ crate::cache::CacheOutcome::NotCleared { .. }) => lines.push((
                crate::sanitize::clean_line(&format!("the restore is committed, but the {c}")),
                theme.error(),
            )),
            Some(c @ crate::cache::CacheOutcome::Cleared { .. }) => {
                lines.push((c.to_string(), theme.dim()))
            }
            _ => {}
        }
        lines.extend(super::popup::restore_lines(&restored.report, &theme, width));
        self.popup = Some(Popup::Text(TextView::new("Restored".into(), lines)));
        self.last_outcome = Some(summary);
        let mut requests = Vec::new();
        for tab in Tab::ALL {
            let (_, mut out) = self.with_pane(tab, |pane, cx| pane.after_operation(&[], cx));
            requests.append(&mut out);
        }
        requests
    }

    /// A filter typed and then left alone for a moment applies to the list.
    fn on_tick(&mut self) -> Vec<Request> {
        let mut requests = Vec::new();
        if self.signed_in() {
            let tab = self.tab;
            let (_, mut out) = self.with_pane(tab, |pane, cx| pane.on_tick(cx));
            if !out.is_empty() {
                self.dirty = true;
            }
            requests.append(&mut out);
        }
        requests.append(&mut self.debounce_filter());
        requests
    }

    fn debounce_filter(&mut self) -> Vec<Request> {
        let Some(prompt) = &mut self.prompt else {
            return Vec::new();
        };
        let Some(quiet) = &mut prompt.quiet else {
            return Vec::new();
        };
        *quiet += 1;
        if *quiet < FILTER_DEBOUNCE_TICKS {
            return Vec::new();
        }
        prompt.quiet = None;
        let text = prompt.input.value().trim().to_string();
        self.apply_filter(text)
    }

    /// Shows the list filtered by `text`, unless it already is.
    fn apply_filter(&mut self, text: String) -> Vec<Request> {
        if let Some(prompt) = &mut self.prompt {
            if prompt.applied == text {
                return Vec::new();
            }
            prompt.applied = text.clone();
        }
        self.dirty = true;
        let tab = self.tab;
        let (_, requests) = self.with_pane(tab, |pane, cx| pane.set_filter(&text, cx));
        requests
    }

    fn on_prompt_key(&mut self, key: KeyEvent) -> Vec<Request> {
        let Some(prompt) = &mut self.prompt else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Esc => {
                // The filter as it was before the prompt opened, if typing changed it.
                let original = prompt.original.clone();
                let changed = prompt.kind == PromptKind::Filter && prompt.applied != original;
                let requests = if changed {
                    self.apply_filter(original)
                } else {
                    Vec::new()
                };
                self.prompt = None;
                requests
            }
            KeyCode::Enter => {
                let kind = prompt.kind;
                let text = prompt.input.value().trim().to_string();
                let history_kind = prompt.history_kind();
                self.history.push(history_kind, &text);
                let requests = match kind {
                    PromptKind::Filter => self.apply_filter(text),
                    PromptKind::Command => {
                        self.prompt = None;
                        self.run_command(&text)
                    }
                };
                if kind == PromptKind::Filter {
                    self.prompt = None;
                }
                requests
            }
            KeyCode::Up | KeyCode::Down => {
                let entries = self.history.entries(prompt.history_kind());
                let current = prompt.input.value().to_string();
                if let Some(text) = prompt
                    .recall
                    .step(entries, &current, key.code == KeyCode::Up)
                {
                    prompt.input = Input::new(text);
                    if prompt.kind == PromptKind::Filter {
                        prompt.quiet = Some(0);
                    }
                }
                Vec::new()
            }
            KeyCode::Tab if prompt.kind == PromptKind::Command => {
                let names = self.known_names();
                let Some(prompt) = &mut self.prompt else {
                    return Vec::new();
                };
                let (text, candidates) = super::history::complete(prompt.input.value(), &names);
                prompt.input = Input::new(text);
                if candidates.len() > 1 {
                    let shown: Vec<String> = candidates
                        .iter()
                        .take(12)
                        .map(|c| crate::sanitize::fit(c, 24))
                        .collect();
                    self.status = Some((shown.join(" · "), Level::Info));
                }
                Vec::new()
            }
            _ => {
                let before = prompt.input.value().to_string();
                prompt
                    .input
                    .handle_event(&ratatui::crossterm::event::Event::Key(key));
                if prompt.kind == PromptKind::Filter && prompt.input.value() != before {
                    prompt.quiet = Some(0);
                }
                Vec::new()
            }
        }
    }

    /// User names the console has loaded, for `:user` completion.
    fn known_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .users
            .list
            .rows
            .iter()
            .map(|u| u.username.clone())
            .chain(
                self.chats
                    .list
                    .rows
                    .iter()
                    .filter_map(|s| s.owner_name.clone()),
            )
            .chain(
                self.content
                    .list
                    .rows
                    .iter()
                    .filter_map(|c| c.author_name.clone()),
            )
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn run_command(&mut self, text: &str) -> Vec<Request> {
        let (name, arg) = text.split_once(' ').unwrap_or((text, ""));
        if matches!(
            name,
            "orphans" | "comments" | "reviews" | "admins" | "moderators" | "users" | "all" | "goto"
        ) {
            let target = match name {
                "orphans" => Tab::Chats,
                "comments" | "reviews" => Tab::Comments,
                "admins" | "moderators" | "users" => Tab::Users,
                "all" if self.tab == Tab::Users => Tab::Users,
                "all" => Tab::Comments,
                _ => self.tab,
            };
            self.remember(Some(target));
        }
        match name {
            "" => Vec::new(),
            "q" | "quit" => {
                self.quit = true;
                Vec::new()
            }
            "orphans" => self.tab_command(Tab::Chats, name, arg),
            "search" => self.tab_command(Tab::Search, name, arg),
            "comments" | "reviews" => self.tab_command(Tab::Comments, name, arg),
            "admins" | "moderators" | "users" => self.tab_command(Tab::Users, name, arg),
            // Both Comments and Users have an `:all`; elsewhere it means comments and reviews.
            "all" if self.tab == Tab::Users => self.tab_command(Tab::Users, name, arg),
            "all" => self.tab_command(Tab::Comments, name, arg),
            "user" => {
                if arg.trim().is_empty() {
                    self.status = Some(("usage: :user NAME".into(), Level::Error));
                    return Vec::new();
                }
                let seq = self.next_seq();
                // Chats, Messages and Comments each show one user's rows; elsewhere Chats.
                let tab = match self.tab {
                    Tab::Chats | Tab::Messages | Tab::Comments => self.tab,
                    _ => Tab::Chats,
                };
                self.user_seq = Some((seq, tab));
                vec![Request::FindUser {
                    seq,
                    name: arg.trim().to_string(),
                }]
            }
            "goto" => {
                let tab = self.tab;
                let (effect, mut requests) =
                    self.with_pane(tab, |pane, cx| pane.command("goto", arg, cx));
                requests.append(&mut self.apply(effect));
                requests
            }
            "help" => {
                self.popup = Some(self.help());
                Vec::new()
            }
            other => {
                self.status = Some((super::strings::unknown_command(other), Level::Error));
                Vec::new()
            }
        }
    }

    /// A command that belongs to one tab: shows that tab with the command applied, loading
    /// it once.
    fn tab_command(&mut self, tab: Tab, name: &str, arg: &str) -> Vec<Request> {
        if !self.is_tab_available(tab) {
            return self.switch(tab);
        }
        self.tab = tab;
        let height = self.list_height();
        let (effect, mut requests) = self.with_pane(tab, |pane, cx| {
            pane.set_height(height, cx);
            let effect = pane.command(name, arg, cx);
            pane.ensure_loaded(cx);
            effect
        });
        requests.append(&mut self.apply(effect));
        requests
    }

    fn on_popup_key(&mut self, key: KeyEvent) -> Vec<Request> {
        let Some(popup) = &mut self.popup else {
            return Vec::new();
        };
        let screen = super::ui::popup_screen(Rect::new(0, 0, self.size.0, self.size.1));
        match popup.on_key(&key, &self.options.keymap, screen) {
            PopupEffect::None => Vec::new(),
            PopupEffect::Close => {
                if matches!(popup, Popup::Confirm(_)) {
                    self.operation = None;
                    self.status = Some(("cancelled: nothing was changed".into(), Level::Info));
                }
                if matches!(popup, Popup::Restore(_)) {
                    self.restore = None;
                    self.status = Some(("cancelled: nothing was restored".into(), Level::Info));
                }
                if !matches!(popup, Popup::Progress(_)) {
                    self.popup = None;
                }
                Vec::new()
            }
            PopupEffect::Save(edit) => {
                let seq = self.next_seq();
                self.edit_seq = Some(seq);
                vec![Request::Edit { seq, edit }]
            }
            PopupEffect::Reopen(editor) => {
                self.popup = Some(Popup::Editor(editor));
                Vec::new()
            }
            PopupEffect::Edit(item) => {
                self.popup = Some(Popup::Editor(Box::new(Editor::new(*item))));
                Vec::new()
            }
            PopupEffect::Restore(batch_id) => {
                let seq = self.next_seq();
                let Some(op) = self.restore.as_mut() else {
                    self.popup = None;
                    return Vec::new();
                };
                op.seq = seq;
                op.waiting = true;
                vec![Request::Restore {
                    seq,
                    batch_id,
                    plan_only: false,
                }]
            }
            PopupEffect::Drill(drill) => {
                self.popup = None;
                self.drill(drill)
            }
            PopupEffect::Stop => {
                self.status = Some((super::strings::STOPPING.into(), Level::Info));
                Vec::new()
            }
            PopupEffect::Replan(kind) => {
                let Some(op) = &mut self.operation else {
                    return Vec::new();
                };
                op.intent.kind = kind;
                for group in &mut op.intent.groups {
                    group.content = kind.content;
                }
                op.waiting = true;
                self.seq += 1;
                op.seq = self.seq;
                vec![Request::Plan {
                    seq: op.seq,
                    groups: op.intent.groups.clone(),
                    reason: None,
                }]
            }
            PopupEffect::Execute(plans) => {
                let Some(op) = &mut self.operation else {
                    self.popup = None;
                    return Vec::new();
                };
                self.seq += 1;
                op.seq = self.seq;
                let stop = Arc::new(AtomicBool::new(false));
                op.stop = Some(stop.clone());
                op.waiting = true;
                op.labels = plans
                    .iter()
                    .flat_map(|p| &p.targets)
                    .filter_map(|t| {
                        let label = super::popup::target_label(op.intent.kind, t);
                        (label != t.label).then_some((t.id.clone(), label))
                    })
                    .collect();
                self.popup = Some(Popup::Progress(Progress {
                    kind: op.intent.kind,
                    done: 0,
                    total: plans.len(),
                    stop: stop.clone(),
                    outcomes: Vec::new(),
                }));
                vec![Request::Execute {
                    seq: op.seq,
                    plans,
                    stop,
                }]
            }
        }
    }

    fn help(&self) -> Popup {
        let theme = self.theme();
        let mut lines = vec![(
            "Every key, from the live key map (config.toml [keys] changes them):".to_string(),
            theme.header(),
        )];
        let read_only = self.options.read_only;
        let shown = |action: Action| !(read_only && action.changes_data());
        for (keys, help) in self.options.keymap.help_lines(shown) {
            lines.push((format!("  {keys:<22} {help}"), Style::default()));
        }
        lines.push((String::new(), Style::default()));
        lines.push((
            "In text fields: Enter applies, Esc cancels; Ctrl-c quits anywhere.".into(),
            theme.dim(),
        ));
        lines.push((super::strings::COMMANDS_TITLE.into(), theme.header()));
        for line in super::strings::COMMANDS {
            lines.push((format!("  {line}"), Style::default()));
        }
        Popup::Text(TextView::new(super::strings::HELP_TITLE.into(), lines))
    }

    fn on_sign_in_key(&mut self, key: KeyEvent) -> Vec<Request> {
        let form = &mut self.sign_in;
        if form.queued && key.code == KeyCode::Esc {
            form.queued = false;
            form.message = Some(super::strings::SIGN_IN_CANCELLED.into());
            return Vec::new();
        }
        if form.busy || form.queued {
            return Vec::new();
        }
        if form.needs_code {
            return Self::on_code_key(form, key);
        }
        match key.code {
            KeyCode::Esc => {
                self.quit = true;
                Vec::new()
            }
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                form.focus = 1 - form.focus;
                Vec::new()
            }
            KeyCode::Enter if form.focus == 0 => {
                form.focus = 1;
                Vec::new()
            }
            KeyCode::Enter => {
                if form.username.value().trim().is_empty() || form.password.value().is_empty() {
                    form.message = Some("enter a username and a password".into());
                    return Vec::new();
                }
                form.message = None;
                if !matches!(self.connection, Connection::Connected { .. }) {
                    form.queued = true;
                    return Vec::new();
                }
                form.busy = true;
                vec![form.request()]
            }
            _ => {
                let input = if form.focus == 0 {
                    &mut form.username
                } else {
                    &mut form.password
                };
                input.handle_event(&ratatui::crossterm::event::Event::Key(key));
                Vec::new()
            }
        }
    }

    /// The second step: the code field alone; Esc goes back to the password.
    fn on_code_key(form: &mut SignIn, key: KeyEvent) -> Vec<Request> {
        match key.code {
            KeyCode::Esc => {
                form.needs_code = false;
                form.code = Input::default();
                form.password = Input::default();
                form.focus = 1;
                form.message = None;
                Vec::new()
            }
            KeyCode::Enter => {
                if form.code.value().trim().is_empty() {
                    form.message = Some(super::strings::CODE_MISSING.into());
                    return Vec::new();
                }
                form.message = None;
                form.busy = true;
                vec![form.request()]
            }
            _ => {
                form.code
                    .handle_event(&ratatui::crossterm::event::Event::Key(key));
                Vec::new()
            }
        }
    }

    fn on_response(&mut self, response: Response) -> Vec<Request> {
        // Whatever asked, the operator learns on the status line that the database is
        // gone, and how to try again.
        if let Some(error) = response.unreachable() {
            self.status = Some((super::strings::unreachable(error), Level::Error));
        }
        match response {
            Response::Connected { backend, url, ids } => {
                super::strings::set_platform(ids);
                self.connection = Connection::Connected { backend, url };
                let form = &mut self.sign_in;
                if !std::mem::take(&mut form.queued) {
                    return Vec::new();
                }
                form.busy = true;
                vec![form.request()]
            }
            Response::ConnectFailed(message) => {
                self.connection = Connection::Failed(message);
                Vec::new()
            }
            Response::SignedIn(actor) => {
                self.actor = Some(actor);
                self.sign_in = SignIn::default();
                self.switch(Tab::Chats)
            }
            Response::CodeRequired => {
                let form = &mut self.sign_in;
                form.busy = false;
                form.needs_code = true;
                form.code = Input::default();
                form.focus = 2;
                form.message = None;
                Vec::new()
            }
            Response::SignInFailed(message) => {
                let form = &mut self.sign_in;
                form.busy = false;
                form.password = Input::default();
                if std::mem::take(&mut form.needs_code) {
                    form.code = Input::default();
                    form.focus = 1;
                }
                form.message = Some(message);
                Vec::new()
            }
            Response::Page { slot, seq, result } => {
                let tab = Tab::of(slot);
                let (_, requests) =
                    self.with_pane(tab, |pane, cx| pane.on_page(slot, seq, result, cx));
                requests
            }
            Response::Count { slot, seq, result } => {
                // Without a count the list says how many rows are loaded so far.
                let total = result.ok().and_then(|n| u64::try_from(n).ok());
                self.with_pane(Tab::of(slot), |pane, _| pane.on_count(slot, seq, total));
                Vec::new()
            }
            Response::Ids { seq, result } => match result {
                Ok(keys) => {
                    let mut effects = Vec::new();
                    for tab in Tab::PANES {
                        let keys = keys.clone();
                        let (effect, _) = self.with_pane(tab, |pane, _| pane.on_keys(seq, keys));
                        effects.push(effect);
                    }
                    effects.into_iter().flat_map(|e| self.apply(e)).collect()
                }
                Err(e) => {
                    self.status = Some((e.to_string(), Level::Error));
                    Vec::new()
                }
            },
            Response::User { seq, name, result } => {
                let Some((_, tab)) = self.user_seq.filter(|(asked, _)| *asked == seq) else {
                    return Vec::new();
                };
                self.user_seq = None;
                match result {
                    Ok(user) => {
                        if user.is_some() {
                            self.remember(Some(tab));
                        }
                        let mut requests = if tab != self.tab {
                            self.switch(tab)
                        } else {
                            Vec::new()
                        };
                        let (effect, mut out) =
                            self.with_pane(tab, |pane, cx| pane.on_user(&name, user, cx));
                        requests.append(&mut out);
                        requests.append(&mut self.apply(effect));
                        requests
                    }
                    Err(e) => {
                        self.status = Some((e.to_string(), Level::Error));
                        Vec::new()
                    }
                }
            }
            Response::Planned { seq, result } => self.on_planned(seq, result),
            Response::BatchDone {
                seq,
                done,
                total,
                outcome,
            } => {
                if self.operation.as_ref().is_some_and(|op| op.seq == seq)
                    && let Some(Popup::Progress(progress)) = &mut self.popup
                {
                    progress.done = done;
                    progress.total = total;
                    progress.outcomes.push(outcome);
                }
                Vec::new()
            }
            Response::Executed {
                seq,
                outcomes,
                cache,
                not_run,
                error,
            } => self.on_executed(seq, outcomes, cache, not_run, error),
            Response::Detail { seq, result } if self.edit_seq == Some(seq) => {
                self.edit_seq = None;
                self.status = None;
                if self.popup.is_some() {
                    // Something else holds the slot now; editing was not asked for there.
                    return Vec::new();
                }
                match result {
                    Ok(DetailData::Content(item)) => {
                        self.popup = Some(Popup::Editor(Box::new(Editor::new(item))))
                    }
                    Ok(_) => {}
                    Err(e) => self.popup = Some(error_popup("Cannot edit it", &e, &self.theme())),
                }
                Vec::new()
            }
            Response::Detail { seq, result } => {
                if self.detail_seq != Some(seq) {
                    return Vec::new();
                }
                self.detail_seq = None;
                if self.popup.is_some() {
                    return Vec::new();
                }
                let theme = self.theme();
                self.popup = Some(match result {
                    Ok(detail) => {
                        let edit_key = self
                            .may(Permission::EditContent)
                            .then(|| self.options.keymap.label(Action::Edit));
                        detail_popup(detail, &theme, edit_key)
                    }
                    Err(e) => error_popup("Not available", &e, &theme),
                });
                Vec::new()
            }
            Response::Edited { seq, edit, result } => self.on_edited(seq, edit, result),
            Response::Restore {
                seq,
                plan_only,
                result,
            } => self.on_restore(seq, plan_only, result),
        }
    }

    fn on_edited(
        &mut self,
        seq: u64,
        edit: crate::db::comments::ContentEdit,
        result: Result<crate::db::comments::EditOutcome, DataError>,
    ) -> Vec<Request> {
        use crate::db::comments::EditOutcome;
        if self.edit_seq != Some(seq) {
            return Vec::new();
        }
        self.edit_seq = None;
        let noun = edit.kind.as_str();
        match result {
            Ok(EditOutcome::Saved { version, .. }) => {
                self.popup = None;
                self.last_outcome = Some(format!("saved the {noun} (now version {version})"));
                let mut requests = Vec::new();
                for tab in [Tab::Comments, Tab::Audit] {
                    let (_, mut out) =
                        self.with_pane(tab, |pane, cx| pane.after_operation(&[], cx));
                    requests.append(&mut out);
                }
                requests
            }
            Ok(EditOutcome::Unchanged { .. }) => {
                self.popup = None;
                self.status = Some((
                    format!("the {noun} already says that: nothing saved"),
                    Level::Info,
                ));
                Vec::new()
            }
            Ok(EditOutcome::Conflict { current, yours }) => {
                self.popup = Some(Popup::Conflict(Conflict {
                    current,
                    loaded_version: edit.expected_version,
                    yours,
                    your_rating: edit.rating,
                    focus: 0,
                    scroll: 0,
                }));
                Vec::new()
            }
            Ok(EditOutcome::Gone { yours }) => {
                let theme = self.theme();
                self.popup = Some(Popup::Text(TextView::from_text(
                    "Not saved: it was deleted meanwhile",
                    vec![(
                        format!("The {noun} no longer exists. Your text, not saved:"),
                        theme.warning(),
                    )],
                    &yours,
                )));
                Vec::new()
            }
            Err(e) => {
                match &mut self.popup {
                    Some(Popup::Editor(editor)) => {
                        editor.saving = false;
                        editor.message = Some(e.to_string());
                    }
                    _ => self.popup = Some(error_popup("Not saved", &e, &self.theme())),
                }
                Vec::new()
            }
        }
    }

    fn on_planned(
        &mut self,
        seq: u64,
        result: Result<Vec<crate::db::plan::Plan>, DataError>,
    ) -> Vec<Request> {
        let Some(op) = &mut self.operation else {
            return Vec::new();
        };
        if op.seq != seq {
            return Vec::new();
        }
        op.waiting = false;
        let plans = match result {
            Ok(plans) => plans,
            Err(e) => {
                self.operation = None;
                self.status = Some((e.to_string(), Level::Error));
                self.popup = Some(error_popup("Cannot plan this", &e, &self.theme()));
                return Vec::new();
            }
        };
        self.status = None;
        if let Some(Popup::Confirm(confirm)) = &mut self.popup
            && confirm.replanning
        {
            confirm.plans = plans;
            confirm.kind = op.intent.kind;
            confirm.replanning = false;
            return Vec::new();
        }
        let confirm = Confirm::new(
            op.intent.kind,
            plans,
            op.intent.hidden,
            op.intent.typed.clone(),
            self.options.confirm.typed_above,
            self.options.confirm.require_reason,
        )
        .with_lookalikes(op.intent.lookalikes.clone());
        self.popup = Some(Popup::Confirm(confirm));
        Vec::new()
    }

    fn on_executed(
        &mut self,
        seq: u64,
        outcomes: Vec<crate::db::plan::Outcome>,
        cache: Option<crate::cache::CacheOutcome>,
        not_run: Vec<crate::db::plan::Plan>,
        error: Option<DataError>,
    ) -> Vec<Request> {
        let Some(op) = self.operation.take() else {
            return Vec::new();
        };
        if op.seq != seq {
            self.operation = Some(op);
            return Vec::new();
        }
        let done: Vec<Id> = outcomes
            .iter()
            .flat_map(|o| o.done.iter().map(|d| d.id.clone()))
            .collect();
        let mut requests = Vec::new();
        let (_, mut out) = self.with_pane(op.tab, |pane, cx| pane.after_operation(&done, cx));
        requests.append(&mut out);
        if op.tab != Tab::Audit {
            let (_, mut out) =
                self.with_pane(Tab::Audit, |pane, cx| pane.after_operation(&done, cx));
            requests.append(&mut out);
        }
        if op.tab == Tab::Search {
            // The sessions deleted from the search are gone from Chats too.
            let (_, mut out) =
                self.with_pane(Tab::Chats, |pane, cx| pane.after_operation(&done, cx));
            requests.append(&mut out);
        }
        let report = Report {
            kind: op.intent.kind,
            outcomes,
            not_run: not_run.len(),
            stopped: op
                .stop
                .as_ref()
                .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
                && !not_run.is_empty(),
            error: error
                .as_ref()
                .filter(|e| !matches!(e, DataError::PlanChanged(_)))
                .map(|e| e.to_string()),
            cache,
            labels: op.labels.clone(),
            scroll: 0,
        };
        self.last_outcome = Some(report.summary());
        self.status = None;
        if matches!(error, Some(DataError::PlanChanged(_))) {
            // Show the new plan for a fresh confirmation; what ran before stays done.
            let mut confirm = Confirm::new(
                op.intent.kind,
                not_run,
                op.intent.hidden,
                op.intent.typed.clone(),
                self.options.confirm.typed_above,
                self.options.confirm.require_reason,
            )
            .with_lookalikes(op.intent.lookalikes.clone());
            confirm.changed = true;
            self.operation = Some(Operation {
                seq: op.seq,
                intent: op.intent,
                tab: op.tab,
                stop: None,
                waiting: false,
                labels: op.labels,
            });
            self.popup = Some(Popup::Confirm(confirm));
        } else {
            self.popup = Some(Popup::Outcome(report));
        }
        requests
    }
}

/// A row in full; `edit_key` lets a comment or review shown be edited from there.
fn detail_popup(detail: DetailData, theme: &Theme, edit_key: Option<String>) -> Popup {
    let line = |k: &str, v: String| {
        (
            format!("{k:<10} {}", crate::sanitize::clean_line(&v)),
            Style::default(),
        )
    };
    match detail {
        DetailData::ChatMessage(m) => Popup::Text(TextView::from_text(
            "Chat message",
            vec![
                line(
                    "author",
                    super::strings::chat_author(m.author_name.as_deref(), &m.role),
                ),
                line("role", m.role),
                line("at", super::clock::full(&m.created_at)),
                line("id", m.id.to_string()),
                ("── text ──".into(), theme.header()),
            ],
            &m.content,
        )),
        DetailData::PrivateMessage(m) => Popup::Text(TextView::from_text(
            "Private message",
            vec![
                line(
                    "from",
                    m.sender_name.unwrap_or_else(|| "deleted user".into()),
                ),
                line(
                    "to",
                    m.recipient_name.unwrap_or_else(|| "deleted user".into()),
                ),
                line("sent", super::clock::full(&m.created_at)),
                line(
                    "read",
                    m.read_at
                        .map(|t| super::clock::full(&t))
                        .unwrap_or_else(|| "no".into()),
                ),
                line("id", m.id.to_string()),
                ("── text ──".into(), theme.header()),
            ],
            &m.content,
        )),
        DetailData::Content(item) => {
            let view = TextView::from_text(
                item.kind.as_str(),
                vec![
                    line("book", item.book_title.clone()),
                    line(
                        "author",
                        item.author_name
                            .clone()
                            .unwrap_or_else(|| "deleted user".into()),
                    ),
                    line("version", item.version.to_string()),
                    ("── text ──".into(), theme.header()),
                ],
                &item.content,
            );
            Popup::Text(match edit_key {
                Some(key) => view.editable(item, &key),
                None => view,
            })
        }
    }
}

/// The operation kind a tab's delete key means (for tests and hints).
pub fn op_noun(kind: super::popup::Subject) -> &'static str {
    super::popup::noun(kind, 2)
}
