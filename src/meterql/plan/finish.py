"""From result rows to `Row`s: the exact Python step of every plan (SPEC §4, §5).

Consumes: a `Plan` (`plan.build`) and the rows its statement returned.
Produces: `Plan.finish(rows) -> {subject_id: [rows of metric 0, rows of metric 1, …]}`.
Guarantees:
- Carried levels and totals (recurring, weighted_sum) are summed here with Decimal, and so are
  the rows that carried state alone creates (SPEC §5); divisions (avg, weighted_sum), rounding
  and range checks happen here, so both engines give the same digits.
- A result cut short is detected without costing the query anything (HAZARDS: a cut ClickHouse
  stream returned 65,536 of 200,000 rows silently): an ungrouped one-subject plan must return
  exactly one row (checked here), and over HTTP `ClickHouseEngine._query` compares the rows it
  received with the `result_rows` ClickHouse reports. DuckDB and chdb run in process.
- Each subject's (and each metric's) rows are exactly what a one-subject, one-metric plan gives
  (the differential tests hold it to that); listed subjects come in the order given, every
  subject (`Scope.ALL`) by subject id, leaving out those whose answer has no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from sqlglot import exp

from .. import numbers
from ..ast import Type
from ..dialects.plan import SCALE, plan_gen
from ..errors import EngineError, LimitExceeded, TransportError
from ..metric import Aggregation, Metric
from . import time as _time
from .build import Template
from .window import Scope, Window

C = numbers.CTX  # every Decimal operation here uses the wide, exact context (never the default 28 digits)

# Rows made by carried state alone (SPEC §5) are generated here, not by the engine: an hourly
# recurring metric over a long period × many coordinates could make millions. Past this many
# the call fails (`LimitExceeded`) instead of building them.
MAX_CARRIED_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Row:
    """One (bucket, coordinates) row of an aggregation — of an engine and of the reference alike:
    the bucket cut to the period, with its flags, its dimension coordinates and its value."""

    bucket_start_ms: int
    bucket_end_ms: int
    coordinates: tuple[str | None, ...]
    value: Decimal | None
    inclusive_start: bool = True
    inclusive_end: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """One statement (`template`, rendered once) with its bound `params`, for `metrics` over
    `window` on `dialect`."""

    metrics: tuple[Metric, ...]
    window: Window
    dialect: str
    template: Template
    params: dict[str, Any]

    @property
    def select(self) -> exp.Select:
        return self.template.select

    @property
    def dim_types(self) -> tuple[Type, ...]:
        return self.template.dim_types

    def sql(self) -> str:
        return self.template.sql

    def finish(self, rows: Sequence[Sequence[Any]]) -> dict[str, list[list[Row]]]:
        """`{subject_id: [rows of each metric]}` (one-subject plan: one entry)."""
        w = self.window
        if w.scope is Scope.ONE:
            return {w.subject_id: self._metric_rows(rows, single=True)}  # type: ignore[dict-item]
        by_subject: dict[str, list[Sequence[Any]]] = {}
        for r in rows:
            by_subject.setdefault(r[-1], []).append(r[:-1])
        if w.subject_ids is not None:
            stray = set(by_subject).difference(w.subject_ids)
            if stray:  # the IN condition keeps other subjects out; a stray one is an engine fault
                raise EngineError("the engine returned rows of a subject that was not asked for")
            return {s: self._metric_rows(by_subject.get(s, ()), single=False) for s in w.subject_ids}
        out: dict[str, list[list[Row]]] = {}
        for s in sorted(by_subject):
            got = self._metric_rows(by_subject[s], single=False)
            if any(got):
                out[s] = got
        return out

    def _metric_rows(self, rows: Sequence[Sequence[Any]], *, single: bool) -> list[list[Row]]:
        t = self.template
        if len(self.metrics) == 1:
            return [_finish(self.metrics[0], self.window, self.dialect, t.forms[0], t.dim_types, t.n_aggs[0], rows,
                            single=single)]
        ndim = len(self.window.dimensions)
        ungrouped = self.window.granularity is None and ndim == 0
        if ungrouped and len(rows) != 1:
            # no GROUP BY: always exactly one row (a cut-short result is caught here)
            raise TransportError(f"the engine returned {len(rows)} rows for an aggregate that always has exactly one")
        out: list[list[Row]] = []
        offset = 1 + ndim
        for metric, n_agg, form in zip(self.metrics, t.n_aggs, t.forms):
            # this metric's rows in a one-metric plan's layout: (bucket, dims…, n, aggregates…)
            mine = [(*r[: 1 + ndim], int(r[offset] or 0), *r[offset + 1: offset + 1 + n_agg])
                    for r in rows if ungrouped or int(r[offset] or 0) > 0]
            out.append(_finish(metric, self.window, self.dialect, form, t.dim_types, n_agg, mine, single=False))
            offset += 1 + n_agg
        return out


# --- from result rows to Rows (exact, in Python) -----------------------------------------------


def coordinate_text(value: Any, typ: Type) -> str | None:
    """A grouping value as it leaves the library: canonical number text, true/false, or text.

    By the expression's type, not the Python type: ClickHouse returns booleans computed by
    operators as UInt8 (0/1)."""
    if value is None:
        return None
    if typ is Type.BOOLEAN:
        return "true" if value else "false"
    if typ is Type.NUMBER:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
        return numbers.canonical(numbers.check_range(d))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Decimal, int)):
        return numbers.canonical(numbers.check_range(Decimal(value)))
    return str(value)


def coordinate_sort_key(coords: tuple[str | None, ...]) -> tuple:
    """Coordinates compared by code point, NULL last (the reference's order)."""
    return tuple((c is None, c or "") for c in coords)


def _dec(x: Any) -> Decimal:
    if x is None:
        return Decimal(0)
    if isinstance(x, Decimal):
        return x
    if isinstance(x, (int, str)):
        return Decimal(x)
    raise EngineError(f"unexpected non-decimal aggregate {type(x).__name__} from the engine")


def _sum_of(aggs: Sequence[Any], i: int, split: bool) -> tuple[Decimal, int]:
    """The exact sum at column `i` (DuckDB wide: integer + 10^-12 parts) and the next column."""
    if split:
        return C.add(_dec(aggs[i]), C.divide(_dec(aggs[i + 1]), Decimal(SCALE))), i + 2
    return _dec(aggs[i]), i + 1


def _finish(metric: Metric, w: Window, dialect: str, form: int, dim_types: tuple[Type, ...], n_agg: int,
            rows: Sequence[Sequence[Any]], *, single: bool = True) -> list[Row]:
    """Result rows `(bucket, dims…, n, aggregates…)` of one subject and metric → its `Row`s.

    `single`: the rows of a one-subject plan, whose ungrouped form (no buckets, no dimensions,
    not recurring) has no GROUP BY and so always exactly one row: any other count means the
    answer was cut off or the engine misbehaved. (In a many-subject plan a subject without
    events simply has no row.)

    Recurring metrics and weighted_sum also get a row for each (bucket, coordinates) without
    events whose carried total, level or distinct count is not zero (SPEC §5)."""
    agg = metric.aggregation
    ndim = len(w.dimensions)
    g = plan_gen(dialect)
    split = g.split(form)
    if single and w.granularity is None and ndim == 0 and not metric.recurring and len(rows) != 1:
        raise TransportError(f"the engine returned {len(rows)} rows for an aggregate that always has exactly one")

    # (floor | None, coords) → (n, aggregates…)
    groups: dict[tuple[int | None, tuple[str | None, ...]], tuple[int, tuple[Any, ...]]] = {}
    for r in rows:
        floor = r[0]
        coords = tuple(coordinate_text(r[1 + i], dim_types[i]) for i in range(ndim))
        n = int(r[1 + ndim])
        if n == 0:
            continue  # the one aggregate row of an empty, ungrouped query
        aggs = tuple(r[2 + ndim: 2 + ndim + n_agg])
        k = (None if floor is None else (int(floor) if w.granularity is not None else w.start_ms), coords)
        if k in groups:  # the key is unique per group; a repeat means the engine misbehaved
            raise EngineError("the engine returned the same group twice")
        groups[k] = (n, aggs)

    carried: dict[tuple[str | None, ...], Decimal] = {}  # recurring / weighted_sum running state
    by_coords: dict[tuple[str | None, ...], list[int]] = {}
    for (floor, coords), (_, aggs) in groups.items():
        if floor is None:  # events before the period (recurring only): their total or level
            total = _sum_of(aggs, 0, split and agg is not Aggregation.UNIQUE_COUNT)[0]
            # a level carried into the period is checked once, as the complete sum it is
            carried[coords] = numbers.check_range(total) if agg is Aggregation.WEIGHTED_SUM else total
            by_coords.setdefault(coords, [])
        else:
            by_coords.setdefault(coords, []).append(floor)

    lo, hi = _time.period_range(w)
    carries = (metric.recurring or agg is Aggregation.WEIGHTED_SUM) and lo < hi
    if w.granularity is None:
        end = None  # one bucket: the period

        def after(b: int) -> int:
            return b + 1
    else:
        end = _time.bucket_end(_time.bucket_floor(hi - 1, w), w) if lo < hi else lo

        def after(b: int) -> int:
            return _time.bucket_end(b, w)
    first = w.start_ms if w.granularity is None else _time.bucket_floor(lo, w)
    stop = w.start_ms + 1 if end is None else end

    out: list[Row] = []
    made = 0
    for coords, floors in by_coords.items():
        cursor = first
        for floor in [*sorted(floors), None]:
            upto = stop if floor is None else floor
            state = carried.get(coords)
            if carries and state is not None and state != 0 and cursor < upto:
                value = _final(metric, state)
                b = cursor
                while b < upto:  # the buckets without events between two with events
                    made += 1
                    if made > MAX_CARRIED_ROWS:
                        raise LimitExceeded(
                            f"more than {MAX_CARRIED_ROWS} rows carried over buckets without events; "
                            "use a coarser granularity, a shorter period or fewer dimensions")
                    start, bend, incl_s, incl_e, _, _ = _time.bucket_bounds(w, b)
                    out.append(Row(start, bend, coords, value, incl_s, incl_e))
                    b = after(b)
            if floor is None:
                break
            out.append(_group_row(metric, w, g, form, floor, coords, groups[(floor, coords)], carried, split))
            cursor = after(floor)
    out.sort(key=lambda r: (r.bucket_start_ms, coordinate_sort_key(r.coordinates)))

    if w.granularity is None and ndim == 0 and not out:
        # Exactly one row without buckets and dimensions; recurring carries a total into it.
        carried_in = metric.recurring and () in carried and lo < hi
        value = _final(metric, carried[()]) if carried_in else None
        out.append(Row(w.start_ms, w.end_ms, (), value, w.inclusive_start, w.inclusive_end))
    return out


def _group_row(metric: Metric, w: Window, g: Any, form: int, floor: int, coords: tuple[str | None, ...],
               group: tuple[int, tuple[Any, ...]], carried: dict[tuple[str | None, ...], Decimal], split: bool) -> Row:
    """The row of one in-period group (with events); updates `carried` (recurring, weighted_sum)."""
    agg = metric.aggregation
    n, aggs = group
    start, end, incl_s, incl_e, row_lo, row_hi = _time.bucket_bounds(w, floor)
    value: Decimal | None
    if agg is Aggregation.COUNT:
        value = Decimal(n)
    elif agg is Aggregation.SUM and metric.recurring:
        value = numbers.add(carried.get(coords, Decimal(0)), _sum_of(aggs, 0, split)[0])
        carried[coords] = value
    elif agg is Aggregation.UNIQUE_COUNT and metric.recurring:
        value = numbers.add(carried.get(coords, Decimal(0)), _dec(aggs[0]))
        carried[coords] = value
    elif agg is Aggregation.SUM:
        value = numbers.check_range(_sum_of(aggs, 0, split)[0])
    elif agg is Aggregation.UNIQUE_COUNT:
        value = _dec(aggs[0])
    elif agg in (Aggregation.MIN, Aggregation.MAX, Aggregation.LATEST):
        value = None if aggs[0] is None else _dec(aggs[0])
    elif agg is Aggregation.AVG:
        total, i = _sum_of(aggs, 0, split)
        cnt = int(aggs[i] or 0)
        # SPEC §4: avg = sum / count, and the sum is range-checked once complete
        value = None if cnt == 0 else numbers.div(numbers.check_range(total), Decimal(cnt))
    elif agg is Aggregation.WEIGHTED_SUM:
        level0 = carried.get(coords, Decimal(0))
        delta, i = _sum_of(aggs, 0, split)
        moment, i = _sum_of(aggs, i, split)
        if g.weighted_form(form) < 2:
            # The bound (`is_narrow`): every level in the group lies between level0 + Σ negative
            # values and level0 + Σ positive values. Past it, an overflow *may* have happened:
            # NumericOverflow makes the engine re-run the plan in its levels form, which checks
            # each level exactly.
            absum = _sum_of(aggs, i, split)[0]
            numbers.check_range(C.add(level0, C.divide(C.add(absum, delta), Decimal(2))))
            numbers.check_range(C.add(level0, C.divide(C.subtract(delta, absum), Decimal(2))))
        else:
            # the greatest and least level the group reached (a decimal, or 10^-12 units: LEVEL_SCALE)
            for extreme in aggs[i: i + 2]:
                if extreme is not None:
                    numbers.check_range(_dec(extreme) if g.LEVEL_SCALE == 1
                                        else C.divide(_dec(extreme), Decimal(g.LEVEL_SCALE)))
        # Σ v·(ts − row_lo) from Σ v·(ts − floor): the row may start after its floor.
        f = floor if w.granularity is not None else w.start_ms
        moment = C.subtract(moment, C.multiply(delta, Decimal(row_lo - f)))
        level1 = numbers.add(level0, delta)
        duration = row_hi - row_lo
        # Σ level·duration ÷ duration = level0 + Σ v·(row_hi − ts) ÷ duration
        area = C.subtract(C.multiply(C.add(level0, delta), Decimal(duration)), moment)
        value = numbers.div(area, Decimal(duration)) if duration > 0 else None
        carried[coords] = level1
    else:  # pragma: no cover
        raise AssertionError(agg)
    return Row(start, end, coords, _final(metric, value), incl_s, incl_e)


def _final(metric: Metric, value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    value = numbers.check_range(value)
    if metric.rounding is not None:
        value = numbers.round_to(value, metric.rounding_precision, metric.rounding.value)
    return numbers.CTX.plus(numbers.quantize(value))
