//! Guilds: name, owner, members, sessions, messages, settings; Enter shows a guild's
//! settings and members. Deleting needs the guild's name typed.

use std::collections::HashMap;

use crate::db::Id;
use crate::db::ops::OpKind;
use crate::lookalike::{self, Lookalike};
use crate::tui::popup::Subject;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use super::chats::{allowed, refuse};
use super::{
    Cx, DeleteIntent, Effect, KeysRequest, Pane, Scope, Typed, answer_keys, cancel_keys, draw_list,
    find_or_say, list_status, mark, navigate, page_if_needed, reload, request_keys, targets, when,
};
use crate::db::lists::{GuildMemberRow, GuildRow, GuildSettingRow, Seek, SortCursor, TimeCursor};
use crate::db::{DataError, Permission};
use crate::sanitize::{fit, name};
use crate::tui::keymap::Action;
use crate::tui::list::{ListView, Marks};
use crate::tui::strings::plural;
use crate::tui::table::{self, Column, TableRow};
use crate::tui::theme::Theme;
use crate::tui::worker::{PageData, Query, RowKey, Slot};

const COLUMNS: [Column; 7] = [
    Column::flex("Name"),
    Column::fixed("Owner", 16),
    Column::number("Members", 8),
    Column::number("Sessions", 8).from(100),
    Column::number("Messages", 9),
    Column::number("Settings", 8).from(110),
    Column::time("Created", 16).from(76),
];

const MEMBER_COLUMNS: [Column; 3] = [
    Column::flex("Member"),
    Column::fixed("Role", 8),
    Column::time("Joined", 16),
];

/// A guild opened with Enter.
#[derive(Clone)]
pub struct GuildView {
    pub guild: GuildRow,
    pub members: ListView<GuildMemberRow, TimeCursor>,
    pub settings: Vec<GuildSettingRow>,
}

#[derive(Default, Clone)]
pub struct GuildsPane {
    pub list: ListView<GuildRow, SortCursor>,
    pub marks: Marks,
    pub text: Option<String>,
    pub open: Option<GuildView>,
    keys_request: Option<KeysRequest>,
    started: bool,
    /// Look-alikes among the guilds loaded, by id.
    lookalikes: HashMap<Id, Lookalike>,
}

fn cells(r: &GuildRow) -> Vec<String> {
    vec![
        name(&r.name),
        r.owner_name.as_deref().map_or_else(|| "—".into(), name),
        r.members.to_string(),
        r.chat_sessions.to_string(),
        r.messages.to_string(),
        r.settings.to_string(),
        when(&r.created_at),
    ]
}

/// Settings shown above the members, at most this many lines.
const SETTINGS_LINES: usize = 6;

impl GuildsPane {
    fn reload(&mut self, cx: &mut Cx) {
        self.started = true;
        let query = Query::Guilds {
            text: self.text.clone(),
            seek: Seek::First,
        };
        reload(&mut self.list, Slot::Guilds, cx, query);
    }

    fn page(&mut self, cx: &mut Cx) {
        match &mut self.open {
            Some(view) => {
                let guild = view.guild.id.clone();
                // Members are read from the head only (G goes to the last loaded).
                page_if_needed(&mut view.members, Slot::GuildMembers, cx, |seek| {
                    Query::GuildMembers {
                        guild,
                        after: match seek {
                            Seek::After(c) => Some(c),
                            _ => None,
                        },
                    }
                });
            }
            None => {
                let text = self.text.clone();
                page_if_needed(&mut self.list, Slot::Guilds, cx, |seek| Query::Guilds {
                    text,
                    seek,
                });
            }
        }
    }
}

impl Pane for GuildsPane {
    fn on_action(&mut self, action: Action, cx: &mut Cx) -> Effect {
        if !self.started {
            self.reload(cx);
        }
        if let Some(view) = &mut self.open {
            if navigate(&mut view.members, action) {
                self.page(cx);
                return Effect::None;
            }
        } else if navigate(&mut self.list, action)
            || mark(
                &mut self.list,
                &mut self.marks,
                action,
                |r| r.id.clone(),
                Scope::of(&self.text),
            )
        {
            self.page(cx);
            return Effect::None;
        }
        match action {
            Action::Open => {
                if let Some(view) = &self.open {
                    // A member: their chat sessions.
                    return match view.members.selected_row() {
                        Some(m) => Effect::Drill(super::Drill {
                            user_id: m.user_id.clone(),
                            username: m.username.clone(),
                            tab: crate::tui::app::Tab::Chats,
                        }),
                        None => Effect::None,
                    };
                }
                if let Some(guild) = self.list.selected_row().cloned() {
                    let members = ListView {
                        height: self.list.height.saturating_sub(SETTINGS_LINES + 2).max(1),
                        seeks_tail: false,
                        ..ListView::default()
                    };
                    let guild_id = guild.id.clone();
                    self.open = Some(GuildView {
                        guild,
                        members,
                        settings: Vec::new(),
                    });
                    if let Some(view) = &mut self.open {
                        reload(
                            &mut view.members,
                            Slot::GuildMembers,
                            cx,
                            Query::GuildMembers {
                                guild: guild_id,
                                after: None,
                            },
                        );
                    }
                }
                Effect::None
            }
            Action::Back => {
                if let Some(stopped) = cancel_keys(&mut self.keys_request) {
                    return stopped;
                }
                if self.open.take().is_some() {
                    return Effect::None;
                }
                if !self.marks.is_empty() {
                    self.marks.clear();
                } else if self.text.is_some() {
                    self.text = None;
                    self.reload(cx);
                }
                Effect::None
            }
            Action::Delete => {
                if let Some(refusal) = refuse(cx, Permission::DeleteGuilds) {
                    return refusal;
                }
                let (ids, hidden) = match &self.open {
                    Some(view) => (vec![view.guild.id.clone()], 0),
                    None => targets(
                        &self.list,
                        &self.marks,
                        |r| r.id.clone(),
                        Scope::of(&self.text),
                    ),
                };
                if ids.is_empty() {
                    return Effect::Status(crate::tui::strings::NOTHING_SELECTED.into());
                }
                // One guild: its name, exactly as shown, must be typed.
                let typed = if ids.len() == 1 {
                    let name = match &self.open {
                        Some(view) => Some(view.guild.name.clone()),
                        None => self
                            .list
                            .rows
                            .iter()
                            .find(|r| r.id == ids[0])
                            .map(|r| r.name.clone()),
                    };
                    // A name shown otherwise than stored (hidden characters, spaces at
                    // either end) or mixing scripts cannot be typed as it reads: then the
                    // count is asked for instead.
                    match name {
                        Some(name) if lookalike::typable_as_shown(&name) => Typed::Name(name),
                        _ => Typed::Count,
                    }
                } else {
                    Typed::Count
                };
                Effect::Intent(
                    DeleteIntent::new(Subject::of(OpKind::DeleteGuilds), ids, hidden, typed)
                        .with_lookalikes(&self.lookalikes),
                )
            }
            Action::MarkAll | Action::InvertMarks if self.open.is_none() => {
                let query = Query::Guilds {
                    text: self.text.clone(),
                    seek: Seek::First,
                };
                let (effect, waiting) = request_keys(
                    cx,
                    query,
                    action == Action::InvertMarks,
                    Scope::of(&self.text),
                );
                self.keys_request = waiting;
                effect
            }
            Action::NextMatch | Action::PrevMatch => {
                let needle = self.text.clone().unwrap_or_default();
                find_or_say(&mut self.list, &needle, action, |r| cells(r).join(" "))
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
            (Slot::Guilds, Ok(PageData::Guilds(page))) => {
                let accepted = self.list.accept(seq, page.rows, page.next);
                if accepted {
                    self.lookalikes = lookalike::among(
                        self.list
                            .rows
                            .iter()
                            .map(|r| (r.id.clone(), r.name.as_str())),
                    );
                }
            }
            (Slot::Guilds, Err(e)) => {
                self.list.fail(seq, e.to_string());
            }
            (Slot::GuildMembers, Ok(PageData::GuildMembers(page, settings))) => {
                if let Some(view) = &mut self.open
                    && view.members.accept(seq, page.rows, page.next)
                {
                    view.settings = settings;
                }
            }
            (Slot::GuildMembers, Err(e)) => {
                if let Some(view) = &mut self.open {
                    view.members.fail(seq, e.to_string());
                }
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
            ("guild", "guilds"),
        )
    }

    fn set_filter(&mut self, text: &str, cx: &mut Cx) {
        self.open = None;
        self.text = (!text.is_empty()).then(|| text.to_string());
        self.reload(cx);
    }

    fn filter_text(&self) -> String {
        self.text.clone().unwrap_or_default()
    }

    fn command(&mut self, name: &str, arg: &str, cx: &mut Cx) -> Effect {
        if name != "goto" {
            return Effect::Error(format!(":{} does nothing here", fit(name, 20)));
        }
        let effect = match &mut self.open {
            Some(view) => super::goto_loaded(&mut view.members, arg, |r| r.user_id.to_string()),
            None => super::goto_loaded(&mut self.list, arg, |r| r.id.to_string()),
        };
        self.page(cx);
        effect
    }

    fn refresh(&mut self, cx: &mut Cx) {
        if let Some(view) = &mut self.open {
            let guild = view.guild.id.clone();
            reload(
                &mut view.members,
                Slot::GuildMembers,
                cx,
                Query::GuildMembers { guild, after: None },
            );
        } else {
            self.reload(cx);
        }
    }

    fn after_operation(&mut self, done: &[Id], cx: &mut Cx) {
        for id in done {
            self.marks.ids.remove(id);
        }
        if self
            .open
            .as_ref()
            .is_some_and(|v| done.contains(&v.guild.id))
        {
            self.open = None;
        }
        if self.started {
            self.reload(cx);
        }
    }

    fn marked(&self) -> usize {
        self.marks.len()
    }

    fn hints(&self, cx: &Cx) -> Vec<Action> {
        let mut hints = if self.open.is_some() {
            vec![Action::Back]
        } else {
            vec![Action::Open, Action::Mark, Action::Filter]
        };
        if allowed(cx, Permission::DeleteGuilds) {
            hints.push(Action::Delete);
        }
        if self.open.is_none() {
            hints.push(Action::MarkAll);
        }
        hints.extend([Action::Help, Action::Quit]);
        hints
    }

    fn depth(&self) -> usize {
        usize::from(self.open.is_some())
    }

    fn title(&self) -> String {
        match &self.open {
            Some(view) => format!(
                "Guilds › {}{} · {} · {} · {}",
                fit(&name(&view.guild.name), 40),
                self.lookalikes
                    .get(&view.guild.id)
                    .map(|f| format!(" {}", f.marker()))
                    .unwrap_or_default(),
                plural(view.guild.members, "member", "members"),
                plural(view.guild.chat_sessions, "session", "sessions"),
                plural(view.guild.messages, "message", "messages")
            ),
            None => match &self.text {
                Some(text) => format!("Guilds · /{}", fit(text, 24)),
                None => "Guilds".into(),
            },
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        if let Some(view) = &self.open {
            let mut lines = vec![Line::styled(
                format!("Settings ({})", view.guild.settings),
                theme.header(),
            )];
            for s in view.settings.iter().take(SETTINGS_LINES - 1) {
                lines.push(Line::raw(format!(
                    "  {} = {}",
                    fit(&s.key, 24),
                    fit(&s.value, area.width.saturating_sub(30) as usize)
                )));
            }
            let settings_height = (lines.len() as u16).min(area.height);
            Paragraph::new(lines)
                .render(Rect::new(area.x, area.y, area.width, settings_height), buf);
            let members_area = Rect::new(
                area.x,
                area.y + settings_height,
                area.width,
                area.height.saturating_sub(settings_height),
            );
            let rows: Vec<TableRow> = view
                .members
                .visible()
                .map(|(i, m)| TableRow {
                    cells: vec![name(&m.username), m.role.clone(), when(&m.joined_at)],
                    cursor: i == view.members.selected,
                    marked: false,
                    flag: None,
                    style: None,
                })
                .collect();
            table::draw(buf, members_area, &MEMBER_COLUMNS, &rows, None, theme);
            return;
        }
        let rows: Vec<TableRow> = self
            .list
            .visible()
            .map(|(i, r)| TableRow {
                cells: cells(r),
                cursor: i == self.list.selected,
                marked: self.marks.contains(&r.id),
                flag: self.lookalikes.get(&r.id).cloned(),
                style: None,
            })
            .collect();
        draw_list(
            buf,
            area,
            &COLUMNS,
            &rows,
            list_status(&self.list, self.text.is_some()),
            theme,
        );
    }

    fn select_visible(&mut self, row: usize, cx: &mut Cx) -> bool {
        // An open guild shows its settings above the members: only the list is clicked.
        if self.open.is_some() {
            return false;
        }
        let selected = self.list.select_visible(row);
        self.page(cx);
        selected
    }

    fn set_height(&mut self, height: usize, cx: &mut Cx) {
        self.list.set_height(height);
        if let Some(view) = &mut self.open {
            view.members
                .set_height(height.saturating_sub(SETTINGS_LINES + 1).max(1));
        }
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
        if slot == Slot::Guilds {
            self.list.accept_count(seq, total);
        }
    }

    fn position(&self) -> Option<String> {
        match &self.open {
            Some(view) => view.members.position(),
            None => self.list.position(),
        }
    }

    fn selected_id(&self) -> Option<String> {
        match &self.open {
            Some(view) => view.members.selected_row().map(|r| r.user_id.to_string()),
            None => self.list.selected_row().map(|r| r.id.to_string()),
        }
    }

    fn busy(&self) -> bool {
        self.list.pending.is_some()
            || self.keys_request.is_some()
            || self
                .open
                .as_ref()
                .is_some_and(|v| v.members.pending.is_some())
    }
}
