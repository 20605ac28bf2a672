from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest

from turnout.kube import schema
from turnout.kube.resources import BUILTIN, ISTIO_NET


def test_data_file_is_small_and_covers_every_builtin_kind() -> None:
    raw = resources.files("turnout.kube").joinpath("data", schema.DATA_FILE).read_bytes()
    assert len(raw) < 300_000
    assert schema.kubernetes_version().startswith("v1.32")
    for rt in BUILTIN:
        if rt.group in (ISTIO_NET, "argoproj.io", "flagger.app") or not rt.builtin:
            assert schema.kind_schema(rt.group, rt.kind) is None
            continue
        for v in rt.versions:
            assert schema.kind_schema(rt.group, rt.kind, v) is not None, (rt.group, v, rt.kind)


@pytest.mark.parametrize(("group", "kind", "path", "expected"), [
    ("apps", "Deployment", ("spec", "template", "spec", "containers"), ("name", "merge")),
    ("apps", "Deployment", ("spec", "template", "spec", "initContainers"), ("name", "merge")),
    ("apps", "Deployment", ("spec", "template", "spec", "imagePullSecrets"), ("name", "merge")),
    ("apps", "Deployment", ("spec", "template", "spec", "volumes"), ("name", "merge,retainKeys")),
    ("apps", "Deployment", ("spec", "template", "spec", "containers", "env"), ("name", "merge")),
    ("apps", "Deployment", ("spec", "template", "spec", "containers", "ports"),
     ("containerPort", "merge")),
    ("apps", "Deployment", ("spec", "template", "spec", "containers", "volumeMounts"),
     ("mountPath", "merge")),
    ("apps", "Deployment", ("spec", "strategy"), (None, "retainKeys")),
    ("apps", "Deployment", ("spec", "template", "spec", "containers", "args"), (None, "")),
    ("", "Service", ("spec", "ports"), ("port", "merge")),
    ("", "Pod", ("metadata", "ownerReferences"), ("uid", "merge")),
    ("", "Pod", ("metadata", "finalizers"), (None, "merge")),
    ("", "Pod", ("status", "conditions"), ("type", "merge")),
    ("apps", "Deployment", ("status", "conditions"), ("type", "merge")),
    ("apps", "Deployment", ("spec", "nope"), (None, "")),
    ("example.com", "Widget", ("spec",), (None, "")),
])
def test_merge_keys_match_kubernetes_struct_tags(group: str, kind: str, path: tuple[str, ...],
                                                 expected: tuple[str | None, str]) -> None:
    assert schema.merge_key(group, kind, path) == expected


def test_field_schema_types_and_go_names() -> None:
    fs = schema.field_schema("apps", "Deployment", ["spec", "replicas"])
    assert fs is not None and fs.type == "int32" and fs.go_type == "int32"
    fs = schema.field_schema("apps", "Deployment", ["spec", "template", "spec", "containers"])
    assert fs is not None and fs.type == "array" and fs.go_type == "[]v1.Container"
    fs = schema.field_schema("", "Pod", ["spec", "containers", "0", "resources", "limits"])
    assert fs is not None and fs.type == "map" and fs.go_type == "map[string]resource.Quantity"
    fs = schema.field_schema("", "Secret", ["data", "pw"])
    assert fs is not None and fs.type == "bytes"
    fs = schema.field_schema("apps", "Deployment", ["spec", "strategy", "rollingUpdate",
                                                    "maxSurge"])
    assert fs is not None and fs.type == "intstr"
    fs = schema.field_schema("apps", "Deployment", ["spec"])
    assert fs is not None and fs.go_struct == "DeploymentSpec"
    assert "template" in fs.required
    assert schema.field_schema("autoscaling", "HorizontalPodAutoscaler",
                               ["spec", "metrics"]) is not None  # v2 is preferred
    assert schema.field_schema("autoscaling", "HorizontalPodAutoscaler", ["spec", "metrics"],
                               version="v1") is None


def deployment() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "labels": {"app": "x"},
                         "annotations": {"a": "b"}, "creationTimestamp": None},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}},
                     "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
                     "template": {"metadata": {"labels": {"app": "x"}},
                                  "spec": {"containers": [{
                                      "name": "c", "image": "i",
                                      "ports": [{"containerPort": 80}],
                                      "resources": {"limits": {"cpu": "500m", "memory": 1e9}},
                                  }]}}}}


PREFIX = 'Deployment in version "v1" cannot be handled as a Deployment: '


@pytest.mark.parametrize(("path", "value", "message"), [
    (("spec", "replicas"), "1",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type "
     "int32"),
    (("spec", "replicas"), 1.5,
     "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of "
     "type int32"),
    (("spec", "replicas"), 2**31,
     "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas "
     "of type int32"),
    (("spec", "paused"), "yes",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type "
     "bool"),
    (("spec", "template"), [],
     "json: cannot unmarshal array into Go struct field DeploymentSpec.spec.template of type "
     "v1.PodTemplateSpec"),
    (("metadata", "labels"), ["a"],
     "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type "
     "map[string]string"),
    (("spec", "template", "spec", "containers"), {"name": "c"},
     "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers "
     "of type []v1.Container"),
    (("spec", "strategy", "rollingUpdate", "maxSurge"), True,
     "json: cannot unmarshal bool into Go value of type int32"),
    (("spec", "selector", "matchLabels"), {"app": 1},
     "json: cannot unmarshal number into Go struct field LabelSelector.spec.selector.matchLabels "
     "of type string"),
])
def test_decode_type_errors_use_go_wording(path: tuple[str, ...], value: Any,
                                           message: str) -> None:
    d = deployment()
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    err = schema.decode_errors(d, "apps", "Deployment", strict=False)
    assert err is not None
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == PREFIX + message


def test_decode_accepts_valid_objects_and_nulls() -> None:
    assert schema.decode_errors(deployment(), "apps", "Deployment", strict=True) is None


def test_quantity_and_container_port_strings() -> None:
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "lots"
    err = schema.decode_errors(d, "apps", "Deployment", strict=False)
    assert err is not None and err.message == PREFIX + (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "80"
    err = schema.decode_errors(d, "apps", "Deployment", strict=False)
    assert err is not None and err.message == PREFIX + (
        "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec."
        "containers.ports.containerPort of type int32")


def test_strict_unknown_fields_listed_in_document_order() -> None:
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["foo"] = 1
    d["spec"]["bar"] = {"x": 1}
    d["metadata"]["spec"] = {}
    assert schema.decode_errors(d, "apps", "Deployment", strict=False) is None
    err = schema.decode_errors(d, "apps", "Deployment", strict=True)
    assert err is not None and err.message == PREFIX + (
        'strict decoding error: unknown field "metadata.spec", unknown field '
        '"spec.template.spec.containers[0].foo", unknown field "spec.bar"')
    assert schema.unknown_fields(d, "apps", "Deployment") == [
        "metadata.spec", "spec.template.spec.containers[0].foo", "spec.bar"]
    before = copy.deepcopy(d)
    pruned = schema.prune_unknown(d, "apps", "Deployment")
    assert d == before
    assert "bar" not in pruned["spec"] and "spec" not in pruned["metadata"]
    assert "foo" not in pruned["spec"]["template"]["spec"]["containers"][0]
    assert pruned["spec"]["replicas"] == 1


def test_type_error_wins_over_unknown_fields() -> None:
    d = deployment()
    d["spec"]["foo"] = 1
    d["spec"]["replicas"] = "x"
    err = schema.decode_errors(d, "apps", "Deployment", strict=True)
    assert err is not None and "cannot unmarshal string" in err.message


@pytest.mark.parametrize(("value", "offset"), [
    ("password", None), ("cGFzc3dvcmQ=", None), ("YQ==", None), ("", None), ("YWJj\nZA==", None),
    ("abc", 0), ("a", 0), ("ab!d", 2), ("YQ=", 3), ("YQ==x", 4), ("a===", 1),
])
def test_go_base64_offsets(value: str, offset: int | None) -> None:
    assert schema.go_base64_error(value) == offset


def test_secret_with_bad_base64_is_400_and_lab_secret_is_fine() -> None:
    lab = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
           "data": {"pw": "password"}}
    assert schema.decode_errors(lab, "", "Secret", strict=True) is None
    bad = {**lab, "data": {"pw": "pass word"}}
    err = schema.decode_errors(bad, "", "Secret", strict=True)
    assert err is not None and err.message == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input '
        "byte 4")


def test_unknown_kinds_are_not_checked() -> None:
    assert schema.decode_errors({"spec": 1}, ISTIO_NET, "VirtualService", strict=True) is None
    assert schema.prune_unknown({"x": 1}, "example.com", "W") == {"x": 1}
