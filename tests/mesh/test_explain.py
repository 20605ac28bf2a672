from __future__ import annotations

import pytest

from turnout.mesh.explain import explain

from . import helpers as h


def test_explains_the_seed_products_split() -> None:
    e = explain(h.snap(h.seed_objects()), "ns3", "frontend-1",
                "http://advertisements:5002/ads", {"page-source": "products"})
    assert e.in_mesh
    assert e.rule == ("VirtualService ns3/ads-vs http[0] matched: header page-source exact "
                      "'products'")
    assert [(d.cluster, d.probability) for d in e.outcome.destinations] == [
        ("outbound|5002|v1|advertisements.ns3.svc.cluster.local", 0.5),
        ("outbound|5002|v2|advertisements.ns3.svc.cluster.local", 0.5)]
    text = e.render()
    assert "50.0%  outbound|5002|v2|advertisements.ns3.svc.cluster.local" in text
    assert "127.77.2.2:5002 (advertisements2-v2.ns3)" in text


def test_explains_why_earlier_rules_were_skipped() -> None:
    e = explain(h.snap(h.seed_objects()), "ns3", None, "advertisements:5002/ads")
    assert e.outcome.route_name == "vs/ns3/ads-vs/1"
    assert e.outcome.skipped == (("vs/ns3/ads-vs/0",
                                  "header page-source does not satisfy exact 'products'"),)


def test_outside_the_mesh_says_so() -> None:
    objs = [*h.seed_objects(), h.namespace("ns1")]
    e = explain(h.snap(objs), "ns1", None, "http://advertisements.ns3:5002/ads",
                {"page-source": "products"})
    assert not e.in_mesh
    assert e.outcome.route_name == "svc/ns3/advertisements/5002"
    assert any("not in the mesh" in n for n in e.notes)


def test_unknown_pod_and_host() -> None:
    with pytest.raises(ValueError, match="not found"):
        explain(h.snap(h.seed_objects()), "ns3", "nope", "http://advertisements:5002/")
    e = explain(h.snap(h.seed_objects()), "ns3", None, "http://nothing:80/")
    assert e.outcome.route_name == "passthrough"
    assert [d.cluster for d in e.outcome.destinations] == ["PassthroughCluster"]
    assert any("no Service answers to nothing:80" in n for n in e.notes)
