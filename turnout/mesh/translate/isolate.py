"""Translation that one bad object cannot stop: the culprit is left out, everything else goes on.

Why this exists: admission cannot foresee every way a routing object can fail to translate (a
wrongly typed field deep in a VirtualService, a combination of objects), and one exception in
`translate` used to stop every mesh change in every namespace until the object was deleted.
Istio leaves such an object out of the configuration and reports it; so does this. When the
whole snapshot fails, the routing objects (VirtualServices, DestinationRules, Gateways,
ServiceEntries, Ingresses) are searched for the first one whose addition makes translation fail
(binary search over them in a fixed order, O(log n) translations per culprit), it is set aside
with the error, and translation is retried without it. Services and pods are never set aside:
if the snapshot fails without any routing object, the error is raised as before.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from turnout.mesh import snapshot as sn
from turnout.mesh.translate import EnvoyConfig, translate
from turnout.types import Obj

ROUTING = {"virtual_services": "VirtualService", "destination_rules": "DestinationRule",
           "gateways": "Gateway", "service_entries": "ServiceEntry", "ingresses": "Ingress"}


@dataclass(frozen=True)
class Rejected:
    """A routing object left out of the configuration, and why."""

    kind: str
    namespace: str
    name: str
    reason: str
    obj: Obj


def _with(snap: sn.Snapshot, items: list[tuple[str, Obj]]) -> sn.Snapshot:
    parts: dict[str, list[Obj]] = {f: [] for f in ROUTING}
    for field, obj in items:
        parts[field].append(obj)
    return replace(snap, virtual_services=tuple(parts["virtual_services"]),
                   destination_rules=tuple(parts["destination_rules"]),
                   gateways=tuple(parts["gateways"]),
                   service_entries=tuple(parts["service_entries"]),
                   ingresses=tuple(parts["ingresses"]))


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def translate_isolated(snap: sn.Snapshot) -> tuple[EnvoyConfig, tuple[Rejected, ...]]:
    """The configuration of ``snap`` without the routing objects that cannot be translated."""
    try:
        return translate(snap), ()
    except Exception as first:  # any failure is isolated here; the caller logs and counts
        failure: Exception = first
    items = [(f, o) for f in ROUTING for o in getattr(snap, f)]
    rejected: list[Rejected] = []
    while items:
        # smallest prefix that fails: items[:hi] fails, items[:lo] translates
        lo, hi = 0, len(items)
        try:
            translate(_with(snap, []))
        except Exception:
            raise failure from None  # not a routing object's fault: as before
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                translate(_with(snap, items[:mid]))
                lo = mid
            except Exception as exc:
                hi, failure = mid, exc
        field, obj = items.pop(hi - 1)
        meta = obj.get("metadata") or {}
        rejected.append(Rejected(ROUTING[field], str(meta.get("namespace") or ""),
                                 str(meta.get("name") or ""), _error(failure), obj))
        try:
            return translate(_with(snap, items)), tuple(rejected)
        except Exception as exc:
            failure = exc
    raise failure
