"""Metamorphic properties on DuckDB and ClickHouse (chdb): relations between results that must
hold whatever the numbers are.

- other subjects' events change nothing;
- hour buckets add up to the day for `sum` and `count`;
- re-ingesting the same ids (with other timestamps and properties) changes nothing;
- one insert vs many inserts (and shuffled order) give the same results;
- ClickHouse before vs after `OPTIMIZE … FINAL` gives the same results;
- the session time zone changes nothing;
- DuckDB before vs after re-clustering (`compact`) gives the same results.
"""

from __future__ import annotations

from meterql.plan import Window
import random
from decimal import Decimal

import pytest

from meterql import Metric
from meterql.metric import Aggregation

from engine_fixtures import ENGINES, dispose, engine, new_engine  # noqa: F401

H = 3_600_000
DAY = 24 * H
T0 = 1704067200000  # 2024-01-01T00:00:00Z

METRICS = [
    Metric(code="c", aggregation="count", event_name="call"),
    Metric(code="s", aggregation="sum", value="x", filter="g != 'v' OR g IS NULL"),
    Metric(code="sr", aggregation="sum", value="x * 1.5", recurring=True),
    Metric(code="mn", aggregation="min", value="x"),
    Metric(code="mx", aggregation="max", value="x", rounding="ceil", rounding_precision=-1),
    Metric(code="a", aggregation="avg", value="x"),
    Metric(code="u", aggregation="unique_count", value="g"),
    Metric(code="ur", aggregation="unique_count", value="g", recurring=True),
    Metric(code="l", aggregation="latest", value="x"),
    Metric(code="w", aggregation="weighted_sum", value="x"),
    Metric(code="wr", aggregation="weighted_sum", value="x", recurring=True),
]
WINDOWS = [
    (T0, T0 + 3 * DAY, True, False, None, ()),
    (T0 + H // 2, T0 + 2 * DAY, False, True, "hour", ("g",)),
    (T0, T0 + 9 * DAY, True, True, "day", ("g", "flag")),
    (T0 + 5, T0 + 8 * DAY + 7, True, False, "week", ()),
]


def make_events(seed: int, n: int, subject: str = "s1", prefix: str = "e") -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        props = {}
        if rng.random() < 0.9:
            props["x"] = rng.choice([rng.randint(-50, 500), f"{rng.randint(0, 9999) / 100}", None, "n/a"])
        if rng.random() < 0.8:
            props["g"] = rng.choice(["u", "v", "w", 3])
        if rng.random() < 0.5:
            props["flag"] = rng.random() < 0.5
        out.append({
            "event_id": f"{prefix}{i}",
            "subject_id": subject,
            "event_name": rng.choice(["call", "call", "other"]),
            "timestamp": T0 - DAY + rng.randint(0, 11 * DAY),
            "properties": props,
        })
    return out


def results(engine, subject="s1"):
    out = []
    for m in METRICS:
        for start, end, inc_s, inc_e, gran, dims in WINDOWS:
            rows = engine.aggregate(m, Window(subject, start, end, inc_s, inc_e, gran, dims))
            out.append([(r.bucket_start_ms, r.bucket_end_ms, r.inclusive_start, r.inclusive_end, r.coordinates, r.value)
                        for r in rows])
    return out


BASE = make_events(1, 300)


@pytest.fixture(scope="module")
def baseline():
    """Results over BASE alone, per engine (a fresh store each)."""
    out = {}
    for kind in ENGINES:
        e = new_engine(kind)
        e.ingest(BASE)
        out[kind] = results(e)
        dispose(e)
    assert out["duckdb"] == out["chdb"]  # and the engines agree with each other
    assert sum(1 for rows in out["duckdb"] for r in rows if r[-1] is not None) > 100  # not vacuous
    return out


@pytest.fixture(params=ENGINES)
def kind(request):
    return request.param


def test_other_subjects_events_change_nothing(kind, baseline):
    e = new_engine(kind)
    try:
        # noise: other subjects, same time range, even ids that look alike
        e.ingest(make_events(2, 200, subject="s2", prefix="n") + make_events(3, 100, subject="s1 ", prefix="m"))
        e.ingest(BASE)
        e.ingest(make_events(4, 200, subject="S1", prefix="k"))
        assert results(e) == baseline[kind]
    finally:
        dispose(e)


def test_reingesting_the_same_ids_changes_nothing(kind, baseline):
    e = new_engine(kind)
    try:
        e.ingest(BASE)
        # the same ids with other timestamps, subjects' properties and values
        altered = [{**ev, "timestamp": ev["timestamp"] + 12345, "properties": {"x": 10**6, "g": "zzz"}} for ev in BASE]
        report = e.ingest(altered)
        assert (report.inserted, report.duplicates) == (0, len(BASE))
        assert e.ingest(BASE).duplicates == len(BASE)
        assert results(e) == baseline[kind]
    finally:
        dispose(e)


def test_one_insert_vs_many_inserts_and_shuffled_order(kind, baseline):
    e = new_engine(kind)
    try:
        shuffled = BASE[:]
        random.Random(7).shuffle(shuffled)
        for i in range(0, len(shuffled), 37):
            e.ingest(shuffled[i : i + 37], batch_size=11)
        assert results(e) == baseline[kind]
    finally:
        dispose(e)


def test_clickhouse_before_and_after_optimize_final(baseline):
    e = new_engine("chdb")
    try:
        for i in range(0, len(BASE), 50):  # several parts
            e.ingest(BASE[i : i + 50])
        e.ingest([{**ev, "timestamp": ev["timestamp"] - 999} for ev in BASE[:100]])  # retries, new timestamps
        before = results(e)
        e.optimize_final()
        assert results(e) == before == baseline["chdb"]
        e.ingest(BASE[:100])  # and a retry after the merge
        assert results(e) == baseline["chdb"]
    finally:
        dispose(e)


def test_duckdb_before_and_after_reclustering(baseline):
    e = new_engine("duckdb")
    try:
        for i in range(0, len(BASE), 60):
            e.ingest(BASE[i : i + 60])
        assert results(e) == baseline["duckdb"]
        e.compact()
        assert results(e) == baseline["duckdb"]
        assert e.ingest(BASE).duplicates == len(BASE)  # the primary key survives re-clustering
        assert e.count_events() == len(BASE)
    finally:
        dispose(e)


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
def test_session_time_zone_changes_nothing(kind, baseline, tz):
    e = new_engine(kind, session_timezone=tz)
    try:
        e.ingest(BASE)
        assert results(e) == baseline[kind]
    finally:
        dispose(e)


@pytest.mark.parametrize("metric", [m for m in METRICS if m.aggregation in (Aggregation.SUM, Aggregation.COUNT)
                                    and not m.recurring], ids=lambda m: m.code)
def test_hour_buckets_add_up_to_the_day(kind, metric):
    e = new_engine(kind)
    try:
        e.ingest(BASE)
        for day in range(3):
            start, end = T0 + day * DAY, T0 + (day + 1) * DAY
            for dims in ((), ("g",)):
                hours = e.aggregate(metric, Window("s1", start, end, granularity="hour", dimensions=dims))
                days = e.aggregate(metric, Window("s1", start, end, granularity="day", dimensions=dims))
                per_coords: dict = {}
                for r in hours:
                    per_coords[r.coordinates] = per_coords.get(r.coordinates, Decimal(0)) + r.value
                assert {r.coordinates: r.value for r in days} == per_coords
                assert len(hours) > len(days) > 0
    finally:
        dispose(e)
