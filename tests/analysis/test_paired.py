"""The paired error-rate difference sequence: valid under continuous monitoring, and it narrows."""

from __future__ import annotations

import math
import random

import pytest

from turnout.analysis.paired import PairedDifference


def test_covers_the_true_difference_at_every_checkpoint() -> None:
    alpha, runs, misses = 0.1, 200, 0
    for seed in range(runs):
        rng = random.Random(seed)
        cs = PairedDifference(alpha)
        for _ in range(1500):
            cs.observe("baseline", rng.random() < 0.05)
            cs.observe("canary", rng.random() < 0.08)
            lo, hi = cs.interval()
            if not lo <= 0.03 <= hi:
                misses += 1
                break
    # a run that ever misses is a false alarm; allow alpha plus a binomial margin (z = 3)
    assert misses <= runs * alpha + 3 * math.sqrt(runs * alpha * (1 - alpha))


def test_narrows_with_pairs_and_pairs_in_arrival_order() -> None:
    cs = PairedDifference(0.01)
    assert cs.interval() == (-1.0, 1.0)
    for _ in range(3):
        cs.observe("canary", True)  # unmatched until baseline requests arrive
    assert cs.pairs == 0
    rng = random.Random(1)
    widths = []
    for n in range(1, 4001):
        cs.observe("baseline", rng.random() < 0.01)
        cs.observe("canary", rng.random() < 0.01)
        if n in (100, 1000, 4000):
            lo, hi = cs.interval()
            widths.append(hi - lo)
    assert cs.pairs == 4000
    assert widths[0] > widths[1] > widths[2] and widths[2] < 0.025


def test_rejects_a_bad_alpha() -> None:
    with pytest.raises(ValueError):
        PairedDifference(0.0)
