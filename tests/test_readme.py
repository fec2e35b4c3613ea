"""The README's code runs as written (a doc test), so the README cannot drift from the code.

- Every ```python block runs, verbatim, in a fresh temporary directory per `##`/`###` section;
  the blocks of one section share one namespace, in order (a block may build on the previous
  blocks of its section; `####` subsections belong to their section).
- Every command of a ```sh block that starts with `meterql` runs (in process, through
  `meterql.cli.main`) in a temporary copy of the repository's `examples/` directory; it must exit
  0, or the status a trailing `# exit status N` comment names.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(lang: str) -> list[tuple[str, str]]:
    """(section heading, code) of every ```lang block, in order."""
    text = README.read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(text):
        if m.group(1) != lang:
            continue
        headings = re.findall(r"^#{2,3} (.+)$", text[: m.start()], re.M)
        out.append((headings[-1] if headings else "", m.group(2)))
    return out


def sections(lang: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for heading, code in blocks(lang):
        out.setdefault(heading, []).append(code)
    return out


def commands() -> list[tuple[list[str], int]]:
    """(argv after `meterql`, expected exit status) of every `meterql` command in ```sh blocks."""
    out = []
    for _, code in blocks("sh"):
        for line in code.replace("\\\n", " ").splitlines():
            if not line.strip().startswith("meterql "):
                continue
            expected = re.search(r"#\s*exit status (\d+)\s*$", line)
            argv = shlex.split(line, comments=True)
            out.append((argv[1:], int(expected.group(1)) if expected else 0))
    return out


PYTHON = sections("python")


def test_the_readme_has_code_to_run():
    assert "Python" in PYTHON and len(PYTHON["Python"]) >= 8
    verbs = {argv[0] for argv, _ in commands() if argv}
    assert {"ingest", "summary", "evaluate", "check", "sql", "demo"} <= verbs


@pytest.mark.parametrize("section", sorted(PYTHON))
def test_python_blocks_run_verbatim(section, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    try:
        for i, code in enumerate(PYTHON[section]):
            try:
                exec(compile(code, f"README.md [{section} block {i + 1}]", "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"README section {section!r}, python block {i + 1} failed: {type(exc).__name__}: {exc}\n{code}")
    finally:
        for value in list(namespace.values()):
            close = getattr(value, "close", None)
            if type(value).__name__.endswith("Engine") and close is not None:
                close()


def test_readme_outputs_are_what_the_code_prints(tmp_path, monkeypatch, capsys):
    """The Python section's printed results that its comments show (numbers the reader relies
    on), checked against values worked out by hand from the events it ingests."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in PYTHON["Python"][:-1]:  # all but the closing engine.close()
        exec(compile(code, "README.md", "exec"), namespace)
    try:
        report = namespace["report"]
        assert (report.inserted, report.duplicates) == (2, 0)
        assert isinstance(report.rejected, list) and [i for i, _ in report.rejected] == [2]
        engine, metric, period = namespace["engine"], namespace["metric"], namespace["period"]
        # October in Berlin is [Sep 30 22:00Z, Oct 31 23:00Z): cut to the period, one row of both events
        berlin = engine.summary(metric, "subj_1", period, "month", timezone="Europe/Berlin")
        assert [(r.period.start, r.period.end, r.value) for r in berlin] == [(1759276800000, 1761951600000, "1212.5")]
        rows = engine.summary(metric, "subj_1", period, "day", ["model"])
        assert [(dict(r.dimension_coordinates)["model"], r.value) for r in rows] == [("claude", "12.5"), ("gpt", "1200")]
        # tiered: the first 1,000 tokens free, then 0.002 each: gpt 200 × 0.002 = 0.4
        assert [r.to_dict() for r in namespace["rows"]] == [
            {"grouping_values": ["claude"], "quantity": "12.5", "amount": "0"},
            {"grouping_values": ["gpt"], "quantity": "1200", "amount": "0.4"},
        ]
        assert namespace["evaluate_price_request"](engine, namespace["price"], namespace["body"],
                                                   now="2025-11-02T00:00:00Z") == {
            "data": [{"grouping_values": ["eu"], "quantity": "1200", "amount": "0.4"}]}
    finally:
        namespace["engine"].close()
    out = capsys.readouterr().out
    assert "E201 unknown function `rond`" in out and "ps['region'] = 'eu'" in out
    assert "\n5\n" in out  # round(3.333 * 1.5, 2) = round(4.9995, 2) = 5
    assert "'quantity': '3000', 'amount': '4'" in out  # 2,000 tokens past the free 1,000 at 0.002


def test_price_limits_table_matches_the_code():
    from meterql.price import PriceLimits

    text = README.read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| `(max_\w+)` \| ([\d,]+|None) \|", text, re.M))
    actual = {f.name: f.default for f in dataclasses.fields(PriceLimits)}
    assert {k: (None if v == "None" else int(v.replace(",", ""))) for k, v in documented.items()} == actual


def test_cli_commands_run_against_the_examples(tmp_path, monkeypatch, capsys):
    from meterql.cli import main

    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("METERQL_URL", raising=False)
    ran = 0
    for argv, expected in commands():
        if argv == ["--version"]:
            with pytest.raises(SystemExit) as stop:
                main(argv)
            assert stop.value.code == 0
            continue
        status = main(argv)
        captured = capsys.readouterr()
        assert status == expected, f"meterql {shlex.join(argv)} exited {status}:\n{captured.out}\n{captured.err}"
        assert "Traceback" not in captured.err
        ran += 1
    assert ran >= 9
    assert not (tmp_path / "other.duckdb").exists()  # --explain opens no store
