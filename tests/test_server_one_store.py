"""One store answered through all three APIs (SPEC §11: "a metric created through any API is the
same metric in all three"), on both engines.

An Orb customer, a Lago subscription id and a Lark subject external id name one subject; events
posted through Orb, Lago and Lark land in one store with one idempotency space; a Lago billable
metric, an Orb SQL metric and a Lark pricing metric over the same property all answer the same
total through Lark's summary route, Orb's evaluate and the library. The official Orb and Lago SDKs
drive their halves in-process; Lark's routes are called with httpx here (its SDK cannot share a
process with the parser, see test_server_lark.py, which drives it)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import orb
import pytest
from lago_python_client import Client as LagoClient
from lago_python_client.models.billable_metric import BillableMetric
from lago_python_client.models.event import Event

from engine_fixtures import ENGINES, dispose, new_engine
from server_fixtures import serving
from meterql.metric import Metric

KEY = "test-key-one-store"
# Ten days ago at a whole hour: inside Orb's 100-day lookback and 5-minute future limit.
BASE = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=10)
START, END = BASE - timedelta(days=1), BASE + timedelta(days=1)



@pytest.fixture(scope="module", params=ENGINES)
def served(request):
    engine = new_engine(request.param)
    with serving(engine, [KEY]) as url, httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": KEY}) as lark:
        yield (engine, orb.Orb(api_key=KEY, base_url=url + "/orb/v1", _strict_response_validation=True,
                               max_retries=0), LagoClient(api_key=KEY, api_url=url + "/lago/"), lark)
    dispose(engine)


def test_one_store_through_three_apis(served):
    engine, orb_c, lago_c, lark = served
    # One subject: an Orb customer with external id "acme" is Lago's subscription "acme" and
    # Lark's subject "acme".
    acme = orb_c.customers.create(name="Acme", email="ap@acme.test", external_customer_id="acme")
    subject = lark.get("/lark/subjects/acme").json()
    assert subject["id"] == acme.id

    # One metric per API, all the sum of `tokens` over events named "tokens".
    lago_m = lago_c.billable_metrics.create(BillableMetric(name="Tokens", code="tokens", aggregation_type="sum_agg",
                                                           field_name="tokens"))
    item = orb_c.items.create(name="Tokens")
    orb_m = orb_c.metrics.create(description=None, item_id=item.id, name="Tokens",
                                 sql="SELECT sum(tokens) FROM events WHERE event_name = 'tokens'")
    made = lark.post("/lark/pricing-metrics", json={
        "aggregation": {"aggregation_type": "sum", "value_field": "tokens"},
        "event_name": "tokens", "name": "Tokens", "unit": "tokens"})
    assert made.status_code == 200, made.text
    lark_id = made.json()["id"]

    # Events through each API: 1.5 (Orb) + 2.25 (Lago) + 3 (Lark) = 6.75.
    orb_c.events.ingest(events=[{"event_name": "tokens", "idempotency_key": "ev-orb", "timestamp": BASE,
                                 "external_customer_id": "acme", "properties": {"tokens": "1.5"}}])
    lago_c.events.create(Event(transaction_id="ev-lago", external_subscription_id="acme", code="tokens",
                               timestamp=str(int(BASE.timestamp()) + 60), properties={"tokens": "2.25"}))
    posted = lark.post("/lark/usage-events", json={
        "idempotency_key": "ev-lark", "event_name": "tokens", "subject_id": "acme",
        "timestamp": (BASE + timedelta(minutes=2)).isoformat(), "data": {"tokens": "3"}})
    assert posted.status_code < 300, posted.text
    # One idempotency space: Orb's key re-sent through Lago (and Lark's through Orb) stores nothing.
    lago_c.events.create(Event(transaction_id="ev-orb", external_subscription_id="acme", code="tokens",
                               timestamp=str(int(BASE.timestamp())), properties={"tokens": "1000"}))
    orb_c.events.ingest(events=[{"event_name": "tokens", "idempotency_key": "ev-lark", "timestamp": BASE,
                                 "external_customer_id": "acme", "properties": {"tokens": "1000"}}])
    assert engine.count_events() == 3

    # Every metric's Lark summary is 6.75, and equals the library's answer.
    period = {"start": START.isoformat(), "end": END.isoformat()}
    library = engine.summary(Metric.from_dict({"code": "tokens", "aggregation": "sum", "event_name": "tokens",
                                               "value": "tokens"}), acme.id, period)
    assert [r.to_dict()["value"] for r in library] == ["6.75"]
    for mid in (lago_m.lago_id, orb_m.id, lark_id):
        rows = lark.post(f"/lark/pricing-metrics/{mid}/summary", json={"subject_id": "acme", "period": period})
        assert rows.status_code == 200, rows.text
        assert [r["value"] for r in rows.json()] == ["6.75"], mid
        assert [r["subject_id"] for r in rows.json()] == [acme.id]

    # Orb prices the Lago metric's quantity too: a unit price of 0.1 on the Orb metric → 0.675.
    price = orb_c.prices.create(model_type="unit", name="Tokens", item_id=item.id, cadence="monthly",
                                currency="USD", billable_metric_id=orb_m.id, unit_config={"unit_amount": "0.1"})
    got = orb_c.prices.evaluate(price.id, external_customer_id="acme", timeframe_start=START, timeframe_end=END)
    assert [(g.quantity, g.amount) for g in got.data] == [(6.75, "0.675")]

    # The Lago metric is listed as a Lark pricing metric, the Orb metric too.
    listed = {m["id"] for m in lark.get("/lark/pricing-metrics").json()["pricing_metrics"]}
    assert {lago_m.lago_id, orb_m.id, lark_id} <= listed
