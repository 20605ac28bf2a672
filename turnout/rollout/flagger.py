"""Flagger `Canary` front end: spec → engine plan, generated objects, status.

Why this exists: Flagger users keep their Deployment and add a `Canary` next to it; Flagger then
runs a `<name>-primary` copy as the stable, points `<svc>` / `<svc>-primary` at it, `<svc>-canary`
at the target's pods, and moves traffic every `analysis.interval` while the checks pass. This
module holds the pure parts of that: what the spec means, the plan the engine walks, the objects
to generate and the status to write (``flagger_spec`` checks the spec first);
``flagger_controller`` does the I/O.

Flagger's loop is one *tick* per interval, and the plan mirrors it: every ``Analyze`` step is one
tick. The first tick after a new revision runs only the pre-rollout hooks (no traffic yet); every
later tick runs the rollout hooks and the metric checks; a tick whose next step raises the
weight also asks confirm-traffic-increase, one that ends the steps asks confirm-promotion
(``flagger_tick`` turns a step into those stages).

Pure: no I/O.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass
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
FINALIZER = "finalizer.flagger.app"
SELECTOR_KEYS = ("app", "name", "app.kubernetes.io/name")  # Flagger's -selector-labels
PROVIDERS = ("istio", "kubernetes", "nginx")
BUILTIN_METRICS = ("request-success-rate", "request-duration")
TOOLKIT = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled",
           "helm.toolkit.fluxcd.io/driftDetection": "disabled"}
"""Flagger marks the Services it manages so Flux does not revert them."""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
PRE_ROLLOUT, CHECK, PROMOTION = "pre-rollout", "check", "promotion"
"""Names of the plan's Analyze steps: the first tick, an analysis tick, and an analysis tick
that ends the steps (so it also asks confirm-promotion)."""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


class SpecError(ValueError):
    """A Canary (or MetricTemplate) field that turnout cannot act on; ``str`` names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


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


def analysis(spec: Obj) -> Obj:
    a = spec.get("analysis") or spec.get("canaryAnalysis") or {}
    return a if isinstance(a, dict) else {}


def skips_analysis(spec: Obj) -> bool:
    """`skipAnalysis: true`, or no analysis at all: promote as soon as the canary is ready."""
    return bool(spec.get("skipAnalysis")) or not (spec.get("analysis")
                                                   or spec.get("canaryAnalysis"))


def interval(spec: Obj) -> float:
    return seconds(analysis(spec).get("interval"), 60.0)


def provider(spec: Obj, default: str = "istio") -> str:
    """`spec.provider`, else the mesh provider Flagger was installed with.

    A cluster runs one Flagger per provider (`-mesh-provider`, Helm `meshProvider`); turnout runs
    one for all, so a Canary naming no provider gets `nginx` when it has an `ingressRef` (only an
    ingress provider reads it, and Flagger's nginx install is how such Canaries are run), else
    ``default``.
    """
    name = str(spec.get("provider") or (
        "nginx" if (spec.get("ingressRef") or {}).get("name") else default))
    if name not in PROVIDERS:
        raise SpecError("spec.provider", f"unsupported provider {name!r} (turnout supports "
                                         f"{', '.join(PROVIDERS)})")
    return name


# --- plan -------------------------------------------------------------------------------------


def weights(a: Obj) -> list[int]:
    """The canary weights Flagger walks: `stepWeights` (capped at 100), or `stepWeight` steps
    until `maxWeight` (default 100) is reached or passed, as `nextStepWeight` does."""
    if a.get("stepWeights"):
        return [min(100, int(w)) for w in a["stepWeights"]]
    step = int(a.get("stepWeight") or 0)
    top = int(a.get("maxWeight") or 100)
    out: list[int] = []
    w = 0
    while step > 0 and w < top and w < 100:
        w = min(100, w + step)
        out.append(w)
    return out


def header_matches(match: list[Obj]) -> tuple[HeaderMatch, ...]:
    out = []
    for m in match or []:
        for name, cond in (m.get("headers") or {}).items():
            kind, value = next(iter((cond or {"exact": ""}).items()))
            out.append(HeaderMatch(name=str(name), value=str(value), kind=str(kind)))
    return tuple(out)


def strategy(spec: Obj, prov: str = "istio") -> str:
    """Flagger's `DeploymentStrategy`: A/B (match + iterations), blue/green (iterations, and
    always with the kubernetes provider), else canary."""
    a = analysis(spec)
    if prov == "kubernetes":
        return "bluegreen"
    if a.get("match") and a.get("iterations"):
        return "ab"
    if a.get("iterations"):
        return "bluegreen"
    return "canary"


def plan(spec: Obj, default_provider: str = "istio") -> Plan:
    a = analysis(spec)
    prov = provider(spec, default_provider)
    steps: list[engine.Step] = []
    if not skips_analysis(spec):
        steps.append(Analyze(PRE_ROLLOUT))
        how = strategy(spec, prov)
        iterations = max(1, int(a.get("iterations") or (10 if prov == "kubernetes" else 1)))
        mirror = bool(a.get("mirror")) and prov != "kubernetes"
        mirror_pct = int(a.get("mirrorWeight") or 100)
        if how == "ab":
            steps.append(SetHeaderRoute("ab", header_matches(a["match"])))
            steps += [Analyze(CHECK)] * (iterations - 1) + [Analyze(PROMOTION)]
        elif how == "bluegreen":
            if mirror:
                steps.append(SetMirrorRoute("mirror", mirror_pct))
            steps += [Analyze(CHECK)] * (iterations - 1) + [Analyze(PROMOTION)]
            if mirror:
                steps.append(SetMirrorRoute("mirror", None))
            if prov != "kubernetes":  # all traffic to the canary for one last tick
                steps.append(SetWeight(100))
            steps.append(Analyze(PROMOTION))
        else:
            ws = weights(a)
            if mirror and ws:  # one mirrored tick before the first weight
                steps += [SetMirrorRoute("mirror", mirror_pct), Analyze(CHECK),
                          SetMirrorRoute("mirror", None)]
            for i, w in enumerate(ws):
                steps += [SetWeight(w), Analyze(PROMOTION if i == len(ws) - 1 else CHECK)]
            if not ws:  # nothing to walk: one analysis tick, then promote
                steps.append(Analyze(PROMOTION))
    return Plan(steps=tuple(steps), failure_threshold=max(1, int(a.get("threshold") or 1)),
                inconclusive_pauses=False, scale_down_delay=5.0,
                progress_deadline=float(spec.get("progressDeadlineSeconds") or 600),
                deadline_aborts=True)


# --- names and generated objects --------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    namespace: str
    target: str
    apex: str

    @property
    def primary(self) -> str:
        """The primary workload."""
        return f"{self.target}-primary"

    @property
    def primary_service(self) -> str:
        return f"{self.apex}-primary"

    @property
    def canary_service(self) -> str:
        return f"{self.apex}-canary"


def names(canary: Obj) -> Names:
    spec = canary.get("spec") or {}
    target = str((spec.get("targetRef") or {}).get("name", ""))
    return Names(canary["metadata"]["namespace"], target,
                 str((spec.get("service") or {}).get("name") or target))


def selector_label(target: Obj) -> tuple[str, str]:
    """The label Flagger renames for the primary: the first of app, name,
    app.kubernetes.io/name in the target's selector."""
    match = ((target.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    for k in SELECTOR_KEYS:
        if k in match:
            return k, str(match[k])
    raise SpecError("spec.targetRef", f"{target.get('kind', 'Deployment')} "
                                      f"{target['metadata']['name']}: "
                                      "spec.selector.matchLabels must contain one of "
                                      f"{', '.join(SELECTOR_KEYS)}")


def owner_ref(canary: Obj) -> Obj:
    m = canary["metadata"]
    return {"apiVersion": canary.get("apiVersion", "flagger.app/v1beta1"), "kind": "Canary",
            "name": m["name"], "uid": m.get("uid", ""), "controller": True,
            "blockOwnerDeletion": True}


def owned_by(obj: Obj, canary: Obj) -> bool:
    return any(r.get("kind") == "Canary" and r.get("name") == canary["metadata"]["name"]
               for r in obj["metadata"].get("ownerReferences") or [])


def _by_prefix(meta: dict[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in meta.items() if "toolkit.fluxcd.io" not in k
            and any(p == "*" or (p and k.startswith(p)) for p in prefixes)}


def primary_workload(canary: Obj, target: Obj, rev: str,
                     label_prefixes: tuple[str, ...] = ("app.kubernetes.io",)) -> Obj:
    """`<target>-primary`, of the target's kind: the target's spec at revision ``rev`` with the
    selector label's value renamed `<value>-primary`; labels copied by prefix (Flagger's
    -include-label-prefix), annotations copied but for those the apps controllers write.
    ``flagger_targets`` adds what is particular to a kind (a Deployment's replicas)."""
    name = target["metadata"]["name"]
    key, value = selector_label(target)
    spec = copy.deepcopy(target.get("spec") or {})
    match = dict((spec.get("selector") or {}).get("matchLabels") or {})
    match[key] = f"{value}-primary"
    spec["selector"] = {"matchLabels": match}
    tmeta = spec.setdefault("template", {}).setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), key: f"{value}-primary"}
    meta = target["metadata"]
    labels = {**_by_prefix(meta.get("labels") or {}, label_prefixes), key: f"{value}-primary"}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if "toolkit.fluxcd.io" not in k and k != LAST_APPLIED
                   and not k.startswith(("deployment.kubernetes.io/",
                                         "deprecated.daemonset.template."))}
    return {"apiVersion": target.get("apiVersion", "apps/v1"),
            "kind": target.get("kind", "Deployment"),
            "metadata": {"name": f"{name}-primary", "namespace": meta["namespace"],
                         "labels": labels, "annotations": {**annotations, REVISION: rev},
                         "ownerReferences": [owner_ref(canary)]},
            "spec": spec}


def primary_hpa(canary: Obj, hpa: Obj) -> Obj:
    """`<hpa>-primary`: the target's HorizontalPodAutoscaler aimed at `<target>-primary`
    (pkg/canary/hpa_reconciler.go; Flagger copies it at initialization and on promotion)."""
    n = names(canary)
    spec = copy.deepcopy(hpa.get("spec") or {})
    spec["scaleTargetRef"] = {**(spec.get("scaleTargetRef") or {}), "name": n.primary}
    meta = hpa["metadata"]
    return {"apiVersion": hpa.get("apiVersion", "autoscaling/v2"),
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": f"{meta['name']}-primary", "namespace": n.namespace,
                         "labels": dict(meta.get("labels") or {}),
                         "ownerReferences": [owner_ref(canary)]},
            "spec": {k: v for k, v in spec.items()
                     if k in ("scaleTargetRef", "minReplicas", "maxReplicas", "metrics",
                              "behavior", "targetCPUUtilizationPercentage")}}


def service_ports(canary: Obj, target: Obj) -> list[Obj]:
    """`service.port` → `targetPort` (named `portName`, default http), plus with
    `portDiscovery` every other container port under its own name."""
    svc = (canary.get("spec") or {}).get("service") or {}
    port = int(svc["port"])
    target_port = svc.get("targetPort") or port
    ports = [{"name": svc.get("portName") or "http", "port": port, "targetPort": target_port,
              "protocol": "TCP"}]
    if svc.get("portDiscovery"):
        containers = (((target.get("spec") or {}).get("template") or {}).get("spec")
                      or {}).get("containers") or []
        for c in containers:
            if c.get("name") in ("istio-proxy", "envoy"):
                continue
            for i, p in enumerate(c.get("ports") or []):
                if p.get("containerPort") == target_port or (
                        isinstance(target_port, str) and p.get("name") == target_port) or (
                        svc.get("targetPort") is None and p.get("containerPort") == port):
                    continue
                pname = p.get("name") or f"tcp-{c.get('name')}-{i}"
                if any(q["name"] == pname for q in ports):
                    continue
                ports.append({"name": pname, "port": int(p["containerPort"]),
                              "targetPort": int(p["containerPort"]), "protocol": "TCP"})
    return ports


def services(canary: Obj, target: Obj) -> list[tuple[Obj, bool]]:
    """`<svc>` and `<svc>-primary` select the primary pods, `<svc>-canary` the target's; each
    with the `service.apex|primary|canary` metadata. The flag says whether the object's
    metadata is Flagger's to set (False for the apex, which may be the user's Service)."""
    n = names(canary)
    svc = (canary.get("spec") or {}).get("service") or {}
    key, value = selector_label(target)
    canary_sel = dict(((target.get("spec") or {}).get("selector") or {}).get("matchLabels")
                      or {})
    primary_sel = {**canary_sel, key: f"{value}-primary"}
    out = []
    for name, sel, custom, apex in ((n.apex, primary_sel, "apex", True),
                                    (n.primary_service, primary_sel, "primary", False),
                                    (n.canary_service, canary_sel, "canary", False)):
        meta = svc.get(custom) or {}
        out.append(({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": name, "namespace": n.namespace,
                                  "labels": {**(meta.get("labels") or {}), key: name},
                                  "annotations": {**(meta.get("annotations") or {}), **TOOLKIT},
                                  "ownerReferences": [owner_ref(canary)]},
                     "spec": {"type": "ClusterIP", "selector": sel,
                              "ports": service_ports(canary, target)}}, not apex))
    return out


def reconciled_service(have: Obj | None, want: Obj, canary: Obj) -> Obj | None:
    """What to write for one generated Service (None: nothing): create it, or update ports
    and selector of an existing one; labels and annotations only on Services the Canary
    owns, as Flagger does (a user's apex Service keeps its metadata, plus the toolkit marks)."""
    if have is None:
        return want
    new = copy.deepcopy(have)
    spec = new.setdefault("spec", {})
    for p in want["spec"]["ports"]:  # keep node ports the server gave
        old = next((q for q in spec.get("ports") or [] if q.get("name") == p["name"]), None)
        if old and old.get("nodePort"):
            p["nodePort"] = old["nodePort"]
    ports_key = [(p["name"], p["port"], str(p["targetPort"])) for p in want["spec"]["ports"]]
    have_key = [(p.get("name"), p.get("port"), str(p.get("targetPort")))
                for p in spec.get("ports") or []]
    changed = sorted(ports_key) != sorted(have_key) or spec.get("selector") != \
        want["spec"]["selector"]
    if changed:
        spec["ports"] = want["spec"]["ports"]
        spec["selector"] = want["spec"]["selector"]
    meta = new["metadata"]
    if owned_by(have, canary):
        meta["labels"] = {**(meta.get("labels") or {}), **want["metadata"]["labels"]}
        meta["annotations"] = {**(meta.get("annotations") or {}),
                               **want["metadata"]["annotations"]}
    elif changed:
        meta["annotations"] = {**(meta.get("annotations") or {}), **TOOLKIT}
    return new if new != have else None


# --- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """What the front end remembers between reconciles beside the engine state
    (`status.turnoutTick`): when it last ran a tick, which revision confirm-rollout let
    through, and which approval it waits for."""

    last: float = 0.0
    approved: str = ""
    held: str = ""  # "" | "Waiting" | "WaitingPromotion"

    def to_json(self) -> Obj:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: object) -> Tick:
        if not isinstance(d, dict):
            return cls()
        return cls(last=float(d.get("last") or 0.0), approved=str(d.get("approved") or ""),
                   held=str(d.get("held") or ""))


def flagger_phase(s: State, held: str = "") -> str:
    if held:
        return held
    if s.phase is Phase.HEALTHY:
        return "Succeeded" if s.message.endswith("promoted") else "Initialized"
    return {Phase.INITIALIZING: "Initializing", Phase.PROGRESSING: "Progressing",
            Phase.PAUSED: "Waiting", Phase.PROMOTING: "Promoting",
            Phase.ABORTED: "Failed"}[s.phase]


_PROMOTED = {"Succeeded": "True", "Initialized": "True", "Failed": "False"}
_MESSAGES = {"Initializing": "New Deployment detected, starting initialization.",
             "Initialized": "Deployment initialization completed.",
             "Waiting": "Waiting for approval.", "WaitingPromotion": "Waiting for approval.",
             "Progressing": "New revision detected, progressing canary analysis.",
             "Promoting": "Canary analysis completed, starting primary rolling update.",
             "Succeeded": "Canary analysis completed successfully, promotion finished.",
             "Failed": "Canary analysis failed, Deployment scaled to zero."}


def status(s: State, old: Obj, now_iso: str, observed: int, tick: Tick | None = None,
           extra: Obj | None = None) -> Obj:
    """Flagger's status (phase, canaryWeight, failedChecks, iterations, the `Promoted`
    condition with reason = phase) plus the engine state under `turnout`."""
    tick = tick or Tick()
    phase = flagger_phase(s, tick.held)
    if phase == "Initialized" and old.get("phase") == "Failed" and not s.canary:
        phase = "Failed"  # reverted to the primary's spec: nothing new ran, Flagger stays Failed
    promoted = _PROMOTED.get(phase, "Unknown")
    prev = {c.get("type"): c for c in old.get("conditions") or []}.get("Promoted") or {}
    same = prev.get("status") == promoted and prev.get("reason") == phase
    message = s.message if s.message and not tick.held else _MESSAGES.get(phase, "")
    return {
        "phase": phase,
        "canaryWeight": s.weight,
        "failedChecks": s.failed_checks,
        "iterations": s.checks,
        "lastAppliedSpec": s.canary or s.stable,
        "lastPromotedSpec": s.stable,
        "lastTransitionTime": old.get("lastTransitionTime") if same and
        old.get("lastTransitionTime") else now_iso,
        "observedGeneration": observed,
        "conditions": [{"type": "Promoted", "status": promoted, "reason": phase,
                        "message": message, "lastUpdateTime": now_iso,
                        "lastTransitionTime": prev.get("lastTransitionTime", now_iso)
                        if prev.get("status") == promoted else now_iso}],
        **(extra or {}),
        "turnoutTick": tick.to_json(),
        "turnout": s.to_json(),
    }
