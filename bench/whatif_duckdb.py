#!/usr/bin/env python3
"""The analyst's script: the what-if job of `sla-credit what-if` (docs/whatif.md) done with
DuckDB over the same files, for what the benchmark book holds (monthly plans with uptime tiers,
outages scoped to everyone, no maintenance).

Written WITHOUT DECIMAL / DECIMAL (in DuckDB that is a DOUBLE, and cents go wrong): the local
month bounds of each zone are computed in Python (zoneinfo, DST-true), tiers are tested by
integer cross-multiplication ((S - D) * 100 * 10^k >= bound * 10^k * S), and the credit is
price in minor units * percent, rounded half up by integer division. Uptime in the output is a
DOUBLE, for reading only.

Usage: whatif_duckdb.py customers.csv plans.csv incidents.csv out.csv"""

import csv
import datetime as dt
import json
import sys
from zoneinfo import ZoneInfo

import duckdb

DIGITS = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}
SCALE = 10_000  # tier bounds have at most 4 decimals here


def instant(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def month_start(zone, year, month):
    local = dt.datetime(year, month, 1, tzinfo=zone)
    return local.astimezone(dt.timezone.utc)


def zone_periods(zones, outages):
    rows = []
    for name in zones:
        z = ZoneInfo(name)
        touched = {}
        for start, end in outages:
            first = start.astimezone(z)
            last = (end - dt.timedelta(microseconds=1)).astimezone(z)
            y, m = first.year, first.month
            while (y, m) <= (last.year, last.month):
                ps = month_start(z, y, m)
                ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
                pe = month_start(z, ny, nm)
                overlap = max(0, int((min(end, pe) - max(start, ps)).total_seconds()))
                key = f"{y:04d}-{m:02d}"
                period_s = int((pe - ps).total_seconds())
                touched[key] = (period_s, touched.get(key, (0, 0))[1] + overlap)
                y, m = ny, nm
        for label, (period_s, down_s) in touched.items():
            rows.append((name, label, period_s, min(down_s, period_s)))
    return rows


def bound(text):
    """'99.95' -> 999500 (scaled by SCALE), exactly, from the text."""
    whole, _, frac = text.strip().partition(".")
    frac = (frac + "0000")[:4]
    return int(whole) * SCALE + int(frac)


def tier_rows(plans_path):
    rows = []
    for p in csv.DictReader(open(plans_path, newline="", encoding="utf-8-sig")):
        policy = json.loads(p["policy"])
        for t in policy["rule"]["tiers"]:
            u = t["uptime"].strip()
            lo, hi = u[1:-1].split(",")
            rows.append((p["id"], bound(lo), u[0] == "[", bound(hi), u[-1] == "]",
                         int(t["credit_percent"]), u))
    return rows


def main():
    customers, plans, incidents, out = sys.argv[1:5]
    outages = [(instant(r["started_at"]), instant(r["ended_at"]))
               for r in csv.DictReader(open(incidents, newline="", encoding="utf-8-sig"))
               if (r.get("kind") or "outage") == "outage"]
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE customers AS SELECT id, coalesce(nullif(timezone, ''), 'UTC') AS tz,
        plan_id FROM read_csv('{customers}', header=true, all_varchar=true)""")
    zones = [r[0] for r in con.execute("SELECT DISTINCT tz FROM customers").fetchall()]
    con.execute("CREATE TABLE zp (tz VARCHAR, period VARCHAR, period_s BIGINT, down_s BIGINT)")
    con.executemany("INSERT INTO zp VALUES (?, ?, ?, ?)", zone_periods(zones, outages))
    con.execute("""CREATE TABLE tiers (plan_id VARCHAR, lo BIGINT, lo_closed BOOLEAN, hi BIGINT,
        hi_closed BOOLEAN, pct BIGINT, tier VARCHAR)""")
    con.executemany("INSERT INTO tiers VALUES (?, ?, ?, ?, ?, ?, ?)", tier_rows(plans))
    con.execute(f"""CREATE TABLE plans AS SELECT id, currency,
        CASE currency WHEN 'JPY' THEN 0 WHEN 'KWD' THEN 3 ELSE 2 END AS digits,
        CAST(replace(price, '.', '') AS BIGINT) AS price_minor
        FROM read_csv('{plans}', header=true, all_varchar=true)""")
    con.execute(f"""COPY (
      WITH rows AS (
        SELECT c.id AS customer_id, zp.period, p.currency, p.digits, p.price_minor, c.plan_id,
               zp.period_s, zp.down_s, t.pct, t.tier,
               (zp.period_s - zp.down_s) * 100 * {SCALE} AS up_scaled
        FROM customers c JOIN zp ON zp.tz = c.tz JOIN plans p ON p.id = c.plan_id
        LEFT JOIN tiers t ON t.plan_id = c.plan_id
          AND (CASE WHEN t.lo_closed THEN (zp.period_s - zp.down_s) * 100 * {SCALE} >= t.lo * zp.period_s
                    ELSE (zp.period_s - zp.down_s) * 100 * {SCALE} > t.lo * zp.period_s END)
          AND (CASE WHEN t.hi_closed THEN (zp.period_s - zp.down_s) * 100 * {SCALE} <= t.hi * zp.period_s
                    ELSE (zp.period_s - zp.down_s) * 100 * {SCALE} < t.hi * zp.period_s END)
      ), credited AS (
        SELECT *, (price_minor * coalesce(pct, 0) + 50) // 100 AS credit_minor FROM rows
      )
      SELECT customer_id, period, currency,
        CASE digits WHEN 0 THEN CAST(credit_minor AS VARCHAR)
          ELSE CAST(credit_minor // CAST(10 ** digits AS BIGINT) AS VARCHAR) || '.' ||
               lpad(CAST(credit_minor % CAST(10 ** digits AS BIGINT) AS VARCHAR), digits, '0') END AS credit,
        100.0 * (period_s - down_s) / period_s AS uptime_percent,
        down_s AS downtime_seconds, plan_id, 'uptime_tiers' AS rule, tier,
        'Uptime ' || printf('%.4f', 100.0 * (period_s - down_s) / period_s) || '% is in tier ' ||
          coalesce(tier, 'none') || ': ' || coalesce(pct, 0) || '%' AS explanation
      FROM credited ORDER BY customer_id, period
    ) TO '{out}' (HEADER, DELIMITER ',')""")


if __name__ == "__main__":
    main()
