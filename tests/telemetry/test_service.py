"""The telemetry service over synthetic access logs: ingest loop, service model, compare, API."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest

from turnout.cluster.server import TelemetryMetrics
from turnout.kube.errors import ApiError
from turnout.rollout.metrics import Arm
from turnout.telemetry.api import json_api, parse_duration
from turnout.telemetry.service import Telemetry

from . import helpers as h


def make(tmp_path: Path, **kw: object) -> Telemetry:
    tel = Telemetry(tmp_path / "state", tmp_path / "access.log", metrics_port=None,
                    exporter=None, poll_interval=0.02, **kw)  # type: ignore[arg-type]
    for p in h.ads_pods():
        tel.update_pod(p)
    return tel


def write(path: Path, lines: list[str], mode: str = "a") -> None:
    with path.open(mode) as f:
        f.write("".join(x + "\n" for x in lines))


async def test_compare_reports_the_200ms_regression_with_a_ci(tmp_path: Path) -> None:
    n = 600
    write(tmp_path / "access.log", h.two_versions(n, extra_ms=200))
    tel = make(tmp_path)
    await tel.flush()
    c = tel.compare("ns1", "advertisements", None, None, timedelta(minutes=10))
    assert (c["baseline"]["version"], c["candidate"]["version"]) == ("1.0", "2.0")
    assert c["baseline"]["requests"] == n and c["candidate"]["requests"] == n
    assert abs(c["changes"]["p50"]["change"] - 200) <= 20
    p50 = c["latency"]["quantiles"][0]
    lo, hi = p50["ci"]
    assert p50["name"] == "p50" and 180 <= lo <= p50["difference"] <= hi <= 220
    assert c["statements"][0].startswith("2.0 is slower: p50 +")
    assert "95% CI" in c["statements"][0]
    # explicit versions, swapped
    r = tel.compare("ns1", "advertisements", "2.0", "1.0", timedelta(minutes=10))
    assert r["latency"]["statement"].startswith("1.0 is faster")
    with pytest.raises(ApiError, match=r"no requests recorded for version '3\.0'"):
        tel.compare("ns1", "advertisements", None, "3.0", timedelta(minutes=10))
    with pytest.raises(ApiError) as e:
        tel.compare("ns1", "nothing", None, None, timedelta(minutes=10))
    assert e.value.code == 404
    await tel.stop()


async def test_new_error_type_appears_in_the_version_that_introduced_it(tmp_path: Path) -> None:
    now = time.time()
    lines = []
    for i in range(100):
        t = now - 50 + i * 0.4
        lines.append(h.line(t, path="/ads"))
        lines.append(h.line(t, path=f"/banners/{i}", status=404))  # 4xx: not an error
        lines.append(h.line(t + 0.2, upstream="127.0.10.2:5002", path="/ads"))
        lines.append(h.line(t + 0.2, upstream="127.0.10.2:5002", path=f"/banners/{i}",
                            status=500 if i % 2 else 200))
    lines.append(h.line(now - 60, upstream="127.0.10.1:5002", status=503, flags="UF",
                        path="/ads"))  # an old failure both versions... only v1 had
    write(tmp_path / "access.log", lines)
    tel = make(tmp_path)
    await tel.flush()
    vs = tel.versions("ns1", "advertisements", None)
    assert [v["version"] for v in vs] == ["1.0", "2.0"]
    v1, v2 = vs
    assert v1["new_error_types"] == [] and v1["error_types"] == [
        {"type": "503 UF GET /ads", "count": 1}]
    assert v2["new_error_types"] == [{"type": "500 GET /banners/?", "count": 50}]
    assert v2["errors"] == 50 and v2["error_rate"] == pytest.approx(0.25)
    c = tel.compare("ns1", "advertisements", None, None, timedelta(minutes=5))
    assert c["error_types"]["only_candidate"] == [{"type": "500 GET /banners/?", "count": 50}]
    assert c["error_types"]["only_baseline"] == [{"type": "503 UF GET /ads", "count": 1}]
    assert c["errors"]["statement"].startswith("2.0 has more errors")
    eps = {(e["method"], e["endpoint"]) for e in c["endpoints"]}
    assert eps == {("GET", "/ads"), ("GET", "/banners/?")}
    await tel.stop()


async def test_ingest_loop_follows_appends_partial_lines_and_restarts(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.touch()
    tel = make(tmp_path)
    await tel.start()
    sent = 0
    for batch in range(20):  # writer appends while the loop runs
        lines = [h.line(path=f"/ads/{batch}") for _ in range(250)]
        with log.open("a") as f:
            text = "".join(x + "\n" for x in lines)
            cut = len(text) - 37  # leave the last line half-written for a moment
            f.write(text[:cut])
            f.flush()
            await asyncio.sleep(0.005)
            f.write(text[cut:])
        sent += len(lines)
    deadline = time.monotonic() + 10
    while tel.ingested < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await tel.stop()
    assert tel.ingested == sent and tel.malformed == 0
    # restart: nothing re-read, new lines picked up, count is exact
    write(log, [h.line() for _ in range(10)])
    tel2 = make(tmp_path)
    await tel2.flush()
    assert tel2.ingested == 10
    assert tel2.store.count() == sent + 10
    # rotation by truncation: read from the start of the new content
    write(log, [h.line() for _ in range(3)], mode="w")
    await tel2.flush()
    assert tel2.store.count() == sent + 13
    await tel2.stop()


async def test_retention_and_row_cap(tmp_path: Path) -> None:
    now = time.time()
    write(tmp_path / "access.log", [h.line(now - 7200)] * 5 + [h.line(now - i) for i in range(20)])
    tel = make(tmp_path, retention=timedelta(hours=1), max_rows=15)
    await tel.flush()
    assert tel.store.count() == 25
    assert tel.prune() == 10
    rows = tel.store.query("SELECT min(ts) FROM requests")
    assert rows[0][0] > now - 16
    await tel.stop()


async def test_json_api_and_service_aliases(tmp_path: Path) -> None:
    gateway = h.line(upstream="127.0.10.3:3000", src_name="x", kind="gateway",
                     cluster="outbound|80||frontend.ns1.svc.cluster.local")
    write(tmp_path / "access.log", [*h.two_versions(50), gateway])
    tel = make(tmp_path)
    await tel.flush()
    s = json_api(tel, "services", {"since": "10m"})
    names = {(x["namespace"], x["service"]): x for x in s["items"]}
    assert set(names) == {("ns1", "advertisements"), ("ns1", "storefront")}
    assert names[("ns1", "storefront")]["kubernetes_service"] == "frontend"
    assert names[("ns1", "advertisements")]["requests"] == 100
    # the Kubernetes Service name finds the APM service behind it
    v = json_api(tel, "services/ns1/frontend/versions", {})
    assert [x["version"] for x in v["items"]] == ["1.0"]
    c = json_api(tel, "services/ns1/advertisements/compare",
                 {"baseline": "1.0", "candidate": "2.0", "since": "5m"})
    assert c["kind"] == "Comparison" and c["since_seconds"] == 300
    ep = json_api(tel, "services/ns1/advertisements/endpoints", {"version": "2.0"})
    assert ep["items"][0]["requests"] == 50
    ts = json_api(tel, "services/ns1/advertisements/timeseries", {"since": "10m"})
    assert sum(p["rps"] * ts["step_seconds"] for p in ts["series"]["1.0"]) == pytest.approx(50)
    with pytest.raises(ApiError) as e:
        json_api(tel, "services/ns1/advertisements/nope", {})
    assert e.value.code == 404
    with pytest.raises(ApiError, match="invalid duration"):
        json_api(tel, "services", {"since": "ten minutes"})
    lat, errors = tel.samples("ns1", "advertisements", "2.0", timedelta(minutes=5))
    assert len(lat) == 50 and errors == 0 and min(lat) > 150
    await tel.stop()


def test_parse_duration() -> None:
    assert parse_duration("90") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    for bad in ("", "m", "5 m", "-1m", "0s"):
        with pytest.raises(ApiError):
            parse_duration(bad)


async def test_default_candidate_is_the_version_deployed_last_not_the_first_requested(
        tmp_path: Path) -> None:
    """Seed 002 by hand: no traffic until both versions run, and 2.0's first request came
    first. The candidate is still 2.0, deployed last."""
    now = time.time()
    lines = h.two_versions(200, now=now)
    lines = [lines[i + 1] if i % 2 == 0 else lines[i - 1] for i in range(len(lines))]
    write(tmp_path / "access.log", lines)
    tel = Telemetry(tmp_path / "state", tmp_path / "access.log", metrics_port=None,
                    exporter=None, poll_interval=0.02)
    v1, v2, front = h.ads_pods()
    v1["metadata"]["creationTimestamp"] = "2026-12-01T10:00:00Z"
    v2["metadata"]["creationTimestamp"] = "2026-12-01T10:05:00Z"
    for p in (v1, v2, front):
        tel.update_pod(p)
    await tel.flush()
    c = tel.compare("ns1", "advertisements", None, None, timedelta(minutes=10))
    assert (c["baseline"]["version"], c["candidate"]["version"]) == ("1.0", "2.0")
    await tel.stop()


async def test_metrics_server_discovers_pods_annotated_for_scraping(tmp_path: Path) -> None:
    import json
    import urllib.request

    tel = Telemetry(tmp_path / "state", tmp_path / "access.log", metrics_port=0, exporter=None)
    pod = {"metadata": {"name": "podinfo-1", "namespace": "test",
                        "annotations": {"prometheus.io/scrape": "true",
                                        "prometheus.io/port": "9797"}},
           "spec": {"containers": []}, "status": {"phase": "Running", "podIP": "127.30.0.9"}}
    tel.update_pod(pod)
    await tel.start()
    try:
        assert tel.metrics is not None
        url = f"http://127.0.0.1:{tel.metrics.port}/sd/pods"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def fetch() -> object:
            with opener.open(url, timeout=5) as r:
                return json.loads(r.read())

        groups = await asyncio.to_thread(fetch)
        assert groups == [{"targets": ["127.30.0.9:9797"], "labels": {
            "__metrics_path__": "/metrics", "__scheme__": "http", "kubernetes_namespace": "test",
            "kubernetes_pod_name": "podinfo-1", "namespace": "test", "pod": "podinfo-1"}}]
        tel.update_pod(pod, deleted=True)
        assert await asyncio.to_thread(fetch) == []
    finally:
        await tel.stop()


async def test_bad_durations_are_refused_counted_and_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    now = time.time()
    good = [h.line(now - 5, duration=2, duration_us=2345),
            h.line(now - 4, upstream="127.0.10.2:5002", duration=4, duration_us=4012,
                   cluster="outbound|5002|v2|advertisements.ns1.svc.cluster.local"),
            h.line(now - 3, duration=3)]  # an older line: whole ms only
    bad = [h.line(now - 2, duration_us=-1500), h.line(now - 2, duration_us=-7),
           h.line(now - 1, duration_us="NaN"), h.line(now - 1, duration_ms="fast")]
    write(tmp_path / "access.log", [*good, *bad, "not json"])
    tel = make(tmp_path)
    with caplog.at_level(logging.WARNING, logger="turnout.telemetry"):
        await tel.flush()
    assert tel.store.count() == 3
    assert sorted(r[0] for r in tel.store.query("SELECT duration_ms FROM requests")) == [
        2.345, 3.0, 4.012]
    assert tel.ingest_counts() == {"stored": 3, "malformed": 1, "refused": {
        "missing": 0, "unparsable": 1, "nan": 1, "infinite": 0, "negative": 2}}
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 3  # once per reason, not per line
    assert any("duration_us is negative: -1500" in m for m in refusals)
    text = tel.prometheus_text()
    assert 'turnout_telemetry_lines_refused_total{reason="negative"} 2' in text
    assert 'turnout_telemetry_lines_refused_total{reason="nan"} 1' in text
    assert "turnout_telemetry_lines_malformed_total 1" in text
    assert "turnout_telemetry_lines_stored_total 3" in text
    # the microseconds reach the histograms: 1.0 served 2.345 ms and 3 ms
    sums = [float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
            if ln.startswith("istio_request_duration_milliseconds_sum{") and
            'destination_version="1.0"' in ln]
    assert sums == [pytest.approx(5.345)] * 2  # reporter destination and source
    # versions and compare carry the sub-millisecond figures
    vs = {v["version"]: v for v in tel.versions("ns1", "advertisements", None)}
    assert (vs["1.0"]["p50"], vs["2.0"]["p50"]) == (2.345, 4.012)
    await tel.stop()


async def test_a_growing_window_is_read_in_the_order_requests_became_known(
        tmp_path: Path) -> None:
    """A rollout reads an arm's requests again and again; each read extends the last. A slow
    request that started before ones already read, but ended (was logged) after them, comes
    last, not in the middle by its start time."""
    log = tmp_path / "access.log"
    now = time.time()
    write(log, [h.line(now - 30 + i, duration=1 + i) for i in range(5)])
    tel = make(tmp_path)
    source = TelemetryMetrics(tel)
    arm = Arm(workload="advertisements")
    window = timedelta(minutes=5)
    await tel.flush()
    first = source.samples("ns1", arm, window)
    assert first == ([1.0, 2.0, 3.0, 4.0, 5.0], [False] * 5)
    # a 20 s request that started before all of them, one erroring at 500, and a fast one
    write(log, [h.line(now - 40, duration=20_000), h.line(now - 2, duration=7, status=500),
                h.line(now - 1, duration_us=250)])
    await tel.flush()
    lat, err = source.samples("ns1", arm, timedelta(minutes=5))
    assert (lat[:5], err[:5]) == first  # the first read is a prefix of the second
    assert lat[5:] == [20_000.0, 7.0, 0.25] and err[5:] == [False, True, False]
    await tel.stop()
