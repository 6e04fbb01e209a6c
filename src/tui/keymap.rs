//! Key bindings are data: embedded defaults, per-action overrides from `[keys]` in
//! config.toml, and the help screen and hint line generated from the live map. A bad
//! binding is reported and the default kept.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where an action applies: the lists, an open popup, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    List,
    Popup,
    Any,
}

macro_rules! actions {
    ($($variant:ident => $name:literal, $context:ident, $help:literal, [$($key:literal),*];)*) => {
        /// Everything a key can do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($variant),* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The name used in `[keys]` of config.toml.
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name),* }
            }

            pub fn context(self) -> Context {
                match self { $(Action::$variant => Context::$context),* }
            }

            pub fn help(self) -> &'static str {
                match self { $(Action::$variant => $help),* }
            }

            fn default_keys(self) -> &'static [&'static str] {
                match self { $(Action::$variant => &[$($key),*]),* }
            }
        }
    };
}

actions! {
    Up => "up", Any, "move up", ["k", "up"];
    Down => "down", Any, "move down", ["j", "down"];
    Top => "top", Any, "first row", ["g", "home"];
    Bottom => "bottom", Any, "last row", ["G", "end"];
    PageUp => "page_up", Any, "page up", ["pageup"];
    PageDown => "page_down", Any, "page down", ["pagedown"];
    HalfPageUp => "half_page_up", Any, "half a page up", ["ctrl-u"];
    HalfPageDown => "half_page_down", Any, "half a page down", ["ctrl-d"];
    TabChats => "tab_chats", List, "Chats tab", ["1"];
    TabMessages => "tab_messages", List, "Messages tab", ["2"];
    TabComments => "tab_comments", List, "Comments tab", ["3"];
    TabGuilds => "tab_guilds", List, "Guilds tab", ["4"];
    TabUsers => "tab_users", List, "Users tab", ["5"];
    TabAudit => "tab_audit", List, "Audit tab", ["6"];
    NextTab => "next_tab", List, "next tab", ["tab", "]"];
    PrevTab => "prev_tab", List, "previous tab", ["backtab", "["];
    Open => "open", List, "open details", ["enter"];
    Back => "back", List, "back / clear marks and filter", ["esc"];
    Mark => "mark", List, "mark and move down", ["space"];
    MarkRange => "mark_range", List, "mark a range (press again at the other end)", ["v"];
    MarkAll => "mark_all", List, "mark all rows matching the filter", ["ctrl-a"];
    InvertMarks => "invert_marks", List, "invert marks of rows matching the filter", ["ctrl-r"];
    Filter => "filter", List, "filter (literal text)", ["/"];
    NextMatch => "next_match", List, "next match", ["n"];
    PrevMatch => "prev_match", List, "previous match", ["N"];
    CommandLine => "command", List, "command line (commands listed below)", [":"];
    Search => "search", List, "search every chat message (:search TEXT)", ["F"];
    Delete => "delete", List, "delete marked rows (or the row under the cursor)", ["d"];
    Edit => "edit", List, "edit in place", ["e"];
    Repair => "repair", List, "repair orphaned sessions", ["r"];
    Restore => "restore", List, "restore a delete's batch from the trash (Audit)", ["u"];
    Refresh => "refresh", List, "refresh", ["R"];
    CopyId => "copy_id", List, "copy the row's full id to your clipboard (OSC 52)", ["y"];
    SortNext => "sort", List, "sort by the next column (the header shows ▲/▼)", ["s"];
    SortReverse => "sort_reverse", List, "reverse the sort", ["S"];
    JumpBack => "jump_back", List, "back to the previous view (after Enter or a command)", ["ctrl-o"];
    Help => "help", List, "help: every key", ["?"];
    Quit => "quit", List, "quit", ["q"];
    Confirm => "confirm", Popup, "confirm", ["y"];
    Cancel => "cancel", Popup, "cancel / close", ["n", "esc"];
    NextField => "next_field", Popup, "next field or button", ["tab", "right"];
    PrevField => "prev_field", Popup, "previous field or button", ["backtab", "left"];
    Press => "press", Popup, "press the focused button", ["enter"];
}

impl Action {
    /// Deletes or changes data: absent where nothing may be changed.
    pub fn changes_data(self) -> bool {
        matches!(
            self,
            Action::Delete | Action::Edit | Action::Repair | Action::Restore
        )
    }
}

/// A key with its modifiers, as written in config: `q`, `G`, `ctrl-a`, `shift-tab`…
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Key {
    /// The form a key event is looked up in: shift folded into the character.
    pub fn from_event(event: &KeyEvent) -> Key {
        let mut modifiers = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        let code = match event.code {
            KeyCode::Char(c) if event.modifiers.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            KeyCode::BackTab => KeyCode::BackTab,
            other => other,
        };
        if matches!(code, KeyCode::Char(_) | KeyCode::BackTab) {
            modifiers.remove(KeyModifiers::SHIFT);
        }
        Key { code, modifiers }
    }

    pub fn parse(text: &str) -> Result<Key, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty key".into());
        }
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-").map(|_| &rest[5..]) {
                modifiers |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = lower.strip_prefix("alt-").map(|_| &rest[4..]) {
                modifiers |= KeyModifiers::ALT;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" | "shift-tab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                let n: u8 = f[1..]
                    .parse()
                    .map_err(|_| format!("unknown key '{text}'"))?;
                if !(1..=12).contains(&n) {
                    return Err(format!("unknown key '{text}'"));
                }
                KeyCode::F(n)
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => {
                        if modifiers.contains(KeyModifiers::CONTROL) {
                            KeyCode::Char(c.to_ascii_lowercase())
                        } else {
                            KeyCode::Char(c)
                        }
                    }
                    _ => return Err(format!("unknown key '{text}'")),
                }
            }
        };
        Ok(Key { code, modifiers })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::F(n) => write!(f, "F{n}"),
            _ => f.write_str("?"),
        }
    }
}

/// The live key map.
#[derive(Debug, Clone)]
pub struct Keymap {
    lookup: HashMap<(Context, Key), Action>,
    keys: BTreeMap<Action, Vec<Key>>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut keys = BTreeMap::new();
        for action in Action::ALL {
            let parsed = action
                .default_keys()
                .iter()
                .filter_map(|k| Key::parse(k).ok())
                .collect();
            keys.insert(*action, parsed);
        }
        Keymap::from_keys(keys)
    }
}

impl Keymap {
    fn from_keys(keys: BTreeMap<Action, Vec<Key>>) -> Keymap {
        let mut lookup = HashMap::new();
        for (action, list) in &keys {
            for key in list {
                match action.context() {
                    Context::Any => {
                        lookup.entry((Context::List, *key)).or_insert(*action);
                        lookup.entry((Context::Popup, *key)).or_insert(*action);
                    }
                    context => {
                        lookup.insert((context, *key), *action);
                    }
                }
            }
        }
        Keymap { lookup, keys }
    }

    /// The defaults with the user's overrides; each bad entry is reported and skipped.
    pub fn with_overrides(overrides: &BTreeMap<String, toml::Value>) -> (Keymap, Vec<String>) {
        let defaults = Keymap::default();
        let mut keys = defaults.keys.clone();
        let mut problems = Vec::new();
        for (name, value) in overrides {
            let Some(action) = Action::ALL.iter().find(|a| a.name() == name) else {
                problems.push(format!("[keys] {name}: no such action"));
                continue;
            };
            let texts: Vec<String> = match value {
                toml::Value::String(s) => vec![s.clone()],
                toml::Value::Array(items) => {
                    let strings: Option<Vec<String>> = items
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect();
                    match strings {
                        Some(s) if !s.is_empty() => s,
                        _ => {
                            problems
                                .push(format!("[keys] {name}: expected a key or a list of keys"));
                            continue;
                        }
                    }
                }
                _ => {
                    problems.push(format!("[keys] {name}: expected a key or a list of keys"));
                    continue;
                }
            };
            let parsed: Result<Vec<Key>, String> = texts.iter().map(|t| Key::parse(t)).collect();
            match parsed {
                Ok(list) => {
                    keys.insert(*action, list);
                }
                Err(e) => problems.push(format!("[keys] {name}: {e}; default kept")),
            }
        }
        // A key taken from one action by another in the same context is a conflict:
        // the override wins, and the problem is reported.
        let map = Keymap::from_keys(keys.clone());
        for (action, list) in &keys {
            for key in list {
                let contexts: &[Context] = match action.context() {
                    Context::Any => &[Context::List, Context::Popup],
                    Context::List => &[Context::List],
                    Context::Popup => &[Context::Popup],
                };
                for context in contexts {
                    if let Some(other) = map.lookup.get(&(*context, *key))
                        && other != action
                        && overrides.contains_key(action.name())
                    {
                        problems.push(format!(
                            "[keys] {}: {key} is also bound to {}",
                            action.name(),
                            other.name()
                        ));
                    }
                }
            }
        }
        (map, problems)
    }

    pub fn action(&self, context: Context, event: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(event);
        self.lookup.get(&(context, key)).copied()
    }

    pub fn keys(&self, action: Action) -> &[Key] {
        self.keys.get(&action).map(Vec::as_slice).unwrap_or(&[])
    }

    /// "j/↓" — how the hint line and help name an action's keys.
    pub fn label(&self, action: Action) -> String {
        self.keys(action)
            .iter()
            .map(Key::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Every binding for which `shown` holds, for the help screen.
    pub fn help_lines(&self, shown: impl Fn(Action) -> bool) -> Vec<(String, &'static str)> {
        Action::ALL
            .iter()
            .filter(|a| shown(**a))
            .map(|a| (self.label(*a), a.help()))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEventKind;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new_with_kind(code, modifiers, KeyEventKind::Press)
    }

    #[test]
    fn defaults_cover_the_spec_keys() {
        let map = Keymap::default();
        assert_eq!(
            map.action(
                Context::List,
                &press(KeyCode::Char('j'), KeyModifiers::NONE)
            ),
            Some(Action::Down)
        );
        assert_eq!(
            map.action(
                Context::List,
                &press(KeyCode::Char('G'), KeyModifiers::SHIFT)
            ),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action(
                Context::List,
                &press(KeyCode::Char('a'), KeyModifiers::CONTROL)
            ),
            Some(Action::MarkAll)
        );
        assert_eq!(
            map.action(Context::List, &press(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevTab)
        );
        assert_eq!(
            map.action(
                Context::Popup,
                &press(KeyCode::Char('n'), KeyModifiers::NONE)
            ),
            Some(Action::Cancel)
        );
        assert_eq!(
            map.action(
                Context::List,
                &press(KeyCode::Char('n'), KeyModifiers::NONE)
            ),
            Some(Action::NextMatch)
        );
        assert_eq!(
            map.action(Context::Popup, &press(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
    }

    #[test]
    fn overrides_replace_an_actions_keys_and_bad_entries_are_reported_not_fatal() {
        let overrides: BTreeMap<String, toml::Value> = toml::from_str(
            "quit = \"ctrl-q\"\ndelete = [\"x\", \"D\"]\nfly = \"f\"\nhelp = \"ctrl-\"\nmark = 3\n",
        )
        .unwrap();
        let (map, problems) = Keymap::with_overrides(&overrides);
        assert_eq!(
            map.action(
                Context::List,
                &press(KeyCode::Char('q'), KeyModifiers::CONTROL)
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action(
                Context::List,
                &press(KeyCode::Char('q'), KeyModifiers::NONE)
            ),
            None
        );
        assert_eq!(
            map.action(
                Context::List,
                &press(KeyCode::Char('x'), KeyModifiers::NONE)
            ),
            Some(Action::Delete)
        );
        assert_eq!(
            map.label(Action::Help),
            "?",
            "bad override keeps the default"
        );
        assert_eq!(map.label(Action::Mark), "Space");
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("fly")));
    }

    #[test]
    fn keys_parse_and_print_round_trip() {
        for text in [
            "q",
            "G",
            "ctrl-a",
            "enter",
            "esc",
            "shift-tab",
            "pgup",
            "space",
            "F5",
            "[",
        ] {
            let key = Key::parse(text).unwrap();
            assert_eq!(
                Key::parse(&key.to_string().replace('↑', "up"))
                    .ok()
                    .map(|_| ()),
                Some(()),
                "{text}"
            );
        }
        assert!(Key::parse("ctrl-").is_err());
        assert!(Key::parse("hyper-x").is_err());
    }
}
