"""The sample size after which a canary not shown worse may be promoted ("budget" mode).

Why this exists: showing a canary *within* a tight limit can take more traffic than a release
window has (a rare error rate, a noisy service). A user may instead declare the effect that must
not slip through, as a multiple of the limits (``budget_effect``, 2 = twice the limit), and the
power (``budget_power``): the canary is promoted once the smaller arm has the requests the
rollback tests need to catch that effect with that probability. The budget is computed from the
baseline seen so far (its latency spread and error rate) with a drift approximation of the
e-processes: log-wealth grows by mu per block with variance 2 mu, and must pass
ln(1/alpha) plus the mixture's cost with probability ``power``. It is an estimate, stated as such
in the verdict; false promotions of canaries at the declared effect are measured in
`bench/detection.py`.

Pure: no I/O.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from turnout.analysis.eprocess import BETS, PRIOR_SCALE
from turnout.analysis.histogram import Histogram
from turnout.analysis.verdict import Thresholds

_GRID = 120  # quantiles of the baseline used to estimate the pair statistic


def _blocks_needed(mu: float, threshold: float, power: float) -> int | None:
    """Smallest n with mu n - z sqrt(2 mu n) >= threshold (drift mu, variance 2 mu)."""
    if mu <= 0:
        return None
    z = NormalDist().inv_cdf(power)
    # sqrt(n) = (z sqrt(2 mu) + sqrt(2 mu z^2 + 4 mu threshold)) / (2 mu)
    root = (z * math.sqrt(2 * mu) + math.sqrt(2 * mu * z * z + 4 * mu * threshold)) / (2 * mu)
    return math.ceil(root * root)


def _latency_blocks(hist: Histogram, th: Thresholds, shape: tuple[int, int], alpha: float,
                    ) -> int | None:
    n = hist.count
    if n < 2:
        return None
    qs = sorted(hist.value(max(1, math.ceil(n * (i + 0.5) / _GRID))) for i in range(_GRID))
    e = th.budget_effect
    above = 0.0
    for c in qs:
        slow = max(c * (1 + e * th.max_latency_increase), c + e * th.min_latency_increase_ms)
        for b in qs:
            lim = max(b * (1 + th.max_latency_increase), b + th.min_latency_increase_ms)
            above += 1.0 if slow > lim else 0.5 if slow == lim else 0.0
    theta = above / (_GRID * _GRID)
    var = 1 / 12 + (1 / 6) / max(shape)
    mu = (theta - 0.5) ** 2 / (2 * var)
    return _blocks_needed(mu, math.log(1 / alpha) + math.log(len(BETS)), th.budget_power)


def _kl(q1: float, q0: float) -> float:
    q1 = min(max(q1, 1e-12), 1 - 1e-12)
    return q1 * math.log(q1 / q0) + (1 - q1) * math.log((1 - q1) / (1 - q0))


def _error_blocks(errors: int, n: int, th: Thresholds, shape: tuple[int, int], alpha: float,
                  ) -> int | None:
    delta = th.max_error_rate_increase
    if delta <= 0:
        return None  # a zero limit has no "twice the limit"
    p_b = (errors + 0.5) / (n + 1)
    null = p_b + delta * (1 - p_b)
    alt = min(1 - 1e-9, p_b + th.budget_effect * delta * (1 - p_b))
    k, r = shape
    events = k * alt + r * null
    mu = events * _kl(k * alt / (k * alt + r * null), k / (k + r))
    # the odds-ratio mixture pays about the prior's cost near the effect
    cost = math.log(PRIOR_SCALE) + math.log(1 / alpha) + 1.0
    return _blocks_needed(mu, cost, th.budget_power)


def requests_per_arm(baseline_latencies: Histogram, baseline_errors: int, baseline_n: int,
                     shape: tuple[int, int], thresholds: Thresholds, alpha: float) -> int | None:
    """Requests the smaller arm needs (one per block), or None when no metric can size it."""
    needs = [x for x in (_latency_blocks(baseline_latencies, thresholds, shape, alpha),
                         _error_blocks(baseline_errors, baseline_n, thresholds, shape, alpha))
             if x is not None]
    return max(needs) if needs else None
