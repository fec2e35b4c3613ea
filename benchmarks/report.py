"""Benchmark report: the harness's result dict → `results.json`, `results.md`, `ratios.png`.

Consumes: the dict returned by `harness.run`. Produces: the three files in an output directory.
Guarantees: the markdown states every target of the benchmarks issue next to the measured number
(the largest size run), so a missed target is visible, never averaged away.
"""

from __future__ import annotations

import json
import os
from typing import Any

TARGET_RATIO = 1.10


def write(result: dict[str, Any], out_dir: str) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, "results.json"), os.path.join(out_dir, "results.md")]
    with open(paths[0], "w") as f:
        json.dump(result, f, indent=2, default=str)
    with open(paths[1], "w") as f:
        f.write(markdown(result))
    png = os.path.join(out_dir, "ratios.png")
    if chart(result, png):
        paths.append(png)
    return paths


def _ms(t: dict[str, Any] | None) -> str:
    if not t:
        return "–"
    v = t["median_ms"]
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}"


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    out = ["# meterql benchmark results", ""]
    out.append(f"Machine: {m['nproc']} cores, {m['cpu']}, {m['memory_mib'] / 1024:.0f} GiB; Python {m['python']}, "
               f"DuckDB {m['duckdb']}, chdb {m['chdb']}; seed {r['seed']}; medians of {r['runs']} interleaved runs "
               "(per-subject loops: one run). Times in ms.")
    out.append("")
    for n, size in r["sizes"].items():
        out.append(f"## {int(n):,} events")
        out.append("")
        out.append(f"Generator alone: {size['generate_events_per_s']:,} events/s; `values.normalize_event` alone "
                   f"(the Python share of ingest): {size['normalize_events_per_s']:,} events/s."
                   + (" Ingest below includes generating the events (streamed)."
                      if size["ingest_includes_generation"]
                      and any("events_per_s" in e["ingest"] for e in size["engines"].values()) else ""))
        out.append("")
        for kind, rec in size["engines"].items():
            ing, po = rec["ingest"], rec["planning_overhead"]
            out.append(f"### {kind}")
            out.append("")
            ing_text = (f"Ingest: {ing['events_per_s']:,} events/s ({ing['seconds']} s)." if "events_per_s" in ing
                        else f"Ingest: not measured (store reused: {ing.get('reused')}).")
            out.append(f"{ing_text} Per-call Python overhead of a "
                       f"summary: plan {po['plan_us']} µs, render {po['render_us']} µs, finish {po['finish_us']} µs.")
            out.append("")
            out.append("| workload | rows | identical | meterql API | generated SQL | hand SQL | gen/hand | api/hand | Python loop | loop/api |")
            out.append("|---|---:|:-:|---:|---:|---:|---:|---:|---:|---:|")
            for name, w in rec["workloads"].items():
                t = w["timings"]
                flag = "" if w["ratio_generated_vs_hand"] <= TARGET_RATIO else " ⚠"
                out.append(
                    f"| {name} | {w['rows']} | {'yes' if w['identical'] else '**NO**'} | {_ms(t['meterql'])} | "
                    f"{_ms(t['generated'])} | {_ms(t['hand'])} | {w['ratio_generated_vs_hand']:.2f}{flag} | "
                    f"{w['ratio_meterql_vs_hand']:.2f} | {_ms(t.get('python'))} | "
                    f"{w.get('ratio_python_vs_meterql', '–')} |"
                )
            inv = rec["workloads"].get("invoice_run")
            if inv:
                t = inv["timings"]
                out.append("")
                out.append(f"Invoice run: hand-written one query {_ms(t['hand'])} ms vs a loop of per-subject hand "
                           f"queries {_ms(t['hand_loop'])} ms (×{inv['ratio_loop_vs_one_query']}); meterql's "
                           f"`engine.summaries` (one query) {_ms(t['meterql'])} ms vs a loop of `summary` per subject "
                           f"{_ms(t.get('meterql_loop'))} ms (×{inv.get('ratio_meterql_loop_vs_one_query', '–')}).")
            out.append("")
    out.append("## Compile latency (parse + check + compile + render)")
    out.append("")
    out.append("| dialect/kind | uncached median ms | uncached p95 ms | cached µs |")
    out.append("|---|---:|---:|---:|")
    for k, v in r["compile"].items():
        out.append(f"| {k} | {v['uncached_median_ms']} | {v['uncached_p95_ms']} | {v['cached_us']} |")
    out.append("")
    out += targets(r)
    if len(r["sizes"]) > 1:
        out += growth(r)
    return "\n".join(out) + "\n"


def targets(r: dict[str, Any]) -> list[str]:
    rows = ["## Targets", "", "| events | target | measured | met |", "|---:|---|---|:-:|"]
    for n, size in r["sizes"].items():
        rows += _size_targets(f"{int(n):,}", size)
    worst_unc = max(v["uncached_median_ms"] for v in r["compile"].values())
    worst_c = max(v["cached_us"] for v in r["compile"].values())
    rows.append(f"| – | compile ≤ 1 ms uncached | worst median {worst_unc} ms | {'yes' if worst_unc <= 1 else 'no'} |")
    rows.append(f"| – | compile ≤ 50 µs cached | worst {worst_c} µs | {'yes' if worst_c <= 50 else 'no'} |")
    return rows + [""]


def _size_targets(n: str, size: dict[str, Any]) -> list[str]:
    rows = []
    for kind, rec in size["engines"].items():
        worst = max(rec["workloads"].items(), key=lambda kv: kv[1]["ratio_generated_vs_hand"])
        rows.append(f"| {kind}: generated SQL ≤ 1.10× hand-written on every workload | worst {worst[0]} "
                    f"{worst[1]['ratio_generated_vs_hand']:.2f}× | {'yes' if worst[1]['ratio_generated_vs_hand'] <= TARGET_RATIO else 'no'} |")
        for name, who in (("hot_path", "busiest subject"), ("hot_path_tail", "mid-tail subject")):
            hp = rec["workloads"].get(name)
            if hp and kind == "duckdb":
                v = hp["timings"]["meterql"]["median_ms"]
                rows.append(f"| duckdb: one-subject-one-month summary ≤ 5 ms | {v:.2f} ms ({who}, API) | {'yes' if v <= 5 else 'no'} |")
        inv = rec["workloads"].get("invoice_run")
        if inv:
            x = inv["ratio_loop_vs_one_query"]
            m = inv.get("ratio_meterql_loop_vs_one_query")
            rows.append(f"| {kind}: invoice run as one query ≥ 20× faster than a per-subject loop | ×{x} (hand SQL); "
                        f"×{m if m is not None else '–'} (meterql `summaries` vs `summary` loop) | "
                        f"{'yes' if x >= 20 and (m is None or m >= 20) else 'no'} |")
        ing = rec["ingest"].get("events_per_s")
        if ing is not None:
            rows.append(f"| {kind}: ingest ≥ 200,000 events/s | {ing:,} | {'yes' if ing >= 200_000 else 'no'} |")
    return [f"| {n} " + row for row in rows]


def growth(r: dict[str, Any]) -> list[str]:
    sizes = sorted(r["sizes"], key=int)
    lo, hi = sizes[0], sizes[-1]
    rows = [f"## Growth from {int(lo):,} to {int(hi):,} events (median ms, API / hand SQL)", "",
            "| engine | workload | api " + lo + " | api " + hi + " | × | hand " + lo + " | hand " + hi + " | × |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for kind in r["sizes"][hi]["engines"]:
        for name, w_hi in r["sizes"][hi]["engines"][kind]["workloads"].items():
            w_lo = r["sizes"][lo]["engines"].get(kind, {}).get("workloads", {}).get(name)
            if not w_lo:
                continue
            a0, a1 = w_lo["timings"]["meterql"]["median_ms"], w_hi["timings"]["meterql"]["median_ms"]
            h0, h1 = w_lo["timings"]["hand"]["median_ms"], w_hi["timings"]["hand"]["median_ms"]
            rows.append(f"| {kind} | {name} | {a0:.2f} | {a1:.2f} | {a1 / a0:.1f} | {h0:.2f} | {h1:.2f} | {h1 / h0:.1f} |")
    ing = [f"{kind} {r['sizes'][s]['engines'][kind]['ingest']['events_per_s']:,}/s at {int(s):,}"
           for s in sizes for kind in r["sizes"][s]["engines"] if "events_per_s" in r["sizes"][s]["engines"][kind]["ingest"]]
    rows += ["", "Ingest: " + "; ".join(ing) + ".", ""]
    return rows


def chart(r: dict[str, Any], path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    # The size with the most engines (then the largest): one bar per engine and workload.
    n = max(r["sizes"], key=lambda k: (len(r["sizes"][k]["engines"]), int(k)))
    engines = r["sizes"][n]["engines"]
    names = list(next(iter(engines.values()))["workloads"])
    fig, ax = plt.subplots(figsize=(11, 4.8))
    width = 0.8 / max(len(engines), 1)
    for i, (kind, rec) in enumerate(engines.items()):
        vals = [rec["workloads"][w]["ratio_generated_vs_hand"] if w in rec["workloads"] else 0 for w in names]
        bars = ax.bar([x + i * width for x in range(len(names))], vals, width, label=kind)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(TARGET_RATIO, color="red", linestyle="--", linewidth=1, label="target 1.10×")
    ax.axhline(1.0, color="gray", linewidth=0.5)
    ax.set_xticks([x + width * (len(engines) - 1) / 2 for x in range(len(names))], names, rotation=25, ha="right")
    ax.set_ylabel("generated SQL time ÷ hand-written SQL time")
    ax.set_ylim(0, max(2.0, ax.get_ylim()[1]))
    ax.set_title(f"meterql generated vs hand-written SQL, {int(n):,} events (median; lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs (e.g. 1M, and 10M on a reused store) as one result with several sizes; the
    machine, seed and runs of the first are kept, each size keeps its own numbers."""
    out = dict(results[0])
    out["sizes"] = {}
    out["compile"] = results[0]["compile"]
    for r in results:
        for n, size in r["sizes"].items():
            if n in out["sizes"]:
                out["sizes"][n]["engines"].update(size["engines"])
            else:
                out["sizes"][n] = size
    out["sizes"] = dict(sorted(out["sizes"].items(), key=lambda kv: int(kv[0])))
    return out


if __name__ == "__main__":  # python -m benchmarks.report OUT_DIR a/results.json b/results.json …
    import sys

    merged = merge([json.load(open(p)) for p in sys.argv[2:]])
    for p in write(merged, sys.argv[1]):
        print(p)
