from __future__ import annotations

import random
import statistics

import pytest

from turnout.analysis import ranks


def test_pairwise_difference_matches_brute_force() -> None:
    rng = random.Random(2)
    b = sorted(rng.gauss(0, 1) for _ in range(23))
    c = sorted(rng.gauss(0.5, 2) for _ in range(17))
    diffs = sorted(y - x for x in b for y in c)
    for k in (1, 2, 50, 196, 391):
        assert ranks.pairwise_difference(b, c, k) == pytest.approx(diffs[k - 1], abs=1e-9)
    with pytest.raises(IndexError):
        ranks.pairwise_difference(b, c, 0)


def test_hodges_lehmann_is_the_median_of_differences() -> None:
    rng = random.Random(3)
    b = [rng.expovariate(1) for _ in range(30)]
    c = [rng.expovariate(1) + 1 for _ in range(40)]
    shift = ranks.hodges_lehmann(b, c, 0.95)
    assert shift.estimate == pytest.approx(statistics.median(y - x for x in b for y in c))
    assert shift.interval[0] < shift.estimate < shift.interval[1]


def test_mann_whitney_counts_pairs() -> None:
    b = [1.0, 2.0, 3.0, 4.0]
    c = [2.0, 5.0, 6.0]
    u = sum((y > x) + 0.5 * (y == x) for x in b for y in c)
    result = ranks.mann_whitney(b, c)
    assert result.u == u
    far = ranks.mann_whitney(list(range(50)), [x + 100.0 for x in range(50)])
    assert far.p_value < 1e-10 and far.z > 0
    same = ranks.mann_whitney([1.0] * 10, [1.0] * 10)
    assert same.p_value == 1.0
