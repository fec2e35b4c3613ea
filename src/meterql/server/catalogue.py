"""The service's catalogue, stored beside `events` in the same store: metrics, subjects, records.

Tables `metrics` (id `pmtr_…`, the metric payload as JSON) and `subjects` (id `subj_…`, unique
`external_id`, name, email, metadata JSON) and `records` (anything else an API keeps — Orb items and prices, Lago metric codes:
a `kind`, an `id`, an optional `key` unique within its kind, a JSON payload). Every value travels as a bound parameter. Writes are
rare and go through one lock per catalogue, so "external_id is unique" is checked and written as
one step (one server process per store, as the engines already require for chdb)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

from ..errors import InvalidSpec, MeterqlError

DUCKDB_DDL = [
    """CREATE TABLE IF NOT EXISTS metrics (
    id         VARCHAR PRIMARY KEY,
    payload    VARCHAR NOT NULL,
    created_ms BIGINT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS subjects (
    id          VARCHAR PRIMARY KEY,
    external_id VARCHAR UNIQUE,
    name        VARCHAR,
    email       VARCHAR,
    metadata    VARCHAR NOT NULL,
    created_ms  BIGINT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS records (
    kind       VARCHAR NOT NULL,
    id         VARCHAR NOT NULL,
    key        VARCHAR,
    payload    VARCHAR NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
)""",
]


def _clickhouse_ddl(db: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {db}.metrics (
    id String, payload String, created_ms Int64
) ENGINE = MergeTree ORDER BY id""",
        f"""CREATE TABLE IF NOT EXISTS {db}.subjects (
    id String, external_id Nullable(String), name Nullable(String), email Nullable(String),
    metadata String, created_ms Int64
) ENGINE = MergeTree ORDER BY id""",
        f"""CREATE TABLE IF NOT EXISTS {db}.records (
    kind String, id String, key Nullable(String), payload String, created_ms Int64
) ENGINE = MergeTree ORDER BY (kind, id)""",
    ]


class Conflict(MeterqlError):
    """A unique key (a subject's external_id) already taken."""


def new_id(prefix: str) -> str:
    return prefix + "_" + secrets.token_urlsafe(18).replace("-", "A").replace("_", "B")[:24]


_SUBJECT_COLUMNS = "id, external_id, name, email, metadata, created_ms"

# The statement builders below assemble SQL text from trusted pieces only: table names are
# constants (the ClickHouse database escaped by `engines.clickhouse._ident`), column names come
# from this module (`_SUBJECT_FIELDS` is checked before an update), and every value is a bound
# parameter placeholder (`param`). Customer text never reaches them.


class _DuckDBStore:
    """DuckDB: `$name` parameters, writes through `DuckDBEngine._execute`."""

    def __init__(self, engine: Any) -> None:
        self.tables, self.ddl, self.write = ("metrics", "subjects", "records"), DUCKDB_DDL, engine._execute

    @staticmethod
    def param(name: str, typ: str = "String") -> str:
        return f"${name}"

    @staticmethod
    def update_many(table: str, assignments: dict[str, str], where: str) -> str:
        sets = ", ".join(f"{c} = {v}" for c, v in assignments.items())
        return f"UPDATE {table} SET {sets} WHERE {where}"

    @staticmethod
    def delete(table: str, where: str) -> str:
        return f"DELETE FROM {table} WHERE {where}"


class _ClickHouseStore:
    """ClickHouse/chdb: `{name:Type}` parameters, writes through `ClickHouseEngine._command`."""

    def __init__(self, engine: Any) -> None:
        from ..engines.clickhouse import _ident

        db = _ident(engine.database)
        self.tables = (f"{db}.metrics", f"{db}.subjects", f"{db}.records")
        self.ddl, self.write = _clickhouse_ddl(db), engine._command

    @staticmethod
    def param(name: str, typ: str = "String") -> str:
        return f"{{{name}:{typ}}}"

    # Synchronous mutations: the next read sees the change (a catalogue is small; writes are rare).
    @staticmethod
    def update_many(table: str, assignments: dict[str, str], where: str) -> str:
        sets = ", ".join(f"{c} = {v}" for c, v in assignments.items())
        return f"ALTER TABLE {table} UPDATE {sets} WHERE {where} SETTINGS mutations_sync = 1"

    @staticmethod
    def delete(table: str, where: str) -> str:
        return f"ALTER TABLE {table} DELETE WHERE {where} SETTINGS mutations_sync = 1"


_STORES = {"duckdb": _DuckDBStore, "clickhouse": _ClickHouseStore}


class Catalogue:
    """Metrics and subjects over one engine's connection (DuckDB or ClickHouse/chdb)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._sql = _STORES[engine.dialect](engine)
        self._metrics, self._subjects, self._records = self._sql.tables
        self._p, self._write, self._read = self._sql.param, self._sql.write, engine._query
        for stmt in self._sql.ddl:
            self._write(stmt, {})

    # --- metrics ------------------------------------------------------------------------------

    def create_metric(self, payload: dict[str, Any]) -> dict[str, Any]:
        mid = new_id("pmtr")
        p = self._p
        with self._lock:
            self._write(
                f"INSERT INTO {self._metrics} (id, payload, created_ms) "
                f"SELECT {p('id')}, {p('payload')}, {p('ms', 'Int64')}",
                {"id": mid, "payload": json.dumps(payload, sort_keys=True), "ms": int(time.time() * 1000)},
            )
        return {"id": mid, **payload}

    def get_metric(self, mid: str) -> dict[str, Any] | None:
        rows = self._read(f"SELECT id, payload FROM {self._metrics} WHERE id = {self._p('id')}", {"id": mid})
        return {"id": rows[0][0], **json.loads(rows[0][1])} if rows else None

    def list_metrics(self, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        rows = self._read(
            f"SELECT id, payload FROM {self._metrics} ORDER BY created_ms, id "
            f"LIMIT {self._p('limit', 'Int64')} OFFSET {self._p('offset', 'Int64')}",
            {"limit": limit, "offset": offset},
        )
        return [{"id": i, **json.loads(payload)} for i, payload in rows]

    def update_metric(self, mid: str, payload: dict[str, Any]) -> None:
        """Replace the payload of metric `mid` (its id stays: Lago's PUT keeps `lago_id`)."""
        p = self._p
        with self._lock:
            self._write(self._sql.update_many(self._metrics, {"payload": p("payload")}, f"id = {p('id')}"),
                        {"id": mid, "payload": json.dumps(payload, sort_keys=True)})

    def delete_metric(self, mid: str) -> None:
        p = self._p
        with self._lock:
            self._write(self._sql.delete(self._metrics, f"id = {p('id')}"), {"id": mid})

    # --- subjects -----------------------------------------------------------------------------

    @staticmethod
    def _subject(row: tuple) -> dict[str, Any]:
        sid, ext, name, email, metadata, ms = row
        return {"id": sid, "external_id": ext, "name": name, "email": email,
                "metadata": json.loads(metadata), "created_ms": int(ms)}

    def create_subject(self, external_id: str | None, name: str | None, email: str | None,
                       metadata: dict[str, str]) -> dict[str, Any]:
        sid = new_id("subj")
        p = self._p
        with self._lock:
            if external_id is not None and self.get_subject(external_id) is not None:
                raise Conflict(f"a subject with external_id or id {json.dumps(external_id)} already exists")
            ms = int(time.time() * 1000)
            self._write(
                f"INSERT INTO {self._subjects} ({_SUBJECT_COLUMNS}) SELECT {p('id')}, "
                f"{p('ext', 'Nullable(String)')}, {p('name', 'Nullable(String)')}, "
                f"{p('email', 'Nullable(String)')}, {p('metadata')}, {p('ms', 'Int64')}",
                {"id": sid, "ext": external_id, "name": name, "email": email,
                 "metadata": json.dumps(metadata, sort_keys=True), "ms": ms},
            )
        return {"id": sid, "external_id": external_id, "name": name, "email": email,
                "metadata": dict(metadata), "created_ms": ms}

    def get_subject(self, key: str) -> dict[str, Any] | None:
        """By id, else by external id (an id wins when both match)."""
        p = self._p
        rows = self._read(
            f"SELECT {_SUBJECT_COLUMNS} FROM {self._subjects} "
            f"WHERE id = {p('k')} OR external_id = {p('k')} ORDER BY id = {p('k')} DESC LIMIT 1",
            {"k": key},
        )
        return self._subject(rows[0]) if rows else None

    # The columns a subject update may change, and their ClickHouse parameter types.
    _SUBJECT_FIELDS = {"external_id": "Nullable(String)", "name": "Nullable(String)",
                       "email": "Nullable(String)", "metadata": "String"}

    def update_subject(self, key: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Change some of a subject's `external_id`, `name`, `email`, `metadata` (the keys present in
        `changes`; None clears, `metadata` None is `{}`); `key` is its id or external id. None when
        no such subject; an external_id another subject has as id or external id → Conflict."""
        unknown = set(changes) - set(self._SUBJECT_FIELDS)
        if unknown:
            raise InvalidSpec(f"a subject has no field {sorted(unknown)[0]!r} to update")
        p = self._p
        with self._lock:
            current = self.get_subject(key)
            if current is None:
                return None
            new = {**current, **changes}
            if new["metadata"] is None:
                new["metadata"] = {}
            ext = new["external_id"]
            if ext is not None and ext != current["external_id"]:
                other = self.get_subject(ext)
                if other is not None and other["id"] != current["id"]:
                    raise Conflict(f"a subject with external_id or id {json.dumps(ext)} already exists")
            if changes:
                params = {c: (json.dumps(new[c], sort_keys=True) if c == "metadata" else new[c]) for c in changes}
                self._write(self._sql.update_many(self._subjects, {c: p(c, self._SUBJECT_FIELDS[c]) for c in changes},
                                                  f"id = {p('sid')}"),
                            {**params, "sid": current["id"]})
        return new

    def delete_subject(self, key: str) -> dict[str, Any] | None:
        """Remove the subject whose id or external id is `key` (its events stay in the store);
        returns it, or None when there is none."""
        p = self._p
        with self._lock:
            current = self.get_subject(key)
            if current is not None:
                self._write(self._sql.delete(self._subjects, f"id = {p('sid')}"), {"sid": current["id"]})
        return current

    def list_subjects(self, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        rows = self._read(
            f"SELECT {_SUBJECT_COLUMNS} FROM {self._subjects} ORDER BY created_ms, id "
            f"LIMIT {self._p('limit', 'Int64')} OFFSET {self._p('offset', 'Int64')}",
            {"limit": limit, "offset": offset},
        )
        return [self._subject(r) for r in rows]

    # --- records: other kinds an API keeps (items, prices, codes…) -------------------------------

    def create_record(self, kind: str, prefix: str, payload: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        """A new record of `kind` with id `<prefix>_…`; `key`, when given, is unique within the kind
        (taken → Conflict). Returns `{"id", "key", "created_ms", **payload}`."""
        rid = new_id(prefix)
        p = self._p
        with self._lock:
            if key is not None and self.get_record(kind, key) is not None:
                raise Conflict(f"a {kind} with key or id {json.dumps(key)} already exists")
            ms = int(time.time() * 1000)
            self._write(
                f"INSERT INTO {self._records} (kind, id, key, payload, created_ms) SELECT {p('kind')}, {p('id')}, "
                f"{p('key', 'Nullable(String)')}, {p('payload')}, {p('ms', 'Int64')}",
                {"kind": kind, "id": rid, "key": key, "payload": json.dumps(payload, sort_keys=True), "ms": ms},
            )
        return {**payload, "id": rid, "key": key, "created_ms": ms}

    @staticmethod
    def _record(row: tuple) -> dict[str, Any]:
        rid, key, payload, ms = row
        return {**json.loads(payload), "id": rid, "key": key, "created_ms": int(ms)}

    def get_record(self, kind: str, id_or_key: str) -> dict[str, Any] | None:
        """By id, else by key (an id wins when both match)."""
        p = self._p
        rows = self._read(
            f"SELECT id, key, payload, created_ms FROM {self._records} WHERE kind = {p('kind')} "
            f"AND (id = {p('k')} OR key = {p('k')}) ORDER BY id = {p('k')} DESC LIMIT 1",
            {"kind": kind, "k": id_or_key},
        )
        return self._record(rows[0]) if rows else None

    def list_records(self, kind: str, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        p = self._p
        rows = self._read(
            f"SELECT id, key, payload, created_ms FROM {self._records} WHERE kind = {p('kind')} "
            f"ORDER BY created_ms, id LIMIT {p('limit', 'Int64')} OFFSET {p('offset', 'Int64')}",
            {"kind": kind, "limit": limit, "offset": offset},
        )
        return [self._record(r) for r in rows]

    def update_record(self, kind: str, rid: str, payload: dict[str, Any]) -> None:
        """Replace the payload of record `rid` (its id and key stay)."""
        p = self._p
        with self._lock:
            self._write(self._sql.update_many(self._records, {"payload": p("payload")},
                                         f"kind = {p('kind')} AND id = {p('id')}"),
                        {"kind": kind, "id": rid, "payload": json.dumps(payload, sort_keys=True)})

    def delete_record(self, kind: str, rid: str) -> None:
        p = self._p
        with self._lock:
            self._write(self._sql.delete(self._records, f"kind = {p('kind')} AND id = {p('id')}"),
                        {"kind": kind, "id": rid})
