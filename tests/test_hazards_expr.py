"""One named test per expression hazard of ../shared/HAZARDS.md (and those the differential test
found), each on both real engines and against the reference evaluator. A test here fails if the
hazard comes back, e.g. after a DuckDB, ClickHouse or sqlglot upgrade.
"""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest
from sqlglot import exp

from conftest import load_events, new_chdb_database, new_duckdb, run_expression
from meterql import ast
from meterql.ast import BinaryOp, Type, UnaryOp
from meterql.checker import parse
from meterql.compiler import compile_sql, compile_tree, render
from meterql.diagnostics import ExpressionError
from meterql.dialects import OVERFLOW_MARKER, is_overflow_error
from meterql.errors import NumericOverflow
from meterql.evaluator import evaluate_tree
from meterql.values import normalize_event

DIALECTS = ("duckdb", "clickhouse")
_TABLES = itertools.count()


class Engines:
    def __init__(self, duck, chdb_client, db):
        self.conns = {"duckdb": (duck, None), "clickhouse": (chdb_client, db)}

    def load(self, props: list[dict], ts: list[int] | None = None) -> tuple[str, list]:
        table = f"hz{next(_TABLES)}"
        events = [normalize_event({"event_id": f"e{i:03d}", "subject_id": "s", "event_name": "x",
                                   "timestamp": (ts[i] if ts else i), "properties": p}) for i, p in enumerate(props)]
        for d, (conn, db) in self.conns.items():
            load_events(d, conn, events, database=db, table=table)
        return table, events

    def run(self, text: str, props: list[dict], kind: str = "value", ts: list[int] | None = None) -> dict:
        """{"reference": [...], "duckdb": [...], "clickhouse": [...]}; an error is the exception."""
        table, events = self.load(props, ts)
        expression = parse(text, kind)
        out: dict = {}
        try:
            out["reference"] = [evaluate_tree(expression.tree, e) for e in events]
        except NumericOverflow as exc:
            out["reference"] = exc
        for d, (conn, db) in self.conns.items():
            try:
                got = run_expression(d, conn, render(compile_tree(expression, d), d), database=db, table=table)
                vals = [got[e.event_id] for e in events]
                if expression.tree.type is Type.BOOLEAN:
                    vals = [None if v is None else bool(v) for v in vals]
                out[d] = vals
            except Exception as exc:  # noqa: BLE001 — returned for the test to judge
                out[d] = exc
        return out

    def expect(self, text: str, props: list[dict], expected: list, kind: str = "value", ts=None) -> None:
        out = self.run(text, props, kind, ts)
        for who, vals in out.items():
            assert not isinstance(vals, Exception), f"{who} raised on {text!r}: {vals}"
            assert [_norm(v) for v in vals] == [_norm(v) for v in expected], f"{who} on {text!r}: {vals} != {expected}"
            for v, e in zip(vals, expected):  # exact: Decimal vs Decimal, never a float
                assert type(v) is type(e) or (isinstance(e, bool) and v in (0, 1)), (who, text, v, e)

    def expect_overflow(self, text: str, props: list[dict], kind: str = "value") -> None:
        out = self.run(text, props, kind)
        assert isinstance(out["reference"], NumericOverflow), out
        for d in DIALECTS:
            assert isinstance(out[d], Exception), f"{d} did not fail on {text!r}: {out[d]}"
            assert is_overflow_error(str(out[d]), d), f"{d}: not an overflow error: {out[d]}"


def _norm(v):
    return ("D", v.normalize()) if isinstance(v, D) else v


@pytest.fixture(scope="module")
def eng(duck, chdb_client):
    db = new_chdb_database(chdb_client)
    yield Engines(duck, chdb_client, db)
    chdb_client.command(f"DROP DATABASE IF EXISTS {db}")


# --- numbers ------------------------------------------------------------------------------------


def test_float_literals_are_typed_decimals(eng):
    # C reads 1.005 as Float64: 1.005 * 6 = 6.0299999994, round(1.005, 2) = 1.00.
    eng.expect("1.005 * 6", [{}], [D("6.03")])
    eng.expect("round(1.005, 2)", [{}], [D("1.01")])
    eng.expect("362.881 + 0", [{}], [D("362.881")])
    for d in DIALECTS:
        tree = compile_tree(parse("round(1.005 * x, 2)", "value"), d)
        numeric = [lit.this for lit in tree.find_all(exp.Literal) if not lit.is_string]
        assert all(t.isdigit() for t in numeric), numeric  # only our integer scale/digits arguments


def test_round_is_half_away_from_zero_not_bankers(eng):
    eng.expect("round(x)", [{"x": D("2.5")}, {"x": D("-2.5")}, {"x": D("0.5")}, {"x": D("3.5")}],
               [D(3), D(-3), D(1), D(4)])
    eng.expect("round(x, 2)", [{"x": D("0.125")}, {"x": D("-0.125")}, {"x": D("1.005")}], [D("0.13"), D("-0.13"), D("1.01")])
    eng.expect("round(x, -1)", [{"x": D("25")}, {"x": D("-35")}], [D(30), D(-40)])


def test_ceil_floor_with_digits(eng):
    # D has no ceil(x, d); C's must stay on Decimal.
    xs = [{"x": D("1.21")}, {"x": D("-1.21")}, {"x": D("1.2")}, {"x": D("-0.000000000001")}, {"x": D("15")}]
    eng.expect("ceil(x, 1)", xs, [D("1.3"), D("-1.2"), D("1.2"), D(0), D(15)])
    eng.expect("floor(x, 1)", xs, [D("1.2"), D("-1.3"), D("1.2"), D("-0.1"), D(15)])
    eng.expect("ceil(x, -1)", xs, [D(10), D(0), D(10), D(0), D(20)])
    eng.expect("floor(x, -1)", xs, [D(0), D(-10), D(0), D(-10), D(10)])


def test_decimal_overflow_is_an_error_not_a_wrap(eng):
    # C Decimal128 overflow is silent (5e9 × 1e9 at scale 10 wrapped); we must fail loudly.
    eng.expect_overflow("x * y", [{"x": D("1e20"), "y": D("1e10")}])
    eng.expect_overflow("x + x", [{"x": D("60000000000000000000000000")}])
    eng.expect_overflow("x - y", [{"x": D("-60000000000000000000000000"), "y": D("60000000000000000000000000")}])
    eng.expect_overflow("x", [{"x": D("1e30")}])  # a property beyond 10^26 fails when read
    eng.expect_overflow("round(x, -1)", [{"x": D("99999999999999999999999999.5")}])
    eng.expect_overflow("x / y", [{"x": D("1e25"), "y": D("0.01")}])


def test_overflow_marker_reaches_the_client(eng):
    out = eng.run("x * y", [{"x": D("1e20"), "y": D("1e10")}])
    assert OVERFLOW_MARKER in str(out["clickhouse"])
    out = eng.run("x / y", [{"x": D("1e20"), "y": D("1e-6")}])
    assert OVERFLOW_MARKER in str(out["clickhouse"]) and is_overflow_error(str(out["duckdb"]), "duckdb")
    from meterql.dialects.duckdb import meterql_div  # the DuckDB division UDF raises the marker

    with pytest.raises(ArithmeticError, match=OVERFLOW_MARKER):
        meterql_div(D("99999999999999999999999999"), D("0.000000000001"))


def test_product_scale_does_not_overflow_below_the_limit(eng):
    # D DECIMAL(38,12)·DECIMAL(38,12) has scale 24 and fails from 10^14; nested products need
    # "scale 40" on both engines unless rescaled after each `*`.
    x = D("123456789012345.5")
    eng.expect("x * 1000000", [{"x": x}], [x * 1000000])
    eng.expect("x * x", [{"x": D("9999999999999.999999999999")}], [D("99999999999999999999999980")])  # (10^13 − 10^−12)² rounded
    eng.expect("x * x * x * x", [{"x": D("1.000000000001")}], [D("1.000000000004")])
    eng.expect("x * y", [{"x": D("-0.000000000001"), "y": D("0.5")}], [D("-0.000000000001")])  # half away from zero
    eng.expect("x * y", [{"x": D("-12345678.123456789012"), "y": D("-8765432.987654321098")}],
               [(D("-12345678.123456789012") * D("-8765432.987654321098")).quantize(D("1e-12"))])


def test_decimal_division_is_exact(eng):
    # D DECIMAL / DECIMAL is DOUBLE; C truncates to the dividend's scale.
    rows = [{"x": D(1), "y": D(3)}, {"x": D(2), "y": D(3)}, {"x": D(-2), "y": D(3)}, {"x": D(1), "y": D(0)},
            {"x": D("12345678901234567890.123456789012"), "y": D(7)},  # beyond the HUGEINT fast path
            {"x": D("9999999999999.999999999999"), "y": D("0.000000000003")},
            {"x": D("0.000000000001"), "y": D(2)}, {"x": D("-0.000000000001"), "y": D(2)}]
    from meterql import numbers
    expected = [numbers.div(r["x"], r["y"]) for r in rows]
    assert expected[0] == D("0.333333333333") and expected[1] == D("0.666666666667") and expected[3] is None
    eng.expect("x / y", rows, expected)


def test_modulo_sign_of_dividend_and_by_zero(eng):
    rows = [{"x": D("-7.5"), "y": D(2)}, {"x": D("7.5"), "y": D(-2)}, {"x": D(1), "y": D(0)}, {"x": D("0.3"), "y": D("0.1")}]
    eng.expect("x % y", rows, [D("-1.5"), D("1.5"), None, D(0)])


def test_big_integers_are_exact(eng):
    # Any double path loses digits: 9007199254740993 → …992, 99999999999999999999 → 1e20.
    rows = [{"x": 9007199254740993}, {"x": 99999999999999999999}, {"x": "12345678901234567890123"}]
    eng.expect("x + 1", rows, [D(9007199254740994), D(100000000000000000000), D("12345678901234567890124")])
    eng.expect("to_string(x)", rows, ["9007199254740993", "99999999999999999999", "12345678901234567890123"], kind="grouping_key")


# --- properties ---------------------------------------------------------------------------------


def test_missing_keys_are_null_not_empty_or_zero(eng):
    # C JSONExtract gives ''/0 for a missing key: avg, min, count and NOT IN all changed.
    rows = [{"t": 10}, {}]
    eng.expect("t", rows, [D(10), None])
    eng.expect("t IS NULL", rows, [False, True], kind="filter")
    eng.expect("NOT (model IN ('a', 'b'))", [{"model": "c"}, {}], [True, None], kind="filter")
    eng.expect("coalesce(t, -1)", rows, [D(10), D(-1)])


def test_numeric_strings_follow_the_spec_grammar(eng):
    # " 3 " and "1_000" parse on D, not on C; the SPEC grammar says neither is a number.
    texts = [" 3 ", "1_000", "1e3", "+5", ".5", "5.", "NaN", "inf", "-0", "0x10", "1.0000000000005", "٣"]
    expected = [None, None, D(1000), D(5), D("0.5"), D(5), None, None, D(0), None, D("1.000000000001"), None]
    eng.expect("x", [{"x": t} for t in texts], expected)
    eng.expect("to_number(x)", [{"x": t} for t in texts], expected)


def test_string_values_have_no_json_quotes(eng):
    # C JSONExtractRaw keeps the quotes of a string ('"2"'), so its decimal parse is NULL.
    eng.expect("x + 0", [{"x": "2"}], [D(2)])
    eng.expect("concat('[', x, ']')", [{"x": "2"}, {"x": D("2.50")}, {"x": True}], ["[2]", "[2.5]", "[true]"], kind="grouping_key")


def test_odd_keys_are_exact_map_keys(eng):
    # D's JSON path `$."*"` is a wildcard; C's empty key returned the whole document.
    rows = [{"*": "star", "$..": "dots", "a": "plain", "it's": "quote", "back\\slash": "bs", "say \"hi\"": "dq"}]
    for key, want in [("*", "star"), ("$..", "dots"), ("it's", "quote"), ("back\\slash", "bs"), ('say "hi"', "dq")]:
        quoted = '"' + key.replace('"', '""') + '"'
        eng.expect(quoted, rows, [want], kind="grouping_key")
    eng.expect('"x.y"', [{"x": "outer", "x.y": "flat"}], ["flat"], kind="grouping_key")


def test_backslashes_and_quotes_round_trip(eng):
    # C escapes backslash in literals, D does not; sqlglot must render each correctly.
    for s in ["a\\b", "\\", "'", "\\'", "a''b", "%_\\%", "line\nbreak", "ünï €"]:
        quoted = "'" + s.replace("'", "''") + "'"
        eng.expect(f"concat({quoted}, x)", [{"x": s}], [s + s], kind="grouping_key")


def test_like_hostile_patterns(eng):
    # C and D disagree on `\a` and both raise on a trailing backslash: patterns are normalised.
    subjects = ["a%b", "a_b", "axb", "a\\b", "a\nb", "ünï", "x\\", "", "%", "ab"]
    from meterql.evaluator import like

    for pattern in ["a\\%b", "a\\_b", "a_b", "a%", "%\\\\%", "a\\b", "_\n_", "___", "x\\", "\\a%", "%", "", "%%", "ü__"]:
        quoted = "'" + pattern.replace("'", "''") + "'"
        expected = [like(s, pattern) for s in subjects]
        try:  # the checker refuses escapes other than \%, \_, \\ in a literal pattern (E123)
            parse(f"x LIKE {quoted}", "filter")
            eng.expect(f"x LIKE {quoted}", [{"x": s} for s in subjects], expected, kind="filter")
        except ExpressionError as exc:
            assert exc.diagnostics[0].code == "E123", exc
        # the same pattern arriving at run time (a property), through the engines' LIKE
        eng.expect("x LIKE p", [{"x": s, "p": pattern} for s in subjects], expected, kind="filter")


def test_lower_upper_are_ascii_only(eng):
    rows = [{"x": "ÄB ß İ σς Ab"}]
    eng.expect("lower(x)", rows, ["Äb ß İ σς ab"], kind="grouping_key")
    eng.expect("upper(x)", rows, ["ÄB ß İ σς AB"], kind="grouping_key")
    eng.expect("length(x)", [{"x": "é"}, {"x": "e\u0301"}, {"x": "😀"}], [D(1), D(2), D(1)])


def test_number_text_is_canonical(eng):
    # D VARCHAR of DECIMAL keeps trailing zeros; C's depends on a setting.
    rows = [{"x": D("1.50")}, {"x": D("-0.0")}, {"x": D(100)}, {"x": D("0.000001")}, {"x": D("-4")},
            {"x": D("12345678901234567890.5")}, {"x": D("1E+3")}]
    eng.expect("to_string(x)", rows, ["1.5", "0", "100", "0.000001", "-4", "12345678901234567890.5", "1000"], kind="grouping_key")
    eng.expect("to_string(x > 1)", [{"x": 2}, {"x": 0}, {}], ["true", "false", None], kind="grouping_key")


# --- time ---------------------------------------------------------------------------------------

HOUR, DAY = 3_600_000, 86_400_000


def test_negative_floors_are_true_floors(eng):
    # `ms - ms % n` is not a floor for negative ms (−1 → 0 instead of −3600000).
    ts = [-1, -HOUR, -HOUR - 1, 0, HOUR - 1, -2208988800000 + 1]
    eng.expect("hour_floor_timestamp_millis(timestamp_millis)", [{}] * len(ts),
               [D(-HOUR), D(-HOUR), D(-2 * HOUR), D(0), D(0), D(-2208988800000)], ts=ts)
    eng.expect("day_floor_timestamp_millis(timestamp_millis)", [{}] * 3, [D(-DAY), D(-DAY), D(0)], ts=[-1, -DAY, 5])
    eng.expect("hour_floor_timestamp_millis(x)", [{"x": D("-0.5")}, {"x": D("3600000.9")}], [D(-HOUR), D(HOUR)])


def test_weeks_start_monday_utc(eng):
    # C toStartOfWeek is Sunday-based by default.
    thursday, sunday, monday = 0, 3 * DAY + 5, 4 * DAY  # 1970-01-01 Thu, 01-04 Sun, 01-05 Mon
    eng.expect("week_floor_timestamp_millis(timestamp_millis)", [{}] * 3, [D(-3 * DAY), D(-3 * DAY), D(4 * DAY)],
               ts=[thursday, sunday, monday])


def test_month_floor_on_the_calendar(eng):
    # 1900-01-15, 2000-02-29 12:00, 1969-12-31 23:59:59.999, 2261-12-31
    ts = [-2208988800000 + 14 * DAY, 951825600000, -1, 9214646399999]
    want = [D(-2208988800000), D(949363200000), D(-2678400000), D(9211968000000)]  # 1900-01-01, 2000-02-01, 1969-12-01, 2261-12-01
    eng.expect("month_floor_timestamp_millis(timestamp_millis)", [{}] * 4, want, ts=ts)


def test_time_buckets_do_not_use_intdiv(eng):
    # sqlglot IntDiv renders CAST(a / b AS INT): Float64 and Int32 on C, toward zero.
    for d in DIALECTS:
        for f in ("hour", "day", "week", "month"):
            tree = compile_tree(parse(f"{f}_floor_timestamp_millis(timestamp_millis)", "value"), d)
            assert not list(tree.find_all(exp.IntDiv)), (d, f)
            assert not list(tree.find_all(exp.Div)), (d, f)
    eng.expect("hour_floor_timestamp_millis(x)", [{"x": D("123456789012345678901")}], [D("123456789012344400000")])


def test_session_time_zone_changes_nothing(eng, chdb_client):
    table, events = eng.load([{}] * 3, ts=[-1, 0, 951825600000])
    sql = {d: compile_sql("month_floor_timestamp_millis(timestamp_millis)", "value", d) for d in DIALECTS}
    duck, _ = eng.conns["duckdb"]
    duck.execute("SET TimeZone = 'Asia/Kathmandu'")
    try:
        got_d = run_expression("duckdb", duck, sql["duckdb"], table=table)
    finally:
        duck.execute("SET TimeZone = 'UTC'")
    conn, db = eng.conns["clickhouse"]
    rows = conn.query(f"SELECT event_id, {sql['clickhouse']} FROM {db}.{table} ORDER BY event_id",
                      settings={"session_timezone": "Asia/Kathmandu"}).result_rows
    want = [D(-2678400000), D(0), D(949363200000)]
    assert list(got_d.values()) == want and [r[1] for r in rows] == want


# --- sqlglot ------------------------------------------------------------------------------------


def test_hand_built_trees_get_parentheses(eng):
    # `Sub(10, Sub(5, 2))` renders `10 - 5 - 2` unless children are wrapped in exp.Paren.
    def lit(v):
        return ast.Literal(span=(0, 0), type=Type.NUMBER, value=D(v))

    def b(v):
        return ast.Read(span=(0, 0), type=Type.BOOLEAN, key=v)

    trees = [
        (ast.Binary(span=(0, 0), type=Type.NUMBER, op=BinaryOp.SUB, left=lit(10),
                    right=ast.Binary(span=(0, 0), type=Type.NUMBER, op=BinaryOp.SUB, left=lit(5), right=lit(2))), D(7)),
        (ast.Unary(span=(0, 0), type=Type.NUMBER, op=UnaryOp.NEG,
                   operand=ast.Binary(span=(0, 0), type=Type.NUMBER, op=BinaryOp.SUB, left=lit(2), right=lit(5))), D(3)),
        (ast.Unary(span=(0, 0), type=Type.BOOLEAN, op=UnaryOp.NOT,
                   operand=ast.Binary(span=(0, 0), type=Type.BOOLEAN, op=BinaryOp.OR, left=b("p"), right=b("q"))), False),
        (ast.Binary(span=(0, 0), type=Type.BOOLEAN, op=BinaryOp.AND, left=b("q"),
                    right=ast.Binary(span=(0, 0), type=Type.BOOLEAN, op=BinaryOp.OR, left=b("p"), right=b("p"))), False),
    ]
    table, events = eng.load([{"p": True, "q": False}])
    for tree, want in trees:
        assert evaluate_tree(tree, events[0]) == want
        for d, (conn, db) in eng.conns.items():
            got = run_expression(d, conn, render(compile_tree(tree, d), d), database=db, table=table)["e000"]
            assert (bool(got) if isinstance(want, bool) else got) == want, (d, render(compile_tree(tree, d), d))


def test_builders_never_parse_customer_text():
    # exp.Literal.number / exp.func / exp.condition would splice `1 OR 1=1` in as SQL.
    for d in DIALECTS:
        tree = compile_tree(parse("x = '1 OR 1=1' OR \"a) OR (1=1\" = '(SELECT 1)'", "filter"), d)
        assert len(list(tree.find_all(exp.Or))) == 1
        assert not list(tree.find_all(exp.Select))
        strings = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
        assert {"1 OR 1=1", "a) OR (1=1", "(SELECT 1)"} <= strings


def test_depth_limits_stop_input_before_the_engines():
    # D max_expression_depth 1000, C max_parser_depth 1000, sqlglot's generator ~165 levels:
    # the deepest accepted expression still compiles and runs, deeper ones are refused cleanly.
    duck = new_duckdb()
    from conftest import chdb

    client = chdb()
    db = new_chdb_database(client)
    load_events("duckdb", duck, [{"event_id": "e", "subject_id": "s", "event_name": "n", "timestamp": 0,
                                  "properties": {"x": 1}}])
    load_events("clickhouse", client, [{"event_id": "e", "subject_id": "s", "event_name": "n", "timestamp": 0,
                                        "properties": {"x": 1}}], database=db)
    accepted = 0
    for depth in (10, 30, 47, 48, 49, 200):
        for shape in ("(" * depth + "x" + " * x)" * depth, "(" * depth + "x" + " / x)" * depth,
                      "(" * depth + "x" + " * 1.5)" * depth, "hour_floor_timestamp_millis(" * depth + "x" + ")" * depth,
                      "(" * depth + "x IS NULL OR x > 1" + ") OR x IS NULL" * depth, "round(" * depth + "x" + ")" * depth,
                      "-(" * depth + "x" + ")" * depth, "to_number(to_string(" * (depth // 2) + "x" + "))" * (depth // 2)):
            try:
                expression = parse(shape, "filter" if "IS NULL" in shape else "value")
            except ExpressionError:
                continue
            accepted += 1
            for d, conn, dbn in (("duckdb", duck, None), ("clickhouse", client, db)):
                try:
                    sql = render(compile_tree(expression, d), d)
                except ExpressionError as exc:
                    assert exc.diagnostics[0].code == "E004"
                    continue
                got = run_expression(d, conn, sql, database=dbn)["e"]
                want = evaluate_tree(expression.tree, {"timestamp": 0, "properties": {"x": 1}})
                assert (bool(got) if isinstance(want, bool) else got) == want, (d, shape[:40])
    assert accepted >= 8
    client.command(f"DROP DATABASE IF EXISTS {db}")


def test_is_null_does_not_skip_an_overflow(eng):
    # Found by the differential test: both optimizers fold `x IS NULL` to FALSE for an x they
    # prove non-NULL, without evaluating x — an overflow inside x went unreported.
    eng.expect_overflow("(x * 1e20 * 1e20) IS NULL", [{"x": 1}], kind="filter")
    eng.expect_overflow("(timestamp_millis + 99999999999999999999999999 + 99999999999999999999999999) IS NOT NULL", [{}], kind="filter")


def test_longest_in_list_stays_within_engine_parser_depth(eng):
    # A left-deep OR chain of 1000 equalities passed C max_parser_depth (1000) and D
    # max_expression_depth (1000); the IN list compiles to a balanced OR tree.
    # The longest lists the default limits accept (max_in_items, and max_cost: E009).
    from meterql.checker import check

    def longest(text_of) -> int:
        lo, hi = 1, 10_000
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if not check(text_of(mid), "filter") else (lo, mid)
        return lo

    def numbers(k: int) -> str:
        return f"x IN ({', '.join(str(i) for i in range(k))})"

    def strings(k: int) -> str:
        return f"s NOT IN ({', '.join(repr(str(i)) for i in range(k))})"

    n = longest(numbers)
    eng.expect(numbers(n), [{"x": n - 1}, {"x": n}, {}], [True, False, None], kind="filter")
    eng.expect(strings(longest(strings)), [{"s": "5"}, {"s": "x"}], [False, True], kind="filter")


def test_to_number_with_huge_exponents(eng):
    # Both engines' parsers fail on a 20-digit exponent ("Cannot parse exponent"); the reference
    # reads such text as beyond 10^26 (an overflow) or as 0. Exponents are clamped to ±9999.
    eng.expect("to_number(x)", [{"x": "1e-3100000000000000000000"}, {"x": "1E00012"}, {"x": "25e-00013"}],
               [D(0), D(10**12), D("0.000000000003")])
    eng.expect_overflow("to_number(x)", [{"x": "1e3100000000000000000000"}])
    # C toDecimal256 of a Nullable(String) turned "Decimal value is too big" into a silent NULL.
    eng.expect_overflow("to_number(x)", [{"x": "1e500"}])
    # A zero mantissa is 0 whatever its exponent: C's parser called "0e9999" too big.
    eng.expect("to_number(x)", [{"x": "0e9999"}, {"x": "-0.00E99999999999999999999"}, {"x": ".0e-5"}],
               [D(0), D(0), D(0)])


def test_range_check_ignores_values_hidden_under_null(eng):
    # C computes `abs(v) >= 10^26` also for NULL rows, on the value hidden under the NULL mask
    # (here −ts + a with n missing): throwIf fired for a NULL result. Found by the differential test.
    eng.expect("-timestamp_millis + (a + n)", [{"a": D("99999999999999999999999999.9")}, {"a": 1, "n": 2}],
               [None, D(-1 + 3)], ts=[-5000, 1])


def test_to_number_parses_only_grammar_text_even_when_hoisted(eng):
    # C hoisted `-to_number(event_name)`, shared by both branches of an `if`, out of the
    # short-circuit and parsed every row: "Cannot parse string 'ünï' as Decimal". Found by the
    # differential test; the parser's input is now guarded, not only its result.
    eng.expect("if(NOT (a IN (null)), -to_number(s), -to_number(s))", [{"s": "ünï"}, {"s": "12"}],
               [None, D(-12)])
