"""Ingestion (SPEC §1) on DuckDB and ClickHouse: rejected events with index and reason, duplicate
counts, first write wins, naive timestamps, sub-millisecond input, batching."""

from __future__ import annotations

from meterql.plan import Window
from decimal import Decimal

from meterql import Metric

from engine_fixtures import engine  # noqa: F401  (fixture)

T0 = 1704067200000  # 2024-01-01T00:00:00Z
H = 3_600_000
COUNT = Metric(code="c", aggregation="count")
SUM = Metric(code="s", aggregation="sum", value="v")


def ev(event_id, ts=T0, subject="s1", **props):
    return {"event_id": event_id, "subject_id": subject, "event_name": "call", "timestamp": ts, "properties": props}


def value(engine, metric, start=T0, end=T0 + H, subject="s1"):
    return engine.aggregate(metric, Window(subject, start, end))[0].value


def test_rejected_events_have_index_and_reason_and_the_rest_lands(engine):  # noqa: F811
    batch = [
        ev("ok1", v=1),
        {"subject_id": "s1", "event_name": "call", "timestamp": T0},  # 1: no event_id
        ev("naive", ts="2024-01-01T00:00:00"),  # 2: naive timestamp
        ev("float", ts=1704067200000.5),  # 3: float epoch
        ev("arr", v=[1, 2]),  # 4: array property
        "not an event",  # 5
        ev("ok2", v=2),
        ev("", v=3),  # 7: empty id
    ]
    report = engine.ingest(batch)
    assert report.inserted == 2 and report.duplicates == 0
    assert [i for i, _ in report.rejected] == [1, 2, 3, 4, 5, 7]
    reasons = dict(report.rejected)
    assert "event_id" in reasons[1] and "missing" in reasons[1]
    assert "time zone" in reasons[2]
    assert "integer" in reasons[3]
    assert "array" in reasons[4]
    assert "object" in reasons[5]
    assert "empty" in reasons[7]
    assert engine.count_events() == 2
    assert value(engine, SUM) == Decimal(3)
    assert report.to_dict()["rejected"][0] == {"index": 1, "reason": reasons[1]}


def test_duplicates_within_a_call_and_across_calls_first_write_wins(engine):  # noqa: F811
    r1 = engine.ingest([ev("a", v=1), ev("b", v=10), ev("a", v=100)])  # the second 'a' is a duplicate
    assert (r1.inserted, r1.duplicates) == (2, 1)
    # re-send with another timestamp and other properties: nothing changes
    r2 = engine.ingest([ev("a", ts=T0 + 5, v=1000), ev("b", ts=T0 - H, v=1000), ev("c", v=5)])
    assert (r2.inserted, r2.duplicates, r2.rejected) == (1, 2, [])
    assert value(engine, SUM) == Decimal(16)  # 1 + 10 + 5
    assert value(engine, COUNT, T0 - H, T0) is None  # 'b' did not move to the earlier hour
    assert engine.count_events() == 3


def test_an_invalid_first_occurrence_does_not_claim_the_id(engine):  # noqa: F811
    # the reference rule: the first *valid* event with an id wins
    r = engine.ingest([ev("a", ts="2024-01-01T00:00:00", v=1), ev("a", v=2)])
    assert (r.inserted, r.duplicates, len(r.rejected)) == (1, 0, 1)
    assert value(engine, SUM) == Decimal(2)


def test_sub_millisecond_input_is_truncated(engine):  # noqa: F811
    engine.ingest([
        ev("a", ts="2024-01-01T00:00:00.0009Z"),  # → T0 (0.9 ms dropped)
        ev("b", ts="2024-01-01T00:00:00.9999999Z"),  # → T0 + 999
        ev("c", ts="2024-01-01T01:00:00.000001+01:00"),  # → T0
    ])
    assert value(engine, COUNT, T0, T0 + 1) == Decimal(2)
    assert value(engine, COUNT, T0 + 999, T0 + 1000) == Decimal(1)


def test_offsets_are_converted_to_utc(engine):  # noqa: F811
    engine.ingest([ev("a", ts="2024-01-01T05:30:00+05:30"), ev("b", ts="2023-12-31T19:00:00-05:00")])
    assert value(engine, COUNT, T0, T0 + 1) == Decimal(2)


def test_many_small_batches_equal_one_batch(engine):  # noqa: F811
    events = [ev(f"e{i}", ts=T0 + i * 1000, v=i % 7) for i in range(250)] + [ev("e3", v=1000)]
    r = engine.ingest(events, batch_size=7)
    assert (r.inserted, r.duplicates) == (250, 1)
    # Σ i%7 for i < 250: 35 full cycles of 0..6 (= 21 each) + 0..4 (= 10) → 735 + 10 = 745
    assert value(engine, SUM) == Decimal(745)


def test_progress_is_reported(engine):  # noqa: F811
    seen = []
    engine.ingest((ev(f"e{i}") for i in range(10)), batch_size=4, progress=seen.append)
    assert seen and seen[-1] == 10 and seen == sorted(seen)


def test_property_kinds_are_stored_exactly(engine):  # noqa: F811
    # big integers and long decimals keep every digit (no float path)
    engine.ingest([ev("a", v=99999999999999999999), ev("b", v="0.1"), ev("c", v=Decimal("9007199254740993"))])
    assert value(engine, SUM) == Decimal("99999999999999999999") + Decimal("0.1") + Decimal("9007199254740993")


def test_long_ids_are_checked_in_bounded_chunks(engine):  # noqa: F811
    # 400 ids of 1,000 characters: the ClickHouse duplicate lookup splits them (≤ 300,000
    # characters a lookup); every one of them is found again on the retry
    events = [ev(f"{i:04d}" + "x" * 996, v=1) for i in range(400)]
    assert engine.ingest(events).inserted == 400
    r = engine.ingest(events)
    assert (r.inserted, r.duplicates) == (0, 400)
    assert value(engine, SUM) == Decimal(400)


def test_duckdb_insert_without_pyarrow():
    # pyarrow is not a core dependency: the list-parameter path must store the same rows
    from engine_fixtures import dispose, new_engine

    e = new_engine("duckdb")
    try:
        e._arrow = False
        events = [ev(f"e{i}", ts=T0 + i, v=i, g="a" if i % 2 else None, b=i % 3 == 0) for i in range(100)] + [ev("z")]
        assert (e.ingest(events).inserted, e.ingest(events).duplicates) == (101, 101)
        m = Metric(code="m", aggregation="sum", value="v", filter="b")
        assert value(e, m) == Decimal(1683)  # Σ multiples of 3 below 100 = 3·(0+…+33)
    finally:
        dispose(e)
