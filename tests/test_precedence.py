"""Precedence round trip: for every pair of binary operators (and unary minus / NOT) in nested
positions, the compiled SQL evaluates on both engines exactly like the tree (the reference).

Hand-built sqlglot trees get no automatic parentheses (HAZARDS: `Sub(10, Sub(5, 2))` renders
`10 - 5 - 2`), so every shape here would expose a missing `exp.Paren`.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from conftest import load_events, new_chdb_database, run_expression
from meterql.checker import parse
from meterql.compiler import compile_tree, render
from meterql.evaluator import evaluate_tree
from meterql.values import normalize_event

ARITH = ["+", "-", "*", "/", "%"]
CMP = ["=", "!=", "<", "<=", ">", ">="]
BOOLS = [True, False, None]


def _events():
    out = []
    for i, (p, q, r) in enumerate(itertools.product(BOOLS, BOOLS, BOOLS)):
        props = {"a": Decimal(10 + i), "b": Decimal(5) - i % 4, "c": Decimal("2.5") if i % 2 else Decimal(3)}
        for k, v in zip("pqr", (p, q, r)):
            if v is not None:
                props[k] = v
        out.append(normalize_event({"event_id": f"e{i:02d}", "subject_id": "s", "event_name": "x",
                                    "timestamp": i, "properties": props}))
    return out


EVENTS = _events()


def _arith_shapes():
    for o1, o2 in itertools.product(ARITH, ARITH):
        yield f"a {o1} b {o2} c"
        yield f"a {o1} (b {o2} c)"
        yield f"(a {o1} b) {o2} c"
        yield f"10 {o1} (5 {o2} 2)"
        yield f"-(a {o1} b) {o2} c"
        yield f"- a {o1} - b {o2} c"


def _bool_shapes():
    ops = ["AND", "OR"]
    for o1, o2 in itertools.product(ops, ops):
        yield f"p {o1} q {o2} r"
        yield f"p {o1} (q {o2} r)"
        yield f"(p {o1} q) {o2} r"
        yield f"NOT (p {o1} q) {o2} r"
        yield f"NOT p {o1} NOT (q {o2} r)"
    for o1, c in itertools.product(ARITH, CMP):
        yield f"a {o1} b {c} c"
        yield f"a {c} b {o1} c"
        yield f"NOT a {o1} b {c} c OR p"
        yield f"p AND a {c} -b {o1} c"
    yield "NOT NOT p"
    yield "NOT p = q"
    yield "p = (q OR r)"
    yield "(p AND q) = (q OR r)"
    yield "a - b IN (5, 8, null) OR NOT q"
    yield "NOT a IN (10, 11) AND p"
    yield "-(a - b) IS NULL OR a - b IS NOT NULL AND q"
    yield "CASE WHEN p OR q THEN a - b ELSE b - a END > 0 AND r"
    yield "if(p AND q OR r, a - b * c, -(a - b)) >= 2"


@pytest.fixture(scope="module")
def engines(duck, chdb_client):
    db = new_chdb_database(chdb_client)
    load_events("duckdb", duck, EVENTS, table="prec")
    load_events("clickhouse", chdb_client, EVENTS, database=db, table="prec")
    yield {"duckdb": (duck, None), "clickhouse": (chdb_client, db)}
    chdb_client.command(f"DROP DATABASE IF EXISTS {db}")


def _check(engines, text: str, kind: str) -> None:
    expression = parse(text, kind)
    ref = {e.event_id: evaluate_tree(expression.tree, e) for e in EVENTS}
    for d, (conn, db) in engines.items():
        got = run_expression(d, conn, render(compile_tree(expression, d), d), database=db, table="prec")
        if expression.tree.type.value == "boolean":
            got = {k: None if v is None else bool(v) for k, v in got.items()}
        assert got == ref, f"{d}: {text!r}\n{render(compile_tree(expression, d), d)}"


@pytest.mark.parametrize("text", list(_arith_shapes()))
def test_arithmetic_precedence(engines, text):
    _check(engines, text, "value")


@pytest.mark.parametrize("text", list(_bool_shapes()))
def test_boolean_precedence(engines, text):
    _check(engines, text, "filter")


def test_reference_really_distinguishes_the_shapes():
    """The shapes above must not be equal by accident: `10 - (5 - 2)` is not `10 - 5 - 2`."""
    e = EVENTS[0]
    assert evaluate_tree(parse("10 - (5 - 2)", "value").tree, e) == Decimal(7)
    assert evaluate_tree(parse("10 - 5 - 2", "value").tree, e) == Decimal(3)
    assert evaluate_tree(parse("NOT (p OR q)", "filter").tree, EVENTS[9]) != evaluate_tree(parse("NOT p OR q", "filter").tree, EVENTS[9])
