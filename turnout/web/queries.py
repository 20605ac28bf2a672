"""Telemetry reads the dashboard needs beyond `turnout.telemetry.api`: traffic edges and latency
histograms.

Why this exists: the telemetry JSON API answers per-service questions; the traffic map needs the
records grouped by caller → destination (and by destination version), and the comparison page a
latency histogram of two versions. The numbers of each group come from
`turnout.telemetry.model.stats_obj`, the same function behind the JSON API, so a figure on the map
is computed exactly like the same figure on a service page.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from turnout.telemetry.arms import ANSWERED_SQL, ARM_SQL, Arm
from turnout.telemetry.model import QUANTILES, arms_by_service, stats_obj
from turnout.types import Obj

_STATS = (f"count(*), sum(CASE WHEN error THEN 1 ELSE 0 END), min(ts), max(ts), "
          f"quantile_disc(duration_ms, {list(QUANTILES)}), max(duration_ms)")
_KEY = "source_namespace, source_service, dest_namespace, dest_service"

HISTOGRAM_SAMPLE = 5000
BINS = 30


class _Query(Protocol):
    def query(self, sql: str, params: list[object]) -> list[tuple[object, ...]]: ...


class _Samples(Protocol):
    def arm(self, namespace: str, service: str, text: str) -> Arm: ...

    def samples(self, namespace: str, service: str, arm: str, start: float,
                limit: int | None = None) -> tuple[list[float], int]: ...


NO_UPSTREAM = "no upstream"
"""The split of an edge's requests that no pod answered (`503 UH`): not a version."""


def traffic(store: _Query, since: float, now: float | None = None) -> tuple[list[Obj], list[Obj]]:
    """(edges, splits): caller → destination service, and the same per destination arm (its
    label, as `turnout.telemetry.model` names it), the requests no pod answered apart."""
    now = time.time() if now is None else now
    start = now - since
    edges = []
    for r in store.query(
            f"SELECT {_KEY}, any_value(split_part(dest_k8s_service, '.', 1)), {_STATS} "
            f"FROM requests WHERE ts >= ? GROUP BY {_KEY} ORDER BY {_KEY}", [start]):
        edges.append({"source_namespace": str(r[0]), "source_service": str(r[1]),
                      "dest_namespace": str(r[2]), "dest_service": str(r[3]),
                      "kubernetes_service": str(r[4] or ""),
                      "stats": stats_obj(r[5:11], start, now)})
    splits = []
    labels = {(ns, svc, a.key): a.label
              for (ns, svc), arms in arms_by_service(store).items() for a in arms}
    arm = f"CASE WHEN {ANSWERED_SQL} THEN {ARM_SQL} END"
    for r in store.query(
            f"SELECT {_KEY}, {arm}, subset, any_value(source_workload), "
            f"any_value(dest_workload), {_STATS} FROM requests WHERE ts >= ? "
            f"GROUP BY {_KEY}, {arm}, subset ORDER BY {_KEY}, {arm}, subset",
            [start]):
        lost = r[4] is None
        splits.append({"source_namespace": str(r[0]), "source_service": str(r[1]),
                       "dest_namespace": str(r[2]), "dest_service": str(r[3]),
                       "dest_version": NO_UPSTREAM if lost else
                       labels.get((str(r[2]), str(r[3]), str(r[4])), str(r[4])),
                       "no_upstream": lost, "subset": str(r[5] or ""),
                       "source_workload": str(r[6] or ""), "dest_workload": str(r[7] or ""),
                       "stats": stats_obj(r[8:14], start, now)})
    return edges, splits


def bins(samples: dict[str, list[float]], n: int = BINS) -> Obj:
    """Shared log-spaced latency bins (ms) over every version's samples, with each version's
    fraction of requests per bin. Pure."""
    values = [v for vs in samples.values() for v in vs if v > 0 and math.isfinite(v)]
    if not values:
        return {"edges": [], "versions": {k: [] for k in samples}}
    lo, hi = min(values), max(values)
    if hi <= lo:
        hi = lo * 1.5 + 1
    a, b = math.log(lo), math.log(hi)
    edges = [round(math.exp(a + (b - a) * i / n), 3) for i in range(n + 1)]
    out: dict[str, list[float]] = {}
    for version, vs in samples.items():
        counts = [0] * n
        for v in vs:
            if v <= 0 or not math.isfinite(v):
                i = 0
            else:
                i = min(n - 1, max(0, int((math.log(v) - a) / (b - a) * n)))
            counts[i] += 1
        total = len(vs) or 1
        out[version] = [round(c / total, 5) for c in counts]
    return {"edges": edges, "versions": out}


def histogram(model: _Samples, namespace: str, service: str, versions: list[str],
              since: float, now: float | None = None, limit: int = HISTOGRAM_SAMPLE) -> Obj:
    """Latency histograms of `versions` over the last `since` seconds, from a uniform random
    sample of at most `limit` requests per version."""
    now = time.time() if now is None else now
    samples = {v: model.samples(namespace, service, model.arm(namespace, service, v).key,
                                now - since, limit)[0] for v in versions}
    out = bins(samples)
    out.update({"kind": "LatencyHistogram", "namespace": namespace, "service": service,
                "unit": "ms", "sample": {v: len(s) for v, s in samples.items()}})
    return out
