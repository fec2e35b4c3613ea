"""The planning floor: a `Window` (what to aggregate over) and metrics → ONE statement (`build`)
→ exact rows (`Plan.finish`). `window.py` checks the window once; `build.py` is the one template
builder; `finish.py` turns result rows into `Row`s; `time.py` holds all bucket arithmetic.
Engine differences come from `meterql.dialects.plan`."""

from .build import Template, build, can_share_scan, compiled, is_narrow, with_row_limit
from .finish import MAX_CARRIED_ROWS, Plan, Row, coordinate_sort_key, coordinate_text
from .window import Scope, Window

__all__ = ["MAX_CARRIED_ROWS", "Plan", "Row", "Scope", "Template", "Window", "build", "can_share_scan", "compiled",
           "coordinate_sort_key", "coordinate_text", "is_narrow", "with_row_limit"]
