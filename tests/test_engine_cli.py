"""The engine commands of the CLI: `meterql ingest`, `meterql summary`, `meterql demo`."""

from __future__ import annotations

import json
import uuid

import pytest

import meterql
from meterql.cli import main


def db_url(kind, tmp_path):
    return f"duckdb:///{tmp_path}/cli.duckdb" if kind == "duckdb" else f"chdb://?database=cli_{uuid.uuid4().hex[:12]}"


LINES = [
    '{"event_id": "a", "subject_id": "s1", "event_name": "call", "timestamp": "2025-10-01T10:00:00Z", "properties": {"v": 0.1, "m": "x"}}',
    '{"event_id": "b", "subject_id": "s1", "event_name": "call", "timestamp": "2025-10-02T10:00:00Z", "properties": {"v": 0.2, "m": "y"}}',
    "this is not json",
    '{"event_id": "c", "subject_id": "s1", "event_name": "call", "timestamp": "2025-10-02T10:00:00"}',
    '{"event_id": "a", "subject_id": "s1", "event_name": "call", "timestamp": "2025-10-03T10:00:00Z", "properties": {"v": 100}}',
]


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_ingest_then_summary(kind, tmp_path, capsys):
    url = db_url(kind, tmp_path)
    # chdb in memory lives while a client is open: keep one open across the commands
    keeper = meterql.connect(url) if kind == "chdb" else None
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    assert main(["ingest", str(path), "--db", url, "--json"]) == 3  # something was rejected
    report = json.loads(capsys.readouterr().out)
    assert (report["inserted"], report["duplicates"], report["stored"]) == (2, 1, 2)
    assert [r["index"] for r in report["rejected"]] == [2, 3]
    assert "line 3 is not valid JSON" in report["rejected"][0]["reason"]
    assert "time zone" in report["rejected"][1]["reason"]

    # 0.1 + 0.2 = 0.3 exactly (JSON numbers are decoded as decimals, never floats)
    args = ["summary", "--db", url, "--code", "v", "--aggregation", "sum", "--value", "v", "--subject", "s1",
            "--start", "2025-10-01T00:00:00Z", "--end", "2025-11-01T00:00:00Z"]
    assert main(args + ["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["value"] for r in rows] == ["0.3"]
    assert rows[0]["period"] == {"start": "2025-10-01T00:00:00Z", "end": "2025-11-01T00:00:00Z",
                                 "inclusive_start": True, "inclusive_end": False}

    assert main(args + ["--granularity", "day", "--dimension", "m"]) == 0
    text = capsys.readouterr().out
    assert "[2025-10-01T00:00:00Z" in text and "x" in text and "0.2" in text

    assert main(args + ["--explain"]) == 0
    sql = capsys.readouterr().out
    assert "SELECT" in sql and "subject_id" in sql and "-- parameters:" in sql
    if keeper is not None:
        keeper.drop()
        keeper.close()


def test_summary_from_a_lago_metric_file(tmp_path, capsys):
    url = db_url("duckdb", tmp_path)
    (tmp_path / "e.jsonl").write_text(
        '{"event_id": "a", "subject_id": "s1", "event_name": "api", "timestamp": 1759312800000, "properties": {"user": "u1"}}\n'
        '{"event_id": "b", "subject_id": "s1", "event_name": "api", "timestamp": 1759312800001, "properties": {"user": "u2"}}\n'
        '{"event_id": "c", "subject_id": "s1", "event_name": "api", "timestamp": 1759312800002, "properties": {"user": "u1"}}\n'
    )
    assert main(["ingest", str(tmp_path / "e.jsonl"), "--db", url]) == 0
    assert "inserted 3" in capsys.readouterr().out
    (tmp_path / "m.json").write_text(json.dumps({"code": "api", "aggregation_type": "unique_count_agg", "field_name": "user"}))
    assert main(["summary", "--db", url, "--metric", str(tmp_path / "m.json"), "--subject", "s1",
                 "--start", "2025-10-01T00:00:00Z", "--end", "2025-11-01T00:00:00Z", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["value"] == "2"  # u1, u2


def test_summary_errors_are_clean(tmp_path, capsys):
    url = db_url("duckdb", tmp_path)
    assert main(["summary", "--db", url, "--code", "x", "--aggregation", "sum", "--value", "rond(v)",
                 "--subject", "s", "--start", "2025-10-01T00:00:00Z", "--end", "2025-11-01T00:00:00Z"]) == 1
    err = capsys.readouterr().err
    assert "error" in err and "round" in err  # the diagnostic suggests the function
    assert main(["summary", "--db", url, "--code", "x", "--aggregation", "count", "--subject", "s",
                 "--start", "2025-10-01T00:00:00", "--end", "2025-11-01T00:00:00Z"]) == 1
    assert "naive" in capsys.readouterr().err


def test_demo_runs_and_is_idempotent(tmp_path, capsys):
    url = f"duckdb:///{tmp_path}/demo.duckdb"
    assert main(["demo", "--db", url, "--events", "3000"]) == 0
    out = capsys.readouterr().out
    assert "3,000 new" in out
    start = out.index("[", out.index("Lark seed request"))
    rows = json.loads(out[start: out.index("\n]", start) + 2])
    assert rows and set(rows[0]) == {"id", "dimension_coordinates", "period", "pricing_metric_id", "subject_id", "value"}
    assert rows[0]["subject_id"] == "subj_VyX6Q96h5avMho8O7QWlKeXE"
    assert main(["demo", "--db", url, "--events", "3000"]) == 0
    again = capsys.readouterr().out
    assert "0 new, 3,000 already stored" in again
    assert again.split("ingested")[1].split("\n", 1)[1] == out.split("ingested")[1].split("\n", 1)[1]  # same summaries
