"""Synthetic access-log lines in the mesh's documented format, and pods for the directory."""

from __future__ import annotations

import json
import random
import time
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

from turnout.types import Obj


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(ts * 1000) % 1000:03d}Z"


def pod(name: str, ns: str, ip: str, *, version: str = "", service: str = "advertisements",
        deployment: str | None = None, env_version: str = "", labels: Obj | None = None,
        revision: str = "") -> Obj:
    """A pod; with `deployment`, owned by its ReplicaSet at `revision` (the pod-template-hash;
    by default one of the deployment's own, as two Deployments' templates differ)."""
    lab: Obj = {"app": "ecommerce", "service": service, **(labels or {})}
    if version:
        lab["version"] = version
    meta: Obj = {"name": name, "namespace": ns, "labels": lab}
    if deployment:
        rev = revision or "5d4f8b" + f"{zlib.crc32(deployment.encode()):08x}"[:4]
        lab["pod-template-hash"] = rev
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": f"{deployment}-{rev}"}]
    env = [{"name": "DD_SERVICE", "value": service}]
    if env_version:
        env.append({"name": "DD_VERSION", "value": env_version})
    return {"kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "app", "env": env}]},
            "status": {"podIP": ip, "phase": "Running"}}


def line(ts: float | None = None, *, kind: str = "pod", src_ns: str = "ns1",
         src_name: str = "frontend-abc", upstream: str = "127.0.10.1:5002",
         cluster: str = "outbound|5002|v1|advertisements.ns1.svc.cluster.local",
         route: str = "svc/ns1/advertisements/5002", method: str = "GET", path: str = "/ads",
         status: int = 200, flags: str = "-", duration: float = 10, upstream_ms: str = "9",
         bytes_in: int = 0, bytes_out: int = 120, traceparent: str | None = None,
         **extra: Any) -> str:
    ts = time.time() if ts is None else ts
    obj: Obj = {
        "start_time": iso(ts), "duration_ms": duration, "upstream_service_time_ms": upstream_ms,
        "method": method, "path": path, "authority": "advertisements:5002",
        "protocol": "HTTP/1.1", "response_code": status, "response_flags": flags,
        "response_code_details": "via_upstream", "bytes_received": bytes_in,
        "bytes_sent": bytes_out, "request_id": str(uuid.uuid4()),
        "traceparent": traceparent, "user_agent": "python", "listener_kind": kind,
        "source_namespace": src_ns, "source_name": src_name, "listener": f"pod/{src_ns}/x",
        "route_name": route, "upstream_cluster": cluster, "upstream_host": upstream,
        "downstream_remote_address": "127.0.0.1:40000"}
    obj.update(extra)
    return json.dumps(obj)


def two_versions(n: int, *, now: float | None = None, extra_ms: float = 200,
                 seed: int = 1, span: float = 60.0) -> list[str]:
    """n requests to v1 (127.0.10.1) and n to v2 (127.0.10.2), v2 `extra_ms` slower, spread
    over the last `span` seconds."""
    rnd = random.Random(seed)
    now = time.time() if now is None else now
    out = []
    for i in range(n):
        t = now - span + span * i / n
        out.append(line(t, duration=round(rnd.gauss(30, 5), 3)))
        out.append(line(t + 0.001, upstream="127.0.10.2:5002", duration=round(
            rnd.gauss(30 + extra_ms, 5), 3),
            cluster="outbound|5002|v2|advertisements.ns1.svc.cluster.local"))
    return out


def ads_pods() -> list[Obj]:
    return [pod("advertisements-6b7c-a", "ns1", "127.0.10.1", env_version="1.0",
                deployment="advertisements"),
            pod("advertisements-v2-77f-b", "ns1", "127.0.10.2", env_version="2.0",
                deployment="advertisements-v2"),
            pod("frontend-abc", "ns1", "127.0.10.3", service="storefront", env_version="1.0",
                deployment="frontend")]
