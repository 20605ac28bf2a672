"""The dashboard of a running cluster with real traffic: figures match `turnout compare`, and an
abort from the browser stops a paused rollout."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARGS, CHROMIUM, needs_chromium
from tests.conftest import RunningCluster
from turnout.demo import load

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.cluster,
    needs_chromium,
]

PAUSED_ROLLOUT = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: ns1}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, version: VERSION}}
    spec:
      containers:
      - name: web
        image: python:3.11
        command: ["python", "-m", "http.server", "8080", "--bind", "$(POD_IP)"]
        env: [{name: V, value: VERSION}]
        ports: [{containerPort: 8080}]
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: {}
"""


@pytest.fixture(scope="module")
def page(cluster: RunningCluster) -> Iterator[Any]:
    port = json.loads((cluster.state_dir / "server.json").read_text())["dashboard_port"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            p = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            p.on("pageerror", lambda e: errors.append(str(e)))
            p.goto(f"http://127.0.0.1:{port}/#token={cluster.token}")
            p.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
            yield p
            assert errors == []
        finally:
            browser.close()


def test_compare_page_matches_turnout_compare(cluster: RunningCluster, lab: Path,
                                              page: Any) -> None:
    cluster.kubectl("create", "namespace", "ns1")
    cluster.kubectl("apply", "-f", str(lab / "ecommerce-v1") + "/")
    cluster.kubectl("apply", "-f", str(lab / "servicenetwork" / "advertisements.yaml"))
    for d in ("advertisements", "advertisements2", "frontend"):
        cluster.kubectl("rollout", "status", f"deployment/{d}", "-n", "ns1", "--timeout=60s")
    tally = load.run(cluster.node_url(30001), requests=80, concurrency=4)
    assert tally.statuses[200] == 80
    time.sleep(1.5)  # the access log is flushed every 200 ms, then ingested
    expected = cluster.api("/turnout/v1/telemetry/services/ns1/advertisements/compare"
                           "?baseline=1.0&candidate=2.0&since=10m")
    assert isinstance(expected, dict)
    page.goto(f"{page.base}/#/compare/ns1/advertisements?baseline=1.0&candidate=2.0")
    page.locator("#statements .statement").first.wait_for(timeout=15000)
    shown = page.locator("#statements .statement").all_inner_texts()
    assert shown[0].startswith("2.0 is slower: p50 +")
    assert shown[0] == expected["statements"][0]
    page.goto(f"{page.base}/#/")
    row = page.locator('tr[data-service="ns1/advertisements"]')
    row.wait_for(timeout=15000)
    assert row.locator(".versions").inner_text() == "1.0, 2.0"


def test_abort_from_the_browser_stops_a_paused_rollout(cluster: RunningCluster,
                                                       page: Any) -> None:
    cluster.kubectl("apply", "-f", "-", input=PAUSED_ROLLOUT.replace("VERSION", "v1"))

    def phase() -> str:
        ro = json.loads(cluster.kubectl("get", "rollout", "web", "-n", "ns1", "-o",
                                        "json").stdout)
        return str((ro.get("status") or {}).get("phase", ""))
    cluster.wait_for(lambda: phase() == "Healthy", timeout=60, what="first revision")
    cluster.kubectl("apply", "-f", "-", input=PAUSED_ROLLOUT.replace("VERSION", "v2"))
    cluster.wait_for(lambda: phase() == "Paused", timeout=60, what="the pause step")
    page.goto(f"{page.base}/#/rollouts")
    page.locator('tr[data-rollout="ns1/web"] a').click()
    page.locator('button[data-cmd="abort"]').click()
    cluster.wait_for(lambda: phase() == "Degraded", timeout=30, what="the abort")
