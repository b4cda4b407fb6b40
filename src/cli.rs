//! The command line (docs/cli.md). Arguments become the same request forms the HTTP API reads
//! ([`crate::wire`]); the store runs the checked commands. Output is JSON on stdout. Bad input
//! exits 2 with `field: message` lines on stderr and writes nothing; a failure of the service
//! itself (database busy, internal error) exits 1.

use std::io::Read;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::Value;

use crate::domain::ids::parse_entry_id;
use crate::domain::period::PeriodLabel;
use crate::domain::quote::{parse_quote, QuoteResponse};
use crate::domain::time::{format_local, Nanos};
use crate::store::settle::{self, SettleOptions, DEFAULT_BATCH_SIZE};
use crate::store::{customers, incidents, ledger, plans, Store};
use crate::wire::credits::{EntryLine, EntryView, GoodwillInput, ReversalInput, SettleInput};
use crate::wire::customers::{CustomerInput, CustomerView, PlanChangeInput};
use crate::wire::incidents::{IncidentInput, IncidentPatch, IncidentView};
use crate::wire::plans::{PlanInput, PlanUpdateInput, PlanView};
use crate::wire::{error::Lines, Error};

const AFTER_HELP: &str = "Instants are RFC 3339 with an offset (2026-01-16T05:06:00Z or \
2026-01-15T21:06:00-08:00), from 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z. Decimals are \
plain (12.50, -5), at most 28 significant digits. Exit 0 on success, 2 on bad input \
(`field: message` on stderr, nothing written), 1 when the service fails.";

#[derive(Debug, Parser)]
#[command(
    name = "sla-credit",
    version,
    about = "Exact SLA credits and an append-only credit ledger",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// The database: `sqlite://PATH`, `sqlite:PATH` or a plain path. Commands that write
    /// create and migrate it; commands that only read need it to exist.
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
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default command).
    Serve(ServeArgs),
    /// API keys for the HTTP API.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Quote the credit for outage windows, a plan and a policy (the POST /v1/quote body);
    /// reads no database.
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
    /// Outages and maintenance windows.
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// Settle credits: every affected customer's periods of an incident, or one
    /// (customer, period). Appends only the difference from what is booked.
    Settle(SettleArgs),
    /// Write the follow-up notice of every customer an incident's recorded settlements
    /// credited: one file per customer (CUSTOMER.md, or .html), from the templates.
    Notices(NoticesArgs),
    /// A customer's balance per currency and ledger entries, newest first.
    Ledger(LedgerArgs),
    /// A goodwill credit: N days of a period's fee, or an amount.
    Goodwill(GoodwillArgs),
    /// Import a CSV file of customers, plans or incidents (docs/csv.md): every row is
    /// checked first; any bad row → exit 2 listing them, nothing stored.
    Import(ImportArgs),
    /// Make a billing export batch of every entry not yet in one, and write its CSV; or,
    /// with `--batch`, write an existing batch's CSV again (byte-identical).
    Export(ExportArgs),
    /// What-if (docs/whatif.md): every customer's credit for the incidents of a file, from
    /// the import files alone; no database, nothing stored. Rows as CSV.
    WhatIf(WhatIfArgs),
    /// Reverse a ledger entry (append the opposite amount).
    Reverse {
        /// The entry's id (`cre_42`).
        #[arg(long)]
        entry: String,
        /// Why, in words the customer may read.
        #[arg(long)]
        reason: String,
    },
}

/// The help of `--policy`; the preset names are those of `domain::presets::PRESET_NAMES`.
const POLICY_HELP: &str = "A policy JSON object, {\"preset\": NAME, …overrides}, or a bare \
preset name: aws-ec2-region, azure-vm, atlassian, mongodb-atlas, slack-10x, olark-2-days";

#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// Add a plan (its first policy version applies from 1970 on).
    Add {
        /// The plan's id: 1 to 128 of A-Z a-z 0-9 . _ : -
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// The price per billing cycle, a plain decimal with at most the currency's minor
        /// digits (29.00).
        #[arg(long, allow_hyphen_values = true)]
        price: String,
        /// ISO 4217 code (USD, EUR, JPY, KWD, …).
        #[arg(long)]
        currency: String,
        /// monthly, quarterly or annual.
        #[arg(long)]
        billing_cycle: String,
        /// For annual plans: twelfths (default) or days.
        #[arg(long)]
        annual_split: Option<String>,
        #[arg(long, help = POLICY_HELP)]
        policy: String,
    },
    /// Add a version: the fields given replace the latest version's, from `--effective-at`
    /// (default now). An update that changes nothing is refused.
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// The new price per billing cycle.
        #[arg(long, allow_hyphen_values = true)]
        price: Option<String>,
        /// monthly, quarterly or annual.
        #[arg(long)]
        billing_cycle: Option<String>,
        /// twelfths or days.
        #[arg(long)]
        annual_split: Option<String>,
        #[arg(long, help = POLICY_HELP)]
        policy: Option<String>,
        /// When the new version takes effect (RFC 3339; default now).
        #[arg(long)]
        effective_at: Option<String>,
    },
    /// Show a plan with every version.
    Show {
        #[arg(long)]
        id: String,
    },
    /// List plans (latest versions), by id.
    List,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Add a customer on a plan.
    Add {
        /// The customer's id: 1 to 128 of A-Z a-z 0-9 . _ : -
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// IANA zone (Europe/Berlin; default UTC): periods and days are local there.
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        plan_id: String,
        /// When the plan starts (RFC 3339; default: it always applied).
        #[arg(long)]
        plan_since: Option<String>,
    },
    /// Move a customer to another plan (same currency) from an instant.
    PlanChange {
        #[arg(long)]
        id: String,
        #[arg(long)]
        plan_id: String,
        /// RFC 3339 instant.
        #[arg(long)]
        effective_at: String,
    },
    /// Show a customer.
    Show {
        #[arg(long)]
        id: String,
    },
    /// List customers by id; `--q` keeps those whose id, name or e-mail starts with it.
    List {
        #[arg(long)]
        q: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// Record an incident.
    Add {
        /// The incident's id: 1 to 128 of A-Z a-z 0-9 . _ : -
        #[arg(long)]
        id: String,
        #[arg(long)]
        title: String,
        /// outage (default: counts as downtime) or maintenance (excluded from downtime).
        #[arg(long)]
        kind: Option<String>,
        /// RFC 3339 instant.
        #[arg(long)]
        started_at: String,
        /// RFC 3339 instant; absent while ongoing.
        #[arg(long)]
        ended_at: Option<String>,
        /// Share of the service down, a decimal in (0, 1] (default 1).
        #[arg(long, allow_hyphen_values = true)]
        impact: Option<String>,
        /// What happened, for the customer notice.
        #[arg(long)]
        summary: Option<String>,
        /// all (default), "plans:ID ID …" or "customers:ID ID …".
        #[arg(long)]
        scope: Option<String>,
    },
    /// Set `ended_at`, `impact` or `summary`.
    Update {
        #[arg(long)]
        id: String,
        /// RFC 3339 instant.
        #[arg(long)]
        ended_at: Option<String>,
        /// A decimal in (0, 1].
        #[arg(long, allow_hyphen_values = true)]
        impact: Option<String>,
        #[arg(long)]
        summary: Option<String>,
    },
    /// Show an incident.
    Show {
        #[arg(long)]
        id: String,
    },
    /// List incidents by id.
    List,
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, env = "SLA_CREDIT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Connections in the database pool.
    #[arg(long, default_value_t = crate::http::DEFAULT_POOL_SIZE)]
    pub pool_size: u32,
    /// SQLite's page cache per pooled connection, in MiB.
    #[arg(long, default_value_t = crate::http::DEFAULT_PAGE_CACHE_MIB)]
    pub page_cache_mib: u32,
    /// MiB of the database file read through a memory map (0: none).
    #[arg(long, default_value_t = crate::http::DEFAULT_MMAP_MIB)]
    pub mmap_mib: u32,
    /// HTTP worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints its token alone on stdout (shown once; only a hash is stored).
    Create {
        /// The key's name (recorded as `created_by` of what it writes).
        #[arg(long)]
        name: String,
        /// admin, billing, finance or support.
        #[arg(long)]
        role: String,
    },
    /// List keys (names, roles, dates; never tokens).
    List,
    /// Revoke a key by name.
    Revoke {
        /// The key's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct NoticesArgs {
    /// The incident whose settled credits the notices are about.
    #[arg(long)]
    pub incident: String,
    /// The directory to write into (created if missing).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// `md` (Markdown) or `html`.
    #[arg(long, default_value = "md")]
    pub format: String,
    /// A directory with `notice.md.j2` and `notice.html.j2` replacing the embedded templates.
    #[arg(long, env = "SLA_CREDIT_TEMPLATES")]
    pub templates: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct SettleArgs {
    /// Settle every affected customer's periods of this incident.
    #[arg(long, conflicts_with_all = ["customer", "period"])]
    pub incident: Option<String>,
    /// Settle one customer's period (with `--period`).
    #[arg(long, requires = "period")]
    pub customer: Option<String>,
    /// A period label: 2026-01 (month) or 2026-Q1 (quarter).
    #[arg(long, requires = "customer")]
    pub period: Option<String>,
    /// Count outage time up to this RFC 3339 instant (default now; never later than now
    /// unless `--dry-run`).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Compute and report the deltas it would append, without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Customers per transaction.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Print every (customer, period), also those with nothing to append.
    #[arg(long)]
    pub lines: bool,
}

#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[arg(long)]
    pub customer: String,
    /// Only this period: 2026-01 or 2026-Q1.
    #[arg(long)]
    pub period: Option<String>,
    /// Print each entry whole, with its breakdown and policy as applied.
    #[arg(long)]
    pub breakdown: bool,
}

#[derive(Debug, Args)]
pub struct GoodwillArgs {
    #[arg(long)]
    pub customer: String,
    /// Whole days of the period's fee, 1 to 366.
    #[arg(long, conflicts_with = "amount", allow_hyphen_values = true)]
    pub days: Option<String>,
    /// An amount in the customer's currency (plain decimal).
    #[arg(long, allow_hyphen_values = true)]
    pub amount: Option<String>,
    /// With `--amount`: must be the customer's currency.
    #[arg(long)]
    pub currency: Option<String>,
    /// Why, in words the customer may read.
    #[arg(long)]
    pub reason: String,
    /// The period: 2026-01 or 2026-Q1 (default: the customer's current one).
    #[arg(long)]
    pub period: Option<String>,
    /// A natural key, unique per customer.
    #[arg(long)]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// customers, plans or incidents.
    pub kind: String,
    /// The CSV file.
    pub file: std::path::PathBuf,
    /// Check every row and report; store nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct WhatIfArgs {
    /// The customers file (the customers import format).
    #[arg(long)]
    pub customers: std::path::PathBuf,
    /// The plans file (the plans import format).
    #[arg(long)]
    pub plans: std::path::PathBuf,
    /// The incidents file (the incidents import format).
    #[arg(long)]
    pub incidents: std::path::PathBuf,
    /// Write the rows here (default: stdout).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Print totals per currency, plan and time zone (a table on a terminal, else CSV).
    #[arg(long)]
    pub summary: bool,
    /// Write the totals as CSV here.
    #[arg(long)]
    pub summary_out: Option<std::path::PathBuf>,
    /// Threads to compute with (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Ongoing outages count up to this instant (default: now).
    #[arg(long)]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write the CSV here (default: stdout). With `--out`, the batch's metadata is printed
    /// as JSON on stdout.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Write this existing batch (`exp_3`) instead of making a new one.
    #[arg(long)]
    pub batch: Option<String>,
    /// Start the file with a UTF-8 byte order mark (for Excel).
    #[arg(long)]
    pub bom: bool,
    /// `,` (default) or `;` (for Excel where the decimal separator is a comma).
    #[arg(long, default_value = ",")]
    pub delimiter: String,
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs {
        bind: std::env::var("SLA_CREDIT_BIND").unwrap_or_else(|_| "127.0.0.1:8080".into()),
        pool_size: crate::http::DEFAULT_POOL_SIZE,
        page_cache_mib: crate::http::DEFAULT_PAGE_CACHE_MIB,
        mmap_mib: crate::http::DEFAULT_MMAP_MIB,
        workers: 0,
    }));
    let result = match command {
        Command::Serve(args) => return serve(&cli.database, &args),
        Command::Keys(c) => run_keys(&cli.database, c),
        Command::Quote { file } => return quote(&file),
        Command::Plans(c) => run_plans(&cli.database, c),
        Command::Customers(c) => run_customers(&cli.database, c),
        Command::Incidents(c) => run_incidents(&cli.database, c),
        Command::Settle(args) => run_settle(&cli.database, &cli.actor, &args),
        Command::Notices(args) => run_notices(&cli.database, &args),
        Command::Ledger(args) => run_ledger(&cli.database, &args),
        Command::Goodwill(args) => run_goodwill(&cli.database, &cli.actor, args),
        Command::Import(args) => run_import(&cli.database, &cli.actor, &args),
        Command::Export(args) => run_export(&cli.database, &cli.actor, &args),
        Command::WhatIf(args) => return what_if(args),
        Command::Reverse { entry, reason } => {
            run_reverse(&cli.database, &cli.actor, &entry, reason)
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}", Lines(&e));
            e.exit_code()
        }
    }
}

fn serve(database: &str, args: &ServeArgs) -> i32 {
    let settings = crate::http::Settings {
        bind: args.bind.clone(),
        database: database.to_string(),
        pool_size: args.pool_size,
        page_cache_mib: args.page_cache_mib,
        mmap_mib: args.mmap_mib,
        workers: args.workers,
        ..crate::http::Settings::default()
    };
    if settings.bind.parse::<std::net::SocketAddr>().is_err() {
        eprintln!(
            "bind: {:?} is not an address like 127.0.0.1:8080",
            settings.bind
        );
        return 2;
    }
    if settings.pool_size == 0 {
        eprintln!("pool_size: must be at least 1");
        return 2;
    }
    if settings.page_cache_mib == 0 {
        eprintln!("page_cache_mib: must be at least 1");
        return 2;
    }
    match crate::http::serve(settings) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("serve: {e}");
            1
        }
    }
}

fn run_keys(database: &str, command: KeysCommand) -> Result<(), Error> {
    use crate::store::keys;
    match command {
        KeysCommand::Create { name, role } => {
            let new = crate::wire::keys::check_new_key(&name, &role)?;
            let store = Store::open(database)?;
            let token = keys::create_key(&mut *store.conn()?, &new, now())?;
            println!("{token}");
            Ok(())
        }
        KeysCommand::List => {
            let store = Store::open_existing(database)?;
            print(&keys::list_keys(&mut *store.conn()?)?)
        }
        KeysCommand::Revoke { name } => {
            let store = Store::open(database)?;
            keys::revoke_key(&mut *store.conn()?, &name, now())?;
            print(&serde_json::json!({"name": name, "revoked": true}))
        }
    }
}

fn now() -> Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn print<T: Serialize>(value: &T) -> Result<(), Error> {
    use std::io::Write;
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| Error::internal_from("rendering JSON", e))?;
    // A closed pipe (`| head`) is not an error worth a panic: the work is already done.
    let _ = writeln!(std::io::stdout().lock(), "{json}");
    Ok(())
}

/// A `--policy` argument: JSON when it looks like JSON (reported at its line and column when
/// malformed), else a bare preset name.
fn policy_value(text: &str) -> Result<Value, Error> {
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') || t.starts_with('"') {
        serde_json::from_str(text)
            .map_err(|e| Error::unparseable("policy", format!("is not valid JSON: {e}")))
    } else {
        Ok(Value::String(text.to_string()))
    }
}

fn run_plans(database: &str, command: PlansCommand) -> Result<(), Error> {
    let now = now();
    match command {
        PlansCommand::Add {
            id,
            name,
            price,
            currency,
            billing_cycle,
            annual_split,
            policy,
        } => {
            // A malformed --policy is reported beside the other arguments' problems.
            let (policy, policy_error) = match policy_value(&policy) {
                Ok(v) => (v, None),
                Err(e) => (Value::String("atlassian".into()), Some(e)),
            };
            let checked = PlanInput {
                id,
                name,
                price: Value::String(price),
                currency,
                billing_cycle,
                annual_split,
                policy,
            }
            .check();
            let new = match (checked, policy_error) {
                (Ok(new), None) => new,
                (Ok(_), Some(e)) => return Err(e),
                (Err(others), None) => return Err(others.into()),
                (Err(mut others), Some(e)) => {
                    others.0.splice(0..0, e.field_errors());
                    return Err(Error::Unparseable(others));
                }
            };
            let store = Store::open(database)?;
            let info = plans::add_plan(&mut *store.conn()?, &new, now)?;
            print(&PlanView::from(info.latest()))
        }
        PlansCommand::Update {
            id,
            name,
            price,
            billing_cycle,
            annual_split,
            policy,
            effective_at,
        } => {
            let update = PlanUpdateInput {
                name,
                price: price.map(Value::String),
                billing_cycle,
                annual_split,
                policy: policy.as_deref().map(policy_value).transpose()?,
                effective_at,
            }
            .check()?;
            let store = Store::open(database)?;
            let (info, added) = plans::update_plan(&mut *store.conn()?, &id, &update, now)?;
            if !added {
                return Err(Error::invalid(
                    "body",
                    format!(
                        "changes nothing: version {} already has these values",
                        info.latest().version
                    ),
                ));
            }
            print(&PlanView::from(info.latest()))
        }
        PlansCommand::Show { id } => {
            let store = Store::open_existing(database)?;
            let info = plans::load_plan(&mut *store.conn()?, &id)?
                .ok_or_else(|| Error::not_found("plan", id))?;
            let versions: Vec<PlanView> = info.versions.iter().map(PlanView::from).collect();
            print(&versions)
        }
        PlansCommand::List => {
            let store = Store::open_existing(database)?;
            let list = plans::list_plans(&mut *store.conn()?, None, usize::MAX)?;
            let views: Vec<PlanView> = list.iter().map(|p| PlanView::from(p.latest())).collect();
            print(&views)
        }
    }
}

fn run_customers(database: &str, command: CustomersCommand) -> Result<(), Error> {
    let now = now();
    match command {
        CustomersCommand::Add {
            id,
            name,
            email,
            timezone,
            plan_id,
            plan_since,
        } => {
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
        CustomersCommand::PlanChange {
            id,
            plan_id,
            effective_at,
        } => {
            let (plan_id, at) = PlanChangeInput {
                plan_id,
                effective_at,
            }
            .check()?;
            let store = Store::open(database)?;
            let c = customers::change_plan(&mut *store.conn()?, &id, &plan_id, at, now)?;
            print(&CustomerView::from(&c))
        }
        CustomersCommand::Show { id } => {
            let store = Store::open_existing(database)?;
            let c = customers::load_customer(&mut *store.conn()?, &id)?
                .ok_or_else(|| Error::not_found("customer", id))?;
            print(&CustomerView::from(&c))
        }
        CustomersCommand::List { q } => {
            let store = Store::open_existing(database)?;
            let list =
                customers::search_customers(&mut *store.conn()?, q.as_deref(), None, usize::MAX)?;
            let views: Vec<CustomerView> = list.iter().map(CustomerView::from).collect();
            print(&views)
        }
    }
}

fn run_incidents(database: &str, command: IncidentsCommand) -> Result<(), Error> {
    let now = now();
    match command {
        IncidentsCommand::Add {
            id,
            title,
            kind,
            started_at,
            ended_at,
            impact,
            summary,
            scope,
        } => {
            // A string scope is read in its text form (`plans:A B`), like the CSV column.
            let new = IncidentInput {
                id,
                title,
                kind,
                started_at,
                ended_at,
                impact: impact.map(Value::String),
                summary,
                scope: scope.map(Value::String),
            }
            .check()?;
            let store = Store::open(database)?;
            let i = incidents::add_incident(&mut *store.conn()?, &new, now)?;
            print(&IncidentView::from(&i))
        }
        IncidentsCommand::Update {
            id,
            ended_at,
            impact,
            summary,
        } => {
            let patch = IncidentPatch {
                ended_at: ended_at.map(Value::String),
                impact: impact.map(Value::String),
                summary,
            }
            .check()?;
            let store = Store::open(database)?;
            let i = incidents::update_incident(&mut *store.conn()?, &id, &patch, now)?;
            print(&IncidentView::from(&i))
        }
        IncidentsCommand::Show { id } => {
            let store = Store::open_existing(database)?;
            let i = incidents::load_incident(&mut *store.conn()?, &id)?
                .ok_or_else(|| Error::not_found("incident", id))?;
            print(&IncidentView::from(&i))
        }
        IncidentsCommand::List => {
            let store = Store::open_existing(database)?;
            let list = incidents::list_incidents(&mut *store.conn()?, None, usize::MAX)?;
            let views: Vec<IncidentView> = list.iter().map(IncidentView::from).collect();
            print(&views)
        }
    }
}

fn run_settle(database: &str, actor: &str, args: &SettleArgs) -> Result<(), Error> {
    let now = now();
    let cmd = SettleInput {
        dry_run: args.dry_run,
        as_of: args.as_of.clone(),
        limit: None,
        after: None,
    }
    .check(now)?;
    if args.batch_size == 0 {
        return Err(Error::invalid("batch_size", "must be at least 1"));
    }
    let mut opts = SettleOptions::new(now);
    opts.actor = actor.to_string();
    opts.dry_run = cmd.dry_run;
    opts.as_of = cmd.as_of;
    opts.batch_size = args.batch_size;
    // A real incident-wide run is recorded as a settlement, like one made over HTTP.
    opts.record = args.incident.is_some();
    let store = if cmd.dry_run {
        Store::open_existing(database)?
    } else {
        Store::open(database)?
    };
    let mut report = match (&args.incident, &args.customer, &args.period) {
        (Some(incident), None, None) => {
            settle::settle_incident(&mut *store.conn()?, incident, &opts)?
        }
        (None, Some(customer), Some(period)) => {
            let label = PeriodLabel::parse(period).map_err(|m| Error::invalid("period", m))?;
            settle::settle_customer_period(&mut *store.conn()?, customer, label, &opts)?
        }
        _ => {
            return Err(Error::invalid(
                "incident",
                "give --incident ID, or --customer ID with --period LABEL",
            ))
        }
    };
    if !args.lines {
        report.data.retain(|l| l.changes);
    }
    print(&report)
}

/// What `notices` wrote.
#[derive(Serialize)]
struct NoticesOut {
    incident_id: String,
    customers: usize,
    files: Vec<String>,
}

fn run_notices(database: &str, args: &NoticesArgs) -> Result<(), Error> {
    let format = match args.format.as_str() {
        "md" | "markdown" => crate::notice::Format::Markdown,
        "html" => crate::notice::Format::Html,
        _ => return Err(Error::invalid("format", "must be md or html")),
    };
    let mut settings = crate::notice::NoticeSettings::from_env();
    settings.template_dir.clone_from(&args.templates);
    let store = Store::open_existing(database)?;
    let mut conn = store.conn()?;
    let incident = crate::store::incidents::load_incident(&mut conn, &args.incident)?
        .ok_or_else(|| Error::not_found("incident", args.incident.as_str()))?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::invalid("out", format!("{}: {e}", args.out.display())))?;
    let ids = crate::store::settlements::settled_customers(&mut conn, &incident.id)?;
    let mut files = Vec::with_capacity(ids.len());
    for id in &ids {
        let entries = crate::store::settlements::settled_entries(&mut conn, &incident.id, id)?;
        if entries.is_empty() {
            continue;
        }
        let customer = crate::store::customers::load_customer(&mut conn, id)?
            .ok_or_else(|| Error::not_found("customer", id.as_str()))?;
        // A customer whose credits from the incident net to nothing gets no letter.
        let data = match crate::notice::assemble(&customer, &incident, &entries, &settings) {
            Err(Error::Conflict { .. }) => continue,
            other => other?,
        };
        let text = crate::notice::render(&data, format, &settings)?;
        let path = args.out.join(format!("{id}.{}", format.extension()));
        std::fs::write(&path, text)
            .map_err(|e| Error::invalid("out", format!("{}: {e}", path.display())))?;
        files.push(path.display().to_string());
    }
    print(&NoticesOut {
        incident_id: incident.id.clone(),
        customers: files.len(),
        files,
    })
}

/// The command line's ledger view: the customer, balances, and entries (compact lines by
/// default), with `created_at` also in the customer's zone.
#[derive(Serialize)]
struct LedgerOut {
    customer: CustomerView,
    balances: Vec<crate::wire::credits::Balance>,
    data: Vec<Value>,
}

fn run_ledger(database: &str, args: &LedgerArgs) -> Result<(), Error> {
    let period = args
        .period
        .as_deref()
        .map(|p| PeriodLabel::parse(p).map_err(|m| Error::invalid("period", m)))
        .transpose()?;
    let store = Store::open_existing(database)?;
    let mut conn = store.conn()?;
    let c = customers::load_customer(&mut conn, &args.customer)?
        .ok_or_else(|| Error::not_found("customer", args.customer.as_str()))?;
    let mut entries = ledger::entries_for_customer(&mut conn, &args.customer)?;
    let balances = ledger::balances_in(&mut conn, &entries)?;
    if let Some(p) = period {
        let label = p.to_string();
        entries.retain(|e| e.period == label);
    }
    let views = ledger::entry_views(&mut conn, &entries)?;
    let data = entries
        .iter()
        .zip(&views)
        .map(|(e, v)| entry_json(v, args.breakdown, format_local(e.created_at, c.timezone)))
        .collect::<Result<Vec<_>, _>>()?;
    print(&LedgerOut {
        customer: CustomerView::from(&c),
        balances,
        data,
    })
}

fn entry_json(view: &EntryView, whole: bool, local: String) -> Result<Value, Error> {
    let mut v = if whole {
        serde_json::to_value(view)
    } else {
        serde_json::to_value(EntryLine::from(view))
    }
    .map_err(|e| Error::internal_from("rendering JSON", e))?;
    if let Value::Object(map) = &mut v {
        map.insert("created_at_local".into(), Value::String(local));
    }
    Ok(v)
}

fn run_goodwill(database: &str, actor: &str, args: GoodwillArgs) -> Result<(), Error> {
    let cmd = GoodwillInput {
        days: args.days.map(Value::String),
        amount: args.amount.map(Value::String),
        currency: args.currency,
        reason: args.reason,
        period: args.period,
        reference: args.reference,
    }
    .check(&args.customer)?;
    let store = Store::open(database)?;
    let mut conn = store.conn()?;
    let entry = ledger::goodwill(&mut conn, &cmd, actor, now())?;
    print(&ledger::entry_views(&mut conn, &[entry])?)
}

fn run_reverse(database: &str, actor: &str, entry: &str, reason: String) -> Result<(), Error> {
    let reason = ReversalInput { reason }.check()?;
    let id = parse_entry_id(entry).ok_or_else(|| Error::not_found("entry", entry))?;
    let store = Store::open(database)?;
    let mut conn = store.conn()?;
    let e = ledger::reverse(&mut conn, id, &reason, actor, now())?;
    print(&ledger::entry_views(&mut conn, &[e])?)
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
fn progress_bar(len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {bytes}/{total_bytes} ({eta})",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

fn run_import(database: &str, actor: &str, args: &ImportArgs) -> Result<(), Error> {
    use crate::wire::imports::ImportKind;
    let kind = ImportKind::parse(&args.kind).map_err(|m| Error::invalid("kind", m))?;
    let path = args.file.clone();
    let len = std::fs::metadata(&path)
        .map_err(|e| Error::invalid("file", format!("{}: {e}", path.display())))?
        .len();
    // A dry run only reads: it needs an existing database and creates none.
    let store = if args.dry_run {
        Store::open_existing(database)?
    } else {
        Store::open(database)?
    };
    let bar = progress_bar(len);
    bar.set_message(format!("importing {}", kind.as_str()));
    let request = crate::csv::import::ImportRequest {
        kind,
        actor: actor.to_string(),
        now: now(),
        dry_run: args.dry_run,
    };
    let reader_bar = bar.clone();
    let mut open = move || {
        reader_bar.set_position(0);
        std::fs::File::open(&path)
            .map(|f| reader_bar.wrap_read(std::io::BufReader::with_capacity(256 * 1024, f)))
    };
    let result = crate::csv::import::import(&mut *store.conn()?, &request, &mut open, &mut |_| {});
    bar.finish_and_clear();
    print(&result?)
}

fn run_export(database: &str, actor: &str, args: &ExportArgs) -> Result<(), Error> {
    use crate::csv::export;
    use crate::store::exports::load_batch;
    let opts = export::Options::parse(
        Some(if args.bom { "true" } else { "false" }),
        Some(&args.delimiter),
    )?;
    // Re-downloading a batch only reads; creating one writes.
    let store = if args.batch.is_some() {
        Store::open_existing(database)?
    } else {
        Store::open(database)?
    };
    let mut conn = store.conn()?;
    let batch = match &args.batch {
        Some(id) => {
            let n = crate::wire::exports::parse_export_id(id)
                .ok_or_else(|| Error::not_found("export", id.as_str()))?;
            Some(load_batch(&mut conn, n)?.ok_or_else(|| Error::not_found("export", id.as_str()))?)
        }
        None => None,
    };
    let io = |e: std::io::Error| Error::internal_from("writing the export", e);
    // A new batch is read once: its file is written while its SHA-256 is computed.
    let mut emit = |w: &mut dyn std::io::Write| match &batch {
        Some(info) => export::write_batch(&mut conn, info.batch.id, opts, w).map(|()| info.clone()),
        None => export::create_into(&mut conn, actor, now(), opts, w),
    };
    match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Error::invalid("out", format!("{}: {e}", path.display())))?;
            let mut w = std::io::BufWriter::with_capacity(256 * 1024, file);
            let info = emit(&mut w)?;
            std::io::Write::flush(&mut w).map_err(io)?;
            print(&info.view())
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            emit(&mut w)?;
            std::io::Write::flush(&mut w).map_err(io)
        }
    }
}

fn what_if(args: WhatIfArgs) -> i32 {
    let as_of = match &args.as_of {
        None => now(),
        Some(t) => match crate::wire::check::check_instant(t, "as-of") {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                return 2;
            }
        },
    };
    crate::whatif::main(&crate::whatif::Options {
        paths: crate::whatif::load::Paths {
            customers: args.customers,
            plans: args.plans,
            incidents: args.incidents,
        },
        out: args.out,
        summary: args.summary,
        summary_out: args.summary_out,
        threads: args.threads,
        as_of,
    })
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
        Ok(r) => {
            use std::io::Write;
            let text = crate::wire::quote::render_quote(&QuoteResponse::from(&r));
            // A closed pipe (`| head`) is not an error worth a panic: the work is already done.
            let _ = std::io::stdout().lock().write_all(&text);
            0
        }
        Err(errors) => {
            eprintln!("{errors}");
            2
        }
    }
}
