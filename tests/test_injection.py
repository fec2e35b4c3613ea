"""Injection fuzzing (SPEC §8): customer text never reaches SQL as SQL.

- hostile string literals and property keys round-trip exactly through both engines;
- the compiled SQL is exactly one statement (parsing our OWN output with sqlglot, in a test);
- a walk of every compiled tree finds only allowlisted node types and function names.
"""

from __future__ import annotations

import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from conftest import load_events, new_chdb_database, run_expression
from meterql.checker import parse
from meterql.compiler import compile_tree, render
from meterql.diagnostics import ExpressionError
from meterql.values import normalize_event
from strategies import expressions

DIALECTS = ("duckdb", "clickhouse")

HOSTILE = ["'; DROP TABLE events; --", "' OR 1=1 --", "\\", "\\'", "''", "*", "$", "$..", "..", "",
           "a\nb", "\t", "%", "_", "{s:String}", "%(name)s", "?", "$1", "`x`", "\"x\"", "]", "[",
           "'); SELECT file('/etc/passwd'); --", "\\\\'", "ünï €😀", "\u2028", "x' || (SELECT 1) || '"]

# Anything outside these lists in a compiled tree is a finding (a new node kind or function must
# be added here deliberately, after checking it cannot carry customer text as SQL).
ALLOWED_NODES = {
    exp.Column, exp.Identifier, exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Cast, exp.DataType,
    exp.DataTypeParam, exp.Bracket, exp.Anonymous, exp.Array, exp.Lambda, exp.Add, exp.Sub, exp.Mul,
    exp.Div, exp.Mod, exp.Neg, exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.And, exp.Or,
    exp.Not, exp.Is, exp.Case, exp.If, exp.Coalesce, exp.Like, exp.Escape,
}
ALLOWED_FUNCTIONS = {
    "toDecimal256", "toInt256", "toString", "toNullable", "ifNull", "throwIf", "arrayMap", "list_transform",
    "abs", "round", "ceil", "floor", "trunc", "nullif", "nullIf", "least", "greatest", "concat",
    "coalesce", "lower", "upper", "translate", "length", "lengthUTF8", "match", "regexp_full_match",
    "regexp_matches", "regexp_replace", "replaceRegexpOne", "replaceRegexpAll", "intDiv", "divide",
    "meterql_div", "epoch_ms", "date_trunc", "toDecimal128",
}


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _key(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def assert_safe_tree(tree: exp.Expression, dialect: str) -> None:
    for node in tree.walk():
        assert type(node) in ALLOWED_NODES, f"{dialect}: unexpected node {type(node).__name__}: {node.sql(dialect)[:200]}"
        if isinstance(node, exp.Anonymous):
            assert node.name in ALLOWED_FUNCTIONS, f"{dialect}: unexpected function {node.name!r}"
        if isinstance(node, exp.Literal) and not node.is_string:
            assert node.this.isdigit(), f"{dialect}: numeric literal from text {node.this!r}"


def assert_one_statement(sql: str, dialect: str) -> None:
    statements = sqlglot.parse(f"SELECT {sql} FROM events", read=dialect)
    assert len(statements) == 1 and isinstance(statements[0], exp.Select), sql[:500]


@settings(max_examples=60, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                                                            max_size=12)), min_size=1, max_size=6))
def test_hostile_literals_and_keys_round_trip(duck, chdb_client, texts):
    db = new_chdb_database(chdb_client)
    try:
        table = "inj"
        props = {t: t for t in texts}
        events = [normalize_event({"event_id": "e", "subject_id": "s", "event_name": "n", "timestamp": 0, "properties": props})]
        duck.execute("DROP TABLE IF EXISTS inj")
        load_events("duckdb", duck, events, table=table)
        load_events("clickhouse", chdb_client, events, database=db, table=table)
        for t in texts:
            for text, want in [(_quote(t), t), (_key(t), t), (f"concat({_quote(t)}, {_key(t)})", t + t),
                               (f"if({_key(t)} = {_quote(t)}, 'same', 'different')", "same")]:
                expression = parse(text, "grouping_key")
                for d, (conn, dbn) in {"duckdb": (duck, None), "clickhouse": (chdb_client, db)}.items():
                    tree = compile_tree(expression, d)
                    assert_safe_tree(tree, d)
                    sql = render(tree, d)
                    assert_one_statement(sql, d)
                    got = run_expression(d, conn, sql, database=dbn, table=table)["e"]
                    assert got == want, (d, text, got, want)
    finally:
        chdb_client.command(f"DROP DATABASE IF EXISTS {db}")


@settings(max_examples=300, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["filter", "value", "grouping_key"]).flatmap(lambda k: st.tuples(st.just(k), expressions(k))))
def test_generated_expressions_compile_to_one_safe_statement(case):
    kind, text = case
    try:
        expression = parse(text, kind)
    except ExpressionError:
        return
    for d in DIALECTS:
        tree = compile_tree(expression, d)
        assert_safe_tree(tree, d)
        assert_one_statement(render(tree, d), d)


def test_allowlist_walk_catches_a_foreign_node():
    """The allowlist check itself must be able to fail."""
    bad = exp.Anonymous(this="file", expressions=[exp.Literal.string("/etc/passwd")])
    try:
        assert_safe_tree(bad, "clickhouse")
    except AssertionError:
        return
    raise AssertionError("allowlist accepted file()")
