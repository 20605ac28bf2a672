"""One access-log line → one record: enrichment, endpoints, errors, trace ids."""

from __future__ import annotations

import json
import math

import pytest

from turnout.telemetry.identity import Directory
from turnout.telemetry.records import (
    BadDuration,
    duration_ms,
    endpoint_template,
    is_error,
    parse_line,
    parse_traceparent,
)

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


def test_durations_are_microseconds_when_envoy_gives_them(directory: Directory) -> None:
    r = parse_line(h.line(duration=2, duration_us=2345), directory)
    assert r is not None and r.duration_ms == 2.345
    s = parse_line(h.line(duration=4, duration_us="4012"), directory)  # a string still parses
    assert s is not None and s.duration_ms == 4.012


@pytest.mark.parametrize(("fields", "ms"), [
    ({"duration_ms": 7}, 7.0),  # a line from an older turnout: no duration_us
    ({"duration_ms": "7"}, 7.0),
    ({"duration_us": None, "duration_ms": 7}, 7.0),  # no response sent: Envoy writes null
    ({"duration_us": "-", "duration_ms": 7}, 7.0),
    ({"duration_us": 0, "duration_ms": 0}, 0.0),  # a real 0 stays 0
])
def test_duration_falls_back_to_whole_milliseconds(fields: dict[str, object], ms: float) -> None:
    assert duration_ms(fields) == ms


@pytest.mark.parametrize(("fields", "reason"), [
    ({"duration_us": math.nan, "duration_ms": 3}, "nan"),
    ({"duration_us": "NaN", "duration_ms": 3}, "nan"),
    ({"duration_us": -1500, "duration_ms": 3}, "negative"),
    ({"duration_us": math.inf, "duration_ms": 3}, "infinite"),
    ({"duration_us": "1e999", "duration_ms": 3}, "infinite"),
    ({"duration_us": "fast", "duration_ms": 3}, "unparsable"),
    ({"duration_us": True, "duration_ms": 3}, "unparsable"),
    ({"duration_us": [1], "duration_ms": 3}, "unparsable"),
    ({"duration_us": 10**400, "duration_ms": 3}, "unparsable"),
    ({"duration_ms": "-5"}, "negative"),
    ({"duration_ms": -math.inf}, "infinite"),
    ({"duration_ms": "n/a"}, "unparsable"),
    ({"duration_ms": "-"}, "missing"),
    ({}, "missing"),
])
def test_unbelievable_durations_are_refused_never_zero(fields: dict[str, object],
                                                        reason: str) -> None:
    with pytest.raises(BadDuration) as e:
        duration_ms(fields)
    assert e.value.reason == reason and reason in BadDuration.REASONS


def test_a_line_with_a_nan_duration_is_refused_not_malformed(directory: Directory) -> None:
    obj = json.loads(h.line())
    obj["duration_us"] = math.nan
    text = json.dumps(obj)  # Python writes the NaN literal, which json.loads reads back
    assert "NaN" in text
    with pytest.raises(BadDuration, match="duration_us is nan: nan"):
        parse_line(text, directory)
    obj.pop("duration_us")
    obj.pop("duration_ms")
    with pytest.raises(BadDuration) as e:
        parse_line(json.dumps(obj), directory)
    assert e.value.reason == "missing"
    # not an access-log object at all: malformed (None), not refused
    assert parse_line('{"duration_ms": "NaN"}', directory) is None
