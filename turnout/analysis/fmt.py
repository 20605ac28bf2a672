"""Number formatting shared by verdict reasons and comparison statements.

Why this exists: reasons are read by people deciding whether to trust a rollback, so every
module prints milliseconds, percentages and percentage points the same way.

Pure: no I/O.
"""

from __future__ import annotations

import math

DASH = "\u2013"
_INF = "\u221e"


def fmt_ms(x: float) -> str:
    if math.isinf(x):
        return _INF if x > 0 else "-" + _INF
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 1:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_points(x: float) -> str:
    """A rate difference in percentage points."""
    if math.isinf(x):
        return _INF if x > 0 else "-" + _INF
    return f"{x * 100:.2f}".rstrip("0").rstrip(".") if x else "0"


def fmt_pct(x: float) -> str:
    return f"{x * 100:.2f}".rstrip("0").rstrip(".") + "%"
