"""Integration tests: real processes supervised by the kubelet, observed through the fake client."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from tests.runtime.conftest import TEST_POD_NETWORK
from turnout.runtime.catalog import Catalog
from turnout.runtime.fake import FakeClient
from turnout.runtime.kubelet import Kubelet
from turnout.runtime.logs import read_log

from .helpers import free_port, make_pod

SERVER = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
print("serving on", os.environ["POD_IP"], flush=True)
http.server.HTTPServer((os.environ["BIND"], int(os.environ["PORT"])), H).serve_forever()
"""


def server_container(port: int, bind: str = "$(POD_IP)") -> dict[str, object]:
    return {
        "name": "web",
        "image": "python:3.11",
        "command": ["python", "-c", SERVER],
        "env": [{"name": "PORT", "value": str(port)}, {"name": "BIND", "value": bind}],
        "ports": [{"containerPort": port, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                           "periodSeconds": 0.2},
    }


def ready(client: FakeClient, name: str) -> bool:
    conds = client.status("default", name).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


async def test_http_pod_becomes_ready_and_restarts_after_kill(kubelet: Kubelet,
                                                               client: FakeClient) -> None:
    port = free_port()
    await kubelet.sync_pod(make_pod("web", [server_container(port)]))
    await client.wait_for(lambda: ready(client, "web"), timeout=10)
    status = client.status("default", "web")
    ip = kubelet.pod_ip("default", "web")
    assert ip is not None and ip.startswith("127.30.") and ip != "127.0.0.1"
    assert status["podIP"] == ip and status["phase"] == "Running"
    assert status["hostIP"] == "127.0.0.1" and status["startTime"]
    cs = client.container("default", "web", "web")
    assert cs["ready"] is True and cs["started"] is True and cs["restartCount"] == 0
    assert "running" in cs["state"]
    assert f"serving on {ip}" in kubelet.log_path("default", "web", "web").read_text()

    pid = int(cs["containerID"].removeprefix("turnout://"))
    os.kill(pid, signal.SIGKILL)
    await client.wait_for(
        lambda: client.container("default", "web", "web").get("restartCount") == 1
        and ready(client, "web"), timeout=10)
    cs = client.container("default", "web", "web")
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["containerID"] != f"turnout://{pid}"
    assert kubelet.log_path("default", "web", "web", previous=True).exists()
    assert kubelet.pod_ip("default", "web") == ip
    assert {"Pulling", "Pulled", "Created", "Started"} <= set(client.reasons())


async def test_crash_loop_back_off_grows(kubelet: Kubelet, client: FakeClient) -> None:
    pod = make_pod("crash", [{"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 3"]}])
    await kubelet.sync_pod(pod)
    await client.wait_for(
        lambda: client.container("default", "crash", "c").get("restartCount", 0) >= 3, timeout=10)
    messages = [
        cs["state"]["waiting"]["message"]
        for st in client.statuses[("default", "crash")]
        for cs in st.get("containerStatuses", [])
        if cs["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
    ]
    assert messages[0] == (
        "back-off 200ms restarting failed container=c pod=crash_default(uid-crash)")
    assert any(m.startswith("back-off 400ms ") for m in messages)
    cs = client.container("default", "crash", "c")
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert client.status("default", "crash")["phase"] == "Running"
    assert "BackOff" in client.reasons()


async def test_missing_image_says_how_to_add_catalog_entry(kubelet: Kubelet,
                                                           client: FakeClient) -> None:
    pod = make_pod("img", [{"name": "app", "image": "example.com/team/shop:2.1",
                            "command": ["no-such-program-xyz"]}])
    await kubelet.sync_pod(pod)
    await client.wait_for(
        lambda: client.container("default", "img", "app").get("state", {}).get("waiting", {})
        .get("reason") == "ErrImagePull", timeout=5)
    message = client.container("default", "img", "app")["state"]["waiting"]["message"]
    assert 'image "example.com/team/shop:2.1"' in message
    assert str(kubelet.state_dir / "catalog.yaml") in message
    assert 'image: "example.com/team/shop:*"' in message
    assert client.status("default", "img")["phase"] == "Pending"
    await client.wait_for(
        lambda: client.container("default", "img", "app")["state"]["waiting"]["reason"]
        == "ImagePullBackOff", timeout=5)
    failed = [e.message for e in client.events if e.reason == "Failed"]
    assert any(m.startswith('Failed to pull image "example.com/team/shop:2.1"') for m in failed)

    # adding the entry lets the next attempt run it
    (kubelet.state_dir / "catalog.yaml").write_text(
        'images:\n  - image: "example.com/team/shop:*"\n'
        f'    run: ["{sys.executable}", "-c", "import time; time.sleep(30)"]\n')
    await client.wait_for(
        lambda: "running" in client.container("default", "img", "app").get("state", {}),
        timeout=5)


async def test_missing_secret_is_create_container_config_error(kubelet: Kubelet,
                                                               client: FakeClient) -> None:
    env = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db-password", "key": "pw"}}}]
    pod = make_pod("cfg", [{"name": "app", "image": "busybox", "command": ["sleep", "30"],
                            "env": env}])
    await kubelet.sync_pod(pod)
    await client.wait_for(
        lambda: client.container("default", "cfg", "app").get("state", {}).get("waiting", {})
        .get("reason") == "CreateContainerConfigError", timeout=5)
    waiting = client.container("default", "cfg", "app")["state"]["waiting"]
    assert waiting["message"] == 'secret "db-password" not found'
    client.put("secrets", {"metadata": {"name": "db-password", "namespace": "default"},
                           "data": {"pw": "cGFzc3dvcmQ="}})
    await client.wait_for(
        lambda: "running" in client.container("default", "cfg", "app").get("state", {}),
        timeout=5)


async def test_port_held_on_wildcard_names_the_holding_pod(kubelet: Kubelet,
                                                           client: FakeClient) -> None:
    port = free_port()
    first = server_container(port, bind="0.0.0.0")
    await kubelet.sync_pod(make_pod("first", [first]))
    await client.wait_for(lambda: ready(client, "first"), timeout=10)
    await kubelet.sync_pod(make_pod("second", [server_container(port, bind="0.0.0.0")]))
    await client.wait_for(lambda: any(
        e.reason == "PortConflict" and e.involved["name"] == "second" for e in client.events),
        timeout=10)
    conflict = [e for e in client.events
                if e.reason == "PortConflict" and e.involved["name"] == "second"]
    assert conflict[0].type == "Warning"
    assert "pod default/first" in conflict[0].message
    assert f"port {port}" in conflict[0].message
    assert "$(POD_IP)" in conflict[0].message
    await client.wait_for(lambda: "terminated" in client.container(
        "default", "second", "web").get("lastState", {}), timeout=10)
    term = client.container("default", "second", "web")["lastState"]["terminated"]
    assert "pod default/first" in term.get("message", "")


async def test_deletion_sigkills_after_grace(kubelet: Kubelet, client: FakeClient) -> None:
    script = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "print('up', flush=True)\ntime.sleep(60)\n")
    pod = make_pod("stubborn", [{"name": "app", "image": "python:3", "command": ["python3", "-c",
                                                                                 script]}],
                   terminationGracePeriodSeconds=1)
    await kubelet.sync_pod(pod)
    log = kubelet.log_path("default", "stubborn", "app")
    await client.wait_for(lambda: log.exists() and "up" in log.read_text(), timeout=10)
    pod["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    started = time.monotonic()
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: ("default", "stubborn") in client.terminated, timeout=10)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5
    cs = client.container("default", "stubborn", "app")
    assert cs["state"]["terminated"]["exitCode"] == 137
    assert "Killing" in client.reasons()
    assert kubelet.pod_ip("default", "stubborn") is None


async def test_init_containers_run_in_order_then_pod_succeeds(kubelet: Kubelet,
                                                              client: FakeClient) -> None:
    pod = make_pod(
        "job",
        [{"name": "main", "image": "busybox", "command": ["sh", "-c", "cat order; echo main"]}],
        initContainers=[
            {"name": "one", "image": "busybox", "command": ["sh", "-c", "echo one >> order"]},
            {"name": "two", "image": "busybox", "command": ["sh", "-c", "echo two >> order"]},
        ],
        restartPolicy="Never",
    )
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: client.status("default", "job").get("phase") == "Succeeded",
                          timeout=10)
    status = client.status("default", "job")
    assert [c["state"]["terminated"]["reason"] for c in status["initContainerStatuses"]] == [
        "Completed", "Completed"]
    assert read_log(kubelet.log_path("default", "job", "main")) == b"one\ntwo\nmain\n"
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Initialized"]["status"] == "True"
    assert conds["Ready"]["reason"] == "PodCompleted"


async def test_liveness_failure_kills_and_restarts(kubelet: Kubelet, client: FakeClient) -> None:
    container = {
        "name": "app", "image": "busybox", "command": ["sleep", "30"],
        "livenessProbe": {"exec": {"command": ["sh", "-c", "exit 1"]}, "periodSeconds": 0.1,
                          "failureThreshold": 2},
    }
    await kubelet.sync_pod(make_pod("live", [container], terminationGracePeriodSeconds=1))
    await client.wait_for(
        lambda: client.container("default", "live", "app").get("restartCount", 0) >= 1,
        timeout=10)
    unhealthy = [e.message for e in client.events if e.reason == "Unhealthy"]
    assert unhealthy and unhealthy[0].startswith("Liveness probe failed")
    killing = [e.message for e in client.events if e.reason == "Killing"]
    assert "Container app failed liveness probe, will be restarted" in killing
    last = client.container("default", "live", "app")["lastState"]["terminated"]
    assert last["exitCode"] == 128 + 15  # sleep dies of the SIGTERM


async def test_restart_after_turnout_restart_keeps_ip_and_counts(tmp_path: Path,
                                                                 client: FakeClient) -> None:
    pod = make_pod("keep", [{"name": "app", "image": "busybox", "command": ["sleep", "30"]}])
    first = Kubelet(tmp_path, client, Catalog(), backoff_seconds=0.2,
                    pod_network=TEST_POD_NETWORK)
    await first.sync_pod(pod)
    await client.wait_for(lambda: "running" in client.container("default", "keep", "app")
                          .get("state", {}), timeout=5)
    ip = first.pod_ip("default", "keep")
    await first.shutdown(grace=0.5)
    pod["status"] = client.status("default", "keep")
    pod["status"]["containerStatuses"][0]["restartCount"] = 4
    second = Kubelet(tmp_path, client, Catalog(), backoff_seconds=0.2,
                    pod_network=TEST_POD_NETWORK)
    try:
        await second.sync_pod(pod)
        await client.wait_for(lambda: client.container("default", "keep", "app").get(
            "containerID") != pod["status"]["containerStatuses"][0]["containerID"], timeout=5)
        assert second.pod_ip("default", "keep") == ip
        assert client.container("default", "keep", "app")["restartCount"] == 4
        assert client.status("default", "keep")["startTime"] == pod["status"]["startTime"]
    finally:
        await second.shutdown(grace=0.5)


async def test_without_a_readiness_probe_ready_waits_for_the_declared_port(
        kubelet: Kubelet, client: FakeClient) -> None:
    """A Ready pod gets traffic: with no probe, Ready comes once the first declared port
    accepts connections, not when the process starts (it binds a moment later)."""
    port = free_port()
    slow = server_container(port)
    slow.pop("readinessProbe")
    slow["command"] = ["python", "-c", "import time; time.sleep(1.0)\n" + SERVER]
    await kubelet.sync_pod(make_pod("slowbind", [slow]))
    await client.wait_for(lambda: "running" in client.container(
        "default", "slowbind", "web").get("state", {}), timeout=10)
    assert not ready(client, "slowbind")
    await client.wait_for(lambda: ready(client, "slowbind"), timeout=10)
    ip = kubelet.pod_ip("default", "slowbind")
    assert ip is not None
    _, writer = await asyncio.open_connection(ip, port)  # it listens by then
    writer.close()
    # a container that declares no port is Ready as soon as it runs, as on a node
    await kubelet.sync_pod(make_pod("noport", [{"name": "app", "image": "busybox",
                                                "command": ["sleep", "30"]}]))
    await client.wait_for(lambda: ready(client, "noport"), timeout=10)
