"""A tiny stand-in for a ClickHouse HTTP server, for the transport-fault tests.

    python tests/fake_clickhouse.py PORT_FILE

Runs in its own process (chdb is one server per process). It answers clickhouse-connect's HTTP
requests by running them on an in-process chdb that holds a few stored events (database
`faults`), and misbehaves on the summary queries (meterql's aggregation plans: those that select
a `bucket` column) per the mode set by a request to `/__mode__/NAME`. Like ClickHouse under
`wait_end_of_query=1` (which clickhouse-connect sets), every SELECT's answer carries the
`X-ClickHouse-Summary` header with the query's true `result_rows`:

- `proxy`   answer everything faithfully;
- `500`     answer summary queries with HTTP 500 and a non-ClickHouse body (a dying proxy);
- `stall`   accept summary queries and never answer;
- `cut`     answer summary queries with the first half of their rows: a valid stream, cut at a
            block boundary (HAZARDS: 65,536 of 200,000 rows arrived with no error; the summary
            header still says the full count);
- `nosummary` answer faithfully but without the summary header (a proxy that drops it);
- `garbled` answer summary queries with the first half of the real bytes, then close;
- `down`    answer every request with HTTP 503 (also the client's connection set-up).

It writes the port it listens on to PORT_FILE once it is ready.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import meterql  # noqa: E402

T0 = 1704067200000  # 2024-01-01T00:00:00Z
DAY = 86_400_000
MODE = "proxy"


BACKEND = None


def setup() -> None:
    global BACKEND
    engine = meterql.connect("chdb://?database=faults")
    engine.ingest(
        [{"event_id": f"e{i}", "subject_id": "s1", "event_name": "call", "timestamp": T0 + i * DAY // 2,
          "properties": {"v": i}} for i in range(10)]
    )
    # the chdb handle under the engine's clickhouse-connect client (a test-only shortcut)
    BACKEND = engine._client._backend


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(self.rfile.read(length) if length else b"")

    def _handle(self, body: bytes) -> None:
        global MODE
        if self.path.startswith("/__mode__/"):
            MODE = self.path.rsplit("/", 1)[1]
            return self._send(200, b"ok")
        if MODE == "down":
            return self._send(503, b"Service Unavailable")
        q = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        sql = (q.get("query", [""])[0] + " " + body.decode("utf-8", "replace")).strip()
        if not sql:
            return self._send(200, b"Ok.\n")
        params = {k[len("param_"):]: v[-1] for k, v in q.items() if k.startswith("param_")}
        fmt = q.get("default_format", ["TabSeparated"])[-1]
        summary = "AS bucket" in sql
        if summary and MODE == "500":
            return self._send(500, b"<html>502 Bad Gateway (upstream died)</html>")
        if summary and MODE == "stall":
            time.sleep(3600)
            return
        headers: dict[str, str] = {}
        inner, _, tail = sql.rpartition(" FORMAT ")
        if inner.lstrip().upper().startswith("SELECT") and MODE != "nosummary":
            try:
                n = int(BACKEND._run(f"SELECT count() FROM ({inner})", "TabSeparated", params or None).bytes())
                headers["X-ClickHouse-Summary"] = json.dumps({"read_rows": "0", "result_rows": str(n)})
            except Exception:  # the query itself fails below, with ClickHouse's error
                n = 0
        if summary and MODE == "cut":
            sql = f"SELECT * FROM ({inner}) LIMIT {n // 2} FORMAT {tail}"  # the first half of the rows
        try:
            data = BACKEND._run(sql, fmt, params or None).bytes()
        except Exception as exc:  # a ClickHouse error, as ClickHouse sends it
            return self._send(500, f"Code: 47. DB::Exception: {exc}".encode(), {"X-ClickHouse-Exception-Code": "47"})
        if summary and MODE == "garbled":
            data = data[: max(1, len(data) // 2)]
        self._send(200, data, headers)

    def _send(self, status: int, data: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:
            pass


def main() -> None:
    setup()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # runs until the test closes our stdin


if __name__ == "__main__":
    main()
