"""The expression tree: what `parse` produces and `check`, `evaluate` and `compile` consume.

Pipeline: grammar/meterql.lark → parse (text → tree with spans) → check (names, types, arity →
typed tree + diagnostics) → compile (typed tree → sqlglot) / evaluate (typed tree → Decimal).

Two stages of the same node classes:
- *parsed*: straight from the grammar; every node has `type = Type.ANY`; property references are
  `Property` nodes.
- *typed* (after `check`): every node has its result `type` set, and every `Property` has been
  replaced by a `Read` that says in which context (number / string / boolean) the property is read
  (SPEC §2 "Typing"). Compilers and the evaluator only ever see typed trees.

Nodes are frozen, slotted dataclasses; `span` is (start, end) character offsets into the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Iterator, Union

Span = tuple[int, int]


class Kind(StrEnum):
    """What an expression is for (SPEC §2)."""

    FILTER = "filter"  # must be boolean
    GROUPING_KEY = "grouping_key"  # any scalar
    VALUE = "value"  # the per-event quantity a metric aggregates


class Type(StrEnum):
    NUMBER = "number"  # exact decimal, 12 fractional digits, |x| < 10^26
    STRING = "string"
    BOOLEAN = "boolean"
    NULL = "null"  # the `null` literal: unifies with every type
    ANY = "any"  # not yet typed (parsed tree), or an untyped property before context decides


class FieldName(StrEnum):
    """Reserved event fields (SPEC §2). A reserved name wins over a property of the same name."""

    TIMESTAMP_MILLIS = "timestamp_millis"  # epoch ms, NUMBER
    EVENT_NAME = "event_name"  # STRING (Lago `event.code` too)
    SUBJECT_ID = "subject_id"  # STRING
    EVENT_TIMESTAMP = "event.timestamp"  # Lago: epoch seconds = timestamp_millis / 1000, NUMBER


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    span: Span
    type: Type = Type.ANY

    def children(self) -> tuple["Node", ...]:
        return ()

    def walk(self) -> Iterator["Node"]:
        """Pre-order walk without recursion (trees can be deep)."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children()))


# --- leaves -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Literal(Node):
    """`12`, `1.5`, `'text'`, `true`, `null`. Numbers are exact `Decimal`s (never floats)."""

    value: Decimal | str | bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Property(Node):
    """An event property, by its exact key (`region`, `event.properties.x`, `"my-prop.v2"`)."""

    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Field(Node):
    """A reserved event field."""

    name: FieldName


@dataclass(frozen=True, slots=True, kw_only=True)
class Read(Node):
    """Typed-tree only: property `key` read in the context `type` (NUMBER, STRING or BOOLEAN)."""

    key: str


# --- operators ----------------------------------------------------------------------------------


class UnaryOp(StrEnum):
    NEG = "-"
    NOT = "NOT"


class BinaryOp(StrEnum):
    OR = "OR"
    AND = "AND"
    EQ = "="  # `==` is parsed as EQ
    NE = "!="  # `<>` is parsed as NE
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"


COMPARISONS = frozenset({BinaryOp.EQ, BinaryOp.NE, BinaryOp.LT, BinaryOp.LE, BinaryOp.GT, BinaryOp.GE})
ARITHMETIC = frozenset({BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.MOD})
LOGICAL = frozenset({BinaryOp.AND, BinaryOp.OR})


@dataclass(frozen=True, slots=True, kw_only=True)
class Unary(Node):
    op: UnaryOp
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Binary(Node):
    op: BinaryOp
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True, kw_only=True)
class In(Node):
    """`operand [NOT] IN (items…)`."""

    operand: Node
    items: tuple[Node, ...]
    negated: bool = False

    def children(self) -> tuple[Node, ...]:
        return (self.operand, *self.items)


@dataclass(frozen=True, slots=True, kw_only=True)
class IsNull(Node):
    """`operand IS [NOT] NULL`."""

    operand: Node
    negated: bool = False

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Like(Node):
    """`operand [NOT] LIKE pattern` — `%`, `_`, and backslash escapes (`\\%`, `\\_`, `\\\\`)."""

    operand: Node
    pattern: Node
    negated: bool = False

    def children(self) -> tuple[Node, ...]:
        return (self.operand, self.pattern)


@dataclass(frozen=True, slots=True, kw_only=True)
class Case(Node):
    """`CASE WHEN c THEN r … [ELSE e] END`; `else_` is None when absent (→ NULL)."""

    whens: tuple[tuple[Node, Node], ...]
    else_: Node | None = None

    def children(self) -> tuple[Node, ...]:
        out: list[Node] = []
        for cond, result in self.whens:
            out += (cond, result)
        if self.else_ is not None:
            out.append(self.else_)
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Node):
    """A function call. `name` is lower-cased; `name_span` points at the name in the source.

    In a typed tree `name` is always a registry function (see `meterql.functions`)."""

    name: str
    args: tuple[Node, ...]
    name_span: Span = field(default=(0, 0))

    def children(self) -> tuple[Node, ...]:
        return self.args


Expr = Union[Literal, Property, Field, Read, Unary, Binary, In, IsNull, Like, Case, Call]


@dataclass(frozen=True, slots=True)
class Expression:
    """A checked expression: the source, its kind and its typed tree (what `parse` returns)."""

    source: str
    kind: Kind
    tree: Node

    @property
    def type(self) -> Type:
        return self.tree.type
