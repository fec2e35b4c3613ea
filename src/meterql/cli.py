"""`meterql` command line: one sub-command per module in `meterql.commands`.

Each command module defines `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.

Exit status: 0 success; 1 an error (one `error: …` line on stderr, never a traceback; a bad
expression prints its diagnostics instead); 2 a usage error (argparse); 3 `ingest` rejected
lines; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

COMMANDS = ("check", "sql", "ingest", "summary", "evaluate", "demo", "serve")


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    from . import __version__

    parser = argparse.ArgumentParser(prog="meterql", description="Usage metering for billing.")
    parser.add_argument("--version", action="version", version=f"meterql {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"meterql.commands.{name}")
        except ModuleNotFoundError as exc:  # a command still being built
            if exc.name != f"meterql.commands.{name}":
                raise
            continue
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        modules[mod.NAME] = mod
    return parser, modules


def error_line(exc: BaseException) -> str:
    """The one line (or the rendered diagnostics) the CLI prints for an error: never a Python
    repr, never `error:` twice."""
    from .diagnostics import ExpressionError

    if isinstance(exc, ExpressionError):
        return str(exc)  # rendered diagnostics: each already starts with `error[E…]`
    args = getattr(exc, "args", ())
    text = "; ".join(str(a) for a in args) if len(args) > 1 else str(exc)  # never a tuple's repr
    text = text.strip() or type(exc).__name__
    while text.lower().startswith("error:"):
        text = text[len("error:"):].lstrip()
    return f"error: {text}"


def main(argv: list[str] | None = None) -> int:
    # clickhouse-connect logs a warning ("Unexpected Http Driver Exception") before raising the
    # error meterql translates and reports: one message per failure is enough.
    logging.getLogger("clickhouse_connect").setLevel(logging.ERROR)
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from .errors import MeterqlError

    try:
        return int(modules[args.command].run(args) or 0)
    except MeterqlError as exc:
        print(error_line(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file or the terminal
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, unless asked for the traceback
        if os.environ.get("METERQL_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}: {exc}); set METERQL_DEBUG=1 for the traceback",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
