"""Flagger `Canary` front end on an in-memory cluster with a fake metric source."""

from __future__ import annotations

import copy

from turnout.rollout import flagger
from turnout.rollout.flagger_controller import CanaryController
from turnout.rollout.metrics import FakeMetrics, lognormal
from turnout.store.objects import Objects
from turnout.types import Obj

from .helpers import cluster, deployment, events, rt, settle, template

NS = "ns3"
KEY = (NS, "advertisements")


def canary(threshold: int = 2, **analysis: object) -> Obj:
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
                     "service": {"port": 5002}, "analysis": a}}


def setup(dists: dict[str, object], rate: float = 20.0, **analysis: object) -> tuple[
        Objects, CanaryController, FakeMetrics]:
    o = cluster(NS)
    o.create(rt(o, "deployments.apps"), NS,
             deployment("advertisements", NS, template("v1", "arapulido/ads-service:1.0")))
    o.create(rt(o, "canaries.flagger.app"), NS, canary(**analysis))  # type: ignore[arg-type]
    fake = FakeMetrics(dists=dists, rate=rate)  # type: ignore[arg-type]
    ctl = CanaryController(o, fake)
    return o, ctl, fake


def run(o: Objects, ctl: CanaryController, t0: float, t1: float, dt: float = 1.0) -> float:
    t = t0
    while t <= t1:
        ctl.sync(KEY, t)
        settle(o)
        t += dt
    return t


def status(o: Objects) -> Obj:
    st: Obj = o.get(rt(o, "canaries.flagger.app"), NS, "advertisements")["status"]
    return st


def vs_weights(o: Objects) -> dict[str, int]:
    vs = o.get(rt(o, "virtualservices.networking.istio.io"), NS, "advertisements")
    return {d["destination"]["host"]: d["weight"] for d in vs["spec"]["http"][0]["route"]}


def new_version(o: Objects) -> None:
    d = o.get(rt(o, "deployments.apps"), NS, "advertisements")
    d["spec"]["template"] = template("v2", "arapulido/ads-service:2.0")
    d["spec"]["replicas"] = 1
    o.update(rt(o, "deployments.apps"), NS, "advertisements", d)


def initialized(o: Objects, ctl: CanaryController) -> None:
    run(o, ctl, 0, 8)
    assert status(o)["phase"] == "Initialized"
    primary = o.get(rt(o, "deployments.apps"), NS, "advertisements-primary")
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "advertisements-primary"
    assert o.get(rt(o, "deployments.apps"), NS, "advertisements")["spec"]["replicas"] == 0
    svcs = {n: o.get(rt(o, "services"), NS, n)["spec"]["selector"]
            for n in ("advertisements", "advertisements-primary", "advertisements-canary")}
    assert svcs["advertisements"]["app"] == "advertisements-primary"
    assert svcs["advertisements-canary"]["app"] == "ecommerce"
    assert vs_weights(o) == {"advertisements-primary": 100, "advertisements-canary": 0}


BASE = lognormal(50.0, 0.2)


def test_slower_canary_is_rolled_back_with_numbers() -> None:
    o, ctl, _ = setup({"v1": BASE, "v2": lognormal(50.0, 0.2, extra_ms=200.0)})
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 12)
    assert status(o)["phase"] == "Progressing"
    assert vs_weights(o)["advertisements-canary"] == 20
    run(o, ctl, 13, 40)
    st = status(o)
    assert st["phase"] == "Failed"
    assert st["failedChecks"] == 2
    assert vs_weights(o) == {"advertisements-primary": 100, "advertisements-canary": 0}
    msg = st["conditions"][0]["message"]
    assert "p50" in msg and "slower" in msg and " ms" in msg
    assert o.get(rt(o, "deployments.apps"), NS, "advertisements")["spec"]["replicas"] == 0
    warn = [e for e in events(o, NS) if e["reason"] == "AnalysisFailed"]
    assert warn and "100% of traffic back" in warn[0]["message"] and "slower" in \
        warn[0]["message"]
    # the primary still runs 1.0
    primary = o.get(rt(o, "deployments.apps"), NS, "advertisements-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.0")


def test_equal_canary_is_promoted() -> None:
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
    assert {20, 40, 60} <= seen
    assert vs_weights(o) == {"advertisements-primary": 100, "advertisements-canary": 0}
    primary = o.get(rt(o, "deployments.apps"), NS, "advertisements-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":2.0")
    run(o, ctl, t, t + 6)
    assert o.get(rt(o, "deployments.apps"), NS, "advertisements")["spec"]["replicas"] == 0


def test_thin_traffic_holds_inconclusive_not_failed() -> None:
    o, ctl, _ = setup({"v1": BASE, "v2": lognormal(50.0, 0.2, extra_ms=200.0)}, rate=0.2)
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 60)
    st = status(o)
    assert st["phase"] == "Progressing"
    assert st["failedChecks"] == 0
    assert st["canaryWeight"] == 20
    assert st["turnout"]["inconclusive_checks"] >= 3
    assert all(r["outcome"] == "Inconclusive" for r in st["turnout"]["history"])


def test_abort_and_retry_commands() -> None:
    o, ctl, _ = setup({"v1": BASE, "v2": BASE})
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 12)
    c = o.get(rt(o, "canaries.flagger.app"), NS, "advertisements")
    c["metadata"].setdefault("annotations", {})[flagger.COMMAND] = "abort"
    o.update(rt(o, "canaries.flagger.app"), NS, "advertisements", copy.deepcopy(c))
    run(o, ctl, 13, 14)
    assert status(o)["phase"] == "Failed"
    assert vs_weights(o)["advertisements-canary"] == 0
    c = o.get(rt(o, "canaries.flagger.app"), NS, "advertisements")
    assert flagger.COMMAND not in (c["metadata"].get("annotations") or {})
    c["metadata"]["annotations"][flagger.COMMAND] = "retry"
    o.update(rt(o, "canaries.flagger.app"), NS, "advertisements", c)
    run(o, ctl, 30, 31)
    assert status(o)["phase"] == "Progressing"
    assert vs_weights(o)["advertisements-canary"] == 20


def test_ab_match_routes_header_to_canary() -> None:
    o, ctl, _ = setup({"v1": BASE, "v2": BASE}, iterations=2, stepWeight=0,
                      match=[{"headers": {"x-canary": {"exact": "insider"}}}])
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 12)
    vs = o.get(rt(o, "virtualservices.networking.istio.io"), NS, "advertisements")
    first = vs["spec"]["http"][0]
    assert first["match"] == [{"headers": {"x-canary": {"exact": "insider"}}}]
    assert first["route"][0]["destination"]["host"] == "advertisements-canary"
    t = run(o, ctl, 13, 60)
    assert status(o)["phase"] == "Succeeded"
    vs = o.get(rt(o, "virtualservices.networking.istio.io"), NS, "advertisements")
    assert len(vs["spec"]["http"]) == 1 and t > 30


def test_plan_from_flagger_spec() -> None:
    p = flagger.plan({"analysis": {"stepWeights": [1, 5, 25], "threshold": 3}})
    assert [getattr(s, "weight", None) for s in p.steps][::2] == [1, 5, 25]
    assert p.failure_threshold == 3 and not p.inconclusive_pauses
    assert flagger.seconds("1m30s", 0) == 90 and flagger.seconds("500ms", 0) == 0.5


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
