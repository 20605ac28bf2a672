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
    """What counts as a regression, and how sure we must be before calling one.

    A latency quantile fails when the canary is slower than the baseline by more than
    ``max_latency_increase`` (relative to the baseline's quantile) *and* by more than
    ``min_latency_increase_ms``, with the whole confidence sequence beyond that limit. The error
    rate fails when it is higher by more than ``max_error_rate_increase`` (absolute, 0.005 = half
    a percentage point), likewise. ``alpha`` bounds the probability of *ever* failing a canary
    that is no worse than those limits, however often the verdict is evaluated. No verdict is
    Failed before each arm has ``min_samples`` requests.
    """

    latency_quantiles: tuple[float, ...] = (0.5, 0.99)
    max_latency_increase: float = 0.10
    min_latency_increase_ms: float = 5.0
    max_error_rate_increase: float = 0.005
    alpha: float = 0.01
    min_samples: int = 20
    # When True, a metric that cannot be judged yet (e.g. p99 with few samples) makes the
    # verdict Inconclusive instead of letting the others decide.
    require_all_metrics: bool = False
    # Sample size per arm around which the quantile confidence sequences are tightest.
    tuning_samples: int = 200

    def __post_init__(self) -> None:
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

    @property
    def metric_count(self) -> int:
        return len(self.latency_quantiles) + 1


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
    True when the interval lies wholly on one side of the threshold (a Failed metric, or one
    shown to be within its limit), so more traffic will not change the answer.
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
        }


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    metrics: tuple[MetricVerdict, ...]
    reason: str
    alpha: float = 0.01

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
            "metrics": [m.to_json() for m in self.metrics],
        }
