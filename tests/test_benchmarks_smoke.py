"""Smoke test of the benchmarks (benchmarks/): every workload, on ~2,000 generated events, on
DuckDB and on ClickHouse (chdb), answered four ways — the meterql API, meterql's generated SQL,
the hand-written SQL and a plain-Python loop — must give identical answers. This keeps the
hand-written SQL honest: a benchmark ratio against a wrong query would mean nothing.

Also: the harness end to end on a small run (timings, JSON, markdown with every target, chart).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # `benchmarks` is a top-level package of the checkout
    sys.path.insert(0, _ROOT)

from benchmarks import harness, report  # noqa: E402
from benchmarks.generate import generate  # noqa: E402
from benchmarks.workloads import BUSIEST, all_workloads  # noqa: E402

N_EVENTS = 2_000
# Few subjects so that the invoice run's per-subject loops stay quick on chdb.
N_SUBJECTS = 120


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return list(generate(N_EVENTS, seed=7, subjects=N_SUBJECTS))


@pytest.fixture(scope="module", params=["duckdb", "chdb"])
def engine(request, events, tmp_path_factory):
    e = harness.connect(request.param, str(tmp_path_factory.mktemp("bench")))
    report_ = e.ingest(events)
    assert report_.inserted == N_EVENTS and not report_.rejected
    yield e
    harness.dispose(e)


@pytest.mark.parametrize("workload", all_workloads(), ids=lambda w: w.name)
def test_every_variant_gives_the_same_answer(engine, events, workload):
    found, _ = harness.answers(workload, engine, events)
    assert set(found) >= {"meterql", "generated", "hand", "python"}
    assert harness.check_identical(found) == [], {k: sorted(v, key=repr)[:3] for k, v in found.items()}
    # Not trivially empty: there is usage behind every question on this data.
    assert any(v is not None for row in found["hand"] for v in row[1:] if not isinstance(v, tuple))


def test_python_loop_on_a_hand_checked_case():
    """The oracle of the oracles: a few events worked out by hand."""
    from benchmarks.workloads import MONTH, _hot_path, _weighted_sum

    half = MONTH[0] + (MONTH[1] - MONTH[0]) // 2
    evs = [
        {"event_id": "a", "subject_id": BUSIEST, "event_name": "llm_call", "timestamp": MONTH[0], "properties": {"tokens": 5}},
        {"event_id": "b", "subject_id": BUSIEST, "event_name": "llm_call", "timestamp": MONTH[1] - 1, "properties": {"tokens": "2.50"}},
        {"event_id": "c", "subject_id": BUSIEST, "event_name": "llm_call", "timestamp": MONTH[1], "properties": {"tokens": 100}},
        {"event_id": "d", "subject_id": BUSIEST, "event_name": "storage_gb", "timestamp": MONTH[0], "properties": {"gb": "3"}},
        {"event_id": "e", "subject_id": BUSIEST, "event_name": "storage_gb", "timestamp": half, "properties": {"gb": "-1"}},
    ]
    assert _hot_path("h", BUSIEST).python(evs) == [(MONTH[0], (), "7.5")]  # 100 lies on the exclusive end
    # level 3 for the whole month, then 2 for the second half: (3·T − 1·T/2) / T = 2.5
    assert _weighted_sum().python(evs) == [(MONTH[0], (), "2.5")]


def test_harness_end_to_end_writes_json_markdown_and_chart(tmp_path):
    result = harness.run([N_EVENTS], ["duckdb", "chdb"], ["hot_path"], runs=1,
                         compile_samples=(10, 100), log=lambda m: None)
    size = result["sizes"][str(N_EVENTS)]
    for kind in ("duckdb", "chdb"):
        rec = size["engines"][kind]
        assert rec["ingest"]["inserted"] == N_EVENTS
        w = rec["workloads"]["hot_path"]
        assert w["identical"], w.get("mismatch")
        assert w["timings"]["hand"]["median_ms"] > 0 and w["ratio_generated_vs_hand"] > 0
        assert "SUM(" in w["generated_sql"][0].upper()
    assert set(result["compile"]) == {f"{d}/{k}" for d in ("duckdb", "clickhouse") for k in ("filter", "value", "grouping_key")}
    paths = report.write(result, str(tmp_path))
    md = (tmp_path / "results.md").read_text()
    for target in ("≤ 1.10×", "≤ 5 ms", "200,000 events/s", "≤ 1 ms uncached", "≤ 50 µs cached"):
        assert target in md
    assert json.loads((tmp_path / "results.json").read_text())["sizes"][str(N_EVENTS)]["engines"]["chdb"]
    assert (tmp_path / "ratios.png").stat().st_size > 1000 and len(paths) == 3
