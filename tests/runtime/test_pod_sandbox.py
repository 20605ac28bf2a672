"""What a container sees of itself: the pod's hostname and a /tmp of its own, also from exec."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from pathlib import Path

import pytest

from turnout.runtime import exec as rexec
from turnout.runtime import mountns, podvolumes
from turnout.runtime.fake import FakeClient
from turnout.runtime.kubelet import Kubelet
from turnout.runtime.logs import read_log

from .helpers import make_pod

pytestmark = pytest.mark.skipif(not mountns.available()[0],
                                reason="this machine allows no private mount namespaces")


def log_of(kubelet: Kubelet, pod: str, container: str) -> str:
    path = kubelet.log_path("default", pod, container)
    return read_log(path).decode() if path.exists() else ""


async def run_exec(kubelet: Kubelet, pod: str, container: str, argv: list[str]) -> str:
    ctx = rexec.KubeletHost(kubelet).context("default", pod, container)
    assert ctx is not None
    p = await rexec.spawn(argv, ctx, stdin=False, stdout=True, stderr=False, tty=False)
    out = b""
    while (chunk := await p.stdout.get()) is not None:
        out += chunk
    assert await asyncio.wait_for(p.wait(), 10) == 0
    return out.decode()


async def test_hostname_is_the_pods_and_tmp_is_the_containers(kubelet: Kubelet,
                                                              client: FakeClient) -> None:
    mark = f"turnout-tmp-test-{random.randint(10**6, 10**7)}"
    script = (f"hostname; python3 -c 'import socket; print(socket.gethostname())'; "
              f"echo mine > /tmp/{mark}; ls /tmp; echo listed; sleep 30")
    pod = make_pod("sandboxed", [
        {"name": "a", "image": "busybox", "command": ["sh", "-c", script]},
        {"name": "b", "image": "busybox",
         "command": ["sh", "-c", f"sleep 0.5; cat /tmp/{mark} || echo absent; sleep 30"]}])
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: "listed" in log_of(kubelet, "sandboxed", "a")
                          and "absent" in log_of(kubelet, "sandboxed", "b"), timeout=15)
    lines = log_of(kubelet, "sandboxed", "a").splitlines()
    assert lines[:2] == ["sandboxed", "sandboxed"]
    assert socket.gethostname() != "sandboxed"
    assert not Path(f"/tmp/{mark}").exists()  # not the host's /tmp
    # and not a copy of it either: only the way to the pod's working directory, when the state
    # dir is under /tmp as in these tests
    # (and turnout's own installation, when a clone sits below /tmp)
    seen = [str(kubelet.state_dir.resolve()), *podvolumes.node_paths([], dict(os.environ))]
    way = {Path(p).relative_to("/tmp").parts[0] for p in seen if Path(p).is_relative_to("/tmp")}
    assert lines[-1] == "listed" and mark in lines[2:-1]
    assert set(lines[2:-1]) - {mark} <= way, lines
    # exec (and so kubectl cp, which runs tar through it) sees the same name and /tmp
    out = await run_exec(kubelet, "sandboxed", "a", ["sh", "-c", f"hostname; cat /tmp/{mark}"])
    assert out == "sandboxed\nmine\n"
    out = await run_exec(kubelet, "sandboxed", "b",
                         ["sh", "-c", f"ls /tmp | grep -c {mark}; true"])
    assert out == "0\n"
    tmp = kubelet.state_dir / "pods/default/sandboxed/tmp"
    assert (tmp / "a" / mark).read_text() == "mine\n"
    await kubelet.delete_pod("default", "sandboxed")
    assert not tmp.exists()


async def test_spec_hostname_and_volume_below_tmp(kubelet: Kubelet, client: FakeClient) -> None:
    pod = make_pod("named", [{"name": "c", "image": "busybox",
                              "command": ["sh", "-c", "hostname; echo x > /tmp/cache/f; "
                                                      "cat /tmp/cache/f; sleep 30"],
                              "volumeMounts": [{"name": "cache", "mountPath": "/tmp/cache"}]}],
                   hostname="web-0", volumes=[{"name": "cache", "emptyDir": {}}])
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: "x\n" in log_of(kubelet, "named", "c"), timeout=15)
    assert log_of(kubelet, "named", "c").splitlines()[:2] == ["web-0", "x"]
    assert (kubelet.state_dir / "pods/default/named/volumes/cache/f").read_text() == "x\n"
    assert not Path("/tmp/cache/f").exists()


async def test_a_program_below_tmp_still_runs_in_the_private_tmp(
        kubelet: Kubelet, client: FakeClient, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The container's /tmp is its own, but what runs its program stays visible: a command
    (or turnout itself, cloned) below the node's /tmp, outside the state dir."""
    where = tmp_path_factory.mktemp("tool")
    assert where.resolve().is_relative_to("/tmp"), "pytest's temporary dirs are below /tmp here"
    tool = where / "bin" / "tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho ran from $(dirname $0); sleep 30\n")
    tool.chmod(0o755)
    pod = make_pod("below-tmp", [{"name": "c", "image": "busybox", "command": [str(tool)]}])
    await kubelet.sync_pod(pod)
    await client.wait_for(lambda: "ran from" in log_of(kubelet, "below-tmp", "c"), timeout=15)
    assert log_of(kubelet, "below-tmp", "c").strip() == f"ran from {tool.parent}"
    out = await run_exec(kubelet, "below-tmp", "c",
                         ["sh", "-c", f"touch {tool.parent}/x 2>/dev/null || echo read-only"])
    assert out == "read-only\n"
    await kubelet.delete_pod("default", "below-tmp")


def test_node_paths_keep_the_outermost_directories_below_tmp(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    env = {"PATH": f"{tmp_path}/a/b:/usr/bin", "PYTHONPATH": f"{tmp_path}/a"}
    got = podvolumes.node_paths([f"{tmp_path}/a/b/prog"], env)
    assert str(tmp_path / "a") in got and str(tmp_path / "a" / "b") not in got
    assert all(p.startswith("/tmp/") for p in got)
