"""No Python reprs in messages (issue 9, item 9).

Every message that reaches a user — a `MeterqlError`, an ingest rejection reason, CLI output —
shows a user's value JSON-style (`"x"`, `1.5`, `null`, `["a"]`) and names a type in plain words
(`a list`, `a number`, `text`), never as Python prints it (`'x'`, `Decimal('1.5')`, `None`,
`NoneType`, `<object at 0x…>`, `(1, 2)`). Representative bad inputs are driven through the public
API, on both engines where an engine is involved, and every message is checked for repr markers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from decimal import Decimal

import pytest

import meterql
from meterql import MeterqlError, Metric, Price
from meterql.errors import describe_type, show

from engine_fixtures import both  # noqa: F401

T0 = 1735689600000  # 2025-01-01T00:00:00Z
PERIOD = {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}
METRIC = {"code": "m", "aggregation": "sum", "value": "v"}

# What a Python repr leaves in text. A single-quoted value (not an apostrophe inside a word such
# as "Lago's"), Decimal(...), None/True/False as words, Python type names, <object ...>, a tuple.
REPR_MARKERS = [
    re.compile(r"(?<![\w])'[^'\n]*'(?![\w])"),
    re.compile(r"Decimal\("),
    re.compile(r"\b(not|got|of|is|value) (None|True|False)\b|^(None|True|False)\b"),  # as a shown value
    re.compile(r"NoneType|<class|<object|\bobject at 0x|\b(not|got|type) (str|int|float|list|dict|tuple|bool|bytes|set)\b"),
    re.compile(r"\(\s*['\"\w.]+\s*,\s*['\"\w.]*\s*\)"),  # (1, 2) / ('a',)
    re.compile(r"\\x[0-9a-f]{2}|\\U[0-9a-f]{8}"),  # Python-only escapes
]


def assert_clean(message: str) -> None:
    for marker in REPR_MARKERS:
        assert not marker.search(message), f"Python repr in message: {message}"
    # A \\uXXXX escape may appear only inside a JSON string (a lone surrogate shown safely).
    for m in re.finditer(r"\\u[0-9a-f]{4}", message):
        before = message[: m.start()]
        assert before.count('"') % 2 == 1, f"escape outside a JSON string: {message}"
    message.encode("utf-8")  # always printable: no lone surrogate in the text itself


def message_of(call, *args, **kwargs) -> str:
    with pytest.raises(MeterqlError) as e:
        call(*args, **kwargs)
    return str(e.value)


# --- the helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("x", '"x"'),
        ("it's", '"it\'s"'),
        ('a"b', '"a\\"b"'),
        ("a\ud800b", '"a\\ud800b"'),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (5, "5"),
        (Decimal("1.50"), "1.50"),
        (Decimal("NaN"), "NaN"),
        (Decimal("sNaN"), "NaN"),
        (float("-inf"), "-Infinity"),
        (1.5, "1.5"),
        (["a", 1, None], '["a",1,null]'),
        (("a", 1), '["a",1]'),
        ({"k": [True]}, '{"k":[true]}'),
        (10**1000, "an integer of 1,001 digits"),
        (10**999 - 1, "an integer of 999 digits"),
    ],
)
def test_show(value, shown):
    assert show(value) == shown


def test_show_cuts_long_values():
    assert show("x" * 1000) == '"' + "x" * 80 + '…"'
    long_list = show(list(range(10_000)))
    assert len(long_list) < 100 and long_list.endswith("…")


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "null"), (True, "a boolean"), (1, "a number"), (1.5, "a number"), (Decimal(1), "a number"),
     ("s", "text"), (b"s", "bytes"), ([1], "a list"), ((1,), "a list"), ({}, "an object"),
     (datetime(2024, 1, 1), "a datetime"), (object(), "an object"), ({1}, "a set")],
)
def test_describe_type(value, kind):
    assert describe_type(value) == kind


# --- ingest rejection reasons (both engines) ------------------------------------------------------

GOOD = {"event_id": "e", "subject_id": "s", "event_name": "n", "timestamp": T0}
BAD_EVENTS = [
    ({"event_id": "\ud800"}, "surrogate"),  # a lone surrogate id: no raw surrogate in the reason
    ({"event_id": ["a"]}, "a list"),
    ({"subject_id": 5}, "a number"),
    ({"timestamp": "yesterday"}, '"yesterday"'),
    ({"timestamp": "2024-02-30T00:00:00Z"}, '"2024-02-30T00:00:00Z"'),
    ({"timestamp": "2024-01-01T00:00:00"}, "no time zone"),
    ({"timestamp": "it's"}, '"it\'s"'),
    ({"timestamp": 1.5}, "1.5"),
    ({"timestamp": Decimal("1.5")}, "1.5"),
    ({"timestamp": -10**30}, "outside"),
    ({"timestamp": datetime(2024, 1, 1)}, '"2024-01-01T00:00:00"'),
    ({"timestamp": None}, "timestamp is missing"),
    ({"timestamp": ["2024"]}, "a list"),
    ({"properties": '{"v": 1, "v": 2}'}, 'the key "v" twice'),
    ({"properties": [1]}, "a list"),
    ({"properties": {"a": object()}}, "an object"),
    ({"properties": {"a": {1, 2}}}, "a set"),
    ({"properties": {"k\ud800": 1}}, "surrogate"),
    ({"properties": {"a": [1]}}, "array or object"),
    ({"properties": {1: "x"}}, "property key 1 is not a string"),
]


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_ingest_reasons_have_no_reprs(kind, both):  # noqa: F811
    events = [{**GOOD, "event_id": f"m{i}", **over} for i, (over, _) in enumerate(BAD_EVENTS)]
    report = both[kind].ingest(events)
    assert report.inserted == 0
    reasons = dict(report.rejected)
    assert len(reasons) == len(BAD_EVENTS)
    for (index, reason), (_, fragment) in zip(sorted(reasons.items()), BAD_EVENTS):
        assert fragment in reason, (index, reason)
        assert_clean(reason)


# --- metric and price payloads --------------------------------------------------------------------

BAD_METRICS = [
    {"code": None, "aggregation": "sum", "value": "v"},
    {"code": "", "aggregation": "sum", "value": "v"},
    {"code": ["m"], "aggregation": "sum", "value": "v"},
    {"code": "it's", "aggregation": "summ", "value": "v"},
    {"code": "m", "aggregation": ["sum"], "value": "v"},
    {"code": "m", "aggregation": "sum", "value": "v", "rounding": "up"},
    {"code": "m", "aggregation": "sum", "value": "v", "rounding_precision": 10**500},
    {"code": "m", "aggregation": "sum", "value": "v", "rounding_precision": "2"},
    {"code": "m", "aggregation": "sum", "value": "v", "recurring": "yes"},
    {"code": "m", "aggregation": "sum", "value": 5},
    {"code": "m", "aggregation": "sum", "value": None},
    {"code": "m", "aggregation": "sum", "value": "v", "event_name": "a\ud800"},
    {"code": "m", "aggregation_type": "sum_agg", "field_name": "v", "weighted_interval": "days"},
    {"code": "m", "aggregation_type": "nope", "field_name": "v"},
    {"code": "m", "field_name": "v"},
    {"code": "m", "aggregation_type": "sum_agg", "field_name": "v", "value": "v"},
    {"code": "m", "aggregation": "sum", "value": "v", "rounding": "round", "rounding_function": "ceil"},
    {"code": "m", "aggregation": "sum", "aggregation_type": "sum_agg", "value": "v"},
    [("code", "m")],
    None,
]


@pytest.mark.parametrize("payload", BAD_METRICS)
def test_metric_messages_have_no_reprs(payload):
    assert_clean(message_of(Metric.from_dict, payload))


def test_metric_message_quotes_the_code_as_json():
    message = message_of(Metric.from_dict, {"code": "it's", "aggregation": "summ", "value": "v"})
    assert message.startswith('metric "it\'s": unknown aggregation "summ"'), message


BAD_PRICES = [
    {"metric": METRIC, "model": "unit", "unit_amount": 0.25},
    {"metric": METRIC, "model": "unit", "unit_amount": "abc"},
    {"metric": METRIC, "model": "unit", "unit_amount": Decimal("NaN")},
    {"metric": METRIC, "model": "unit", "unit_amount": 10**400},
    {"metric": METRIC, "model": "unit", "unit_amount": "1e30"},
    {"metric": METRIC, "model": "unit", "unit_amount": None},
    {"metric": METRIC, "model": "unit", "unit_amount": ["1"]},
    {"metric": METRIC, "model": "unit", "unit_amount": "0.0000000000001"},
    {"metric": METRIC, "model": "unit", "unit_amount": "-1"},
    {"metric": METRIC, "model": "fancy"},
    {"metric": METRIC, "model": ["unit"]},
    {"metric": METRIC},
    {"metric": METRIC, "model": "unit", "model_type": "package", "unit_amount": "1"},
    {"metric": METRIC, "model": "tiered", "tiers": "x"},
    {"metric": METRIC, "model_type": "unit", "unit_config": "1"},
    {"metric": METRIC, "billable_metric": METRIC, "model": "unit", "unit_amount": "1"},
]


@pytest.mark.parametrize("payload", BAD_PRICES)
def test_price_messages_have_no_reprs(payload):
    assert_clean(message_of(Price.from_dict, payload))


def test_float_amount_message_suggests_a_json_string():
    message = message_of(Price.from_dict, {"metric": METRIC, "model": "unit", "unit_amount": 0.25})
    assert '(0.25); pass a string such as "0.25"' in message, message


# --- engine methods with bad arguments (both engines) ---------------------------------------------

BAD_CALLS = [
    lambda e: e.summary(METRIC, "s", PERIOD, granularity="year"),
    lambda e: e.summary(METRIC, "s", PERIOD, granularity=["day"]),
    lambda e: e.summary(METRIC, "s", PERIOD, granularity=None, dimensions="a"),
    lambda e: e.summary(METRIC, "s", PERIOD, dimensions=[5]),
    lambda e: e.summary(METRIC, None, PERIOD),
    lambda e: e.summary(METRIC, "\ud800", PERIOD),
    lambda e: e.summary(METRIC, "s", {"start": "yesterday", "end": "2025-01-02T00:00:00Z"}),
    lambda e: e.summary(METRIC, "s", {"start": datetime(2025, 1, 1), "end": "2025-01-02T00:00:00Z"}),
    lambda e: e.summary(METRIC, "s", 5),
    lambda e: e.summary({"code": "m", "aggregation": "nope"}, "s", PERIOD),
    lambda e: e.summaries([METRIC], ("s",), PERIOD),
    lambda e: e.ingest(None),
    lambda e: e.ingest([], batch_size=0),
    lambda e: e.ingest([], batch_size="10"),
    lambda e: e.ingest([], progress=5),
    lambda e: e.evaluate_price({"metric": METRIC, "model": "unit", "unit_amount": Decimal("-1")}, "s",
                               "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
    lambda e: e.evaluate_price(5, "s", "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
]


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
@pytest.mark.parametrize("call", range(len(BAD_CALLS)))
def test_engine_messages_have_no_reprs(kind, call, both):  # noqa: F811
    assert_clean(message_of(BAD_CALLS[call], both[kind]))


@pytest.mark.parametrize(
    "call",
    [
        lambda: meterql.connect(5),
        lambda: meterql.connect("postgres://x"),
        lambda: meterql.connect("duckdb://", limits={"max_rows": 1}),
        lambda: meterql.QueryLimits(max_rows=0),
        lambda: meterql.QueryLimits(max_rows="10"),
        lambda: meterql.QueryLimits(max_execution_time=None, max_rows=Decimal("1.5")),
        lambda: meterql.compile("1", "value", dialect="postgres"),
        lambda: meterql.compile("1", "value", dialect=None),
        lambda: meterql.evaluate("1", ["not", "an", "event"]),
        lambda: meterql.parse(None),
    ],
)
def test_api_messages_have_no_reprs(call):
    assert_clean(message_of(call))


# --- CLI output -----------------------------------------------------------------------------------


def test_cli_ingest_output_has_no_reprs(tmp_path):
    lines = [
        {**GOOD, "event_id": "c1", "timestamp": "yesterday"},
        {**GOOD, "event_id": "c2", "timestamp": 1.5},
        {**GOOD, "event_id": "c3", "properties": {"v": [1]}},
        {**GOOD, "event_id": "c4", "subject_id": None},
        {**GOOD, "event_id": "c5", "subject_id": ["s"]},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "meterql.cli", "ingest", "--db", f"duckdb:///{tmp_path / 'db.duckdb'}", str(path)],
        capture_output=True, text=True, encoding="utf-8", timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(__import__("pathlib").Path(meterql.__file__).parents[1])},
    )
    text = out.stdout + out.stderr
    assert '"yesterday"' in text and "a list" in text, text
    for line in text.splitlines():
        assert_clean(line)
