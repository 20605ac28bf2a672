from __future__ import annotations

from turnout.mesh.translate import clusters
from turnout.mesh.translate.registry import Registry

from .. import helpers as h

ADS = "advertisements.ns3.svc.cluster.local"


def by_name() -> dict[str, dict[str, object]]:
    reg = Registry(h.snap(h.seed_objects()))
    return {c["name"]: c for c in clusters.build(clusters.plan(reg))}


def test_kube_and_mesh_flavours_and_one_cluster_per_subset() -> None:
    cs = by_name()
    assert {f"kube|5002||{ADS}", f"outbound|5002||{ADS}", f"outbound|5002|v1|{ADS}",
            f"outbound|5002|v2|{ADS}"} <= set(cs)
    assert cs[f"kube|5002||{ADS}"]["lb_policy"] == "RANDOM"
    assert cs[f"outbound|5002|v1|{ADS}"]["lb_policy"] == "LEAST_REQUEST"
    assert cs[f"outbound|5002|v1|{ADS}"]["type"] == "EDS"
    assert cs[f"outbound|5002|v1|{ADS}"]["eds_cluster_config"] == {
        "service_name": f"outbound|5002|v1|{ADS}"}


def test_grpc_ports_speak_http2_upstream_in_both_flavours_and_keep_dr_options() -> None:
    dr = {"kind": "DestinationRule", "metadata": {"name": "grpc", "namespace": "ns3"},
          "spec": {"host": "podinfo", "trafficPolicy": {"connectionPool": {"http": {
              "idleTimeout": "30s"}}}}}
    objs = [*h.seed_objects(), dr,
            h.service("podinfo", "ns3", "127.77.200.9",
                      [{"port": 9898, "name": "http"}, {"port": 9999, "name": "grpc"}],
                      {"app": "podinfo"})]
    cs = {c["name"]: c for c in clusters.build(clusters.plan(Registry(h.snap(objs))))}
    fqdn = "podinfo.ns3.svc.cluster.local"
    key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    for name in (f"kube|9999||{fqdn}", f"outbound|9999||{fqdn}"):
        opts = cs[name]["typed_extension_protocol_options"][key]
        assert opts["@type"] == "type.googleapis.com/" + key
        assert opts["explicit_http_config"] == {"http2_protocol_options": {}}
    assert cs[f"outbound|9999||{fqdn}"]["typed_extension_protocol_options"][key][
        "common_http_protocol_options"] == {"idle_timeout": "30s"}
    assert "typed_extension_protocol_options" not in cs[f"kube|9898||{fqdn}"]
    assert cs[f"outbound|9898||{fqdn}"]["typed_extension_protocol_options"][key][
        "explicit_http_config"] == {"http_protocol_options": {}}
