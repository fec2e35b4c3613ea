"""Lago's API under `/lago/api/v1`: billable metrics (seed 004), expression tests, events.

The routes and shapes are those of `lago-python-client` 1.55.0 (its models and the way it builds
URLs and reads answers are the contract), so `lago_python_client.Client(api_key=…,
api_url="http://host:port/lago/")` works against the service.

- A billable metric is ONE catalogue metric (`lago_id` is its `pmtr_…` id, so its summary is also
  at `/lark/pricing-metrics/{lago_id}/summary`) plus a record of kind `lago_metric` keyed by its
  code, which keeps Lago's own fields (name, description, filters, …). What a payload means is
  decided by the library: `Metric.from_dict` reads it, exactly as `meterql.Metric.from_dict` would.
- DELETE removes both: the `pmtr_…` id then answers 404 on every API, the code is free again, the
  events stay in the store (a new metric with the same code counts them again).
- Events: `transaction_id` is the event id (the idempotency key, unique in the whole store —
  Lago's is per subscription; first one wins; a retry answers 200 and stores nothing); the subject is `external_subscription_id`, else
  `external_customer_id`, created on first sight (Lago accepts events for any subscription);
  `timestamp` is Unix seconds, an integer or numeric text with a fraction, read exactly
  (sub-millisecond digits are truncated, a floor); bodies are decoded with exact decimals.
- Errors: `{"status", "error", "code", "error_details"}` — 400 for a body that is not a JSON
  object with the expected root, 401, 404 `billable_metric_not_found`, 422 `validation_errors`
  with `error_details` (field → codes; a bad expression adds its `diagnostics`)."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Mapping

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..diagnostics import ExpressionError
from ..errors import MeterqlError
from ..metric import Aggregation, Metric
from ..values import InvalidEvent, format_timestamp, normalize_event
from .lark import metric_of
from .service import ApiError, Service

PREFIX = "/lago/api/v1"
VALIDATION_STATUS = 400  # a query parameter of the wrong type (`page=x`): Lago's BadRequest
KIND = "lago_metric"
MAX_BATCH = 100  # events per batch (Lago's limit)
MAX_PER_PAGE = 100
MAX_LISTED = 100_000

# A billable metric's own fields (kept and answered), and the informational ones a payload copied
# from a Lago answer may carry (accepted and ignored, as `Metric.from_dict` does).
FIELDS = ("name", "code", "description", "recurring", "rounding_function", "rounding_precision",
          "aggregation_type", "weighted_interval", "expression", "field_name", "filters")
IGNORED = frozenset({"lago_id", "created_at", "active_subscriptions_count", "draft_invoices_count",
                     "plans_count", "integration_mappings"})
AGGREGATION_TYPES = ("count_agg", "sum_agg", "max_agg", "unique_count_agg", "weighted_sum_agg", "latest_agg")
RECURRING_TYPES = ("sum_agg", "unique_count_agg", "weighted_sum_agg")
_TEXT_FIELDS = ("name", "code", "description", "expression", "field_name")


def error_body(status: int, code: str, message: str, extra: dict[str, Any]) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {"status": status, "error": f"BadRequest: {message}" if status == 400 else phrase,
                            "code": code}
    details = extra.get("error_details")
    if details is None and extra:  # e.g. a bad query parameter's `problems`, a limit reached
        details = dict(extra)
    if details is not None:
        body["error_details"] = details
    return body


# --- JSON in and out, numbers exact -------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def _json_body(request: Request) -> Any:
    """The body decoded with exact decimals (`1.10` stays `Decimal('1.10')`, never a float)."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "bad_request", "the request has no JSON body")
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_request", "the request body is not valid JSON") from None


def _dump(v: Any) -> str:
    """JSON text; a Decimal is written as a JSON number with its exact digits."""
    if isinstance(v, Mapping):
        return "{" + ",".join(json.dumps(str(k)) + ":" + _dump(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_dump(x) for x in v) + "]"
    if isinstance(v, Decimal):
        return str(v) if v.is_finite() else "null"
    return json.dumps(v)


def _answer(obj: Any, status: int = 200) -> Response:
    return Response(_dump(obj), status_code=status, media_type="application/json")


def _root(body: Any, name: str) -> Mapping[str, Any]:
    inner = body.get(name) if isinstance(body, Mapping) else None
    if not isinstance(inner, Mapping) or not inner:
        raise ApiError(400, "bad_request", f"param is missing or the value is empty: {name}")
    return inner


def _invalid(details: dict[str, Any]) -> ApiError:
    return ApiError(422, "validation_errors", "the request is not valid", error_details=details)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


# --- billable metrics ---------------------------------------------------------------------------


def _check_fields(p: Mapping[str, Any]) -> None:
    """Lago's validation, field by field (`error_details`: field → codes)."""
    errors: dict[str, list[str]] = {}
    for key in p:
        if key not in FIELDS and key not in IGNORED:
            errors[str(key)] = ["unknown_field"]
    for key in ("name", "code", "aggregation_type"):
        if p.get(key) is None or p.get(key) == "":
            errors[key] = ["value_is_mandatory"]
    for key in _TEXT_FIELDS:
        if p.get(key) is not None and not isinstance(p[key], str):
            errors[key] = ["value_is_invalid"]
    agg = p.get("aggregation_type")
    if agg is not None and agg not in AGGREGATION_TYPES:
        errors["aggregation_type"] = ["value_is_invalid"]
    if p.get("recurring") is not None and not isinstance(p["recurring"], bool):
        errors["recurring"] = ["value_is_invalid"]
    elif p.get("recurring") and agg in AGGREGATION_TYPES and agg not in RECURRING_TYPES:
        errors["recurring"] = ["not_compatible_with_aggregation_type"]
    if p.get("rounding_function") is not None and p["rounding_function"] not in ("round", "ceil", "floor"):
        errors["rounding_function"] = ["value_is_invalid"]
    prec = p.get("rounding_precision")
    if prec is not None and (isinstance(prec, bool) or not isinstance(prec, int) or not -12 <= prec <= 12):
        errors["rounding_precision"] = ["value_is_invalid"]
    if p.get("weighted_interval") is not None and p["weighted_interval"] != "seconds":
        errors["weighted_interval"] = ["value_is_invalid"]
    if agg in AGGREGATION_TYPES and agg != "count_agg" and not p.get("expression") and not p.get("field_name"):
        errors.setdefault("field_name", ["value_is_mandatory"])
    filters = p.get("filters")
    if filters is not None and not (
        isinstance(filters, list)
        and all(isinstance(f, Mapping) and set(f) <= {"key", "values"} and isinstance(f.get("key"), str) and f["key"]
                and isinstance(f.get("values"), list) and f["values"] and all(isinstance(v, str) for v in f["values"])
                for f in filters)
    ):
        errors["filters"] = ["value_is_invalid"]
    if errors:
        raise _invalid(errors)


def _metric_of_payload(p: Mapping[str, Any]) -> Metric:
    """What the library reads from the Lago payload (its errors as Lago's 422s)."""
    try:
        return Metric.from_dict({k: v for k, v in p.items() if k in FIELDS})
    except ExpressionError as exc:
        raise _invalid({"expression": ["invalid_expression"], **exc.to_dict()}) from None
    except MeterqlError as exc:
        raise _invalid({"billable_metric": [str(exc)]}) from None


def _lago_fields(p: Mapping[str, Any]) -> dict[str, Any]:
    """The payload kept for Lago's answers: every field, `recurring` a boolean, `filters` a list."""
    out = {k: p.get(k) for k in FIELDS}
    out["recurring"] = bool(p.get("recurring"))
    out["filters"] = [{"key": f["key"], "values": list(f["values"])} for f in (p.get("filters") or [])]
    return out


def _catalogue_payload(m: Metric, name: str) -> dict[str, Any]:
    """The catalogue metric (Lark's pricing-metric shape, read by `lark.metric_of`)."""
    agg: dict[str, Any] = {"aggregation_type": m.aggregation.value}
    if m.value is not None and m.aggregation is not Aggregation.COUNT:
        agg["value"] = m.value
    out: dict[str, Any] = {"aggregation": agg, "event_name": m.event_name, "name": name, "unit": "units",
                           "recurring": m.recurring}
    if m.rounding is not None:
        out["rounding"], out["rounding_precision"] = m.rounding.value, m.rounding_precision
    return out


def _metric_out(rec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"lago_id": rec["metric_id"]}
    out.update({k: rec.get(k) for k in FIELDS})
    out["created_at"] = rec["created_at"]
    out.update(active_subscriptions_count=0, draft_invoices_count=0, plans_count=0)
    return out


# --- events -------------------------------------------------------------------------------------

_SECONDS = re.compile(r"([+-]?)(\d{1,15})(?:\.(\d{0,30}))?", re.ASCII)


def _ms_of_seconds(v: Any) -> int | None:
    """Unix seconds (an integer, an exact JSON number, numeric text with a fraction) → epoch ms,
    exactly (a floor to the millisecond); None when it is not such a value."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v * 1000 if abs(v) < 10**15 else None
    if isinstance(v, Decimal):
        if not v.is_finite():
            return None
        sign, digits, exp = v.as_tuple()
        if not isinstance(exp, int) or len(digits) > 45 or not -30 <= exp <= 15:
            return None
        n = int("".join(map(str, digits)) or "0") * (-1 if sign else 1) * 1000
        return n * 10**exp if exp >= 0 else n // 10**-exp
    if isinstance(v, str):
        m = _SECONDS.fullmatch(v)
        if m is None:
            return None
        sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
        n = int(whole + frac) * 1000 * (-1 if sign == "-" else 1)
        return n // 10 ** len(frac)
    return None


def _read_event(d: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One Lago event → (the event to ingest, with the subject's external id as `subject_id`;
    the Lago echo). Raises `_invalid` with Lago's field codes."""
    if not isinstance(d, Mapping):
        raise _invalid({"event": ["value_is_invalid"]})
    errors: dict[str, list[str]] = {}
    for key in ("transaction_id", "code"):
        if d.get(key) is None or d.get(key) == "":
            errors[key] = ["value_is_mandatory"]
        elif not isinstance(d[key], str):
            errors[key] = ["value_is_invalid"]
    sub, cust = d.get("external_subscription_id"), d.get("external_customer_id")
    external = sub if sub not in (None, "") else cust
    if external in (None, ""):
        errors["external_subscription_id"] = ["value_is_mandatory"]
    elif not isinstance(external, str):
        errors["external_subscription_id" if sub not in (None, "") else "external_customer_id"] = ["value_is_invalid"]
    ts = d.get("timestamp")
    ms = int(time.time() * 1000) if ts is None else _ms_of_seconds(ts)
    if ms is None:
        errors["timestamp"] = ["invalid_format"]
    props = d.get("properties")
    if props is not None and not isinstance(props, Mapping):
        errors["properties"] = ["value_is_invalid"]
    amount = d.get("precise_total_amount_cents")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (str, int, Decimal))):
        errors["precise_total_amount_cents"] = ["value_is_invalid"]
    if errors:
        raise _invalid(errors)
    event = {"event_id": d["transaction_id"], "subject_id": external, "event_name": d["code"], "timestamp": ms,
             "properties": dict(props or {})}
    try:
        normalize_event(event)  # ingest's own rules (SPEC §1, §2): a bad event is refused whole
    except InvalidEvent as exc:
        raise _invalid({"event": [exc.reason]}) from None
    echo = {"lago_id": None, "transaction_id": d["transaction_id"], "lago_customer_id": None, "code": d["code"],
            "timestamp": format_timestamp(ms),
            "precise_total_amount_cents": None if amount is None else str(amount),
            "properties": dict(props or {}), "lago_subscription_id": None,
            "external_subscription_id": sub if isinstance(sub, str) else None,
            "external_customer_id": cust if isinstance(cust, str) else None}
    return event, echo


# --- the routes ---------------------------------------------------------------------------------


def router(svc: Service) -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    cat = svc.catalogue

    def record_or_404(code: str) -> dict[str, Any]:
        rec = svc.run(cat.get_record, KIND, code)
        if rec is None or rec["key"] != code:
            raise ApiError(404, "billable_metric_not_found", "billable_metric not found")
        return rec

    def validated(payload: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(Lago's fields, the catalogue payload) of a checked billable metric."""
        _check_fields(payload)
        metric = _metric_of_payload(payload)
        stored = _catalogue_payload(metric, payload["name"])
        svc.run(metric_of, {"id": "pmtr_new", **stored})  # Lark reads it back as the same metric
        return _lago_fields(payload), stored

    def code_taken(code: str) -> ApiError:
        return _invalid({"code": ["value_already_exist"]})

    def keep_record(lago: dict[str, Any], metric_id: str, created_at: str) -> dict[str, Any]:
        """The `lago_metric` record of `lago` (a taken code → Lago's 422)."""
        try:
            return svc.run(cat.create_record, KIND, "lbm", {**lago, "metric_id": metric_id, "created_at": created_at},
                           key=lago["code"])
        except ApiError as exc:
            if exc.status == 409:
                raise code_taken(lago["code"]) from None
            raise

    @api.post("/billable_metrics")
    def create_billable_metric(body: Any = Depends(_json_body)) -> Response:
        lago, stored = validated({k: v for k, v in _root(body, "billable_metric").items() if v is not None})
        if svc.run(cat.get_record, KIND, lago["code"]) is not None:
            raise code_taken(lago["code"])
        metric = svc.run(cat.create_metric, stored)
        try:
            rec = keep_record(lago, metric["id"], _iso(int(time.time() * 1000)))
        except ApiError:
            svc.run(cat.delete_metric, metric["id"])
            raise
        return _answer({"billable_metric": _metric_out(rec)})

    @api.get("/billable_metrics")
    def list_billable_metrics(page: int = 1, per_page: int = 20) -> Response:
        page, per_page = max(1, page), max(1, min(per_page, MAX_PER_PAGE))
        found = svc.run(cat.list_records, KIND, MAX_LISTED)
        total = len(found)
        pages = -(-total // per_page)
        shown = found[(page - 1) * per_page: page * per_page]
        meta = {"current_page": page, "next_page": page + 1 if page < pages else None,
                "prev_page": page - 1 if page > 1 else None, "total_pages": pages, "total_count": total}
        return _answer({"billable_metrics": [_metric_out(r) for r in shown], "meta": meta})

    @api.post("/billable_metrics/evaluate_expression")
    def evaluate_expression(body: Any = Depends(_json_body)) -> Response:
        if not isinstance(body, Mapping):
            raise ApiError(400, "bad_request", "the body must be a JSON object with expression and event")
        errors: dict[str, list[str]] = {}
        expression, event = body.get("expression"), body.get("event")
        if expression is None or expression == "":
            errors["expression"] = ["value_is_mandatory"]
        elif not isinstance(expression, str):
            errors["expression"] = ["value_is_invalid"]
        if not isinstance(event, Mapping):
            errors["event"] = ["value_is_mandatory" if event is None else "value_is_invalid"]
        if errors:
            raise _invalid(errors)
        ts = event.get("timestamp")
        ms = int(time.time() * 1000) if ts is None else _ms_of_seconds(ts)
        props = event.get("properties")
        code = event.get("code")
        if ms is None:
            errors["timestamp"] = ["invalid_format"]
        if props is not None and not isinstance(props, Mapping):
            errors["properties"] = ["value_is_invalid"]
        if code is not None and not isinstance(code, str):
            errors["code"] = ["value_is_invalid"]
        if errors:
            raise _invalid({"event": errors})
        raw = {"event_id": "evaluate_expression", "subject_id": "evaluate_expression",
               "event_name": code or "evaluate_expression", "timestamp": ms, "properties": dict(props or {})}
        from ..api import evaluate

        try:
            value = evaluate(expression, normalize_event(raw), "value")  # read as ingest reads it
        except ExpressionError as exc:
            raise _invalid({"expression": ["invalid_expression"], **exc.to_dict()}) from None
        except InvalidEvent as exc:
            raise _invalid({"event": [exc.reason]}) from None
        except MeterqlError as exc:  # e.g. a value reaching 10^26
            raise _invalid({"expression": [str(exc)]}) from None
        return _answer({"expression_result": {"value": value}})

    @api.get("/billable_metrics/{code}")
    def get_billable_metric(code: str) -> Response:
        return _answer({"billable_metric": _metric_out(record_or_404(code))})

    @api.put("/billable_metrics/{code}")
    def update_billable_metric(code: str, body: Any = Depends(_json_body)) -> Response:
        rec = record_or_404(code)
        given = {k: v for k, v in _root(body, "billable_metric").items() if v is not None}
        merged = {**{k: rec.get(k) for k in FIELDS if rec.get(k) is not None}, **given}
        lago, stored = validated(merged)
        new_code = lago["code"]
        if new_code != code and svc.run(cat.get_record, KIND, new_code) is not None:
            raise code_taken(new_code)
        if new_code == code:
            svc.run(cat.update_metric, rec["metric_id"], stored)
            out = {**lago, "metric_id": rec["metric_id"], "created_at": rec["created_at"]}
            svc.run(cat.update_record, KIND, rec["id"], out)
        else:  # the code is the record's unique key: a new record under the new key, then the old one goes
            out = keep_record(lago, rec["metric_id"], rec["created_at"])  # a code taken meanwhile: 422, no change
            svc.run(cat.update_metric, rec["metric_id"], stored)
            svc.run(cat.delete_record, KIND, rec["id"])
        return _answer({"billable_metric": _metric_out(out)})

    @api.delete("/billable_metrics/{code}")
    def delete_billable_metric(code: str) -> Response:
        rec = record_or_404(code)
        svc.run(cat.delete_record, KIND, rec["id"])
        svc.run(cat.delete_metric, rec["metric_id"])
        return _answer({"billable_metric": _metric_out(rec)})

    # --- events -------------------------------------------------------------------------------

    def subject_of(external: str) -> dict[str, Any]:
        """The subject of a Lago external id, created on first sight."""
        found = svc.run(cat.get_subject, external)
        if found is not None:
            return found
        try:
            return svc.run(cat.create_subject, external, None, None, {})
        except ApiError as exc:
            if exc.status != 409:
                raise
            return svc.subject_or_404(external)  # created meanwhile by another request

    def ingest(read: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
        subjects: dict[str, dict[str, Any]] = {}
        events, echoes = [], []
        now = _iso(int(time.time() * 1000))
        for event, echo in read:
            external = event["subject_id"]
            if external not in subjects:
                subjects[external] = subject_of(external)
            events.append({**event, "subject_id": subjects[external]["id"]})
            echoes.append({**echo, "lago_customer_id": subjects[external]["id"], "created_at": now})
        report = svc.run(svc.engine.ingest, events)
        if report.rejected:  # not expected: every event passed ingest's own check above
            index, reason = report.rejected[0][0], report.rejected[0][1]
            raise _invalid({"events": {str(index): [reason]}})
        return echoes

    @api.post("/events")
    def create_event(body: Any = Depends(_json_body)) -> Response:
        return _answer({"event": ingest([_read_event(_root(body, "event"))])[0]})

    @api.post("/events/batch")
    def create_events(body: Any = Depends(_json_body)) -> Response:
        items = body.get("events") if isinstance(body, Mapping) else None
        if not isinstance(items, list) or not items:
            raise ApiError(400, "bad_request", "param is missing or the value is empty: events")
        if len(items) > MAX_BATCH:
            raise _invalid({"events": ["too_many_events"]})
        read, errors = [], {}
        for i, item in enumerate(items):
            try:
                read.append(_read_event(item))
            except ApiError as exc:
                errors[str(i)] = exc.extra["error_details"]
        if errors:  # Lago refuses the whole batch, naming each bad event by its index
            raise _invalid(errors)
        return _answer({"events": ingest(read)})

    return api
