"""The checker: typing rules of SPEC §2 (every property becomes a Read in its context), all
semantic diagnostics collected, schema checks, `expect`, caching, and `check` never raising."""

from __future__ import annotations

import importlib
import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import expressions  # tests/strategies.py (well-typed expression text)

import meterql
from meterql import ast
from meterql.ast import Kind, Type
from meterql.checker import _analyze, check, parse
from meterql.diagnostics import Diagnostic, ExpressionError, Limits, Severity
from meterql.functions import REGISTRY

N, S, B = Type.NUMBER, Type.STRING, Type.BOOLEAN


def reads(text: str, kind: Kind = Kind.FILTER, **kw) -> dict[str, Type]:
    """key → the type each property is read as (all reads of one key must agree here)."""
    out: dict[str, Type] = {}
    for node in parse(text, kind, **kw).tree.walk():
        assert not isinstance(node, ast.Property), "a typed tree has no Property left"
        assert node.type is not Type.ANY, f"untyped node {node}"
        if isinstance(node, ast.Read):
            assert out.setdefault(node.key, node.type) is node.type
    return out


def codes(text, kind: Kind | str = Kind.FILTER, schema=None, **kw) -> list[str]:
    return [d.code for d in check(text, kind, schema, **kw)]


# --- reads by context -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, kind, expected",
    [
        ("tokens * 1.5", Kind.VALUE, {"tokens": N}),
        ("-tokens", Kind.VALUE, {"tokens": N}),
        ("round(tokens, 2)", Kind.VALUE, {"tokens": N}),
        ("abs(a) + floor(b) - ceil(c, 1)", Kind.VALUE, {"a": N, "b": N, "c": N}),
        ("tokens > 10", Kind.FILTER, {"tokens": N}),
        ("10 <= tokens", Kind.FILTER, {"tokens": N}),
        ("region = 'eu'", Kind.FILTER, {"region": S}),
        ("flag = true", Kind.FILTER, {"flag": B}),
        ("a = b", Kind.FILTER, {"a": S, "b": S}),  # property vs property: string forms
        ("a < b", Kind.FILTER, {"a": S, "b": S}),
        ("a AND NOT b", Kind.FILTER, {"a": B, "b": B}),
        ("flag", Kind.FILTER, {"flag": B}),  # the filter root
        ("a OR b = 1", Kind.FILTER, {"a": B, "b": N}),
        ("name LIKE 'a%'", Kind.FILTER, {"name": S}),
        ("a LIKE b", Kind.FILTER, {"a": S, "b": S}),
        ("x IN (1, 2)", Kind.FILTER, {"x": N}),
        ("x IN ('a', y)", Kind.FILTER, {"x": S, "y": S}),
        ("x IN (y, z)", Kind.FILTER, {"x": S, "y": S, "z": S}),
        ("x IN (true)", Kind.FILTER, {"x": B}),
        ("x IS NULL", Kind.FILTER, {"x": S}),
        ("x + 1 IS NOT NULL", Kind.FILTER, {"x": N}),
        ("coalesce(a, b) + 1", Kind.VALUE, {"a": N, "b": N}),
        ("coalesce(a, 0)", Kind.VALUE, {"a": N}),
        ("coalesce(a, 'none')", Kind.GROUPING_KEY, {"a": S}),
        ("coalesce(a, b)", Kind.GROUPING_KEY, {"a": S, "b": S}),  # untyped → grouping default STRING
        ("coalesce(a, b)", Kind.VALUE, {"a": N, "b": N}),  # untyped → value default NUMBER
        ("least(a, 3)", Kind.VALUE, {"a": N}),
        ("greatest(a, b) > 2", Kind.FILTER, {"a": N, "b": N}),
        ("if(c, a, 'x')", Kind.GROUPING_KEY, {"c": B, "a": S}),
        ("if(c, a, b) * 2", Kind.VALUE, {"c": B, "a": N, "b": N}),
        ("CASE WHEN c THEN a ELSE 0 END", Kind.VALUE, {"c": B, "a": N}),
        ("CASE WHEN c THEN a END = 'x'", Kind.FILTER, {"c": B, "a": S}),
        ("CASE WHEN c > 1 THEN a END", Kind.GROUPING_KEY, {"c": N, "a": S}),
        ("concat(a, '-', b)", Kind.GROUPING_KEY, {"a": S, "b": S}),
        ("lower(a) = 'x' AND length(b) > 2", Kind.FILTER, {"a": S, "b": S}),
        ("to_number(a) * 2", Kind.VALUE, {"a": S}),  # to_number reads text and parses it
        ("to_string(a)", Kind.GROUPING_KEY, {"a": S}),
        ("region", Kind.GROUPING_KEY, {"region": S}),
        ("tokens", Kind.VALUE, {"tokens": N}),
        ("hour_floor_timestamp_millis(timestamp_millis)", Kind.GROUPING_KEY, {}),
        ("a = null", Kind.FILTER, {"a": S}),
    ],
)
def test_reads_by_context(text, kind, expected):
    assert reads(text, kind) == expected


def test_expect_types_an_untyped_root():
    assert reads("a", Kind.VALUE, expect=Type.STRING) == {"a": S}  # unique_count over text
    assert reads("a", Kind.GROUPING_KEY, expect="number") == {"a": N}
    assert reads("a + 1", Kind.VALUE, expect=Type.STRING) == {"a": N}  # only untyped results
    assert parse("a + 1", Kind.VALUE, expect=Type.STRING).type is N


def test_node_types_in_typed_tree():
    e = parse("round(tokens * 1.5, 2) > 10 AND region IN ('eu', 'us')", Kind.FILTER)
    assert e.kind is Kind.FILTER and e.type is B
    root = e.tree
    assert isinstance(root, ast.Binary) and root.type is B
    cmp_ = root.left
    assert isinstance(cmp_, ast.Binary) and cmp_.type is B
    call = cmp_.left
    assert isinstance(call, ast.Call) and call.type is N and call.name == "round"
    assert [a.type for a in call.args] == [N, N]
    assert isinstance(root.right, ast.In) and [i.type for i in root.right.items] == [S, S]


@pytest.mark.parametrize(
    "text, kind, root_type",
    [
        ("concat(a, b)", Kind.GROUPING_KEY, S),
        ("length(a)", Kind.VALUE, N),
        ("a > 1", Kind.GROUPING_KEY, B),
        ("null", Kind.VALUE, N),  # a NULL of the type the context reads (a sum of NULL numbers)
        ("coalesce(null, null)", Kind.GROUPING_KEY, S),
        ("event_name", Kind.GROUPING_KEY, S),
        ("subject_id", Kind.GROUPING_KEY, S),
        ("event.code", Kind.GROUPING_KEY, S),
        ("timestamp_millis", Kind.VALUE, N),
        ("event.timestamp", Kind.VALUE, N),
        ("if(a, 1, 2)", Kind.VALUE, N),
        ("CASE WHEN a THEN 'x' END", Kind.GROUPING_KEY, S),
    ],
)
def test_root_types(text, kind, root_type):
    assert parse(text, kind).type is root_type


def test_string_parameters_accept_any_type_and_keep_it():
    call = parse("concat(a, 1.5, true, timestamp_millis)", Kind.GROUPING_KEY).tree
    assert isinstance(call, ast.Call)
    assert [a.type for a in call.args] == [S, N, B, N]
    assert check("length(5) > 1", "filter") == []
    assert check("upper(true)", "grouping_key") == []


def test_negative_literal_folds_to_one_exact_literal():
    t = parse("-1.5 * a", Kind.VALUE).tree
    assert isinstance(t, ast.Binary) and isinstance(t.left, ast.Literal)
    assert t.left.value == Decimal("-1.5") and t.left.type is N and t.left.span == (0, 4)
    t = parse("-0", Kind.VALUE).tree
    assert isinstance(t, ast.Literal) and str(t.value) == "0"  # never `-0`
    t = parse("-(a)", Kind.VALUE).tree
    assert isinstance(t, ast.Unary) and t.type is N


def test_digits_argument_becomes_integer_literal():
    for text, digits in [("round(x, 2)", 2), ("round(x, -2)", -2), ("floor(x, 12)", 12), ("ceil(x, -12)", -12),
                         ("round(x, 2.0)", 2), ("round(x, 0)", 0)]:  # fmt: skip
        call = parse(text, Kind.VALUE).tree
        assert isinstance(call, ast.Call)
        lit = call.args[1]
        assert isinstance(lit, ast.Literal) and lit.value == Decimal(digits) and lit.type is N
        assert str(lit.value) == str(digits)


# --- errors (each collected, each with a span on the offending thing) ----------------------------------


@pytest.mark.parametrize(
    "text, kind, code, offending",
    [
        ("'a' + 1", Kind.VALUE, "E301", "'a'"),
        ("round('x')", Kind.VALUE, "E301", "'x'"),
        ("NOT 5", Kind.FILTER, "E301", "5"),
        ("1 AND a", Kind.FILTER, "E301", "1"),
        ("-'a'", Kind.VALUE, "E301", "'a'"),
        ("event_name + 1", Kind.VALUE, "E301", "event_name"),
        ("x IN (1, 'a')", Kind.FILTER, "E301", "'a'"),
        ("CASE WHEN a THEN 1 ELSE 'x' END", Kind.VALUE, "E301", "'x'"),
        ("CASE WHEN 1 THEN 1 END", Kind.VALUE, "E301", "1"),
        ("if(1, a, b)", Kind.VALUE, "E301", "1"),
        ("coalesce(a, 1, 'x')", Kind.VALUE, "E301", "'x'"),
        ("5 LIKE 'x'", Kind.FILTER, "E301", "5"),
        ("'a' > 1", Kind.FILTER, "E302", "'a' > 1"),
        ("true = 1", Kind.FILTER, "E302", "true = 1"),
        ("subject_id = 5", Kind.FILTER, "E302", "subject_id = 5"),
        ("tokens", Kind.FILTER, None, None),  # a bare property is a boolean filter: fine
        ("1 + 1", Kind.FILTER, "E303", "1 + 1"),
        ("'eu'", Kind.FILTER, "E303", "'eu'"),
        ("concat(a, b)", Kind.FILTER, "E303", "concat(a, b)"),
        ("rond(x, 2)", Kind.VALUE, "E201", "rond"),
        ("round(1, 2, 3)", Kind.VALUE, "E202", "round(1, 2, 3)"),
        ("if(a, 1)", Kind.VALUE, "E202", "if(a, 1)"),
        ("abs()", Kind.VALUE, "E202", "abs()"),
        ("round(x, 2.5)", Kind.VALUE, "E203", "2.5"),
        ("round(x, 13)", Kind.VALUE, "E203", "13"),
        ("floor(x, -13)", Kind.VALUE, "E203", "-13"),
        ("ceil(x, y)", Kind.VALUE, "E203", "y"),
        ("round(x, 1 + 1)", Kind.VALUE, "E203", "1 + 1"),
        ("1.1234567890123", Kind.VALUE, "E120", "1.1234567890123"),
        ("1e-13", Kind.VALUE, "E120", "1e-13"),
        ("1e26", Kind.VALUE, "E121", "1e26"),
        ("-100000000000000000000000000", Kind.VALUE, "E121", "100000000000000000000000000"),
        ("1e99999999999999999999", Kind.VALUE, "E121", "1e99999999999999999999"),
        ("x LIKE 'a\\'", Kind.FILTER, "E123", "'a\\'"),
        ("x LIKE 'a\\b'", Kind.FILTER, "E123", "'a\\b'"),
        ("a = 'x\x00'", Kind.FILTER, "E122", "'x\x00'"),
        ("a = '\ud800'", Kind.FILTER, "E122", "'\ud800'"),
        ('"k\x00" = 1', Kind.FILTER, "E122", '"k\x00"'),
        ('"\udfff" = 1', Kind.FILTER, "E122", '"\udfff"'),
    ],
)
def test_semantic_errors(text, kind, code, offending):
    diags = [d for d in check(text, kind) if d.is_error]
    if code is None:
        assert diags == []
        return
    assert [d.code for d in diags] == [code], [d.message for d in diags]
    d = diags[0]
    assert text[d.span[0] : d.span[1]] == offending
    with pytest.raises(ExpressionError) as info:
        parse(text, kind)
    assert [x.code for x in info.value.diagnostics if x.is_error] == [code]


def test_accepted_literals_at_the_edges():
    assert check("1.000000000001 + " + "9" * 26 + ".999999999999", "value") == []
    assert [d.code for d in check("9" * 27, "value")] == ["E121"]
    assert check("1.500000000000000", "value") == []  # trailing zeros are not digits of the value
    assert check("round(x, 12) + round(x, -12)", "value") == []
    assert check("x LIKE 'a\\%b\\_c\\\\'", "filter") == []


def test_messages_name_the_thing():
    (d,) = check("rond(x, 2) > 1", "filter")
    assert d.message == "unknown function `rond`" and d.hints == ("did you mean `round`?",) and d.span == (0, 4)
    (d,) = check("round(1, 2, 3)", "value")
    assert "`round`" in d.message and "1 to 2 arguments" in d.message and "got 3" in d.message
    (d,) = check("if(a, 1)", "value")
    assert "`if`" in d.message and "exactly 3 arguments" in d.message
    (d,) = check("concat()", "grouping_key")
    assert "`concat`" in d.message and "at least 1 argument" in d.message
    (d,) = check("'a' > 1", "filter")
    assert d.message == "cannot compare a string with a number"
    (d,) = check("'a' + 1", "value")
    assert "`+`" in d.message and "number" in d.message and "`'a'`" in d.message
    (d,) = check("hour_floor(timestamp_millis)", "grouping_key")
    assert d.hints == ("did you mean `hour_floor_timestamp_millis`?",)
    (d,) = check("xyzzy(1)", "value")
    assert d.hints == ()  # nothing close: no suggestion


def test_all_semantic_errors_are_collected():
    text = "rond(x) > 1 AND 'a' + 1 > 2 AND round(y, 99) = 1 AND z LIKE 'q\\'"
    got = codes(text)
    assert got == ["E201", "E301", "E203", "E123"]
    spans = [text[d.span[0] : d.span[1]] for d in check(text)]
    assert spans == ["rond", "'a'", "99", "'q\\'"]


def test_unknown_function_arguments_are_still_checked():
    assert codes("rond('a' + 1)", Kind.VALUE) == ["E201", "E301"]


def test_null_unifies_with_every_type():
    for text, kind in [("a + null", Kind.VALUE), ("round(null, 2)", Kind.VALUE), ("NOT null", Kind.FILTER),
                       ("null", Kind.FILTER), ("x IN (1, null)", Kind.FILTER), ("coalesce(null, 'a')", Kind.GROUPING_KEY),
                       ("CASE WHEN null THEN null ELSE 1 END", Kind.VALUE), ("null LIKE 'a'", Kind.FILTER)]:  # fmt: skip
        assert [d for d in check(text, kind) if d.is_error] == [], text
        parse(text, kind)


def test_comparison_with_null_literal_warns_but_is_valid():
    diags = check("a = null", "filter")
    assert [(d.code, d.severity) for d in diags] == [("W301", Severity.WARNING)]
    assert parse("a = null", Kind.FILTER).type is B  # warnings never fail parse
    assert check("a IS NULL", "filter") == []


# --- schema ------------------------------------------------------------------------------------------------

SCHEMA = {"tokens": "number", "region": "string", "beta": "boolean", "my-key": "string"}


def test_schema_types_properties():
    assert reads("region = model_region_x OR tokens > 1", Kind.FILTER, schema={**SCHEMA, "model_region_x": "string"}) == {
        "region": S, "model_region_x": S, "tokens": N}  # fmt: skip
    assert reads("tokens = other", Kind.FILTER, schema={**SCHEMA, "other": "number"}) == {"tokens": N, "other": N}
    assert reads("tokens IS NULL", Kind.FILTER, schema=SCHEMA) == {"tokens": N}
    assert reads("beta", Kind.FILTER, schema=SCHEMA) == {"beta": B}
    assert reads('"my-key"', Kind.GROUPING_KEY, schema=SCHEMA) == {"my-key": S}
    assert reads("concat(tokens)", Kind.GROUPING_KEY, schema=SCHEMA) == {"tokens": N}  # converted to text


def test_schema_unknown_property_with_suggestion():
    (d,) = check("regon = 'eu'", "filter", SCHEMA)
    assert d.code == "E401" and d.message == "unknown property `regon`" and d.hints == ("did you mean `region`?",)
    assert d.span == (0, 5)
    (d,) = check("event.properties.tokenz > 1", "filter", SCHEMA)
    assert d.code == "E401" and d.hints == ("did you mean `tokens`?",)


def test_schema_type_mismatches():
    text = "region + 1 > 2 AND NOT tokens AND round(region) > 1 AND beta > 1"
    diags = check(text, "filter", SCHEMA)
    assert [d.code for d in diags] == ["E402", "E402", "E402", "E302"]
    assert [text[d.span[0] : d.span[1]] for d in diags[:3]] == ["region", "tokens", "region"]
    assert "declared as a string" in diags[0].message and "must be a number" in diags[0].message
    assert codes("region > 5", "filter", SCHEMA) == ["E302"]
    assert codes("tokens = 'x'", "filter", SCHEMA) == ["E302"]
    assert codes("tokens LIKE 'x%'", "filter", SCHEMA) == ["E402"]
    assert codes("tokens IN ('a')", "filter", SCHEMA) == ["E301"]


def test_without_schema_properties_are_never_unknown():
    assert check("anything_at_all > 1", "filter") == []


def test_invalid_schema_is_a_diagnostic():
    assert codes("a", "filter", {"a": "float"}) == ["E006"]
    assert codes("a", "filter", ["a"]) == ["E006"]
    assert codes("a", "filter", {1: "number"}) == ["E006"]
    assert check("a > 1", "filter", {"a": "NUMBER"}) == []  # type names are case-insensitive


# --- the verbs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, 12, b"a = 1", ["a"], 1.5, object()])
def test_non_string_input_is_a_diagnostic(bad):
    (d,) = check(bad, "filter")
    assert d.code == "E001" and d.line == 1 and d.column == 1
    with pytest.raises(ExpressionError):
        parse(bad, "filter")


def test_bad_arguments_are_diagnostics():
    assert codes("a", "flter") == ["E007"]
    assert codes("a", "value", expect="decimal") == ["E007"]
    assert codes("a", "value", limits={"max_length": 3}) == ["E007"]
    with pytest.raises(ExpressionError) as info:
        parse("a", "flter")
    assert info.value.diagnostics[0].code == "E007"


def test_internal_errors_become_a_diagnostic(monkeypatch):
    check_module = importlib.import_module("meterql.checker")  # `meterql.checker` is also the function

    def boom(self, node, target, strict, why):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(check_module._Checker, "typed", boom)
    _analyze.cache_clear()
    try:
        (d,) = check("a = 1", "filter")
        assert d.code == "E008" and "internal error" in d.message
        with pytest.raises(ExpressionError):
            parse("a = 2", "filter")
    finally:
        _analyze.cache_clear()


def test_parse_raises_one_error_with_every_diagnostic():
    with pytest.raises(ExpressionError) as info:
        parse("rond(x) + 'a'", "value")
    err = info.value
    assert isinstance(err, meterql.MeterqlError) and isinstance(err, ValueError)
    assert [d.code for d in err.diagnostics] == ["E201", "E301"]
    assert err.source == "rond(x) + 'a'"


def test_public_api_reexports():
    assert meterql.check("a = 1", "filter") == []
    assert meterql.check("a +", "value")[0].code == "E102"
    assert meterql.parse("a + 1").type is N
    assert meterql.Diagnostic is Diagnostic and meterql.Limits is Limits


def test_parse_is_cached():
    _analyze.cache_clear()
    first = parse("round(tokens * 1.5, 2)", "value")
    assert parse("round(tokens * 1.5, 2)", Kind.VALUE) is first
    assert parse("round(tokens * 1.5, 2)", "value", schema={"tokens": "number"}) is not first
    assert parse("round(tokens * 1.5, 2)", "value", schema={"tokens": "number"}) is parse(
        "round(tokens * 1.5, 2)", "value", schema={"tokens": "number"})  # fmt: skip
    start = time.perf_counter()
    for _ in range(1000):
        parse("round(tokens * 1.5, 2)", "value")
    assert (time.perf_counter() - start) / 1000 < 100e-6  # measured ~3 µs


def test_cache_keys_on_limits_and_expect():
    assert check("a + b + c", "value", limits=Limits(max_depth=2))[0].code == "E003"
    assert check("a + b + c", "value") == []
    assert parse("a", "value", expect="string").tree.type is S
    assert parse("a", "value").tree.type is N


# --- generated well-typed expressions (tests/strategies.py, shared with the differential tests) ----------


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([k.value for k in Kind]).flatmap(lambda k: st.tuples(st.just(k), expressions(k))))
def test_generated_well_typed_expressions_check_clean(kind_and_text):
    kind, text = kind_and_text
    errors = [d for d in check(text, kind) if d.is_error]
    # The generator writes well-typed text; its only deliberate mistakes are bad LIKE escapes.
    assert {d.code for d in errors} <= {"E123"}, [(d.code, d.message) for d in errors]
    if errors:
        return
    expression = parse(text, kind)
    for node in expression.tree.walk():
        assert not isinstance(node, ast.Property) and node.type is not Type.ANY
        if isinstance(node, ast.Read):
            assert node.type in (N, S, B)
        if isinstance(node, ast.Call):
            assert node.name in REGISTRY
    if kind == "filter":
        assert expression.type in (B, Type.NULL)
