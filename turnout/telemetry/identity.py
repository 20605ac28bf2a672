"""Who a pod is, for telemetry: its service, version and workload, looked up by address.

Access-log lines name pods only by address (`upstream_host` is `podIP:port`) or, for the per-pod
outbound listeners, by namespace/name. The directory keeps every pod it has seen, and keeps a
deleted pod's identity for a grace period so lines Envoy writes after the pod is gone (they reach
the file up to a flush interval later) still resolve. An address reused by a new pod wins at once.

Pure: no I/O (the clock is passed in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout.types import Obj

UNKNOWN = "unknown"

_VERSION_LABELS = ("version", "tags.datadoghq.com/version", "app.kubernetes.io/version")
_SERVICE_LABELS = ("tags.datadoghq.com/service",)
_SERVICE_LABELS_AFTER_ENV = ("service", "app.kubernetes.io/name", "app")


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


def _env(pod: Obj, name: str) -> str:
    for c in (pod.get("spec") or {}).get("containers") or []:
        for e in c.get("env") or []:
            if e.get("name") == name and isinstance(e.get("value"), str) and e["value"]:
                return str(e["value"])
    return ""


def workload_of(pod: Obj) -> str:
    """The owning Deployment (ReplicaSet `name-<pod-template-hash>`), else the owner, else the
    pod's own name."""
    meta = pod.get("metadata") or {}
    name = str(meta.get("name") or "")
    labels: Mapping[str, str] = meta.get("labels") or {}
    for ref in meta.get("ownerReferences") or []:
        owner = str(ref.get("name") or "")
        if not owner:
            continue
        if ref.get("kind") == "ReplicaSet":
            h = labels.get("pod-template-hash", "")
            if h and owner.endswith("-" + h):
                return owner[: -len(h) - 1]
            head, sep, _ = owner.rpartition("-")
            return head if sep else owner
        return owner
    return name


def identity_of(pod: Obj) -> PodIdentity:
    meta = pod.get("metadata") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    version = next((labels[k] for k in _VERSION_LABELS if labels.get(k)), "") or _env(
        pod, "DD_VERSION")
    service = (next((labels[k] for k in _SERVICE_LABELS if labels.get(k)), "")
               or _env(pod, "DD_SERVICE")
               or next((labels[k] for k in _SERVICE_LABELS_AFTER_ENV if labels.get(k)), ""))
    workload = workload_of(pod)
    return PodIdentity(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        ip=str((pod.get("status") or {}).get("podIP") or ""),
        service=service or workload or UNKNOWN,
        version=version or UNKNOWN,
        workload=workload or UNKNOWN,
        app=labels.get("app") or labels.get("app.kubernetes.io/name") or service or UNKNOWN,
    )


@dataclass
class _Entry:
    ident: PodIdentity
    deleted_at: float | None = None


class Directory:
    """Pod identities by IP and by namespace/name, with tombstones for deleted pods."""

    def __init__(self, grace_seconds: float = 300.0) -> None:
        self.grace = grace_seconds
        self._by_ip: dict[str, _Entry] = {}
        self._by_name: dict[tuple[str, str], _Entry] = {}
        self.generation = 0
        """Bumped on every change, so callers can drop caches built from lookups."""

    def update(self, pod: Obj, now: float, deleted: bool = False) -> None:
        ident = identity_of(pod)
        key = (ident.namespace, ident.name)
        old = self._by_name.get(key)
        if not ident.ip and old is not None:
            ident = PodIdentity(**{**ident.__dict__, "ip": old.ident.ip})
        entry = _Entry(ident, now if deleted else None)
        if old is not None and old.ident.ip != ident.ip:
            cur = self._by_ip.get(old.ident.ip)
            if cur is old:
                del self._by_ip[old.ident.ip]
        self._by_name[key] = entry
        if ident.ip:
            cur = self._by_ip.get(ident.ip)
            # a live pod owns its address; a tombstone never displaces a live pod
            if cur is None or cur.deleted_at is not None or not deleted or cur is old:
                self._by_ip[ident.ip] = entry
        self.generation += 1

    def expire(self, now: float) -> None:
        dead = [k for k, e in self._by_name.items()
                if e.deleted_at is not None and now - e.deleted_at > self.grace]
        for k in dead:
            e = self._by_name.pop(k)
            if self._by_ip.get(e.ident.ip) is e:
                del self._by_ip[e.ident.ip]
        if dead:
            self.generation += 1

    def by_ip(self, ip: str) -> PodIdentity | None:
        e = self._by_ip.get(ip)
        return e.ident if e else None

    def by_name(self, namespace: str, name: str) -> PodIdentity | None:
        e = self._by_name.get((namespace, name))
        return e.ident if e else None

    def pods(self) -> list[PodIdentity]:
        return [e.ident for e in self._by_name.values()]
