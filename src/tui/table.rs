//! Draws a list as a table: only the visible rows, every cell sanitised and cut to its
//! column in terminal cells. Narrow terminals drop the least important columns.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::theme::Theme;
use crate::lookalike::Lookalike;
use crate::sanitize::pad;

/// A column: a fixed width, or a share of what is left (`width == 0`).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    pub width: u16,
    /// Shown only when the table is at least this wide.
    pub min_table_width: u16,
    pub right: bool,
    /// Holds times: the header names their zone.
    pub zoned: bool,
}

impl Column {
    pub const fn fixed(title: &'static str, width: u16) -> Column {
        Column {
            title,
            width,
            min_table_width: 0,
            right: false,
            zoned: false,
        }
    }

    pub const fn flex(title: &'static str) -> Column {
        Column {
            title,
            width: 0,
            min_table_width: 0,
            right: false,
            zoned: false,
        }
    }

    pub const fn number(title: &'static str, width: u16) -> Column {
        Column {
            title,
            width,
            min_table_width: 0,
            right: true,
            zoned: false,
        }
    }

    /// A column of times in the operator's zone.
    pub const fn time(title: &'static str, width: u16) -> Column {
        Column {
            zoned: true,
            ..Column::fixed(title, width)
        }
    }

    /// The header as drawn: "Created (UTC+1)".
    pub fn header(&self) -> String {
        if self.zoned {
            format!("{} ({})", self.title, super::clock::label())
        } else {
            self.title.to_string()
        }
    }

    pub const fn from(self, min_table_width: u16) -> Column {
        Column {
            min_table_width,
            ..self
        }
    }
}

/// The column a list is sorted by, marked ▲ (ascending) or ▼ in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortMark {
    pub title: &'static str,
    pub descending: bool,
}

pub fn arrow(descending: bool) -> &'static str {
    if descending { "▼" } else { "▲" }
}

/// One row to draw: cells are raw text (sanitised here).
pub struct TableRow {
    pub cells: Vec<String>,
    pub cursor: bool,
    pub marked: bool,
    pub style: Option<Style>,
    /// The first cell is a name that passes for another: marked after it, never cut off.
    pub flag: Option<Lookalike>,
}

/// Which columns fit and how wide each is.
pub fn layout(columns: &[Column], width: u16) -> Vec<(usize, u16)> {
    let shown: Vec<usize> = (0..columns.len())
        .filter(|i| width >= columns[*i].min_table_width)
        .collect();
    let gaps = shown.len().saturating_sub(1) as u16;
    let fixed: u16 = shown.iter().map(|i| columns[*i].width).sum();
    let flex_count = shown.iter().filter(|i| columns[**i].width == 0).count() as u16;
    let left = width.saturating_sub(2 + fixed + gaps);
    shown
        .into_iter()
        .map(|i| {
            let w = if columns[i].width == 0 {
                (left / flex_count.max(1)).max(4)
            } else {
                columns[i].width
            };
            (i, w)
        })
        .collect()
}

fn cell_text(text: &str, width: u16, right: bool) -> String {
    let fitted = pad(text, width as usize);
    if right {
        let trimmed = fitted.trim_end();
        let w = crate::sanitize::width(trimmed);
        format!(
            "{}{}",
            " ".repeat((width as usize).saturating_sub(w)),
            trimmed
        )
    } else {
        fitted
    }
}

pub fn draw(
    buf: &mut Buffer,
    area: Rect,
    columns: &[Column],
    rows: &[TableRow],
    sort: Option<SortMark>,
    theme: &Theme,
) {
    if area.height == 0 || area.width < 4 {
        return;
    }
    let plan = layout(columns, area.width);
    // Header.
    let mut x = area.x + 2;
    for (i, w) in &plan {
        let column = &columns[*i];
        let header = match sort.filter(|m| m.title == column.title) {
            // The arrow beside the name, before the zone, so a long zone cannot cut it off.
            Some(mark) if column.zoned => format!(
                "{} {} ({})",
                column.title,
                arrow(mark.descending),
                super::clock::label()
            ),
            Some(mark) => format!("{} {}", column.title, arrow(mark.descending)),
            None => column.header(),
        };
        let text = cell_text(&header, *w, columns[*i].right);
        buf.set_stringn(x, area.y, &text, *w as usize, theme.header());
        x = x.saturating_add(w + 1);
    }
    for (n, row) in rows.iter().enumerate() {
        let y = area.y + 1 + n as u16;
        if y >= area.y + area.height {
            break;
        }
        let mut style = row.style.unwrap_or_else(|| theme.base());
        if row.marked {
            style = style.patch(theme.marked());
        }
        if row.cursor {
            style = style.patch(theme.cursor());
        }
        let line = Rect::new(area.x, y, area.width, 1);
        buf.set_style(line, style);
        let mark = match (row.cursor, row.marked) {
            (_, true) => "● ",
            (true, false) => "› ",
            _ => "  ",
        };
        buf.set_stringn(area.x, y, mark, 2, style);
        let mut x = area.x + 2;
        for (n, (i, w)) in plan.iter().enumerate() {
            let text = row.cells.get(*i).map(String::as_str).unwrap_or("");
            match &row.flag {
                Some(flag) if n == 0 => draw_flagged(buf, (x, y), text, *w, flag, style, theme),
                _ => {
                    let text = cell_text(text, *w, columns[*i].right);
                    buf.set_stringn(x, y, &text, *w as usize, style);
                }
            }
            x = x.saturating_add(w + 1);
        }
    }
}

/// A name and its look-alike marker in one cell: the marker keeps its room, the name is cut.
fn draw_flagged(
    buf: &mut Buffer,
    (x, y): (u16, u16),
    name: &str,
    width: u16,
    flag: &Lookalike,
    style: Style,
    theme: &Theme,
) {
    let width = width as usize;
    let marker = flag.marker_within(width, crate::sanitize::width(name));
    let marker_width = crate::sanitize::width(&marker);
    let name_width = width
        .saturating_sub(marker_width + 1)
        .min(crate::sanitize::width(name));
    let shown = pad(name, name_width);
    buf.set_stringn(x, y, &shown, name_width, style);
    let at = x.saturating_add(name_width as u16 + u16::from(name_width > 0));
    let left = width.saturating_sub(name_width + usize::from(name_width > 0));
    buf.set_stringn(at, y, &marker, left, style.patch(theme.lookalike()));
}
