"""DestinationRule traffic policies: which policy applies to a cluster, and its Envoy fields.

A subset inherits the top-level `trafficPolicy` and overrides it field by field; `portLevelSettings`
override for one port (top-level first, then the subset's). Without a policy the mesh default is
LEAST_REQUEST with Istio's unbounded circuit breakers.
"""

from __future__ import annotations

from turnout.mesh.translate import units
from turnout.types import Obj

MAX_U32 = 4294967295
HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
POLICY_FIELDS = ("loadBalancer", "connectionPool", "outlierDetection", "tls")
SIMPLE_LB = {"ROUND_ROBIN": "ROUND_ROBIN", "LEAST_CONN": "LEAST_REQUEST",
             "LEAST_REQUEST": "LEAST_REQUEST", "RANDOM": "RANDOM", "UNSPECIFIED": "LEAST_REQUEST",
             "PASSTHROUGH": "RANDOM"}


def _overlay(base: Obj, top: Obj | None, port: int) -> Obj:
    if not top:
        return base
    out = dict(base)
    for f in POLICY_FIELDS:
        if f in top:
            out[f] = top[f]
    for pls in top.get("portLevelSettings") or []:
        if int((pls.get("port") or {}).get("number") or 0) == port:
            for f in POLICY_FIELDS:
                if f in pls:
                    out[f] = pls[f]
    return out


def effective(dr: Obj | None, subset: str, port: int) -> Obj:
    """The merged traffic policy for `(subset, port)` of a DestinationRule's host."""
    if dr is None:
        return {}
    spec = dr.get("spec") or {}
    policy = _overlay({}, spec.get("trafficPolicy"), port)
    for s in spec.get("subsets") or []:
        if subset and s.get("name") == subset:
            policy = _overlay(policy, s.get("trafficPolicy"), port)
    return policy


def cluster_fields(policy: Obj) -> Obj:
    """Envoy Cluster fields (lb_policy, circuit breakers, outlier detection...) for a policy."""
    out: Obj = {"lb_policy": "LEAST_REQUEST", "connect_timeout": "10s"}
    thresholds: Obj = {"max_connections": MAX_U32, "max_pending_requests": MAX_U32,
                       "max_requests": MAX_U32, "max_retries": MAX_U32, "track_remaining": True}
    lb = policy.get("loadBalancer") or {}
    if "simple" in lb:
        out["lb_policy"] = SIMPLE_LB.get(str(lb["simple"]).upper(), "LEAST_REQUEST")
    ch = lb.get("consistentHash")
    if isinstance(ch, dict):
        if "maglev" in ch:
            out["lb_policy"] = "MAGLEV"
            size = (ch.get("maglev") or {}).get("tableSize")
            if size:
                out["maglev_lb_config"] = {"table_size": int(size)}
        else:
            out["lb_policy"] = "RING_HASH"
            size = (ch.get("ringHash") or {}).get("minimumRingSize") or ch.get("minimumRingSize")
            out["ring_hash_lb_config"] = {"minimum_ring_size": int(size or 1024)}
    pool = policy.get("connectionPool") or {}
    tcp, http = pool.get("tcp") or {}, pool.get("http") or {}
    if "maxConnections" in tcp:
        thresholds["max_connections"] = int(tcp["maxConnections"])
    if "connectTimeout" in tcp:
        out["connect_timeout"] = units.duration(tcp["connectTimeout"])
    if "http1MaxPendingRequests" in http:
        thresholds["max_pending_requests"] = int(http["http1MaxPendingRequests"])
    if "http2MaxRequests" in http:
        thresholds["max_requests"] = int(http["http2MaxRequests"])
    if "maxRetries" in http:
        thresholds["max_retries"] = int(http["maxRetries"])
    common: Obj = {}
    if http.get("maxRequestsPerConnection"):
        common["max_requests_per_connection"] = int(http["maxRequestsPerConnection"])
    if "idleTimeout" in http:
        common["idle_timeout"] = units.duration(http["idleTimeout"])
    if common:
        out["typed_extension_protocol_options"] = {
            HTTP_OPTIONS: {
                "@type": "type.googleapis.com/" + HTTP_OPTIONS,
                "common_http_protocol_options": common,
                "explicit_http_config": {"http_protocol_options": {}},
            }}
    out["circuit_breakers"] = {"thresholds": [thresholds]}
    od = policy.get("outlierDetection")
    if isinstance(od, dict):
        out["outlier_detection"] = _outlier(od)
        out["common_lb_config"] = {"healthy_panic_threshold": {
            "value": float(od.get("minHealthPercent", 0))}}
    return out


def _outlier(od: Obj) -> Obj:
    consecutive = od.get("consecutive5xxErrors", od.get("consecutiveErrors"))
    out: Obj = {
        "interval": units.duration(od.get("interval", "10s")),
        "base_ejection_time": units.duration(od.get("baseEjectionTime", "30s")),
        "max_ejection_percent": int(od.get("maxEjectionPercent", 10)),
        "enforcing_success_rate": 0,
    }
    if consecutive is not None:
        out["consecutive_5xx"] = int(consecutive)
        out["enforcing_consecutive_5xx"] = 100 if int(consecutive) > 0 else 0
    else:
        out["consecutive_5xx"] = 5
        out["enforcing_consecutive_5xx"] = 100
    if "consecutiveGatewayErrors" in od:
        out["consecutive_gateway_failure"] = int(od["consecutiveGatewayErrors"])
        out["enforcing_consecutive_gateway_failure"] = 100
    return out


def hash_policy(policy: Obj) -> list[Obj]:
    """Route-level hash policy for consistentHash load balancing (empty when not hashing)."""
    ch = (policy.get("loadBalancer") or {}).get("consistentHash")
    if not isinstance(ch, dict):
        return []
    if ch.get("httpHeaderName"):
        return [{"header": {"header_name": str(ch["httpHeaderName"])}}]
    if isinstance(ch.get("httpCookie"), dict):
        c = ch["httpCookie"]
        cookie: Obj = {"name": str(c.get("name", ""))}
        if c.get("ttl"):
            cookie["ttl"] = units.duration(c["ttl"])
        if c.get("path"):
            cookie["path"] = str(c["path"])
        return [{"cookie": cookie}]
    if ch.get("useSourceIp"):
        return [{"connection_properties": {"source_ip": True}}]
    if ch.get("httpQueryParameterName"):
        return [{"query_parameter": {"name": str(ch["httpQueryParameterName"])}}]
    return []
