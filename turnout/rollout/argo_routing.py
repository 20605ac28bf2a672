"""The traffic router of an Argo Rollout, from its `strategy`.

Why this exists: `trafficRouting.istio` may name one VirtualService or several
(`virtualServices`, as the getting-started guide's two hosts), host-level (stable/canary
Services) or subset-level (a DestinationRule); an Experiment step's templates with a `weight` get
their own destinations next to stable and canary (stable gives up that share, as Argo's Istio
reconciler does); blue/green switches Services; NGINX splits with a canary Ingress. This module
builds the one ``Router`` the controller drives, so the controller does not grow a branch per
mechanism. `render_experiment_weights` is pure.
"""

from __future__ import annotations

import copy

from turnout.kube import errors
from turnout.rollout import argo, common
from turnout.rollout.engine import Routes, State
from turnout.rollout.routers import Router
from turnout.rollout.routers.istio import (
    Destination,
    IstioRoute,
    IstioRouter,
    render_virtual_service,
)
from turnout.rollout.routers.nginx import NginxRoute, NginxRouter
from turnout.rollout.routers.service import ServiceRoute, ServiceRouter, render_selector
from turnout.store.objects import Objects
from turnout.types import Obj

VS = "virtualservices.networking.istio.io"


def _managed(h: Obj, r: IstioRoute) -> bool:
    if r.route_names:
        return str(h.get("name", "")) in r.route_names
    return any(r.stable.matches(d.get("destination") or {}) for d in h.get("route") or [])


def render_experiment_weights(vs: Obj, route: IstioRoute, weights: dict[str, int],
                              known: set[str]) -> Obj:
    """``vs`` as ``render_virtual_service`` left it (stable ``100 - w``), with one destination
    per experiment Service in ``weights`` on each managed route, taken from the stable's share;
    destinations of the ``known`` experiment Services without weight any more are removed."""
    out = copy.deepcopy(vs)
    extra = sum(weights.values())
    for h in (out.get("spec") or {}).get("http") or []:
        if not _managed(h, route):
            continue
        kept = [d for d in h.get("route") or []
                if str((d.get("destination") or {}).get("host", "")).split(".")[0]
                not in known | set(weights)]
        for d in kept:
            if route.stable.matches(d.get("destination") or {}):
                d["weight"] = max(0, int(d.get("weight", 0)) - extra)
        h["route"] = kept + [{"destination": {"host": svc}, "weight": w}
                             for svc, w in sorted(weights.items())]
    return out


class IstioRouters:
    """Several VirtualServices driven as one (`virtualServices`), with experiment weights."""

    def __init__(self, routers: list[IstioRouter], weights: dict[str, int],
                 known: set[str]) -> None:
        self.routers = routers
        self.weights = weights
        self.known = known

    def reconcile(self, objects: Objects) -> None:
        for r in self.routers:
            r.reconcile(objects)

    def set_routes(self, objects: Objects, routes: Routes) -> None:
        rt = objects.registry.by_key(VS)
        assert rt is not None
        for r in self.routers:
            vs = common.get(objects, VS, r.route.namespace, r.route.virtual_service)
            if vs is None:
                r.reconcile(objects)  # raises NotFound: the Rollout says so in its status
                continue
            new = render_virtual_service(vs, r.route, routes)
            if self.weights or self.known:
                new = render_experiment_weights(new, r.route, self.weights, self.known)
            if new != vs:
                objects.update(rt, r.route.namespace, r.route.virtual_service, new)

    def get_routes(self, objects: Objects) -> Routes:
        return self.routers[0].get_routes(objects) if self.routers else Routes(0)

    def finalize(self, objects: Objects) -> None:
        self.weights = {}
        self.set_routes(objects, Routes(0))


def router_for(objects: Objects, ro: Obj, s: State, weights: dict[str, int] | None = None,
               known: set[str] | None = None) -> Router | None:
    """The router of ``ro`` (resolved spec) for state ``s``; points the stable and canary
    Services at their revisions. Raises ApiError for a trafficRouting turnout has no router for."""
    spec = ro["spec"]
    ns = ro["metadata"]["namespace"]
    kind, st = argo.strategy(spec)
    stable, canary = s.stable or s.canary, s.canary or s.stable
    if kind == "blueGreen":
        return ServiceRouter(ServiceRoute(ns, str(st.get("activeService", "")),
                                          str(st.get("previewService", ""))), stable, canary)
    tr = st.get("trafficRouting") or {}
    for svc, h in ((st.get("stableService"), stable), (st.get("canaryService"), canary)):
        if svc and h:
            select(objects, ns, str(svc), h)
    if "istio" in tr:
        istio = tr["istio"] or {}
        vss = istio.get("virtualServices") or [istio.get("virtualService") or {}]
        dr = istio.get("destinationRule") or {}
        if dr:
            host = str(st.get("stableService") or "")
            if not host:
                drobj = common.get(objects, "destinationrules.networking.istio.io", ns,
                                   str(dr.get("name", "")))
                host = str(((drobj or {}).get("spec") or {}).get("host", ""))
            sd = Destination(host, str(dr.get("stableSubsetName", "stable")))
            cd = Destination(host, str(dr.get("canarySubsetName", "canary")))
        else:
            sd = Destination(str(st.get("stableService", "")))
            cd = Destination(str(st.get("canaryService", "")))
        routers = [IstioRouter(IstioRoute(ns, str(vs.get("name", "")), sd, cd,
                                          tuple(vs.get("routes") or ()),
                                          str(dr.get("name", "")) if i == 0 else ""),
                               stable, canary) for i, vs in enumerate(vss)]
        return IstioRouters(routers, weights or {}, known or set())
    if "nginx" in tr:
        ng = tr["nginx"] or {}
        return NginxRouter(NginxRoute(ns, str(ng.get("stableIngress", "")),
                                      str(st.get("stableService", "")),
                                      str(st.get("canaryService", ""))))
    if tr:
        raise errors.bad_request(f"spec.strategy.canary.trafficRouting: {sorted(tr)} is not "
                                 "supported (istio, nginx)")
    return None


def select(objects: Objects, ns: str, name: str, rev: str) -> None:
    rt = objects.registry.by_key("services")
    assert rt is not None
    svc = common.get(objects, "services", ns, name)
    if svc is not None:
        new = render_selector(svc, rev)
        if new != svc:
            objects.update(rt, ns, name, new)
