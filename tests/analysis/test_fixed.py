from __future__ import annotations

import math
import random
import re

import pytest

from turnout.analysis import compare_error_rate, compare_latency
from turnout.analysis.fixed import quantile_interval

from .stats_helpers import binom_upper


def test_latency_intervals_cover_the_true_shift_at_the_nominal_rate() -> None:
    runs, n, shift, level = 200, 80, 20.0, 0.95
    miss_hl = miss_p50 = 0
    for seed in range(runs):
        rng = random.Random(seed)
        b = [rng.lognormvariate(math.log(50), 0.4) for _ in range(n)]
        c = [rng.lognormvariate(math.log(50), 0.4) + shift for _ in range(n)]
        cmp = compare_latency(b, c, level, quantiles=(0.5,))
        lo, hi = cmp.shift.interval
        miss_hl += not lo <= shift <= hi
        lo, hi = cmp.quantiles[0].interval
        miss_p50 += not lo <= shift <= hi
    bound = binom_upper(runs, 1 - level)
    assert miss_hl <= bound
    assert miss_p50 <= bound


def test_statement_names_the_slower_version_with_its_interval() -> None:
    rng = random.Random(9)
    b = [rng.lognormvariate(math.log(50), 0.3) for _ in range(500)]
    c = [rng.lognormvariate(math.log(50), 0.3) + 201 for _ in range(500)]
    cmp = compare_latency(b, c, baseline_name="1.0", canary_name="2.0")
    assert cmp.statement.startswith("2.0 is slower: p50 +")
    assert "95% CI" in cmp.statement
    p50 = cmp.quantiles[0]
    assert p50.interval[0] < 201 < p50.interval[1]
    assert f"+{p50.difference:.0f} ms" in cmp.statement
    faster = compare_latency(c, b, canary_name="2.0")
    assert faster.statement.startswith("2.0 is faster")
    same = compare_latency(b, b)
    assert same.statement.startswith("no significant p50 latency difference")


def test_small_samples_give_unbounded_quantile_ends() -> None:
    est, lo, hi = quantile_interval([1.0, 2.0, 3.0], 0.5, 0.05)
    assert est == 2.0 and lo == -math.inf and hi == math.inf
    est, lo, hi = quantile_interval([float(i) for i in range(1, 101)], 0.5, 0.05)
    assert lo < est < hi and math.isfinite(lo) and math.isfinite(hi)


def test_error_rate_comparison() -> None:
    r = compare_error_rate(20, 2000, 60, 2000, baseline_name="1.0", canary_name="2.0")
    assert r.difference == pytest.approx(0.02)
    assert 0 < r.interval[0] < 0.02 < r.interval[1]
    assert r.statement.startswith("2.0 has more errors: error rate 3% vs 1%")
    none = compare_error_rate(20, 2000, 21, 2000)
    assert none.statement.startswith("no significant error-rate difference")
    with pytest.raises(ValueError, match="canary"):
        compare_error_rate(1, 10, 11, 10)


def test_error_rate_interval_coverage() -> None:
    runs, n, level = 300, 400, 0.95
    misses = 0
    for seed in range(runs):
        rng = random.Random(seed)
        kb = sum(rng.random() < 0.01 for _ in range(n))
        kc = sum(rng.random() < 0.03 for _ in range(n))
        lo, hi = compare_error_rate(kb, n, kc, n, level).interval
        misses += not lo <= 0.02 <= hi
    assert misses <= binom_upper(runs, 1 - level)


# --- issue 10: statements never print an infinite bound -------------------------------------

NOT_FOR_PEOPLE = re.compile(r"\u221e|\binf\b|\bnan\b|\d{4,}(\.\d+)? ?%", re.IGNORECASE)


def test_statement_interval_reads_from_to_with_signs() -> None:
    rng = random.Random(9)
    b = [rng.lognormvariate(math.log(50), 0.3) for _ in range(500)]
    c = [rng.lognormvariate(math.log(50), 0.3) + 201 for _ in range(500)]
    cmp = compare_latency(b, c, baseline_name="1.0", canary_name="2.0")
    assert re.fullmatch(r"2\.0 is slower: p50 \+\d+ ms, 95% CI \+\d+ to \+\d+ ms", cmp.statement)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("q", [0.5, 0.99])
def test_small_samples_say_too_few_requests_instead_of_infinity(n: int, q: float) -> None:
    rng = random.Random(n)
    b = [rng.uniform(0.01, 0.05) for _ in range(n)]  # sub-millisecond baseline, as in issue 10
    c = [rng.uniform(200, 210) for _ in range(n)]
    cmp = compare_latency(b, c, quantiles=(q,), canary_name="2.0")
    lo, hi = cmp.quantiles[0].interval
    assert not (math.isfinite(lo) or math.isfinite(hi))
    assert cmp.statement.endswith("95% CI n/a (too few requests)")
    assert not NOT_FOR_PEOPLE.search(cmp.statement), cmp.statement


def test_one_unbounded_end_gives_a_one_sided_interval() -> None:
    rng = random.Random(3)
    b = [rng.uniform(40, 60) for _ in range(2000)]
    c = [rng.uniform(240, 260) for _ in range(100)]  # p99 of 100 requests: no finite upper end
    cmp = compare_latency(b, c, quantiles=(0.99,), canary_name="2.0")
    lo, hi = cmp.quantiles[0].interval
    assert math.isfinite(lo) and hi == math.inf
    assert re.fullmatch(r"2\.0 is slower: p99 \+\d+ ms, 95% CI \u2265 \+\d+ ms", cmp.statement)


def test_error_rate_statement_interval_has_signed_ends() -> None:
    r = compare_error_rate(0, 88, 0, 112, canary_name="2.0")
    assert r.statement == ("no significant error-rate difference: error rate 0% vs 0%, "
                           "95% CI -4.18 to +3.32 points")
    assert not NOT_FOR_PEOPLE.search(compare_error_rate(0, 1, 1, 1).statement)
