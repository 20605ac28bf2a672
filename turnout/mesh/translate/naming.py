"""Every name the generated Envoy config uses, from one place, so routes and clusters always agree.

Cluster names follow Istio: `<direction>|<port>|<subset>|<fqdn>`, e.g.
`outbound|5002|v2|advertisements.ns3.svc.cluster.local`. Direction `outbound` is the Istio (mesh)
flavour of a service; `kube` is the same service with kube-proxy semantics (random, no policies).

Route names (the `route_name` of an access log line) encode where the rule came from:
`vs/<ns>/<name>/<rule index>`, `svc/<ns>/<service>/<port>` (default route of a service),
`ingress/<ns>/<name>/<rule>/<path>`, `ingress-canary/<ns>/<name>/<rule>/<path>/<how>`,
`ingress-default/<ns>/<name>`, `passthrough` (a host that is no Service, sent on as addressed).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

OUTBOUND = "outbound"
KUBE = "kube"


def fqdn(name: str, namespace: str, domain: str = "cluster.local") -> str:
    return f"{name}.{namespace}.svc.{domain}"


def cluster_name(port: int, subset: str, host: str, direction: str = OUTBOUND) -> str:
    """THE cluster naming function: `outbound|5002|v1|advertisements.ns3.svc.cluster.local`."""
    return f"{direction}|{port}|{subset}|{host}"


@dataclass(frozen=True)
class ClusterKey:
    direction: str
    port: int
    subset: str
    host: str


def parse_cluster_name(name: str) -> ClusterKey | None:
    parts = name.split("|")
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    return ClusterKey(parts[0], int(parts[1]), parts[2], parts[3])


def vs_route_name(namespace: str, name: str, index: int) -> str:
    return f"vs/{namespace}/{name}/{index}"


def service_route_name(namespace: str, service: str, port: int) -> str:
    return f"svc/{namespace}/{service}/{port}"


def ingress_route_name(namespace: str, name: str, rule: int, path: int) -> str:
    return f"ingress/{namespace}/{name}/{rule}/{path}"


def ingress_canary_route_name(namespace: str, name: str, rule: int, path: int, how: str) -> str:
    return f"ingress-canary/{namespace}/{name}/{rule}/{path}/{how}"


def ingress_default_route_name(namespace: str, name: str) -> str:
    return f"ingress-default/{namespace}/{name}"


# Route configurations (RDS resources) and listeners.

def mesh_route_config(namespace: str, source_labels: tuple[tuple[str, str], ...]) -> str:
    """Mesh pods share a table per namespace and per value of the labels `sourceLabels` use."""
    suffix = ",".join(f"{k}={v}" for k, v in source_labels)
    return f"mesh/{namespace}" + (f"/{suffix}" if suffix else "")


def kube_route_config(namespace: str) -> str:
    """Pods outside the mesh share one table per namespace (short names are per namespace)."""
    return f"kube/{namespace}"


def service_route_config(namespace: str, service: str, port: int) -> str:
    """ClusterIP and NodePort listeners (inline tables): callers unknown, kube-proxy semantics."""
    return f"service/{namespace}/{service}/{port}"


PASSTHROUGH_CLUSTER = "PassthroughCluster"
PASSTHROUGH_ROUTE = "passthrough"

GATEWAY_ROUTE_CONFIG = "gateway/istio-ingressgateway"
NGINX_ROUTE_CONFIG = "ingress/nginx"


def pod_listener(namespace: str, pod: str) -> str:
    return f"pod/{namespace}/{pod}"


def service_listener(namespace: str, service: str, port: int) -> str:
    return f"service/{namespace}/{service}/{port}"


def nodeport_listener(namespace: str, service: str, node_port: int) -> str:
    return f"nodeport/{namespace}/{service}/{node_port}"


GATEWAY_LISTENER = "gateway/istio-system/istio-ingressgateway"
NGINX_LISTENER = "ingress/ingress-nginx/ingress-nginx-controller"


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def file_slug(resource_name: str) -> str:
    """A directory-safe, collision-free name for one resource's xDS file."""
    digest = hashlib.sha1(resource_name.encode()).hexdigest()[:10]
    return f"{_UNSAFE.sub('_', resource_name)[:80]}-{digest}"
