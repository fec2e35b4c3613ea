"""meterql's own API under `/v1` (expressions check and SQL, batch ingest) over HTTP, both engines.

Plain httpx against the server on 127.0.0.1; every answer is compared with the library call it
stands for (`check`, `compile_sql`, `engine.ingest` / `count_events`) or worked out by hand."""

from __future__ import annotations

import httpx
import pytest

from engine_fixtures import ENGINES, dispose, new_engine
from meterql.checker import check
from meterql.compiler import compile_sql
from server_fixtures import serving

KEY = "v1-key-0123456789"
H = {"Authorization": f"Bearer {KEY}"}
HOSTILE = ["'; DROP TABLE events; --", "region = 'x''; DROP TABLE events; --'", "\"a\" = '\\'", "\x00\u202e",
           "region = '" + "'" * 3000 + "'", "(" * 2000, "tokens " + "+ 1 " * 1500]


@pytest.fixture(scope="module", params=ENGINES)
def api(request):
    engine = new_engine(request.param)
    with serving(engine, [KEY]) as url, httpx.Client(base_url=url, headers=H, timeout=30) as client:
        yield engine, client
    dispose(engine)


def test_check_answers_the_diagnostics_of_the_library(api):
    _, c = api
    ok = c.post("/v1/expressions/check", json={"text": "region = 'eu' and tokens > 1.5"})
    assert ok.status_code == 200 and ok.json() == {"valid": True, "diagnostics": []}
    bad = c.post("/v1/expressions/check", json={"text": "region = ", "kind": "filter"}).json()
    assert bad["valid"] is False and bad["diagnostics"][0]["span"] == [9, 9]
    assert bad["diagnostics"][0]["code"].startswith("E") and bad["diagnostics"][0]["severity"] == "error"
    typed = c.post("/v1/expressions/check", json={"text": "tokens * 2", "kind": "value",
                                                  "schema": {"tokens": "string"}}).json()
    assert typed["valid"] is False
    assert typed["diagnostics"] == [d.to_dict() for d in check("tokens * 2", "value", {"tokens": "string"})]
    # `dimension` is a grouping key: any scalar, so a string expression is fine (it would not be a filter)
    assert c.post("/v1/expressions/check", json={"text": "'eu'", "kind": "dimension"}).json()["valid"] is True
    assert c.post("/v1/expressions/check", json={"text": "'eu'", "kind": "filter"}).json()["valid"] is False


def test_sql_is_the_compilers_per_dialect(api):
    _, c = api
    text = "round(tokens * 1.5, 2)"
    both = c.post("/v1/expressions/sql", json={"text": text, "kind": "value"})
    assert both.status_code == 200
    assert both.json() == {"sql": {d: compile_sql(text, "value", d) for d in ("duckdb", "clickhouse")}}
    one = c.post("/v1/expressions/sql", json={"text": "region", "kind": "dimension", "dialects": ["clickhouse"]})
    assert one.json() == {"sql": {"clickhouse": compile_sql("region", "grouping_key", "clickhouse")}}
    bad = c.post("/v1/expressions/sql", json={"text": "tokens *", "kind": "value"})
    assert bad.status_code == 422
    err = bad.json()["error"]
    assert err["code"] == "invalid_expression" and err["diagnostics"][0]["span"] == [8, 8]
    assert c.post("/v1/expressions/sql", json={"text": "x", "dialects": ["sqlite"]}).status_code == 422
    assert c.post("/v1/expressions/sql", json={"text": "x", "dialects": []}).status_code == 422


def test_quotes_stay_inside_a_literal(api):
    _, c = api
    text = "region = 'x''; DROP TABLE events; --'"
    sql = c.post("/v1/expressions/sql", json={"text": text}).json()["sql"]
    for dialect, got in sql.items():
        assert got == compile_sql(text, "filter", dialect)
        assert "'x''; DROP TABLE events; --'" in got  # the quote doubled: one string literal


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_a_4xx_or_diagnostics_never_a_500(api, text):
    _, c = api
    checked = c.post("/v1/expressions/check", json={"text": text, "kind": "value"})
    assert checked.status_code == 200
    assert checked.json()["diagnostics"] == [d.to_dict() for d in check(text, "value")]
    compiled = c.post("/v1/expressions/sql", json={"text": text, "kind": "value"})
    assert compiled.status_code in (200, 422), compiled.text
    if compiled.status_code == 422:
        assert compiled.json()["error"]["diagnostics"]


def test_the_librarys_length_limit_and_the_services(api):
    _, c = api
    long = "tokens + " * 600 + "1"  # 5401 characters: over the library's 4096
    checked = c.post("/v1/expressions/check", json={"text": long, "kind": "value"}).json()
    assert checked["valid"] is False and checked["diagnostics"][0]["code"] == "E002"
    assert c.post("/v1/expressions/sql", json={"text": long, "kind": "value"}).json()["error"]["diagnostics"][0][
        "code"] == "E002"
    huge = "1" * 100_000
    for route in ("/v1/expressions/check", "/v1/expressions/sql"):
        r = c.post(route, json={"text": huge, "kind": "value"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "expression_too_large", route
    assert c.post("/v1/expressions/check", json={"text": 12}).status_code == 422
    assert c.post("/v1/expressions/check", content=b"{not json", headers={"content-type": "application/json"}
                  ).status_code == 422


def _event(eid: str, tokens: str = "1", subject: str = "v1-subj") -> dict:
    return {"event_id": eid, "subject_id": subject, "event_name": "call", "timestamp": "2025-10-01T10:00:00Z",
            "properties": {"tokens": tokens}}


def test_events_report_per_event(api):
    engine, c = api
    before = engine.count_events()
    hostile_id = "x'); DROP TABLE events; --"
    batch = [_event("v1-a"), _event("v1-b", "2.5"), _event("v1-a", "99"),  # in-batch retry: first wins
             {"event_id": "v1-c", "subject_id": "v1-subj"},  # no event_name, no timestamp
             _event(hostile_id), _event("v1-d", "a string"), _event("v1-e", "0.1")]
    r = c.post("/v1/events", json={"events": batch})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["inserted"], got["duplicates"]) == (5, 1)
    assert [x["index"] for x in got["rejected"]] == [3] and got["rejected"][0]["reason"]
    again = c.post("/v1/events", json={"events": [_event("v1-b", "1000"), _event("v1-f")]}).json()
    assert again == {"inserted": 1, "duplicates": 1, "rejected": []}  # a stored id: first write wins
    assert engine.count_events() == before + 6
    assert c.post("/v1/events", json={"events": []}).json() == {"inserted": 0, "duplicates": 0, "rejected": []}


def test_event_batches_are_bounded(api):
    engine, c = api
    before = engine.count_events()
    from meterql.server.v1 import MAX_BATCH

    r = c.post("/v1/events", json={"events": [_event(f"big-{i}") for i in range(MAX_BATCH + 1)]})
    assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large"
    assert str(MAX_BATCH) in r.json()["error"]["message"]
    assert engine.count_events() == before  # nothing of it stored
    assert c.post("/v1/events", json={"events": [1, 2]}).status_code == 422
    assert c.post("/v1/events", json=[_event("no-wrapper")]).status_code == 422


def test_auth_and_error_shape(api):
    _, c = api
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
        r = c.post("/v1/expressions/check", json={"text": "x"}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    missing = c.post("/v1/nothing-here", json={})
    assert missing.status_code in (401, 404) and "error" in missing.json()


def test_openapi_documents_v1(api):
    _, c = api
    spec = c.get("/openapi.json").json()
    assert {"/v1/expressions/check", "/v1/expressions/sql", "/v1/events"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"CheckIn", "CheckOut", "SqlIn", "SqlOut", "EventsIn", "EventsOut", "Diagnostic"} <= set(schemas)
    assert set(schemas["CheckIn"]["properties"]) == {"text", "kind", "schema"}


def test_json_numbers_in_events_are_exact(api):
    """A JSON number in a property is read from its digits (SPEC §3), never through a float:
    12345678901234567890.123 as a float would be 12345678901234567000 (and 0.1 + 0.2 would not
    sum to 0.3 if each went through a binary float and back by a long repr)."""
    engine, c = api
    from meterql.metric import Metric

    body = ('{"events": [{"event_id": "exact-1", "subject_id": "exact", "event_name": "n", '
            '"timestamp": "2025-10-01T00:00:00Z", "properties": {"v": 12345678901234567890.123}}, '
            '{"event_id": "exact-2", "subject_id": "exact", "event_name": "n", '
            '"timestamp": "2025-10-01T00:00:01Z", "properties": {"v": 0.000000000001}}]}')
    r = c.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 2
    metric = Metric.from_dict({"code": "v", "aggregation": "sum", "event_name": "n", "value": "v"})
    rows = engine.summary(metric, "exact", {"start": "2025-10-01T00:00:00Z", "end": "2025-10-02T00:00:00Z"})
    assert [r.to_dict()["value"] for r in rows] == ["12345678901234567890.123000000001"]
    bad = c.post("/v1/events", content='{"events": [{"properties": {"v": NaN}}]}',
                 headers={"Content-Type": "application/json"})
    assert 400 <= bad.status_code < 500


def test_json_numbers_in_lark_usage_events_are_exact(api):
    engine, c = api
    from meterql.metric import Metric

    subject = c.post("/lark/subjects", json={"external_id": "exact-lark"}).json()
    body = ('{"idempotency_key": "exact-lark-1", "event_name": "n", "subject_id": "exact-lark", '
            '"timestamp": "2025-10-01T00:00:00Z", "data": {"v": 98765432109876543210.5}}')
    r = c.post("/lark/usage-events", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    metric = Metric.from_dict({"code": "v", "aggregation": "sum", "event_name": "n", "value": "v"})
    rows = engine.summary(metric, subject["id"], {"start": "2025-10-01T00:00:00Z", "end": "2025-10-02T00:00:00Z"})
    assert [r.to_dict()["value"] for r in rows] == ["98765432109876543210.5"]


def test_a_body_past_the_byte_limit_is_a_413_in_the_apis_shape(api):
    """The server never buffers an unbounded body: past `MAX_BODY_BYTES` the read stops with a 413,
    in each API's own error shape; nothing of it is stored."""
    from meterql.server.app import MAX_BODY_BYTES

    engine, c = api
    before = engine.count_events()
    big = b'{"events": [' + b" " * (MAX_BODY_BYTES + 1) + b"]}"
    r = c.post("/v1/events", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: counted while read
        yield b'{"events": ['
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 1):
            yield b" " * (1 << 20)
        yield b"]}"

    r = c.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "http_error"
    lago = c.post("/lago/api/v1/events/batch", content=big, headers={"Content-Type": "application/json"})
    assert lago.status_code == 413 and lago.json()["status"] == 413  # Lago's shape
    assert engine.count_events() == before
    ok = c.post("/v1/events", json={"events": []})  # the server still answers
    assert ok.status_code == 200
