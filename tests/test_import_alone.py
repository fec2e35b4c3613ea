"""Every module of meterql imports alone, in a fresh interpreter: no import cycle (the planning
floor used to be two modules importing each other)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> list[str]:
    out = []
    for path in sorted((SRC / "meterql").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append(".".join(parts))
    return out


def test_every_module_imports_alone():
    mods = _modules()
    assert "meterql.plan" in mods and "meterql.plan.build" in mods
    # one interpreter per module (a cycle shows only when its module is imported first)
    script = ("import importlib, subprocess, sys\n"
              "bad = []\n"
              "for m in sys.argv[1:]:\n"
              "    r = subprocess.run([sys.executable, '-c', f'import {m}'], capture_output=True, text=True)\n"
              "    if r.returncode: bad.append((m, r.stderr.strip().splitlines()[-1:]))\n"
              "print(bad)\n"
              "sys.exit(1 if bad else 0)\n")
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", script, *mods], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_engine_branch_outside_dialects_and_engines():
    for path in (SRC / "meterql").rglob("*.py"):
        rel = path.relative_to(SRC / "meterql").parts
        if rel[0] in ("dialects", "engines"):
            continue
        assert "dialect ==" not in path.read_text(), path
