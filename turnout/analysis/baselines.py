"""The judges turnout is measured against: Flagger-style thresholds and a Kayenta-style test.

Why this exists: the detection benchmark compares turnout's sequential analysis with what the
established tools do, and the rollout engine can offer both as analysis providers for users who
want the familiar behaviour.

* Flagger's builtin checks look at the canary alone against absolute limits (request-success-rate
  >= 99 %, request-duration p99 <= 500 ms by default in its docs); "no values" is a failed check.
* Kayenta's NetflixACAJudge classifies each metric with a Mann-Whitney test: the canary is High
  when the lower end of the confidence interval (confidence 0.98) for the Hodges-Lehmann shift
  exceeds a tolerance fraction (0.25) of the shift estimate's magnitude.

Pure: no I/O.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.analysis import ranks


@dataclass(frozen=True)
class FlaggerCheck:
    passed: bool
    p99_ms: float | None
    success_rate: float | None
    reason: str


def nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile of a sorted, non-empty sample."""
    return sorted_values[max(1, math.ceil(len(sorted_values) * q)) - 1]


def flagger_check(
    latencies_ms: Sequence[float],
    errors: Sequence[bool],
    max_p99_ms: float = 500.0,
    min_success_rate: float = 0.99,
) -> FlaggerCheck:
    """One Flagger-style check of the canary's window: p99 and success rate vs fixed limits."""
    if not latencies_ms or not errors:
        return FlaggerCheck(False, None, None, "no values found for the canary")
    p99 = nearest_rank(sorted(latencies_ms), 0.99)
    success = 1.0 - sum(1 for e in errors if e) / len(errors)
    problems = []
    if success < min_success_rate:
        problems.append(f"success rate {success:.2%} < {min_success_rate:.2%}")
    if p99 > max_p99_ms:
        problems.append(f"p99 {p99:.0f} ms > {max_p99_ms:.0f} ms")
    if problems:
        return FlaggerCheck(False, p99, success, "; ".join(problems))
    return FlaggerCheck(True, p99, success, "within limits")


class KayentaClass(enum.Enum):
    PASS = "Pass"
    HIGH = "High"
    LOW = "Low"
    NODATA = "Nodata"


@dataclass(frozen=True)
class KayentaResult:
    classification: KayentaClass
    estimate: float
    interval: tuple[float, float]
    reason: str


def kayenta_judge(
    baseline: Sequence[float],
    canary: Sequence[float],
    confidence: float = 0.98,
    tolerance: float = 0.25,
    precision: float = 1e-9,
) -> KayentaResult:
    """Kayenta-style classification of one metric (higher is worse); ``precision`` is the
    relative precision of the Hodges-Lehmann figures."""
    if not baseline or not canary:
        return KayentaResult(KayentaClass.NODATA, math.nan, (math.nan, math.nan), "no data")
    if sorted(baseline) == sorted(canary):
        return KayentaResult(KayentaClass.PASS, 0.0, (0.0, 0.0), "identical samples")
    shift = ranks.hodges_lehmann(baseline, canary, confidence, precision)
    critical = tolerance * abs(shift.estimate)
    lo, hi = shift.interval
    if lo > critical:
        cls, why = KayentaClass.HIGH, f"CI lower end {lo:.3g} > {critical:.3g}"
    elif hi < -critical:
        cls, why = KayentaClass.LOW, f"CI upper end {hi:.3g} < {-critical:.3g}"
    else:
        cls, why = KayentaClass.PASS, "shift not beyond tolerance"
    return KayentaResult(cls, shift.estimate, shift.interval, why)
