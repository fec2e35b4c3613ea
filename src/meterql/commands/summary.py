"""`meterql summary`: Lark's "Create Pricing Metric Summary" from the command line.

The metric comes from a JSON file (our shape or a Lago billable-metric payload) or from flags;
the period from --start/--end (ISO-8601 with an offset, or epoch ms) and the inclusive flags.
"""

from __future__ import annotations

import argparse
import json
import sys

from ._common import add_db_argument, load_json, offline_engine, table

NAME = "summary"
HELP = "summarise a metric for one subject over a period (optionally by bucket and dimensions)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    m = p.add_argument_group("metric (a JSON file, or flags)")
    m.add_argument("--metric", metavar="FILE.json", help="metric payload: ours or Lago's billable metric")
    m.add_argument("--code", help="metric code (pricing_metric_id in the output)")
    m.add_argument("--aggregation", help="count, sum, min, max, avg, unique_count, latest, weighted_sum (or Lago *_agg)")
    m.add_argument("--event-name", metavar="NAME", help="only events of this name (default: any name)")
    m.add_argument("--value", metavar="EXPR", help="value expression, e.g. \"tokens\" or \"round(tokens * 1.5, 2)\"")
    m.add_argument("--filter", metavar="EXPR", help="filter expression, e.g. \"region = 'eu'\"")
    m.add_argument("--rounding", choices=["round", "ceil", "floor"], help="round each row's value (default: no rounding)")
    m.add_argument("--rounding-precision", type=int, default=0, metavar="DIGITS",
                   help="digits kept by --rounding, -12 to 12 (default 0)")
    m.add_argument("--recurring", action="store_true",
                   help="carry the total from before the period (sum, unique_count, weighted_sum)")
    r = p.add_argument_group("request")
    r.add_argument("--subject", required=True, metavar="ID", help="the subject_id (customer) to summarise")
    r.add_argument("--start", required=True, help="period start: ISO-8601 with an offset or Z, or epoch ms")
    r.add_argument("--end", required=True, help="period end: ISO-8601 with an offset or Z, or epoch ms")
    r.add_argument("--inclusive-start", action=argparse.BooleanOptionalAction, default=True,
                   help="whether the period includes its start (default: yes)")
    r.add_argument("--inclusive-end", action=argparse.BooleanOptionalAction, default=False,
                   help="whether the period includes its end (default: no)")
    r.add_argument("--granularity", choices=["hour", "day", "week", "month"],
                   help="one row per bucket of local time in --timezone (weeks start Monday); "
                   "default: one row for the period")
    r.add_argument("--timezone", default="UTC", metavar="ZONE",
                   help="IANA time zone of the buckets, e.g. Europe/Berlin (default: UTC); "
                   "row periods are still printed in UTC")
    r.add_argument("--dimension", action="append", default=[], metavar="EXPR",
                   help="group by this expression (repeatable)")
    add_db_argument(p)
    p.add_argument("--json", action="store_true", help="print the rows as JSON (the Go SDK seed's shape)")
    p.add_argument("--explain", action="store_true",
                   help="print the SQL instead of running it (opens no store: creates no file)")


def _metric(args: argparse.Namespace):
    from ..errors import InvalidSpec
    from ..metric import Metric

    if args.metric:
        if args.code or args.aggregation:
            raise InvalidSpec("give --metric FILE or --code/--aggregation flags, not both")
        return Metric.from_dict(load_json(args.metric, "metric"))
    if not args.code or not args.aggregation:
        raise InvalidSpec("a metric needs --metric FILE, or --code and --aggregation")
    data = {"code": args.code, "aggregation": args.aggregation, "event_name": args.event_name, "value": args.value,
            "filter": args.filter, "recurring": args.recurring}
    if args.rounding:
        data.update(rounding=args.rounding, rounding_precision=args.rounding_precision)
    return Metric.from_dict(data)


def _time(value: str):
    return int(value) if value.lstrip("-").isdigit() else value


def run(args: argparse.Namespace) -> int:
    import meterql
    from ..metric import Period

    metric = _metric(args)
    period = Period(_time(args.start), _time(args.end), args.inclusive_start, args.inclusive_end)
    if args.explain:
        print(offline_engine(args.db).explain(metric, args.subject, period, args.granularity, args.dimension,
                                                 timezone=args.timezone))
        return 0
    with meterql.connect(args.db) as engine:
        rows = engine.summary(metric, args.subject, period, args.granularity, args.dimension,
                              timezone=args.timezone)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False))
        return 0
    header = ["start", "end", *args.dimension, "value"]
    body = []
    for r in rows:
        p = r.period.to_dict()
        start = ("[" if p["inclusive_start"] else "(") + p["start"]
        end = p["end"] + ("]" if p["inclusive_end"] else ")")
        body.append([start, end, *(v for _, v in r.dimension_coordinates), r.value])
    print(f"{metric.code} ({metric.aggregation.value}) for {args.subject}")
    print(table(body, header, right=1))
    if not rows:
        print("(no usage in the period)", file=sys.stderr)
    return 0
