"""Local-time buckets (SPEC §5 `granularity`, `timezone`): where a bucket starts and ends, in
Python (the reference) and in SQL (the engines' GROUP BY key).

Consumes: a granularity (`hour` | `day` | `week` | `month`), an IANA time-zone name (default
`UTC`), UTC epoch milliseconds. Produces: bucket starts as UTC epoch ms, and the sqlglot
expression of the bucket start of an integer epoch-ms column (`Buckets.sql_key`).

Semantics (README "Semantics"):
- Buckets are local-time buckets. A *boundary* is an instant at which the zone's wall clock shows
  the start of a unit — HH:00 for `hour`, 00:00 for `day`, Monday 00:00 for `week`, the 1st
  00:00 for `month` — plus the instant of a UTC-offset transition at which the wall clock jumps
  over such a start (spring forward over it). The bucket of an instant `ts` is
  `[last boundary ≤ ts, first boundary > ts)`.
- So a local day lasts 23 or 25 hours across a DST change; in a fall-back the repeated local
  hour is two separate hour buckets; in Asia/Kathmandu (+05:45) hour buckets start at local :00
  (UTC :15); in Australia/Lord_Howe (30-minute DST) an hour bucket can last 30 or 90 minutes.
- In `UTC` the results are exactly the plain arithmetic floors (hour/day/week as before: weeks
  from Monday 00:00 UTC; true floors before 1970); `month` is the calendar month.
- Bucket starts are instants: rows still report them as UTC text (`…Z`).

The reference (`floor`, `next`, `starts`) walks local wall-clock unit starts with `zoneinfo`:
each unit start maps to the instants whose wall clock shows it (two in a fall-back fold, none in
a spring-forward gap — then the transition instant, found by bisection). The boundaries of one
UTC month (`hour`) or year (other units), with two days of margin, are computed once and cached.

The SQL key (`sql_key`) uses no session time zone and no engine time-zone database, only integer
arithmetic on epoch ms, so DuckDB and ClickHouse agree by construction: within [lo, hi) the
zone's UTC offset is piecewise constant (`segments`). In segment i (start s_i, offset o_i,
p_i = last boundary ≤ s_i) the bucket start of ts is cand = localfloor(ts + o_i) − o_i when
cand ≥ s_i, else p_i (the bucket began before the transition). Since cand grows with ts, "cand
< s_i" is "ts < f_i" for the first local unit start f_i ≥ s_i under o_i, so the key is a CASE
over `ts <` integer literals whose branches are either a floor formula or a constant. Offset
transitions are found by sampling the offset every 3 hours and bisecting (two transitions within
3 hours that cancel out would be missed; tzdata has none since 1900 in the zones tested).

Measured (DuckDB, 1M rows over 2024, one thread, GROUP BY the key, best of 5): UTC hour/day/week
27/21/16 ms (today's floor); Berlin day 27 ms, Lord Howe hour 34 ms (4 CASE branches); month
48–78 ms; a 10-year Berlin day key (31 branches) 44 ms. Whole-hour zones keep the UTC hour key.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as _tz
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .errors import InvalidSpec
from .evaluator import floor_ms as _utc_floor

if TYPE_CHECKING:
    from sqlglot import exp

GRANULARITIES = ("hour", "day", "week", "month")
MS_HOUR = 3_600_000
MS_DAY = 86_400_000
MS_WEEK = 7 * MS_DAY
_WIDTH = {"hour": MS_HOUR, "day": MS_DAY, "week": MS_WEEK}
_WEEK_SHIFT = 3 * MS_DAY  # 1970-01-01 was a Thursday: +3 days puts Mondays on multiples of a week
_STEP = 3 * MS_HOUR  # offset sampling step when looking for transitions
_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=_tz.utc)
# Instants the zone walk supports (datetime's years 1..9999, with a margin of some days).
_MIN_MS = -62_135_596_800_000 + 40 * MS_DAY  # 0001-02-10
_MAX_MS = 253_402_300_799_999 - 40 * MS_DAY  # 9999-11-21


@functools.lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo of an IANA name, or InvalidSpec."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise InvalidSpec(f"timezone must be an IANA time-zone name such as 'Europe/Berlin', got {name!r}")
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError (a path), IsADirectoryError, …
        raise InvalidSpec(f"unknown timezone {name!r} (expected an IANA name such as 'Europe/Berlin')") from None


@dataclass(frozen=True, slots=True)
class Buckets:
    """Local-time buckets of one granularity in one zone (semantics in the module docstring)."""

    granularity: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise InvalidSpec(f"granularity must be hour, day, week or month, got {self.granularity!r}")
        zone(self.timezone)

    @property
    def _utc(self) -> bool:
        return self.timezone == "UTC"

    # --- the reference --------------------------------------------------------------------------
    def floor(self, ts_ms: int) -> int:
        """UTC epoch ms where the bucket holding `ts_ms` starts (the last boundary ≤ ts)."""
        if self._utc:
            return _utc_floor(ts_ms, self.granularity)
        bounds = _chunk(self.granularity, self.timezone, _chunk_key(self.granularity, ts_ms))
        return bounds[bisect_right(bounds, ts_ms) - 1]

    def next(self, start_ms: int) -> int:
        """UTC epoch ms where the following bucket starts (the first boundary > start_ms)."""
        if self._utc:
            if self.granularity == "month":
                return _utc_floor(_utc_floor(start_ms, "month") + 32 * MS_DAY, "month")
            return _utc_floor(start_ms, self.granularity) + _WIDTH[self.granularity]
        bounds = _chunk(self.granularity, self.timezone, _chunk_key(self.granularity, start_ms))
        return bounds[bisect_right(bounds, start_ms)]

    def starts(self, lo: int, hi: int) -> list[int]:
        """Starts of every bucket meeting [lo, hi), ascending (empty when lo >= hi)."""
        out: list[int] = []
        if lo >= hi:
            return out
        b = self.floor(lo)
        while b < hi:
            out.append(b)
            b = self.next(b)
        return out

    # --- the SQL key ------------------------------------------------------------------------------
    def segments(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """[(s_i, o_i, p_i)]: the UTC-offset segments meeting [lo, hi) — segment i starts at
        s_i (s_0 = lo) with offset o_i ms; p_i = the last boundary ≤ s_i (= floor(s_i))."""
        z = self.timezone
        segs = [(lo, 0 if self._utc else _offset_ms(zone(z), lo), self.floor(lo))]
        if self._utc or lo >= hi:
            return segs
        for year in range(_year(lo) - 1, _year(hi) + 1):
            for t, o in _transitions(z, year):
                if lo < t < hi and o != segs[-1][1]:
                    segs.append((t, o, self.floor(t)))
        return segs

    def pieces(self, lo: int, hi: int) -> list[tuple[int, str, int]]:
        """The branches of the SQL key over [lo, hi): [(start, kind, value)], kind "f" (value =
        the shift of the floor formula, see `dialects.base.Dialect.bucket_key`) or "c" (value =
        a constant bucket start). The first start is lo; each piece runs to the next one's start."""
        segs = self.segments(lo, hi)
        out: list[tuple[int, str, int]] = []

        def add(start: int, kind: str, value: int) -> None:
            if out and out[-1][1:] == (kind, value):
                return
            out.append((start, kind, value))

        prev: int | None = None  # the offset of the previous segment's formula piece
        for i, (s, o, p) in enumerate(segs):
            end = segs[i + 1][0] if i + 1 < len(segs) else hi
            a = max(s, lo)
            c = self._cand(a, o)
            if c >= s or c == p:  # the formula is right on the whole segment
                add(a, "f", self._shift(o))
                prev = o
                continue
            f = self._cand_next(c, o)  # > a: the first local unit start after the transition
            last = min(f, end) - 1
            # The bucket that began before the transition, up to f: a constant — or the previous
            # offset's formula, when that gives the same start all along (one branch fewer).
            if not (prev is not None and out[-1][1] == "f" and self._cand(a, prev) == p == self._cand(last, prev)):
                add(a, "c", p)
                prev = None
            if f < end:
                add(f, "f", self._shift(o))
                prev = o
        return out

    def sql_key(self, ts: "exp.Expression", lo: int, hi: int, dialect: str) -> "exp.Expression":
        """The SQL of floor(ts) for lo <= ts < hi, `ts` an integer epoch-ms expression of a stored
        event (BIGINT / Int64; years 1900–2261). Integer arithmetic only; `UTC` hour/day/week is
        the plain `ts - (((ts % u) + u) % u)` shape."""
        from .dialects import dialect as _dialect

        return _dialect(dialect).bucket_key(self.granularity, ts, self.pieces(lo, hi if hi > lo else lo + 1))

    # --- helpers: the floor in a fixed offset o --------------------------------------------------
    def _cand(self, x: int, o: int) -> int:
        return _utc_floor(x + o, self.granularity) - o

    def _cand_next(self, c: int, o: int) -> int:
        if self.granularity == "month":
            return _utc_floor(c + o + 32 * MS_DAY, "month") - o
        return c + _WIDTH[self.granularity]

    def _shift(self, o: int) -> int:
        if self.granularity == "month":
            return o
        u = _WIDTH[self.granularity]
        return (o + (_WEEK_SHIFT if self.granularity == "week" else 0)) % u


# --- the zone walk -----------------------------------------------------------------------------


def _check(ms: int) -> None:
    if not _MIN_MS <= ms <= _MAX_MS:
        raise InvalidSpec(f"time {ms} ms is outside the years 0001-9999 that local-time buckets support")


def _naive_utc(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _year(ms: int) -> int:
    _check(ms)
    return _naive_utc(ms).year


def _wall(z: ZoneInfo, ms: int) -> datetime:
    """The wall clock (naive local time) at instant ms."""
    return (_EPOCH_UTC + timedelta(milliseconds=ms)).astimezone(z).replace(tzinfo=None)


def _offset_ms(z: ZoneInfo, ms: int) -> int:
    _check(ms)
    off = (_EPOCH_UTC + timedelta(milliseconds=ms)).astimezone(z).utcoffset()
    return 0 if off is None else off // _MS


def _to_ms(aware: datetime) -> int:
    return (aware - _EPOCH_UTC) // _MS


def _unit_floor(w: datetime, g: str) -> datetime:
    w = w.replace(minute=0, second=0, microsecond=0)
    if g == "hour":
        return w
    w = w.replace(hour=0)
    if g == "day":
        return w
    if g == "week":
        return w - timedelta(days=w.weekday())
    return w.replace(day=1)


def _unit_step(u: datetime, g: str, n: int) -> datetime:
    if g == "hour":
        return u + timedelta(hours=n)
    if g == "day":
        return u + timedelta(days=n)
    if g == "week":
        return u + timedelta(days=7 * n)
    m = u.year * 12 + (u.month - 1) + n
    return u.replace(year=m // 12, month=m % 12 + 1)


def _instants(z: ZoneInfo, u: datetime) -> set[int]:
    """The boundary instants of wall-clock unit start `u`: the instants whose wall clock shows
    u (two in a fall-back fold), or — u skipped in a spring-forward gap — the transition."""
    cands = [_to_ms(u.replace(tzinfo=z, fold=fold)) for fold in (0, 1)]
    shown = {t for t in cands if _wall(z, t) == u}
    if shown:
        return shown
    a, b = min(cands), max(cands)  # wall(a) < u < wall(b): the jump is in (a, b]
    while b - a > 1:
        m = (a + b) // 2
        if _wall(z, m) > u:
            b = m
        else:
            a = m
    return {b}


def _chunk_key(g: str, ms: int) -> tuple[int, int]:
    _check(ms)
    d = _naive_utc(ms)
    return (d.year, d.month if g == "hour" else 1)


@functools.lru_cache(maxsize=2048)
def _chunk(g: str, tzname: str, key: tuple[int, int]) -> tuple[int, ...]:
    """Every boundary whose unit start lies within two days (plus a unit) of one UTC month
    (hour) or year (other units), sorted: its first is before the chunk, its last after it."""
    z = zone(tzname)
    year, month = key
    lo = datetime(year, month, 1)
    hi = datetime(year + (month == 12), month % 12 + 1, 1) if g == "hour" else datetime(year + 1, 1, 1)
    u = _unit_step(_unit_floor(_wall(z, (lo - _EPOCH) // _MS) - timedelta(days=2), g), g, -1)
    stop = _wall(z, (hi - _EPOCH) // _MS) + timedelta(days=2)
    out: set[int] = set()
    while True:
        out |= _instants(z, u)
        if u > stop:
            break
        u = _unit_step(u, g, 1)
    return tuple(sorted(out))


@functools.lru_cache(maxsize=4096)
def _transitions(tzname: str, year: int) -> tuple[tuple[int, int], ...]:
    """(instant, new offset ms) of every UTC-offset change in (Jan 1 year, Jan 1 year+1] UTC."""
    z = zone(tzname)
    a = (datetime(year, 1, 1) - _EPOCH) // _MS
    b = (datetime(year + 1, 1, 1) - _EPOCH) // _MS
    out: list[tuple[int, int]] = []
    t, o = a, _offset_ms(z, a)
    while t < b:
        t2 = min(t + _STEP, b)
        o2 = _offset_ms(z, t2)
        if o2 != o:
            x, y = t, t2  # offset(x) == o, offset(y) == o2: the first instant of o2 is in (x, y]
            while y - x > 1:
                m = (x + y) // 2
                if _offset_ms(z, m) == o:
                    x = m
                else:
                    y = m
            out.append((y, o2))
        t, o = t2, o2
    return tuple(out)
