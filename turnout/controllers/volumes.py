"""PersistentVolumeClaims bind to matching PersistentVolumes, so `kubectl get pvc` says Bound.

turnout mounts no volumes (pods are host processes and use their own directories), but the lab
applies a PV and a PVC and users expect to see them bound as on a real cluster: same storage
class, enough capacity, compatible access modes, the smallest such volume wins.
"""

from __future__ import annotations

from collections.abc import Iterable

from turnout.controllers.base import Controller, Key
from turnout.store.db import Event
from turnout.types import Obj

_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
          "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}


def quantity(text: object) -> float:
    s = str(text or "0")
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if s.endswith(suffix):
            return float(s[: -len(suffix)]) * _UNITS[suffix]
    return float(s)


def fits(pv: Obj, pvc: Obj) -> bool:
    pvs, cs = pv.get("spec") or {}, pvc.get("spec") or {}
    if (pv.get("status") or {}).get("phase") != "Available" or pvs.get("claimRef"):
        return False
    if (pvs.get("storageClassName") or "") != (cs.get("storageClassName") or ""):
        return False
    if not set(cs.get("accessModes") or []) <= set(pvs.get("accessModes") or []):
        return False
    want = quantity(((cs.get("resources") or {}).get("requests") or {}).get("storage"))
    return quantity((pvs.get("capacity") or {}).get("storage")) >= want


class VolumeBinder(Controller):
    name = "persistentvolume-binder"

    def all_keys(self) -> Iterable[Key]:
        return [(c["metadata"]["namespace"], c["metadata"]["name"])
                for c in self.store.iter("persistentvolumeclaims")]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == "persistentvolumeclaims":
            yield (ev.namespace, ev.name)
        elif ev.key == "persistentvolumes" and ev.type != "DELETED":
            yield from self.all_keys()

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        pvc = self.store.get("persistentvolumeclaims", ns, name)
        if pvc is None or (pvc.get("status") or {}).get("phase") == "Bound":
            return
        candidates = [pv for pv in self.store.iter("persistentvolumes") if fits(pv, pvc)]
        if pvc["spec"].get("volumeName"):
            candidates = [pv for pv in candidates
                          if pv["metadata"]["name"] == pvc["spec"]["volumeName"]]
        if not candidates:
            return
        pv = self.store.get("persistentvolumes", "",
                            min(candidates, key=lambda v: quantity(
                                v["spec"].get("capacity", {}).get("storage")))["metadata"]["name"])
        assert pv is not None
        pv["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": ns,
                                  "name": name, "uid": pvc["metadata"]["uid"],
                                  "apiVersion": "v1"}
        pv["status"] = {"phase": "Bound"}
        self.store.update("persistentvolumes", pv)
        pvc["spec"]["volumeName"] = pv["metadata"]["name"]
        pvc["status"] = {"phase": "Bound", "accessModes": pv["spec"].get("accessModes", []),
                         "capacity": pv["spec"].get("capacity", {})}
        pvc["metadata"].setdefault("annotations", {})["pv.kubernetes.io/bind-completed"] = "yes"
        self.store.update("persistentvolumeclaims", pvc)
