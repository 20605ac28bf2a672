"""ReplicaSet controller: keep `spec.replicas` active pods, report counts in status."""

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import Iterable

from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.controllers.workloads import (
    controller_ref,
    owned_by,
    pod_active,
    pod_available,
    pod_ready,
)
from turnout.kube import errors, selectors
from turnout.store.db import Event
from turnout.types import Obj

RS = "replicasets.apps"
_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # the real apiserver's generateName alphabet


class ReplicaSetController(Controller):
    name = "replicaset-controller"

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.events = Recorder(self.objects, "replicaset-controller")
        self.rs_rt = self.objects.registry.by_key(RS)
        self.pod_rt = self.objects.registry.by_key("pods")

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.iter(RS)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == RS:
            yield (ev.namespace, ev.name)
        elif ev.key == "pods":
            for ref in ev.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "ReplicaSet" and ref.get("controller"):
                    yield (ev.namespace, ref["name"])

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        rs = self.store.get(RS, ns, name)
        if rs is None or self.rs_rt is None or self.pod_rt is None:
            return
        uid = rs["metadata"]["uid"]
        pods = [p for p in self.store.iter("pods", ns) if owned_by(p, uid)]
        active = [p for p in pods if pod_active(p)]
        want = int(rs["spec"].get("replicas", 1))
        if not rs["metadata"].get("deletionTimestamp"):
            if len(active) < want:
                for _ in range(want - len(active)):
                    active.append(self._create_pod(rs))
            elif len(active) > want:
                # delete not-ready and youngest first, like the real controller's ranking
                victims = sorted(active, key=lambda p: (
                    pod_ready(p), _neg(p["metadata"].get("creationTimestamp", ""))))
                for p in victims[: len(active) - want]:
                    try:
                        self.objects.delete(self.pod_rt, ns, p["metadata"]["name"])
                    except errors.ApiError as e:
                        if e.code != 404:
                            raise
                    self.events.record(rs, "Normal", "SuccessfulDelete",
                                       f"Deleted pod: {p['metadata']['name']}")
                    active.remove(p)
        min_ready = int(rs["spec"].get("minReadySeconds", 0))
        labels_sel = selectors.from_label_selector_obj(rs["spec"].get("selector"))
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1 for p in active if labels_sel.matches(p["metadata"].get("labels") or {})),
            "readyReplicas": sum(1 for p in active if pod_ready(p)),
            "availableReplicas": sum(1 for p in active if pod_available(p, min_ready)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        if status != rs.get("status"):
            rs["status"] = status
            self.store.update(RS, rs)
        if min_ready and any(pod_ready(p) and not pod_available(p, min_ready) for p in active):
            asyncio.get_running_loop().call_later(1.0, self.enqueue, key)

    def _create_pod(self, rs: Obj) -> Obj:
        assert self.pod_rt is not None
        tmpl = copy.deepcopy(rs["spec"].get("template") or {})
        meta = tmpl.get("metadata") or {}
        meta.pop("creationTimestamp", None)
        name = f"{rs['metadata']['name']}-{''.join(secrets.choice(_ALNUM) for _ in range(5))}"
        pod: Obj = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {**meta, "name": name, "namespace": rs["metadata"]["namespace"],
                         "ownerReferences": [controller_ref(rs)]},
            "spec": tmpl.get("spec") or {},
        }
        created = self.objects.create(self.pod_rt, rs["metadata"]["namespace"], pod)
        self.events.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {name}")
        return created


def _neg(ts: str) -> str:
    return "".join(chr(255 - ord(c)) for c in ts)
