//! `sla-credit`: parse the arguments and run.

fn main() {
    std::process::exit(sla_credit::cli::run());
}
