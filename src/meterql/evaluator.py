"""The reference evaluator: the executable form of SPEC §2/§3, and the oracle every engine is
tested against.

Consumes: a typed tree (`ast.Node`, after `check`) and one event — a raw event dict
(`event_id`, `subject_id`, `event_name`, `timestamp` as ISO text or epoch ms, `properties` as a
dict or JSON text) or a `values.StoredEvent` (then properties are read from the stored `ps`/`pn`/
`pb` columns, exactly as the engines read them).
Produces: `Decimal | str | bool | None` (None is SQL NULL); a Decimal result is in the normal
form of its canonical text (`Decimal('3')`, never `Decimal('3.000000000000')`).
Guarantees: Decimal arithmetic through `numbers` only (never a float); no recursion (an explicit
stack of generators, so tree depth is bounded by memory, not by Python's recursion limit);
overflow raises `NumericOverflow`; a raw event whose `properties` is not a JSON object, or whose
`timestamp` is read and invalid, raises `values.InvalidEvent`; nothing else is raised for a well-typed tree (an ill-typed one raises
`IllTyped`, a checker bug).

Semantics decided here (README "Semantics"; the compilers must match):
- AND / OR / CASE / if / coalesce evaluate lazily, left to right (`FALSE AND x` never evaluates
  `x`), as the engines' short-circuit evaluation does; an overflow in a branch that is not taken
  is not an error. Whether an engine raises for a dead branch is unspecified by the contract.
- LIKE: `%` any run of characters (also newlines), `_` exactly one character (code point), a
  backslash makes the next character literal whatever it is (`\\%`, `\\_`, `\\\\`, and `\\a` is
  `a`), a trailing lone backslash is a literal backslash. Case-sensitive, whole string.
  The checker rejects `\\a` and a trailing `\\` in a *literal* pattern; the rule matters for
  patterns read from properties. (Observed: DuckDB with ESCAPE '\\' and ClickHouse agree on `\\%`,
  `\\_`, `\\\\`; they disagree on `\\a` — DuckDB `a`, ClickHouse `\\a` — and both *raise* on a
  trailing backslash, so compilers normalise patterns to the three agreed escapes.)
- lower / upper map ASCII letters only. DuckDB lower/upper use Unicode simple case mapping
  ('ß' → 'ẞ'), ClickHouse lowerUTF8/upperUTF8 full mapping ('ß' → 'SS', 'İ' → 'i̇', final σ → ς):
  no Unicode rule is common to both, ASCII is (ClickHouse lower/upper, DuckDB translate).
- length counts code points. least / greatest ignore NULLs (NULL only when all are NULL), as
  both engines do (DuckDB 2.0, ClickHouse 26.9).
- The time floors take the floor of a fractional argument first, then floor on the proleptic
  Gregorian calendar in UTC, for any integer (before 1970 too).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache
from typing import Any, Generator, Mapping

from . import numbers
from .ast import (
    Binary,
    BinaryOp,
    Call,
    Case,
    Field,
    FieldName,
    In,
    IsNull,
    Like,
    Literal,
    Node,
    Property,
    Read,
    Type,
    Unary,
    UnaryOp,
)
from .values import StoredEvent, parse_timestamp, properties_of, read_boolean, read_number, read_string

Value = Decimal | str | bool | None

MS_HOUR = 3_600_000
MS_DAY = 86_400_000
MS_WEEK = 7 * MS_DAY
_MONDAY0 = -3 * MS_DAY  # 1969-12-29T00:00Z, the Monday before the epoch (a Thursday)


class IllTyped(TypeError):
    """The tree is not a well-typed tree from `check` (a checker bug, never user input)."""


# --- event views --------------------------------------------------------------------------------


class _RawView:
    """Reads a raw event dict with the SPEC §2 context rules (`values.read_*`)."""

    __slots__ = ("_event", "_props", "_ts")

    def __init__(self, event: Mapping[str, Any]) -> None:
        self._event = event
        self._props: Mapping[str, Any] = properties_of(event)
        self._ts: int | None = None

    def number(self, key: str) -> Decimal | None:
        return read_number(self._props.get(key))

    def string(self, key: str) -> str | None:
        return read_string(self._props.get(key))

    def boolean(self, key: str) -> bool | None:
        return read_boolean(self._props.get(key))

    def ts(self) -> int | None:
        if self._ts is None:
            raw = self._event.get("timestamp")
            if raw is None:
                return None
            self._ts = parse_timestamp(raw)
        return self._ts

    def text_field(self, name: str) -> str | None:
        v = self._event.get(name)
        return v if isinstance(v, str) else None


class _StoredView:
    """Reads a `StoredEvent` from its stored context columns, as the engines do."""

    __slots__ = ("_e",)

    def __init__(self, event: StoredEvent) -> None:
        self._e = event

    def number(self, key: str) -> Decimal | None:
        text = self._e.pn.get(key)
        return None if text is None else Decimal(text)

    def string(self, key: str) -> str | None:
        return self._e.ps.get(key)

    def boolean(self, key: str) -> bool | None:
        return self._e.pb.get(key)

    def ts(self) -> int | None:
        return self._e.ts

    def text_field(self, name: str) -> str | None:
        return getattr(self._e, name)


# --- value helpers ------------------------------------------------------------------------------


def as_string(v: Value) -> str | None:
    """String form of a value: numbers as canonical text, booleans as 'true'/'false'."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return numbers.canonical(v)


def _number(v: Value) -> Decimal | None:
    if v is None or (isinstance(v, Decimal)):
        return v
    raise IllTyped(f"expected a number, got {v!r}")


def _family(v: Value) -> type:
    # bool before Decimal: `Decimal(1) == True` holds in Python, never in meterql.
    return bool if isinstance(v, bool) else type(v)


def _compare(a: Value, b: Value) -> int:
    if _family(a) is not _family(b):
        raise IllTyped(f"cannot compare {a!r} with {b!r}")
    return (a > b) - (a < b)  # type: ignore[operator]  # str: code point order = UTF-8 byte order


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")

_ANY_ONE = object()  # `_`
_ANY_RUN = object()  # `%`


@lru_cache(maxsize=1024)
def _like_tokens(pattern: str) -> tuple[object, ...]:
    out: list[object] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i + 1] if i + 1 < len(pattern) else "\\")
            i += 2
            continue
        if ch == "%":
            if not out or out[-1] is not _ANY_RUN:  # `%%` is `%`
                out.append(_ANY_RUN)
        else:
            out.append(_ANY_ONE if ch == "_" else ch)
        i += 1
    return tuple(out)


def like(s: str, pattern: str) -> bool:
    """SQL LIKE (rules in the module docstring). Greedy wildcard matching with backtracking to the
    last `%` only: O(len(s) × len(pattern)) worst case, never exponential."""
    toks = _like_tokens(pattern)
    i = j = 0
    star, mark = -1, 0
    n, m = len(s), len(toks)
    while i < n:
        if j < m and toks[j] is not _ANY_RUN and (toks[j] is _ANY_ONE or toks[j] == s[i]):
            i += 1
            j += 1
        elif j < m and toks[j] is _ANY_RUN:
            star, mark = j, i
            j += 1
        elif star >= 0:
            mark += 1
            i, j = mark, star + 1
        else:
            return False
    while j < m and toks[j] is _ANY_RUN:
        j += 1
    return j == m


# --- time floors (proleptic Gregorian, any integer) ---------------------------------------------


def _civil_from_days(z: int) -> tuple[int, int, int]:
    # Howard Hinnant's algorithm; exact for every integer day count.
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (m <= 2), m, d)


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def floor_ms(ms: int, unit: str) -> int:
    """Start (epoch ms, UTC) of the hour / day / week (Monday) / month containing `ms`."""
    if unit == "hour":
        return ms - ms % MS_HOUR  # Python's % floors: a true floor before 1970 too
    if unit == "day":
        return ms - ms % MS_DAY
    if unit == "week":
        return ms - (ms - _MONDAY0) % MS_WEEK
    if unit == "month":
        y, m, _ = _civil_from_days(ms // MS_DAY)
        return _days_from_civil(y, m, 1) * MS_DAY
    raise ValueError(f"unknown time unit {unit!r}")


_FLOORS = {
    "hour_floor_timestamp_millis": "hour",
    "day_floor_timestamp_millis": "day",
    "week_floor_timestamp_millis": "week",
    "month_floor_timestamp_millis": "month",
}


# --- the evaluator ------------------------------------------------------------------------------

Step = Generator[Node, Value, Value]


def _eval(node: Node, ev: _RawView | _StoredView) -> Step:  # noqa: C901 — one case per node kind
    """One node's evaluation: yields child nodes to be evaluated, receives their values."""
    match node:
        case Literal():
            return node.value
        case Read() | Property():
            key = node.key
            if node.type is Type.NUMBER:
                n = ev.number(key)
                return None if n is None else numbers.check_range(n)
            if node.type is Type.BOOLEAN:
                return ev.boolean(key)
            return ev.string(key)  # STRING (and an untyped property read as text)
        case Field():
            if node.name is FieldName.TIMESTAMP_MILLIS:
                ts = ev.ts()
                return None if ts is None else Decimal(ts)
            if node.name is FieldName.EVENT_TIMESTAMP:
                ts = ev.ts()
                return None if ts is None else Decimal(ts).scaleb(-3)
            return ev.text_field(node.name.value)
        case Unary(op=UnaryOp.NOT):
            v = yield node.operand
            return None if v is None else not v
        case Unary(op=UnaryOp.NEG):
            v = _number((yield node.operand))
            return None if v is None else numbers.CTX.minus(v)
        case Binary(op=BinaryOp.AND):
            left = yield node.left
            if left is False:
                return False
            right = yield node.right
            if right is False:
                return False
            return None if left is None or right is None else True
        case Binary(op=BinaryOp.OR):
            left = yield node.left
            if left is True:
                return True
            right = yield node.right
            if right is True:
                return True
            return None if left is None or right is None else False
        case Binary():
            left = yield node.left
            right = yield node.right
            return _binary(node.op, left, right)
        case In():
            v = yield node.operand
            if v is None:
                return None
            saw_null = False
            for item in node.items:
                x = yield item
                if x is None:
                    saw_null = True
                elif _compare(v, x) == 0:
                    return not node.negated
            return None if saw_null else node.negated
        case IsNull():
            v = yield node.operand
            return (v is None) != node.negated
        case Like():
            s = as_string((yield node.operand))
            p = as_string((yield node.pattern))
            if s is None or p is None:
                return None
            return like(s, p) != node.negated
        case Case():
            for cond, result in node.whens:
                c = yield cond
                if c is True:
                    return (yield result)
            return None if node.else_ is None else (yield node.else_)
        case Call():
            return (yield from _call(node))
    raise IllTyped(f"cannot evaluate node {type(node).__name__}")


def _binary(op: BinaryOp, left: Value, right: Value) -> Value:
    if left is None or right is None:
        return None
    match op:
        case BinaryOp.EQ:
            return _compare(left, right) == 0
        case BinaryOp.NE:
            return _compare(left, right) != 0
        case BinaryOp.LT:
            return _compare(left, right) < 0
        case BinaryOp.LE:
            return _compare(left, right) <= 0
        case BinaryOp.GT:
            return _compare(left, right) > 0
        case BinaryOp.GE:
            return _compare(left, right) >= 0
    a, b = _number(left), _number(right)
    assert a is not None and b is not None
    match op:
        case BinaryOp.ADD:
            return numbers.add(a, b)
        case BinaryOp.SUB:
            return numbers.sub(a, b)
        case BinaryOp.MUL:
            return numbers.mul(a, b)
        case BinaryOp.DIV:
            return numbers.div(a, b)
        case BinaryOp.MOD:
            return numbers.mod(a, b)
    raise IllTyped(f"unknown operator {op!r}")


def _digits(v: Value) -> int:
    if not isinstance(v, Decimal) or v != v.to_integral_value() or not -12 <= v <= 12:
        raise IllTyped(f"digits must be an integer from -12 to 12, got {v!r}")
    return int(v)


def _call(node: Call) -> Step:  # noqa: C901 — one case per registry function
    name, args = node.name, node.args
    match name:
        case "round" | "ceil" | "floor":
            x = _number((yield args[0]))
            d = _digits((yield args[1])) if len(args) > 1 else 0
            return None if x is None else numbers.round_to(x, d, name)
        case "abs":
            x = _number((yield args[0]))
            return None if x is None else numbers.CTX.abs(x)
        case "least" | "greatest":
            best: Value = None
            for a in args:
                v = yield a
                if v is None:
                    continue
                if best is None:
                    best = v
                    continue
                c = _compare(v, best)
                if c < 0 if name == "least" else c > 0:
                    best = v
            return best
        case "coalesce":
            for a in args:
                v = yield a
                if v is not None:
                    return v
            return None
        case "if":
            c = yield args[0]
            return (yield args[1]) if c is True else (yield args[2])
        case "concat":
            parts: list[str] = []
            for a in args:
                parts.append(as_string((yield a)) or "")
            return "".join(parts)
        case "lower" | "upper":
            s = as_string((yield args[0]))
            if s is None:
                return None
            return s.translate(_ASCII_LOWER if name == "lower" else _ASCII_UPPER)
        case "length":
            s = as_string((yield args[0]))
            return None if s is None else Decimal(len(s))
        case "to_number":
            v = yield args[0]
            if v is None or isinstance(v, bool):
                return None
            if isinstance(v, Decimal):
                return v
            n = numbers.parse_number_text(v)
            return None if n is None else numbers.check_range(n)
        case "to_string":
            return as_string((yield args[0]))
        case _ if name in _FLOORS:
            x = _number((yield args[0]))
            if x is None:
                return None
            ms = int(x.to_integral_value(rounding=ROUND_FLOOR, context=numbers.CTX))
            return numbers.check_range(Decimal(floor_ms(ms, _FLOORS[name])))
    raise IllTyped(f"unknown function {name!r}")


def _view(event: Mapping[str, Any] | StoredEvent) -> _RawView | _StoredView:
    return _StoredView(event) if isinstance(event, StoredEvent) else _RawView(event)


def evaluate_tree(tree: Node, event: Mapping[str, Any] | StoredEvent) -> Value:
    """The value of a typed tree on one event (raw dict or `StoredEvent`); None is NULL.

    Raises `NumericOverflow` when a value reaches 10^26 in magnitude."""
    if hasattr(tree, "tree") and not isinstance(tree, Node):  # an ast.Expression
        tree = tree.tree  # type: ignore[attr-defined]
    ev = _view(event)
    stack: list[Step] = [_eval(tree, ev)]
    value: Value = None
    while stack:
        try:
            child = stack[-1].send(value)
        except StopIteration as done:
            stack.pop()
            value = done.value
            continue
        stack.append(_eval(child, ev))
        value = None
    if isinstance(value, Decimal):
        value = Decimal(numbers.canonical(value))  # Decimal('3'), not Decimal('3.000000000000')
    return value


def evaluate(text: str, event: Mapping[str, Any] | StoredEvent, kind: str = "value") -> Value:
    """Parse and check `text` as `kind` (raises `ExpressionError`), then evaluate it on `event`.

    `event` is an event dict (SPEC §1: `event_id`, `subject_id`, `event_name`, `timestamp`,
    `properties`). For convenience a dict with no `properties` key is read as flat: its keys other
    than the reserved event fields are the properties (`evaluate("tokens * 2", {"tokens": 3})`)."""
    from .checker import parse  # lazy: the checker builds the Lark parser

    if isinstance(event, Mapping) and "properties" not in event:
        flat = {k: v for k, v in event.items() if k not in _EVENT_FIELDS}
        event = {**{k: v for k, v in event.items() if k in _EVENT_FIELDS}, "properties": flat}
    return evaluate_tree(parse(text, kind).tree, event)


_EVENT_FIELDS = frozenset({"event_id", "subject_id", "event_name", "timestamp"})
