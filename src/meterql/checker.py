"""Check: parsed tree → typed tree + every diagnostic (names, arity, literals, types, schema).

Consumes: expression text, its `Kind`, an optional schema (property → "number" | "string" |
"boolean"), an optional `expect` (the `Type` an untyped result is read as) and `Limits`.
Produces: `check(...) -> list[Diagnostic]` (never raises, on any input of any type) and
`parse(...) -> ast.Expression` (the *typed* tree; raises one `ExpressionError` with every error;
LRU-cached on all arguments).

Typing (SPEC §2 "Typing", DESIGN.md): properties are untyped; the context decides how each is
read, and every `Property` becomes a `Read(key, type)`:
- arithmetic, unary `-` and NUMBER parameters (round, abs, floors…) → NUMBER;
- AND / OR / NOT operands, WHEN conditions, `if`'s condition and a filter's root → BOOLEAN;
- a comparison, `IN` and the unifying functions (least, greatest, coalesce, if) and CASE results
  take the one concrete type among their sides; two untyped sides are read as STRING;
- LIKE → STRING; `x IS NULL` on a bare property → STRING; the STRING parameters of concat,
  lower, upper, length, to_number, to_string accept any type (backends convert numbers and
  booleans to canonical text), untyped arguments are read as STRING;
- an untyped root is read as `expect` (default: BOOLEAN for filters, STRING for grouping keys,
  NUMBER for values). `null` unifies with every type.
Sides that can never have the same type are errors (`'a' + 1`, `'a' > 1`, `round('x')`).

Guarantees: all diagnostics of an expression are collected (not just the first); the work is
bounded by `Limits` (length before parsing, depth/nodes/IN sizes right after), so `check` finishes
in well under 50 ms for any input; recursion here is bounded by `Limits.max_depth`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from . import ast
from .ast import ARITHMETIC, COMPARISONS, LOGICAL, Expression, Kind, Node, Type, UnaryOp
from .errors import describe_type
from .diagnostics import DEFAULT_LIMITS, Diagnostic, ExpressionError, Limits, Severity
from .functions import REGISTRY, Function, Ret
from .parser import Invalid, parse_tree

_FIELD_TYPES = {
    ast.FieldName.TIMESTAMP_MILLIS: Type.NUMBER,
    ast.FieldName.EVENT_TIMESTAMP: Type.NUMBER,
    ast.FieldName.EVENT_NAME: Type.STRING,
    ast.FieldName.SUBJECT_ID: Type.STRING,
}
_CONCRETE = (Type.NUMBER, Type.STRING, Type.BOOLEAN)
_SCHEMA_TYPES = {"number": Type.NUMBER, "string": Type.STRING, "boolean": Type.BOOLEAN}
_DEFAULT_EXPECT = {Kind.FILTER: Type.BOOLEAN, Kind.GROUPING_KEY: Type.STRING, Kind.VALUE: Type.NUMBER}
_MAX_FRACTION = 12
_LIMIT = Decimal(10) ** 26
_A = {Type.NUMBER: "a number", Type.STRING: "a string", Type.BOOLEAN: "a boolean", Type.NULL: "null"}


def _unify(types: list[Type]) -> tuple[Type, bool]:
    """(unified type, conflict?). NULL and ANY unify with everything; ANY wins over NULL so an
    untyped side still gets its reading from the context."""
    concrete = {t for t in types if t in _CONCRETE}
    if len(concrete) > 1:
        return next(t for t in types if t in _CONCRETE), True
    if concrete:
        return concrete.pop(), False
    if Type.ANY in types or not types:
        return Type.ANY, False
    return Type.NULL, False


def _fraction_digits(v: Decimal) -> int:
    """Digits after the point of the value (trailing zeros do not count), computed exactly."""
    if v.is_zero():
        return 0
    _, digits, exponent = v.as_tuple()
    assert isinstance(exponent, int)
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing))


def _suggest(name: str, candidates: Any) -> tuple[str, ...]:
    # A typed prefix (`hour_floor` → `hour_floor_timestamp_millis`) beats edit distance, which
    # would prefer the short `floor`.
    prefixed = sorted((c for c in candidates if len(name) >= 3 and c.startswith(name) and c != name), key=len)
    if prefixed:
        return (f"did you mean `{prefixed[0]}`?",)
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return (f"did you mean `{close[0]}`?",) if close else ()


class _Checker:
    """One pass over a parsed tree (depth ≤ Limits.max_depth), building the typed tree."""

    def __init__(self, source: str, schema: dict[str, Type] | None):
        self.source = source
        self.schema = schema
        self.diags: list[Diagnostic] = []
        self._natural: dict[int, Type] = {}

    # -- helpers --------------------------------------------------------------------------------

    def error(self, span: ast.Span, code: str, message: str, *hints: str, label: str = "",
              severity: Severity = Severity.ERROR) -> None:  # fmt: skip
        self.diags.append(Diagnostic.at(self.source, span, code, message, hints=hints, label=label, severity=severity))

    def snippet(self, node: Node, n: int = 30) -> str:
        s = " ".join(self.source[node.span[0] : node.span[1]].split())
        return s if len(s) <= n else s[: n - 1] + "…"

    def natural(self, node: Node) -> Type:
        """The type a node has without any context (ANY for untyped properties)."""
        key = id(node)
        t = self._natural.get(key)
        if t is None:
            t = self._natural[key] = self._compute_natural(node)
        return t

    def _compute_natural(self, node: Node) -> Type:
        match node:
            case ast.Literal(value=v):
                if v is None:
                    return Type.NULL
                if isinstance(v, bool):
                    return Type.BOOLEAN
                return Type.STRING if isinstance(v, str) else Type.NUMBER
            case ast.Property(key=key):
                if self.schema is not None and key in self.schema:
                    return self.schema[key]
                return Type.ANY
            case ast.Field(name=name):
                return _FIELD_TYPES[name]
            case ast.Unary(op=op):
                return Type.NUMBER if op is UnaryOp.NEG else Type.BOOLEAN
            case ast.Binary(op=op):
                return Type.NUMBER if op in ARITHMETIC else Type.BOOLEAN
            case ast.In() | ast.IsNull() | ast.Like():
                return Type.BOOLEAN
            case ast.Case(whens=whens, else_=else_):
                results = [r for _, r in whens] + ([else_] if else_ is not None else [])
                return _unify([self.natural(r) for r in results])[0]
            case ast.Call(name=name, args=args):
                fn = REGISTRY.get(name)
                if fn is None:
                    return Type.NULL
                if fn.returns is Ret.UNIFY:
                    return _unify([self.natural(a) for i, a in enumerate(args) if fn.param(i) is Type.ANY])[0]
                return Type(fn.returns.value)
        return Type.NULL  # Invalid (already reported)

    # -- typing ---------------------------------------------------------------------------------

    def typed(self, node: Node, target: Type, strict: bool, why: str) -> Node:
        """`node` typed in a context that reads untyped values as `target` (a concrete type).
        `strict`: the context *requires* `target` (a mismatch is an error); otherwise a node with
        its own concrete type keeps it (e.g. a number passed to `concat`)."""
        nat = self.natural(node)
        if strict and nat in _CONCRETE and nat is not target and not isinstance(node, ast.Property):
            hints = {(Type.STRING, Type.NUMBER): ("convert it with to_number(…)",),
                     (Type.NUMBER, Type.STRING): ("convert it with to_string(…)",)}.get((nat, target), ())  # fmt: skip
            self.error(node.span, "E301", f"type mismatch: {why} must be {_A[target]}, but `{self.snippet(node)}` is {_A[nat]}",
                       *hints, label=f"this is {_A[nat]}")  # fmt: skip
        match node:
            case ast.Literal():
                self.literal(node)
                return dataclasses.replace(node, type=nat)
            case ast.Property(key=key):
                return self.property(node, key, target, strict, why)
            case ast.Field():
                return dataclasses.replace(node, type=nat)
            case ast.Unary(op=UnaryOp.NEG, operand=operand):
                if isinstance(operand, ast.Literal) and isinstance(operand.value, Decimal):
                    # `-5` is one number literal in the typed tree (exact: negation never rounds).
                    self.literal(operand)
                    v = operand.value
                    return ast.Literal(span=node.span, type=Type.NUMBER, value=v.copy_negate() if not v.is_zero() else Decimal(0))
                inner = self.typed(operand, Type.NUMBER, True, "the operand of unary `-`")
                return dataclasses.replace(node, operand=inner, type=Type.NUMBER)
            case ast.Unary(op=UnaryOp.NOT, operand=operand):
                inner = self.typed(operand, Type.BOOLEAN, True, "the operand of `NOT`")
                return dataclasses.replace(node, operand=inner, type=Type.BOOLEAN)
            case ast.Binary(op=op, left=left, right=right) if op in ARITHMETIC:
                why = f"an operand of `{op.value}`"
                return dataclasses.replace(node, left=self.typed(left, Type.NUMBER, True, why),
                                           right=self.typed(right, Type.NUMBER, True, why), type=Type.NUMBER)  # fmt: skip
            case ast.Binary(op=op, left=left, right=right) if op in LOGICAL:
                why = f"an operand of `{op.value}`"
                return dataclasses.replace(node, left=self.typed(left, Type.BOOLEAN, True, why),
                                           right=self.typed(right, Type.BOOLEAN, True, why), type=Type.BOOLEAN)  # fmt: skip
            case ast.Binary(op=op, left=left, right=right):
                assert op in COMPARISONS
                return self.comparison(node, left, right)
            case ast.In(operand=operand, items=items):
                return self.in_(node, operand, items)
            case ast.IsNull(operand=operand):
                inner_nat = self.natural(operand)
                inner = self.typed(operand, inner_nat if inner_nat in _CONCRETE else Type.STRING, False, "")
                return dataclasses.replace(node, operand=inner, type=Type.BOOLEAN)
            case ast.Like(operand=operand, pattern=pattern):
                typed_operand = self.typed(operand, Type.STRING, True, "the operand of `LIKE`")
                typed_pattern = self.typed(pattern, Type.STRING, True, "a `LIKE` pattern")
                if isinstance(pattern, ast.Literal) and isinstance(pattern.value, str):
                    self.like_pattern(pattern)
                return dataclasses.replace(node, operand=typed_operand, pattern=typed_pattern, type=Type.BOOLEAN)
            case ast.Case():
                return self.case(node, target)
            case ast.Call():
                return self.call(node, target)
            case Invalid():
                return ast.Literal(span=node.span, type=Type.NULL, value=None)
        raise AssertionError(f"unhandled node {type(node).__name__}")  # pragma: no cover

    def literal(self, node: ast.Literal) -> None:
        v = node.value
        if isinstance(v, Decimal):
            # copy_abs / as_tuple are exact; abs() and normalize() would round to 28 digits.
            if v.copy_abs() >= _LIMIT:
                self.error(node.span, "E121", f"number literal `{self.snippet(node)}` is out of range",
                           "numbers must be below 10^26 in absolute value")  # fmt: skip
            elif _fraction_digits(v) > _MAX_FRACTION:
                self.error(node.span, "E120", f"number literal `{self.snippet(node)}` has more than {_MAX_FRACTION} fractional digits",
                           f"numbers carry at most {_MAX_FRACTION} digits after the point")  # fmt: skip
        elif isinstance(v, str):
            self.text_ok(v, node, "string")

    def text_ok(self, value: str, node: Node, what: str) -> None:
        """NUL and lone surrogates cannot be stored or compared identically on the engines."""
        if "\x00" in value:
            self.error(node.span, "E122", f"{what} contains a NUL character", "remove the NUL (U+0000) character")
        elif any("\ud800" <= c <= "\udfff" for c in value):
            self.error(node.span, "E122", f"{what} contains a lone surrogate (invalid Unicode)",
                       "use only valid Unicode characters")  # fmt: skip

    def like_pattern(self, node: ast.Literal) -> None:
        """Backslash escapes only `%`, `_` and itself (SPEC §2), so every backend reads a literal
        pattern the same way; anything else is rejected here rather than guessed at."""
        text = str(node.value)
        i = 0
        while i < len(text):
            if text[i] == "\\":
                if i + 1 >= len(text) or text[i + 1] not in "%_\\":
                    bad = text[i : i + 2]
                    self.error(node.span, "E123", f"invalid escape `{bad}` in `LIKE` pattern",
                               "in a LIKE pattern `\\` escapes only `%`, `_` and `\\` (write `\\\\` for a backslash)")  # fmt: skip
                    return
                i += 2
            else:
                i += 1

    def property(self, node: ast.Property, key: str, target: Type, strict: bool, why: str) -> Node:
        self.text_ok(key, node, "property name")
        read = target
        if self.schema is not None:
            declared = self.schema.get(key)
            if declared is None:
                self.error(node.span, "E401", f"unknown property `{key}`", *_suggest(key, self._schema_names()),
                           label="not in the schema")  # fmt: skip
            else:
                read = declared
                if strict and declared is not target:
                    self.error(node.span, "E402", f"property `{key}` is declared as {_A[declared]}, but {why} must be {_A[target]}",
                               label=f"declared as {_A[declared]}")  # fmt: skip
        return ast.Read(span=node.span, key=key, type=read)

    def _schema_names(self) -> list[str]:
        names = list(self.schema or ())
        return names if len(names) <= 2000 else []  # did-you-mean stays cheap on huge schemas

    def comparison(self, node: ast.Binary, left: Node, right: Node) -> Node:
        nl, nr = self.natural(left), self.natural(right)
        unified, conflict = _unify([nl, nr])
        if conflict:
            self.error(node.span, "E302", f"cannot compare {_A[nl]} with {_A[nr]}",
                       "convert one side with to_number(…) or to_string(…)",
                       label=f"{_A[nl]} {node.op.value} {_A[nr]}")  # fmt: skip
        if any(isinstance(side, ast.Literal) and side.value is None for side in (left, right)):
            self.error(node.span, "W301", "comparison with `null` is never true",
                       "use `IS NULL` or `IS NOT NULL`", severity=Severity.WARNING)  # fmt: skip
        target = unified if unified in _CONCRETE else Type.STRING
        why = f"a side of `{node.op.value}`"
        return dataclasses.replace(node, left=self.typed(left, nl if conflict and nl in _CONCRETE else target, False, why),
                                   right=self.typed(right, nr if conflict and nr in _CONCRETE else target, False, why),
                                   type=Type.BOOLEAN)  # fmt: skip

    def in_(self, node: ast.In, operand: Node, items: tuple[Node, ...]) -> Node:
        unified, _ = _unify([self.natural(operand)] + [self.natural(i) for i in items])
        target = unified if unified in _CONCRETE else Type.STRING
        why = "every item of an `IN` list and its left side"
        return dataclasses.replace(node, operand=self.typed(operand, target, True, why),
                                   items=tuple(self.typed(i, target, True, why) for i in items), type=Type.BOOLEAN)  # fmt: skip

    def case(self, node: ast.Case, target: Type) -> Node:
        results = [r for _, r in node.whens] + ([node.else_] if node.else_ is not None else [])
        unified, _ = _unify([self.natural(r) for r in results])
        t = unified if unified in _CONCRETE else target
        why = "every result of a `CASE`"
        whens = tuple((self.typed(c, Type.BOOLEAN, True, "a `WHEN` condition"), self.typed(r, t, True, why))
                      for c, r in node.whens)  # fmt: skip
        else_ = self.typed(node.else_, t, True, why) if node.else_ is not None else None
        return dataclasses.replace(node, whens=whens, else_=else_, type=t)

    def call(self, node: ast.Call, target: Type) -> Node:
        fn = REGISTRY.get(node.name)
        if fn is None:
            self.error(node.name_span, "E201", f"unknown function `{node.name}`", *_suggest(node.name, REGISTRY),
                       label="not a known function")  # fmt: skip
            args = tuple(self.typed(a, self._own(a), False, "") for a in node.args)
            return dataclasses.replace(node, args=args, type=Type.NULL)
        n = len(node.args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            self.error(node.span, "E202", f"`{fn.name}` takes {_arity(fn)}, got {n}", f"usage: {fn.name}({_signature(fn)})")
        unify_types = [self.natural(a) for i, a in enumerate(node.args) if fn.param(i) is Type.ANY]
        unified, _ = _unify(unify_types)
        group = unified if unified in _CONCRETE else target
        args: list[Node] = []
        for i, arg in enumerate(node.args):
            why = f"argument {i + 1} of `{fn.name}`"
            if i == fn.digits_arg:
                args.append(self.digits(fn, arg))
                continue
            param = fn.param(i)
            if param is Type.ANY:
                args.append(self.typed(arg, group, True, why))
            elif param is Type.STRING:
                args.append(self.typed(arg, Type.STRING, False, why))  # any type converts to text
            else:
                args.append(self.typed(arg, param, True, why))
        returns = group if fn.returns is Ret.UNIFY else Type(fn.returns.value)
        return dataclasses.replace(node, args=tuple(args), type=returns)

    def _own(self, node: Node) -> Type:
        nat = self.natural(node)
        return nat if nat in _CONCRETE else Type.STRING

    def digits(self, fn: Function, arg: Node) -> Node:
        """round/ceil/floor digits: an integer literal in -12..12 (so SQL scales are constants)."""
        value: Any = None
        lit = arg
        if isinstance(arg, ast.Unary) and arg.op is UnaryOp.NEG and isinstance(arg.operand, ast.Literal):
            lit = arg.operand
            value = lit.value.copy_negate() if isinstance(lit.value, Decimal) else None
        elif isinstance(arg, ast.Literal) and isinstance(arg.value, Decimal):
            value = arg.value
        if value is None or value != value.to_integral_value() or not -12 <= value <= 12:
            self.error(arg.span, "E203", f"the digits argument of `{fn.name}` must be an integer literal from -12 to 12",
                       f"e.g. {fn.name}(x, 2)", label="not an integer literal from -12 to 12")  # fmt: skip
            return self.typed(arg, Type.NUMBER, False, "")
        return ast.Literal(span=arg.span, type=Type.NUMBER, value=Decimal(int(value)))


# --- compiled size (SPEC §7: what the limits accept compiles in < 50 ms and runs everywhere) ------

# Upper bounds, per typed node, of the sqlglot nodes it adds to the compiled SQL, children not
# included, as (DuckDB, ClickHouse) — measured on dialects/*.py; tests/test_compile_cost.py holds
# `compiled_cost` ≥ the real size on both dialects. Compile + render time is linear in the
# compiled size (5–10 µs a node), so bounding the size bounds the time. The big ones: a DuckDB
# exact division (long division on HUGEINT parts) is ~280 nodes, a DuckDB product ~100, a
# ClickHouse `+` ~24 (its overflow check).
_OP_COST = {
    ast.BinaryOp.ADD: (4, 24), ast.BinaryOp.SUB: (4, 24), ast.BinaryOp.MUL: (100, 28),
    ast.BinaryOp.DIV: (280, 32), ast.BinaryOp.MOD: (12, 28), ast.BinaryOp.AND: (3, 3), ast.BinaryOp.OR: (3, 3),
}
_COMPARE_COST = (4, 12)  # an operator and, on ClickHouse, a Nullable(Bool) cast of a boolean side
# function → ((DuckDB, ClickHouse) of the call, (DuckDB, ClickHouse) per argument)
_CALL_COST = {
    "round": ((10, 24), (0, 0)), "ceil": ((56, 24), (0, 0)), "floor": ((56, 24), (0, 0)),
    "abs": ((2, 2), (0, 0)), "least": ((2, 2), (1, 6)), "greatest": ((2, 2), (1, 6)),
    "coalesce": ((2, 2), (1, 6)), "if": ((12, 18), (0, 0)), "concat": ((4, 4), (3, 3)),
    "lower": ((5, 5), (0, 0)), "upper": ((5, 5), (0, 0)), "length": ((4, 4), (0, 0)),
    "to_number": ((28, 46), (0, 0)), "to_string": ((2, 2), (0, 0)),
    "hour_floor_timestamp_millis": ((32, 46), (0, 0)), "day_floor_timestamp_millis": ((32, 46), (0, 0)),
    "week_floor_timestamp_millis": ((36, 52), (0, 0)), "month_floor_timestamp_millis": ((186, 178), (0, 0)),
}
_TEXT_ARGS = frozenset({"concat", "lower", "upper", "length", "to_number", "to_string"})
_TO_TEXT_COST = (18, 16)  # canonical text of a NUMBER (two regex replaces) or of a BOOLEAN


def _power_of_ten(v: Decimal) -> bool:
    if v.is_zero():
        return True  # by zero: a typed NULL
    _, digits, exponent = v.normalize().as_tuple()
    return digits == (1,) and -26 <= int(exponent) <= 26


def _integer_literal(node: Node) -> bool:
    return isinstance(node, ast.Literal) and isinstance(node.value, Decimal) and node.value == node.value.to_integral_value()


def _own_cost(node: Node) -> tuple[int, int]:
    match node:
        case ast.Literal(value=v):
            return (7, 4) if isinstance(v, Decimal) else ((8, 8) if v is None else (1, 1))
        case ast.Read(type=Type.NUMBER):
            return (10, 20)
        case ast.Read():
            return (7, 7)
        case ast.Field(name=ast.FieldName.EVENT_TIMESTAMP):
            return (24, 10)
        case ast.Field():
            return (8, 4)
        case ast.Unary():
            return (3, 3)
        case ast.Binary(op=ast.BinaryOp.DIV, right=ast.Literal(value=Decimal() as v)) if _power_of_ten(v):
            return (10, 32)  # DuckDB: an exact product by 10^-k
        case ast.Binary(op=ast.BinaryOp.MUL, left=left, right=right) if _integer_literal(right) or (
                _integer_literal(left) and not isinstance(right, ast.Literal)):  # fmt: skip
            return (4, 28)  # DuckDB: one DECIMAL(38,12)·DECIMAL(38,0) product
        case ast.Binary(op=op, left=left) if op in COMPARISONS:
            return _COMPARE_COST if left.type is Type.BOOLEAN else (4, 4)
        case ast.Binary(op=op):
            return _OP_COST.get(op, _COMPARE_COST)
        case ast.In(operand=operand, items=items):
            # an equality per item; a cheap operand (a string read) is repeated in each, others
            # are bound once; ClickHouse casts boolean items
            per_item = 14 if operand.type is Type.BOOLEAN else 10
            return (10 + 10 * len(items), 10 + per_item * len(items))
        case ast.IsNull():
            return (12, 12)
        case ast.Like(pattern=pattern):
            return (12, 12) if isinstance(pattern, ast.Literal) else (45, 40)
        case ast.Case(whens=whens):  # ClickHouse casts boolean results
            return (10 + 12 * len(whens), 10 + (16 if node.type is Type.BOOLEAN else 12) * len(whens))
        case ast.Call(name=name, args=args):
            (d, c), (pd, pc) = _CALL_COST.get(name, ((10, 10), (10, 10)))
            return (d + pd * len(args), c + pc * len(args))
    return (10, 10)


def compiled_cost(tree: Node) -> int:
    """An upper bound of the size (sqlglot nodes) of `tree` compiled for the larger of the two
    dialects, conversion of the result to text included. Iterative; linear in the tree."""
    duck, click = _TO_TEXT_COST  # the root may be converted to canonical text (grouping keys, unique_count)
    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:
        node, as_text = stack.pop()
        d, c = _own_cost(node)
        duck, click = duck + d, click + c
        if as_text and node.type in (Type.NUMBER, Type.BOOLEAN):
            duck, click = duck + _TO_TEXT_COST[0], click + _TO_TEXT_COST[1]
        text = isinstance(node, ast.Like) or (isinstance(node, ast.Call) and node.name in _TEXT_ARGS)
        stack.extend((child, text) for child in node.children())
    return max(duck, click)


_COST_NAMES = {ast.BinaryOp.DIV: "division `/`", ast.BinaryOp.MUL: "product `*`"}


def _cost_hint(tree: Node) -> str:
    """Which kind of node makes most of the compiled size, for the E009 hint."""
    parts: dict[str, list[int]] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        match node:
            case ast.Binary(op=op) if op in _COST_NAMES:
                what = _COST_NAMES[op]
            case ast.Call(name=name):
                what = f"`{name}`"
            case ast.In(items=items):
                what = "`IN` list"
            case ast.Case():
                what = "`CASE`"
            case _:
                what = ""
        if what:
            n_cost = parts.setdefault(what, [0, 0])
            n_cost[0] += len(node.items) if isinstance(node, ast.In) else 1
            n_cost[1] += max(_own_cost(node))
        stack.extend(node.children())
    if not parts:
        return "split it into simpler expressions"
    what, (n, c) = max(parts.items(), key=lambda kv: kv[1][1])
    if what == "`IN` list":
        return f"its `IN` lists' {n} items make {c} of them; use fewer items, or split the expression"
    return f"{n} × {what} make {c} of them; use fewer, or split the metric"


def _arity(fn: Function) -> str:
    def args(k: int) -> str:
        return f"{k} argument" + ("" if k == 1 else "s")

    if fn.max_args is None:
        return f"at least {args(fn.min_args)}"
    if fn.min_args == fn.max_args:
        return f"exactly {args(fn.min_args)}"
    return f"{fn.min_args} to {args(fn.max_args)}"


_PARAM_NAMES = {"round": "x, digits", "ceil": "x, digits", "floor": "x, digits", "if": "condition, then, else"}


def _signature(fn: Function) -> str:
    if fn.name in _PARAM_NAMES:
        sig = _PARAM_NAMES[fn.name]
        return sig.replace(", digits", "[, digits]") if fn.digits_arg is not None else sig
    if fn.max_args is None:
        return "x, …"
    return ", ".join("x" if fn.max_args == 1 else f"x{i + 1}" for i in range(fn.max_args))


# --- the verbs ------------------------------------------------------------------------------------


def _diag(source: Any, code: str, message: str, *hints: str) -> Diagnostic:
    return Diagnostic.at(source if isinstance(source, str) else "", (0, 0), code, message, hints=hints)


def _normalize(text: Any, kind: Any, schema: Any, expect: Any, limits: Any):
    """Validate the call's arguments; returns (kind, schema_key, expect, limits, diagnostics)."""
    diags: list[Diagnostic] = []
    if not isinstance(text, str):
        diags.append(_diag(text, "E001", f"an expression must be a string, not {describe_type(text)}"))
    try:
        kind = Kind(kind)
    except (ValueError, TypeError):
        diags.append(_diag(text, "E007", f"unknown expression kind `{kind!s:.40}`", "use filter, grouping_key or value"))
        kind = Kind.VALUE
    if expect is not None:
        try:
            expect = Type(expect)
            if expect not in _CONCRETE:
                raise ValueError
        except (ValueError, TypeError):
            diags.append(_diag(text, "E007", f"unknown expected type `{expect!s:.40}`", "use number, string or boolean"))
            expect = None
    if limits is None:
        limits = DEFAULT_LIMITS
    elif not isinstance(limits, Limits):
        diags.append(_diag(text, "E007", "`limits` must be a meterql.Limits"))
        limits = DEFAULT_LIMITS
    schema_key: tuple[tuple[str, Type], ...] | None = None
    if schema is not None:
        if not isinstance(schema, Mapping):
            diags.append(_diag(text, "E006", "invalid schema: expected a mapping of property name to type"))
        else:
            entries = []
            for name, t in schema.items():
                declared = _SCHEMA_TYPES.get(str(t).lower()) if isinstance(t, str) else None
                if not isinstance(name, str) or declared is None:
                    diags.append(_diag(text, "E006", f"invalid schema entry `{name!s:.40}`: {t!s:.40}",
                                       "types are number, string or boolean"))  # fmt: skip
                    continue
                entries.append((name, declared))
            schema_key = tuple(sorted(entries))
    return kind, schema_key, expect, limits, diags


@functools.lru_cache(maxsize=4096)
def _analyze(text: str, kind: Kind, schema_key: tuple | None, expect: Type | None, limits: Limits):
    """(typed Expression or None, all diagnostics). Cached: the same text is checked once."""
    result = parse_tree(text, kind, limits)
    diags = list(result.diagnostics)
    if result.tree is None:
        return None, tuple(diags)
    checker = _Checker(text, dict(schema_key) if schema_key is not None else None)
    root = result.tree
    target = Type.BOOLEAN if kind is Kind.FILTER else (expect or _DEFAULT_EXPECT[kind])
    if kind is Kind.FILTER:
        nat = checker.natural(root)
        if nat in _CONCRETE and nat is not Type.BOOLEAN:
            checker.error(root.span, "E303", f"a filter must be a condition (boolean), but this is {_A[nat]}",
                          "compare it with something, e.g. `x > 0` or `x = 'a'`", label=f"this is {_A[nat]}")  # fmt: skip
    typed = checker.typed(root, target, False, "the expression")
    if typed.type is Type.NULL and kind is not Kind.FILTER and not isinstance(typed, Invalid):
        # `null`, `coalesce(null, null)`…: a NULL of the type the context reads (a `sum` of `null`
        # is a sum of NULL numbers, not of NULL strings).
        typed = dataclasses.replace(typed, type=target)
    if not any(d.is_error for d in checker.diags):
        cost = compiled_cost(typed)
        if cost > limits.max_cost:
            checker.error(root.span, "E009", f"expression too complex to compile: its SQL would have about {cost} "
                          f"elements, at most {limits.max_cost} are allowed", _cost_hint(typed),
                          label="too complex")  # fmt: skip
    diags += checker.diags
    diags.sort(key=lambda d: (d.span[0], d.span[1], d.code))
    if any(d.is_error for d in diags):
        return None, tuple(diags)
    return Expression(source=text, kind=kind, tree=typed), tuple(diags)


def _run(text: Any, kind: Any, schema: Any, expect: Any, limits: Any):
    kind, schema_key, expect, limits, diags = _normalize(text, kind, schema, expect, limits)
    if diags:
        return kind, None, tuple(diags)
    if len(text) > limits.max_length:  # never keep huge strings alive in the cache
        return kind, *_analyze.__wrapped__(text, kind, schema_key, expect, limits)
    return kind, *_analyze(text, kind, schema_key, expect, limits)


def require_type(expression: Expression, want: Type, what: str) -> Expression:
    """`expression` itself when its result can be read as `want`: its root has type `want`, or is
    untyped / `null` (read as `want` already by `parse(..., expect=want)`). Otherwise one
    `ExpressionError` with E304 naming the type found, spanning the root. `what` names the use
    ("the value of a `sum` metric"). A metric's value must be a NUMBER for every aggregation but
    `count` (ignores it) and `unique_count` (any type): SPEC §4."""
    have = expression.tree.type
    if have not in _CONCRETE or have is want:
        return expression
    source, root = expression.source, expression.tree
    hints = {Type.STRING: ("convert it with to_number(…)",),
             Type.BOOLEAN: ("count it as a number with if(condition, 1, 0)",)}.get(have, ())  # fmt: skip
    snippet = " ".join(source[root.span[0] : root.span[1]].split())
    snippet = snippet if len(snippet) <= 30 else snippet[:29] + "…"
    diag = Diagnostic.at(source, root.span, "E304", f"{what} must be {_A[want]}, but `{snippet}` is {_A[have]}",
                         hints=hints, label=f"this is {_A[have]}")  # fmt: skip
    raise ExpressionError([diag], source, str(expression.kind))


def check(text: Any, kind: Any = Kind.FILTER, schema: Any = None, *, expect: Any = None, limits: Any = None) -> list[Diagnostic]:
    """Every diagnostic of `text` as an expression of `kind` (empty: valid). Never raises."""
    try:
        return list(_run(text, kind, schema, expect, limits)[2])
    except Exception as exc:  # a bug of ours: still an answer, never an exception
        return [_diag(text, "E008", f"internal error while checking: {type(exc).__name__}",
                      "this is a bug in meterql; please report it")]  # fmt: skip


def parse(text: Any, kind: Any = Kind.VALUE, *, schema: Any = None, expect: Any = None, limits: Any = None) -> Expression:
    """The typed expression tree of `text`; raises `ExpressionError` carrying every diagnostic."""
    try:
        kind_, expression, diags = _run(text, kind, schema, expect, limits)
    except Exception as exc:
        diags, expression, kind_ = (_diag(text, "E008", f"internal error while checking: {type(exc).__name__}"),), None, kind
    if expression is None:
        raise ExpressionError(diags, text if isinstance(text, str) else "", str(kind_))
    return expression
