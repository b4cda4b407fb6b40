#!/usr/bin/env bash
# CSV benchmarks (BENCHMARKS.md, "CSV"): each measured beside its ceiling in the same run.
#  1. import N customer rows (validated, stored, one transaction) vs the sqlite3 shell's
#     `.import` of the same file into a plain table with the same columns and indexes;
#  2. export N ledger rows vs writing the same rows with the csv crate alone
#     (examples/csv_write_baseline.rs), as EXPORT_RUNS pairs (default 3) and their median;
#     each pair also times the stricter ceiling: the csv crate with a 1 MiB buffer instead of
#     its default 8 KiB, so that it makes about as few `write` calls as the export does;
#  peak RSS of both with /usr/bin/time -v, the export's file checked against its recorded
#  SHA-256, and the load average before and after (the ratios are what counts).
# Usage: bench/csv.sh [ROWS]   (default 1000000). Needs sqlite3 and GNU time
# (apt-get install -y sqlite3 time).
set -euo pipefail
ROWS=${1:-1000000}
cd "$(dirname "$0")/.."
command -v sqlite3 >/dev/null || { echo "sqlite3 missing: apt-get install -y sqlite3" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install -y time" >&2; exit 1; }
cargo build --release --quiet --bin sla-credit --example csv_write_baseline
BIN=target/release/sla-credit
BASE=target/release/examples/csv_write_baseline
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export DATABASE_URL="sqlite://$WORK/bench.db"

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
rss_mb() { awk '/Maximum resident set size/ {printf "%.1f", $6/1024}' "$1"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "generating $ROWS customer rows" >&2
awk -v n="$ROWS" 'BEGIN {
  print "id,name,email,timezone,plan_id";
  for (i = 0; i < n; i++) printf "c%07d,\"Customer %d, Inc.\",c%d@example.com,Europe/Berlin,basic\n", i, i, i
}' > "$WORK/customers.csv"

# Ceiling 1: the sqlite3 shell into a plain table with the file's columns, the primary key on
# id and an index on plan_id, same PRAGMAs. (Our import also writes each customer's first
# plan-history row, with its own key and index: twice the rows.)
sqlite3 "$WORK/plain.db" <<'SQL'
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE customers_plain (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT,
  timezone TEXT NOT NULL, plan_id TEXT NOT NULL) STRICT;
CREATE INDEX customers_plain_plan_id ON customers_plain (plan_id);
SQL
t0=$(now)
sqlite3 "$WORK/plain.db" ".import --csv --skip 1 $WORK/customers.csv customers_plain"
t1=$(now)
shell_s=$(secs "$t0" "$t1")

"$BIN" plans add --id basic --name Basic --price 100.00 --currency USD --billing-cycle monthly \
  --policy aws-ec2-region >/dev/null
t0=$(now)
/usr/bin/time -v -o "$WORK/import.time" "$BIN" import customers "$WORK/customers.csv" >/dev/null
t1=$(now)
import_s=$(secs "$t0" "$t1")
import_rss=$(rss_mb "$WORK/import.time")

echo "settling one incident for every customer ($ROWS ledger entries)" >&2
"$BIN" incidents add --id A --title Outage --started-at 2026-01-10T00:00:00Z \
  --ended-at 2026-01-10T01:00:00Z >/dev/null
"$BIN" settle --incident A >/dev/null

# The export and its ceiling are measured as pairs, one right after the other, EXPORT_RUNS
# times (default 3) from the same settled database; the median ratio is the figure (a pair
# takes about 2 s, and this shared machine's noise moves sub-second figures by ±50 %).
cp "$WORK/bench.db" "$WORK/settled.db"
[ ! -e "$WORK/bench.db-wal" ] || cp "$WORK/bench.db-wal" "$WORK/settled.db-wal"
runs=${EXPORT_RUNS:-3}
ratios=()
strict_ratios=()
pairs=""
for run in $(seq 1 "$runs"); do
  rm -f "$WORK/bench.db" "$WORK/bench.db-wal" "$WORK/bench.db-shm" "$WORK/export.csv" \
    "$WORK/baseline.csv"
  cp "$WORK/settled.db" "$WORK/bench.db"
  [ ! -e "$WORK/settled.db-wal" ] || cp "$WORK/settled.db-wal" "$WORK/bench.db-wal"
  sync
  t0=$(now)
  /usr/bin/time -v -o "$WORK/export.time" "$BIN" export --out "$WORK/export.csv" >"$WORK/export.json"
  t1=$(now)
  export_s=$(secs "$t0" "$t1")
  export_rss=$(rss_mb "$WORK/export.time")
  # The ceiling starts from the same state as the export: no file of its own yet, and no
  # dirty pages of the export's file still being written back.
  rm -f "$WORK/baseline.csv"
  sync
  csv_s=$(/usr/bin/time -f "%U %S %e" -o "$WORK/base.time" "$BASE" "$WORK/export.csv" "$WORK/baseline.csv")
  rm -f "$WORK/strict.csv"
  sync
  strict_s=$("$BASE" "$WORK/export.csv" "$WORK/strict.csv" 1048576)
  cmp -s "$WORK/baseline.csv" "$WORK/strict.csv" || { echo "the two ceilings wrote different bytes" >&2; exit 1; }
  rm -f "$WORK/strict.csv"
  echo "run $run: ceiling process user/sys/wall $(cat "$WORK/base.time"), export user/sys $(awk '/User time/ {u=$4} /System time/ {s=$4} END {print u, s}' "$WORK/export.time")" >&2
  cmp -s <(tail -n +2 "$WORK/export.csv") <(tail -n +2 "$WORK/baseline.csv") \
    && same="same bytes" || same="bytes differ"
  recorded=$(sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p' "$WORK/export.json")
  [ "$recorded" = "$(sha256sum "$WORK/export.csv" | cut -d' ' -f1)" ] \
    || { echo "the export's file does not match its recorded SHA-256" >&2; exit 1; }
  ratio=$(echo "$export_s / $csv_s" | bc -l)
  strict_ratio=$(echo "$export_s / $strict_s" | bc -l)
  ratios+=("$ratio")
  strict_ratios+=("$strict_ratio")
  pairs+=$(printf '| export %d entries, run %d | %.2f s | %.2f s (csv crate alone, %s) | %.2f× | %s MB |' \
    "$ROWS" "$run" "$export_s" "$csv_s" "$same" "$ratio" "$export_rss")$'\n'
  pairs+=$(printf '| the same export, against the stricter ceiling | %.2f s | %.2f s (csv crate, 1 MiB buffer) | %.2f× | |' \
    "$export_s" "$strict_s" "$strict_ratio")$'\n'
done
median_of() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
median=$(median_of "${ratios[@]}")
strict_median=$(median_of "${strict_ratios[@]}")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "load average before: $load_before; after: $load_after"
printf '| case | ours | ceiling | ratio | peak RSS |\n|---|---:|---:|---:|---:|\n'
printf '| import %d customers | %.2f s | %.2f s (sqlite3 .import) | %.2f× | %s MB |\n' \
  "$ROWS" "$import_s" "$shell_s" "$(echo "$import_s / $shell_s" | bc -l)" "$import_rss"
printf '%s' "$pairs"
printf 'export: median ratio of %d runs %.2f× (against the stricter ceiling %.2f×)\n' \
  "$runs" "$median" "$strict_median"
