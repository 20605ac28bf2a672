"""The seed's question answered automatically: an Argo Rollout of advertisements under traffic.

The pods carry no version label and only the image changes between releases: the arms are the
stable and canary ReplicaSets. A 2.0 that adds 200 ms aborts by itself with the latency shift in
its reason, and traffic returns to 100 % stable without a failed request; a 1.1 as fast as 1.0
and an A/A release (1.0's code again) are promoted to 100 %.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from tests.cluster import traffic
from tests.conftest import RunningCluster

pytestmark = pytest.mark.cluster
EXAMPLE = Path(str(resources.files("turnout") / "examples" / "rollouts" /
                   "argo-advertisements.yaml"))


def Traffic(proxy: str) -> traffic.Traffic:
    return traffic.Traffic(proxy, "http://advertisements:5002/ads",
                           lambda body: "2.0" if "Version 2.0" in body else "1.0",
                           threads=4)


def rollout(cluster: RunningCluster) -> dict[str, object]:
    out = cluster.kubectl("get", "rollout", "advertisements", "-n", "canary", "-o", "json")
    status: dict[str, object] = json.loads(out.stdout).get("status") or {}
    return status


def weights(cluster: RunningCluster) -> dict[str, int]:
    vs = json.loads(cluster.kubectl("get", "vs", "ads-vs", "-n", "canary", "-o",
                                    "json").stdout)
    return {d["destination"]["subset"]: d.get("weight", 0)
            for d in vs["spec"]["http"][0]["route"]}


def set_image(cluster: RunningCluster, image: str) -> None:
    """Only the image changes, as in the example's own instructions."""
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}]
    cluster.kubectl("patch", "rollout", "advertisements", "-n", "canary", "--type", "json",
                    "-p", json.dumps(patch))


@pytest.fixture(scope="module")
def lab_canary(cluster: RunningCluster) -> Iterator[str]:
    cluster.kubectl("apply", "-f", str(EXAMPLE))
    cluster.kubectl("rollout", "status", "deployment/frontend", "-n", "canary",
                    "--timeout=60s")
    cluster.wait_for(lambda: rollout(cluster).get("phase") == "Healthy", timeout=60,
                     what="the first revision to become Healthy")
    pod = json.loads(cluster.kubectl("get", "pods", "-n", "canary", "-l", "service=frontend",
                                     "-o", "json").stdout)["items"][0]
    yield f"http://{pod['status']['podIP']}:15001"


def test_slower_release_aborts_by_itself_and_traffic_returns_to_stable(
        cluster: RunningCluster, lab_canary: str) -> None:
    with Traffic(lab_canary) as traffic:
        time.sleep(3)
        set_image(cluster, "arapulido/ads-service:2.0")
        cluster.wait_for(lambda: rollout(cluster).get("phase") == "Degraded", timeout=120,
                         what="the rollout to abort")
        time.sleep(2)
    st = rollout(cluster)
    message = str(st.get("message", ""))
    assert "slower" in message and "ms" in message, message
    assert weights(cluster) == {"stable": 100, "canary": 0}
    assert not [k for k in traffic.outcomes if k.startswith("error")], traffic.outcomes
    assert traffic.outcomes["2.0"] > 0  # the canary did take traffic before the verdict
    events = cluster.kubectl("get", "events", "-n", "canary").stdout
    assert "slower" in events


def test_release_without_the_extra_latency_and_an_a_a_release_are_promoted(
        cluster: RunningCluster, lab_canary: str) -> None:
    for image in ("arapulido/ads-service:1.1", "arapulido/ads-service:1.0"):
        before = rollout(cluster).get("stableRS")
        with Traffic(lab_canary) as traffic:
            time.sleep(2)
            set_image(cluster, image)

            def settled(before: object = before) -> bool:
                st = rollout(cluster)
                return st.get("phase") == "Degraded" or (
                    st.get("phase") == "Healthy" and st.get("stableRS") != before)
            try:
                # promotion needs evidence within every limit at each step: about 750 canary
                # requests at 20 % to show zero errors within 1 point, whatever the latency
                cluster.wait_for(settled, timeout=330, what=f"{image} to be promoted")
            except AssertionError as e:  # say where it stood: the rollout and its last verdicts
                runs = json.loads(cluster.kubectl("get", "analysisruns", "-n", "canary", "-o",
                                                  "json").stdout)["items"]
                last = [(r["metadata"]["name"], r.get("status", {}).get("phase"),
                         [(x.get("phase"), x.get("message", "")[:300]) for mr in
                          r.get("status", {}).get("metricResults", [])
                          for x in mr.get("measurements", [])[-2:]]) for r in runs[-2:]]
                raise AssertionError(f"{e}; rollout: {rollout(cluster)}; runs: {last}; "
                                     f"traffic: {traffic.outcomes}") from e
        st = rollout(cluster)
        assert st.get("phase") == "Healthy", st
        assert weights(cluster) == {"stable": 100, "canary": 0}
        pods = json.loads(cluster.kubectl("get", "pods", "-n", "canary", "-l",
                                          "service=advertisements", "-o", "json").stdout)
        images = {p["spec"]["containers"][0]["image"] for p in pods["items"]
                  if not p["metadata"].get("deletionTimestamp")}
        assert images == {image}, images
        assert not [k for k in traffic.outcomes if k.startswith("error")], traffic.outcomes
