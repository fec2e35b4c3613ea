"""`meterql demo`: a local DuckDB file with realistic synthetic usage, and a few summaries.

The README's first command (`./dev demo`) runs this. Running it again re-sends the same event
ids: nothing new is stored (idempotency), and the summaries are the same.
"""

from __future__ import annotations

import argparse
import json
import time

from ._common import Progress, add_db_argument, positive_int, table

NAME = "demo"
HELP = "create a local DuckDB file with synthetic usage and print a few summaries"
DEFAULT_DB = "duckdb:///meterql-demo.duckdb"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_db_argument(p, f"event store URL (default: {DEFAULT_DB})")
    p.add_argument("--events", type=positive_int, default=60_000, metavar="N",
                   help="synthetic events to generate (default 60,000)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")


def _show(title: str, rows, dims=()) -> None:
    print(f"\n== {title}")
    body = []
    for r in rows:
        p = r.period.to_dict()
        body.append([p["start"], p["end"], *(v for _, v in r.dimension_coordinates), r.value])
    print(table(body, ["start", "end", *dims, "value"], right=1))


def run(args: argparse.Namespace) -> int:
    import meterql
    from .. import demo
    from ..metric import Metric, Period

    url = args.db or DEFAULT_DB
    print(f"meterql demo: event store {url}")
    with meterql.connect(url) as engine:
        t = time.perf_counter()
        progress = Progress(None, args.progress, total_events=args.events)
        try:
            report = engine.ingest(progress.wrap(demo.generate(args.events)), progress=progress)
        finally:
            progress.done()
        secs = time.perf_counter() - t
        print(f"ingested {args.events:,} synthetic events in {secs:.1f} s: {report.inserted:,} new, "
              f"{report.duplicates:,} already stored (same ids: idempotent), {len(report.rejected)} rejected; "
              f"{engine.count_events():,} events in the store")

        subject = demo.SEED_SUBJECT
        october = Period("2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", inclusive_start=True, inclusive_end=False)

        # 1. Lark's "Create Pricing Metric Summary" request, as one call, in the seed's JSON shape.
        tokens = Metric.from_dict({"code": "pmtr_GlX5Tcm2HOn00CoRTFxw2Amw", "aggregation": "sum",
                                   "event_name": "llm_call", "value": "tokens"})
        rows = engine.summary(tokens, subject_id=subject, period=october, granularity=None, dimensions=["model"])
        print("\n== Lark seed request: sum of tokens in October 2025 by model (JSON, as the Go SDK returns it)")
        print(json.dumps([r.to_dict() for r in rows[:2]], indent=2))
        if len(rows) > 2:
            print(f"… {len(rows) - 2} more rows")

        # 2. Cost in dollars, exact decimals, per week (weeks start Monday 00:00 UTC).
        cost = Metric(code="llm_cost_usd", aggregation="sum", event_name="llm_call", value="cost_usd",
                      filter="region IN ('eu', 'us')")
        _show("LLM cost (USD, exact) in the EU and US, by ISO week", engine.summary(cost, subject, october, "week"))

        # 3. Lago billable metric: distinct users per month.
        users = Metric.from_dict({"code": "api_request", "aggregation_type": "unique_count_agg",
                                  "field_name": "user_id"})
        _show("Lago unique_count_agg: distinct API users in October", engine.summary(users, subject, october))

        # 4. Lago weighted_sum with recurring: average GB stored, carried from September.
        storage = Metric.from_dict({"code": "storage", "aggregation_type": "weighted_sum_agg", "field_name": "gb",
                                    "recurring": True, "weighted_interval": "seconds",
                                    "rounding_function": "round", "rounding_precision": 2})
        first_week = Period("2025-10-01T00:00:00Z", "2025-10-08T00:00:00Z")
        _show("Lago weighted_sum_agg (recurring): time-weighted GB stored, first week of October, by day",
              engine.summary(storage, subject, first_week, "day"))

        # 5. Errors by endpoint, a filter on a numeric property.
        errors = Metric(code="errors", aggregation="count", event_name="api_request", filter="status >= 500")
        _show("server errors by endpoint in October", engine.summary(errors, subject, october, None, ["endpoint"]),
              ["endpoint"])

        print("\n== The SQL of the first summary (engine.explain)")
        print(engine.explain(tokens, subject, october, None, ["model"]))
    print("\nTry: meterql summary --db", url, "--subject", subject, "--code tokens --aggregation sum "
          "--event-name llm_call --value tokens --start 2025-10-01T00:00:00Z --end 2025-11-01T00:00:00Z "
          "--granularity day --dimension region")
    return 0
