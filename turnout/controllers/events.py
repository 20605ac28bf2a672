"""Kubernetes Events, recorded like the real components do (deduplicated with a count)."""

from __future__ import annotations

import hashlib
import time

from turnout.kube import errors
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj


class Recorder:
    def __init__(self, objects: Objects, component: str, host: str = "turnout") -> None:
        self.objects = objects
        self.component = component
        self.host = host
        self.rt = objects.registry.by_key("events")

    def record(self, involved: Obj, type_: str, reason: str, message: str,
               field_path: str = "") -> None:
        rt = self.rt
        assert rt is not None
        meta = involved.get("metadata", {})
        ns = meta.get("namespace") or "default"
        digest = hashlib.sha1(f"{meta.get('uid')}|{reason}|{message}|{field_path}".encode())
        name = f"{meta.get('name')}.{digest.hexdigest()[:16]}"
        ts = now_iso()
        existing = self.objects.store.get("events", ns, name)
        if existing is not None:
            existing["count"] = int(existing.get("count", 1)) + 1
            existing["lastTimestamp"] = ts
            try:
                self.objects.store.update("events", existing)
            except errors.ApiError:
                pass
            return
        ref: Obj = {"kind": involved.get("kind"), "namespace": meta.get("namespace"),
                    "name": meta.get("name"), "uid": meta.get("uid"),
                    "apiVersion": involved.get("apiVersion"),
                    "resourceVersion": meta.get("resourceVersion")}
        if field_path:
            ref["fieldPath"] = field_path
        ev: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {k: v for k, v in ref.items() if v is not None},
            "reason": reason, "message": message, "type": type_,
            "source": {"component": self.component, "host": self.host},
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
            "eventTime": None,
        }
        try:
            self.objects.create(rt, ns, ev)
        except errors.ApiError:
            pass


def prune(objects: Objects, max_age_seconds: float = 3600.0) -> int:
    """Delete events older than the TTL (the real server keeps them an hour)."""
    cutoff = time.time() - max_age_seconds
    n = 0
    for ev in list(objects.store.iter("events")):
        last = ev.get("lastTimestamp") or ev["metadata"].get("creationTimestamp")
        if last and time.mktime(time.strptime(last, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone < \
                cutoff:
            objects.store.delete("events", ev["metadata"]["namespace"], ev["metadata"]["name"])
            n += 1
    return n
