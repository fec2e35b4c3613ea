"""ClickHouse transport faults surface as typed meterql errors, never as a partial result.

A stand-in ClickHouse HTTP server (tests/fake_clickhouse.py, its own process with its own chdb)
answers clickhouse-connect faithfully, or refuses, stalls, fails with a 5xx, cuts the result
stream at a block boundary, or garbles it, on demand. The `clickhouse://` URL path is the one a
real server uses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
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
    return engine.aggregate(SUM, "s1", T0, T0 + 5 * DAY, granularity="day")


def test_the_http_path_works_end_to_end(server):
    port, set_mode = server
    set_mode("proxy")
    engine = connect(port)
    assert [r.value for r in day_sums(engine)] == [Decimal(1), Decimal(5), Decimal(9), Decimal(13), Decimal(17)]
    every = engine.aggregate_subjects(SUM, T0, T0 + 5 * DAY, granularity="day")
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
                engine.aggregate(SUM, "s1", T0, T0 + 5 * DAY)
            # and the invoice run (every subject in one query)
            with pytest.raises(TransportError):
                engine.aggregate_subjects(SUM, T0, T0 + 5 * DAY, granularity="day")
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
