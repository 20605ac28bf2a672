"""RDS: route tables for pods (kube-proxy or Istio flavour), service listeners and the gateway.

* a pod outside the mesh: one table per namespace, every service reachable by its names and
  ClusterIP, uniform random over ready endpoints, VirtualServices ignored;
* any other host from a pod: passed through to the host named in the request (Istio's
  ALLOW_ANY outbound policy), resolved by DNS, so external HTTP APIs keep working;
* pods in the mesh: one table per namespace and per value of the labels that `sourceLabels`
  look at (per-workload rules work, yet few tables exist: each costs Envoy an inotify watch);
  a service with a VirtualService gets the VS rules (first match wins, no fallback: unmatched
  → 404 NR as in Istio), else a default route with Istio's retries;
* from any pod, the per-pod names of headless Services (`web-0.web:8080`) go to that pod
  (`headless`): Envoy cannot resolve them, they live in the pods' hosts files;
* ClusterIP / NodePort listeners: callers unknown, kube-proxy semantics;
* the Istio ingress gateway: VirtualServices bound to a Gateway selecting it.
"""

from __future__ import annotations

import fnmatch

from turnout.mesh import snapshot as sn
from turnout.mesh.translate import headless, httproute, naming, policy
from turnout.mesh.translate.httproute import RouteContext
from turnout.mesh.translate.registry import Registry, Service, ServicePort, age_key
from turnout.types import Obj


def _kube_route(svc: Service, port: ServicePort) -> Obj:
    return {"name": naming.service_route_name(svc.namespace, svc.name, port.port),
            "match": {"prefix": "/"},
            "route": {"cluster": naming.cluster_name(port.port, "", svc.fqdn, naming.KUBE),
                      "timeout": "0s"}}


def _default_mesh_route(reg: Registry, svc: Service, port: ServicePort) -> Obj:
    action: Obj = {"cluster": naming.cluster_name(port.port, "", svc.fqdn), "timeout": "0s",
                   "retry_policy": httproute.retry_policy(None)}
    hp = policy.hash_policy(policy.effective(reg.destination_rule(svc.fqdn), "", port.port))
    if hp:
        action["hash_policy"] = hp
    return {"name": naming.service_route_name(svc.namespace, svc.name, port.port),
            "match": {"prefix": "/"}, "route": action}


def host_matches(pattern: str, host: str) -> bool:
    return pattern == "*" or pattern == host or (
        pattern.startswith("*") and fnmatch.fnmatchcase(host, pattern))


def _mesh_bound(reg: Registry) -> list[tuple[Obj, list[str]]]:
    """VirtualServices bound to `mesh`, oldest first, with their qualified hosts.

    Computed once per snapshot: every pod's route table asks for every service, and re-sorting
    and re-qualifying per question made translation quadratic in the mesh's size.
    """
    cached: list[tuple[Obj, list[str]]] | None = reg.cache.get("mesh_vs")
    if cached is not None:
        return cached
    out = []
    for vs in sorted(reg.snap.virtual_services, key=age_key):
        spec = vs.get("spec") or {}
        if httproute.MESH not in set(spec.get("gateways") or [httproute.MESH]) and not any(
                httproute.MESH in (m.get("gateways") or [])
                for r in spec.get("http") or [] for m in r.get("match") or []):
            continue
        out.append((vs, [reg.qualify(str(h), sn.namespace_of(vs))
                         for h in spec.get("hosts") or []]))
    reg.cache["mesh_vs"] = out
    return out


def mesh_virtual_services(reg: Registry, svc: Service) -> list[Obj]:
    """VirtualServices (bound to `mesh`) whose hosts cover the service, oldest first."""
    index: tuple[dict[str, list[int]], list[int]] | None = reg.cache.get("mesh_vs_index")
    bound = _mesh_bound(reg)
    if index is None:
        exact: dict[str, list[int]] = {}
        wild: list[int] = []
        for i, (_, hosts) in enumerate(bound):
            for h in hosts:
                if "*" in h:
                    wild.append(i)
                else:
                    exact.setdefault(h, []).append(i)
        index = (exact, wild)
        reg.cache["mesh_vs_index"] = index
    exact, wild = index
    picks = set(exact.get(svc.fqdn, [])) | set(exact.get(svc.cluster_ip or "", []))
    picks |= {i for i in wild if any(host_matches(h, svc.fqdn) for h in bound[i][1])}
    return [bound[i][0] for i in sorted(picks)]


def _vhost(name: str, domains: list[str], routes: list[Obj]) -> Obj:
    return {"name": name, "domains": domains, "routes": routes}


def source_label_keys(reg: Registry) -> frozenset[str]:
    """Label keys any VirtualService's `sourceLabels` looks at."""
    return frozenset(str(k) for vs in reg.snap.virtual_services
                     for r in (vs.get("spec") or {}).get("http") or []
                     for m in r.get("match") or [] for k in (m.get("sourceLabels") or {}))


def table_name(reg: Registry, pod: Obj, keys: frozenset[str] | None = None) -> str:
    """The route table a pod's outbound listener uses (shared by pods that route alike)."""
    ns = sn.namespace_of(pod)
    if not reg.in_mesh(pod):
        return naming.kube_route_config(ns)
    keys = source_label_keys(reg) if keys is None else keys
    labels = sn.labels_of(pod)
    return naming.mesh_route_config(ns, tuple(sorted((k, labels[k]) for k in keys
                                                     if k in labels)))


def pod_table(reg: Registry, pod: Obj, keys: frozenset[str] | None = None) -> Obj:
    """The route table of a pod's outbound listener."""
    ns = sn.namespace_of(pod)
    mesh = reg.in_mesh(pod)
    name = table_name(reg, pod, keys)
    pod_vhosts = _pod_vhosts(reg, ns, mesh)
    taken = {d for vh in pod_vhosts for d in vh["domains"]}
    vhosts = []
    for fqdn in sorted(reg.services):
        svc = reg.services[fqdn]
        for port in svc.ports:
            if not port.http:
                continue
            if not mesh:
                routes = [_kube_route(svc, port)]
            else:
                ctx = RouteContext(port.port, sn.labels_of(pod), ns)
                vss = mesh_virtual_services(reg, svc)
                routes = [r for vs in vss[:1] for r in httproute.vs_routes(reg, vs, ctx)]
                if not vss or not routes:
                    routes = [_default_mesh_route(reg, svc, port)]
            domains = reg.domains(svc, port, ns)
            if taken:
                domains = [d for d in domains if d not in taken] or [f"{fqdn}:{port.port}"]
            vhosts.append(_vhost(f"{fqdn}:{port.port}", domains, routes))
    vhosts += pod_vhosts
    vhosts.append(_vhost("passthrough", ["*"], [{
        "name": naming.PASSTHROUGH_ROUTE, "match": {"prefix": "/"},
        "route": {"cluster": naming.PASSTHROUGH_CLUSTER, "timeout": "0s"}}]))
    return {"name": name, "virtual_hosts": vhosts}


def _pod_vhosts(reg: Registry, ns: str, mesh: bool) -> list[Obj]:
    """Per-pod names of headless Services. Envoy rejects a table whose virtual hosts share a
    domain: `web-0.web` from namespace `wl` is pod `web-0` of Service `web` there, and also
    Service `web-0` of namespace `web`; the pod wins, as the DNS search path (`<ns>.svc.<domain>`
    first) has it, so the caller removes these domains from the Services'."""
    out = []
    taken: set[str] = set()
    for ph in headless.pod_hosts(reg):
        domains = [d for d in ph.domains(ns) if d not in taken]
        if not domains:
            continue
        taken.update(domains)
        action: Obj = {"cluster": ph.cluster, "timeout": "0s"}
        if mesh:
            action["retry_policy"] = httproute.retry_policy(None)
        # the Service's route name: telemetry names the Service from it, the pod from its IP
        route = {"name": naming.service_route_name(ph.service.namespace, ph.service.name,
                                                   ph.port.port),
                 "match": {"prefix": "/"}, "route": action}
        out.append(_vhost(f"{ph.fqdn}:{ph.endpoint.port}", domains, [route]))
    return out


def service_table(svc: Service, port: ServicePort) -> Obj:
    return {"name": naming.service_route_config(svc.namespace, svc.name, port.port),
            "virtual_hosts": [_vhost(f"{svc.fqdn}:{port.port}", ["*"],
                                     [_kube_route(svc, port)])]}


def _gateway_binds(reg: Registry) -> dict[str, list[str]]:
    """`ns/name` of Gateways selecting the ingress gateway → their server hosts on our port."""
    out: dict[str, list[str]] = {}
    labels = reg.settings.gateway_labels
    for gw in reg.snap.gateways:
        spec = gw.get("spec") or {}
        selector = spec.get("selector") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        hosts: list[str] = []
        for server in spec.get("servers") or []:
            port = server.get("port") or {}
            if int(port.get("number") or 0) != reg.settings.gateway_server_port:
                continue
            if str(port.get("protocol") or "HTTP").upper() not in ("HTTP", "HTTP2", "GRPC"):
                continue
            hosts += [str(h).split("/", 1)[-1] for h in server.get("hosts") or []]
        if hosts:
            out[f"{sn.namespace_of(gw)}/{sn.name_of(gw)}"] = hosts
    return out


def gateway_table(reg: Registry) -> Obj:
    binds = _gateway_binds(reg)
    by_host: dict[str, list[Obj]] = {}
    for vs in sorted(reg.snap.virtual_services, key=age_key):
        ns = sn.namespace_of(vs)
        spec = vs.get("spec") or {}
        gws = httproute.qualified_gateways(list(spec.get("gateways") or []), ns)
        gws |= {g for r in spec.get("http") or [] for m in r.get("match") or []
                for g in httproute.qualified_gateways(list(m.get("gateways") or []), ns)}
        for gw in sorted(gws & set(binds)):
            server_hosts = binds[gw]
            ctx = RouteContext(reg.settings.gateway_server_port, reg.settings.gateway_labels,
                               reg.settings.gateway_namespace, gateway=gw)
            routes = httproute.vs_routes(reg, vs, ctx)
            for host in spec.get("hosts") or []:
                h = str(host).lower()
                if any(host_matches(s, h) or host_matches(h, s) for s in server_hosts):
                    by_host.setdefault(h, []).extend(routes)
    vhosts = [_vhost(f"gateway:{h}", [h], by_host[h])
              for h in sorted(by_host, key=lambda h: (h == "*", h))]
    return {"name": naming.GATEWAY_ROUTE_CONFIG, "virtual_hosts": vhosts,
            "ignore_port_in_host_matching": True}
