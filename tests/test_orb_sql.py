"""Orb's SQL metrics through the grammar's `orb_metric` entry point (parser.parse_orb_metric,
meterql.orb_sql): the subset, what each aggregate means, diagnostics in SQL coordinates, and
hostile SQL — every input a clean answer (a Metric or one ExpressionError), never an exception."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from meterql.ast import Kind
from meterql.checker import check
from meterql.diagnostics import ExpressionError
from meterql.metric import Metric
from meterql.orb_sql import metric_from_sql, read_orb_sql
from meterql.parser import parse_orb_metric, parse_tree
from meterql.pricing.evaluation import evaluate_preview

GOOD = [
    ("SELECT count(*) FROM events", "count", None, None),
    ("select COUNT(*) from EVENTS where event_name = 'call'", "count", None, "event_name = 'call'"),
    ("SELECT sum(bytes * 2) FROM events WHERE region = 'eu' AND event_name = 'up'", "sum", "bytes * 2",
     "region = 'eu' AND event_name = 'up'"),
    ("SELECT min(latency_ms) FROM events", "min", "latency_ms", None),
    ("SELECT max(\"gpu hours\") FROM events", "max", '"gpu hours"', None),
    ("SELECT avg(round(x, 2)) FROM events WHERE x IS NOT NULL", "avg", "round(x, 2)", "x IS NOT NULL"),
    ("SELECT count(DISTINCT user_id) FROM events", "unique_count", "user_id", None),
    ("SELECT count(distinct properties.user) FROM events WHERE a IN (1, 2)", "unique_count", "properties.user",
     "a IN (1, 2)"),
    ("SELECT count(flag) FROM events", "count", None, "(flag) IS NOT NULL"),
    ("SELECT count(flag) FROM events WHERE a = 1", "count", None, "(a = 1) AND (flag) IS NOT NULL"),
    ("SELECT sum(x)\nFROM events\nWHERE note = 'a -- b; /* c */'", "sum", "x", "note = 'a -- b; /* c */'"),
]


@pytest.mark.parametrize("sql,aggregation,value,filter", GOOD)
def test_the_subset(sql, aggregation, value, filter):
    m = metric_from_sql(sql, "m1")
    assert (m.code, m.aggregation.value, m.value, m.filter, m.event_name) == ("m1", aggregation, value, filter, None)


def test_parse_returns_the_aggregation_and_trees_with_sql_spans():
    sql = "SELECT sum(a + 1) FROM events WHERE b = 'x'"
    r = parse_orb_metric(sql)
    assert r.ok and r.select.aggregation == "sum"
    assert sql[slice(*r.select.value.span)] == "a + 1" and sql[slice(*r.select.filter.span)] == "b = 'x'"
    # the same trees as the expression entry points give for the parts (spans shifted)
    assert type(r.select.value) is type(parse_tree("a + 1", Kind.VALUE).tree)


def test_select_from_where_are_keywords_only_in_a_metric():
    # A filter may still name properties `select`, `from`, `where`, `distinct`.
    assert check("select = 1 AND from > 2 AND where IS NULL AND distinct", Kind.FILTER) == []
    assert metric_from_sql('SELECT sum("from") FROM events WHERE "select" = 1', "m").value == '"from"'


def test_count_of_an_expression_counts_non_null_values():
    """SQL's count(x) counts the rows where x is not NULL: checked on the reference evaluator."""
    events = [{"event_id": f"e{i}", "subject_id": "s", "event_name": "c", "timestamp": 1000 * i, "properties": p}
              for i, p in enumerate([{"flag": 1}, {}, {"flag": None}, {"flag": "y"}], start=1)]
    m = metric_from_sql("SELECT count(flag) FROM events", "m")
    rows = evaluate_preview({"model": "unit", "unit_amount": "1", "metric": m}, events, 0, 10_000)
    assert [r.quantity for r in rows] == [Decimal(2)]


def _codes(sql):
    with pytest.raises(ExpressionError) as info:
        metric_from_sql(sql, "m")
    err = info.value
    assert err.source == sql
    for d in err.diagnostics:
        assert 0 <= d.span[0] <= d.span[1] <= len(sql)
    str(err)  # renders with a caret, never fails
    return [(d.code, sql[d.span[0]:d.span[1]], d.message) for d in err.diagnostics]


HOSTILE = [
    ("SELECT sum(x) FROM events; DROP TABLE events", ";", "`;`"),
    ("SELECT sum(x) FROM events WHERE a = 1; SELECT 1", ";", "`;`"),
    ("SELECT sum(x) FROM events WHERE a = 1 --2", "--", "comments"),
    ("SELECT sum(x) FROM events -- AND tenant = 'b'", "--", "comments"),
    ("SELECT sum(x) /* hi */ FROM events", "/*", "comments"),
    ("SELECT sum(x) FROM orders", "orders", "table `orders`"),
    ("SELECT sum(x) FROM system.tables", "system.tables", "table"),
    ("SELECT sum(x) FROM events JOIN users ON a = b", "JOIN", "`JOIN`"),
    ("SELECT sum(x) FROM events LEFT JOIN users ON a = b", "LEFT", "`JOIN`"),
    ("SELECT sum(x) FROM (SELECT * FROM events)", "(", "sub-queries"),
    ("SELECT sum(x) FROM events WHERE y IN (SELECT y FROM secrets)", "SELECT", "sub-queries"),
    ("SELECT sum(x), count(*) FROM events", ",", "several columns"),
    ("SELECT sum(x) FROM events GROUP BY region", "GROUP", "`GROUP BY`"),
    ("SELECT sum(x) FROM events ORDER BY x LIMIT 1", "ORDER", "`ORDER BY`"),
    ("SELECT sum(x) FROM events UNION SELECT sum(y) FROM events", "UNION", "`UNION`"),
    ("SELECT sum(x) AS total FROM events", "AS", "`AS`"),
    ("SELECT x FROM events", "x", "one aggregate"),
    ("SELECT sum(x) + 1 FROM events", "sum(x) + 1", "one aggregate"),
    ("SELECT file('/etc/passwd') FROM events", "file('/etc/passwd')", "not an aggregate"),
    ("SELECT max(DISTINCT x) FROM events", "max(DISTINCT x)", "DISTINCT"),
    ("SELECT sum(*) FROM events", "sum(*)", "count(*)"),
]


@pytest.mark.parametrize("sql,at,words", HOSTILE)
def test_sql_outside_the_subset_is_named(sql, at, words):
    found = _codes(sql)
    assert found[0][0] == "E130" and found[0][1] == at and words in found[0][2], found


def test_expression_diagnostics_keep_their_codes_spans_and_hints():
    sql = "SELECT sum(rond(x)) FROM events WHERE a = "
    with pytest.raises(ExpressionError) as info:
        metric_from_sql(sql, "m")
    d = info.value.diagnostics[0]
    assert d.code == "E102" and d.span == (len(sql), len(sql))  # the WHERE part: end of input
    sql = "SELECT sum(rond(x)) FROM events"
    with pytest.raises(ExpressionError) as info:
        metric_from_sql(sql, "m")
    d = info.value.diagnostics[0]
    assert d.code == "E201" and sql[slice(*d.span)] == "rond" and any("round" in h for h in d.hints)
    # the same code and hint as the expression alone, moved to the metric's coordinates
    alone = check("rond(x)", Kind.VALUE)[0]
    assert (alone.code, alone.hints) == (d.code, d.hints) and d.span == (alone.span[0] + 11, alone.span[1] + 11)
    errs = _codes("SELECT sum('a') FROM events")
    assert errs[0][0] == "E304" and errs[0][1] == "'a'"
    assert _codes("SELECT count(*) FROM events WHERE 'eu'")[0][:2] == ("E303", "'eu'")


def test_syntax_errors_name_sql_keywords():
    assert "`FROM`" in _codes("SELECT sum(x)")[0][2]
    assert _codes("SELECT sum(x) FROM events WHERE")[0][0] == "E102"
    assert _codes("")[0][0] in ("E101", "E102")
    assert _codes("DROP TABLE events")[0][0] == "E101"


def test_limits_and_strange_input_are_clean_and_fast():
    bad = [
        "SELECT sum(x) FROM events WHERE " + "(" * 5000 + "a" + ")" * 5000,
        "SELECT sum(x) FROM events WHERE " + " OR ".join(f"a = {i}" for i in range(3000)),
        "SELECT sum(x) FROM events WHERE a IN (" + ",".join(map(str, range(5000))) + ")",
        "x" * 100_000, "SELECT sum(x) FROM events WHERE a = '", 'SELECT sum("x) FROM events', "\x00\u202e;",
        "SELECT sum(x) FROM events WHERE a = 1e999999999", "SELECT count(DISTINCT) FROM events",
    ]
    for sql in bad:
        t0 = time.perf_counter()
        with pytest.raises(ExpressionError):
            metric_from_sql(sql, "m")
        assert time.perf_counter() - t0 < 0.5, sql[:40]
    assert not parse_orb_metric(None).ok  # type: ignore[arg-type]


def test_a_metric_from_sql_equals_the_same_metric_written_directly():
    m = metric_from_sql("SELECT sum(n) FROM events WHERE event_name = 'call'", "m")
    assert m == Metric.from_dict({"code": "m", "aggregation": "sum", "value": "n", "filter": "event_name = 'call'"})
    assert read_orb_sql("SELECT count(*) FROM events").value is None
