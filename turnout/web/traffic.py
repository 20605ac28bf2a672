"""The traffic map: who calls whom, how much, how well, and how each call is split by version.

Why this exists: the telemetry records name the caller (source namespace/service/workload) and
the pod that answered (destination service, version, subset); the mesh objects say what split was
*asked for* (VirtualService weights per DestinationRule subset) and where it applies (namespaces
labelled `istio-injection=enabled`). This module joins the two into nodes and edges and places
them with a simple deterministic layered layout, so the same traffic always draws the same map.

Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from turnout.mesh import snapshot
from turnout.types import Obj

COL_WIDTH = 350
ROW_HEIGHT = 120
NODE_WIDTH = 170
NODE_HEIGHT = 64
MARGIN = 30


def _host_names(service: str, namespace: str) -> set[str]:
    return {service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local"}


def _host_matches(host: str, service: str, namespace: str, obj_ns: str) -> bool:
    if host in _host_names(service, namespace) - {service}:
        return True
    return host == service and obj_ns == namespace


def _subset_versions(drs: Iterable[Obj], service: str, namespace: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for dr in drs:
        spec = dr.get("spec") or {}
        if not _host_matches(str(spec.get("host", "")), service, namespace,
                             snapshot.namespace_of(dr)):
            continue
        for s in spec.get("subsets") or []:
            labels = s.get("labels") or {}
            out[str(s.get("name", ""))] = str(
                labels.get("version") or ",".join(f"{k}={v}" for k, v in sorted(labels.items())))
    return out


def configured_split(service: str, namespace: str, vss: Iterable[Obj],
                     drs: Iterable[Obj]) -> list[Obj]:
    """Every VirtualService HTTP route for the Kubernetes Service `service` with its weighted
    destinations (subset, the version the subset selects, weight %)."""
    drs = list(drs)
    subsets = _subset_versions(drs, service, namespace)
    out: list[Obj] = []
    for vs in sorted(vss, key=lambda v: (snapshot.namespace_of(v), snapshot.name_of(v))):
        spec = vs.get("spec") or {}
        hosts = [str(h) for h in spec.get("hosts") or []]
        if not any(_host_matches(h, service, namespace, snapshot.namespace_of(vs))
                   for h in hosts):
            continue
        for i, route in enumerate(spec.get("http") or []):
            dests = route.get("route") or []
            total = len(dests)
            items = []
            for d in dests:
                dest = d.get("destination") or {}
                subset = str(dest.get("subset") or "")
                weight = d.get("weight")
                items.append({"host": str(dest.get("host", "")), "subset": subset,
                              "version": subsets.get(subset, ""),
                              "weight": int(weight) if weight is not None else
                              (100 if total == 1 else 0)})
            out.append({"virtual_service": snapshot.name_of(vs),
                        "namespace": snapshot.namespace_of(vs),
                        "route": str(route.get("name") or f"http[{i}]"),
                        "match": bool(route.get("match")),
                        "gateways": [str(g) for g in spec.get("gateways") or []],
                        "destinations": items})
    return out


def layout(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """Layers by longest path from the callers (bounded, so cycles stop), rows by name."""
    layer = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):
        changed = False
        for s, t in edges:
            if s != t and layer[t] < layer[s] + 1 and layer[s] + 1 < len(nodes):
                layer[t] = layer[s] + 1
                changed = True
        if not changed:
            break
    rows: dict[int, list[str]] = defaultdict(list)
    for n in sorted(nodes):
        rows[layer[n]].append(n)
    return {n: (MARGIN + col * COL_WIDTH, MARGIN + row * ROW_HEIGHT)
            for col, names in rows.items() for row, n in enumerate(names)}


def build_map(edges: list[Obj], splits: list[Obj], namespaces: Iterable[Obj],
              vss: Iterable[Obj], drs: Iterable[Obj],
              service_stats: Mapping[tuple[str, str], Obj]) -> Obj:
    """`edges`: one row per caller → destination service with its stats; `splits`: one row per
    caller → destination service → version/subset. Returns nodes, edges and namespaces."""
    ns_objs = list(namespaces)
    injected = snapshot.injected_namespaces(snapshot.Snapshot(namespaces=tuple(ns_objs)))
    vss, drs = list(vss), list(drs)
    nodes: dict[str, Obj] = {}

    def node(ns: str, svc: str) -> Obj:
        nid = f"{ns}/{svc}"
        if nid not in nodes:
            nodes[nid] = {"id": nid, "namespace": ns, "service": svc, "in_mesh": ns in injected,
                          "workloads": set(), "versions": set(), "called": False,
                          "stats": service_stats.get((ns, svc))}
        return nodes[nid]

    by_edge: dict[tuple[str, str], list[Obj]] = defaultdict(list)
    for sp in splits:
        src = node(sp["source_namespace"], sp["source_service"])
        dst = node(sp["dest_namespace"], sp["dest_service"])
        if sp.get("source_workload"):
            src["workloads"].add(sp["source_workload"])
        if sp.get("dest_workload") and not sp.get("no_upstream"):
            dst["workloads"].add(sp["dest_workload"])
        if not sp.get("no_upstream"):
            dst["versions"].add(sp["dest_version"])
        by_edge[(src["id"], dst["id"])].append(sp)
    out_edges: list[Obj] = []
    for e in edges:
        src = node(e["source_namespace"], e["source_service"])
        dst = node(e["dest_namespace"], e["dest_service"])
        dst["called"] = True
        parts = by_edge.get((src["id"], dst["id"]), [])
        total = sum(int(p["stats"]["requests"]) for p in parts) or 1
        k8s = str(e.get("kubernetes_service") or "")
        ns = dst["namespace"]
        configured = configured_split(k8s, ns, vss, drs) if k8s else []
        note = ""
        if configured and ns not in injected:
            note = (f"namespace {ns} is not in the mesh: VirtualServices are ignored, requests "
                    "go to a random ready endpoint")
        out_edges.append({
            "id": f"{src['id']}->{dst['id']}", "source": src["id"], "target": dst["id"],
            "kubernetes_service": k8s, **e["stats"],
            "split": [{"version": p["dest_version"], "subset": p.get("subset", ""),
                       "share": round(int(p["stats"]["requests"]) / total, 4),
                       **p["stats"]} for p in sorted(
                           parts, key=lambda p: (str(p["dest_version"]), str(p.get("subset"))))],
            "configured": configured, "configured_note": note,
        })
    out_edges.sort(key=lambda x: str(x["id"]))
    pos = layout(list(nodes), [(x["source"], x["target"]) for x in out_edges])
    out_nodes = []
    for nid in sorted(nodes):
        n = nodes[nid]
        x, y = pos[nid]
        out_nodes.append({**n, "workloads": sorted(n["workloads"]),
                          "versions": sorted(n["versions"]), "x": x, "y": y,
                          "width": NODE_WIDTH, "height": NODE_HEIGHT})
    width = max((n["x"] for n in out_nodes), default=0) + NODE_WIDTH + MARGIN
    height = max((n["y"] for n in out_nodes), default=0) + NODE_HEIGHT + MARGIN
    return {
        "kind": "TrafficMap",
        "namespaces": [{"name": snapshot.name_of(n), "in_mesh": snapshot.name_of(n) in injected}
                       for n in sorted(ns_objs, key=snapshot.name_of)],
        "nodes": out_nodes, "edges": out_edges, "width": width, "height": height,
    }
