"""`istioctl analyze`-style findings over a snapshot (pure), with Istio's codes and wording.

IST0101 referenced host/subset/gateway not found, IST0102 namespace not injected, IST0130 rule
unreachable after a catch-all, IST0131 duplicate match, IST0173 subset selects no pods, IST0174
DestinationRule host matches no service; turnout's own TNT0001 object left out of Envoy's
configuration (its status says why), TNT0002 object too broken to analyze.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from turnout.mesh import snapshot as sn
from turnout.mesh.translate.registry import Registry
from turnout.types import Obj

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "istio-system",
                               "ingress-nginx", "local-path-storage"})


@dataclass(frozen=True)
class Finding:
    code: str
    level: str
    """Error | Warning | Info"""
    kind: str
    namespace: str
    name: str
    message: str
    field: str = ""

    def render(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.level} [{self.code}] ({self.kind} {where}) {self.message}"


def _f(code: str, level: str, obj: Obj, kind: str, message: str, field: str = "") -> Finding:
    return Finding(code, level, kind, sn.namespace_of(obj), sn.name_of(obj), message, field)


def _known_hosts(snap: sn.Snapshot) -> set[str]:
    return {str(h).lower() for se in snap.service_entries
            for h in (se.get("spec") or {}).get("hosts") or []}


def _virtual_service(reg: Registry, vs: Obj, gateways: set[str], extra: set[str]) -> list[Finding]:
    out = []
    ns = sn.namespace_of(vs)
    spec = vs.get("spec") or {}
    for gw in spec.get("gateways") or []:
        full = gw if "/" in gw else f"{ns}/{gw}"
        if gw != "mesh" and full not in gateways:
            out.append(_f("IST0101", "Error", vs, "VirtualService",
                          f'Referenced gateway not found: "{gw}"', "spec.gateways"))
    seen_catch_all = None
    matches_seen: dict[str, int] = {}
    for i, rule in enumerate(spec.get("http") or []):
        path = f"spec.http[{i}]"
        if seen_catch_all is not None:
            out.append(_f("IST0130", "Error", vs, "VirtualService",
                          f"VirtualService rule #{i} not used (only the last rule can have no "
                          f"matches)", path))
        if not rule.get("match"):
            seen_catch_all = i
        for m in rule.get("match") or []:
            key = repr(sorted(m.items()))
            if key in matches_seen:
                out.append(_f("IST0131", "Info", vs, "VirtualService",
                              f"VirtualService rule #{i} match is the same as rule "
                              f"#{matches_seen[key]}, so it is never used", path))
            matches_seen.setdefault(key, i)
        dests = [(f"{path}.route[{j}].destination", d.get("destination") or {})
                 for j, d in enumerate(rule.get("route") or [])]
        if isinstance(rule.get("mirror"), dict):
            dests.append((f"{path}.mirror", rule["mirror"]))
        for field, d in dests:
            host = reg.qualify(str(d.get("host") or ""), ns)
            if host not in reg.services and str(d.get("host") or "").lower() not in extra:
                out.append(_f("IST0101", "Error", vs, "VirtualService",
                              f'Referenced host not found: "{d.get("host")}"', field + ".host"))
                continue
            subset = d.get("subset")
            if subset and reg.subset_labels(host, str(subset)) is None:
                out.append(_f("IST0101", "Error", vs, "VirtualService",
                              f'Referenced host+subset in destinationrule not found: '
                              f'"{d.get("host")}+{subset}"', field + ".subset"))
    return out


def _destination_rule(reg: Registry, dr: Obj, extra: set[str]) -> list[Finding]:
    spec = dr.get("spec") or {}
    raw = str(spec.get("host") or "")
    host = reg.qualify(raw, sn.namespace_of(dr))
    svc = reg.services.get(host)
    if svc is None:
        if raw.lower() in extra or "*" in raw:
            return []
        return [_f("IST0174", "Warning", dr, "DestinationRule",
                   f'The host defined in the DestinationRule does not match any services in '
                   f'the mesh: "{raw}"', "spec.host")]
    out = []
    for i, s in enumerate(spec.get("subsets") or []):
        labels = {str(k): str(v) for k, v in (s.get("labels") or {}).items()}
        selected = [p for p in reg.snap.pods if sn.namespace_of(p) == svc.namespace
                    and sn.selects(svc.selector, sn.labels_of(p))
                    and all(sn.labels_of(p).get(k) == v for k, v in labels.items())]
        if not selected:
            out.append(_f("IST0173", "Warning", dr, "DestinationRule",
                          f'The Subset {s.get("name")} defined in the DestinationRule does not '
                          f'select any pods', f"spec.subsets[{i}]"))
    return out


LEFT_OUT = "TNT0001"
"""turnout's code: the mesh left the object out of Envoy's configuration (see its status)."""
UNREADABLE = "TNT0002"
"""turnout's code: the object's shape is too broken to analyze (translation leaves it out)."""
_ROUTING = (("virtual_services", "VirtualService"), ("destination_rules", "DestinationRule"),
            ("gateways", "Gateway"), ("service_entries", "ServiceEntry"),
            ("ingresses", "Ingress"))


def _guarded(check: Callable[[], list[Finding]], obj: Obj, kind: str) -> list[Finding]:
    """One object's findings; a shape the checks cannot read is itself a finding, so one
    broken object never hides the others'."""
    try:
        return check()
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as e:
        return [_f(UNREADABLE, "Error", obj, kind, f"cannot be analyzed: {type(e).__name__}: "
                                                   f"{e}")]


def _left_out(snap: sn.Snapshot) -> list[Finding]:
    """Objects the mesh controller marked Reconciled=False (left out of Envoy's config)."""
    out = []
    for field, kind in _ROUTING:
        for obj in getattr(snap, field):
            for c in (obj.get("status") or {}).get("conditions") or []:
                if isinstance(c, dict) and c.get("type") == "Reconciled" and \
                        c.get("status") == "False":
                    out.append(_f(LEFT_OUT, "Error", obj, kind, str(c.get("message") or
                                                                    c.get("reason") or "")))
    return out


def analyze(snap: sn.Snapshot) -> list[Finding]:
    reg = Registry(snap)
    extra = _known_hosts(snap)
    gateways = {f"{sn.namespace_of(g)}/{sn.name_of(g)}" for g in snap.gateways}
    out: list[Finding] = []
    for ns in snap.namespaces:
        name = sn.name_of(ns)
        if name in SYSTEM_NAMESPACES or sn.INJECT_LABEL in sn.labels_of(ns):
            continue
        if not any(sn.namespace_of(p) == name for p in snap.pods):
            continue
        out.append(Finding("IST0102", "Info", "Namespace", "", name,
                           f"The namespace is not enabled for Istio injection. Run 'kubectl label "
                      f"namespace {name} istio-injection=enabled' to enable it, or 'kubectl "
                      f"label namespace {name} istio-injection=disabled' to explicitly mark it "
                           f"as not needing injection."))
    for vs in snap.virtual_services:
        out += _guarded(functools.partial(_virtual_service, reg, vs, gateways, extra), vs,
                        "VirtualService")
    for dr in snap.destination_rules:
        out += _guarded(functools.partial(_destination_rule, reg, dr, extra), dr,
                        "DestinationRule")
    out += _left_out(snap)
    order = {"Error": 0, "Warning": 1, "Info": 2}
    return sorted(out, key=lambda f: (order.get(f.level, 3), f.code, f.namespace, f.name))
