"""Connections (SPEC §8, §9): URLs, the store created on first connect, persistence, hardening,
and parameters that are bound, never formatted into SQL."""

from __future__ import annotations

from meterql.plan import Window
import os
import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest

import meterql
from meterql import Metric
from meterql.engines import default_url
from meterql.errors import EngineError, InvalidSpec

from engine_fixtures import dispose, engine, new_engine  # noqa: F401

T0 = 1704067200000
H = 3_600_000
SRC = os.path.join(os.path.dirname(__file__), "..", "src")


def ev(i, subject="s1", name="call", **props):
    return {"event_id": f"e{i}", "subject_id": subject, "event_name": name, "timestamp": T0 + i, "properties": props}


def test_duckdb_file_urls_relative_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    e = meterql.connect("duckdb:///rel.duckdb")  # three slashes: relative to the working directory
    e.ingest([ev(1), ev(2)])
    e.close()
    assert (tmp_path / "rel.duckdb").exists()
    absolute = tmp_path / "sub" / "abs.duckdb"
    absolute.parent.mkdir()
    e = meterql.connect(f"duckdb:///{absolute}")  # four slashes: an absolute path
    assert e.count_events() == 0  # the store is created on first connect
    e.ingest([ev(3)])
    e.close()
    assert absolute.exists()
    # persistence: reconnecting sees the stored events, and their ids are still taken
    e = meterql.connect("duckdb:///rel.duckdb")
    assert e.count_events() == 2
    assert e.ingest([ev(1)]).duplicates == 1
    e.close()


def test_default_url_and_bad_urls(monkeypatch):
    monkeypatch.delenv("METERQL_URL", raising=False)
    assert default_url() == "duckdb:///meterql.duckdb"
    monkeypatch.setenv("METERQL_URL", "duckdb://")
    assert default_url() == "duckdb://"
    with pytest.raises(InvalidSpec, match="scheme"):
        meterql.connect("postgres://x")
    with pytest.raises(InvalidSpec, match="no host"):
        meterql.connect("duckdb://somehost/x.duckdb")


def test_duckdb_connection_cannot_read_files_or_unlock_itself():
    e = new_engine("duckdb")
    try:
        # what a compiler bug would have to do to read the file system: refused
        with pytest.raises(EngineError):
            e._query("SELECT * FROM read_text('/etc/passwd')", {})
        with pytest.raises(EngineError):
            e._query("SET enable_external_access = true", {})
        with pytest.raises(EngineError):
            e._query("SELECT * FROM read_csv('/etc/hostname')", {})
    finally:
        dispose(e)


def test_clickhouse_read_queries_are_read_only_utc_exact_and_limited():
    e = new_engine("chdb")
    try:
        with pytest.raises(EngineError):
            e._query("SELECT * FROM file('/etc/passwd', 'LineAsString')", {})
        with pytest.raises(EngineError):
            e._query(f"INSERT INTO `{e.database}`.events (event_id) VALUES ('x')", {})
        row = e._query(
            "SELECT timezone(), getSetting('count_distinct_implementation'), getSetting('readonly'), "
            "getSetting('max_execution_time'), getSetting('max_memory_usage')", {}
        )[0]
        assert row[0] == "UTC" and row[1] == "uniqExact" and int(row[2]) == 1
        assert float(row[3]) == 30 and int(row[4]) == 4 * 1024**3
        assert e.count_events() == 0  # the INSERT did not land
        # and the engine still writes afterwards (the refused INSERT left chdb's session read-only;
        # the engine reopens its client)
        assert e.ingest([ev(1)]).inserted == 1
        assert e.count_events() == 1
    finally:
        dispose(e)


HOSTILE = ["100%", "100%'; DROP TABLE events; --", "{subject:String}", "\\'", "a\nb", "%(x)s", "$1", "ü∆'\"`"]


@pytest.mark.parametrize("text", HOSTILE)
def test_subject_and_event_name_are_bound_parameters(engine, text):  # noqa: F811
    engine.ingest([ev(1, subject=text, name=text, v=5), ev(2, subject="other", name=text, v=7)])
    m = Metric(code="m", aggregation="sum", value="v", event_name=text, filter=f"event_name = '{text.replace(chr(39), chr(39) * 2)}'")
    assert engine.aggregate(m, Window(text, T0, T0 + H))[0].value == Decimal(5)
    assert engine.count_events() == 2


def test_chdb_directory_store_persists_across_processes(tmp_path):
    # chdb opens one path per process (HAZARDS): each step runs in its own process.
    script = textwrap.dedent(
        """
        import sys, meterql
        e = meterql.connect("chdb:///" + sys.argv[1] + "?database=persist")
        if sys.argv[2] == "write":
            r = e.ingest([{"event_id": f"e{i}", "subject_id": "s1", "event_name": "call",
                           "timestamp": 1704067200000 + i, "properties": {"v": i}} for i in range(3)])
            print(r.inserted)
        else:
            print(e.count_events(), e.ingest([{"event_id": "e0", "subject_id": "s1", "event_name": "call",
                                               "timestamp": 1, "properties": {}}]).duplicates)
        e.close()
        """
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    path = str(tmp_path / "chdata")
    out1 = subprocess.run([sys.executable, "-c", script, path, "write"], capture_output=True, text=True, env=env, timeout=120)
    assert out1.returncode == 0, out1.stderr
    assert out1.stdout.split()[-1] == "3"
    out2 = subprocess.run([sys.executable, "-c", script, path, "read"], capture_output=True, text=True, env=env, timeout=120)
    assert out2.returncode == 0, out2.stderr
    assert out2.stdout.split()[-2:] == ["3", "1"]
