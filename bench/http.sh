#!/usr/bin/env bash
# HTTP throughput and latency with wrk on loopback, all rows measured in one run:
#   GET /healthz                      the framework's ceiling here
#   POST /v1/quote                    a one-window quote (the Olark case)
#   GET /v1/customers/{id}/credits    the support view, on a database of 1,000,000 ledger
#                                     entries over 100,000 customers (random customer per request)
# 64 connections, 2 wrk threads, 20 s each (env DURATION). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
DURATION=${DURATION:-20s}
CUSTOMERS=${CUSTOMERS:-100000}
PER=${PER:-10}
cargo build --release -q --bin sla-credit --example seed_ledger
work=$(mktemp -d)
db="sqlite://$work/bench.db"
target/release/examples/seed_ledger "$db" "$CUSTOMERS" "$PER"
token=$(target/release/sla-credit --database "$db" keys create --name bench --role support)
RUST_LOG=error target/release/sla-credit --database "$db" serve --bind 127.0.0.1:18765 \
  >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
until curl -sf http://127.0.0.1:18765/healthz >/dev/null; do sleep 0.1; done

cat >"$work/quote.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("fixtures/requests/olark-2-days.json"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
cat >"$work/lookup.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
math.randomseed(42)
request = function()
  return wrk.format("GET", string.format("/v1/customers/c%06d/credits?limit=20", math.random(0, $CUSTOMERS - 1)))
end
LUA

run() { # name, url, [script]
  local out
  if [ -n "${3:-}" ]; then
    out=$(wrk -t2 -c64 -d"$DURATION" --latency -s "$3" "$2")
  else
    out=$(wrk -t2 -c64 -d"$DURATION" --latency "$2")
  fi
  local rps p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "| $1 | $rps | $p99 | ${non2xx:-0} |"
  echo "$rps" >"$work/$1.rps"
}
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg)"
echo "| endpoint | requests/s | p99 | non-2xx |"
echo "|---|---|---|---|"
run healthz http://127.0.0.1:18765/healthz
run quote http://127.0.0.1:18765/v1/quote "$work/quote.lua"
run lookup http://127.0.0.1:18765/ "$work/lookup.lua"
h=$(cat "$work/healthz.rps"); q=$(cat "$work/quote.rps"); l=$(cat "$work/lookup.rps")
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
python3 -c "print(f'quote = {float($q)/float($h):.0%} of healthz; lookup = {float($l)/float($h):.0%} of healthz')"
