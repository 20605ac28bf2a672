"""Service names for non-HTTP clients in pods (a database by `db.database.svc.cluster.local`).

HTTP between pods goes through each pod's proxy, which resolves Service names itself. A plain TCP
client (a PostgreSQL driver) resolves the name with `getaddrinfo`, and there is no cluster DNS on
one machine. turnout keeps a hosts map (Service name forms → ClusterIP, where Envoy listens) in the
state directory. The kubelet renders it into each pod's `/etc/hosts` (:mod:`.etchosts`), bound in
the pod's private mount namespace, so every program resolves the names. Where there are no mount
namespaces, Python processes in pods still load `sitecustomize` from `shim/`, which consults the
map before the system resolver (see README, "Pod networking").
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from turnout.types import Obj

SHIM_DIR = Path(__file__).resolve().parent / "shim"
HOSTS_ENV = "TURNOUT_HOSTS"
NAMESPACE_ENV = "TURNOUT_NAMESPACE"


def addresses(value: str) -> list[str]:
    """The addresses of one hosts-map entry: a headless Service's name answers with every
    ready pod, as cluster DNS does, so a value may hold several, separated by spaces."""
    return value.split()


def hosts_map(services: Iterable[Obj], domain: str = "cluster.local") -> dict[str, str]:
    """Every fully qualified name form of every Service with a ClusterIP (pure).

    Values are addresses separated by spaces (see :func:`addresses`); one here, several for the
    headless Services of :mod:`turnout.controllers.statefulset_dns`.
    """
    out: dict[str, str] = {}
    for svc in services:
        ip = (svc.get("spec") or {}).get("clusterIP")
        if not ip or ip == "None":
            continue
        name, ns = svc["metadata"]["name"], svc["metadata"]["namespace"]
        for form in (f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{domain}"):
            out[form] = ip
    return out


def write_hosts(path: Path, hosts: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(hosts, sort_keys=True))
    os.replace(tmp, path)


def resolve_in_process(hosts_file: Path) -> None:
    """Let this process (the cluster's own controllers) resolve Service names like a pod does.

    An AnalysisRun's `prometheus` provider asks `http://prometheus.istio-system:9090`, as on a
    real cluster; the name maps to the Service's ClusterIP, where Envoy listens.
    """
    if "turnout_netshim_resolver" in sys.modules:
        return
    os.environ[HOSTS_ENV] = str(hosts_file)
    # the pods' shim itself, loaded under its own name: it patches socket.getaddrinfo on load
    spec = importlib.util.spec_from_file_location("turnout_netshim_resolver",
                                                  SHIM_DIR / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["turnout_netshim_resolver"] = module
    spec.loader.exec_module(module)


def pod_env(hosts_file: Path, namespace: str) -> dict[str, str]:
    current = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": str(SHIM_DIR) + (os.pathsep + current if current else ""),
        HOSTS_ENV: str(hosts_file),
        NAMESPACE_ENV: namespace,
    }
