"""Blue/green as Argo runs it: the example's manual gate, previewReplicaCount, and
postPromotionAnalysis after the active switch (failure aborts and switches back)."""

from __future__ import annotations

from typing import Any

from .argo_world import World, rollout, template
from .helpers import settle

ROLLOUT = "rollouts.argoproj.io"
AT = "analysistemplates.argoproj.io"


def bluegreen(**bg: Any) -> dict[str, Any]:
    return rollout(replicas=2, strategy={"blueGreen": {
        "activeService": "rollout-bluegreen-active",
        "previewService": "rollout-bluegreen-preview", **bg}})


def world(body: dict[str, Any], script: dict[str, list[str]] | None = None) -> World:
    w = World(script)
    for svc in ("rollout-bluegreen-active", "rollout-bluegreen-preview"):
        w.create("services", {"metadata": {"name": svc}, "spec": {
            "selector": {"app": "demo"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    w.create(AT, template("smoke", ["smoke"], **{}))
    w.create(ROLLOUT, body)
    w.run(2)
    assert w.status()["phase"] == "Healthy", w.status()
    return w


def selects(w: World, svc: str) -> str:
    return str(w.get("services", svc)["spec"]["selector"].get("rollouts-pod-template-hash"))


def test_the_example_waits_for_promotion_with_preview_on_the_new_stack() -> None:
    w = world(bluegreen(autoPromotionEnabled=False))
    blue = w.status()["stableRS"]
    w.new_image()
    w.run(3)
    st = w.status()
    green = st["currentPodHash"]
    assert st["phase"] == "Paused" and st["pauseConditions"][0]["reason"]
    assert selects(w, "rollout-bluegreen-active") == blue
    assert selects(w, "rollout-bluegreen-preview") == green
    assert w.replicas() == {"blue": 2, "green": 2}
    w.status_patch(pauseConditions=None)
    w.run(2)
    st = w.status()
    assert st["phase"] == "Healthy" and st["stableRS"] == green
    assert selects(w, "rollout-bluegreen-active") == green
    assert st["blueGreen"]["activeSelector"] == green


def test_preview_replica_count_until_the_switch() -> None:
    w = world(bluegreen(autoPromotionEnabled=False, previewReplicaCount=1))
    w.new_image()
    w.run(3)
    assert w.status()["phase"] == "Paused" and w.replicas() == {"blue": 2, "green": 1}
    w.status_patch(pauseConditions=None)
    w.run(3)
    assert w.status()["phase"] == "Healthy" and w.replicas() == {"blue": 0, "green": 2}


def test_post_promotion_analysis_runs_after_the_switch_and_makes_it_stable() -> None:
    w = world(bluegreen(postPromotionAnalysis={"templates": [{"templateName": "smoke"}]}))
    blue = w.status()["stableRS"]
    w.new_image()
    for _ in range(3):  # the Rollout alone: the run is created, not yet measured
        w.ro.sync(("demo", "demo"), w.t)
        settle(w.o)
        w.t += 1
    st = w.status()
    green = st["currentPodHash"]
    # switched, not yet stable: the post-promotion run decides
    assert selects(w, "rollout-bluegreen-active") == green and st["stableRS"] == blue
    assert st["blueGreen"]["activeSelector"] == green
    [run] = w.runs()
    assert run["metadata"]["name"].endswith("-post")
    assert run["metadata"]["labels"]["rollout-type"] == "PostPromotion"
    w.run(3)
    st = w.status()
    assert st["phase"] == "Healthy" and st["stableRS"] == green, st
    assert st["blueGreen"]["postPromotionAnalysisRunStatus"]["status"] == "Successful"
    assert w.replicas() == {"blue": 0, "green": 2}


def test_failed_post_promotion_analysis_aborts_and_switches_back() -> None:
    w = world(bluegreen(postPromotionAnalysis={"templates": [{"templateName": "smoke"}]},
                        abortScaleDownDelaySeconds=5), {"smoke": ["Failed"]})
    blue = w.status()["stableRS"]
    w.new_image()
    w.run(4)
    st = w.status()
    assert st["phase"] == "Degraded" and st["abort"] is True
    assert st["message"].startswith("Blue/green post-promotion analysis phase error/failed (")
    assert 'Metric "smoke" assessed Failed' in st["message"]
    assert selects(w, "rollout-bluegreen-active") == blue and st["stableRS"] == blue
    assert w.replicas() == {"blue": 2, "green": 2}
    w.run(6)
    assert w.replicas() == {"blue": 2, "green": 0}
