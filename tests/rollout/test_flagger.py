"""Flagger `Canary` front end on an in-memory cluster with a fake metric source.

Timing follows Flagger's ticks: with `interval: 10s` a new revision seen at t=10 gets its first
tick (pre-rollout, then the first weight) at t=20, and one analysis tick per 10 s after that.
"""

from __future__ import annotations

import copy

import pytest

from turnout.rollout import flagger
from turnout.rollout.engine import Analyze, SetHeaderRoute, SetMirrorRoute, SetWeight
from turnout.rollout.flagger_controller import CanaryController
from turnout.rollout.metrics import FakeMetrics, lognormal
from turnout.rollout.webhooks import FakeCaller
from turnout.store.objects import Objects
from turnout.types import Obj

from .helpers import cluster, deployment, events, rt, settle, template

NS = "ns3"
KEY = (NS, "advertisements")
BASE = lognormal(50.0, 0.2)


def canary(threshold: int = 2, spec: Obj | None = None, **analysis: object) -> Obj:
    a: Obj = {"interval": "10s", "threshold": threshold, "maxWeight": 60, "stepWeight": 20,
              "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99},
                           "interval": "1m"},
                          {"name": "request-duration", "thresholdRange": {"max": 500},
                           "interval": "1m"}]}
    a.update(analysis)
    return {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
            "metadata": {"name": "advertisements", "namespace": NS},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": "advertisements"},
                     "service": {"port": 5002}, "analysis": a, **(spec or {})}}


def setup(dists: dict[str, object], rate: float = 20.0, spec: Obj | None = None,
          hooks: FakeCaller | None = None, **analysis: object) -> tuple[
        Objects, CanaryController, FakeMetrics]:
    o = cluster(NS)
    o.create(rt(o, "deployments.apps"), NS,
             deployment("advertisements", NS, template("v1", "arapulido/ads-service:1.0")))
    o.create(rt(o, "canaries.flagger.app"), NS,
             canary(spec=spec, **analysis))  # type: ignore[arg-type]
    fake = FakeMetrics(dists=dists, rate=rate)  # type: ignore[arg-type]
    ctl = CanaryController(o, fake, hooks=hooks or FakeCaller())
    return o, ctl, fake


def run(o: Objects, ctl: CanaryController, t0: float, t1: float, dt: float = 1.0) -> float:
    t = t0
    while t <= t1:
        ctl.sync(KEY, t)
        settle(o)
        t += dt
    return t


def run_until(o: Objects, ctl: CanaryController, t: float, phase: str,
              limit: float = 300) -> float:
    while t < limit and status(o).get("phase") != phase:
        t = run(o, ctl, t, t)
    assert status(o).get("phase") == phase, status(o)
    return t


def status(o: Objects) -> Obj:
    st: Obj = o.get(rt(o, "canaries.flagger.app"), NS, "advertisements").get("status") or {}
    return st


def vs(o: Objects) -> Obj:
    out: Obj = o.get(rt(o, "virtualservices.networking.istio.io"), NS, "advertisements")
    return out


def vs_weights(o: Objects) -> dict[str, int]:
    return {d["destination"]["host"]: d["weight"] for d in vs(o)["spec"]["http"][-1]["route"]}


def new_version(o: Objects, image: str = "arapulido/ads-service:2.0", ver: str = "v2") -> None:
    d = o.get(rt(o, "deployments.apps"), NS, "advertisements")
    d["spec"]["template"] = template(ver, image)
    o.update(rt(o, "deployments.apps"), NS, "advertisements", d)


def replicas(o: Objects, name: str = "advertisements") -> int:
    return int(o.get(rt(o, "deployments.apps"), NS, name)["spec"]["replicas"])


def primary_image(o: Objects) -> str:
    d = o.get(rt(o, "deployments.apps"), NS, "advertisements-primary")
    return str(d["spec"]["template"]["spec"]["containers"][0]["image"])


def initialized(o: Objects, ctl: CanaryController) -> None:
    run(o, ctl, 0, 8)
    assert status(o)["phase"] == "Initialized"
    primary = o.get(rt(o, "deployments.apps"), NS, "advertisements-primary")
    # Flagger renames the selector label's value: app=ecommerce becomes ecommerce-primary
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "ecommerce-primary"
    assert replicas(o) == 0
    svcs = {n: o.get(rt(o, "services"), NS, n)
            for n in ("advertisements", "advertisements-primary", "advertisements-canary")}
    assert svcs["advertisements"]["spec"]["selector"]["app"] == "ecommerce-primary"
    assert svcs["advertisements-canary"]["spec"]["selector"]["app"] == "ecommerce"
    assert svcs["advertisements"]["metadata"]["annotations"][
        "kustomize.toolkit.fluxcd.io/reconcile"] == "disabled"
    assert vs_weights(o) == {"advertisements-primary": 100, "advertisements-canary": 0}
    assert vs(o)["spec"]["hosts"] == ["advertisements"]
    assert vs(o)["spec"]["gateways"] == ["mesh"]


def test_slower_canary_is_rolled_back_with_numbers() -> None:
    o, ctl, _ = setup({"v1": BASE, "v2": lognormal(50.0, 0.2, extra_ms=200.0)})
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 12)
    assert status(o)["phase"] == "Progressing"
    assert vs_weights(o)["advertisements-canary"] == 0  # the first tick comes at t=20
    run(o, ctl, 13, 21)
    assert vs_weights(o)["advertisements-canary"] == 20
    run(o, ctl, 22, 60)
    st = status(o)
    assert st["phase"] == "Failed"
    assert st["failedChecks"] == 2
    assert vs_weights(o) == {"advertisements-primary": 100, "advertisements-canary": 0}
    msg = st["conditions"][0]["message"]
    assert "p50" in msg and "slower" in msg and " ms" in msg
    assert st["conditions"][0]["reason"] == "Failed"
    assert replicas(o) == 0
    warn = [e for e in events(o, NS) if "100% of traffic back" in e["message"]]
    assert warn and "slower" in warn[0]["message"] and warn[0]["reason"] == "Synced"
    assert all(e["reason"] == "Synced" for e in events(o, NS)
               if e["involvedObject"]["kind"] == "Canary")  # Flagger's one reason
    assert any(e["message"].startswith("New revision detected! Scaling up advertisements.")
               for e in events(o, NS))
    assert any(e["message"] == f"Advance advertisements.{NS} canary weight 20"
               for e in events(o, NS)), [e["message"] for e in events(o, NS)]
    said = [e["message"] for e in events(o, NS) if e["reason"] == "Synced"]
    assert "Rolling back advertisements.ns3 failed checks threshold reached 2" in said
    assert "Canary failed! Scaling down advertisements.ns3" in said
    assert primary_image(o).endswith(":1.0")


def test_equal_canary_is_promoted_through_flagger_weights() -> None:
    o, ctl, _ = setup({"v1": BASE, "v2": BASE})
    initialized(o, ctl)
    new_version(o)
    seen = set()
    t = 10.0
    while t < 120 and status(o)["phase"] != "Succeeded":
        t = run(o, ctl, t, t)
        seen.add(vs_weights(o)["advertisements-canary"])
    st = status(o)
    assert st["phase"] == "Succeeded", st
    assert st["conditions"][0]["reason"] == "Succeeded"
    assert seen >= {0, 20, 40, 60}
    assert vs_weights(o) == {"advertisements-primary": 100, "advertisements-canary": 0}
    assert primary_image(o).endswith(":2.0")
    run(o, ctl, t, t + 6)
    assert replicas(o) == 0
    assert any(e["message"] == "Promotion completed! Scaling down advertisements.ns3"
               for e in events(o, NS))


def test_thin_traffic_holds_inconclusive_not_failed() -> None:
    o, ctl, _ = setup({"v1": BASE, "v2": lognormal(50.0, 0.2, extra_ms=200.0)}, rate=0.2)
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 70)
    st = status(o)
    assert st["phase"] == "Progressing"
    assert st["failedChecks"] == 0
    assert st["canaryWeight"] == 20
    assert st["turnout"]["inconclusive_checks"] >= 3
    analysis = [r for r in st["turnout"]["history"] if r["step"] > 0]
    assert analysis and all(r["outcome"] == "Inconclusive" for r in analysis)


def test_abort_and_retry_commands() -> None:
    o, ctl, _ = setup({"v1": BASE, "v2": BASE})
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 21)
    assert vs_weights(o)["advertisements-canary"] == 20
    c = o.get(rt(o, "canaries.flagger.app"), NS, "advertisements")
    c["metadata"].setdefault("annotations", {})[flagger.COMMAND] = "abort"
    o.update(rt(o, "canaries.flagger.app"), NS, "advertisements", copy.deepcopy(c))
    run(o, ctl, 22, 23)
    assert status(o)["phase"] == "Failed"
    assert vs_weights(o)["advertisements-canary"] == 0
    c = o.get(rt(o, "canaries.flagger.app"), NS, "advertisements")
    assert flagger.COMMAND not in (c["metadata"].get("annotations") or {})
    c["metadata"]["annotations"][flagger.COMMAND] = "retry"
    o.update(rt(o, "canaries.flagger.app"), NS, "advertisements", c)
    run(o, ctl, 30, 41)
    assert status(o)["phase"] == "Progressing"
    assert vs_weights(o)["advertisements-canary"] == 20


def test_no_traffic_at_all_is_a_failed_check_and_rolls_back_at_threshold() -> None:
    """As Flagger: no values found counts toward `threshold`, with a message that says why."""
    o, ctl, _ = setup({"v1": BASE})  # the canary never serves a request
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 60)
    st = status(o)
    assert st["phase"] == "Failed", st
    assert st["failedChecks"] == 2
    msg = st["conditions"][0]["message"]
    assert "no values found" in msg and "not receiving traffic" in msg
    assert "0 canary requests" in msg
    assert vs_weights(o) == {"advertisements-primary": 100, "advertisements-canary": 0}


def test_no_metrics_means_hooks_only_and_no_verdict() -> None:
    """With no metrics, as in Flagger, only the webhooks decide: a canary nobody calls is
    still promoted (turnout's verdict rides along with the builtin metrics only)."""
    o, ctl, _ = setup({"v1": BASE}, metrics=[])
    initialized(o, ctl)
    new_version(o)
    run_until(o, ctl, 10, "Succeeded")
    assert primary_image(o).endswith(":2.0")


def test_canary_weights_follow_flagger() -> None:
    assert flagger.weights({"stepWeight": 20, "maxWeight": 50}) == [20, 40, 60]
    assert flagger.weights({"stepWeight": 10, "maxWeight": 30}) == [10, 20, 30]
    assert flagger.weights({"stepWeight": 30}) == [30, 60, 90, 100]  # maxWeight 100
    assert flagger.weights({"stepWeights": [1, 5, 25]}) == [1, 5, 25]
    p = flagger.plan({"analysis": {"stepWeights": [1, 5, 25], "threshold": 3}})
    assert p.steps[0] == Analyze(flagger.PRE_ROLLOUT)
    assert [s.weight for s in p.steps if isinstance(s, SetWeight)] == [1, 5, 25]
    assert p.steps[-1] == Analyze(flagger.PROMOTION)
    assert p.failure_threshold == 3 and not p.inconclusive_pauses
    assert flagger.seconds("1m30s", 0) == 90 and flagger.seconds("500ms", 0) == 0.5


def test_plans_for_each_strategy() -> None:
    ab = flagger.plan({"analysis": {"iterations": 3, "match": [{"headers": {"x": {
        "exact": "1"}}}]}})
    assert isinstance(ab.steps[1], SetHeaderRoute)
    assert [s.name for s in ab.steps if isinstance(s, Analyze)] == [
        "pre-rollout", "check", "check", "promotion"]
    bg = flagger.plan({"analysis": {"iterations": 2}})
    assert [type(s).__name__ for s in bg.steps] == [
        "Analyze", "Analyze", "Analyze", "SetWeight", "Analyze"]  # last tick at 100 %
    kube = flagger.plan({"provider": "kubernetes", "analysis": {"stepWeight": 10}})
    assert sum(isinstance(s, Analyze) for s in kube.steps) == 1 + 10 + 1  # iterations 10
    assert not any(isinstance(s, SetWeight) for s in kube.steps)
    mirror = flagger.plan({"analysis": {"mirror": True, "stepWeight": 50}})
    assert isinstance(mirror.steps[1], SetMirrorRoute) and mirror.steps[1].percent == 100
    assert flagger.plan({"skipAnalysis": True, "analysis": {"stepWeight": 5}}).steps == ()
    assert flagger.plan({}).steps == ()  # no analysis: skipped, as Flagger


@pytest.mark.parametrize(("patch", "field"), [
    ({"provider": "linkerd"}, "spec.provider"),
    ({"analysis": {"webhooks": [{"name": "x", "type": "pre-rolout", "url": "http://a/"}]}},
     "spec.analysis.webhooks[0].type"),
    ({"analysis": {"webhooks": [{"name": "x", "url": "http://a/", "timeout": "5 s"}]}},
     "spec.analysis.webhooks[0].timeout"),
    ({"analysis": {"metrics": [{"name": "error-rate"}]}}, "spec.analysis.metrics[0].name"),
    ({"analysis": {"metrics": [{"name": "x", "templateRef": {}}]}},
     "spec.analysis.metrics[0].templateRef.name"),
    ({"analysis": {"stepWeights": [20, 10]}}, "spec.analysis.stepWeights"),
    ({"analysis": {"interval": "soon"}}, "spec.analysis.interval"),
    ({"analysis": {"stepWeight": -5}}, "spec.analysis.stepWeight"),
    ({"analysis": {"maxWeight": 500}}, "spec.analysis.maxWeight"),
    ({"service": {}}, "spec.service.port"),
    ({"provider": "nginx"}, "spec.ingressRef"),
    ({"targetRef": {"kind": "StatefulSet", "name": "x"}}, "spec.targetRef.kind"),
])
def test_bad_spec_is_a_status_naming_the_field(patch: Obj, field: str) -> None:
    o, ctl, _ = setup({})
    c = o.get(rt(o, "canaries.flagger.app"), NS, "advertisements")
    for k, v in patch.items():
        c["spec"][k] = v if k != "analysis" else {**c["spec"]["analysis"], **v}
    o.update(rt(o, "canaries.flagger.app"), NS, "advertisements", c)
    assert ctl.sync(KEY, 0) is None
    st = status(o)
    assert st["phase"] == "Failed"
    assert st["conditions"][0]["message"].startswith(field + ":"), st
    assert ctl.errors == 1
    assert not o.store.peek("deployments.apps", NS, "advertisements-primary")


def test_selector_without_flagger_labels_is_refused() -> None:
    o = cluster(NS)
    d = deployment("advertisements", NS, template("v1", "arapulido/ads-service:1.0"))
    d["spec"]["selector"]["matchLabels"] = {"service": "advertisements"}
    o.create(rt(o, "deployments.apps"), NS, d)
    o.create(rt(o, "canaries.flagger.app"), NS, canary())
    CanaryController(o, FakeMetrics(), hooks=FakeCaller()).sync(KEY, 0)
    msg = status(o)["conditions"][0]["message"]
    assert msg.startswith("spec.targetRef: Deployment advertisements: "
                          "spec.selector.matchLabels must contain one of app, name")


def test_an_ab_test_is_judged_by_its_metrics_not_by_comparing_its_arms() -> None:
    """A/B arms serve different users (a header picks them), so turnout's canary-versus-primary
    verdict is not added: a canary 200 ms slower but under `request-duration` max is promoted,
    as Flagger promotes it."""
    o, ctl, _ = setup({"v1": BASE, "v2": lognormal(50.0, 0.2, extra_ms=200.0)},
                      iterations=3, match=[{"headers": {"x-user": {"exact": "insider"}}}])
    run_until(o, ctl, 0, "Initialized")
    new_version(o)
    run_until(o, ctl, 10, "Succeeded")
    assert primary_image(o).endswith(":2.0")
    assert not [e for e in events(o, NS) if "turnout's comparison" in e["message"]]


def test_reverting_a_failed_canary_to_the_primary_keeps_it_failed() -> None:
    """Flagger's lifecycle scenario: after a rollback, setting the target back to the primary's
    image starts nothing and leaves the Canary Failed; a new image starts a new analysis."""
    o, ctl, _ = setup({"v1": BASE, "v2": lognormal(50.0, 0.2, extra_ms=200.0),
                       "v3": BASE})
    initialized(o, ctl)
    new_version(o)
    t = run_until(o, ctl, 10, "Failed")
    new_version(o, "arapulido/ads-service:1.0", "v1")
    t = run(o, ctl, t, t + 20)
    assert status(o)["phase"] == "Failed"
    assert primary_image(o).endswith(":1.0")
    new_version(o, "arapulido/ads-service:3.0", "v3")
    run_until(o, ctl, t, "Progressing", limit=t + 30)


def test_compare_with_primary_false_leaves_the_verdict_to_flaggers_checks() -> None:
    """With `turnout.dev/compare-with-primary: "false"` a canary 200 ms slower but under
    `request-duration` max 500 ms is promoted, as Flagger promotes it; by default turnout's
    canary-versus-primary verdict rolls it back."""
    o, ctl, _ = setup({"v1": BASE, "v2": lognormal(50.0, 0.2, extra_ms=200.0)})
    c = o.get(rt(o, "canaries.flagger.app"), NS, "advertisements")
    c["metadata"]["annotations"] = {"turnout.dev/compare-with-primary": "false"}
    o.update(rt(o, "canaries.flagger.app"), NS, "advertisements", c)
    initialized(o, ctl)
    new_version(o)
    run_until(o, ctl, 10, "Succeeded")
    assert primary_image(o).endswith(":2.0")
    assert not [e for e in events(o, NS) if "turnout's comparison" in e["message"]]


def test_compare_with_primary_must_be_true_or_false() -> None:
    o, ctl, _ = setup({"v1": BASE})
    c = o.get(rt(o, "canaries.flagger.app"), NS, "advertisements")
    c["metadata"]["annotations"] = {"turnout.dev/compare-with-primary": "nope"}
    o.update(rt(o, "canaries.flagger.app"), NS, "advertisements", c)
    run(o, ctl, 0, 2)
    msg = status(o)["conditions"][0]["message"]
    assert "metadata.annotations[turnout.dev/compare-with-primary]" in msg and "nope" in msg
