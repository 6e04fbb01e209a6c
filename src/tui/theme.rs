//! Styles. With `NO_COLOR` set there is no colour at all; the cursor row and marks stay
//! visible through reverse video and bold.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(&self, style: Style, color: Color) -> Style {
        if self.color { style.fg(color) } else { style }
    }

    pub fn base(&self) -> Style {
        Style::default()
    }

    pub fn cursor(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn marked(&self) -> Style {
        self.fg(Style::default().add_modifier(Modifier::BOLD), Color::Yellow)
    }

    pub fn header(&self) -> Style {
        self.fg(
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            Color::Cyan,
        )
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default().add_modifier(Modifier::DIM)
        }
    }

    pub fn error(&self) -> Style {
        self.fg(Style::default().add_modifier(Modifier::BOLD), Color::Red)
    }

    pub fn ok(&self) -> Style {
        self.fg(Style::default(), Color::Green)
    }

    pub fn warning(&self) -> Style {
        self.fg(Style::default().add_modifier(Modifier::BOLD), Color::Yellow)
    }

    /// A name that passes for another: bold and underlined, so it stands out without colour.
    pub fn lookalike(&self) -> Style {
        self.fg(
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            Color::LightRed,
        )
    }

    pub fn tab_active(&self) -> Style {
        self.fg(
            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            Color::Cyan,
        )
    }

    pub fn badge(&self) -> Style {
        self.fg(
            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            Color::Magenta,
        )
    }

    pub fn button(&self, focused: bool, enabled: bool) -> Style {
        let style = if focused {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default()
        };
        if enabled {
            style
        } else {
            style.add_modifier(Modifier::DIM | Modifier::CROSSED_OUT)
        }
    }

    pub fn danger_button(&self, focused: bool, enabled: bool) -> Style {
        let style = self.button(focused, enabled);
        if self.color && enabled {
            style.fg(Color::Red)
        } else {
            style
        }
    }
}
