"""All bucket arithmetic of the planning floor, in one place: the bucket key in SQL, the floor of
a timestamp in Python, a bucket's end, a bucket cut to the period, the bucket starts of a range.

Consumes: a `Window` (granularity, period bounds and flags, time zone) and epoch milliseconds.
Produces: integers (epoch ms) and, for SQL, a sqlglot expression through the dialect's hooks.
Guarantees: integer arithmetic with a true floor (also before 1970); weeks start Monday 00:00.
Buckets are local-time buckets of `Window.timezone` (`meterql.buckets`: DST-correct, weeks from
Monday, months; in UTC exactly the plain integer floors).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from sqlglot import exp

from ..buckets import GRANULARITIES, Buckets

if TYPE_CHECKING:
    from .window import Window

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


@lru_cache(maxsize=256)
def buckets(granularity: str, timezone: str) -> Buckets:
    """The (validated, cached) local-time buckets of a granularity in a zone (`meterql.buckets`)."""
    return Buckets(granularity, timezone)


def _of(window: "Window") -> Buckets:
    g = window.granularity
    assert g is not None
    return buckets(g, window.timezone)


def key_depends_on_period(granularity: str | None, timezone: str) -> bool:
    """Whether the SQL bucket key holds literals computed from the period (the zone's offset
    segments inside it): then a statement's cache key must include the period. UTC hour, day
    and week keys are the plain floors, the same for every period."""
    return granularity is not None and (timezone != "UTC" or granularity == "month")


def sql_bucket_key(ts: exp.Expression, window: "Window", dialect: str) -> exp.Expression:
    """The start of the bucket holding `ts` (an integer epoch-ms column), in SQL — correct for
    every `ts` in the window's period (`Buckets.sql_key`)."""
    lo, hi = period_range(window)
    return _of(window).sql_key(ts, lo, max(hi, lo + 1), dialect)


def bucket_floor(ms: int, window: "Window") -> int:
    """The start of the (uncut) bucket holding `ms`."""
    return _of(window).floor(ms)


def bucket_end(start: int, window: "Window") -> int:
    """The (exclusive) end of the uncut bucket starting at `start`."""
    return _of(window).next(start)


def bucket_starts(lo: int, hi: int, window: "Window") -> list[int]:
    """The starts of the buckets meeting [lo, hi), in order (the period's start without
    granularity)."""
    if window.granularity is None:
        return [window.start_ms]
    if lo >= hi:
        return []
    return _of(window).starts(lo, hi)


def period_range(window: "Window") -> tuple[int, int]:
    """The period as a half-open interval [lo, hi) of milliseconds."""
    return (window.start_ms + (0 if window.inclusive_start else 1),
            window.end_ms + (1 if window.inclusive_end else 0))


def bucket_bounds(window: "Window", floor: int) -> tuple[int, int, bool, bool, int, int]:
    """The bucket whose floor is `floor`: its reported bounds and flags (cut to the period; a
    bound that is the period's own keeps the period's flag) and its half-open interval
    [row_lo, row_hi) in ms, which weighted_sum's durations use."""
    w = window
    lo, hi = period_range(w)
    if w.granularity is None:
        return w.start_ms, w.end_ms, w.inclusive_start, w.inclusive_end, lo, hi
    end = bucket_end(floor, w)
    s, s_inc = (w.start_ms, w.inclusive_start) if floor <= w.start_ms else (floor, True)
    t, t_inc = (w.end_ms, w.inclusive_end) if end > w.end_ms else (end, False)
    return s, t, s_inc, t_inc, max(floor, lo), min(end, hi)
