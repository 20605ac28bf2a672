"""StatefulSet planning: ordered creation, reverse scale-down, reverse-ordinal updates, DNS."""

from __future__ import annotations

from turnout.controllers.statefulset import claims_for, ordinal, plan_statefulset, pod_for
from turnout.controllers.statefulset_dns import pod_hosts
from turnout.types import Obj


def sts(replicas: int = 3, **spec: object) -> Obj:
    base: Obj = {"replicas": replicas, "serviceName": "nginx",
                 "podManagementPolicy": "OrderedReady",
                 "selector": {"matchLabels": {"app": "web"}},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c"}]}}}
    base.update(spec)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "s1", "generation": 1},
            "spec": base}


def pod(i: int, rev: str = "web-1", ready: bool = True, phase: str = "Running",
        terminating: bool = False) -> Obj:
    meta: Obj = {"name": f"web-{i}", "namespace": "ns",
                 "labels": {"app": "web", "controller-revision-hash": rev}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"hostname": f"web-{i}", "subdomain": "nginx"},
            "status": {"phase": phase, "podIP": f"127.1.0.{i + 10}", "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


def test_ordered_ready_creates_one_at_a_time_each_ready_first() -> None:
    assert plan_statefulset(sts(), [], "web-1", "web-1").create == [0]
    assert plan_statefulset(sts(), [pod(0, ready=False)], "web-1", "web-1").create == []
    assert plan_statefulset(sts(), [pod(0)], "web-1", "web-1").create == [1]


def test_parallel_creates_all_at_once() -> None:
    p = plan_statefulset(sts(podManagementPolicy="Parallel"), [], "web-1", "web-1")
    assert p.create == [0, 1, 2]


def test_scale_down_removes_the_highest_ordinal_first_one_at_a_time() -> None:
    pods = [pod(i) for i in range(4)]
    assert plan_statefulset(sts(2), pods, "web-1", "web-1").delete == ["web-3"]
    waiting = [pod(0), pod(1), pod(2), pod(3, terminating=True)]
    assert plan_statefulset(sts(2), waiting, "web-1", "web-1").delete == []


def test_rolling_update_goes_in_reverse_ordinal_order_and_waits() -> None:
    pods = [pod(i, "web-1") for i in range(3)]
    assert plan_statefulset(sts(), pods, "web-1", "web-2").delete == ["web-2"]
    pods[2] = pod(2, "web-2")
    assert plan_statefulset(sts(), pods, "web-1", "web-2").delete == ["web-1"]
    pods[1] = pod(1, "web-2", ready=False)
    assert plan_statefulset(sts(), pods, "web-1", "web-2").delete == []


def test_partition_keeps_lower_ordinals_and_status_tracks_revisions() -> None:
    s = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    pods = [pod(0), pod(1), pod(2, "web-2")]
    p = plan_statefulset(s, pods, "web-1", "web-2")
    assert p.delete == []
    assert p.status["updatedReplicas"] == 1 and p.status["currentRevision"] == "web-1"
    done = plan_statefulset(sts(), [pod(i, "web-2") for i in range(3)], "web-1", "web-2")
    assert done.status["currentRevision"] == "web-2" and done.status["readyReplicas"] == 3


def test_failed_pods_are_recreated() -> None:
    assert plan_statefulset(sts(), [pod(0, phase="Failed")], "web-1", "web-1").delete == \
        ["web-0"]


def test_pods_get_stable_identity_and_claims() -> None:
    s = sts(volumeClaimTemplates=[{"metadata": {"name": "www"},
                                   "spec": {"accessModes": ["ReadWriteOnce"]}}])
    p = pod_for(s, 1, s["spec"]["template"], "web-abc")
    assert p["metadata"]["name"] == "web-1" and ordinal("web", "web-1") == 1
    labels = p["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert labels["apps.kubernetes.io/pod-index"] == "1"
    assert labels["controller-revision-hash"] == "web-abc"
    assert p["spec"]["hostname"] == "web-1" and p["spec"]["subdomain"] == "nginx"
    assert p["spec"]["volumes"] == [{"name": "www",
                                     "persistentVolumeClaim": {"claimName": "www-web-1"}}]
    (claim,) = claims_for(s, 1)
    assert claim["metadata"]["name"] == "www-web-1"
    assert claim["metadata"]["labels"] == {"app": "web"}


def test_per_pod_dns_behind_a_headless_service() -> None:
    headless = {"metadata": {"name": "nginx", "namespace": "ns"},
                "spec": {"clusterIP": "None", "selector": {"app": "web"}}}
    hosts = pod_hosts([headless], [pod(1), pod(0)])
    assert hosts["web-0.nginx.ns.svc.cluster.local"] == "127.1.0.10"
    assert hosts["web-1.nginx.ns.svc"] == "127.1.0.11"
    # the Service's name answers with every ready pod, as cluster DNS does
    assert hosts["nginx.ns.svc.cluster.local"] == "127.1.0.10 127.1.0.11"
    normal = {**headless, "spec": {"clusterIP": "127.96.0.5", "selector": {"app": "web"}}}
    assert pod_hosts([normal], [pod(0)]) == {}


def test_per_pod_dns_only_for_endpoints_unless_not_ready_ones_are_published() -> None:
    headless = {"metadata": {"name": "nginx", "namespace": "ns"},
                "spec": {"clusterIP": "None", "selector": {"app": "web"}}}
    pods = [pod(0), pod(1, ready=False), pod(2)]
    hosts = pod_hosts([headless], pods)
    assert "web-1.nginx.ns" not in hosts
    assert hosts["nginx.ns"] == "127.1.0.10 127.1.0.12"
    headless["spec"]["publishNotReadyAddresses"] = True
    hosts = pod_hosts([headless], pods)
    assert hosts["web-1.nginx.ns"] == "127.1.0.11"
    assert hosts["nginx.ns"] == "127.1.0.10 127.1.0.11 127.1.0.12"
