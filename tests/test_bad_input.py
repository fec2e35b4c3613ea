"""Bad input at the library's public boundary (issue 9, item 6): every wrong argument type, every
wrong JSON type in a metric or price payload, ids that ingest would refuse, out-of-range amount
texts — each is a `MeterqlError` naming the problem (`InvalidSpec` / `ExpressionError`), never a
TypeError, AttributeError, decimal signal or engine error. Both engines."""

from __future__ import annotations

from meterql.plan import Window
import copy
import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest

import meterql
from meterql import ExpressionError, InvalidSpec, LimitExceeded, MeterqlError, Metric, Price
from meterql.price import evaluate_preview, evaluate_price_request, explain_price

from engine_fixtures import both  # noqa: F401

T0 = 1735689600000  # 2025-01-01T00:00:00Z
DAY = 86_400_000
PERIOD = {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}
NOW = "2025-01-03T00:00:00Z"
METRIC = {"code": "m", "aggregation": "sum", "value": "v"}
PRICE = {"metric": METRIC, "model": "unit", "unit_amount": "2"}

# One value of every JSON type (and a few Python ones a caller may pass by mistake).
WRONG = [None, 0, 5, -1.5, True, False, "", "x", [], ["day"], [["s"]], {}, {"a": 1}, b"x", object()]
BAD_IDS = ["\ud800", "a\udfffb", "a\x00b", "s" * 1025, ""]


def _meterql_or_ok(call, *args, **kwargs):
    """Run `call`; only a MeterqlError may come out (the test fails on any other exception)."""
    try:
        call(*args, **kwargs)
    except MeterqlError:
        pass


# --- Metric.from_dict: every field × every wrong JSON type ---------------------------------------

METRIC_BASES = [
    {"code": "m", "aggregation": "sum", "value": "v", "event_name": "call", "filter": "x > 1",
     "rounding": "round", "rounding_precision": 2, "recurring": False},
    {"code": "m", "aggregation_type": "sum_agg", "field_name": "v", "rounding_function": "ceil",
     "rounding_precision": 0, "recurring": True, "weighted_interval": "seconds"},
    {"code": "m", "aggregation_type": "weighted_sum_agg", "expression": "v * 2", "weighted_interval": "seconds"},
]
# field -> the JSON type it takes (None is "not given" for every field)
METRIC_FIELDS = {
    "code": str, "aggregation": str, "aggregation_type": str, "event_name": str, "value": str,
    "filter": str, "expression": str, "field_name": str, "rounding": str, "rounding_function": str,
    "weighted_interval": str, "rounding_precision": int, "recurring": bool,
}


@pytest.mark.parametrize("base", METRIC_BASES, ids=["ours", "lago", "lago-expression"])
@pytest.mark.parametrize("field", sorted(METRIC_FIELDS))
def test_metric_from_dict_every_field_every_wrong_type(base, field):
    for value in WRONG:
        data = dict(base)
        data[field] = value
        takes = METRIC_FIELDS[field]
        right_type = value is None or (isinstance(value, takes) and (takes is bool or not isinstance(value, bool)))
        if right_type:
            _meterql_or_ok(Metric.from_dict, data)
            continue
        with pytest.raises(InvalidSpec, match=field):
            Metric.from_dict(data)


def test_metric_from_dict_issue_examples():
    with pytest.raises(InvalidSpec, match="aggregation must be a string, not a list"):
        Metric.from_dict({"code": "m", "aggregation": ["sum"], "value": "x"})
    with pytest.raises(InvalidSpec, match="aggregation_type must be a string, not an object"):
        Metric.from_dict({"code": "m", "aggregation_type": {"sum_agg": 1}, "value": "x"})
    with pytest.raises(InvalidSpec, match="rounding_precision must be an integer, not a boolean"):
        Metric.from_dict({"code": "m", "aggregation": "count", "rounding": "round", "rounding_precision": True})
    # constructed directly, the same fields are checked too
    for kwargs in ({"aggregation": ["sum"]}, {"aggregation": "sum", "value": "v", "rounding": ["round"]},
                   {"aggregation": {"a": 1}}):
        with pytest.raises(InvalidSpec):
            Metric(code="m", **kwargs)


@pytest.mark.parametrize("name", BAD_IDS[:4])
def test_metric_event_name_obeys_the_ingest_rule_for_ids(name):
    with pytest.raises(InvalidSpec, match="event_name"):
        Metric(code="m", aggregation="count", event_name=name)


# --- Price.from_dict: every leaf of every model's payload × every wrong type ----------------------

PRICE_BASES = [
    {"metric": METRIC, "model": "unit", "unit_amount": "2", "currency": "USD", "id": "p1", "name": "n",
     "external_price_id": "x"},
    {"metric": METRIC, "model": "package", "package_amount": "5", "package_size": "10"},
    {"metric": METRIC, "model": "tiered",
     "tiers": [{"first_unit": "0", "last_unit": "10", "unit_amount": "1"}, {"first_unit": "10", "last_unit": None, "unit_amount": "0.5"}]},
    {"metric": METRIC, "model": "bulk", "tiers": [{"maximum_units": "10", "unit_amount": "1"}, {"maximum_units": None, "unit_amount": "0.5"}]},
    {"metric": METRIC, "model": "matrix", "dimensions": ["region"], "default_unit_amount": "1",
     "matrix_values": [{"dimension_values": ["eu"], "unit_amount": "2"}]},
    {"billable_metric": {"code": "m", "aggregation_type": "count_agg"}, "model_type": "tiered",
     "tiered_config": {"tiers": [{"first_unit": 0, "last_unit": None, "unit_amount": "1"}]}},
]


def _paths(node, path=()):
    """Every (path) in a JSON payload: dict keys and list indices, containers and leaves."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,)
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i,)
            yield from _paths(v, path + (i,))


def _replaced(data, path, value):
    out = copy.deepcopy(data)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize("base", PRICE_BASES, ids=lambda b: b.get("model") or b.get("model_type"))
def test_price_from_dict_every_field_every_wrong_type(base):
    Price.from_dict(base)  # the base is valid
    amounts = ["1e999999999", "-1e999999999", "1e-999999999", "1e26", 10**5000, -(10**40), Decimal("1e999999999"),
               Decimal("NaN"), Decimal("-Infinity"), "0.0000000000001", 1e300]
    checked = 0
    for path in _paths(base):
        for value in WRONG + amounts:
            _meterql_or_ok(Price.from_dict, _replaced(base, path, value))
            checked += 1
    assert checked > 50


@pytest.mark.parametrize("text", ["1e999999999", "-1e999999999", "9e25000", 10**5000, Decimal("1e999999999"), "1E+26"],
                         ids=["1e999999999", "-1e999999999", "9e25000", "10**5000", "Decimal", "1E+26"])
def test_price_amount_out_of_range_is_invalid_spec(text):
    with pytest.raises(InvalidSpec, match="out of range"):
        Price.from_dict({**PRICE, "unit_amount": text})


@pytest.mark.parametrize("text", ["1e-999999999", "1e-13", "0.0000000000001", Decimal("1e-999999999")])
def test_price_amount_below_the_scale_is_refused_not_rounded_to_zero(text):
    with pytest.raises(InvalidSpec, match="fractional digits"):
        Price.from_dict({**PRICE, "unit_amount": text})


def test_price_amount_edges_that_are_valid():
    assert Price.from_dict({**PRICE, "unit_amount": "9.99999999999e25"}).model.unit_amount == Decimal("9.99999999999e25")
    assert Price.from_dict({**PRICE, "unit_amount": "1e-12"}).model.unit_amount == Decimal("0.000000000001")
    assert Price.from_dict({**PRICE, "unit_amount": "1.5000000000000000e0"}).model.unit_amount == Decimal("1.5")
    assert Price.from_dict({**PRICE, "unit_amount": "0e999999999"}).model.unit_amount == 0


# --- the expression verbs ------------------------------------------------------------------------


def test_api_verbs_never_raise_foreign_exceptions():
    for w in WRONG + ["\ud800"]:
        assert isinstance(meterql.check(w), list)
        assert isinstance(meterql.check("x", w), list)
        for call in (
            lambda: meterql.parse(w), lambda: meterql.parse("x", w), lambda: meterql.compile(w),
            lambda: meterql.compile("x", w), lambda: meterql.compile("x", "value", w), lambda: meterql.evaluate(w, {}),
            lambda: meterql.evaluate("x", w), lambda: meterql.evaluate("x", {}, w),
            lambda: meterql.evaluate("x + 1", {"properties": w}), lambda: meterql.evaluate("x + 1", {"timestamp": w}),
        ):
            _meterql_or_ok(call)
    with pytest.raises(InvalidSpec, match="an event is an object"):
        meterql.evaluate("x", None)
    with pytest.raises(InvalidSpec, match="unknown dialect"):
        meterql.compile("x", "value", "postgres")
    with pytest.raises(ExpressionError):
        meterql.compile(["x"], "value")


# --- the engines' public methods × wrong values (both engines) -----------------------------------


def _calls(engine):
    """Each public entry point with valid arguments, as (name, function, {argument: valid value})."""
    period = PERIOD
    return [
        ("summary", engine.summary,
         dict(metric=METRIC, subject_id="s", period=period, granularity="day", dimensions=["g"], timezone="UTC")),
        ("summaries", engine.summaries,
         dict(metric=METRIC, period=period, subject_ids=["s"], granularity="day", dimensions=["g"],
              timezone="Europe/Berlin")),
        ("aggregate(window)", engine.aggregate, dict(metric=METRIC, window=Window("s", T0, T0 + DAY))),
        ("explain", engine.explain,
         dict(metric=METRIC, subject_id="s", period=period, granularity="day", dimensions=["g"])),
        ("aggregate", lambda metric, **w: engine.aggregate(metric, Window(**w)),
         dict(metric=METRIC, subject_id="s", start_ms=T0, end_ms=T0 + DAY, inclusive_start=True, inclusive_end=False,
              granularity="day", dimensions=["g"], extra_filter="v > 0")),
        ("aggregate_many", lambda metrics, **w: engine.aggregate_many(metrics, Window(**w)),
         dict(metrics=[METRIC, {"code": "n", "aggregation": "count"}], subject_id="s", start_ms=T0, end_ms=T0 + DAY,
              inclusive_start=True, inclusive_end=False, granularity="day", dimensions=["g"], extra_filter="v > 0")),
        ("aggregate_subjects", lambda metric, **w: engine.aggregate_subjects(metric, Window(None, **w)),
         dict(metric=METRIC, start_ms=T0, end_ms=T0 + DAY, inclusive_start=True, inclusive_end=False,
              granularity="day", dimensions=["g"], extra_filter="v > 0", subject_ids=["s"])),
        ("evaluate_price", engine.evaluate_price,
         dict(price=PRICE, subject_id="s", timeframe_start=PERIOD["start"], timeframe_end=PERIOD["end"],
              filter="v > 0", grouping_keys=["g"], now=NOW, timezone="UTC")),
        ("evaluate_prices", engine.evaluate_prices,
         dict(prices=[PRICE], subject_id="s", timeframe_start=PERIOD["start"], timeframe_end=PERIOD["end"],
              filter="v > 0", grouping_keys=["g"], now=NOW)),
        ("explain_price", lambda **kw: explain_price(engine, **kw),
         dict(price=PRICE, subject_id="s", timeframe_start=PERIOD["start"], timeframe_end=PERIOD["end"],
              filter="v > 0", grouping_keys=["g"])),
        ("evaluate_price_request", lambda **kw: evaluate_price_request(engine, **kw),
         dict(price=PRICE, body={"customer_id": "s", "timeframe_start": PERIOD["start"],
                                 "timeframe_end": PERIOD["end"]}, now=NOW)),
        ("evaluate_preview", evaluate_preview,
         dict(price=PRICE, events=[{"event_id": "p", "subject_id": "s", "event_name": "call",
                                    "timestamp": T0 + 1, "properties": {"v": 1}}],
              timeframe_start=PERIOD["start"], timeframe_end=PERIOD["end"], filter=None, grouping_keys=[],
              subject_id="s")),
        ("ingest", engine.ingest, dict(events=[], batch_size=10, progress=None)),
    ]


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_engine_public_methods_every_argument_every_wrong_value(both, kind):  # noqa: F811
    engine = both[kind]
    engine.ingest([{"event_id": f"bi{i}", "subject_id": "s", "event_name": "call", "timestamp": T0 + i,
                    "properties": {"v": i, "g": "a"}} for i in range(3)])
    tried = 0
    for name, call, kwargs in _calls(engine):
        call(**kwargs)  # valid as given
        for arg in kwargs:
            for value in WRONG + BAD_IDS[:3]:
                try:
                    call(**{**kwargs, arg: value})
                except MeterqlError:
                    pass
                except Exception as exc:  # noqa: BLE001
                    pytest.fail(f"{kind} {name}({arg}={value!r}) raised {type(exc).__name__}: {exc}")
                tried += 1
    assert tried > 1000


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_the_issue_examples_are_invalid_spec(both, kind):  # noqa: F811
    e = both[kind]
    with pytest.raises(InvalidSpec, match="granularity"):
        e.summary(METRIC, "s", PERIOD, granularity=["day"])
    with pytest.raises(InvalidSpec, match=r"subject_ids\[0\] must be a string"):
        e.summaries(METRIC, PERIOD, subject_ids=[["s"]])
    with pytest.raises(InvalidSpec, match="events must be an iterable"):
        e.ingest(None)
    with pytest.raises(InvalidSpec, match="events must be an iterable"):
        e.ingest({"event_id": "x"})
    with pytest.raises(InvalidSpec, match="batch_size"):
        e.ingest([], batch_size=0)
    with pytest.raises(InvalidSpec, match="a period needs"):
        e.summary(METRIC, "s", 5)
    with pytest.raises(InvalidSpec, match="subject_id must be a string"):
        e.summary(METRIC, 5, PERIOD)
    with pytest.raises(InvalidSpec, match="filter must be an expression string"):
        e.evaluate_price(PRICE, "s", PERIOD["start"], PERIOD["end"], filter=5, now=NOW)
    with pytest.raises(InvalidSpec, match="not one string"):
        e.evaluate_price(PRICE, "s", PERIOD["start"], PERIOD["end"], grouping_keys="g", now=NOW)
    with pytest.raises(InvalidSpec, match="inclusive_start must be True or False"):
        e.aggregate(METRIC, Window("s", T0, T0 + DAY, 1))
    with pytest.raises(InvalidSpec, match="limits must be a PriceLimits"):
        e.evaluate_price(PRICE, "s", PERIOD["start"], PERIOD["end"], limits={"max_rows": 5}, now=NOW)
    # None for a list means an empty list
    assert len(e.summary(METRIC, "s", PERIOD, dimensions=None)) == 1
    assert len(e.evaluate_price(PRICE, "s", PERIOD["start"], PERIOD["end"], grouping_keys=None, now=NOW)) == 1


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
@pytest.mark.parametrize("bad", BAD_IDS[:4], ids=["surrogate", "inner-surrogate", "nul", "1025-chars"])
def test_query_time_subject_ids_obey_the_ingest_rule(both, kind, bad):  # noqa: F811
    """A lone surrogate reached the engine: EngineError on DuckDB, TransportError (retry!) on chdb."""
    e = both[kind]
    assert e.ingest([{"event_id": "x", "subject_id": bad, "event_name": "n", "timestamp": T0}]).rejected
    for call in (
        lambda: e.summary(METRIC, bad, PERIOD),
        lambda: e.aggregate(METRIC, Window(bad, T0, T0 + DAY)),
        lambda: e.explain(METRIC, bad, PERIOD),
        lambda: e.summaries(METRIC, PERIOD, subject_ids=["ok", bad]),
        lambda: e.aggregate_subjects(METRIC, Window(None, T0, T0 + DAY, subject_ids=[bad])),
        lambda: e.evaluate_price(PRICE, bad, PERIOD["start"], PERIOD["end"], now=NOW),
        lambda: e.summary({**METRIC, "event_name": bad}, "s", PERIOD),
    ):
        with pytest.raises(InvalidSpec):
            call()


# --- a second engine on the same DuckDB file -----------------------------------------------------


def test_two_engines_on_one_duckdb_file_share_the_database(tmp_path):
    url = f"duckdb:///{tmp_path}/shared.duckdb"
    a = meterql.connect(url)
    b = meterql.connect(url)  # was: _duckdb.InvalidInputException (locked configuration)
    try:
        a.ingest([{"event_id": "1", "subject_id": "s", "event_name": "n", "timestamp": T0, "properties": {"v": 2}}])
        b.ingest([{"event_id": "2", "subject_id": "s", "event_name": "n", "timestamp": T0 + 1, "properties": {"v": 3}},
                  {"event_id": "1", "subject_id": "s", "event_name": "n", "timestamp": T0, "properties": {"v": 99}}])
        assert a.count_events() == b.count_events() == 2
        assert a.summary(METRIC, "s", PERIOD)[0].value == b.summary(METRIC, "s", PERIOD)[0].value == "5"
        # a relative spelling of the same file is the same database
        with pytest.raises(InvalidSpec, match="already open"):
            meterql.connect(url, limits=meterql.QueryLimits(max_memory_usage=10**8))
        a.close()
        a.close()  # idempotent: does not release b's share twice
        assert b.count_events() == 2  # the database stays open for the other engine
        b.ingest([{"event_id": "3", "subject_id": "s", "event_name": "n", "timestamp": T0 + 2, "properties": {"v": 1}}])
    finally:
        b.close()
    # every engine closed: the file is free again, for this process and for another one
    script = textwrap.dedent(f"""
        import duckdb
        con = duckdb.connect({str(tmp_path / 'shared.duckdb')!r}, read_only=True)
        print(con.execute("SELECT count(*) FROM events").fetchone()[0])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "3", out.stderr
    c = meterql.connect(url)
    assert c.count_events() == 3
    c.close()
