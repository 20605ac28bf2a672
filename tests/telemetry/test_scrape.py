from __future__ import annotations

from turnout.telemetry import scrape
from turnout.types import Obj


def pod(name: str, annotations: dict[str, str], phase: str = "Running",
        ports: tuple[int, ...] = (9898, 9797)) -> Obj:
    return {"metadata": {"name": name, "namespace": "test", "annotations": annotations,
                         "labels": {"app": "podinfo", "pod-template-hash": "5d8f"}},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": p}
                                                            for p in ports]}]},
            "status": {"phase": phase, "podIP": "127.30.0.7"}}


def test_annotated_running_pods_become_targets_with_kubernetes_labels() -> None:
    groups = scrape.targets([
        pod("podinfo-5d8f-abcde", {"prometheus.io/scrape": "true", "prometheus.io/port": "9797"}),
        pod("quiet", {}),
        pod("pending", {"prometheus.io/scrape": "true"}, phase="Pending"),
        pod("all-ports", {"prometheus.io/scrape": "True", "prometheus.io/path": "/m"})])
    assert [g["targets"] for g in groups] == [["127.30.0.7:9797", "127.30.0.7:9898"],
                                              ["127.30.0.7:9797"]]
    first, second = groups
    assert first["labels"]["__metrics_path__"] == "/m"
    assert second["labels"] == {
        "__metrics_path__": "/metrics", "__scheme__": "http",
        "kubernetes_namespace": "test", "kubernetes_pod_name": "podinfo-5d8f-abcde",
        "namespace": "test", "pod": "podinfo-5d8f-abcde",
        "app": "podinfo", "pod_template_hash": "5d8f"}


def test_a_pod_without_ports_or_address_is_left_out() -> None:
    assert scrape.targets([pod("x", {"prometheus.io/scrape": "true"}, ports=())]) == []
    no_ip = pod("y", {"prometheus.io/scrape": "true"})
    del no_ip["status"]["podIP"]
    assert scrape.targets([no_ip]) == []
