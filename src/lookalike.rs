//! Names that pass for other names (UTS #39): `аdmin` with a Cyrillic `а`, `admin` with an
//! invisible character or a space at the end. A name is compared by what a reader sees, as
//! `sanitize::name` shows it with its stand-ins for hidden characters left out, reduced to its
//! confusable skeleton; names that mix scripts are suspect on their own.

use std::collections::HashMap;
use std::hash::Hash;

use unicode_security::{MixedScript, skeleton};

use crate::sanitize;

/// Stand-ins `sanitize::name` puts where a reader would otherwise see nothing.
const STAND_INS: [char; 2] = ['\u{fffd}', '\u{2423}'];

/// Why a name is not what it looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    /// The name it reads as, when that name is in the same list.
    pub imitates: Option<String>,
    /// Letters of more than one script, as in `pаypal` with a Cyrillic `а`.
    pub mixed_scripts: bool,
}

impl Lookalike {
    /// The marker in full, for details and confirmations: `⚠ look-alike of admin`.
    pub fn marker(&self) -> String {
        match &self.imitates {
            Some(name) => format!("{} of {}", Self::SHORT, sanitize::name(name)),
            None if self.mixed_scripts => format!("{} (mixed scripts)", Self::SHORT),
            None => Self::SHORT.to_string(),
        }
    }

    /// Where there is no room for the name it imitates.
    pub const SHORT: &str = "⚠ look-alike";

    /// The marker that fits in `width` cells, keeping `name_cells` for the name before it:
    /// in full, then short, then the sign alone.
    pub fn marker_within(&self, width: usize, name_cells: usize) -> String {
        let full = self.marker();
        [full, Self::SHORT.to_string(), "⚠".to_string()]
            .into_iter()
            .find(|m| sanitize::width(m) + 1 + name_cells.min(8) <= width)
            .unwrap_or_else(|| "⚠".to_string())
    }
}

/// What a reader compares: the visible text, reduced to its confusable skeleton.
fn reading(name: &str) -> String {
    let visible = visible(name);
    skeleton(&visible).collect()
}

fn visible(name: &str) -> String {
    sanitize::name(name)
        .chars()
        .filter(|c| !STAND_INS.contains(c))
        .collect()
}

fn mixes_scripts(name: &str) -> bool {
    !visible(name).as_str().is_single_script()
}

/// Shown exactly as stored, in one script: a name others may imitate, not an imitation.
fn is_plain(name: &str) -> bool {
    !name.is_empty() && sanitize::name(name) == name && !mixes_scripts(name)
}

/// Whether the operator can type the name as it reads: shown as stored, in one script.
pub fn typable_as_shown(name: &str) -> bool {
    is_plain(name)
}

/// Whether two different texts read the same.
pub fn reads_like(a: &str, b: &str) -> bool {
    a != b && reading(a) == reading(b)
}

/// Every look-alike among `names`, by key: a name is flagged when it mixes scripts, or when
/// it reads like another (different) name in the list and is not the plain one of the two.
/// Two plain names that read alike (`admin`, `adrnin`) are both flagged.
pub fn among<'a, K: Clone + Eq + Hash>(
    names: impl IntoIterator<Item = (K, &'a str)>,
) -> HashMap<K, Lookalike> {
    let names: Vec<(K, &str)> = names.into_iter().collect();
    let mut by_reading: HashMap<String, Vec<&str>> = HashMap::new();
    for (_, name) in &names {
        let group = by_reading.entry(reading(name)).or_default();
        if !group.contains(name) {
            group.push(name);
        }
    }
    let mut found = HashMap::new();
    for (key, name) in &names {
        if let Some(flag) = judge(name, &by_reading[&reading(name)]) {
            found.insert(key.clone(), flag);
        }
    }
    found
}

/// One name against the others that read the same (`alike` includes the name itself).
fn judge(name: &str, alike: &[&str]) -> Option<Lookalike> {
    let plain = is_plain(name);
    let others: Vec<&str> = alike.iter().copied().filter(|o| *o != name).collect();
    let plain_other = others.iter().copied().find(|o| is_plain(o));
    let imitates = match plain_other {
        Some(other) => Some(other),
        // Imitations of each other, with no original in sight.
        None if !plain => others.first().copied(),
        None => None,
    };
    let mixed_scripts = mixes_scripts(name);
    (imitates.is_some() || mixed_scripts).then(|| Lookalike {
        imitates: imitates.map(str::to_string),
        mixed_scripts,
    })
}

/// One name on its own: only what it is by itself (mixed scripts) can be told.
pub fn alone(name: &str) -> Option<Lookalike> {
    judge(name, &[name])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every one of these reads `admin` on a page where invisible characters are invisible.
    const ADMIN_LOOKALIKES: [&str; 8] = [
        "admin\u{3164}",
        "admin\u{ffa0}",
        "admin\u{e0041}\u{e007f}",
        "ad\u{fff9}min\u{fffb}",
        "ad\u{206a}min\u{206f}",
        "ad\u{1d173}min",
        "admin ",
        "\u{430}dmin",
    ];

    fn flags(names: &[&str]) -> HashMap<usize, Lookalike> {
        among(names.iter().copied().enumerate())
    }

    #[test]
    fn every_admin_lookalike_is_flagged_as_imitating_admin() {
        let mut names = vec!["admin"];
        names.extend(ADMIN_LOOKALIKES);
        let found = flags(&names);
        for (i, name) in names.iter().enumerate().skip(1) {
            let flag = found
                .get(&i)
                .unwrap_or_else(|| panic!("{name:?} not flagged"));
            assert_eq!(flag.imitates.as_deref(), Some("admin"), "{name:?}");
            assert_eq!(flag.marker(), "⚠ look-alike of admin", "{name:?}");
        }
        assert!(!found.contains_key(&0), "the real admin is not flagged");
    }

    #[test]
    fn the_cyrillic_admin_is_flagged_for_mixing_scripts_even_alone() {
        let flag = alone("\u{430}dmin").unwrap_or_else(|| panic!("not flagged"));
        assert!(flag.mixed_scripts);
        assert_eq!(flag.marker(), "⚠ look-alike (mixed scripts)");
        assert!(flags(&["\u{430}dmin"])[&0].mixed_scripts);
    }

    #[test]
    fn ordinary_names_are_not_flagged() {
        let names = [
            "admin",
            "mara",
            "kenji",
            "José",
            "北京",
            "山田太郎",
            "日本語サークル",
            "Book Lovers",
            "ops-lead",
            "🦀crab_fan",
            "Москва",
        ];
        assert_eq!(flags(&names), HashMap::new());
        for name in names {
            assert_eq!(alone(name), None, "{name:?}");
        }
    }

    #[test]
    fn the_same_name_twice_is_not_a_lookalike_of_itself() {
        assert_eq!(flags(&["Book Lovers", "Book Lovers"]), HashMap::new());
    }

    #[test]
    fn hidden_characters_alone_are_shown_not_flagged() {
        // Without an `admin` to imitate, `ad�min` on screen already tells the truth.
        assert_eq!(flags(&["ad\u{200b}min", "mara"]), HashMap::new());
    }

    #[test]
    fn two_imitations_without_the_original_name_each_other() {
        let found = flags(&["admin ", "admin\u{3164}"]);
        assert_eq!(found[&0].imitates.as_deref(), Some("admin\u{3164}"));
        assert_eq!(found[&1].imitates.as_deref(), Some("admin "));
    }

    #[test]
    fn two_plain_names_that_read_alike_are_both_flagged() {
        let found = flags(&["admin", "adrnin"]);
        assert_eq!(found[&0].imitates.as_deref(), Some("adrnin"));
        assert_eq!(found[&1].imitates.as_deref(), Some("admin"));
    }

    #[test]
    fn reads_like_compares_what_is_seen_not_the_bytes() {
        for name in ADMIN_LOOKALIKES {
            assert!(reads_like(name, "admin"), "{name:?}");
        }
        assert!(!reads_like("admin", "admin"));
        assert!(!reads_like("mara", "admin"));
    }

    #[test]
    fn the_marker_shrinks_to_fit_and_shows_the_imitated_name_safely() {
        let flag = Lookalike {
            imitates: Some("admin ".into()),
            mixed_scripts: false,
        };
        assert_eq!(flag.marker(), "⚠ look-alike of admin␣");
        assert_eq!(flag.marker_within(40, 6), "⚠ look-alike of admin␣");
        assert_eq!(flag.marker_within(20, 6), "⚠ look-alike");
        assert_eq!(flag.marker_within(8, 6), "⚠");
    }
}
