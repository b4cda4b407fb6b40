//! Exact rational arithmetic (docs/rules.md §5): every figure is kept as numerator/denominator
//! and rounded once, last. Decimal alone would lose digits when a division comes early.

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{Signed, ToPrimitive, Zero};
use rust_decimal::Decimal;

use super::money::RoundingMode;
use super::rational::div_rem;
pub use super::rational::Q;

/// Digits shown for non-money figures (at most 28 significant digits, docs/rules.md §5).
pub const DISPLAY_SIGNIFICANT_DIGITS: u32 = 28;

pub fn pow10(exp: u32) -> BigInt {
    num_traits::pow(BigInt::from(10), exp as usize)
}

/// The exact value of a decimal.
pub fn q_dec(d: Decimal) -> Q {
    // A Decimal's scale is at most 28, and 10^28 fits an i128.
    Q::ratio(d.mantissa(), 10i128.pow(d.scale()))
}

/// The exact value of an integer.
pub fn q_int(i: impl Into<i128>) -> Q {
    Q::int(i.into())
}

pub fn q_min(a: Q, b: Q) -> Q {
    if b < a {
        b
    } else {
        a
    }
}

/// Rounds an exact value to `dp` decimal places by the named strategy. `up` and `down` are away
/// from and toward zero; the half modes settle exact ties. Returns `None` only if the result does
/// not fit a Decimal (impossible within the input bounds of §5).
pub fn round_q(q: &Q, dp: u32, mode: RoundingMode) -> Option<Decimal> {
    if let Some(d) = round_small(q, dp, mode) {
        return Some(d);
    }
    let negative = q.is_negative();
    let n = q.numer().abs() * pow10(dp);
    let d = &q.denom();
    let (quot, rem) = n.div_rem(d);
    let bump = if rem.is_zero() {
        false
    } else {
        let twice: BigInt = &rem * 2u32;
        match mode {
            RoundingMode::Up => true,
            RoundingMode::Down => false,
            RoundingMode::HalfUp => twice >= *d,
            RoundingMode::HalfEven => match twice.cmp(d) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => quot.is_odd(),
            },
        }
    };
    let magnitude = if bump { quot + 1u32 } else { quot };
    let signed = if negative { -magnitude } else { magnitude };
    Decimal::try_from_i128_with_scale(signed.to_i128()?, dp).ok()
}

/// `round_q` in machine integers, when nothing overflows.
fn round_small(q: &Q, dp: u32, mode: RoundingMode) -> Option<Decimal> {
    let (n, d) = q.as_small()?;
    round_ratio(n, d, dp, mode)
}

/// n ÷ d (d > 0) rounded to `dp` decimals by the named strategy, in machine integers; `None`
/// when an intermediate would overflow (the caller then takes the arbitrary-precision path).
pub fn round_ratio(n: i128, d: i128, dp: u32, mode: RoundingMode) -> Option<Decimal> {
    if d <= 0 {
        return None;
    }
    let a = n.checked_abs()?.checked_mul(10i128.checked_pow(dp)?)?;
    let (quot, rem) = div_rem(a, d);
    let bump = rem != 0
        && match mode {
            RoundingMode::Up => true,
            RoundingMode::Down => false,
            RoundingMode::HalfUp => rem.checked_mul(2)? >= d,
            RoundingMode::HalfEven => {
                let twice = rem.checked_mul(2)?;
                twice > d || (twice == d && quot % 2 == 1)
            }
        };
    let magnitude = quot + i128::from(bump);
    Decimal::try_from_i128_with_scale(if n < 0 { -magnitude } else { magnitude }, dp).ok()
}

/// Half-even rounding of a non-negative n/d to an integer.
fn round_half_even_int(n: &BigInt, d: &BigInt) -> BigInt {
    let (quot, rem) = n.div_rem(d);
    let twice: BigInt = &rem * 2u32;
    match twice.cmp(d) {
        std::cmp::Ordering::Greater => quot + 1u32,
        std::cmp::Ordering::Less => quot,
        std::cmp::Ordering::Equal if quot.is_odd() => quot + 1u32,
        std::cmp::Ordering::Equal => quot,
    }
}

/// Display form of an exact figure: at most 28 significant digits, rounded half-even, trailing
/// zeros trimmed, then padded to at least `min_dp` decimals (money shows its minor digits).
pub fn display_q(q: &Q, min_dp: u32) -> String {
    if let Some(s) = display_small(q, min_dp) {
        return s;
    }
    let negative = q.is_negative();
    let a = q.numer().abs();
    let d = q.denom();
    let sig = DISPLAY_SIGNIFICANT_DIGITS as i64;
    let scale: u32 = if a.is_zero() {
        0
    } else {
        // t = floor(|q| × 10^28) tells the magnitude: its digit count minus 28 is the number of
        // integer digits of |q|.
        let t = (&a * pow10(sig as u32)) / &d;
        let digits = if t.is_zero() {
            0
        } else {
            t.to_string().len() as i64
        };
        (2 * sig - digits).clamp(0, sig) as u32
    };
    let m = round_half_even_int(&(a * pow10(scale)), &d);
    lay_out(negative && !m.is_zero(), m.to_string(), scale, min_dp)
}

/// `display_q` in machine integers, when nothing overflows (the same digits: the magnitude
/// and the half-even rounding are computed the same way).
fn display_small(q: &Q, min_dp: u32) -> Option<String> {
    let (n, d) = q.as_small()?;
    if d <= 0 {
        return None;
    }
    let a = n.checked_abs()?;
    let sig = DISPLAY_SIGNIFICANT_DIGITS;
    let scale: u32 = if a == 0 {
        0
    } else {
        // The digits of floor(|q| × 10^28): those of the integer part and 28 more when |q| ≥ 1.
        let digits = if a >= d {
            div_rem(a, d).0.ilog10() + 1 + sig
        } else {
            let t = div_rem(a.checked_mul(10i128.checked_pow(sig)?)?, d).0;
            if t == 0 {
                0
            } else {
                t.ilog10() + 1
            }
        };
        (2 * sig).saturating_sub(digits).min(sig)
    };
    if let Some((decimals, m)) = terminating(a, d) {
        if decimals <= scale {
            // Exact in that many decimals: the digits rounding at `scale` would give, without
            // the wide division.
            return Some(lay_out(n < 0 && m != 0, m.to_string(), decimals, min_dp));
        }
    }
    let scaled = a.checked_mul(10i128.checked_pow(scale)?)?;
    let (quot, rem) = div_rem(scaled, d);
    let twice = rem.checked_mul(2)?;
    let m = match twice.cmp(&d) {
        std::cmp::Ordering::Greater => quot + 1,
        std::cmp::Ordering::Equal if quot % 2 == 1 => quot + 1,
        _ => quot,
    };
    Some(lay_out(n < 0 && m != 0, m.to_string(), scale, min_dp))
}

/// `a / d` (`a` ≥ 0, `d` > 0, reduced) as `m × 10^-k` when it is a terminating decimal (`d` has
/// no prime factor but 2 and 5), with the fewest decimals `k`.
fn terminating(a: i128, d: i128) -> Option<(u32, i128)> {
    let twos = d.trailing_zeros();
    let mut rest = d >> twos;
    let mut fives = 0;
    loop {
        let (quot, rem) = div_rem(rest, 5);
        if rem != 0 {
            break;
        }
        rest = quot;
        fives += 1;
    }
    if rest != 1 {
        return None;
    }
    let k = twos.max(fives);
    let widen = 2i128
        .checked_pow(k - twos)?
        .checked_mul(5i128.checked_pow(k - fives)?)?;
    Some((k, a.checked_mul(widen)?))
}

/// The digits of `m × 10^-scale`, trailing zeros trimmed, padded to `min_dp` decimals.
fn lay_out(negative: bool, digits: String, scale: u32, min_dp: u32) -> String {
    let (scale, min_dp) = (scale as usize, min_dp as usize);
    let mut s = String::with_capacity(digits.len().max(scale + 1) + min_dp + 2);
    if negative {
        s.push('-');
    }
    // The integer digits (at least a 0), and the decimals: `lead` zeros, then `frac_digits`.
    let (int_part, frac_digits, lead) = if digits.len() > scale {
        let (i, f) = digits.split_at(digits.len() - scale);
        (i, f, 0)
    } else {
        ("0", digits.as_str(), scale - digits.len())
    };
    s.push_str(int_part);
    let frac = frac_digits.trim_end_matches('0');
    // Without a non-zero decimal the leading zeros are trailing ones, trimmed too.
    let written = if frac.is_empty() {
        0
    } else {
        lead + frac.len()
    };
    if written.max(min_dp) > 0 {
        s.push('.');
        if written > 0 {
            s.extend(std::iter::repeat_n('0', lead));
            s.push_str(frac);
        }
        s.extend(std::iter::repeat_n('0', min_dp.saturating_sub(written)));
    }
    s
}

/// Exact value of an integer count of nanoseconds shown as seconds.
pub fn display_seconds(nanos: i128) -> String {
    use std::fmt::Write;
    let abs = nanos.unsigned_abs();
    let (whole, frac) = (abs / 1_000_000_000, (abs % 1_000_000_000) as u32);
    let mut s = String::with_capacity(24);
    if nanos < 0 {
        s.push('-');
    }
    // Written into one string; a period's seconds fit 64 bits, whose digits print faster.
    let _ = match u64::try_from(whole) {
        Ok(w) => write!(s, "{w}"),
        Err(_) => write!(s, "{whole}"),
    };
    if frac != 0 {
        let _ = write!(s, ".{frac:09}");
        s.truncate(s.trim_end_matches('0').len());
    }
    s
}

/// Truncates toward zero at `dp` decimals, for a figure inside a sentence (never for money).
pub fn display_truncated(q: &Q, dp: u32) -> String {
    match round_q(q, dp, RoundingMode::Down) {
        Some(d) => d.normalize().to_string(),
        None => display_q(q, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64, d: i64) -> Q {
        Q::ratio(n.into(), d.into())
    }

    #[test]
    fn rounds_ties_by_mode() {
        let tie = q(12345, 1000); // 12.345
        assert_eq!(
            round_q(&tie, 2, RoundingMode::HalfUp).map(|d| d.to_string()),
            Some("12.35".into())
        );
        assert_eq!(
            round_q(&tie, 2, RoundingMode::HalfEven).map(|d| d.to_string()),
            Some("12.34".into())
        );
        assert_eq!(
            round_q(&tie, 2, RoundingMode::Up).map(|d| d.to_string()),
            Some("12.35".into())
        );
        assert_eq!(
            round_q(&tie, 2, RoundingMode::Down).map(|d| d.to_string()),
            Some("12.34".into())
        );
        assert_eq!(
            round_q(&q(0, 1), 2, RoundingMode::Up).map(|d| d.to_string()),
            Some("0.00".into())
        );
    }

    #[test]
    fn displays_28_significant_digits() {
        assert_eq!(display_q(&q(29, 1), 2), "29.00");
        assert_eq!(display_q(&q(2678400, 1), 0), "2678400");
        // 2 × 29 / 31
        assert_eq!(display_q(&q(58, 31), 2), "1.870967741935483870967741935");
        assert_eq!(display_q(&q(1, 8), 0), "0.125");
        assert_eq!(display_q(&q(-1, 3), 0), "-0.3333333333333333333333333333");
        assert_eq!(display_seconds(2_678_400_000_000_000), "2678400");
        assert_eq!(display_seconds(1_500_000_000), "1.5");
        assert_eq!(display_seconds(1), "0.000000001");
    }

    #[test]
    fn digits_are_laid_out_trimmed_then_padded() {
        let cases = [
            ((false, "29", 0, 2), "29.00"),
            ((false, "2900", 2, 2), "29.00"),
            ((false, "29", 0, 0), "29"),
            ((false, "5", 3, 0), "0.005"),
            ((true, "5", 3, 2), "-0.005"),
            ((true, "50", 3, 2), "-0.05"),
            ((false, "0", 0, 0), "0"),
            ((false, "0", 4, 2), "0.00"),
            ((false, "120", 1, 0), "12"),
            ((false, "1205", 2, 3), "12.050"),
            ((false, "100", 2, 0), "1"),
            ((false, "7", 1, 0), "0.7"),
            (
                (false, "18709677419354838709677419355", 28, 2),
                "1.8709677419354838709677419355",
            ),
        ];
        for ((negative, digits, scale, min_dp), want) in cases {
            assert_eq!(
                lay_out(negative, digits.to_string(), scale, min_dp),
                want,
                "{digits} at {scale}, {min_dp}"
            );
        }
    }

    /// The machine-integer path gives the digits of the arbitrary-precision one.
    #[test]
    fn small_display_equals_the_big_one() {
        // The arbitrary-precision steps of `display_q`, whatever the value's size.
        let both = |n: i128, d: i128| {
            let q = Q::ratio(n, d);
            let a = q.numer().abs();
            let den = q.denom();
            let sig = DISPLAY_SIGNIFICANT_DIGITS as i64;
            let scale: u32 = if a.is_zero() {
                0
            } else {
                let t = (&a * pow10(sig as u32)) / &den;
                let digits = if t.is_zero() {
                    0
                } else {
                    t.to_string().len() as i64
                };
                (2 * sig - digits).clamp(0, sig) as u32
            };
            let m = round_half_even_int(&(a * pow10(scale)), &den);
            let slow = lay_out(q.is_negative() && !m.is_zero(), m.to_string(), scale, 2);
            (display_small(&q, 2), slow)
        };
        let mut seed: u64 = 0x0dd_ba11;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 11
        };
        let mut cases = vec![
            (0, 1),
            (1, 3),
            (-2, 3),
            (5, 2),
            (7, 2),
            (1, 1),
            (999_999, 1000),
            (10, 1),
        ];
        for _ in 0..2_000 {
            let n = i128::from(next() % 10_000_000_000_000) - 5_000_000_000_000;
            let d = i128::from(1 + next() % 1_000_000_000);
            cases.push((n, d));
            // Terminating decimals too (denominators 2^i × 5^j), up to the display's limits.
            let (i, j) = ((next() % 40) as u32, (next() % 30) as u32);
            if let Some(d) = 2i128
                .checked_pow(i)
                .and_then(|t| t.checked_mul(5i128.pow(j)))
            {
                cases.push((n, d));
                cases.push((n % 1000, d));
            }
        }
        let (mut small, total) = (0, cases.len());
        for (n, d) in cases {
            let (fast, slow) = both(n, d);
            if let Some(fast) = fast {
                small += 1;
                assert_eq!(fast, slow, "{n}/{d}");
            }
        }
        assert!(small > 1_000, "the small path held {small} of {total}");
    }
}
