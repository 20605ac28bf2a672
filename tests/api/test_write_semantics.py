"""Exact answers for writes a tester found wrong: unknown fields (pruned, warned), StatefulSet
claim mounts, JSON patch limits and quirks, Scale decode errors, evictions and budgets."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import client, request
from tests.api.test_bad_input import CM, DEPLOYS, NS, PODS, alias_bomb, world
from turnout.kube import decoding

JSON_PATCH = "application/json-patch+json"


def test_unknown_fields_are_dropped_with_a_warning_by_default() -> None:
    c, _ = client(world())
    r = request(c, "POST", CM, {"metadata": {"name": "x"}, "data": {"a": "1"},
                                "extra": {"foo": "bar"}, "metadata2": 1})
    assert r.status_code == 201
    assert r.headers.get_list("warning") == ['299 - "unknown field \\"extra\\""',
                                             '299 - "unknown field \\"metadata2\\""']
    assert "extra" not in r.json()
    stored = request(c, "GET", f"{CM}/x").json()
    assert "extra" not in stored and stored["data"] == {"a": "1"}


def test_ignore_drops_silently_and_nested_unknowns_are_named_by_path() -> None:
    c, _ = client(world())
    r = request(c, "POST", f"{CM}?fieldValidation=Ignore", {"metadata": {"name": "y"},
                                                            "extra": 1})
    assert r.status_code == 201 and "warning" not in r.headers and "extra" not in r.json()
    r = request(c, "PATCH", f"{DEPLOYS}/web", {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "imagePullPolice": "Always"}]}}}},
        content_type="application/strategic-merge-patch+json")
    assert r.status_code == 200
    assert r.headers["warning"] == ('299 - "unknown field '
                                    '\\"spec.template.spec.containers[0].imagePullPolice\\""')
    assert "imagePullPolice" not in str(r.json())


def test_apply_with_an_unknown_field_warns_and_owns_nothing_of_it() -> None:
    c, _ = client(world())
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: z}\ndata: {a: b}\nbogus: 1\n"
    r = request(c, "PATCH", f"{CM}/z?fieldManager=m", body,
                content_type="application/apply-patch+yaml")
    assert r.status_code == 201, r.text
    assert r.headers["warning"] == '299 - "unknown field \\"bogus\\""'
    assert "bogus" not in str(r.json())


def test_statefulset_mounts_may_name_claim_templates() -> None:
    c, _ = client(world())
    labels = {"app": "nginx"}
    sts: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": labels}, "serviceName": "nginx", "replicas": 2,
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                        "name": "nginx", "image": "nginx",
                        "volumeMounts": [{"name": "www",
                                          "mountPath": "/usr/share/nginx/html"}]}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}}}}]}}
    r = request(c, "POST", f"/apis/apps/v1/namespaces/{NS}/statefulsets", sts)
    assert r.status_code == 201, r.text
    sts["metadata"]["name"] = "web2"
    sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] = "data"
    r = request(c, "POST", f"/apis/apps/v1/namespaces/{NS}/statefulsets", sts)
    assert r.status_code == 422
    assert "volumeMounts[0].name: Not found: \"www\"" in r.json()["message"]


def test_json_patch_limits_and_the_v4_replace_quirk() -> None:
    c, _ = client(world())
    ops = [{"op": "test", "path": "/data/a", "value": "b"}] * 10002
    r = request(c, "PATCH", f"{CM}/cm1", ops, content_type=JSON_PATCH)
    assert r.status_code == 413 and r.json()["reason"] == "RequestEntityTooLarge"
    assert r.json()["message"] == ("Request entity too large: The allowed maximum operations in "
                                   "a JSON patch is 10000, got 10002")
    # json-patch v4 (what kube-apiserver uses) replaces a missing object key as an add:
    # partialDoc.get returns (nil, nil) for it. Missing array indexes and parents do fail.
    r = request(c, "PATCH", f"{CM}/cm1", [{"op": "replace", "path": "/data/zzz", "value": "1"}],
                content_type=JSON_PATCH)
    assert r.status_code == 200 and r.json()["data"]["zzz"] == "1"
    r = request(c, "PATCH", f"{CM}/cm1", [{"op": "replace", "path": "/nope/zzz", "value": "1"}],
                content_type=JSON_PATCH)
    assert r.status_code == 422
    assert r.json()["message"] == "the server rejected our request due to an error in our request"


def test_scale_with_a_string_is_a_decode_error() -> None:
    c, _ = client(world())
    r = request(c, "PUT", f"{DEPLOYS}/web/scale", {"spec": {"replicas": "many"}})
    assert r.status_code == 400
    assert r.json()["message"] == ('Scale in version "v1" cannot be handled as a Scale: json: '
                                   "cannot unmarshal string into Go struct field "
                                   "ScaleSpec.spec.replicas of type int32")


def test_json_syntax_errors_are_worded_like_go() -> None:
    c, _ = client(world())
    r = request(c, "POST", CM, '{"metadata": {"name": }}')
    assert r.status_code == 400
    assert r.json()["message"] == (
        "the object provided is unrecognized (must be of type ConfigMap): couldn't get "
        "version/kind; json parse error: invalid character '}' looking for beginning of value "
        '({"metadata": {"name": }})')


def test_alias_bomb_is_refused_before_it_is_expanded() -> None:
    try:
        decoding.loads_yaml(alias_bomb(12).encode())  # 9**12 nodes if expanded
    except decoding.DecodeError as e:
        assert str(e) == "yaml: document contains excessive aliasing"
    else:
        raise AssertionError("accepted")
    # a few aliases are fine, as in go-yaml
    assert decoding.loads_yaml(b"a: &x [1, 2]\nb: *x\nc: *x\n") == {
        "a": [1, 2], "b": [1, 2], "c": [1, 2]}


def _pod(o: Any, name: str, labels: dict[str, str], ready: bool) -> None:
    rt = o.registry.by_key("pods")
    pod = o.create(rt, NS, {"metadata": {"name": name, "labels": labels},
                            "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    pod["status"] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}
    o.update(rt, NS, name, pod, subresource="status")


def test_eviction_deletes_the_pod_unless_a_budget_forbids() -> None:
    c, o = client(world())
    ev: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p1"}}
    r = request(c, "POST", f"{PODS}/p1/eviction", ev)
    assert r.status_code == 201, r.text
    assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Success", "code": 201}
    assert request(c, "GET", f"{PODS}/p1").status_code in (200, 404)  # graceful or gone
    for i in range(2):
        _pod(o, f"db-{i}", {"app": "db"}, ready=True)
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "db"}, "spec": {"minAvailable": 2,
                                                "selector": {"matchLabels": {"app": "db"}}}}
    assert request(c, "POST", f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets",
                   pdb).status_code == 201
    ev["metadata"]["name"] = "db-0"
    r = request(c, "POST", f"{PODS}/db-0/eviction", ev)
    assert r.status_code == 429 and r.json()["reason"] == "TooManyRequests"
    assert r.json()["details"]["causes"][0]["message"] == (
        "The disruption budget db needs 2 healthy pods and has 2 currently")
    disc = request(c, "GET", "/api/v1").json()
    sub = next(x for x in disc["resources"] if x["name"] == "pods/eviction")
    assert (sub["group"], sub["version"], sub["kind"]) == ("policy", "v1", "Eviction")
