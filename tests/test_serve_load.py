"""A short run of benchmarks/serve_load.py on both engines: many clients at once posting usage
events, retrying keys (same and other data) and asking summaries lose nothing, double nothing,
and answer every request 2xx; the summaries equal the first-written data by hand and
`engine.summary`. A subprocess each: the load test opens its store (a chdb path) itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine_fixtures import ENGINES

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("engine", ENGINES)
def test_concurrent_clients_lose_and_double_nothing(engine, tmp_path):
    out = tmp_path / "load.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-m", "benchmarks.serve_load", "--engine", engine, "--clients", "8",
                           "--seconds", "3", "--min-each", "5", "--out", str(out)], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=300)
    assert out.exists(), done.stderr
    got = json.loads(out.read_text())
    assert got["errors"] == 0, got["first_errors"]
    assert got["keys_posted"] == got["events_stored"] > 0 and not got["lost_or_doubled"]
    assert all(kind["requests"] >= 5 for kind in got["per_kind"].values()), got["per_kind"]
    assert got["summaries_match_by_hand"] and got["summaries_match_engine_summary"]
    assert done.returncode == 0 and got["ok"], done.stderr
