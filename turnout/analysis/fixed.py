"""Fixed-sample comparison of two versions, for `turnout compare` and reports.

Why this exists: after the fact ("how did 2.0 do against 1.0 over the last hour?") the question
is a plain two-sample comparison at one sample size, not a sequential decision. It reports, per
latency quantile, each version's value and the difference with a distribution-free interval
built from exact binomial order statistics (each version's interval at half the error budget, so
the difference interval covers with at least the stated level), the Hodges-Lehmann shift with
its Moses interval, the error-rate difference with Newcombe's hybrid score interval, and a
one-line statement such as "2.0 is slower: p50 +201 ms, 95% CI +195 to +207 ms" (an interval
with no finite end says so instead of printing "-∞", see `turnout.analysis.fmt`).

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.analysis import ranks
from turnout.analysis.fmt import fmt_interval, fmt_ms, fmt_pct, fmt_points, signed
from turnout.analysis.verdict import quantile_name


def _binomial_cdf(n: int, p: float) -> tuple[int, list[float]]:
    """(start, cdf) with cdf[i] = P(Bin(n, p) <= start + i) over the window holding all but
    ~1e-30 of the mass; below the window the cdf is 0, above it 1."""
    sd = math.sqrt(n * p * (1 - p))
    start = max(0, math.floor(n * p - 12 * sd - 10))
    stop = min(n, math.ceil(n * p + 12 * sd + 10))
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    cdf: list[float] = []
    acc = 0.0
    for k in range(start, stop + 1):
        acc += math.exp(
            log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
        )
        cdf.append(min(acc, 1.0))
    return start, cdf


def quantile_interval(
    sorted_values: Sequence[float], q: float, error: float
) -> tuple[float, float, float]:
    """(estimate, lower, upper) for the q-quantile of one sample: the nearest-rank estimate and
    order statistics covering the true quantile with probability >= 1 - error (exact,
    distribution-free; infinite ends when the sample is too small)."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("empty sample")
    start, cdf = _binomial_cdf(n, q)

    def cdf_at(j: int) -> float:  # P(B <= j)
        if j < start:
            return 0.0
        if j >= start + len(cdf):
            return 1.0
        return cdf[j - start]

    # lower rank l: largest l with P(B <= l - 1) <= error / 2
    lo_rank = 0
    for j in range(start, min(n, start + len(cdf)) + 1):
        if cdf_at(j - 1) <= error / 2:
            lo_rank = j
        else:
            break
    # upper rank u: smallest u with P(B >= u) = 1 - P(B <= u - 1) <= error / 2
    hi_rank = n + 1
    for j in range(max(1, start), n + 1):
        if 1.0 - cdf_at(j - 1) <= error / 2:
            hi_rank = j
            break
    estimate = sorted_values[max(1, math.ceil(n * q)) - 1]
    lower = sorted_values[lo_rank - 1] if lo_rank >= 1 else -math.inf
    upper = sorted_values[hi_rank - 1] if hi_rank <= n else math.inf
    return estimate, lower, upper


@dataclass(frozen=True)
class QuantileDifference:
    quantile: float
    baseline: float
    canary: float
    difference: float
    interval: tuple[float, float]

    @property
    def name(self) -> str:
        return quantile_name(self.quantile)


@dataclass(frozen=True)
class LatencyComparison:
    n_baseline: int
    n_canary: int
    level: float
    quantiles: tuple[QuantileDifference, ...]
    shift: ranks.Shift
    statement: str


def compare_latency(
    baseline: Sequence[float],
    canary: Sequence[float],
    level: float = 0.95,
    quantiles: Sequence[float] = (0.5, 0.99),
    baseline_name: str = "baseline",
    canary_name: str = "canary",
) -> LatencyComparison:
    """Compare two latency samples (ms) at a fixed sample size."""
    if not baseline or not canary:
        raise ValueError("both samples must be non-empty")
    if not quantiles:
        raise ValueError("no quantiles to compare")
    ranks.z_value(level)  # validates level
    b, c = sorted(baseline), sorted(canary)
    error = (1.0 - level) / 2.0  # per version, so the difference covers with >= level
    diffs = []
    for q in quantiles:
        est_b, lo_b, hi_b = quantile_interval(b, q, error)
        est_c, lo_c, hi_c = quantile_interval(c, q, error)
        diffs.append(
            QuantileDifference(q, est_b, est_c, est_c - est_b, (lo_c - hi_b, hi_c - lo_b))
        )
    shift = ranks.hodges_lehmann(b, c, level)
    first = diffs[0]
    ci = f"{level * 100:g}% CI {fmt_interval(*first.interval, fmt_ms, 'ms')}"
    figure = f"{first.name} {signed(fmt_ms, first.difference)} ms, {ci}"
    if first.interval[0] > 0:
        statement = f"{canary_name} is slower: {figure}"
    elif first.interval[1] < 0:
        statement = f"{canary_name} is faster: {figure}"
    else:
        statement = (
            f"no significant {first.name} latency difference between {canary_name} and "
            f"{baseline_name}: {figure}"
        )
    return LatencyComparison(len(b), len(c), level, tuple(diffs), shift, statement)


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if trials <= 0:
        return 0.0, 1.0
    z = ranks.z_value(level)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class RateComparison:
    baseline: float
    canary: float
    difference: float
    interval: tuple[float, float]
    level: float
    statement: str


def compare_error_rate(
    baseline_errors: int,
    baseline_requests: int,
    canary_errors: int,
    canary_requests: int,
    level: float = 0.95,
    baseline_name: str = "baseline",
    canary_name: str = "canary",
) -> RateComparison:
    """Error-rate difference (canary - baseline) with Newcombe's hybrid score interval."""
    for errors, total, name in (
        (baseline_errors, baseline_requests, baseline_name),
        (canary_errors, canary_requests, canary_name),
    ):
        if total <= 0 or not 0 <= errors <= total:
            raise ValueError(f"{name}: {errors} errors out of {total} requests")
    p_b, p_c = baseline_errors / baseline_requests, canary_errors / canary_requests
    lo_b, hi_b = wilson_interval(baseline_errors, baseline_requests, level)
    lo_c, hi_c = wilson_interval(canary_errors, canary_requests, level)
    d = p_c - p_b
    interval = (
        d - math.sqrt((p_c - lo_c) ** 2 + (hi_b - p_b) ** 2),
        d + math.sqrt((hi_c - p_c) ** 2 + (p_b - lo_b) ** 2),
    )
    ci = f"{level * 100:g}% CI {fmt_interval(*interval, fmt_points, 'points')}"
    figure = f"error rate {fmt_pct(p_c)} vs {fmt_pct(p_b)}, {ci}"
    if interval[0] > 0:
        statement = f"{canary_name} has more errors: {figure}"
    elif interval[1] < 0:
        statement = f"{canary_name} has fewer errors: {figure}"
    else:
        statement = f"no significant error-rate difference: {figure}"
    return RateComparison(p_b, p_c, d, interval, level, statement)
