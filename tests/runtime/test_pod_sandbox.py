"""What a container sees of itself: the pod's hostname and a /tmp of its own, also from exec."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

import pytest

from turnout.runtime import exec as rexec
from turnout.runtime import mountns
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
    state = kubelet.state_dir.resolve()
    way = [state.relative_to("/tmp").parts[0]] if state.is_relative_to("/tmp") else []
    assert lines[2:] == [*sorted([mark, *way]), "listed"]
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
