"""`meterql evaluate`: evaluate a price (Orb "Evaluate price") on stored or supplied events.

    meterql evaluate --price price.json --subject cust_1 --start 2026-05-01T00:00:00Z \\
        --end 2026-06-01T00:00:00Z [--filter "region = 'eu'"] [--group-by region]... \\
        [--db URL | --events events.json] [--json]

The price file holds one price payload (our shape or Orb's) or a list of them (evaluated in one
call, sharing scans). JSON numbers are read as exact decimals, never floats. `--events` evaluates
on the events in that file (a JSON list; no store) instead of `--db`.
"""

from __future__ import annotations

import argparse
import json

from ._common import add_db_argument, load_json, non_negative_int, positive_int, table

NAME = "evaluate"
HELP = "evaluate a price per group over a timeframe (Orb 'evaluate price')"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--price", required=True, metavar="FILE", help="price JSON (or a list of prices); '-' reads stdin")
    parser.add_argument("--subject", required=True, metavar="ID", help="the customer (subject_id)")
    parser.add_argument("--start", required=True, help="timeframe start, inclusive (ISO-8601 with offset, or epoch ms)")
    parser.add_argument("--end", required=True, help="timeframe end, exclusive (ISO-8601 with offset, or epoch ms)")
    parser.add_argument("--filter", default=None, metavar="EXPR", help="a filter expression, e.g. \"model = 'gpt'\"")
    parser.add_argument("--group-by", action="append", default=[], metavar="KEY", dest="group_by",
                        help="a grouping key expression (repeatable, in order)")
    source = parser.add_mutually_exclusive_group()
    add_db_argument(source)
    source.add_argument("--events", default=None, metavar="FILE",
                        help="evaluate on the events in this file instead of a store (a preview): a JSON list, "
                        "or one event per line when the name ends in .jsonl")
    parser.add_argument("--max-rows", type=positive_int, default=None, metavar="N",
                        help="fail when a price has more rows than this (default 1000)")
    parser.add_argument("--max-lookback-days", type=non_negative_int, default=None, metavar="DAYS",
                        help="fail when the timeframe starts more than this many days before now (default 100)")
    parser.add_argument("--now", default=None, metavar="TIME",
                        help="the clock the lookback limit is measured from (default: the current time)")
    parser.add_argument("--json", action="store_true", help="print Orb's JSON response shape")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import InvalidSpec
    from ..price import DEFAULT_LIMITS, Price, evaluate_preview, evaluate_prices, price_response, prices_response

    payload = load_json(args.price, "price")
    batch = isinstance(payload, list)
    prices = [Price.from_dict(p) for p in (payload if batch else [payload])]
    limits = DEFAULT_LIMITS
    if args.max_rows is not None:
        limits = replace(limits, max_rows=args.max_rows)
    if args.max_lookback_days is not None:
        limits = replace(limits, max_lookback_days=args.max_lookback_days)
    keys = tuple(args.group_by)
    start, end = _time(args.start), _time(args.end)

    if args.events is not None:
        events = _load_events(args.events)
        results = [
            evaluate_preview(p, events, start, end, args.filter, keys, subject_id=args.subject, limits=limits)
            for p in prices
        ]
    else:
        from ..engines import connect

        with connect(args.db) as engine:  # None: $METERQL_URL or the embedded default
            now = None if args.now is None else _time(args.now)
            results = evaluate_prices(engine, prices, args.subject, start, end, args.filter, keys, limits=limits,
                                      now=now)

    if args.json:
        out = prices_response(prices, results) if batch else price_response(results[0])
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for i, (price, rows) in enumerate(zip(prices, results)):
        if batch:
            label = price.id or price.name or f"price {i + 1}"
            print(("\n" if i else "") + f"# {label} ({price.model.kind})")
        body = [[*r.grouping_values, r.to_dict()["quantity"], r.to_dict()["amount"]] for r in rows]
        print(table(body, [*keys, "quantity", "amount"], right=2))
    return 0


def _time(value: str):
    return int(value) if value.lstrip("-").isdigit() else value


def _load_events(path: str) -> list:
    from ..errors import InvalidSpec

    if not path.endswith((".jsonl", ".ndjson")):
        events = load_json(path, "events")
        if not isinstance(events, list):
            raise InvalidSpec(f"the events file {path} must hold a JSON list of events")
        return events
    from ..values import InvalidEvent
    from .ingest import read_jsonl

    try:
        with open(path, "rb") as f:
            events = list(read_jsonl(f))
    except OSError as exc:
        raise InvalidSpec(f"cannot read the events file {path}: {exc.strerror or exc}") from None
    for line, event in enumerate(events, 1):
        if isinstance(event, InvalidEvent):
            raise InvalidSpec(f"{path} line {line}: {event.reason}")
    return events
