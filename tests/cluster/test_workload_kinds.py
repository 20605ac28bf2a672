"""Job, CronJob, StatefulSet and DaemonSet through the real kubectl."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunningCluster

pytestmark = pytest.mark.cluster

JOBS = """
apiVersion: batch/v1
kind: Job
metadata: {name: hello, namespace: wk}
spec:
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: busybox, command: ["sh", "-c", "echo hello"]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: boom, namespace: wk}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: busybox, command: ["sh", "-c", "exit 3"]}
"""

CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: wk}
spec:
  schedule: "@hourly"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: c, image: busybox, command: ["sh", "-c", "echo tick"]}
"""

STATEFULSET = """
apiVersion: v1
kind: Service
metadata: {name: nginx, namespace: wk}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080, name: http}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: wk}
spec:
  serviceName: nginx
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: python:3.11
        command:
        - python
        - -c
        - |
          import http.server, os, socket
          print(socket.getaddrinfo('web-0.nginx.wk.svc.cluster.local', 80)[0][4][0], flush=True)
          class Me(http.server.BaseHTTPRequestHandler):
              def do_GET(self):
                  body = os.environ["POD_IP"].encode()
                  self.send_response(200)
                  self.send_header("Content-Length", str(len(body)))
                  self.end_headers()
                  self.wfile.write(body)
              def log_message(self, *args):
                  pass
          http.server.HTTPServer((os.environ["POD_IP"], 8080), Me).serve_forever()
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""

CLIENT = """
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: wk, labels: {app: client}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: python:3.11
    command:
    - python
    - -c
    - |
      import json, socket, subprocess, time, urllib.request
      def get(url):
          return urllib.request.urlopen(url, timeout=10).read().decode()
      names = ["web-0.nginx", "web-1.nginx.wk", "web-2.nginx.wk.svc.cluster.local"]
      out = {n: get(f"http://{n}:8080/") for n in names}
      out["addresses"] = sorted({a[4][0] for a in socket.getaddrinfo(
          "nginx", 8080, type=socket.SOCK_STREAM)})
      out["hosts"] = open("/etc/hosts").read()
      out["getent"] = subprocess.run(["getent", "ahostsv4", "nginx.wk.svc.cluster.local"],
                                     capture_output=True, text=True).stdout
      out["service"] = sorted({get("http://nginx:8080/") for _ in range(12)})
      print(json.dumps(out), flush=True)
      time.sleep(3600)
"""

DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: wk}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - {name: c, image: busybox, command: ["sh", "-c", "sleep 3600"]}
"""


def get(cluster: RunningCluster, *what: str) -> Any:
    return json.loads(cluster.kubectl("get", *what, "-n", "wk", "-o", "json").stdout)


def sts_events(cluster: RunningCluster, reason: str, prefix: str) -> list[str]:
    """Pod names in the StatefulSet's events of `reason`, in the order they were recorded."""
    events = get(cluster, "events", "--field-selector", f"reason={reason}")["items"]
    ours = sorted((e for e in events if e["message"].startswith(prefix)),
                  key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [e["message"].split()[2] for e in ours]


def test_namespace(cluster: RunningCluster) -> None:
    cluster.kubectl("create", "namespace", "wk")


def test_jobs_complete_and_fail_at_their_backoff_limit(cluster: RunningCluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=JOBS)
    cluster.kubectl("wait", "--for=condition=complete", "job/hello", "-n", "wk",
                    "--timeout=60s")
    table = cluster.kubectl("get", "jobs", "-n", "wk").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert next(r for r in table if r.startswith("hello")).split()[1:3] == ["Complete", "2/2"]
    pods = get(cluster, "pods", "-l", "batch.kubernetes.io/job-name=hello")["items"]
    assert isinstance(pods, list) and len(pods) == 2
    assert all(p["status"]["phase"] == "Succeeded" for p in pods)
    assert all(p["metadata"]["labels"]["job-name"] == "hello" for p in pods)
    cluster.kubectl("wait", "--for=condition=failed", "job/boom", "-n", "wk", "--timeout=60s")
    boom = get(cluster, "job", "boom")
    failed = next(c for c in boom["status"]["conditions"]
                  if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert boom["status"]["failed"] == 2


def test_create_job_from_cronjob(cluster: RunningCluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=CRONJOB)
    out = cluster.kubectl("get", "cronjobs", "-n", "wk").stdout.splitlines()
    assert out[1].split()[:4] == ["tick", "@hourly", "<none>", "False"]
    cluster.kubectl("create", "job", "manual", "--from=cronjob/tick", "-n", "wk")
    cluster.kubectl("wait", "--for=condition=complete", "job/manual", "-n", "wk",
                    "--timeout=60s")
    log = cluster.kubectl("logs", "job/manual", "-n", "wk").stdout
    assert log.strip() == "tick"


def test_statefulset_ordered_creation_dns_and_reverse_update(cluster: RunningCluster) -> None:
    # no PersistentVolume is made by hand: the claims get volumes from the default StorageClass
    cluster.kubectl("apply", "-f", "-", input=STATEFULSET)
    cluster.kubectl("rollout", "status", "sts/web", "-n", "wk", "--timeout=90s", timeout=100)
    assert cluster.kubectl("get", "sts", "-n", "wk").stdout.splitlines()[1].split()[:2] == \
        ["web", "3/3"]
    pods = sorted(get(cluster, "pods", "-l", "app=web")["items"],
                  key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in pods] == ["web-0", "web-1", "web-2"]
    assert sts_events(cluster, "SuccessfulCreate", "create Pod") == ["web-0", "web-1", "web-2"]
    assert pods[2]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "2"
    claims = get(cluster, "pvc")["items"]
    assert sorted((c["metadata"]["name"], c["status"]["phase"])
                  for c in claims) == [
        ("www-web-0", "Bound"), ("www-web-1", "Bound"), ("www-web-2", "Bound")]
    assert {c["spec"]["storageClassName"] for c in claims} == {"standard"}
    assert all(c["spec"]["volumeName"] == f"pvc-{c['metadata']['uid']}" for c in claims)
    web0_ip = pods[0]["status"]["podIP"]
    cluster.wait_for(lambda: cluster.kubectl("logs", "web-2", "-n", "wk").stdout.strip()
                     == web0_ip, what="web-2 resolving web-0.nginx")
    # HTTP by per-pod name from another pod goes through its proxy (http_proxy), which routes
    # it to that pod; the headless Service's name resolves to, and reaches, every ready pod
    cluster.kubectl("apply", "-f", "-", input=CLIENT)
    cluster.wait_for(lambda: cluster.kubectl("logs", "client", "-n", "wk",
                                             check=False).stdout.startswith("{"),
                     timeout=60, what="the client pod's requests")
    seen = json.loads(cluster.kubectl("logs", "client", "-n", "wk").stdout)
    ips = [p["status"]["podIP"] for p in pods]
    assert [seen["web-0.nginx"], seen["web-1.nginx.wk"],
            seen["web-2.nginx.wk.svc.cluster.local"]] == ips
    assert seen["addresses"] == sorted(ips)
    if "Kubernetes-managed" in seen["hosts"]:  # a private mount namespace: glibc reads it
        assert {line.split()[0] for line in seen["getent"].splitlines()} == set(ips)
    assert seen["service"] and set(seen["service"]) <= set(ips)
    cluster.kubectl("set", "env", "sts/web", "-n", "wk", "V=2")
    cluster.kubectl("rollout", "status", "sts/web", "-n", "wk", "--timeout=90s", timeout=100)
    assert sts_events(cluster, "SuccessfulDelete", "delete Pod") == ["web-2", "web-1", "web-0"]
    new = get(cluster, "pods", "-l", "app=web")["items"]
    sts = get(cluster, "sts", "web")
    status = sts["status"]
    assert status["currentRevision"] == status["updateRevision"]
    assert all(p["metadata"]["labels"]["controller-revision-hash"] ==
               status["updateRevision"] for p in new)
    revs = cluster.kubectl("get", "controllerrevisions", "-n", "wk").stdout
    assert revs.count("statefulset.apps/web") == 2


def test_daemonset_rolls_out_one_pod_per_node(cluster: RunningCluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=DAEMONSET)
    out = cluster.kubectl("rollout", "status", "ds/agent", "-n", "wk", "--timeout=60s").stdout
    assert 'daemon set "agent" successfully rolled out' in out
    table = cluster.kubectl("get", "ds", "-n", "wk").stdout.splitlines()
    assert table[0].split()[:7] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE",
                                    "AVAILABLE", "NODE"]
    assert table[1].split()[:6] == ["agent", "1", "1", "1", "1", "1"]
    cluster.kubectl("set", "env", "ds/agent", "-n", "wk", "V=2")
    cluster.kubectl("rollout", "status", "ds/agent", "-n", "wk", "--timeout=60s")
    pods = [p for p in get(cluster, "pods", "-l", "app=agent")["items"]
            if not p["metadata"].get("deletionTimestamp")]
    assert len(pods) == 1 and pods[0]["spec"]["nodeName"] == "turnout"
    assert pods[0]["metadata"]["labels"]["pod-template-generation"] == "2"
