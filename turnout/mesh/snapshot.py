"""The mesh's input: every object the data plane depends on, frozen at one point in time.

The controller builds a `Snapshot` from the API store and hands it to `Mesh.apply`; translation is a
pure function of it, so the same snapshot always yields the same Envoy configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from turnout.types import Obj

INJECT_LABEL = "istio-injection"
INJECT_ANNOTATION = "sidecar.istio.io/inject"


@dataclass(frozen=True)
class MeshSettings:
    """Addresses, ports and paths of the data plane (one Envoy for the whole machine)."""

    gateway_node_port: int = 30003
    """Istio ingress gateway (`istio-system/istio-ingressgateway`) on `node_address`."""
    gateway_server_port: int = 80
    """The Gateway `servers[].port.number` served on the gateway NodePort."""
    nginx_node_port: int = 32000
    """NGINX ingress controller (`ingress-nginx/ingress-nginx-controller`) on `node_address`."""
    outbound_port: int = 15001
    """Each pod's HTTP proxy listener, on the pod's own IP."""
    node_address: str = "127.0.0.1"
    """Where NodePorts listen."""
    node_port_offset: int = 0
    """A NodePort n listens on `node_address`:n+offset, so clusters on one machine keep apart."""
    admin_address: str = "127.0.0.1"
    admin_port: int = 0
    """Envoy admin port; 0 picks a free one (read back from Envoy)."""
    access_log_path: str = ""
    """JSON access log of every listener; empty means `<state_dir>/access.log`."""
    cluster_domain: str = "cluster.local"
    gateway_namespace: str = "istio-system"
    gateway_service: str = "istio-ingressgateway"
    gateway_labels: Mapping[str, str] = field(
        default_factory=lambda: {"istio": "ingressgateway", "app": "istio-ingressgateway"})
    nginx_namespace: str = "ingress-nginx"
    nginx_service: str = "ingress-nginx-controller"
    nginx_ingress_class: str = "nginx"
    concurrency: int = 2
    """Envoy worker threads."""
    envoy_path: str = ""
    """Envoy binary; empty means the `envoy` next to the running Python interpreter, then PATH."""
    eds_files: bool = False
    """Deliver endpoints as one EDS file per cluster (one inotify instance each) instead of
    inline in CDS; see `mesh.xds`."""
    apply_timeout: float = 10.0
    """How long `Mesh.apply` waits for Envoy to acknowledge each step."""

    def host_port(self, node_port: int) -> int:
        return node_port + self.node_port_offset


@dataclass(frozen=True)
class Snapshot:
    """Plain Kubernetes objects (dicts) as stored in the API."""

    namespaces: tuple[Obj, ...] = ()
    services: tuple[Obj, ...] = ()
    pods: tuple[Obj, ...] = ()
    virtual_services: tuple[Obj, ...] = ()
    destination_rules: tuple[Obj, ...] = ()
    gateways: tuple[Obj, ...] = ()
    service_entries: tuple[Obj, ...] = ()
    ingresses: tuple[Obj, ...] = ()
    settings: MeshSettings = field(default_factory=MeshSettings)


_FIELDS = {
    "Namespace": "namespaces",
    "Service": "services",
    "Pod": "pods",
    "VirtualService": "virtual_services",
    "DestinationRule": "destination_rules",
    "Gateway": "gateways",
    "ServiceEntry": "service_entries",
    "Ingress": "ingresses",
}


def from_objects(objs: Iterable[Obj], settings: MeshSettings | None = None) -> Snapshot:
    """Sort a mixed list of objects into a snapshot by `kind`; other kinds are ignored."""
    buckets: dict[str, list[Obj]] = {f: [] for f in _FIELDS.values()}
    for obj in objs:
        name = _FIELDS.get(str(obj.get("kind", "")))
        if name:
            buckets[name].append(obj)
    return Snapshot(settings=settings or MeshSettings(),
                    **{k: tuple(v) for k, v in buckets.items()})


def meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Obj, default: str = "default") -> str:
    return str(meta(obj).get("namespace") or default)


def labels_of(obj: Obj) -> dict[str, str]:
    labels = meta(obj).get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def annotations_of(obj: Obj) -> dict[str, str]:
    ann = meta(obj).get("annotations")
    return {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {}


def pod_ip(pod: Obj) -> str:
    status = pod.get("status") or {}
    return str(status.get("podIP") or "")


def pod_ready(pod: Obj) -> bool:
    """Ready condition True, has an IP, not being deleted."""
    if meta(pod).get("deletionTimestamp") or not pod_ip(pod):
        return False
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status")) == "True"
    return False


def injected_namespaces(snap: Snapshot) -> frozenset[str]:
    return frozenset(name_of(ns) for ns in snap.namespaces
                     if labels_of(ns).get(INJECT_LABEL) == "enabled")


def in_mesh(pod: Obj, injected: frozenset[str]) -> bool:
    """Istio semantics apply: namespace labelled for injection and the pod did not opt out."""
    if annotations_of(pod).get(INJECT_ANNOTATION, "").lower() == "false":
        return False
    if labels_of(pod).get(INJECT_ANNOTATION, "").lower() == "false":
        return False
    return namespace_of(pod) in injected


def selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """Equality selector; an empty or missing selector selects nothing (Service semantics)."""
    if not selector:
        return False
    return all(labels.get(k) == v for k, v in selector.items())
