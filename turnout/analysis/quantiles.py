"""Per-quantile latency judgements from each arm's own confidence sequence.

Why this exists: a user may hold one quantile (p99, say) to a limit of its own. Each arm keeps an
anytime-valid confidence sequence for that quantile (Howard & Ramdas; `confseq`), and the canary
fails when even the lowest plausible canary quantile is above the limit of the highest plausible
baseline quantile; it is shown within when the highest plausible canary quantile is below the
limit of the lowest plausible baseline quantile. Valid both ways, at any stopping time, but slow
for tail quantiles (a p99 needs hundreds of requests per arm before it can be bounded at all), so
these metrics are opt-in; the default latency metric is the rank test of `eprocess`.

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from turnout.analysis import confseq
from turnout.analysis.histogram import Histogram


class QuantileJudge:
    """One quantile q, judged at ``alpha`` per arm (the caller splits its budget)."""

    def __init__(self, q: float, alpha: float, tuning_samples: int) -> None:
        self.q = q
        concentration = max(1.0, tuning_samples / (2 * math.log(1 / alpha)))
        self._boundary = confseq.quantile_boundary(q, alpha, concentration)

    def bounds(self, hist: Histogram) -> tuple[float, float]:
        """(lower, upper) of this arm's quantile; infinite ends are not bounded yet."""
        lo_rank, hi_rank = confseq.order_statistic_ranks(self._boundary, hist.count)
        return hist.lower_bound(lo_rank), hist.upper_bound(hi_rank)

    def estimate(self, hist: Histogram) -> float:
        return hist.value(max(1, math.ceil(hist.count * self.q)))

    def fails(self, base: Histogram, canary: Histogram,
              limit: Callable[[float], float]) -> bool:
        lo_rank = confseq.order_statistic_ranks(self._boundary, canary.count)[0]
        hi_rank = confseq.order_statistic_ranks(self._boundary, base.count)[1]
        if lo_rank < 1 or hi_rank > base.count:
            return False
        return canary.lower_bound(lo_rank) > limit(base.upper_bound(hi_rank))

    def within(self, base: Histogram, canary: Histogram,
               limit: Callable[[float], float]) -> bool:
        b_lo, _ = self.bounds(base)
        _, c_hi = self.bounds(canary)
        return not math.isinf(c_hi) and c_hi < limit(b_lo)
