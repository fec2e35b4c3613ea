"""The one plan builder: metrics × window × dialect × stage → ONE sqlglot SELECT and its bound
parameters (SPEC §4, §5).

Consumes: checked `Metric`s, a `Window`, a dialect name and the event table. Expressions are
compiled by `meterql.compiler.compile_tree`; engine differences come from
`meterql.dialects.plan` (`PlanGen`); all bucket arithmetic from `plan.time`.
Produces: a `Plan` (`plan.finish`): the statement is built and rendered (`compiler.render`) once
per metrics and window shape, then cached; the subjects, bounds and event names are bound
parameters (`subject` | `subjects`, `start`, `end`, `event_name` | `event_name_<i>`).

The cases are one template:
- one metric, one subject (`summary`, `aggregate`): the metric's event name and filter are the
  scan's own conditions; result columns `bucket, dim0…, n, a0…`;
- one metric, a list or every subject (the invoice run, `Scope.LIST`/`ALL`): the same, grouped by
  `subject_id` first (every grouping and window partition), `subject_id` the last column;
- n non-recurring metrics, one subject (the shared scan, pricing): each metric's aggregates read
  `CASE WHEN <its event name and filter> THEN value END`, and its own event count `n<i>`
  (`SUM(CASE WHEN … THEN 1 ELSE 0 END)`) says which groups it has; columns
  `bucket, dim0…, n0, m0_a0…, n1, m1_a0…`.

Guarantees:
- Subject scoping is structural: the WHERE clause is `(subject_id = <bound>) AND (…)` with every
  other condition in its own parentheses, so no expression can widen it (HAZARDS: hand-built
  trees get no parentheses); a many-subject plan scopes by `subject_id IN <bound list>` (or not at
  all: every subject) and keeps subjects apart in every group.
- Time is integer epoch ms end to end (`plan.time`), never the session time zone.
- The engines only sum, count and pick; every division, rounding and range check happens in
  `finish` on Decimals, so both engines give the same digits.
- A plan with a fast form that may overflow where the exact answer does not (`is_narrow`) is
  re-run by the engine in its next form (`wide` = 1, 2).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

from sqlglot import exp

from ..ast import Expression, Kind, Type
from ..dialects.plan import PlanGen, and_, col, func, integer, p, plan_gen, table as table_node
from ..errors import InvalidSpec
from ..metric import Aggregation, Metric
from . import time as _time
from .window import Scope, Window


@functools.lru_cache(maxsize=1024)
def _compile(source: str, kind: Kind, expect: Type | None, as_type: Type | None, dialect: str) -> tuple[exp.Expression, Type]:
    from ..checker import parse
    from ..compiler import compile_tree

    expr: Expression = parse(source, kind, expect=expect) if expect is not None else parse(source, kind)
    return compile_tree(expr, dialect, as_type=as_type), expr.type


def compiled(
    source: str, kind: Kind, dialect: str, expect: Type | None = None, as_type: Type | None = None
) -> tuple[exp.Expression, Type]:
    """The compiled sqlglot tree (a fresh copy: callers embed it) and the expression's type.

    Plans group and count native values (equal values ⇔ equal canonical texts) and convert
    coordinates in Python (`finish.coordinate_text`)."""
    tree, typ = _compile(source, Kind(kind), expect, as_type, dialect)
    return tree.copy(), typ


@dataclass(frozen=True, slots=True)
class Template:
    """The statement of a plan, without the values bound to it: built and rendered once per
    metrics and window shape, then cached."""

    select: exp.Select
    sql: str
    dim_types: tuple[Type, ...]
    # How many aggregate columns each metric has (after its count column).
    n_aggs: tuple[int, ...]
    # Each metric's form (`aggregates`' `wide`): 0 narrow, 1 wide, 2 a weighted_sum's levels.
    forms: tuple[int, ...]
    # True when a further stage changes some metric's form (`is_narrow`): on NumericOverflow the
    # engine re-runs the plan built with the next `wide`.
    narrow: bool = False
    wide: int = 0


def can_share_scan(metric: Metric) -> bool:
    """Recurring metrics read the past too: they are never part of a shared scan."""
    return not metric.recurring


def is_narrow(agg: Aggregation, dialect: str, wide: int) -> bool:
    """Whether the form `wide` of `aggregates` may raise an overflow that a further form can redo
    (the engine tries `wide` = 0, 1, 2 in turn while this holds; measured on 1M rows, DuckDB):

    - DuckDB `sum`/`avg`/`weighted_sum` sum DECIMAL(38,12), which raises on an intermediate sum
      past 10^26 (HAZARDS) though SPEC checks a sum once complete: the wide form (1) sums integer
      and 10^-12 parts as HUGEINT (exact; ~5× slower: the casts cost ~2 s per 1M rows).
    - `weighted_sum` (both engines) checks its levels against a bound (`finish`): the level
      inside a group stays between level₀ + Σ negative values and level₀ + Σ positive values,
      so when both are in range every step is (one more SUM: ~no cost); otherwise the levels
      form (2, `weighted_form`) gets each group's greatest and least level exactly from a
      running-sum window (a sort: ~15× slower) — only for values near 10^26."""
    g = plan_gen(dialect)
    if agg is Aggregation.WEIGHTED_SUM:
        return g.weighted_form(wide) < 2
    return not wide and g.narrow_sums() and agg in (Aggregation.SUM, Aggregation.AVG)


def _form(agg: Aggregation, g: PlanGen, wide: int, shared: bool) -> int:
    """A metric's form at stage `wide`. In a shared scan a weighted_sum never takes its levels
    form (a window per metric): past its level bound the shared call overflows and the engine
    runs it alone (`Engine.aggregate_many`)."""
    if not shared:
        return wide
    if agg is Aggregation.WEIGHTED_SUM:
        return min(int(wide), g.SHARED_WEIGHTED_WIDE)
    return min(int(wide), 1) if is_narrow(agg, g.NAME, 0) else 0


def build(metrics: Sequence[Metric], window: Window, dialect: str, table: exp.Table, *, wide: int = 0,
          top_one: bool = True) -> "Plan":
    """The one SELECT that answers `metrics` over `window` on `dialect`, with its parameters.
    `wide`: 0 the fast form; 1, 2 the overflow-proof forms (see `is_narrow`, `Template.narrow`).
    `top_one`: `latest` of a bare property may read only the winning event's value
    (`latest_read`) — the engine allows it while its store holds no number ≥ 10^26
    (`Engine._wide_numbers`); otherwise every value is read, so such a number fails the query."""
    from .finish import Plan

    plan_gen(dialect)  # an unknown dialect is InvalidSpec here
    metrics = tuple(metrics)
    if not metrics:
        raise InvalidSpec("a plan needs one or more metrics")
    if len(metrics) > 1:
        if not all(can_share_scan(m) for m in metrics):
            raise InvalidSpec("a shared scan takes one or more non-recurring metrics")
        if window.scope is not Scope.ONE:
            raise InvalidSpec("a shared scan reads one subject")
    template = _template(metrics, window.shape, dialect, (table.db or None, table.name), wide, top_one)
    params: dict[str, Any] = {}
    if window.scope is Scope.ONE:
        params["subject"] = window.subject_id
    params["start"], params["end"] = window.start_ms, window.end_ms
    if window.scope is Scope.LIST:
        params["subjects"] = list(window.subject_ids or ())
    for i, m in enumerate(metrics):
        if m.event_name is not None:
            params["event_name" if len(metrics) == 1 else f"event_name_{i}"] = m.event_name
    return Plan(metrics, window, dialect, template, params)


@functools.lru_cache(maxsize=512)
def _template(metrics: tuple[Metric, ...], shape: tuple[Any, ...], dialect: str, table_name: tuple[str | None, str],
              wide: int, top_one: bool = True) -> Template:
    scope, inclusive_start, inclusive_end, granularity, timezone, dimensions, extra_filter, bounds = shape
    # The shape as a window (bounds are parameters — but a local-time bucket key's literals come
    # from the period, which is then part of the shape; the bucket functions read only the shape).
    shape_window = Window("-", *bounds, inclusive_start, inclusive_end, granularity, dimensions, extra_filter, timezone)
    g = plan_gen(dialect)
    shared = len(metrics) > 1
    recurring = not shared and metrics[0].recurring
    ts = col("ts")
    source_table = table_node(*table_name)

    # WHERE: the subject first, then time, event name, filters — each in its own parentheses.
    lower = (exp.GTE if inclusive_start else exp.GT)(this=ts, expression=g.placeholder("start", "Int64"))
    upper = (exp.LTE if inclusive_end else exp.LT)(this=ts.copy(), expression=g.placeholder("end", "Int64"))
    conds: list[exp.Expression] = []
    if scope is Scope.ONE:
        conds.append(exp.EQ(this=col("subject_id"), expression=g.placeholder("subject", "String")))
    elif scope is Scope.LIST:
        conds.append(g.subject_in(g.placeholder("subjects", "Array(String)")))
    conds.append(upper)
    if not recurring:
        conds.append(lower)

    # Each metric's own condition (event name, filter): one metric's are the scan's; a shared
    # scan keeps events matching any and reads each metric's through CASE WHEN.
    own: list[exp.Expression | None] = []
    for i, m in enumerate(metrics):
        parts: list[exp.Expression] = []
        if m.event_name is not None:
            name = f"event_name_{i}" if shared else "event_name"
            parts.append(exp.EQ(this=col("event_name"), expression=g.placeholder(name, "String")))
        if m.filter:
            parts.append(compiled(m.filter, Kind.FILTER, dialect)[0])
        if shared:
            own.append(and_(*parts) if parts else None)
        else:
            conds += parts
            own.append(None)
    if extra_filter:
        conds.append(compiled(extra_filter, Kind.FILTER, dialect)[0])
    if shared and all(c is not None for c in own):
        any_of = p(own[0].copy())  # type: ignore[union-attr]
        for c in own[1:]:
            any_of = exp.Or(this=any_of, expression=p(c.copy()))  # type: ignore[union-attr]
        conds.append(any_of)
    where: exp.Expression | None = and_(*conds)

    # The bucket key: the floor of ts (an event exactly at an inclusive end on a bucket boundary
    # gets its own one-millisecond bucket, as in the reference); NULL marks events before the
    # period (recurring only). Without granularity the key is a constant (the period).
    if granularity is not None:
        key: exp.Expression = _time.sql_bucket_key(ts, shape_window, dialect)
        bucket_floor = key
    else:
        key = integer(0)
        bucket_floor = g.placeholder("start", "Int64")
    grouped_key = granularity is not None or recurring
    if recurring:
        key = exp.Case(ifs=[exp.If(this=exp.Not(this=p(lower.copy())), true=exp.Null())], default=key)

    dims: list[exp.Expression] = []
    dim_types: list[Type] = []
    for d in dimensions:
        # Grouped by the native value and turned into canonical text in Python (`coordinate_text`).
        tree, typ = compiled(d, Kind.GROUPING_KEY, dialect)
        dims.append(tree)
        dim_types.append(typ)

    many = scope is not Scope.ONE
    subject_key = [col("subject_id")] if many else []
    group_exprs = subject_key + ([key] if grouped_key else []) + dims
    source: exp.Expression = source_table
    columns: list[exp.Expression] = []
    n_aggs: list[int] = []
    forms: list[int] = []
    for i, (m, cond) in enumerate(zip(metrics, own)):
        agg = m.aggregation
        form = _form(agg, g, wide, shared)
        v: exp.Expression | None = None
        # `latest` of a bare property: pick the stored text and read (cast) only the winner
        # (`latest_read`); the value tree then reads the picked text, not every row's.
        raw, reading = latest_read(m, dialect) if agg is Aggregation.LATEST and top_one else (None, None)
        if agg is not Aggregation.COUNT:
            # unique_count compares canonical texts; distinct native values are the same set
            v = raw if raw is not None else compiled(m.value, Kind.VALUE, dialect, m.value_type())[0]  # type: ignore[arg-type]
            if cond is not None:  # NULL (ignored by every aggregate) outside the metric
                v = exp.Case(ifs=[exp.If(this=p(cond.copy()), true=v)])
        n: exp.Expression = exp.Count(this=exp.Star())
        if cond is not None:
            n = exp.Sum(this=exp.Case(ifs=[exp.If(this=p(cond.copy()), true=integer(1))], default=integer(0)))
        if agg is Aggregation.UNIQUE_COUNT and recurring:
            # Recurring: count each distinct value once, in the group where it first appears; the
            # running total over buckets is summed in Python. One statement: a window in a subquery.
            inner_cols = [exp.alias_(key, "b")] + [exp.alias_(d, f"d{j}") for j, d in enumerate(dims)]
            inner_cols += [col("subject_id")] if many else []
            # The partition repeats the compiled trees: the window runs over the base columns.
            first = exp.Window(
                this=exp.RowNumber(),
                partition_by=[*[s.copy() for s in subject_key], *[d.copy() for d in dims], v.copy()],  # type: ignore[union-attr]
                order=exp.Order(expressions=[exp.Ordered(this=col("ts")), exp.Ordered(this=col("event_id"))]),
            )
            is_new = exp.Case(
                ifs=[exp.If(this=and_(exp.Not(this=exp.Is(this=p(v.copy()), expression=exp.Null())),  # type: ignore[union-attr]
                                      exp.EQ(this=first, expression=integer(1))), true=integer(1))],
                default=integer(0),
            )
            inner = exp.select(*inner_cols, exp.alias_(is_new, "fresh")).from_(source_table).where(where)
            source = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("e")))
            key = col("b")
            dims = [col(f"d{j}") for j in range(len(dims))]
            group_exprs = subject_key + ([key] if grouped_key else []) + dims
            aggs = [exp.Sum(this=col("fresh"))]
            where = None  # applied inside
        elif agg is Aggregation.WEIGHTED_SUM and g.weighted_form(form) == 2:
            # The exact form: besides Σv and Σ v·Δt, the greatest and least level each group reaches
            # (SPEC: a level is range-checked at every step). The level after each millisecond is a
            # running sum over the group's events ordered by ts — the default frame takes the peers
            # (same ts) in, so events of one millisecond apply together — in a subquery; the
            # partition is the group without the bucket (a level runs across buckets; recurring:
            # from the first event ever, pre-period rows being in the WHERE).
            partition = [*[s.copy() for s in subject_key], *[d.copy() for d in dims]]
            order = exp.Order(expressions=[exp.Ordered(this=col("ts"))])
            inner_cols = [exp.alias_(key, "b")] + [exp.alias_(d, f"d{j}") for j, d in enumerate(dims)]
            inner_cols += [col("subject_id")] if many else []
            inner_cols += [col("ts"), exp.alias_(v.copy(), "v")]  # type: ignore[union-attr]
            inner_cols += [exp.alias_(e, f"l{j}") for j, e in enumerate(g.level_columns(v, partition, order))]  # type: ignore[arg-type]
            inner = exp.select(*inner_cols).from_(source_table).where(where)
            source = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("e")))
            key = col("b")
            dims = [col(f"d{j}") for j in range(len(dims))]
            group_exprs = subject_key + ([key] if grouped_key else []) + dims
            aggs = aggregates(agg, col("v"), g, bucket_floor, form)
            aggs += [exp.Max(this=col("l0")), exp.Min(this=col("l0"))]
            where = None  # applied inside
        elif raw is not None and not shared and not many and not grouped_key and not dims:
            # Ungrouped `latest` (SPEC §4) as a top-1: the newest event whose property is a number
            # (ties: the greatest event_id), its text read as a number once. Both engines stop
            # early on `ORDER BY ts DESC … LIMIT 1` (DuckDB prunes by the running top ts,
            # ClickHouse reads the (subject_id, ts, event_id) order backwards): no other row's
            # value is read — allowed only while the store holds no number ≥ 10^26 (`top_one`), so
            # no skipped value could have failed the query (SPEC §3). The aggregate over
            # the ≤ 1 row keeps the one-row shape (`n` is 0 or 1; `finish` only tests n > 0).
            picked = exp.select(exp.alias_(raw.copy(), LATEST_COLUMN)).from_(source_table).where(
                and_(where, exp.Not(this=exp.Paren(this=exp.Is(this=raw.copy(), expression=exp.Null()))))
            ).order_by(exp.Ordered(this=col("ts"), desc=True), exp.Ordered(this=col("event_id"), desc=True)).limit(1)
            source = exp.Subquery(this=picked, alias=exp.TableAlias(this=exp.to_identifier("e")))
            where = None  # applied inside
            aggs = [read_picked(reading, exp.Max(this=col(LATEST_COLUMN)))]  # type: ignore[arg-type]
        else:
            aggs = aggregates(agg, v, g, bucket_floor, form)
            if raw is not None:  # grouped: cast after the aggregate
                aggs = [read_picked(reading, aggs[0])]  # type: ignore[arg-type]
        if i == 0:
            columns = [exp.alias_(key.copy() if grouped_key else integer(0), "bucket")]
            columns += [exp.alias_(d.copy(), f"dim{j}") for j, d in enumerate(dims)]
        columns.append(exp.alias_(n, f"n{i}" if shared else "n"))
        columns += [exp.alias_(a, f"m{i}_a{j}" if shared else f"a{j}") for j, a in enumerate(aggs)]
        n_aggs.append(len(aggs))
        forms.append(form)
    columns += [s.copy() for s in subject_key]
    select = exp.select(*columns).from_(source)
    if where is not None:
        select = select.where(where)
    if group_exprs:
        select = select.group_by(*[e.copy() for e in group_exprs])
    if shared:  # a further stage only when it changes some metric's form
        narrow = any(_form(m.aggregation, g, wide + 1, True) != _form(m.aggregation, g, wide, True) for m in metrics)
    else:
        narrow = is_narrow(metrics[0].aggregation, dialect, wide)
    from ..compiler import render  # deep compiled values need its recursion room (and E004)

    return Template(select=select, sql=render(select, dialect, copy=True), dim_types=tuple(dim_types),
                    n_aggs=tuple(n_aggs), forms=tuple(forms), narrow=narrow, wide=wide)


LATEST_COLUMN = "_mq_latest"  # the picked property text of an ungrouped `latest` (its subquery's column)


def latest_read(metric: Metric, dialect: str) -> tuple[exp.Expression | None, exp.Expression | None]:
    """(stored text, number reading) of a `latest` metric whose value is a bare property read
    (Lago's `field_name`), or (None, None) for a computed value.

    The text is the `pn` map entry — present exactly when the property is a number (SPEC §2), so
    "the value is not NULL" is "the text is not NULL" and picking the latest text picks the latest
    value. The reading is the compiled value itself with that entry as its input: the same
    conversion (and the same native overflow error past 10^26) the row-by-row plan applies, but
    to the one picked text. A computed value keeps the row-by-row `arg_max` (its NULLs and
    overflows come from the whole expression)."""
    from ..ast import Read

    expr = metric.value_expression()
    if expr is None or not isinstance(expr.tree, Read) or expr.tree.type is not Type.NUMBER:
        return None, None
    reading = compiled(metric.value, Kind.VALUE, dialect, metric.value_type())[0]  # type: ignore[arg-type]
    reads = [b for b in reading.find_all(exp.Bracket) if isinstance(b.this, exp.Column) and b.this.name == "pn"]
    if not reads or any(b != reads[0] for b in reads):  # pragma: no cover - a bare read has one input
        return None, None
    return reads[0].copy(), reading


def read_picked(reading: exp.Expression, picked: exp.Expression) -> exp.Expression:
    """`reading` (`latest_read`) applied to the picked text instead of the row's map entry."""
    out = reading.copy()
    for b in list(out.find_all(exp.Bracket)):
        if isinstance(b.this, exp.Column) and b.this.name == "pn":
            b.replace(picked.copy())
    return out


def with_row_limit(sql: str, select: exp.Select, max_rows: int | None, separator: str = " ") -> str:
    """`sql` (the rendering of `select`) with `LIMIT max_rows + 1` when the statement is grouped
    (an ungrouped one has exactly one row): a result past the row limit is stopped by the engine,
    and max_rows + 1 rows tell the caller it was passed (`LimitExceeded`, `engines/base.py`).
    The statements here never end in ORDER BY or LIMIT; the limit needs no order to be exact."""
    if max_rows is None or select.args.get("group") is None:
        return sql
    return f"{sql}{separator}LIMIT {int(max_rows) + 1}"


def aggregates(agg: Aggregation, v: exp.Expression | None, g: PlanGen, bucket_floor: exp.Expression,
               wide: int = 0) -> list[exp.Expression]:
    """The aggregate columns of one (non-recurring-unique) aggregation over value `v`; `finish`
    reads them back in this order. Every use of `v` is a fresh copy (sqlglot nodes have one parent).
    Every aggregate skips NULL values, so a shared scan passes `CASE WHEN <metric> THEN v END`.

    `wide` (DuckDB `sum`, `avg`, `weighted_sum`): sums of integer and 10^-12 parts as HUGEINT
    instead of DECIMAL(38,12) sums (`PlanGen.parts`, `is_narrow`)."""

    def val() -> exp.Expression:
        return v.copy()  # type: ignore[union-attr]

    split = g.split(wide)
    if agg is Aggregation.COUNT:
        return []
    if agg is Aggregation.SUM:
        return [exp.Sum(this=e) for e in g.parts(val())] if split else [exp.Sum(this=val())]
    if agg is Aggregation.MIN:
        return [exp.Min(this=val())]
    if agg is Aggregation.MAX:
        return [exp.Max(this=val())]
    if agg is Aggregation.AVG:
        sums = [exp.Sum(this=e) for e in g.parts(val())] if split else [exp.Sum(this=val())]
        return [*sums, exp.Count(this=val())]
    if agg is Aggregation.LATEST:
        # SPEC §4: the value of the latest event whose value is not NULL; ties go to the
        # greatest event_id (HAZARDS: argMax on equal keys is nondeterministic on ClickHouse, so
        # the key is (ts, event_id)). Both engines' arg_max/argMax skip NULL values natively.
        return [g.arg_max(val(), exp.Tuple(expressions=[col("ts"), col("event_id")]))]
    if agg is Aggregation.UNIQUE_COUNT:
        return [g.unique_count(val())]
    if agg is Aggregation.WEIGHTED_SUM:
        # Σv (the level change) and Σ v·(ts − bucket floor), exact: on DuckDB split into integer
        # and 10^-12 units (HUGEINT), because v·Δt can pass DECIMAL(38,12)'s 10^26.
        # (bucket_floor: the floor of ts, or the period start; pre-period rows only use Σv)
        def dt() -> exp.Expression:
            return exp.Sub(this=col("ts"), expression=p(bucket_floor.copy()))

        form = g.weighted_form(wide)
        if form == 0:
            # ClickHouse: Decimal(76,12) holds the products. DuckDB, narrow: DECIMAL(38,12) × BIGINT
            # stays DECIMAL(38,12), exact (Δt is an integer), and DuckDB raises on any product or
            # sum ≥ 10^26 instead of wrapping (HAZARDS) — then the engine re-runs the plan wide.
            # Measured: the split INT128 form cost ~2× this one (benchmarks/README, item 4).
            # Σ|v| bounds the levels inside a group (`is_narrow`, `finish`).
            return [exp.Sum(this=val()), exp.Sum(this=exp.Mul(this=p(g.column_value(val())), expression=p(dt()))),
                    exp.Sum(this=exp.Abs(this=val()))]
        if not g.SPLIT_WIDE_SUMS:  # the levels form's sums (its levels: `_template`)
            return [exp.Sum(this=val()), exp.Sum(this=exp.Mul(this=p(g.column_value(val())), expression=p(dt())))]
        whole, frac = g.parts(val())
        out = [
            exp.Sum(this=whole.copy()),
            exp.Sum(this=frac.copy()),
            exp.Sum(this=exp.Mul(this=whole, expression=p(dt()))),
            exp.Sum(this=exp.Mul(this=frac, expression=p(dt()))),
        ]
        if form == 1:  # Σ|v| for the level bound, split too
            out += [exp.Sum(this=e) for e in g.parts(exp.Abs(this=val()))]
        return out
    raise AssertionError(agg)  # pragma: no cover - exhaustive over Aggregation
