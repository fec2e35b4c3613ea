"""Ingest at scale: 1,000,000 events in ten `ingest` calls into FILE stores, on both engines.

The suite once only ingested small batches, and a 1M-event load into DuckDB crashed at the fourth
call of 100,000 ("Resource In Use: connection has an unfinished result"): a `fetchone()` of a
one-row answer left the result open, and DuckDB 2.x then refused the writer's `register` of the
next batch. These tests ingest at the scale a user does and check the stored counts and a
summary against sums computed here from the generating formula (not from the library), and that
re-sending a whole 100,000-event call stores nothing new.

DuckDB runs in the pytest process (a file in tmp_path). chdb can open one path per process and
the pytest process holds the in-memory one (HAZARDS), so the chdb directory store runs in a
subprocess: `python tests/test_scale.py URL` prints the measured results as JSON. It runs while
the DuckDB load runs in the pytest process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest

if __name__ == "__main__":  # the chdb subprocess: this checkout's sources first
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import meterql
from meterql import Metric

T0 = 1704067200000  # 2024-01-01T00:00:00Z
DAY = 86_400_000
CALLS = 10
PER_CALL = 100_000
SUBJECTS = 1_000
# Four realistic properties; 397 distinct dicts shared by every event (cheap to generate: the
# test measures the engine, not a dict factory). tokens of dict k = 7·k + 1, so tokens(i) is
# 7·(i mod 397) + 1 for the i-th event of the whole load.
PROPS = [
    {"tokens": 7 * k + 1, "model": ("gpt-4o", "claude", "llama")[k % 3], "region": ("eu", "us")[k % 2],
     "cached": k % 5 == 0}
    for k in range(397)
]
SUM_TOKENS = Metric(code="tokens", aggregation="sum", value="tokens")
COUNT = Metric(code="calls", aggregation="count")
PERIOD = {"start": T0, "end": T0 + 31 * DAY}


def events(call: int):
    """The `call`-th batch: global index i = call·PER_CALL + j, one second apart, subjects round robin."""
    base = call * PER_CALL
    for i in range(base, base + PER_CALL):
        yield {"event_id": f"ev-{i}", "subject_id": f"sub-{i % SUBJECTS}", "event_name": "api_call",
               "timestamp": T0 + i * 1000, "properties": PROPS[i % 397]}


def expected_tokens(subject: int | None = None) -> int:
    """Σ tokens over the whole load (or one subject's events), from the formula above."""
    n = CALLS * PER_CALL
    idx = range(n) if subject is None else range(subject, n, SUBJECTS)
    return sum(7 * (i % 397) + 1 for i in idx)


def load_and_check(url: str) -> dict:
    """Ten ingest calls, then counts and sums; a re-sent call; a reopen of the store. Returns what
    was measured (the assertions are the caller's, so the subprocess reports rather than dies)."""
    out: dict = {"calls": []}
    engine = meterql.connect(url)
    t = time.perf_counter()
    for call in range(CALLS):
        r = engine.ingest(events(call))
        out["calls"].append([r.inserted, r.duplicates, len(r.rejected)])
    out["seconds"] = time.perf_counter() - t
    out["count"] = engine.count_events()
    out["sub7"] = [[r.value, r.period.start] for r in engine.summary(SUM_TOKENS, "sub-7", PERIOD)]
    every = engine.summaries(SUM_TOKENS, PERIOD)
    out["subjects"] = len(every)
    out["total"] = str(sum(Decimal(rows[0].value) for rows in every.values()))
    again = engine.ingest(events(3))  # re-send one whole call: nothing new
    out["resend"] = [again.inserted, again.duplicates, len(again.rejected)]
    out["count_after_resend"] = engine.count_events()
    every = engine.summaries(SUM_TOKENS, PERIOD)
    out["total_after_resend"] = str(sum(Decimal(rows[0].value) for rows in every.values()))
    engine.close()
    engine = meterql.connect(url)  # the file store holds it all
    out["count_reopened"] = engine.count_events()
    out["calls_sub7_reopened"] = engine.summary(COUNT, "sub-7", PERIOD)[0].value
    engine.close()
    return out


def check(out: dict) -> None:
    assert out["calls"] == [[PER_CALL, 0, 0]] * CALLS
    n = CALLS * PER_CALL
    assert out["count"] == n
    assert out["sub7"] == [[str(expected_tokens(7)), T0]]
    assert out["subjects"] == SUBJECTS
    assert Decimal(out["total"]) == expected_tokens()
    assert out["resend"] == [0, PER_CALL, 0]
    assert out["count_after_resend"] == n
    assert Decimal(out["total_after_resend"]) == expected_tokens()
    assert out["count_reopened"] == n
    assert out["calls_sub7_reopened"] == str(n // SUBJECTS)


def test_expected_sums_by_hand():
    # the formula's own check: 1,000,000 = 2,518·397 + 354, so Σ (7k+1) is 2,518 full cycles of
    # 7·Σk + 397 = 7·78,606 + 397 = 550,639, plus 7·Σ_{k<354} k + 354 = 7·62,481 + 354 = 437,721
    assert expected_tokens() == 2_518 * 550_639 + 437_721


@pytest.fixture(scope="module")
def chdb_load(tmp_path_factory):
    """The chdb directory load, started in its own process as soon as a test asks for it, so that
    it runs while the DuckDB load runs here (two cores: the pair takes the time of one)."""
    url = f"chdb:///{tmp_path_factory.mktemp('scale') / 'chdb'}?database=scale"
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_a_million_events_into_a_duckdb_file(tmp_path, chdb_load):
    out = load_and_check(f"duckdb:///{tmp_path / 'usage.duckdb'}")
    print(f"duckdb file: {CALLS * PER_CALL / out['seconds']:,.0f} events/s ({out['seconds']:.1f} s)")
    check(out)


def test_a_million_events_into_a_chdb_directory(chdb_load):
    stdout, stderr = chdb_load.communicate(timeout=900)
    assert chdb_load.returncode == 0, stderr[-3000:]
    out = json.loads(stdout.strip().splitlines()[-1])
    print(f"chdb directory: {CALLS * PER_CALL / out['seconds']:,.0f} events/s ({out['seconds']:.1f} s)")
    check(out)


def test_ingest_keeps_working_after_a_compaction(tmp_path):
    # The small form of the crash: once the store was compacted (meterql_meta has a row),
    # _after_ingest's one-row reads left results open and the next ingest's register failed.
    # Both engines (chdb in memory here; it has no compaction, and must not mind either).
    from engine_fixtures import dispose, new_engine

    for engine in (meterql.connect(f"duckdb:///{tmp_path / 'small.duckdb'}"), meterql.connect("duckdb://"),
                   new_engine("chdb")):
        try:
            batch = [{"event_id": f"c{call}-{i}", "subject_id": "s", "event_name": "e", "timestamp": T0 + i,
                      "properties": {"tokens": i}} for call in range(4) for i in range(10)]
            engine.ingest(batch[:10])
            getattr(engine, "compact", lambda: None)()
            for call in range(1, 4):
                assert engine.ingest(batch[call * 10:(call + 1) * 10]).inserted == 10
            assert engine.count_events() == 40
            assert engine.summary(SUM_TOKENS, "s", PERIOD)[0].value == str(4 * sum(range(10)))
        finally:
            dispose(engine)


if __name__ == "__main__":
    print(json.dumps(load_and_check(sys.argv[1])))
