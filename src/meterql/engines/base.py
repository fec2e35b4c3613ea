"""The engine interface: ingest events, answer summaries and aggregations, explain the SQL.

Consumes: raw event mappings (SPEC §1), `Metric`s and `Period`s (SPEC §4, §5).
Produces: `IngestReport`, `SummaryRow`s (the Go SDK seed's shape through `to_dict()`),
`AggRow`s (the pricing layer's input) and SQL text (`explain`).
Guarantees (for every engine):
- Ingest validates each event with `values.normalize_event`; a bad event is reported with its
  index and reason and never aborts the batch. Within one call the first occurrence of an
  `event_id` wins; against the store the engine keeps the first stored event (`_insert`).
  Events are inserted in columnar batches, never a row at a time.
- Every summary / aggregation is ONE query (`query.build_plan`); the result is range-checked and
  rounded in Python, and its row count is checked against the count the query itself reports.
- Subclasses provide `_insert`, `_query`, `_table`, `count_events` and `close`, and translate
  engine errors to `NumericOverflow`, `EngineError` or `TransportError`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from sqlglot import exp

from .. import numbers
from ..errors import InvalidSpec
from ..metric import Metric, Period
from ..query import AggRow, Plan, Window, build_plan
from ..query_many import build_many_plan, can_share_scan

DEFAULT_BATCH = 50_000


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What `ingest` did: counts, and each rejected event's index (in the input) and reason."""

    inserted: int
    duplicates: int
    rejected: tuple[tuple[int, str], ...]
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.inserted + self.duplicates + len(self.rejected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "rejected": [{"index": i, "reason": r} for i, r in self.rejected],
        }


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One row of a pricing metric summary (Lark "Create Pricing Metric Summary")."""

    id: str
    pricing_metric_id: str
    subject_id: str
    period: Period
    dimension_coordinates: tuple[tuple[str, str | None], ...]
    value: str | None  # canonical text (SPEC §3), None when no usage

    def to_dict(self) -> dict[str, Any]:
        """The Go SDK seed's JSON shape."""
        return {
            "id": self.id,
            "dimension_coordinates": dict(self.dimension_coordinates),
            "period": self.period.to_dict(),
            "pricing_metric_id": self.pricing_metric_id,
            "subject_id": self.subject_id,
            "value": self.value,
        }


def summary_id(metric: Metric, subject_id: str, row: AggRow, dimensions: Sequence[str]) -> str:
    """Deterministic for the same inputs: a hash of the metric, subject, bucket and coordinates."""
    key = json.dumps(
        [metric.to_dict(), subject_id, row.bucket_start_ms, row.bucket_end_ms, row.inclusive_start,
         row.inclusive_end, list(dimensions), list(row.coordinates)],
        sort_keys=True,
        separators=(",", ":"),
    )
    return "pms_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def as_metric(metric: Metric | Mapping[str, Any]) -> Metric:
    if isinstance(metric, Metric):
        return metric
    return Metric.from_dict(metric)


def as_period(period: Period | Mapping[str, Any]) -> Period:
    if isinstance(period, Period):
        return period
    return Period.from_dict(period)


class Engine(ABC):
    """A connected event store (`meterql.connect(url)`)."""

    dialect: str = ""
    url: str = ""

    def __init__(self) -> None:
        # One writer at a time per engine: ingest's duplicate check and insert are one step.
        self._write_lock = threading.Lock()

    # --- engine-specific ------------------------------------------------------------------------

    @abstractmethod
    def _table(self) -> exp.Table: ...

    @abstractmethod
    def _query(self, sql: str, params: Mapping[str, Any]) -> list[tuple]:
        """Run one read query; errors translated; rows as tuples."""

    @abstractmethod
    def _insert(self, events: list[Any]) -> int:
        """Store `events` (unique event_ids) whose id is not stored yet; return how many landed."""

    def _after_ingest(self) -> None:
        """Housekeeping after an ingest call that stored events (e.g. DuckDB re-clustering)."""

    @abstractmethod
    def count_events(self) -> int:
        """Events in the store (all subjects): for reports, demos and tests."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- ingest ---------------------------------------------------------------------------------

    def ingest(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = DEFAULT_BATCH,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Validate and store events (SPEC §1). Returns inserted / duplicate / rejected counts.

        An item may also be a `values.InvalidEvent` (a reader that could not decode it): it is
        reported as rejected at its index with that reason. `progress(n)` is called with the
        number of items read so far after each batch."""
        from ..values import InvalidEvent, normalize_event

        t0 = time.perf_counter()
        inserted = duplicates = 0
        rejected: list[tuple[int, str]] = []
        chunk: dict[str, Any] = {}
        seen = 0

        def flush() -> None:
            nonlocal inserted, duplicates
            if not chunk:
                return
            batch = list(chunk.values())
            chunk.clear()
            with self._write_lock:
                landed = self._insert(batch)
            inserted += landed
            duplicates += len(batch) - landed

        for index, raw in enumerate(events):
            seen = index + 1
            try:
                if isinstance(raw, InvalidEvent):  # a reader's verdict (e.g. a JSONL line that is not JSON)
                    raise raw
                ev = normalize_event(raw)
            except InvalidEvent as exc:
                rejected.append((index, exc.reason))
            else:
                if ev.event_id in chunk:
                    duplicates += 1  # first occurrence in the call wins
                else:
                    chunk[ev.event_id] = ev
                    if len(chunk) >= batch_size:
                        flush()
                        if progress is not None:
                            progress(seen)
        flush()
        if inserted:
            with self._write_lock:
                self._after_ingest()
        if progress is not None:
            progress(seen)
        return IngestReport(inserted, duplicates, tuple(rejected), time.perf_counter() - t0)

    # --- queries --------------------------------------------------------------------------------

    def plan(
        self,
        metric: Metric | Mapping[str, Any],
        subject_id: str,
        start_ms: int,
        end_ms: int,
        inclusive_start: bool = True,
        inclusive_end: bool = False,
        granularity: str | None = None,
        dimensions: Sequence[str] = (),
        extra_filter: str | None = None,
    ) -> Plan:
        window = Window(
            subject_id, start_ms, end_ms, inclusive_start, inclusive_end, granularity, tuple(dimensions), extra_filter
        )
        return build_plan(as_metric(metric), window, self.dialect, self._table())

    def aggregate(
        self,
        metric: Metric | Mapping[str, Any],
        subject_id: str,
        start_ms: int,
        end_ms: int,
        inclusive_start: bool = True,
        inclusive_end: bool = False,
        granularity: str | None = None,
        dimensions: Sequence[str] = (),
        extra_filter: str | None = None,
    ) -> list[AggRow]:
        """The metric per (bucket, coordinates) over one subject's events: one query."""
        plan = self.plan(
            metric, subject_id, start_ms, end_ms, inclusive_start, inclusive_end, granularity, dimensions, extra_filter
        )
        return plan.finish(self._query(plan.sql(), plan.params))

    def aggregate_many(
        self,
        metrics: Sequence[Metric | Mapping[str, Any]],
        subject_id: str,
        start_ms: int,
        end_ms: int,
        inclusive_start: bool = True,
        inclusive_end: bool = False,
        granularity: str | None = None,
        dimensions: Sequence[str] = (),
        extra_filter: str | None = None,
    ) -> list[list[AggRow]]:
        """`aggregate` for several metrics over the same window; one list of rows per metric.

        The non-recurring metrics share ONE scan (`query.build_many_plan`); recurring metrics,
        which read the past too, get a query each."""
        ms = [as_metric(m) for m in metrics]
        window = Window(
            subject_id, start_ms, end_ms, inclusive_start, inclusive_end, granularity, tuple(dimensions), extra_filter
        )
        shared = [i for i, m in enumerate(ms) if can_share_scan(m)]
        out: list[list[AggRow] | None] = [None] * len(ms)
        if len(shared) > 1:
            plan = build_many_plan([ms[i] for i in shared], window, self.dialect, self._table())
            for i, rows in zip(shared, plan.finish(self._query(plan.sql(), plan.params))):
                out[i] = rows
        for i, m in enumerate(ms):
            if out[i] is None:
                out[i] = self.aggregate(m, subject_id, start_ms, end_ms, inclusive_start, inclusive_end, granularity,
                                        dimensions, extra_filter)
        return out  # type: ignore[return-value]

    def _summary_plan(self, metric: Any, subject_id: str, period: Any, granularity: str | None,
                      dimensions: Sequence[str]) -> tuple[Metric, Period, Plan]:
        m, p = as_metric(metric), as_period(period)
        if isinstance(dimensions, str):
            raise InvalidSpec("dimensions must be a list of expressions, not one string")
        plan = self.plan(m, subject_id, p.start, p.end, p.inclusive_start, p.inclusive_end, granularity,
                         tuple(dimensions))
        return m, p, plan

    def summary(
        self,
        metric: Metric | Mapping[str, Any],
        subject_id: str,
        period: Period | Mapping[str, Any],
        granularity: str | None = None,
        dimensions: Sequence[str] = (),
    ) -> list[SummaryRow]:
        """Lark's "Create Pricing Metric Summary" (SPEC §5): one query, rows in bucket order."""
        m, _, plan = self._summary_plan(metric, subject_id, period, granularity, dimensions)
        rows = plan.finish(self._query(plan.sql(), plan.params))
        dims = plan.window.dimensions
        return [
            SummaryRow(
                id=summary_id(m, subject_id, r, dims),
                pricing_metric_id=m.code,
                subject_id=subject_id,
                period=Period(r.bucket_start_ms, r.bucket_end_ms, r.inclusive_start, r.inclusive_end),
                dimension_coordinates=tuple(zip(dims, r.coordinates)),
                value=None if r.value is None else numbers.canonical(r.value),
            )
            for r in rows
        ]

    def explain(
        self,
        metric: Metric | Mapping[str, Any],
        subject_id: str,
        period: Period | Mapping[str, Any],
        granularity: str | None = None,
        dimensions: Sequence[str] = (),
    ) -> str:
        """The SQL `summary` would run, for audit: a comment line with the bound parameters
        (JSON), then the statement with its placeholders."""
        _, _, plan = self._summary_plan(metric, subject_id, period, granularity, dimensions)
        header = "-- parameters: " + json.dumps(plan.params, ensure_ascii=True, sort_keys=True)
        return header + "\n" + plan.select.sql(dialect=self.dialect, pretty=True)

    # --- pricing (SPEC §6): thin delegations to meterql.price ------------------------------------

    def evaluate_price(self, price: Any, subject_id: str, timeframe_start: Any, timeframe_end: Any,
                       filter: str | None = None, grouping_keys: Sequence[str] = (), **kwargs: Any) -> Any:
        from .. import price as _price

        return _price.evaluate_price(self, price, subject_id, timeframe_start, timeframe_end, filter,
                                     grouping_keys, **kwargs)

    def evaluate_prices(self, prices: Sequence[Any], subject_id: str, timeframe_start: Any, timeframe_end: Any,
                        filter: str | None = None, grouping_keys: Sequence[str] = (), **kwargs: Any) -> Any:
        from .. import price as _price

        return _price.evaluate_prices(self, prices, subject_id, timeframe_start, timeframe_end, filter,
                                      grouping_keys, **kwargs)
