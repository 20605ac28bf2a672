"""StatefulSet controller: ordinal pods with stable names, claims and DNS, ordered updates.

`plan_statefulset` is pure: the StatefulSet, its pods and its two revisions (current, update) →
which ordinals to create and which pods to delete now. As the real controller does it:
OrderedReady creates `<name>-0..N-1` one at a time, each Running and Ready before the next, and
removes surplus ordinals from the highest down, one at a time; Parallel does both at once;
RollingUpdate replaces pods from the highest ordinal down to `partition`, one at a time, waiting
for each to be Ready again. Pods below the partition are (re)created from the current revision.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.controllers.revisions import REVISION_HASH, Revisions, template_of
from turnout.controllers.workloads import controller_ref, owned_by, pod_available, pod_ready
from turnout.store.db import Event
from turnout.store.objects import Objects
from turnout.types import Obj

log = logging.getLogger("turnout.controllers.statefulset")

STS = "statefulsets.apps"
POD_NAME = "statefulset.kubernetes.io/pod-name"
POD_INDEX = "apps.kubernetes.io/pod-index"
PVC = "persistentvolumeclaims"


@dataclass
class StsPlan:
    create: list[int] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    status: Obj = field(default_factory=dict)


def ordinal(sts_name: str, pod_name: str) -> int | None:
    m = re.fullmatch(re.escape(sts_name) + r"-(\d+)", pod_name)
    return int(m.group(1)) if m else None


def claim_name(template: str, sts_name: str, ordinal_: int) -> str:
    return f"{template}-{sts_name}-{ordinal_}"


def _running_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and pod_ready(pod)


def _terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def _failed(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Failed"


def _rev(pod: Obj) -> str:
    return str((pod["metadata"].get("labels") or {}).get(REVISION_HASH, ""))


def plan_statefulset(sts: Obj, pods: list[Obj], current: str, update: str,
                     now: datetime | None = None) -> StsPlan:
    spec = sts.get("spec") or {}
    name = sts["metadata"]["name"]
    n = int(spec.get("replicas", 1))
    parallel = spec.get("podManagementPolicy") == "Parallel"
    strategy = spec.get("updateStrategy") or {}
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    by_ord = {o: p for p in pods if (o := ordinal(name, p["metadata"]["name"])) is not None}
    plan = StsPlan()
    blocked = False
    deleting = sts["metadata"].get("deletionTimestamp")
    for i in range(n):
        if deleting:
            break
        pod = by_ord.get(i)
        if pod is None:
            plan.create.append(i)
            if not parallel:
                blocked = True
                break
            continue
        if _failed(pod) and not _terminating(pod):
            plan.delete.append(pod["metadata"]["name"])  # recreated on a later pass
            if not parallel:
                blocked = True
                break
            continue
        if not parallel and (_terminating(pod) or not _running_ready(pod)):
            blocked = True
            break
    condemned = sorted((o for o in by_ord if o >= n), reverse=True)
    if not blocked and condemned:
        all_ok = all(_running_ready(by_ord[i]) for i in range(n) if i in by_ord)
        for o in condemned:
            pod = by_ord[o]
            if _terminating(pod):
                if not parallel:
                    blocked = True
                    break
                continue
            if not parallel and not all_ok:
                blocked = True
                break
            plan.delete.append(pod["metadata"]["name"])
            if not parallel:
                blocked = True
                break
    in_range = [by_ord[i] for i in range(n) if i in by_ord]
    if not blocked and not plan.create and strategy.get("type", "RollingUpdate") == \
            "RollingUpdate" and not deleting:
        healthy = all(_running_ready(p) and not _terminating(p) for p in in_range) and \
            len(in_range) == n
        for i in range(n - 1, partition - 1, -1):
            pod = by_ord.get(i)
            if pod is None or _rev(pod) == update:
                continue
            if healthy:
                plan.delete.append(pod["metadata"]["name"])
            break
    live = [p for p in in_range if not _terminating(p)]
    min_ready = int(spec.get("minReadySeconds") or 0)
    status: Obj = {
        "observedGeneration": sts["metadata"].get("generation", 1),
        "replicas": len(live),
        "readyReplicas": sum(1 for p in live if pod_ready(p)),
        "currentReplicas": sum(1 for p in live if _rev(p) == current),
        "updatedReplicas": sum(1 for p in live if _rev(p) == update),
        "availableReplicas": sum(1 for p in live if pod_available(p, min_ready,
                                                                  now or datetime.now(UTC))),
        "currentRevision": current, "updateRevision": update, "collisionCount": 0,
    }
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and \
            status["updatedReplicas"] == status["replicas"] == status["readyReplicas"] == n:
        status["currentRevision"] = update
        status["currentReplicas"] = status["updatedReplicas"]
    plan.status = {k: v for k, v in status.items()
                   if v or k in ("replicas", "availableReplicas", "observedGeneration",
                                 "collisionCount")}
    return plan


def pod_for(sts: Obj, i: int, template: Obj, revision: str) -> Obj:
    name = sts["metadata"]["name"]
    pod_name = f"{name}-{i}"
    t = copy.deepcopy(template)
    meta = t.get("metadata") or {}
    meta.pop("creationTimestamp", None)
    labels = {**(meta.get("labels") or {}), REVISION_HASH: revision, POD_NAME: pod_name,
              POD_INDEX: str(i)}
    pspec = t.get("spec") or {}
    pspec["hostname"] = pod_name
    if sts["spec"].get("serviceName"):
        pspec["subdomain"] = sts["spec"]["serviceName"]
    claims = [c["metadata"]["name"] for c in sts["spec"].get("volumeClaimTemplates") or []]
    volumes = [v for v in pspec.get("volumes") or [] if v.get("name") not in claims]
    volumes += [{"name": c, "persistentVolumeClaim": {"claimName": claim_name(c, name, i)}}
                for c in claims]
    if volumes:
        pspec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {**meta, "name": pod_name, "namespace": sts["metadata"]["namespace"],
                         "labels": labels, "ownerReferences": [controller_ref(sts)]},
            "spec": pspec}


def claims_for(sts: Obj, i: int) -> list[Obj]:
    name = sts["metadata"]["name"]
    match = ((sts["spec"].get("selector") or {}).get("matchLabels") or {})
    out = []
    for tpl in sts["spec"].get("volumeClaimTemplates") or []:
        meta = copy.deepcopy(tpl.get("metadata") or {})
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {**meta, "name": claim_name(meta["name"], name, i),
                                 "namespace": sts["metadata"]["namespace"],
                                 "labels": {**match, **(meta.get("labels") or {})}},
                    "spec": copy.deepcopy(tpl.get("spec") or {})})
    return out


class StatefulSetController(Controller):
    name = "statefulset-controller"

    def __init__(self, objects: Objects) -> None:
        super().__init__(objects)
        self.events = Recorder(objects, "statefulset-controller")
        self.revisions = Revisions(objects)
        self.pod_rt = objects.registry.by_key("pods")
        self.pvc_rt = objects.registry.by_key(PVC)

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.iter(STS)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == STS:
            yield (ev.namespace, ev.name)
        elif ev.key == "pods":
            for ref in ev.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "StatefulSet" and ref.get("controller"):
                    yield (ev.namespace, ref["name"])

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        sts = self.store.get(STS, ns, name)
        if sts is None or self.pod_rt is None:
            return
        uid = sts["metadata"]["uid"]
        pods = [p for p in self.store.iter("pods", ns) if owned_by(p, uid)]
        revs = self.revisions.of(sts)
        update_rev = self.revisions.ensure(sts, revs, "controller.kubernetes.io/hash")
        update = update_rev["metadata"]["name"]
        revs = [r for r in revs if r["metadata"]["name"] != update] + [update_rev]
        current = (sts.get("status") or {}).get("currentRevision") or update
        current_rev = next((r for r in revs if r["metadata"]["name"] == current), update_rev)
        plan = plan_statefulset(sts, pods, current_rev["metadata"]["name"], update)
        partition = int(((sts["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {})
                        .get("partition") or 0)
        for pod_name in plan.delete:
            self.delete_if_present(self.pod_rt, ns, pod_name)
            self.events.record(sts, "Normal", "SuccessfulDelete",
                               f"delete Pod {pod_name} in StatefulSet {name} successful")
        for i in plan.create:
            use_current = sts["spec"].get("updateStrategy", {}).get("type") != "OnDelete" and \
                i < partition
            rev = current_rev if use_current else update_rev
            self._ensure_claims(sts, i)
            pod = pod_for(sts, i, template_of(rev), rev["metadata"]["name"])
            self.objects.create(self.pod_rt, ns, pod)
            self.events.record(sts, "Normal", "SuccessfulCreate",
                               f"create Pod {name}-{i} in StatefulSet {name} successful")
        in_use = {_rev(p) for p in pods} | {plan.status.get("currentRevision", ""), update}
        self.revisions.prune(sts, revs, in_use)
        fresh = self.store.get(STS, ns, name)
        if fresh is not None and plan.status != fresh.get("status"):
            fresh["status"] = plan.status
            self.store.update(STS, fresh)
        if sts["spec"].get("minReadySeconds") and plan.status.get("availableReplicas", 0) < \
                plan.status.get("readyReplicas", 0):
            asyncio.get_running_loop().call_later(1.0, self.enqueue, key)

    def _ensure_claims(self, sts: Obj, i: int) -> None:
        if self.pvc_rt is None:
            return
        ns = sts["metadata"]["namespace"]
        for claim in claims_for(sts, i):
            cname = claim["metadata"]["name"]
            if self.store.peek(PVC, ns, cname) is not None:
                continue
            self.objects.create(self.pvc_rt, ns, claim)
            self.events.record(sts, "Normal", "SuccessfulCreate",
                               f"create Claim {cname} Pod {sts['metadata']['name']}-{i} in "
                               f"StatefulSet {sts['metadata']['name']} success")
