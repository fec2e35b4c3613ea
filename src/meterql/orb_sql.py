"""Orb's SQL metrics: `SELECT <aggregate>(<expr>) FROM events [WHERE <filter>]` → a meterql Metric.

Consumes: the SQL text of an Orb billable metric (`POST /metrics` `sql`).
Produces: `OrbSql` (meterql aggregation, value expression text, filter text, each a slice of the
SQL) and `metric_from_sql(sql, code)`, a `Metric`.
Guarantees:
- Parsed by the grammar's `orb_metric` entry point (`parser.parse_orb_metric`), never by regex or
  by a SQL parser: the argument and the WHERE part are the expression language, checked by the
  same checker with the same codes and hints; every diagnostic's span indexes the whole SQL text.
- SQL outside the subset (another table, JOIN, sub-queries, GROUP BY, several columns, `;`,
  comments) is one `ExpressionError` with E130 diagnostics naming what is not supported.
- Aggregates: `count(*)` → count; `count(x)` → count of events where `x IS NOT NULL` (SQL);
  `count(DISTINCT x)` → unique_count; `sum`, `min`, `max`, `avg` → the same names (SPEC §4).
  An Orb metric has no event name of its own: `event_name = '…'` in the WHERE part selects one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .ast import Kind
from .diagnostics import DEFAULT_LIMITS, Diagnostic, ExpressionError, Limits

_AGGREGATIONS = {"count": "count", "count_distinct": "unique_count", "sum": "sum", "min": "min", "max": "max",
                 "avg": "avg"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class OrbSql:
    aggregation: str  # meterql's name
    value: str | None  # expression text (None: count(*))
    filter: str | None  # filter text (None: no WHERE, and count(*))
    value_offset: int = 0
    filter_offset: int = 0


def _shift(diags: Any, sql: str, offset: int) -> list[Diagnostic]:
    return [Diagnostic.at(sql, (d.span[0] + offset, d.span[1] + offset), d.code, d.message, hints=d.hints,
                          severity=d.severity, label=d.label) for d in diags]  # fmt: skip


def read_orb_sql(sql: Any, limits: Limits = DEFAULT_LIMITS) -> OrbSql:
    """The parts of an Orb metric; raises `ExpressionError` (spans into `sql`) when it is not one."""
    from .checker import check
    from .parser import parse_orb_metric

    result = parse_orb_metric(sql, limits)
    if not result.ok or result.select is None:
        raise ExpressionError(result.diagnostics, sql if isinstance(sql, str) else "", "Orb metric")
    sel = result.select
    diags: list[Diagnostic] = []
    value = where = None
    v_off = f_off = 0
    if sel.value is not None:
        v_off, end = sel.value.span
        value = sql[v_off:end]
        diags += _shift(check(value, Kind.VALUE, limits=limits), sql, v_off)
    if sel.filter is not None:
        f_off, end = sel.filter.span
        where = sql[f_off:end]
        diags += _shift(check(where, Kind.FILTER, limits=limits), sql, f_off)
    if any(d.is_error for d in diags):
        raise ExpressionError(diags, sql, "Orb metric")
    aggregation = _AGGREGATIONS[sel.aggregation]
    if sel.aggregation == "count" and value is not None:
        # SQL's count(x) counts the events whose x is not NULL.
        where = f"({value}) IS NOT NULL" if where is None else f"({where}) AND ({value}) IS NOT NULL"
        value = None
    return OrbSql(aggregation, value, where, v_off, f_off)


def metric_payload(parts: OrbSql, code: str) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "aggregation": parts.aggregation}
    if parts.value is not None:
        out["value"] = parts.value
    if parts.filter is not None:
        out["filter"] = parts.filter
    return out


def metric_from_sql(sql: str, code: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The `Metric` an Orb SQL metric means; every error an `ExpressionError` spanning `sql`."""
    from .metric import Metric

    parts = read_orb_sql(sql, limits)
    try:
        return Metric.from_dict(metric_payload(parts, code))
    except ExpressionError as exc:  # e.g. a string value under sum: point into the SQL
        offset = parts.value_offset if exc.source == parts.value else parts.filter_offset
        raise ExpressionError(_shift(exc.diagnostics, sql, offset), sql, "Orb metric") from None
