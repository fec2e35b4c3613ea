"""What every API of the service shares: the engine, the catalogue, errors, lookups.

Each API is a module (`lark`, and beside it `v1`, `orb`, `lago`) with:

- `PREFIX`: its path prefix (`"/lark"`);
- `router(service) -> APIRouter`: its routes, under `PREFIX`;
- `error_body(status, code, message, extra) -> dict`: its error shape (the handlers in `app.py`
  pick the shape by the request's path);
- optionally `VALIDATION_STATUS` (default 422): the status of a body that does not match.

Routes raise `ApiError`; library calls go through `Service.run`, which maps meterql's errors to
statuses, so a client never sees a traceback."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from ..diagnostics import ExpressionError
from ..errors import EngineError, InvalidSpec, LimitExceeded, MeterqlError
from .catalogue import Catalogue, Conflict

log = logging.getLogger("meterql.server")


class ApiError(Exception):
    """An answer other than 2xx: status, a stable machine code, a message, extra fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def default_error_body(status: int, code: str, message: str, extra: dict[str, Any]) -> dict[str, Any]:
    """meterql's own shape (`/v1`, `/healthz`, unknown paths)."""
    return {"error": {"code": code, "message": message, **extra}}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def exact_json(raw: bytes) -> Any:
    """A JSON body decoded with exact decimals: `0.1` is `Decimal('0.1')`, never a float (SPEC §3);
    `NaN`/`Infinity` are refused. Routes whose body carries event properties re-read it with
    this (pydantic's models, which document and check the shape, decode numbers as floats)."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None


class Service:
    """The engine and catalogue one app serves, and the helpers every API's routes use."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.catalogue = Catalogue(engine)

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
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

    def subject_or_404(self, key: str) -> dict[str, Any]:
        s = self.run(self.catalogue.get_subject, key)
        if s is None:
            raise ApiError(404, "not_found", "no subject with this id or external id")
        return s

    def metric_or_404(self, mid: str) -> dict[str, Any]:
        m = self.run(self.catalogue.get_metric, mid)
        if m is None:
            raise ApiError(404, "not_found", "no metric with this id")
        return m
