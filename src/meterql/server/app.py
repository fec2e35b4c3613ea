"""The FastAPI app: `/healthz`, and Lark's API under `/lark` (see `meterql.server`)."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any, Iterable, Literal, Optional, Union

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..diagnostics import ExpressionError
from ..errors import EngineError, InvalidSpec, LimitExceeded, MeterqlError
from ..metric import Metric, quote_property
from .catalogue import Catalogue, Conflict

log = logging.getLogger("meterql.server")

# Lark's aggregation names → meterql's (SPEC §4); meterql's own names are accepted as they are.
LARK_AGGREGATIONS = {"sum": "sum", "count": "count", "max": "max", "last": "latest"}
SHOWN_AS = {"latest": "last"}
MAX_LIST = 1000


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message, **extra}})


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


# --- the app ------------------------------------------------------------------------------------


def build_app(engine: Any, api_keys: Iterable[str] = ()) -> FastAPI:
    if isinstance(engine, str):
        import meterql

        engine = meterql.connect(engine)
    keys = [k.encode() for k in api_keys if k]
    catalogue = Catalogue(engine)

    app = FastAPI(title="meterql", version="0.1.0",
                  description="Usage metering for billing: Lark's pricing-metric API on a meterql store.")
    app.state.engine, app.state.catalogue = engine, catalogue

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"loc": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        return _error(422, "invalid_request", "the request body does not match the API", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal_error", "the server could not answer this request")

    def authorize(request: Request) -> None:
        sent = request.headers.get("x-api-key")
        if sent is None:
            auth = request.headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                sent = auth[7:].strip()
        ok = False
        if sent:
            given = sent.encode("utf-8", "surrogateescape")
            for k in keys:  # compare with every key, in constant time each
                ok |= hmac.compare_digest(given, k)
        if not ok:
            raise ApiError(401, "unauthorized", "a valid API key is required (X-API-Key or Authorization: Bearer)")

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        engine.count_events()  # the store answers
        return {"status": "ok"}

    lark = APIRouter(prefix="/lark", dependencies=[Depends(authorize)])

    def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        """A library call, its errors mapped to statuses (never a traceback to the client)."""
        try:
            return fn(*args, **kwargs)
        except ExpressionError as exc:
            raise ApiError(422, "invalid_expression", "an expression is not valid", **exc.to_dict()) from None
        except LimitExceeded as exc:
            raise ApiError(400, "limit_exceeded", str(exc)) from None
        except InvalidSpec as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
        except Conflict as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        except EngineError as exc:
            log.error("store error: %s", exc)
            raise ApiError(503, "store_unavailable", "the event store could not answer") from None
        except MeterqlError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None

    def subject_or_404(key: str) -> dict[str, Any]:
        s = run(catalogue.get_subject, key)
        if s is None:
            raise ApiError(404, "not_found", "no subject with this id or external id")
        return s

    def metric_or_404(mid: str) -> dict[str, Any]:
        m = run(catalogue.get_metric, mid)
        if m is None:
            raise ApiError(404, "not_found", "no pricing metric with this id")
        return m

    # --- pricing metrics ----------------------------------------------------------------------

    @lark.post("/pricing-metrics")
    def create_pricing_metric(body: PricingMetricIn) -> dict[str, Any]:
        payload = _payload(body)
        run(metric_of, {"id": "pmtr_new", **payload})  # a bad metric fails now, not when used
        return _metric_out(run(catalogue.create_metric, payload))

    @lark.get("/pricing-metrics")
    def list_pricing_metrics(limit: int = 100) -> dict[str, Any]:
        limit = max(1, min(limit, MAX_LIST))
        found = run(catalogue.list_metrics, limit + 1)
        return {"has_more": len(found) > limit, "pricing_metrics": [_metric_out(m) for m in found[:limit]]}

    @lark.get("/pricing-metrics/{pricing_metric_id}")
    def get_pricing_metric(pricing_metric_id: str) -> dict[str, Any]:
        return _metric_out(metric_or_404(pricing_metric_id))

    @lark.post("/pricing-metrics/{pricing_metric_id}/summary")
    def create_summary(pricing_metric_id: str, body: SummaryIn) -> list[dict[str, Any]]:
        metric = run(metric_of, metric_or_404(pricing_metric_id))
        subject = subject_or_404(body.subject_id)
        names = list(body.dimensions or [])
        rows = run(engine.summary, metric, subject["id"], body.period.model_dump(exclude_none=True),
                   body.period_granularity, [quote_property(n) for n in names])
        out = []
        for r in rows:
            d = r.to_dict()
            d["dimension_coordinates"] = {n: v for n, (_, v) in zip(names, r.dimension_coordinates)}
            out.append(d)
        return out

    # --- subjects -----------------------------------------------------------------------------

    @lark.post("/subjects")
    def create_subject(body: SubjectIn) -> dict[str, Any]:
        return _subject_out(run(catalogue.create_subject, body.external_id, body.name, body.email, body.metadata))

    @lark.get("/subjects")
    def list_subjects(limit: int = 100, offset: int = 0) -> dict[str, Any]:
        limit, offset = max(1, min(limit, MAX_LIST)), max(0, offset)
        found = run(catalogue.list_subjects, limit + 1, offset)
        return {"has_more": len(found) > limit, "subjects": [_subject_out(s) for s in found[:limit]]}

    @lark.get("/subjects/{subject_id}")
    def get_subject(subject_id: str) -> dict[str, Any]:
        return _subject_out(subject_or_404(subject_id))

    # --- usage events -------------------------------------------------------------------------

    @lark.post("/usage-events")
    def create_usage_event(body: UsageEventIn) -> dict[str, Any]:
        subject = subject_or_404(body.subject_id)
        ts: Any = body.timestamp if body.timestamp is not None else int(time.time() * 1000)
        report = run(engine.ingest, [{"event_id": body.idempotency_key, "subject_id": subject["id"],
                                      "event_name": body.event_name, "timestamp": ts,
                                      "properties": dict(body.data)}])
        if report.rejected:
            raise ApiError(422, "invalid_event", report.rejected[0][1])
        return {"idempotency_key": body.idempotency_key, "duplicate": report.duplicates > 0}

    app.include_router(lark)
    return app
