"""`python -m benchmarks.ingest [--events 1000000] [--engines duckdb,chdb] [--out benchmarks/out]`

Ingest throughput and peak memory, each measurement in its own subprocess (peak RSS =
`resource.getrusage(RUSAGE_SELF).ru_maxrss` of that process alone):

- `ingest`       — `engine.ingest(list of event dicts)`, the events generated in chunks of 200,000
                   (generation not timed; the list of one chunk is what the process holds);
- `ingest_rows`  — the same with the row-by-row reader (`engine.columnar_ingest = False`), the
                   previous path, for the ratio;
- `ingest_file`  — `engine.ingest_file(events.jsonl)`: the bulk path, streamed in batches;
- `native`       — the engine's own bulk load of the same file into a typed table with a key
                   (DuckDB: `read_json` → `events(event_id VARCHAR PRIMARY KEY, …, properties JSON)`;
                   ClickHouse: `file(…, JSONEachRow)` → MergeTree ORDER BY (subject_id, timestamp)),
                   no validation, no property readings — the floor to compare with;
- `ingest_file` at 3× the events: peak RSS must not grow with the file.

Every variant's stored count is checked against the number of events. Results: `ingest-<engine>.json`
in --out and a table on stdout (copied into benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SRC = os.path.join(_ROOT, "src")
CHUNK = 200_000


def write_jsonl(path: str, n: int, seed: int) -> None:
    from .generate import generate

    with open(path, "w") as f:
        for e in generate(n, seed=seed):
            f.write(json.dumps(e, separators=(",", ":")))
            f.write("\n")


def _url(engine: str, store: str, max_memory_mib: int = 0) -> str:
    limit = f"max_memory_usage={max_memory_mib * 1024 * 1024}" if max_memory_mib else ""
    if engine == "duckdb":
        return f"duckdb:///{store}" + (f"?{limit}" if limit else "")
    return f"chdb:///{store}?database=bench_{uuid.uuid4().hex[:8]}" + (f"&{limit}" if limit else "")


def one(mode: str, engine: str, n: int, path: str, seed: int, max_memory_mib: int = 0) -> dict:
    """One measurement (in a fresh process)."""
    sys.path.insert(0, _SRC)
    import meterql

    store = tempfile.mkdtemp(prefix="meterql-ingest-")
    store_path = os.path.join(store, "db.duckdb") if engine == "duckdb" else os.path.join(store, "chdb")
    c0 = _cpu()
    if mode == "native":
        seconds, count = _native(engine, store_path, path)
        shutil.rmtree(store, ignore_errors=True)
        return {"seconds": seconds, "stored": count, "rss_mib": _rss(), "cpu_s": _cpu() - c0}
    eng = meterql.connect(_url(engine, store_path, max_memory_mib))
    if mode == "ingest_rows":
        eng.columnar_ingest = False
    seconds = ingest_cpu = 0.0
    if mode == "ingest_file":
        t = time.perf_counter()
        report = eng.ingest_file(path, batch_size=100_000)
        seconds = time.perf_counter() - t
        assert not report.rejected, report.rejected[:3]
    else:
        from .generate import generate

        events = generate(n, seed=seed)
        done = 0
        while done < n:
            chunk = [next(events) for _ in range(min(CHUNK, n - done))]
            t, c = time.perf_counter(), _cpu()
            report = eng.ingest(chunk, batch_size=100_000)
            seconds += time.perf_counter() - t
            ingest_cpu += _cpu() - c
            assert not report.rejected
            done += len(chunk)
            del chunk
    cpu = _cpu() - c0
    shutil.rmtree(store, ignore_errors=True)
    if mode != "ingest_file":
        cpu = ingest_cpu  # the ingest calls only, not the generation of their events
    count = eng.count_events()
    eng.close()
    return {"seconds": seconds, "stored": count, "rss_mib": _rss(), "cpu_s": cpu}


def _native(engine: str, store_path: str, path: str) -> tuple[float, int]:
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect(store_path)
        con.execute("CREATE TABLE events (event_id VARCHAR PRIMARY KEY, subject_id VARCHAR NOT NULL, "
                    "event_name VARCHAR NOT NULL, timestamp BIGINT NOT NULL, properties JSON)")
        t = time.perf_counter()
        con.execute(
            "INSERT INTO events SELECT * FROM read_json(?, format='newline_delimited', columns={event_id: 'VARCHAR', "
            "subject_id: 'VARCHAR', event_name: 'VARCHAR', timestamp: 'BIGINT', properties: 'JSON'}) "
            "ORDER BY subject_id, timestamp", [path])
        seconds = time.perf_counter() - t
        return seconds, con.execute("SELECT count(*) FROM events").fetchone()[0]
    from chdb import session

    s = session.Session(store_path)
    s.query("CREATE DATABASE IF NOT EXISTS b")
    s.query("CREATE TABLE b.events (event_id String, subject_id String, event_name LowCardinality(String), "
            "timestamp Int64, properties String) ENGINE = MergeTree ORDER BY (subject_id, timestamp, event_id)")
    t = time.perf_counter()
    s.query(f"INSERT INTO b.events SELECT * FROM file('{path}', JSONEachRow, 'event_id String, subject_id String, "
            "event_name String, timestamp Int64, properties String') "
            "SETTINGS input_format_json_read_objects_as_strings = 1")
    seconds = time.perf_counter() - t
    return seconds, int(str(s.query("SELECT count() FROM b.events", "CSV")).strip())


def _cpu() -> float:
    """CPU seconds of this process, all threads (less sensitive to a shared machine than wall time)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_one(mode: str, engine: str, n: int, path: str, seed: int, max_memory_mib: int = 0) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.ingest", "--one", mode, "--engines", engine,
                          "--events", str(n), "--file", path, "--seed", str(seed),
                          "--max-memory-mib", str(max_memory_mib)],
                         cwd=_ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} on {engine} failed:\n{out.stderr[-3000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["stored"] != n:
        raise SystemExit(f"{mode} on {engine}: stored {r['stored']} of {n} events")
    r.update(mode=mode, engine=engine, events=n, events_per_s=n / r["seconds"])
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--engines", default="duckdb,chdb")
    ap.add_argument("--modes", default="ingest,ingest_rows,ingest_file,native,scale")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default=os.path.join(_ROOT, "benchmarks", "out"))
    ap.add_argument("--max-memory-mib", type=int, default=0,
                    help="the engine's memory limit (QueryLimits.max_memory_usage; DuckDB: its buffer pool)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.engines, args.events, args.file, args.seed, args.max_memory_mib)))
        return 0
    modes = args.modes.split(",")
    tmp = tempfile.mkdtemp(prefix="meterql-ingest-bench-")
    path = os.path.join(tmp, "events.jsonl")
    write_jsonl(path, args.events, args.seed)
    big = os.path.join(tmp, "events-3x.jsonl")
    if "scale" in modes:
        write_jsonl(big, 3 * args.events, args.seed)
    os.makedirs(args.out, exist_ok=True)
    for engine in args.engines.split(","):
        results = []
        for mode in modes:
            if mode == "scale":
                r = run_one("ingest_file", engine, 3 * args.events, big, args.seed, args.max_memory_mib)
                r["mode"] = "ingest_file_3x"
            else:
                r = run_one(mode, engine, args.events, path, args.seed, args.max_memory_mib)
            results.append(r)
            print(f"{engine:7} {r['mode']:15} {r['events']:>10,} events {r['events_per_s']:>10,.0f} ev/s "
                  f"peak RSS {r['rss_mib']:>7,.0f} MiB  cpu {r['cpu_s'] / r['events'] * 1e6:5.1f} µs/event", flush=True)
        name = f"ingest-{engine}-{args.events}" + (f"-mem{args.max_memory_mib}" if args.max_memory_mib else "")
        with open(os.path.join(args.out, f"{name}.json"), "w") as f:
            json.dump({"events": args.events, "max_memory_mib": args.max_memory_mib, "load": os.getloadavg(),
                       "results": results}, f, indent=2)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
