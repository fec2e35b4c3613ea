"""The reference evaluator on hand-built typed trees (SPEC §2/§3); expectations computed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterql.ast import (
    Binary,
    BinaryOp,
    Call,
    Case,
    Field,
    FieldName,
    In,
    IsNull,
    Like,
    Literal,
    Read,
    Type,
    Unary,
    UnaryOp,
)
from meterql.errors import NumericOverflow
from meterql.evaluator import evaluate_tree, floor_ms, like
from meterql.functions import REGISTRY
from meterql.values import normalize_event

D = Decimal
S0 = (0, 0)
N, S, B = Type.NUMBER, Type.STRING, Type.BOOLEAN


def lit(v):
    t = {Decimal: N, str: S, bool: B, type(None): Type.NULL}[type(v)]
    return Literal(span=S0, type=t, value=v)


def num(text):
    return lit(D(text))


def rd(key, t=N):
    return Read(span=S0, type=t, key=key)


def bi(op, left, right, t=N):
    return Binary(span=S0, type=t, op=op, left=left, right=right)


def call(name, *args, t=N):
    return Call(span=S0, type=t, name=name, args=tuple(args))


NULL = Literal(span=S0, type=Type.NULL, value=None)
T, F = lit(True), lit(False)

EVENT = {
    "event_id": "e1",
    "subject_id": "subj",
    "event_name": "llm_call",
    "timestamp": "2024-01-01T00:00:01.5Z",
    "properties": {
        "tokens": 1200,
        "price": "0.1",
        "rate": Decimal("1.005"),
        "region": "eu",
        "model": "gpt-4",
        "flag": True,
        "off": False,
        "nil": None,
        "text": "Straße İ",
        "big": "100000000000000000000000000",  # 10^26: stored, overflows when read as a number
        "neg": -2.5,
        "num_str": " 3 ",
        "tiny": "0.0000000000005",
    },
}


def ev(tree, event=EVENT):
    return evaluate_tree(tree, event)


# --- reads and fields ---------------------------------------------------------------------------


def test_reads_by_context():
    assert ev(rd("tokens")) == 1200
    assert ev(rd("price")) == D("0.1")
    assert ev(rd("num_str")) is None  # not the numeric-string grammar
    assert ev(rd("region")) is None
    assert ev(rd("flag")) is None  # a boolean is not a number
    assert ev(rd("missing")) is None
    assert ev(rd("tiny")) == D("0.000000000001")
    assert ev(rd("tokens", S)) == "1200"
    assert ev(rd("neg", S)) == "-2.5"
    assert ev(rd("flag", S)) == "true"
    assert ev(rd("nil", S)) is None
    assert ev(rd("flag", B)) is True
    assert ev(rd("off", B)) is False
    assert ev(rd("region", B)) is None


def test_out_of_range_property_overflows_in_number_context_only():
    with pytest.raises(NumericOverflow):
        ev(rd("big"))
    assert ev(rd("big", S)) == "1" + "0" * 26


def test_fields():
    assert ev(Field(span=S0, type=N, name=FieldName.TIMESTAMP_MILLIS)) == 1704067201500
    assert ev(Field(span=S0, type=N, name=FieldName.EVENT_TIMESTAMP)) == D("1704067201.5")
    assert ev(Field(span=S0, type=S, name=FieldName.EVENT_NAME)) == "llm_call"
    assert ev(Field(span=S0, type=S, name=FieldName.SUBJECT_ID)) == "subj"


def test_stored_event_reads_like_raw_event():
    stored = normalize_event(EVENT)
    for key in EVENT["properties"]:
        for t in (S, B):
            assert evaluate_tree(rd(key, t), stored) == ev(rd(key, t)), key
        if key != "big":
            assert evaluate_tree(rd(key, N), stored) == ev(rd(key, N)), key
    with pytest.raises(NumericOverflow):
        evaluate_tree(rd("big"), stored)
    assert evaluate_tree(Field(span=S0, type=N, name=FieldName.TIMESTAMP_MILLIS), stored) == 1704067201500


# --- arithmetic ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op, a, b, expected",
    [
        (BinaryOp.ADD, "0.1", "0.2", "0.3"),
        (BinaryOp.SUB, "10", "5.5", "4.5"),
        (BinaryOp.MUL, "1.005", "6", "6.03"),
        (BinaryOp.MUL, "0.000001", "0.000001", "0.000000000001"),
        (BinaryOp.MUL, "0.0000005", "0.000001", "0.000000000001"),  # 5e-13 → half away from zero
        (BinaryOp.MUL, "-0.0000005", "0.000001", "-0.000000000001"),
        (BinaryOp.MUL, "0.0000004", "0.000001", "0"),
        (BinaryOp.DIV, "1", "3", "0.333333333333"),
        (BinaryOp.DIV, "2", "3", "0.666666666667"),
        (BinaryOp.DIV, "-2", "3", "-0.666666666667"),
        (BinaryOp.DIV, "1", "0", None),
        (BinaryOp.DIV, "0", "0", None),
        (BinaryOp.MOD, "7", "3", "1"),
        (BinaryOp.MOD, "-7", "3", "-1"),  # sign of the dividend
        (BinaryOp.MOD, "7", "-3", "1"),
        (BinaryOp.MOD, "7.5", "2", "1.5"),
        (BinaryOp.MOD, "7", "0", None),
    ],
)
def test_arithmetic(op, a, b, expected):
    got = ev(bi(op, num(a), num(b)))
    assert got == (None if expected is None else D(expected))


def test_arithmetic_null_and_overflow():
    for op in (BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.MOD):
        assert ev(bi(op, NULL, num("1"))) is None
        assert ev(bi(op, num("1"), rd("missing"))) is None
    big = num("99999999999999999999999999")  # 10^26 - 1: in range
    assert ev(bi(BinaryOp.SUB, big, num("1"))) == D("99999999999999999999999998")
    with pytest.raises(NumericOverflow):
        ev(bi(BinaryOp.ADD, big, num("1")))
    with pytest.raises(NumericOverflow):
        ev(bi(BinaryOp.MUL, num("10000000000000"), num("10000000000000")))
    with pytest.raises(NumericOverflow):
        ev(bi(BinaryOp.DIV, big, num("0.5")))
    neg = Unary(span=S0, type=N, op=UnaryOp.NEG, operand=num("0"))
    assert ev(neg) == 0 and str(ev(neg)) == "0"  # no -0
    assert ev(Unary(span=S0, type=N, op=UnaryOp.NEG, operand=bi(BinaryOp.SUB, num("2"), num("5")))) == 3
    assert ev(Unary(span=S0, type=N, op=UnaryOp.NEG, operand=NULL)) is None


def test_big_integers_stay_exact():
    e = {"properties": {"a": 9007199254740993, "b": "99999999999999999999"}}
    assert evaluate_tree(bi(BinaryOp.ADD, rd("a"), num("1")), e) == D("9007199254740994")
    assert evaluate_tree(bi(BinaryOp.ADD, rd("b"), num("1")), e) == D("100000000000000000000")


# --- three-valued logic -------------------------------------------------------------------------

_TV = [True, False, None]


def _tv(v):
    return NULL if v is None else lit(v)


def _and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


@pytest.mark.parametrize("a", _TV)
@pytest.mark.parametrize("b", _TV)
def test_and_or_truth_tables(a, b):
    assert ev(bi(BinaryOp.AND, _tv(a), _tv(b), B)) is _and(a, b)
    assert ev(bi(BinaryOp.OR, _tv(a), _tv(b), B)) is _or(a, b)


def test_truth_tables_spelled_out():
    # The nine rows of each table, by hand, so the helper above cannot hide a mistake.
    AND = {(1, 1): 1, (1, 0): 0, (1, None): None, (0, 1): 0, (0, 0): 0, (0, None): 0,
           (None, 1): None, (None, 0): 0, (None, None): None}  # fmt: skip
    OR = {(1, 1): 1, (1, 0): 1, (1, None): 1, (0, 1): 1, (0, 0): 0, (0, None): None,
          (None, 1): 1, (None, 0): None, (None, None): None}  # fmt: skip
    conv = {1: True, 0: False, None: None}
    for (a, b), r in AND.items():
        assert ev(bi(BinaryOp.AND, _tv(conv[a]), _tv(conv[b]), B)) is conv[r]
    for (a, b), r in OR.items():
        assert ev(bi(BinaryOp.OR, _tv(conv[a]), _tv(conv[b]), B)) is conv[r]
    for v, r in ((True, False), (False, True), (None, None)):
        assert ev(Unary(span=S0, type=B, op=UnaryOp.NOT, operand=_tv(v))) is r


def test_short_circuit_skips_dead_branch_overflow():
    boom = bi(BinaryOp.GT, rd("big"), num("0"), B)
    assert ev(bi(BinaryOp.AND, F, boom, B)) is False
    assert ev(bi(BinaryOp.OR, T, boom, B)) is True
    with pytest.raises(NumericOverflow):
        ev(bi(BinaryOp.AND, T, boom, B))
    with pytest.raises(NumericOverflow):
        ev(bi(BinaryOp.AND, NULL, boom, B))  # NULL AND x needs x


# --- comparisons --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op, a, b, expected",
    [
        (BinaryOp.EQ, D("1.0"), D("1"), True),
        (BinaryOp.NE, D("1.0"), D("1"), False),
        (BinaryOp.LT, D("-2"), D("1"), True),
        (BinaryOp.LE, D("1"), D("1"), True),
        (BinaryOp.GT, D("0.000000000001"), D("0"), True),
        (BinaryOp.GE, D("0"), D("0.000000000001"), False),
        (BinaryOp.LT, "B", "a", True),  # code point order: 'B' (66) < 'a' (97)
        (BinaryOp.LT, "z", "é", True),  # 'z' (122) < 'é' (233), as UTF-8 bytes too
        (BinaryOp.LT, "é", "日", True),
        (BinaryOp.LT, "\uffff", "😀", True),  # BMP < astral, as in UTF-8 (not UTF-16) order
        (BinaryOp.LT, "", "a", True),
        (BinaryOp.EQ, "a", "a ", False),
        (BinaryOp.LT, False, True, True),
        (BinaryOp.EQ, True, True, True),
        (BinaryOp.GT, False, True, False),
    ],
)
def test_comparisons(op, a, b, expected):
    assert ev(bi(op, lit(a), lit(b), B)) is expected
    assert ev(bi(op, lit(a), NULL, B)) is None
    assert ev(bi(op, NULL, lit(b), B)) is None


def test_comparing_two_properties_compares_string_forms():
    e = {"properties": {"a": 10, "b": "10", "c": "10.0", "d": Decimal("10.0")}}
    assert evaluate_tree(bi(BinaryOp.EQ, rd("a", S), rd("b", S), B), e) is True
    assert evaluate_tree(bi(BinaryOp.EQ, rd("a", S), rd("c", S), B), e) is False
    assert evaluate_tree(bi(BinaryOp.EQ, rd("a", S), rd("d", S), B), e) is True  # number 10.0 → '10'
    assert evaluate_tree(bi(BinaryOp.EQ, rd("c"), rd("a"), B), e) is True  # number context: 10.0 = 10


# --- IN, IS NULL, LIKE, CASE --------------------------------------------------------------------


def _in(operand, items, negated=False):
    return In(span=S0, type=B, operand=operand, items=tuple(items), negated=negated)


def test_in_sql_semantics():
    one, two, three = num("1"), num("2"), num("3")
    assert ev(_in(one, [one, two])) is True
    assert ev(_in(three, [one, two])) is False
    assert ev(_in(three, [one, NULL])) is None
    assert ev(_in(one, [NULL, one])) is True
    assert ev(_in(NULL, [one])) is None
    assert ev(_in(one, [one, two], True)) is False
    assert ev(_in(three, [one, two], True)) is True
    assert ev(_in(three, [one, NULL], True)) is None
    assert ev(_in(one, [NULL, one], True)) is False
    assert ev(_in(NULL, [one], True)) is None
    assert ev(_in(rd("region", S), [lit("us"), lit("eu")])) is True
    assert ev(_in(rd("missing", S), [lit("us")], True)) is None  # excluded by a filter (HAZARDS)
    assert ev(_in(rd("tokens"), [num("1200.000")])) is True


def test_is_null():
    assert ev(IsNull(span=S0, type=B, operand=rd("missing", S))) is True
    assert ev(IsNull(span=S0, type=B, operand=rd("nil", S))) is True
    assert ev(IsNull(span=S0, type=B, operand=rd("region", S))) is False
    assert ev(IsNull(span=S0, type=B, operand=rd("region"))) is True  # 'eu' is NULL as a number
    assert ev(IsNull(span=S0, type=B, operand=rd("missing", S), negated=True)) is False
    assert ev(IsNull(span=S0, type=B, operand=bi(BinaryOp.DIV, num("1"), num("0")))) is True


@pytest.mark.parametrize(
    "s, p, expected",
    [
        ("abc", "abc", True),
        ("abc", "ab", False),  # whole string
        ("abc", "a%", True),
        ("abc", "%c", True),
        ("abc", "%b%", True),
        ("abc", "a_c", True),
        ("abc", "a_", False),
        ("ABC", "abc", False),  # case-sensitive
        ("", "%", True),
        ("", "_", False),
        ("a\nb", "a%b", True),  # newlines included
        ("a\nb", "a_b", True),
        ("日本", "__", True),  # `_` is one character, not one byte
        ("日本", "_", False),
        ("a%", "a\\%", True),
        ("ab", "a\\%", False),
        ("a_", "a\\_", True),
        ("ab", "a\\_", False),
        ("a\\b", "a\\\\b", True),
        ("a", "\\a", True),  # backslash before another character: that character
        ("\\a", "\\a", False),
        ("abc\\", "abc\\", True),  # trailing lone backslash: a literal backslash
        ("abc", "abc\\", False),
        ("a.b", "a.b", True),
        ("axb", "a.b", False),  # no regex leaks
        ("a*", "a*", True),
        ("aaa", "%%a", True),
        ("mississippi", "m%iss%ppi", True),
        ("mississippi", "m%iss%ppix", False),
        ("ab" * 2000 + "c", "%a%a%a%a%a%a%a%a%d", False),  # no exponential backtracking
    ],
)
def test_like(s, p, expected):
    assert like(s, p) is expected
    node = Like(span=S0, type=B, operand=lit(s), pattern=lit(p))
    assert ev(node) is expected
    assert ev(Like(span=S0, type=B, operand=lit(s), pattern=lit(p), negated=True)) is (not expected)


def test_like_null():
    assert ev(Like(span=S0, type=B, operand=rd("missing", S), pattern=lit("%"))) is None
    assert ev(Like(span=S0, type=B, operand=rd("missing", S), pattern=lit("%"), negated=True)) is None
    assert ev(Like(span=S0, type=B, operand=lit("x"), pattern=NULL)) is None


def test_case():
    def case(whens, else_=None):
        return Case(span=S0, type=S, whens=tuple(whens), else_=else_)

    assert ev(case([(F, lit("a")), (T, lit("b")), (T, lit("c"))])) == "b"
    assert ev(case([(NULL, lit("a"))], lit("z"))) == "z"  # NULL condition is not TRUE
    assert ev(case([(F, lit("a"))])) is None  # no ELSE → NULL
    cond = bi(BinaryOp.GT, rd("tokens"), num("1000"), B)
    assert ev(case([(cond, lit("big"))], lit("small"))) == "big"
    boom = bi(BinaryOp.ADD, rd("big"), num("1"))
    assert ev(case([(T, num("1")), (T, boom)], boom)) == 1  # later branches never evaluated


# --- functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, x, d, expected",
    [
        ("round", "2.5", None, "3"),
        ("round", "-2.5", None, "-3"),
        ("round", "2.4999", None, "2"),
        ("round", "1.005", "2", "1.01"),
        ("round", "-1.005", "2", "-1.01"),
        ("round", "1234.5", "-2", "1200"),
        ("round", "1250", "-2", "1300"),
        ("round", "-1250", "-2", "-1300"),
        ("round", "0.000000000001", "12", "0.000000000001"),
        ("round", "5", "-12", "0"),
        ("round", "500000000000", "-12", "1000000000000"),
        ("ceil", "2.1", None, "3"),
        ("ceil", "-2.9", None, "-2"),
        ("ceil", "1.001", "2", "1.01"),
        ("ceil", "-1.009", "2", "-1"),
        ("ceil", "1201", "-2", "1300"),
        ("floor", "2.9", None, "2"),
        ("floor", "-2.1", None, "-3"),
        ("floor", "-1.001", "2", "-1.01"),
        ("floor", "1299", "-2", "1200"),
        ("floor", "-0.5", None, "-1"),
        ("ceil", "-0.5", None, "0"),
    ],
)
def test_rounding_functions(name, x, d, expected):
    args = [num(x)] + ([num(d)] if d is not None else [])
    got = ev(call(name, *args))
    assert got == D(expected)
    assert ev(call(name, NULL, *args[1:])) is None


def test_round_overflow():
    with pytest.raises(NumericOverflow):
        ev(call("round", num("99999999999999999999999999.5")))
    with pytest.raises(NumericOverflow):
        ev(call("round", num("99999999999999999999999999"), num("-1")))


def test_abs():
    assert ev(call("abs", num("-2.5"))) == D("2.5")
    assert ev(call("abs", num("99999999999999999999999999.999999999999"))) == D(
        "99999999999999999999999999.999999999999"
    )  # 38 digits: no rounding by Python's default 28-digit context
    assert ev(call("abs", NULL)) is None


def test_least_greatest_coalesce_if():
    assert ev(call("least", num("3"), NULL, num("-1"), num("2"))) == -1
    assert ev(call("greatest", num("3"), NULL, num("-1"), num("2"))) == 3
    assert ev(call("least", NULL, NULL)) is None
    assert ev(call("greatest", rd("missing"))) is None
    assert ev(call("least", lit("b"), lit("a"), NULL, t=S)) == "a"
    assert ev(call("greatest", lit("B"), lit("a"), t=S)) == "a"
    assert ev(call("least", T, F, t=B)) is False
    assert ev(call("coalesce", NULL, rd("missing"), num("7"), num("8"))) == 7
    assert ev(call("coalesce", NULL)) is None
    assert ev(call("coalesce", num("1"), bi(BinaryOp.ADD, rd("big"), num("1")))) == 1  # lazy
    assert ev(call("if", T, num("1"), num("2"))) == 1
    assert ev(call("if", F, num("1"), num("2"))) == 2
    assert ev(call("if", NULL, num("1"), num("2"))) == 2
    assert ev(call("if", rd("flag", B), lit("y"), lit("n"), t=S)) == "y"


def test_string_functions():
    assert ev(call("concat", lit("a"), NULL, num("1.50"), T, rd("tokens", S), t=S)) == "a1.5true1200"
    assert ev(call("concat", NULL, t=S)) == ""
    assert ev(call("concat", num("-0.0000001"), t=S)) == "-0.0000001"
    assert ev(call("lower", lit("AbC-Ä-İ-ẞ"), t=S)) == "abc-Ä-İ-ẞ"  # ASCII letters only
    assert ev(call("upper", lit("abc-straße-é"), t=S)) == "ABC-STRAßE-é"
    assert ev(call("lower", NULL, t=S)) is None
    assert ev(call("length", lit("日本é😀"))) == 4  # code points
    assert ev(call("length", lit(""))) == 0
    assert ev(call("length", num("1.50"))) == 3  # '1.5'
    assert ev(call("length", NULL)) is None


@pytest.mark.parametrize(
    "arg, expected",
    [
        ("3", "3"),
        ("+.5", "0.5"),
        ("1e3", "1000"),
        (" 3 ", None),
        ("1_000", None),
        ("NaN", None),
        ("abc", None),
        ("0.0000000000005", "0.000000000001"),
        ("99999999999999999999", "99999999999999999999"),
    ],
)
def test_to_number(arg, expected):
    got = ev(call("to_number", lit(arg)))
    assert got == (None if expected is None else D(expected))


def test_to_number_and_to_string_edges():
    assert ev(call("to_number", NULL)) is None
    assert ev(call("to_number", T)) is None
    assert ev(call("to_number", num("2.5"))) == D("2.5")
    with pytest.raises(NumericOverflow):
        ev(call("to_number", lit("1e26")))
    assert ev(call("to_string", num("22.500"), t=S)) == "22.5"
    assert ev(call("to_string", num("-0"), t=S)) == "0"
    assert ev(call("to_string", num("1E+3"), t=S)) == "1000"
    assert ev(call("to_string", F, t=S)) == "false"
    assert ev(call("to_string", NULL, t=S)) is None
    assert ev(call("to_string", rd("tokens", S), t=S)) == "1200"


# --- time floors --------------------------------------------------------------------------------

H, DAY = 3_600_000, 86_400_000


@pytest.mark.parametrize(
    "fn, ms, expected",
    [
        ("hour", "0", 0),
        ("hour", "-1", -H),  # not 0: a true floor
        ("hour", "3600000", H),
        ("hour", "3599999.9", 0),
        ("hour", "-0.5", -H),  # fractional: floored first
        ("day", "-1", -DAY),
        ("day", "1704067201500", 1704067200000),
        ("week", "0", -3 * DAY),  # 1970-01-01 was a Thursday → Monday 1969-12-29
        ("week", str(-3 * DAY), -3 * DAY),
        ("week", str(-3 * DAY - 1), -10 * DAY),  # Sunday 1969-12-28 23:59:59.999 → Monday 12-22
        ("week", str(4 * DAY), 4 * DAY),  # 1970-01-05 is a Monday
        ("week", "1704067200000", 1704067200000),  # 2024-01-01 was a Monday
        ("week", "1704585599999", 1704067200000),  # Sunday 2024-01-07 23:59:59.999
        ("month", "0", 0),
        ("month", "-1", -31 * DAY),  # 1969-12-01
        ("month", "1709210096789", 1706745600000),  # 2024-02-29 → 2024-02-01
        ("month", str(-2208988800000 - 1), -2208988800000 - 31 * DAY),  # 1899-12-01
        # 2000-02-29T00:00Z (leap century) = 11016 days; 2000-02-01 = 10988 days.
        ("month", "951782400000", 949363200000),
    ],
)
def test_time_floors(fn, ms, expected):
    got = ev(call(f"{fn}_floor_timestamp_millis", num(ms)))
    assert got == expected


def test_time_floor_null_and_floor_ms():
    assert ev(call("day_floor_timestamp_millis", NULL)) is None
    # -1 ms is Wednesday 1969-12-31 23:59:59.999 → Monday 1969-12-29 = -3 days.
    assert floor_ms(-1, "week") == -3 * DAY
    # Far outside the event range, still a proleptic-calendar floor: 0001-01-01 is a Monday.
    year1 = -62135596800000
    assert floor_ms(year1 + 5, "month") == year1
    assert floor_ms(year1 + 5, "week") == year1


def test_every_registry_function_is_evaluated():
    samples = {Type.NUMBER: num("2"), Type.STRING: lit("x"), Type.BOOLEAN: T, Type.ANY: num("1")}
    for f in REGISTRY.values():
        args = [samples[f.param(i)] for i in range(f.min_args)]
        ev(call(f.name, *args))  # raises IllTyped for an unknown name
    assert len(REGISTRY) == 18


def test_deep_tree_is_not_recursive():
    tree = num("0")
    for _ in range(20_000):
        tree = bi(BinaryOp.ADD, tree, num("1"))
    assert ev(tree) == 20_000
    logic = T
    for _ in range(20_000):
        logic = Unary(span=S0, type=B, op=UnaryOp.NOT, operand=logic)
    assert ev(logic) is True


# --- through the checker (text → typed tree → value) --------------------------------------------


@pytest.mark.parametrize(
    "text, kind, expected",
    [
        ("round(event.properties.tokens * 1.5, 2)", "value", D("1800")),  # 1200 × 1.5
        ("tokens / 7", "value", D("171.428571428571")),  # 1200 / 7 = 171.4285714285714…
        ("rate * 6", "value", D("6.03")),  # 1.005 × 6 exactly (a float path gives 6.0299999…)
        ("round(rate, 2)", "value", D("1.01")),
        ("price + 0.2", "value", D("0.3")),
        ("region = 'eu' AND tokens > 1000", "filter", True),
        ("region = 'us' OR missing > 1", "filter", None),
        ("region IN ('us', 'eu')", "filter", True),
        ("missing NOT IN ('a', 'b')", "filter", None),
        ("model LIKE 'gpt-%'", "filter", True),
        ("text LIKE 'Stra_e%'", "filter", True),
        ("hour_floor_timestamp_millis(timestamp_millis)", "grouping_key", D(1704067200000)),
        ("event.timestamp", "value", D("1704067201.5")),
        ("concat(region, '-', tokens)", "grouping_key", "eu-1200"),
        ("CASE WHEN tokens > 1000 THEN 'big' ELSE 'small' END", "grouping_key", "big"),
        ("coalesce(missing, 0) + 1", "value", D(1)),
        ("1 / 0", "value", None),
        ("event_name", "grouping_key", "llm_call"),
        ("subject_id = 'subj'", "filter", True),
    ],
)
def test_through_the_checker(text, kind, expected):
    from meterql.evaluator import evaluate

    got = evaluate(text, EVENT, kind)
    assert got == expected and type(got) is type(expected)


def test_public_evaluate_entry_point():
    import meterql
    import meterql.checker  # noqa: F401 — a submodule import must not shadow the public functions
    import meterql.evaluator  # noqa: F401
    import meterql.parser  # noqa: F401

    assert meterql.evaluate("tokens * 2", EVENT) == 2400
    assert meterql.evaluate("tokens * 2", EVENT) == 2400  # twice: the first call imports evaluator.py
    assert meterql.check("tokens > 1") == [] and meterql.parse("tokens").type is Type.NUMBER
    with pytest.raises(NumericOverflow):
        meterql.evaluate("big + 1", EVENT)


# --- properties ---------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ALPHABET = st.sampled_from(["a", "b", "%", "_", "\\", "\n", "é"])


def _like_by_regex(s: str, p: str) -> bool:
    import re

    out, i = [], 0
    while i < len(p):
        ch = p[i]
        if ch == "\\":
            out.append(re.escape(p[i + 1] if i + 1 < len(p) else "\\"))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), s, re.DOTALL) is not None


@settings(max_examples=300, deadline=None)
@given(st.text(_ALPHABET, max_size=8), st.text(_ALPHABET, max_size=6))
def test_like_matches_an_independent_regex_translation(s, p):
    assert like(s, p) == _like_by_regex(s, p)


_PROP_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=14, min_value=-(10**27), max_value=10**27),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1e3", " 3 ", "abc", "", ".5", "5.", "-0", "0.0000000000005", "1e-40", "1e30"]),
    st.text(max_size=5),
)


@settings(max_examples=300, deadline=None)
@given(_PROP_VALUES)
def test_stored_columns_read_exactly_like_the_raw_event(v):
    raw = {"event_id": "x", "subject_id": "s", "event_name": "n", "timestamp": 0, "properties": {"p": v}}
    try:
        stored = normalize_event(raw)
    except Exception:  # e.g. a lone surrogate from st.text: rejected at ingest, nothing to compare
        return
    for t in (S, B, N):
        try:
            want = evaluate_tree(rd("p", t), raw)
        except NumericOverflow:
            with pytest.raises(NumericOverflow):
                evaluate_tree(rd("p", t), stored)
            continue
        assert evaluate_tree(rd("p", t), stored) == want


# --- engine agreement for the rules decided here (HAZARDS: fails if an engine changes) ----------


def test_like_agreed_escapes_and_ascii_case_mapping_match_both_engines(chdb_client):
    import duckdb

    con = duckdb.connect()
    ch = chdb_client  # the process's one chdb server (conftest)
    # Patterns that use only the escapes both engines agree on (\%, \_, \\).
    cases = [("a%", "a\\%"), ("ab", "a\\%"), ("a_", "a\\_"), ("a\\b", "a\\\\b"), ("a\nb", "a%b"), ("a\nb", "a_b"),
             ("日本", "__"), ("日本", "_"), ("ABC", "abc"), ("", "%"), ("a.b", "a.b"), ("axb", "a.b"), ("abc\\", "abc\\\\")]  # fmt: skip
    for s, p in cases:
        d = con.execute("SELECT ? LIKE ? ESCAPE '\\'", [s, p]).fetchone()[0]
        c = ch.query("SELECT {s:String} LIKE {p:String}", parameters={"s": s, "p": p}).result_rows[0][0]
        assert bool(d) == bool(c) == like(s, p), (s, p)
    upper, lower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
    for s in ["Straße", "İstanbul", "ΣΑΣ", "ÀÉÎ", "ǅ", "ﬁ", "MiXeD 123"]:
        ours_lower = ev(call("lower", lit(s), t=S))
        ours_upper = ev(call("upper", lit(s), t=S))
        d = con.execute("SELECT translate(?, ?, ?), translate(?, ?, ?)", [s, upper, lower, s, lower, upper]).fetchone()
        c = ch.query("SELECT lower({s:String}), upper({s:String})", parameters={"s": s}).result_rows[0]
        assert (ours_lower, ours_upper) == tuple(d) == tuple(c), s


def test_raw_event_properties_as_json_text_and_bad_events():
    from meterql.values import InvalidEvent

    e = {"timestamp": 0, "properties": '{"a": 0.1, "b": "x"}'}
    assert evaluate_tree(bi(BinaryOp.MUL, rd("a"), num("3")), e) == D("0.3")
    assert evaluate_tree(rd("b", S), {"properties": b'{"b": "\\u00e9"}'}) == "é"
    assert evaluate_tree(rd("b", S), {}) is None  # no properties: every property is missing
    with pytest.raises(InvalidEvent):
        evaluate_tree(rd("b", S), {"properties": [1]})
    with pytest.raises(InvalidEvent):
        evaluate_tree(Field(span=S0, type=N, name=FieldName.TIMESTAMP_MILLIS), {"timestamp": "2024-01-01T00:00:00"})
    assert evaluate_tree(Field(span=S0, type=N, name=FieldName.TIMESTAMP_MILLIS), {}) is None


def test_public_evaluate_reads_a_flat_dict_as_properties():
    import meterql

    assert meterql.evaluate("tokens * 2", {"tokens": 3}) == Decimal(6)
    assert meterql.evaluate("tokens * 2", {"properties": {"tokens": 3}}) == Decimal(6)
    # reserved event fields stay fields, the rest are properties
    assert meterql.evaluate("concat(event_name, '/', model)", {"event_name": "llm", "model": "gpt"}) == "llm/gpt"
    # an event with a `properties` key is never flattened
    assert meterql.evaluate("tokens", {"tokens": 3, "properties": {}}) is None
