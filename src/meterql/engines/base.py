"""The engine interface: ingest events, answer summaries and aggregations, explain the SQL.

Consumes: raw event mappings (SPEC §1), `Metric`s and `Period`s (SPEC §4, §5).
Produces: `IngestReport`, `SummaryRow`s (the Go SDK seed's shape through `to_dict()`),
`Row`s (the pricing layer's input) and SQL text (`explain`).
Guarantees (for every engine):
- Ingest validates a batch at once in Arrow (`columnar.normalize_batch`, when pyarrow is
  importable and the engine stores Arrow) or each event with `values.normalize_row`
  (`normalize_event` as a tuple) — the same readings and rejections either way; a bad
  event is reported with its index and reason and never aborts the batch. Within one call the
  first occurrence of an `event_id` wins; against the store the engine keeps the first stored
  event (`_store_rows`). Events are inserted in columnar batches, never a row at a time; one
  batch is written on a writer thread while the next is read.
- Every summary / aggregation is ONE query (`plan.build`); the result is range-checked and
  rounded in Python, and a result cut short is detected (`plan.finish`, `ClickHouseEngine._query`).
- An invoice run (`summaries` / `aggregate_subjects`: one metric, one period, every subject or a
  list of them) is ONE query too (`plan.build` with `Scope.LIST`/`ALL`; a very long list of subject ids
  is split into a few queries of `SUBJECTS_PER_QUERY`), and gives each subject exactly what
  `summary` / `aggregate` gives it alone.
- Subclasses provide `_insert`, `_query`, `_table`, `count_events` and `close`, and translate
  engine errors to `NumericOverflow`, `EngineError` or `TransportError`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

from sqlglot import exp

from .. import numbers
from ..errors import InvalidSpec, NumericOverflow, TooManyRows
from ..limits import DEFAULT_QUERY_LIMITS, QueryLimits
from ..metric import Aggregation, Metric, Period
from ..plan import Plan, Row, Scope, Window, build, can_share_scan, with_row_limit
from ..plan.window import (  # noqa: F401 - the argument checks, re-exported for their callers
    _kind,
    check_dimensions,
    check_filter,
    check_flag,
    check_granularity,
    check_id,
    check_subject_ids,
)

DEFAULT_BATCH = 50_000
BULK_BATCH = 100_000  # ingest_file: events per batch (validated in Arrow at once, one insert)
# Listed subject ids travel as one bound array; over HTTP ClickHouse reads parameters from the
# URL (http_max_uri_size, 1 MiB by default), so a very long list is split into a few queries.
SUBJECTS_PER_QUERY = 10_000
SUBJECT_CHARS_PER_QUERY = 300_000


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What `ingest` did: counts, and a list of `(index, reason)` for each rejected event, where
    `index` is the event's 0-based position in the input iterable (`events[index]`)."""

    inserted: int
    duplicates: int
    rejected: list[tuple[int, str]]
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


def summary_id(metric: Metric, subject_id: str, row: Row, dimensions: Sequence[str]) -> str:
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


def check_metrics(metrics: Any) -> list[Metric]:
    if isinstance(metrics, (str, bytes, Mapping, Metric)) or not isinstance(metrics, Iterable):
        raise InvalidSpec(f"metrics must be a list of metrics, not {_kind(metrics)}")
    return [as_metric(m) for m in metrics]


def _too_many_rows(max_rows: int, subject: str | None = None) -> None:
    whose = "the result" if subject is None else f"the result of subject {_kind(subject)}"
    raise TooManyRows(
        f"{whose} has more than {max_rows} rows (buckets × dimension values); narrow the period, use a "
        "coarser granularity or fewer dimensions, or raise QueryLimits.max_rows",
        max_rows,
    )


def as_period(period: Period | Mapping[str, Any]) -> Period:
    if isinstance(period, Period):
        return period
    return Period.from_dict(period)


class _RowMaker:
    """`SummaryRow`s of one call, for one or many subjects. The many-subject run makes thousands:
    the metric's JSON (part of every id) is encoded once and the row `Period`s are shared, which
    keeps the Python side well below the query's time. Ids are byte for byte `summary_id`'s:
    a JSON list with these separators is its items' encodings joined by ","."""

    def __init__(self, metric: Metric, dims: Sequence[str]) -> None:
        self.metric, self.dims = metric, tuple(dims)
        self._prefix = "[" + _dumps(metric.to_dict()) + ","
        self._dims_json = _dumps(list(self.dims))
        self._periods: dict[tuple[int, int, bool, bool], Period] = {}

    def rows(self, subject_id: str, rows: Sequence[Row]) -> list[SummaryRow]:
        out = []
        for r in rows:
            bounds = (r.bucket_start_ms, r.bucket_end_ms, r.inclusive_start, r.inclusive_end)
            period = self._periods.get(bounds)
            if period is None:
                period = self._periods[bounds] = Period(*bounds)
            # bounds are ints and bools: their JSON is their text (what _dumps would write)
            key = (f"{self._prefix}{_dumps(subject_id)},{bounds[0]},{bounds[1]},{_JSON_BOOL[bounds[2]]},"
                   f"{_JSON_BOOL[bounds[3]]},{self._dims_json},{_dumps(list(r.coordinates))}]")
            out.append(SummaryRow(
                id="pms_" + hashlib.sha256(key.encode()).hexdigest()[:24],
                pricing_metric_id=self.metric.code,
                subject_id=subject_id,
                period=period,
                dimension_coordinates=tuple(zip(self.dims, r.coordinates)),
                value=None if r.value is None else numbers.canonical(r.value),
            ))
        return out


# `summary_id`'s JSON settings; one encoder (json.dumps with options builds one per call).
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
_JSON_BOOL = {True: "true", False: "false"}


def _summary_rows(metric: Metric, subject_id: str, rows: Sequence[Row], dims: Sequence[str]) -> list[SummaryRow]:
    return _RowMaker(metric, dims).rows(subject_id, rows)


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    """Subject ids in runs of at most SUBJECTS_PER_QUERY ids and SUBJECT_CHARS_PER_QUERY chars
    (non-empty: the caller answers an empty list without a query)."""
    out: list[Sequence[str]] = []
    start = size = 0
    for i, s in enumerate(ids):
        n = len(s) if isinstance(s, str) else 0
        if i > start and (i - start >= SUBJECTS_PER_QUERY or size + n > SUBJECT_CHARS_PER_QUERY):
            out.append(ids[start:i])
            start, size = i, 0
        size += n + 4
    out.append(ids[start:])
    return out


def _has_arrow() -> bool:
    try:
        import numpy  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:  # pragma: no cover - exercised only without pyarrow
        return False
    return True


COLUMNAR_MIN_EVENTS = 256  # below this many events (a list), `ingest` reads row by row


class _BatchWriter:
    """`Engine.ingest`'s writer: batches are prepared on the reading thread, then stored one at a
    time and in order — in the background (at most one batch in flight) or on the calling
    thread. A background error is kept and raised by the next `submit` or `wait`."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.inserted = 0
        self.duplicates = 0
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, rows: list[Any], *, background: bool) -> None:
        from ..values import has_wide_rows

        wide = has_wide_rows(rows)
        prepared = self.engine._prepare_rows(rows)  # while the previous batch is being written
        self.wait()
        if background:
            self._thread = threading.Thread(
                target=self._store, args=(prepared, len(rows), wide), name="meterql-ingest-writer", daemon=True
            )
            self._thread.start()
        else:
            self._store(prepared, len(rows), wide)
            self.wait()

    def submit_table(self, table: Any, *, background: bool) -> None:
        """`submit` of an Arrow batch (`Engine._prepare_table`)."""
        from ..values import has_wide_table

        wide = has_wide_table(table)
        prepared = self.engine._prepare_table(table)
        self.wait()
        if background:
            self._thread = threading.Thread(
                target=self._store, args=(prepared, table.num_rows, wide), name="meterql-ingest-writer", daemon=True
            )
            self._thread.start()
        else:
            self._store(prepared, table.num_rows, wide)
            self.wait()

    def _store(self, prepared: Any, n: int, wide: bool = False) -> None:
        try:
            with self.engine._write_lock:
                if wide:  # before the rows land: a query that can see them sees the mark
                    self.engine._mark_wide_numbers()
                landed = self.engine._store_rows(prepared)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread by wait()
            self._error = exc
        else:
            self.inserted += landed
            self.duplicates += n - landed

    def stop(self) -> None:
        """Wait for the batch in flight, if any; keep its error to oneself."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def wait(self) -> None:
        """Wait for the batch in flight, if any, and raise its error."""
        self.stop()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


class Engine(ABC):
    """A connected event store (`meterql.connect(url)`)."""

    dialect: str = ""
    url: str = ""

    # The engine's `QueryLimits` (`meterql.connect(url, limits=...)`, or the URL's query).
    limits: QueryLimits = DEFAULT_QUERY_LIMITS

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

    # Wide numbers: whether the store may hold a number of magnitude ≥ 10^26 (SPEC §3: reading
    # one fails the query). Ingest marks the store before such an event lands; the mark is never
    # removed. While a store is unmarked, `latest` of a bare property is a top-1 plan that reads
    # only the winning event's value (plan/build.py `latest_read`); once marked, every matching
    # value is read, so an out-of-range number anywhere fails the query as the contract says.

    @abstractmethod
    def _mark_wide_numbers(self) -> None:
        """Record in the store that it may hold a wide number (idempotent; under the write lock)."""

    @abstractmethod
    def _store_marked_wide(self) -> bool:
        """Whether the store carries the wide-number mark (a read: another writer may set it)."""

    def _wide_numbers(self) -> bool:
        if not getattr(self, "_wide_seen", False):
            self._wide_seen = self._store_marked_wide()  # a mark, once seen, stays (never removed)
        return self._wide_seen

    def _build(self, metrics: Sequence[Metric], window: Window, wide: int = 0) -> Plan:
        """`plan.build` on this store: a top-1 `latest` only while the store holds no wide number."""
        top_one = not (any(m.aggregation is Aggregation.LATEST for m in metrics) and self._wide_numbers())
        return build(metrics, window, self.dialect, self._table(), wide=wide, top_one=top_one)

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

    def _prepare_rows(self, rows: list[Any]) -> Any:
        """A batch of `values.Row` tuples (unique event_ids) in the form `_store_rows` writes, e.g.
        columns or an Arrow table. Runs on the thread that reads the events, without the write
        lock. Default: the rows as they are."""
        return rows

    def _store_rows(self, prepared: Any) -> int:
        """Store a prepared batch (first write wins); return how many events landed. Called under
        the write lock, possibly on ingest's writer thread. Default: `_insert` of StoredEvents."""
        from ..values import StoredEvent

        return self._insert([StoredEvent(*row) for row in prepared])

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
        number of items read so far after each batch.

        Throughput: events are read into `values.Row` tuples (`normalize_row`: no object per
        event), and while one full batch is written on a writer thread the next one is read (the
        engines' inserts release the GIL). Batches are still written one at a time, in input
        order, so which event is first for an id is decided exactly as by a sequential loop; the
        last batch is written on the calling thread, and a write error is raised here only after
        the writer has stopped (nothing is written after `ingest` returns or raises)."""
        from ..values import InvalidEvent, normalize_row

        if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
            raise InvalidSpec(f"events must be an iterable of event objects, not {_kind(events)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidSpec(f"batch_size must be a positive integer, not {_kind(batch_size)}")
        if progress is not None and not callable(progress):
            raise InvalidSpec(f"progress must be a function or None, not {_kind(progress)}")
        t0 = time.perf_counter()
        # A small list (a service's one event) is read row by row: Arrow's per-batch set-up costs
        # ~5 ms, the row reader ~25 µs an event. Both paths give the same report (tested).
        small = isinstance(events, (list, tuple)) and len(events) < COLUMNAR_MIN_EVENTS
        if self._columnar_ingest() and not small:
            return self._ingest_columnar(events, batch_size, progress, t0)
        duplicates = 0
        rejected: list[tuple[int, str]] = []
        chunk: dict[str, Any] = {}
        index = -1
        writer = _BatchWriter(self)
        try:
            for index, raw in enumerate(events):
                try:
                    if isinstance(raw, InvalidEvent):  # a reader's verdict (e.g. a JSONL line that is not JSON)
                        raise raw
                    row = normalize_row(raw)
                except InvalidEvent as exc:
                    rejected.append((index, exc.reason))
                    continue
                if row[0] in chunk:
                    duplicates += 1  # first occurrence in the call wins
                else:
                    chunk[row[0]] = row
                    if len(chunk) >= batch_size:
                        writer.submit(list(chunk.values()), background=True)
                        chunk = {}
                        if progress is not None:
                            progress(index + 1)
            if chunk:
                writer.submit(list(chunk.values()), background=False)
            writer.wait()
        except BaseException:
            writer.stop()  # the first error wins; the writer's own (if any) is dropped
            raise
        if writer.inserted:
            with self._write_lock:
                self._after_ingest()
        if progress is not None:
            progress(index + 1)
        return IngestReport(writer.inserted, duplicates + writer.duplicates, rejected, time.perf_counter() - t0)

    def ingest_file(
        self,
        source: Any,
        *,
        format: str | None = None,
        batch_size: int = BULK_BATCH,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Validate and store the events of a file, streamed in batches of `batch_size`: memory
        stays bounded by a batch or two whatever the file's size (benchmarks/ingest.py measures
        peak RSS at 1M and 3M events).

        `source`: a path, or a binary stream of JSON lines. `format`: "ndjson" (one event object
        per line; `ndjson.read_jsonl`) or "parquet" (columns `event_id`, `subject_id`,
        `event_name`, `timestamp` as integer epoch ms, an ISO-8601 string or a timestamp type, and
        `properties` as JSON text or a MAP); by default from the file name (`.parquet` → parquet,
        else ndjson). The report is `ingest`'s — every rejection, reason and count is what
        `ingest` gives for the same events — and a rejection's index is the item's 0-based
        position in the file: line `index + 1` of a JSON-lines file, row `index` of a Parquet file.
        `progress` as for `ingest`; an object with `read(n)` / `reading_done()` (the CLI's
        progress bar) is also told the bytes read."""
        import os

        from ..ndjson import read_jsonl

        if format is None:
            name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "")
            format = "parquet" if str(name).lower().endswith((".parquet", ".parq")) else "ndjson"
        if format not in ("ndjson", "parquet"):
            raise InvalidSpec(f"format must be 'ndjson' or 'parquet', not {_kind(format)}")
        if format == "parquet":
            from ..columnar import read_parquet

            return self.ingest(read_parquet(source, batch_size), batch_size=batch_size, progress=progress)
        reader_progress = progress if hasattr(progress, "read") and hasattr(progress, "reading_done") else None
        if isinstance(source, (str, os.PathLike)):
            try:
                stream = open(source, "rb")
            except OSError as exc:
                raise InvalidSpec(f"cannot read {os.fspath(source)}: {exc.strerror or exc}") from None
            with stream:
                return self.ingest(read_jsonl(stream, reader_progress), batch_size=batch_size, progress=progress)
        return self.ingest(read_jsonl(source, reader_progress), batch_size=batch_size, progress=progress)

    # Set to False to make `ingest` use the row-by-row reader (tests compare the two paths).
    columnar_ingest: bool = True

    def _columnar_ingest(self) -> bool:
        """Can `ingest` validate in Arrow (`columnar.normalize_batch`) and store Arrow tables?"""
        return self.columnar_ingest and self._prepare_table is not Engine._prepare_table and _has_arrow()

    def _prepare_table(self, table: Any) -> Any:
        """A batch as an Arrow table (`columnar.SCHEMA`, unique event_ids) in the form `_store_rows`
        writes. Engines that store Arrow override it."""
        raise NotImplementedError

    def _ingest_columnar(
        self, events: Iterable[Any], batch_size: int, progress: Callable[[int], None] | None, t0: float
    ) -> IngestReport:
        """`ingest` with the batch validated in Arrow: the same report, rows and order as the
        row-by-row loop (tests/test_ingest_speed_equivalence.py). Each batch of `batch_size` input
        items is validated at once (`columnar.normalize_batch`: the first occurrence of an id in
        the batch wins; a later batch's repeat of an id is a duplicate through the store, which
        keeps the first write), and written on the writer thread while the next one is read."""
        from itertools import islice

        from ..columnar import normalize_batch

        duplicates = 0
        rejected: list[tuple[int, str]] = []
        writer = _BatchWriter(self)
        items = iter(events)
        start = 0
        try:
            batch = list(islice(items, batch_size))
            while batch:
                result = normalize_batch(batch, start)
                start += len(batch)
                rejected.extend(result.rejected)
                duplicates += result.duplicates
                batch = list(islice(items, batch_size))
                if result.table.num_rows:
                    writer.submit_table(result.table, background=bool(batch))
                if progress is not None:
                    progress(start)
            writer.wait()
        except BaseException:
            writer.stop()
            raise
        if writer.inserted:
            with self._write_lock:
                self._after_ingest()
        return IngestReport(writer.inserted, duplicates + writer.duplicates, rejected, time.perf_counter() - t0)

    # --- queries --------------------------------------------------------------------------------

    def _run(self, build: Callable[[int], Any], max_rows: int | None = None) -> Any:
        """Build a plan, run it, finish its rows. A plan with a narrow form (`query.is_narrow`:
        DECIMAL(38,12) sums on DuckDB, a weighted_sum's level bound) is run narrow first; only
        when that raises an overflow is the next form run (`wide` = 1, then 2 for a weighted_sum's
        exact levels) — the last gives the exact answer, or raises the same overflow for a value
        that really is out of range (`Template.narrow`).
        `max_rows` (default `limits.max_rows`): see `_limited`."""
        if max_rows is None:
            max_rows = self.limits.max_rows
        stage = 0
        while True:
            plan = build(stage)
            try:
                return self._limited(plan, max_rows)
            except NumericOverflow:
                if not plan.template.narrow or stage >= 2:
                    raise
            stage += 1

    def _limited(self, plan: Plan, max_rows: int | None) -> dict[str, list[list[Row]]]:
        """Run a plan under the row limit: a grouped statement carries `LIMIT max_rows + 1`
        (`plan.with_row_limit`; a many-subject plan with a list: `max_rows` per listed subject,
        + 1), so a too-large result is cut by the engine and detected here; the groups read and the
        rows returned — per subject in a many-subject plan — may not pass `max_rows`
        (`TooManyRows`, a `LimitExceeded`)."""
        many = plan.window.scope is not Scope.ONE
        sql_limit = max_rows
        if many and max_rows is not None:
            ids = plan.window.subject_ids
            sql_limit = None if ids is None else max_rows * len(ids)
        rows = self._query(with_row_limit(plan.sql(), plan.select, sql_limit), plan.params)
        if max_rows is None:
            return plan.finish(rows)
        if many:
            if sql_limit is not None and len(rows) > sql_limit:
                _too_many_rows(max_rows)
            counts: dict[str, int] = {}
            for r in rows:
                counts[r[-1]] = counts.get(r[-1], 0) + 1
            for subject, n in counts.items():
                if n > max_rows:
                    _too_many_rows(max_rows, subject)
        elif len(rows) > max_rows:
            _too_many_rows(max_rows)
        out = plan.finish(rows)
        for subject, per_metric in out.items():
            for got in per_metric:
                if len(got) > max_rows:
                    _too_many_rows(max_rows, subject if many else None)
        return out

    def _one(self, window: Window) -> Window:
        if not isinstance(window, Window):
            raise InvalidSpec(f"window must be a meterql.plan.Window, not {_kind(window)}")
        if window.scope is not Scope.ONE:
            raise InvalidSpec("this call reads one subject: the window needs a subject_id")
        return window.within(self.limits)

    def _many(self, window: Window) -> Window:
        if not isinstance(window, Window):
            raise InvalidSpec(f"window must be a meterql.plan.Window, not {_kind(window)}")
        if window.scope is Scope.ONE:
            raise InvalidSpec("a many-subject call takes a window without subject_id (subject_ids: a list, or None)")
        return window.within(self.limits)

    def plan(self, metric: Metric | Mapping[str, Any], window: Window, *, wide: int = 0) -> Plan:
        """The one query `aggregate` runs (for audit, benchmarks and the golden plans)."""
        return self._build([as_metric(metric)], self._one(window), wide)

    def aggregate(self, metric: Metric | Mapping[str, Any], window: Window, *, max_rows: int | None = None) -> list[Row]:
        """The metric per (bucket, coordinates) over one subject's events: one query. More than
        `max_rows` rows (default `limits.max_rows`) is `LimitExceeded`."""
        m, w = as_metric(metric), self._one(window)
        return self._rows(self._run(lambda wide: self._build([m], w, wide), max_rows), w)[0]

    @staticmethod
    def _rows(answer: dict[str, list[list[Row]]], window: Window) -> list[list[Row]]:
        return answer[window.subject_id]  # type: ignore[index]

    def aggregate_many(self, metrics: Sequence[Metric | Mapping[str, Any]], window: Window, *,
                       max_rows: int | None = None) -> list[list[Row]]:
        """`aggregate` for several metrics over the same window; one list of rows per metric.

        The non-recurring metrics share ONE scan (`plan.build` with n metrics); recurring metrics,
        which read the past too, get a query each. `max_rows` holds for the shared scan's groups
        (every metric's together) and for each metric's rows."""
        ms = check_metrics(metrics)
        w = self._one(window)
        shared = [i for i, m in enumerate(ms) if can_share_scan(m)]
        out: list[list[Row] | None] = [None] * len(ms)
        if len(shared) > 1:
            try:
                answers = self._rows(self._run(lambda wide: self._build([ms[i] for i in shared], w, wide), max_rows), w)
            except NumericOverflow:
                # a shared weighted_sum has only its narrow form (`plan.build`): alone, it gets its
                # exact one; any other overflow is raised again below by the metric it belongs to
                if not any(ms[i].aggregation == "weighted_sum" for i in shared):
                    raise
                answers = [None] * len(shared)  # type: ignore[list-item]
            for i, rows in zip(shared, answers):
                out[i] = rows
        for i, m in enumerate(ms):
            if out[i] is None:
                out[i] = self.aggregate(m, w, max_rows=max_rows)
        return out  # type: ignore[return-value]

    @staticmethod
    def _summary_window(subject_id: Any, period: Any, granularity: Any, dimensions: Any, timezone: Any,
                        subject_ids: Any = None) -> tuple[Period, Window]:
        p = as_period(period)
        return p, Window(subject_id, p.start, p.end, p.inclusive_start, p.inclusive_end, granularity,
                         check_dimensions(dimensions), None, timezone, subject_ids)

    def summary(
        self,
        metric: Metric | Mapping[str, Any],
        subject_id: str,
        period: Period | Mapping[str, Any],
        granularity: str | None = None,
        dimensions: Sequence[str] = (),
        timezone: str = "UTC",
    ) -> list[SummaryRow]:
        """Lark's "Create Pricing Metric Summary" (SPEC §5): one query, rows in bucket order."""
        m = as_metric(metric)
        if subject_id is None:
            check_id(subject_id)
        _, w = self._summary_window(subject_id, period, granularity, dimensions, timezone)
        rows = self.aggregate(m, w)
        return _summary_rows(m, subject_id, rows, w.dimensions)

    # --- many subjects in one query (the invoice run) ----------------------------------------------

    def plan_subjects(self, metric: Metric | Mapping[str, Any], window: Window, *, wide: int = 0) -> Plan:
        """The one query `aggregate_subjects` runs (for audit and benchmarks)."""
        return self._build([as_metric(metric)], self._many(window), wide)

    def aggregate_subjects(self, metric: Metric | Mapping[str, Any], window: Window) -> dict[str, list[Row]]:
        """`aggregate` for many subjects in ONE query: `{subject_id: rows}` (see `summaries`).
        `window.subject_ids`: a list, or None for every subject. `limits.max_rows` holds per subject."""
        m, w = as_metric(metric), self._many(window)
        if w.subject_ids is not None and not w.subject_ids:
            return {}
        chunks: list[Window] = [w] if w.subject_ids is None else [
            replace(w, subject_ids=tuple(c)) for c in _chunks(w.subject_ids)]
        out: dict[str, list[Row]] = {}
        for chunk in chunks:
            found = self._run(lambda wide, chunk=chunk: self._build([m], chunk, wide))
            out.update({s: rows[0] for s, rows in found.items()})
        return out

    def summaries(
        self,
        metric: Metric | Mapping[str, Any],
        period: Period | Mapping[str, Any],
        subject_ids: Sequence[str] | None = None,
        granularity: str | None = None,
        dimensions: Sequence[str] = (),
        timezone: str = "UTC",
    ) -> dict[str, list[SummaryRow]]:
        """The invoice run: `summary` for many subjects in ONE query, as `{subject_id: rows}`.

        Each subject's rows are exactly what `summary(metric, subject_id, period, …)` returns.
        `subject_ids` None: every subject with events the metric reads in the period (recurring:
        also before it), ordered by subject id, leaving out subjects whose summary has no row.
        A list: exactly those subjects, in the order given (duplicates once); one with no events
        gets what `summary` gives it — the single row with value None, or no rows when there are
        buckets or dimensions. One query reads every subject's events, so a value that overflows
        in any of them fails the whole call (NumericOverflow)."""
        m = as_metric(metric)
        _, w = self._summary_window(None, period, granularity, dimensions, timezone,
                                    check_subject_ids(subject_ids))
        found = self.aggregate_subjects(m, w)
        maker = _RowMaker(m, w.dimensions)
        return {s: maker.rows(s, rows) for s, rows in found.items()}

    def explain(
        self,
        metric: Metric | Mapping[str, Any],
        subject_id: str,
        period: Period | Mapping[str, Any],
        granularity: str | None = None,
        dimensions: Sequence[str] = (),
        timezone: str = "UTC",
    ) -> str:
        """The SQL `summary` would run, for audit: a comment line with the bound parameters
        (JSON), then the statement with its placeholders."""
        if subject_id is None:
            check_id(subject_id)
        _, w = self._summary_window(subject_id, period, granularity, dimensions, timezone)
        plan = self.plan(as_metric(metric), w)
        header = "-- parameters: " + json.dumps(plan.params, ensure_ascii=True, sort_keys=True)
        from ..compiler import render  # deep compiled values need its recursion room (and E004)

        sql = render(plan.select, self.dialect, pretty=True, copy=True)
        return header + "\n" + with_row_limit(sql, plan.select, self.limits.max_rows, separator="\n")

    # --- pricing (SPEC §6): thin delegations to meterql.price ------------------------------------

    def evaluate_price(self, price: Any, subject_id: str, timeframe_start: Any, timeframe_end: Any,
                       filter: str | None = None, grouping_keys: Sequence[str] = (), *,
                       timezone: str = "UTC", **kwargs: Any) -> Any:
        from ..pricing import evaluation

        return evaluation.evaluate_price(self, price, subject_id, timeframe_start, timeframe_end, filter,
                                         grouping_keys, timezone=timezone, **kwargs)

    def evaluate_prices(self, prices: Sequence[Any], subject_id: str, timeframe_start: Any, timeframe_end: Any,
                        filter: str | None = None, grouping_keys: Sequence[str] = (), *,
                        timezone: str = "UTC", **kwargs: Any) -> Any:
        from ..pricing import evaluation

        return evaluation.evaluate_prices(self, prices, subject_id, timeframe_start, timeframe_end, filter,
                                          grouping_keys, timezone=timezone, **kwargs)
