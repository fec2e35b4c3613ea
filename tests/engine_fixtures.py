"""Engine fixtures for the tests/test_engine_*.py modules (imported by them, not a conftest).

Every engine is a real one: DuckDB in memory, and ClickHouse through chdb (in-process). chdb is
one server per process (HAZARDS), so every ClickHouse engine lives in its own uuid database,
dropped afterwards.
"""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

import meterql
from meterql.engines.base import Engine

ENGINES = ("duckdb", "chdb")


def new_engine(kind: str, **options) -> Engine:
    if kind == "duckdb":
        return meterql.connect("duckdb://", **options)
    return meterql.connect(f"chdb://?database=t_{uuid.uuid4().hex[:16]}", **options)


def dispose(engine: Engine) -> None:
    drop = getattr(engine, "drop", None)
    if drop is not None:
        drop()
    engine.close()


@pytest.fixture(params=ENGINES)
def engine(request) -> Iterator[Engine]:
    """A fresh, empty engine of each kind."""
    e = new_engine(request.param)
    yield e
    dispose(e)


@pytest.fixture(scope="module")
def both() -> Iterator[dict[str, Engine]]:
    """One DuckDB and one ClickHouse engine shared by a module (tests isolate by subject id)."""
    engines = {k: new_engine(k) for k in ENGINES}
    yield engines
    for e in engines.values():
        dispose(e)
