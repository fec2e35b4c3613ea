"""All bucket arithmetic of the planning floor, in one place: the bucket key in SQL, the floor of
a timestamp in Python, a bucket's end, a bucket cut to the period, the bucket starts of a range.

Consumes: a `Window` (granularity, period bounds and flags, time zone) and epoch milliseconds.
Produces: integers (epoch ms) and, for SQL, a sqlglot expression through the dialect's hooks.
Guarantees: integer arithmetic with a true floor (also before 1970); weeks start Monday 00:00.
Buckets are UTC buckets for now: `Window.timezone` is carried here unread — the time-zone and
month buckets replace these bodies (the signatures stay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from ..dialects.plan import floor_ms

if TYPE_CHECKING:
    from .window import Window

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
GRANULARITY_MS = {"hour": HOUR_MS, "day": DAY_MS, "week": WEEK_MS}
GRANULARITIES = tuple(GRANULARITY_MS)
# 1970-01-01 was a Thursday: shifting by 3 days puts Monday 00:00 UTC on multiples of a week.
_OFFSET_MS = {"hour": 0, "day": 0, "week": 3 * DAY_MS}


def sql_bucket_key(ts: exp.Expression, window: "Window", dialect: str) -> exp.Expression:
    """The floor of `ts` (an integer epoch-ms column) to the window's bucket, in SQL."""
    g = window.granularity
    assert g is not None
    return floor_ms(ts, GRANULARITY_MS[g], _OFFSET_MS[g])


def bucket_floor(ms: int, window: "Window") -> int:
    """The start of the (uncut) bucket holding `ms`."""
    g = window.granularity
    assert g is not None
    return ms - (ms + _OFFSET_MS[g]) % GRANULARITY_MS[g]  # Python's % is already a floor modulo


def bucket_end(start: int, window: "Window") -> int:
    """The (exclusive) end of the uncut bucket starting at `start`."""
    return start + GRANULARITY_MS[window.granularity]  # type: ignore[index]


def bucket_starts(lo: int, hi: int, window: "Window") -> list[int]:
    """The starts of the buckets meeting [lo, hi), in order (the period's start without
    granularity)."""
    if window.granularity is None:
        return [window.start_ms]
    if lo >= hi:
        return []
    out, b, last = [], bucket_floor(lo, window), bucket_floor(hi - 1, window)
    while b <= last:
        out.append(b)
        b = bucket_end(b, window)
    return out


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
