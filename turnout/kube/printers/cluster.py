"""Printers for configuration, storage, RBAC, node, namespace and event kinds.

Column sets and cell formats follow kube-apiserver's printers (e.g. events: LAST SEEN TYPE
REASON OBJECT MESSAGE, with SUBOBJECT SOURCE FIRST SEEN COUNT NAME under `-o wide`). Pure, no I/O.
"""

from __future__ import annotations

from datetime import datetime

from turnout.kube.printers.common import (
    AGE,
    CREATED_DESC,
    NAME,
    Cells,
    Printer,
    age,
    as_int,
    as_list,
    col,
    dig,
    field,
    meta,
    name,
    rfc3339,
    since,
    spec,
    status,
    sub,
)
from turnout.types import Obj

NAMESPACE = Printer(
    columns=(NAME, col("Status", "string", "The status of the namespace"), AGE),
    row=lambda obj, now: [name(obj), str(status(obj).get("phase") or "Active"), age(obj, now)],
)

SECRET = Printer(
    columns=(NAME, col("Type", "string", field("Secret.type")),
             col("Data", "string", field("Secret.data")), AGE),
    row=lambda obj, now: [name(obj), str(obj.get("type") or "Opaque"),
                          len(sub(obj, "data")), age(obj, now)],
)

CONFIGMAP = Printer(
    columns=(NAME, col("Data", "string", field("ConfigMap.data")), AGE),
    row=lambda obj, now: [name(obj), len(sub(obj, "data")) + len(sub(obj, "binaryData")),
                          age(obj, now)],
)

SERVICEACCOUNT = Printer(
    columns=(NAME, col("Secrets", "string", field("ServiceAccount.secrets")), AGE),
    row=lambda obj, now: [name(obj), len(as_list(obj.get("secrets"))), age(obj, now)],
)


# --- nodes ------------------------------------------------------------------------------------

def node_row(obj: Obj, now: datetime) -> Cells:
    st = status(obj)
    states: list[str] = []
    for c in as_list(st.get("conditions")):
        if isinstance(c, dict) and c.get("type") == "Ready":
            states = ["Ready" if c.get("status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if spec(obj).get("unschedulable") is True:
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for k, v in (meta(obj).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/") and len(k) > len("node-role.kubernetes.io/"):
            roles.add(k[len("node-role.kubernetes.io/"):])
        elif k == "kubernetes.io/role" and v:
            roles.add(str(v))
    addrs = [a for a in as_list(st.get("addresses")) if isinstance(a, dict)]

    def address(kind: str) -> str:
        return next((str(a.get("address")) for a in addrs if a.get("type") == kind), "<none>")

    info = sub(st, "nodeInfo")
    return [name(obj), ",".join(states), ",".join(sorted(roles)) or "<none>", age(obj, now),
            str(info.get("kubeletVersion", "")), address("InternalIP"), address("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


NODE = Printer(
    columns=(
        NAME,
        col("Status", "string", "The status of the node"),
        col("Roles", "string", "The roles of the node"),
        AGE,
        col("Version", "string", field("NodeSystemInfo.kubeletVersion")),
        col("Internal-IP", "string", field("NodeStatus.addresses"), priority=1),
        col("External-IP", "string", field("NodeStatus.addresses"), priority=1),
        col("OS-Image", "string", field("NodeSystemInfo.osImage"), priority=1),
        col("Kernel-Version", "string", field("NodeSystemInfo.kernelVersion"), priority=1),
        col("Container-Runtime", "string", field("NodeSystemInfo.containerRuntimeVersion"),
            priority=1),
    ),
    row=node_row,
)


# --- storage ----------------------------------------------------------------------------------

def access_modes(modes: object) -> str:
    ms = set(as_list(modes))
    short = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
             ("ReadWriteOncePod", "RWOP"))
    return ",".join(s for full, s in short if full in ms)


def _storage_class(obj: Obj) -> str:
    ann = meta(obj).get("annotations") or {}
    beta = ann.get("volume.beta.kubernetes.io/storage-class")
    return str(beta if beta is not None else spec(obj).get("storageClassName") or "")


def pv_row(obj: Obj, now: datetime) -> Cells:
    sp, st = spec(obj), status(obj)
    claim = sp.get("claimRef")
    claim_cell = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if isinstance(
        claim, dict) else ""
    phase = "Terminating" if meta(obj).get("deletionTimestamp") else str(
        st.get("phase") or "Pending")
    return [name(obj), str(sub(sp, "capacity").get("storage", "0")),
            access_modes(sp.get("accessModes")),
            str(sp.get("persistentVolumeReclaimPolicy") or "Retain"), phase, claim_cell,
            _storage_class(obj), sp.get("volumeAttributesClassName") or "<unset>",
            str(st.get("reason") or ""), age(obj, now), sp.get("volumeMode") or "Filesystem"]


PV = Printer(
    columns=(
        NAME,
        col("Capacity", "string", field("PersistentVolumeSpec.capacity")),
        col("Access Modes", "string", field("PersistentVolumeSpec.accessModes")),
        col("Reclaim Policy", "string",
            field("PersistentVolumeSpec.persistentVolumeReclaimPolicy")),
        col("Status", "string", field("PersistentVolumeStatus.phase")),
        col("Claim", "string", field("PersistentVolumeSpec.claimRef")),
        col("StorageClass", "string", "StorageClass of the pv"),
        col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
        col("Reason", "string", field("PersistentVolumeStatus.reason")),
        AGE,
        col("VolumeMode", "string", field("PersistentVolumeSpec.volumeMode"), priority=1),
    ),
    row=pv_row,
)


def pvc_row(obj: Obj, now: datetime) -> Cells:
    sp, st = spec(obj), status(obj)
    phase = "Terminating" if meta(obj).get("deletionTimestamp") else str(
        st.get("phase") or "Pending")
    capacity = modes = ""
    if sp.get("volumeName"):
        modes = access_modes(st.get("accessModes"))
        capacity = str(sub(st, "capacity").get("storage", "0"))
    return [name(obj), phase, str(sp.get("volumeName") or ""), capacity, modes,
            _storage_class(obj), sp.get("volumeAttributesClassName") or "<unset>",
            age(obj, now), sp.get("volumeMode") or "Filesystem"]


PVC = Printer(
    columns=(
        NAME,
        col("Status", "string", field("PersistentVolumeClaimStatus.phase")),
        col("Volume", "string", field("PersistentVolumeClaimSpec.volumeName")),
        col("Capacity", "string", field("PersistentVolumeClaimStatus.capacity")),
        col("Access Modes", "string", field("PersistentVolumeClaimStatus.accessModes")),
        col("StorageClass", "string", "StorageClass of the pvc"),
        col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
        AGE,
        col("VolumeMode", "string", field("PersistentVolumeClaimSpec.volumeMode"), priority=1),
    ),
    row=pvc_row,
)


def storageclass_row(obj: Obj, now: datetime) -> Cells:
    ann = meta(obj).get("annotations") or {}
    default = "true" in (ann.get("storageclass.kubernetes.io/is-default-class"),
                         ann.get("storageclass.beta.kubernetes.io/is-default-class"))
    return [name(obj) + (" (default)" if default else ""), str(obj.get("provisioner", "")),
            str(obj.get("reclaimPolicy") or "Delete"),
            str(obj.get("volumeBindingMode") or "Immediate"),
            obj.get("allowVolumeExpansion") is True, age(obj, now)]


STORAGECLASS = Printer(
    columns=(
        NAME,
        col("Provisioner", "string", field("StorageClass.provisioner")),
        col("ReclaimPolicy", "string", field("StorageClass.reclaimPolicy")),
        col("VolumeBindingMode", "string", field("StorageClass.volumeBindingMode")),
        col("AllowVolumeExpansion", "string", field("StorageClass.allowVolumeExpansion")),
        AGE,
    ),
    row=storageclass_row,
)


# --- events (core/v1 and events.k8s.io/v1 share one printer, as on a real server) -------------

def _core_event(obj: Obj) -> Obj:
    """An events.k8s.io/v1 Event in core/v1 field names; core events pass through."""
    if "regarding" not in obj and "note" not in obj and "deprecatedSource" not in obj:
        return obj
    return {
        "metadata": obj.get("metadata") or {},
        "involvedObject": obj.get("regarding") or {},
        "message": obj.get("note", ""),
        "reason": obj.get("reason", ""),
        "type": obj.get("type", ""),
        "source": obj.get("deprecatedSource") or {},
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount", 0),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "reportingComponent": obj.get("reportingController", ""),
        "reportingInstance": obj.get("reportingInstance", ""),
    }


def event_row(raw: Obj, now: datetime) -> Cells:
    ev = _core_event(raw)
    first = since(ev.get("firstTimestamp"), now)
    if not ev.get("firstTimestamp"):
        first = since(ev.get("eventTime"), now)
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = as_int(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now)
        count = as_int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events don't have a count set in the new API
    inv = sub(ev, "involvedObject")
    kind = str(inv.get("kind", "")).lower()
    target = f"{kind}/{inv.get('name')}" if inv.get("name") else kind
    src = sub(ev, "source")
    component = src.get("component") or ev.get("reportingComponent") or ""
    host = src.get("host") or ev.get("reportingInstance") or ""
    source = f"{component}, {host}" if host else str(component)
    return [last, str(ev.get("type", "")), str(ev.get("reason", "")), target,
            str(inv.get("fieldPath", "")), source, str(ev.get("message", "")).strip(), first,
            count, name(raw)]


EVENT = Printer(
    columns=(
        col("Last Seen", "string", field("Event.lastTimestamp")),
        col("Type", "string", field("Event.type")),
        col("Reason", "string", field("Event.reason")),
        col("Object", "string", field("Event.involvedObject")),
        col("Subobject", "string", field("ObjectReference.fieldPath"), priority=1),
        col("Source", "string", field("Event.source"), priority=1),
        col("Message", "string", field("Event.message")),
        col("First Seen", "string", field("Event.firstTimestamp"), priority=1),
        col("Count", "string", field("Event.count"), priority=1),
        col("Name", "string", NAME["description"], priority=1, fmt="name"),
    ),
    row=event_row,
)


# --- RBAC, coordination, scheduling, admission, quota -----------------------------------------

def binding_row(obj: Obj, now: datetime) -> Cells:
    ref = sub(obj, "roleRef")
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for s in as_list(obj.get("subjects")):
        if not isinstance(s, dict):
            continue
        if s.get("kind") == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif s.get("kind") == "User":
            users.append(str(s.get("name", "")))
        elif s.get("kind") == "Group":
            groups.append(str(s.get("name", "")))
    return [name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


def _binding(kind: str) -> Printer:
    what = "roleBinding" if kind == "RoleBinding" else "clusterRoleBinding"
    return Printer(
        columns=(
            NAME,
            col("Role", "string", field(f"{kind}.roleRef")),
            AGE,
            col("Users", "string", f"Users in the {what}", priority=1),
            col("Groups", "string", f"Groups in the {what}", priority=1),
            col("ServiceAccounts", "string", f"ServiceAccounts in the {what}", priority=1),
        ),
        row=binding_row,
    )


LEASE = Printer(
    columns=(NAME, col("Holder", "string", field("LeaseSpec.holderIdentity")), AGE),
    row=lambda obj, now: [name(obj), str(spec(obj).get("holderIdentity") or ""), age(obj, now)],
)

PRIORITYCLASS = Printer(
    columns=(
        NAME,
        col("Value", "integer", field("PriorityClass.value")),
        col("Global-Default", "boolean", field("PriorityClass.globalDefault")),
        AGE,
        col("PreemptionPolicy", "string", field("PriorityClass.preemptionPolicy")),
    ),
    row=lambda obj, now: [name(obj), as_int(obj.get("value")), obj.get("globalDefault") is True,
                          age(obj, now),
                          str(obj.get("preemptionPolicy") or "PreemptLowerPriority")],
)

WEBHOOKS = Printer(
    columns=(NAME, col("Webhooks", "integer", "Webhooks indicates the number of webhooks "
                       "registered in this configuration"), AGE),
    row=lambda obj, now: [name(obj), len(as_list(obj.get("webhooks"))), age(obj, now)],
)


def resourcequota_row(obj: Obj, now: datetime) -> Cells:
    hard, used = sub(status(obj), "hard"), sub(status(obj), "used")
    requests: list[str] = []
    limits: list[str] = []
    for res in sorted(hard):
        text = f"{res}: {used.get(res, '0')}/{hard[res]}"
        (limits if res.split(".")[0] == "limits" and "." in res else requests).append(text)
    return [name(obj), age(obj, now), ", ".join(requests), ", ".join(limits)]


RESOURCEQUOTA = Printer(
    columns=(
        NAME, AGE,
        col("Request", "string", "Request represents a minimum amount of cpu/memory that a "
            "container may consume."),
        col("Limit", "string", "Limits control the maximum amount of cpu/memory that a "
            "container may use independent of contention on the node."),
    ),
    row=resourcequota_row,
)

LIMITRANGE = Printer(
    columns=(NAME, col("Created At", "date", CREATED_DESC)),
    row=lambda obj, now: [name(obj), rfc3339(dig(obj, "metadata", "creationTimestamp"))],
)

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Namespace"): NAMESPACE,
    ("", "Secret"): SECRET,
    ("", "ConfigMap"): CONFIGMAP,
    ("", "ServiceAccount"): SERVICEACCOUNT,
    ("", "Node"): NODE,
    ("", "PersistentVolume"): PV,
    ("", "PersistentVolumeClaim"): PVC,
    ("", "Event"): EVENT,
    ("", "ResourceQuota"): RESOURCEQUOTA,
    ("", "LimitRange"): LIMITRANGE,
    ("events.k8s.io", "Event"): EVENT,
    ("storage.k8s.io", "StorageClass"): STORAGECLASS,
    ("rbac.authorization.k8s.io", "RoleBinding"): _binding("RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _binding("ClusterRoleBinding"),
    ("coordination.k8s.io", "Lease"): LEASE,
    ("scheduling.k8s.io", "PriorityClass"): PRIORITYCLASS,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): WEBHOOKS,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): WEBHOOKS,
}
