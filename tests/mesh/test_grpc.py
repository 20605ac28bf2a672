"""Real Envoy carries gRPC: a health check to a Service's `grpc` port reaches the pod's server.

The client speaks HTTP/2 with prior knowledge to the ClusterIP (as `grpc_health_probe` does in a
pod); Envoy must accept that downstream and speak HTTP/2 upstream, or the gRPC server (HTTP/2
only) never sees the call. Addresses in 127.82.0.0/16; no gateway or ingress listeners.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from turnout.demo import grpc_health
from turnout.mesh import snapshot as sn
from turnout.mesh.mesh import Mesh
from turnout.types import Obj

from . import helpers as h

pytestmark = pytest.mark.asyncio(loop_scope="module")

SETTINGS = sn.MeshSettings(node_address="127.82.0.1", gateway_node_port=0, nginx_node_port=0,
                           concurrency=1)
PODS = {"mesh": "127.82.1.1", "kube": "127.82.2.1"}
CLUSTER_IPS = {"mesh": "127.82.200.1", "kube": "127.82.200.2"}
GRPC_PORT = 9999


def objects() -> list[Obj]:
    out: list[Obj] = []
    for ns, injected in (("mesh", True), ("kube", False)):
        out += [
            h.namespace(ns, injected=injected),
            h.service("podinfo", ns, CLUSTER_IPS[ns],
                      [{"port": 9898, "name": "http"},
                       {"port": GRPC_PORT, "name": "grpc", "targetPort": "grpc"}],
                      {"app": "podinfo"}),
            h.pod("podinfo-1", ns, PODS[ns], {"app": "podinfo"},
                  ports=[{"name": "grpc", "containerPort": GRPC_PORT}]),
        ]
    return out


@pytest.fixture(scope="module")
def servers() -> Iterator[None]:
    socks = []
    for ip in PODS.values():
        health = grpc_health.HealthServer({"": grpc_health.SERVING,
                                           "podinfo": grpc_health.SERVING})
        sock = health.listen(ip, GRPC_PORT)
        threading.Thread(target=health.accept_loop, args=(sock,), daemon=True).start()
        socks.append(sock)
    yield
    for sock in socks:
        sock.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mesh(servers: None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Mesh]:
    m = Mesh(tmp_path_factory.mktemp("grpc-mesh"), SETTINGS)
    await m.start()
    await m.apply(sn.from_objects(objects(), SETTINGS))
    yield m
    await m.stop()


def log_lines(mesh: Mesh, cluster: str, budget: float = 5.0) -> list[dict[str, object]]:
    """Access-log records whose cluster name ends with ``cluster``, waiting (bounded) for one."""
    deadline = time.monotonic() + budget
    while True:
        path = Path(mesh.settings.access_log_path)
        text = path.read_text() if path.exists() else ""
        recs = [json.loads(line) for line in text.split("\n")[:-1]]
        found = [r for r in recs if str(r.get("upstream_cluster")).endswith(cluster)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.parametrize("ns", ["mesh", "kube"])
async def test_grpc_health_check_through_envoy(mesh: Mesh, ns: str) -> None:
    ip = CLUSTER_IPS[ns]
    ok = grpc_health.check(ip, GRPC_PORT, "podinfo", connect_timeout=3.0, rpc_timeout=3.0)
    assert (ok.code, ok.status) == (grpc_health.OK, grpc_health.SERVING), ok
    unknown = grpc_health.check(ip, GRPC_PORT, "nosuch", connect_timeout=3.0, rpc_timeout=3.0)
    assert (unknown.code, unknown.message) == (grpc_health.NOT_FOUND, "unknown service")
    assert mesh.rejections == 0  # Envoy took the HTTP/2 clusters of both flavours
    recs = log_lines(mesh, f"|{GRPC_PORT}||podinfo.{ns}.svc.cluster.local")
    assert recs and recs[-1]["protocol"] == "HTTP/2" and recs[-1]["response_code"] == 200


async def test_no_ready_endpoint_is_grpc_unavailable(mesh: Mesh) -> None:
    objs = [o for o in objects() if sn.name_of(o) != "podinfo-1" or sn.namespace_of(o) != "kube"]
    await mesh.apply(sn.from_objects(objs, SETTINGS))
    try:
        r = grpc_health.check(CLUSTER_IPS["kube"], GRPC_PORT, connect_timeout=3.0,
                              rpc_timeout=3.0)
        assert r.code == grpc_health.UNAVAILABLE, r
    finally:
        await mesh.apply(sn.from_objects(objects(), SETTINGS))
    with socket.create_connection((CLUSTER_IPS["kube"], GRPC_PORT), timeout=3.0):
        pass  # the listener stayed up throughout
