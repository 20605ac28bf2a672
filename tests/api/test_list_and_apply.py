"""LIST pages (limit / continue / remainingItemCount / 410 Expired), server-side apply through
HTTP, Status bodies byte for byte, and unknown kinds such as APIService stored."""

from __future__ import annotations

import json

from tests.api.helpers import client, request
from turnout.kube import listoptions
from turnout.kube.resources import Registry
from turnout.store.db import Store
from turnout.store.objects import Objects

CM = "/api/v1/namespaces/default/configmaps"
DEP = "/apis/apps/v1/namespaces/default/deployments"
APPLY = "application/apply-patch+yaml"


def _fill(c: object, n: int) -> None:
    for i in range(n):
        r = request(c, "POST", CM, {"metadata": {"name": f"c{i:02d}"}})  # type: ignore[arg-type]
        assert r.status_code == 201


def test_pages_are_one_consistent_snapshot() -> None:
    c, _ = client()
    _fill(c, 5)
    first = request(c, "GET", f"{CM}?limit=2").json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["c00", "c01"]
    meta = first["metadata"]
    assert meta["remainingItemCount"] == 3
    token = listoptions.decode_continue(meta["continue"])
    assert token.rv == int(meta["resourceVersion"]) and token.start == "default/c02"
    raw = json.loads(__import__("base64").urlsafe_b64decode(meta["continue"] + "=="))
    assert raw == {"v": "meta.k8s.io/v1", "rv": token.rv, "start": "default/c02"}
    request(c, "DELETE", f"{CM}/c03")  # changes after the first page do not show
    request(c, "POST", CM, {"metadata": {"name": "c025"}})
    second = request(c, "GET", f"{CM}?limit=2&continue={meta['continue']}").json()
    assert [i["metadata"]["name"] for i in second["items"]] == ["c02", "c03"]
    third = request(c, "GET", f"{CM}?limit=2&continue={second['metadata']['continue']}").json()
    assert [i["metadata"]["name"] for i in third["items"]] == ["c04"]
    assert "continue" not in third["metadata"] and "remainingItemCount" not in third["metadata"]


def test_selectors_page_without_a_remaining_count() -> None:
    c, _ = client()
    _fill(c, 3)
    page = request(c, "GET", f"{CM}?limit=1&labelSelector=!nope").json()
    assert page["metadata"]["continue"] and "remainingItemCount" not in page["metadata"]


def test_an_expired_token_is_410_with_a_fresh_token() -> None:
    from tests.api.helpers import bootstrap_into

    o = bootstrap_into(Objects(Store(None, log_size=4), Registry()))
    c, _ = client(o)
    _fill(c, 3)
    token = request(c, "GET", f"{CM}?limit=1").json()["metadata"]["continue"]
    for i in range(3):  # the log moves past the token's snapshot
        request(c, "PATCH", f"{CM}/c01", {"data": {"i": str(i)}},
                content_type="application/merge-patch+json")
    r = request(c, "GET", f"{CM}?limit=1&continue={token}")
    assert r.status_code == 410
    status = r.json()
    assert status["reason"] == "Expired"
    assert status["message"] == listoptions.EXPIRED_CONTINUE
    fresh = listoptions.decode_continue(status["metadata"]["continue"])
    assert fresh.rv == -1 and fresh.start == "default/c01"
    rest = request(c, "GET", f"{CM}?limit=5&continue={status['metadata']['continue']}").json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c01", "c02"]


def test_status_bodies_are_byte_compatible() -> None:
    c, _ = client()
    request(c, "POST", CM, {"metadata": {"name": "dup"}})
    r = request(c, "POST", CM, {"metadata": {"name": "dup"}})
    assert r.content == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                         b'"message":"configmaps \\"dup\\" already exists","reason":'
                         b'"AlreadyExists","details":{"name":"dup","kind":"configmaps"},'
                         b'"code":409}\n')
    r = request(c, "GET", f"{DEP}/nope")
    assert r.content == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                         b'"message":"deployments.apps \\"nope\\" not found","reason":"NotFound",'
                         b'"details":{"name":"nope","group":"apps","kind":"deployments"},'
                         b'"code":404}\n')


def test_apiservices_are_stored_and_discovered() -> None:
    c, _ = client()
    body = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1alpha1.wardle.k8s.io"},
            "spec": {"group": "wardle.k8s.io", "version": "v1alpha1",
                     "groupPriorityMinimum": 1000, "versionPriority": 15}}
    path = "/apis/apiregistration.k8s.io/v1/apiservices"
    assert request(c, "POST", path, body).status_code == 201
    again = request(c, "POST", path, body).json()
    assert again["message"] == 'apiservices.apiregistration.k8s.io "v1alpha1.wardle.k8s.io" ' \
                               "already exists"
    assert again["details"]["group"] == "apiregistration.k8s.io"
    disc = request(c, "GET", "/apis/apiregistration.k8s.io/v1").json()
    assert "apiservices" in {r["name"] for r in disc["resources"]}


def _deploy(replicas: int) -> str:
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
            f"  replicas: {replicas}\n  selector:\n    matchLabels: {{app: web}}\n"
            "  template:\n    metadata:\n      labels: {app: web}\n    spec:\n"
            "      containers:\n      - name: c\n        image: busybox\n")


def test_server_side_apply_records_managers_and_refuses_a_conflict() -> None:
    c, _ = client()
    r = request(c, "PATCH", f"{DEP}/web?fieldManager=alice", _deploy(2), content_type=APPLY)
    assert r.status_code == 201, r.text
    entry = r.json()["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == \
        ("alice", "Apply", "FieldsV1")
    assert "f:replicas" in entry["fieldsV1"]["f:spec"]
    r = request(c, "PATCH", f"{DEP}/web?fieldManager=bob", _deploy(3), content_type=APPLY)
    assert r.status_code == 409
    status = r.json()
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "alice": '
                                 ".spec.replicas")
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                            "message": 'conflict with "alice"',
                                            "field": ".spec.replicas"}]
    dry = request(c, "PATCH", f"{DEP}/web?fieldManager=bob&force=true&dryRun=All",
                  _deploy(3), content_type=APPLY)
    assert dry.json()["spec"]["replicas"] == 3
    assert request(c, "GET", f"{DEP}/web").json()["spec"]["replicas"] == 2
    r = request(c, "PATCH", f"{DEP}/web?fieldManager=bob&force=true", _deploy(3),
                content_type=APPLY)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 3
    owners = {m["manager"]: m for m in r.json()["metadata"]["managedFields"]}
    assert "f:replicas" in owners["bob"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners["alice"]["fieldsV1"]["f:spec"]


def test_an_update_manager_is_named_with_its_api_version() -> None:
    c, _ = client()
    body = json.loads(json.dumps(__import__("yaml").safe_load(_deploy(1))))
    r = request(c, "POST", f"{DEP}?fieldManager=kubectl-create", body)
    assert r.status_code == 201
    r = request(c, "PATCH", f"{DEP}/web?fieldManager=kubectl", _deploy(4), content_type=APPLY)
    assert r.status_code == 409
    assert r.json()["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-create" '
                                   "using apps/v1: .spec.replicas")


def test_writes_without_a_field_manager_are_named_after_the_user_agent() -> None:
    c, _ = client()
    r = request(c, "POST", CM, {"metadata": {"name": "ua"}, "data": {"a": "b"}},
                headers={"User-Agent": "kubectl/v1.32.0 (linux/amd64)"})
    assert r.json()["metadata"]["managedFields"][0]["manager"] == "kubectl"
