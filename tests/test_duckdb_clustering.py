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
