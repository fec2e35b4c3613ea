"""Ingest's vectorised validation: a batch of raw events → one Arrow table in the event-store
layout (DESIGN.md), with the SPEC §1 checks done column by column in Arrow's C++.

Consumes: a list of raw items as `Engine.ingest` reads them (event mappings, or `InvalidEvent`s
from a reader) and the input index of the first one.
Produces: `Batch` — the accepted events as an Arrow table (input order, the first occurrence of
each `event_id` in the batch), the rejections `(index, reason)` and the count of in-batch
duplicates.
Guarantees: the result is exactly what `values.normalize_row` gives event by event (the same
columns, map key order, properties JSON text, rejections, reasons and indices) —
tests/test_ingest_speed_equivalence.py holds the two to it on generated and hostile batches.

How: the common shapes — a plain dict; `str` ids; integer epoch ms or ISO-8601 text of the usual
form (`2024-05-01T12:00:00.123Z`, `…+02:00`); a dict of str / int (64-bit) / bool / None / Decimal
/ float properties — are checked and read for the whole batch at once: types by one `type()` pass
per column, lengths, NULs, surrogates, timestamp fields, calendar dates and ranges, and the
canonical text of plain decimals (`"0.12345"`, `Decimal("1.50")`) by Arrow kernels. Every event a
check does not clear (any doubt, not only errors) goes to `values.normalize_row` — the Python
reader stays the one definition of every rejection reason and every unusual reading; this module
only decides faster that an event is an ordinary valid one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import chain, repeat
from operator import itemgetter
from json import encoder as _json_encoder
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import numbers
from .values import (
    MAX_ID_LENGTH,
    MAX_KEY_LENGTH,
    MAX_PROPERTIES,
    MAX_STRING_LENGTH,
    MAX_TS_MS,
    MIN_TS_MS,
    InvalidEvent,
    _numeric_text,
    normalize_row,
    read_number,
)

STRING = pa.string()
TEXT_MAP = pa.map_(STRING, STRING)
BOOL_MAP = pa.map_(STRING, pa.bool_())
SCHEMA = pa.schema([
    ("event_id", STRING), ("subject_id", STRING), ("event_name", STRING), ("ts", pa.int64()),
    ("ps", TEXT_MAP), ("pn", TEXT_MAP), ("pb", BOOL_MAP), ("properties", STRING),
])  # fmt: skip
_INDEX = "__index"  # input position, while slow and fast rows are merged

_encode_basestring = _json_encoder.encode_basestring  # = json.dumps(s, ensure_ascii=False)

# The usual ISO-8601 form; anything else (no seconds, `t`, comma, ±HHMM, > 64 chars, …) is read by
# `values.parse_timestamp` on the Python path.
_ISO = r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$"
_ISO_NAMED = (
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[T ](?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<f>\d{1,9}))?(?:(?P<z>Z)|(?P<sign>[+-])(?P<oh>\d{2}):(?P<om>\d{2}))$"
)

# Plain decimals whose canonical text (SPEC §3) is a pure text rewrite: at most 26 integer digits
# (so |x| < 10^26) and at most 12 fractional digits (no rounding). The SPEC §2 grammar decides
# what is a number at all; the rest of it (exponents, more digits) is read by `numbers`.
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_PLAIN = r"^[+-]?(\d{1,26}(\.\d{0,12})?|\.\d{1,12})$"

# Already canonical: no sign but a minus, no leading zero, no trailing fractional zero, not -0.
_CANONICAL = r"^(0|-?[1-9]\d*)(\.\d*[1-9])?$|^-0\.\d*[1-9]$"

_T_OTHER, _T_STR, _T_INT, _T_BOOL, _T_NONE, _T_DEC, _T_FLOAT = range(7)
_TYPE_CODE = {str: _T_STR, int: _T_INT, bool: _T_BOOL, type(None): _T_NONE, Decimal: _T_DEC, float: _T_FLOAT}
_INT64 = (-(2**63), 2**63 - 1)


@dataclass
class Batch:
    table: pa.Table  # SCHEMA, accepted events in input order, unique event_id
    rejected: list[tuple[int, str]]
    duplicates: int  # accepted events whose id an earlier event of the batch already had


def _strings(values: list[Any]) -> tuple[pa.Array, np.ndarray]:
    """`values` (each a str, or anything else) as a string array, and a mask of the positions that
    are not usable text (not a str, or a lone surrogate): those hold "" in the array."""
    n = len(values)
    if set(map(type, values)) <= {str}:
        bad = np.zeros(n, dtype=bool)
    else:
        bad = np.fromiter((type(v) is not str for v in values), dtype=bool, count=n)
        values = ["" if b else v for v, b in zip(values, bad.tolist())]
    try:
        arr = pa.array(values, STRING)
    except (UnicodeEncodeError, pa.ArrowException):
        enc = np.fromiter((_encodable(v) for v in values), dtype=bool, count=n)
        bad |= ~enc
        arr = pa.array([v if e else "" for v, e in zip(values, enc.tolist())], STRING)
    return arr, bad


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_ok(arr: pa.Array, lo: int, hi: int) -> np.ndarray:
    """Mask of the strings whose length (characters) is in lo…hi and that hold no NUL."""
    length = pc.utf8_length(arr)
    ok = pc.and_(pc.and_(pc.greater_equal(length, lo), pc.less_equal(length, hi)),
                 pc.invert(pc.match_substring(arr, "\x00")))
    return ok.to_numpy(zero_copy_only=False)


def _canonical_numbers(texts: pa.Array, raw: list[Any] | None) -> pa.Array:
    """Canonical text (SPEC §3) of each number text, null where the text is not a number by the
    SPEC §2 grammar. Plain decimals are rewritten in Arrow; the rest (exponents, > 12 fractional
    digits, ≥ 10^26) read by `numbers` one by one (`raw`: the original Decimal / float values,
    read by `read_number` as the reference does; None for strings)."""
    if len(texts) == 0:
        return pa.array([], STRING)
    plain = pc.match_substring_regex(texts, _PLAIN)
    a = texts.filter(plain)  # rewrite only the plain decimals (most strings are not numbers)
    done = pc.match_substring_regex(a, _CANONICAL)
    if not pc.all(done).as_py():  # rewrite only those not canonical already ("1.50", "+3", ".5")
        todo = pc.invert(done)
        b = a.filter(todo)
        b = pc.replace_substring_regex(b, r"^\+", "")
        b = pc.replace_substring_regex(b, r"^(-?)\.", r"\10.")
        b = pc.replace_substring_regex(b, r"(\.\d*?)0+$", r"\1")
        b = pc.replace_substring_regex(b, r"\.$", "")
        b = pc.replace_substring_regex(b, r"^(-?)0+(\d)", r"\1\2")
        b = pc.replace_substring_regex(b, r"^-0$", "0")
        a = pc.replace_with_mask(a, todo, b)
    out = pc.replace_with_mask(pa.nulls(len(texts), STRING), plain, a)
    hard_mask = ~plain.to_numpy(zero_copy_only=False)
    if raw is None:  # strings: only those the grammar reads as numbers need a reading
        hard_mask &= pc.match_substring_regex(texts, _NUMBER).to_numpy(zero_copy_only=False)
    hard = np.flatnonzero(hard_mask)
    if len(hard):
        fixed: list[str | None] = []
        if raw is not None:
            for i in hard.tolist():
                n = read_number(raw[i])
                fixed.append(None if n is None else numbers.canonical(n))
        else:
            for t in texts.take(pa.array(hard)).to_pylist():
                fixed.append(_numeric_text(t) or None)
        values = out.to_pylist()
        for i, t in zip(hard.tolist(), fixed):
            values[i] = t
        out = pa.array(values, STRING)
    return out


def _take_all(values: list[Any], idx: np.ndarray) -> list[Any]:
    if len(idx) == len(values):
        return values
    if len(idx) < 2:
        return [values[i] for i in idx.tolist()]
    return list(itemgetter(*idx.tolist())(values))


def _json_strings(arr: pa.Array, values: list[Any], bad: np.ndarray) -> pa.Array:
    """JSON text of each string as `json.dumps(s, ensure_ascii=False)` writes it: quoted, with
    `"`, `\\` and control characters escaped ("" where `bad`). Strings without those are just
    quoted, in Arrow; the others are encoded by json's own encoder."""
    special = pc.match_substring_regex(arr, r'[\x00-\x1f"\\]').to_numpy(zero_copy_only=False) & ~bad
    quoted = pc.binary_join_element_wise('"', arr, '"', "")
    idx = np.flatnonzero(special)
    if len(idx):
        quoted = pc.replace_with_mask(quoted, pa.array(special), pa.array([_encode_basestring(values[i]) for i in idx.tolist()], STRING))
    return quoted


def _iso_ms(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Epoch ms of ISO-8601 texts of the usual form, and the mask of those that are: the form,
    a valid calendar date and time of day, a valid offset, in the supported range."""
    n = len(arr)
    ok = pc.match_substring_regex(arr, _ISO).to_numpy(zero_copy_only=False)
    ms = np.zeros(n, dtype=np.int64)
    if not ok.any():
        return ms, ok
    parts = pc.extract_regex(pc.if_else(pa.array(ok), arr, "1970-01-01T00:00:00Z"), _ISO_NAMED)

    def num(name: str) -> np.ndarray:
        field = parts.field(name)
        return pc.cast(pc.if_else(pc.equal(field, ""), "0", field), pa.int64()).to_numpy(zero_copy_only=False)

    y, mo, d, h, mi, s = (num(f) for f in ("y", "mo", "d", "h", "mi", "s"))
    frac = pc.utf8_slice_codeunits(pc.utf8_rpad(parts.field("f"), 3, "0"), 0, 3)
    millis = pc.cast(frac, pa.int64()).to_numpy(zero_copy_only=False)
    oh, om = num("oh"), num("om")
    sign = np.where(pc.equal(parts.field("sign"), "-").to_numpy(zero_copy_only=False), -1, 1)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    mdays = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    dim = mdays[np.clip(mo, 0, 12)] + ((mo == 2) & leap)
    ok &= (y >= 1) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= dim)
    ok &= (h <= 23) & (mi <= 59) & (s <= 59) & (oh <= 23) & (om <= 59)
    # days from civil (H. Hinnant), proleptic Gregorian like Python's date.toordinal
    yy = y - (mo <= 2)
    era = np.floor_divide(yy, 400)
    yoe = yy - era * 400
    mp = (mo + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    offset = sign * (oh * 60 + om)
    ms = ((days * 24 + h) * 60 + mi - offset) * 60_000 + s * 1000 + millis
    ok &= (ms >= MIN_TS_MS) & (ms <= MAX_TS_MS)
    return ms, ok


def normalize_batch(raws: list[Any], start: int = 0) -> Batch:
    """Validate and read a batch of raw events (see the module docstring). `start` is the input
    index of `raws[0]`: rejections carry input indices."""
    n = len(raws)
    if set(map(type, raws)) <= {dict}:
        dicts = raws
        slow = np.zeros(n, dtype=bool)
    else:
        dicts = [r if type(r) is dict else {} for r in raws]
        slow = np.fromiter((type(r) is not dict for r in raws), dtype=bool, count=n)
    get = dict.get

    # ids
    cols = {}
    for name in ("event_id", "subject_id", "event_name"):
        arr, bad = _strings(list(map(get, dicts, repeat(name))))
        slow |= bad
        slow |= ~_text_ok(arr, 1, MAX_ID_LENGTH)
        cols[name] = arr

    # timestamps: integer epoch ms, or the usual ISO-8601 text
    ts_raw = list(map(get, dicts, repeat("timestamp")))
    ts_type = np.fromiter(map(_TYPE_CODE.get, map(type, ts_raw), repeat(_T_OTHER)), dtype=np.int8, count=n)
    ts = np.zeros(n, dtype=np.int64)
    is_int = ts_type == _T_INT
    if is_int.any():
        idx = np.flatnonzero(is_int)
        vals = _take_all(ts_raw, idx)
        try:
            iv = np.array(vals, dtype=np.int64)
        except OverflowError:
            fits = np.fromiter((_INT64[0] <= v <= _INT64[1] for v in vals), dtype=bool, count=len(vals))
            slow[idx[~fits]] = True
            iv = np.array([v if f else 0 for v, f in zip(vals, fits.tolist())], dtype=np.int64)
        ts[idx] = iv
        slow[idx[(iv < MIN_TS_MS) | (iv > MAX_TS_MS)]] = True
    is_str = ts_type == _T_STR
    if is_str.any():
        idx = np.flatnonzero(is_str)
        arr, bad = _strings(_take_all(ts_raw, idx))
        ms, ok = _iso_ms(arr)
        ts[idx] = ms
        slow[idx[bad | ~ok]] = True
    slow |= ~(is_int | is_str)

    # properties: dicts flattened into one list of keys and one of values
    props = list(map(get, dicts, repeat("properties")))
    if set(map(type, props)) <= {dict}:
        plist = props
    else:
        slow |= np.fromiter((type(p) is not dict and p is not None for p in props), dtype=bool, count=n)
        plist = [p if type(p) is dict else {} for p in props]
    lens = np.fromiter(map(len, plist), dtype=np.int64, count=n)
    slow |= lens > MAX_PROPERTIES
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    owner = np.repeat(np.arange(n), lens)  # event of each flat value
    keys = list(chain.from_iterable(plist))
    vals = list(chain.from_iterable(map(dict.values, plist)))
    nv = len(vals)
    bad_v = np.zeros(nv, dtype=bool)
    # keys repeat across events: checked and encoded once per distinct key
    ukeys = list(dict.fromkeys(keys))  # (1 and True are one dict key: both are not str, so bad)
    where = {k: i for i, k in enumerate(ukeys)}
    key_pos = np.fromiter(map(where.__getitem__, keys), dtype=np.int64, count=nv)
    uarr, ubad = _strings(ukeys)
    ubad |= ~_text_ok(uarr, 0, MAX_KEY_LENGTH)
    bad_v |= ubad[key_pos]
    key_take = pa.array(key_pos)
    karr = uarr.take(key_take)

    vt = np.fromiter(map(_TYPE_CODE.get, map(type, vals), repeat(_T_OTHER)), dtype=np.int8, count=nv)
    bad_v |= vt == _T_OTHER
    # per type: ps text, pn text (null: not a number), JSON text, pb
    pieces_ps: list[pa.Array] = []
    pieces_pn: list[pa.Array] = []
    pieces_js: list[pa.Array] = []
    pos = np.zeros(nv, dtype=np.int64)  # position of each value in the concatenated pieces
    base = 0
    pb_vals: pa.Array = pa.array([], pa.bool_())

    def add(idx: np.ndarray, ps: pa.Array, pn: pa.Array, js: pa.Array) -> None:
        nonlocal base
        pieces_ps.append(ps)
        pieces_pn.append(pn)
        pieces_js.append(js)
        pos[idx] = base + np.arange(len(idx))
        base += len(idx)

    idx = np.flatnonzero(vt == _T_STR)
    if len(idx):
        svals = _take_all(vals, idx)
        arr, bad = _strings(svals)
        bad |= ~_text_ok(arr, 0, MAX_STRING_LENGTH)
        bad_v[idx[bad]] = True
        js = _json_strings(arr, svals, bad)
        add(idx, arr, _canonical_numbers(arr, None), js)
    idx = np.flatnonzero(vt == _T_INT)
    if len(idx):
        ivals = _take_all(vals, idx)
        try:
            iarr = pa.array(ivals, pa.int64())
        except (OverflowError, pa.ArrowException):
            fits = np.fromiter((_INT64[0] <= v <= _INT64[1] for v in ivals), dtype=bool, count=len(ivals))
            bad_v[idx[~fits]] = True
            iarr = pa.array([v if f else 0 for v, f in zip(ivals, fits.tolist())], pa.int64())
        text = pc.cast(iarr, STRING)
        add(idx, text, text, text)
    idx = np.flatnonzero(vt == _T_BOOL)
    if len(idx):
        pb_vals = pa.array(_take_all(vals, idx), pa.bool_())
        text = pc.if_else(pb_vals, "true", "false")
        add(idx, text, pa.nulls(len(idx), STRING), text)
    idx = np.flatnonzero((vt == _T_DEC) | (vt == _T_FLOAT))
    if len(idx):
        nvals = _take_all(vals, idx)
        finite = np.fromiter((v.is_finite() if type(v) is Decimal else v - v == 0.0 for v in nvals), dtype=bool,
                             count=len(nvals))
        bad_v[idx[~finite]] = True
        texts = [(str(v) if type(v) is Decimal else repr(v)) if f else "0" for v, f in zip(nvals, finite.tolist())]
        tarr = pa.array(texts, STRING)
        canon = _canonical_numbers(tarr, [v if f else 0 for v, f in zip(nvals, finite.tolist())])
        add(idx, canon, canon, tarr)
    idx = np.flatnonzero(vt == _T_NONE)
    if len(idx):
        nulls = pa.nulls(len(idx), STRING)
        add(idx, nulls, nulls, pa.array(["null"] * len(idx), STRING))
    idx = np.flatnonzero(vt == _T_OTHER)
    if len(idx):
        nulls = pa.nulls(len(idx), STRING)
        add(idx, nulls, nulls, nulls)

    if nv:
        slow[owner[bad_v]] = True
    take = pa.array(pos)
    flat_ps = pa.concat_arrays(pieces_ps).take(take) if nv else pa.array([], STRING)
    flat_pn = pa.concat_arrays(pieces_pn).take(take) if nv else pa.array([], STRING)
    flat_js = pa.concat_arrays(pieces_js).take(take) if nv else pa.array([], STRING)
    is_bool = vt == _T_BOOL
    bpos = np.full(nv, -1, dtype=np.int64)
    if is_bool.any():
        bpos[is_bool] = np.arange(int(is_bool.sum()))
    flat_pb = pb_vals.take(pa.array(bpos, mask=~is_bool)) if nv else pa.array([], pa.bool_())

    fast = np.flatnonzero(~slow)
    # keep only the fast events' values
    keep_v = ~slow[owner] if nv else np.zeros(0, dtype=bool)

    def as_map(values: pa.Array, map_type: pa.DataType) -> pa.Array:
        present = keep_v & values.is_valid().to_numpy(zero_copy_only=False) if nv else keep_v
        counts = np.bincount(owner[present], minlength=n)[fast] if nv else np.zeros(len(fast), dtype=np.int64)
        offs = np.zeros(len(fast) + 1, dtype=np.int64)
        np.cumsum(counts, out=offs[1:])
        m = pa.array(present)
        return pa.MapArray.from_arrays(pa.array(offs, pa.int32()), karr.filter(m), values.filter(m), type=map_type)

    # properties JSON text: "{" + ",".join(key:value) + "}" per event (the reference's parts)
    keep = pa.array(keep_v)
    if nv:
        enc_keys = _json_strings(uarr, ukeys, ubad).take(key_take)
        parts = pc.binary_join_element_wise(enc_keys, flat_js, ":")
    else:
        parts = pa.array([], STRING)
    counts_all = lens[fast]
    offs = np.zeros(len(fast) + 1, dtype=np.int64)
    np.cumsum(counts_all, out=offs[1:])
    lists = pa.ListArray.from_arrays(pa.array(offs, pa.int32()), parts.filter(keep) if nv else parts)
    joined = pc.binary_join(lists, ",")
    properties = pc.binary_join_element_wise("{", joined, "}", "")

    fast_arr = pa.array(fast)
    table = pa.table({
        "event_id": cols["event_id"].take(fast_arr),
        "subject_id": cols["subject_id"].take(fast_arr),
        "event_name": cols["event_name"].take(fast_arr),
        "ts": pa.array(ts[fast], pa.int64()),
        "ps": as_map(flat_ps, TEXT_MAP),
        "pn": as_map(flat_pn, TEXT_MAP),
        "pb": as_map(flat_pb, BOOL_MAP),
        "properties": properties,
        _INDEX: pa.array(fast + start, pa.int64()),
    })  # fmt: skip

    rejected: list[tuple[int, str]] = []
    slow_idx = np.flatnonzero(slow)
    if len(slow_idx):
        rows = []
        positions = []
        for i in slow_idx.tolist():
            raw = raws[i]
            try:
                if isinstance(raw, InvalidEvent):
                    raise raw
                rows.append(normalize_row(raw))
                positions.append(i + start)
            except InvalidEvent as exc:
                rejected.append((i + start, exc.reason))
        if rows:
            from .engines.duckdb import _arrow_batch  # the row → Arrow conversion of the Python path

            extra = _arrow_batch(rows).append_column(_INDEX, pa.array(positions, pa.int64()))
            table = pa.concat_tables([table, extra.cast(table.schema)]).sort_by(_INDEX)

    # the first occurrence of each event_id in the batch wins
    ids = table.column("event_id").to_pylist()
    first = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1)))
    duplicates = len(ids) - len(first)
    if duplicates:
        table = table.take(pa.array(sorted(first.values()), pa.int64()))
    return Batch(table.drop_columns([_INDEX]), rejected, duplicates)


def read_parquet(source: Any, batch_size: int) -> Iterator[Any]:
    """The rows of a Parquet file as raw events, `batch_size` rows read at a time (bounded
    memory), for `Engine.ingest_file`. Columns are the event's fields; `timestamp` may be an
    integer (epoch ms), a string, or a timestamp type (with a time zone: its instant, floored to the
    millisecond; without one it is naive and rejected, SPEC §1); `properties` JSON text or a MAP
    (a key given twice is rejected, as in JSON text)."""
    import pyarrow.parquet as pq

    from .errors import InvalidSpec

    try:
        file = pq.ParquetFile(source)
    except (OSError, pa.ArrowException) as exc:
        raise InvalidSpec(f"cannot read Parquet file {source!s:.200}: {str(exc)[:200]}") from None
    for batch in file.iter_batches(batch_size=batch_size):
        columns: dict[str, list[Any]] = {}
        for name, col in zip(batch.schema.names, batch.columns):
            t = col.type
            if name == "timestamp" and pa.types.is_timestamp(t) and t.tz is not None:
                per_ms = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}[t.unit]
                ints = col.cast(pa.int64()).to_numpy(zero_copy_only=False)
                if per_ms is None:
                    ms = ints * 1000
                else:
                    ms = np.floor_divide(ints, per_ms)
                valid = col.is_valid().to_numpy(zero_copy_only=False)
                columns[name] = [int(v) if ok else None for v, ok in zip(ms.tolist(), valid.tolist())]
            elif name == "properties" and pa.types.is_map(t):
                columns[name] = [_map_properties(items) for items in col.to_pylist()]
            else:
                columns[name] = col.to_pylist()
        names = list(columns)
        for values in zip(*columns.values()):
            event = dict(zip(names, values))
            props = event.get("properties")
            yield props if isinstance(props, InvalidEvent) else event  # a MAP with a key twice


def _map_properties(items: list[tuple[Any, Any]] | None) -> Any:
    if items is None:
        return None
    out = dict(items)
    if len(out) != len(items):
        seen: set[Any] = set()
        for k, _ in items:
            if k in seen:
                return InvalidEvent(f"properties has the key {_quoted(k)} twice")
            seen.add(k)
    return out


def _quoted(k: Any) -> str:
    import json

    text = str(k)
    return json.dumps(text[:64] + ("…" if len(text) > 64 else ""), ensure_ascii=False)
