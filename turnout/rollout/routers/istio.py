"""Istio router: canary weights, header routes and mirrors in a VirtualService.

Two shapes, as the two front ends use them:

* subset-level (Argo `trafficRouting.istio` with a `destinationRule`): the named HTTP routes of the
  user's VirtualService send ``100 - w`` to the stable subset and ``w`` to the canary subset; the
  DestinationRule's subsets get the `rollouts-pod-template-hash` label so each selects its own pods.
* host-level (Argo canaryService/stableService, Flagger's generated VirtualService): the
  destinations are two Services.

A header route is a rule inserted first, named after the step, sending matching requests to the
canary; a mirror adds `mirror` + `mirrorPercentage` to the managed routes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from turnout.kube import errors
from turnout.rollout.engine import HeaderMatch, Routes
from turnout.store.objects import Objects
from turnout.types import Obj

VS = "virtualservices.networking.istio.io"
DR = "destinationrules.networking.istio.io"
HASH_LABEL = "rollouts-pod-template-hash"
HEADER_ROUTE = "turnout-header-route"


@dataclass(frozen=True)
class Destination:
    host: str
    subset: str = ""

    def to_json(self) -> Obj:
        d: Obj = {"host": self.host}
        if self.subset:
            d["subset"] = self.subset
        return d

    def matches(self, dest: Obj) -> bool:
        host = str(dest.get("host", ""))
        same_host = host == self.host or host.split(".")[0] == self.host.split(".")[0]
        return same_host and str(dest.get("subset", "")) == self.subset


@dataclass(frozen=True)
class IstioRoute:
    namespace: str
    virtual_service: str
    stable: Destination
    canary: Destination
    route_names: tuple[str, ...] = ()  # empty: every HTTP route that targets stable or canary
    destination_rule: str = ""
    template: Obj | None = None  # a VirtualService to create when it does not exist (Flagger)
    port: int | None = None


def render_virtual_service(vs: Obj, r: IstioRoute, routes: Routes) -> Obj:
    """The VirtualService ``vs`` with its managed routes set to ``routes`` (pure)."""
    out = copy.deepcopy(vs)
    http = [h for h in (out.get("spec") or {}).get("http") or []
            if h.get("name") != HEADER_ROUTE]
    w = max(0, min(100, routes.weight))
    for h in http:
        if not _managed(h, r):
            continue
        dests = [d for d in h.get("route") or []
                 if not r.stable.matches(d.get("destination") or {})
                 and not r.canary.matches(d.get("destination") or {})]
        h["route"] = [_keep_port(_dest(r.stable, 100 - w, r.port), r.stable, h),
                      _keep_port(_dest(r.canary, w, r.port), r.canary, h), *dests]
        if routes.mirror:
            h["mirror"] = r.canary.to_json()
            h["mirrorPercentage"] = {"value": float(routes.mirror)}
        else:
            h.pop("mirror", None)
            h.pop("mirrorPercentage", None)
    if routes.header:
        http.insert(0, {"name": HEADER_ROUTE,
                        "match": [{"headers": {m.name.lower(): {m.kind: m.value}
                                               for m in routes.header}}],
                        "route": [_dest(r.canary, 100, r.port)]})
    out.setdefault("spec", {})["http"] = http
    return out


def read_routes(vs: Obj, r: IstioRoute) -> Routes:
    weight, mirror = 0, None
    header: tuple[HeaderMatch, ...] = ()
    for h in (vs.get("spec") or {}).get("http") or []:
        if h.get("name") == HEADER_ROUTE:
            heads = ((h.get("match") or [{}])[0].get("headers") or {})
            header = tuple(HeaderMatch(name=k, kind=next(iter(v)), value=str(next(iter(
                v.values())))) for k, v in heads.items() if isinstance(v, dict) and v)
        elif _managed(h, r):
            for d in h.get("route") or []:
                if r.canary.matches(d.get("destination") or {}):
                    weight = int(d.get("weight", 100 if len(h["route"]) == 1 else 0))
            if h.get("mirror"):
                mirror = int((h.get("mirrorPercentage") or {}).get("value", 100))
    return Routes(weight, header, mirror)


def render_destination_rule(dr: Obj, r: IstioRoute, stable_hash: str, canary_hash: str) -> Obj:
    """The DestinationRule with the hash label on the stable and canary subsets (pure)."""
    out = copy.deepcopy(dr)
    for sub in (out.get("spec") or {}).get("subsets") or []:
        h = stable_hash if sub.get("name") == r.stable.subset else \
            canary_hash if sub.get("name") == r.canary.subset else ""
        if h:
            sub.setdefault("labels", {})[HASH_LABEL] = h
    return out


def _managed(h: Obj, r: IstioRoute) -> bool:
    if r.route_names:
        return str(h.get("name", "")) in r.route_names
    return any(r.stable.matches(d.get("destination") or {}) or
               r.canary.matches(d.get("destination") or {}) for d in h.get("route") or [])


def _keep_port(new: Obj, d: Destination, h: Obj) -> Obj:
    """The user's `port` of that destination stays (Argo only changes weights)."""
    if "port" not in new["destination"]:
        for old in h.get("route") or []:
            if d.matches(old.get("destination") or {}) and (old.get("destination") or {}).get(
                    "port"):
                new["destination"]["port"] = copy.deepcopy(old["destination"]["port"])
                break
    return new


def _dest(d: Destination, weight: int, port: int | None) -> Obj:
    dest = d.to_json()
    if port:
        dest["port"] = {"number": port}
    return {"destination": dest, "weight": weight}


class IstioRouter:
    def __init__(self, route: IstioRoute, stable_hash: str = "", canary_hash: str = "") -> None:
        self.route = route
        self.stable_hash = stable_hash
        self.canary_hash = canary_hash

    def _vs(self, objects: Objects) -> Obj | None:
        rt = objects.registry.by_key(VS)
        assert rt is not None
        try:
            return objects.get(rt, self.route.namespace, self.route.virtual_service)
        except errors.ApiError as e:
            if e.code == 404:
                return None
            raise

    def reconcile(self, objects: Objects) -> None:
        rt = objects.registry.by_key(VS)
        assert rt is not None
        if self._vs(objects) is None:
            if self.route.template is None:
                raise errors.not_found("virtualservices", "networking.istio.io",
                                       self.route.virtual_service)
            base = copy.deepcopy(self.route.template)
            objects.create(rt, self.route.namespace,
                           render_virtual_service(base, self.route, Routes(0)))
        if self.route.destination_rule:
            drt = objects.registry.by_key(DR)
            assert drt is not None
            dr = objects.get(drt, self.route.namespace, self.route.destination_rule)
            new = render_destination_rule(dr, self.route, self.stable_hash,
                                          self.canary_hash or self.stable_hash)
            if new != dr:
                objects.update(drt, self.route.namespace, self.route.destination_rule, new)

    def set_routes(self, objects: Objects, routes: Routes) -> None:
        rt = objects.registry.by_key(VS)
        assert rt is not None
        vs = self._vs(objects)
        if vs is None:
            self.reconcile(objects)
            vs = self._vs(objects)
            assert vs is not None
        new = render_virtual_service(vs, self.route, routes)
        if new != vs:
            objects.update(rt, self.route.namespace, self.route.virtual_service, new)

    def get_routes(self, objects: Objects) -> Routes:
        vs = self._vs(objects)
        return read_routes(vs, self.route) if vs is not None else Routes(0)

    def finalize(self, objects: Objects) -> None:
        if self._vs(objects) is not None:
            self.set_routes(objects, Routes(0))
