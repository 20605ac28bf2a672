"""Objects each router produces for given weights."""

from __future__ import annotations

from turnout.rollout.engine import HeaderMatch, Routes
from turnout.rollout.routers import istio, nginx, service
from turnout.types import Obj

from .helpers import cluster, rt

R = istio.IstioRoute("ns3", "ads-vs", istio.Destination("advertisements", "stable"),
                     istio.Destination("advertisements", "canary"), ("primary",), "ads-dr")
VS: Obj = {"metadata": {"name": "ads-vs"}, "spec": {"hosts": ["advertisements"], "http": [
    {"name": "primary", "route": [
        {"destination": {"host": "advertisements", "subset": "stable"}, "weight": 100}]},
    {"name": "other", "route": [{"destination": {"host": "other"}}]}]}}


def test_istio_weights_header_and_mirror() -> None:
    vs = istio.render_virtual_service(VS, R, Routes(30))
    route = vs["spec"]["http"][0]["route"]
    assert [(d["destination"]["subset"], d["weight"]) for d in route] == [
        ("stable", 70), ("canary", 30)]
    assert vs["spec"]["http"][1] == VS["spec"]["http"][1]
    vs = istio.render_virtual_service(vs, R, Routes(0, (HeaderMatch("X-Canary", "on"),), 100))
    first = vs["spec"]["http"][0]
    assert first["name"] == istio.HEADER_ROUTE
    assert first["match"] == [{"headers": {"x-canary": {"exact": "on"}}}]
    assert vs["spec"]["http"][1]["mirror"] == {"host": "advertisements", "subset": "canary"}
    assert istio.read_routes(vs, R) == Routes(0, (HeaderMatch("x-canary", "on"),), 100)
    back = istio.render_virtual_service(vs, R, Routes(0))
    assert len(back["spec"]["http"]) == 2 and "mirror" not in back["spec"]["http"][0]


def test_istio_destination_rule_gets_hash_labels() -> None:
    dr = {"spec": {"host": "advertisements", "subsets": [
        {"name": "stable", "labels": {"app": "x"}}, {"name": "canary"}, {"name": "v9"}]}}
    out = istio.render_destination_rule(dr, R, "aaa", "bbb")
    labels = [s.get("labels") for s in out["spec"]["subsets"]]
    assert labels == [{"app": "x", istio.HASH_LABEL: "aaa"}, {istio.HASH_LABEL: "bbb"}, None]


def test_istio_router_creates_template_vs() -> None:
    o = cluster("ns3")
    tmpl = {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": "podinfo", "namespace": "ns3"},
            "spec": {"hosts": ["podinfo"], "http": [{"name": "podinfo", "route": [
                {"destination": {"host": "podinfo-primary"}, "weight": 100}]}]}}
    r = istio.IstioRoute("ns3", "podinfo", istio.Destination("podinfo-primary"),
                         istio.Destination("podinfo-canary"), ("podinfo",), template=tmpl)
    router = istio.IstioRouter(r)
    router.set_routes(o, Routes(40))
    assert router.get_routes(o) == Routes(40)
    router.finalize(o)
    assert router.get_routes(o) == Routes(0)


def test_service_selector_router() -> None:
    o = cluster("ns3")
    for n in ("active", "preview"):
        o.create(rt(o, "services"), "ns3", {"metadata": {"name": n}, "spec": {
            "selector": {"app": "x"}, "ports": [{"port": 80}]}})
    router = service.ServiceRouter(service.ServiceRoute("ns3", "active", "preview"), "old", "new")
    router.set_routes(o, Routes(50))
    sel = {n: o.get(rt(o, "services"), "ns3", n)["spec"]["selector"] for n in
           ("active", "preview")}
    assert sel["active"][istio.HASH_LABEL] == "old" and sel["preview"][istio.HASH_LABEL] == "new"
    router.set_routes(o, Routes(100))
    assert router.get_routes(o) == Routes(100)
    router.finalize(o)
    assert o.get(rt(o, "services"), "ns3", "active")["spec"]["selector"] == {"app": "x"}


def test_nginx_canary_ingress() -> None:
    stable: Obj = {"metadata": {"name": "web", "annotations": {"a": "b"}}, "spec": {"rules": [
        {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "web-stable", "port": {"number": 80}}}}]}}]}}
    r = nginx.NginxRoute("ns3", "web", "web-stable", "web-canary")
    can = nginx.render_canary_ingress(stable, r, Routes(25, (HeaderMatch("x-c", "1"),)))
    ann = can["metadata"]["annotations"]
    assert can["metadata"]["name"] == "web-canary"
    assert ann[nginx.A + "canary"] == "true" and ann[nginx.A + "canary-weight"] == "25"
    assert ann[nginx.A + "canary-by-header"] == "x-c"
    backend = can["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    assert backend == "web-canary"
    o = cluster("ns3")
    o.create(rt(o, nginx.ING), "ns3", {**stable, "metadata": {"name": "web"}})
    router = nginx.NginxRouter(r)
    router.set_routes(o, Routes(10))
    assert router.get_routes(o) == Routes(10)
    router.finalize(o)
    assert router.get_routes(o) == Routes(0)
