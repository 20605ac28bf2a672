"""Per-pod names behind headless Services (`web-0.web`), routed to that pod.

Cluster DNS gives each endpoint of a headless Service (`clusterIP: None`) whose pod sets
`spec.hostname` and `spec.subdomain` (the Service's name) the name
`<hostname>.<subdomain>.<ns>.svc.<domain>`; a StatefulSet's pods get `<pod>.<serviceName>`
that way. A client connects straight to the pod, at the port it asked for. Here HTTP leaves a
pod through its proxy and Envoy cannot resolve those names (they live in the pods' hosts files,
not the machine's resolver), so every route table gets a virtual host per published pod and
port, `web-0.web[.ns[.svc[.domain]]]:<pod port>`, that sends to a one-endpoint cluster of that
pod: what Istio does with an ORIGINAL_DST cluster for headless Services. Only headless Services
with HTTP ports, and only their endpoints (ready pods, or every pod with an address under
`publishNotReadyAddresses`), as Kubernetes publishes them, so the config stays small.

Pure, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout.mesh import snapshot as sn
from turnout.mesh.translate import naming
from turnout.mesh.translate.registry import Endpoint, Registry, Service, ServicePort


@dataclass(frozen=True)
class PodHost:
    """One published pod of a headless Service, at one of the Service's HTTP ports."""

    service: Service
    port: ServicePort
    """The Service port (its target is the pod's port)."""
    endpoint: Endpoint
    host: str
    """`<hostname>.<subdomain>`, e.g. `web-0.web`."""
    fqdn: str
    """`web-0.web.<ns>.svc.<domain>`."""

    @property
    def cluster(self) -> str:
        return naming.cluster_name(self.endpoint.port, "", self.fqdn)

    def domains(self, caller_ns: str) -> list[str]:
        """Host header values that reach this pod and port from a caller in `caller_ns`
        (the short form only within the Service's namespace, as with a pod's search path)."""
        ns = self.service.namespace
        names = [self.fqdn, f"{self.host}.{ns}.svc", f"{self.host}.{ns}"]
        if caller_ns == ns:
            names.append(self.host)
        out = [f"{n}:{self.endpoint.port}" for n in names]
        if self.endpoint.port == 80:
            out += names
        return out


def pod_hosts(reg: Registry) -> list[PodHost]:
    """Every published pod name and port, sorted by name then port (memoized per snapshot)."""
    cached: list[PodHost] | None = reg.cache.get("headless_pod_hosts")
    if cached is not None:
        return cached
    pods = {(sn.namespace_of(p), sn.name_of(p)): p for p in reg.pods}
    out: dict[tuple[str, int], PodHost] = {}
    for fqdn in sorted(reg.services):
        svc = reg.services[fqdn]
        if not svc.headless:
            continue
        for port in svc.ports:
            if not port.http:
                continue
            for e in endpoints(reg, svc, port):
                spec = pods[(e.namespace, e.pod_name)].get("spec") or {}
                hostname = str(spec.get("hostname") or "")
                if not hostname or spec.get("subdomain") != svc.name:
                    continue
                host = f"{hostname}.{svc.name}"
                ph = PodHost(svc, port, e, host, naming.fqdn(host, svc.namespace, reg.domain))
                out.setdefault((ph.fqdn, e.port), ph)  # first Service port for a pod port wins
    result = [out[k] for k in sorted(out)]
    reg.cache["headless_pod_hosts"] = result
    return result


def endpoints(reg: Registry, svc: Service, port: ServicePort) -> list[Endpoint]:
    """The Service's endpoints at `port`, memoized: each per-pod cluster asks for its own."""
    key = ("headless_endpoints", svc.fqdn, port.port)
    cached: list[Endpoint] | None = reg.cache.get(key)
    if cached is None:
        cached = reg.endpoints(svc, port)
        reg.cache[key] = cached
    return cached
