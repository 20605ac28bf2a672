"""One identity for telemetry, rollouts and the dashboard, whatever labels a pod carries.

Each row is a pod template as users write them; the pod is made from it the way a Deployment,
an Argo Rollout or Flagger's primary makes it. The rollout's arm for that revision must select
exactly the requests telemetry records for the pod (workload and revision), and every view must
name it the same way (service and version).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from turnout.kube import identity
from turnout.rollout import metrics
from turnout.telemetry.identity import Directory
from turnout.telemetry.records import enrich

LABEL_SETS: list[tuple[str, dict[str, str], dict[str, str], str, str]] = [
    # (case, labels, env, service people read, version people read ("" = the hash))
    ("app only (Flagger's docs)", {"app": "podinfo"}, {}, "podinfo", ""),
    ("lab: app + service", {"app": "ecommerce", "service": "advertisements"}, {},
     "advertisements", ""),
    ("lab: + version label", {"app": "ecommerce", "service": "advertisements", "version": "1.0"},
     {}, "advertisements", "1.0"),
    ("DD_SERVICE/DD_VERSION env", {"app": "ecommerce", "service": "ads"},
     {"DD_SERVICE": "ads-svc", "DD_VERSION": "2.0"}, "ads-svc", "2.0"),
    ("datadog tags", {"app": "x", "tags.datadoghq.com/service": "shop",
                      "tags.datadoghq.com/version": "7"}, {}, "shop", "7"),
    ("app.kubernetes.io/*", {"app.kubernetes.io/name": "api",
                             "app.kubernetes.io/version": "3.1"}, {}, "api", "3.1"),
    ("istio canonical revision", {"app": "web", "service.istio.io/canonical-revision": "v5",
                                  "version": "v4"}, {}, "web", "v5"),
    ("no labels at all", {}, {}, "", ""),
]

OWNERS = [
    # (kind of workload, owner kind, hash label, workload name)
    ("Deployment", "ReplicaSet", "pod-template-hash", "ads"),
    ("Argo Rollout", "ReplicaSet", "rollouts-pod-template-hash", "ads"),
    ("Flagger primary", "ReplicaSet", "pod-template-hash", "ads-primary"),
    ("StatefulSet", "StatefulSet", "controller-revision-hash", "ads"),
]


def template(labels: dict[str, str], env: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"labels": dict(labels)},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                                     "env": [{"name": k, "value": v} for k, v in env.items()]}]}}


def pod_from(tmpl: dict[str, Any], owner_kind: str, hash_label: str, workload: str,
             rev: str, ip: str) -> dict[str, Any]:
    pod = copy.deepcopy(tmpl)
    owner = f"{workload}-{rev}" if owner_kind == "ReplicaSet" else workload
    name = f"{owner}-abcde" if owner_kind == "ReplicaSet" else f"{workload}-0"
    pod["metadata"].update({"name": name, "namespace": "ns1", "ownerReferences": [
        {"kind": owner_kind, "name": owner, "apiVersion": "apps/v1", "controller": True}]})
    pod["metadata"]["labels"][hash_label] = rev
    pod["status"] = {"podIP": ip}
    return pod


def line_to(ip: str) -> dict[str, Any]:
    return {"start_time": "2026-12-02T00:00:00.000Z", "listener_kind": "service",
            "method": "GET", "path": "/", "response_code": 200, "duration_ms": 3,
            "upstream_host": f"{ip}:8080", "upstream_cluster": "kube|80||ads.ns1.svc.cluster.local",
            "route_name": "svc/ns1/ads/80", "authority": "ads"}


@pytest.mark.parametrize("kind,owner_kind,hash_label,workload", OWNERS,
                         ids=[o[0] for o in OWNERS])
@pytest.mark.parametrize("case,labels,env,service,version", LABEL_SETS,
                         ids=[c[0] for c in LABEL_SETS])
def test_same_identity_everywhere(case: str, labels: dict[str, str], env: dict[str, str],
                                  service: str, version: str, kind: str, owner_kind: str,
                                  hash_label: str, workload: str) -> None:
    tmpl = template(labels, env)
    directory = Directory()
    revs = {"stable": "5d4f8b9c7", "canary": "7f9c8d6b5"}
    records = {}
    for i, (arm_name, rev) in enumerate(revs.items()):
        pod = pod_from(tmpl, owner_kind, hash_label, workload, rev, f"127.30.0.{i + 1}")
        directory.update(pod, now=0.0)
        records[arm_name] = enrich(line_to(f"127.30.0.{i + 1}"), directory)
    for arm_name, rev in revs.items():
        rec = records[arm_name]
        arm = metrics.arm_of(workload, rev, tmpl)
        # the rollout's arm selects exactly this revision's requests
        assert (rec.dest_workload, rec.dest_revision) == (arm.workload, arm.revision), case
        # ...and names it as telemetry, the dashboard and the CLI do
        assert rec.dest_version == arm.name == (version or rev), case
        svc, _ = identity.template_names(tmpl, workload)
        assert rec.dest_service == svc == (service or workload), case
    # the two revisions are two arms even when no label tells them apart
    assert records["stable"].dest_revision != records["canary"].dest_revision


def test_bare_pod_is_its_own_workload_with_no_revision() -> None:
    pod = {"metadata": {"name": "debug", "namespace": "ns1", "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c"}]}, "status": {"podIP": "127.30.0.9"}}
    ident = identity.identity_of(pod)
    assert (ident.workload, ident.revision, ident.version, ident.service) == (
        "debug", "", "unknown", "web")
