from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from turnout.kube import validation
from turnout.kube.errors import ApiError

SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
             "'-' or '.', and must start and end with an alphanumeric character (e.g. "
             "'example.com', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
         "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
         "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
           "with an alphabetic character, and end with an alphanumeric character (e.g. "
           "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "ads", "namespace": "default", "labels": {"app": "ads"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "ads"}},
            "template": {"metadata": {"labels": {"app": "ads", "version": "1.0"}},
                         "spec": {"containers": [{
                             "name": "ads", "image": "arapulido/ads-service:1.0",
                             "ports": [{"containerPort": 5001}],
                             "livenessProbe": {"httpGet": {"path": "/", "port": 5001}}}]}},
        },
    }


def service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "ads", "namespace": "default"},
            "spec": {"selector": {"app": "ads"}, "type": "NodePort",
                     "ports": [{"port": 5001, "targetPort": 5001, "nodePort": 30001}]}}


Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(obj: dict[str, Any]) -> None:
        parts = path.split(".")
        cur: Any = obj
        for p in parts[:-1]:
            cur = cur[int(p)] if p.isdigit() else cur[p]
        last = parts[-1]
        if value is _DEL:
            del cur[int(last) if last.isdigit() else last]
        elif last.isdigit():
            cur[int(last)] = value
        else:
            cur[last] = value
    return edit


_DEL = object()
C0 = "spec.template.spec.containers.0"


@pytest.mark.parametrize(("edit", "expected"), [
    (_set("metadata.name", "Foo"), [("metadata.name", f'Invalid value: "Foo": {SUBDOMAIN}')]),
    (_set("metadata.name", _DEL),
     [("metadata.name", "Required value: name or generateName is required")]),
    (_set("metadata.namespace", _DEL), [("metadata.namespace", "Required value")]),
    (_set("spec.selector", _DEL), [("spec.selector", "Required value")]),
    (_set("spec.replicas", -1),
     [("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")]),
    (_set("spec.selector.matchLabels", {"app": "other"}),
     [("spec.template.metadata.labels",
       'Invalid value: map[string]string{"app":"ads", "version":"1.0"}: `selector` does not '
       "match template `labels`")]),
    (_set("spec.template.spec.containers", []),
     [("spec.template.spec.containers", "Required value")]),
    (_set(f"{C0}.image", _DEL), [("spec.template.spec.containers[0].image", "Required value")]),
    (_set(f"{C0}.name", "Ads"),
     [("spec.template.spec.containers[0].name", f'Invalid value: "Ads": {LABEL}')]),
    (_set(f"{C0}.ports.0.containerPort", 70000),
     [("spec.template.spec.containers[0].ports[0].containerPort",
       "Invalid value: 70000: must be between 1 and 65535, inclusive")]),
    (_set(f"{C0}.ports.0.protocol", "HTTP"),
     [("spec.template.spec.containers[0].ports[0].protocol",
       'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')]),
    (_set(f"{C0}.livenessProbe", {"periodSeconds": 5}),
     [("spec.template.spec.containers[0].livenessProbe",
       "Required value: must specify a handler type")]),
    (_set(f"{C0}.livenessProbe.exec", {"command": ["true"]}),
     [("spec.template.spec.containers[0].livenessProbe.httpGet",
       "Forbidden: may not specify more than 1 handler type")]),
    (_set("spec.template.spec.restartPolicy", "Never"),
     [("spec.template.spec.restartPolicy",
       'Unsupported value: "Never": supported values: "Always"')]),
    (_set("spec.template.spec.restartPolicy", "Sometimes"),
     [("spec.template.spec.restartPolicy",
       'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"')]),
    (_set("spec.strategy", {"type": "BlueGreen"}),
     [("spec.strategy.type",
       'Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"')]),
    (_set("spec.strategy", {"type": "RollingUpdate",
                            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
     [("spec.strategy.rollingUpdate.maxUnavailable",
       'Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when '
       "`maxSurge` is 0")]),
    (_set("spec.strategy", {"type": "Recreate", "rollingUpdate": {}}),
     [("spec.strategy.rollingUpdate",
       "Forbidden: may not be specified when strategy `type` is 'Recreate'")]),
    (_set("metadata.labels", {"app": "bad value"}),
     [("metadata.labels",
       "Invalid value: \"bad value\": a valid label must be an empty string or consist of "
       "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
       "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
       "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")]),
])
def test_deployment_validation(edit: Edit, expected: list[tuple[str, str]]) -> None:
    d = deployment()
    edit(d)
    causes = validation.validate(d, "apps", "Deployment")
    assert [(c.field, c.message) for c in causes] == expected


def test_duplicate_container_names() -> None:
    d = deployment()
    containers = d["spec"]["template"]["spec"]["containers"]
    containers.append(copy.deepcopy(containers[0]))
    assert [(c.field, c.message) for c in validation.validate(d, "apps", "Deployment")] == [
        ("spec.template.spec.containers[1].name", 'Duplicate value: "ads"')]


def test_valid_deployment_and_generate_name() -> None:
    d = deployment()
    assert validation.validate(d, "apps", "Deployment") == []
    del d["metadata"]["name"]
    d["metadata"]["generateName"] = "ads-"
    assert validation.validate(d, "apps", "Deployment") == []


def test_check_raises_422_with_server_message() -> None:
    d = deployment()
    del d["spec"]["template"]["spec"]["containers"][0]["image"]
    with pytest.raises(ApiError) as e:
        validation.check(d, "apps", "Deployment", strict=True)
    assert e.value.code == 422
    assert e.value.message == ('Deployment.apps "ads" is invalid: '
                               "spec.template.spec.containers[0].image: Required value")
    assert e.value.status()["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value",
         "field": "spec.template.spec.containers[0].image"}]


def test_check_decode_error_comes_first_and_is_400() -> None:
    d = deployment()
    d["spec"]["replicas"] = "1"
    del d["spec"]["selector"]
    with pytest.raises(ApiError) as e:
        validation.check(d, "apps", "Deployment", strict=False)
    assert e.value.code == 400
    d = deployment()
    d["spec"]["foo"] = 1
    validation.check(d, "apps", "Deployment", strict=False)
    with pytest.raises(ApiError) as e:
        validation.check(d, "apps", "Deployment", strict=True)
    assert e.value.message.endswith('strict decoding error: unknown field "spec.foo"')


def test_deployment_selector_is_immutable() -> None:
    old = deployment()
    new = deployment()
    new["spec"]["selector"] = {"matchLabels": {"app": "ads", "version": "1.0"}}
    causes = validation.validate(new, "apps", "Deployment", old=old)
    assert [(c.field, c.message) for c in causes] == [(
        "spec.selector",
        'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"ads", '
        '"version":"1.0"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is '
        "immutable")]


@pytest.mark.parametrize(("edit", "expected"), [
    (_set("spec.ports", []), [("spec.ports", "Required value")]),
    (_set("spec.type", "Bogus"),
     [("spec.type", 'Unsupported value: "Bogus": supported values: "ClusterIP", "ExternalName", '
                    '"LoadBalancer", "NodePort"')]),
    (_set("spec.ports.0.port", 0),
     [("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive")]),
    (_set("spec.ports.0.nodePort", 40000),
     [("spec.ports[0].nodePort", "Invalid value: 40000: provided port is not in the valid "
                                 "range. The range of valid ports is 30000-32767")]),
    (_set("spec.type", "ClusterIP"),
     [("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")]),
    (_set("spec.ports.0.protocol", "ICMP"),
     [("spec.ports[0].protocol",
       'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"')]),
    (_set("metadata.name", "1ads"), [("metadata.name", f'Invalid value: "1ads": {DNS1035}')]),
    (_set("spec.ports", [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]),
     [("spec.ports[1]", 'Duplicate value: core.ServicePort{Name:"b", Protocol:"TCP", '
                        "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString"
                        '{Type:0, IntVal:0, StrVal:""}, NodePort:0}')]),
    (_set("spec.ports", [{"port": 80}, {"port": 81}]),
     [("spec.ports[0].name", "Required value"), ("spec.ports[1].name", "Required value")]),
])
def test_service_validation(edit: Edit, expected: list[tuple[str, str]]) -> None:
    s = service()
    edit(s)
    assert [(c.field, c.message) for c in validation.validate(s, "", "Service")] == expected


def test_headless_and_external_name_services_need_no_ports() -> None:
    s = service()
    s["spec"] = {"clusterIP": "None", "selector": {"app": "db"}}
    assert validation.validate(s, "", "Service") == []
    s["spec"] = {"type": "ExternalName", "externalName": "example.com"}
    assert validation.validate(s, "", "Service") == []


def test_service_cluster_ip_cannot_change() -> None:
    old = service()
    old["spec"]["clusterIP"] = "127.10.0.5"
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "127.10.0.6"
    causes = validation.validate(new, "", "Service", old=old)
    assert [(c.field, c.message) for c in causes] == [
        ("spec.clusterIPs[0]", 'Invalid value: []string{"127.10.0.6"}: may not change once set')]
    assert validation.validate(copy.deepcopy(old), "", "Service", old=old) == []


def test_secrets_and_configmaps() -> None:
    lab = {"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "db-password", "namespace": "default"},
           "type": "Opaque", "data": {"pw": "password"}}
    validation.check(lab, "", "Secret", strict=True)
    bad = copy.deepcopy(lab)
    bad["data"] = {"bad key": "cGFzcw=="}
    causes = validation.validate(bad, "", "Secret")
    assert [(c.field, c.message) for c in causes] == [(
        "data[bad key]",
        "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, "
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
        "validation is '[-._a-zA-Z0-9]+')")]
    tls = {**lab, "type": "kubernetes.io/tls", "data": {"tls.crt": ""}}
    assert [c.field for c in validation.validate(tls, "", "Secret")] == ["data[tls.key]"]
    cm = {"metadata": {"name": "c", "namespace": "d"}, "data": {"..x": "1", "ok": "2"},
          "binaryData": {"ok": ""}}
    assert [(c.field, c.message.split(":")[-1].strip())
            for c in validation.validate(cm, "", "ConfigMap")] == [
        ("data[..x]", "must not start with '..'"),
        ("data[ok]", "duplicate of key present in binaryData")]


def test_immutable_secret_and_type() -> None:
    old = {"metadata": {"name": "s", "namespace": "d"}, "immutable": True, "data": {"a": "YQ=="}}
    new = {"metadata": {"name": "s", "namespace": "d"}, "data": {"a": "Yg=="},
           "type": "kubernetes.io/tls"}
    causes = validation.validate(new, "", "Secret", old=old)
    assert [(c.field, c.message) for c in causes][-3:] == [
        ("immutable", "Forbidden: field is immutable when `immutable` is set"),
        ("data", "Forbidden: field is immutable when `immutable` is set"),
        ("type", 'Invalid value: "kubernetes.io/tls": field is immutable')]


def test_namespace_names_are_dns_labels_and_cluster_scoped() -> None:
    ns = {"metadata": {"name": "ns.1"}}
    assert [(c.field, c.message) for c in validation.validate(ns, "", "Namespace")] == [
        ("metadata.name", 'Invalid value: "ns.1": must not contain dots')]
    assert validation.validate({"metadata": {"name": "ns1"}}, "", "Namespace") == []


def test_ingress_path_types_and_backends() -> None:
    ing = {"metadata": {"name": "i", "namespace": "d"},
           "spec": {"rules": [{"host": "*.example.com", "http": {"paths": [
               {"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "frontend", "port": {"number": 80}}}},
               {"path": "x", "pathType": "Exact",
                "backend": {"service": {"name": "frontend", "port": {"number": 80}}}},
               {"path": "/y", "pathType": "Regex",
                "backend": {"service": {"name": "frontend", "port": {}}}},
               {"path": "/z", "backend": {"service": {"name": "frontend",
                                                      "port": {"name": "http"}}}}]}}]}}
    assert [(c.field, c.message) for c in validation.validate(
        ing, "networking.k8s.io", "Ingress")] == [
        ("spec.rules[0].http.paths[1].path", 'Invalid value: "x": must be an absolute path'),
        ("spec.rules[0].http.paths[2].pathType",
         'Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", '
         '"Prefix"'),
        ("spec.rules[0].http.paths[2].backend",
         "Required value: port name or number is required"),
        ("spec.rules[0].http.paths[3].pathType", "Required value: pathType must be specified")]


def test_pod_and_job_rules() -> None:
    pod = {"metadata": {"name": "p", "namespace": "d"},
           "spec": {"containers": [{"name": "c", "image": "busybox",
                                    "volumeMounts": [{"name": "data", "mountPath": "/d"}]}],
                    "restartPolicy": "Never"}}
    assert [(c.field, c.message) for c in validation.validate(pod, "", "Pod")] == [
        ("spec.containers[0].volumeMounts[0].name", 'Not found: "data"')]
    job = {"metadata": {"name": "j", "namespace": "d"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    assert [(c.field, c.message) for c in validation.validate(job, "batch", "Job")] == [
        ("spec.template.spec.restartPolicy",
         'Unsupported value: "Always": supported values: "OnFailure", "Never"')]


def test_rbac_names_are_path_segments() -> None:
    role = {"metadata": {"name": "system:controller:x", "namespace": "d"}}
    assert validation.validate(role, "rbac.authorization.k8s.io", "Role") == []
    role["metadata"]["name"] = "a/b"
    assert [c.message for c in validation.validate(role, "rbac.authorization.k8s.io", "Role")] == [
        "Invalid value: \"a/b\": may not contain '/'"]
