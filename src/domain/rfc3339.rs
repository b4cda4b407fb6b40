//! RFC 3339 text of instants in the forms the service writes itself, read and written with
//! plain integer arithmetic instead of chrono's general parser and formatter.
//!
//! Every answer carries instants (an entry's `created_at`, a period's bounds), and the ledger
//! stores them as text: a page of the support view reads and writes about thirty, a settlement
//! of a million customers a million. chrono's general routines cost about a microsecond each;
//! these a tenth of that. They give exactly chrono's text and values (the tests compare both on
//! every kind of instant); any other form (an offset other than `Z`, a lowercase `t`, a leap
//! second, an impossible date) is left to chrono, so its errors read as they always have.

use super::time::{Nanos, NANOS_PER_SECOND};

const SECONDS_PER_DAY: i64 = 86_400;

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    // Both fit: the day is 1..=31 and the month 1..=12.
    let day = u32::try_from(day_of_year - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = year_of_era + era * 400;
    (if month <= 2 { year + 1 } else { year }, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// How the fraction of a second is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fraction {
    /// As few digits as show it whole: none, 3, 6 or 9 (chrono's `SecondsFormat::AutoSi`).
    Auto,
    /// Always nine digits (chrono's `SecondsFormat::Nanos`): the ledger's sortable form.
    Nanos,
}

/// Writes `value` (non-negative, below `10^N`) as exactly `N` digits into `buf`.
fn put_digits<const N: usize>(buf: &mut [u8], value: i64) {
    let mut v = value;
    for slot in buf[..N].iter_mut().rev() {
        // A digit: 0..=9 always fits.
        *slot = b'0' + u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff…]` of a wall-clock reading given as nanoseconds from
/// 1970-01-01T00:00:00 on the same clock; `false` (nothing written) for a year outside
/// 0000–9999, which RFC 3339 cannot write with four digits.
pub fn write_datetime(out: &mut String, nanos: Nanos, fraction: Fraction) -> bool {
    let seconds = nanos.div_euclid(NANOS_PER_SECOND);
    let sub = nanos.rem_euclid(NANOS_PER_SECOND);
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    if !(0..=9999).contains(&year) {
        return false;
    }
    let of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let mut buf = *b"0000-00-00T00:00:00.000000000";
    put_digits::<4>(&mut buf[0..], year);
    put_digits::<2>(&mut buf[5..], i64::from(month));
    put_digits::<2>(&mut buf[8..], i64::from(day));
    put_digits::<2>(&mut buf[11..], of_day / 3600);
    put_digits::<2>(&mut buf[14..], of_day / 60 % 60);
    put_digits::<2>(&mut buf[17..], of_day % 60);
    put_digits::<9>(&mut buf[20..], sub);
    let len = match fraction {
        Fraction::Nanos => 29,
        Fraction::Auto if sub == 0 => 19,
        Fraction::Auto if sub % 1_000_000 == 0 => 23,
        Fraction::Auto if sub % 1_000 == 0 => 26,
        Fraction::Auto => 29,
    };
    // Only ASCII digits and separators were written.
    out.push_str(std::str::from_utf8(&buf[..len]).unwrap_or_default());
    true
}

/// An offset from UTC as RFC 3339 writes it, `+05:45` or `-08:00`; `false` (nothing written)
/// for one with seconds, which chrono rounds and this does not.
pub fn write_offset(out: &mut String, offset_seconds: i32) -> bool {
    if offset_seconds % 60 != 0 {
        return false;
    }
    let minutes = i64::from(offset_seconds.unsigned_abs() / 60);
    let mut buf = *b"+00:00";
    if offset_seconds < 0 {
        buf[0] = b'-';
    }
    put_digits::<2>(&mut buf[1..], minutes / 60);
    put_digits::<2>(&mut buf[4..], minutes % 60);
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
    true
}

/// The number of `len` ASCII digits at `at`, if they all are digits.
fn digits(bytes: &[u8], at: usize, len: usize) -> Option<i64> {
    let field = bytes.get(at..at + len)?;
    field.iter().try_fold(0i64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` read as nanoseconds since 1970-01-01T00:00:00Z, or `None`
/// for any other text and for a date or time that does not exist (the general parser reads
/// those, or refuses them in its own words).
pub fn parse_utc(text: &str) -> Option<Nanos> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = u32::try_from(digits(b, 5, 2)?).ok()?;
    let day = u32::try_from(digits(b, 8, 2)?).ok()?;
    let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let sub = match b.len() - 20 {
        0 => 0,
        n @ 2..=10 if b[19] == b'.' => {
            let width = n - 1;
            let scale = 10i64.pow(u32::try_from(9 - width).ok()?);
            digits(b, 20, width)? * scale
        }
        _ => return None,
    };
    let seconds =
        days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    Some(seconds * NANOS_PER_SECOND + sub)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::{MAX_INSTANT, MIN_INSTANT};
    use chrono::{DateTime, Offset, SecondsFormat, TimeZone, Utc};

    /// A small deterministic generator: the same instants on every run.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 11
        }
        fn instant(&mut self) -> Nanos {
            let span = u64::try_from(MAX_INSTANT - MIN_INSTANT).expect("positive") + 1;
            let n = MIN_INSTANT + i64::try_from(self.next() % span).expect("fits");
            // Whole seconds, milliseconds and microseconds as often as any nanosecond.
            match self.next() % 4 {
                0 => n - n % NANOS_PER_SECOND,
                1 => n - n % 1_000_000,
                2 => n - n % 1_000,
                _ => n,
            }
        }
    }

    fn chrono_text(n: Nanos, format: SecondsFormat) -> String {
        DateTime::from_timestamp_nanos(n).to_rfc3339_opts(format, true)
    }

    fn ours(n: Nanos, fraction: Fraction) -> String {
        let mut s = String::new();
        assert!(write_datetime(&mut s, n, fraction));
        s.push('Z');
        s
    }

    #[test]
    fn civil_days_agree_with_chrono_over_every_day_of_the_range_and_beyond() {
        let first = chrono::NaiveDate::from_ymd_opt(1600, 1, 1).expect("date");
        for offset in 0..(700 * 366) {
            let date = first + chrono::Days::new(offset);
            let days =
                (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("date")).num_days();
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                (y, m, d),
                (
                    i64::from(chrono::Datelike::year(&date)),
                    chrono::Datelike::month(&date),
                    chrono::Datelike::day(&date)
                )
            );
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn written_and_read_as_chrono_writes_and_reads() {
        let mut rng = Lcg(7);
        let mut cases: Vec<Nanos> = (0..100_000).map(|_| rng.instant()).collect();
        cases.extend([
            MIN_INSTANT,
            MAX_INSTANT,
            951_782_400 * NANOS_PER_SECOND - 1,
            1,
        ]);
        for n in cases {
            for (fraction, format) in [
                (Fraction::Auto, SecondsFormat::AutoSi),
                (Fraction::Nanos, SecondsFormat::Nanos),
            ] {
                let text = ours(n, fraction);
                assert_eq!(text, chrono_text(n, format), "{n}");
                assert_eq!(parse_utc(&text), Some(n), "{text}");
                let theirs = DateTime::parse_from_rfc3339(&text).expect("chrono reads it");
                assert_eq!(theirs.timestamp_nanos_opt(), Some(n));
            }
        }
    }

    #[test]
    fn offsets_as_chrono_writes_them() {
        let zones = [
            chrono_tz::UTC,
            chrono_tz::America::Los_Angeles,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::Pacific::Chatham,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::America::St_Johns,
        ];
        let mut rng = Lcg(11);
        for _ in 0..20_000 {
            let n = rng.instant();
            for tz in zones {
                let utc = DateTime::from_timestamp_nanos(n);
                let local = tz.from_utc_datetime(&utc.naive_utc());
                let offset = local.offset().fix().local_minus_utc();
                let mut s = String::new();
                assert!(write_datetime(
                    &mut s,
                    n + i64::from(offset) * NANOS_PER_SECOND,
                    Fraction::Auto
                ));
                assert!(write_offset(&mut s, offset));
                assert_eq!(s, local.to_rfc3339_opts(SecondsFormat::AutoSi, false));
            }
        }
        let mut s = String::new();
        assert!(!write_offset(&mut s, -(7 * 3600 + 52 * 60 + 58)));
        assert!(s.is_empty());
    }

    #[test]
    fn other_forms_are_left_to_the_general_parser() {
        for text in [
            "2026-02-29T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-06-30T23:59:60Z",
            "2026-01-01t00:00:00Z",
            "2026-01-01T00:00:00z",
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.1234567890Z",
            "2026-01-01T00:00:00,5Z",
            "2026-01-01T00:00:0aZ",
            "+2026-01-01T00:00:00Z",
            "2026-01-01 00:00:00Z",
            "",
        ] {
            assert_eq!(parse_utc(text), None, "{text}");
        }
        assert_eq!(
            parse_utc("2024-02-29T12:00:00.5Z"),
            Some(1_709_208_000_500_000_000)
        );
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        let t = Utc
            .with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
            .single()
            .expect("instant");
        assert_eq!(parse_utc("2100-01-01T00:00:00Z"), t.timestamp_nanos_opt());
    }
}
