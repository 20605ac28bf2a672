"""Pod identities by address, for telemetry (the rule itself is `turnout.kube.identity`).

Access-log lines name pods only by address (`upstream_host` is `podIP:port`) or, for the per-pod
outbound listeners, by namespace/name. The directory keeps every pod it has seen, and keeps a
deleted pod's identity for a grace period so lines Envoy writes after the pod is gone (they reach
the file up to a flush interval later) still resolve. An address reused by a new pod wins at once.

Pure: no I/O (the clock is passed in).
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout.kube.identity import UNKNOWN, PodIdentity, identity_of, workload_of
from turnout.types import Obj

__all__ = ["UNKNOWN", "Directory", "PodIdentity", "identity_of", "workload_of"]


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
