"""Flagger `Canary` front end: spec → engine plan, generated objects, status.

Why this exists: Flagger users keep their Deployment and add a `Canary` next to it; Flagger then
runs a `<name>-primary` copy as the stable, points `<svc>` / `<svc>-primary` at it, `<svc>-canary`
at the target's pods, and moves weight in a generated VirtualService every `interval` while the
checks pass. This module holds the pure parts of that (what to generate, the plan, the status);
``flagger_controller`` does the I/O.

Pure: no I/O.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from turnout.controllers.workloads import template_hash
from turnout.rollout import engine
from turnout.rollout.engine import (
    Analyze,
    HeaderMatch,
    Phase,
    Plan,
    SetHeaderRoute,
    SetMirrorRoute,
    SetWeight,
    State,
)
from turnout.types import Obj

REVISION = "turnout.dev/revision"
COMMAND = "turnout.dev/rollout-command"
SELECTOR_KEYS = ("app", "app.kubernetes.io/name", "name")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def seconds(value: Any, default: float) -> float:
    """A Go duration ("1m", "30s", "1m30s", "500ms") in seconds."""
    if value is None or value == "":
        return default
    if isinstance(value, (int, float)):
        return float(value)
    total, pos = 0.0, 0
    text = str(value).strip()
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            raise ValueError(f"invalid duration {value!r}")
        n = float(m.group(1))
        total += n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {value!r}")
    return total


def revision(template: Obj) -> str:
    t = copy.deepcopy(template)
    (t.get("metadata") or {}).pop("creationTimestamp", None)
    return template_hash(t)


def weights(analysis: Obj) -> list[int]:
    if analysis.get("stepWeights"):
        return [int(w) for w in analysis["stepWeights"]]
    step = int(analysis.get("stepWeight") or 0)
    top = int(analysis.get("maxWeight") or 50)
    if step <= 0:
        return []
    return list(range(step, top + 1, step)) or [top]


def header_matches(match: list[Obj]) -> tuple[HeaderMatch, ...]:
    out = []
    for m in match or []:
        for name, cond in (m.get("headers") or {}).items():
            kind, value = next(iter((cond or {"exact": ""}).items()))
            out.append(HeaderMatch(name=str(name), value=str(value), kind=str(kind)))
    return tuple(out)


def plan(spec: Obj) -> Plan:
    a = spec.get("analysis") or spec.get("canaryAnalysis") or {}
    steps: list[engine.Step] = []
    iterations = int(a.get("iterations") or 0)
    if a.get("match"):
        steps.append(SetHeaderRoute("ab", header_matches(a["match"])))
        steps += [Analyze("check")] * max(1, iterations)
    elif a.get("mirror"):
        steps.append(SetMirrorRoute("mirror", int(a.get("mirrorWeight") or 100)))
        steps += [Analyze("check")] * max(1, iterations)
        steps.append(SetMirrorRoute("mirror", None))
    elif iterations and not weights(a):  # blue/green: checks at 0 %, then switch
        steps += [Analyze("check")] * iterations
    else:
        for w in weights(a):
            steps += [SetWeight(w), Analyze("check")]
    return Plan(steps=tuple(steps), failure_threshold=max(1, int(a.get("threshold") or 1)),
                inconclusive_pauses=False, scale_down_delay=5.0,
                progress_deadline=float(spec.get("progressDeadlineSeconds") or 600),
                deadline_aborts=True)


def selector_key(labels: dict[str, str]) -> str:
    return next((k for k in SELECTOR_KEYS if k in labels), "app")


def primary_deployment(canary: Obj, target: Obj, rev: str) -> Obj:
    """`<target>-primary`: the target's spec at revision ``rev`` with the selector label renamed."""
    name = target["metadata"]["name"]
    spec = copy.deepcopy(target.get("spec") or {})
    match = dict((spec.get("selector") or {}).get("matchLabels") or {})
    key = selector_key(match)
    match[key] = f"{name}-primary"
    spec["selector"] = {"matchLabels": match}
    tmeta = spec.setdefault("template", {}).setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), key: f"{name}-primary"}
    spec["replicas"] = max(1, int(spec.get("replicas", 1) or 1))
    labels = dict(target["metadata"].get("labels") or {})
    labels[key] = f"{name}-primary"
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"{name}-primary", "namespace": target["metadata"]["namespace"],
                         "labels": labels, "annotations": {REVISION: rev},
                         "ownerReferences": [owner_ref(canary)]},
            "spec": spec}


def owner_ref(canary: Obj) -> Obj:
    m = canary["metadata"]
    return {"apiVersion": canary.get("apiVersion", "flagger.app/v1beta1"), "kind": "Canary",
            "name": m["name"], "uid": m.get("uid", ""), "controller": True,
            "blockOwnerDeletion": True}


def services(canary: Obj, target: Obj) -> list[Obj]:
    """`<svc>` and `<svc>-primary` select the primary pods, `<svc>-canary` the target's."""
    svc = canary["spec"].get("service") or {}
    name = svc.get("name") or target["metadata"]["name"]
    port = int(svc.get("port") or 80)
    target_port = svc.get("targetPort") or port
    ports = [{"name": svc.get("portName") or "http", "port": port, "targetPort": target_port,
              "protocol": "TCP"}]
    canary_sel = dict(((target.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
    key = selector_key(canary_sel)
    primary_sel = {**canary_sel, key: f"{target['metadata']['name']}-primary"}
    ns = target["metadata"]["namespace"]
    out = []
    for n, sel in ((name, primary_sel), (f"{name}-primary", primary_sel),
                   (f"{name}-canary", canary_sel)):
        out.append({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": n, "namespace": ns, "labels": {key: n},
                                 "ownerReferences": [owner_ref(canary)]},
                    "spec": {"type": "ClusterIP", "selector": sel, "ports": copy.deepcopy(ports)}})
    return out


def virtual_service(canary: Obj, target: Obj) -> Obj:
    svc = canary["spec"].get("service") or {}
    name = svc.get("name") or target["metadata"]["name"]
    hosts = [name, *[h for h in svc.get("hosts") or [] if h != name]]
    gateways = list(svc.get("gateways") or [])
    if gateways and "mesh" not in gateways:
        gateways.append("mesh")
    route: Obj = {"name": name, "route": [
        {"destination": {"host": f"{name}-primary"}, "weight": 100},
        {"destination": {"host": f"{name}-canary"}, "weight": 0}]}
    for k in ("retries", "timeout", "headers", "corsPolicy", "rewrite"):
        if svc.get(k):
            route[k] = copy.deepcopy(svc[k])
    spec: Obj = {"hosts": hosts, "http": [route]}
    if gateways:
        spec["gateways"] = gateways
    return {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": target["metadata"]["namespace"],
                         "ownerReferences": [owner_ref(canary)]},
            "spec": spec}


def flagger_phase(s: State) -> str:
    if s.phase is Phase.HEALTHY:
        return "Succeeded" if s.message.endswith("promoted") else "Initialized"
    return {Phase.INITIALIZING: "Initializing", Phase.PROGRESSING: "Progressing",
            Phase.PAUSED: "Waiting", Phase.PROMOTING: "Promoting",
            Phase.ABORTED: "Failed"}[s.phase]


def status(s: State, old: Obj, now_iso: str, observed: int) -> Obj:
    phase = flagger_phase(s)
    promoted = {"Succeeded": "True", "Initialized": "True", "Failed": "False"}.get(phase,
                                                                                  "Unknown")
    reason = {"Initialized": "Initialized", "Succeeded": "Succeeded", "Failed": "Failed"}.get(
        phase, "Progressing")
    prev = {c.get("type"): c for c in old.get("conditions") or []}.get("Promoted") or {}
    same = prev.get("status") == promoted and prev.get("reason") == reason
    message = s.message or {"Initialized": "Deployment initialization completed.",
                            "Succeeded": "Canary analysis completed successfully, promotion "
                                         "finished.",
                            "Progressing": "New revision detected, progressing canary "
                                           "analysis."}.get(phase, "")
    return {
        "phase": phase,
        "canaryWeight": s.weight,
        "failedChecks": s.failed_checks,
        "iterations": s.checks,
        "lastAppliedSpec": s.canary or s.stable,
        "lastPromotedSpec": s.stable,
        "lastTransitionTime": prev.get("lastTransitionTime") if same and prev else now_iso,
        "observedGeneration": observed,
        "conditions": [{"type": "Promoted", "status": promoted, "reason": reason,
                        "message": message,
                        "lastUpdateTime": now_iso,
                        "lastTransitionTime": prev.get("lastTransitionTime", now_iso)
                        if same else now_iso}],
        "turnout": s.to_json(),
    }
