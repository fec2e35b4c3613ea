"""`meterql.connect(url)`: an event store on DuckDB or ClickHouse (SPEC §9).

    duckdb://                      in memory
    duckdb:///usage.duckdb         a file, relative path (three slashes; the embedded default)
    duckdb:////var/lib/usage.duckdb   a file, absolute path (four slashes, as in SQLAlchemy)
    chdb://                        in-process ClickHouse (chdb), in memory
    chdb:///dir  chdb:////abs/dir  in-process ClickHouse with data in a directory
    clickhouse://user:password@host:8123/db    a ClickHouse server over HTTP (clickhouses:// = HTTPS)

Query parameters: `database=` (chdb; the database the store lives in, default `meterql` — chdb
is one server per process, so engines are isolated by database name), for ClickHouse
`connect_timeout=`, `send_receive_timeout=`, and for every engine the query limits
(`meterql.limits.QueryLimits`): `max_execution_time=` (seconds), `max_memory_usage=` (bytes),
`max_rows=`, `max_dimensions=` (`0` disables one). `connect(url, limits=QueryLimits(...))` sets
them in code; the URL's win over it. The event store is created on first connect. Errors are
`EngineError` / `TransportError`; a bad URL or limit is `InvalidSpec`.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import EngineError, InvalidSpec, TransportError, describe_type, show
from ..limits import DEFAULT_QUERY_LIMITS, QueryLimits
from .base import Engine, IngestReport, SummaryRow

DEFAULT_URL = "duckdb:///meterql.duckdb"

__all__ = ["connect", "Engine", "IngestReport", "SummaryRow", "DEFAULT_URL", "default_url"]


def default_url() -> str:
    """`$METERQL_URL`, else the embedded default `duckdb:///meterql.duckdb`."""
    return os.environ.get("METERQL_URL") or DEFAULT_URL


def _path(url_path: str) -> str | None:
    """SQLAlchemy style: `///rel` → 'rel', `////abs` → '/abs', empty → None (memory)."""
    p = unquote(url_path)
    if not p or p == "/":
        return None
    return p[1:]  # drop the separator slash; an absolute path keeps its own leading slash


def _int_param(q: dict[str, list[str]], name: str, default: int | None) -> int | None:
    if name not in q:
        return default
    try:
        return int(q[name][-1])
    except ValueError:
        raise InvalidSpec(f"connection parameter {name} must be an integer") from None


def connect(url: str | None = None, *, limits: QueryLimits | None = None, **options: Any) -> Engine:
    """An `Engine` for `url` (see the module docstring); `None` means `default_url()`.
    `limits`: the engine's `QueryLimits` (default `QueryLimits()`); the URL's query may set them too."""
    url = url or default_url()
    if not isinstance(url, str):
        raise InvalidSpec(f"a connection URL is a string, not {describe_type(url)}")
    if limits is None:
        limits = DEFAULT_QUERY_LIMITS
    elif not isinstance(limits, QueryLimits):
        raise InvalidSpec(f"limits must be a meterql.QueryLimits, not {describe_type(limits)}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidSpec(f"not a connection URL: {exc}") from None
    scheme = parts.scheme.lower()
    q = parse_qs(parts.query)
    limits = limits.with_url_query(q)
    if scheme == "duckdb":
        from .duckdb import DuckDBEngine

        if parts.netloc:
            raise InvalidSpec(f"duckdb URLs have no host: use duckdb:///relative/path or duckdb:////absolute/path ({url})")
        return DuckDBEngine(_path(parts.path), url=url, limits=limits, **options)
    if scheme in ("chdb", "clickhouse", "clickhouses"):
        import clickhouse_connect

        from .clickhouse import ClickHouseEngine

        # ClickHouse enforces time and memory itself; 0 is its "no limit".
        settings = {
            "max_execution_time": limits.max_execution_time or 0,
            "max_memory_usage": limits.max_memory_usage or 0,
        }
        if scheme == "chdb":
            if parts.netloc and parts.netloc != "memory":
                raise InvalidSpec(f"chdb URLs have no host: use chdb:// or chdb:///path ({url})")
            path = _path(parts.path)
            database = q.get("database", ["meterql"])[-1]
            def factory() -> Any:
                return clickhouse_connect.get_client(interface="chdb", path=path or ":memory:")

            try:
                client = factory()
            except Exception as exc:  # noqa: BLE001
                raise EngineError(f"cannot start chdb at {path or ':memory:'}: {exc}") from None
            options.setdefault("client_factory", factory)
        else:
            database = unquote(parts.path.lstrip("/")) or "default"
            try:
                client = clickhouse_connect.get_client(
                    interface="https" if scheme == "clickhouses" else "http",
                    host=parts.hostname or "localhost",
                    port=parts.port or (8443 if scheme == "clickhouses" else 8123),
                    username=unquote(parts.username or "default"),
                    password=unquote(parts.password or ""),
                    connect_timeout=_int_param(q, "connect_timeout", 10),
                    send_receive_timeout=_int_param(q, "send_receive_timeout", 300),
                    query_retries=0,
                    autogenerate_session_id=False,
                )
            except Exception as exc:  # noqa: BLE001 - refused, timeout, 5xx at connect
                from .clickhouse import translate

                err = translate(exc)
                if not isinstance(err, TransportError):
                    err = TransportError(f"cannot connect to ClickHouse at {parts.hostname}:{parts.port}: {err}")
                raise err from None
        engine = ClickHouseEngine(client, database, url=url, **settings, **options)
        engine.limits = limits
        return engine
    raise InvalidSpec(f"unsupported URL scheme {show(parts.scheme)}: use duckdb://, chdb:// or clickhouse://")
