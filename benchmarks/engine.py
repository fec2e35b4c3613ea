"""Engine benchmark: ingest throughput and one-subject, one-month summary latency.

    .venv/bin/python benchmarks/engine.py --engine duckdb --events 1000000
    .venv/bin/python benchmarks/engine.py --engine chdb --events 1000000

Workload (seeded, `benchmarks/generate.py`): N realistic events over three months, 2,000
Zipf-distributed subjects. Ingest goes through the public `engine.ingest` (validation included)
in batches of 100,000. `--direct` loads the same events through the storage layer only
(`engine._insert` of rows built here, skipping `values.normalize_event`): it measures the
storage path's own throughput and makes 10M-event stores quick to build for latency runs. Summaries: `sum(tokens)` of `llm_call` for October 2025 for the busiest
subject and for a mid-tail subject — one row, and by day × model — median and p95 of 20 runs
after 3 warm-ups. Results: JSON on stdout and in benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
sys.path.insert(0, os.path.dirname(__file__))

import meterql  # noqa: E402
from generate import generate, subject_name  # noqa: E402
from meterql import Metric, Period  # noqa: E402

METRIC = Metric(code="tokens", aggregation="sum", event_name="llm_call", value="tokens")
PERIOD = Period("2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z")


def timed(fn, runs: int = 20, warmup: int = 3) -> dict:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 2), "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2)}


def stored_event(raw: dict):
    """The StoredEvent `values.normalize_event` would build, for this workload's simple shapes."""
    from meterql import numbers
    from meterql.values import StoredEvent

    ps, pn, pb = {}, {}, {}
    for k, v in raw["properties"].items():
        if isinstance(v, bool):
            pb[k], ps[k] = v, "true" if v else "false"
        elif isinstance(v, int):
            pn[k] = ps[k] = str(v)
        else:
            ps[k] = v
            n = numbers.parse_number_text(v)
            if n is not None:
                pn[k] = numbers.canonical(n)
    return StoredEvent(raw["event_id"], raw["subject_id"], raw["event_name"], raw["timestamp"], ps, pn, pb,
                       json.dumps(raw["properties"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["duckdb", "chdb"], default="duckdb")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--url", help="reuse an existing store (skip ingest)")
    ap.add_argument("--direct", action="store_true", help="load through the storage layer, skipping validation")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="meterql-bench-")
    if args.url:
        url = args.url
    elif args.engine == "duckdb":
        url = f"duckdb:///{tmp}/bench.duckdb"
    else:
        url = f"chdb:///{tmp}/chdb?database=bench_{uuid.uuid4().hex[:8]}"
    engine = meterql.connect(url)
    out: dict = {"engine": args.engine, "events": args.events, "url": url}
    if not args.url and args.direct:
        t = time.perf_counter()
        batch: list = []
        for raw in generate(args.events):
            batch.append(stored_event(raw))
            if len(batch) >= args.batch:
                engine._insert(batch)
                batch = []
        if batch:
            engine._insert(batch)
        engine._after_ingest()
        secs = time.perf_counter() - t
        out["direct_load"] = {"seconds": round(secs, 2), "events_per_s": round(args.events / secs)}
    elif not args.url:
        t = time.perf_counter()
        report = engine.ingest(generate(args.events), batch_size=args.batch)
        secs = time.perf_counter() - t
        out["ingest"] = {
            "seconds": round(secs, 2),
            "events_per_s": round(args.events / secs),
            "inserted": report.inserted,
            "duplicates": report.duplicates,
            "rejected": len(report.rejected),
        }
        # The same batch again: every id is a duplicate (the idempotency check's cost).
        t = time.perf_counter()
        again = engine.ingest(generate(min(args.events, 100_000)), batch_size=args.batch)
        out["reingest_100k_duplicates"] = {"seconds": round(time.perf_counter() - t, 2), "duplicates": again.duplicates}
    out["stored"] = engine.count_events()
    for label, subject in (("busiest", subject_name(0)), ("mid_tail", subject_name(100))):
        rows = engine.summary(METRIC, subject, PERIOD)
        out[f"summary_{label}"] = {
            "subject": subject,
            "value": rows[0].value,
            **timed(lambda: engine.summary(METRIC, subject, PERIOD)),
        }
        out[f"summary_{label}_day_by_model"] = {
            "rows": len(engine.summary(METRIC, subject, PERIOD, "day", ["model"])),
            **timed(lambda: engine.summary(METRIC, subject, PERIOD, "day", ["model"])),
        }
    engine.close()
    text = json.dumps(out, indent=2)
    print(text)
    os.makedirs(os.path.join(os.path.dirname(__file__), "out"), exist_ok=True)
    tag = "-direct" if args.direct else ""
    with open(os.path.join(os.path.dirname(__file__), "out", f"engine-{args.engine}-{args.events}{tag}.json"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
