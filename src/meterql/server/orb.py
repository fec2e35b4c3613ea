"""Orb's API under `/orb/v1`: customers, items, SQL metrics, prices, ingest, and "Evaluate price"
(seed 003).

The routes and shapes are those of the `orb-billing` SDK (4.90.0; its types are the contract), so
`orb.Orb(api_key=…, base_url="http://host:port/orb/v1")` works against the service, its strict
response validation included. One catalogue with the other APIs:

- an Orb customer is a catalogue subject (`id` = the subject id, `external_customer_id` = its
  external id); Orb's other customer fields (currency, timezone, addresses, …) are kept in a
  record of kind `orb_customer` keyed by the subject id;
- an Orb metric (`SELECT <aggregate>(<expr>) FROM events [WHERE <filter>]`, parsed by the grammar's
  `orb_metric` entry point, see `meterql.orb_sql`) is ONE catalogue metric, stored in the shape
  Lark's `metric_of` reads, so its summary also answers at `/lark/pricing-metrics/{id}/summary`;
- items and prices are records (`orb_item`, `price`); a price is read by `Price.from_dict`.

Numbers: request bodies are decoded with `parse_float=Decimal` (a price's `0.1` stays 0.1), and
responses are rendered by `_render`, which writes a `Decimal` as a JSON number token with its exact
digits (never through a float): evaluate's `quantity` and numeric grouping values, tier bounds.

Ingest (Orb's rules, from the SDK's documentation of `/ingest`): exactly one of `customer_id`
(must exist) and `external_customer_id` (need not: the events are kept under a subject with that
external id, created on first use, which a later `POST /customers` with that id adopts — Orb's
"events will be attributed to any future customers with the external_customer_id"); a timestamp
at most 5 minutes in the future; an ISO-8601 timestamp without an offset is UTC. The event's
`idempotency_key` is its event id (stored at most once). Events that fail validation are listed
in a 400 request-validation error (`validation_failed`); the others of the batch are stored.
Duplicate idempotency keys with different bodies in one batch reject the whole batch.

`Idempotency-Key` header (every POST; the SDK sends one per call and reuses it on retries): a
2xx answer is stored under the key with a fingerprint of the request; the same key and request
answer the stored response and do nothing else; the same key with another request is Orb's 409
resource conflict. Errors are not stored (a retry runs again)."""

from __future__ import annotations

import hashlib
import json
import time
from decimal import Decimal
from typing import Any, Callable, Literal, Optional

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from .. import numbers
from ..diagnostics import ExpressionError
from ..errors import InvalidSpec, MeterqlError
from .catalogue import Conflict
from .service import ApiError, Service

PREFIX = "/orb/v1"
VALIDATION_STATUS = 400
MAX_LIST = 100  # Orb's page size limit
FUTURE_MS = 5 * 60 * 1000  # Orb: a timestamp at most 5 minutes in the future

_DOC = "https://docs.withorb.com/reference/error-responses"
# (status, our code) → Orb's error type and title (the SDK picks its exception class by `type`).
_TYPES = {
    400: ("#400-request-validation-errors", "There was an error validating your request."),
    401: ("#401-authentication-error", "Authentication failed."),
    404: ("#404-resource-not-found", "A specified resource was not found."),
    409: ("#409-resource-conflict", "The request conflicts with another request."),
    413: ("#413-request-too-large", "The request is too large."),
    429: ("#429-too-many-requests", "Too many requests."),
}
_BY_CODE = {
    "duplicate_resource": ("#400-duplicate-resource-creation", "Duplicate resource creation."),
    "http_error": ("#404-url-not-found", "The requested URL was not found."),
}


def error_body(status: int, code: str, message: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Orb's RFC 7807 shape: `type`, `status`, `title`, `detail` (+ `validation_errors` on a 400)."""
    anchor, title = _BY_CODE.get(code) or _TYPES.get(status) or ("#500-internal-server-error", "An internal error occurred.")
    if code == "http_error" and status != 404:
        anchor, title = _TYPES.get(status) or ("#404-url-not-found", "This URL does not answer this method.")
    body: dict[str, Any] = {"type": _DOC + anchor, "status": status, "title": title, "detail": message}
    if anchor == "#400-request-validation-errors":
        errors = extra.get("validation_errors")
        if errors is None:
            errors = extra.get("problems") or extra.get("diagnostics") or [message]
        body["validation_errors"] = errors
    body.update({k: v for k, v in extra.items() if k not in ("validation_errors",)})
    return body


# --- JSON in and out ----------------------------------------------------------------------------


def _render(value: Any) -> str:
    """JSON text in which a Decimal is a number token with its exact digits (SPEC §3 canonical)."""
    if isinstance(value, Decimal):
        return numbers.canonical(value)
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + _render(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_render(v) for v in value) + "]"
    return json.dumps(value)


def _response(value: Any, status: int = 200) -> Response:
    return Response(_render(value), status_code=status, media_type="application/json")


def _plain(value: Any) -> Any:
    """A decoded body made storable as JSON (Decimal → its canonical text)."""
    if isinstance(value, Decimal):
        return numbers.canonical(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(400, "invalid_request", "the request body is empty; a JSON object is expected")
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_request", f"the request body is not valid JSON ({str(exc)[:80]})") from None


def _model(cls: type[BaseModel], data: Any) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = [{"loc": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        raise ApiError(400, "invalid_request", "the request body does not match the API", validation_errors=problems) from None


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def _instant(value: Any, what: str) -> int:
    """An ISO-8601 instant; without an offset it is UTC (Orb: timestamps are sent in UTC)."""
    from ..pricing.evaluation import to_millis

    try:
        return to_millis(value, what)
    except InvalidSpec:
        if isinstance(value, str) and value.strip() and "no time zone offset" in _reason(value, what):
            return to_millis(value.strip() + "Z", what)
        raise


def _reason(value: Any, what: str) -> str:
    from ..pricing.evaluation import to_millis

    try:
        to_millis(value, what)
    except InvalidSpec as exc:
        return str(exc)
    return ""


# --- request models (the orb-billing SDK's params) ------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")  # Orb fields meterql has no use for are accepted and dropped


class CustomerIn(_In):
    name: str
    email: str
    external_customer_id: Optional[str] = None
    currency: Optional[str] = None
    timezone: Optional[str] = None
    metadata: Optional[dict[str, Optional[str]]] = None
    additional_emails: Optional[list[str]] = None
    auto_collection: Optional[bool] = None
    auto_issuance: Optional[bool] = None
    email_delivery: Optional[bool] = None
    exempt_from_automated_tax: Optional[bool] = None
    payment_provider: Optional[Literal["quickbooks", "bill.com", "stripe_charge", "stripe_invoice", "netsuite", "adyen"]] = None
    payment_provider_id: Optional[str] = None
    billing_address: Optional[dict[str, Optional[str]]] = None
    shipping_address: Optional[dict[str, Optional[str]]] = None


class ItemIn(_In):
    name: str
    metadata: Optional[dict[str, Optional[str]]] = None


class MetricIn(_In):
    description: Optional[str] = None
    item_id: str
    name: str
    sql: str
    metadata: Optional[dict[str, Optional[str]]] = None


MODEL_TYPES = ("unit", "package", "tiered", "bulk", "matrix")
CADENCES = ("one_time", "monthly", "quarterly", "semi_annual", "annual", "custom")


class PriceIn(_In):
    model_type: str
    name: str
    item_id: str
    cadence: Literal["one_time", "monthly", "quarterly", "semi_annual", "annual", "custom"]
    currency: str
    billable_metric_id: Optional[str] = None
    external_price_id: Optional[str] = None
    metadata: Optional[dict[str, Optional[str]]] = None
    billing_cycle_configuration: Optional[dict[str, Any]] = None
    invoice_grouping_key: Optional[str] = None
    unit_config: Optional[dict[str, Any]] = None
    package_config: Optional[dict[str, Any]] = None
    tiered_config: Optional[dict[str, Any]] = None
    bulk_config: Optional[dict[str, Any]] = None
    matrix_config: Optional[dict[str, Any]] = None


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_name: str
    idempotency_key: str
    properties: dict[str, Any]
    timestamp: str
    customer_id: Optional[str] = None
    external_customer_id: Optional[str] = None


class IngestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn]


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeframe_start: str
    timeframe_end: str
    customer_id: Optional[str] = None
    external_customer_id: Optional[str] = None
    filter: Optional[str] = None
    grouping_keys: list[str] = Field(default_factory=list)
    metric_parameter_overrides: Optional[dict[str, Any]] = None


def _metadata(m: Optional[dict[str, Optional[str]]]) -> dict[str, str]:
    return {k: v for k, v in (m or {}).items() if v is not None}


# --- the routes ---------------------------------------------------------------------------------


def router(svc: Service) -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    cat = svc.catalogue

    def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`Service.run`, with Orb's status for an invalid expression (a 400 validation error)."""
        try:
            return svc.run(fn, *args, **kwargs)
        except ApiError as exc:
            if exc.status == 422:
                first = (exc.extra.get("diagnostics") or [{}])[0].get("message")
                raise ApiError(400, exc.code, f"{exc.message}: {first}" if first else exc.message, **exc.extra) from None
            raise

    # --- helpers --------------------------------------------------------------------------------

    async def post(request: Request, work: Callable[[Any], Any], writes: bool = True) -> Response:
        """A POST: decode the body exactly, honour `Idempotency-Key` (for a call that `writes`; a
        read such as evaluate answers a retry by running again), run `work(data)` off the loop."""
        raw = await request.body()
        key = request.headers.get("idempotency-key") if writes else None
        fingerprint = hashlib.sha256(request.url.path.encode() + b"\n" + request.url.query.encode() + b"\n" + raw).hexdigest()
        if key:
            seen = await run_in_threadpool(svc.run, cat.get_record, "orb_idempotency", key)
            if seen is not None:
                if seen["fingerprint"] != fingerprint:
                    raise ApiError(409, "conflict", "this Idempotency-Key was already used for a different request")
                return Response(seen["body"], status_code=seen["status"], media_type="application/json")
        data = _decode(raw)
        out = await run_in_threadpool(work, data)
        status, value = out if isinstance(out, tuple) else (200, out)
        text = _render(value)
        if key:
            def remember() -> None:
                try:
                    cat.create_record("orb_idempotency", "idem", {"fingerprint": fingerprint, "status": status,
                                                                  "body": text}, key=key)  # fmt: skip
                except Conflict:  # a concurrent first call stored it: its answer stands
                    pass

            await run_in_threadpool(svc.run, remember)
        return Response(text, status_code=status, media_type="application/json")

    def not_found(kind: str, ident: str) -> ApiError:
        return ApiError(404, "not_found", f"Could not find a resource of type {kind} with identifier: {ident}.")

    def page(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
        more = len(items) > limit
        return {"data": items[:limit],
                "pagination_metadata": {"has_more": more, "next_cursor": str(offset + limit) if more else None}}

    def cursor_of(cursor: Optional[str]) -> int:
        if cursor is None or cursor == "":
            return 0
        if not cursor.isdigit() or len(cursor) > 12:
            raise ApiError(400, "invalid_request", "cursor is not one this server returned")
        return int(cursor)

    def limit_of(limit: int) -> int:
        return max(1, min(limit, MAX_LIST))

    # --- customers ------------------------------------------------------------------------------

    def subject_by_external(ext: str) -> Optional[dict[str, Any]]:
        s = run(cat.get_subject, ext)
        return s if s is not None and s.get("external_id") == ext else None

    def customer_out(subject: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": subject["id"],
            "additional_emails": rec.get("additional_emails") or [],
            "auto_collection": bool(rec.get("auto_collection", False)),
            "auto_issuance": rec.get("auto_issuance"),
            "balance": "0.00",
            "billing_address": rec.get("billing_address"),
            "created_at": _iso(rec["created_ms"]),
            "currency": rec.get("currency"),
            "email": rec["email"],
            "email_delivery": bool(rec.get("email_delivery", True)),
            "exempt_from_automated_tax": rec.get("exempt_from_automated_tax"),
            "external_customer_id": subject.get("external_id"),
            "hierarchy": {"children": [], "parent": None},
            "metadata": rec.get("metadata") or {},
            "name": rec["name"],
            "payment_provider": rec.get("payment_provider"),
            "payment_provider_id": rec.get("payment_provider_id"),
            "portal_url": None,
            "shipping_address": rec.get("shipping_address"),
            "tax_id": None,
            "timezone": rec.get("timezone") or "UTC",
            "accounting_sync_configuration": None,
            "automatic_tax_enabled": None,
            "default_payment_method": None,
            "payment_configuration": None,
            "reporting_configuration": None,
        }

    def customer_or_404(customer_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        rec = run(cat.get_record, "orb_customer", customer_id)
        if rec is None or rec.get("key") != customer_id:
            raise not_found("Customer", customer_id)
        subject = run(cat.get_subject, customer_id)
        if subject is None or subject["id"] != customer_id:
            raise not_found("Customer", customer_id)
        return subject, rec

    def create_customer(data: Any) -> Any:
        body = _model(CustomerIn, data)
        fields = body.model_dump(exclude_none=True, exclude={"external_customer_id", "metadata"})
        fields["metadata"] = _metadata(body.metadata)
        ext = body.external_customer_id
        subject = subject_by_external(ext) if ext is not None else None
        if subject is None:
            try:
                subject = run(cat.create_subject, ext, body.name, body.email, fields["metadata"])
            except ApiError as exc:
                if exc.status != 409:
                    raise
                subject = subject_by_external(ext) if ext is not None else None  # created meanwhile
                if subject is None:
                    raise ApiError(400, "duplicate_resource", exc.message) from None
        # A subject made by ingest (or another API) is adopted: it becomes this customer.
        try:
            rec = run(cat.create_record, "orb_customer", "ocus", fields, key=subject["id"])
        except ApiError as exc:
            if exc.status == 409:
                raise ApiError(400, "duplicate_resource",
                               f"a customer with external_customer_id {json.dumps(ext)} already exists") from None
            raise
        return customer_out(subject, rec)

    @api.post("/customers")
    async def create_customer_route(request: Request) -> Response:
        return await post(request, create_customer)

    @api.get("/customers")
    def list_customers(limit: int = 20, cursor: Optional[str] = None) -> Response:
        limit, offset = limit_of(limit), cursor_of(cursor)
        recs = run(cat.list_records, "orb_customer", limit + 1, offset)
        out = []
        for rec in recs:
            subject = run(cat.get_subject, rec["key"])
            if subject is not None:
                out.append(customer_out(subject, rec))
        return _response(page(out, limit, offset))

    @api.get("/customers/external_customer_id/{external_customer_id}")
    def get_customer_by_external(external_customer_id: str) -> Response:
        subject = subject_by_external(external_customer_id)
        rec = run(cat.get_record, "orb_customer", subject["id"]) if subject is not None else None
        if subject is None or rec is None:
            raise not_found("Customer", external_customer_id)
        return _response(customer_out(subject, rec))

    @api.get("/customers/{customer_id}")
    def get_customer(customer_id: str) -> Response:
        return _response(customer_out(*customer_or_404(customer_id)))

    # --- items ----------------------------------------------------------------------------------

    def item_out(rec: dict[str, Any]) -> dict[str, Any]:
        return {"id": rec["id"], "created_at": _iso(rec["created_ms"]), "external_connections": [],
                "metadata": rec.get("metadata") or {}, "name": rec["name"], "archived_at": None}

    def item_or_404(item_id: str) -> dict[str, Any]:
        rec = run(cat.get_record, "orb_item", item_id)
        if rec is None or rec["id"] != item_id:
            raise not_found("Item", item_id)
        return rec

    def create_item(data: Any) -> Any:
        body = _model(ItemIn, data)
        return item_out(run(cat.create_record, "orb_item", "item", {"name": body.name, "metadata": _metadata(body.metadata)}))

    @api.post("/items")
    async def create_item_route(request: Request) -> Response:
        return await post(request, create_item)

    @api.get("/items/{item_id}")
    def get_item(item_id: str) -> Response:
        return _response(item_out(item_or_404(item_id)))

    # --- metrics --------------------------------------------------------------------------------

    def metric_out(m: dict[str, Any]) -> dict[str, Any]:
        o = m["orb"]
        item = run(cat.get_record, "orb_item", o["item_id"]) or {"id": o["item_id"], "name": "", "created_ms": 0}
        return {"id": m["id"], "description": o.get("description"), "item": item_out(item),
                "metadata": o.get("metadata") or {}, "name": m["name"], "sql": o["sql"], "status": "active",
                "parameter_definitions": None}  # fmt: skip

    def orb_metric_or_404(metric_id: str) -> dict[str, Any]:
        m = run(cat.get_metric, metric_id)
        if m is None or "orb" not in m:
            raise not_found("BillableMetric", metric_id)
        return m

    def create_metric(data: Any) -> Any:
        from ..orb_sql import metric_from_sql, read_orb_sql

        body = _model(MetricIn, data)
        item_or_404(body.item_id)
        run(metric_from_sql, body.sql, "pmtr_new")  # a bad metric fails now, its spans in the SQL
        parts = run(read_orb_sql, body.sql)
        agg: dict[str, Any] = {"aggregation_type": parts.aggregation}
        if parts.value is not None:
            agg["value"] = parts.value
        # Lark's pricing-metric shape (so `lark.metric_of` and /lark read it), Orb's own fields under "orb".
        payload: dict[str, Any] = {"name": body.name, "unit": "", "event_name": None, "aggregation": agg,
                                   "orb": {"sql": body.sql, "description": body.description, "item_id": body.item_id,
                                           "metadata": _metadata(body.metadata)}}  # fmt: skip
        if parts.filter is not None:
            payload["filter"] = parts.filter
        return metric_out(run(cat.create_metric, payload))

    @api.post("/metrics")
    async def create_metric_route(request: Request) -> Response:
        return await post(request, create_metric)

    @api.get("/metrics")
    def list_metrics(limit: int = 20, cursor: Optional[str] = None) -> Response:
        limit, offset = limit_of(limit), cursor_of(cursor)
        found = run(cat.list_metrics, limit + 1, offset)
        more = len(found) > limit
        data = [metric_out(m) for m in found[:limit] if "orb" in m]
        return _response({"data": data, "pagination_metadata": {"has_more": more,
                                                                "next_cursor": str(offset + limit) if more else None}})

    @api.get("/metrics/{metric_id}")
    def get_metric(metric_id: str) -> Response:
        return _response(metric_out(orb_metric_or_404(metric_id)))

    # --- prices ---------------------------------------------------------------------------------

    def price_of(rec: dict[str, Any]) -> Any:
        """The meterql Price a stored Orb price means."""
        from ..pricing.models import Price
        from .lark import metric_of

        metric = metric_of(orb_metric_or_404(rec["billable_metric_id"]))
        name = rec["model_type"]
        return Price.from_dict({"model_type": name, f"{name}_config": rec[f"{name}_config"], "metric": metric,
                                "id": rec["id"], "currency": rec.get("currency")})  # fmt: skip

    def config_out(price: Any) -> dict[str, Any]:
        cfg = price.model.config()
        kind = price.model.kind

        def num(v: Any) -> Any:
            return None if v is None else Decimal(v)

        if kind == "package":
            size = Decimal(cfg["package_size"])
            cfg["package_size"] = int(size) if size == size.to_integral_value() else size
        elif kind == "tiered":
            cfg["tiers"] = [{**t, "first_unit": num(t["first_unit"]), "last_unit": num(t.get("last_unit"))}
                            for t in cfg["tiers"]]  # fmt: skip
        elif kind == "bulk":
            cfg["tiers"] = [{**t, "maximum_units": num(t.get("maximum_units"))} for t in cfg["tiers"]]
        return cfg

    _CYCLES = {"one_time": (1, "month"), "monthly": (1, "month"), "quarterly": (3, "month"),
               "semi_annual": (6, "month"), "annual": (12, "month"), "custom": (1, "month")}  # fmt: skip

    def price_out(rec: dict[str, Any]) -> dict[str, Any]:
        price = price_of(rec)
        item = run(cat.get_record, "orb_item", rec["item_id"]) or {"id": rec["item_id"], "name": ""}
        duration, unit = _CYCLES[rec["cadence"]]
        cycle = rec.get("billing_cycle_configuration") or {"duration": duration, "duration_unit": unit}
        return {
            "id": rec["id"], "billable_metric": {"id": rec["billable_metric_id"]},
            "billing_cycle_configuration": cycle, "billing_mode": "in_arrear", "cadence": rec["cadence"],
            "composite_price_filters": None, "conversion_rate": None, "conversion_rate_config": None,
            "created_at": _iso(rec["created_ms"]), "credit_allocation": None, "currency": rec["currency"],
            "discount": None, "external_price_id": rec.get("external_price_id"), "fixed_price_quantity": None,
            "invoice_grouping_key": rec.get("invoice_grouping_key"), "invoicing_cycle_configuration": None,
            "item": {"id": item["id"], "name": item["name"]}, "maximum": None, "maximum_amount": None,
            "metadata": rec.get("metadata") or {}, "minimum": None, "minimum_amount": None,
            "model_type": rec["model_type"], "name": rec["name"], "plan_phase_order": None,
            "price_type": "usage_price", "replaces_price_id": None, "dimensional_price_configuration": None,
            "license_type": None, f"{rec['model_type']}_config": config_out(price),
        }  # fmt: skip

    def price_or_404(price_id: str) -> dict[str, Any]:
        rec = run(cat.get_record, "price", price_id)
        if rec is None or rec["id"] != price_id or "model_type" not in rec:
            raise not_found("Price", price_id)
        return rec

    def create_price(data: Any) -> Any:
        from ..pricing.models import Price
        from .lark import metric_of

        body = _model(PriceIn, data)
        if body.model_type not in MODEL_TYPES:
            raise ApiError(400, "invalid_request", f"model_type {json.dumps(body.model_type)[:60]} is not supported; "
                           f"meterql evaluates {', '.join(MODEL_TYPES)}")  # fmt: skip
        config_key = f"{body.model_type}_config"
        config = getattr(body, config_key)
        if config is None:
            raise ApiError(400, "invalid_request", f"{config_key} is required for model_type {body.model_type}")
        if body.billable_metric_id is None:
            raise ApiError(400, "invalid_request", "billable_metric_id is required: meterql prices usage of a metric")
        item_or_404(body.item_id)
        metric = run(metric_of, orb_metric_or_404(body.billable_metric_id))
        # The config as sent (Decimals, never floats) is what Price reads; a bad one fails here.
        raw_config = data[config_key]
        run(Price.from_dict, {"model_type": body.model_type, config_key: raw_config, "metric": metric})
        payload = {"model_type": body.model_type, "name": body.name, "item_id": body.item_id, "cadence": body.cadence,
                   "currency": body.currency, "billable_metric_id": body.billable_metric_id,
                   "external_price_id": body.external_price_id, "metadata": _metadata(body.metadata),
                   "billing_cycle_configuration": body.billing_cycle_configuration,
                   "invoice_grouping_key": body.invoice_grouping_key, config_key: _plain(raw_config)}  # fmt: skip
        return price_out(run(cat.create_record, "price", "price", payload))

    @api.post("/prices")
    async def create_price_route(request: Request) -> Response:
        return await post(request, create_price)

    @api.get("/prices/{price_id}")
    def get_price(price_id: str) -> Response:
        return _response(price_out(price_or_404(price_id)))

    # --- evaluate price (seed 003) --------------------------------------------------------------

    def evaluate(price_id: str, data: Any) -> Any:
        from ..ast import Kind, Type
        from ..checker import parse

        rec = price_or_404(price_id)
        body = _model(EvaluateIn, data)
        ids = [x for x in (body.customer_id, body.external_customer_id) if x is not None]
        if len(ids) != 1:
            raise ApiError(400, "invalid_request", "give exactly one of customer_id and external_customer_id")
        if body.metric_parameter_overrides:
            raise ApiError(400, "invalid_request", "metric_parameter_overrides: meterql metrics have no parameters")
        if body.customer_id is not None:
            subject_id = customer_or_404(body.customer_id)[0]["id"]
        else:
            subject = subject_by_external(body.external_customer_id or "")
            if subject is None:
                raise not_found("Customer", body.external_customer_id or "")
            subject_id = subject["id"]
        price = run(price_of, rec)
        start = run(_instant, body.timeframe_start, "timeframe_start")
        end = run(_instant, body.timeframe_end, "timeframe_end")
        rows = run(svc.engine.evaluate_price, price, subject_id, start, end, body.filter, body.grouping_keys)
        types = [run(parse, k, Kind.GROUPING_KEY).type for k in body.grouping_keys]

        def typed(value: Optional[str], t: Any) -> Any:
            if value is None:
                return None
            if t == Type.NUMBER:
                return Decimal(value)
            if t == Type.BOOLEAN:
                return value == "true"
            return value

        return {"data": [{"grouping_values": [typed(v, t) for v, t in zip(r.grouping_values, types)],
                          "quantity": r.quantity, "amount": numbers.canonical(r.amount)} for r in rows]}  # fmt: skip

    @api.post("/prices/{price_id}/evaluate")
    async def evaluate_route(price_id: str, request: Request) -> Response:
        return await post(request, lambda data: evaluate(price_id, data), writes=False)

    # --- ingest ---------------------------------------------------------------------------------

    def ingest(data: Any, debug: bool) -> Any:
        body = _model(IngestIn, data)
        raw_events = data["events"]
        by_key: dict[str, str] = {}
        for raw in raw_events:
            text = json.dumps(_plain(raw), sort_keys=True)
            if by_key.setdefault(raw["idempotency_key"], text) != text:
                raise ApiError(400, "invalid_request", f"events with idempotency_key {json.dumps(raw['idempotency_key'])[:80]} "
                               "differ within one request; the whole batch is rejected")  # fmt: skip
        now = int(time.time() * 1000)
        failed: list[dict[str, Any]] = []
        customers: dict[str, Any] = {}
        externals: dict[str, str] = {}
        ready: list[tuple[str, dict[str, Any]]] = []
        for ev, raw in zip(body.events, raw_events):
            problems: list[str] = []
            subject_id: Optional[str] = None
            if (ev.customer_id is None) == (ev.external_customer_id is None):
                problems.append("exactly one of customer_id and external_customer_id must be given")
            elif ev.customer_id is not None:
                if ev.customer_id not in customers:  # one lookup per customer and request
                    customers[ev.customer_id] = run(cat.get_record, "orb_customer", ev.customer_id)
                rec = customers[ev.customer_id]
                if rec is None or rec.get("key") != ev.customer_id:
                    problems.append(f"customer_id {json.dumps(ev.customer_id)[:80]} does not exist")
                else:
                    subject_id = ev.customer_id
            ts: Any = None
            try:
                ts = _instant(ev.timestamp, "timestamp")
                if ts > now + FUTURE_MS:
                    problems.append("timestamp is more than 5 minutes in the future")
            except MeterqlError as exc:
                problems.append(str(exc))
            if not problems and ev.external_customer_id is not None:
                if ev.external_customer_id not in externals:
                    externals[ev.external_customer_id] = external_subject(ev.external_customer_id)
                subject_id = externals[ev.external_customer_id]
            if problems:
                failed.append({"idempotency_key": ev.idempotency_key, "validation_errors": problems})
                continue
            ready.append((ev.idempotency_key, {"event_id": ev.idempotency_key, "subject_id": subject_id,
                                               "event_name": ev.event_name, "timestamp": ts,
                                               "properties": raw["properties"]}))  # fmt: skip
        ingested: list[str] = []
        duplicate: list[str] = []
        batches = [[e] for e in ready] if debug else ([ready] if ready else [])
        for batch in batches:
            report = run(svc.engine.ingest, [e for _, e in batch])
            bad = dict(report.rejected)
            for i, (key, _) in enumerate(batch):
                if i in bad:
                    failed.append({"idempotency_key": key, "validation_errors": [bad[i]]})
                elif debug:
                    (duplicate if report.duplicates else ingested).append(key)
        if failed:
            raise ApiError(400, "invalid_request", f"{len(failed)} event(s) failed validation; the others were ingested",
                           validation_errors=failed, validation_failed=failed)  # fmt: skip
        return {"validation_failed": [], "debug": {"duplicate": duplicate, "ingested": ingested} if debug else None}

    def external_subject(ext: str) -> str:
        """The subject of an external customer id, made on first use (Orb attributes such events to
        the customer created later with that id)."""
        subject = subject_by_external(ext)
        if subject is None:
            try:
                subject = run(cat.create_subject, ext, None, None, {})
            except ApiError as exc:
                subject = subject_by_external(ext)
                if subject is None:
                    raise exc from None
        return subject["id"]

    @api.post("/ingest")
    async def ingest_route(request: Request, debug: bool = False, backfill_id: Optional[str] = None) -> Response:
        if backfill_id is not None:
            raise ApiError(400, "invalid_request", "backfills are not supported: events are ingested directly")
        return await post(request, lambda data: ingest(data, debug))

    return api
