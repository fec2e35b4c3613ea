"""ClickHouse transport faults surface as typed meterql errors, never as a partial result, and a
re-sent batch after a failed insert (even one that committed late) stores each event once.

A stand-in ClickHouse HTTP server (tests/fake_clickhouse.py, its own process with its own chdb)
answers clickhouse-connect faithfully, or refuses, stalls, fails with a 5xx, cuts the result
stream at a block boundary, or garbles it, on demand. The `clickhouse://` URL path is the one a
real server uses.
"""

from __future__ import annotations

from meterql.plan import Window
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from decimal import Decimal

import pytest

import meterql
from meterql import Metric
from meterql.errors import MeterqlError, TransportError

T0 = 1704067200000
DAY = 86_400_000
SUM = Metric(code="s", aggregation="sum", value="v")
HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port_file = str(tmp_path_factory.mktemp("fake") / "port")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_clickhouse.py"), port_file],
                            stdin=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.path.join(HERE, "..", "src")})
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(port_file):
            assert proc.poll() is None, "the fake server died"
            assert time.monotonic() < deadline, "the fake server did not start"
            time.sleep(0.05)
        port = int(open(port_file).read())

        def set_mode(mode: str) -> None:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/__mode__/{mode}", timeout=5).read()

        yield port, set_mode
    finally:
        proc.stdin.close()
        proc.kill()
        proc.wait()


def connect(port: int):
    return meterql.connect(f"clickhouse://default:@127.0.0.1:{port}/faults?send_receive_timeout=2&connect_timeout=2")


def day_sums(engine):
    # events v = i at T0 + i·12h, i = 0…9: day d holds i = 2d, 2d+1 → 4d + 1
    return engine.aggregate(SUM, Window("s1", T0, T0 + 5 * DAY, granularity="day"))


def test_the_http_path_works_end_to_end(server):
    port, set_mode = server
    set_mode("proxy")
    engine = connect(port)
    assert [r.value for r in day_sums(engine)] == [Decimal(1), Decimal(5), Decimal(9), Decimal(13), Decimal(17)]
    every = engine.aggregate_subjects(SUM, Window(None, T0, T0 + 5 * DAY, granularity="day"))
    assert list(every) == ["s1"] and [r.value for r in every["s1"]] == [1, 5, 9, 13, 17]


@pytest.mark.parametrize("mode", ["500", "stall", "cut", "garbled", "nosummary"])
def test_a_fault_is_a_transport_error_never_a_partial_result(server, mode):
    port, set_mode = server
    set_mode("proxy")
    engine = connect(port)  # connected while healthy
    set_mode(mode)
    try:
        t = time.monotonic()
        with pytest.raises(TransportError):
            day_sums(engine)
        assert time.monotonic() - t < 30  # a stall ends at the configured timeout
        # the one-row aggregate too (a cut stream leaves it with no row at all)
        if mode != "stall":
            with pytest.raises(TransportError):
                engine.aggregate(SUM, Window("s1", T0, T0 + 5 * DAY))
            # and the invoice run (every subject in one query)
            with pytest.raises(TransportError):
                engine.aggregate_subjects(SUM, Window(None, T0, T0 + 5 * DAY, granularity="day"))
    finally:
        set_mode("proxy")
    assert len(day_sums(engine)) == 5  # and the engine works again once the server does


def test_a_server_that_is_down_at_connect(server):
    port, set_mode = server
    set_mode("down")
    try:
        with pytest.raises(TransportError):
            connect(port)
    finally:
        set_mode("proxy")


def test_connection_refused():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransportError) as info:
        connect(port)
    assert isinstance(info.value, MeterqlError)


# --- inserts: the Arrow insert over HTTP, and faults on it ----------------------------------------
#
# HAZARDS: over HTTP an insert may commit after the client's timeout; the re-send's id lookup then
# misses it, and without ClickHouse's insert deduplication both land (200 rows for 100 ids).

N = 100
N_SUM = Decimal(N * (N - 1) // 2)  # v = 0 … N-1


def connect_db(port: int, database: str):
    return meterql.connect(f"clickhouse://default:@127.0.0.1:{port}/{database}"
                           "?send_receive_timeout=2&connect_timeout=2")


def fresh_db() -> str:
    return f"r_{uuid.uuid4().hex[:12]}"


def batch(n: int = N):
    return [{"event_id": f"r{i}", "subject_id": "r", "event_name": "call", "timestamp": T0 + i * 1000,
             "properties": {"v": i}} for i in range(n)]


def stored(engine, n: int = N):
    """(events stored, their sum): each of the n ids once means (n, n(n-1)/2)."""
    return engine.count_events(), engine.aggregate(SUM, Window("r", T0, T0 + DAY))[0].value


def test_the_arrow_insert_over_http_and_a_resend(server):
    port, set_mode = server
    set_mode("proxy")
    engine = connect_db(port, fresh_db())
    n = 3_000  # above STAGED_LOOKUP_MIN_IDS: the temporary table is refused (no HTTP session)
    r = engine.ingest(batch(n))
    assert (r.inserted, r.duplicates) == (n, 0)
    assert stored(engine, n) == (n, Decimal(n * (n - 1) // 2))
    again = engine.ingest(batch(n))
    assert (again.inserted, again.duplicates) == (0, n)
    assert stored(engine, n) == (n, Decimal(n * (n - 1) // 2))
    engine.drop()


def _late_commit_then_resend(port, set_mode, engine):
    set_mode("insert_after")  # the insert lands only after the re-send has been stored
    with pytest.raises(TransportError):
        engine.ingest(batch())
    r = engine.ingest(batch())  # its id lookup runs while the first insert is still in flight
    assert (r.inserted, r.rejected) == (N, [])
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/__late__", timeout=40).read() == b"done"
    assert stored(engine) == (N, N_SUM)  # not 200 rows, not a doubled sum
    assert engine.ingest(batch()).inserted == 0
    assert stored(engine) == (N, N_SUM)


def test_a_late_commit_racing_a_resend_stores_each_event_once(server):
    port, set_mode = server
    set_mode("proxy")
    engine = connect_db(port, fresh_db())
    _late_commit_then_resend(port, set_mode, engine)
    engine.drop()


def test_a_table_created_without_the_dedup_window_gets_it(server):
    # a store created by an older meterql (or by hand): the window is added on connect
    import clickhouse_connect

    from meterql.engines.clickhouse import ddl

    port, set_mode = server
    set_mode("proxy")
    db = fresh_db()
    client = clickhouse_connect.get_client(host="127.0.0.1", port=port, query_retries=0)
    for stmt in ddl(db):
        client.command(stmt.split("\nSETTINGS non_replicated_deduplication_window")[0])
    assert "non_replicated_deduplication_window" not in client.command(f"SHOW CREATE TABLE {db}.events")
    engine = connect_db(port, db)
    assert "non_replicated_deduplication_window = 10000" in client.command(f"SHOW CREATE TABLE {db}.events")
    _late_commit_then_resend(port, set_mode, engine)
    engine.drop()


@pytest.mark.parametrize("fault,landed", [("insert_500", False), ("insert_stall", False), ("insert_cut", False),
                                          ("insert_late", True), ("insert_drop", True)])
def test_an_insert_fault_is_a_transport_error_and_a_resend_stores_each_event_once(server, fault, landed):
    port, set_mode = server
    set_mode("proxy")
    engine = connect_db(port, fresh_db())
    set_mode(fault)
    t = time.monotonic()
    with pytest.raises(TransportError):
        engine.ingest(batch())
    assert time.monotonic() - t < 30
    assert stored(engine)[0] == (N if landed else 0)  # the fault stored all or nothing
    r = engine.ingest(batch())  # the recommended re-send
    assert (r.inserted, r.duplicates) == ((0, N) if landed else (N, 0))
    assert stored(engine) == (N, N_SUM)
    engine.drop()
