"""The mesh drops nothing under churn: weight changes and a rolling restart under steady load.

Two Deployments (v1, v2; 2 replicas each) behind one Service in an injected namespace, a
DestinationRule with subsets v1/v2 and a VirtualService. While a bounded load (~50 rps) flows
through a client pod's proxy listener, the VirtualService's weights change 50 times and both
Deployments restart (`kubectl rollout restart`). Every response must be a 200 from a backend: no
503 NC/UH/UC from Envoy, no connection error; Envoy's access log must hold no 503 either.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from tests.conftest import RunningCluster

pytestmark = pytest.mark.cluster

NS = "churn"
HOST = f"web.{NS}.svc.cluster.local"
RATE = 50.0  # requests per second, all loaders together
MAX_LOAD_SECONDS = 45.0  # hard bound on the load, whatever happens
CHANGES = 50
PAUSE = 0.2  # between weight changes: with kubectl's own time, the churn lasts ~15 s

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {app}, version: "{version}"}}
  template:
    metadata:
      labels: {{app: {app}, version: "{version}"}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: python:3.11
        command: ["python", "-u", "-m", "http.server", "8080", "--bind", "$(POD_IP)"]
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {{path: /, port: 8080}}
          periodSeconds: 1
---
"""

MESH = f"""
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {NS}}}
spec:
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: 8080}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {{name: web, namespace: {NS}}}
spec:
  host: web
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {{name: web, namespace: {NS}}}
spec:
  hosts: [web]
  http:
  - route:
    - destination: {{host: web, subset: v1}}
      weight: 50
    - destination: {{host: web, subset: v2}}
      weight: 50
"""


def weights(i: int) -> tuple[int, int]:
    """A cycle that includes the all-or-nothing flips (a subset dropping to weight 0)."""
    cycle = [(100, 0), (0, 100), (50, 50), (90, 10), (10, 90), (0, 100), (100, 0), (30, 70)]
    return cycle[i % len(cycle)]


@dataclass
class Load:
    """A fixed-rate loader through a pod's proxy: keep-alive or a new connection per request."""

    proxy_ip: str
    rate: float
    keep_alive: bool
    stop: threading.Event
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        period = 1.0 / self.rate
        start = time.monotonic()
        deadline = start + MAX_LOAD_SECONDS
        n = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            due = start + n * period
            n += 1
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.proxy_ip, 15001, timeout=5)
                conn.request("GET", f"http://{HOST}/", headers={"Host": HOST})
                r = conn.getresponse()
                r.read()
                key = str(r.status)
                if r.status != 200:
                    key += " " + (r.getheader("x-envoy-response-flags") or "")
                    self.errors.append(f"{time.monotonic() - start:.2f}s: HTTP {r.status}")
                self.statuses[key] += 1
                if not self.keep_alive or r.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                self.statuses[type(exc).__name__] += 1
                self.errors.append(f"{time.monotonic() - start:.2f}s: {exc!r}")
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


def pods(cluster: RunningCluster, selector: str) -> list[dict[str, object]]:
    out = cluster.kubectl("get", "pods", "-n", NS, "-l", selector, "-o", "json").stdout
    items: list[dict[str, object]] = json.loads(out)["items"]
    return items


def get_once(proxy_ip: str) -> int:
    conn = http.client.HTTPConnection(proxy_ip, 15001, timeout=5)
    try:
        conn.request("GET", f"http://{HOST}/", headers={"Host": HOST})
        r = conn.getresponse()
        r.read()
        return r.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


@dataclass
class Served:
    """What the cluster's Envoy logged for this namespace's traffic."""

    lines: int = 0
    bad: list[str] = field(default_factory=list)
    clusters: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)


def served(cluster: RunningCluster) -> Served:
    """Read the cluster's Envoy access log (JSON lines) for requests from this namespace."""
    out = Served()
    path = cluster.state_dir / "access.log"
    for raw in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if entry.get("source_namespace") != NS:
            continue
        out.lines += 1
        if entry.get("response_code") == 503:
            out.bad.append(raw)
        out.clusters.add(str(entry.get("upstream_cluster")))
        out.hosts.add(str(entry.get("upstream_host")).partition(":")[0])
    return out


def test_weight_changes_and_rolling_restart_under_load_drop_nothing(
        cluster: RunningCluster) -> None:
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("label", "namespace", NS, "istio-injection=enabled")
    manifests = "".join(DEPLOY.format(name=n, ns=NS, replicas=r, app=a, version=v)
                        for n, r, a, v in [("web-v1", 2, "web", "v1"), ("web-v2", 2, "web", "v2"),
                                           ("client", 1, "client", "v1")])
    cluster.kubectl("apply", "-f", "-", input=manifests + MESH)
    for d in ("web-v1", "web-v2", "client"):
        cluster.kubectl("rollout", "status", f"deployment/{d}", "-n", NS, "--timeout=60s")
    client_ip = str(pods(cluster, "app=client")[0]["status"]["podIP"])  # type: ignore[index]
    # the mesh has the route once a request through the client's proxy gets a backend's 200
    cluster.wait_for(lambda: get_once(client_ip) == 200, timeout=20,
                     what="the route through the client pod's proxy")
    before = served(cluster)

    stop = threading.Event()
    loads = [Load(client_ip, RATE / 2, True, stop), Load(client_ip, RATE / 2, False, stop)]
    threads = [threading.Thread(target=ld.run, daemon=True) for ld in loads]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        old = {str(p["metadata"]["name"]): str(p["status"]["podIP"])  # type: ignore[index]
               for p in pods(cluster, "app=web")}
        for i in range(CHANGES + 1):  # the last one (50/50) lets the new pods of both serve
            w1, w2 = weights(i) if i < CHANGES else (50, 50)
            patch = {"spec": {"http": [{"route": [
                {"destination": {"host": "web", "subset": "v1"}, "weight": w1},
                {"destination": {"host": "web", "subset": "v2"}, "weight": w2}]}]}}
            cluster.kubectl("patch", "virtualservice", "web", "-n", NS, "--type", "merge",
                            "-p", json.dumps(patch))
            time.sleep(PAUSE)
            if i == CHANGES // 5:
                cluster.kubectl("rollout", "restart", "deployment/web-v1", "deployment/web-v2",
                                "-n", NS)
        for d in ("web-v1", "web-v2"):
            cluster.kubectl("rollout", "status", f"deployment/{d}", "-n", NS, "--timeout=60s")
        new: dict[str, str] = {}

        def replaced() -> bool:
            new.clear()
            new.update({str(p["metadata"]["name"]): str(p["status"]["podIP"])  # type: ignore
                        for p in pods(cluster, "app=web")})
            return not set(old) & set(new)
        cluster.wait_for(replaced, timeout=20, what="the old pods to be gone")
        time.sleep(2.0)  # traffic on the final configuration, to every new pod
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    elapsed = time.monotonic() - t0
    total: Counter[str] = Counter()
    for ld in loads:
        total.update(ld.statuses)
    errors = [e for ld in loads for e in ld.errors]
    print(f"\n{sum(total.values())} requests in {elapsed:.1f}s during {CHANGES} weight changes "
          f"and a rolling restart: {dict(total)}")
    for e in errors[:20]:
        print("  ", e)
    assert sum(total.values()) >= 0.5 * RATE * min(elapsed, MAX_LOAD_SECONDS), total
    assert not errors, f"{len(errors)} mesh-caused errors: {dict(total)}; first: {errors[:5]}"
    assert set(total) == {"200"}, total
    # the access log reaches its file within ~200 ms
    time.sleep(0.5)
    log = served(cluster)
    new_bad = [b for b in log.bad if b not in before.bad]
    print(f"access log: {log.lines} lines from {NS}, {len(new_bad)} with 503; served by "
          f"{sorted(log.clusters)}")
    assert log.lines >= sum(total.values()), (log.lines, sum(total.values()))
    assert not new_bad, new_bad[:5]
    # the churn was real: both subsets served, and so did the old pods and their replacements
    assert {f"outbound|80|{v}|{HOST}" for v in ("v1", "v2")} <= log.clusters, log.clusters
    assert set(old.values()) <= log.hosts and set(new.values()) <= log.hosts, (old, new)
