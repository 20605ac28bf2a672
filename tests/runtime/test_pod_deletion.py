"""A pod deleted at any point of its start-up stops its processes and is removed in time.

Kubernetes clients create and delete pods in the same second; the delete must win whatever the
worker is doing then (waiting for the mesh, running init containers, starting a container).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import pytest

from tests.runtime.conftest import TEST_POD_NETWORK
from turnout.runtime.catalog import Catalog
from turnout.runtime.fake import FakeClient
from turnout.runtime.kubelet import Kubelet
from turnout.types import Obj

from .helpers import make_pod

GRACE = 1
BOUND = 6.0
"""Seconds after the grace period by which the pod must be gone."""


def _pod(name: str, marker: str, init: bool) -> Obj:
    app = {"name": "app", "image": "busybox",
           "command": ["sh", "-c", f"echo Hello Kubernetes! && sleep {marker}"]}
    pod = make_pod(name, [app], terminationGracePeriodSeconds=GRACE)
    if init:
        pod["spec"]["initContainers"] = [{"name": "setup", "image": "busybox",
                                          "command": ["sh", "-c", f"sleep 0.3{marker[4:]}"]}]
    return pod


def _alive(marker: str) -> list[int]:
    """Processes whose command line carries ``marker`` (zombies do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmd and state != "Z":
            found.append(int(entry.name))
    return found


def _deleted(pod: Obj) -> Obj:
    gone = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2024-01-01T00:00:00Z",
                                "deletionGracePeriodSeconds": GRACE}}
    return gone


POINTS = ["at-once", "in-before-start", "as-before-start-returns", "in-init", "after-started"]


@pytest.mark.parametrize("point", POINTS)
async def test_delete_during_start_up_stops_everything(tmp_path: Path, client: FakeClient,
                                                       point: str) -> None:
    marker = f"3600.{random.randint(10**6, 10**7 - 1)}"
    name = f"p-{point}"
    pod = _pod(name, marker, init=point == "in-init")
    entered = asyncio.Event()
    release = asyncio.Event()
    kubelet: Kubelet | None = None

    async def before_start(_: Obj) -> None:
        entered.set()
        if point == "as-before-start-returns":
            # the delete lands in the very loop turn in which the mesh answers "ready"
            assert kubelet is not None
            asyncio.get_running_loop().create_task(kubelet.sync_pod(_deleted(pod)))
            await asyncio.sleep(0)
            return
        await release.wait()

    kubelet = Kubelet(tmp_path, client, Catalog([tmp_path / "catalog.yaml"]),
                      backoff_seconds=0.2, pod_network=TEST_POD_NETWORK,
                      before_start=before_start)
    try:
        await kubelet.sync_pod(pod)
        if point == "in-before-start":
            await asyncio.wait_for(entered.wait(), 10)
        if point != "as-before-start-returns":
            release.set()
        if point == "in-init":
            await client.wait_for(lambda: "setup" in client.reasons() or any(
                e.reason == "Started" for e in client.events), timeout=10)
        if point == "after-started":
            await client.wait_for(lambda: any(e.reason == "Started" for e in client.events),
                                  timeout=10)
        started = time.monotonic()
        if point != "as-before-start-returns":
            await kubelet.sync_pod(_deleted(pod))
        await client.wait_for(lambda: ("default", name) in client.terminated,
                              timeout=GRACE + BOUND)
        assert time.monotonic() - started < GRACE + BOUND
        deadline = time.monotonic() + 3
        while _alive(marker) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert _alive(marker) == [], f"processes of a deleted pod still run ({point})"
        assert name not in {w.name for w in kubelet.workers.values()}
        # nothing starts after the pod is gone
        await asyncio.sleep(0.5)
        assert _alive(marker) == []
    finally:
        await kubelet.shutdown(grace=0.2)
        for pid in _alive(marker):
            os.kill(pid, 9)
