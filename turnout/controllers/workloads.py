"""Shared pieces of the workload controllers: ownership, pod readiness, int-or-percent."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime

from turnout.types import Obj


def controller_ref(owner: Obj) -> Obj:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


def owned_by(obj: Obj, owner_uid: str) -> bool:
    return any(r.get("uid") == owner_uid and r.get("controller")
               for r in obj["metadata"].get("ownerReferences") or [])


def pod_ready(pod: Obj) -> bool:
    for c in pod.get("status", {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def pod_available(pod: Obj, min_ready_seconds: int, now: datetime | None = None) -> bool:
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    for c in pod.get("status", {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("lastTransitionTime"):
            since = datetime.strptime(c["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=UTC)
            return ((now or datetime.now(UTC)) - since).total_seconds() >= min_ready_seconds
    return False


def pod_active(pod: Obj) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and \
        pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")


def template_hash(template: Obj) -> str:
    """A stable short hash of a pod template (the `pod-template-hash` label value)."""
    raw = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    digest = int(hashlib.sha256(raw).hexdigest()[:12], 16)
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    out = ""
    for _ in range(10):
        digest, r = divmod(digest, len(alphabet))
        out += alphabet[r]
    return out


def int_or_percent(value: object, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    s = str(value)
    if s.endswith("%"):
        frac = float(s[:-1]) * total / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(s)


def iso(t: datetime) -> str:
    """A time as the API writes it (RFC 3339, seconds, UTC)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def condition(conditions: list[Obj], type_: str) -> Obj | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def set_condition(conditions: list[Obj], type_: str, status: str, reason: str, message: str,
                  now: str, probe_time: bool = False) -> list[Obj]:
    """`conditions` with `type_` set; an unchanged status keeps its lastTransitionTime."""
    prev = condition(conditions, type_)
    same = prev is not None and prev.get("status") == status
    new: Obj = {"type": type_, "status": status}
    if probe_time:
        new["lastProbeTime"] = prev.get("lastProbeTime", now) if same and prev else now
    new["lastTransitionTime"] = prev.get("lastTransitionTime", now) if same and prev else now
    new["reason"] = reason
    new["message"] = message
    return [*(c for c in conditions if c.get("type") != type_), new]
