"""What every SQL dialect provides to the compiler, and the sqlglot node builders they share.

Consumes: already-compiled sqlglot children (from `meterql.compiler`) and small trusted values
(Decimal literals, property keys, registry function names).
Produces: sqlglot expressions for one operation of the typed tree (SPEC §2/§3 semantics).
Guarantees:
- every sqlglot node of compiled SQL is built in this package (`meterql.dialects`), so a sqlglot
  upgrade touches these files only;
- customer text reaches a node only through `exp.Literal.string` (string literals, property keys)
  or as the text of a typed decimal built from a `Decimal` (never `exp.Literal.number` of
  untrusted text); function names come only from the dialect tables below (trusted constants);
- composite children are wrapped in `exp.Paren` (hand-built trees get no automatic parentheses,
  HAZARDS "sqlglot: building trees by hand");
- a missing translation raises `CompileError` at compile time, never a warehouse error.

The base class holds the logic both engines share (3-valued logic, CASE, IN as an OR chain,
LIKE → RE2 full match, canonical number text, true floors on epoch ms); `duckdb.py` and
`clickhouse.py` override the few operations that differ (decimal types and literals, `*`, `/`,
`%`, range checks, function names). Differences are data first (`FUNCTIONS`), overrides second.
"""

from __future__ import annotations

import functools

import itertools
from decimal import Decimal
from typing import Callable, ClassVar

from sqlglot import exp


# The one text every overflow raised by *our* SQL carries (ClickHouse `throwIf`, the DuckDB
# division UDF). The engine layer maps errors containing it — or a native overflow message of
# `Dialect.OVERFLOW_PATTERNS` — to `meterql.errors.NumericOverflow`.
OVERFLOW_MARKER = "meterql: numeric overflow"

LIMIT_TEXT = "100000000000000000000000000"  # 10^26: |x| must stay below (SPEC §3)

# SPEC §2 numeric-string grammar, ASCII digits only, anchored for RE2 full matching.
NUMERIC_STRING_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"

MS_HOUR = 3_600_000
MS_DAY = 86_400_000
MS_WEEK = 7 * MS_DAY
MONDAY0 = -3 * MS_DAY  # 1969-12-29T00:00Z: the Monday before the epoch (a Thursday)

_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


class CompileError(Exception):
    """A typed tree the compiler cannot translate (a checker/compiler bug, never user input).
    `meterql.compiler` turns it into an `ExpressionError` with code E008."""


def like_to_regex(pattern: str) -> str:
    """A LIKE pattern (SPEC §2; rules of `meterql.evaluator.like`) as an anchored RE2 regex.

    `%` → any run (also newlines: `(?s)`), `_` → one code point, backslash makes the next
    character literal (`\\a` is `a`), a trailing lone backslash is a literal backslash."""
    out = ["(?s)^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            lit = pattern[i + 1] if i + 1 < len(pattern) else "\\"
            out.append("\\" + lit if lit in _RE2_SPECIAL else lit)
            i += 2
            continue
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append("\\" + ch if ch in _RE2_SPECIAL else ch)
        i += 1
    out.append("$")
    return "".join(out)


# --- small node builders (the only way the dialects build sqlglot nodes) ------------------------

INTEGER_COLUMN = "meterql_integer_column"  # sqlglot node meta: this NUMBER is an integer column

_ATOMIC = (exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Identifier)


def paren(e: exp.Expression) -> exp.Expression:
    """`e` wrapped in parentheses unless it is atomic (a column, a literal, a call)."""
    if isinstance(e, _ATOMIC) or (isinstance(e, (exp.Anonymous, exp.Cast, exp.Bracket)) and not isinstance(e, exp.Connector)):
        return e
    return exp.Paren(this=e)


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    """A call of a trusted function name (a constant of this package, never customer text)."""
    return exp.Anonymous(this=name, expressions=list(args))


def string(s: str) -> exp.Expression:
    return exp.Literal.string(s)


def integer(n: int) -> exp.Expression:
    """An integer literal from a Python int (trusted: its text is produced by `str(int)`)."""
    assert isinstance(n, int) and not isinstance(n, bool)
    lit = exp.Literal.number(str(abs(n)))
    return exp.Neg(this=lit) if n < 0 else lit


def col(name: str) -> exp.Expression:
    return exp.column(exp.to_identifier(name))


def subscript(container: exp.Expression, key: exp.Expression) -> exp.Expression:
    # offset=1: sqlglot must not shift the index (it adds the dialect INDEX_OFFSET otherwise).
    return exp.Bracket(this=container, expressions=[key], offset=1)


@functools.lru_cache(maxsize=None)
def _dtype_proto(text: str, dialect: str) -> exp.DataType:
    return exp.DataType.build(text, dialect=dialect)  # trusted constant type text only


def cast_to(e: exp.Expression, type_text: str, dialect: str) -> exp.Expression:
    """CAST(e AS type_text) for `dialect`. DataType.build runs sqlglot's parser (~30% of a compile
    when done per CAST), so each type is built once and copied."""
    return exp.Cast(this=paren(e), to=_dtype_proto(type_text, dialect).copy())


def binop(cls: type, a: exp.Expression, b: exp.Expression) -> exp.Expression:
    return cls(this=paren(a), expression=paren(b))


def case(whens: list[tuple[exp.Expression, exp.Expression]], default: exp.Expression | None) -> exp.Expression:
    node = exp.Case(ifs=[exp.If(this=paren(c), true=paren(r)) for c, r in whens])
    if default is not None:
        node.set("default", paren(default))
    return node


class Dialect:
    """One SQL engine's translation of the typed-tree operations. Subclasses fill the tables."""

    NAME: ClassVar[str]  # "duckdb" | "clickhouse" — also the sqlglot dialect name
    # registry function → engine function name, where a plain call is the translation.
    FUNCTIONS: ClassVar[dict[str, str]] = {}
    # Substrings of native engine error messages that mean "numeric overflow" (besides the marker).
    OVERFLOW_PATTERNS: ClassVar[tuple[str, ...]] = ()
    REGEX_FULL_MATCH: ClassVar[str]  # name of the RE2 match function
    REGEX_REPLACE: ClassVar[str]  # name of the RE2 replace-first function

    def __init__(self) -> None:
        self._names = itertools.count(1)

    # --- leaves and plain calls ---------------------------------------------------------------
    def boolean(self, b: bool) -> exp.Expression:
        return exp.Boolean(this=b)

    def string(self, s: str) -> exp.Expression:
        return string(s)  # escaped by sqlglot for the dialect (C escapes backslash, D does not)

    def column(self, name: str) -> exp.Expression:
        assert name in ("event_name", "subject_id", "ts"), name  # event-store columns only
        return col(name)

    def call(self, name: str, args: list[exp.Expression]) -> exp.Expression:
        """A registry function that is a plain engine call (abs, least, greatest, coalesce)."""
        return fn(self.FUNCTIONS[name], *args)

    # --- types and literals (overridden) --------------------------------------------------------
    def number(self, value: Decimal) -> exp.Expression:
        raise NotImplementedError

    def typed_null(self, type_name: str) -> exp.Expression:
        raise NotImplementedError

    def to_decimal(self, e: exp.Expression) -> exp.Expression:
        """An integer-valued or numeric-text expression as a NUMBER (exact, no range check)."""
        raise NotImplementedError

    def check_range(self, e: exp.Expression) -> exp.Expression:
        """`e` unchanged, but fail the query when |e| ≥ 10^26. Identity where the engine's
        NUMBER type already fails natively."""
        return e

    def boolean_value(self, e: exp.Expression) -> exp.Expression:
        """A boolean computed by an operator, as a value of the dialect's BOOLEAN type."""
        return e

    # --- binding: use a value several times without duplicating its SQL --------------------------
    def bind(self, value: exp.Expression, body: Callable[[exp.Expression], exp.Expression], *,
             force: bool = False) -> exp.Expression:
        """`body(v)` where `v` stands for `value`. Atomic values are repeated as they are;
        others are bound once through a one-element array and a lambda, so nested operations
        grow the SQL linearly, not exponentially."""
        if self._is_cheap(value) and not force:
            return body(value)
        name = f"_mq_v{next(self._names)}"
        ref = exp.column(exp.to_identifier(name))
        lam = exp.Lambda(this=body(ref), expressions=[exp.to_identifier(name)])
        return subscript(fn(self.ARRAY_MAP, exp.Array(expressions=[value]), lam) if self.MAP_ARRAY_FIRST
                         else fn(self.ARRAY_MAP, lam, exp.Array(expressions=[value])), integer(1))

    ARRAY_MAP: ClassVar[str]
    MAP_ARRAY_FIRST: ClassVar[bool]

    @staticmethod
    def _is_cheap(e: exp.Expression) -> bool:
        if isinstance(e, (exp.Column, exp.Literal, exp.Null, exp.Boolean)):
            return True
        if isinstance(e, exp.Bracket) and isinstance(e.this, exp.Column):
            return all(isinstance(k, exp.Literal) for k in e.expressions)
        if isinstance(e, (exp.Cast, exp.Anonymous)):  # typed literal: CAST('1.5' …) / toDecimal256('1.5', 12)
            args = [e.this] if isinstance(e, exp.Cast) else list(e.expressions)
            return all(isinstance(a, (exp.Literal, exp.Column)) for a in args)  # or CAST(ts AS INT128)
        return False

    # --- property reads ----------------------------------------------------------------------------
    def read_number(self, key: str) -> exp.Expression:
        return self.check_range(self.to_decimal(subscript(col("pn"), string(key))))

    def read_string(self, key: str) -> exp.Expression:
        return subscript(col("ps"), string(key))

    def read_boolean(self, key: str) -> exp.Expression:
        return subscript(col("pb"), string(key))

    def field_ts(self) -> exp.Expression:
        out = self.to_decimal(col("ts"))
        # ts is already an integer: the time floors take it as is (see `integral_column`), since a
        # decimal floor + cast per row cost ~0.5 s per million rows on DuckDB.
        out.meta[INTEGER_COLUMN] = "ts"
        return out

    @staticmethod
    def integral_column(x: exp.Expression) -> exp.Expression | None:
        """The integer column `x` reads, when `x` is exactly a NUMBER read of one (timestamp_millis)."""
        name = x.meta.get(INTEGER_COLUMN) if x.meta else None
        return col(name) if name else None

    def field_seconds(self) -> exp.Expression:
        raise NotImplementedError

    # --- arithmetic ----------------------------------------------------------------------------
    def add(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        return self.check_range(binop(exp.Add, a, b))

    def sub(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        return self.check_range(binop(exp.Sub, a, b))

    def neg(self, a: exp.Expression) -> exp.Expression:
        return exp.Neg(this=paren(a))

    def mul(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def div(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def mod(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        # Remainder with the sign of the dividend is exact on both engines' decimals; by zero → NULL.
        return self.check_range(binop(exp.Mod, a, fn("nullif", b, self.number(Decimal(0)))))

    def rounding(self, mode: str, x: exp.Expression, digits: int) -> exp.Expression:
        raise NotImplementedError

    # --- comparisons and logic -------------------------------------------------------------------
    COMPARE: ClassVar[dict[str, type]] = {
        "=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE,
    }

    def compare(self, op: str, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        return binop(self.COMPARE[op], a, b)

    def and_(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        return binop(exp.And, a, b)

    def or_(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        return binop(exp.Or, a, b)

    def not_(self, a: exp.Expression) -> exp.Expression:
        return exp.Not(this=paren(a))

    def is_null(self, a: exp.Expression, negated: bool) -> exp.Expression:
        """`a IS [NOT] NULL`, with `a` always evaluated. Both optimizers fold `x IS NULL` to
        FALSE when they can prove x non-NULL, without evaluating x — which skipped an overflow
        inside x (HAZARDS-style finding of the differential test). Binding x through a lambda
        hides that proof."""
        if isinstance(a, (exp.Column, exp.Null, exp.Literal, exp.Boolean)) or (
                isinstance(a, exp.Bracket) and isinstance(a.this, exp.Column)):  # pn['k'] reads
            node = exp.Is(this=paren(a), expression=exp.Null())
        else:
            node = self.bind(self.nullable(a), lambda v: exp.Is(this=v, expression=exp.Null()), force=True)
        return exp.Not(this=paren(node)) if negated else node

    def nullable(self, a: exp.Expression) -> exp.Expression:
        return a

    def in_(self, x: exp.Expression, items: list[exp.Expression], negated: bool) -> exp.Expression:
        """SQL IN with three-valued logic, as an OR chain of equalities (ClickHouse's IN ignores
        NULL items: `1 IN (NULL, 2)` is 0 there, NULL in SQL)."""

        def chain(v: exp.Expression) -> exp.Expression:
            # A balanced OR tree: a left-deep chain of 1000 items would pass the engines' own
            # parser depth limits (ClickHouse max_parser_depth, DuckDB max_expression_depth).
            terms = [binop(exp.EQ, v.copy(), item) for item in items]
            while len(terms) > 1:
                pairs = [binop(exp.Or, terms[i], terms[i + 1]) for i in range(0, len(terms) - 1, 2)]
                terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
            return terms[0]

        body = self.bind(x, chain)
        return self.not_(body) if negated else body

    def like(self, s: exp.Expression, pattern: exp.Expression | str, negated: bool) -> exp.Expression:
        if isinstance(pattern, str):  # a literal pattern: translated here, exactly
            node = fn(self.REGEX_FULL_MATCH, paren(s), string(like_to_regex(pattern)))
        else:
            node = self.like_dynamic(s, pattern)
        return self.not_(node) if negated else node

    def like_dynamic(self, s: exp.Expression, pattern: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def normalise_like_pattern(self, p: exp.Expression) -> exp.Expression:
        """A run-time pattern reduced to the escapes both engines agree on (`\\%`, `\\_`, `\\\\`):
        `\\a` → `a`; a trailing lone backslash → `\\\\` (see `meterql.evaluator` docstring)."""

        def body(v: exp.Expression) -> exp.Expression:
            odd_tail = fn(self.REGEX_MATCH_ANY, v, string(r"(^|[^\\])(\\\\)*\\$"))
            doubled = case([(odd_tail, fn("concat", v, string("\\")))], v)
            return fn(self.REGEX_REPLACE_ALL, doubled, string(r"(?s)(\\[%_\\])|\\(.)"), string(r"\1\2"))

        return self.bind(p, body)

    REGEX_MATCH_ANY: ClassVar[str]
    REGEX_REPLACE_ALL: ClassVar[str]

    def case(self, whens: list[tuple[exp.Expression, exp.Expression]], default: exp.Expression | None) -> exp.Expression:
        return case(whens, default)

    # --- strings -----------------------------------------------------------------------------------
    def number_text(self, x: exp.Expression) -> exp.Expression:
        """SPEC §3 canonical text of a NUMBER: no trailing fractional zeros, no exponent, no -0.
        Both engines print a scale-12 decimal in plain notation; we strip zeros with RE2 so the
        result does not depend on an output setting (ClickHouse
        `output_format_decimal_trailing_zeros`)."""
        text = fn(self.TO_TEXT, paren(x))
        strip = fn(self.REGEX_REPLACE, text, string(r"(\.[0-9]*[1-9])0+$"), string(r"\1"))
        return fn(self.REGEX_REPLACE, strip, string(r"\.0+$"), string(""))

    TO_TEXT: ClassVar[str]

    def bool_text(self, b: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def concat(self, parts: list[exp.Expression]) -> exp.Expression:
        args = [fn("coalesce", p, string("")) for p in parts]
        if len(args) == 1:
            args.append(string(""))
        return fn("concat", *args)

    def lower(self, s: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def upper(self, s: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def length(self, s: exp.Expression) -> exp.Expression:
        return self.to_decimal(fn(self.FUNCTIONS["length"], s))

    def to_number(self, s: exp.Expression) -> exp.Expression:
        def body(v: exp.Expression) -> exp.Expression:
            ok = fn(self.REGEX_FULL_MATCH, v, string(NUMERIC_STRING_RE))
            # Exponents of 5+ significant digits ("1e3100000000000000000000") fail both engines'
            # parsers ("Cannot parse exponent"); clamped to ±9999 they parse as the reference
            # reads them: beyond 10^26 (an overflow) or 0.
            # A zero mantissa is 0 whatever its exponent ("0e9999"): ClickHouse would overflow.
            # Only text the grammar accepted ever reaches the engine's parser: ClickHouse may hoist a
            # sub-expression shared by both branches of an `if` out of its short-circuit and parse
            # every row ('ünï' → "Cannot parse string"), so the CASE alone is not a guard.
            guarded = case([(ok.copy(), v.copy())], string("0"))
            zeroed = fn(self.REGEX_REPLACE, guarded, string(r"^[+-]?(0+\.?0*|\.0+)[eE][+-]?[0-9]+$"), string("0"))
            clamped = fn(self.REGEX_REPLACE, zeroed, string(r"[eE]([+-]?)0*[1-9][0-9]{4,}$"), string(r"e\1" "9999"))  # RE2: \1 is one digit
            return case([(ok, self.parse_number_text(clamped))], None)

        return self.check_range(self.bind(s, body))

    def parse_number_text(self, s: exp.Expression) -> exp.Expression:
        """Numeric text (already matched by the grammar) → NUMBER rounded half away from zero."""
        raise NotImplementedError

    # --- time floors on epoch ms (true floors; HAZARDS "Time") -----------------------------------
    def to_int(self, x: exp.Expression) -> exp.Expression:
        """floor(x) of a NUMBER as the dialect's wide exact integer type."""
        raise NotImplementedError

    def int_lit(self, n: int) -> exp.Expression:
        raise NotImplementedError

    def int_to_number(self, i: exp.Expression) -> exp.Expression:
        return self.to_decimal(i)

    def _posmod(self, i: exp.Expression, n: int) -> exp.Expression:
        # ((i % n) + n) % n: the non-negative remainder, whatever sign rule `%` follows.
        nn = self.int_lit(n)
        return binop(exp.Mod, binop(exp.Add, binop(exp.Mod, i, nn), nn.copy()), nn.copy())

    def _floor_div(self, i: exp.Expression, n: int) -> exp.Expression:
        # (i - posmod(i, n)) is an exact multiple of n, so any integer division rule is exact.
        return fn(self.INT_DIV, paren(binop(exp.Sub, i, self._posmod(i.copy(), n))), self.int_lit(n))

    INT_DIV: ClassVar[str]

    def floor_ms(self, unit: str, x: exp.Expression) -> exp.Expression:
        def fixed(size: int, origin: int) -> Callable[[exp.Expression], exp.Expression]:
            def body(i: exp.Expression) -> exp.Expression:
                shifted = binop(exp.Sub, i, self.int_lit(origin)) if origin else i
                return binop(exp.Sub, i.copy(), self._posmod(shifted, size))
            return body

        if unit == "hour":
            out = self.bind(self.to_int(x), fixed(MS_HOUR, 0))
        elif unit == "day":
            out = self.bind(self.to_int(x), fixed(MS_DAY, 0))
        elif unit == "week":
            out = self.bind(self.to_int(x), fixed(MS_WEEK, MONDAY0))
        elif unit == "month":
            out = self._month_floor(x)
        else:
            raise CompileError(f"unknown time unit {unit!r}")
        return self.check_range(self.int_to_number(out))

    def _month_floor(self, x: exp.Expression) -> exp.Expression:
        return self.bind(self.to_int(x), self._month_floor_int)

    def _month_floor_int(self, i: exp.Expression) -> exp.Expression:
        """The month floor of `i`, an integer epoch-ms expression (a bound name or a column):
        Howard Hinnant's civil-from-days, in exact integers (also before 1970 and far away):
        month start = days − doy + (153·mp + 2) / 5 with doy, mp of the March-based year."""
        L, D = self.int_lit, self.INT_DIV

        def idiv(a: exp.Expression, n: int) -> exp.Expression:  # a ≥ 0 here: truncation = floor
            return fn(D, paren(a), L(n))

        def with_days(days: exp.Expression) -> exp.Expression:
            z = binop(exp.Add, days, L(719468))

            def with_z(zv: exp.Expression) -> exp.Expression:
                era = self._floor_div(zv, 146097)
                doe = binop(exp.Sub, zv.copy(), binop(exp.Mul, era, L(146097)))

                def with_doe(dv: exp.Expression) -> exp.Expression:
                    yoe = idiv(
                        binop(exp.Add, binop(exp.Sub, binop(exp.Sub, dv, idiv(dv.copy(), 1460)), idiv(dv.copy(), 146096)),
                              idiv(dv.copy(), 36524)),
                        365,
                    )

                    def with_yoe(yv: exp.Expression) -> exp.Expression:
                        doy = binop(exp.Sub, dv.copy(), binop(exp.Sub, binop(exp.Add, binop(exp.Mul, L(365), yv),
                                                                                idiv(yv.copy(), 4)), idiv(yv.copy(), 100)))

                        def with_doy(ov: exp.Expression) -> exp.Expression:
                            mp = idiv(binop(exp.Add, binop(exp.Mul, L(5), ov), L(2)), 153)
                            start = idiv(binop(exp.Add, binop(exp.Mul, L(153), mp), L(2)), 5)
                            month_day0 = binop(exp.Add, binop(exp.Sub, days.copy(), ov.copy()), start)
                            return binop(exp.Mul, month_day0, L(MS_DAY))

                        return self.bind(doy, with_doy)

                    return self.bind(yoe, with_yoe)

                return self.bind(doe, with_doe)

            return self.bind(z, with_z)

        return self.bind(self._floor_div(i, MS_DAY), with_days)

    # --- local-time bucket keys (meterql.buckets: integer arithmetic, no engine time zone) -------
    def epoch_int(self, n: int) -> exp.Expression:
        """A trusted epoch-ms constant of the integer type of `ts` (a CASE branch of a key)."""
        return integer(n)

    def local_month_floor(self, i: exp.Expression) -> exp.Expression:
        """The calendar-month start (UTC arithmetic) of `i`, an integer epoch-ms expression."""
        return self._month_floor_int(i)

    def shifted_floor(self, unit: str, ts: exp.Expression, shift: int) -> exp.Expression:
        """The floor of `ts` (an integer epoch-ms expression) in a fixed UTC offset:
        hour/day/week: ts − (((ts + shift) % u) + u) % u (shift = (offset [+ 3 days for weeks])
        mod u, 0 → the plain `ts - (((ts % u) + u) % u)`); month: monthfloor(ts + o) − o with
        o = shift, the offset itself."""
        if unit == "month":
            moved = binop(exp.Add, ts, integer(shift)) if shift else ts
            out = self.local_month_floor(moved)
            return binop(exp.Sub, out, integer(shift)) if shift else out
        size = {"hour": MS_HOUR, "day": MS_DAY, "week": MS_WEEK}[unit]
        moved = binop(exp.Add, ts, integer(shift)) if shift else ts
        return binop(exp.Sub, ts.copy(), self._posmod(moved, size))

    def bucket_key(self, unit: str, ts: exp.Expression, pieces: list[tuple[int, str, int]]) -> exp.Expression:
        """`CASE WHEN ts < start_1 THEN piece_0 WHEN ts < start_2 THEN piece_1 … ELSE last END`
        over `meterql.buckets.Buckets.pieces` (a single piece: no CASE). A piece is ("f", shift):
        `shifted_floor`, or ("c", n): the constant bucket start n."""
        def branch(kind: str, value: int) -> exp.Expression:
            return self.shifted_floor(unit, ts.copy(), value) if kind == "f" else self.epoch_int(value)

        if len(pieces) == 1:
            return branch(*pieces[0][1:])
        whens = [(binop(exp.LT, ts.copy(), integer(pieces[k + 1][0])), branch(*pieces[k][1:]))
                 for k in range(len(pieces) - 1)]
        return case(whens, branch(*pieces[-1][1:]))
