"""PersistentVolumeClaims bind to matching PersistentVolumes, so `kubectl get pvc` says Bound.

Claims of the default StorageClass (`standard`, as kind has) get a volume of their own once a pod
uses them (:mod:`turnout.kube.provisioning`), and lose it with them (reclaim policy Delete).

The lab applies a PV and a PVC and users expect to see them bound as on a real cluster: same
storage class, enough capacity, compatible access modes, the smallest such volume wins. The
kubelet backs a bound claim by a directory of the state dir named after its volume
(:mod:`turnout.runtime.podvolumes`). Also here: the Secret ingress-nginx's certgen Job creates.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from turnout.controllers.base import Controller, Key
from turnout.kube import provisioning
from turnout.store.db import Event
from turnout.types import Obj

SC = "storageclasses.storage.k8s.io"
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
            if ev.type == "DELETED":
                yield ("", f"released:{ev.name}:{ev.namespace}")
            else:
                yield (ev.namespace, ev.name)
        elif ev.key == "persistentvolumes" and ev.type != "DELETED":
            yield from self.all_keys()
        elif ev.key == "pods" and ev.type != "DELETED":  # WaitForFirstConsumer claims
            pod = self.store.get("pods", ev.namespace, ev.name)
            for claim in provisioning.claims_used(pod or {}):
                yield (ev.namespace, claim)
        elif ev.key == SC:
            yield from self.all_keys()

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        if not ns and name.startswith("released:"):
            self._reclaim()
            return
        pvc = self.store.get("persistentvolumeclaims", ns, name)
        if pvc is None or (pvc.get("status") or {}).get("phase") == "Bound":
            return
        spec = pvc.setdefault("spec", {})
        if spec.get("storageClassName") is None:  # DefaultStorageClass admission
            default = provisioning.default_class_name(list(self.store.iter(SC)))
            if default is not None:
                spec["storageClassName"] = default
                pvc = self.store.update("persistentvolumeclaims", pvc)
        candidates = [pv for pv in self.store.iter("persistentvolumes") if fits(pv, pvc)]
        if pvc["spec"].get("volumeName"):
            candidates = [pv for pv in candidates
                          if pv["metadata"]["name"] == pvc["spec"]["volumeName"]]
        if not candidates:
            self._provision(pvc)
            return
        pv = self.store.get("persistentvolumes", "",
                            min(candidates, key=lambda v: quantity(
                                v["spec"].get("capacity", {}).get("storage")))["metadata"]["name"])
        assert pv is not None
        self._bind(pv, pvc)

    def _provision(self, pvc: Obj) -> None:
        ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
        cls = str(pvc["spec"].get("storageClassName") or "")
        sc = self.store.get(SC, "", cls) if cls else None
        used = any(name in provisioning.claims_used(p) for p in self.store.iter("pods", ns))
        if not provisioning.should_provision(pvc, sc, used):
            return
        assert sc is not None
        pv = provisioning.volume_for(pvc, sc)
        if self.store.get("persistentvolumes", "", pv["metadata"]["name"]) is None:
            pv = self.store.create("persistentvolumes", pv)
        else:
            pv = self.store.get("persistentvolumes", "", pv["metadata"]["name"]) or pv
        self._bind(pv, pvc)

    def _reclaim(self) -> None:
        """Provisioned volumes whose claim is gone, with reclaim policy Delete, go too."""
        for pv in list(self.store.iter("persistentvolumes")):
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            if not ref or pv["spec"].get("persistentVolumeReclaimPolicy") != "Delete":
                continue
            claim = self.store.get("persistentvolumeclaims", str(ref.get("namespace") or ""),
                                   str(ref.get("name") or ""))
            if claim is None or claim["metadata"].get("uid") != ref.get("uid"):
                self.store.delete("persistentvolumes", "", pv["metadata"]["name"])

    def _bind(self, pv: Obj, pvc: Obj) -> None:
        ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
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


CERTGEN_IMAGE = "kube-webhook-certgen"
PLACEHOLDER_PEM = ("-----BEGIN CERTIFICATE-----\nturnout placeholder: no admission webhook "
                   "runs on turnout\n-----END CERTIFICATE-----\n")


def certgen_secret(job: Obj) -> tuple[str, str] | None:
    """(namespace, secret name) a kube-webhook-certgen ``create`` Job makes, if it is one.

    Its args name the namespace with ``$(POD_NAMESPACE)``, which is the Job's own namespace.
    """
    ns = str(job["metadata"].get("namespace") or "default")
    pod_spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in pod_spec.get("containers") or ():
        if CERTGEN_IMAGE not in str(c.get("image") or ""):
            continue
        args = [str(a) for a in (c.get("args") or ())]
        if "create" not in args:
            continue
        opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
        name = opts.get("secret-name")
        target = opts.get("namespace", ns).replace("$(POD_NAMESPACE)", ns)
        if name:
            return target, name
    return None


class CertgenStandIn(Controller):
    """What ingress-nginx's admission ``create`` Job does on a real cluster: the Secret its
    controller mounts (``webhook-cert``). The certgen image runs as a stand-in process with no
    API access (pods never get the cluster's token), so the control plane writes the Secret, and
    the controller pod, which waits for it like any pod waits for a missing Secret, starts."""

    name = "certgen-stand-in"

    def all_keys(self) -> Iterable[Key]:
        return [(j["metadata"]["namespace"], j["metadata"]["name"])
                for j in self.store.iter("jobs.batch")]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == "jobs.batch" and ev.type != "DELETED":
            yield (ev.namespace, ev.name)

    async def reconcile(self, key: Key) -> None:
        job = self.store.get("jobs.batch", *key)
        target = certgen_secret(job) if job is not None else None
        if target is None or self.store.get("secrets", *target) is not None:
            return
        rt = self.objects.registry.by_key("secrets")
        if rt is None or self.store.peek("namespaces", "", target[0]) is None:
            return
        pem = base64.b64encode(PLACEHOLDER_PEM.encode()).decode()
        self.objects.create(rt, target[0], {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": target[1], "namespace": target[0]},
            "data": {"ca": pem, "cert": pem, "key": pem}})
