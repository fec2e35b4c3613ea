"""Aggregation plans (SPEC §4, §5): a metric × subject × window → ONE sqlglot SELECT, and the
exact Python step that turns its rows into `AggRow`s.

Consumes: a checked `Metric`, a `Window` (subject, period bounds and flags, granularity,
dimension expressions, an optional extra filter), a dialect (`duckdb` | `clickhouse`) and the
event table (an `exp.Table`). Expressions are compiled by `meterql.compiler.compile_tree`.
Produces: a `Plan` — the sqlglot SELECT (built and rendered once per metric and request shape,
then cached: the subject, bounds and event name are bound parameters `subject`, `start`, `end`,
`event_name`) and `finish(rows) -> list[AggRow]`. Several metrics in one scan: `query_many.py`.
Many subjects in one scan (the invoice run): the same template with `Scope.LIST` / `Scope.ALL`,
wrapped by `query_many.build_subjects_plan`.
Guarantees:
- One statement per call: buckets × dimension coordinates are one GROUP BY; carried levels and
  totals (recurring, weighted_sum) come from the same result, summed in Python with Decimal,
  and so do the rows that carried state alone creates (SPEC §5, `_finish`). (A plan with a fast
  form that may overflow where the exact answer does not is re-run in its wider form: `is_narrow`.)
- Subject scoping is structural: the WHERE clause is `(subject_id = <bound parameter>) AND (…)`
  with every other condition — the metric filter, the extra filter — in its own parentheses, so
  no expression can widen it (HAZARDS: hand-built trees get no parentheses). A many-subject
  plan scopes by `subject_id IN <bound list>` (or not at all: every subject) and puts
  `subject_id` first in every GROUP BY and window partition, so a row still holds one subject's
  events only.
- Time is integer epoch ms end to end: bucket floors are integer arithmetic with a true floor
  (also before 1970), never the session time zone.
- The engines only sum, count and pick; every division (avg, weighted_sum), rounding and range
  check happens here on Decimals, so both engines give the same digits.
- A result cut short is detected without costing the query anything (HAZARDS: a cut ClickHouse
  stream returned 65,536 of 200,000 rows silently): an ungrouped plan must return exactly one
  row (checked here), and over HTTP `ClickHouseEngine._query` compares the rows it received with
  the `result_rows` ClickHouse reports in `X-ClickHouse-Summary`. DuckDB and chdb run in
  process: there is no stream to cut. (A `COUNT(*) OVER ()` column did this before, at the price
  of a window over every result: the invoice run went 110 → 79 ms without it, benchmarks/README.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Sequence

from sqlglot import exp

from . import numbers
from .ast import Expression, Kind, Type
from .errors import EngineError, InvalidSpec, LimitExceeded, TransportError
from .metric import Aggregation, Metric

if TYPE_CHECKING:
    from .query_many import SubjectsPlan

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
GRANULARITY_MS = {"hour": HOUR_MS, "day": DAY_MS, "week": WEEK_MS}
# 1970-01-01 was a Thursday: shifting by 3 days puts Monday 00:00 UTC on multiples of a week.
_OFFSET_MS = {"hour": 0, "day": 0, "week": 3 * DAY_MS}
_SCALE = 10**12
C = numbers.CTX  # every Decimal operation here uses the wide, exact context (never the default 28 digits)


@dataclass(frozen=True, slots=True)
class AggRow:
    """One (bucket, coordinates) group of an aggregation: the pricing and summary layers' input."""

    bucket_start_ms: int
    bucket_end_ms: int
    coordinates: tuple[str | None, ...]
    value: Decimal | None
    inclusive_start: bool = True
    inclusive_end: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    """What to aggregate over: one subject, a period, optional buckets and dimensions."""

    subject_id: str | None  # None only in a many-subject plan (`build_subjects_plan`)
    start_ms: int
    end_ms: int
    inclusive_start: bool = True
    inclusive_end: bool = False
    granularity: str | None = None
    dimensions: tuple[str, ...] = ()
    extra_filter: str | None = None

    def __post_init__(self) -> None:
        if self.subject_id is not None and (not isinstance(self.subject_id, str) or not self.subject_id):
            raise InvalidSpec(f"subject_id must be a non-empty string, got {self.subject_id!r}")
        for name in ("start_ms", "end_ms"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidSpec(f"{name} must be integer epoch milliseconds, got {v!r}")
        if self.end_ms < self.start_ms:
            raise InvalidSpec("the period ends before it starts")
        if self.granularity is not None and self.granularity not in GRANULARITY_MS:
            raise InvalidSpec(f"granularity must be hour, day or week, got {self.granularity!r}")
        dims = tuple(self.dimensions)
        if any(not isinstance(d, str) or not d for d in dims):
            raise InvalidSpec("dimensions must be non-empty expression strings")
        if len(set(dims)) != len(dims):
            raise InvalidSpec("dimensions must not repeat")
        object.__setattr__(self, "dimensions", dims)


# --- small tree builders (every composite child parenthesised: sqlglot adds none) --------------


def _p(e: exp.Expression) -> exp.Expression:
    return e if isinstance(e, (exp.Column, exp.Literal, exp.Paren, exp.Placeholder)) else exp.Paren(this=e)


def _int(n: int) -> exp.Expression:
    # Trusted Python ints only (bounds, bucket sizes); negative ones parenthesised (`a - (-5)`).
    lit = exp.Literal.number(str(abs(int(n))))
    return lit if n >= 0 else exp.Paren(this=exp.Neg(this=lit))


def _col(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name))


def _and(*conds: exp.Expression) -> exp.Expression:
    out = _p(conds[0])
    for c in conds[1:]:
        out = exp.And(this=out, expression=_p(c))
    return out


def _func(name: str, *args: exp.Expression) -> exp.Expression:
    # `name` is always a constant of this module, never customer text.
    return exp.Anonymous(this=name, expressions=list(args))


def floor_ms(ts: exp.Expression, unit: int, offset: int) -> exp.Expression:
    """ts − (((ts + offset) % unit) + unit) % unit: a true floor for negative ts too (HAZARDS)."""
    shifted = exp.Add(this=_p(ts), expression=_int(offset)) if offset else ts
    rem = exp.Mod(this=_p(exp.Add(this=_p(exp.Mod(this=_p(shifted), expression=_int(unit))), expression=_int(unit))), expression=_int(unit))
    return exp.Sub(this=_p(ts), expression=_p(rem))


def py_floor(ms: int, granularity: str) -> int:
    unit, off = GRANULARITY_MS[granularity], _OFFSET_MS[granularity]
    return ms - (ms + off) % unit  # Python's % is already a floor modulo


@functools.lru_cache(maxsize=1024)
def _compile(source: str, kind: Kind, expect: Type | None, as_type: Type | None, dialect: str) -> tuple[exp.Expression, Type]:
    from .checker import parse
    from .compiler import compile_tree

    expr: Expression = parse(source, kind, expect=expect) if expect is not None else parse(source, kind)
    return compile_tree(expr, dialect, as_type=as_type), expr.type


def compiled(
    source: str, kind: Kind, dialect: str, expect: Type | None = None, as_type: Type | None = None
) -> tuple[exp.Expression, Type]:
    """The compiled sqlglot tree (a fresh copy: callers embed it) and the expression's type.

    `as_type=Type.STRING` would compile to canonical text; plans group and count native values
    instead (equal values ⇔ equal canonical texts) and convert coordinates in Python."""
    tree, typ = _compile(source, Kind(kind), expect, as_type, dialect)
    return tree.copy(), typ


# --- the plan -----------------------------------------------------------------------------------


class Scope(StrEnum):
    """Which subjects a plan reads: one (bound `subject`), a list (bound `subjects`), or all."""

    ONE = "one"
    LIST = "list"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Template:
    """The statement of a plan, without the values bound to it (subject, bounds, event name):
    built and rendered once per metric and request shape, then cached.

    Result columns: `bucket, dim0…, n, a0…` and, in a many-subject plan, `subject_id` last."""

    select: exp.Select
    sql: str
    dim_types: tuple[Type, ...]
    # How many aggregate columns follow (bucket, dims…, n) in each result row.
    n_agg: int
    # True when the plan has a fast form that may raise an overflow the exact answer would not
    # (`is_narrow`): on NumericOverflow the engine re-runs the plan built with the next `wide`.
    narrow: bool = False
    # The form the plan was built in (`aggregates` and `_finish` read other columns): 0 narrow,
    # 1 (or True) wide, 2 a weighted_sum's exact levels (`weighted_form`).
    wide: int = 0


class TemplatePlan:
    """What every plan shows of its rendered `template` (Plan, query_many's SubjectsPlan)."""

    __slots__ = ()
    template: Template

    @property
    def select(self) -> exp.Select:
        return self.template.select

    @property
    def dim_types(self) -> tuple[Type, ...]:
        return self.template.dim_types

    @property
    def n_agg(self) -> int:
        return self.template.n_agg

    def sql(self) -> str:
        return self.template.sql


@dataclass(frozen=True, slots=True)
class Plan(TemplatePlan):
    metric: Metric
    window: Window
    dialect: str
    template: Template
    params: dict[str, Any]

    def finish(self, rows: Sequence[Sequence[Any]]) -> list[AggRow]:
        return _finish(self, rows)


def build_plan(metric: Metric, window: Window, dialect: str, table: exp.Table, *, wide: int = 0) -> Plan:
    """The one SELECT that answers `metric` over `window` on `dialect`, with its parameters.
    `wide`: 0 the fast form; 1, 2 the overflow-proof forms (see `is_narrow`, `Template.narrow`)."""
    if dialect not in ("duckdb", "clickhouse"):
        raise InvalidSpec(f"unknown dialect {dialect!r}")
    w = window
    if w.subject_id is None:
        raise InvalidSpec("a plan for one subject needs a subject_id (many subjects: build_subjects_plan)")
    template = _template(
        metric, dialect, (table.db or None, table.name), w.granularity, w.dimensions, w.extra_filter,
        w.inclusive_start, w.inclusive_end, Scope.ONE, wide,
    )
    params: dict[str, Any] = {"subject": w.subject_id, "start": w.start_ms, "end": w.end_ms}
    if metric.event_name is not None:
        params["event_name"] = metric.event_name
    return Plan(metric, w, dialect, template, params)


@functools.lru_cache(maxsize=512)
def _template(
    metric: Metric,
    dialect: str,
    table_name: tuple[str | None, str],
    granularity: str | None,
    dimensions: tuple[str, ...],
    extra_filter: str | None,
    inclusive_start: bool,
    inclusive_end: bool,
    scope: Scope = Scope.ONE,
    wide: bool = False,
) -> Template:
    agg = metric.aggregation
    recurring = metric.recurring
    ts = _col("ts")
    db, name = table_name
    table = exp.Table(
        this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(db, quoted=True) if db else None
    )

    def placeholder(name: str, ch_type: str) -> exp.Expression:
        if dialect == "clickhouse":
            return exp.Placeholder(this=name, kind=exp.DataType.build(ch_type, dialect="clickhouse"))
        return exp.Placeholder(this=name)

    # WHERE: the subject first, then time, event name, filters — each in its own parentheses.
    lower = (exp.GTE if inclusive_start else exp.GT)(this=ts, expression=placeholder("start", "Int64"))
    upper = (exp.LTE if inclusive_end else exp.LT)(this=ts.copy(), expression=placeholder("end", "Int64"))
    conds: list[exp.Expression] = []
    if scope is Scope.ONE:
        conds.append(exp.EQ(this=_col("subject_id"), expression=placeholder("subject", "String")))
    elif scope is Scope.LIST:
        listed = placeholder("subjects", "Array(String)")
        if dialect == "clickhouse":  # `x IN <array>`: ClickHouse reads the array as a set
            conds.append(exp.In(this=_col("subject_id"), field=listed))
        else:  # DuckDB: a semi-join against the unnested list
            conds.append(exp.In(this=_col("subject_id"),
                                query=exp.Subquery(this=exp.select(exp.Unnest(expressions=[listed])))))
    conds.append(upper)
    if not recurring:
        conds.append(lower)
    if metric.event_name is not None:
        conds.append(exp.EQ(this=_col("event_name"), expression=placeholder("event_name", "String")))
    if metric.filter:
        conds.append(compiled(metric.filter, Kind.FILTER, dialect)[0])
    if extra_filter:
        conds.append(compiled(extra_filter, Kind.FILTER, dialect)[0])
    where: exp.Expression | None = _and(*conds)

    # The bucket key: the floor of ts (an event exactly at an inclusive end on a bucket boundary
    # gets its own one-millisecond bucket, as in the reference); NULL marks events before the
    # period (recurring only). Without granularity the key is a constant (the period).
    if granularity is not None:
        unit, off = GRANULARITY_MS[granularity], _OFFSET_MS[granularity]
        key: exp.Expression = floor_ms(ts, unit, off)
        bucket_floor = key
    else:
        key = _int(0)
        bucket_floor = placeholder("start", "Int64")
    grouped_key = granularity is not None or recurring
    if recurring:
        key = exp.Case(ifs=[exp.If(this=exp.Not(this=_p(lower.copy())), true=exp.Null())], default=key)

    dims: list[exp.Expression] = []
    dim_types: list[Type] = []
    for d in dimensions:
        # Grouped by the native value (a decimal, a boolean, a string) and turned into canonical
        # text in Python (`coordinate_text`): equal values have equal canonical texts, so the groups
        # are the same, and the engine skips a per-row number-to-text conversion.
        tree, typ = compiled(d, Kind.GROUPING_KEY, dialect)
        dims.append(tree)
        dim_types.append(typ)

    v: exp.Expression | None = None
    if agg is not Aggregation.COUNT:
        vt = metric.value_type()
        # unique_count compares canonical texts; distinct native values are the same set (a
        # number's canonical text is unique to it), so no conversion is compiled.
        v = compiled(metric.value, Kind.VALUE, dialect, vt)[0]  # type: ignore[arg-type]

    # Many subjects: subject_id leads every grouping and window partition (a group never mixes
    # subjects) and is the last result column.
    many = scope is not Scope.ONE
    subject_key = [_col("subject_id")] if many else []
    group_exprs = subject_key + ([key] if grouped_key else []) + dims
    count_star = exp.Count(this=exp.Star())
    aggs: list[exp.Expression]
    source: exp.Expression = table
    if agg is Aggregation.UNIQUE_COUNT and recurring:
        # Recurring: count each distinct value once, in the group where it first appears; the
        # running total over buckets is summed in Python. One statement: a window in a subquery.
        inner_cols = [exp.alias_(key, "b")] + [exp.alias_(d, f"d{i}") for i, d in enumerate(dims)]
        inner_cols += [_col("subject_id")] if many else []
        # The partition repeats the compiled trees: the window runs over the base columns.
        first = exp.Window(
            this=exp.RowNumber(),
            partition_by=[*[s.copy() for s in subject_key], *[d.copy() for d in dims], v.copy()],  # type: ignore[union-attr]
            order=exp.Order(expressions=[exp.Ordered(this=_col("ts")), exp.Ordered(this=_col("event_id"))]),
        )
        is_new = exp.Case(
            ifs=[exp.If(this=_and(exp.Not(this=exp.Is(this=_p(v.copy()), expression=exp.Null())), exp.EQ(this=first, expression=_int(1))), true=_int(1))],  # type: ignore[union-attr]
            default=_int(0),
        )
        inner = exp.select(*inner_cols, exp.alias_(is_new, "fresh")).from_(table).where(where)
        source = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("e")))
        key = _col("b")
        dims = [_col(f"d{i}") for i in range(len(dims))]
        group_exprs = subject_key + ([key] if grouped_key else []) + dims
        aggs = [exp.Sum(this=_col("fresh"))]
        where = None  # applied inside
    elif agg is Aggregation.WEIGHTED_SUM and weighted_form(dialect, wide) == 2:
        # The exact form: besides Σv and Σ v·Δt, the greatest and least level each group reaches
        # (SPEC: a level is range-checked at every step). The level after each millisecond is a
        # running sum over the group's events ordered by ts — the default frame takes the peers
        # (same ts) in, so events of one millisecond apply together — in a subquery; the
        # partition is the group without the bucket (a level runs across buckets; recurring:
        # from the first event ever, pre-period rows being in the WHERE).
        partition = [*[s.copy() for s in subject_key], *[d.copy() for d in dims]]
        order = exp.Order(expressions=[exp.Ordered(this=_col("ts"))])
        inner_cols = [exp.alias_(key, "b")] + [exp.alias_(d, f"d{i}") for i, d in enumerate(dims)]
        inner_cols += [_col("subject_id")] if many else []
        inner_cols += [_col("ts"), exp.alias_(v.copy(), "v")]  # type: ignore[union-attr]
        inner_cols += [exp.alias_(e, f"l{i}") for i, e in enumerate(level_columns(v, dialect, partition, order))]  # type: ignore[arg-type]
        inner = exp.select(*inner_cols).from_(table).where(where)
        source = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("e")))
        key = _col("b")
        dims = [_col(f"d{i}") for i in range(len(dims))]
        group_exprs = subject_key + ([key] if grouped_key else []) + dims
        aggs = aggregates(agg, _col("v"), dialect, bucket_floor, wide)
        aggs += [exp.Max(this=_col("l0")), exp.Min(this=_col("l0"))]
        where = None  # applied inside
    else:
        aggs = aggregates(agg, v, dialect, bucket_floor, wide)

    columns = [exp.alias_(key.copy() if grouped_key else _int(0), "bucket")]
    columns += [exp.alias_(d.copy(), f"dim{i}") for i, d in enumerate(dims)]
    columns += [exp.alias_(count_star, "n")]
    columns += [exp.alias_(a, f"a{i}") for i, a in enumerate(aggs)]
    columns += [s.copy() for s in subject_key]
    select = exp.select(*columns).from_(source)
    if where is not None:
        select = select.where(where)
    if group_exprs:
        select = select.group_by(*[g.copy() for g in group_exprs])
    from .compiler import render  # deep compiled values need its recursion room (and E004)

    return Template(select=select, sql=render(select, dialect, copy=True), dim_types=tuple(dim_types), n_agg=len(aggs),
                    narrow=is_narrow(agg, dialect, wide), wide=wide)


def with_row_limit(sql: str, select: exp.Select, max_rows: int | None, separator: str = " ") -> str:
    """`sql` (the rendering of `select`) with `LIMIT max_rows + 1` when the statement is grouped
    (an ungrouped one has exactly one row): a result past the row limit is stopped by the engine,
    and max_rows + 1 rows tell the caller it was passed (`LimitExceeded`, `engines/base.py`).
    The statements here never end in ORDER BY or LIMIT; the limit needs no order to be exact."""
    if max_rows is None or select.args.get("group") is None:
        return sql
    return f"{sql}{separator}LIMIT {int(max_rows) + 1}"


def is_narrow(agg: Aggregation, dialect: str, wide: int) -> bool:
    """Whether the form `wide` of `aggregates` may raise an overflow that a further form can redo
    (the engine tries `wide` = 0, 1, 2 in turn while this holds; measured on 1M rows, DuckDB):

    - DuckDB `sum`/`avg`/`weighted_sum` sum DECIMAL(38,12), which raises on an intermediate sum
      past 10^26 (HAZARDS) though SPEC checks a sum once complete: the wide form (1) sums integer
      and 10^-12 parts as HUGEINT (exact; ~5× slower: the casts cost ~2 s per 1M rows).
    - `weighted_sum` (both engines) checks its levels against a bound (`_finish`): the level
      inside a group stays between level₀ + Σ negative values and level₀ + Σ positive values,
      so when both are in range every step is (one more SUM: ~no cost); otherwise the levels
      form (2, `weighted_form`) gets each group's greatest and least level exactly from a
      running-sum window (a sort: ~15× slower) — only for values near 10^26."""
    if agg is Aggregation.WEIGHTED_SUM:
        return weighted_form(dialect, wide) < 2
    return not wide and dialect == "duckdb" and agg in (Aggregation.SUM, Aggregation.AVG)


def weighted_form(dialect: str, wide: int) -> int:
    """A weighted_sum's form at stage `wide`: 0 narrow sums (level bound), 1 HUGEINT-split sums
    (DuckDB only; level bound), 2 exact levels (a window). ClickHouse's Decimal256 sums need no
    split: its stage 1 is the levels form."""
    if not wide:
        return 0
    if dialect == "clickhouse":
        return 2
    return 1 if wide == 1 else 2


def _parts(v: exp.Expression) -> tuple[exp.Expression, exp.Expression]:
    """DuckDB: a DECIMAL(38,12) value as (integer part, fraction in 10^-12 units), both HUGEINT,
    exact (the two share the value's sign): sums of these cannot overflow for any event count
    that fits a table, where a DECIMAL(38,12) sum raises past 10^26 (and INT128 at 1.7·10^26)."""
    hugeint = exp.DataType.build("HUGEINT", dialect="duckdb")
    frac_units = exp.Mul(this=_p(exp.Sub(this=_p(v.copy()), expression=_func("trunc", v.copy()))), expression=_int(_SCALE))
    return exp.Cast(this=_func("trunc", v.copy()), to=hugeint), exp.Cast(this=frac_units, to=hugeint.copy())


def level_columns(v: exp.Expression, dialect: str, partition: list[exp.Expression], order: exp.Order) -> list[exp.Expression]:
    """The level after each event's millisecond (the wide weighted_sum's subquery column `l0`):
    a running sum over `partition` ordered by ts. ClickHouse: Decimal(76,12), exact. DuckDB: in
    10^-12 units as HUGEINT, summed as integer and fraction parts (`_parts`); a level whose
    integer part reaches 1.5·10^26 (an overflow whatever the fraction) becomes ±1.6·10^38 units,
    which `_finish` reports as the overflow it is, instead of overflowing INT128 in the engine
    (on a pre-period row, whose level is not checked step by step, that would be wrong)."""

    def running(e: exp.Expression) -> exp.Expression:
        return exp.Window(this=exp.Sum(this=e), partition_by=[p.copy() for p in partition], order=order.copy())

    if dialect == "clickhouse":
        return [running(v.copy())]
    whole, frac = (running(e) for e in _parts(v))
    big = exp.GTE(this=exp.Abs(this=whole.copy()), expression=_int(15 * 10**25))
    sentinel = exp.Mul(this=_func("sign", whole.copy()), expression=_int(16 * 10**37))
    units = exp.Add(this=_p(exp.Mul(this=_p(whole), expression=_int(_SCALE))), expression=_p(frac))
    return [exp.Case(ifs=[exp.If(this=big, true=sentinel)], default=units)]


def aggregates(
    agg: Aggregation, v: exp.Expression | None, dialect: str, bucket_floor: exp.Expression, wide: bool = False,
) -> list[exp.Expression]:
    """The aggregate columns of one (non-recurring-unique) aggregation over value `v`; `_finish`
    reads them back in this order. Every use of `v` is a fresh copy (sqlglot nodes have one parent).
    Every aggregate skips NULL values, so a shared scan passes `CASE WHEN <metric> THEN v END`.

    `wide` (DuckDB `sum`, `avg`, `weighted_sum`): sums of integer and 10^-12 parts as HUGEINT
    instead of DECIMAL(38,12) sums (`_parts`, `is_narrow`)."""

    def val() -> exp.Expression:
        return v.copy()  # type: ignore[union-attr]

    split = bool(wide) and dialect == "duckdb"
    if agg is Aggregation.COUNT:
        return []
    if agg is Aggregation.SUM:
        return [exp.Sum(this=p) for p in _parts(val())] if split else [exp.Sum(this=val())]
    if agg is Aggregation.MIN:
        return [exp.Min(this=val())]
    if agg is Aggregation.MAX:
        return [exp.Max(this=val())]
    if agg is Aggregation.AVG:
        sums = [exp.Sum(this=p) for p in _parts(val())] if split else [exp.Sum(this=val())]
        return [*sums, exp.Count(this=val())]
    if agg is Aggregation.LATEST:
        # SPEC §4: the value of the latest event whose value is not NULL; ties go to the
        # greatest event_id (HAZARDS: argMax on equal keys is nondeterministic on ClickHouse, so
        # the key is (ts, event_id)). Both engines' arg_max/argMax skip NULL values natively.
        order: exp.Expression = exp.Tuple(expressions=[_col("ts"), _col("event_id")])
        return [_func("argMax" if dialect == "clickhouse" else "arg_max", val(), order)]
    if agg is Aggregation.UNIQUE_COUNT:
        if dialect == "clickhouse":
            return [_func("uniqExact", val())]
        return [exp.Count(this=exp.Distinct(expressions=[val()]))]
    if agg is Aggregation.WEIGHTED_SUM:
        # Σv (the level change) and Σ v·(ts − bucket floor), exact: on DuckDB split into integer
        # and 10^-12 units (HUGEINT), because v·Δt can pass DECIMAL(38,12)'s 10^26.
        # (bucket_floor: the floor of ts, or the period start; pre-period rows only use Σv)
        def dt() -> exp.Expression:
            return exp.Sub(this=_col("ts"), expression=_p(bucket_floor.copy()))

        def factor() -> exp.Expression:
            # ClickHouse refuses `sum(<constant NULL Decimal> * (ts - x))` ("Unexpected literal
            # type in function", code 169) — a value of `null`; materialize() makes it a column.
            return _func("materialize", val()) if dialect == "clickhouse" else val()

        form = weighted_form(dialect, wide)
        if form == 0:
            # ClickHouse: Decimal(76,12) holds the products. DuckDB, narrow: DECIMAL(38,12) × BIGINT
            # stays DECIMAL(38,12), exact (Δt is an integer), and DuckDB raises on any product or
            # sum ≥ 10^26 instead of wrapping (HAZARDS) — then the engine re-runs the plan wide.
            # Measured: the split INT128 form cost ~2× this one (benchmarks/README, item 4).
            # Σ|v| bounds the levels inside a group (`is_narrow`, `_finish`).
            return [exp.Sum(this=val()), exp.Sum(this=exp.Mul(this=_p(factor()), expression=_p(dt()))),
                    exp.Sum(this=exp.Abs(this=val()))]
        if dialect == "clickhouse":  # the levels form's sums (its levels: `_template`)
            return [exp.Sum(this=val()), exp.Sum(this=exp.Mul(this=_p(factor()), expression=_p(dt())))]
        whole, frac = _parts(val())
        out = [
            exp.Sum(this=whole.copy()),
            exp.Sum(this=frac.copy()),
            exp.Sum(this=exp.Mul(this=whole, expression=_p(dt()))),
            exp.Sum(this=exp.Mul(this=frac, expression=_p(dt()))),
        ]
        if form == 1:  # Σ|v| for the level bound, split too
            out += [exp.Sum(this=p) for p in _parts(exp.Abs(this=val()))]
        return out
    raise AssertionError(agg)  # pragma: no cover - exhaustive over Aggregation



# --- from result rows to AggRows (exact, in Python) --------------------------------------------


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


def _bucket_bounds(w: Window, floor: int) -> tuple[int, int, bool, bool, int, int]:
    """The bucket whose floor is `floor`: its reported bounds and flags (cut to the period; a
    bound that is the period's own keeps the period's flag) and its half-open interval
    [row_lo, row_hi) in ms, which weighted_sum's durations use."""
    lo = w.start_ms + (0 if w.inclusive_start else 1)
    hi = w.end_ms + (1 if w.inclusive_end else 0)
    if w.granularity is None:
        return w.start_ms, w.end_ms, w.inclusive_start, w.inclusive_end, lo, hi
    unit = GRANULARITY_MS[w.granularity]
    s, s_inc = (w.start_ms, w.inclusive_start) if floor <= w.start_ms else (floor, True)
    t, t_inc = (w.end_ms, w.inclusive_end) if floor + unit > w.end_ms else (floor + unit, False)
    return s, t, s_inc, t_inc, max(floor, lo), min(floor + unit, hi)


# Rows made by carried state alone (SPEC §5) are generated here, not by the engine: an hourly
# recurring metric over a long period × many coordinates could make millions. Past this many
# the call fails (`LimitExceeded`) instead of building them.
MAX_CARRIED_ROWS = 100_000


def _sum_of(aggs: Sequence[Any], i: int, split: bool) -> tuple[Decimal, int]:
    """The exact sum at column `i` (DuckDB wide: integer + 10^-12 parts) and the next column."""
    if split:
        return C.add(_dec(aggs[i]), C.divide(_dec(aggs[i + 1]), Decimal(_SCALE))), i + 2
    return _dec(aggs[i]), i + 1


def _finish(plan: Plan | SubjectsPlan, rows: Sequence[Sequence[Any]], *, single: bool = True) -> list[AggRow]:
    """Result rows `(bucket, dims…, n, aggregates…)` of one subject → its `AggRow`s.

    `single`: the rows of a one-subject plan, whose ungrouped form (no buckets, no dimensions,
    not recurring) has no GROUP BY and so always exactly one row: any other count means the
    answer was cut off or the engine misbehaved. (In a many-subject plan a subject without
    events simply has no row.)

    Recurring metrics and weighted_sum also get a row for each (bucket, coordinates) without
    events whose carried total, level or distinct count is not zero (SPEC §5)."""
    w, metric = plan.window, plan.metric
    agg = metric.aggregation
    ndim = len(w.dimensions)
    split = bool(plan.template.wide) and plan.dialect == "duckdb"
    if single and w.granularity is None and ndim == 0 and not metric.recurring and len(rows) != 1:
        raise TransportError(f"the engine returned {len(rows)} rows for an aggregate that always has exactly one")

    # (floor | None, coords) → (n, aggregates…)
    groups: dict[tuple[int | None, tuple[str | None, ...]], tuple[int, tuple[Any, ...]]] = {}
    for r in rows:
        floor = r[0]
        coords = tuple(coordinate_text(r[1 + i], plan.dim_types[i]) for i in range(ndim))
        n = int(r[1 + ndim])
        if n == 0:
            continue  # the one aggregate row of an empty, ungrouped query
        aggs = tuple(r[2 + ndim : 2 + ndim + plan.n_agg])
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

    lo = w.start_ms + (0 if w.inclusive_start else 1)
    hi = w.end_ms + (1 if w.inclusive_end else 0)
    carries = (metric.recurring or agg is Aggregation.WEIGHTED_SUM) and lo < hi
    if w.granularity is None:
        unit, first, last = 1, w.start_ms, w.start_ms  # one bucket: the period
    else:
        unit = GRANULARITY_MS[w.granularity]
        first, last = py_floor(lo, w.granularity), py_floor(hi - 1, w.granularity)

    out: list[AggRow] = []
    made = 0
    for coords, floors in by_coords.items():
        cursor = first
        for floor in [*sorted(floors), None]:
            upto = last + unit if floor is None else floor
            state = carried.get(coords)
            if carries and state is not None and state != 0 and cursor < upto:
                made += (upto - cursor) // unit
                if made > MAX_CARRIED_ROWS:
                    raise LimitExceeded(
                        f"more than {MAX_CARRIED_ROWS} rows carried over buckets without events; "
                        "use a coarser granularity, a shorter period or fewer dimensions")
                value = _final(metric, state)
                for g in range(cursor, upto, unit):
                    start, end, incl_s, incl_e, _, _ = _bucket_bounds(w, g)
                    out.append(AggRow(start, end, coords, value, incl_s, incl_e))
            if floor is None:
                break
            out.append(_group_row(plan, floor, coords, groups[(floor, coords)], carried, split))
            cursor = floor + unit
    out.sort(key=lambda r: (r.bucket_start_ms, coordinate_sort_key(r.coordinates)))

    if w.granularity is None and ndim == 0 and not out:
        # Exactly one row without buckets and dimensions; recurring carries a total into it.
        carried_in = metric.recurring and () in carried and lo < hi
        value = _final(metric, carried[()]) if carried_in else None
        out.append(AggRow(w.start_ms, w.end_ms, (), value, w.inclusive_start, w.inclusive_end))
    return out


def _group_row(plan: Plan | SubjectsPlan, floor: int, coords: tuple[str | None, ...], group: tuple[int, tuple[Any, ...]],
               carried: dict[tuple[str | None, ...], Decimal], split: bool) -> AggRow:
    """The row of one in-period group (with events); updates `carried` (recurring, weighted_sum)."""
    w, metric = plan.window, plan.metric
    agg = metric.aggregation
    n, aggs = group
    start, end, incl_s, incl_e, row_lo, row_hi = _bucket_bounds(w, floor)
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
        if weighted_form(plan.dialect, plan.template.wide) < 2:
            # The bound (`is_narrow`): every level in the group lies between level0 + Σ negative
            # values and level0 + Σ positive values. Past it, an overflow *may* have happened:
            # NumericOverflow makes the engine re-run the plan in its levels form, which checks
            # each level exactly.
            absum = _sum_of(aggs, i, split)[0]
            numbers.check_range(C.add(level0, C.divide(C.add(absum, delta), Decimal(2))))
            numbers.check_range(C.add(level0, C.divide(C.subtract(delta, absum), Decimal(2))))
        else:
            # the greatest and least level the group reached (ClickHouse: a decimal; DuckDB: 10^-12 units)
            for extreme in aggs[i : i + 2]:
                if extreme is not None:
                    numbers.check_range(_dec(extreme) if plan.dialect == "clickhouse"
                                        else C.divide(_dec(extreme), Decimal(_SCALE)))
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
    return AggRow(start, end, coords, _final(metric, value), incl_s, incl_e)


def _final(metric: Metric, value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    value = numbers.check_range(value)
    if metric.rounding is not None:
        value = numbers.round_to(value, metric.rounding_precision, metric.rounding.value)
    return numbers.CTX.plus(numbers.quantize(value))
