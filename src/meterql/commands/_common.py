"""Helpers shared by the commands: the `--db` option, JSON files, the one table renderer,
progress on stderr, and an engine that explains without opening a store."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from typing import Any, Iterable, Iterator, Sequence

NULL = "null"  # the one spelling of a missing value in every table the CLI prints (JSON's)


def add_db_argument(parser: argparse.ArgumentParser | Any, default_help: str | None = None) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help=default_help
        or "event store URL (default: $METERQL_URL, else duckdb:///meterql.duckdb); e.g. duckdb://, "
        "duckdb:///usage.duckdb, chdb:///data?database=x, clickhouse://user:pw@host:8123/db",
    )


def _int_at_least(least: int, wording: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text} is not an integer") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be {wording}, not {value}")
        return value

    return parse


# argparse types: `--batch-size 0` would never make progress; a lookback of 0 days is allowed.
positive_int = _int_at_least(1, "a positive integer")
non_negative_int = _int_at_least(0, "zero or more")


# --- JSON files ---------------------------------------------------------------------------------


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook`: a key given twice is ambiguous (which one wins?), so it is an error,
    as for properties given to the API as JSON text."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise DuplicateKey(k)
            seen.add(k)
    return out


def quoted(text: str, limit: int = 64) -> str:
    """A user's text in a message: JSON-quoted (never a Python repr), cut to `limit` characters."""
    import json

    return json.dumps(text[:limit] + ("…" if len(text) > limit else ""), ensure_ascii=False)


def load_json(path: str, what: str) -> Any:
    """A JSON file (or stdin for '-'): numbers as exact decimals, duplicate keys refused. Errors
    are `InvalidSpec` with one clean line naming the file."""
    import json

    from ..errors import InvalidSpec

    where = "stdin" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise InvalidSpec(f"cannot read the {what} file {where}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidSpec(f"the {what} file {where} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start})") from None
    try:
        return json.loads(text, parse_float=Decimal, object_pairs_hook=no_duplicate_keys)
    except DuplicateKey as exc:
        raise InvalidSpec(f"the {what} file {where} has the key {quoted(exc.key)} twice in one object") from None
    except json.JSONDecodeError as exc:
        raise InvalidSpec(f"the {what} file {where} is not valid JSON: {exc.msg} at line {exc.lineno} "
                          f"column {exc.colno}") from None
    except RecursionError:
        raise InvalidSpec(f"the {what} file {where} is nested too deeply") from None


# --- the one table renderer ---------------------------------------------------------------------


def cell(value: Any) -> str:
    return NULL if value is None else str(value)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str], right: int = 0) -> str:
    """A plain text table: None is `null`; the last `right` columns (numbers) are right-aligned
    so that they line up on their digits."""
    body = [[cell(v) for v in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]
    first_right = len(header) - right

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i >= first_right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([fmt(list(header)), fmt(["-" * w for w in widths]), *(fmt(r) for r in body)])


# --- progress -----------------------------------------------------------------------------------


class Progress:
    """Progress of an ingest on stderr (tqdm): on by default when stderr is a terminal.

    The reader calls `read(nbytes)` for every item it yields, so the bar moves with the input
    (by bytes when the total size is known, else by events), redrawn at most ~10 times a second
    whatever the batch size; `ingest`'s per-batch callback (`__call__`) only corrects the count.
    A timer redraws it twice a second while nothing is read (the last batch being written), and
    `reading_done()` makes it say so."""

    FLUSH_EVERY = 64  # items between updates of the bar (cheap: tqdm redraws on its own clock)
    TICK = 0.5  # seconds between redraws while the input is not moving

    def __init__(self, total_bytes: int | None = None, enabled: bool | None = None,
                 total_events: int | None = None) -> None:
        self.total = total_bytes
        self.total_events = total_events
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.events = 0
        self._pending = 0
        self._bar: Any = None
        self._stop: Any = None
        self._storing = False

    def _open(self) -> Any:
        from tqdm import tqdm

        by_bytes = bool(self.total)
        outer = self

        class Bar(tqdm):  # type: ignore[misc, valid-type]
            @property
            def format_dict(self) -> dict[str, Any]:
                d = super().format_dict
                if by_bytes:  # the bar counts bytes; say how many events that was
                    secs = d.get("elapsed") or 0
                    rate = f", {outer.events / secs:,.0f} events/s" if secs > 0 else ""
                    d["postfix"] = f"{outer.events:,} events{rate}"
                if outer._storing:
                    d["postfix"] = (d.get("postfix") or "") + (", " if d.get("postfix") else "") + "storing"
                return d

        import threading

        self._stop = threading.Event()

        def tick() -> None:
            while not self._stop.wait(self.TICK):
                bar = self._bar
                if bar is not None:
                    bar.refresh()

        threading.Thread(target=tick, name="meterql-progress", daemon=True).start()
        if by_bytes:
            return Bar(total=self.total, unit="B", unit_scale=True, unit_divisor=1024, mininterval=0.1,
                       file=sys.stderr, leave=True, dynamic_ncols=True)
        return Bar(total=self.total_events, unit=" events", unit_scale=True, mininterval=0.1, file=sys.stderr, leave=True, dynamic_ncols=True)

    def read(self, nbytes: int = 0) -> None:
        """One item was read (`nbytes` of input)."""
        self.events += 1
        if not self.enabled:
            return
        self._pending += nbytes if self.total else 1
        if self.events % self.FLUSH_EVERY == 0:
            self._flush()

    def _flush(self) -> None:
        if self._bar is None:
            self._bar = self._open()
        if self._pending:
            self._bar.update(self._pending)
            self._pending = 0

    def reading_done(self) -> None:
        """The input is read; what is left is storing it."""
        self._storing = True
        if self.enabled:
            self._flush()
            self._bar.refresh()

    def wrap(self, items: Iterable[Any]) -> Iterator[Any]:
        """`items`, counting each one as read."""
        for item in items:
            self.read()
            yield item
        self.reading_done()

    def __call__(self, events: int) -> None:
        """`ingest`'s callback after each batch: the number of items read so far."""
        if events > self.events:
            self._pending += (events - self.events) if not self.total else 0
            self.events = events
        if self.enabled:
            self._flush()

    def done(self) -> None:
        if self.enabled:
            self._storing = False
            self._flush()
            if self._stop is not None:
                self._stop.set()
            bar, self._bar = self._bar, None
            bar.close()


# --- explain without a store --------------------------------------------------------------------


def offline_engine(url: str | None) -> Any:
    """An engine that can plan and explain for the store at `url` without opening it: nothing is
    created (no DuckDB file, no chdb directory) and no server is contacted."""
    from urllib.parse import parse_qs, unquote, urlsplit

    from sqlglot import exp

    from ..engines import default_url
    from ..engines.base import Engine
    from ..errors import EngineError, InvalidSpec

    url = url or default_url()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "duckdb":
        dialect, database = "duckdb", None
    elif scheme == "chdb":
        dialect, database = "clickhouse", parse_qs(parts.query).get("database", ["meterql"])[-1]
    elif scheme in ("clickhouse", "clickhouses"):
        dialect, database = "clickhouse", unquote(parts.path.lstrip("/")) or "default"
    else:
        raise InvalidSpec(f"unsupported URL scheme {quoted(parts.scheme)}: use duckdb://, chdb:// or clickhouse://")

    class Offline(Engine):
        def _table(self) -> exp.Table:
            db = exp.to_identifier(database, quoted=True) if database else None
            return exp.Table(this=exp.to_identifier("events", quoted=True), db=db)

        def _query(self, sql: str, params: Any) -> list[tuple]:
            raise EngineError("this engine only explains; it has no store")

        def _insert(self, events: list[Any]) -> int:
            raise EngineError("this engine only explains; it has no store")

        def count_events(self) -> int:
            raise EngineError("this engine only explains; it has no store")

        def _mark_wide_numbers(self) -> None:
            raise EngineError("this engine only explains; it has no store")

        def _store_marked_wide(self) -> bool:
            return False  # explains the plan of a store without numbers >= 10^26

        def close(self) -> None:
            pass

    engine = Offline()
    engine.dialect = dialect  # type: ignore[attr-defined]
    return engine
