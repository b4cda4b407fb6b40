#!/usr/bin/env bash
# HTTP throughput and latency with wrk on loopback, all rows measured in one run:
#   GET /healthz                      the framework's ceiling here
#   POST /v1/quote                    a one-window quote (the Olark case)
#   GET /v1/customers/{id}/credits    the support view, on a database of 1,000,000 ledger
#                                     entries over 100,000 customers (random customer per request)
# 64 connections, 2 wrk threads, DURATION (default 8 s) per run, in ROUNDS rounds (default 6).
# The machine's speed drifts within minutes, so every figure is compared with the ceiling
# measured on both sides of it: a round runs healthz, the quote, healthz, the support view,
# and one more healthz closes the last round; the quote is divided by the mean of the two
# healthz runs around it, the support view likewise. The medians of the rounds are the result.
# Prints a Markdown table. A few seconds of each are run first, uncounted, so the rounds start
# warm.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-6}
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
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -sf http://127.0.0.1:18765/healthz >/dev/null; do sleep 0.1; done

cat >"$work/quote.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("fixtures/requests/olark-2-days.json"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
# A random customer per request: each wrk thread formats its sequence of $CUSTOMERS requests
# once, at start, and cycles through it, so the client spends no more per lookup than per
# healthz call.
cat >"$work/lookup.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
math.randomseed(42)
local requests, n, i = {}, $CUSTOMERS, 0
-- In init, once wrk has set the Host header.
init = function(args)
  for k = 1, n do
    requests[k] = wrk.format("GET", string.format("/v1/customers/c%06d/credits?limit=20", math.random(0, n - 1)))
  end
end
request = function()
  i = i % n + 1
  return requests[i]
end
LUA

run() { # name, url, [script]: prints "rps p99 non2xx"
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
  echo "$rps $p99 ${non2xx:-0}"
}
# Warm-up, not counted: the first lookups fault the mapped database's pages in.
wrk -t2 -c64 -d5s -s "$work/lookup.lua" http://127.0.0.1:18765/ >/dev/null
wrk -t2 -c64 -d2s -s "$work/quote.lua" http://127.0.0.1:18765/v1/quote >/dev/null
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg)"
echo "| round | healthz rps before, between, after | quote rps, p99 | support view rps, p99 | quote ÷ healthz | support view ÷ healthz | non-2xx |"
echo "|---|---|---|---|---|---|---|"
read -r h1 _ hn1 <<<"$(run healthz http://127.0.0.1:18765/healthz)"
for round in $(seq 1 "$ROUNDS"); do
  read -r q qp qn <<<"$(run quote http://127.0.0.1:18765/v1/quote "$work/quote.lua")"
  read -r h2 _ hn2 <<<"$(run healthz http://127.0.0.1:18765/healthz)"
  read -r l lp ln <<<"$(run lookup http://127.0.0.1:18765/ "$work/lookup.lua")"
  read -r h3 _ hn3 <<<"$(run healthz http://127.0.0.1:18765/healthz)"
  qr=$(python3 -c "print(f'{2 * $q / ($h1 + $h2):.3f}')")
  lr=$(python3 -c "print(f'{2 * $l / ($h2 + $h3):.3f}')")
  echo "| $round | $h1, $h2, $h3 | $q, $qp | $l, $lp | $qr | $lr | $((hn1 + qn + hn2 + ln + hn3)) |"
  echo "$qr" >>"$work/quote.ratios"; echo "$lr" >>"$work/lookup.ratios"
  echo "$lp" >>"$work/lookup.p99"
  h1=$h3 hn1=0
done
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
python3 - "$work" <<'PY'
import statistics, sys
w = sys.argv[1]
q = [float(x) for x in open(f"{w}/quote.ratios")]
l = [float(x) for x in open(f"{w}/lookup.ratios")]
units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
def ms(text):
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    raise ValueError(text)
p99 = max(ms(x.strip()) for x in open(f"{w}/lookup.p99"))
print(f"median of {len(q)} rounds: quote = {statistics.median(q):.3f} of healthz; "
      f"support view = {statistics.median(l):.3f} of healthz, worst p99 {p99:.2f} ms")
PY
