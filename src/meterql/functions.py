"""The function registry (SPEC §2): what each function takes and returns.

Functions are data here, not grammar keywords: the checker resolves names against `REGISTRY`
(case-insensitive), checks arity and literal arguments, and suggests close names for typos.
The compiler and the reference evaluator each implement every name listed here; a test walks the
registry to prove it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .ast import Type


class Ret(StrEnum):
    """How a function's result type is found."""

    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"
    UNIFY = "unify"  # the unified type of the unifying arguments (least, greatest, coalesce, if)


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    min_args: int
    max_args: int | None  # None: variadic
    # Type each argument is read as; for variadic functions the last entry repeats.
    # Type.ANY means "unify with the other ANY-typed arguments" (UNIFY functions).
    params: tuple[Type, ...]
    returns: Ret
    # Index of an argument that must be an integer literal in [-12, 12] (round/ceil/floor digits).
    digits_arg: int | None = None
    doc: str = ""

    def param(self, i: int) -> Type:
        return self.params[min(i, len(self.params) - 1)]


_N, _S, _B, _A = Type.NUMBER, Type.STRING, Type.BOOLEAN, Type.ANY

REGISTRY: dict[str, Function] = {
    f.name: f
    for f in [
        Function("round", 1, 2, (_N, _N), Ret.NUMBER, 1, "round half away from zero to d digits"),
        Function("ceil", 1, 2, (_N, _N), Ret.NUMBER, 1, "round toward +infinity to d digits"),
        Function("floor", 1, 2, (_N, _N), Ret.NUMBER, 1, "round toward -infinity to d digits"),
        Function("abs", 1, 1, (_N,), Ret.NUMBER),
        Function("least", 1, None, (_A,), Ret.UNIFY, doc="smallest non-NULL argument"),
        Function("greatest", 1, None, (_A,), Ret.UNIFY, doc="largest non-NULL argument"),
        Function("coalesce", 1, None, (_A,), Ret.UNIFY, doc="first non-NULL argument"),
        Function("if", 3, 3, (_B, _A, _A), Ret.UNIFY, doc="if(c, a, b): a where c is TRUE, else b"),
        Function("concat", 1, None, (_S,), Ret.STRING, doc="NULL arguments count as ''"),
        Function("lower", 1, 1, (_S,), Ret.STRING),
        Function("upper", 1, 1, (_S,), Ret.STRING),
        Function("length", 1, 1, (_S,), Ret.NUMBER, doc="number of characters"),
        Function("to_number", 1, 1, (_S,), Ret.NUMBER, doc="the numeric-string grammar, else NULL"),
        Function("to_string", 1, 1, (_S,), Ret.STRING, doc="canonical text"),
        Function("hour_floor_timestamp_millis", 1, 1, (_N,), Ret.NUMBER),
        Function("day_floor_timestamp_millis", 1, 1, (_N,), Ret.NUMBER),
        Function("week_floor_timestamp_millis", 1, 1, (_N,), Ret.NUMBER, doc="ISO week: Monday 00:00 UTC"),
        Function("month_floor_timestamp_millis", 1, 1, (_N,), Ret.NUMBER),
    ]
}
