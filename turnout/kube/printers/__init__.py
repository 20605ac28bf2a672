"""Server-side printers: for each resource type, the Table columns and row cells kubectl shows.

`printer_for` picks the printer the real API server would use: a built-in printer
(pkg/printers/internalversion), a custom resource's printer columns, or the default
NAME / CREATED AT table of kinds that have no printer (Role, ClusterRole, CRDs). Pure, no I/O.
"""

from __future__ import annotations

from turnout.kube.printers import cluster, custom, network, workloads
from turnout.kube.printers.common import DEFAULT, Printer, human_duration
from turnout.kube.resources import ISTIO_NET, ResourceType

BUILTIN: dict[tuple[str, str], Printer] = {
    **workloads.PRINTERS, **network.PRINTERS, **cluster.PRINTERS,
}


def printer_for(rt: ResourceType) -> Printer:
    if rt.columns:
        return custom.printer(rt.columns)
    if rt.group == ISTIO_NET:
        return custom.printer(custom.ISTIO_COLUMNS.get(rt.kind, ()))
    if not rt.builtin:
        return custom.printer(())
    return BUILTIN.get((rt.group, rt.kind), DEFAULT)


__all__ = ["Printer", "human_duration", "printer_for"]
