"""Flagger's own Istio tutorial (docs "Istio Canary Deployments", podinfo in namespace `test`)
on turnout: the public gateway, the podinfo Deployment and HPA from Flagger's kustomize base, and
the tutorial's Canary with its built-in request-success-rate and request-duration checks —
written out here field by field; images unchanged. The load-tester webhooks are left out (they
call a separate load-tester deployment); this test sends the traffic itself.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest
import yaml

from tests.conftest import RunningCluster

pytestmark = pytest.mark.cluster
NS = "test"


def manifests() -> list[dict[str, object]]:
    labels = {"app": "podinfo"}
    probe = lambda path: {"exec": {"command": ["podcli", "check", "http",  # noqa: E731
                                               f"localhost:9898/{path}"]},
                          "initialDelaySeconds": 5, "timeoutSeconds": 5}
    return [
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "Gateway",
         "metadata": {"name": "public-gateway", "namespace": "istio-system"},
         "spec": {"selector": {"istio": "ingressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                               "hosts": ["*"]}]}},
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": NS, "labels": {"istio-injection": "enabled"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "podinfo", "namespace": NS, "labels": labels},
         "spec": {"minReadySeconds": 5, "revisionHistoryLimit": 5,
                  "progressDeadlineSeconds": 60,
                  "strategy": {"rollingUpdate": {"maxUnavailable": 1},
                               "type": "RollingUpdate"},
                  "selector": {"matchLabels": labels},
                  "template": {
                      "metadata": {"annotations": {"prometheus.io/scrape": "true",
                                                   "prometheus.io/port": "9797"},
                                   "labels": labels},
                      "spec": {"containers": [{
                          "name": "podinfod", "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                          "imagePullPolicy": "IfNotPresent",
                          "ports": [{"name": "http", "containerPort": 9898, "protocol": "TCP"},
                                    {"name": "http-metrics", "containerPort": 9797,
                                     "protocol": "TCP"},
                                    {"name": "grpc", "containerPort": 9999, "protocol": "TCP"}],
                          "command": ["./podinfo", "--port=9898", "--port-metrics=9797",
                                      "--grpc-port=9999", "--grpc-service-name=podinfo",
                                      "--level=info", "--random-delay=false",
                                      "--random-error=false"],
                          "env": [{"name": "PODINFO_UI_COLOR", "value": "#34577c"}],
                          "livenessProbe": probe("healthz"), "readinessProbe": probe("readyz"),
                          "resources": {"limits": {"cpu": "2000m", "memory": "512Mi"},
                                        "requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
         "metadata": {"name": "podinfo", "namespace": NS},
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "podinfo"},
                  "minReplicas": 2, "maxReplicas": 4,
                  "metrics": [{"type": "Resource", "resource": {
                      "name": "cpu", "target": {"type": "Utilization",
                                                "averageUtilization": 99}}}]}},
        {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
         "metadata": {"name": "podinfo", "namespace": NS},
         "spec": {
             "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
             "autoscalerRef": {"apiVersion": "autoscaling/v2",
                               "kind": "HorizontalPodAutoscaler", "name": "podinfo"},
             "service": {"port": 9898, "targetPort": 9898,
                         "gateways": ["public-gateway.istio-system.svc.cluster.local"],
                         "hosts": ["app.example.com"],
                         "trafficPolicy": {"tls": {"mode": "DISABLE"}},
                         "retries": {"attempts": 3, "perTryTimeout": "1s",
                                     "retryOn": "gateway-error,connect-failure,refused-stream"}},
             "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10,
                          "metrics": [{"name": "request-success-rate",
                                       "thresholdRange": {"min": 99}, "interval": "1m"},
                                      {"name": "request-duration",
                                       "thresholdRange": {"max": 500}, "interval": "30s"}]}}},
    ]


def canary(cluster: RunningCluster) -> dict[str, object]:
    out = json.loads(cluster.kubectl("get", "canary", "podinfo", "-n", NS, "-o", "json").stdout)
    st: dict[str, object] = out.get("status") or {}
    return st


class Load:
    """Steady requests to the app through the public gateway, counting versions and errors."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 200
        while not self.stop.is_set() and time.monotonic() < deadline:
            req = urllib.request.Request(self.url + "/",
                                         headers={"Host": "app.example.com"})
            try:
                with opener.open(req, timeout=5) as r:
                    key = json.loads(r.read())["version"]
            except Exception as e:  # counted, and asserted on
                key = f"error: {type(e).__name__}"
            self.seen[key] = self.seen.get(key, 0) + 1
            time.sleep(0.05)


def test_the_istio_tutorial_canary_initializes_and_shifts_traffic(
        cluster: RunningCluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests()))
    cluster.wait_for(lambda: canary(cluster).get("phase") == "Initialized", timeout=90,
                     what="Flagger's bootstrap (primary, services, virtual service)")
    for name in ("podinfo", "podinfo-primary", "podinfo-canary"):
        cluster.kubectl("get", "svc", name, "-n", NS)
    primary = json.loads(cluster.kubectl("get", "deploy", "podinfo-primary", "-n", NS, "-o",
                                         "json").stdout)
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":6.0.0")
    load = Load(cluster.node_url(30003))
    load.thread.start()
    try:
        cluster.kubectl("-n", NS, "set", "image", "deployment/podinfo",
                        "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1")
        cluster.wait_for(lambda: int(canary(cluster).get("canaryWeight") or 0) >= 10,
                         timeout=180, what="the first traffic step (10 %) after one interval")
        time.sleep(5)
    finally:
        load.stop.set()
        load.thread.join(10)
    st = canary(cluster)
    assert st.get("phase") == "Progressing", st
    assert not [k for k in load.seen if k.startswith("error")], load.seen
    assert "6.0.0" in load.seen
    vs = json.loads(cluster.kubectl("get", "vs", "podinfo", "-n", NS, "-o", "json").stdout)
    weights = {d["destination"]["host"]: d.get("weight", 0)
               for d in vs["spec"]["http"][0]["route"]}
    assert weights.get("podinfo-canary", 0) >= 10 and sum(weights.values()) == 100, weights
