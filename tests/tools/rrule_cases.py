#!/usr/bin/env python3
"""Generates the expectation tables of tests/unit/test_rrule.c without libical.

The local wall-clock times of a rule come from python-dateutil's rrule (an independent
RFC 5545 expander) run on naive datetimes; each is placed in its zone with the standard
library's zoneinfo, fold=0, which is RFC 5545 3.3.5's rule (PEP 495: a time in a gap takes
the offset before the gap, a repeated time its first instant). COUNT, UNTIL and EXDATE are
applied here, to instants, as RFC 5545 says: dtstart is the first instance, COUNT counts
excluded instances too, UNTIL is inclusive. Completion-anchor rows use
dateutil.relativedelta (which clamps Jan 31 + 1 month to Feb 28).

    python3 tests/tools/rrule_cases.py > /tmp/rows.c   # then paste into the test
"""
import re
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

UTC = timezone.utc


def instant(spec, zone):
    """'2026-03-08T02:30' is a wall clock in zone (fold=0); a trailing Z is an instant."""
    if spec.endswith("Z"):
        return datetime.fromisoformat(spec[:-1]).replace(tzinfo=UTC)
    return datetime.fromisoformat(spec).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def z(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expand(rule, zone, dtstart, after, exdates, n):
    zi = ZoneInfo(zone)
    start = instant(dtstart, zone)
    local0 = start.astimezone(zi).replace(tzinfo=None)
    body = rule[6:] if rule.upper().startswith("RRULE:") else rule
    parts = dict(p.split("=", 1) for p in body.split(";"))
    count = int(parts.pop("COUNT")) if "COUNT" in parts else None
    until = parts.pop("UNTIL", None)
    if until is not None:
        if until.endswith("Z"):
            until_i = datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        elif "T" in until:
            until_i = datetime.strptime(until, "%Y%m%dT%H%M%S").replace(tzinfo=zi)
        else:  # a date: the whole day, in the zone
            until_i = datetime.strptime(until, "%Y%m%d").replace(
                hour=23, minute=59, second=59, tzinfo=zi)
    rr = rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=local0)
    after_i = instant(after, zone) if after else start - timedelta(seconds=1)
    ex = {instant(e, zone) for e in exdates}
    out, k = [], 0
    seq = [start]
    for wall in rr:
        if wall <= local0:
            continue
        if wall.year > local0.year + 100 or len(out) >= n + 4:
            break
        seq.append(wall.replace(tzinfo=zi).astimezone(UTC))
    for t in seq:
        k += 1
        if count is not None and k > count:
            break
        if until is not None and t > until_i:
            break
        if t > after_i and t not in ex and t not in out:
            out.append(t)
    out.sort()
    return start, after_i, out[:n]


def cstr(s):
    return '"' + s + '"'


def row(name, rule, zone, dtstart, after=None, exdates=(), n=4):
    start, after_i, out = expand(rule, zone, dtstart, after, exdates, n)
    ex = ", ".join(cstr(z(instant(e, zone))) for e in exdates)
    exp = ", ".join(cstr(z(t)) for t in out)
    print(f'    {{{cstr(name)}, {cstr(rule)}, {cstr(zone)}, {cstr(z(start))}, '
          f'{cstr(z(after_i))}, {{{ex}}}, {n}, {{{exp}}}}},')


def completion(name, rule, zone, dtstart, completed):
    zi = ZoneInfo(zone)
    start = instant(dtstart, zone).astimezone(zi)
    done = instant(completed, zone).astimezone(zi)
    parts = dict(p.split("=", 1) for p in rule.split(";"))
    step = int(parts.get("INTERVAL", "1"))
    unit = {"DAILY": relativedelta(days=step), "WEEKLY": relativedelta(weeks=step),
            "MONTHLY": relativedelta(months=step), "YEARLY": relativedelta(years=step)}
    day = done.date() + unit[parts["FREQ"]]
    local = datetime.combine(day, start.time().replace(tzinfo=None))
    t = local.replace(tzinfo=zi).astimezone(UTC)
    if "UNTIL" in parts and t > datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=UTC):
        res = "NULL"
    else:
        res = cstr(z(t))
    print(f'    {{{cstr(name)}, {cstr(rule)}, {cstr(zone)}, {cstr(z(start))}, '
          f'{cstr(z(done))}, {res}}},')


if __name__ == "__main__":
    exec(open(sys.argv[1] if len(sys.argv) > 1 else __file__.replace(".py", ".in")).read())
