#!/usr/bin/env python3
"""Generates a what-if book (docs/whatif.md): N customers over 50 zones and 20 tiered monthly
plans in USD, EUR (2 decimals), JPY (0) and KWD (3), and one outage across the January/February
boundary. Deterministic (seed 20260201). Usage: whatif_gen.py N OUTDIR"""

import csv
import json
import os
import random
import sys

ZONES = [
    "UTC", "America/Los_Angeles", "America/New_York", "America/Chicago", "America/Denver",
    "America/Phoenix", "America/Anchorage", "Pacific/Honolulu", "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires", "America/Mexico_City", "America/Bogota", "America/Lima",
    "America/Santiago", "America/Halifax", "America/St_Johns", "America/Caracas",
    "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
    "Europe/Madrid", "Europe/Rome", "Europe/Warsaw", "Europe/Athens", "Europe/Helsinki",
    "Europe/Istanbul", "Europe/Moscow", "Africa/Cairo", "Africa/Lagos", "Africa/Johannesburg",
    "Africa/Nairobi", "Asia/Dubai", "Asia/Kuwait", "Asia/Tehran", "Asia/Karachi", "Asia/Kolkata",
    "Asia/Kathmandu", "Asia/Dhaka", "Asia/Bangkok", "Asia/Singapore", "Asia/Shanghai",
    "Asia/Tokyo", "Asia/Seoul", "Australia/Perth", "Australia/Adelaide", "Australia/Sydney",
    "Pacific/Auckland", "Pacific/Chatham",
]
assert len(ZONES) == 50

CURRENCIES = [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3)]
# Tier tables (interval notation over percent, credit percent), all integers percent.
TIERS = [
    [("[99.0, 99.99)", 10), ("[95.0, 99.0)", 30), ("[0, 95.0)", 100)],
    [("[99.5, 99.95)", 10), ("[99.0, 99.5)", 25), ("[0, 99.0)", 50)],
    [("[98.9, 99.9)", 5), ("[0, 98.9)", 20)],
    [("[99.2, 100)", 15), ("[0, 99.2)", 40)],
    [("(98.8, 99.99]", 10), ("[0, 98.8]", 35)],
]

# The outage: 2026-01-31 20:00Z to 2026-02-01 05:00Z (9 h), across local midnight in most zones.
OUTAGE = ("2026-01-31T20:00:00Z", "2026-02-01T05:00:00Z")


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20260201)
    plans = []
    for i in range(20):
        code, digits = CURRENCIES[i % 4]
        tiers = TIERS[i % 5]
        whole = rng.randint(5, 900) * (100 if code == "JPY" else 1)
        frac = rng.randint(0, 10 ** digits - 1) if digits else 0
        price = f"{whole}.{frac:0{digits}d}" if digits else str(whole)
        policy = {"rule": {"kind": "uptime_tiers",
                           "tiers": [{"uptime": u, "credit_percent": str(p)} for u, p in tiers]}}
        plans.append((f"plan-{i:02d}", f"Plan {i}", price, code, "monthly", "", json.dumps(policy)))
    with open(os.path.join(out, "plans.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "price", "currency", "billing_cycle", "annual_split", "policy"])
        w.writerows(plans)
    with open(os.path.join(out, "customers.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "email", "timezone", "plan_id", "plan_since"])
        order = list(range(n))
        rng.shuffle(order)
        for k in order:
            w.writerow([f"cus-{k:07d}", f"Customer {k}", f"billing{k}@example.test",
                        ZONES[rng.randrange(50)], plans[rng.randrange(20)][0], ""])
    with open(os.path.join(out, "incidents.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "kind", "started_at", "ended_at", "impact", "scope", "summary"])
        w.writerow(["inc-1", "Region-wide outage", "outage", OUTAGE[0], OUTAGE[1], "", "all", ""])


if __name__ == "__main__":
    main()
