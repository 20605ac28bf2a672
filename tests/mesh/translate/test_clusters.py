from __future__ import annotations

from turnout.mesh.translate import clusters
from turnout.mesh.translate.registry import Registry

from .. import helpers as h

ADS = "advertisements.ns3.svc.cluster.local"


def by_name() -> dict[str, dict[str, object]]:
    reg = Registry(h.snap(h.seed_objects()))
    return {c["name"]: c for c in clusters.build(clusters.plan(reg))}


def test_kube_and_mesh_flavours_and_one_cluster_per_subset() -> None:
    cs = by_name()
    assert {f"kube|5002||{ADS}", f"outbound|5002||{ADS}", f"outbound|5002|v1|{ADS}",
            f"outbound|5002|v2|{ADS}"} <= set(cs)
    assert cs[f"kube|5002||{ADS}"]["lb_policy"] == "RANDOM"
    assert cs[f"outbound|5002|v1|{ADS}"]["lb_policy"] == "LEAST_REQUEST"
    assert cs[f"outbound|5002|v1|{ADS}"]["type"] == "EDS"
    assert cs[f"outbound|5002|v1|{ADS}"]["eds_cluster_config"] == {
        "service_name": f"outbound|5002|v1|{ADS}"}
