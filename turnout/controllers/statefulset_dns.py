"""Per-pod DNS names behind headless Services (pure, no I/O).

Cluster DNS gives a pod whose `spec.hostname` and `spec.subdomain` are set, and whose subdomain
names a headless Service (`clusterIP: None`) in its namespace that selects it, the name
`<hostname>.<subdomain>.<namespace>.svc.<domain>` (a StatefulSet sets both: `web-0`, `nginx`).
The headless Service's own name answers with every endpoint. Endpoints are the ready pods, or
every pod with an address when the Service sets `publishNotReadyAddresses` (as for the per-pod
names, which exist only for endpoints). A name with several addresses holds them separated by
spaces (`turnout.netshim.addresses`), sorted by pod name (`web-0` first).

HTTP to these names goes through the pod's proxy, which routes them the same way
(`turnout.mesh.translate.headless`).
"""

from __future__ import annotations

from collections.abc import Iterable

from turnout.controllers.workloads import pod_ready
from turnout.types import Obj


def _forms(name: str, ns: str, domain: str) -> tuple[str, str, str]:
    return (f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{domain}")


def _selects(svc: Obj, pod: Obj) -> bool:
    selector = (svc.get("spec") or {}).get("selector") or {}
    labels = pod["metadata"].get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _endpoint(svc: Obj, pod: Obj) -> bool:
    return _selects(svc, pod) and (pod_ready(pod) or bool(
        (svc.get("spec") or {}).get("publishNotReadyAddresses")))


def pod_hosts(services: Iterable[Obj], pods: Iterable[Obj],
              domain: str = "cluster.local") -> dict[str, str]:
    """Host name → pod IPs (space-separated) for pods behind headless Services, in every form."""
    headless = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services
                if (s.get("spec") or {}).get("clusterIP") == "None"}
    out: dict[str, list[str]] = {}
    live = sorted((p for p in pods if (p.get("status") or {}).get("podIP")
                   and not p["metadata"].get("deletionTimestamp")),
                  key=lambda p: str(p["metadata"]["name"]))
    for pod in live:
        ns, ip = pod["metadata"]["namespace"], pod["status"]["podIP"]
        spec = pod.get("spec") or {}
        hostname, sub = spec.get("hostname"), spec.get("subdomain")
        svc = headless.get((ns, str(sub)))
        if hostname and svc is not None and _endpoint(svc, pod):
            for form in _forms(f"{hostname}.{sub}", ns, domain):
                out.setdefault(form, []).append(ip)
    for (ns, name), svc in headless.items():
        ips = [p["status"]["podIP"] for p in live
               if p["metadata"]["namespace"] == ns and _endpoint(svc, p)]
        if ips:
            for form in _forms(name, ns, domain):
                out.setdefault(form, ips)
    return {name: " ".join(dict.fromkeys(ips)) for name, ips in out.items()}
