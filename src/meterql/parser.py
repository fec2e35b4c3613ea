"""Parse: text → parsed tree of `meterql.ast` nodes with character spans, or diagnostics.

Consumes: any `str`, a `Kind` (which grammar entry point) and `Limits`.
Produces: `ParseResult(tree, diagnostics)`: `tree` is a *parsed* tree (every node `Type.ANY`,
properties as `Property`) or None when there were syntax errors; `diagnostics` are syntax and
limit errors, already translated (no Lark terminal names, no line −1).

Guarantees:
- Bounded work before Lark runs: the length limit, then one regex scan counting tokens and
  parenthesis depth; the LALR parse itself is iterative, and nodes are built by an *inline*
  transformer (a callback per reduction), so no parse tree is built and nothing recurses.
  After the parse, tree depth, node count and `IN` list sizes are checked iteratively, so every
  later stage (check, compile, evaluate) may recurse over a tree no deeper than `max_depth`.
- Number literals become exact `Decimal`s from their text (never floats).
- Never raises: an unexpected exception becomes an E008 diagnostic.

Names: a bare name is a property unless it is a reserved field (`timestamp_millis`,
`event_name`, `subject_id`); `event.timestamp`, `event.code` are fields; `event.properties.x`
and `properties.x` are the property `x`; `"any key"` is exactly that property (`""` escapes `"`).
Names are case-sensitive (they are JSON keys); keywords and function names are not.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import ast
from .ast import BinaryOp, Kind, Node, Span, UnaryOp
from .diagnostics import DEFAULT_LIMITS, Diagnostic, Limits

# --- the grammar --------------------------------------------------------------------------------


def grammar_text() -> str:
    """The grammar file: shipped inside the wheel as `meterql/meterql.lark` (pyproject
    force-include); in a source checkout / editable install it is `grammar/meterql.lark`."""
    try:
        return resources.files("meterql").joinpath("meterql.lark").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        repo = Path(__file__).resolve().parents[2] / "grammar" / "meterql.lark"
        return repo.read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True, kw_only=True)
class Invalid(Node):
    """Parsed-tree only: a construct that parsed but means nothing (e.g. `foo.bar`). Carries its
    diagnostic; `parse_tree` reports it, the checker types it as NULL so nothing cascades."""

    code: str
    message: str
    hints: tuple[str, ...] = ()


_FIELDS = {
    "timestamp_millis": ast.FieldName.TIMESTAMP_MILLIS,
    "event_name": ast.FieldName.EVENT_NAME,
    "subject_id": ast.FieldName.SUBJECT_ID,
    "event.timestamp": ast.FieldName.EVENT_TIMESTAMP,
    "event.code": ast.FieldName.EVENT_NAME,  # Lago
}
_PROPERTY_PREFIXES = ("event.properties.", "properties.")

_BINARY = {
    "+": BinaryOp.ADD, "-": BinaryOp.SUB, "*": BinaryOp.MUL, "/": BinaryOp.DIV, "%": BinaryOp.MOD,
    "=": BinaryOp.EQ, "==": BinaryOp.EQ, "!=": BinaryOp.NE, "<>": BinaryOp.NE,
    "<": BinaryOp.LT, "<=": BinaryOp.LE, ">": BinaryOp.GT, ">=": BinaryOp.GE,
}  # fmt: skip


def _tspan(tok: Token) -> Span:
    return (tok.start_pos, tok.end_pos)


def _join(a: Span, b: Span) -> Span:
    return (a[0], b[1])


class _Build:
    """Inline transformer: Lark calls one method per reduction with the rule's children
    (named tokens are kept; `,` is dropped). Stateless, so one instance serves every thread."""

    # literals and names
    def number(self, c: list) -> Node:
        tok = c[0]
        try:
            value = Decimal(str(tok))
        except (InvalidOperation, ValueError):  # an exponent too large even for Decimal
            return Invalid(span=_tspan(tok), code="E121", message=f"number literal `{_short(tok)}` is out of range",
                           hints=("numbers must be below 10^26 in absolute value",))  # fmt: skip
        return ast.Literal(span=_tspan(tok), value=value)

    def string(self, c: list) -> Node:
        tok = c[0]
        return ast.Literal(span=_tspan(tok), value=str(tok)[1:-1].replace("''", "'"))

    def true(self, c: list) -> Node:
        return ast.Literal(span=_tspan(c[0]), value=True)

    def false(self, c: list) -> Node:
        return ast.Literal(span=_tspan(c[0]), value=False)

    def null(self, c: list) -> Node:
        return ast.Literal(span=_tspan(c[0]), value=None)

    def quoted_name(self, c: list) -> Node:
        tok = c[0]
        return ast.Property(span=_tspan(tok), key=str(tok)[1:-1].replace('""', '"'))

    def name(self, c: list) -> Node:
        tok = c[0]
        text, span = str(tok), _tspan(tok)
        field = _FIELDS.get(text)
        if field is not None:
            return ast.Field(span=span, name=field)
        if "." not in text:
            return ast.Property(span=span, key=text)
        for prefix in _PROPERTY_PREFIXES:
            if text.startswith(prefix):
                rest = text[len(prefix) :]
                if "." not in rest:
                    return ast.Property(span=span, key=rest)
                return Invalid(span=span, code="E108", message=f"unknown reference `{text}`",
                               hints=(f'a property key that contains a dot is written in double quotes: "{rest}"',))  # fmt: skip
        return Invalid(span=span, code="E108", message=f"unknown reference `{_short(tok)}`",
                       hints=(f'a property key that contains a dot is written in double quotes: "{_short(tok)}"',
                              "known dotted names: event.properties.<name>, properties.<name>, event.code, event.timestamp"))  # fmt: skip

    # operators
    def logical(self, c: list) -> Node:
        left, op, right = c
        return ast.Binary(span=_join(left.span, right.span), op=BinaryOp(op.type), left=left, right=right)

    def arith(self, c: list) -> Node:
        left, op, right = c
        return ast.Binary(span=_join(left.span, right.span), op=_BINARY[str(op)], left=left, right=right)

    compare = arith

    def not_(self, c: list) -> Node:
        kw, operand = c
        return ast.Unary(span=_join(_tspan(kw), operand.span), op=UnaryOp.NOT, operand=operand)

    def neg(self, c: list) -> Node:
        minus, operand = c
        return ast.Unary(span=_join(_tspan(minus), operand.span), op=UnaryOp.NEG, operand=operand)

    def in_(self, c: list) -> Node:
        operand, _in, _lp, items, rp = c
        return ast.In(span=(operand.span[0], rp.end_pos), operand=operand, items=tuple(items))

    def not_in(self, c: list) -> Node:
        operand, _not, _in, _lp, items, rp = c
        return ast.In(span=(operand.span[0], rp.end_pos), operand=operand, items=tuple(items), negated=True)

    def is_null(self, c: list) -> Node:
        operand, _is, null = c
        return ast.IsNull(span=(operand.span[0], null.end_pos), operand=operand)

    def is_not_null(self, c: list) -> Node:
        operand, _is, _not, null = c
        return ast.IsNull(span=(operand.span[0], null.end_pos), operand=operand, negated=True)

    def like(self, c: list) -> Node:
        operand, _like, pattern = c
        return ast.Like(span=_join(operand.span, pattern.span), operand=operand, pattern=pattern)

    def not_like(self, c: list) -> Node:
        operand, _not, _like, pattern = c
        return ast.Like(span=_join(operand.span, pattern.span), operand=operand, pattern=pattern, negated=True)

    # compound atoms
    def items(self, c: list) -> list:
        return c

    def whens(self, c: list) -> list:
        # [WHEN, cond, THEN, result, WHEN, cond, THEN, result, …]
        return [(c[i + 1], c[i + 3]) for i in range(0, len(c), 4)]

    def call0(self, c: list) -> Node:
        name, _lp, rp = c
        return ast.Call(span=(name.start_pos, rp.end_pos), name=str(name).lower(), args=(), name_span=_tspan(name))

    def call(self, c: list) -> Node:
        name, _lp, args, rp = c
        return ast.Call(span=(name.start_pos, rp.end_pos), name=str(name).lower(), args=tuple(args),
                        name_span=_tspan(name))  # fmt: skip

    def case(self, c: list) -> Node:
        kw, whens, end = c
        return ast.Case(span=(kw.start_pos, end.end_pos), whens=tuple(whens))

    def case_else(self, c: list) -> Node:
        kw, whens, _else, else_, end = c
        return ast.Case(span=(kw.start_pos, end.end_pos), whens=tuple(whens), else_=else_)

    def paren(self, c: list) -> Node:
        # The span of a parenthesised node covers its parentheses, so carets under `(a + b) * c`
        # start at `(`.
        lp, inner, rp = c
        return dataclasses.replace(inner, span=(lp.start_pos, rp.end_pos))


_PARSER: Lark | None = None


def _cache_path(grammar: str) -> str | None:
    """A private per-user file for Lark's grammar-analysis cache (a pickle: never in a shared
    /tmp where another user could plant one). None when no such place can be made."""
    import hashlib
    import lark

    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "meterql"
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = hashlib.sha256(f"{lark.__version__}\n{grammar}".encode()).hexdigest()[:24]
        return str(base / f"grammar-{digest}.lark-cache")
    except (OSError, RuntimeError):
        return None


def parser() -> Lark:
    """The one Lark LALR parser, built on first use (~45 ms; ~5 ms from Lark's on-disk cache)."""
    global _PARSER
    if _PARSER is None:
        grammar = grammar_text()
        options: dict[str, Any] = dict(
            parser="lalr",
            lexer="basic",
            start=[k.value for k in Kind],
            transformer=_Build(),
            maybe_placeholders=False,
        )
        cache = _cache_path(grammar)
        try:
            _PARSER = Lark(grammar, cache=cache or False, **options)
        except Exception:  # an unreadable / corrupt cache must never stop parsing
            _PARSER = Lark(grammar, **options)
    return _PARSER


# --- pre-scan: bound the work before Lark sees the text -------------------------------------------

# Strings and quoted names (possibly unterminated: they run to the end), parentheses, words and
# numbers, any other single non-space character. Counts are what matter, not token types.
_SCAN = re.compile(r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|[()]|[A-Za-z0-9_.]+|[^\sA-Za-z0-9_.()'"]""")


@dataclass(frozen=True, slots=True)
class _Scan:
    tokens: int
    too_deep_at: int | None  # offset of the first `(` past max_depth
    unclosed: tuple[int, ...]  # offsets of `(` never closed
    unmatched_close: tuple[int, ...]  # offsets of `)` with no `(`


def _scan(text: str, limits: Limits) -> _Scan:
    tokens = 0
    stack: list[int] = []
    unmatched: list[int] = []
    too_deep: int | None = None
    cap = limits.max_tokens + 1
    for m in _SCAN.finditer(text):
        tokens += 1
        if tokens > cap:
            break
        ch = m.group()
        if ch == "(":
            stack.append(m.start())
            if too_deep is None and len(stack) > limits.max_depth:
                too_deep = m.start()
        elif ch == ")":
            if stack:
                stack.pop()
            else:
                unmatched.append(m.start())
    return _Scan(tokens, too_deep, tuple(stack), tuple(unmatched))


def _innermost_open_paren(text: str, pos: int) -> int | None:
    """Offset of the innermost `(` still open at `pos` (strings and quoted names skipped)."""
    stack: list[int] = []
    for m in _SCAN.finditer(text, 0, pos):
        if m.group() == "(":
            stack.append(m.start())
        elif m.group() == ")" and stack:
            stack.pop()
    return stack[-1] if stack else None


# --- syntax errors, translated --------------------------------------------------------------------

_STARTS_EXPR = {"NUMBER", "STRING", "NAME", "QUOTED_NAME", "TRUE", "FALSE", "NULL", "LPAR", "MINUS", "CASE", "NOT"}
_OPERATORS = {"OR", "AND", "COMPARE", "PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "IN", "IS", "LIKE"}
_PUNCT = {"LPAR": "`(`", "RPAR": "`)`", "COMMA": "`,`", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`",
          "SLASH": "`/`", "PERCENT": "`%`"}  # fmt: skip
_KEYWORDS = {"OR", "AND", "NOT", "IN", "IS", "NULL", "LIKE", "CASE", "WHEN", "THEN", "ELSE", "END", "TRUE", "FALSE",
             "SELECT", "FROM", "WHERE", "DISTINCT"}  # the last four: Orb metrics only (see orb_parser)


def _short(text: Any, n: int = 40) -> str:
    s = str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def _describe_token(tok: Token) -> str:
    kind = tok.type
    if kind in _KEYWORDS:
        return f"keyword `{str(tok).upper()}`"
    if kind == "NAME":
        return f"name `{_short(tok)}`"
    if kind == "QUOTED_NAME":
        return f"quoted name `{_short(tok)}`"
    if kind == "NUMBER":
        return f"number `{_short(tok)}`"
    if kind == "STRING":
        return f"string `{_short(tok)}`"
    if kind == "COMPARE":
        return f"operator `{tok}`"
    return _PUNCT.get(kind, f"`{_short(tok)}`")


def _describe_expected(expected: set[str]) -> str:
    """Human words for a set of Lark terminal names (never the names themselves)."""
    parts: list[str] = []
    if expected & {"NUMBER", "STRING", "NAME", "QUOTED_NAME"}:
        parts.append("an expression")
    for term, words in (("RPAR", "`)`"), ("COMMA", "`,`"), ("WHEN", "`WHEN`"), ("THEN", "`THEN`"),
                        ("ELSE", "`ELSE`"), ("END", "`END`"), ("SELECT", "`SELECT`"), ("FROM", "`FROM`"),
                        ("WHERE", "`WHERE`")):  # fmt: skip
        if term in expected:
            parts.append(words)
    if "IS" not in expected and {"NULL", "NOT"} <= expected and not parts:
        parts.append("`NULL` or `NOT NULL`")  # after IS
    elif "LPAR" in expected and not parts and not expected & _OPERATORS:
        parts.append("`(`")  # after IN
    if expected & _OPERATORS and not (parts and parts[0] == "an expression"):
        parts.append("an operator")
    if "$END" in expected:
        parts.append("the end of the expression")
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


_CHAR_HINTS = {
    "&": "use `AND` to combine conditions",
    "|": "use `OR` to combine conditions",
    "!": "use `NOT` to negate a condition, `!=` for inequality",
    "[": "lists are written with parentheses: `x IN ('a', 'b')`",
    ";": "an expression is a single expression; `;` is not allowed",
    "`": "property names with special characters are written in double quotes: \"my-prop\"",
    ".": 'a property key with special characters is written whole in double quotes: "my-prop.v2"',
    "{": "properties are referenced by name (`x`, `event.properties.x`), not as JSON",
}


_MAX_SKIPS = 8


class _Errors:
    """on_error handler: records translated diagnostics; skips stray characters to find more,
    stops at the first token error (later ones would mostly be echoes of it)."""

    def __init__(self, text: str, scan: _Scan):
        self.text = text
        self.scan = scan
        self.diags: list[Diagnostic] = []
        self.last_skip_end: int | None = None  # end of the last skipped character
        self.skips = 0  # each skip costs Lark an exception and a resume: keep it bounded
        self.resume_lexing_at: int | None = None

    def more_stray_characters(self) -> None:
        """After the parse stopped on an echo of a skipped character, stray characters further on
        are still independent mistakes: find them with the lexer alone (bounded by _MAX_SKIPS)."""
        pos = self.resume_lexing_at
        while pos is not None and self.skips < _MAX_SKIPS:
            try:
                for _ in parser().lex(self.text[pos:]):
                    pass
                return
            except UnexpectedCharacters as e:
                at = pos + e.pos_in_stream
                self._char_at(at)
                if self.text[at] in "'\"":
                    return  # an unterminated string or name runs to the end of the text
                pos = at + 1

    def add(self, span: Span, code: str, message: str, *hints: str, label: str = "") -> None:
        self.diags.append(Diagnostic.at(self.text, span, code, message, hints=hints, label=label))

    def _echo(self, pos: int) -> bool:
        """Is an error at `pos` just the consequence of a character we skipped?"""
        return self.last_skip_end is not None and self.text[self.last_skip_end : pos].strip() == ""

    def __call__(self, e: UnexpectedInput) -> bool:
        if isinstance(e, UnexpectedCharacters):
            return self._char(e)
        if isinstance(e, UnexpectedToken):
            self._token(e)
        return False

    def _char(self, e: UnexpectedCharacters) -> bool:
        return self._char_at(e.pos_in_stream)

    def _char_at(self, pos: int) -> bool:
        text = self.text
        self.skips += 1
        ch = text[pos]
        if ch == "'":
            self.add((pos, len(text)), "E105", "unterminated string", "close the string with `'`; write `''` for a quote inside it",
                     label="this string is never closed")  # fmt: skip
            return False
        if ch == '"':
            self.add((pos, len(text)), "E106", "unterminated quoted name", 'close the name with `"`; write `""` for a quote inside it',
                     label="this name is never closed")  # fmt: skip
            return False
        shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
        hint = _CHAR_HINTS.get(ch)
        last = self.diags[-1] if self.diags else None
        if last is not None and last.code == "E107" and self.last_skip_end == pos:
            # A run of stray characters (`&&`, `||`) is one mistake: widen the previous one.
            start = last.span[0]
            run = "".join(c if c.isprintable() else f"U+{ord(c):04X}" for c in text[start : pos + 1])
            self.diags[-1] = Diagnostic.at(text, (start, pos + 1), "E107", f"unexpected characters `{_short(run)}`",
                                           hints=last.hints)  # fmt: skip
            self.last_skip_end = pos + 1
            return self.skips < _MAX_SKIPS
        self.add((pos, pos + 1), "E107", f"unexpected character `{shown}`", *([hint] if hint else []))
        self.last_skip_end = pos + 1
        return self.skips < _MAX_SKIPS  # keep scanning for more stray characters

    def _token(self, e: UnexpectedToken) -> None:
        tok, text = e.token, self.text
        if tok.type == "$END":
            if self._echo(len(text)):
                return
            end = (len(text), len(text))
            try:
                expected = set(e.accepts or e.expected)
            except Exception:  # accepts() replays the parser; never let it escape
                expected = set(e.expected)
            if not text.strip():
                self.add(end, "E102", "empty expression", "write an expression, e.g. `region = 'eu'`")
            elif "RPAR" in expected and self.scan.unclosed:
                opener = self.scan.unclosed[-1]
                d = Diagnostic.at(text, (opener, opener), "", "")
                self.add(end, "E103", "missing closing parenthesis",
                         f"the `(` at line {d.line}, column {d.column} is never closed", label="expected `)`")  # fmt: skip
            else:
                what = _describe_expected(expected - {"$END"})
                hints = ("every `CASE` ends with `END`",) if "END" in expected else ()
                self.add(end, "E102", "unexpected end of input" + (f", expected {what}" if what else ""), *hints)
            return
        span = _tspan(tok)
        if self._echo(span[0]):
            self.resume_lexing_at = span[0]
            return
        if tok.type == "RPAR" and span[0] in self.scan.unmatched_close:
            self.add(span, "E104", "unexpected `)`", "there is no `(` for this `)` to close", label="unmatched")
            return
        try:
            expected = set(e.accepts or e.expected)
        except Exception:
            expected = set(e.expected)
        what = _describe_expected(expected)
        hints: list[str] = []
        if "RPAR" in expected:
            opener = _innermost_open_paren(text, span[0])
            if opener is not None:
                d = Diagnostic.at(text, (opener, opener), "", "")
                hints.append(f"the `(` at line {d.line}, column {d.column} is still open")
        if "END" in expected and "RPAR" not in expected:
            hints.append("every `CASE` ends with `END`")
        if tok.type == "NAME" and "$END" in expected:
            hints.append("names are joined with operators, e.g. `a = b` or `a AND b`")
        if tok.type in ("COMPARE", "IN", "IS", "LIKE") and tok.type not in expected and "$END" in expected:
            # `a = b = c`: listing "an operator" as expected would read as a contradiction.
            what = ""
            hints.append("comparisons do not chain: write `a < b AND b < c`")
        msg = f"unexpected {_describe_token(tok)}" + (f", expected {what}" if what else "")
        self.add(span, "E101", msg, *hints)


# --- the verb ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParseResult:
    tree: Node | None  # None when there are errors that prevent a tree
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.tree is not None and not any(d.is_error for d in self.diagnostics)


def parse_tree(text: str, kind: Kind | str = Kind.VALUE, limits: Limits = DEFAULT_LIMITS) -> ParseResult:
    """Parse `text` as an expression of `kind`. Never raises (see module docstring)."""
    try:
        return _parse_tree(text, Kind(kind), limits)
    except Exception as exc:  # a bug of ours: report it as data, never crash the caller
        source = text if isinstance(text, str) else ""
        return ParseResult(None, (Diagnostic.at(source, (0, 0), "E008", f"internal error while parsing: {type(exc).__name__}",
                                                 hints=("this is a bug in meterql; please report it",)),))  # fmt: skip


def _parse_tree(text: str, kind: Kind, limits: Limits) -> ParseResult:
    if len(text) > limits.max_length:
        return ParseResult(None, (Diagnostic.at(text, (limits.max_length, len(text)), "E002",
                                                f"expression is too long: {len(text)} characters (the limit is {limits.max_length})",
                                                hints=("long lists of values are better kept out of the expression",)),))  # fmt: skip
    scan = _scan(text, limits)
    if scan.tokens > limits.max_tokens:
        return ParseResult(None, (Diagnostic.at(text, (0, len(text)), "E004",
                                                f"expression is too complex: more than {limits.max_tokens} tokens"),))  # fmt: skip
    if scan.too_deep_at is not None:
        at = scan.too_deep_at
        return ParseResult(None, (Diagnostic.at(text, (at, at + 1), "E003",
                                                f"expression is nested too deeply: more than {limits.max_depth} levels"),))  # fmt: skip

    errors = _Errors(text, scan)
    tree: Any = None
    try:
        tree = parser().parse(text, start=kind.value, on_error=errors)
    except UnexpectedInput:
        errors.more_stray_characters()  # the handler recorded the error that stopped the parse
    if errors.diags or not isinstance(tree, Node):
        if not errors.diags:  # cannot happen with this grammar; say so rather than pass None on
            errors.add((0, len(text)), "E101", "could not parse the expression")
        return ParseResult(None, tuple(errors.diags))
    diags, fatal = _check_shape(tree, text, limits)
    # Past a size limit no later stage may touch the tree; `Invalid` nodes and long IN lists
    # still let the checker report everything else.
    return ParseResult(None if fatal else tree, tuple(diags))


def _check_shape(tree: Node, text: str, limits: Limits) -> tuple[list[Diagnostic], bool]:
    """Depth, node count, IN sizes, and the diagnostics of `Invalid` nodes — without recursion."""
    diags: list[Diagnostic] = []
    nodes = 0
    too_deep: Node | None = None
    stack: list[tuple[Node, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > limits.max_depth:
            too_deep = too_deep or node
            continue
        if isinstance(node, Invalid):
            diags.append(Diagnostic.at(text, node.span, node.code, node.message, hints=node.hints))
        elif isinstance(node, ast.In) and len(node.items) > limits.max_in_items:
            first = node.items[limits.max_in_items].span
            diags.append(Diagnostic.at(text, (first[0], node.items[-1].span[1]), "E005",
                                       f"`IN` list is too long: {len(node.items)} items (the limit is {limits.max_in_items})"))  # fmt: skip
        stack.extend((child, depth + 1) for child in node.children())
    if too_deep is not None:
        diags.insert(0, Diagnostic.at(text, too_deep.span, "E003",
                                      f"expression is nested too deeply: more than {limits.max_depth} levels",
                                      hints=("long chains of AND/OR over one property are better written with IN",)))  # fmt: skip
    if nodes > limits.max_nodes:
        diags.insert(0, Diagnostic.at(text, (0, len(text)), "E004",
                                      f"expression is too complex: {nodes} elements (the limit is {limits.max_nodes})"))  # fmt: skip
    return diags, too_deep is not None or nodes > limits.max_nodes


# --- Orb's SQL metric: the `orb_metric` entry point -------------------------------------------------
#
# `SELECT <aggregate>(<expr> | * | DISTINCT <expr>) FROM events [WHERE <filter>]`. The argument and
# the WHERE part are trees of the expression language (the same builder, spans into the SQL text);
# the SQL around them is the smallest subset Orb metrics use. Anything else — another table, a
# JOIN, a sub-query, GROUP BY, several columns, `;`, comments — is an E130 diagnostic naming it.

ORB_AGGREGATES = ("count", "sum", "min", "max", "avg")
ORB_TABLE = "events"
# SQL words that start a clause the subset does not have: named in the message when they appear.
_SQL_CLAUSES = {"JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "OUTER", "NATURAL", "ON", "USING", "GROUP",
                "ORDER", "HAVING", "LIMIT", "OFFSET", "UNION", "INTERSECT", "EXCEPT", "WINDOW", "QUALIFY",
                "AS", "INTO", "FETCH", "SAMPLE", "FINAL", "PREWHERE", "SETTINGS", "FORMAT", "WITH", "ARRAY"}  # fmt: skip
_ORB_SHAPE = "an Orb metric is `SELECT <aggregate>(<expression>) FROM events [WHERE <filter>]`"
_ORB_AGGREGATES_HINT = "the aggregates are count(*), count(DISTINCT <expr>), sum(<expr>), min, max, avg"


@dataclass(frozen=True, slots=True)
class OrbSelect:
    """A parsed Orb metric: `aggregation` is one of count, sum, min, max, avg, count_distinct;
    `value` the aggregate's argument (None for `count(*)`) and `filter` the WHERE expression, both
    parsed trees whose spans index the SQL text."""

    aggregation: str
    value: Node | None
    filter: Node | None
    problems: tuple[tuple[Span, str, tuple[str, ...]], ...] = ()  # the builder's E130s


@dataclass(frozen=True, slots=True)
class OrbParseResult:
    select: OrbSelect | None  # None when there are errors
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.select is not None and not any(d.is_error for d in self.diagnostics)


@dataclass(frozen=True, slots=True)
class _Star:
    name: Token
    span: Span


@dataclass(frozen=True, slots=True)
class _Distinct:
    name: Token
    operand: Node
    span: Span


class _OrbBuild(_Build):
    """The expression builder plus the four Orb rules."""

    def orb_count_star(self, c: list) -> _Star:
        name, _lp, _star, rp = c
        return _Star(name, (name.start_pos, rp.end_pos))

    def orb_distinct(self, c: list) -> _Distinct:
        name, _lp, _distinct, operand, rp = c
        return _Distinct(name, operand, (name.start_pos, rp.end_pos))

    def orb_metric(self, c: list) -> OrbSelect:
        return self._select(c[1], c[3], None)

    def orb_metric_where(self, c: list) -> OrbSelect:
        return self._select(c[1], c[3], c[5])

    @staticmethod
    def _select(column: Any, table: Token, where: Node | None) -> OrbSelect:
        problems: list[tuple[Span, str, tuple[str, ...]]] = []
        if str(table).lower() != ORB_TABLE:
            problems.append((_tspan(table), f"table `{_short(table)}` is not supported: an Orb metric reads `events`",
                             (_ORB_SHAPE,)))  # fmt: skip
        aggregation, value = "count", None
        if isinstance(column, _Star):
            if str(column.name).lower() != "count":
                problems.append((column.span, f"`{_short(column.name)}(*)` is not supported; only `count(*)` takes `*`",
                                 (_ORB_AGGREGATES_HINT,)))  # fmt: skip
        elif isinstance(column, _Distinct):
            aggregation, value = "count_distinct", column.operand
            if str(column.name).lower() != "count":
                problems.append((column.span, f"`{_short(column.name)}(DISTINCT …)` is not supported; only `count` takes DISTINCT",
                                 (_ORB_AGGREGATES_HINT,)))  # fmt: skip
        elif isinstance(column, ast.Call) and column.name in ORB_AGGREGATES and len(column.args) == 1:
            aggregation, value = column.name, column.args[0]
        elif isinstance(column, ast.Call) and column.name in ORB_AGGREGATES:
            problems.append((column.span, f"`{column.name}` takes one argument, got {len(column.args)}",
                             (_ORB_AGGREGATES_HINT,)))  # fmt: skip
        elif isinstance(column, ast.Call):
            problems.append((column.span, f"`{column.name}(…)` is not an aggregate: the column must be one aggregate call",
                             (_ORB_AGGREGATES_HINT,)))  # fmt: skip
        else:
            problems.append((column.span, "the column must be one aggregate call; expressions around or "
                             "without an aggregate are not supported", (_ORB_AGGREGATES_HINT, _ORB_SHAPE)))  # fmt: skip
        return OrbSelect(aggregation, value, where, tuple(problems))


_ORB_PARSER: Lark | None = None


def orb_parser() -> Lark:
    """The `orb_metric` parser: the same grammar file, its own start (so its keywords stay its own)."""
    global _ORB_PARSER
    if _ORB_PARSER is None:
        grammar = grammar_text()
        options: dict[str, Any] = dict(parser="lalr", lexer="basic", start="orb_metric", transformer=_OrbBuild(),
                                       maybe_placeholders=False)  # fmt: skip
        cache = _cache_path("orb_metric\n" + grammar)
        try:
            _ORB_PARSER = Lark(grammar, cache=cache or False, **options)
        except Exception:
            _ORB_PARSER = Lark(grammar, **options)
    return _ORB_PARSER


class _OrbErrors(_Errors):
    """Syntax errors of an Orb metric: SQL outside the subset is named as such (E130)."""

    def _token(self, e: UnexpectedToken) -> None:
        tok = e.token
        span = _tspan(tok) if tok.type != "$END" else (len(self.text), len(self.text))
        word = str(tok).upper() if tok.type == "NAME" else ""
        if word in _SQL_CLAUSES:
            what = "JOIN" if word in {"INNER", "LEFT", "RIGHT", "FULL", "CROSS", "OUTER", "NATURAL"} else word
            what = {"GROUP": "GROUP BY", "ORDER": "ORDER BY"}.get(what, what)
            self.add(span, "E130", f"`{what}` is not supported in an Orb metric", _ORB_SHAPE)
        elif tok.type == "SELECT":
            self.add(span, "E130", "sub-queries are not supported in an Orb metric", _ORB_SHAPE)
        elif tok.type == "LPAR" and set(e.expected) == {"NAME"}:  # only a table name is expected: after FROM
            self.add(span, "E130", "sub-queries are not supported in an Orb metric: read `FROM events`", _ORB_SHAPE)
        elif tok.type == "COMMA" and "FROM" in set(e.expected):
            self.add(span, "E130", "several columns are not supported: an Orb metric selects one aggregate", _ORB_SHAPE)
        elif tok.type == "NAME" and "FROM" in set(e.expected) and str(tok).upper() not in _KEYWORDS:
            self.add(span, "E130", f"unexpected name `{_short(tok)}` after the column: aliases are not supported",
                     _ORB_SHAPE)  # fmt: skip
        else:
            super()._token(e)


def _sql_outside_subset(text: str) -> list[tuple[Span, str, str]]:
    """`;` and SQL comments outside strings and quoted names (the scan skips those): the language
    reads `--x` as two minus signs, so a comment must be caught before it changes a meaning."""
    found: list[tuple[Span, str, str]] = []
    prev: re.Match | None = None
    for m in _SCAN.finditer(text):
        ch = m.group()
        if ch == ";":
            found.append(((m.start(), m.end()), "`;` is not supported: an Orb metric is one statement",
                          "remove the `;` and anything after it"))  # fmt: skip
        elif prev is not None and prev.end() == m.start() and prev.group() + ch in ("--", "/*"):
            found.append(((prev.start(), m.end()), f"SQL comments (`{prev.group() + ch}`) are not supported in an Orb metric",
                          "remove the comment"))  # fmt: skip
            prev = None
            continue
        prev = m
    return found


def parse_orb_metric(text: str, limits: Limits = DEFAULT_LIMITS) -> OrbParseResult:
    """Parse Orb's SQL metric text (the `orb_metric` entry point). Never raises; the same limits,
    codes, spans and hints as an expression, and E130 for SQL outside the subset."""
    try:
        return _parse_orb_metric(text, limits)
    except Exception as exc:
        source = text if isinstance(text, str) else ""
        return OrbParseResult(None, (Diagnostic.at(source, (0, 0), "E008", f"internal error while parsing: {type(exc).__name__}",
                                                   hints=("this is a bug in meterql; please report it",)),))  # fmt: skip


def _parse_orb_metric(text: str, limits: Limits) -> OrbParseResult:
    if not isinstance(text, str):
        return OrbParseResult(None, (Diagnostic.at("", (0, 0), "E001", "an Orb metric is SQL text"),))
    if len(text) > limits.max_length:
        return OrbParseResult(None, (Diagnostic.at(text, (limits.max_length, len(text)), "E002",
                                                   f"metric SQL is too long: {len(text)} characters (the limit is {limits.max_length})"),))  # fmt: skip
    scan = _scan(text, limits)
    if scan.tokens > limits.max_tokens:
        return OrbParseResult(None, (Diagnostic.at(text, (0, len(text)), "E004",
                                                   f"metric SQL is too complex: more than {limits.max_tokens} tokens"),))  # fmt: skip
    if scan.too_deep_at is not None:
        at = scan.too_deep_at
        return OrbParseResult(None, (Diagnostic.at(text, (at, at + 1), "E003",
                                                   f"metric SQL is nested too deeply: more than {limits.max_depth} levels"),))  # fmt: skip
    outside = _sql_outside_subset(text)
    if outside:
        return OrbParseResult(None, tuple(Diagnostic.at(text, span, "E130", msg, hints=(hint,)) for span, msg, hint in outside))
    errors = _OrbErrors(text, scan)
    select: Any = None
    try:
        select = orb_parser().parse(text, on_error=errors)
    except UnexpectedInput:
        errors.more_stray_characters()
    if errors.diags or not isinstance(select, OrbSelect):
        if not errors.diags:
            errors.add((0, len(text)), "E101", "could not parse the metric SQL", _ORB_SHAPE)
        return OrbParseResult(None, tuple(errors.diags))
    diags = [Diagnostic.at(text, span, "E130", msg, hints=hints) for span, msg, hints in select.problems]
    fatal = False
    for part in (select.value, select.filter):
        if part is not None:
            more, bad = _check_shape(part, text, limits)
            diags.extend(more)
            fatal |= bad
    return OrbParseResult(None if fatal or diags else select, tuple(diags))
