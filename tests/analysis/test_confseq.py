from __future__ import annotations

import math
import random

from turnout.analysis import confseq
from turnout.analysis.histogram import Histogram

from .stats_helpers import binom_upper


def test_quantile_sequence_covers_the_median_at_all_times() -> None:
    alpha, runs, n = 0.05, 300, 400
    boundary = confseq.quantile_boundary(0.5, alpha, 20.0)
    misses = 0
    for seed in range(runs):
        rng = random.Random(seed)
        hist = Histogram()
        for t in range(1, n + 1):
            hist.add(rng.expovariate(1.0) * 100.0)  # true median 100 ln 2
            lo_rank, hi_rank = confseq.order_statistic_ranks(boundary, t)
            if not hist.lower_bound(lo_rank) <= 100 * math.log(2) <= hist.upper_bound(hi_rank):
                misses += 1
                break
    assert misses <= binom_upper(runs, alpha)


def test_quantile_bounds_shrink_and_open_ends_are_infinite() -> None:
    b = confseq.quantile_boundary(0.99, 0.001, 10.0)
    _, hi = confseq.order_statistic_ranks(b, 50)
    assert hi > 50  # no upper bound for p99 from 50 samples
    lo2, hi2 = confseq.order_statistic_ranks(b, 20_000)
    assert lo2 >= 1 and hi2 <= 20_000
    assert lo2 / 20_000 > 0.97 and hi2 / 20_000 < 1.0


def test_histogram_order_statistics_within_half_a_percent() -> None:
    rng = random.Random(1)
    values = [rng.lognormvariate(3.0, 1.5) for _ in range(3000)] + [0.0, 1e9]
    hist = Histogram()
    for v in values:
        hist.add(v)
    ordered = sorted(values)
    for k in (1, 2, 10, 500, 1500, 2999, 3001, 3002):
        true = ordered[k - 1]
        assert hist.lower_bound(k) <= true <= hist.upper_bound(k)
        if 0.01 < true < 1e6:
            assert abs(hist.value(k) / true - 1) < 0.005
    assert hist.lower_bound(0) == 0.0
    assert hist.upper_bound(3003) == math.inf
