//! A scrolling list fed page by page: keyset pages arrive from the worker as the cursor
//! nears the end; only the rows on screen are drawn.

use std::collections::{HashMap, HashSet};

use crate::db::Id;
use crate::db::lists::Seek;

/// A list never holds more rows than this; past it the operator narrows the filter.
pub const MAX_LOADED_ROWS: usize = 20_000;

#[derive(Debug, Clone)]
pub struct ListView<R, C> {
    pub rows: Vec<R>,
    pub next: Option<C>,
    /// Every page is loaded (or the cap is reached).
    pub complete: bool,
    /// The newest request for this list, if one is out.
    pub pending: Option<u64>,
    pub selected: usize,
    pub offset: usize,
    /// Rows visible at the last layout.
    pub height: usize,
    pub error: Option<String>,
    /// Every row matching the filter, counted beside the first page.
    pub total: Option<u64>,
    /// The newest count asked for, if one is out.
    pub count_pending: Option<u64>,
    /// The rows loaded are the list's end, read upwards (after `G`): `next` is then the
    /// cursor of the page before the first row, and `complete` says the head is loaded.
    pub tail: bool,
    /// The list can be read from its end (a listing whose query seeks both ways).
    pub seeks_tail: bool,
}

impl<R, C> Default for ListView<R, C> {
    fn default() -> Self {
        ListView {
            rows: Vec::new(),
            next: None,
            complete: false,
            pending: None,
            selected: 0,
            offset: 0,
            height: 10,
            error: None,
            total: None,
            count_pending: None,
            tail: false,
            seeks_tail: true,
        }
    }
}

impl<R, C: Clone> ListView<R, C> {
    /// Forgets the rows (a new filter); the caller asks for the first page.
    pub fn reset(&mut self, seq: u64) {
        self.rows.clear();
        self.next = None;
        self.complete = false;
        self.pending = Some(seq);
        self.selected = 0;
        self.offset = 0;
        self.error = None;
        self.total = None;
        self.count_pending = None;
        self.tail = false;
    }

    /// Forgets the rows for the other end of the same list (`G`, or `g` after it): the
    /// total stays, it is the same list. The next [`Self::wants_more`] asks for that end.
    fn restart(&mut self, tail: bool) {
        self.rows.clear();
        self.next = None;
        self.complete = false;
        // An answer still out was for the other end.
        self.pending = None;
        self.selected = 0;
        self.offset = 0;
        self.error = None;
        self.tail = tail;
    }

    /// Takes a count if it answers the newest one asked for.
    pub fn accept_count(&mut self, seq: u64, total: Option<u64>) {
        if self.count_pending == Some(seq) {
            self.count_pending = None;
            self.total = total;
        }
    }

    /// "812 of 20,000": the cursor's row and the list's total, or the rows loaded with
    /// "+" while more are to come and no count is known. Read from the tail, the row's
    /// place is counted back from the total.
    pub fn position(&self) -> Option<String> {
        if self.rows.is_empty() {
            return None;
        }
        let loaded = self.rows.len() as u64;
        if self.tail && (!self.complete || self.is_capped()) {
            let from_end = loaded - self.selected as u64;
            return Some(match self.total {
                Some(total) => {
                    let total = total.max(loaded);
                    format!(
                        "{} of {}",
                        thousands(total + 1 - from_end),
                        thousands(total)
                    )
                }
                None => format!("{} from the end", thousands(from_end)),
            });
        }
        let at = thousands(self.selected as u64 + 1);
        let total = match self.total {
            Some(total) if self.complete && !self.is_capped() => thousands(loaded.max(total)),
            Some(total) => thousands(total.max(loaded)),
            None if self.complete && !self.is_capped() => thousands(loaded),
            None => format!("{}+", thousands(loaded)),
        };
        Some(format!("{at} of {total}"))
    }

    /// Where the next page should start, if one should be asked for now: the head or
    /// the tail of an empty list, after the last row as the cursor nears the end, or
    /// before the first as it nears the top of a list read from its tail.
    pub fn wants_more(&self) -> Option<Seek<C>> {
        if self.complete || self.pending.is_some() || self.error.is_some() {
            return None;
        }
        if self.rows.is_empty() {
            return Some(if self.tail { Seek::Last } else { Seek::First });
        }
        let margin = self.height.max(1) * 2;
        if self.tail {
            let near_top = self.selected < margin;
            near_top
                .then(|| self.next.clone())
                .flatten()
                .map(Seek::Before)
        } else {
            let near_end = self.selected + margin >= self.rows.len();
            near_end
                .then(|| self.next.clone())
                .flatten()
                .map(Seek::After)
        }
    }

    /// Takes a page if it answers the newest request; returns whether it did. A page
    /// read from the tail goes above the rows loaded, the cursor staying on its row
    /// (on the last row for the first such page).
    pub fn accept(&mut self, seq: u64, rows: Vec<R>, next: Option<C>) -> bool {
        if self.pending != Some(seq) {
            return false;
        }
        self.pending = None;
        self.error = None;
        if self.tail {
            let first = self.rows.is_empty();
            let added = rows.len();
            let mut rows = rows;
            rows.append(&mut self.rows);
            self.rows = rows;
            if first {
                self.selected = self.rows.len().saturating_sub(1);
                self.offset = self.rows.len().saturating_sub(self.height);
            } else {
                self.selected += added;
                self.offset += added;
            }
            if self.rows.len() >= MAX_LOADED_ROWS {
                self.complete = true;
                self.next = None;
            } else {
                self.complete = next.is_none();
                self.next = next;
            }
            self.clamp();
            return true;
        }
        self.rows.extend(rows);
        if self.rows.len() >= MAX_LOADED_ROWS {
            self.rows.truncate(MAX_LOADED_ROWS);
            self.complete = true;
            self.next = None;
        } else {
            self.complete = next.is_none();
            self.next = next;
        }
        self.clamp();
        true
    }

    pub fn fail(&mut self, seq: u64, message: String) -> bool {
        if self.pending != Some(seq) {
            return false;
        }
        self.pending = None;
        self.error = Some(message);
        true
    }

    pub fn is_capped(&self) -> bool {
        self.rows.len() >= MAX_LOADED_ROWS
    }

    pub fn selected_row(&self) -> Option<&R> {
        self.rows.get(self.selected)
    }

    pub fn move_by(&mut self, delta: isize) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() - 1;
        self.selected = self.selected.saturating_add_signed(delta).min(last);
        self.clamp();
    }

    /// The first row of the list: loaded already, or asked for again from the head.
    pub fn top(&mut self) {
        if self.tail && (!self.complete || self.is_capped()) {
            self.restart(false);
            return;
        }
        self.selected = 0;
        self.clamp();
    }

    /// The real last row: loaded already, or read from the tail of the list.
    pub fn bottom(&mut self) {
        let more_below = !self.complete || self.is_capped();
        if !self.tail && more_below && self.seeks_tail && self.error.is_none() {
            self.restart(true);
            return;
        }
        self.selected = self.rows.len().saturating_sub(1);
        self.clamp();
    }

    /// Puts the cursor on the `row`-th row on screen (a click); false if none is there.
    pub fn select_visible(&mut self, row: usize) -> bool {
        if row >= self.height || self.offset + row >= self.rows.len() {
            return false;
        }
        self.selected = self.offset + row;
        self.clamp();
        true
    }

    pub fn set_height(&mut self, height: usize) {
        self.height = height.max(1);
        self.clamp();
    }

    /// Keeps the cursor on screen.
    pub fn clamp(&mut self) {
        if self.rows.is_empty() {
            self.selected = 0;
            self.offset = 0;
            return;
        }
        self.selected = self.selected.min(self.rows.len() - 1);
        if self.selected < self.offset {
            self.offset = self.selected;
        }
        if self.selected >= self.offset + self.height {
            self.offset = self.selected + 1 - self.height;
        }
    }

    pub fn visible(&self) -> impl Iterator<Item = (usize, &R)> {
        self.rows
            .iter()
            .enumerate()
            .skip(self.offset)
            .take(self.height)
    }
}

/// 20000 → "20,000".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Marked rows, by id: a refresh or a new page never changes what is selected.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    pub ids: HashSet<Id>,
    /// Where a `v` range started.
    pub anchor: Option<usize>,
    /// The filter (a fingerprint) each mark was made under: a mark made under the filter
    /// in force that is not loaded yet is further down the list, not hidden by it.
    under: HashMap<Id, u64>,
}

impl Marks {
    pub fn insert(&mut self, id: Id, under: u64) {
        self.ids.insert(id.clone());
        self.under.insert(id, under);
    }

    pub fn toggle(&mut self, id: Id, under: u64) {
        if self.ids.remove(&id) {
            self.under.remove(&id);
        } else {
            self.insert(id, under);
        }
    }

    pub fn made_under(&self, id: &Id) -> Option<u64> {
        self.under.get(id).copied()
    }

    pub fn contains(&self, id: &Id) -> bool {
        self.ids.contains(id)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn clear(&mut self) {
        self.ids.clear();
        self.under.clear();
        self.anchor = None;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_request_is_accepted_and_the_cursor_stays_on_screen() {
        let mut list: ListView<u32, u32> = ListView::default();
        list.set_height(3);
        list.reset(1);
        list.reset(2);
        assert!(
            !list.accept(1, vec![9, 9], Some(9)),
            "a stale answer is dropped"
        );
        assert!(list.accept(2, (0..10).collect(), Some(10)));
        list.move_by(5);
        assert_eq!((list.selected, list.offset), (5, 3));
        list.move_by(100);
        assert_eq!((list.selected, list.offset), (9, 7));
        assert_eq!(list.wants_more(), Some(Seek::After(10)));
        list.top();
        assert_eq!(list.offset, 0);
    }

    #[test]
    fn the_position_counts_from_one_against_the_total_or_the_rows_loaded() {
        let mut list: ListView<u32, u32> = ListView::default();
        assert_eq!(list.position(), None, "nothing loaded, nothing said");
        list.reset(1);
        list.count_pending = Some(2);
        assert!(list.accept(1, (0..100).collect(), Some(100)));
        assert_eq!(list.position().as_deref(), Some("1 of 100+"));
        list.accept_count(2, Some(20_000));
        list.move_by(811);
        assert_eq!(list.position().as_deref(), Some("100 of 20,000"));
        list.reset(3);
        assert!(list.accept(3, vec![1, 2, 3], None));
        list.bottom();
        assert_eq!(list.position().as_deref(), Some("3 of 3"));
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn a_list_stops_growing_at_the_cap() {
        let mut list: ListView<usize, usize> = ListView::default();
        list.reset(1);
        assert!(list.accept(1, (0..MAX_LOADED_ROWS + 5).collect(), Some(1)));
        assert!(list.complete && list.is_capped());
        assert_eq!(list.wants_more(), None);
    }

    #[test]
    fn g_reads_the_tail_and_paging_up_puts_earlier_rows_above_with_the_position_from_the_total() {
        let mut list: ListView<u32, u32> = ListView::default();
        list.set_height(5);
        list.reset(1);
        list.count_pending = Some(2);
        assert!(list.accept(1, (0..100).collect(), Some(99)));
        list.accept_count(2, Some(20_000));
        list.bottom();
        assert!(
            list.tail && list.rows.is_empty(),
            "G forgets the head for the tail"
        );
        assert_eq!(list.total, Some(20_000), "the same list: the total stays");
        assert_eq!(list.wants_more(), Some(Seek::Last));
        list.pending = Some(3);
        assert!(list.accept(3, (19_900..20_000).collect(), Some(19_900)));
        assert_eq!(list.selected_row(), Some(&19_999));
        assert_eq!(list.position().as_deref(), Some("20,000 of 20,000"));
        assert_eq!(
            list.wants_more(),
            None,
            "far from the top of what is loaded"
        );
        list.move_by(-50);
        assert_eq!(list.position().as_deref(), Some("19,950 of 20,000"));
        list.move_by(-45);
        assert_eq!(list.wants_more(), Some(Seek::Before(19_900)));
        list.pending = Some(4);
        assert!(list.accept(4, (19_800..19_900).collect(), Some(19_800)));
        assert_eq!(
            list.selected_row(),
            Some(&19_904),
            "the cursor stays on its row"
        );
        assert_eq!(list.position().as_deref(), Some("19,905 of 20,000"));
        assert!(list.selected >= list.offset && list.selected < list.offset + list.height);
        list.top();
        assert!(
            !list.tail && list.rows.is_empty(),
            "g goes back to the head"
        );
        assert_eq!(list.wants_more(), Some(Seek::First));
    }

    #[test]
    fn g_on_a_list_loaded_whole_or_one_that_cannot_seek_stays_on_the_loaded_rows() {
        let mut list: ListView<u32, u32> = ListView::default();
        list.reset(1);
        assert!(list.accept(1, (0..10).collect(), None));
        list.bottom();
        assert_eq!((list.tail, list.selected), (false, 9));
        let mut members: ListView<u32, u32> = ListView {
            seeks_tail: false,
            ..ListView::default()
        };
        members.reset(1);
        assert!(members.accept(1, (0..10).collect(), Some(9)));
        members.bottom();
        assert_eq!((members.tail, members.selected), (false, 9));
    }

    #[test]
    fn an_answer_for_the_other_end_is_dropped() {
        let mut list: ListView<u32, u32> = ListView::default();
        list.reset(1);
        assert!(list.accept(1, (0..100).collect(), Some(99)));
        list.pending = Some(2);
        list.bottom();
        assert!(
            !list.accept(2, (100..200).collect(), Some(199)),
            "a head page asked before G"
        );
        assert!(list.rows.is_empty());
    }
}
