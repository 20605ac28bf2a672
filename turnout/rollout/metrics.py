"""Where rollouts read traffic from, and the built-in checks computed from it.

Why this exists: the front ends must not know how telemetry is stored. They ask a
``MetricSource`` for one version's requests (latencies and error flags) over a window, and turn
them into ``Gate``s: the baseline-relative statistical verdict of ``turnout.analysis`` (canary
versus stable over the same window), and Flagger's builtin absolute checks. Thin traffic is
Inconclusive, never Failed (flagger#1035, argo-rollouts#1945). ``FakeMetrics`` stands in for the
telemetry store in tests.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from turnout.analysis import CanaryAnalysis, Outcome, Thresholds
from turnout.rollout.engine import Gate
from turnout.types import Obj


class MetricSource(Protocol):
    def samples(self, namespace: str, service: str, version: str,
                since: timedelta) -> tuple[list[float], list[bool]]:
        """Latencies (ms) and error flags of the requests served by ``version`` of
        ``service`` over the last ``since``."""
        ...


def identity(template: Obj, fallback_service: str = "") -> tuple[str, str]:
    """(service, version) of the pods a template makes, as turnout's telemetry tags them."""
    meta = template.get("metadata") or {}
    labels = meta.get("labels") or {}
    env: dict[str, str] = {}
    for c in (template.get("spec") or {}).get("containers") or []:
        for e in c.get("env") or []:
            if "value" in e:
                env.setdefault(str(e.get("name")), str(e["value"]))
    version = (labels.get("version") or labels.get("tags.datadoghq.com/version")
               or labels.get("app.kubernetes.io/version") or env.get("DD_VERSION") or "")
    service = (labels.get("tags.datadoghq.com/service") or env.get("DD_SERVICE")
               or labels.get("app.kubernetes.io/name") or labels.get("app")
               or fallback_service)
    return str(service), str(version)


@dataclass(frozen=True)
class Arms:
    """Which telemetry series are the baseline (stable) and the canary."""

    namespace: str
    service: str
    stable_version: str
    canary_version: str


def verdict_gate(source: MetricSource, arms: Arms, since: timedelta,
                 thresholds: Thresholds | None = None) -> Gate:
    """The sequential canary-versus-baseline verdict over the rollout so far."""
    ana = CanaryAnalysis(thresholds)
    for arm, version in (("baseline", arms.stable_version), ("canary", arms.canary_version)):
        lat, err = source.samples(arms.namespace, arms.service, version, since)
        for ms, e in zip(lat, err, strict=False):
            ana.observe("baseline" if arm == "baseline" else "canary", ms, e)
    v = ana.verdict()
    return Gate(v.outcome, v.reason, tuple(m.to_json() for m in v.metrics))


def success_rate_gate(source: MetricSource, arms: Arms, since: timedelta, minimum: float,
                      min_samples: int = 20) -> Gate:
    """Flagger's `request-success-rate`: % of canary requests that are not errors >= minimum."""
    _, err = source.samples(arms.namespace, arms.service, arms.canary_version, since)
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
    lat, _ = source.samples(arms.namespace, arms.service, arms.canary_version, since)
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
    """A MetricSource with known distributions: ``rate`` requests per second per version, each
    drawn from that version's distribution (seeded, so tests are reproducible)."""

    dists: dict[str, Dist] = field(default_factory=dict)
    rate: float = 20.0
    seed: int = 1
    calls: int = 0

    def samples(self, namespace: str, service: str, version: str,
                since: timedelta) -> tuple[list[float], list[bool]]:
        self.calls += 1
        dist = self.dists.get(version)
        if dist is None:
            return [], []
        rng = random.Random(f"{self.seed}|{namespace}|{service}|{version}")
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
