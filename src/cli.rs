//! The command line (api.md): `sla-credit quote FILE.json`, … Exit 2 on bad input with
//! `field: message` lines on stderr.

use std::io::Read;

use clap::{Parser, Subcommand};

use crate::domain::quote::{parse_quote, QuoteResponse};

#[derive(Debug, Parser)]
#[command(
    name = "sla-credit",
    version,
    about = "Exact SLA credits and an append-only credit ledger"
)]
pub struct Cli {
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
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Quote { file } => quote(&file),
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
                println!("{json}");
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
