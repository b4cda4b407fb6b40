//! Measurement periods and calendar units in a customer's zone (credit-rules §1).

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use std::fmt;

use super::time::{local_date, local_midnight, Nanos};

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
        if !(1970..=2200).contains(&year) {
            return Err("year must be between 1970 and 2200".into());
        }
        if let Some(q) = rest.strip_prefix('Q') {
            match q {
                "1" | "2" | "3" | "4" => {
                    let n: u32 = q.parse().map_err(|_| err())?;
                    Ok(PeriodLabel {
                        year,
                        first_month: (n - 1) * 3 + 1,
                        kind: PeriodKind::Quarter,
                    })
                }
                _ => Err(err()),
            }
        } else {
            if rest.len() != 2 || !rest.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            let m: u32 = rest.parse().map_err(|_| err())?;
            if !(1..=12).contains(&m) {
                return Err(err());
            }
            Ok(PeriodLabel {
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

    /// The period of `kind` containing an instant, in zone `tz`.
    pub fn containing(kind: PeriodKind, tz: Tz, at: Nanos) -> Self {
        Self::containing_date(kind, local_date(at, tz))
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

    /// Local days of the period that have a length: a date a zone skipped whole (Samoa,
    /// 2011-12-30) is not a day of the period.
    pub fn local_days(&self, tz: Tz) -> u32 {
        let calendar = self.label.calendar_days();
        // A skipped date shortens the period by a whole day; DST moves it by an hour or two.
        // Only a period half a day short can have lost a date: count those one by one.
        let half_day_short = (i64::from(calendar) * 86_400 - 43_200) * 1_000_000_000;
        if self.len() >= half_day_short {
            return calendar;
        }
        let mut count = 0;
        let mut day = self.label.first_day();
        let end = self.label.end_day();
        let mut day_start = self.start;
        while day < end {
            let Some(next) = day.succ_opt() else { break };
            let next_start = local_midnight(tz, next);
            if next_start > day_start {
                count += 1;
            }
            day = next;
            day_start = next_start;
        }
        count
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
