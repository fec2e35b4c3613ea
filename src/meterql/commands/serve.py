"""`meterql serve`: Lark's pricing-metric API and meterql's `/v1` over HTTP (see `meterql.server`).

Keys come from `METERQL_API_KEYS` (comma-separated) or `--api-key-file` (one a line); a host
other than a loopback address is refused without a key."""

from __future__ import annotations

import argparse
import ipaddress
import os

from ..errors import InvalidSpec
from ._common import add_db_argument

NAME = "serve"
HELP = "serve Lark's pricing-metric API (under /lark) and meterql's own (/v1) over HTTP on an event store"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--api-key-file", metavar="FILE", default=None,
                   help="API keys, one a line (default: $METERQL_API_KEYS, comma-separated)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_keys(key_file: str | None, env: str | None) -> list[str]:
    keys: list[str] = []
    if env:
        keys += [k.strip() for k in env.split(",") if k.strip()]
    if key_file is not None:
        with open(key_file, encoding="utf-8") as f:
            keys += [line.strip() for line in f if line.strip() and not line.startswith("#")]
    return keys


def run(args: argparse.Namespace) -> int:
    import uvicorn

    import meterql

    from ..server import create_app

    keys = api_keys(args.api_key_file, os.environ.get("METERQL_API_KEYS"))
    if not keys and not is_loopback(args.host):
        raise InvalidSpec(f"refusing to listen on {args.host} without an API key: set METERQL_API_KEYS "
                          "or --api-key-file (or listen on 127.0.0.1)")
    engine = meterql.connect(args.db)
    app = create_app(engine, keys)
    if not keys:
        print("warning: no API key set: every request but /healthz will be refused (401); set METERQL_API_KEYS")
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    finally:
        engine.close()
    return 0
