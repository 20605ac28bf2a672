"""Flagger's Istio router: the `<svc>` VirtualService, rendered whole for every traffic split.

Why this exists: Flagger owns the apex VirtualService and re-renders all of it on each change
(pkg/router/istio.go): hosts (`service.hosts` plus the apex unless `*` is there), gateways
(`service.gateways`, else `mesh`), one HTTP route carrying `service.match`, `rewrite`,
`retries`, `timeout`, `headers`, `corsPolicy` to `<svc>-primary` / `<svc>-canary` by weight; with
`analysis.match` a header route first and a primary-only route after it; a mirror;
DestinationRules `<svc>-primary` / `<svc>-canary` carry `service.trafficPolicy`.
A VirtualService that already exists under that name is taken over: its spec is replaced, the
original kept (kubectl's last-applied annotation, else
`flagger.kubernetes.io/original-configuration`).
"""

from __future__ import annotations

import copy
import json

from turnout.kube import errors
from turnout.rollout import flagger
from turnout.rollout.engine import HeaderMatch, Routes
from turnout.store.objects import Objects
from turnout.types import Obj

VS = "virtualservices.networking.istio.io"
DR = "destinationrules.networking.istio.io"
ORIGINAL = "flagger.kubernetes.io/original-configuration"
_ROUTE_KEYS = ("timeout", "retries", "corsPolicy", "headers")


def _merge(conds: list[Obj], defaults: list[Obj]) -> list[Obj]:
    """Flagger's mergeMatchConditions: each condition over each `service.match` block."""
    if not defaults:
        return copy.deepcopy(conds)
    out = []
    for c in conds:
        for d in defaults:
            m = copy.deepcopy(d)
            for k in ("headers", "sourceLabels"):
                if c.get(k):
                    m[k] = copy.deepcopy(c[k])
            out.append(m)
    return out


def render_spec(canary: Obj, routes: Routes) -> Obj:
    """The VirtualService spec Flagger writes for ``routes`` (pure)."""
    spec = canary.get("spec") or {}
    svc = spec.get("service") or {}
    a = flagger.analysis(spec)
    n = flagger.names(canary)
    hosts = [str(h) for h in svc.get("hosts") or []]
    if not any(h in (n.apex, "*") for h in hosts):
        hosts.append(n.apex)
    gateways = [str(g) for g in svc.get("gateways") or []] or ["mesh"]
    with_port = bool(svc.get("portDiscovery")) and bool(svc.get("gateways")) and \
        svc["gateways"][0] != "mesh"

    def dest(host: str, weight: int) -> Obj:
        d: Obj = {"host": host}
        if with_port:
            d["port"] = {"number": int(svc["port"])}
        return {"destination": d, "weight": weight}

    base: Obj = {k: copy.deepcopy(svc[k]) for k in _ROUTE_KEYS if svc.get(k)}
    if svc.get("match"):
        base["match"] = copy.deepcopy(svc["match"])
    if svc.get("rewrite"):
        base["rewrite"] = {k: v for k, v in svc["rewrite"].items() if k in ("uri", "authority")}
    w = max(0, min(100, routes.weight))
    weighted = {**copy.deepcopy(base), "route": [dest(n.primary_service, 100 - w),
                                                 dest(n.canary_service, w)]}
    http = [weighted]
    if routes.mirror:
        http[0]["mirror"] = {"host": n.canary_service}
        if a.get("mirrorWeight"):
            http[0]["mirrorPercentage"] = {"value": float(a["mirrorWeight"])}
    if a.get("match"):
        ab = 100 if routes.header else w
        http = [{**copy.deepcopy(base), "match": _merge(a["match"], svc.get("match") or []),
                 "route": [dest(n.primary_service, 100 - ab), dest(n.canary_service, ab)]},
                {**copy.deepcopy(base), "route": [dest(n.primary_service, 100)]}]
    out: Obj = {"hosts": hosts, "gateways": gateways, "http": http}
    return out


def read_routes(vs: Obj, canary: Obj) -> Routes:
    """The canary weight the VirtualService implements."""
    n = flagger.names(canary)
    match = flagger.analysis(canary.get("spec") or {}).get("match")
    for h in (vs.get("spec") or {}).get("http") or []:
        for d in h.get("route") or []:
            if d.get("destination", {}).get("host") == n.canary_service:
                w = int(d.get("weight", 0))
                if match:
                    return Routes(0, (HeaderMatch("", ""),) if w == 100 else ())
                return Routes(w, (), 100 if h.get("mirror") else None)
    return Routes(0)


class FlaggerIstioRouter:
    def __init__(self, canary: Obj) -> None:
        self.canary = canary
        self.names = flagger.names(canary)

    def _get(self, objects: Objects) -> Obj | None:
        rt = objects.registry.by_key(VS)
        assert rt is not None
        try:
            return objects.get(rt, self.names.namespace, self.names.apex)
        except errors.ApiError as e:
            if e.code == 404:
                return None
            raise

    def _metadata(self) -> tuple[dict[str, str], dict[str, str]]:
        apex = ((self.canary.get("spec") or {}).get("service") or {}).get("apex") or {}
        return dict(apex.get("labels") or {}), {**(apex.get("annotations") or {}),
                                                **flagger.TOOLKIT}

    def reconcile(self, objects: Objects) -> None:
        """DestinationRules `<svc>-canary` and `<svc>-primary` (`service.trafficPolicy`), and
        the VirtualService if it does not exist yet."""
        drt = objects.registry.by_key(DR)
        assert drt is not None
        policy = ((self.canary.get("spec") or {}).get("service") or {}).get("trafficPolicy")
        for host in (self.names.canary_service, self.names.primary_service):
            spec: Obj = {"host": host}
            if policy:
                spec["trafficPolicy"] = copy.deepcopy(policy)
            try:
                have = objects.get(drt, self.names.namespace, host)
            except errors.ApiError as e:
                if e.code != 404:
                    raise
                objects.create(drt, self.names.namespace, {
                    "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
                    "metadata": {"name": host, "namespace": self.names.namespace,
                                 "ownerReferences": [flagger.owner_ref(self.canary)]},
                    "spec": spec})
                continue
            if have.get("spec") != spec:
                objects.update(drt, self.names.namespace, host, {**have, "spec": spec})
        if self._get(objects) is None:
            self.set_routes(objects, Routes(0))

    def set_routes(self, objects: Objects, routes: Routes) -> None:
        rt = objects.registry.by_key(VS)
        assert rt is not None
        spec = render_spec(self.canary, routes)
        labels, annotations = self._metadata()
        have = self._get(objects)
        if have is None:
            objects.create(rt, self.names.namespace, {
                "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
                "metadata": {"name": self.names.apex, "namespace": self.names.namespace,
                             "labels": labels, "annotations": annotations,
                             "ownerReferences": [flagger.owner_ref(self.canary)]},
                "spec": spec})
            return
        new = copy.deepcopy(have)
        meta = new["metadata"]
        meta["labels"] = {**(meta.get("labels") or {}), **labels}
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        if not flagger.owned_by(have, self.canary) and have.get("spec") != spec and \
                flagger.LAST_APPLIED not in meta["annotations"] and \
                ORIGINAL not in meta["annotations"]:
            meta["annotations"][ORIGINAL] = json.dumps(have.get("spec") or {},
                                                       separators=(",", ":"))
        new["spec"] = spec
        if new != have:
            objects.update(rt, self.names.namespace, self.names.apex, new)

    def get_routes(self, objects: Objects) -> Routes:
        vs = self._get(objects)
        return read_routes(vs, self.canary) if vs is not None else Routes(0)

    def finalize(self, objects: Objects) -> None:
        """Nothing yet: the VirtualService stays as the last split left it."""
