"""`spec.workloadRef`: a Rollout that takes its pod template from an existing Deployment
(Argo's examples/workload-ref), and `scaleDown: never | onsuccess | progressively`."""

from __future__ import annotations

from typing import Any

from .argo_world import NS, World, pod_template, rollout

ROLLOUT = "rollouts.argoproj.io"
DEPLOY = "deployments.apps"


def deployment(replicas: int = 0, image: str = "argoproj/rollouts-demo:blue") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "rollout-ref-deployment"},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {"app": "demo"}},
                     "template": pod_template(image)}}


def ref_rollout(scale_down: str | None = None, replicas: int = 5) -> dict[str, Any]:
    body = rollout(replicas=replicas, strategy={"canary": {"steps": [
        {"setWeight": 20}, {"pause": {"duration": 10}}]}})
    del body["spec"]["template"], body["spec"]["selector"]
    body["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": "rollout-ref-deployment"}
    if scale_down:
        body["spec"]["workloadRef"]["scaleDown"] = scale_down
    return body


def test_the_argo_example_adopts_the_deployment_template_and_follows_its_changes() -> None:
    w = World()
    w.create(DEPLOY, deployment())
    w.create(ROLLOUT, ref_rollout())
    w.run(2)
    st = w.status()
    assert st["phase"] == "Healthy", st
    assert w.replicas() == {"blue": 5}
    assert st["workloadObservedGeneration"] == "1"
    assert "template" not in w.get(ROLLOUT, "demo")["spec"]  # the spec is left as written
    d = w.get(DEPLOY, "rollout-ref-deployment")
    d["spec"]["template"] = pod_template("argoproj/rollouts-demo:green")
    w.update(DEPLOY, d)
    w.run(2)
    st = w.status()
    assert st["phase"] == "Progressing" and st["workloadObservedGeneration"] == "2"
    assert w.replicas() == {"blue": 4, "green": 1}  # setWeight 20 of 5, no traffic routing
    w.run(12)
    assert w.status()["phase"] == "Healthy" and w.replicas() == {"blue": 0, "green": 5}
    assert w.get(DEPLOY, "rollout-ref-deployment")["spec"]["replicas"] == 0  # never: untouched


def test_missing_workload_and_template_next_to_workload_ref_are_invalid() -> None:
    w = World()
    w.create(ROLLOUT, ref_rollout())
    w.run(1)
    cond = w.condition("InvalidSpec")
    assert cond is not None and cond["message"] == (
        'The Rollout "demo" is invalid: spec.workloadRef: Invalid value: '
        '"rollout-ref-deployment": deployments.apps "rollout-ref-deployment" not found')
    w.create(DEPLOY, deployment())
    w.run(2)
    assert w.status()["phase"] == "Healthy" and w.condition("InvalidSpec") is None
    w.edit(spec__template=pod_template())
    w.run(1)
    assert "template must be empty for workload reference rollout" in w.status()["message"]


def test_scale_down_onsuccess_and_never() -> None:
    for mode, left in (("onsuccess", 0), ("never", 3), (None, 3)):
        w = World()
        w.create(DEPLOY, deployment(replicas=3))
        w.create(ROLLOUT, ref_rollout(mode))
        w.run(3)
        assert w.status()["phase"] == "Healthy"
        assert w.get(DEPLOY, "rollout-ref-deployment")["spec"]["replicas"] == left, mode
        if mode == "onsuccess":
            assert w.events("ScalingDeployment")


def test_scale_down_progressively_follows_the_rollouts_ready_pods() -> None:
    w = World()
    w.create(DEPLOY, deployment(replicas=5))
    w.create(ROLLOUT, ref_rollout("progressively"))
    w.ro.sync((NS, "demo"), 0)  # the ReplicaSet exists, nothing ready yet
    assert w.get(DEPLOY, "rollout-ref-deployment")["spec"]["replicas"] == 5
    [rs] = list(w.o.store.iter("replicasets.apps", NS))
    rs["status"] = {"replicas": 5, "readyReplicas": 2, "availableReplicas": 2}
    w.o.store.update("replicasets.apps", rs)
    w.ro.sync((NS, "demo"), 1)
    assert w.get(DEPLOY, "rollout-ref-deployment")["spec"]["replicas"] == 3
    w.run(3)
    assert w.get(DEPLOY, "rollout-ref-deployment")["spec"]["replicas"] == 0


def test_a_deployment_with_the_same_name_and_template_is_a_hash_collision_resolved() -> None:
    """rollout-template-ref.yaml: the Deployment's ReplicaSet has the name the Rollout's would
    have (same name, same template hash), as with Argo's collisionCount."""
    w = World()
    w.create(DEPLOY, deployment())
    d = w.get(DEPLOY, "rollout-ref-deployment")
    rs_name = "rollout-ref-deployment-" + __import__(
        "turnout.rollout.argo", fromlist=["revision"]).revision(d["spec"]["template"])
    w.create("replicasets.apps", {"metadata": {"name": rs_name}, "spec": {
        "replicas": 0, "selector": {"matchLabels": {"app": "demo"}},
        "template": d["spec"]["template"]}})
    body = ref_rollout()
    body["metadata"]["name"] = "rollout-ref-deployment"
    w.create(ROLLOUT, body)
    w.run(3, )
    st = w.status("rollout-ref-deployment")
    assert st["phase"] == "Healthy" and st["collisionCount"] == 1, st
    assert w.events("HashCollision")
    assert w.replicas("rollout-ref-deployment") == {"blue": 5}
