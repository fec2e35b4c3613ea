"""Local-time buckets (meterql.buckets): hand-checked boundaries, UTC = the arithmetic floors of
today, and the SQL key = the reference floor on DuckDB and ClickHouse (chdb), differentially."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlglot import exp

from meterql.buckets import Buckets
from meterql.errors import InvalidSpec

H = 3_600_000
M = 60_000
DAY = 24 * H
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu")
UNITS = ("hour", "day", "week", "month")


def z(text: str) -> int:
    """UTC text → epoch ms."""
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def bucket(g: str, tz: str, at: str) -> tuple[int, int]:
    b = Buckets(g, tz)
    s = b.floor(z(at))
    return s, b.next(s)


# --- hand-checked boundaries (local wall clock → UTC by hand) -----------------------------------


def test_berlin_days_of_23_and_25_hours():
    # 2024-03-31: CET (+1) until 02:00 local = 01:00Z, then CEST (+2).
    # Local midnight Mar 31 = Mar 30 23:00Z; Apr 1 midnight = Mar 31 22:00Z: 23 hours.
    assert bucket("day", "Europe/Berlin", "2024-03-31T12:00") == (z("2024-03-30T23:00"), z("2024-03-31T22:00"))
    assert bucket("day", "Europe/Berlin", "2024-03-30T23:00") == (z("2024-03-30T23:00"), z("2024-03-31T22:00"))
    assert Buckets("day", "Europe/Berlin").floor(z("2024-03-30T22:59:59.999")) == z("2024-03-29T23:00")
    # 2024-10-27: back to CET at 03:00 CEST = 01:00Z; Oct 27 = [Oct 26 22:00Z, Oct 27 23:00Z): 25 h.
    assert bucket("day", "Europe/Berlin", "2024-10-27T01:30") == (z("2024-10-26T22:00"), z("2024-10-27T23:00"))


def test_fall_back_repeated_hour_is_two_buckets():
    # New York 2024-11-03: 02:00 EDT (06:00Z) → 01:00 EST. Local 01:00-02:00 happens twice:
    # 05:00Z-06:00Z (EDT) and 06:00Z-07:00Z (EST).
    assert bucket("hour", "America/New_York", "2024-11-03T05:30") == (z("2024-11-03T05:00"), z("2024-11-03T06:00"))
    assert bucket("hour", "America/New_York", "2024-11-03T06:30") == (z("2024-11-03T06:00"), z("2024-11-03T07:00"))
    # Its day lasts 25 hours: 04:00Z → 05:00Z next day.
    assert bucket("day", "America/New_York", "2024-11-03T12:00") == (z("2024-11-03T04:00"), z("2024-11-04T05:00"))


def test_kathmandu_hours_start_at_utc_quarter_past():
    # +05:45: local 15:00 = 09:15Z.
    assert bucket("hour", "Asia/Kathmandu", "2024-05-01T10:00") == (z("2024-05-01T09:15"), z("2024-05-01T10:15"))
    assert bucket("day", "Asia/Kathmandu", "2024-05-01T10:00") == (z("2024-04-30T18:15"), z("2024-05-01T18:15"))


def test_lord_howe_hours_of_90_and_30_minutes():
    # 2024-04-07 02:00 LHDT (+11) = 2024-04-06 15:00Z → 01:30 LHST (+10:30): the local hour
    # 01:00 starts at 14:00Z and the next hour start (02:00 LHST) is 15:30Z: 90 minutes.
    assert bucket("hour", "Australia/Lord_Howe", "2024-04-06T15:10") == (z("2024-04-06T14:00"), z("2024-04-06T15:30"))
    # 2024-10-06 02:00 LHST = 2024-10-05 15:30Z → 02:30 LHDT: the clock jumps over 02:00, so the
    # transition is a boundary and 03:00 LHDT (16:00Z) the next: 30 minutes.
    assert bucket("hour", "Australia/Lord_Howe", "2024-10-05T15:40") == (z("2024-10-05T15:30"), z("2024-10-05T16:00"))
    assert Buckets("hour", "Australia/Lord_Howe").floor(z("2024-10-05T15:29:59.999")) == z("2024-10-05T14:30")


def test_weeks_start_monday_local_and_months_local():
    # Sunday 2024-03-31 in Berlin: week from Monday 03-25 00:00 CET (03-24 23:00Z) to Monday
    # 04-01 00:00 CEST (03-31 22:00Z).
    assert bucket("week", "Europe/Berlin", "2024-03-31T12:00") == (z("2024-03-24T23:00"), z("2024-03-31T22:00"))
    # March 2024 in New York: Mar 1 00:00 EST = 05:00Z to Apr 1 00:00 EDT = 04:00Z.
    assert bucket("month", "America/New_York", "2024-03-15T00:00") == (z("2024-03-01T05:00"), z("2024-04-01T04:00"))
    # Feb 2024 (leap) in UTC, and 1969-12 before the epoch.
    assert bucket("month", "UTC", "2024-02-29T23:59") == (z("2024-02-01T00:00"), z("2024-03-01T00:00"))
    assert bucket("month", "UTC", "1969-12-31T23:59:59.999") == (z("1969-12-01T00:00"), z("1970-01-01T00:00"))
    assert Buckets("month", "Europe/Berlin").starts(z("2024-01-15T00:00"), z("2024-04-01T00:00")) == [
        z("2023-12-31T23:00"), z("2024-01-31T23:00"), z("2024-02-29T23:00"), z("2024-03-31T22:00")]


def test_invalid_zone_and_unit():
    for bad in ("Mars/Olympus", "", "../etc/passwd", "/usr/share/zoneinfo/UTC", " UTC", None, 5):
        with pytest.raises(InvalidSpec):
            Buckets("day", bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidSpec):
        Buckets("year")


# --- UTC: exactly today's floors (query.py floor_ms / py_floor) ------------------------------------

_TODAY = {"hour": (H, 0), "day": (DAY, 0), "week": (7 * DAY, 3 * DAY)}


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**14), max_value=10**14), st.sampled_from(sorted(_TODAY)))
def test_utc_floor_is_todays_arithmetic(ms, g):
    unit, off = _TODAY[g]
    b = Buckets(g)
    assert b.floor(ms) == ms - (ms + off) % unit
    assert b.next(b.floor(ms)) == b.floor(ms) + unit
    assert b.starts(ms, ms + 3 * unit) == [b.floor(ms) + k * unit for k in range(3 + (b.floor(ms) != ms))]


def test_utc_sql_key_is_todays_shape():
    ts = exp.column("ts")
    for dialect in ("duckdb", "clickhouse"):
        key = lambda g: Buckets(g).sql_key(ts, z("1960-01-01T00:00"), z("2030-01-01T00:00"), dialect).sql(dialect)
        assert key("hour") == "ts - (((ts % 3600000) + 3600000) % 3600000)"
        assert key("day") == "ts - (((ts % 86400000) + 86400000) % 86400000)"
        assert key("week") == "ts - ((((ts + 259200000) % 604800000) + 604800000) % 604800000)"
    # Whole-hour zones keep the UTC hour key whatever their DST: no CASE.
    assert Buckets("hour", "Europe/Berlin").sql_key(ts, z("2024-01-01T00:00"), z("2025-01-01T00:00"), "duckdb").sql(
        "duckdb") == "ts - (((ts % 3600000) + 3600000) % 3600000)"


# --- SQL key = reference floor, on both engines -------------------------------------------------------


def _duck_eval(con, key_sql: str, instants: list[int]) -> dict[int, int]:
    rows = con.execute(f"SELECT ts, {key_sql} FROM (SELECT CAST(unnest(?) AS BIGINT) AS ts)", [instants]).fetchall()
    return {int(a): int(b) for a, b in rows}


def _ch_eval(client, key_sql: str, instants: list[int]) -> dict[int, int]:
    arr = ", ".join(f"toInt64({n})" for n in instants)
    rows = client.query(f"SELECT ts, {key_sql} FROM (SELECT arrayJoin([{arr}]) AS ts)").result_rows
    return {int(a): int(b) for a, b in rows}


@pytest.fixture(scope="module")
def evaluators(duck, chdb_client):
    return {"duckdb": lambda sql, xs: _duck_eval(duck, sql, xs), "clickhouse": lambda sql, xs: _ch_eval(chdb_client, sql, xs)}


def _check(evaluators, g: str, tz: str, lo: int, hi: int, instants: list[int]) -> None:
    b = Buckets(g, tz)
    instants = sorted({t for t in instants if lo <= t < hi})
    expected = {t: b.floor(t) for t in instants}
    for dialect, run in evaluators.items():
        key = b.sql_key(exp.column("ts"), lo, hi, dialect).sql(dialect)
        got = run(key, instants)
        bad = {t: (got[t], expected[t]) for t in instants if got[t] != expected[t]}
        assert not bad, (dialect, g, tz, list(bad.items())[:5])


def _edges(b: Buckets, lo: int, hi: int, rng: random.Random, n_random: int = 40) -> list[int]:
    out = [lo, hi - 1]
    for s in b.starts(lo, hi):
        out += [s - 1, s, s + 1, s + 15 * M, s + 30 * M + 1]
    for s, _, _ in b.segments(lo, hi)[1:]:
        out += [s - 1, s, s + 1, s + 30 * M - 1, s + 30 * M, s + H - 1, s + H, s + 2 * H]
    out += [rng.randrange(lo, hi) for _ in range(n_random)]
    return out


# Windows: a whole DST year (day/week/month) or a few days around each change (hour), leap day,
# year ends, before 1970 (New York had DST in 1965; Berlin none then), and the far future (2040).
_WIDE = [("2024-01-01T00:00", "2025-01-01T00:00"), ("1964-12-01T00:00", "1966-01-15T00:00"),
         ("2039-12-01T00:00", "2041-01-10T00:00")]
_NARROW = [("2024-02-27T00:00", "2024-03-02T00:00"), ("2023-12-30T00:00", "2024-01-02T00:00"),
           ("1969-12-30T00:00", "1970-01-02T00:00"), ("1965-04-24T00:00", "1965-04-27T00:00"),
           ("1965-10-30T00:00", "1965-11-02T00:00")]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("g", UNITS)
def test_sql_key_matches_reference(evaluators, g, tz):
    rng = random.Random(f"{g}{tz}")
    b = Buckets(g, tz)
    windows = list(_NARROW)
    if g == "hour":  # a few days around each offset change of the wide windows
        for a, c in _WIDE:
            for s, _, _ in b.segments(z(a), z(c))[1:]:
                windows.append((s - 2 * DAY, s + 2 * DAY))
        windows.append((z("2024-01-01T00:00"), z("2024-01-08T00:00")))
    else:
        windows += _WIDE
    for lo, hi in windows:
        lo, hi = (z(lo), z(hi)) if isinstance(lo, str) else (lo, hi)
        _check(evaluators, g, tz, lo, hi, _edges(b, lo, hi, rng))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tz=st.sampled_from(ZONES),
    g=st.sampled_from(UNITS),
    lo=st.integers(min_value=z("1900-01-01T00:00"), max_value=z("2200-01-01T00:00")),
    width=st.integers(min_value=1, max_value=40 * DAY),
    seed=st.integers(0, 2**32),
)
def test_sql_key_matches_reference_random(evaluators, tz, g, lo, width, seed):
    b = Buckets(g, tz)
    hi = lo + (width if g == "hour" else width * 10)
    _check(evaluators, g, tz, lo, hi, _edges(b, lo, hi, random.Random(seed), 30))
