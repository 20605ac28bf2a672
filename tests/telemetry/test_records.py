"""One access-log line → one record: enrichment, endpoints, errors, trace ids."""

from __future__ import annotations

import json

import pytest

from turnout.telemetry.identity import Directory
from turnout.telemetry.records import endpoint_template, is_error, parse_line, parse_traceparent

from . import helpers as h


@pytest.fixture
def directory() -> Directory:
    d = Directory()
    for p in h.ads_pods():
        d.update(p, 0)
    return d


@pytest.mark.parametrize(("path", "template"), [
    ("/ads", "/ads"),
    ("/users/42/orders?page=2", "/users/?/orders"),
    ("/item/3f2b6c1e-9a7d-4c1b-8e2f-0123456789ab", "/item/?"),
    ("/blob/deadbeefcafe1234", "/blob/?"),
    ("/token/abcDEF123ghiJKL456", "/token/?"),
    ("/v1/products", "/v1/products"),
    ("/", "/"),
    ("", "/"),
])
def test_endpoint_template(path: str, template: str) -> None:
    assert endpoint_template(path) == template


def test_pod_listener_line_is_enriched_with_both_ends(directory: Directory) -> None:
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    r = parse_line(h.line(1_700_000_000.25, traceparent=tp, path="/ads/17",
                          route="vs/ns1/ads-vs/0", bytes_in=5, bytes_out=99), directory)
    assert r is not None
    assert (r.source_workload, r.source_service, r.source_version) == \
        ("frontend", "storefront", "1.0")
    assert (r.dest_service, r.dest_version, r.dest_workload, r.dest_pod) == \
        ("advertisements", "1.0", "advertisements", "advertisements-6b7c-a")
    assert r.dest_k8s_service == "advertisements.ns1.svc.cluster.local"
    assert r.endpoint == "/ads/?" and r.path == "/ads/17"
    assert (r.route, r.rule, r.subset) == ("vs/ns1/ads-vs/0", "0", "v1")
    assert r.ts == pytest.approx(1_700_000_000.25)
    assert (r.trace_id, r.parent_span_id) == ("4bf92f3577b34da6a3ce929d0e0e4736",
                                              "00f067aa0ba902b7")
    assert (r.bytes_in, r.bytes_out, r.upstream_ms, r.error) == (5, 99, 9.0, False)


def test_unknown_upstream_falls_back_to_the_kubernetes_service(directory: Directory) -> None:
    r = parse_line(h.line(upstream="-", status=503, flags="UH", upstream_ms="-"), directory)
    assert r is not None
    assert (r.dest_service, r.dest_namespace, r.dest_version) == \
        ("advertisements", "ns1", "unknown")
    assert r.error and r.upstream_ms is None and r.flags == "UH"


def test_gateway_and_service_listeners_name_the_caller(directory: Directory) -> None:
    g = parse_line(h.line(kind="gateway", src_ns="istio-system",
                          src_name="istio-ingressgateway"), directory)
    assert g is not None and (g.source_workload, g.source_namespace) == \
        ("istio-ingressgateway", "istio-system")
    s = parse_line(h.line(kind="service", src_name="advertisements",
                          downstream_remote_address="127.0.10.3:5555"), directory)
    assert s is not None and s.source_service == "storefront"
    u = parse_line(h.line(kind="nodeport", src_name="frontend"), directory)
    assert u is not None and u.source_workload == "unknown"


def test_tcp_lines_and_malformed_lines(directory: Directory) -> None:
    obj = json.loads(h.line())
    for k in ("method", "path", "protocol", "response_code", "authority"):
        obj.pop(k)
    r = parse_line(json.dumps(obj), directory)
    assert r is not None and r.protocol == "tcp" and not r.error
    assert parse_line("not json", directory) is None
    assert parse_line("[1, 2]", directory) is None
    assert parse_line('{"no": "start_time"}', directory) is None


def test_errors_and_traceparent_validation() -> None:
    assert is_error(500, "-") and is_error(0, "-") and is_error(200, "UF")
    assert not is_error(404, "-") and not is_error(200, "DI")
    assert parse_traceparent("00-" + "0" * 32 + "-00f067aa0ba902b7-01") == ("", "")
    assert parse_traceparent("garbage") == ("", "")
