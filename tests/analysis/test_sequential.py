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
        assert failed[0].interval[0] > 0.005
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
    assert v.outcome is Outcome.FAIL
    p50 = next(m for m in v.metrics if m.metric == "latency_p50")
    assert p50.outcome is Outcome.FAIL and p50.settled
    assert p50.difference is not None and 190 < p50.difference < 210
    assert p50.interval[0] > p50.threshold
    assert f"{p50.difference:.0f} ms slower than baseline" in p50.reason
    assert "99% CS" in p50.reason and "above the 10% limit" in p50.reason
    assert re.search(r"99% CS \+\d+ to \+\d+ ms\)", p50.reason), p50.reason
    errors = v.metrics[-1]
    assert re.search(r"99% CS -[\d.]+ to \+[\d.]+ points\)", errors.reason), errors.reason
    assert p50.reason in v.reason
    doc = v.to_json()
    assert doc["outcome"] == "Failed"
    assert doc["metrics"][0]["metric"] == "latency_p50"
    assert doc["metrics"][0]["nCanary"] == 60
    # p99 of the baseline cannot be bounded with 60 requests: reported, not guessed
    assert doc["metrics"][1]["interval"] == [None, None]


def test_pass_reason_and_settled_within_limits() -> None:
    rng = random.Random(4)
    a = CanaryAnalysis(Thresholds(latency_quantiles=(0.5,), max_error_rate_increase=0.05))
    for _ in range(2000):
        a.observe("baseline", rng.uniform(90, 110), False)
        a.observe("canary", rng.uniform(90, 110), False)
    v = a.verdict()
    assert v.outcome is Outcome.PASS
    assert v.settled
    assert "within every limit" in v.reason
    assert "within the 10% limit" in v.metrics[0].reason


def test_require_all_metrics_waits_for_p99() -> None:
    rng = random.Random(5)
    a = CanaryAnalysis(Thresholds(require_all_metrics=True))
    for _ in range(100):
        a.observe("baseline", latency(rng), False)
        a.observe("canary", latency(rng), False)
    v = a.verdict()
    assert v.outcome is Outcome.INCONCLUSIVE
    assert "latency_p99" in v.reason
    assert a.outcome() is Outcome.INCONCLUSIVE
    lenient = CanaryAnalysis()
    for _ in range(100):
        lenient.observe("baseline", latency(rng), False)
        lenient.observe("canary", latency(rng), False)
    assert lenient.verdict().outcome is Outcome.PASS
    assert "not judged yet: latency_p99" in lenient.verdict().reason


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
    assert "99% CS not yet bounded)" in p50.reason
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
