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

Inserts with data (clickhouse-connect's `insert_arrow`: `query=INSERT INTO t (cols) FORMAT Arrow`
in the URL, the Arrow file in the body; or the statement as the body's first line) run on chdb
as `INSERT … FROM INFILE … SETTINGS <the URL's settings> FORMAT …`, so `insert_deduplication_token`
and the table's deduplication window act as on a server. A request to `/__mode__/insert_NAME`
arms ONE fault for the next insert into an `events` table (then the fake is faithful again):

- `insert_500`     answer HTTP 500 with a non-ClickHouse body; nothing is stored;
- `insert_stall`   store nothing and never answer (the client times out);
- `insert_cut`     the body arrives cut in half (a dropped upload): ClickHouse fails to read it,
                   nothing is stored, and the connection closes without an answer;
- `insert_late`    store the rows, then never answer (a commit the client does not hear of);
- `insert_drop`    store the rows, then close the connection without an answer;
- `insert_after`   never answer, and store the rows only LATER: once the next insert into that
                   table has been stored (the client's re-send, whose id lookup ran before), or
                   after 30 s — the late commit racing a retry (HAZARDS).

`/__late__` waits (up to 30 s) until an armed insert_after insert has run and answers `done`
(or `pending`). Temporary tables are refused as by a server without an HTTP session (code 113).

It writes the port it listens on to PORT_FILE once it is ready.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import tempfile
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
INSERT_FAULT: str | None = None  # armed by /__mode__/insert_NAME, used by the next events insert
STORED = threading.Condition()  # notified whenever an events insert has been stored
STORED_COUNT = 0
LATE_DONE = threading.Event()
# HTTP-interface parameters that are not ClickHouse settings
NOT_SETTINGS = {"query", "database", "default_format", "session_id", "session_timeout", "session_check",
                "compress", "decompress", "user", "password", "quota_key", "query_id", "client_protocol_version",
                "wait_end_of_query", "send_progress_in_http_headers", "http_headers_progress_interval_ms",
                "enable_http_compression", "buffer_size", "role"}
INSERT_RE = re.compile(r"\s*INSERT\s+INTO\s+(.+?)\s+FORMAT\s+(\w+)\s*", re.IGNORECASE | re.DOTALL)


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
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
            return self._handle(bytes(body))
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(self.rfile.read(length) if length else b"")

    def _handle(self, body: bytes) -> None:
        global MODE, INSERT_FAULT
        if self.path.startswith("/__mode__/"):
            name = self.path.rsplit("/", 1)[1]
            if name.startswith("insert_"):
                INSERT_FAULT = name
            else:
                MODE, INSERT_FAULT = name, None
            return self._send(200, b"ok")
        if self.path.startswith("/__late__"):
            return self._send(200, b"done" if LATE_DONE.wait(30) else b"pending")
        if MODE == "down":
            return self._send(503, b"Service Unavailable")
        q = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        ctype = self.headers.get("Content-Type") or ""
        if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            # large bound parameters travel as form fields (query and param_* in the body)
            for k, v in _form_fields(ctype, body).items():
                q.setdefault(k, []).append(v)
            body = b""
        encoding = self.headers.get("Content-Encoding")
        if body and encoding and encoding != "identity":
            from clickhouse_connect.driver._backend.chdb_backend import _decompress

            body = _decompress(body, encoding)
        insert = self._split_insert(q.get("query", [""])[0], body)
        if insert is not None:
            return self._insert(q, *insert)
        sql = (q.get("query", [""])[0] + " " + body.decode("utf-8", "replace")).strip()
        if "TEMPORARY TABLE" in sql.upper():
            return self._send(500, b"Code: 113. DB::Exception: There is no session or session context has expired. "
                                   b"(THERE_IS_NO_SESSION)", {"X-ClickHouse-Exception-Code": "113"})
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

    @staticmethod
    def _split_insert(url_query: str, body: bytes) -> tuple[str, str, bytes] | None:
        """(target, format, data) of an INSERT that carries data, else None."""
        if url_query.strip():
            m = INSERT_RE.fullmatch(url_query)
            return (m.group(1), m.group(2), body) if m and body else None
        head, nl, data = body.partition(b"\n")
        m = INSERT_RE.fullmatch(head.decode("utf-8", "replace")) if nl else None
        return (m.group(1), m.group(2), data) if m and data else None

    def _insert(self, q: dict, target: str, fmt: str, data: bytes) -> None:
        """Run an insert like a server: its URL settings apply; an armed fault may strike."""
        global INSERT_FAULT
        settings = {k: v[-1] for k, v in q.items() if k not in NOT_SETTINGS and not k.startswith("param_")}
        clause = ", ".join(f"{k} = '{v}'" for k, v in settings.items() if re.fullmatch(r"\w+", k)
                           and re.fullmatch(r"[\w.-]*", v))
        fault = None
        if re.search(r"\bevents`?\s*(\(|$)", target):
            fault, INSERT_FAULT = INSERT_FAULT, None
        if fault == "insert_500":
            return self._send(500, b"<html>502 Bad Gateway (upstream died)</html>")
        if fault == "insert_stall":
            time.sleep(3600)
            return
        if fault == "insert_cut":
            data = data[: len(data) // 2]

        def run() -> Exception | None:
            global STORED_COUNT
            fd, path = tempfile.mkstemp(suffix=".insert")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                sql = f"INSERT INTO {target} FROM INFILE '{path}'" + (f" SETTINGS {clause}" if clause else "") + \
                    f" FORMAT {fmt}"
                BACKEND._run(sql, "TabSeparated", None)
            except Exception as exc:  # noqa: BLE001 - answered as ClickHouse would
                return exc
            finally:
                os.unlink(path)
            with STORED:
                STORED_COUNT += 1
                STORED.notify_all()
            return None

        if fault == "insert_after":
            with STORED:
                seen = STORED_COUNT

            def later() -> None:
                with STORED:
                    STORED.wait_for(lambda: STORED_COUNT > seen, timeout=30)
                run()
                LATE_DONE.set()

            LATE_DONE.clear()
            threading.Thread(target=later, daemon=True).start()
            time.sleep(3600)  # the client gives up long before
            return
        error = run()
        if fault in ("insert_cut", "insert_drop"):
            return self._drop()
        if fault == "insert_late":
            time.sleep(3600)
            return
        if error is not None:
            return self._send(500, f"Code: 27. DB::Exception: {error}".encode(), {"X-ClickHouse-Exception-Code": "27"})
        self._send(200, b"", {"X-ClickHouse-Summary": json.dumps({"written_rows": "0", "result_rows": "0"})})

    def _drop(self) -> None:
        """Close the connection without a byte of answer."""
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

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


def _form_fields(ctype: str, body: bytes) -> dict[str, str]:
    if ctype.startswith("application/x-www-form-urlencoded"):
        return {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    from email.parser import BytesParser
    from email.policy import HTTP

    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode()
            for part in msg.iter_parts()}


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
