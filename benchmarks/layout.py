"""Storage-layout experiment (DuckDB): the one-subject hot path on the table as ingested vs the
same rows rewritten in (subject_id, ts) order.

    .venv/bin/python -m benchmarks.layout [--events 1000000]

Why: DuckDB prunes row groups (122,880 rows) by min/max zone maps. `engine.ingest` sorts each
batch by (subject_id, ts), but every batch holds every subject, so every row group spans
almost all subjects and a one-subject query still reads the whole `subject_id` column: the cost
grows with the table, not with the subject. Rewriting the table in (subject_id, ts) order (what
a periodic compaction would do) makes a subject's rows contiguous. This script measures both
layouts side by side on the same rows, with the same meterql call and the same hand-written SQL,
and writes the medians to benchmarks/out/layout-duckdb-N.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()

    import meterql
    from meterql.engines.duckdb import DDL

    from .generate import generate
    from .harness import interleaved
    from .workloads import BUSIEST, TAIL, _hot_path

    tmp = tempfile.mkdtemp(prefix="meterql-layout-")
    engine = meterql.connect(f"duckdb:///{tmp}/layout.duckdb")
    engine.ingest(generate(args.events), batch_size=100_000)
    con = engine._con
    out: dict = {"events": args.events}
    for layout in ("as_ingested", "sorted_subject_ts"):
        if layout == "sorted_subject_ts":
            # Same DDL (primary key included), rows rewritten in (subject_id, ts) order.
            con.execute(DDL.replace("events", "events_sorted"))
            con.execute("INSERT INTO events_sorted SELECT * FROM events ORDER BY subject_id, ts")
            con.execute("DROP TABLE events")
            con.execute("ALTER TABLE events_sorted RENAME TO events")
            con.execute("CHECKPOINT")
        rec: dict = {}
        for subject in (BUSIEST, TAIL):
            w = _hot_path("hot", subject)
            assert w.meterql(engine) == w.hand(engine)
            t = interleaved({"meterql": lambda: w.meterql(engine), "hand": lambda: w.hand(engine)}, args.runs)
            rec[subject] = {
                "meterql_ms": t["meterql"]["median_ms"],
                "hand_ms": t["hand"]["median_ms"]
            }
        out[layout] = rec
        print(layout, json.dumps(rec), flush=True)
    engine.close()
    os.makedirs(os.path.join(os.path.dirname(__file__), "out"), exist_ok=True)
    with open(os.path.join(os.path.dirname(__file__), "out", f"layout-duckdb-{args.events}.json"), "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
