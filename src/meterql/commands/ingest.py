"""`meterql ingest FILE.jsonl`: validate and store events, one JSON object per line.

Numbers are decoded exactly (`Decimal`, never float). A line that is not JSON is rejected with its
line number and the decoder's reason, like any invalid event; the rest of the file lands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from typing import IO, Iterator

from ._common import Progress, add_db_argument

NAME = "ingest"
HELP = "store usage events from a JSON-lines file (idempotent by event_id)"
MAX_REJECTIONS_SHOWN = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.jsonl", help="events, one JSON object per line ('-' for stdin)")
    add_db_argument(p)
    p.add_argument("--batch-size", type=int, default=50_000, help="events per insert (default 50,000)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")


def read_jsonl(stream: IO[str], progress: Progress | None = None) -> Iterator[object]:
    """Event dicts, or an `InvalidEvent` for a line that is not a JSON object (keeps indices)."""
    from ..values import InvalidEvent

    for lineno, line in enumerate(stream, 1):
        if progress is not None:
            progress.bytes += len(line)
        if not line.strip():
            yield InvalidEvent(f"line {lineno} is empty")
            continue
        try:
            yield json.loads(line, parse_float=Decimal)
        except ValueError as exc:
            yield InvalidEvent(f"line {lineno} is not valid JSON ({exc})")


def run(args: argparse.Namespace) -> int:
    import meterql

    progress = Progress(None, args.progress)
    if args.file == "-":
        stream = sys.stdin
    else:
        try:
            stream = open(args.file, encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 1
        progress.total = os.path.getsize(args.file) or None
    with stream, meterql.connect(args.db) as engine:
        report = engine.ingest(read_jsonl(stream, progress), batch_size=args.batch_size, progress=progress)
        progress.done()
        stored = engine.count_events()
    if args.json:
        print(json.dumps({**report.to_dict(), "seconds": round(report.seconds, 3), "stored": stored}, indent=2))
    else:
        rate = report.total / report.seconds if report.seconds > 0 else 0
        print(f"inserted {report.inserted:,}, duplicates {report.duplicates:,}, rejected {len(report.rejected):,} "
              f"in {report.seconds:.2f} s ({rate:,.0f} events/s); {stored:,} events stored")
        for index, reason in report.rejected[:MAX_REJECTIONS_SHOWN]:
            print(f"  line {index + 1}: {reason}")
        if len(report.rejected) > MAX_REJECTIONS_SHOWN:
            print(f"  … and {len(report.rejected) - MAX_REJECTIONS_SHOWN:,} more (use --json for all)")
    return 0 if not report.rejected else 3
