"""Service addresses as kube-apiserver gives them: NodePorts not asked for come from the upper
band, so a Service that asks for 30001 later still gets it; a taken one is refused naming the
port's own index; a cluster moved to another network readdresses its Services."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from turnout.kube import errors
from turnout.kube.resources import Registry
from turnout.store.db import Store
from turnout.store.objects import Objects


def objects(net: str = "127.96.0.0/16") -> Objects:
    o = Objects(Store(None), Registry(), ipaddress.ip_network(net))
    ns = o.registry.by_key("namespaces")
    assert ns is not None
    o.create(ns, "", {"metadata": {"name": "ns1"}})
    return o


def svc(name: str, *node_ports: int | None) -> dict[str, Any]:
    ports = [{"name": f"p{i}", "port": 80 + i, **({"nodePort": n} if n else {})}
             for i, n in enumerate(node_ports)]
    return {"metadata": {"name": name}, "spec": {"type": "NodePort", "ports": ports,
                                                 "selector": {"app": name}}}


def test_ports_not_asked_for_leave_the_low_band_free() -> None:
    o = objects()
    rt = o.registry.by_key("services")
    assert rt is not None
    gw = o.create(rt, "ns1", svc("gateway", None, None, None, None))
    given = [p["nodePort"] for p in gw["spec"]["ports"]]
    assert all(n >= 30086 for n in given), given
    lab = o.create(rt, "ns1", svc("frontend", 30001))  # the lab's frontend-svc.yaml
    assert lab["spec"]["ports"][0]["nodePort"] == 30001


def test_a_taken_node_port_is_refused_at_its_own_index() -> None:
    o = objects()
    rt = o.registry.by_key("services")
    assert rt is not None
    o.create(rt, "ns1", svc("a", 30001))
    with pytest.raises(errors.ApiError) as e:
        o.create(rt, "ns1", svc("b", 30005, 30001))
    status = str(e.value.status())
    assert "spec.ports[1].nodePort" in status and "30001" in status


def test_services_outside_the_network_get_new_cluster_ips() -> None:
    o = objects("127.96.0.0/16")
    rt = o.registry.by_key("services")
    assert rt is not None
    o.create(rt, "ns1", svc("a", 30001))
    moved = Objects(o.store, o.registry, ipaddress.ip_network("127.97.0.0/16"))
    assert len(moved.readdress_services()) == 1
    ip = o.store.get("services", "ns1", "a")["spec"]["clusterIP"]  # type: ignore[index]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("127.97.0.0/16")
    assert moved.readdress_services() == ()


@pytest.mark.parametrize(("ip", "why"), [
    ("0.0.0.0", "is not in the valid range"),
    ("10.0.0.5", "is not in the valid range. The range of valid IPs is 127.96.0.0/16"),
    ("not-an-ip", "must be a valid IP address"),
])
def test_a_cluster_ip_outside_the_service_network_is_refused(ip: str, why: str) -> None:
    """Issue 14: 0.0.0.0 made Envoy listen on every interface; 10.0.0.5 was never served."""
    o = objects()
    rt = o.registry.by_key("services")
    assert rt is not None
    body = {"metadata": {"name": "web"}, "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}
    with pytest.raises(errors.ApiError) as e:
        o.create(rt, "ns1", body)
    assert e.value.code == 422 and "spec.clusterIPs[0]" in str(e.value) and why in str(e.value)
    assert o.store.get("services", "ns1", "web") is None


def test_a_cluster_ip_asked_for_is_kept_unique_and_immutable() -> None:
    o = objects()
    rt = o.registry.by_key("services")
    assert rt is not None
    mine = o.create(rt, "ns1", {"metadata": {"name": "a"},
                                "spec": {"clusterIP": "127.96.3.3", "ports": [{"port": 80}]}})
    assert mine["spec"]["clusterIPs"] == ["127.96.3.3"]
    with pytest.raises(errors.ApiError, match="already allocated"):
        o.create(rt, "ns1", {"metadata": {"name": "b"},
                             "spec": {"clusterIP": "127.96.3.3", "ports": [{"port": 80}]}})
    changed = {**mine, "spec": {**mine["spec"], "clusterIP": "127.96.3.4",
                                "clusterIPs": ["127.96.3.4"]}}
    with pytest.raises(errors.ApiError, match="may not change once set"):
        o.update(rt, "ns1", "a", changed)
    assert o.create(rt, "ns1", {"metadata": {"name": "h"}, "spec": {
        "clusterIP": "None", "ports": [{"port": 80}]}})["spec"]["clusterIP"] == "None"
