"""Object builders and the lab's seed scenario for mesh tests (addresses in 127.77.0.0/16)."""

from __future__ import annotations

from collections.abc import Mapping

from turnout.mesh import simulate
from turnout.mesh import snapshot as sn
from turnout.mesh.translate import EnvoyConfig
from turnout.types import Obj


def namespace(name: str, injected: bool = False) -> Obj:
    labels = {"istio-injection": "enabled"} if injected else {}
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def service(name: str, ns: str, ip: str, ports: list[Obj], selector: Mapping[str, str],
            kind: str = "ClusterIP") -> Obj:
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"type": kind, "clusterIP": ip, "selector": dict(selector), "ports": ports}}


def pod(name: str, ns: str, ip: str, labels: Mapping[str, str], ready: bool = True,
        ports: list[Obj] | None = None, annotations: Mapping[str, str] | None = None) -> Obj:
    return {"kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels),
                         "annotations": dict(annotations or {})},
            "spec": {"containers": [{"name": "app", "ports": ports or []}]},
            "status": {"podIP": ip, "phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


ADS_LABELS = {"service": "advertisements", "app": "ecommerce"}

SEED_DR: Obj = {
    "apiVersion": "networking.istio.io/v1alpha3", "kind": "DestinationRule",
    "metadata": {"name": "ads", "namespace": "ns3"},
    "spec": {"host": "advertisements",
             "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                         {"name": "v2", "labels": {"version": "v2"}}]},
}

SEED_VS: Obj = {
    "apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
    "metadata": {"name": "ads-vs", "namespace": "ns3"},
    "spec": {"hosts": ["advertisements"], "http": [
        {"match": [{"headers": {"page-source": {"exact": "products"}}}],
         "route": [{"destination": {"host": "advertisements", "subset": "v1"}, "weight": 50},
                   {"destination": {"host": "advertisements", "subset": "v2"}, "weight": 50}]},
        {"route": [{"destination": {"host": "advertisements", "subset": "v1"}}]},
    ]},
}

GATEWAY: Obj = {
    "kind": "Gateway", "metadata": {"name": "frontend-gateway", "namespace": "ns3"},
    "spec": {"selector": {"istio": "ingressgateway"},
             "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                          "hosts": ["*"]}]},
}

GATEWAY_VS: Obj = {
    "kind": "VirtualService", "metadata": {"name": "frontend", "namespace": "ns3"},
    "spec": {"hosts": ["*"], "gateways": ["frontend-gateway"],
             "http": [{"match": [{"uri": {"prefix": "/"}}],
                       "route": [{"destination": {"host": "frontend",
                                                  "port": {"number": 80}}}]}]},
}


def seed_objects() -> list[Obj]:
    """ns3 of the lab's Istio scenario: ads v1 + v2, frontend, the DR and VS of the seed."""
    return [
        namespace("ns3", injected=True),
        service("advertisements", "ns3", "127.77.200.2",
                [{"port": 5002, "protocol": "TCP", "targetPort": 5002}], ADS_LABELS),
        service("frontend", "ns3", "127.77.200.3",
                [{"port": 80, "protocol": "TCP", "targetPort": 3000, "name": "http"}],
                {"service": "frontend", "app": "ecommerce"}),
        pod("advertisements-v1", "ns3", "127.77.2.1", {**ADS_LABELS, "version": "v1"}),
        pod("advertisements2-v2", "ns3", "127.77.2.2", {**ADS_LABELS, "version": "v2"}),
        pod("frontend-1", "ns3", "127.77.2.10", {"service": "frontend", "app": "ecommerce"}),
        SEED_DR, SEED_VS,
    ]


def send(config: EnvoyConfig, from_ip: str, url: str, headers: Mapping[str, str] | None = None,
         port: int = 15001) -> simulate.Outcome:
    """Simulate an HTTP proxy request `GET url` from the pod at `from_ip`."""
    rest = url.split("://", 1)[-1]
    authority, _, path = rest.partition("/")
    return simulate.simulate(config, from_ip, port,
                             simulate.Request(authority, "/" + path, "GET", dict(headers or {})))


def snap(objs: list[Obj], settings: sn.MeshSettings | None = None) -> sn.Snapshot:
    return sn.from_objects(objs, settings)
