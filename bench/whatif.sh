#!/usr/bin/env bash
# What-if vs DuckDB (BENCHMARKS.md, "What-if vs DuckDB"): generates a book of N customers
# (default 1,000,000; 50 zones, 20 tiered plans in USD, EUR, JPY, KWD; one outage across a
# month end), then times `sla-credit what-if` and the DuckDB script on the same files in the
# same run with /usr/bin/time -v, and counts the credits that differ.
# Usage: bench/whatif.sh [N] [WORKDIR]
set -euo pipefail
N="${1:-1000000}"
DIR="${2:-/tmp/whatif-bench}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$DIR"
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
python3 -c "import duckdb" 2>/dev/null || pip install -q duckdb
(cd "$ROOT" && cargo build --release -q)
BIN="$ROOT/target/release/sla-credit"
if [ ! -f "$DIR/customers.csv" ] || [ "$(($(wc -l < "$DIR/customers.csv") - 1))" != "$N" ]; then
  python3 "$ROOT/bench/whatif_gen.py" "$N" "$DIR"
fi
F=(--customers "$DIR/customers.csv" --plans "$DIR/plans.csv" --incidents "$DIR/incidents.csv")
measure() { # name, command...
  local name="$1"; shift
  /usr/bin/time -v "$@" 2> "$DIR/$name.time" > /dev/null
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$DIR/$name.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$DIR/$name.time" | awk '{print $NF}')
  echo "$name wall=$wall peak_rss_kb=$rss"
}
rm -f "$DIR/sla.csv" "$DIR/duck.csv"
measure sla-credit "$BIN" what-if "${F[@]}" --as-of 2026-03-01T00:00:00Z --out "$DIR/sla.csv"
measure duckdb python3 "$ROOT/bench/whatif_duckdb.py" "$DIR/customers.csv" "$DIR/plans.csv" \
  "$DIR/incidents.csv" "$DIR/duck.csv"
python3 - "$DIR/sla.csv" "$DIR/duck.csv" <<'PY'
import csv, sys
a = csv.reader(open(sys.argv[1], newline="")); b = csv.reader(open(sys.argv[2], newline=""))
next(a); next(b)
rows = differ = missing = 0
for ra, rb in zip(a, b):
    rows += 1
    if (ra[0], ra[1]) != (rb[0], rb[1]):
        missing += 1
    elif ra[3] != rb[3]:
        differ += 1
extra = sum(1 for _ in a) + sum(1 for _ in b)
print(f"rows={rows} credits_differ={differ} rows_misaligned={missing} rows_extra={extra}")
PY
