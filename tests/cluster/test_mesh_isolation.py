"""One mistyped VirtualService no longer freezes the mesh (issue 14, failure isolation).

The object passes admission (its shape errors are below what admission checks), cannot be
translated, and is left out: its status and an Event say why, and every other change keeps
reaching Envoy, here a new NodePort Service in another namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import RunningCluster

pytestmark = pytest.mark.cluster

BAD_VS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: typo, namespace: isol}
spec:
  hosts: [web.isol.svc.cluster.local]
  http:
  - headers: {request: {remove: 5}}
    route:
    - destination: {host: web.isol.svc.cluster.local}
"""

WEB = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: isol}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""

NEW_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: hello-new, namespace: isol2}
spec:
  type: NodePort
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080, nodePort: 30482}]
"""

HELLO = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: isol2}
spec:
  replicas: 1
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: hello
        image: python:3.11
        command: ["python", "-u", "-m", "http.server", "8080", "--bind", "$(POD_IP)"]
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hello, namespace: isol2}
spec:
  type: NodePort
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080, nodePort: 30481}]
"""


def test_a_vs_that_cannot_be_translated_is_left_out_and_others_flow(
        cluster: RunningCluster) -> None:
    cluster.kubectl("create", "namespace", "isol")
    cluster.kubectl("create", "namespace", "isol2")
    # a mesh pod, so that the VirtualService is part of what Envoy is given
    cluster.kubectl("label", "namespace", "isol2", "istio-injection=enabled")
    cluster.kubectl("apply", "-f", "-", input=WEB)
    cluster.kubectl("apply", "-f", "-", input=HELLO)
    cluster.kubectl("rollout", "status", "deployment/hello", "-n", "isol2", "--timeout=60s")
    applied = cluster.kubectl("apply", "-f", "-", input=BAD_VS)
    assert "created" in applied.stdout

    def condition() -> object:
        vs = json.loads(cluster.kubectl("get", "virtualservice", "typo", "-n", "isol", "-o",
                                        "json").stdout)
        return next((c for c in (vs.get("status") or {}).get("conditions") or []
                     if c.get("type") == "Reconciled"), None)
    cluster.wait_for(condition, timeout=20, what="the VirtualService's Reconciled condition")
    cond = condition()
    assert isinstance(cond, dict) and cond["status"] == "False", cond
    assert cond["reason"] == "TranslationFailed" and "left out" in cond["message"], cond
    events = cluster.kubectl("get", "events", "-n", "isol").stdout
    assert "RejectedByMesh" in events, events
    r = subprocess.run([sys.executable, "-m", "turnout.cli.main", "--state-dir",
                        str(cluster.state_dir), "analyze", "-n", "isol"], text=True,
                       capture_output=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 1 and "TNT0001" in r.stdout and "typo" in r.stdout, r.stdout
    # every other change still reaches Envoy: a new Service in another namespace answers
    cluster.kubectl("apply", "-f", "-", input=NEW_SERVICE)

    def answers() -> bool:
        try:
            with urllib.request.urlopen(cluster.node_url(30482) + "/", timeout=3) as r:
                return r.status == 200
        except OSError:
            return False
    cluster.wait_for(answers, timeout=20, what="a Service created after it to answer")
    # fixed: the condition goes away
    cluster.kubectl("patch", "virtualservice", "typo", "-n", "isol", "--type", "json", "-p",
                    '[{"op": "replace", "path": "/spec/http/0/headers/request/remove", '
                    '"value": ["x-debug"]}]')
    cluster.wait_for(lambda: condition() is None, timeout=20,
                     what="the condition to clear once the object translates")
    cluster.kubectl("delete", "namespace", "isol", "isol2", "--wait=false")
