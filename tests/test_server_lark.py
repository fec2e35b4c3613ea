"""`meterql serve` driven by Lark's own SDK (`lark-billing` 0.9.0), on both engines.

The server runs on uvicorn in a thread on 127.0.0.1 (a free port); the SDK runs in a subprocess
(tests/lark_sdk_driver.py) because its package is named `lark`, like the parser library meterql
imports. Every summary the SDK gets must equal `engine.summary` on the same store, and the
values are also worked out by hand from the four events the driver posts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from engine_fixtures import ENGINES, dispose, new_engine
from server_fixtures import serving
from meterql.metric import Metric, quote_property

ROOT = Path(__file__).resolve().parents[1]
SDK_VERSION = "0.9.0"
SDK_DIR = Path(os.environ.get("METERQL_LARK_SDK", ROOT / ".lark-sdk"))
KEY = "test-key-0123456789"


def lark_sdk() -> Path:
    """A directory holding the pinned lark-billing and the two of its dependencies that meterql
    does not already install (sniffio, distro; httpx, anyio, pydantic and typing-extensions come
    with meterql's own). `--no-deps`: nothing else is resolved into it, so it never shadows more
    than the SDK in the driver's process."""
    markers = [SDK_DIR / f"lark_billing-{SDK_VERSION}.dist-info", SDK_DIR / "sniffio", SDK_DIR / "distro"]
    if not all(m.is_dir() for m in markers):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(SDK_DIR),
                        f"lark-billing=={SDK_VERSION}", "sniffio>=1.3,<2", "distro>=1.7,<2"], check=True)
    return SDK_DIR



@pytest.fixture(scope="module", params=ENGINES)
def served(request):
    engine = new_engine(request.param)
    with serving(engine, [KEY]) as url:
        yield engine, url
    dispose(engine)


@pytest.fixture(scope="module")
def driven(served):
    engine, url = served
    env = {**os.environ, "PYTHONPATH": str(lark_sdk())}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "lark_sdk_driver.py"), url + "/lark", KEY],
                          capture_output=True, text=True, env=env, timeout=120, cwd=str(ROOT / "tests"))
    assert done.returncode == 0, done.stderr
    return engine, url, json.loads(done.stdout)


OCTOBER = {"start": "2025-10-01T00:00:00Z", "end": "2025-11-01T00:00:00Z", "inclusive_start": True,
           "inclusive_end": False}
FIRST_DAYS = {"start": "2025-10-01T00:00:00Z", "end": "2025-10-04T00:00:00Z"}
OUR_AGGREGATION = {"sum": "sum", "count": "count", "max": "max", "last": "latest"}


def library(engine, metric_out: dict, subject_id: str, period: dict, granularity=None, dims=()) -> list[dict]:
    """What `engine.summary` says for the same metric, in the SDK's JSON (dimension keys by name)."""
    kind = metric_out["aggregation"]["aggregation_type"]
    metric = Metric(code=metric_out["id"], aggregation=OUR_AGGREGATION[kind], event_name="call",
                    value=None if kind == "count" else quote_property("tokens"))
    rows = engine.summary(metric, subject_id, period, granularity, [quote_property(d) for d in dims])
    out = []
    for r in rows:
        d = r.to_dict()
        d["dimension_coordinates"] = {n: v for n, (_, v) in zip(dims, r.dimension_coordinates)}
        out.append(d)
    return out


def test_subject_created_and_found_by_external_id(driven):
    _, _, got = driven
    s = got["subject"]
    assert s["id"].startswith("subj_") and s["external_id"] == "acme-ext"
    assert s["name"] == "Acme" and s["metadata"] == {"plan": "pro"}
    assert got["subject_by_external_id"] == s


def test_metrics_created_retrieved_listed(driven):
    _, _, got = driven
    ms = got["metrics"]
    assert {k: m["aggregation"]["aggregation_type"] for k, m in ms.items()} == {k: k for k in ms}
    assert all(m["id"].startswith("pmtr_") and m["event_name"] == "call" for m in ms.values())
    assert got["metric_retrieved"] == ms["sum"]
    assert [m["id"] for m in got["metric_list"]["pricing_metrics"]] == [ms[k]["id"] for k in ("sum", "count", "max", "last")]


def test_whole_period_each_aggregation(driven):
    engine, _, got = driven
    sid = got["subject"]["id"]
    # Stored: e1 12.5 (Oct 1 10:00), e2 3 (Oct 2 05:00), e3 7.25 (Oct 2 20:00); e1's retry stored nothing.
    by_hand = {"sum": "22.75", "count": "3", "max": "12.5", "last": "7.25"}
    for kind, value in by_hand.items():
        rows = got["summaries"][kind]
        assert [r["value"] for r in rows] == [value], kind
        assert rows[0]["subject_id"] == sid  # the subject's own id, though asked by external id
        assert rows[0]["period"] == OCTOBER
        assert rows == library(engine, got["metrics"][kind], sid, OCTOBER)


def test_dimensions_by_id(driven):
    engine, _, got = driven
    sid = got["subject"]["id"]
    rows = got["summaries"]["sum_by_region_by_id"]
    assert sorted((r["dimension_coordinates"]["region"], r["value"]) for r in rows) == [("eu", "19.75"), ("us", "3")]
    assert rows == library(engine, got["metrics"]["sum"], sid, OCTOBER, dims=["region"])


def test_granularity_and_dimensions(driven):
    engine, _, got = driven
    sid = got["subject"]["id"]
    daily = got["summaries"]["sum_daily_by_external_id"]
    assert [(r["period"]["start"], r["value"]) for r in daily] == [
        ("2025-10-01T00:00:00Z", "12.5"), ("2025-10-02T00:00:00Z", "10.25")]  # Oct 3: no events, no row
    assert daily == library(engine, got["metrics"]["sum"], sid, FIRST_DAYS, "day")
    counts = got["summaries"]["count_daily_by_region"]
    assert sorted((r["period"]["start"][:10], r["dimension_coordinates"]["region"], r["value"]) for r in counts) == [
        ("2025-10-01", "eu", "1"), ("2025-10-02", "eu", "1"), ("2025-10-02", "us", "1")]
    assert counts == library(engine, got["metrics"]["count"], sid, FIRST_DAYS, "day", ["region"])


def test_retry_of_an_idempotency_key_stores_nothing(driven):
    engine, _, _ = driven
    assert engine.count_events() == 3


def test_sdk_errors(driven):
    _, _, got = driven
    errors = dict(got["errors"])
    bad = errors.pop("bad_expression")
    assert errors == {"wrong_key": ["AuthenticationError", 401], "unknown_metric": ["NotFoundError", 404],
                      "unknown_subject": ["NotFoundError", 404]}
    # Lark's error shape (FastAPI's `detail`), the expression's diagnostics inside
    name, status, body = bad
    assert (name, status) == ("UnprocessableEntityError", 422)
    assert isinstance(body["detail"], str) and body["code"] == "invalid_expression"
    diag = body["diagnostics"][0]
    assert diag["code"].startswith("E") and diag["message"] and diag["span"] == [9, 9] and "hints" in diag


def test_subject_update_and_delete_through_the_sdk(driven):
    engine, _, got = driven
    u = got["subject_updates"]
    beta_id = u["by_id"]["id"]
    assert beta_id.startswith("subj_") and beta_id != got["subject"]["id"]
    # only the fields sent change; null clears
    assert (u["by_id"]["name"], u["by_id"]["email"], u["by_id"]["metadata"]) == ("Beta Ltd", "old@beta.test", {"tier": "2"})
    assert (u["by_external_id"]["name"], u["by_external_id"]["email"]) == ("Beta Ltd", None)
    assert u["retrieved"] == u["by_external_id"]
    assert u["renamed_external_id"]["external_id"] == "beta-new" and u["renamed_external_id"]["id"] == beta_id
    assert u["taken_external_id"] == ["ConflictError", 409, "conflict"]
    assert u["deleted"] == {"id": beta_id, "deleted": True}
    assert u["retrieve_deleted"] == u["update_deleted"] == u["delete_deleted"] == ["NotFoundError", 404]
    assert beta_id not in u["listed_ids"] and got["subject"]["id"] in u["listed_ids"]
    assert engine.count_events() == 3


def test_http_errors_are_json(driven):
    _, url, _ = driven
    h = {"X-API-Key": KEY}
    with httpx.Client(base_url=url, timeout=10) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        unauth = c.get("/lark/subjects")
        assert unauth.status_code == 401 and unauth.json()["code"] == "unauthorized" and unauth.json()["detail"]
        assert c.get("/lark/subjects", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        bad = c.post("/lark/pricing-metrics", headers=h, json={
            "aggregation": {"aggregation_type": "sum", "value": "tokens *"}, "event_name": "call", "name": "x",
            "unit": "u"})
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_expression" and bad.json()["detail"]
        diag = bad.json()["diagnostics"][0]
        assert diag["code"].startswith("E") and diag["span"] == [8, 8]
        body = c.post("/lark/pricing-metrics", headers=h, json={"aggregation": "nope"})
        assert body.status_code == 422 and body.json()["code"] == "invalid_request"
        assert body.json()["problems"] and isinstance(body.json()["detail"], str)
        period = c.post(f"/lark/pricing-metrics/{'x' * 3}/summary", headers=h,
                        json={"period": {"start": "a", "end": "b"}, "subject_id": "s"})
        assert period.status_code == 404
        taken = c.post("/lark/subjects", headers=h, json={"external_id": "acme-ext"})
        assert taken.status_code == 409
        hostile = c.get("/lark/subjects/x' OR '1'='1", headers=h)
        assert hostile.status_code == 404
        for method in ("PUT", "PATCH"):
            assert c.request(method, "/lark/subjects/x'; DROP TABLE subjects; --", headers=h,
                             json={"name": "n"}).status_code == 404
        assert c.delete("/lark/subjects/x' OR '1'='1", headers=h).status_code == 404
        assert c.patch("/lark/subjects/acme-ext", headers=h, json={"nope": 1}).status_code == 422
        assert c.get("/lark/subjects/acme-ext", headers=h).status_code == 200  # nothing was dropped


def test_patch_changes_only_what_is_sent(served):
    engine, url = served
    h = {"X-API-Key": KEY}
    with httpx.Client(base_url=url, timeout=10) as c:
        made = c.post("/lark/subjects", headers=h, json={"external_id": "gamma'ext", "name": "G", "email": "g@x.test",
                                                           "metadata": {"a": "1"}}).json()
        got = c.patch("/lark/subjects/gamma'ext", headers=h, json={"metadata": {"b": "2"}}).json()
        assert got == {**made, "metadata": {"b": "2"}}
        assert c.get(f"/lark/subjects/{made['id']}", headers=h).json() == got
        same = c.patch(f"/lark/subjects/{made['id']}", headers=h, json={"external_id": "gamma'ext"})
        assert same.status_code == 200 and same.json() == got  # its own external id is not a conflict
        assert c.delete("/lark/subjects/gamma'ext", headers=h).json() == {"id": made["id"], "deleted": True}
        assert c.get("/lark/subjects/gamma'ext", headers=h).status_code == 404


def test_concurrent_creates_and_renames_keep_external_ids_unique(served):
    """16 requests at once for the same external id (creates, and renames of other subjects to
    it): exactly one wins, the others are 409, and one subject holds it."""
    from concurrent.futures import ThreadPoolExecutor

    engine, url = served
    h = {"X-API-Key": KEY}
    with httpx.Client(base_url=url, timeout=30) as c:
        others = [c.post("/lark/subjects", headers=h, json={"name": f"r{i}"}).json()["id"] for i in range(8)]

        def create(i):
            return c.post("/lark/subjects", headers=h, json={"external_id": "contested", "name": f"c{i}"}).status_code

        def rename(sid):
            return c.patch(f"/lark/subjects/{sid}", headers=h, json={"external_id": "contested"}).status_code

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(create, i) for i in range(8)] + [pool.submit(rename, sid) for sid in others]
            codes = [f.result() for f in futures]
        assert sorted(codes).count(200) == 1 and sorted(codes).count(409) == 15, codes
        listed = c.get("/lark/subjects", headers=h, params={"limit": 1000}).json()["subjects"]
        assert [s["external_id"] for s in listed].count("contested") == 1
