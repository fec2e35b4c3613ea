"""Limit bombs (SPEC §7): any input, however long, deep or strange, yields diagnostics within
50 ms and never an exception. Times are CPU time (process_time) after a warm-up; each bomb is
run a few times and the best run is held to the bound (the machine is shared)."""

from __future__ import annotations

import statistics
import sys
import time

import pytest

from meterql.ast import Kind
from meterql.checker import _analyze, check, parse
from meterql.diagnostics import ExpressionError, Limits
from meterql.parser import parse_tree, parser

BOUND = 0.050  # seconds, SPEC §7

BOMBS: dict[str, tuple[str, str | None]] = {
    # name: (text, the code it must produce, or None when the text is valid)
    "100k chars": ("a" * 100_000, "E002"),
    "100k chars of operators": ("a+" * 50_000 + "a", "E002"),
    "50k nested parens": ("(" * 50_000 + "a" + ")" * 50_000, "E002"),
    "2k nested parens (fits the length)": ("(" * 2000 + "a" + ")" * 2000, "E004"),
    "49 nested parens": ("(" * 49 + "a" + ")" * 49, "E003"),
    "10k-term OR chain": (" OR ".join(["a"] * 10_000), "E002"),
    "800-term OR chain (fits the length)": (" OR ".join(["a"] * 800), "E003"),
    "4k-token sum": ("1+" * 2047 + "1", "E004"),
    "1.2k-token sum": ("1+" * 600 + "1", "E003"),
    "deeply nested calls": ("abs(" * 2000 + "1" + ")" * 2000, "E002"),
    "nested calls within the length": ("abs(" * 600 + "1" + ")" * 600, "E003"),
    "nested calls past the depth": ("abs(" * 60 + "1" + ")" * 60, "E003"),
    "huge IN list": ("x IN (" + ",".join(["1"] * 20_000) + ")", "E002"),
    "2k-item IN list (fits the length)": ("x IN (" + ",".join(["1"] * 2000) + ")", "E004"),
    "140-item IN list (valid)": ("x IN (" + ",".join(["1"] * 140) + ")", None),
    "500-item IN list (compiles too large)": ("x IN (" + ",".join(["1"] * 500) + ")", "E009"),
    "501-item IN list": ("x IN (" + ",".join(["1"] * 501) + ")", "E005"),
    "1k-item IN list (fits the token cap)": ("x IN (" + ",".join(["1"] * 1000) + ")", "E005"),
    "lone surrogates in literals": (" AND ".join(["'\ud800' = x AND \"\udfff\" = 'y'"] * 15), "E122"),
    "lone surrogate outside literals": ("a = \udfff", "E107"),
    "NUL bytes in literals": ("a = '\x00' AND \"\x00\" = 1", "E122"),
    "NUL byte outside literals": ("a = \x00", "E107"),
    "4096 quotes": ("'" * 4096, "E303"),
    "4095 quotes": ("'" * 4095, "E105"),
    "stray characters": ("@" * 4000, "E004"),
    "a few stray characters": ("a " + "@ " * 1000 + "b", "E107"),
    "NOT chain": ("NOT " * 1000 + "a", "E003"),
    "unary minus chain": ("-" * 4000 + "1", "E004"),
    "CASE with many WHENs": ("CASE " + "WHEN a THEN 1 " * 290 + "END", None),
    "huge number literal": ("9" * 4000, "E121"),
    "huge exponent": ("1e999999999999999999999", "E121"),
    "tiny exponent": ("1e-999999999999999999999", "E121"),
    "long string literal": ("a = '" + "x" * 4000 + "'", None),
    "long name": ("a" * 4096 + " = 1", "E002"),
    "long quoted name": ('"' + "k" * 4000 + '" = 1', None),
    "only whitespace": (" \n\t" * 1300, "E102"),
    "control characters": ("".join(chr(i) for i in range(32)) * 50, "E107"),
    "emoji soup": ("😀" * 4000, "E004"),
    "a few emoji": ("a = 😀" * 300, "E107"),
}


def timed(text: str, kind: str = "filter") -> tuple[float, list]:
    # The best of five runs in CPU time: what the work costs, not how busy the machine's other
    # processes are (on a loaded 2-core machine wall-clock medians passed 50 ms for 10 ms work).
    times = []
    diags: list = []
    for _ in range(5):
        _analyze.cache_clear()  # measure the real work, not the cache
        start = time.process_time()
        diags = check(text, kind)
        times.append(time.process_time() - start)
    return min(times), diags


@pytest.fixture(scope="module", autouse=True)
def warm_up():
    parser()
    check("a = 1 AND round(b, 2) > 1")


@pytest.mark.parametrize("name", list(BOMBS))
def test_bomb_yields_diagnostics_fast_and_never_raises(name):
    text, code = BOMBS[name]
    elapsed, diags = timed(text)
    assert elapsed < BOUND, f"{name}: {elapsed * 1000:.1f} ms"
    errors = [d.code for d in diags if d.is_error]
    if code is None:
        assert errors == [] or errors == ["E303"], errors  # valid syntax (maybe not a boolean)
    else:
        assert code in errors, (name, errors)
    if errors:
        with pytest.raises(ExpressionError) as info:
            parse(text, "filter")
        str(info.value).encode("utf-8")  # renders, printably


def test_the_worst_case_for_the_parser_stays_under_the_bound():
    # The token cap is what bounds Lark's work; an input just under it is the slowest case.
    limits = Limits()
    n = (limits.max_tokens - 1) // 2
    text = "+".join(["1"] * n)  # 2n-1 tokens, one character each
    assert len(text) <= limits.max_length
    elapsed, diags = timed(text, "value")
    assert elapsed < BOUND, f"{elapsed * 1000:.1f} ms"
    assert [d.code for d in diags] == ["E003"]


@pytest.mark.parametrize("kind", list(Kind))
def test_limits_are_configurable(kind):
    assert check("a" * 10, kind, limits=Limits(max_length=9))[0].code == "E002"
    assert check("a" * 10, kind, limits=Limits(max_length=10)) == [] or kind is Kind.FILTER
    assert check("(((a)))", kind, limits=Limits(max_depth=2))[0].code == "E003"  # parentheses count
    assert check("((a))", kind, limits=Limits(max_depth=2)) == [] or kind is Kind.FILTER
    assert check("abs(abs(a))", kind, limits=Limits(max_depth=2))[0].code == "E003"
    assert check("abs(abs(a))", kind, limits=Limits(max_depth=3)) == [] or kind is Kind.FILTER
    assert check("a + b", kind, limits=Limits(max_nodes=2))[0].code == "E004"
    assert [d.code for d in check("(x IN (1, 2, 3)) = true", kind, limits=Limits(max_in_items=2))] == ["E005"]


def test_limit_values_are_validated():
    with pytest.raises(ValueError):
        Limits(max_length=0)
    with pytest.raises(ValueError):
        Limits(max_depth=10_000)  # later stages recurse over the tree
    with pytest.raises(ValueError):
        Limits(max_nodes=True)


def test_max_depth_200_is_safe_for_the_checker():
    # The checker recurses (bounded by max_depth); at the largest allowed depth it must not
    # come near Python's recursion limit.
    limits = Limits(max_depth=200, max_nodes=5000, max_length=20_000)
    text = "abs(" * 199 + "1" + ")" * 199
    assert sys.getrecursionlimit() >= 1000
    assert check(text, "value", limits=limits) == []
    tree = parse(text, "value", limits=limits).tree
    assert tree.type == "number"
    text = "NOT " * 199 + "a"
    assert check(text, "filter", limits=limits) == []


def test_in_list_exactly_at_the_limit_is_accepted():
    limits = Limits(max_in_items=5)
    assert check("x IN (1, 2, 3, 4, 5)", "filter", limits=limits) == []
    (d,) = check("x IN (1, 2, 3, 4, 5, 6)", "filter", limits=limits)
    assert d.code == "E005" and "6 items" in d.message and d.span == (21, 22)


def test_the_parser_never_sees_over_length_input():
    r = parse_tree("(" * 100_000, Kind.FILTER)
    assert r.tree is None and [d.code for d in r.diagnostics] == ["E002"]


def test_typical_expressions_are_fast():
    exprs = [("region = 'eu' AND tokens > 10", "filter"), ("round(event.properties.tokens * 1.5, 2)", "value"),
             ("hour_floor_timestamp_millis(timestamp_millis)", "grouping_key"),
             ("model IN ('gpt-4', 'gpt-4o') AND NOT (region LIKE 'us-%')", "filter"),
             ("CASE WHEN tier = 'pro' THEN tokens * 2 ELSE tokens END", "value")]  # fmt: skip
    uncached, cached = [], []
    for _ in range(30):
        for text, kind in exprs:
            _analyze.cache_clear()
            t0 = time.perf_counter()
            parse(text, kind)
            t1 = time.perf_counter()
            parse(text, kind)
            t2 = time.perf_counter()
            uncached.append(t1 - t0)
            cached.append(t2 - t1)
    # measured ~150 µs uncached and ~3 µs cached on the dev machine; generous bounds for CI
    assert statistics.median(uncached) < 2e-3
    assert statistics.median(cached) < 50e-6
