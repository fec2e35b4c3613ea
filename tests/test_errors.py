"""Diagnostics as the user sees them: every code has a case, messages are snapshots (one file per
case under tests/snapshots/errors/, regenerate with METERQL_UPDATE_SNAPSHOTS=1 and review the
diff by eye), the rendering is compiler-like, and no Lark internals ever leak."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterql import diagnostics
from meterql.ast import Kind
from meterql.checker import check, parse
from meterql.cli import main
from meterql.diagnostics import Diagnostic, ExpressionError, Limits, render

SNAPSHOTS = Path(__file__).parent / "snapshots" / "errors"
UPDATE = os.environ.get("METERQL_UPDATE_SNAPSHOTS") == "1"

SCHEMA = {"tokens": "number", "region": "string", "beta": "boolean"}

# code → (text, kind, schema, limits, the source text the primary span covers)
CODE_CASES: dict[str, tuple] = {
    "E001": (None, "filter", None, None, ""),
    "E002": ("a" * 5000, "filter", None, None, "a" * (5000 - 4096)),
    "E003": ("((((a))))", "filter", None, Limits(max_depth=3), "("),
    "E004": ("a + b + c + d", "value", None, Limits(max_nodes=3), "a + b + c + d"),
    "E005": ("x IN (1, 2, 3, 4)", "filter", None, Limits(max_in_items=2), "3, 4"),
    "E006": ("a", "filter", {"a": "float"}, None, ""),
    "E007": ("a", "predicate", None, None, ""),
    "E009": ("(x / y) / y", "value", None, Limits(max_cost=400), "(x / y) / y"),
    "E101": ("region = = 'eu'", "filter", None, None, "="),
    "E102": ("tokens >", "filter", None, None, ""),
    "E103": ("round(tokens, 2", "value", None, None, ""),
    "E104": ("a = 1)", "filter", None, None, ")"),
    "E105": ("region = 'eu", "filter", None, None, "'eu"),
    "E106": ('"my-prop = 1', "filter", None, None, '"my-prop = 1'),
    "E107": ("a = 1 && b = 2", "filter", None, None, "&&"),
    "E108": ("foo.bar = 1", "filter", None, None, "foo.bar"),
    "E120": ("tokens * 0.0000000000001", "value", None, None, "0.0000000000001"),
    "E121": ("tokens * 1e30", "value", None, None, "1e30"),
    "E122": ("region = 'e\x00u'", "filter", None, None, "'e\x00u'"),
    "E123": ("name LIKE '50\\'", "filter", None, None, "'50\\'"),
    "E201": ("rond(tokens, 2) > 10", "filter", None, None, "rond"),
    "E202": ("round(tokens, 2, 3)", "value", None, None, "round(tokens, 2, 3)"),
    "E203": ("round(tokens, precision)", "value", None, None, "precision"),
    "E301": ("'a' + 1", "value", None, None, "'a'"),
    "E302": ("region > 1", "filter", SCHEMA, None, "region > 1"),
    "E303": ("tokens * 2", "filter", None, None, "tokens * 2"),
    "E401": ("regon = 'eu'", "filter", SCHEMA, None, "regon"),
    "E402": ("region * 2", "value", SCHEMA, None, "region"),
    "W301": ("region = null", "filter", None, None, "region = null"),
}
TESTED_ELSEWHERE = {"E008": "tests/test_check.py::test_internal_errors_become_a_diagnostic",
                    "E304": "tests/test_metric_value_type.py (raised when a Metric is built)"}


def test_every_documented_code_has_a_case():
    documented = set(re.findall(r"\b([EW]\d{3})\b", diagnostics.__doc__ or ""))
    assert documented == set(CODE_CASES) | set(TESTED_ELSEWHERE)


@pytest.mark.parametrize("code", sorted(CODE_CASES))
def test_each_code(code):
    text, kind, schema, limits, covered = CODE_CASES[code]
    diags = check(text, kind, schema, limits=limits)
    assert diags, f"no diagnostic for {code}"
    d = diags[0]
    assert d.code == code, [(x.code, x.message) for x in diags]
    source = text if isinstance(text, str) else ""
    assert source[d.span[0] : d.span[1]] == covered
    assert d.message and d.line >= 1 and d.column >= 1
    assert (d.severity == "warning") == code.startswith("W")


# --- snapshots ---------------------------------------------------------------------------------------

SNAPSHOT_CASES: dict[str, tuple[str, str, dict | None]] = {
    "unknown_function": ("rond(tokens, 2) > 10", "filter", None),
    "unknown_function_no_suggestion": ("xyzzy(tokens)", "value", None),
    "wrong_arity": ("round(tokens, 2, 3)", "value", None),
    "digits_not_literal": ("round(tokens, digits)", "value", None),
    "string_plus_number": ("'a' + 1", "value", None),
    "compare_string_number": ("'a' > 1", "filter", None),
    "filter_not_boolean": ("tokens * 2", "filter", None),
    "not_number": ("NOT 5", "filter", None),
    "too_many_fraction_digits": ("tokens * 1.1234567890123", "value", None),
    "out_of_range": ("tokens * 100000000000000000000000000", "value", None),
    "missing_paren": ("round(tokens * 1.5, 2", "value", None),
    "missing_paren_multiline": ("round(\n  tokens * (1.5 + x,\n  2)", "value", None),
    "unmatched_paren": ("region = 'eu')", "filter", None),
    "unterminated_string": ("region = 'eu AND x = 1", "filter", None),
    "unterminated_quoted_name": ('"my-prop = 1', "filter", None),
    "unexpected_character": ("a = 1 && b = 2", "filter", None),
    "several_stray_characters": ("a @ 1 AND b # 2", "filter", None),
    "unexpected_end": ("tokens >", "filter", None),
    "unexpected_end_after_and": ("a = 1 AND\n", "filter", None),
    "empty": ("   ", "filter", None),
    "chained_comparison": ("1 < a < 3", "filter", None),
    "missing_operator": ("region 'eu'", "filter", None),
    "case_without_end": ("CASE WHEN a THEN 1", "value", None),
    "case_missing_then": ("CASE WHEN a 1 END", "value", None),
    "in_without_parens": ("region IN 'eu'", "filter", None),
    "is_not_null_typo": ("region IS 5", "filter", None),
    "unknown_dotted": ("event.props.tokens > 1", "filter", None),
    "schema_unknown_property": ("regon = 'eu' AND tokens > 1", "filter", SCHEMA),
    "schema_type_mismatch": ("region * 2", "value", SCHEMA),
    "like_bad_escape": ("name LIKE 'a\\b%'", "filter", None),
    "nul_in_string": ("region = 'e\x00u'", "filter", None),
    "surrogate_in_name": ('"k\ud800" = 1', "filter", None),
    "null_comparison_with_error": ("a = null AND rond(1)", "filter", None),
    "many_errors_capped": (" AND ".join(f"f{i}(x)" for i in range(14)), "filter", None),
    "too_long": ("region = '" + "x" * 5000 + "'", "filter", None),
    "too_deep": ("(" * 60 + "a" + ")" * 60, "filter", None),
    "too_costly": ("(" * 12 + "x" + " / y)" * 12, "value", None),
    "long_line_window": ("a = 1 AND " * 20 + "rond(x) > 1" + " AND b = 2" * 20, "filter", None),
    "wide_characters": ("'日本語' = x AND rond(y)", "filter", None),
    "not_a_string": (None, "filter", None),  # type: ignore[dict-item]
}


def render_case(text, kind, schema) -> str:
    try:
        parse(text, kind, schema=schema)
    except ExpressionError as err:
        return str(err)
    raise AssertionError(f"{text!r} parsed without error")


def snapshot_text(name: str, text, kind: str) -> str:
    shown = text if isinstance(text, str) else repr(text)
    header = f"# case: {name}\n# kind: {kind}\n# input: {json.dumps(shown[:300])}\n"
    return header


@pytest.mark.parametrize("name", sorted(SNAPSHOT_CASES))
def test_error_snapshot(name):
    text, kind, schema = SNAPSHOT_CASES[name]
    rendered = render_case(text, kind, schema)
    content = snapshot_text(name, text, kind) + rendered + "\n"
    # The rendering is printable: it survives a strict UTF-8 terminal.
    content.encode("utf-8")
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"missing snapshot {path}; run with METERQL_UPDATE_SNAPSHOTS=1 and review it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == content


def test_no_stale_snapshots():
    assert {p.stem for p in SNAPSHOTS.glob("*.txt")} == set(SNAPSHOT_CASES)


# --- rendering --------------------------------------------------------------------------------------------


def test_render_like_a_compiler():
    with pytest.raises(ExpressionError) as info:
        parse("rond(amount, 2) > 10", "filter")
    assert str(info.value) == (
        "error[E201]: unknown function `rond`\n"
        " --> filter:1:1\n"
        "  |\n"
        "1 | rond(amount, 2) > 10\n"
        "  | ^^^^ not a known function\n"
        "  = help: did you mean `round`?"
    )


def test_caret_under_the_span_in_the_middle():
    text = "a = 1 AND 'x' + 2 > 1"
    (d,) = check(text, "filter")
    out = render([d], text, "filter").splitlines()
    assert out[3] == "1 | " + text
    assert out[4] == "  | " + " " * 10 + "^^^ this is a string"
    assert d.line == 1 and d.column == 11


def test_end_of_input_has_a_real_line_and_column():
    text = "a = 1 AND\n  b ="
    (d,) = check(text, "filter")
    assert d.code == "E102" and d.span == (len(text), len(text))
    assert (d.line, d.column) == (2, 6)
    out = str(ExpressionError([d], text, "filter")).splitlines()
    assert out[1] == " --> filter:2:6"
    assert out[3] == "2 |   b ="
    assert out[4] == "  |      ^"


def test_multiline_source_points_at_the_right_line():
    text = "region = 'eu'\nAND rond(x) > 1"
    (d,) = check(text, "filter")
    assert (d.line, d.column) == (2, 5)
    out = render([d], text).splitlines()
    assert out[3] == "2 | AND rond(x) > 1" and out[4] == "  |     ^^^^ not a known function"


def test_error_list_is_capped():
    text = " AND ".join(f"f{i}(x)" for i in range(14))
    with pytest.raises(ExpressionError) as info:
        parse(text, "filter")
    assert len(info.value.diagnostics) == 14  # all collected
    rendered = str(info.value)
    assert rendered.count("error[E201]") == diagnostics.RENDER_CAP
    assert rendered.endswith("… and 4 more")


def test_errors_render_before_warnings():
    out = render(check("a = null AND rond(1)", "filter"), "a = null AND rond(1)")
    assert out.index("error[E201]") < out.index("warning[W301]")


def test_unprintable_source_characters_render_as_replacement():
    text = "a = 'x\x00y' AND\tb"
    rendered = str(ExpressionError(check(text, "filter"), text, "filter"))
    assert "\x00" not in rendered and "\ufffd" in rendered
    caret_line = rendered.splitlines()[4]
    assert caret_line == "  |     ^^^^^"  # `'x␀y'` is five characters, aligned after `a = `


def test_to_dict_is_json():
    (d,) = check("rond(x)", "value")
    data = json.loads(json.dumps(d.to_dict()))
    assert data == {"code": "E201", "severity": "error", "message": "unknown function `rond`", "span": [0, 4],
                    "line": 1, "column": 1, "hints": ["did you mean `round`?"], "label": "not a known function"}  # fmt: skip
    err = ExpressionError([d], "rond(x)", "value")
    assert json.loads(json.dumps(err.to_dict()))["diagnostics"][0]["code"] == "E201"


def test_expression_error_pickles():
    import pickle

    err = ExpressionError(check("rond(x)", "value"), "rond(x)", "value")
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.diagnostics == err.diagnostics


def test_diagnostic_at_clamps_and_computes_position():
    d = Diagnostic.at("ab\ncd", (4, 99), "E101", "x")
    assert d.span == (4, 5) and (d.line, d.column) == (2, 2)


# --- syntax messages never leak Lark ---------------------------------------------------------------------

LARK_NAMES = ("$END", "LPAR", "RPAR", "__ANON", "Expected one of", "QUOTED_NAME", "COMPARE", "PERCENT", "COMMA",
              "Token(", "UnexpectedToken", "UnexpectedCharacters", "No terminal", "line -1")  # fmt: skip

PIECES = ["a", "b", "x.y", "event.properties.x", '"q"', '"', "'", "'s'", "1", "1.5", ".5", "1e3", "(", ")", ",", "+",
          "-", "*", "/", "%", "=", "==", "!=", "<>", "<", ">=", "AND", "or", "Not", "IN", "is", "NULL", "LIKE",
          "case", "WHEN", "THEN", "ELSE", "END", "true", "false", "round", "rond", "coalesce", "if", "@", "#",
          "&", "|", "!", "[", "]", ";", "\\", "\x00", "\ud800", "\n", " ", "\t", "é", "日"]  # fmt: skip


def assert_clean(text: str, kind: str) -> None:
    diags = check(text, kind)
    for d in diags:
        for name in LARK_NAMES:
            assert name not in d.message and all(name not in h for h in d.hints), (text, d)
        assert 0 <= d.span[0] <= d.span[1] <= len(text)
        assert d.line >= 1 and d.column >= 1
    if any(d.is_error for d in diags):
        with pytest.raises(ExpressionError) as info:
            parse(text, kind)
        rendered = str(info.value)
        rendered.encode("utf-8")  # printable
        assert not any(name in rendered for name in LARK_NAMES if name not in text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=25), st.sampled_from([k.value for k in Kind]))
def test_random_token_soup_never_raises_or_leaks(pieces, kind):
    assert_clean(" ".join(pieces), kind)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60), st.sampled_from([k.value for k in Kind]))
def test_random_text_never_raises_or_leaks(text, kind):
    assert_clean(text, kind)


@pytest.mark.parametrize(
    "text",
    ["", ")", "(", "()", "a(", "a)", "a,b", ",", "a IN", "a IN (", "a IN (1,", "a IS", "a IS NOT", "a NOT",
     "CASE", "CASE WHEN", "CASE END", "WHEN a THEN b", "f(,)", "f(a,,b)", "1 2", "'a' 'b'", "a..b", "a.", ".",
     "event.", "--", "NOT", "AND", "a AND", "a = ", "== a", "x LIKE", "'", '"', "'''", '"""', "1e", "1e+",
     "a b c d e f"],
)  # fmt: skip
def test_hand_picked_syntax_errors_are_clean(text):
    assert_clean(text, "filter")
    assert any(d.is_error for d in check(text, "filter"))


# --- the CLI ------------------------------------------------------------------------------------------------


def test_cli_check_shows_caret_and_suggestion(capsys):
    assert main(["check", "rond(tokens, 2) > 10"]) == 1
    out = capsys.readouterr().out
    assert "error[E201]: unknown function `rond`" in out
    assert "1 | rond(tokens, 2) > 10\n  | ^^^^" in out
    assert "did you mean `round`?" in out


def test_cli_check_ok_and_kinds(capsys):
    assert main(["check", "region = 'eu'"]) == 0
    assert capsys.readouterr().out.strip() == "ok"
    assert main(["check", "--kind", "value", "round(tokens * 1.5, 2)"]) == 0
    assert main(["check", "--kind", "grouping_key", "hour_floor_timestamp_millis(timestamp_millis)"]) == 0
    assert main(["check", "--kind", "value", "'a' + 1"]) == 1


def test_cli_check_json_and_schema(tmp_path, capsys):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    assert main(["check", "--json", "--schema", str(schema), "regon = 'eu'"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in data] == ["E401"] and data[0]["hints"] == ["did you mean `region`?"]
    assert main(["check", "--json", "a = 1"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["check", "--schema", str(tmp_path / "missing.json"), "a"]) == 2
