"""The invoice run: one metric over one period for many subjects in ONE query
(`engine.summaries` / `engine.aggregate_subjects`), on DuckDB and ClickHouse (chdb).

- differential: for generated events of several subjects × metrics (every aggregation, recurring,
  rounding, filters, value expressions) × windows × granularity × dimensions, each subject's rows
  = the reference (`meterql.reference.reference_rows`) = `aggregate` for that subject alone, for
  every subject and for a list of subject ids (with a subject that has no events);
- a hand-checked case (weighted_sum worked out on paper, sums, a subject with no events);
- the subject rules (which subjects appear, order, duplicates, empty list, errors), safety of
  hostile subject ids, ONE query per call (and a few for a very long list), overflow anywhere
  fails the call;
- the cheap cut-result check that replaced the `COUNT(*) OVER ()` column: an ungrouped plan must
  return exactly one row, and no plan carries that window any more.
"""

from __future__ import annotations

from meterql.plan import Window
import os
import random
from decimal import Decimal

import pytest

from meterql import Metric, Period
from meterql.engines import base as engine_base
from meterql.errors import InvalidSpec, NumericOverflow, TransportError
from meterql.metric import RECURRING_AGGREGATIONS, Aggregation
from meterql.reference import reference_rows

from engine_fixtures import both, engine  # noqa: F401  (fixtures)

H = 3_600_000
DAY = 24 * H
T0 = 1704067200000  # 2024-01-01T00:00:00Z, a Monday
SUBJECTS = ["a", "b", "c"]

NUMBER_VALUES = ["x", "x * 2 + 1", "round(x / 3, 2)", "coalesce(x, 0) - 1.25"]
UNIQUE_VALUES = ["g", "concat(g, '-', flag)"]
FILTERS = [None, "g = 'u'", "x > 1", "flag"]
DIMENSIONS = [(), ("g",), ("g", "flag"), ("x > 1",)]

X_VALUES = [None, -5, 0, 3, 7, 20, "1.5", "-2.25", "abc", "0.000000000001", Decimal("2.50")]
G_VALUES = ["u", "v", 1, None, True]
MISSING = object()


def draw_window(rng: random.Random) -> tuple[int, int, bool, bool]:
    start = T0 + rng.choice([0, H // 2, DAY - 1])
    end = start + rng.choice([H, 5 * H + H // 2, DAY, 2 * DAY + 7 * H, 9 * DAY, 0])
    return start, end, rng.random() < 0.5, rng.random() < 0.5


def draw_events(rng: random.Random, start: int, end: int, name: str) -> list[dict]:
    out = []
    for _ in range(rng.randint(3, 30)):
        props = {}
        for key, pool in (("x", X_VALUES), ("g", G_VALUES), ("flag", [True, False, None])):
            if rng.random() < 0.85:
                props[key] = rng.choice(pool)
        r = rng.random()
        ts = (rng.randint(start, end) if r < 0.6 else rng.choice([start, end, start - 1, end - 1, start - DAY])
              if r < 0.8 else rng.randint(start - 2 * DAY, end + DAY))
        out.append({
            "event_id": f"e{rng.randint(0, 35)}",  # some ids repeat: the first one wins
            "subject_id": rng.choice(SUBJECTS),
            "event_name": rng.choice([name, name, name, "other"]),
            "timestamp": ts,
            "properties": props,
        })
    return out


def draw_metric(rng: random.Random, name: str) -> Metric:
    agg = rng.choice(list(Aggregation))
    value = rng.choice(UNIQUE_VALUES if agg is Aggregation.UNIQUE_COUNT else NUMBER_VALUES)
    rounding = rng.choice([None, None, "round", "floor"])
    return Metric(
        code="m",
        aggregation=agg,
        event_name=name,  # the example's own event name: the all-subjects query reads only its events
        value=None if agg is Aggregation.COUNT else value,
        filter=rng.choice(FILTERS),
        rounding=rounding,
        rounding_precision=rng.randint(-1, 2) if rounding else 0,
        recurring=agg in RECURRING_AGGREGATIONS and rng.random() < 0.4,
    )


def _key(row):
    return (row.bucket_start_ms, row.bucket_end_ms, row.inclusive_start, row.inclusive_end, tuple(row.coordinates),
            row.value)


STATS: list[int] = []
EXAMPLES = int(os.environ.get("MQ_EXAMPLES", "60"))


@pytest.mark.parametrize("seed", range(EXAMPLES))
def test_every_subject_in_one_query_equals_the_reference_and_the_per_subject_answer(both, seed):  # noqa: F811
    """Seeded examples (a plain `random.Random`: diverse from the first example on)."""
    rng = random.Random(seed)
    k = seed
    name = f"call{k}"
    start, end, inc_s, inc_e = draw_window(rng)
    evs = draw_events(rng, start, end, name)
    metric = draw_metric(rng, name)
    granularity = rng.choice([None, None, "hour", "day", "week"])
    dims = rng.choice(DIMENSIONS)
    stored = [{**e, "event_id": f"i{k}_{e['event_id']}", "subject_id": f"i{k}_{e['subject_id']}"} for e in evs]
    ghost = f"i{k}_nobody"
    expected = {f"i{k}_{s}": [_key(r) for r in reference_rows(evs, metric, Window(s, start, end, inc_s, inc_e, granularity, dims))] for s in SUBJECTS}
    expected[ghost] = [_key(r) for r in reference_rows([], metric, Window("nobody", start, end, inc_s, inc_e, granularity, dims))]
    for name_, engine_ in both.items():
        engine_.ingest(stored)
        every = engine_.aggregate_subjects(metric, Window(None, start, end, inc_s, inc_e, granularity, dims))
        every = {s: [_key(r) for r in rows] for s, rows in every.items()}
        # every subject that appears is answered exactly; one that does not has no usage to report
        for s, rows in expected.items():
            if s in every:
                assert every[s] == rows, f"{name_} {s}: {metric} {granularity} {dims} {(start, end, inc_s, inc_e)}"
            else:
                assert rows == [] or (len(rows) == 1 and rows[0][-1] is None), f"{name_}: {s} missing"
        assert set(every) <= set(expected) and list(every) == sorted(every)
        listed = [f"i{k}_b", ghost, f"i{k}_a", f"i{k}_b"]
        some = engine_.aggregate_subjects(metric, Window(None, start, end, inc_s, inc_e, granularity, dims, subject_ids=listed))
        assert list(some) == [f"i{k}_b", ghost, f"i{k}_a"]
        for s, rows in some.items():
            assert [_key(r) for r in rows] == expected[s], f"{name_} listed {s}: {metric} {granularity} {dims}"
            # metamorphic: the same as asking for that subject alone
            assert rows == engine_.aggregate(metric, Window(s, start, end, inc_s, inc_e, granularity, dims))
    STATS.append(sum(1 for rows in expected.values() for r in rows if r[-1] is not None))


def test_the_differential_run_was_not_vacuous():
    """The seeded examples above compared many non-NULL values, several per example."""
    if len(STATS) < EXAMPLES:  # run alone or in part
        return
    assert sum(STATS) > 2 * EXAMPLES and sum(1 for n in STATS if n >= 3) > EXAMPLES // 4


# --- hand-checked ----------------------------------------------------------------------------------

WEIGHTED = Metric(code="gb", aggregation="weighted_sum", event_name="storage", value="gb")
TOKENS = Metric(code="tokens", aggregation="sum", event_name="llm", value="tokens")


def _ev(i, subject, name, ts, **props):
    return {"event_id": f"h{i}", "subject_id": subject, "event_name": name, "timestamp": ts, "properties": props}


HAND = [
    # a: +10 at 02:00, −4 at 06:00 → level 0 for 2 h, 10 for 4 h, 6 for 4 h: (0·2 + 10·4 + 6·4) / 10 = 6.4
    _ev(1, "a", "storage", T0 + 2 * H, gb=10), _ev(2, "a", "storage", T0 + 6 * H, gb="-4"),
    # b: +5 at 00:00 for the whole period → 5; tokens 1.5 + 2 (the one at 10:00 is past the end)
    _ev(3, "b", "storage", T0, gb=5), _ev(4, "b", "llm", T0 + H, tokens="1.5"), _ev(5, "b", "llm", T0 + 9 * H, tokens=2),
    _ev(6, "b", "llm", T0 + 10 * H, tokens=100),
    # c: only tokens, and one event before the period (not recurring: ignored)
    _ev(7, "c", "llm", T0 + 3 * H, tokens=7), _ev(8, "c", "llm", T0 - 1, tokens=1000),
]
PERIOD = Period(T0, T0 + 10 * H)


def test_hand_checked_invoice_run(engine):  # noqa: F811
    engine.ingest(HAND)
    weighted = engine.summaries(WEIGHTED, PERIOD)
    assert {s: [r.value for r in rows] for s, rows in weighted.items()} == {"a": ["6.4"], "b": ["5"]}
    tokens = engine.summaries(TOKENS, PERIOD)
    assert {s: [r.value for r in rows] for s, rows in tokens.items()} == {"b": ["3.5"], "c": ["7"]}
    # listed: the subject without storage events gets the single NULL row, as `summary` gives it
    listed = engine.summaries(WEIGHTED, PERIOD, subject_ids=["c", "a"])
    assert list(listed) == ["c", "a"] and [r.value for r in listed["c"]] == [None]
    for s in ("a", "b", "c"):
        assert engine.summaries(WEIGHTED, PERIOD, [s])[s] == engine.summary(WEIGHTED, s, PERIOD)
    # hour buckets for a: [02:00, 03:00) = 10, [06:00, 07:00) = 6 (the reference's worked example),
    # and the carried level in the hours between and after (SPEC §5): 10 in 3–5, 6 in 7–9
    hourly = engine.summaries(WEIGHTED, PERIOD, granularity="hour")
    assert [(r.period.start, r.value) for r in hourly["a"]] == (
        [(T0 + h * H, "10") for h in range(2, 6)] + [(T0 + h * H, "6") for h in range(6, 10)])
    # b: +5 at 00:00 → 5 in every hour
    assert [(r.period.start, r.value) for r in hourly["b"]] == [(T0 + h * H, "5") for h in range(10)]
    assert engine.summaries(WEIGHTED, PERIOD, ["c"], granularity="hour") == {"c": []}
    row = tokens["b"][0].to_dict()
    assert row["subject_id"] == "b" and row["pricing_metric_id"] == "tokens" and row["value"] == "3.5"
    assert row["id"] == engine.summary(TOKENS, "b", PERIOD)[0].id


def test_recurring_subject_with_only_earlier_events_is_listed_when_it_has_a_row(engine):  # noqa: F811
    engine.ingest(HAND)
    recurring = Metric(code="t", aggregation="sum", event_name="llm", value="tokens", recurring=True)
    got = engine.summaries(recurring, Period(T0 + 11 * H, T0 + 12 * H))
    # b's 1.5 + 2 + 100 and c's 1000 + 7 carry over; no event inside the period
    assert {s: [r.value for r in rows] for s, rows in got.items()} == {"b": ["103.5"], "c": ["1007"]}
    # with buckets too: a carried total creates a row (SPEC §5), here the one hour bucket
    got = engine.summaries(recurring, Period(T0 + 11 * H, T0 + 12 * H), granularity="hour")
    assert {s: [r.value for r in rows] for s, rows in got.items()} == {"b": ["103.5"], "c": ["1007"]}


def test_dimensions_and_unique_count_per_subject(engine):  # noqa: F811
    evs = [_ev(i, s, "llm", T0 + i * H, model=m, tokens=i)
           for i, (s, m) in enumerate([("a", "x"), ("a", "y"), ("a", "x"), ("b", "y"), ("b", None)])]
    engine.ingest(evs)
    by_model = engine.summaries(TOKENS, Period(T0, T0 + DAY), dimensions=["model"])
    assert {s: [(dict(r.dimension_coordinates)["model"], r.value) for r in rows] for s, rows in by_model.items()} == {
        "a": [("x", "2"), ("y", "1")],  # 0 + 2, 1
        "b": [("y", "3"), (None, "4")],  # NULL coordinates last
    }
    for s in ("a", "b"):  # whole rows, ids included (the many-subject path builds ids its own way)
        assert by_model[s] == engine.summary(TOKENS, s, Period(T0, T0 + DAY), dimensions=["model"])
    models = Metric(code="models", aggregation="unique_count", event_name="llm", value="model")
    got = engine.summaries(models, Period(T0, T0 + DAY), ["a", "b", "z"])
    assert {s: [r.value for r in rows] for s, rows in got.items()} == {"a": ["2"], "b": ["1"], "z": [None]}


# --- rules, safety, one query ------------------------------------------------------------------------


def test_subject_id_arguments(engine):  # noqa: F811
    engine.ingest(HAND)
    assert engine.summaries(TOKENS, PERIOD, subject_ids=[]) == {}
    with pytest.raises(InvalidSpec):
        engine.summaries(TOKENS, PERIOD, subject_ids="b")
    with pytest.raises(InvalidSpec):
        engine.summaries(TOKENS, PERIOD, subject_ids=["b", ""])
    with pytest.raises(InvalidSpec):
        engine.plan(TOKENS, Window(None, T0, T0 + H))  # a one-subject plan needs its subject


HOSTILE = ["o'brien", "x') OR (1=1", "back\\slash", "%", "'; DROP TABLE events; --", "ünï €", "a\"b"]


def test_hostile_subject_ids_are_bound_values(engine):  # noqa: F811
    engine.ingest([_ev(100 + i, s, "llm", T0 + H, tokens=i + 1) for i, s in enumerate(HOSTILE)])
    every = engine.summaries(TOKENS, PERIOD)
    assert {s: rows[0].value for s, rows in every.items()} == {s: str(i + 1) for i, s in enumerate(HOSTILE)}
    some = engine.summaries(TOKENS, PERIOD, [HOSTILE[1], "a' OR '1'='1", HOSTILE[0]])
    assert {s: rows[0].value for s, rows in some.items()} == {HOSTILE[1]: "2", "a' OR '1'='1": None, HOSTILE[0]: "1"}
    assert engine.count_events() == len(HOSTILE)


def test_one_query_for_every_subject_and_a_few_for_a_very_long_list(engine, monkeypatch):  # noqa: F811
    engine.ingest([_ev(i, f"s{i % 200:03d}", "llm", T0 + i, tokens=i) for i in range(600)])
    calls: list[str] = []
    real = engine._query
    monkeypatch.setattr(engine, "_query", lambda sql, params: calls.append(sql) or real(sql, params))
    every = engine.summaries(TOKENS, PERIOD)
    assert len(calls) == 1 and len(every) == 200
    # subject sNNN holds i = N, N + 200, N + 400: 3N + 600
    assert all(rows[0].value == str(3 * int(s[1:]) + 600) for s, rows in every.items())
    calls.clear()
    monkeypatch.setattr(engine_base, "SUBJECTS_PER_QUERY", 7)
    listed = [f"s{n:03d}" for n in range(20)]
    assert engine.summaries(TOKENS, PERIOD, listed) == {s: every[s] for s in listed}
    assert len(calls) == 3  # 7 + 7 + 6


def test_an_overflow_in_any_subject_fails_the_whole_run(engine):  # noqa: F811
    engine.ingest([_ev(1, "a", "llm", T0, tokens=1), _ev(2, "b", "llm", T0, tokens="6" + "0" * 25),
                   _ev(3, "b", "llm", T0 + 1, tokens="6" + "0" * 25)])
    with pytest.raises(NumericOverflow):
        engine.summaries(TOKENS, PERIOD)  # b's sum reaches 1.2·10^26
    assert engine.summary(TOKENS, "a", PERIOD)[0].value == "1"


# --- the cheap cut-result check ------------------------------------------------------------------------


def test_an_ungrouped_plan_needs_exactly_one_row(engine):  # noqa: F811
    plan = engine.plan(TOKENS, Window("a", T0, T0 + H))
    assert " OVER " not in plan.sql().upper()  # the row-count window is gone from plain plans
    engine.ingest(HAND)
    rows = engine._query(plan.sql(), plan.params)
    assert len(rows) == 1
    for cut in ([], rows * 2):
        with pytest.raises(TransportError):
            plan.finish(cut)
    many = engine.plan_subjects(TOKENS, Window(None, T0, T0 + H))
    assert " OVER " not in many.sql().upper() and "GROUP BY subject_id" in many.sql()


# --- weighted_sum: the narrow DECIMAL form and its wide fallback ------------------------------------


def test_weighted_sum_beyond_the_narrow_range_is_still_exact(engine):  # noqa: F811
    """Level 10^20 held for 10 h: Σ level·ms = 3.6·10^27 passes DECIMAL(38,12)'s 10^26, so DuckDB's
    narrow form overflows and the wide form answers; the level itself is in range."""
    big = "100000000000000000000"  # 10^20
    evs = [_ev(1, "w", "storage", T0, gb=big), _ev(2, "w", "storage", T0 + 5 * H, gb="-" + big),
           _ev(3, "v", "storage", T0 + 5 * H, gb="2")]
    engine.ingest(evs)
    # w: 10^20 for 5 h of 10 → 5·10^19; v: 2 for the last 5 h → 1
    expected = {"v": ["1"], "w": ["50000000000000000000"]}
    got = engine.summaries(WEIGHTED, PERIOD)
    assert {s: [r.value for r in rows] for s, rows in got.items()} == expected
    assert [r.value for r in engine.summary(WEIGHTED, "w", PERIOD)] == expected["w"]
    many = engine.aggregate_many([WEIGHTED, Metric(code="n", aggregation="count", event_name="storage")], Window("w", PERIOD.start, PERIOD.end))
    assert [r.value for r in many[0]] == [Decimal(expected["w"][0])] and [r.value for r in many[1]] == [2]
    ref = reference_rows(evs, WEIGHTED, Window("w", PERIOD.start, PERIOD.end, granularity="hour"))
    assert [(r.bucket_start_ms, r.value) for r in engine.aggregate(WEIGHTED, Window("w", PERIOD.start, PERIOD.end, granularity="hour"))] == \
        [(r.bucket_start_ms, r.value) for r in ref]
    if engine.dialect == "duckdb":  # the narrow form is what runs first, and it has no INT128 split
        narrow, wide = engine.plan(WEIGHTED, Window("w", T0, T0 + H)), engine.plan(WEIGHTED, Window("w", T0, T0 + H), wide=True)
        # narrow: Σv, Σ v·Δt, Σ|v| (the level bound); wide: the three sums split in two (still
        # bound-checked); levels: Σv and Σ v·Δt split, and the greatest and least level (a window)
        levels = engine.plan(WEIGHTED, Window("w", T0, T0 + H), wide=2)
        assert "INT128" not in narrow.sql().upper() and narrow.template.narrow and narrow.template.n_aggs == (3,)
        assert "INT128" in wide.sql().upper() and wide.template.narrow and wide.template.n_aggs == (6,)
        assert " OVER " in levels.sql().upper() and " OVER " not in wide.sql().upper()
        assert not levels.template.narrow and levels.template.n_aggs == (6,)


def test_a_weighted_sum_level_out_of_range_still_fails(engine):  # noqa: F811
    engine.ingest([_ev(1, "w", "storage", T0, gb="6" + "0" * 25), _ev(2, "w", "storage", T0 + H, gb="6" + "0" * 25)])
    with pytest.raises(NumericOverflow):
        engine.summary(WEIGHTED, "w", PERIOD)  # the level reaches 1.2·10^26
    with pytest.raises(NumericOverflow):
        engine.summaries(WEIGHTED, PERIOD)


def test_the_fast_row_ids_are_summary_ids_byte_for_byte():
    """`summaries` builds ids without re-encoding the metric per row; they must equal
    `summary_id` for any subject, bounds, flags, dimensions and coordinates (escapes included)."""
    from meterql.engines.base import _RowMaker, summary_id
    from meterql.plan import Row as AggRow

    rng = random.Random(5)
    metric = Metric(code="c\"ü", aggregation="sum", event_name="llm", value="tokens", filter="region = 'eu'")
    for _ in range(500):
        dims = rng.choice([(), ("g",), ("a", "ü\"x\\")])
        start = rng.randint(-10**12, 5 * 10**12)
        row = AggRow(start, start + rng.randint(0, 10**9), tuple(rng.choice([None, "x", "ü", "1.5", '"', "\\n", "\n"])
                                                                  for _ in dims),
                     Decimal("1.5"), rng.random() < 0.5, rng.random() < 0.5)
        subject = rng.choice(["s", "ü€", 'a"b\\', "x\n", "\u2028"])
        assert _RowMaker(metric, dims).rows(subject, [row])[0].id == summary_id(metric, subject, row, dims)
