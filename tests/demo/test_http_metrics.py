from __future__ import annotations

from tests.demo.helpers import Container, Spawner, argv_for, base_env, get, new_ip
from turnout.demo import http_metrics


def test_path_labels_follow_podinfo() -> None:
    assert http_metrics.path_label("/") == "root"
    assert http_metrics.path_label("/api/info") == "api_info"


def test_histogram_buckets_are_cumulative() -> None:
    h = http_metrics.Histograms()
    for seconds in (0.001, 0.2, 0.2, 3.0):
        h.observe("get", "/", 200, seconds)
    h.observe("GET", "/status/500", 500, 0.001)
    text = h.render()
    root = 'method="GET",path="root",status="200"'
    assert f'http_request_duration_seconds_bucket{{{root},le="0.005"}} 1' in text
    assert f'http_request_duration_seconds_bucket{{{root},le="0.25"}} 3' in text
    assert f'http_request_duration_seconds_bucket{{{root},le="2.5"}} 3' in text
    assert f'http_request_duration_seconds_bucket{{{root},le="+Inf"}} 4' in text
    assert f"http_request_duration_seconds_count{{{root}}} 4" in text
    assert 'http_requests_total{status="500"} 1' in text


def test_podinfo_serves_its_histograms_on_port_metrics(spawner: Spawner) -> None:
    ip = new_ip()
    podinfo = Container("ghcr.io/stefanprodan/podinfo:6.0.0",
                        ["./podinfo", "--port=9898", "--port-metrics=9797"], None, {})
    svc = spawner.start(argv_for(podinfo), base_env(ip), 9898)
    for _ in range(3):
        assert get(svc.url("/"))[0] == 200
    assert get(svc.url("/status/503"))[0] == 503
    status, headers, body = get(f"http://{ip}:9797/metrics")
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    root = 'method="GET",path="root",status="200"'
    assert f"http_request_duration_seconds_count{{{root}}} 3" in text
    assert 'path="status_503",status="503"' in text
