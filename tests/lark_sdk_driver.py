"""Drives a meterql server with Lark's own SDK (`lark-billing`), in its own process.

Run by tests/test_server_lark.py with the SDK first on sys.path: the SDK's package is named
`lark`, like the parser library meterql imports, so the two cannot share a process. Prints one
JSON object with what the SDK got back."""

import json
import sys

import lark  # lark-billing

base_url, key = sys.argv[1], sys.argv[2]
client = lark.Lark(api_key=key, base_url=base_url, max_retries=0)
out = {}

subject = client.subjects.create(external_id="acme-ext", name="Acme", metadata={"plan": "pro"})
out["subject"] = subject.model_dump(mode="json")
out["subject_by_external_id"] = client.subjects.retrieve("acme-ext").model_dump(mode="json")

metrics = {}
for kind in ("sum", "count", "max", "last"):
    agg = {"aggregation_type": kind} if kind == "count" else {"aggregation_type": kind, "value_field": "tokens"}
    m = client.pricing_metrics.create(aggregation=agg, event_name="call", name=f"tokens {kind}", unit="tokens")
    metrics[kind] = m.model_dump(mode="json")
out["metrics"] = metrics
out["metric_retrieved"] = client.pricing_metrics.retrieve(metrics["sum"]["id"]).model_dump(mode="json")
out["metric_list"] = client.pricing_metrics.list().model_dump(mode="json")

events = [
    ("e1", {"tokens": "12.5", "region": "eu"}, "2025-10-01T10:00:00Z", "acme-ext"),
    ("e2", {"tokens": 3, "region": "us"}, "2025-10-02T05:00:00Z", subject.id),
    ("e3", {"tokens": "7.25", "region": "eu"}, "2025-10-02T20:00:00Z", "acme-ext"),
    ("e1", {"tokens": "1000", "region": "us"}, "2025-10-03T00:00:00Z", "acme-ext"),  # a retry: stores nothing
]
for key_, data, ts, who in events:
    client.usage_events.create(idempotency_key=key_, event_name="call", data=data, subject_id=who, timestamp=ts)

october = {"start": "2025-10-01T00:00:00Z", "end": "2025-11-01T00:00:00Z", "inclusive_start": True,
           "inclusive_end": False}
first_days = {"start": "2025-10-01T00:00:00Z", "end": "2025-10-04T00:00:00Z"}
summaries = {}
for kind, m in metrics.items():
    rows = client.pricing_metrics.create_summary(m["id"], period=october, subject_id="acme-ext")
    summaries[kind] = [r.model_dump(mode="json") for r in rows]
summaries["sum_by_region_by_id"] = [r.model_dump(mode="json") for r in client.pricing_metrics.create_summary(
    metrics["sum"]["id"], period=october, subject_id=subject.id, dimensions=["region"])]
summaries["sum_daily_by_external_id"] = [r.model_dump(mode="json") for r in client.pricing_metrics.create_summary(
    metrics["sum"]["id"], period=first_days, subject_id="acme-ext", period_granularity="day")]
summaries["count_daily_by_region"] = [r.model_dump(mode="json") for r in client.pricing_metrics.create_summary(
    metrics["count"]["id"], period=first_days, subject_id=subject.id, period_granularity="day",
    dimensions=["region"])]
out["summaries"] = summaries

# subjects.update (PUT) and subjects.delete, by id and by external id
beta = client.subjects.create(external_id="beta-ext", name="Beta", email="old@beta.test", metadata={"tier": "1"})
updates = {}
updates["by_id"] = client.subjects.update(beta.id, name="Beta Ltd", metadata={"tier": "2"}).model_dump(mode="json")
updates["by_external_id"] = client.subjects.update("beta-ext", email=None).model_dump(mode="json")
updates["retrieved"] = client.subjects.retrieve(beta.id).model_dump(mode="json")
updates["renamed_external_id"] = client.subjects.update(
    beta.id, extra_body={"external_id": "beta-new"}).model_dump(mode="json")
try:
    client.subjects.update(beta.id, extra_body={"external_id": "acme-ext"})  # taken by acme
except lark.APIStatusError as exc:
    updates["taken_external_id"] = [type(exc).__name__, exc.status_code, exc.body.get("code")]
updates["deleted"] = client.subjects.delete("beta-new")
for name, call in (("retrieve_deleted", lambda: client.subjects.retrieve(beta.id)),
                   ("update_deleted", lambda: client.subjects.update(beta.id, name="x")),
                   ("delete_deleted", lambda: client.subjects.delete("beta-new"))):
    try:
        call()
    except lark.APIStatusError as exc:
        updates[name] = [type(exc).__name__, exc.status_code]
updates["listed_ids"] = [s.id for s in client.subjects.list().subjects]
out["subject_updates"] = updates

errors = {}
try:
    lark.Lark(api_key="wrong-key", base_url=base_url, max_retries=0).subjects.list()
except lark.APIStatusError as exc:
    errors["wrong_key"] = [type(exc).__name__, exc.status_code]
try:
    client.pricing_metrics.retrieve("pmtr_doesnotexist")
except lark.APIStatusError as exc:
    errors["unknown_metric"] = [type(exc).__name__, exc.status_code]
try:
    client.pricing_metrics.create_summary(metrics["sum"]["id"], period=october, subject_id="nobody")
except lark.APIStatusError as exc:
    errors["unknown_subject"] = [type(exc).__name__, exc.status_code]
try:
    client.pricing_metrics.create(aggregation={"aggregation_type": "sum", "value_field": "tokens"},
                                  extra_body={"filter": "region = "}, event_name="call", name="bad", unit="u")
except lark.APIStatusError as exc:
    errors["bad_expression"] = [type(exc).__name__, exc.status_code, exc.body]
out["errors"] = errors
print(json.dumps(out))
