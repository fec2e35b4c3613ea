"""meterql's own API under `/v1`: check an expression, show its SQL, ingest a batch of events.

- `POST /v1/expressions/check`: `{text, kind, schema?}` → `{valid, diagnostics}` — the
  diagnostics of `meterql check --json` (code, severity, message, span, line, column, hints,
  label). A bad expression is still a 200: the diagnostics are the answer.
- `POST /v1/expressions/sql`: `{text, kind, dialects?}` → `{sql: {dialect: text}}`, as
  `meterql sql`; a bad expression → 422 with its diagnostics.
- `POST /v1/events`: `{events: [...]}` (SPEC §1 events, stored as given) → the ingest report
  `{inserted, duplicates, rejected: [{index, reason}]}`; at most `MAX_BATCH` events a call (413).

Errors are `{"error": {"code", "message", …}}`. Text longer than `MAX_TEXT` characters is refused
(413) before the library sees it; between the library's own limit (4096 characters) and that, the
library's E002 diagnostic answers."""

from __future__ import annotations

from typing import Any, Literal, Optional

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from ..checker import check
from ..compiler import compile_sql
from .service import ApiError, Service, default_error_body, exact_json

PREFIX = "/v1"
MAX_BATCH = 10_000  # events per POST /v1/events
MAX_TEXT = 65_536  # characters of one expression (the library's own limit is far below)

Kind = Literal["filter", "value", "grouping_key", "dimension"]
Dialect = Literal["duckdb", "clickhouse"]
_KIND = {"dimension": "grouping_key"}  # a dimension is a grouping key (SPEC §2)


def error_body(status: int, code: str, message: str, extra: dict[str, Any]) -> dict[str, Any]:
    return default_error_body(status, code, message, extra)


# --- models -------------------------------------------------------------------------------------


class ExpressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="the expression, e.g. \"region = 'eu'\"")
    kind: Kind = Field("filter", description="what it is for; `dimension` is a grouping key")


class CheckIn(ExpressionIn):
    schema_: Optional[dict[str, str]] = Field(
        None, alias="schema", description='declared property types: {"tokens": "number", "region": "string"}')


class Diagnostic(BaseModel):
    code: str
    severity: str
    message: str
    span: list[int]
    line: int
    column: int
    hints: list[str]
    label: Optional[str] = None


class CheckOut(BaseModel):
    valid: bool = Field(description="no error (warnings allowed)")
    diagnostics: list[Diagnostic]


class SqlIn(ExpressionIn):
    dialects: list[Dialect] = Field(default_factory=lambda: ["duckdb", "clickhouse"], min_length=1)


class SqlOut(BaseModel):
    sql: dict[str, str] = Field(description="dialect → the SQL the expression compiles to")


class EventIn(BaseModel):
    """One event (SPEC §1). Checked by the library, so a bad one is rejected alone, with a reason."""
    model_config = ConfigDict(extra="allow")
    event_id: Any = Field(None, description="unique id; a stored id is a duplicate (first write wins)")
    subject_id: Any = None
    event_name: Any = None
    timestamp: Any = Field(None, description="RFC 3339 text or epoch milliseconds")
    properties: Any = Field(None, description="property → number (or numeric text), string, boolean, null")


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(description=f"at most {MAX_BATCH} events")


class Rejected(BaseModel):
    index: int = Field(description="position in `events`")
    reason: str


class EventsOut(BaseModel):
    inserted: int
    duplicates: int
    rejected: list[Rejected]


# --- routes -------------------------------------------------------------------------------------


def _text(body: ExpressionIn) -> str:
    if len(body.text) > MAX_TEXT:
        raise ApiError(413, "expression_too_large",
                       f"an expression is at most {MAX_TEXT} characters; this one has {len(body.text)}")
    return body.text


def router(svc: Service) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["meterql"])

    @api.post("/expressions/check", response_model=CheckOut)
    def check_expression(body: CheckIn) -> dict[str, Any]:
        diagnostics = check(_text(body), _KIND.get(body.kind, body.kind), body.schema_)
        return {"valid": not any(d.is_error for d in diagnostics), "diagnostics": [d.to_dict() for d in diagnostics]}

    @api.post("/expressions/sql", response_model=SqlOut)
    def expression_sql(body: SqlIn) -> dict[str, Any]:
        text, kind = _text(body), _KIND.get(body.kind, body.kind)
        return {"sql": {d: svc.run(compile_sql, text, kind, d) for d in dict.fromkeys(body.dialects)}}

    @api.post("/events", response_model=EventsOut)
    async def ingest_events(request: Request, body: EventsIn) -> dict[str, Any]:
        if len(body.events) > MAX_BATCH:
            raise ApiError(413, "batch_too_large",
                           f"a batch holds at most {MAX_BATCH} events; this one has {len(body.events)}")
        # The model checked the shape; the events themselves are re-read with exact decimals.
        events = exact_json(await request.body())["events"]
        report = await run_in_threadpool(svc.run, svc.engine.ingest, events)
        return report.to_dict()

    return api
