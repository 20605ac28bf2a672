"""A pod's network is up before its containers start, and the cluster's map is where it says.

The first request of a short-lived client pod goes through its own proxy listener at once (as
with Istio's `holdApplicationUntilProxyStarts`); `turnout status -o json` gives URLs that answer:
the metrics scrape and the dashboard opens in Chromium.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import yaml

from tests.browser import ARGS, CHROMIUM, needs_chromium
from tests.conftest import RunningCluster

pytestmark = pytest.mark.cluster

SERVER = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: net}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: python:3.11
        command: ["python", "-m", "http.server", "8080", "--bind", "$(POD_IP)"]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: net}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""

PODS = 20


def client_pod(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"client-{i}", "namespace": "net"},
            "spec": {"restartPolicy": "Never", "containers": [{
                "name": "wget", "image": "busybox",
                "command": ["wget", "-q", "-O", "-", "http://web/"]}]}}


def test_first_request_of_a_fresh_pod_never_meets_connection_refused(
        cluster: RunningCluster) -> None:
    cluster.kubectl("create", "namespace", "net")
    cluster.kubectl("apply", "-f", "-", input=SERVER)
    cluster.kubectl("rollout", "status", "deployment/web", "-n", "net", "--timeout=60s")
    cluster.kubectl("apply", "-f", "-",
                    input=yaml.safe_dump_all([client_pod(i) for i in range(PODS)]))

    def phases() -> dict[str, str]:
        items = json.loads(cluster.kubectl("get", "pods", "-n", "net", "-l", "!app", "-o",
                                           "json").stdout)["items"]
        return {p["metadata"]["name"]: p.get("status", {}).get("phase", "") for p in items}

    cluster.wait_for(lambda: len(phases()) == PODS and all(
        v in ("Succeeded", "Failed") for v in phases().values()), timeout=90,
        what="every client pod to finish")
    done = phases()
    failed = sorted(n for n, v in done.items() if v != "Succeeded")
    logs = {n: cluster.kubectl("logs", "-n", "net", n, check=False).stdout[-300:]
            for n in failed}
    assert not failed, logs
    assert "Directory listing" in cluster.kubectl("logs", "-n", "net", "client-0").stdout


@needs_chromium
def test_status_map_urls_answer(cluster: RunningCluster) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    data = json.loads(cluster.turnout("status", "-o", "json"))
    assert data["status"] == "up" and data["api"] == cluster.url
    assert data["kubeconfig"] == str(cluster.kubeconfig)
    with urllib.request.urlopen(data["metrics"], timeout=10) as r:
        assert b"# TYPE" in r.read()
    assert data["nodePorts"] == [] or all(
        row["url"] == cluster.node_url(row["nodePort"]) for row in data["nodePorts"])
    # the dashboard URL opens in Chromium (with the token `turnout dashboard` adds)
    url = cluster.turnout("dashboard").strip()
    assert url.startswith(data["dashboard"]["url"])
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.locator("nav, main, body").first.wait_for(timeout=15000)
            assert "turnout" in (page.title() + page.content()).lower()
        finally:
            browser.close()
    # the human view fits 80 columns and names the same URLs
    text = cluster.turnout("status", columns=80)
    assert all(len(line.rstrip()) <= 80 for line in text.splitlines()), text
    assert data["dashboard"]["url"] in text and data["metrics"] in text
