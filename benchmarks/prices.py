"""Ten prices in one call vs ten calls (issue 4): `engine.evaluate_prices` vs a loop of `evaluate_price`.

Consumes: a number of events (default 200,000), engines, runs, a seed (the generator of
`generate.py`, stored through the public `engine.ingest`).
Produces: a printed markdown table and a JSON file (`--out`, default `benchmarks/out/prices.json`):
per engine and case, the median ms of one `evaluate_prices(10 prices)` call and of 10
`evaluate_price` calls (timed interleaved), and their ratio.
Guarantees: before anything is timed, the one-call answer is compared with the ten-call answer
(same rows, same quantities and amounts) and, for every price, with an independent plain-Python
Decimal evaluation of the same events; a difference is recorded as a mismatch (never timed) and
the command exits 1.

The two cases:
- `shared_metric`: 10 prices (unit, package, tiered with different rates) on ONE metric (sum of
  tokens): one call aggregates the metric once; ten calls scan ten times;
- `ten_metrics`: 10 prices on 10 different non-recurring metrics over three event names: one
  call runs `aggregate_many`'s shared scan (one SELECT, a CASE per metric); ten calls, ten scans.

Run: `.venv/bin/python -m benchmarks.prices [--events 200000] [--engines duckdb,chdb] [--runs 15]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from decimal import ROUND_CEILING, Decimal
from typing import Any, Sequence

_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if _SRC not in sys.path:  # run from a checkout without `pip install -e .` (as benchmarks/__main__.py)
    sys.path.insert(0, _SRC)

from meterql.price import Price, PriceLimits  # noqa: E402

from .generate import generate  # noqa: E402
from .harness import connect, dispose, interleaved  # noqa: E402
from .workloads import BUSIEST, MONTH, TAIL, canon, num  # noqa: E402

LIMITS = PriceLimits(max_lookback_days=None)  # the data set is fixed in 2025

_TOKENS = {"code": "tokens", "aggregation": "sum", "event_name": "llm_call", "value": "tokens"}


def _unit(metric: dict, rate: str) -> dict:
    return {"metric": metric, "model": "unit", "unit_amount": rate}


def shared_metric_prices() -> list[dict]:
    """10 prices (list price, negotiated rates, packages, tiers) on one billable metric."""
    out = [_unit(_TOKENS, r) for r in ("0.002", "0.0019", "0.0018", "0.0015")]
    out += [{"metric": _TOKENS, "model": "package", "package_amount": a, "package_size": s}
            for a, s in (("1.5", "1000"), ("12", "10000"))]
    for first_rate, rest_rate in (("0.002", "0.0015"), ("0.003", "0.001"), ("0.0025", "0.002"), ("0.004", "0.0005")):
        out.append({"metric": _TOKENS, "model": "tiered", "tiers": [
            {"first_unit": "0", "last_unit": "100000", "unit_amount": first_rate},
            {"first_unit": "100000", "last_unit": None, "unit_amount": rest_rate}]})
    return out


TEN_METRICS = [
    {"code": "calls", "aggregation": "count", "event_name": "llm_call"},
    _TOKENS,
    {"code": "cost", "aggregation": "sum", "event_name": "llm_call", "value": "cost_usd"},
    {"code": "max_tokens", "aggregation": "max", "event_name": "llm_call", "value": "tokens"},
    {"code": "models", "aggregation": "unique_count", "event_name": "llm_call", "value": "model"},
    {"code": "eu_tokens", "aggregation": "sum", "event_name": "llm_call", "value": "tokens", "filter": "region = 'eu'"},
    {"code": "requests", "aggregation": "count", "event_name": "api_request"},
    {"code": "latency", "aggregation": "sum", "event_name": "api_request", "value": "latency_ms"},
    {"code": "gb_max", "aggregation": "max", "event_name": "storage_gb", "value": "gb"},
    {"code": "gb_latest", "aggregation": "latest", "event_name": "storage_gb", "value": "gb"},
]


def ten_metric_prices() -> list[dict]:
    return [_unit(m, "0.01") for m in TEN_METRICS]


# --- the independent reference (plain Python, Decimal) -------------------------------------------


def _quantity(metric: dict, events: Sequence[dict], subject: str) -> Decimal | None:
    evs = [e for e in events if e["subject_id"] == subject and e["event_name"] == metric["event_name"]
           and MONTH[0] <= e["timestamp"] < MONTH[1]]
    if metric.get("filter") == "region = 'eu'":
        evs = [e for e in evs if e["properties"].get("region") == "eu"]
    agg = metric["aggregation"]
    if agg == "count":
        return Decimal(len(evs))
    vals = [(e, num(e["properties"].get(metric["value"]))) for e in evs]
    if agg == "unique_count":
        return Decimal(len({e["properties"].get(metric["value"]) for e in evs} - {None}))
    present = [(e, v) for e, v in vals if v is not None]
    if agg == "sum":
        return sum((v for _, v in present), Decimal(0))
    if not present:
        return None
    if agg == "max":
        return max(v for _, v in present)
    if agg == "latest":
        return max(present, key=lambda ev: (ev[0]["timestamp"], ev[0]["event_id"]))[1]
    raise ValueError(agg)


def _amount(price: dict, q: Decimal) -> Decimal:
    if price["model"] == "unit":
        return q * Decimal(price["unit_amount"])
    if price["model"] == "package":
        size = Decimal(price["package_size"])
        packages = (q / size).to_integral_value(rounding=ROUND_CEILING) if q > 0 else Decimal(0)
        return packages * Decimal(price["package_amount"])
    total = Decimal(0)
    for t in price["tiers"]:
        first, last = Decimal(t["first_unit"]), t["last_unit"]
        top = q if last is None else min(q, Decimal(last))
        if top > first:
            total += (top - first) * Decimal(t["unit_amount"])
    return total


def reference(prices: Sequence[dict], events: Sequence[dict], subject: str) -> list[tuple]:
    out = []
    for p in prices:
        q = _quantity(p["metric"], events, subject)
        q = q if q is not None else Decimal(0)
        out.append((canon(q), canon(_amount(p, q))))
    return out


def _flat(results: Sequence[Sequence[Any]]) -> list[tuple]:
    """One (quantity, amount) per price: these prices have no grouping keys, so one row each."""
    out = []
    for rows in results:
        assert len(rows) == 1, rows
        out.append((canon(rows[0].quantity), canon(rows[0].amount)))
    return out


# --- the run --------------------------------------------------------------------------------------


def bench_case(engine: Any, prices: list[Price], payloads: list[dict], events: Sequence[dict], subject: str,
               runs: int) -> dict[str, Any]:
    def one_call() -> list:
        return engine.evaluate_prices(prices, subject, MONTH[0], MONTH[1], limits=LIMITS)

    def ten_calls() -> list:
        return [engine.evaluate_price(p, subject, MONTH[0], MONTH[1], limits=LIMITS) for p in prices]

    a, b, ref = _flat(one_call()), _flat(ten_calls()), reference(payloads, events, subject)
    if not (a == b == ref):  # a wrong answer is recorded as a mismatch, never timed
        bad = [i for i in range(len(ref)) if not (a[i] == b[i] == ref[i])]
        return {"subject": subject, "identical": False,
                "mismatch": {payloads[i]["metric"]["code"] + f"#{i}": {"one_call": a[i], "ten_calls": b[i],
                                                                       "reference": ref[i]} for i in bad}}
    t = interleaved({"one_call": one_call, "ten_calls": ten_calls}, runs)
    return {"subject": subject, "timings": t, "identical": True,
            "ratio_ten_calls_vs_one": round(t["ten_calls"]["median_ms"] / t["one_call"]["median_ms"], 2)}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.prices", description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--engines", default="duckdb,chdb")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="benchmarks/out")
    args = ap.parse_args(argv)

    events = list(generate(args.events, seed=args.seed))
    cases = {"shared_metric": shared_metric_prices(), "ten_metrics": ten_metric_prices()}
    parsed = {k: [Price.from_dict(p) for p in v] for k, v in cases.items()}
    result: dict[str, Any] = {"events": args.events, "seed": args.seed, "runs": args.runs, "results": []}
    with tempfile.TemporaryDirectory() as workdir:
        for kind in args.engines.split(","):
            engine = connect(kind, workdir)
            try:
                engine.ingest(events)
                for case, prices in parsed.items():
                    for subject in (BUSIEST, TAIL):
                        rec = bench_case(engine, prices, cases[case], events, subject, args.runs)
                        rec.update(engine=kind, case=case)
                        result["results"].append(rec)
                        if not rec["identical"]:
                            print(f"{kind:6} {case:13} {subject}: MISMATCH {rec['mismatch']}", flush=True)
                            continue
                        t = rec["timings"]
                        print(f"{kind:6} {case:13} {subject}: one call {t['one_call']['median_ms']:.2f} ms, "
                              f"10 calls {t['ten_calls']['median_ms']:.2f} ms, x{rec['ratio_ten_calls_vs_one']}",
                              flush=True)
            finally:
                dispose(engine)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "prices.json"), "w") as f:
        json.dump(result, f, indent=1)
    print("\n| engine | case | subject | one call ms | 10 calls ms | 10 calls / one |\n|---|---|---|---:|---:|---:|")
    for r in result["results"]:
        if not r["identical"]:
            print(f"| {r['engine']} | {r['case']} | {r['subject']} | MISMATCH | MISMATCH | – |")
            continue
        t = r["timings"]
        print(f"| {r['engine']} | {r['case']} | {r['subject']} | {t['one_call']['median_ms']:.2f} | "
              f"{t['ten_calls']['median_ms']:.2f} | {r['ratio_ten_calls_vs_one']} |")
    bad = [(r["engine"], r["case"], r["subject"]) for r in result["results"] if not r["identical"]]
    if bad:
        print(f"MISMATCH (answers differ): {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
