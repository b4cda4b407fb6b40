//! JSON text written directly, for the answers rendered field by field (the quote, the
//! support view's entries): the same bytes `serde_json` writes for the same values, without its
//! per-field machinery. Strings are copied whole between quotes when nothing in them needs
//! escaping (ids, decimals, instants, names, `×`), else escaped by `serde_json` itself.

/// A JSON string.
pub fn string(out: &mut Vec<u8>, s: &str) {
    // Every byte looked at, no early exit: the loop compiles to vector compares.
    let needs_escape = s.bytes().fold(false, |seen, b| {
        seen | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if needs_escape {
        // Writing into a Vec cannot fail, and a str always serializes.
        let _ = serde_json::to_writer(&mut *out, s);
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// A JSON string, or `null`.
pub fn optional_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A whole number.
pub fn integer(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    out.extend_from_slice(crate::domain::ids::unsigned_digits(
        n.unsigned_abs(),
        &mut digits,
    ));
}

/// A whole number, or `null`.
pub fn optional_integer(out: &mut Vec<u8>, n: Option<i64>) {
    match n {
        Some(n) => integer(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_serde_json_writes_them() {
        let mut texts = vec![
            String::new(),
            "2 days × 29.00 USD ÷ 31 days = 1.87 USD".to_string(),
            "=cmd \"quoted\" back\\slash\u{7f}\u{1f}\u{0}\t\n".to_string(),
            "ünïcödé 日本語 🎉".to_string(),
        ];
        for b in 0u8..0x80 {
            texts.push(format!(
                "abcdefghijklmnopqrstuvwxyz{}0123456789",
                char::from(b)
            ));
        }
        for t in &texts {
            let mut ours = Vec::new();
            string(&mut ours, t);
            assert_eq!(ours, serde_json::to_vec(t).expect("json"), "{t:?}");
        }
        for n in [0, 1, -1, 9, 10, 99, 100, i64::MAX, i64::MIN, 1234567890] {
            let mut ours = Vec::new();
            integer(&mut ours, n);
            assert_eq!(ours, serde_json::to_vec(&n).expect("json"), "{n}");
        }
        let mut nulls = Vec::new();
        optional_string(&mut nulls, None);
        optional_integer(&mut nulls, None);
        assert_eq!(nulls, b"nullnull");
    }
}
