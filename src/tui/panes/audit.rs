//! Audit: the record, newest first; filter by actor, action or target; Enter shows a
//! row in full: counts, reason, and old and new text for edits.

use std::collections::HashSet;

use crate::db::Id;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use uuid::Uuid;

use super::chats::{allowed, refuse};
use super::{
    Cx, Effect, Pane, draw_sorted_list, find_or_say, list_status, navigate, page_if_needed, reload,
    resort, sort_mark, sort_title,
};
use crate::db::audit::{AuditEntry, AuditFilter, AuditSort};
use crate::db::lists::{Order, Seek, SortCursor, SortValue};
use crate::db::{DataError, Permission};
use crate::sanitize::{clean_lines, fit};
use crate::tui::keymap::Action;
use crate::tui::list::ListView;
use crate::tui::popup::{Popup, TextView};
use crate::tui::strings;
use crate::tui::table::{Column, TableRow};
use crate::tui::theme::Theme;
use crate::tui::worker::{PageData, Query, Slot};

const COLUMNS: [Column; 6] = [
    Column::number("#", 7).from(90),
    Column::time("At", 19),
    Column::fixed("Actor", 14),
    Column::fixed("Action", 24),
    Column::flex("Target"),
    Column::fixed("Reason", 20).from(120),
];

#[derive(Default, Clone)]
pub struct AuditPane {
    pub list: ListView<AuditEntry, SortCursor>,
    pub filter: AuditFilter,
    pub order: Order<AuditSort>,
    pub before: Option<i64>,
    pub text: String,
    started: bool,
    /// The hash chain's state, once checked (SPEC §11).
    chain: Option<Result<crate::db::audit::ChainReport, String>>,
    chain_seq: Option<u64>,
    /// Batches shown row by row; the others show their first row as a header.
    pub expanded: HashSet<Uuid>,
    /// Ticks since the record was last asked for rows newer than those shown.
    quiet_ticks: u32,
    /// The ask for newer rows that is out, if one is.
    since_seq: Option<u64>,
}

/// Ticks (120 ms each) between two asks for new audit rows while the pane is shown.
const REFRESH_TICKS: u32 = 25;

/// Where a row stands in its batch, as the list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InBatch {
    /// The only row of its batch.
    Alone,
    /// The first row of a batch of this many loaded rows.
    Head { rows: usize, expanded: bool },
    /// A later row of an expanded batch.
    Member,
    /// A later row of a collapsed batch: not shown.
    Hidden,
}

fn cells(e: &AuditEntry) -> Vec<String> {
    vec![
        e.id.to_string(),
        crate::tui::clock::format(&e.at, "%Y-%m-%d %H:%M:%S"),
        e.actor_name.clone(),
        e.action.clone(),
        e.target_label.clone(),
        e.reason.clone().unwrap_or_default(),
    ]
}

/// A delete's own rows and its summary: the only batches the trash keeps.
fn is_delete(action: &str) -> bool {
    action.ends_with(".delete") || action.ends_with(".delete.bulk")
}

/// `actor:NAME`, `action:X`, `target:T`, or plain text that matches any of them.
pub fn parse_filter(text: &str) -> AuditFilter {
    let mut filter = AuditFilter::default();
    let mut plain = Vec::new();
    for word in text.split_whitespace() {
        if let Some(v) = word.strip_prefix("actor:") {
            filter.actor = Some(v.to_string());
        } else if let Some(v) = word.strip_prefix("action:") {
            filter.action = Some(v.to_string());
        } else if let Some(v) = word.strip_prefix("target:") {
            filter.target = Some(v.to_string());
        } else {
            plain.push(word);
        }
    }
    if !plain.is_empty() {
        filter.text = Some(plain.join(" "));
    }
    filter
}

/// An audit row's counts: our tables first, in plan order, by readable names; numbers
/// in one column.
fn count_lines(counts: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    let mut entries: Vec<_> = counts.iter().collect();
    entries.sort_by_key(|(table, _)| strings::table_rank(table));
    entries
        .into_iter()
        .map(|(table, n)| match n.as_i64() {
            Some(n) => format!("  {n:>8}  {}", strings::table_name(table, n)),
            None => format!(
                "  {:>8}  {}",
                crate::sanitize::fit(&n.to_string(), 8),
                strings::table_name(table, 2)
            ),
        })
        .collect()
}

/// An audit row in full, every database string sanitised.
pub fn detail(entry: &AuditEntry, theme: &Theme) -> Popup {
    let head = |k: &str, v: String| (format!("{k:<12} {v}"), Style::default());
    let mut lines = vec![
        head("row", entry.id.to_string()),
        head(
            "at",
            format!(
                "{} {}",
                crate::tui::clock::format(&entry.at, "%Y-%m-%d %H:%M:%S%.3f"),
                crate::tui::clock::label()
            ),
        ),
        head(
            "actor",
            format!(
                "{}{}",
                crate::sanitize::clean_line(&entry.actor_name),
                entry
                    .actor_id
                    .as_deref()
                    .map(|id| format!("  ({})", crate::sanitize::clean_line(id)))
                    .unwrap_or_default()
            ),
        ),
        head("action", crate::sanitize::clean_line(&entry.action)),
        head(
            "target",
            format!(
                "{} {}",
                crate::sanitize::clean_line(&entry.target_type),
                crate::sanitize::clean_line(entry.target_id.as_deref().unwrap_or_default())
            ),
        ),
        head("label", crate::sanitize::clean_line(&entry.target_label)),
        head("batch", entry.batch_id.to_string()),
        head(
            "reason",
            entry
                .reason
                .as_deref()
                .map(crate::sanitize::clean_line)
                .unwrap_or_else(|| "—".into()),
        ),
    ];
    if let Some(counts) = entry.counts.as_object().filter(|c| !c.is_empty()) {
        lines.push(("counts".into(), theme.header()));
        lines.extend(
            count_lines(counts)
                .into_iter()
                .map(|l| (l, Style::default())),
        );
    }
    if let Some(details) = entry.details.as_object() {
        for key in ["old_text", "new_text", "content"] {
            if let Some(text) = details.get(key).and_then(|v| v.as_str()) {
                let title = match key {
                    "old_text" => "old text",
                    "new_text" => "new text",
                    _ => "text",
                };
                lines.push((format!("── {title} ──"), theme.header()));
                lines.extend(clean_lines(text).into_iter().map(|l| (l, Style::default())));
            }
        }
        let rest: serde_json::Map<String, serde_json::Value> = details
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "old_text" | "new_text" | "content"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !rest.is_empty() {
            lines.push(("── details ──".into(), theme.header()));
            let pretty = serde_json::to_string_pretty(&rest).unwrap_or_default();
            lines.extend(
                clean_lines(&pretty)
                    .into_iter()
                    .map(|l| (l, Style::default())),
            );
        }
    }
    Popup::Text(TextView::new(format!("Audit row {}", entry.id), lines))
}

impl AuditPane {
    fn in_batch(&self, i: usize) -> InBatch {
        let rows = &self.list.rows;
        let Some(entry) = rows.get(i) else {
            return InBatch::Alone;
        };
        let same = |j: usize| rows.get(j).is_some_and(|e| e.batch_id == entry.batch_id);
        let expanded = self.expanded.contains(&entry.batch_id);
        if i > 0 && same(i - 1) {
            return if expanded {
                InBatch::Member
            } else {
                InBatch::Hidden
            };
        }
        let size = rows[i..]
            .iter()
            .take_while(|e| e.batch_id == entry.batch_id)
            .count();
        if size > 1 {
            InBatch::Head {
                rows: size,
                expanded,
            }
        } else {
            InBatch::Alone
        }
    }

    /// After a move: off the rows a collapsed batch hides, onward in the direction
    /// moved, or back to the batch's header at the end of what is loaded.
    fn skip_hidden(&mut self, down: bool) {
        let mut at = self.list.selected;
        if down {
            while at + 1 < self.list.rows.len() && self.in_batch(at) == InBatch::Hidden {
                at += 1;
            }
        }
        while at > 0 && self.in_batch(at) == InBatch::Hidden {
            at -= 1;
        }
        self.list.selected = at;
        self.list.clamp();
    }

    /// Every `REFRESH_TICKS` while shown: the rows newer than the newest shown, where
    /// the list shows the newest rows first from the head.
    fn refresh_newest(&mut self, cx: &mut Cx) {
        self.quiet_ticks += 1;
        if self.quiet_ticks < REFRESH_TICKS {
            return;
        }
        self.quiet_ticks = 0;
        let at_head = !self.list.tail && self.before.is_none() && self.order == Order::default();
        // A page further down may be out: new rows go above it, it goes below.
        if !self.started || !at_head || self.since_seq.is_some() {
            return;
        }
        let Some(newest) = self.list.rows.first().map(|e| e.id) else {
            return;
        };
        let query = Query::AuditSince {
            filter: self.filter.clone(),
            after_id: newest,
        };
        self.since_seq = Some(cx.load(Slot::Audit, query));
    }

    /// New rows (oldest first) go above those shown; the cursor stays on its row, or
    /// on the newest when it was there.
    fn take_newer(&mut self, mut newer: Vec<AuditEntry>) {
        let newest = self.list.rows.first().map_or(0, |e| e.id);
        newer.retain(|e| e.id > newest);
        if newer.is_empty() {
            return;
        }
        newer.reverse();
        let added = newer.len();
        let at_top = self.list.selected == 0;
        newer.append(&mut self.list.rows);
        self.list.rows = newer;
        if !at_top {
            self.list.selected += added;
            self.list.offset += added;
        }
        if let Some(total) = &mut self.list.total {
            *total += added as u64;
        }
        self.list.clamp();
    }

    fn reload(&mut self, cx: &mut Cx) {
        self.started = true;
        let query = Query::Audit {
            filter: self.filter.clone(),
            order: self.order,
            seek: self.start(),
        };
        reload(&mut self.list, Slot::Audit, cx, query);
        self.chain_seq = Some(cx.load(Slot::AuditChain, Query::AuditChain));
    }

    /// `u`: the restore plan of the batch of the delete under the cursor.
    fn restore(&self, cx: &Cx) -> Effect {
        if let Some(refusal) = refuse(cx, Permission::RestoreTrash) {
            return refusal;
        }
        let Some(entry) = self.list.selected_row() else {
            return Effect::Status(strings::NOTHING_TO_RESTORE.into());
        };
        if !is_delete(&entry.action) {
            return Effect::Popup(Box::new(Popup::Text(TextView::message(
                &strings::cannot_restore(&entry.batch_id),
                &strings::not_a_delete(entry.id, &entry.action),
                Theme::from_env().warning(),
            ))));
        }
        Effect::Restore {
            batch_id: entry.batch_id,
            about: format!(
                "row {}: {} by {} at {} {}",
                entry.id,
                crate::sanitize::clean_line(&entry.action),
                crate::sanitize::clean_line(&entry.actor_name),
                crate::tui::clock::format(&entry.at, "%Y-%m-%d %H:%M:%S"),
                crate::tui::clock::label()
            ),
        }
    }

    /// Where the list starts: the head, or below a row `:goto` named.
    fn start(&self) -> Seek<SortCursor> {
        match self.before {
            Some(before) if self.order == Order::default() => Seek::After(SortCursor {
                value: SortValue::Int(before),
                id: Id::Int(before),
            }),
            _ => Seek::First,
        }
    }

    fn page(&mut self, cx: &mut Cx) {
        let (filter, order) = (self.filter.clone(), self.order);
        page_if_needed(&mut self.list, Slot::Audit, cx, |seek| Query::Audit {
            filter,
            order,
            seek,
        });
    }
}

impl Pane for AuditPane {
    fn on_action(&mut self, action: Action, cx: &mut Cx) -> Effect {
        if !self.started {
            self.reload(cx);
        }
        let was = self.list.selected;
        if navigate(&mut self.list, action) {
            let down = self.list.selected > was
                || (self.list.selected == was && matches!(action, Action::Down));
            self.skip_hidden(down);
            self.page(cx);
            return Effect::None;
        }
        if resort(&mut self.order, action) {
            self.before = None;
            self.reload(cx);
            return Effect::None;
        }
        match action {
            Action::Open => {
                // Enter on a collapsed batch shows its rows; on a row, the row in full.
                if let InBatch::Head {
                    expanded: false, ..
                } = self.in_batch(self.list.selected)
                    && let Some(entry) = self.list.selected_row()
                {
                    self.expanded.insert(entry.batch_id);
                    return Effect::None;
                }
                match self.list.selected_row() {
                    Some(entry) => Effect::Popup(Box::new(detail(entry, &Theme::from_env()))),
                    None => Effect::None,
                }
            }
            Action::Back if !self.expanded.is_empty() => {
                // Fold the batches back first, the cursor on its batch's header.
                self.expanded.clear();
                self.skip_hidden(false);
                Effect::None
            }
            Action::Back => {
                if !self.text.is_empty() || self.before.is_some() {
                    self.text.clear();
                    self.filter = AuditFilter::default();
                    self.before = None;
                    self.reload(cx);
                }
                Effect::None
            }
            Action::NextMatch | Action::PrevMatch => {
                let needle = self.filter.text.clone().unwrap_or_default();
                find_or_say(&mut self.list, &needle, action, |e| cells(e).join(" "))
            }
            Action::Refresh => {
                self.reload(cx);
                Effect::None
            }
            Action::Restore => self.restore(cx),
            Action::Delete | Action::Mark | Action::MarkAll | Action::Edit => {
                Effect::Status("the audit record is append-only".into())
            }
            _ => Effect::None,
        }
    }

    fn on_page(&mut self, slot: Slot, seq: u64, result: Result<PageData, DataError>, cx: &mut Cx) {
        match (slot, result) {
            (Slot::AuditChain, result) => {
                // Only the newest check counts.
                if self.chain_seq == Some(seq) {
                    self.chain = Some(match result {
                        Ok(PageData::AuditChain(report)) => Ok(report),
                        Ok(_) => Err("an unexpected answer".into()),
                        Err(e) => Err(e.to_string()),
                    });
                }
                return;
            }
            (Slot::Audit, Ok(PageData::AuditSince(newer))) => {
                if self.since_seq == Some(seq) {
                    self.since_seq = None;
                    self.take_newer(newer);
                }
                return;
            }
            (Slot::Audit, Err(_)) if self.since_seq == Some(seq) => {
                // Asked again at the next round; the rows shown stay.
                self.since_seq = None;
                return;
            }
            (Slot::Audit, Ok(PageData::Audit(page))) => {
                self.list.accept(seq, page.rows, page.next);
                if self.list.tail {
                    // Rows come in above: a collapsed batch's header may have moved.
                    self.skip_hidden(false);
                }
            }
            (Slot::Audit, Err(e)) => {
                self.list.fail(seq, e.to_string());
            }
            _ => {}
        }
        self.page(cx);
    }

    fn set_filter(&mut self, text: &str, cx: &mut Cx) {
        self.text = text.to_string();
        self.filter = parse_filter(text);
        self.reload(cx);
    }

    fn filter_text(&self) -> String {
        self.text.clone()
    }

    fn command(&mut self, name: &str, arg: &str, cx: &mut Cx) -> Effect {
        match name {
            "goto" => match arg.trim().parse::<i64>() {
                Ok(id) => {
                    self.order = Order::default();
                    self.before = Some(id.saturating_add(1));
                    self.reload(cx);
                    Effect::Status("Esc goes back to the newest rows".into())
                }
                Err(_) => Effect::Error(format!("not an audit row number: {}", fit(arg, 40))),
            },
            _ => Effect::Error(format!(":{} does nothing here", fit(name, 20))),
        }
    }

    fn refresh(&mut self, cx: &mut Cx) {
        self.reload(cx);
    }

    fn after_operation(&mut self, _done: &[Id], cx: &mut Cx) {
        if self.started {
            self.reload(cx);
        }
    }

    fn marked(&self) -> usize {
        0
    }

    fn hints(&self, cx: &Cx) -> Vec<Action> {
        let mut hints = vec![Action::Open];
        if allowed(cx, Permission::RestoreTrash) {
            hints.push(Action::Restore);
        }
        hints.extend([
            Action::Filter,
            Action::CommandLine,
            Action::Refresh,
            Action::Help,
            Action::Quit,
        ]);
        hints
    }

    fn title(&self) -> String {
        let mut title = String::from("Audit record");
        title.push_str(if self.order == Order::default() {
            " · newest first"
        } else {
            ""
        });
        match &self.chain {
            None => title.push_str(" · checking the hash chain…"),
            Some(Ok(report)) => match &report.broken {
                None => title.push_str(&format!(" · chain intact ({} rows)", report.rows)),
                Some(broken) => title.push_str(&format!(
                    " · ⚠ CHAIN BROKEN: {}",
                    crate::sanitize::clean_line(&broken.to_string())
                )),
            },
            Some(Err(e)) => title.push_str(&format!(
                " · chain not checked: {}",
                crate::sanitize::clean_line(e)
            )),
        }
        if !self.text.is_empty() {
            title.push_str(&format!(" · /{}", fit(&self.text, 30)));
        }
        if let Some(before) = self.before {
            title.push_str(&format!(" · from #{}", before - 1));
        }
        title.push_str(&sort_title(&self.order));
        title
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let rows: Vec<TableRow> = self
            .list
            .rows
            .iter()
            .enumerate()
            .skip(self.list.offset)
            .filter_map(|(i, e)| {
                let mut cells = cells(e);
                match self.in_batch(i) {
                    InBatch::Hidden => return None,
                    InBatch::Alone => {}
                    InBatch::Head { rows, expanded } => {
                        let sign = if expanded { "▾" } else { "▸" };
                        cells[3] = format!("{sign} {} rows · {}", rows, cells[3]);
                    }
                    InBatch::Member => cells[3] = format!("  └ {}", cells[3]),
                }
                Some(TableRow {
                    cells,
                    cursor: i == self.list.selected,
                    marked: false,
                    flag: None,
                    style: e.action.contains("failed").then(|| theme.warning()),
                })
            })
            .take(self.list.height)
            .collect();
        draw_sorted_list(
            buf,
            area,
            &COLUMNS,
            &rows,
            list_status(&self.list, !self.text.is_empty()),
            sort_mark(&self.order),
            theme,
        );
    }

    fn select_visible(&mut self, row: usize, cx: &mut Cx) -> bool {
        let selected = self.list.select_visible(row);
        self.page(cx);
        selected
    }

    fn on_tick(&mut self, cx: &mut Cx) {
        self.refresh_newest(cx);
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
        if slot == Slot::Audit {
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
        self.list.pending.is_some()
    }
}
