"""`meterql ingest FILE.jsonl`: validate and store events, one JSON object per line.

The file is read as bytes and each line decoded on its own, so one bad line is one rejection and
the rest of the file lands: a line that is not UTF-8, not JSON, nested too deeply, or that gives a
key twice (top level or in `properties`: which value would win?) is rejected with its line number
and reason, like any invalid event. Numbers are decoded exactly (`Decimal`, never float).

`engine.ingest_file` does the work: lines are read as a stream and validated in batches of
`--batch-size` (in Arrow, `columnar.normalize_batch`), so memory does not grow with the file. A
`.parquet` file is read by pyarrow in batches (rejections then name 1-based row numbers).

Output: a report (`--json`: `inserted`, `duplicates`, `rejected` as `[{"line", "reason"}]` with
1-based line numbers, `seconds`, `stored`). Exit status 0, or 3 when any line was rejected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO, Any

from ._common import Progress, add_db_argument, positive_int

NAME = "ingest"
HELP = "store usage events from a JSON-lines file (idempotent by event_id)"
MAX_REJECTIONS_SHOWN = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.jsonl", help="events, one JSON object per line ('-' for stdin)")
    add_db_argument(p)
    p.add_argument("--batch-size", type=positive_int, default=50_000, metavar="N",
                   help="events per insert, at least 1 (default 50,000)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (rejections with 1-based line numbers)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")


# The line reader lives in the library (`Engine.ingest_file` uses it too); re-exported here.
from ..ndjson import decode_line, read_jsonl  # noqa: E402,F401


def run(args: argparse.Namespace) -> int:
    import meterql
    from ..errors import InvalidSpec

    progress = Progress(None, args.progress)
    if args.file.lower().endswith((".parquet", ".parq")):  # read by pyarrow, in batches
        with meterql.connect(args.db) as engine:
            try:
                report = engine.ingest_file(args.file, format="parquet", batch_size=args.batch_size, progress=progress)
            finally:
                progress.done()
            stored = engine.count_events()
        return _report(args, report, stored)
    if args.file == "-":
        stream: IO[bytes] = sys.stdin.buffer
    else:
        try:
            stream = open(args.file, "rb")
        except OSError as exc:
            raise InvalidSpec(f"cannot read {args.file}: {exc.strerror or exc}") from None
        try:
            progress.total = os.fstat(stream.fileno()).st_size or None
        except OSError:
            pass
    with stream, meterql.connect(args.db) as engine:
        try:
            report = engine.ingest_file(stream, format="ndjson", batch_size=args.batch_size, progress=progress)
        finally:
            progress.done()
        stored = engine.count_events()
    return _report(args, report, stored)


def _report(args: argparse.Namespace, report: Any, stored: int) -> int:
    rejected = [(index + 1, reason) for index, reason in report.rejected]  # item i is line i + 1
    if args.json:
        out = {"inserted": report.inserted, "duplicates": report.duplicates,
               "rejected": [{"line": line, "reason": reason} for line, reason in rejected],
               "seconds": round(report.seconds, 3), "stored": stored}
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        rate = report.total / report.seconds if report.seconds > 0 else 0
        print(f"inserted {report.inserted:,}, duplicates {report.duplicates:,}, rejected {len(rejected):,} "
              f"in {report.seconds:.2f} s ({rate:,.0f} events/s); {stored:,} events stored")
        for line, reason in rejected[:MAX_REJECTIONS_SHOWN]:
            print(f"  line {line}: {reason}")
        if len(rejected) > MAX_REJECTIONS_SHOWN:
            print(f"  … and {len(rejected) - MAX_REJECTIONS_SHOWN:,} more (use --json for all)")
    return 0 if not rejected else 3
