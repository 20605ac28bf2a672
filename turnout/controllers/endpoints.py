"""Service → Endpoints and EndpointSlices, from the pods a Service selects.

Ready pods are `addresses`, others `notReadyAddresses`; terminating pods leave the ready set at
once, which is what lets the mesh drain them before their process stops.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from turnout.controllers.base import Controller, Key
from turnout.controllers.workloads import pod_ready
from turnout.kube import errors, selectors
from turnout.store.db import Event
from turnout.types import Obj

SLICES = "endpointslices.discovery.k8s.io"


def _target_port(svc_port: Obj, pod: Obj) -> int | None:
    tp = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(tp, int):
        return tp
    if isinstance(tp, str) and tp.isdigit():
        return int(tp)
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == tp and p.get("protocol", "TCP") == svc_port.get("protocol", "TCP"):
                return int(p["containerPort"])
    return None


def selected_pods(objects_iter: Iterable[Obj], svc: Obj) -> list[Obj]:
    sel = svc["spec"].get("selector")
    if not sel:
        return []
    return [p for p in objects_iter
            if p.get("status", {}).get("podIP")
            and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items())
            and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")]


def build_endpoints(svc: Obj, pods: list[Obj]) -> Obj:
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[Obj]]] = {}
    for pod in pods:
        ports = []
        for sp in svc["spec"].get("ports") or []:
            tp = _target_port(sp, pod)
            if tp is not None:
                ports.append((sp.get("name", ""), tp, sp.get("protocol", "TCP")))
        key = tuple(ports)
        addr = {"ip": pod["status"]["podIP"], "nodeName": pod["spec"].get("nodeName", "turnout"),
                "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"],
                              "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}}
        bucket = groups.setdefault(key, {"addresses": [], "notReadyAddresses": []})
        ready = pod_ready(pod) and not pod["metadata"].get("deletionTimestamp")
        bucket["addresses" if ready else "notReadyAddresses"].append(addr)
    subsets = []
    for ports_key, b in groups.items():
        sub: Obj = {k: sorted(v, key=lambda a: a["ip"]) for k, v in b.items() if v}
        sub["ports"] = [{**({"name": n} if n else {}), "port": p, "protocol": proto}
                        for n, p, proto in ports_key]
        subsets.append(sub)
    meta = svc["metadata"]
    ep: Obj = {"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                            "labels": dict(meta.get("labels") or {})}}
    if subsets:
        ep["subsets"] = subsets
    return ep


def build_slice(svc: Obj, pods: list[Obj]) -> Obj:
    meta = svc["metadata"]
    endpoints = []
    ports: list[Obj] = []
    for sp in svc["spec"].get("ports") or []:
        tp = _target_port(sp, pods[0]) if pods else sp.get("targetPort", sp.get("port"))
        if isinstance(tp, int):
            ports.append({"name": sp.get("name", ""), "port": tp,
                          "protocol": sp.get("protocol", "TCP")})
    for pod in sorted(pods, key=lambda p: p["status"]["podIP"]):
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        ready = pod_ready(pod) and not terminating
        endpoints.append({
            "addresses": [pod["status"]["podIP"]],
            "conditions": {"ready": ready, "serving": pod_ready(pod), "terminating": terminating},
            "nodeName": pod["spec"].get("nodeName", "turnout"),
            "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"],
                          "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
        })
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": f"{meta['name']}-turnout", "namespace": meta["namespace"],
            "labels": {**(meta.get("labels") or {}),
                       "kubernetes.io/service-name": meta["name"],
                       "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": meta["name"],
                                 "uid": meta["uid"], "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


class EndpointsController(Controller):
    name = "endpoints-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        reg = self.objects.registry
        self.ep_rt = reg.by_key("endpoints")
        self.slice_rt = reg.by_key(SLICES)

    def all_keys(self) -> Iterable[Key]:
        return [(s["metadata"]["namespace"], s["metadata"]["name"])
                for s in self.store.iter("services")]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == "services":
            yield (ev.namespace, ev.name)
        elif ev.key == "pods":
            labels = ev.obj["metadata"].get("labels") or {}
            for s in self.store.iter("services", ev.namespace):
                sel = s["spec"].get("selector")
                if sel and selectors.from_label_selector_obj({"matchLabels": sel}).matches(labels):
                    yield (ev.namespace, s["metadata"]["name"])

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        svc = self.store.peek("services", ns, name)
        if svc is None:
            for k, rt in (("endpoints", self.ep_rt), (SLICES, self.slice_rt)):
                n = name if k == "endpoints" else f"{name}-turnout"
                if self.store.peek(k, ns, n) is not None and rt is not None:
                    self.objects.delete(rt, ns, n)
            return
        if not svc["spec"].get("selector"):
            return  # user-managed endpoints
        pods = selected_pods(self.store.iter("pods", ns), svc)
        self._put("endpoints", self.ep_rt, build_endpoints(svc, pods))
        self._put(SLICES, self.slice_rt, build_slice(svc, pods))

    def _put(self, key: str, rt: Any, obj: Obj) -> None:
        if rt is None:
            return
        meta = obj["metadata"]
        cur = self.store.peek(key, meta["namespace"], meta["name"])
        if cur is None:
            try:
                self.objects.create(rt, meta["namespace"], obj)
            except errors.ApiError as e:
                if e.code not in (404, 409):
                    raise
            return
        body = {k: v for k, v in cur.items() if k not in ("subsets", "endpoints", "ports")}
        body = {**body, **{k: v for k, v in obj.items() if k != "metadata"}}
        body["metadata"] = {**cur["metadata"], "labels": meta.get("labels", {})}
        if body != cur:
            self.objects.update(rt, meta["namespace"], meta["name"], body)
