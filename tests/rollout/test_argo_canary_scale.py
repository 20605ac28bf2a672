"""How many pods the canary runs: setCanaryScale (weight | replicas | matchTrafficWeight) with
traffic routing, the basic canary's share of pods, and abortScaleDownDelaySeconds after an abort
(0 keeps the canary), as Argo Rollouts sizes them."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.rollout import argo, engine

from .argo_world import NS, World, rollout

ROLLOUT = "rollouts.argoproj.io"
VS = "virtualservices.networking.istio.io"


def routed(steps: list[dict[str, Any]], replicas: int = 4, **canary: Any) -> dict[str, Any]:
    return rollout(replicas=replicas, strategy={"canary": {
        "canaryService": "demo-canary", "stableService": "demo-stable",
        "trafficRouting": {"managedRoutes": [{"name": "mirror-route"}],
                           "istio": {"virtualService": {"name": "vs", "routes": ["primary"]}}},
        "steps": steps, **canary}})


def world(body: dict[str, Any]) -> World:
    w = World()
    for svc in ("demo-stable", "demo-canary"):
        w.create("services", {"metadata": {"name": svc}, "spec": {
            "selector": {"app": "demo"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    w.create(VS, {"metadata": {"name": "vs"}, "spec": {"hosts": ["demo"], "http": [
        {"name": "primary", "route": [{"destination": {"host": "demo-stable"}, "weight": 100},
                                      {"destination": {"host": "demo-canary"}, "weight": 0}]}]}})
    w.create(ROLLOUT, body)
    w.run(2)
    assert w.status()["phase"] == "Healthy", w.status()
    return w


def canary_weight(w: World) -> int:
    route = w.get(VS, "vs")["spec"]["http"][0]["route"]
    return int(next(d["weight"] for d in route if d["destination"]["host"] == "demo-canary"))


def test_istio_mirror_example_scales_the_canary_to_half() -> None:
    w = world(routed([{"setCanaryScale": {"weight": 50}},
                      {"setMirrorRoute": {"name": "mirror-route", "percentage": 50,
                                          "match": [{"method": {"exact": "POST"}}]}},
                      {"pause": {}}]))
    w.new_image()
    w.run(3)
    assert w.status()["phase"] == "Paused" and w.replicas() == {"blue": 4, "green": 2}
    assert canary_weight(w) == 0
    mirror = w.get(VS, "vs")["spec"]["http"][0]
    assert mirror["mirrorPercentage"] == {"value": 50.0}


def test_replicas_then_match_traffic_weight() -> None:
    w = world(routed([{"setCanaryScale": {"replicas": 1}}, {"setWeight": 10}, {"pause": {}},
                      {"setCanaryScale": {"matchTrafficWeight": True}}, {"setWeight": 50},
                      {"pause": {}}, {"setWeight": 75}, {"pause": {}}]))
    w.new_image()
    w.run(3)
    assert w.status()["phase"] == "Paused" and canary_weight(w) == 10
    assert w.replicas() == {"blue": 4, "green": 1}
    w.status_patch(pauseConditions=None)  # kubectl argo rollouts promote
    w.ro.sync((NS, "demo"), w.t)  # the canary grows for 50 % before any traffic moves
    assert canary_weight(w) == 10 and w.replicas()["green"] == 2
    w.run(2)
    assert canary_weight(w) == 50 and w.status()["phase"] == "Paused"
    assert w.replicas() == {"blue": 4, "green": 2}
    w.status_patch(pauseConditions=None)
    w.ro.sync((NS, "demo"), w.t)
    assert canary_weight(w) == 50 and w.replicas()["green"] == 3
    assert "waiting for canary pods (setWeight: 75)" in w.status()["message"]
    w.run(2)
    assert canary_weight(w) == 75
    w.status_patch(pauseConditions=None)
    w.run(3)
    assert w.status()["phase"] == "Healthy" and w.replicas() == {"blue": 0, "green": 4}


def test_abort_scale_down_delay() -> None:
    steps = [{"setWeight": 25}, {"pause": {}}]
    for delay, at_once, later in ((0, 4, 4), (None, 4, 0), (5, 4, 0)):
        extra = {} if delay is None else {"abortScaleDownDelaySeconds": delay}
        w = world(routed(steps, **extra))
        w.new_image()
        w.run(2)
        w.status_patch(abort=True)
        w.run(1)
        assert w.status()["phase"] == "Degraded" and canary_weight(w) == 0
        assert w.replicas()["green"] == at_once, delay
        w.run(31)
        assert w.replicas()["green"] == later, delay


def test_basic_canary_pods_follow_the_weight_and_abort_at_once() -> None:
    w = World()
    w.create(ROLLOUT, rollout(replicas=5, strategy={"canary": {"steps": [
        {"setWeight": 40}, {"pause": {}}]}}))
    w.run(2)
    w.new_image()
    w.run(2)
    assert w.replicas() == {"blue": 3, "green": 2}
    w.status_patch(abort=True)
    w.run(1)
    assert w.replicas() == {"blue": 5, "green": 0}


def test_plan_and_sizes_are_pure() -> None:
    spec = routed([{"setCanaryScale": {"weight": 50}}, {"setWeight": 20}, {"pause": {}}])["spec"]
    plan = argo.plan(spec)
    assert plan.steps[0] == engine.SetCanaryScale(None, 50)
    assert engine.describe(plan.steps[0]) == "setCanaryScale: 50%"
    s = engine.State(phase=engine.Phase.PROGRESSING, stable="a", canary="b", step=1)
    assert argo.scales(spec, s) == {"a": 4, "b": 2}
    assert argo.coming_weight(spec, s) == 20
    assert argo.abort_delay(spec) == 30.0
    assert argo.abort_delay(rollout()["spec"]) == 0.0  # basic canary


def test_engine_waits_at_a_weight_step_until_the_canary_is_sized_for_it() -> None:
    plan = engine.Plan((engine.SetWeight(20), engine.SetCanaryScale(2), engine.SetWeight(60)))
    s = engine.State(phase=engine.Phase.PROGRESSING, stable="a", canary="b")
    ready = {0: True, 1: True, 2: False}
    s, acts = engine.step(s, plan, engine.Inputs("b", ready_for=lambda at: ready[at.step]), 0)
    assert s.step == 2 and s.weight == 20 and s.phase is engine.Phase.PROGRESSING
    assert [a.weight for a in acts if isinstance(a, engine.Routes)] == [20]
    ready[2] = True
    s, acts = engine.step(s, plan, engine.Inputs("b", ready_for=lambda at: ready[at.step]), 1)
    assert next(a.weight for a in acts if isinstance(a, engine.Routes)) == 60
    assert s.phase is engine.Phase.HEALTHY and s.stable == "b"


@pytest.mark.parametrize(("n", "weight", "surge", "want"), [
    (1, 50, 1, (1, 1)),    # the independent try's case: stable kept, one canary beside it
    (5, 40, 2, (2, 3)),
    (3, 50, 1, (2, 2)),    # tied at 3 (1 or 2 of 3): with surge, 2 of 4 is exact
    (10, 1, 3, (1, 10)),   # never 0 canaries at 1-99 %; 1 of 11 is the closest
    (1, 50, 0, (1, 0)),    # no surge with 1 replica: zero allowed
    (4, 100, 1, (4, 0)),
    (4, 0, 1, (0, 4)),
])
def test_basic_canary_counts_approximate_the_weight_as_argo(
        n: int, weight: int, surge: int, want: tuple[int, int]) -> None:
    assert argo.basic_counts(n, weight, surge) == want
