//! Engine benchmarks (results in BENCHMARKS.md):
//! (a) one customer-month with 10 windows;
//! (b) one customer-month with 1,000 / 10,000 / 100,000 windows: time per window must stay
//!     within 2× across the sizes (O(n log n));
//! (d) one customer-quarter with 1,000 / 10,000 / 50,000 runs of two touching windows at impacts
//!     0.5 then 0.3 under `downtime_unit_seconds: 60`: each run's scaled downtime is a fraction
//!     over the run's raw length, so the exact sum has a huge denominator (docs/rules.md §3, §5);
//! (c) 1,000,000 customers with distinct fees over 50 zones and 20 policies for one incident,
//!     against the baseline of the full engine run once per customer, measured in the same run.

use std::hint::black_box;
use std::time::Instant;

use chrono_tz::Tz;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rust_decimal::Decimal;
use sla_credit::domain::batch::SharedQuote;
use sla_credit::domain::credit::{compute, CreditInput, Incident};
use sla_credit::domain::fee::{AnnualSplit, BillingCycle, FeeSource, Plan};
use sla_credit::domain::interval::{Span, Window};
use sla_credit::domain::money::Currency;
use sla_credit::domain::policy::{Policy, PolicySpec};
use sla_credit::domain::time::parse_instant;

const SECOND: i64 = 1_000_000_000;

fn policy(json: &str) -> Policy {
    let spec: PolicySpec = serde_json::from_str(json).expect("policy json");
    Policy::from_spec(&spec, "policy").expect("valid policy")
}

fn monthly(price: &str) -> FeeSource {
    FeeSource::Plan(Plan {
        price: price.parse().expect("price"),
        billing_cycle: BillingCycle::Monthly,
        annual_split: AnnualSplit::Twelfths,
    })
}

/// `n` disjoint windows spread over March 2026 in Los Angeles, a quarter of them at partial
/// impact, from a fixed linear congruential sequence (the same input on every run).
fn windows(n: usize) -> Vec<Window> {
    let start = parse_instant("2026-03-01T08:00:00Z").expect("start");
    let month = 743 * 3600 * SECOND;
    let slot = month / n as i64;
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|i| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let len = 1 + (seed >> 33) as i64 % (slot / 2).max(2);
            let s = start + i as i64 * slot;
            let impact = if i % 4 == 0 {
                Decimal::new(5, 1)
            } else {
                Decimal::ONE
            };
            Window {
                span: Span {
                    start: s,
                    end: s + len,
                },
                impact,
            }
        })
        .collect()
}

fn input(windows: Vec<Window>, policy: Policy, zone: Tz, price: &str) -> CreditInput {
    CreditInput {
        currency: Currency::parse("USD").expect("USD"),
        timezone: zone,
        fees: monthly(price),
        policy,
        incidents: vec![Incident {
            start: windows.first().map_or(0, |w| w.span.start),
            windows,
        }],
        exclusions: Vec::new(),
        active: None,
        periods: Vec::new(),
    }
}

const MULTIPLE_WITH_UNITS: &str =
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"10"},"downtime_unit_seconds":60}"#;

fn one_month(c: &mut Criterion) {
    let zone: Tz = chrono_tz::America::Los_Angeles;
    let mut group = c.benchmark_group("one_customer_month");
    group.sample_size(20);
    for n in [10usize, 1_000, 10_000, 100_000] {
        let inp = input(windows(n), policy(MULTIPLE_WITH_UNITS), zone, "7430.00");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("windows", n), &inp, |b, inp| {
            b.iter(|| compute(black_box(inp)).expect("compute"))
        });
    }
    group.finish();
}

/// `n` runs spread over the first quarter of 2026 in Los Angeles, each two touching windows
/// (impact 0.5, then 0.3) of pseudo-random nanosecond lengths, so no two runs share a raw length.
fn mixed_runs(n: usize) -> Vec<Window> {
    mixed_runs_with(n, Decimal::new(5, 1), Decimal::new(3, 1))
}

fn mixed_runs_with(n: usize, first: Decimal, second: Decimal) -> Vec<Window> {
    let start = parse_instant("2026-01-01T08:00:00Z").expect("start");
    let quarter = parse_instant("2026-04-01T07:00:00Z").expect("end") - start;
    let slot = quarter / n as i64;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |bound: i64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        1 + (seed >> 2) as i64 % bound.max(2)
    };
    let mut out = Vec::with_capacity(2 * n);
    for i in 0..n {
        let s = start + i as i64 * slot;
        let a = next(slot / 4);
        let b = next(slot / 4);
        out.push(Window {
            span: Span {
                start: s,
                end: s + a,
            },
            impact: first,
        });
        out.push(Window {
            span: Span {
                start: s + a,
                end: s + a + b,
            },
            impact: second,
        });
    }
    out
}

const QUARTER_MULTIPLE_WITH_UNITS: &str = r#"{"rule":{"kind":"downtime_multiple","multiplier":"10"},"downtime_unit_seconds":60,"period":"quarter"}"#;

fn mixed_impact_runs(c: &mut Criterion) {
    let zone: Tz = chrono_tz::America::Los_Angeles;
    let mut group = c.benchmark_group("one_customer_quarter_mixed_runs");
    group.sample_size(10);
    for n in [1_000usize, 10_000, 50_000] {
        let inp = input(
            mixed_runs(n),
            policy(QUARTER_MULTIPLE_WITH_UNITS),
            zone,
            "7430.00",
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("runs", n), &inp, |b, inp| {
            b.iter(|| compute(black_box(inp)).expect("compute"))
        });
    }
    // The worst shape found: the same 50,000 runs with impacts of 28 significant digits, whose
    // scale (10^-28) joins every run's denominator.
    let long = |s: &str| s.parse::<Decimal>().expect("impact");
    let inp = input(
        mixed_runs_with(
            50_000,
            long("0.5000000000000000000000000001"),
            long("0.2999999999999999999999999999"),
        ),
        policy(QUARTER_MULTIPLE_WITH_UNITS),
        zone,
        "7430.00",
    );
    group.bench_with_input(
        BenchmarkId::new("runs_28_digit_impacts", 50_000),
        &inp,
        |b, inp| b.iter(|| compute(black_box(inp)).expect("compute")),
    );
    group.finish();
}

const POLICIES: [&str; 20] = [
    r#"{"rule":{"kind":"uptime_tiers","tiers":[{"uptime":"[99.0, 99.99)","credit_percent":"10"},{"uptime":"[95.0, 99.0)","credit_percent":"30"},{"uptime":"[0, 95.0)","credit_percent":"100"}]}}"#,
    r#"{"rule":{"kind":"uptime_tiers","tiers":[{"uptime":"[99.0, 99.9)","credit_percent":"10"},{"uptime":"[95.0, 99.0)","credit_percent":"25"},{"uptime":"[0, 95.0)","credit_percent":"50"}]}}"#,
    r#"{"rule":{"kind":"uptime_tiers","tiers":[{"uptime":"[99.0, 99.995)","credit_percent":"10"},{"uptime":"[0, 99.0)","credit_percent":"25"}]},"rounding":"half_even"}"#,
    r#"{"rule":{"kind":"uptime_tiers","tiers":[{"uptime":"[0, 99.95)","credit_percent":"15"}]},"rounding":"up"}"#,
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"10"},"target_percent":"99.99"}"#,
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"25"}}"#,
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"1"},"rounding":"down"}"#,
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"100"},"cap":{"percent":"50"}}"#,
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"10","excess_only":true},"target_percent":"99.9"}"#,
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"30"},"downtime_unit_seconds":300}"#,
    r#"{"rule":{"kind":"days_of_service","days":2}}"#,
    r#"{"rule":{"kind":"days_of_service","days":1,"day_basis":"30"}}"#,
    r#"{"rule":{"kind":"days_of_service"}}"#,
    r#"{"rule":{"kind":"days_of_service","day_basis":"30"},"target_percent":"99.9"}"#,
    r#"{"rule":{"kind":"days_of_service","days":3},"cap":{"days":2}}"#,
    r#"{"rule":{"kind":"uptime_tiers","tiers":[{"uptime":"[99.0, 99.99)","credit_percent":"10"},{"uptime":"[0, 99.0)","credit_percent":"30"}]},"period":"quarter"}"#,
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"10"},"period":"quarter"}"#,
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"5"},"timezone":"UTC"}"#,
    r#"{"rule":{"kind":"uptime_tiers","tiers":[{"uptime":"[99.5, 99.99)","credit_percent":"5"},{"uptime":"[0, 99.5)","credit_percent":"20"}]},"cap":{"percent":"15"}}"#,
    r#"{"rule":{"kind":"downtime_multiple","multiplier":"10"},"minimum":"1.00"}"#,
];

fn zones() -> Vec<Tz> {
    // 50 real zones, spread over the tz database.
    let all = chrono_tz::TZ_VARIANTS;
    let step = all.len() / 50;
    (0..50).map(|i| all[i * step]).collect()
}

fn incident() -> Vec<Window> {
    let s = parse_instant("2026-03-31T22:30:00Z").expect("start");
    vec![Window {
        span: Span {
            start: s,
            end: s + 150 * 60 * SECOND,
        },
        impact: Decimal::ONE,
    }]
}

/// Distinct fee of customer `i`: 10.00 + i cents.
fn price(i: usize) -> Decimal {
    Decimal::new(1000 + i as i64, 2)
}

const CUSTOMERS: usize = 1_000_000;

fn shared_incident(c: &mut Criterion) {
    let zones = zones();
    let policies: Vec<Policy> = POLICIES.iter().map(|p| policy(p)).collect();
    let mut group = c.benchmark_group("one_incident");
    group.sample_size(10);

    // Baseline: the full engine once per customer (a sample of 10,000; same zones and policies).
    let baseline_n = 10_000usize;
    group.throughput(Throughput::Elements(baseline_n as u64));
    group.bench_function("full_engine_per_customer", |b| {
        b.iter(|| {
            let mut periods = 0usize;
            for i in 0..baseline_n {
                let inp = input(
                    incident(),
                    policies[(i / 50) % 20].clone(),
                    zones[i % 50],
                    "1",
                );
                let mut inp = inp;
                inp.fees = FeeSource::Plan(Plan {
                    price: price(i),
                    billing_cycle: BillingCycle::Monthly,
                    annual_split: AnnualSplit::Twelfths,
                });
                periods += compute(&inp).expect("compute").periods.len();
            }
            black_box(periods)
        })
    });

    // Floor: the cheapest per-customer figure there is — one Decimal fee × seconds ÷ period,
    // rounded — for 1,000,000 customers (inexact: a speed reference, not a method).
    group.throughput(Throughput::Elements(CUSTOMERS as u64));
    group.bench_function("decimal_floor_1m_customers", |b| {
        b.iter(|| {
            let mut total = Decimal::ZERO;
            for i in 0..CUSTOMERS {
                let credit = (price(i) * Decimal::from(5_400) / Decimal::from(2_674_800))
                    .round_dp_with_strategy(
                        2,
                        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                    );
                total += credit;
            }
            black_box(total)
        })
    });

    // Shared: the engine once per (zone, policy), then one multiplication per customer-period.
    group.throughput(Throughput::Elements(CUSTOMERS as u64));
    group.bench_function("shared_per_zone_policy_1m_customers", |b| {
        b.iter(|| {
            let mut shared = Vec::with_capacity(1000);
            for p in &policies {
                for z in &zones {
                    shared.push(
                        SharedQuote::prepare(&input(incident(), p.clone(), *z, "1"))
                            .expect("prepare"),
                    );
                }
            }
            let mut total = Decimal::ZERO;
            let mut periods = 0usize;
            for i in 0..CUSTOMERS {
                let q = &shared[((i / 50) % 20) * 50 + i % 50];
                for k in 0..q.periods.len() {
                    total += q.credit(k, price(i));
                    periods += 1;
                }
            }
            black_box((total, periods))
        })
    });
    group.finish();

    // Customer-periods in the 1M run (most customers have one period, some two).
    let t = Instant::now();
    let mut periods = 0usize;
    for p in &policies {
        for z in &zones {
            let q = SharedQuote::prepare(&input(incident(), p.clone(), *z, "1")).expect("prepare");
            periods += q.periods.len() * (CUSTOMERS / 1000);
        }
    }
    eprintln!(
        "one_incident: {periods} customer-periods for {CUSTOMERS} customers (prepare {:?})",
        t.elapsed()
    );
}

criterion_group!(benches, one_month, mixed_impact_runs, shared_incident);
criterion_main!(benches);
