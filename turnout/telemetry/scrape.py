"""Pods' own metrics for Prometheus: the annotation convention as Prometheus HTTP service discovery.

Pure, no I/O. Charts that install Prometheus beside an application (Flagger's
`prometheus.install=true`, the community chart's `kubernetes-pods` job) scrape every pod annotated
`prometheus.io/scrape: "true"` on `prometheus.io/port` (else each declared container port) at
`prometheus.io/path` (default `/metrics`), and label the series with the pod's namespace and name
(`kubernetes_namespace`, `kubernetes_pod_name` in the older relabelling, `namespace`, `pod` in the
newer) and its labels. A Prometheus in a turnout pod gets the same targets from `http_sd_configs`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from turnout.types import Obj

SD_PATH = "/sd/pods"
_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")


def wants_scrape(pod: Obj) -> bool:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get("prometheus.io/scrape", "")).lower() == "true"


def _ports(pod: Obj) -> list[int]:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    declared = str(annotations.get("prometheus.io/port") or "")
    if declared.isdigit():
        return [int(declared)]
    return sorted({int(p["containerPort"]) for c in (pod.get("spec") or {}).get("containers") or []
                   for p in c.get("ports") or [] if str(p.get("containerPort", "")).isdigit()})


def targets(pods: Iterable[Obj]) -> list[Obj]:
    """Prometheus `http_sd_configs` groups for every running pod that asks to be scraped."""
    out: list[Obj] = []
    for pod in pods:
        status = pod.get("status") or {}
        ip = status.get("podIP")
        if not ip or status.get("phase") != "Running" or not wants_scrape(pod):
            continue
        meta = pod.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        ns, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
        labels = {"__metrics_path__": str(annotations.get("prometheus.io/path") or "/metrics"),
                  "__scheme__": str(annotations.get("prometheus.io/scheme") or "http"),
                  "kubernetes_namespace": ns, "kubernetes_pod_name": name,
                  "namespace": ns, "pod": name}
        for key, value in sorted((meta.get("labels") or {}).items()):
            labels.setdefault(_LABEL_NAME.sub("_", str(key)), str(value))
        ports = _ports(pod)
        if ports:
            out.append({"targets": [f"{ip}:{p}" for p in ports], "labels": labels})
    return sorted(out, key=lambda g: (g["labels"]["namespace"], g["labels"]["pod"]))
