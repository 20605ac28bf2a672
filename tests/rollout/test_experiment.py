"""Argo Experiments, alone (examples/experiment-with-analysis.yaml) and as a Rollout step
(rollout-experiment-step, rollout-baseline-vs-canary, the Istio experiment step with weight)."""

from __future__ import annotations

from typing import Any

from turnout.rollout import experiment
from turnout.rollout.experiment_controller import ExperimentController

from .argo_world import NS, World, pod_template, rollout

AT = "analysistemplates.argoproj.io"
EXP = "experiments.argoproj.io"
ROLLOUT = "rollouts.argoproj.io"
VS = "virtualservices.networking.istio.io"


def analysis_template(name: str, count: int = 1, failure_limit: int = 0) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"metrics": [
        {"name": name, "count": count, "interval": "5s", "failureLimit": failure_limit,
         "provider": {"fake": {}}}]}}


def world(script: dict[str, list[str]] | None = None) -> tuple[World, ExperimentController]:
    w = World(script)
    ec = ExperimentController(w.o)
    w.extra.append(ec)
    w.create(AT, analysis_template("random-fail", count=2, failure_limit=1))
    w.create(AT, analysis_template("pass"))
    return w, ec


def standalone(**spec: Any) -> dict[str, Any]:
    def t(color: str) -> dict[str, Any]:
        return {"name": color, "selector": {"matchLabels": {"app": "rollouts-demo"}},
                "template": pod_template(f"argoproj/rollouts-demo:{color}", app="rollouts-demo")}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment",
            "metadata": {"name": "experiment-with-analysis"},
            "spec": {"templates": [t("purple"), t("orange")],
                     "analyses": [{"name": "random-fail", "templateName": "random-fail"},
                                  {"name": "pass", "templateName": "pass"}], **spec}}


def ex_status(w: World, name: str = "experiment-with-analysis") -> dict[str, Any]:
    st: dict[str, Any] = w.get(EXP, name).get("status") or {}
    return st


def rs_replicas(w: World, prefix: str) -> dict[str, int]:
    return {r["metadata"]["name"]: r["spec"]["replicas"]
            for r in w.o.store.iter("replicasets.apps", NS)
            if r["metadata"]["name"].startswith(prefix)}


def test_example_experiment_runs_templates_and_fails_with_its_analysis() -> None:
    w, _ = world({"random-fail": ["Failed", "Failed"]})
    w.create(EXP, standalone())
    w.run(2)
    st = ex_status(w)
    assert st["phase"] == "Running" and st["availableAt"]
    assert {t["name"]: t["status"] for t in st["templateStatuses"]} == \
        {"purple": "Running", "orange": "Running"}
    assert rs_replicas(w, "experiment-with-analysis") == {
        "experiment-with-analysis-purple": 1, "experiment-with-analysis-orange": 1}
    rs = w.get("replicasets.apps", "experiment-with-analysis-purple")
    assert rs["spec"]["template"]["metadata"]["labels"]["rollouts-pod-template-hash"]
    assert {r["analysisRun"] for r in st["analysisRuns"]} == {
        "experiment-with-analysis-random-fail", "experiment-with-analysis-pass"}
    w.run(12)
    st = ex_status(w)
    assert st["phase"] == "Failed", st
    assert 'Metric "random-fail" assessed Failed due to failed (2) > failureLimit (1)' in \
        st["message"]
    assert {r["name"]: r["phase"] for r in st["analysisRuns"]} == \
        {"random-fail": "Failed", "pass": "Successful"}
    assert set(rs_replicas(w, "experiment-with-analysis").values()) == {1}  # scaleDownDelay
    w.run(31)
    assert set(rs_replicas(w, "experiment-with-analysis").values()) == {0}
    assert w.events("ExperimentFailed")


def test_duration_ends_the_experiment_successfully() -> None:
    w, _ = world()
    w.create(EXP, standalone(duration="20s", analyses=[{"name": "pass",
                                                         "templateName": "pass"}],
                             scaleDownDelaySeconds=0))
    w.run(10)
    assert ex_status(w)["phase"] == "Running"
    w.run(15)
    st = ex_status(w)
    assert st["phase"] == "Successful", st
    assert {t["status"] for t in st["templateStatuses"]} == {"Successful"}
    assert set(rs_replicas(w, "experiment-with-analysis").values()) == {0}


def test_required_for_completion_and_missing_template() -> None:
    w, _ = world()
    w.create(EXP, standalone(analyses=[{"name": "pass", "templateName": "pass",
                                        "requiredForCompletion": True}]))
    w.run(4)
    st = ex_status(w)
    assert st["phase"] == "Successful" and st["message"] == "Required AnalysisRuns completed"
    w2, _ = world()
    w2.create(EXP, standalone(analyses=[{"name": "x", "templateName": "nope"}]))
    w2.run(2)
    st = ex_status(w2)
    assert st["phase"] == "Error"
    assert "AnalysisTemplate verification failed for analysis 'x': " in st["message"]


def step_rollout(step: dict[str, Any], **canary: Any) -> dict[str, Any]:
    return rollout(replicas=4, strategy={"canary": {"steps": [{"setWeight": 25},
                                                              {"experiment": step}], **canary}})


def test_rollout_experiment_step_waits_for_the_experiment_then_goes_on() -> None:
    w, _ = world()
    w.create(ROLLOUT, step_rollout({"duration": "10s", "templates": [
        {"name": "canary", "specRef": "canary"}],
        "analyses": [{"name": "random-fail", "templateName": "random-fail"}]}))
    w.run(2)
    w.new_image()
    w.run(4)
    st = w.status()
    assert st["phase"] == "Progressing" and st["currentStepIndex"] == 1
    name = st["canary"]["currentExperiment"]
    ex = w.get(EXP, name)
    assert ex["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    tmpl = ex["spec"]["templates"][0]["template"]
    assert tmpl["spec"]["containers"][0]["image"] == "argoproj/rollouts-demo:green"
    w.run(20)
    assert ex_status(w, name)["phase"] == "Successful"
    assert w.status()["phase"] == "Healthy" and w.replicas() == {"blue": 0, "green": 4}


def test_failed_experiment_aborts_the_rollout_and_is_terminated() -> None:
    w, _ = world({"random-fail": ["Failed", "Failed"]})
    w.create(ROLLOUT, step_rollout({"templates": [{"name": "canary", "specRef": "canary"}],
                                    "analyses": [{"name": "random-fail",
                                                  "templateName": "random-fail"}]}))
    w.run(2)
    w.new_image()
    w.run(12)
    st = w.status()
    assert st["phase"] == "Degraded" and st["abort"] is True
    assert st["message"].startswith("Experiment analysis phase is error/failed (demo-")


def test_baseline_vs_canary_runs_until_promoted_then_is_terminated() -> None:
    w, _ = world()
    body = rollout(replicas=3, strategy={"canary": {"steps": [{"experiment": {"templates": [
        {"name": "baseline", "specRef": "stable"}, {"name": "canary", "specRef": "canary"}]}}]}})
    w.create(ROLLOUT, body)
    w.run(2)
    w.new_image()
    w.run(5)
    name = w.status()["canary"]["currentExperiment"]
    images = {t["name"]: t["template"]["spec"]["containers"][0]["image"].split(":")[1]
              for t in w.get(EXP, name)["spec"]["templates"]}
    assert images == {"baseline": "blue", "canary": "green"}
    assert ex_status(w, name)["phase"] == "Running"
    assert w.replicas() == {"blue": 3, "green": 0}  # weight 0: no canary pods yet
    w.edit(metadata__annotations={"turnout.dev/rollout-command": "promote"})
    w.run(3)
    assert w.get(EXP, name)["spec"]["terminate"] is True
    assert ex_status(w, name)["phase"] == "Successful"
    assert w.status()["phase"] == "Healthy"


def test_istio_experiment_step_weight_takes_traffic_from_stable() -> None:
    w, _ = world()
    for svc in ("istio-host-split-canary", "istio-host-split-stable"):
        w.create("services", {"metadata": {"name": svc}, "spec": {
            "selector": {"app": "demo"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    w.create(VS, {"metadata": {"name": "vsvc"}, "spec": {"hosts": ["h"], "http": [
        {"name": "primary", "route": [
            {"destination": {"host": "istio-host-split-stable"}, "weight": 100},
            {"destination": {"host": "istio-host-split-canary"}, "weight": 0}]}]}})
    w.create(ROLLOUT, rollout(strategy={"canary": {
        "canaryService": "istio-host-split-canary", "stableService": "istio-host-split-stable",
        "trafficRouting": {"istio": {"virtualService": {"name": "vsvc", "routes": ["primary"]}}},
        "steps": [{"setWeight": 10}, {"experiment": {"duration": "10s", "templates": [
            {"name": "experiment-istio", "specRef": "canary", "weight": 20}]}}]}}))
    w.run(2)
    w.new_image()
    w.run(4)

    def split() -> dict[str, int]:
        route = w.get(VS, "vsvc")["spec"]["http"][0]["route"]
        return {d["destination"]["host"]: d["weight"] for d in route}

    name = w.status()["canary"]["currentExperiment"]
    svc = f"{name}-experiment-istio"
    assert split() == {"istio-host-split-stable": 70, "istio-host-split-canary": 10, svc: 20}
    assert w.get("services", svc)["spec"]["selector"]["rollouts-pod-template-hash"]
    w.run(15)
    assert w.status()["phase"] == "Healthy"
    assert split() == {"istio-host-split-stable": 100, "istio-host-split-canary": 0}


def test_pure_assessment() -> None:
    ex = {"metadata": {"name": "e"}, "spec": {"templates": [{"name": "a"}],
                                              "analyses": [{"name": "x"}]}}
    assert experiment.assess(ex, [{"name": "a", "status": "Running"}],
                             [{"name": "x", "phase": "Successful"}]) == ("Running", "")
    assert experiment.assess(ex, [{"name": "a", "status": "Running"}],
                             [{"name": "x", "phase": "Failed", "message": "m"}]) == \
        ("Failed", "m")
    assert experiment.assess(ex, [{"name": "a", "status": "Failed", "message": "t"}], []) == \
        ("Failed", "t")
    assert experiment.resolve_args(
        {"metadata": {}, "status": {"availableAt": "2026-01-01T00:00:00Z"},
         "spec": {"duration": "1m"}},
        [{"name": "a", "value": "{{experiment.finishedAt}}"}], {}) == \
        [{"name": "a", "value": "2026-01-01T00:01:00Z"}]
