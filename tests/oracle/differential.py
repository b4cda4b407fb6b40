"""Differential test: random quote requests, each computed by `sla-credit quote` and by an
independent reference written from docs/rules.md (reference.py: Python fractions, zoneinfo),
compared figure by figure (credits, period set, outage/excluded/denominator seconds, tier,
warnings, total).

    python3 tests/oracle/differential.py BINARY [SEED] [CASES]

Prints every difference with its request, then `N passed, M failed`; exits 1 on a difference.
"""
import json, os, random, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref
from fractions import Fraction as F
from datetime import datetime, timezone, timedelta
BINARY = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
N = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
random.seed(seed)
ZONES = ["UTC","America/Los_Angeles","Europe/London","Asia/Tokyo","Australia/Sydney","Asia/Kolkata","Pacific/Chatham","America/St_Johns","Asia/Kathmandu","Europe/Berlin","America/New_York","Pacific/Auckland"]
CUR = ["USD","EUR","JPY","KWD","BHD","GBP"]
# Months whose first local midnight is repeated, displaced, skipped or in a DST gap (the sweep in
# tests/properties.rs), and zones with midnight DST gaps.
ANOMALIES = [("America/St_Johns", 2009, 11), ("America/Goose_Bay", 2009, 11), ("Pacific/Apia", 2011, 12),
             ("Pacific/Kiritimati", 1994, 12), ("America/Asuncion", 2023, 10), ("America/Havana", 2026, 11),
             ("America/Havana", 2026, 3), ("Asia/Damascus", 2011, 4), ("Europe/Rome", 1978, 10),
             ("America/Argentina/Buenos_Aires", 1988, 12), ("Africa/Cairo", 2014, 8), ("Pacific/Kwajalein", 1993, 8)]
def iso(ns):
    s = ns // 10**9; frac = ns % 10**9
    t = datetime.fromtimestamp(s, timezone.utc).strftime('%Y-%m-%dT%H:%M:%S')
    return t + (('.%09d' % frac).rstrip('0') if frac else '') + 'Z'
def money(maxv, digits):
    minor = random.randint(0, maxv * 10**digits)
    if digits == 0:
        return str(minor)
    return f"{minor // 10**digits}.{minor % 10**digits:0{digits}d}"
def rand_plan():
    p = {"price": money(random.choice([30, 1000, 100000]), random.choice([0,2])), "billing_cycle": random.choice(["monthly","quarterly","annual"])}
    if p["billing_cycle"] == "annual" and random.random() < 0.6: p["annual_split"] = random.choice(["twelfths","days"])
    return p
def rand_tiers():
    # random non-overlapping tiers, maybe with gaps
    pts = sorted(set(random.choice([0, 90, 95, 98, 99, 99.5, 99.9, 99.95, 99.99, 100]) for _ in range(random.randint(2,5))))
    tiers = []
    for lo, hi in zip(pts, pts[1:]):
        if random.random() < 0.8:
            lc = random.random() < 0.7; hc = not lc if random.random() < 0.8 else False
            tiers.append({"uptime": f"{'[' if lc else '('}{lo}, {hi}{']' if hc else ')'}", "credit_percent": str(random.choice([5,10,25,30,50,100]))})
    # drop overlaps at shared closed endpoints
    ok = []
    for t in tiers:
        if ok and ok[-1]["uptime"].endswith("]") and t["uptime"].startswith("["):
            t["uptime"] = "(" + t["uptime"][1:]
        ok.append(t)
    return ok or [{"uptime": "[0, 99.9)", "credit_percent": "10"}]
def rand_policy():
    k = random.choice(["uptime_tiers","downtime_multiple","days_of_service"])
    pol = {}
    if k == "uptime_tiers": rule = {"kind": k, "tiers": rand_tiers()}
    elif k == "downtime_multiple":
        rule = {"kind": k}
        if random.random() < 0.8: rule["multiplier"] = str(random.choice([1,10,25,3,100]))
        if random.random() < 0.3: rule["excess_only"] = True; pol["target_percent"] = random.choice(["99.9","99","95","99.99"])
    else:
        rule = {"kind": k}
        if random.random() < 0.4: rule["days"] = random.randint(1, 5)
        if random.random() < 0.4: rule["day_basis"] = random.choice(["actual","30"])
    pol["rule"] = rule
    if random.random() < 0.3 and "target_percent" not in pol: pol["target_percent"] = random.choice(["99.9","99","99.5"])
    if random.random() < 0.3: pol["period"] = random.choice(["month","quarter"])
    if random.random() < 0.2: pol["timezone"] = random.choice(ZONES)
    if random.random() < 0.3: pol["exclusion_mode"] = random.choice(["not_downtime","shrink_period"])
    if random.random() < 0.25: pol["denominator"] = "active"
    if random.random() < 0.3:
        pol["downtime_unit_seconds"] = random.choice([1, 60, 300, 3600, 86400])
        if random.random() < 0.5: pol["partial_units"] = random.choice(["round_up","round_down"])
    if random.random() < 0.3:
        cap = {}
        if random.random() < 0.6: cap["percent"] = str(random.choice([10, 50, 100, 200, 1000]))
        if random.random() < 0.5: cap["days"] = random.randint(1, 10)
        pol["cap"] = cap
    if random.random() < 0.2: pol["minimum"] = random.choice(["0.50","5.00","1","100"])
    pol["rounding"] = random.choice(["half_up","half_even","up","down"])
    return pol
def rand_windows(base, n, maxlen, unit=1):
    out = []
    for _ in range(n):
        s = base + random.randint(0, 70*86400) * 10**9 + random.choice([0, 0, 0, random.randint(0, 10**9-1)])
        l = random.randint(1, maxlen) * 10**9 + random.choice([0, 0, random.randint(1, 10**9-1)])
        out.append((s, s + l))
    return out
bad = 0
skipped = 0
for n in range(N):
    zone = random.choice(ZONES); cur = random.choice(CUR)
    base = int(datetime(random.randint(2024, 2028), random.randint(1, 12), 1, tzinfo=timezone.utc).timestamp()) * 10**9 - 5*86400*10**9
    anomaly = None
    if random.random() < 0.2:
        anomaly = random.choice(ANOMALIES)
        zone, y, m = anomaly
        # Around the anomalous month start: from a day before it to a few days after.
        base = int(datetime(y, m, 1, tzinfo=timezone.utc).timestamp()) * 10**9 - random.choice([1, 2, 30, 45]) * 86400 * 10**9
    req = {"currency": cur, "timezone": zone}
    src = random.random()
    if src < 0.6: req["plan"] = rand_plan()
    elif src < 0.8:
        segs = []
        for t in sorted(set(base + random.randint(-40, 60) * 86400 * 10**9 + random.randint(0, 86399) * 10**9 for _ in range(random.randint(1, 3)))):
            s = rand_plan(); s["since"] = iso(t); segs.append(s)
        random.shuffle(segs); req["plan_history"] = segs
    else:
        d = datetime.fromtimestamp(base // 10**9, timezone.utc)
        y, m = d.year, d.month
        items = []
        for i in range(5):
            if random.random() < 0.85:
                items.append({"period": f"{y:04d}-{m:02d}", "amount": money(1000, 2)})
            m += 1
            if m > 12: m = 1; y += 1
        req["fees"] = items
    req["policy"] = rand_policy()
    outs = rand_windows(base, random.randint(0, 6), random.choice([600, 7200, 3*86400]))
    if anomaly and random.random() < 0.7:
        # Straddle the anomalous first midnight itself (and the day around it).
        mid = ref.local_midnight(zone, anomaly[1], anomaly[2], 1)
        for _ in range(random.randint(1, 3)):
            s0 = mid + random.randint(-3 * 3600, 3 * 3600) * 10**9
            outs.append((s0, s0 + random.randint(60, 4 * 3600) * 10**9))
    req["outages"] = []
    for s, e in outs:
        o = {"start": iso(s), "end": iso(e)}
        if random.random() < 0.3: o["impact"] = random.choice(["0.5", "0.25", "0.1", "1", "0.75"])
        req["outages"].append(o)
    if random.random() < 0.5: req["exclusions"] = [{"start": iso(s), "end": iso(e)} for s, e in rand_windows(base, random.randint(0, 3), 7200)]
    if req["policy"].get("denominator") == "active" and random.random() < 0.8:
        req["active"] = [{"start": iso(s), "end": iso(e)} for s, e in rand_windows(base, random.randint(0, 4), 20*86400)]
    if (not req["outages"] and random.random() < 0.7) or random.random() < 0.15:
        k = req["policy"].get("period", "month")
        d = datetime.fromtimestamp(base // 10**9 + 10*86400, timezone.utc)
        req["period"] = f"{d.year:04d}-{d.month:02d}" if k == "month" else f"{d.year:04d}-Q{(d.month-1)//3+1}"
    try:
        exp_total, exp = ref.quote(json.loads(json.dumps(req)))
    except Exception as ex:
        skipped += 1  # the reference does not handle this input (e.g. a midnight gap)
        continue
    p = subprocess.run([BINARY, 'quote', '-'], input=json.dumps(req), capture_output=True, text=True)
    if p.returncode != 0:
        bad += 1; print("REJECTED", p.stderr.strip()[:200], json.dumps(req)[:600]); continue
    got = json.loads(p.stdout)
    got_p = {x["period"]: x for x in got["periods"]}
    problems = []
    if sorted(got_p) != sorted(exp): problems.append(f"periods {sorted(got_p)} vs {sorted(exp)}")
    for lab, r in exp.items():
        g = got_p.get(lab)
        if not g: continue
        if g["credit"] != r["credit"]: problems.append(f"{lab} credit {g['credit']} vs {r['credit']} (exact {float(r['exact'])})")
        if F(g["outage_seconds"]) != F(r["outage"], 10**9): problems.append(f"{lab} outage {g['outage_seconds']} vs {F(r['outage'],10**9)}")
        if F(g["excluded_seconds"]) != F(r["excluded"], 10**9): problems.append(f"{lab} excluded {g['excluded_seconds']} vs {float(F(r['excluded'],10**9))}")
        if F(g["denominator_seconds"]) != F(r["denom"], 10**9): problems.append(f"{lab} denom {g['denominator_seconds']} vs {float(F(r['denom'],10**9))}")
        if g["tier"] != r["tier"]: problems.append(f"{lab} tier {g['tier']} vs {r['tier']}")
        if g["warnings"] != r["warnings"]: problems.append(f"{lab} warnings {g['warnings']} vs {r['warnings']}")
    if got["total"] != exp_total and not problems: problems.append(f"total {got['total']} vs {exp_total}")
    if problems:
        bad += 1; print("DIFF", problems[:4], json.dumps(req)[:1500]); print()
print(f"seed {seed}: {N} random requests, {skipped} outside the reference's reach")
print(f"{N - skipped - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
