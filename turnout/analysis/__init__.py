"""Canary analysis statistics: sequential tests, confidence sequences, baseline judges.

Pure, no I/O: callers feed observations and read verdicts that carry their numbers and reasons.
"""

from __future__ import annotations

from turnout.analysis.fixed import (
    LatencyComparison,
    QuantileDifference,
    RateComparison,
    compare_error_rate,
    compare_latency,
)
from turnout.analysis.sequential import Arm, CanaryAnalysis
from turnout.analysis.verdict import MetricVerdict, Outcome, Thresholds, Verdict

__all__ = [
    "Arm",
    "CanaryAnalysis",
    "LatencyComparison",
    "MetricVerdict",
    "Outcome",
    "QuantileDifference",
    "RateComparison",
    "Thresholds",
    "Verdict",
    "compare_error_rate",
    "compare_latency",
]
