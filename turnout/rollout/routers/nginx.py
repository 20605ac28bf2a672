"""NGINX router: a `<ingress>-canary` Ingress with the `nginx.ingress.kubernetes.io/canary*`
annotations, as Argo Rollouts' NGINX integration creates it.

Why this exists: the NGINX ingress controller splits traffic between an Ingress and its canary
twin by weight or by header; turnout's ingress add-on honours the same annotations, so a rollout
can drive it without a mesh. The canary Ingress is a copy of the stable one whose backends point
at the canary Service.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from turnout.kube import errors
from turnout.rollout.engine import Routes
from turnout.store.objects import Objects
from turnout.types import Obj

ING = "ingresses.networking.k8s.io"
A = "nginx.ingress.kubernetes.io/"


@dataclass(frozen=True)
class NginxRoute:
    namespace: str
    stable_ingress: str
    stable_service: str
    canary_service: str
    owner: Obj | None = None  # an ownerReference for the canary Ingress (Flagger sets one)

    @property
    def canary_ingress(self) -> str:
        return f"{self.stable_ingress}-canary"


def render_canary_ingress(stable: Obj, r: NginxRoute, routes: Routes) -> Obj:
    """The canary twin of ``stable`` for ``routes`` (pure)."""
    meta = stable.get("metadata") or {}
    spec = copy.deepcopy(stable.get("spec") or {})
    for rule in spec.get("rules") or []:
        for p in (rule.get("http") or {}).get("paths") or []:
            svc = (p.get("backend") or {}).get("service") or {}
            if svc.get("name") == r.stable_service:
                svc["name"] = r.canary_service
    ann = {k: v for k, v in (meta.get("annotations") or {}).items()
           if not k.startswith(A + "canary") and k != "kubectl.kubernetes.io/last-applied-"
           "configuration"}
    ann[A + "canary"] = "true"
    ann[A + "canary-weight"] = str(max(0, min(100, routes.weight)))
    for m in routes.header:  # a `cookie` condition names the cookie (Flagger's A/B)
        if m.name.lower() == "cookie":
            ann[A + "canary-by-cookie"] = m.value
            continue
        ann[A + "canary-by-header"] = m.name
        ann[A + ("canary-by-header-pattern" if m.kind == "regex" else
                 "canary-by-header-value")] = m.value
    out: Obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": r.canary_ingress, "namespace": r.namespace,
                             "annotations": ann,
                             "labels": dict(meta.get("labels") or {})},
                "spec": spec}
    if r.owner:
        out["metadata"]["ownerReferences"] = [dict(r.owner)]
    return out


class NginxRouter:
    def __init__(self, route: NginxRoute) -> None:
        self.route = route

    def _get(self, objects: Objects, name: str) -> Obj | None:
        rt = objects.registry.by_key(ING)
        assert rt is not None
        try:
            return objects.get(rt, self.route.namespace, name)
        except errors.ApiError as e:
            if e.code == 404:
                return None
            raise

    def reconcile(self, objects: Objects) -> None:
        if self._get(objects, self.route.canary_ingress) is None:
            self.set_routes(objects, Routes(0))

    def set_routes(self, objects: Objects, routes: Routes) -> None:
        rt = objects.registry.by_key(ING)
        assert rt is not None
        stable = self._get(objects, self.route.stable_ingress)
        if stable is None:
            raise errors.not_found("ingresses", "networking.k8s.io", self.route.stable_ingress)
        want = render_canary_ingress(stable, self.route, routes)
        have = self._get(objects, self.route.canary_ingress)
        if have is None:
            objects.create(rt, self.route.namespace, want)
        elif (have.get("metadata", {}).get("annotations"), have.get("spec")) != \
                (want["metadata"]["annotations"], want["spec"]):
            have["metadata"]["annotations"] = want["metadata"]["annotations"]
            have["spec"] = want["spec"]
            objects.update(rt, self.route.namespace, self.route.canary_ingress, have)

    def get_routes(self, objects: Objects) -> Routes:
        have = self._get(objects, self.route.canary_ingress)
        if have is None:
            return Routes(0)
        ann = have.get("metadata", {}).get("annotations") or {}
        return Routes(int(ann.get(A + "canary-weight", "0") or 0))

    def finalize(self, objects: Objects) -> None:
        rt = objects.registry.by_key(ING)
        assert rt is not None
        if self._get(objects, self.route.canary_ingress) is not None:
            objects.delete(rt, self.route.namespace, self.route.canary_ingress)
