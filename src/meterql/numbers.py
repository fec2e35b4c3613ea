"""Exact decimal arithmetic of SPEC §3, in Python: the one place that says what a number is.

Used by the reference evaluator, by ingest (to read property values exactly) and by pricing.
Everything here is `decimal.Decimal` with an explicit context; no binary float is ever involved.
"""

from __future__ import annotations

import re
from .errors import NumericOverflow, show

from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Context,
    Decimal,
    InvalidOperation,
)

SCALE = 12  # fractional digits of every number
LIMIT = Decimal(10) ** 26  # |x| must stay below this
QUANTUM = Decimal(1).scaleb(-SCALE)  # 1e-12

# Wide enough that no intermediate of two in-range numbers is ever rounded by the context itself
# (10^26 × 10^26 has 52 integer digits, plus 12 + 12 fractional).
CTX = Context(prec=120, rounding=ROUND_HALF_UP, Emin=-999999, Emax=999999, traps=[InvalidOperation])
# Quotients are truncated at 120 significant digits, then rounded once: half-away-from-zero at
# 12 digits depends only on the 13th digit, so truncating far beyond it loses nothing.
_DIV_CTX = CTX.copy()
_DIV_CTX.rounding = ROUND_DOWN

# SPEC §2: the numeric-string grammar. `\d` is ASCII only here (re.ASCII) — "٣" is not a digit.
NUMERIC_STRING = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)

# Exponents beyond this cannot denote an in-range number with ≤ 12 fractional digits that is
# not 0 after rounding; we clamp before building huge digit strings (e.g. "1e999999999").
_MAX_EXP = 40


def parse_number_text(text: str) -> Decimal | None:
    """Read `text` as a number by the SPEC §2 grammar, exactly, rounded to 12 digits.

    Returns None when the text is not a number by that grammar. Returns an out-of-range
    Decimal unchanged in magnitude (≥ 10^26) — the caller decides whether that is an error
    (it is one as soon as the value is used as a number)."""
    if len(text) > 1000 or not NUMERIC_STRING.fullmatch(text):
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:  # an exponent beyond Decimal's own range: "1e-3100000000000000000000"
        mantissa, _, exponent = text.lower().partition("e")
        if exponent.startswith("-") or not mantissa.strip("+-.0"):
            return Decimal(0)  # |x| < 10^-1000: 0 after rounding to 12 digits
        return Decimal(1).scaleb(_MAX_EXP).copy_sign(Decimal(mantissa))  # as for "1e99" below
    if d.is_zero():  # "0e9999" is zero, whatever its exponent
        return Decimal(0)
    if d.adjusted() > _MAX_EXP:
        return Decimal(1).scaleb(_MAX_EXP).copy_sign(d)
    return quantize(d)


def quantize(d: Decimal) -> Decimal:
    """Round half away from zero to 12 fractional digits (no range check)."""
    if d.is_zero():
        return Decimal(0)
    if d.adjusted() < -SCALE - 1:
        return Decimal(0)
    return d.quantize(QUANTUM, context=CTX)


def check_range(d: Decimal) -> Decimal:
    if d.copy_abs() >= LIMIT:  # copy_abs: abs() would round to the default 28 digits
        raise NumericOverflow(f"numeric overflow: a value reached 10^26 in magnitude ({canonical(d)[:40]})")
    return d


def add(a: Decimal, b: Decimal) -> Decimal:
    return check_range(CTX.add(a, b))


def sub(a: Decimal, b: Decimal) -> Decimal:
    return check_range(CTX.subtract(a, b))


def mul(a: Decimal, b: Decimal) -> Decimal:
    return check_range(quantize(CTX.multiply(a, b)))


def div(a: Decimal, b: Decimal) -> Decimal | None:
    """Exact quotient rounded half away from zero to 12 digits; None when b is 0 (SPEC §2)."""
    if b.is_zero():
        return None
    q = _DIV_CTX.divide(a, b)
    return check_range(quantize(q))


def mod(a: Decimal, b: Decimal) -> Decimal | None:
    """Remainder with the sign of the dividend (SQL semantics); None when b is 0."""
    if b.is_zero():
        return None
    return check_range(CTX.remainder(a, b))


def round_to(d: Decimal, digits: int = 0, mode: str = "round") -> Decimal:
    """`round`/`ceil`/`floor` to `digits` fractional digits (-12…12); half away from zero."""
    rounding = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}[mode]
    q = Decimal(1).scaleb(-digits)
    return check_range(CTX.add(d.quantize(q, rounding=rounding, context=CTX), Decimal(0)))  # CTX: no 28-digit rounding


def canonical(d: Decimal) -> str:
    """SPEC §3 canonical text: plain notation, no exponent, no trailing fractional zeros, no -0."""
    if d.is_zero():
        return "0"
    sign, digits, exp = d.as_tuple()
    if not isinstance(exp, int):  # NaN / infinity never reach here (parse rejects them)
        raise ValueError(f"not a finite number: {show(d)}")
    s = "".join(map(str, digits))
    if exp >= 0:
        text = s + "0" * exp
    else:
        frac_len = -exp
        if len(s) <= frac_len:
            s = "0" * (frac_len - len(s) + 1) + s
        int_part, frac_part = s[:-frac_len], s[-frac_len:].rstrip("0")
        text = int_part + ("." + frac_part if frac_part else "")
    return ("-" if sign else "") + text


def to_decimal(value: object) -> Decimal:
    """A number given by a caller (amounts, tier bounds): str, int or Decimal — never a float."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        parsed = parse_number_text(value.strip())
        if parsed is None:
            raise ValueError(f"not a number: {show(value)}")
        d = parsed
    elif isinstance(value, float):
        raise TypeError(f"floats are not accepted for exact amounts ({show(value)}); pass a string")
    else:
        raise TypeError(f"not a number: {show(value)}")
    if not d.is_finite():
        raise ValueError(f"not a finite number: {show(value)}")
    return check_range(quantize(d))
