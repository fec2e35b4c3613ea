"""Worst-case expression shapes for the compile-size limit (SPEC §7), shared by the cost tests:
each family maps n to an expression text whose size grows with n (deep nesting of every operator
and function, wide argument lists, long IN lists and AND/OR chains, nested and long CASEs)."""

from __future__ import annotations

from typing import Callable


def _nest(template: str, leaf: str = "x") -> Callable[[int], str]:
    def build(n: int) -> str:
        s = leaf
        for _ in range(n):
            s = template.format(s)
        return s

    return build


def _wide(template: str, item: Callable[[int], str]) -> Callable[[int], str]:
    return lambda n: template.format(", ".join(item(i) for i in range(n)))


# name → (kind, n → text). Values read x = 3, 4, 5…, y = 1.5, x0..x9, flag, s from the events.
FAMILIES: dict[str, tuple[str, Callable[[int], str]]] = {
    "nested +": ("value", _nest("({} + y)")),
    "nested -": ("value", _nest("({} - y)")),
    "nested *": ("value", _nest("({} * y)")),
    "nested * literal": ("value", _nest("({} * 1.5)")),
    "nested * integer": ("value", _nest("({} * 2)")),
    "nested /": ("value", _nest("({} / y)")),
    "nested / literal": ("value", _nest("({} / 1.5)")),
    "nested / 10": ("value", _nest("({} / 10)")),
    "nested %": ("value", _nest("({} % y)")),
    "divisor nested /": ("value", _nest("(x / {})", "y")),
    "left-deep + chain": ("value", lambda n: " + ".join(["x"] * (n + 1))),
    "left-deep / chain": ("value", lambda n: " / ".join(["x"] + ["y"] * n)),
    "nested unary -": ("value", _nest("-({})")),
    "nested abs": ("value", _nest("abs({})")),
    "nested round": ("value", _nest("round({}, 2)")),
    "nested ceil": ("value", _nest("ceil({}, 1)")),
    "nested floor": ("value", _nest("floor({}, -1)")),
    "nested hour floor": ("value", _nest("hour_floor_timestamp_millis({})", "timestamp_millis")),
    "nested week floor": ("value", _nest("week_floor_timestamp_millis({})", "timestamp_millis")),
    "nested month floor": ("value", _nest("month_floor_timestamp_millis({})", "timestamp_millis")),
    "nested to_number(to_string)": ("value", _nest("to_number(to_string({}))")),
    "nested if": ("value", _nest("if(flag, {}, y)")),
    "nested coalesce": ("value", _nest("coalesce({}, y)")),
    "nested CASE": ("value", _nest("CASE WHEN x > 3 THEN {} ELSE y END")),
    "CASE with many WHENs": ("value", lambda n: "CASE " + " ".join(f"WHEN x = {i} THEN {i}.5" for i in range(n)) + " ELSE 0 END"),
    "wide greatest": ("value", _wide("greatest({})", lambda i: f"x{i % 10}")),
    "wide least of products": ("value", _wide("least({})", lambda i: f"x{i % 10} * y")),
    "wide coalesce of x*y/3": ("value", _wide("coalesce({})", lambda i: "x*y/3")),
    "wide concat": ("value", _wide("length(concat({}))", lambda i: f"x{i % 10}")),
    "long IN list": ("filter", _wide("x IN ({})", lambda i: str(i))),
    "long IN list of strings": ("filter", _wide("s IN ({})", lambda i: f"'v{i}'")),
    "long AND chain": ("filter", lambda n: " AND ".join(f"x{i % 10} >= {i % 3}" for i in range(n))),
    "long OR chain": ("filter", lambda n: " OR ".join(f"x{i % 10} = {i}" for i in range(n))),
    "nested NOT": ("filter", _nest("NOT ({})", "flag")),
    "nested LIKE of concat": ("filter", _nest("concat({}, 'a') LIKE '%a'", "s")),
}
