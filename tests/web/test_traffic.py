"""Traffic map assembly and layout (pure)."""

from __future__ import annotations

from turnout.types import Obj
from turnout.web import queries, traffic


def stats(n: int, errors: int = 0) -> Obj:
    return {"requests": n, "errors": errors, "error_rate": errors / n, "rps": n / 60,
            "p50": 10.0, "p99": 20.0}


def edge(src: str, dst: str, n: int) -> Obj:
    return {"source_namespace": "a", "source_service": src, "dest_namespace": "a",
            "dest_service": dst, "kubernetes_service": dst, "stats": stats(n)}


def split(src: str, dst: str, version: str, n: int) -> Obj:
    return {"source_namespace": "a", "source_service": src, "dest_namespace": "a",
            "dest_service": dst, "dest_version": version, "subset": "", "source_workload": src,
            "dest_workload": f"{dst}-{version}", "stats": stats(n)}


VS: Obj = {"kind": "VirtualService", "metadata": {"name": "b", "namespace": "a"},
           "spec": {"hosts": ["b.a.svc.cluster.local"], "http": [
               {"match": [{"headers": {"x-canary": {"exact": "1"}}}],
                "route": [{"destination": {"host": "b", "subset": "canary"}}]},
               {"route": [{"destination": {"host": "b", "subset": "stable"}, "weight": 90},
                          {"destination": {"host": "b", "subset": "canary"}, "weight": 10}]}]}}
DR: Obj = {"kind": "DestinationRule", "metadata": {"name": "b", "namespace": "a"},
           "spec": {"host": "b", "subsets": [
               {"name": "stable", "labels": {"rollouts-pod-template-hash": "abc"}},
               {"name": "canary", "labels": {"version": "2"}}]}}
OTHER_NS_VS: Obj = {"kind": "VirtualService", "metadata": {"name": "b", "namespace": "z"},
                    "spec": {"hosts": ["b"], "http": [{"route": [
                        {"destination": {"host": "b"}}]}]}}


def test_configured_split_reads_weights_subsets_and_versions() -> None:
    routes = traffic.configured_split("b", "a", [VS, OTHER_NS_VS], [DR])
    assert [(r["route"], r["match"]) for r in routes] == [("http[0]", True), ("http[1]", False)]
    assert routes[0]["destinations"] == [{"host": "b", "subset": "canary", "version": "2",
                                          "weight": 100}]
    assert [(d["subset"], d["version"], d["weight"]) for d in routes[1]["destinations"]] == [
        ("stable", "rollouts-pod-template-hash=abc", 90), ("canary", "2", 10)]
    assert traffic.configured_split("c", "a", [VS], [DR]) == []


def test_outside_the_mesh_the_virtual_service_is_flagged_as_ignored() -> None:
    m = traffic.build_map([edge("x", "b", 10)], [split("x", "b", "1", 10)],
                          [{"metadata": {"name": "a"}}], [VS], [DR], {})
    (e,) = m["edges"]
    assert "not in the mesh" in e["configured_note"] and len(e["configured"]) == 2
    assert m["namespaces"] == [{"name": "a", "in_mesh": False}]


def test_layout_is_layered_deterministic_and_survives_cycles() -> None:
    edges = [edge("x", "b", 10), edge("b", "c", 5), edge("c", "b", 1), edge("x", "d", 3)]
    splits = [split("x", "b", "1", 6), split("x", "b", "2", 4), split("b", "c", "1", 5),
              split("c", "b", "1", 1), split("x", "d", "1", 3)]
    m = traffic.build_map(edges, splits, [], [], [], {})
    again = traffic.build_map(list(reversed(edges)), list(reversed(splits)), [], [], [], {})
    assert m == again
    pos = {n["id"]: (n["x"], n["y"]) for n in m["nodes"]}
    assert pos["a/x"][0] < pos["a/b"][0] and pos["a/x"][0] < pos["a/d"][0]
    assert len(set(pos.values())) == len(pos)  # no two nodes on one spot
    xb = next(e for e in m["edges"] if e["id"] == "a/x->a/b")
    assert [(s["version"], s["share"]) for s in xb["split"]] == [("1", 0.6), ("2", 0.4)]
    assert m["width"] >= max(x for x, _ in pos.values()) + traffic.NODE_WIDTH


def test_histogram_bins_are_shared_and_normalised() -> None:
    h = queries.bins({"a": [10.0, 30.0, 0.0, 10.0], "b": [100.0, 120.0]}, n=10)
    assert len(h["edges"]) == 11 and h["edges"][0] == 10.0 and h["edges"][-1] == 120.0
    assert sum(h["versions"]["a"]) == 1.0 and h["versions"]["a"][0] == 0.75
    assert h["versions"]["a"][4] == 0.25  # 30 ms: log(3) / log(12) of the way
    assert h["versions"]["b"][-1] == 1.0  # 100 ms is past 92 % of the log range
    assert queries.bins({"a": []}) == {"edges": [], "versions": {"a": []}}
