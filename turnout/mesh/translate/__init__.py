"""Pure translation: a `Snapshot` in, Envoy resources out (no I/O, deterministic).

One builder per Envoy resource type (`clusters`, `endpoints`, `listeners`, `routes`) and one
naming module every builder uses, as in Istio pilot.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout.mesh import snapshot as sn
from turnout.mesh.translate import clusters, endpoints, ingress, listeners, routes
from turnout.mesh.translate.registry import Registry
from turnout.types import Obj

ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"


@dataclass(frozen=True)
class EnvoyConfig:
    """Envoy resources keyed by name (clusters/listeners/routes by name, CLAs by cluster)."""

    clusters: dict[str, Obj]
    endpoints: dict[str, Obj]
    listeners: dict[str, Obj]
    routes: dict[str, Obj]


def translate(snap: sn.Snapshot) -> EnvoyConfig:
    reg = Registry(snap)
    plans = clusters.plan(reg)
    cds = {c["name"]: c for c in clusters.build(plans)}
    eds = {c["cluster_name"]: c for c in endpoints.build(reg, plans)}
    lds = {lis["name"]: lis for lis in listeners.build(reg)}
    tables: list[Obj] = [routes.gateway_table(reg), ingress.route_config(reg)]
    keys = routes.source_label_keys(reg)
    built: set[str] = set()
    for pod in reg.pods:
        name = routes.table_name(reg, pod, keys)
        if name not in built:  # pods that route alike share a table
            built.add(name)
            tables.append(routes.pod_table(reg, pod, keys))
    rds: dict[str, Obj] = {}
    for t in tables:
        rds.setdefault(t["name"], {"@type": ROUTE_TYPE, **t})
    referenced = {
        f["typed_config"]["rds"]["route_config_name"]
        for lis in lds.values() for fc in lis["filter_chains"] for f in fc["filters"]
        if "rds" in f["typed_config"]}
    return EnvoyConfig(cds, eds, lds, {k: v for k, v in rds.items() if k in referenced})
