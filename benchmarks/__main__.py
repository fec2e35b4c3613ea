"""`python -m benchmarks [--events 1000000] [--engines duckdb,chdb] [--workloads …] [--out benchmarks/out]`

Runs every named workload (benchmarks/workloads.py) on each engine over the same seeded events,
checks that meterql, its generated SQL, the hand-written SQL and a plain-Python loop give
identical answers, and writes `results.json`, `results.md` and `ratios.png` to --out.
`--events` takes a comma-separated list (e.g. `1000000,10000000`) to show how costs grow.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SRC = os.path.join(_ROOT, "src")
if _SRC not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, _SRC)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--events", default="1000000", help="events per run; comma-separated sizes for growth")
    ap.add_argument("--engines", default="duckdb,chdb")
    ap.add_argument("--workloads", default="", help="comma-separated names (default: all)")
    ap.add_argument("--runs", type=int, default=15, help="timed runs per variant (medians)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-python-loop", action="store_true", help="skip the plain-Python loop (memory at 10M+)")
    ap.add_argument("--out", default=os.path.join(_ROOT, "benchmarks", "out"))
    ap.add_argument("--reuse", action="append", default=[], metavar="ENGINE=URL",
                    help="reuse a store holding the same generated events (one size only), e.g. duckdb=duckdb:////tmp/10m.duckdb")
    args = ap.parse_args(argv)

    from .harness import run
    from .report import write

    sizes = [int(s.replace("_", "")) for s in args.events.split(",") if s]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    names = [w.strip() for w in args.workloads.split(",") if w.strip()] or None
    reuse = dict(r.split("=", 1) for r in args.reuse)
    if reuse and len(sizes) != 1:
        ap.error("--reuse needs exactly one --events size")
    t = time.perf_counter()
    result = run(sizes, engines, names, seed=args.seed, runs=args.runs, python_loop=not args.no_python_loop,
                 reuse=reuse, log=lambda m: print(m, file=sys.stderr, flush=True))
    result["wall_seconds"] = round(time.perf_counter() - t, 1)
    paths = write(result, args.out)
    for p in paths:
        print(p)
    bad = [(n, e, w) for n, s in result["sizes"].items() for e, r in s["engines"].items()
           for w, wr in r["workloads"].items() if not wr["identical"]]
    if bad:
        print(f"MISMATCH (answers differ): {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
