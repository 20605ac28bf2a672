"""A small in-memory cluster for Argo Rollout tests: the Rollout, AnalysisRun and Experiment
controllers, a scripted metric provider, and a clock the test drives."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from turnout.rollout.analysisrun_controller import AnalysisRunController
from turnout.rollout.argo_controller import RolloutController
from turnout.rollout.metrics import FakeMetrics
from turnout.rollout.providers import Measurement, Providers
from turnout.store.objects import Objects
from turnout.types import Obj

from .helpers import cluster, events, rt, settle

NS = "demo"
ROLLOUT = "rollouts.argoproj.io"
RUN = "analysisruns.argoproj.io"


class Scripted:
    """Answers each metric from a script of phases (then Successful); records the calls."""

    def __init__(self, script: dict[str, list[str]] | None = None) -> None:
        self.script: dict[str, Iterator[str]] = {k: iter(v) for k, v in (script or {}).items()}
        self.seen: list[Obj] = []

    def measure(self, metric: Obj, run: Obj, now: float) -> Measurement:
        self.seen.append(metric)
        phase = next(self.script.get(metric["name"], iter(())), "Successful")
        return phase, "1", f"{phase.lower()} measurement"


def pod_template(image: str = "argoproj/rollouts-demo:blue", app: str = "demo") -> Obj:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "demo", "image": image,
                                     "ports": [{"containerPort": 8080}]}]}}


def rollout(name: str = "demo", strategy: Obj | None = None, replicas: int = 1,
            labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    body: Obj = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                 "metadata": {"name": name, "labels": labels or {}},
                 "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "demo"}},
                          "template": pod_template(),
                          "strategy": strategy if strategy is not None else
                          {"canary": {"steps": [{"setWeight": 50}]}},
                          **spec}}
    return body


def template(name: str, metrics: list[str], args: list[Obj] | None = None,
             cluster_scope: bool = False, **spec: Any) -> Obj:
    """A template whose metrics query every arg: `{{args.a}} {{args.b}}`."""
    query = " ".join("{{args." + str(a["name"]) + "}}" for a in args or [])
    return {"apiVersion": "argoproj.io/v1alpha1",
            "kind": "ClusterAnalysisTemplate" if cluster_scope else "AnalysisTemplate",
            "metadata": {"name": name},
            "spec": {"args": args or [],
                     "metrics": [{"name": m, "provider": {"fake": {"q": query}}}
                                 for m in metrics], **spec}}


class World:
    def __init__(self, script: dict[str, list[str]] | None = None) -> None:
        self.o: Objects = cluster(NS)
        providers = Providers(FakeMetrics())
        self.fake = Scripted(script)
        providers.by_name["fake"] = self.fake
        self.ro = RolloutController(self.o, tuple(providers.by_name))
        self.ar = AnalysisRunController(self.o, providers)
        self.extra: list[Any] = []  # more controllers with a sync((ns, name), now)
        self.t = 0.0

    def create(self, key: str, body: Obj, namespace: str = NS) -> Obj:
        out: Obj = self.o.create(rt(self.o, key), namespace, copy.deepcopy(body))
        return out

    def get(self, key: str, name: str, namespace: str = NS) -> Obj:
        out: Obj = self.o.get(rt(self.o, key), namespace, name)
        return out

    def update(self, key: str, obj: Obj, namespace: str = NS) -> None:
        self.o.update(rt(self.o, key), namespace, obj["metadata"]["name"], obj)

    def edit(self, name: str = "demo", **changes: Any) -> None:
        r = self.get(ROLLOUT, name)
        for path, value in changes.items():
            cur = r
            keys = path.split("__")
            for k in keys[:-1]:
                cur = cur.setdefault(k, {})
            cur[keys[-1]] = value
        self.update(ROLLOUT, r)

    def status_patch(self, name: str = "demo", **fields: Any) -> None:
        r = self.get(ROLLOUT, name)
        self.o.update(rt(self.o, ROLLOUT), NS, name, {"status": {**r["status"], **fields}},
                      subresource="status")

    def run(self, seconds: float, step: float = 1.0) -> None:
        end = self.t + seconds
        while self.t <= end:
            for r in list(self.o.store.iter(ROLLOUT, NS)):
                self.ro.sync((NS, r["metadata"]["name"]), self.t)
            for c in self.extra:
                c.tick(self.t)
            for r in list(self.o.store.iter(RUN, NS)):
                self.ar.sync((NS, r["metadata"]["name"]), self.t)
            settle(self.o)
            self.t += step

    def status(self, name: str = "demo") -> Obj:
        st: Obj = self.get(ROLLOUT, name).get("status") or {}
        return st

    def runs(self) -> list[Obj]:
        return sorted(self.o.store.iter(RUN, NS), key=lambda r: r["metadata"]["name"])

    def replicas(self, name: str = "demo") -> dict[str, int]:
        """spec.replicas by image of the Rollout's ReplicaSets."""
        return {r["spec"]["template"]["spec"]["containers"][0]["image"].split(":")[-1]:
                r["spec"]["replicas"] for r in self.o.store.iter("replicasets.apps", NS)
                if any(ref.get("kind") == "Rollout" and ref.get("name") == name
                       for ref in r["metadata"].get("ownerReferences") or [])}

    def events(self, reason: str) -> list[str]:
        return [e["message"] for e in events(self.o, NS) if e["reason"] == reason]

    def condition(self, type_: str, name: str = "demo") -> Obj | None:
        return next((c for c in self.status(name).get("conditions") or []
                     if c["type"] == type_), None)

    def new_image(self, image: str = "argoproj/rollouts-demo:green", name: str = "demo") -> None:
        self.edit(name, spec__template=pod_template(image))
