//! Conversions between stored forms and domain values: canonical UTC timestamps as TEXT,
//! amounts as integer minor units.

use rust_decimal::Decimal;

use crate::domain::time::{format_utc_as, parse_instant, Fraction, Nanos};

use crate::wire::Error;

/// An instant as stored: UTC with nine fraction digits, so that text order is time order
/// (`2026-01-16T05:06:00.000000000Z`).
pub fn ts(n: Nanos) -> String {
    format_utc_as(n, Fraction::Nanos)
}

/// Reads a stored instant.
pub fn read_ts(text: &str, what: &str) -> Result<Nanos, Error> {
    parse_instant(text).map_err(|m| Error::internal(format!("{what}: {m}")))
}

/// An amount in integer minor units (`12.34` USD → 1234); `None` if it has more decimals than
/// the currency or does not fit.
pub fn to_minor(amount: Decimal, minor_units: u32) -> Option<i64> {
    let mut a = amount.normalize();
    if a.scale() > minor_units {
        return None;
    }
    a.rescale(minor_units);
    if a.scale() != minor_units {
        return None;
    }
    i64::try_from(a.mantissa()).ok()
}

/// An amount from integer minor units, exact.
pub fn from_minor(amount_minor: i64, minor_units: u32) -> Decimal {
    Decimal::new(amount_minor, minor_units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_round_trip() {
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!(to_minor(d("12.34"), 2), Some(1234));
        assert_eq!(to_minor(d("-0.5"), 2), Some(-50));
        assert_eq!(to_minor(d("7"), 0), Some(7));
        assert_eq!(to_minor(d("1.234"), 2), None);
        assert_eq!(from_minor(1234, 2), d("12.34"));
    }

    #[test]
    fn timestamps_sort_as_text() {
        assert_eq!(ts(0), "1970-01-01T00:00:00.000000000Z");
        assert!(ts(1_000_000_000) < ts(10_000_000_000));
    }
}
