"""The grammar and the parser: one LALR grammar without conflicts, three entry points, every
construct → the expected parsed tree (written by hand as s-expressions), spans, precedence,
case-insensitive keywords, exact number literals, and no recursion however deep the input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import lark
import pytest
from lark.parsers.lalr_analysis import LALR_Analyzer

from meterql import ast
from meterql.ast import Kind
from meterql.diagnostics import Limits
from meterql.parser import Invalid, grammar_text, parse_tree, parser

REPO = Path(__file__).resolve().parents[1]


def sx(node: ast.Node) -> str:
    """A compact s-expression of a parsed tree: properties bare, fields as @name, strings quoted."""
    match node:
        case ast.Literal(value=None):
            return "null"
        case ast.Literal(value=bool() as b):
            return "true" if b else "false"
        case ast.Literal(value=Decimal() as d):
            return f"#{d}"
        case ast.Literal(value=str() as s):
            return repr(s)
        case ast.Property(key=k):
            return k
        case ast.Field(name=n):
            return f"@{n.value}"
        case ast.Unary(op=op, operand=o):
            return f"({op.value} {sx(o)})"
        case ast.Binary(op=op, left=l, right=r):
            return f"({op.value} {sx(l)} {sx(r)})"
        case ast.In(operand=o, items=items, negated=neg):
            return f"({'not-in' if neg else 'in'} {sx(o)} {' '.join(sx(i) for i in items)})"
        case ast.IsNull(operand=o, negated=neg):
            return f"({'is-not-null' if neg else 'is-null'} {sx(o)})"
        case ast.Like(operand=o, pattern=p, negated=neg):
            return f"({'not-like' if neg else 'like'} {sx(o)} {sx(p)})"
        case ast.Case(whens=whens, else_=e):
            parts = " ".join(f"[{sx(c)} {sx(r)}]" for c, r in whens)
            return f"(case {parts}{' ' + sx(e) if e is not None else ''})"
        case ast.Call(name=n, args=args):
            return f"{n}({', '.join(sx(a) for a in args)})"
        case Invalid(code=c):
            return f"<invalid {c}>"
    raise AssertionError(node)


def tree(text: str, kind: Kind = Kind.VALUE) -> ast.Node:
    result = parse_tree(text, kind)
    assert result.ok, [d.message for d in result.diagnostics]
    assert result.tree is not None
    return result.tree


def p(text: str, kind: Kind = Kind.VALUE) -> str:
    return sx(tree(text, kind))


# --- the grammar file -------------------------------------------------------------------------------


def test_grammar_is_lalr_without_conflicts():
    # Lark silently resolves shift/reduce conflicts as shifts; the strict analyzer raises instead.
    g = lark.Lark(grammar_text(), parser="lalr", lexer="basic", start=[k.value for k in Kind])
    LALR_Analyzer(g.parser.parser_conf, strict=True).compute_lalr()


def test_conflict_detector_detects_a_conflict():
    # The check above must be able to fail: an ambiguous grammar is reported.
    g = lark.Lark('start: e\ne: e "+" e | "1"', parser="lalr", lexer="basic")
    with pytest.raises(lark.exceptions.GrammarError, match="Shift/Reduce"):
        LALR_Analyzer(g.parser.parser_conf, strict=True).compute_lalr()


def test_grammar_file_is_the_single_source():
    assert grammar_text() == (REPO / "grammar" / "meterql.lark").read_text(encoding="utf-8")
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"grammar/meterql.lark" = "meterql/meterql.lark"' in pyproject


def test_parser_is_built_once():
    assert parser() is parser()


@pytest.mark.parametrize("kind", list(Kind))
def test_all_three_entry_points(kind):
    assert p("a = 1 AND b", kind) == "(AND (= a #1) b)"
    assert p("round(x * 2, 1)", kind) == "round((* x #2), #1)"


# --- references ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("region", "region"),
        ("event.properties.tokens", "tokens"),
        ("properties.tokens", "tokens"),
        ('"my-prop.v2"', "my-prop.v2"),
        ('"say ""hi"""', 'say "hi"'),
        ('""', ""),
        ('"AND"', "AND"),
        ("_x9", "_x9"),
        ("Region", "Region"),  # names are case-sensitive JSON keys
        ("event.properties.end", "end"),  # a keyword inside a path is a path segment
        ("timestamp_millis", "@timestamp_millis"),
        ("event_name", "@event_name"),
        ("subject_id", "@subject_id"),
        ("event.timestamp", "@event.timestamp"),
        ("event.code", "@event_name"),  # Lago
        ('"timestamp_millis"', "timestamp_millis"),  # the quoted form reaches the property
        ('"event_name"', "event_name"),
        ("event", "event"),
    ],
)
def test_references(text, expected):
    assert p(text) == expected


def test_reserved_name_wins_and_quoted_reaches_property():
    t = tree('subject_id = "subject_id"', Kind.FILTER)
    assert isinstance(t, ast.Binary)
    assert isinstance(t.left, ast.Field) and t.left.name is ast.FieldName.SUBJECT_ID
    assert isinstance(t.right, ast.Property) and t.right.key == "subject_id"


def test_unknown_dotted_reference_is_reported_not_guessed():
    r = parse_tree("foo.bar = 1", Kind.FILTER)
    assert [d.code for d in r.diagnostics] == ["E108"]
    assert r.diagnostics[0].span == (0, 7)
    r = parse_tree("event.properties.a.b", Kind.VALUE)
    assert [d.code for d in r.diagnostics] == ["E108"]
    assert '"a.b"' in r.diagnostics[0].hints[0]


# --- literals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [("12", "12"), ("1.5", "1.5"), ("1e3", "1E+3"), (".5", "0.5"), ("1.", "1"), ("2.5E-3", "0.0025"),
     ("0.1", "0.1"), ("99999999999999999999", "99999999999999999999"), ("1.000000000001", "1.000000000001")],
)  # fmt: skip
def test_number_literals_are_exact_decimals(text, value):
    t = tree(text)
    assert isinstance(t, ast.Literal)
    assert type(t.value) is Decimal and t.value == Decimal(value)
    assert str(t.value) == str(Decimal(text))  # built from the text, never through a float


@pytest.mark.parametrize(
    "text, value",
    [("'abc'", "abc"), ("''", ""), ("'it''s'", "it's"), ("''''", "'"), ("'a\\b'", "a\\b"), ("'ünï ✓'", "ünï ✓"),
     ("'two\nlines'", "two\nlines"), ("'say \"x\"'", 'say "x"')],
)  # fmt: skip
def test_string_literals(text, value):
    t = tree(text)
    assert isinstance(t, ast.Literal) and t.value == value


@pytest.mark.parametrize("text, value", [("true", True), ("FALSE", False), ("True", True), ("null", None), ("NULL", None)])
def test_boolean_and_null_literals(text, value):
    t = tree(text)
    assert isinstance(t, ast.Literal) and t.value is value


# --- operators and precedence ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a OR b AND c", "(OR a (AND b c))"),
        ("a AND b OR c", "(OR (AND a b) c)"),
        ("NOT a = b", "(NOT (= a b))"),
        ("NOT a AND b", "(AND (NOT a) b)"),
        ("NOT NOT a", "(NOT (NOT a))"),
        ("-2 * 3", "(* (- #2) #3)"),
        ("- - 2", "(- (- #2))"),
        ("1 - 2 - 3", "(- (- #1 #2) #3)"),
        ("8 / 4 / 2", "(/ (/ #8 #4) #2)"),
        ("2 + 3 * 4", "(+ #2 (* #3 #4))"),
        ("(2 + 3) * 4", "(* (+ #2 #3) #4)"),
        ("7 % 3 * 2", "(* (% #7 #3) #2)"),
        ("a + 1 > b * 2", "(> (+ a #1) (* b #2))"),
        ("a = 1 OR b = 2 AND c = 3", "(OR (= a #1) (AND (= b #2) (= c #3)))"),
        ("a OR b OR c", "(OR (OR a b) c)"),
        ("x IN (1, 2) AND y", "(AND (in x #1 #2) y)"),
        ("a + 1 IS NULL", "(is-null (+ a #1))"),
        ("a LIKE 'x%' OR b", "(OR (like a 'x%') b)"),
    ],
)
def test_precedence(text, expected):
    assert p(text, Kind.FILTER) == expected


@pytest.mark.parametrize(
    "text, op",
    [("a = b", "="), ("a == b", "="), ("a != b", "!="), ("a <> b", "!="), ("a < b", "<"), ("a <= b", "<="),
     ("a > b", ">"), ("a >= b", ">=")],
)  # fmt: skip
def test_comparison_operators(text, op):
    assert p(text, Kind.FILTER) == f"({op} a b)"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x IN ('a', 'b')", "(in x 'a' 'b')"),
        ("x NOT IN (1)", "(not-in x #1)"),
        ("x IS NULL", "(is-null x)"),
        ("x IS NOT NULL", "(is-not-null x)"),
        ("x LIKE 'a%'", "(like x 'a%')"),
        ("x NOT LIKE 'a\\_%'", "(not-like x 'a\\\\_%')"),
        ("CASE WHEN a THEN 1 END", "(case [a #1])"),
        ("CASE WHEN a THEN 1 WHEN b THEN 2 ELSE 3 END", "(case [a #1] [b #2] #3)"),
        ("CASE WHEN x > 1 THEN CASE WHEN y THEN 'a' END ELSE 'b' END", "(case [(> x #1) (case [y 'a'])] 'b')"),
        ("round(x)", "round(x)"),
        ("ROUND(x, 2)", "round(x, #2)"),
        ("Coalesce(a, b, 0)", "coalesce(a, b, #0)"),
        ("f()", "f()"),
        ("rond(x)", "rond(x)"),  # unknown functions parse; the checker reports them
        ("if(a > 1, 'x', 'y')", "if((> a #1), 'x', 'y')"),
        ("hour_floor_timestamp_millis(timestamp_millis)", "hour_floor_timestamp_millis(@timestamp_millis)"),
        ("round(-x, -2)", "round((- x), (- #2))"),
        ("((a))", "a"),
    ],
)
def test_constructs(text, expected):
    assert p(text, Kind.FILTER) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a and b or not c in (1) and d is not null and e not like 'x' and f is null",
        "a AND b OR NOT c IN (1) AND d IS NOT NULL AND e NOT LIKE 'x' AND f IS NULL",
        "a And b oR nOt c In (1) anD d Is NoT NuLl AND e nOT lIKe 'x' And f iS nuLL",
    ],
)
def test_keywords_are_case_insensitive(text):
    expected = "(OR (AND a b) (AND (AND (AND (NOT (in c #1)) (is-not-null d)) (not-like e 'x')) (is-null f)))"
    assert p(text, Kind.FILTER) == expected


def test_case_keywords_case_insensitive():
    assert p("case When a tHeN 1 eLsE 2 End") == "(case [a #1] #2)"


def test_keywords_are_reserved_but_quoted_form_reaches_them():
    assert not parse_tree("end + 1").ok
    assert p('"end" + 1') == "(+ end #1)"


def test_function_names_lowercased_with_name_span():
    t = tree("  ROUND( x )")
    assert isinstance(t, ast.Call)
    assert t.name == "round" and t.name_span == (2, 7) and t.span == (2, 12)


# --- spans ---------------------------------------------------------------------------------------------


def test_spans():
    text = "round(a + 1, 2) > 10 AND x IN ('u', 'v')"
    t = tree(text, Kind.FILTER)
    spans = {sx(n): text[n.span[0] : n.span[1]] for n in t.walk()}
    assert spans["round((+ a #1), #2)"] == "round(a + 1, 2)"
    assert spans["(+ a #1)"] == "a + 1"
    assert spans["(in x 'u' 'v')"] == "x IN ('u', 'v')"
    assert spans["'v'"] == "'v'"
    assert t.span == (0, len(text))


def test_parenthesised_span_covers_parentheses():
    t = tree("(a + b) * c")
    assert isinstance(t, ast.Binary)
    assert t.left.span == (0, 7) and t.span == (0, 11)


def test_case_and_unary_spans():
    text = "x + CASE WHEN a THEN -1 END"
    t = tree(text)
    assert isinstance(t, ast.Binary) and isinstance(t.right, ast.Case)
    assert text[t.right.span[0] : t.right.span[1]] == "CASE WHEN a THEN -1 END"
    neg = t.right.whens[0][1]
    assert text[neg.span[0] : neg.span[1]] == "-1"


def test_whitespace_and_newlines_anywhere():
    assert p("\n a\t=\r\n 1 \n", Kind.FILTER) == "(= a #1)"


# --- no recursion -----------------------------------------------------------------------------------------


def test_parser_itself_handles_50k_nested_parentheses_without_recursion():
    # Below the limits (which reject such input before Lark sees it), the LALR parse and the
    # inline node building are iterative: 50k levels do not touch Python's recursion limit.
    text = "(" * 50_000 + "a" + ")" * 50_000
    t = parser().parse(text, start="value")
    assert isinstance(t, ast.Property) and t.key == "a" and t.span == (0, len(text))


def test_long_chain_is_left_deep_without_recursion():
    text = " + ".join(["1"] * 3000)
    t = parser().parse(text, start="value")
    depth = 0
    while isinstance(t, ast.Binary):
        t, depth = t.left, depth + 1
    assert depth == 2999


def test_deep_trees_are_stopped_by_the_depth_limit():
    r = parse_tree(" + ".join(["1"] * 60), Kind.VALUE, Limits(max_depth=48))
    assert r.tree is None and [d.code for d in r.diagnostics] == ["E003"]
    r = parse_tree(" + ".join(["1"] * 40), Kind.VALUE, Limits(max_depth=48))
    assert r.ok


def test_installed_layout_reads_the_grammar_from_the_package(tmp_path):
    # The wheel ships grammar/meterql.lark as meterql/meterql.lark (pyproject force-include).
    # Simulate that layout in a fresh interpreter: the packaged copy must be the one read.
    import shutil
    import subprocess
    import sys

    pkg = tmp_path / "site" / "meterql"
    shutil.copytree(REPO / "src" / "meterql", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    marker = "// packaged copy\n"
    (pkg / "meterql.lark").write_text(grammar_text() + marker, encoding="utf-8")
    code = (
        "from meterql.parser import grammar_text, parser\n"
        "assert grammar_text().endswith('// packaged copy\\n')\n"
        "print(type(parser().parse('a + 1', start='value')).__name__)\n"
    )
    env = {"PYTHONPATH": str(tmp_path / "site"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Binary"
