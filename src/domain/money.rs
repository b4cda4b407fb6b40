//! Money: ISO 4217 currencies with their minor units, bounded amounts, named rounding (§2, §5).

use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// Largest amount of money any input may carry (docs/rules.md §5).
pub fn money_bound() -> Decimal {
    Decimal::from(1_000_000_000_000_000i64)
}

/// An active ISO 4217 currency with a defined minor unit (XAU, XDR, XTS and withdrawn codes are
/// rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    iso: iso_currency::Currency,
    minor_units: u32,
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, String> {
        use std::cell::Cell;
        // Ledger reads parse the same code entry after entry; the ISO table is searched once.
        thread_local! {
            static LAST: Cell<Option<Currency>> = const { Cell::new(None) };
        }
        if let Some(last) = LAST.with(Cell::get) {
            if last.code() == code {
                return Ok(last);
            }
        }
        let parsed = Self::look_up(code)?;
        LAST.with(|l| l.set(Some(parsed)));
        Ok(parsed)
    }

    fn look_up(code: &str) -> Result<Self, String> {
        let iso = iso_currency::Currency::from_code(code)
            .ok_or_else(|| format!("unknown ISO 4217 currency code {code:?}"))?;
        if iso
            .flags()
            .iter()
            .any(|f| matches!(f, iso_currency::Flag::Superseded(_)))
        {
            return Err(format!("{code} is no longer an active ISO 4217 currency"));
        }
        let minor_units = iso
            .exponent()
            .ok_or_else(|| format!("{code} has no minor unit and cannot carry credits"))?;
        Ok(Currency {
            iso,
            minor_units: u32::from(minor_units),
        })
    }

    pub fn code(&self) -> &'static str {
        self.iso.code()
    }

    /// Decimal digits of the minor unit: USD 2, JPY 0, KWD 3.
    pub fn minor_units(&self) -> u32 {
        self.minor_units
    }

    /// Writes an amount with exactly the currency's minor digits.
    pub fn format(&self, amount: Decimal) -> String {
        let mut a = amount;
        a.rescale(self.minor_units);
        let mut s = String::with_capacity(24);
        let _ = write_decimal(&mut s, a);
        s
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How a credit is rounded to the minor unit, once, last (docs/rules.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RoundingMode {
    /// Half away from zero.
    #[default]
    HalfUp,
    /// Half to the even neighbour.
    HalfEven,
    /// Away from zero: toward the customer.
    Up,
    /// Toward zero.
    Down,
}

impl RoundingMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            RoundingMode::HalfUp => "half_up",
            RoundingMode::HalfEven => "half_even",
            RoundingMode::Up => "up",
            RoundingMode::Down => "down",
        }
    }
}

impl FromStr for RoundingMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "half_up" => Ok(RoundingMode::HalfUp),
            "half_even" => Ok(RoundingMode::HalfEven),
            "up" => Ok(RoundingMode::Up),
            "down" => Ok(RoundingMode::Down),
            _ => Err("must be one of half_up, half_even, up, down".into()),
        }
    }
}

/// Reads a decimal exactly from its text (`"49.00"`, `123457`, `1e3` is refused).
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("must be a decimal number".into());
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
    {
        return Err(format!("{text:?} is not a plain decimal number"));
    }
    let unsigned = t.trim_start_matches(['-', '+']);
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    // Significant digits: from the first non-zero one, trailing fractional zeros left out.
    let frac_part = frac_part.trim_end_matches('0');
    let int_part = int_part.trim_start_matches('0');
    let significant = if int_part.is_empty() {
        frac_part.trim_start_matches('0').len()
    } else {
        int_part.len() + frac_part.len()
    };
    if significant > 28 {
        return Err(format!(
            "{text:?} has more than 28 significant digits (docs/rules.md §5)"
        ));
    }
    Decimal::from_str_exact(t)
        .map_err(|_| format!("{text:?} is not a decimal number within 28 digits"))
}

/// A non-negative amount of money within the bound of §5.
pub fn parse_money(text: &str) -> Result<Decimal, String> {
    let d = parse_decimal(text)?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err("must not be negative".into());
    }
    if d > money_bound() {
        return Err("must be at most 1000000000000000 (10^15)".into());
    }
    Ok(d)
}

/// Writes what `Decimal`'s `Display` writes without a width or precision (every digit of its
/// scale, a `-` for any negative sign), without its general formatting machinery: the digits
/// of the mantissa, in 64-bit steps while they fit, with the point `scale` digits from the end.
pub fn write_decimal(out: &mut impl fmt::Write, d: Decimal) -> fmt::Result {
    /// The last digit of `m`, taken off it.
    fn pop_digit(m: &mut u128) -> u8 {
        match u64::try_from(*m) {
            Ok(narrow) => {
                *m = u128::from(narrow / 10);
                b'0' + (narrow % 10) as u8
            }
            Err(_) => {
                let digit = b'0' + (*m % 10) as u8;
                *m /= 10;
                digit
            }
        }
    }
    // 28 digits at most, a point, a leading zero.
    let mut buf = [0u8; 40];
    let mut at = buf.len();
    let mut m = d.mantissa().unsigned_abs();
    for _ in 0..d.scale() {
        at -= 1;
        buf[at] = pop_digit(&mut m);
    }
    if d.scale() > 0 {
        at -= 1;
        buf[at] = b'.';
    }
    loop {
        at -= 1;
        buf[at] = pop_digit(&mut m);
        if m == 0 {
            break;
        }
    }
    if d.is_sign_negative() {
        out.write_char('-')?;
    }
    out.write_str(std::str::from_utf8(&buf[at..]).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_as_their_display_writes_them() {
        let mut values = vec![
            Decimal::ZERO,
            Decimal::new(0, 2),
            -Decimal::new(0, 2),
            Decimal::new(29, 0),
            Decimal::new(2900, 2),
            Decimal::new(-187, 2),
            Decimal::new(5, 3),
            Decimal::new(-5, 28),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::from_i128_with_scale(u64::MAX as i128 + 1, 4),
        ];
        // A spread of mantissas on both sides of 64 bits, at every scale.
        let mut m: i128 = 7;
        for scale in 0..=28 {
            m = (m * 1_000_003 + 12_345) % 79_228_162_514_264_337_593_543_950_335;
            values.push(Decimal::from_i128_with_scale(m, scale));
            values.push(Decimal::from_i128_with_scale(-m / 3, scale));
        }
        for d in values {
            let mut s = String::new();
            assert!(write_decimal(&mut s, d).is_ok());
            assert_eq!(s, d.to_string(), "{d:?}");
        }
    }

    #[test]
    fn decimals_carry_at_most_28_significant_digits() {
        assert!(parse_decimal("1.000000000000000000000000001").is_ok());
        assert!(parse_decimal("1.0000000000000000000000000001").is_err());
        assert!(parse_decimal("10000000000000000000000000000").is_err());
        assert!(parse_decimal("0.5000000000000000000000000000").is_ok());
        assert!(parse_decimal("0.0000000000000000000000000001").is_ok());
    }
}
