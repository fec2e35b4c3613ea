"""`meterql serve` driven by Lago's own SDK (`lago-python-client` 1.55.0), on both engines.

The server runs on uvicorn in a thread on 127.0.0.1 (a free port); the SDK runs in-process. Every
billable metric's total over October equals `engine.summary` of the library's own reading of the
same Lago payload (`Metric.from_dict`) on the same store, asked through Lark's summary route with
the metric's `lago_id`; each value is also worked out by hand from the events posted below."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from lago_python_client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.billable_metric import BillableMetric, BillableMetricFilter, BillableMetricFilters
from lago_python_client.models.event import BatchEvent, Event

import meterql
from engine_fixtures import ENGINES, dispose, new_engine
from server_fixtures import serving
from meterql.metric import Metric
from meterql.server.lago import _ms_of_seconds

KEY = "lago-key-0123456789"
T0 = 1759276800  # 2025-10-01T00:00:00Z, in Unix seconds
OCTOBER = {"start": "2025-10-01T00:00:00Z", "end": "2025-11-01T00:00:00Z"}
SUB = "sub-acme"

# Every aggregation type, with field names, expressions, rounding, recurring and weighted_interval.
METRICS = {
    "calls": {"name": "Calls", "aggregation_type": "count_agg"},
    "tokens": {"name": "Tokens", "aggregation_type": "sum_agg", "field_name": "tokens",
               "rounding_function": "round", "rounding_precision": 1, "description": "LLM tokens",
               "filters": [{"key": "model", "values": ["gpt", "claude"]}]},
    "tokens_x": {"name": "Weighted tokens", "aggregation_type": "sum_agg", "field_name": "tokens",
                 "expression": "round(event.properties.tokens * 1.5, 2)", "rounding_function": "floor",
                 "rounding_precision": 1},
    "peak": {"name": "Peak CPU", "aggregation_type": "max_agg", "field_name": "cpu"},
    "last_gb": {"name": "Last GB", "aggregation_type": "latest_agg", "field_name": "gb"},
    "users": {"name": "Users", "aggregation_type": "unique_count_agg", "field_name": "user"},
    "seats": {"name": "Seats", "aggregation_type": "sum_agg", "field_name": "delta", "recurring": True},
    "storage": {"name": "Storage", "aggregation_type": "weighted_sum_agg", "field_name": "gb_delta",
                "weighted_interval": "seconds"},
}

# (transaction_id, code, timestamp as the SDK sends it, properties)
EVENTS = [
    ("c1", "calls", T0 + 3600, {}),
    ("c2", "calls", f"{T0 + 7200}.5", None),
    ("c0", "calls", T0 - 10, {}),  # September: outside the period
    ("t1", "tokens", T0 + 100, {"tokens": "1.25", "model": "gpt"}),
    ("t2", "tokens", f"{T0 + 200}.999", {"tokens": 2}),
    ("tx1", "tokens_x", T0 + 100, {"tokens": "1.01"}),
    ("tx2", "tokens_x", T0 + 200, {"tokens": 2}),
    ("p1", "peak", T0 + 10, {"cpu": 4}),
    ("p2", "peak", T0 + 20, {"cpu": "9.5"}),
    ("g1", "last_gb", T0 + 1000, {"gb": 10}),
    ("g2", "last_gb", T0 + 500, {"gb": 20}),
    ("g3", "last_gb", f"{T0 + 2000}.001", {"gb": 6}),
    ("g4", "last_gb", f"{T0 + 2000}", {"gb": 5}),
    ("u1", "users", T0 + 1, {"user": "a"}),
    ("u2", "users", T0 + 2, {"user": "b"}),
    ("u3", "users", T0 + 3, {"user": "a"}),
    ("u4", "users", T0 + 4, {"user": 1}),
    ("u5", "users", T0 + 5, {"user": "1"}),
    ("s0", "seats", T0 - 10 * 86400, {"delta": 5}),  # before the period: carried by `recurring`
    ("s1", "seats", T0 + 4 * 86400, {"delta": 2}),
    ("s2", "seats", T0 + 9 * 86400, {"delta": -1}),
    ("w1", "storage", T0, {"gb_delta": 31}),
    ("w2", "storage", T0 + 1339200, {"gb_delta": 62}),  # Oct 16 12:00: half of October's 31 days
]
SINGLE = 6  # the first events are sent one by one, the others with events/batch
BATCH = [  # sent with events/batch, with retries of stored transaction ids (other values: ignored)
    ("c3", "calls", T0 + 86400, {}),
    ("t3", "tokens", T0 + 300, {"tokens": "3.1"}),
    ("c1", "calls", T0 + 5, {}),
    ("t1", "tokens", T0 + 100, {"tokens": 300}),
]
BY_HAND = {
    "calls": "3",  # c1, c2, c3 (c0 is in September; c1's retry stored nothing)
    "tokens": "6.4",  # 1.25 + 2 + 3.1 = 6.35, rounded half away from zero to 1 digit
    "tokens_x": "4.5",  # round(1.515, 2) = 1.52, + 3 = 4.52, floored to 1 digit
    "peak": "9.5",
    "last_gb": "6",  # g3 is 1 ms after g4
    "users": "3",  # a, b, and 1 = "1" (compared by canonical text)
    "seats": "6",  # 5 carried from September, + 2 − 1
    "storage": "62",  # 31 all month, + 62 for half of it
}



@pytest.fixture(scope="module", params=ENGINES)
def served(request):
    engine = new_engine(request.param)
    with serving(engine, [KEY]) as url, \
            httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {KEY}"}) as http:
        yield engine, Client(api_key=KEY, api_url=url + "/lago/"), http
    dispose(engine)


def _bm(code: str, fields: dict) -> BillableMetric:
    fields = dict(fields)
    if "filters" in fields:
        fields["filters"] = BillableMetricFilters(__root__=[BillableMetricFilter(**f) for f in fields["filters"]])
    return BillableMetric(code=code, **fields)


def _event(tid, code, ts, props) -> Event:
    return Event(transaction_id=tid, external_subscription_id=SUB, code=code, timestamp=ts, properties=props)


@pytest.fixture(scope="module")
def driven(served):
    engine, client, http = served
    created = {code: client.billable_metrics.create(_bm(code, f)) for code, f in METRICS.items()}
    # One by one (an SDK call costs ~0.2 s: httpx builds a TLS context per call), then the rest in
    # two batches: the second retries stored transaction ids.
    echoes = [client.events.create(_event(*e)) for e in EVENTS[:SINGLE]]
    client.events.batch_create(BatchEvent(events=[_event(*e) for e in EVENTS[SINGLE:]]))
    client.events.batch_create(BatchEvent(events=[_event(*e) for e in BATCH]))
    # c3 and t3 of the batch are new; its retries of c1 and t1 store nothing
    assert engine.count_events() == len(EVENTS) + 2
    return engine, client, http, created, echoes


def lark_total(http, lago_id: str, subject: str, period=OCTOBER) -> list[dict]:
    r = http.post(f"/lark/pricing-metrics/{lago_id}/summary", json={"subject_id": subject, "period": period})
    assert r.status_code == 200, r.text
    return r.json()


def library_total(engine, code: str, subject_id: str, period=OCTOBER) -> list:
    metric = Metric.from_dict({"code": code, **METRICS[code]})
    return [r.value for r in engine.summary(metric, subject_id, period)]


def lago_error(call) -> LagoApiError:
    with pytest.raises(LagoApiError) as info:
        call()
    return info.value


# --- billable metrics ---------------------------------------------------------------------------


def test_metrics_keep_every_field_of_seed_004(driven):
    _, client, _, created, _ = driven
    for code, fields in METRICS.items():
        m = created[code]
        assert m.lago_id.startswith("pmtr_") and m.code == code and m.created_at.endswith("Z")
        for key in ("name", "aggregation_type", "field_name", "expression", "rounding_function",
                    "rounding_precision", "weighted_interval", "description"):
            assert getattr(m, key) == fields.get(key), (code, key)
        assert m.recurring is bool(fields.get("recurring"))
        assert [f.dict() for f in m.filters.__root__] == fields.get("filters", [])
        assert client.billable_metrics.find(code) == m
    listed = client.billable_metrics.find_all({"per_page": 3, "page": 2})
    assert [m.code for m in listed["billable_metrics"]] == list(METRICS)[3:6]
    assert listed["meta"] == {"current_page": 2, "next_page": 3, "prev_page": 1, "total_pages": 3,
                              "total_count": len(METRICS)}


def test_every_total_equals_the_library_and_the_hand(driven):
    engine, _, http, created, _ = driven
    sid = engine_subject(http)
    for code, value in BY_HAND.items():
        rows = lark_total(http, created[code].lago_id, SUB)
        assert [r["value"] for r in rows] == [value], code
        assert rows[0]["subject_id"] == sid
        assert library_total(engine, code, sid) == [value], code


def engine_subject(http) -> str:
    r = http.get(f"/lark/subjects/{SUB}")
    assert r.status_code == 200
    return r.json()["id"]


def test_lago_metrics_are_lark_pricing_metrics(driven):
    _, _, http, created, _ = driven
    listed = http.get("/lark/pricing-metrics").json()["pricing_metrics"]
    assert {m["id"] for m in listed} >= {m.lago_id for m in created.values()}
    got = http.get(f"/lark/pricing-metrics/{created['tokens'].lago_id}").json()
    assert got["event_name"] == "tokens" and got["aggregation"]["aggregation_type"] == "sum"


def test_nulls_are_absent_and_filters_a_list(driven):
    _, _, http, _, _ = driven
    body = {"billable_metric": {"name": "N", "code": "nulls", "aggregation_type": "count_agg", "filters": None,
                                "weighted_interval": None, "expression": None, "field_name": None,
                                "description": None, "recurring": None, "rounding_function": None,
                                "rounding_precision": None}}
    r = http.post("/lago/api/v1/billable_metrics", json=body)
    assert r.status_code == 200, r.text
    m = r.json()["billable_metric"]
    assert m["filters"] == [] and m["recurring"] is False and m["expression"] is None
    assert http.delete("/lago/api/v1/billable_metrics/nulls").status_code == 200


def test_update_keeps_lago_id_and_changes_the_total(served):
    engine, client, http = served
    m = client.billable_metrics.create(_bm("upd", {"name": "U", "aggregation_type": "sum_agg", "field_name": "v"}))
    client.events.create(Event(transaction_id="upd-1", external_subscription_id="sub-upd", code="upd",
                               timestamp=T0 + 1, properties={"v": "2.5"}))
    client.events.create(Event(transaction_id="upd-2", external_subscription_id="sub-upd", code="upd2",
                               timestamp=T0 + 2, properties={"v": "10"}))
    assert [r["value"] for r in lark_total(http, m.lago_id, "sub-upd")] == ["2.5"]
    u = client.billable_metrics.update(BillableMetric(rounding_function="ceil"), "upd")
    assert u.lago_id == m.lago_id and u.rounding_function == "ceil" and u.field_name == "v" and u.name == "U"
    assert [r["value"] for r in lark_total(http, m.lago_id, "sub-upd")] == ["3"]
    # A new code: the metric now counts the events of that code (Lago ties events to metrics by code).
    u2 = client.billable_metrics.update(BillableMetric(code="upd2"), "upd")
    assert u2.lago_id == m.lago_id and u2.code == "upd2" and u2.created_at == m.created_at
    assert lago_error(lambda: client.billable_metrics.find("upd")).status_code == 404
    assert client.billable_metrics.find("upd2").lago_id == m.lago_id
    assert [r["value"] for r in lark_total(http, m.lago_id, "sub-upd")] == ["10"]
    taken = lago_error(lambda: client.billable_metrics.update(BillableMetric(code="calls"), "upd2"))
    assert taken.status_code == 422 and taken.response["error_details"] == {"code": ["value_already_exist"]}
    bad = lago_error(lambda: client.billable_metrics.update(BillableMetric(aggregation_type="max_agg",
                                                                           recurring=True), "upd2"))
    assert bad.status_code == 422 and bad.response["error_details"] == {"recurring": ["not_compatible_with_aggregation_type"]}


def test_delete_answers_the_metric_and_frees_its_code(served):
    engine, client, http = served
    m = client.billable_metrics.create(_bm("gone", {"name": "G", "aggregation_type": "count_agg"}))
    d = client.billable_metrics.destroy("gone")
    assert d == m
    assert lago_error(lambda: client.billable_metrics.find("gone")).status_code == 404
    assert lago_error(lambda: client.billable_metrics.destroy("gone")).status_code == 404
    assert http.get(f"/lark/pricing-metrics/{m.lago_id}").status_code == 404
    assert http.post(f"/lark/pricing-metrics/{m.lago_id}/summary",
                     json={"subject_id": SUB, "period": OCTOBER}).status_code == 404
    again = client.billable_metrics.create(_bm("gone", {"name": "G", "aggregation_type": "count_agg"}))
    assert again.lago_id != m.lago_id


def test_metric_errors(served):
    _, client, http = served
    client.billable_metrics.create(_bm("dup", {"name": "D", "aggregation_type": "count_agg"}))
    dup = lago_error(lambda: client.billable_metrics.create(_bm("dup", {"name": "D", "aggregation_type": "count_agg"})))
    assert dup.status_code == 422
    assert dup.response == {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
                            "error_details": {"code": ["value_already_exist"]}}
    expr = lago_error(lambda: client.billable_metrics.create(
        _bm("e1", {"name": "E", "aggregation_type": "sum_agg", "expression": "event.properties.a *"})))
    assert expr.status_code == 422 and expr.response["error_details"]["expression"] == ["invalid_expression"]
    diag = expr.response["error_details"]["diagnostics"][0]
    assert diag["code"].startswith("E") and diag["span"] == [20, 20]
    text = lago_error(lambda: client.billable_metrics.create(
        _bm("e2", {"name": "E", "aggregation_type": "sum_agg", "expression": "concat(event.properties.a, 'x')"})))
    assert text.status_code == 422 and text.response["error_details"]["diagnostics"][0]["code"] == "E304"
    missing = lago_error(lambda: client.billable_metrics.create(BillableMetric(code="e3", aggregation_type="sum_agg")))
    assert missing.response["error_details"] == {"name": ["value_is_mandatory"], "field_name": ["value_is_mandatory"]}
    kind = lago_error(lambda: client.billable_metrics.create(BillableMetric(code="e4", name="x", aggregation_type="avg")))
    assert kind.response["error_details"] == {"aggregation_type": ["value_is_invalid"]}
    for code in ("unknown", "x' OR '1'='1"):
        nf = lago_error(lambda: client.billable_metrics.find(code))
        assert nf.status_code == 404 and nf.response == {"status": 404, "error": "Not Found",
                                                         "code": "billable_metric_not_found"}
    assert lago_error(lambda: client.billable_metrics.update(BillableMetric(name="x"), "unknown")).status_code == 404
    wrong = Client(api_key="wrong", api_url=client.api_url)
    assert lago_error(lambda: wrong.billable_metrics.find_all()).status_code == 401
    for body in (b"", b"not json", b"[]", b'{"billable_metric": {}}', b'{"billable_metric": 3}', b"NaN"):
        r = http.post("/lago/api/v1/billable_metrics", content=body)
        assert r.status_code == 400 and r.json()["status"] == 400 and r.json()["error"].startswith("BadRequest"), body
    extra = http.post("/lago/api/v1/billable_metrics", json={"billable_metric": {
        "name": "x", "code": "e5", "aggregation_type": "count_agg", "secret": 1}})
    assert extra.status_code == 422 and extra.json()["error_details"] == {"secret": ["unknown_field"]}
    for field, value in (("rounding_precision", 13), ("rounding_precision", "2"), ("weighted_interval", "hours"),
                         ("rounding_function", "up"), ("filters", [{"key": "k"}]), ("recurring", "yes")):
        r = http.post("/lago/api/v1/billable_metrics", json={"billable_metric": {
            "name": "x", "code": "e6", "aggregation_type": "sum_agg", "field_name": "v", field: value}})
        assert r.status_code == 422 and r.json()["error_details"] == {field: ["value_is_invalid"]}, (field, r.text)
    assert http.get("/lago/api/v1/nowhere").json()["status"] == 404
    assert http.get("/lago/api/v1/billable_metrics", params={"page": "x"}).status_code == 400


# --- expression test ----------------------------------------------------------------------------


def test_evaluate_expression(served):
    _, client, http = served
    event = {"code": "storage", "timestamp": "1759276800.25", "properties": {"tokens": "1.01", "gb": 10}}
    cases = {
        "round(event.properties.tokens * 1.5, 2)": "1.52",  # 1.515 half away from zero (not a float's 1.51)
        "event.properties.gb * 3 + 0.1": "30.1",
        "event.timestamp": "1759276800.25",
        "concat(event.code, '-', event.properties.gb)": "storage-10",
    }
    for text, want in cases.items():
        r = http.post("/lago/api/v1/billable_metrics/evaluate_expression", json={"expression": text, "event": event})
        assert r.status_code == 200, r.text
        got = r.json()["expression_result"]["value"]
        assert str(got) == want, text
        lib = meterql.evaluate(text, {"event_id": "e", "subject_id": "s", "event_name": "storage",
                                      "timestamp": 1759276800250, "properties": event["properties"]})
        assert str(lib) == want
    exact = http.post("/lago/api/v1/billable_metrics/evaluate_expression",
                      json={"expression": "event.properties.a + 0", "event": {"properties": {"a": "0.100000000001"}}})
    assert exact.text == '{"expression_result":{"value":0.100000000001}}'
    number = http.post("/lago/api/v1/billable_metrics/evaluate_expression",
                       content=b'{"expression": "a * 3", "event": {"properties": {"a": 0.100000000001}}}')
    assert number.text == '{"expression_result":{"value":0.300000000003}}'  # a JSON number, read exactly
    bad = http.post("/lago/api/v1/billable_metrics/evaluate_expression", json={"expression": "a +", "event": event})
    assert bad.status_code == 422 and bad.json()["error_details"]["diagnostics"][0]["span"] == [3, 3]
    missing = http.post("/lago/api/v1/billable_metrics/evaluate_expression", json={"expression": "1"})
    assert missing.status_code == 422 and missing.json()["error_details"] == {"event": ["value_is_mandatory"]}
    ts = http.post("/lago/api/v1/billable_metrics/evaluate_expression",
                   json={"expression": "1", "event": {"timestamp": "yesterday"}})
    assert ts.status_code == 422 and ts.json()["error_details"] == {"event": {"timestamp": ["invalid_format"]}}
    # lago-python-client 1.55.0 posts this call without a body: a clean 400, not a 500.
    none = lago_error(lambda: client.billable_metrics.evaluate_expression(None))
    assert none.status_code == 400 and none.response["status"] == 400


# --- events -------------------------------------------------------------------------------------


def test_event_answers(driven):
    _, _, _, _, echoes = driven
    first = echoes[0]
    assert first.transaction_id == "c1" and first.code == "calls" and first.external_subscription_id == SUB
    assert first.timestamp == "2025-10-01T01:00:00.000Z" and first.lago_customer_id.startswith("subj_")
    assert echoes[1].timestamp == "2025-10-01T02:00:00.500Z" and echoes[1].properties == {}
    assert echoes[4].properties == {"tokens": 2} and echoes[4].timestamp == "2025-10-01T00:03:20.999Z"


def test_retries_store_nothing(driven):
    engine, client, http, _, _ = driven
    before = engine.count_events()
    again = client.events.create(_event("t1", "tokens", T0 + 100, {"tokens": 999}))
    assert again.transaction_id == "t1"
    client.events.batch_create(BatchEvent(events=[_event(*e) for e in BATCH]))
    assert engine.count_events() == before


def test_external_customer_id_is_a_subject_too(driven):
    engine, _, http, created, _ = driven
    r = http.post("/lago/api/v1/events", json={"event": {"transaction_id": "cust-1", "external_customer_id": "cust-2",
                                                         "code": "calls", "timestamp": T0 + 60}})
    assert r.status_code == 200 and r.json()["event"]["external_customer_id"] == "cust-2"
    assert [x["value"] for x in lark_total(http, created["calls"].lago_id, "cust-2")] == ["1"]
    assert [x["value"] for x in lark_total(http, created["calls"].lago_id, SUB)] == ["3"]


def test_json_numbers_are_read_exactly(driven):
    engine, _, http, created, _ = driven
    body = b'{"event": {"transaction_id": "num-1", "external_subscription_id": "sub-num", "code": "peak", ' \
           b'"timestamp": 1759276800.0015, "properties": {"cpu": 12345678901.000000000001}}}'
    r = http.post("/lago/api/v1/events", content=body)
    assert r.status_code == 200, r.text
    assert '"cpu":12345678901.000000000001' in r.text and r.json()["event"]["timestamp"] == "2025-10-01T00:00:00.001Z"
    sid = http.get("/lark/subjects/sub-num").json()["id"]
    assert [x["value"] for x in lark_total(http, created["peak"].lago_id, "sub-num")] == ["12345678901.000000000001"]
    assert library_total(engine, "peak", sid) == ["12345678901.000000000001"]


def test_bad_events_are_refused_whole(driven):
    engine, _, http, _, _ = driven
    before = engine.count_events()
    good = {"transaction_id": "ok-1", "external_subscription_id": SUB, "code": "calls", "timestamp": T0}
    cases = [
        ({k: v for k, v in good.items() if k != "transaction_id"}, {"transaction_id": ["value_is_mandatory"]}),
        ({k: v for k, v in good.items() if k != "external_subscription_id"},
         {"external_subscription_id": ["value_is_mandatory"]}),
        ({**good, "timestamp": "2025-10-01"}, {"timestamp": ["invalid_format"]}),
        ({**good, "timestamp": True}, {"timestamp": ["invalid_format"]}),
        ({**good, "properties": [1]}, {"properties": ["value_is_invalid"]}),
    ]
    for event, details in cases:
        r = http.post("/lago/api/v1/events", json={"event": event})
        assert r.status_code == 422 and r.json()["error_details"] == details, r.text
    nested = http.post("/lago/api/v1/events", json={"event": {**good, "properties": {"a": {"b": 1}}}})
    assert nested.status_code == 422 and "array or object" in nested.json()["error_details"]["event"][0]
    far = http.post("/lago/api/v1/events", json={"event": {**good, "timestamp": 10**13}})
    assert far.status_code == 422
    batch = http.post("/lago/api/v1/events/batch", json={"events": [good, {**good, "transaction_id": "ok-2",
                                                                           "code": None}]})
    assert batch.status_code == 422 and batch.json()["error_details"] == {"1": {"code": ["value_is_mandatory"]}}
    assert http.post("/lago/api/v1/events/batch", json={"events": [good] * 101}).status_code == 422
    for body in (b"", b"{}", b'{"events": []}', b'{"event": null}'):
        assert http.post("/lago/api/v1/events/batch", content=body).status_code == 400
        assert http.post("/lago/api/v1/events", content=body).status_code == 400
    assert engine.count_events() == before  # nothing of a refused batch landed


def test_seconds_read_exactly():
    assert _ms_of_seconds(1759276800) == 1759276800000
    assert _ms_of_seconds("1759276800") == 1759276800000
    assert _ms_of_seconds("1759276800.1239") == 1759276800123  # truncated, never rounded up
    assert _ms_of_seconds(Decimal("1759276800.9999999999999999999999")) == 1759276800999
    assert _ms_of_seconds("1759276800.9999999999999999999999") == 1759276800999
    assert _ms_of_seconds(Decimal("1.7592768E+9")) == 1759276800000
    assert _ms_of_seconds("-1.5") == -1500
    assert _ms_of_seconds("-0.0005") == -1  # a floor, as ISO text before 1970
    for bad in ("1e9", "abc", "", " 1", True, None, 1.5, Decimal("NaN"), [1]):
        assert _ms_of_seconds(bad) is None, bad
