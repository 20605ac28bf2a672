"""Mesh figures: the cost of one Envoy hop as turnout configures it, and how fast it follows.

Run: `.venv/bin/python bench/mesh.py [--quick]`. Everything listens on 127.77.50.x (loopback);
every figure is printed beside a baseline measured in the same run:

1. latency at a fixed 1000 rps (open loop, keep-alive, timed from each request's *scheduled*
   send, so a stalled client or proxy is charged for every request it delays: no coordinated
   omission): backend directly vs two hand-written static Envoys (a minimal one, and one with
   turnout's access log, HTTP filters, retry policy, load balancer and circuit breakers) vs
   turnout's pod proxy listener (`translate` + `Mesh`); several interleaved rounds, the spread
   of the per-round figures printed beside each;
2. max throughput (wrk, 1 thread, 32 connections): the same targets, same Envoy binary and worker
   count, interleaved rounds, ratio against the like-for-like baseline per round;
3. time from a VirtualService weight flip (100/0 ↔ 0/100, `kubectl patch`) to traffic following
   it, end to end through a real turnout cluster (subprocess, real pods);
4. `translate` time and config size for 1000 services × 2 subsets × 4 endpoints.

The backends are a second Envoy answering with a static `direct_response`, so the backend costs
microseconds and the proxy hop dominates. Istio's published anchors are printed beside.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stats import load_average, median, spread  # noqa: E402
from _stats import wrk as run_wrk  # noqa: E402

from turnout.mesh import envoy as envoy_mod  # noqa: E402
from turnout.mesh import snapshot as sn  # noqa: E402
from turnout.mesh.mesh import Mesh  # noqa: E402
from turnout.mesh.translate import translate  # noqa: E402
from turnout.mesh.translate.accesslog import access_log  # noqa: E402
from turnout.types import Obj  # noqa: E402

KUBECTL = str(Path(sys.executable).parent / "kubectl")
NS = "bench"
HOST = f"web.{NS}.svc.cluster.local"
BACKENDS = {"127.77.50.1": "v1", "127.77.50.2": "v1", "127.77.50.3": "v2", "127.77.50.4": "v2"}
BACKEND_PORT = 8080
CLIENT_IP = "127.77.50.100"  # the client pod: turnout's proxy listener is CLIENT_IP:15001
STATIC_PROXY = ("127.77.50.200", 10000)  # the hand-written minimal static Envoy
MATCHED_PROXY = ("127.77.50.201", 10000)  # hand-written, with turnout's log, filters, retries
SERVICE_IP = "127.77.50.250"

ISTIO = {
    "sidecar": "Istio 1.24: ~0.20 vCPU, 60 MB per sidecar per 1000 rps",
    "latency": "Istio 1.20: client+server sidecars add +0.228 ms p90 / +0.298 ms p99 @1000 rps",
    "push": "istiod debounces pushes 100 ms (PILOT_DEBOUNCE_AFTER); 'seconds' in large meshes",
}


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- processes ---------------------------------------------------------------------------------

def _listener(name: str, ip: str, port: int, route: Obj) -> Obj:
    return {"name": name, "address": {"socket_address": {"address": ip, "port_value": port}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network."
                             "http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": name,
                    "route_config": {"virtual_hosts": [
                        {"name": "all", "domains": ["*"], "routes": [
                            {"match": {"prefix": "/"}, **route}]}]},
                    "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3."
                                 "Router"}}]}}]}]}


def backend_config() -> Obj:
    """Four direct_response listeners: the fastest HTTP backend there is."""
    return {"static_resources": {"listeners": [
        _listener(f"b{i}", ip, BACKEND_PORT, {"direct_response": {
            "status": 200, "body": {"inline_string": version}}})
        for i, (ip, version) in enumerate(BACKENDS.items())]}}


def static_proxy_config() -> Obj:
    """The minimal hand-written proxy: one listener, one round-robin cluster, same backends."""
    ip, port = STATIC_PROXY
    return {"static_resources": {
        "listeners": [_listener("proxy", ip, port, {"route": {"cluster": "web"}})],
        "clusters": [{"name": "web", "type": "STATIC", "connect_timeout": "1s",
                      "lb_policy": "ROUND_ROBIN", "load_assignment": {
                          "cluster_name": "web", "endpoints": [{"lb_endpoints": [
                              {"endpoint": {"address": {"socket_address": {
                                  "address": b, "port_value": BACKEND_PORT}}}}
                              for b in BACKENDS]}]}}]}}


HCM_TYPE = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
            "HttpConnectionManager")
# What an engineer would write by hand to get what turnout's pod listener does: the same three
# HTTP filters (fault injection, the dynamic forward proxy for passthrough, the router), the same
# retry policy as Istio's default, LEAST_REQUEST and open circuit breakers on the subsets.
MATCHED_FILTERS: list[Obj] = [
    {"name": "envoy.filters.http.fault", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
    {"name": "envoy.filters.http.dynamic_forward_proxy", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3."
                 "FilterConfig",
        "dns_cache_config": {"name": "turnout_passthrough", "dns_lookup_family": "V4_ONLY"}}},
    {"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
]
MATCHED_RETRY: Obj = {
    "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
    "num_retries": 2, "retriable_status_codes": [503],
    "retry_host_predicate": [{
        "name": "envoy.retry_host_predicates.previous_hosts", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3."
                     "PreviousHostsPredicate"}}],
    "host_selection_retry_max_attempts": 5}
MATCHED_BREAKERS: Obj = {"thresholds": [{
    "max_connections": 4294967295, "max_pending_requests": 4294967295,
    "max_requests": 4294967295, "max_retries": 4294967295, "track_remaining": True}]}


def matched_proxy_config(log: Path) -> Obj:
    """The hand-written baseline that does what turnout's pod listener does, statically: one
    listener taking proxy requests for `web`, the JSON access log (same format, same function),
    the same filters, a 50/50 split over two subsets with the same retry policy, LEAST_REQUEST
    and circuit breakers. Not in it: xDS delivery (files, RDS/EDS), the other pods' and the
    Service's listeners turnout's Envoy also holds, the passthrough virtual host."""
    ip, port = MATCHED_PROXY
    subsets = {"v1": [b for b, v in BACKENDS.items() if v == "v1"],
               "v2": [b for b, v in BACKENDS.items() if v == "v2"]}
    hcm = {"@type": HCM_TYPE, "stat_prefix": "matched", "codec_type": "AUTO",
           "normalize_path": True, "merge_slashes": True,
           "access_log": access_log(str(log), "pod", NS, "client", f"pod/{NS}/client"),
           "http_filters": MATCHED_FILTERS,
           "route_config": {"name": "matched", "virtual_hosts": [{
               "name": "web", "domains": [HOST, f"{HOST}:80"], "routes": [{
                   "name": f"vs/{NS}/web/0", "match": {"prefix": "/"}, "route": {
                       "timeout": "0s",
                       "weighted_clusters": {"clusters": [
                           {"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}]},
                       "retry_policy": MATCHED_RETRY}}]}]}}
    return {"static_resources": {
        "listeners": [{"name": "matched", "address": {"socket_address": {
            "address": ip, "port_value": port}}, "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}]}],
        "clusters": [{"name": name, "type": "STATIC", "connect_timeout": "10s",
                      "lb_policy": "LEAST_REQUEST", "circuit_breakers": MATCHED_BREAKERS,
                      "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
                          {"endpoint": {"address": {"socket_address": {
                              "address": b, "port_value": BACKEND_PORT}}}} for b in ips]}]}}
                     for name, ips in subsets.items()]}}


def matched_differences(matched: Obj, settings: sn.MeshSettings) -> list[str]:
    """What the matched baseline's hand-written config does differently from the config
    `translate` generates for the client pod (empty: like for like). Checked in every run, so
    the baseline cannot drift from turnout's config unnoticed."""
    cfg = translate(bench_snapshot(settings))
    ours = next(iter(matched["static_resources"]["listeners"]))
    mine = ours["filter_chains"][0]["filters"][0]["typed_config"]
    theirs = cfg.listeners[f"pod/{NS}/client"]["filter_chains"][0]["filters"][0]["typed_config"]
    out = []
    for key in ("http_filters", "codec_type", "normalize_path", "merge_slashes"):
        if mine.get(key) != theirs.get(key):
            out.append(key)
    log_a = mine["access_log"][0]["typed_config"]["log_format"]
    log_b = theirs["access_log"][0]["typed_config"]["log_format"]
    if log_a != log_b:
        out.append("access log format")
    route_a = mine["route_config"]["virtual_hosts"][0]["routes"][0]["route"]
    vhosts = cfg.routes[f"mesh/{NS}"]["virtual_hosts"]
    route_b = next(v for v in vhosts if HOST in v["domains"])["routes"][0]["route"]
    for key in ("retry_policy", "timeout"):
        if route_a.get(key) != route_b.get(key):
            out.append(f"route {key}")
    weights = [c["weight"] for c in route_b["weighted_clusters"]["clusters"]]
    if weights != [c["weight"] for c in route_a["weighted_clusters"]["clusters"]]:
        out.append("route weights")
    subset = cfg.clusters[f"outbound|80|v1|{HOST}"]
    mine_cluster = matched["static_resources"]["clusters"][0]
    for key in ("lb_policy", "circuit_breakers", "connect_timeout"):
        if subset.get(key) != mine_cluster.get(key):
            out.append(f"cluster {key}")
    return out


@contextmanager
def static_envoy(config: Obj, workdir: Path, name: str, workers: int) -> Iterator[int]:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    log = (workdir / f"{name}.log").open("wb")
    # the flags turnout.mesh.envoy runs its Envoy with (the log flush matters to the matched one)
    proc = subprocess.Popen([envoy_mod.find_envoy(), "-c", str(path), "--concurrency",
                             str(workers), "--disable-hot-restart", "-l", "warning",
                             "--file-flush-interval-msec", "200"],
                            stdout=log, stderr=log, start_new_session=True)
    try:
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_http(addr: tuple[str, int], host: str = "", proxy: bool = False,
              timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = RawClient(addr, host, proxy)
            status, _ = c.get("/")
            c.close()
            if status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on {addr} after {timeout}s")


# -- a tiny keep-alive HTTP/1.1 client (cheap enough not to dominate a 100 µs hop) ----------

class RawClient:
    def __init__(self, addr: tuple[str, int], host: str = "", proxy: bool = False) -> None:
        self.sock = socket.create_connection(addr, timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = host or f"{addr[0]}:{addr[1]}"
        self.proxy = proxy

    def request_bytes(self, path: str) -> bytes:
        target = f"http://{self.host}{path}" if self.proxy else path
        return f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()

    def get(self, path: str) -> tuple[int, bytes]:
        self.sock.sendall(self.request_bytes(path))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by peer")
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
        length = int(m.group(1)) if m else 0
        while len(body) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by peer")
            body += chunk
        return int(head[9:12]), body

    def close(self) -> None:
        self.sock.close()


@dataclass
class Target:
    name: str
    addr: tuple[str, int]
    host: str = ""
    proxy: bool = False


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class LatencyResult:
    lat_ms: list[float]
    rounds: list[list[float]] = field(default_factory=list)  # each round's latencies
    late: int = 0
    errors: int = 0
    cpu_s: float = 0.0  # CPU seconds of the measured proxy during the runs
    wall_s: float = 0.0
    rss: float = 0.0

    @property
    def vcpu(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


def fixed_rate(target: Target, rate: float, seconds: float, pid: int | None,
               into: LatencyResult, connections: int = 8) -> None:
    """Open loop, one thread, select(): request i is due at t0 + i/rate and goes out on an idle
    keep-alive connection (a request due while all are busy goes out when one frees; any send
    > 2 ms after its due time is counted as late). Latency runs from the *due* time to the moment
    select() reports the last byte, so time a request spent waiting behind a slow one, or behind a
    stalled client, is charged to it (no coordinated omission). select(), not epoll: epoll's
    timeout is whole milliseconds, so every send would be up to 1 ms late by the clock alone."""
    n = int(rate * seconds)
    clients = [RawClient(target.addr, target.host, target.proxy) for _ in range(connections)]
    for c in clients:  # warm every connection and Envoy's upstream pool
        for _ in range(5):
            c.get("/")
    request = clients[0].request_bytes("/")
    by_fd = {c.sock.fileno(): c for c in clients}
    idle = list(clients)
    sent_at: dict[int, float] = {}  # fd -> due time of the request in flight on it
    this_round: list[float] = []
    bufs: dict[int, bytes] = {}
    live = set(by_fd)
    for c in clients:
        c.sock.setblocking(False)
    cpu0 = cpu_seconds(pid) if pid else 0.0
    t0 = time.perf_counter()
    deadline = t0 + seconds * 3 + 5
    i = 0
    try:
        while (i < n or sent_at) and time.perf_counter() < deadline:
            now = time.perf_counter()
            while i < n and t0 + i / rate <= now and idle:
                c = idle.pop()
                c.sock.send(request)
                due = t0 + i / rate
                sent_at[c.sock.fileno()] = due
                if now - due > 0.002:
                    into.late += 1
                i += 1
            wait = max(0.0, t0 + i / rate - time.perf_counter()) if i < n and idle else 0.05
            for fd in select.select(list(live), [], [], wait)[0]:
                data = by_fd[fd].sock.recv(65536)
                got = time.perf_counter()
                if not data:
                    into.errors += 1
                    sent_at.pop(fd, None)
                    live.discard(fd)
                    continue
                buf = bufs.get(fd, b"") + data
                done, status = response_complete(buf)
                if not done:
                    bufs[fd] = buf
                    continue
                bufs.pop(fd, None)
                this_round.append((got - sent_at.pop(fd)) * 1000)
                if status != 200:
                    into.errors += 1
                idle.append(by_fd[fd])
    finally:
        into.lat_ms += this_round
        into.rounds.append(this_round)
        into.wall_s += time.perf_counter() - t0
        if pid:
            into.cpu_s += cpu_seconds(pid) - cpu0
            into.rss = max(into.rss, rss_mb(pid))
        into.errors += n - i
        for c in clients:
            c.close()


def response_complete(buf: bytes) -> tuple[bool, int]:
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False, 0
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    return len(body) >= (int(m.group(1)) if m else 0), int(head[9:12])


def wrk(target: Target, seconds: int, workdir: Path) -> tuple[float, int, str]:
    """(requests/s, non-2xx + socket errors, command) of wrk -t1 -c32."""
    ip, port = target.addr
    script = None
    if target.proxy:
        script = workdir / "proxy.lua"
        script.write_text(f'wrk.path = "http://{target.host}/"\n'
                          f'wrk.headers["Host"] = "{target.host}"\n')
    r = run_wrk(f"http://{ip}:{port}/", seconds, 1, 32, script)
    return r.rps, r.errors, r.command


# -- the snapshot turnout translates -----------------------------------------------------------

def bench_snapshot(settings: sn.MeshSettings, w1: int = 50, w2: int = 50) -> sn.Snapshot:
    labels = {"app": "web"}
    objs: list[Obj] = [
        {"kind": "Namespace", "metadata": {"name": NS, "labels": {"istio-injection": "enabled"}}},
        {"kind": "Service", "metadata": {"name": "web", "namespace": NS},
         "spec": {"type": "ClusterIP", "clusterIP": SERVICE_IP, "selector": labels,
                  "ports": [{"name": "http", "port": 80, "targetPort": BACKEND_PORT}]}},
        pod("client", NS, CLIENT_IP, {"app": "client"}),
        {"kind": "DestinationRule", "metadata": {"name": "web", "namespace": NS},
         "spec": {"host": "web", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                             {"name": "v2", "labels": {"version": "v2"}}]}},
        {"kind": "VirtualService", "metadata": {"name": "web", "namespace": NS},
         "spec": {"hosts": ["web"], "http": [{"route": [
             {"destination": {"host": "web", "subset": "v1"}, "weight": w1},
             {"destination": {"host": "web", "subset": "v2"}, "weight": w2}]}]}},
    ]
    for i, (ip, version) in enumerate(BACKENDS.items()):
        objs.append(pod(f"web-{version}-{i}", NS, ip, {**labels, "version": version},
                        BACKEND_PORT))
    return sn.from_objects(objs, settings)


def pod(name: str, ns: str, ip: str, labels: dict[str, str], port: int = 0) -> Obj:
    ports = [{"containerPort": port}] if port else []
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "app", "ports": ports}]},
            "status": {"podIP": ip, "phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def big_snapshot(services: int = 1000, namespaces: int = 10) -> sn.Snapshot:
    """`services` Services, each with a DR (2 subsets), a 90/10 VS and 4 pods (2 per subset)."""
    objs: list[Obj] = [{"kind": "Namespace", "metadata": {
        "name": f"ns{n}", "labels": {"istio-injection": "enabled"}}} for n in range(namespaces)]
    for s in range(services):
        ns, name = f"ns{s % namespaces}", f"svc{s}"
        objs.append({"kind": "Service", "metadata": {"name": name, "namespace": ns},
                     "spec": {"type": "ClusterIP", "clusterIP": f"127.90.{s // 250}.{s % 250 + 1}",
                              "selector": {"app": name},
                              "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
        objs.append({"kind": "DestinationRule", "metadata": {"name": name, "namespace": ns},
                     "spec": {"host": name, "subsets": [
                         {"name": "v1", "labels": {"version": "v1"}},
                         {"name": "v2", "labels": {"version": "v2"}}]}})
        objs.append({"kind": "VirtualService", "metadata": {"name": name, "namespace": ns},
                     "spec": {"hosts": [name], "http": [{"route": [
                         {"destination": {"host": name, "subset": "v1"}, "weight": 90},
                         {"destination": {"host": name, "subset": "v2"}, "weight": 10}]}]}})
        for p in range(4):
            k = s * 4 + p
            objs.append(pod(f"{name}-{p}", ns, f"127.{100 + k // 62500}.{k // 250 % 250}."
                            f"{k % 250 + 1}", {"app": name, "version": f"v{p % 2 + 1}"}, 8080))
    return sn.from_objects(objs, sn.MeshSettings(gateway_node_port=0, nginx_node_port=0))


def translation(services: int) -> tuple[float, dict[str, int], dict[str, int]]:
    """(ms of one translate, resource counts, JSON bytes per resource type)."""
    snap = big_snapshot(services)
    t0 = time.perf_counter()
    cfg = translate(snap)
    ms = (time.perf_counter() - t0) * 1000
    counts = {"clusters": len(cfg.clusters), "endpoints": len(cfg.endpoints),
              "listeners": len(cfg.listeners), "routes": len(cfg.routes)}
    sizes = {k: len(json.dumps(list(getattr(cfg, k).values()), separators=(",", ":")))
             for k in counts}
    return ms, counts, sizes


# -- the end-to-end flip through a real cluster ---------------------------------------------

SERVER = ("import http.server, os\n"
          "class H(http.server.BaseHTTPRequestHandler):\n"
          "    protocol_version = 'HTTP/1.1'\n"
          "    def do_GET(self):\n"
          "        b = (os.environ['VERSION'] + ' ' + os.environ['HOSTNAME']).encode()\n"
          "        self.send_response(200)\n"
          "        self.send_header('Content-Length', str(len(b)))\n"
          "        self.end_headers()\n"
          "        self.wfile.write(b)\n"
          "    def log_message(self, *a):\n"
          "        pass\n"
          "http.server.ThreadingHTTPServer((os.environ['POD_IP'], 8080), H).serve_forever()\n")


def flip_manifests() -> str:
    docs: list[Obj] = []
    for name, version in (("web-v1", "v1"), ("web-v2", "v2"), ("client", "client")):
        labels = {"app": "client" if name == "client" else "web", "version": version}
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": name, "namespace": NS},
                     "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                              "template": {"metadata": {"labels": labels}, "spec": {
                                  "containers": [{
                                      "name": "web", "image": "python:3.11",
                                      "command": ["python", "-c", SERVER],
                                      "env": [{"name": "VERSION", "value": version}],
                                      "ports": [{"containerPort": 8080}],
                                      "readinessProbe": {"httpGet": {"path": "/", "port": 8080},
                                                         "periodSeconds": 1}}]}}}})
    docs.append({"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": "web", "namespace": NS},
                 "spec": {"selector": {"app": "web"},
                          "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    snap = bench_snapshot(sn.MeshSettings(), 100, 0)
    for obj in snap.destination_rules + snap.virtual_services:
        docs.append({"apiVersion": "networking.istio.io/v1alpha3", **obj})
    return "\n---\n".join(json.dumps(d) for d in docs)


@dataclass
class Flip:
    start: float  # kubectl invoked
    acked: float  # kubectl returned (the API stored the change)
    target: str
    followed: float = float("nan")


class Prober:
    """Sends requests one after another through the client pod's proxy, recording versions."""

    def __init__(self, proxy_ip: str) -> None:
        self.proxy_ip = proxy_ip
        self.seen: list[tuple[float, str]] = []  # (response time, version)
        self.pods: list[tuple[float, str]] = []  # (response time, pod that answered)
        self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        c: RawClient | None = None
        deadline = time.monotonic() + 300
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                if c is None:
                    c = RawClient((self.proxy_ip, 15001), HOST, proxy=True)
                status, body = c.get("/")
                now = time.monotonic()
                version, _, pod = body.decode().partition(" ")
                self.seen.append((now, version if status == 200 else str(status)))
                if status == 200:
                    self.pods.append((now, pod))
            except OSError:
                self.errors += 1
                c = None
                time.sleep(0.01)


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    r = subprocess.run([KUBECTL, *args], env=env, input=stdin, capture_output=True, text=True,
                       timeout=90)
    if r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr}")
    return r.stdout


@dataclass
class ClusterRun:
    flips: list[Flip]
    stragglers: int  # responses from the old subset after the new one was seen
    errors: int
    ready_to_first: list[float]  # ms from a new pod seen Ready in the API to its first response


def pod_ready_rounds(env: dict[str, str], api: Callable[[str], Obj], prober: Prober,
                     rounds: int) -> list[float]:
    """Scale web-v1 from 1 to 2 pods `rounds` times; for each new pod, the time from the API
    first showing it Ready (polled every ~5 ms) to the first response it serves."""
    path = f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dweb%2Cversion%3Dv1"
    out: list[float] = []
    for _ in range(rounds):
        known = {p["metadata"]["name"] for p in api(path)["items"]}
        kubectl(env, "scale", "deployment/web-v1", "-n", NS, "--replicas=2")
        t_ready, new = float("nan"), ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for p in api(path)["items"]:
                name = p["metadata"]["name"]
                if name not in known and any(
                        c.get("type") == "Ready" and c.get("status") == "True"
                        for c in (p.get("status") or {}).get("conditions") or []):
                    t_ready, new = time.monotonic(), name
            if new:
                break
            time.sleep(0.005)
        if not new:
            raise RuntimeError("the new pod did not turn Ready within 30 s")
        deadline = time.monotonic() + 10
        first = None
        while first is None and time.monotonic() < deadline:
            first = next((t for t, pod in list(prober.pods) if pod == new), None)
            time.sleep(0.002)
        if first is None:
            raise RuntimeError(f"{new} was Ready but served nothing within 10 s")
        out.append((first - t_ready) * 1000)
        kubectl(env, "scale", "deployment/web-v1", "-n", NS, "--replicas=1")
        wait_until(lambda: len(api(path)["items"]) == 1, 30)
    return out


def cluster_flips(flips: int, rounds: int, workdir: Path) -> ClusterRun:
    state = workdir / "cluster"
    port = free_port()
    log = (workdir / "cluster.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "turnout.cli.main", "--state-dir", str(state),
                             "up", "--port", str(port), "--auto-ports"], stdout=log,
                            stderr=subprocess.STDOUT, cwd=str(REPO))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                ctx = ssl.create_default_context(cafile=str(state / "ca.crt"))
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/version", timeout=1,
                                            context=ctx):
                    break
            except OSError:
                time.sleep(0.1)
        env = {**os.environ, "KUBECONFIG": str(state / "kubeconfig"),
               "KUBECACHEDIR": str(state / "kubecache")}
        kubectl(env, "create", "namespace", NS)
        kubectl(env, "label", "namespace", NS, "istio-injection=enabled")
        kubectl(env, "apply", "-f", "-", stdin=flip_manifests())
        for d in ("web-v1", "web-v2", "client"):
            kubectl(env, "rollout", "status", f"deployment/{d}", "-n", NS, "--timeout=60s")
        pods = json.loads(kubectl(env, "get", "pods", "-n", NS, "-l", "app=client", "-o",
                                  "json"))["items"]
        prober = Prober(pods[0]["status"]["podIP"])
        prober.thread.start()
        try:
            wait_until(lambda: bool(prober.seen) and prober.seen[-1][1] == "v1", 20)
            out = []
            for i in range(flips):
                target = "v2" if i % 2 == 0 else "v1"
                w = (0, 100) if target == "v2" else (100, 0)
                patch = {"spec": {"http": [{"route": [
                    {"destination": {"host": "web", "subset": "v1"}, "weight": w[0]},
                    {"destination": {"host": "web", "subset": "v2"}, "weight": w[1]}]}]}}
                start = time.monotonic()
                kubectl(env, "patch", "virtualservice", "web", "-n", NS, "--type", "merge",
                        "-p", json.dumps(patch))
                flip = Flip(start, time.monotonic(), target)
                flip.followed = wait_for_version(prober, start, target, 10)
                out.append(flip)
                time.sleep(0.2)  # traffic on the new weights before the next flip
            if out[-1].target != "v1":  # the readiness rounds add v1 pods: route to v1
                kubectl(env, "patch", "virtualservice", "web", "-n", NS, "--type", "merge",
                        "-p", json.dumps({"spec": {"http": [{"route": [
                            {"destination": {"host": "web", "subset": "v1"}, "weight": 100},
                            {"destination": {"host": "web", "subset": "v2"}, "weight": 0}]}]}}))
                wait_for_version(prober, time.monotonic(), "v1", 10)
            token = (state / "token").read_text().strip()
            ctx = ssl.create_default_context(cafile=str(state / "ca.crt"))

            def api(path: str) -> Obj:
                req = urllib.request.Request(f"https://127.0.0.1:{port}{path}",
                                             headers={"Authorization": f"Bearer {token}"})
                with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
                    data: Obj = json.load(r)
                    return data

            ready = pod_ready_rounds(env, api, prober, rounds)
        finally:
            prober.stop.set()
            prober.thread.join(5)
        stragglers = 0
        for k, f in enumerate(out):
            end = out[k + 1].start if k + 1 < len(out) else float("inf")
            stragglers += sum(1 for t, v in prober.seen if f.followed < t < end and v != f.target)
        return ClusterRun(out, stragglers, prober.errors, ready)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_for_version(prober: Prober, since: float, version: str, timeout: float) -> float:
    """Time of the first response from `version` received after `since`."""
    deadline = time.monotonic() + timeout
    checked = 0
    while time.monotonic() < deadline:
        seen = prober.seen[checked:]
        for t, v in seen:
            if t > since and v == version:
                return t
        checked += len(seen)
        time.sleep(0.002)
    raise RuntimeError(f"traffic did not move to {version} within {timeout}s")


def wait_until(pred: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.005)
    raise RuntimeError(f"condition not met within {timeout}s")


# -- main -------------------------------------------------------------------------------------

def table(head: list[str], rows: list[list[str]]) -> None:
    width = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print("  ".join(h.ljust(w) for h, w in zip(head, width, strict=True)))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, width, strict=True)))


async def run_mesh(settings: sn.MeshSettings, workdir: Path) -> Mesh:
    mesh = Mesh(workdir / "turnout", settings)
    await mesh.start()
    await mesh.apply(bench_snapshot(settings))
    return mesh


def flip_section(flips: int, rounds: int, work: Path) -> None:
    print(f"\n3. weight flip 100/0 <-> 0/100 to traffic following it, {flips} flips, end to "
          "end: kubectl patch -> API -> mesh controller -> Envoy (RDS) -> real pods; and a new "
          f"pod from Ready to its first request, {rounds} pods (kubelet -> API -> EDS)")
    run = cluster_flips(flips, rounds, work)
    done, stragglers, errors = run.flips, run.stragglers, run.errors
    from_start = [(f.followed - f.start) * 1000 for f in done]
    from_ack = [(f.followed - f.acked) * 1000 for f in done]
    kubectl_ms = [(f.acked - f.start) * 1000 for f in done]
    table(["measured from", "p50 ms", "p99 ms", "max ms"],
          [["kubectl invoked", *(f"{x:.0f}" for x in (pct(from_start, .5),
                                                      pct(from_start, .99),
                                                      max(from_start)))],
           ["kubectl returned", *(f"{x:.0f}" for x in (pct(from_ack, .5), pct(from_ack, .99),
                                                       max(from_ack)))],
           ["(kubectl patch itself)", *(f"{x:.0f}" for x in (pct(kubectl_ms, .5),
                                                             pct(kubectl_ms, .99),
                                                             max(kubectl_ms)))]])
    ready = run.ready_to_first
    table(["new pod: Ready in the API -> first request", "p50 ms", "p99 ms", "max ms",
           "p50 vs weight flip"],
          [["(API polled every ~5 ms; traffic 1 client in a loop)",
            *(f"{x:.0f}" for x in (pct(ready, .5), pct(ready, .99), max(ready))),
            f"{pct(ready, .5) / pct(from_ack, .5):.2f}x"]])
    print(f"   old-subset responses after the new one was seen: {stragglers}; probe "
          f"errors: {errors}; anchor: {ISTIO['push']}")


def pairwise(a: list[list[float]], b: list[list[float]], q: float) -> list[float]:
    """Per round: quantile q of a's latencies minus that of b's (ms)."""
    return [pct(x, q) - pct(y, q) for x, y in zip(a, b, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs (about 90 s in all)")
    ap.add_argument("--workers", type=int, default=1, help="Envoy worker threads (all proxies)")
    ap.add_argument("--skip-cluster", action="store_true", help="skip the end-to-end flips")
    ap.add_argument("--cluster-only", action="store_true",
                    help="only section 3: weight flips and pod readiness through a cluster")
    args = ap.parse_args()
    command = f".venv/bin/python bench/mesh.py {' '.join(sys.argv[1:])}".rstrip()
    if args.cluster_only:
        q = args.quick
        print(f"machine: {os.cpu_count()} cores; load average: {load_average()}; "
              f"command: {command}")
        with tempfile.TemporaryDirectory(prefix="turnout-bench-mesh-") as tmp:
            flip_section(10 if q else 30, 5 if q else 20, Path(tmp))
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk not found (Debian/Ubuntu: apt-get install wrk; "
                 "scripts/system-deps.sh bench)")
    q = args.quick
    lat_rounds, wrk_rounds, wrk_s, flips, rounds, tr_rounds = (
        (3, 3, 2, 10, 5, 2) if q else (8, 5, 4, 30, 20, 3))
    rate = 1000.0
    print(f"machine: {os.cpu_count()} cores, {sys.platform}; load average before: "
          f"{load_average()}; Envoy workers per proxy: {args.workers}; command: {command}")
    with tempfile.TemporaryDirectory(prefix="turnout-bench-mesh-") as tmp:
        work = Path(tmp)
        settings = sn.MeshSettings(concurrency=args.workers, gateway_node_port=0,
                                   nginx_node_port=0)
        matched = matched_proxy_config(work / "matched-access.log")
        differs = matched_differences(matched, settings)
        loop = asyncio.new_event_loop()
        with static_envoy(backend_config(), work, "backends", 1), \
                static_envoy(static_proxy_config(), work, "static", args.workers) as static_pid, \
                static_envoy(matched, work, "matched", args.workers) as matched_pid:
            mesh = loop.run_until_complete(run_mesh(settings, work))
            try:
                turnout_pid = mesh.envoy.pid if mesh.envoy else None
                direct = Target("direct (backend Envoy)", (next(iter(BACKENDS)), BACKEND_PORT))
                minimal = Target("static Envoy, minimal (hand-written)", STATIC_PROXY)
                like = Target("static Envoy, turnout's features (hand-written)", MATCHED_PROXY,
                              HOST, True)
                ours = Target("turnout Envoy hop (pod proxy)", (CLIENT_IP, 15001), HOST, True)
                targets = [(direct, None), (minimal, static_pid), (like, matched_pid),
                           (ours, turnout_pid)]
                for t, _ in targets:
                    wait_http(t.addr, t.host, t.proxy)
                print("\nthe like-for-like baseline's hand-written config against turnout's "
                      "generated one: " + (f"DIFFERS in {', '.join(differs)}" if differs else
                                           "same access log, HTTP filters, retry policy, route "
                                           "timeout, weights, LEAST_REQUEST, circuit breakers")
                      + "; not in it: xDS delivery (files: LDS/RDS/CDS/EDS), the other pods' "
                      "and the Service's listeners, the passthrough virtual host")
                print(f"\n1. latency at a fixed {rate:.0f} rps, {lat_rounds} x 1 s rounds per "
                      "target (interleaved), 8 keep-alive connections, open loop, one-thread "
                      "select() client; timed from each request's scheduled send")
                lat = {t.name: LatencyResult([]) for t, _ in targets}
                for _ in range(lat_rounds):
                    for t, pid in targets:
                        fixed_rate(t, rate, 1.0, pid, lat[t.name])
                base = lat[direct.name]
                rows = []
                for name, r in lat.items():
                    p50, p90, p99 = (pct(r.lat_ms, x) for x in (0.5, 0.9, 0.99))
                    added = (f"{p50 - pct(base.lat_ms, .5):+.3f} / "
                             f"{p90 - pct(base.lat_ms, .9):+.3f} / "
                             f"{p99 - pct(base.lat_ms, .99):+.3f}") if r is not base else "-"
                    rows.append([name, f"{p50:.3f}", f"{p90:.3f}", f"{p99:.3f}", added,
                                 spread([pct(x, .5) for x in r.rounds], "{:.3f}"),
                                 str(len(r.lat_ms)), str(r.errors), str(r.late),
                                 f"{r.vcpu:.2f} / {r.rss:.0f}" if r.cpu_s else "-"])
                table(["target", "p50 ms", "p90 ms", "p99 ms", "added vs direct p50/p90/p99",
                       "p50 per round", "n", "errors", "late", "proxy vCPU / RSS MB"], rows)
                ours_r, like_r, min_r = (lat[t.name].rounds for t in (ours, like, minimal))
                for label, other in (("like-for-like static", like_r),
                                     ("minimal static", min_r)):
                    print(f"   turnout minus {label}, per round: p50 "
                          f"{spread(pairwise(ours_r, other, .5), '{:+.3f}', ' ms')}; p99 "
                          f"{spread(pairwise(ours_r, other, .99), '{:+.3f}', ' ms')}")
                ratio50 = [pct(x, .5) / pct(y, .5) for x, y in zip(ours_r, like_r, strict=True)]
                print(f"   turnout p50 / like-for-like static p50: {spread(ratio50, unit='x')}")
                print(f"   anchor: {ISTIO['latency']} (two proxies); {ISTIO['sidecar']}")

                print(f"\n2. max throughput: wrk -t1 -c32 -d{wrk_s}s, {wrk_rounds} rounds per "
                      "target (interleaved)")
                rps: dict[str, list[float]] = {t.name: [] for t, _ in targets}
                errors = dict.fromkeys(rps, 0)
                cmds = dict.fromkeys(rps, "")
                for _ in range(wrk_rounds):
                    for t, _ in targets:
                        got, bad, cmd = wrk(t, wrk_s, work)
                        rps[t.name].append(got)
                        errors[t.name] += bad
                        cmds[t.name] = cmd
                rows = []
                for t, _ in targets:
                    vs_like = [x / y for x, y in zip(rps[t.name], rps[like.name], strict=True)]
                    vs_min = [x / y for x, y in zip(rps[t.name], rps[minimal.name],
                                                    strict=True)]
                    rows.append([t.name, spread(rps[t.name], "{:,.0f}"),
                                 spread(vs_like, unit="x"), spread(vs_min, unit="x"),
                                 str(errors[t.name]), cmds[t.name]])
                table(["target", "req/s", "vs like-for-like static", "vs minimal static",
                       "errors", "command"], rows)
            finally:
                loop.run_until_complete(mesh.stop())
                loop.close()

        if not args.skip_cluster:
            flip_section(flips, rounds, work)
        sizes_n = (100, 200) if q else (100, 200, 1000)
        print(f"\n4. translate(): N services x 2 subsets x 4 endpoints (+1 VS, 1 DR each, "
              f"10 namespaces), N = {', '.join(map(str, sizes_n))}, {tr_rounds} rounds each"
              + (" (--quick: 1000 is left out; run without --quick)" if q else ""))
        rows = []
        last: tuple[int, float] | None = None
        for n in sizes_n:
            runs = [translation(n) for _ in range(tr_rounds)]
            ms = median([r[0] for r in runs])
            counts, sizes = runs[0][1], runs[0][2]
            growth = (f"{math.log(ms / last[1]) / math.log(n / last[0]):.1f}" if last else "-")
            last = (n, ms)
            rows.append([str(n), f"{4 * n:,}", spread([r[0] for r in runs], "{:,.0f}"), growth,
                         " ".join(f"{k} {counts[k]:,}" for k in counts),
                         f"{sum(sizes.values()) / 1e6:.1f}",
                         " ".join(f"{k} {sizes[k] / 1e6:.1f}" for k in sizes)])
        table(["services", "pods", "translate ms", "growth exponent", "resources",
               "config MB (JSON)", "MB by type"], rows)
        print("   anchor: istiod 1 vCPU / 1.5 GB for 1000 services / 2000 sidecars (published)")
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
