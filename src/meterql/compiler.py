"""Compile: typed expression tree → one sqlglot expression over the event-store columns.

Consumes: a *typed* tree from `meterql.checker.parse` (`ast.Expression` or its root `ast.Node`) and a
dialect name (`"duckdb"` | `"clickhouse"`).
Produces: `compile_tree(tree, dialect, *, as_type=None) -> sqlglot.exp.Expression` over the
columns `ts`, `event_name`, `subject_id`, `ps`, `pn`, `pb` of DESIGN.md, and
`compile_sql(text, kind, dialect) -> str` (parse + compile + render once; cached), and
`render(expr, dialect) -> str` — render any sqlglot tree that embeds compiled expressions through
it: deep compiled trees need more than Python's default recursion limit in sqlglot's generator
(45 nested divisions on ClickHouse did), and `render` provides it, temporarily.
Guarantees:
- the semantics of SPEC §2/§3 and of the reference evaluator (`meterql.evaluator`), value for
  value, on both engines (tests/test_differential.py holds them to it);
- one dialect-neutral driver: the walk below knows the language, `meterql.dialects.*` knows the
  engines; every sqlglot node is built in `meterql.dialects`;
- customer text reaches SQL only as escaped string literals (strings, property keys, LIKE
  regexes) or as typed decimals built from `Decimal`s; function names come from the registry
  mapped through trusted tables; an unknown node or function raises at compile time;
- the rendered SQL is produced once per dialect with `expr.sql(dialect=...)`, never re-transpiled.

Type conversions the checker leaves to the backends (checker.py docstring): a NUMBER or BOOLEAN
argument in a STRING parameter (concat, lower, upper, length, LIKE, to_string) becomes its
canonical text; `null` (Type.NULL) becomes a NULL of the type its position needs.
"""

from __future__ import annotations

import functools
import sys
from decimal import Decimal

from sqlglot import exp

from . import ast
from .ast import BinaryOp, FieldName, Kind, Node, Type, UnaryOp
from .dialects import CompileError, Dialect, dialect as make_dialect
from .diagnostics import Diagnostic, ExpressionError
from .functions import REGISTRY

_FLOORS = {
    "hour_floor_timestamp_millis": "hour",
    "day_floor_timestamp_millis": "day",
    "week_floor_timestamp_millis": "week",
    "month_floor_timestamp_millis": "month",
}

# sqlglot renders (and we build) trees recursively. Limits.max_depth (48) keeps customer trees
# shallow; each level becomes a few sqlglot levels (Paren, lambdas, range checks), so rendering
# gets a roomier recursion limit than Python's default, temporarily and on this thread only.
_RENDER_RECURSION = 20_000
# A compiled expression larger than this (in sqlglot nodes) is refused as too complex: it would
# also pass ClickHouse's max_query_size / max_parser_depth only to be slow everywhere.
MAX_COMPILED_NODES = 20_000


class _Compiler:
    """One compilation: walks the typed tree, asks the dialect for each operation."""

    def __init__(self, d: Dialect) -> None:
        self.d = d

    # -- entry -----------------------------------------------------------------------------------
    def value(self, node: Node, want: Type | None = None) -> exp.Expression:
        """`node` compiled and converted to `want` (its own type when None)."""
        if node.type is Type.NULL or (isinstance(node, ast.Literal) and node.value is None):
            if want in (None, Type.NULL, Type.ANY):
                want = node.type if node.type in (Type.NUMBER, Type.STRING, Type.BOOLEAN) else Type.STRING
            return self.d.typed_null(_type_name(want))
        out = self.node(node)
        have = node.type
        if want is None or want is have or want is Type.ANY:
            return out
        if want is Type.STRING and have is Type.NUMBER:
            return self.d.number_text(out)
        if want is Type.STRING and have is Type.BOOLEAN:
            return self.d.bool_text(out)
        raise CompileError(f"cannot convert {have} to {want} at {node.span}")

    def bool_value(self, node: Node, want: Type | None) -> exp.Expression:
        """A value in a value position (CASE result, if/coalesce/least argument): booleans
        computed by operators are normalised to the dialect's BOOLEAN type."""
        out = self.value(node, want)
        if (want or node.type) is Type.BOOLEAN and node.type is Type.BOOLEAN:
            return self.d.boolean_value(out)
        return out

    # -- the walk ----------------------------------------------------------------------------------
    def node(self, node: Node) -> exp.Expression:  # noqa: C901 — one case per node kind
        d = self.d
        match node:
            case ast.Literal(value=bool() as b):
                return d.boolean(b)
            case ast.Literal(value=Decimal() as n):
                return d.number(n)
            case ast.Literal(value=str() as s):
                return d.string(s)
            case ast.Read(type=Type.NUMBER):
                return d.read_number(node.key)
            case ast.Read(type=Type.STRING):
                return d.read_string(node.key)
            case ast.Read(type=Type.BOOLEAN):
                return d.read_boolean(node.key)
            case ast.Field(name=FieldName.TIMESTAMP_MILLIS):
                return d.field_ts()
            case ast.Field(name=FieldName.EVENT_TIMESTAMP):
                return d.field_seconds()
            case ast.Field(name=FieldName.EVENT_NAME | FieldName.SUBJECT_ID):
                return d.column(node.name.value)
            case ast.Unary(op=UnaryOp.NEG):
                return d.neg(self.value(node.operand, Type.NUMBER))
            case ast.Unary(op=UnaryOp.NOT):
                return d.not_(self.value(node.operand, Type.BOOLEAN))
            case ast.Binary():
                return self.binary(node)
            case ast.In():
                t = _unified([node.operand, *node.items])
                items = [self.bool_value(i, t) for i in node.items]
                return d.in_(self.bool_value(node.operand, t), items, node.negated)
            case ast.IsNull():
                return d.is_null(self.value(node.operand), node.negated)
            case ast.Like():
                s = self.value(node.operand, Type.STRING)
                p = node.pattern
                if isinstance(p, ast.Literal) and isinstance(p.value, str):
                    return d.like(s, p.value, node.negated)
                if isinstance(p, ast.Literal) and p.value is None:
                    return d.typed_null("boolean")
                return d.like(s, self.value(p, Type.STRING), node.negated)
            case ast.Case():
                t = node.type
                whens = [(self.value(c, Type.BOOLEAN), self.bool_value(r, t)) for c, r in node.whens]
                default = None if node.else_ is None else self.bool_value(node.else_, t)
                if default is None and t in (Type.NUMBER, Type.STRING, Type.BOOLEAN):
                    default = d.typed_null(_type_name(t))
                return d.case(whens, default)
            case ast.Call():
                return self.call(node)
        raise CompileError(f"cannot compile node {type(node).__name__} of type {node.type}")

    def binary(self, node: ast.Binary) -> exp.Expression:
        d, op = self.d, node.op
        if op in ast.ARITHMETIC:
            a, b = self.value(node.left, Type.NUMBER), self.value(node.right, Type.NUMBER)
            match op:
                case BinaryOp.ADD:
                    return d.add(a, b)
                case BinaryOp.SUB:
                    return d.sub(a, b)
                case BinaryOp.MUL:
                    return d.mul(a, b)
                case BinaryOp.DIV:
                    return d.div(a, b)
                case BinaryOp.MOD:
                    return d.mod(a, b)
        if op in ast.LOGICAL:
            a, b = self.value(node.left, Type.BOOLEAN), self.value(node.right, Type.BOOLEAN)
            return d.and_(a, b) if op is BinaryOp.AND else d.or_(a, b)
        if op in ast.COMPARISONS:
            t = _unified([node.left, node.right])
            return d.compare(op.value, self.bool_value(node.left, t), self.bool_value(node.right, t))
        raise CompileError(f"unknown operator {op!r}")

    def call(self, node: ast.Call) -> exp.Expression:  # noqa: C901 — one case per registry function
        d, name, args = self.d, node.name, node.args
        if name not in REGISTRY:
            raise CompileError(f"unknown function {name!r}")
        match name:
            case "round" | "ceil" | "floor":
                digits = _digits(args[1]) if len(args) > 1 else 0
                return d.rounding(name, self.value(args[0], Type.NUMBER), digits)
            case "abs":
                return d.call("abs", [self.value(args[0], Type.NUMBER)])
            case "least" | "greatest":
                t = node.type
                vals = [self.bool_value(a, t) for a in args]
                return d.call(name, vals) if len(vals) > 1 else vals[0]
            case "coalesce":
                t = node.type
                vals = [self.bool_value(a, t) for a in args]
                return d.call("coalesce", vals) if len(vals) > 1 else vals[0]
            case "if":
                t = node.type
                return d.case([(self.value(args[0], Type.BOOLEAN), self.bool_value(args[1], t))],
                              self.bool_value(args[2], t))
            case "concat":
                return d.concat([self.value(a, Type.STRING) for a in args])
            case "lower":
                return d.lower(self.value(args[0], Type.STRING))
            case "upper":
                return d.upper(self.value(args[0], Type.STRING))
            case "length":
                return d.length(self.value(args[0], Type.STRING))
            case "to_number":
                a = args[0]
                if a.type is Type.NUMBER:
                    return self.value(a)
                if a.type in (Type.BOOLEAN, Type.NULL):
                    return d.typed_null("number")  # the reference: booleans are not numbers
                return d.to_number(self.value(a, Type.STRING))
            case "to_string":
                return self.value(args[0], Type.STRING)
            case _ if name in _FLOORS:
                return d.floor_ms(_FLOORS[name], self.value(args[0], Type.NUMBER))
        raise CompileError(f"no translation for function {name!r}")


def _type_name(t: Type) -> str:
    if t in (Type.NUMBER, Type.STRING, Type.BOOLEAN):
        return t.value
    raise CompileError(f"no SQL type for {t}")


def _unified(nodes: list[Node]) -> Type | None:
    types = {n.type for n in nodes} - {Type.NULL}
    if len(types) > 1:
        raise CompileError(f"operands of different types: {sorted(types)}")
    return types.pop() if types else None


def _digits(node: Node) -> int:
    if isinstance(node, ast.Literal) and isinstance(node.value, Decimal):
        v = node.value
        if v == v.to_integral_value() and -12 <= v <= 12:
            return int(v)
    raise CompileError("the digits argument must be an integer literal from -12 to 12")


def _count_nodes(e: exp.Expression, cap: int) -> int:
    n = 0
    for _ in e.walk():  # sqlglot's walk is iterative (BFS)
        n += 1
        if n > cap:
            break
    return n


def _too_complex(tree: Node, source: str, kind: str) -> ExpressionError:
    diag = Diagnostic.at(source, tree.span, "E004", "expression too complex to compile",
                         hints=("split it, or use fewer nested products / divisions",))
    return ExpressionError([diag], source, kind)


def _internal(tree: Node, source: str, kind: str, exc: Exception) -> ExpressionError:
    diag = Diagnostic.at(source, tree.span, "E008", f"internal error: cannot compile this expression ({exc})")
    return ExpressionError([diag], source, kind)


class _Recursion:
    """Temporarily raise the recursion limit (sqlglot's builder and generator recurse)."""

    def __enter__(self) -> None:
        self.old = sys.getrecursionlimit()
        if self.old < _RENDER_RECURSION:
            sys.setrecursionlimit(_RENDER_RECURSION)

    def __exit__(self, *exc: object) -> None:
        if sys.getrecursionlimit() != self.old:
            sys.setrecursionlimit(self.old)


def compile_tree(tree: ast.Expression | Node, dialect: str, *, as_type: Type | None = None) -> exp.Expression:
    """The sqlglot expression of a typed tree for `dialect` ("duckdb" | "clickhouse").

    `as_type=Type.STRING` converts the result to canonical text (grouping keys, unique counts).
    Raises `ExpressionError` (E004 too complex, E008 internal) — never a sqlglot error."""
    source, kind = "", "expression"
    if isinstance(tree, ast.Expression):
        source, kind, tree = tree.source, str(tree.kind), tree.tree
    d = make_dialect(dialect)
    try:
        with _Recursion():
            out = _Compiler(d).value(tree, as_type)
    except CompileError as exc:
        raise _internal(tree, source, kind, exc) from None
    except RecursionError:
        raise _too_complex(tree, source, kind) from None
    # The checker's `compiled_cost` bounds the size from above (Limits.max_cost, E009); counting
    # is only needed for trees checked under larger limits.
    from .checker import compiled_cost

    if compiled_cost(tree) > MAX_COMPILED_NODES and _count_nodes(out, MAX_COMPILED_NODES) > MAX_COMPILED_NODES:
        raise _too_complex(tree, source, kind)
    return out


def render(expr: exp.Expression, dialect: str, *, pretty: bool = False, copy: bool = False) -> str:
    """The SQL text of a compiled expression (or of any tree embedding compiled expressions),
    rendered for `dialect`. The only place SQL text is produced: raises `ExpressionError` (E004),
    never RecursionError. `copy=True` when `expr` is kept and rendered again (sqlglot's generator
    may rewrite the tree it renders)."""
    try:
        with _Recursion():
            # copy=False: sqlglot deep-copies the whole tree before generating by default, which
            # was half of a compile. Trees from compile_tree are fresh and used once here.
            return expr.sql(dialect=dialect, copy=copy, pretty=pretty)
    except RecursionError:
        diag = Diagnostic.at("", (0, 0), "E004", "expression too complex to compile")
        raise ExpressionError([diag]) from None


@functools.lru_cache(maxsize=4096)
def _compile_sql(text: str, kind: Kind, dialect: str, as_type: Type | None) -> str:
    from .checker import parse

    expression = parse(text, kind)
    return render(compile_tree(expression, dialect, as_type=as_type), dialect)


def compile_sql(text: str, kind: str | Kind = Kind.FILTER, dialect: str = "duckdb", *, as_type: Type | None = None) -> str:
    """Parse, check and compile `text` as `kind`; the SQL text for `dialect`. Cached (LRU).
    Raises `ExpressionError` for a bad expression, `ValueError` for an unknown dialect/kind."""
    if dialect not in ("duckdb", "clickhouse"):
        raise ValueError(f"unknown dialect {dialect!r} (expected 'duckdb' or 'clickhouse')")
    return _compile_sql(text, Kind(kind), dialect, as_type)
