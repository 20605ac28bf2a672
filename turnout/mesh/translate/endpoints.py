"""EDS: the ready endpoints (pod IP, target port) behind each cluster, as ClusterLoadAssignments.

An empty assignment is meaningful: Envoy answers 503 with flag UH ("no healthy upstream"), which
is what a subset without pods must do.
"""

from __future__ import annotations

from turnout.mesh.translate.clusters import ClusterPlan
from turnout.mesh.translate.registry import Endpoint, Registry
from turnout.types import Obj

CLA_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"


def endpoints_for(reg: Registry, p: ClusterPlan) -> list[Endpoint]:
    if p.endpoint is not None:
        return [p.endpoint]
    return reg.endpoints(p.service, p.port, p.subset_labels)


def build(reg: Registry, plans: list[ClusterPlan]) -> list[Obj]:
    out = []
    for p in plans:
        lb = [{"endpoint": {"address": {"socket_address": {"address": e.ip, "port_value": e.port}},
                            "hostname": f"{e.pod_name}.{e.namespace}"}}
              for e in endpoints_for(reg, p)]
        out.append({"@type": CLA_TYPE, "cluster_name": p.name,
                    "endpoints": [{"lb_endpoints": lb}] if lb else []})
    return out
