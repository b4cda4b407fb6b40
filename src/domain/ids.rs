//! Identifiers. Client-chosen ids (customers, plans, incidents) follow one syntax; ids the
//! server makes are opaque strings with a prefix per kind (`cre_…` for ledger entries), so
//! that a log line or a support ticket says what it names.

use super::error::{field_error, FieldError};

/// Client-chosen ids: `[A-Za-z0-9._:-]{1,128}`.
pub fn check_id(id: &str, field: &str) -> Result<(), FieldError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(field_error(
            field,
            format!("{id:?} is not an id: 1 to 128 of A-Z a-z 0-9 . _ : -"),
        ))
    }
}

/// The prefix of a ledger entry's public id.
pub const ENTRY_PREFIX: &str = "cre_";

/// A ledger entry's public id (`cre_42`).
pub fn entry_id(n: i64) -> String {
    prefixed_id(ENTRY_PREFIX, n)
}

/// A server id: its prefix, then the number in decimal (`stl_7`); the digits written
/// directly, since every entry of every answer has one or more.
pub fn prefixed_id(prefix: &str, n: i64) -> String {
    let mut digits = [0u8; 20];
    let mut id = String::with_capacity(prefix.len() + 21);
    id.push_str(prefix);
    if n < 0 {
        id.push('-');
    }
    id.extend(
        unsigned_digits(n.unsigned_abs(), &mut digits)
            .iter()
            .map(|&d| char::from(d)),
    );
    id
}

/// Bytes as lowercase hexadecimal (digests, tokens, cursors, ETags).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

/// The decimal digits of `n` (what `n.to_string()` gives), written at the end of `buf`.
pub fn unsigned_digits(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut rest = n;
    loop {
        at -= 1;
        // A digit: 0..=9 always fits.
        buf[at] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    &buf[at..]
}

/// Reads a ledger entry's public id; a bare number is accepted too (the CLI's old form).
pub fn parse_entry_id(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix(ENTRY_PREFIX).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_as_format_writes_it() {
        let all: Vec<u8> = (0..=255).collect();
        let formatted: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), formatted);
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn prefixed_ids_as_format_writes_them() {
        for n in [0, 7, 10, 42, 999_999, i64::MAX, -1, i64::MIN] {
            assert_eq!(prefixed_id("cre_", n), format!("cre_{n}"));
        }
    }

    #[test]
    fn entry_ids_round_trip() {
        assert_eq!(entry_id(42), "cre_42");
        assert_eq!(parse_entry_id("cre_42"), Some(42));
        assert_eq!(parse_entry_id("42"), Some(42));
        assert_eq!(parse_entry_id("cre_"), None);
        assert_eq!(parse_entry_id("cre_-1"), None);
        assert_eq!(parse_entry_id("cre_0"), None);
    }

    #[test]
    fn ids_follow_the_syntax() {
        assert!(check_id("acme-1.eu:prod_2", "id").is_ok());
        assert!(check_id("", "id").is_err());
        assert!(check_id("a b", "id").is_err());
        assert!(check_id(&"x".repeat(129), "id").is_err());
    }
}
