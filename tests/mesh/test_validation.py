from __future__ import annotations

import copy

import pytest

from turnout.kube.errors import Cause
from turnout.mesh.validation import validate_destination_rule, validate_virtual_service
from turnout.types import Obj

from . import helpers as h


def vs(*rules: Obj) -> Obj:
    return {"kind": "VirtualService", "metadata": {"name": "v", "namespace": "n"},
            "spec": {"hosts": ["ads"], "http": list(rules)}}


D = {"destination": {"host": "ads", "subset": "v1"}}


def fields(causes: list[Cause]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in causes]


def test_seed_objects_are_valid() -> None:
    assert validate_virtual_service(h.SEED_VS) == []
    assert validate_destination_rule(h.SEED_DR) == []
    assert validate_virtual_service(h.GATEWAY_VS) == []


def test_negative_weight_and_total_zero() -> None:
    got = fields(validate_virtual_service(vs({"route": [{**D, "weight": -10}, {**D,
                                                                               "weight": 10}]})))
    assert got == [("spec.http[0].route[0].weight", "weight -10 < 0")]
    got = fields(validate_virtual_service(vs({"route": [{**D, "weight": 0}, {**D, "weight": 0}]})))
    assert got == [("spec.http[0].route", "total destination weight = 0")]
    assert validate_virtual_service(vs({"route": [{**D, "weight": 0}, {**D, "weight": 5}]})) == []


def test_a_weight_that_is_not_an_integer_says_so() -> None:
    for bad in ("fifty", 50.5, True):
        got = fields(validate_virtual_service(vs({"route": [{**D, "weight": bad},
                                                            {**D, "weight": 50}]})))
        assert got == [("spec.http[0].route[0].weight", "must be an integer")]


def test_route_redirect_or_direct_response_required_and_exclusive() -> None:
    got = fields(validate_virtual_service(vs({"match": [{"uri": {"prefix": "/"}}]})))
    assert got == [("spec.http[0]", "HTTP route, redirect or direct_response is required")]
    got = fields(validate_virtual_service(vs({"route": [D], "redirect": {"uri": "/x"}})))
    assert got == [("spec.http[0]", "HTTP route cannot contain both route and redirect")]


@pytest.mark.parametrize("where", ["uri", "headers", "queryParams", "authority"])
def test_invalid_re2_regex_is_reported_with_its_path(where: str) -> None:
    bad = {"regex": "a(?=b)"}
    match = {where: {"x-h": bad}} if where in ("headers", "queryParams") else {where: bad}
    causes = validate_virtual_service(vs({"match": [match], "route": [D]}))
    assert len(causes) == 1
    path = f"spec.http[0].match[0].{where}" + (".x-h" if where in ("headers", "queryParams")
                                               else "")
    assert causes[0].field == path + ".regex"
    assert "invalid RE2 regex" in causes[0].message


def test_durations_percentages_and_status_codes() -> None:
    rule = {"route": [D], "timeout": "soon",
            "fault": {"abort": {"httpStatus": 700, "percentage": {"value": 150}},
                      "delay": {"percentage": {"value": 10}}},
            "retries": {"attempts": 2, "perTryTimeout": "1x"}}
    got = dict(fields(validate_virtual_service(vs(rule))))
    assert set(got) == {"spec.http[0].timeout", "spec.http[0].retries.perTryTimeout",
                        "spec.http[0].fault.delay.fixedDelay",
                        "spec.http[0].fault.abort.httpStatus",
                        "spec.http[0].fault.abort.percentage.value"}


def test_missing_destination_host() -> None:
    bad = vs({"route": [{"destination": {"subset": "v1"}}]})
    got = fields(validate_virtual_service(bad))
    assert ("spec.http[0].route[0].destination.host", "destination.host is required") in got


def test_delegate_virtual_services_follow_istios_rules() -> None:
    # a hostless VirtualService is a delegate: valid, as long as it binds no gateway
    child = vs({"route": [D]})
    child["spec"]["hosts"] = []
    assert validate_virtual_service(child) == []
    child["spec"]["gateways"] = ["istio-system/gw"]
    child["spec"]["http"].append({"delegate": {"name": "again"}})
    got = fields(validate_virtual_service(child))
    assert ("spec.gateways", "delegate virtual service must have no gateways specified") in got
    assert ("spec.http[1].delegate", "http delegate only applies to root virtual service") in got
    # a root rule hands over with `delegate`, never together with a route
    root = vs({"match": [{"uri": {"prefix": "/podinfo"}}], "rewrite": {"uri": "/"},
               "delegate": {"name": "podinfo", "namespace": "test"}})
    assert validate_virtual_service(root) == []
    root["spec"]["http"][0]["route"] = [D]
    root["spec"]["http"][0]["delegate"] = {"namespace": "test"}
    got = fields(validate_virtual_service(root))
    assert ("spec.http[0]", "HTTP route and delegate can not exist at the same time") in got
    assert ("spec.http[0].delegate.name", "delegate name can not be empty") in got


def test_destination_rule_duplicate_subsets_and_policies() -> None:
    dr = copy.deepcopy(h.SEED_DR)
    dr["spec"]["subsets"].append({"name": "v1", "labels": {"version": "x"}})
    dr["spec"]["trafficPolicy"] = {
        "loadBalancer": {"simple": "FASTEST"},
        "outlierDetection": {"maxEjectionPercent": 120, "interval": "x"},
        "connectionPool": {"tcp": {"maxConnections": -1}}}
    got = dict(fields(validate_destination_rule(dr)))
    assert got["spec.subsets[2].name"] == "duplicate subset names: v1"
    assert set(got) == {"spec.subsets[2].name", "spec.trafficPolicy.loadBalancer.simple",
                        "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
                        "spec.trafficPolicy.outlierDetection.interval",
                        "spec.trafficPolicy.connectionPool.tcp.maxConnections"}
    assert fields(validate_destination_rule({"spec": {}})) == [("spec.host", "host is required")]


def test_consistent_hash_needs_exactly_one_key() -> None:
    dr = {"spec": {"host": "a", "trafficPolicy": {"loadBalancer": {"consistentHash": {}}}}}
    assert [c.field for c in validate_destination_rule(dr)] == [
        "spec.trafficPolicy.loadBalancer.consistentHash"]


def test_regex_above_the_program_size_limit_is_refused_at_admission() -> None:
    from turnout.mesh import regex

    assert regex.error("ref-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}") is None
    too_big = regex.error("[a-z0-9]{999}" * 20)
    assert too_big is not None and ("program size" in too_big or "too large" in too_big)
