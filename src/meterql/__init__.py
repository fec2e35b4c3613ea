"""meterql: usage metering for billing backends.

    grammar/meterql.lark → parser → checker (diagnostics) → compiler (sqlglot) → dialects
    → engines (DuckDB, ClickHouse) → summary / price

Public names are imported lazily so that `import meterql` stays cheap (no DuckDB, chdb or
Lark parser construction until first use).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "check": "meterql.api",
    "parse": "meterql.api",
    "compile": "meterql.api",
    "evaluate": "meterql.api",
    "connect": "meterql.engines",
    "evaluate_preview": "meterql.price",
    "Diagnostic": "meterql.diagnostics",
    "ExpressionError": "meterql.diagnostics",
    "Severity": "meterql.diagnostics",
    "Limits": "meterql.diagnostics",
    "QueryLimits": "meterql.limits",
    "Kind": "meterql.ast",
    "Type": "meterql.ast",
    "Metric": "meterql.metric",
    "Period": "meterql.metric",
    "Price": "meterql.price",
    "MeterqlError": "meterql.errors",
    "NumericOverflow": "meterql.errors",
    "InvalidSpec": "meterql.errors",
    "LimitExceeded": "meterql.errors",
    "EngineError": "meterql.errors",
    "TransportError": "meterql.errors",
}

__all__ = sorted(_EXPORTS)

# The verbs `check`, `parse`, `compile`, `evaluate` are functions here; the stages that implement
# them are the modules checker, parser, compiler, evaluator — never the same name, so importing a
# stage can never replace a public function on this package.


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meterql' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
