//! Times as the operator reads them: in their local zone (`TZ` honoured), the zone named
//! beside every time shown. One fixed offset for the whole session, taken at start, so
//! every time on screen is in the zone its header names, across DST changes too.

use std::sync::RwLock;

use chrono::{DateTime, FixedOffset, Local, Offset, Utc};

/// `None` until the console starts: UTC (and so in tests).
static OFFSET: RwLock<Option<FixedOffset>> = RwLock::new(None);

/// The operator's zone, as the system (and `TZ`) gives it now.
pub fn use_local() {
    set_offset(*Local::now().offset());
}

pub fn set_offset(offset: FixedOffset) {
    if let Ok(mut guard) = OFFSET.write() {
        *guard = Some(offset);
    }
}

pub fn offset() -> FixedOffset {
    OFFSET
        .read()
        .ok()
        .and_then(|o| *o)
        .unwrap_or_else(|| Utc.fix())
}

/// "UTC", "UTC+1", "UTC-8", "UTC+5:30".
pub fn label_of(offset: FixedOffset) -> String {
    let seconds = offset.local_minus_utc();
    if seconds == 0 {
        return "UTC".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    match minutes % 60 {
        0 => format!("UTC{sign}{}", minutes / 60),
        m => format!("UTC{sign}{}:{m:02}", minutes / 60),
    }
}

/// The zone every time on screen is in.
pub fn label() -> String {
    label_of(offset())
}

/// `at` in `offset`, with a chrono format.
pub fn format_in(at: &DateTime<Utc>, offset: FixedOffset, format: &str) -> String {
    at.with_timezone(&offset).format(format).to_string()
}

/// `at` in the operator's zone.
pub fn format(at: &DateTime<Utc>, format: &str) -> String {
    format_in(at, offset(), format)
}

/// A time in a detail view, its zone named: "2026-11-20 13:50:00 UTC+1".
pub fn full(at: &DateTime<Utc>) -> String {
    format!("{} {}", format(at, "%Y-%m-%d %H:%M:%S"), label())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_shift_into_the_operators_offset_and_the_label_names_it() {
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 23, 50, 0).unwrap();
        let cet = FixedOffset::east_opt(3600).unwrap();
        assert_eq!(format_in(&at, cet, "%Y-%m-%d %H:%M"), "2026-11-21 00:50");
        assert_eq!(label_of(cet), "UTC+1");
        assert_eq!(label_of(FixedOffset::west_opt(8 * 3600).unwrap()), "UTC-8");
        assert_eq!(
            label_of(FixedOffset::east_opt(5 * 3600 + 1800).unwrap()),
            "UTC+5:30"
        );
        assert_eq!(label_of(FixedOffset::east_opt(0).unwrap()), "UTC");
    }
}
