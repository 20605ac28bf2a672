"""The service registry translation works from: services, their ports and ready endpoints.

Pure: derives from the snapshot what kube-proxy and istiod would (Endpoints from selectors and
ready pods, named targetPorts resolved against container ports, host names resolved relative to a
namespace, the DestinationRule that governs a host).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from turnout.mesh import snapshot as sn
from turnout.mesh.translate import naming
from turnout.types import Obj

TCP_NAME_PREFIXES = ("tcp", "tls", "https", "mongo", "mysql", "postgres", "redis", "grpc-web-tcp",
                     "amqp", "kafka", "zookeeper", "cassandra", "memcache", "nats", "mqtt")
TCP_PORTS = frozenset({5432, 3306, 6379, 27017, 9042, 11211, 5672, 9092, 2181, 4222, 1883, 443})
HTTP_NAME_PREFIXES = ("http", "http2", "grpc", "h2c")
HTTP2_PROTOCOLS = frozenset({"http2", "grpc", "h2c", "kubernetes.io/h2c"})


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target: int | str
    http: bool
    node_port: int | None = None
    http2: bool = False
    """gRPC / HTTP/2 port: Envoy speaks HTTP/2 to its endpoints, as Istio does."""


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    pod_name: str
    namespace: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    fqdn: str
    cluster_ip: str
    ports: tuple[ServicePort, ...]
    selector: Mapping[str, str]
    headless: bool = False
    """`clusterIP: None`: names resolve to the pods, and each pod has its own name."""
    publish_not_ready: bool = False
    """`publishNotReadyAddresses`: pods count as endpoints before they are ready."""

    def port(self, number: int) -> ServicePort | None:
        return next((p for p in self.ports if p.port == number), None)


def is_http_port(port: Obj) -> bool:
    """Istio protocol selection: appProtocol, then the port name prefix; else by well-known port."""
    app = str(port.get("appProtocol") or "").lower()
    name = str(port.get("name") or "").lower()
    for hint in (app, name.split("-")[0] if name else ""):
        if not hint:
            continue
        if hint.startswith(HTTP_NAME_PREFIXES) and not hint.startswith("https"):
            return True
        if hint.startswith(TCP_NAME_PREFIXES):
            return False
    if str(port.get("protocol") or "TCP").upper() not in ("TCP", ""):
        return False
    return int(port.get("port") or 0) not in TCP_PORTS


def is_http2_port(port: Obj) -> bool:
    """Istio's HTTP2 and GRPC protocols (also `h2c`): appProtocol if set, else the port name, up
    to its first `-` (`grpc-api`, `http2-web`); `grpc-web…` is HTTP/1 and `kubernetes.io/h2c`
    HTTP/2, as istio's ConvertProtocol has them."""
    hint = str(port.get("appProtocol") or port.get("name") or "").lower()
    if hint.startswith("grpc-web"):
        return False
    return hint in HTTP2_PROTOCOLS or hint.split("-")[0] in HTTP2_PROTOCOLS


def _service(obj: Obj, domain: str) -> Service:
    spec = obj.get("spec") or {}
    name, ns = sn.name_of(obj), sn.namespace_of(obj)
    ports = []
    for p in spec.get("ports") or []:
        number = int(p.get("port") or 0)
        if not 0 < number < 65536:  # invalid objects must not take the whole config down
            continue
        target = p.get("targetPort", number)
        target_v: int | str = int(target) if str(target).isdigit() else str(target)
        node = p.get("nodePort")
        ports.append(ServicePort(str(p.get("name") or ""), number, target_v, is_http_port(p),
                                 int(node) if node else None, is_http2_port(p)))
    cip = str(spec.get("clusterIP") or "")
    headless = cip.lower() == "none"
    return Service(name, ns, naming.fqdn(name, ns, domain), "" if headless else cip,
                   tuple(ports), dict(spec.get("selector") or {}), headless,
                   bool(spec.get("publishNotReadyAddresses")))


def _container_port(pod: Obj, name: str) -> int | None:
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == name:
                return int(p["containerPort"])
    return None


class Registry:
    """Lookups over one snapshot."""

    def __init__(self, snap: sn.Snapshot) -> None:
        self.snap = snap
        self.settings = snap.settings
        self.domain = snap.settings.cluster_domain
        self.injected = sn.injected_namespaces(snap)
        self.services: dict[str, Service] = {}
        for obj in snap.services:
            svc = _service(obj, self.domain)
            self.services[svc.fqdn] = svc
        self.pods = [p for p in snap.pods if sn.pod_ip(p)]
        self.ready_pods = [p for p in self.pods if sn.pod_ready(p)]
        # ready pods indexed by (namespace, label, value): a selector looks at its rarest label
        self._ready_by_label: dict[tuple[str, str, str], list[tuple[Obj, Mapping[str, str]]]] = {}
        for p in self.ready_pods:
            labels = sn.labels_of(p)
            for k, v in labels.items():
                self._ready_by_label.setdefault((sn.namespace_of(p), k, v), []).append(
                    (p, labels))
        self.cache: dict[Any, Any] = {}
        """Per-snapshot memo for translators (the registry lives as long as one translation)."""
        self._drs: dict[str, Obj] = {}
        for dr in sorted(snap.destination_rules, key=_age_key):
            host = self.qualify(str((dr.get("spec") or {}).get("host") or ""), sn.namespace_of(dr))
            current = self._drs.get(host)
            # One rule per host: the service's own namespace wins, then the oldest.
            if current is None or (sn.namespace_of(current) != _host_ns(host)
                                   and sn.namespace_of(dr) == _host_ns(host)):
                self._drs[host] = dr

    # -- names -----------------------------------------------------------------------------------
    def qualify(self, host: str, namespace: str) -> str:
        """Istio short-name rule: `name` → `name.<ns>.svc.<domain>`, `name.ns` → FQDN."""
        host = host.strip().lower()
        if not host or "*" in host:
            return host
        parts = host.split(".")
        if len(parts) == 1:
            return naming.fqdn(host, namespace, self.domain)
        if len(parts) == 2:
            return naming.fqdn(parts[0], parts[1], self.domain)
        if len(parts) == 3 and parts[2] == "svc":
            return naming.fqdn(parts[0], parts[1], self.domain)
        return host

    def service(self, host: str, namespace: str) -> Service | None:
        return self.services.get(self.qualify(host, namespace))

    def service_by_ip(self, ip: str) -> Service | None:
        return next((s for s in self.services.values() if s.cluster_ip == ip), None)

    def domains(self, svc: Service, port: ServicePort, caller_ns: str | None) -> list[str]:
        """Host header values that reach `svc:port` from a caller in `caller_ns`."""
        names = [svc.fqdn, f"{svc.name}.{svc.namespace}.svc", f"{svc.name}.{svc.namespace}"]
        if caller_ns == svc.namespace:
            names.append(svc.name)
        if svc.cluster_ip:
            names.append(svc.cluster_ip)
        out = [f"{n}:{port.port}" for n in names]
        if port.port == 80:
            out += names
        return out

    # -- endpoints -------------------------------------------------------------------------------
    def endpoints(self, svc: Service, port: ServicePort,
                  subset: Mapping[str, str] | None = None) -> list[Endpoint]:
        if self.is_builtin(svc):
            return [Endpoint(self.settings.node_address, self.builtin_port(svc), svc.name,
                             svc.namespace, {})]
        out: list[Endpoint] = []
        if not svc.selector:
            return out
        candidates = min((self._ready_by_label.get((svc.namespace, k, v), [])
                          for k, v in svc.selector.items()), key=len)
        if svc.publish_not_ready:  # rare: no index for pods that are not ready
            candidates = [(p, sn.labels_of(p)) for p in self.pods
                          if sn.namespace_of(p) == svc.namespace
                          and not sn.meta(p).get("deletionTimestamp")]
        for pod, labels in candidates:
            if not sn.selects(svc.selector, labels):
                continue
            if subset is not None and not all(labels.get(k) == v for k, v in subset.items()):
                continue
            target = port.target
            number = _container_port(pod, target) if isinstance(target, str) else target
            if number is None:
                continue
            out.append(Endpoint(sn.pod_ip(pod), number, sn.name_of(pod), svc.namespace, labels))
        return sorted(out, key=lambda e: (e.ip, e.port))

    def is_builtin(self, svc: Service) -> bool:
        """The ingress gateway and the NGINX controller are served by Envoy itself."""
        s = self.settings
        return ((svc.namespace, svc.name) in ((s.gateway_namespace, s.gateway_service),
                                              (s.nginx_namespace, s.nginx_service)))

    def builtin_port(self, svc: Service) -> int:
        """The host port Envoy serves a built-in add-on on."""
        s = self.settings
        if (svc.namespace, svc.name) == (s.gateway_namespace, s.gateway_service):
            return s.host_port(s.gateway_node_port)
        return s.host_port(s.nginx_node_port)

    # -- policy ----------------------------------------------------------------------------------
    def destination_rule(self, fqdn: str) -> Obj | None:
        return self._drs.get(fqdn)

    def subset_labels(self, fqdn: str, subset: str) -> dict[str, str] | None:
        """Labels of a subset; None when no DestinationRule defines it."""
        dr = self.destination_rule(fqdn)
        for s in ((dr or {}).get("spec") or {}).get("subsets") or []:
            if s.get("name") == subset:
                return {str(k): str(v) for k, v in (s.get("labels") or {}).items()}
        return None

    def in_mesh(self, pod: Obj) -> bool:
        return sn.in_mesh(pod, self.injected)


def _host_ns(fqdn: str) -> str:
    parts = fqdn.split(".")
    return parts[1] if len(parts) > 2 and parts[2] == "svc" else ""


def _age_key(obj: Obj) -> tuple[str, str, str]:
    m = sn.meta(obj)
    return (str(m.get("creationTimestamp") or ""), sn.namespace_of(obj), sn.name_of(obj))


def age_key(obj: Obj) -> tuple[str, str, str]:
    """Istio's tie-break for conflicting config: oldest first, then namespace/name."""
    return _age_key(obj)
