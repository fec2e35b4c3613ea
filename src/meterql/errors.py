"""Every error meterql raises is a `MeterqlError`; nothing from Lark, sqlglot, DuckDB or
clickhouse-connect crosses the public API untranslated.

`ExpressionError` (a bad customer expression, with diagnostics) lives in `meterql.diagnostics`.
"""

from __future__ import annotations


class MeterqlError(Exception):
    """Base class of all meterql errors."""


class NumericOverflow(MeterqlError, ArithmeticError):
    """A value reached 10^26 in magnitude: in a property, an intermediate or an aggregate (SPEC §3)."""


class InvalidSpec(MeterqlError, ValueError):
    """A metric, period, price or summary request that does not make sense (bad field, bad value)."""


class LimitExceeded(MeterqlError):
    """A configured limit was passed (rows, timeframe, batch size). Never a silent truncation."""


class EngineError(MeterqlError):
    """The engine failed to run a query for a reason that is not the caller's input."""


class TransportError(EngineError):
    """ClickHouse could not be reached or the answer was cut short (refused, timeout, 5xx, a
    truncated stream). No partial result is ever returned."""


class TooManyRows(LimitExceeded):
    """A result has more rows than the limit allows (`QueryLimits.max_rows`, `PriceLimits.max_rows`);
    `max_rows` is the limit that was passed. The query was stopped at `max_rows + 1` rows."""

    def __init__(self, message: str, max_rows: int) -> None:
        super().__init__(message)
        self.max_rows = max_rows
