"""Metrics and periods (SPEC §4, §5): what is aggregated, and over which stretch of time.

Consumes: a metric payload — our shape (`code`, `aggregation`, `event_name`, `value`, `filter`,
`rounding`, `rounding_precision`, `recurring`) or Lago's billable-metric payload
(`aggregation_type` `*_agg`, `field_name`, `expression`, `rounding_function`,
`rounding_precision`, `recurring`, `weighted_interval`) — and period bounds given as aware
datetimes, ISO-8601 text or epoch milliseconds.
Produces: a frozen `Metric` whose expressions have been checked (a bad expression raises
`ExpressionError` at construction, not at query time), and a frozen `Period` in epoch ms.
Guarantees:
- `recurring` is only accepted for `sum`, `unique_count` and `weighted_sum`; rounding precision is
  an integer in −12…12; Lago's `weighted_interval` may only be `seconds`.
- In a Lago payload the metric `code` is also the event name it matches, unless `event_name` is
  given; `field_name` is the property of that exact key (reached through the quoted form, so a
  key such as `event_name` or `my-prop.v2` reads the property, not a reserved field);
  `expression` wins over `field_name` when both are given.
- A value expression is read as a NUMBER for every aggregation but `unique_count`, which compares
  values by their canonical text (STRING, any type accepted); `count` ignores it. A value whose
  root is a string or a boolean (`concat(…)`, `event.code`, `x > 1`) under any other aggregation
  is an `ExpressionError` (E304, naming the type found) when the metric is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Mapping

from .ast import Expression, Kind, Type
from .errors import InvalidSpec
from .errors import describe_type, show


class Aggregation(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    UNIQUE_COUNT = "unique_count"
    LATEST = "latest"
    WEIGHTED_SUM = "weighted_sum"


class Rounding(StrEnum):
    ROUND = "round"
    CEIL = "ceil"
    FLOOR = "floor"


RECURRING_AGGREGATIONS = frozenset({Aggregation.SUM, Aggregation.UNIQUE_COUNT, Aggregation.WEIGHTED_SUM})

_LAGO_AGGREGATIONS = {f"{a.value}_agg": a for a in Aggregation}

# Our keys, Lago's keys, and Lago's informational keys (accepted and ignored, so that a payload
# copied from Lago's API — request or response — loads as is).
_OUR_KEYS = {"code", "aggregation", "event_name", "value", "filter", "rounding", "rounding_precision", "recurring"}
_LAGO_KEYS = {"aggregation_type", "field_name", "expression", "rounding_function", "weighted_interval"}
_IGNORED_KEYS = {
    "name",
    "description",
    "lago_id",
    "id",
    "created_at",
    "active_subscriptions_count",
    "draft_invoices_count",
    "plans_count",
    "integration_mappings",
    "filters",  # Lago charge filters: not part of a metric's aggregation (see README)
}


# The JSON type each field of a metric payload takes (None — JSON null — is "not given" for every
# one of them); ignored informational keys take anything.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "code": (str,),
    "aggregation": (str,),
    "aggregation_type": (str,),
    "event_name": (str,),
    "value": (str,),
    "filter": (str,),
    "expression": (str,),
    "field_name": (str,),
    "rounding": (str,),
    "rounding_function": (str,),
    "weighted_interval": (str,),
    "rounding_precision": (int,),
    "recurring": (bool,),
}
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


def quote_property(key: str) -> str:
    """The expression text that reads property `key` exactly (grammar: `""` escapes `"`)."""
    return '"' + key.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class Metric:
    """A billable metric (SPEC §4). Construct directly or with `Metric.from_dict`."""

    code: str
    aggregation: Aggregation
    event_name: str | None = None
    value: str | None = None
    filter: str | None = None
    rounding: Rounding | None = None
    rounding_precision: int = 0
    recurring: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code:
            raise InvalidSpec(f"metric code must be a non-empty string, not {show(self.code)}")
        try:
            object.__setattr__(self, "aggregation", Aggregation(self.aggregation))
        except ValueError:
            names = ", ".join(a.value for a in Aggregation)
            raise InvalidSpec(f"metric {show(self.code)}: unknown aggregation {show(self.aggregation)} (one of {names})") from None
        if self.rounding is not None:
            try:
                object.__setattr__(self, "rounding", Rounding(self.rounding))
            except ValueError:
                raise InvalidSpec(
                    f"metric {show(self.code)}: unknown rounding {show(self.rounding)} (round, ceil or floor)"
                ) from None
        p = self.rounding_precision
        if isinstance(p, bool) or not isinstance(p, int) or not -12 <= p <= 12:
            raise InvalidSpec(f"metric {show(self.code)}: rounding_precision must be an integer from -12 to 12, got {show(p)}")
        if not isinstance(self.recurring, bool):
            raise InvalidSpec(f"metric {show(self.code)}: recurring must be true or false, not {show(self.recurring)}")
        if self.recurring and self.aggregation not in RECURRING_AGGREGATIONS:
            raise InvalidSpec(
                f"metric {show(self.code)}: recurring is only allowed for sum, unique_count and weighted_sum, "
                f"not {self.aggregation.value}"
            )
        if self.event_name is not None and (not isinstance(self.event_name, str) or not self.event_name):
            raise InvalidSpec(f"metric {show(self.code)}: event_name must be a non-empty string or null")
        if self.event_name is not None:
            from .values import MAX_ID_LENGTH, InvalidEvent, _check_text

            try:  # the rule ingest applies to event names (valid Unicode, no NUL, ≤ 1,024 chars)
                _check_text("event_name", self.event_name, MAX_ID_LENGTH)
            except InvalidEvent as exc:
                raise InvalidSpec(f"metric {show(self.code)}: {exc.reason}") from None
        for what in ("value", "filter"):
            text = getattr(self, what)
            if text is not None and not isinstance(text, str):
                raise InvalidSpec(f"metric {show(self.code)}: {what} must be an expression string, got {describe_type(text)}")
        if self.aggregation is not Aggregation.COUNT and not self.value:
            raise InvalidSpec(
                f"metric {show(self.code)}: aggregation {self.aggregation.value} needs a value expression "
                "(`value`, or Lago's `field_name` / `expression`)"
            )
        # Check the expressions now: a bad metric fails when it is defined, not when it is used.
        self.filter_expression()
        self.value_expression()

    # --- checked expressions (check.parse is LRU-cached, so these are cheap to call again) ------

    def value_type(self) -> Type:
        return Type.STRING if self.aggregation is Aggregation.UNIQUE_COUNT else Type.NUMBER

    def value_expression(self) -> Expression | None:
        """The typed value tree; None for `count` (which counts events, whatever `value` says)."""
        if self.aggregation is Aggregation.COUNT or not self.value:
            return None
        from .checker import parse, require_type

        expression = parse(self.value, Kind.VALUE, expect=self.value_type())
        if self.aggregation is Aggregation.UNIQUE_COUNT:
            return expression  # compares canonical text: any type
        return require_type(expression, Type.NUMBER, f"the value of a `{self.aggregation.value}` metric")

    def filter_expression(self) -> Expression | None:
        if not self.filter:
            return None
        from .checker import parse

        return parse(self.filter, Kind.FILTER)

    # --- payloads -------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Metric":
        """Our shape or a Lago billable-metric payload (also wrapped as `{"billable_metric": …}`)."""
        if isinstance(data, Metric):
            return data
        if not isinstance(data, Mapping):
            raise InvalidSpec(f"a metric must be a JSON object, not {describe_type(data)}")
        if set(data) == {"billable_metric"}:
            data = data["billable_metric"]
            if not isinstance(data, Mapping):
                raise InvalidSpec("billable_metric must be a JSON object")
        unknown = set(data) - _OUR_KEYS - _LAGO_KEYS - _IGNORED_KEYS
        if unknown:
            raise InvalidSpec(f"metric: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        for key, types in _FIELD_TYPES.items():
            value = data.get(key)
            if value is None:
                continue
            if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
                raise InvalidSpec(f"metric: {key} must be {_TYPE_NAMES[types[0]]}, not {describe_type(value)}")
        lago = "aggregation_type" in data
        if lago and "aggregation" in data:
            raise InvalidSpec("metric: give aggregation or Lago's aggregation_type, not both")
        code = data.get("code")
        if lago:
            raw = data["aggregation_type"]
            if raw not in _LAGO_AGGREGATIONS:
                names = ", ".join(_LAGO_AGGREGATIONS)
                raise InvalidSpec(f"metric {show(code)}: unknown aggregation_type {show(raw)} (one of {names})")
            aggregation = _LAGO_AGGREGATIONS[raw]
        else:
            raw = data.get("aggregation")
            if raw is None:
                raise InvalidSpec(f"metric {show(code)}: aggregation is required")
            aggregation = _LAGO_AGGREGATIONS.get(raw, raw)  # Lago aliases are accepted here too
        interval = data.get("weighted_interval")
        if interval is not None and interval != "seconds":
            raise InvalidSpec(f"metric {show(code)}: weighted_interval must be \"seconds\", got {show(interval)}")

        value = data.get("value")
        expression = data.get("expression")
        field_name = data.get("field_name")
        if value is not None and (expression is not None or field_name is not None):
            raise InvalidSpec(f"metric {show(code)}: give value, or Lago's expression / field_name, not both")
        if value is None:
            if expression:
                value = expression
            elif field_name:
                if not isinstance(field_name, str):
                    raise InvalidSpec(f"metric {show(code)}: field_name must be a string")
                value = quote_property(field_name)
        if "rounding" in data and "rounding_function" in data:
            raise InvalidSpec(f"metric {show(code)}: give rounding or Lago's rounding_function, not both")
        rounding = data.get("rounding", data.get("rounding_function"))
        precision = data.get("rounding_precision")
        event_name = data.get("event_name")
        if event_name is None and lago:
            event_name = code  # Lago ties events to a metric by its code
        return cls(
            code=code,  # type: ignore[arg-type]
            aggregation=aggregation,  # type: ignore[arg-type]
            event_name=event_name,
            value=value,
            filter=data.get("filter"),
            rounding=rounding,
            rounding_precision=0 if precision is None else precision,
            recurring=False if data.get("recurring") is None else data["recurring"],
        )

    def to_dict(self) -> dict[str, Any]:
        """Our shape (what `from_dict` reads back to an equal Metric)."""
        out: dict[str, Any] = {"code": self.code, "aggregation": self.aggregation.value}
        if self.event_name is not None:
            out["event_name"] = self.event_name
        if self.value is not None:
            out["value"] = self.value
        if self.filter is not None:
            out["filter"] = self.filter
        if self.rounding is not None:
            out["rounding"] = self.rounding.value
            out["rounding_precision"] = self.rounding_precision
        out["recurring"] = self.recurring
        return out


# --- periods ------------------------------------------------------------------------------------


def to_ms(value: Any, what: str = "timestamp") -> int:
    """An aware datetime, ISO-8601 text with an offset or `Z`, or integer epoch ms → epoch ms.

    Naive datetimes and offset-less text are rejected (`InvalidSpec`): a billing period must say
    which instant it means."""
    from .values import InvalidEvent, parse_timestamp

    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidSpec(f"{what} {show(value.isoformat())} is a naive datetime: give a time zone (e.g. UTC)")
    try:
        return parse_timestamp(value)
    except InvalidEvent as exc:
        raise InvalidSpec(f"{what}: {exc.reason}") from None


def format_ms(ms: int) -> str:
    """Epoch ms → ISO-8601 UTC text: `2025-10-01T00:00:00Z` on whole seconds, else `…00.123Z`."""
    seconds, millis = divmod(ms, 1000)
    dt = datetime.fromtimestamp(seconds, tz=timezone.utc)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


@dataclass(frozen=True, slots=True, init=False)
class Period:
    """A stretch of time: `start`/`end` in epoch ms (UTC), with inclusive flags (SPEC §5).

    `Period(start, end, inclusive_start=True, inclusive_end=False)` accepts aware datetimes,
    ISO-8601 text and epoch ms; `end` must not be before `start`."""

    start: int
    end: int
    inclusive_start: bool
    inclusive_end: bool

    def __init__(self, start: Any, end: Any, inclusive_start: bool = True, inclusive_end: bool = False) -> None:
        s, e = to_ms(start, "period start"), to_ms(end, "period end")
        if e < s:
            raise InvalidSpec(f"period end {format_ms(e)} is before its start {format_ms(s)}")
        for name, flag in (("inclusive_start", inclusive_start), ("inclusive_end", inclusive_end)):
            if not isinstance(flag, bool):
                raise InvalidSpec(f"period {name} must be true or false, not {show(flag)}")
        object.__setattr__(self, "start", s)
        object.__setattr__(self, "end", e)
        object.__setattr__(self, "inclusive_start", inclusive_start)
        object.__setattr__(self, "inclusive_end", inclusive_end)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Period":
        """The seed's period object: `start`, `end`, optional `inclusive_start` / `inclusive_end`."""
        if isinstance(data, Period):
            return data
        if not isinstance(data, Mapping) or "start" not in data or "end" not in data:
            raise InvalidSpec("a period needs start and end")
        unknown = set(data) - {"start", "end", "inclusive_start", "inclusive_end"}
        if unknown:
            raise InvalidSpec(f"period: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        incl_s = data.get("inclusive_start")
        incl_e = data.get("inclusive_end")
        return cls(
            data["start"],
            data["end"],
            True if incl_s is None else incl_s,
            False if incl_e is None else incl_e,
        )

    def to_dict(self) -> dict[str, Any]:
        """The seed's shape: ISO-8601 UTC text and both flags."""
        return {
            "start": format_ms(self.start),
            "end": format_ms(self.end),
            "inclusive_start": self.inclusive_start,
            "inclusive_end": self.inclusive_end,
        }
