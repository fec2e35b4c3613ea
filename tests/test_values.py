"""Property readings (SPEC §2) and event validation (SPEC §1); every expectation written by hand."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from meterql.errors import MeterqlError
from meterql.values import (
    InvalidEvent,
    StoredEvent,
    format_timestamp,
    normalize_event,
    parse_timestamp,
    read_boolean,
    read_number,
    read_string,
)

D = Decimal


def j(text: str):
    """JSON as the library decodes it: floats as exact Decimals."""
    return json.loads(text, parse_float=Decimal)


# --- number context -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("3", D("3")),
        (" 3 ", None),  # no whitespace (DuckDB would accept it; the grammar does not)
        ("1_000", None),
        ("+.5", D("0.5")),
        ("5.", D("5")),
        ("-5.", D("-5")),
        ("1e3", D("1000")),
        ("1E-2", D("0.01")),
        ("NaN", None),
        ("nan", None),
        ("inf", None),
        ("-Infinity", None),
        ("0x10", None),
        ("٣", None),  # Arabic-Indic digit: not an ASCII digit
        ("", None),
        (".", None),
        ("e3", None),
        ("1e", None),
        ("1.2.3", None),
        ("3\n", None),
        ("99999999999999999999", D("99999999999999999999")),
        ("9007199254740993", D("9007199254740993")),
        ("1e-13", D("0")),
        ("0.0000000000005", D("0.000000000001")),
        ("-0.0000000000005", D("-0.000000000001")),
        ("0.00000000000049", D("0")),
        ("1.0000000000004999", D("1")),
        ("2.0000000000005", D("2.000000000001")),
        (99999999999999999999, D("99999999999999999999")),
        (9007199254740993, D("9007199254740993")),
        (j("0.1"), D("0.1")),
        (j("1.50"), D("1.5")),
        (j("1e400"), D("1e40")),  # clamped, still out of range
        (0.1, D("0.1")),  # float via shortest round-trip text, not 0.1000000000000000055…
        (1e20, D("100000000000000000000")),
        (float("nan"), None),
        (float("inf"), None),
        (D("NaN"), None),
        (True, None),
        (False, None),
        (None, None),
        ([1], None),
        ({"a": 1}, None),
    ],
)
def test_read_number(value, expected):
    got = read_number(value)
    if expected is None:
        assert got is None
    else:
        assert got == expected and isinstance(got, Decimal)


def test_read_number_huge_int_is_out_of_range_not_slow():
    got = read_number(10**5000)
    assert got is not None and got >= D(10) ** 26
    assert read_number(-(10**5000)) <= -(D(10) ** 26)
    assert read_number(10**26) == D(10) ** 26  # stored as is; reading it in SQL overflows


# --- string and boolean context -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("abc", "abc"),
        (" 3 ", " 3 "),
        ("1e3", "1e3"),  # a JSON string stays as written
        ("", ""),
        (j("1.50"), "1.5"),
        (j("1e3"), "1000"),
        (j("-0.0"), "0"),
        (j("0.000001"), "0.000001"),
        (j("22.5"), "22.5"),
        (-4, "-4"),
        (j("1e-13"), "0"),
        (99999999999999999999, "99999999999999999999"),
        (0.1, "0.1"),
        (True, "true"),
        (False, "false"),
        (None, None),
        ([1], None),
        ({}, None),
        (float("nan"), None),
    ],
)
def test_read_string(value, expected):
    assert read_string(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [(True, True), (False, False), ("true", None), (1, None), (0, None), (None, None), ("false", None), ([], None)],
)
def test_read_boolean(value, expected):
    assert read_boolean(value) is expected


# --- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, ms",
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00.001Z", 1),
        ("1970-01-01T00:00:00.0019Z", 1),  # truncated, not rounded
        ("1970-01-01T00:00:00.9999999Z", 999),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1970-01-01T00:00:00-01:30", 5_400_000),
        ("1970-01-01T00:00:00+0130", -5_400_000),
        ("1970-01-01T00:00:00+01", -3_600_000),
        ("1970-01-01 00:00:00z", 0),
        ("1970-01-01t00:00Z", 0),
        ("1970-01-01T00:00:00,5Z", 500),
        ("1969-12-31T23:59:59.999Z", -1),
        ("1969-12-31T23:59:59.9999Z", -1),  # floor of the instant, also before 1970
        ("2024-02-29T12:34:56.789Z", 1709210096789),
        ("1900-01-01T00:00:00Z", -2208988800000),
        ("2261-12-31T23:59:59.999999Z", 9214646399999),
    ],
)
def test_parse_timestamp_iso(text, ms):
    assert parse_timestamp(text) == ms


def test_parse_timestamp_hand_checked_against_datetime():
    # 2024-02-29T12:34:56.789Z: days since epoch = 19782 (checked: 54 years incl. 13 leap days
    # to 2024-01-01 = 19723 days, + 31 (Jan) + 28 = 19782).
    assert parse_timestamp("2024-02-29T12:34:56.789Z") == ((19782 * 24 + 12) * 60 + 34) * 60_000 + 56_789


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("2024-01-01T00:00:00", "no time zone"),
        ("2024-01-01", "no time zone"),
        ("2024-01-01Z", "no time of day"),
        ("2024-02-30T00:00:00Z", "calendar date"),
        ("2024-01-01T24:00:00Z", "time of day"),
        ("2024-01-01T23:60:00Z", "time of day"),
        ("2024-01-01T23:59:60Z", "time of day"),
        ("2024-01-01T00:00:00+24:00", "offset"),
        ("1899-12-31T23:59:59.999Z", "range"),
        ("1900-01-01T00:30:00+01:00", "range"),
        ("2262-01-01T00:00:00Z", "range"),
        (" 2024-01-01T00:00:00Z", "ISO-8601"),
        ("yesterday", "ISO-8601"),
        ("1700000000000", "ISO-8601"),
        ("x" * 10_000, "ISO-8601"),
        (1.7e12, "not an integer"),
        (D("1700000000000"), "not an integer"),
        (True, "boolean"),
        (None, "not null"),
        ([1], "not a list"),
        (-2208988800001, "range"),
        (9214646400000, "range"),
        (10**30, "range"),
        (datetime(2024, 1, 1), "no time zone"),
    ],
)
def test_parse_timestamp_rejects(value, fragment):
    with pytest.raises(InvalidEvent) as e:
        parse_timestamp(value)
    assert fragment in e.value.reason
    assert isinstance(e.value, MeterqlError) and isinstance(e.value, ValueError)


def test_parse_timestamp_int_and_datetime():
    assert parse_timestamp(1_700_000_000_123) == 1_700_000_000_123
    assert parse_timestamp(-1) == -1
    tz = timezone(timedelta(hours=2))
    assert parse_timestamp(datetime(1970, 1, 1, 2, 0, 0, 1999, tzinfo=tz)) == 1
    assert parse_timestamp(datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)) == -1


def test_format_timestamp_inverse():
    for ms in (0, -1, 1709210096789, -2208988800000, 9214646399999):
        assert parse_timestamp(format_timestamp(ms)) == ms
    assert format_timestamp(-1) == "1969-12-31T23:59:59.999Z"


# --- events -------------------------------------------------------------------------------------


def ev(**over):
    base = {"event_id": "e1", "subject_id": "s1", "event_name": "call", "timestamp": "2024-01-01T00:00:00Z"}
    base.update(over)
    return base


def test_normalize_event_columns():
    props = j('{"n": 1.50, "s": "x", "ns": "2.0", "b": true, "z": null, "big": 1e30, "i": 99999999999999999999}')
    e = normalize_event(ev(properties=props))
    assert isinstance(e, StoredEvent)
    assert (e.event_id, e.subject_id, e.event_name, e.ts) == ("e1", "s1", "call", 1704067200000)
    assert e.ps == {"n": "1.5", "s": "x", "ns": "2.0", "b": "true", "big": "1" + "0" * 30, "i": "99999999999999999999"}
    assert e.pn == {"n": "1.5", "ns": "2", "big": "1" + "0" * 30, "i": "99999999999999999999"}
    assert e.pb == {"b": True}
    assert json.loads(e.properties_json, parse_float=Decimal) == props
    assert '"n":1.50' in e.properties_json  # numbers keep their exact text


def test_normalize_event_properties_forms():
    assert normalize_event(ev()).ps == {}
    assert normalize_event(ev(properties=None)).properties_json == "{}"
    e = normalize_event(ev(properties='{"a": 0.1, "b": "é"}'))
    assert e.pn == {"a": "0.1"} and e.ps == {"a": "0.1", "b": "é"}
    e = normalize_event(ev(properties={"f": 0.1, "k": "", "": "empty key"}))
    assert e.pn == {"f": "0.1"} and e.ps[""] == "empty key" and e.ps["k"] == ""
    assert json.loads(e.properties_json) == {"f": 0.1, "k": "", "": "empty key"}


@pytest.mark.parametrize(
    "over, fragment",
    [
        ({"event_id": ""}, "event_id must not be empty"),
        ({"event_id": 5}, "event_id must be a string"),
        ({"event_id": None}, "event_id is missing"),
        ({"subject_id": "a\x00b"}, "NUL"),
        ({"event_name": "\ud800"}, "surrogate"),
        ({"event_name": "x" * 1025}, "longer"),
        ({"timestamp": "2024-01-01T00:00:00"}, "no time zone"),
        ({"timestamp": 1.5}, "not an integer"),
        ({"properties": [1, 2]}, "must be a JSON object"),
        ({"properties": "[1]"}, "must be a JSON object"),
        ({"properties": "{bad json"}, "not valid JSON"),
        ({"properties": '{"a": NaN}'}, "NaN"),
        ({"properties": '{"a": 1, "a": 2}'}, "twice"),
        ({"properties": {"a": [1]}}, "array or object"),
        ({"properties": {"a": {"b": 1}}}, "array or object"),
        ({"properties": {1: "x"}}, "not a string"),
        ({"properties": {"a": float("nan")}}, "finite"),
        ({"properties": {"a": float("inf")}}, "finite"),
        ({"properties": {"a": D("Infinity")}}, "finite"),
        ({"properties": {"a": "x\x00"}}, "NUL"),
        ({"properties": {"a\x00": "x"}}, "NUL"),
        ({"properties": {"a": "\udc00"}}, "surrogate"),
        ({"properties": {"a": object()}}, "property values must be"),
        ({"properties": {"a": 10**5000}}, "too many digits"),
    ],
)
def test_normalize_event_rejects(over, fragment):
    with pytest.raises(InvalidEvent) as e:
        normalize_event(ev(**over))
    assert fragment in e.value.reason


def test_normalize_event_rejects_missing_fields_and_non_mappings():
    for name in ("event_id", "subject_id", "event_name", "timestamp"):
        raw = ev()
        del raw[name]
        with pytest.raises(InvalidEvent, match=f"{name} is missing"):
            normalize_event(raw)
    with pytest.raises(InvalidEvent, match="JSON object"):
        normalize_event([("event_id", "x")])  # type: ignore[arg-type]


def test_stored_event_is_frozen():
    e = normalize_event(ev())
    with pytest.raises(AttributeError):
        e.ts = 5  # type: ignore[misc]


# --- canonical text (SPEC §3), as every reading above uses it ----------------------------------


@pytest.mark.parametrize(
    "d, text",
    [
        ("22.50", "22.5"),
        ("3.000000000000", "3"),
        ("0.000001", "0.000001"),
        ("-4", "-4"),
        ("-0", "0"),
        ("-0.000000000000", "0"),
        ("1E+3", "1000"),
        ("1.2E+3", "1200"),
        ("1E-12", "0.000000000001"),
        ("-1E-12", "-0.000000000001"),
        ("99999999999999999999.999999999999", "99999999999999999999.999999999999"),
    ],
)
def test_canonical_text(d, text):
    from meterql.numbers import canonical

    assert canonical(D(d)) == text


def test_event_size_limits():
    with pytest.raises(InvalidEvent, match="more than 1024 keys"):
        normalize_event(ev(properties={f"k{i}": i for i in range(1025)}))
    with pytest.raises(InvalidEvent, match="longer than"):
        normalize_event(ev(properties={"k" * 1025: 1}))
    with pytest.raises(InvalidEvent, match="longer than"):
        normalize_event(ev(properties={"k": "x" * 65537}))
    assert normalize_event(ev(properties={"k": "x" * 65536})).ps["k"] == "x" * 65536


# --- robustness: any input gives a StoredEvent or an InvalidEvent -------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
    st.decimals(), st.binary(max_size=4),
)  # fmt: skip
_json_like = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["event_id", "subject_id", "event_name", "timestamp", "properties", "extra"]),
        st.one_of(_json_like, st.sampled_from(["2024-01-01T00:00:00Z", 0, "{}", '{"a": 1}', "s"])),
    )
)
def test_normalize_event_never_raises_anything_else(raw):
    try:
        e = normalize_event(raw)
    except InvalidEvent as err:
        assert err.reason
        return
    assert isinstance(e, StoredEvent) and isinstance(e.ts, int)
    # Whatever was accepted reads back: the stored JSON decodes to an object with the same keys.
    assert set(json.loads(e.properties_json)) >= set(e.ps) | set(e.pn) | set(e.pb)
