"""The seeds' traffic rules through the whole stack: kubectl → API → mesh → real Envoy → pods.

Requests are sent the way a pod sends them: through that pod's own outbound proxy listener
(`HTTP_PROXY` in the pod points there), so the mesh knows the source workload.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import RunningCluster

pytestmark = pytest.mark.cluster

N = 160


def within_binomial(k: int, n: int, p: float = 0.5, z: float = 4.5) -> bool:
    """|k - np| within z standard deviations: a false failure has probability < 1e-5."""
    return abs(k - n * p) <= z * math.sqrt(n * p * (1 - p))


def pod_proxy(cluster: RunningCluster, ns: str, selector: str) -> str:
    pods = json.loads(cluster.kubectl("get", "pods", "-n", ns, "-l", selector, "-o",
                                      "json").stdout)["items"]
    assert pods, f"no pod for {selector} in {ns}"
    return f"http://{pods[0]['status']['podIP']}:15001"


def versions(proxy: str, url: str, headers: dict[str, str], n: int = N,
             concurrency: int = 8) -> dict[str, int]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))

    def one(_: int) -> str:
        req = urllib.request.Request(url, headers=headers)
        with opener.open(req, timeout=10) as r:
            body = r.read().decode()
        return "2.0" if "Version 2.0" in body else "1.0" if "Version 1.0" in body else body

    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(n)))
    counts: dict[str, int] = {}
    for v in results:
        counts[v] = counts.get(v, 0) + 1
    return counts


def turnout(cluster: RunningCluster, *args: str) -> str:
    return cluster.turnout(*args)


def wait_ready(cluster: RunningCluster, ns: str, deploys: list[str]) -> None:
    for d in deploys:
        cluster.kubectl("rollout", "status", f"deployment/{d}", "-n", ns, "--timeout=60s")


def test_kube_proxy_split_and_virtual_service_ignored_outside_the_mesh(
        cluster: RunningCluster, lab: Path, tmp_path: Path) -> None:
    cluster.kubectl("create", "namespace", "ns1")
    cluster.kubectl("apply", "-f", str(lab / "ecommerce-v1") + "/")
    cluster.kubectl("apply", "-f", str(lab / "servicenetwork" / "advertisements.yaml"))
    wait_ready(cluster, "ns1", ["advertisements", "advertisements2", "frontend"])
    proxy = pod_proxy(cluster, "ns1", "service=frontend")
    counts = versions(proxy, "http://advertisements:5002/ads", {"page-source": "home"})
    assert set(counts) == {"1.0", "2.0"}, counts
    assert within_binomial(counts["2.0"], N), counts
    # a VirtualService in a namespace without injection changes nothing
    vs = (lab / "istio" / "ads_v2" / "virtualservice.yaml").read_text().replace("ns3", "ns1")
    cluster.kubectl("apply", "-f", "-", input=vs)
    counts = versions(proxy, "http://advertisements.ns1.svc.cluster.local:5002/ads",
                      {"page-source": "home"})
    assert within_binomial(counts.get("2.0", 0), N), counts
    # the storefront, through its NodePort, shows a banner
    with urllib.request.urlopen(cluster.node_url(30001) + "/", timeout=10) as r:
        page = r.read().decode()
    assert "Version 1.0" in page or "Version 2.0" in page
    cluster.kubectl("delete", "-f", str(lab / "servicenetwork" / "advertisements.yaml"))
    # as on a real cluster, the Deployment is gone at once and its pods drain just after
    cluster.wait_for(lambda: len(json.loads(cluster.kubectl(
        "get", "pods", "-n", "ns1", "-l", "service=advertisements", "-o", "json").stdout)[
        "items"]) == 1, what="advertisements2's pod gone")
    counts = versions(proxy, "http://advertisements:5002/ads", {}, n=40)
    assert counts == {"1.0": 40}, counts


def test_seed_002_header_canary_in_the_mesh(cluster: RunningCluster, lab: Path) -> None:
    cluster.kubectl("create", "namespace", "ns3")
    cluster.kubectl("label", "namespace", "ns3", "istio-injection=enabled")
    cluster.kubectl("apply", "-f", str(lab / "istio" / "ecommerce-istio") + "/")
    cluster.kubectl("apply", "-f", str(lab / "istio" / "frontend-gateway.yaml"))
    ads_v2 = lab / "istio" / "ads_v2"
    cluster.kubectl("apply", "-f", str(ads_v2 / "advertisements_v2.yaml"))
    wait_ready(cluster, "ns3", ["advertisements", "advertisements2", "frontend"])
    proxy = pod_proxy(cluster, "ns3", "service=frontend")
    url = "http://advertisements:5002/ads"
    # plain Service: both versions. In the mesh the default balancer is LEAST_REQUEST, which
    # under concurrency favours the faster v1, so this split is measured one request at a time.
    before = versions(proxy, url, {"page-source": "products"}, n=60, concurrency=1)
    assert within_binomial(before.get("2.0", 0), 60), before
    cluster.kubectl("apply", "-f", str(ads_v2 / "destinationrule.yaml"))
    cluster.kubectl("apply", "-f", str(ads_v2 / "virtualservice.yaml"))
    # the mesh follows within a fraction of a second (bench/mesh.py measures it)
    cluster.wait_for(lambda: versions(proxy, url, {"page-source": "home"}, n=16) == {"1.0": 16},
                     timeout=10, what="the VirtualService to take effect")
    home = versions(proxy, url, {"page-source": "home"})
    assert home == {"1.0": N}, home
    none = versions(proxy, url, {}, n=40)
    assert none == {"1.0": 40}, none
    products = versions(proxy, url, {"page-source": "products"})
    assert within_binomial(products.get("2.0", 0), N), products
    explained = turnout(cluster, "explain", "-n", "ns3", url, "-H", "page-source: products")
    assert "vs/ns3/ads-vs/0" in explained and "50.0%" in explained
    assert "outbound|5002|v2|advertisements.ns3.svc.cluster.local" in explained
    explained = turnout(cluster, "explain", "-n", "ns3", url)
    assert "vs/ns3/ads-vs/1" in explained and "100.0%" in explained
    assert "No validation issues" in turnout(cluster, "analyze", "-n", "ns3")
    # the storefront through the Istio ingress gateway
    with urllib.request.urlopen(cluster.node_url(30003) + "/", timeout=10) as r:
        assert "Version 1.0" in r.read().decode()
    cluster.kubectl("delete", "-f", str(ads_v2 / "virtualservice.yaml"))
    cluster.wait_for(lambda: "2.0" in versions(proxy, url, {"page-source": "home"}, n=16),
                     timeout=10, what="the VirtualService's removal to take effect")
    after = versions(proxy, url, {"page-source": "home"}, n=60, concurrency=1)
    assert within_binomial(after.get("2.0", 0), 60), after
    # a rule pointing at a subset no DestinationRule defines: analyze names it, Envoy says NC
    broken = (ads_v2 / "virtualservice.yaml").read_text().replace("subset: v2", "subset: v3")
    cluster.kubectl("apply", "-f", "-", input=broken)
    r = subprocess.run([sys.executable, "-m", "turnout.cli.main", "--state-dir",
                        str(cluster.state_dir), "analyze", "-n", "ns3"], text=True,
                       capture_output=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 1 and "IST0101" in r.stdout and "v3" in r.stdout, r.stdout
