"""meterql: usage metering for billing backends.

    grammar/meterql.lark → parse → check (diagnostics) → compile (sqlglot) → dialects
    → engines (DuckDB, ClickHouse) → summary / price

Public names are imported lazily so that `import meterql` stays cheap (no DuckDB, chdb or
Lark parser construction until first use).
"""

from __future__ import annotations

import importlib
import sys
import types
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

# `check`, `compile` and `evaluate` are public functions *and* submodules (check.py, compile.py,
# evaluate.py). Importing a submodule makes the import system run `setattr(meterql, name, module)`,
# which would replace the public function `meterql.check(...)` by the module after its first use.
# The public API wins: such a setattr is ignored (`from meterql.check import parse` still works).
_SHADOWED = frozenset({"check", "compile", "evaluate", "parse"})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meterql' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
