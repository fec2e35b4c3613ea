"""Price evaluation (SPEC §6; Orb "Evaluate price"): a price's quantity and amount per group.

Consumes: a `Price`, a subject, a timeframe (start inclusive, end exclusive), an optional filter
and grouping keys (expressions of the language), and a source of aggregates — a connected engine
(`engine.aggregate` / `engine.aggregate_many`) or, for `evaluate_preview`, events supplied in the
call (aggregated by the reference evaluator, the oracle every engine is tested against).
Produces: `PriceRow`s ordered by grouping values, and Orb's response shapes.
Guarantees:
- The quantity of a group is the price's metric aggregated over the group's events in the
  timeframe; the amount is the model applied to it, exact (see `pricing.models`). For `matrix`
  the quantity is split by the matrix dimensions too, each cell is priced at its unit amount, and
  the group's quantity and amount are the sums over its cells.
- Groups: without grouping keys there is exactly one row (quantity 0 and amount 0 when nothing
  matched, like a zero-usage invoice line); with grouping keys, one row per group that has at
  least one matching event (a group whose value is NULL, e.g. `max` over NULL values, counts 0).
- Rows are ordered by grouping values: numbers numerically, strings by code point, NULL last.
- Limits (`PriceLimits`) fail with `LimitExceeded`, never truncate. The row limit stops the
  engine's query (`LIMIT max_rows + 1`) when groups and aggregate rows are the same (no matrix
  dimensions beyond the grouping keys); otherwise the engine's `QueryLimits.max_rows` bounds it.
- Arguments of the wrong type are `InvalidSpec` (subject ids by the ingest rule for ids).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from .. import numbers
from ..errors import EngineError, InvalidSpec, LimitExceeded, TooManyRows, describe_type
from ..plan.build import with_row_limit
from ..plan.window import Window, check_id
from .models import Cell, MatrixModel, Price, finish

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class PriceLimits:
    """Configurable limits of price evaluation (Orb's defaults). `None` disables a limit."""

    max_lookback_days: int | None = 100  # timeframe_start at most this many days before now
    max_rows: int | None = 1000  # rows of one price's result
    max_prices: int | None = 100  # prices in one `evaluate_prices` call
    max_preview_events: int | None = 500  # events supplied to `evaluate_preview`
    max_grouping_keys: int | None = 16


DEFAULT_LIMITS = PriceLimits()


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One group of a price evaluation (Orb: `grouping_values`, `quantity`, `amount`)."""

    grouping_values: tuple[str | None, ...]
    quantity: Decimal
    amount: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "grouping_values": list(self.grouping_values),
            "quantity": numbers.canonical(self.quantity),
            "amount": numbers.canonical(self.amount),
        }


def price_response(rows: Iterable[PriceRow]) -> dict[str, Any]:
    """Orb's evaluate-price response: `{"data": [{grouping_values, quantity, amount}, ...]}`."""
    return {"data": [row.to_dict() for row in rows]}


def prices_response(prices: Sequence[Price], results: Sequence[Sequence[PriceRow]]) -> dict[str, Any]:
    """Orb's multi-price evaluation response: one entry per price with its `price_groups`."""
    return {
        "data": [
            {
                "price_id": price.id,
                "external_price_id": price.external_price_id,
                "currency": price.currency,
                "price_groups": [row.to_dict() for row in rows],
            }
            for price, rows in zip(prices, results, strict=True)
        ]
    }


# --- request validation -------------------------------------------------------------------------


def to_millis(value: Any, what: str) -> int:
    """A timeframe bound: an aware datetime, an ISO-8601 string with an offset or `Z`, or
    integer epoch milliseconds — read exactly as event timestamps are (`values.parse_timestamp`)."""
    from ..values import InvalidEvent, parse_timestamp

    try:
        return parse_timestamp(value)
    except InvalidEvent as exc:
        raise InvalidSpec(f"{what}: {exc.reason}") from None


@dataclass(frozen=True, slots=True)
class _Request:
    start_ms: int
    end_ms: int
    filter: str | None
    grouping_keys: tuple[str, ...]
    key_is_number: tuple[bool, ...]


def _request(
    timeframe_start: Any,
    timeframe_end: Any,
    filter: str | None,
    grouping_keys: Sequence[str],
    limits: PriceLimits,
    now_ms: int | None,
    *,
    check_lookback: bool = True,
) -> _Request:
    from ..ast import Kind, Type
    from ..checker import parse

    start = to_millis(timeframe_start, "timeframe_start")
    end = to_millis(timeframe_end, "timeframe_end")
    if end <= start:
        raise InvalidSpec("timeframe_end must be after timeframe_start (the start is inclusive, the end exclusive)")
    if check_lookback and limits.max_lookback_days is not None:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        earliest = now - limits.max_lookback_days * DAY_MS
        if start < earliest:
            raise LimitExceeded(
                f"timeframe_start is more than {limits.max_lookback_days} days before now; "
                "raise PriceLimits.max_lookback_days to evaluate older usage"
            )
    if grouping_keys is None:
        grouping_keys = ()
    if isinstance(grouping_keys, str):
        raise InvalidSpec("grouping_keys is a list of expressions, not one string")
    if isinstance(grouping_keys, (bytes, Mapping)) or not isinstance(grouping_keys, Iterable):
        raise InvalidSpec(f"grouping_keys is a list of expressions, not {describe_type(grouping_keys)}")
    keys = tuple(grouping_keys)
    if limits.max_grouping_keys is not None and len(keys) > limits.max_grouping_keys:
        raise LimitExceeded(f"{len(keys)} grouping keys; at most {limits.max_grouping_keys} are allowed")
    types = []
    for i, key in enumerate(keys):
        if not isinstance(key, str):
            raise InvalidSpec(f"grouping_keys[{i}] must be an expression string, not {describe_type(key)}")
        types.append(parse(key, Kind.GROUPING_KEY).type == Type.NUMBER)
    if filter is not None:
        if not isinstance(filter, str):
            raise InvalidSpec(f"filter must be an expression string, not {describe_type(filter)}")
        if not filter.strip():
            filter = None
        else:
            parse(filter, Kind.FILTER)  # the caller's mistake is reported before any scan
    return _Request(start, end, filter, keys, tuple(types))


# --- from aggregates to rows --------------------------------------------------------------------


def _dimensions(price: Price, request: _Request) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    """The dimensions to aggregate by (grouping keys, then matrix dimensions, each once) and the
    positions of the grouping keys and of the matrix dimensions in that list."""
    dims: list[str] = []

    def index(text: str) -> int:
        if text not in dims:
            dims.append(text)
        return dims.index(text)

    key_pos = tuple(index(k) for k in request.grouping_keys)
    matrix_pos: tuple[int, ...] = ()
    if isinstance(price.model, MatrixModel):
        matrix_pos = tuple(index(d) for d in price.model.dimensions)
    return tuple(dims), key_pos, matrix_pos


def _sort_key(values: tuple[str | None, ...], is_number: tuple[bool, ...]) -> tuple:
    out = []
    for value, num in zip(values, is_number):
        if value is None:
            out.append((1, 0, ""))
        elif num:
            out.append((0, Decimal(value), ""))
        else:
            out.append((0, 0, value))
    return tuple(out)


def rows_from_aggregates(
    price: Price,
    request: _Request,
    key_pos: tuple[int, ...],
    matrix_pos: tuple[int, ...],
    aggregates: Sequence[Any],
    limits: PriceLimits,
) -> list[PriceRow]:
    """Price the aggregate rows (`coordinates`, `value`) of one price."""
    groups: dict[tuple[str | None, ...], list[tuple[Cell, Decimal]]] = {}
    for agg in aggregates:
        coords = tuple(agg.coordinates)
        group = tuple(coords[i] for i in key_pos)
        cell = tuple(coords[i] for i in matrix_pos)
        quantity = Decimal(0) if agg.value is None else agg.value
        groups.setdefault(group, []).append((cell, quantity))
        if limits.max_rows is not None and len(groups) > limits.max_rows:
            raise _too_many_rows(limits)
    if not request.grouping_keys and not groups:
        groups[()] = []  # one row without grouping keys, even with no usage
    rows = []
    model = price.model
    for group, cells in groups.items():
        quantity = finish(sum((q for _, q in cells), Decimal(0)))
        if isinstance(model, MatrixModel):
            amount = model.amount_of_cells(cells)
        else:
            amount = model.amount(quantity)
        rows.append(PriceRow(group, quantity, amount))
    rows.sort(key=lambda r: _sort_key(r.grouping_values, request.key_is_number))
    return rows


def _too_many_rows(limits: PriceLimits) -> LimitExceeded:
    return LimitExceeded(
        f"the evaluation has more than {limits.max_rows} rows; narrow the timeframe or the filter, "
        "use fewer grouping keys, or raise PriceLimits.max_rows"
    )


# --- the three entry points ---------------------------------------------------------------------

# aggregate(metrics, dimensions, filter) -> one list of aggregate rows per metric
AggregateFn = Callable[[Sequence[Any], tuple[str, ...], "str | None"], Sequence[Sequence[Any]]]


def _evaluate_with(
    aggregate: AggregateFn, prices: Sequence[Price], request: _Request, limits: PriceLimits
) -> list[list[PriceRow]]:
    """Evaluate prices with as few aggregations as their shapes allow: prices that aggregate by
    the same dimensions go to one `aggregate` call (one `aggregate_many` on an engine), and
    prices on an equal metric share one aggregate (Orb's common case: several prices, e.g. a
    list price and a negotiated one, on one billable metric)."""
    plans = [_dimensions(p, request) for p in prices]
    by_dims: dict[tuple[str, ...], list[int]] = {}
    for i, (dims, _, _) in enumerate(plans):
        by_dims.setdefault(dims, []).append(i)
    results: list[list[PriceRow] | None] = [None] * len(prices)
    for dims, indices in by_dims.items():
        metrics: list[Any] = []
        slot: dict[Any, int] = {}  # metric -> its position in `metrics`
        which: list[int] = []
        for i in indices:
            metric = prices[i].metric
            if metric not in slot:
                slot[metric] = len(metrics)
                metrics.append(metric)
            which.append(slot[metric])
        aggregates = aggregate(metrics, dims, request.filter)
        if len(aggregates) != len(metrics):
            raise EngineError(f"the engine returned {len(aggregates)} results for {len(metrics)} metrics")
        for i, m in zip(indices, which):
            _, key_pos, matrix_pos = plans[i]
            results[i] = rows_from_aggregates(prices[i], request, key_pos, matrix_pos, aggregates[m], limits)
    return [r for r in results if r is not None]


class Aggregator(Protocol):
    """What pricing needs of a source of aggregates: an engine, or the reference over supplied
    events (`preview.ReferenceAggregator`). One list of rows per metric."""

    def aggregate_many(self, metrics: Sequence[Any], window: Window, *,
                       max_rows: int | None = None) -> Sequence[Sequence[Any]]: ...


def _window(subject_id: str, request: _Request, timezone: str = "UTC") -> Window:
    """The request's timeframe (start inclusive, end exclusive) for one subject, no buckets."""
    return Window(subject_id, request.start_ms, request.end_ms, True, False, None, (), None, timezone)


def _aggregator(source: Aggregator, window: Window, request: _Request, limits: PriceLimits) -> AggregateFn:
    def aggregate(metrics: Sequence[Any], dims: tuple[str, ...], filter: str | None) -> Sequence[Sequence[Any]]:
        # Without matrix dimensions beyond the grouping keys, one aggregate row is one price row:
        # the engine's query then stops at max_rows + 1 rows (fail fast, not after the whole result).
        cap = None
        if limits.max_rows is not None and len(dims) == len(set(request.grouping_keys)):
            engine_max = getattr(getattr(source, "limits", None), "max_rows", None)
            if engine_max is None or limits.max_rows <= engine_max:
                cap = limits.max_rows
        try:
            return source.aggregate_many(list(metrics), replace(window, dimensions=dims, extra_filter=filter),
                                         max_rows=cap)
        except TooManyRows as exc:
            if cap is not None and exc.max_rows == cap:
                raise _too_many_rows(limits) from None
            raise

    return aggregate


def _as_price(price: Any) -> Price:
    if isinstance(price, Price):
        return price
    if isinstance(price, Mapping):
        return Price.from_dict(price)
    raise InvalidSpec(f"not a price: {describe_type(price)} (pass a Price or a price payload)")


def _subject(subject_id: Any) -> str:
    return check_id(subject_id)  # the ingest rule for ids (SPEC §1): InvalidSpec otherwise


def _limits(limits: Any) -> PriceLimits:
    if limits is None:
        return DEFAULT_LIMITS
    if not isinstance(limits, PriceLimits):
        raise InvalidSpec(f"limits must be a PriceLimits, not {describe_type(limits)}")
    return limits


def _prices(prices: Any) -> list[Any]:
    if isinstance(prices, (str, bytes, Mapping, Price)) or not isinstance(prices, Iterable):
        raise InvalidSpec(f"prices must be a list of prices, not {describe_type(prices)}")
    return list(prices)


def evaluate_price(
    engine: Aggregator,
    price: Price | Mapping[str, Any],
    subject_id: str,
    timeframe_start: Any,
    timeframe_end: Any,
    filter: str | None = None,
    grouping_keys: Sequence[str] = (),
    *,
    limits: PriceLimits | None = None,
    now: Any = None,
    timezone: str = "UTC",
) -> list[PriceRow]:
    """Evaluate one price over the engine's stored events of `subject_id` in
    [timeframe_start, timeframe_end). `now` (a timestamp) pins the lookback limit's clock;
    `timezone` (an IANA name) travels in the `Window`."""
    return evaluate_prices(
        engine, [price], subject_id, timeframe_start, timeframe_end, filter, grouping_keys, limits=limits, now=now,
        timezone=timezone,
    )[0]


def evaluate_prices(
    engine: Aggregator,
    prices: Sequence[Price | Mapping[str, Any]],
    subject_id: str,
    timeframe_start: Any,
    timeframe_end: Any,
    filter: str | None = None,
    grouping_keys: Sequence[str] = (),
    *,
    limits: PriceLimits | None = None,
    now: Any = None,
    timezone: str = "UTC",
) -> list[list[PriceRow]]:
    """Evaluate several prices with the same request; one result per price, in order. Prices
    that aggregate by the same dimensions share one scan (`engine.aggregate_many`)."""
    limits = _limits(limits)
    prices = _prices(prices)
    if not prices:
        return []
    if limits.max_prices is not None and len(prices) > limits.max_prices:
        raise LimitExceeded(f"{len(prices)} prices in one call; at most {limits.max_prices} are allowed")
    parsed = [_as_price(p) for p in prices]
    subject = _subject(subject_id)
    now_ms = None if now is None else to_millis(now, "now")
    request = _request(timeframe_start, timeframe_end, filter, grouping_keys, limits, now_ms)
    window = _window(subject, request, timezone)
    return _evaluate_with(_aggregator(engine, window, request, limits), parsed, request, limits)


def explain_price(
    engine: Any,
    price: Price | Mapping[str, Any],
    subject_id: str,
    timeframe_start: Any,
    timeframe_end: Any,
    filter: str | None = None,
    grouping_keys: Sequence[str] = (),
) -> str:
    """The SQL `evaluate_price` runs on this engine for this request (for audit: an invoice line's
    subtotal can be re-derived from it). Parameters appear as placeholders. Limits are not
    checked: explaining scans nothing."""
    parsed = _as_price(price)
    subject = _subject(subject_id)
    request = _request(timeframe_start, timeframe_end, filter, grouping_keys, DEFAULT_LIMITS, None, check_lookback=False)
    dims, _, _ = _dimensions(parsed, request)
    plan = engine.plan(parsed.metric, replace(_window(subject, request), dimensions=dims, extra_filter=request.filter))
    from ..compiler import render  # deep compiled values need its recursion room (and E004)

    cap = getattr(getattr(engine, "limits", None), "max_rows", None)
    price_max = DEFAULT_LIMITS.max_rows
    if price_max is not None and len(dims) == len(set(request.grouping_keys)) and (cap is None or price_max <= cap):
        cap = price_max
    return with_row_limit(render(plan.select, engine.dialect, pretty=True, copy=True), plan.select, cap, separator="\n")


_REQUEST_FIELDS = ("customer_id", "external_customer_id", "timeframe_start", "timeframe_end", "filter", "grouping_keys")


def evaluate_price_request(
    engine: Any,
    price: Price | Mapping[str, Any],
    body: Mapping[str, Any],
    *,
    limits: PriceLimits | None = None,
    now: Any = None,
) -> dict[str, Any]:
    """Orb's "Evaluate price" request body in, Orb's response out, in one call:
    `{"customer_id" | "external_customer_id", "timeframe_start", "timeframe_end", "filter",
    "grouping_keys"}` → `{"data": [{"grouping_values", "quantity", "amount"}, ...]}`.
    The customer id is the subject id."""
    if not isinstance(body, Mapping):
        raise InvalidSpec("the request body must be an object")
    unknown = sorted(set(body) - set(_REQUEST_FIELDS))
    if unknown:
        raise InvalidSpec(f"request: unknown field(s) {', '.join(map(repr, unknown))}")
    ids = [body[k] for k in ("customer_id", "external_customer_id") if body.get(k) is not None]
    if len(ids) != 1:
        raise InvalidSpec("request: give exactly one of customer_id and external_customer_id")
    for key in ("timeframe_start", "timeframe_end"):
        if body.get(key) is None:
            raise InvalidSpec(f"request: {key} is required")
    rows = evaluate_price(
        engine, price, ids[0], body["timeframe_start"], body["timeframe_end"], body.get("filter"),
        body.get("grouping_keys") or (), limits=limits, now=now,
    )
    return price_response(rows)


def evaluate_preview(
    price: Price | Mapping[str, Any],
    events: Iterable[Mapping[str, Any]],
    timeframe_start: Any,
    timeframe_end: Any,
    filter: str | None = None,
    grouping_keys: Sequence[str] = (),
    subject_id: str | None = None,
    *,
    limits: PriceLimits | None = None,
) -> list[PriceRow]:
    """Evaluate a price on events supplied in the call (a pricing calculator, a "what would this
    customer pay" simulation): no store, nothing written, at most `max_preview_events` events.

    The events are validated as `ingest` would (a bad event fails the call with its index and
    reason; the first event with a given `event_id` wins). Events may omit `event_id` (each is
    then distinct) and `subject_id` (then they are `subject_id`'s, or all one customer's). With
    `subject_id`, only that subject's events count, as on the stored path; without it the events
    must all belong to one subject. The lookback limit does not apply: nothing is scanned.
    Results equal `evaluate_price` on a store holding the same events (tested on both engines)."""
    from .preview import ReferenceAggregator, preview_events

    limits = _limits(limits)
    parsed = _as_price(price)
    if subject_id is not None:
        _subject(subject_id)
    request = _request(timeframe_start, timeframe_end, filter, grouping_keys, limits, None, check_lookback=False)
    stored, subject = preview_events(events, subject_id, limits.max_preview_events)
    aggregate = _aggregator(ReferenceAggregator(stored), _window(subject, request), request, limits)
    return _evaluate_with(aggregate, [parsed], request, limits)[0]
