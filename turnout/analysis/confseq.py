"""Anytime-valid confidence sequences from beta-binomial mixture martingales.

Why this exists: a canary verdict is re-evaluated after every request. A fixed-sample confidence
interval checked that often is wrong far more often than its nominal rate; a *confidence
sequence* covers the true value at every time simultaneously, so looking after each request is
free (Ville's inequality). The quantile bounds here rest on one martingale:

    M_t(p; k) = B(a + k, b + t - k) / (B(a, b) * p**k * (1 - p)**(t - k))

the beta-mixture likelihood ratio of k successes in t Bernoulli trials against the point null p.
Under the null it is a nonnegative martingale with mean one, hence
P(exists t: M_t >= 1/alpha) <= alpha.

* Quantiles (Howard & Ramdas, "Sequential estimation of quantiles with applications to
  A/B-testing and best-arm identification"): for the p-quantile q of one arm, the count of
  observations <= q is Binomial(t, p) (stochastically, ties included). The set of counts k with
  M_t(p; k) < 1/alpha is an interval [k_lo, k_hi]; then the order statistics X_(k_lo) and
  X_(k_hi + 1) bound q for all t at once. The interval depends only on (t, p, alpha), never on
  the data, so it is computed once per t and cached.

Pure: no I/O.
"""

from __future__ import annotations

import math
from functools import lru_cache


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


class QuantileBoundary:
    """Count bounds [k_lo(t), k_hi(t)] for the p-quantile at level 1 - alpha, cached by t.

    ``concentration`` is the prior sample size r of the Beta(r p, r (1 - p)) mixture: the
    boundary is tightest around t ~ 2 r log(1/alpha).
    """

    def __init__(self, p: float, alpha: float, concentration: float) -> None:
        if not 0.0 < p < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {p}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.p = p
        self.alpha = alpha
        self._a = concentration * p
        self._b = concentration * (1.0 - p)
        self._log_beta_ab = _log_beta(self._a, self._b)
        self._log_p = math.log(p)
        self._log_q = math.log1p(-p)
        self._threshold = math.log(1.0 / alpha)
        self._cache: list[tuple[int, int]] = [(0, 0)]

    def _log_m(self, t: int, k: int) -> float:
        return (
            _log_beta(self._a + k, self._b + t - k)
            - self._log_beta_ab
            - k * self._log_p
            - (t - k) * self._log_q
        )

    def _compute(self, t: int) -> tuple[int, int]:
        # log M_t(k) is convex in k with its minimum near t p; search each side by bisection.
        centre = min(t, max(0, round(t * self.p)))
        c = self._threshold
        # smallest k in [0, centre] with log M < c
        lo, hi = 0, centre
        while lo < hi:
            mid = (lo + hi) // 2
            if self._log_m(t, mid) < c:
                hi = mid
            else:
                lo = mid + 1
        k_lo = lo
        # largest k in [centre, t] with log M < c
        lo, hi = centre, t
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._log_m(t, mid) < c:
                lo = mid
            else:
                hi = mid - 1
        return k_lo, lo

    def counts(self, t: int) -> tuple[int, int]:
        """(k_lo, k_hi): with prob >= 1 - alpha, for all t, k_lo <= #{X <= q} and
        #{X < q} <= k_hi, where q is the true p-quantile."""
        cache = self._cache
        while len(cache) <= t:
            cache.append(self._compute(len(cache)))
        return cache[t]


@lru_cache(maxsize=64)
def quantile_boundary(p: float, alpha: float, concentration: float) -> QuantileBoundary:
    """The shared boundary for these parameters (its per-t cache is reused by every caller)."""
    return QuantileBoundary(p, alpha, concentration)


def order_statistic_ranks(boundary: QuantileBoundary, t: int) -> tuple[int, int]:
    """1-based ranks (lower, upper) of the order statistics bounding the quantile after t
    observations; lower < 1 means no lower bound yet, upper > t means no upper bound yet."""
    k_lo, k_hi = boundary.counts(t)
    return k_lo, k_hi + 1
