"""`Window`: what one call aggregates over — the period (bounds and flags), buckets, time zone,
dimensions, an extra filter and which subjects — checked once, when it is made.

Consumes: the public arguments (any types: a wrong one is `InvalidSpec`, never a `TypeError`).
Produces: a frozen, hashable `Window`; `shape` is what a plan's statement depends on (the rest —
subjects, bounds — is bound as parameters).
Guarantees: subject ids obey the ingest rule (SPEC §1); dimensions are non-empty, distinct
expression strings; granularity is hour/day/week or None; `timezone` is an IANA name
(`zoneinfo`); `within(limits)` adds the engine's limit on dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Iterable, Mapping

from ..errors import InvalidSpec, LimitExceeded, describe_type, show
from .time import GRANULARITIES, key_depends_on_period


class Scope(StrEnum):
    """Which subjects a plan reads: one (bound `subject`), a list (bound `subjects`), or all."""

    ONE = "one"
    LIST = "list"
    ALL = "all"


# --- argument checks at the public boundary (a wrong type is InvalidSpec, never a TypeError) -----


def _kind(value: Any) -> str:
    """How a bad argument is named in a message: a short string as text, anything else by type."""
    if value is None or isinstance(value, (str, int, float, Decimal)):
        return show(value, 40)
    return describe_type(value)


def check_id(value: Any, what: str = "subject_id") -> str:
    """A subject id (or event name) given at query time obeys the ingest rule (SPEC §1,
    `values.py`): a non-empty string of valid Unicode, no NUL, at most 1,024 characters."""
    from ..values import MAX_ID_LENGTH, InvalidEvent, _check_text

    try:
        return _check_text(what, value, MAX_ID_LENGTH)
    except InvalidEvent as exc:
        raise InvalidSpec(exc.reason) from None


def check_subject_ids(subject_ids: Any) -> list[str] | None:
    """None (every subject) or a list of ids, each by `check_id`; duplicates once, order kept."""
    if subject_ids is None:
        return None
    if isinstance(subject_ids, (str, bytes, Mapping)) or not isinstance(subject_ids, Iterable):
        raise InvalidSpec(f"subject_ids must be a list of subject ids or None, not {_kind(subject_ids)}")
    from ..values import MAX_ID_LENGTH

    ids = list(subject_ids)
    # Fast path for a long invoice-run list: the checks of `check_id` over all ids at once;
    # only a list that fails them is walked id by id (to name the first bad one).
    ok = all(type(s) is str and 0 < len(s) <= MAX_ID_LENGTH for s in ids)
    if ok:
        text = "".join(ids)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            ok = False
        ok = ok and "\x00" not in text
    if not ok:
        for i, s in enumerate(ids):
            check_id(s, f"subject_ids[{i}]")
    return list(dict.fromkeys(ids))


def check_dimensions(dimensions: Any, limits: Any = None, what: str = "dimensions") -> tuple[str, ...]:
    """A list of dimension (grouping-key) expressions; None is no dimensions. With `limits`, at
    most `limits.max_dimensions` of them (`LimitExceeded`), checked before anything is compiled."""
    if dimensions is None:
        return ()
    if isinstance(dimensions, (str, bytes, Mapping)) or not isinstance(dimensions, Iterable):
        raise InvalidSpec(f"{what} must be a list of expressions, not {'one string' if isinstance(dimensions, str) else _kind(dimensions)}")
    dims = tuple(dimensions)
    for i, d in enumerate(dims):
        if not isinstance(d, str) or not d:
            raise InvalidSpec(f"{what}[{i}] must be a non-empty expression string, not {_kind(d)}")
    if limits is not None:
        check_dimension_count(len(dims), limits, what)
    return dims


def check_dimension_count(n: int, limits: Any, what: str = "dimensions") -> None:
    if limits.max_dimensions is not None and n > limits.max_dimensions:
        raise LimitExceeded(
            f"{n} {what} in one call; at most {limits.max_dimensions} are allowed (QueryLimits.max_dimensions)"
        )


def check_granularity(granularity: Any) -> str | None:
    if granularity is not None and (not isinstance(granularity, str) or granularity not in GRANULARITIES):
        raise InvalidSpec(f"granularity must be hour, day, week, month or None, not {_kind(granularity)}")
    return granularity


def check_filter(text: Any, what: str = "filter") -> str | None:
    if text is not None and not isinstance(text, str):
        raise InvalidSpec(f"{what} must be an expression string or None, not {_kind(text)}")
    return text


def check_flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidSpec(f"{what} must be True or False, not {_kind(value)}")
    return value


def check_timezone(value: Any) -> str:
    """An IANA time-zone name (`zoneinfo`), e.g. `UTC`, `Europe/Berlin`."""
    if not isinstance(value, str) or not value:
        raise InvalidSpec(f"timezone must be an IANA time-zone name, not {_kind(value)}")
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(value)
    except Exception:  # ZoneInfoNotFoundError, ValueError (a path-like key): not a zone name
        raise InvalidSpec(f"unknown time zone {_kind(value)} (expected an IANA name such as Europe/Berlin)") from None
    return value


# --- the window ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """What to aggregate over: the subjects (`subject_id` for one; else `subject_ids`, None being
    every subject), a period, optional buckets, time zone, dimensions and an extra filter."""

    subject_id: str | None
    start_ms: int
    end_ms: int
    inclusive_start: bool = True
    inclusive_end: bool = False
    granularity: str | None = None
    dimensions: tuple[str, ...] = ()
    extra_filter: str | None = None
    timezone: str = "UTC"
    subject_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.subject_id is not None:
            check_id(self.subject_id)
            if self.subject_ids is not None:
                raise InvalidSpec("a window reads one subject (subject_id) or a list (subject_ids), not both")
        elif self.subject_ids is not None:
            object.__setattr__(self, "subject_ids", tuple(check_subject_ids(self.subject_ids)))  # type: ignore[arg-type]
        for name in ("start_ms", "end_ms"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidSpec(f"{name} must be integer epoch milliseconds, got {_kind(v)}")
        if self.end_ms < self.start_ms:
            raise InvalidSpec("the period ends before it starts")
        check_flag(self.inclusive_start, "inclusive_start")
        check_flag(self.inclusive_end, "inclusive_end")
        check_granularity(self.granularity)
        dims = check_dimensions(self.dimensions)
        if len(set(dims)) != len(dims):
            raise InvalidSpec("dimensions must not repeat")
        object.__setattr__(self, "dimensions", dims)
        check_filter(self.extra_filter, "extra_filter")
        check_timezone(self.timezone)

    @property
    def scope(self) -> Scope:
        if self.subject_id is not None:
            return Scope.ONE
        return Scope.ALL if self.subject_ids is None else Scope.LIST

    @property
    def shape(self) -> tuple[Any, ...]:
        """What the statement depends on (subjects and bounds are bound parameters)."""
        # A local-time (or month) bucket key holds literals computed from the period: then the
        # bounds belong to the shape too (`time.key_depends_on_period`).
        bounds = ((self.start_ms, self.end_ms) if key_depends_on_period(self.granularity, self.timezone)
                  else (0, 0))
        return (self.scope, self.inclusive_start, self.inclusive_end, self.granularity, self.timezone,
                self.dimensions, self.extra_filter, bounds)

    def within(self, limits: Any) -> "Window":
        """This window, checked against an engine's `QueryLimits` (the number of dimensions)."""
        check_dimension_count(len(self.dimensions), limits)
        return self
