"""Kubernetes Ingress → routes of the built-in NGINX ingress controller, with NGINX semantics.

Covered: host rules (exact and `*.` wildcard), pathType Exact / Prefix (path-element prefix) /
ImplementationSpecific (string prefix), longest path first, a default backend,
`nginx.ingress.kubernetes.io/rewrite-target` (NGINX replaces the whole URI when the path regex
matches; no rewrite when target equals the path), and canary Ingresses for the same host and path
with NGINX's precedence: canary-by-header, then canary-by-cookie, then canary-weight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from turnout.mesh import snapshot as sn
from turnout.mesh.translate import naming
from turnout.mesh.translate.registry import Registry
from turnout.types import Obj

ANN = "nginx.ingress.kubernetes.io/"


@dataclass(frozen=True)
class PathRule:
    ingress: Obj
    rule_index: int
    path_index: int
    host: str
    path: str
    path_type: str
    backend: Obj


def _is_nginx(ing: Obj, ingress_class: str) -> bool:
    cls = (ing.get("spec") or {}).get("ingressClassName") or sn.annotations_of(ing).get(
        "kubernetes.io/ingress.class")
    return cls in (None, "", ingress_class)


def _paths(ing: Obj) -> list[PathRule]:
    out = []
    for ri, rule in enumerate((ing.get("spec") or {}).get("rules") or []):
        host = str(rule.get("host") or "*")
        for pi, p in enumerate((rule.get("http") or {}).get("paths") or []):
            out.append(PathRule(ing, ri, pi, host, str(p.get("path") or "/"),
                                str(p.get("pathType") or "ImplementationSpecific"),
                                p.get("backend") or {}))
    return out


def _cluster(reg: Registry, backend: Obj, ns: str) -> str:
    svc = backend.get("service") or {}
    name = str(svc.get("name") or backend.get("serviceName") or "")
    port = svc.get("port") or {}
    number = int(port.get("number") or 0) if isinstance(port, dict) else 0
    fq = naming.fqdn(name, ns, reg.domain)
    service = reg.services.get(fq)
    if service and not number:
        pname = port.get("name") if isinstance(port, dict) else None
        match = next((p for p in service.ports if p.name == pname), None)
        number = match.port if match else service.ports[0].port if service.ports else 80
    if not number and backend.get("servicePort"):
        number = int(backend["servicePort"])
    return naming.cluster_name(number or 80, "", fq, naming.KUBE)


def _match(pr: PathRule) -> Obj:
    if pr.path_type == "Exact":
        return {"path": pr.path}
    if pr.path_type == "Prefix" and pr.path.rstrip("/"):
        return {"path_separated_prefix": pr.path.rstrip("/")}
    return {"prefix": pr.path}


def _rewrite(pr: PathRule) -> Obj:
    target = sn.annotations_of(pr.ingress).get(ANN + "rewrite-target")
    if not target or target == pr.path:
        return {}
    substitution = re.sub(r"\$(\d)", r"\\\1", target)
    return {"regex_rewrite": {"pattern": {"regex": f"^.*?(?:{pr.path}).*$"},
                              "substitution": substitution}}


def _canary_routes(reg: Registry, main: PathRule, canary: PathRule, main_cluster: str) -> list[Obj]:
    ann = sn.annotations_of(canary.ingress)
    ns, name = sn.namespace_of(canary.ingress), sn.name_of(canary.ingress)
    cl = _cluster(reg, canary.backend, ns)
    base = _match(main)
    action = {"timeout": "60s", **_rewrite(main)}

    def route(how: str, extra: Obj, cluster: str) -> Obj:
        return {"name": naming.ingress_canary_route_name(ns, name, canary.rule_index,
                                                          canary.path_index, how),
                "match": {**base, **extra}, "route": {"cluster": cluster, **action}}

    out = []
    header = ann.get(ANN + "canary-by-header")
    if header:
        value = ann.get(ANN + "canary-by-header-value")
        pattern = ann.get(ANN + "canary-by-header-pattern")
        if value:
            out.append(route("header", {"headers": [
                {"name": header.lower(), "string_match": {"exact": value}}]}, cl))
        elif pattern:
            out.append(route("header", {"headers": [
                {"name": header.lower(), "string_match": {"safe_regex": {"regex": pattern}}}]},
                cl))
        else:
            out.append(route("header", {"headers": [
                {"name": header.lower(), "string_match": {"exact": "always"}}]}, cl))
            out.append(route("header-never", {"headers": [
                {"name": header.lower(), "string_match": {"exact": "never"}}]}, main_cluster))
    cookie = ann.get(ANN + "canary-by-cookie")
    if cookie:
        for val, how, target in (("always", "cookie", cl), ("never", "cookie-never", main_cluster)):
            rx = f"(^|.*;\\s*){re.escape(cookie)}={val}(;.*|$)"
            out.append(route(how, {"headers": [
                {"name": "cookie", "string_match": {"safe_regex": {"regex": rx}}}]}, target))
    weight = int(ann.get(ANN + "canary-weight") or 0)
    total = int(ann.get(ANN + "canary-weight-total") or 100)
    if weight > 0:
        weight = min(weight, total)
        clusters = [{"name": cl, "weight": weight}]
        if total - weight > 0:
            clusters.insert(0, {"name": main_cluster, "weight": total - weight})
        out.append({"name": naming.ingress_canary_route_name(ns, name, canary.rule_index,
                                                              canary.path_index, "weight"),
                    "match": dict(base),
                    "route": {"weighted_clusters": {"clusters": clusters}, **action}})
    return out


def _order(pr: PathRule) -> tuple[int, int]:
    return (0 if pr.path_type == "Exact" else 1, -len(pr.path))


def route_config(reg: Registry) -> Obj:
    ings = sorted((i for i in reg.snap.ingresses if _is_nginx(i, reg.settings.nginx_ingress_class)),
                  key=lambda i: (sn.namespace_of(i), sn.name_of(i)))
    mains = [i for i in ings if sn.annotations_of(i).get(ANN + "canary", "").lower() != "true"]
    canaries = [i for i in ings if i not in mains]
    canary_paths = [pr for c in canaries for pr in _paths(c)]
    by_host: dict[str, list[Obj]] = {}
    paths = sorted((pr for m in mains for pr in _paths(m)), key=_order)
    for pr in paths:
        ns = sn.namespace_of(pr.ingress)
        cluster = _cluster(reg, pr.backend, ns)
        routes = by_host.setdefault(pr.host, [])
        # as ingress-nginx merges alternative backends: same host and path, any namespace
        # (the lab's step 9 puts the canary Ingress in ns2 beside ns1's main one)
        canary = next((c for c in canary_paths if c.host == pr.host and c.path == pr.path),
                      None)
        if canary:
            routes.extend(_canary_routes(reg, pr, canary, cluster))
        routes.append({"name": naming.ingress_route_name(ns, sn.name_of(pr.ingress),
                                                         pr.rule_index, pr.path_index),
                       "match": _match(pr),
                       "route": {"cluster": cluster, "timeout": "60s", **_rewrite(pr)}})
    for m in mains:
        default = (m.get("spec") or {}).get("defaultBackend")
        if isinstance(default, dict):
            by_host.setdefault("*", []).append({
                "name": naming.ingress_default_route_name(sn.namespace_of(m), sn.name_of(m)),
                "match": {"prefix": "/"},
                "route": {"cluster": _cluster(reg, default, sn.namespace_of(m)),
                          "timeout": "60s"}})
    vhosts = []
    for host in sorted(by_host, key=lambda h: (h == "*", h)):
        vhosts.append({"name": f"ingress:{host}", "domains": [host], "routes": by_host[host]})
    return {"name": naming.NGINX_ROUTE_CONFIG, "virtual_hosts": vhosts,
            "ignore_port_in_host_matching": True}
