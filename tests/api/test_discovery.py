"""Discovery answers: legacy always, aggregated only in a version the client listed."""

from __future__ import annotations

from turnout.api import discovery, openapi
from turnout.kube.resources import Registry


def test_aggregated_only_in_a_listed_version() -> None:
    v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    v2beta1 = ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
               "application/json")
    assert discovery.aggregated_version(v2) == "v2"
    assert discovery.aggregated_version(v2beta1) == "v2beta1"
    assert discovery.aggregated_version("application/json") is None


def test_core_group_lists_pods_with_subresources_and_short_names() -> None:
    doc = discovery.api_resource_list(Registry(), "", "v1")
    assert doc is not None
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["namespaced"]
    assert by_name["pods/log"]["verbs"] == ["get"]
    assert "nodes" in by_name and not by_name["nodes"]["namespaced"]


def test_istio_served_in_three_versions_with_v1_preferred() -> None:
    group = discovery.api_group(Registry(), "networking.istio.io")
    assert group is not None
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1", "v1alpha3"]
    assert group["preferredVersion"]["version"] == "v1"
    agg = discovery.aggregated(Registry(), legacy=False, version="v2")
    names = {i["metadata"]["name"] for i in agg["items"]}
    assert {"apps", "networking.istio.io", "argoproj.io"} <= names


def test_openapi_root_lists_custom_groups_and_patch_operations() -> None:
    reg = Registry()
    root = openapi.root(reg)
    assert "apis/networking.istio.io/v1alpha3" in root["paths"]
    doc = openapi.document(reg, "apps", "v1")
    assert doc is not None
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert any(p["name"] == "fieldValidation" for p in op["parameters"])
    assert "requestBody" not in op
    assert openapi.v2_document(protobuf=True).startswith(b"\n\x032.0")
