//! Measurement periods and calendar units in a customer's zone (docs/rules.md §1). A unit runs
//! from the instant of local midnight of its first day to that of the next unit; which unit an
//! instant belongs to is decided by those instants, never by the instant's wall-clock date.

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use std::fmt;

use super::time::{
    local_date, local_day, local_midnight, LocalDay, Nanos, MAX_INSTANT, MIN_INSTANT,
};

/// Policy `period`: a calendar month (default) or quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum PeriodKind {
    #[default]
    Month,
    Quarter,
}

impl PeriodKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
        }
    }

    pub fn months(&self) -> u32 {
        match self {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
        }
    }
}

/// A calendar period label: `2026-01` or `2026-Q1`. Orders chronologically within one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriodLabel {
    year: i32,
    /// First calendar month of the period, 1..=12.
    first_month: u32,
    kind: PeriodKind,
}

impl PeriodLabel {
    /// Parses `2026-01` or `2026-Q1`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let err = || format!("{text:?} is not a period label like 2026-01 or 2026-Q1");
        let (y, rest) = text.split_once('-').ok_or_else(err)?;
        if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let year: i32 = y.parse().map_err(|_| err())?;
        let label = Self::parse_parts(year, rest).ok_or_else(err)?;
        let (low, high) = match label.kind {
            PeriodKind::Month => ("1969-12", "2100-01"),
            PeriodKind::Quarter => ("1969-Q4", "2100-Q1"),
        };
        let bound = |y, m| PeriodLabel {
            year: y,
            first_month: m,
            kind: label.kind,
        };
        let first = bound(1969, 13 - label.kind.months());
        if label < first || label > bound(2100, 1) {
            return Err(format!(
                "{text:?} is outside the accepted range {low} to {high}: a period must overlap \
                 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z"
            ));
        }
        Ok(label)
    }

    /// Parses a label for a zone: it must overlap the accepted instants there (docs/rules.md
    /// §1: a Los Angeles `1969-12` runs from 1970-01-01T00:00:00Z to 08:00Z; a UTC one does not
    /// exist for the engine).
    pub fn parse_in_zone(text: &str, tz: Tz) -> Result<Self, String> {
        let label = Self::parse(text)?;
        if !label.overlaps_accepted(tz) {
            return Err(format!(
                "{text:?} in {} does not overlap the accepted instants \
                 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z",
                tz.name()
            ));
        }
        Ok(label)
    }

    /// The period, placed in `tz`, shares an instant with 1970-01-01T00:00:00Z to
    /// 2100-01-01T00:00:00Z inclusive.
    pub fn overlaps_accepted(&self, tz: Tz) -> bool {
        let zp = self.in_zone(tz);
        zp.start <= MAX_INSTANT && zp.end > MIN_INSTANT
    }

    fn parse_parts(year: i32, rest: &str) -> Option<Self> {
        if let Some(q) = rest.strip_prefix('Q') {
            match q {
                "1" | "2" | "3" | "4" => {
                    let n: u32 = q.parse().ok()?;
                    Some(PeriodLabel {
                        year,
                        first_month: (n - 1) * 3 + 1,
                        kind: PeriodKind::Quarter,
                    })
                }
                _ => None,
            }
        } else {
            if rest.len() != 2 || !rest.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let m: u32 = rest.parse().ok()?;
            (1..=12).contains(&m).then_some(PeriodLabel {
                year,
                first_month: m,
                kind: PeriodKind::Month,
            })
        }
    }

    /// The period of `kind` containing a local date.
    pub fn containing_date(kind: PeriodKind, date: NaiveDate) -> Self {
        let first_month = match kind {
            PeriodKind::Month => date.month(),
            PeriodKind::Quarter => (date.month() - 1) / 3 * 3 + 1,
        };
        PeriodLabel {
            year: date.year(),
            first_month,
            kind,
        }
    }

    /// The period of `kind` containing an instant, in zone `tz`: the one whose start instant is
    /// at or before `at` and whose end instant is after it (docs/rules.md §1). The wall-clock
    /// date is only a first guess: in America/St_Johns on 2009-11-01 the clocks went from 00:01
    /// back to 23:01, so 02:40Z reads 23:10 on 31 October yet lies in November, which began
    /// at the earlier midnight, 02:30Z.
    ///
    /// Each thread remembers the period it found last for each zone and kind: an instant
    /// inside those boundaries is in that period by this very definition (a quote asks for
    /// the same month for its outages and its incident's start, and the next quote mostly for
    /// the same month again).
    pub fn containing(kind: PeriodKind, tz: Tz, at: Nanos) -> Self {
        use std::cell::Cell;
        const SLOTS: usize = 16;
        thread_local! {
            static FOUND: [Cell<Option<(Tz, ZonedPeriod)>>; SLOTS] =
                const { [const { Cell::new(None) }; SLOTS] };
        }
        let slot = (tz as usize).wrapping_mul(2).wrapping_add(kind as usize) % SLOTS;
        if let Some((z, zp)) = FOUND.with(|f| f[slot].get()) {
            if z == tz && zp.label.kind == kind && zp.start <= at && at < zp.end {
                return zp.label;
            }
        }
        let label = Self::search_containing(kind, tz, at);
        FOUND.with(|f| f[slot].set(Some((tz, label.in_zone(tz)))));
        label
    }

    /// [`Self::containing`], worked out.
    fn search_containing(kind: PeriodKind, tz: Tz, at: Nanos) -> Self {
        let mut label = Self::containing_date(kind, local_date(at, tz));
        // A guess is never more than a day off, so one step settles it; two are allowed.
        for _ in 0..2 {
            if at < label.in_zone(tz).start {
                label = label.prev();
            } else if at >= label.next().in_zone(tz).start {
                label = label.next();
            } else {
                break;
            }
        }
        label
    }

    pub fn kind(&self) -> PeriodKind {
        self.kind
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn first_month(&self) -> u32 {
        self.first_month
    }

    /// First local date of the period.
    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.first_month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The following period of the same kind.
    pub fn next(&self) -> Self {
        let m0 = self.first_month - 1 + self.kind.months();
        PeriodLabel {
            year: self.year + (m0 / 12) as i32,
            first_month: m0 % 12 + 1,
            kind: self.kind,
        }
    }

    /// The preceding period of the same kind.
    pub fn prev(&self) -> Self {
        let m0 = self.first_month as i32 - 1 - self.kind.months() as i32;
        PeriodLabel {
            year: self.year + m0.div_euclid(12),
            first_month: m0.rem_euclid(12) as u32 + 1,
            kind: self.kind,
        }
    }

    /// First local date after the period.
    pub fn end_day(&self) -> NaiveDate {
        self.next().first_day()
    }

    /// Calendar days of the period (a month 28–31, a quarter 90–92).
    pub fn calendar_days(&self) -> u32 {
        (self.end_day() - self.first_day()).num_days() as u32
    }

    /// The period placed in a zone: its real start and end instants.
    pub fn in_zone(&self, tz: Tz) -> ZonedPeriod {
        ZonedPeriod {
            label: *self,
            start: local_midnight(tz, self.first_day()),
            end: local_midnight(tz, self.end_day()),
        }
    }

    /// The months a period covers (itself for a month).
    pub fn months(&self) -> Vec<PeriodLabel> {
        let mut out = Vec::with_capacity(3);
        let mut m = PeriodLabel {
            year: self.year,
            first_month: self.first_month,
            kind: PeriodKind::Month,
        };
        for _ in 0..self.kind.months() {
            out.push(m);
            m = m.next();
        }
        out
    }
}

impl fmt::Display for PeriodLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PeriodKind::Month => write!(f, "{:04}-{:02}", self.year, self.first_month),
            PeriodKind::Quarter => {
                write!(f, "{:04}-Q{}", self.year, (self.first_month - 1) / 3 + 1)
            }
        }
    }
}

/// A period with its real boundaries: `[start, end)` in UTC nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZonedPeriod {
    pub label: PeriodLabel,
    pub start: Nanos,
    pub end: Nanos,
}

impl ZonedPeriod {
    pub fn len(&self) -> i64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The local days of the period, in order, each placed by its midnights (docs/rules.md §1).
    /// They tile `[start, end)`: a date whose midnight is no earlier than the next date's (one a
    /// zone skipped whole, Pacific/Apia 2011-12-30) has no instant and is not a day of the period.
    pub fn days(&self, tz: Tz) -> Vec<LocalDay> {
        let mut out = Vec::with_capacity(self.label.calendar_days() as usize);
        let mut date = self.label.first_day();
        let end = self.label.end_day();
        let mut start = self.start;
        while date < end {
            let Some(next) = date.succ_opt() else { break };
            let next_start = if next == end {
                self.end
            } else {
                local_midnight(tz, next)
            };
            if next_start > start {
                out.push(LocalDay {
                    date,
                    start,
                    end: next_start,
                });
                start = next_start;
            }
            date = next;
        }
        out
    }

    /// The number of local days of the period (docs/rules.md §3 "days in period").
    ///
    /// Placing a month's days takes about thirty zone lookups, and every quote and every
    /// settled customer asks for the same few periods: each thread remembers the counts it
    /// has found (a pure function of the zone and the period, so remembering changes nothing
    /// but the time).
    pub fn local_days(&self, tz: Tz) -> u32 {
        use std::cell::RefCell;
        use std::collections::HashMap;
        type Key = (Tz, PeriodLabel, Nanos, Nanos);
        thread_local! {
            static COUNTED: RefCell<HashMap<Key, u32>> = RefCell::new(HashMap::new());
        }
        /// Enough for every zone's recent periods; past it the memory starts again.
        const REMEMBERED: usize = 4096;
        let key = (tz, self.label, self.start, self.end);
        if let Some(n) = COUNTED.with(|c| c.borrow().get(&key).copied()) {
            return n;
        }
        let n = self.days(tz).len() as u32;
        COUNTED.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= REMEMBERED {
                c.clear();
            }
            c.insert(key, n);
        });
        n
    }
}

/// Counts the local days that sorted, disjoint spans touch, by instants (docs/rules.md §3
/// "affected local days"): each day found is the one containing an instant, so a skipped date
/// is never counted and a day is counted once however many spans touch it.
#[derive(Debug, Default)]
pub struct DayCounter {
    count: u32,
    /// End of the last day counted: spans come in order, so nothing before it is counted again.
    counted_until: Option<Nanos>,
}

impl DayCounter {
    /// Counts the days `[start, end)` touches (spans in ascending order).
    pub fn add(&mut self, start: Nanos, end: Nanos, tz: Tz) {
        let mut cursor = match self.counted_until {
            Some(until) => start.max(until),
            None => start,
        };
        while cursor < end {
            let day = local_day(cursor, tz);
            self.count += 1;
            cursor = day.end.max(cursor + 1);
        }
        if let Some(until) = self.counted_until {
            cursor = cursor.max(until);
        }
        self.counted_until = Some(cursor);
    }

    pub fn count(&self) -> u32 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn la_march_has_743_hours_and_november_721() {
        let tz: Tz = chrono_tz::America::Los_Angeles;
        let march = PeriodLabel::parse("2026-03").map(|p| p.in_zone(tz));
        assert_eq!(march.map(|p| p.len()), Ok(743 * 3600 * 1_000_000_000));
        let nov = PeriodLabel::parse("2026-11").map(|p| p.in_zone(tz));
        assert_eq!(nov.map(|p| p.len()), Ok(721 * 3600 * 1_000_000_000));
    }

    #[test]
    fn a_date_the_zone_skipped_is_not_a_day() {
        // Samoa moved across the date line: 2011-12-30 never happened in Apia.
        let apia: Tz = chrono_tz::Pacific::Apia;
        let dec = PeriodLabel::parse("2011-12").map(|p| p.in_zone(apia));
        assert_eq!(dec.map(|p| p.local_days(apia)), Ok(30));
        let la: Tz = chrono_tz::America::Los_Angeles;
        let march = PeriodLabel::parse("2026-03").map(|p| p.in_zone(la));
        assert_eq!(march.map(|p| p.local_days(la)), Ok(31));
    }

    #[test]
    fn the_period_of_an_instant_is_found_by_instants() {
        use crate::domain::time::parse_instant;
        let tz: Tz = chrono_tz::America::St_Johns;
        let at = |t: &str| parse_instant(t).unwrap_or(-1);
        let nov = PeriodLabel::parse("2009-11").ok();
        // 02:40Z reads 23:10 on 31 October, after November's start (02:30Z).
        let found = PeriodLabel::containing(PeriodKind::Month, tz, at("2009-11-01T02:40:00Z"));
        assert_eq!(Some(found), nov);
        let before = PeriodLabel::containing(PeriodKind::Month, tz, at("2009-11-01T02:29:59Z"));
        assert_eq!(Some(before), PeriodLabel::parse("2009-10").ok());
        let q = PeriodLabel::containing(PeriodKind::Quarter, tz, at("2009-11-01T02:40:00Z"));
        assert_eq!(Some(q), PeriodLabel::parse("2009-Q4").ok());
    }

    #[test]
    fn remembered_periods_answer_as_the_search_does() {
        // Instants every 7 hours over two years, in zones and kinds asked in turn and the
        // instants walked forwards then backwards: the remembered period is always the one
        // found afresh, at boundaries (St_Johns steps back across midnight) too.
        let zones = [
            chrono_tz::UTC,
            chrono_tz::America::St_Johns,
            chrono_tz::Pacific::Apia,
            chrono_tz::America::Los_Angeles,
        ];
        let start = crate::domain::time::parse_instant("2009-10-01T00:00:00Z").unwrap_or(0);
        let instants: Vec<Nanos> = (0..2 * 365 * 24 / 7)
            .map(|i| start + i * 7 * 3600 * 1_000_000_000)
            .collect();
        for order in [false, true] {
            let walk: Vec<Nanos> = if order {
                instants.iter().rev().copied().collect()
            } else {
                instants.clone()
            };
            for &at in &walk {
                for &tz in &zones {
                    for kind in [PeriodKind::Month, PeriodKind::Quarter] {
                        assert_eq!(
                            PeriodLabel::containing(kind, tz, at),
                            PeriodLabel::search_containing(kind, tz, at),
                            "{tz} {at} {kind:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn labels_are_accepted_where_they_overlap_the_accepted_instants() {
        let la: Tz = chrono_tz::America::Los_Angeles;
        let utc: Tz = chrono_tz::UTC;
        let tokyo: Tz = chrono_tz::Asia::Tokyo;
        assert!(PeriodLabel::parse_in_zone("1969-12", la).is_ok());
        assert!(PeriodLabel::parse_in_zone("1969-Q4", la).is_ok());
        assert!(PeriodLabel::parse_in_zone("1969-12", utc).is_err());
        assert!(PeriodLabel::parse_in_zone("2100-01", utc).is_ok());
        assert!(PeriodLabel::parse_in_zone("2100-01", tokyo).is_ok());
        assert!(PeriodLabel::parse_in_zone("2100-01", la).is_err());
        assert!(PeriodLabel::parse("1969-11").is_err());
        assert!(PeriodLabel::parse("1969-Q3").is_err());
        assert!(PeriodLabel::parse("2100-02").is_err());
        assert!(PeriodLabel::parse("2100-Q2").is_err());
        assert_eq!(
            PeriodLabel::parse("2026-01").map(|p| p.prev().to_string()),
            Ok("2025-12".to_string())
        );
        assert_eq!(
            PeriodLabel::parse("2026-Q1").map(|p| p.prev().to_string()),
            Ok("2025-Q4".to_string())
        );
    }

    #[test]
    fn labels_round_trip() {
        for s in ["2026-01", "2026-12", "2026-Q1", "2026-Q4"] {
            assert_eq!(
                PeriodLabel::parse(s).map(|p| p.to_string()),
                Ok(s.to_string())
            );
        }
        assert!(PeriodLabel::parse("2026-13").is_err());
        assert!(PeriodLabel::parse("2026-Q5").is_err());
        assert_eq!(
            PeriodLabel::parse("2026-Q4").map(|p| p.next().to_string()),
            Ok("2027-Q1".to_string())
        );
    }
}
