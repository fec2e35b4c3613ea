"""The embedded DuckDB engine: an event store in one file (or in memory).

Consumes: a database path (None = in memory) and batches of `values.Row` tuples (from ingest) or
`values.StoredEvent`s (`_insert`).
Produces: query results for `Engine` (see `base.py`).
Guarantees:
- Storage: table `events` with the DESIGN.md columns, `event_id` the PRIMARY KEY; inserts are
  one statement per batch — a plain `INSERT` while batches are new (it fails as a whole on a
  stored id), else `INSERT OR IGNORE` — so the first stored event with an id wins and a batch
  lands atomically. Batches are sorted by (UTC month, subject_id, ts) (`CLUSTER_BY`) before they are
  written, so DuckDB's per-row-group min/max (zone maps) on `subject_id` and `ts` prune the scan
  of a one-subject, one-month summary (benchmarks/engine.py measures it).
- Columnar inserts: an Arrow table when pyarrow is importable (it is whenever chdb is), else
  list parameters unnested by DuckDB — never a row at a time.
- Hardening (SPEC §8): `enable_external_access=false` from the first statement; the exact
  division UDF is installed and the table created, then `lock_configuration=true`, so no query
  can switch external access back on or read a file. Time is epoch ms in BIGINT: the session
  time zone never enters a query.
- Limits (`QueryLimits`, equal in spirit to ClickHouse's settings): the database's
  `memory_limit` is `max_memory_usage` (set at connect, before the configuration is locked), and
  every read query runs under a timer that interrupts it (`connection.interrupt()`) after
  `max_execution_time` seconds; both fail with `LimitExceeded`.
- One database per file per process: DuckDB itself keeps one instance per file in a process, so
  a second engine on the same file shares the first one's connection and lock (reference
  counted; the connection closes with the last engine). Both see each other's ingests at once.
- One connection, one statement at a time (`_lock`), and every statement's result is read to
  its end (`_fetch`): DuckDB (2.x) refuses `register` — and other work — on a connection that
  holds an unfinished result ("Resource In Use"), and a `fetchone()` of a one-row result leaves
  it unfinished. Ingest's writer stores on its own cursor (`con.cursor()`), so a result left
  open on the query connection cannot stall it either.
- Errors: DuckDB's overflow messages (and the compiler's marker) → `NumericOverflow`; its
  out-of-memory error → `LimitExceeded`; anything else from DuckDB → `EngineError`.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Mapping

import duckdb
from sqlglot import exp

from ..errors import EngineError, InvalidSpec, LimitExceeded, NumericOverflow, show
from ..limits import DEFAULT_QUERY_LIMITS, QueryLimits
from .base import Engine

TABLE = "events"

DDL = """
CREATE TABLE IF NOT EXISTS events (
    event_id   VARCHAR PRIMARY KEY,
    subject_id VARCHAR NOT NULL,
    event_name VARCHAR NOT NULL,
    ts         BIGINT  NOT NULL,
    ps         MAP(VARCHAR, VARCHAR),
    pn         MAP(VARCHAR, VARCHAR),
    pb         MAP(VARCHAR, BOOLEAN),
    properties VARCHAR NOT NULL
)
"""

META_DDL = "CREATE TABLE IF NOT EXISTS meterql_meta (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL)"
# Re-cluster when the rows appended since the last re-clustering reach this many, and at least as
# many as the clustered ones (a doubling rule: every row is rewritten O(log N) times in all).
COMPACT_MIN_ROWS = 100_000

# The storage order: by UTC calendar month, then subject and time. DuckDB skips a row group by
# its min/max (zone maps): month first lets an invoice run over one month of a store holding many
# read only that month's row groups (all subjects), and within the month subject first lets a
# one-subject summary read a few of them. (subject_id, ts) alone spread every month over every
# row group: an invoice run for one of three months read all of them (benchmarks/README.md).
CLUSTER_BY = "date_trunc('month', epoch_ms(ts)), subject_id, ts"

# Arrow → table; ORDER BY keeps each batch clustered (zone-map pruning).
_INSERT_ARROW = f"INSERT OR IGNORE INTO events SELECT * FROM meterql_batch ORDER BY {CLUSTER_BY}"
_INSERT_ARROW_NEW = f"INSERT INTO events SELECT * FROM meterql_batch ORDER BY {CLUSTER_BY}"
_INSERT_LISTS = f"""
INSERT OR IGNORE INTO events
SELECT * FROM (
    SELECT unnest($1) AS event_id, unnest($2) AS subject_id, unnest($3) AS event_name,
           unnest($4) AS ts, MAP(unnest($5), unnest($6)) AS ps, MAP(unnest($7), unnest($8)) AS pn,
           MAP(unnest($9), unnest($10)) AS pb, unnest($11) AS properties
) ORDER BY {CLUSTER_BY}
"""


def _overflow_patterns() -> tuple[str, ...]:
    try:
        from ..dialects.duckdb import DuckDB

        return tuple(DuckDB.OVERFLOW_PATTERNS)
    except ImportError:  # pragma: no cover - the dialect package is part of the library
        return ("meterql: numeric overflow", "Overflow")


def translate(exc: Exception) -> Exception:
    text = str(exc)
    if isinstance(exc, duckdb.OutOfMemoryException):
        return LimitExceeded(
            "the query passed the engine's memory limit (QueryLimits.max_memory_usage) and was stopped "
            f"({text.splitlines()[0][:200]})"
        )
    if any(p in text for p in _overflow_patterns()) or "Overflow" in text:
        return NumericOverflow(f"numeric overflow: a value reached 10^26 in magnitude ({text.splitlines()[0][:200]})")
    return EngineError(f"DuckDB failed: {text.splitlines()[0][:300] if text else type(exc).__name__}")


class _Database:
    """One opened DuckDB database: its connection, the lock that serialises its use, and how many
    engines hold it (`_OPEN`: one per file per process)."""

    def __init__(self, con: Any, key: str | None, memory_limit: int | None, session_timezone: str | None) -> None:
        self.con = con
        self.key = key
        self.memory_limit = memory_limit
        self.session_timezone = session_timezone
        self.lock = threading.Lock()  # one DuckDB connection, used by one thread at a time
        self.users = 1


# DuckDB keeps one database instance per file in a process, and a second `duckdb.connect` of it
# with a configuration fails (the first one locked its configuration): engines on the same file
# share one `_Database` instead. Keyed by the file's real path.
_OPEN: dict[str, _Database] = {}
_OPEN_LOCK = threading.Lock()


def _open(path: str | None, memory_limit: int | None, session_timezone: str | None) -> Any:
    config: dict[str, Any] = {"enable_external_access": False}
    if memory_limit is not None:
        config["memory_limit"] = f"{int(memory_limit)}B"
    try:
        con = duckdb.connect(path or ":memory:", config=config)
    except duckdb.Error as exc:
        hint = ""
        if path and not path.startswith("/"):
            hint = " (a relative path: duckdb:///rel/path; an absolute one takes four slashes, duckdb:////abs/path)"
        raise EngineError(f"cannot open DuckDB database {show(path)}{hint}: {exc}") from None
    from ..dialects.duckdb import install

    install(con)
    con.execute(DDL)
    con.execute(META_DDL)
    if session_timezone is not None:
        # Only for tests: results must not depend on it (time is integer ms throughout).
        # (SET takes no parameters; the name is checked against a strict character set.)
        con.execute(f"SET TimeZone = '{_tz_literal(session_timezone)}'")
    con.execute("SET lock_configuration = true")
    return con


class _Deadline:
    """Interrupts the connection's running query after `seconds` (DuckDB has no statement
    timeout). `cancel()` after the query; `fired` says whether the interrupt was sent."""

    def __init__(self, con: Any, seconds: float) -> None:
        self._con = con
        self._guard = threading.Lock()
        self._done = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._guard:
            if not self._done:
                self.fired = True
                self._con.interrupt()

    def cancel(self) -> None:
        with self._guard:
            self._done = True
        self._timer.cancel()


class DuckDBEngine(Engine):
    dialect = "duckdb"

    def __init__(self, path: str | None = None, *, url: str = "duckdb://", session_timezone: str | None = None,
                 limits: QueryLimits = DEFAULT_QUERY_LIMITS) -> None:
        super().__init__()
        self.url = url
        self.path = path
        self.limits = limits
        key = os.path.realpath(path) if path else None
        with _OPEN_LOCK:
            db = _OPEN.get(key) if key is not None else None
            if db is None:
                db = _Database(_open(path, limits.max_memory_usage, session_timezone), key,
                               limits.max_memory_usage, session_timezone)
                if key is not None:
                    _OPEN[key] = db
            else:
                # The second engine on a file shares the database: its settings must agree.
                if db.memory_limit != limits.max_memory_usage:
                    raise InvalidSpec(
                        f"DuckDB database {show(path)} is already open in this process with max_memory_usage "
                        f"{db.memory_limit}; a second engine on it must use the same (it is one database)"
                    )
                if session_timezone is not None and session_timezone != db.session_timezone:
                    raise InvalidSpec(f"DuckDB database {show(path)} is already open in this process with another time zone")
                db.users += 1
        self._db: _Database | None = db
        self._lock = db.lock
        self._con = db.con
        # Ingest's writer (`_store_rows`, possibly on the writer thread) registers its Arrow batch
        # and inserts on its own cursor: a connection of the same database, with its own results
        # (one per engine, also when engines share the database).
        self._writer = self._con.cursor()
        self._recent_duplicates = False  # did a recent batch hold stored ids? (`_insert_arrow`)
        # Rows this engine stored since `_after_ingest` last counted the table, and how many more
        # must land before the doubling rule can call for a re-clustering (0: count next time).
        self._landed_since_check = 0
        self._rows_before_check = 0
        try:
            import pyarrow  # noqa: F401

            self._arrow = True
        except ImportError:  # pragma: no cover - exercised only without pyarrow
            self._arrow = False

    def _table(self) -> exp.Table:
        return exp.Table(this=exp.to_identifier(TABLE, quoted=True))

    def _query(self, sql: str, params: Mapping[str, Any]) -> list[tuple]:
        seconds = self.limits.max_execution_time
        with self._lock:
            deadline = _Deadline(self._con, seconds) if seconds is not None else None
            try:
                return _fetch(self._con, sql, dict(params))
            except duckdb.Error as exc:
                if deadline is not None and deadline.fired and isinstance(exc, duckdb.InterruptException):
                    raise LimitExceeded(
                        f"the query passed the engine's time limit (QueryLimits.max_execution_time, {seconds:g} s) "
                        "and was stopped"
                    ) from None
                raise translate(exc) from None
            finally:
                if deadline is not None:
                    deadline.cancel()

    def _execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """Run one write statement (the server's catalogue) with bound parameters, under the lock."""
        with self._lock:
            try:
                return _fetch(self._con, sql, dict(params) if params else None)
            except duckdb.Error as exc:
                raise translate(exc) from None

    def _insert(self, events: list[Any]) -> int:
        return self._store_rows(self._prepare_rows([_row(e) for e in events]))

    def _prepare_rows(self, rows: list[Any]) -> Any:
        return _arrow_batch(rows) if self._arrow else _list_batch(rows)

    def _columnar_ingest(self) -> bool:
        return self._arrow and super()._columnar_ingest()

    def _prepare_table(self, table: Any) -> Any:
        return table  # the INSERT orders it (CLUSTER_BY)

    def _store_rows(self, prepared: Any) -> int:
        with self._lock:
            con = self._writer
            try:
                if not self._arrow:
                    landed = _count(_fetch(con, _INSERT_LISTS, prepared))
                else:
                    con.register("meterql_batch", prepared)
                    try:
                        landed = self._insert_arrow(prepared.num_rows)
                    finally:
                        con.unregister("meterql_batch")
            except duckdb.Error as exc:
                raise translate(exc) from None
            self._landed_since_check += landed
            return landed

    def _insert_arrow(self, n: int) -> int:
        # A plain INSERT costs ~3 µs/event less than INSERT OR IGNORE (measured, 50k batches). It
        # is tried first while the recent batches were all new; a batch with a stored id fails it
        # as a whole (one statement: nothing of it lands) and is then written with OR IGNORE,
        # which also serves the next batches until one lands completely (re-sent files repeat).
        if not self._recent_duplicates:
            try:
                return _count(_fetch(self._writer, _INSERT_ARROW_NEW))
            except duckdb.ConstraintException:
                self._recent_duplicates = True
        landed = _count(_fetch(self._writer, _INSERT_ARROW))
        self._recent_duplicates = landed < n
        return landed

    def count_events(self) -> int:
        return int(self._query("SELECT count(*) FROM events", {})[0][0])

    def _mark_wide_numbers(self) -> None:
        self._execute("INSERT OR REPLACE INTO meterql_meta VALUES ('wide_numbers', 1)")

    def _store_marked_wide(self) -> bool:
        return bool(self._query("SELECT count(*) FROM meterql_meta WHERE key = 'wide_numbers'", {})[0][0])

    def _clustered_rows(self) -> int:
        return _count(_fetch(self._con, "SELECT value FROM meterql_meta WHERE key = 'clustered_rows'"))

    def _after_ingest(self) -> None:
        """Re-cluster under the doubling rule (appended rows ≥ max(COMPACT_MIN_ROWS, clustered)).
        The table is counted only once enough rows landed here since the last count for the rule
        to be met (a service's one-event calls skip two queries, ~2 ms each); rows stored by
        another engine on the same file only make that count come later."""
        if self._landed_since_check < self._rows_before_check:
            return
        self._landed_since_check = 0
        with self._lock:
            try:
                total = _count(_fetch(self._con, "SELECT count(*) FROM events"))
                clustered = self._clustered_rows()
            except duckdb.Error as exc:
                raise translate(exc) from None
        if total - clustered >= max(COMPACT_MIN_ROWS, clustered):
            self.compact()
            clustered = total
        self._rows_before_check = max(COMPACT_MIN_ROWS, clustered) - (total - clustered)

    def compact(self) -> None:
        """Rewrite the table in `CLUSTER_BY` order (UTC month, subject_id, ts), in one transaction.

        DuckDB keeps rows in insertion order and skips row groups by their min/max; a store
        clustered by subject and time lets a one-subject, one-month summary read a few row groups
        instead of every row group of the month (benchmarks/engine.py: ~5× faster at 1M events).
        Ingest calls this by itself under a doubling rule; call it after a bulk load to have it
        now."""
        with self._lock:
            con = self._con
            try:
                for sql in (
                    "BEGIN TRANSACTION",
                    DDL.replace("IF NOT EXISTS events", "meterql_events_clustered"),
                    f"INSERT INTO meterql_events_clustered SELECT * FROM events ORDER BY {CLUSTER_BY}",
                    "DROP TABLE events",
                    "ALTER TABLE meterql_events_clustered RENAME TO events",
                    "INSERT OR REPLACE INTO meterql_meta SELECT 'clustered_rows', count(*) FROM events",
                    "COMMIT",
                ):
                    _fetch(con, sql)
            except duckdb.Error as exc:
                try:
                    _fetch(con, "ROLLBACK")
                except duckdb.Error:  # no transaction left to roll back (e.g. BEGIN itself failed)
                    pass
                raise translate(exc) from None
            if self.path:
                try:
                    _fetch(con, "CHECKPOINT")
                except duckdb.Error as exc:
                    raise translate(exc) from None

    def close(self) -> None:
        """Release the database; the connection closes with the last engine using it. Idempotent."""
        with _OPEN_LOCK:
            db, self._db = self._db, None
            if db is None:
                return
            with self._lock:
                self._writer.close()  # this engine's own cursor
            db.users -= 1
            if db.users > 0:
                return
            if db.key is not None:
                _OPEN.pop(db.key, None)
        with self._lock:
            self._con.close()


def _fetch(con: Any, sql: str, params: Any = None) -> list[tuple]:
    """Run one statement and read its result to the end (DDL and COMMIT give no rows): a result
    left unfinished makes DuckDB refuse the connection's next `register` ("Resource In Use")."""
    return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()


def _count(rows: list[tuple]) -> int:
    """The first value of a one-row answer (an INSERT's row count, a count(*)); 0 for no row."""
    return int(rows[0][0]) if rows else 0


def _tz_literal(tz: str) -> str:
    if not all(c.isalnum() or c in "/_+-" for c in tz):
        raise ValueError(f"not a time zone name: {show(tz)}")
    return tz


def _row(e: Any) -> tuple:
    """A `StoredEvent` as a `values.Row`."""
    return (e.event_id, e.subject_id, e.event_name, e.ts, e.ps, e.pn, e.pb, e.properties_json)


def _columns(rows: list[tuple]) -> list[list[Any]]:
    """Rows → 8 column lists. Not `zip(*rows)`: that makes one (GC-tracked) iterator per row, and
    the collections it triggers walk every live object (measured: 0.7–2.6 µs/event against 0.2)."""
    return [[r[i] for r in rows] for i in range(8)]


def _arrow_batch(rows: list[tuple]) -> Any:
    import pyarrow as pa

    # pyarrow converts a list of dicts to a MAP column in C++ (~3× faster than flattening keys,
    # values and offsets in Python), in each dict's own key order.
    event_id, subject_id, event_name, ts, ps, pn, pb, properties = _columns(rows)
    string = pa.string()
    text_map = pa.map_(string, string)
    return pa.table(
        {
            "event_id": pa.array(event_id, string),
            "subject_id": pa.array(subject_id, string),
            "event_name": pa.array(event_name, string),
            "ts": pa.array(ts, pa.int64()),
            "ps": pa.array(ps, text_map),
            "pn": pa.array(pn, text_map),
            "pb": pa.array(pb, pa.map_(string, pa.bool_())),
            "properties": pa.array(properties, string),
        }
    )


def _list_batch(rows: list[tuple]) -> list[Any]:
    event_id, subject_id, event_name, ts, ps, pn, pb, properties = _columns(rows)
    return [
        event_id,
        subject_id,
        event_name,
        ts,
        [list(d) for d in ps],
        [list(d.values()) for d in ps],
        [list(d) for d in pn],
        [list(d.values()) for d in pn],
        [list(d) for d in pb],
        [list(d.values()) for d in pb],
        properties,
    ]
