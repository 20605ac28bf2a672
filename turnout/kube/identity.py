"""Who a pod is: the workload and revision that serve a request, and the names people read.

Arms of a release are revisions, as Argo Rollouts and Flagger know them, never labels:

- **workload**: the controller that owns the pod (a Deployment, through its ReplicaSet; an Argo
  `Rollout`, through its ReplicaSet; a StatefulSet, DaemonSet or Job), else the pod's own name.
  Flagger's primary is the workload `<target>-primary`, its canary `<target>`.
- **revision**: the pod template's hash, `rollouts-pod-template-hash` (Argo), `pod-template-hash`
  (a Deployment's ReplicaSet) or `controller-revision-hash`; empty for a bare pod.
- **version**: a name for people, `service.istio.io/canonical-revision`, `version`,
  `tags.datadoghq.com/version`, `app.kubernetes.io/version` or `DD_VERSION`; without one, the
  revision; else "unknown". Like Istio's `destination_canonical_revision`, never an arm.
- **service**: the APM service, `tags.datadoghq.com/service`, `DD_SERVICE`, `service`,
  `app.kubernetes.io/name`, `app`; else the workload.

One rule for telemetry, rollouts, the dashboard and the CLI: everything calls this module.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from turnout.types import Obj

UNKNOWN = "unknown"

REVISION_LABELS = ("rollouts-pod-template-hash", "pod-template-hash", "controller-revision-hash")
VERSION_LABELS = ("service.istio.io/canonical-revision", "version", "tags.datadoghq.com/version",
                  "app.kubernetes.io/version")
SERVICE_LABELS = ("tags.datadoghq.com/service",)
SERVICE_LABELS_AFTER_ENV = ("service", "app.kubernetes.io/name", "app")
APP_LABELS = ("app", "app.kubernetes.io/name")


@dataclass(frozen=True)
class PodIdentity:
    namespace: str
    name: str
    ip: str
    service: str
    version: str
    workload: str
    app: str
    """Istio's `app` label value (`source_app` / `destination_app`)."""
    revision: str = ""
    """The pod template's hash ("" for a bare pod)."""
    created: float = 0.0
    """`metadata.creationTimestamp`, seconds since the epoch (0 when unknown)."""


def env_value(spec: Obj, name: str) -> str:
    """The literal value of env var `name` in the first container that sets one."""
    for c in spec.get("containers") or []:
        for e in c.get("env") or []:
            if e.get("name") == name and isinstance(e.get("value"), str) and e["value"]:
                return str(e["value"])
    return ""


def revision_of(labels: Mapping[str, str]) -> str:
    return next((str(labels[k]) for k in REVISION_LABELS if labels.get(k)), "")


def version_of(labels: Mapping[str, str], spec: Obj) -> str:
    """The version people gave the template, or "" (see the module docstring)."""
    return (next((str(labels[k]) for k in VERSION_LABELS if labels.get(k)), "")
            or env_value(spec, "DD_VERSION"))


def service_of(labels: Mapping[str, str], spec: Obj) -> str:
    return (next((str(labels[k]) for k in SERVICE_LABELS if labels.get(k)), "")
            or env_value(spec, "DD_SERVICE")
            or next((str(labels[k]) for k in SERVICE_LABELS_AFTER_ENV if labels.get(k)), ""))


def workload_of(pod: Obj) -> str:
    """The owning workload: a ReplicaSet `name-<hash>` counts as its Deployment or Rollout."""
    meta = pod.get("metadata") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    for ref in meta.get("ownerReferences") or []:
        owner = str(ref.get("name") or "")
        if not owner:
            continue
        if ref.get("kind") == "ReplicaSet":
            h = labels.get("rollouts-pod-template-hash") or labels.get("pod-template-hash") or ""
            if h and owner.endswith("-" + h):
                return owner[: -len(h) - 1]
            head, sep, _ = owner.rpartition("-")
            return head if sep else owner
        return owner
    return str(meta.get("name") or "")


def identity_of(pod: Obj) -> PodIdentity:
    meta = pod.get("metadata") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    spec = pod.get("spec") or {}
    workload = workload_of(pod)
    revision = revision_of(labels)
    service = service_of(labels, spec)
    return PodIdentity(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        ip=str((pod.get("status") or {}).get("podIP") or ""),
        service=service or workload or UNKNOWN,
        version=version_of(labels, spec) or revision or UNKNOWN,
        workload=workload or UNKNOWN,
        app=next((str(labels[k]) for k in APP_LABELS if labels.get(k)), "") or service
        or UNKNOWN,
        revision=revision,
        created=_epoch(str(meta.get("creationTimestamp") or "")),
    )


def _epoch(rfc3339: str) -> float:
    try:
        return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def template_names(template: Obj, workload: str) -> tuple[str, str]:
    """(service, version) that pods made from `template` will carry, for people to read; the
    version is "" when only the revision will name them."""
    labels: Mapping[str, str] = (template.get("metadata") or {}).get("labels") or {}
    spec = template.get("spec") or {}
    return service_of(labels, spec) or workload, version_of(labels, spec)
