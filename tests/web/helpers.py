"""A small world for dashboard tests: in-memory objects (mesh namespace, VirtualService split,
an Argo Rollout paused at a step with a verdict, its events) and a real Telemetry fed with
synthetic access-log lines of two versions of `advertisements`, 2.0 slower and with 500s."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.telemetry import helpers as th
from turnout.kube.resources import Registry
from turnout.rollout import engine
from turnout.store.db import Store
from turnout.store.objects import Objects
from turnout.telemetry.service import Telemetry
from turnout.types import Obj

TOKEN = "s3cret-token"
NS = "ns1"


def rt(o: Objects, key: str) -> Any:
    r = o.registry.by_key(key)
    assert r is not None
    return r


def rollout_obj() -> Obj:
    tmpl = {"metadata": {"labels": {"app": "ecommerce", "service": "advertisements"}},
            "spec": {"containers": [{"name": "ads", "image": "arapulido/ads-service:2.0"}]}}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "advertisements", "namespace": NS},
            "spec": {"replicas": 2,
                     "selector": {"matchLabels": {"app": "ecommerce",
                                                  "service": "advertisements"}},
                     "template": tmpl,
                     "strategy": {"canary": {"steps": [
                         {"setWeight": 20}, {"pause": {}}, {"analysis": {"templates": [
                             {"templateName": "latency"}]}}, {"setWeight": 50},
                         {"pause": {"duration": "30s"}}]}}}}


def paused_state(now: float) -> engine.State:
    rec = engine.Record(at=now - 5, step=0, outcome="Inconclusive",
                        reason="too few requests: 12 baseline, 9 canary (need 50 each)",
                        metrics=({"name": "latency-p50", "baseline": 30.2, "canary": 231.0},))
    return engine.State(phase=engine.Phase.PAUSED, stable="6b7c9d", canary="77f8e1", step=1,
                        weight=20, started=now - 60, step_started=now - 30,
                        pause_reason="CanaryPauseStep", message="paused at step 1",
                        history=(rec,))


def objects(now: float | None = None) -> Objects:
    now = time.time() if now is None else now
    o = Objects(Store(None), Registry())
    o.create(rt(o, "namespaces"), "", {"metadata": {"name": NS,
                                                     "labels": {"istio-injection": "enabled"}}})
    o.create(rt(o, "namespaces"), "", {"metadata": {"name": "default"}})
    o.create(rt(o, "destinationrules.networking.istio.io"), NS, {
        "metadata": {"name": "advertisements"},
        "spec": {"host": "advertisements", "subsets": [
            {"name": "v1", "labels": {"version": "1.0"}},
            {"name": "v2", "labels": {"version": "2.0"}}]}})
    o.create(rt(o, "virtualservices.networking.istio.io"), NS, {
        "metadata": {"name": "advertisements"},
        "spec": {"hosts": ["advertisements"], "http": [{"route": [
            {"destination": {"host": "advertisements", "subset": "v1"}, "weight": 80},
            {"destination": {"host": "advertisements", "subset": "v2"}, "weight": 20}]}]}})
    ro = rt(o, "rollouts.argoproj.io")
    created = o.create(ro, NS, rollout_obj())
    created["status"] = {"phase": "Paused", "message": "paused at step 1",
                         "turnout": paused_state(now).to_json()}
    o.update(ro, NS, "advertisements", created, subresource="status")
    o.create(rt(o, "events"), NS, {
        "metadata": {"name": "advertisements.1"}, "type": "Normal", "reason": "RolloutPaused",
        "message": "CanaryPauseStep: paused at step 1", "count": 1,
        "involvedObject": {"kind": "Rollout", "namespace": NS, "name": "advertisements"},
        "firstTimestamp": "2025-01-01T10:00:00Z", "lastTimestamp": "2025-01-01T10:00:00Z"})
    o.create(rt(o, "events"), NS, {
        "metadata": {"name": "other.1"}, "type": "Normal", "reason": "Scheduled",
        "message": "not about the rollout", "count": 1,
        "involvedObject": {"kind": "Pod", "namespace": NS, "name": "advertisements"},
        "firstTimestamp": "2025-01-01T10:00:00Z", "lastTimestamp": "2025-01-01T10:00:00Z"})
    return o


def lines(n: int = 300, now: float | None = None) -> list[str]:
    """n requests per version to `advertisements` from the frontend, 2.0 200 ms slower and
    failing /banners with 500s; a few requests to the frontend through the gateway."""
    now = time.time() if now is None else now
    out = th.two_versions(n, now=now, extra_ms=200, span=60)
    for i in range(20):
        t = now - 50 + i
        out.append(th.line(t, upstream="127.0.10.2:5002", path=f"/banners/{i}", status=500,
                           cluster="outbound|5002|v2|advertisements.ns1.svc.cluster.local"))
        out.append(th.line(t, kind="gateway", src_ns="istio-system",
                           src_name="istio-ingressgateway", upstream="127.0.10.3:3000",
                           cluster="outbound|3000||frontend.ns1.svc.cluster.local",
                           route="svc/ns1/frontend/3000", path="/", duration=80))
    return out


def telemetry(tmp: Path, now: float | None = None) -> Telemetry:
    log = tmp / "access.log"
    log.write_text("".join(x + "\n" for x in lines(now=now)))
    tel = Telemetry(tmp / "state", log, metrics_port=None, exporter=None)
    for p in th.ads_pods():
        tel.update_pod(p)
    while tel.ingest_once():
        pass
    return tel
