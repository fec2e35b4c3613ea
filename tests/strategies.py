"""Hypothesis strategies for expression TEXT of every kind, built from the grammar and the function
registry (so the parser and checker are exercised too), and deterministic event sets that hit
the reading rules of SPEC §2 and the number edges of SPEC §3.

`expressions(kind)` draws mostly well-typed texts: number / string / boolean generators call each
other with a depth budget, function calls come from `meterql.functions.REGISTRY` (a test asserts
every registry function is reachable), property references use bare, dotted (Lago) and quoted
forms over hostile keys. `make_events(profile, n, seed)` gives raw event dicts.
"""

from __future__ import annotations

import functools
import random
from decimal import Decimal

from hypothesis import strategies as st

from meterql.functions import REGISTRY

# --- vocabulary ------------------------------------------------------------------------------------

BARE_KEYS = ["a", "b", "n", "s", "t", "flag", "missing", "big"]
QUOTED_KEYS = ["odd key", "it's", "back\\slash", "*", "%_", "ünï", "x.y", "$..", "say \"hi\"", "'; DROP TABLE events; --"]
ALL_KEYS = BARE_KEYS + QUOTED_KEYS

NUM_LITERALS = ["0", "1", "2", "3", "7", "10", "100", "2.5", "0.5", "1.5", "1e3", "1.5e-3", ".5", "5.",
                "0.000000000001", "0.000000000005", "99999999999999", "123456789012.123456789012",
                "1000000000000", "86400000", "3600000", "12345678901234567890"]
STR_LITERALS = ["", "eu", "us", "a'b", "\\", "%", "_", "a%b", "x\ny", "ünï", "1e3", " 3 ", "true", "3",
                "DROP TABLE events; --", "x\\%y", "é", "ß", "I", "*", "$.a", "-0", "1.50"]
LIKE_PATTERNS = ["%", "_", "a%", "%a", "%\\%%", "\\_%", "%\\\\%", "e_", "%\n%", "x\\", "\\a%", "%ü%", "__", "%3%", "", "1%"]


def quote_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def quote_key(k: str) -> str:
    return '"' + k.replace('"', '""') + '"'


def prop_ref(key: str, form: int) -> str:
    if key in BARE_KEYS:
        return [key, f"properties.{key}", f"event.properties.{key}", quote_key(key)][form % 4]
    return quote_key(key)


props = st.builds(prop_ref, st.sampled_from(ALL_KEYS), st.integers(0, 3))
num_literal = st.sampled_from(NUM_LITERALS)
str_literal = st.sampled_from(STR_LITERALS).map(quote_string)
digits = st.integers(-12, 12).map(str)
FLOORS = [n for n in REGISTRY if n.endswith("_floor_timestamp_millis")]


def _call(name: str, *args: str) -> str:
    return f"{name}({', '.join(args)})"


def _join(op: str) -> callable:
    return lambda ab: f"({ab[0]} {op} {ab[1]})"


@functools.lru_cache(maxsize=None)
def num(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(num_literal, props, st.sampled_from(["timestamp_millis", "event.timestamp"]))
    if depth <= 0:
        return leaves
    sub, s, b = num(depth - 1), string(depth - 1), boolean(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub, sub).map(_join("+")),
        st.tuples(sub, sub).map(_join("-")),
        st.tuples(sub, sub).map(_join("*")),
        st.tuples(sub, sub).map(_join("/")),
        st.tuples(sub, sub).map(_join("%")),
        sub.map(lambda x: f"-{x}"),
        st.builds(lambda f, x, d: _call(f, x, d) if d is not None else _call(f, x),
                  st.sampled_from(["round", "ceil", "floor"]), sub, st.none() | digits),
        sub.map(lambda x: _call("abs", x)),
        st.builds(lambda f, xs: _call(f, *xs), st.sampled_from(["least", "greatest", "coalesce"]),
                  st.lists(sub, min_size=1, max_size=3)),
        st.builds(lambda c, x, y: _call("if", c, x, y), b, sub, sub),
        st.builds(lambda c, x, y: f"CASE WHEN {c} THEN {x} ELSE {y} END", b, sub, sub),
        st.builds(lambda c, x: f"CASE WHEN {c} THEN {x} END", b, sub),
        s.map(lambda x: _call("length", x)),
        s.map(lambda x: _call("to_number", x)),
        st.builds(_call, st.sampled_from(FLOORS), sub),
    )


@functools.lru_cache(maxsize=None)
def string(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(str_literal, props, st.sampled_from(["event_name", "subject_id", "event.code"]))
    if depth <= 0:
        return leaves
    sub, n, b = string(depth - 1), num(depth - 1), boolean(depth - 1)
    anything = st.one_of(sub, n, b)
    return st.one_of(
        leaves,
        st.lists(anything, min_size=1, max_size=3).map(lambda xs: _call("concat", *xs)),
        anything.map(lambda x: _call("lower", x)),
        anything.map(lambda x: _call("upper", x)),
        anything.map(lambda x: _call("to_string", x)),
        st.builds(lambda f, xs: _call(f, *xs), st.sampled_from(["least", "greatest", "coalesce"]),
                  st.lists(st.one_of(str_literal, sub), min_size=1, max_size=3)),
        st.builds(lambda c, x, y: _call("if", c, x, y), b, str_literal, sub),
        st.builds(lambda c, x: f"CASE WHEN {c} THEN {x} ELSE 'other' END", b, sub),
    )


@functools.lru_cache(maxsize=None)
def boolean(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(st.sampled_from(["true", "false", "flag", "properties.flag", '"it\'s"']))
    if depth <= 0:
        return leaves
    sub, n, s = boolean(depth - 1), num(depth - 1), string(depth - 1)
    cmp = st.sampled_from(["=", "==", "!=", "<>", "<", "<=", ">", ">="])
    return st.one_of(
        leaves,
        st.builds(lambda x, o, y: f"({x} {o} {y})", n, cmp, st.one_of(num_literal, n)),
        st.builds(lambda x, o, y: f"({x} {o} {y})", s, cmp, st.one_of(str_literal, s)),
        st.builds(lambda x, o, y: f"({x} {o} {y})", props, cmp, props),
        st.tuples(sub, sub).map(_join("AND")),
        st.tuples(sub, sub).map(_join("OR")),
        sub.map(lambda x: f"NOT {x}"),
        st.builds(lambda x, neg, items: f"({x} {'NOT ' if neg else ''}IN ({', '.join(items)}))",
                  props, st.booleans(), st.lists(st.one_of(str_literal, st.just("null")), min_size=1, max_size=4)),
        st.builds(lambda x, neg, items: f"({x} {'NOT ' if neg else ''}IN ({', '.join(items)}))",
                  n, st.booleans(), st.lists(st.one_of(num_literal, st.just("null"), n), min_size=1, max_size=3)),
        st.builds(lambda x, neg: f"({x} IS {'NOT ' if neg else ''}NULL)", st.one_of(props, n, s), st.booleans()),
        st.builds(lambda x, neg, p: f"({x} {'NOT ' if neg else ''}LIKE {quote_string(p)})",
                  st.one_of(props, s), st.booleans(), st.sampled_from(LIKE_PATTERNS)),
        st.builds(lambda x, p: f"({x} LIKE {p})", props, props),  # a run-time pattern
        st.builds(lambda c, x, y: _call("if", c, x, y), sub, sub, sub),
        st.builds(lambda xs: _call("coalesce", *xs), st.lists(sub, min_size=1, max_size=3)),
    )


def expressions(kind: str, depth: int = 3) -> st.SearchStrategy[str]:
    if kind == "filter":
        return boolean(depth)
    if kind == "value":
        return num(depth)
    return st.one_of(string(depth), num(depth), boolean(depth))


# --- events ------------------------------------------------------------------------------------------

MIN_TS_MS = -2208988800000  # 1900-01-01
MAX_TS_MS = 9214646399999  # 2261-12-31T23:59:59.999

SPECIAL_TS = [0, -1, 1, 86_399_999, -86_400_000, -3 * 86_400_000, -3 * 86_400_000 - 1, 4 * 86_400_000,
              951_782_400_000,  # 2000-02-29
              -2_208_988_800_000, 9_214_646_399_999, 1_700_000_000_123, -1_234_567_890_123]

NUMBERS = [Decimal(x) for x in ["0", "1", "-1", "2.5", "-2.5", "0.5", "1.005", "3.14159", "-7.25", "100",
                                "0.000000000001", "-0.000000000001", "0.0000000000005", "0.0000000000004999",
                                "99999999999999999999", "9007199254740993", "12345678901234.56789",
                                "-98765432109876.5", "1E+3", "1.50", "-0.0", "7", "1000000000000"]]
NUMERIC_STRINGS = [" 3 ", "1_000", "1e3", "+5", ".5", "5.", "NaN", "inf", "-0", "0.0", "1.0000000000005",
                   "12345678901234567890.5", "1e-20", "-.5e1", "0x10", "", "٣"]
HOSTILE = STR_LITERALS + ["'; DROP TABLE events; --", "\\'", "a\\", "\u0000x".replace("\u0000", ""), "tab\there",
                          "\U0001F600", "İ", "ΣΑΣ", "%%", "__"]
EDGE_NUMBERS = [Decimal(x) for x in ["99999999999999999999999999.999999999999", "-99999999999999999999999999",
                                     "50000000000000000000000000", "10000000000000", "-10000000000000.5",
                                     "9999999999999.999999999999", "0.999999999999", "12345678901234567890123456"]]


def _value(rng: random.Random, profile: str):
    r = rng.random()
    if profile == "edge" and r < 0.35:
        return rng.choice(EDGE_NUMBERS)
    if r < 0.5:
        pick = rng.random()
        if pick < 0.3:
            return rng.choice(NUMBERS)
        if pick < 0.8:  # many fractional digits: products and quotients need their 13th digit
            return Decimal(rng.randint(-10**12, 10**12)).scaleb(-rng.randint(8, 12))
        return Decimal(rng.randint(-10**6, 10**6)).scaleb(-rng.randint(0, 3))
    if r < 0.6:
        return rng.choice(NUMERIC_STRINGS)
    if r < 0.75:
        return rng.choice(HOSTILE)
    if r < 0.85:
        return rng.choice([True, False])
    if r < 0.9:
        return None
    return rng.randint(-1000, 1000)


def make_events(profile: str, n: int = 30, seed: int = 7) -> list[dict]:
    """`n` raw events. Profile "clean": in-range values only; "edge": values near 10^26 whose sums
    and products overflow, and (in one event) a property beyond 10^26."""
    rng = random.Random(f"{profile}:{seed}")
    events = []
    for i in range(n):
        ts = SPECIAL_TS[i] if i < len(SPECIAL_TS) else rng.randint(MIN_TS_MS, MAX_TS_MS)
        props = {}
        for key in ALL_KEYS:
            if key == "missing" or rng.random() < 0.15:
                continue
            props[key] = _value(rng, profile)
        if key_flag := rng.random() < 0.7:
            props["flag"] = rng.choice([True, False, None, "true", 1])
        del key_flag
        if profile == "edge" and i == n - 1:
            props["big"] = Decimal("1E+30")
        events.append({"event_id": f"{profile}-{i:03d}", "subject_id": rng.choice(["subj_1", "subj'2"]),
                       "event_name": rng.choice(["llm_call", "api", "ünï", ""]) or "x", "timestamp": ts,
                       "properties": props})
    return events
