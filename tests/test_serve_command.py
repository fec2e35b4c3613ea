"""`meterql serve` itself, as a user runs it: a subprocess on a free port over a DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server_fixtures import free_port

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _serve(*args: str, keys: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "METERQL_API_KEYS"}
    env["PYTHONPATH"] = SRC
    if keys is not None:
        env["METERQL_API_KEYS"] = keys
    return subprocess.Popen([sys.executable, "-m", "meterql.cli", "serve", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_serve_answers_then_stops(tmp_path):
    port = free_port()
    proc = _serve("--db", f"duckdb:///{tmp_path / 'usage.duckdb'}", "--port", str(port), keys="k1, k2")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(base + "/healthz", timeout=2).json() == {"status": "ok"}:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "meterql serve did not answer /healthz"
            time.sleep(0.1)
        assert httpx.get(base + "/lark/subjects", timeout=10).status_code == 401
        made = httpx.post(base + "/lark/subjects", json={"external_id": "acme"}, headers={"X-API-Key": "k2"}, timeout=10)
        assert made.status_code == 200 and made.json()["external_id"] == "acme"
        checked = httpx.post(base + "/v1/expressions/check", json={"text": "tokens > 1"},
                             headers={"Authorization": "Bearer k1"}, timeout=10)
        assert checked.json() == {"valid": True, "diagnostics": []}
    finally:
        proc.terminate()
        proc.wait(30)
    assert (tmp_path / "usage.duckdb").exists()


def test_a_public_host_without_a_key_is_refused(tmp_path):
    proc = _serve("--db", f"duckdb:///{tmp_path / 'x.duckdb'}", "--host", "0.0.0.0", "--port", str(free_port()),
                  keys=None)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("error: refusing to listen on 0.0.0.0 without an API key"), err
    assert "Traceback" not in err
