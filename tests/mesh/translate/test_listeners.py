from __future__ import annotations

from turnout.mesh.translate import accesslog, listeners
from turnout.mesh.translate.registry import Registry
from turnout.types import Obj

from .. import helpers as h


def build(objs: list[Obj]) -> dict[str, Obj]:
    return {lis["name"]: lis for lis in listeners.build(Registry(h.snap(objs)))}


def addr(lis: Obj) -> tuple[str, int]:
    sa = lis["address"]["socket_address"]
    return sa["address"], sa["port_value"]


def filt(lis: Obj) -> Obj:
    return dict(lis["filter_chains"][0]["filters"][0])


def test_pod_service_nodeport_gateway_and_nginx_listeners() -> None:
    objs = [*h.seed_objects(),
            h.service("db", "ns3", "127.77.200.7", [{"port": 5432, "name": "postgres"}],
                      {"app": "db"}),
            h.service("web", "ns3", "127.77.200.8", [{"port": 80, "nodePort": 30080}],
                      {"app": "web"}, kind="NodePort")]
    ls = build(objs)
    assert addr(ls["pod/ns3/frontend-1"]) == ("127.77.2.10", 15001)
    pod_hcm = filt(ls["pod/ns3/frontend-1"])["typed_config"]
    assert pod_hcm["rds"] == {"route_config_name": "mesh/ns3"}
    assert pod_hcm["codec_type"] == "AUTO"  # HTTP/2 prior knowledge too: gRPC clients
    assert [f["name"] for f in pod_hcm["http_filters"]] == [
        "envoy.filters.http.fault", "envoy.filters.http.dynamic_forward_proxy",
        "envoy.filters.http.router"]
    assert addr(ls["service/ns3/advertisements/5002"]) == ("127.77.200.2", 5002)
    inline = filt(ls["service/ns3/advertisements/5002"])["typed_config"]
    assert "rds" not in inline and inline["codec_type"] == "AUTO"
    assert inline["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["cluster"] == (
        "kube|5002||advertisements.ns3.svc.cluster.local")
    assert filt(ls["service/ns3/db/5432"])["name"] == "envoy.filters.network.tcp_proxy"
    assert filt(ls["service/ns3/db/5432"])["typed_config"]["cluster"] == (
        "kube|5432||db.ns3.svc.cluster.local")
    assert addr(ls["nodeport/ns3/web/30080"]) == ("127.0.0.1", 30080)
    assert addr(ls["gateway/istio-system/istio-ingressgateway"]) == ("127.0.0.1", 30003)
    assert addr(ls["ingress/ingress-nginx/ingress-nginx-controller"]) == ("127.0.0.1", 32000)


def test_access_log_names_the_source() -> None:
    ls = build(h.seed_objects())
    log = filt(ls["pod/ns3/frontend-1"])["typed_config"]["access_log"][0]["typed_config"]
    fields = log["log_format"]["json_format"]
    assert fields["source_namespace"] == "ns3" and fields["source_name"] == "frontend-1"
    assert fields["listener_kind"] == "pod"
    assert {"start_time", "duration_ms", "upstream_service_time_ms", "method", "path",
            "authority", "response_code", "response_flags", "bytes_received", "bytes_sent",
            "request_id", "traceparent", "route_name", "upstream_cluster",
            "upstream_host"} <= set(fields)
    # microseconds for HTTP (a 2 ms service that becomes 4 ms must not tie); Envoy has no
    # COMMON_DURATION for TCP, whose lines keep the whole-ms duration only
    assert fields["duration_us"] == "%COMMON_DURATION(DS_RX_BEG:DS_TX_END:us)%"
    tcp = accesslog.access_log("/x.log", "pod", "ns3", "db", "pod/ns3/db", http=False)
    assert "duration_us" not in tcp[0]["typed_config"]["log_format"]["json_format"]


def test_finished_pods_have_no_listener_and_address_clashes_keep_the_first() -> None:
    done = h.pod("job", "ns3", "127.77.2.40", {})
    done["status"]["phase"] = "Succeeded"
    clash = h.service("dup", "ns3", "127.77.200.2", [{"port": 5002}], {"a": "b"})
    ls = build([*h.seed_objects(), done, clash])
    assert "pod/ns3/job" not in ls
    assert "service/ns3/dup/5002" not in ls and "service/ns3/advertisements/5002" in ls
