from __future__ import annotations

import copy

from turnout.mesh.analyze import analyze

from . import helpers as h


def codes(objs: list[dict[str, object]]) -> list[tuple[str, str]]:
    return [(f.code, f.message) for f in analyze(h.snap(objs))]


def test_seed_is_clean() -> None:
    assert codes(h.seed_objects()) == []


def test_missing_subset_and_host() -> None:
    vs = copy.deepcopy(h.SEED_VS)
    vs["spec"]["http"][1]["route"][0]["destination"]["subset"] = "v3"
    vs["spec"]["http"][0]["route"][1]["destination"]["host"] = "nowhere"
    objs = [o for o in h.seed_objects() if o is not h.SEED_VS] + [vs]
    found = analyze(h.snap(objs))
    assert [(f.code, f.field) for f in found] == [
        ("IST0101", "spec.http[0].route[1].destination.host"),
        ("IST0101", "spec.http[1].route[0].destination.subset")]
    assert found[1].message == ('Referenced host+subset in destinationrule not found: '
                                '"advertisements+v3"')
    assert found[0].render().startswith("Error [IST0101] (VirtualService ns3/ads-vs)")


def test_unreachable_rule_after_catch_all() -> None:
    vs = copy.deepcopy(h.SEED_VS)
    vs["spec"]["http"].reverse()
    objs = [o for o in h.seed_objects() if o is not h.SEED_VS] + [vs]
    assert [c for c, _ in codes(objs)] == ["IST0130"]


def test_namespace_not_injected_subset_without_pods_unknown_dr_host() -> None:
    dr = copy.deepcopy(h.SEED_DR)
    dr["spec"]["subsets"].append({"name": "v3", "labels": {"version": "v3"}})
    ghost = {"kind": "DestinationRule", "metadata": {"name": "g", "namespace": "ns3"},
             "spec": {"host": "ghost"}}
    objs = [o for o in h.seed_objects() if o is not h.SEED_DR] + [
        dr, ghost, h.namespace("ns1"), h.pod("p", "ns1", "127.77.5.1", {})]
    found = {(f.code, f.name) for f in analyze(h.snap(objs))}
    assert found == {("IST0102", "ns1"), ("IST0173", "ads"), ("IST0174", "g")}


def test_an_object_left_out_of_the_mesh_and_an_unreadable_one_are_findings() -> None:
    left = copy.deepcopy(h.SEED_VS)
    left["metadata"] = {"name": "typo", "namespace": "ns3"}
    left["status"] = {"conditions": [{"type": "Reconciled", "status": "False",
                                      "reason": "TranslationFailed",
                                      "message": "left out of the mesh configuration: boom"}]}
    broken = {"kind": "VirtualService", "metadata": {"name": "shape", "namespace": "ns3"},
              "spec": {"hosts": ["x"], "http": [{"route": "advertisements"}]}}
    found = analyze(h.snap([*h.seed_objects(), left, broken]))
    by_name = {(f.code, f.name): f for f in found}
    assert "boom" in by_name[("TNT0001", "typo")].message
    assert ("TNT0002", "shape") in by_name, found  # the others are still analyzed
