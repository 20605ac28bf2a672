"""Feeds the data plane: every change to a mesh-relevant object becomes a new snapshot for Envoy.

Changes are coalesced (a `kubectl apply -f dir/` of ten objects yields one or two pushes, not ten),
much as istiod debounces, but with a window of milliseconds rather than 100 ms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from turnout import netshim
from turnout.controllers import statefulset_dns
from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.kube import errors
from turnout.mesh import snapshot as sn
from turnout.mesh.mesh import Mesh
from turnout.mesh.translate.isolate import Rejected
from turnout.store.db import Event
from turnout.store.objects import Objects, now_iso

log = logging.getLogger("turnout.mesh")

ISTIO = "networking.istio.io"
WATCHED = {
    "namespaces": "namespaces",
    "services": "services",
    "pods": "pods",
    f"virtualservices.{ISTIO}": "virtual_services",
    f"destinationrules.{ISTIO}": "destination_rules",
    f"gateways.{ISTIO}": "gateways",
    f"serviceentries.{ISTIO}": "service_entries",
    "ingresses.networking.k8s.io": "ingresses",
}
KEY: Key = ("", "mesh")


def build_snapshot(objects: Objects, settings: sn.MeshSettings) -> sn.Snapshot:
    parts = {field: tuple(objects.store.iter(key)) for key, field in WATCHED.items()}
    parts["pods"] = tuple(p for p in parts["pods"] if p.get("status", {}).get("podIP"))
    return sn.Snapshot(settings=settings, **parts)


class MeshController(Controller):
    name = "mesh"
    resync_seconds = 30.0

    def __init__(self, objects: Objects, mesh: Mesh, settings: sn.MeshSettings,
                 hosts_file: Path | None = None, debounce: float = 0.01) -> None:
        super().__init__(objects)
        self.hosts_file = hosts_file
        self._hosts: dict[str, str] | None = None
        self.applied_rv = 0
        self._applied = asyncio.Condition()
        self.mesh = mesh
        self.settings = settings
        self.debounce = debounce
        self.events = Recorder(objects, "mesh-controller")
        self._rejected: dict[tuple[str, str, str], tuple[str]] = {}
        self.rejections = 0  # objects newly left out (also logged, with an Event)
        self.status_errors = 0

    def all_keys(self) -> Iterable[Key]:
        return [KEY]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key in WATCHED:
            yield KEY

    async def reconcile(self, key: Key) -> None:
        await asyncio.sleep(self.debounce)
        rv = self.store.resource_version
        snap = build_snapshot(self.objects, self.settings)
        if self.hosts_file is not None:
            hosts = netshim.hosts_map(snap.services, self.settings.cluster_domain)
            hosts.update(statefulset_dns.pod_hosts(snap.services, snap.pods,
                                                   self.settings.cluster_domain))
            if hosts != self._hosts:
                netshim.write_hosts(self.hosts_file, hosts)
                self._hosts = hosts
        rejected = await self.mesh.apply(snap)
        self._report(rejected)
        async with self._applied:
            self.applied_rv = max(self.applied_rv, rv)
            self._applied.notify_all()

    def _report(self, rejected: tuple[Rejected, ...]) -> None:
        """Say where people look that an object was left out: the log (once), an Event, and a
        `Reconciled` False condition in its status; clear the condition once it translates."""
        now = {(r.kind, r.namespace, r.name): r for r in rejected}
        for key, r in now.items():
            if self._rejected.get(key, ("",))[0] != r.reason:
                self.rejections += 1
                log.warning("mesh: %s %s/%s left out of the configuration (everything else "
                            "still updates): %s", r.kind, r.namespace, r.name, r.reason)
                self.events.record(r.obj, "Warning", "RejectedByMesh",
                                   f"left out of the mesh configuration: {r.reason}")
            self._set_condition(r.kind, r.namespace, r.name, r.reason)
        for key in set(self._rejected) - set(now):
            self._set_condition(*key, None)
        self._rejected = {k: (r.reason,) for k, r in now.items()}

    def _set_condition(self, kind: str, ns: str, name: str, reason: str | None) -> None:
        resource = {"VirtualService": f"virtualservices.{ISTIO}",
                    "DestinationRule": f"destinationrules.{ISTIO}",
                    "Gateway": f"gateways.{ISTIO}", "ServiceEntry": f"serviceentries.{ISTIO}",
                    "Ingress": "ingresses.networking.k8s.io"}[kind]
        obj = self.objects.store.get(resource, ns, name)
        if obj is None:
            return
        status = dict(obj.get("status") or {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "Reconciled"]
        if reason is not None:
            conds.append({"type": "Reconciled", "status": "False", "reason": "TranslationFailed",
                          "message": f"left out of the mesh configuration: {reason}",
                          "lastTransitionTime": now_iso()})
        if conds == (obj.get("status") or {}).get("conditions", []):
            return
        status["conditions"] = conds
        if not conds:
            status.pop("conditions")
        try:
            self.objects.store.update(resource, {**obj, "status": status})
        except errors.ApiError as e:
            self.status_errors += 1
            log.warning("mesh: status of %s %s/%s not written: %s", kind, ns, name, e)

    async def wait_applied(self, rv: int) -> None:
        """Return once Envoy runs a configuration built from the store at `rv` or later."""
        async with self._applied:
            await self._applied.wait_for(lambda: self.applied_rv >= rv)
