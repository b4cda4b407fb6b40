//! Instants and zones (docs/rules.md §1): RFC 3339 with an offset outside, whole UTC nanoseconds
//! inside, so interval arithmetic is exact integer work.

use chrono::{DateTime, Datelike, NaiveDate, Offset, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

use super::rfc3339;
pub use super::rfc3339::Fraction;

/// An instant as whole nanoseconds since 1970-01-01T00:00:00Z.
pub type Nanos = i64;

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// The earliest accepted instant: 1970-01-01T00:00:00Z (docs/rules.md §1).
pub const MIN_INSTANT: Nanos = 0;

/// The latest accepted instant, itself accepted: 2100-01-01T00:00:00Z (docs/rules.md §1). The tz
/// rules compiled into chrono-tz stop in 2099; later local times would lose daylight saving time.
pub const MAX_INSTANT: Nanos = 4_102_444_800 * NANOS_PER_SECOND;

/// The first instant after the accepted range.
pub fn max_instant_exclusive() -> Nanos {
    MAX_INSTANT + 1
}

/// Parses an RFC 3339 instant with an offset, `T` separator, no leap second, at most nine
/// fraction digits (more only if they are zeros), from 1970-01-01T00:00:00Z to
/// 2100-01-01T00:00:00Z inclusive (docs/rules.md §1).
pub fn parse_instant(text: &str) -> Result<Nanos, String> {
    // The form the service writes itself (`…Z`), read without the general parser.
    if let Some(nanos) =
        rfc3339::parse_utc(text).filter(|n| (MIN_INSTANT..=MAX_INSTANT).contains(n))
    {
        return Ok(nanos);
    }
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[10] != b'T' {
        return Err(format!(
            "{text:?} is not an RFC 3339 instant like 2026-01-26T11:00:00-08:00"
        ));
    }
    check_fraction_digits(text)?;
    let dt = DateTime::parse_from_rfc3339(text).map_err(|_| {
        format!("{text:?} is not an RFC 3339 instant with an offset, like 2026-01-26T11:00:00Z")
    })?;
    if dt.timestamp_subsec_nanos() >= 1_000_000_000 {
        return Err("leap seconds are not accepted".into());
    }
    let nanos = dt
        .timestamp_nanos_opt()
        .filter(|n| (MIN_INSTANT..=MAX_INSTANT).contains(n))
        .ok_or_else(|| {
            "must be from 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z inclusive".to_string()
        })?;
    Ok(nanos)
}

/// Nanoseconds are the finest unit: a tenth digit is refused unless it and every later fraction
/// digit are zeros (never silently truncated).
fn check_fraction_digits(text: &str) -> Result<(), String> {
    let Some(rest) = text.get(19..).and_then(|r| r.strip_prefix('.')) else {
        return Ok(());
    };
    let digits: &str = &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()];
    if digits.len() > 9 && digits.bytes().skip(9).any(|b| b != b'0') {
        return Err(format!(
            "{text:?} has more than nine fraction digits: instants are kept to the nanosecond"
        ));
    }
    Ok(())
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
    format_utc_as(nanos, Fraction::Auto)
}

/// An instant in UTC with its fraction of a second written as `fraction` says.
pub fn format_utc_as(nanos: Nanos, fraction: Fraction) -> String {
    let mut text = String::with_capacity(30);
    if rfc3339::write_datetime(&mut text, nanos, fraction) {
        text.push('Z');
        return text;
    }
    let format = match fraction {
        Fraction::Auto => SecondsFormat::AutoSi,
        Fraction::Nanos => SecondsFormat::Nanos,
    };
    to_utc(nanos).to_rfc3339_opts(format, true)
}

/// `2026-01-01T00:00:00-08:00`
pub fn format_local(nanos: Nanos, tz: Tz) -> String {
    let utc = to_utc(nanos);
    let offset = offset_at(nanos, tz);
    let mut text = String::with_capacity(32);
    let local = nanos.checked_add(i64::from(offset) * NANOS_PER_SECOND);
    if let Some(local) = local {
        if rfc3339::write_datetime(&mut text, local, Fraction::Auto)
            && rfc3339::write_offset(&mut text, offset)
        {
            return text;
        }
    }
    utc.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Slots a thread keeps of a pure function's recent answers, each the last key asked there.
type Slots<K, V, const N: usize> = [std::cell::Cell<Option<(K, V)>>; N];

/// The answer for `key` from its slot (`hash` picks it), or `compute`d and kept there:
/// remembering changes nothing but the time.
fn remembered<K: Copy + PartialEq + 'static, V: Copy + 'static, const N: usize>(
    slots: &'static std::thread::LocalKey<Slots<K, V, N>>,
    hash: u64,
    key: K,
    compute: impl FnOnce() -> V,
) -> V {
    // Fibonacci hashing: keys a whole number of days apart must not share a slot.
    let slot = (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % N;
    if let Some((k, v)) = slots.with(|s| s[slot].get()) {
        if k == key {
            return v;
        }
    }
    let v = compute();
    slots.with(|s| s[slot].set(Some((key, v))));
    v
}

/// The zone's offset from UTC at an instant, in seconds.
///
/// Each thread remembers the offsets of the instants it looked up lately: the same few (the
/// bounds of the current periods) are written again and again, and each lookup is a search of
/// the zone's transitions.
fn offset_at(nanos: Nanos, tz: Tz) -> i32 {
    thread_local! {
        static FOUND: Slots<(Tz, Nanos), i32, 32> =
            const { [const { std::cell::Cell::new(None) }; 32] };
    }
    let hash = (nanos as u64) ^ ((tz as u64) << 48);
    remembered(&FOUND, hash, (tz, nanos), || {
        tz.offset_from_utc_datetime(&to_utc(nanos).naive_utc())
            .fix()
            .local_minus_utc()
    })
}

/// The local calendar date of an instant.
pub fn local_date(nanos: Nanos, tz: Tz) -> NaiveDate {
    to_utc(nanos).with_timezone(&tz).date_naive()
}

/// The instant a local day starts (docs/rules.md §1): local 00:00; if that does not exist (a DST
/// gap), the first instant after the gap; if it occurs twice, the earlier one.
pub fn local_midnight(tz: Tz, date: NaiveDate) -> Nanos {
    // Midnights placed lately, by zone and date: a quote or a customer's settlement asks for
    // the same few (its periods' first days, its outages' days) again and again, and each
    // costs two searches of the zone's transitions.
    thread_local! {
        static PLACED: Slots<(Tz, NaiveDate), Nanos, 64> =
            const { [const { std::cell::Cell::new(None) }; 64] };
    }
    let hash = (date.num_days_from_ce() as u64) ^ ((tz as u64) << 32);
    remembered(&PLACED, hash, (tz, date), || place_midnight(tz, date))
}

fn place_midnight(tz: Tz, date: NaiveDate) -> Nanos {
    let naive = date.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => utc_nanos(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(a, b) => {
            utc_nanos(a.with_timezone(&Utc)).min(utc_nanos(b.with_timezone(&Utc)))
        }
        chrono::LocalResult::None => first_instant_after_gap(tz, naive),
    }
}

/// One local day placed in a zone by its midnights: `[start, end)` with
/// `start = local_midnight(date)` and `end = local_midnight(date + 1)` (docs/rules.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDay {
    pub date: NaiveDate,
    pub start: Nanos,
    pub end: Nanos,
}

/// The local day containing an instant, found by instants (docs/rules.md §1): the date whose
/// midnight is at or before `at` and whose next midnight is after it. The wall-clock date is only
/// a first guess: where clocks step back across midnight (America/St_Johns until 2011) an instant
/// reading 23:30 belongs to the next day, and a date a zone skipped (Pacific/Apia 2011-12-30)
/// contains no instant at all.
pub fn local_day(at: Nanos, tz: Tz) -> LocalDay {
    let mut date = local_date(at, tz);
    let mut start = local_midnight(tz, date);
    // A few steps at most: a guess is never more than a day off.
    for _ in 0..4 {
        if at >= start {
            break;
        }
        let Some(prev) = date.pred_opt() else { break };
        date = prev;
        start = local_midnight(tz, date);
    }
    for _ in 0..4 {
        let Some(next) = date.succ_opt() else { break };
        let end = local_midnight(tz, next);
        if at < end {
            return LocalDay { date, start, end };
        }
        date = next;
        start = end;
    }
    LocalDay {
        date,
        start,
        end: start + 86_400 * NANOS_PER_SECOND,
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
    fn remembered_midnights_belong_to_their_own_zone_and_date() {
        // Zones and dates that share slots of the remembered midnights, asked in turn: each
        // answer is the one placed afresh, whatever was asked before it.
        let zones = [
            chrono_tz::UTC,
            chrono_tz::America::Los_Angeles,
            chrono_tz::Pacific::Apia,
            chrono_tz::Asia::Kolkata,
        ];
        let first = NaiveDate::from_ymd_opt(2011, 12, 1).unwrap_or_default();
        let dates: Vec<NaiveDate> = first.iter_days().take(200).collect();
        for _round in 0..3 {
            for &tz in &zones {
                for &d in &dates {
                    assert_eq!(local_midnight(tz, d), place_midnight(tz, d), "{tz} {d}");
                }
            }
        }
    }

    #[test]
    fn remembered_offsets_belong_to_their_own_zone_and_instant() {
        // Instants an hour apart across DST changes and a date-line move, in zones asked in
        // turn, twice: every offset is the one chrono-tz gives for that zone and instant.
        let zones = [
            chrono_tz::UTC,
            chrono_tz::America::Los_Angeles,
            chrono_tz::Pacific::Apia,
            chrono_tz::America::St_Johns,
        ];
        let first = ns("2011-03-01T00:00:00Z");
        for _round in 0..2 {
            for &tz in &zones {
                for h in 0..24 * 400 {
                    let at = first + h * 3600 * NANOS_PER_SECOND;
                    let direct = tz
                        .offset_from_utc_datetime(&to_utc(at).naive_utc())
                        .fix()
                        .local_minus_utc();
                    assert_eq!(offset_at(at, tz), direct, "{tz} {at}");
                }
            }
        }
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
        // Santiago falls back at 24:00 -03:00 on 2026-04-04 to 23:00 -04:00: the repeated hour is
        // 23:00–24:00 on the 4th, so the 5th starts once, at 04:00Z.
        let santiago: Tz = chrono_tz::America::Santiago;
        let day = NaiveDate::from_ymd_opt(2026, 4, 5).unwrap_or_default();
        let start = local_midnight(santiago, day);
        assert_eq!(format_local(start, santiago).get(..10), Some("2026-04-05"));
    }

    #[test]
    fn a_midnight_the_clock_steps_back_across_starts_at_its_first_occurrence() {
        // St_Johns, 2009-11-01: 00:00 NDT (02:30Z), 00:01 NDT back to 23:01 NST, 00:00 NST
        // (03:30Z). The day starts at 02:30Z; 02:40Z reads 23:10 on the 31st yet is in it.
        let tz: Tz = chrono_tz::America::St_Johns;
        let day = NaiveDate::from_ymd_opt(2009, 11, 1).unwrap_or_default();
        assert_eq!(local_midnight(tz, day), ns("2009-11-01T02:30:00Z"));
        let found = local_day(ns("2009-11-01T02:40:00Z"), tz);
        assert_eq!(found.date, day);
        assert_eq!(found.start, ns("2009-11-01T02:30:00Z"));
        assert_eq!(found.end, ns("2009-11-02T03:30:00Z"));
        assert_eq!(
            local_day(ns("2009-11-01T02:29:59Z"), tz).date,
            day.pred_opt().unwrap_or_default()
        );
    }

    #[test]
    fn a_skipped_date_holds_no_instant() {
        // Apia, 2011-12-30 never happened: 10:00Z is 31 December 00:00 +14.
        let tz: Tz = chrono_tz::Pacific::Apia;
        let d = |day| NaiveDate::from_ymd_opt(2011, 12, day).unwrap_or_default();
        assert_eq!(local_day(ns("2011-12-30T09:59:59Z"), tz).date, d(29));
        assert_eq!(local_day(ns("2011-12-30T10:00:00Z"), tz).date, d(31));
        assert_eq!(local_midnight(tz, d(30)), local_midnight(tz, d(31)));
    }

    #[test]
    fn instants_are_checked() {
        assert!(parse_instant("2026-01-26T11:00:00-08:00").is_ok());
        assert!(parse_instant("2026-01-26 11:00:00Z").is_err());
        assert!(parse_instant("2026-01-26T11:00:00").is_err());
        assert!(parse_instant("2016-12-31T23:59:60Z").is_err());
        assert!(parse_instant("1969-12-31T23:59:59Z").is_err());
        assert_eq!(
            parse_instant("2100-01-01T00:00:00Z"),
            Ok(4_102_444_800_000_000_000)
        );
        assert!(parse_instant("2100-01-01T00:00:00.000000001Z").is_err());
        assert!(parse_instant("2099-12-31T23:00:00-01:00").is_ok());
        assert!(parse_instant("2099-12-31T23:00:01-01:00").is_err());
        assert!(parse_instant("2150-07-01T00:00:00Z").is_err());
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Ok(0));
    }

    #[test]
    fn more_than_nine_fraction_digits_are_refused_unless_zeros() {
        assert_eq!(
            parse_instant("2026-01-01T00:00:00.123456789Z"),
            Ok(ns("2026-01-01T00:00:00Z") + 123_456_789)
        );
        assert_eq!(
            parse_instant("2026-01-01T00:00:00.1234567890000Z"),
            Ok(ns("2026-01-01T00:00:00Z") + 123_456_789)
        );
        assert!(parse_instant("2026-01-01T00:00:00.1234567891Z").is_err());
        assert!(parse_instant("2026-01-01T00:00:00.0000000001+01:00").is_err());
    }
}
