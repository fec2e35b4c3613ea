"""`meterql check EXPR`: validate one customer expression and show its diagnostics.

Consumes: the expression text, `--kind`, an optional `--schema` JSON file (property → type).
Produces: rendered diagnostics (or `ok`) on stdout, or a JSON list with `--json`.
Exit status: 0 when there is no error (warnings allowed), 1 when there is, 2 when the schema
file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "check"
HELP = "validate an expression (filter, grouping key or value) and show its diagnostics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expression", metavar="EXPR", help="the expression, e.g. \"region = 'eu'\"")
    parser.add_argument("--kind", choices=("filter", "grouping_key", "value"), default="filter",
                        help="what the expression is for (default: filter)")  # fmt: skip
    parser.add_argument("--schema", metavar="FILE.json",
                        help='declared property types, a JSON object: {"tokens": "number", "region": "string"}')
    parser.add_argument("--json", action="store_true", help="print the diagnostics as a JSON list")


def run(args: argparse.Namespace) -> int:
    from ..checker import check
    from ..diagnostics import render

    from ..cli import error_line
    from ..errors import InvalidSpec
    from ._common import load_json

    try:
        schema = load_json(args.schema, "schema") if args.schema else None
    except InvalidSpec as exc:  # 2, not 1: status 1 means "the expression has an error"
        print(error_line(exc), file=sys.stderr)
        return 2
    diagnostics = check(args.expression, args.kind, schema)
    if args.json:
        print(json.dumps([d.to_dict() for d in diagnostics], ensure_ascii=True, indent=2))
    else:
        print(render(diagnostics, args.expression, args.kind))
    return 1 if any(d.is_error for d in diagnostics) else 0
