"""`meterql serve` driven by Orb's own SDK (`orb-billing` 4.90.0, strict response validation), on
both engines.

The server runs on uvicorn in a thread on 127.0.0.1 (a free port); the SDK runs in-process. Every
evaluation must equal `engine.evaluate_price` on the same store, and the simple ones are also
worked out by hand from the events posted below."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import orb
import pytest

from engine_fixtures import ENGINES, dispose, new_engine
from server_fixtures import serving
from meterql.numbers import canonical
from meterql.orb_sql import metric_from_sql
from meterql.pricing.models import Price

KEY = "test-key-0123456789"
HOUR = timedelta(hours=1)
NOW = datetime.now(timezone.utc)
# An hour 50 days ago: inside Orb's 100-day lookback, and hours there are whole UTC hours.
BASE = NOW.replace(minute=0, second=0, microsecond=0) - timedelta(days=50)
BASE_MS = int(BASE.timestamp()) * 1000
START, END = BASE - HOUR, BASE + 3 * HOUR



@pytest.fixture(scope="module", params=ENGINES)
def served(request):
    engine = new_engine(request.param)
    with serving(engine, [KEY]) as url:
        yield engine, url
    dispose(engine)


def sdk(url: str, **kw) -> orb.Orb:
    return orb.Orb(api_key=KEY, base_url=url + "/orb/v1", _strict_response_validation=True, max_retries=0, **kw)


def at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


# acme's events: four `call`s (n = 1.5, 2, 0.25, 4) over two hours, one `other` that no metric reads.
CALLS = [
    ("e0", 10, {"n": 1.5, "region": "eu", "user": "u1", "flag": True}),
    ("e1", 20, {"n": 2, "region": "us", "user": "u2"}),
    ("e2", 70, {"n": 0.25, "region": "eu", "user": "u1", "flag": False}),
    ("e3", 80, {"n": 4, "region": "eu", "user": "u3"}),
]
SQL = {
    "sum": "SELECT sum(n) FROM events WHERE event_name = 'call'",
    "count": "SELECT count(*) FROM events WHERE event_name = 'call'",
    "count_flag": "SELECT count(flag) FROM events",
    "min": "select MIN(n) from events where event_name = 'call'",
    "max": "SELECT max(n) FROM events WHERE event_name = 'call'",
    "avg": "SELECT avg(n) FROM events WHERE event_name = 'call'",
    "distinct": "SELECT count(DISTINCT user) FROM events WHERE event_name = 'call'",
}
# By hand over CALLS: sum 7.75, count 4, flags 2, min 0.25, max 4, avg 7.75/4, users u1 u2 u3.
BY_HAND = {"sum": "7.75", "count": "4", "count_flag": "2", "min": "0.25", "max": "4", "avg": "1.9375", "distinct": "3"}
CONFIGS = {
    "unit": {"unit_amount": "0.1"},
    "package": {"package_amount": "5", "package_size": 2},
    "tiered": {"tiers": [{"first_unit": 0, "last_unit": 3, "unit_amount": "1"}, {"first_unit": 3, "unit_amount": "0.5"}]},
    "bulk": {"tiers": [{"maximum_units": 3, "unit_amount": "1"}, {"unit_amount": "0.5"}]},
    "matrix": {"dimensions": ["region"], "default_unit_amount": "1",
               "matrix_values": [{"dimension_values": ["eu"], "unit_amount": "2"}]},
}
# The sum metric (7.75) under each model, by hand: 0.775; ceil(7.75/2)=4 packages × 5; 3×1 + 4.75×0.5;
# all 7.75 at the second bulk tier; eu 5.75×2 + us 2×1.
PRICED = {"unit": "0.775", "package": "20", "tiered": "5.375", "bulk": "3.875", "matrix": "13.5"}


@pytest.fixture(scope="module")
def world(served):
    engine, url = served
    c = sdk(url)
    acme = c.customers.create(name="Acme", email="billing@acme.test", external_customer_id="acme", currency="USD",
                              timezone="Europe/Paris", metadata={"plan": "pro"})
    globex = c.customers.create(name="Globex", email="ap@globex.test")
    item = c.items.create(name="API calls")
    metrics = {k: c.metrics.create(description=f"{k} of calls", item_id=item.id, name=k, sql=sql) for k, sql in SQL.items()}
    events = [{"event_name": "call", "idempotency_key": key, "properties": props, "timestamp": at(minute),
               "external_customer_id": "acme"} for key, minute, props in CALLS]
    events += [{"event_name": "other", "idempotency_key": "o1", "properties": {"n": 1000, "region": "eu"},
                "timestamp": at(15), "customer_id": acme.id},
               {"event_name": "call", "idempotency_key": "g1", "properties": {"n": 100, "region": "eu", "user": "u1"},
                "timestamp": at(15), "customer_id": globex.id}]
    first = c.events.ingest(events=events, extra_headers={"Idempotency-Key": "batch-1"})
    prices = {mt: c.prices.create(**{"model_type": mt, "name": f"calls ({mt})", "item_id": item.id,
                                     "cadence": "monthly", "currency": "USD", "billable_metric_id": metrics["sum"].id,
                                     f"{mt}_config": cfg})
              for mt, cfg in CONFIGS.items()}
    return {"engine": engine, "url": url, "c": c, "acme": acme, "globex": globex, "item": item, "metrics": metrics,
            "prices": prices, "events": events, "first_ingest": first}


def evaluate_raw(w, price_id, **body) -> dict:
    """The evaluate response as JSON with numbers read exactly (Decimal), via the SDK's raw response."""
    raw = w["c"].prices.with_raw_response.evaluate(price_id, **body)
    raw.parse()  # the SDK's own (strict) model accepts it
    return json.loads(raw.http_response.text, parse_float=Decimal)


def library(w, model_type, subject_id, start, end, filter=None, keys=()) -> list[dict]:
    """`engine.evaluate_price` on the same store, grouping values typed as the keys' types are."""
    metric = metric_from_sql(SQL["sum"], w["metrics"]["sum"].id)
    price = Price.from_dict({"model_type": model_type, f"{model_type}_config": CONFIGS[model_type], "metric": metric})
    rows = w["engine"].evaluate_price(price, subject_id, start, end, filter, list(keys))

    def typed(key, value):
        return Decimal(value) if key.startswith("hour_floor") else value

    return [{"grouping_values": [typed(k, v) for k, v in zip(keys, r.grouping_values)], "quantity": r.quantity,
             "amount": canonical(r.amount)} for r in rows]


# --- customers, items, metrics, prices ------------------------------------------------------------


def test_customers(world):
    c, acme, globex = world["c"], world["acme"], world["globex"]
    assert acme.id.startswith("subj_") and acme.external_customer_id == "acme"
    assert (acme.name, acme.email, acme.currency, acme.timezone, acme.metadata) == (
        "Acme", "billing@acme.test", "USD", "Europe/Paris", {"plan": "pro"})
    assert c.customers.fetch(acme.id) == acme
    assert c.customers.fetch_by_external_id("acme") == acme
    assert globex.external_customer_id is None and globex.timezone == "UTC"
    listed = [x.id for x in c.customers.list()]
    assert acme.id in listed and globex.id in listed
    page = c.customers.list(limit=1)
    assert len(page.data) == 1 and page.has_next_page()
    assert {x.id for x in c.customers.list(limit=1)} == set(listed)  # auto-paging follows next_cursor
    # An Orb customer is a catalogue subject (the Lark API sees it).
    with httpx.Client(base_url=world["url"], headers={"X-API-Key": KEY}) as h:
        assert h.get(f"/lark/subjects/{acme.id}").json()["external_id"] == "acme"


def test_items_and_metrics(world):
    c, item, metrics = world["c"], world["item"], world["metrics"]
    assert item.id.startswith("item_") and item.name == "API calls" and item.external_connections == []
    for k, m in metrics.items():
        assert m.sql == SQL[k] and m.name == k and m.item.id == item.id and m.status == "active"
        assert c.metrics.fetch(m.id) == m
    listed = [m.id for m in c.metrics.list()]
    assert [m.id for m in metrics.values()] == [i for i in listed if i in {m.id for m in metrics.values()}]


def test_every_aggregate_by_hand_and_through_lark_summary(world):
    """Each SQL metric is one catalogue metric: its Lark summary equals `engine.summary` and the
    value worked out by hand."""
    engine, acme = world["engine"], world["acme"]
    period = {"start": START.isoformat(), "end": END.isoformat()}
    with httpx.Client(base_url=world["url"], headers={"X-API-Key": KEY}) as h:
        for k, m in world["metrics"].items():
            got = h.post(f"/lark/pricing-metrics/{m.id}/summary", json={"period": period, "subject_id": acme.id})
            assert got.status_code == 200, got.text
            rows = got.json()
            assert [r["value"] for r in rows] == [BY_HAND[k]], k
            lib = engine.summary(metric_from_sql(SQL[k], m.id), acme.id, period)
            assert rows == [r.to_dict() for r in lib]


def test_prices_of_every_model(world):
    c, prices = world["c"], world["prices"]
    for mt, p in prices.items():
        assert p.price_model_type == mt and p.billable_metric.id == world["metrics"]["sum"].id
        assert p.item.id == world["item"].id and p.currency == "USD" and p.cadence == "monthly"
        assert c.prices.fetch(p.id) == p
    assert prices["unit"].unit_config.unit_amount == "0.1"
    assert prices["package"].package_config.package_size == 2
    assert [t.first_unit for t in prices["tiered"].tiered_config.tiers] == [0, 3]
    assert prices["tiered"].tiered_config.tiers[1].last_unit is None
    assert prices["matrix"].matrix_config.matrix_values[0].dimension_values == ["eu"]


# --- evaluate (seed 003) ----------------------------------------------------------------------------


def test_evaluate_every_model_by_hand_and_by_the_library(world):
    acme = world["acme"]
    for mt, p in world["prices"].items():
        got = evaluate_raw(world, p.id, customer_id=acme.id, timeframe_start=START, timeframe_end=END)
        assert got == {"data": [{"grouping_values": [], "quantity": Decimal("7.75"), "amount": PRICED[mt]}]}, mt
        assert got["data"] == library(world, mt, acme.id, START, END)
        by_ext = evaluate_raw(world, p.id, external_customer_id="acme", timeframe_start=START, timeframe_end=END)
        assert by_ext == got


def test_quantity_is_an_exact_json_number(world):
    raw = world["c"].prices.with_raw_response.evaluate(world["prices"]["unit"].id, customer_id=world["acme"].id,
                                                       timeframe_start=START, timeframe_end=END)
    assert '"quantity":7.75,' in raw.http_response.text and '"amount":"0.775"' in raw.http_response.text


def test_evaluate_with_filter_and_grouping_keys(world):
    acme, prices = world["acme"], world["prices"]
    keys = ["region", "hour_floor_timestamp_millis(timestamp_millis)"]
    got = evaluate_raw(world, prices["unit"].id, customer_id=acme.id, timeframe_start=START, timeframe_end=END,
                       grouping_keys=keys)
    h0, h1 = Decimal(BASE_MS), Decimal(BASE_MS + 3_600_000)
    # by hand: eu 1.5 @ h0; eu 0.25 + 4 @ h1; us 2 @ h0 — hour values are JSON numbers
    assert got["data"] == [
        {"grouping_values": ["eu", h0], "quantity": Decimal("1.5"), "amount": "0.15"},
        {"grouping_values": ["eu", h1], "quantity": Decimal("4.25"), "amount": "0.425"},
        {"grouping_values": ["us", h0], "quantity": Decimal("2"), "amount": "0.2"},
    ]
    assert got["data"] == library(world, "unit", acme.id, START, END, None, keys)
    for mt in CONFIGS:
        for flt, ks in ((None, ["region"]), ("region = 'eu' AND n > 1", []), ("user != 'u2'", keys)):
            got = evaluate_raw(world, prices[mt].id, customer_id=acme.id, timeframe_start=START,
                               timeframe_end=END, filter=flt, grouping_keys=ks)
            assert got["data"] == library(world, mt, acme.id, START, END, flt, ks), (mt, flt, ks)
    eu = evaluate_raw(world, prices["tiered"].id, customer_id=acme.id, timeframe_start=START, timeframe_end=END,
                      filter="region = 'eu' AND n > 1")
    assert eu["data"] == [{"grouping_values": [], "quantity": Decimal("5.5"), "amount": "4.25"}]  # 3×1 + 2.5×0.5


def test_grouping_values_are_typed(world):
    got = evaluate_raw(world, world["prices"]["unit"].id, customer_id=world["acme"].id, timeframe_start=START,
                       timeframe_end=END, grouping_keys=["n > 1", "region"])
    assert [r["grouping_values"] for r in got["data"]] == [[False, "eu"], [True, "eu"], [True, "us"]]


def test_timeframe_start_inclusive_end_exclusive(world):
    acme, unit = world["acme"], world["prices"]["unit"].id
    got = evaluate_raw(world, unit, customer_id=acme.id, timeframe_start=at(10), timeframe_end=at(70))
    assert got["data"][0]["quantity"] == Decimal("3.5")  # e0 (at 10, included) + e1; e2 at 70 excluded


def test_the_100_day_lookback_edge(world):
    acme, unit = world["acme"], world["prices"]["unit"].id
    now = datetime.now(timezone.utc)
    inside = now - timedelta(days=100) + timedelta(seconds=60)
    got = evaluate_raw(world, unit, customer_id=acme.id, timeframe_start=inside, timeframe_end=END,
                       grouping_keys=["hour_floor_timestamp_millis(timestamp_millis)"])
    assert [r["quantity"] for r in got["data"]] == [Decimal("3.5"), Decimal("4.25")]
    with pytest.raises(orb.RequestValidationError) as info:
        world["c"].prices.evaluate(unit, customer_id=acme.id, timeframe_start=now - timedelta(days=100, seconds=60),
                                   timeframe_end=END)
    assert info.value.status_code == 400 and "100 days" in info.value.body["detail"]


def test_the_1000_row_limit(world):
    c = world["c"]
    many = c.customers.create(name="Many", email="m@x.test", external_customer_id="many")
    c.events.ingest(events=[{"event_name": "call", "idempotency_key": f"m{i}", "properties": {"n": 1, "seq": i},
                             "timestamp": at(30), "customer_id": many.id} for i in range(1001)])
    unit = world["prices"]["unit"].id
    ok = c.prices.evaluate(unit, customer_id=many.id, timeframe_start=START, timeframe_end=END,
                           filter="seq < 1000", grouping_keys=["seq"])
    assert len(ok.data) == 1000
    with pytest.raises(orb.RequestValidationError) as info:
        c.prices.evaluate(unit, customer_id=many.id, timeframe_start=START, timeframe_end=END, grouping_keys=["seq"])
    assert "1000 rows" in info.value.body["detail"]


# --- ingest ---------------------------------------------------------------------------------------


def test_ingest_retries_store_nothing_new(world):
    c, engine = world["c"], world["engine"]
    assert world["first_ingest"].validation_failed == [] and world["first_ingest"].debug is None
    stored = engine.count_events()
    # Same Idempotency-Key header: the stored answer, nothing stored.
    again = c.events.ingest(events=world["events"], extra_headers={"Idempotency-Key": "batch-1"})
    assert again == world["first_ingest"] and engine.count_events() == stored
    # A new request key, the same event idempotency_keys: nothing stored; debug names them duplicates.
    dup = c.events.ingest(events=world["events"][:2], extra_query={"debug": "true"})
    assert dup.debug == {"duplicate": ["e0", "e1"], "ingested": []} and engine.count_events() == stored
    # The key reused for another request: Orb's 409 resource conflict.
    with pytest.raises(orb.ResourceConflict):
        c.events.ingest(events=world["events"][:1], extra_headers={"Idempotency-Key": "batch-1"})
    # One batch holding one idempotency_key with two bodies: the whole batch is rejected.
    twice = [dict(world["events"][0], idempotency_key="z1"), dict(world["events"][1], idempotency_key="z1")]
    with pytest.raises(orb.RequestValidationError):
        c.events.ingest(events=twice)
    assert engine.count_events() == stored


def test_ingest_validation_and_unknown_external_customer(world):
    c, engine = world["c"], world["engine"]
    stored = engine.count_events()
    bad = [{"event_name": "call", "idempotency_key": "v1", "properties": {"n": 1}, "timestamp": at(5),
            "customer_id": "subj_nope"},
           {"event_name": "call", "idempotency_key": "v2", "properties": {"n": 1},
            "timestamp": NOW + timedelta(hours=1), "external_customer_id": "acme"},
           {"event_name": "call", "idempotency_key": "v3", "properties": {"n": 1}, "timestamp": at(5)},
           {"event_name": "call", "idempotency_key": "v4", "properties": {"n": 3}, "timestamp": at(5),
            "external_customer_id": "later"}]
    with pytest.raises(orb.RequestValidationError) as info:
        c.events.ingest(events=bad)
    failed = info.value.body["validation_failed"]
    assert [f["idempotency_key"] for f in failed] == ["v1", "v2", "v3"]
    assert "does not exist" in failed[0]["validation_errors"][0] and "future" in failed[1]["validation_errors"][0]
    # v4 was stored: Orb attributes events of an unknown external_customer_id to the customer created later.
    assert engine.count_events() == stored + 1
    later = c.customers.create(name="Later", email="l@x.test", external_customer_id="later")
    got = evaluate_raw(world, world["prices"]["unit"].id, customer_id=later.id, timeframe_start=START,
                       timeframe_end=END)
    assert got["data"] == [{"grouping_values": [], "quantity": Decimal(3), "amount": "0.3"}]
    with pytest.raises(orb.DuplicateResourceCreation):
        c.customers.create(name="Later again", email="l@x.test", external_customer_id="later")


# --- errors ---------------------------------------------------------------------------------------

HOSTILE_SQL = [
    "SELECT sum(n) FROM events; DROP TABLE events",
    "SELECT sum(n) FROM events WHERE a = 1 -- AND tenant = 'x'",
    "SELECT sum(n) /* x */ FROM events",
    "SELECT sum(n) FROM events WHERE subject_id IN (SELECT subject_id FROM events)",
    "SELECT sum(n) FROM events JOIN customers ON a = b",
    "SELECT sum(n) FROM system.users",
    "SELECT sum(n) FROM events GROUP BY region",
    "SELECT sum(n), max(n) FROM events",
    "SELECT sum(n) FROM events WHERE a = 'unterminated",
    "SELECT sum(rond(n)) FROM events",
    "x" * 10_000,
]


def test_hostile_sql_is_a_clean_400_and_stores_nothing(world):
    c = world["c"]
    before = len(c.metrics.list(limit=100).data)
    for sql in HOSTILE_SQL:
        with pytest.raises(orb.RequestValidationError) as info:
            c.metrics.create(description=None, item_id=world["item"].id, name="bad", sql=sql)
        body = info.value.body
        assert body["status"] == 400 and body["validation_errors"], sql
        assert all(d["code"].startswith("E") for d in body["diagnostics"])
    assert len(c.metrics.list(limit=100).data) == before


def test_bad_bodies_and_unknown_ids(world):
    c, acme, item, unit = world["c"], world["acme"], world["item"], world["prices"]["unit"].id
    metric = world["metrics"]["sum"].id
    cases = [
        (orb.RequestValidationError, lambda: c.customers.create(name="x", email=None)),  # type: ignore[arg-type]
        (orb.RequestValidationError, lambda: c.prices.create(model_type="tiered_package", name="x", item_id=item.id,
                                                             cadence="monthly", currency="USD",
                                                             tiered_package_config={"package_size": 1, "tiers": []})),
        (orb.RequestValidationError, lambda: c.prices.create(model_type="unit", name="x", item_id=item.id,
                                                             cadence="monthly", currency="USD", billable_metric_id=metric,
                                                             unit_config={"unit_amount": "-1"})),
        (orb.RequestValidationError, lambda: c.prices.create(model_type="tiered", name="x", item_id=item.id,
                                                             cadence="monthly", currency="USD", billable_metric_id=metric,
                                                             tiered_config={"tiers": [{"first_unit": 0, "last_unit": 3,
                                                                                       "unit_amount": "1"}]})),
        (orb.ResourceNotFound, lambda: c.prices.create(model_type="unit", name="x", item_id=item.id, cadence="monthly",
                                                       currency="USD", billable_metric_id="pmtr_nope",
                                                       unit_config={"unit_amount": "1"})),
        (orb.ResourceNotFound, lambda: c.metrics.create(description=None, item_id="item_nope", name="x",
                                                        sql="SELECT count(*) FROM events")),
        (orb.ResourceNotFound, lambda: c.customers.fetch("subj_nope")),
        (orb.ResourceNotFound, lambda: c.customers.fetch_by_external_id("nope")),
        (orb.ResourceNotFound, lambda: c.metrics.fetch("pmtr_nope")),
        (orb.ResourceNotFound, lambda: c.prices.fetch("price_nope")),
        (orb.ResourceNotFound, lambda: c.prices.evaluate("price_nope", customer_id=acme.id, timeframe_start=START,
                                                         timeframe_end=END)),
        (orb.ResourceNotFound, lambda: c.prices.evaluate(unit, customer_id="subj_nope", timeframe_start=START,
                                                         timeframe_end=END)),
        (orb.ResourceNotFound, lambda: c.prices.evaluate(unit, external_customer_id="nope", timeframe_start=START,
                                                         timeframe_end=END)),
        (orb.RequestValidationError, lambda: c.prices.evaluate(unit, customer_id=acme.id, external_customer_id="acme",
                                                               timeframe_start=START, timeframe_end=END)),
        (orb.RequestValidationError, lambda: c.prices.evaluate(unit, customer_id=acme.id, timeframe_start=END,
                                                               timeframe_end=START)),
        (orb.RequestValidationError, lambda: c.prices.evaluate(unit, customer_id=acme.id, timeframe_start=START,
                                                               timeframe_end=END, filter="region = ")),
        (orb.RequestValidationError, lambda: c.prices.evaluate(unit, customer_id=acme.id, timeframe_start=START,
                                                               timeframe_end=END, grouping_keys=["rond(n)"])),
        (orb.RequestValidationError, lambda: c.events.ingest(events=[{"event_name": "x"}])),  # type: ignore[list-item]
    ]
    for i, (cls, call) in enumerate(cases):
        with pytest.raises(cls) as info:
            call()
        body = info.value.body
        assert set(body) >= {"type", "status", "title", "detail"} and body["status"] == info.value.status_code, i
    with pytest.raises(orb.RequestValidationError) as info:
        c.prices.evaluate(unit, customer_id=acme.id, timeframe_start=START, timeframe_end=END, filter="region = ")
    assert info.value.body["diagnostics"][0]["code"] == "E102"


def test_http_level_errors_are_orbs_shape(world):
    url = world["url"]
    with httpx.Client(base_url=url + "/orb/v1", timeout=10) as h:
        assert h.get("/customers").json()["type"].endswith("#401-authentication-error")
        auth = {"Authorization": f"Bearer {KEY}"}
        assert h.get("/nope", headers=auth).json()["type"].endswith("#404-url-not-found")
        broken = h.post("/customers", headers=auth, content=b"{not json")
        assert broken.status_code == 400 and broken.json()["type"].endswith("#400-request-validation-errors")
        assert h.post("/items", headers=auth, content=b"").status_code == 400
        assert h.get("/customers?limit=x", headers=auth).status_code == 400
        hostile = h.get("/customers/x' OR '1'='1", headers=auth)
        assert hostile.status_code == 404
    with pytest.raises(orb.OrbAuthenticationError):
        orb.Orb(api_key="wrong", base_url=url + "/orb/v1", max_retries=0).customers.list()
