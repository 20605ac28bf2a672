"""A Rollout's analysis references: ClusterAnalysisTemplates, several templates merged, args from
the Rollout (value, podTemplateHashValue, fieldRef) and from Secrets, and what is wrong with them
reported as InvalidSpec, as Argo Rollouts does."""

from __future__ import annotations

import base64
import json

import pytest

from turnout.rollout import argo_analysis

from .argo_world import NS, RUN, World, rollout, template

AT = "analysistemplates.argoproj.io"
CAT = "clusteranalysistemplates.argoproj.io"
ROLLOUT = "rollouts.argoproj.io"


def step_rollout(*refs: dict[str, object], args: list[dict[str, object]] | None = None,
                 **kw: object) -> dict[str, object]:
    analysis: dict[str, object] = {"templates": list(refs)}
    if args is not None:
        analysis["args"] = args
    return rollout(strategy={"canary": {"steps": [{"setWeight": 25}, {"analysis": analysis},
                                                   {"setWeight": 75}]}}, **kw)


def healthy_then_update(w: World) -> None:
    w.run(2)
    assert w.status()["phase"] == "Healthy", w.status()
    w.new_image()


def test_namespaced_and_cluster_templates_merge_into_one_run() -> None:
    w = World()
    w.create(AT, template("random-fail", ["random-fail"]))
    w.create(CAT, template("always-pass", ["pass"], cluster_scope=True), namespace="")
    w.create(ROLLOUT, step_rollout({"templateName": "random-fail"},
                                   {"templateName": "always-pass", "clusterScope": True}))
    w.run(2)
    stable = w.status()["stableRS"]
    w.new_image()
    w.run(3)
    [run] = w.runs()
    assert [m["name"] for m in run["spec"]["metrics"]] == ["random-fail", "pass"]
    labels = run["metadata"]["labels"]
    assert labels["rollout-type"] == "Step" and labels["step-index"] == "1"
    assert labels["rollouts-pod-template-hash"] == w.status()["currentPodHash"]
    arms = json.loads(run["metadata"]["annotations"]["turnout.dev/arms"])  # turnout provider
    assert arms["stable"] == {"workload": "demo", "revision": stable, "name": stable}
    assert arms["canary"]["revision"] == w.status()["currentPodHash"] != arms["stable"][
        "revision"]
    w.run(3)
    assert w.get(RUN, run["metadata"]["name"])["status"]["phase"] == "Successful"
    assert w.status()["phase"] == "Healthy"


def test_missing_cluster_template_is_invalid_spec_until_it_exists() -> None:
    w = World()
    w.create(AT, template("random-fail", ["random-fail"]))
    w.create(ROLLOUT, step_rollout({"templateName": "random-fail"},
                                   {"templateName": "always-pass", "clusterScope": True}))
    w.run(1)
    st = w.status()
    want = ('The Rollout "demo" is invalid: spec.strategy.canary.steps[1].analysis.templates: '
            'Invalid value: "always-pass": ClusterAnalysisTemplate \'always-pass\' not found')
    assert st["phase"] == "Degraded" and st["message"] == f"InvalidSpec: {want}"
    cond = w.condition("InvalidSpec")
    assert cond is not None and cond["status"] == "True" and cond["message"] == want
    assert w.events("InvalidSpec") == [want]
    assert not list(w.o.store.iter("replicasets.apps", NS))  # nothing acted on
    w.create(CAT, template("always-pass", ["pass"], cluster_scope=True), namespace="")
    w.run(2)
    assert w.status()["phase"] == "Healthy" and w.condition("InvalidSpec") is None


def test_args_value_pod_template_hash_field_ref_and_secret() -> None:
    w = World()
    args = [{"name": n} for n in ("service", "env", "stable-hash", "latest-hash", "image")] + \
        [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
         {"name": "window", "value": "5m"}]
    w.create(AT, template("t", ["m"], args=args))
    w.create("secrets", {"metadata": {"name": "creds"},
                         "data": {"token": base64.b64encode(b"s3cr3t").decode()}})
    w.create(ROLLOUT, step_rollout({"templateName": "t"}, args=[
        {"name": "service", "value": "demo-svc"},
        {"name": "env", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['env']"}}},
        {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
        {"name": "latest-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        {"name": "image", "valueFrom": {"fieldRef": {
            "fieldPath": "spec.template.spec.containers[0].image"}}},
        {"name": "window", "value": "1m"},  # overrides the template's default
        {"name": "unknown", "value": "ignored"},  # no template declares it
    ], labels={"env": "prod"}))
    healthy_then_update(w)
    stable = w.status()["stableRS"]
    w.run(3)
    [run] = w.runs()
    values = {a["name"]: a.get("value") for a in run["spec"]["args"]}
    assert values == {"service": "demo-svc", "env": "prod", "stable-hash": stable,
                      "latest-hash": w.status()["currentPodHash"],
                      "image": "argoproj/rollouts-demo:green", "token": None, "window": "1m"}
    assert run["spec"]["args"][5]["valueFrom"]["secretKeyRef"]["name"] == "creds"
    assert w.fake.seen[-1]["provider"]["fake"]["q"] == \
        (f"demo-svc prod {stable} {w.status()['currentPodHash']} "
         "argoproj/rollouts-demo:green s3cr3t 1m")
    assert "{{args.service}}" in run["spec"]["metrics"][0]["provider"]["fake"]["q"]


def test_missing_required_arg_names_it() -> None:
    w = World()
    w.create(AT, template("t", ["m"], args=[{"name": "service-name"}, {"name": "ok",
                                                                      "value": "1"}]))
    w.create(ROLLOUT, step_rollout({"templateName": "t"}))
    w.run(1)
    assert w.condition("InvalidSpec")["message"] == (  # type: ignore[index]
        'The Rollout "demo" is invalid: spec.strategy.canary.steps[1].analysis.templates: '
        'Invalid value: "templateNames: [t]": args.service-name was not resolved')
    w.edit(spec__strategy__canary__steps=[{"analysis": {"templates": [{"templateName": "t"}],
                                                        "args": [{"name": "service-name",
                                                                  "value": "x"}]}}])
    w.run(1)
    assert w.condition("InvalidSpec") is None and w.status()["phase"] == "Healthy"


def test_nested_templates_duplicates_and_background_args() -> None:
    w = World()
    w.create(AT, template("inner", ["inner"]))
    w.create(AT, template("outer", ["outer"], templates=[{"templateName": "inner"}]))
    w.create(AT, template("again", ["outer"]))
    w.create(ROLLOUT, rollout(strategy={"canary": {
        "analysis": {"templates": [{"templateName": "outer"}, {"templateName": "inner"}]},
        "steps": [{"setWeight": 20}, {"pause": {}}]}}))
    healthy_then_update(w)
    w.run(2)
    [run] = w.runs()
    assert [m["name"] for m in run["spec"]["metrics"]] == ["outer", "inner"]
    assert run["metadata"]["labels"]["rollout-type"] == "Background"
    arms = json.loads(run["metadata"]["annotations"]["turnout.dev/arms"])
    assert (arms["stable"]["revision"], arms["canary"]["revision"]) == (
        w.status()["stableRS"], w.status()["currentPodHash"])
    assert w.status()["canary"]["currentBackgroundAnalysisRunStatus"]["name"] == \
        run["metadata"]["name"]
    w.edit(spec__strategy__canary__analysis={"templates": [{"templateName": "outer"},
                                                           {"templateName": "again"}]})
    w.run(1)
    assert "two metrics have the same name 'outer'" in w.status()["message"]


def test_failed_step_analysis_aborts_with_argo_message() -> None:
    w = World({"m": ["Failed"]})
    w.create(AT, template("t", ["m"]))
    w.create(ROLLOUT, step_rollout({"templateName": "t"}))
    healthy_then_update(w)
    w.run(4)
    st = w.status()
    assert st["phase"] == "Degraded" and st["abort"] is True
    assert st["message"].startswith("Step-based analysis phase error/failed (demo-")
    assert 'Metric "m" assessed Failed due to failed (1) > failureLimit (0)' in st["message"]


def test_failed_background_analysis_aborts_even_a_paused_rollout() -> None:
    w = World({"bg": ["Successful", "Failed"]})
    w.create(AT, {"metadata": {"name": "bg"}, "spec": {"metrics": [
        {"name": "bg", "interval": "5s", "provider": {"fake": {}}}]}})
    w.create(ROLLOUT, rollout(strategy={"canary": {
        "analysis": {"templates": [{"templateName": "bg"}]},
        "steps": [{"setWeight": 25}, {"pause": {}}]}}))
    healthy_then_update(w)
    w.run(2)
    assert w.status()["phase"] == "Paused"
    w.run(6)
    st = w.status()
    assert st["phase"] == "Degraded" and st["abort"] is True
    assert st["message"].startswith("Background analysis phase error/failed (demo-")


def test_field_value_paths() -> None:
    ro = {"metadata": {"name": "r", "namespace": "n", "uid": "u",
                       "labels": {"b": "2", "a": "1"}, "annotations": {"x": 'say "hi"'}},
          "spec": {"replicas": 3, "template": {"spec": {"containers": [{"image": "i"}]}}},
          "status": {"stableRS": "abc"}}
    assert argo_analysis.field_value(ro, "metadata.labels['a']") == "1"
    assert argo_analysis.field_value(ro, "metadata.labels['zz']") == ""
    assert argo_analysis.field_value(ro, "metadata.labels") == 'a="1"\nb="2"'
    assert argo_analysis.field_value(ro, "metadata.annotations['x']") == 'say "hi"'
    assert argo_analysis.field_value(ro, "spec.replicas") == "3"
    assert argo_analysis.field_value(ro, "status.stableRS") == "abc"
    assert argo_analysis.field_value(ro, "spec.template.spec.containers[0].image") == "i"
    with pytest.raises(ValueError, match="unsupported fieldPath"):
        argo_analysis.field_value(ro, "metadata.generateName")
    with pytest.raises(ValueError, match="must terminate in a primitive"):
        argo_analysis.field_value(ro, "spec.template")
    with pytest.raises(ValueError, match=r"invalid path status\.nothing in rollout"):
        argo_analysis.field_value(ro, "status.nothing")


def test_a_wrongly_typed_template_field_is_invalid_spec_naming_template_and_field() -> None:
    w = World()
    t = template("random-fail", ["random-fail"])
    t["spec"]["metrics"][0]["interval"] = 5
    w.create(AT, t)
    w.create(ROLLOUT, step_rollout({"templateName": "random-fail"}))
    w.run(1)
    want = ('The Rollout "demo" is invalid: spec.strategy.canary.steps[1].analysis.templates: '
            'Invalid value: "templateNames: [random-fail]": AnalysisTemplate "random-fail": '
            'spec.metrics[0].interval: Invalid value: 5: must be a duration string such as '
            '"30s", "5m" or "1h30m"')
    assert w.status()["phase"] == "Degraded" and w.condition("InvalidSpec") is not None
    assert w.status()["message"] == f"InvalidSpec: {want}"
    assert not list(w.o.store.iter("replicasets.apps", NS))  # nothing acted on
