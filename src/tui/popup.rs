//! The one popup slot's contents. While a popup is open it takes every key. The
//! confirmation is built from the operation and the plan the database returned;
//! confirming sends those same plans back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Gauge, Paragraph, Widget, Wrap};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::keymap::{Action, Context, Keymap};
use super::panes::Typed;
use super::strings;
use super::theme::Theme;
use super::worker::OpKind;
use crate::db::DataError;
use crate::db::comments::{ContentEdit, ContentItem, ContentKind};
use crate::db::ids::{MAX_REASON_CHARS, Reason};
use crate::db::plan::{ContentPolicy, Outcome, Plan, RowCounts, Table};
use crate::sanitize::{clean_lines, fit};

pub enum Popup {
    Confirm(Confirm),
    Progress(Progress),
    Outcome(Report),
    Text(TextView),
    Editor(Editor),
    Conflict(Conflict),
}

/// What a popup asks of the app after a key.
pub enum PopupEffect {
    None,
    Close,
    /// Execute these plans (the reason is set in them).
    Execute(Vec<Plan>),
    /// Plan again with another content policy (user deletes).
    Replan(OpKind),
    /// Stop after the current batch.
    Stop,
    /// Save an edit of a comment or review.
    Save(ContentEdit),
    /// Open the editor again (after a conflict), with the operator's text.
    Reopen(Box<Editor>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Typed,
    Reason,
    Policy,
    Cancel,
    Delete,
}

pub struct Confirm {
    pub kind: OpKind,
    pub plans: Vec<Plan>,
    pub hidden: usize,
    pub typed_rule: Typed,
    pub typed_above: usize,
    pub reason_required: bool,
    pub typed: Input,
    pub reason: Input,
    pub focus: Focus,
    /// The plan changed under a confirmation: this is the new one.
    pub changed: bool,
    pub message: Option<String>,
    pub replanning: bool,
    pub scroll: u16,
}

/// Table order in a plan: messages first, then what goes with them, the targets last.
const PLAN_ORDER: [Table; 10] = [
    Table::ChatMessages,
    Table::Messages,
    Table::Comments,
    Table::Reviews,
    Table::GuildMembers,
    Table::GuildSettings,
    Table::AppSessions,
    Table::ChatSessions,
    Table::Guilds,
    Table::Users,
];

fn ordered(counts: &RowCounts) -> Vec<(Table, i64)> {
    PLAN_ORDER
        .iter()
        .map(|t| (*t, counts.get(*t)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn sum(plans: &[Plan], pick: impl Fn(&Plan) -> &RowCounts) -> RowCounts {
    let mut total = RowCounts::new();
    for plan in plans {
        total.add_all(pick(plan));
    }
    total
}

impl Confirm {
    pub fn new(
        kind: OpKind,
        plans: Vec<Plan>,
        hidden: usize,
        typed_rule: Typed,
        typed_above: usize,
        reason_required: bool,
    ) -> Confirm {
        Confirm {
            kind,
            plans,
            hidden,
            typed_rule,
            typed_above,
            reason_required,
            typed: Input::default(),
            reason: Input::default(),
            focus: Focus::Cancel,
            changed: false,
            message: None,
            replanning: false,
            scroll: 0,
        }
    }

    pub fn target_count(&self) -> usize {
        self.plans.iter().map(|p| p.targets.len()).sum()
    }

    /// The text the operator must type, if any.
    pub fn must_type(&self) -> Option<String> {
        match &self.typed_rule {
            Typed::Name(name) => Some(name.clone()),
            Typed::Count => Some(self.target_count().to_string()),
            Typed::IfLarge if self.target_count() > self.typed_above => {
                Some(self.target_count().to_string())
            }
            Typed::IfLarge => None,
        }
    }

    fn is_repair(&self) -> bool {
        self.kind == OpKind::RepairOrphans
    }

    fn policy(&self) -> Option<ContentPolicy> {
        match self.kind {
            OpKind::DeleteUsers(policy) => Some(policy),
            _ => None,
        }
    }

    fn fields(&self) -> Vec<Focus> {
        let mut fields = Vec::new();
        if self.must_type().is_some() {
            fields.push(Focus::Typed);
        }
        fields.push(Focus::Reason);
        if self.policy().is_some() {
            fields.push(Focus::Policy);
        }
        fields.extend([Focus::Cancel, Focus::Delete]);
        fields
    }

    fn move_focus(&mut self, forward: bool) {
        let fields = self.fields();
        let at = fields.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = fields.len();
        self.focus = fields[if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        }];
    }

    /// Why confirming is not possible yet, if it is not.
    pub fn blocked(&self) -> Option<String> {
        if self.replanning {
            return Some("planning again…".into());
        }
        if self.target_count() == 0 {
            return Some("nothing to do: every target was refused".into());
        }
        if let Some(expected) = self.must_type()
            && self.typed.value().trim() != expected
        {
            return Some(format!("type {} to confirm", fit(&expected, 40)));
        }
        let reason = self.reason.value();
        if reason.chars().count() > MAX_REASON_CHARS {
            return Some(format!("the reason is over {MAX_REASON_CHARS} characters"));
        }
        if self.reason_required && reason.trim().is_empty() {
            return Some("a reason is required".into());
        }
        None
    }

    fn confirm(&mut self) -> PopupEffect {
        if let Some(why) = self.blocked() {
            self.message = Some(why);
            return PopupEffect::None;
        }
        let reason = match Reason::new(Some(self.reason.value())) {
            Ok(reason) => reason,
            Err(e) => {
                self.message = Some(e.to_string());
                return PopupEffect::None;
            }
        };
        let plans = self
            .plans
            .iter()
            .filter(|p| !p.targets.is_empty())
            .cloned()
            .map(|mut p| {
                p.request.reason = reason.clone();
                p
            })
            .collect();
        PopupEffect::Execute(plans)
    }

    fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap) -> PopupEffect {
        if key.code == KeyCode::Esc {
            return PopupEffect::Close;
        }
        match self.focus {
            Focus::Typed | Focus::Reason => {
                match key.code {
                    KeyCode::Tab | KeyCode::Enter | KeyCode::Down => self.move_focus(true),
                    KeyCode::BackTab | KeyCode::Up => self.move_focus(false),
                    _ => {
                        let input = if self.focus == Focus::Typed {
                            &mut self.typed
                        } else {
                            &mut self.reason
                        };
                        input.handle_event(&ratatui::crossterm::event::Event::Key(*key));
                        self.message = None;
                    }
                }
                PopupEffect::None
            }
            Focus::Policy
                if matches!(
                    key.code,
                    KeyCode::Char(' ') | KeyCode::Left | KeyCode::Right
                ) =>
            {
                let next = match self.policy() {
                    Some(ContentPolicy::Keep) => ContentPolicy::Delete,
                    _ => ContentPolicy::Keep,
                };
                self.kind = OpKind::DeleteUsers(next);
                self.replanning = true;
                PopupEffect::Replan(self.kind)
            }
            _ => match keymap.action(Context::Popup, key) {
                Some(Action::Confirm) => self.confirm(),
                Some(Action::Cancel) => PopupEffect::Close,
                Some(Action::NextField) => {
                    self.move_focus(true);
                    PopupEffect::None
                }
                Some(Action::PrevField) => {
                    self.move_focus(false);
                    PopupEffect::None
                }
                Some(Action::Press) => match self.focus {
                    Focus::Delete => self.confirm(),
                    Focus::Cancel => PopupEffect::Close,
                    _ => {
                        self.move_focus(true);
                        PopupEffect::None
                    }
                },
                Some(Action::Down) => {
                    self.scroll = self.scroll.saturating_add(1);
                    PopupEffect::None
                }
                Some(Action::Up) => {
                    self.scroll = self.scroll.saturating_sub(1);
                    PopupEffect::None
                }
                _ => PopupEffect::None,
            },
        }
    }

    fn title(&self) -> String {
        let n = self.target_count();
        let noun = noun(self.kind, n);
        if self.is_repair() {
            format!(" Repair {n} {noun} ")
        } else {
            format!(" Delete {n} {noun} ")
        }
    }

    fn lines(&self, theme: &Theme, width: usize) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        if self.changed {
            lines.push(Line::styled(strings::PLAN_CHANGED, theme.warning()));
            lines.push(Line::raw(""));
        }
        let counts = sum(&self.plans, |p| &p.counts);
        let kept = sum(&self.plans, |p| &p.kept);
        let verb = if self.is_repair() {
            "This gives an owner to:"
        } else {
            "This removes:"
        };
        lines.push(Line::styled(verb, theme.header()));
        if counts.is_empty() {
            lines.push(Line::raw("  nothing"));
        }
        for (table, n) in ordered(&counts) {
            lines.push(Line::raw(format!("  {n:>8}  {}", table.noun())));
        }
        if !kept.is_empty() {
            lines.push(Line::styled(
                "Kept, shown as by \"deleted user\":",
                theme.header(),
            ));
            for (table, n) in ordered(&kept) {
                lines.push(Line::raw(format!("  {n:>8}  {}", table.noun())));
            }
        }
        if self.hidden > 0 {
            lines.push(Line::styled(
                format!(
                    "{} of the marked rows are not in the list as it is filtered now.",
                    self.hidden
                ),
                theme.warning(),
            ));
        }
        let refused: Vec<_> = self.plans.iter().flat_map(|p| &p.refused).collect();
        if !refused.is_empty() {
            lines.push(Line::styled(
                format!("Refused ({}):", refused.len()),
                theme.header(),
            ));
            for r in refused.iter().take(50) {
                lines.push(Line::raw(format!(
                    "  {}  {}  — {}",
                    super::panes::short_id(&r.id),
                    fit(
                        r.label.as_deref().unwrap_or(""),
                        width.saturating_sub(40).max(8)
                    ),
                    r.reason
                )));
            }
            if refused.len() > 50 {
                lines.push(Line::raw(format!("  … and {} more", refused.len() - 50)));
            }
        }
        let targets: Vec<_> = self.plans.iter().flat_map(|p| &p.targets).collect();
        if !targets.is_empty() {
            lines.push(Line::styled("Targets:", theme.header()));
            for t in targets.iter().take(200) {
                let detail = match (&t.new_owner, t.counts.get(Table::ChatMessages)) {
                    (Some((_, owner)), _) => format!("→ {}", fit(owner, 20)),
                    (None, 0) => String::new(),
                    (None, m) => format!("{m} messages"),
                };
                lines.push(Line::raw(format!(
                    "  {}  {}  {detail}",
                    super::panes::short_id(&t.id),
                    fit(&t.label, width.saturating_sub(32).max(8)),
                )));
            }
            if targets.len() > 200 {
                lines.push(Line::raw(format!("  … and {} more", targets.len() - 200)));
            }
        }
        lines
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let title = self.title();
        let inner = frame(area, buf, &title, theme);
        if inner.height < 4 {
            return;
        }
        let mut footer: Vec<Line> = Vec::new();
        if let Some(policy) = self.policy() {
            let focused = self.focus == Focus::Policy;
            let (keep, delete) = match policy {
                ContentPolicy::Keep => ("(•) keep", "( ) delete"),
                ContentPolicy::Delete => ("( ) keep", "(•) delete"),
            };
            footer.push(Line::from(vec![
                Span::raw("Their comments, reviews, sent messages: "),
                Span::styled(format!("{keep}  {delete}"), theme.button(focused, true)),
                Span::styled(if focused { "  Space changes" } else { "" }, theme.dim()),
            ]));
        }
        if let Some(expected) = self.must_type() {
            footer.push(input_line(
                &format!("Type {} to confirm: ", fit(&expected, 30)),
                &self.typed,
                self.focus == Focus::Typed,
                theme,
            ));
        }
        let reason_label = if self.reason_required {
            "Reason: "
        } else {
            "Reason (optional): "
        };
        footer.push(input_line(
            reason_label,
            &self.reason,
            self.focus == Focus::Reason,
            theme,
        ));
        let enabled = self.blocked().is_none();
        let action = if self.is_repair() {
            " Repair "
        } else {
            " Delete "
        };
        footer.push(Line::from(vec![
            Span::raw("        "),
            Span::styled(
                format!(" {} ", strings::CANCEL),
                theme.button(self.focus == Focus::Cancel, true),
            ),
            Span::raw("   "),
            Span::styled(
                action,
                theme.danger_button(self.focus == Focus::Delete, enabled),
            ),
        ]));
        let message = self.message.clone().or_else(|| self.blocked());
        footer.push(match message {
            Some(m) => Line::styled(fit(&m, inner.width as usize), theme.warning()),
            None => Line::styled("y confirms · n/Esc cancels · Tab moves", theme.dim()),
        });
        let footer_height = (footer.len() as u16).min(inner.height.saturating_sub(1));
        let body = Rect::new(inner.x, inner.y, inner.width, inner.height - footer_height);
        let foot = Rect::new(inner.x, inner.y + body.height, inner.width, footer_height);
        Paragraph::new(self.lines(theme, inner.width as usize))
            .scroll((self.scroll, 0))
            .render(body, buf);
        Paragraph::new(footer).render(foot, buf);
    }
}

fn input_line(label: &str, input: &Input, focused: bool, theme: &Theme) -> Line<'static> {
    let value = crate::sanitize::clean_line(input.value());
    let shown = if value.chars().count() > 40 {
        let skip = value.chars().count() - 40;
        format!("…{}", value.chars().skip(skip + 1).collect::<String>())
    } else {
        value
    };
    let cursor = if focused { "▏" } else { "" };
    Line::from(vec![
        Span::raw(label.to_string()),
        Span::styled(format!("[{shown}{cursor}]"), theme.button(focused, true)),
    ])
}

pub fn noun(kind: OpKind, n: usize) -> &'static str {
    let (one, many) = match kind {
        OpKind::DeleteChatSessions | OpKind::RepairOrphans => ("chat session", "chat sessions"),
        OpKind::DeleteChatMessages => ("chat message", "chat messages"),
        OpKind::DeletePrivateMessages => ("message", "messages"),
        OpKind::DeleteComments => ("comment", "comments"),
        OpKind::DeleteReviews => ("review", "reviews"),
        OpKind::DeleteContent => ("comment or review", "comments and reviews"),
        OpKind::DeleteGuilds => ("guild", "guilds"),
        OpKind::DeleteUsers(_) => ("user", "users"),
    };
    if n == 1 { one } else { many }
}

/// Batches running: a bar, and Esc stops after the current one.
pub struct Progress {
    pub kind: OpKind,
    pub done: usize,
    pub total: usize,
    pub stop: Arc<AtomicBool>,
    pub outcomes: Vec<Outcome>,
}

impl Progress {
    fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap) -> PopupEffect {
        if key.code == KeyCode::Esc || keymap.action(Context::Popup, key) == Some(Action::Cancel) {
            self.stop.store(true, Ordering::SeqCst);
            return PopupEffect::Stop;
        }
        PopupEffect::None
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let verb = if self.kind == OpKind::RepairOrphans {
            "Repairing"
        } else {
            "Deleting"
        };
        let inner = frame(area, buf, &format!(" {verb} "), theme);
        if inner.height < 3 {
            return;
        }
        let stopping = self.stop.load(Ordering::SeqCst);
        let ratio = if self.total == 0 {
            0.0
        } else {
            self.done as f64 / self.total as f64
        };
        Paragraph::new(format!(
            "batch {} of {} (at most 100 each, one transaction each)",
            self.done, self.total
        ))
        .render(Rect::new(inner.x, inner.y, inner.width, 1), buf);
        Gauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .gauge_style(theme.ok())
            .render(Rect::new(inner.x, inner.y + 1, inner.width, 1), buf);
        let hint = if stopping {
            strings::STOPPING
        } else {
            "Esc stops after the current batch"
        };
        Paragraph::new(Line::styled(hint, theme.dim()))
            .render(Rect::new(inner.x, inner.y + 2, inner.width, 1), buf);
    }
}

/// The report after an operation (SPEC §4.5).
pub struct Report {
    pub kind: OpKind,
    pub outcomes: Vec<Outcome>,
    pub not_run: usize,
    pub stopped: bool,
    pub error: Option<String>,
    pub cache: Option<crate::cache::CacheOutcome>,
    pub scroll: u16,
}

impl Report {
    pub fn summary(&self) -> String {
        let done: usize = self.outcomes.iter().map(|o| o.done.len()).sum();
        let failed: usize = self.outcomes.iter().map(|o| o.failed.len()).sum();
        let counts = {
            let mut total = RowCounts::new();
            for o in &self.outcomes {
                total.add_all(&o.counts);
            }
            total
        };
        let verb = if self.kind == OpKind::RepairOrphans {
            "repaired"
        } else {
            "deleted"
        };
        let mut text = format!("{verb} {done} {}", noun(self.kind, done));
        let messages = counts.get(Table::ChatMessages) + counts.get(Table::Messages);
        if messages > 0
            && !matches!(
                self.kind,
                OpKind::DeleteChatMessages | OpKind::DeletePrivateMessages
            )
        {
            text.push_str(&format!(" ({messages} messages)"));
        }
        if failed > 0 {
            text.push_str(&format!(", {failed} failed"));
        }
        if self.not_run > 0 {
            text.push_str(&format!(", {} not run", rows_word(self.not_run)));
        }
        text
    }

    fn lines(&self, theme: &Theme, width: usize) -> Vec<Line<'static>> {
        let mut lines = vec![Line::styled(self.summary(), theme.header())];
        if let Some(e) = &self.error {
            lines.push(Line::styled(fit(e, width), theme.error()));
        }
        if self.stopped {
            lines.push(Line::styled(
                "stopped by you after the current batch",
                theme.warning(),
            ));
        }
        match &self.cache {
            Some(c @ crate::cache::CacheOutcome::NotCleared { .. }) => {
                lines.push(Line::styled(
                    fit(&format!("the delete is committed, but the {c}"), width),
                    theme.error(),
                ));
            }
            Some(c @ crate::cache::CacheOutcome::Cleared { .. }) => {
                lines.push(Line::styled(c.to_string(), theme.dim()));
            }
            _ => {}
        }
        let mut counts = RowCounts::new();
        let mut kept = RowCounts::new();
        for o in &self.outcomes {
            counts.add_all(&o.counts);
            kept.add_all(&o.kept);
        }
        if !counts.is_empty() {
            let what = if self.kind == OpKind::RepairOrphans {
                "Rows changed:"
            } else {
                "Rows removed:"
            };
            lines.push(Line::styled(what, theme.header()));
            for (table, n) in ordered(&counts) {
                lines.push(Line::raw(format!("  {n:>8}  {}", table.noun())));
            }
        }
        if !kept.is_empty() {
            lines.push(Line::styled(
                "Kept, now by \"deleted user\":",
                theme.header(),
            ));
            for (table, n) in ordered(&kept) {
                lines.push(Line::raw(format!("  {n:>8}  {}", table.noun())));
            }
        }
        let failed: Vec<_> = self.outcomes.iter().flat_map(|o| &o.failed).collect();
        if !failed.is_empty() {
            lines.push(Line::styled(
                format!("Failed ({}):", failed.len()),
                theme.error(),
            ));
            for f in failed {
                lines.push(Line::raw(format!(
                    "  {}  {}  — {}",
                    super::panes::short_id(&f.id),
                    fit(
                        f.label.as_deref().unwrap_or(""),
                        width.saturating_sub(40).max(8)
                    ),
                    f.reason
                )));
            }
        }
        let done: Vec<_> = self.outcomes.iter().flat_map(|o| &o.done).collect();
        if !done.is_empty() {
            let verb = if self.kind == OpKind::RepairOrphans {
                "Repaired"
            } else {
                "Deleted"
            };
            lines.push(Line::styled(
                format!("{verb} ({}):", done.len()),
                theme.ok(),
            ));
            for d in done.iter().take(200) {
                let owner = d
                    .new_owner
                    .as_ref()
                    .map(|(_, o)| format!(" → {}", fit(o, 20)))
                    .unwrap_or_default();
                lines.push(Line::raw(format!(
                    "  {}  {}{owner}",
                    super::panes::short_id(&d.id),
                    fit(&d.label, width.saturating_sub(16).max(8))
                )));
            }
        }
        lines
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let inner = frame(area, buf, " Outcome ", theme);
        if inner.height < 2 {
            return;
        }
        let body = Rect::new(inner.x, inner.y, inner.width, inner.height - 1);
        Paragraph::new(self.lines(theme, inner.width as usize))
            .scroll((self.scroll, 0))
            .render(body, buf);
        Paragraph::new(Line::styled("Enter/Esc closes · ↑↓ scroll", theme.dim())).render(
            Rect::new(inner.x, inner.y + body.height, inner.width, 1),
            buf,
        );
    }
}

fn rows_word(n: usize) -> String {
    if n == 1 {
        "1 batch".into()
    } else {
        format!("{n} batches")
    }
}

/// Scrollable text: help, a message in full, an audit row, an error.
pub struct TextView {
    pub title: String,
    pub lines: Vec<(String, Style)>,
    pub scroll: u16,
}

impl TextView {
    /// Raw text from the database, split and sanitised line by line.
    pub fn from_text(title: &str, header: Vec<(String, Style)>, body: &str) -> TextView {
        let mut lines = header;
        lines.extend(clean_lines(body).into_iter().map(|l| (l, Style::default())));
        TextView {
            title: title.to_string(),
            lines,
            scroll: 0,
        }
    }

    pub fn message(title: &str, text: &str, style: Style) -> TextView {
        TextView {
            title: title.to_string(),
            lines: clean_lines(text).into_iter().map(|l| (l, style)).collect(),
            scroll: 0,
        }
    }

    fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap) -> PopupEffect {
        if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
            return PopupEffect::Close;
        }
        let max = self.lines.len().saturating_sub(1) as u16;
        match keymap.action(Context::Popup, key) {
            Some(Action::Cancel | Action::Confirm) => return PopupEffect::Close,
            Some(Action::Down) => self.scroll = (self.scroll + 1).min(max),
            Some(Action::Up) => self.scroll = self.scroll.saturating_sub(1),
            Some(Action::PageDown | Action::HalfPageDown) => {
                self.scroll = (self.scroll + 10).min(max)
            }
            Some(Action::PageUp | Action::HalfPageUp) => {
                self.scroll = self.scroll.saturating_sub(10)
            }
            Some(Action::Top) => self.scroll = 0,
            Some(Action::Bottom) => self.scroll = max,
            _ => {}
        }
        // `?` closes help too.
        if key.code == KeyCode::Char('?') {
            return PopupEffect::Close;
        }
        PopupEffect::None
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let inner = frame(area, buf, &format!(" {} ", fit(&self.title, 60)), theme);
        if inner.height < 2 {
            return;
        }
        let body = Rect::new(inner.x, inner.y, inner.width, inner.height - 1);
        let lines: Vec<Line> = self
            .lines
            .iter()
            .map(|(text, style)| Line::styled(text.clone(), *style))
            .collect();
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((self.scroll, 0))
            .render(body, buf);
        Paragraph::new(Line::styled(
            "Esc closes · ↑↓ PgUp PgDn scroll",
            theme.dim(),
        ))
        .render(
            Rect::new(inner.x, inner.y + body.height, inner.width, 1),
            buf,
        );
    }
}

/// A comment or review edited in place. Line breaks are kept and shown as ⏎; Enter
/// saves against the version that was loaded, Esc cancels.
pub struct Editor {
    pub item: ContentItem,
    pub input: Input,
    pub rating: Option<i64>,
    pub rating_focused: bool,
    pub saving: bool,
    pub message: Option<String>,
}

impl Editor {
    pub fn new(item: ContentItem) -> Editor {
        let input = Input::new(item.content.clone());
        let rating = item.rating;
        Editor {
            item,
            input,
            rating,
            rating_focused: false,
            saving: false,
            message: None,
        }
    }

    /// The edit to save, against the version loaded.
    pub fn edit(&self) -> ContentEdit {
        ContentEdit {
            kind: self.item.kind,
            id: self.item.id,
            expected_version: self.item.version,
            text: self.input.value().to_string(),
            rating: if self.rating != self.item.rating {
                self.rating
            } else {
                None
            },
            reason: None,
        }
    }

    fn on_key(&mut self, key: &KeyEvent) -> PopupEffect {
        use ratatui::crossterm::event::KeyModifiers;
        if self.saving {
            return PopupEffect::None;
        }
        let newline = (key.code == KeyCode::Enter && key.modifiers.contains(KeyModifiers::ALT))
            || (key.code == KeyCode::Char('j') && key.modifiers.contains(KeyModifiers::CONTROL));
        if newline {
            self.input.handle(tui_input::InputRequest::InsertChar('\n'));
            return PopupEffect::None;
        }
        match key.code {
            KeyCode::Esc => PopupEffect::Close,
            KeyCode::Enter => {
                self.saving = true;
                self.message = None;
                PopupEffect::Save(self.edit())
            }
            KeyCode::Tab | KeyCode::BackTab if self.item.kind == ContentKind::Review => {
                self.rating_focused = !self.rating_focused;
                PopupEffect::None
            }
            _ if self.rating_focused => {
                let current = self.rating.unwrap_or(3);
                self.rating = Some(match key.code {
                    KeyCode::Char(c @ '1'..='5') => i64::from(c as u8 - b'0'),
                    KeyCode::Left | KeyCode::Char('-') | KeyCode::Down => (current - 1).max(1),
                    KeyCode::Right | KeyCode::Char('+') | KeyCode::Up => (current + 1).min(5),
                    _ => current,
                });
                PopupEffect::None
            }
            _ => {
                self.input
                    .handle_event(&ratatui::crossterm::event::Event::Key(*key));
                self.message = None;
                PopupEffect::None
            }
        }
    }

    /// The text with the cursor marked and every line break visible.
    fn text_lines(&self, theme: &Theme) -> Vec<Line<'static>> {
        let value = self.input.value();
        let cursor = self.input.cursor();
        let before: String = value.chars().take(cursor).collect();
        let after: String = value.chars().skip(cursor).collect();
        let marked = format!("{before}\u{f8ff}{after}");
        let logical: Vec<&str> = marked.split('\n').collect();
        let last = logical.len().saturating_sub(1);
        logical
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let clean = crate::sanitize::clean_line;
                let mut spans = Vec::new();
                // Split before cleaning: the sanitiser shows a private-use marker as U+FFFD.
                match line.split_once('\u{f8ff}') {
                    Some((a, b)) => {
                        spans.push(Span::raw(clean(a)));
                        spans.push(Span::styled("▏", theme.cursor()));
                        spans.push(Span::raw(clean(b)));
                    }
                    None => spans.push(Span::raw(clean(line))),
                }
                if i < last {
                    spans.push(Span::styled("⏎", theme.dim()));
                }
                Line::from(spans)
            })
            .collect()
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let title = format!(
            " Edit {} by {} on «{}» (version {}) ",
            self.item.kind.as_str(),
            fit(
                self.item.author_name.as_deref().unwrap_or("deleted user"),
                20
            ),
            fit(&self.item.book_title, 24),
            self.item.version
        );
        let inner = frame(area, buf, &title, theme);
        if inner.height < 4 {
            return;
        }
        let mut footer = Vec::new();
        if self.item.kind == ContentKind::Review {
            let r = self.rating.unwrap_or(0).clamp(0, 5) as usize;
            footer.push(Line::from(vec![
                Span::raw("Rating: "),
                Span::styled(
                    format!("{}{}", "★".repeat(r), "☆".repeat(5 - r)),
                    theme.button(self.rating_focused, true),
                ),
                Span::styled(
                    if self.rating_focused {
                        "  1–5 or ←→; Tab back to the text"
                    } else {
                        "  Tab to change"
                    },
                    theme.dim(),
                ),
            ]));
        }
        let chars = self.input.value().chars().count();
        footer.push(Line::styled(
            format!(
                "{chars} of {} characters",
                crate::db::comments::MAX_CONTENT_CHARS
            ),
            if chars > crate::db::comments::MAX_CONTENT_CHARS {
                theme.error()
            } else {
                theme.dim()
            },
        ));
        footer.push(match (&self.message, self.saving) {
            (_, true) => Line::styled("saving…", theme.dim()),
            (Some(m), _) => Line::styled(fit(m, inner.width as usize), theme.error()),
            (None, _) => Line::styled(
                "Enter saves · Alt-Enter or Ctrl-j new line · Esc cancels",
                theme.dim(),
            ),
        });
        let footer_height = (footer.len() as u16).min(inner.height - 1);
        let body = Rect::new(inner.x, inner.y, inner.width, inner.height - footer_height);
        let lines = self.text_lines(theme);
        // Keep the cursor's line in view.
        let cursor_line = self
            .input
            .value()
            .chars()
            .take(self.input.cursor())
            .filter(|c| *c == '\n')
            .count() as u16;
        let scroll = cursor_line.saturating_sub(body.height.saturating_sub(2));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .render(body, buf);
        Paragraph::new(footer).render(
            Rect::new(inner.x, inner.y + body.height, inner.width, footer_height),
            buf,
        );
    }
}

/// Someone else saved first: both texts, and the operator chooses. Nothing is lost.
pub struct Conflict {
    pub current: ContentItem,
    pub loaded_version: i64,
    pub yours: String,
    pub your_rating: Option<i64>,
    /// 0: edit again, 1: overwrite with yours, 2: discard yours.
    pub focus: usize,
    pub scroll: u16,
}

impl Conflict {
    fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap) -> PopupEffect {
        if key.code == KeyCode::Esc {
            return self.choose(0);
        }
        match keymap.action(Context::Popup, key) {
            Some(Action::NextField) => self.focus = (self.focus + 1) % 3,
            Some(Action::PrevField) => self.focus = (self.focus + 2) % 3,
            Some(Action::Press) => return self.choose(self.focus),
            Some(Action::Down) => self.scroll = self.scroll.saturating_add(1),
            Some(Action::Up) => self.scroll = self.scroll.saturating_sub(1),
            _ => {}
        }
        PopupEffect::None
    }

    fn choose(&self, choice: usize) -> PopupEffect {
        match choice {
            1 => PopupEffect::Save(ContentEdit {
                kind: self.current.kind,
                id: self.current.id,
                expected_version: self.current.version,
                text: self.yours.clone(),
                rating: self.your_rating,
                reason: None,
            }),
            2 => PopupEffect::Close,
            _ => {
                let mut editor = Editor::new(self.current.clone());
                editor.input = Input::new(self.yours.clone());
                editor.rating = self.your_rating.or(self.current.rating);
                PopupEffect::Reopen(Box::new(editor))
            }
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let inner = frame(
            area,
            buf,
            " Not saved: someone else changed it first ",
            theme,
        );
        if inner.height < 4 {
            return;
        }
        let mut lines = vec![Line::styled(
            format!(
                "You edited version {}; it is now version {}. Nothing was overwritten.",
                self.loaded_version, self.current.version
            ),
            theme.warning(),
        )];
        lines.push(Line::styled(
            format!("── now stored (version {}) ──", self.current.version),
            theme.header(),
        ));
        lines.extend(
            clean_lines(&self.current.content)
                .into_iter()
                .map(Line::raw),
        );
        lines.push(Line::styled("── yours (not saved) ──", theme.header()));
        lines.extend(clean_lines(&self.yours).into_iter().map(Line::raw));
        let body = Rect::new(inner.x, inner.y, inner.width, inner.height - 2);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((self.scroll, 0))
            .render(body, buf);
        let buttons = Line::from(vec![
            Span::styled(" Edit again ", theme.button(self.focus == 0, true)),
            Span::raw("  "),
            Span::styled(
                " Overwrite with yours ",
                theme.danger_button(self.focus == 1, true),
            ),
            Span::raw("  "),
            Span::styled(" Discard yours ", theme.button(self.focus == 2, true)),
        ]);
        Paragraph::new(vec![
            buttons,
            Line::styled("Tab moves · Enter chooses · Esc edits again", theme.dim()),
        ])
        .render(
            Rect::new(inner.x, inner.y + body.height, inner.width, 2),
            buf,
        );
    }
}

/// Clears `area`, draws a bordered box titled `title`, returns the inside.
fn frame(area: Rect, buf: &mut Buffer, title: &str, theme: &Theme) -> Rect {
    Clear.render(area, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .title(Span::styled(title.to_string(), theme.header()));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

impl Popup {
    pub fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap) -> PopupEffect {
        match self {
            Popup::Confirm(c) => c.on_key(key, keymap),
            Popup::Progress(p) => p.on_key(key, keymap),
            Popup::Outcome(r) => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                    return PopupEffect::Close;
                }
                match keymap.action(Context::Popup, key) {
                    Some(Action::Cancel | Action::Confirm | Action::Press) => PopupEffect::Close,
                    Some(Action::Down) => {
                        r.scroll = r.scroll.saturating_add(1);
                        PopupEffect::None
                    }
                    Some(Action::Up) => {
                        r.scroll = r.scroll.saturating_sub(1);
                        PopupEffect::None
                    }
                    _ => PopupEffect::None,
                }
            }
            Popup::Text(t) => t.on_key(key, keymap),
            Popup::Editor(e) => e.on_key(key),
            Popup::Conflict(c) => c.on_key(key, keymap),
        }
    }

    /// Where it goes: most of the screen, inside small terminals too.
    pub fn area(&self, screen: Rect) -> Rect {
        let (w, h) = match self {
            Popup::Progress(_) => (60, 5),
            _ => (
                screen.width.saturating_sub(4).min(100),
                screen.height.saturating_sub(2).min(40),
            ),
        };
        let w = w.min(screen.width);
        let h = h.min(screen.height);
        Rect::new(
            screen.x + (screen.width - w) / 2,
            screen.y + (screen.height - h) / 2,
            w,
            h,
        )
    }

    pub fn render(&self, screen: Rect, buf: &mut Buffer, theme: &Theme) {
        let area = self.area(screen);
        if area.width < 10 || area.height < 3 {
            return;
        }
        match self {
            Popup::Confirm(c) => c.render(area, buf, theme),
            Popup::Progress(p) => p.render(area, buf, theme),
            Popup::Outcome(r) => r.render(area, buf, theme),
            Popup::Text(t) => t.render(area, buf, theme),
            Popup::Editor(e) => e.render(area, buf, theme),
            Popup::Conflict(c) => c.render(area, buf, theme),
        }
    }
}

/// An error from the database, as a popup.
pub fn error_popup(title: &str, error: &DataError, theme: &Theme) -> Popup {
    Popup::Text(TextView::message(title, &error.to_string(), theme.error()))
}
