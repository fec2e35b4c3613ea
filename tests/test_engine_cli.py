"""The CLI as a user meets it: `meterql ingest`, `summary`, `evaluate`, `check`, `sql`, `demo`;
clean one-line errors, exit statuses, help on every option, progress."""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import meterql
from meterql.cli import build_parser, main

SRC = str(Path(__file__).resolve().parent.parent / "src")


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
    assert [r["line"] for r in report["rejected"]] == [3, 4]  # line numbers: 1-based
    assert report["rejected"][0]["reason"].startswith("not valid JSON")
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


# --- ingest: one bad line is one rejection (issue 9 item 6) ---------------------------------------


def event_line(eid: str, v: str = "1", extra: str = "") -> bytes:
    return (f'{{"event_id": "{eid}", "subject_id": "s1", "event_name": "call", '
            f'"timestamp": "2025-10-01T10:00:00Z", "properties": {{"v": {v}}}{extra}}}').encode()


HOSTILE = [
    event_line("a", "1"),                                                          # 1 ok
    event_line("b\xff", "1000").replace(b"b\xc3\xbf", b"b\xff"),                  # 2 a raw 0xff byte
    b"[" * 100_000 + b"]" * 100_000,                                              # 3 nested 100k deep
    b'{"event_id": "c", "event_id": "d", "subject_id": "s1", "event_name": "call", '
    b'"timestamp": "2025-10-01T10:00:00Z"}',                                       # 4 top-level key twice
    event_line("e", '2, "v": 3'),                                                  # 5 property key twice
    event_line("f", "20"),                                                         # 6 ok
    b'{"event_id": "g", "subject_id": "s1", "event_name": "call", "timestamp": "2025-10-01T10:00:00Z", '
    b'"properties": "{\\"v\\": 1, \\"v\\": 2}"}',                                  # 7 properties as JSON text, key twice
    b"",                                                                           # 8 empty
    event_line("h", "300"),                                                        # 9 ok
]


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_ingest_rejects_bad_lines_and_stores_the_rest(kind, tmp_path, capsys):
    url = db_url(kind, tmp_path)
    keeper = meterql.connect(url) if kind == "chdb" else None
    try:
        path = tmp_path / "hostile.jsonl"
        path.write_bytes(b"\n".join(HOSTILE) + b"\n")
        assert b"\xff" in path.read_bytes()
        assert main(["ingest", str(path), "--db", url, "--json", "--batch-size", "2"]) == 3
        report = json.loads(capsys.readouterr().out)
        reasons = {r["line"]: r["reason"] for r in report["rejected"]}
        assert sorted(reasons) == [2, 3, 4, 5, 7, 8]
        assert "UTF-8" in reasons[2] and "0xff" in reasons[2]
        assert "nested too deeply" in reasons[3]
        assert reasons[4] == 'the event has the key "event_id" twice'
        assert reasons[5] == 'properties has the key "v" twice'
        assert "twice" in reasons[7]
        assert reasons[8] == "empty line"
        assert (report["inserted"], report["stored"]) == (3, 3)
        args = ["summary", "--db", url, "--code", "v", "--aggregation", "sum", "--value", "v", "--subject", "s1",
                "--start", "2025-10-01T00:00:00Z", "--end", "2025-11-01T00:00:00Z", "--json"]
        assert main(args) == 0
        assert json.loads(capsys.readouterr().out)[0]["value"] == "321"  # 1 + 20 + 300: lines 1, 6, 9

        # the text report: "line N: reason", the line number said once
        assert main(["ingest", str(path), "--db", url]) == 3
        out = capsys.readouterr().out
        assert "  line 2: not valid UTF-8 (byte 0xff" in out and "  line 8: empty line" in out
        assert out.count("line 2") == 1
    finally:
        if keeper is not None:
            keeper.drop()
            keeper.close()


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_ingest_report_rejected_is_a_list_of_index_and_reason(kind, tmp_path):
    url = db_url(kind, tmp_path)
    with meterql.connect(url) as engine:
        try:
            report = engine.ingest([{"event_id": "x"}, {"event_id": "a", "subject_id": "s", "event_name": "n",
                                                        "timestamp": 0}])
            assert isinstance(report.rejected, list)  # the README promises a list
            assert [i for i, _ in report.rejected] == [0]  # the library's index: 0-based position in the input
            assert report.to_dict()["rejected"][0]["index"] == 0
        finally:
            if kind == "chdb":
                engine.drop()


def test_ingest_batch_size_must_be_positive(tmp_path, capsys):
    path = tmp_path / "e.jsonl"
    path.write_bytes(event_line("a") + b"\n")
    for bad in ("0", "-5", "x"):
        with pytest.raises(SystemExit) as stop:
            main(["ingest", str(path), "--db", db_url("duckdb", tmp_path), "--batch-size", bad])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert "--batch-size" in err and ("positive integer" in err or "not an integer" in err)
    assert not (tmp_path / "cli.duckdb").exists()  # refused before anything was opened


def test_ingest_reads_stdin_and_a_bom(tmp_path, monkeypatch, capsys):
    data = b"\xef\xbb\xbf" + event_line("a") + b"\n" + event_line("b") + b"\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["ingest", "-", "--db", db_url("duckdb", tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["inserted"] == 2


# --- progress ---------------------------------------------------------------------------------


def test_progress_moves_with_every_line_not_once_per_batch(tmp_path, capsys):
    """The reader reports each line as it is read; `ingest`'s per-batch callback only corrects
    the count. With one 50,000-event batch the old bar moved once, at the end."""
    from meterql.commands._common import Progress
    from meterql.commands.ingest import read_jsonl

    class Recording(Progress):
        def __init__(self):
            super().__init__(total_bytes=None, enabled=False)
            self.reads, self.batches = [], []

        def read(self, nbytes=0):
            super().read(nbytes)
            self.reads.append(nbytes)

        def __call__(self, events):
            super().__call__(events)
            self.batches.append(events)

    lines = [event_line(f"e{i}") for i in range(500)]
    progress = Recording()
    with meterql.connect(db_url("duckdb", tmp_path)) as engine:
        engine.ingest(read_jsonl(io.BytesIO(b"\n".join(lines) + b"\n"), progress), progress=progress)
    assert progress.reads == [len(line) + 1 for line in lines]  # one update per line, in bytes
    assert progress.batches == [500] and progress.events == 500


def test_progress_bar_on_stderr_when_forced_and_off_when_not_a_terminal(tmp_path, capsys):
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\n".join(event_line(f"e{i}") for i in range(200)) + b"\n")
    url = db_url("duckdb", tmp_path)
    assert main(["ingest", str(path), "--db", url, "--progress"]) == 0
    err = capsys.readouterr().err
    assert "100%" in err and "200 events" in err  # by bytes, with the events counted
    assert main(["ingest", str(path), "--db", url]) == 0  # stderr is not a terminal here
    assert capsys.readouterr().err == ""


# --- clean errors: one line, no traceback, no repr, no doubled prefix ---------------------------


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    environment.pop("METERQL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "meterql.cli", *args], capture_output=True, text=True,
                          env=environment, timeout=120)


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and not lines[0].startswith("error: error")
    return lines[0]


PERIOD = ["--subject", "s1", "--start", "2025-10-01T00:00:00Z", "--end", "2025-11-01T00:00:00Z"]


def test_bad_metric_and_price_payloads_are_one_error_line(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"code": "m", "aggregation": ["sum"], "value": "x"}))
    (tmp_path / "dup.json").write_text('{"code": "m", "aggregation": "sum", "aggregation": "max"}')
    (tmp_path / "broken.json").write_text('{"code": ')
    (tmp_path / "p.json").write_text(json.dumps({"metric": {"code": "m", "aggregation": "count"}, "model": "unit",
                                                 "unit_amount": "1e999999999"}))
    url = f"duckdb:///{tmp_path}/x.duckdb"
    for metric in ("m.json", "dup.json", "broken.json", "missing.json"):
        r = run_cli("summary", "--db", url, "--metric", str(tmp_path / metric), *PERIOD)
        assert r.returncode == 1, r.stderr
        line = one_error_line(r.stderr)
        if metric == "dup.json":
            assert line.endswith('has the key "aggregation" twice in one object')
        if metric == "broken.json":
            assert "not valid JSON" in line and "line 1 column" in line
        if metric == "missing.json":
            assert "No such file" in line and "'" not in line
    r = run_cli("evaluate", "--price", str(tmp_path / "p.json"), "--db", url, *PERIOD)
    assert r.returncode == 1
    one_error_line(r.stderr)


def test_an_expression_error_prints_its_diagnostics_once(tmp_path, capsys):
    url = db_url("duckdb", tmp_path)
    assert main(["summary", "--db", url, "--code", "x", "--aggregation", "sum", "--value", "x +", *PERIOD]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E102]") and "error: error" not in err


def test_no_clickhouse_driver_warning_on_stderr():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_cli("summary", "--db", f"clickhouse://127.0.0.1:{port}/db?connect_timeout=2",
                "--code", "c", "--aggregation", "count", *PERIOD)
    assert r.returncode == 1
    assert "Unexpected Http Driver Exception" not in r.stderr
    one_error_line(r.stderr)


def test_version_and_help_on_every_option():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"meterql {meterql.__version__}"
    parser, _ = build_parser()
    missing = []
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)][0]
    for name, sub in [("meterql", parser), *subparsers.choices.items()]:
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


# --- explain opens no store; one table renderer -------------------------------------------------


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_explain_creates_no_database_and_matches_the_engine(kind, tmp_path, capsys):
    store = tmp_path / ("x.duckdb" if kind == "duckdb" else "chdata")
    url = f"duckdb:///{store}" if kind == "duckdb" else f"chdb:///{store}?database=explain_db"
    args = ["summary", "--db", url, "--code", "t", "--aggregation", "sum", "--value", "tokens",
            "--filter", "region = 'eu'", "--granularity", "day", "--dimension", "model", *PERIOD, "--explain"]
    assert main(args) == 0
    sql = capsys.readouterr().out
    assert not store.exists() and list(tmp_path.iterdir()) == []
    # the same text an open engine of that kind explains (the chdb one in memory: one path per process)
    live_url = "duckdb://" if kind == "duckdb" else "chdb://?database=explain_db"
    with meterql.connect(live_url) as engine:
        try:
            metric = meterql.Metric(code="t", aggregation="sum", value="tokens", filter="region = 'eu'")
            period = meterql.Period("2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z")
            assert sql == engine.explain(metric, "s1", period, "day", ["model"]) + "\n"
        finally:
            if kind == "chdb":
                engine.drop()


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_tables_spell_null_one_way(kind, tmp_path, capsys):
    url = db_url(kind, tmp_path)
    keeper = meterql.connect(url) if kind == "chdb" else None
    try:
        path = tmp_path / "e.jsonl"
        path.write_bytes(event_line("b", "5") + b"\n")  # no property m
        assert main(["ingest", str(path), "--db", url]) == 0
        capsys.readouterr()
        assert main(["summary", "--db", url, "--code", "v", "--aggregation", "sum", "--value", "v",
                     "--dimension", "m", *PERIOD]) == 0
        summary = capsys.readouterr().out
        (tmp_path / "p.json").write_text(json.dumps({"metric": {"code": "v", "aggregation": "sum", "value": "v"},
                                                     "model": "unit", "unit_amount": "2"}))
        assert main(["evaluate", "--db", url, "--price", str(tmp_path / "p.json"), "--group-by", "m",
                     "--now", "2025-11-01T00:00:00Z", *PERIOD]) == 0
        price = capsys.readouterr().out
    finally:
        if keeper is not None:
            keeper.drop()
            keeper.close()
    # event b has no property m: its coordinate / grouping value is null in both tables
    assert [line.split() for line in summary.splitlines()[3:]] == [
        ["[2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z)", "null", "5"]]
    assert [line.split() for line in price.splitlines()[2:]] == [["null", "5", "10"]]
    for text in (summary, price):
        assert "∅" not in text and "NULL" not in text and "None" not in text


def test_evaluate_preview_on_a_jsonl_file_names_the_bad_line(tmp_path, capsys):
    (tmp_path / "p.json").write_text(json.dumps({"metric": {"code": "v", "aggregation": "sum", "value": "v"},
                                                 "model": "unit", "unit_amount": "0.5"}))
    path = tmp_path / "e.jsonl"
    path.write_bytes(event_line("a", "3") + b"\n" + event_line("b", "4") + b"\n")
    assert main(["evaluate", "--events", str(path), "--price", str(tmp_path / "p.json"), *PERIOD, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"data": [{"grouping_values": [], "quantity": "7", "amount": "3.5"}]}
    path.write_bytes(event_line("a", "3") + b"\n{oops\n")
    assert main(["evaluate", "--events", str(path), "--price", str(tmp_path / "p.json"), *PERIOD]) == 1
    assert "line 2: not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["duckdb", "chdb"])
def test_summary_by_local_day_and_month(kind, tmp_path, capsys):
    """`--timezone`: Berlin days over the March 2024 DST change (23 hours: Mar 30 23:00Z to
    Mar 31 22:00Z) and Berlin months; row periods stay UTC text. Worked out by hand: the events
    at Mar 30 23:30Z (00:30 local Mar 31) and Mar 31 21:30Z (23:30 CEST) are one local day."""
    path = tmp_path / "e.jsonl"
    evs = [("a", "2024-03-30T23:30:00Z", 1), ("b", "2024-03-31T21:30:00Z", 2), ("c", "2024-03-31T22:30:00Z", 4)]
    path.write_text("".join(json.dumps({"event_id": i, "subject_id": "s1", "event_name": "x", "timestamp": t,
                                        "properties": {"v": v}}) + "\n" for i, t, v in evs))
    url = db_url(kind, tmp_path)
    keeper = meterql.connect(url) if kind == "chdb" else None  # chdb in memory lives while a client is open
    assert main(["ingest", str(path), "--db", url]) == 0
    capsys.readouterr()
    base = ["summary", "--db", url, "--code", "m", "--aggregation", "sum", "--value", "v", "--subject", "s1",
            "--start", "2024-03-30T00:00:00Z", "--end", "2024-04-02T00:00:00Z", "--timezone", "Europe/Berlin",
            "--json"]
    assert main([*base, "--granularity", "day"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["period"]["start"], r["period"]["end"], r["value"]) for r in rows] == [
        ("2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z", "3"),
        ("2024-03-31T22:00:00Z", "2024-04-01T22:00:00Z", "4"),
    ]
    assert main([*base, "--granularity", "month"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["period"]["start"], r["period"]["end"], r["value"]) for r in rows] == [
        ("2024-03-30T00:00:00Z", "2024-03-31T22:00:00Z", "3"),  # March (local), cut to the period
        ("2024-03-31T22:00:00Z", "2024-04-02T00:00:00Z", "4"),
    ]
    assert main([*base[:-1], "--timezone", "Mars/Olympus"]) != 0
    assert "time zone" in capsys.readouterr().err
    if keeper is not None:
        keeper.close()
