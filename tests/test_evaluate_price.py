"""Price evaluation (SPEC §6, issue "Price evaluation") on both real engines and on supplied
events. Expected quantities and amounts are worked out by hand in the comments; the generated
cases hold DuckDB and ClickHouse to the Decimal reference (`evaluate_preview`), row for row."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from engine_fixtures import ENGINES, dispose, new_engine

import meterql
from meterql import cli
from meterql.errors import InvalidSpec, LimitExceeded
from meterql.price import (
    Price,
    PriceLimits,
    evaluate_preview,
    evaluate_price,
    evaluate_price_request,
    explain_price,
    price_response,
    prices_response,
)

START = "2026-05-01T00:00:00Z"
END = "2026-06-01T00:00:00Z"
NOW = "2026-06-02T00:00:00Z"  # pins the lookback clock: START is 32 days before it
METRIC = {"code": "tokens", "aggregation": "sum", "event_name": "llm_call", "value": "tokens"}


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()) * 1000


def ev(i, ts, subject="cust_1", name="llm_call", **props):
    return {"event_id": f"e{i}", "subject_id": subject, "event_name": name, "timestamp": ts, "properties": props}


EVENTS = [
    ev(1, "2026-05-01T10:15:00Z", region="eu", model="gpt", tokens=4),
    ev(2, "2026-05-01T10:45:00Z", region="eu", model="claude", tokens=6),
    ev(3, "2026-05-01T11:05:00Z", region="us", model="gpt", tokens=10),
    ev(4, "2026-05-02T09:00:00Z", region="us", model="gpt", tokens="2.5"),
    ev(5, "2026-05-02T09:30:00Z", model="gpt", tokens=1),  # no region: NULL group
    ev(6, "2026-05-01T00:00:00Z", region="eu", model="gpt", tokens=Decimal("0.5")),  # == start: in
    ev(7, "2026-06-01T00:00:00Z", region="eu", model="gpt", tokens=700),  # == end: out
    ev(8, "2026-05-03T00:00:00Z", subject="cust_2", region="eu", model="gpt", tokens=1000),  # other subject
    ev(9, "2026-05-03T00:00:00Z", name="other", region="eu", model="gpt", tokens=500),  # other event name
    ev(10, "2026-04-30T23:59:59.999Z", region="eu", model="gpt", tokens=300),  # just before start
    ev(1, "2026-05-05T00:00:00Z", region="us", model="gpt", tokens=9999),  # duplicate id: ignored
]
# cust_1's llm_call events in [START, END): tokens 4 + 6 + 10 + 2.5 + 1 + 0.5 = 24
# by region: eu 4 + 6 + 0.5 = 10.5; us 10 + 2.5 = 12.5; NULL 1


def price(model: str, **fields) -> Price:
    return Price.from_dict({"metric": METRIC, "model": model, **fields})


UNIT = price("unit", unit_amount="0.1")
PACKAGE = price("package", package_amount="3", package_size=5)
TIERED = price("tiered", tiers=[{"first_unit": 0, "last_unit": 10, "unit_amount": "1"},
                                {"first_unit": 10, "last_unit": None, "unit_amount": "0.5"}])
BULK = price("bulk", tiers=[{"maximum_units": "10.5", "unit_amount": "1"}, {"unit_amount": "0.5"}])
MATRIX = price("matrix", dimensions=["region"], default_unit_amount="0.1",
               matrix_values=[{"dimension_values": ["eu"], "unit_amount": "2"},
                              {"dimension_values": ["us"], "unit_amount": "1"}])


@pytest.fixture(scope="module")
def engines():
    made = {k: new_engine(k) for k in ENGINES}
    for e in made.values():
        report = e.ingest(EVENTS)
        assert report.inserted == 10 and report.duplicates == 1
    yield made
    for e in made.values():
        dispose(e)


def table(rows):
    return [(r.to_dict()["grouping_values"], r.to_dict()["quantity"], r.to_dict()["amount"]) for r in rows]


CASES = [
    # (price, filter, grouping keys, expected rows: grouping values, quantity, amount)
    (UNIT, None, (), [([], "24", "2.4")]),  # 24 × 0.1
    (UNIT, None, ("region",), [(["eu"], "10.5", "1.05"), (["us"], "12.5", "1.25"), ([None], "1", "0.1")]),
    (UNIT, "model = 'gpt'", (), [([], "18", "1.8")]),  # 24 − 6 (claude)
    (UNIT, "model = 'nope'", (), [([], "0", "0")]),  # zero usage without keys: one zero row
    (UNIT, "model = 'nope'", ("region",), []),  # zero usage with keys: no groups
    # package of 5 for 3: eu 10.5 → 3 packages = 9; us 12.5 → 3 = 9; NULL 1 → 1 = 3
    (PACKAGE, None, ("region",), [(["eu"], "10.5", "9"), (["us"], "12.5", "9"), ([None], "1", "3")]),
    (PACKAGE, None, (), [([], "24", "15")]),  # ceil(24 / 5) = 5 packages × 3
    # graduated (0,10] @ 1 then @ 0.5: eu 10 + 0.25; us 10 + 1.25; NULL 1
    (TIERED, None, ("region",), [(["eu"], "10.5", "10.25"), (["us"], "12.5", "11.25"), ([None], "1", "1")]),
    (TIERED, "region = 'eu' AND model = 'gpt'", (), [([], "4.5", "4.5")]),  # 4 + 0.5, all in tier 1
    (TIERED, None, (), [([], "24", "17")]),  # 10 × 1 + 14 × 0.5
    # volume: ≤ 10.5 @ 1, above @ 0.5: eu exactly on the boundary → tier 1 → 10.5; us 6.25; NULL 1
    (BULK, None, ("region",), [(["eu"], "10.5", "10.5"), (["us"], "12.5", "6.25"), ([None], "1", "1")]),
    (BULK, None, (), [([], "24", "12")]),
    # matrix by region: eu @ 2, us @ 1, NULL region → default 0.1: 21 + 12.5 + 0.1
    (MATRIX, None, (), [([], "24", "33.6")]),
    # matrix split inside groups by model: claude = eu 6 → 12; gpt = eu 4.5 × 2 + us 12.5 × 1 + NULL 1 × 0.1
    (MATRIX, None, ("model",), [(["claude"], "6", "12"), (["gpt"], "18", "21.6")]),
    # grouping key equal to the matrix dimension: each group is one cell
    (MATRIX, None, ("region",), [(["eu"], "10.5", "21"), (["us"], "12.5", "12.5"), ([None], "1", "0.1")]),
]


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_hand_computed(engines, kind, case):
    p, filter, keys, expected = CASES[case]
    got = table(evaluate_price(engines[kind], p, "cust_1", START, END, filter, keys, now=NOW))
    assert got == expected
    # the supplied-events path gives the same rows (preview == stored)
    assert table(evaluate_preview(p, EVENTS, START, END, filter, keys, subject_id="cust_1")) == expected


@pytest.mark.parametrize("kind", ENGINES)
def test_orb_seed_request_one_call(engines, kind):
    """Orb's example: usage by hour and a property, as one call returning Orb's response shape."""
    orb_price = Price.from_dict({
        "id": "price_tokens", "currency": "USD", "model_type": "unit",
        "unit_config": {"unit_amount": "0.5"}, "billable_metric": METRIC, "cadence": "monthly",
    })
    rows = engines[kind].evaluate_price(
        orb_price, subject_id="cust_1", timeframe_start=START, timeframe_end=END,
        filter="region = 'eu' AND model = 'gpt'",
        grouping_keys=["hour_floor_timestamp_millis(timestamp_millis)", "model"], now=NOW,
    )
    h00, h10 = ms("2026-05-01T00:00:00Z"), ms("2026-05-01T10:00:00Z")
    assert price_response(rows) == {"data": [
        {"grouping_values": [str(h00), "gpt"], "quantity": "0.5", "amount": "0.25"},  # e6
        {"grouping_values": [str(h10), "gpt"], "quantity": "4", "amount": "2"},  # e1
    ]}


@pytest.mark.parametrize("kind", ENGINES)
def test_orb_request_body_in_orb_response_out(engines, kind):
    body = {"external_customer_id": "cust_1", "timeframe_start": START, "timeframe_end": END,
            "filter": "model = 'gpt'", "grouping_keys": ["region"]}
    # gpt by region: eu 4 + 0.5; us 10 + 2.5; NULL 1 — tiered (0,10] @ 1 then @ 0.5
    assert evaluate_price_request(engines[kind], TIERED, body, now=NOW) == {"data": [
        {"grouping_values": ["eu"], "quantity": "4.5", "amount": "4.5"},
        {"grouping_values": ["us"], "quantity": "12.5", "amount": "11.25"},
        {"grouping_values": [None], "quantity": "1", "amount": "1"},
    ]}
    with pytest.raises(InvalidSpec, match="exactly one"):
        evaluate_price_request(engines[kind], TIERED, {"timeframe_start": START, "timeframe_end": END}, now=NOW)
    with pytest.raises(InvalidSpec, match="unknown field"):
        evaluate_price_request(engines[kind], TIERED, {**body, "grouping_key": []}, now=NOW)


@pytest.mark.parametrize("kind", ENGINES)
def test_rows_ordered_by_grouping_values_numbers_numerically(engines, kind):
    # Hours relative to day 2 00:00: events at day-1 hours 0, 10, 11 and day-2 hour 9 give
    # -24, -14, -13, 9 — numerically ordered; by text it would be "-13", "-14", "-24", "9".
    origin = ms("2026-05-02T00:00:00Z") // 3_600_000
    key = f"hour_floor_timestamp_millis(timestamp_millis) / 3600000 - {origin}"
    rows = evaluate_price(engines[kind], UNIT, "cust_1", START, END, None, [key], now=NOW)
    assert table(rows) == [(["-24"], "0.5", "0.05"), (["-14"], "10", "1"), (["-13"], "10", "1"), (["9"], "3.5", "0.35")]


@pytest.mark.parametrize("kind", ENGINES)
def test_batch_equals_single_calls(engines, kind):
    prices = [UNIT, PACKAGE, TIERED, BULK, MATRIX]
    batch = engines[kind].evaluate_prices(prices, "cust_1", START, END, None, ["region"], now=NOW)
    assert [table(r) for r in batch] == [table(evaluate_price(engines[kind], p, "cust_1", START, END, None,
                                                               ["region"], now=NOW)) for p in prices]
    shape = prices_response(prices, batch)
    assert [d["price_groups"] for d in shape["data"]] == [[r.to_dict() for r in rows] for rows in batch]


@pytest.mark.parametrize("kind", ENGINES)
def test_explain_shows_the_one_query(engines, kind):
    sql = explain_price(engines[kind], MATRIX, "cust_1", START, END, "model = 'gpt'", ["model"])
    assert sql.upper().count("SELECT") >= 1 and "GROUP BY" in sql.upper()
    assert "'gpt'" in sql and "cust_1" not in sql  # the subject is a bound parameter
    assert "region" in sql and "model" in sql  # grouping key and matrix dimension both grouped


# --- limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ENGINES)
def test_row_limit_fails_never_truncates(engines, kind):
    e = engines[kind]
    with pytest.raises(LimitExceeded, match="more than 2 rows"):
        evaluate_price(e, UNIT, "cust_1", START, END, None, ["region"], now=NOW, limits=PriceLimits(max_rows=2))
    assert len(evaluate_price(e, UNIT, "cust_1", START, END, None, ["region"], now=NOW,
                              limits=PriceLimits(max_rows=3))) == 3
    with pytest.raises(LimitExceeded):  # the matrix path counts output groups too
        evaluate_price(e, MATRIX, "cust_1", START, END, None, ["model"], now=NOW, limits=PriceLimits(max_rows=1))


def test_default_row_limit_is_1000():
    events = [ev(i, "2026-05-01T00:00:00Z", k=i, tokens=1) for i in range(1001)]
    e = new_engine("duckdb")
    try:
        e.ingest(events)
        with pytest.raises(LimitExceeded, match="1000"):
            evaluate_price(e, UNIT, "cust_1", START, END, None, ["k"], now=NOW)
        rows = evaluate_price(e, UNIT, "cust_1", START, END, "k < 1000", ["k"], now=NOW)
        assert len(rows) == 1000 and rows[0].grouping_values == ("0",) and rows[-1].grouping_values == ("999",)
    finally:
        dispose(e)


@pytest.mark.parametrize("kind", ENGINES)
def test_lookback_limit(engines, kind):
    e = engines[kind]
    # START is 32 days before NOW; 101 days later it is out of the default 100-day window
    with pytest.raises(LimitExceeded, match="100 days"):
        evaluate_price(e, UNIT, "cust_1", START, END, now="2026-08-10T00:00:01Z")
    ok = evaluate_price(e, UNIT, "cust_1", START, END, now="2026-08-09T00:00:00Z")  # exactly 100 days
    assert table(ok) == [([], "24", "2.4")]
    assert table(evaluate_price(e, UNIT, "cust_1", START, END, now="2027-01-01T00:00:00Z",
                                limits=PriceLimits(max_lookback_days=None))) == [([], "24", "2.4")]


def test_lookback_uses_the_real_clock_by_default():
    e = new_engine("duckdb")
    try:
        with pytest.raises(LimitExceeded, match="100 days"):
            evaluate_price(e, UNIT, "cust_1", "2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z")
        now = int(time.time() * 1000)
        assert table(evaluate_price(e, UNIT, "cust_1", now - 99 * 86_400_000, now)) == [([], "0", "0")]
    finally:
        dispose(e)


def test_batch_limit_and_validation(engines):
    e = engines["duckdb"]
    with pytest.raises(LimitExceeded, match="at most 100"):
        e.evaluate_prices([UNIT] * 101, "cust_1", START, END, now=NOW)
    assert len(e.evaluate_prices([UNIT] * 100, "cust_1", START, END, now=NOW)) == 100
    with pytest.raises(LimitExceeded, match="at most 2"):
        e.evaluate_prices([UNIT] * 3, "cust_1", START, END, now=NOW, limits=PriceLimits(max_prices=2))
    assert e.evaluate_prices([], "cust_1", START, END, now=NOW) == []


@pytest.mark.parametrize(
    "start, end, message",
    [
        (END, START, "must be after"),
        (START, START, "must be after"),
        ("2026-05-01T00:00:00", END, "no time zone offset"),
        ("yesterday", END, "not ISO-8601"),
    ],
)
def test_bad_timeframes(engines, start, end, message):
    with pytest.raises(InvalidSpec, match=message):
        evaluate_price(engines["duckdb"], UNIT, "cust_1", start, end, now=NOW)


def test_bad_requests(engines):
    e = engines["duckdb"]
    with pytest.raises(InvalidSpec, match="not one string"):
        evaluate_price(e, UNIT, "cust_1", START, END, None, "region", now=NOW)
    with pytest.raises(InvalidSpec, match="subject_id"):
        evaluate_price(e, UNIT, "", START, END, now=NOW)
    with pytest.raises(meterql.ExpressionError):
        evaluate_price(e, UNIT, "cust_1", START, END, "region = ", now=NOW)
    with pytest.raises(meterql.ExpressionError):
        evaluate_price(e, UNIT, "cust_1", START, END, None, ["rond(tokens)"], now=NOW)


def test_timeframe_forms_agree(engines):
    e = engines["duckdb"]
    a = evaluate_price(e, UNIT, "cust_1", START, END, now=NOW)
    b = evaluate_price(e, UNIT, "cust_1", ms(START), ms(END), now=ms(NOW))
    c = evaluate_price(e, UNIT, "cust_1", datetime(2026, 5, 1, tzinfo=timezone.utc),
                       "2026-06-01T02:00:00+02:00", now=NOW)
    assert a == b == c


# --- Price.from_dict with real metrics -----------------------------------------------------------


def test_from_dict_shapes():
    ours = Price.from_dict({"metric": METRIC, "model": "tiered", "tiers": TIERED.model.config()["tiers"]})
    orb = Price.from_dict({"model_type": "tiered", "tiered_config": TIERED.model.config(), "metric": METRIC,
                           "id": "p1", "name": "Tokens", "fixed_price_quantity": None})
    assert ours.model == orb.model == TIERED.model
    assert orb.id == "p1" and orb.name == "Tokens"
    again = Price.from_dict(orb.to_dict())
    assert again == orb
    lago_metric = Price.from_dict({"metric": {"code": "llm_call", "aggregation_type": "sum_agg", "field_name": "tokens"},
                                   "model": "unit", "unit_amount": "1"})
    assert lago_metric.metric.event_name == "llm_call"


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"model": "unit", "unit_amount": "1"}, "metric is required"),
        ({"metric": METRIC, "model": "unit", "unit_amount": "1", "unit_amout": "2"}, "unknown field"),
        ({"metric": METRIC, "billable_metric": METRIC, "model": "unit", "unit_amount": "1"}, "not both"),
        ({"metric": METRIC, "model": "unit", "unit_amount": "1", "id": 5}, "must be a string"),
        ({"metric": METRIC, "model": "matrix", "dimensions": ["region"], "default_unit_amount": "1",
          "matrix_values": [{"dimension_values": ["eu", "x"], "unit_amount": "1"}]}, "2 value"),
        ({"metric": METRIC, "model": "matrix", "dimensions": ["region"], "default_unit_amount": "1",
          "matrix_values": [{"dimension_values": ["eu"], "unit_amount": "1"},
                            {"dimension_values": ["eu"], "unit_amount": "2"}]}, "listed twice"),
        ({"metric": METRIC, "model": "matrix", "dimensions": ["region"]}, "default_unit_amount is required"),
        ({"metric": METRIC, "model": "matrix", "dimensions": [""], "default_unit_amount": "1"}, "non-empty"),
    ],
)
def test_from_dict_errors(payload, message):
    with pytest.raises(InvalidSpec, match=message):
        Price.from_dict(payload)


def test_matrix_dimension_must_be_a_valid_expression():
    with pytest.raises(meterql.ExpressionError):
        Price.from_dict({"metric": METRIC, "model": "matrix", "dimensions": ["region +"], "default_unit_amount": "1"})


# --- preview ------------------------------------------------------------------------------------


def test_preview_without_ids_or_subject():
    events = [{"event_name": "llm_call", "timestamp": "2026-05-01T00:00:00Z", "properties": {"tokens": "3"}}] * 3
    # identical events without ids are three events (no id: nothing to deduplicate)
    assert table(evaluate_preview(UNIT, events, START, END)) == [([], "9", "0.9")]


def test_preview_errors():
    with pytest.raises(InvalidSpec, match=r"events\[1\]"):
        evaluate_preview(UNIT, [EVENTS[0], {"event_name": "llm_call", "timestamp": "2026-05-01T00:00:00"}], START, END)
    with pytest.raises(InvalidSpec, match="several subjects"):
        evaluate_preview(UNIT, EVENTS, START, END)
    with pytest.raises(LimitExceeded, match="500"):
        evaluate_preview(UNIT, [ev(i, "2026-05-01T00:00:00Z", tokens=1) for i in range(501)], START, END)
    assert table(evaluate_preview(UNIT, [ev(i, "2026-05-01T00:00:00Z", tokens=1) for i in range(500)],
                                  START, END)) == [([], "500", "50")]
    # no store is scanned: the lookback limit does not apply to supplied events
    assert table(evaluate_preview(UNIT, [ev(1, "2001-01-01T00:00:00Z", tokens=2)],
                                  "2001-01-01T00:00:00Z", "2001-01-02T00:00:00Z")) == [([], "2", "0.2")]


# --- differential: reference == DuckDB == ClickHouse on generated events --------------------------


def generated_events(seed: int, n: int = 200):
    rnd = random.Random(seed)
    base = ms(START)
    out = []
    for i in range(n):
        props = {}
        if rnd.random() < 0.9:
            props["region"] = rnd.choice(["eu", "us", "ap"])
        if rnd.random() < 0.9:
            props["tier"] = rnd.choice(["gold", "silver", 1, 2])
        if rnd.random() < 0.95:
            props["tokens"] = rnd.choice([rnd.randint(-5, 50), str(Decimal(rnd.randint(0, 10**6)) / 1000),
                                          "abc", None, Decimal("0.000000000001")])
        out.append({
            "event_id": f"g{rnd.randint(0, n)}",  # some ids repeat: first wins
            "subject_id": rnd.choice(["s1", "s1", "s1", "s2"]),
            "event_name": rnd.choice(["llm_call", "llm_call", "other"]),
            "timestamp": base + rnd.randint(-86_400_000, 32 * 86_400_000),
            "properties": props,
        })
    return out


GEN_METRICS = [
    {"code": "tokens", "aggregation": "sum", "event_name": "llm_call", "value": "tokens"},
    {"code": "calls", "aggregation": "count", "event_name": "llm_call"},
    {"code": "peak", "aggregation": "max", "event_name": "llm_call", "value": "tokens * 1.5"},
    {"code": "users", "aggregation": "unique_count", "value": "region", "rounding": "ceil"},
    {"code": "avg", "aggregation": "avg", "event_name": "llm_call", "value": "tokens", "rounding": "round",
     "rounding_precision": 2},
    {"code": "last", "aggregation": "latest", "value": "tokens / 3"},
    {"code": "seats", "aggregation": "weighted_sum", "event_name": "llm_call", "value": "tokens", "recurring": True},
    {"code": "total", "aggregation": "sum", "value": "tokens", "recurring": True},
]
GEN_MODELS = [
    {"model": "unit", "unit_amount": "0.003"},
    {"model": "package", "package_amount": "1.25", "package_size": "7"},
    {"model": "tiered", "tiers": [{"first_unit": 0, "last_unit": 100, "unit_amount": "0.5"},
                                  {"first_unit": 100, "last_unit": "1000.5", "unit_amount": "0.25"},
                                  {"first_unit": "1000.5", "unit_amount": "0.000000000007"}]},
    {"model": "bulk", "tiers": [{"maximum_units": 50, "unit_amount": "2"}, {"maximum_units": 500, "unit_amount": "1"},
                                {"unit_amount": "0.3333"}]},
    {"model": "matrix", "dimensions": ["region", "tier"], "default_unit_amount": "0.01",
     "matrix_values": [{"dimension_values": ["eu", "gold"], "unit_amount": "3"},
                       {"dimension_values": ["us", "1"], "unit_amount": "2"},
                       {"dimension_values": [None, None], "unit_amount": "5"}]},
]
GEN_REQUESTS = [
    (None, ()),
    ("region != 'ap'", ("tier",)),
    (None, ("day_floor_timestamp_millis(timestamp_millis)", "region")),
    ("tokens > 10 OR tier IS NULL", ("concat(region, '-', tier)",)),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_differential_reference_duckdb_clickhouse(seed):
    events = generated_events(seed)
    engines = {k: new_engine(k) for k in ENGINES}
    prices = [Price.from_dict({"metric": m, **model}) for m in GEN_METRICS for model in GEN_MODELS]
    try:
        for e in engines.values():
            e.ingest(events)
        nonempty = 0
        for filter, keys in GEN_REQUESTS:
            expected = [table(evaluate_preview(p, events, START, END, filter, keys, subject_id="s1")) for p in prices]
            nonempty += sum(1 for rows in expected for r in rows if r[1] != "0")
            for kind, e in engines.items():
                got = [table(r) for r in e.evaluate_prices(prices, "s1", START, END, filter, keys, now=NOW)]
                for p, g, x in zip(prices, got, expected):
                    assert g == x, (kind, p.metric.code, p.model.kind, filter, keys)
        assert nonempty > 50  # the cases are not vacuous
    finally:
        for e in engines.values():
            dispose(e)


# --- cost of one batch call vs separate calls ------------------------------------------------------


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, 1000 * (time.perf_counter() - t0)


def test_ten_prices_one_call_vs_ten_calls(engines, capsys):
    same_metric = [price("unit", unit_amount=str(i + 1)) for i in range(10)]
    # ten distinct metrics (different filters): one engine.aggregate_many call
    distinct = [Price.from_dict({"metric": {**METRIC, "code": f"m{i}", "filter": f"tokens > {i - 5}"},
                                 "model": "unit", "unit_amount": "1"}) for i in range(10)]
    for kind, e in engines.items():
        for label, prices in (("same metric", same_metric), ("distinct metrics", distinct)):
            evaluate_price(e, prices[0], "cust_1", START, END, None, ["region"], now=NOW)  # warm caches
            batch, one = _timed(lambda: e.evaluate_prices(prices, "cust_1", START, END, None, ["region"], now=NOW))
            singles, ten = _timed(lambda: [evaluate_price(e, p, "cust_1", START, END, None, ["region"], now=NOW)
                                           for p in prices])
            assert batch == singles
            with capsys.disabled():
                print(f"\n[{kind}, {label}] 10 prices: one call {one:.1f} ms, ten calls {ten:.1f} ms")
        # eu has 10.5 tokens: price i charges 10.5 × (i + 1)
        rows = e.evaluate_prices(same_metric, "cust_1", START, END, None, ["region"], now=NOW)
        assert [r[0].to_dict()["amount"] for r in rows] == ["10.5", "21", "31.5", "42", "52.5", "63", "73.5", "84",
                                                             "94.5", "105"]
        # filter tokens > i − 5 over eu's 4, 6, 0.5: i ≤ 5 keeps all (10.5); i = 6 drops 0.5 (10);
        # i = 7..9 (tokens > 2, 3, 4) keep 6 (and 4 for i ≤ 8)
        rows = e.evaluate_prices(distinct, "cust_1", START, END, None, ["region"], now=NOW)
        assert [r[0].quantity for r in rows] == [Decimal(x) for x in
                                                 ["10.5"] * 6 + ["10", "10", "10", "6"]]


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_evaluate_json_on_a_store_and_on_events(tmp_path, capsys):
    db = tmp_path / "usage.duckdb"
    e = meterql.connect(f"duckdb:///{db}")
    e.ingest(EVENTS)
    e.close()
    price_file = tmp_path / "price.json"
    # JSON numbers are read exactly (0.1 as a JSON number is the decimal 0.1)
    price_file.write_text('{"metric": %s, "model": "unit", "unit_amount": 0.1}' % json.dumps(METRIC))
    args = ["evaluate", "--price", str(price_file), "--subject", "cust_1", "--start", START, "--end", END,
            "--group-by", "region", "--max-lookback-days", "100000", "--json"]
    assert cli.main([*args, "--db", f"duckdb:///{db}"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored == {"data": [
        {"grouping_values": ["eu"], "quantity": "10.5", "amount": "1.05"},
        {"grouping_values": ["us"], "quantity": "12.5", "amount": "1.25"},
        {"grouping_values": [None], "quantity": "1", "amount": "0.1"},
    ]}
    events_file = tmp_path / "events.json"
    events_file.write_text(json.dumps(EVENTS, default=str))
    assert cli.main([*args, "--events", str(events_file)]) == 0
    assert json.loads(capsys.readouterr().out) == stored


def test_cli_text_table_and_batch(tmp_path, capsys):
    events_file = tmp_path / "events.json"
    events_file.write_text(json.dumps(EVENTS, default=str))
    price_file = tmp_path / "prices.json"
    price_file.write_text(json.dumps([{"id": "a", **UNIT.to_dict()}, {"id": "b", **TIERED.to_dict()}]))
    base = ["evaluate", "--price", str(price_file), "--subject", "cust_1", "--start", START, "--end", END,
            "--events", str(events_file)]
    assert cli.main(base) == 0
    out = capsys.readouterr().out
    assert "# a (unit)" in out and "# b (tiered)" in out and "2.4" in out and "17" in out
    assert cli.main([*base, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert [d["price_id"] for d in data] == ["a", "b"]
    assert [d["price_groups"][0]["amount"] for d in data] == ["2.4", "17"]


def test_cli_errors_are_clean(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"metric": {"code": "x", "aggregation": "count"}, "model": "unit", "unit_amount": "-1"}')
    assert cli.main(["evaluate", "--price", str(bad), "--subject", "s", "--start", START, "--end", END,
                     "--events", str(bad)]) == 1
    assert "unit_amount must be at least 0" in capsys.readouterr().err
    assert cli.main(["evaluate", "--price", str(tmp_path / "missing.json"), "--subject", "s", "--start", START,
                     "--end", END]) == 1
    assert "cannot read the price file" in capsys.readouterr().err
