"""Edge cases by hand, on DuckDB and ClickHouse (chdb). Every expected value is worked out in the
comment next to it, not taken from the code."""

from __future__ import annotations

from meterql.plan import Window
import json
from decimal import Decimal

import pytest

from meterql import Metric, Period
from meterql.errors import InvalidSpec, NumericOverflow

from engine_fixtures import engine  # noqa: F401  (fixture)

H = 3_600_000
DAY = 24 * H
T0 = 1704067200000  # 2024-01-01T00:00:00Z, a Monday
D = Decimal

_n = 0


def ev(ts, subject="s1", name="call", event_id=None, **props):
    global _n
    _n += 1
    return {"event_id": event_id or f"id{_n}", "subject_id": subject, "event_name": name, "timestamp": ts,
            "properties": props}


def values(engine, metric, start, end, inc_s=True, inc_e=False, granularity=None, dims=()):
    return [
        (r.bucket_start_ms, r.bucket_end_ms, r.coordinates, r.value)
        for r in engine.aggregate(metric, Window("s1", start, end, inc_s, inc_e, granularity, dims))
    ]


COUNT = Metric(code="c", aggregation="count")


@pytest.mark.parametrize(
    "inc_s, inc_e, expected",
    [(True, True, 4), (True, False, 3), (False, True, 3), (False, False, 2)],
)
def test_events_exactly_at_period_bounds(engine, inc_s, inc_e, expected):  # noqa: F811
    # events at start, start+1ms, end-1ms, end: the bounds count only when inclusive
    start, end = T0, T0 + DAY
    engine.ingest([ev(start), ev(start + 1), ev(end - 1), ev(end)])
    assert values(engine, COUNT, start, end, inc_s, inc_e) == [(start, end, (), D(expected))]


def test_inclusive_end_on_a_bucket_boundary_gets_its_own_bucket(engine):  # noqa: F811
    # day buckets over [T0, T0+2d]: events at T0+1h, and exactly at the (inclusive) end
    engine.ingest([ev(T0 + H), ev(T0 + 2 * DAY)])
    rows = engine.summary(COUNT, "s1", Period(T0, T0 + 2 * DAY, True, True), "day")
    assert [(r.period.to_dict(), r.value) for r in rows] == [
        ({"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z", "inclusive_start": True, "inclusive_end": False}, "1"),
        ({"start": "2024-01-03T00:00:00Z", "end": "2024-01-03T00:00:00Z", "inclusive_start": True, "inclusive_end": True}, "1"),
    ]


def test_buckets_are_cut_to_the_period_and_weeks_start_monday(engine):  # noqa: F811
    # Period Wed 2024-01-03 12:00 → Wed 2024-01-10 12:00; events Sun 01-07 23:59:59.999 and Mon 01-08 00:00
    start, end = T0 + 2 * DAY + 12 * H, T0 + 9 * DAY + 12 * H
    engine.ingest([ev(T0 + 7 * DAY - 1), ev(T0 + 7 * DAY), ev(T0 + 7 * DAY + 5)])
    assert values(engine, COUNT, start, end, granularity="week") == [
        (start, T0 + 7 * DAY, (), D(1)),  # the first week, cut to start at the period start
        (T0 + 7 * DAY, end, (), D(2)),  # the Monday week, cut to end at the period end
    ]


def test_hour_floor_before_1970(engine):  # noqa: F811
    # -1 ms is 1969-12-31T23:59:59.999Z: its hour starts at -3,600,000 (a true floor, not 0)
    engine.ingest([ev(-1), ev(-H - 1)])
    assert values(engine, COUNT, -3 * H, H, granularity="hour") == [
        (-2 * H, -H, (), D(1)),
        (-H, 0, (), D(1)),
    ]


WSUM = Metric(code="w", aggregation="weighted_sum", value="v")


def test_weighted_sum_no_events_is_null(engine):  # noqa: F811
    assert values(engine, WSUM, T0, T0 + 10 * H) == [(T0, T0 + 10 * H, (), None)]


def test_weighted_sum_event_at_the_start(engine):  # noqa: F811
    # +10 at the very start of [0h, 10h): level 10 the whole time → 10
    engine.ingest([ev(T0, v=10)])
    assert values(engine, WSUM, T0, T0 + 10 * H) == [(T0, T0 + 10 * H, (), D(10))]


def test_weighted_sum_level_carried_into_a_bucket(engine):  # noqa: F811
    # +10 at 02:00, −4 at 06:00 over [00:00, 10:00): (0·2 + 10·4 + 6·4) ÷ 10 = 6.4
    engine.ingest([ev(T0 + 2 * H, v=10), ev(T0 + 6 * H, v=-4)])
    assert values(engine, WSUM, T0, T0 + 10 * H) == [(T0, T0 + 10 * H, (), D("6.4"))]
    # hour buckets: [02,03) level 10 all hour; [06,07) starts at the carried 10, drops to 6 at once;
    # SPEC §5: the carried level makes rows in the hours without events (10 in 3–5, 6 in 7–9)
    assert values(engine, WSUM, T0, T0 + 10 * H, granularity="hour") == (
        [(T0 + h * H, T0 + (h + 1) * H, (), D(10)) for h in range(2, 6)]
        + [(T0 + h * H, T0 + (h + 1) * H, (), D(6)) for h in range(6, 10)])
    # an event in the middle of the bucket: +10 at 02:30 → half an hour at 0, half at 10 = 5
    engine.ingest([ev(T0 + 8 * H + H // 2, v=10)])
    assert values(engine, WSUM, T0 + 8 * H, T0 + 9 * H) == [(T0 + 8 * H, T0 + 9 * H, (), D(5))]


def test_weighted_sum_recurring_carries_the_level_from_before_the_period(engine):  # noqa: F811
    # 5 before the period; +10 at 02:00 of [00:00, 10:00): (5·2 + 15·8) ÷ 10 = 13
    m = Metric(code="w", aggregation="weighted_sum", value="v", recurring=True)
    engine.ingest([ev(T0 - DAY, v=5), ev(T0 + 2 * H, v=10)])
    assert values(engine, m, T0, T0 + 10 * H) == [(T0, T0 + 10 * H, (), D(13))]
    # nothing in a later period: the carried level 15 is the whole answer
    assert values(engine, m, T0 + DAY, T0 + 2 * DAY) == [(T0 + DAY, T0 + 2 * DAY, (), D(15))]


def test_weighted_sum_thirds_round_half_away_from_zero(engine):  # noqa: F811
    # +1 at 1h of [0h, 3h): level 1 for 2 of 3 hours → 2/3 = 0.666666666667 (12 digits, rounded)
    engine.ingest([ev(T0 + H, v=1)])
    assert values(engine, WSUM, T0, T0 + 3 * H) == [(T0, T0 + 3 * H, (), D("0.666666666667"))]


def test_latest_with_tied_timestamps_takes_the_greatest_event_id(engine):  # noqa: F811
    m = Metric(code="l", aggregation="latest", value="v")
    # same ms: ids a, c, b → c wins (value 3)
    engine.ingest([ev(T0 + 5, event_id="a", v=1), ev(T0 + 5, event_id="c", v=3), ev(T0 + 5, event_id="b", v=2)])
    assert values(engine, m, T0, T0 + H) == [(T0, T0 + H, (), D(3))]
    # SPEC §4: the latest event *whose value is not NULL*: a later event without a value is skipped
    engine.ingest([ev(T0 + 6, event_id="d")])
    assert values(engine, m, T0, T0 + H) == [(T0, T0 + H, (), D(3))]
    # …and a NULL-valued event tied on the timestamp with a smaller id does not hide a value
    engine.ingest([ev(T0 + DAY, event_id="z", v=4), ev(T0 + DAY, event_id="y")])
    assert values(engine, m, T0 + DAY, T0 + DAY + H) == [(T0 + DAY, T0 + DAY + H, (), D(4))]


def test_unique_count_ignores_missing_and_null_values(engine):  # noqa: F811
    m = Metric(code="u", aggregation="unique_count", value="user")
    # 'u1', missing, 'u1', 'u2', null, 7, '7' (7 and '7' have the same canonical text) → u1, u2, 7 = 3
    engine.ingest([ev(T0, user="u1"), ev(T0 + 1), ev(T0 + 2, user="u1"), ev(T0 + 3, user="u2"),
                   ev(T0 + 4, user=None), ev(T0 + 5, user=7), ev(T0 + 6, user="7")])
    assert values(engine, m, T0, T0 + H) == [(T0, T0 + H, (), D(3))]
    # every value missing: a row with 0 (there are events), not NULL
    engine.ingest([ev(T0 + DAY)])
    assert values(engine, m, T0 + DAY, T0 + DAY + H) == [(T0 + DAY, T0 + DAY + H, (), D(0))]


def test_all_null_values(engine):  # noqa: F811
    # SPEC §4: sum 0, min/max/avg/latest NULL over events whose values are all NULL
    engine.ingest([ev(T0, v="abc"), ev(T0 + 1)])
    got = {agg: values(engine, Metric(code="m", aggregation=agg, value="v"), T0, T0 + H)[0][3]
           for agg in ("sum", "min", "max", "avg", "latest", "count")}
    assert got == {"sum": D(0), "min": None, "max": None, "avg": None, "latest": None, "count": D(2)}


def test_avg_is_an_exact_division(engine):  # noqa: F811
    # (1 + 1 + 2) / 3 = 1.333333333333 (12 digits); -2/3 → -0.666666666667 (half away from zero)
    engine.ingest([ev(T0, v=1), ev(T0 + 1, v=1), ev(T0 + 2, v=2)])
    assert values(engine, Metric(code="a", aggregation="avg", value="v"), T0, T0 + H)[0][3] == D("1.333333333333")
    engine.ingest([ev(T0 + DAY, v=-2), ev(T0 + DAY + 1, v=0), ev(T0 + DAY + 2, v=0)])
    assert values(engine, Metric(code="a", aggregation="avg", value="v"), T0 + DAY, T0 + DAY + H)[0][3] == D("-0.666666666667")


@pytest.mark.parametrize(
    "rounding, precision, expected",
    [("round", 0, "3"), ("ceil", 0, "3"), ("floor", 0, "2"), ("round", -1, "0"), ("ceil", -1, "10"), ("round", 1, "2.5")],
)
def test_rounding_applies_to_the_final_value(engine, rounding, precision, expected):  # noqa: F811
    # 1.25 + 1.25 = 2.5
    engine.ingest([ev(T0, v="1.25"), ev(T0 + 1, v="1.25")])
    m = Metric(code="r", aggregation="sum", value="v", rounding=rounding, rounding_precision=precision)
    assert values(engine, m, T0, T0 + H)[0][3] == D(expected)


def test_sum_overflow_at_10_pow_26(engine):  # noqa: F811
    # 6·10^25 + 6·10^25 = 1.2·10^26: past the limit → NumericOverflow, never a wrapped number
    big = "60000000000000000000000000"
    engine.ingest([ev(T0, v=big), ev(T0 + 1, v=big)])
    with pytest.raises(NumericOverflow):
        engine.aggregate(Metric(code="s", aggregation="sum", value="v"), Window("s1", T0, T0 + H))
    # one of them alone is fine, exactly
    assert values(engine, Metric(code="s", aggregation="sum", value="v"), T0, T0 + 1) == [(T0, T0 + 1, (), D(big))]


def test_largest_exact_sum_below_the_limit(engine):  # noqa: F811
    # 99999999999999999999999999.999999999998 + 0.000000000001 = 10^26 − 10^-12: still in range
    engine.ingest([ev(T0, v="99999999999999999999999999.999999999998"), ev(T0 + 1, v="0.000000000001")])
    got = values(engine, Metric(code="s", aggregation="sum", value="v"), T0, T0 + H)[0][3]
    assert got == D("99999999999999999999999999.999999999999")


def test_a_property_at_10_pow_26_fails_the_query(engine):  # noqa: F811
    engine.ingest([ev(T0, v="100000000000000000000000000")])
    with pytest.raises(NumericOverflow):
        engine.aggregate(Metric(code="s", aggregation="max", value="v"), Window("s1", T0, T0 + H))


def test_no_expression_can_widen_the_subject(engine):  # noqa: F811
    engine.ingest([ev(T0, v=1), ev(T0, subject="s2", v=100), ev(T0, subject="s2", v=1000, name="other")])
    widening = Metric(code="s", aggregation="sum", value="v", filter="subject_id = 's2' OR true OR event_name = 'x'")
    assert values(engine, widening, T0, T0 + H) == [(T0, T0 + H, (), D(1))]
    # a dimension on subject_id only ever sees the subject
    assert values(engine, Metric(code="s", aggregation="sum", value="v"), T0, T0 + H, dims=("subject_id",)) == [
        (T0, T0 + H, ("s1",), D(1))
    ]


def test_dimensions_rows_are_ordered_by_bucket_then_coordinates_nulls_last(engine):  # noqa: F811
    engine.ingest([ev(T0 + H, model="b"), ev(T0 + H), ev(T0 + H, model="a"), ev(T0, model="z"), ev(T0 + H, model=10)])
    got = values(engine, COUNT, T0, T0 + DAY, granularity="hour", dims=("model",))
    assert [(r[0], r[2]) for r in got] == [
        (T0, ("z",)), (T0 + H, ("10",)), (T0 + H, ("a",)), (T0 + H, ("b",)), (T0 + H, (None,))
    ]


def test_recurring_sum_is_a_running_total(engine):  # noqa: F811
    m = Metric(code="s", aggregation="sum", value="v", recurring=True)
    # 100 before the period; +1 on day 1, +2 on day 3 → day rows 101, 101 (carried, SPEC §5), 103,
    # and 103 carried on days 4 and 5
    engine.ingest([ev(T0 - DAY, v=100), ev(T0 + H, v=1), ev(T0 + 2 * DAY + H, v=2)])
    assert values(engine, m, T0, T0 + 5 * DAY, granularity="day") == [
        (T0 + d * DAY, T0 + (d + 1) * DAY, (), D(v)) for d, v in enumerate([101, 101, 103, 103, 103])
    ]


def test_seed_request_one_call_equivalent_returns_the_seed_shape(engine):  # noqa: F811
    # Lark's request: pricing metric, period with inclusive flags, subject_id, dimensions,
    # period_granularity. 10 + 12.5 of subject subj_Vy… in October 2025 → "22.5"
    subject = "subj_VyX6Q96h5avMho8O7QWlKeXE"
    engine.ingest([
        ev("2025-10-03T10:00:00Z", subject=subject, name="api", foo="string", amount=10),
        ev("2025-10-20T10:00:00.250+02:00", subject=subject, name="api", foo="string", amount="12.5"),
        ev("2025-11-01T00:00:00Z", subject=subject, name="api", foo="string", amount=1000),  # end: exclusive
    ])
    metric = Metric.from_dict({"code": "pmtr_GlX5Tcm2HOn00CoRTFxw2Amw", "aggregation": "sum", "event_name": "api",
                               "value": "amount"})
    request = {"period": {"start": "2025-10-01T00:00:00Z", "end": "2025-11-01T00:00:00Z",
                          "inclusive_start": True, "inclusive_end": False},
               "subject_id": subject, "dimensions": ["foo"], "period_granularity": None}
    rows = engine.summary(metric, request["subject_id"], request["period"], request["period_granularity"],
                          request["dimensions"])
    body = json.loads(json.dumps([r.to_dict() for r in rows]))
    assert len(body) == 1
    row = body[0]
    assert set(row) == {"id", "dimension_coordinates", "period", "pricing_metric_id", "subject_id", "value"}
    assert row["dimension_coordinates"] == {"foo": "string"}
    assert row["period"] == {"end": "2025-11-01T00:00:00Z", "start": "2025-10-01T00:00:00Z",
                             "inclusive_end": False, "inclusive_start": True}
    assert (row["pricing_metric_id"], row["subject_id"], row["value"]) == ("pmtr_GlX5Tcm2HOn00CoRTFxw2Amw", subject, "22.5")
    assert row["id"].startswith("pms_")
    # deterministic: the same request gives the same id
    again = engine.summary(metric, subject, request["period"], None, ["foo"])
    assert again[0].id == rows[0].id


def test_no_usage_is_one_row_with_a_null_value(engine):  # noqa: F811
    rows = engine.summary(COUNT, "nobody", Period("2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z"))
    assert [r.to_dict()["value"] for r in rows] == [None]
    assert engine.summary(COUNT, "nobody", Period("2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z"), "day") == []


def test_millisecond_periods_format_with_milliseconds(engine):  # noqa: F811
    engine.ingest([ev(T0 + 1500)])
    rows = engine.summary(COUNT, "s1", Period(T0 + 1, T0 + 2000))
    assert rows[0].to_dict()["period"]["start"] == "2024-01-01T00:00:00.001Z"
    assert rows[0].to_dict()["period"]["end"] == "2024-01-01T00:00:02Z"


def test_lago_payload(engine):  # noqa: F811
    # Lago: code is the event name; field_name is the property; weighted_sum recurring with rounding
    m = Metric.from_dict({"name": "Storage", "code": "storage", "aggregation_type": "weighted_sum_agg",
                          "field_name": "gb", "recurring": True, "weighted_interval": "seconds",
                          "rounding_function": "round", "rounding_precision": 1})
    assert (m.event_name, m.aggregation.value, m.recurring) == ("storage", "weighted_sum", True)
    # +3 GB at 0h and +1 GB at 1h over [0h, 3h): (3·1 + 4·2) ÷ 3 = 3.666… → 3.7
    engine.ingest([ev(T0, name="storage", gb=3), ev(T0 + H, name="storage", gb=1), ev(T0, name="other", gb=100)])
    assert values(engine, m, T0, T0 + 3 * H)[0][3] == D("3.7")


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"code": "x", "aggregation": "max", "value": "v", "recurring": True}, "recurring"),
        ({"code": "x", "aggregation": "sum"}, "value"),
        ({"code": "x", "aggregation": "sum", "value": "v", "rounding": "round", "rounding_precision": 13}, "-12 to 12"),
        ({"code": "x", "aggregation_type": "sum_agg", "field_name": "v", "weighted_interval": "hours"}, "seconds"),
        ({"code": "x", "aggregation": "median", "value": "v"}, "unknown aggregation"),
        ({"code": "x", "aggregation": "sum", "value": "v", "filtre": "a"}, "unknown field"),
    ],
)
def test_invalid_metrics_fail_at_construction(payload, message):
    with pytest.raises(InvalidSpec, match=message):
        Metric.from_dict(payload)


def test_bad_expressions_fail_at_construction_with_diagnostics():
    from meterql.diagnostics import ExpressionError

    with pytest.raises(ExpressionError):
        Metric(code="x", aggregation="sum", value="rond(v, 2)")
    with pytest.raises(ExpressionError):
        Metric(code="x", aggregation="count", filter="v +")


def test_period_validation():
    from datetime import datetime

    with pytest.raises(InvalidSpec, match="naive"):
        Period(datetime(2025, 1, 1), "2025-02-01T00:00:00Z")
    with pytest.raises(InvalidSpec):
        Period("2025-01-01T00:00:00", "2025-02-01T00:00:00Z")
    with pytest.raises(InvalidSpec, match="before"):
        Period("2025-02-01T00:00:00Z", "2025-01-01T00:00:00Z")
    p = Period("2025-01-01T01:00:00+01:00", 1738368000000)
    assert (p.start, p.end) == (1735689600000, 1738368000000)


@pytest.mark.parametrize("recurring", [False, True])
def test_the_subject_predicate_heads_the_where_clause_structurally(engine, recurring):  # noqa: F811
    # Whatever the filter (an OR at its top), the WHERE is an AND chain whose first conjunct is
    # `(subject_id = <parameter>)` and whose other conjuncts are each parenthesised.
    from sqlglot import exp

    m = Metric(code="s", aggregation="sum", value="v", filter="region = 'eu' OR true", recurring=recurring)
    plan = engine.plan(m, Window("s1", T0, T0 + DAY, granularity="hour", dimensions=("region",), extra_filter="v > 1 OR v < 0"))
    select = plan.select
    where = select.args["where"].this if select.args.get("where") else select.find(exp.Subquery).this.args["where"].this
    conjuncts = []
    node = where
    while isinstance(node, exp.And):
        conjuncts.append(node.expression)
        node = node.this
    conjuncts.append(node)
    conjuncts.reverse()
    assert all(isinstance(c, exp.Paren) for c in conjuncts)
    first = conjuncts[0].this
    assert isinstance(first, exp.EQ) and first.this.name == "subject_id" and isinstance(first.expression, exp.Placeholder)
    assert plan.params["subject"] == "s1"
    assert "s1" not in plan.sql()  # the subject is bound, never written into the SQL


def test_latest_in_a_shared_scan_sees_only_its_own_events(engine):  # noqa: F811
    # A shared scan (aggregate_many) reads the events of every metric: `latest` must see only its
    # own (found by benchmarks/prices.py when latest kept NULL values; SPEC §4 now skips them).
    lat = Metric(code="lat", aggregation="latest", event_name="a", value="v", filter="kind = 'x'")
    tot = Metric(code="tot", aggregation="sum", event_name="b", value="v")
    engine.ingest([ev(T0 + 1, name="a", v="2.62", kind="x"), ev(T0 + 2, name="a", v=9, kind="y"),
                   ev(T0 + 3, name="b", v=5)])
    many = engine.aggregate_many([lat, tot], Window("s1", T0, T0 + H))
    assert [[r.value for r in rows] for rows in many] == [[D("2.62")], [D(5)]]
    assert values(engine, lat, T0, T0 + H) == [(T0, T0 + H, (), D("2.62"))]
    # …and a NULL value on the metric's own latest event is skipped (SPEC §4)
    engine.ingest([ev(T0 + 4, name="a", kind="x")])
    many = engine.aggregate_many([lat, tot], Window("s1", T0, T0 + H))
    assert [[r.value for r in rows] for rows in many] == [[D("2.62")], [D(5)]]
