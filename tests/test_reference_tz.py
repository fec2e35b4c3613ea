"""The reference with `timezone` and `month` (SPEC §5): local-time buckets, row periods in UTC.
Every expected period and value is worked out by hand in the comment next to it."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from meterql.plan import Window
from test_reference import Spec  # the duck-typed metric the reference accepts
from meterql.reference import reference_rows as _reference_rows


def reference_rows(events, metric, subject_id, start_ms, end_ms, **window):
    """The reference's rows for one subject's window (keywords: the Window's fields)."""
    return _reference_rows(events, metric, Window(subject_id, start_ms, end_ms, **window))

D = Decimal




def z(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_n = 0


def e(at: str, **props):
    global _n
    _n += 1
    return {"event_id": f"tz{_n}", "subject_id": "s1", "event_name": "call", "timestamp": z(at), "properties": props}


def table(rows):
    return [(iso(r.bucket_start_ms), iso(r.bucket_end_ms), r.inclusive_start, r.inclusive_end, r.value) for r in rows]


def test_berlin_days_over_both_dst_changes():
    # Spring: Mar 31 2024 is [Mar 30 23:00Z, Mar 31 22:00Z) (23 h); autumn: Oct 27 is
    # [Oct 26 22:00Z, Oct 27 23:00Z) (25 h). Events at 23:30Z Mar 30 (= 00:30 local Mar 31)
    # and 21:30Z Mar 31 (23:30 CEST) are the same local day; 22:30Z Mar 31 is Apr 1.
    evs = [e("2024-03-30T23:30", v=1), e("2024-03-31T21:30", v=2), e("2024-03-31T22:30", v=4),
           e("2024-10-26T22:00", v=8), e("2024-10-27T22:59:59.999", v=16), e("2024-10-27T23:00", v=32)]
    rows = reference_rows(evs, Spec("sum", "v"), "s1", z("2024-03-01T00:00"), z("2024-11-01T00:00"),
                          granularity="day", timezone="Europe/Berlin")
    assert table(rows) == [
        ("2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z", True, False, D(3)),  # 1 + 2, 23 hours
        ("2024-03-31T22:00:00Z", "2024-04-01T22:00:00Z", True, False, D(4)),
        ("2024-10-26T22:00:00Z", "2024-10-27T23:00:00Z", True, False, D(24)),  # 8 + 16, 25 hours
        ("2024-10-27T23:00:00Z", "2024-10-28T23:00:00Z", True, False, D(32)),
    ]


def test_new_york_months_cut_to_the_period_and_carried():
    # Months in New York: Feb = [Feb 1 05:00Z, Mar 1 05:00Z), Mar = [Mar 1 05:00Z, Apr 1 04:00Z)
    # (DST from Mar 10), Apr = [Apr 1 04:00Z, May 1 04:00Z). The period [Feb 10 00:00Z, Apr 15
    # 00:00Z] (inclusive end) cuts the first and the last. Recurring sum: the +5 of Feb 29 04:30Z
    # (= Feb 28 23:30 EST) is February's;
    # March has no event but carries 5; the +2 at Apr 1 03:59Z is Mar 31 23:59 EDT: March's, so
    # March = 7 and April carries 7.
    evs = [e("2024-02-29T04:30", v=5), e("2024-04-01T03:59", v=2)]
    rows = reference_rows(evs, Spec("sum", "v", recurring=True), "s1", z("2024-02-10T00:00"), z("2024-04-15T00:00"),
                          inclusive_end=True, granularity="month", timezone="America/New_York")
    assert table(rows) == [
        ("2024-02-10T00:00:00Z", "2024-03-01T05:00:00Z", True, False, D(5)),
        ("2024-03-01T05:00:00Z", "2024-04-01T04:00:00Z", True, False, D(7)),
        ("2024-04-01T04:00:00Z", "2024-04-15T00:00:00Z", True, True, D(7)),
    ]


def test_weeks_start_monday_local():
    # Berlin, CET (+1) in January: Monday Jan 8 2024 00:00 local = Jan 7 23:00Z. An event at
    # Jan 7 23:30Z is Monday 00:30 local: the new week; Jan 7 22:30Z is Sunday: the old one.
    evs = [e("2024-01-07T22:30"), e("2024-01-07T23:30")]
    rows = reference_rows(evs, Spec("count"), "s1", z("2024-01-01T00:00"), z("2024-01-15T00:00"),
                          granularity="week", timezone="Europe/Berlin")
    assert table(rows) == [
        ("2024-01-01T00:00:00Z", "2024-01-07T23:00:00Z", True, False, D(1)),  # cut: the week began Dec 31 23:00Z
        ("2024-01-07T23:00:00Z", "2024-01-14T23:00:00Z", True, False, D(1)),
    ]


def test_kathmandu_hours_and_utc_month():
    # +05:45: local hours start at :15 UTC. 10:14Z is in [09:15Z, 10:15Z), 10:15Z starts the next.
    evs = [e("2024-05-01T10:14"), e("2024-05-01T10:15"), e("2024-05-01T10:16")]
    rows = reference_rows(evs, Spec("count"), "s1", z("2024-05-01T10:00"), z("2024-05-01T11:00"),
                          granularity="hour", timezone="Asia/Kathmandu")
    assert table(rows) == [
        ("2024-05-01T10:00:00Z", "2024-05-01T10:15:00Z", True, False, D(1)),
        ("2024-05-01T10:15:00Z", "2024-05-01T11:00:00Z", True, False, D(2)),
    ]
    # `month` in UTC: Feb 2024 has 29 days; the event at Feb 29 23:59Z is February's.
    rows = reference_rows([e("2024-02-29T23:59"), e("2024-03-01T00:00")], Spec("count"), "s1",
                          z("2024-02-01T00:00"), z("2024-04-01T00:00"), granularity="month")
    assert table(rows) == [
        ("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z", True, False, D(1)),
        ("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", True, False, D(1)),
    ]
