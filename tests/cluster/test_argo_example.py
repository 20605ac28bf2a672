"""Argo Rollouts' own Istio subset-splitting example (argoproj/rollouts-demo, examples/
istio-subset) on turnout: the same resources — Rollout with background analysis, Gateway,
VirtualService, DestinationRule, and the `istio-success-rate` AnalysisTemplate querying
http://prometheus.istio-system:9090 — written out here field by field; images unchanged.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import urllib.request
from importlib import resources
from pathlib import Path

import pytest
import yaml

from tests.conftest import RunningCluster

pytestmark = [pytest.mark.cluster,
              # `make test` installs Debian's prometheus; in CI a missing one must fail, not skip
              pytest.mark.skipif(shutil.which("prometheus") is None and not os.environ.get("CI"),
                                 reason="needs Debian's prometheus (make test installs it)")]
NS = "rollouts-demo-istio"
ADDON = Path(str(resources.files("turnout") / "examples" / "addons" / "prometheus.yaml"))
SUCCESS_RATE_QUERY = (
    'sum(irate(istio_requests_total{reporter="source",'
    'destination_service=~"{{args.service}}.{{args.namespace}}.svc.cluster.local",'
    'response_code!~"5.*"}[40s])) / sum(irate(istio_requests_total{reporter="source",'
    'destination_service=~"{{args.service}}.{{args.namespace}}.svc.cluster.local"}[40s]))')


def example(initial_delay: str = "60s") -> list[dict[str, object]]:
    labels = {"app": "istio-rollout"}
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": NS, "labels": {"istio-injection": "enabled"}}},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
         "metadata": {"name": "istio-success-rate", "namespace": NS},
         "spec": {"args": [{"name": "service"}, {"name": "namespace"}],
                  "metrics": [{"name": "success-rate", "initialDelay": initial_delay,
                               "interval": "20s", "successCondition": "result[0] > 0.90",
                               "provider": {"prometheus": {
                                   "address": "http://prometheus.istio-system:9090",
                                   "query": SUCCESS_RATE_QUERY}}}]}},
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "Gateway",
         "metadata": {"name": "istio-rollout-gateway", "namespace": NS},
         "spec": {"selector": {"istio": "ingressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                               "hosts": ["*"]}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "istio-rollout", "namespace": NS},
         "spec": {"ports": [{"port": 80, "targetPort": "http", "protocol": "TCP",
                             "name": "http"}], "selector": labels}},
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
         "metadata": {"name": "istio-rollout-vsvc", "namespace": NS},
         "spec": {"gateways": ["istio-rollout-gateway"],
                  "hosts": ["istio-rollout.apps.argoproj.io", "istio-rollout.local"],
                  "http": [{"name": "primary", "route": [
                      {"destination": {"host": "istio-rollout", "subset": "stable"},
                       "weight": 100},
                      {"destination": {"host": "istio-rollout", "subset": "canary"},
                       "weight": 0}]}]}},
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "DestinationRule",
         "metadata": {"name": "rollout-destrule", "namespace": NS},
         "spec": {"host": "istio-rollout",
                  "subsets": [{"name": "canary", "labels": labels},
                              {"name": "stable", "labels": labels}]}},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
         "metadata": {"name": "istio-rollout", "namespace": NS},
         "spec": {
             "revisionHistoryLimit": 2, "selector": {"matchLabels": labels},
             "template": {
                 "metadata": {"annotations": {"sidecar.istio.io/inject": "true"},
                              "labels": labels},
                 "spec": {"containers": [{
                     "name": "istio-rollout", "image": "argoproj/rollouts-demo:blue",
                     "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                     "resources": {"requests": {"memory": "32Mi", "cpu": "5m"}}}]}},
             "strategy": {"canary": {
                 "analysis": {"startingStep": 1,
                              "templates": [{"templateName": "istio-success-rate"}],
                              "args": [{"name": "service", "value": "canary"},
                                       {"name": "namespace", "valueFrom": {"fieldRef": {
                                           "fieldPath": "metadata.namespace"}}}]},
                 "trafficRouting": {"istio": {
                     "virtualService": {"name": "istio-rollout-vsvc", "routes": ["primary"]},
                     "destinationRule": {"name": "rollout-destrule",
                                         "canarySubsetName": "canary",
                                         "stableSubsetName": "stable"}}},
                 "steps": [{"setWeight": 10}, {"pause": {}},
                           *[s for w in range(20, 100, 10)
                             for s in ({"setWeight": w}, {"pause": {"duration": "20s"}})]]}}}},
    ]


def apply(cluster: RunningCluster, docs: list[dict[str, object]]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def colors(cluster: RunningCluster, n: int) -> dict[str, int]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    seen: dict[str, int] = {}
    for _ in range(n):
        req = urllib.request.Request(cluster.node_url(30003) + "/color",
                                     headers={"Host": "istio-rollout.local"})
        with opener.open(req, timeout=10) as r:
            c = json.loads(r.read())
        seen[c] = seen.get(c, 0) + 1
    return seen


def answers(cluster: RunningCluster) -> bool:
    try:
        return bool(colors(cluster, 1))
    except OSError:
        return False


def status(cluster: RunningCluster) -> dict[str, object]:
    ro = json.loads(cluster.kubectl("get", "rollout", "istio-rollout", "-n", NS, "-o",
                                    "json").stdout)
    st: dict[str, object] = ro.get("status") or {}
    return st


def turnout(cluster: RunningCluster, *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "turnout.cli.main", "--state-dir",
                        str(cluster.state_dir), *args], text=True, capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_the_istio_subset_example_rolls_out_through_its_steps(cluster: RunningCluster) -> None:
    apply(cluster, example())
    cluster.wait_for(lambda: status(cluster).get("phase") == "Healthy", timeout=60,
                     what="the blue revision")
    cluster.wait_for(lambda: answers(cluster), timeout=30, what="the gateway to route to blue")
    assert colors(cluster, 20) == {"blue": 20}
    # what `kubectl argo rollouts set image istio-rollout istio-rollout=...:yellow` does
    cluster.kubectl("patch", "rollout", "istio-rollout", "-n", NS, "--type", "json", "-p",
                    json.dumps([{"op": "replace",
                                 "path": "/spec/template/spec/containers/0/image",
                                 "value": "argoproj/rollouts-demo:yellow"}]))
    cluster.wait_for(lambda: status(cluster).get("phase") == "Paused", timeout=60,
                     what="the indefinite pause after setWeight 10")
    n = 200
    k = colors(cluster, n).get("yellow", 0)
    assert abs(k - 0.1 * n) <= 4 * math.sqrt(n * 0.1 * 0.9), k  # 10 % canary weight
    turnout(cluster, "rollout", "promote", "istio-rollout", "-n", NS)
    cluster.wait_for(lambda: cluster.kubectl("get", "analysisruns", "-n", NS).stdout.count(
        "istio-rollout") >= 1, timeout=30, what="the background analysis to start")
    turnout(cluster, "rollout", "promote", "istio-rollout", "-n", NS, "--full")
    cluster.wait_for(lambda: status(cluster).get("phase") == "Healthy", timeout=60,
                     what="the full promotion")
    assert colors(cluster, 20) == {"yellow": 20}


def test_its_success_rate_query_runs_against_prometheus_in_the_cluster(
        cluster: RunningCluster) -> None:
    cluster.kubectl("apply", "-f", str(ADDON))
    cluster.kubectl("rollout", "status", "deployment/prometheus", "-n", "istio-system",
                    "--timeout=60s")
    colors(cluster, 40)  # traffic for the query to see (through the gateway: reporter="source")
    run = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
           "metadata": {"name": "success-rate-now", "namespace": NS},
           "spec": {"args": [{"name": "service", "value": "istio-rollout"},
                             {"name": "namespace", "value": NS}],
                    "metrics": example("0s")[1]["spec"]["metrics"]}}  # type: ignore[index]
    run["spec"]["metrics"][0]["count"] = 1  # type: ignore[index]

    def phase() -> str:
        out = json.loads(cluster.kubectl("get", "analysisrun", "success-rate-now", "-n", NS,
                                         "-o", "json").stdout)
        return str((out.get("status") or {}).get("phase", ""))

    def settled() -> bool:
        colors(cluster, 5)
        return phase() in ("Successful", "Failed", "Error")

    apply(cluster, [run])
    cluster.wait_for(settled, timeout=90, what="the Prometheus measurement")
    out = json.loads(cluster.kubectl("get", "analysisrun", "success-rate-now", "-n", NS, "-o",
                                     "json").stdout)
    assert phase() == "Successful", out.get("status")
