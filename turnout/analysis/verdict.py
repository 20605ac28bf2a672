"""Verdict types: the outcome of a canary analysis together with its numbers and reasons.

Why this exists: users of Flagger and Argo Rollouts cannot tell why a canary was rolled back
(flagger#1304, argo-rollouts#2087). Every verdict here carries, per metric, the baseline and
canary values, the difference with its confidence interval, the limit it was held to, the sample
sizes and a sentence saying what happened, and serialises to plain JSON for status fields, the
dashboard and the CLI.

Pure: no I/O.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any


class Outcome(enum.Enum):
    PASS = "Successful"
    FAIL = "Failed"
    INCONCLUSIVE = "Inconclusive"


@dataclass(frozen=True)
class Thresholds:
    """What counts as a regression, how sure we must be, and what promotes a canary.

    Latency is beyond its limit when canary requests are slower than the baseline's by more than
    ``max_latency_increase`` (relative) and ``min_latency_increase_ms`` (absolute; 0 = relative
    only) more often than not; each of ``latency_quantiles`` (none by default) adds a metric
    holding that quantile to the same limit. The error rate is beyond its limit when it exceeds
    the baseline's by more than ``max_error_rate_increase`` (0.005 = half a point, of the
    baseline's successes). ``alpha`` bounds both the probability of *ever* failing a canary
    within every limit and of ever promoting one beyond a limit, however often the verdict is
    read. No verdict before each arm has ``min_samples`` requests. ``promote_on`` "evidence"
    promotes only when every metric is shown within its limit; "budget" also promotes once each
    arm has the requests needed to catch a canary ``budget_effect`` times beyond the limits
    with probability ``budget_power``.
    """

    latency_quantiles: tuple[float, ...] = ()
    max_latency_increase: float = 0.10
    min_latency_increase_ms: float = 0.0
    max_error_rate_increase: float = 0.005
    alpha: float = 0.01
    min_samples: int = 20
    promote_on: str = "evidence"
    budget_effect: float = 2.0
    budget_power: float = 0.95
    # Sample size per arm around which the quantile confidence sequences are tightest.
    tuning_samples: int = 200

    def __post_init__(self) -> None:
        for name in ("max_latency_increase", "min_latency_increase_ms",
                     "max_error_rate_increase", "alpha", "budget_effect", "budget_power"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    not math.isfinite(value):
                raise ValueError(f"{name}: {value!r} is not a finite number")
        for q in self.latency_quantiles:
            if not 0.0 < q < 1.0:
                raise ValueError(f"latency_quantiles: {q} is not in (0, 1)")
        if len(set(self.latency_quantiles)) != len(self.latency_quantiles):
            raise ValueError("latency_quantiles: duplicates")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha: {self.alpha} is not in (0, 1)")
        if self.max_latency_increase < 0 or self.min_latency_increase_ms < 0:
            raise ValueError("latency limits must be >= 0")
        if not 0.0 <= self.max_error_rate_increase < 1.0:
            raise ValueError(
                f"max_error_rate_increase: {self.max_error_rate_increase} is not in [0, 1)"
            )
        if self.min_samples < 1:
            raise ValueError(f"min_samples: {self.min_samples} must be >= 1")
        if self.tuning_samples < 1:
            raise ValueError(f"tuning_samples: {self.tuning_samples} must be >= 1")
        if self.promote_on not in ("evidence", "budget"):
            raise ValueError(f'promote_on: {self.promote_on!r} is not "evidence" or "budget"')
        if self.budget_effect <= 1.0:
            raise ValueError(f"budget_effect: {self.budget_effect} must be > 1 (a multiple "
                             "of the limits)")
        if not 0.5 <= self.budget_power < 1.0:
            raise ValueError(f"budget_power: {self.budget_power} is not in [0.5, 1)")

    @property
    def metric_count(self) -> int:
        """Metrics that can fail (the false-rollback budget alpha is split between them)."""
        return len(self.latency_quantiles) + 2


def quantile_name(q: float) -> str:
    """0.5 -> "p50", 0.99 -> "p99", 0.999 -> "p99.9"."""
    return "p" + f"{q * 100:.4f}".rstrip("0").rstrip(".")


def _num(x: float | None) -> float | None:
    if x is None or math.isnan(x) or math.isinf(x):
        return None
    return x


@dataclass(frozen=True)
class MetricVerdict:
    """One metric's judgement. Latency values are in ms; error-rate values are fractions.

    ``interval`` is the confidence sequence for ``difference`` (canary - baseline); infinite
    ends mean "not bounded yet". ``threshold`` is the largest tolerated difference. ``settled`` is
    True when the metric is shown beyond (Failed) or within (Successful) its limit, so more
    traffic will not change the answer. ``evidence`` holds the e-values for "worse" and
    "within" and the levels they must reach. The ``latency`` metric is decided on the share of
    (canary, baseline) comparisons where the canary is slower than the limit (``evidence``
    ``share``, ``shareLow``, ``shareHigh`` against ``shareLimit`` 0.5); its ``interval`` is the
    p50 difference's own confidence sequence, for reading, and may still straddle
    ``threshold`` when the verdict is settled.
    """

    metric: str
    outcome: Outcome
    baseline: float | None
    canary: float | None
    difference: float | None
    interval: tuple[float, float]
    threshold: float
    n_baseline: int
    n_canary: int
    reason: str
    unit: str = "ms"
    settled: bool = False
    evidence: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "outcome": self.outcome.value,
            "baseline": _num(self.baseline),
            "canary": _num(self.canary),
            "difference": _num(self.difference),
            "interval": [_num(self.interval[0]), _num(self.interval[1])],
            "threshold": _num(self.threshold),
            "unit": self.unit,
            "nBaseline": self.n_baseline,
            "nCanary": self.n_canary,
            "settled": self.settled,
            "reason": self.reason,
            **({"evidence": self.evidence} if self.evidence else {}),
        }


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    metrics: tuple[MetricVerdict, ...]
    reason: str
    alpha: float = 0.01
    decided_by: str = ""  # "evidence" or "budget" for Successful/Failed; "" otherwise
    refused: int = 0  # samples refused (not a finite latency >= 0)

    @property
    def settled(self) -> bool:
        """True when every metric is settled (safe to promote or roll back early)."""
        return bool(self.metrics) and all(m.settled for m in self.metrics)

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "alpha": self.alpha,
            "settled": self.settled,
            "decidedBy": self.decided_by,
            "refused": self.refused,
            "metrics": [m.to_json() for m in self.metrics],
        }
