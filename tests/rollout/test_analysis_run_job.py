"""Argo's `job` provider (examples/analysis-templates.yaml): one pod per measurement, the
measurement in flight until the pod Succeeded or Failed."""

from __future__ import annotations

from typing import Any

from turnout.rollout.analysisrun_controller import AnalysisRunController
from turnout.rollout.job_provider import JobProvider
from turnout.rollout.metrics import FakeMetrics
from turnout.rollout.providers import Providers
from turnout.store.objects import Objects

from .helpers import cluster, rt

NS = "ns1"
RUN = "analysisruns.argoproj.io"


def job_metric(name: str, count: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "count": count, "interval": "5s", **extra,
            "provider": {"job": {"spec": {"backoffLimit": 0, "template": {"spec": {
                "containers": [{"name": "sleep", "image": "alpine:3.8",
                                "command": ["sh", "-c"], "args": ["exit 0"]}],
                "restartPolicy": "Never"}}}}}}


def setup(*metrics: dict[str, Any]) -> tuple[Objects, AnalysisRunController]:
    o = cluster(NS)
    p = Providers(FakeMetrics())
    p.by_name["job"] = JobProvider(o)
    o.create(rt(o, RUN), NS, {"metadata": {"name": "run"}, "spec": {"metrics": list(metrics)}})
    return o, AnalysisRunController(o, p)


def finish(o: Objects, name: str, phase: str, code: int = 0) -> None:
    pod = o.store.get("pods", NS, name)
    assert pod is not None, name
    pod["status"] = {"phase": phase, "containerStatuses": [
        {"name": "sleep", "state": {"terminated": {"exitCode": code}}}]}
    o.store.update("pods", pod)


def status(o: Objects) -> dict[str, Any]:
    st: dict[str, Any] = o.get(rt(o, RUN), NS, "run").get("status") or {}
    return st


def test_each_measurement_is_a_pod_in_flight_until_it_exits() -> None:
    o, c = setup(job_metric("pass", 2, failureLimit=0))
    c.sync((NS, "run"), 0)
    pod = o.get(rt(o, "pods"), NS, "run-pass-0")
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "AnalysisRun"
    assert pod["metadata"]["labels"]["analysisrun.argoproj.io/metric-name"] == "pass"
    r = status(o)["metricResults"][0]
    assert status(o)["phase"] == "Running" and r["measurements"][0]["phase"] == "Running"
    c.sync((NS, "run"), 1)  # still running: polled, nothing counted
    assert status(o)["metricResults"][0].get("count", 0) == 0
    finish(o, "run-pass-0", "Succeeded")
    c.sync((NS, "run"), 2)
    r = status(o)["metricResults"][0]
    assert r["count"] == 1 and r["measurements"][0]["phase"] == "Successful"
    c.sync((NS, "run"), 7)
    finish(o, "run-pass-1", "Failed", 2)
    c.sync((NS, "run"), 8)
    st = status(o)
    assert st["phase"] == "Failed"
    assert "pod run-pass-1 failed (exit code 2)" in st["message"]


def test_terminating_ends_an_in_flight_measurement() -> None:
    o, c = setup(job_metric("forever", 0))
    c.sync((NS, "run"), 0)
    run = o.get(rt(o, RUN), NS, "run")
    run["spec"]["terminate"] = True
    o.update(rt(o, RUN), NS, "run", run)
    c.sync((NS, "run"), 1)
    st = status(o)
    assert st["phase"] == "Successful" and st["message"] == "Run Terminated"
    assert st["metricResults"][0]["measurements"][-1]["message"] == "Metric Terminated"


def test_a_bad_pod_spec_is_an_error_measurement_naming_it() -> None:
    o, c = setup({**job_metric("bad", 1), "provider": {"job": {"spec": {"template": {
        "spec": {"containers": [{"name": "x"}]}}}}}})
    c.sync((NS, "run"), 0)
    m = status(o)["metricResults"][0]["measurements"][0]
    assert m["phase"] == "Error" and "job provider: pod run-bad-0 not created" in m["message"]
