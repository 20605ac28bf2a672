"""Istio's own samples, unchanged: ``samples/httpbin`` and ``samples/curl`` in a namespace with
``istio-injection=enabled``, and the pattern of every Istio task page,
``kubectl exec deploy/curl -- curl -sS http://httpbin:8000/headers``, through the mesh."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import REPO, RunningCluster, kubectl_binaries

pytestmark = pytest.mark.cluster

SAMPLES = REPO.parent / "shared" / "peers" / "istio" / "samples"
NS = "istio-samples"


@pytest.fixture(scope="module")
def samples(cluster: RunningCluster) -> RunningCluster:
    if not SAMPLES.exists() and not os.environ.get("CI"):  # under CI a missing peer fails
        pytest.skip("Istio's samples (../shared/peers/istio/samples) are not beside the repo")
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("label", "namespace", NS, "istio-injection=enabled")
    cluster.kubectl("-n", NS, "apply", "-f", str(SAMPLES / "httpbin" / "httpbin.yaml"),
                    "-f", str(SAMPLES / "curl" / "curl.yaml"))
    for deploy in ("httpbin", "curl"):
        cluster.kubectl("-n", NS, "rollout", "status", f"deploy/{deploy}", "--timeout=90s",
                        timeout=100)
    return cluster


def curl(c: RunningCluster, *args: str, binary: str | None = None) -> str:
    r = c.kubectl("-n", NS, "exec", "deploy/curl", "--", "curl", "-sS", "--max-time", "10",
                  *args, binary=binary)
    return r.stdout


@pytest.mark.parametrize("kubectl", kubectl_binaries())
def test_headers_through_the_mesh(samples: RunningCluster, kubectl: str) -> None:
    headers = json.loads(curl(samples, "http://httpbin:8000/headers", binary=kubectl))["headers"]
    assert headers["Host"] == ["httpbin:8000"]
    # the request went through the curl pod's proxy (Envoy), not straight to the pod
    assert "X-Request-Id" in headers
    assert headers["User-Agent"][0].startswith("curl/")


def test_status_and_delay(samples: RunningCluster) -> None:
    code = curl(samples, "-o", "/dev/null", "-w", "%{http_code}", "http://httpbin:8000/status/418")
    assert code == "418"
    got = json.loads(curl(samples, "http://httpbin:8000/delay/1"))
    assert got["url"] == "http://httpbin:8000/delay/1"
    assert json.loads(curl(samples, "http://httpbin:8000/get"))["method"] == "GET"

