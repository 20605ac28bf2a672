"""Printers for Service, Endpoints, EndpointSlice, Ingress, IngressClass and NetworkPolicy.

`PORT(S)` (`80:30001/TCP`), `EXTERNAL-IP` (`<none>`, `<pending>`) and the endpoint lists are
formatted as kube-apiserver formats them. Pure, no I/O.
"""

from __future__ import annotations

from datetime import datetime

from turnout.kube.printers.common import (
    AGE,
    NAME,
    Cells,
    Printer,
    age,
    as_int,
    as_list,
    col,
    dig,
    field,
    format_label_selector,
    format_labels,
    list_with_more,
    name,
    spec,
    status,
)
from turnout.types import Obj


def _lb_ingress(ingress: object) -> str:
    """IPs (or hostnames) of a load-balancer status, de-duplicated, in first-seen order."""
    seen: list[str] = []
    for i in as_list(ingress):
        if not isinstance(i, dict):
            continue
        v = i.get("ip") or i.get("hostname")
        if v and v not in seen:
            seen.append(str(v))
    return ",".join(seen)


def external_ip(svc: Obj) -> str:
    sp = spec(svc)
    kind = sp.get("type") or "ClusterIP"
    ext = [str(x) for x in as_list(sp.get("externalIPs"))]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else "<none>"
    if kind == "LoadBalancer":
        lb = _lb_ingress(dig(svc, "status", "loadBalancer", "ingress"))
        if ext:
            return ",".join(([*lb.split(",")] if lb else []) + ext)
        return lb or "<pending>"
    if kind == "ExternalName":
        return str(sp.get("externalName", ""))
    return "<unknown>"


def port_string(ports: object) -> str:
    pieces = []
    for p in as_list(ports):
        if not isinstance(p, dict):
            continue
        proto = p.get("protocol") or "TCP"
        if as_int(p.get("nodePort")) > 0:
            pieces.append(f"{as_int(p.get('port'))}:{as_int(p.get('nodePort'))}/{proto}")
        else:
            pieces.append(f"{as_int(p.get('port'))}/{proto}")
    return ",".join(pieces)


def service_row(svc: Obj, now: datetime) -> Cells:
    sp = spec(svc)
    ips = [str(x) for x in as_list(sp.get("clusterIPs"))]
    cluster_ip = ips[0] if ips else (sp.get("clusterIP") or "<none>")
    return [name(svc), sp.get("type") or "ClusterIP", cluster_ip, external_ip(svc),
            port_string(sp.get("ports")) or "<none>", age(svc, now),
            format_labels(sp.get("selector"))]


SERVICE = Printer(
    columns=(
        NAME,
        col("Type", "string", field("ServiceSpec.type")),
        col("Cluster-IP", "string", field("ServiceSpec.clusterIP")),
        col("External-IP", "string", field("ServiceSpec.externalIPs")),
        col("Port(s)", "string", field("ServiceSpec.ports")),
        AGE,
        col("Selector", "string", field("ServiceSpec.selector"), priority=1),
    ),
    row=service_row,
)


def format_endpoints(ep: Obj) -> str:
    subsets = [s for s in as_list(ep.get("subsets")) if isinstance(s, dict)]
    if not subsets:
        return "<none>"
    entries: list[str] = []
    for ss in subsets:
        addrs = [str(a.get("ip", "")) for a in as_list(ss.get("addresses")) if isinstance(a, dict)]
        ports = [p for p in as_list(ss.get("ports")) if isinstance(p, dict)]
        if not ports:
            entries.extend(addrs)  # headless services with no ports
            continue
        for p in ports:
            for ip in addrs:
                host = f"[{ip}]" if ":" in ip else ip
                entries.append(f"{host}:{as_int(p.get('port'))}")
    return list_with_more(entries, 3, empty="")


ENDPOINTS = Printer(
    columns=(NAME, col("Endpoints", "string", field("Endpoints.subsets")), AGE),
    row=lambda obj, now: [name(obj), format_endpoints(obj), age(obj, now)],
)


def endpointslice_row(obj: Obj, now: datetime) -> Cells:
    ports = []
    for p in as_list(obj.get("ports")):
        if not isinstance(p, dict):
            continue
        if p.get("port") is not None:
            ports.append(str(as_int(p["port"])))
        elif p.get("name") is not None:
            ports.append(str(p["name"]))
        else:
            ports.append("*")
    addrs = [str(a) for e in as_list(obj.get("endpoints")) if isinstance(e, dict)
             for a in as_list(e.get("addresses"))]
    return [name(obj), str(obj.get("addressType", "")), list_with_more(ports, 3, empty="<unset>"),
            list_with_more(addrs, 3, empty="<unset>"), age(obj, now)]


ENDPOINTSLICE = Printer(
    columns=(
        NAME,
        col("AddressType", "string", field("EndpointSlice.addressType")),
        col("Ports", "string", field("EndpointSlice.ports")),
        col("Endpoints", "string", field("EndpointSlice.endpoints")),
        AGE,
    ),
    row=endpointslice_row,
)


def ingress_hosts(rules: object) -> str:
    rs = [r for r in as_list(rules) if isinstance(r, dict)]
    hosts: list[str] = []
    more = False
    for r in rs:
        if len(hosts) == 3:
            more = True
        if not more and r.get("host"):
            hosts.append(str(r["host"]))
    if not hosts:
        return "*"
    if more:
        return f"{','.join(hosts)} + {len(rs) - 3} more..."
    return ",".join(hosts)


def ingress_row(obj: Obj, now: datetime) -> Cells:
    sp = spec(obj)
    return [name(obj), sp.get("ingressClassName") or "<none>", ingress_hosts(sp.get("rules")),
            _lb_ingress(dig(status(obj), "loadBalancer", "ingress")),
            "80, 443" if as_list(sp.get("tls")) else "80", age(obj, now)]


INGRESS = Printer(
    columns=(
        NAME,
        col("Class", "string", "The name of the IngressClass resource that should be used for "
            "additional configuration"),
        col("Hosts", "string",
            "Hosts that incoming requests are matched against before the ingress rule"),
        col("Address", "string",
            "Address is a list containing ingress points for the load-balancer"),
        col("Ports", "string", "Ports of TLS configurations that open"),
        AGE,
    ),
    row=ingress_row,
)


def ingressclass_row(obj: Obj, now: datetime) -> Cells:
    sp = spec(obj)
    params = "<none>"
    p = sp.get("parameters")
    if isinstance(p, dict):
        params = str(p.get("kind", ""))
        if p.get("apiGroup") is not None:
            params += "." + str(p["apiGroup"])
        params += "/" + str(p.get("name", ""))
    return [name(obj), str(sp.get("controller", "")), params, age(obj, now)]


INGRESSCLASS = Printer(
    columns=(
        NAME,
        col("Controller", "string", "Controller that is responsible for handling this class"),
        col("Parameters", "string", "A reference to a resource with additional parameters"),
        AGE,
    ),
    row=ingressclass_row,
)

NETWORKPOLICY = Printer(
    columns=(NAME, col("Pod-Selector", "string", field("NetworkPolicySpec.podSelector")), AGE),
    row=lambda obj, now: [name(obj), format_label_selector(spec(obj).get("podSelector") or {}),
                          age(obj, now)],
)

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Service"): SERVICE,
    ("", "Endpoints"): ENDPOINTS,
    ("discovery.k8s.io", "EndpointSlice"): ENDPOINTSLICE,
    ("networking.k8s.io", "Ingress"): INGRESS,
    ("networking.k8s.io", "IngressClass"): INGRESSCLASS,
    ("networking.k8s.io", "NetworkPolicy"): NETWORKPOLICY,
}
