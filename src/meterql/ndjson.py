"""Events from JSON lines (NDJSON): one event object per line, read as a stream.

Consumes: a binary stream (or a path) of UTF-8 lines.
Produces: one item per line — the decoded event, or an `InvalidEvent` saying why the line cannot
be one — for `Engine.ingest` / `Engine.ingest_file` (item i is line i + 1).
Guarantees: a line that is not UTF-8, not JSON, nested too deeply, or that gives a key twice (top
level or in `properties`: which value would win?) is one rejection with its reason, and the rest of
the stream lands. Numbers are decoded exactly (`Decimal`, never float). Lines are read one at a
time: memory does not grow with the file.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import IO, Any, Iterator, Protocol

from .values import InvalidEvent


class ReadProgress(Protocol):  # commands._common.Progress
    def read(self, n: int) -> None: ...

    def reading_done(self) -> None: ...


def _quoted(text: str, limit: int = 64) -> str:
    """A user's text in a message: JSON-quoted, cut to `limit` characters (commands._common.quoted)."""
    return json.dumps(text[:limit] + ("…" if len(text) > limit else ""), ensure_ascii=False)


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


# One decoder for every line: `json.loads(text, **options)` builds a new one per call.
_decode = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_pairs).decode


def decode_line(raw: bytes) -> Any:
    """One JSONL line → the decoded object, or an `InvalidEvent` saying why it cannot be one
    (the reason names no line: the caller knows where it is)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InvalidEvent(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
    if not text.strip():
        return InvalidEvent("empty line")
    _dups.clear()
    try:
        value = _decode(text)
    except json.JSONDecodeError as exc:
        return InvalidEvent(f"not valid JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:  # the decoder's own depth guard (~1,000 levels; an event needs 2)
        return InvalidEvent("nested too deeply to be an event")
    if _dups:
        where, key = _dups[0]
        props = value.get("properties") if isinstance(value, dict) else None
        if where == id(value):
            return InvalidEvent(f"the event has the key {_quoted(key)} twice")
        if where == id(props):
            return InvalidEvent(f"properties has the key {_quoted(key)} twice")
        return InvalidEvent(f"the key {_quoted(key)} appears twice in a nested object")
    return value


def read_jsonl(stream: IO[bytes], progress: ReadProgress | None = None) -> Iterator[Any]:
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
