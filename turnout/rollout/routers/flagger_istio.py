"""Flagger's Istio router: the `<svc>` VirtualService, rendered whole for every traffic split.

Why this exists: Flagger owns the apex VirtualService and re-renders all of it on each change
(pkg/router/istio.go): hosts (`service.hosts` plus the apex unless `*` is there), gateways
(`service.gateways`, else `mesh`), one HTTP route carrying `service.match`, `rewrite`,
`retries`, `timeout`, `headers`, `corsPolicy` to `<svc>-primary` / `<svc>-canary` by weight; with
`analysis.match` a header route first and a primary-only route after it; a mirror; session
affinity's cookie routes; and for `service.delegation` a delegate VirtualService with no hosts
or gateways; DestinationRules `<svc>-primary` / `<svc>-canary` carry `service.trafficPolicy`.
A VirtualService that already exists under that name is taken over: its spec is replaced, the
original kept (kubectl's last-applied annotation, else
`flagger.kubernetes.io/original-configuration`) so ``finalize`` can restore it.

Header names in generated matches are lower case (`cookie`), as turnout's admission wants;
Envoy matches header names without regard to case, so routing is Flagger's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass

from turnout.kube import errors
from turnout.rollout import flagger
from turnout.rollout.engine import HeaderMatch, Routes
from turnout.store.objects import Objects
from turnout.types import Obj

VS = "virtualservices.networking.istio.io"
DR = "destinationrules.networking.istio.io"
ORIGINAL = "flagger.kubernetes.io/original-configuration"
_ROUTE_KEYS = ("timeout", "retries", "corsPolicy", "headers")


@dataclass(frozen=True)
class Cookies:
    """Session-affinity cookies (`<name>=<value>`), kept in the Canary's status."""

    canary: str = ""
    primary: str = ""
    previous: str = ""

    def to_status(self) -> Obj:
        return {k: v for k, v in (("sessionAffinityCookie", self.canary),
                                  ("primarySessionAffinityCookie", self.primary),
                                  ("previousSessionAffinityCookie", self.previous)) if v}

    @classmethod
    def from_status(cls, st: Obj) -> Cookies:
        return cls(str(st.get("sessionAffinityCookie") or ""),
                   str(st.get("primarySessionAffinityCookie") or ""),
                   str(st.get("previousSessionAffinityCookie") or ""))


def next_cookies(spec: Obj, weight: int, c: Cookies, fresh: Callable[[], str]) -> Cookies:
    """While the canary has traffic it has a cookie (and the primary one, if named); at weight 0
    the canary's cookie becomes the previous one, which the next render expires."""
    aff = flagger.analysis(spec).get("sessionAffinity")
    if not aff:
        return c
    if weight > 0:
        primary = c.primary or (f"{aff['primaryCookieName']}={fresh()}"
                                if aff.get("primaryCookieName") else "")
        return Cookies(c.canary or f"{aff['cookieName']}={fresh()}", primary, c.previous)
    return Cookies("", c.primary, c.canary or c.previous)


def build_cookie(aff: Obj, cookie: str, max_age: int) -> str:
    out = f"{cookie}; Max-Age={max_age}"
    if aff.get("domain"):
        out += f"; Domain={aff['domain']}"
    for flag, word in (("httpOnly", "HttpOnly"), ("partitioned", "Partitioned")):
        if aff.get(flag):
            out += f"; {word}"
    for key, word in (("path", "Path"), ("sameSite", "SameSite")):
        if aff.get(key):
            out += f"; {word}={aff[key]}"
    if aff.get("secure"):
        out += "; Secure"
    return out


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


def _cookie_match(cookie: str) -> Obj:
    name, _, value = cookie.partition("=")
    return {"headers": {"cookie": {"regex": f".*{name}.*{value}.*"}}}


def render_spec(canary: Obj, routes: Routes, cookies: Cookies = Cookies()) -> Obj:
    """The VirtualService spec Flagger writes for ``routes`` (pure)."""
    spec = canary.get("spec") or {}
    svc = spec.get("service") or {}
    a = flagger.analysis(spec)
    n = flagger.names(canary)
    hosts = [str(h) for h in svc.get("hosts") or []]
    if not any(h in (n.apex, "*") for h in hosts):
        hosts.append(n.apex)
    gateways = [str(g) for g in svc.get("gateways") or []] or ["mesh"]
    delegate = bool(svc.get("delegation"))
    with_port = bool(svc.get("portDiscovery")) and (
        (bool(svc.get("gateways")) and svc["gateways"][0] != "mesh") or delegate)

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
    aff = a.get("sessionAffinity")
    if aff:
        http = _affinity(aff, base, weighted, w, cookies, dest, flagger.interval(spec), n)
    if routes.mirror:
        http[0]["mirror"] = {"host": n.canary_service}
        if a.get("mirrorWeight"):
            http[0]["mirrorPercentage"] = {"value": float(a["mirrorWeight"])}
    if a.get("match"):
        ab = 100 if routes.header else w
        http = [{**copy.deepcopy(base), "match": _merge(a["match"], svc.get("match") or []),
                 "route": [dest(n.primary_service, 100 - ab), dest(n.canary_service, ab)]},
                {**copy.deepcopy(base), "route": [dest(n.primary_service, 100)]}]
    out: Obj = {"hosts": [] if delegate else hosts, "gateways": [] if delegate else gateways,
                "http": http}
    return out


def _affinity(aff: Obj, base: Obj, weighted: Obj, w: int, c: Cookies,
              dest: Callable[[str, int], Obj], interval: float, n: flagger.Names) -> list[Obj]:
    """Session affinity (getSessionAffinityRouteRules): responses of the canary set its cookie,
    requests that carry it stick to the canary; at weight 0 the previous cookie is expired."""
    svc_match = base.get("match") or []
    if w > 0 and c.canary:
        for d in weighted["route"]:
            host = d["destination"]["host"]
            if host == n.canary_service:
                cookie = build_cookie(aff, c.canary, int(aff.get("maxAge") or 86400))
            elif host == n.primary_service and aff.get("primaryCookieName") and c.primary:
                cookie = build_cookie(aff, c.primary, int(interval))
            else:
                continue
            d["headers"] = {"response": {"add": {"Set-Cookie": cookie}}}
        sticky = {**copy.deepcopy(base), "match": _merge([_cookie_match(c.canary)], svc_match),
                  "route": [dest(n.primary_service, 0), dest(n.canary_service, 100)]}
        rules = [sticky]
        if aff.get("primaryCookieName") and c.primary:
            rules.append({**copy.deepcopy(base),
                          "match": _merge([_cookie_match(c.primary)], svc_match),
                          "route": [dest(n.primary_service, 100), dest(n.canary_service, 0)]})
        return [*rules, weighted]
    if c.previous:
        expire = copy.deepcopy(weighted)
        expire["match"] = _merge([_cookie_match(c.previous)], svc_match)
        heads = expire.setdefault("headers", {}).setdefault("response", {})
        heads.setdefault("add", {})["Set-Cookie"] = f"{c.previous}; Max-Age=-1"
        return [expire, weighted]
    return [weighted]


def read_routes(vs: Obj, canary: Obj) -> Routes:
    """The canary weight the VirtualService implements (the route without a cookie match)."""
    n = flagger.names(canary)
    match = flagger.analysis(canary.get("spec") or {}).get("match")
    for h in (vs.get("spec") or {}).get("http") or []:
        conds = h.get("match") or []
        if any("cookie" in (c.get("headers") or {}) for c in conds) and not match:
            continue
        for d in h.get("route") or []:
            if d.get("destination", {}).get("host") == n.canary_service:
                w = int(d.get("weight", 0))
                if match:
                    return Routes(0, (HeaderMatch("", ""),) if w == 100 else ())
                return Routes(w, (), 100 if h.get("mirror") else None)
    return Routes(0)


class FlaggerIstioRouter:
    def __init__(self, canary: Obj, cookies: Cookies = Cookies()) -> None:
        self.canary = canary
        self.cookies = cookies
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
        spec = render_spec(self.canary, routes, self.cookies)
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
        """Give a taken-over VirtualService its own spec back (revertOnDeletion)."""
        vs = self._get(objects)
        if vs is None or flagger.owned_by(vs, self.canary):
            return
        ann = vs["metadata"].get("annotations") or {}
        try:
            if flagger.LAST_APPLIED in ann:
                spec = json.loads(ann[flagger.LAST_APPLIED]).get("spec") or {}
            elif ORIGINAL in ann:
                spec = json.loads(ann[ORIGINAL])
            else:
                return
        except ValueError as e:
            raise ValueError(f"VirtualService {self.names.namespace}/{self.names.apex}: "
                             f"metadata.annotations: the original spec is not JSON ({e})"
                             ) from None
        new = copy.deepcopy(vs)
        new["spec"] = spec
        new["metadata"]["annotations"] = {k: v for k, v in ann.items() if k != ORIGINAL}
        rt = objects.registry.by_key(VS)
        assert rt is not None
        objects.update(rt, self.names.namespace, self.names.apex, new)
