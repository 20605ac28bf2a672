from __future__ import annotations

from turnout.mesh.translate import httproute
from turnout.mesh.translate.httproute import RouteContext
from turnout.mesh.translate.registry import Registry
from turnout.types import Obj

from .. import helpers as h

CTX = RouteContext(5002, {"app": "fe"}, "ns3")
ADS = "advertisements.ns3.svc.cluster.local"


def reg() -> Registry:
    return Registry(h.snap(h.seed_objects()))


def vs(*rules: Obj, gateways: list[str] | None = None) -> Obj:
    spec: Obj = {"hosts": ["advertisements"], "http": list(rules)}
    if gateways is not None:
        spec["gateways"] = gateways
    return {"kind": "VirtualService", "metadata": {"name": "r", "namespace": "ns3"}, "spec": spec}


DEST = {"destination": {"host": "advertisements", "subset": "v1"}}


def test_match_fields_translate_to_envoy_matchers() -> None:
    block = {"uri": {"prefix": "/ads"}, "ignoreUriCase": True,
             "headers": {"Page-Source": {"exact": "products"}, "x-any": {}},
             "withoutHeaders": {"x-debug": {"exact": "1"}},
             "queryParams": {"q": {"regex": "a.*"}, "flag": {}},
             "method": {"exact": "GET"}, "authority": {"prefix": "advert"}}
    m = httproute.match_block(block, "ns3", {"mesh"}, CTX)
    assert m == {
        "prefix": "/ads", "case_sensitive": False,
        "headers": [
            {"name": "page-source", "string_match": {"exact": "products"}},
            {"name": "x-any", "present_match": True},
            {"name": "x-debug", "string_match": {"exact": "1"}, "invert_match": True,
             "treat_missing_header_as_empty": True},
            {"name": ":method", "string_match": {"exact": "GET"}},
            {"name": ":authority", "string_match": {"prefix": "advert"}},
        ],
        "query_parameters": [{"name": "q", "string_match": {"safe_regex": {"regex": "a.*"}}},
                             {"name": "flag", "present_match": True}],
    }


def test_blocks_for_other_ports_gateways_or_workloads_are_dropped() -> None:
    assert httproute.match_block({"port": 80}, "ns3", {"mesh"}, CTX) is None
    assert httproute.match_block({}, "ns3", {"ns3/gw"}, CTX) is None
    assert httproute.match_block({"sourceLabels": {"app": "other"}}, "ns3", {"mesh"}, CTX) is None
    assert httproute.match_block({"sourceNamespace": "x"}, "ns3", {"mesh"}, CTX) is None
    assert httproute.match_block({"uri": {"exact": "/a"}}, "ns3", {"mesh"}, CTX) == {"path": "/a"}
    assert httproute.match_block({"uri": {"regex": "/a.*"}}, "ns3", {"mesh"}, CTX) == {
        "safe_regex": {"regex": "/a.*"}}


def test_weighted_destinations_keep_relative_weights_and_drop_zero() -> None:
    routes = httproute.vs_routes(reg(), vs({"route": [
        {"destination": {"host": "advertisements", "subset": "v1"}, "weight": 1},
        {"destination": {"host": "advertisements", "subset": "v2"}, "weight": 3},
        {"destination": {"host": "advertisements.ns3.svc.cluster.local", "subset": "v3"},
         "weight": 0}]}), CTX)
    assert routes[0]["route"]["weighted_clusters"] == {"clusters": [
        {"name": f"outbound|5002|v1|{ADS}", "weight": 1},
        {"name": f"outbound|5002|v2|{ADS}", "weight": 3}]}


def test_default_retry_policy_and_no_timeout() -> None:
    route = httproute.vs_routes(reg(), vs({"route": [DEST]}), CTX)[0]["route"]
    assert route["cluster"] == f"outbound|5002|v1|{ADS}"
    assert route["timeout"] == "0s"
    assert route["retry_policy"]["num_retries"] == 2
    assert route["retry_policy"]["retry_on"] == (
        "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes")


def test_explicit_retries_timeout_and_zero_attempts() -> None:
    r = httproute.vs_routes(reg(), vs({"route": [DEST], "timeout": "1.5s", "retries": {
        "attempts": 3, "perTryTimeout": "200ms", "retryOn": "5xx,503"}}), CTX)[0]["route"]
    assert r["timeout"] == "1.5s"
    assert r["retry_policy"] == {"retry_on": "5xx,retriable-status-codes", "num_retries": 3,
                                 "retriable_status_codes": [503], "per_try_timeout": "0.2s"}
    r0 = httproute.vs_routes(reg(), vs({"route": [DEST], "retries": {"attempts": 0}}), CTX)[0]
    assert "retry_policy" not in r0["route"]


def test_fault_mirror_rewrite_and_headers() -> None:
    rule = {"route": [{**DEST, "headers": {"response": {"set": {"x-v": "1"}}}}],
            "fault": {"delay": {"fixedDelay": "5s", "percentage": {"value": 12.5}},
                      "abort": {"httpStatus": 503, "percentage": {"value": 100}}},
            "mirror": {"host": "advertisements", "subset": "v2"},
            "mirrorPercentage": {"value": 10},
            "rewrite": {"uri": "/v2/", "authority": "ads.internal"},
            "headers": {"request": {"set": {"x-a": "1"}, "add": {"x-b": "2"},
                                    "remove": ["x-c"]}}}
    r = httproute.vs_routes(reg(), vs(rule), CTX)[0]
    fault = r["typed_per_filter_config"]["envoy.filters.http.fault"]
    assert fault["delay"] == {"fixed_delay": "5s",
                              "percentage": {"numerator": 125000, "denominator": "MILLION"}}
    assert fault["abort"]["http_status"] == 503
    assert fault["abort"]["percentage"]["numerator"] == 1_000_000
    assert r["route"]["request_mirror_policies"] == [{
        "cluster": f"outbound|5002|v2|{ADS}",
        "runtime_fraction": {"default_value": {"numerator": 100000, "denominator": "MILLION"}}}]
    assert r["route"]["prefix_rewrite"] == "/v2/"
    assert r["route"]["host_rewrite_literal"] == "ads.internal"
    assert r["request_headers_to_add"][0] == {"header": {"key": "x-a", "value": "1"},
                                              "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
    assert r["request_headers_to_add"][1]["append_action"] == "APPEND_IF_EXISTS_OR_ADD"
    assert r["request_headers_to_remove"] == ["x-c"]
    assert r["response_headers_to_add"] == [{"header": {"key": "x-v", "value": "1"},
                                             "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]


def test_fault_without_percentage_injects_nothing() -> None:
    r = httproute.vs_routes(reg(), vs({"route": [DEST], "fault": {
        "abort": {"httpStatus": 500}}}), CTX)[0]
    fault = r["typed_per_filter_config"]["envoy.filters.http.fault"]
    assert fault["abort"]["percentage"]["numerator"] == 0


def test_redirect_and_direct_response() -> None:
    red = httproute.vs_routes(reg(), vs({"redirect": {"uri": "/new", "authority": "x",
                                                      "redirectCode": 302}}), CTX)[0]
    assert red["redirect"] == {"response_code": "FOUND", "path_redirect": "/new",
                               "host_redirect": "x"}
    direct = httproute.vs_routes(reg(), vs({"directResponse": {"status": 418, "body": {
        "string": "teapot"}}}), CTX)[0]
    assert direct["direct_response"] == {"status": 418, "body": {"inline_string": "teapot"}}


def test_every_match_block_is_a_route_named_after_the_rule() -> None:
    routes = httproute.vs_routes(reg(), vs(
        {"match": [{"uri": {"exact": "/a"}}, {"uri": {"exact": "/b"}}], "route": [DEST]},
        {"route": [DEST]}), CTX)
    assert [(r["name"], r["match"]) for r in routes] == [
        ("vs/ns3/r/0", {"path": "/a"}), ("vs/ns3/r/0", {"path": "/b"}),
        ("vs/ns3/r/1", {"prefix": "/"})]


def test_consistent_hash_goes_on_the_route() -> None:
    objs = [o for o in h.seed_objects() if o is not h.SEED_DR] + [{
        **h.SEED_DR, "spec": {**h.SEED_DR["spec"], "trafficPolicy": {"loadBalancer": {
            "consistentHash": {"httpHeaderName": "x-user"}}}}}]
    r = httproute.vs_routes(Registry(h.snap(objs)), vs({"route": [DEST]}), CTX)[0]
    assert r["route"]["hash_policy"] == [{"header": {"header_name": "x-user"}}]


def test_gateway_reference_forms() -> None:
    from turnout.mesh.translate.httproute import qualified_gateways
    assert qualified_gateways(["mesh", "gw", "istio-system/public",
                               "public-gateway.istio-system.svc.cluster.local"], "ns3") == {
        "mesh", "ns3/gw", "istio-system/public", "istio-system/public-gateway"}
