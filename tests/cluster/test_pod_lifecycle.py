"""Pod lifecycle as kubectl shows it: init and sidecar containers, hooks, a changed image,
Foreground deletion; `$$` in a command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunningCluster, kubectl_binaries

pytestmark = pytest.mark.cluster
NS = "life"


def pod_row(cluster: RunningCluster, name: str) -> list[str]:
    """NAME READY STATUS RESTARTS AGE, as `kubectl get pod` prints it."""
    r = cluster.kubectl("get", "pod", name, "-n", NS, "--no-headers", check=False)
    return r.stdout.split() if r.returncode == 0 else []


def apply(cluster: RunningCluster, obj: dict[str, object], binary: str | None = None) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(obj), binary=binary)


def pod(name: str, containers: list[dict[str, object]], **spec: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
            "spec": {"containers": containers, "terminationGracePeriodSeconds": 5, **spec}}


@pytest.fixture(scope="module")
def life(cluster: RunningCluster) -> RunningCluster:
    cluster.kubectl("create", "namespace", NS)
    return cluster


def test_init_then_sidecar_then_app(life: RunningCluster) -> None:
    apply(life, pod("web", [{"name": "app", "image": "busybox", "command": ["sleep", "600"]}],
                    initContainers=[
                        {"name": "setup", "image": "busybox", "command": ["sleep", "1"]},
                        {"name": "proxy", "image": "busybox", "restartPolicy": "Always",
                         "command": ["sleep", "600"]}]))
    life.wait_for(lambda: pod_row(life, "web")[1:3] == ["2/2", "Running"], timeout=30,
                  what="web 2/2 Running")
    statuses = json.loads(life.kubectl("get", "pod", "web", "-n", NS, "-o", "json").stdout)[
        "status"]["initContainerStatuses"]
    assert statuses[0]["state"]["terminated"]["reason"] == "Completed"
    assert "running" in statuses[1]["state"] and statuses[1]["started"] is True


@pytest.mark.parametrize(("policy", "shown"), [("Never", "Init:Error"),
                                                ("Always", "Init:CrashLoopBackOff")])
def test_failing_init_container(life: RunningCluster, policy: str, shown: str) -> None:
    name = f"init-{policy.lower()}"
    apply(life, pod(name, [{"name": "app", "image": "busybox", "command": ["true"]}],
                    restartPolicy=policy,
                    initContainers=[{"name": "check", "image": "busybox",
                                     "command": ["sh", "-c", "exit 1"]}]))
    life.wait_for(lambda: pod_row(life, name)[2:3] == [shown], timeout=60, what=shown)


def test_changed_image_restarts_the_container(life: RunningCluster) -> None:
    for i, binary in enumerate(kubectl_binaries()):
        name = f"bare-{i}"
        apply(life, pod(name, [{"name": "app", "image": "busybox:1.36",
                                "command": ["sleep", "600"]}]), binary)
        life.wait_for(lambda n=name: pod_row(life, n)[1:4] == ["1/1", "Running", "0"],
                      timeout=30, what=f"{name} running")
        life.kubectl("set", "image", f"pod/{name}", "app=busybox:1.37", "-n", NS,
                     binary=binary)
        life.wait_for(lambda n=name: pod_row(life, n)[1:4] == ["1/1", "Running", "1"],
                      timeout=30, what=f"{name} restarted once")
        image = life.kubectl("get", "pod", name, "-n", NS, "-o",
                             "jsonpath={.status.containerStatuses[0].image}").stdout
        assert image == "busybox:1.37"


def test_hooks_and_dollar_escapes(life: RunningCluster, tmp_path: Path) -> None:
    out = tmp_path / "hooks"
    out.mkdir()
    apply(life, pod("hooks", [{
        "name": "app", "image": "busybox",
        "env": [{"name": "WHO", "value": "world"}],
        "command": ["sh", "-c", "echo hello $(WHO) '$$(WHO)' $$HOME; exec sleep 600"],
        "volumeMounts": [{"name": "out", "mountPath": "/out"}],
        "lifecycle": {
            "postStart": {"exec": {"command": ["sh", "-c", "echo post > /out/post"]}},
            "preStop": {"exec": {"command": ["sh", "-c", "echo pre > /out/pre"]}}}}],
        volumes=[{"name": "out", "hostPath": {"path": str(out)}}]))
    life.wait_for(lambda: pod_row(life, "hooks")[1:3] == ["1/1", "Running"], timeout=30,
                  what="hooks running")
    assert (out / "post").read_text() == "post\n"
    logs = life.kubectl("logs", "hooks", "-n", NS).stdout
    assert logs.startswith("hello world $(WHO) /")
    life.kubectl("delete", "pod", "hooks", "-n", NS, "--timeout=30s")
    assert (out / "pre").read_text() == "pre\n"


DEPLOY: dict[str, object] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fg", "namespace": NS},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "fg"}}, "template": {
        "metadata": {"labels": {"app": "fg"}},
        "spec": {"terminationGracePeriodSeconds": 10, "containers": [{
            "name": "app", "image": "busybox", "command": ["sleep", "600"],
            "lifecycle": {"preStop": {"sleep": {"seconds": 2}}}}]}}}}


def test_foreground_deletion_keeps_the_owner_until_its_dependents_are_gone(
        life: RunningCluster) -> None:
    apply(life, DEPLOY)
    life.kubectl("rollout", "status", "deployment/fg", "-n", NS, "--timeout=60s")
    life.kubectl("delete", "deployment", "fg", "-n", NS, "--cascade=foreground", "--wait=false")
    got = json.loads(life.kubectl("get", "deployment", "fg", "-n", NS, "-o", "json").stdout)
    assert "foregroundDeletion" in got["metadata"]["finalizers"]
    assert got["metadata"]["deletionTimestamp"]

    def pods() -> list[str]:
        return life.kubectl("get", "pods", "-n", NS, "-l", "app=fg", "-o", "name").stdout.split()

    assert pods(), "the pods are still there while the Deployment waits for them"
    life.wait_for(lambda: life.kubectl("get", "deployment", "fg", "-n", NS,
                                       check=False).returncode != 0,
                  timeout=60, what="the Deployment to go")
    assert pods() == []
    assert life.kubectl("get", "rs", "-n", NS, "-l", "app=fg", "-o", "name").stdout == ""


def test_a_new_pod_of_the_same_name_starts_with_its_own_logs(life: RunningCluster) -> None:
    """Logs belong to the pod (its uid), not to its name: a re-created pod shows only its own."""
    for word in ("first-pod", "second-pod"):
        apply(life, pod("echo1", [{"name": "c", "image": "busybox",
                                   "command": ["sh", "-c", f"echo {word}; sleep 600"]}]))
        life.wait_for(lambda w=word: w in life.kubectl(
            "logs", "echo1", "-n", NS, check=False).stdout, timeout=30, what=f"{word} logged")
        if word == "first-pod":
            life.kubectl("delete", "pod", "echo1", "-n", NS, "--grace-period=0", "--force",
                         "--wait=true")
    assert life.kubectl("logs", "echo1", "-n", NS).stdout.split() == ["second-pod"]
