//! Property tests of the engine's invariants: random policies, zones and windows, and calendar
//! units placed by the instants of their local midnights (docs/rules.md §1).

use chrono::TimeZone;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use sla_credit::domain::{compute, quote::parse_quote, quote::QuoteResponse};

const ZONES: [&str; 10] = [
    "UTC",
    "America/Los_Angeles",
    "Europe/London",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "America/St_Johns",
];

/// Runs a request through the public quote path; `None` when the input is rejected.
fn quote(request: &Value) -> Option<Value> {
    let input = parse_quote(&request.to_string()).ok()?;
    let result = compute(&input).ok()?;
    serde_json::to_value(QuoteResponse::from(&result)).ok()
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(Decimal::MIN)
}

/// A month start in a zone, as an RFC 3339 instant string and UTC seconds.
fn month_start(zone: &str, year: i32, month: u32) -> i64 {
    let tz: chrono_tz::Tz = zone.parse().expect("zone");
    tz.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .earliest()
        .map(|t| t.timestamp())
        .unwrap_or_else(|| {
            chrono::NaiveDate::from_ymd_opt(year, month, 1)
                .expect("date")
                .and_hms_opt(0, 0, 0)
                .expect("t")
                .and_utc()
                .timestamp()
        })
}

fn instant(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("in range")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn windows_json(base: i64, windows: &[(i64, i64, u8)]) -> Vec<Value> {
    windows
        .iter()
        .map(|(off, len, impact)| {
            let mut w = json!({"start": instant(base + off), "end": instant(base + off + len)});
            if *impact < 4 {
                w["impact"] = json!(["0.25", "0.5", "0.75", "0.1"][*impact as usize]);
            }
            w
        })
        .collect()
}

fn rule_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        // Tiers without gaps whose percent rises as uptime falls.
        (prop::collection::vec(1u32..400, 1..4), prop::collection::vec(1u32..60, 1..4)).prop_map(|(bounds, pcts)| {
            let mut b: Vec<u32> = bounds.iter().map(|x| 10_000 - x * 20).collect(); // hundredths of a percent
            b.sort_unstable_by(|x, y| y.cmp(x));
            b.dedup();
            let mut tiers = Vec::new();
            let mut upper = 10_000u32;
            let mut pct = 0u32;
            let top = b[0];
            for (i, lower) in b.iter().chain(std::iter::once(&0)).enumerate() {
                if i == 0 {
                    upper = top;
                    continue;
                }
                pct += pcts[i % pcts.len()];
                tiers.push(json!({"uptime": format!("[{}, {})", Decimal::new(i64::from(*lower), 2), Decimal::new(i64::from(upper), 2)), "credit_percent": pct.to_string()}));
                upper = *lower;
            }
            if tiers.is_empty() {
                tiers.push(json!({"uptime": format!("[0, {})", Decimal::new(i64::from(top), 2)), "credit_percent": "10"}));
            }
            json!({"kind": "uptime_tiers", "tiers": tiers})
        }),
        (1u32..=30, any::<bool>()).prop_map(|(m, excess)| json!({"kind": "downtime_multiple", "multiplier": m.to_string(), "excess_only": excess})),
        (prop::option::of(1u32..=5), any::<bool>()).prop_map(|(days, thirty)| {
            let mut r = json!({"kind": "days_of_service", "day_basis": if thirty { "30" } else { "actual" }});
            if let Some(d) = days { r["days"] = json!(d); }
            r
        }),
    ]
}

fn policy_strategy(allow_units: bool) -> impl Strategy<Value = Value> {
    (
        rule_strategy(),
        prop::option::of(prop_oneof![Just("99.9"), Just("99.5"), Just("98")]),
        prop::option::of(1u32..=300),
        prop::option::of(1u32..=10),
        prop::option::of(if allow_units {
            prop_oneof![Just(60u32), Just(300u32)].boxed()
        } else {
            Just(0u32).boxed()
        }),
        any::<bool>(),
        0usize..4,
        any::<bool>(),
        prop::option::of(prop_oneof![Just("0.50"), Just("5.00")]),
    )
        .prop_map(
            |(rule, target, cap_pct, cap_days, unit, shrink, rounding, quarter, minimum)| {
                let modes = ["half_up", "half_even", "up", "down"];
                let mut p = json!({"rule": rule, "rounding": modes[rounding]});
                let excess = p["rule"]["excess_only"] == json!(true);
                if let Some(t) = target {
                    p["target_percent"] = json!(t);
                } else if excess {
                    p["target_percent"] = json!("99.9");
                }
                let mut cap = json!({});
                if let Some(c) = cap_pct {
                    cap["percent"] = json!(c.to_string());
                }
                if let Some(d) = cap_days {
                    cap["days"] = json!(d);
                }
                p["cap"] = cap;
                if let Some(u) = unit.filter(|u| *u > 0) {
                    p["downtime_unit_seconds"] = json!(u);
                }
                if shrink {
                    p["exclusion_mode"] = json!("shrink_period");
                }
                if quarter {
                    p["period"] = json!("quarter");
                }
                if let Some(m) = minimum {
                    p["minimum"] = json!(m);
                }
                p
            },
        )
}

/// Windows as (offset seconds from a month start, length seconds, impact index; 4+ = full).
fn windows_strategy(max: usize) -> impl Strategy<Value = Vec<(i64, i64, u8)>> {
    windows_between(0, max)
}

fn windows_between(min: usize, max: usize) -> impl Strategy<Value = Vec<(i64, i64, u8)>> {
    prop::collection::vec((0i64..(40 * 86_400), 1i64..(2 * 86_400), 0u8..12), min..max)
}

fn base_request(zone: &str, price: &str, policy: Value, outages: Vec<Value>) -> Value {
    json!({
        "currency": "USD",
        "timezone": zone,
        "plan": {"price": price, "billing_cycle": "monthly"},
        "policy": policy,
        "outages": outages,
    })
}

fn credits(response: &Value) -> Vec<(String, String)> {
    response["periods"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["period"].as_str().unwrap_or("").to_string(),
                        p["credit"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        // Failures are printed with their minimal input; nothing is written beside the tests.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// 0 ≤ credit ≤ cap, uptime in [0, 100], for any policy.
    #[test]
    fn credit_within_cap_and_uptime_within_bounds(
        zone in prop::sample::select(ZONES.to_vec()),
        year in 2024i32..2029, month in 1u32..=12,
        price_cents in 1i64..100_000_000,
        policy in policy_strategy(true),
        windows in windows_strategy(8),
    ) {
        let base = month_start(zone, year, month);
        let price = Decimal::new(price_cents, 2);
        let req = base_request(zone, &price.to_string(), policy.clone(), windows_json(base, &windows));
        let r = quote(&req).expect("valid request");
        let cap_pct: Decimal = policy["cap"]["percent"].as_str().and_then(|s| s.parse().ok()).unwrap_or(Decimal::ONE_HUNDRED);
        for p in r["periods"].as_array().into_iter().flatten() {
            let credit = dec(&p["credit"]);
            prop_assert!(credit >= Decimal::ZERO);
            // The period fee of a monthly plan is the price a month (three for a quarter).
            let months = if policy["period"] == json!("quarter") { 3 } else { 1 };
            let cap = (price * Decimal::from(months) * cap_pct / Decimal::ONE_HUNDRED).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::AwayFromZero);
            prop_assert!(credit <= cap, "credit {} above cap {} in {}", credit, cap, p);
            let uptime = dec(&p["uptime_percent"]);
            prop_assert!(uptime >= Decimal::ZERO && uptime <= Decimal::ONE_HUNDRED, "uptime {}", uptime);
        }
    }

    /// Splitting an outage into adjacent pieces, reordering or duplicating windows changes nothing.
    #[test]
    fn split_reorder_duplicate_change_nothing(
        zone in prop::sample::select(ZONES.to_vec()),
        year in 2024i32..2029, month in 1u32..=12,
        policy in policy_strategy(true),
        windows in windows_between(1, 6),
        cut in 1i64..1000,
    ) {
        let base = month_start(zone, year, month);
        let original = quote(&base_request(zone, "1234.56", policy.clone(), windows_json(base, &windows))).expect("valid");
        // Split the first window at a point inside it.
        let (off, len, imp) = windows[0];
        // A cut strictly inside the window: 1 ≤ at < len.
        let at = 1 + cut % (len - 1).max(1);
        let mut split = windows.clone();
        if len > 1 {
            split[0] = (off, at, imp);
            split.push((off + at, len - at, imp));
        }
        split.reverse();
        split.push(windows[windows.len() - 1]);
        let changed = quote(&base_request(zone, "1234.56", policy, windows_json(base, &split))).expect("valid");
        prop_assert_eq!(credits(&original), credits(&changed));
        prop_assert_eq!(&original["total"], &changed["total"]);
    }

    /// Credit never decreases when downtime grows (gap-free tiers rising as uptime falls,
    /// multiples, days; whole-unit rounding up is left out: merging runs can save a unit).
    #[test]
    fn more_downtime_never_lowers_the_credit(
        zone in prop::sample::select(ZONES.to_vec()),
        year in 2024i32..2029, month in 1u32..=12,
        policy in policy_strategy(false),
        windows in windows_strategy(6),
        extra in windows_strategy(3),
    ) {
        let base = month_start(zone, year, month);
        let fewer = quote(&base_request(zone, "999.99", policy.clone(), windows_json(base, &windows))).expect("valid");
        let mut more_windows = windows.clone();
        // Extra downtime at full impact, so it never lowers an existing window's impact.
        more_windows.extend(extra.iter().map(|(o, l, _)| (*o, *l, 9u8)));
        let more = quote(&base_request(zone, "999.99", policy.clone(), windows_json(base, &more_windows))).expect("valid");
        if policy["rule"]["days"].is_number() {
            // A fixed-days grant does not grow with downtime: it follows the incident's start,
            // which an earlier window moves to another period.
            return Ok(());
        }
        for (label, credit) in credits(&fewer) {
            let after = credits(&more).into_iter().find(|(l, _)| *l == label).map(|(_, c)| c);
            let before: Decimal = credit.parse().expect("decimal");
            let after: Decimal = after.and_then(|c| c.parse().ok()).expect("period still reported");
            prop_assert!(after >= before, "{}: {} -> {}", label, before, after);
        }
    }

    /// The same fees as a plan, a one-segment plan history or explicit per-month fees give the
    /// same credits.
    #[test]
    fn fee_sources_agree(
        zone in prop::sample::select(ZONES.to_vec()),
        year in 2024i32..2028, month in 1u32..=12,
        price_cents in 1i64..10_000_000,
        policy in policy_strategy(true),
        windows in windows_strategy(5),
    ) {
        let base = month_start(zone, year, month);
        let price = Decimal::new(price_cents, 2).to_string();
        let plan = base_request(zone, &price, policy.clone(), windows_json(base, &windows));
        let mut history = plan.clone();
        history.as_object_mut().expect("object").remove("plan");
        history["plan_history"] = json!([{"since": "2000-01-01T00:00:00Z", "price": price, "billing_cycle": "monthly"}]);
        let mut fees = plan.clone();
        fees.as_object_mut().expect("object").remove("plan");
        // Every month from a quarter before to a quarter after the outages.
        let mut items = Vec::new();
        let (mut y, mut m) = if month <= 3 { (year - 1, month + 9) } else { (year, month - 3) };
        for _ in 0..10 {
            items.push(json!({"period": format!("{y:04}-{m:02}"), "amount": price}));
            m += 1;
            if m > 12 { m = 1; y += 1; }
        }
        fees["fees"] = json!(items);
        let a = quote(&plan).expect("plan");
        let b = quote(&history).expect("history");
        let c = quote(&fees).expect("fees");
        prop_assert_eq!(credits(&a), credits(&b));
        prop_assert_eq!(credits(&a), credits(&c));
    }

    /// downtime_multiple equals an independent exact-rational recomputation:
    /// price × downtime ÷ month length × multiplier, rounded half up once.
    #[test]
    fn multiple_equals_exact_rational_recomputation(
        zone in prop::sample::select(ZONES.to_vec()),
        year in 2024i32..2029, month in 1u32..=11,
        price_cents in 1i64..100_000_000_000_000_000,
        multiplier in 1i64..=10,
        gaps in prop::collection::vec((1i64..50_000, 1i64..20_000), 0..6),
    ) {
        let tz: chrono_tz::Tz = zone.parse().expect("zone");
        let start = tz.with_ymd_and_hms(year, month, 1, 0, 0, 0).single();
        let end = tz.with_ymd_and_hms(year, month + 1, 1, 0, 0, 0).single();
        prop_assume!(start.is_some() && end.is_some());
        let (start, end) = (start.expect("start").timestamp(), end.expect("end").timestamp());
        // Disjoint windows inside the month: gap, window, gap, window …
        let mut t = start;
        let mut windows = Vec::new();
        let mut down = 0i64;
        for (gap, len) in gaps {
            if t + gap + len > end { break; }
            windows.push(json!({"start": instant(t + gap), "end": instant(t + gap + len)}));
            down += len;
            t += gap + len;
        }
        let price = Decimal::new(price_cents, 2);
        let policy = json!({"rule": {"kind": "downtime_multiple", "multiplier": multiplier.to_string()}, "cap": {"percent": "1000"}});
        let r = quote(&base_request(zone, &price.to_string(), policy, windows)).expect("valid");
        // Independent: exact rational, then half-up to cents.
        let exact = BigRational::new(BigInt::from(price_cents) * down * multiplier, BigInt::from(100) * (end - start));
        let cents = (exact * BigInt::from(100) + BigRational::new(BigInt::from(1), BigInt::from(2))).floor().to_integer();
        let expected = Decimal::from_i128_with_scale(i128::try_from(cents).expect("fits"), 2);
        let got: Decimal = r["total"].as_str().and_then(|s| s.parse().ok()).expect("total");
        prop_assert_eq!(got, expected);
    }
}

/// A decimal string as an exact rational, e.g. "30" or "12.345".
fn exact_decimal(text: &str) -> BigRational {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits: BigInt = format!("{whole}{fraction}")
        .parse()
        .expect("a decimal string");
    BigRational::new(
        digits,
        BigInt::from(10).pow(u32::try_from(fraction.len()).expect("short")),
    )
}

fn instant_ns(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Runs of touching windows with different impacts under `downtime_unit_seconds` (each run
    /// a fraction over its raw length, docs/rules.md §3): the engine's pairwise, partly
    /// unreduced sum equals a plain sequential BigRational sum, credit and downtime alike.
    #[test]
    fn mixed_impact_runs_sum_exactly(
        runs in prop::collection::vec(
            (1i64..40_000_000_000, 1i64..40_000_000_000, 0usize..4, 0usize..4, 1i64..3_000_000_000_000),
            1..400),
        unit in prop::sample::select(vec![1i64, 60, 300]),
        round_down in any::<bool>(),
        multiplier in 1i64..=10,
    ) {
        const IMPACTS: [(&str, i64, i64); 4] = [("0.5", 1, 2), ("0.3", 3, 10), ("0.25", 1, 4), ("0.7", 7, 10)];
        let month_start: i64 = 1_775_001_600 * 1_000_000_000; // 2026-04-01T00:00:00Z
        let month_len: i64 = 30 * 86_400 * 1_000_000_000;
        let mut t = month_start;
        let mut windows = Vec::new();
        let mut downtime = BigRational::zero();
        let u = BigInt::from(unit) * 1_000_000_000i64;
        for (a, b, ia, ib, gap) in runs {
            if t + gap + a + b > month_start + month_len { break; }
            let s = t + gap;
            let (na, pa, qa) = IMPACTS[ia];
            let (nb, pb, qb) = IMPACTS[ib];
            windows.push(json!({"start": instant_ns(s), "end": instant_ns(s + a), "impact": na}));
            windows.push(json!({"start": instant_ns(s + a), "end": instant_ns(s + a + b), "impact": nb}));
            t = s + a + b;
            let raw = BigInt::from(a + b);
            let weighted = BigRational::new(BigInt::from(a * pa), BigInt::from(qa))
                + BigRational::new(BigInt::from(b * pb), BigInt::from(qb));
            let units = if round_down { &raw / &u } else { (&raw + &u - 1) / &u };
            downtime += weighted * BigRational::new(units * &u, raw);
        }
        prop_assume!(!windows.is_empty());
        let policy = json!({"rule": {"kind": "downtime_multiple", "multiplier": multiplier.to_string()},
            "downtime_unit_seconds": unit, "partial_units": if round_down { "round_down" } else { "round_up" }});
        let r = quote(&base_request("UTC", "7430.00", policy, windows)).expect("valid");
        let exact = BigRational::new(BigInt::from(743_000i64 * multiplier), BigInt::from(100i64 * month_len)) * &downtime;
        let cents = (exact * BigInt::from(100) + BigRational::new(BigInt::from(1), BigInt::from(2))).floor().to_integer();
        let expected = Decimal::from_i128_with_scale(i128::try_from(cents).expect("fits"), 2);
        let got: Decimal = r["total"].as_str().and_then(|s| s.parse().ok()).expect("total");
        prop_assert_eq!(got, expected);
        // Downtime is shown in seconds to 28 significant digits (an exact value, such as 30,
        // with none to spare): it agrees with the exact figure to one part in 10^20.
        let shown = exact_decimal(r["periods"][0]["downtime_seconds"].as_str().unwrap_or(""));
        let secs = downtime / BigInt::from(1_000_000_000);
        let error = (shown - &secs) * BigInt::from(10).pow(20u32);
        prop_assert!(error.abs() <= secs, "downtime_seconds {} differs from the exact figure", r["periods"][0]["downtime_seconds"]);
    }
}

/// Any JSON value, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("".to_string()),
            Just("1e400".to_string()),
            Just("-0.5".to_string()),
            Just("99.99".to_string()),
            Just("2026-03-08T02:30:00-08:00".to_string()),
            Just("2200-01-01T23:59:59.999999999Z".to_string()),
            Just("[0, 100]".to_string()),
            Just("(100, 100]".to_string()),
            Just("2026-Q1".to_string()),
            Just("quarter".to_string()),
            Just("XTS".to_string()),
            "[a-zA-Z0-9:.\\-\\[\\]() ,]{0,24}",
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,16}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON path of a value, as key/index steps.
fn paths(v: &Value, at: Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = at.clone();
                p.push(PathStep::Key(k.clone()));
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = at.clone();
                p.push(PathStep::Index(i));
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn replace_at(v: &mut Value, path: &[PathStep], with: Value) {
    let mut cur = v;
    for step in path {
        cur = match (step, cur) {
            (PathStep::Key(k), Value::Object(m)) => match m.get_mut(k) {
                Some(x) => x,
                None => return,
            },
            (PathStep::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
    }
    *cur = with;
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Bad input never panics: any field of a valid request replaced by any JSON value gives
    /// a credit or a list of field errors, each naming a field.
    #[test]
    fn any_mutation_of_a_request_is_answered_without_panic(
        zone in prop::sample::select(ZONES.to_vec()),
        policy in policy_strategy(true),
        windows in windows_strategy(4),
        pick in any::<prop::sample::Index>(),
        with in any_json(),
    ) {
        let base = month_start(zone, 2026, 3);
        let mut req = base_request(zone, "29.00", policy, windows_json(base, &windows));
        req["exclusions"] = json!([{"start": instant(base), "end": instant(base + 3600)}]);
        let mut all = Vec::new();
        paths(&req, Vec::new(), &mut all);
        let path = pick.get(&all).clone();
        replace_at(&mut req, &path, with);
        match parse_quote(&req.to_string()).and_then(|input| compute(&input)) {
            Ok(result) => prop_assert!(result.total >= Decimal::ZERO),
            Err(errors) => {
                prop_assert!(!errors.0.is_empty());
                for e in &errors.0 {
                    prop_assert!(!e.field.is_empty() && !e.message.is_empty(), "{:?}", e);
                }
            }
        }
    }
}

/// Every zone of the tz database, 1970–2099 (docs/rules.md §1): the periods of a zone follow one
/// another without gap or overlap, every instant of a period maps back to that period and to
/// exactly one of its local days, and those days tile the period.
fn check_tiling(zone_index: usize, year: i32, month: u32, quarter: bool, probes: &[u64]) {
    use sla_credit::domain::period::{PeriodKind, PeriodLabel};
    use sla_credit::domain::time::local_day;
    let tz = chrono_tz::TZ_VARIANTS[zone_index % chrono_tz::TZ_VARIANTS.len()];
    let kind = if quarter {
        PeriodKind::Quarter
    } else {
        PeriodKind::Month
    };
    let text = if quarter {
        format!("{year:04}-Q{}", (month - 1) / 3 + 1)
    } else {
        format!("{year:04}-{month:02}")
    };
    let label = PeriodLabel::parse(&text).expect("label");
    let zp = label.in_zone(tz);
    let name = format!("{} {text}", tz.name());
    assert!(zp.start < zp.end, "{name}: empty period");
    assert_eq!(
        label.next().in_zone(tz).start,
        zp.end,
        "{name}: next period"
    );
    assert_eq!(
        label.prev().in_zone(tz).end,
        zp.start,
        "{name}: previous period"
    );
    let days = zp.days(tz);
    assert_eq!(days.len() as u32, zp.local_days(tz), "{name}");
    assert!(
        days.len() as u32 <= label.calendar_days(),
        "{name}: too many days"
    );
    assert!(
        days.len() as u32 + 2 >= label.calendar_days(),
        "{name}: too few days"
    );
    assert_eq!(
        days.first().map(|d| d.start),
        Some(zp.start),
        "{name}: first day"
    );
    assert_eq!(days.last().map(|d| d.end), Some(zp.end), "{name}: last day");
    for pair in days.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "{name}: days {:?}", pair);
        assert!(pair[0].date < pair[1].date, "{name}: dates {:?}", pair);
    }
    for d in &days {
        assert!(d.start < d.end, "{name}: empty day {d:?}");
        assert_eq!(local_day(d.start, tz), *d, "{name}: start of {d:?}");
        assert_eq!(local_day(d.end - 1, tz), *d, "{name}: end of {d:?}");
    }
    let len = (zp.end - zp.start) as u64;
    let mut instants: Vec<i64> = probes.iter().map(|p| zp.start + (p % len) as i64).collect();
    instants.extend([zp.start, zp.end - 1]);
    for t in instants {
        assert_eq!(PeriodLabel::containing(kind, tz, t), label, "{name}: {t}");
        let holding: Vec<_> = days.iter().filter(|d| d.start <= t && t < d.end).collect();
        assert_eq!(holding.len(), 1, "{name}: {t} in {} days", holding.len());
        assert_eq!(local_day(t, tz), *holding[0], "{name}: day of {t}");
    }
    assert_eq!(
        PeriodLabel::containing(kind, tz, zp.start - 1),
        label.prev(),
        "{name}"
    );
    assert_eq!(
        PeriodLabel::containing(kind, tz, zp.end),
        label.next(),
        "{name}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn local_days_tile_every_period_of_every_zone(
        zone_index in 0usize..10_000,
        year in 1970i32..2100,
        month in 1u32..=12,
        quarter in any::<bool>(),
        probes in prop::collection::vec(any::<u64>(), 8),
    ) {
        check_tiling(zone_index, year, month, quarter, &probes);
    }
}

/// The months whose first local midnight is known to be irregular, checked every time.
#[test]
fn the_irregular_months_of_the_sweep_tile() {
    let index = |name: &str| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .position(|z| z.name() == name)
            .expect("zone")
    };
    let probes: Vec<u64> = (0..64u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    for (zone, year, month) in [
        ("America/St_Johns", 2009, 11),
        ("America/St_Johns", 1990, 11),
        ("Pacific/Apia", 2011, 12),
        ("Pacific/Fakaofo", 2011, 12),
        ("Pacific/Kwajalein", 1993, 8),
        ("Pacific/Kiritimati", 1994, 12),
        ("Pacific/Kanton", 1994, 12),
        ("America/Havana", 2026, 3),
    ] {
        check_tiling(index(zone), year, month, false, &probes);
        check_tiling(index(zone), year, month, true, &probes);
    }
}

/// The sweep behind the golden vectors of fixtures/vectors/midnights.json: every zone of the tz
/// database, every month 1970–2099, classified by its first local midnight. Prints a summary;
/// run with `cargo test --release --test properties -- --ignored --nocapture sweep`.
#[test]
#[ignore]
fn sweep_month_starts_of_every_zone() {
    use chrono::{LocalResult, NaiveDate};
    use sla_credit::domain::period::PeriodLabel;
    use sla_credit::domain::time::local_date;
    let mut found: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for tz in chrono_tz::TZ_VARIANTS {
        for year in 1970..2100 {
            for month in 1..=12u32 {
                let first = NaiveDate::from_ymd_opt(year, month, 1).expect("date");
                let label = PeriodLabel::parse(&format!("{year:04}-{month:02}")).expect("label");
                let zp = label.in_zone(tz);
                let at = format!("{} {year:04}-{month:02}", tz.name());
                match tz.from_local_datetime(&first.and_hms_opt(0, 0, 0).expect("t")) {
                    LocalResult::Single(_) => {}
                    LocalResult::Ambiguous(a, b) => {
                        let later = a.timestamp().max(b.timestamp()) * 1_000_000_000;
                        let kind = if local_date(later - 1, tz) < first {
                            "repeated, the clock stepping back across it"
                        } else {
                            "repeated within the first day"
                        };
                        found.entry(kind).or_default().push(at.clone());
                    }
                    LocalResult::None => found.entry("in a gap").or_default().push(at.clone()),
                }
                let day = zp.days(tz);
                if day.first().map(|d| d.date) != Some(first) {
                    found
                        .entry("first date skipped")
                        .or_default()
                        .push(at.clone());
                }
                if day.len() as u32 != label.calendar_days() {
                    found
                        .entry("date skipped in month")
                        .or_default()
                        .push(at.clone());
                }
            }
        }
    }
    for (kind, list) in &found {
        let recent: Vec<&String> = list.iter().filter(|m| m.contains(" 20")).take(25).collect();
        println!(
            "{kind}: {} months, e.g. {:?}; since 2000: {recent:?}",
            list.len(),
            &list[..list.len().min(12)]
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A custom price's whole period credit derived from the shared computation at a price of
    /// 1 (`PricedQuote`: the unit figures scaled by the price, then the minimum, the rounding
    /// and the text) equals the engine's at that price, breakdown and all: every rule, with
    /// and without caps and minimums, every rounding mode, each billing cycle, a plan and a
    /// one-segment plan history.
    #[test]
    fn priced_quote_equals_the_engine_breakdown_and_all(
        zone in prop::sample::select(ZONES.to_vec()),
        year in 2024i32..2028, month in 1u32..=12,
        price_minor in 0i64..100_000_000_000,
        price_dp in 0u32..=3,
        cycle in prop::sample::select(vec!["monthly", "quarterly", "annual"]),
        history in any::<bool>(),
        policy in policy_strategy(true),
        windows in windows_between(1, 5),
    ) {
        use sla_credit::domain::batch::PricedQuote;
        let base = month_start(zone, year, month);
        let price = Decimal::new(price_minor, price_dp);
        let request = |price: &str| {
            let mut r = base_request(zone, price, policy.clone(), windows_json(base, &windows));
            if history {
                r.as_object_mut().expect("object").remove("plan");
                r["plan_history"] = json!([{"since": "2020-01-01T00:00:00Z", "price": price, "billing_cycle": cycle}]);
            } else {
                r["plan"]["billing_cycle"] = json!(cycle);
            }
            r.to_string()
        };
        let Ok(full_input) = parse_quote(&request(&price.to_string())) else {
            return Ok(());
        };
        let Ok(full) = compute(&full_input) else {
            return Ok(());
        };
        let unit_input = parse_quote(&request("1")).expect("the same request at a price of 1");
        let priced = PricedQuote::prepare(&unit_input).expect("prepare");
        prop_assert_eq!(priced.quote.periods.len(), full.periods.len());
        for (i, period) in full.periods.iter().enumerate() {
            let derived = priced.period(i, price).expect("period");
            prop_assert_eq!(derived.label, period.label);
            prop_assert_eq!(derived.credit, period.credit);
            prop_assert_eq!(&derived.breakdown, &period.breakdown);
            prop_assert_eq!(priced.quote.credit(i, price), period.credit);
        }
    }
}
