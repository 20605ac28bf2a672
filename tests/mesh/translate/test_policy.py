from __future__ import annotations

from turnout.mesh.translate import policy
from turnout.types import Obj

DR: Obj = {"spec": {
    "host": "ads",
    "trafficPolicy": {
        "loadBalancer": {"simple": "ROUND_ROBIN"},
        "connectionPool": {"tcp": {"maxConnections": 10, "connectTimeout": "250ms"},
                           "http": {"http1MaxPendingRequests": 5, "maxRequestsPerConnection": 1}},
        "portLevelSettings": [{"port": {"number": 9090},
                               "loadBalancer": {"simple": "RANDOM"}}]},
    "subsets": [{"name": "v2", "labels": {"version": "v2"}, "trafficPolicy": {
        "loadBalancer": {"consistentHash": {"httpCookie": {"name": "u", "ttl": "60s"}}},
        "outlierDetection": {"consecutive5xxErrors": 3, "interval": "5s"}}}]}}


def test_top_level_port_level_and_subset_override_field_by_field() -> None:
    assert policy.cluster_fields(policy.effective(DR, "", 80))["lb_policy"] == "ROUND_ROBIN"
    assert policy.cluster_fields(policy.effective(DR, "", 9090))["lb_policy"] == "RANDOM"
    sub = policy.effective(DR, "v2", 80)
    fields = policy.cluster_fields(sub)
    assert fields["lb_policy"] == "RING_HASH"
    assert fields["ring_hash_lb_config"] == {"minimum_ring_size": 1024}
    assert fields["connect_timeout"] == "0.25s"  # inherited connectionPool
    th = fields["circuit_breakers"]["thresholds"][0]
    assert th["max_connections"] == 10 and th["max_pending_requests"] == 5
    assert fields["outlier_detection"]["consecutive_5xx"] == 3
    assert fields["outlier_detection"]["interval"] == "5s"
    assert fields["common_lb_config"] == {"healthy_panic_threshold": {"value": 0.0}}
    opts = fields["typed_extension_protocol_options"][policy.HTTP_OPTIONS]
    assert opts["common_http_protocol_options"] == {"max_requests_per_connection": 1}
    assert policy.hash_policy(sub) == [{"cookie": {"name": "u", "ttl": "60s"}}]


def test_mesh_default_is_least_request_with_open_circuit_breakers() -> None:
    fields = policy.cluster_fields(policy.effective(None, "", 80))
    assert fields["lb_policy"] == "LEAST_REQUEST"
    assert fields["circuit_breakers"]["thresholds"][0]["max_requests"] == policy.MAX_U32
    assert "outlier_detection" not in fields


def test_maglev_and_hash_keys() -> None:
    p = {"loadBalancer": {"consistentHash": {"maglev": {"tableSize": 65537},
                                             "useSourceIp": True}}}
    assert policy.cluster_fields(p)["maglev_lb_config"] == {"table_size": 65537}
    assert policy.hash_policy(p) == [{"connection_properties": {"source_ip": True}}]
    q = {"loadBalancer": {"consistentHash": {"httpQueryParameterName": "user"}}}
    assert policy.hash_policy(q) == [{"query_parameter": {"name": "user"}}]
