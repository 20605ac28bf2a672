"""The block e-processes and the blocks themselves, checked against direct computations."""

from __future__ import annotations

import math
import random

import pytest

from turnout.analysis.blocks import Blocker, Sample
from turnout.analysis.eprocess import BETS, OddsRatioTest, RankTest, pair_statistic

from .stats_helpers import binom_upper


def test_pairs_give_the_binomial_likelihood_of_the_odds_ratio() -> None:
    """With one canary and one baseline per block and one error, the canary has it with
    probability psi / (1 + psi): the log-likelihood is the binomial one."""
    t = OddsRatioTest()
    for x in [1] * 30 + [0] * 10:
        t.add(1, 1, x, 1)
    t.add(1, 1, 1, 2)  # both erred: carries nothing
    t.add(1, 1, 0, 0)
    assert t.events == 40
    for psi in (0.5, 1.0, 3.0):
        want = 30 * math.log(psi / (1 + psi)) + 10 * math.log(1 / (1 + psi))
        assert t.loglik(math.log(psi)) == pytest.approx(want)


def test_a_tenth_canary_block_uses_the_hypergeometric_share() -> None:
    t = OddsRatioTest()
    t.add(1, 9, 1, 1)  # the block's only error is the canary's: probability 1/10 at psi = 1
    assert t.loglik(0.0) == pytest.approx(math.log(0.1))
    t2 = OddsRatioTest()
    t2.add(1, 9, 0, 2)  # two baseline errors: probability C(9,2)/C(10,2) = 0.8
    assert t2.loglik(0.0) == pytest.approx(math.log(0.8))


def test_odds_ratio_evidence_grows_only_against_the_truth() -> None:
    t = OddsRatioTest()
    for x in [1] * 45 + [0] * 15:  # psi around 3
        t.add(1, 1, x, 1)
    assert t.log_evalue(0.0, True) > math.log(100)  # "no worse" is refuted
    assert t.log_evalue(0.0, False) < 0  # "at least as bad" is not
    lo, hi = t.interval(0.01)
    assert lo < math.log(3) < hi and lo > 0


def test_rank_test_is_valid_under_the_null_checked_every_block() -> None:
    """u uniform with mean 1/2: the e-process ever reaches 1/alpha in at most alpha of runs."""
    alpha, runs = 0.05, 300
    hits = 0
    for seed in range(runs):
        rng = random.Random(seed)
        t = RankTest()
        for _ in range(500):
            t.add(rng.random())
            if t.log_evalue(True) >= math.log(1 / alpha):
                hits += 1
                break
    assert hits <= binom_upper(runs, alpha)


def test_rank_test_detects_and_bounds() -> None:
    rng = random.Random(1)
    t = RankTest()
    for _ in range(300):
        t.add(1.0 if rng.random() < 0.7 else 0.0)
    assert t.log_evalue(True) > math.log(100)
    lo, hi = t.interval(0.01)
    assert 0.5 < lo < 0.7 < hi
    with pytest.raises(ValueError):
        t.add(1.5)
    assert all(0 < b < 2 for b in BETS)


def test_pair_statistic_counts_ties_as_half() -> None:
    assert pair_statistic([2.0], [1.0, 2.0, 3.0]) == pytest.approx(0.5)
    assert pair_statistic([5.0, 0.0], [1.0]) == pytest.approx(0.5)


def test_blocks_follow_the_split_and_keep_arrival_order() -> None:
    b = Blocker()
    blocks = []
    rng = random.Random(2)
    for i in range(2000):
        canary = rng.random() < 0.1
        out = b.add(canary, Sample(float(i), False))
        if out is not None:
            blocks.append(out)
    shapes = [(len(x.canary), len(x.baseline)) for x in blocks[-50:]]
    assert all(k == 1 and 6 <= r <= 14 for k, r in shapes), shapes
    used = sum(len(x.canary) + len(x.baseline) for x in blocks)
    assert used >= 1800  # nearly every request is used at a 10 % split
    firsts = [x.baseline[0].latency_ms for x in blocks]
    assert firsts == sorted(firsts)
    even = Blocker()
    made = [even.add(i % 2 == 0, Sample(1.0, False)) for i in range(100)]
    assert sum(1 for m in made if m is not None) == 50
