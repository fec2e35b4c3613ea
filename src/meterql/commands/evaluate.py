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
import sys
from decimal import Decimal
from typing import Any

NAME = "evaluate"
HELP = "evaluate a price per group over a timeframe (Orb 'evaluate price')"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--price", required=True, metavar="FILE", help="price JSON (or a list of prices); '-' reads stdin")
    parser.add_argument("--subject", required=True, help="the customer (subject_id)")
    parser.add_argument("--start", required=True, help="timeframe start, inclusive (ISO-8601 with offset, or epoch ms)")
    parser.add_argument("--end", required=True, help="timeframe end, exclusive")
    parser.add_argument("--filter", default=None, help="a filter expression, e.g. \"model = 'gpt'\"")
    parser.add_argument("--group-by", action="append", default=[], metavar="KEY", dest="group_by",
                        help="a grouping key expression (repeatable, in order)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--db", default=None, help="event store URL (default $METERQL_URL, else duckdb:///meterql.duckdb)")
    source.add_argument("--events", default=None, metavar="FILE",
                        help="evaluate on the events in this JSON list instead of a store (preview)")
    parser.add_argument("--max-rows", type=int, default=None, help="row limit (default 1000)")
    parser.add_argument("--max-lookback-days", type=int, default=None, help="lookback limit in days (default 100)")
    parser.add_argument("--json", action="store_true", help="print Orb's JSON response shape")


def _load_json(path: str, what: str) -> Any:
    from ..errors import InvalidSpec

    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        # Decimal, not float: a JSON amount like 0.1 stays exactly 0.1.
        return json.loads(text, parse_float=Decimal)
    except OSError as exc:
        raise InvalidSpec(f"cannot read the {what} file {path!r}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidSpec(f"the {what} file {path!r} is not valid JSON: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import InvalidSpec
    from ..price import DEFAULT_LIMITS, Price, evaluate_preview, evaluate_prices, price_response, prices_response

    payload = _load_json(args.price, "price")
    batch = isinstance(payload, list)
    prices = [Price.from_dict(p) for p in (payload if batch else [payload])]
    limits = DEFAULT_LIMITS
    if args.max_rows is not None:
        limits = replace(limits, max_rows=args.max_rows)
    if args.max_lookback_days is not None:
        limits = replace(limits, max_lookback_days=args.max_lookback_days)
    keys = tuple(args.group_by)

    if args.events is not None:
        events = _load_json(args.events, "events")
        if not isinstance(events, list):
            raise InvalidSpec("the events file must hold a JSON list of events")
        results = [
            evaluate_preview(p, events, args.start, args.end, args.filter, keys, subject_id=args.subject, limits=limits)
            for p in prices
        ]
    else:
        from ..engines import connect

        engine = connect(args.db)  # None: $METERQL_URL or the embedded default
        try:
            results = evaluate_prices(engine, prices, args.subject, args.start, args.end, args.filter, keys, limits=limits)
        finally:
            close = getattr(engine, "close", None)
            if close is not None:
                close()

    if args.json:
        out = prices_response(prices, results) if batch else price_response(results[0])
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for i, (price, rows) in enumerate(zip(prices, results)):
        if batch:
            label = price.id or price.name or f"price {i}"
            print(("\n" if i else "") + f"# {label} ({price.model.kind})")
        _print_table(keys, rows)
    return 0


def _print_table(keys: tuple[str, ...], rows: list) -> None:
    header = [*keys, "quantity", "amount"]
    body = [[("NULL" if v is None else v) for v in r.grouping_values] + [r.to_dict()["quantity"], r.to_dict()["amount"]]
            for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(header)]
    n = len(keys)

    def fmt(cells: list[str]) -> str:
        # Grouping values left-aligned, numbers right-aligned (they line up on the digits).
        return "  ".join(c.ljust(w) if i < n else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    print(fmt(header))
    for line in body:
        print(fmt(line))
