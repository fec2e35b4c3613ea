"""Issue 9, items 4 and 8, on DuckDB, ClickHouse (chdb) and the Decimal reference: every case
must give the same answer everywhere — a value or `NumericOverflow`. Expected values are worked
out in the comments.

- Overflow at the edge (SPEC §3, §4): a sum is range-checked once complete (an intermediate
  partial sum may pass 10^26); avg = sum / count, its sum checked like any sum; a weighted_sum
  level is checked at every step (after the events of each millisecond).
- `latest` skips NULL values (SPEC §4).
- Carried state creates rows: recurring totals, levels, distinct sets and weighted_sum levels
  (SPEC §5).
"""

from __future__ import annotations

from meterql.plan import Window
from decimal import Decimal

import pytest

from meterql import Metric, Period
from meterql.errors import LimitExceeded, NumericOverflow
from meterql.reference import reference_rows

from engine_fixtures import engine  # noqa: F401  (fixture)

H = 3_600_000
DAY = 24 * H
T0 = 1704067200000  # 2024-01-01T00:00:00Z, a Monday
D = Decimal
B = "90000000000000000000000000"  # 9·10^25: in range; 2B is not

from test_engine_edges import ev  # noqa: E402  (one event builder: fresh ids, raw event dicts)


OVERFLOW = "overflow"


def answers(engine, events, metric, start, end, granularity=None, dims=(), subjects=False):
    """[(bucket start, coordinates, value)] from the engine and from the reference — or
    OVERFLOW for either — after checking that they agree."""
    engine.ingest(events)

    def run(f):
        try:
            return [(r[0], r[1], r[2]) for r in f()]
        except NumericOverflow:
            return OVERFLOW

    got = run(lambda: [(r.bucket_start_ms, r.coordinates, r.value)
                       for r in engine.aggregate(metric, Window("s1", start, end, True, False, granularity, dims))])
    want = run(lambda: [(r.bucket_start_ms, r.coordinates, r.value)
                        for r in reference_rows(events, metric, Window("s1", start, end, granularity=granularity, dimensions=dims))])
    assert got == want
    if subjects:  # the many-subject plan (invoice run) agrees too
        many = run(lambda: [(r.bucket_start_ms, r.coordinates, r.value)
                            for r in engine.aggregate_subjects(metric, Window(None, start, end, True, False, granularity, dims)).get("s1", [])])
        assert many == want
    return got


# --- item 4: overflow at the edge ------------------------------------------------------------------


def test_sum_is_checked_once_complete(engine):  # noqa: F811
    # [B, B, −B]: the partial sum 2B passes 10^26, the sum B does not → 9e25 (SPEC §3: a sum)
    evs = [ev(T0 + 1, v=B), ev(T0 + 2, v=B), ev(T0 + 3, v="-" + B)]
    assert answers(engine, evs, Metric(code="s", aggregation="sum", value="v"), T0, T0 + DAY,
                   subjects=True) == [(T0, (), D(B))]
    # the same in the shared scan of several metrics
    rows = engine.aggregate_many([Metric(code="s", aggregation="sum", value="v"), Metric(code="c", aggregation="count")], Window("s1", T0, T0 + DAY))
    assert [r.value for rs in rows for r in rs] == [D(B), D(3)]
    # …and recurring, with the partial sum 2B before the period: total B in the period
    evs2 = [ev(T0 - 2, subject="s2", v=B), ev(T0 - 1, subject="s2", v=B), ev(T0 + 5, subject="s2", v="-" + B)]
    engine.ingest(evs2)
    rec = Metric(code="r", aggregation="sum", value="v", recurring=True)
    assert [r.value for r in engine.aggregate(rec, Window("s2", T0, T0 + DAY))] == [D(B)]
    assert [r.value for r in reference_rows(evs2, rec, Window("s2", T0, T0 + DAY))] == [D(B)]


def test_a_sum_past_the_range_overflows(engine):  # noqa: F811
    # [B, B]: the sum 1.8e26 is out of range
    evs = [ev(T0 + 1, v=B), ev(T0 + 2, v=B)]
    assert answers(engine, evs, Metric(code="s", aggregation="sum", value="v"), T0, T0 + DAY, subjects=True) == OVERFLOW


def test_avg_overflows_when_its_sum_does(engine):  # noqa: F811
    # avg over [B, B] = (2B = 1.8e26, out of range) / 2 → overflow, though the quotient B is in range
    evs = [ev(T0 + 1, v=B), ev(T0 + 2, v=B)]
    avg = Metric(code="a", aggregation="avg", value="v")
    assert answers(engine, evs, avg, T0, T0 + DAY, subjects=True) == OVERFLOW
    with pytest.raises(NumericOverflow):
        engine.aggregate_many([avg, Metric(code="c", aggregation="count")], Window("s1", T0, T0 + DAY))
    # [B, B, −B]: the sum B / 3 = 3e25 — a partial sum past 10^26 is fine
    engine.ingest([ev(T0 + 3, subject="s3", v=B), ev(T0 + 4, subject="s3", v=B), ev(T0 + 5, subject="s3", v="-" + B)])
    assert [r.value for r in engine.aggregate(avg, Window("s3", T0, T0 + DAY))] == [D(3 * 10**25)]


def test_weighted_sum_level_is_checked_at_every_step(engine):  # noqa: F811
    # recurring, period [0, 10) ms: levels 7.4e25 at 2, 1.42e26 at 4 (out of range), 5.4e25 at 6;
    # the final level and the time-weighted average (6.48e25) are in range, the step is not
    evs = [ev(2, v="74000000000000000000000000"), ev(4, v="68000000000000000000000000"),
           ev(6, v="-88000000000000000000000000")]
    ws = Metric(code="w", aggregation="weighted_sum", value="v", recurring=True)
    assert answers(engine, evs, ws, 0, 10, subjects=True) == OVERFLOW
    with pytest.raises(NumericOverflow):  # shared scan (not recurring: same levels from 0)
        engine.aggregate_many([Metric(code="w", aggregation="weighted_sum", value="v"),
                               Metric(code="c", aggregation="count")], Window("s1", 0, 10))


def test_weighted_sum_not_recurring_step_overflow(engine):  # noqa: F811
    # (2, B), (4, B), (6, −B) over [0, 10): the level 2B at 4 ms is out of range
    evs = [ev(2, v=B), ev(4, v=B), ev(6, v="-" + B)]
    ws = Metric(code="w", aggregation="weighted_sum", value="v")
    assert answers(engine, evs, ws, 0, 10, subjects=True) == OVERFLOW


def test_weighted_sum_near_the_edge_in_range(engine):  # noqa: F811
    # The bound fails (B + B > 10^26 in Σ|v|) but every level is in range: (2, B), (4, −B), (6, B),
    # (6, −B) (the last two in one millisecond apply together: level stays 0) over [0, 10):
    # levels 0 (2 ms), B (2 ms), 0 (6 ms) → 2B / 10 = 1.8e25
    evs = [ev(2, v=B), ev(4, v="-" + B), ev(6, v=B), ev(6, v="-" + B)]
    ws = Metric(code="w", aggregation="weighted_sum", value="v")
    assert answers(engine, evs, ws, 0, 10, subjects=True) == [(0, (), D(18 * 10**24))]
    # shared with another metric: the weighted_sum falls back to its own exact query
    rows = engine.aggregate_many([ws, Metric(code="c", aggregation="count")], Window("s1", 0, 10))
    assert [r.value for rs in rows for r in rs] == [D(18 * 10**24), D(4)]
    # hour buckets and a dimension (one group per seat) over the same values, in ms 2…6 of hour 0
    evs2 = [ev(T0 + 2, subject="s1", v=B, seat="a"), ev(T0 + 4, subject="s1", v="-" + B, seat="a"),
            ev(T0 + 5, subject="s1", v=B, seat="b")]
    # a: B for 2 ms of the hour → 2B / 3,600,000 = 5e19; b: B from ms 5 → B·3,599,995 / 3,600,000
    #    = 89999875000000000000000000; hour 1: b's carried level B, a's is 0 (no row)
    assert answers(engine, evs2, ws, T0, T0 + 2 * H, "hour", ("seat",)) == [
        (T0, ("a",), D(5 * 10**19)), (T0, ("b",), D("89999875000000000000000000")), (T0 + H, ("b",), D(B))]


# --- item 8: latest skips NULL values -------------------------------------------------------------


def test_latest_skips_null_values(engine):  # noqa: F811
    lat = Metric(code="l", aggregation="latest", value="v")
    # a (1 h) = 1, b (2 h) NULL, c (2 h, tie, greater id) = 'n/a' (NULL as a number) → a's 1
    evs = [ev(T0 + H, event_id="a", v=1), ev(T0 + 2 * H, event_id="b"), ev(T0 + 2 * H, event_id="c", v="n/a")]
    assert answers(engine, evs, lat, T0, T0 + DAY, subjects=True) == [(T0, (), D(1))]
    # ties among values: greatest event_id ('y' > 'x') wins
    engine.ingest([ev(T0 + H, subject="s2", event_id="y", v=5), ev(T0 + H, subject="s2", event_id="x", v=6)])
    assert [r.value for r in engine.aggregate(lat, Window("s2", T0, T0 + DAY))] == [D(5)]
    # no event with a value: NULL
    engine.ingest([ev(T0 + H, subject="s4", v=None)])
    assert [r.value for r in engine.aggregate(lat, Window("s4", T0, T0 + DAY))] == [None]


def test_latest_in_a_shared_scan_skips_null_and_other_metrics_events(engine):  # noqa: F811
    lat = Metric(code="lat", aggregation="latest", event_name="a", value="v", filter="kind = 'x'")
    cnt = Metric(code="n", aggregation="count", event_name="b")
    engine.ingest([
        ev(T0 + 1 * H, name="a", v=1, kind="x"),
        ev(T0 + 2 * H, name="a", kind="x"),  # its latest event, NULL value: skipped
        ev(T0 + 3 * H, name="a", v=9, kind="y"),  # filtered out
        ev(T0 + 4 * H, name="b", v=7),  # another metric's event
    ])
    lat_rows, cnt_rows = engine.aggregate_many([lat, cnt], Window("s1", T0, T0 + DAY))
    assert [r.value for r in lat_rows] == [D(1)] and [r.value for r in cnt_rows] == [D(1)]


# --- item 8: carried state creates rows -----------------------------------------------------------


def test_recurring_sum_carried_rows(engine):  # noqa: F811
    # seats: a +3 before the period, −3 on day 2, +1 on day 4; b +2 before the period only.
    evs = [ev(T0 - DAY, v=3, seat="a"), ev(T0 + DAY + H, v=-3, seat="a"), ev(T0 + 3 * DAY + H, v=1, seat="a"),
           ev(T0 - 2 * DAY, v=2, seat="b")]
    rec = Metric(code="r", aggregation="sum", value="v", recurring=True)
    # a: day 1 carried 3; day 2 (event) 0; day 3 carried 0 → no row; day 4: 1. b: 2 every day.
    assert answers(engine, evs, rec, T0, T0 + 4 * DAY, "day", ("seat",), subjects=True) == [
        (T0, ("a",), D(3)), (T0, ("b",), D(2)),
        (T0 + DAY, ("a",), D(0)), (T0 + DAY, ("b",), D(2)),
        (T0 + 2 * DAY, ("b",), D(2)),
        (T0 + 3 * DAY, ("a",), D(1)), (T0 + 3 * DAY, ("b",), D(2)),
    ]


def test_carried_rows_cut_buckets_and_distinct_sets(engine):  # noqa: F811
    # recurring unique_count: {u} before the period; period [T0+6h, T0+2d+1h) → 3 cut day buckets
    evs = [ev(T0 - DAY, user="u"), ev(T0 - DAY, v=1)]  # the second has no user: NULL, not a value
    uc = Metric(code="u", aggregation="unique_count", value="user", recurring=True)
    assert answers(engine, evs, uc, T0 + 6 * H, T0 + 2 * DAY + H, "day", subjects=True) == [
        (T0 + 6 * H, (), D(1)), (T0 + DAY, (), D(1)), (T0 + 2 * DAY, (), D(1))]
    rows = engine.summary(uc, "s1", Period(T0 + 6 * H, T0 + 2 * DAY + H), "day")
    assert [(r.period.to_dict()["start"], r.period.to_dict()["end"]) for r in rows] == [
        ("2024-01-01T06:00:00Z", "2024-01-02T00:00:00Z"), ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"),
        ("2024-01-03T00:00:00Z", "2024-01-03T01:00:00Z")]


def test_weighted_sum_carried_level_rows(engine):  # noqa: F811
    # SPEC worked example, hour buckets over [0 h, 10 h): +10 at 2 h, −4 at 6 h → 10 in hours 2–5,
    # 6 in hours 6–9; no row before 2 h (level 0)
    evs = [ev(T0 + 2 * H, v=10), ev(T0 + 6 * H, v=-4)]
    ws = Metric(code="w", aggregation="weighted_sum", value="v")
    assert answers(engine, evs, ws, T0, T0 + 10 * H, "hour", subjects=True) == (
        [(T0 + h * H, (), D(10)) for h in range(2, 6)] + [(T0 + h * H, (), D(6)) for h in range(6, 10)])
    # back to 0: no more rows; recurring from before the period: rows from the first bucket
    evs2 = [ev(T0 - H, subject="s1", v=5), ev(T0 + H + 30 * 60_000, subject="s1", v=-5)]
    rec = Metric(code="wr", aggregation="weighted_sum", value="v", recurring=True)
    engine.ingest(evs2)
    got = [(r.bucket_start_ms, r.value) for r in engine.aggregate(rec, Window("s1", T0 + 12 * H, T0 + 14 * H, granularity="hour"))]
    # s1's events over all time: +5 (−1 h), −5 (1.5 h), +10 (2 h), −4 (6 h) → level 6 from 6 h on
    assert got == [(T0 + 12 * H, D(6)), (T0 + 13 * H, D(6))]
    # hour 0: 5 all hour; hour 1: 5 for 30 min then 0 → 2.5; hour 2: +10 → 10
    got = [(r.bucket_start_ms, r.value) for r in engine.aggregate(rec, Window("s1", T0, T0 + 3 * H, granularity="hour"))]
    assert got == [(T0, D(5)), (T0 + H, D("2.5")), (T0 + 2 * H, D(10))]


def test_summaries_include_subjects_with_only_carried_state(engine):  # noqa: F811
    rec = Metric(code="r", aggregation="sum", value="v", recurring=True)
    engine.ingest([ev(T0 - DAY, subject="old", v=4), ev(T0 - DAY, subject="gone", v=2),
                   ev(T0 - H, subject="gone", v=-2), ev(T0 + H, subject="new", v=1)])
    period = Period(T0, T0 + 2 * DAY)
    got = {s: [(r.period.to_dict()["start"], r.value) for r in rows] for s, rows in engine.summaries(rec, period, granularity="day").items()}
    # old: 4 carried on both days; gone: 0 carried → no rows, left out; new: 1 on day 1 and carried on day 2
    assert got == {
        "new": [("2024-01-01T00:00:00Z", "1"), ("2024-01-02T00:00:00Z", "1")],
        "old": [("2024-01-01T00:00:00Z", "4"), ("2024-01-02T00:00:00Z", "4")],
    }


def test_carried_rows_have_a_limit(engine, monkeypatch):  # noqa: F811
    from meterql.plan import finish as query

    monkeypatch.setattr(query, "MAX_CARRIED_ROWS", 48)
    engine.ingest([ev(T0 - H, v=1)])
    rec = Metric(code="r", aggregation="sum", value="v", recurring=True)
    # a total carried through 48 hour buckets without events: 48 rows, the limit
    assert len(engine.aggregate(rec, Window("s1", T0, T0 + 2 * DAY, granularity="hour"))) == 48
    with pytest.raises(LimitExceeded):  # 49 would pass it
        engine.aggregate(rec, Window("s1", T0, T0 + 2 * DAY + H, granularity="hour"))
