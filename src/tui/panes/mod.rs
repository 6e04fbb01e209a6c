//! The tabs. Each pane keeps its own lists, marks and filter, turns actions into
//! requests for the worker, and returns an [`Effect`] for what only the app can do
//! (open a popup, start a delete, quit).

pub mod audit;
pub mod chats;
pub mod content;
pub mod guilds;
pub mod messages;
pub mod search;
pub mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::db::Id;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::keymap::Action;
use super::list::{ListView, Marks};
use super::popup::Popup;
use super::popup::Subject;
use super::theme::Theme;
use super::worker::{PageData, Query, Request, RowKey, Slot};
use crate::batch::Group;
use crate::db::lists::{Order, Seek, SortKey, UserRow};
use crate::db::{Actor, DataError};
use crate::lookalike::Lookalike;

/// How many ids "mark all" and "invert" take at most.
pub const MARK_ALL_CAP: usize = 100_000;

/// What a pane may ask of the worker and what it knows of the operator.
pub struct Cx<'a> {
    seq: &'a mut u64,
    out: &'a mut Vec<Request>,
    pub actor: Option<&'a Actor>,
    pub read_only: bool,
}

impl<'a> Cx<'a> {
    pub fn new(
        seq: &'a mut u64,
        out: &'a mut Vec<Request>,
        actor: Option<&'a Actor>,
        read_only: bool,
    ) -> Self {
        Cx {
            seq,
            out,
            actor,
            read_only,
        }
    }

    pub fn next_seq(&mut self) -> u64 {
        *self.seq += 1;
        *self.seq
    }

    pub fn send(&mut self, request: Request) {
        self.out.push(request);
    }

    /// Asks how many rows a listing has in all; returns the request's number.
    pub fn count(&mut self, slot: Slot, query: Query) -> u64 {
        let seq = self.next_seq();
        self.send(Request::Count { slot, seq, query });
        seq
    }

    /// Asks for a page of `slot`; returns the request's number.
    pub fn load(&mut self, slot: Slot, query: Query) -> u64 {
        let seq = self.next_seq();
        self.send(Request::Load { slot, seq, query });
        seq
    }
}

pub use super::popup::Typed;

/// A destructive request a pane wants the app to plan and confirm.
#[derive(Debug, Clone)]
pub struct DeleteIntent {
    /// What the popup calls it.
    pub kind: Subject,
    /// Each operation with its ids (comments and reviews are two).
    pub groups: Vec<Group>,
    /// Marked rows not in the list as it is now filtered.
    pub hidden: usize,
    pub typed: Typed,
    /// Targets whose names pass for others in the list they were chosen from.
    pub lookalikes: HashMap<Id, Lookalike>,
}

impl DeleteIntent {
    pub fn new(kind: Subject, ids: Vec<Id>, hidden: usize, typed: Typed) -> DeleteIntent {
        DeleteIntent {
            kind,
            groups: vec![Group::new(kind.kind, ids)],
            hidden,
            typed,
            lookalikes: HashMap::new(),
        }
    }

    /// The look-alikes among the targets, for the confirmation to flag.
    pub fn with_lookalikes(mut self, flags: &HashMap<Id, Lookalike>) -> DeleteIntent {
        let ids: Vec<&Id> = self.groups.iter().flat_map(|g| &g.ids).collect();
        self.lookalikes = ids
            .into_iter()
            .filter_map(|id| flags.get(id).map(|f| (id.clone(), f.clone())))
            .collect();
        self
    }

    pub fn target_count(&self) -> usize {
        self.groups.iter().map(|g| g.ids.len()).sum()
    }
}

pub enum Effect {
    None,
    Status(String),
    Error(String),
    Intent(DeleteIntent),
    /// Load a comment or review in full and open the editor.
    Edit(crate::db::comments::ContentKind, Id),
    /// Load a row in full and show it.
    Detail(super::worker::Detail),
    Popup(Box<Popup>),
    /// Plan the restore of a delete's trash batch; `about` names the delete.
    Restore {
        batch_id: uuid::Uuid,
        about: String,
    },
    /// Show one user's rows on another tab, remembering where this was (`Ctrl-o`).
    Drill(Drill),
    /// Show this chat session in Chats (from the search).
    GotoSession(Id),
    Quit,
}

/// A drill-down to one user's rows on a tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drill {
    pub user_id: Id,
    pub username: String,
    pub tab: super::app::Tab,
}

pub trait Pane {
    fn on_action(&mut self, action: Action, cx: &mut Cx) -> Effect;
    fn on_page(&mut self, slot: Slot, seq: u64, result: Result<PageData, DataError>, cx: &mut Cx);
    /// Answer to "mark all" / "invert".
    fn on_keys(&mut self, _seq: u64, _keys: Vec<RowKey>) -> Effect {
        Effect::None
    }
    /// Answer to a listing's count.
    fn on_count(&mut self, _slot: Slot, _seq: u64, _total: Option<u64>) {}
    /// The full id of the row under the cursor, as the database has it.
    fn selected_id(&self) -> Option<String> {
        None
    }
    /// "812 of 20,000" for the list on screen.
    fn position(&self) -> Option<String> {
        None
    }
    /// Answer to `:user NAME`.
    fn on_user(&mut self, name: &str, user: Option<UserRow>, cx: &mut Cx) -> Effect {
        match user {
            None => Effect::Error(format!("no user named {}", crate::sanitize::fit(name, 40))),
            Some(user) => self.for_user(user.id, user.username, cx),
        }
    }
    /// Shows one user's rows (`:user`, or a drill-down from a user or a member).
    fn for_user(&mut self, _id: Id, _username: String, _cx: &mut Cx) -> Effect {
        Effect::None
    }
    /// A tick while the pane is shown (a pane that follows new rows asks for them).
    fn on_tick(&mut self, _cx: &mut Cx) {}
    /// A click on the `row`-th row on screen: the cursor goes there; true if a row is.
    fn select_visible(&mut self, _row: usize, _cx: &mut Cx) -> bool {
        false
    }
    /// How deep the view is: 0 for the list, 1 for a view opened from a row (a
    /// session's messages, a guild's members). Going deeper is remembered for `Ctrl-o`.
    fn depth(&self) -> usize {
        0
    }
    fn set_filter(&mut self, text: &str, cx: &mut Cx);
    fn filter_text(&self) -> String;
    fn command(&mut self, name: &str, arg: &str, cx: &mut Cx) -> Effect;
    fn refresh(&mut self, cx: &mut Cx);
    /// After an operation: forget marks on rows that are gone, reload.
    fn after_operation(&mut self, done: &[Id], cx: &mut Cx);
    fn marked(&self) -> usize;
    /// The keys worth a hint here, most useful first.
    fn hints(&self, cx: &Cx) -> Vec<Action>;
    fn title(&self) -> String;
    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme);
    /// The list area's height changed; may ask for more rows.
    fn set_height(&mut self, height: usize, cx: &mut Cx);
    /// Loads the first page on the first visit.
    fn ensure_loaded(&mut self, cx: &mut Cx);
    /// Is any request of this pane out?
    fn busy(&self) -> bool;
}

/// Moves the cursor for a movement action; true if it was one.
pub fn navigate<R, C: Clone>(list: &mut ListView<R, C>, action: Action) -> bool {
    let page = list.height.max(1) as isize;
    match action {
        Action::Up => list.move_by(-1),
        Action::Down => list.move_by(1),
        Action::Top => list.top(),
        Action::Bottom => list.bottom(),
        Action::PageUp => list.move_by(-page),
        Action::PageDown => list.move_by(page),
        Action::HalfPageUp => list.move_by(-(page / 2).max(1)),
        Action::HalfPageDown => list.move_by((page / 2).max(1)),
        _ => return false,
    }
    true
}

/// The filter a list is showing, to tell the marks it hides from those merely not
/// loaded yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// A fingerprint of the filter; marks remember the one they were made under.
    pub key: u64,
    /// A filter is set: without one, every marked row is in the list.
    pub filtered: bool,
}

impl Scope {
    pub fn of<F: std::fmt::Debug + Default + PartialEq>(filter: &F) -> Scope {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        format!("{filter:?}").hash(&mut hasher);
        Scope {
            key: hasher.finish(),
            filtered: *filter != F::default(),
        }
    }
}

/// Space, `v` and the like on a list whose rows have uuids; true if handled.
pub fn mark<R, C: Clone>(
    list: &mut ListView<R, C>,
    marks: &mut Marks,
    action: Action,
    id_of: impl Fn(&R) -> Id,
    scope: Scope,
) -> bool {
    match action {
        Action::Mark => {
            if let Some(row) = list.selected_row() {
                marks.toggle(id_of(row), scope.key);
                list.move_by(1);
            }
        }
        Action::MarkRange => match marks.anchor.take() {
            None => {
                marks.anchor = Some(list.selected);
                if let Some(row) = list.selected_row() {
                    marks.insert(id_of(row), scope.key);
                }
            }
            Some(anchor) => {
                let (from, to) = if anchor <= list.selected {
                    (anchor, list.selected)
                } else {
                    (list.selected, anchor)
                };
                for row in list.rows.iter().skip(from).take(to - from + 1) {
                    marks.insert(id_of(row), scope.key);
                }
            }
        },
        _ => return false,
    }
    true
}

/// The ids to act on: the marks, or else the row under the cursor; and how many marked
/// rows the list as filtered now does not show.
pub fn targets<R, C: Clone>(
    list: &ListView<R, C>,
    marks: &Marks,
    id_of: impl Fn(&R) -> Id,
    scope: Scope,
) -> (Vec<Id>, usize) {
    if marks.is_empty() {
        return (list.selected_row().map(&id_of).into_iter().collect(), 0);
    }
    let shown: std::collections::HashSet<Id> = list.rows.iter().map(&id_of).collect();
    let hidden = hidden(marks, &shown, scope);
    // Shown rows in list order first, then the hidden ones.
    let mut ids: Vec<Id> = list
        .rows
        .iter()
        .map(&id_of)
        .filter(|id| marks.contains(id))
        .collect();
    let mut rest: Vec<Id> = marks
        .ids
        .iter()
        .filter(|id| !shown.contains(id))
        .cloned()
        .collect();
    rest.sort();
    ids.extend(rest);
    (ids, hidden)
}

/// Marks the filter in force hides: none without a filter; under one, the marks not in
/// the loaded rows, except those made under this same filter (not loaded yet).
pub fn hidden(marks: &Marks, shown: &std::collections::HashSet<Id>, scope: Scope) -> usize {
    if !scope.filtered {
        return 0;
    }
    marks
        .ids
        .iter()
        .filter(|id| !shown.contains(id) && marks.made_under(id) != Some(scope.key))
        .count()
}

/// Asks for the next page when the cursor nears the end (or the top, of a list read
/// from its tail), or for the end the list was moved to.
pub fn page_if_needed<R, C: Clone>(
    list: &mut ListView<R, C>,
    slot: Slot,
    cx: &mut Cx,
    query: impl FnOnce(Seek<C>) -> Query,
) {
    if let Some(seek) = list.wants_more() {
        let seq = cx.load(slot, query(seek));
        list.pending = Some(seq);
    }
}

/// Starts a fresh listing, with its count where the list is counted.
pub fn reload<R, C: Clone>(list: &mut ListView<R, C>, slot: Slot, cx: &mut Cx, query: Query) {
    let count = query.countable().then(|| query.clone());
    let seq = cx.load(slot, query);
    list.reset(seq);
    if let Some(query) = count {
        list.count_pending = Some(cx.count(slot, query));
    }
}

/// Moves to the next (or previous) loaded row whose text contains `needle`.
pub fn find<R, C: Clone>(
    list: &mut ListView<R, C>,
    needle: &str,
    forward: bool,
    text_of: impl Fn(&R) -> String,
) -> bool {
    if needle.is_empty() || list.rows.is_empty() {
        return false;
    }
    let needle = needle.to_lowercase();
    let n = list.rows.len();
    for step in 1..=n {
        let i = if forward {
            (list.selected + step) % n
        } else {
            (list.selected + n - step % n) % n
        };
        if text_of(&list.rows[i]).to_lowercase().contains(&needle) {
            list.selected = i;
            list.clamp();
            return true;
        }
    }
    false
}

/// Where `:goto` with an id prefix landed among the loaded rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goto {
    /// A row has exactly this id; the cursor is on it.
    Exact,
    /// One row's id starts with it; the cursor is on it.
    Jumped,
    /// This many loaded rows' ids start with it; the cursor stays.
    Ambiguous(usize),
    NotLoaded,
}

/// Moves to the loaded row whose id is `text` or starts with it. Case and a uuid's
/// hyphens do not count, so the 8 digits a table shows are a prefix too.
pub fn goto_prefix<R, C: Clone>(
    list: &mut ListView<R, C>,
    text: &str,
    id_of: impl Fn(&R) -> String,
) -> Goto {
    let normal = |s: &str| s.trim().to_lowercase().replace('-', "");
    let wanted = normal(text);
    if wanted.is_empty() {
        return Goto::NotLoaded;
    }
    let ids: Vec<String> = list.rows.iter().map(|r| normal(&id_of(r))).collect();
    if let Some(i) = ids.iter().position(|id| *id == wanted) {
        list.selected = i;
        list.clamp();
        return Goto::Exact;
    }
    let mut matching = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| id.starts_with(&wanted));
    match (matching.next(), matching.count()) {
        (None, _) => Goto::NotLoaded,
        (Some((i, _)), 0) => {
            list.selected = i;
            list.clamp();
            Goto::Jumped
        }
        (Some(_), more) => Goto::Ambiguous(more + 1),
    }
}

/// `:goto` on a list that only jumps among its loaded rows.
pub fn goto_loaded<R, C: Clone>(
    list: &mut ListView<R, C>,
    text: &str,
    id_of: impl Fn(&R) -> String,
) -> Effect {
    match goto_prefix(list, text, id_of) {
        Goto::Exact | Goto::Jumped => Effect::None,
        Goto::Ambiguous(n) => Effect::Error(super::strings::goto_ambiguous(text, n)),
        Goto::NotLoaded => Effect::Error(super::strings::goto_not_loaded(text)),
    }
}

/// A "mark all" (or "invert") a pane waits for.
#[derive(Debug, Clone)]
pub struct KeysRequest {
    pub seq: u64,
    pub invert: bool,
    /// The filter the rows asked for match (see [`Scope`]).
    pub under: u64,
    /// Tells the worker to stop paging when the operator gives up on it.
    stop: Arc<AtomicBool>,
}

impl KeysRequest {
    /// The answer to this request, if `seq` is its number.
    pub fn answered_by(waiting: &mut Option<KeysRequest>, seq: u64) -> Option<KeysRequest> {
        match waiting {
            Some(request) if request.seq == seq => waiting.take(),
            _ => None,
        }
    }
}

/// Esc while rows are being marked: stop, and let a late answer mark nothing.
pub fn cancel_keys(waiting: &mut Option<KeysRequest>) -> Option<Effect> {
    let request = waiting.take()?;
    request.stop.store(true, Ordering::SeqCst);
    Some(Effect::Status(super::strings::stopped_marking(
        request.invert,
    )))
}

/// Applies the answer to a pane's outstanding "mark all" or "invert", if it is that one.
pub fn answer_keys(
    waiting: &mut Option<KeysRequest>,
    marks: &mut Marks,
    seq: u64,
    keys: &[RowKey],
    (one, many): (&str, &str),
) -> Effect {
    match KeysRequest::answered_by(waiting, seq) {
        Some(KeysRequest { invert, under, .. }) => {
            let n = apply_keys(marks, keys, invert, under);
            let capped = if n >= MARK_ALL_CAP {
                " (the most one action takes)"
            } else {
                ""
            };
            let verb = if invert {
                "inverted the marks of"
            } else {
                "marked"
            };
            let matching = super::strings::plural(
                n as i64,
                &format!("matching {one}"),
                &format!("matching {many}"),
            );
            Effect::Status(format!("{verb} {matching}{capped}"))
        }
        _ => Effect::None,
    }
}

/// `n`/`N`: the next or previous loaded row containing the filter text, or says none.
pub fn find_or_say<R, C: Clone>(
    list: &mut ListView<R, C>,
    needle: &str,
    action: Action,
    text_of: impl Fn(&R) -> String,
) -> Effect {
    if find(list, needle, action == Action::NextMatch, text_of) {
        Effect::None
    } else {
        Effect::Status("no match".into())
    }
}

/// Marks every key, or inverts the marks of the keys, answering "mark all".
pub fn apply_keys(marks: &mut Marks, keys: &[RowKey], invert: bool, under: u64) -> usize {
    for key in keys {
        if invert {
            marks.toggle(key.id.clone(), under);
        } else {
            marks.insert(key.id.clone(), under);
        }
    }
    keys.len()
}

/// "N rows", "1 row".
pub fn rows(n: usize) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{n} rows")
    }
}

pub use super::strings::short_id;

/// Dates in lists: compact and sortable.
pub fn when(at: &chrono::DateTime<chrono::Utc>) -> String {
    super::clock::format(at, "%Y-%m-%d %H:%M")
}

/// `s` and `S` on a list's order; true if the order changed.
pub fn resort<K: SortKey>(order: &mut Order<K>, action: Action) -> bool {
    *order = match action {
        Action::SortNext => order.cycled(),
        Action::SortReverse => order.reversed(),
        _ => return false,
    };
    true
}

/// What the header marks as the sort: the column's title and its direction.
pub fn sort_mark<K: SortKey>(order: &Order<K>) -> Option<super::table::SortMark> {
    Some(super::table::SortMark {
        title: order.key.label(),
        descending: order.descending,
    })
}

/// " · by Updated ▼" for a title, where the order is not the list's default.
pub fn sort_title<K: SortKey>(order: &Order<K>) -> String {
    if *order == Order::default() {
        String::new()
    } else {
        format!(
            " · by {} {}",
            order.key.label(),
            super::table::arrow(order.descending)
        )
    }
}

/// Draws a list's rows and, under them, its status (loading, empty, error, capped).
pub fn draw_list(
    buf: &mut Buffer,
    area: Rect,
    columns: &[super::table::Column],
    rows: &[super::table::TableRow],
    status: Option<String>,
    theme: &Theme,
) {
    draw_sorted_list(buf, area, columns, rows, status, None, theme);
}

/// [`draw_list`] with the sorted column marked in the header.
pub fn draw_sorted_list(
    buf: &mut Buffer,
    area: Rect,
    columns: &[super::table::Column],
    rows: &[super::table::TableRow],
    status: Option<String>,
    sort: Option<super::table::SortMark>,
    theme: &Theme,
) {
    super::table::draw(buf, area, columns, rows, sort, theme);
    let Some(status) = status else {
        return;
    };
    let y = area.y + 1 + rows.len() as u16;
    if y < area.y + area.height {
        let text = crate::sanitize::fit(&status, area.width.saturating_sub(2) as usize);
        buf.set_stringn(
            area.x + 2,
            y,
            &text,
            area.width.saturating_sub(2) as usize,
            theme.dim(),
        );
    }
}

/// Asks for the keys of every row of `query` ("mark all" or "invert"); returns what
/// the pane waits for.
pub fn request_keys(
    cx: &mut Cx,
    query: Query,
    invert: bool,
    scope: Scope,
) -> (Effect, Option<KeysRequest>) {
    let seq = cx.next_seq();
    let stop = Arc::new(AtomicBool::new(false));
    cx.send(Request::Ids {
        seq,
        query,
        cap: MARK_ALL_CAP,
        stop: stop.clone(),
    });
    let what = if invert {
        "inverting marks…"
    } else {
        "marking all matching rows…"
    };
    (
        Effect::Status(what.into()),
        Some(KeysRequest {
            seq,
            invert,
            under: scope.key,
            stop,
        }),
    )
}

/// The common words of a list's footer: loading, errors, the cap.
pub fn list_status<R, C: Clone>(list: &ListView<R, C>, filtered: bool) -> Option<String> {
    if let Some(e) = &list.error {
        return Some(format!("error: {e}"));
    }
    if list.rows.is_empty() {
        return Some(if list.pending.is_some() {
            super::strings::LOADING.into()
        } else if filtered {
            super::strings::NO_MATCH.into()
        } else {
            super::strings::NO_ROWS.into()
        });
    }
    if list.is_capped() {
        return Some(super::strings::CAPPED.into());
    }
    None
}
