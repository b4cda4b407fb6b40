//! The command line (api.md): `sla-credit quote FILE.json`, and — until the HTTP API exists —
//! the way into the store: `plans`, `customers`, `incidents` to put data in, `settle`,
//! `ledger`, `goodwill` and `reverse`. Every store command takes `--database URL` (flag, else
//! env `DATABASE_URL`, else `sqlite://sla-credit.db`); the database is created and migrated on
//! first use. Output is JSON on stdout. Exit 2 on bad input with `field: message` lines on
//! stderr (nothing written); exit 1 when the database fails.

use std::io::Read;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::Value;

use crate::domain::period::PeriodLabel;
use crate::domain::quote::{parse_quote, QuoteResponse};
use crate::domain::time::{parse_instant, Nanos};
use crate::store::customers::{self, CustomerView};
use crate::store::incidents::{self, IncidentView};
use crate::store::input::{
    CustomerInput, IncidentInput, IncidentPatch, PlanChangeInput, PlanInput, PlanUpdateInput,
};
use crate::store::ledger::{self, GoodwillRequest};
use crate::store::plans::{self, PlanView};
use crate::store::settle::{self, SettleOptions, DEFAULT_BATCH_SIZE};
use crate::store::{Store, StoreError};

#[derive(Debug, Parser)]
#[command(
    name = "sla-credit",
    version,
    about = "Exact SLA credits and an append-only credit ledger"
)]
pub struct Cli {
    /// The database: `sqlite://PATH`, `sqlite:PATH` or a plain path.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://sla-credit.db"
    )]
    pub database: String,
    /// Who is acting: recorded as `created_by` on ledger entries.
    #[arg(long, global = true, env = "SLA_CREDIT_ACTOR", default_value = "cli")]
    pub actor: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Quote the credit for outage windows, a plan and a policy (the POST /v1/quote format).
    Quote {
        /// The request JSON file, or `-` for stdin.
        file: String,
    },
    /// Plans and their versioned policies.
    #[command(subcommand)]
    Plans(PlansCommand),
    /// Customers and their plan history.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Outages and maintenance.
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// Settle credits: every affected customer's periods of an incident, or one
    /// (customer, period). Appends only the difference from what is booked.
    Settle(SettleArgs),
    /// A customer's ledger entries (newest first) and balance per currency.
    Ledger {
        #[arg(long)]
        customer: String,
    },
    /// A goodwill credit: N days of a period's fee, or an amount.
    Goodwill(GoodwillArgs),
    /// Reverse a ledger entry.
    Reverse {
        #[arg(long)]
        entry: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// Add a plan (its first policy version applies from 1970 on).
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        price: String,
        #[arg(long)]
        currency: String,
        #[arg(long)]
        billing_cycle: String,
        #[arg(long)]
        annual_split: Option<String>,
        /// A policy JSON object, `{"preset": NAME, …}` or a bare preset name.
        #[arg(long)]
        policy: String,
    },
    /// Add a version: the fields given replace the latest version's, from `--effective-at`
    /// (default now).
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        price: Option<String>,
        #[arg(long)]
        billing_cycle: Option<String>,
        #[arg(long)]
        annual_split: Option<String>,
        #[arg(long)]
        policy: Option<String>,
        #[arg(long)]
        effective_at: Option<String>,
    },
    /// Show a plan with every version.
    Show {
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Add a customer on a plan.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// IANA zone (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        plan_id: String,
        /// When the plan starts (default: it always applied).
        #[arg(long)]
        plan_since: Option<String>,
    },
    /// Move a customer to another plan from an instant.
    PlanChange {
        #[arg(long)]
        id: String,
        #[arg(long)]
        plan_id: String,
        #[arg(long)]
        effective_at: String,
    },
    /// Show a customer.
    Show {
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// Record an incident.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        title: String,
        /// `outage` (default) or `maintenance`.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        started_at: String,
        #[arg(long)]
        ended_at: Option<String>,
        /// Share of the service down, in (0, 1] (default 1).
        #[arg(long)]
        impact: Option<String>,
        #[arg(long)]
        summary: Option<String>,
        /// `all` (default), `plans:ID ID …` or `customers:ID ID …`.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Set `ended_at`, `impact` or `summary`.
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        ended_at: Option<String>,
        #[arg(long)]
        impact: Option<String>,
        #[arg(long)]
        summary: Option<String>,
    },
    /// Show an incident.
    Show {
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct SettleArgs {
    /// Settle every affected customer's periods of this incident.
    #[arg(long, conflicts_with_all = ["customer", "period"])]
    pub incident: Option<String>,
    /// Settle one customer's period (with `--period`).
    #[arg(long, requires = "period")]
    pub customer: Option<String>,
    /// A period label: 2026-01 or 2026-Q1.
    #[arg(long, requires = "customer")]
    pub period: Option<String>,
    /// Count ongoing incidents up to this instant (default now).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Compute and report without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Customers per transaction.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Print one line per (customer, period) for `--incident` too.
    #[arg(long)]
    pub lines: bool,
}

#[derive(Debug, Args)]
pub struct GoodwillArgs {
    #[arg(long)]
    pub customer: String,
    /// Days of the period's fee.
    #[arg(long, conflicts_with = "amount")]
    pub days: Option<String>,
    /// An amount in the customer's currency.
    #[arg(long)]
    pub amount: Option<String>,
    #[arg(long)]
    pub currency: Option<String>,
    #[arg(long)]
    pub reason: String,
    /// Default: the customer's current period.
    #[arg(long)]
    pub period: Option<String>,
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Quote { file } => quote(&file),
        command => match run_store(&cli.database, &cli.actor, command) {
            Ok(()) => 0,
            Err(e) => report_error(&e),
        },
    }
}

/// Prints an error; bad input is `field: message` lines and exit 2, anything else exit 1.
fn report_error(e: &StoreError) -> i32 {
    eprintln!("{e}");
    if e.is_bad_input() {
        2
    } else {
        1
    }
}

fn now() -> Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn print<T: Serialize>(value: &T) -> Result<(), StoreError> {
    use std::io::Write;
    let json =
        serde_json::to_string_pretty(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // A closed pipe (`| head`) is not an error worth a panic: the work is already done.
    let _ = writeln!(std::io::stdout().lock(), "{json}");
    Ok(())
}

fn instant(text: &str, field: &str) -> Result<Nanos, StoreError> {
    parse_instant(text).map_err(|m| StoreError::invalid(field, m))
}

/// A `--policy` argument: JSON, or else a bare preset name.
fn policy_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn run_store(database: &str, actor: &str, command: Command) -> Result<(), StoreError> {
    // Check the arguments before the database is touched: bad input writes nothing.
    let now = now();
    match command {
        Command::Quote { .. } => Ok(()),
        Command::Plans(PlansCommand::Add {
            id,
            name,
            price,
            currency,
            billing_cycle,
            annual_split,
            policy,
        }) => {
            let new = PlanInput {
                id,
                name,
                price: Value::String(price),
                currency,
                billing_cycle,
                annual_split,
                policy: policy_value(&policy),
            }
            .check()?;
            let store = Store::open(database)?;
            let info = plans::add_plan(&mut *store.conn()?, &new, now)?;
            print(&PlanView::from(info.latest()))
        }
        Command::Plans(PlansCommand::Update {
            id,
            name,
            price,
            billing_cycle,
            annual_split,
            policy,
            effective_at,
        }) => {
            let input = PlanUpdateInput {
                name,
                price: price.map(Value::String),
                billing_cycle,
                annual_split,
                policy: policy.as_deref().map(policy_value),
                effective_at,
            };
            let store = Store::open(database)?;
            let info = plans::update_plan(&mut *store.conn()?, &id, &input, now)?;
            print(&PlanView::from(info.latest()))
        }
        Command::Plans(PlansCommand::Show { id }) => {
            let store = Store::open(database)?;
            let info = plans::load_plan(&mut *store.conn()?, &id)?
                .ok_or_else(|| StoreError::not_found("id", format!("no plan {id:?}")))?;
            let versions: Vec<PlanView> = info.versions.iter().map(PlanView::from).collect();
            print(&versions)
        }
        Command::Customers(CustomersCommand::Add {
            id,
            name,
            email,
            timezone,
            plan_id,
            plan_since,
        }) => {
            let new = CustomerInput {
                id,
                name,
                email,
                timezone,
                plan_id,
                plan_since,
            }
            .check()?;
            let store = Store::open(database)?;
            let c = customers::add_customer(&mut *store.conn()?, &new, now)?;
            print(&CustomerView::from(&c))
        }
        Command::Customers(CustomersCommand::PlanChange {
            id,
            plan_id,
            effective_at,
        }) => {
            let (plan_id, at) = PlanChangeInput {
                plan_id,
                effective_at,
            }
            .check()?;
            let store = Store::open(database)?;
            let c = customers::change_plan(&mut *store.conn()?, &id, &plan_id, at, now)?;
            print(&CustomerView::from(&c))
        }
        Command::Customers(CustomersCommand::Show { id }) => {
            let store = Store::open(database)?;
            let c = customers::load_customer(&mut *store.conn()?, &id)?
                .ok_or_else(|| StoreError::not_found("id", format!("no customer {id:?}")))?;
            print(&CustomerView::from(&c))
        }
        Command::Incidents(IncidentsCommand::Add {
            id,
            title,
            kind,
            started_at,
            ended_at,
            impact,
            summary,
            scope,
        }) => {
            // A string scope is read in its text form (`plans:A B`), like the CSV column.
            let scope = scope.map(Value::String);
            let new = IncidentInput {
                id,
                title,
                kind,
                started_at,
                ended_at,
                impact: impact.map(Value::String),
                summary,
                scope,
            }
            .check()?;
            let store = Store::open(database)?;
            let i = incidents::add_incident(&mut *store.conn()?, &new, now)?;
            print(&IncidentView::from(&i))
        }
        Command::Incidents(IncidentsCommand::Update {
            id,
            ended_at,
            impact,
            summary,
        }) => {
            let patch = IncidentPatch {
                ended_at,
                impact: impact.map(Value::String),
                summary,
            }
            .check()?;
            let store = Store::open(database)?;
            let i = incidents::update_incident(&mut *store.conn()?, &id, &patch, now)?;
            print(&IncidentView::from(&i))
        }
        Command::Incidents(IncidentsCommand::Show { id }) => {
            let store = Store::open(database)?;
            let i = incidents::load_incident(&mut *store.conn()?, &id)?
                .ok_or_else(|| StoreError::not_found("id", format!("no incident {id:?}")))?;
            print(&IncidentView::from(&i))
        }
        Command::Settle(args) => {
            let mut opts = SettleOptions::new(now);
            opts.actor = actor.to_string();
            opts.dry_run = args.dry_run;
            if args.batch_size == 0 {
                return Err(StoreError::invalid("batch_size", "must be at least 1"));
            }
            opts.batch_size = args.batch_size;
            if let Some(t) = &args.as_of {
                opts.as_of = instant(t, "as_of")?;
            }
            match (args.incident, args.customer, args.period) {
                (Some(incident), None, None) => {
                    opts.keep_lines = args.lines;
                    let store = Store::open(database)?;
                    let report = settle::settle_incident(&mut *store.conn()?, &incident, &opts)?;
                    print(&report)
                }
                (None, Some(customer), Some(period)) => {
                    let label = PeriodLabel::parse(&period)
                        .map_err(|m| StoreError::invalid("period", m))?;
                    let store = Store::open(database)?;
                    let report = settle::settle_customer_period(
                        &mut *store.conn()?,
                        &customer,
                        label,
                        &opts,
                    )?;
                    print(&report)
                }
                _ => Err(StoreError::invalid(
                    "incident",
                    "give --incident ID, or --customer ID with --period LABEL",
                )),
            }
        }
        Command::Ledger { customer } => {
            let store = Store::open(database)?;
            let mut conn = store.conn()?;
            let c = customers::load_customer(&mut conn, &customer)?.ok_or_else(|| {
                StoreError::not_found("customer", format!("no customer {customer:?}"))
            })?;
            let entries = ledger::entries_for_customer(&mut conn, &customer)?;
            let balances = ledger::balances(&entries)?;
            let data = ledger::entry_views(&mut conn, &entries)?;
            print(&serde_json::json!({
                "customer": CustomerView::from(&c),
                "balances": balances,
                "data": data,
            }))
        }
        Command::Goodwill(args) => {
            let days = match &args.days {
                None => None,
                Some(d) => Some(d.trim().parse::<u32>().map_err(|_| {
                    StoreError::invalid("days", "must be a whole number from 1 to 366")
                })?),
            };
            let amount = match &args.amount {
                None => None,
                Some(a) => Some(
                    crate::domain::money::parse_money(a)
                        .map_err(|m| StoreError::invalid("amount", m))?,
                ),
            };
            if days.is_none() && amount.is_none() {
                return Err(StoreError::invalid("days", "give --days N or --amount X"));
            }
            let req = GoodwillRequest {
                customer_id: args.customer,
                days,
                amount,
                currency: args.currency,
                reason: args.reason,
                period: args.period,
            };
            let store = Store::open(database)?;
            let mut conn = store.conn()?;
            let entry = ledger::goodwill(&mut conn, &req, actor, now)?;
            print(&ledger::entry_views(&mut conn, &[entry])?)
        }
        Command::Reverse { entry, reason } => {
            let id: i64 = entry.trim().parse().map_err(|_| {
                StoreError::not_found("entry", format!("no ledger entry {entry:?}"))
            })?;
            let store = Store::open(database)?;
            let mut conn = store.conn()?;
            let e = ledger::reverse(&mut conn, id, &reason, actor, now)?;
            print(&ledger::entry_views(&mut conn, &[e])?)
        }
    }
}

fn quote(file: &str) -> i32 {
    let text = if file == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("stdin: {e}");
            return 2;
        }
        s
    } else {
        match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{file}: {e}");
                return 2;
            }
        }
    };
    let result = parse_quote(&text).and_then(|input| crate::domain::compute(&input));
    match result {
        Ok(r) => match serde_json::to_string_pretty(&QuoteResponse::from(&r)) {
            Ok(json) => {
                use std::io::Write;
                // A closed pipe (`| head`) is not worth a panic: the quote is complete.
                let _ = writeln!(std::io::stdout().lock(), "{json}");
                0
            }
            Err(e) => {
                eprintln!("internal error: {e}");
                1
            }
        },
        Err(errors) => {
            eprintln!("{errors}");
            2
        }
    }
}
