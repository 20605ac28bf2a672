"""One simulated run of `bench/detection.py`: a request stream and the judges that read it.

A stream is generated request by request: each request goes to the canary with probability w,
its latency and error drawn from the arm's law (`_detection_model`). Judges on the same stream:

* turnout's `CanaryAnalysis`, `outcome()` read after every request;
* an mSPRT (Johari et al.'s normal mixture, unequal-arms form with plug-in variances, see the
  notes) on each metric -- the error-rate difference and the difference of mean log latency --
  each at alpha / 2 like turnout's rollback tests, read after every request from 20 per arm;
* the fixed-sample test of the row's metric, once, when the canary has n requests.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist

from _detection_model import (
    BASE_MEDIAN_MS,
    BASE_SIGMA,
    TAIL_MEDIAN_MS,
    TAIL_SHARE,
    TAIL_SIGMA,
    Canary,
)

from turnout.analysis import CanaryAnalysis, Outcome, Thresholds

MIN_PER_ARM = 20
TAU_ERRORS = 0.02
"""mSPRT mixing scale for the error-rate difference: the issue's 1 % -> 3 % effect."""
TAU_LOG_LATENCY = math.log(1.2)
"""mSPRT mixing scale for the log-latency difference: the issue's x1.2 effect."""


@dataclass(frozen=True)
class Stream:
    canary: list[bool]
    latency: list[float]
    error: list[bool]


def _base_latency(rng: random.Random) -> float:
    if rng.random() < TAIL_SHARE:
        return rng.lognormvariate(math.log(TAIL_MEDIAN_MS), TAIL_SIGMA)
    return rng.lognormvariate(math.log(BASE_MEDIAN_MS), BASE_SIGMA)


def make_stream(c: Canary, p_b: float, w: float, horizon: int, seed: str) -> Stream:
    """Requests until the canary has `horizon` of them."""
    rng = random.Random(seed)
    arms: list[bool] = []
    lat: list[float] = []
    err: list[bool] = []
    n_c = 0
    while n_c < horizon:
        is_c = rng.random() < w
        x = _base_latency(rng)
        if is_c:
            n_c += 1
            lat.append(c.scale * x + c.shift_ms)
            err.append(rng.random() < c.errors)
        else:
            lat.append(x)
            err.append(rng.random() < p_b)
        arms.append(is_c)
    return Stream(arms, lat, err)


# -- turnout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnoutResult:
    outcome: Outcome  # the first non-Inconclusive outcome (INCONCLUSIVE: none by the horizon)
    at: int  # canary requests at that outcome
    first_fail: int | None  # canary requests at the first Failed (runs continued past a PASS)
    failed_metrics: tuple[str, ...] = ()


def run_turnout(s: Stream, th: Thresholds, through: bool) -> TurnoutResult:
    """Stop at the first non-Inconclusive outcome; with `through`, continue to the end of the
    stream looking for a Failed (a false rollback even after a promotion was available)."""
    a = CanaryAnalysis(th)
    first: tuple[Outcome, int] | None = None
    n_c = 0
    for is_c, lat, err in zip(s.canary, s.latency, s.error, strict=True):
        a.observe("canary" if is_c else "baseline", lat, err)
        n_c += is_c
        o = a.outcome()
        if o is Outcome.INCONCLUSIVE:
            continue
        if first is None:
            first = (o, n_c)
        if o is Outcome.FAIL:
            metrics = tuple(m.metric for m in a.verdict().metrics if m.outcome is Outcome.FAIL)
            return TurnoutResult(first[0], first[1], n_c, metrics)
        if not through:
            break
    if first is None:
        return TurnoutResult(Outcome.INCONCLUSIVE, n_c, None)
    return TurnoutResult(first[0], first[1], None)


def run_turnout_steps(c: Canary, p_b: float, th: Thresholds, step: int, horizon: int,
                      seed: str) -> Outcome:
    """Analysis steps of `step` requests per arm, `outcome()` read after each step."""
    rng = random.Random(seed)
    a = CanaryAnalysis(th)
    for _ in range(horizon // step):
        for _ in range(step):
            a.observe("baseline", _base_latency(rng), rng.random() < p_b)
        for _ in range(step):
            a.observe("canary", c.scale * _base_latency(rng) + c.shift_ms,
                      rng.random() < c.errors)
        o = a.outcome()
        if o is not Outcome.INCONCLUSIVE:
            return o
    return Outcome.INCONCLUSIVE


# -- mSPRT --------------------------------------------------------------------------------------


class _Moments:
    __slots__ = ("n", "s", "ss")

    def __init__(self) -> None:
        self.n = 0
        self.s = 0.0
        self.ss = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        self.s += x
        self.ss += x * x

    def mean(self) -> float:
        return self.s / self.n

    def var(self) -> float:
        m = self.s / self.n
        return max(self.ss / self.n - m * m, 0.0)


def _msprt_log_lambda(theta: float, v: float, tau2: float) -> float:
    return 0.5 * math.log(v / (v + tau2)) + tau2 * theta * theta / (2 * v * (v + tau2))


def run_msprt(s: Stream, th: Thresholds) -> int | None:
    """Canary requests at the first rejection (canary worse than the margin), or None."""
    cut = math.log(2 / th.alpha)  # alpha / 2 per metric
    lat_margin = math.log1p(th.max_latency_increase)
    err = {True: [0, 0], False: [0, 0]}  # arm -> [requests, errors]
    lat = {True: _Moments(), False: _Moments()}
    te2, tl2 = TAU_ERRORS ** 2, TAU_LOG_LATENCY ** 2
    for is_c, x, e in zip(s.canary, s.latency, s.error, strict=True):
        arm = err[is_c]
        arm[0] += 1
        arm[1] += e
        lat[is_c].add(math.log(max(x, 1e-9)))
        (n_c, x_c), (n_b, x_b) = err[True], err[False]
        if n_c < MIN_PER_ARM or n_b < MIN_PER_ARM:
            continue
        # errors: smoothed rates keep the plug-in variance above 0
        pc, pb = (x_c + 0.5) / (n_c + 1), (x_b + 0.5) / (n_b + 1)
        d = x_c / n_c - x_b / n_b - th.max_error_rate_increase * (1 - x_b / n_b)
        v = pc * (1 - pc) / n_c + pb * (1 - pb) / n_b
        if d > 0 and _msprt_log_lambda(d, v, te2) >= cut:
            return n_c
        lc, lb = lat[True], lat[False]
        d = lc.mean() - lb.mean() - lat_margin
        v = max(lc.var(), 1e-6) / n_c + max(lb.var(), 1e-6) / n_b
        if d > 0 and _msprt_log_lambda(d, v, tl2) >= cut:
            return n_c
    return None


# -- fixed-sample tests -------------------------------------------------------------------------

_Z = NormalDist()


def _prefix(s: Stream, n: int) -> int | None:
    """Number of requests up to and including the canary's n-th, or None."""
    seen = 0
    for i, is_c in enumerate(s.canary):
        seen += is_c
        if seen == n:
            return i + 1
    return None


def fixed_errors_rejects(s: Stream, n: int, alpha: float, margin: float) -> bool | None:
    end = _prefix(s, n)
    if end is None:
        return None
    n_c = n_b = x_c = x_b = 0
    for is_c, e in zip(s.canary[:end], s.error[:end], strict=True):
        if is_c:
            n_c += 1
            x_c += e
        else:
            n_b += 1
            x_b += e
    if n_b == 0:
        return False
    pc, pb = x_c / n_c, x_b / n_b
    d = pc - pb - margin * (1 - pb)
    if margin == 0.0:
        p = (x_c + x_b) / (n_c + n_b)
        var = p * (1 - p) * (1 / n_c + 1 / n_b)
    else:
        var = pc * (1 - pc) / n_c + pb * (1 - pb) / n_b
    if var <= 0:
        return d > 0
    return d / math.sqrt(var) > _Z.inv_cdf(1 - alpha)


def fixed_latency_rejects(s: Stream, n: int, alpha: float, margin: float) -> bool | None:
    """One-sided Mann-Whitney (normal approximation) of canary against margin x baseline."""
    end = _prefix(s, n)
    if end is None:
        return None
    values = sorted((x if is_c else margin * x, is_c)
                    for is_c, x in zip(s.canary[:end], s.latency[:end], strict=True))
    n_c = n
    n_b = end - n
    if n_b == 0:
        return False
    rank_sum = sum(i + 1 for i, (_, is_c) in enumerate(values) if is_c)
    u = rank_sum - n_c * (n_c + 1) / 2
    mean = n_c * n_b / 2
    sd = math.sqrt(n_c * n_b * (n_c + n_b + 1) / 12)
    return (u - mean) / sd > _Z.inv_cdf(1 - alpha)
