"""The Eviction subresource's rule: may this pod go now, given its PodDisruptionBudgets?

kube-apiserver's pods/eviction (pkg/registry/core/pod/storage/eviction.go) deletes the pod unless a
PodDisruptionBudget selecting it has no disruption left; `kubectl drain` evicts each pod and
retries on 429. turnout runs no disruption controller, so the budget is computed here from the
pods as they are: healthy = Ready and not being deleted, expected = the pods the budget selects.
Pods that are not Running (Pending, Succeeded, Failed) ignore budgets, as upstream.

Pure: no I/O.
"""

from __future__ import annotations

import math

from turnout.kube import errors, selectors
from turnout.types import JSON, Obj


def _ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return not pod["metadata"].get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _resolve(value: JSON, expected: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        share = int(value[:-1]) * expected / 100
        return math.ceil(share) if round_up else math.floor(share)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 0


def _desired_healthy(pdb: Obj, expected: int) -> int:
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        return max(0, expected - _resolve(spec["maxUnavailable"], expected, round_up=False))
    return _resolve(spec.get("minAvailable", 1), expected, round_up=True)


def check(pod: Obj, budgets: list[Obj], pods: list[Obj]) -> errors.ApiError | None:
    """429 TooManyRequests when evicting `pod` would break a budget, else None.
    `budgets` and `pods`: the PodDisruptionBudgets and pods of the pod's namespace."""
    if (pod.get("status") or {}).get("phase") not in ("Running", None):
        return None
    labels = pod["metadata"].get("labels") or {}
    for pdb in budgets:
        sel_obj = (pdb.get("spec") or {}).get("selector")
        if sel_obj is None:
            continue
        sel = selectors.from_label_selector_obj(sel_obj)
        if not sel.matches(labels):
            continue
        chosen = [p for p in pods if sel.matches(p["metadata"].get("labels") or {})]
        healthy = sum(1 for p in chosen if _ready(p))
        desired = _desired_healthy(pdb, len(chosen))
        if not _ready(pod) and healthy >= desired:
            continue  # an unhealthy pod may go while the budget is met (IfHealthyBudget)
        if healthy - desired <= 0:
            name = pdb["metadata"]["name"]
            return errors.ApiError(
                429, "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                causes=[errors.Cause("", f"The disruption budget {name} needs {desired} healthy "
                                     f"pods and has {healthy} currently", "DisruptionBudget")])
    return None


def success() -> Obj:
    """What a granted eviction answers (201 Created)."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "code": 201}
