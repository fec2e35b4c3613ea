"""Property reading (SPEC §2 "Typing") and event validation (SPEC §1): the one place that decides
what a JSON property value *is* in each context, and what an acceptable event looks like.

Consumes: one property value as decoded from JSON (`json.loads(..., parse_float=Decimal)`, so
numbers arrive as `int` or `Decimal`), or a raw event mapping.
Produces: the three context readings (`read_number`, `read_string`, `read_boolean`) and a
`StoredEvent` whose `ps` / `pn` / `pb` maps are exactly the event-store columns of DESIGN.md.
Guarantees: no binary float is ever on the value path — a Python `float` handed in by a caller is
read through its shortest round-trip text (`repr`), i.e. `0.1` is `0.1`, never
`0.1000000000000000055…`; every reading here is the one the reference evaluator uses and the one
ingest stores, so the oracle and the engines read properties identically.

Decisions (README "Semantics"):
- Numbers of magnitude ≥ 10^26 are *stored* (the event is valid) and fail the query as soon as
  they are read in number context. Their number reading is returned unchecked (possibly out of
  range); exponents beyond 10^40 are clamped to ±10^40 (`numbers.parse_number_text`), which keeps
  them out of range. Their string reading is the canonical text of that (clamped) value.
- Timestamps: ISO-8601 (extended format, `T`/`t`/space separator, seconds and fraction optional)
  with `Z` or an offset; or integer epoch milliseconds. Sub-millisecond digits are dropped from the
  text, which is a floor of the instant (also before 1970: `1969-12-31T23:59:59.9999Z` → −1 ms).
  Floats are rejected: a float cannot carry a millisecond instant exactly beyond 2^53 and hides
  whether sub-millisecond parts were meant. Instants must fall in 1900-01-01 … 2261-12-31 (UTC),
  a range both engines' date functions handle (ClickHouse DateTime64 ends in 2299; int64
  nanoseconds end in 2262).
- `properties` may be missing or null (→ `{}`), a mapping, or a JSON object given as text
  (decoded exactly; duplicate keys are rejected as ambiguous).
- Unknown top-level fields of an event are ignored.
"""

from __future__ import annotations

import json
from json import encoder as _json_encoder
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Mapping

from . import numbers
from .errors import MeterqlError, describe_type, show

MAX_ID_LENGTH = 1024  # event_id, subject_id, event_name
MAX_KEY_LENGTH = 1024  # property keys
MAX_STRING_LENGTH = 65536  # property string values (characters)
MAX_PROPERTIES = 1024  # properties per event

MIN_TS_MS = -2208988800000  # 1900-01-01T00:00:00Z
MAX_TS_MS = 9214646399999  # 2261-12-31T23:59:59.999Z


# --- the three context readings (SPEC §2) -------------------------------------------------------


def _number_of_int(v: int) -> Decimal:
    # Beyond 2^200 (~1.6e60) the value is far out of range; clamp before `str(int)` gets slow
    # (or hits Python's 4300-digit conversion limit).
    if v.bit_length() > 200:
        return Decimal(1).scaleb(40) if v > 0 else Decimal(-1).scaleb(40)
    return Decimal(v)


def read_number(v: Any) -> Decimal | None:
    """Number-context reading of one property value: the exact number rounded half away from zero
    to 12 fractional digits, or None (NULL).

    A JSON number (int / Decimal / finite float via repr) or a string matching the SPEC §2 grammar.
    Booleans, NaN, infinities, other strings, arrays, objects, None → None. The result is NOT
    range-checked: |x| ≥ 10^26 comes back as is, for the caller to fail on (`numbers.check_range`)."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return numbers.quantize(_number_of_int(v))
    if isinstance(v, Decimal):
        if not v.is_finite():
            return None
        if not v.is_zero() and v.adjusted() > 40:
            return Decimal(1).scaleb(40).copy_sign(v)
        return numbers.quantize(v)
    if isinstance(v, float):
        # repr is the shortest text that round-trips: what the caller most plausibly meant.
        return numbers.parse_number_text(repr(v))  # 'nan' / 'inf' do not match the grammar
    if isinstance(v, str):
        return numbers.parse_number_text(v)
    return None


def read_string(v: Any) -> str | None:
    """String-context reading: a string as is; a number as its canonical text; a boolean as
    'true'/'false'; None, arrays, objects (and non-finite numbers) → None."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float, Decimal)):
        n = read_number(v)
        return None if n is None else numbers.canonical(n)
    return None


def read_boolean(v: Any) -> bool | None:
    """Boolean-context reading: JSON true/false only; anything else → None."""
    return v if isinstance(v, bool) else None


# --- events (SPEC §1) ---------------------------------------------------------------------------


class InvalidEvent(MeterqlError, ValueError):
    """An event that ingest rejects; `reason` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One validated event in the event-store layout of DESIGN.md."""

    event_id: str
    subject_id: str
    event_name: str
    ts: int  # epoch milliseconds, UTC
    ps: dict[str, str]  # string-context reading of each non-null property
    pn: dict[str, str]  # number-context reading: canonical decimal text (may be out of range)
    pb: dict[str, bool]  # boolean-context reading
    properties_json: str  # the original properties as JSON text (numbers keep their exact text)


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?",
    re.ASCII,
)
_EPOCH_DAYS0 = datetime(1970, 1, 1).toordinal()


def _check_ms(ms: int, shown: object) -> int:
    if not MIN_TS_MS <= ms <= MAX_TS_MS:
        raise InvalidEvent(f"timestamp {show(shown)} is outside the supported range 1900-01-01 … 2261-12-31 (UTC)")
    return ms


def parse_timestamp(value: Any) -> int:
    """A timestamp (ISO-8601 text with offset or Z, integer epoch ms, or an aware datetime) as
    epoch milliseconds. Sub-millisecond digits are truncated (a floor of the instant)."""
    if isinstance(value, bool):
        raise InvalidEvent("timestamp must be ISO-8601 text or integer epoch milliseconds, not a boolean")
    if isinstance(value, int):
        return _check_ms(value, value)
    if isinstance(value, (float, Decimal)):
        raise InvalidEvent(
            f"timestamp {show(value)} is not an integer: epoch milliseconds must be an integer "
            "(a float cannot hold a millisecond instant exactly)"
        )
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidEvent(f"timestamp {show(value.isoformat())} has no time zone offset (naive timestamps are rejected)")
        delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
        ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        return _check_ms(ms, value.isoformat())
    if not isinstance(value, str):
        raise InvalidEvent(f"timestamp must be ISO-8601 text or integer epoch milliseconds, not {describe_type(value)}")
    shown = value if len(value) <= 64 else value[:64] + "…"
    m = _ISO.fullmatch(value) if len(value) <= 64 else None
    if m is None:
        raise InvalidEvent(f"timestamp {show(shown)} is not ISO-8601 (e.g. 2024-05-01T12:00:00Z)")
    y, mo, d, hh, mi, ss, frac, z, sign, oh, om = m.groups()
    if z is None and sign is None:
        raise InvalidEvent(f"timestamp {show(shown)} has no time zone offset (naive timestamps are rejected; add Z or +00:00)")
    if hh is None:
        raise InvalidEvent(f"timestamp {show(shown)} has no time of day")
    try:
        day = datetime(int(y), int(mo), int(d)).toordinal() - _EPOCH_DAYS0
    except ValueError:
        raise InvalidEvent(f"timestamp {show(shown)} is not a valid calendar date") from None
    h, mnt, sec = int(hh), int(mi), int(ss or 0)
    if h > 23 or mnt > 59 or sec > 59:
        raise InvalidEvent(f"timestamp {show(shown)} has an invalid time of day")
    offset = 0
    if sign is not None:
        oh_i, om_i = int(oh), int(om or 0)
        if oh_i > 23 or om_i > 59:
            raise InvalidEvent(f"timestamp {show(shown)} has an invalid offset")
        offset = (oh_i * 60 + om_i) * (1 if sign == "+" else -1)
    millis = int(((frac or "") + "000")[:3])  # truncate sub-ms digits: a floor, the fraction is ≥ 0
    ms = ((day * 24 + h) * 60 + mnt - offset) * 60_000 + sec * 1000 + millis
    return _check_ms(ms, shown)


def format_timestamp(ms: int) -> str:
    """Epoch ms → `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), the inverse of `parse_timestamp`."""
    dt = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _check_text(what: str, s: Any, max_len: int, allow_empty: bool = False) -> str:
    if not isinstance(s, str):
        raise InvalidEvent(f"{what} must be a string, not {describe_type(s)}")
    if not s and not allow_empty:
        raise InvalidEvent(f"{what} must not be empty")
    if len(s) > max_len:
        raise InvalidEvent(f"{what} is longer than {max_len} characters")
    if "\x00" in s:
        raise InvalidEvent(f"{what} contains a NUL character")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEvent(f"{what} contains a lone surrogate (not valid Unicode text)") from None
    return s


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise InvalidEvent(f"properties has the key {show(k, 64)} twice")
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise InvalidEvent(f"properties contains {name}, which is not a JSON number")


def _decode_properties(text: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except InvalidEvent:
        raise
    except (ValueError, RecursionError) as e:
        raise InvalidEvent(f"properties is not valid JSON ({str(e)[:80]})") from None


def properties_of(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """An event's `properties` as a mapping: missing/null → {}; JSON text (str or UTF-8 bytes) is
    decoded exactly. Raises `InvalidEvent` for anything that is not a JSON object."""
    props = raw.get("properties")
    if props is None:
        return {}
    if isinstance(props, bytes):
        try:
            props = props.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEvent("properties is not valid UTF-8") from None
    if isinstance(props, str):
        props = _decode_properties(props)
    if not isinstance(props, Mapping):
        raise InvalidEvent(f"properties must be a JSON object, not {describe_type(props)}")
    return props


def _json_number(v: int | float | Decimal) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)  # int or finite Decimal: valid JSON number text (e.g. 1.50, 1E+3)


def _normalize_event_reference(raw: Mapping[str, Any]) -> StoredEvent:
    """The plain reading of SPEC §1/§2, field by field: the definition `normalize_row`'s fast path
    is tested against (tests/test_ingest_speed_equivalence.py), and the path that produces every
    rejection reason. Raises `InvalidEvent`; never anything else for any input mapping."""
    if not isinstance(raw, Mapping):
        raise InvalidEvent(f"an event must be a JSON object, not {describe_type(raw)}")
    for name in ("event_id", "subject_id", "event_name", "timestamp"):
        if name not in raw or raw[name] is None:
            raise InvalidEvent(f"{name} is missing")
    event_id = _check_text("event_id", raw["event_id"], MAX_ID_LENGTH)
    subject_id = _check_text("subject_id", raw["subject_id"], MAX_ID_LENGTH)
    event_name = _check_text("event_name", raw["event_name"], MAX_ID_LENGTH)
    ts = parse_timestamp(raw["timestamp"])

    props = properties_of(raw)
    if len(props) > MAX_PROPERTIES:
        raise InvalidEvent(f"properties has more than {MAX_PROPERTIES} keys")

    ps: dict[str, str] = {}
    pn: dict[str, str] = {}
    pb: dict[str, bool] = {}
    parts: list[str] = []
    for key, v in props.items():
        if not isinstance(key, str):
            raise InvalidEvent(f"property key {show(key)} is not a string")
        _check_text(f"property key {show(key, 64)}", key, MAX_KEY_LENGTH, allow_empty=True)
        what = f"property {show(key, 64)}"
        if v is None:
            text = "null"
        elif isinstance(v, bool):
            pb[key] = v
            ps[key] = read_string(v)  # type: ignore[assignment]
            text = "true" if v else "false"
        elif isinstance(v, str):
            _check_text(what, v, MAX_STRING_LENGTH, allow_empty=True)
            ps[key] = v
            n = numbers.parse_number_text(v)
            if n is not None:
                pn[key] = numbers.canonical(n)
            text = json.dumps(v, ensure_ascii=False)
        elif isinstance(v, (int, float, Decimal)):
            if not isinstance(v, int) and not Decimal(v).is_finite():
                raise InvalidEvent(f"{what} is not a finite number")
            if isinstance(v, int) and v.bit_length() > 3000:  # ~900 digits; JSON text caps at 4300
                raise InvalidEvent(f"{what} is an integer with too many digits")
            n = read_number(v)
            assert n is not None
            pn[key] = ps[key] = numbers.canonical(n)
            text = _json_number(v)
        elif isinstance(v, (list, tuple, Mapping)):
            raise InvalidEvent(f"{what} is an array or object; property values must be strings, numbers, booleans or null")
        else:
            raise InvalidEvent(f"{what} is {describe_type(v)}; property values must be strings, numbers, booleans or null")
        parts.append(json.dumps(key, ensure_ascii=False) + ":" + text)
    return StoredEvent(
        event_id=event_id,
        subject_id=subject_id,
        event_name=event_name,
        ts=ts,
        ps=ps,
        pn=pn,
        pb=pb,
        properties_json="{" + ",".join(parts) + "}",
    )


def normalize_event(raw: Mapping[str, Any]) -> StoredEvent:
    """Validate one event (SPEC §1) and read each property once into the stored columns.

    Raises `InvalidEvent` with a one-line reason; never anything else for any input mapping."""
    return StoredEvent(*normalize_row(raw))


# --- the fast path (ingest throughput) ----------------------------------------------------------
#
# `Engine.ingest` calls `normalize_row` for every event, so its cost per event bounds ingest
# throughput. It handles the common shapes (a plain dict; str ids; integer epoch ms or ISO text; a
# dict, or JSON text, of str / int / bool / None / float / Decimal values) with whole-string
# C-level checks — one NUL / ASCII test over all keys together, one over all string values — and
# one C-level JSON encoding of the properties, and returns a plain tuple (a frozen dataclass costs
# ~2 µs to build). On anything else, and on any doubt (a check that does not pass), it hands the
# event to `_normalize_event_reference`: every rejection reason and every unusual reading comes
# from that one plain definition, and tests/test_ingest_speed_equivalence.py holds the two paths
# to identical results on generated and hostile events.

Row = tuple[str, str, str, int, dict[str, str], dict[str, str], dict[str, bool], str]
"""A `StoredEvent` as a tuple in field order: (event_id, subject_id, event_name, ts, ps, pn, pb,
properties_json)."""

_NUM_START = frozenset("0123456789+-.")  # every SPEC §2 numeric string starts with one of these
# Numeric-looking string → its canonical number text ("" = not a number by the grammar). Property
# values repeat a lot (latencies, prices, counts): remembering the regex + Decimal decision pays.
_NUM_CACHE: dict[str, str] = {}
_NUM_CACHE_MAX = 1 << 16  # entries; the cache is simply emptied when full
_NUM_CACHE_KEY_MAX = 40  # characters; longer strings are rare and not worth keeping
_INT_LIMIT = 10**26  # below this an int's canonical text is `str(int)` (no rounding, no clamp)

_encode_basestring = _json_encoder.encode_basestring  # what json.dumps(s, ensure_ascii=False) uses


def _no_default(o: Any) -> Any:  # pragma: no cover - only called for types the fast path never encodes
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


if _json_encoder.c_make_encoder is not None:
    # The C encoder json.dumps uses for containers, built once (json.dumps builds it per call).
    # Same key/item separators, string escaping, int and float text as the reference's parts.
    _c_encode = _json_encoder.c_make_encoder(
        None, _no_default, _encode_basestring, None, ":", ",", False, False, True
    )

    def _encode_object(props: dict[str, Any]) -> str:
        return "".join(_c_encode(props, 0))

else:  # pragma: no cover - CPython always has the C encoder
    _encode_object = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _numeric_text(v: str) -> str:
    """Canonical text of the number a string denotes by SPEC §2, or "" when it is not a number."""
    d = numbers.parse_number_text(v)
    n = "" if d is None else numbers.canonical(d)
    if len(v) <= _NUM_CACHE_KEY_MAX:
        if len(_NUM_CACHE) >= _NUM_CACHE_MAX:
            _NUM_CACHE.clear()
        _NUM_CACHE[v] = n
    return n


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _json_text(v: Any) -> str:
    """One property value as the reference writes it into `properties_json`."""
    if v is None:
        return "null"
    if type(v) is bool:
        return "true" if v else "false"
    if type(v) is str:
        return _encode_basestring(v)
    return _json_number(v)


def _fast_properties(props: dict[Any, Any]) -> tuple[dict[str, str], dict[str, str], dict[str, bool], str] | None:
    """(ps, pn, pb, properties_json) of a plain dict of properties, or None to defer to the
    reference (an invalid or unusual value, key or size)."""
    if len(props) > MAX_PROPERTIES:
        return None
    ps: dict[str, str] = {}
    pn: dict[str, str] = {}
    pb: dict[str, bool] = {}
    decimals = False
    for k, v in props.items():
        t = type(v)
        if t is str:
            ps[k] = v
            if v and v[0] in _NUM_START:
                n = _NUM_CACHE.get(v)
                if n is None:
                    n = _numeric_text(v)
                if n:
                    pn[k] = n
        elif t is int:
            if -_INT_LIMIT < v < _INT_LIMIT:
                pn[k] = ps[k] = str(v)  # = canonical(quantize(Decimal(v))) in this range
            elif v.bit_length() > 3000:
                return None
            else:
                pn[k] = ps[k] = numbers.canonical(read_number(v))  # type: ignore[arg-type]
        elif t is bool:
            pb[k] = v
            ps[k] = "true" if v else "false"
        elif v is None:
            pass
        elif t is Decimal or t is float:
            if (t is Decimal and not v.is_finite()) or (t is float and v - v != 0.0):  # NaN, ±inf
                return None
            n = read_number(v)
            if n is None:  # pragma: no cover - a finite number always reads
                return None
            pn[k] = ps[k] = numbers.canonical(n)
            decimals = decimals or t is Decimal
        else:
            return None
    # Keys and string values, each checked all together (SPEC §1 text rules, as `_check_text`).
    try:
        keys = "".join(props)
    except TypeError:  # a key that is not a string
        return None
    texts = "".join(ps.values())  # every string value (plus short number / boolean texts)
    if "\x00" in keys or "\x00" in texts:
        return None
    if not (keys.isascii() or _encodable(keys)) or not (texts.isascii() or _encodable(texts)):
        return None
    if len(keys) > MAX_KEY_LENGTH and max(map(len, props)) > MAX_KEY_LENGTH:
        return None
    if len(texts) > MAX_STRING_LENGTH and max(map(len, ps.values())) > MAX_STRING_LENGTH:
        return None
    if decimals:  # json cannot encode Decimal: write the parts as the reference does
        text = "{" + ",".join(_encode_basestring(k) + ":" + _json_text(v) for k, v in props.items()) + "}"
    else:
        text = _encode_object(props)
    return ps, pn, pb, text


def normalize_row(raw: Any) -> Row:
    """`normalize_event` as a `Row` tuple, for ingest: the same readings and the same rejections
    (reasons included), without building an object per event."""
    if type(raw) is dict:
        get = raw.get
        eid, sid, name, ts = get("event_id"), get("subject_id"), get("event_name"), get("timestamp")
        if type(ts) is str and 0 < len(ts) <= 64:
            try:
                ts = parse_timestamp(ts)
            except InvalidEvent:
                ts = None
        if (
            type(eid) is str and type(sid) is str and type(name) is str and type(ts) is int
            and 0 < len(eid) <= MAX_ID_LENGTH and 0 < len(sid) <= MAX_ID_LENGTH and 0 < len(name) <= MAX_ID_LENGTH
            and MIN_TS_MS <= ts <= MAX_TS_MS
        ):
            ids = eid + sid + name
            if "\x00" not in ids and (ids.isascii() or _encodable(ids)):
                props = get("properties")
                if props is None:
                    return (eid, sid, name, ts, {}, {}, {}, "{}")
                if type(props) is str:
                    try:
                        props = _decode_properties(props)
                    except InvalidEvent:
                        props = None
                if type(props) is dict:
                    columns = _fast_properties(props)
                    if columns is not None:
                        return (eid, sid, name, ts, *columns)
    e = _normalize_event_reference(raw)
    return (e.event_id, e.subject_id, e.event_name, e.ts, e.ps, e.pn, e.pb, e.properties_json)


def is_wide(text: str) -> bool:
    """Whether a `pn` text (canonical decimal, may be out of range) is a number of magnitude
    ≥ 10^26, i.e. one that fails a query reading it (SPEC §3): 27 or more integer digits."""
    return len(text.lstrip("+-").split(".", 1)[0].lstrip("0")) >= 27


def has_wide_rows(rows: Any) -> bool:
    """Whether any `values.Row`-like tuple of a batch holds a wide `pn` number (`is_wide`)."""
    return any(is_wide(t) for r in rows for t in r[5].values() if t is not None)


def has_wide_table(table: Any) -> bool:
    """`has_wide_rows` of an Arrow batch in the store layout (`columnar.SCHEMA`: a `pn` map)."""
    import pyarrow.compute as pc

    texts = table["pn"].combine_chunks().items
    if len(texts) == 0:
        return False
    longest = pc.max(pc.utf8_length(texts)).as_py()
    if longest is None or longest < 27:
        return False
    long = texts.filter(pc.greater_equal(pc.utf8_length(texts), 27))
    return any(is_wide(t) for t in long.to_pylist() if t is not None)
