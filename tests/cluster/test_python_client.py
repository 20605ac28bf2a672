"""Acceptance through the official `kubernetes` Python client: CRUD, selectors, watch, patch."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch

from tests.conftest import RunningCluster

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def api(cluster: RunningCluster) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        yield c


def _deployment(name: str, replicas: int = 1) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels={"app": name, "tier": "py"}),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels={"app": name}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": name}),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="main", image="busybox",
                    command=["sh", "-c", "while true; do sleep 1; done"])]))))


def test_deployment_and_service_crud_with_selectors_watch_and_patch(
        api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pyclient")))
    events: list[tuple[str, str]] = []
    started = threading.Event()

    def watcher() -> None:
        w = watch.Watch()
        started.set()
        for ev in w.stream(apps.list_namespaced_deployment, "pyclient", timeout_seconds=15):
            events.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    started.wait(5)
    apps.create_namespaced_deployment("pyclient", _deployment("alpha"))
    apps.create_namespaced_deployment("pyclient", _deployment("beta", 2))
    listed = apps.list_namespaced_deployment("pyclient", label_selector="app in (alpha)")
    assert [d.metadata.name for d in listed.items] == ["alpha"]
    assert len(apps.list_namespaced_deployment("pyclient", label_selector="tier=py").items) == 2
    patched = apps.patch_namespaced_deployment("alpha", "pyclient", {"spec": {"replicas": 3}})
    assert patched.spec.replicas == 3 and patched.metadata.generation == 2
    svc = core.create_namespaced_service("pyclient", client.V1Service(
        metadata=client.V1ObjectMeta(name="alpha", labels={"app": "alpha"}),
        spec=client.V1ServiceSpec(selector={"app": "alpha"},
                                  ports=[client.V1ServicePort(port=80, target_port=8080)])))
    assert svc.spec.cluster_ip.startswith("127.")
    svc = core.patch_namespaced_service("alpha", "pyclient",
                                        {"metadata": {"labels": {"patched": "yes"}}})
    assert svc.metadata.labels["patched"] == "yes"
    assert [s.metadata.name for s in core.list_namespaced_service(
        "pyclient", label_selector="patched=yes").items] == ["alpha"]
    deleted = core.delete_namespaced_service("alpha", "pyclient")
    assert deleted.metadata.name == "alpha"
    apps.delete_namespaced_deployment("beta", "pyclient")
    t.join(20)
    assert ("ADDED", "alpha") in events and ("ADDED", "beta") in events
    assert ("MODIFIED", "alpha") in events and ("DELETED", "beta") in events
    assert [d.metadata.name for d in apps.list_namespaced_deployment("pyclient").items] == [
        "alpha"]


def test_virtual_service_through_the_custom_objects_api(api: client.ApiClient) -> None:
    co = client.CustomObjectsApi(api)
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pyvs")))
    vs = {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
          "metadata": {"name": "ads", "labels": {"team": "ads"}},
          "spec": {"hosts": ["advertisements"], "http": [{"route": [
              {"destination": {"host": "advertisements", "subset": "v1"}, "weight": 100}]}]}}
    co.create_namespaced_custom_object("networking.istio.io", "v1beta1", "pyvs",
                                       "virtualservices", vs)
    got = co.list_namespaced_custom_object("networking.istio.io", "v1", "pyvs",
                                           "virtualservices", label_selector="team=ads")
    assert [i["metadata"]["name"] for i in got["items"]] == ["ads"]
    assert got["items"][0]["apiVersion"] == "networking.istio.io/v1"
    patched = co.patch_namespaced_custom_object(
        "networking.istio.io", "v1beta1", "pyvs", "virtualservices", "ads",
        {"spec": {"http": [{"route": [
            {"destination": {"host": "advertisements", "subset": "v1"}, "weight": 50},
            {"destination": {"host": "advertisements", "subset": "v2"}, "weight": 50}]}]}})
    assert len(patched["spec"]["http"][0]["route"]) == 2
    w = watch.Watch()
    seen = []
    for ev in w.stream(co.list_namespaced_custom_object, "networking.istio.io", "v1beta1",
                       "pyvs", "virtualservices", timeout_seconds=5):
        seen.append(ev["type"])
        w.stop()
    assert seen == ["ADDED"]
    co.delete_namespaced_custom_object("networking.istio.io", "v1beta1", "pyvs",
                                       "virtualservices", "ads")
    assert co.list_namespaced_custom_object("networking.istio.io", "v1beta1", "pyvs",
                                            "virtualservices")["items"] == []
