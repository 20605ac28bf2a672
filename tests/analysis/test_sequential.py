from __future__ import annotations

import math
import random
import re

import pytest

from turnout.analysis import CanaryAnalysis, Outcome, Thresholds

from .stats_helpers import binom_lower, binom_upper


def latency(rng: random.Random, shift: float = 0.0) -> float:
    if rng.random() < 0.02:
        return rng.lognormvariate(math.log(250.0), 0.6) + shift
    return rng.lognormvariate(math.log(50.0), 0.4) + shift


def feed(
    a: CanaryAnalysis, rng: random.Random, n: int, shift: float, p_b: float, p_c: float
) -> int | None:
    """Alternate baseline/canary requests; return the canary count at the first Failed."""
    for i in range(1, n + 1):
        a.observe("baseline", latency(rng), rng.random() < p_b)
        a.observe("canary", latency(rng, shift), rng.random() < p_c)
        if a.outcome() is Outcome.FAIL:
            return i
    return None


def test_aa_false_alarms_under_continuous_monitoring_stay_below_alpha() -> None:
    alpha, runs = 0.05, 200
    th = Thresholds(alpha=alpha, min_samples=5)
    alarms = sum(
        feed(CanaryAnalysis(th), random.Random(seed), 300, 0.0, 0.05, 0.05) is not None
        for seed in range(runs)
    )
    assert alarms <= binom_upper(runs, alpha)


def test_large_latency_regression_is_caught_within_50_canary_requests() -> None:
    runs = 100
    caught = 0
    for seed in range(runs):
        hit = feed(CanaryAnalysis(), random.Random(1000 + seed), 50, 200.0, 0.01, 0.01)
        if hit is not None:
            assert hit >= 20  # never before min_samples
            caught += 1
    assert caught >= binom_lower(runs, 0.95)


def test_error_rate_regression_is_caught_eventually() -> None:
    for seed in range(3):
        a = CanaryAnalysis()
        hit = feed(a, random.Random(2000 + seed), 20_000, 0.0, 0.01, 0.03)
        assert hit is not None
        v = a.verdict()
        assert v.outcome is Outcome.FAIL
        failed = [m for m in v.metrics if m.outcome is Outcome.FAIL]
        assert [m.metric for m in failed] == ["error_rate"]
        assert failed[0].interval[0] > failed[0].threshold
        assert "above the 0.5-point limit" in failed[0].reason


def test_thin_traffic_is_inconclusive_never_failed() -> None:
    rng = random.Random(7)
    a = CanaryAnalysis(Thresholds(min_samples=20))
    assert a.verdict().outcome is Outcome.INCONCLUSIVE
    assert "no traffic" in a.verdict().reason
    for _ in range(19):
        a.observe("baseline", latency(rng), False)
        a.observe("canary", 5000.0, True)  # terrible, but only 19 requests
        assert a.outcome() is Outcome.INCONCLUSIVE
        assert a.verdict().outcome is Outcome.INCONCLUSIVE
    assert "19 baseline and 19 canary" in a.verdict().reason
    a.observe("baseline", latency(rng), False)
    a.observe("canary", 5000.0, True)
    assert a.outcome() is Outcome.FAIL


def test_missing_baseline_is_inconclusive() -> None:
    a = CanaryAnalysis()
    for _ in range(500):
        a.observe("canary", 900.0, True)
    v = a.verdict()
    assert v.outcome is Outcome.INCONCLUSIVE
    assert all(m.outcome is Outcome.INCONCLUSIVE for m in v.metrics)
    assert "0 baseline and 500 canary" in v.reason


def test_failed_verdict_reason_carries_numbers_and_limit() -> None:
    rng = random.Random(3)
    a = CanaryAnalysis()
    for _ in range(60):
        a.observe("baseline", rng.uniform(45, 55), False)
        a.observe("canary", rng.uniform(245, 255), False)
    v = a.verdict()
    assert v.outcome is Outcome.FAIL and v.decided_by == "evidence"
    lat = next(m for m in v.metrics if m.metric == "latency")
    assert lat.outcome is Outcome.FAIL and lat.settled
    assert lat.difference is not None and 190 < lat.difference < 210
    assert lat.interval[0] > lat.threshold
    assert "beyond the limit" in lat.reason and "100% of comparisons" in lat.reason
    assert re.search(r"canary p50 2\d\d ms vs \d\d(\.\d)? ms; slower", lat.reason), lat.reason
    assert lat.evidence and lat.evidence["worse"] >= lat.evidence["worseNeeded"]
    assert lat.evidence["shareLow"] > lat.evidence["shareLimit"] == 0.5  # what decided
    errors = v.metrics[-1]
    assert re.search(r"99% CS -?[\d.]+ to \+[\d.]+ points\)", errors.reason), errors.reason
    assert lat.reason in v.reason
    doc = v.to_json()
    assert doc["outcome"] == "Failed" and doc["decidedBy"] == "evidence"
    assert doc["metrics"][0]["metric"] == "latency"
    assert doc["metrics"][0]["nCanary"] == 60


def test_pass_needs_every_metric_shown_within() -> None:
    rng = random.Random(4)
    a = CanaryAnalysis(Thresholds(latency_quantiles=(0.5,), max_error_rate_increase=0.05))
    for _ in range(2000):
        a.observe("baseline", rng.uniform(90, 110), False)
        a.observe("canary", rng.uniform(90, 110), False)
    v = a.verdict()
    assert v.outcome is Outcome.PASS and v.decided_by == "evidence"
    assert v.settled
    assert "shown within every limit" in v.reason
    assert all("shown within" in m.reason for m in v.metrics), [m.reason for m in v.metrics]


def test_not_shown_worse_is_not_promoted() -> None:
    """A canary 20 ms slower with 20 requests per arm: nothing is shown either way, so the
    verdict is Inconclusive (keep measuring), never Successful."""
    for seed in range(50):
        rng = random.Random(seed)
        a = CanaryAnalysis()
        for _ in range(20):
            a.observe("baseline", latency(rng), False)
            a.observe("canary", latency(rng, 20.0), False)
        assert a.outcome() is not Outcome.PASS
        assert a.verdict().outcome is not Outcome.PASS


def test_tail_quantile_metric_waits_until_it_can_be_bounded() -> None:
    rng = random.Random(5)
    a = CanaryAnalysis(Thresholds(latency_quantiles=(0.99,)))
    for _ in range(100):
        a.observe("baseline", latency(rng), False)
        a.observe("canary", latency(rng), False)
    v = a.verdict()
    assert v.outcome is Outcome.INCONCLUSIVE
    p99 = next(m for m in v.metrics if m.metric == "latency_p99")
    assert "cannot be bounded yet" in p99.reason
    assert "latency_p99" in v.reason


def test_budget_mode_promotes_after_the_computed_budget_and_says_so() -> None:
    rng = random.Random(8)
    a = CanaryAnalysis(Thresholds(promote_on="budget", max_error_rate_increase=0.02))
    for _ in range(20_000):
        a.observe("baseline", latency(rng), rng.random() < 0.01)
        a.observe("canary", latency(rng), rng.random() < 0.01)
        if a.outcome() is not Outcome.INCONCLUSIVE:
            break
    v = a.verdict()
    assert v.outcome is Outcome.PASS, v.reason
    need = a.budget()
    assert (need is not None and min(a.counts) >= need) or v.decided_by == "evidence"
    if v.decided_by == "budget":
        assert "budget" in v.reason and "2x beyond the limits" in v.reason


def test_bad_samples_are_refused_and_counted_never_binned() -> None:
    a = CanaryAnalysis(Thresholds(min_samples=1))
    for bad in (math.nan, -1.0, math.inf, -math.inf):
        assert a.observe("canary", bad, False) is False
    assert a.refused == 4 and a.counts == (0, 0)
    a.observe("baseline", 2.0, False)
    a.observe("canary", 2.0, False)
    assert "4 samples refused" in a.verdict().reason


def test_fast_service_doubling_is_rolled_back() -> None:
    """A 2 ms service that becomes 4 ms (microsecond-resolution samples)."""
    rng = random.Random(9)
    a = CanaryAnalysis()
    for _ in range(200):
        a.observe("baseline", rng.gammavariate(20, 0.1), False)
        a.observe("canary", rng.gammavariate(20, 0.2), False)
        if a.outcome() is Outcome.FAIL:
            break
    assert a.outcome() is Outcome.FAIL


def test_outcome_agrees_with_verdict() -> None:
    rng = random.Random(6)
    a = CanaryAnalysis(Thresholds(min_samples=5))
    for i in range(400):
        a.observe("baseline", latency(rng), rng.random() < 0.02)
        a.observe("canary", latency(rng, 15.0), rng.random() < 0.06)
        if i % 7 == 0:
            assert a.outcome() is a.verdict().outcome


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency_quantiles": (1.0,)},
        {"latency_quantiles": (0.5, 0.5)},
        {"alpha": 0.0},
        {"min_samples": 0},
        {"max_error_rate_increase": -0.1},
        {"max_latency_increase": -1.0},
    ],
)
def test_bad_thresholds_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Thresholds(**kwargs)  # type: ignore[arg-type]


def test_unknown_arm_is_rejected() -> None:
    with pytest.raises(ValueError, match="arm"):
        CanaryAnalysis().observe("primary", 1.0, False)  # type: ignore[arg-type]


# --- issue 10: reasons never print an infinite bound or an absurd percentage -----------------

NOT_FOR_PEOPLE = re.compile(r"\u221e|\binf\b|\bnan\b|\d{4,}(\.\d+)? ?%", re.IGNORECASE)


def test_unbounded_sequences_read_not_yet_bounded() -> None:
    rng = random.Random(11)
    a = CanaryAnalysis()
    for _ in range(5):
        a.observe("baseline", rng.uniform(0.01, 0.05), False)  # sub-millisecond baseline
        a.observe("canary", rng.uniform(200, 210), False)
    p50 = a.verdict().metrics[0]
    assert not any(math.isfinite(x) for x in p50.interval)
    assert "canary p50 205 ms vs 0.03 ms;" in p50.reason
    assert not NOT_FOR_PEOPLE.search(p50.reason), p50.reason


@pytest.mark.parametrize("seed", range(5))
def test_no_reason_ever_shows_an_infinite_bound(seed: int) -> None:
    rng = random.Random(seed)
    a = CanaryAnalysis(Thresholds(min_samples=5))
    for i in range(120):
        a.observe("baseline", rng.uniform(0.01, 0.05), rng.random() < 0.01)
        if i % 3 == 0:
            a.observe("canary", rng.uniform(100, 300), rng.random() < 0.3)
        v = a.verdict()
        for text in (v.reason, *(m.reason for m in v.metrics)):
            assert not NOT_FOR_PEOPLE.search(text), text
