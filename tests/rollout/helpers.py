"""In-memory cluster pieces for rollout tests: objects, a Deployment/ReplicaSet 'kubelet' that
marks workloads available at once, and object builders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turnout.kube.resources import Registry
from turnout.store.db import Store
from turnout.store.objects import Objects
from turnout.types import Obj


def cluster(*namespaces: str) -> Objects:
    o = Objects(Store(None), Registry())
    rt = o.registry.by_key("namespaces")
    assert rt is not None
    for ns in namespaces:
        o.create(rt, "", {"metadata": {"name": ns}})
    return o


def rt(o: Objects, key: str) -> Any:
    r = o.registry.by_key(key)
    assert r is not None
    return r


def settle(o: Objects) -> None:
    """Every Deployment and ReplicaSet reports all its replicas up to date and available; every
    DaemonSet its pod on the one node, a node without labels (no pod with a nodeSelector)."""
    for key in ("deployments.apps", "replicasets.apps"):
        for d in list(o.store.iter(key)):
            n = int(d["spec"].get("replicas", 1))
            want = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": n,
                    "updatedReplicas": n, "readyReplicas": n, "availableReplicas": n}
            if d.get("status") != want:
                d["status"] = want
                o.store.update(key, d)
    for d in list(o.store.iter("daemonsets.apps")):
        n = 0 if ((d["spec"].get("template") or {}).get("spec") or {}).get("nodeSelector") \
            else 1
        want = {"observedGeneration": d["metadata"].get("generation", 1),
                "currentNumberScheduled": n, "numberMisscheduled": 0,
                "desiredNumberScheduled": n, "numberReady": n, "updatedNumberScheduled": n,
                "numberAvailable": n}
        if d.get("status") != want:
            d["status"] = want
            o.store.update("daemonsets.apps", d)


def drive(o: Objects, sync: Callable[[float], object], t0: float, t1: float) -> float:
    """``sync(t)`` once a second from ``t0`` through ``t1``, workloads settled after each;
    returns the next second."""
    t = t0
    while t <= t1:
        sync(t)
        settle(o)
        t += 1.0
    return t


def drive_until(o: Objects, sync: Callable[[float], object], t: float,
                done: Callable[[], bool], limit: float = 600) -> float:
    """``drive`` a second at a time until ``done()`` (asserted) or ``limit``."""
    while t < limit and not done():
        t = drive(o, sync, t, t)
    assert done()
    return t


def template(version: str, image: str, app: str = "ecommerce",
             service: str = "advertisements") -> Obj:
    return {"metadata": {"labels": {"app": app, "service": service, "version": version}},
            "spec": {"containers": [{"name": "advertisements", "image": image,
                                     "ports": [{"containerPort": 5002}]}]}}


def deployment(name: str, ns: str, tmpl: Obj, replicas: int = 1) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {"app": tmpl["metadata"]["labels"]["app"],
                                                  "service": "advertisements"}},
                     "template": tmpl}}


def events(o: Objects, ns: str) -> list[Obj]:
    return list(o.store.iter("events", ns))
