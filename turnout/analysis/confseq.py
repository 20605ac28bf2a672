"""Anytime-valid confidence sequences from beta-binomial mixture martingales.

Why this exists: a canary verdict is re-evaluated after every request. A fixed-sample confidence
interval checked that often is wrong far more often than its nominal rate; a *confidence
sequence* covers the true value at every time simultaneously, so looking after each request is
free (Ville's inequality). Both building blocks here rest on one martingale:

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
* Rates (error rate of one arm): {p : M_t(p; k) < 1/alpha} is an interval around k/t, found
  by bisection.

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


# Prior of the rate mixture: Jeffreys, Beta(1/2, 1/2); adapts to small error rates.
_RATE_A = 0.5
_RATE_B = 0.5


def _rate_floor(k: int, t: int, alpha: float) -> float:
    return (
        _log_beta(_RATE_A + k, _RATE_B + t - k)
        - _log_beta(_RATE_A, _RATE_B)
        - math.log(1.0 / alpha)
    )


def _rate_inside(k: int, t: int, p: float, floor: float) -> bool:
    # p is inside iff k log p + (t - k) log(1 - p) > floor; the left side is concave in p with
    # its maximum at k / t.
    if p <= 0.0:
        return k == 0
    if p >= 1.0:
        return k == t
    ll = 0.0
    if k:
        ll += k * math.log(p)
    if t - k:
        ll += (t - k) * math.log1p(-p)
    return ll > floor


def rate_contains(successes: int, trials: int, alpha: float, p: float) -> bool:
    """Whether p lies in the rate's (1 - alpha) confidence sequence after ``trials``."""
    if trials <= 0:
        return True
    return _rate_inside(successes, trials, p, _rate_floor(successes, trials, alpha))


_BISECTIONS = 34  # bracket width 1 -> 6e-11: far below any reported precision


@lru_cache(maxsize=65_536)
def rate_interval(successes: int, trials: int, alpha: float) -> tuple[float, float]:
    """Anytime-valid (1 - alpha) confidence sequence for a Bernoulli rate after ``trials``.

    Valid simultaneously for all ``trials`` of one stream. Returns (0, 1) for no trials. The
    ends are rounded outwards, so the interval only errs on the wide side.
    """
    if trials <= 0:
        return 0.0, 1.0
    k, t = successes, trials
    if not 0 <= k <= t:
        raise ValueError(f"successes {k} not within 0..{t}")
    floor = _rate_floor(k, t, alpha)
    mle = k / t
    lower = 0.0
    if k > 0:
        lo, hi = 0.0, mle  # outside at lo, inside at hi
        for _ in range(_BISECTIONS):
            mid = (lo + hi) / 2
            if _rate_inside(k, t, mid, floor):
                hi = mid
            else:
                lo = mid
        lower = lo
    upper = 1.0
    if k < t:
        lo, hi = mle, 1.0  # inside at lo, outside at hi
        for _ in range(_BISECTIONS):
            mid = (lo + hi) / 2
            if _rate_inside(k, t, mid, floor):
                lo = mid
            else:
                hi = mid
        upper = hi
    return lower, upper
