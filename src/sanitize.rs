//! Makes text written by strangers safe to put on a terminal and measures it in cells.
//!
//! Hazards are replaced with something visible rather than silently dropped where a moderator
//! should notice them (controls, bidi overrides, zero-width characters that forge
//! look-alike names); only presentation selectors and tags, which change nothing a reader
//! could be fooled by, are removed.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

const LINE_BREAK_SYMBOL: char = '⏎';
const ELLIPSIS: char = '…';
const REPLACEMENT: char = '\u{fffd}';
const DEL_PICTURE: char = '\u{2421}';
/// Enough for real accents and diacritics, too few for "Zalgo" to spill over other rows.
const MAX_MARKS_PER_BASE: u8 = 2;
const TAB_IN_LINES: &str = "    ";

/// For list cells and titles, where a line break would corrupt the layout.
pub fn clean_line(text: &str) -> String {
    let mut cleaner = Cleaner::default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match cleaner.next(c) {
            Cleaned::Nothing => {}
            Cleaned::Char(c) => out.push(c),
            Cleaned::Tab => out.push(' '),
            Cleaned::Break => out.push(LINE_BREAK_SYMBOL),
        }
    }
    out
}

/// For detail views and previews, where the author's line structure matters.
pub fn clean_lines(text: &str) -> Vec<String> {
    let mut cleaner = Cleaner::default();
    let mut lines = Vec::new();
    let mut line = String::new();
    for c in text.chars() {
        match cleaner.next(c) {
            Cleaned::Nothing => {}
            Cleaned::Char(c) => line.push(c),
            Cleaned::Tab => line.push_str(TAB_IN_LINES),
            Cleaned::Break => lines.push(std::mem::take(&mut line)),
        }
    }
    lines.push(line);
    lines
}

/// Layout must count cells, not bytes or chars: CJK and emoji take two, marks none.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Cleans only as much of the text as can be shown, so a megabyte message costs no more than a
/// short one.
pub fn fit(text: &str, max_width: usize) -> String {
    fit_chars(text.chars(), max_width)
}

/// Table columns need every cell to be exactly as wide as its column.
pub fn pad(text: &str, width: usize) -> String {
    let mut fitted = fit(text, width);
    let used = self::width(&fitted);
    fitted.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    fitted
}

fn fit_chars(chars: impl Iterator<Item = char>, max_width: usize) -> String {
    if max_width == 0 {
        return String::new();
    }
    let mut cleaner = Cleaner::default();
    let mut fitter = Fitter::new(max_width);
    for c in chars {
        let c = match cleaner.next(c) {
            Cleaned::Nothing => continue,
            Cleaned::Char(c) => c,
            Cleaned::Tab => ' ',
            Cleaned::Break => LINE_BREAK_SYMBOL,
        };
        if let Err(Overflow) = fitter.push(c) {
            return fitter.cut();
        }
    }
    match fitter.commit_cluster() {
        Ok(()) => fitter.out,
        Err(Overflow) => fitter.cut(),
    }
}

/// What one input character turns into; tabs and breaks are left to the caller because
/// single-line and multi-line views show them differently.
enum Cleaned {
    Nothing,
    Char(char),
    Tab,
    Break,
}

#[derive(Default)]
struct Cleaner {
    /// A `\n` right after `\r` belongs to the same break.
    after_cr: bool,
    /// Marks kept on the current base; `None` at the start of a line, where marks have nothing
    /// to sit on.
    marks: Option<u8>,
    /// The last base was two cells wide (an emoji): a joiner after it only glues emoji.
    after_wide: bool,
}

impl Cleaner {
    fn next(&mut self, c: char) -> Cleaned {
        if is_removed(c) || (c == '\u{200d}' && self.after_wide) {
            // Removed characters are treated as if they were never there; a joiner inside
            // an emoji sequence lets the emoji fall apart, measured the same everywhere.
            return Cleaned::Nothing;
        }
        if is_hidden(c) {
            // "ad\u{200b}min" must not pass for "admin".
            return self.base(REPLACEMENT);
        }
        let after_cr = std::mem::replace(&mut self.after_cr, false);
        match c {
            '\n' if after_cr => Cleaned::Nothing,
            '\r' => {
                self.after_cr = true;
                self.marks = None;
                Cleaned::Break
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                self.marks = None;
                Cleaned::Break
            }
            '\t' => {
                self.marks = Some(0);
                Cleaned::Tab
            }
            '\0'..='\x1f' => {
                self.base(char::from_u32(0x2400 + u32::from(c)).unwrap_or(REPLACEMENT))
            }
            '\x7f' => self.base(DEL_PICTURE),
            c if is_c1_control(c) || is_bidi_control(c) => self.base(REPLACEMENT),
            c if c.width() == Some(0) => match self.marks {
                Some(kept) if kept < MAX_MARKS_PER_BASE => {
                    self.marks = Some(kept + 1);
                    Cleaned::Char(c)
                }
                _ => Cleaned::Nothing,
            },
            c => self.base(c),
        }
    }

    fn base(&mut self, c: char) -> Cleaned {
        self.marks = Some(0);
        self.after_wide = c.width() == Some(2) && !c.is_alphanumeric();
        Cleaned::Char(c)
    }
}

struct Overflow;

/// Accumulates clean text cluster by cluster (a base with its marks and emoji modifier), since
/// a cluster's width is only known once it is complete.
struct Fitter {
    max_width: usize,
    out: String,
    used: usize,
    /// Length of `out` at the last point where an ellipsis would still fit after it.
    cut_at: usize,
    cluster: String,
    cluster_has_modifier: bool,
}

impl Fitter {
    fn new(max_width: usize) -> Self {
        Self {
            max_width,
            out: String::new(),
            used: 0,
            cut_at: 0,
            cluster: String::new(),
            cluster_has_modifier: false,
        }
    }

    fn push(&mut self, c: char) -> Result<(), Overflow> {
        let joins_cluster = !self.cluster.is_empty()
            && (c.width() == Some(0) || (is_emoji_modifier(c) && !self.cluster_has_modifier));
        if joins_cluster {
            self.cluster_has_modifier |= is_emoji_modifier(c);
        } else {
            self.commit_cluster()?;
            self.cluster_has_modifier = false;
        }
        self.cluster.push(c);
        Ok(())
    }

    fn commit_cluster(&mut self) -> Result<(), Overflow> {
        let cluster_width = width(&self.cluster);
        if self.used + cluster_width > self.max_width {
            return Err(Overflow);
        }
        self.out.push_str(&self.cluster);
        self.cluster.clear();
        self.used += cluster_width;
        if self.used < self.max_width {
            self.cut_at = self.out.len();
        }
        Ok(())
    }

    fn cut(mut self) -> String {
        self.out.truncate(self.cut_at);
        self.out.push(ELLIPSIS);
        self.out
    }
}

/// 8-bit controls: U+009B alone starts a CSI on terminals that honour C1.
fn is_c1_control(c: char) -> bool {
    matches!(c, '\u{80}'..='\u{9f}')
}

/// Embeddings, overrides, isolates and marks that can make `exe.txt` read as `txt.exe`.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
    )
}

/// Invisible characters that hide text or forge look-alike names: shown as U+FFFD.
fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{ad}' | '\u{180e}'
    )
}

/// Presentation selectors and tags: they only make terminals disagree on widths.
fn is_removed(c: char) -> bool {
    matches!(
        c,
        '\u{fe00}'..='\u{fe0f}'
            | '\u{e0100}'..='\u{e01ef}'
            | '\u{e0000}'..='\u{e007f}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// Skin-tone modifiers merge with the emoji before them into one two-cell glyph.
fn is_emoji_modifier(c: char) -> bool {
    matches!(c, '\u{1f3fb}'..='\u{1f3ff}')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn escape_sequences_that_retitle_the_terminal_are_shown_not_run() {
        assert_eq!(clean_line("\x1b]0;pwned\x07"), "␛]0;pwned␇");
    }

    #[test]
    fn cursor_movement_sequences_are_shown_not_run() {
        assert_eq!(clean_line("\x1b[2J\x1b[H"), "␛[2J␛[H");
    }

    #[test]
    fn eight_bit_control_sequence_introducer_becomes_a_replacement_character() {
        assert_eq!(clean_line("\u{9b}31m"), "\u{fffd}31m");
        assert_eq!(clean_line("\u{9d}0;x\u{9c}"), "\u{fffd}0;x\u{fffd}");
    }

    #[test]
    fn other_controls_and_delete_become_control_pictures() {
        assert_eq!(clean_line("a\0b\x08c\x7f"), "a␀b␈c␡");
        assert_eq!(clean_line("\x0b\x0c"), "␋␌");
    }

    #[test]
    fn bidi_override_is_made_visible_so_spoofed_names_stand_out() {
        assert_eq!(clean_line("abc\u{202e}txt.exe"), "abc\u{fffd}txt.exe");
        assert_eq!(
            clean_line("\u{2066}a\u{2069}\u{200e}\u{200f}\u{61c}"),
            "\u{fffd}a\u{fffd}\u{fffd}\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn zero_width_characters_are_made_visible_so_look_alike_names_stand_out() {
        let text = "a\u{200b}d\u{200c}m\u{200d}i\u{2060}n\u{feff}\u{ad}\u{180e}";
        assert_eq!(
            clean_line(text),
            "a\u{fffd}d\u{fffd}m\u{fffd}i\u{fffd}n\u{fffd}\u{fffd}\u{fffd}"
        );
        assert_ne!(clean_line("ad\u{200b}min"), clean_line("admin"));
    }

    #[test]
    fn selectors_tags_and_annotations_are_removed() {
        assert_eq!(clean_line("a\u{fe0f}d\u{e0041}m\u{fff9}in"), "admin");
        assert_eq!(width(&clean_line("❤\u{fe0f}")), width("❤"));
    }

    #[test]
    fn emoji_take_two_cells() {
        assert_eq!(width(&clean_line("😀")), 2);
        assert_eq!(width(&clean_line("a😀b")), 4);
    }

    #[test]
    fn zwj_emoji_sequences_fall_apart_into_separately_measured_emoji() {
        let family = clean_line("👨\u{200d}👩\u{200d}👧");
        assert_eq!(family, "👨👩👧");
        assert_eq!(width(&family), 6);
    }

    #[test]
    fn cjk_characters_take_two_cells() {
        assert_eq!(width(&clean_line("中文")), 4);
        assert_eq!(width(&clean_line("日本語abc")), 9);
    }

    #[test]
    fn ordinary_accents_are_kept_and_take_no_cells() {
        let text = "e\u{301}a\u{300}\u{323}";
        assert_eq!(clean_line(text), text);
        assert_eq!(width(text), 2);
    }

    #[test]
    fn zalgo_is_limited_to_two_marks_per_character() {
        let zalgo: String = std::iter::once('Z')
            .chain(std::iter::repeat_n('\u{336}', 50))
            .chain(std::iter::once('a'))
            .chain(std::iter::repeat_n('\u{35b}', 50))
            .collect();
        assert_eq!(clean_line(&zalgo), "Z\u{336}\u{336}a\u{35b}\u{35b}");
    }

    #[test]
    fn combining_marks_without_a_base_are_dropped() {
        assert_eq!(clean_line("\u{301}\u{302}abc"), "abc");
        assert_eq!(clean_lines("x\n\u{301}y"), ["x", "y"]);
    }

    #[test]
    fn line_breaks_and_tabs_in_one_line_are_shown_as_symbols_and_spaces() {
        assert_eq!(
            clean_line("a\nb\r\nc\rd\u{2028}e\u{2029}f\u{85}g\th"),
            "a⏎b⏎c⏎d⏎e⏎f⏎g h"
        );
    }

    #[test]
    fn clean_lines_splits_on_every_kind_of_line_break() {
        assert_eq!(
            clean_lines("a\nb\r\nc\rd\u{2028}e\u{2029}f\u{85}g"),
            ["a", "b", "c", "d", "e", "f", "g"]
        );
        assert_eq!(clean_lines("\r\n\r\n"), ["", "", ""]);
    }

    #[test]
    fn clean_lines_expands_tabs_and_cleans_each_line() {
        assert_eq!(
            clean_lines("\tx\x1b[31m\ny\u{202e}"),
            ["    x␛[31m", "y\u{fffd}"]
        );
    }

    #[test]
    fn clean_lines_of_empty_text_is_one_empty_line() {
        assert_eq!(clean_lines(""), [""]);
    }

    #[test]
    fn fit_leaves_short_text_alone() {
        assert_eq!(fit("hello", 5), "hello");
        assert_eq!(fit("hello", 80), "hello");
        assert_eq!(fit("中文", 4), "中文");
    }

    #[test]
    fn fit_ends_cut_text_with_an_ellipsis() {
        assert_eq!(fit("hello world", 8), "hello w…");
        assert_eq!(fit("hello", 4), "hel…");
        assert_eq!(fit("hello", 1), "…");
    }

    #[test]
    fn fit_to_zero_cells_is_empty() {
        assert_eq!(fit("hello", 0), "");
        assert_eq!(fit("", 0), "");
    }

    #[test]
    fn fit_never_splits_a_wide_character() {
        assert_eq!(fit("abc中de", 5), "abc…");
        assert_eq!(fit("abcd中e", 5), "abcd…");
        assert_eq!(fit("中文字", 4), "中…");
        assert_eq!(fit("中文字", 5), "中文…");
        assert_eq!(fit("中", 1), "…");
        for max in 0..12 {
            assert!(width(&fit("中文字😀日本", max)) <= max);
        }
    }

    #[test]
    fn fit_keeps_marks_and_skin_tones_with_their_character() {
        assert_eq!(fit("e\u{301}e\u{301}e\u{301}", 2), "e\u{301}…");
        assert_eq!(fit("👍🏽", 2), "👍🏽");
        assert_eq!(fit("👍🏽👍🏽", 3), "👍🏽…");
    }

    #[test]
    fn fit_cleans_what_it_keeps() {
        assert_eq!(fit("\x1b]0;pwned\x07", 80), "␛]0;pwned␇");
        assert_eq!(fit("a\nb", 80), "a⏎b");
    }

    #[test]
    fn fit_of_a_megabyte_line_is_short_and_quick() {
        let huge = "x\u{1b}[31m中😀e\u{301}\u{301}\u{301}".repeat(1 << 16);
        assert!(huge.len() >= 1 << 20);
        let started = Instant::now();
        let fitted = fit(&huge, 80);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(width(&fitted) <= 80);
        assert!(fitted.ends_with(ELLIPSIS));
    }

    #[test]
    fn fit_stops_reading_once_the_line_is_full() {
        let mut read = 0_usize;
        let fitted = fit_chars(
            "abcdefghij".repeat(100_000).chars().inspect(|_| read += 1),
            80,
        );
        assert_eq!(width(&fitted), 80);
        assert!(read <= 82, "read {read} chars to fill 80 cells");
    }

    #[test]
    fn pad_makes_text_exactly_as_wide_as_asked() {
        assert_eq!(pad("ab", 5), "ab   ");
        assert_eq!(pad("中", 3), "中 ");
        assert_eq!(pad("abc中de", 5), "abc… ");
        assert_eq!(pad("hello world", 8), "hello w…");
        assert_eq!(pad("x", 0), "");
        for max in 0..20 {
            assert_eq!(width(&pad("a中😀\u{202e}e\u{301}\x1b[0m", max)), max);
        }
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u32) -> u32 {
            (self.next() % u64::from(n)) as u32
        }

        fn char_in(&mut self, lo: u32, hi: u32) -> char {
            char::from_u32(lo + self.below(hi - lo + 1)).unwrap_or('?')
        }
    }

    const POOLS: &[(u32, u32)] = &[
        (0x20, 0x7e),       // ASCII
        (0x20, 0x7e),       // ASCII, twice as likely
        (0x00, 0x1f),       // C0 controls, line breaks, tab
        (0x7f, 0x9f),       // DEL and C1
        (0x202a, 0x202e),   // bidi embeddings and overrides
        (0x2066, 0x2069),   // bidi isolates
        (0x200b, 0x200f),   // zero-width and bidi marks
        (0x2060, 0x2064),   // invisible operators
        (0xfe00, 0xfe0f),   // variation selectors
        (0xe0000, 0xe007f), // tags
        (0x4e00, 0x9fff),   // CJK
        (0x1f300, 0x1f64f), // emoji
        (0x1f3fb, 0x1f3ff), // skin-tone modifiers
        (0x0300, 0x036f),   // combining marks
        (0x0300, 0x036f),   // combining marks, twice as likely
        (0x2028, 0x2029),   // Unicode line and paragraph separators
        (0x0600, 0x06ff),   // Arabic, with its ligatures and marks
        (0x1780, 0x17ff),   // Khmer, with its coeng ligatures
        (0x0000, 0xffff),   // anything in the BMP
        (0x0000, 0x10ffff), // anything at all
    ];

    fn random_text(rng: &mut XorShift) -> String {
        let len = rng.below(60);
        (0..len)
            .map(|_| {
                let (lo, hi) = POOLS[rng.below(POOLS.len() as u32) as usize];
                rng.char_in(lo, hi)
            })
            .collect()
    }

    fn is_hazard(c: char) -> bool {
        matches!(
            c,
            '\u{0}'..='\u{1f}'
                | '\u{7f}'..='\u{9f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{61c}'
                | '\u{200b}'..='\u{200d}'
                | '\u{2060}'..='\u{2064}'
                | '\u{feff}'
                | '\u{ad}'
                | '\u{180e}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{e0000}'..='\u{e007f}'
                | '\u{fff9}'..='\u{fffb}'
        )
    }

    #[test]
    fn random_text_never_leaks_a_hazard_or_overflows_its_cells() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let text = random_text(&mut rng);
            let line = clean_line(&text);
            assert!(!line.chars().any(is_hazard), "{text:?} cleaned to {line:?}");
            for line in clean_lines(&text) {
                assert!(!line.chars().any(is_hazard), "{text:?} gave line {line:?}");
            }
            for max in 0..40 {
                let fitted = fit(&text, max);
                assert!(
                    width(&fitted) <= max,
                    "{text:?} fitted to {max} as {fitted:?}"
                );
                assert!(
                    !fitted.chars().any(is_hazard),
                    "{text:?} fitted to {fitted:?}"
                );
            }
        }
    }
}
