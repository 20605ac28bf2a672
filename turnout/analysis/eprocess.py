"""E-processes on blocks: one for error counts (odds ratio), one for latency ranks.

Why this exists: a verdict is read after every request, so each test must hold at any stopping
time. An e-process is a nonnegative quantity whose expectation stays <= 1 while the null holds;
by Ville's inequality it ever reaches 1/alpha with probability <= alpha. Both tests here compare
the arms directly inside each block (see `blocks`), so no nuisance parameter is estimated.

* Errors (`OddsRatioTest`). Given a block's error count s, the canary's count x follows Fisher's
  noncentral hypergeometric law with the odds ratio psi of canary to baseline: exact for any
  baseline rate, any split, any drift between blocks. The e-value against psi <= psi0 is the
  prior-weighted mean of exp(l(psi) - l(psi0)) over a grid of psi > psi0, l the log-likelihood
  of the allocations seen (a mixture of likelihood ratios, each a supermartingale under the
  null), and symmetrically for psi >= psi0. This is the event-allocation test of Lindon
  & Malek (NeurIPS 2022) with the split handled by blocks instead of a known traffic ratio.
* Latency (`RankTest`). In a block, u = the share of (canary, baseline) pairs where the canary is
  slower than the limit applied to the baseline (ties count one half). If the canary is
  stochastically no slower than the limit, E[u] <= 1/2, so each bet 1 + lam (u - 1/2) has mean <= 1;
  a uniform mixture over a grid of bet sizes is the e-process (Waudby-Smith & Ramdas, betting).
  The mirror image (1/2 - u) shows the canary *within* the limit.

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

# -- errors -------------------------------------------------------------------------------------

GRID_STEPS = 24
LOG_PSI_MAX = math.log(64.0)
PRIOR_SCALE = 1.2
"""Prior on |log psi| away from the null: exponential with this mean (most mass on 1.5x-10x)."""


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _log_sum_exp(xs: Sequence[float]) -> float:
    top = max(xs)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(x - top) for x in xs))


class OddsRatioTest:
    """The canary-to-baseline error odds ratio psi, from the blocks' error allocations."""

    def __init__(self) -> None:
        self._h = LOG_PSI_MAX / GRID_STEPS
        self._offsets = [j * self._h for j in range(1, GRID_STEPS + 1)]
        self._log_weights = [-d / PRIOR_SCALE for d in self._offsets]
        self._norm = _log_sum_exp(self._log_weights)
        self._blocks: Counter[tuple[int, int, int, int]] = Counter()
        self.events = 0  # blocks that carried information (0 < s < k + r)
        self.canary_errors = 0
        self.baseline_errors = 0
        self._memo: dict[float, float] = {}

    def add(self, k: int, r: int, x: int, s: int) -> None:
        """A block of k canary and r baseline requests with s errors, x of them the canary's."""
        self.canary_errors += x
        self.baseline_errors += s - x
        if max(0, s - r) == min(k, s):
            return  # the allocation is forced: no information
        self.events += 1
        self._blocks[(k, r, s, x)] += 1
        self._memo.clear()

    def loglik(self, log_psi: float) -> float:
        """Log-likelihood of the allocations seen, at odds ratio exp(log_psi)."""
        got = self._memo.get(log_psi)
        if got is not None:
            return got
        total = 0.0
        for (k, r, s, x), count in self._blocks.items():
            lo, hi = max(0, s - r), min(k, s)
            terms = [_log_comb(k, y) + _log_comb(r, s - y) + y * log_psi
                     for y in range(lo, hi + 1)]
            total += count * (_log_comb(k, x) + _log_comb(r, s - x) + x * log_psi
                              - _log_sum_exp(terms))
        if len(self._memo) < 4096:
            self._memo[log_psi] = total
        return total

    def log_evalue(self, log_psi0: float, greater: bool) -> float:
        """log e-value against psi <= psi0 (greater=True) or psi >= psi0 (greater=False): the
        prior-weighted mean likelihood ratio of alternatives beyond psi0."""
        if not self.events:
            return 0.0
        ref = self.loglik(log_psi0)
        sign = 1.0 if greater else -1.0
        terms = [w + self.loglik(log_psi0 + sign * d) - ref
                 for w, d in zip(self._log_weights, self._offsets, strict=True)]
        return _log_sum_exp(terms) - self._norm

    def interval(self, alpha: float) -> tuple[float, float]:
        """(lower, upper) of the (1 - alpha) confidence sequence for log psi; infinite ends are
        not bounded yet (beyond psi = 64^2 either way)."""
        cut = math.log(2.0 / alpha)
        far = 2 * LOG_PSI_MAX
        if not self.events:
            return -math.inf, math.inf
        # the centre: the grid point of highest likelihood
        centre = max((j * self._h for j in range(-2 * GRID_STEPS, 2 * GRID_STEPS + 1)),
                     key=self.loglik)
        ends: list[float] = []
        for greater, outer in ((True, -far), (False, far)):
            if self.log_evalue(outer, greater) < cut:
                ends.append(-math.inf if greater else math.inf)
                continue
            rejected, kept = outer, centre
            for _ in range(30):
                mid = (rejected + kept) / 2
                if self.log_evalue(mid, greater) >= cut:
                    rejected = mid
                else:
                    kept = mid
            ends.append(rejected)
        return ends[0], ends[1]


# -- latency ranks ------------------------------------------------------------------------------

BETS = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.35, 1.8)
"""Bet sizes lam on u - 1/2 (u in [0, 1], so any lam < 2 keeps every factor positive)."""


class RankTest:
    """Two one-sided betting e-processes on the blocks' pair statistic u."""

    def __init__(self) -> None:
        self.up = [0.0] * len(BETS)    # log wealth betting the canary is slower
        self.down = [0.0] * len(BETS)  # log wealth betting it is faster (within the limit)
        self.blocks = 0
        self.total = 0.0
        self.values: list[float] = []

    def add(self, u: float) -> None:
        if not 0.0 <= u <= 1.0:
            raise ValueError(f"u must be in [0, 1], got {u}")
        self.blocks += 1
        self.total += u
        self.values.append(u)
        for i, lam in enumerate(BETS):
            self.up[i] += math.log1p(lam * (u - 0.5))
            self.down[i] += math.log1p(lam * (0.5 - u))

    def log_evalue(self, greater: bool) -> float:
        wealth = self.up if greater else self.down
        return _log_sum_exp(wealth) - math.log(len(wealth))

    @property
    def mean(self) -> float:
        return self.total / self.blocks if self.blocks else 0.5

    def interval(self, alpha: float) -> tuple[float, float]:
        """(1 - alpha) confidence sequence for the mean of u (ends found by bisection)."""
        if not self.blocks:
            return 0.0, 1.0
        cut = math.log(2.0 / alpha)
        mean = min(max(self.mean, 1e-9), 1 - 1e-9)
        # the e-value against "mean <= m" falls as m grows; against "mean >= m" it rises
        lo, hi = 0.0, mean  # rejected at lo (unless lo is 0), not at hi
        for _ in range(20):
            mid = (lo + hi) / 2
            if self._log_e_at(mid, True) >= cut:
                lo = mid
            else:
                hi = mid
        lower = lo
        lo, hi = mean, 1.0
        for _ in range(20):
            mid = (lo + hi) / 2
            if self._log_e_at(mid, False) >= cut:
                hi = mid
            else:
                lo = mid
        return lower, hi

    def _log_e_at(self, m: float, greater: bool) -> float:
        # bets scaled to the null mean m, so each factor stays positive
        cap = 1.0 / (1.0 - m) if not greater else 1.0 / m
        logs = []
        for lam in BETS:
            b = lam / 2.0 * cap
            logs.append(sum(math.log1p(b * ((u - m) if greater else (m - u)))
                            for u in self.values))
        return _log_sum_exp(logs) - math.log(len(logs))


def pair_statistic(canary: Sequence[float], limits: Sequence[float]) -> float:
    """Share of (canary, baseline) pairs with the canary above the baseline's limit; ties 1/2."""
    above = 0.0
    for c in canary:
        for b in limits:
            above += 1.0 if c > b else 0.5 if c == b else 0.0
    return above / (len(canary) * len(limits))
