"""Volumes and names through the kubelet: real processes in private mount namespaces."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tests.runtime.conftest import TEST_POD_NETWORK
from turnout import netshim
from turnout.runtime import mountns
from turnout.runtime.catalog import Catalog
from turnout.runtime.fake import FakeClient
from turnout.runtime.kubelet import Kubelet
from turnout.runtime.logs import read_log
from turnout.types import Obj

from .helpers import make_pod

pytestmark = pytest.mark.skipif(not mountns.available()[0],
                                reason="this machine allows no private mount namespaces")


def loop(script: str) -> list[str]:
    return ["sh", "-c", f"while true; do {script}; sleep 0.1; done"]


def log_of(kubelet: Kubelet, pod: str, container: str = "c") -> str:
    path = kubelet.log_path("default", pod, container)
    return read_log(path).decode() if path.exists() else ""


def config_map(text: str) -> Obj:
    return {"metadata": {"name": "app", "namespace": "default"},
            "data": {"app.properties": text}}


@pytest.fixture
def nskubelet(kubelet: Kubelet) -> Kubelet:
    """The runtime tests' kubelet, with a Service in its name map."""
    netshim.write_hosts(kubelet.hosts_file, netshim.hosts_map([
        {"metadata": {"name": "web", "namespace": "default"},
         "spec": {"clusterIP": "127.20.9.9"}}]))
    return kubelet


async def test_config_map_file_at_mount_path_follows_updates(nskubelet: Kubelet,
                                                             client: FakeClient) -> None:
    client.put("configmaps", config_map("color=blue\n"))
    client.put("secrets", {"metadata": {"name": "s", "namespace": "default"},
                           "data": {"pw": base64.b64encode(b"hunter2").decode()}})
    pod = make_pod("cm", [{
        "name": "c", "image": "busybox",
        "command": loop("cat /etc/config/app.properties /etc/secret/pw; echo; "
                        "ls -l /etc/secret/..data/pw; touch /etc/config/x 2>&1")},
        ], volumes=[{"name": "cfg", "configMap": {"name": "app"}},
                    {"name": "sec", "secret": {"secretName": "s", "defaultMode": 0o400}}])
    pod["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "cfg", "mountPath": "/etc/config"},
        {"name": "sec", "mountPath": "/etc/secret"}]
    await nskubelet.sync_pod(pod)
    await client.wait_for(lambda: "Read-only file system" in log_of(nskubelet, "cm"))
    text = log_of(nskubelet, "cm")
    assert "hunter2" in text and "-r--------" in text and "Read-only file system" in text
    assert not Path("/etc/config/app.properties").exists()  # only the pod sees it
    client.put("configmaps", config_map("color=green\n"))
    await client.wait_for(lambda: "color=green" in log_of(nskubelet, "cm"), timeout=10)


async def test_empty_dir_sub_path_and_service_names(nskubelet: Kubelet,
                                                    client: FakeClient) -> None:
    client.put("configmaps", config_map("k=v\n"))
    pod = make_pod("names", [{
        "name": "c", "image": "busybox",
        "command": loop("echo hi > /data/f; cat /data/f /opt/app.properties; "
                        "getent hosts web web.default.svc.cluster.local; "
                        "python3 -c 'import socket; print(socket.gethostbyname(\"web\"))'"),
        "volumeMounts": [{"name": "scratch", "mountPath": "/data"},
                         {"name": "cfg", "mountPath": "/opt/app.properties",
                          "subPath": "app.properties"}]}],
        volumes=[{"name": "scratch", "emptyDir": {}},
                 {"name": "cfg", "configMap": {"name": "app"}}])
    await nskubelet.sync_pod(pod)
    await client.wait_for(lambda: "\n127.20.9.9\n" in log_of(nskubelet, "names"))
    text = log_of(nskubelet, "names")
    assert "hi\nk=v" in text and "\n127.20.9.9\n" in text
    scratch = nskubelet.state_dir / "pods/default/names/volumes/scratch/f"
    assert scratch.read_text() == "hi\n"
    assert not Path("/data/f").exists()
    netshim.write_hosts(nskubelet.hosts_file, {"web.default": "127.20.9.10"})
    os.utime(nskubelet.hosts_file, (1, 1))  # a new mtime even within the same tick
    await client.wait_for(lambda: "127.20.9.10" in log_of(nskubelet, "names"), timeout=10)
    await nskubelet.delete_pod("default", "names")
    assert not scratch.exists()


async def test_host_path_onto_the_state_dir_is_refused(nskubelet: Kubelet,
                                                       client: FakeClient) -> None:
    pod = make_pod("peek", [{"name": "c", "image": "busybox", "command": ["cat", "/s/token"],
                             "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
                   volumes=[{"name": "s", "hostPath": {"path": str(nskubelet.state_dir)}}])
    await nskubelet.sync_pod(pod)
    await client.wait_for(
        lambda: client.status("default", "peek").get("reason") == "FailedMount")
    assert client.status("default", "peek")["phase"] == "Pending"  # never Failed
    assert "spec.volumes[0].hostPath.path: Forbidden" in client.status("default",
                                                                       "peek")["message"]
    assert "FailedMount" in client.reasons()
    assert "c" not in nskubelet.workers["default/peek"].procs


async def test_missing_config_map_waits_then_mounts(nskubelet: Kubelet,
                                                    client: FakeClient) -> None:
    pod = make_pod("late", [{"name": "c", "image": "busybox",
                             "command": loop("cat /cfg/app.properties"),
                             "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}],
                   volumes=[{"name": "cfg", "configMap": {"name": "app"}}])
    await nskubelet.sync_pod(pod)
    await client.wait_for(lambda: any(e.reason == "FailedMount" and 'configmap "app" not found'
                                      in e.message for e in client.events))
    assert client.status("default", "late")["phase"] == "Pending"
    client.put("configmaps", config_map("late=yes\n"))
    await client.wait_for(lambda: "late=yes" in log_of(nskubelet, "late"), timeout=10)


async def test_without_mount_namespaces_a_pod_with_volumes_fails_and_says_why(
        tmp_path: Path, client: FakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(mountns.DISABLE_ENV, "0")
    k = Kubelet(tmp_path, client, Catalog([tmp_path / "catalog.yaml"]), backoff_seconds=0.2,
                pod_network=TEST_POD_NETWORK)
    try:
        await k.sync_pod(make_pod("v", [{"name": "c", "image": "busybox", "command": ["true"],
                                         "volumeMounts": [{"name": "e", "mountPath": "/e"}]}],
                                  volumes=[{"name": "e", "emptyDir": {}}]))
        await client.wait_for(
            lambda: client.status("default", "v").get("reason") == "FailedMount")
        assert client.status("default", "v")["phase"] == "Pending"  # never Failed
        st = client.status("default", "v")
        assert st["reason"] == "FailedMount" and "private mount namespace" in st["message"]
        waiting = st["containerStatuses"][0]["state"]["waiting"]
        assert waiting["reason"] == "CreateContainerConfigError"
        await k.sync_pod(make_pod("plain", [{"name": "c", "image": "busybox",
                                             "command": ["echo", "ok"]}],
                                  restartPolicy="Never"))
        await client.wait_for(lambda: client.status("default", "plain").get("phase")
                              == "Succeeded")
    finally:
        await k.shutdown(grace=0.5)


async def test_the_state_dirs_token_is_masked_in_the_pod(nskubelet: Kubelet,
                                                         client: FakeClient) -> None:
    token = nskubelet.state_dir / "token"
    token.write_text("the-api-token")
    link = nskubelet.state_dir / "innocent"
    link.symlink_to(nskubelet.state_dir)
    await nskubelet.sync_pod(make_pod("sneak", [{
        "name": "c", "image": "busybox", "restartPolicy": "Never",
        "command": ["sh", "-c", f"echo [$(cat {token})]"]}], restartPolicy="Never"))
    await client.wait_for(lambda: "[" in log_of(nskubelet, "sneak"))
    assert log_of(nskubelet, "sneak") == "[]\n"
    pod = make_pod("via-link", [{"name": "c", "image": "busybox", "command": ["true"],
                                 "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
                   volumes=[{"name": "s", "hostPath": {"path": f"{link}/../innocent"}}])
    pod["spec"]["volumes"][0]["hostPath"]["path"] = str(link)
    await nskubelet.sync_pod(pod)
    await client.wait_for(
        lambda: client.status("default", "via-link").get("reason") == "FailedMount")
    assert client.status("default", "via-link")["phase"] == "Pending"  # never Failed


async def test_a_script_from_a_config_map_runs_as_the_command(nskubelet: Kubelet,
                                                              client: FakeClient) -> None:
    client.put("configmaps", {"metadata": {"name": "scripts", "namespace": "default"},
                              "data": {"run.sh": "#!/bin/sh\necho from the script $1\n"}})
    await nskubelet.sync_pod(make_pod("script", [{
        "name": "c", "image": "busybox", "command": ["/scripts/run.sh"], "args": ["ok"],
        "volumeMounts": [{"name": "s", "mountPath": "/scripts"}]}],
        restartPolicy="Never",
        volumes=[{"name": "s", "configMap": {"name": "scripts", "defaultMode": 0o755}}]))
    await client.wait_for(lambda: client.status("default", "script").get("phase")
                          == "Succeeded")
    assert log_of(nskubelet, "script", "c") == "from the script ok\n"
