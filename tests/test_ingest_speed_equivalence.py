"""The fast ingest path changes nothing a user can observe.

- `values.normalize_row` / `normalize_event` (the fast path) against `_normalize_event_reference`
  (the plain reading of SPEC §1/§2): the same StoredEvent — every map with the same keys in the
  same order, the same properties JSON text — or the same `InvalidEvent` reason, on generated
  benchmark events and on hostile ones (hypothesis).
- `Engine.ingest` with several batches (writer thread) against a sequential Decimal-free model of
  SPEC §1: counts, rejected indices and reasons, first write wins within and across calls, the
  stored columns read back equal to the reference reading, on DuckDB and ClickHouse (chdb).
- DuckDB's plain-INSERT-first strategy: a batch mixing stored and new ids lands atomically with
  OR IGNORE; a write error stops ingest without writing later batches.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterql.errors import EngineError
from meterql.values import InvalidEvent, _normalize_event_reference, normalize_event, normalize_row

from engine_fixtures import dispose, engine, new_engine  # noqa: F401  (fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.generate import generate  # noqa: E402


def outcome(fn, raw):
    """('ok', fields with dicts as item lists) or ('rejected', reason)."""
    try:
        e = fn(raw)
    except InvalidEvent as exc:
        return ("rejected", exc.reason)
    if isinstance(e, tuple):
        fields = list(e)
    else:
        fields = [e.event_id, e.subject_id, e.event_name, e.ts, e.ps, e.pn, e.pb, e.properties_json]
    # dict == ignores order; the stored maps keep it, so compare item lists (and exact types)
    return ("ok", [list(f.items()) if isinstance(f, dict) else f for f in fields],
            [type(v) for f in fields if isinstance(f, dict) for v in f.values()])


def assert_same(raw):
    ref = outcome(_normalize_event_reference, raw)
    assert outcome(normalize_event, raw) == ref
    assert outcome(normalize_row, raw) == ref
    return ref


# --- generated events ---------------------------------------------------------------------------


def test_generated_events_read_identically():
    events = list(generate(3000, seed=11))
    accepted = 0
    for raw in events:
        accepted += assert_same(raw)[0] == "ok"
    assert accepted == 3000
    # a second pass is served by the numeric-string cache: still identical
    for raw in events[:500]:
        assert_same(raw)


def test_generated_events_as_json_text_and_lines_read_identically():
    # The CLI decodes lines with parse_float=Decimal; properties may also come as JSON text.
    for raw in generate(500, seed=12):
        line = json.loads(json.dumps(raw), parse_float=Decimal)
        assert assert_same(line)[0] == "ok"
        assert assert_same({**raw, "properties": json.dumps(raw["properties"])})[0] == "ok"


# --- hostile events -----------------------------------------------------------------------------

BASE = {"event_id": "e1", "subject_id": "s1", "event_name": "call", "timestamp": 1704067200000}

HOSTILE_VALUES = [
    None, True, False, 0, -0, 1, -1, 10**26 - 1, 10**26, -(10**26), 2**200, -(2**201), 10**900, 10**1000,
    0.0, -0.0, 0.1, 1e16, 1e300, -1e-300, float("nan"), float("inf"), float("-inf"),
    Decimal("0"), Decimal("-0"), Decimal("1.50"), Decimal("1E+3"), Decimal("-1e-13"), Decimal("5e-13"),
    Decimal("1e41"), Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), Decimal("123456789012345678901234567890.5"),
    "", "0", "-0", "+0.0", "007", "1.", ".5", "-.5e-3", "1e3", "1E+400", "1e-99999999999999999999", " 3", "1_000",
    "٣", "1.0000000000005", "0x10", "NaN", "inf", "-", "+", ".", "e5", "12abc", "é", "日本", "a\x00b", "\ud800",
    "x" * 65536, "x" * 65537, "9" * 1001, "\\", '"', "\n\t", "\u2028", "\x7f",
    [], [1], {}, {"a": 1}, (1,), b"x", object(), 1 + 2j,
]  # fmt: skip

HOSTILE_KEYS = ["", "a", "é", "a.b", "*", "\\", '"', "k" * 1024, "k" * 1025, "\x00", "\udcff", "$.x", " ", 1, None, (1,)]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda v: repr(v)[:24])
def test_hostile_values_read_identically(value):
    assert_same({**BASE, "properties": {"k": value}})
    assert_same({**BASE, "properties": {"a": 1, "k": value, "z": "last"}})


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=lambda k: repr(k)[:24])
def test_hostile_keys_read_identically(key):
    assert_same({**BASE, "properties": {key: "v"}})
    assert_same({**BASE, "properties": {"a": 1, key: 2}})


IDS = ["", "x", "é", "\x00", "a\ud800", "i" * 1024, "i" * 1025, 1, None, True, b"e"]
TIMESTAMPS = [
    0, -1, 1704067200000, -2208988800000, -2208988800001, 9214646399999, 9214646400000, True, 1.5, Decimal("1"),
    "2024-01-01T00:00:00Z", "2024-01-01T00:00:00", "2024-01-01 00:00:00.9999+05:30", "2024-02-30T00:00:00Z",
    "1899-12-31T23:59:59Z", "2024-01-01T24:00:00Z", "x" * 65, "", datetime(2024, 1, 1, tzinfo=timezone.utc),
    datetime(2024, 1, 1), datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-3))), None,
]  # fmt: skip


@pytest.mark.parametrize("field", ["event_id", "subject_id", "event_name"])
def test_hostile_ids_read_identically(field):
    for value in IDS:
        assert_same({**BASE, field: value, "properties": {"a": "b"}})
    raw = dict(BASE)
    del raw[field]
    assert_same(raw)


def test_hostile_timestamps_and_shapes_read_identically():
    for ts in TIMESTAMPS:
        assert_same({**BASE, "timestamp": ts})
    for props in [None, "{}", '{"a": 1.50, "b": 1e3, "c": "x"}', '{"a": 1, "a": 2}', "[1]", "{", '{"a": NaN}',
                  b'{"a": 1}', b"\xff", "null", 7, [("a", 1)], {"a": {"b": 1}}, {i: i for i in range(3)},
                  {f"k{i}": i for i in range(1025)}, {f"k{i}": i for i in range(1024)}]:
        assert_same({**BASE, "properties": props})
    for raw in ["not an event", None, [("event_id", "x")], {**BASE, "extra": object()}]:
        assert_same(raw)


class OtherMapping(dict):
    pass


def test_mapping_subclasses_take_the_reference_path_and_agree():
    assert_same(OtherMapping(BASE, properties=OtherMapping(a=1)))
    assert_same({**BASE, "properties": OtherMapping(a="1.5")})


_value = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=10), st.from_regex(r"[+-]?(\d{1,30}(\.\d{0,15})?|\.\d{1,15})([eE][+-]?\d{1,3})?", fullmatch=True),
    st.sampled_from(HOSTILE_VALUES[:-8]),
)  # fmt: skip
_key = st.one_of(st.text(max_size=6), st.sampled_from(HOSTILE_KEYS[:-3]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    props=st.dictionaries(_key, _value, max_size=6),
    event_id=st.one_of(st.text(max_size=5), st.sampled_from(IDS)),
    ts=st.one_of(st.integers(), st.sampled_from(TIMESTAMPS)),
    as_text=st.booleans(),
)
def test_random_events_read_identically(props, event_id, ts, as_text):
    raw = {**BASE, "event_id": event_id, "timestamp": ts, "properties": props}
    assert_same(raw)
    if as_text:
        try:
            text = json.dumps(props, default=str)
        except (ValueError, TypeError):
            return
        assert_same({**raw, "properties": text})


# --- end to end through Engine.ingest -----------------------------------------------------------


def model_ingest(batches_of_events, stored: dict):
    """SPEC §1 sequentially: the first valid event for an id wins (across calls, via `stored`)."""
    reports = []
    for events in batches_of_events:
        inserted = duplicates = 0
        rejected = []
        for i, raw in enumerate(events):
            try:
                e = _normalize_event_reference(raw)
            except InvalidEvent as exc:
                rejected.append((i, exc.reason))
                continue
            if e.event_id in stored:
                duplicates += 1
            else:
                stored[e.event_id] = e
                inserted += 1
        reports.append((inserted, duplicates, list(rejected)))
    return reports


def mixed_events(n: int, seed: int, id_space: int):
    """Generated events with re-used ids (other timestamps / properties) and invalid ones mixed in."""
    out = []
    for i, raw in enumerate(generate(n, seed=seed)):
        raw = dict(raw, event_id=f"id{(i * 7919) % id_space}")
        if i % 17 == 3:
            raw["timestamp"] = "2024-01-01T00:00:00"  # naive: rejected
        elif i % 23 == 5:
            raw["properties"] = {**raw["properties"], "bad": [1]}  # array: rejected
        elif i % 29 == 7:
            raw["properties"] = {**raw["properties"], "dec": Decimal("2.50"), "f": 0.1}
        out.append(raw)
    return out


def stored_rows(engine) -> dict:
    table = ".".join(f"`{p}`" for p in [getattr(engine, "database", None), "events"] if p) \
        if engine.dialect == "clickhouse" else "events"
    if engine.dialect == "clickhouse":
        rows = engine._query(f"SELECT event_id, subject_id, event_name, ts, ps, pn, pb, properties FROM {table}", {})
    else:
        rows = engine._con.execute(f"SELECT event_id, subject_id, event_name, ts, ps, pn, pb, properties FROM {table}").fetchall()
    return {r[0]: (r[1], r[2], int(r[3]), dict(r[4]), dict(r[5]), dict(r[6]), r[7]) for r in rows}


def test_ingest_in_many_batches_matches_the_sequential_model(engine):  # noqa: F811
    calls = [mixed_events(2600, 5, 2000), mixed_events(1500, 6, 2600)]
    model: dict = {}
    expected = model_ingest(calls, model)
    for events, (inserted, duplicates, rejected) in zip(calls, expected):
        seen = []
        report = engine.ingest(events, batch_size=300, progress=seen.append)  # ~8 batches: writer thread
        assert (report.inserted, report.duplicates, report.rejected) == (inserted, duplicates, rejected)
        assert seen[-1] == len(events) and seen == sorted(seen)
    assert expected[0][0] > 1000 and expected[0][1] > 300 and expected[1][1] > 300 and expected[0][2]
    got = stored_rows(engine)
    assert engine.count_events() == len(model) == len(got)
    for eid, e in model.items():
        assert got[eid] == (e.subject_id, e.event_name, e.ts, e.ps, e.pn, e.pb, e.properties_json), eid


def test_reingest_after_the_store_holds_everything_changes_nothing(engine):  # noqa: F811
    events = list(generate(1200, seed=9))
    r1 = engine.ingest(events, batch_size=250)
    before = stored_rows(engine)
    shifted = [dict(e, timestamp=e["timestamp"] + 1, properties={"x": 1}) for e in events]
    r2 = engine.ingest(shifted[::-1], batch_size=250)
    assert (r1.inserted, r1.duplicates) == (1200, 0)
    assert (r2.inserted, r2.duplicates, r2.rejected) == (0, 1200, [])
    assert stored_rows(engine) == before


def test_duckdb_batch_mixing_stored_and_new_ids_lands_atomically_with_first_write_wins():
    e = new_engine("duckdb")
    try:
        base = [dict(BASE, event_id=f"a{i}", properties={"v": i}) for i in range(100)]
        assert e.ingest(base, batch_size=40).inserted == 100
        # plain INSERT first (all new), then a batch with 1 stored id among new ones, then all new again
        mixed = [dict(BASE, event_id=f"b{i}", properties={"v": 1}) for i in range(60)]
        mixed[45] = dict(BASE, event_id="a7", properties={"v": 10**6})
        mixed += [dict(BASE, event_id=f"c{i}", properties={"v": 1}) for i in range(60)]
        r = e.ingest(mixed, batch_size=30)
        assert (r.inserted, r.duplicates) == (119, 1)
        got = stored_rows(e)
        assert len(got) == 219 and got["a7"][4] == {"v": "7"}
        assert all(f"b{i}" in got for i in range(60) if i != 45) and all(f"c{i}" in got for i in range(60))
    finally:
        dispose(e)


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_a_write_error_stops_ingest_and_nothing_is_written_after_it(kind, monkeypatch):
    e = new_engine(kind)
    try:
        real = type(e)._store_rows
        calls = []

        def failing(self, prepared):  # fault injection: the 2nd batch's write fails like an engine error
            calls.append(1)
            if len(calls) == 2:
                raise EngineError("injected write failure")
            return real(self, prepared)

        monkeypatch.setattr(type(e), "_store_rows", failing)
        events = [dict(BASE, event_id=f"e{i}") for i in range(1000)]
        with pytest.raises(EngineError, match="injected"):
            e.ingest(events, batch_size=100)
        monkeypatch.undo()
        assert e.count_events() == 100  # the first batch; nothing after the failed one
        assert len(calls) in (2, 3)  # at most the batch already handed over when the error surfaced
    finally:
        dispose(e)


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_the_columnar_fallback_without_arrow_stores_the_same(kind):
    # The list-parameter (DuckDB) / native-column (ClickHouse) insert serves when pyarrow is
    # missing; it must store exactly what the Arrow path stores, with the same duplicate rule.
    events = mixed_events(900, 21, 700)
    model: dict = {}
    ((inserted, duplicates, rejected),) = model_ingest([events], model)
    arrow, lists = new_engine(kind), new_engine(kind)
    try:
        if kind == "duckdb":
            lists._arrow = False  # as when pyarrow cannot be imported
        else:
            lists._prepare_rows = lambda rows: sorted(rows, key=lambda r: (r[1], r[3]))  # rows → native insert
            lists.columnar_ingest = False  # the row-by-row reader hands rows to _prepare_rows
        for e in (arrow, lists):
            r = e.ingest(events, batch_size=200)
            assert (r.inserted, r.duplicates, r.rejected) == (inserted, duplicates, rejected)
        assert stored_rows(arrow) == stored_rows(lists)
        assert len(stored_rows(lists)) == len(model) and inserted > 500
    finally:
        dispose(arrow)
        dispose(lists)


def test_large_batches_mixing_stored_and_new_ids(engine):  # noqa: F811
    # ≥ 2,000 ids per batch: ClickHouse looks stored ids up through its temporary table.
    first = list(generate(5000, seed=31))
    assert engine.ingest(first, batch_size=2500).inserted == 5000
    before = stored_rows(engine)
    resent = [dict(e, timestamp=e["timestamp"] - 7, properties={"y": "2"}) for e in first[1000:3500]]
    new = [dict(e, event_id=e["event_id"] + "n") for e in generate(2500, seed=32)]
    mixed = [x for pair in zip(resent, new) for x in pair]  # interleaved
    r = engine.ingest(mixed, batch_size=2400)
    assert (r.inserted, r.duplicates, r.rejected) == (2500, 2500, [])
    after = stored_rows(engine)
    assert len(after) == 7500 and all(after[k] == v for k, v in before.items())
    assert all(after[e["event_id"]][2] == e["timestamp"] for e in new)
    assert getattr(engine, "_staged_lookup", True)  # chdb: the temporary table served, no fallback


# --- the columnar batch reader (columnar.normalize_batch) against the reference -----------------


def reference_batch(raws, start=0):
    """Event by event with the reference reader: accepted rows (first id wins), rejections, and
    the in-batch duplicate count — what `normalize_batch` must give."""
    rows, rejected, seen, duplicates = [], [], set(), 0
    for i, raw in enumerate(raws):
        try:
            if isinstance(raw, InvalidEvent):
                raise raw
            e = _normalize_event_reference(raw)
        except InvalidEvent as exc:
            rejected.append((start + i, exc.reason))
            continue
        if e.event_id in seen:
            duplicates += 1
            continue
        seen.add(e.event_id)
        # maps as item lists in order (Arrow's to_pylist of a MAP), exact value types
        rows.append({"event_id": e.event_id, "subject_id": e.subject_id, "event_name": e.event_name, "ts": e.ts,
                     "ps": list(e.ps.items()), "pn": list(e.pn.items()), "pb": list(e.pb.items()),
                     "properties": e.properties_json})
    return rows, rejected, duplicates


def assert_batch_same(raws, start=0):
    from meterql.columnar import SCHEMA, normalize_batch

    got = normalize_batch(raws, start)
    assert got.table.schema == SCHEMA
    rows, rejected, duplicates = reference_batch(raws, start)
    assert got.rejected == rejected
    assert got.duplicates == duplicates
    assert got.table.to_pylist() == rows
    return got


def test_batches_of_generated_events_with_iso_timestamps_read_identically():
    events = list(generate(3000, seed=13))
    for i, e in enumerate(events):
        ms = e["timestamp"]
        if i % 3 == 1:  # the usual ISO form, with and without milliseconds, Z and offsets
            e["timestamp"] = (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)).isoformat(
                timespec=("milliseconds", "seconds", "microseconds")[i % 9 // 3]).replace("+00:00", "Z")
        elif i % 3 == 2:
            e["timestamp"] = (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)).astimezone(
                timezone(timedelta(hours=(i % 27) - 13, minutes=30 * (i % 2)))).isoformat(timespec="milliseconds")
        if i % 5 == 0:  # numbers as the CLI decodes them: Decimal; floats from Python callers
            e["properties"] = {**e["properties"], "d": Decimal(f"{i}.{i % 1000:03d}0"), "f": i / 8}
    got = assert_batch_same(events, start=100)
    assert got.table.num_rows == 3000  # every event valid: the checks passed them all


def test_a_batch_of_hostile_events_reads_identically():
    raws = [{**BASE, "event_id": f"v{i}", "properties": {"a": 1, "k": v}} for i, v in enumerate(HOSTILE_VALUES)]
    raws += [{**BASE, "event_id": f"k{i}", "properties": {k: "v", "z": 2}} for i, k in enumerate(HOSTILE_KEYS)]
    raws += [{**BASE, "event_id": f"t{i}", "timestamp": t} for i, t in enumerate(TIMESTAMPS)]
    raws += [{**BASE, field: v} for field in ("event_id", "subject_id", "event_name") for v in IDS]
    raws += ["not an event", None, InvalidEvent("not valid JSON"), OtherMapping(BASE), {**BASE, "event_id": "v3"}]
    raws += [{**BASE, "event_id": "ts-edge", "timestamp": t} for t in (
        "2024-02-29T23:59:59.999999999Z", "2023-02-29T00:00:00Z", "1900-01-01T00:00:00Z", "1899-12-31T23:59:59.999Z",
        "1900-01-01T00:30:00+01:00", "2261-12-31T23:59:59.999Z", "2262-01-01T00:00:00Z", "2261-12-31T23:00:00-01:00",
        "0000-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T00:00:60Z",
        "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:00-23:59", "2024-01-01T00:00:00+05:60", "2024-01-01T00:00:00.Z",
        "1969-12-31T23:59:59.9999Z", "2024-01-01T00:00:00.1234567890Z", "２０２４-01-01T00:00:00Z", "2024-01-01T00:00:00z",
        2**63, -(2**63) - 1, 2**70,
    )]  # fmt: skip
    raws += [{**BASE, "event_id": "big", "properties": {"i": 2**63, "j": -(2**63), "k": 2**63 - 1}}]
    for i, raw in enumerate(raws):  # every one once as the only event of a batch, too
        assert_batch_same([raw], start=i)
    assert_batch_same(raws)


_batch_event = st.fixed_dictionaries(
    {"event_id": st.one_of(st.sampled_from(["a", "b", "c"]), st.text(max_size=3), st.sampled_from(IDS)),
     "subject_id": st.one_of(st.just("s1"), st.sampled_from(IDS)),
     "event_name": st.just("call"),
     "timestamp": st.one_of(st.integers(min_value=-(2**64), max_value=2**64), st.sampled_from(TIMESTAMPS),
                            st.from_regex(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,10})?(Z|[+-]\d{2}:\d{2})?",
                                          fullmatch=True)),
     "properties": st.one_of(st.none(), st.dictionaries(_key, _value, max_size=5))},
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=st.lists(st.one_of(_batch_event, st.sampled_from([None, "x", {}])), max_size=12),
       start=st.integers(min_value=0, max_value=10**6))
def test_random_batches_read_identically(raws, start):
    assert_batch_same(raws, start)


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_ingest_columnar_and_row_by_row_store_the_same(kind):
    calls = [mixed_events(1800, 41, 1500), mixed_events(700, 42, 1800)]
    columnar, rows = new_engine(kind), new_engine(kind)
    rows.columnar_ingest = False
    try:
        for events in calls:
            seen_c, seen_r = [], []
            a = columnar.ingest(events, batch_size=250, progress=seen_c.append)
            b = rows.ingest(events, batch_size=250, progress=seen_r.append)
            assert (a.inserted, a.duplicates, a.rejected) == (b.inserted, b.duplicates, b.rejected)
            assert seen_c[-1] == seen_r[-1] == len(events)
        assert stored_rows(columnar) == stored_rows(rows)
    finally:
        dispose(columnar)
        dispose(rows)


# --- the bulk path: engine.ingest_file --------------------------------------------------------


def _jsonl_lines(events):
    def enc(o):
        if isinstance(o, Decimal):
            return float(o)  # never reached with exact text: see below
        raise TypeError

    lines = []
    for raw in events:
        props = raw.get("properties")
        if isinstance(props, dict) and any(isinstance(v, (Decimal, float, list)) for v in props.values()):
            # numbers written with their exact text (the decoder reads them back as Decimal)
            body = ",".join(json.dumps(k) + ":" + (str(v) if isinstance(v, Decimal) else json.dumps(v))
                            for k, v in props.items())
            line = json.dumps({k: v for k, v in raw.items() if k != "properties"})[:-1] + ',"properties":{' + body + "}}"
        else:
            line = json.dumps(raw, default=enc)
        lines.append(line.encode())
    return lines


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_ingest_file_matches_ingest_of_the_decoded_lines(kind, tmp_path):
    from meterql.ndjson import read_jsonl

    lines = _jsonl_lines(mixed_events(1500, 51, 1200))
    lines[0] = b"\xef\xbb\xbf" + lines[0]  # a byte order mark is skipped
    lines[10:10] = [b"", b"{not json", b'{"event_id": "x", "event_id": "y"}', b"\xff\xfe", b"[1, 2]",
                    b'{"event_id":"d","subject_id":"s","event_name":"n","timestamp":1,"properties":{"a":1,"a":2}}',
                    b'{"event_id":"iso","subject_id":"s","event_name":"n","timestamp":"2024-05-01T12:00:00.5+02:00"}']
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    bulk, rows = new_engine(kind), new_engine(kind)
    rows.columnar_ingest = False  # the reference: row by row, normalize_row
    try:
        a = bulk.ingest_file(str(path), batch_size=400)
        with open(path, "rb") as f:
            b = rows.ingest(read_jsonl(f), batch_size=400)
        assert (a.inserted, a.duplicates, a.rejected) == (b.inserted, b.duplicates, b.rejected)
        reasons = dict(a.rejected)
        assert reasons[10] == "empty line" and "twice" in reasons[12] and "twice" in reasons[15]
        assert a.inserted > 900 and stored_rows(bulk) == stored_rows(rows)
        assert stored_rows(bulk)["iso"][2] == 1714557600500
        again = bulk.ingest_file(path, batch_size=1000)  # a re-sent file stores nothing new
        assert (again.inserted, again.duplicates) == (0, a.inserted + a.duplicates)
    finally:
        dispose(bulk)
        dispose(rows)


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_ingest_file_reads_parquet_like_ingest(kind, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    events = list(generate(600, seed=61))
    for i, e in enumerate(events[:40]):
        e["event_id"] = f"dup{i % 20}"  # repeats: the first wins
    events[50]["timestamp"] = -(10**15)  # out of range: rejected
    as_text = [{**e, "properties": json.dumps(e["properties"])} for e in events]
    pq.write_table(pa.Table.from_pylist(as_text), tmp_path / "text.parquet")
    utc = pa.timestamp("us", tz="UTC")
    pq.write_table(pa.table({
        "event_id": [f"p{i}" for i in range(60)],
        "subject_id": [e["subject_id"] for e in events[:60]],
        "event_name": [e["event_name"] for e in events[:60]],
        "timestamp": pa.array([(1_700_000_000_000 + i) * 1000 - 1 for i in range(60)], utc),
        "properties": pa.array([[("k", str(i)), ("k", "x")] if i == 5 else [("k", str(i))] for i in range(60)],
                               pa.map_(pa.string(), pa.string())),
    }), tmp_path / "typed.parquet")  # fmt: skip
    bulk, rows = new_engine(kind), new_engine(kind)
    rows.columnar_ingest = False
    try:
        a = bulk.ingest_file(tmp_path / "text.parquet", batch_size=128)
        b = rows.ingest(as_text, batch_size=128)
        assert (a.inserted, a.duplicates, a.rejected) == (b.inserted, b.duplicates, b.rejected)
        assert a.rejected[0][0] == 50 and a.duplicates == 20
        assert stored_rows(bulk) == stored_rows(rows)
        t = bulk.ingest_file(str(tmp_path / "typed.parquet"))
        assert (t.inserted, t.duplicates, t.rejected) == (59, 0, [(5, 'properties has the key "k" twice')])
        got = stored_rows(bulk)
        assert got["p7"][2] == 1_700_000_000_000 + 7 - 1  # 1 µs before the ms: floored
        assert got["p7"][3] == {"k": "7"} and got["p7"][6] == '{"k":"7"}'
    finally:
        dispose(bulk)
        dispose(rows)
