"""The SQL dialects meterql compiles to: DuckDB and ClickHouse (see `base.Dialect`).

`dialect(name)` gives a fresh translator for one compilation; `is_overflow_error(message)` tells
the engine layer whether an engine error means "numeric overflow" (our marker or a native
overflow message), so it can raise `meterql.errors.NumericOverflow`.
"""

from __future__ import annotations

from .base import OVERFLOW_MARKER, CompileError, Dialect
from .clickhouse import ClickHouse
from .duckdb import DuckDB

DIALECTS: dict[str, type[Dialect]] = {"duckdb": DuckDB, "clickhouse": ClickHouse}


def dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]()
    except KeyError:
        raise ValueError(f"unknown dialect {name!r} (expected one of: {', '.join(DIALECTS)})") from None


def is_overflow_error(message: str, dialect_name: str | None = None) -> bool:
    """True when an engine error message means a value reached 10^26 (SPEC §3)."""
    classes = [DIALECTS[dialect_name]] if dialect_name else list(DIALECTS.values())
    return any(p in message for cls in classes for p in cls.OVERFLOW_PATTERNS)


__all__ = ["OVERFLOW_MARKER", "CompileError", "DIALECTS", "Dialect", "dialect", "is_overflow_error"]
