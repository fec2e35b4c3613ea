"""Every error meterql raises is a `MeterqlError`; nothing from Lark, sqlglot, DuckDB or
clickhouse-connect crosses the public API untranslated.

`ExpressionError` (a bad customer expression, with diagnostics) lives in `meterql.diagnostics`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal


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


# --- user values in messages (never a Python repr) ---------------------------------------------

_SHOW_LIMIT = 80


def show(value: object, limit: int = _SHOW_LIMIT) -> str:
    """A user's value as it appears in a message: JSON-style, never a Python repr.

    Text is a JSON string in double quotes (lone surrogates as `\\udxxx` escapes, so the message is
    always valid UTF-8), numbers their digits, None `null`, booleans `true`/`false`, lists and
    objects compact JSON, anything else its kind only. Cut to about `limit` characters with `…`;
    a huge integer is shown by its number of digits (no unbounded digit string is ever built)."""
    return _show(value, limit)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_string(s: str, limit: int) -> str:
    cut = s[:limit] + ("…" if len(s) > limit else "")
    out = json.dumps(cut, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)


def _digits(n: int) -> str:
    bits = abs(n).bit_length()
    if bits > 3_000_000:
        return f"about {int(bits * 0.30103):,}"
    d = max(1, int(bits * 0.30103))
    if abs(n) >= 10**d:
        d += 1
    return f"{d:,}"


def _show(value: object, limit: int) -> str:

    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _json_string(value, limit)
    if isinstance(value, int):
        if value.bit_length() > 256:
            return f"an integer of {_digits(value)} digits"
        return str(int(value))
    if isinstance(value, (float, Decimal)):
        if value.is_nan() if isinstance(value, Decimal) else value != value:
            return "NaN"
        if value.is_infinite() if isinstance(value, Decimal) else value in (float("inf"), float("-inf")):
            return "-Infinity" if value < 0 else "Infinity"
        text = repr(float(value)) if isinstance(value, float) else str(value)
        return text if len(text) <= limit else text[:limit] + "…"
    if isinstance(value, (list, tuple, Mapping)):
        out: list[str] = []
        budget = [limit]

        def emit(piece: str) -> bool:
            out.append(piece)
            budget[0] -= len(piece)
            return budget[0] > 0

        def walk(v: object, depth: int) -> bool:
            if isinstance(v, (list, tuple)):
                if not emit("["):
                    return False
                for i, item in enumerate(v):
                    if (i and not emit(",")) or not walk(item, depth + 1):
                        return False
                return emit("]")
            if isinstance(v, Mapping):
                if not emit("{"):
                    return False
                for i, (k, item) in enumerate(v.items()):
                    if i and not emit(","):
                        return False
                    key = k if isinstance(k, str) else _show(k, limit)
                    if not emit(_json_string(key, limit) + ":") or not walk(item, depth + 1):
                        return False
                return emit("}")
            return emit(_show(v, limit) if depth < 20 else "…")

        if walk(value, 0):
            return "".join(out)
        return "".join(out)[:limit] + "…"
    return describe_type(value)


def describe_type(value: object) -> str:
    """The kind of a user's value in plain words (`a list`, `a number`, `text`), never a Python
    type name such as `list`, `int`, `str` or `NoneType`."""

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (set, frozenset)):
        return "a set"
    if isinstance(value, datetime):
        return "a datetime"
    if isinstance(value, date):
        return "a date"
    name = type(value).__name__
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name
