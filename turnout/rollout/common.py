"""Small I/O helpers the rollout front ends share: get-or-none, create-or-update, wake-ups.

Why this exists: both front ends own generated objects (Deployments, ReplicaSets, Services,
VirtualServices) that must converge to a rendered shape without fighting other writers over
fields they do not own, and both need "reconcile me again at time t".
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable

from turnout.kube import errors
from turnout.store.objects import Objects
from turnout.types import Obj


def get(objects: Objects, key: str, namespace: str, name: str) -> Obj | None:
    rt = objects.registry.by_key(key)
    assert rt is not None, key
    try:
        return objects.get(rt, namespace, name)
    except errors.ApiError as e:
        if e.code == 404:
            return None
        raise


def ensure(objects: Objects, key: str, want: Obj, fields: tuple[str, ...] = ("spec",)) -> Obj:
    """Create ``want``, or update the named top-level fields (and labels/annotations it sets)
    of the existing object when they differ."""
    rt = objects.registry.by_key(key)
    assert rt is not None, key
    meta = want["metadata"]
    have = get(objects, key, meta.get("namespace", ""), meta["name"])
    if have is None:
        return objects.create(rt, meta.get("namespace", ""), copy.deepcopy(want))
    new = copy.deepcopy(have)
    for f in fields:  # shallow merge: keep what the server filled in (clusterIP, defaults)
        if isinstance(want.get(f), dict) and isinstance(have.get(f), dict):
            new[f] = {**have[f], **copy.deepcopy(want[f])}
        elif f in want:
            new[f] = copy.deepcopy(want[f])
    for m in ("labels", "annotations"):
        if meta.get(m):
            new["metadata"][m] = {**(new["metadata"].get(m) or {}), **meta[m]}
    if "ownerReferences" in meta and not new["metadata"].get("ownerReferences"):
        new["metadata"]["ownerReferences"] = copy.deepcopy(meta["ownerReferences"])
    if new == have:
        return have
    return objects.update(rt, meta.get("namespace", ""), meta["name"], new)


def schedule(enqueue: Callable[[tuple[str, str]], None], key: tuple[str, str],
             at: float, now: float | None = None) -> None:
    """Reconcile ``key`` again at wall-clock time ``at`` (no-op outside an event loop)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    delay = max(0.05, at - (now if now is not None else time.time()))
    loop.call_later(delay, enqueue, key)


def available(deploy_or_rs: Obj) -> bool:
    """All wanted replicas are up to date and available (for Deployments and ReplicaSets)."""
    spec, st = deploy_or_rs.get("spec") or {}, deploy_or_rs.get("status") or {}
    want = int(spec.get("replicas", 1))
    gen = deploy_or_rs["metadata"].get("generation")
    if gen is not None and deploy_or_rs.get("kind") == "Deployment" and \
            st.get("observedGeneration") != gen:
        return False
    if deploy_or_rs.get("kind") == "Deployment" and int(st.get("updatedReplicas", 0)) < want:
        return False
    return want > 0 and int(st.get("availableReplicas", 0)) >= want
