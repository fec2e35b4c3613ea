"""Helpers shared by the engine commands (`ingest`, `summary`, `demo`)."""

from __future__ import annotations

import argparse
import sys


def add_db_argument(parser: argparse.ArgumentParser, default_help: str | None = None) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help=default_help
        or "event store URL (default: $METERQL_URL, else duckdb:///meterql.duckdb); e.g. duckdb://, "
        "duckdb:///usage.duckdb, chdb:///data?database=x, clickhouse://user:pw@host:8123/db",
    )


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain text table (no third-party dependency)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    return "\n".join(out)


class Progress:
    """A one-line progress report on stderr (only when stderr is a terminal, or when forced)."""

    def __init__(self, total_bytes: int | None = None, enabled: bool | None = None) -> None:
        import time

        self.total = total_bytes
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.t0 = time.perf_counter()
        self.bytes = 0

    def __call__(self, events: int) -> None:
        if not self.enabled:
            return
        import time

        secs = max(time.perf_counter() - self.t0, 1e-9)
        rate = f"{events / secs:,.0f} events/s"
        if self.total:
            frac = min(self.bytes / self.total, 1.0)
            bar = "#" * int(frac * 30)
            sys.stderr.write(f"\r[{bar:<30}] {frac:6.1%}  {events:,} events  {rate}   ")
        else:
            sys.stderr.write(f"\r{events:,} events  {rate}   ")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
