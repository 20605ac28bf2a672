from __future__ import annotations

from turnout.mesh.translate import clusters, endpoints
from turnout.mesh.translate.registry import Registry

from .. import helpers as h

ADS = "advertisements.ns3.svc.cluster.local"


def addrs(cla: dict[str, object]) -> list[str]:
    return [f"{e['endpoint']['address']['socket_address']['address']}:"
            f"{e['endpoint']['address']['socket_address']['port_value']}"
            for g in cla["endpoints"] for e in g["lb_endpoints"]]  # type: ignore[attr-defined]


def build(objs: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    reg = Registry(h.snap(objs))
    return {c["cluster_name"]: c for c in endpoints.build(reg, clusters.plan(reg))}


def test_subsets_select_by_labels_and_unready_pods_are_left_out() -> None:
    objs = [*h.seed_objects(), h.pod("ads-v2-b", "ns3", "127.77.2.3",
                                     {**h.ADS_LABELS, "version": "v2"}, ready=False)]
    eds = build(objs)
    assert addrs(eds[f"outbound|5002||{ADS}"]) == ["127.77.2.1:5002", "127.77.2.2:5002"]
    assert addrs(eds[f"outbound|5002|v2|{ADS}"]) == ["127.77.2.2:5002"]
    assert addrs(eds[f"kube|5002||{ADS}"]) == ["127.77.2.1:5002", "127.77.2.2:5002"]


def test_empty_subset_has_an_empty_assignment() -> None:
    objs = [o for o in h.seed_objects() if o.get("kind") != "Pod"]
    eds = build(objs)
    assert eds[f"outbound|5002|v1|{ADS}"]["endpoints"] == []


def test_builtin_gateway_service_points_at_the_gateway_listener() -> None:
    gw = h.service("istio-ingressgateway", "istio-system", "127.77.200.9",
                   [{"name": "http2", "port": 80, "targetPort": 8080, "nodePort": 30003}],
                   {"istio": "ingressgateway"}, kind="NodePort")
    eds = build([gw])
    assert addrs(eds["kube|80||istio-ingressgateway.istio-system.svc.cluster.local"]) == [
        "127.0.0.1:30003"]
