"""Issue 9 item 2 (SPEC §4): a metric's value must be a NUMBER (or untyped, read as a number) for
every aggregation but `count` (ignores it) and `unique_count` (any type). A string or boolean root
used to be accepted, then DuckDB raised an EngineError, chdb returned a number and the reference
an AttributeError. Now it is an ExpressionError (E304) when the metric — or a price on it — is
built, and the numeric and untyped roots keep working, equal to the reference on both engines."""

from __future__ import annotations

from meterql.plan import Window
import pytest

from meterql import Metric, Price
from meterql.diagnostics import ExpressionError
from meterql.metric import Period
from meterql.numbers import canonical
from meterql.reference import reference_rows

from engine_fixtures import both  # noqa: F401 — fixture

NEEDS_A_NUMBER = ["sum", "min", "max", "avg", "latest", "weighted_sum"]
PERIOD = {"start": "2023-11-14T00:00:00Z", "end": "2023-11-16T00:00:00Z"}

# value text → the type the diagnostic must name
WRONG = {
    "concat(a, b)": "string",
    "event.code": "string",
    "lower(name)": "string",
    "to_string(a)": "string",
    "'12'": "string",
    "x > 1": "boolean",
    "flag AND x > 1": "boolean",
    "name LIKE 'a%'": "boolean",
    "x IS NULL": "boolean",
    "true": "boolean",
    "if(flag, 'a', 'b')": "string",
    "coalesce(name, 'none')": "string",
    "CASE WHEN x > 1 THEN 'big' END": "string",
}


@pytest.mark.parametrize("aggregation", NEEDS_A_NUMBER)
@pytest.mark.parametrize("text", list(WRONG))
def test_a_string_or_boolean_value_is_refused_when_the_metric_is_built(aggregation, text):
    with pytest.raises(ExpressionError) as info:
        Metric.from_dict({"code": "m", "aggregation": aggregation, "value": text})
    (d,) = info.value.diagnostics
    assert d.code == "E304"
    assert f"`{aggregation}` metric must be a number" in d.message
    assert f"is a {WRONG[text]}" in d.message
    assert d.span == (0, len(text)) and d.label == f"this is a {WRONG[text]}"
    assert "E304" in str(info.value) and "^" in str(info.value)


def test_lago_payloads_and_prices_follow_the_same_rule():
    with pytest.raises(ExpressionError):
        Metric.from_dict({"code": "m", "aggregation_type": "max_agg", "expression": "concat(a, 'x')"})
    with pytest.raises(ExpressionError):
        Price.from_dict({"metric": {"code": "m", "aggregation": "sum", "value": "x > 1"},
                         "model": "unit", "unit_amount": "1"})
    with pytest.raises(ExpressionError):
        Metric(code="m", aggregation="latest", value="event.code")  # direct construction too


def test_count_ignores_the_value_and_unique_count_takes_any_type():
    assert Metric.from_dict({"code": "m", "aggregation": "count", "value": "concat(a, b)"})
    for text in WRONG:
        assert Metric.from_dict({"code": "m", "aggregation": "unique_count", "value": text})


# --- what still works, on both engines, equal to the reference ----------------------------------------

NUMERIC = ["x", "if(flag, 1, 2)", "coalesce(x, 0)", "CASE WHEN x > 3 THEN 1 END", "CASE WHEN flag THEN x ELSE 0.5 END",
           "to_number(name)", "length(name)", "greatest(x, 4)", "null", "round(x / 3, 2)", "\"x\"", "event.timestamp"]


def _events():
    return [{"event_id": f"vt_{i}", "subject_id": "vt_subject", "event_name": "vt_event",
             "timestamp": 1_700_000_000_000 + 60_000 * i,
             "properties": {"x": str(2 + i), "flag": i % 2 == 0, "name": ["5", "abc", "7.5"][i], "a": "p", "b": "q"}}
            for i in range(3)]


@pytest.fixture(scope="module")
def loaded(both):  # noqa: F811
    events = _events()
    for engine in both.values():
        assert engine.ingest(events).inserted == len(events)
    return both, events


@pytest.mark.parametrize("aggregation", NEEDS_A_NUMBER)
@pytest.mark.parametrize("text", NUMERIC)
def test_numeric_and_untyped_values_still_work_on_both_engines(loaded, aggregation, text):
    engines, events = loaded
    metric = Metric.from_dict({"code": "m", "aggregation": aggregation, "event_name": "vt_event", "value": text})
    p = Period.from_dict(PERIOD)
    expected = [None if r.value is None else canonical(r.value)
                for r in reference_rows(events, metric, Window("vt_subject", p.start, p.end))]
    for name, engine in engines.items():
        got = [r.value for r in engine.summary(metric, "vt_subject", PERIOD)]
        assert got == expected, (name, aggregation, text)


def test_string_values_of_unique_count_work_on_both_engines(loaded):
    engines, events = loaded
    for text in ("concat(a, b)", "x > 2", "name"):
        metric = Metric.from_dict({"code": "m", "aggregation": "unique_count", "event_name": "vt_event", "value": text})
        p = Period.from_dict(PERIOD)
        expected = [canonical(r.value) for r in reference_rows(events, metric, Window("vt_subject", p.start, p.end))]
        for engine in engines.values():
            assert [r.value for r in engine.summary(metric, "vt_subject", PERIOD)] == expected
