"""CDS: one Envoy cluster per service port (kube-proxy and mesh flavours) and per DR subset,
and one per published pod and port of a headless Service (its per-pod name, see `headless`).

Clusters carry only `eds_cluster_config.service_name`; the delivery layer (`mesh.xds`) attaches
the config source (a file path), so translation stays free of file-system facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout.mesh.translate import headless, naming, policy
from turnout.mesh.translate.registry import Endpoint, Registry, Service, ServicePort
from turnout.types import Obj

CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    service: Service
    port: ServicePort
    subset: str
    subset_labels: Mapping[str, str] | None
    fields: Obj
    endpoint: Endpoint | None = None
    """A per-pod cluster's one endpoint (else the endpoints come from the service)."""


def plan(reg: Registry) -> list[ClusterPlan]:
    plans: list[ClusterPlan] = []
    for fqdn in sorted(reg.services):
        svc = reg.services[fqdn]
        dr = reg.destination_rule(fqdn)
        subsets = [s for s in ((dr or {}).get("spec") or {}).get("subsets") or []
                   if s.get("name")]
        for port in svc.ports:
            kube_fields = policy.cluster_fields({})
            kube_fields["lb_policy"] = "RANDOM"
            plans.append(ClusterPlan(naming.cluster_name(port.port, "", fqdn, naming.KUBE),
                                     svc, port, "", None, kube_fields))
            base = policy.cluster_fields(policy.effective(dr, "", port.port))
            plans.append(ClusterPlan(naming.cluster_name(port.port, "", fqdn), svc, port, "",
                                     None, base))
            for s in subsets:
                name = str(s["name"])
                labels = {str(k): str(v) for k, v in (s.get("labels") or {}).items()}
                plans.append(ClusterPlan(
                    naming.cluster_name(port.port, name, fqdn), svc, port, name, labels,
                    policy.cluster_fields(policy.effective(dr, name, port.port))))
    for ph in headless.pod_hosts(reg):
        # one endpoint: no balancing, and no DestinationRule outlier detection to eject it
        plans.append(ClusterPlan(ph.cluster, ph.service, ph.port, "", None,
                                 policy.cluster_fields({}), ph.endpoint))
    seen: set[str] = set()
    unique = []
    for p in plans:
        if p.name not in seen:
            seen.add(p.name)
            unique.append(p)
    return unique


DNS_CACHE: Obj = {"name": "turnout_passthrough", "dns_lookup_family": "V4_ONLY"}


def passthrough() -> Obj:
    """Requests for hosts that are not Services go where they are addressed (DNS, port)."""
    return {"@type": CLUSTER_TYPE, "name": naming.PASSTHROUGH_CLUSTER, "connect_timeout": "10s",
            "lb_policy": "CLUSTER_PROVIDED",
            "cluster_type": {"name": "envoy.clusters.dynamic_forward_proxy", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy."
                         "v3.ClusterConfig",
                "dns_cache_config": DNS_CACHE}}}


def http2_upstream(fields: Obj) -> Obj:
    """``fields`` with HTTP/2 to the endpoints (gRPC ports), keeping any common HTTP options a
    DestinationRule set: Istio does this for its HTTP2 and GRPC ports."""
    options = dict((fields.get("typed_extension_protocol_options") or {}).get(
        policy.HTTP_OPTIONS) or {"@type": "type.googleapis.com/" + policy.HTTP_OPTIONS})
    options["explicit_http_config"] = {"http2_protocol_options": {}}
    return {**fields, "typed_extension_protocol_options": {policy.HTTP_OPTIONS: options}}


def build(plans: list[ClusterPlan]) -> list[Obj]:
    out = [passthrough()]
    for p in plans:
        cluster: Obj = {
            "@type": CLUSTER_TYPE,
            "name": p.name,
            "type": "EDS",
            "eds_cluster_config": {"service_name": p.name},
            **(http2_upstream(p.fields) if p.port.http2 else p.fields),
        }
        out.append(cluster)
    return out
