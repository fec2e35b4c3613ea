"""The ClickHouse engine, through clickhouse-connect: a server over HTTP (`clickhouse://`) or the
in-process chdb backend (`chdb://`).

Consumes: a clickhouse-connect client, a database name, and `values.StoredEvent` batches.
Produces: query results for `Engine` (see `base.py`).
Guarantees:
- Storage: `<db>.events`, a MergeTree ORDER BY (subject_id, ts, event_id), so a one-subject,
  one-period query reads only that subject's granules in time order; properties text is ZSTD-
  compressed (read only for audit). A projection ordered by `event_id` serves the duplicate check.
- Idempotency, first write wins, on every engine state: before a batch is inserted, the ids that
  are already stored are looked up (server-side `{ids:Array(String)}` parameter, chunked) and
  left out; the rest is ONE columnar insert. A plain MergeTree never merges rows away or together,
  so results are the same before and after background merges and `OPTIMIZE … FINAL`
  (HAZARDS: ReplacingMergeTree counted re-sent ids twice until a merge, and never merged a retry
  with a new timestamp). Writers are serialised per engine; two processes ingesting the same ids
  at the same instant are not (README "Semantics").
- Read queries run with `readonly=1` (no file(), no DDL, no INSERT), `session_timezone='UTC'`,
  `count_distinct_implementation='uniqExact'`, `max_execution_time` and `max_memory_usage`
  (settings per query: they are not sticky, HAZARDS). Parameters are bound server side only
  (`{name:Type}`), never by clickhouse-connect's client-side `%` formatting.
- Errors: the compiler's overflow marker and ClickHouse's decimal overflow → `NumericOverflow`;
  refused / timed-out / failed connections, 5xx answers without a ClickHouse error and streams
  cut short → `TransportError` (no partial result is returned: every query also returns its own
  row count, checked in `query.py`); other server errors → `EngineError`.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Mapping

from sqlglot import exp

from ..errors import EngineError, NumericOverflow, TransportError
from .base import Engine

TABLE = "events"
ID_LOOKUP_CHUNK = 10_000
ID_LOOKUP_CHARS = 300_000
COLUMNS = ["event_id", "subject_id", "event_name", "ts", "ps", "pn", "pb", "properties"]

_DATABASE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def ddl(database: str) -> list[str]:
    db = _ident(database)
    return [
        f"CREATE DATABASE IF NOT EXISTS {db}",
        f"""CREATE TABLE IF NOT EXISTS {db}.{TABLE} (
    event_id   String,
    subject_id String,
    event_name LowCardinality(String),
    ts         Int64 CODEC(Delta, ZSTD(1)),
    ps         Map(String, Nullable(String)),
    pn         Map(String, Nullable(String)),
    pb         Map(String, Nullable(Bool)),
    properties String CODEC(ZSTD(3)),
    PROJECTION by_event_id (SELECT event_id ORDER BY event_id)
) ENGINE = MergeTree
ORDER BY (subject_id, ts, event_id)""",
    ]


def _ident(name: str) -> str:
    # Database names come from the connection URL: a strict shape, then backquoted.
    if not _DATABASE_RE.fullmatch(name):
        raise EngineError(f"invalid ClickHouse database name {name!r} (letters, digits and _ only)")
    return f"`{name}`"


def _ch_code(text: str) -> int | None:
    m = re.search(r"Code: (\d+)", text)
    return int(m.group(1)) if m else None


def translate(exc: Exception) -> Exception:
    """A clickhouse-connect / chdb exception as a meterql error."""
    from clickhouse_connect.driver import exceptions as cx

    text = str(exc)
    first = " ".join(text.split())[:300]
    code = _ch_code(text)
    if "meterql: numeric overflow" in text or code == 407 or "DECIMAL_OVERFLOW" in text:
        return NumericOverflow(f"numeric overflow: a value reached 10^26 in magnitude ({first})")
    if isinstance(exc, (cx.OperationalError, cx.StreamCompleteException, ConnectionError, TimeoutError)):
        return TransportError(f"ClickHouse transport failed: {first}")
    if code is None and isinstance(exc, cx.DatabaseError):
        # An HTTP error without a ClickHouse exception in it: a proxy or a dying server (5xx).
        return TransportError(f"ClickHouse answered with an error, not a result: {first}")
    if isinstance(exc, EngineError):
        return exc
    return EngineError(f"ClickHouse failed: {first}")


class ClickHouseEngine(Engine):
    dialect = "clickhouse"

    def __init__(
        self,
        client: Any,
        database: str = "meterql",
        *,
        url: str = "",
        max_execution_time: int = 30,
        max_memory_usage: int = 4 * 1024**3,
        session_timezone: str = "UTC",
        client_factory: Any = None,
    ) -> None:
        super().__init__()
        self.url = url
        self._factory = client_factory
        self.database = database
        self._client = client
        self._lock = threading.Lock()  # a clickhouse-connect client is not thread safe
        # `readonly` last: a server applies URL settings in order, and after readonly=1 it
        # refuses to change any other setting.
        self.read_settings: dict[str, Any] = {
            "session_timezone": session_timezone,
            "count_distinct_implementation": "uniqExact",
            "max_execution_time": max_execution_time,
            "max_memory_usage": max_memory_usage,
            "readonly": 1,
        }
        for stmt in ddl(database):
            self._command(stmt)

    def _write(self, fn: Any) -> Any:
        """Run a write (DDL or insert) on the client. If the client's session was left read-only
        — observed: clickhouse-connect's chdb backend cannot restore its settings after a refused
        INSERT under `readonly=1` — open a fresh client and try once more (writes here are
        idempotent: DDL has IF NOT EXISTS, and a refused insert stored nothing)."""
        with self._lock:
            try:
                return fn(self._client)
            except Exception as exc:  # noqa: BLE001 - every client error is translated
                if _ch_code(str(exc)) != 164 or self._factory is None:
                    raise translate(exc) from None
            try:
                self._client = self._factory()
                return fn(self._client)
            except Exception as exc:  # noqa: BLE001
                raise translate(exc) from None

    def _command(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._write(lambda client: client.command(sql, parameters=params or None))

    def _table(self) -> exp.Table:
        return exp.Table(
            this=exp.to_identifier(TABLE, quoted=True), db=exp.to_identifier(self.database, quoted=True)
        )

    def _query(self, sql: str, params: Mapping[str, Any]) -> list[tuple]:
        with self._lock:
            try:
                result = self._client.query(sql, parameters=dict(params) or None, settings=self.read_settings)
                rows = list(result.result_rows)
            except Exception as exc:  # noqa: BLE001
                raise translate(exc) from None
        summary = getattr(result, "summary", None) or {}
        reported = summary.get("result_rows")
        if reported not in (None, "") and int(reported) != len(rows):
            raise TransportError(f"ClickHouse sent {len(rows)} of {reported} result rows (a cut-short stream)")
        return rows

    def _existing_ids(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        sql = f"SELECT event_id FROM {_ident(self.database)}.{TABLE} WHERE event_id IN {{ids:Array(String)}}"
        # Chunks bounded in count and in characters: over HTTP the parameter travels in the URL
        # (ClickHouse's http_max_uri_size is 1 MiB by default).
        chunk: list[str] = []
        size = 0
        for eid in ids + [None]:  # type: ignore[list-item]
            if eid is None or len(chunk) >= ID_LOOKUP_CHUNK or size + len(eid) > ID_LOOKUP_CHARS:
                if chunk:
                    found.update(row[0] for row in self._query(sql, {"ids": chunk}))
                chunk, size = [], 0
            if eid is not None:
                chunk.append(eid)
                size += len(eid) + 4
        return found

    def _insert(self, events: list[Any]) -> int:
        existing = self._existing_ids([e.event_id for e in events])
        fresh = [e for e in events if e.event_id not in existing]
        if not fresh:
            return 0
        fresh.sort(key=lambda e: (e.subject_id, e.ts))
        data = [
            [e.event_id for e in fresh],
            [e.subject_id for e in fresh],
            [e.event_name for e in fresh],
            [e.ts for e in fresh],
            [e.ps for e in fresh],
            [e.pn for e in fresh],
            [e.pb for e in fresh],
            [e.properties_json for e in fresh],
        ]
        self._write(
            lambda client: client.insert(
                TABLE, data, column_names=COLUMNS, column_oriented=True, database=self.database,
                settings={"async_insert": 0},
            )
        )
        return len(fresh)

    def count_events(self) -> int:
        return int(self._query(f"SELECT count() FROM {_ident(self.database)}.{TABLE}", {})[0][0])

    def optimize_final(self) -> None:
        """Force every background merge now (tests: results must not change)."""
        self._command(f"OPTIMIZE TABLE {_ident(self.database)}.{TABLE} FINAL")

    def drop(self) -> None:
        """Drop this engine's database (tests and demos that own it)."""
        self._command(f"DROP DATABASE IF EXISTS {_ident(self.database)}")

    def close(self) -> None:
        with self._lock:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001 - closing a dead connection is not an error
                pass
