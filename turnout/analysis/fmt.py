"""Number formatting shared by verdict reasons, comparison statements and the command line.

Why this exists: reasons are read by people deciding whether to trust a rollback, so every
module prints milliseconds, percentages and percentage points the same way — and never prints a
figure that looks precise but says nothing: an interval with no finite bound, a relative change
over a near-zero base, or NaN.

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeGuard

DASH = "\u2013"
_INF = "\u221e"
NA = "n/a"
TOO_FEW = "n/a (too few requests)"
"""What an interval with no finite bound says: its sample was too small for that level."""
MAX_RATIO = 10.0
"""Beyond this many times the baseline, a ratio is shown as ">10×": the exact figure is noise
(a 0.04 ms baseline makes any real latency look like +20000 %)."""


def _special(x: float) -> str | None:
    """The text for NaN and ±infinity, or None for a finite number."""
    if math.isnan(x):
        return NA
    if math.isinf(x):
        return _INF if x > 0 else "-" + _INF
    return None


def fmt_ms(x: float) -> str:
    special = _special(x)
    if special is not None:
        return special
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 1:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_points(x: float) -> str:
    """A rate difference in percentage points."""
    special = _special(x)
    if special is not None:
        return special
    return f"{x * 100:.2f}".rstrip("0").rstrip(".") if x else "0"


def fmt_pct(x: float) -> str:
    special = _special(x)
    if special is not None:
        return special
    return f"{x * 100:.2f}".rstrip("0").rstrip(".") + "%"


def signed(fmt: Callable[[float], str], x: float) -> str:
    """`fmt(x)` with an explicit `+` on positive numbers, for differences."""
    text = fmt(x)
    return "+" + text if x > 0 else text


def _bounded(x: float | None) -> TypeGuard[float]:
    return x is not None and math.isfinite(x)


def fmt_interval(lo: float | None, hi: float | None, fmt: Callable[[float], str],
                 unit: str, *, unbounded: str = TOO_FEW) -> str:
    """A confidence interval of a difference: "+191 to +201 ms".

    A bound that is None, infinite or NaN is no bound: with one finite bound the interval reads
    "≥ +159 ms" or "≤ -3.2 ms"; with none it reads `unbounded` (default "n/a (too few
    requests)"), never "-∞ to ∞".
    """
    if _bounded(lo) and _bounded(hi):
        return f"{signed(fmt, lo)} to {signed(fmt, hi)} {unit}"
    if _bounded(lo):
        return f"\u2265 {signed(fmt, lo)} {unit}"
    if _bounded(hi):
        return f"\u2264 {signed(fmt, hi)} {unit}"
    return unbounded


def fmt_relative(baseline: float | None, candidate: float | None) -> str:
    """The candidate relative to the baseline: "+27%", "-4.5%", "3.2×", ">10×".

    Empty where a ratio says nothing: a missing, zero, negative or non-finite baseline or
    candidate. Changes under +100 % read as percentages, larger ones as multiples, and anything
    beyond `MAX_RATIO` as ">10×" (the absolute difference beside it carries the size).
    """
    if not (_bounded(baseline) and _bounded(candidate)) or baseline <= 0 or candidate < 0:
        return ""
    ratio = candidate / baseline
    if ratio >= MAX_RATIO:
        return f">{MAX_RATIO:g}\u00d7"
    if ratio >= 2:
        return f"{ratio:.1f}\u00d7"
    change = (ratio - 1) * 100
    text = f"{change:+.0f}%" if abs(change) >= 10 else f"{change:+.1f}%"
    return "0%" if text in ("+0.0%", "-0.0%") else text
