"""`latest` as a top-1 plan (issue 11, item 2), on DuckDB and ClickHouse (chdb).

A `latest` of a bare property (Lago `field_name`) picks the stored text of the newest event whose
property is a number and reads only that one: ungrouped, `ORDER BY ts DESC, event_id DESC LIMIT 1`;
grouped, the engine's arg_max over the texts, read after the aggregate — while the store holds no
number ≥ 10^26; once one lands, every value is read so that it fails the query (SPEC §3). Expected values are worked out in the comments and compared with
the reference (`meterql.reference`) on the same events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterql import Metric
from meterql.errors import NumericOverflow
from meterql.plan import Window
from meterql.reference import reference_rows

from engine_fixtures import engine  # noqa: F401  (fixture)
from test_engine_edges import DAY, H, T0, ev

D = Decimal
LATEST = Metric(code="l", aggregation="latest", value="v")
HUGE = "1" + "0" * 26  # 10^26: out of range (SPEC §3)


def rows(engine, metric, events, window):
    got = [(r.bucket_start_ms, r.coordinates, r.value) for r in engine.aggregate(metric, window)]
    want = [(r.bucket_start_ms, r.coordinates, r.value) for r in reference_rows(events, metric, window)]
    assert got == want
    return got


def test_ungrouped_latest_is_a_top_1_over_the_property_text(engine):  # noqa: F811
    plan_sql = engine.plan(LATEST, Window("s1", T0, T0 + DAY)).sql()
    assert "LIMIT 1" in plan_sql and "arg" not in plan_sql.lower()
    # newest first: b (no v), c ('abc': not a number → NULL), then a tie at T0+5 between d (v 3)
    # and e (v 2): e > d wins → 2; f is outside the period
    events = [ev(T0 + 1, event_id="a", v="1.5"), ev(T0 + 5, event_id="d", v=3), ev(T0 + 5, event_id="e", v="2"),
              ev(T0 + 7, event_id="c", v="abc"), ev(T0 + 9, event_id="b"), ev(T0 + DAY, event_id="f", v=9)]
    engine.ingest(events)
    assert rows(engine, LATEST, events, Window("s1", T0, T0 + DAY)) == [(T0, (), D(2))]
    # no number at all in the period → one row, NULL; no event at all → one row, NULL
    assert rows(engine, LATEST, events, Window("s1", T0 + 6, T0 + DAY)) == [(T0 + 6, (), None)]
    assert rows(engine, LATEST, events, Window("s2", T0, T0 + DAY)) == [(T0, (), None)]
    # a computed value keeps reading every row (its NULLs come from the whole expression)
    doubled = Metric(code="l2", aggregation="latest", value="v * 2")
    assert rows(engine, doubled, events, Window("s1", T0, T0 + DAY)) == [(T0, (), D(4))]


@pytest.mark.parametrize("columnar", [True, False], ids=["columnar-ingest", "row-ingest"])
def test_a_wide_number_anywhere_fails_latest_as_the_contract_says(engine, columnar):  # noqa: F811
    """SPEC §3: a property ≥ 10^26 fails the query that reads it — for `latest` too, even when an
    older event holds it. Ingest marks the store when such a number lands; a marked store's
    `latest` reads every value (no top-1), so the overflow is raised as the reference raises it."""
    engine.columnar_ingest = columnar
    window = Window("s1", T0, T0 + H)
    assert "LIMIT 1" in engine.plan(LATEST, window).sql()  # an unmarked store: the top-1
    engine.ingest([ev(T0 + 30, event_id="z", v="99999999999999999999999999.5")])  # < 10^26: no mark
    assert "LIMIT 1" in engine.plan(LATEST, window).sql()
    events = [ev(T0 + 1, event_id="a", v=HUGE), ev(T0 + 2, event_id="b", v=7), ev(T0 + 3, event_id="c", v="x"),
              ev(T0 + 30, event_id="z", v="99999999999999999999999999.5")]
    engine.ingest(events)
    assert "LIMIT 1" not in engine.plan(LATEST, window).sql()  # marked: every value is read
    for w in (window, Window("s1", T0, T0 + H, granularity="hour")):
        with pytest.raises(NumericOverflow):
            engine.aggregate(LATEST, w)
        with pytest.raises(NumericOverflow):
            reference_rows(events, LATEST, w)
    count = Metric(code="c", aggregation="count")
    with pytest.raises(NumericOverflow):
        engine.aggregate_many([LATEST, count], window)
    # a window without the wide event answers as before: the newest number is z's
    assert rows(engine, LATEST, events, Window("s1", T0 + 2, T0 + H)) == [
        (T0 + 2, (), D("99999999999999999999999999.5"))]


def test_wide_number_detection():
    import pyarrow as pa

    from meterql.values import has_wide_table, is_wide

    assert not is_wide("99999999999999999999999999.999999999999") and is_wide(HUGE) and is_wide("-" + HUGE)
    assert not is_wide("0.000000000001") and not is_wide("-5")
    maps = pa.map_(pa.string(), pa.string())
    assert not has_wide_table(pa.table({"pn": pa.array([[("a", "1")], [], None], maps)}))
    assert not has_wide_table(pa.table({"pn": pa.array([[("a", "0." + "0" * 11 + "1" * 20)]], maps)}))
    assert has_wide_table(pa.table({"pn": pa.array([[("a", "1"), ("b", "-" + HUGE + ".5")]], maps)}))


def test_grouped_and_many_subject_latest_read_after_the_aggregate(engine):  # noqa: F811
    # by day × g: day 1 {u: a(1) then b(2.5) → 2.5; w: c(-4)}, day 2 {u: d(NULL) only → NULL row}
    events = [ev(T0 + 1, event_id="a", v=1, g="u"), ev(T0 + 2, event_id="b", v="2.50", g="u"),
              ev(T0 + 3, event_id="c", v=-4, g="w"), ev(T0 + DAY + 1, event_id="d", g="u"),
              ev(T0 + 4, subject="s2", event_id="e", v=8)]
    engine.ingest(events)
    window = Window("s1", T0, T0 + 2 * DAY, granularity="day", dimensions=("g",))
    assert rows(engine, LATEST, events, window) == [
        (T0, ("u",), D("2.5")), (T0, ("w",), D(-4)), (T0 + DAY, ("u",), None)]
    # the invoice run (every subject, one query): s1's newest number is c (-4), s2's is e (8)
    got = engine.aggregate_subjects(LATEST, Window(None, T0, T0 + 2 * DAY))
    assert {s: [r.value for r in rs] for s, rs in got.items()} == {"s1": [D(-4)], "s2": [D(8)]}
