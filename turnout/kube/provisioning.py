"""Dynamic provisioning as kind's default StorageClass does it (pure, no I/O).

A cluster made by kind has one StorageClass, `standard` (the default, provisioner
`rancher.io/local-path`, reclaim policy Delete, binding mode WaitForFirstConsumer): a claim that
names no class gets it, and a claim of that class gets a fresh PersistentVolume `pvc-<claim uid>`
once a pod uses it, so StatefulSets' `volumeClaimTemplates` just work. turnout's kubelet backs
every volume by a directory of the state dir.
"""

from __future__ import annotations

from turnout.types import Obj

DEFAULT_CLASS = "standard"
PROVISIONER = "rancher.io/local-path"
DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def default_storage_class() -> Obj:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": DEFAULT_CLASS, "annotations": {DEFAULT_ANNOTATION: "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"}


def is_default(sc: Obj) -> bool:
    ann = (sc.get("metadata") or {}).get("annotations") or {}
    return "true" in (ann.get(DEFAULT_ANNOTATION),
                      ann.get("storageclass.beta.kubernetes.io/is-default-class"))


def default_class_name(classes: list[Obj]) -> str | None:
    """The default class a claim without `storageClassName` gets (newest default wins)."""
    defaults = sorted((c for c in classes if is_default(c)),
                      key=lambda c: str((c.get("metadata") or {}).get("creationTimestamp", "")))
    return str(defaults[-1]["metadata"]["name"]) if defaults else None


def should_provision(pvc: Obj, sc: Obj | None, used_by_pod: bool) -> bool:
    """Whether ``pvc`` gets a new volume from ``sc`` now."""
    spec = pvc.get("spec") or {}
    if sc is None or spec.get("volumeName") or sc.get("provisioner") != PROVISIONER:
        return False
    if (pvc.get("status") or {}).get("phase") == "Bound":
        return False
    return used_by_pod or sc.get("volumeBindingMode", "Immediate") == "Immediate"


def volume_for(pvc: Obj, sc: Obj) -> Obj:
    """The PersistentVolume provisioned for ``pvc``, already bound to it."""
    meta, spec = pvc["metadata"], pvc.get("spec") or {}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage") or "1Gi"
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"pvc-{meta['uid']}",
                         "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
            "spec": {"capacity": {"storage": storage},
                     "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                     "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                     "storageClassName": sc["metadata"]["name"],
                     "volumeMode": spec.get("volumeMode", "Filesystem"),
                     "hostPath": {"path": f"/var/local-path-provisioner/pvc-{meta['uid']}",
                                  "type": "DirectoryOrCreate"},
                     "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                                  "namespace": meta["namespace"], "name": meta["name"],
                                  "uid": meta["uid"]}},
            "status": {"phase": "Available"}}


def claims_used(pod: Obj) -> list[str]:
    return [str(v["persistentVolumeClaim"]["claimName"])
            for v in (pod.get("spec") or {}).get("volumes") or []
            if isinstance(v.get("persistentVolumeClaim"), dict)]
