"""Two arms (revisions) of a service side by side: the numbers, their change, and what is
significant. Each arm is shown by its label (`turnout.telemetry.arms`).

Like an APM's deployment comparison: requests, req/s, error rate and latency quantiles of each
version with absolute and % change; a confidence interval for the latency shift and for the
error-rate difference (the statistics are `turnout.analysis.compare_latency` and
`compare_error_rate`); error types only in one version or in both; and per-endpoint numbers sorted
by the size of the latency change. The exact quantiles come from all stored rows; the latency
intervals from a uniform random sample of at most `max_sample` requests per version (the interval
is about the versions' latency distributions, which a sample estimates without bias).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from turnout import analysis
from turnout.kube.errors import ApiError
from turnout.telemetry import arms
from turnout.telemetry.model import Q_NAMES, QUANTILES, Model
from turnout.types import Obj

MAX_SAMPLE = 5000
_METRICS = ("requests", "rps", "error_rate", *Q_NAMES, "max")


def _change(b: float | None, c: float | None) -> Obj:
    if b is None or c is None:
        return {"baseline": b, "candidate": c, "change": None, "change_pct": None}
    pct = (c - b) / b * 100 if b else (None if c else 0.0)
    return {"baseline": b, "candidate": c, "change": round(c - b, 6),
            "change_pct": round(pct, 2) if pct is not None else None}


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def compare(model: Model, namespace: str, service: str, baseline: str | None,
            candidate: str | None, now: float, since: float,
            max_sample: int = MAX_SAMPLE, level: float = 0.95,
            deployed: Mapping[str, float] | None = None) -> Obj:
    """Two arms (revisions) of a service; `baseline`/`candidate` name them by label, revision or
    an unambiguous version name. `deployed`: arm key -> when its newest pod was created; the arm
    deployed last is the default candidate (first traffic decides only for arms not running)."""
    service = model.resolve(namespace, service)
    order = arms.deployment_order(model.arms(namespace, service), deployed or {})
    if not order:
        lost = model.no_upstream(namespace, service, now, None)
        raise ApiError(404, "NotFound", (
            f"no pod of service {service!r} in namespace {namespace!r} answered a request "
            f"({lost['requests']} reached no upstream)") if lost else
            f"no requests recorded for service {service!r} in namespace {namespace!r}")
    ab, ac = arms.pick(order, baseline, candidate)
    b, c = ab.key, ac.key
    start = now - since
    versions = {v["version"]: v for v in model.versions(namespace, service, now, since,
                                                          deployed)}
    vb, vc = versions[ab.label], versions[ac.label]
    out: Obj = {
        "namespace": namespace, "service": service, "since_seconds": since, "level": level,
        "baseline": vb, "candidate": vc,
        "changes": {m: _change(vb.get(m), vc.get(m)) for m in _METRICS},
        "latency": None, "errors": None, "statements": [],
    }
    lat_b, _ = model.samples(namespace, service, b, start, max_sample)
    lat_c, _ = model.samples(namespace, service, c, start, max_sample)
    if lat_b and lat_c:
        lc = analysis.compare_latency(lat_b, lat_c, level, QUANTILES, ab.label, ac.label)
        out["latency"] = {
            "sample": [lc.n_baseline, lc.n_canary],
            "quantiles": [{"name": q.name, "quantile": q.quantile, "baseline": q.baseline,
                           "candidate": q.canary, "difference": q.difference,
                           "ci": [_finite(q.interval[0]), _finite(q.interval[1])]}
                          for q in lc.quantiles],
            "shift": {"estimate": lc.shift.estimate,
                      "ci": [_finite(lc.shift.interval[0]), _finite(lc.shift.interval[1])]},
            "statement": lc.statement,
        }
        out["statements"].append(lc.statement)
    nb, nc = int(vb["requests"]), int(vc["requests"])
    if nb and nc:
        rc = analysis.compare_error_rate(int(vb["errors"]), nb, int(vc["errors"]), nc,
                                         level, ab.label, ac.label)
        out["errors"] = {"baseline": rc.baseline, "candidate": rc.canary,
                         "difference": rc.difference, "ci": list(rc.interval),
                         "statement": rc.statement}
        out["statements"].append(rc.statement)
    types_b = model.error_types(namespace, service, b, start)
    types_c = model.error_types(namespace, service, c, start)
    out["error_types"] = {
        "only_baseline": [{"type": k, "count": n} for k, n in types_b.items() if k not in types_c],
        "only_candidate": [{"type": k, "count": n} for k, n in types_c.items()
                           if k not in types_b],
        "both": [{"type": k, "baseline": types_b[k], "candidate": n}
                 for k, n in types_c.items() if k in types_b],
    }
    out["endpoints"] = _endpoints(model, namespace, service, b, c, now, since)
    return out


def _endpoints(model: Model, namespace: str, service: str, b: str, c: str, now: float,
               since: float) -> list[Obj]:
    eb = {(e["method"], e["endpoint"]): e for e in model.endpoints(namespace, service, b, now,
                                                                    since)}
    ec = {(e["method"], e["endpoint"]): e for e in model.endpoints(namespace, service, c, now,
                                                                    since)}
    rows = []
    for key in sorted(set(eb) | set(ec)):
        x, y = eb.get(key), ec.get(key)
        row: Obj = {"method": key[0], "endpoint": key[1], "baseline": x, "candidate": y,
                    "p50": _change(x["p50"] if x else None, y["p50"] if y else None),
                    "error_rate": _change(x["error_rate"] if x else None,
                                          y["error_rate"] if y else None)}
        rows.append(row)
    rows.sort(key=lambda r: -abs(r["p50"]["change_pct"] or 0.0))
    return rows
