"""Simulation: send requests through the generated config and assert where they land."""

from __future__ import annotations

import copy

import pytest

from turnout.mesh import simulate
from turnout.mesh.translate import EnvoyConfig, translate

from . import helpers as h

FRONTEND = "127.77.2.10"
ADS = "advertisements.ns3.svc.cluster.local"


def seed_config() -> EnvoyConfig:
    return translate(h.snap(h.seed_objects()))


def probs(outcome: simulate.Outcome) -> dict[str, float]:
    return {d.cluster: d.probability for d in outcome.destinations}


def test_products_header_splits_50_50_between_subsets() -> None:
    out = h.send(seed_config(), FRONTEND, "http://advertisements:5002/ads",
                 {"page-source": "products"})
    assert out.route_name == "vs/ns3/ads-vs/0"
    assert probs(out) == {f"outbound|5002|v1|{ADS}": 0.5, f"outbound|5002|v2|{ADS}": 0.5}
    assert [d.endpoints for d in out.destinations] == [
        ("127.77.2.1:5002 (advertisements-v1.ns3)",), ("127.77.2.2:5002 (advertisements2-v2.ns3)",)]


@pytest.mark.parametrize("headers", [{}, {"page-source": "home"}, {"page-source": "Products"}])
def test_other_requests_pin_v1(headers: dict[str, str]) -> None:
    out = h.send(seed_config(), FRONTEND, "http://advertisements:5002/ads", headers)
    assert out.route_name == "vs/ns3/ads-vs/1"
    assert probs(out) == {f"outbound|5002|v1|{ADS}": 1.0}
    assert out.status is None


@pytest.mark.parametrize("host", ["advertisements:5002", "advertisements.ns3:5002",
                                  "advertisements.ns3.svc:5002", f"{ADS}:5002",
                                  "127.77.200.2:5002"])
def test_every_name_of_the_service_resolves(host: str) -> None:
    out = h.send(seed_config(), FRONTEND, f"http://{host}/ads", {"page-source": "products"})
    assert out.route_name == "vs/ns3/ads-vs/0"


def test_short_name_only_in_callers_namespace() -> None:
    objs = [*h.seed_objects(), h.namespace("other"),
            h.pod("c", "other", "127.77.9.1", {"app": "c"})]
    config = translate(h.snap(objs))
    assert h.send(config, "127.77.9.1", "http://advertisements:5002/").route_name == "passthrough"
    out = h.send(config, "127.77.9.1", "http://advertisements.ns3:5002/")
    assert out.status is None
    # "other" is not injected: kube-proxy semantics, VirtualService ignored
    assert probs(out) == {f"kube|5002||{ADS}": 1.0}


def test_bare_name_means_port_80() -> None:
    out = h.send(seed_config(), FRONTEND, "http://frontend/")
    assert out.route_name == "svc/ns3/frontend/80"
    assert h.send(seed_config(), FRONTEND, "http://advertisements/ads").route_name == (
        "passthrough")


def test_opted_out_pod_gets_kube_proxy_semantics() -> None:
    objs = h.seed_objects()
    objs.append(h.pod("legacy", "ns3", "127.77.2.20", {"app": "legacy"},
                      annotations={"sidecar.istio.io/inject": "false"}))
    out = h.send(translate(h.snap(objs)), "127.77.2.20", "http://advertisements:5002/",
                 {"page-source": "products"})
    assert probs(out) == {f"kube|5002||{ADS}": 1.0}
    assert out.route_name == "svc/ns3/advertisements/5002"


def test_missing_subset_is_nc_and_subset_without_pods_is_uh() -> None:
    objs = h.seed_objects()
    vs = next(o for o in objs if o is h.SEED_VS)
    vs2 = copy.deepcopy(vs)
    vs2["spec"]["http"] = [{"route": [{"destination": {"host": "advertisements",
                                                       "subset": "v9"}}]}]
    config = translate(h.snap([o for o in objs if o is not vs] + [vs2]))
    out = h.send(config, FRONTEND, "http://advertisements:5002/")
    assert (out.status, out.flags) == (503, "NC")
    dr = copy.deepcopy(h.SEED_DR)
    dr["spec"]["subsets"].append({"name": "v9", "labels": {"version": "v9"}})
    config = translate(h.snap([o for o in objs if o not in (vs, h.SEED_DR)] + [vs2, dr]))
    out = h.send(config, FRONTEND, "http://advertisements:5002/")
    assert (out.status, out.flags) == (503, "UH")


def test_source_labels_pick_rules_per_workload() -> None:
    objs = h.seed_objects()
    vs = copy.deepcopy(h.SEED_VS)
    vs["spec"]["http"].insert(0, {
        "match": [{"sourceLabels": {"service": "frontend"}}],
        "route": [{"destination": {"host": "advertisements", "subset": "v2"}}]})
    objs = [o for o in objs if o is not h.SEED_VS] + [
        vs, h.pod("batch", "ns3", "127.77.2.30", {"app": "batch"})]
    config = translate(h.snap(objs))
    assert probs(h.send(config, FRONTEND, "http://advertisements:5002/")) == {
        f"outbound|5002|v2|{ADS}": 1.0}
    assert probs(h.send(config, "127.77.2.30", "http://advertisements:5002/")) == {
        f"outbound|5002|v1|{ADS}": 1.0}


def test_gateway_and_nodeport_and_unknown_listener() -> None:
    settings = h.snap([]).settings
    objs = [*h.seed_objects(), h.GATEWAY, h.GATEWAY_VS]
    config = translate(h.snap(objs))
    out = simulate.simulate(config, settings.node_address, 30003,
                            simulate.Request("127.0.0.1:30003", "/"))
    assert out.route_name == "vs/ns3/frontend/0"
    assert probs(out) == {"outbound|80||frontend.ns3.svc.cluster.local": 1.0}
    refused = simulate.simulate(config, "127.77.99.99", 1, simulate.Request("x", "/"))
    assert refused.flags == "connection refused"
