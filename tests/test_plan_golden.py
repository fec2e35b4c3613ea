"""Golden plan SQL: the whole statement each planning path builds, one file per case in
tests/golden/plans/<dialect>/<case>.sql with the header of the expression goldens (case, kind,
dialect, input) and the bound parameters. Regenerate with METERQL_UPDATE_GOLDEN=1 and review the
diff: a plan that changes shape shows up as a reviewed change, never silently.

The cases cover every aggregation, every granularity, dimensions, recurring, the invoice run
(all and listed subjects), the shared scan of several metrics and price evaluation. `_plan_sql`
is the one place that knows how a case reaches the planner: a restructure of the planning floor
changes it, not the golden files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import meterql
from meterql.metric import Metric

GOLDEN = Path(__file__).parent / "golden" / "plans"
UPDATE = os.environ.get("METERQL_UPDATE_GOLDEN") == "1"
DIALECTS = ("duckdb", "clickhouse")

START, END = "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z"
AGGS = ("count", "sum", "min", "max", "avg", "unique_count", "latest", "weighted_sum")
RECURRING = ("sum", "unique_count", "weighted_sum")


def _metric(agg: str, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"code": f"m_{agg}", "aggregation": agg, "event_name": "llm_call",
                         "filter": "region = 'eu' OR tier != 'free'"}
    if agg != "count":
        m["value"] = "model" if agg == "unique_count" else "tokens * 1.5"
    m.update(extra)
    return m


CASES: dict[str, dict[str, Any]] = {}
for _agg in AGGS:
    CASES[f"summary_{_agg}"] = {"path": "summary", "metric": _metric(_agg)}
    CASES[f"summary_{_agg}_day_model"] = {"path": "summary", "metric": _metric(_agg), "granularity": "day",
                                          "dimensions": ["model"]}
for _g in ("hour", "week"):
    CASES[f"summary_sum_{_g}"] = {"path": "summary", "metric": _metric("sum"), "granularity": _g}
for _agg in RECURRING:
    CASES[f"summary_{_agg}_recurring"] = {"path": "summary", "metric": _metric(_agg, recurring=True)}
    CASES[f"summary_{_agg}_recurring_day_region"] = {
        "path": "summary", "metric": _metric(_agg, recurring=True), "granularity": "day", "dimensions": ["region"]}
CASES["summary_sum_inclusive_end_no_event_name"] = {
    "path": "summary", "metric": {"code": "m", "aggregation": "sum", "value": "tokens"},
    "inclusive_start": False, "inclusive_end": True, "granularity": "day"}
CASES["summary_count_rounded_two_dims"] = {
    "path": "summary", "metric": _metric("count", rounding="ceil", rounding_precision=1),
    "dimensions": ["model", "hour_floor_timestamp_millis(timestamp_millis)"]}
for _agg in ("sum", "latest", "unique_count"):
    CASES[f"summaries_all_{_agg}_day_model"] = {"path": "summaries", "metric": _metric(_agg), "granularity": "day",
                                                "dimensions": ["model"]}
CASES["summaries_listed_sum"] = {"path": "summaries", "metric": _metric("sum"), "subject_ids": ["subj_1", "subj_2"]}
CASES["summaries_listed_unique_count_recurring"] = {
    "path": "summaries", "metric": _metric("unique_count", recurring=True), "subject_ids": ["subj_1"],
    "granularity": "week"}
CASES["shared_scan_four_metrics"] = {
    "path": "shared", "metrics": [_metric("sum"), _metric("count"), _metric("latest"),
                                  {"code": "a", "aggregation": "avg", "value": "latency"}],
    "dimensions": ["region"], "filter": "model = 'gpt'"}
# `latest` of a bare property (Lago field_name): a top-1 ungrouped, read after arg_max grouped
CASES["summary_latest_property"] = {"path": "summary", "metric": _metric("latest", value="tokens")}
CASES["summary_latest_property_day_model"] = {"path": "summary", "metric": _metric("latest", value="tokens"),
                                              "granularity": "day", "dimensions": ["model"]}
CASES["summaries_all_latest_property"] = {"path": "summaries", "metric": _metric("latest", value="tokens")}
CASES["shared_scan_latest_property_and_count"] = {
    "path": "shared", "metrics": [_metric("latest", value="tokens"), _metric("count")]}
CASES["shared_scan_weighted_and_max_day"] = {
    "path": "shared", "metrics": [_metric("weighted_sum"), _metric("max")], "granularity": "day"}
CASES["price_unit_grouped"] = {
    "path": "price", "price": {"metric": _metric("sum"), "model": "unit", "unit_amount": "0.002"},
    "filter": "model = 'gpt'", "grouping_keys": ["region", "hour_floor_timestamp_millis(timestamp_millis)"]}
CASES["price_matrix"] = {
    "path": "price",
    "price": {"metric": _metric("sum"), "model": "matrix", "dimensions": ["model"], "default_unit_amount": "1",
              "matrix_values": [{"dimension_values": ["gpt"], "unit_amount": "2"}]}}


@pytest.fixture(scope="module")
def engines():
    out = {"duckdb": meterql.connect("duckdb://"), "clickhouse": meterql.connect("chdb://?database=meterql_golden")}
    yield out
    for e in out.values():
        e.close()


def _plan_sql(engine: Any, case: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(SQL, bound parameters) of the one statement a case's call runs: the only place that knows
    the planner's entry points."""
    from meterql.metric import Period
    from meterql.plan import Window, build

    period = Period.from_dict({"start": START, "end": END, "inclusive_start": case.get("inclusive_start", True),
                               "inclusive_end": case.get("inclusive_end", False)})
    gran, dims = case.get("granularity"), tuple(case.get("dimensions", ()))
    path = case["path"]
    if path == "summary":
        window = Window("subj_1", period.start, period.end, period.inclusive_start, period.inclusive_end, gran, dims)
        plan = engine.plan(Metric.from_dict(case["metric"]), window)
    elif path == "summaries":
        window = Window(None, period.start, period.end, period.inclusive_start, period.inclusive_end, gran, dims,
                        subject_ids=case.get("subject_ids"))
        plan = engine.plan_subjects(Metric.from_dict(case["metric"]), window)
    elif path == "shared":
        window = Window("subj_1", period.start, period.end, True, False, gran, dims, case.get("filter"))
        plan = build([Metric.from_dict(m) for m in case["metrics"]], window, engine.dialect, engine._table())
    elif path == "price":
        from meterql.pricing.evaluation import _as_price, _dimensions, _request, DEFAULT_LIMITS

        price = _as_price(case["price"])
        request = _request(START, END, case.get("filter"), case.get("grouping_keys", ()), DEFAULT_LIMITS, None,
                           check_lookback=False)
        pdims, _, _ = _dimensions(price, request)
        window = Window("subj_1", request.start_ms, request.end_ms, True, False, None, pdims, request.filter)
        plan = engine.plan(price.metric, window)
    else:  # pragma: no cover
        raise AssertionError(path)
    return plan.sql(), dict(plan.params)


def _render(name: str, case: dict[str, Any], dialect: str, sql: str, params: dict[str, Any]) -> str:
    header = (f"-- case: {name}\n-- kind: plan ({case['path']})\n-- dialect: {dialect}\n"
              f"-- input: {json.dumps(case, sort_keys=True)}\n"
              f"-- parameters: {json.dumps(params, sort_keys=True, default=str)}\n")
    return header + sql + "\n"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_plan_golden(engines, name, dialect):
    case = CASES[name]
    sql, params = _plan_sql(engines[dialect], case)
    got = _render(name, case, dialect, sql, params)
    path = GOLDEN / dialect / f"{name}.sql"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with METERQL_UPDATE_GOLDEN=1 and review it"
    assert got == path.read_text(encoding="utf-8"), f"plan SQL for {name} ({dialect}) changed; review and regenerate"


def test_no_stale_plan_goldens():
    for dialect in DIALECTS:
        names = {p.stem for p in (GOLDEN / dialect).glob("*.sql")}
        assert names <= set(CASES), f"stale plan goldens in {dialect}: {sorted(names - set(CASES))}"


def test_golden_plans_run(engines):
    """Every golden statement is valid SQL on its engine (an empty store answers it)."""
    for name, case in CASES.items():
        for dialect, engine in engines.items():
            sql, params = _plan_sql(engine, case)
            engine._query(sql, params)
