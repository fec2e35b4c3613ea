"""Several metrics over one window in ONE scan (the pricing layer's `aggregate_many`), and one
metric over one window for many subjects in ONE scan (the invoice run, `engine.summaries`).

Consumes: non-recurring `Metric`s sharing a `query.Window`, a dialect and the event table.
Produces: a `ManyPlan` — one SELECT whose columns hold each metric's aggregates over
`CASE WHEN <the metric's event name and filter> THEN value END`, plus each metric's own event
count — and `finish(rows) -> list[list[AggRow]]`, one list per metric, exactly what
`query.build_plan` would give for each metric alone (the differential test holds it to that).
Guarantees: the same structural subject scoping, parameter binding and cut-result checks as
`query.py`; recurring metrics (which read the past) are not accepted here — callers run them alone.
One difference by design: a dimension or value that fails (overflow) on an event of one metric
fails the whole shared call. A weighted_sum is answered here in its narrow form only (its level
bound, `query.is_narrow`); when the bound fails, the caller runs that metric alone.

Many subjects: `build_subjects_plan` → a `SubjectsPlan`, the `query.py` template grouped by
`subject_id` first (every subject, or `subject_id IN <bound list>`); `finish(rows)` gives
`{subject_id: list[AggRow]}`, each list exactly what `build_plan` gives that subject alone (the
invoice differential test holds it to that). An overflow in any subject's events fails the call.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

from sqlglot import exp

from .ast import Kind, Type
from .errors import EngineError, InvalidSpec, TransportError
from .metric import Aggregation, Metric
from .query import (
    _OFFSET_MS,
    GRANULARITY_MS,
    AggRow,
    Plan,
    Scope,
    Template,
    TemplatePlan,
    Window,
    _and,
    _col,
    _finish,
    _int,
    _p,
    aggregates,
    compiled,
    floor_ms,
    is_narrow,
    _template,
)



@dataclass(frozen=True, slots=True)
class ManyPlan:
    """Several non-recurring metrics over one window, answered by one SELECT: each metric's
    aggregates read `CASE WHEN <its event name and filter> THEN value END`, and its own event
    count says which groups it has."""

    metrics: tuple[Metric, ...]
    window: Window
    dialect: str
    template: Template
    params: dict[str, Any]
    n_aggs: tuple[int, ...]

    @property
    def select(self) -> exp.Select:
        return self.template.select

    def sql(self) -> str:
        return self.template.sql

    def finish(self, rows: Sequence[Sequence[Any]]) -> list[list[AggRow]]:
        w = self.window
        ndim = len(w.dimensions)
        ungrouped = w.granularity is None and ndim == 0
        if ungrouped and len(rows) != 1:
            # no GROUP BY: always exactly one row (a cut-short result is caught here; over HTTP
            # ClickHouseEngine._query also checks the reported row count)
            raise TransportError(f"the engine returned {len(rows)} rows for an aggregate that always has exactly one")
        out: list[list[AggRow]] = []
        offset = 1 + ndim
        for metric, n_agg in zip(self.metrics, self.n_aggs):
            # this metric's rows in `query.build_plan`'s layout: (bucket, dims…, n, aggregates…)
            mine = [
                (*r[: 1 + ndim], int(r[offset] or 0), *r[offset + 1 : offset + 1 + n_agg])
                for r in rows
                if ungrouped or int(r[offset] or 0) > 0
            ]
            wide = _shared_form(metric.aggregation, self.dialect, self.template.wide)
            template = Template(self.template.select, self.template.sql, self.template.dim_types, n_agg,
                                self.template.narrow, wide)
            out.append(_finish(Plan(metric, w, self.dialect, template, {}), mine))
            offset += 1 + n_agg
        return out


def _shared_form(agg: Aggregation, dialect: str, wide: int) -> int:
    """A metric's form (`query.aggregates`' `wide`) at stage `wide` of a shared scan. A
    weighted_sum never takes its levels form here (a window per metric): past its level bound
    the shared call overflows and `aggregate_many` runs it alone (`Engine.aggregate`)."""
    if agg is Aggregation.WEIGHTED_SUM:
        return 0 if dialect == "clickhouse" else min(int(wide), 1)
    return min(int(wide), 1) if is_narrow(agg, dialect, 0) else 0


def can_share_scan(metric: Metric) -> bool:
    return not metric.recurring


def build_many_plan(metrics: Sequence[Metric], window: Window, dialect: str, table: exp.Table, *,
                    wide: bool = False) -> ManyPlan:
    if not metrics or not all(can_share_scan(m) for m in metrics):
        raise InvalidSpec("build_many_plan takes one or more non-recurring metrics")
    w = window
    template, n_aggs = _many_template(
        tuple(metrics), dialect, (table.db or None, table.name), w.granularity, w.dimensions, w.extra_filter,
        w.inclusive_start, w.inclusive_end, wide,
    )
    params: dict[str, Any] = {"subject": w.subject_id, "start": w.start_ms, "end": w.end_ms}
    for i, m in enumerate(metrics):
        if m.event_name is not None:
            params[f"event_name_{i}"] = m.event_name
    return ManyPlan(tuple(metrics), w, dialect, template, params, n_aggs)


@functools.lru_cache(maxsize=256)
def _many_template(
    metrics: tuple[Metric, ...],
    dialect: str,
    table_name: tuple[str | None, str],
    granularity: str | None,
    dimensions: tuple[str, ...],
    extra_filter: str | None,
    inclusive_start: bool,
    inclusive_end: bool,
    wide: bool = False,
) -> tuple[Template, tuple[int, ...]]:
    ts = _col("ts")
    db, name = table_name
    table = exp.Table(
        this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(db, quoted=True) if db else None
    )

    def placeholder(pname: str, ch_type: str) -> exp.Expression:
        if dialect == "clickhouse":
            return exp.Placeholder(this=pname, kind=exp.DataType.build(ch_type, dialect="clickhouse"))
        return exp.Placeholder(this=pname)

    lower = (exp.GTE if inclusive_start else exp.GT)(this=ts, expression=placeholder("start", "Int64"))
    upper = (exp.LTE if inclusive_end else exp.LT)(this=ts.copy(), expression=placeholder("end", "Int64"))
    conds: list[exp.Expression] = [
        exp.EQ(this=_col("subject_id"), expression=placeholder("subject", "String")), upper, lower,
    ]
    if extra_filter:
        conds.append(compiled(extra_filter, Kind.FILTER, dialect)[0])

    # Each metric's own condition (event name, filter); the scan keeps events matching any.
    own: list[exp.Expression | None] = []
    for i, m in enumerate(metrics):
        parts: list[exp.Expression] = []
        if m.event_name is not None:
            parts.append(exp.EQ(this=_col("event_name"), expression=placeholder(f"event_name_{i}", "String")))
        if m.filter:
            parts.append(compiled(m.filter, Kind.FILTER, dialect)[0])
        own.append(_and(*parts) if parts else None)
    if all(c is not None for c in own):
        any_of = _p(own[0].copy())  # type: ignore[union-attr]
        for c in own[1:]:
            any_of = exp.Or(this=any_of, expression=_p(c.copy()))  # type: ignore[union-attr]
        conds.append(any_of)
    where = _and(*conds)

    if granularity is not None:
        key: exp.Expression = floor_ms(ts, GRANULARITY_MS[granularity], _OFFSET_MS[granularity])
        bucket_floor = key
    else:
        key, bucket_floor = _int(0), placeholder("start", "Int64")
    compiled_dims = [compiled(d, Kind.GROUPING_KEY, dialect) for d in dimensions]
    dims = [tree for tree, _ in compiled_dims]

    columns: list[exp.Expression] = [exp.alias_(key.copy(), "bucket")]
    columns += [exp.alias_(d.copy(), f"dim{i}") for i, d in enumerate(dims)]
    n_aggs: list[int] = []
    for i, (m, cond) in enumerate(zip(metrics, own)):
        def when(e: exp.Expression, cond: exp.Expression | None = cond) -> exp.Expression:
            # CASE WHEN <cond> THEN e END: NULL (ignored by every aggregate) outside the metric
            if cond is None:
                return e
            return exp.Case(ifs=[exp.If(this=_p(cond.copy()), true=e)])

        n: exp.Expression = exp.Count(this=exp.Star())
        if cond is not None:
            n = exp.Sum(this=exp.Case(ifs=[exp.If(this=_p(cond.copy()), true=_int(1))], default=_int(0)))
        v = None
        if m.aggregation is not Aggregation.COUNT:
            vt = m.value_type()
            v = compiled(m.value, Kind.VALUE, dialect, vt)[0]  # type: ignore[arg-type]
            v = when(v)
        aggs = aggregates(m.aggregation, v, dialect, bucket_floor, _shared_form(m.aggregation, dialect, wide))
        columns.append(exp.alias_(n, f"n{i}"))
        columns += [exp.alias_(a, f"m{i}_a{j}") for j, a in enumerate(aggs)]
        n_aggs.append(len(aggs))
    select = exp.select(*columns).from_(table).where(where)
    group_exprs = ([key] if granularity is not None else []) + dims
    if group_exprs:
        select = select.group_by(*[g.copy() for g in group_exprs])
    # a further stage only when it changes some metric's form
    narrow = any(_shared_form(m.aggregation, dialect, wide + 1) != _shared_form(m.aggregation, dialect, wide)
                 for m in metrics)
    from .compiler import render  # deep compiled values need its recursion room (and E004)

    template = Template(select=select, sql=render(select, dialect, copy=True), dim_types=tuple(typ for _, typ in compiled_dims),
                        n_agg=0, narrow=narrow, wide=wide)
    return template, tuple(n_aggs)


# --- many subjects, one metric -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubjectsPlan(TemplatePlan):
    """One metric over one window for many subjects — every subject (`subject_ids` None) or the
    listed ones — answered by ONE SELECT grouped by subject first (the invoice run)."""

    metric: Metric
    window: Window  # subject_id is None
    dialect: str
    template: Template
    params: dict[str, Any]
    subject_ids: tuple[str, ...] | None

    def finish(self, rows: Sequence[Sequence[Any]]) -> dict[str, list[AggRow]]:
        """`{subject_id: rows}`, each list exactly what `build_plan` gives for that subject alone.

        Listed subjects: every one, in the order given (no events → the single NULL row, or no
        rows with granularity/dimensions, as for one subject). Every subject: those the query
        found events for, ordered by subject_id (code point) — also a subject whose events all
        lie before the period when it carries a non-zero total or level into it (SPEC §5) —
        leaving out any whose answer has no row."""
        by_subject: dict[str, list[Sequence[Any]]] = {}
        for r in rows:
            by_subject.setdefault(r[-1], []).append(r[:-1])
        if self.subject_ids is not None:
            stray = set(by_subject).difference(self.subject_ids)
            if stray:  # the IN condition keeps other subjects out; a stray one is an engine fault
                raise EngineError("the engine returned rows of a subject that was not asked for")
            return {s: _finish(self, by_subject.get(s, ()), single=False) for s in self.subject_ids}
        out: dict[str, list[AggRow]] = {}
        for s in sorted(by_subject):
            got = _finish(self, by_subject[s], single=False)
            if got:
                out[s] = got
        return out


def build_subjects_plan(
    metric: Metric, window: Window, dialect: str, table: exp.Table, subject_ids: Sequence[str] | None = None,
    *, wide: bool = False,
) -> SubjectsPlan:
    """The one SELECT that answers `metric` over `window` for every subject (`subject_ids` None)
    or for the listed subjects (duplicates dropped, first occurrence's order kept).
    `window.subject_id` is ignored: the subjects are the plan's."""
    if dialect not in ("duckdb", "clickhouse"):
        raise InvalidSpec(f"unknown dialect {dialect!r}")
    ids: tuple[str, ...] | None = None
    if subject_ids is not None:
        if isinstance(subject_ids, str):
            raise InvalidSpec("subject_ids must be a list of subject ids, not one string")
        ids = tuple(dict.fromkeys(subject_ids))
        if any(not isinstance(s, str) or not s for s in ids):
            raise InvalidSpec("subject_ids must be non-empty strings")
    w = Window(None, window.start_ms, window.end_ms, window.inclusive_start, window.inclusive_end,
               window.granularity, window.dimensions, window.extra_filter)
    template = _template(
        metric, dialect, (table.db or None, table.name), w.granularity, w.dimensions, w.extra_filter,
        w.inclusive_start, w.inclusive_end, Scope.ALL if ids is None else Scope.LIST, wide,
    )
    params: dict[str, Any] = {"start": w.start_ms, "end": w.end_ms}
    if ids is not None:
        params["subjects"] = list(ids)
    if metric.event_name is not None:
        params["event_name"] = metric.event_name
    return SubjectsPlan(metric, w, dialect, template, params, ids)
