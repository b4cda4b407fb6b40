//! The quote's answer as text: pretty JSON (two spaces a level) and a final newline, the same
//! bytes for `POST /v1/quote` and `sla-credit quote`.
//!
//! Written out here rather than through `serde_json::to_writer_pretty`: the shape is fixed
//! (three keys, then twenty-seven a period), so each key is written with its line break and
//! indentation in one copy, and a value is copied whole when it needs no escaping. That is
//! about a fifth of serde_json's instructions for the same bytes; the tests hold both to the
//! same output, and the `Breakdown` literal in them stops compiling when a field is added.

use crate::domain::breakdown::Breakdown;
use crate::domain::quote::QuoteResponse;

use super::json_text::{integer, optional_string, string};

/// `"key": ` at the indentation of a period's fields, after the first field's `{` or a `,`.
macro_rules! field {
    (first $name:literal) => {
        concat!("\n      \"", $name, "\": ").as_bytes()
    };
    ($name:literal) => {
        concat!(",\n      \"", $name, "\": ").as_bytes()
    };
}

/// The quote as pretty JSON and a final newline.
pub fn render_quote(r: &QuoteResponse<'_>) -> Vec<u8> {
    // A one-period quote renders to about a kilobyte: one allocation, not a doubling series.
    let mut out = Vec::with_capacity(1280 * r.periods.len().max(1));
    out.extend_from_slice(b"{\n  \"currency\": ");
    string(&mut out, r.currency);
    out.extend_from_slice(b",\n  \"total\": ");
    string(&mut out, &r.total);
    out.extend_from_slice(b",\n  \"periods\": [");
    for (i, period) in r.periods.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n    {" } else { b",\n    {" });
        breakdown(&mut out, period);
        out.extend_from_slice(b"\n    }");
    }
    if !r.periods.is_empty() {
        out.extend_from_slice(b"\n  ");
    }
    out.extend_from_slice(b"]\n}\n");
    out
}

fn breakdown(out: &mut Vec<u8>, b: &Breakdown) {
    out.extend_from_slice(field!(first "period"));
    string(out, &b.period);
    for (key, value) in [
        (field!("start"), &b.start),
        (field!("end"), &b.end),
        (field!("start_utc"), &b.start_utc),
        (field!("end_utc"), &b.end_utc),
        (field!("timezone"), &b.timezone),
        (field!("period_seconds"), &b.period_seconds),
        (field!("denominator_seconds"), &b.denominator_seconds),
        (field!("outage_seconds"), &b.outage_seconds),
        (field!("excluded_seconds"), &b.excluded_seconds),
        (field!("downtime_seconds"), &b.downtime_seconds),
        (field!("uptime_percent"), &b.uptime_percent),
        (field!("rule"), &b.rule),
    ] {
        out.extend_from_slice(key);
        string(out, value);
    }
    out.extend_from_slice(field!("tier"));
    optional_string(out, b.tier.as_deref());
    out.extend_from_slice(field!("credit_percent"));
    optional_string(out, b.credit_percent.as_deref());
    for (key, value) in [
        (field!("affected_days"), b.affected_days),
        (field!("days_in_period"), b.days_in_period),
        (field!("days_credited"), b.days_credited),
    ] {
        out.extend_from_slice(key);
        match value {
            Some(n) => integer(out, i64::from(n)),
            None => out.extend_from_slice(b"null"),
        }
    }
    for (key, value) in [
        (field!("fee"), &b.fee),
        (field!("fee_during_downtime"), &b.fee_during_downtime),
        (field!("uncapped_credit"), &b.uncapped_credit),
        (field!("capped_credit"), &b.capped_credit),
        (field!("credit"), &b.credit),
        (field!("currency"), &b.currency),
        (field!("rounding"), &b.rounding),
    ] {
        out.extend_from_slice(key);
        string(out, value);
    }
    out.extend_from_slice(field!("warnings"));
    if b.warnings.is_empty() {
        out.extend_from_slice(b"[]");
    } else {
        for (i, w) in b.warnings.iter().enumerate() {
            out.extend_from_slice(if i == 0 {
                b"[\n        "
            } else {
                b",\n        "
            });
            string(out, w);
        }
        out.extend_from_slice(b"\n      ]");
    }
    out.extend_from_slice(field!("explanation"));
    string(out, &b.explanation);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_pretty(r: &QuoteResponse<'_>) -> String {
        let mut text = serde_json::to_string_pretty(r).expect("renders");
        text.push('\n');
        text
    }

    fn period(label: &str, tier: Option<&str>, warnings: &[&str], days: Option<u32>) -> Breakdown {
        let s = |t: &str| t.to_string();
        Breakdown {
            period: s(label),
            start: s("2026-03-01T00:00:00-08:00"),
            end: s("2026-04-01T00:00:00-07:00"),
            start_utc: s("2026-03-01T08:00:00Z"),
            end_utc: s("2026-04-01T07:00:00Z"),
            timezone: s("America/Los_Angeles"),
            period_seconds: s("2674800"),
            denominator_seconds: s("2674800"),
            outage_seconds: s("5400"),
            excluded_seconds: s("0"),
            downtime_seconds: s("5400"),
            uptime_percent: s("99.79811574697173620457604307"),
            rule: s("uptime_tiers"),
            tier: tier.map(s),
            credit_percent: tier.map(|_| s("10")),
            affected_days: days,
            days_in_period: days.map(|d| d + 29),
            days_credited: None,
            fee: s("7430.00"),
            fee_during_downtime: s("15"),
            uncapped_credit: s("743"),
            capped_credit: s("743"),
            credit: s("743.00"),
            currency: s("USD"),
            rounding: s("half_up"),
            warnings: warnings.iter().map(|w| s(w)).collect(),
            explanation: s(
                "Uptime 99.7981% is in tier [99.0, 99.9): 10% × 7430.00 USD = 743.00 USD",
            ),
        }
    }

    #[test]
    fn the_same_bytes_as_serde_json() {
        let plain = period("2026-03", Some("[99.0, 99.9)"), &[], Some(1));
        let warned = period("2026-04", None, &["tier_gap", "cap_applied"], None);
        let mut odd = period(
            "2026-Q2",
            Some("[0, 95.0)"),
            &["a \"quoted\" \\ word\n"],
            Some(0),
        );
        odd.explanation = "tab\there, bell \u{7}, ünïcödé ÷ × 🎉".to_string();
        odd.timezone = "\u{1f}".to_string();
        let cases: [Vec<&Breakdown>; 4] = [
            vec![],
            vec![&plain],
            vec![&warned, &odd],
            vec![&plain, &warned, &odd],
        ];
        for periods in cases {
            let r = QuoteResponse {
                currency: "USD",
                total: "1.87".to_string(),
                periods,
            };
            let ours = String::from_utf8(render_quote(&r)).expect("utf-8");
            assert_eq!(ours, serde_pretty(&r));
        }
    }
}
