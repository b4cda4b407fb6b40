"""Independent reference calculator for docs/rules.md: exact Fractions, nanosecond time, zoneinfo.

Written from the rules alone, without reading the engine, to work the golden cases by hand and
to check the engine on random requests (differential.py). Calendar units are placed by the
instants of their local midnights, found by reading wall clocks (never by mapping an instant to
its date)."""
import re
from fractions import Fraction as F
from datetime import datetime, timezone, timedelta, date
from zoneinfo import ZoneInfo
from math import floor, ceil

NS = 10**9
MINOR = {"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "JPY": 0, "KWD": 3, "BHD": 3, "AUD": 2, "CAD": 2}

RX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def inst(s):
    m = RX.match(s)
    assert m, s
    y, mo, d, h, mi, se = map(int, m.groups()[:6])
    assert se < 60
    frac = m.group(7)
    off = m.group(8)
    if off == "Z":
        tz = timezone.utc
    else:
        sign = 1 if off[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))
    dt = datetime(y, mo, d, h, mi, se, tzinfo=tz)
    ns = int(dt.timestamp()) * NS
    if frac:
        ns += int(frac[1:].ljust(9, "0"))
    return ns


def _wall(zone, ts):
    """Wall-clock reading (naive datetime) of a UTC second in a zone."""
    return datetime.fromtimestamp(ts, ZoneInfo(zone)).replace(tzinfo=None)


def local_midnight(zone, y, m, d):
    """docs/rules.md §1: the instant local 00:00 of that date occurs; the earlier if twice; the
    first instant after the gap if never. Found from the instants themselves: the earliest
    second whose wall clock reads that midnight or later."""
    z = ZoneInfo(zone)
    target = datetime(y, m, d)
    stamps = sorted(int(datetime(y, m, d, fold=f, tzinfo=z).timestamp()) for f in (0, 1))
    real = [t for t in stamps if _wall(zone, t) == target]
    if real:
        return min(real) * NS
    # A gap: the two readings (offset before, offset after) bracket the one transition, and the
    # wall clock is monotone between them; find its first second at or past midnight.
    lo, hi = stamps
    assert _wall(zone, lo) < target <= _wall(zone, hi), (zone, y, m, d)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(zone, mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi * NS


def local_date(zone, ns):
    return datetime.fromtimestamp(ns // NS, ZoneInfo(zone)).date()


def local_days(zone, a, b):
    """The local days (by their midnights) that [a, b) touches, as dates."""
    out = []
    d = local_date(zone, a) - timedelta(days=2)
    last = local_date(zone, b - 1) + timedelta(days=2)
    while d <= last:
        s = local_midnight(zone, d.year, d.month, d.day)
        n = d + timedelta(days=1)
        e = local_midnight(zone, n.year, n.month, n.day)
        if s < e and s < b and a < e:
            out.append(d)
        d = n
    return out


def month_span(zone, y, m):
    y2, m2 = (y + 1, 1) if m == 12 else (y, m + 1)
    return local_midnight(zone, y, m, 1), local_midnight(zone, y2, m2, 1)


def quarter_span(zone, y, q):
    m = 3 * (q - 1) + 1
    y2, m2 = (y + 1, 1) if q == 4 else (y, m + 3)
    return local_midnight(zone, y, m, 1), local_midnight(zone, y2, m2, 1)


def year_span(zone, y):
    return local_midnight(zone, y, 1, 1), local_midnight(zone, y + 1, 1, 1)


def units_overlapping(kind, zone, a, b):
    """yield (label, start, end) for calendar units of kind overlapping [a,b)."""
    # The wall-clock date is never later than the unit holding an instant; start a unit early.
    d = local_date(zone, a) - timedelta(days=2)
    if kind == "month":
        y, m = d.year, d.month
        while True:
            s, e = month_span(zone, y, m)
            if s >= b:
                break
            if e > a:
                yield ("%04d-%02d" % (y, m), s, e)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    elif kind == "quarter":
        y, q = d.year, (d.month - 1) // 3 + 1
        while True:
            s, e = quarter_span(zone, y, q)
            if s >= b:
                break
            if e > a:
                yield ("%04d-Q%d" % (y, q), s, e)
            y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    elif kind == "year":
        y = d.year
        while True:
            s, e = year_span(zone, y)
            if s >= b:
                break
            if e > a:
                yield (str(y), s, e)
            y += 1


def label_span(zone, label):
    if "Q" in label:
        y, q = label.split("-Q")
        return quarter_span(zone, int(y), int(q))
    y, m = label.split("-")
    return month_span(zone, int(y), int(m))


def plan_integral(plan, zone, a, b):
    if a >= b:
        return F(0)
    price = F(plan["price"])
    cyc = plan["billing_cycle"]
    tot = F(0)
    if cyc == "monthly":
        for _, s, e in units_overlapping("month", zone, a, b):
            tot += price * (min(b, e) - max(a, s)) / (e - s)
    elif cyc == "quarterly":
        for _, s, e in units_overlapping("quarter", zone, a, b):
            tot += price * (min(b, e) - max(a, s)) / (e - s)
    elif cyc == "annual":
        split = plan.get("annual_split", "twelfths")
        if split == "twelfths":
            for _, s, e in units_overlapping("month", zone, a, b):
                tot += price / 12 * (min(b, e) - max(a, s)) / (e - s)
        else:
            for _, s, e in units_overlapping("year", zone, a, b):
                tot += price * (min(b, e) - max(a, s)) / (e - s)
    else:
        raise ValueError(cyc)
    return tot


def make_rate_integral(req, zone):
    if "plan" in req:
        p = req["plan"]
        return lambda a, b: plan_integral(p, zone, a, b)
    if "plan_history" in req:
        segs = sorted(req["plan_history"], key=lambda s: inst(s["since"]))
        bounds = [inst(s["since"]) for s in segs] + [10**30]

        def f(a, b):
            t = F(0)
            for i, s in enumerate(segs):
                lo, hi = max(a, bounds[i]), min(b, bounds[i + 1])
                if lo < hi:
                    t += plan_integral(s, zone, lo, hi)
            return t
        return f
    if "fees" in req:
        items = [(label_span(zone, it["period"]), F(it["amount"])) for it in req["fees"]]

        def g(a, b):
            t = F(0)
            for (s, e), amt in items:
                lo, hi = max(a, s), min(b, e)
                if lo < hi:
                    t += amt * (hi - lo) / (e - s)
            return t
        return g
    raise ValueError("no fee source")


def union(ws):
    ws = sorted(ws)
    out = []
    for s, e in ws:
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [tuple(x) for x in out]


def covered(ws, a, b):
    return any(s <= a and b <= e for s, e in ws)


def round_money(x, digits, mode):
    q = x * 10**digits
    sign = -1 if q < 0 else 1
    q = abs(q)
    fl = floor(q)
    rem = q - fl
    if mode == "half_up":
        n = fl + (1 if rem >= F(1, 2) else 0)
    elif mode == "half_even":
        if rem > F(1, 2):
            n = fl + 1
        elif rem < F(1, 2):
            n = fl
        else:
            n = fl + (fl % 2)
    elif mode == "up":
        n = fl + (1 if rem > 0 else 0)
    elif mode == "down":
        n = fl
    else:
        raise ValueError(mode)
    n *= sign
    if digits == 0:
        return str(n)
    s = str(abs(n)).rjust(digits + 1, "0")
    return ("-" if n < 0 else "") + s[:-digits] + "." + s[-digits:]


def parse_interval(s):
    m = re.match(r"^\s*([\[(])\s*([0-9.]+)\s*,\s*([0-9.]+)\s*([\])])\s*$", s)
    lo_closed = m.group(1) == "["
    hi_closed = m.group(4) == "]"
    return lo_closed, F(m.group(2)), F(m.group(3)), hi_closed


def in_interval(iv, u):
    lc, lo, hi, hc = iv
    return (u > lo or (lc and u == lo)) and (u < hi or (hc and u == hi))


def quote(req):
    pol = req["policy"]
    rule = pol["rule"]
    zone = pol.get("timezone") or req.get("timezone") or "UTC"
    pkind = pol.get("period", "month")
    cur = req["currency"]
    digits = MINOR[cur]
    mode = pol.get("rounding", "half_up")
    rate_int = make_rate_integral(req, zone)
    outs = [(inst(o["start"]), inst(o["end"]), F(o.get("impact", "1"))) for o in req["outages"]]
    for s, e, i in outs:
        assert s < e and 0 < i <= 1
    excl = union([(inst(x["start"]), inst(x["end"])) for x in req.get("exclusions", [])])
    den_mode = pol.get("denominator", "period")
    active = None
    if den_mode == "active" and "active" in req:
        active = union([(inst(x["start"]), inst(x["end"])) for x in req["active"]])
    emode = pol.get("exclusion_mode", "not_downtime")
    unit = pol.get("downtime_unit_seconds")
    partial = pol.get("partial_units", "round_up")

    # periods
    labels = {}
    for s, e, _ in outs:
        for lab, ps, pe in units_overlapping(pkind, zone, s, e):
            labels[lab] = (ps, pe)
    if not outs and "period" in req:
        labels[req["period"]] = label_span(zone, req["period"])
    incident_start = min((s for s, _, _ in outs), default=None)

    results = {}
    for lab in sorted(labels, key=lambda k: labels[k][0]):
        ps, pe = labels[lab]
        T = pe - ps
        # days in period
        ndays_actual = len(local_days(zone, ps, pe))
        basis = rule.get("day_basis", "actual")
        if basis == "30":
            days_in = 30 if pkind == "month" else 90
        else:
            days_in = ndays_actual
        # breakpoints
        pts = {ps, pe}
        for s, e, _ in outs:
            pts.update([s, e])
        for s, e in excl:
            pts.update([s, e])
        if active is not None:
            for s, e in active:
                pts.update([s, e])
        pts = sorted(p for p in pts if ps <= p <= pe)
        elems = []  # (a,b,impact,is_active,is_excl, in_outage)
        for a, b in zip(pts, pts[1:]):
            imp = max([i for s, e, i in outs if s <= a and b <= e], default=F(0))
            act = True if active is None else covered(active, a, b)
            if den_mode == "active" and active is None:
                act = True
            ex = covered(excl, a, b)
            elems.append((a, b, imp, act, ex))
        outage_sec = sum(b - a for a, b, imp, act, ex in elems if imp > 0)
        if den_mode == "active":
            excluded = sum(b - a for a, b, imp, act, ex in elems if ex and act)
            base = sum(b - a for a, b, imp, act, ex in elems if act)
        else:
            excluded = sum(b - a for a, b, imp, act, ex in elems if ex)
            base = T
        denom = base - (excluded if emode == "shrink_period" else 0)
        # runs
        runs = []
        cur_run = None
        for a, b, imp, act, ex in elems:
            counted = imp > 0 and act and not ex
            if counted:
                if cur_run and cur_run[-1][1] == a:
                    cur_run.append((a, b, imp))
                else:
                    cur_run = [(a, b, imp)]
                    runs.append(cur_run)
            else:
                cur_run = None
        D = F(0)
        fdd = F(0)
        days = set()
        for run in runs:
            raw = sum(b - a for a, b, _ in run)
            W = sum((b - a) * imp for a, b, imp in run)
            FW = sum(rate_int(a, b) * imp for a, b, imp in run)
            if unit:
                u = unit * NS
                k = -(-raw // u) if partial == "round_up" else raw // u
                factor = F(k * u, raw)
            else:
                factor = F(1)
            D += W * factor
            fdd += FW * factor
            if factor > 0:
                for a, b, _ in run:
                    days.update(local_days(zone, a, b))
        D = min(D, F(denom))
        U = F(100) if denom == 0 else (denom - D) / F(denom) * 100
        fee = rate_int(ps, pe)
        warnings = []
        tier = None
        kind = rule["kind"]
        target = F(pol["target_percent"]) if "target_percent" in pol else None
        if kind == "uptime_tiers":
            ivs = [(parse_interval(t["uptime"]), F(t["credit_percent"]), t["uptime"]) for t in rule["tiers"]]
            hit = [x for x in ivs if in_interval(x[0], U)]
            assert len(hit) <= 1
            if hit:
                tier = hit[0][2]
                unc = fee * hit[0][1] / 100
            else:
                above = any(iv[1] > U or (iv[1] == U and not iv[0]) for iv, _, _ in ivs)
                below = any(iv[2] < U or (iv[2] == U and not iv[3]) for iv, _, _ in ivs)
                if above and below:
                    warnings.append("tier_gap")
                unc = F(0)
        elif kind == "downtime_multiple":
            mult = F(rule.get("multiplier", "1"))
            if target is not None and U >= target:
                unc = F(0)
            elif rule.get("excess_only"):
                A = (100 - target) / 100 * denom
                unc = F(0) if D == 0 else fdd * max(F(0), D - A) / D * mult
            else:
                unc = fdd * mult
        elif kind == "days_of_service":
            if "days" in rule:
                N = rule["days"] if (incident_start is None or ps <= incident_start < pe) else 0
                unc = fee * N / days_in
            else:
                N = len(days)
                unc = F(0) if (target is not None and U >= target) else fee * N / days_in
        cap = pol.get("cap", {})
        capv = fee * F(cap.get("percent", "100")) / 100
        if "days" in cap:
            capv = min(capv, fee * cap["days"] / days_in)
        capped = min(unc, capv)
        if "minimum" in pol and capped <= F(pol["minimum"]):
            final = F(0)
        else:
            final = capped
        results[lab] = dict(
            credit=round_money(final, digits, mode), exact=final, uncapped=unc, capped=capped,
            fee=fee, fdd=fdd, D=D, U=U, denom=denom, T=T, days_in=days_in, affected=len(days),
            tier=tier, warnings=warnings, outage=outage_sec, excluded=excluded,
        )
    total = sum(F(r["credit"]) for r in results.values())
    return round_money(total, digits, "half_up"), results
