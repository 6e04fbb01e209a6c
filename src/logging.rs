//! Logs go to a file, never to the terminal the console draws on. The file is its owner's
//! alone, and every line is cleaned like console text, since usernames, titles and errors in
//! it come from strangers and the log is read in a terminal too.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

pub const LOG_ENV: &str = "MODCON_LOG";

/// Starts logging to `file` (or the data directory's `modcon.log`); returns the path.
pub fn init(file: Option<&Path>, level: &str) -> std::io::Result<PathBuf> {
    let path = match file {
        Some(path) => path.to_path_buf(),
        None => crate::paths::data_dir()?.join("modcon.log"),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let (writer, exposed) = crate::files::open_private(&path)?;
    // sqlx logs every statement, and slow ones in full (a bulk insert is megabytes):
    // only its errors are worth a line here.
    let filter = EnvFilter::try_from_env(LOG_ENV)
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=error")));
    tracing::subscriber::set_global_default(subscriber(writer, filter))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Some(exposed) = exposed {
        let shown = crate::sanitize::clean_line(&path.display().to_string());
        crate::files::warn(&if exposed.tightened {
            format!(
                "log file {shown} could be read by other users (mode {:04o}); it is now 0600",
                exposed.mode
            )
        } else {
            format!(
                "log file {shown} can be read by other users (mode {:04o}) and could not be \
                 made private; run: chmod 600 {shown}",
                exposed.mode
            )
        });
    }
    Ok(path)
}

fn subscriber<W: Write + Send + 'static>(
    writer: W,
    filter: EnvFilter,
) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(CleanEvents(writer)))
        .with_ansi(false)
        .with_env_filter(filter)
        .finish()
}

/// Writes each event as one clean line: controls, escape sequences and bidi overrides from
/// the data are shown, not run, and a line break in a field cannot forge a second entry.
struct CleanEvents<W>(W);

impl<W: Write> Write for CleanEvents<W> {
    /// The formatter hands over one whole event per call.
    fn write(&mut self, event: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(event);
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let mut line = crate::sanitize::clean_line(body);
        line.push('\n');
        self.0.write_all(line.as_bytes())?;
        Ok(event.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The lines a hostile event leaves in a real log file.
    fn logged(event: impl FnOnce()) -> String {
        let path = std::env::temp_dir().join(format!("modcon-log-{}.log", uuid::Uuid::new_v4()));
        let (file, _) = crate::files::open_private(&path).unwrap();
        tracing::subscriber::with_default(subscriber(file, EnvFilter::new("info")), event);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        text
    }

    #[test]
    fn a_hostile_username_reaches_the_log_without_its_bidi_override_or_escapes() {
        let hostile = "\u{202e}nimda\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m";
        let text = logged(|| tracing::info!(operator = %hostile, "signed in as {hostile}"));
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{9b}'),
            "{text:?}"
        );
        assert!(!text.contains('\u{7}'), "{text:?}");
        assert!(
            text.contains("operator=\u{fffd}nimda␛]0;pwned␇␛[2J\u{fffd}31m"),
            "{text:?}"
        );
        assert!(text.contains("signed in as \u{fffd}nimda"), "{text:?}");
    }

    #[test]
    fn a_line_break_in_a_field_cannot_forge_a_second_log_entry() {
        let forged = "alice\n2026-01-02T03:04:05Z  INFO modcon: signed in operator=root";
        let text = logged(|| tracing::info!(operator = %forged, "signed in"));
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(text.contains("alice⏎2026-01-02"), "{text:?}");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn every_event_gets_its_own_line() {
        let text = logged(|| {
            tracing::info!("first");
            tracing::warn!(count = 2, "second");
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text:?}");
        assert!(
            lines[0].ends_with("first") && lines[1].contains("second count=2"),
            "{text:?}"
        );
    }
}
