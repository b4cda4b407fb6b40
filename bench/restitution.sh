#!/usr/bin/env bash
# The restitution benchmark (BENCHMARKS.md): generate a book of N customers (default
# 1,000,000) over 50 zones, 20 list plans and 10,000 custom-price plans; serve it; settle one
# incident for everyone with one POST /v1/incidents/{id}/credits; then settle an incident of
# the list plans' customers and one of the custom plans' (to compare the shares); report the
# server's time and peak RSS (/usr/bin/time -v) and, in the same run, the raw insert ceiling of
# the store for the same rows (sqlite3 .import of the rows the settlement appended); and that
# every foreign key of the ledger written still resolves.
#
# usage: bench/restitution.sh [CUSTOMERS] [WORKDIR]   (needs a release build, curl, sqlite3)
set -euo pipefail
N=${1:-1000000}
WORK=${2:-$(mktemp -d)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release/sla-credit}
DB=$WORK/bench.db
PORT=${PORT:-18431}
rm -f "$DB" "$DB-wal" "$DB-shm"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
TOKEN=$("$BIN" --database "$DB" keys create --name bench --role finance)
t0=$(date +%s.%N)
python3 "$ROOT/bench/restitution_gen.py" "$DB" "$N"
t1=$(date +%s.%N)
echo "generate: $(echo "$t1 - $t0" | bc) s"
# The generator's writes reach the disk before the clock starts, so the settlement's commits do
# not queue behind their writeback.
sync

serve() {
  /usr/bin/time -v "$BIN" --database "$DB" serve --bind "127.0.0.1:$PORT" 2> "$WORK/server-$1.log" &
  TIME_PID=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" > /dev/null && break
    sleep 0.1
  done
}
stop() {
  SERVER_PID=$(pgrep -P "$TIME_PID" || true)
  kill -INT "${SERVER_PID:-$TIME_PID}"
  wait "$TIME_PID" || true
  echo "server $1:"
  grep -E "Maximum resident set size|Elapsed \(wall clock\)|User time|System time" "$WORK/server-$1.log"
}
settle() {
  curl -fsS -o "$WORK/$1-$2.json" -w '%{time_total}' -X POST \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"dry_run\": $2, \"limit\": 5}" "http://127.0.0.1:$PORT/v1/incidents/$1/credits"
}
report() {
  python3 - "$WORK/$1-$2.json" "$3" "$1" "$2" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
s = float(sys.argv[2])
print(f"{sys.argv[3]} dry_run={sys.argv[4]}: {s:.2f} s, customers {a['customers']}, "
      f"periods {a['periods']}, entries {a['entries_appended']}, "
      f"{a['customers'] / s:,.0f} customers/s, totals {a['totals']}")
PY
}
# 1. The incident of everyone, for real, in a server of its own (its time and peak RSS alone).
serve dc-dark
report dc-dark false "$(settle dc-dark false)"
stop dc-dark
# 2. Each share dry (shared quotes only) and for real (every entry appended), in a second server.
serve shares
for run in list-only:true custom-only:true list-only:false custom-only:false; do
  inc=${run%%:*}
  dry=${run#*:}
  report "$inc" "$dry" "$(settle "$inc" "$dry")"
done
stop shares
echo "load after the server: $(cut -d' ' -f1-3 /proc/loadavg)"

# The raw ceiling: the same rows (the entries and settlement lines this run appended) copied
# by SQLite itself (INSERT … SELECT from the attached database) into empty tables of the same
# schema and indexes, in the same run: no parsing, no engine, no diesel.
ROWS=$(sqlite3 "$DB" "SELECT (SELECT count(*) FROM ledger_entries) + (SELECT count(*) FROM settlement_lines)")
RAW=$WORK/raw.db
rm -f "$RAW" "$RAW-wal" "$RAW-shm"
sqlite3 "$DB" ".schema ledger_entries" ".schema settlement_lines" \
  | awk '/CREATE TRIGGER/{skip=1} !skip{print} /^END;/{skip=0}' \
  | sed -e 's/REFERENCES [a-z_]* ([a-z_]*)//g' > "$WORK/raw.sql"
sqlite3 "$RAW" < "$WORK/raw.sql"
sqlite3 "$RAW" "PRAGMA journal_mode=WAL" > /dev/null
t0=$(date +%s.%N)
sqlite3 "$RAW" "PRAGMA synchronous=NORMAL" "ATTACH '$DB' AS src" "BEGIN" \
  "INSERT INTO main.ledger_entries SELECT * FROM src.ledger_entries" \
  "INSERT INTO main.settlement_lines SELECT * FROM src.settlement_lines" "COMMIT" > /dev/null
t1=$(date +%s.%N)
python3 -c "r=$ROWS; s=$t1-$t0; print(f'raw insert: {r} rows in {s:.2f} s = {r/s:,.0f} rows/s = {r/2/s:,.0f} customers/s')"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# Settlements append without SQLite's per-row foreign-key lookups (docs/restitution.md): every
# key of the ledger they wrote must still resolve.
BROKEN=$(sqlite3 "$DB" "SELECT count(*) FROM pragma_foreign_key_check")
echo "foreign keys that do not resolve: $BROKEN"
[ "$BROKEN" = 0 ]
