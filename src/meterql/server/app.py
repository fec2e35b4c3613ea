"""The FastAPI app: `/healthz`, auth, error shapes, and each API's router (see `service.py`)."""

from __future__ import annotations

import hmac
from typing import Any, Iterable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import lago, lark, orb, v1
from .service import ApiError, Service, default_error_body, log

# A request body larger than this is refused (413) while it is read, before any model parses it:
# 10,000 events (the largest batch any route takes) of ~3 KiB each.
MAX_BODY_BYTES = 32 * 1024 * 1024

# The APIs served, each a module with PREFIX, router(service), error_body(...) (see service.py).
APIS = (lark, orb, lago, v1)


def _api_of(path: str) -> Any:
    for api in APIS:
        if path == api.PREFIX or path.startswith(api.PREFIX + "/"):
            return api
    return None


def _error(request: Request, status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    api = _api_of(request.url.path)
    body = (api.error_body if api is not None else default_error_body)(status, code, message, extra)
    return JSONResponse(status_code=status, content=body)


class _BodyLimit:
    """ASGI middleware: counts the bytes of a request body as the app reads them and raises a 413
    (rendered in the API's error shape by the app's handlers) once they pass `max_bytes`, or at
    once when Content-Length says so — a client cannot make the server buffer an unbounded body."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        seen = int(declared) if declared.isdigit() else 0
        limit = self.max_bytes

        async def limited() -> Any:
            nonlocal seen
            if seen > limit:
                raise StarletteHTTPException(413, f"the request body is larger than {limit} bytes")
            message = await receive()
            if message.get("type") == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise StarletteHTTPException(413, f"the request body is larger than {limit} bytes")
            return message

        await self.app(scope, limited, send)


def build_app(engine: Any, api_keys: Iterable[str] = ()) -> FastAPI:
    if isinstance(engine, str):
        import meterql

        engine = meterql.connect(engine)
    keys = [k.encode() for k in api_keys if k]
    service = Service(engine)

    app = FastAPI(title="meterql", version="0.1.0",
                  description="Usage metering for billing: the seeds' APIs (Lark, Orb, Lago) on a meterql store.")
    app.state.engine, app.state.catalogue, app.state.service = engine, service.catalogue, service

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(request, exc.status, exc.code, exc.message, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"loc": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        api = _api_of(request.url.path)
        status = getattr(api, "VALIDATION_STATUS", 422)
        return _error(request, status, "invalid_request", "the request body does not match the API", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(request, exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _error(request, 500, "internal_error", "the server could not answer this request")

    def authorize(request: Request) -> None:
        """X-API-Key (what lark-billing sends) or Authorization: Bearer (Orb's, Lago's, ours)."""
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

    for api in APIS:
        app.include_router(api.router(service), dependencies=[Depends(authorize)])
    app.add_middleware(_BodyLimit, max_bytes=MAX_BODY_BYTES)
    return app
