//! Instants and zones (credit-rules §1): RFC 3339 with an offset outside, whole UTC nanoseconds
//! inside, so interval arithmetic is exact integer work.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

/// An instant as whole nanoseconds since 1970-01-01T00:00:00Z.
pub type Nanos = i64;

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// The earliest accepted instant: 1970-01-01T00:00:00Z.
pub const MIN_INSTANT: Nanos = 0;

/// The first instant after the accepted range: the whole day 2200-01-01 (UTC) is inside.
pub fn max_instant_exclusive() -> Nanos {
    // 2200-01-02T00:00:00Z
    7_258_204_800 * NANOS_PER_SECOND
}

/// Parses an RFC 3339 instant with an offset, `T` separator, no leap second, within the range.
pub fn parse_instant(text: &str) -> Result<Nanos, String> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[10] != b'T' {
        return Err(format!(
            "{text:?} is not an RFC 3339 instant like 2026-01-26T11:00:00-08:00"
        ));
    }
    let dt = DateTime::parse_from_rfc3339(text).map_err(|_| {
        format!("{text:?} is not an RFC 3339 instant with an offset, like 2026-01-26T11:00:00Z")
    })?;
    if dt.timestamp_subsec_nanos() >= 1_000_000_000 {
        return Err("leap seconds are not accepted".into());
    }
    let nanos = dt
        .timestamp_nanos_opt()
        .filter(|n| (MIN_INSTANT..max_instant_exclusive()).contains(n))
        .ok_or_else(|| "must be between 1970-01-01 and 2200-01-01 inclusive".to_string())?;
    Ok(nanos)
}

/// Parses an IANA zone name.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("{name:?} is not an IANA time zone name"))
}

pub fn to_utc(nanos: Nanos) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

/// `2026-01-01T08:00:00Z`
pub fn format_utc(nanos: Nanos) -> String {
    to_utc(nanos).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `2026-01-01T00:00:00-08:00`
pub fn format_local(nanos: Nanos, tz: Tz) -> String {
    to_utc(nanos)
        .with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// The local calendar date of an instant.
pub fn local_date(nanos: Nanos, tz: Tz) -> NaiveDate {
    to_utc(nanos).with_timezone(&tz).date_naive()
}

/// The instant a local day starts (credit-rules §1): local 00:00; if that does not exist (a DST
/// gap), the first instant after the gap; if it occurs twice, the earlier one.
pub fn local_midnight(tz: Tz, date: NaiveDate) -> Nanos {
    let naive = date.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => utc_nanos(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(a, b) => {
            utc_nanos(a.with_timezone(&Utc)).min(utc_nanos(b.with_timezone(&Utc)))
        }
        chrono::LocalResult::None => first_instant_after_gap(tz, naive),
    }
}

fn utc_nanos(t: DateTime<Utc>) -> Nanos {
    // Every zone boundary the engine asks for lies in 1969..2201, well inside i64 nanoseconds.
    t.timestamp() * NANOS_PER_SECOND + i64::from(t.timestamp_subsec_nanos())
}

/// The local time `naive` falls in a gap: walk forward a minute at a time to the first local
/// time that exists, then back second by second to the transition itself.
fn first_instant_after_gap(tz: Tz, naive: chrono::NaiveDateTime) -> Nanos {
    let mut probe = naive;
    for _ in 0..(26 * 60) {
        probe += chrono::Duration::minutes(1);
        let found = match tz.from_local_datetime(&probe) {
            chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            chrono::LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
            chrono::LocalResult::None => None,
        };
        if let Some(t) = found {
            let mut first = t.timestamp();
            // Step back while the earlier second still reads at or after the lost midnight.
            for _ in 0..60 {
                let earlier = first - 1;
                let Some(e) = DateTime::<Utc>::from_timestamp(earlier, 0) else {
                    break;
                };
                if e.with_timezone(&tz).naive_local() >= naive {
                    first = earlier;
                } else {
                    break;
                }
            }
            return first * NANOS_PER_SECOND;
        }
    }
    // No zone has a gap longer than a day; fall back to reading the wall clock as UTC.
    naive.and_utc().timestamp() * NANOS_PER_SECOND
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(text: &str) -> Nanos {
        parse_instant(text).unwrap_or(-1)
    }

    #[test]
    fn a_midnight_in_a_dst_gap_starts_the_day_after_the_gap() {
        // Havana skips 00:00–01:00 on 2026-03-08: the day starts at 01:00 -04:00 = 05:00Z.
        let havana: Tz = chrono_tz::America::Havana;
        let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap_or_default();
        assert_eq!(local_midnight(havana, day), ns("2026-03-08T05:00:00Z"));
    }

    #[test]
    fn a_repeated_midnight_starts_at_the_earlier_one() {
        // Santiago falls back from 00:00 -03:00 to 23:00 -04:00 on 2026-04-05: local 00:00 … no,
        // the repeated hour is 23:00–24:00 on the 4th; the 5th starts once, at 04:00Z.
        let santiago: Tz = chrono_tz::America::Santiago;
        let day = NaiveDate::from_ymd_opt(2026, 4, 5).unwrap_or_default();
        let start = local_midnight(santiago, day);
        assert_eq!(format_local(start, santiago).get(..10), Some("2026-04-05"));
    }

    #[test]
    fn instants_are_checked() {
        assert!(parse_instant("2026-01-26T11:00:00-08:00").is_ok());
        assert!(parse_instant("2026-01-26 11:00:00Z").is_err());
        assert!(parse_instant("2026-01-26T11:00:00").is_err());
        assert!(parse_instant("2016-12-31T23:59:60Z").is_err());
        assert!(parse_instant("1969-12-31T23:59:59Z").is_err());
        assert!(parse_instant("2200-01-01T23:59:59Z").is_ok());
        assert!(parse_instant("2200-01-02T00:00:00Z").is_err());
    }
}
