"""`meterql serve`: Lark's pricing-metric API over HTTP, on one catalogue stored beside `events`.

`create_app(engine_or_url, api_keys)` builds the ASGI app (FastAPI); `meterql serve` runs it on
uvicorn. Under `/lark` the routes and shapes are those of the `lark-billing` SDK (its types are
the contract), so `lark.Lark(api_key=…, base_url="http://host:port/lark")` works against it;
meterql's own routes (expression check and SQL, batch ingest) are under `/v1`."""

from __future__ import annotations

from typing import Any, Iterable


def create_app(engine: Any, api_keys: Iterable[str] = ()) -> Any:
    """The ASGI app over `engine` (an Engine, or a store URL for `meterql.connect`)."""
    from .app import build_app

    return build_app(engine, api_keys)


__all__ = ["create_app"]
