"""What the plan builder (`meterql.plan`) asks of an engine: sqlglot nodes for the statement's
parts, and the engine differences of a plan as data and small overrides (as ibis' `AggGen`):
typed placeholders, a bound list of subjects, `argMax`/`arg_max`, exact distinct counts, the
HUGEINT-split sums of DuckDB's wide forms, ClickHouse's `materialize`, and how a level column
reads back in Python.

Consumes: compiled sqlglot children and trusted Python ints / constant names.
Produces: sqlglot nodes (every composite child parenthesised: sqlglot adds none).
Guarantees: the plan builder holds no `if dialect == …`: each difference is a hook here.
"""

from __future__ import annotations

import functools
from typing import ClassVar

from sqlglot import exp

from .base import fn as func  # a call of a trusted function name (a constant here, never customer text)

SCALE = 10**12  # the 10^-12 units of DuckDB's split sums


# --- small neutral builders --------------------------------------------------------------------


def p(e: exp.Expression) -> exp.Expression:
    return e if isinstance(e, (exp.Column, exp.Literal, exp.Paren, exp.Placeholder)) else exp.Paren(this=e)


def integer(n: int) -> exp.Expression:
    # Trusted Python ints only (bounds, bucket sizes); negative ones parenthesised (`a - (-5)`).
    lit = exp.Literal.number(str(abs(int(n))))
    return lit if n >= 0 else exp.Paren(this=exp.Neg(this=lit))


def col(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name))


def and_(*conds: exp.Expression) -> exp.Expression:
    out = p(conds[0])
    for c in conds[1:]:
        out = exp.And(this=out, expression=p(c))
    return out


def floor_ms(ts: exp.Expression, unit: int, offset: int) -> exp.Expression:
    """ts − (((ts + offset) % unit) + unit) % unit: a true floor for negative ts too (HAZARDS)."""
    shifted = exp.Add(this=p(ts), expression=integer(offset)) if offset else ts
    rem = exp.Mod(this=p(exp.Add(this=p(exp.Mod(this=p(shifted), expression=integer(unit))), expression=integer(unit))),
                  expression=integer(unit))
    return exp.Sub(this=p(ts), expression=p(rem))


def table(db: str | None, name: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(db, quoted=True) if db else None)


# --- the engine differences ---------------------------------------------------------------------


class PlanGen:
    """The engine differences of a plan. Subclasses set the data and override the few hooks."""

    NAME: ClassVar[str]
    # DuckDB sums DECIMAL(38,12), which raises on an intermediate sum past 10^26: its wide forms
    # sum integer and 10^-12 parts as HUGEINT (`parts`). ClickHouse's Decimal256 needs no split.
    SPLIT_WIDE_SUMS: ClassVar[bool] = False
    # How a level column (`level_columns`) reads back: a decimal, or 10^-12 units.
    LEVEL_SCALE: ClassVar[int] = 1
    # A weighted_sum's form at stages 0, 1, 2 (`weighted_form`).
    WEIGHTED_FORMS: ClassVar[tuple[int, int, int]] = (0, 1, 2)
    # A weighted_sum's form at stage 1 of a shared scan (never the levels form there).
    SHARED_WEIGHTED_WIDE: ClassVar[int] = 1

    def placeholder(self, name: str, ch_type: str) -> exp.Expression:
        return exp.Placeholder(this=name)

    def subject_in(self, listed: exp.Expression) -> exp.Expression:
        """`subject_id` in the bound list: a semi-join against the unnested list."""
        return exp.In(this=col("subject_id"), query=exp.Subquery(this=exp.select(exp.Unnest(expressions=[listed]))))

    def arg_max(self, v: exp.Expression, order: exp.Expression) -> exp.Expression:
        return func("arg_max", v, order)

    def unique_count(self, v: exp.Expression) -> exp.Expression:
        return exp.Count(this=exp.Distinct(expressions=[v]))

    def column_value(self, v: exp.Expression) -> exp.Expression:
        """A value made a column where a constant would be refused (ClickHouse)."""
        return v

    def narrow_sums(self) -> bool:
        """Whether the fast sum/avg form may overflow where the exact answer does not."""
        return self.SPLIT_WIDE_SUMS

    def weighted_form(self, wide: int) -> int:
        return self.WEIGHTED_FORMS[min(int(wide), 2)]

    def split(self, form: int) -> bool:
        """Whether form `form`'s sums come as (integer, 10^-12 units) pairs."""
        return bool(form) and self.SPLIT_WIDE_SUMS

    def parts(self, v: exp.Expression) -> tuple[exp.Expression, exp.Expression]:
        """DuckDB: a DECIMAL(38,12) value as (integer part, fraction in 10^-12 units), both HUGEINT,
        exact (the two share the value's sign): sums of these cannot overflow for any event count
        that fits a table, where a DECIMAL(38,12) sum raises past 10^26 (and INT128 at 1.7·10^26)."""
        hugeint = exp.DataType.build("HUGEINT", dialect="duckdb")
        frac_units = exp.Mul(this=p(exp.Sub(this=p(v.copy()), expression=func("trunc", v.copy()))), expression=integer(SCALE))
        return exp.Cast(this=func("trunc", v.copy()), to=hugeint), exp.Cast(this=frac_units, to=hugeint.copy())

    def level_columns(self, v: exp.Expression, partition: list[exp.Expression], order: exp.Order) -> list[exp.Expression]:
        """The level after each event's millisecond (the wide weighted_sum's subquery column `l0`):
        a running sum over `partition` ordered by ts. DuckDB: in 10^-12 units as HUGEINT, summed as
        integer and fraction parts (`parts`); a level whose integer part reaches 1.5·10^26 (an
        overflow whatever the fraction) becomes ±1.6·10^38 units, which `finish` reports as the
        overflow it is, instead of overflowing INT128 in the engine (on a pre-period row, whose
        level is not checked step by step, that would be wrong)."""
        whole, frac = (self._running(e, partition, order) for e in self.parts(v))
        big = exp.GTE(this=exp.Abs(this=whole.copy()), expression=integer(15 * 10**25))
        sentinel = exp.Mul(this=func("sign", whole.copy()), expression=integer(16 * 10**37))
        units = exp.Add(this=p(exp.Mul(this=p(whole), expression=integer(SCALE))), expression=p(frac))
        return [exp.Case(ifs=[exp.If(this=big, true=sentinel)], default=units)]

    @staticmethod
    def _running(e: exp.Expression, partition: list[exp.Expression], order: exp.Order) -> exp.Expression:
        return exp.Window(this=exp.Sum(this=e), partition_by=[x.copy() for x in partition], order=order.copy())


class DuckDBPlan(PlanGen):
    NAME = "duckdb"
    SPLIT_WIDE_SUMS = True
    LEVEL_SCALE = SCALE


class ClickHousePlan(PlanGen):
    NAME = "clickhouse"
    # Decimal(76,12) holds the products: stage 1 is the levels form.
    WEIGHTED_FORMS = (0, 2, 2)
    SHARED_WEIGHTED_WIDE = 0

    def placeholder(self, name: str, ch_type: str) -> exp.Expression:
        return exp.Placeholder(this=name, kind=exp.DataType.build(ch_type, dialect="clickhouse"))

    def subject_in(self, listed: exp.Expression) -> exp.Expression:
        # `x IN <array>`: ClickHouse reads the array as a set
        return exp.In(this=col("subject_id"), field=listed)

    def arg_max(self, v: exp.Expression, order: exp.Expression) -> exp.Expression:
        return func("argMax", v, order)

    def unique_count(self, v: exp.Expression) -> exp.Expression:
        return func("uniqExact", v)

    def column_value(self, v: exp.Expression) -> exp.Expression:
        # ClickHouse refuses `sum(<constant NULL Decimal> * (ts - x))` ("Unexpected literal type in
        # function", code 169) — a value of `null`; materialize() makes it a column.
        return func("materialize", v)

    def level_columns(self, v: exp.Expression, partition: list[exp.Expression], order: exp.Order) -> list[exp.Expression]:
        return [self._running(v.copy(), partition, order)]  # Decimal(76,12), exact


PLAN_GENS: dict[str, type[PlanGen]] = {"duckdb": DuckDBPlan, "clickhouse": ClickHousePlan}


@functools.lru_cache(maxsize=None)
def plan_gen(name: str) -> PlanGen:
    """The plan hooks of dialect `name` (stateless: one shared instance)."""
    try:
        return PLAN_GENS[name]()
    except (KeyError, TypeError):
        from ..errors import InvalidSpec

        raise InvalidSpec(f"unknown dialect {name!r}") from None
