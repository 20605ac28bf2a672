from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from turnout.kube.errors import ApiError
from turnout.kube.patch import json_patch, merge_patch, strategic_merge_patch


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ads", "namespace": "default", "labels": {"app": "ads"},
                     "finalizers": ["a", "b"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "ads"}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "ads"}},
                "spec": {
                    "containers": [
                        {"name": "ads", "image": "arapulido/ads-service:1.0",
                         "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"},
                                 {"name": "C", "value": "3"}],
                         "args": ["x", "y", "x"]},
                        {"name": "sidecar", "image": "busybox"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                },
            },
        },
    }


# --- merge patch ----------------------------------------------------------------------------

@pytest.mark.parametrize(("target", "patch", "expected"), [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_rfc7386_examples(target: dict[str, Any], patch: dict[str, Any],
                                      expected: dict[str, Any]) -> None:
    before = copy.deepcopy(target)
    assert merge_patch(target, patch) == expected
    assert target == before


def test_merge_patch_label_like_kubectl_label() -> None:
    ns = {"metadata": {"name": "ns3", "labels": {"kubernetes.io/metadata.name": "ns3"}}}
    out = merge_patch(ns, {"metadata": {"labels": {"istio-injection": "enabled"}}})
    assert out["metadata"]["labels"] == {"kubernetes.io/metadata.name": "ns3",
                                         "istio-injection": "enabled"}


def test_merge_patch_rejects_non_object() -> None:
    with pytest.raises(ApiError) as e:
        merge_patch({}, [1])
    assert e.value.code == 400


# --- JSON patch -----------------------------------------------------------------------------

def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "x/y": 1, "t~": 2}
    ops = [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "add", "path": "/a/b/0", "value": 0},
        {"op": "replace", "path": "/x~1y", "value": 10},
        {"op": "remove", "path": "/t~0"},
        {"op": "copy", "from": "/a/b", "path": "/c"},
        {"op": "move", "from": "/a/b/1", "path": "/m"},
        {"op": "test", "path": "/m", "value": 1},
        {"op": "test", "path": "/c", "value": [0, 1, 2, 3]},
    ]
    before = copy.deepcopy(doc)
    assert json_patch(doc, ops) == {"a": {"b": [0, 2, 3]}, "x/y": 10, "c": [0, 1, 2, 3], "m": 1}
    assert doc == before


def test_json_patch_scale_replicas_like_kubectl() -> None:
    out = json_patch(deployment(), [{"op": "replace", "path": "/spec/replicas", "value": 5}])
    assert out["spec"]["replicas"] == 5


@pytest.mark.parametrize(("ops", "detail"), [
    ([{"op": "test", "path": "/spec/replicas", "value": 3}],
     "testing value /spec/replicas failed: test failed"),
    ([{"op": "remove", "path": "/spec/nope"}],
     "error in remove for path: '/spec/nope': Unable to remove nonexistent key: nope: "
     "missing value"),
    ([{"op": "add", "path": "/nope/x", "value": 1}],
     'add operation does not apply: doc is missing path: "/nope/x": missing value'),
    ([{"op": "replace", "path": "/spec/template/spec/containers/5", "value": {}}],
     "replace operation does not apply: doc is missing key: "
     "/spec/template/spec/containers/5: missing value"),
    ([{"op": "move", "from": "/nope", "path": "/x"}],
     "move operation does not apply: doc is missing from path: /nope: missing value"),
    ([{"op": "frobnicate", "path": "/x"}], "Unexpected kind: frobnicate"),
])
def test_json_patch_failures_are_422_with_cause(ops: list[dict[str, Any]], detail: str) -> None:
    with pytest.raises(ApiError) as e:
        json_patch(deployment(), ops)
    assert e.value.code == 422
    assert e.value.reason == "Invalid"
    assert e.value.message == "the server rejected our request due to an error in our request"
    assert [c.message for c in e.value.causes] == [detail]


def test_json_patch_failure_leaves_input_alone() -> None:
    d = deployment()
    before = copy.deepcopy(d)
    with pytest.raises(ApiError):
        json_patch(d, [{"op": "replace", "path": "/spec/replicas", "value": 9},
                       {"op": "test", "path": "/spec/replicas", "value": 1}])
    assert d == before


def test_json_patch_malformed_is_400() -> None:
    with pytest.raises(ApiError) as e:
        json_patch({}, {"op": "add"})
    assert e.value.code == 400
    assert "cannot unmarshal object" in e.value.message


# --- strategic merge patch ------------------------------------------------------------------

def test_kubectl_apply_patch_image_env_change_and_env_delete() -> None:
    """The patch kubectl apply computes from last-applied-configuration when the image and env B
    change and env C is removed (sidecar was never in the applied file)."""
    patch = json.loads("""{
      "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
      "spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "ads"}],
        "containers": [{
          "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
          "env": [{"name": "B", "value": "20"}, {"$patch": "delete", "name": "C"}],
          "image": "arapulido/ads-service:2.0",
          "name": "ads"}]}}}}""")
    target = deployment()
    before = copy.deepcopy(target)
    out = strategic_merge_patch(target, patch, "apps", "Deployment")
    assert target == before
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["ads", "sidecar"]
    ads = containers[0]
    assert ads["image"] == "arapulido/ads-service:2.0"
    assert ads["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"}]
    assert ads["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert containers[1] == {"name": "sidecar", "image": "busybox"}
    assert out["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": "{}"}
    assert out["spec"]["replicas"] == 2


def test_env_removed_by_null_value_field_and_ports_merge_by_container_port() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{
        "name": "ads",
        "env": [{"name": "A", "value": None}],
        "ports": [{"containerPort": 9090}],
    }]}}}}
    out = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    ads = out["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "A"} in ads["env"]
    assert sorted(p["containerPort"] for p in ads["ports"]) == [8080, 9090]


def test_new_list_items_without_order_go_first_like_apimachinery() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "x"}]}}}}
    out = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    names = [c["name"] for c in out["spec"]["template"]["spec"]["containers"]]
    assert names == ["new", "ads", "sidecar"]


def test_set_element_order_reorders_and_keeps_server_only_items() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "ads"}]}}}}
    out = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == [
        "sidecar", "ads"]


def test_list_without_merge_key_is_replaced_whole() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "ads", "args": ["z"]}]}}}}
    out = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert out["spec"]["template"]["spec"]["containers"][0]["args"] == ["z"]


def test_primitive_merge_list_is_set_union_and_delete_from_primitive_list() -> None:
    out = strategic_merge_patch(deployment(), {"metadata": {"finalizers": ["b", "c"]}},
                                "apps", "Deployment")
    assert sorted(out["metadata"]["finalizers"]) == ["a", "b", "c"]
    out = strategic_merge_patch(deployment(),
                                {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
                                "apps", "Deployment")
    assert out["metadata"]["finalizers"] == ["b"]


def test_null_deletes_and_patch_delete_on_map() -> None:
    out = strategic_merge_patch(deployment(), {"metadata": {"labels": None},
                                               "spec": {"strategy": {"rollingUpdate": {
                                                   "$patch": "delete"}}}},
                                "apps", "Deployment")
    assert "labels" not in out["metadata"]
    assert out["spec"]["strategy"] == {"type": "RollingUpdate"}


def test_retain_keys_clears_union_members() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    out = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_patch_replace_in_map_and_in_list() -> None:
    out = strategic_merge_patch(deployment(), {"spec": {"selector": {
        "$patch": "replace", "matchLabels": {"app": "x"}}}}, "apps", "Deployment")
    assert out["spec"]["selector"] == {"matchLabels": {"app": "x"}}
    out = strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "i"}, {"$patch": "replace"}]}}}}, "apps", "Deployment")
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "i"}]


def test_volumes_merge_by_name_with_retain_keys() -> None:
    patch = {"spec": {"template": {"spec": {"volumes": [
        {"name": "data", "$retainKeys": ["name", "configMap"], "configMap": {"name": "cm"}}]}}}}
    out = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert out["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "configMap": {"name": "cm"}}]


def test_service_ports_merge_by_port() -> None:
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"}],
                    "selector": {"app": "a"}}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090},
                                                         {"port": 443, "name": "https"}]}},
                                "", "Service")
    assert sorted((p["port"], p.get("targetPort")) for p in out["spec"]["ports"]) == [
        (80, 9090), (443, None)]


def test_owner_references_merge_by_uid_and_conditions_by_type() -> None:
    pod = {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
           "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    out = strategic_merge_patch(pod, {"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]},
                                      "status": {"conditions": [{"type": "Ready",
                                                                 "status": "True"}]}},
                                "", "Pod")
    assert {o["uid"] for o in out["metadata"]["ownerReferences"]} == {"1", "2"}
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"}]


def test_new_value_loses_directives_and_nulls() -> None:
    out = strategic_merge_patch({}, {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "a"}],
        "containers": [{"name": "a", "image": None, "env": [{"name": "x", "value": "1"}]}]}}}},
        "apps", "Deployment")
    assert out == {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "env": [{"name": "x", "value": "1"}]}]}}}}


def test_unknown_kind_merges_maps_and_replaces_lists() -> None:
    out = strategic_merge_patch({"a": {"b": 1}, "l": [1, 2]}, {"a": {"c": 2}, "l": [3]},
                                "example.com", "Widget")
    assert out == {"a": {"b": 1, "c": 2}, "l": [3]}


@pytest.mark.parametrize("patch", [
    {"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}},
    {"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}},
    {"spec": {"selector": {"$patch": "bogus"}}},
    {"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}},
    [1, 2],
])
def test_malformed_strategic_patches_are_400(patch: Any) -> None:
    with pytest.raises(ApiError) as e:
        strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert e.value.code == 400
