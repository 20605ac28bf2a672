"""The API server as both kubectls see it: `get -w` through a quiet period, server-side apply
with managers and conflicts, `kubectl diff`."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from tests.conftest import RunningCluster, kubectl_binaries

pytestmark = pytest.mark.cluster

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ssa
  namespace: ssa
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: ssa}}
  template:
    metadata:
      labels: {{app: ssa}}
    spec:
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "sleep 3600"]
"""


def test_get_watch_stays_open_through_15_quiet_seconds_then_shows_a_change(
        cluster: RunningCluster) -> None:
    cluster.kubectl("create", "namespace", "quiet")
    procs = [subprocess.Popen([b, "get", "configmaps", "-n", "quiet", "-w"], env=cluster.env(),
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for b in kubectl_binaries()]
    seen = {id(p): "" for p in procs}

    def read(p: subprocess.Popen[str]) -> None:
        assert p.stdout is not None
        for line in p.stdout:
            seen[id(p)] += line

    readers = [threading.Thread(target=read, args=(p,), daemon=True) for p in procs]
    for t in readers:
        t.start()
    try:
        cluster.wait_for(lambda: all("kube-root-ca.crt" in s for s in seen.values()),
                         what="the initial list")
        start = time.monotonic()
        for p in procs:  # the watch must outlive 15 idle seconds (it used to end at 10)
            left = 15 - (time.monotonic() - start)
            with pytest.raises(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, left))
        cluster.kubectl("create", "configmap", "later", "-n", "quiet", "--from-literal=a=b")
        cluster.wait_for(lambda: all("later" in s for s in seen.values()), timeout=15,
                         what="the change on every kubectl")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


@pytest.mark.parametrize("binary", kubectl_binaries())
def test_server_side_apply_conflict_force_and_diff(cluster: RunningCluster, binary: str,
                                                   tmp_path: object) -> None:
    k = cluster.kubectl
    k("create", "namespace", "ssa", check=False)
    k("delete", "deployment", "ssa", "-n", "ssa", "--ignore-not-found", binary=binary)
    k("apply", "--server-side", "--field-manager=alice", "-f", "-", binary=binary,
      input=DEPLOY.format(replicas=1))
    got = k("get", "deploy", "ssa", "-n", "ssa", "-o", "yaml", "--show-managed-fields",
            binary=binary).stdout
    assert "manager: alice" in got and "operation: Apply" in got and "f:replicas" in got
    r = k("apply", "--server-side", "-f", "-", binary=binary, check=False,
          input=DEPLOY.format(replicas=3))
    assert r.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas' in r.stderr
    d = k("diff", "--server-side", "--force-conflicts", "-f", "-", binary=binary, check=False,
          input=DEPLOY.format(replicas=3))
    assert d.returncode == 1, d.stderr  # 1 = differences found
    assert "-  replicas: 1" in d.stdout and "+  replicas: 3" in d.stdout
    assert k("get", "deploy", "ssa", "-n", "ssa", "-o", "jsonpath={.spec.replicas}",
             binary=binary).stdout == "1"
    k("apply", "--server-side", "--force-conflicts", "-f", "-", binary=binary,
      input=DEPLOY.format(replicas=3))
    assert k("get", "deploy", "ssa", "-n", "ssa", "-o", "jsonpath={.spec.replicas}",
             binary=binary).stdout == "3"
    same = k("diff", "-f", "-", binary=binary, check=False, input=DEPLOY.format(replicas=3))
    assert same.returncode == 0, same.stdout + same.stderr
