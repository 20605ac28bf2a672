"""Argo's `job` metric provider: a measurement is a pod that exits 0 (Successful) or not (Failed).

Why this exists: Argo's own examples (examples/analysis-templates.yaml, the `pass`,
`random-fail` and `always-pass` templates) measure with `provider: {job: {spec: <JobSpec>}}`:
Argo creates a Job per measurement and waits for it (metricproviders/job/job.go). turnout runs
the Job's pod template as one pod per measurement (`backoffLimit` is not retried, as the examples
set it to 0), owned by the AnalysisRun, named `<run>-<metric>-<n>`; the measurement stays in
flight (Running) until the pod has Succeeded or Failed. Creating the pod again is idempotent, so
each look is the same call.
"""

from __future__ import annotations

import copy
import re

from turnout.kube import errors
from turnout.rollout import common
from turnout.rollout.providers import Measurement
from turnout.store.objects import Objects
from turnout.types import Obj

POD = "pods"
RUN_LABEL = "analysisrun.argoproj.io/name"
METRIC_LABEL = "analysisrun.argoproj.io/metric-name"


def pod_name(run: Obj, metric: str, index: int) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", f"{run['metadata']['name']}-{metric}".lower()).strip("-")
    return f"{base[:240]}-{index}"


def measurement_index(run: Obj, metric: str) -> int:
    """How many measurements of ``metric`` were taken (the in-flight one keeps its index)."""
    for r in (run.get("status") or {}).get("metricResults") or []:
        if r.get("name") == metric:
            done = sum(int(r.get(k, 0)) for k in ("successful", "failed", "inconclusive",
                                                  "error"))
            return done
    return 0


def render_pod(run: Obj, metric: Obj, name: str) -> Obj:
    """The pod of one measurement, from `provider.job.spec.template` (pure)."""
    job = (metric.get("provider") or {}).get("job") or {}
    tmpl = copy.deepcopy(((job.get("spec") or {}).get("template")) or {})
    meta = tmpl.get("metadata") or {}
    spec = tmpl.get("spec") or {}
    spec.setdefault("restartPolicy", "Never")
    labels = {**(((job.get("metadata") or {}).get("labels")) or {}), **(meta.get("labels") or {}),
              RUN_LABEL: run["metadata"]["name"], METRIC_LABEL: str(metric.get("name"))}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": run["metadata"]["namespace"],
                         "labels": labels, "annotations": dict(meta.get("annotations") or {}),
                         "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1",
                                              "kind": "AnalysisRun",
                                              "name": run["metadata"]["name"],
                                              "uid": run["metadata"].get("uid", ""),
                                              "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": spec}


class JobProvider:
    def __init__(self, objects: Objects) -> None:
        self.objects = objects

    def measure(self, metric: Obj, run: Obj, now: float) -> Measurement:
        job = (metric.get("provider") or {}).get("job") or {}
        if not ((job.get("spec") or {}).get("template") or {}).get("spec"):
            return "Error", "", "job provider needs spec.template.spec"
        ns = run["metadata"]["namespace"]
        name = pod_name(run, str(metric.get("name")), measurement_index(run, str(
            metric.get("name"))))
        pod = common.get(self.objects, POD, ns, name)
        if pod is None:
            rt = self.objects.registry.by_key(POD)
            assert rt is not None
            try:
                self.objects.create(rt, ns, render_pod(run, metric, name))
            except errors.ApiError as e:
                return "Error", "", f"job provider: pod {name} not created: {e.message}"
            return "Running", "", f"pod {name} started"
        st = pod.get("status") or {}
        if st.get("phase") == "Succeeded":
            return "Successful", "", f"pod {name} succeeded"
        if st.get("phase") == "Failed":
            codes = [str(((c.get("state") or {}).get("terminated") or {}).get("exitCode", "?"))
                     for c in st.get("containerStatuses") or []]
            return "Failed", "", f"pod {name} failed (exit code {', '.join(codes) or '?'})"
        return "Running", "", f"pod {name} {st.get('phase', 'Pending')}"
