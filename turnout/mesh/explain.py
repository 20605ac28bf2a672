"""`turnout mesh explain`: which rule a request from a pod matches, and where it can land.

Pure: translates the snapshot and simulates the request through the generated config (the same
tables Envoy serves), then names the VirtualService rule, each destination with its probability,
its Envoy cluster and the endpoints behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from turnout.mesh import simulate
from turnout.mesh import snapshot as sn
from turnout.mesh.translate import EnvoyConfig, naming, routes, translate
from turnout.mesh.translate.registry import Registry
from turnout.types import Obj

SYNTHETIC_IP = "127.255.255.254"


@dataclass(frozen=True)
class Explanation:
    source: str
    """`<ns>/<pod>` (or `<ns>/(any pod)`)."""
    in_mesh: bool
    url: str
    outcome: simulate.Outcome
    rule: str
    """Human description of the rule that matched."""
    notes: tuple[str, ...]

    def render(self) -> str:
        o = self.outcome
        mode = "Istio (in the mesh)" if self.in_mesh else "kube-proxy (not in the mesh)"
        lines = [f"request  {self.url}", f"from     {self.source}, {mode}",
                 f"route    {o.route_name or '-'} in table {o.route_config or '-'}",
                 f"rule     {self.rule}"]
        for name, why in o.skipped:
            lines.append(f"skipped  {name}: {why}")
        if o.status is not None:
            lines.append(f"answer   {o.status} {o.flags} (from Envoy itself)")
        if o.fault_abort and o.status is None:
            lines.append(f"fault    abort {o.fault_abort[0]} with probability "
                         f"{o.fault_abort[1]:.0%}")
        for d in o.destinations:
            state = "" if d.exists else "  (cluster does not exist: 503 NC)"
            if d.exists and not d.endpoints:
                state = "  (no ready endpoints: 503 UH)"
            lines.append(f"dest     {d.probability:6.1%}  {d.cluster}{state}")
            lines += [f"           {e}" for e in d.endpoints]
        lines += [f"note     {n}" for n in self.notes]
        return "\n".join(lines)


def _describe(outcome: simulate.Outcome) -> str:
    name = outcome.route_name or ""
    parts = name.split("/")
    match = simulate.describe_match((outcome.route or {}).get("match", {}))
    if parts[0] == "vs" and len(parts) == 4:
        return f"VirtualService {parts[1]}/{parts[2]} http[{parts[3]}] matched: {match}"
    if parts[0] == "svc":
        return f"default route of Service {parts[1]}/{parts[2]} port {parts[3]}"
    if not name:
        return "no route matched"
    if name == naming.PASSTHROUGH_ROUTE:
        return "passthrough: the host is not a Service of the cluster"
    return f"{name}: {match}"


def explain(snap: sn.Snapshot, namespace: str, from_pod: str | None, url: str,
            headers: Mapping[str, str] | None = None, method: str = "GET") -> Explanation:
    """Explain `method url` sent by pod `from_pod` (or any pod) of `namespace`."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    if not parts.netloc:
        raise ValueError(f"url {url!r} has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    req = simulate.Request(parts.netloc, path, method, dict(headers or {}))
    pod = next((p for p in snap.pods if sn.namespace_of(p) == namespace
                and sn.name_of(p) == from_pod), None) if from_pod else None
    if from_pod and pod is None:
        raise ValueError(f'pod "{from_pod}" not found in namespace "{namespace}"')
    config = translate(snap)
    reg = Registry(snap)
    notes = []
    if pod is None or not sn.pod_ip(pod):
        pod = {"metadata": {"name": "(any pod)", "namespace": namespace, "labels": {}},
               "status": {"podIP": SYNTHETIC_IP}}
        config = _with_table(config, reg, pod, snap.settings.outbound_port)
    mesh = reg.in_mesh(pod)
    if not mesh:
        notes.append(f"namespace {namespace} is not in the mesh (label istio-injection=enabled"
                     " missing or the pod opted out): VirtualServices and DestinationRules are"
                     " ignored, requests spread at random over ready endpoints")
    outcome = simulate.simulate(config, sn.pod_ip(pod), snap.settings.outbound_port, req)
    if outcome.route_name == naming.PASSTHROUGH_ROUTE:
        notes.append(f"no Service answers to {parts.netloc} from namespace {namespace} "
                     "(short names only work within the caller's namespace): the request is "
                     "passed through to that host as addressed (DNS), outside the mesh rules")
    return Explanation(f"{namespace}/{sn.name_of(pod)}", mesh, url, outcome, _describe(outcome),
                       tuple(notes))


def _with_table(config: EnvoyConfig, reg: Registry, pod: Obj, port: int) -> EnvoyConfig:
    from turnout.mesh.translate import listeners

    table = routes.pod_table(reg, pod)
    lis = {"name": "explain", "address": {"socket_address": {"address": sn.pod_ip(pod),
                                                             "port_value": port}},
           "filter_chains": [{"filters": [listeners.hcm(table["name"], "explain", [])]}]}
    return replace(config, listeners={**config.listeners, "explain": lis},
                   routes={**config.routes, table["name"]: table})
