"""Shared test fixtures: real engines holding the event store of DESIGN.md.

- `duck`: an in-memory DuckDB connection (UTC session, `meterql.dialects.duckdb.install` done)
  with an empty `events` table; one per test module.
- `chdb_client`: the process's one chdb server through clickhouse-connect (HAZARDS: chdb is one
  server per process — never open a second path); session-wide.
- `chdb_db`: a fresh ClickHouse database (uuid name) holding an empty `events` table; one per
  test module, dropped afterwards. Qualify tables with it: f"{chdb_db}.events".
- `load_events(engine_kind, conn, events, *, database=None, table="events")` inserts
  `values.StoredEvent`s (or raw event dicts, normalised first).
- `run_expression(engine_kind, conn, sql, *, database=None, table="events")` → {event_id: value}
  for one compiled expression over the table.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any, Iterable

# Run from a checkout without `pip install -e .` too.
_SRC = str(Path(__file__).resolve().parent.parent / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

import clickhouse_connect
import duckdb
import pytest

from meterql.dialects import duckdb as duckdb_dialect
from meterql.values import StoredEvent, normalize_event

DUCKDB_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    event_id VARCHAR PRIMARY KEY,
    subject_id VARCHAR NOT NULL,
    event_name VARCHAR NOT NULL,
    ts BIGINT NOT NULL,
    ps MAP(VARCHAR, VARCHAR),
    pn MAP(VARCHAR, VARCHAR),
    pb MAP(VARCHAR, BOOLEAN),
    properties VARCHAR
)"""

CLICKHOUSE_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    event_id String,
    subject_id String,
    event_name String,
    ts Int64,
    ps Map(String, Nullable(String)),
    pn Map(String, Nullable(String)),
    pb Map(String, Nullable(Bool)),
    properties String
) ENGINE = MergeTree ORDER BY (subject_id, ts, event_id)"""

COLUMNS = ["event_id", "subject_id", "event_name", "ts", "ps", "pn", "pb", "properties"]


def _stored(e: StoredEvent | dict) -> StoredEvent:
    return e if isinstance(e, StoredEvent) else normalize_event(e)


def create_events_table(engine_kind: str, conn: Any, *, database: str | None = None, table: str = "events") -> str:
    """Create the event-store table (if missing); returns its qualified name."""
    name = f"{database}.{table}" if database else table
    if engine_kind == "duckdb":
        conn.execute(DUCKDB_EVENTS_DDL.format(table=name))
    else:
        conn.command(CLICKHOUSE_EVENTS_DDL.format(table=name))
    return name


def load_events(engine_kind: str, conn: Any, events: Iterable[StoredEvent | dict], *,
                database: str | None = None, table: str = "events") -> int:
    """Insert events (StoredEvent or raw dicts) into the event-store table; returns the count."""
    rows = [_stored(e) for e in events]
    name = create_events_table(engine_kind, conn, database=database, table=table)
    if not rows:
        return 0
    if engine_kind == "duckdb":
        conn.executemany(
            f"INSERT INTO {name} VALUES (?, ?, ?, ?, MAP(?::VARCHAR[], ?::VARCHAR[]), "
            "MAP(?::VARCHAR[], ?::VARCHAR[]), MAP(?::VARCHAR[], ?::BOOLEAN[]), ?)",
            [
                (e.event_id, e.subject_id, e.event_name, e.ts,
                 list(e.ps), list(e.ps.values()), list(e.pn), list(e.pn.values()),
                 list(e.pb), list(e.pb.values()), e.properties_json)
                for e in rows
            ],
        )
    else:
        conn.insert(
            name,
            [[e.event_id, e.subject_id, e.event_name, e.ts, e.ps, e.pn, e.pb, e.properties_json] for e in rows],
            column_names=COLUMNS,
        )
    return len(rows)


def run_expression(engine_kind: str, conn: Any, sql: str, *, database: str | None = None,
                   table: str = "events") -> dict[str, Any]:
    """{event_id: value} of one compiled expression over every row of the table."""
    name = f"{database}.{table}" if database else table
    query = f"SELECT event_id, {sql} FROM {name} ORDER BY event_id"
    if engine_kind == "duckdb":
        rows = conn.execute(query).fetchall()
    else:
        rows = conn.query(query).result_rows
    return {r[0]: r[1] for r in rows}


def new_duckdb() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    duckdb_dialect.install(con)
    return con


@pytest.fixture(scope="module")
def duck():
    con = new_duckdb()
    create_events_table("duckdb", con)
    yield con
    con.close()


_CHDB_CLIENT = None


def chdb() -> Any:
    """The process-wide chdb client (one embedded server per process)."""
    global _CHDB_CLIENT
    if _CHDB_CLIENT is None:
        _CHDB_CLIENT = clickhouse_connect.get_client(dsn="chdb://")
    return _CHDB_CLIENT


@pytest.fixture(scope="session")
def chdb_client():
    return chdb()


def new_chdb_database(client: Any) -> str:
    name = f"mq_{uuid.uuid4().hex[:16]}"
    client.command(f"CREATE DATABASE {name}")
    create_events_table("clickhouse", client, database=name)
    return name


@pytest.fixture(scope="module")
def chdb_db(chdb_client):
    name = new_chdb_database(chdb_client)
    yield name
    chdb_client.command(f"DROP DATABASE IF EXISTS {name}")
