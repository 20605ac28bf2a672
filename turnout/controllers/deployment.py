"""Deployment controller: ReplicaSets per template revision, rolling updates, status.

Follows the real controller's arithmetic (maxSurge rounds up, maxUnavailable down, both never 0),
so `kubectl rollout status` and `rollout undo` behave as users know them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.controllers.workloads import (
    controller_ref,
    int_or_percent,
    owned_by,
    template_hash,
)
from turnout.store.db import Event
from turnout.store.objects import now_iso
from turnout.types import Obj

DEPLOY = "deployments.apps"
RS = "replicasets.apps"
REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"


def _strip_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH, None)
    t.get("metadata", {}).pop("creationTimestamp", None)
    return t


def _rev(rs: Obj) -> int:
    try:
        return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


class DeploymentController(Controller):
    name = "deployment-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.events = Recorder(self.objects, "deployment-controller")
        self.rs_rt = self.objects.registry.by_key(RS)

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in self.store.iter(DEPLOY)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == DEPLOY:
            yield (ev.namespace, ev.name)
        elif ev.key == RS:
            for ref in ev.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "Deployment" and ref.get("controller"):
                    yield (ev.namespace, ref["name"])

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        d = self.store.get(DEPLOY, ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        uid = d["metadata"]["uid"]
        spec = d["spec"]
        rss = [r for r in self.store.iter(RS, ns) if owned_by(r, uid)]
        tmpl = spec.get("template") or {}
        new_rs = next((r for r in rss if _strip_hash(r["spec"]["template"]) ==
                       _strip_hash(tmpl)), None)
        olds = [r for r in rss if r is not new_rs]
        replicas = int(spec.get("replicas", 1))
        paused = bool(spec.get("paused"))
        max_rev = max((_rev(r) for r in rss), default=0)
        if new_rs is None and not paused:
            new_rs = self._create_rs(d, max_rev + 1, replicas if not olds else 0)
        elif new_rs is not None and _rev(new_rs) < max_rev:
            new_rs = self._set_rs(new_rs, revision=max_rev + 1, d=d)  # rollback to it
        if new_rs is not None and not paused:
            strategy = spec.get("strategy") or {}
            if strategy.get("type") == "Recreate":
                self._recreate(d, new_rs, olds, replicas)
            else:
                self._rolling(d, new_rs, olds, replicas, strategy.get("rollingUpdate") or {})
        self._cleanup(d, olds)
        self._status(d, new_rs, olds)

    # --- strategies -----------------------------------------------------------------------------

    def _recreate(self, d: Obj, new_rs: Obj, olds: list[Obj], replicas: int) -> None:
        running = 0
        for r in olds:
            if r["spec"].get("replicas", 0):
                self._scale(d, r, 0)
            running += int(r.get("status", {}).get("replicas", 0))
        if running == 0 and new_rs["spec"].get("replicas") != replicas:
            self._scale(d, new_rs, replicas)

    def _rolling(self, d: Obj, new_rs: Obj, olds: list[Obj], replicas: int, ru: Obj) -> None:
        surge = int_or_percent(ru.get("maxSurge", "25%"), replicas, round_up=True)
        unavail = int_or_percent(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
        if surge == 0 and unavail == 0:
            unavail = 1
        all_rs = [new_rs, *olds]
        total = sum(int(r["spec"].get("replicas", 0)) for r in all_rs)
        new_n = int(new_rs["spec"].get("replicas", 0))
        # scale up the new ReplicaSet within the surge budget
        if new_n > replicas:
            self._scale(d, new_rs, replicas)
            new_n = replicas
        elif new_n < replicas:
            room = replicas + surge - total
            if room > 0:
                new_n = min(replicas, new_n + room)
                self._scale(d, new_rs, new_n)
        # scale down old ReplicaSets within the availability budget
        old_total = sum(int(r["spec"].get("replicas", 0)) for r in olds)
        if old_total == 0:
            return
        min_available = replicas - unavail
        available = sum(int(r.get("status", {}).get("availableReplicas", 0)) for r in all_rs)
        # unavailable old pods can go at once: they serve nothing
        budget = max(0, available - min_available)
        for r in sorted(olds, key=_rev):
            n = int(r["spec"].get("replicas", 0))
            if n == 0:
                continue
            unhealthy = n - int(r.get("status", {}).get("availableReplicas", 0))
            down = max(0, min(n, unhealthy))
            rest = n - down
            extra = min(rest, budget)
            budget -= extra
            down += extra
            if down:
                self._scale(d, r, n - down)

    # --- helpers --------------------------------------------------------------------------------

    def _create_rs(self, d: Obj, revision: int, replicas: int) -> Obj:
        assert self.rs_rt is not None
        tmpl = copy.deepcopy(d["spec"].get("template") or {})
        h = template_hash(_strip_hash(tmpl))
        tmeta = tmpl.setdefault("metadata", {})
        tmeta.setdefault("labels", {})[HASH] = h
        sel = copy.deepcopy(d["spec"].get("selector") or {})
        sel.setdefault("matchLabels", {})[HASH] = h
        dmeta = d["metadata"]
        rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": f"{dmeta['name']}-{h}", "namespace": dmeta["namespace"],
                "labels": dict(tmeta.get("labels") or {}),
                "annotations": self._annotations(d, revision),
                "ownerReferences": [controller_ref(d)],
            },
            "spec": {"replicas": replicas, "selector": sel, "template": tmpl,
                     "minReadySeconds": d["spec"].get("minReadySeconds", 0)},
        }
        created = self.objects.create(self.rs_rt, dmeta["namespace"], rs)
        self.events.record(d, "Normal", "ScalingReplicaSet",
                           f"Scaled up replica set {rs['metadata']['name']} from 0 to {replicas}")
        return created

    def _annotations(self, d: Obj, revision: int) -> dict[str, str]:
        replicas = int(d["spec"].get("replicas", 1))
        ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        surge = int_or_percent(ru.get("maxSurge", 0) or 0, replicas, round_up=True)
        return {REVISION: str(revision), "deployment.kubernetes.io/desired-replicas":
                str(replicas), "deployment.kubernetes.io/max-replicas": str(replicas + surge)}

    def _set_rs(self, rs: Obj, *, revision: int, d: Obj) -> Obj:
        rs = copy.deepcopy(rs)
        rs["metadata"].setdefault("annotations", {}).update(self._annotations(d, revision))
        return self.store.update(RS, rs)

    def _scale(self, d: Obj, rs: Obj, n: int) -> None:
        old = int(rs["spec"].get("replicas", 0))
        if old == n:
            return
        rs["spec"]["replicas"] = n
        rs["metadata"].setdefault("annotations", {}).update(
            {"deployment.kubernetes.io/desired-replicas": str(d["spec"].get("replicas", 1))})
        updated = self.store.update(RS, rs)
        rs.clear()
        rs.update(updated)
        verb = "up" if n > old else "down"
        self.events.record(d, "Normal", "ScalingReplicaSet",
                           f"Scaled {verb} replica set {rs['metadata']['name']} from {old} to {n}")

    def _cleanup(self, d: Obj, olds: list[Obj]) -> None:
        limit = int(d["spec"].get("revisionHistoryLimit", 10))
        idle = sorted((r for r in olds if not r["spec"].get("replicas")
                       and not r.get("status", {}).get("replicas")), key=_rev)
        for r in idle[: max(0, len(idle) - limit)]:
            if self.rs_rt is not None:
                self.objects.delete(self.rs_rt, r["metadata"]["namespace"], r["metadata"]["name"])

    def _status(self, d: Obj, new_rs: Obj | None, olds: list[Obj]) -> None:
        all_rs = ([new_rs] if new_rs else []) + olds
        def st(r: Obj, k: str) -> int:
            return int(r.get("status", {}).get(k, 0))

        replicas = int(d["spec"].get("replicas", 1))
        total = sum(st(r, "replicas") for r in all_rs)
        available = sum(st(r, "availableReplicas") for r in all_rs)
        updated = st(new_rs, "replicas") if new_rs else 0
        ready = sum(st(r, "readyReplicas") for r in all_rs)
        ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        max_unavail = int_or_percent(ru.get("maxUnavailable", "25%"), replicas, round_up=False) \
            if (d["spec"].get("strategy") or {}).get("type") != "Recreate" else 0
        old = d.get("status") or {}
        conds = {c["type"]: c for c in old.get("conditions") or []}
        ts = now_iso()

        def cond(type_: str, status: str, reason: str, message: str) -> Obj:
            prev = conds.get(type_)
            same = prev is not None and prev.get("status") == status
            return {"type": type_, "status": status,
                    "lastUpdateTime": prev["lastUpdateTime"] if prev and same and
                    prev.get("reason") == reason else ts,
                    "lastTransitionTime": prev["lastTransitionTime"] if same and prev else ts,
                    "reason": reason, "message": message}

        avail_ok = available >= replicas - max_unavail
        name = d["metadata"]["name"]
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        complete = new_rs is not None and updated == replicas and available >= replicas and \
            total == replicas
        conditions = [
            cond("Available", "True" if avail_ok else "False",
                 "MinimumReplicasAvailable" if avail_ok else "MinimumReplicasUnavailable",
                 "Deployment has minimum availability." if avail_ok else
                 "Deployment does not have minimum availability."),
            cond("Progressing", "True",
                 "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                 f'ReplicaSet "{rs_name}" has successfully progressed.' if complete else
                 f'ReplicaSet "{rs_name}" is progressing.'),
        ]
        status: Obj = {"observedGeneration": d["metadata"].get("generation", 1),
                       "replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
                       "availableReplicas": available,
                       "unavailableReplicas": max(0, total - available),
                       "conditions": conditions}
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        revision = new_rs["metadata"].get("annotations", {}).get(REVISION) if new_rs else None
        current_rev = (d["metadata"].get("annotations") or {}).get(REVISION)
        if _strip_times(status) != _strip_times(old) or (revision and revision != current_rev):
            fresh = self.store.get(DEPLOY, d["metadata"]["namespace"], name)
            if fresh is None:
                return
            fresh["status"] = status
            if revision:
                fresh["metadata"].setdefault("annotations", {})[REVISION] = revision
            self.store.update(DEPLOY, fresh)


def _strip_times(status: Obj) -> Obj:
    s = copy.deepcopy(status)
    for c in s.get("conditions") or []:
        c.pop("lastUpdateTime", None)
        c.pop("lastTransitionTime", None)
    return s
