"""What turnout can act on in a Flagger `Canary` spec, checked before anything is written.

Why this exists: a Canary turnout cannot run must say which field is wrong (`spec.provider`,
`spec.analysis.webhooks[0].type`, ...) in its status and change nothing, rather than fall back on
something else; Flagger itself logs and carries on (an unknown metrics provider becomes
Prometheus). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from turnout.rollout import flagger_targets
from turnout.rollout.flagger import BUILTIN_METRICS, SpecError, analysis, provider, seconds
from turnout.types import Obj

HOOK_TYPES = ("confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase",
              "confirm-promotion", "post-rollout", "rollback", "event")


def validate(spec: Obj, default_provider: str = "istio") -> str:
    """Check what turnout acts on; raise SpecError naming the first bad field. Returns the
    provider."""
    prov = provider(spec, default_provider)
    ref = spec.get("targetRef") or {}
    if not ref.get("name"):
        raise SpecError("spec.targetRef.name", "required")
    flagger_targets.kind_of(spec)
    svc = spec.get("service") or {}
    if not isinstance(svc.get("port"), int) or not 0 < svc["port"] < 65536:
        raise SpecError("spec.service.port", f"must be a port number, got {svc.get('port')!r}")
    if svc.get("delegation") and (svc.get("hosts") or svc.get("gateways")):
        raise SpecError("spec.service.delegation", "a delegate VirtualService cannot have "
                                                   "hosts and gateways")
    scaler = spec.get("autoscalerRef")
    if scaler is not None and (not isinstance(scaler, dict) or scaler.get("kind") !=
                               "HorizontalPodAutoscaler" or not scaler.get("name")):
        raise SpecError("spec.autoscalerRef", "turnout supports a HorizontalPodAutoscaler "
                                              "with a name (not KEDA ScaledObjects)")
    if prov == "nginx" and not (spec.get("ingressRef") or {}).get("name"):
        raise SpecError("spec.ingressRef", "required with provider nginx")
    a = analysis(spec)
    base = "spec.analysis"
    for key in ("interval",):
        try:
            seconds(a.get(key), 60.0)
        except ValueError as e:
            raise SpecError(f"{base}.{key}", str(e)) from None
    for key in ("threshold", "maxWeight", "stepWeight", "iterations", "mirrorWeight"):
        v = a.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise SpecError(f"{base}.{key}", f"must be a non-negative integer, got {v!r}")
        if key in ("maxWeight", "stepWeight", "mirrorWeight") and v is not None and v > 100:
            raise SpecError(f"{base}.{key}", f"must be a weight in 0..100, got {v!r}")
    steps = a.get("stepWeights") or []
    if not isinstance(steps, list) or any(not isinstance(w, int) or not 0 < w <= 100
                                          for w in steps) or steps != sorted(steps):
        raise SpecError(f"{base}.stepWeights", f"must be ascending weights in 1..100, got "
                                               f"{steps!r}")
    aff = a.get("sessionAffinity")
    if aff is not None and not (isinstance(aff, dict) and aff.get("cookieName")):
        raise SpecError(f"{base}.sessionAffinity.cookieName", "required")
    for i, m in enumerate(a.get("metrics") or []):
        _validate_metric(m, f"{base}.metrics[{i}]")
    for i, h in enumerate(a.get("webhooks") or []):
        path = f"{base}.webhooks[{i}]"
        if not isinstance(h, dict) or not h.get("name"):
            raise SpecError(f"{path}.name", "required")
        if h.get("type", "rollout") not in HOOK_TYPES and h.get("type") != "":
            raise SpecError(f"{path}.type", f"unknown webhook type {h.get('type')!r} "
                                            f"(one of {', '.join(HOOK_TYPES)})")
        if not h.get("url"):
            raise SpecError(f"{path}.url", "required")
        try:
            seconds(h.get("timeout"), 10.0)
        except ValueError as e:
            raise SpecError(f"{path}.timeout", str(e)) from None
        if not isinstance(h.get("retries", 0), int):
            raise SpecError(f"{path}.retries", "must be an integer")
    return prov


def _validate_metric(m: Any, path: str) -> None:
    if not isinstance(m, dict) or not m.get("name"):
        raise SpecError(f"{path}.name", "required")
    try:
        seconds(m.get("interval"), 60.0)
    except ValueError as e:
        raise SpecError(f"{path}.interval", str(e)) from None
    for k, v in (m.get("thresholdRange") or {}).items():
        if k not in ("min", "max") or isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(f"{path}.thresholdRange.{k}", f"must be min or max with a number, "
                                                          f"got {v!r}")
    ref = m.get("templateRef")
    if ref is not None and not (isinstance(ref, dict) and ref.get("name")):
        raise SpecError(f"{path}.templateRef.name", "required")
    if ref is None and m["name"] not in BUILTIN_METRICS:
        raise SpecError(f"{path}.name", f"unknown builtin metric {m['name']!r} "
                                        f"({', '.join(BUILTIN_METRICS)}); other metrics "
                                        "need a templateRef to a MetricTemplate")
