"""DuckDB's storage order (engines/duckdb.py `CLUSTER_BY`): UTC calendar month first, then subject
and time, so that an invoice run over one month of a store holding many months reads only that
month's row groups (zone maps on `ts`), while a one-subject summary still reads few of them.

The order is checked directly (rowid order after ingest and after `compact`); the row-group
effect at scale is measured in benchmarks/README.md ("Clustering for long retention").
ClickHouse keeps ORDER BY (subject_id, ts, event_id) (see DESIGN.md: monthly partitions would be a
DDL change for new tables only, not made here).
"""

from __future__ import annotations

from datetime import datetime, timezone

import meterql

MONTHS = [datetime(2025, m, 1, tzinfo=timezone.utc) for m in (9, 10, 11)]


def month_of(ms: int) -> tuple[int, int]:
    d = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return d.year, d.month


def _events():
    # subjects interleaved with months; month order deliberately not the arrival order
    out = []
    for i in range(600):
        start = MONTHS[(i * 7) % 3]
        ms = int(start.timestamp() * 1000) + (i % 50) * 3_600_000 + (i * 13) % 1000
        out.append({"event_id": f"e{i}", "subject_id": f"s{(i * 31) % 17}", "event_name": "call",
                    "timestamp": ms, "properties": {"n": i}})
    return out


def test_rows_are_stored_by_month_then_subject_then_time():
    engine = meterql.connect("duckdb://")
    try:
        engine.ingest(_events(), batch_size=250)  # three batches, each sorted on insert
        engine.compact()  # the whole table rewritten in storage order
        rows = engine._con.execute("SELECT ts, subject_id FROM events ORDER BY rowid").fetchall()
        keys = [(month_of(ts), subject, ts) for ts, subject in rows]
        assert len(keys) == 600 and keys == sorted(keys)
        assert len({k[0] for k in keys}) == 3
        # the answer does not depend on the order: one month, all subjects, against a plain sum
        m = meterql.Metric(code="n", aggregation="sum", value="n")
        period = {"start": int(MONTHS[1].timestamp() * 1000), "end": int(MONTHS[2].timestamp() * 1000)}
        got = {s: rows[0].value for s, rows in engine.summaries(m, period).items() if rows}
        want: dict[str, int] = {}
        for e in _events():
            if month_of(e["timestamp"]) == (2025, 10):
                want[e["subject_id"]] = want.get(e["subject_id"], 0) + e["properties"]["n"]
        assert {s: int(v) for s, v in got.items() if v is not None} == want
    finally:
        engine.close()


def test_the_doubling_rule_recounts_only_when_it_can_be_met(monkeypatch):
    """Re-clustering when appended rows ≥ max(COMPACT_MIN_ROWS, clustered) — the same moments as
    counting after every call — while the table is counted only once enough rows landed since
    the last count (a one-event call does not count the table)."""
    from meterql.engines import duckdb as duck

    monkeypatch.setattr(duck, "COMPACT_MIN_ROWS", 10)
    engine = meterql.connect("duckdb://")
    counts = []
    real = engine._clustered_rows
    monkeypatch.setattr(engine, "_clustered_rows", lambda: counts.append(1) or real())

    def one(i, eid=None):
        engine.ingest([{"event_id": eid or f"x{i}", "subject_id": "s", "event_name": "n", "timestamp": i,
                        "properties": {}}])

    try:
        one(0)  # first call: counted (1 appended < max(10, 0)): next count after 9 more rows
        assert (len(counts), real()) == (1, 0)
        for i in range(1, 9):
            one(i)
        assert (len(counts), real()) == (1, 0)  # 9 rows: the rule cannot be met, nothing counted
        one(9)  # 10 appended ≥ max(10, 0): counted and re-clustered
        assert (len(counts), real()) == (2, 10)
        for i in range(10, 19):
            one(i)
        one(3)  # a duplicate lands nothing
        assert (len(counts), real()) == (2, 10)
        one(19)  # 20 - 10 ≥ max(10, 10)
        assert (len(counts), real()) == (3, 20)
        engine.ingest([{"event_id": f"y{i}", "subject_id": "s", "event_name": "n", "timestamp": i, "properties": {}}
                       for i in range(25)])  # 45 - 20 ≥ max(10, 20) in one call
        assert (len(counts), real()) == (4, 45)
        assert engine.count_events() == 45
    finally:
        engine.close()
