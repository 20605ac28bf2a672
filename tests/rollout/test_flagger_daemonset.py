"""Flagger Canaries whose target is a DaemonSet, on the in-memory cluster, shaped like Flagger's
test/kubernetes/test-daemonset.sh (podinfo-ds in namespace `test`, the kubernetes provider).

A DaemonSet cannot be scaled: Flagger "scales it to zero" with a nodeSelector no node has
(`flagger.app/scale-to-zero: "true"`) and scales it up by removing it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from turnout.controllers.daemonset import plan_daemonset
from turnout.rollout import flagger, flagger_targets
from turnout.rollout.flagger_controller import CanaryController
from turnout.rollout.metrics import FakeMetrics, lognormal
from turnout.rollout.webhooks import FakeCaller
from turnout.store.objects import Objects
from turnout.types import Obj

from .helpers import cluster, drive, drive_until, events, rt

NS = "test"
KEY = (NS, "podinfo-ds")
DS = "daemonsets.apps"
OK = lognormal(20.0, 0.2)
ZERO = {"flagger.app/scale-to-zero": "true"}


def podinfo_ds(image: str = "ghcr.io/stefanprodan/podinfo:6.0.0") -> Obj:
    """test/workloads/daemonset.yaml, abridged."""
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "podinfo-ds", "namespace": NS,
                         "labels": {"app.kubernetes.io/name": "podinfo-ds"}},
            "spec": {"minReadySeconds": 5, "revisionHistoryLimit": 5,
                     "selector": {"matchLabels": {"app.kubernetes.io/name": "podinfo-ds"}},
                     "template": {"metadata": {"labels": {"app.kubernetes.io/name": "podinfo-ds"}},
                                  "spec": {"containers": [{
                                      "name": "podinfod", "image": image,
                                      "ports": [{"name": "http", "containerPort": 9898},
                                                {"name": "http-metrics",
                                                 "containerPort": 9797}]}]}}}}


def canary_obj(threshold: int = 10) -> Obj:
    return {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
            "metadata": {"name": "podinfo-ds", "namespace": NS},
            "spec": {"provider": "kubernetes",
                     "targetRef": {"apiVersion": "apps/v1", "kind": "DaemonSet",
                                   "name": "podinfo-ds"},
                     "progressDeadlineSeconds": 60,
                     "service": {"port": 80, "targetPort": 9898, "name": "podinfo-ds",
                                 "portDiscovery": True},
                     "analysis": {"interval": "15s", "threshold": threshold, "iterations": 5,
                                  "metrics": [{"name": "request-success-rate", "interval": "1m",
                                               "thresholdRange": {"min": 99}},
                                              {"name": "request-duration", "interval": "30s",
                                               "thresholdRange": {"max": 500}}]}}}


def start(dists: dict[str, object] | None = None, threshold: int = 10
          ) -> tuple[Objects, CanaryController]:
    o = cluster(NS)
    o.create(rt(o, DS), NS, podinfo_ds())
    o.create(rt(o, "canaries.flagger.app"), NS, canary_obj(threshold))
    metrics = FakeMetrics(dists=dists or {"podinfo-ds": OK})  # type: ignore[arg-type]
    return o, CanaryController(o, metrics, hooks=FakeCaller())


def run(o: Objects, ctl: CanaryController, t0: float, t1: float) -> float:
    return drive(o, lambda t: ctl.sync(KEY, t), t0, t1)


def until(o: Objects, ctl: CanaryController, t: float, phase: str) -> float:
    return drive_until(o, lambda t: ctl.sync(KEY, t), t, lambda: status(o).get("phase") == phase)


def status(o: Objects) -> Obj:
    c = o.store.peek("canaries.flagger.app", NS, "podinfo-ds")
    return dict((c or {}).get("status") or {})


def ds(o: Objects, name: str = "podinfo-ds") -> Obj:
    out: Obj = o.get(rt(o, DS), NS, name)
    return out


def node_selector(o: Objects, name: str = "podinfo-ds") -> Obj:
    return dict(ds(o, name)["spec"]["template"]["spec"].get("nodeSelector") or {})


def image(o: Objects, name: str) -> str:
    return str(ds(o, name)["spec"]["template"]["spec"]["containers"][0]["image"])


def set_image(o: Objects, img: str) -> None:
    d = ds(o)
    d["spec"]["template"]["spec"]["containers"][0]["image"] = img
    o.update(rt(o, DS), NS, "podinfo-ds", d)


def test_initialization_creates_the_primary_daemonset_and_scales_the_target_to_zero() -> None:
    o, ctl = start()
    until(o, ctl, 0, "Initialized")
    primary = ds(o, "podinfo-ds-primary")
    assert primary["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "podinfo-ds-primary"}
    assert primary["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == \
        "podinfo-ds-primary"
    assert primary["spec"]["minReadySeconds"] == 5
    assert "replicas" not in primary["spec"]
    assert not node_selector(o, "podinfo-ds-primary")
    assert node_selector(o) == ZERO  # "scaled to zero": no node matches
    assert ds(o)["status"]["desiredNumberScheduled"] == 0
    svc = {n: o.get(rt(o, "services"), NS, n)["spec"]["selector"]
           for n in ("podinfo-ds", "podinfo-ds-primary", "podinfo-ds-canary")}
    assert svc == {"podinfo-ds": {"app.kubernetes.io/name": "podinfo-ds-primary"},
                   "podinfo-ds-primary": {"app.kubernetes.io/name": "podinfo-ds-primary"},
                   "podinfo-ds-canary": {"app.kubernetes.io/name": "podinfo-ds"}}
    assert status(o)["conditions"][0]["status"] == "True"
    # scaling to zero is not a new revision: the Canary stays Initialized
    run(o, ctl, 100, 140)
    assert status(o)["phase"] == "Initialized"
    assert status(o)["lastAppliedSpec"] == status(o)["lastPromotedSpec"]


def test_new_image_runs_the_analysis_and_promotes_the_template() -> None:
    o, ctl = start()
    t = until(o, ctl, 0, "Initialized")
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    t = until(o, ctl, t, "Progressing")
    assert not node_selector(o)  # scaled up for the analysis
    assert ds(o)["status"]["numberAvailable"] == 1
    t = until(o, ctl, t, "Succeeded")
    assert image(o, "podinfo-ds-primary").endswith(":6.0.1")
    assert not node_selector(o, "podinfo-ds-primary")  # the scale-to-zero key never goes over
    assert len(status(o)["turnout"]["history"]) == 1 + 5 + 1
    run(o, ctl, t, t + 20)
    assert node_selector(o) == ZERO  # the canary is scaled to zero again
    assert status(o)["phase"] == "Succeeded"
    assert any(e["message"] == "Promotion completed! Scaling down podinfo-ds.test"
               for e in events(o, NS))


def test_failed_analysis_scales_the_canary_back_to_zero() -> None:
    o, ctl = start({"podinfo-ds": lognormal(20.0, 0.2, error_rate=0.3)}, threshold=2)
    t = until(o, ctl, 0, "Initialized")
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    t = until(o, ctl, t, "Progressing")
    assert not node_selector(o)
    t = until(o, ctl, t, "Failed")
    run(o, ctl, t, t + 20)
    assert node_selector(o) == ZERO
    assert image(o, "podinfo-ds-primary").endswith(":6.0.0")
    assert status(o)["failedChecks"] == 2
    assert any(e["message"] == "Canary failed! Scaling down podinfo-ds.test"
               for e in events(o, NS))


def test_revert_on_deletion_scales_the_daemonset_up() -> None:
    o, ctl = start()
    c = o.get(rt(o, "canaries.flagger.app"), NS, "podinfo-ds")
    c["spec"]["revertOnDeletion"] = True
    o.update(rt(o, "canaries.flagger.app"), NS, "podinfo-ds", c)
    t = until(o, ctl, 0, "Initialized")
    assert node_selector(o) == ZERO
    o.delete(rt(o, "canaries.flagger.app"), NS, "podinfo-ds")
    run(o, ctl, t, t + 5)
    assert not node_selector(o)
    assert o.store.peek("canaries.flagger.app", NS, "podinfo-ds") is None


def test_on_delete_strategy_is_refused_as_flagger_does() -> None:
    o, ctl = start()
    d = ds(o)
    d["spec"]["updateStrategy"] = {"type": "OnDelete"}
    o.update(rt(o, DS), NS, "podinfo-ds", d)
    run(o, ctl, 0, 2)
    assert status(o)["phase"] == "Failed"
    assert "must have RollingUpdate strategy but have OnDelete" in \
        status(o)["conditions"][0]["message"]
    assert o.store.peek(DS, NS, "podinfo-ds-primary") is None


def test_unsupported_kind_names_the_field() -> None:
    with pytest.raises(flagger.SpecError, match=r"spec\.targetRef\.kind: .StatefulSet."):
        flagger_targets.kind_of({"targetRef": {"kind": "StatefulSet", "name": "x"}})


def test_scale_to_zero_keeps_other_node_selectors_and_the_revision() -> None:
    d = podinfo_ds()
    d["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    zero = flagger_targets.scaled(d, 0)
    assert zero is not None
    assert zero["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "ssd", **ZERO}
    assert flagger_targets.replicas(zero) == 0 and flagger_targets.scaled(zero, 0) is None
    assert flagger_targets.revision(zero) == flagger_targets.revision(d)
    up = flagger_targets.scaled(zero, 1)
    assert up is not None and up["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_the_daemonset_controller_runs_no_pod_for_a_scaled_to_zero_daemonset() -> None:
    d = flagger_targets.scaled(podinfo_ds(), 0)
    assert d is not None
    d["metadata"].update(uid="u1", generation=2)
    node = {"metadata": {"name": "turnout", "labels": {"kubernetes.io/hostname": "turnout"}}}
    pod = {"metadata": {"name": "podinfo-ds-a", "namespace": NS,
                        "creationTimestamp": "2026-01-01T00:00:00Z",
                        "labels": {"controller-revision-hash": "old"}},
           "status": {"phase": "Running",
                      "conditions": [{"type": "Ready", "status": "True"}]}}
    p = plan_daemonset(d, node, [pod], "new", datetime.now(UTC))
    assert p.create == 0 and p.delete == ["podinfo-ds-a"]
    assert p.status["desiredNumberScheduled"] == 0 and p.status["numberReady"] == 0
    assert not flagger_targets.ready({**d, "status": p.status})
