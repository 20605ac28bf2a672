"""Invalid Rollout specs: the InvalidSpec condition and a Warning Event naming the field, never
only a log line; nothing is created or scaled for them; fixing the spec clears the condition."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.rollout import argo_spec

from .argo_world import NS, World, pod_template, rollout

ROLLOUT = "rollouts.argoproj.io"

CASES: list[tuple[dict[str, Any], str]] = [
    ({"replicas": -2}, "spec.replicas: Invalid value: -2: must be greater than or equal to 0"),
    ({"replicas": "three"}, 'spec.replicas: Invalid value: "three": must be an integer'),
    ({"selector": {"matchLabels": {"app": "other"}}},
     'spec.template.metadata.labels: Invalid value: map[string]string{"app":"demo"}: '
     '`selector` does not match template `labels`'),
    ({"selector": None},
     "spec.selector: Required value: Rollout has missing field '.spec.selector'"),
    ({"strategy": {"canary": {"steps": [{"setWeight": "abc"}]}}},
     'spec.strategy.canary.steps[0].setWeight: Invalid value: "abc": must be an integer'),
    ({"strategy": {"canary": {"steps": [{"setWeight": 120}]}}},
     "spec.strategy.canary.steps[0].setWeight: Invalid value: 120: SetWeight needs to be "
     "between 0 and 100"),
    ({"strategy": {"canary": {"steps": [{"setWeight": 10}, {"setWieght": 20}]}}},
     'spec.strategy.canary.steps[1].setWieght: Invalid value: "setWieght": unknown step field; '
     "a step sets one of setWeight, pause, analysis, experiment, setCanaryScale, "
     "setHeaderRoute, setMirrorRoute, plugin"),
    ({"strategy": {"canary": {"steps": [{}]}}},
     "Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin "
     "or pause"),
    ({"strategy": {"canary": {"steps": [{"setWeight": 10, "pause": {}}]}}},
     'spec.strategy.canary.steps[0]: Invalid value: "step.Experiment: false step.Pause: true '
     'step.SetWeight: true step.Analysis: false": Step must have one of'),
    ({"strategy": {"canary": {"steps": [{"pause": {"duration": "soon"}}]}}},
     'spec.strategy.canary.steps[0].pause.duration: Invalid value: "soon": Duration needs to '
     "be greater than 0"),
    ({"strategy": {"canary": {"steps": [{"setCanaryScale": {"replicas": 1}}]}}},
     "spec.strategy.canary.trafficRouting: Required value: SetCanaryScale requires "
     "TrafficRouting to be set"),
    ({"strategy": {}}, "spec.strategy: Required value: Rollout has missing field "
                       "'.spec.strategy.canary or .spec.strategy.blueGreen'"),
    ({"strategy": {"blueGreen": {"activeService": "a", "previewService": "a"}}},
     'spec.strategy.blueGreen.activeService: Invalid value: "a": This rollout uses the same '
     "service for the active and preview services, but two different services are required."),
    ({"strategy": {"canary": {"trafficRouting": {"nginx": {"stableIngress": "i"}}}}},
     'spec.strategy.canary.stableService: Invalid value: "": Canary service and Stable service '
     "must to be set to use Traffic Routing"),
    ({"strategy": {"canary": {"steps": [{"experiment": {"templates": [
        {"name": "x", "specRef": "canary", "weight": 10}]}}]}}},
     "spec.strategy.canary.steps[0].experiment.templates[0].weight: Invalid value: 10: "
     "Experiment template weight cannot be set unless TrafficRouting is enabled"),
    ({"strategy": {"canary": {"stableService": "s", "canaryService": "c", "trafficRouting": {
        "istio": {"virtualService": {"name": "vs"}}}, "steps": [{"setHeaderRoute": {
            "name": "h", "match": [{"headerName": "x", "headerValue": {"exact": "1"}}]}}]}}},
     "spec.strategy.canary.trafficRouting.managedRoutes: Required value: Rollout has missing "
     "field 'spec.strategy.canary.trafficRouting.managedRoutes'"),
    ({"strategy": {"canary": {"canaryService": "c", "stableService": "s", "trafficRouting": {
        "managedRoutes": [{"name": "h"}], "apisix": {"route": {"name": "r"}}}}}},
     'spec.strategy.canary.trafficRouting: Unsupported value: "apisix": supported values: '
     '"istio", "nginx"'),
    ({"progressDeadlineSeconds": 5, "minReadySeconds": 10},
     "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"),
]


@pytest.mark.parametrize(("change", "want"), CASES)
def test_invalid_spec_condition_and_event_name_the_field(change: dict[str, Any],
                                                         want: str) -> None:
    w = World()
    body = rollout(**{k: v for k, v in change.items() if k != "selector"})
    if "selector" in change:
        body["spec"]["selector"] = change["selector"]
    if change.get("selector") is None and "selector" in change:
        del body["spec"]["selector"]
    w.create(ROLLOUT, body)
    w.run(1)
    st = w.status()
    cond = w.condition("InvalidSpec")
    assert st["phase"] == "Degraded", st
    assert cond is not None and cond["status"] == "True"
    assert cond["message"].startswith('The Rollout "demo" is invalid: ')
    assert want in cond["message"], cond["message"]
    assert st["message"] == f"InvalidSpec: {cond['message']}"
    assert [m for m in w.events("InvalidSpec") if want in m]
    assert not list(w.o.store.iter("replicasets.apps", NS))


def test_fixing_the_spec_clears_invalid_spec_and_proceeds() -> None:
    w = World()
    w.create(ROLLOUT, rollout(replicas=-2))
    w.run(1)
    assert w.status()["phase"] == "Degraded"
    w.edit(spec__replicas=2)
    w.run(2)
    assert w.status()["phase"] == "Healthy" and w.condition("InvalidSpec") is None
    assert w.replicas() == {"blue": 2}


def test_an_invalid_edit_mid_rollout_holds_everything_where_it_is() -> None:
    w = World()
    w.create(ROLLOUT, rollout(replicas=2, strategy={"canary": {"steps": [
        {"setWeight": 50}, {"pause": {}}]}}))
    w.run(2)
    w.new_image()
    w.run(2)
    before = w.replicas()
    assert w.status()["phase"] == "Paused"
    w.edit(spec__strategy__canary__steps=[{"setWeight": 50}, {"pause": {}}, {"setWeight": "x"}])
    w.run(2)
    assert w.status()["phase"] == "Degraded" and w.replicas() == before


def test_validate_is_pure_and_accepts_the_argo_examples_shapes() -> None:
    ok = rollout(strategy={"canary": {
        "canaryService": "c", "stableService": "s",
        "trafficRouting": {"managedRoutes": [{"name": "mirror-route"}],
                           "istio": {"virtualService": {"name": "vs", "routes": ["primary"]}}},
        "steps": [{"setCanaryScale": {"weight": 50}},
                  {"setMirrorRoute": {"name": "mirror-route", "percentage": 50}},
                  {"experiment": {"templates": [{"name": "e", "specRef": "canary",
                                                 "weight": 20}]}},
                  {"pause": {"duration": 10}}, {"pause": {"duration": "1m"}}, {"pause": {}}]}})
    assert argo_spec.validate(ok) == []
    ref = rollout(workloadRef={"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"})
    del ref["spec"]["template"], ref["spec"]["selector"]
    assert argo_spec.validate(ref) == []
    ref["spec"]["template"] = pod_template()
    assert "template must be empty" in argo_spec.validate(ref)[0].message


def test_kubectl_get_rollout_columns_with_and_without_the_crd() -> None:
    from datetime import UTC, datetime

    from turnout.kube.printers import printer_for
    from turnout.kube.resources import ARGO_COLUMNS, type_from_crd

    w = World()
    w.create(ROLLOUT, rollout(replicas=3))
    w.run(2)
    obj = w.get(ROLLOUT, "demo")
    crd = {"spec": {"group": "argoproj.io", "scope": "Namespaced",
                    "names": {"kind": "Rollout", "plural": "rollouts"},
                    "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                  "additionalPrinterColumns": list(ARGO_COLUMNS["Rollout"])}]}}
    with_crd = type_from_crd(crd)
    assert with_crd is not None
    for rtype in (w.o.registry.by_key(ROLLOUT), with_crd):
        assert rtype is not None
        p = printer_for(rtype)
        assert [c["name"] for c in p.columns] == ["Name", "Desired", "Current", "Up-to-date",
                                                  "Available", "Age"]
        assert p.row(obj, datetime.now(UTC))[:5] == ["demo", 3, 3, 3, 3]


def test_missing_replicas_is_defaulted_to_one_in_the_spec() -> None:
    w = World()
    body = rollout()
    del body["spec"]["replicas"]
    w.create(ROLLOUT, body)
    w.run(2)
    assert w.get(ROLLOUT, "demo")["spec"]["replicas"] == 1
    assert w.status()["phase"] == "Healthy" and w.replicas() == {"blue": 1}
