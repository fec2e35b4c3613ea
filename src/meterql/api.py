"""The four expression verbs of SPEC §10, as thin entry points over the pipeline stages.

Arguments of the wrong type are a `MeterqlError`, never a TypeError from inside: a bad text or
kind is an `ExpressionError` (with its diagnostic), a bad dialect or event `InvalidSpec`."""

from __future__ import annotations

from typing import Any, Mapping

from .ast import Expression, Kind


def check(
    text: str,
    kind: str | Kind = "filter",
    schema: Mapping[str, str] | None = None,
    *,
    expect: Any = None,
    limits: Any = None,
) -> list:
    """Diagnostics for `text` (empty when it is valid). Never raises, whatever the input."""
    from .checker import check as _check

    return _check(text, kind, schema, expect=expect, limits=limits)


def parse(
    text: str,
    kind: str | Kind = "value",
    schema: Mapping[str, str] | None = None,
    *,
    expect: Any = None,
    limits: Any = None,
) -> Expression:
    """The typed expression tree; raises `ExpressionError` with every diagnostic."""
    from .checker import parse as _parse

    return _parse(text, kind, schema=schema, expect=expect, limits=limits)


def compile(text: str, kind: str | Kind = "filter", dialect: str = "duckdb") -> str:  # noqa: A001
    """The SQL of one expression over the event store's columns, for `duckdb` or `clickhouse`."""
    from .checker import parse as _parse
    from .compiler import compile_sql
    from .errors import InvalidSpec, describe_type, show

    if dialect not in ("duckdb", "clickhouse") or not isinstance(dialect, str):
        shown = show(dialect, 40) if isinstance(dialect, str) else describe_type(dialect)
        raise InvalidSpec(f"unknown dialect {shown}: use duckdb or clickhouse")
    _parse(text, kind)  # a text or kind of the wrong type is an ExpressionError, as for parse (cached)
    return compile_sql(text, kind, dialect)


def evaluate(text: str, event: Mapping[str, Any], kind: str | Kind = "value") -> Any:
    """The reference evaluator: the value of `text` on one event dict (Decimal, str, bool or None)."""
    from .errors import InvalidSpec, describe_type
    from .evaluator import evaluate as _evaluate
    from .values import StoredEvent

    if not isinstance(event, (Mapping, StoredEvent)):
        raise InvalidSpec(f"an event is an object (a dict), not {describe_type(event)}")
    return _evaluate(text, event, kind)
