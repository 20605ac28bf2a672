"""Workload arithmetic and endpoint building, as the real controllers do them."""

from __future__ import annotations

from turnout.controllers.endpoints import build_endpoints, build_slice
from turnout.controllers.workloads import int_or_percent, template_hash


def test_surge_rounds_up_and_unavailable_rounds_down() -> None:
    assert int_or_percent("25%", 10, round_up=True) == 3
    assert int_or_percent("25%", 10, round_up=False) == 2
    assert int_or_percent("25%", 1, round_up=True) == 1
    assert int_or_percent("25%", 1, round_up=False) == 0
    assert int_or_percent(2, 10, round_up=False) == 2


def test_template_hash_is_stable_and_sensitive() -> None:
    a = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"image": "a"}]}}
    b = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"image": "b"}]}}
    assert template_hash(a) == template_hash(dict(a)) != template_hash(b)
    assert len(template_hash(a)) == 10


def pod(name: str, ip: str, ready: bool, terminating: bool = False) -> dict[str, object]:
    meta: dict[str, object] = {"name": name, "namespace": "ns1", "uid": name,
                               "labels": {"app": "ads"}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta,
            "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 5002}]}]},
            "status": {"podIP": ip, "phase": "Running", "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


SVC = {"metadata": {"name": "ads", "namespace": "ns1", "uid": "s"},
       "spec": {"selector": {"app": "ads"},
                "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}]}}


def test_ready_pods_are_addresses_and_terminating_ones_leave_at_once() -> None:
    pods = [pod("a", "127.10.0.2", True), pod("b", "127.10.0.3", False),
            pod("c", "127.10.0.4", True, terminating=True)]
    ep = build_endpoints(SVC, pods)
    sub = ep["subsets"][0]
    assert [a["ip"] for a in sub["addresses"]] == ["127.10.0.2"]
    assert [a["ip"] for a in sub["notReadyAddresses"]] == ["127.10.0.3", "127.10.0.4"]
    assert sub["ports"] == [{"port": 5002, "protocol": "TCP"}]  # named targetPort resolved
    sl = build_slice(SVC, pods)
    conds = {e["addresses"][0]: e["conditions"] for e in sl["endpoints"]}
    assert conds["127.10.0.4"] == {"ready": False, "serving": True, "terminating": True}
    assert sl["metadata"]["labels"]["kubernetes.io/service-name"] == "ads"
