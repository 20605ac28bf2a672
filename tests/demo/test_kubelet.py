"""The lab's own pod specs run by turnout's kubelet with the demo catalog entries."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.demo.helpers import LAB, get
from tests.runtime.conftest import TEST_POD_NETWORK
from turnout.demo import catalog as demo_catalog
from turnout.runtime.catalog import Catalog
from turnout.runtime.fake import FakeClient
from turnout.runtime.kubelet import Kubelet


def _docs(relpath: str) -> list[dict[str, Any]]:
    if not (LAB / relpath).is_file():
        pytest.skip(f"the lab's manifest {relpath} is not under {LAB}")
    return [d for d in yaml.safe_load_all((LAB / relpath).read_text()) if d]


def _pod(relpath: str, name: str) -> dict[str, Any]:
    dep = next(d for d in _docs(relpath) if d.get("kind") == "Deployment")
    template = copy.deepcopy(dep["spec"]["template"])
    ns = dep["metadata"].get("namespace", "default")
    meta = {**template.get("metadata", {}), "name": name, "namespace": ns, "uid": f"uid-{name}"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}


@pytest.fixture
async def kubelet(tmp_path: Path) -> AsyncIterator[tuple[Kubelet, FakeClient]]:
    client = FakeClient()
    for doc in _docs("ecommerce-v1/db.yaml"):
        client.put("secrets", doc)
    cat = Catalog(builtins=False)
    demo_catalog.register(cat)
    k = Kubelet(tmp_path, client, cat, backoff_seconds=0.2, pod_network=TEST_POD_NETWORK)
    try:
        yield k, client
    finally:
        await k.shutdown(grace=2.0)


async def _answer(url: str, timeout: float = 10.0) -> bytes:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            status, _, body = await asyncio.to_thread(get, url, None, 1.0)
            if status == 200:
                return body
        except OSError:
            pass
        assert asyncio.get_running_loop().time() < deadline, f"{url} never answered"
        await asyncio.sleep(0.1)


async def test_two_ads_versions_share_port_5002_on_their_own_addresses(
        kubelet: tuple[Kubelet, FakeClient]) -> None:
    k, _ = kubelet
    await k.sync_pod(_pod("ecommerce-v1/advertisements.yaml", "ads-v1"))
    await k.sync_pod(_pod("servicenetwork/advertisements.yaml", "ads-v2"))
    ip1, ip2 = k.pod_ip("ns1", "ads-v1"), k.pod_ip("ns1", "ads-v2")
    assert ip1 and ip2 and ip1 != ip2
    assert b"Version 1.0" in await _answer(f"http://{ip1}:5002/ads")
    assert b"Version 2.0" in await _answer(f"http://{ip2}:5002/ads")


async def test_ingress_controller_pod_passes_its_readiness_probe(
        kubelet: tuple[Kubelet, FakeClient]) -> None:
    k, client = kubelet
    pod = _pod("ingress-controller/nginx.yaml", "controller")
    # its webhook-cert volume: the Secret the lab's admission Job makes (CertgenStandIn)
    client.put("secrets", {"metadata": {"name": "ingress-nginx-admission",
                                        "namespace": "ingress-nginx"}, "data": {}})
    for c in pod["spec"]["containers"]:  # the lab waits 10 s before probing; the test need not
        for probe in ("readinessProbe", "livenessProbe"):
            c[probe]["initialDelaySeconds"] = 0
            c[probe]["periodSeconds"] = 0.2
    await k.sync_pod(pod)

    def ready() -> bool:
        conds = client.status("ingress-nginx", "controller").get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

    await client.wait_for(ready, timeout=15)
