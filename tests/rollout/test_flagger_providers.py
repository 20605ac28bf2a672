"""Flagger's options on the in-memory cluster, shaped like Flagger's own e2e scenarios
(test/istio): podinfo in namespace `test`."""

from __future__ import annotations

from turnout.mesh import validation as mesh_validation
from turnout.rollout.flagger_controller import CanaryController
from turnout.rollout.metrics import FakeMetrics, lognormal
from turnout.rollout.webhooks import FakeCaller
from turnout.store.objects import Objects
from turnout.types import Obj

from .helpers import cluster, events, rt, settle

NS = "test"
KEY = (NS, "podinfo")
OK = lognormal(20.0, 0.2)
VS = "virtualservices.networking.istio.io"
ING = "ingresses.networking.k8s.io"


def podinfo(image: str = "ghcr.io/stefanprodan/podinfo:6.0.0") -> Obj:
    """test/workloads/deployment.yaml, abridged."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": NS,
                         "labels": {"app.kubernetes.io/name": "podinfo",
                                    "app.kubernetes.io/managed-by": "test-label-prefix"},
                         "annotations": {"app.kubernetes.io/instance": "test-annotation-prefix"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "podinfo"}},
                     "template": {"metadata": {"labels": {"app": "podinfo"}},
                                  "spec": {"containers": [{
                                      "name": "podinfod", "image": image,
                                      "ports": [{"name": "http", "containerPort": 9898},
                                                {"name": "http-metrics",
                                                 "containerPort": 9797},
                                                {"name": "grpc", "containerPort": 9999}]}]}}}}


def canary_obj(spec: Obj, analysis: Obj | None = None) -> Obj:
    a = {"interval": "15s", "threshold": 10, "iterations": 5,
         "metrics": [{"name": "request-success-rate", "interval": "1m",
                      "thresholdRange": {"min": 99}},
                     {"name": "request-duration", "interval": "30s",
                      "thresholdRange": {"max": 500}}]}
    return {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": NS},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": "podinfo"},
                     "progressDeadlineSeconds": 60, **spec,
                     "analysis": analysis if analysis is not None else a}}


def start(spec: Obj, analysis: Obj | None = None, extra: list[Obj] | None = None,
          dists: dict[str, object] | None = None) -> tuple[Objects, CanaryController]:
    o = cluster(NS, "ingress-nginx")
    for obj in extra or []:
        key = {"Service": "services", "Ingress": ING, "VirtualService": VS,
               "HorizontalPodAutoscaler": "horizontalpodautoscalers.autoscaling"}[obj["kind"]]
        o.create(rt(o, key), NS, obj)
    o.create(rt(o, "deployments.apps"), NS, podinfo())
    o.create(rt(o, "canaries.flagger.app"), NS, canary_obj(spec, analysis))
    metrics = FakeMetrics(dists=dists or {"podinfo": OK})  # type: ignore[arg-type]
    return o, CanaryController(o, metrics, hooks=FakeCaller())


def run(o: Objects, ctl: CanaryController, t0: float, t1: float) -> float:
    t = t0
    while t <= t1:
        ctl.sync(KEY, t)
        settle(o)
        t += 1.0
    return t


def until(o: Objects, ctl: CanaryController, t: float, phase: str,
          limit: float = 600) -> float:
    while t < limit and status(o).get("phase") != phase:
        t = run(o, ctl, t, t)
    assert status(o).get("phase") == phase, status(o)
    return t


def status(o: Objects) -> Obj:
    c = o.store.peek("canaries.flagger.app", NS, "podinfo")
    return dict((c or {}).get("status") or {})


def get(o: Objects, key: str, name: str) -> Obj:
    out: Obj = o.get(rt(o, key), NS, name)
    return out


def set_image(o: Objects, image: str) -> None:
    d = get(o, "deployments.apps", "podinfo")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    o.update(rt(o, "deployments.apps"), NS, "podinfo", d)


def primary_image(o: Objects) -> str:
    d = get(o, "deployments.apps", "podinfo-primary")
    return str(d["spec"]["template"]["spec"]["containers"][0]["image"])


def test_skip_analysis_promotes_once_ready_and_a_bad_image_fails_at_the_deadline() -> None:
    """test/istio/test-skip-analysis.sh."""
    o, ctl = start({"service": {"port": 9898, "portDiscovery": True}, "skipAnalysis": True},
                   {"interval": "15s", "threshold": 15, "maxWeight": 30, "stepWeight": 10})
    until(o, ctl, 0, "Initialized")
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    until(o, ctl, 10, "Succeeded")
    assert primary_image(o).endswith(":6.0.1")
    assert any(e["message"] == "Promotion completed! Canary analysis was skipped for "
                               "podinfo.test" for e in events(o, NS))
    set_image(o, "stefanprodan/potato:1.0.0")
    ctl.sync(KEY, 100)
    d = o.store.peek("deployments.apps", NS, "podinfo")
    assert d is not None
    d["status"] = {"observedGeneration": d["metadata"]["generation"], "replicas": 1,
                   "updatedReplicas": 1, "availableReplicas": 0}
    o.store.update("deployments.apps", d)
    for t in range(101, 170):
        ctl.sync(KEY, t)  # no settle: the canary never becomes available
    assert status(o)["phase"] == "Failed"
    assert "ProgressDeadlineExceeded" in status(o)["conditions"][0]["message"]
    assert primary_image(o).endswith(":6.0.1")


ISTIO_CANARY = {"service": {
    "port": 9898, "portDiscovery": True,
    "apex": {"annotations": {"test": "annotations-test"}, "labels": {"test": "labels-test"}},
    "headers": {"request": {"add": {"x-envoy-upstream-rq-timeout-ms": "15000"}}}}}


def test_istio_apex_metadata_and_rendered_virtual_service() -> None:
    """test/istio/test-canary.sh's metadata checks; the VS carries service.headers."""
    o, ctl = start(ISTIO_CANARY, {"interval": "15s", "threshold": 15, "maxWeight": 30,
                                  "stepWeight": 10})
    until(o, ctl, 0, "Initialized")
    svc = get(o, "services", "podinfo")
    assert svc["metadata"]["annotations"]["test"] == "annotations-test"
    assert svc["metadata"]["labels"]["test"] == "labels-test"
    assert svc["spec"]["selector"]["app"] == "podinfo-primary"
    vs = get(o, VS, "podinfo")
    assert vs["metadata"]["labels"]["test"] == "labels-test"
    route = vs["spec"]["http"][0]
    assert route["headers"] == {"request": {"add": {"x-envoy-upstream-rq-timeout-ms": "15000"}}}
    assert route["route"][0] == {"destination": {"host": "podinfo-primary"}, "weight": 100}
    assert mesh_validation.validate_virtual_service(vs) == []
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    seen = set()
    t = 10.0
    while status(o).get("phase") != "Succeeded" and t < 300:
        t = run(o, ctl, t, t)
        seen.add(get(o, VS, "podinfo")["spec"]["http"][0]["route"][1]["weight"])
    assert seen == {0, 10, 20, 30}


def test_istio_ab_testing_by_cookie() -> None:
    """The A/B part of test/istio/test-canary.sh."""
    match = [{"headers": {"cookie": {"regex": "^(.*?;)?(type=insider)(;.*)?$"}}}]
    o, ctl = start({"service": {"port": 80, "portName": "http-podinfo", "targetPort": "http",
                                "portDiscovery": True}},
                   {"interval": "10s", "threshold": 5, "iterations": 5, "match": match,
                    "metrics": []})
    until(o, ctl, 0, "Initialized")
    http = get(o, VS, "podinfo")["spec"]["http"]
    assert http[0]["match"] == match and len(http) == 2
    assert http[1]["route"] == [{"destination": {"host": "podinfo-primary"}, "weight": 100}]
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.3")
    t = run(o, ctl, 10, 21)
    assert [d["weight"] for d in get(o, VS, "podinfo")["spec"]["http"][0]["route"]] == [0, 100]
    assert status(o)["canaryWeight"] == 0
    until(o, ctl, t, "Succeeded")
    assert [d["weight"] for d in get(o, VS, "podinfo")["spec"]["http"][0]["route"]] == [100, 0]


def test_destination_rules_carry_the_traffic_policy() -> None:
    policy = {"tls": {"mode": "ISTIO_MUTUAL"}}
    o, ctl = start({"service": {"port": 9898, "trafficPolicy": policy}})
    until(o, ctl, 0, "Initialized")
    for name in ("podinfo-primary", "podinfo-canary"):
        dr = get(o, "destinationrules.networking.istio.io", name)
        assert dr["spec"] == {"host": name, "trafficPolicy": policy}
        assert dr["metadata"]["ownerReferences"][0]["name"] == "podinfo"
