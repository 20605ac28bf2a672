"""Service-selector router: blue/green by pointing Services at one revision's pods.

Why this exists: without a mesh, the only exact switch Kubernetes offers is a Service's
selector. The active Service selects the stable revision's `rollouts-pod-template-hash` until the
canary gets 100 %, the preview Service always selects the newest revision. Weights between 0 and
100 cannot be expressed; they round to "not yet".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from turnout.rollout.engine import Routes
from turnout.rollout.routers.istio import HASH_LABEL
from turnout.store.objects import Objects
from turnout.types import Obj


@dataclass(frozen=True)
class ServiceRoute:
    namespace: str
    active: str
    preview: str = ""


def render_selector(svc: Obj, revision: str) -> Obj:
    """``svc`` selecting only pods of ``revision`` (pure)."""
    out = copy.deepcopy(svc)
    sel = out.setdefault("spec", {}).setdefault("selector", {})
    if revision:
        sel[HASH_LABEL] = revision
    else:
        sel.pop(HASH_LABEL, None)
    return out


class ServiceRouter:
    def __init__(self, route: ServiceRoute, stable_hash: str, canary_hash: str) -> None:
        self.route = route
        self.stable_hash = stable_hash
        self.canary_hash = canary_hash or stable_hash

    def _point(self, objects: Objects, name: str, revision: str) -> None:
        rt = objects.registry.by_key("services")
        assert rt is not None
        svc = objects.get(rt, self.route.namespace, name)
        new = render_selector(svc, revision)
        if new != svc:
            objects.update(rt, self.route.namespace, name, new)

    def reconcile(self, objects: Objects) -> None:
        if self.route.preview:
            self._point(objects, self.route.preview, self.canary_hash)

    def set_routes(self, objects: Objects, routes: Routes) -> None:
        self.reconcile(objects)
        self._point(objects, self.route.active,
                    self.canary_hash if routes.weight >= 100 else self.stable_hash)

    def get_routes(self, objects: Objects) -> Routes:
        rt = objects.registry.by_key("services")
        assert rt is not None
        svc = objects.get(rt, self.route.namespace, self.route.active)
        on = (svc.get("spec") or {}).get("selector", {}).get(HASH_LABEL)
        return Routes(100 if on == self.canary_hash != self.stable_hash else 0)

    def finalize(self, objects: Objects) -> None:
        rt = objects.registry.by_key("services")
        assert rt is not None
        for name in filter(None, (self.route.active, self.route.preview)):
            svc = objects.get(rt, self.route.namespace, name)
            new = render_selector(svc, "")
            if new != svc:
                objects.update(rt, self.route.namespace, name, new)
