"""LDS: every address Envoy listens on, each with its access log and its route table (by RDS name).

Per pod `<podIP>:<outbound_port>` (the pod's HTTP_PROXY, so the caller is known), per Service port
`<clusterIP>:<port>` (HTTP via the HTTP connection manager, else tcp_proxy), per NodePort
`<node_address>:<nodePort>`, plus the Istio ingress gateway and the NGINX ingress controller.
Pod, gateway and ingress HCMs name their route table (RDS; `mesh.xds` attaches the source);
ClusterIP/NodePort tables never change for a listener, so they are inline.
"""

from __future__ import annotations

import re

from turnout.mesh import snapshot as sn
from turnout.mesh.translate import accesslog, clusters, naming, routes
from turnout.mesh.translate.httproute import FAULT_FILTER, FAULT_TYPE
from turnout.mesh.translate.registry import Registry
from turnout.types import Obj

LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
HCM = "envoy.filters.network.http_connection_manager"
HCM_TYPE = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
            "HttpConnectionManager")
TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
DFP_TYPE = ("type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3."
            "FilterConfig")
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


def _stat(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name)


def _listener(name: str, ip: str, port: int, filters: list[Obj]) -> Obj:
    # No SO_REUSEPORT (Envoy's default on Linux): with it, a second cluster's Envoy could bind
    # the same address and the kernel would hand it half of this cluster's connections.
    return {"@type": LISTENER_TYPE, "name": name,
            "address": {"socket_address": {"address": ip, "port_value": port}},
            "enable_reuse_port": False,
            "filter_chains": [{"filters": filters}]}


def hcm(route_config: str, stat: str, log: list[Obj]) -> Obj:
    cfg: Obj = {
        "@type": HCM_TYPE, "stat_prefix": _stat(stat),
        "codec_type": "AUTO",  # HTTP/1.1, or HTTP/2 with prior knowledge (gRPC clients, h2c)
        "rds": {"route_config_name": route_config},
        "http_filters": [
            {"name": FAULT_FILTER, "typed_config": {"@type": FAULT_TYPE}},
            {"name": "envoy.filters.http.dynamic_forward_proxy",
             "typed_config": {"@type": DFP_TYPE, "dns_cache_config": clusters.DNS_CACHE}},
            {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}},
        ],
        "access_log": log,
        "normalize_path": True,
        "merge_slashes": True,
    }
    return {"name": HCM, "typed_config": cfg}


def hcm_inline(table: Obj, stat: str, log: list[Obj]) -> Obj:
    """An HCM with its (never changing) route table inline: no RDS subscription needed."""
    out = hcm(table["name"], stat, log)
    del out["typed_config"]["rds"]
    out["typed_config"]["route_config"] = table
    return out


def _tcp(cluster: str, stat: str, log: list[Obj]) -> Obj:
    return {"name": "envoy.filters.network.tcp_proxy",
            "typed_config": {"@type": TCP_PROXY_TYPE, "stat_prefix": _stat(stat),
                             "cluster": cluster, "access_log": log}}


def pod_listeners(reg: Registry) -> list[Obj]:
    s, out = reg.settings, []
    keys = routes.source_label_keys(reg)
    for pod in reg.pods:
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            continue
        ns, name = sn.namespace_of(pod), sn.name_of(pod)
        lname = naming.pod_listener(ns, name)
        table = routes.table_name(reg, pod, keys)
        log = accesslog.access_log(s.access_log_path, "pod", ns, name, lname)
        out.append(_listener(lname, sn.pod_ip(pod), s.outbound_port, [hcm(table, lname, log)]))
    return out


def service_listeners(reg: Registry) -> list[Obj]:
    s, out = reg.settings, []
    for fqdn in sorted(reg.services):
        svc = reg.services[fqdn]
        for port in svc.ports:
            kube = naming.cluster_name(port.port, "", fqdn, naming.KUBE)
            addrs = []
            if svc.cluster_ip:
                addrs.append(("service", naming.service_listener(svc.namespace, svc.name,
                                                                 port.port),
                              svc.cluster_ip, port.port))
            if port.node_port and not reg.is_builtin(svc):
                addrs.append(("nodeport", naming.nodeport_listener(svc.namespace, svc.name,
                                                                   port.node_port),
                              s.node_address, s.host_port(port.node_port)))
            for kind, lname, ip, number in addrs:
                log = accesslog.access_log(s.access_log_path, kind, svc.namespace, svc.name,
                                           lname, http=port.http)
                f = (hcm_inline(routes.service_table(svc, port), lname, log) if port.http
                     else _tcp(kube, lname, log))
                out.append(_listener(lname, ip, number, [f]))
    return out


def builtin_listeners(reg: Registry) -> list[Obj]:
    s, out = reg.settings, []
    if s.gateway_node_port:
        log = accesslog.access_log(s.access_log_path, "gateway", s.gateway_namespace,
                                   s.gateway_service, naming.GATEWAY_LISTENER)
        out.append(_listener(naming.GATEWAY_LISTENER, s.node_address,
                             s.host_port(s.gateway_node_port),
                             [hcm(naming.GATEWAY_ROUTE_CONFIG, "gateway", log)]))
    if s.nginx_node_port:
        log = accesslog.access_log(s.access_log_path, "ingress", s.nginx_namespace,
                                   s.nginx_service, naming.NGINX_LISTENER)
        out.append(_listener(naming.NGINX_LISTENER, s.node_address,
                             s.host_port(s.nginx_node_port),
                             [hcm(naming.NGINX_ROUTE_CONFIG, "ingress_nginx", log)]))
    return out


def build(reg: Registry) -> list[Obj]:
    seen: set[tuple[str, int]] = set()
    out = []
    for lis in builtin_listeners(reg) + pod_listeners(reg) + service_listeners(reg):
        sa = lis["address"]["socket_address"]
        key = (sa["address"], sa["port_value"])
        if key in seen:  # two objects claiming one address: first wins, Envoy would reject all
            continue
        seen.add(key)
        out.append(lis)
    return out
