"""Where rollouts read traffic from, and the built-in checks computed from it.

Why this exists: the front ends must not know how telemetry is stored. They ask a
``MetricSource`` for one version's requests (latencies and error flags) over a window, and turn
them into ``Gate``s: the baseline-relative statistical verdict of ``turnout.analysis`` (canary
versus stable over the same window), and Flagger's builtin absolute checks. Thin traffic is
Inconclusive, never Failed (flagger#1035, argo-rollouts#1945). ``FakeMetrics`` stands in for the
telemetry store in tests.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from turnout.analysis import CanaryAnalysis, Outcome, Thresholds
from turnout.kube import identity
from turnout.rollout.engine import Gate
from turnout.types import Obj


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: the requests served by `workload` at `revision` (its pod
    template hash; "" = every revision), as Argo Rollouts and Flagger know their stable and
    canary. `service` + `version` select by names instead (the turnout provider's explicit
    settings). `name` only names the arm for people (a version label, else the hash)."""

    workload: str = ""
    revision: str = ""
    service: str = ""
    version: str = ""
    name: str = ""

    def describe(self) -> str:
        if self.workload:
            return f"{self.workload}@{self.revision}" if self.revision else self.workload
        return f"{self.service} {self.version}"

    def to_json(self) -> Obj:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}

    @classmethod
    def from_json(cls, data: object) -> Arm:
        if not isinstance(data, dict):
            return cls()
        return cls(**{f.name: str(data.get(f.name) or "") for f in dataclasses.fields(cls)})

    @property
    def selects(self) -> bool:
        """Whether this arm names any requests at all."""
        return bool(self.workload or (self.service and self.version))


class MetricSource(Protocol):
    def samples(self, namespace: str, arm: Arm, since: timedelta,
                start: float | None = None) -> tuple[list[float], list[bool]]:
        """Latencies (ms) and error flags of the requests `arm` served over the last
        `since` (or, given, since the epoch time `start`: a window that only grows), in the
        order they became known."""
        ...


def arm_of(workload: str, revision: str, template: Obj) -> Arm:
    """The arm of the pods a workload makes from `template` at `revision`."""
    _, version = identity.template_names(template, workload)
    return Arm(workload=workload, revision=revision, name=version or revision or workload)


@dataclass(frozen=True)
class Arms:
    """Which requests are the baseline (stable) and which the canary."""

    namespace: str
    stable: Arm
    canary: Arm


class Analyses:
    """One sequential analysis per judged comparison, fed only the records it has not seen.

    Why: re-building the analysis from the whole window at every measurement would judge a
    different sequence each time (blocks formed anew), which voids the anytime guarantee. Here
    each key (an AnalysisRun's metric, a Canary's rollout) keeps its analysis; the window starts
    at the step's start and only grows, and the source returns records in the order they became
    known, so each read extends the previous one and only the new tail is observed. A window that
    shrank (telemetry restarted, records expired) starts a new analysis, said in the reason.
    """

    def __init__(self, limit: int = 256) -> None:
        self._items: dict[str, tuple[CanaryAnalysis, int, int]] = {}
        self.limit = limit
        self.restarts = 0

    def feed(self, key: str, thresholds: Thresholds | None, baseline: tuple[list[float],
             list[bool]], canary: tuple[list[float], list[bool]]) -> tuple[CanaryAnalysis, str]:
        got = self._items.get(key)
        note = ""
        if got is not None and (len(baseline[0]) < got[1] or len(canary[0]) < got[2] or
                                got[0].thresholds != (thresholds or Thresholds())):
            self.restarts += 1
            note = "; the analysis restarted (the telemetry window shrank or limits changed)"
            got = None
        ana, seen_b, seen_c = got if got is not None else (CanaryAnalysis(thresholds), 0, 0)
        new_b = list(zip(*baseline, strict=False))[seen_b:]
        new_c = list(zip(*canary, strict=False))[seen_c:]
        # interleave the new records in proportion (arm labels only: the blocks stay valid)
        total = len(new_b) + len(new_c)
        i = j = 0
        for _ in range(total):
            if j < len(new_c) and (i >= len(new_b) or (j + 1) * len(new_b) <= (i + 1) *
                                   len(new_c)):
                ana.observe("canary", *new_c[j])
                j += 1
            else:
                ana.observe("baseline", *new_b[i])
                i += 1
        self._items.pop(key, None)
        self._items[key] = (ana, len(baseline[0]), len(canary[0]))
        while len(self._items) > self.limit:
            self._items.pop(next(iter(self._items)))
        return ana, note


ANALYSES = Analyses()


def verdict_gate(source: MetricSource, arms: Arms, since: timedelta,
                 thresholds: Thresholds | None = None, key: str = "",
                 start: float | None = None) -> Gate:
    """The sequential canary-versus-baseline verdict over the rollout (step) so far; ``key``
    names the comparison so that successive reads extend one sequence (see ``Analyses``), and
    ``start`` pins the window's start so that each read extends the last."""
    baseline = source.samples(arms.namespace, arms.stable, since, start)
    canary = source.samples(arms.namespace, arms.canary, since, start)
    if key:
        ana, note = ANALYSES.feed(key, thresholds, baseline, canary)
    else:
        ana, note = CanaryAnalysis(thresholds), ""
        for ms, e in zip(*baseline, strict=False):
            ana.observe("baseline", ms, e)
        for ms, e in zip(*canary, strict=False):
            ana.observe("canary", ms, e)
    v = ana.verdict()
    return Gate(v.outcome, v.reason + note, tuple(m.to_json() for m in v.metrics))


def no_data_gate(source: MetricSource, arms: Arms, since: timedelta, what: str) -> Gate | None:
    """Flagger's rule for a check with no data at all: a failed check ("no values found"), as it
    counts toward `threshold`; None when the canary served requests in the window."""
    lat, _ = source.samples(arms.namespace, arms.canary, since)
    if lat:
        return None
    return Gate(Outcome.FAIL, f"no values found for {what}: probably "
                              f"{arms.canary.describe()}.{arms.namespace} is not receiving "
                              f"traffic (0 canary requests in the last "
                              f"{since.total_seconds():.0f} s)",
                ({"metric": "requests", "canary": 0, "unit": "requests",
                  "window_s": since.total_seconds()},))


def success_rate_gate(source: MetricSource, arms: Arms, since: timedelta, minimum: float,
                      min_samples: int = 20) -> Gate:
    """Flagger's `request-success-rate`: % of canary requests that are not errors >= minimum."""
    _, err = source.samples(arms.namespace, arms.canary, since)
    if len(err) < min_samples:
        return Gate(Outcome.INCONCLUSIVE, f"request-success-rate: only {len(err)} canary "
                                          f"requests in the window, need {min_samples}")
    rate = 100.0 * (1 - sum(err) / len(err))
    ok = rate >= minimum
    m = {"metric": "request-success-rate", "canary": rate, "threshold": minimum, "unit": "%",
         "nCanary": len(err)}
    return Gate(Outcome.PASS if ok else Outcome.FAIL,
                f"request-success-rate {rate:.2f}% {'>=' if ok else '<'} {minimum:g}% "
                f"({len(err)} canary requests)", (m,))


def duration_gate(source: MetricSource, arms: Arms, since: timedelta, maximum_ms: float,
                  min_samples: int = 20) -> Gate:
    """Flagger's `request-duration`: canary p99 latency <= maximum."""
    lat, _ = source.samples(arms.namespace, arms.canary, since)
    if len(lat) < min_samples:
        return Gate(Outcome.INCONCLUSIVE, f"request-duration: only {len(lat)} canary requests "
                                          f"in the window, need {min_samples}")
    s = sorted(lat)
    p99 = s[max(1, math.ceil(len(s) * 0.99)) - 1]
    ok = p99 <= maximum_ms
    m = {"metric": "request-duration", "canary": p99, "threshold": maximum_ms, "unit": "ms",
         "nCanary": len(lat)}
    return Gate(Outcome.PASS if ok else Outcome.FAIL,
                f"request-duration p99 {p99:.0f} ms {'<=' if ok else '>'} {maximum_ms:g} ms "
                f"({len(lat)} canary requests)", (m,))


def combine(gates: list[Gate]) -> Gate:
    """Failed if any failed, else Inconclusive if any is, else Successful; reasons joined."""
    if not gates:
        return Gate(Outcome.PASS, "no checks configured")
    for outcome in (Outcome.FAIL, Outcome.INCONCLUSIVE):
        bad = [g for g in gates if g.outcome is outcome]
        if bad:
            return Gate(outcome, "; ".join(g.reason for g in bad),
                        tuple(m for g in gates for m in g.metrics))
    return Gate(Outcome.PASS, "; ".join(g.reason for g in gates),
                tuple(m for g in gates for m in g.metrics))


Dist = Callable[[random.Random], tuple[float, bool]]


@dataclass
class FakeMetrics:
    """A MetricSource with known distributions: ``rate`` requests per second per arm, each
    drawn from the distribution keyed by the arm's `name` (or `version`), seeded, so tests are
    reproducible."""

    dists: dict[str, Dist] = field(default_factory=dict)
    rate: float = 20.0
    seed: int = 1
    calls: int = 0

    def samples(self, namespace: str, arm: Arm, since: timedelta,
                start: float | None = None) -> tuple[list[float], list[bool]]:
        self.calls += 1
        key = arm.name or arm.version
        dist = self.dists.get(key)
        if dist is None:
            return [], []
        rng = random.Random(f"{self.seed}|{namespace}|{arm.workload or arm.service}|{key}")
        n = int(self.rate * since.total_seconds())
        lat: list[float] = []
        err: list[bool] = []
        for _ in range(n):
            ms, e = dist(rng)
            lat.append(ms)
            err.append(e)
        return lat, err


def lognormal(median_ms: float, sigma: float = 0.3, error_rate: float = 0.0,
              extra_ms: float = 0.0) -> Dist:
    """A latency distribution: lognormal around ``median_ms`` plus a constant ``extra_ms``."""
    mu = math.log(median_ms)

    def draw(rng: random.Random) -> tuple[float, bool]:
        return rng.lognormvariate(mu, sigma) + extra_ms, rng.random() < error_rate
    return draw
