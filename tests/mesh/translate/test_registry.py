from __future__ import annotations

import pytest

from turnout.mesh.translate.registry import Registry, is_http2_port, is_http_port

from .. import helpers as h


@pytest.mark.parametrize(("port", "http"), [
    ({"port": 80}, True), ({"port": 5002}, True), ({"port": 5432}, False),
    ({"port": 5432, "name": "http"}, True), ({"port": 8080, "name": "tcp-x"}, False),
    ({"port": 80, "name": "postgres"}, False), ({"port": 6379, "appProtocol": "http"}, True),
    ({"port": 9000, "name": "redis"}, False), ({"port": 53, "protocol": "UDP"}, False),
    ({"port": 8080, "name": "http2-grpc"}, True),
])
def test_protocol_sniffing_by_name_app_protocol_and_port(port: dict[str, object],
                                                        http: bool) -> None:
    assert is_http_port(port) is http


@pytest.mark.parametrize(("port", "http2"), [
    ({"port": 9999, "name": "grpc"}, True), ({"port": 9999, "name": "GRPC-api"}, True),
    ({"port": 80, "name": "http2"}, True), ({"port": 80, "name": "http2-web"}, True),
    ({"port": 80, "name": "h2c"}, True), ({"port": 80, "appProtocol": "kubernetes.io/h2c"}, True),
    ({"port": 80, "name": "http", "appProtocol": "grpc"}, True),
    ({"port": 80, "name": "grpc", "appProtocol": "http"}, False),
    ({"port": 80, "name": "grpc-web"}, False), ({"port": 80, "name": "http"}, False),
    ({"port": 80, "name": "http-grpc"}, False), ({"port": 80}, False),
])
def test_http2_ports_as_istio_selects_them(port: dict[str, object], http2: bool) -> None:
    assert is_http2_port(port) is http2
    if http2:
        assert is_http_port(port)


def test_qualify_short_names_relative_to_namespace() -> None:
    reg = Registry(h.snap([]))
    assert reg.qualify("ads", "ns3") == "ads.ns3.svc.cluster.local"
    assert reg.qualify("ads.ns1", "ns3") == "ads.ns1.svc.cluster.local"
    assert reg.qualify("ads.ns1.svc", "ns3") == "ads.ns1.svc.cluster.local"
    assert reg.qualify("example.com.", "ns3") == "example.com."
    assert reg.qualify("*.example.com", "ns3") == "*.example.com"


def test_named_target_port_resolves_per_pod() -> None:
    objs = [h.service("s", "a", "127.77.200.1", [{"port": 80, "targetPort": "web"}],
                      {"app": "s"}),
            h.pod("p1", "a", "127.77.1.1", {"app": "s"},
                  ports=[{"name": "web", "containerPort": 8080}]),
            h.pod("p2", "a", "127.77.1.2", {"app": "s"},
                  ports=[{"name": "web", "containerPort": 9090}]),
            h.pod("p3", "a", "127.77.1.3", {"app": "s"})]
    reg = Registry(h.snap(objs))
    svc = reg.services["s.a.svc.cluster.local"]
    assert [(e.ip, e.port) for e in reg.endpoints(svc, svc.ports[0])] == [
        ("127.77.1.1", 8080), ("127.77.1.2", 9090)]


def test_destination_rule_in_service_namespace_wins() -> None:
    dr_a = {"kind": "DestinationRule", "metadata": {"name": "x", "namespace": "other",
                                                    "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"host": "advertisements.ns3.svc.cluster.local",
                     "subsets": [{"name": "v1", "labels": {"version": "old"}}]}}
    reg = Registry(h.snap([*h.seed_objects(), dr_a]))
    assert reg.subset_labels("advertisements.ns3.svc.cluster.local", "v1") == {"version": "v1"}
