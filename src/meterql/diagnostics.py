"""Diagnostics: what is wrong with a customer expression, as data first and text second.

Consumes: a source text and spans found by `parse` / `check`.
Produces: `Diagnostic` (stable code, message naming the thing, span, 1-based line/column, hints,
severity; `.to_dict()` for JSON), `ExpressionError` (every diagnostic of one expression, raised
once; `str()` renders them like a compiler, capped), and `Limits` (the size bounds that keep
`check` under 50 ms on any input).

Guarantees: line/column are computed from the source (never Lark's −1 at end of input); the
rendering never fails, whatever the source holds (lone surrogates, NUL and other control
characters are shown as `�` so the caret stays aligned and the text stays printable).

Codes are stable (tests and callers may match on them):

    E001 input is not a string          E101 unexpected token          E201 unknown function
    E002 expression too long            E102 unexpected end of input   E202 wrong number of arguments
    E003 nesting too deep               E103 missing `)`               E203 bad digits argument
    E004 too many elements              E104 unmatched `)`             E301 type mismatch
    E005 IN list too long               E105 unterminated string       E302 incompatible types
    E006 invalid schema                 E106 unterminated quoted name  E303 filter is not boolean
    E007 unknown kind / bad argument    E107 unexpected character      E304 metric value is not a
    E008 internal error (a bug)         E108 unknown reference              number (string / boolean)
    E009 too costly to compile          E120 too many fractional digits E401 unknown property
         (compiled SQL too large)       E121 number out of range       E402 property used against
                                        E122 NUL / lone surrogate           its declared type
                                        E123 bad LIKE escape           W301 comparison with null
                                                                            (a warning)
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Iterable, Sequence

from .ast import Span
from .errors import MeterqlError


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


def line_col(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of `offset`; the end of the text is a real place."""
    offset = max(0, min(offset, len(source)))
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str  # stable, e.g. "E201"
    message: str  # names the thing: "unknown function `rond`"
    span: Span  # (start, end) character offsets into the source
    line: int  # 1-based, of span start
    column: int  # 1-based, of span start
    hints: tuple[str, ...] = ()  # "did you mean `round`?"
    severity: Severity = Severity.ERROR
    label: str = ""  # short text printed after the caret ("not a known function")

    @classmethod
    def at(
        cls,
        source: str,
        span: Span,
        code: str,
        message: str,
        *,
        hints: Iterable[str] = (),
        severity: Severity = Severity.ERROR,
        label: str = "",
    ) -> Diagnostic:
        """A diagnostic whose line/column are computed from `source`."""
        start, end = span
        start = max(0, min(start, len(source)))
        end = max(start, min(end, len(source)))
        line, column = line_col(source, start)
        return cls(code, message, (start, end), line, column, tuple(hints), severity, label)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "span": [self.span[0], self.span[1]],
            "line": self.line,
            "column": self.column,
            "hints": list(self.hints),
            "label": self.label,
        }


@dataclass(frozen=True, slots=True)
class Limits:
    """Size bounds for one expression (SPEC §7). All configurable; defaults suit customer-written
    expressions and keep the engines' own limits far away (ClickHouse `max_parser_depth`,
    sqlglot's generator recursion — see HAZARDS "Recursion")."""

    max_length: int = 4096  # characters; checked before anything else
    max_depth: int = 48  # nesting of the tree (parentheses, calls, operator chains)
    max_nodes: int = 1000  # tree nodes
    max_in_items: int = 500  # items of one `IN (…)` list
    # Size of the compiled SQL (sqlglot nodes, an upper bound over the dialects: checker
    # `compiled_cost`): what passes compiles in < 50 ms and stays far from the engines' own
    # limits (DuckDB expression depth, ClickHouse max_query_size / max_ast_elements).
    max_cost: int = 2500

    def __post_init__(self) -> None:
        for name in ("max_length", "max_depth", "max_nodes", "max_in_items", "max_cost"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, not {value!r}")
        if self.max_depth > 200:
            # The checker, compiler and evaluator recurse over the tree; 200 levels keep them far
            # from Python's recursion limit (and the engines' own parser depth limits).
            raise ValueError("Limits.max_depth must be at most 200")

    @property
    def max_tokens(self) -> int:
        # Checked by a cheap scan BEFORE the Lark parse, so the parse itself is bounded (Lark
        # LALR costs ~6 µs a token). Most tokens make one node; an IN list item is two tokens.
        return 2 * self.max_nodes + 64


DEFAULT_LIMITS = Limits()

# How many diagnostics str(ExpressionError) shows before "… and N more".
RENDER_CAP = 10


class ExpressionError(MeterqlError, ValueError):
    """A customer expression that cannot be used: carries every diagnostic, raised once."""

    def __init__(self, diagnostics: Sequence[Diagnostic], source: str = "", kind: str = "expression"):
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        self.source = source if isinstance(source, str) else ""
        self.kind = str(kind)
        super().__init__(self.diagnostics)

    def __str__(self) -> str:
        return render(self.diagnostics, self.source, self.kind)

    def __reduce__(self):  # picklable despite the custom __init__
        return (ExpressionError, (self.diagnostics, self.source, self.kind))

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "diagnostics": [d.to_dict() for d in self.diagnostics]}


# --- rendering ----------------------------------------------------------------------------------


def _display_char(ch: str) -> str:
    """One printable stand-in per source character, so carets line up and printing cannot fail."""
    if ch == "\t":
        return " "
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp") or ch == "\ufffd":
        return "\ufffd"
    return ch


def _width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _safe(text: str) -> str:
    """Text of a message or hint, made printable (it may quote customer text)."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def render_one(d: Diagnostic, source: str, kind: str = "expression") -> str:
    lines = source.split("\n")
    line_text = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
    col0 = d.column - 1
    # Long lines: show a window around the span so the caret stays on screen.
    cut = max(0, col0 - 60) if len(line_text) > 120 else 0
    shown = line_text[cut : cut + 120]
    prefix = "…" if cut > 0 else ""
    suffix = "…" if cut + 120 < len(line_text) else ""
    disp = [_display_char(c) for c in shown]
    rel = col0 - cut
    end = min(rel + (d.span[1] - d.span[0]), len(disp))  # clipped to this line
    pad = len(prefix) + sum(_width(c) for c in disp[:rel])
    carets = max(1, sum(_width(c) for c in disp[rel:end]))
    gutter = " " * len(str(d.line))
    out = [
        f"{d.severity}[{d.code}]: {_safe(d.message)}",
        f"{gutter}--> {kind}:{d.line}:{d.column}",
        f"{gutter} |",
        f"{d.line} | {prefix}{''.join(disp)}{suffix}",
        f"{gutter} | {' ' * pad}{'^' * carets}{(' ' + _safe(d.label)) if d.label else ''}",
    ]
    out += [f"{gutter} = help: {_safe(h)}" for h in d.hints]
    return "\n".join(line.rstrip() for line in out)


def render(diagnostics: Sequence[Diagnostic], source: str, kind: str = "expression", cap: int = RENDER_CAP) -> str:
    """All diagnostics rendered like a compiler, errors first, at most `cap` of them."""
    if not diagnostics:
        return "ok"
    ordered = sorted(diagnostics, key=lambda d: (d.severity is not Severity.ERROR, d.span[0], d.code))
    parts = [render_one(d, source, kind) for d in ordered[:cap]]
    if len(ordered) > cap:
        parts.append(f"… and {len(ordered) - cap} more")
    return "\n\n".join(parts)
