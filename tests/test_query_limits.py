"""Query limits (issue 9, item 7; `meterql.QueryLimits`): dimensions per call, rows per result
(stopped by the engine with `LIMIT max_rows + 1`, not after the whole result), and a time and a
memory limit on every engine — decided by meterql, the same on DuckDB and ClickHouse (chdb)."""

from __future__ import annotations

from meterql.plan import Window
import time
import uuid

import pytest

import meterql
from meterql import InvalidSpec, LimitExceeded, QueryLimits
from meterql.price import PriceLimits, explain_price

from engine_fixtures import dispose, new_engine

T0 = 1735689600000  # 2025-01-01T00:00:00Z
H = 3_600_000
PERIOD = {"start": "2025-01-01T00:00:00Z", "end": "2025-01-08T00:00:00Z"}
NOW = "2025-01-09T00:00:00Z"
COUNT = {"code": "m", "aggregation": "count"}
SUM_RECURRING = {"code": "r", "aggregation": "sum", "value": "v", "recurring": True}
ENGINES = ["duckdb", "chdb"]


def ev(i, subject="s", **props):
    return {"event_id": f"{subject}-{i}", "subject_id": subject, "event_name": "call", "timestamp": T0 + i,
            "properties": {"v": 1, **props}}


@pytest.fixture(params=ENGINES, scope="module")
def limited(request):
    """An engine with max_rows=50 holding: subject "s" with 51 distinct values of `g` (one event
    each, in 51 distinct hours), subject "t" with 50, subject "u" with 3."""
    e = new_engine(request.param, limits=QueryLimits(max_rows=50))
    e.ingest([ev(i * H, "s", g=f"g{i:03d}") for i in range(51)]
             + [ev(i * H, "t", g=f"g{i:03d}") for i in range(50)]
             + [ev(i * H, "u", g=f"g{i:03d}") for i in range(3)])
    yield e
    dispose(e)


def _spy(engine, monkeypatch):
    """Record the SQL and the number of rows of each read query."""
    seen: list[tuple[str, int]] = []
    query = engine._query

    def spy(sql, params):
        rows = query(sql, params)
        seen.append((sql, len(rows)))
        return rows

    monkeypatch.setattr(engine, "_query", spy)
    return seen


def test_the_limits_have_the_documented_defaults():
    assert QueryLimits() == QueryLimits(max_dimensions=32, max_rows=10_000, max_execution_time=30,
                                        max_memory_usage=4 * 1024**3)
    for bad in (0, -1, True, "5", 1.5, float("nan")):
        with pytest.raises(InvalidSpec):
            QueryLimits(max_rows=bad)
    with pytest.raises(InvalidSpec):
        QueryLimits(max_execution_time=float("inf"))
    assert QueryLimits(max_execution_time=0.5).max_execution_time == 0.5


# --- rows --------------------------------------------------------------------------------------


def test_a_result_past_max_rows_is_stopped_by_the_engine(limited, monkeypatch):
    seen = _spy(limited, monkeypatch)
    with pytest.raises(LimitExceeded, match="more than 50 rows"):
        limited.summary(COUNT, "s", PERIOD, dimensions=["g"])
    sql, n = seen[-1]
    assert sql.rstrip().endswith("LIMIT 51") and n == 51  # the engine stopped at 51 of 51+ groups
    with pytest.raises(LimitExceeded, match="more than 50 rows"):
        limited.summary(COUNT, "s", PERIOD, granularity="hour")
    with pytest.raises(LimitExceeded, match="more than 50 rows"):
        limited.aggregate(COUNT, Window("s", T0, T0 + 7 * 24 * H, dimensions=["g"]))
    with pytest.raises(LimitExceeded, match="more than 50 rows"):
        limited.aggregate_many([COUNT, {"code": "n", "aggregation": "sum", "value": "v"}], Window("s", T0, T0 + 7 * 24 * H, dimensions=["g"]))
    with pytest.raises(LimitExceeded, match="more than 50 rows"):
        limited.summary(SUM_RECURRING, "s", PERIOD, dimensions=["g"])
    # exactly at the limit: every row, nothing cut
    rows = limited.summary(COUNT, "t", PERIOD, dimensions=["g"])
    assert len(rows) == 50 and {r.dimension_coordinates[0][1] for r in rows} == {f"g{i:03d}" for i in range(50)}
    assert len(limited.summary(COUNT, "t", PERIOD, granularity="hour")) == 50
    # explain shows the statement as it runs
    assert "LIMIT 51" in limited.explain(COUNT, "s", PERIOD, dimensions=["g"])
    # an ungrouped aggregate has one row and no LIMIT
    assert limited.summary(COUNT, "s", PERIOD)[0].value == "51"
    assert "LIMIT" not in seen[-1][0]


def test_summaries_apply_max_rows_per_subject(limited, monkeypatch):
    """An invoice run has a row per subject: the limit is per subject (each subject's rows are
    what `summary` gives it alone), not per call."""
    out = limited.summaries(COUNT, PERIOD, subject_ids=["t", "u"], dimensions=["g"])
    assert [len(out["t"]), len(out["u"])] == [50, 3]  # 53 rows in the call, ≤ 50 per subject
    seen = _spy(limited, monkeypatch)
    with pytest.raises(LimitExceeded, match='subject "s"'):
        limited.summaries(COUNT, PERIOD, subject_ids=["u", "s"], dimensions=["g"])
    assert seen[-1][0].rstrip().endswith("LIMIT 101")  # max_rows per listed subject, + 1
    with pytest.raises(LimitExceeded, match='subject "s"'):
        limited.summaries(COUNT, PERIOD, dimensions=["g"])  # every subject: checked per subject
    with pytest.raises(LimitExceeded, match='subject "s"'):
        limited.aggregate_subjects(COUNT, Window(None, T0, T0 + 7 * 24 * H, granularity="hour"))


@pytest.mark.parametrize("kind", ENGINES)
def test_price_evaluation_past_its_row_limit_fails_fast(kind, monkeypatch):
    """1,001 groups: the query carries LIMIT 1001 and the engine returns at most 1,001 rows (the
    old code fetched every group, then counted)."""
    e = new_engine(kind)
    try:
        e.ingest([ev(i, "p", g=f"k{i}") for i in range(1002)])
        price = {"metric": COUNT, "model": "unit", "unit_amount": "1"}
        seen = _spy(e, monkeypatch)
        with pytest.raises(LimitExceeded, match="more than 1000 rows.*PriceLimits.max_rows"):
            e.evaluate_price(price, "p", PERIOD["start"], PERIOD["end"], grouping_keys=["g"], now=NOW)
        sql, n = seen[-1]
        assert sql.rstrip().endswith("LIMIT 1001") and n == 1001
        assert "LIMIT 1001" in explain_price(e, price, "p", PERIOD["start"], PERIOD["end"], grouping_keys=["g"])
        rows = e.evaluate_price(price, "p", PERIOD["start"], PERIOD["end"], grouping_keys=["g"], now=NOW,
                                limits=PriceLimits(max_rows=2000))
        assert len(rows) == 1002
    finally:
        dispose(e)


# --- dimensions --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ENGINES)
def test_too_many_dimensions_fail_before_anything_is_compiled(kind):
    e = new_engine(kind)
    try:
        e.ingest([ev(1, "d", g="a")])
        many = [f"concat(g, '{i}')" for i in range(3000)]  # took 36 s on DuckDB, an engine error on chdb
        t = time.perf_counter()
        for call in (
            lambda: e.summary(COUNT, "d", PERIOD, dimensions=many),
            lambda: e.summaries(COUNT, PERIOD, dimensions=many),
            lambda: e.aggregate(COUNT, Window("d", T0, T0 + H, dimensions=many[:33])),
            lambda: e.explain(COUNT, "d", PERIOD, dimensions=many[:33]),
            lambda: e.evaluate_price({"metric": COUNT, "model": "unit", "unit_amount": "1"}, "d", PERIOD["start"],
                                     PERIOD["end"], grouping_keys=many[:33], now=NOW,
                                     limits=PriceLimits(max_grouping_keys=None)),
        ):
            with pytest.raises(LimitExceeded, match="at most 32"):
                call()
        assert time.perf_counter() - t < 2
        assert len(e.summary(COUNT, "d", PERIOD, dimensions=many[:32])) == 1  # 32 is allowed
    finally:
        dispose(e)


# --- URL options ---------------------------------------------------------------------------------


def test_limits_from_the_url_and_from_code():
    e = meterql.connect("duckdb://?max_rows=7&max_dimensions=3&max_execution_time=2.5&max_memory_usage=100000000")
    try:
        assert e.limits == QueryLimits(max_dimensions=3, max_rows=7, max_execution_time=2.5, max_memory_usage=10**8)
        assert e._query("SELECT current_setting('memory_limit')", {})[0][0] in ("95.3 MiB", "95.3MiB")
    finally:
        e.close()
    e = meterql.connect("duckdb://?max_rows=0", limits=QueryLimits(max_dimensions=4))
    try:  # the URL's win over the code's; 0 disables
        assert e.limits == QueryLimits(max_dimensions=4, max_rows=None)
    finally:
        e.close()
    e = meterql.connect(f"chdb://?database=t_{uuid.uuid4().hex[:12]}&max_execution_time=7&max_memory_usage=123456789"
                        "&max_rows=9")
    try:
        row = e._query("SELECT getSetting('max_execution_time'), getSetting('max_memory_usage')", {})[0]
        assert float(row[0]) == 7 and int(row[1]) == 123456789 and e.limits.max_rows == 9
    finally:
        dispose(e)
    for url in ("duckdb://?max_rows=x", "duckdb://?max_execution_time=-1", "chdb://?max_memory_usage=lots"):
        with pytest.raises(InvalidSpec):
            meterql.connect(url)
    with pytest.raises(InvalidSpec, match="QueryLimits"):
        meterql.connect("duckdb://", limits={"max_rows": 5})


# --- time and memory -----------------------------------------------------------------------------

SLOW = {
    "duckdb": "SELECT count(*) FROM range(100000000000) t(x) WHERE hash(x) = 0",
    "chdb": "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 0",
}
HUNGRY = {
    "duckdb": "SELECT list(x) FROM range(100000000) t(x)",
    "chdb": "SELECT groupArray(number) FROM numbers(100000000)",
}


@pytest.mark.parametrize("kind", ENGINES)
def test_a_query_past_the_time_limit_is_stopped(kind):
    e = new_engine(kind, limits=QueryLimits(max_execution_time=0.5))
    try:
        t = time.perf_counter()
        with pytest.raises(LimitExceeded, match="time limit"):
            e._query(SLOW[kind], {})
        assert time.perf_counter() - t < 5  # unlimited, the query runs for minutes
        e.ingest([ev(1, "z")])  # the engine works on
        assert e.count_events() == 1
        assert e.summary(COUNT, "z", PERIOD)[0].value == "1"
    finally:
        dispose(e)


@pytest.mark.parametrize("kind", ENGINES)
def test_a_query_past_the_memory_limit_is_stopped(kind):
    e = new_engine(kind, limits=QueryLimits(max_memory_usage=64 * 1024**2, max_execution_time=20))
    try:
        with pytest.raises(LimitExceeded, match="memory limit"):
            e._query(HUNGRY[kind], {})
        e.ingest([ev(1, "z")])
        assert e.summary(COUNT, "z", PERIOD)[0].value == "1"
    finally:
        dispose(e)
