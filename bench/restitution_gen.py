#!/usr/bin/env python3
"""Generates the restitution benchmark's book (docs/restitution.md, BENCHMARKS.md).

N customers (default 1,000,000) spread over 50 IANA zones; half on 20 list plans, half on
10,000 custom-price plans (negotiated prices, same policies and billing cycles as the list
plans); one ended 2-hour outage for everyone. Rows are written straight into a database the
binary has created and migrated (`sla-credit keys create` does that), in the stored formats
of src/store (canonical decimals as TEXT, instants as UTC TEXT with nine fraction digits,
policies as applied).

usage: restitution_gen.py DB_PATH [CUSTOMERS]
"""
import json
import random
import sqlite3
import sys

ZONES = [
    "UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome",
    "Europe/Warsaw", "Europe/Helsinki", "Europe/Athens", "Europe/Istanbul", "Europe/Moscow",
    "Africa/Cairo", "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi", "Asia/Dubai",
    "Asia/Karachi", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Bangkok",
    "Asia/Jakarta", "Asia/Singapore", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei",
    "Asia/Seoul", "Asia/Tokyo", "Australia/Perth", "Australia/Adelaide", "Australia/Sydney",
    "Pacific/Auckland", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles",
    "America/Vancouver", "America/Phoenix", "America/Denver", "America/Chicago",
    "America/Mexico_City", "America/New_York", "America/Toronto", "America/Bogota",
    "America/Lima", "America/Santiago", "America/Caracas", "America/Halifax",
    "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "Atlantic/Reykjavik",
]
assert len(ZONES) == 50

TIERS_AWS = [("[99.0, 99.99)", "10"), ("[95.0, 99.0)", "30"), ("[0, 95.0)", "100")]
TIERS_ATL = [("[99.0, 99.9)", "10"), ("[95.0, 99.0)", "25"), ("[0, 95.0)", "50")]


def policy(k):
    """Five policies, as stored (Policy::to_spec(), every default written out)."""
    base = {"period": "month", "exclusion_mode": "not_downtime", "denominator": "period",
            "partial_units": "round_up", "cap": {"percent": "100"}, "rounding": "half_up"}
    if k == 0:
        rule = {"kind": "uptime_tiers",
                "tiers": [{"uptime": u, "credit_percent": p} for u, p in TIERS_AWS]}
        p = {"rule": rule, **base, "timezone": "UTC"}
    elif k == 1:
        rule = {"kind": "uptime_tiers",
                "tiers": [{"uptime": u, "credit_percent": p} for u, p in TIERS_ATL]}
        p = {"rule": rule, **base}
    elif k == 2:
        p = {"rule": {"kind": "downtime_multiple", "multiplier": "10", "excess_only": False},
             "target_percent": "99.99", **base}
    elif k == 3:
        p = {"rule": {"kind": "days_of_service", "days": 2, "day_basis": "actual"}, **base}
    else:
        p = {"rule": {"kind": "downtime_multiple", "multiplier": "25", "excess_only": False},
             **base, "rounding": "half_even"}
    return json.dumps(p, separators=(",", ":"))


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    rng = random.Random(20261201)
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    now = "2026-12-01T00:00:00.000000000Z"
    epoch = "1970-01-01T00:00:00.000000000Z"
    cycles = ["monthly", "monthly", "monthly", "quarterly", "annual"]
    plans = []
    for i in range(20):
        plans.append((f"list-{i:02}", str(10 * (i + 1)), cycles[i % 5], i % 5))
    for i in range(10_000):
        cents = rng.randrange(1_000, 1_000_000)
        price = f"{cents // 100}.{cents % 100:02}".rstrip("0").rstrip(".")
        plans.append((f"custom-{i:05}", price, cycles[i % 5], i % 5))
    c.executemany("INSERT INTO plans VALUES (?, 'USD', ?)", [(p[0], now) for p in plans])
    c.executemany(
        "INSERT INTO plan_versions VALUES (?, 1, ?, ?, ?, 'twelfths', ?, ?, ?)",
        [(p[0], p[0], p[1], p[2], policy(p[3]), epoch, now) for p in plans],
    )
    rows = []
    changes = []
    for k in range(n):
        cid = f"c{k:07}"
        if k % 2 == 0:
            plan = plans[(k // 2) % 20][0]
        else:
            plan = plans[20 + (k // 2) % 10_000][0]
        rows.append((cid, f"Customer {k}", ZONES[k % 50], now))
        changes.append((cid, epoch, plan, now))
        if len(rows) == 100_000:
            c.executemany("INSERT INTO customers VALUES (?, ?, NULL, ?, ?)", rows)
            c.executemany("INSERT INTO plan_changes VALUES (?, ?, ?, ?)", changes)
            rows.clear()
            changes.clear()
    c.executemany("INSERT INTO customers VALUES (?, ?, NULL, ?, ?)", rows)
    c.executemany("INSERT INTO plan_changes VALUES (?, ?, ?, ?)", changes)
    c.execute(
        "INSERT INTO incidents VALUES ('dc-dark', 'Data centre power loss', 'outage', "
        "'2026-11-10T12:00:00.000000000Z', '2026-11-10T14:00:00.000000000Z', '1', "
        "'Both power feeds of one data centre failed. We are adding a third feed.', 'all', ?, ?)",
        (now, now),
    )
    # Two more outages in the month before (settled apart from the first), one for the list plans'
    # customers and one for the custom plans', to compare what each share costs.
    for iid, prefix in (("list-only", "list-"), ("custom-only", "custom-")):
        c.execute(
            "INSERT INTO incidents VALUES (?, 'Partial outage', 'outage', "
            "'2026-10-20T12:00:00.000000000Z', '2026-10-20T13:00:00.000000000Z', '1', NULL, "
            "'plans', ?, ?)",
            (iid, now, now),
        )
        c.executemany(
            "INSERT INTO incident_plans VALUES (?, ?)",
            [(iid, p[0]) for p in plans if p[0].startswith(prefix)],
        )
    c.commit()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    print(f"{n} customers, {len(plans)} plans, 50 zones, 1 incident -> {path}")


if __name__ == "__main__":
    main()
