"""Concurrency and load of `meterql serve`: many clients at once on one store, nothing lost or doubled.

    python -m benchmarks.serve_load --engine duckdb|chdb --clients 16 --seconds 60

Starts `meterql serve` (a subprocess, as a user runs it) on 127.0.0.1 over a fresh store in a
temporary directory (a DuckDB file, or a chdb path), creates subjects and two pricing metrics
(sum and count of `tokens`) through Lark's API, then runs N client threads (httpx, one client
each) for the given time, each request one of:

- `event`: `POST /lark/usage-events` with a new idempotency key (subject, October 2025
  timestamp and a decimal `tokens` drawn at random);
- `retry_same` / `retry_other`: the same POST for a key already answered 2xx, with the same data
  or with other data (another `tokens`) — both must store nothing (first write wins);
- `summary`: `POST /lark/pricing-metrics/{id}/summary` for a random subject over October.

At the end (clients stopped), the checks: every request answered 2xx (0 errors); for each subject
the sum and count summaries over HTTP equal the sums and counts of the first-written data of the
keys posted (Decimal, by hand); then the server stops, the store is opened in this process and
`engine.count_events()` equals the number of distinct keys posted and `engine.summary` equals the
HTTP answers. Prints and writes JSON (`benchmarks/out/serve-load-<engine>.json`): requests/s,
p50/p99 latency per kind, the checks. Exits 1 if a check fails."""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
KEY = "load-test-key"
OCTOBER = {"start": "2025-10-01T00:00:00Z", "end": "2025-11-01T00:00:00Z", "inclusive_start": True,
           "inclusive_end": False}
SUBJECTS = 8
# The mix of request kinds (weights).
MIX = {"event": 50, "retry_same": 10, "retry_other": 10, "summary": 30}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _store_url(engine: str, tmp: Path) -> str:
    if engine == "duckdb":
        return f"duckdb:///{tmp / 'load.duckdb'}"
    return f"chdb:///{tmp / 'chdb'}?database=load"


def _start(url: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "METERQL_API_KEYS": KEY}
    proc = subprocess.Popen([sys.executable, "-m", "meterql.cli", "serve", "--db", url, "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"meterql serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("meterql serve did not answer /healthz")
        time.sleep(0.1)


class Shared:
    """What the clients posted: key → (subject id, tokens) of the first 2xx answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[str, tuple[str, Decimal]] = {}
        self.keys: list[str] = []
        self.latencies: dict[str, list[float]] = {k: [] for k in MIX}
        self.errors: list[str] = []


def _tokens(rng: random.Random) -> str:
    return f"{rng.randint(0, 100000) / 100:.2f}"


def _timestamp(rng: random.Random) -> str:
    day, sec = rng.randint(1, 31), rng.randint(0, 86399)
    return f"2025-10-{day:02d}T{sec // 3600:02d}:{sec % 3600 // 60:02d}:{sec % 60:02d}Z"


def _client(n: int, base: str, subjects: list[str], metrics: dict[str, str], shared: Shared, stop_at: float,
            min_each: int) -> None:
    rng = random.Random(1000 + n)
    kinds, weights = list(MIX), list(MIX.values())
    seq = 0
    hard_stop = stop_at + 300  # --min-each never runs forever

    def more() -> bool:
        now = time.monotonic()
        if now >= hard_stop:
            return False
        if now < stop_at:
            return True
        with shared.lock:
            return any(len(v) < min_each for v in shared.latencies.values())

    with httpx.Client(base_url=base + "/lark", headers={"X-API-Key": KEY}, timeout=60) as c:
        while more():
            kind = rng.choices(kinds, weights)[0]
            with shared.lock:
                known = len(shared.keys)
                key = shared.keys[rng.randrange(known)] if known and kind.startswith("retry") else None
                first = shared.sent.get(key) if key else None
            if kind.startswith("retry") and key is None:
                kind = "event"
            if kind == "summary":
                path, body = f"/pricing-metrics/{metrics[rng.choice(['sum', 'count'])]}/summary", {
                    "period": OCTOBER, "subject_id": rng.choice(subjects)}
            else:
                if kind == "event":
                    seq += 1
                    key, subject, tokens = f"c{n}-{seq}", rng.choice(subjects), _tokens(rng)
                else:
                    subject = first[0]
                    tokens = str(first[1]) if kind == "retry_same" else _tokens(rng)
                path, body = "/usage-events", {"idempotency_key": key, "event_name": "call", "subject_id": subject,
                                               "timestamp": _timestamp(rng), "data": {"tokens": tokens}}
            t0 = time.perf_counter()
            try:
                r = c.post(path, json=body)
                ok = r.status_code == 200
                why = "" if ok else f"{kind}: {r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                ok, why = False, f"{kind}: {type(exc).__name__} {exc}"
            dt = time.perf_counter() - t0
            with shared.lock:
                shared.latencies[kind].append(dt)
                if not ok:
                    shared.errors.append(why)
                elif kind == "event":
                    shared.sent[key] = (subject, Decimal(tokens))
                    shared.keys.append(key)


def _percentile(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run(engine: str, clients: int, seconds: float, min_each: int = 0) -> dict[str, Any]:
    """The load test; `min_each`: go on past `seconds` until every kind has that many requests
    (the CI test's guard against a machine so busy that a short run sends no retry)."""
    import meterql
    from meterql.metric import Metric, quote_property

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp_name:
        tmp = Path(tmp_name)
        url = _store_url(engine, tmp)
        proc, base = _start(url)
        try:
            with httpx.Client(base_url=base + "/lark", headers={"X-API-Key": KEY}, timeout=60) as c:
                subjects = [c.post("/subjects", json={"external_id": f"load-{i}"}).json()["id"] for i in range(SUBJECTS)]
                metrics = {}
                for kind in ("sum", "count"):
                    agg = {"aggregation_type": kind} if kind == "count" else {"aggregation_type": kind, "value_field": "tokens"}
                    metrics[kind] = c.post("/pricing-metrics", json={"aggregation": agg, "event_name": "call",
                                                                     "name": kind, "unit": "tokens"}).json()["id"]
            shared = Shared()
            t0 = time.monotonic()
            threads = [threading.Thread(target=_client, args=(n, base, subjects, metrics, shared, t0 + seconds, min_each))
                       for n in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - t0
            # What the server answers once every client has stopped.
            served: dict[str, dict[str, Any]] = {}
            with httpx.Client(base_url=base + "/lark", headers={"X-API-Key": KEY}, timeout=60) as c:
                for sid in subjects:
                    served[sid] = {k: c.post(f"/pricing-metrics/{m}/summary",
                                             json={"period": OCTOBER, "subject_id": sid}).json()
                                   for k, m in metrics.items()}
        finally:
            proc.terminate()
            proc.wait(60)
        # By hand: the first-written data of every key.
        expected: dict[str, dict[str, str | None]] = {}
        for sid in subjects:
            mine = [t for s, t in shared.sent.values() if s == sid]
            expected[sid] = {"sum": str(sum(mine, Decimal(0)).normalize()) if mine else None,
                             "count": str(len(mine)) if mine else None}

        def value(rows: list[dict]) -> str | None:
            return rows[0]["value"] if rows else None

        def same(a: str | None, b: str | None) -> bool:
            return a == b or (a is not None and b is not None and Decimal(a) == Decimal(b))

        http_ok = all(same(value(served[s][k]), expected[s][k]) for s in subjects for k in metrics)
        store = meterql.connect(url)
        try:
            stored = store.count_events()
            lib_ok = True
            for sid in subjects:
                for k, mid in metrics.items():
                    m = Metric(code=mid, aggregation=k, event_name="call",
                               value=None if k == "count" else quote_property("tokens"))
                    lib = [r.to_dict() for r in store.summary(m, sid, OCTOBER)]
                    for r in lib:
                        r["dimension_coordinates"] = {}
                    lib_ok &= lib == served[sid][k]
        finally:
            store.close()

    counts = {k: len(v) for k, v in shared.latencies.items()}
    total = sum(counts.values())
    result = {
        "engine": engine, "clients": clients, "seconds": round(elapsed, 2), "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "per_kind": {k: {"requests": counts[k], "per_second": round(counts[k] / elapsed, 1),
                         "p50_ms": round(_percentile(v, 0.50) * 1000, 2),
                         "p99_ms": round(_percentile(v, 0.99) * 1000, 2)}
                     for k, v in shared.latencies.items()},
        "p50_ms": round(_percentile([x for v in shared.latencies.values() for x in v], 0.50) * 1000, 2),
        "p99_ms": round(_percentile([x for v in shared.latencies.values() for x in v], 0.99) * 1000, 2),
        "errors": len(shared.errors), "first_errors": shared.errors[:5],
        "keys_posted": len(shared.sent), "events_stored": stored,
        "lost_or_doubled": stored != len(shared.sent),
        "summaries_match_by_hand": http_ok, "summaries_match_engine_summary": lib_ok,
        "mean_ms": round(statistics.fmean([x for v in shared.latencies.values() for x in v] or [0]) * 1000, 2),
    }
    result["ok"] = (result["errors"] == 0 and not result["lost_or_doubled"] and http_ok and lib_ok
                    and counts["event"] > 0 and counts["summary"] > 0)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.serve_load", description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=("duckdb", "chdb"), default="duckdb")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--min-each", type=int, default=0,
                    help="go on past --seconds until every request kind was sent this many times")
    ap.add_argument("--out", default=None, help="JSON file (default benchmarks/out/serve-load-<engine>.json)")
    args = ap.parse_args(argv)
    result = run(args.engine, args.clients, args.seconds, args.min_each)
    text = json.dumps(result, indent=2)
    print(text)
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "out" / f"serve-load-{args.engine}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
