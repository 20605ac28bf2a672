"""Traffic generators for the outsider simulation of the analysis's guarantees.

Written for tests/analysis/test_guarantees_sim.py only: nothing here comes from (or is shared
with) bench/ or turnout.rollout.metrics. Each model is defined by its distribution, so a test can
say exactly where it sits against the limits of the contract:

* latency limit: limit(b) = max(b * (1 + rel), b + abs_ms); a canary whose latency is
  limit(B) in distribution (B a fresh baseline draw) is AT the boundary;
* error limit: p_c = p_b + inc * (1 - p_b) is AT the boundary.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from turnout.analysis import Arm

Sampler = Callable[[random.Random], float]
Request = tuple[Arm, float, bool]


# -- latency distributions (no lognormal: the bench's family is deliberately avoided) ------

def gamma_ms(shape: float, mean_ms: float) -> Sampler:
    scale = mean_ms / shape
    return lambda rng: rng.gammavariate(shape, scale)


def weibull_ms(shape: float, scale_ms: float, offset_ms: float = 0.0) -> Sampler:
    """Weibull with shape < 1 has a heavy tail; an offset models a floor (network time)."""
    return lambda rng: offset_ms + rng.weibullvariate(scale_ms, shape)


def integer_ms(values: tuple[int, ...], weights: tuple[float, ...]) -> Sampler:
    """A latency reported in whole milliseconds: few distinct values, so many ties."""
    cum = list(_cumulative(weights))
    return lambda rng: float(values[_pick(cum, rng.random())])


def scaled(base: Sampler, rel: float = 0.0, abs_ms: float = 0.0) -> Sampler:
    """limit(B) for a fresh draw B of `base`: exactly at the latency boundary."""
    return lambda rng: _limit(base(rng), rel, abs_ms)


def floored_limit(base: Sampler, rel: float) -> Sampler:
    """floor(B * (1 + rel)) for integer B: whole milliseconds, never above the limit."""
    return lambda rng: float(math.floor(base(rng) * (1 + rel)))


def shifted(base: Sampler, ms: float) -> Sampler:
    return lambda rng: base(rng) + ms


def _limit(b: float, rel: float, abs_ms: float) -> float:
    return max(b * (1 + rel), b + abs_ms)


def _cumulative(weights: tuple[float, ...]) -> Iterator[float]:
    total, acc = sum(weights), 0.0
    for w in weights:
        acc += w / total
        yield acc


def _pick(cum: list[float], u: float) -> int:
    for i, c in enumerate(cum):
        if u < c:
            return i
    return len(cum) - 1


def at_error_limit(p_baseline: float, inc: float) -> float:
    """The canary error rate exactly at the limit for a baseline rate `p_baseline`."""
    return p_baseline + inc * (1.0 - p_baseline)


# -- error processes -------------------------------------------------------------------------

class ErrorProcess:
    """Error probability for each arm at the current request; `step` advances shared time."""

    def rates(self) -> tuple[float, float]:  # (baseline, canary)
        raise NotImplementedError

    def step(self, rng: random.Random) -> None:
        return None


@dataclass
class SteadyErrors(ErrorProcess):
    baseline: float
    canary: float

    def rates(self) -> tuple[float, float]:
        return self.baseline, self.canary


class BurstyErrors(ErrorProcess):
    """A two-state incident chain shared by both arms (quiet / burst). In each state the
    canary's rate is exactly at the limit for the baseline's rate in that state, so the canary
    is at the boundary at every instant; errors arrive in clumps."""

    def __init__(self, quiet: float, burst: float, inc: float, p_enter: float,
                 p_leave: float) -> None:
        self.quiet, self.burst, self.inc = quiet, burst, inc
        self.p_enter, self.p_leave = p_enter, p_leave
        self.in_burst = False

    def rates(self) -> tuple[float, float]:
        p = self.burst if self.in_burst else self.quiet
        return p, at_error_limit(p, self.inc)

    def step(self, rng: random.Random) -> None:
        flip = self.p_leave if self.in_burst else self.p_enter
        if rng.random() < flip:
            self.in_burst = not self.in_burst


# -- arrival orders --------------------------------------------------------------------------

Order = Callable[[int, random.Random], Arm]


def random_split(canary_share: float) -> Order:
    return lambda i, rng: "canary" if rng.random() < canary_share else "baseline"


def phased_split(phases: tuple[tuple[int, float], ...]) -> Order:
    """Canary share by request index: ((until, share), ...), e.g. 10 % then 50 %."""
    def order(i: int, rng: random.Random) -> Arm:
        for until, share in phases:
            if i < until:
                return "canary" if rng.random() < share else "baseline"
        return "canary" if rng.random() < phases[-1][1] else "baseline"
    return order


def alternating() -> Order:
    return lambda i, rng: "canary" if i % 2 else "baseline"


def runs_of(length: int) -> Order:
    """Bursts of one arm at a time (e.g. 7 baseline, then 7 canary, ...), canary first."""
    return lambda i, rng: "canary" if (i // length) % 2 == 0 else "baseline"


# -- a scenario: order + latency per arm + errors --------------------------------------------

@dataclass
class Scenario:
    name: str
    order: Order
    baseline_latency: Sampler
    canary_latency: Sampler
    errors: Callable[[], ErrorProcess]

    def stream(self, seed: int, requests: int) -> Iterator[Request]:
        rng = random.Random(seed)
        errors = self.errors()
        for i in range(requests):
            arm = self.order(i, rng)
            p_b, p_c = errors.rates()
            if arm == "canary":
                yield arm, self.canary_latency(rng), rng.random() < p_c
            else:
                yield arm, self.baseline_latency(rng), rng.random() < p_b
            errors.step(rng)
