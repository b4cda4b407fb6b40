//! The credit ledger (docs/rules.md §6): entries are appended, never updated or deleted (the
//! database refuses both). Balances are derived, summed in Rust with exact decimals — never by
//! SQL. Goodwill and reversal entries live here; settlement entries come from the settlement module.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use diesel::connection::DefaultLoadingMode;
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::domain::book::{
    current_period, fee_source, measuring_zone, version_for_period, EntryKind,
};
use crate::domain::ids::{self, entry_id};
use crate::domain::money::Currency;
use crate::domain::settlement::{
    goodwill_of_amount, goodwill_of_days, reversal_explanation, sum_amounts,
};
use crate::domain::time::{format_utc, Nanos};
use crate::domain::{ENGINE_VERSION, TZDB_VERSION};
use crate::wire::credits::{Balance, EntryView, GoodwillCommand, Grant, LedgerFilter};
use crate::wire::exports::export_id;
use crate::wire::{ConflictKind, Error};

use super::convert::{from_minor, read_ts, to_minor, ts};
use super::customers::load_customer;
use super::entries::{insert_entries, next_entry_id};
use super::exports::batches_of;
use super::models::{BreakdownRow, EntryRow, NewEntryRow};
use super::plans::load_plans;
use super::schema::{
    credit_breakdowns, customers, entry_references, export_ranges, ledger_entries, plan_versions,
    settlement_lines,
};
use super::sqlite::{write_tx, Conn};

/// A ledger entry, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub kind: EntryKind,
    pub customer_id: String,
    pub period: String,
    pub amount: Decimal,
    pub currency: Currency,
    pub incident_ids: Vec<String>,
    pub reason: Option<String>,
    pub created_at: Nanos,
    pub created_by: String,
    pub reverses: Option<i64>,
    pub plan_id: Option<String>,
    pub policy_version: Option<i64>,
    pub rounding: Option<String>,
    pub explanation: String,
    pub breakdown_sha256: Option<String>,
    pub as_of: Option<Nanos>,
    pub tzdb_version: String,
    pub engine_version: String,
}

impl TryFrom<EntryRow> for Entry {
    type Error = Error;
    fn try_from(r: EntryRow) -> Result<Self, Error> {
        let bad = |m: String| Error::internal(format!("ledger entry {}: {m}", r.id));
        let currency = Currency::parse(&r.currency).map_err(bad)?;
        let minor_units = u32::try_from(r.minor_units).map_err(|e| bad(e.to_string()))?;
        Ok(Entry {
            id: r.id,
            kind: EntryKind::parse(&r.kind).map_err(bad)?,
            amount: from_minor(r.amount_minor, minor_units),
            currency,
            // Most entries (goodwill, reversals) name no incident.
            incident_ids: if r.incident_ids == "[]" {
                Vec::new()
            } else {
                serde_json::from_str(&r.incident_ids).map_err(|e| bad(e.to_string()))?
            },
            created_at: read_ts(&r.created_at, "ledger_entries.created_at")?,
            as_of: r
                .as_of
                .as_deref()
                .map(|t| read_ts(t, "ledger_entries.as_of"))
                .transpose()?,
            customer_id: r.customer_id,
            period: r.period,
            reason: r.reason,
            created_by: r.created_by,
            reverses: r.reverses,
            plan_id: r.plan_id,
            policy_version: r.policy_version,
            rounding: r.rounding,
            explanation: r.explanation,
            breakdown_sha256: r.breakdown_sha256,
            tzdb_version: r.tzdb_version,
            engine_version: r.engine_version,
        })
    }
}

/// Balances per currency, summed in Rust with exact decimals (checked: an overflow is an
/// error, never a wrong figure). Entries in `exported` count as exported.
pub fn balances_with(entries: &[Entry], exported: &HashSet<i64>) -> Result<Vec<Balance>, Error> {
    sum_balances(
        entries
            .iter()
            .map(|e| (e.currency, e.amount, exported.contains(&e.id))),
    )
}

/// What a page's balances need of each of its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageAmount {
    pub currency: Currency,
    pub amount: Decimal,
}

/// Balances per currency of a page that holds every entry of a customer, from each entry's
/// amount and whether its view names an export batch.
pub fn page_balances(amounts: &[PageAmount], views: &[EntryView]) -> Result<Vec<Balance>, Error> {
    sum_balances(
        amounts
            .iter()
            .zip(views)
            .map(|(a, v)| (a.currency, a.amount, v.export_id.is_some())),
    )
}

/// Balances per currency of (currency, amount, exported) items.
fn sum_balances(
    items: impl Iterator<Item = (Currency, Decimal, bool)>,
) -> Result<Vec<Balance>, Error> {
    type Sums = (Currency, Vec<Decimal>, Vec<Decimal>);
    let mut by_currency: BTreeMap<&'static str, Sums> = BTreeMap::new();
    for (currency, amount, exported) in items {
        let slot = by_currency
            .entry(currency.code())
            .or_insert_with(|| (currency, Vec::new(), Vec::new()));
        slot.1.push(amount);
        if exported {
            slot.2.push(amount);
        }
    }
    by_currency
        .into_values()
        .map(|(currency, amounts, out)| {
            let overflow = || Error::internal("balance overflows");
            let amount = sum_amounts(&amounts).ok_or_else(overflow)?;
            let exported = sum_amounts(&out).ok_or_else(overflow)?;
            let pending = amount.checked_sub(exported).ok_or_else(overflow)?;
            Ok(Balance {
                currency: currency.code().to_string(),
                total: currency.format(amount),
                exported: currency.format(exported),
                pending: currency.format(pending),
            })
        })
        .collect()
}

/// Balances per currency of entries taken as not exported (see [`balances_in`]).
pub fn balances(entries: &[Entry]) -> Result<Vec<Balance>, Error> {
    balances_with(entries, &HashSet::new())
}

/// Balances per currency, with `exported` = the sum of the entries in an export batch and
/// `pending` = total − exported.
pub fn balances_in(conn: &mut Conn, entries: &[Entry]) -> Result<Vec<Balance>, Error> {
    let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
    let exported: HashSet<i64> = batches_of(conn, &ids)?.into_keys().collect();
    balances_with(entries, &exported)
}

/// A customer's entries, newest first.
pub fn entries_for_customer(conn: &mut Conn, customer_id: &str) -> Result<Vec<Entry>, Error> {
    let rows: Vec<EntryRow> = ledger_entries::table
        .filter(ledger_entries::customer_id.eq(customer_id))
        .order(ledger_entries::id.desc())
        .select(EntryRow::as_select())
        .load(conn)?;
    rows.into_iter().map(Entry::try_from).collect()
}

/// One page of a customer's entries, newest first, older than the cursor entry.
///
/// No SQL `LIMIT`: SQLite re-prepares a statement whose LIMIT is a bound parameter each time
/// it is bound, so the rows are stepped lazily (newest first along
/// `ledger_entries_customer_id`) and the statement stops after `limit` of them; it stays
/// prepared in diesel's statement cache.
pub fn customer_entries_page(
    conn: &mut Conn,
    customer_id: &str,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Entry>, Error> {
    let rows = ledger_entries::table
        .filter(ledger_entries::customer_id.eq(customer_id))
        .filter(ledger_entries::id.lt(before.unwrap_or(i64::MAX)))
        .order(ledger_entries::id.desc())
        .select(EntryRow::as_select())
        .load_iter::<EntryRow, DefaultLoadingMode>(conn)?;
    let mut out = Vec::with_capacity(limit.min(512));
    for row in rows.take(limit) {
        out.push(Entry::try_from(row?)?);
    }
    Ok(out)
}

/// A row of [`customer_page`]: the entry and what its view joins in (reference, export batch,
/// breakdown body, reversing entry, settlement, policy as applied).
type PageRow = (
    EntryRow,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The join term "entry `ledger_entries.id` lies in this `export_ranges` row", with the only
/// row that can hold it named: ranges never overlap, so it is the one with the smallest
/// `last_entry_id` at or above the id. Without that SQLite tries every range that ends after
/// the entry (the index on `last_entry_id` gives it no upper bound): cost growing with the
/// number of batches made since, 0.9 ms a customer at 1,000 batches against 0.04 ms with it.
/// The smallest end is a scalar subquery ([`FirstRangeEndingFromEntry`]): `=` on it costs
/// SQLite one index probe a row, where `IN` built a one-row list first.
macro_rules! in_export_range {
    () => {
        ledger_entries::id
            .gt(export_ranges::after_entry_id)
            .and(ledger_entries::id.le(export_ranges::last_entry_id))
            .and(
                export_ranges::last_entry_id
                    .nullable()
                    .eq(FirstRangeEndingFromEntry),
            )
    };
}

/// `(SELECT min(last_entry_id) FROM export_ranges WHERE last_entry_id >= ledger_entries.id)`
/// as an expression of the query around it ([`in_export_range`]). Written out because
/// diesel's `single_value` binds a `LIMIT` (SQLite prepares a statement with a bound `LIMIT`
/// again at every run; `min` gives one row without one) and a `dsl::sql` fragment keeps the
/// statement out of diesel's cache of prepared statements; this one stays in it.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct FirstRangeEndingFromEntry;

impl diesel::Expression for FirstRangeEndingFromEntry {
    type SqlType = diesel::sql_types::Nullable<diesel::sql_types::BigInt>;
}

impl<QS> diesel::AppearsOnTable<QS> for FirstRangeEndingFromEntry {}

impl<QS> diesel::SelectableExpression<QS> for FirstRangeEndingFromEntry {}

impl<GB> diesel::expression::ValidGrouping<GB> for FirstRangeEndingFromEntry {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for FirstRangeEndingFromEntry {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql(
            "(SELECT min(later.last_entry_id) FROM export_ranges AS later \
             WHERE later.last_entry_id >= `ledger_entries`.`id`)",
        );
        Ok(())
    }
}

/// One page of a customer's entries (newest first, older than the cursor entry, at most
/// `limit`) with their views, read in one statement: the entries joined with their
/// reference, export link, breakdown, reversal and settlement line instead of a query per
/// table (all but the settlement line are unique per entry by the schema's keys; should an
/// entry ever meet two rows, its first row counts), and stepped lazily without a SQL `LIMIT`
/// (see [`customer_entries_page`]). The policies as applied are read after it, once per
/// distinct plan version on the page (usually one), not joined to every row. Breakdowns and
/// policies are parsed once per page for each distinct one. The views are those
/// [`entry_views`] gives.
pub fn customer_page(
    conn: &mut Conn,
    customer_id: &str,
    before: Option<i64>,
    limit: usize,
) -> Result<(Vec<PageAmount>, Vec<EntryView>), Error> {
    let reversals = diesel::alias!(ledger_entries as reversals);
    let rows = ledger_entries::table
        .left_join(entry_references::table)
        .left_join(export_ranges::table.on(in_export_range!()))
        .left_join(credit_breakdowns::table)
        .left_join(
            reversals.on(reversals
                .field(ledger_entries::reverses)
                .eq(ledger_entries::id.nullable())),
        )
        .left_join(
            settlement_lines::table
                .on(settlement_lines::entry_id.eq(ledger_entries::id.nullable())),
        )
        .filter(ledger_entries::customer_id.eq(customer_id))
        .filter(ledger_entries::id.lt(before.unwrap_or(i64::MAX)))
        .order(ledger_entries::id.desc())
        .select((
            EntryRow::as_select(),
            entry_references::reference.nullable(),
            export_ranges::export_id.nullable(),
            credit_breakdowns::body.nullable(),
            reversals.field(ledger_entries::id).nullable(),
            settlement_lines::settlement_id.nullable(),
        ))
        .load_iter::<PageRow, DefaultLoadingMode>(conn)?;
    let mut amounts = Vec::with_capacity(limit.min(512));
    let mut read = Vec::with_capacity(limit.min(512));
    let mut last_id = None;
    let mut bodies: HashMap<String, Arc<Value>> = HashMap::new();
    let (nothing, no_policy) = (null(), raw_null());
    for row in rows {
        let (row, reference, export_id, body, reversed_by, settlement_id) = row?;
        // Rows of one entry are adjacent (ordered by id); the first one counts.
        if last_id == Some(row.id) {
            continue;
        }
        if read.len() == limit {
            break;
        }
        last_id = Some(row.id);
        let entry = Entry::try_from(row)?;
        let breakdown = match (&entry.breakdown_sha256, body) {
            (Some(sha), Some(text)) => parsed_once(&mut bodies, sha.clone(), &text, stored_json)?,
            _ => Arc::clone(&nothing),
        };
        let joined = Joined {
            reference,
            export_id,
            reversed_by,
            settlement_id,
            breakdown,
            policy: Arc::clone(&no_policy),
        };
        amounts.push(PageAmount {
            currency: entry.currency,
            amount: entry.amount,
        });
        read.push((entry, joined));
    }
    let mut policies: HashMap<(String, i64), Arc<RawValue>> = HashMap::new();
    let mut views = Vec::with_capacity(read.len());
    for (entry, mut joined) in read {
        if let (Some(plan), Some(version)) = (&entry.plan_id, entry.policy_version) {
            let key = (plan.clone(), version);
            joined.policy = match policies.get(&key) {
                Some(policy) => Arc::clone(policy),
                None => {
                    let policy = policy_as_applied(conn, plan, version)?
                        .unwrap_or_else(|| Arc::clone(&no_policy));
                    policies.insert(key, Arc::clone(&policy));
                    policy
                }
            };
        }
        views.push(view_of(entry, joined));
    }
    Ok((amounts, views))
}

/// The policy a plan version applies, rendered once ([`stored_raw`]); `None` if the version
/// is not stored.
fn policy_as_applied(
    conn: &mut Conn,
    plan_id: &str,
    version: i64,
) -> Result<Option<Arc<RawValue>>, Error> {
    // `load`, not `first`: a bound `LIMIT` would have SQLite prepare the statement again at
    // every run, and (plan, version) is the key, so there is one row or none.
    let texts: Vec<String> = plan_versions::table
        .filter(plan_versions::plan_id.eq(plan_id))
        .filter(plan_versions::version.eq(version))
        .select(plan_versions::policy)
        .load(conn)?;
    texts.first().map(|t| stored_raw(t)).transpose()
}

/// A JSON text, read once per key.
fn parsed_once<K: std::hash::Hash + Eq, V: ?Sized>(
    seen: &mut HashMap<K, Arc<V>>,
    key: K,
    text: &str,
    read: fn(&str) -> Result<Arc<V>, Error>,
) -> Result<Arc<V>, Error> {
    if let Some(v) = seen.get(&key) {
        return Ok(Arc::clone(v));
    }
    let v = read(text)?;
    seen.insert(key, Arc::clone(&v));
    Ok(v)
}

/// A stored JSON text (a breakdown, a policy), parsed to be shared by the entries that have it.
fn stored_json(text: &str) -> Result<Arc<Value>, Error> {
    let v: Value = serde_json::from_str(text).map_err(|e| Error::internal(e.to_string()))?;
    Ok(Arc::new(v))
}

/// A stored policy, rendered as JSON once to be written as it is by every entry that has
/// it: parsed and rendered again, so its text is the one rendering a parsed value gives (keys
/// in order, no spaces), whatever spacing it was stored with.
///
/// A policy version never changes and every page of a lookup shows the same few: each thread
/// remembers the renderings of the texts it has seen lately.
fn stored_raw(text: &str) -> Result<Arc<RawValue>, Error> {
    use std::cell::RefCell;
    thread_local! {
        static RENDERED: RefCell<HashMap<String, Arc<RawValue>>> = RefCell::new(HashMap::new());
    }
    /// Renderings kept per thread; past it the memory starts again.
    const REMEMBERED: usize = 256;
    if let Some(raw) = RENDERED.with(|r| r.borrow().get(text).cloned()) {
        return Ok(raw);
    }
    let v: Value = serde_json::from_str(text).map_err(|e| Error::internal(e.to_string()))?;
    let raw: Arc<RawValue> =
        Arc::from(serde_json::value::to_raw_value(&v).map_err(|e| Error::internal(e.to_string()))?);
    RENDERED.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() >= REMEMBERED {
            r.clear();
        }
        r.insert(text.to_owned(), Arc::clone(&raw));
    });
    Ok(raw)
}

/// JSON `null`, for the entries without a breakdown (one per page, shared).
fn null() -> Arc<Value> {
    Arc::new(Value::Null)
}

/// JSON `null` as rendered text, for the entries without a policy.
fn raw_null() -> Arc<RawValue> {
    Arc::from(RawValue::NULL.to_owned())
}

/// A customer's balances per currency, from every entry's amount (summed in Rust): one
/// statement reading only the amounts and their export links.
pub fn customer_balances(conn: &mut Conn, customer_id: &str) -> Result<Vec<Balance>, Error> {
    let rows: Vec<(i64, String, i64, Option<i64>)> = ledger_entries::table
        .left_join(export_ranges::table.on(in_export_range!()))
        .filter(ledger_entries::customer_id.eq(customer_id))
        .select((
            ledger_entries::amount_minor,
            ledger_entries::currency,
            ledger_entries::minor_units,
            export_ranges::export_id.nullable(),
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(minor, code, units, export)| {
            let bad = |m: String| Error::internal(format!("ledger entry of {customer_id}: {m}"));
            let currency = Currency::parse(&code).map_err(bad)?;
            let units = u32::try_from(units).map_err(|e| bad(e.to_string()))?;
            Ok((currency, from_minor(minor, units), export.is_some()))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    sum_balances(items.into_iter())
}

/// One page of the ledger in commit order (ascending id), after the cursor entry.
pub fn list_entries(
    conn: &mut Conn,
    filter: &LedgerFilter,
    after: Option<i64>,
    limit: usize,
) -> Result<Vec<Entry>, Error> {
    let mut q = ledger_entries::table
        .order(ledger_entries::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(ledger_entries::id.gt(a));
    }
    if let Some(c) = &filter.customer_id {
        q = q.filter(ledger_entries::customer_id.eq(c.clone()));
    }
    if let Some(k) = filter.kind {
        q = q.filter(ledger_entries::kind.eq(k.as_str()));
    }
    if let Some(from) = filter.from {
        q = q.filter(ledger_entries::created_at.ge(ts(from)));
    }
    if let Some(to) = filter.to {
        q = q.filter(ledger_entries::created_at.lt(ts(to)));
    }
    let rows: Vec<EntryRow> = q.select(EntryRow::as_select()).load(conn)?;
    rows.into_iter().map(Entry::try_from).collect()
}

/// One entry.
pub fn load_entry(conn: &mut Conn, id: i64) -> Result<Option<Entry>, Error> {
    let row: Option<EntryRow> = ledger_entries::table
        .find(id)
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?;
    row.map(Entry::try_from).transpose()
}

/// Entries as JSON, with their breakdowns and policies joined in.
pub fn entry_views(conn: &mut Conn, entries: &[Entry]) -> Result<Vec<EntryView>, Error> {
    let shas: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.breakdown_sha256.as_deref())
        .collect();
    let mut bodies: HashMap<String, Arc<Value>> = HashMap::new();
    for chunk in shas.chunks(10_000) {
        let rows: Vec<BreakdownRow> = credit_breakdowns::table
            .filter(credit_breakdowns::sha256.eq_any(chunk))
            .select(BreakdownRow::as_select())
            .load(conn)?;
        for r in rows {
            bodies.insert(r.sha256, stored_json(&r.body)?);
        }
    }
    let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
    let mut reversed_by: HashMap<i64, i64> = HashMap::new();
    for chunk in ids.chunks(10_000) {
        let pairs: Vec<(i64, Option<i64>)> = ledger_entries::table
            .filter(ledger_entries::reverses.eq_any(chunk))
            .select((ledger_entries::id, ledger_entries::reverses))
            .load(conn)?;
        for (id, original) in pairs {
            if let Some(o) = original {
                reversed_by.insert(o, id);
            }
        }
    }
    // Only goodwill carries a reference, only settlement entries a settlement.
    let of_kind = |k: EntryKind| -> Vec<i64> {
        entries
            .iter()
            .filter(|e| e.kind == k)
            .map(|e| e.id)
            .collect()
    };
    let goodwill_ids = of_kind(EntryKind::Goodwill);
    let settled_ids = of_kind(EntryKind::SlaCredit);
    let mut references: HashMap<i64, String> = HashMap::new();
    for chunk in goodwill_ids.chunks(10_000) {
        let pairs: Vec<(i64, String)> = entry_references::table
            .filter(entry_references::entry_id.eq_any(chunk))
            .select((entry_references::entry_id, entry_references::reference))
            .load(conn)?;
        references.extend(pairs);
    }
    let batches = batches_of(conn, &ids)?;
    let settled_by = super::settlements::settlements_of_entries(conn, &settled_ids)?;
    let mut policies: HashMap<(String, i64), Arc<RawValue>> = HashMap::new();
    for e in entries {
        if let (Some(p), Some(v)) = (&e.plan_id, e.policy_version) {
            if policies.contains_key(&(p.clone(), v)) {
                continue;
            }
            let text: String = plan_versions::table
                .find((p, v))
                .select(plan_versions::policy)
                .first(conn)?;
            policies.insert((p.clone(), v), stored_raw(&text)?);
        }
    }
    let (nothing, no_policy) = (null(), raw_null());
    Ok(entries
        .iter()
        .map(|e| {
            let joined = Joined {
                reference: references.get(&e.id).cloned(),
                export_id: batches.get(&e.id).copied(),
                reversed_by: reversed_by.get(&e.id).copied(),
                settlement_id: settled_by.get(&e.id).copied(),
                breakdown: e
                    .breakdown_sha256
                    .as_ref()
                    .and_then(|s| bodies.get(s).cloned())
                    .unwrap_or_else(|| Arc::clone(&nothing)),
                policy: match (&e.plan_id, e.policy_version) {
                    (Some(p), Some(v)) => policies
                        .get(&(p.clone(), v))
                        .cloned()
                        .unwrap_or_else(|| Arc::clone(&no_policy)),
                    _ => Arc::clone(&no_policy),
                },
            };
            view_of(e.clone(), joined)
        })
        .collect())
}

/// What an entry's view takes from other tables.
struct Joined {
    reference: Option<String>,
    export_id: Option<i64>,
    reversed_by: Option<i64>,
    settlement_id: Option<i64>,
    breakdown: Arc<Value>,
    policy: Arc<RawValue>,
}

/// The view of one entry (its texts moved, not copied).
fn view_of(e: Entry, j: Joined) -> EntryView {
    EntryView {
        id: entry_id(e.id),
        kind: e.kind.as_str().to_string(),
        customer_id: e.customer_id,
        period: e.period,
        amount: e.currency.format(e.amount),
        currency: e.currency.code().to_string(),
        incident_ids: e.incident_ids,
        reason: e.reason,
        reference: j.reference,
        created_at: format_utc(e.created_at),
        created_by: e.created_by,
        reverses: e.reverses.map(entry_id),
        reversed_by: j.reversed_by.map(entry_id),
        settlement_id: j.settlement_id.map(crate::wire::credits::settlement_id),
        export_id: j.export_id.map(export_id),
        plan_id: e.plan_id,
        policy_version: e.policy_version,
        rounding: e.rounding,
        explanation: e.explanation,
        breakdown: j.breakdown,
        policy: j.policy,
        as_of: e.as_of.map(format_utc),
        tzdb_version: e.tzdb_version,
        engine_version: e.engine_version,
    }
}

/// Appends a goodwill entry. It is outside the settlement sum: it never shrinks a contractual
/// credit, and a later settlement ignores it.
pub fn goodwill(
    conn: &mut Conn,
    cmd: &GoodwillCommand,
    actor: &str,
    now: Nanos,
) -> Result<Entry, Error> {
    write_tx(conn, |c| {
        let customer = load_customer(c, &cmd.customer_id)?
            .ok_or_else(|| Error::not_found("customer", cmd.customer_id.as_str()))?;
        if let Some(reference) = &cmd.reference {
            if let Some(existing) = referenced_entry(c, &customer.id, reference)? {
                return Err(Error::conflict(
                    ConflictKind::IdTaken,
                    "reference",
                    format!(
                        "{reference:?} already names {} for this customer",
                        entry_id(existing)
                    ),
                ));
            }
        }
        let plans = load_plans(c)?;
        let label = match cmd.period {
            Some(p) => p,
            None => current_period(&customer, &plans, now)?,
        };
        let version = version_for_period(&customer, &plans, label)?;
        if version.policy.period != label.kind() {
            return Err(Error::invalid(
                "period",
                format!(
                    "the customer's policy measures by {}",
                    version.policy.period.as_str()
                ),
            ));
        }
        let currency = version.currency;
        if let Some(given) = cmd.currency {
            if given != currency {
                return Err(Error::invalid(
                    "currency",
                    format!("the customer is billed in {}", currency.code()),
                ));
            }
        }
        let (figure, field) = match cmd.grant {
            Grant::Days(days) => {
                let zone = measuring_zone(&customer, version);
                let fees = fee_source(&customer, &plans)?;
                let g =
                    goodwill_of_days(&fees, zone, label, days, currency, version.policy.rounding)
                        .ok_or_else(|| {
                        Error::invalid("days", "the amount exceeds the supported range")
                    })?;
                (g, "days")
            }
            Grant::Amount(amount) => (goodwill_of_amount(amount, currency), "amount"),
        };
        let amount_minor = to_minor(figure.amount, currency.minor_units()).ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "must be a whole number of {} minor units, within range",
                    currency.code()
                ),
            )
        })?;
        if amount_minor == 0 {
            return Err(Error::invalid(
                field,
                "the period's fee is 0: nothing to grant",
            ));
        }
        let row = EntryRow {
            id: next_entry_id(c)?,
            kind: EntryKind::Goodwill.as_str().into(),
            customer_id: customer.id.clone(),
            period: label.to_string(),
            amount_minor,
            currency: currency.code().into(),
            minor_units: i64::from(currency.minor_units()),
            incident_ids: "[]".into(),
            reason: Some(cmd.reason.clone()),
            created_at: ts(now),
            created_by: actor.to_string(),
            reverses: None,
            plan_id: Some(version.plan_id.clone()),
            policy_version: Some(version.version),
            rounding: Some(version.policy.rounding.as_str().into()),
            explanation: figure.explanation,
            breakdown_sha256: None,
            as_of: None,
            tzdb_version: TZDB_VERSION.into(),
            engine_version: ENGINE_VERSION.into(),
        };
        let id = row.id;
        let row = NewEntryRow {
            entry: row,
            customer_name: Some(customer.name.clone()),
            settlement_id: None,
        };
        insert_entries(c, &[row])?;
        if let Some(reference) = &cmd.reference {
            diesel::insert_into(entry_references::table)
                .values((
                    entry_references::entry_id.eq(id),
                    entry_references::customer_id.eq(&customer.id),
                    entry_references::reference.eq(reference),
                ))
                .execute(c)?;
        }
        load_entry(c, id)?.ok_or_else(|| Error::internal("entry vanished"))
    })
}

/// The entry a goodwill `reference` already names for a customer.
fn referenced_entry(
    conn: &mut Conn,
    customer_id: &str,
    reference: &str,
) -> Result<Option<i64>, Error> {
    Ok(entry_references::table
        .filter(entry_references::customer_id.eq(customer_id))
        .filter(entry_references::reference.eq(reference))
        .select(entry_references::entry_id)
        .first(conn)
        .optional()?)
}

/// Appends the reversal of an entry: the same amount with the opposite sign, same customer,
/// period and currency. An entry is reversed at most once (a UNIQUE key on `reverses`), and a
/// reversal is not itself reversed. A reversed `sla_credit` stays reversed: reversals are
/// outside the settlement sum.
pub fn reverse(
    conn: &mut Conn,
    entry_id: i64,
    reason: &str,
    actor: &str,
    now: Nanos,
) -> Result<Entry, Error> {
    write_tx(conn, |c| {
        let original = load_entry(c, entry_id)?
            .ok_or_else(|| Error::not_found("entry", ids::entry_id(entry_id)))?;
        if original.kind == EntryKind::Reversal {
            return Err(Error::conflict(
                ConflictKind::AlreadyReversed,
                "entry",
                "a reversal cannot be reversed",
            ));
        }
        let already: i64 = ledger_entries::table
            .filter(ledger_entries::reverses.eq(entry_id))
            .count()
            .get_result(c)?;
        if already > 0 {
            return Err(Error::conflict(
                ConflictKind::AlreadyReversed,
                "entry",
                format!("{} is already reversed", ids::entry_id(entry_id)),
            ));
        }
        let minor_units = original.currency.minor_units();
        let amount_minor = to_minor(-original.amount, minor_units)
            .ok_or_else(|| Error::internal(format!("entry {entry_id}: amount out of range")))?;
        let row = EntryRow {
            id: next_entry_id(c)?,
            kind: EntryKind::Reversal.as_str().into(),
            customer_id: original.customer_id.clone(),
            period: original.period.clone(),
            amount_minor,
            currency: original.currency.code().into(),
            minor_units: i64::from(minor_units),
            incident_ids: serde_json::to_string(&original.incident_ids)
                .map_err(|e| Error::internal(e.to_string()))?,
            reason: Some(reason.to_string()),
            created_at: ts(now),
            created_by: actor.to_string(),
            reverses: Some(entry_id),
            plan_id: original.plan_id.clone(),
            policy_version: original.policy_version,
            rounding: original.rounding.clone(),
            explanation: reversal_explanation(
                &ids::entry_id(entry_id),
                -original.amount,
                original.currency,
            ),
            breakdown_sha256: None,
            as_of: None,
            tzdb_version: TZDB_VERSION.into(),
            engine_version: ENGINE_VERSION.into(),
        };
        let id = row.id;
        let row = NewEntryRow {
            entry: row,
            customer_name: customers::table
                .find(&original.customer_id)
                .select(customers::name)
                .first(c)
                .optional()?,
            settlement_id: None,
        };
        insert_entries(c, &[row])?;
        load_entry(c, id)?.ok_or_else(|| Error::internal("entry vanished"))
    })
}
