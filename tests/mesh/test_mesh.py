"""Real Envoy: the generated config serves real traffic between tiny backends on 127.77.x.y."""

from __future__ import annotations

import asyncio
import copy
import json
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from turnout.mesh import snapshot as sn
from turnout.mesh.mesh import Mesh
from turnout.types import Obj

from . import helpers as h

pytestmark = pytest.mark.asyncio(loop_scope="module")

NODE = "127.77.0.1"
N = 200
Z = 4.5  # two-sided bound: a correct 50/50 split fails with probability < 1e-5


def within_binomial(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= Z * math.sqrt(n * p * (1 - p))


class _Identity(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        body = json.dumps({"who": self.server.identity,  # type: ignore[attr-defined]
                           "path": self.path, "host": self.headers.get("host")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


BACKENDS = {  # address → identity
    ("127.77.1.1", 5002): "kp-v1", ("127.77.1.2", 5002): "kp-v2",
    ("127.77.2.1", 5002): "ads-v1", ("127.77.2.2", 5002): "ads-v2",
    ("127.77.2.10", 3000): "frontend",
    ("127.77.3.1", 8080): "web-v1", ("127.77.3.2", 8080): "web-v2",
}


@pytest.fixture(scope="module")
def backends() -> Iterator[None]:
    servers = []
    for (ip, port), ident in BACKENDS.items():
        srv = ThreadingHTTPServer((ip, port), _Identity)
        srv.identity = ident  # type: ignore[attr-defined]
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(srv)
    yield
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def scenario_objects() -> list[Obj]:
    objs = h.seed_objects()
    vs = copy.deepcopy(h.SEED_VS)
    vs["spec"]["http"][:0] = [
        {"match": [{"headers": {"x-test": {"exact": "missing"}}}],
         "route": [{"destination": {"host": "advertisements", "subset": "nosuch"}}]},
        {"match": [{"headers": {"x-test": {"exact": "empty"}}}],
         "route": [{"destination": {"host": "advertisements", "subset": "v3"}}]},
        {"match": [{"headers": {"x-test": {"exact": "fault"}}}],
         "fault": {"abort": {"httpStatus": 418, "percentage": {"value": 100}}},
         "route": [{"destination": {"host": "advertisements", "subset": "v1"}}]},
    ]
    dr = copy.deepcopy(h.SEED_DR)
    dr["spec"]["subsets"].append({"name": "v3", "labels": {"version": "v3"}})
    objs = [o for o in objs if o not in (h.SEED_VS, h.SEED_DR)] + [vs, dr]
    kp_labels = {"app": "ads"}
    objs += [
        h.namespace("kp"),
        h.service("ads", "kp", "127.77.200.1",
                  [{"port": 5002, "targetPort": "web", "nodePort": 30502}], kp_labels,
                  kind="NodePort"),
        h.pod("kp-v1", "kp", "127.77.1.1", {**kp_labels, "version": "v1"},
              ports=[{"name": "web", "containerPort": 5002}]),
        h.pod("kp-v2", "kp", "127.77.1.2", {**kp_labels, "version": "v2"},
              ports=[{"name": "web", "containerPort": 5002}]),
        h.pod("client", "kp", "127.77.1.10", {"app": "client"}),
        h.GATEWAY, h.GATEWAY_VS,
        h.namespace("ing"),
        h.service("web", "ing", "127.77.200.4", [{"port": 80, "targetPort": 8080}],
                  {"app": "web"}),
        h.service("webv2", "ing", "127.77.200.5", [{"port": 80, "targetPort": 8080}],
                  {"app": "webv2"}),
        h.pod("web-1", "ing", "127.77.3.1", {"app": "web"}),
        h.pod("webv2-1", "ing", "127.77.3.2", {"app": "webv2"}),
        ingress("web", "web", {}),
        ingress("web-canary", "webv2", {"nginx.ingress.kubernetes.io/canary": "true",
                                        "nginx.ingress.kubernetes.io/canary-weight": "50"}),
    ]
    return objs


def ingress(name: str, backend: str, annotations: dict[str, str]) -> Obj:
    return {"kind": "Ingress", "metadata": {
        "name": name, "namespace": "ing",
        "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/", **annotations}},
        "spec": {"rules": [{"http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": backend, "port": {"number": 80}}}}]}}]}}


SETTINGS = sn.MeshSettings(node_address=NODE, concurrency=1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mesh(backends: None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Mesh]:
    m = Mesh(tmp_path_factory.mktemp("mesh"), SETTINGS)
    await m.start()
    await m.apply(sn.from_objects(scenario_objects(), SETTINGS))
    yield m
    await m.stop()


def via(pod_ip: str, port: int = 15001) -> httpx.Client:
    return httpx.Client(proxy=f"http://{pod_ip}:{port}", trust_env=False, timeout=5.0)


def tally(client: httpx.Client, url: str, n: int, headers: dict[str, str] | None = None,
          budget: float = 10.0) -> Counter[str]:
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + budget
    for _ in range(n):
        assert time.monotonic() < deadline, f"load loop exceeded {budget}s"
        r = client.get(url, headers=headers)
        counts[r.json()["who"] if r.status_code == 200 else str(r.status_code)] += 1
    return counts


async def test_kube_proxy_mode_splits_evenly_and_ignores_nothing(mesh: Mesh) -> None:
    with via("127.77.1.10") as c:
        counts = tally(c, "http://ads:5002/", N)
        assert set(counts) == {"kp-v1", "kp-v2"}
        assert within_binomial(counts["kp-v1"], N, 0.5), counts
        for url in ("http://ads.kp:5002/x", "http://ads.kp.svc:5002/x",
                    "http://ads.kp.svc.cluster.local:5002/x", "http://127.77.200.1:5002/x"):
            assert c.get(url).status_code == 200, url


async def test_hosts_that_are_not_services_pass_through(mesh: Mesh) -> None:
    with via("127.77.2.10") as c:
        r = c.get("http://127.77.3.2:8080/direct")
    assert r.status_code == 200 and r.json()["who"] == "web-v2"
    rec = await wait_log(mesh, route_name="passthrough")
    assert rec["upstream_cluster"] == "PassthroughCluster"


async def test_outside_mesh_caller_ignores_virtual_service(mesh: Mesh) -> None:
    with via("127.77.1.10") as c:
        counts = tally(c, "http://advertisements.ns3:5002/ads", 60)
    assert counts["ads-v1"] > 0 and counts["ads-v2"] > 0, counts


async def test_seed_virtual_service_splits_products_and_pins_home(mesh: Mesh) -> None:
    with via("127.77.2.10") as c:
        products = tally(c, "http://advertisements:5002/ads", N, {"page-source": "products"})
        assert within_binomial(products["ads-v1"], N, 0.5), products
        assert tally(c, "http://advertisements:5002/ads", 50, {"page-source": "home"}) == \
            Counter({"ads-v1": 50})
        assert tally(c, "http://advertisements:5002/ads", 50) == Counter({"ads-v1": 50})


def last_log(mesh: Mesh, **match: str) -> dict[str, object]:
    text = Path(mesh.settings.access_log_path).read_text()
    # Envoy flushes its buffer as it fills: the last line may still be half written
    lines = text.split("\n")[:-1]
    for line in reversed(lines):
        rec = json.loads(line)
        if all(rec.get(k) == v for k, v in match.items()):
            return dict(rec)
    raise AssertionError(f"no access log line with {match}")


async def wait_log(mesh: Mesh, **match: str) -> dict[str, object]:
    deadline = time.monotonic() + 5
    while True:
        try:
            return last_log(mesh, **match)
        except (AssertionError, FileNotFoundError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_missing_subset_is_503_nc_and_empty_subset_is_503_uh(mesh: Mesh) -> None:
    with via("127.77.2.10") as c:
        r = c.get("http://advertisements:5002/ads", headers={"x-test": "missing"})
        assert r.status_code == 503
        r2 = c.get("http://advertisements:5002/ads", headers={"x-test": "empty"})
        assert r2.status_code == 503
    nc = await wait_log(mesh, route_name="vs/ns3/ads-vs/0")
    assert nc["response_flags"] == "NC"
    uh = await wait_log(mesh, route_name="vs/ns3/ads-vs/1")
    assert uh["response_flags"] == "UH"
    assert uh["upstream_cluster"] == "outbound|5002|v3|advertisements.ns3.svc.cluster.local"
    assert uh["source_namespace"] == "ns3" and uh["source_name"] == "frontend-1"


async def test_fault_abort(mesh: Mesh) -> None:
    with via("127.77.2.10") as c:
        assert c.get("http://advertisements:5002/", headers={"x-test": "fault"}).status_code == 418
    rec = await wait_log(mesh, route_name="vs/ns3/ads-vs/2")
    assert rec["response_flags"] == "FI" and rec["response_code"] == 418


async def test_gateway_routes_to_frontend(mesh: Mesh) -> None:
    with httpx.Client(trust_env=False, timeout=5.0) as c:
        r = c.get(f"http://{NODE}:30003/products")
    assert r.status_code == 200 and r.json()["who"] == "frontend"
    assert r.json()["path"] == "/products"
    rec = await wait_log(mesh, listener_kind="gateway")
    assert rec["route_name"] == "vs/ns3/frontend/0"


async def test_ingress_canary_weight(mesh: Mesh) -> None:
    with httpx.Client(trust_env=False, timeout=5.0) as c:
        counts = tally(c, f"http://{NODE}:32000/", N)
    assert within_binomial(counts["web-v2"], N, 0.5), counts


async def test_weight_change_via_rds_applies_to_next_request(mesh: Mesh) -> None:
    objs = scenario_objects()
    vs = next(o for o in objs if sn.name_of(o) == "ads-vs")
    vs["spec"]["http"][3]["route"][0]["weight"] = 0
    vs["spec"]["http"][3]["route"][1]["weight"] = 100
    lds_before = mesh.layout.lds.read_text()
    before = mesh.rejections
    with via("127.77.2.10") as c:
        assert c.get("http://advertisements:5002/").status_code == 200  # keep-alive open
        await mesh.apply(sn.from_objects(objs, SETTINGS))
        assert mesh.rejections == before
        counts = tally(c, "http://advertisements:5002/ads", 40, {"page-source": "products"})
    assert counts == Counter({"ads-v2": 40})
    assert mesh.layout.lds.read_text() == lds_before  # only the route table changed
    await mesh.apply(sn.from_objects(scenario_objects(), SETTINGS))


async def test_envoy_killed_is_restarted_with_its_config(mesh: Mesh) -> None:
    assert mesh.envoy is not None
    old = mesh.envoy.pid
    mesh.envoy.kill_for_test()
    deadline = time.monotonic() + 15
    while mesh.envoy.pid == old or not await _ready(mesh):
        assert time.monotonic() < deadline, "envoy was not restarted"
        await asyncio.sleep(0.05)
    with via("127.77.2.10") as c:
        counts = tally(c, "http://advertisements:5002/ads", 20)
    assert counts == Counter({"ads-v1": 20})
    assert mesh.envoy.restarts == 1


async def _ready(mesh: Mesh) -> bool:
    assert mesh.envoy is not None
    try:
        return "LIVE" in await mesh.envoy.admin("/ready")
    except (httpx.HTTPError, OSError):
        return False


async def test_a_uuid_regex_is_accepted_by_envoy_as_istio_configures_it(mesh: Mesh) -> None:
    """Envoy's default RE2 program-size limit (100) refuses a UUID pattern; Istio's bootstrap
    raises it to 32768, and so does turnout's (issue 14)."""
    uuid = ("ref-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
            "(-[0-9]{1,12})?")  # RE2 program size above Envoy's default 100
    objs = scenario_objects()
    vs = next(o for o in objs if sn.name_of(o) == "ads-vs")
    vs["spec"]["http"][3]["match"][0]["headers"]["page-source"] = {"regex": uuid}
    vs["spec"]["http"][3]["route"][0]["weight"] = 0
    vs["spec"]["http"][3]["route"][1]["weight"] = 100
    before = mesh.rejections
    await mesh.apply(sn.from_objects(objs, SETTINGS))
    assert mesh.rejections == before
    with via("127.77.2.10") as c:
        counts = tally(c, "http://advertisements:5002/ads", 10,
                       {"page-source": "ref-0b6c7a52-1f0e-4d8a-9d1e-5f2a3b4c5d6e-42"})
    assert counts == Counter({"ads-v2": 10})
    await mesh.apply(sn.from_objects(scenario_objects(), SETTINGS))


async def test_rejected_update_is_logged_and_old_config_kept(
        mesh: Mesh, caplog: pytest.LogCaptureFixture) -> None:
    objs = scenario_objects()
    vs = next(o for o in objs if sn.name_of(o) == "ads-vs")
    vs["spec"]["http"][3]["match"][0]["headers"]["page-source"] = {"regex": "(unclosed"}
    original = mesh.settings
    mesh.settings = replace(original, apply_timeout=1.0)
    try:
        await mesh.apply(sn.from_objects(objs, SETTINGS))
    finally:
        mesh.settings = original
    assert "did not accept the RDS update" in caplog.text
    with via("127.77.2.10") as c:
        assert c.get("http://advertisements:5002/ads").json()["who"] == "ads-v1"
    await mesh.apply(sn.from_objects(scenario_objects(), SETTINGS))


async def test_cluster_ip_and_node_port_without_proxy(mesh: Mesh) -> None:
    with httpx.Client(trust_env=False, timeout=5.0) as c:
        cip = tally(c, "http://127.77.200.1:5002/", 60)
        node = tally(c, f"http://{NODE}:30502/", 60)
    assert set(cip) == set(node) == {"kp-v1", "kp-v2"}
    rec = await wait_log(mesh, listener_kind="nodeport")
    assert rec["source_name"] == "ads" and rec["route_name"] == "svc/kp/ads/5002"


async def test_pod_replaced_on_the_same_ip_and_endpoint_removed(mesh: Mesh) -> None:
    objs = [o for o in scenario_objects() if sn.name_of(o) not in ("kp-v2", "client")]
    objs.append(h.pod("client-2", "kp", "127.77.1.10", {"app": "client"}))
    before = mesh.rejections
    await mesh.apply(sn.from_objects(objs, SETTINGS))
    assert mesh.rejections == before  # every step acknowledged, no timeout
    try:
        with via("127.77.1.10") as c:
            assert tally(c, "http://ads:5002/", 30) == Counter({"kp-v1": 30})
        rec = await wait_log(mesh, source_name="client-2")
        assert rec["upstream_cluster"] == "kube|5002||ads.kp.svc.cluster.local"
    finally:
        await mesh.apply(sn.from_objects(scenario_objects(), SETTINGS))


async def test_eds_files_mode_serves_and_follows_endpoint_changes(
        backends: None, tmp_path: Path) -> None:
    # a second Envoy beside the module's: listeners of its own (no port sharing between them)
    settings = replace(SETTINGS, eds_files=True, gateway_node_port=0, nginx_node_port=0,
                       outbound_port=15011)
    objs = [h.namespace("kp"),
            h.service("ads", "kp", "127.77.201.1", [{"port": 5002, "targetPort": 5002}],
                      {"app": "ads"}),
            h.pod("kp-v1", "kp", "127.77.1.1", {"app": "ads"}),
            h.pod("client", "kp", "127.77.1.11", {})]
    m = Mesh(tmp_path, settings)
    await m.start()
    try:
        await m.apply(sn.from_objects(objs, settings))
        with via("127.77.1.11", 15011) as c:
            assert tally(c, "http://ads:5002/", 10) == Counter({"kp-v1": 10})
            await m.apply(sn.from_objects([*objs, h.pod("kp-v2", "kp", "127.77.1.2",
                                                        {"app": "ads"})], settings))
            assert set(tally(c, "http://ads:5002/", 40)) == {"kp-v1", "kp-v2"}
        assert list((tmp_path / "xds" / "eds").glob("*.json"))
        assert m.rejections == 0
    finally:
        await m.stop()


async def test_few_inotify_instances(mesh: Mesh) -> None:
    """Linux allows 128 per user, shared by all processes: file xDS must stay frugal."""
    assert mesh.envoy is not None and mesh.envoy.pid is not None
    fd_dir = Path(f"/proc/{mesh.envoy.pid}/fd")
    if not fd_dir.exists():
        pytest.skip("no /proc")
    used = 0
    for fd in fd_dir.iterdir():
        try:
            used += "inotify" in str(fd.readlink())
        except OSError:
            continue
    # CDS + LDS (2 each, watched directories) + one per route table: gateway, nginx, kube/kp,
    # kube/ing, mesh/ns3 — not one per cluster or per pod.
    assert 0 < used <= 10, used


async def test_taken_address_fails_one_listener_only(
        mesh: Mesh, caplog: pytest.LogCaptureFixture) -> None:
    blocker = socket.socket()
    blocker.bind((NODE, 30555))
    blocker.listen()
    objs = [*scenario_objects(),
            h.service("busy", "kp", "127.77.200.20", [{"port": 5002, "nodePort": 30555}],
                      {"app": "ads"}, kind="NodePort")]
    try:
        started = time.monotonic()
        await mesh.apply(sn.from_objects(objs, SETTINGS))
        assert time.monotonic() - started < 5
        assert "could not apply listener nodeport/kp/busy/30555" in caplog.text
        with via("127.77.1.10") as c:  # the rest of the update is live
            assert c.get("http://busy:5002/").status_code == 200
    finally:
        blocker.close()
        await mesh.apply(sn.from_objects(scenario_objects(), SETTINGS))
