//! The one popup slot's contents. While a popup is open it takes every key. The
//! confirmation is built from the operation and the plan the database returned;
//! confirming sends those same plans back.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::db::Id;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Gauge, Paragraph, Widget, Wrap};
use ratatui_textarea::{CursorMove, TextArea, WrapMode};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::keymap::{Action, Context, Keymap};
use super::strings;
use super::theme::Theme;
use crate::db::comments::{ContentEdit, ContentItem, ContentKind};
use crate::db::ids::{MAX_REASON_CHARS, Reason};
use crate::db::ops::OpKind;
use crate::db::plan::{ContentPolicy, Outcome, Plan, PlannedTarget, RowCounts};
use crate::db::trash::RestoreReport;
use crate::db::{Allowance, DataError};
use crate::lookalike::{self, Lookalike};
use crate::sanitize::{clean_lines, fit};

pub enum Popup {
    Confirm(Confirm),
    Progress(Progress),
    Outcome(Report),
    Text(TextView),
    Editor(Box<Editor>),
    Conflict(Conflict),
    Restore(RestoreConfirm),
}

/// What a popup asks of the app after a key.
pub enum PopupEffect {
    None,
    Close,
    /// Execute these plans (the reason is set in them).
    Execute(Vec<Plan>),
    /// Plan again with another content policy (user deletes).
    Replan(Subject),
    /// Stop after the current batch.
    Stop,
    /// Save an edit of a comment or review.
    Save(ContentEdit),
    /// Open the editor again (after a conflict), with the operator's text.
    Reopen(Box<Editor>),
    /// Open the editor on a comment or review shown in full.
    Edit(Box<ContentItem>),
    /// Restore this trash batch, as its plan showed.
    Restore(uuid::Uuid),
    /// Show one user's rows (from a user's details).
    Drill(super::panes::Drill),
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
    pub kind: Subject,
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
    /// Targets whose names pass for others in the list they were chosen from.
    pub lookalikes: HashMap<Id, Lookalike>,
}

/// What must be typed to confirm a destructive plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// Nothing, unless the plan is large (the config's threshold).
    IfLarge,
    /// The number of targets, always.
    Count,
    /// This text (a guild's name), always.
    Name(String),
}

/// What the popups call an operation: one of the catalogue's, or comments and reviews
/// deleted together; for users, with the content policy chosen in the popup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    pub kind: OpKind,
    pub mixed_content: bool,
    pub content: ContentPolicy,
}

impl Subject {
    pub fn of(kind: OpKind) -> Subject {
        Subject {
            kind,
            mixed_content: false,
            content: ContentPolicy::Keep,
        }
    }

    /// Comments and reviews at once.
    pub fn content() -> Subject {
        Subject {
            mixed_content: true,
            ..Subject::of(OpKind::DeleteComments)
        }
    }

    pub fn is_repair(self) -> bool {
        self.kind.is_repair()
    }
}

/// Table order in a plan: messages first, then what goes with them, the targets last.
fn ordered(counts: &RowCounts) -> Vec<(String, i64)> {
    let mut items: Vec<(String, i64)> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| (t.to_string(), n))
        .collect();
    items.sort_by_key(|(t, _)| strings::table_rank(t));
    items
}

/// Rows per table, right-aligned counts and readable nouns.
fn count_lines(counts: &RowCounts) -> Vec<Line<'static>> {
    ordered(counts)
        .into_iter()
        .map(|(table, n)| Line::raw(format!("  {n:>8}  {}", strings::table_noun(&table, n))))
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
        kind: Subject,
        plans: Vec<Plan>,
        hidden: usize,
        typed_rule: Typed,
        typed_above: usize,
        reason_required: bool,
    ) -> Confirm {
        let mut confirm = Confirm {
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
            lookalikes: HashMap::new(),
        };
        // Typing is the confirmation asked for: start there. Otherwise on Cancel.
        if confirm.must_type().is_some() {
            confirm.focus = Focus::Typed;
        }
        confirm
    }

    pub fn target_count(&self) -> usize {
        self.plans.iter().map(|p| p.targets.len()).sum()
    }

    pub fn with_lookalikes(mut self, lookalikes: HashMap<Id, Lookalike>) -> Confirm {
        self.lookalikes = lookalikes;
        self
    }

    /// Users and guilds go by names that can pass for others.
    fn names_matter(&self) -> bool {
        matches!(self.kind.kind, OpKind::DeleteUsers | OpKind::DeleteGuilds)
    }

    /// Look-alikes among the named targets and refusals: as the list saw them, else among
    /// the plan's own names (marks may come from other pages or filters).
    fn flags(&self) -> HashMap<Id, Lookalike> {
        if !self.names_matter() {
            return HashMap::new();
        }
        let mut flags = lookalike::among(self.plans.iter().flat_map(|p| {
            p.targets
                .iter()
                .map(|t| (t.id.clone(), t.label.as_str()))
                .chain(
                    p.refused
                        .iter()
                        .filter_map(|r| r.label.as_deref().map(|l| (r.id.clone(), l))),
                )
        }));
        flags.extend(self.lookalikes.clone());
        flags
    }

    /// A target's or refusal's name as the lists show it, flagged if it is a look-alike.
    fn name_spans(
        &self,
        id: &Id,
        label: &str,
        width: usize,
        flags: &HashMap<Id, Lookalike>,
        theme: &Theme,
    ) -> Vec<Span<'static>> {
        let shown = if self.names_matter() {
            crate::sanitize::name(label)
        } else {
            label.to_string()
        };
        match flags.get(id) {
            Some(flag) => {
                let marker = flag.marker();
                let room = width.saturating_sub(crate::sanitize::width(&marker) + 1);
                vec![
                    Span::raw(fit(&shown, room.max(8))),
                    Span::raw(" "),
                    Span::styled(marker, theme.lookalike()),
                ]
            }
            None => vec![Span::raw(fit(&shown, width))],
        }
    }

    /// Whether what was typed is exactly what is asked for. A name is compared as it is,
    /// so a look-alike typed for it never passes; a count may have spaces around it.
    fn typed_matches(&self, expected: &str) -> bool {
        let typed = self.typed.value();
        match self.typed_rule {
            Typed::Name(_) => typed == expected,
            _ => typed.trim() == expected,
        }
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
        self.kind.is_repair()
    }

    /// The operator's hourly allowance for this operation, if it is limited (every batch
    /// was planned against the same hour).
    fn allowance(&self) -> Option<Allowance> {
        self.plans.iter().find_map(|p| p.allowance)
    }

    fn policy(&self) -> Option<ContentPolicy> {
        (self.kind.kind == OpKind::DeleteUsers).then_some(self.kind.content)
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
        if let Some(allowance) = self.allowance()
            && !allowance.fits(self.target_count())
        {
            return Some(strings::over_hourly_limit(
                &allowance,
                self.kind.kind.nouns().1,
            ));
        }
        if let Some(expected) = self.must_type()
            && !self.typed_matches(&expected)
        {
            if lookalike::reads_like(self.typed.value(), &expected) {
                return Some(strings::typed_lookalike(&fit(&expected, 40)));
            }
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

    fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap, area: Rect) -> PopupEffect {
        if key.code == KeyCode::Esc {
            return PopupEffect::Close;
        }
        // Page keys type nothing: they scroll from any field.
        let paging = matches!(key.code, KeyCode::PageUp | KeyCode::PageDown);
        if paging || !matches!(self.focus, Focus::Typed | Focus::Reason) {
            let action = keymap.action(Context::Popup, key);
            let (body, _) = self.layout(area, &Theme { color: false });
            let rows = self
                .lines(&Theme { color: false }, body.width as usize)
                .len();
            if let Some(scroll) = action.and_then(|a| scrolled(self.scroll, a, rows, body.height)) {
                self.scroll = scroll;
                return PopupEffect::None;
            }
        }
        match self.focus {
            Focus::Typed | Focus::Reason => {
                match key.code {
                    KeyCode::Enter
                        if self.focus == Focus::Typed
                            && self.must_type().is_some_and(|t| !self.typed_matches(&t)) =>
                    {
                        // Say what is expected; moving on would hide why Delete is off.
                        self.message = self.blocked();
                    }
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
                self.kind.content = next;
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
        let flags = self.flags();
        if !flags.is_empty() {
            lines.push(Line::styled(
                fit(&strings::lookalikes_in_plan(flags.len()), width),
                theme.lookalike(),
            ));
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
        lines.extend(count_lines(&counts));
        if let Some(allowance) = self.allowance() {
            let text = strings::left_this_hour(&allowance, self.kind.kind.nouns().1);
            lines.push(if allowance.fits(self.target_count()) {
                Line::raw(text)
            } else {
                Line::styled(text, theme.warning())
            });
        }
        if !kept.is_empty() {
            lines.push(Line::styled(
                "Kept, unlinked from what goes:",
                theme.header(),
            ));
            lines.extend(count_lines(&kept));
        }
        if self.hidden > 0 {
            let verb = if self.hidden == 1 { "is" } else { "are" };
            lines.push(Line::styled(
                format!(
                    "{} of the marked rows {verb} not in the list as it is filtered now.",
                    self.hidden
                ),
                theme.warning(),
            ));
        }
        let refused: Vec<_> = self.plans.iter().flat_map(|p| &p.refused).collect();
        if !refused.is_empty() {
            lines.push(Line::styled(
                format!("{} ({}):", strings::REFUSED, refused.len()),
                theme.header(),
            ));
            for r in refused.iter().take(50) {
                let mut spans = vec![Span::raw(format!("  {}  ", strings::short_id(&r.id)))];
                spans.extend(self.name_spans(
                    &r.id,
                    r.label.as_deref().unwrap_or(""),
                    width.saturating_sub(40).max(8),
                    &flags,
                    theme,
                ));
                // A table named in a reason comes from the catalog: sanitise it too.
                // Cut with `…` to what is left of the popup's width: reasons can be long.
                let used: usize = spans
                    .iter()
                    .map(|s| crate::sanitize::width(&s.content))
                    .sum();
                spans.push(Span::raw(format!(
                    "  — {}",
                    fit(
                        &crate::sanitize::clean_line(&r.reason.to_string()),
                        width.saturating_sub(used + 6).max(8)
                    )
                )));
                lines.push(Line::from(spans));
            }
            if refused.len() > 50 {
                lines.push(Line::raw(format!("  … and {} more", refused.len() - 50)));
            }
        }
        let targets: Vec<_> = self.plans.iter().flat_map(|p| &p.targets).collect();
        if !targets.is_empty() {
            lines.push(Line::styled("Targets:", theme.header()));
            for t in targets.iter().take(200) {
                let detail = match (
                    &t.new_owner,
                    t.counts
                        .get(&strings::table_of(crate::db::Entity::ChatMessages)),
                ) {
                    (Some((_, owner)), _) => format!("→ {}", fit(owner, 20)),
                    (None, 0) => String::new(),
                    (None, m) => strings::plural(m, "message", "messages"),
                };
                let mut spans = vec![Span::raw(format!("  {}  ", strings::short_id(&t.id)))];
                spans.extend(self.name_spans(
                    &t.id,
                    &target_label(self.kind, t),
                    width.saturating_sub(32).max(8),
                    &flags,
                    theme,
                ));
                if !detail.is_empty() {
                    spans.push(Span::raw(format!("  {detail}")));
                }
                lines.push(Line::from(spans));
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
        let (body, footer) = self.layout(area, theme);
        let foot = Rect::new(
            inner.x,
            inner.y + body.height,
            inner.width,
            inner.height - body.height,
        );
        let lines = self.lines(theme, inner.width as usize);
        let scroll = clamped(self.scroll, lines.len(), body.height);
        Paragraph::new(lines).scroll((scroll, 0)).render(body, buf);
        Paragraph::new(footer).render(foot, buf);
    }

    /// The plan's area and, under it, the fields and buttons.
    fn layout(&self, area: Rect, theme: &Theme) -> (Rect, Vec<Line<'static>>) {
        let inner = inside(area);
        let footer = self.footer(theme, inner.width);
        let footer_height = (footer.len() as u16).min(inner.height.saturating_sub(1));
        let body = Rect::new(
            inner.x,
            inner.y,
            inner.width,
            inner.height.saturating_sub(footer_height),
        );
        (body, footer)
    }

    fn footer(&self, theme: &Theme, width: u16) -> Vec<Line<'static>> {
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
            Some(m) => Line::styled(fit(&m, width as usize), theme.warning()),
            None => Line::styled("y confirms · n/Esc cancels · Tab moves", theme.dim()),
        });
        footer
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

pub fn noun(kind: Subject, n: usize) -> &'static str {
    let (one, many) = if kind.mixed_content {
        ("comment or review", "comments and reviews")
    } else {
        kind.kind.nouns()
    };
    if n == 1 { one } else { many }
}

/// How the popups name a planned target: the data layer's label, except for a chat
/// message without an author, which goes by its role unless a user wrote it.
pub fn target_label(kind: Subject, target: &PlannedTarget) -> String {
    let field = |name: &str| target.snapshot.get(name);
    let authorless = field("author").is_some_and(serde_json::Value::is_null);
    match (
        kind.kind,
        field("role").and_then(|v| v.as_str()),
        field("content").and_then(|v| v.as_str()),
    ) {
        (OpKind::DeleteChatMessages, Some(role), Some(content)) if authorless => {
            format!("{}: {content}", strings::chat_author(None, role))
        }
        _ => target.label.clone(),
    }
}

/// Batches running: a bar, and Esc stops after the current one.
pub struct Progress {
    pub kind: Subject,
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
        let verb = if self.kind.is_repair() {
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
    pub kind: Subject,
    pub outcomes: Vec<Outcome>,
    pub not_run: usize,
    pub stopped: bool,
    pub error: Option<String>,
    pub cache: Option<crate::cache::CacheOutcome>,
    /// Targets the confirmation named otherwise than the data layer (see `target_label`).
    pub labels: HashMap<Id, String>,
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
        let verb = if self.kind.is_repair() {
            "repaired"
        } else {
            "deleted"
        };
        let mut text = format!("{verb} {done} {}", noun(self.kind, done));
        let messages = counts.get(&strings::table_of(crate::db::Entity::ChatMessages))
            + counts.get(&strings::table_of(crate::db::Entity::Messages));
        if messages > 0
            && !matches!(
                self.kind.kind,
                OpKind::DeleteChatMessages | OpKind::DeletePrivateMessages
            )
        {
            text.push_str(&format!(
                " ({})",
                strings::plural(messages, "message", "messages")
            ));
        }
        if failed > 0 {
            text.push_str(&format!(", {failed} {}", strings::REFUSED.to_lowercase()));
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
            let what = if self.kind.is_repair() {
                "Rows changed:"
            } else {
                "Rows removed:"
            };
            lines.push(Line::styled(what, theme.header()));
            lines.extend(count_lines(&counts));
        }
        if !kept.is_empty() {
            lines.push(Line::styled(
                "Kept, unlinked from what went:",
                theme.header(),
            ));
            lines.extend(count_lines(&kept));
        }
        let failed: Vec<_> = self.outcomes.iter().flat_map(|o| &o.failed).collect();
        if !failed.is_empty() {
            lines.push(Line::styled(
                format!("{} ({}):", strings::REFUSED, failed.len()),
                theme.error(),
            ));
            for f in failed {
                lines.push(Line::raw(fit(
                    &format!(
                        "  {}  {}  — {}",
                        strings::short_id(&f.id),
                        fit(
                            f.label.as_deref().unwrap_or(""),
                            width.saturating_sub(40).max(8)
                        ),
                        crate::sanitize::clean_line(&f.reason.to_string())
                    ),
                    width.saturating_sub(2).max(8),
                )));
            }
        }
        let done: Vec<_> = self.outcomes.iter().flat_map(|o| &o.done).collect();
        if !done.is_empty() {
            let verb = if self.kind.is_repair() {
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
                let label = self.labels.get(&d.id).unwrap_or(&d.label);
                lines.push(Line::raw(format!(
                    "  {}  {}{owner}",
                    strings::short_id(&d.id),
                    fit(label, width.saturating_sub(16).max(8))
                )));
            }
        }
        lines
    }

    fn body(area: Rect) -> Rect {
        let inner = inside(area);
        Rect::new(
            inner.x,
            inner.y,
            inner.width,
            inner.height.saturating_sub(1),
        )
    }

    fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap, area: Rect) -> PopupEffect {
        if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
            return PopupEffect::Close;
        }
        match keymap.action(Context::Popup, key) {
            Some(Action::Cancel | Action::Confirm | Action::Press) => PopupEffect::Close,
            Some(action) => {
                let body = Self::body(area);
                // Styles do not change how many rows there are.
                let rows = self
                    .lines(&Theme { color: false }, body.width as usize)
                    .len();
                if let Some(scroll) = scrolled(self.scroll, action, rows, body.height) {
                    self.scroll = scroll;
                }
                PopupEffect::None
            }
            None => PopupEffect::None,
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let inner = frame(area, buf, " Outcome ", theme);
        if inner.height < 2 {
            return;
        }
        let body = Self::body(area);
        let lines = self.lines(theme, inner.width as usize);
        let scroll = clamped(self.scroll, lines.len(), body.height);
        Paragraph::new(lines).scroll((scroll, 0)).render(body, buf);
        Paragraph::new(Line::styled(
            "Enter/Esc closes · ↑↓ PgUp PgDn scroll",
            theme.dim(),
        ))
        .render(
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
    /// A comment or review shown in full, which the edit key opens in the editor.
    pub edit: Option<Box<ContentItem>>,
    /// A user shown in full: Enter (or a tab's key) shows their rows there.
    pub user: Option<(crate::db::Id, String)>,
    pub footer: String,
}

impl TextView {
    /// Lines already sanitised.
    pub fn new(title: String, lines: Vec<(String, Style)>) -> TextView {
        TextView {
            title,
            lines,
            scroll: 0,
            edit: None,
            user: None,
            footer: strings::TEXT_FOOTER.into(),
        }
    }

    /// Raw text from the database, split and sanitised line by line.
    pub fn from_text(title: &str, header: Vec<(String, Style)>, body: &str) -> TextView {
        let mut lines = header;
        lines.extend(clean_lines(body).into_iter().map(|l| (l, Style::default())));
        TextView::new(title.to_string(), lines)
    }

    pub fn message(title: &str, text: &str, style: Style) -> TextView {
        TextView::new(
            title.to_string(),
            clean_lines(text).into_iter().map(|l| (l, style)).collect(),
        )
    }

    /// Lets the edit key (labelled `key`) open this comment or review in the editor.
    /// Enter shows the user's chat sessions; the Messages and Comments tab keys show
    /// theirs there.
    pub fn drillable(mut self, id: crate::db::Id, username: String) -> TextView {
        self.user = Some((id, username));
        self.footer = strings::USER_DETAIL_FOOTER.into();
        self
    }

    pub fn editable(mut self, item: ContentItem, key: &str) -> TextView {
        self.edit = Some(Box::new(item));
        self.footer = format!("{key} edits · {}", strings::TEXT_FOOTER);
        self
    }

    /// Where the text goes in a popup drawn in `area`: inside the frame, above the footer.
    fn body(area: Rect) -> Rect {
        let inner = inside(area);
        Rect::new(
            inner.x,
            inner.y,
            inner.width,
            inner.height.saturating_sub(1),
        )
    }

    fn paragraph(&self) -> Paragraph<'_> {
        let lines: Vec<Line> = self
            .lines
            .iter()
            .map(|(text, style)| Line::styled(text.as_str(), *style))
            .collect();
        Paragraph::new(lines).wrap(Wrap { trim: false })
    }

    fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap, area: Rect) -> PopupEffect {
        if let Some((id, username)) = &self.user {
            let tab = match keymap.action(Context::List, key) {
                Some(Action::Open | Action::TabChats) => Some(super::app::Tab::Chats),
                Some(Action::TabMessages) => Some(super::app::Tab::Messages),
                Some(Action::TabComments) => Some(super::app::Tab::Comments),
                _ => None,
            };
            if let Some(tab) = tab {
                return PopupEffect::Drill(super::panes::Drill {
                    user_id: id.clone(),
                    username: username.clone(),
                    tab,
                });
            }
        }
        if let Some((id, username)) = &self.user {
            let tab = match keymap.action(Context::List, key) {
                Some(Action::Open | Action::TabChats) => Some(super::app::Tab::Chats),
                Some(Action::TabMessages) => Some(super::app::Tab::Messages),
                Some(Action::TabComments) => Some(super::app::Tab::Comments),
                _ => None,
            };
            if let Some(tab) = tab {
                return PopupEffect::Drill(super::panes::Drill {
                    user_id: id.clone(),
                    username: username.clone(),
                    tab,
                });
            }
        }
        if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
            return PopupEffect::Close;
        }
        // The list's keys for help, quit and edit mean the same here: nothing to lose.
        match keymap.action(Context::List, key) {
            Some(Action::Help | Action::Quit) => return PopupEffect::Close,
            Some(Action::Edit) if self.edit.is_some() => {
                if let Some(item) = self.edit.take() {
                    return PopupEffect::Edit(item);
                }
            }
            _ => {}
        }
        match keymap.action(Context::Popup, key) {
            Some(Action::Cancel | Action::Confirm) => return PopupEffect::Close,
            Some(action) => {
                let body = Self::body(area);
                let rows = self.paragraph().line_count(body.width);
                if let Some(scroll) = scrolled(self.scroll, action, rows, body.height) {
                    self.scroll = scroll;
                }
            }
            None => {}
        }
        PopupEffect::None
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let inner = frame(area, buf, &format!(" {} ", fit(&self.title, 60)), theme);
        if inner.height < 2 {
            return;
        }
        let body = Self::body(area);
        let paragraph = self.paragraph();
        let scroll = clamped(self.scroll, paragraph.line_count(body.width), body.height);
        paragraph.scroll((scroll, 0)).render(body, buf);
        Paragraph::new(Line::styled(self.footer.as_str(), theme.dim())).render(
            Rect::new(inner.x, inner.y + body.height, inner.width, 1),
            buf,
        );
    }
}

/// A comment or review edited in place, in a multi-line editor that wraps long lines,
/// keeps the cursor in view and moves by line. Enter saves against the version that was
/// loaded; Esc leaves, asking first if anything was changed.
pub struct Editor {
    pub item: ContentItem,
    pub textarea: TextArea<'static>,
    pub rating: Option<i64>,
    pub rating_focused: bool,
    pub saving: bool,
    pub message: Option<String>,
    /// Esc on changed text: "discard changes?", and which button has the focus.
    pub discarding: Option<DiscardChoice>,
    /// How the text breaks lines: "\r\n" when every break is one, else "\n".
    line_break: &'static str,
    /// Characters made to hide stand in the editor as stand-ins (see [`StandIns`]).
    stand_ins: StandIns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscardChoice {
    KeepEditing,
    Discard,
}

impl Editor {
    pub fn new(item: ContentItem) -> Editor {
        let text = item.content.clone();
        let rating = item.rating;
        Editor::with_text(item, &text, rating)
    }

    /// Editing `text` (the operator's own, after a conflict) against `item` as stored.
    pub fn with_text(item: ContentItem, text: &str, rating: Option<i64>) -> Editor {
        // Split on the text's own line breaks, so that saving gives back exactly what was
        // loaded (a final line break too).
        let crlf_only = text.contains("\r\n") && !text.replace("\r\n", "").contains('\n');
        let line_break = if crlf_only { "\r\n" } else { "\n" };
        let stand_ins = StandIns::for_text(text);
        let lines = text
            .split(line_break)
            .map(|line| stand_ins.put_in(line))
            .collect();
        let mut textarea = TextArea::new(lines);
        textarea.set_wrap_mode(WrapMode::WordOrGlyph);
        // Reverse video and dim numbers read the same with colour and without; line
        // numbers tell a line break from a wrapped line.
        textarea.set_style(Style::default());
        textarea.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
        textarea.set_cursor_line_style(Style::default());
        textarea.set_line_number_style(Style::default().add_modifier(Modifier::DIM));
        textarea.move_cursor(CursorMove::Bottom);
        textarea.move_cursor(CursorMove::End);
        Editor {
            item,
            textarea,
            rating,
            rating_focused: false,
            saving: false,
            message: None,
            discarding: None,
            line_break,
            stand_ins,
        }
    }

    /// The text as it stands in the editor.
    pub fn text(&self) -> String {
        let lines: Vec<String> = self
            .textarea
            .lines()
            .iter()
            .map(|line| self.stand_ins.take_out(line))
            .collect();
        lines.join(self.line_break)
    }

    /// Has the operator changed anything since it was loaded?
    pub fn edited(&self) -> bool {
        self.rating != self.item.rating || self.text() != self.item.content
    }

    /// The edit to save, against the version loaded.
    pub fn edit(&self) -> ContentEdit {
        ContentEdit {
            kind: self.item.kind,
            id: self.item.id.clone(),
            expected_version: self.item.version,
            text: self.text(),
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
        if let Some(choice) = self.discarding {
            return self.on_discard_key(key, choice);
        }
        let newline = (key.code == KeyCode::Enter && key.modifiers.contains(KeyModifiers::ALT))
            || (key.code == KeyCode::Char('j') && key.modifiers.contains(KeyModifiers::CONTROL));
        if newline {
            self.textarea.insert_newline();
            self.message = None;
            return PopupEffect::None;
        }
        match key.code {
            KeyCode::Esc if self.edited() => {
                self.discarding = Some(DiscardChoice::KeepEditing);
                PopupEffect::None
            }
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
            // A comment has no other field, and a tab typed by mistake is not wanted.
            KeyCode::Tab | KeyCode::BackTab => PopupEffect::None,
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
                self.textarea.input(*key);
                self.message = None;
                PopupEffect::None
            }
        }
    }

    /// "Discard your changes?": keeping them is the default and what Esc and `n` do.
    fn on_discard_key(&mut self, key: &KeyEvent, choice: DiscardChoice) -> PopupEffect {
        let keep = |editor: &mut Editor| {
            editor.discarding = None;
            PopupEffect::None
        };
        match key.code {
            KeyCode::Esc | KeyCode::Char('n') => keep(self),
            KeyCode::Char('y') => PopupEffect::Close,
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                self.discarding = Some(match choice {
                    DiscardChoice::KeepEditing => DiscardChoice::Discard,
                    DiscardChoice::Discard => DiscardChoice::KeepEditing,
                });
                PopupEffect::None
            }
            KeyCode::Enter if choice == DiscardChoice::Discard => PopupEffect::Close,
            KeyCode::Enter => keep(self),
            _ => PopupEffect::None,
        }
    }

    fn footer(&self, theme: &Theme, width: u16) -> Vec<Line<'static>> {
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
        let chars = self.text().chars().count();
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
        footer.push(match (self.discarding, &self.message, self.saving) {
            (Some(choice), _, _) => Line::from(vec![
                Span::styled(strings::DISCARD_QUESTION, theme.warning()),
                Span::raw("  "),
                Span::styled(
                    strings::KEEP_EDITING,
                    theme.button(choice == DiscardChoice::KeepEditing, true),
                ),
                Span::raw("  "),
                Span::styled(
                    strings::DISCARD,
                    theme.danger_button(choice == DiscardChoice::Discard, true),
                ),
            ]),
            (None, _, true) => Line::styled("saving…", theme.dim()),
            (None, Some(m), _) => Line::styled(fit(m, width as usize), theme.error()),
            (None, None, _) => Line::styled(strings::EDITOR_HINT, theme.dim()),
        });
        footer
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
        let footer = self.footer(theme, inner.width);
        let footer_height = (footer.len() as u16).min(inner.height - 1);
        let body = Rect::new(inner.x, inner.y, inner.width, inner.height - footer_height);
        // The widget keeps its own scroll, following the cursor, from frame to frame.
        self.textarea.render(body, buf);
        neutralise(buf, body, self.stand_ins);
        Paragraph::new(footer).render(
            Rect::new(inner.x, inner.y + body.height, inner.width, footer_height),
            buf,
        );
    }
}

/// The editor draws the author's text (saving must give it back unchanged); what reaches
/// the terminal passes the sanitiser cell by cell. A stand-in shows what the sanitiser
/// shows for the character it stands for (␛, U+FFFD…); anything else that hides in a cell
/// turns that cell into U+FFFD.
fn neutralise(buf: &mut Buffer, area: Rect, stand_ins: StandIns) {
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            let symbol = cell.symbol();
            if symbol.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                continue;
            }
            let clean = crate::sanitize::clean_line(&stand_ins.take_out(symbol));
            if clean == symbol {
                continue;
            }
            let width = crate::sanitize::width(symbol).max(1);
            let shown = if crate::sanitize::width(&clean) <= width {
                crate::sanitize::pad(&clean, width)
            } else {
                crate::sanitize::pad("\u{fffd}", width)
            };
            cell.set_symbol(&shown);
        }
    }
}

/// Characters the sanitiser would not show as they are (controls, bidi overrides,
/// zero-width spaces) take no cell in the editor's layout, so the cursor would step over
/// nothing there and "ad\u{200b}min" would read "admin". While editing, each stands in as a
/// private-use character, one cell wide, drawn as the sanitiser shows it; saving puts the
/// original back. A text that already holds such private-use characters is edited as it
/// is (they could not be told apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandIns {
    on: bool,
}

/// Supplementary Private Use Area-A: every stand-in is this plus the character's code.
const STAND_IN_BASE: u32 = 0xF_0000;

impl StandIns {
    fn for_text(text: &str) -> StandIns {
        StandIns {
            on: !text
                .chars()
                .any(|c| (STAND_IN_BASE..=0xF_FFFF).contains(&u32::from(c))),
        }
    }

    /// Does the sanitiser show `c` as something else, one character in its place?
    fn hides(c: char) -> bool {
        if matches!(c, '\t' | '\n') || u32::from(c) > 0xFFFF {
            return false;
        }
        // After a letter, so that marks are judged where they sit.
        let alone = format!("x{c}");
        let clean = crate::sanitize::clean_line(&alone);
        clean != alone && clean.chars().count() == 2
    }

    fn put_in(self, line: &str) -> String {
        if !self.on {
            return line.to_string();
        }
        line.chars()
            .map(|c| {
                if Self::hides(c) {
                    char::from_u32(STAND_IN_BASE + u32::from(c)).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect()
    }

    fn take_out(self, text: &str) -> String {
        if !self.on {
            return text.to_string();
        }
        text.chars()
            .map(|c| {
                u32::from(c)
                    .checked_sub(STAND_IN_BASE)
                    .and_then(char::from_u32)
                    .filter(|original| Self::hides(*original))
                    .unwrap_or(c)
            })
            .collect()
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
    fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap, area: Rect) -> PopupEffect {
        if key.code == KeyCode::Esc {
            return self.choose(0);
        }
        match keymap.action(Context::Popup, key) {
            Some(Action::NextField) => self.focus = (self.focus + 1) % 3,
            Some(Action::PrevField) => self.focus = (self.focus + 2) % 3,
            Some(Action::Press) => return self.choose(self.focus),
            Some(action) => {
                let body = Self::body(area);
                let rows = self
                    .paragraph(&Theme { color: false })
                    .line_count(body.width);
                if let Some(scroll) = scrolled(self.scroll, action, rows, body.height) {
                    self.scroll = scroll;
                }
            }
            None => {}
        }
        PopupEffect::None
    }

    /// Both texts, above the two footer lines.
    fn body(area: Rect) -> Rect {
        let inner = inside(area);
        Rect::new(
            inner.x,
            inner.y,
            inner.width,
            inner.height.saturating_sub(2),
        )
    }

    fn paragraph(&self, theme: &Theme) -> Paragraph<'static> {
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
        Paragraph::new(lines).wrap(Wrap { trim: false })
    }

    fn choose(&self, choice: usize) -> PopupEffect {
        match choice {
            1 => PopupEffect::Save(ContentEdit {
                kind: self.current.kind,
                id: self.current.id.clone(),
                expected_version: self.current.version,
                text: self.yours.clone(),
                rating: self.your_rating,
                reason: None,
            }),
            2 => PopupEffect::Close,
            _ => {
                let editor = Editor::with_text(
                    self.current.clone(),
                    &self.yours,
                    self.your_rating.or(self.current.rating),
                );
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
        let body = Self::body(area);
        let paragraph = self.paragraph(theme);
        let scroll = clamped(self.scroll, paragraph.line_count(body.width), body.height);
        paragraph.scroll((scroll, 0)).render(body, buf);
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

/// Where a scroll goes for a movement key, `None` for any other key. It stops at the
/// first row and where the last row of the text (`rows`, as wrapped) reaches the bottom
/// of the `page` rows shown.
fn scrolled(scroll: u16, action: Action, rows: usize, page: u16) -> Option<u16> {
    let page = page.max(1);
    let step = page.saturating_sub(1).max(1);
    let half = (page / 2).max(1);
    let next = match action {
        Action::Down => scroll.saturating_add(1),
        Action::Up => scroll.saturating_sub(1),
        Action::PageDown => scroll.saturating_add(step),
        Action::PageUp => scroll.saturating_sub(step),
        Action::HalfPageDown => scroll.saturating_add(half),
        Action::HalfPageUp => scroll.saturating_sub(half),
        Action::Top => 0,
        Action::Bottom => u16::MAX,
        _ => return None,
    };
    Some(clamped(next, rows, page))
}

/// A scroll that shows no empty rows past the end (the popup may have grown since).
fn clamped(scroll: u16, rows: usize, page: u16) -> u16 {
    let max = rows.saturating_sub(usize::from(page));
    scroll.min(u16::try_from(max).unwrap_or(u16::MAX))
}

/// The inside of a popup's frame.
fn inside(area: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(area)
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
    /// A key for the popup as it is drawn on `screen` (scrolling needs its size).
    pub fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap, screen: Rect) -> PopupEffect {
        let area = self.area(screen);
        match self {
            Popup::Confirm(c) => c.on_key(key, keymap, area),
            Popup::Progress(p) => p.on_key(key, keymap),
            Popup::Outcome(r) => r.on_key(key, keymap, area),
            Popup::Text(t) => t.on_key(key, keymap, area),
            Popup::Editor(e) => e.on_key(key),
            Popup::Conflict(c) => c.on_key(key, keymap, area),
            Popup::Restore(r) => r.on_key(key, keymap, area),
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
            Popup::Restore(r) => r.render(area, buf, theme),
        }
    }
}

/// The restore plan of a delete's batch (SPEC §10): what comes back per table, what
/// cannot and why. Focus starts on Cancel; `y` or Enter on Restore confirms.
pub struct RestoreConfirm {
    pub plan: RestoreReport,
    /// The delete it undoes, as the audit row tells it (sanitised).
    pub about: String,
    pub on_restore: bool,
    /// Confirmed: the restore is running; keys wait for its outcome.
    pub running: bool,
    pub message: Option<String>,
    pub scroll: u16,
}

impl RestoreConfirm {
    pub fn new(plan: RestoreReport, about: String) -> RestoreConfirm {
        RestoreConfirm {
            plan,
            about,
            on_restore: false,
            running: false,
            message: None,
            scroll: 0,
        }
    }

    fn blocked(&self) -> Option<&'static str> {
        (self.plan.restored() == 0).then_some(strings::NOTHING_COMES_BACK)
    }

    fn confirm(&mut self) -> PopupEffect {
        if let Some(why) = self.blocked() {
            self.message = Some(why.into());
            return PopupEffect::None;
        }
        self.running = true;
        PopupEffect::Restore(self.plan.batch_id)
    }

    fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap, area: Rect) -> PopupEffect {
        if self.running {
            return PopupEffect::None;
        }
        if key.code == KeyCode::Esc {
            return PopupEffect::Close;
        }
        let action = keymap.action(Context::Popup, key);
        let body = Self::body(area);
        let rows = self
            .paragraph(&Theme { color: false }, body.width)
            .line_count(body.width);
        if let Some(scroll) = action.and_then(|a| scrolled(self.scroll, a, rows, body.height)) {
            self.scroll = scroll;
            return PopupEffect::None;
        }
        match action {
            Some(Action::Confirm) => self.confirm(),
            Some(Action::Cancel) => PopupEffect::Close,
            Some(Action::NextField | Action::PrevField) => {
                self.on_restore = !self.on_restore;
                PopupEffect::None
            }
            Some(Action::Press) if self.on_restore => self.confirm(),
            Some(Action::Press) => PopupEffect::Close,
            _ => PopupEffect::None,
        }
    }

    fn paragraph(&self, theme: &Theme, width: u16) -> Paragraph<'static> {
        let mut lines = vec![Line::styled(fit(&self.about, width as usize), theme.dim())];
        lines.extend(
            restore_lines(&self.plan, theme, width as usize)
                .into_iter()
                .map(|(text, style)| Line::styled(text, style)),
        );
        Paragraph::new(lines).wrap(Wrap { trim: false })
    }

    /// The plan's area, above the buttons and the key line.
    fn body(area: Rect) -> Rect {
        let inner = inside(area);
        Rect::new(
            inner.x,
            inner.y,
            inner.width,
            inner.height.saturating_sub(2),
        )
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let inner = frame(area, buf, strings::RESTORE_TITLE, theme);
        if inner.height < 4 {
            return;
        }
        let body = Self::body(area);
        let paragraph = self.paragraph(theme, body.width);
        let scroll = clamped(self.scroll, paragraph.line_count(body.width), body.height);
        paragraph.scroll((scroll, 0)).render(body, buf);
        let enabled = self.blocked().is_none() && !self.running;
        Paragraph::new(Line::from(vec![
            Span::raw("        "),
            Span::styled(
                format!(" {} ", strings::CANCEL),
                theme.button(!self.on_restore, !self.running),
            ),
            Span::raw("   "),
            Span::styled(" Restore ", theme.danger_button(self.on_restore, enabled)),
        ]))
        .render(
            Rect::new(inner.x, inner.y + body.height, inner.width, 1),
            buf,
        );
        let hint = if self.running {
            Line::styled(strings::RESTORING, theme.dim())
        } else {
            match self.message.as_deref().or(self.blocked()) {
                Some(m) => Line::styled(fit(m, inner.width as usize), theme.warning()),
                None => Line::styled(
                    "y confirms · n/Esc cancels · Tab moves · ↑↓ PgUp PgDn scroll",
                    theme.dim(),
                ),
            }
        };
        Paragraph::new(hint).render(
            Rect::new(inner.x, inner.y + body.height + 1, inner.width, 1),
            buf,
        );
    }
}

/// A restore's plan or outcome: per table what comes back, then each row that cannot
/// and why. Table names and keys come from the database: sanitised.
pub fn restore_lines(report: &RestoreReport, theme: &Theme, width: usize) -> Vec<(String, Style)> {
    let width = width.saturating_sub(1).max(8);
    let verb = if report.planned {
        "would come back"
    } else {
        "came back"
    };
    let mut lines = vec![(
        format!(
            "{} {verb}, {} cannot",
            strings::plural(report.restored(), "row", "rows"),
            report.refused.len()
        ),
        theme.header(),
    )];
    let mut back: Vec<_> = report
        .tables
        .iter()
        .filter(|t| t.restored + t.relinked > 0)
        .collect();
    back.sort_by_key(|t| strings::table_rank(&t.table));
    if !back.is_empty() {
        let title = if report.planned {
            "Comes back:"
        } else {
            "Came back:"
        };
        lines.push((title.into(), theme.ok()));
    }
    for t in back {
        let mut line = format!(
            "  {:>8}  {}",
            t.restored,
            strings::table_name(&t.table, t.restored)
        );
        if t.relinked > 0 {
            line.push_str(&format!(" · {} linked back", t.relinked));
        }
        lines.push((fit(&line, width), Style::default()));
    }
    const SHOWN: usize = 500;
    if !report.refused.is_empty() {
        lines.push((
            format!("Cannot come back ({}):", report.refused.len()),
            theme.error(),
        ));
    }
    for r in report.refused.iter().take(SHOWN) {
        // Whole, to be wrapped: the reason is what the operator needs.
        let line = format!(
            "  {} ({}) — {}",
            crate::sanitize::clean_line(&r.table),
            fit(&r.key, 60),
            crate::sanitize::clean_line(&r.reason)
        );
        lines.push((line, Style::default()));
    }
    if report.refused.len() > SHOWN {
        lines.push((
            format!("  … and {} more", report.refused.len() - SHOWN),
            theme.dim(),
        ));
    }
    lines
}

/// An error from the database, as a popup.
pub fn error_popup(title: &str, error: &DataError, theme: &Theme) -> Popup {
    Popup::Text(TextView::message(title, &error.to_string(), theme.error()))
}
