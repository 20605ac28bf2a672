"""Request paths map to what they address."""

from __future__ import annotations

import pytest

from turnout.api.paths import DiscoveryPath, ResourcePath, parse


@pytest.mark.parametrize(("path", "expected"), [
    ("/api", DiscoveryPath(legacy=True)),
    ("/apis", DiscoveryPath()),
    ("/apis/apps", DiscoveryPath(group="apps")),
    ("/api/v1", DiscoveryPath(group="", version="v1", legacy=True)),
    ("/api/v1/namespaces", ResourcePath("", "v1", "namespaces")),
    ("/api/v1/namespaces/ns1", ResourcePath("", "v1", "namespaces", name="ns1")),
    ("/api/v1/namespaces/ns1/status",
     ResourcePath("", "v1", "namespaces", name="ns1", subresource="status")),
    ("/api/v1/namespaces/ns1/pods", ResourcePath("", "v1", "pods", "ns1")),
    ("/api/v1/namespaces/ns1/pods/p/log", ResourcePath("", "v1", "pods", "ns1", "p", "log")),
    ("/api/v1/pods", ResourcePath("", "v1", "pods")),
    ("/apis/apps/v1/namespaces/ns1/deployments/web/scale",
     ResourcePath("apps", "v1", "deployments", "ns1", "web", "scale")),
    ("/apis/networking.istio.io/v1beta1/namespaces/ns3/virtualservices",
     ResourcePath("networking.istio.io", "v1beta1", "virtualservices", "ns3")),
    ("/healthz", None),
])
def test_parse(path: str, expected: object) -> None:
    assert parse(path) == expected
