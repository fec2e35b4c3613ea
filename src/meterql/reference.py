"""The reference aggregation: the pure-Python oracle for summaries (SPEC §4, §5).

Consumes: events (raw dicts or `values.StoredEvent`s, in ingest order), a metric (a
`metric.Metric`, or any object with `event_name`, `aggregation`, `value`, `filter`, `rounding`,
`rounding_precision`, `recurring`) and a `meterql.plan.Window` (a subject, a period and
optionally a granularity, dimensions and an extra filter — Orb's `filter` of an evaluation).
Produces: `Row`s (`meterql.plan.Row`, the engines' row type), in the order a summary returns them.
Guarantees: exact Decimal arithmetic (`numbers`), every value in range or `NumericOverflow`, and the
rules below — which the engines' summary queries must reproduce row for row.

The rules (README "Semantics"):
1. Ingest: invalid events are dropped (ingest rejects them); the first *valid* event with an
   `event_id` wins, later ones with that id are ignored whatever they say.
2. An event *matches* when its subject is `subject_id`, its name is the metric's `event_name` (any
   name when that is None), and the metric filter and the extra filter are both TRUE. Filters,
   dimensions and the value are evaluated only on events of the subject and name inside the
   period — or, for `recurring`, before the period end — so an overflow elsewhere cannot fail the
   query. The value and dimensions are evaluated only where the filters are TRUE.
3. The period `[start, end]` with its inclusive flags is the half-open millisecond interval
   `[lo, hi)`: `lo = start + (0 if inclusive_start else 1)`, `hi = end + (1 if inclusive_end else 0)`.
4. Buckets (`hour`/`day`/`week`/`month`, local time in `timezone` — default UTC — weeks from
   Monday; `meterql.buckets`): an event falls in the bucket of `floor(ts)`, which ends at the
   next bucket start (a local day may last 23 or 25 hours); a bucket's interval is cut to `[lo, hi)`. The row's reported period is the cut
   bucket: interior bounds are inclusive start / exclusive end; a bound that is the period's own
   keeps the period's flag. (With an inclusive end on a bucket boundary, an event exactly at the
   end gets its own one-millisecond bucket `[end, end]`.)
5. Rows: without granularity and dimensions, exactly one row (the period). Otherwise one row per
   (bucket, coordinates) with at least one matching event *inside that bucket*, and — for
   recurring metrics and weighted_sum — one per (bucket, coordinates) whose carried state
   entering the bucket is not zero or empty: a non-zero total (recurring sum) or level
   (weighted_sum), a non-empty distinct set (recurring unique_count). A carried seat is billed
   in a bucket without new events. Coordinates are the canonical
   text of each dimension's value, or None. Order: bucket start, then coordinates compared by code
   point with None last (NULLS LAST, both engines' default for ascending order).
6. A row's value aggregates its group's matching events in the row's interval — or, for
   `recurring`, every matching event of the group before the row's interval ends (the row's
   interval plus everything earlier, also before the period start): a recurring daily `sum` is the
   running total up to the end of each day.
   - count: number of events; sum: sum of non-NULL values (0 when all are NULL); min/max: least /
     greatest non-NULL value; avg: sum / count of non-NULL values, rounded as `/`; unique_count:
     number of distinct non-NULL canonical texts (0 when all are NULL); latest: the value of the
     event with the greatest (timestamp, event_id) among those whose value is not NULL (NULL only
     when no taken-in event has a value), as SPEC §4 words it; weighted_sum: below.
   - No event taken in → None (SPEC: "null if no usage"); for recurring, earlier events count as
     taken in, so a recurring single row carries the earlier total or level.
   - Sums (also inside avg) are range-checked once they are complete: a result of magnitude
     ≥ 10^26 raises `NumericOverflow` (an intermediate partial sum may pass it). A weighted_sum
     level is checked at every step inside the period — after applying the events of each
     millisecond — and the level carried in from before the period (recurring) once, as the
     complete sum it is. The internal Σ level × milliseconds is exact and unbounded (it is not a
     value the user sees).
   - Rounding (`round`/`ceil`/`floor` to `rounding_precision`) applies to each row's final value.

weighted_sum (Lago): values are increments of a level. The level starts at 0 at the period start
(recurring: at the sum of all earlier values of the group); a row's interval `[a, b)` starts at the
level that events before `a` left (events of the period; recurring: all earlier events) and each
event in the row changes it at its millisecond. The row's value is Σ level × duration ÷ (b − a)
with durations in milliseconds, the division rounded half away from zero to 12 digits like `/`.
Events at the same millisecond apply together (their order does not matter).
Worked example: period [00:00, 10:00), events +10 at 02:00 and −4 at 06:00 → level 0 for 2 h,
10 for 4 h, 6 for 4 h: (0·2 + 10·4 + 6·4) ÷ 10 = 6.4. With hour buckets there are two rows:
[02:00, 03:00) = 10 and [06:00, 07:00) = 6 (that bucket starts at 10, the event sets 6 at once).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from . import numbers
from .ast import Expression, Kind, Node, Type
from .errors import InvalidSpec
from .evaluator import as_string, evaluate_tree
from .plan.finish import Row
from .plan.time import bucket_bounds, bucket_floor, bucket_starts
from .plan.window import Window
from .values import InvalidEvent, StoredEvent, normalize_event

AGGREGATIONS = ("count", "sum", "min", "max", "avg", "unique_count", "latest", "weighted_sum")
RECURRING = frozenset({"sum", "unique_count", "weighted_sum"})


RefRow = Row  # the one row type of engines and reference (`meterql.plan.Row`)


@dataclass(frozen=True, slots=True)
class _Item:
    ts: int
    event_id: str
    coordinates: tuple[str | None, ...]
    value: Any  # Decimal | str | None (str for unique_count)


def dedupe(events: Iterable[Mapping[str, Any] | StoredEvent]) -> list[StoredEvent]:
    """Valid events, first occurrence of each event_id only, in input order (ingest's result)."""
    seen: set[str] = set()
    out: list[StoredEvent] = []
    for raw in events:
        if isinstance(raw, StoredEvent):
            e = raw
        else:
            try:
                e = normalize_event(raw)
            except InvalidEvent:
                continue
        if e.event_id not in seen:
            seen.add(e.event_id)
            out.append(e)
    return out


def _tree(expr: str | Expression | Node | None, kind: Kind, expect: Type | None = None) -> Node | None:
    if expr is None or expr == "":
        return None
    if isinstance(expr, Expression):
        return expr.tree
    if isinstance(expr, Node):
        return expr
    from .checker import parse  # lazy: builds the Lark parser

    return parse(expr, kind, expect=expect).tree


def _aggregation(metric: Any) -> str:
    agg = str(getattr(metric, "aggregation"))
    agg = agg.removesuffix("_agg")
    if agg not in AGGREGATIONS:
        raise InvalidSpec(f"unknown aggregation {agg!r}")
    return agg


def _metric_trees(metric: Any, agg: str) -> tuple[Node | None, Node | None]:
    """(filter tree, value tree) — through the Metric's own checked expressions when it has them."""
    if hasattr(metric, "filter_expression"):
        f = metric.filter_expression()
        v = metric.value_expression()
        return (f.tree if f is not None else None, v.tree if v is not None else None)
    value_tree = None
    if agg != "count":
        value_tree = _tree(getattr(metric, "value", None), Kind.VALUE, Type.STRING if agg == "unique_count" else Type.NUMBER)
        if value_tree is None:
            raise InvalidSpec(f"aggregation {agg} needs a value expression")
    return _tree(getattr(metric, "filter", None), Kind.FILTER), value_tree


def reference_rows(
    events: Iterable[Mapping[str, Any] | StoredEvent],
    metric: Any,
    window: Window,
) -> list[Row]:
    """The rows a summary must return (rules in the module docstring), for the one subject of
    `window` (`window.subject_id`)."""
    w = window
    subject_id, start_ms, end_ms = w.subject_id, w.start_ms, w.end_ms
    inclusive_start, inclusive_end, granularity = w.inclusive_start, w.inclusive_end, w.granularity
    dimensions: Sequence[Any] = w.dimensions
    extra_filter = w.extra_filter
    if subject_id is None:
        raise InvalidSpec("the reference reads one subject: the window needs a subject_id")
    agg = _aggregation(metric)
    recurring = bool(getattr(metric, "recurring", False))
    if recurring and agg not in RECURRING:
        raise InvalidSpec(f"recurring is only allowed for sum, unique_count and weighted_sum, not {agg}")
    filter_tree, value_tree = _metric_trees(metric, agg)
    extra_tree = _tree(extra_filter, Kind.FILTER)
    dim_trees = [_tree(d, Kind.GROUPING_KEY) for d in dimensions]
    event_name = getattr(metric, "event_name", None)
    lo = start_ms + (0 if inclusive_start else 1)
    hi = end_ms + (1 if inclusive_end else 0)

    items: list[_Item] = []
    for e in dedupe(events):
        if e.subject_id != subject_id or (event_name is not None and e.event_name != event_name):
            continue
        if e.ts >= hi or (e.ts < lo and not recurring):
            continue
        if filter_tree is not None and evaluate_tree(filter_tree, e) is not True:
            continue
        if extra_tree is not None and evaluate_tree(extra_tree, e) is not True:
            continue
        coords = tuple(as_string(evaluate_tree(t, e)) for t in dim_trees)  # type: ignore[arg-type]
        value = None if value_tree is None else evaluate_tree(value_tree, e)
        if agg == "unique_count":
            value = as_string(value)
        items.append(_Item(e.ts, e.event_id, coords, value))

    # Groups: coordinates → items (all taken-in events); buckets → which rows exist.
    by_coords: dict[tuple[str | None, ...], list[_Item]] = defaultdict(list)
    for it in items:
        by_coords[it.coordinates].append(it)
    groups: dict[tuple[str | None, ...], _Group] = {}
    for coords, its in by_coords.items():
        its.sort(key=lambda it: (it.ts, it.event_id))
        groups[coords] = _Group(its, [it.ts for it in its])

    if granularity is None and not dim_trees:
        group = groups.get((), _Group([], []))
        value = _row_value(agg, group, lo, hi, lo, recurring) if lo < hi else None
        return [Row(start_ms, end_ms, (), _round(value, metric), inclusive_start, inclusive_end)]

    keys: set[tuple[int, tuple[str | None, ...]]] = set()
    for it in items:
        if lo <= it.ts < hi:
            keys.add((bucket_floor(it.ts, w) if granularity else lo, it.coordinates))
    if (recurring or agg == "weighted_sum") and lo < hi:
        # Carried state creates rows too (rule 5): every bucket of the period whose entering
        # total, level or distinct set (from events before the bucket) is not zero or empty.
        floors = bucket_starts(lo, hi, w) if granularity else [lo]
        for coords, group in groups.items():
            for b in floors:
                if (b, coords) not in keys and _carried(agg, group, max(b, lo), _EVER if recurring else lo):
                    keys.add((b, coords))
    rows: list[Row] = []
    for b, coords in keys:
        if granularity is None:
            row_lo, row_hi = lo, hi
            bounds = (start_ms, end_ms, inclusive_start, inclusive_end)
        else:
            s, t, s_inc, t_inc, row_lo, row_hi = bucket_bounds(w, b)
            bounds = (s, t, s_inc, t_inc)
        value = _row_value(agg, groups[coords], row_lo, row_hi, lo, recurring)
        rows.append(Row(bounds[0], bounds[1], coords, _round(value, metric), bounds[2], bounds[3]))
    rows.sort(key=lambda r: (r.bucket_start_ms, _coord_key(r.coordinates)))
    return rows


def _carried(agg: str, group: _Group, row_lo: int, level_from: int) -> bool:
    """Whether the state carried into a row starting at `row_lo` is not zero or empty: the
    events of `group` in [level_from, row_lo) leave a non-zero total or level (sum,
    weighted_sum) or a non-empty distinct set (unique_count)."""
    before = [it.value for it in group.between(level_from, row_lo) if it.value is not None]
    if agg == "unique_count":
        return bool(before)
    return bool(before) and _sum(before) != 0


def _coord_key(coords: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((c is None, c or "") for c in coords)  # NULLS LAST


def _round(value: Decimal | None, metric: Any) -> Decimal | None:
    """The metric's rounding, then the normal form of the canonical text (`Decimal('7.5')`)."""
    if value is None:
        return None
    mode = getattr(metric, "rounding", None)
    if mode:
        value = numbers.round_to(value, int(getattr(metric, "rounding_precision", 0) or 0), str(mode))
    return Decimal(numbers.canonical(value))


def _sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for v in values:
        total = numbers.CTX.add(total, v)
    return numbers.check_range(total)


@dataclass(frozen=True, slots=True)
class _Group:
    """One coordinates' items sorted by (ts, event_id), with their timestamps for bisection."""

    items: list[_Item]
    ts: list[int]

    def between(self, a: int, b: int) -> list[_Item]:
        """Items with a <= ts < b, in (ts, event_id) order."""
        return self.items[bisect_left(self.ts, a) : bisect_left(self.ts, b)]


_EVER = -(10**30)  # before every timestamp


def _row_value(agg: str, group: _Group, row_lo: int, row_hi: int, lo: int, recurring: bool) -> Decimal | None:
    """The value of one row over `group` (its coordinates' items).

    `[row_lo, row_hi)` is the row's interval, `lo` the period's first millisecond."""
    if agg == "weighted_sum":
        return _weighted_sum(group, row_lo, row_hi, _EVER if recurring else lo)
    taken = group.between(_EVER if recurring else row_lo, row_hi)
    if not taken:
        return None
    if agg == "count":
        return Decimal(len(taken))
    if agg == "unique_count":
        return Decimal(len({it.value for it in taken if it.value is not None}))
    values = [it.value for it in taken if it.value is not None]
    match agg:
        case "sum":
            return _sum(values)
        case "min":
            return min(values) if values else None
        case "max":
            return max(values) if values else None
        case "avg":
            return numbers.div(_sum(values), Decimal(len(values))) if values else None
        case "latest":
            # sorted by (ts, event_id): the last event whose value is not NULL
            return next((it.value for it in reversed(taken) if it.value is not None), None)
    raise InvalidSpec(f"unknown aggregation {agg!r}")


def _weighted_sum(group: _Group, row_lo: int, row_hi: int, level_from: int) -> Decimal | None:
    """Time-weighted average level over [row_lo, row_hi); the level starts at the sum of the
    values of events in [level_from, row_lo) (see the module docstring)."""
    before = group.between(level_from, row_lo)
    inside = group.between(row_lo, row_hi)
    if (not before and not inside) or row_hi <= row_lo:
        return None
    level = _sum(it.value for it in before if it.value is not None)
    area = Decimal(0)
    t = row_lo
    i = 0
    while i < len(inside):
        ts = inside[i].ts
        area = numbers.CTX.add(area, numbers.CTX.multiply(level, Decimal(ts - t)))
        while i < len(inside) and inside[i].ts == ts:  # same millisecond: apply together
            if inside[i].value is not None:
                level = numbers.CTX.add(level, inside[i].value)
            i += 1
        level = numbers.check_range(level)
        t = ts
    area = numbers.CTX.add(area, numbers.CTX.multiply(level, Decimal(row_hi - t)))
    return numbers.div(area, Decimal(row_hi - row_lo))
