"""The catalogue of resource types the API serves: built-in kinds plus CRD-defined ones.

Discovery, OpenAPI, routing, storage keys, patch strategy and printing all look types up here, so
a kind added in one place is served everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from turnout.types import Obj

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    versions: tuple[str, ...]
    """Served versions; the first one is the preferred (and storage) version."""
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    builtin: bool = True
    """Built-in kinds take strategic merge patches; custom ones only merge and JSON patches."""
    columns: tuple[Obj, ...] = field(default=(), compare=False)
    """additionalPrinterColumns of a CRD (name, type, jsonPath, priority, description)."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def preferred_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        v = version or self.preferred_version
        return f"{self.group}/{v}" if self.group else v

    @property
    def key(self) -> str:
        """Storage key: group-qualified plural, independent of version."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def verbs(self) -> tuple[str, ...]:
        if self.plural == "events" or self.kind == "Event":
            return ALL_VERBS
        return ALL_VERBS


def _rt(group: str, versions: str, kind: str, plural: str, namespaced: bool = True,
        short: str = "", cats: str = "", sub: str = "") -> ResourceType:
    return ResourceType(
        group=group,
        versions=tuple(versions.split()),
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        short_names=tuple(short.split()),
        categories=tuple(cats.split()),
        subresources=tuple(sub.split()),
    )


ISTIO_NET = "networking.istio.io"
ARGO = "argoproj.io"


def _pc(name: str, path: str, desc: str, type_: str = "string") -> Obj:
    return {"name": name, "type": type_, "jsonPath": path, "description": desc}


_ARGO_AGE = _pc("Age", ".metadata.creationTimestamp", "Time since resource was created", "date")
ARGO_COLUMNS: dict[str, tuple[Obj, ...]] = {
    "Rollout": (
        _pc("Desired", ".spec.replicas", "Number of desired pods", "integer"),
        _pc("Current", ".status.replicas",
            "Total number of non-terminated pods targeted by this rollout", "integer"),
        _pc("Up-to-date", ".status.updatedReplicas", "Total number of non-terminated pods "
            "targeted by this rollout that have the desired template spec", "integer"),
        _pc("Available", ".status.availableReplicas", "Total number of available pods (ready "
            "for at least minReadySeconds) targeted by this rollout", "integer"),
        _ARGO_AGE,
    ),
    "AnalysisRun": (_pc("Status", ".status.phase", "AnalysisRun status"), _ARGO_AGE),
    "Experiment": (_pc("Status", ".status.phase", "Experiment status"), _ARGO_AGE),
}
"""The printer columns of Argo Rollouts' CRDs (manifests/crds/*-crd.yaml), so `kubectl get
rollout` prints the same table whether or not the CRDs were applied."""
FLAGGER = "flagger.app"


def _fc(name: str, path: str, type_: str = "string", priority: int = 0) -> Obj:
    return {"name": name, "type": type_, "jsonPath": path, **({"priority": priority}
                                                             if priority else {})}


FLAGGER_COLUMNS: dict[str, tuple[Obj, ...]] = {
    "Canary": (
        _fc("Status", ".status.phase"),
        _fc("Weight", ".status.canaryWeight"),
        _fc("Suspended", ".spec.suspend", "boolean", 1),
        _fc("FailedChecks", ".status.failedChecks", priority=1),
        _fc("Interval", ".spec.analysis.interval", priority=1),
        _fc("Mirror", ".spec.analysis.mirror", "boolean", 1),
        _fc("StepWeight", ".spec.analysis.stepWeight", priority=1),
        _fc("StepWeights", ".spec.analysis.stepWeights", priority=1),
        _fc("MaxWeight", ".spec.analysis.maxWeight", priority=1),
        _fc("LastTransitionTime", ".status.lastTransitionTime"),
    ),
    "MetricTemplate": (_fc("Provider", ".spec.provider.type"),),
    "AlertProvider": (_fc("Type", ".spec.type"),),
}
"""The printer columns of Flagger's CRDs (artifacts/flagger/crd.yaml): `kubectl get canary`
prints STATUS WEIGHT LASTTRANSITIONTIME (-o wide adds FAILEDCHECKS, INTERVAL, ...) whether or
not the CRD was applied."""
ISTIO_VERSIONS = "v1 v1beta1 v1alpha3"

BUILTIN: tuple[ResourceType, ...] = (
    _rt("", "v1", "Namespace", "namespaces", False, "ns", sub="status"),
    _rt("", "v1", "Pod", "pods", True, "po", "all", "status log eviction"),
    _rt("", "v1", "Service", "services", True, "svc", "all", "status"),
    _rt("", "v1", "Endpoints", "endpoints", True, "ep"),
    _rt("", "v1", "Secret", "secrets"),
    _rt("", "v1", "ConfigMap", "configmaps", True, "cm"),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", True, "sa"),
    _rt("", "v1", "PersistentVolume", "persistentvolumes", False, "pv", sub="status"),
    _rt("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, "pvc", sub="status"),
    _rt("", "v1", "Event", "events", True, "ev"),
    _rt("", "v1", "Node", "nodes", False, "no", sub="status"),
    _rt("", "v1", "ReplicationController", "replicationcontrollers", True, "rc", "all",
        "status scale"),
    _rt("", "v1", "LimitRange", "limitranges", True, "limits"),
    _rt("", "v1", "ResourceQuota", "resourcequotas", True, "quota", sub="status"),
    _rt("apps", "v1", "Deployment", "deployments", True, "deploy", "all", "status scale"),
    _rt("apps", "v1", "ReplicaSet", "replicasets", True, "rs", "all", "status scale"),
    _rt("apps", "v1", "StatefulSet", "statefulsets", True, "sts", "all", "status scale"),
    _rt("apps", "v1", "DaemonSet", "daemonsets", True, "ds", "all", "status"),
    _rt("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _rt("batch", "v1", "Job", "jobs", True, "", "all", "status"),
    _rt("batch", "v1", "CronJob", "cronjobs", True, "cj", "all", "status"),
    _rt("autoscaling", "v2 v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True,
        "hpa", "all", "status"),
    _rt("networking.k8s.io", "v1", "Ingress", "ingresses", True, "ing", sub="status"),
    _rt("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    _rt("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, "netpol"),
    _rt("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _rt("events.k8s.io", "v1", "Event", "events", True, "ev"),
    _rt("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, "pdb", sub="status"),
    _rt("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _rt("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations", False),
    _rt("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations", False),
    _rt("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
        False, "crd crds", "api-extensions", "status"),
    # stored like any object turnout does not act on (no aggregated API servers run here);
    # kube-aggregator's schema is not in the data file, so it is served like a custom kind
    replace(_rt("apiregistration.k8s.io", "v1", "APIService", "apiservices", False, "",
                "api-extensions", "status"), builtin=False),
    _rt("coordination.k8s.io", "v1", "Lease", "leases"),
    _rt("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, "sc"),
    _rt("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, "pc"),
    _rt(ISTIO_NET, ISTIO_VERSIONS, "VirtualService", "virtualservices", True, "vs",
        "istio-io networking-istio-io", "status"),
    _rt(ISTIO_NET, ISTIO_VERSIONS, "DestinationRule", "destinationrules", True, "dr",
        "istio-io networking-istio-io", "status"),
    _rt(ISTIO_NET, ISTIO_VERSIONS, "Gateway", "gateways", True, "gw",
        "istio-io networking-istio-io", "status"),
    _rt(ISTIO_NET, ISTIO_VERSIONS, "ServiceEntry", "serviceentries", True, "se",
        "istio-io networking-istio-io", "status"),
    _rt(ISTIO_NET, ISTIO_VERSIONS, "Sidecar", "sidecars", True, "",
        "istio-io networking-istio-io", "status"),
    _rt(ISTIO_NET, ISTIO_VERSIONS, "WorkloadEntry", "workloadentries", True, "we",
        "istio-io networking-istio-io", "status"),
    _rt(ISTIO_NET, "v1alpha3", "EnvoyFilter", "envoyfilters", True, "",
        "istio-io networking-istio-io", "status"),
    # Progressive delivery kinds turnout acts on, served without their CRDs being applied first.
    _rt(ARGO, "v1alpha1", "Rollout", "rollouts", True, "ro", "all", "status scale"),
    _rt(ARGO, "v1alpha1", "AnalysisTemplate", "analysistemplates", True, "at"),
    _rt(ARGO, "v1alpha1", "ClusterAnalysisTemplate", "clusteranalysistemplates", False, "cat"),
    _rt(ARGO, "v1alpha1", "AnalysisRun", "analysisruns", True, "ar", sub="status"),
    _rt(ARGO, "v1alpha1", "Experiment", "experiments", True, "exp", sub="status"),
    _rt(FLAGGER, "v1beta1 v1alpha3", "Canary", "canaries", True, "canary", "all", "status"),
    _rt(FLAGGER, "v1beta1", "MetricTemplate", "metrictemplates", True, "mt", "all"),
    _rt(FLAGGER, "v1beta1", "AlertProvider", "alertproviders", True, "", "all", "status"),
)

# Custom-resource types whose schema Istio itself defines: built into turnout, so they are *not*
# "built-in Kubernetes kinds" for patching purposes (kubectl sends merge patches for them).
_CUSTOM_GROUPS = frozenset({ISTIO_NET, ARGO, FLAGGER})


def _finalize(rt: ResourceType) -> ResourceType:
    if rt.group in _CUSTOM_GROUPS:
        cols = {ARGO: ARGO_COLUMNS, FLAGGER: FLAGGER_COLUMNS}.get(rt.group, {}).get(
            rt.kind, rt.columns)
        return ResourceType(**{**rt.__dict__, "builtin": False, "columns": cols})
    return rt


class Registry:
    """Resource types by group/version/plural; CRDs add and remove types at run time."""

    def __init__(self, types: Iterable[ResourceType] = ()) -> None:
        self._types: dict[str, ResourceType] = {}
        self._crd_keys: dict[str, str] = {}
        for rt in BUILTIN:
            self._add(_finalize(rt))
        for rt in types:
            self._add(rt)

    def _add(self, rt: ResourceType) -> None:
        self._types[rt.key] = rt

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def by_key(self, key: str) -> ResourceType | None:
        return self._types.get(key)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        rt = self._types.get(f"{plural}.{group}" if group else plural)
        if rt is None or version not in rt.versions:
            return None
        return rt

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        for rt in self._types.values():
            if rt.group == group and rt.kind == kind:
                return rt
        return None

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions (preferred first), in registration order; core group is ''."""
        out: dict[str, list[str]] = {}
        for rt in self._types.values():
            vs = out.setdefault(rt.group, [])
            for v in rt.versions:
                if v not in vs:
                    vs.append(v)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.group == group and version in rt.versions]

    # --- CustomResourceDefinitions -------------------------------------------------------------

    def sync_crd(self, crd: Obj) -> ResourceType | None:
        """Register (or update) the type a CRD defines; returns it, or None if not servable."""
        name = crd.get("metadata", {}).get("name", "")
        rt = type_from_crd(crd)
        old = self._crd_keys.pop(name, None)
        if old and (rt is None or old != rt.key):
            self._types.pop(old, None)
        if rt is None:
            return None
        existing = self._types.get(rt.key)
        if existing is not None and existing.builtin:
            return existing  # never let a CRD shadow a built-in kind
        self._types[rt.key] = rt
        self._crd_keys[name] = rt.key
        return rt

    def drop_crd(self, crd_name: str) -> None:
        key = self._crd_keys.pop(crd_name, None)
        # Istio types stay served even when their CRD goes away.
        if key and key in self._types and not self._types[key].builtin and \
                self._types[key].group not in _CUSTOM_GROUPS:
            del self._types[key]


def type_from_crd(crd: Obj) -> ResourceType | None:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group")
    kind = names.get("kind")
    plural = names.get("plural")
    if not (group and kind and plural):
        return None
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if not served:
        return None
    storage = [v for v in served if v.get("storage")]
    ordered = storage + [v for v in served if v not in storage]
    subs: list[str] = []
    cols: tuple[Obj, ...] = ()
    for v in ordered[:1]:
        if "status" in (v.get("subresources") or {}):
            subs.append("status")
        if "scale" in (v.get("subresources") or {}):
            subs.append("scale")
        cols = tuple(v.get("additionalPrinterColumns") or ())
    return ResourceType(
        group=group,
        versions=tuple(v["name"] for v in ordered),
        kind=kind,
        plural=plural,
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        subresources=tuple(subs),
        builtin=False,
        columns=cols,
    )
