"""`meterql sql EXPR`: show the SQL one expression compiles to, per dialect.

Consumes: the expression text, `--kind`, `--dialect duckdb|clickhouse|all`.
Produces: the SQL on stdout (with `--dialect all`, one `-- dialect` header per dialect), or a JSON
object {dialect: sql} with `--json`. The SQL reads the event-store columns of DESIGN.md
(`ts`, `event_name`, `subject_id`, `ps`, `pn`, `pb`).
Exit status: 0 on success; 1 with the rendered diagnostics on stderr when the expression is bad.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "sql"
HELP = "show the DuckDB / ClickHouse SQL an expression compiles to"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expression", metavar="EXPR", help="the expression, e.g. \"round(tokens * 1.5, 2)\"")
    parser.add_argument("--kind", choices=("filter", "grouping_key", "value"), default="filter",
                        help="what the expression is for (default: filter)")  # fmt: skip
    parser.add_argument("--dialect", choices=("duckdb", "clickhouse", "all"), default="all",
                        help="which SQL dialect to print (default: all)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print {dialect: sql} as JSON")


def run(args: argparse.Namespace) -> int:
    from ..compiler import compile_sql
    from ..diagnostics import ExpressionError

    dialects = {"all": ("duckdb", "clickhouse")}.get(args.dialect, (args.dialect,))
    try:
        out = {d: compile_sql(args.expression, args.kind, d) for d in dialects}
    except ExpressionError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out, ensure_ascii=True, indent=2))
    elif len(out) == 1:
        print(next(iter(out.values())))
    else:
        print("\n\n".join(f"-- {d}\n{sql}" for d, sql in out.items()))
    return 0
