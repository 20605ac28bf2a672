"""Flagger's finalizer: with `revertOnDeletion`, deleting a Canary gives the cluster back.

Why this exists: Flagger scales the user's Deployment (or DaemonSet) to zero, points the user's
Service at its own `-primary` copy and rewrites the user's VirtualService. When a Canary with
`revertOnDeletion: true` is deleted, Flagger (pkg/controller/finalizer.go) holds it with the
`finalizer.flagger.app` finalizer, marks it Terminating, scales the target back to the primary's
replicas and waits for it, points a Service it did not create back at the target (its
last-applied selector, else the target's label), restores a VirtualService it took over, and
only then lets the object go; what it created itself is garbage-collected through owner
references.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING

from turnout.kube.printers.common import parse_time
from turnout.rollout import common, flagger, flagger_targets
from turnout.rollout.routers.flagger_istio import FlaggerIstioRouter
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj

if TYPE_CHECKING:
    from turnout.rollout.flagger_controller import CanaryController

CANARY = "canaries.flagger.app"


def ensure_finalizer(objects: Objects, canary: Obj) -> None:
    """Carry `finalizer.flagger.app` exactly while `spec.revertOnDeletion` is set."""
    want = bool((canary.get("spec") or {}).get("revertOnDeletion"))
    fins = list(canary["metadata"].get("finalizers") or [])
    if want == (flagger.FINALIZER in fins):
        return
    fins = [*fins, flagger.FINALIZER] if want else [f for f in fins if f != flagger.FINALIZER]
    _set_finalizers(objects, canary, fins)


def _set_finalizers(objects: Objects, canary: Obj, fins: list[str]) -> None:
    rt = objects.registry.by_key(CANARY)
    assert rt is not None
    fresh = copy.deepcopy(canary)
    if fins:
        fresh["metadata"]["finalizers"] = fins
    else:
        fresh["metadata"].pop("finalizers", None)
    meta = canary["metadata"]
    out = objects.update(rt, meta["namespace"], meta["name"], fresh)
    canary["metadata"] = out["metadata"]


def finalize(ctl: CanaryController, canary: Obj, now: float) -> float | None:
    """One step of the revert; a time to come back while the target is not ready yet."""
    if flagger.FINALIZER not in (canary["metadata"].get("finalizers") or []):
        return None
    objects = ctl.objects
    spec = canary.get("spec") or {}
    n = flagger.names(canary)
    st = canary.get("status") or {}
    if st.get("phase") != "Terminating":
        rt = objects.registry.by_key(CANARY)
        assert rt is not None
        out = objects.update(rt, n.namespace, canary["metadata"]["name"],
                             {"status": {**st, "phase": "Terminating",
                                         "lastTransitionTime": now_iso()}},
                             subresource="status")
        canary["metadata"] = out["metadata"]
        ctl._say(canary, "Normal", f"Terminating canary {canary['metadata']['name']}."
                                   f"{n.namespace}")
    kind = flagger_targets.known(spec)  # None: a kind turnout never ran, nothing to scale back
    key = kind.key if kind else ""
    target = common.get(objects, key, n.namespace, n.target) if key else None
    primary = common.get(objects, key, n.namespace, n.primary) if key else None
    if target is not None:
        ctl._scale(target, max(1, flagger_targets.replicas(primary) if primary else 1))
        target = common.get(objects, key, n.namespace, n.target)
        assert target is not None
        started = parse_time(canary["metadata"].get("deletionTimestamp"))
        waited = now - started.timestamp() if started else 0.0
        if not flagger_targets.ready(target):
            if waited < max(60.0, flagger.interval(spec)):
                return now + 1.0
            ctl._say(canary, "Warning", f"{n.target}.{n.namespace} not ready after "
                                        f"{waited:.0f} s while finalizing; reverting anyway")
    _revert_apex(ctl, canary, target)
    try:
        if flagger.provider(spec, ctl.provider) == "istio":
            FlaggerIstioRouter(canary).finalize(objects)
    except ValueError as e:  # SpecError or a spec that cannot be restored: say so, go on
        ctl._say(canary, "Warning", f"failed to revert the mesh: {e}")
    _set_finalizers(objects, canary, [f for f in canary["metadata"].get("finalizers") or []
                                      if f != flagger.FINALIZER])
    return None


def _revert_apex(ctl: CanaryController, canary: Obj, target: Obj | None) -> None:
    """A Service the Canary did not create selects the target's pods again."""
    objects = ctl.objects
    n = flagger.names(canary)
    svc = common.get(objects, "services", n.namespace, n.apex)
    if svc is None or flagger.owned_by(svc, canary):
        return
    sel: dict[str, str] | None = None
    raw = (svc["metadata"].get("annotations") or {}).get(flagger.LAST_APPLIED)
    if raw:
        try:
            sel = (json.loads(raw).get("spec") or {}).get("selector")
        except ValueError as e:
            ctl._say(canary, "Warning", f"Service {n.apex}: last-applied configuration is not "
                                        f"JSON ({e}); selecting the target's pods")
    if sel is None and target is not None:
        key, value = flagger.selector_label(target)
        sel = {key: value}
    if sel is None or (svc.get("spec") or {}).get("selector") == sel:
        return
    new = copy.deepcopy(svc)
    new["spec"]["selector"] = sel
    rt = objects.registry.by_key("services")
    assert rt is not None
    objects.update(rt, n.namespace, n.apex, new)
