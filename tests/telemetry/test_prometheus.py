"""Istio metrics: the exposition text, and a real Prometheus running Flagger's stock queries."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from turnout.telemetry.identity import Directory
from turnout.telemetry.prometheus import DURATION_BUCKETS, Registry
from turnout.telemetry.records import Record, parse_line
from turnout.telemetry.service import Telemetry

from . import helpers as h

SUCCESS_RATE = (
    'sum(rate(istio_requests_total{{reporter="destination",destination_workload_namespace="{ns}",'
    'destination_workload=~"{wl}",response_code!~"5.*"}}[1m])) / '
    'sum(rate(istio_requests_total{{reporter="destination",destination_workload_namespace="{ns}",'
    'destination_workload=~"{wl}"}}[1m])) * 100')
DURATION_P99 = (
    'histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{{'
    'reporter="destination",destination_workload_namespace="{ns}",'
    'destination_workload=~"{wl}"}}[1m])) by (le))')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def records(lines: list[str]) -> list[Record]:
    d = Directory()
    for p in h.ads_pods():
        d.update(p, 0)
    out = [parse_line(x, d) for x in lines]
    return [r for r in out if r is not None]


def samples(text: str) -> dict[str, float]:
    out = {}
    for ln in text.splitlines():
        if ln and not ln.startswith("#"):
            key, _, value = ln.rpartition(" ")
            out[key] = float(value)
    return out


def test_exposition_counts_both_reporters_and_cumulative_buckets() -> None:
    reg = Registry()
    reg.observe(records([h.line(duration=3), h.line(duration=30, status=500),
                         h.line(duration=30), h.line(duration=4000)]))
    text = reg.render()
    assert "# TYPE istio_requests_total counter" in text
    assert "# TYPE istio_request_duration_milliseconds histogram" in text
    s = samples(text)
    ok = [k for k in s if k.startswith("istio_requests_total{") and 'response_code="200"' in k]
    assert len(ok) == 2 and {s[k] for k in ok} == {3.0}  # one per reporter
    assert any('reporter="source"' in k for k in ok)
    dest_ok = next(k for k in ok if 'reporter="destination"' in k)
    labels = dest_ok[len("istio_requests_total{"):-1]
    for want in ('destination_workload="advertisements"', 'destination_version="1.0"',
                 'destination_service="advertisements.ns1.svc.cluster.local"',
                 'destination_service_name="advertisements"', 'source_workload="frontend"',
                 'destination_app="ecommerce"', 'source_version="1.0"',
                 'request_protocol="http"', 'response_flags="-"',
                 'connection_security_policy="none"',
                 # Istio's canonical revision is the version name; the template hash apart
                 'destination_canonical_revision="1.0"',
                 f'destination_revision="{h.ads_pods()[0]["metadata"]["labels"]["pod-template-hash"]}"'):
        assert want in labels
    base = "istio_request_duration_milliseconds_bucket{" + labels
    assert s[base + ',le="1"}'] == 0 and s[base + ',le="5"}'] == 1
    assert s[base + ',le="50"}'] == 2 and s[base + ',le="5000"}'] == 3
    assert s[base + ',le="+Inf"}'] == 3
    assert s["istio_request_duration_milliseconds_sum{" + labels + "}"] == 4033
    assert len([k for k in s if k.startswith(base)]) == len(DURATION_BUCKETS) + 1
    assert any(k.startswith("istio_response_bytes_bucket{") for k in s)


def prom_quantile(q: float, latencies: dict[float, int]) -> float:
    """Prometheus' histogram_quantile over Istio's buckets for `latencies` (value → count)."""
    total = sum(latencies.values())
    rank = q * total
    prev_b, prev_c = 0.0, 0.0
    for b in DURATION_BUCKETS:
        c = sum(n for v, n in latencies.items() if v <= b)
        if c >= rank:
            return prev_b + (b - prev_b) * (rank - prev_c) / (c - prev_c)
        prev_b, prev_c = b, c
    raise AssertionError


@pytest.fixture
def prometheus_bin() -> Iterator[str]:
    path = shutil.which("prometheus")
    if path is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    yield path


async def test_real_prometheus_runs_flaggers_queries(tmp_path: Path, prometheus_bin: str) -> None:
    metrics_port, prom_port = free_port(), free_port()
    log = tmp_path / "access.log"
    log.touch()
    tel = Telemetry(tmp_path / "state", log, metrics_port=metrics_port, exporter=None)
    for p in h.ads_pods():
        tel.update_pod(p)
    await tel.start()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "turnout", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}]}))
    proc = subprocess.Popen(
        [prometheus_bin, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prom.log").open("wb"))
    api = f"http://127.0.0.1:{prom_port}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if (await client.get(api + "/-/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "prom.log").read_text()[-2000:]
                await asyncio.sleep(0.1)
            # Prometheus applies new targets on a 5 s tick: wait for the first scrape
            while True:
                r = await client.get(api + "/api/v1/query", params={"query": "up"})
                if any(x["value"][1] == "1" for x in r.json()["data"]["result"]):
                    break
                assert time.monotonic() < deadline + 15, r.text
                await asyncio.sleep(0.2)
            # per step: v1 9 fast + 1 slow 500; v2 8 at 230 ms + 2 slow 500s
            for _ in range(6):
                lines = [h.line(duration=3) for _ in range(9)]
                lines.append(h.line(duration=30, status=500))
                lines += [h.line(duration=230, upstream="127.0.10.2:5002") for _ in range(8)]
                lines += [h.line(duration=600, status=503, flags="UF",
                                 upstream="127.0.10.2:5002") for _ in range(2)]
                with log.open("a") as f:
                    f.write("".join(x + "\n" for x in lines))
                await tel.flush()
                await asyncio.sleep(0.6)
            await asyncio.sleep(2.2)  # at least two scrapes after the last step

            async def query(expr: str) -> float:
                r = await client.get(api + "/api/v1/query?" + urllib.parse.urlencode(
                    {"query": expr}))
                res = r.json()["data"]["result"]
                assert len(res) == 1, (expr, r.text)
                return float(res[0]["value"][1])

            assert await query(SUCCESS_RATE.format(ns="ns1", wl="advertisements")) == \
                pytest.approx(90.0, abs=1e-6)
            assert await query(SUCCESS_RATE.format(ns="ns1", wl="advertisements-v2")) == \
                pytest.approx(80.0, abs=1e-6)
            want_v1 = prom_quantile(0.99, {3: 9, 30: 1})
            want_v2 = prom_quantile(0.99, {230: 8, 600: 2})
            assert (want_v1, want_v2) == pytest.approx((47.5, 975.0))
            assert await query(DURATION_P99.format(ns="ns1", wl="advertisements")) == \
                pytest.approx(want_v1, rel=1e-6)
            assert await query(DURATION_P99.format(ns="ns1", wl="advertisements-v2")) == \
                pytest.approx(want_v2, rel=1e-6)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        await tel.stop()


async def test_metrics_server_answers_only_metrics(tmp_path: Path) -> None:
    port = free_port()
    tel = Telemetry(tmp_path / "s", tmp_path / "access.log", metrics_port=port, exporter=None)
    await tel.start()
    try:
        def get(path: str) -> tuple[int, str, str]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    return r.status, r.headers["Content-Type"], r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, "", ""
        status, ctype, body = await asyncio.to_thread(get, "/metrics")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
        assert "# TYPE istio_requests_total counter" in body
        assert (await asyncio.to_thread(get, "/"))[0] == 404
    finally:
        await tel.stop()
