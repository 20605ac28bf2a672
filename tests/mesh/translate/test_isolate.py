"""One routing object that cannot be translated is left out; everything else still translates."""

from __future__ import annotations

import copy

import pytest

from turnout.mesh.translate import translate
from turnout.mesh.translate.isolate import translate_isolated
from turnout.types import Obj

from .. import helpers as h

# shapes an operator's probe found passing admission and breaking translation (issue 14)
ROUTE = [{"destination": {"host": "frontend.ns3.svc.cluster.local"}}]
BAD_RULES: dict[str, Obj] = {
    "match-port-string": {"match": [{"port": "http"}], "route": ROUTE},
    "sourceLabels-string": {"match": [{"sourceLabels": "app=x"}], "route": ROUTE},
    "fault-percent-ten": {"fault": {"delay": {"percent": "ten", "fixedDelay": "1s"}},
                          "route": ROUTE},
    "remove-5": {"headers": {"request": {"remove": 5}}, "route": ROUTE},
    "retries-three": {"retries": {"attempts": "three"}, "route": ROUTE},
    "port-scalar": {"route": [{"destination": {"host": "frontend.ns3.svc.cluster.local",
                                               "port": 80}}]},
    "headers-list": {"headers": [1, 2], "route": ROUTE},
}


def broken_vs(name: str, ns: str, rule: Obj) -> Obj:
    return {"kind": "VirtualService", "metadata": {"name": name, "namespace": ns},
            "spec": {"hosts": ["frontend.ns3.svc.cluster.local"], "http": [rule]}}


def other_namespace() -> list[Obj]:
    return [h.namespace("ns9", injected=True),
            h.service("shop", "ns9", "127.77.200.9",
                      [{"port": 80, "protocol": "TCP", "targetPort": 8080, "name": "http"}],
                      {"app": "shop"}),
            h.pod("shop-1", "ns9", "127.77.9.1", {"app": "shop"})]


@pytest.mark.parametrize("rule", BAD_RULES.values(), ids=BAD_RULES.keys())
def test_a_vs_that_breaks_translation_is_left_out_and_named(rule: Obj) -> None:
    good = h.seed_objects() + other_namespace()
    bad = broken_vs("typo", "ns3", rule)
    snap = h.snap([*copy.deepcopy(good), bad])
    with pytest.raises(Exception):  # noqa: B017 - whatever translation raises
        translate(snap)
    config, rejected = translate_isolated(snap)
    assert [(r.kind, r.namespace, r.name) for r in rejected] == [("VirtualService", "ns3",
                                                                   "typo")]
    assert rejected[0].reason
    # everything else is exactly what it would be without the bad object
    assert config == translate(h.snap(good))
    out = h.send(config, "127.77.2.10", "http://shop.ns9/")  # other namespaces still flow
    assert out.status is None and any("shop" in d.cluster for d in out.destinations), out


def test_two_bad_objects_are_both_found_and_good_snapshots_pass_untouched() -> None:
    good = h.seed_objects() + other_namespace()
    bads = [broken_vs("typo1", "ns3", BAD_RULES["remove-5"]),
            broken_vs("typo2", "ns9", BAD_RULES["headers-list"])]
    config, rejected = translate_isolated(h.snap([*good, bads[0], *good[:0], bads[1]]))
    assert {r.name for r in rejected} == {"typo1", "typo2"}
    assert config == translate(h.snap(good))
    assert translate_isolated(h.snap(good)) == (translate(h.snap(good)), ())
