"""Defaulting, as the real API server applies it on create/update, for the kinds turnout runs.

Pure: the caller passes the clock and identifiers. Defaults matter to users because they show up
in `kubectl get -o yaml` and because kubectl's three-way apply diffs against them.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from turnout.types import Obj


def _setdefault(d: Obj, key: str, value: Any) -> None:
    if d.get(key) is None:
        d[key] = value


def pod_spec(spec: Obj) -> None:
    _setdefault(spec, "restartPolicy", "Always")
    _setdefault(spec, "terminationGracePeriodSeconds", 30)
    _setdefault(spec, "dnsPolicy", "ClusterFirst")
    _setdefault(spec, "schedulerName", "default-scheduler")
    _setdefault(spec, "securityContext", {})
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if not isinstance(c, dict):
            continue
        image = str(c.get("image", ""))
        tag = image.rsplit("/", 1)[-1]
        latest = ":" not in tag or tag.endswith(":latest")
        _setdefault(c, "imagePullPolicy", "Always" if latest else "IfNotPresent")
        _setdefault(c, "terminationMessagePath", "/dev/termination-log")
        _setdefault(c, "terminationMessagePolicy", "File")
        _setdefault(c, "resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                _setdefault(p, "protocol", "TCP")
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            pr = c.get(probe)
            if isinstance(pr, dict):
                _setdefault(pr, "timeoutSeconds", 1)
                _setdefault(pr, "periodSeconds", 10)
                _setdefault(pr, "successThreshold", 1)
                _setdefault(pr, "failureThreshold", 3)
                hg = pr.get("httpGet")
                if isinstance(hg, dict):
                    _setdefault(hg, "path", "/")
                    _setdefault(hg, "scheme", "HTTP")


def pod(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    _setdefault(spec, "serviceAccountName", spec.get("serviceAccount") or "default")
    _setdefault(spec, "serviceAccount", spec["serviceAccountName"])
    _setdefault(spec, "enableServiceLinks", True)
    _setdefault(spec, "priority", 0)
    status = obj.setdefault("status", {})
    _setdefault(status, "phase", "Pending")
    _setdefault(status, "qosClass", "BestEffort")


def _template(spec: Obj) -> None:
    tmpl = spec.get("template")
    if isinstance(tmpl, dict):
        tmpl.setdefault("metadata", {})
        tmpl["metadata"].setdefault("creationTimestamp", None)
        pod_spec(tmpl.setdefault("spec", {}))


def deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    _setdefault(spec, "replicas", 1)
    _setdefault(spec, "revisionHistoryLimit", 10)
    _setdefault(spec, "progressDeadlineSeconds", 600)
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        strategy = spec["strategy"] = {}
    _setdefault(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        if isinstance(ru, dict):
            _setdefault(ru, "maxSurge", "25%")
            _setdefault(ru, "maxUnavailable", "25%")
    _template(spec)
    obj.setdefault("status", {})


def replicaset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    _setdefault(spec, "replicas", 1)
    _template(spec)
    obj.setdefault("status", {"replicas": 0})


def service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    _setdefault(spec, "type", "ClusterIP")
    _setdefault(spec, "sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        _setdefault(spec, "internalTrafficPolicy", "Cluster")
        _setdefault(spec, "ipFamilies", ["IPv4"])
        _setdefault(spec, "ipFamilyPolicy", "SingleStack")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        _setdefault(spec, "externalTrafficPolicy", "Cluster")
    for p in spec.get("ports") or []:
        if isinstance(p, dict):
            _setdefault(p, "protocol", "TCP")
            _setdefault(p, "targetPort", p.get("port"))
    status = obj.setdefault("status", {})
    if not isinstance(status, dict) or not status:
        obj["status"] = {"loadBalancer": {}}


def secret(obj: Obj) -> None:
    """`stringData` is folded into base64 `data`, as the real server does, and never stored."""
    _setdefault(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data: Obj = obj["data"] if isinstance(obj.get("data"), dict) else {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj["data"] = data


def namespace(obj: Obj) -> None:
    name = obj["metadata"]["name"]
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    status = obj.setdefault("status", {})
    _setdefault(status, "phase", "Active")


def pvc(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    _setdefault(spec, "volumeMode", "Filesystem")
    obj.setdefault("status", {}).setdefault("phase", "Pending")


def pv(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    _setdefault(spec, "persistentVolumeReclaimPolicy", "Retain")
    _setdefault(spec, "volumeMode", "Filesystem")
    obj.setdefault("status", {}).setdefault("phase", "Available")


def _job_spec(spec: Obj) -> None:
    _setdefault(spec, "backoffLimit", 6)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1  # no completions with a parallelism set is a work queue
    _setdefault(spec, "parallelism", 1)
    _setdefault(spec, "completionMode", "NonIndexed")
    _setdefault(spec, "suspend", False)
    _setdefault(spec, "podReplacementPolicy", "TerminatingOrFailed")
    _template(spec)


def job(obj: Obj) -> None:
    _job_spec(obj.setdefault("spec", {}))
    obj.setdefault("status", {})


def job_selector(obj: Obj) -> None:
    """What the server generates from a new Job's uid unless `spec.manualSelector`: the
    `controller-uid` selector and the pod template's job labels."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    meta = obj["metadata"]
    tmpl = spec.get("template")
    if isinstance(tmpl, dict):
        tmeta = tmpl.setdefault("metadata", {})
        labels: Obj = tmeta["labels"] if isinstance(tmeta.get("labels"), dict) else {}
        for k, v in (("batch.kubernetes.io/controller-uid", meta["uid"]),
                     ("batch.kubernetes.io/job-name", meta["name"]),
                     ("controller-uid", meta["uid"]), ("job-name", meta["name"])):
            labels.setdefault(k, v)
        tmeta["labels"] = labels
    sel: Obj = spec["selector"] if isinstance(spec.get("selector"), dict) else {}
    match: Obj = sel["matchLabels"] if isinstance(sel.get("matchLabels"), dict) else {}
    match.setdefault("batch.kubernetes.io/controller-uid", meta["uid"])
    sel["matchLabels"] = match
    spec["selector"] = sel


def cronjob(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    _setdefault(spec, "concurrencyPolicy", "Allow")
    _setdefault(spec, "suspend", False)
    _setdefault(spec, "successfulJobsHistoryLimit", 3)
    _setdefault(spec, "failedJobsHistoryLimit", 1)
    jt = spec.get("jobTemplate")
    if isinstance(jt, dict):
        jspec = jt.setdefault("spec", {})
        jmeta = jt.setdefault("metadata", {})
        if isinstance(jmeta, dict):
            jmeta.setdefault("creationTimestamp", None)
        if isinstance(jspec, dict):
            _job_spec(jspec)
    obj.setdefault("status", {})


def _update_strategy(spec: Obj, rolling: Obj) -> None:
    """`spec.updateStrategy` of a StatefulSet or DaemonSet: RollingUpdate with `rolling`."""
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    _setdefault(strategy, "type", "RollingUpdate")
    ru = strategy.setdefault("rollingUpdate", {}) if strategy["type"] == "RollingUpdate" else None
    if isinstance(ru, dict):
        for k, v in rolling.items():
            _setdefault(ru, k, v)


def statefulset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    _setdefault(spec, "replicas", 1)
    _setdefault(spec, "podManagementPolicy", "OrderedReady")
    _setdefault(spec, "revisionHistoryLimit", 10)
    _setdefault(spec, "persistentVolumeClaimRetentionPolicy",
                {"whenDeleted": "Retain", "whenScaled": "Retain"})
    _update_strategy(spec, {"partition": 0})
    for t in spec.get("volumeClaimTemplates") or []:
        if isinstance(t, dict):
            t.setdefault("apiVersion", "v1")
            t.setdefault("kind", "PersistentVolumeClaim")
            _setdefault(t.setdefault("spec", {}), "volumeMode", "Filesystem")
            t.setdefault("status", {"phase": "Pending"})
    _template(spec)
    obj.setdefault("status", {"replicas": 0, "availableReplicas": 0})


def daemonset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    _setdefault(spec, "revisionHistoryLimit", 10)
    _update_strategy(spec, {"maxUnavailable": 1, "maxSurge": 0})
    _template(spec)
    obj.setdefault("status", {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                              "desiredNumberScheduled": 0, "numberReady": 0})


BY_KIND = {
    ("", "Pod"): pod,
    ("apps", "Deployment"): deployment,
    ("apps", "ReplicaSet"): replicaset,
    ("", "Service"): service,
    ("", "Secret"): secret,
    ("", "Namespace"): namespace,
    ("", "PersistentVolumeClaim"): pvc,
    ("", "PersistentVolume"): pv,
    ("batch", "Job"): job,
    ("batch", "CronJob"): cronjob,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "DaemonSet"): daemonset,
}

# defaults that need the new object's uid (the server fills system fields first)
WITH_UID = {("batch", "Job"): job_selector}


def apply(obj: Obj, group: str, kind: str) -> Obj:
    """A defaulted copy of `obj`."""
    out = copy.deepcopy(obj)
    fn = BY_KIND.get((group, kind))
    if fn is not None:
        fn(out)
    return out


def with_uid(obj: Obj, group: str, kind: str) -> None:
    """Complete a new object whose uid is set (in place)."""
    fn = WITH_UID.get((group, kind))
    if fn is not None:
        fn(obj)


def spec_changed(old: Obj, new: Obj) -> bool:
    """Whether a write changes more than metadata and status (so `generation` must increase)."""
    strip = ("metadata", "status", "apiVersion", "kind")
    a = {k: v for k, v in old.items() if k not in strip}
    b = {k: v for k, v in new.items() if k not in strip}
    return a != b
