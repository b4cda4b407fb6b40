//! `sla-credit`: parse the arguments and run.

/// mimalloc rather than the system allocator: a request allocates and frees many small
/// buffers, often on different worker threads (BENCHMARKS.md, "Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(sla_credit::cli::run());
}
