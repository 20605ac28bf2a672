"""DaemonSet controller: one pod per node (turnout has one node), rolling template updates.

`plan_daemonset` is pure: the DaemonSet, the node, its pods and the current template hash →
pods to create and delete, and the status `kubectl get ds` and `kubectl rollout status ds/x`
read. A node runs the pod when the template's nodeSelector matches its labels. RollingUpdate
replaces an out-of-date pod within `maxUnavailable` (delete, then create) or, with `maxSurge`,
starts the new pod first and deletes the old one once the new one is available.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.controllers.revisions import REVISION_HASH, Revisions, revision_hash
from turnout.controllers.workloads import (
    controller_ref,
    int_or_percent,
    owned_by,
    pod_active,
    pod_available,
    pod_ready,
)
from turnout.store.db import Event
from turnout.store.objects import Objects
from turnout.types import Obj

log = logging.getLogger("turnout.controllers.daemonset")

DS = "daemonsets.apps"
GENERATION = "pod-template-generation"
TOLERATIONS = [  # what the real controller adds to every daemon pod
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


@dataclass
class DsPlan:
    create: int = 0
    delete: list[str] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)


def should_run(ds: Obj, node: Obj | None) -> bool:
    if node is None:
        return False
    want = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "nodeSelector") or {}
    labels = node["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in want.items())


def _hash(pod: Obj) -> str:
    return str((pod["metadata"].get("labels") or {}).get(REVISION_HASH, ""))


def plan_daemonset(ds: Obj, node: Obj | None, pods: list[Obj], current_hash: str,
                   now: datetime | None = None) -> DsPlan:
    spec = ds.get("spec") or {}
    plan = DsPlan()
    now = now or datetime.now(UTC)
    min_ready = int(spec.get("minReadySeconds") or 0)
    wanted = should_run(ds, node) and not ds["metadata"].get("deletionTimestamp")
    for p in pods:
        if (p.get("status") or {}).get("phase") == "Failed" and \
                not p["metadata"].get("deletionTimestamp"):
            plan.delete.append(p["metadata"]["name"])
            plan.events.append(("Warning", "FailedDaemonPod",
                                f"Found failed daemon pod {p['metadata']['namespace']}/"
                                f"{p['metadata']['name']} on node "
                                f"{(node or {}).get('metadata', {}).get('name', '')}, "
                                "will try to kill it"))
    active = sorted((p for p in pods if pod_active(p)),
                    key=lambda p: p["metadata"].get("creationTimestamp", ""))
    new = [p for p in active if _hash(p) == current_hash]
    old = [p for p in active if _hash(p) != current_hash]
    if not wanted:
        plan.delete += [p["metadata"]["name"] for p in active]
    else:
        if len(new) > 1:
            plan.delete += [p["metadata"]["name"] for p in new[1:]]
            new = new[:1]
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "OnDelete" or not old:
            if not active:  # a terminating pod does not hold its node, as in the real one
                plan.create = 1
        else:
            ru = strategy.get("rollingUpdate") or {}
            surge = int_or_percent(ru.get("maxSurge", 0), 1, round_up=True)
            if surge > 0:  # new pod first, the old one goes once the new one is available
                if not new:
                    plan.create = 1
                elif pod_available(new[0], min_ready, now):
                    plan.delete += [p["metadata"]["name"] for p in old]
            else:  # maxUnavailable is at least 1 (validation): one node may go at once
                plan.delete += [p["metadata"]["name"] for p in old]
    desired = 1 if wanted else 0
    running = [p for p in active if p["metadata"]["name"] not in plan.delete]
    on_node = 1 if wanted and running else 0
    status: Obj = {
        "currentNumberScheduled": on_node,
        "numberMisscheduled": 0 if wanted or not running else 1,
        "desiredNumberScheduled": desired,
        "numberReady": 1 if wanted and any(pod_ready(p) for p in running) else 0,
        "observedGeneration": ds["metadata"].get("generation", 1),
        "updatedNumberScheduled": 1 if wanted and any(_hash(p) == current_hash
                                                      for p in running) else 0,
        "numberAvailable": 1 if wanted and any(pod_available(p, min_ready, now)
                                               for p in running) else 0,
    }
    status["numberUnavailable"] = desired - status["numberAvailable"]
    plan.status = {k: v for k, v in status.items()
                   if v or k in ("currentNumberScheduled", "numberMisscheduled",
                                 "desiredNumberScheduled", "numberReady")}
    return plan


def pod_for(ds: Obj, node: str, current_hash: str) -> Obj:
    t = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    meta = t.get("metadata") or {}
    meta.pop("creationTimestamp", None)
    labels = {**(meta.get("labels") or {}), REVISION_HASH: current_hash,
              GENERATION: str(ds["metadata"].get("generation", 1))}
    pspec = t.get("spec") or {}
    pspec["affinity"] = {**(pspec.get("affinity") or {}), "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
    have = {(x.get("key"), x.get("effect")) for x in pspec.get("tolerations") or []}
    pspec["tolerations"] = list(pspec.get("tolerations") or []) + [
        x for x in TOLERATIONS if (x["key"], x["effect"]) not in have]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {**meta, "generateName": f"{ds['metadata']['name']}-",
                         "namespace": ds["metadata"]["namespace"], "labels": labels,
                         "ownerReferences": [controller_ref(ds)]},
            "spec": pspec}


class DaemonSetController(Controller):
    name = "daemonset-controller"

    def __init__(self, objects: Objects) -> None:
        super().__init__(objects)
        self.events = Recorder(objects, "daemonset-controller")
        self.revisions = Revisions(objects)
        self.pod_rt = objects.registry.by_key("pods")

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.iter(DS)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == DS:
            yield (ev.namespace, ev.name)
        elif ev.key == "pods":
            for ref in ev.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "DaemonSet" and ref.get("controller"):
                    yield (ev.namespace, ref["name"])
        elif ev.key == "nodes":
            yield from self.all_keys()

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        ds = self.store.get(DS, ns, name)
        if ds is None or self.pod_rt is None:
            return
        pods = [p for p in self.store.iter("pods", ns) if owned_by(p, ds["metadata"]["uid"])]
        node = next(iter(self.store.iter("nodes")), None)
        revs = self.revisions.of(ds)
        if not ds["metadata"].get("deletionTimestamp"):
            rev = self.revisions.ensure(ds, revs, REVISION_HASH)
            revs = [r for r in revs if r["metadata"]["name"] != rev["metadata"]["name"]] + [rev]
        current = revision_hash(ds["spec"].get("template") or {})
        plan = plan_daemonset(ds, node, pods, current)
        for pod_name in plan.delete:
            self.delete_if_present(self.pod_rt, ns, pod_name)
            self.events.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}")
        if plan.create and node is not None:
            pod = self.objects.create(self.pod_rt, ns, pod_for(ds, node["metadata"]["name"],
                                                                current))
            self.events.record(ds, "Normal", "SuccessfulCreate",
                               f"Created pod: {pod['metadata']['name']}")
        for type_, reason, message in plan.events:
            self.events.record(ds, type_, reason, message)
        in_use = {f"{name}-{_hash(p)}" for p in pods} | {f"{name}-{current}"}
        self.revisions.prune(ds, revs, in_use)
        fresh = self.store.get(DS, ns, name)
        if fresh is not None and plan.status != fresh.get("status"):
            fresh["status"] = plan.status
            self.store.update(DS, fresh)
        if ds["spec"].get("minReadySeconds") and plan.status.get("numberReady", 0) > \
                plan.status.get("numberAvailable", 0):
            asyncio.get_running_loop().call_later(1.0, self.enqueue, key)
