"""Objects every cluster starts with, as on a fresh kubeadm/kind cluster plus the lab's add-ons.

Idempotent: run on every `up`; never overwrites what a user changed.
"""

from __future__ import annotations

from turnout.kube import errors, provisioning
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "istio-system",
                     "ingress-nginx")
NODE_NAME = "turnout"
GATEWAY_NODEPORT = 30003
NGINX_NODEPORT = 32000


SC = "storageclasses.storage.k8s.io"


def node(host_ip: str = "127.0.0.1") -> Obj:
    ts = now_iso()
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": {
            "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux",
            "node-role.kubernetes.io/control-plane": "", "beta.kubernetes.io/os": "linux"}},
        "spec": {},
        "status": {
            "addresses": [{"type": "InternalIP", "address": host_ip},
                          {"type": "Hostname", "address": NODE_NAME}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "turnout kubelet is posting ready status",
                            "lastHeartbeatTime": ts, "lastTransitionTime": ts}],
            "nodeInfo": {"kubeletVersion": "v1.32.0-turnout", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "turnout://local",
                         "kernelVersion": "", "osImage": "turnout", "kubeProxyVersion": "",
                         "machineID": "", "systemUUID": "", "bootID": ""},
            "capacity": {"cpu": "2", "memory": "24Gi", "pods": "250"},
            "allocatable": {"cpu": "2", "memory": "24Gi", "pods": "250"},
        },
    }


def _svc(ns: str, name: str, labels: dict[str, str], ports: list[Obj], type_: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"type": type_, "ports": ports}}


def addon_services() -> list[Obj]:
    return [
        _svc("default", "kubernetes", {"component": "apiserver", "provider": "kubernetes"},
             [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
             "ClusterIP"),
        _svc("istio-system", "istio-ingressgateway",
             {"app": "istio-ingressgateway", "istio": "ingressgateway"},
             [{"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 8080,
               "nodePort": GATEWAY_NODEPORT}], "NodePort"),
        _svc("ingress-nginx", "ingress-nginx-controller",
             {"app.kubernetes.io/name": "ingress-nginx",
              "app.kubernetes.io/component": "controller"},
             [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http",
               "nodePort": NGINX_NODEPORT, "appProtocol": "http"}], "NodePort"),
    ]


def bootstrap(objects: Objects, host_ip: str = "127.0.0.1") -> None:
    reg = objects.registry
    ns_rt, node_rt, svc_rt = reg.by_key("namespaces"), reg.by_key("nodes"), reg.by_key("services")
    assert ns_rt and node_rt and svc_rt
    for name in SYSTEM_NAMESPACES:
        if objects.store.peek("namespaces", "", name) is None:
            objects.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": name}})
    current = objects.store.get("nodes", "", NODE_NAME)
    fresh = node(host_ip)
    if current is None:
        objects.create(node_rt, "", fresh)
    else:
        current["status"] = fresh["status"]
        objects.store.update("nodes", current)
    sc_rt = reg.by_key(SC)
    assert sc_rt
    if objects.store.peek(SC, "", provisioning.DEFAULT_CLASS) is None:
        objects.create(sc_rt, "", provisioning.default_storage_class())
    for svc in addon_services():
        meta = svc["metadata"]
        if objects.store.peek("services", meta["namespace"], meta["name"]) is None:
            try:
                objects.create(svc_rt, meta["namespace"], svc)
            except errors.ApiError:
                pass
