"""An anytime-valid confidence sequence for the difference of two arms' error rates.

Why: giving each arm its own rate sequence and comparing their ends is valid but slow (a 1 % →
3 % regression took thousands of requests per arm). Pairing the i-th baseline request with the
i-th canary request gives differences d_i = e_canary − e_baseline ∈ {−1, 0, 1}, independent with
mean Δ = r_canary − r_baseline, so one variance-adaptive sequence on d bounds Δ directly. The
sequence is the predictable-plug-in empirical-Bernstein one of Waudby-Smith & Ramdas ("Estimating
means of bounded random variables by betting", JRSS-B 2023, Theorem 2), on x = (d + 1) / 2 ∈
[0, 1]; it holds at every sample size at once, so it may be checked after every pair.

Pure, O(1) per pair.
"""

from __future__ import annotations

import math
from collections import deque

_LAMBDA_CAP = 0.5


def _psi(lam: float) -> float:
    return (-math.log1p(-lam) - lam) / 4


class PairedDifference:
    """Feed each arm's error flags as they arrive; `interval()` bounds r_canary − r_baseline."""

    def __init__(self, alpha: float) -> None:
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = alpha
        self._log_term = math.log(2 / alpha)
        self._pending: dict[str, deque[bool]] = {"baseline": deque(), "canary": deque()}
        self.pairs = 0
        self._sum_x = 0.0           # for the plug-in mean μ̂
        self._sum_sq = 0.0          # Σ (x_i − μ̂_i)² for the plug-in variance σ̂²
        self._mu_prev = 0.5         # μ̂_{t−1}
        self._var_prev = 0.25       # σ̂²_{t−1}
        self._sum_lam = 0.0
        self._sum_lam_x = 0.0
        self._sum_v_psi = 0.0

    def observe(self, arm: str, error: bool) -> None:
        other = "baseline" if arm == "canary" else "canary"
        if self._pending[other]:
            partner = self._pending[other].popleft()
            canary, baseline = (error, partner) if arm == "canary" else (partner, error)
            self._add(0.5 * (int(canary) - int(baseline) + 1))
        else:
            self._pending[arm].append(error)

    def _add(self, x: float) -> None:
        t = self.pairs + 1
        lam = min(math.sqrt(2 * self._log_term / (self._var_prev * t * math.log1p(t))),
                  _LAMBDA_CAP)
        self._sum_lam += lam
        self._sum_lam_x += lam * x
        self._sum_v_psi += 4 * (x - self._mu_prev) ** 2 * _psi(lam)
        self.pairs = t
        self._sum_x += x
        mu = (0.5 + self._sum_x) / (t + 1)
        self._sum_sq += (x - mu) ** 2
        self._mu_prev = mu
        self._var_prev = (0.25 + self._sum_sq) / (t + 1)

    def interval(self) -> tuple[float, float]:
        """(lower, upper) for r_canary − r_baseline; (−1, 1) before any pair."""
        if self.pairs == 0:
            return -1.0, 1.0
        center = self._sum_lam_x / self._sum_lam
        half = (self._log_term + self._sum_v_psi) / self._sum_lam
        lo, hi = max(0.0, center - half), min(1.0, center + half)
        return 2 * lo - 1, 2 * hi - 1
