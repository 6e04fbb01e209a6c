//! Comments: comments and reviews on books together, most recently changed first; `e`
//! edits one in place, Enter shows it in full.

use std::collections::HashMap;

use crate::batch::Group;
use crate::db::Id;
use crate::db::ops::OpKind;
use crate::tui::popup::Subject;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::chats::{allowed, refuse};
use super::{
    Cx, DeleteIntent, Effect, KeysRequest, Pane, Scope, Typed, cancel_keys, draw_sorted_list,
    find_or_say, list_status, mark, navigate, page_if_needed, reload, request_keys, resort,
    sort_mark, sort_title, when,
};
use crate::db::comments::ContentKind;
use crate::db::lists::{ContentFilter, ContentRow, ContentSort, Order, Seek, SortCursor};
use crate::db::{DataError, Permission};
use crate::sanitize::fit;
use crate::tui::keymap::Action;
use crate::tui::list::{ListView, Marks};
use crate::tui::table::{Column, TableRow};
use crate::tui::theme::Theme;
use crate::tui::worker::{Detail, PageData, Query, RowKey, Slot};

const COLUMNS: [Column; 7] = [
    Column::fixed("Kind", 7),
    Column::fixed("Book", 20).from(90),
    Column::fixed("Author", 14),
    Column::fixed("Rating", 6),
    Column::flex("Text"),
    Column::time("Updated", 16).from(76),
    Column::number("v", 3).from(110),
];

#[derive(Default, Clone)]
pub struct ContentPane {
    pub list: ListView<ContentRow, SortCursor>,
    pub marks: Marks,
    /// The kind of each marked item: a delete is one operation per kind.
    pub kinds: HashMap<Id, ContentKind>,
    pub filter: ContentFilter,
    pub order: Order<ContentSort>,
    pub user_name: Option<String>,
    keys_request: Option<KeysRequest>,
    started: bool,
}

fn stars(rating: Option<i64>) -> String {
    match rating {
        Some(r) => format!(
            "{}{}",
            "★".repeat(r.clamp(0, 5) as usize),
            "☆".repeat((5 - r.clamp(0, 5)) as usize)
        ),
        None => String::new(),
    }
}

fn cells(r: &ContentRow) -> Vec<String> {
    vec![
        r.kind.as_str().into(),
        r.book_title.clone(),
        r.author_name
            .clone()
            .unwrap_or_else(|| "deleted user".into()),
        stars(r.rating),
        r.excerpt.clone(),
        when(&r.updated_at),
        r.version.map(|v| v.to_string()).unwrap_or_default(),
    ]
}

impl ContentPane {
    fn reload(&mut self, cx: &mut Cx) {
        self.started = true;
        let query = Query::Content {
            filter: self.filter.clone(),
            order: self.order,
            seek: Seek::First,
        };
        reload(&mut self.list, Slot::Content, cx, query);
    }

    fn page(&mut self, cx: &mut Cx) {
        let (filter, order) = (self.filter.clone(), self.order);
        page_if_needed(&mut self.list, Slot::Content, cx, |seek| Query::Content {
            filter,
            order,
            seek,
        });
    }

    fn is_filtered(&self) -> bool {
        self.filter != ContentFilter::default()
    }

    fn remember_kinds(&mut self) {
        for row in &self.list.rows {
            if self.marks.contains(&row.id) {
                self.kinds.insert(row.id.clone(), row.kind);
            }
        }
        self.kinds.retain(|id, _| self.marks.contains(id));
    }

    fn delete(&self, cx: &Cx) -> Effect {
        if let Some(refusal) = refuse(cx, Permission::DeleteContent) {
            return refusal;
        }
        let mut comments = Vec::new();
        let mut reviews = Vec::new();
        let mut hidden = 0;
        if self.marks.is_empty() {
            match self.list.selected_row() {
                Some(row) if row.kind == ContentKind::Comment => comments.push(row.id.clone()),
                Some(row) => reviews.push(row.id.clone()),
                None => return Effect::Status(crate::tui::strings::NOTHING_SELECTED.into()),
            }
        } else {
            let shown: std::collections::HashSet<Id> =
                self.list.rows.iter().map(|r| r.id.clone()).collect();
            hidden = super::hidden(&self.marks, &shown, Scope::of(&self.filter));
            let mut ids: Vec<&Id> = self.marks.ids.iter().collect();
            ids.sort();
            for id in ids {
                match self.kinds.get(id) {
                    Some(ContentKind::Review) => reviews.push(id.clone()),
                    _ => comments.push(id.clone()),
                }
            }
        }
        let mut groups = Vec::new();
        if !comments.is_empty() {
            groups.push(Group::new(OpKind::DeleteComments, comments));
        }
        if !reviews.is_empty() {
            groups.push(Group::new(OpKind::DeleteReviews, reviews));
        }
        let kind = match groups.as_slice() {
            [only] => Subject::of(only.kind),
            _ => Subject::content(),
        };
        Effect::Intent(DeleteIntent {
            kind,
            groups,
            hidden,
            typed: Typed::IfLarge,
            lookalikes: Default::default(),
        })
    }
}

impl Pane for ContentPane {
    fn on_action(&mut self, action: Action, cx: &mut Cx) -> Effect {
        if !self.started {
            self.reload(cx);
        }
        if navigate(&mut self.list, action) {
            self.page(cx);
            return Effect::None;
        }
        if resort(&mut self.order, action) {
            self.reload(cx);
            return Effect::None;
        }
        if mark(
            &mut self.list,
            &mut self.marks,
            action,
            |r| r.id.clone(),
            Scope::of(&self.filter),
        ) {
            self.remember_kinds();
            self.page(cx);
            return Effect::None;
        }
        match action {
            Action::Open => match self.list.selected_row() {
                Some(row) => Effect::Detail(Detail::Content(row.kind, row.id.clone())),
                None => Effect::None,
            },
            Action::Edit => {
                if let Some(refusal) = refuse(cx, Permission::EditContent) {
                    return refusal;
                }
                match self.list.selected_row() {
                    Some(row) => Effect::Edit(row.kind, row.id.clone()),
                    None => Effect::Status(crate::tui::strings::NOTHING_SELECTED.into()),
                }
            }
            Action::Back => {
                if let Some(stopped) = cancel_keys(&mut self.keys_request) {
                    return stopped;
                }
                if !self.marks.is_empty() {
                    self.marks.clear();
                    self.kinds.clear();
                } else if self.is_filtered() {
                    self.filter = ContentFilter::default();
                    self.user_name = None;
                    self.reload(cx);
                }
                Effect::None
            }
            Action::Delete => self.delete(cx),
            Action::MarkAll | Action::InvertMarks => {
                let (effect, waiting) = request_keys(
                    cx,
                    Query::Content {
                        filter: self.filter.clone(),
                        order: self.order,
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
            (Slot::Content, Ok(PageData::Content(page))) => {
                self.list.accept(seq, page.rows, page.next);
            }
            (Slot::Content, Err(e)) => {
                self.list.fail(seq, e.to_string());
            }
            _ => {}
        }
        self.page(cx);
    }

    fn on_keys(&mut self, seq: u64, keys: Vec<RowKey>) -> Effect {
        match KeysRequest::answered_by(&mut self.keys_request, seq) {
            Some(KeysRequest { invert, under, .. }) => {
                for key in &keys {
                    if invert && self.marks.contains(&key.id) {
                        self.marks.toggle(key.id.clone(), under);
                        self.kinds.remove(&key.id);
                    } else {
                        self.marks.insert(key.id.clone(), under);
                        self.kinds
                            .insert(key.id.clone(), key.kind.unwrap_or(ContentKind::Comment));
                    }
                }
                Effect::Status(format!(
                    "{} {}",
                    if invert { "inverted" } else { "marked" },
                    crate::tui::strings::plural(
                        keys.len() as i64,
                        "matching item",
                        "matching items"
                    )
                ))
            }
            _ => Effect::None,
        }
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
        if name == "goto" {
            let effect = super::goto_loaded(&mut self.list, arg, |r| r.id.to_string());
            self.page(cx);
            return effect;
        }
        let kind = match name {
            "comments" => Some(ContentKind::Comment),
            "reviews" => Some(ContentKind::Review),
            "all" => None,
            _ => {
                return Effect::Error(format!(
                    ":{} does nothing here (try :comments, :reviews, :all)",
                    fit(name, 20)
                ));
            }
        };
        self.filter.kind = kind;
        self.reload(cx);
        Effect::None
    }

    fn refresh(&mut self, cx: &mut Cx) {
        self.reload(cx);
    }

    fn after_operation(&mut self, done: &[Id], cx: &mut Cx) {
        for id in done {
            self.marks.ids.remove(id);
            self.kinds.remove(id);
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
        if allowed(cx, Permission::EditContent) {
            hints.push(Action::Edit);
        }
        if allowed(cx, Permission::DeleteContent) {
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
        let mut title = String::from(match self.filter.kind {
            None => "Comments and reviews",
            Some(ContentKind::Comment) => "Comments",
            Some(ContentKind::Review) => "Reviews",
        });
        if let Some(user) = &self.user_name {
            title.push_str(&format!(" · by {}", fit(user, 24)));
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
            .map(|(i, r)| TableRow {
                cells: cells(r),
                cursor: i == self.list.selected,
                marked: self.marks.contains(&r.id),
                flag: None,
                style: None,
            })
            .collect();
        draw_sorted_list(
            buf,
            area,
            &COLUMNS,
            &rows,
            list_status(&self.list, self.is_filtered()),
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
        if slot == Slot::Content {
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
