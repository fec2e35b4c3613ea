"""Lark's API under `/lark`: pricing metrics, their summaries (seed 002), subjects, usage events.

The routes and shapes are those of the `lark-billing` SDK (0.9.0; its types are the contract), so
`lark.Lark(api_key=…, base_url="http://host:port/lark")` works against the service."""

from __future__ import annotations

import time
from typing import Any, Literal, Optional, Union

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from ..metric import Metric, quote_property
from .service import ApiError, Service, exact_json

PREFIX = "/lark"


def error_body(status: int, code: str, message: str, extra: dict[str, Any]) -> dict[str, Any]:
    """`lark-billing` reads no field of an error body: it keeps the whole JSON as
    `APIStatusError.body` and picks the exception class by status alone. Lark publishes no error
    schema (none in the SDK's types), so meterql answers the common `{"detail": …}` of
    FastAPI-style APIs: `detail` is the message, and meterql's machine `code` and extras (an
    expression's `diagnostics` with code, message, span, hints; a body's `problems`) sit beside it."""
    return {"detail": message, "code": code, **extra}


# Lark's aggregation names → meterql's (SPEC §4); meterql's own names are accepted as they are.
LARK_AGGREGATIONS = {"sum": "sum", "count": "count", "max": "max", "last": "latest"}
SHOWN_AS = {"latest": "last"}
MAX_LIST = 1000


# --- request models (the lark-billing SDK's params; meterql's extensions beside them) ----------


class AggregationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aggregation_type: str
    value_field: Optional[str] = None
    custom_expression: Optional[str] = None
    # meterql's extensions: a value expression instead of a field, rounding
    value: Optional[str] = None


class PricingMetricIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aggregation: AggregationIn
    event_name: str
    name: str
    unit: str
    dimensions: Optional[list[str]] = None
    filter: Optional[str] = None
    rounding: Optional[Literal["round", "ceil", "floor"]] = None
    rounding_precision: Optional[int] = None


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str
    end: str
    inclusive_start: Optional[bool] = None
    inclusive_end: Optional[bool] = None


class SummaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: PeriodIn
    subject_id: str
    dimensions: Optional[list[str]] = None
    period_granularity: Optional[str] = None


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: Optional[str] = None
    name: Optional[str] = None
    email: Optional[str] = None
    metadata: dict[str, str] = Field(default_factory=dict)


class SubjectUpdateIn(BaseModel):
    """The SDK's `SubjectUpdateParams` (email, metadata, name); `external_id` is meterql's extension
    (still unique). A field left out stays as it is; null clears it."""
    model_config = ConfigDict(extra="forbid")
    external_id: Optional[str] = None
    name: Optional[str] = None
    email: Optional[str] = None
    metadata: Optional[dict[str, str]] = None


class UsageEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict[str, Union[str, int, float, bool, None]]
    event_name: str
    idempotency_key: str
    subject_id: str
    timestamp: Optional[str] = None


# --- metric payload ↔ meterql Metric ------------------------------------------------------------


def metric_of(record: dict[str, Any]) -> Metric:
    """The meterql Metric a stored pricing metric means (code = its `pmtr_…` id)."""
    agg = record["aggregation"]
    kind = agg["aggregation_type"]
    value = agg.get("value") or agg.get("custom_expression")
    if value is None and agg.get("value_field") is not None:
        value = quote_property(agg["value_field"])
    out: dict[str, Any] = {"code": record["id"], "aggregation": LARK_AGGREGATIONS.get(kind, kind),
                           "event_name": record["event_name"]}
    if value is not None and kind != "count":
        out["value"] = value
    if record.get("filter") is not None:
        out["filter"] = record["filter"]
    if record.get("rounding") is not None:
        out["rounding"] = record["rounding"]
        out["rounding_precision"] = record.get("rounding_precision") or 0
    if record.get("recurring"):  # set by Lago's billable metrics (server/lago.py)
        out["recurring"] = True
    return Metric.from_dict(out)


def _payload(body: PricingMetricIn) -> dict[str, Any]:
    d = body.model_dump(exclude_none=True)
    if d["aggregation"]["aggregation_type"] == "last":
        d["aggregation"]["aggregation_type"] = "last"
    return d


def _metric_out(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    kind = out["aggregation"]["aggregation_type"]
    out["aggregation"] = {**out["aggregation"], "aggregation_type": SHOWN_AS.get(kind, kind)}
    out.setdefault("dimensions", None)
    return out


def _subject_out(s: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in s.items() if k != "created_ms"}
    out["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s["created_ms"] / 1000)) + \
        f".{s['created_ms'] % 1000:03d}Z"
    return out


# --- the routes ---------------------------------------------------------------------------------


def router(svc: Service) -> APIRouter:
    api = APIRouter(prefix=PREFIX)

    # --- pricing metrics ----------------------------------------------------------------------

    @api.post("/pricing-metrics")
    def create_pricing_metric(body: PricingMetricIn) -> dict[str, Any]:
        payload = _payload(body)
        svc.run(metric_of, {"id": "pmtr_new", **payload})  # a bad metric fails now, not when used
        return _metric_out(svc.run(svc.catalogue.create_metric, payload))

    @api.get("/pricing-metrics")
    def list_pricing_metrics(limit: int = 100) -> dict[str, Any]:
        limit = max(1, min(limit, MAX_LIST))
        found = svc.run(svc.catalogue.list_metrics, limit + 1)
        return {"has_more": len(found) > limit, "pricing_metrics": [_metric_out(m) for m in found[:limit]]}

    @api.get("/pricing-metrics/{pricing_metric_id}")
    def get_pricing_metric(pricing_metric_id: str) -> dict[str, Any]:
        return _metric_out(svc.metric_or_404(pricing_metric_id))

    @api.post("/pricing-metrics/{pricing_metric_id}/summary")
    def create_summary(pricing_metric_id: str, body: SummaryIn) -> list[dict[str, Any]]:
        metric = svc.run(metric_of, svc.metric_or_404(pricing_metric_id))
        subject = svc.subject_or_404(body.subject_id)
        names = list(body.dimensions or [])
        rows = svc.run(svc.engine.summary, metric, subject["id"], body.period.model_dump(exclude_none=True),
                   body.period_granularity, [quote_property(n) for n in names])
        out = []
        for r in rows:
            d = r.to_dict()
            d["dimension_coordinates"] = {n: v for n, (_, v) in zip(names, r.dimension_coordinates)}
            out.append(d)
        return out

    # --- subjects -----------------------------------------------------------------------------

    @api.post("/subjects")
    def create_subject(body: SubjectIn) -> dict[str, Any]:
        return _subject_out(svc.run(svc.catalogue.create_subject, body.external_id, body.name, body.email, body.metadata))

    @api.get("/subjects")
    def list_subjects(limit: int = 100, offset: int = 0) -> dict[str, Any]:
        limit, offset = max(1, min(limit, MAX_LIST)), max(0, offset)
        found = svc.run(svc.catalogue.list_subjects, limit + 1, offset)
        return {"has_more": len(found) > limit, "subjects": [_subject_out(s) for s in found[:limit]]}

    @api.get("/subjects/{subject_id}")
    def get_subject(subject_id: str) -> dict[str, Any]:
        return _subject_out(svc.subject_or_404(subject_id))

    # lark-billing 0.9.0's `subjects.update` sends PUT; PATCH (a partial update) means the same here.
    @api.put("/subjects/{subject_id}", operation_id="update_subject")
    def update_subject(subject_id: str, body: SubjectUpdateIn) -> dict[str, Any]:
        changes = {k: getattr(body, k) for k in body.model_fields_set}
        updated = svc.run(svc.catalogue.update_subject, subject_id, changes)
        if updated is None:
            raise ApiError(404, "not_found", "no subject with this id or external id")
        return _subject_out(updated)

    api.patch("/subjects/{subject_id}", operation_id="patch_subject")(update_subject)

    @api.delete("/subjects/{subject_id}")
    def delete_subject(subject_id: str) -> dict[str, Any]:
        """The subject is gone (its id and external id no longer resolve); its events stay stored."""
        deleted = svc.run(svc.catalogue.delete_subject, subject_id)
        if deleted is None:
            raise ApiError(404, "not_found", "no subject with this id or external id")
        return {"id": deleted["id"], "deleted": True}

    # --- usage events -------------------------------------------------------------------------

    @api.post("/usage-events")
    async def create_usage_event(request: Request, body: UsageEventIn) -> dict[str, Any]:
        # `data` re-read with exact decimals (the model decodes a JSON number as a float)
        data = exact_json(await request.body())["data"]
        return await run_in_threadpool(_usage_event, body, data)

    def _usage_event(body: UsageEventIn, data: dict[str, Any]) -> dict[str, Any]:
        subject = svc.subject_or_404(body.subject_id)
        ts: Any = body.timestamp if body.timestamp is not None else int(time.time() * 1000)
        report = svc.run(svc.engine.ingest, [{"event_id": body.idempotency_key, "subject_id": subject["id"],
                                      "event_name": body.event_name, "timestamp": ts,
                                      "properties": dict(data)}])
        if report.rejected:
            raise ApiError(422, "invalid_event", report.rejected[0][1])
        return {"idempotency_key": body.idempotency_key, "duplicate": report.duplicates > 0}

    return api
