"""`meterql ingest FILE.jsonl`: validate and store events, one JSON object per line.

The file is read as bytes and each line decoded on its own, so one bad line is one rejection and
the rest of the file lands: a line that is not UTF-8, not JSON, nested too deeply, or that gives a
key twice (top level or in `properties`: which value would win?) is rejected with its line number
and reason, like any invalid event. Numbers are decoded exactly (`Decimal`, never float).

Output: a report (`--json`: `inserted`, `duplicates`, `rejected` as `[{"line", "reason"}]` with
1-based line numbers, `seconds`, `stored`). Exit status 0, or 3 when any line was rejected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from typing import IO, Any, Iterator

from ._common import Progress, add_db_argument, positive_int, quoted

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


_dups: list[tuple[int, str]] = []  # (id of the object, key) of each duplicate key in the line being decoded


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                _dups.append((id(out), k))
                break
            seen.add(k)
    return out


def decode_line(raw: bytes) -> Any:
    """One JSONL line → the decoded object, or an `InvalidEvent` saying why it cannot be one
    (the reason names no line: the caller knows where it is)."""
    from ..values import InvalidEvent

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InvalidEvent(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
    if not text.strip():
        return InvalidEvent("empty line")
    _dups.clear()
    try:
        value = json.loads(text, parse_float=Decimal, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        return InvalidEvent(f"not valid JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:  # the decoder's own depth guard (~1,000 levels; an event needs 2)
        return InvalidEvent("nested too deeply to be an event")
    if _dups:
        where, key = _dups[0]
        props = value.get("properties") if isinstance(value, dict) else None
        if where == id(value):
            return InvalidEvent(f"the event has the key {quoted(key)} twice")
        if where == id(props):
            return InvalidEvent(f"properties has the key {quoted(key)} twice")
        return InvalidEvent(f"the key {quoted(key)} appears twice in a nested object")
    return value


def read_jsonl(stream: IO[bytes], progress: Progress | None = None) -> Iterator[Any]:
    """One item per line of a binary stream: an event dict, or an `InvalidEvent` for a line that
    cannot be one (so item i is line i + 1). A UTF-8 byte order mark at the start is skipped."""
    for lineno, raw in enumerate(stream, 1):
        if progress is not None:
            progress.read(len(raw))
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        yield decode_line(raw)
    if progress is not None:
        progress.reading_done()


def run(args: argparse.Namespace) -> int:
    import meterql
    from ..errors import InvalidSpec

    progress = Progress(None, args.progress)
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
            report = engine.ingest(read_jsonl(stream, progress), batch_size=args.batch_size, progress=progress)
        finally:
            progress.done()
        stored = engine.count_events()
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
