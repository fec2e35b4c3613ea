"""Time-zone and month buckets on the engines (SPEC §5 `timezone`, `month`): every summary agrees
with the Decimal reference (`meterql.buckets` walks zoneinfo; the engines run integer SQL) on
DuckDB and ClickHouse (chdb), across DST changes in Europe/Berlin, America/New_York,
Australia/Lord_Howe (30-minute DST) and Asia/Kathmandu (+05:45), leap days and year ends.

The bucket arithmetic itself is checked by hand in tests/test_buckets.py and
tests/test_reference_tz.py; this file holds the whole summary — one subject, many subjects, the
shared scan — to the reference on real engines.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import meterql
from meterql import Metric, Period
from meterql.numbers import canonical
from meterql.plan import Window
from meterql.reference import reference_rows

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC")
UTC = timezone.utc


def _ms(d: datetime) -> int:
    return int(d.timestamp() * 1000)


def _transitions(zone: str, year: int) -> list[int]:
    """The instants in `year` at which `zone`'s UTC offset changes (found hour by hour, then to the
    millisecond by bisection: an independent walk from meterql.buckets')."""
    z = ZoneInfo(zone)
    out = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while t < end:
        u = t + timedelta(hours=1)
        if t.astimezone(z).utcoffset() != u.astimezone(z).utcoffset():
            a, b = _ms(t), _ms(u)
            while b - a > 1:
                m = (a + b) // 2
                off = datetime.fromtimestamp(m / 1000, UTC).astimezone(z).utcoffset()
                a, b = (m, b) if off == t.astimezone(z).utcoffset() else (a, m)
            out.append(b)
        t = u
    return out


def _instants(zone: str) -> list[int]:
    """Instants that sit on the edges: around each offset change of 2024, around local midnights
    and month starts, the leap day, the year end, plus random instants of 2024."""
    z = ZoneInfo(zone)
    out: set[int] = set()
    for t in _transitions(zone, 2024):
        for d in (-3_600_000 * 2, -3_600_000, -1_800_000, -1, 0, 1, 1_800_000, 3_600_000, 5_400_000, 7_200_000):
            out.add(t + d)
    for local in (datetime(2024, 2, 29, 0, 0), datetime(2024, 3, 1, 0, 0), datetime(2024, 12, 31, 23, 59),
                  datetime(2025, 1, 1, 0, 0), datetime(2024, 4, 1, 0, 0), datetime(2024, 11, 4, 0, 0)):
        base = _ms(local.replace(tzinfo=z))
        out.update((base - 1, base, base + 1))
    rng = random.Random(zone)
    lo, hi = _ms(datetime(2024, 1, 1, tzinfo=UTC)), _ms(datetime(2025, 1, 2, tzinfo=UTC))
    out.update(rng.randrange(lo, hi) for _ in range(150))
    return sorted(out)


def _events(zone: str) -> list[dict]:
    rng = random.Random("events-" + zone)
    evs = []
    for i, ts in enumerate(_instants(zone)):
        for subject in ("s1", "s2") if i % 3 == 0 else ("s1",):
            evs.append({"event_id": f"{zone}-{subject}-{i}", "subject_id": subject, "event_name": "use",
                        "timestamp": ts, "properties": {"v": str(rng.randint(-5, 40)) + ".25",
                                                        "model": rng.choice(["a", "b", "c"])}})
    return evs


METRICS = {
    "sum": {"code": "m", "aggregation": "sum", "value": "v", "event_name": "use"},
    "count": {"code": "m", "aggregation": "count", "event_name": "use"},
    "unique_count": {"code": "m", "aggregation": "unique_count", "value": "model", "event_name": "use"},
    "latest": {"code": "m", "aggregation": "latest", "value": "v", "event_name": "use"},
    "weighted_sum": {"code": "m", "aggregation": "weighted_sum", "value": "v", "event_name": "use"},
    "recurring_sum": {"code": "m", "aggregation": "sum", "value": "v", "event_name": "use", "recurring": True},
}


def _period(zone: str, granularity: str) -> tuple[int, int]:
    if granularity == "hour":  # a few days around the first offset change of the year (rows < 10,000)
        t = (_transitions(zone, 2024) or [_ms(datetime(2024, 3, 31, tzinfo=UTC))])[0]
        return t - 2 * 86_400_000 - 1_234, t + 2 * 86_400_000 + 777
    return _ms(datetime(2024, 1, 3, 5, 30, tzinfo=UTC)), _ms(datetime(2025, 1, 1, 12, tzinfo=UTC))


@pytest.fixture(scope="module")
def engines():
    out = {"duckdb": meterql.connect("duckdb://"), "chdb": meterql.connect("chdb://?database=meterql_tz_test")}
    for zone in ZONES:
        evs = _events(zone)
        for e in out.values():
            e._tz_events = getattr(e, "_tz_events", {})  # noqa: SLF001 - test bookkeeping
    stored = {zone: _events(zone) for zone in ZONES}
    # one store for all zones: event ids are distinct per zone, and every summary is scoped to the
    # zone's own event name below, so zones do not see each other's events
    for zone, evs in stored.items():
        for ev in evs:
            ev["event_name"] = "use-" + zone
        for e in out.values():
            assert e.ingest(evs).inserted == len(evs)
    yield out, stored
    for e in out.values():
        e.close()


def _as_tuples(rows) -> list[tuple]:
    return [(r.period.start, r.period.end, r.period.inclusive_start, r.period.inclusive_end,
             tuple(v for _, v in r.dimension_coordinates), r.value) for r in rows]


def _ref_tuples(rows) -> list[tuple]:
    return [(r.bucket_start_ms, r.bucket_end_ms, r.inclusive_start, r.inclusive_end, r.coordinates,
             None if r.value is None else canonical(r.value)) for r in rows]


@pytest.mark.parametrize("granularity", ["hour", "day", "week", "month"])
@pytest.mark.parametrize("zone", ZONES)
def test_summaries_in_a_zone_agree_with_the_reference(engines, zone, granularity):
    engs, stored = engines
    evs = stored[zone]
    start, end = _period(zone, granularity)
    checked = 0
    for name, payload in METRICS.items():
        metric = Metric.from_dict({**payload, "event_name": "use-" + zone})
        for dims, flags in (((), (True, False)), (("model",), (False, True))):
            w = Window("s1", start, end, flags[0], flags[1], granularity, dims, None, zone)
            expected = _ref_tuples(reference_rows(evs, metric, w))
            assert expected, (zone, granularity, name)  # the case reads events
            period = Period(start, end, *flags)
            for ename, engine in engs.items():
                got = _as_tuples(engine.summary(metric, "s1", period, granularity, list(dims), timezone=zone))
                assert got == expected, (ename, zone, granularity, name, dims)
                checked += 1
    assert checked == len(METRICS) * 2 * len(engs)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Australia/Lord_Howe"])
def test_invoice_run_and_shared_scan_in_a_zone(engines, zone):
    """`summaries` (every subject, one statement) and `aggregate_many` (several metrics, one scan)
    give each subject and metric what the reference gives it alone."""
    engs, stored = engines
    evs = stored[zone]
    start, end = _period(zone, "day")
    period = Period(start, end)
    metric = Metric.from_dict({**METRICS["sum"], "event_name": "use-" + zone})
    for ename, engine in engs.items():
        got = engine.summaries(metric, period, granularity="day", timezone=zone)
        assert sorted(got) == ["s1", "s2"]
        for subject, rows in got.items():
            w = Window(subject, start, end, True, False, "day", (), None, zone)
            assert _as_tuples(rows) == _ref_tuples(reference_rows(evs, metric, w)), (ename, subject)
        metrics = [Metric.from_dict({**METRICS[k], "event_name": "use-" + zone}) for k in ("sum", "count", "latest")]
        w = Window("s2", start, end, True, False, "month", ("model",), None, zone)
        answers = engine.aggregate_many(metrics, w)
        for m, rows in zip(metrics, answers):
            assert _ref_tuples(rows) == _ref_tuples(reference_rows(evs, m, w)), (ename, m.aggregation)


def test_a_bad_zone_is_invalid_input_everywhere(engines):
    engs, _ = engines
    metric = Metric.from_dict(METRICS["count"])
    for engine in engs.values():
        for bad in ("Mars/Olympus", "", "../etc/passwd", 5):
            with pytest.raises(meterql.InvalidSpec):
                engine.summary(metric, "s1", Period(0, 1000), "day", timezone=bad)
