"""A Flagger Canary on a plain Deployment whose pods carry only `app` (as in Flagger's docs),
under traffic, with only the image changing between releases.

A 2.0 that adds 200 ms fails its checks and is rolled back by itself with the latency in its
reason and no failed request; a 1.1 as fast as 1.0 and an A/A release (1.0's code again) are
promoted. The arms are the `-primary` workload against the target workload, so nothing is
"Inconclusive: only 0 canary requests" while the canary serves traffic.
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
                   "flagger-advertisements.yaml"))
NS = "flagger-canary"


def Traffic(proxy: str) -> traffic.Traffic:
    return traffic.Traffic(proxy, "http://advertisements:5002/ads",
                           lambda body: "2.0" if "Version 2.0" in body else "other",
                           threads=3)


def canary(cluster: RunningCluster) -> dict[str, object]:
    out = cluster.kubectl("get", "canary", "advertisements", "-n", NS, "-o", "json")
    status: dict[str, object] = json.loads(out.stdout).get("status") or {}
    return status


def set_image(cluster: RunningCluster, image: str) -> None:
    cluster.kubectl("set", "image", "deployment/advertisements", f"advertisements={image}",
                    "-n", NS)


def primary_image(cluster: RunningCluster) -> str:
    d = json.loads(cluster.kubectl("get", "deployment", "advertisements-primary", "-n", NS,
                                   "-o", "json").stdout)
    return str(d["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.fixture(scope="module")
def frontend(cluster: RunningCluster) -> Iterator[str]:
    cluster.kubectl("apply", "-f", str(EXAMPLE))
    cluster.kubectl("rollout", "status", "deployment/frontend", "-n", NS, "--timeout=60s")
    cluster.wait_for(lambda: canary(cluster).get("phase") == "Initialized", timeout=90,
                     what="the Canary to be Initialized")
    pod = json.loads(cluster.kubectl("get", "pods", "-n", NS, "-l", "app=frontend", "-o",
                                     "json").stdout)["items"][0]
    yield f"http://{pod['status']['podIP']}:15001"


def test_slower_release_is_rolled_back_by_itself(cluster: RunningCluster,
                                                 frontend: str) -> None:
    with Traffic(frontend) as traffic:
        time.sleep(2)
        set_image(cluster, "arapulido/ads-service:2.0")
        cluster.wait_for(lambda: canary(cluster).get("phase") == "Failed", timeout=150,
                         what="the canary to be rolled back")
        time.sleep(2)
    st = canary(cluster)
    conds = st.get("conditions") or []
    message = str(conds[0].get("message", "")) if isinstance(conds, list) and conds else ""
    assert "ms" in message and ("slower" in message or "request-duration" in message), message
    assert "only 0 canary requests" not in message
    assert int(st.get("failedChecks", 0)) >= 3, st  # type: ignore[call-overload]
    assert primary_image(cluster) == "arapulido/ads-service:1.0"
    assert not [k for k in traffic.outcomes if k.startswith("error")], traffic.outcomes
    assert traffic.outcomes["2.0"] > 0  # the canary took traffic before the verdict
    events = cluster.kubectl("get", "events", "-n", NS).stdout
    assert "slower" in events or "request-duration" in events


def test_fast_release_and_a_a_release_are_promoted(cluster: RunningCluster,
                                                   frontend: str) -> None:
    for image in ("arapulido/ads-service:1.1", "arapulido/ads-service:1.0"):
        with Traffic(frontend) as traffic:
            time.sleep(2)
            set_image(cluster, image)

            def settled(image: str = image) -> bool:
                st = canary(cluster)
                return st.get("phase") == "Failed" or (
                    st.get("phase") == "Succeeded" and primary_image(cluster) == image)
            cluster.wait_for(settled, timeout=180, what=f"{image} to be promoted")
        st = canary(cluster)
        assert st.get("phase") == "Succeeded", st
        assert primary_image(cluster) == image
        assert not [k for k in traffic.outcomes if k.startswith("error")], traffic.outcomes
