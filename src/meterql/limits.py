"""Query limits (SPEC §7, README "Limits"): what one call may ask of an engine.

Consumes: the `limits=` argument of `meterql.connect` and the connection URL's query parameters.
Produces: a frozen `QueryLimits`, held by the engine (`engine.limits`).
Guarantees: every limit is decided by meterql, identically on every engine, and passing one fails
the call with `LimitExceeded` naming the limit — never a silent truncation:
- `max_dimensions`: dimension expressions per call (summary, summaries, aggregate, explain, and a
  price evaluation's grouping keys plus matrix dimensions); checked before anything is compiled.
- `max_rows`: rows of one subject's result (`summary`, `aggregate`; in `summaries` /
  `aggregate_subjects` per subject, as `summary` would give it alone). The query of a grouped
  plan carries `LIMIT max_rows + 1`, so a too-large result is stopped by the engine.
- `max_execution_time` (seconds) and `max_memory_usage` (bytes): per read query. ClickHouse
  enforces them itself (settings of the same names); on DuckDB the memory limit is the
  database's `memory_limit` and the time limit interrupts the running query from a timer.
`None` disables a limit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from .errors import InvalidSpec, show


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Limits of one engine's queries (`meterql.connect(url, limits=QueryLimits(...))`, or the
    URL query `?max_rows=…&max_dimensions=…&max_execution_time=…&max_memory_usage=…`)."""

    max_dimensions: int | None = 32
    max_rows: int | None = 10_000
    max_execution_time: float | None = 30  # seconds
    max_memory_usage: int | None = 4 * 1024**3  # bytes

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            number = (int, float) if f.name == "max_execution_time" else (int,)
            if isinstance(value, bool) or not isinstance(value, number) or not value > 0 or value != value:
                kind = "a positive number of seconds" if f.name == "max_execution_time" else "a positive integer"
                raise InvalidSpec(f"QueryLimits.{f.name} must be {kind} or None, got {show(value)}")
            if f.name == "max_execution_time" and value == float("inf"):
                raise InvalidSpec("QueryLimits.max_execution_time must be finite (None disables it)")

    def with_url_query(self, query: Mapping[str, list[str]]) -> "QueryLimits":
        """These limits with the ones a connection URL's query names (`0` or `none` disables)."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            if f.name not in query:
                continue
            text = query[f.name][-1].strip()
            if text.lower() in ("0", "none"):
                changes[f.name] = None
                continue
            try:
                changes[f.name] = float(text) if f.name == "max_execution_time" else int(text)
            except ValueError:
                raise InvalidSpec(f"connection parameter {f.name} must be a number, got {show(text)}") from None
        return replace(self, **changes) if changes else self


DEFAULT_QUERY_LIMITS = QueryLimits()
