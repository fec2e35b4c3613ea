"""Price models (SPEC §6, §10), pure Python: every expected amount is computed by hand in the
comment beside it, never copied from the code's output."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterql import numbers
from meterql.errors import InvalidSpec, NumericOverflow
from meterql.price import (
    BulkModel,
    MatrixModel,
    PackageModel,
    PriceRow,
    TieredModel,
    UnitModel,
    model_from_dict,
    price_response,
)

D = Decimal


def amount(model, q) -> str:
    return numbers.canonical(model.amount(D(q)))


# --- unit ---------------------------------------------------------------------------------------

UNIT = {"model": "unit", "unit_amount": "0.25"}


@pytest.mark.parametrize(
    "q, expected",
    [
        ("3", "0.75"),  # 3 × 0.25
        ("0", "0"),
        ("1.5", "0.375"),  # 1.5 × 0.25
        ("-2", "-0.5"),  # unit is linear: net refunds give a negative amount
    ],
)
def test_unit(q, expected):
    m = model_from_dict(UNIT)
    assert isinstance(m, UnitModel) and m.kind == "unit"
    assert amount(m, q) == expected


def test_unit_is_exact_where_floats_are_not():
    m = model_from_dict({"model": "unit", "unit_amount": "0.1"})
    assert 0.1 * 3 != 0.3  # the float trap this guards against
    assert amount(m, "3") == "0.3"


def test_amount_is_rounded_once_half_away_from_zero_at_12_digits():
    m = model_from_dict({"model": "unit", "unit_amount": "0.000000000001"})
    # 0.5 × 1e-12 = 5e-13: half away from zero at 12 digits -> 1e-12 (and -1e-12 for -0.5)
    assert amount(m, "0.5") == "0.000000000001"
    assert amount(m, "-0.5") == "-0.000000000001"
    assert amount(m, "0.4") == "0"  # 4e-13 rounds to 0, and 0 has no sign


# --- package ------------------------------------------------------------------------------------

PACKAGE = {"model": "package", "package_amount": "5", "package_size": 3}


@pytest.mark.parametrize(
    "q, expected",
    [
        ("0", "0"),  # no package started
        ("1", "5"),  # a partial package is a whole package
        ("3", "5"),  # exactly one package
        ("3.000000000001", "10"),  # one unit-fraction over: a second package
        ("4", "10"),
        ("9", "15"),
        ("-2", "0"),  # negative quantities open no package
    ],
)
def test_package_rounds_partial_packages_up(q, expected):
    m = model_from_dict(PACKAGE)
    assert isinstance(m, PackageModel) and m.package_size == 3
    assert amount(m, q) == expected


def test_package_with_fractional_size():
    m = model_from_dict({"model": "package", "package_amount": "2", "package_size": "0.5"})
    assert amount(m, "1.2") == "6"  # 1.2 / 0.5 = 2.4 -> 3 packages × 2
    assert amount(m, "1") == "4"  # 2 packages exactly


def test_package_packages_of_a_thousand():
    # Orb's example: package_size 1000 divides usage by 1000 before multiplying.
    m = model_from_dict({"model_type": "package", "package_config": {"package_amount": "0.02", "package_size": 1000}})
    assert amount(m, "1") == "0.02"
    assert amount(m, "1000") == "0.02"
    assert amount(m, "1001") == "0.04"
    assert amount(m, "123456") == "2.48"  # ceil(123.456) = 124 × 0.02


# --- tiered (graduated) -------------------------------------------------------------------------

TIERED = {
    "model": "tiered",
    "tiers": [
        {"first_unit": 0, "last_unit": 10, "unit_amount": "1"},
        {"first_unit": 10, "last_unit": 100, "unit_amount": "0.5"},
        {"first_unit": 100, "last_unit": None, "unit_amount": "0.1"},
    ],
}


@pytest.mark.parametrize(
    "q, expected",
    [
        ("0", "0"),
        ("0.5", "0.5"),  # half a unit in tier 1
        ("10", "10"),  # exactly on the boundary: all 10 units in tier 1 (its (0, 10])
        ("11", "10.5"),  # 10 × 1 + 1 × 0.5
        ("10.5", "10.25"),  # 10 × 1 + 0.5 × 0.5
        ("100", "55"),  # 10 × 1 + 90 × 0.5
        ("101", "55.1"),  # 55 + 1 × 0.1
        ("250", "70"),  # 55 + 150 × 0.1
        ("-5", "0"),  # below every tier
    ],
)
def test_tiered_graduated(q, expected):
    assert amount(model_from_dict(TIERED), q) == expected


def test_tiered_first_tier_above_zero_is_an_allowance():
    m = model_from_dict(
        {
            "model": "tiered",
            "tiers": [
                {"first_unit": 5, "last_unit": 10, "unit_amount": "1"},
                {"first_unit": 10, "unit_amount": "2"},  # last_unit missing = open
            ],
        }
    )
    assert amount(m, "3") == "0"
    assert amount(m, "5") == "0"
    assert amount(m, "7") == "2"  # units 5..7 at 1
    assert amount(m, "12") == "9"  # 5 × 1 + 2 × 2


def test_tiered_orb_shape_and_lago_alias():
    orb = model_from_dict({"model_type": "tiered", "tiered_config": {"tiers": TIERED["tiers"]}})
    lago = model_from_dict({"model": "graduated", "tiers": TIERED["tiers"]})
    assert orb == lago == model_from_dict(TIERED)
    assert isinstance(orb, TieredModel)


# --- bulk (volume) ------------------------------------------------------------------------------

BULK = {
    "model": "bulk",
    "tiers": [
        {"maximum_units": 10, "unit_amount": "1"},
        {"maximum_units": "100", "unit_amount": "0.5"},
        {"maximum_units": None, "unit_amount": "0.1"},
    ],
}


@pytest.mark.parametrize(
    "q, expected",
    [
        ("0", "0"),
        ("1", "1"),
        ("10", "10"),  # exactly maximum_units: still tier 1 -> 10 × 1
        ("11", "5.5"),  # every unit at tier 2: 11 × 0.5
        ("100", "50"),  # 100 × 0.5 (boundary belongs to tier 2)
        ("101", "10.1"),  # 101 × 0.1
        ("-3", "0"),
    ],
)
def test_bulk_volume(q, expected):
    assert amount(model_from_dict(BULK), q) == expected


def test_bulk_boundary_plus_one_twelfth_digit():
    m = model_from_dict(BULK)
    # 10.000000000001 is past tier 1: × 0.5 = 5.0000000000005 -> half away at 12 digits
    assert amount(m, "10.000000000001") == "5.000000000001"


def test_bulk_orb_shape():
    m = model_from_dict({"model_type": "bulk", "bulk_config": {"tiers": BULK["tiers"]}})
    assert isinstance(m, BulkModel) and m == model_from_dict(BULK)


# --- matrix -------------------------------------------------------------------------------------


def matrix() -> MatrixModel:
    # Built directly (dimension expressions are checked by `model_from_dict`, tested with the
    # engine-backed tests once the expression checker is available).
    return MatrixModel(
        dimensions=("region", "tier"),
        default_unit_amount=D("0.1"),
        matrix_values=((("eu", "gold"), D(2)), (("us", None), D(1))),
    )


def test_matrix_cells_and_default():
    m = matrix()
    cells = [(("eu", "gold"), D(3)), (("eu", "silver"), D(4)), (("us", None), D(5))]
    # 3 × 2 + 4 × 0.1 (default: not listed) + 5 × 1 (None matches a NULL value)
    assert numbers.canonical(m.amount_of_cells(cells)) == "11.4"
    assert m.unit_amount_for(("us", "gold")) == D("0.1")  # None matches only NULL
    assert numbers.canonical(m.amount_of_cells([])) == "0"  # zero quantity


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"model": "unit", "unit_amount": 0.25}, "floats are not accepted"),
        ({"model": "unit", "unit_amount": "abc"}, "not a number"),
        ({"model": "unit", "unit_amount": "NaN"}, "not a number"),
        ({"model": "unit", "unit_amount": D("NaN")}, "not a finite number"),
        ({"model": "unit", "unit_amount": True}, "not a number"),
        ({"model": "unit", "unit_amount": "-1"}, "at least 0"),
        ({"model": "unit", "unit_amount": "0.0000000000001"}, "more than 12 fractional digits"),
        ({"model": "unit", "unit_amount": "1e26"}, "out of range"),
        ({"model": "unit"}, "unit_amount is required"),
        ({"model": "package", "package_amount": "1", "package_size": 0}, "greater than 0"),
        ({"model": "package", "package_amount": "1", "package_size": -5}, "greater than 0"),
        ({"model": "package", "package_amount": "1"}, "package_size is required"),
        ({"model": "tiered", "tiers": []}, "at least one tier"),
        ({"model": "tiered"}, "at least one tier"),
        (
            {"model": "tiered", "tiers": [{"first_unit": 0, "last_unit": 10, "unit_amount": "1"},
                                          {"first_unit": 11, "unit_amount": "1"}]},
            "contiguous",
        ),
        (
            {"model": "tiered", "tiers": [{"first_unit": 0, "last_unit": 10, "unit_amount": "1"},
                                          {"first_unit": 5, "unit_amount": "1"}]},
            "contiguous",
        ),
        (
            {"model": "tiered", "tiers": [{"first_unit": 0, "unit_amount": "1"},
                                          {"first_unit": 10, "unit_amount": "1"}]},
            "only the last tier may be open",
        ),
        ({"model": "tiered", "tiers": [{"first_unit": 0, "last_unit": 10, "unit_amount": "1"}]}, "must be open"),
        ({"model": "tiered", "tiers": [{"first_unit": 10, "last_unit": 10, "unit_amount": "1"}]}, "greater than first_unit"),
        ({"model": "tiered", "tiers": [{"first_unit": -1, "unit_amount": "1"}]}, "at least 0"),
        ({"model": "tiered", "tiers": [{"first_unit": 0, "unit_amount": "1", "max": 3}]}, "unknown field"),
        ({"model": "tiered", "tiers": [{"first_unit": 0.0, "unit_amount": "1"}]}, "floats are not accepted"),
        ({"model": "tiered", "tiers": ["x"]}, "must be an object"),
        (
            {"model": "bulk", "tiers": [{"maximum_units": 10, "unit_amount": "1"},
                                        {"maximum_units": 10, "unit_amount": "1"},
                                        {"unit_amount": "1"}]},
            "must increase",
        ),
        ({"model": "bulk", "tiers": [{"maximum_units": 10, "unit_amount": "1"}]}, "must be open"),
        ({"model": "bulk", "tiers": [{"maximum_units": None, "unit_amount": "1"},
                                     {"maximum_units": None, "unit_amount": "1"}]}, "only the last tier"),
        ({"model": "bulk", "tiers": [{"maximum_units": 0, "unit_amount": "1"}, {"unit_amount": "1"}]}, "greater than 0"),
        ({"model": "matrix", "default_unit_amount": "1"}, "at least one dimension"),
        ({"model": "fancy"}, "unknown price model"),
        ({}, "needs a model"),
        ({"model": "unit", "model_type": "package", "unit_amount": "1"}, "disagree"),
        ({"model_type": "unit", "unit_config": {"unit_amount": "1", "extra": 1}}, "unknown field"),
        ({"model_type": "unit", "unit_config": "1"}, "must be an object"),
    ],
)
def test_invalid_models_are_refused_with_a_clear_message(payload, message):
    with pytest.raises(InvalidSpec, match=message):
        model_from_dict(payload)


def test_error_names_the_field():
    with pytest.raises(InvalidSpec, match=r"tiered_config\.tiers\[1\]\.unit_amount"):
        model_from_dict(
            {"model_type": "tiered", "tiered_config": {"tiers": [
                {"first_unit": 0, "last_unit": 1, "unit_amount": "1"},
                {"first_unit": 1, "unit_amount": "one"},
            ]}}
        )


def test_overflow_is_an_error_not_a_wrapped_number():
    m = model_from_dict({"model": "unit", "unit_amount": "100000000000000000000"})  # 1e20
    assert amount(m, "999999") == "99999900000000000000000000"  # 9.99999e25 < 1e26: fine
    with pytest.raises(NumericOverflow):
        m.amount(D(1_000_000))  # 1e26


def test_amounts_accept_strings_ints_and_decimals_alike():
    a = model_from_dict({"model": "unit", "unit_amount": "2.50"})
    b = model_from_dict({"model": "unit", "unit_amount": D("2.5")})
    c = model_from_dict({"model": "unit", "unit_amount": " 2.5 "})
    assert a == b == c
    assert model_from_dict({"model": "unit", "unit_amount": 3}) == model_from_dict({"model": "unit", "unit_amount": "3e0"})


@pytest.mark.parametrize("payload", [UNIT, PACKAGE, TIERED, BULK])
def test_config_round_trips(payload):
    m = model_from_dict(payload)
    again = model_from_dict({"model": m.kind, **m.config()})
    assert again == m


def test_config_is_canonical_text():
    m = model_from_dict({"model": "package", "package_amount": "5.000", "package_size": "1e3"})
    assert m.config() == {"package_amount": "5", "package_size": "1000"}


# --- rows ---------------------------------------------------------------------------------------


def test_row_and_response_shape_are_canonical_text():
    row = PriceRow(("eu", "1700000000000", None), D("22.500000000000"), D("-0.0"))
    assert row.to_dict() == {"grouping_values": ["eu", "1700000000000", None], "quantity": "22.5", "amount": "0"}
    assert price_response([row]) == {"data": [row.to_dict()]}
    assert price_response([]) == {"data": []}


def test_rows_are_frozen():
    row = PriceRow((), D(1), D(1))
    with pytest.raises(AttributeError):
        row.amount = D(2)  # type: ignore[misc]


# --- properties against naive oracles (integer quantities, unit by unit) ------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

amounts = st.integers(0, 10**6).map(lambda n: D(n).scaleb(-3))  # 0 … 1000 with 3 decimals


@st.composite
def graduated(draw):
    cuts = sorted(set(draw(st.lists(st.integers(1, 60), min_size=0, max_size=4))))
    first = draw(st.integers(0, 3))
    cuts = [c for c in cuts if c > first]
    bounds = [first, *cuts, None]
    rates = [draw(amounts) for _ in range(len(bounds) - 1)]
    tiers = [{"first_unit": bounds[i], "last_unit": bounds[i + 1], "unit_amount": str(rates[i])} for i in range(len(rates))]
    return tiers


@settings(max_examples=150, deadline=None)
@given(graduated(), st.integers(0, 80))
def test_tiered_equals_pricing_each_unit(tiers, q):
    m = model_from_dict({"model": "tiered", "tiers": tiers})
    expected = D(0)
    for unit in range(1, q + 1):  # unit u is the quantity interval (u - 1, u]
        for t in tiers:
            if t["first_unit"] < unit and (t["last_unit"] is None or unit <= t["last_unit"]):
                expected += D(t["unit_amount"])
    assert m.amount(D(q)) == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=0, max_size=4, unique=True), st.data(), st.integers(0, 80))
def test_bulk_prices_every_unit_at_the_tier_of_the_total(maxima, data, q):
    maxima = sorted(maxima)
    rates = [data.draw(amounts) for _ in range(len(maxima) + 1)]
    tiers = [{"maximum_units": mx, "unit_amount": str(r)} for mx, r in zip([*maxima, None], rates)]
    m = model_from_dict({"model": "bulk", "tiers": tiers})
    # the tier is the number of maxima strictly below q (a total on a maximum stays in its tier)
    rate = rates[sum(1 for mx in maxima if mx < q)]
    assert m.amount(D(q)) == (D(q) * rate if q > 0 else 0)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 50), amounts, st.integers(-5, 500))
def test_package_is_the_fewest_packages_that_hold_the_quantity(size, price, q):
    m = model_from_dict({"model": "package", "package_amount": str(price), "package_size": size})
    k = 0
    while k * size < q:
        k += 1
    assert m.amount(D(q)) == k * price


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=True)
    | st.text(max_size=8) | st.sampled_from(["1", "-1", "0", "1e3", "0.5", "NaN", "1e-13", "", " 2 "])
    | st.decimals(allow_nan=True, allow_infinity=True),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(["unit_amount", "package_amount", "package_size", "tiers", "first_unit", "last_unit",
                               "maximum_units", "dimensions", "default_unit_amount", "matrix_values",
                               "dimension_values"])
tier_like = st.dictionaries(field_names, json_values, max_size=4)
payloads = st.fixed_dictionaries(
    {"model": st.sampled_from(["unit", "package", "tiered", "bulk", "matrix", "graduated", "volume", "x", 3])},
    optional={
        "dimensions": st.lists(st.sampled_from(["region", "tier", "", "a +", "lower(x)"]), max_size=2) | json_values,
        "matrix_values": st.lists(tier_like, max_size=3) | json_values,
        "unit_amount": json_values, "package_amount": json_values, "package_size": json_values,
        "tiers": st.lists(tier_like, max_size=4) | json_values, "default_unit_amount": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_any_payload_is_a_model_or_an_invalid_spec(payload):
    """Whatever the input, the only failure is an InvalidSpec (never TypeError, KeyError, a
    decimal signal or an AssertionError), and a model that is accepted prices 0 and 7 units."""
    from meterql.diagnostics import ExpressionError

    try:
        m = model_from_dict(payload)
    except (InvalidSpec, ExpressionError):  # ExpressionError: a matrix dimension that does not parse
        return
    assert m.amount(D(0)) == 0
    assert m.amount(D(7)) >= 0
