from __future__ import annotations

import copy

from turnout.mesh.translate import routes
from turnout.mesh.translate.registry import Registry

from .. import helpers as h


def test_kube_table_is_shared_per_namespace_and_random() -> None:
    objs = [*h.seed_objects(), h.namespace("kp"), h.pod("a", "kp", "127.77.1.1", {}),
            h.pod("b", "kp", "127.77.1.2", {})]
    reg = Registry(h.snap(objs))
    ta = routes.pod_table(reg, objs[-2])
    tb = routes.pod_table(reg, objs[-1])
    assert ta == tb and ta["name"] == "kube/kp"
    vh = next(v for v in ta["virtual_hosts"] if v["name"].startswith("advertisements"))
    assert vh["routes"] == [{"name": "svc/ns3/advertisements/5002", "match": {"prefix": "/"},
                             "route": {"cluster": "kube|5002||advertisements.ns3.svc.cluster.local",
                                       "timeout": "0s"}}]
    assert "advertisements:5002" not in vh["domains"]  # short name: same namespace only


def test_mesh_pods_share_a_table_per_namespace_and_source_label_values() -> None:
    vs = copy.deepcopy(h.SEED_VS)
    vs["spec"]["http"].insert(0, {"match": [{"sourceLabels": {"service": "frontend"}}],
                                  "route": [{"destination": {"host": "advertisements"}}]})
    objs = [o for o in h.seed_objects() if o is not h.SEED_VS] + [vs]
    reg = Registry(h.snap(objs))
    pods = {o["metadata"]["name"]: o for o in objs if o.get("kind") == "Pod"}
    assert routes.table_name(reg, pods["frontend-1"]) == "mesh/ns3/service=frontend"
    assert routes.table_name(reg, pods["advertisements-v1"]) == (
        "mesh/ns3/service=advertisements")
    assert routes.table_name(reg, pods["advertisements2-v2"]) == (
        "mesh/ns3/service=advertisements")


def test_mesh_pod_table_has_vs_rules() -> None:
    objs = h.seed_objects()
    reg = Registry(h.snap(objs))
    fe = next(o for o in objs if o.get("kind") == "Pod" and o["metadata"]["name"] == "frontend-1")
    table = routes.pod_table(reg, fe)
    assert table["name"] == "mesh/ns3"
    vh = next(v for v in table["virtual_hosts"] if v["name"].startswith("advertisements"))
    assert [r["name"] for r in vh["routes"]] == ["vs/ns3/ads-vs/0", "vs/ns3/ads-vs/1"]
    assert {"advertisements:5002", "advertisements.ns3:5002", "127.77.200.2:5002"} <= set(
        vh["domains"])


def test_vs_bound_to_gateway_only_is_not_used_by_sidecars() -> None:
    objs = h.seed_objects()
    vs = copy.deepcopy(h.SEED_VS)
    vs["spec"]["gateways"] = ["frontend-gateway"]
    objs = [o for o in objs if o is not h.SEED_VS] + [vs]
    reg = Registry(h.snap(objs))
    fe = next(o for o in objs if o.get("kind") == "Pod" and o["metadata"]["name"] == "frontend-1")
    vh = next(v for v in routes.pod_table(reg, fe)["virtual_hosts"]
              if v["name"].startswith("advertisements"))
    assert [r["name"] for r in vh["routes"]] == ["svc/ns3/advertisements/5002"]


def test_gateway_table_binds_by_gateway_and_host() -> None:
    other_gw = copy.deepcopy(h.GATEWAY)
    other_gw["spec"]["selector"] = {"istio": "other"}
    other_gw["metadata"]["name"] = "elsewhere"
    other_vs = copy.deepcopy(h.GATEWAY_VS)
    other_vs["metadata"]["name"] = "x"
    other_vs["spec"]["gateways"] = ["elsewhere"]
    reg = Registry(h.snap([*h.seed_objects(), h.GATEWAY, h.GATEWAY_VS, other_gw, other_vs]))
    table = routes.gateway_table(reg)
    assert [v["domains"] for v in table["virtual_hosts"]] == [["*"]]
    assert [r["name"] for r in table["virtual_hosts"][0]["routes"]] == ["vs/ns3/frontend/0"]
    assert table["ignore_port_in_host_matching"] is True


def test_host_matches() -> None:
    assert routes.host_matches("*", "a.b")
    assert routes.host_matches("*.example.com", "shop.example.com")
    assert not routes.host_matches("*.example.com", "example.org")


def test_gateway_root_delegates_to_a_hostless_virtual_service() -> None:
    root = copy.deepcopy(h.GATEWAY_VS)
    root["metadata"]["name"] = "entry"
    root["spec"]["http"] = [
        {"match": [{"uri": {"prefix": "/ads"}}], "rewrite": {"uri": "/"},
         "delegate": {"name": "ads"}},
        {"match": [{"uri": {"prefix": "/missing"}}], "delegate": {"name": "nowhere"}}]
    child = {"kind": "VirtualService", "metadata": {"name": "ads", "namespace": "ns3"},
             "spec": {"hosts": [], "gateways": [],
                      "http": [{"match": [{"headers": {"x-canary": {"exact": "1"}}}],
                                "route": [{"destination": {"host": "advertisements",
                                                           "subset": "v2"}}]},
                               {"route": [{"destination": {"host": "advertisements",
                                                           "subset": "v1"}, "weight": 90},
                                          {"destination": {"host": "advertisements",
                                                           "subset": "v2"}, "weight": 10}]}]}}
    reg = Registry(h.snap([*h.seed_objects(), h.GATEWAY, root, child]))
    vh = routes.gateway_table(reg)["virtual_hosts"][0]
    got = [(r["name"], r["match"]) for r in vh["routes"]]
    assert got == [
        ("vs/ns3/entry/0/0", {"prefix": "/ads", "headers": [
            {"name": "x-canary", "string_match": {"exact": "1"}}]}),
        ("vs/ns3/entry/0/1", {"prefix": "/ads"})]
    # the root's rewrite applies to the delegate's routes; the weights are the delegate's
    assert all(r["route"]["prefix_rewrite"] == "/" for r in vh["routes"])
    weights = [c["weight"] for c in vh["routes"][1]["route"]["weighted_clusters"]["clusters"]]
    assert weights == [90, 10]
    # the hostless delegate is never a route table of its own
    assert all(child not in routes.mesh_virtual_services(reg, s) for s in reg.services.values())
