"""Init and sidecar containers, lifecycle hooks and spec changes, through the kubelet."""

from __future__ import annotations

import copy
import time

from turnout.runtime.fake import FakeClient
from turnout.runtime.kubelet import Kubelet
from turnout.runtime.logs import read_log

from .helpers import make_pod


def log_of(kubelet: Kubelet, pod: str, container: str) -> str:
    path = kubelet.log_path("default", pod, container)
    return read_log(path).decode() if path.exists() else ""


def init_status(client: FakeClient, pod: str, name: str) -> dict[str, object]:
    for cs in client.status("default", pod).get("initContainerStatuses") or ():
        if cs["name"] == name:
            return dict(cs)
    return {}


async def test_sidecar_starts_before_the_app_and_stops_after_it(kubelet: Kubelet,
                                                                client: FakeClient) -> None:
    marker = kubelet.state_dir / "sidecar-up"
    pod = make_pod("side", [{"name": "app", "image": "busybox",
                             "command": ["sh", "-c", f"test -f {marker} && echo saw-sidecar"]}],
                   restartPolicy="Never",
                   initContainers=[
                       {"name": "first", "image": "busybox", "command": ["echo", "init"]},
                       {"name": "proxy", "image": "busybox", "restartPolicy": "Always",
                        "command": ["sh", "-c", f"touch {marker}; exec sleep 60"],
                        "startupProbe": {"exec": {"command": ["test", "-f", str(marker)]},
                                         "periodSeconds": 0.1}}])
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: client.status("default", "side").get("phase") == "Succeeded",
                          timeout=15)
    assert "saw-sidecar" in log_of(kubelet, "side", "app")
    proxy = init_status(client, "side", "proxy")
    assert "terminated" in proxy["state"]  # type: ignore[operator]
    assert client.status("default", "side")["initContainerStatuses"][0]["state"][
        "terminated"]["reason"] == "Completed"


async def test_failed_init_container_fails_a_never_pod(kubelet: Kubelet,
                                                       client: FakeClient) -> None:
    pod = make_pod("bad-init", [{"name": "app", "image": "busybox", "command": ["true"]}],
                   restartPolicy="Never",
                   initContainers=[{"name": "check", "image": "busybox",
                                    "command": ["sh", "-c", "exit 3"]}])
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: client.status("default", "bad-init").get("phase") == "Failed")
    term = init_status(client, "bad-init", "check")["state"]["terminated"]  # type: ignore[index]
    assert term["exitCode"] == 3 and term["reason"] == "Error"


async def test_post_start_and_pre_stop_hooks(kubelet: Kubelet, client: FakeClient) -> None:
    out = kubelet.state_dir / "hooks.txt"
    pod = make_pod("hooks", [{
        "name": "app", "image": "busybox", "command": ["sleep", "60"],
        "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", f"echo post >> {out}"]}},
                      "preStop": {"exec": {"command": ["sh", "-c", f"echo pre >> {out}"]}}}}],
        terminationGracePeriodSeconds=5)
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: "running" in client.container("default", "hooks", "app")
                          .get("state", {}))
    assert out.read_text() == "post\n"
    gone = copy.deepcopy(pod)
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    started = time.monotonic()
    await kubelet.sync_pod(gone)
    await client.wait_for(lambda: ("default", "hooks") in client.terminated)
    assert out.read_text() == "post\npre\n" and time.monotonic() - started < 5


async def test_failing_post_start_hook_restarts_the_container(kubelet: Kubelet,
                                                               client: FakeClient) -> None:
    pod = make_pod("badhook", [{
        "name": "app", "image": "busybox", "command": ["sleep", "60"],
        "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "exit 1"]}}}}])
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: "FailedPostStartHook" in client.reasons())
    await client.wait_for(lambda: client.container("default", "badhook", "app")
                          .get("restartCount", 0) >= 1)


async def test_changed_image_restarts_the_container(kubelet: Kubelet,
                                                    client: FakeClient) -> None:
    pod = make_pod("bare", [{"name": "app", "image": "busybox:1.36",
                             "command": ["sh", "-c", "echo one; exec sleep 60"]}])
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: "one" in log_of(kubelet, "bare", "app"))
    changed = copy.deepcopy(pod)
    changed["spec"]["containers"][0]["image"] = "busybox:1.37"
    changed["spec"]["containers"][0]["command"] = ["sh", "-c", "echo two; exec sleep 60"]
    await kubelet.sync_pod(changed)
    await client.wait_for(lambda: "two" in log_of(kubelet, "bare", "app"))
    app = client.container("default", "bare", "app")
    assert app["restartCount"] == 1 and app["image"] == "busybox:1.37"
    assert any("definition changed" in e.message for e in client.events)
