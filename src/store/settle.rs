//! Settlement (docs/rules.md §6). Credits are owed per (customer, measurement period): the
//! **target** of a period is the engine's credit for it from every outage incident in the
//! customer's scope (maintenance in scope as exclusions), the customer's plan history and zone,
//! and the policy version in force at the period's start. Settling appends an `sla_credit`
//! entry of target − (sum of `sla_credit` entries already booked for that customer and period)
//! when that is not zero. Goodwill and reversals are outside the sum.
//!
//! Outage time counts only up to the settlement's `as_of` (default now): a real settlement that
//! would count an outage recorded as ending after `as_of` is refused naming `ended_at`; a dry
//! run shows the figure as of that instant.
//!
//! Work is done in batches of customers. Each batch is one write transaction (`BEGIN
//! IMMEDIATE`): it reads the inputs and the booked sums under the write lock, computes, and
//! appends — so a batch is wholly written or not at all, and two settlements of the same
//! customers run one after the other, the second finding nothing left to append. Within a
//! batch, customers with the same plan history, zone, policy version and incidents share one
//! computation, and a chunk of rows goes in as one JSON array per table (`entries::JsonRows`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono_tz::Tz;
use diesel::prelude::*;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::domain::batch::PricedQuote;
use crate::domain::book::{
    fee_source, measuring_zone, Customer, EntryKind, IncidentRecord, PeriodMemo, PlanVersion, Plans,
};
use crate::domain::credit::PeriodCredit;
use crate::domain::fee::FeeSource;
use crate::domain::ids::{entry_id, hex};
use crate::domain::interval::{Span, Window};
use crate::domain::money::Currency;
use crate::domain::period::PeriodLabel;
use crate::domain::scope::{IncidentKind, Scope};
use crate::domain::settlement::{delta_explanation, settlement_delta, sum_amounts};
use crate::domain::time::{format_utc, Nanos};
use crate::domain::{compute, CreditInput, Incident, ENGINE_VERSION, TZDB_VERSION};
use crate::wire::credits::{settlement_id, SettlementLine, SettlementReport, Total};
use crate::wire::{ConflictKind, Error};

use super::convert::{from_minor, to_minor, ts};
use super::customers::load_customer_range;
use super::entries::{
    append_settled_entries, insert_breakdowns, next_entry_id, EntryStamp, JsonRows, SettledEntry,
};
use super::incidents::{load_incident, load_overlapping};
use super::models::BreakdownRow;
use super::plans::load_plans_named;
use super::schema::{customers, ledger_entries, plan_versions};
use super::settlements::{
    append_lines, insert_result, insert_settlement, next_settlement_id, Finished, LineJson,
};
use super::sqlite::{
    data_version, read_tx, second_connection, with_settle_settings, write_tx, Conn,
};

/// Customers per transaction by default.
pub const DEFAULT_BATCH_SIZE: usize = 5_000;

/// How a settlement runs.
#[derive(Debug, Clone)]
pub struct SettleOptions {
    /// Ongoing incidents count up to this instant.
    pub as_of: Nanos,
    /// The clock, for `created_at`.
    pub now: Nanos,
    /// Who appends (an API key's name, or `cli`).
    pub actor: String,
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Customers per transaction.
    pub batch_size: usize,
    /// Keep one line per (customer, period) in the report.
    pub keep_lines: bool,
    /// Keep only the lines after this (customer id, period), in that order.
    pub lines_after: Option<(String, String)>,
    /// Keep at most this many lines.
    pub lines_max: usize,
    /// Record a real incident-wide run as a settlement (`stl_…`) with its lines.
    pub record: bool,
}

impl SettleOptions {
    pub fn new(now: Nanos) -> Self {
        SettleOptions {
            as_of: now,
            now,
            actor: "cli".into(),
            dry_run: false,
            batch_size: DEFAULT_BATCH_SIZE,
            keep_lines: true,
            lines_after: None,
            lines_max: usize::MAX,
            record: false,
        }
    }
}

/// Settles every period an incident touches for every customer in its scope (and any period
/// an earlier settlement booked from it, so a shortened incident gives back what it no longer
/// owes).
pub fn settle_incident(
    conn: &mut Conn,
    incident_id: &str,
    opts: &SettleOptions,
) -> Result<SettlementReport, Error> {
    let (incident, ids) = read_tx(conn, |c| {
        let incident = load_incident(c, incident_id)?
            .ok_or_else(|| Error::not_found("incident", incident_id))?;
        if !opts.dry_run && incident.kind == IncidentKind::Outage && incident.ended_at.is_none() {
            return Err(Error::conflict(
                ConflictKind::NotYetEnded,
                "ended_at",
                format!(
                    "incident {incident_id:?} is ongoing: set its ended_at first, or dry-run it \
                     as of an instant"
                ),
            ));
        }
        // Everyone is read page by page (ids are never all in memory).
        let ids = match &incident.scope {
            Scope::Customers(ids) => CustomerIds::List(ids.clone()),
            Scope::All | Scope::Plans(_) => CustomerIds::Table,
        };
        Ok((incident, ids))
    })?;
    let size = opts.batch_size.max(1);
    let (mut chunk, mut more) = ids.next(conn, None, size)?;
    let mut acc = Accumulator::new(Some(incident.id.clone()), opts);
    let record = opts.record && !opts.dry_run;
    if record && chunk.is_empty() {
        // Nobody to settle: the record and its (empty) result alone.
        let id = write_tx(conn, |c| {
            let id = next_settlement_id(c)?;
            insert_settlement(c, id, &incident.id, &opts.actor, opts.now, opts.as_of)?;
            let done = Finished {
                customers: 0,
                periods: 0,
                entries_appended: 0,
                totals: &[],
                at: opts.now,
            };
            insert_result(c, id, &done)?;
            Ok(id)
        })?;
        acc.settlement = Some(id);
    }
    // Targets are kept from batch to batch (customers on list plans share them all along).
    let mut targets = Targets::default();
    // A real run reads each next batch (its ids and customers) on a second connection while
    // this one writes the current batch (see [`Lookahead`]).
    let reader = if opts.dry_run {
        None
    } else {
        second_connection(conn)?
    };
    with_settle_settings(conn, |conn| {
        std::thread::scope(|scope| {
            let (ask_tx, ask_rx) = std::sync::mpsc::sync_channel::<Option<String>>(1);
            let (page_tx, page_rx) = std::sync::mpsc::sync_channel::<Result<Page, Error>>(1);
            let reading = reader.is_some();
            if let Some(mut r) = reader {
                let ids = &ids;
                scope.spawn(move || {
                    let mut sent = HashSet::new();
                    for after in ask_rx {
                        let page = read_tx(&mut r, |c| {
                            read_page(c, ids, after.as_deref(), size, &mut sent)
                        });
                        if page_tx.send(page).is_err() {
                            break;
                        }
                    }
                });
            }
            let mut given: Option<(Vec<Customer>, Plans, i64)> = None;
            while !chunk.is_empty() {
                let stage = Stage {
                    record,
                    last: !more,
                };
                let mut asked = None;
                let next_after = chunk.last().cloned();
                let mut ask = |version: i64| {
                    if reading && more && ask_tx.send(next_after.clone()).is_ok() {
                        asked = Some(version);
                    }
                };
                let ahead = Lookahead {
                    given: given.take(),
                    ask: &mut ask,
                };
                let batch = Batch {
                    ids: &chunk,
                    stage,
                    ahead,
                };
                run_batch(
                    conn,
                    batch,
                    &Work::Incident(&incident.id),
                    opts,
                    &mut acc,
                    &mut targets,
                )?;
                if !more {
                    break;
                }
                match asked {
                    Some(version) => {
                        let page = page_rx
                            .recv()
                            .map_err(|_| Error::internal("the settlement's reader stopped"))??;
                        (chunk, more) = (page.ids, page.more);
                        given = Some((page.customers, page.plans, version));
                    }
                    None => {
                        (chunk, more) = ids.next(conn, chunk.last().map(String::as_str), size)?;
                    }
                }
            }
            drop(ask_tx);
            Ok(())
        })
    })?;
    Ok(acc.finish())
}

/// The customers of a settlement, batch by batch.
enum CustomerIds {
    /// An incident's own list, in order.
    List(Vec<String>),
    /// Every customer, read from the table one page at a time.
    Table,
}

impl CustomerIds {
    /// The next (at most) `size` ids after `after`, and whether more follow.
    fn next(
        &self,
        conn: &mut Conn,
        after: Option<&str>,
        size: usize,
    ) -> Result<(Vec<String>, bool), Error> {
        match self {
            CustomerIds::List(ids) => {
                let start = after.map_or(0, |a| ids.partition_point(|id| id.as_str() <= a));
                let rest = ids.get(start..).unwrap_or(&[]);
                Ok((rest.iter().take(size).cloned().collect(), rest.len() > size))
            }
            CustomerIds::Table => {
                let limit = i64::try_from(size + 1).unwrap_or(i64::MAX);
                let mut ids: Vec<String> = read_tx(conn, |c| {
                    let mut q = customers::table
                        .select(customers::id)
                        .order(customers::id)
                        .limit(limit)
                        .into_boxed();
                    if let Some(a) = after {
                        q = q.filter(customers::id.gt(a.to_string()));
                    }
                    Ok(q.load(c)?)
                })?;
                let more = ids.len() > size;
                ids.truncate(size);
                Ok((ids, more))
            }
        }
    }
}

/// The next batch as the second connection read it.
struct Page {
    ids: Vec<String>,
    more: bool,
    customers: Vec<Customer>,
    /// The plans of its customers not sent with an earlier page, parsed.
    plans: Plans,
}

/// Reads the next page; `sent` holds the plans sent with earlier pages (the writer keeps
/// those it was given in its cache, and loads itself any it lacks, so this only saves work).
fn read_page(
    c: &mut Conn,
    ids: &CustomerIds,
    after: Option<&str>,
    size: usize,
    sent: &mut HashSet<String>,
) -> Result<Page, Error> {
    let (ids, more) = ids.next(c, after, size)?;
    let customers = match (ids.first(), ids.last()) {
        (Some(first), Some(last)) => batch_customers(c, &ids, first, last)?,
        _ => Vec::new(),
    };
    if sent.len() > TARGETS_KEPT {
        sent.clear();
    }
    let plans = plans_lacking(c, &customers, |id| sent.contains(id))?;
    sent.extend(plans.keys().cloned());
    Ok(Page {
        ids,
        more,
        customers,
        plans,
    })
}

/// Reading ahead. While batch N holds the write lock it asks the second connection for batch
/// N+1, noting the connection's `PRAGMA data_version`. That read sees every commit made before
/// N took the lock and none of N's own writes (entries and lines, which it does not read).
/// Batch N+1 uses the customers read ahead only if the data version is still the same under
/// its own lock: then no other connection committed in between, and they are exactly what it
/// would read itself. Otherwise it reads them again.
struct Lookahead<'a> {
    /// This batch's customers and the plans new to the writer read ahead, with the data
    /// version they are valid at.
    given: Option<(Vec<Customer>, Plans, i64)>,
    /// Asks for the next batch; called under the lock with the current data version.
    ask: &'a mut dyn FnMut(i64),
}

impl Lookahead<'_> {
    fn none(ask: &mut dyn FnMut(i64)) -> Lookahead<'_> {
        Lookahead { given: None, ask }
    }
}

/// Where a batch stands in a recorded settlement.
#[derive(Debug, Clone, Copy, Default)]
struct Stage {
    /// Record the settlement and its lines.
    record: bool,
    /// The last batch writes the result.
    last: bool,
}

/// Settles one (customer, period).
pub fn settle_customer_period(
    conn: &mut Conn,
    customer_id: &str,
    period: PeriodLabel,
    opts: &SettleOptions,
) -> Result<SettlementReport, Error> {
    let mut acc = Accumulator::new(None, opts);
    let ids = [customer_id.to_string()];
    let mut no_ask = |_| {};
    let batch = Batch {
        ids: &ids,
        stage: Stage::default(),
        ahead: Lookahead::none(&mut no_ask),
    };
    run_batch(
        conn,
        batch,
        &Work::Period(period),
        opts,
        &mut acc,
        &mut Targets::default(),
    )?;
    if acc.customers == 0 {
        return Err(Error::not_found("customer", customer_id));
    }
    Ok(acc.finish())
}

enum Work<'a> {
    Incident(&'a str),
    Period(PeriodLabel),
}

struct Accumulator {
    report: SettlementReport,
    totals: BTreeMap<&'static str, (Currency, Decimal)>,
    customers: usize,
    settlement: Option<i64>,
}

impl Accumulator {
    fn new(incident_id: Option<String>, opts: &SettleOptions) -> Self {
        Accumulator {
            report: SettlementReport {
                id: None,
                incident_id,
                dry_run: opts.dry_run,
                as_of: format_utc(opts.as_of),
                customers: 0,
                periods: 0,
                entries_appended: 0,
                totals: Vec::new(),
                data: Vec::new(),
            },
            totals: BTreeMap::new(),
            customers: 0,
            settlement: None,
        }
    }

    /// The totals so far with a batch's added.
    fn totals_with(
        &self,
        more: &[(Currency, Decimal)],
    ) -> Result<BTreeMap<&'static str, (Currency, Decimal)>, Error> {
        let mut totals = self.totals.clone();
        for (currency, amount) in more {
            let slot = totals
                .entry(currency.code())
                .or_insert((*currency, Decimal::ZERO));
            slot.1 = sum_amounts(&[slot.1, *amount])
                .ok_or_else(|| Error::internal("total overflows"))?;
        }
        Ok(totals)
    }

    fn finish(mut self) -> SettlementReport {
        self.report.customers = self.customers;
        self.report.id = self.settlement.map(settlement_id);
        self.report.totals = self
            .totals
            .into_values()
            .map(|(c, amount)| Total {
                currency: c.code().to_string(),
                amount: c.format(amount),
            })
            .collect();
        self.report
    }
}

/// What one computation depends on; customers with equal keys share the result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TargetKey {
    zone: Tz,
    label: PeriodLabel,
    plan_id: String,
    version: i64,
    history: Vec<(Nanos, String)>,
    incidents: Vec<usize>,
}

/// A computed target.
#[derive(Debug, Clone)]
struct Target {
    credit: Decimal,
    currency: Currency,
    plan_id: String,
    version: i64,
    rounding: &'static str,
    explanation: String,
    breakdown_sha256: String,
    breakdown_json: String,
    incident_ids_json: String,
}

/// The engine's input for one (customer, period), and the ids of the incidents it counts.
fn target_input(
    customer: &Customer,
    label: PeriodLabel,
    version: &PlanVersion,
    plans: &Plans,
    incidents: &[&IncidentRecord],
    as_of: Nanos,
) -> Result<(CreditInput, Vec<String>), Error> {
    let mut outages = Vec::new();
    let mut exclusions = Vec::new();
    let mut ids = Vec::with_capacity(incidents.len());
    for inc in incidents {
        let Some(span) = inc.span(as_of) else {
            continue;
        };
        ids.push(inc.id.clone());
        match inc.kind {
            IncidentKind::Outage => outages.push(Incident {
                start: inc.started_at,
                windows: vec![Window {
                    span,
                    impact: inc.impact,
                }],
            }),
            IncidentKind::Maintenance => exclusions.push(span),
        }
    }
    let input = CreditInput {
        currency: version.currency,
        timezone: customer.timezone,
        fees: fee_source(customer, plans)?,
        policy: version.policy.clone(),
        incidents: outages,
        exclusions,
        active: None,
        periods: vec![label],
    };
    Ok((input, ids))
}

fn compute_target(
    customer: &Customer,
    label: PeriodLabel,
    version: &PlanVersion,
    plans: &Plans,
    incidents: &[&IncidentRecord],
    as_of: Nanos,
) -> Result<Target, Error> {
    let (input, ids) = target_input(customer, label, version, plans, incidents, as_of)?;
    let result = compute(&input).map_err(|e| {
        Error::invalid(
            "plan.price",
            format!("{label}: the stored plan and incidents cannot be computed: {e}"),
        )
    })?;
    let pc = result
        .periods
        .into_iter()
        .find(|p| p.label == label)
        .ok_or_else(|| Error::internal(format!("the engine returned no {label}")))?;
    let ids = serde_json::to_string(&ids).map_err(|e| Error::internal(e.to_string()))?;
    target_from(pc, version, ids)
}

/// A target from a period's credit and breakdown.
fn target_from(
    pc: PeriodCredit,
    version: &PlanVersion,
    incident_ids_json: String,
) -> Result<Target, Error> {
    let breakdown_json =
        serde_json::to_string(&pc.breakdown).map_err(|e| Error::internal(e.to_string()))?;
    let breakdown_sha256 = hex(&Sha256::digest(breakdown_json.as_bytes()));
    Ok(Target {
        credit: pc.credit,
        currency: version.currency,
        plan_id: version.plan_id.clone(),
        version: version.version,
        rounding: version.policy.rounding.as_str(),
        explanation: pc.breakdown.explanation,
        breakdown_sha256,
        breakdown_json,
        incident_ids_json,
    })
}

/// What one (customer, period) target is computed from.
struct Cx<'a> {
    cu: &'a Customer,
    label: PeriodLabel,
    version: &'a PlanVersion,
    plans: &'a Plans,
    incidents: &'a [IncidentRecord],
    as_of: Nanos,
}

/// Customers whose targets differ only by price (docs/restitution.md, settlement speed):
/// the same zone, period, currency, policy as applied, plan shape, plan start and incidents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SharedKey {
    zone: Tz,
    label: PeriodLabel,
    currency: &'static str,
    policy: String,
    shape: String,
    since: Nanos,
    incidents: Vec<usize>,
}

/// A batch's computed targets: shared quotes for customers on one plan version since an
/// instant (every rule and both caps are linear in the fee, docs/rules.md §4–§5: one engine
/// run at a price of 1, then one exact multiplication, the minimum and the rounding per
/// customer, and for an appended entry its breakdown rendered from the unit figures scaled by
/// the price), and full computations for the rest.
#[derive(Default)]
struct Targets {
    full: HashMap<TargetKey, Target>,
    /// Shared quotes, with the JSON list of the incident ids they count.
    shared: HashMap<SharedKey, (PricedQuote, String)>,
    /// The incidents the keys' indexes point into.
    incidents: Vec<IncidentRecord>,
    /// Plans parsed in earlier batches (see [`cached_plans`]).
    plans: Plans,
    /// The number of plan versions when `plans` was last checked.
    plan_versions: Option<i64>,
    /// Breakdowns (SHA-256) this settlement has sent to be stored. A batch that fails ends the
    /// settlement, so none of these can be missing from the database.
    stored: HashSet<String>,
    /// Period boundaries in the zones seen so far.
    periods: PeriodMemo,
}

/// Breakdown digests remembered at most (forgetting only costs an INSERT OR IGNORE).
const BREAKDOWNS_REMEMBERED: usize = 100_000;

/// Computed targets kept at most (each holds its breakdown): memory stays flat.
const TARGETS_KEPT: usize = 20_000;

impl Targets {
    /// Keys hold indexes into the batch's incidents: a batch whose incidents differ (another
    /// range, or an incident changed in between) starts afresh; and so does one past the
    /// bound.
    fn begin_batch(&mut self, incidents: &[IncidentRecord]) {
        if self.incidents.as_slice() != incidents {
            self.full.clear();
            self.shared.clear();
            self.incidents = incidents.to_vec();
        }
        if self.full.len() > TARGETS_KEPT {
            self.full.clear();
        }
        if self.shared.len() > TARGETS_KEPT {
            self.shared.clear();
        }
        if self.stored.len() > BREAKDOWNS_REMEMBERED {
            self.stored.clear();
        }
    }

    /// The target credit and its currency.
    fn credit(&mut self, cx: &Cx<'_>, key: &TargetKey) -> Result<(Decimal, Currency), Error> {
        if let Some(t) = self.full.get(key) {
            return Ok((t.credit, t.currency));
        }
        let Some((skey, price)) = self.shared_for(cx, key)? else {
            let t = self.full(cx, key, None)?;
            return Ok((t.credit, t.currency));
        };
        let (quote, _) = self
            .shared
            .get(&skey)
            .ok_or_else(|| Error::internal("shared quote vanished"))?;
        let index = quote
            .quote
            .index_of(cx.label)
            .ok_or_else(|| Error::internal(format!("the engine returned no {}", cx.label)))?;
        Ok((quote.quote.credit(index, price), cx.version.currency))
    }

    /// The shared key and the price of a customer on one plan version since an instant (the
    /// shared quote prepared if it was not); `None` for a plan history of several segments.
    fn shared_for(
        &mut self,
        cx: &Cx<'_>,
        key: &TargetKey,
    ) -> Result<Option<(SharedKey, Decimal)>, Error> {
        let FeeSource::History(segments) = fee_source(cx.cu, cx.plans)? else {
            return Err(Error::internal("a customer's fees are a plan history"));
        };
        let [segment] = segments.as_slice() else {
            return Ok(None);
        };
        let skey = SharedKey {
            zone: cx.cu.timezone,
            label: cx.label,
            currency: cx.version.currency.code(),
            policy: cx.version.policy_json.clone(),
            shape: format!(
                "{:?}/{:?}",
                segment.plan.billing_cycle, segment.plan.annual_split
            ),
            since: segment.since,
            incidents: key.incidents.clone(),
        };
        if !self.shared.contains_key(&skey) {
            let list: Vec<&IncidentRecord> =
                key.incidents.iter().map(|k| &cx.incidents[*k]).collect();
            let (input, ids) =
                target_input(cx.cu, cx.label, cx.version, cx.plans, &list, cx.as_of)?;
            let quote = PricedQuote::prepare(&input).map_err(|e| cannot_compute(cx.label, e))?;
            let ids = serde_json::to_string(&ids).map_err(|e| Error::internal(e.to_string()))?;
            self.shared.insert(skey.clone(), (quote, ids));
        }
        Ok(Some((skey, segment.plan.price)))
    }

    /// The full target (with its breakdown): from the shared quote scaled by the customer's
    /// price when there is one, from the engine otherwise; when `expected` is given, its
    /// credit must equal it.
    fn full(
        &mut self,
        cx: &Cx<'_>,
        key: &TargetKey,
        expected: impl Into<Option<Decimal>>,
    ) -> Result<&Target, Error> {
        if !self.full.contains_key(key) {
            let t = match self.shared_for(cx, key)? {
                Some((skey, price)) => {
                    let (quote, ids) = self
                        .shared
                        .get(&skey)
                        .ok_or_else(|| Error::internal("shared quote vanished"))?;
                    let index = quote.quote.index_of(cx.label).ok_or_else(|| {
                        Error::internal(format!("the engine returned no {}", cx.label))
                    })?;
                    let pc = quote
                        .period(index, price)
                        .map_err(|e| cannot_compute(cx.label, e))?;
                    target_from(pc, cx.version, ids.clone())?
                }
                None => {
                    let list: Vec<&IncidentRecord> =
                        key.incidents.iter().map(|k| &cx.incidents[*k]).collect();
                    compute_target(cx.cu, cx.label, cx.version, cx.plans, &list, cx.as_of)?
                }
            };
            self.full.insert(key.clone(), t);
        }
        let t = self
            .full
            .get(key)
            .ok_or_else(|| Error::internal("target vanished"))?;
        match expected.into() {
            Some(e) if e != t.credit => Err(Error::internal(format!(
                "{} {}: the shared credit {e} differs from the engine's {}",
                cx.cu.id, cx.label, t.credit
            ))),
            _ => Ok(t),
        }
    }
}

/// The stored plan and incidents give the engine nothing it can compute.
fn cannot_compute(label: PeriodLabel, e: impl std::fmt::Display) -> Error {
    Error::invalid(
        "plan.price",
        format!("{label}: the stored plan and incidents cannot be computed: {e}"),
    )
}

/// A booked `sla_credit` entry, as the sum needs it.
#[derive(Queryable)]
struct BookedRow {
    customer_id: String,
    period: String,
    amount_minor: i64,
    minor_units: i64,
    currency: String,
    incident_ids: String,
}

/// One batch of a settlement: its customer ids, where it stands, and its look-ahead.
struct Batch<'a> {
    ids: &'a [String],
    stage: Stage,
    ahead: Lookahead<'a>,
}

/// One batch: one transaction.
fn run_batch(
    conn: &mut Conn,
    batch: Batch<'_>,
    work: &Work<'_>,
    opts: &SettleOptions,
    acc: &mut Accumulator,
    targets: &mut Targets,
) -> Result<(), Error> {
    let Batch { ids, stage, ahead } = batch;
    if ids.is_empty() {
        return Ok(());
    }
    let prior: &Accumulator = acc;
    let body = |c: &mut Conn| -> Result<BatchOut, Error> {
        let settlement = match (stage.record, work) {
            (true, Work::Incident(incident_id)) => Some(record_start(c, incident_id, opts, prior)?),
            _ => None,
        };
        let mut out = batch_body(c, ids, work, opts, settlement, targets, ahead)?;
        if let Some(id) = settlement {
            record_finish(c, id, opts, stage, prior, &mut out)?;
        }
        Ok(out)
    };
    let out = if opts.dry_run {
        read_tx(conn, body)?
    } else {
        write_tx(conn, body)?
    };
    acc.customers += out.customers;
    acc.report.periods += out.periods;
    acc.report.entries_appended += out.appended;
    for (currency, amount) in out.totals {
        let slot = acc
            .totals
            .entry(currency.code())
            .or_insert((currency, Decimal::ZERO));
        slot.1 =
            sum_amounts(&[slot.1, amount]).ok_or_else(|| Error::internal("total overflows"))?;
    }
    if out.settlement.is_some() {
        acc.settlement = out.settlement;
    }
    let room = opts.lines_max.saturating_sub(acc.report.data.len());
    acc.report.data.extend(out.lines.into_iter().take(room));
    Ok(())
}

/// A recorded settlement's id, its record written with the first batch (in its transaction).
fn record_start(
    c: &mut Conn,
    incident_id: &str,
    opts: &SettleOptions,
    prior: &Accumulator,
) -> Result<i64, Error> {
    Ok(match prior.settlement {
        Some(id) => id,
        None => {
            let id = next_settlement_id(c)?;
            insert_settlement(c, id, incident_id, &opts.actor, opts.now, opts.as_of)?;
            id
        }
    })
}

/// The rest of a recorded settlement's part of a batch, in the batch's transaction (its lines
/// went in with its entries): the result, with the last batch.
fn record_finish(
    c: &mut Conn,
    id: i64,
    opts: &SettleOptions,
    stage: Stage,
    prior: &Accumulator,
    out: &mut BatchOut,
) -> Result<(), Error> {
    out.settlement = Some(id);
    if stage.last {
        let totals: Vec<(Currency, Decimal)> =
            prior.totals_with(&out.totals)?.into_values().collect();
        let done = Finished {
            customers: prior.customers + out.customers,
            periods: prior.report.periods + out.periods,
            entries_appended: prior.report.entries_appended + out.appended,
            totals: &totals,
            at: opts.now,
        };
        insert_result(c, id, &done)?;
    }
    Ok(())
}

#[derive(Default)]
struct BatchOut {
    customers: usize,
    periods: usize,
    appended: usize,
    totals: Vec<(Currency, Decimal)>,
    lines: Vec<SettlementLine>,
    settlement: Option<i64>,
    /// The chunk being computed: entries and settlement lines, encoded as they are computed.
    entries: JsonRows,
    line_rows: JsonRows,
    breakdowns: Vec<BreakdownRow>,
    /// Chunks handed over so far.
    chunks: usize,
}

/// Rows of a batch ready to be written, in the order they go in: the new breakdowns, the
/// entries that name them, the lines that name the entries (each a closed JSON array).
#[derive(Default)]
struct Chunk {
    breakdowns: Vec<BreakdownRow>,
    entries: Option<String>,
    lines: Option<String>,
}

/// Rows computed before they are handed to the writer.
const CHUNK_ROWS: usize = 1_000;

/// Rows of a batch's first chunk: the writer waits for it, so it is handed over early.
const FIRST_CHUNK_ROWS: usize = 100;

impl BatchOut {
    /// Whether the chunk being computed is due to go to the writer.
    fn chunk_due(&self) -> bool {
        let rows = if self.chunks == 0 {
            FIRST_CHUNK_ROWS
        } else {
            CHUNK_ROWS
        };
        self.entries.len() >= rows || self.line_rows.len() >= rows
    }

    fn take_chunk(&mut self) -> Result<Chunk, Error> {
        self.chunks += 1;
        let closed = |rows: JsonRows| -> Result<Option<String>, Error> {
            (!rows.is_empty()).then(|| rows.into_text()).transpose()
        };
        Ok(Chunk {
            breakdowns: std::mem::take(&mut self.breakdowns),
            entries: closed(std::mem::take(&mut self.entries))?,
            lines: closed(std::mem::take(&mut self.line_rows))?,
        })
    }
}

/// Writes a computed chunk: its breakdowns, entries and lines. `stamp` holds what the entries
/// share, the recorded settlement among it (the one the lines belong to).
fn write_chunk(c: &mut Conn, chunk: &Chunk, stamp: &EntryStamp) -> Result<(), Error> {
    insert_breakdowns(c, &chunk.breakdowns)?;
    if let Some(json) = &chunk.entries {
        append_settled_entries(c, json, stamp)?;
    }
    if let Some(json) = &chunk.lines {
        append_lines(c, stamp.settlement.unwrap_or(0), json)?;
    }
    Ok(())
}

/// What one batch reads under its transaction.
struct BatchInput {
    customers: Vec<Customer>,
    plans: Plans,
    /// Booked `sla_credit` amounts per (customer, period), with their currency.
    booked: HashMap<(String, String), Vec<(Decimal, String)>>,
    /// Periods an earlier settlement booked from the incident being settled, per customer.
    referenced: HashMap<String, BTreeSet<String>>,
    incident: Option<IncidentRecord>,
}

/// A (customer index, period, policy version) to settle.
type Item<'p> = (usize, PeriodLabel, &'p PlanVersion);

fn batch_body(
    c: &mut Conn,
    ids: &[String],
    work: &Work<'_>,
    opts: &SettleOptions,
    settlement: Option<i64>,
    targets: &mut Targets,
    ahead: Lookahead<'_>,
) -> Result<BatchOut, Error> {
    let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
        return Ok(BatchOut::default());
    };
    let (customers, given_plans) = if opts.dry_run {
        (batch_customers(c, ids, first, last)?, None)
    } else {
        let version = data_version(c)?;
        let read = match ahead.given {
            Some((customers, plans, at)) if at == version => (customers, Some(plans)),
            _ => (batch_customers(c, ids, first, last)?, None),
        };
        (ahead.ask)(version);
        read
    };
    // The plan cache is the batch's plans for the batch, and goes back after it.
    let mut cache = std::mem::take(&mut targets.plans);
    cached_plans(
        c,
        &mut cache,
        &mut targets.plan_versions,
        &customers,
        given_plans,
    )?;
    let input = load_batch(c, customers, first, last, work, cache)?;
    let (items, range, settled_customers) = plan_items(&input, work, opts, &mut targets.periods)?;
    let incidents = match range {
        Some(r) => load_overlapping(c, r, opts.as_of)?,
        None => Vec::new(),
    };
    let first_id = if opts.dry_run { 0 } else { next_entry_id(c)? };
    let mut out = if opts.dry_run {
        settle_items(
            &input,
            &items,
            &incidents,
            opts,
            first_id,
            targets,
            &mut |_| Ok(()),
        )?
    } else {
        // Two cores: one computes the batch's rows while the other writes those computed so
        // far, all in the batch's transaction (the connection stays on this thread). The
        // writer is the busier: written chunks go back to the computing thread to be freed
        // there (their memory is that thread's, and freeing thousands of strings is not free).
        let stamp = EntryStamp {
            created_at: ts(opts.now),
            created_by: opts.actor.clone(),
            as_of: ts(opts.as_of),
            tzdb_version: TZDB_VERSION,
            engine_version: ENGINE_VERSION,
            // Some exactly when the settlement is recorded (and lines are written).
            settlement,
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(2);
        let (back, freed) = std::sync::mpsc::channel::<Chunk>();
        let (inp, its, incs, t) = (&input, &items, &incidents, &mut *targets);
        std::thread::scope(|scope| {
            let worker = scope.spawn(move || {
                let mut send = |chunk: Chunk| {
                    while let Ok(done) = freed.try_recv() {
                        drop(done);
                    }
                    tx.send(chunk)
                        .map_err(|_| Error::internal("the settlement's writer stopped"))
                };
                let out = settle_items(inp, its, incs, opts, first_id, t, &mut send);
                drop(tx);
                // The writer stops once `tx` is gone, and then lets go of `back`.
                for done in &freed {
                    drop(done);
                }
                out
            });
            let mut written = Ok(());
            for chunk in &rx {
                written = write_chunk(c, &chunk, &stamp);
                if written.is_err() {
                    break;
                }
                // If the computing thread has stopped, the chunk is freed here.
                let _ = back.send(chunk);
            }
            drop(rx);
            drop(back);
            let computed = worker
                .join()
                .map_err(|_| Error::internal("the settlement's computation panicked"))?;
            written?;
            computed
        })?
    };
    drop(items);
    targets.plans = input.plans;
    out.customers = settled_customers;
    Ok(out)
}

/// Reads the batch's customers, the booked sums and the incident; `plans` holds (at least)
/// every plan of the batch's customers (see [`cached_plans`]).
fn load_batch(
    c: &mut Conn,
    customers: Vec<Customer>,
    first: &str,
    last: &str,
    work: &Work<'_>,
    plans: Plans,
) -> Result<BatchInput, Error> {
    // Booked sla_credit entries of these customers: one range scan.
    let booked_rows: Vec<BookedRow> = ledger_entries::table
        .filter(ledger_entries::customer_id.between(first, last))
        .filter(ledger_entries::kind.eq(EntryKind::SlaCredit.as_str()))
        .select((
            ledger_entries::customer_id,
            ledger_entries::period,
            ledger_entries::amount_minor,
            ledger_entries::minor_units,
            ledger_entries::currency,
            ledger_entries::incident_ids,
        ))
        .load(c)?;
    let incident_id: Option<&str> = match work {
        Work::Incident(id) => Some(id),
        Work::Period(_) => None,
    };
    let needle = incident_id
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::internal_from("incident id as JSON", e))?;
    let mut booked: HashMap<(String, String), Vec<(Decimal, String)>> = HashMap::new();
    let mut referenced: HashMap<String, BTreeSet<String>> = HashMap::new();
    for r in booked_rows {
        let mu = u32::try_from(r.minor_units)
            .map_err(|e| Error::internal_from("ledger minor units", e))?;
        // Periods an earlier settlement booked from this incident are settled again too.
        if let (Some(id), Some(needle)) = (incident_id, &needle) {
            if r.incident_ids.contains(needle.as_str()) {
                let list: Vec<String> = serde_json::from_str(&r.incident_ids)
                    .map_err(|e| Error::internal_from("ledger incident ids", e))?;
                if list.iter().any(|i| i == id) {
                    referenced
                        .entry(r.customer_id.clone())
                        .or_default()
                        .insert(r.period.clone());
                }
            }
        }
        booked
            .entry((r.customer_id, r.period))
            .or_default()
            .push((from_minor(r.amount_minor, mu), r.currency));
    }
    let incident = match work {
        Work::Incident(id) => {
            Some(load_incident(c, id)?.ok_or_else(|| Error::not_found("incident", *id))?)
        }
        Work::Period(_) => None,
    };
    Ok(BatchInput {
        customers,
        plans,
        booked,
        referenced,
        incident,
    })
}

/// The batch's customers: those of `ids` in the range `[first, last]`.
fn batch_customers(
    c: &mut Conn,
    ids: &[String],
    first: &str,
    last: &str,
) -> Result<Vec<Customer>, Error> {
    let mut customers = load_customer_range(c, first, last)?;
    if customers.len() != ids.len() || customers.iter().zip(ids).any(|(cu, id)| cu.id != *id) {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        customers.retain(|cu| wanted.contains(cu.id.as_str()));
    }
    Ok(customers)
}

/// Makes `cache` hold every plan of the batch's customers. Parsing a plan's policies costs more
/// than the rest of a customer's settlement, so plans parsed in an earlier batch are kept.
/// Plan versions are only ever appended (the database refuses UPDATE and DELETE), so while
/// their number is the one seen when the cache was filled, no cached plan has changed; when it
/// differs (or the cache is past its bound) the cache starts afresh. Only the plans it lacks are
/// loaded.
fn cached_plans(
    c: &mut Conn,
    cache: &mut Plans,
    seen: &mut Option<i64>,
    customers: &[Customer],
    given: Option<Plans>,
) -> Result<(), Error> {
    let versions: i64 = plan_versions::table.count().get_result(c)?;
    if *seen != Some(versions) || cache.len() > TARGETS_KEPT {
        cache.clear();
        *seen = Some(versions);
    }
    // Plans read ahead at this same data version (see [`Lookahead`]).
    for (id, plan) in given.into_iter().flatten() {
        cache.entry(id).or_insert(plan);
    }
    let missing = plans_lacking(c, customers, |id| cache.contains_key(id))?;
    cache.extend(missing);
    Ok(())
}

/// Loads and parses the plans of `customers`' histories that `known` does not name.
fn plans_lacking(
    c: &mut Conn,
    customers: &[Customer],
    known: impl Fn(&str) -> bool,
) -> Result<Plans, Error> {
    let lacking: BTreeSet<&str> = customers
        .iter()
        .flat_map(|cu| cu.history.iter().map(|(_, p)| p.as_str()))
        .filter(|id| !known(id))
        .collect();
    if lacking.is_empty() {
        return Ok(Plans::new());
    }
    let lacking: Vec<&str> = lacking.into_iter().collect();
    load_plans_named(c, &lacking)
}

/// The (customer, period) pairs to settle, with the policy version of each; the instant
/// range they cover; how many customers have any.
fn plan_items<'p>(
    input: &'p BatchInput,
    work: &Work<'_>,
    opts: &SettleOptions,
    memo: &mut PeriodMemo,
) -> Result<(Vec<Item<'p>>, Option<Span>, usize), Error> {
    let plans = &input.plans;
    let mut items: Vec<Item<'p>> = Vec::new();
    let mut range: Option<Span> = None;
    let mut settled_customers = 0usize;
    for (ci, cu) in input.customers.iter().enumerate() {
        let labels = labels_for(input, cu, work, opts, memo)?;
        if labels.is_empty() {
            continue;
        }
        settled_customers += 1;
        for label in labels {
            let v = memo.version_for_period(cu, plans, label)?;
            if v.policy.period != label.kind() {
                if let Work::Period(_) = work {
                    return Err(Error::invalid(
                        "period",
                        format!(
                            "{label} is not a {} label: the policy in force measures by {}",
                            v.policy.period.as_str(),
                            v.policy.period.as_str()
                        ),
                    ));
                }
                // The policy changed its period kind; settle the period of its kind instead.
                let zone = measuring_zone(cu, v);
                let relabel =
                    PeriodLabel::containing(v.policy.period, zone, memo.in_zone(label, zone).start);
                let v2 = memo.version_for_period(cu, plans, relabel)?;
                push_item(&mut items, &mut range, memo, cu, ci, relabel, v2);
                continue;
            }
            push_item(&mut items, &mut range, memo, cu, ci, label, v);
        }
    }
    items.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    Ok((items, range, settled_customers))
}

/// The periods to settle for one customer.
fn labels_for(
    input: &BatchInput,
    cu: &Customer,
    work: &Work<'_>,
    opts: &SettleOptions,
    memo: &mut PeriodMemo,
) -> Result<BTreeSet<PeriodLabel>, Error> {
    let mut labels: BTreeSet<PeriodLabel> = BTreeSet::new();
    match work {
        Work::Period(label) => {
            labels.insert(*label);
        }
        Work::Incident(_) => {
            if let Some(inc) = &input.incident {
                if inc.concerns(cu) {
                    if let Some(span) = inc.span(opts.as_of) {
                        labels.extend(memo.labels_touched(cu, &input.plans, span)?);
                    }
                }
            }
            if let Some(periods) = input.referenced.get(cu.id.as_str()) {
                for p in periods {
                    let label = PeriodLabel::parse(p)
                        .map_err(|m| Error::internal(format!("ledger period {p:?}: {m}")))?;
                    labels.insert(label);
                }
            }
        }
    }
    Ok(labels)
}

/// Computes every item (shared by equal keys), compares with what is booked, and builds the
/// rows and lines.
fn settle_items(
    input: &BatchInput,
    items: &[Item<'_>],
    incidents: &[IncidentRecord],
    opts: &SettleOptions,
    mut next_id: i64,
    targets: &mut Targets,
    flush: &mut dyn FnMut(Chunk) -> Result<(), Error>,
) -> Result<BatchOut, Error> {
    targets.begin_batch(incidents);
    let mut out = BatchOut::default();
    let mut totals: BTreeMap<&'static str, (Currency, Decimal)> = BTreeMap::new();
    for (ci, label, version) in items {
        let cu = &input.customers[*ci];
        let memo = &mut targets.periods;
        let key = TargetKey {
            zone: cu.timezone,
            label: *label,
            plan_id: version.plan_id.clone(),
            version: version.version,
            history: cu.history.clone(),
            incidents: relevant_incidents(cu, *label, version, incidents, opts, memo)?,
        };
        let cx = Cx {
            cu,
            label: *label,
            version,
            plans: &input.plans,
            incidents,
            as_of: opts.as_of,
        };
        let (credit, currency) = targets.credit(&cx, &key)?;
        let label_text = label.to_string();
        let already: &[(Decimal, String)] = input
            .booked
            .get(&(cu.id.clone(), label_text.clone()))
            .map_or(&[], Vec::as_slice);
        if let Some((_, other)) = already.iter().find(|(_, cur)| cur != currency.code()) {
            return Err(Error::conflict(
                ConflictKind::State,
                "customer",
                format!(
                    "{} {label_text}: credits are booked in {other}, the plan bills in {}",
                    cu.id, currency
                ),
            ));
        }
        let amounts: Vec<Decimal> = already.iter().map(|(a, _)| *a).collect();
        let booked_sum =
            sum_amounts(&amounts).ok_or_else(|| Error::internal("booked sum overflows"))?;
        let delta = settlement_delta(credit, &amounts);
        let mut line_entry = None;
        if let Some(delta) = delta {
            let slot = totals
                .entry(currency.code())
                .or_insert((currency, Decimal::ZERO));
            slot.1 = sum_amounts(&[slot.1, delta])
                .ok_or_else(|| Error::invalid("plan.price", "the settlement total overflows"))?;
            if !opts.dry_run {
                // The entry keeps the customer's own breakdown: the full engine at this
                // customer's price, whose credit must equal the shared one.
                targets.full(&cx, &key, credit)?;
                let target = targets
                    .full
                    .get(&key)
                    .ok_or_else(|| Error::internal("target vanished"))?;
                out.appended += 1;
                // A breakdown this settlement has already sent is not sent again.
                if targets.stored.insert(target.breakdown_sha256.clone()) {
                    out.breakdowns.push(BreakdownRow {
                        sha256: target.breakdown_sha256.clone(),
                        body: target.breakdown_json.clone(),
                    });
                }
                let amount_minor = minor_of(delta, target.currency)?;
                let explanation =
                    delta_explanation(&target.explanation, booked_sum, delta, target.currency);
                out.entries.push(&SettledEntry(
                    next_id,
                    &cu.id,
                    &label_text,
                    amount_minor,
                    target.currency.code(),
                    i64::from(target.currency.minor_units()),
                    &target.incident_ids_json,
                    &target.plan_id,
                    target.version,
                    target.rounding,
                    &explanation,
                    &target.breakdown_sha256,
                    &cu.name,
                ))?;
                line_entry = Some(next_id);
                next_id += 1;
            }
        }
        if opts.record && !opts.dry_run {
            out.line_rows.push(&LineJson(
                &cu.id,
                &label_text,
                currency.code(),
                i64::from(currency.minor_units()),
                minor_of(credit, currency)?,
                minor_of(booked_sum, currency)?,
                minor_of(delta.unwrap_or(Decimal::ZERO), currency)?,
                line_entry,
            ))?;
        }
        if out.chunk_due() {
            flush(out.take_chunk()?)?;
        }
        let after = opts
            .lines_after
            .as_ref()
            .is_none_or(|(c, p)| (cu.id.as_str(), label_text.as_str()) > (c.as_str(), p.as_str()));
        // A batch never needs more lines than the whole report keeps.
        if opts.keep_lines && after && out.lines.len() < opts.lines_max {
            out.lines.push(SettlementLine {
                customer_id: cu.id.clone(),
                period: label_text,
                currency: currency.code().into(),
                target: currency.format(credit),
                booked: currency.format(booked_sum),
                delta: currency.format(delta.unwrap_or(Decimal::ZERO)),
                entry_id: line_entry.map(entry_id),
                changes: delta.is_some(),
            });
        }
    }
    flush(out.take_chunk()?)?;
    out.periods = items.len();
    out.totals = totals.into_values().collect();
    Ok(out)
}

/// An amount of `currency` in its minor units.
fn minor_of(amount: Decimal, currency: Currency) -> Result<i64, Error> {
    to_minor(amount, currency.minor_units()).ok_or_else(|| {
        Error::invalid(
            "plan.price",
            format!("the credit {amount} {currency} is out of range"),
        )
    })
}

/// The incidents (indexes) that count for one (customer, period); a real settlement refuses
/// one recorded as ending after its `as_of`.
fn relevant_incidents(
    cu: &Customer,
    label: PeriodLabel,
    version: &PlanVersion,
    incidents: &[IncidentRecord],
    opts: &SettleOptions,
    memo: &mut PeriodMemo,
) -> Result<Vec<usize>, Error> {
    let zp = memo.in_zone(label, measuring_zone(cu, version));
    let period_span = Span {
        start: zp.start,
        end: zp.end.max(zp.start + 1),
    };
    let relevant: Vec<usize> = incidents
        .iter()
        .enumerate()
        .filter(|(_, i)| {
            i.concerns(cu) && i.span(opts.as_of).is_some_and(|s| s.overlaps(&period_span))
        })
        .map(|(k, _)| k)
        .collect();
    if !opts.dry_run {
        if let Some(i) = relevant
            .iter()
            .map(|k| &incidents[*k])
            .find(|i| i.ends_after(opts.as_of))
        {
            return Err(not_yet_ended(i, opts.as_of));
        }
    }
    Ok(relevant)
}

/// A real settlement may not pay for outage time after its `as_of`.
fn not_yet_ended(incident: &IncidentRecord, as_of: Nanos) -> Error {
    Error::conflict(
        ConflictKind::NotYetEnded,
        "ended_at",
        format!(
            "incident {:?} is recorded as ending at {}, after the settlement's as_of {}: settle \
             once it has ended, or dry-run it",
            incident.id,
            incident.ended_at.map(format_utc).unwrap_or_default(),
            format_utc(as_of)
        ),
    )
}

fn push_item<'p>(
    items: &mut Vec<Item<'p>>,
    range: &mut Option<Span>,
    memo: &mut PeriodMemo,
    cu: &Customer,
    ci: usize,
    label: PeriodLabel,
    v: &'p PlanVersion,
) {
    let zp = memo.in_zone(label, measuring_zone(cu, v));
    let span = Span {
        start: zp.start,
        end: zp.end.max(zp.start + 1),
    };
    *range = Some(match *range {
        None => span,
        Some(r) => Span {
            start: r.start.min(span.start),
            end: r.end.max(span.end),
        },
    });
    items.push((ci, label, v));
}
