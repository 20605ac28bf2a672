"""Acceptance through the real kubectl: the commands of the seeds, verbatim, on the lab's files."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import RunningCluster, kubectl_binaries

pytestmark = pytest.mark.cluster

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web, version: "{version}"}}
    spec:
      containers:
      - name: web
        image: python:3.11
        command: ["python", "-u", "-m", "http.server", "8080", "--bind", "$(POD_IP)"]
        env:
        - name: GREETING
          value: "{greeting}"
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {{path: /, port: 8080}}
          periodSeconds: 1
"""


def web(ns: str, replicas: int = 1, version: str = "v1", greeting: str = "hi") -> str:
    return WEB.format(ns=ns, replicas=replicas, version=version, greeting=greeting)


def test_version_is_public_and_everything_else_needs_the_token(cluster: RunningCluster) -> None:
    with urllib.request.urlopen(cluster.url + "/version", context=cluster.ssl) as r:
        assert json.load(r)["major"] == "1"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(cluster.url + "/api/v1/namespaces", context=cluster.ssl)
    assert e.value.code == 401
    body = json.loads(e.value.read())
    assert body["kind"] == "Status" and body["reason"] == "Unauthorized"


@pytest.mark.parametrize("binary", kubectl_binaries())
def test_both_kubectls_list_system_namespaces(cluster: RunningCluster, binary: str) -> None:
    out = cluster.kubectl("get", "namespaces", binary=binary).stdout
    assert out.split("\n")[0].split() == ["NAME", "STATUS", "AGE"]
    for ns in ("default", "kube-system", "istio-system", "ingress-nginx"):
        assert ns in out


def test_lab_ecommerce_v1_applies_and_lists_like_a_real_cluster(cluster: RunningCluster,
                                                                  lab: Path) -> None:
    cluster.kubectl("create", "namespace", "ns1")
    r = cluster.kubectl("apply", "-f", str(lab / "ecommerce-v1") + "/")
    for line in ("secret/db-password created", "service/advertisements created",
                 "deployment.apps/advertisements created", "deployment.apps/frontend created"):
        assert line in r.stdout
    # the Secret whose data is the literal word "password": valid base64, stored as sent
    sec = json.loads(cluster.kubectl("get", "secret", "db-password", "-n", "ns1",
                                     "-o", "json").stdout)
    assert sec["data"]["pw"] == "password"
    cluster.kubectl("apply", "-f", str(lab / "servicenetwork" / "advertisements.yaml"))
    for binary in kubectl_binaries():
        out = cluster.kubectl("get", "deployments", "-n", "ns1", "-l", "service=advertisements",
                              "--show-labels", binary=binary).stdout
        lines = out.strip().splitlines()
        assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "LABELS"]
        names = sorted(line.split()[0] for line in lines[1:])
        assert names == ["advertisements", "advertisements2"]
        assert all(line.split()[-1] == "app=ecommerce,service=advertisements"
                   for line in lines[1:])
        svc = cluster.kubectl("get", "svc", "advertisements", "-n", "ns1", "-o",
                              "custom-columns=Name:metadata.name,Selector:spec.selector",
                              binary=binary).stdout
        assert svc.split() == ["Name", "Selector", "advertisements",
                               "map[app:ecommerce", "service:advertisements]"]
    cluster.wait_for(lambda: len(cluster.kubectl(
        "get", "pods", "-n", "ns1", "-l", "service=advertisements", "--no-headers").stdout
        .strip().splitlines()) == 2, what="two advertisements pods")
    pods = cluster.kubectl("get", "pods", "-n", "ns1", "-l", "service=advertisements",
                           "--show-labels").stdout
    assert pods.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE",
                                            "LABELS"]
    assert all("app=ecommerce" in line and "pod-template-hash=" in line
               for line in pods.splitlines()[1:])
    cluster.kubectl("delete", "-f", str(lab / "servicenetwork" / "advertisements.yaml"))
    out = cluster.kubectl("get", "deployments", "-n", "ns1", "-l",
                          "service=advertisements").stdout
    assert "advertisements2" not in out


def test_database_pv_and_pvc_bind_like_a_real_cluster(cluster: RunningCluster,
                                                      lab: Path) -> None:
    cluster.kubectl("create", "namespace", "database")
    out = cluster.kubectl("apply", "-n", "database", "-f",
                          str(lab / "database" / "db.yaml")).stdout
    assert "persistentvolume/task-pv-volume created" in out
    assert "serviceaccount/postgres created" in out
    cluster.wait_for(lambda: "Bound" in cluster.kubectl("get", "pvc", "-n", "database").stdout,
                     what="the claim to bind")
    pvc = cluster.kubectl("get", "pvc", "-n", "database").stdout.splitlines()
    assert pvc[0].split()[:6] == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES"]
    assert pvc[1].split()[:5] == ["task-pvc-volume", "Bound", "task-pv-volume", "5Gi", "RWO"]
    pv = cluster.kubectl("get", "pv").stdout.splitlines()[1].split()
    assert pv[:5] == ["task-pv-volume", "5Gi", "RWO", "Retain", "Bound"]
    assert pv[5] == "database/task-pvc-volume"


def test_istio_lab_files_apply(cluster: RunningCluster, lab: Path) -> None:
    cluster.kubectl("create", "namespace", "ns3")
    cluster.kubectl("apply", "-f", str(lab / "istio" / "ecommerce-istio") + "/")
    cluster.kubectl("label", "namespace", "ns3", "istio-injection=enabled")
    assert "istio-injection=enabled" in cluster.kubectl("get", "ns", "ns3",
                                                        "--show-labels").stdout
    cluster.kubectl("apply", "-f", str(lab / "istio" / "frontend-gateway.yaml"))
    for f in ("advertisements_v2.yaml", "destinationrule.yaml", "virtualservice.yaml"):
        cluster.kubectl("apply", "-f", str(lab / "istio" / "ads_v2" / f))
    cols = 'custom-columns=NAME:.metadata.name,CONTAINERS:.spec.containers[*].image'
    out = cluster.kubectl("get", "pods", "-n", "ns3", "-o", cols).stdout
    assert "arapulido/ads-service:2.0" in out and out.split()[:2] == ["NAME", "CONTAINERS"]
    vs = cluster.kubectl("get", "virtualservices", "-n", "ns3").stdout
    assert vs.splitlines()[0].split() == ["NAME", "GATEWAYS", "HOSTS", "AGE"]
    assert "ads-vs" in vs
    dr = json.loads(cluster.kubectl("get", "dr", "ads", "-n", "ns3", "-o", "json").stdout)
    assert [s["name"] for s in dr["spec"]["subsets"]] == ["v1", "v2"]
    # served in the preferred version, as a cluster with Istio >= 1.22 does
    assert dr["apiVersion"] == "networking.istio.io/v1"


def test_rollout_status_logs_describe_events_and_in_place_reapply(cluster: RunningCluster,
                                                                   tmp_path: Path) -> None:
    cluster.kubectl("create", "namespace", "apps")
    f = tmp_path / "web.yaml"
    f.write_text(web("apps", replicas=2))
    cluster.kubectl("apply", "-f", str(f))
    r = cluster.kubectl("rollout", "status", "deployment/web", "-n", "apps", "--timeout=60s")
    assert 'deployment "web" successfully rolled out' in r.stdout
    running = cluster.kubectl("get", "pods", "-n", "apps",
                              "--field-selector=status.phase=Running", "--no-headers").stdout
    assert len(running.strip().splitlines()) == 2
    assert all(" 1/1 " in f" {line} " for line in running.strip().splitlines())
    pod = running.split()[0]
    # the server answers on the pod's own address; its access log becomes the pod log
    ip = json.loads(cluster.kubectl("get", "pod", pod, "-n", "apps", "-o", "json").stdout)[
        "status"]["podIP"]
    assert ip.startswith("127.") and ip != "127.0.0.1"
    urllib.request.urlopen(f"http://{ip}:8080/?hello-log", timeout=5).read()
    cluster.wait_for(lambda: "hello-log" in cluster.kubectl("logs", pod, "-n", "apps").stdout,
                     what="request in the pod log")
    desc = cluster.kubectl("describe", "pod", pod, "-n", "apps").stdout
    assert "Readiness:" in desc and "Scheduled" in desc and "IP:" in desc
    events = cluster.kubectl("get", "events", "-n", "apps").stdout
    assert "ScalingReplicaSet" in events and "SuccessfulCreate" in events
    # re-apply a changed Deployment: updated in place by a strategic merge patch
    f.write_text(web("apps", replicas=2, greeting="hello"))
    assert "deployment.apps/web configured" in cluster.kubectl("apply", "-f", str(f)).stdout
    cluster.kubectl("rollout", "status", "deployment/web", "-n", "apps", "--timeout=90s")
    d = json.loads(cluster.kubectl("get", "deploy", "web", "-n", "apps", "-o", "json").stdout)
    env = d["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "GREETING", "value": "hello"}]
    assert d["metadata"]["generation"] == 2
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    rs = cluster.kubectl("get", "rs", "-n", "apps", "--no-headers").stdout.strip().splitlines()
    assert len(rs) == 2 and sorted(line.split()[1] for line in rs) == ["0", "2"]


def test_get_watch_streams_changes(cluster: RunningCluster) -> None:
    cluster.kubectl("create", "namespace", "watched")
    proc = subprocess.Popen([cluster.kubectl_bin, "get", "configmaps", "-n", "watched", "-w",
                             "--request-timeout=20s"], env=cluster.env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        cluster.kubectl("create", "configmap", "later", "-n", "watched", "--from-literal=a=b")
        deadline = time.monotonic() + 15
        seen = ""
        assert proc.stdout is not None
        while time.monotonic() < deadline and "later" not in seen:
            seen += proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "kube-root-ca.crt" in seen and "later" in seen


def test_bad_input_gets_real_server_errors_and_changes_nothing(cluster: RunningCluster,
                                                               tmp_path: Path) -> None:
    cluster.kubectl("create", "namespace", "bad")
    before = cluster.kubectl("get", "all", "-n", "bad", "-o", "name").stdout
    bad_yaml = tmp_path / "broken.yaml"
    bad_yaml.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  bad: [\n")
    r = cluster.kubectl("apply", "-f", str(bad_yaml), check=False)
    assert r.returncode != 0 and "broken.yaml" in r.stderr
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("apiVersion: v1\nkind: Frobnicator\nmetadata:\n  name: x\n"
                       "  namespace: bad\n")
    r = cluster.kubectl("apply", "-f", str(unknown), check=False)
    assert r.returncode != 0 and 'no matches for kind "Frobnicator"' in r.stderr
    missing = tmp_path / "missing.yaml"
    missing.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nosel\n"
                       "  namespace: bad\nspec:\n  template:\n    metadata:\n      labels: "
                       "{a: b}\n    spec:\n      containers: [{name: c, image: busybox}]\n")
    r = cluster.kubectl("apply", "-f", str(missing), check=False)
    assert r.returncode != 0 and "spec.selector: Required value" in r.stderr
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(web("bad").replace("replicas: 1", 'replicas: "two"'))
    r = cluster.kubectl("apply", "-f", str(wrong), check=False)
    assert r.returncode != 0 and "replicas" in r.stderr
    r = cluster.kubectl("get", "pods", "-n", "bad", "-l", "a in (", check=False)
    assert r.returncode != 0 and "unable to parse requirement" in r.stderr
    assert cluster.kubectl("get", "all", "-n", "bad", "-o", "name").stdout == before
    # stale resourceVersion → 409 Conflict
    cluster.kubectl("create", "configmap", "cc", "-n", "bad", "--from-literal=a=1")
    cm = json.loads(cluster.kubectl("get", "cm", "cc", "-n", "bad", "-o", "json").stdout)
    cluster.kubectl("create", "configmap", "cc", "-n", "bad", "--from-literal=a=2",
                    "--dry-run=client", "-o", "yaml")
    cm["data"]["a"] = "changed"
    stale = dict(cm)
    cluster.kubectl("label", "cm", "cc", "-n", "bad", "x=y")
    r = cluster.kubectl("replace", "-f", "-", input=json.dumps(stale), check=False)
    assert r.returncode != 0 and "Conflict" in r.stderr and "has been modified" in r.stderr
    after = json.loads(cluster.kubectl("get", "cm", "cc", "-n", "bad", "-o", "json").stdout)
    assert after["data"]["a"] == "1"


def test_killed_pod_restarts_and_crashing_one_backs_off(cluster: RunningCluster,
                                                        tmp_path: Path) -> None:
    import os
    import signal
    cluster.kubectl("create", "namespace", "crash")
    f = tmp_path / "web.yaml"
    f.write_text(web("crash"))
    cluster.kubectl("apply", "-f", str(f))
    cluster.kubectl("rollout", "status", "deployment/web", "-n", "crash", "--timeout=60s")
    pod = json.loads(cluster.kubectl("get", "pods", "-n", "crash", "-o", "json").stdout)[
        "items"][0]
    cid = pod["status"]["containerStatuses"][0]["containerID"]
    pid = int(cid.rsplit("/", 1)[-1])
    os.kill(pid, signal.SIGKILL)
    name = pod["metadata"]["name"]

    def restarted() -> bool:
        p = json.loads(cluster.kubectl("get", "pod", name, "-n", "crash", "-o", "json").stdout)
        cs = p["status"]["containerStatuses"][0]
        return bool(cs["restartCount"] >= 1 and cs.get("ready"))
    cluster.wait_for(restarted, timeout=30, what="restart after kill -9")
    line = cluster.kubectl("get", "pod", name, "-n", "crash", "--no-headers").stdout.split()
    assert line[1] == "1/1" and line[3] == "1"
    cluster.kubectl("run", "dies", "-n", "crash", "--image=busybox", "--restart=Always",
                    "--", "sh", "-c", "exit 3")

    def crashloop() -> str:
        out = cluster.kubectl("get", "pod", "dies", "-n", "crash", "--no-headers").stdout
        return out if "CrashLoopBackOff" in out and int(out.split()[3]) >= 2 else ""
    cluster.wait_for(crashloop, timeout=40, what="CrashLoopBackOff")
    p = json.loads(cluster.kubectl("get", "pod", "dies", "-n", "crash", "-o", "json").stdout)
    cs = p["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert "back-off" in cs["state"]["waiting"]["message"]
