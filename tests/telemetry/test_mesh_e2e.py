"""End to end: real Envoy (the mesh), two backends of different latency, telemetry on its log."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from turnout.mesh import snapshot as sn
from turnout.mesh.mesh import Mesh
from turnout.telemetry.service import Telemetry
from turnout.types import Obj

EXTRA_S = 0.05
BACKENDS = {"127.78.1.1": ("1.0", 0.0), "127.78.1.2": ("2.0", EXTRA_S)}
CLIENT = "127.78.1.10"


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        time.sleep(1.0 if self.path == "/hang" else self.server.delay)  # type: ignore[attr-defined]
        body = json.dumps({"version": self.server.version}).encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backends() -> Iterator[None]:
    servers = []
    for ip, (version, delay) in BACKENDS.items():
        srv = ThreadingHTTPServer((ip, 5002), _Slow)
        srv.version, srv.delay = version, delay  # type: ignore[attr-defined]
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(srv)
    yield
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def pod(name: str, ip: str, labels: dict[str, str]) -> Obj:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "e2e", "labels": labels},
            "spec": {"containers": [{"name": "app", "ports": [{"containerPort": 5002}]}]},
            "status": {"podIP": ip, "phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def objects() -> list[Obj]:
    pods = [pod(f"ads-{v}", ip, {"app": "ads", "version": v}) for ip, (v, _) in BACKENDS.items()]
    pods.append(pod("client", CLIENT, {"app": "client", "version": "1.0"}))
    return [{"kind": "Namespace", "metadata": {"name": "e2e", "labels": {}}},
            {"kind": "Service", "metadata": {"name": "ads", "namespace": "e2e"},
             "spec": {"type": "ClusterIP", "clusterIP": "127.78.200.1", "selector": {"app": "ads"},
                      "ports": [{"port": 5002, "protocol": "TCP", "targetPort": 5002}]}},
            *pods]


async def test_envoy_lines_become_records_per_version(tmp_path: Path, backends: None) -> None:
    settings = sn.MeshSettings(node_address="127.78.0.1", concurrency=1)
    mesh = Mesh(tmp_path / "mesh", settings)
    await mesh.start()
    tel = Telemetry(tmp_path / "tel", Path(mesh.settings.access_log_path), metrics_port=None,
                    exporter=None)
    try:
        await mesh.apply(sn.from_objects(objects(), settings))
        for o in objects():
            if o["kind"] == "Pod":
                tel.update_pod(o)
        sent: Counter[str] = Counter()

        def load() -> None:
            deadline = time.monotonic() + 20
            with httpx.Client(proxy=f"http://{CLIENT}:15001", trust_env=False,
                              timeout=5) as c:
                for i in range(80):
                    assert time.monotonic() < deadline
                    r = c.get(f"http://ads:5002/item/{i}")
                    assert r.status_code == 200
                    sent[r.json()["version"]] += 1
        await asyncio.to_thread(load)
        deadline = time.monotonic() + 10
        while tel.ingested < 80 and time.monotonic() < deadline:
            await tel.flush()
            await asyncio.sleep(0.1)
        assert tel.ingested == 80
        vs = {v["version"]: v for v in tel.versions("e2e", "ads", timedelta(minutes=5))}
        assert {k: v["requests"] for k, v in vs.items()} == dict(sent)
        c = tel.compare("e2e", "ads", "1.0", "2.0", timedelta(minutes=5))
        assert abs(c["changes"]["p50"]["change"] - EXTRA_S * 1000) <= 15
        # Envoy's microseconds: every line carries `duration_us` (a JSON number), consistent
        # with its whole-ms `%DURATION%`, and the stored latency is exactly it, in ms
        logged = [json.loads(x) for x in
                  Path(mesh.settings.access_log_path).read_text().splitlines()]
        assert len(logged) == 80
        for x in logged:
            assert isinstance(x["duration_us"], int) and isinstance(x["duration_ms"], int)
            assert abs(x["duration_us"] / 1000 - x["duration_ms"]) < 1.5, x
        stored = sorted(r[0] for r in tel.store.query("SELECT duration_ms FROM requests"))
        assert stored == sorted(x["duration_us"] / 1000 for x in logged)
        assert any(not v.is_integer() for v in stored)  # not whole milliseconds any more
        rows = tel.store.query("SELECT DISTINCT source_workload, source_version, endpoint, "
                               "dest_workload FROM requests ORDER BY dest_workload")
        assert rows == [("client", "1.0", "/item/?", "ads-1.0"),
                        ("client", "1.0", "/item/?", "ads-2.0")]
        # a client that gives up before the response: Envoy has no `duration_us` (null), and
        # the record falls back to its whole milliseconds
        with pytest.raises(httpx.TimeoutException):
            await asyncio.to_thread(
                httpx.get, "http://ads:5002/hang", proxy=f"http://{CLIENT}:15001",
                trust_env=False, timeout=0.3)
        deadline = time.monotonic() + 10
        while tel.ingested < 81 and time.monotonic() < deadline:
            await tel.flush()
            await asyncio.sleep(0.1)
        last = json.loads(Path(mesh.settings.access_log_path).read_text().splitlines()[-1])
        assert last["path"] == "/hang" and last["duration_us"] is None
        hung = tel.store.query("SELECT duration_ms, flags FROM requests WHERE path = '/hang'")
        assert hung == [(float(last["duration_ms"]), last["response_flags"])]
        assert hung[0][0] >= 250
    finally:
        await tel.stop()
        await mesh.stop()
