"""The benchmark harness: load the same generated events into each engine, answer every workload
four ways, check the answers are identical, and time them side by side.

Consumes: sizes (numbers of events), engine kinds (`duckdb`, `chdb`), workload names, a seed.
Produces: a result dict (`run`) that `report.py` turns into JSON, a markdown table and a chart.
Guarantees:
- one process, one data set per size, shared by every variant; variants of a workload are timed
  interleaved (A, B, C, then C, B, A, …) so machine noise hits them alike; medians are reported;
- every variant's answer is compared with the others (and with the plain-Python loop) before it
  is timed: a benchmark of a wrong answer is recorded as a mismatch, never as a speed;
- chdb is one server per process (HAZARDS): each size gets its own uuid database on the in-memory
  server, dropped afterwards.
"""

from __future__ import annotations

import gc
import os
import platform
import shutil
import statistics
import tempfile
import time
import uuid
from typing import Any, Callable, Sequence

import meterql
from meterql.plan import Window

from .generate import generate
from .workloads import Workload, all_workloads

Timer = Callable[[], Any]


def median_ms(samples: Sequence[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def interleaved(fns: dict[str, Timer], runs: int, warmup: int = 2) -> dict[str, dict[str, float]]:
    """Median and min of `runs` timings of each function, run in alternating order."""
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    samples: dict[str, list[float]] = {n: [] for n in names}
    for i in range(runs):
        for n in names if i % 2 == 0 else reversed(names):
            t = time.perf_counter()
            fns[n]()
            samples[n].append(time.perf_counter() - t)
    return {n: {"median_ms": median_ms(s), "min_ms": round(min(s) * 1000, 3), "runs": len(s)} for n, s in samples.items()}


def once(fn: Timer) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def connect(kind: str, workdir: str) -> Any:
    if kind == "duckdb":
        return meterql.connect(f"duckdb:///{workdir}/bench-{uuid.uuid4().hex[:8]}.duckdb")
    if kind == "chdb":
        return meterql.connect(f"chdb://?database=bench_{uuid.uuid4().hex[:12]}")
    raise ValueError(f"unknown engine {kind!r} (duckdb, chdb)")


def dispose(engine: Any) -> None:
    drop = getattr(engine, "drop", None)
    if drop is not None:
        drop()
    engine.close()


def _norm(result: Any) -> list:
    return sorted(result, key=repr)


def answers(w: Workload, engine: Any, events: Sequence[dict] | None) -> tuple[dict[str, Any], Any]:
    """Every variant's answer (and the prepared generated SQL, reused by the timings)."""
    prepared = w.prepare(engine)
    out = {"meterql": w.meterql(engine), "generated": w.generated(engine, prepared), "hand": w.hand(engine)}
    for name, fn in w.extra.items():
        out[name] = fn(engine)
    if events is not None:
        out["python"] = w.python(events)
    return out, prepared


def check_identical(found: dict[str, Any]) -> list[str]:
    """Names of the variants whose answer differs from the hand-written SQL's."""
    ref = _norm(found["hand"])
    return [name for name, got in found.items() if _norm(got) != ref]


def bench_workload(w: Workload, engine: Any, events: Sequence[dict] | None, runs: int) -> dict[str, Any]:
    found, prepared = answers(w, engine, events)
    bad = check_identical(found)
    rec: dict[str, Any] = {"question": w.question, "identical": not bad, "rows": len(found["hand"])}
    if bad:
        rec["mismatch"] = {n: _norm(found[n])[:5] for n in ["hand", *bad]}
    fns: dict[str, Timer] = {
        "meterql": lambda: w.meterql(engine),
        "generated": lambda: w.generated(engine, prepared),
        "hand": lambda: w.hand(engine),
    }
    if w.loop:  # the one-query variants interleaved as usual; the per-subject loops (extra) one run each
        timings = interleaved(fns, runs)
        for n, fn in w.extra.items():
            _, secs = once(lambda fn=fn: fn(engine))
            timings[n] = {"median_ms": round(secs * 1000, 3), "runs": 1}
    else:
        timings = interleaved(fns, runs)
        for n, fn in w.extra.items():
            timings.update(interleaved({n: lambda fn=fn: fn(engine)}, runs))
    if events is not None:
        _, secs = once(lambda: w.python(events))
        timings["python"] = {"median_ms": round(secs * 1000, 3), "runs": 1}
    rec["timings"] = timings
    hand = timings["hand"]["median_ms"]
    rec["ratio_generated_vs_hand"] = round(timings["generated"]["median_ms"] / hand, 3)
    rec["ratio_meterql_vs_hand"] = round(timings["meterql"]["median_ms"] / hand, 3)
    if "python" in timings:
        rec["ratio_python_vs_meterql"] = round(timings["python"]["median_ms"] / timings["meterql"]["median_ms"], 2)
    if "hand_loop" in timings:
        rec["ratio_loop_vs_one_query"] = round(timings["hand_loop"]["median_ms"] / hand, 1)
    if "meterql_loop" in timings:  # the per-subject summary loop vs meterql's one-query API
        rec["ratio_meterql_loop_vs_one_query"] = round(
            timings["meterql_loop"]["median_ms"] / timings["meterql"]["median_ms"], 1)
    rec["generated_sql"] = _sql_of(prepared)
    return rec


def _sql_of(prepared: Any) -> list[str]:
    if isinstance(prepared, tuple):  # invoice run: (plan, sql, params)
        return [prepared[1]]
    return [sql for _, sql, _ in prepared]


# --- compile latency and per-call planning overhead ---------------------------------------------

COMPILE_CASES = [
    ("filter", "region = 'eu' AND model IN ('gpt-4o', 'claude-haiku') AND tokens > {i}"),
    ("value", "round(tokens * 1.5 + {i}, 2)"),
    ("grouping_key", "concat(region, '-', day_floor_timestamp_millis(timestamp_millis + {i}))"),
]


def compile_latency(dialects: Sequence[str], n_uncached: int = 200, n_cached: int = 5000) -> dict[str, Any]:
    """meterql.compile (parse + check + compile + render): distinct texts (every cache misses)
    vs the same text again (the LRU cache)."""
    out: dict[str, Any] = {}
    for d in dialects:
        for kind, template in COMPILE_CASES:
            meterql.compile(template.format(i=0), kind, d)  # import and build the parser once
            samples = []
            for i in range(1, n_uncached + 1):
                text = template.format(i=i + 10_000 * len(out))
                t = time.perf_counter()
                meterql.compile(text, kind, d)
                samples.append(time.perf_counter() - t)
            text = template.format(i=1)
            t = time.perf_counter()
            for _ in range(n_cached):
                meterql.compile(text, kind, d)
            cached_us = (time.perf_counter() - t) / n_cached * 1e6
            out[f"{d}/{kind}"] = {
                "uncached_median_ms": median_ms(samples),
                "uncached_p95_ms": round(sorted(samples)[int(len(samples) * 0.95)] * 1000, 3),
                "cached_us": round(cached_us, 2),
            }
    return out


def planning_overhead(engine: Any, runs: int = 300) -> dict[str, float]:
    """Python-side cost (µs) a `summary` call pays around its query: plan (cached template +
    parameters), render (the SQL text) and finish (rows → exact values)."""
    from .workloads import MONTH, TOKENS, BUSIEST

    plan = engine.plan(TOKENS, Window(BUSIEST, MONTH[0], MONTH[1]))
    rows = engine._query(plan.sql(), plan.params)
    samples: dict[str, list[float]] = {"plan_us": [], "render_us": [], "finish_us": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        p = engine.plan(TOKENS, Window(BUSIEST, MONTH[0], MONTH[1]))
        t1 = time.perf_counter()
        p.sql()
        t2 = time.perf_counter()
        p.finish(rows)
        t3 = time.perf_counter()
        samples["plan_us"].append(t1 - t0)
        samples["render_us"].append(t2 - t1)
        samples["finish_us"].append(t3 - t2)
    return {k: round(statistics.median(v) * 1e6, 1) for k, v in samples.items()}


def normalize_rate(events: Sequence[dict], n: int = 50_000) -> float:
    """Events/s of `values.normalize_event` alone (the Python share of ingest)."""
    from meterql.values import normalize_event

    sample = events[:n]
    t = time.perf_counter()
    for ev in sample:
        normalize_event(ev)
    return round(len(sample) / (time.perf_counter() - t))


# --- the run ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(next(line.split()[1] for line in f if line.startswith("MemTotal"))) // 1024
    except (OSError, StopIteration):
        pass
    import duckdb

    import chdb  # noqa: F401

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_mib": mem,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "chdb": getattr(__import__("chdb"), "__version__", "?"),
        "platform": platform.platform(),
    }


def run(sizes: Sequence[int], engines: Sequence[str], workload_names: Sequence[str] | None = None, *,
        seed: int = 42, runs: int = 15, python_loop: bool = True, compile_samples: tuple[int, int] = (200, 5000),
        reuse: dict[str, str] | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """`reuse` maps an engine kind to the URL of a store that already holds the generated events
    of the (single) size asked for (same generator and seed): ingest is then skipped."""
    workloads = [w for w in all_workloads() if not workload_names or w.name in workload_names]
    unknown = set(workload_names or ()) - {w.name for w in workloads}
    if unknown:
        raise SystemExit(f"unknown workloads: {sorted(unknown)}")
    result: dict[str, Any] = {"machine": machine(), "seed": seed, "runs": runs, "sizes": {}}
    log("compile latency …")
    dialects = sorted({"duckdb" if e == "duckdb" else "clickhouse" for e in engines})
    result["compile"] = compile_latency(dialects, *compile_samples)
    workdir = tempfile.mkdtemp(prefix="meterql-bench-")
    for n in sizes:
        # With the Python loop the events are held in memory (~1 GB per million) and ingest is
        # timed alone; without it (10M+) they are streamed, so ingest time includes generating
        # them (the generator's own rate is reported beside it, measured on 100,000 events).
        sample, sample_secs = once(lambda: list(generate(min(n, 100_000), seed=seed)))
        size: dict[str, Any] = {"generate_events_per_s": round(len(sample) / sample_secs), "engines": {},
                                "ingest_includes_generation": not python_loop}
        size["normalize_events_per_s"] = normalize_rate(sample)
        del sample
        events: list[dict] | None = None
        if python_loop:
            log(f"generating {n:,} events …")
            events = list(generate(n, seed=seed))
        for kind in engines:
            reused = (reuse or {}).get(kind)
            engine = meterql.connect(reused) if reused else connect(kind, workdir)
            try:
                if reused:
                    stored = engine.count_events()
                    if stored != n:
                        raise SystemExit(f"{reused} holds {stored:,} events, not {n:,}")
                    ingest: dict[str, Any] = {"reused": reused}
                else:
                    log(f"[{kind} {n:,}] ingest …")
                    source = events if events is not None else generate(n, seed=seed)
                    report, secs = once(lambda: engine.ingest(source, batch_size=100_000))
                    ingest = {"seconds": round(secs, 2), "events_per_s": round(n / secs), "inserted": report.inserted,
                              "rejected": len(report.rejected)}
                rec: dict[str, Any] = {
                    "ingest": ingest,
                    "planning_overhead": planning_overhead(engine, 300 if runs > 1 else 20),
                    "workloads": {},
                }
                for w in workloads:
                    log(f"[{kind} {n:,}] {w.name} …")
                    rec["workloads"][w.name] = bench_workload(w, engine, events, runs)
                    wr = rec["workloads"][w.name]
                    log(f"    identical={wr['identical']} gen/hand={wr['ratio_generated_vs_hand']} "
                        + " ".join(f"{k}={v['median_ms']}ms" for k, v in wr["timings"].items()))
                size["engines"][kind] = rec
            finally:
                if reused:
                    engine.close()  # never drop a store we did not create
                else:
                    dispose(engine)
                gc.collect()
        del events
        gc.collect()
        result["sizes"][str(n)] = size
    shutil.rmtree(workdir, ignore_errors=True)  # the DuckDB stores (~210 MB per million events)
    return result
