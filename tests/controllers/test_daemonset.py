"""DaemonSet planning on turnout's one node: placement, rolling update, status."""

from __future__ import annotations

from turnout.controllers.daemonset import plan_daemonset, pod_for, should_run
from turnout.types import Obj

NODE: Obj = {"metadata": {"name": "turnout", "labels": {"kubernetes.io/os": "linux"}}}


def ds(**spec: object) -> Obj:
    base: Obj = {"selector": {"matchLabels": {"app": "agent"}},
                 "updateStrategy": {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "c"}]}}}
    base.update(spec)
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "ns", "uid": "d1", "generation": 2},
            "spec": base}


def pod(name: str, h: str, ready: bool = True, terminating: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z",
                 "labels": {"app": "agent", "controller-revision-hash": h}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    return {"metadata": meta, "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def test_one_pod_on_the_node() -> None:
    p = plan_daemonset(ds(), NODE, [], "h1")
    assert p.create == 1 and p.status["desiredNumberScheduled"] == 1
    p = plan_daemonset(ds(), NODE, [pod("a", "h1")], "h1")
    assert p.create == 0 and not p.delete
    assert p.status == {"currentNumberScheduled": 1, "numberMisscheduled": 0,
                        "desiredNumberScheduled": 1, "numberReady": 1, "observedGeneration": 2,
                        "updatedNumberScheduled": 1, "numberAvailable": 1}


def test_node_selector_that_does_not_match_places_nothing() -> None:
    d = ds(template={"metadata": {"labels": {"app": "agent"}},
                     "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c"}]}})
    assert not should_run(d, NODE)
    p = plan_daemonset(d, NODE, [pod("a", "h1")], "h1")
    assert p.delete == ["a"] and p.status["desiredNumberScheduled"] == 0


def test_rolling_update_replaces_the_old_pod_then_creates_the_new() -> None:
    p = plan_daemonset(ds(), NODE, [pod("a", "h0")], "h1")
    assert p.delete == ["a"] and p.create == 0
    assert "updatedNumberScheduled" not in p.status  # omitempty, as the real status
    assert p.status["numberUnavailable"] == 1
    p = plan_daemonset(ds(), NODE, [pod("a", "h0", terminating=True)], "h1")
    assert p.create == 1


def test_surge_starts_the_new_pod_first() -> None:
    d = ds(updateStrategy={"type": "RollingUpdate",
                           "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    assert plan_daemonset(d, NODE, [pod("a", "h0")], "h1").create == 1
    assert plan_daemonset(d, NODE, [pod("a", "h0"), pod("b", "h1", ready=False)],
                          "h1").delete == []
    assert plan_daemonset(d, NODE, [pod("a", "h0"), pod("b", "h1")], "h1").delete == ["a"]


def test_on_delete_leaves_old_pods() -> None:
    p = plan_daemonset(ds(updateStrategy={"type": "OnDelete"}), NODE, [pod("a", "h0")], "h1")
    assert p.delete == [] and p.create == 0


def test_daemon_pods_are_pinned_to_the_node_and_tolerate_its_conditions() -> None:
    p = pod_for(ds(), "turnout", "h1")
    terms = p["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchFields"][0]["values"] == ["turnout"]
    assert {t["key"] for t in p["spec"]["tolerations"]} >= {"node.kubernetes.io/not-ready"}
    assert p["metadata"]["labels"]["controller-revision-hash"] == "h1"
    assert p["metadata"]["labels"]["pod-template-generation"] == "2"
