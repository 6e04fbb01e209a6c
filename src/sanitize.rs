//! Makes text written by strangers safe to put on a terminal and measures it in cells.
//!
//! Hazards are replaced with something visible rather than silently dropped where a moderator
//! should notice them: controls become control pictures, and every other character that is
//! invisible, blank-looking, or drawn at a width terminals disagree on becomes `�` (U+FFFD),
//! the one form used everywhere. Only a single emoji/text presentation selector after a
//! character, and a joiner inside an emoji sequence, are removed: they hide nothing.

use std::sync::OnceLock;

use icu_properties::props::{
    DefaultIgnorableCodePoint, EastAsianWidth, EmojiModifier, GeneralCategory, HangulSyllableType,
    NoncharacterCodePoint, RegionalIndicator, WhiteSpace,
};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

const LINE_BREAK_SYMBOL: char = '⏎';
const ELLIPSIS: char = '…';
const REPLACEMENT: char = '\u{fffd}';
const DEL_PICTURE: char = '\u{2421}';
/// Shows a space at either end of a name, where it would otherwise pass unseen.
const VISIBLE_SPACE: char = '\u{2423}';
/// Enough for real accents and diacritics, too few for "Zalgo" to spill over other rows.
const MAX_MARKS_PER_BASE: u8 = 2;
const TAB_IN_LINES: &str = "    ";
/// The newest Unicode version whose characters terminals widely know (C libraries from 2022
/// on): a newer character is drawn at no width, or one cell, where we would count two.
const UNICODE_KNOWN_TO_TERMINALS: &str = "14.0";

/// For list cells and titles, where a line break would corrupt the layout.
pub fn clean_line(text: &str) -> String {
    let mut cleaner = Cleaner::default();
    let mut out = String::with_capacity(text.len());
    for piece in text.chars().filter_map(|c| cleaner.next(c)) {
        match piece {
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
    for piece in text.chars().filter_map(|c| cleaner.next(c)) {
        match piece {
            Cleaned::Char(c) => line.push(c),
            Cleaned::Tab => line.push_str(TAB_IN_LINES),
            Cleaned::Break => lines.push(std::mem::take(&mut line)),
        }
    }
    lines.push(line);
    lines
}

/// For usernames and guild names, where `admin ` or `admin\u{a0}` must not pass for `admin`:
/// spaces at either end are shown as `␣`, and spaces other than U+0020 as `�`.
pub fn name(text: &str) -> String {
    let line = clean_line(text);
    let chars: Vec<char> = line.chars().collect();
    let first = chars.iter().position(|&c| c != ' ').unwrap_or(chars.len());
    let last = chars
        .iter()
        .rposition(|&c| c != ' ')
        .map_or(first, |i| i + 1);
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match c {
            ' ' if i < first || i >= last => VISIBLE_SPACE,
            ' ' => ' ',
            c if CodePointSetData::new::<WhiteSpace>().contains(c) => REPLACEMENT,
            c => c,
        })
        .collect()
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
    let as_char = |piece: Cleaned| match piece {
        Cleaned::Char(c) => c,
        Cleaned::Tab => ' ',
        Cleaned::Break => LINE_BREAK_SYMBOL,
    };
    for c in chars {
        if let Some(piece) = cleaner.next(c)
            && let Err(Overflow) = fitter.push(as_char(piece))
        {
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
#[derive(Debug, Clone, Copy)]
enum Cleaned {
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
    /// The last piece was a base, so one presentation selector may follow it unseen.
    selector_may_follow: bool,
    /// The last piece was Hangul, which conjoining vowels and finals build on.
    after_hangul: bool,
}

impl Cleaner {
    fn next(&mut self, c: char) -> Option<Cleaned> {
        let after_cr = std::mem::replace(&mut self.after_cr, false);
        if c == '\u{200d}' && self.after_wide {
            // A joiner inside an emoji sequence lets the emoji fall apart, measured the same
            // everywhere.
            return None;
        }
        if matches!(c, '\u{fe0e}' | '\u{fe0f}') && self.selector_may_follow {
            // Text or emoji style for the character before: nothing a reader could miss.
            self.selector_may_follow = false;
            return None;
        }
        match c {
            '\n' if after_cr => None,
            '\r' => {
                self.after_cr = true;
                self.line_break()
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => self.line_break(),
            '\t' => {
                self.marks = Some(0);
                self.selector_may_follow = false;
                Some(Cleaned::Tab)
            }
            '\0'..='\x1f' => {
                Some(self.base(char::from_u32(0x2400 + u32::from(c)).unwrap_or(REPLACEMENT)))
            }
            '\x7f' => Some(self.base(DEL_PICTURE)),
            c if is_shown_as_replacement(c) => Some(self.base(REPLACEMENT)),
            // A conjoining vowel or final anywhere but in a syllable draws as nothing.
            c if is_conjoining_jamo(c) && !self.after_hangul => Some(self.base(REPLACEMENT)),
            c if c.width() == Some(0) => {
                self.selector_may_follow = false;
                match self.marks {
                    Some(kept) if kept < MAX_MARKS_PER_BASE => {
                        self.marks = Some(kept + 1);
                        self.after_hangul &= is_conjoining_jamo(c);
                        Some(Cleaned::Char(c))
                    }
                    // Past the limit a jamo would still leave a visible syllable incomplete.
                    _ if is_conjoining_jamo(c) => Some(self.base(REPLACEMENT)),
                    _ => None,
                }
            }
            c => Some(self.base(c)),
        }
    }

    fn line_break(&mut self) -> Option<Cleaned> {
        self.marks = None;
        self.selector_may_follow = false;
        self.after_hangul = false;
        Some(Cleaned::Break)
    }

    fn base(&mut self, c: char) -> Cleaned {
        self.marks = Some(0);
        self.after_wide = c.width() == Some(2) && !c.is_alphanumeric();
        // A selector after a replacement may be hiding something too.
        self.selector_may_follow = c != REPLACEMENT;
        self.after_hangul = is_hangul(c);
        Cleaned::Char(c)
    }
}

struct Overflow;

/// Accumulates clean text cluster by cluster (a base with its marks), since a cluster's width
/// is only known once it is complete.
struct Fitter {
    max_width: usize,
    out: String,
    used: usize,
    /// Length of `out` at the last point where an ellipsis would still fit after it.
    cut_at: usize,
    cluster: String,
}

impl Fitter {
    fn new(max_width: usize) -> Self {
        Self {
            max_width,
            out: String::new(),
            used: 0,
            cut_at: 0,
            cluster: String::new(),
        }
    }

    fn push(&mut self, c: char) -> Result<(), Overflow> {
        let joins_cluster = !self.cluster.is_empty() && c.width() == Some(0);
        if !joins_cluster {
            self.commit_cluster()?;
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

/// Everything, besides controls and line breaks, that must not reach the terminal as itself.
fn is_shown_as_replacement(c: char) -> bool {
    is_c1_control(c)
        || is_bidi_control(c)
        || is_invisible(c)
        || is_blank_looking(c)
        || !has_agreed_width(c)
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

/// Characters a terminal draws as nothing ("ad\u{34f}min" passing for "admin"), or as a glyph
/// only the author's font defines: what Unicode says to ignore, format characters, private
/// use, noncharacters and code points with no character yet.
fn is_invisible(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || CodePointSetData::new::<NoncharacterCodePoint>().contains(c)
        || matches!(
            CodePointMapData::<GeneralCategory>::new().get(c),
            GeneralCategory::Format
                | GeneralCategory::Unassigned
                | GeneralCategory::PrivateUse
                | GeneralCategory::Surrogate
        )
}

/// Visible characters that look like nothing at all; the Hangul fillers are already
/// default-ignorable, the empty braille pattern is not.
fn is_blank_looking(c: char) -> bool {
    c == '\u{2800}'
}

/// Whether unicode-width (what the layout counts) and terminals (what they draw) give the
/// character the same number of cells.
fn has_agreed_width(c: char) -> bool {
    // Skin tones after an emoji, and the two regional indicators of a flag, make one glyph for
    // some terminals (tmux among them) and two for others.
    !CodePointSetData::new::<EmojiModifier>().contains(c)
        && !CodePointSetData::new::<RegionalIndicator>().contains(c)
        // ratatui adds a cell for each halfwidth sound mark on top of unicode-width's count.
        && !matches!(c, '\u{ff9e}' | '\u{ff9f}')
        && !has_width_changed_in_unicode(c)
        && c.width() == Some(expected_width(c))
        && is_known_to_terminals(c)
}

/// The width every terminal derives from the character's class: marks and conjoining vowels
/// and finals take none, East Asian wide and fullwidth characters two, the rest one. Where
/// unicode-width says otherwise (spacing marks it counts as none, a Khmer sign it counts as
/// three) terminals do not follow it.
fn expected_width(c: char) -> usize {
    let zero_width = matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark
    ) || matches!(
        CodePointMapData::<HangulSyllableType>::new().get(c),
        HangulSyllableType::VowelJamo | HangulSyllableType::TrailingJamo
    );
    if zero_width {
        return 0;
    }
    match CodePointMapData::<EastAsianWidth>::new().get(c) {
        EastAsianWidth::Wide | EastAsianWidth::Fullwidth => 2,
        _ => 1,
    }
}

/// Old characters terminals draw otherwise than unicode-width counts them: symbols Unicode 16
/// made wide, ambiguous-width numbers C libraries draw wide, and an Ahom sign they draw as
/// none.
fn has_width_changed_in_unicode(c: char) -> bool {
    matches!(
        c,
        '\u{2630}'..='\u{2637}'
            | '\u{268a}'..='\u{268f}'
            | '\u{3248}'..='\u{324f}'
            | '\u{1171e}'
            | '\u{1d300}'..='\u{1d356}'
            | '\u{1d360}'..='\u{1d378}'
    )
}

fn is_known_to_terminals(c: char) -> bool {
    let known = known_to_terminals();
    if known.is_empty() {
        // No table: only ASCII is certain.
        return c.is_ascii();
    }
    known
        .binary_search_by(|&(start, end)| {
            if end < c {
                std::cmp::Ordering::Less
            } else if start > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The characters assigned by [`UNICODE_KNOWN_TO_TERMINALS`], from the Age table the regex
/// parser keeps, as sorted ranges.
fn known_to_terminals() -> &'static [(char, char)] {
    static KNOWN: OnceLock<Vec<(char, char)>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let pattern = format!(r"\p{{Age={UNICODE_KNOWN_TO_TERMINALS}}}");
        let Ok(hir) = regex_syntax::Parser::new().parse(&pattern) else {
            return Vec::new();
        };
        match hir.kind() {
            regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class)) => class
                .ranges()
                .iter()
                .map(|range| (range.start(), range.end()))
                .collect(),
            _ => Vec::new(),
        }
    })
}

/// Vowels and finals that build a syllable on the Hangul before them, and take no cell.
fn is_conjoining_jamo(c: char) -> bool {
    matches!(
        CodePointMapData::<HangulSyllableType>::new().get(c),
        HangulSyllableType::VowelJamo | HangulSyllableType::TrailingJamo
    )
}

fn is_hangul(c: char) -> bool {
    CodePointMapData::<HangulSyllableType>::new().get(c) != HangulSyllableType::NotApplicable
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
    fn one_presentation_selector_after_a_character_is_removed() {
        assert_eq!(clean_line("a\u{fe0f}dm\u{fe0e}in"), "admin");
        assert_eq!(clean_line("❤\u{fe0f}"), "❤");
        assert_eq!(width(&clean_line("❤\u{fe0f}")), width("❤"));
    }

    #[test]
    fn other_selectors_tags_and_annotations_are_shown_so_hidden_text_stands_out() {
        assert_eq!(clean_line("a\u{fe0f}\u{fe0f}\u{fe0f}"), "a\u{fffd}\u{fffd}");
        assert_eq!(clean_line("\u{fe0f}a"), "\u{fffd}a");
        assert_eq!(clean_line("葛\u{e0100}"), "葛\u{fffd}");
        assert_eq!(clean_line("hi\u{e0068}\u{e0069}"), "hi\u{fffd}\u{fffd}");
        assert_eq!(clean_line("a\u{fff9}b\u{fffb}"), "a\u{fffd}b\u{fffd}");
    }

    #[test]
    fn default_ignorable_and_blank_looking_characters_are_shown_never_dropped() {
        let hidden = [
            '\u{34f}',
            '\u{2800}',
            '\u{17b4}',
            '\u{17b5}',
            '\u{115f}',
            '\u{1160}',
            '\u{3164}',
            '\u{ffa0}',
            '\u{180b}',
            '\u{180f}',
            '\u{206a}',
            '\u{206f}',
            '\u{1d173}',
            '\u{1d17a}',
            '\u{2065}',
            '\u{fff0}',
            '\u{fff8}',
            '\u{e0001}',
            '\u{e0fff}',
            '\u{1bca0}',
        ];
        for c in hidden {
            let text = format!("ad{c}min");
            assert_eq!(clean_line(&text), "ad\u{fffd}min", "U+{:04X}", u32::from(c));
            assert_ne!(clean_line(&text), clean_line("admin"));
            assert_eq!(fit(&text, 80), "ad\u{fffd}min", "U+{:04X}", u32::from(c));
            assert_eq!(
                clean_lines(&text),
                ["ad\u{fffd}min"],
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn private_use_characters_are_shown_as_replacements() {
        assert_eq!(clean_line("a\u{e000}b\u{f0000}"), "a\u{fffd}b\u{fffd}");
    }

    #[test]
    fn names_show_spaces_at_either_end_and_spaces_that_are_not_plain() {
        assert_eq!(name(" admin "), "␣admin␣");
        assert_eq!(name("admin  "), "admin␣␣");
        assert_eq!(name("ad min"), "ad min");
        assert_eq!(name("admin\u{a0}"), "admin\u{fffd}");
        assert_eq!(name("ad\u{3000}min\u{2005}x"), "ad\u{fffd}min\u{fffd}x");
        assert_eq!(name("ad\u{3164}min"), "ad\u{fffd}min");
        assert_eq!(name("  "), "␣␣");
        assert_eq!(name(""), "");
        assert_eq!(name("\u{202e}nimda"), "\u{fffd}nimda");
        assert_ne!(name("admin "), name("admin"));
    }

    #[test]
    fn emoji_newer_than_terminals_know_are_replaced() {
        for c in ['\u{1fae8}', '\u{1fabf}', '\u{1face}', '\u{1f6dc}'] {
            assert_eq!(
                clean_line(&format!("a{c}b")),
                "a\u{fffd}b",
                "U+{:04X}",
                u32::from(c)
            );
        }
        // Unicode 14 is widely known: the melting face stays.
        assert_eq!(clean_line("\u{1fae0}"), "\u{1fae0}");
    }

    #[test]
    fn noncharacters_and_prepended_concatenation_marks_are_replaced() {
        assert_eq!(
            clean_line("\u{fffe}\u{ffff}\u{10ffff}|"),
            "\u{fffd}\u{fffd}\u{fffd}|"
        );
        assert_eq!(
            clean_line("\u{600}2029-12-31 \u{601}1 \u{890}2"),
            "\u{fffd}2029-12-31 \u{fffd}1 \u{fffd}2"
        );
    }

    #[test]
    fn skin_tones_are_shown_as_replacements_so_the_emoji_is_two_cells_everywhere() {
        assert_eq!(clean_line("👍🏽"), "👍\u{fffd}");
        assert_eq!(width(&clean_line("👍🏽")), 3);
        assert_eq!(clean_line("\u{1f3fb}"), "\u{fffd}");
    }

    #[test]
    fn regional_indicators_are_replaced_alone_and_in_flags() {
        // tmux joins a flag's two indicators into one cell where ratatui counts two, and
        // leaves half a flag behind when the row changes.
        assert_eq!(clean_line("🇫🇷"), "\u{fffd}\u{fffd}");
        assert_eq!(clean_line("🇫x"), "\u{fffd}x");
        assert_eq!(width(&clean_line("a🇫🇷🇩")), 4);
    }

    #[test]
    fn characters_unicode_width_counts_otherwise_than_terminals_are_replaced() {
        // A Khmer sign counted as three cells; a Bengali vowel sign counted as none; a trigram
        // made wide by Unicode 16 that older terminals draw narrow.
        assert_eq!(clean_line("\u{17d8}"), "\u{fffd}");
        assert_eq!(clean_line("\u{995}\u{9be}"), "\u{995}\u{fffd}");
        assert_eq!(clean_line("\u{2630}"), "\u{fffd}");
        // ratatui counts a halfwidth sound mark as two cells where terminals draw one.
        assert_eq!(clean_line("\u{ff8a}\u{ff9f}"), "\u{ff8a}\u{fffd}");
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
    fn fit_keeps_marks_with_their_character() {
        assert_eq!(fit("e\u{301}e\u{301}e\u{301}", 2), "e\u{301}…");
        assert_eq!(fit("e\u{301}\u{302}x", 1), "…");
        assert_eq!(fit("e\u{301}\u{302}xy", 2), "e\u{301}\u{302}…");
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
        (0x20, 0x7e),         // ASCII
        (0x20, 0x7e),         // ASCII, twice as likely
        (0x00, 0x1f),         // C0 controls, line breaks, tab
        (0x7f, 0x9f),         // DEL and C1
        (0x202a, 0x202e),     // bidi embeddings and overrides
        (0x2066, 0x2069),     // bidi isolates
        (0x200b, 0x200f),     // zero-width and bidi marks
        (0x2060, 0x206f),     // invisible operators, deprecated format characters
        (0xfe00, 0xfe0f),     // variation selectors
        (0x180b, 0x180f),     // Mongolian selectors and vowel separator
        (0xe0000, 0xe01ef),   // tags and supplementary selectors
        (0x4e00, 0x9fff),     // CJK
        (0x1100, 0x11ff),     // Hangul jamo, with the fillers
        (0x3130, 0x318f),     // Hangul compatibility jamo, with the filler
        (0xff00, 0xffff),     // halfwidth and fullwidth forms, specials, noncharacters
        (0x1f300, 0x1f64f),   // emoji
        (0x1fa70, 0x1faff),   // emoji, many newer than terminals know
        (0x1f3fb, 0x1f3ff),   // skin-tone modifiers
        (0x1f1e6, 0x1f1ff),   // regional indicators
        (0x2800, 0x28ff),     // braille, with the blank pattern
        (0x0300, 0x036f),     // combining marks
        (0x0300, 0x036f),     // combining marks, twice as likely
        (0x2028, 0x2029),     // Unicode line and paragraph separators
        (0x0600, 0x06ff),     // Arabic, with its ligatures, marks and prepended signs
        (0x0890, 0x08ff),     // Arabic Extended-B and -A
        (0x0980, 0x09ff),     // Bengali, with spacing marks
        (0x1780, 0x17ff),     // Khmer, with its coeng ligatures
        (0x1d173, 0x1d17a),   // musical format characters
        (0xe000, 0xf8ff),     // private use
        (0x10fff0, 0x10ffff), // the last private use and noncharacters
        (0x0000, 0xffff),     // anything in the BMP
        (0x0000, 0x10ffff),   // anything at all
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

    /// The test's own idea of what must never reach a terminal unmarked, built from the regex
    /// parser's Unicode tables rather than the ones the sanitiser reads.
    struct Oracle {
        forbidden: Vec<(char, char)>,
        marks: Vec<(char, char)>,
    }

    fn class(pattern: &str) -> Vec<(char, char)> {
        let hir = regex_syntax::Parser::new().parse(pattern).unwrap();
        let regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class)) =
            hir.kind()
        else {
            panic!("{pattern} is not a class");
        };
        class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect()
    }

    fn within(ranges: &[(char, char)], c: char) -> bool {
        let after = ranges.partition_point(|&(_, hi)| hi < c);
        ranges.get(after).is_some_and(|&(lo, _)| lo <= c)
    }

    impl Oracle {
        fn new() -> Self {
            Oracle {
                forbidden: class(concat!(
                    r"[\p{Cc}\p{Cf}\p{Cn}\p{Co}\p{Zl}\p{Zp}",
                    r"\p{Default_Ignorable_Code_Point}\p{Bidi_Control}",
                    r"\p{Noncharacter_Code_Point}\p{Emoji_Modifier}\p{Regional_Indicator}",
                    // Blank-looking: braille blank and the Hangul fillers.
                    r"\x{2800}\x{3164}\x{FFA0}\x{115F}\x{1160}",
                    r"\P{Age=14.0}]"
                )),
                marks: class(r"[\p{Mn}\p{Me}\x{1160}-\x{11FF}\x{D7B0}-\x{D7FF}]"),
            }
        }

        /// Why `shown` could fool a reader or the layout, if it could.
        fn fault(&self, shown: &str) -> Option<String> {
            let mut marks_in_a_row = 0;
            for (i, c) in shown.chars().enumerate() {
                if within(&self.forbidden, c) {
                    return Some(format!("U+{:04X} survived", u32::from(c)));
                }
                if c.width() == Some(0) {
                    if !within(&self.marks, c) {
                        return Some(format!("invisible U+{:04X} survived", u32::from(c)));
                    }
                    marks_in_a_row += 1;
                    if i == 0 || marks_in_a_row > MAX_MARKS_PER_BASE {
                        return Some(format!("mark U+{:04X} has no base", u32::from(c)));
                    }
                } else {
                    marks_in_a_row = 0;
                }
            }
            None
        }
    }

    #[test]
    fn random_text_never_leaks_a_hazard_or_overflows_its_cells() {
        let oracle = Oracle::new();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let text = random_text(&mut rng);
            let line = clean_line(&text);
            if let Some(fault) = oracle.fault(&line) {
                panic!("{text:?} cleaned to {line:?}: {fault}");
            }
            for line in clean_lines(&text) {
                if let Some(fault) = oracle.fault(&line) {
                    panic!("{text:?} gave line {line:?}: {fault}");
                }
            }
            let shown = name(&text);
            if let Some(fault) = oracle.fault(&shown) {
                panic!("{text:?} named {shown:?}: {fault}");
            }
            for max in 0..40 {
                let fitted = fit(&text, max);
                assert!(
                    width(&fitted) <= max,
                    "{text:?} fitted to {max} as {fitted:?}"
                );
                if let Some(fault) = oracle.fault(&fitted) {
                    panic!("{text:?} fitted to {max} as {fitted:?}: {fault}");
                }
            }
        }
    }

    #[test]
    fn the_oracle_catches_what_the_old_sanitiser_let_through() {
        let oracle = Oracle::new();
        for leak in [
            "ad\u{34f}min",
            "\u{2800}",
            "\u{3164}",
            "🇫",
            "\u{1fae8}",
            "\u{600}1",
        ] {
            assert!(oracle.fault(leak).is_some(), "{leak:?}");
        }
        assert!(oracle.fault("admin é 中 😀 e\u{301}").is_none());
    }
}
