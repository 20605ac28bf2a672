from __future__ import annotations

from turnout.mesh.proxy_env import pod_proxy_env
from turnout.mesh.snapshot import MeshSettings

from . import helpers as h


def test_proxy_points_at_the_pods_own_listener() -> None:
    env = pod_proxy_env(h.pod("p", "n", "127.77.4.2", {}), MeshSettings(outbound_port=15001))
    assert env["HTTP_PROXY"] == env["http_proxy"] == "http://127.77.4.2:15001"
    assert env["NO_PROXY"] == env["no_proxy"] == "localhost,127.0.0.1,::1,127.77.4.2"


def test_no_ip_no_proxy() -> None:
    p = h.pod("p", "n", "", {})
    assert pod_proxy_env(p, MeshSettings()) == {}
