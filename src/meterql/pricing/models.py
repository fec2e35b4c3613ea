"""Price models (SPEC §6, §10): what a price charges for a quantity. Pure Python, no engine.

Consumes: a price payload, in our shape (`{"metric": {...}, "model": "tiered", "tiers": [...]}`)
or Orb's (`{"model_type": "tiered", "tiered_config": {"tiers": [...]}, ...}`).
Produces: a frozen `Price` (a `Metric` plus one model) whose model turns a quantity — or, for
`matrix`, the quantities of each combination of dimension values — into an exact amount.
Guarantees:
- Money is exact: amounts, sizes and tier bounds are read from strings, ints or Decimals by the
  SPEC §3 number grammar; floats are refused (`InvalidSpec`), as are more than 12 fractional
  digits (never silently rounded), negative amounts, non-positive sizes and tiers that are not
  contiguous or leave a quantity without a price.
- An amount is computed at full precision and rounded once, half away from zero, to the 12
  fractional digits every meterql number has (SPEC §3); "unrounded" means never rounded to a
  currency's minor unit. Reaching 10^26 raises `NumericOverflow`.
- Quantities ≤ 0 cost 0 under `package`, `tiered` and `bulk` (no package is opened, no tier is
  reached); `unit` and `matrix` are linear, so a negative quantity (net refunds) gives a
  negative amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Iterable, Mapping, Union

from .. import numbers
from ..errors import InvalidSpec, describe_type, show

ZERO = Decimal(0)


# --- reading numbers ----------------------------------------------------------------------------


def _number(value: Any, where: str, *, minimum: Decimal | None = None, strict_min: bool = False) -> Decimal:
    """An exact number from a payload field: str, int or Decimal; never a float or a bool."""
    if value is None:
        raise InvalidSpec(f"{where} is required")
    if isinstance(value, float):
        raise InvalidSpec(f"{where}: floats are not accepted for exact amounts ({show(value)}); pass a string such as \"{show(value)}\"")
    if isinstance(value, str):
        text = value.strip()
        if not numbers.NUMERIC_STRING.fullmatch(text) or len(text) > 100:
            raise InvalidSpec(f"{where}: not a number: {_shown(value)}")
        raw = Decimal(text)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidSpec(f"{where}: not a finite number: {_shown(value)}")
        raw = value
    elif isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 90:  # ≥ 2^90 > 10^26; no digit string is built for a huge int
            raise InvalidSpec(f"{where}: out of range (|x| must stay below 10^26): an integer of {value.bit_length()} bits")
        raw = Decimal(value)
    else:
        raise InvalidSpec(f"{where}: not a number: {_shown(value)}")
    # Range and scale are read from the digits and exponent, with no context arithmetic: "1e999999999"
    # must not overflow the decimal context, nor "1e-999999999" underflow to a silent 0.
    if not raw.is_zero() and raw.adjusted() >= 26:
        raise InvalidSpec(f"{where}: out of range (|x| must stay below 10^26): {_shown(value)}")
    # More than 12 fractional digits would be rounded by the number rules; for money typed by a
    # person that is a mistake to report, not a value to change (as for literals, SPEC §3).
    sign, digits, exponent = raw.as_tuple()
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    if not raw.is_zero() and isinstance(exponent, int) and exponent + trailing_zeros < -numbers.SCALE:
        raise InvalidSpec(f"{where}: more than {numbers.SCALE} fractional digits: {_shown(value)}")
    d = numbers.quantize(raw)
    if minimum is not None and (d < minimum or (strict_min and d == minimum)):
        relation = "greater than" if strict_min else "at least"
        raise InvalidSpec(f"{where} must be {relation} {numbers.canonical(minimum)}, got {numbers.canonical(d)}")
    return d


def _shown(value: Any) -> str:
    """A payload value in a message: short text as is, a number by its digits, else its type
    (never a repr that may be huge or fail, e.g. of an int of 5,000 digits)."""
    return show(value, 40)


def _amount(value: Any, where: str) -> Decimal:
    """A money amount: a number ≥ 0 (a price never pays the customer; credits are not prices)."""
    return _number(value, where, minimum=ZERO)


def _optional_bound(mapping: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    value = mapping.get(key)
    return None if value is None else _number(value, f"{where}.{key}", minimum=ZERO)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidSpec(f"{where} must be an object, got {describe_type(value)}")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise InvalidSpec(f"{where} must be a list, got {describe_type(value)}")
    return list(value)


def _check_keys(mapping: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise InvalidSpec(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; expected {', '.join(sorted(allowed))}")


def finish(amount: Decimal) -> Decimal:
    """The one rounding of an amount: half away from zero to 12 digits, range-checked."""
    return numbers.check_range(numbers.quantize(amount))


# --- the models ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitModel:
    """`unit_amount` per unit."""

    unit_amount: Decimal
    kind = "unit"

    def amount(self, quantity: Decimal) -> Decimal:
        return finish(numbers.CTX.multiply(quantity, self.unit_amount))

    def config(self) -> dict[str, Any]:
        return {"unit_amount": numbers.canonical(self.unit_amount)}


@dataclass(frozen=True, slots=True)
class PackageModel:
    """`package_amount` per started package of `package_size` units (partial packages round up)."""

    package_amount: Decimal
    package_size: Decimal
    kind = "package"

    def packages(self, quantity: Decimal) -> Decimal:
        if quantity <= 0:
            return ZERO
        # Exact ceiling of the quotient: the context's 120 digits hold the integer part of any
        # in-range quotient (≤ 10^26 / 10^-12), and ROUND_CEILING on to_integral is exact.
        q = numbers.CTX.divide(quantity, self.package_size)
        return q.to_integral_value(rounding=ROUND_CEILING)

    def amount(self, quantity: Decimal) -> Decimal:
        return finish(numbers.CTX.multiply(self.packages(quantity), self.package_amount))

    def config(self) -> dict[str, Any]:
        return {"package_amount": numbers.canonical(self.package_amount), "package_size": numbers.canonical(self.package_size)}


@dataclass(frozen=True, slots=True)
class Tier:
    """Graduated tier: the units in (first_unit, last_unit] cost `unit_amount` each."""

    first_unit: Decimal
    last_unit: Decimal | None  # None: open (the last tier)
    unit_amount: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_unit": numbers.canonical(self.first_unit),
            "last_unit": None if self.last_unit is None else numbers.canonical(self.last_unit),
            "unit_amount": numbers.canonical(self.unit_amount),
        }


@dataclass(frozen=True, slots=True)
class TieredModel:
    """Graduated: each unit is priced by the tier it falls in. Units at or below the first tier's
    `first_unit` are free (a first tier starting above 0 is an included allowance)."""

    tiers: tuple[Tier, ...]
    kind = "tiered"

    def amount(self, quantity: Decimal) -> Decimal:
        total = ZERO
        for tier in self.tiers:
            if quantity <= tier.first_unit:
                break
            top = quantity if tier.last_unit is None else min(quantity, tier.last_unit)
            total = numbers.CTX.add(total, numbers.CTX.multiply(top - tier.first_unit, tier.unit_amount))
        return finish(total)

    def config(self) -> dict[str, Any]:
        return {"tiers": [t.to_dict() for t in self.tiers]}


@dataclass(frozen=True, slots=True)
class BulkTier:
    """Volume tier: a total quantity ≤ `maximum_units` (and above the previous tier's) falls here."""

    maximum_units: Decimal | None  # None: open (the last tier)
    unit_amount: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "maximum_units": None if self.maximum_units is None else numbers.canonical(self.maximum_units),
            "unit_amount": numbers.canonical(self.unit_amount),
        }


@dataclass(frozen=True, slots=True)
class BulkModel:
    """Volume: every unit is priced at the tier the total falls in (a total exactly on a tier's
    `maximum_units` belongs to that tier)."""

    tiers: tuple[BulkTier, ...]
    kind = "bulk"

    def tier_for(self, quantity: Decimal) -> BulkTier:
        for tier in self.tiers:
            if tier.maximum_units is None or quantity <= tier.maximum_units:
                return tier
        raise AssertionError("validated: the last bulk tier is open")

    def amount(self, quantity: Decimal) -> Decimal:
        if quantity <= 0:
            return ZERO
        return finish(numbers.CTX.multiply(quantity, self.tier_for(quantity).unit_amount))

    def config(self) -> dict[str, Any]:
        return {"tiers": [t.to_dict() for t in self.tiers]}


Cell = tuple[str | None, ...]  # the dimension values of one matrix cell, in `dimensions` order


@dataclass(frozen=True, slots=True)
class MatrixModel:
    """`unit_amount` chosen by the values of `dimensions` (grouping-key expressions); a
    combination not listed in `matrix_values` costs `default_unit_amount` per unit.

    Dimension values match by exact text: a grouping value is canonical text (numbers) or the
    string itself; `None` in `dimension_values` matches a NULL value (missing property)."""

    dimensions: tuple[str, ...]
    default_unit_amount: Decimal
    matrix_values: tuple[tuple[Cell, Decimal], ...]
    kind = "matrix"

    def unit_amount_for(self, cell: Cell) -> Decimal:
        for values, unit_amount in self.matrix_values:
            if values == cell:
                return unit_amount
        return self.default_unit_amount

    def amount(self, quantity: Decimal) -> Decimal:
        """The amount of a quantity outside every listed cell (priced at the default)."""
        return finish(numbers.CTX.multiply(quantity, self.default_unit_amount))

    def amount_of_cells(self, cells: Iterable[tuple[Cell, Decimal]]) -> Decimal:
        total = ZERO
        for cell, quantity in cells:
            total = numbers.CTX.add(total, numbers.CTX.multiply(quantity, self.unit_amount_for(cell)))
        return finish(total)

    def config(self) -> dict[str, Any]:
        return {
            "dimensions": list(self.dimensions),
            "default_unit_amount": numbers.canonical(self.default_unit_amount),
            "matrix_values": [
                {"dimension_values": list(values), "unit_amount": numbers.canonical(amount)}
                for values, amount in self.matrix_values
            ],
        }


Model = Union[UnitModel, PackageModel, TieredModel, BulkModel, MatrixModel]


# --- reading models from payloads ----------------------------------------------------------------


def _unit(cfg: Mapping[str, Any], where: str) -> UnitModel:
    return UnitModel(_amount(cfg.get("unit_amount"), f"{where}.unit_amount"))


def _package(cfg: Mapping[str, Any], where: str) -> PackageModel:
    return PackageModel(
        package_amount=_amount(cfg.get("package_amount"), f"{where}.package_amount"),
        package_size=_number(cfg.get("package_size"), f"{where}.package_size", minimum=ZERO, strict_min=True),
    )


def _tiered(cfg: Mapping[str, Any], where: str) -> TieredModel:
    raw = _list(cfg.get("tiers"), f"{where}.tiers") if cfg.get("tiers") is not None else None
    if not raw:
        raise InvalidSpec(f"{where}.tiers: at least one tier is required")
    tiers: list[Tier] = []
    for i, item in enumerate(raw):
        at = f"{where}.tiers[{i}]"
        t = _mapping(item, at)
        _check_keys(t, ("first_unit", "last_unit", "unit_amount"), at)
        first = _number(t.get("first_unit"), f"{at}.first_unit", minimum=ZERO)
        last = _optional_bound(t, "last_unit", at)
        if last is not None and last <= first:
            raise InvalidSpec(f"{at}: last_unit ({numbers.canonical(last)}) must be greater than first_unit ({numbers.canonical(first)})")
        if tiers:
            prev = tiers[-1]
            if prev.last_unit is None:
                raise InvalidSpec(f"{where}.tiers[{i - 1}]: only the last tier may be open (last_unit null)")
            if first != prev.last_unit:
                raise InvalidSpec(
                    f"{at}: tiers must be contiguous and ordered: first_unit {numbers.canonical(first)} "
                    f"should equal the previous tier's last_unit {numbers.canonical(prev.last_unit)}"
                )
        tiers.append(Tier(first, last, _amount(t.get("unit_amount"), f"{at}.unit_amount")))
    if tiers[-1].last_unit is not None:
        # A bounded last tier would leave larger quantities without a price: fail loudly here,
        # never undercharge at evaluation time.
        raise InvalidSpec(f"{where}.tiers[{len(tiers) - 1}]: the last tier must be open (last_unit null) so every quantity has a price")
    return TieredModel(tuple(tiers))


def _bulk(cfg: Mapping[str, Any], where: str) -> BulkModel:
    raw = _list(cfg.get("tiers"), f"{where}.tiers") if cfg.get("tiers") is not None else None
    if not raw:
        raise InvalidSpec(f"{where}.tiers: at least one tier is required")
    tiers: list[BulkTier] = []
    for i, item in enumerate(raw):
        at = f"{where}.tiers[{i}]"
        t = _mapping(item, at)
        _check_keys(t, ("maximum_units", "unit_amount"), at)
        maximum = t.get("maximum_units")
        max_units = None if maximum is None else _number(maximum, f"{at}.maximum_units", minimum=ZERO, strict_min=True)
        if tiers:
            prev = tiers[-1].maximum_units
            if prev is None:
                raise InvalidSpec(f"{where}.tiers[{i - 1}]: only the last tier may be open (maximum_units null)")
            if max_units is not None and max_units <= prev:
                raise InvalidSpec(
                    f"{at}: maximum_units must increase: {numbers.canonical(max_units)} is not above {numbers.canonical(prev)}"
                )
        tiers.append(BulkTier(max_units, _amount(t.get("unit_amount"), f"{at}.unit_amount")))
    if tiers[-1].maximum_units is not None:
        raise InvalidSpec(f"{where}.tiers[{len(tiers) - 1}]: the last tier must be open (maximum_units null) so every quantity has a price")
    return BulkModel(tuple(tiers))


def _dimension_value(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        # A number is matched by its canonical text, as grouping values are (SPEC §3).
        return numbers.canonical(_number(value, where))
    raise InvalidSpec(f"{where}: a dimension value is a string, an integer or null, got {_shown(value)}")


def _matrix(cfg: Mapping[str, Any], where: str) -> MatrixModel:
    dims = _list(cfg.get("dimensions"), f"{where}.dimensions") if cfg.get("dimensions") is not None else None
    if not dims:
        raise InvalidSpec(f"{where}.dimensions: at least one dimension is required")
    for i, d in enumerate(dims):
        if not isinstance(d, str) or not d.strip():
            raise InvalidSpec(f"{where}.dimensions[{i}]: a dimension is a non-empty grouping expression, got {_shown(d)}")
    _validate_expressions(dims, f"{where}.dimensions")
    default = _amount(cfg.get("default_unit_amount"), f"{where}.default_unit_amount")
    values: list[tuple[Cell, Decimal]] = []
    seen: dict[Cell, int] = {}
    for i, item in enumerate(_list(cfg.get("matrix_values") or [], f"{where}.matrix_values")):
        at = f"{where}.matrix_values[{i}]"
        m = _mapping(item, at)
        _check_keys(m, ("dimension_values", "unit_amount"), at)
        dv = _list(m.get("dimension_values"), f"{at}.dimension_values")
        if len(dv) != len(dims):
            raise InvalidSpec(f"{at}.dimension_values: {len(dv)} value(s) for {len(dims)} dimension(s)")
        cell = tuple(_dimension_value(v, f"{at}.dimension_values[{j}]") for j, v in enumerate(dv))
        if cell in seen:
            raise InvalidSpec(f"{at}.dimension_values: {list(cell)} is listed twice (also matrix_values[{seen[cell]}])")
        seen[cell] = i
        values.append((cell, _amount(m.get("unit_amount"), f"{at}.unit_amount")))
    return MatrixModel(tuple(dims), default, tuple(values))


def _validate_expressions(texts: Iterable[str], where: str) -> None:
    """Dimensions are grouping-key expressions: report a bad one when the price is read."""
    from ..ast import Kind
    from ..checker import parse

    for i, text in enumerate(texts):
        parse(text, Kind.GROUPING_KEY)  # raises ExpressionError with the diagnostics


_READERS = {"unit": _unit, "package": _package, "tiered": _tiered, "bulk": _bulk, "matrix": _matrix}
_FIELDS = {
    "unit": ("unit_amount",),
    "package": ("package_amount", "package_size"),
    "tiered": ("tiers",),
    "bulk": ("tiers",),
    "matrix": ("dimensions", "default_unit_amount", "matrix_values"),
}
# Other billing systems' names for the same models (Lago: standard, graduated, volume).
ALIASES = {"standard": "unit", "graduated": "tiered", "volume": "bulk"}
MODELS = tuple(_READERS)


def model_from_dict(data: Mapping[str, Any]) -> Model:
    """The model part of a price payload (ours or Orb's); see `Price.from_dict`."""
    model = data.get("model")
    model_type = data.get("model_type")
    if model is not None and model_type is not None and model != model_type:
        raise InvalidSpec(f"model ({_shown(model)}) and model_type ({_shown(model_type)}) disagree")
    name = model if model is not None else model_type
    if name is None:
        raise InvalidSpec(f"a price needs a model (or Orb model_type): one of {', '.join(MODELS)}")
    if not isinstance(name, str) or ALIASES.get(name.lower(), name.lower()) not in _READERS:
        raise InvalidSpec(f"unknown price model {_shown(name)}; expected one of {', '.join(MODELS)}")
    name = ALIASES.get(name.lower(), name.lower())
    config_key = f"{name}_config"
    if config_key in data:  # Orb nests the fields (`tiered_config: {tiers: [...]}`)
        cfg = _mapping(data[config_key], config_key)
        _check_keys(cfg, _FIELDS[name], config_key)
        return _READERS[name](cfg, config_key)
    return _READERS[name](data, "price")


def model_fields(name: str) -> tuple[str, ...]:
    return _FIELDS[name]


# --- the price ----------------------------------------------------------------------------------

_META = ("id", "name", "currency", "external_price_id")


@dataclass(frozen=True, slots=True)
class Price:
    """A metric (what is counted) and a model (what it costs). `id`, `name`, `currency` and
    `external_price_id` are carried for the response (Orb's multi-price shape), never used to
    compute."""

    metric: Any  # meterql.metric.Metric
    model: Model
    id: str | None = None
    name: str | None = None
    currency: str | None = None
    external_price_id: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Price":
        """Read a price payload.

        Our shape: `{"metric": {...}, "model": "tiered", "tiers": [...]}` — the model's fields at
        the top level (unknown top-level fields are an error: a typo must not change a price).
        Orb's shape: `{"model_type": "tiered", "tiered_config": {"tiers": [...]}, "metric": {...}}`
        (`billable_metric` is accepted for `metric`); Orb's other price fields (`cadence`,
        `item`, ...) are ignored. `metric` is a `Metric` or a metric payload (Lago's too)."""
        data = _mapping(data, "price")
        orb = "model_type" in data and "model" not in data
        if not orb:
            name = data.get("model")
            name = ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else name
            fields = _FIELDS.get(name, ()) if isinstance(name, str) else ()
            allowed = {"metric", "billable_metric", "model", "model_type", *_META, *fields}
            if isinstance(name, str):
                allowed.add(f"{name}_config")
            _check_keys(data, allowed, "price")
        if "metric" in data and "billable_metric" in data:
            raise InvalidSpec("price: give metric or billable_metric, not both")
        raw_metric = data.get("metric", data.get("billable_metric"))
        if raw_metric is None:
            raise InvalidSpec("price.metric is required: the metric whose quantity the price charges for")
        model = model_from_dict(data)
        meta = {}
        for key in _META:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidSpec(f"price.{key} must be a string, got {_shown(value)}")
            meta[key] = value
        return cls(metric=_metric(raw_metric), model=model, **meta)

    def to_dict(self) -> dict[str, Any]:
        """Our payload shape (what `from_dict` reads back)."""
        out: dict[str, Any] = {}
        for key in _META:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        to_dict = getattr(self.metric, "to_dict", None)
        if to_dict is not None:
            out["metric"] = to_dict()
        out["model"] = self.model.kind
        out.update(self.model.config())
        return out


def _metric(raw: Any) -> Any:
    from ..metric import Metric

    if isinstance(raw, Metric):
        return raw
    return Metric.from_dict(_mapping(raw, "price.metric"))
