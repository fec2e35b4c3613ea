"""Aggregates of events supplied in the call, for `evaluate_preview` (no store, nothing written).

Consumes: an iterable of raw events (at most `PriceLimits.max_preview_events`), the subject or
None, and the evaluation request.
Produces: a `ReferenceAggregator`, the pricing `Aggregator` an engine also is
(`aggregate_many(metrics, window)` → one list of rows per metric), backed by the reference
aggregation (`meterql.reference`).
Guarantees: events are validated exactly as `ingest` validates them, but a bad event fails the
call (`InvalidSpec` naming its index and reason) instead of being dropped: a calculator's input
is the caller's to fix. The first event with a given `event_id` wins, as in a store.

Why the reference and not an in-memory DuckDB: it is the oracle both engines are tested against
row for row, it needs no connection (microseconds to set up, not a DuckDB instance per call), and
500 events are well within its speed. The tests hold preview == stored on both engines.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ..errors import InvalidSpec, LimitExceeded, describe_type
from ..plan.window import Window
from ..values import StoredEvent

PREVIEW_SUBJECT = "preview"
_ID_PREFIX = "meterql-preview-"


def _events(events: Iterable[Mapping[str, Any]], subject_id: str | None, max_events: int | None) -> tuple[list[Any], str]:
    from ..values import InvalidEvent, normalize_event

    if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
        raise InvalidSpec("events must be a list of event objects")
    out = []
    for index, raw in enumerate(events):
        if max_events is not None and index >= max_events:
            raise LimitExceeded(f"more than {max_events} events supplied to a preview; store them and use evaluate_price")
        if not isinstance(raw, Mapping):
            raise InvalidSpec(f"events[{index}]: an event must be an object, not {describe_type(raw)}")
        filled = dict(raw)
        # A calculator's events need not carry ids: each one without an id is distinct.
        if filled.get("event_id") is None:
            filled["event_id"] = f"{_ID_PREFIX}{index}"
        if filled.get("subject_id") is None:
            filled["subject_id"] = subject_id or PREVIEW_SUBJECT
        try:
            out.append(normalize_event(filled))
        except InvalidEvent as exc:
            raise InvalidSpec(f"events[{index}]: {exc.reason}") from None
    if subject_id is not None:
        return out, subject_id
    subjects = {e.subject_id for e in out}
    if len(subjects) > 1:
        shown = ", ".join(sorted(map(repr, subjects))[:5])
        raise InvalidSpec(f"the events belong to several subjects ({shown}); pass subject_id to choose one")
    return out, (subjects.pop() if subjects else PREVIEW_SUBJECT)


def preview_events(events: Iterable[Mapping[str, Any]], subject_id: str | None,
                   max_events: int | None) -> tuple[list[StoredEvent], str]:
    """The supplied events, validated, and the subject they are aggregated for."""
    return _events(events, subject_id, max_events)


class ReferenceAggregator:
    """The pricing `Aggregator` over supplied events: the reference (`reference_rows`)."""

    def __init__(self, stored: Sequence[StoredEvent]) -> None:
        self.stored = stored

    def aggregate_many(self, metrics: Sequence[Any], window: Window, *, max_rows: int | None = None) -> list[list[Any]]:
        from ..reference import reference_rows

        return [reference_rows(self.stored, m, window) for m in metrics]


__all__ = ["PREVIEW_SUBJECT", "ReferenceAggregator", "preview_events"]
