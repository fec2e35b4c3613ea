"""The reference aggregation (SPEC §4, §5): every expected number below is computed by hand in the
comment next to it, never taken from the code."""

from __future__ import annotations

from meterql.plan import Window
from dataclasses import dataclass
from decimal import Decimal

import pytest

from meterql.errors import InvalidSpec, NumericOverflow
from meterql.reference import RefRow, dedupe, reference_rows

D = Decimal
H = 3_600_000
DAY = 24 * H
T0 = 1704067200000  # 2024-01-01T00:00:00Z, a Monday


@dataclass(frozen=True)
class Spec:
    """The duck-typed metric the reference accepts (Metric has the same attributes)."""

    aggregation: str
    value: str | None = None
    filter: str | None = None
    event_name: str | None = "call"
    rounding: str | None = None
    rounding_precision: int = 0
    recurring: bool = False


_n = 0


def e(ts, subject="s1", name="call", event_id=None, **props):
    global _n
    _n += 1
    return {
        "event_id": event_id or f"id{_n}",
        "subject_id": subject,
        "event_name": name,
        "timestamp": ts,
        "properties": props,
    }


def one(events, spec, start=T0, end=T0 + DAY, **kw):
    rows = reference_rows(events, spec, Window("s1", start, end, **kw))
    assert len(rows) == 1
    return rows[0].value


# --- scope, dedup, period bounds ----------------------------------------------------------------


def basic_events():
    return [
        e(T0 + 1 * H, event_id="a", tokens=10, user="u1"),
        e(T0 + 2 * H, event_id="b", tokens="5", user="u2"),
        e(T0 + 3 * H, event_id="c", user="u1"),  # no tokens: NULL value
        e(T0 + 4 * H, event_id="a", tokens=1000),  # duplicate id: ignored
        e(T0 + 1 * H, subject="s2", tokens=100),  # other subject
        e(T0 + 1 * H, name="other", tokens=100),  # other event name
        e(T0 + DAY, tokens=7, user="u9"),  # at the (exclusive) end
        e(T0 - 1, tokens=9),  # before the start
    ]


@pytest.mark.parametrize(
    "agg, value, expected",
    [
        ("count", None, D(3)),  # a, b, c
        ("sum", "tokens", D(15)),  # 10 + 5 (c is NULL)
        ("min", "tokens", D(5)),
        ("max", "tokens", D(10)),
        ("avg", "tokens", D("7.5")),  # 15 / 2 non-NULL values
        ("unique_count", "user", D(2)),  # u1, u2
        ("latest", "tokens", D(5)),  # SPEC §4: latest event with a value: b (c's value is NULL)
        ("sum_agg", "tokens", D(15)),  # Lago alias
    ],
)
def test_basic_aggregations(agg, value, expected):
    assert one(basic_events(), Spec(agg, value)) == expected


def test_period_flags_to_the_millisecond():
    evs = basic_events() + [e(T0, tokens=1)]
    assert one(evs, Spec("sum", "tokens")) == 16  # 1 + 10 + 5
    assert one(evs, Spec("sum", "tokens"), inclusive_start=False) == 15
    assert one(evs, Spec("sum", "tokens"), inclusive_end=True) == 23  # + 7 at the end
    assert one(evs, Spec("sum", "tokens"), start=T0 - 1) == 25  # + 9 at T0 - 1
    assert one(evs, Spec("count"), start=T0 + 1 * H, end=T0 + 2 * H) == 1  # a only
    assert one(evs, Spec("count"), start=T0 + 1 * H, end=T0 + 2 * H, inclusive_end=True) == 2


def test_event_name_none_matches_every_name():
    assert one(basic_events(), Spec("count", event_name=None)) == 4  # + the 'other' event


def test_row_shape():
    rows = reference_rows(basic_events(), Spec("sum", "tokens"), Window("s1", T0, T0 + DAY, True, False))
    assert rows == [RefRow(T0, T0 + DAY, (), D(15), True, False)]


def test_dedupe_first_valid_wins_and_invalid_events_are_dropped():
    evs = [
        {"event_id": "x", "subject_id": "s1", "event_name": "call", "timestamp": "2024-01-01T01:00:00"},  # naive: invalid
        e(T0 + H, event_id="x", tokens=4),
        e(T0 + 2 * H, event_id="x", tokens=40),
    ]
    assert [d.ts for d in dedupe(evs)] == [T0 + H]
    assert one(evs, Spec("sum", "tokens")) == 4


def test_no_events_and_all_null():
    assert one([], Spec("sum", "tokens")) is None
    assert one([], Spec("count")) is None
    nulls = [e(T0 + H, tokens=None), e(T0 + 2 * H, tokens="n/a")]
    assert one(nulls, Spec("sum", "tokens")) == 0
    assert one(nulls, Spec("count")) == 2
    assert one(nulls, Spec("unique_count", "tokens")) == 1  # 'n/a' is a string value; None is not
    for agg in ("min", "max", "avg", "latest"):
        assert one(nulls, Spec(agg, "tokens")) is None
    assert one([e(T0 + H)], Spec("unique_count", "user")) == 0
    assert one(nulls, Spec("weighted_sum", "tokens")) == 0


def test_filters_keep_only_true():
    evs = [e(T0 + H, tokens=1, region="eu"), e(T0 + 2 * H, tokens=2, region="us"), e(T0 + 3 * H, tokens=4)]
    assert one(evs, Spec("sum", "tokens", filter="region = 'eu'")) == 1
    assert one(evs, Spec("sum", "tokens", filter="NOT (region = 'eu')")) == 2  # NULL region excluded
    assert one(evs, Spec("sum", "tokens", filter="region IS NULL")) == 4
    assert one(evs, Spec("sum", "tokens"), extra_filter="tokens >= 2") == 6
    assert one(evs, Spec("sum", "tokens", filter="region = 'us'"), extra_filter="tokens >= 3") is None


def test_filter_is_never_evaluated_on_other_subjects():
    # Another subject's out-of-range value would overflow the filter; it must not be read.
    evs = [e(T0 + H, tokens=1), e(T0 + H, subject="s2", tokens="1e30")]
    assert one(evs, Spec("sum", "tokens", filter="tokens > 0")) == 1
    with pytest.raises(NumericOverflow):
        one(evs + [e(T0 + 2 * H, tokens="1e30")], Spec("sum", "tokens", filter="tokens > 0"))


# --- numbers ------------------------------------------------------------------------------------


def test_avg_rounds_like_division():
    assert one([e(T0 + i, tokens=v) for i, v in enumerate([1, 1, 2])], Spec("avg", "tokens")) == D("1.333333333333")
    assert one([e(T0 + i, tokens=v) for i, v in enumerate([2, 2, 1])], Spec("avg", "tokens")) == D("1.666666666667")
    assert one([e(T0 + i, tokens=v) for i, v in enumerate([-2, -2, -1])], Spec("avg", "tokens")) == D("-1.666666666667")


def test_exact_decimals():
    evs = [e(T0 + i, tokens="0.1") for i in range(10)] + [e(T0 + 20, tokens=99999999999999999999)]
    assert one(evs, Spec("sum", "tokens")) == D("100000000000000000000")  # 1 + 99999999999999999999
    assert one([e(T0, tokens=9007199254740993), e(T0 + 1, tokens=1)], Spec("sum", "tokens")) == D("9007199254740994")


def test_sum_overflow():
    big = "60000000000000000000000000"  # 6 × 10^25
    with pytest.raises(NumericOverflow):
        one([e(T0, tokens=big), e(T0 + 1, tokens=big)], Spec("sum", "tokens"))
    with pytest.raises(NumericOverflow):
        one([e(T0, tokens=big), e(T0 + 1, tokens=big)], Spec("avg", "tokens"))  # its sum overflows
    # A sum that passes 10^26 on the way but ends in range is fine (order-independent rule).
    evs = [e(T0, tokens=big), e(T0 + 1, tokens=big), e(T0 + 2, tokens="-" + big)]
    assert one(evs, Spec("sum", "tokens")) == D(big)


@pytest.mark.parametrize(
    "mode, precision, expected",
    [
        ("round", 0, D(8)),  # 7.5 → 8
        ("ceil", 0, D(8)),
        ("floor", 0, D(7)),
        ("round", -1, D(10)),
        ("floor", -1, D(0)),
        ("round", 2, D("7.5")),
    ],
)
def test_rounding_applies_to_the_final_value(mode, precision, expected):
    evs = [e(T0 + H, tokens="2.5"), e(T0 + 2 * H, tokens="5")]
    assert one(evs, Spec("sum", "tokens", rounding=mode, rounding_precision=precision)) == expected


def test_rounding_of_negative_half_and_null():
    evs = [e(T0 + H, tokens="-2.5")]
    assert one(evs, Spec("sum", "tokens", rounding="round")) == -3
    assert one([], Spec("sum", "tokens", rounding="round")) is None


# --- latest -------------------------------------------------------------------------------------


def test_latest_ties_broken_by_greatest_event_id():
    evs = [e(T0 + H, event_id="a", v=1), e(T0 + H, event_id="b", v=2), e(T0 + H - 1, event_id="z", v=3)]
    assert one(evs, Spec("latest", "v")) == 2
    # Code point order: 'B' (66) < 'a' (97), so 'a' is the greater id.
    evs = [e(T0 + H, event_id="B", v=1), e(T0 + H, event_id="a", v=2)]
    assert one(evs, Spec("latest", "v")) == 2
    # SPEC §4: the latest event whose value is not NULL (b's is NULL, so a's 1)
    evs = [e(T0 + H, event_id="a", v=1), e(T0 + 2 * H, event_id="b", v=None)]
    assert one(evs, Spec("latest", "v")) == 1
    # a NULL value on a tie does not win either; NULL only when no event has a value
    evs = [e(T0 + H, event_id="a", v=7), e(T0 + H, event_id="b", v="n/a")]
    assert one(evs, Spec("latest", "v")) == 7
    assert one([e(T0 + H, v=None), e(T0 + 2 * H, v="x")], Spec("latest", "v")) is None


# --- granularity and dimensions -----------------------------------------------------------------


def test_day_buckets_with_dimensions_and_null_coordinates_last():
    evs = [
        e(T0 + 1 * H, tokens=1, region="us"),
        e(T0 + 2 * H, tokens=2, region="eu"),
        e(T0 + 3 * H, tokens=4),  # no region: NULL coordinate
        e(T0 + 4 * H, tokens=8, region="eu"),
        e(T0 + DAY + H, tokens=16, region="us"),
        e(T0 + DAY + 2 * H, tokens=32, region=10.0),  # number → canonical '10'
    ]
    rows = reference_rows(evs, Spec("sum", "tokens"), Window("s1", T0, T0 + 3 * DAY, granularity="day", dimensions=["region"]))
    assert [(r.bucket_start_ms, r.bucket_end_ms, r.coordinates, r.value) for r in rows] == [
        (T0, T0 + DAY, ("eu",), D(10)),  # 2 + 8
        (T0, T0 + DAY, ("us",), D(1)),
        (T0, T0 + DAY, (None,), D(4)),  # NULLS LAST
        (T0 + DAY, T0 + 2 * DAY, ("10",), D(32)),  # '10' < 'us' by code point
        (T0 + DAY, T0 + 2 * DAY, ("us",), D(16)),
    ]  # day 3 has no event: no row
    assert all(r.inclusive_start and not r.inclusive_end for r in rows)


def test_dimensions_without_granularity_and_expression_dimensions():
    evs = [e(T0 + H, tokens=1, model="A"), e(T0 + 2 * H, tokens=2, model="a"), e(T0 + 3 * H, tokens=4, model="A")]
    rows = reference_rows(evs, Spec("sum", "tokens"), Window("s1", T0, T0 + DAY, dimensions=["model", "lower(model)"]))
    assert [(r.coordinates, r.value) for r in rows] == [(("A", "a"), D(5)), (("a", "a"), D(2))]
    assert rows[0].bucket_start_ms == T0 and rows[0].bucket_end_ms == T0 + DAY
    assert reference_rows([], Spec("sum", "tokens"), Window("s1", T0, T0 + DAY, dimensions=["model"])) == []


def test_buckets_are_cut_to_the_period_and_keep_its_flags():
    start, end = T0 + 6 * H, T0 + DAY + 12 * H
    evs = [e(start, tokens=1), e(T0 + 23 * H, tokens=2), e(T0 + DAY, tokens=4), e(end, tokens=8)]
    rows = reference_rows(evs, Spec("sum", "tokens"), Window("s1", start, end, False, True, granularity="day"))
    assert [(r.bucket_start_ms, r.bucket_end_ms, r.inclusive_start, r.inclusive_end, r.value) for r in rows] == [
        (start, T0 + DAY, False, False, D(2)),  # the event at the exclusive start is out
        (T0 + DAY, end, True, True, D(12)),  # 4 + 8 (inclusive end)
    ]


def test_inclusive_end_on_a_bucket_boundary_gets_its_own_bucket():
    evs = [e(T0 + H, tokens=1), e(T0 + DAY, tokens=2)]
    rows = reference_rows(evs, Spec("sum", "tokens"), Window("s1", T0, T0 + DAY, True, True, granularity="hour"))
    assert [(r.bucket_start_ms, r.bucket_end_ms, r.inclusive_start, r.inclusive_end, r.value) for r in rows] == [
        (T0 + H, T0 + 2 * H, True, False, D(1)),
        (T0 + DAY, T0 + DAY, True, True, D(2)),
    ]


def test_week_buckets_start_monday():
    # 2024-01-01 is a Monday. Events: Wed 3rd, Mon 8th 00:00, Sun 14th 23:59:59.999.
    evs = [e(T0 + 2 * DAY, tokens=1), e(T0 + 7 * DAY, tokens=2), e(T0 + 14 * DAY - 1, tokens=4)]
    rows = reference_rows(evs, Spec("count"), Window("s1", T0 - 3 * DAY, T0 + 28 * DAY, granularity="week"))
    assert [(r.bucket_start_ms, r.bucket_end_ms, r.value) for r in rows] == [
        (T0, T0 + 7 * DAY, D(1)),
        (T0 + 7 * DAY, T0 + 14 * DAY, D(2)),
    ]


def test_buckets_before_1970_are_true_floors():
    evs = [e(-1, tokens=1), e(-H - 1, tokens=2)]  # 1969-12-31 23:59:59.999 and 22:59:59.999
    rows = reference_rows(evs, Spec("sum", "tokens"), Window("s1", -DAY, 0, granularity="hour"))
    assert [(r.bucket_start_ms, r.value) for r in rows] == [(-2 * H, D(2)), (-H, D(1))]
    rows = reference_rows(evs, Spec("sum", "tokens"), Window("s1", -7 * DAY, DAY, granularity="week"))
    # Both in the week of Monday 1969-12-29 (= -3 days); the bucket is cut at the period end.
    assert [(r.bucket_start_ms, r.bucket_end_ms, r.value) for r in rows] == [(-3 * DAY, DAY, D(3))]


def test_hours_add_up_to_the_day():
    evs = [e(T0 + i * 997_000, tokens=str(i % 7) + ".25") for i in range(60)]
    hours = reference_rows(evs, Spec("sum", "tokens"), Window("s1", T0, T0 + DAY, granularity="hour"))
    day = one(evs, Spec("sum", "tokens"))
    assert sum(r.value for r in hours) == day
    # 60 values (i % 7) + 0.25: i % 7 sums to 8 full cycles (8 × 21 = 168) + 0..3 (6) = 174; + 15.
    assert day == D("189")


# --- weighted_sum -------------------------------------------------------------------------------


def test_weighted_sum_worked_example():
    evs = [e(T0 + 2 * H, v=10), e(T0 + 6 * H, v=-4)]
    # level 0 for 2 h, 10 for 4 h, 6 for 4 h: (0·2 + 10·4 + 6·4) / 10 = 6.4
    assert one(evs, Spec("weighted_sum", "v"), end=T0 + 10 * H) == D("6.4")
    rows = reference_rows(evs, Spec("weighted_sum", "v"), Window("s1", T0, T0 + 10 * H, granularity="hour"))
    # [02:00, 03:00): 10 all hour; [06:00, 07:00): starts at 10, the event at 06:00 sets 6 at once.
    # SPEC §5: the carried level makes rows too — 10 in hours 3–5, 6 in hours 7–9; none before 02:00
    # (level 0).
    assert [(r.bucket_start_ms, r.value) for r in rows] == (
        [(T0 + h * H, D(10)) for h in range(2, 6)] + [(T0 + h * H, D(6)) for h in range(6, 10)])


def test_weighted_sum_recurring_carries_the_level():
    evs = [e(T0 - H, v=5), e(T0 + 2 * H, v=10), e(T0 + 6 * H, v=-4)]
    # level 5 for 2 h, 15 for 4 h, 11 for 4 h: (10 + 60 + 44) / 10 = 11.4
    assert one(evs, Spec("weighted_sum", "v", recurring=True), end=T0 + 10 * H) == D("11.4")
    assert one(evs, Spec("weighted_sum", "v"), end=T0 + 10 * H) == D("6.4")  # not recurring: from 0
    # Nothing in the period: the carried level all along (recurring) / no usage (not recurring).
    assert one(evs[:1], Spec("weighted_sum", "v", recurring=True), end=T0 + 10 * H) == 5
    assert one(evs[:1], Spec("weighted_sum", "v"), end=T0 + 10 * H) is None


def test_weighted_sum_rounding_and_milliseconds():
    # Period [0, 3) ms, +1 at 1 ms: (0·1 + 1·2) / 3 = 0.6666… → 0.666666666667
    assert one([e(1, v=1)], Spec("weighted_sum", "v"), start=0, end=3) == D("0.666666666667")
    # Inclusive end: [0, 3] is 4 ms: 2 ms at level 0, then... +1 at 1 ms → (0·1 + 1·3) / 4 = 0.75
    assert one([e(1, v=1)], Spec("weighted_sum", "v"), start=0, end=3, inclusive_end=True) == D("0.75")
    # Two events in the same millisecond apply together, in any order.
    evs = [e(1, v=3, event_id="b"), e(1, v=-1, event_id="a")]
    assert one(evs, Spec("weighted_sum", "v"), start=0, end=2) == 1  # (0·1 + 2·1) / 2


def test_weighted_sum_buckets_start_at_the_level_left_before():
    d1 = T0
    evs = [e(d1 + 12 * H, v=10), e(d1 + DAY + 6 * H, v=2)]
    rows = reference_rows(evs, Spec("weighted_sum", "v"), Window("s1", d1, d1 + 3 * DAY, granularity="day"))
    # day 1: 0 for 12 h, 10 for 12 h → 5; day 2: 10 for 6 h, 12 for 18 h → (60 + 216) / 24 = 11.5;
    # day 3: no event, the carried level 12 all day (SPEC §5: carried state makes a row)
    assert [r.value for r in rows] == [D(5), D("11.5"), D(12)]
    # Cut buckets: period [d1 06:00, d2 12:00). Bucket 1 = 18 h: 0·6 + 10·12 = 120 / 18 = 6.666666666667
    # Bucket 2 = 12 h: 10·6 + 12·6 = 132 / 12 = 11
    rows = reference_rows(evs, Spec("weighted_sum", "v"), Window("s1", d1 + 6 * H, d1 + DAY + 12 * H, granularity="day"))
    assert [r.value for r in rows] == [D("6.666666666667"), D(11)]


def test_weighted_sum_with_dimensions_keeps_one_level_per_group():
    evs = [e(T0, v=4, seat="a"), e(T0 + 5 * H, v=2, seat="b"), e(T0 + 5 * H, v=-4, seat="a")]
    rows = reference_rows(evs, Spec("weighted_sum", "v"), Window("s1", T0, T0 + 10 * H, dimensions=["seat"]))
    # a: 4 for 5 h, 0 for 5 h → 2; b: 0 for 5 h, 2 for 5 h → 1
    assert [(r.coordinates, r.value) for r in rows] == [(("a",), D(2)), (("b",), D(1))]


# --- recurring ----------------------------------------------------------------------------------


def test_recurring_sum_is_a_running_total_per_bucket():
    evs = [e(T0 - 5 * DAY, v=3), e(T0 + H, v=2), e(T0 + 2 * DAY + H, v=4), e(T0 + 5 * DAY, v=100)]
    spec = Spec("sum", "v", recurring=True)
    rows = reference_rows(evs, spec, Window("s1", T0, T0 + 3 * DAY, granularity="day"))
    # day 1: 3 + 2 = 5; day 2: no event, the carried total 5 (SPEC §5); day 3: 5 + 4 = 9.
    # The event after the period never counts.
    assert [(r.bucket_start_ms, r.value) for r in rows] == [(T0, D(5)), (T0 + DAY, D(5)), (T0 + 2 * DAY, D(9))]
    assert one(evs, spec, end=T0 + 3 * DAY) == 9
    assert one(evs, Spec("sum", "v"), end=T0 + 3 * DAY) == 6  # not recurring
    assert one(evs[:1], spec) == 3  # only earlier events: the carried total, not NULL


def test_recurring_unique_count():
    evs = [e(T0 - DAY, user="a"), e(T0 + H, user="a"), e(T0 + 2 * H, user="b"), e(T0 + DAY + H, user="c")]
    spec = Spec("unique_count", "user", recurring=True)
    rows = reference_rows(evs, spec, Window("s1", T0, T0 + 2 * DAY, granularity="day"))
    assert [r.value for r in rows] == [D(2), D(3)]  # {a, b}; {a, b, c}
    assert one(evs[:1] + evs[3:], Spec("unique_count", "user"), end=T0 + 2 * DAY) == 1  # not recurring: {c}


def test_invalid_specs():
    with pytest.raises(InvalidSpec):
        reference_rows([], Spec("median", "v"), Window("s1", T0, T0 + DAY))
    with pytest.raises(InvalidSpec):
        reference_rows([], Spec("max", "v", recurring=True), Window("s1", T0, T0 + DAY))
    with pytest.raises(InvalidSpec):
        reference_rows([], Spec("sum", "v"), Window("s1", T0, T0 + DAY, granularity="year"))  # month is valid now
    with pytest.raises(InvalidSpec):
        reference_rows([], Spec("sum", "v"), Window("s1", T0, T0 + DAY, granularity="day", timezone="Mars/Olympus"))
    with pytest.raises(InvalidSpec):
        reference_rows([], Spec("sum", None), Window("s1", T0, T0 + DAY))


def test_metric_class_is_accepted():
    from meterql.metric import Metric

    m = Metric(code="tokens", aggregation="sum", event_name="call", value="tokens * 2", filter="region = 'eu'")
    evs = [e(T0 + H, tokens=3, region="eu"), e(T0 + 2 * H, tokens=5, region="us")]
    assert one(evs, m) == 6


# --- invariants (hypothesis, modest example counts) ---------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_values = st.sampled_from([1, 2, "3.5", -1, "0.1", None, "x", True, Decimal("2.25"), "1e3"])
_event = st.fixed_dictionaries(
    {
        "ts": st.integers(T0 - DAY, T0 + 2 * DAY),
        "v": _values,
        "region": st.sampled_from(["eu", "us", None, 10]),
        "name": st.sampled_from(["call", "call", "other"]),
    }
)
_specs = st.builds(
    Spec,
    aggregation=st.sampled_from(["count", "sum", "min", "max", "avg", "unique_count", "latest", "weighted_sum"]),
    value=st.just("v"),
    filter=st.sampled_from([None, "region = 'eu'", "v > 1"]),
)


def _make(raw, subject="s1", prefix="e"):
    return [
        {"event_id": f"{prefix}{i}", "subject_id": subject, "event_name": r["name"], "timestamp": r["ts"],
         "properties": {"v": r["v"], "region": r["region"]}}  # fmt: skip
        for i, r in enumerate(raw)
    ]


def _rows(events, spec, **kw):
    return reference_rows(events, spec, Window("s1", T0, T0 + DAY, **kw))


@settings(max_examples=40, deadline=None)
@given(st.lists(_event, max_size=25), st.lists(_event, max_size=10), _specs, st.sampled_from([None, "hour", "day"]))
def test_other_subjects_retries_and_order_change_nothing(raw, noise, spec, gran):
    events = _make(raw)
    want = _rows(events, spec, granularity=gran, dimensions=["region"])
    noisy = events + _make(noise, subject="s2", prefix="n")  # other subject, fresh ids
    retried = events + [dict(ev, timestamp=T0 + 5, properties={"v": 99}) for ev in events]  # same ids
    shuffled = list(reversed(events))  # distinct ids: order does not matter
    for variant in (noisy, retried, shuffled):
        assert _rows(variant, spec, granularity=gran, dimensions=["region"]) == want


@settings(max_examples=40, deadline=None)
@given(st.lists(_event, max_size=30))
def test_hours_add_up_and_filters_partition(raw):
    events = _make(raw)
    for agg in ("sum", "count"):
        day = _rows(events, Spec(agg, "v"))[0].value
        hours = [r.value for r in _rows(events, Spec(agg, "v"), granularity="hour")]
        assert (sum(hours) if hours else None) == day
    parts = [_rows(events, Spec("count", filter=f))[0].value or 0 for f in ("v > 1", "NOT (v > 1)", "(v > 1) IS NULL")]
    assert sum(parts) == (_rows(events, Spec("count"))[0].value or 0)
    count = _rows(events, Spec("count"))[0].value
    unique = _rows(events, Spec("unique_count", "v"))[0].value
    assert (count is None and unique is None) or unique <= count


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 999), st.integers(-5, 5)), max_size=12))
def test_weighted_sum_matches_a_per_millisecond_walk(steps):
    # Period [0, 1000) ms: the average over 1000 one-millisecond samples of the level (independent
    # of the sweep in the code: the level at ms t is the sum of increments at or before t).
    events = [e(t, v=v) for t, v in steps]
    got = reference_rows(events, Spec("weighted_sum", "v"), Window("s1", 0, 1000))[0].value
    if not steps:
        assert got is None
        return
    total = sum(sum(v for t, v in steps if t <= ms) for ms in range(1000))
    assert got == Decimal(total) / 1000


# --- carried state creates rows (SPEC §5) ----------------------------------------------------------


def test_carried_state_rows_only_where_the_carried_value_is_not_zero():
    # recurring sum by day over 4 days: +3 before the period, −3 on day 2, +1 on day 4 (a)
    # and +2 before the period (b, never again)
    evs = [e(T0 - DAY, v=3, seat="a"), e(T0 + DAY + H, v=-3, seat="a"), e(T0 + 3 * DAY + H, v=1, seat="a"),
           e(T0 - 2 * DAY, v=2, seat="b")]
    spec = Spec("sum", "v", recurring=True)
    rows = reference_rows(evs, spec, Window("s1", T0, T0 + 4 * DAY, granularity="day", dimensions=["seat"]))
    # a: day 1 carried 3; day 2 event → 0 (a row: it has an event); day 3 carried 0 → no row; day 4: 1
    # b: carried 2 on every day, no event in the period
    assert [(r.bucket_start_ms, r.coordinates, r.value) for r in rows] == [
        (T0, ("a",), D(3)), (T0, ("b",), D(2)),
        (T0 + DAY, ("a",), D(0)), (T0 + DAY, ("b",), D(2)),
        (T0 + 2 * DAY, ("b",), D(2)),
        (T0 + 3 * DAY, ("a",), D(1)), (T0 + 3 * DAY, ("b",), D(2)),
    ]
    # without granularity: b has a row for the period, from its carried total alone
    rows = reference_rows(evs, spec, Window("s1", T0, T0 + 4 * DAY, dimensions=["seat"]))
    assert [(r.coordinates, r.value) for r in rows] == [(("a",), D(1)), (("b",), D(2))]
    # not recurring: nothing is carried
    rows = reference_rows(evs, Spec("sum", "v"), Window("s1", T0, T0 + 4 * DAY, granularity="day", dimensions=["seat"]))
    assert [(r.bucket_start_ms, r.value) for r in rows] == [(T0 + DAY, D(-3)), (T0 + 3 * DAY, D(1))]


def test_carried_distinct_set_and_cut_buckets():
    # recurring unique_count: a non-empty set carried into a bucket makes a row; a NULL value does not
    evs = [e(T0 - DAY, user="u"), e(T0 - DAY, v=1)]  # the second has no user: NULL
    spec = Spec("unique_count", "user", recurring=True)
    # period [T0 + 6 h, T0 + 2 days + 1 h): three day buckets, the first and last cut to the period
    rows = reference_rows(evs, spec, Window("s1", T0 + 6 * H, T0 + 2 * DAY + H, granularity="day"))
    assert [(r.bucket_start_ms, r.bucket_end_ms, r.value) for r in rows] == [
        (T0 + 6 * H, T0 + DAY, D(1)), (T0 + DAY, T0 + 2 * DAY, D(1)), (T0 + 2 * DAY, T0 + 2 * DAY + H, D(1))]
    assert reference_rows(evs[1:], spec, Window("s1", T0, T0 + DAY, granularity="day")) == []
