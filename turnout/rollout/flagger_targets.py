"""What a Flagger Canary's `targetRef` kind means: where it lives, how it scales, when it's ready.

Why this exists: Flagger runs the same analysis whatever the target is, and keeps what differs
per kind behind one controller interface (pkg/canary: DeploymentController,
DaemonSetController). turnout keeps those differences here, as data and small functions, so
the Canary controller, its finalizer and its checks never branch on the kind:

- **Deployment**: scaled through `spec.replicas`; ready when the wanted replicas are updated
  and available at the current generation.
- **DaemonSet**: has no replica count, so "scale to zero" adds the nodeSelector
  `flagger.app/scale-to-zero: "true"` that no node carries, and scaling up removes it; the key
  is no part of the revision (Flagger's HasTargetChanged drops it) and never reaches the
  primary. Ready when the observed generation is current and every scheduled pod is updated and
  available. A DaemonSet must use the RollingUpdate strategy (Flagger refuses OnDelete).

Pure: no I/O.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from turnout.rollout import common, flagger
from turnout.rollout.flagger import SpecError
from turnout.types import Obj

SCALE_TO_ZERO = ("flagger.app/scale-to-zero", "true")
"""The nodeSelector entry Flagger gives a DaemonSet it scales to zero."""


@dataclass(frozen=True)
class Kind:
    name: str
    key: str
    """The resource key objects of this kind are stored under."""


DEPLOYMENT = Kind("Deployment", "deployments.apps")
DAEMONSET = Kind("DaemonSet", "daemonsets.apps")
KINDS = {k.name: k for k in (DEPLOYMENT, DAEMONSET)}
KEYS = frozenset(k.key for k in KINDS.values())


def known(spec: Obj) -> Kind | None:
    """The kind `spec.targetRef` names (Deployment when it names none), if turnout has it."""
    return KINDS.get(str((spec.get("targetRef") or {}).get("kind") or DEPLOYMENT.name))


def kind_of(spec: Obj) -> Kind:
    """``known``, or a SpecError naming the field."""
    kind = known(spec)
    if kind is None:
        name = (spec.get("targetRef") or {}).get("kind")
        raise SpecError("spec.targetRef.kind", f"{name!r} is not supported (one of "
                                               f"{', '.join(KINDS)})")
    return kind


def check(target: Obj) -> None:
    """What Flagger requires of a target before it creates the primary."""
    flagger.selector_label(target)
    if target.get("kind") == DAEMONSET.name:
        kind = str(((target.get("spec") or {}).get("updateStrategy") or {}).get("type") or
                   "RollingUpdate")
        if kind != "RollingUpdate":
            meta = target["metadata"]
            raise SpecError("spec.targetRef", f"daemonset {meta['name']}.{meta['namespace']} "
                                              f"must have RollingUpdate strategy but have {kind}")


def template(target: Obj) -> Obj:
    """The target's pod template as Flagger sees it: without the scale-to-zero nodeSelector
    (an empty nodeSelector counts as none)."""
    t = copy.deepcopy((target.get("spec") or {}).get("template") or {})
    pspec = t.get("spec")
    if isinstance(pspec, dict) and "nodeSelector" in pspec:
        sel = {k: v for k, v in (pspec.get("nodeSelector") or {}).items()
               if k != SCALE_TO_ZERO[0]}
        if sel:
            pspec["nodeSelector"] = sel
        else:
            del pspec["nodeSelector"]
    return t


def revision(target: Obj) -> str:
    return flagger.revision(template(target))


def replicas(workload: Obj) -> int:
    """How many pods the workload is scaled to (a DaemonSet: one node, or none when scaled to
    zero)."""
    spec = workload.get("spec") or {}
    if workload.get("kind") == DAEMONSET.name:
        sel = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
        return 0 if sel.get(SCALE_TO_ZERO[0]) == SCALE_TO_ZERO[1] else 1
    return int(spec.get("replicas", 1) or 0)


def scaled(workload: Obj, n: int) -> Obj | None:
    """The workload scaled to ``n`` pods (a DaemonSet: to zero or up), None if it already is."""
    if workload.get("kind") != DAEMONSET.name:
        if int((workload.get("spec") or {}).get("replicas", 1)) == n:
            return None
        out = copy.deepcopy(workload)
        out["spec"]["replicas"] = n
        return out
    if (replicas(workload) == 0) == (n == 0):
        return None
    out = copy.deepcopy(workload)
    pspec = out["spec"].setdefault("template", {}).setdefault("spec", {})
    sel = {k: v for k, v in (pspec.get("nodeSelector") or {}).items() if k != SCALE_TO_ZERO[0]}
    if n == 0:
        sel[SCALE_TO_ZERO[0]] = SCALE_TO_ZERO[1]
    if sel:
        pspec["nodeSelector"] = sel
    else:
        pspec.pop("nodeSelector", None)
    return out


def ready(workload: Obj) -> bool:
    """Every wanted pod is updated and available at the current generation, and there is at
    least one (a workload scaled to zero is not ready to take traffic)."""
    if workload.get("kind") != DAEMONSET.name:
        return common.available(workload)
    st = workload.get("status") or {}
    gen = workload["metadata"].get("generation")
    if gen is not None and int(st.get("observedGeneration") or 0) < int(gen):
        return False
    want = int(st.get("desiredNumberScheduled") or 0)
    return want > 0 and int(st.get("updatedNumberScheduled") or 0) >= want and \
        int(st.get("numberAvailable") or 0) >= want


def primary(canary: Obj, target: Obj, have: Obj | None,
            label_prefixes: tuple[str, ...] = ("app.kubernetes.io",)) -> Obj:
    """`<target>-primary` at the target's revision; a Deployment keeps the replicas the
    existing primary has (its HPA may have set them)."""
    source = copy.deepcopy(target)
    source.setdefault("spec", {})["template"] = template(target)
    want = flagger.primary_workload(canary, source, revision(target), label_prefixes)
    if target.get("kind", DEPLOYMENT.name) == DEPLOYMENT.name:
        n = max(1, int(want["spec"].get("replicas", 1) or 1))
        want["spec"]["replicas"] = have["spec"].get("replicas", n) if have else n
    return want
