//! What the operator typed at `/` and `:` before, newest last, for ↑/↓ to recall; and
//! Tab completion of command names and of `:user` names. Kept for the session in
//! memory, and across sessions in a file only its owner can read.

use std::io::Write;
use std::path::PathBuf;

/// Which prompt an entry was typed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Filter,
    Command,
}

/// How many entries of each kind are kept.
const KEEP: usize = 200;

#[derive(Debug, Default)]
pub struct History {
    filters: Vec<String>,
    commands: Vec<String>,
    file: Option<PathBuf>,
}

impl History {
    /// The entries of an earlier session, if `path` holds any; new ones are appended
    /// there. Lines are `/text` or `:text`.
    pub fn load(path: PathBuf) -> History {
        let mut history = History::default();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for line in text.lines() {
                if let Some(filter) = line.strip_prefix('/') {
                    history.remember(Kind::Filter, filter);
                } else if let Some(command) = line.strip_prefix(':') {
                    history.remember(Kind::Command, command);
                }
            }
        }
        history.file = Some(path);
        history
    }

    pub fn entries(&self, kind: Kind) -> &[String] {
        match kind {
            Kind::Filter => &self.filters,
            Kind::Command => &self.commands,
        }
    }

    fn remember(&mut self, kind: Kind, text: &str) {
        let list = match kind {
            Kind::Filter => &mut self.filters,
            Kind::Command => &mut self.commands,
        };
        // The same text again moves to the end instead of filling the list.
        list.retain(|t| t != text);
        list.push(text.to_string());
        if list.len() > KEEP {
            list.remove(0);
        }
    }

    /// Keeps `text` (not an empty one, nor one holding a line break).
    pub fn push(&mut self, kind: Kind, text: &str) {
        if text.trim().is_empty() || text.contains(['\n', '\r']) {
            return;
        }
        self.remember(kind, text);
        if let Some(path) = &self.file {
            let mark = match kind {
                Kind::Filter => '/',
                Kind::Command => ':',
            };
            // History is a convenience: a file that cannot be written is only logged.
            let written = crate::files::open_private(path)
                .and_then(|(mut file, _)| writeln!(file, "{mark}{text}"));
            if let Err(e) = written {
                tracing::warn!("could not keep the prompt history: {e}");
            }
        }
    }
}

/// Where ↑/↓ are in the history of an open prompt.
#[derive(Debug, Clone, Default)]
pub struct Recall {
    /// How far back (1 = the newest entry); `None`: the operator's own text.
    pub back: Option<usize>,
    /// The operator's own text, given back when ↓ passes the newest entry.
    pub draft: String,
}

impl Recall {
    /// The entry one older (`older`) or newer than the one shown, or the draft.
    pub fn step(&mut self, entries: &[String], current: &str, older: bool) -> Option<String> {
        let back = self.back.unwrap_or(0);
        let next = if older {
            (back < entries.len()).then_some(back + 1)?
        } else {
            back.checked_sub(1)?
        };
        if self.back.is_none() {
            self.draft = current.to_string();
        }
        if next == 0 {
            self.back = None;
            return Some(self.draft.clone());
        }
        self.back = Some(next);
        entries.get(entries.len() - next).cloned()
    }
}

/// Every `:` command, for completion.
pub const COMMAND_NAMES: [&str; 12] = [
    "admins",
    "all",
    "comments",
    "goto",
    "help",
    "moderators",
    "orphans",
    "q",
    "quit",
    "reviews",
    "user",
    "users",
];

/// Commands that take an argument: completing one adds the space before it.
const WITH_ARGUMENT: [&str; 2] = ["goto", "user"];

/// What Tab makes of a command line: the text completed as far as it is unambiguous,
/// and the candidates when there are several. `names` are the user names loaded, for
/// `:user NAME`.
pub fn complete(text: &str, names: &[String]) -> (String, Vec<String>) {
    match text.split_once(' ') {
        None => {
            let candidates: Vec<String> = COMMAND_NAMES
                .iter()
                .filter(|c| c.starts_with(text))
                .map(|c| c.to_string())
                .collect();
            match candidates.as_slice() {
                [one] if WITH_ARGUMENT.contains(&one.as_str()) => (format!("{one} "), Vec::new()),
                [one] => (one.clone(), Vec::new()),
                _ => (common_prefix(text, &candidates), candidates),
            }
        }
        Some(("user", typed)) => {
            let lower = typed.to_lowercase();
            let mut candidates: Vec<String> = names
                .iter()
                .filter(|n| n.to_lowercase().starts_with(&lower) && !n.contains(char::is_control))
                .cloned()
                .collect();
            candidates.sort();
            candidates.dedup();
            match candidates.as_slice() {
                [] => (text.to_string(), Vec::new()),
                [one] => (format!("user {one}"), Vec::new()),
                _ => (
                    format!("user {}", common_prefix(typed, &candidates)),
                    candidates,
                ),
            }
        }
        Some(_) => (text.to_string(), Vec::new()),
    }
}

/// The longest start all candidates share, at least `typed`.
fn common_prefix(typed: &str, candidates: &[String]) -> String {
    let Some(first) = candidates.first() else {
        return typed.to_string();
    };
    let mut end = first.len();
    for c in &candidates[1..] {
        end = first
            .char_indices()
            .zip(c.chars())
            .take_while(|((_, a), b)| a == b)
            .map(|((i, a), _)| i + a.len_utf8())
            .last()
            .unwrap_or(0)
            .min(end);
    }
    let prefix = &first[..end];
    if prefix.len() >= typed.len() {
        prefix.to_string()
    } else {
        typed.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn up_recalls_older_entries_and_down_comes_back_to_the_draft() {
        let entries = vec!["one".to_string(), "two".to_string()];
        let mut recall = Recall::default();
        assert_eq!(recall.step(&entries, "dra", true).as_deref(), Some("two"));
        assert_eq!(recall.step(&entries, "two", true).as_deref(), Some("one"));
        assert_eq!(recall.step(&entries, "one", true), None, "nothing older");
        assert_eq!(recall.step(&entries, "one", false).as_deref(), Some("two"));
        assert_eq!(recall.step(&entries, "two", false).as_deref(), Some("dra"));
        assert_eq!(recall.step(&entries, "dra", false), None);
    }

    #[test]
    fn tab_completes_commands_and_user_names() {
        assert_eq!(complete("orp", &[]), ("orphans".into(), vec![]));
        assert_eq!(complete("go", &[]), ("goto ".into(), vec![]));
        let (text, candidates) = complete("u", &[]);
        assert_eq!(text, "user");
        assert_eq!(candidates, vec!["user".to_string(), "users".to_string()]);
        let names = vec!["alice".to_string(), "Albert".to_string(), "bob".to_string()];
        assert_eq!(complete("user b", &names), ("user bob".into(), vec![]));
        let (text, candidates) = complete("user al", &names);
        assert_eq!(text, "user al");
        assert_eq!(candidates.len(), 2);
        assert_eq!(complete("user zed", &names), ("user zed".into(), vec![]));
    }

    #[test]
    fn history_is_kept_in_a_file_only_its_owner_reads_and_read_back() {
        let dir = std::env::temp_dir().join(format!("modcon-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history");
        let _ = std::fs::remove_file(&path);
        let mut history = History::load(path.clone());
        history.push(Kind::Filter, "spam");
        history.push(Kind::Command, "orphans");
        history.push(Kind::Filter, "spam");
        history.push(Kind::Filter, "two\nlines");
        let again = History::load(path.clone());
        assert_eq!(again.entries(Kind::Filter), ["spam".to_string()]);
        assert_eq!(again.entries(Kind::Command), ["orphans".to_string()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
